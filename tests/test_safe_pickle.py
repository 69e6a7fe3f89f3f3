"""The restricted unpickler: the study's pickled MNIST network is read without running code and
gives the study's logits; pickles whose payload would run code are refused before it runs."""

import os
import pickle
import re
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from torch import nn

from cameval.errors import DataError
from cameval.models import build_model, import_weights, load_model
from cameval.models.convert import main as convert_main
from cameval.models.safe_pickle import map_module_onto, read_pickled, read_pickled_module, stub_state_dict

ROOT = Path(__file__).resolve().parents[1]
STUDY_MODEL = ROOT / "resources/study/mnist/model.pt"


class mnistModel(nn.Module):  # noqa: N801 — the study's class name, as pickled (`__main__.mnistModel`)
    """The study's network as its source defines it (src/experiments/contrastivity_and_fidelity/mnist.py)."""

    def __init__(self):
        super().__init__()
        self.conv_layers = nn.Sequential(nn.Conv2d(1, 20, kernel_size=5), nn.MaxPool2d(2), nn.ReLU())
        self.fc_layers = nn.Sequential(nn.Linear(12 * 12 * 20, 50), nn.ReLU(), nn.Linear(50, 10))

    def forward(self, x):
        return self.fc_layers(torch.flatten(self.conv_layers(x), 1))


@pytest.fixture(scope="module")
def study_state():
    """The oracle: the file's state dict by plain torch.load, the class put where the pickle names it."""
    main = sys.modules["__main__"]
    had = hasattr(main, "mnistModel")
    old = getattr(main, "mnistModel", None)
    main.mnistModel = mnistModel
    try:
        obj = torch.load(STUDY_MODEL, map_location="cpu", weights_only=False)
    finally:
        if had:
            main.mnistModel = old
        else:
            del main.mnistModel
    return obj.state_dict()


def test_study_model_is_in_the_repo_byte_for_byte():
    shared = Path("/work/shared/study/raw/mnist/model.pt")
    if not shared.exists():
        pytest.skip("the study's raw folder is not on this machine")
    assert STUDY_MODEL.read_bytes() == shared.read_bytes()


def test_restricted_reader_records_the_study_network_and_its_tensors(study_state):
    stub = read_pickled_module(STUDY_MODEL)
    assert stub.qualname == "__main__.mnistModel"
    conv = stub.children()["conv_layers"].children()["0"]
    assert conv.qualname == "torch.nn.modules.conv.Conv2d"
    assert (conv.in_channels, conv.out_channels, tuple(conv.kernel_size)) == (1, 20, (5, 5))
    state = stub_state_dict(stub)
    assert list(state) == list(study_state)
    for k, v in study_state.items():
        assert torch.equal(state[k], v), k


def test_converted_study_network_gives_the_study_logits(tmp_path, study_state):
    ref = mnistModel().eval()
    ref.load_state_dict(study_state)
    out = tmp_path / "mnist_net.safetensors"
    assert convert_main(["convert", str(STUDY_MODEL), str(out), "--arch", "mnist_net"]) == 0
    ours = load_model(out)
    torch.manual_seed(0)
    x = torch.randn(16, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), rtol=0, atol=1e-6)
    # the workflow's route (weights: pickled-module:…) writes the same network
    import_weights("mnist_net", f"pickled-module:{STUDY_MODEL}", tmp_path / "b.safetensors", num_classes=10)
    with torch.no_grad():
        torch.testing.assert_close(load_model(tmp_path / "b.safetensors")(x), ref(x), rtol=0, atol=1e-6)


def test_a_network_of_another_structure_is_a_clear_error():
    stub = read_pickled_module(STUDY_MODEL)
    with pytest.raises(DataError, match=r"layers Conv2d → MaxPool2d → ReLU → Linear → ReLU → Linear do not match"):
        map_module_onto(stub, build_model("small_vgg"), name="model.pt")
    with pytest.raises(
        DataError, match=r"fc_layers.0 \(Linear\) has in_features=2880, MnistNet.classifier.0 expects 3920"
    ):
        map_module_onto(stub, build_model("mnist_net", size=32), name="model.pt")
    with pytest.raises(DataError, match=r"fc_layers.2 \(Linear\) has out_features=10, MnistNet.classifier.2 expects 7"):
        map_module_onto(stub, build_model("mnist_net", num_classes=7), name="model.pt")


class _RunsCode:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_that_would_run_code_is_refused_as_plain_pickle_and_in_torch_zip(tmp_path):
    marker = tmp_path / "MARKER"
    payload = pickle.dumps({"weight": [0.0, 1.0], "x": _RunsCode(marker)}, protocol=2)
    assert b"system" in payload
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(payload)
    with pytest.raises(
        DataError, match=rf"{re.escape(str(plain))}: refused to unpickle the global (posix|nt|os)\.system"
    ):
        read_pickled(plain)
    # torch's zip format: a real torch.save archive whose data.pkl is swapped for the payload
    torch.save({"w": torch.ones(3)}, tmp_path / "ok.pt")
    zipped = tmp_path / "evil.pt"
    with zipfile.ZipFile(tmp_path / "ok.pt") as src, zipfile.ZipFile(zipped, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.endswith("/data.pkl"):
                data = pickle.dumps(_RunsCode(marker), protocol=2)
            dst.writestr(item, data)
    with pytest.raises(
        DataError, match=rf"{re.escape(str(zipped))}: refused to unpickle the global (posix|nt|os)\.system"
    ):
        read_pickled(zipped)
    with pytest.raises(SystemExit) as refused:  # the CLI without --trust-pickle
        convert_main(["convert", str(zipped), str(tmp_path / "evil.safetensors")])
    assert refused.value.code == 2
    assert not marker.exists() and not (tmp_path / "evil.safetensors").exists()


@pytest.mark.parametrize(
    "module, name",
    [
        ("builtins", "eval"),
        ("subprocess", "Popen"),
        ("torch", "load"),
        ("torch._utils", "_rebuild_device_tensor_from_numpy"),
    ],
)
def test_every_other_global_is_refused_by_name(tmp_path, module, name):
    path = tmp_path / "g.pkl"
    path.write_bytes(b"\x80\x02c" + f"{module}\n{name}\n".encode() + b")R.")  # GLOBAL, EMPTY_TUPLE, REDUCE
    with pytest.raises(DataError, match=rf"{re.escape(str(path))}: refused to unpickle the global {module}\.{name}"):
        read_pickled(path)


def test_a_saved_state_dict_reads_back_equal(tmp_path):
    torch.manual_seed(0)
    model = build_model("mnist_net")
    torch.save(model.state_dict(), tmp_path / "sd.pt")
    state = read_pickled(tmp_path / "sd.pt")
    assert list(state) == list(model.state_dict())
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


# --- bounded: every path a DataError naming the file, nothing allocated before the checks ------------------


def _flip_in_member(path: Path, member_suffix: str) -> None:
    """Flip one byte of a zip member's stored data (its CRC no longer matches)."""
    with zipfile.ZipFile(path) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith(member_suffix))
    with open(path, "r+b") as f:
        f.seek(info.header_offset + 26)
        name_len, extra_len = int.from_bytes(f.read(2), "little"), int.from_bytes(f.read(2), "little")
        at = info.header_offset + 30 + name_len + extra_len
        f.seek(at)
        byte = f.read(1)
        f.seek(at)
        f.write(bytes([byte[0] ^ 0xFF]))


@pytest.mark.parametrize("member", ["/data.pkl", "/data/0"])
def test_a_zip_with_a_bad_crc_names_the_file(tmp_path, member):
    path = tmp_path / "crc.pt"
    torch.save({"w": torch.arange(6.0)}, path)
    _flip_in_member(path, member)
    with pytest.raises(zipfile.BadZipFile):  # the oracle: the zip module itself sees the damage
        with zipfile.ZipFile(path) as zf:
            zf.read(next(n for n in zf.namelist() if n.endswith(member)))
    with pytest.raises(DataError, match=rf"{re.escape(str(path))}: .*Bad CRC-32"):
        read_pickled(path)


def _module_with(edit) -> nn.Module:
    m = nn.Sequential(nn.Linear(2, 2))
    edit(m)
    return m


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda m: m.__dict__.update(_modules=[nn.Linear(2, 2)]), r"\(root\)\._modules is a list"),
        (lambda m: m.__dict__.update(_parameters={"w": [1.0, 2.0]}), r"\(root\)\._parameters\['w'\] is a list"),
        (lambda m: m._modules.update(again=m), r"module again contains itself"),
        (lambda m: m[0]._modules.update(up=m), r"module 0\.up contains itself"),
    ],
)
def test_a_module_tree_of_the_wrong_shape_names_the_file(tmp_path, capsys, edit, match):
    path = tmp_path / "odd.pt"
    torch.save(_module_with(edit), path)
    with pytest.raises(DataError, match=rf"{re.escape(str(path))}: {match}"):
        read_pickled_module(path)
    stub = read_pickled(path)  # the raw record: the other entries check it too
    with pytest.raises(DataError, match=match):
        map_module_onto(stub, build_model("mnist_net"), name=str(path))
    with pytest.raises(SystemExit) as refused:  # the CLI: its error line, status 2
        convert_main(["convert", str(path), str(tmp_path / "odd.safetensors")])
    assert refused.value.code == 2 and re.search(match, capsys.readouterr().err)
    assert not (tmp_path / "odd.safetensors").exists()


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_a_stride_0_view_is_refused_before_anything_is_allocated(tmp_path):
    path = tmp_path / "view.pt"
    torch.save({"w": torch.zeros(1).expand(20000, 20000)}, path)  # 1.6 GB as a copy, 4 bytes on disk
    assert path.stat().st_size < 10_000
    before = _peak_rss_mb()
    with pytest.raises(DataError, match=r"view.pt: .*size \(20000, 20000\) .* has 400000000 elements, its storage 1"):
        read_pickled(path)
    assert _peak_rss_mb() - before < 500  # the copy (1,600 MB) was never made


def test_a_tensor_above_the_stated_limit_is_refused_before_it_is_copied(tmp_path, monkeypatch):
    from cameval.models import safe_pickle

    path = tmp_path / "big.pt"
    torch.save({"w": torch.ones(64, 64)}, path)
    monkeypatch.setattr(safe_pickle, "MAX_TENSOR_BYTES", 64 * 64 * 4 - 1)
    with pytest.raises(DataError, match=r"big.pt: storage .* holds 16384 bytes, above the reader's limit of 16383"):
        read_pickled(path)
    monkeypatch.setattr(safe_pickle, "MAX_TENSOR_BYTES", 64 * 64 * 4)
    assert torch.equal(read_pickled(path)["w"], torch.ones(64, 64))
