"""Read a whole pickled ``nn.Module`` (``torch.save(model)``) without executing any pickled code.

``torch.load`` of such a file imports the classes it names and runs them; the study's MNIST
network (``__main__.mnistModel``, Table 7) can only be loaded that way with its class importable.
:func:`read_pickled_module` instead unpickles it with a restricted :class:`pickle.Unpickler`:

- torch's zip format (``<name>/data.pkl``, tensors' bytes in ``<name>/data/<key>``) is opened
  here and each storage is read from the zip, as ``torch.load``'s ``persistent_load`` does; a plain
  pickle (no storages) is read the same way; torch's legacy (pre-1.6) format is refused;
- tensors are rebuilt from their storage, offset, size and stride (``torch._utils._rebuild_tensor_v2``,
  ``_rebuild_parameter``), ``collections.OrderedDict`` and ``set`` are built; before anything is
  allocated, a storage's size in the zip and a tensor's bytes are checked against
  :data:`MAX_TENSOR_BYTES`, and a tensor must not hold more elements than its storage (a view that
  repeats elements, stride 0, would make the copy allocate more than the file holds);
- every module class (``torch.nn.modules.*``, ``torchvision.models.*``, ``__main__.*``) becomes a
  :class:`StubModule` that only records what the pickle stores (``_modules``, ``_parameters``,
  ``_buffers``, plain attributes such as ``kernel_size``) — no class is imported, no method runs;
- every other global (``os.system``, ``builtins.eval``, ``subprocess.Popen`` …) is refused with
  a :class:`~cameval.errors.DataError` naming the file and the global.

Every failure, a damaged zip (a bad CRC) and a recorded module tree of the wrong shape (``_modules``
that is no mapping, a module that is its own descendant) included, is a ``DataError`` naming the file.

:func:`map_module_onto` then puts the recorded tensors into a cameval network by structure: the
modules that compute (leaves of the module tree) are paired in order, and each pair must agree in
class, hyperparameters and parameter shapes. The pickle holds no ``forward``: the network must
compose its leaves in the same order (true of the study's MNIST network, ``conv_layers`` → flatten
→ ``fc_layers``, and :class:`~cameval.models.small.MnistNet`, ``features`` → flatten → ``classifier``).
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch
from torch import nn

from cameval.errors import DataError

#: storage classes as pickled (``torch.FloatStorage`` …) -> dtype
STORAGE_DTYPES = {
    "DoubleStorage": torch.float64,
    "FloatStorage": torch.float32,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
    "UntypedStorage": torch.uint8,
}
#: module prefixes whose classes are recorded as :class:`StubModule` (never imported)
MODULE_PREFIXES = ("torch.nn.modules.", "torchvision.models.")  # and the module ``__main__``
#: hyperparameters compared between paired layers (where both layers have them)
HYPERPARAMETERS = (
    "in_channels",
    "out_channels",
    "kernel_size",
    "stride",
    "padding",
    "dilation",
    "groups",
    "padding_mode",
    "transposed",
    "output_padding",
    "in_features",
    "out_features",
    "ceil_mode",
    "return_indices",
    "num_features",
    "eps",
    "affine",
    "output_size",
    "p",
    "negative_slope",
    "start_dim",
    "end_dim",
    "dim",
)
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
#: the largest tensor (and storage) the restricted reader allocates, in bytes: 4 GiB, above any
#: layer of the study's networks (VGG-16's largest, ``classifier.0.weight``, is 392 MiB)
MAX_TENSOR_BYTES = 4 << 30
#: the deepest module tree :func:`check_module_tree` accepts (torchvision's deepest is below 10)
MAX_DEPTH = 100


class StubModule:
    """What a pickle records of a module of class ``qualname``: its ``__dict__`` (set by BUILD)."""

    qualname = "?"

    def __init__(self, *args, **kwargs):  # a REDUCE on the class: record, run nothing
        self.__dict__["_init_args"] = args

    @property
    def class_name(self) -> str:
        return self.qualname.rsplit(".", 1)[-1]

    def children(self) -> dict[str, StubModule]:
        mods = self.__dict__.get("_modules") or {}
        return {k: v for k, v in mods.items() if v is not None}

    def __repr__(self) -> str:
        return f"<stub {self.qualname}>"


class _Storage:
    """A ``torch.<X>Storage`` global: only its dtype matters."""

    def __init__(self, name: str):
        self.name, self.dtype = name, STORAGE_DTYPES[name]


def _rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    if not isinstance(storage, torch.Tensor) or storage.ndim != 1:
        raise pickle.UnpicklingError("_rebuild_tensor: the storage is not a storage read from the file")
    size, stride, offset = tuple(int(s) for s in size), tuple(int(s) for s in stride), int(storage_offset)
    if len(size) != len(stride) or min((*size, *stride, offset), default=0) < 0:
        raise pickle.UnpicklingError(f"tensor of size {size}, stride {stride}, offset {offset}: not a tensor's layout")
    numel = int(np.prod(size, dtype=object))
    nbytes = numel * storage.element_size()
    if nbytes > MAX_TENSOR_BYTES:
        raise pickle.UnpicklingError(
            f"tensor of size {size} would take {nbytes} bytes, above the reader's limit of {MAX_TENSOR_BYTES} "
            "(MAX_TENSOR_BYTES)"
        )
    if numel > storage.numel():
        raise pickle.UnpicklingError(
            f"tensor of size {size} (stride {stride}) has {numel} elements, its storage {storage.numel()}: "
            "a view that repeats elements, which no saved layer holds (refused before copying it)"
        )
    need = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True)) + 1 if numel else 0
    if need > storage.numel():
        raise pickle.UnpicklingError(f"tensor of size {size} needs {need} elements, its storage has {storage.numel()}")
    return torch.as_strided(storage, size, stride, offset).clone()


def _rebuild_tensor_v1(storage, storage_offset, size, stride):
    return _rebuild_tensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
    if not isinstance(data, torch.Tensor):
        raise pickle.UnpicklingError("_rebuild_parameter: not a tensor")
    return data


_ALLOWED = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor_v1,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Builds tensors, ordered dicts and :class:`StubModule` records; refuses every other global."""

    def __init__(self, file, source: str, storages=None):
        super().__init__(file)
        self.source, self.storages, self._stubs = source, storages, {}

    def find_class(self, module: str, name: str):
        module = "builtins" if module == "__builtin__" else module  # protocol 2 writes Python 2's name
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module == "torch" and name in STORAGE_DTYPES:
            return _Storage(name)
        if (module == "__main__" or module.startswith(MODULE_PREFIXES)) and name.isidentifier():
            key = f"{module}.{name}"
            if key not in self._stubs:
                self._stubs[key] = type(name, (StubModule,), {"qualname": key, "__module__": __name__})
            return self._stubs[key]
        raise DataError(
            f"{self.source}: refused to unpickle the global {module}.{name} (the restricted reader builds only "
            "tensors, storages, OrderedDict and records of torch.nn / torchvision / __main__ modules; it never "
            "runs code named in a file). If you trust the file, convert it knowingly: "
            "python -m cameval.models convert --trust-pickle IN OUT.safetensors"
        )

    def persistent_load(self, pid):
        if self.storages is None:
            raise pickle.UnpicklingError("a storage reference outside torch's zip format")
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage" and isinstance(pid[1], _Storage)):
            raise pickle.UnpicklingError(f"unexpected persistent id {str(pid)[:80]}")
        _, kind, key, _location, numel = pid
        return self.storages(str(key), kind.dtype, int(numel))


def _unpickle(data: bytes, source: str, storages=None):
    try:
        return RestrictedUnpickler(io.BytesIO(data), source, storages).load()
    except DataError:
        raise
    except Exception as err:  # UnpicklingError, EOFError, KeyError (zip), struct errors, RecursionError …
        raise DataError(f"{source}: not a readable pickle ({type(err).__name__}: {err})") from err


def read_pickled(path: str | os.PathLike):
    """The object pickled in ``path`` (torch's zip format or a plain pickle), read restrictedly."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file (expected a checkpoint written by torch.save)")
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as f:
            data = f.read()
        obj = _unpickle(data, str(path))
        if isinstance(obj, int) and obj == LEGACY_MAGIC:
            raise DataError(
                f"{path}: torch's legacy (pre-1.6) serialization, which the restricted reader does "
                "not read; convert it knowingly with python -m cameval.models convert --trust-pickle"
            )
        return obj
    try:
        return _read_zip(path)
    except DataError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, ValueError) as err:
        raise DataError(
            f"{path}: a damaged zip ({type(err).__name__}: {err}; expected torch.save's zip format)"
        ) from err


def _read_zip(path: Path):
    """The object of a torch zip archive (see :func:`read_pickled`); zip errors are the caller's."""
    with zipfile.ZipFile(path) as zf:
        pkl = [n for n in zf.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pkl) != 1:
            raise DataError(f"{path}: a zip without one <name>/data.pkl (expected torch.save's zip format)")
        prefix = pkl[0][: -len("data.pkl")]
        names = set(zf.namelist())
        big = f"{prefix}byteorder" in names and zf.read(f"{prefix}byteorder").strip() == b"big"
        cache: dict[str, torch.Tensor] = {}

        def storage(key: str, dtype: torch.dtype, numel: int) -> torch.Tensor:
            name = f"{prefix}data/{key}"
            if name not in names:
                raise DataError(f"{path}: no storage {name} in the zip")
            if key not in cache:
                declared = zf.getinfo(name).file_size
                if declared > MAX_TENSOR_BYTES:
                    raise DataError(
                        f"{path}: storage {name} holds {declared} bytes, above the reader's limit of "
                        f"{MAX_TENSOR_BYTES} (MAX_TENSOR_BYTES)"
                    )
                raw = bytearray(zf.read(name))
                if big and dtype.itemsize > 1:
                    raise DataError(f"{path}: a big-endian checkpoint, which the restricted reader does not read")
                cache[key] = torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)
            if cache[key].numel() < numel:
                raise DataError(f"{path}: storage {name} holds {cache[key].numel()} elements, {numel} expected")
            return cache[key]

        return _unpickle(zf.read(pkl[0]), str(path), storage)


def read_pickled_module(path: str | os.PathLike) -> StubModule:
    """The whole module pickled in ``path`` as a :class:`StubModule` tree (see the module docstring)."""
    obj = read_pickled(path)
    if isinstance(obj, dict) and isinstance(obj.get("model"), StubModule):
        obj = obj["model"]
    if not isinstance(obj, StubModule):
        raise DataError(f"{path}: holds a {type(obj).__name__}, expected a whole pickled nn.Module (torch.save(model))")
    check_module_tree(obj, path)
    return obj


def check_module_tree(root: StubModule, source: str | os.PathLike) -> None:
    """Raise :class:`DataError` naming ``source`` unless the recorded tree is one a module can be:
    ``_modules`` maps names to modules (or None), ``_parameters`` and ``_buffers`` names to tensors
    (or None), no module is its own descendant, at most :data:`MAX_DEPTH` levels. Walked without
    recursion, so a hostile file cannot exhaust the stack; :func:`stub_state_dict` and
    :func:`map_module_onto` rely on it."""
    stack: list[tuple[StubModule, str, tuple[int, ...]]] = [(root, "(root)", ())]
    while stack:
        node, where, above = stack.pop()
        if id(node) in above:
            raise DataError(f"{source}: module {where} contains itself (a cycle in the pickled module tree)")
        if len(above) > MAX_DEPTH:
            raise DataError(f"{source}: module {where} lies deeper than {MAX_DEPTH} levels (expected a module tree)")
        d = node.__dict__
        for group, kinds, what in (
            ("_modules", (StubModule,), "modules"),
            ("_parameters", (torch.Tensor,), "tensors"),
            ("_buffers", (torch.Tensor,), "tensors"),
        ):
            entries = d.get(group)
            if entries is None:
                continue
            if not isinstance(entries, dict):
                raise DataError(
                    f"{source}: {where}.{group} is a {type(entries).__name__} (expected a mapping of names to {what})"
                )
            for k, v in entries.items():
                if not isinstance(k, str) or not (v is None or isinstance(v, kinds)):
                    raise DataError(
                        f"{source}: {where}.{group}[{k!r}] is a {type(v).__name__} (expected names mapped to {what})"
                    )
        for name, child in node.children().items():
            stack.append((child, name if where == "(root)" else f"{where}.{name}", (*above, id(node))))


def stub_state_dict(stub: StubModule, prefix: str = "") -> dict[str, torch.Tensor]:
    """The tensors of a recorded module, keyed as ``nn.Module.state_dict()`` would key them."""
    out: dict[str, torch.Tensor] = {}
    d = stub.__dict__
    skip = set(d.get("_non_persistent_buffers_set") or ())
    for group in ("_parameters", "_buffers"):
        for k, v in (d.get(group) or {}).items():
            if v is not None and k not in skip:
                out[prefix + k] = v
    for name, child in stub.children().items():
        out.update(stub_state_dict(child, f"{prefix}{name}."))
    return out


def _leaves(obj, prefix: str = "") -> list[tuple[str, str, dict, dict]]:
    """``(path, class name, attributes, tensors)`` of every module without children, in order;
    ``obj`` is a :class:`StubModule` or an ``nn.Module``."""
    if isinstance(obj, nn.Module):
        kids, cls, d = dict(obj.named_children()), type(obj).__name__, vars(obj)
    else:
        kids, cls, d = obj.children(), obj.class_name, obj.__dict__
    if kids:
        return [leaf for name, k in kids.items() for leaf in _leaves(k, f"{prefix}{name}.")]
    skip = set(d.get("_non_persistent_buffers_set") or ())
    tensors = {
        k: v
        for g in ("_parameters", "_buffers")
        for k, v in (d.get(g) or {}).items()
        if v is not None and k not in skip
    }
    return [(prefix.rstrip("."), cls, d, tensors)]


def _same(a, b) -> bool:
    if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
        a = tuple(a) if isinstance(a, (tuple, list)) else (a,) * len(b)
        b = tuple(b) if isinstance(b, (tuple, list)) else (b,) * len(a)
    return bool(np.all(np.asarray(a == b)))


def map_module_onto(source, model: nn.Module, name: str = "checkpoint") -> dict[str, torch.Tensor]:
    """``model``'s state dict filled from ``source`` (a :class:`StubModule` or ``nn.Module``), by structure.

    The leaves of both module trees (modules without children) are paired in order; each pair must
    have the same class, the same values of the hyperparameters both record
    (:data:`HYPERPARAMETERS`) and the same tensor names and shapes. A mismatch raises a
    :class:`DataError` naming ``name``, the two modules and what differs.
    """
    if isinstance(source, StubModule):
        check_module_tree(source, name)
    src, dst = _leaves(source), _leaves(model)
    layout = lambda leaves: " → ".join(cls for _, cls, _, _ in leaves)  # noqa: E731
    if [c for _, c, _, _ in src] != [c for _, c, _, _ in dst]:
        raise DataError(f"{name}: layers {layout(src)} do not match {type(model).__name__}'s {layout(dst)}")
    state: dict[str, torch.Tensor] = {}
    for (sp, cls, sd, st), (dp, _, dd, dt) in zip(src, dst, strict=True):
        for h in HYPERPARAMETERS:
            if h in sd and h in dd and not _same(sd[h], dd[h]):
                raise DataError(
                    f"{name}: {sp or '(root)'} ({cls}) has {h}={sd[h]!r}, {type(model).__name__}.{dp} expects {dd[h]!r}"
                )
        if set(st) != set(dt):
            raise DataError(
                f"{name}: {sp} ({cls}) holds {sorted(st)}, {type(model).__name__}.{dp} expects {sorted(dt)}"
            )
        for k, v in dt.items():
            if tuple(st[k].shape) != tuple(v.shape):
                raise DataError(
                    f"{name}: {sp}.{k} has shape {tuple(st[k].shape)}, "
                    f"{type(model).__name__}.{dp}.{k} expects {tuple(v.shape)}"
                )
            state[f"{dp}.{k}" if dp else k] = st[k].detach().to(v.dtype)
    return state
