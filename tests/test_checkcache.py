"""The parse-time checks that import torch and the libraries, remembered between parses
(cameval.checkcache): what is remembered, what invalidates it, and that a warm parse imports neither."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cameval import checkcache
from cameval.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("CAMEVAL_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "checks.json"


def counting(value=True, error=None):
    calls = []

    def compute():
        calls.append(1)
        if error:
            raise error
        return value

    return compute, calls


def test_a_passed_check_is_computed_once_then_remembered(cache):
    compute, calls = counting("features.20")
    assert checkcache.remembered("model", ["small_vgg", {}, 10, True], compute) == "features.20"
    assert checkcache.remembered("model", ["small_vgg", {}, 10, True], compute) == "features.20"
    assert len(calls) == 1
    assert list(json.loads(cache.read_text()).values()) == ["features.20"]
    # another key is checked on its own
    checkcache.remembered("model", ["small_vgg", {}, 10, False], compute)
    assert len(calls) == 2


def test_a_failed_check_is_never_remembered(cache):
    compute, calls = counting(error=ConfigError("heatmaps.x.params: ScoreCAM takes no parameter 'bach_size'"))
    for _ in range(2):
        with pytest.raises(ConfigError, match="bach_size"):
            checkcache.remembered("params", ["pytorch_grad_cam:ScoreCAM", {"bach_size": 1}], compute)
    assert len(calls) == 2
    assert not cache.exists() or json.loads(cache.read_text()) == {}


def test_your_modules_file_is_part_of_the_key(cache, tmp_path, monkeypatch):
    pkg = tmp_path / "src" / "mynets"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "builders.py").write_text("def net(num_classes=10):\n    return None\n")
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    assert checkcache.module_file("mynets.builders") == pkg / "builders.py"
    assert checkcache.module_file("mynets") == pkg / "__init__.py"
    assert checkcache.module_file("no_such_package_here.x") is None
    compute, calls = counting()
    checkcache.remembered("model", ["mynets.builders:net"], compute, ("mynets.builders",))
    checkcache.remembered("model", ["mynets.builders:net"], compute, ("mynets.builders",))
    assert len(calls) == 1
    (pkg / "builders.py").write_text("def net(num_classes=10, width=8):\n    return None\n")
    checkcache.remembered("model", ["mynets.builders:net"], compute, ("mynets.builders",))
    assert len(calls) == 2  # an edited builder is checked again
    # a module whose file cannot be found is checked every time
    checkcache.remembered("model", ["gone:net"], compute, ("no_such_package_here.mod",))
    checkcache.remembered("model", ["gone:net"], compute, ("no_such_package_here.mod",))
    assert len(calls) == 4


def test_a_library_version_is_part_of_the_key(cache, monkeypatch):
    compute, calls = counting()
    checkcache.remembered("params", ["pytorch_grad_cam:LayerCAM", {}], compute)
    real = checkcache.importlib.metadata.version
    monkeypatch.setattr(checkcache.importlib.metadata, "version", lambda d: "0.0.0" if d == "grad-cam" else real(d))
    checkcache.fingerprint.cache_clear()
    try:
        checkcache.remembered("params", ["pytorch_grad_cam:LayerCAM", {}], compute)
    finally:
        checkcache.fingerprint.cache_clear()
    assert len(calls) == 2


def test_nowhere_to_write_only_means_no_memory(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("CAMEVAL_CACHE", str(blocker / "cache"))  # a directory below a file
    compute, calls = counting(7)
    assert checkcache.remembered("model", ["x"], compute) == 7
    assert checkcache.remembered("model", ["x"], compute) == 7
    assert len(calls) == 2


def test_own_functions_layer_use_is_read_from_their_signature(cache, tmp_path, monkeypatch):
    pkg = tmp_path / "src" / "mymethods"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "maps.py").write_text(
        "def with_layer(model, x, target, layer):\n    pass\n\ndef without(model, x, target):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    assert checkcache.uses_layer("mymethods.maps:with_layer") is True
    assert checkcache.uses_layer("mymethods.maps:without") is False
    # from the name alone, nothing imported: ours and the libraries'
    assert checkcache.uses_layer("gradcam") and checkcache.uses_layer("guided_gradcam")
    assert not checkcache.uses_layer("guided_backprop")
    assert checkcache.uses_layer("pytorch_grad_cam:ScoreCAM") and checkcache.uses_layer("captum:LayerGradCam")
    assert not checkcache.uses_layer("captum:Saliency")


def test_the_source_digest_of_an_own_method_follows_its_file_and_only_its_file(tmp_path, monkeypatch):
    import hashlib

    pkg = tmp_path / "src" / "digested"  # a package name no other test imports (sys.modules keeps the first)
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "helpers.py").write_text("SCALE = 1\n")
    cams = pkg / "cams.py"
    cams.write_text("from digested.helpers import SCALE\n\ndef my_cam(model, x, target):\n    return x\n")
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    first = checkcache.source_digest("digested.cams:my_cam")
    assert first == hashlib.sha256(cams.read_bytes()).hexdigest()  # the file's SHA-256, nothing imported
    (pkg / "helpers.py").write_text("SCALE = 2\n")  # an imported module: not tracked (config/README.md says so)
    assert checkcache.source_digest("digested.cams:my_cam") == first
    cams.write_text(cams.read_text().replace("return x", "return 2 * x"))
    assert checkcache.source_digest("digested.cams:my_cam") not in ("", first)
    # cameval's table and the libraries' methods: no source tracked
    assert checkcache.source_digest("gradcam") == checkcache.source_digest("pytorch_grad_cam:ScoreCAM") == ""
    assert checkcache.source_digest("captum:Saliency") == ""
    with pytest.raises(ConfigError, match=r"heatmaps.mine.method: cannot find the source file of module nowhere.cams"):
        checkcache.source_digest("nowhere.cams:my_cam", "heatmaps.mine.method")


@pytest.mark.workflow
def test_a_second_parse_imports_neither_torch_nor_the_libraries(tmp_path):
    """The tiny config names pytorch-grad-cam and captum methods and an own ResNet builder: the first
    dry-run checks them (torch, the libraries), the second remembers and imports none of them."""
    env = {**os.environ, "CAMEVAL_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT / "workflow")}
    cmd = [sys.executable, "-X", "importtime", "-m", "snakemake", "-n", "--cores", "1", "all"]
    cmd += ["--configfile", "tests/configs/tiny.yaml", "-d", str(tmp_path / "work")]

    def imported() -> set[str]:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
        return {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}

    first, second = ({m.split(".")[0] for m in imported()} for _ in range(2))  # top-level packages
    assert {"torch", "torchvision", "pytorch_grad_cam", "captum"} <= first
    assert not {"torch", "torchvision", "pytorch_grad_cam", "captum"} & second
    assert "matplotlib" not in second
