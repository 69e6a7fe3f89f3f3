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
