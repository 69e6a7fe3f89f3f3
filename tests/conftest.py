"""Shared fixtures: small, seeded inputs in the real formats, made by code."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml

import background
from background import long_run
from helpers import WIRING_N, digits_with_small_vgg

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "resources/study"

# The session's own memory of passed parse-time checks (cameval.checkcache), empty at its start and
# inherited by every snakemake the tests run: nothing a user's ~/.cache remembers reaches a test.
os.environ["CAMEVAL_CACHE"] = tempfile.mkdtemp(prefix="cameval-checks-")


def pytest_sessionfinish(session, exitstatus):
    """Stop what the long runs left running; docs/reliability.md from the cases tests/test_reliability.py
    recorded (written once every case was seen); then the session's check cache goes."""
    background.stop_all()
    reliability = sys.modules.get("test_reliability")
    if reliability is not None:
        reliability.write_table(reliability.SEEN)
    shutil.rmtree(os.environ["CAMEVAL_CACHE"], ignore_errors=True)


# --- the long runs (tests/background.py): started with the session, waited for at its end ---------


def pytest_configure(config):
    config.addinivalue_line("markers", "long_run(name): waits for tests/background.py's long run `name`")


def waits(item) -> list[str]:
    """The long runs a test waits for: its ``long_run`` markers' names, ``tiny`` for the tiny run's fixtures."""
    names = [name for mark in item.iter_markers("long_run") for name in mark.args]
    return names + ["tiny"] * ("tiny_run" in getattr(item, "fixturenames", ()))


def pytest_collection_modifyitems(config, items):
    """The tests that wait for a long run go last, so that the others run while the long runs do."""
    items.sort(key=lambda item: bool(waits(item)))  # stable: the order within each part is kept


@pytest.fixture(scope="session", autouse=True)
def long_runs(request, tmp_path_factory):
    """Start every long run a selected test waits for, before the first test."""
    background.begin(tmp_path_factory.mktemp)
    names = sorted({name for item in request.session.items for name in waits(item)})
    for name in names:
        background.start(name)
    threads = None
    if names:  # the runs' jobs hold the cores: one thread here, not torch's one per core (oversubscribed)
        import torch  # noqa: PLC0415  (a session of tests that never import torch need not pay for it)

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
    yield  # pytest_sessionfinish stops what the runs left running (Ctrl-C included)
    if threads is not None:
        import torch  # noqa: PLC0415

        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def one_thread():
    """torch on one thread for a module of small tensors (``pytest.mark.usefixtures("one_thread")``):
    as fast as two on a free machine, and no OpenMP oversubscription (5x slower) when other jobs
    share the cores."""
    import torch  # noqa: PLC0415  (only the modules that ask for it import torch)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# The study's five answers (App. D) and the score each means for agent A, written out by hand once for
# the user-study tests (tests/test_userstudy.py) and the browser test (tests/test_survey_browser.py).
HAND_PREFERENCE_A = {
    "Agent A seems clearly the most reasonable": 2,
    "Agent A seems slightly more reasonable than agent B": 1,
    "Both agents seem equally reasonable": 0,
    "Agent B seems slightly more reasonable than agent A": -1,
    "Agent B seems clearly the most reasonable": -2,
}


# --- ILSVRC2012 val in its distributed formats (cameval.data.imagenet) -------------------------

TINY_IMAGENET_SYNSETS = [
    ("n01440764", "tench, Tinca tinca"),
    ("n01443537", "goldfish, Carassius auratus"),
    ("n01484850", "great white shark, white shark, man-eater"),
    ("n01491361", "tiger shark, Galeocerdo cuvieri"),
    ("n01494475", "hammerhead, hammerhead shark"),
]
# file number -> (width, height, PIL mode, wnid, boxes as 0-based inclusive (xmin, ymin, xmax, ymax))
TINY_IMAGENET_IMAGES = {
    1: (512, 384, "RGB", "n01443537", [(100, 60, 399, 299)]),
    2: (300, 450, "RGB", "n01494475", [(30, 40, 149, 239), (160, 250, 289, 439)]),
    3: (256, 256, "L", "n01440764", [(0, 0, 255, 255)]),  # grayscale JPEG
    4: (640, 200, "CMYK", "n01484850", [(0, 10, 50, 120), (300, 50, 420, 180)]),  # first box is cut off by the crop
}


def _voc_xml(name: str, width: int, height: int, wnid: str, boxes) -> str:
    objects = "".join(
        f"\t<object>\n\t\t<name>{wnid}</name>\n\t\t<pose>Unspecified</pose>\n\t\t<truncated>0</truncated>\n"
        f"\t\t<difficult>0</difficult>\n\t\t<bndbox>\n\t\t\t<xmin>{x0}</xmin>\n\t\t\t<ymin>{y0}</ymin>\n"
        f"\t\t\t<xmax>{x1}</xmax>\n\t\t\t<ymax>{y1}</ymax>\n\t\t</bndbox>\n\t</object>\n"
        for x0, y0, x1, y1 in boxes
    )
    return (
        f"<annotation>\n\t<folder>val</folder>\n\t<filename>{name}</filename>\n\t<source>\n"
        f"\t\t<database>ILSVRC_2012</database>\n\t</source>\n\t<size>\n\t\t<width>{width}</width>\n"
        f"\t\t<height>{height}</height>\n\t\t<depth>3</depth>\n\t</size>\n\t<segmented>0</segmented>\n"
        f"{objects}</annotation>\n"
    )


@pytest.fixture(scope="session")
def tiny_imagenet(tmp_path_factory):
    """A tiny ILSVRC2012 val tree: JPEGs (RGB, grayscale, CMYK; several aspect ratios), one VOC XML
    per image, the same boxes as Kaggle's LOC_val_solution.csv, and LOC_synset_mapping.txt.

    Each image is dark noise with its boxes filled bright, so where a box lands after
    preprocessing can be seen in the pixels. Returns a dict of paths plus the ground truth.
    """
    from PIL import Image

    root = tmp_path_factory.mktemp("ilsvrc")
    images, xml, rng = root / "val", root / "bbox_val", np.random.default_rng(0)
    images.mkdir()
    xml.mkdir()
    rows = []
    for k, (width, height, mode, wnid, boxes) in TINY_IMAGENET_IMAGES.items():
        name = f"ILSVRC2012_val_{k:08d}"
        pixels = rng.integers(0, 40, size=(height, width, 3), dtype=np.uint8)
        for x0, y0, x1, y1 in boxes:
            pixels[y0 : y1 + 1, x0 : x1 + 1] = 230
        im = Image.fromarray(pixels, "RGB")
        im = im.convert(mode) if mode != "RGB" else im
        im.save(images / f"{name}.JPEG", quality=95)
        (xml / f"{name}.xml").write_text(_voc_xml(name, width, height, wnid, boxes))
        rows.append(f"{name}," + "".join(f"{wnid} {x0} {y0} {x1} {y1} " for x0, y0, x1, y1 in boxes))
    (images / "README.txt").write_text("not an image\n")  # ignored: not ILSVRC2012_val_*.JPEG
    solution = root / "LOC_val_solution.csv"
    solution.write_text("ImageId,PredictionString\n" + "\n".join(rows[::-1]) + "\n")  # Kaggle's rows are unsorted
    synsets = root / "LOC_synset_mapping.txt"
    synsets.write_text("".join(f"{w} {n}\n" for w, n in TINY_IMAGENET_SYNSETS))
    return {
        "root": root,
        "images": images,
        "xml": xml,
        "csv": solution,
        "synsets": synsets,
        "truth": TINY_IMAGENET_IMAGES,
    }


# --- NIH ChestX-ray14 in its distributed formats (cameval.data.chestxray) ---------------------

# file name -> (width, height, PIL mode, 'Finding Labels' of Data_Entry_2017.csv,
#               boxes of BBox_List_2017.csv as (finding as the box file spells it, x, y, w, h))
TINY_CHESTXRAY_IMAGES = {
    "00000001_000.png": (1024, 1024, "L", "Cardiomegaly|Effusion", [("Cardiomegaly", 300.0, 500.0, 400.5, 300.25)]),
    "00000002_001.png": (1024, 1024, "RGBA", "Infiltration", [("Infiltrate", 100.0, 200.0, 300.0, 50.0)]),
    "00000003_000.png": (
        1024,
        1024,
        "I;16",
        "Mass|Nodule",
        [("Mass", 600.0, 100.0, 200.0, 200.0), ("Nodule", 120.0, 700.0, 64.0, 64.0)],
    ),
    "00000004_000.png": (
        1024,
        1024,
        "L",
        "Atelectasis",
        [("Atelectasis", 0.0, 0.0, 1024.0, 1024.0), ("Atelectasis", 10.0, 20.0, 30.0, 40.0)],
    ),
}
TINY_CHESTXRAY_UNBOXED = {"00000005_000.png": "No Finding"}  # in the label file only


@pytest.fixture(scope="session")
def tiny_chestxray(tmp_path_factory):
    """A tiny ChestX-ray14 tree: PNGs (8-bit gray, RGBA, 16-bit), Data_Entry_2017.csv and
    BBox_List_2017.csv with their real headers (the box file's 'Bbox [x,y,w,h],,,' header and
    'Infiltrate' spelling). Each image is dark noise with its boxes filled bright."""
    from PIL import Image

    root = tmp_path_factory.mktemp("chestxray")
    images, rng = root / "images", np.random.default_rng(0)
    images.mkdir()
    entry = [
        "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
        "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],"
    ]
    bbox = ["Image Index,Finding Label,Bbox [x,y,w,h],,,"]
    for k, (name, (width, height, mode, labels, boxes)) in enumerate(TINY_CHESTXRAY_IMAGES.items()):
        gray = rng.integers(0, 40, size=(height, width)).astype(np.float64)
        for _, x, y, w, h in boxes:
            if w < width:  # the full-image box would leave no dark background
                gray[int(y) : int(y + h), int(x) : int(x + w)] = 230
        if mode == "I;16":
            Image.fromarray((gray * 257).astype(np.uint16)).save(images / name)
        elif mode == "RGBA":
            rgba = np.dstack([gray, gray, gray, np.full_like(gray, 255)]).astype(np.uint8)
            Image.fromarray(rgba, "RGBA").save(images / name)
        else:
            Image.fromarray(gray.astype(np.uint8), "L").save(images / name)
        entry.append(f"{name},{labels},0,{k + 1},58,M,PA,{width},{height},0.143,0.143")
        for finding, x, y, w, h in boxes:
            bbox.append(f"{name},{finding},{x!r},{y!r},{w!r},{h!r}" + (",,," if k % 2 else ""))
    for name, labels in TINY_CHESTXRAY_UNBOXED.items():
        entry.append(f"{name},{labels},0,9,40,F,AP,2500,2048,0.168,0.168")
    (root / "Data_Entry_2017.csv").write_text("\n".join(entry) + "\n")
    (root / "BBox_List_2017.csv").write_text("\n".join(bbox) + "\n")
    return {
        "root": root,
        "images": images,
        "data_entry": root / "Data_Entry_2017.csv",
        "bbox_list": root / "BBox_List_2017.csv",
        "truth": TINY_CHESTXRAY_IMAGES,
    }


def chexnet_checkpoint(model, path) -> None:
    """Write ``model`` (torchvision densenet121 keys) in CheXNet's layout: ``{"state_dict": …}``
    with ``module.densenet121.`` keys, the old names ``norm.1`` … ``conv.2``, the head as
    ``classifier.0`` and no BatchNorm step counters (PyTorch 0.3), plus training bookkeeping."""
    import re

    import torch

    state = {}
    for k, v in model.state_dict().items():
        if k.endswith("num_batches_tracked"):
            continue
        k = re.sub(r"\.(norm|relu|conv)([12])\.", r".\1.\2.", k)
        k = k.replace("classifier.", "classifier.0.")
        state[f"module.densenet121.{k}"] = v
    torch.save({"epoch": 7, "best_loss": 0.1532, "state_dict": state}, path)


@pytest.fixture(scope="session")
def chexnet_checkpoints(tmp_path_factory):
    """Model "A" in CheXNet's layout and model "B" as converted safetensors, random weights."""
    import torch
    import torchvision
    from safetensors.torch import save_file

    root = tmp_path_factory.mktemp("chexnet")
    torch.manual_seed(0)
    model = torchvision.models.densenet121(num_classes=14)
    chexnet_checkpoint(model, root / "A.pth.tar")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(root / "B.safetensors"))
    return {"A": root / "A.pth.tar", "B": root / "B.safetensors"}


# --- config/paper.yaml pointed at the fixtures above ---------------------------------------------


@pytest.fixture(scope="session")
def paper_fixtures(tiny_imagenet, tiny_chestxray, chexnet_checkpoints) -> dict:
    """The data and checkpoint keys of config/paper.yaml pointed at the tiny ILSVRC (4 images) and
    ChestX-ray14 fixtures and the CheXNet-style checkpoints: a config to merge after paper.yaml
    (as a second ``--configfile``, or with :func:`merge_config`)."""
    return {
        "datasets": {
            "imagenet": {
                "images": str(tiny_imagenet["images"]),
                "annotations": str(tiny_imagenet["xml"]),
                "synsets": str(tiny_imagenet["synsets"]),
                "limit": 4,
            },
            "chestxray": {
                "images": str(tiny_chestxray["images"]),
                "data_entry": str(tiny_chestxray["data_entry"]),
                "bbox_list": str(tiny_chestxray["bbox_list"]),
            },
        },
        "models": {name: {"weights": str(path)} for name, path in chexnet_checkpoints.items()},
        # the study's shipped results, from this clone (the workflow tests run with -d in a temporary folder)
        "study": {"root": str(STUDY)},
        "table6": {
            "study_attacks": {
                "vgg16": str(STUDY / "one_pixel/results_VGG16.csv"),
                "googlenet": str(STUDY / "one_pixel/results_GoogLeNet.csv"),
            }
        },
    }


def merge_config(base: dict, override: dict) -> dict:
    """``override`` merged into ``base`` (in place) key by key at every depth, as Snakemake merges a
    later config file into an earlier one; returns ``base``."""
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge_config(base[key], value)
        else:
            base[key] = value
    return base


# --- the tiny config, run once for the whole session ---------------------------------------------

TINY_CONFIG = "tests/configs/tiny.yaml"
#: the command line of the shared run (after `snakemake`), as a user types it from the project's root
TINY = ["--cores", "2", "all", "--configfile", TINY_CONFIG]
_SKIP = {".git", ".venv", "results", "logs", "benchmarks", ".snakemake", ".pytest_cache", "__pycache__"}


def clone(dest: Path) -> Path:
    """The project's files (no results, resources, caches or venv) in ``dest``: a fresh checkout."""

    def ignore(folder, names):
        skip = {n for n in names if n in _SKIP}
        if Path(folder).resolve() == (ROOT / "resources").resolve():  # what git tracks there
            skip |= {n for n in names if n not in ("README.md", "study")}
        return skip

    shutil.copytree(ROOT, dest, ignore=ignore, symlinks=True)
    return dest


def snakemake_at(
    cwd: Path, *args: str, timeout: int = 900, env: dict[str, str] | None = None, path: tuple[str, ...] = ()
) -> subprocess.CompletedProcess:
    """``snakemake ARGS`` run from ``cwd`` (this interpreter's, ``cwd/workflow`` and the folders ``path``
    of ``cwd`` on the Python path; ``env`` added to the environment)."""
    env = {**os.environ, **(env or {}), "PYTHONPATH": os.pathsep.join(str(cwd / p) for p in ("workflow", *path))}
    return background.run([sys.executable, "-m", "snakemake", *args], cwd=cwd, env=env, timeout=timeout)


def edited_tiny_dry_runs(folder: Path, edits: dict[str, Callable[[dict], object]]) -> dict[str, tuple]:
    """For each ``name: edit``, the tiny config edited in place by ``edit(cfg)`` and written to
    ``folder/name/bad.yaml``, and ``snakemake -n --cores 2 all --configfile`` it run from the
    repository root as a user runs it, one after the other: ``{name: (CompletedProcess, folder/name)}``.
    The body of a long run: the bad-config tests' dry-runs, seconds each, run beside the other tests.
    Each run is a fork of one process that imported Snakemake once (tests/forked_snakemake.py): the
    import is most of a run that stops at parse time."""
    runs = {}
    for name, edit in edits.items():
        cfg = yaml.safe_load((ROOT / TINY_CONFIG).read_text())
        edit(cfg)
        (folder / name).mkdir()
        path = folder / name / "bad.yaml"
        path.write_text(yaml.safe_dump(cfg))
        runs[name] = {
            "args": ["-n", "--cores", "2", "all", "--configfile", str(path)],
            "out": str(folder / name / "stdout"),
            "err": str(folder / name / "stderr"),
        }
    (folder / "runs.json").write_text(json.dumps(list(runs.values())))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "workflow")}
    cmd = [sys.executable, str(ROOT / "tests/forked_snakemake.py"), str(folder / "runs.json")]
    proc = background.run(cmd, 300 + 60 * len(runs), cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = {}
    for (name, run), code in zip(runs.items(), json.loads(proc.stdout), strict=True):
        text = {k: Path(run[k]).read_text() for k in ("out", "err")}
        done = subprocess.CompletedProcess([sys.executable, "-m", "snakemake", *run["args"]], code, *text.values())
        out[name] = (done, folder / name)
    return out


def outputs(root: Path) -> dict[str, Path]:
    """Every file under ``root``'s results/ and resources/ (READMEs and the report aside), by relative path."""
    return {
        str(p.relative_to(root)): p
        for base in ("results", "resources")
        for p in (root / base).rglob("*")
        if p.is_file() and p.name != "README.md" and p.name != "report.html"
    }


@long_run
def tiny(folder: Path) -> Path:
    """The tiny config run as a user runs it: ``snakemake --cores 2 all --configfile
    tests/configs/tiny.yaml`` from the root of a fresh copy of the project (no ``-d``)."""
    root = clone(folder / "cameval")
    proc = snakemake_at(root, *TINY, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return root


#: the shipped example (examples/: an own builder and CAM function in Tables 1 and 3, nothing else) at
#: the tiny scale, as config/README.md runs it, with examples/ on the path
EXAMPLE = ["--cores", "2", "all", "--configfile", "examples/config.yaml", "tests/configs/example_tiny.yaml"]


@long_run
def example(folder: Path) -> dict:
    """The shipped example in a fresh copy of the project: its dry-run, its run, then the same command
    with ``models.mine.min_accuracy: 0.9`` added (a floor the one-epoch network is far below), with the
    modification times of the tables and the models' accuracies (JSON) before that last run."""
    root = clone(folder / "cameval")
    plan = snakemake_at(root, "-n", *EXAMPLE, path=("examples",))
    run = snakemake_at(root, *EXAMPLE, path=("examples",), timeout=1200)
    tables = {p.name: p.stat().st_mtime_ns for p in (root / "results/tables").glob("*")}
    accuracy = {p.stem: yaml.safe_load(p.read_text()) for p in (root / "results/metrics/accuracy").rglob("*.json")}
    floor = folder / "floor.yaml"
    floor.write_text("models:\n  mine: {min_accuracy: 0.9}\n")
    stopped = snakemake_at(root, *EXAMPLE, str(floor), path=("examples",))
    return {
        "root": root,
        "plan": plan,
        "run": run,
        "tables": tables,
        "accuracy": accuracy,
        "stopped": stopped,
        "floor": floor,
    }


@pytest.fixture(scope="session")
def tiny_run() -> Path:
    """The tiny config run ONCE for the session (:func:`tiny`, a long run: started with the session).

    Returns that copy's root. Tests only READ it (the end-to-end assertions of test_workflow,
    the pinned outputs, the baselines of the kill -9 and SLURM runs); a test that changes files
    works on its own copy (:func:`tiny_copy`). Building the report (:func:`tiny_report`) only adds
    ``results/report.html``.
    """
    return background.result("tiny")


@pytest.fixture(scope="session")
def tiny_report(tiny_run) -> Path:
    """``results/report.html`` of the shared tiny run, built once with the README's command."""
    proc = snakemake_at(tiny_run, *TINY, "--report", "results/report.html")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return tiny_run / "results/report.html"


@pytest.fixture
def tiny_copy(tiny_run, tmp_path) -> Path:
    """A private copy of the finished shared tiny run (results, resources, logs, ``.snakemake``
    with its metadata, modification times kept), for a test that changes files."""
    dest = tmp_path / "cameval"
    shutil.copytree(tiny_run, dest, symlinks=True)
    return dest


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A tiny digits set (32 px; 12/6/6 images), a random 10-class small_vgg, the model and its inputs
    (tests/test_wiring.py, tests/test_sanity_deletion.py; their shards: ``helpers.wiring_shard``)."""
    import torch  # noqa: PLC0415  (a session of tests that never use it need not import torch)

    from cameval.data.images import ImageSet  # noqa: PLC0415
    from cameval.data.manifest import read_manifest  # noqa: PLC0415
    from cameval.explain import default_layer  # noqa: PLC0415
    from cameval.models import load_model  # noqa: PLC0415

    torch.set_num_threads(1)
    root = digits_with_small_vgg(tmp_path_factory.mktemp("wiring"), test=WIRING_N, models={"m": 0})
    model = load_model(root / "m.safetensors")
    man = read_manifest(root / "manifest.csv")
    test = man[man["split"] == "test"]
    with ImageSet(root / "images.h5") as imgs:
        pixels = imgs.uint8(test["index"].to_numpy())
        mean, std = np.asarray(imgs.mean, np.float32), np.asarray(imgs.std, np.float32)
    # as the model sees them, in float32 (near-equal cells of a map would rank differently in float64)
    x = torch.as_tensor((pixels.astype(np.float32) / np.float32(255) - mean) / std).permute(0, 3, 1, 2).contiguous()
    return {
        "root": root,
        "weights": str(root / "m.safetensors"),
        "images": str(root / "images.h5"),
        "manifest": str(root / "manifest.csv"),
        "model": model,
        "layer": default_layer(model),
        "test": test,
        "pixels": pixels,
        "mean": mean,
        "std": std,
        "x": x,
    }
