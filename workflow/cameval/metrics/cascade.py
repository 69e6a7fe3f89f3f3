"""Explanations of a model's randomized copies that re-run only what the randomization changed.

The model randomization test (Adebayo et al., NeurIPS 2018) explains ``x`` on every copy that
:func:`cameval.metrics.randomized_models` yields. Re-initialized from the output down, most copies
keep the bottom of the network as it was, and so its activations on ``x``: with the model split
into layers and a tail (:func:`cameval.inference.plan_of`), the activation entering plan layer
``p`` is the original's as long as no layer below ``p`` was re-initialized. So the original model
runs once on ``x``, its activation entering every layer that randomization can change is kept, and
each step runs (without autograd) only from its lowest re-initialized layer up to the explained
layer ``T``; for Grad-CAM and Grad-CAM++ only the part above ``T`` runs with autograd, forward and
backward. When every re-initialized layer lies above ``T`` (the classifier steps) the activation
at ``T`` is the original's and only that part runs. Nothing is approximated: the same layers run on
the same tensors as in the full forward pass.

One working copy of the model is re-initialized in place, step after step (``cascading``), or one
layer at a time and restored after its step (``independent``), with the seeds of
:func:`~cameval.metrics.randomized_models`, so each step's model has the same weights as the copy
that function yields; the model passed in is never changed. Methods or layers the shortcut cannot
serve (pixel methods need the backward pass down to the input; a layer inside a residual block;
models :func:`~cameval.inference.plan_of` cannot split, or in train mode) are explained by
:func:`cameval.explain.explain_targets` on the step's model, as without the shortcut.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence

import torch
from torch import nn

from cameval.explain import as_targets, cams_of, default_layer, explain_targets, logits_of, upsample
from cameval.inference import Plan, plan_of, shifted_max_pool
from cameval.methods import ALIASES
from cameval.metrics.sanity import _layer_seed, _reset, check_mode, randomizable_layers, randomized_models

#: the methods whose maps need only the activation at the explained layer and the gradient down to it
CAM_METHODS = ("gradcam", "gradcampp")


def _run(layers: Sequence[nn.Module], a: torch.Tensor, owned: bool = False) -> torch.Tensor:
    """``a`` through ``layers`` in turn. An in-place layer gets a copy while the tensor it would
    overwrite is not ``owned`` here (a kept activation, a leaf that requires grad, or what a layer
    that returns its input, as eval-mode dropout does, passed on); the tensors made on the way are
    overwritten as the model's own ``forward`` does (cloning each cost as much as the ReLU itself).
    A max pool without autograd runs as :func:`~cameval.inference.shifted_max_pool` (the same values,
    PyTorch's kernel cost small VGG more than its convolutions here)."""
    for m in layers:
        if getattr(m, "inplace", False) and not owned:
            a, owned = a.clone(), True
        out = shifted_max_pool(m, a) if type(m) is nn.MaxPool2d else None
        out = m(a) if out is None else out
        owned = owned or out.untyped_storage().data_ptr() != a.untyped_storage().data_ptr()
        a = out
    return a


class _Activations:
    """The working copy split by its plan, and the original model's activations entering each plan
    layer that holds a randomizable module (index ``len(layers)``: the tail's input)."""

    def __init__(self, plan: Plan, model: nn.Module, x: torch.Tensor, names: list[str]):
        self.layers, self.tail = plan.layers, plan.tail
        inside: dict[int, int] = {}
        for j, layer in enumerate(self.layers):
            for m in layer.modules():
                inside.setdefault(id(m), j)
        modules = dict(model.named_modules())
        #: randomizable module name -> the plan layer that holds it (``len(layers)``: the tail)
        self.index = {n: inside.get(id(modules[n]), len(self.layers)) for n in names}
        self.kept = {0: x}
        wanted = set(self.index.values())
        with torch.no_grad():
            a, owned = x, False
            for j, layer in enumerate(self.layers):
                out = _run([layer], a, owned)
                owned = out.untyped_storage().data_ptr() != a.untyped_storage().data_ptr() or owned
                a = out
                if j + 1 in wanted:
                    self.kept[j + 1], owned = a, False  # kept: the next in-place layer must not overwrite it
        self._modules = modules
        self._occurrences: dict[int, int] = {}
        for _, m in model.named_modules(remove_duplicate=False):
            self._occurrences[id(m)] = self._occurrences.get(id(m), 0) + 1

    def boundary(self, layer: str) -> int | None:
        """``b`` such that ``layer``'s output is the activation entering plan layer ``b`` (a plan layer,
        or an ``nn.Sequential`` of consecutive plan layers, used once), else None."""
        module = self._modules.get(layer)
        if module is None or self._occurrences.get(id(module), 0) != 1:
            return None
        run = list(module) if type(module) is nn.Sequential else [module]
        starts = [j for j, m in enumerate(self.layers) if m is run[0]] if run else []
        if len(starts) != 1 or self.layers[starts[0] : starts[0] + len(run)] != run:
            return None
        return starts[0] + len(run)

    @torch.no_grad()
    def original(self, b: int) -> torch.Tensor:
        """The original model's activation entering plan layer ``b``; the layers below ``b`` must be
        unchanged in the working copy (the caller's step has changed none of them)."""
        if b not in self.kept:
            start = max(j for j in self.kept if j < b)
            self.kept[b] = _run(self.layers[start:b], self.kept[start])
        return self.kept[b]


class RandomizedStep:
    """One step of the randomization: ``layer`` re-initialized (with every layer above it in
    ``cascading`` mode), ``model`` the working copy as it is at this step, and
    :meth:`explain_targets` its explanations of ``x``. Valid until the generator moves on (the
    working copy is then re-initialized further or restored): explain each step before the next."""

    def __init__(self, model: nn.Module, x: torch.Tensor, layer: str, lowest: int | None, acts: _Activations | None):
        self.model, self.x, self.layer = model, x, layer
        self._lowest, self._acts = lowest, acts
        self._at: dict[str, torch.Tensor] = {}  # explained layer -> this step's activation there
        self.live = True

    def explain_targets(
        self,
        model: nn.Module,
        x: torch.Tensor,
        targets: torch.Tensor,
        method: str = "gradcam",
        layer=None,
        size=None,
        **params,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:func:`cameval.explain.explain_targets`, the same maps and logits: for this step's model
        and ``x`` a CAM method runs only the changed part of the network (module docstring); any
        other call is passed on as it is."""
        if model is not self.model or x is not self.x:
            return explain_targets(model, x, targets, method, layer=layer, size=size, **params)
        if not self.live:
            raise RuntimeError(
                f"step {self.layer!r}: its model has been re-initialized further since; explain each step "
                "before asking for the next"
            )
        method = ALIASES.get(method, method)
        layer = layer or (default_layer(model) if method in CAM_METHODS else None)
        b = self._acts.boundary(layer) if self._acts is not None and method in CAM_METHODS and not params else None
        if b is None:
            return explain_targets(model, x, targets, method, layer=layer, size=size, **params)
        if layer not in self._at:
            if self._lowest >= b:  # every changed layer is above the explained one: its activation is the original's
                self._at[layer] = self._acts.original(b)
            else:
                with torch.no_grad():
                    self._at[layer] = _run(self._acts.layers[self._lowest : b], self._acts.original(self._lowest))
        a = self._at[layer].detach().requires_grad_(True)
        h = _run(self._acts.layers[b:], a)
        logits = logits_of(self._acts.tail(h.clone() if h is a else h))  # the tail may start in place
        maps = cams_of(a, logits, targets, method)
        return upsample(maps, size), logits.detach()


def randomized_steps(
    model: nn.Module, x: torch.Tensor, mode: str = "cascading", seed: int = 0, layers: Sequence[str] | None = None
) -> Iterator[RandomizedStep]:
    """A :class:`RandomizedStep` for each copy :func:`cameval.metrics.randomized_models` yields with
    the same arguments (the same layers in the same order, the same weights), whose
    ``explain_targets`` re-runs only the changed part of the network for CAM methods (module
    docstring). The model passed in is never changed; the caller's random state is restored."""
    check_mode(mode)
    order = randomizable_layers(model)
    wanted = set(order) if layers is None else set(layers)
    if layers is not None and (not wanted or wanted - set(order)):
        yield from _plain(model, x, mode, seed, layers)  # randomized_models says what is wrong
        return
    work = copy.deepcopy(model)
    plan, _ = plan_of(work)
    acts = _Activations(plan, work, x, order) if plan is not None else None
    lowest = len(plan.layers) if plan is not None else None
    for index, name in enumerate(order):
        module = work.get_submodule(name)
        saved = None if mode == "cascading" or name not in wanted else copy.deepcopy(module.state_dict())
        if mode == "cascading" or name in wanted:
            _reset(work, name, _layer_seed(seed, index))
            if acts is not None:  # the lowest plan layer that differs from the original's now
                lowest = min(lowest, acts.index[name]) if mode == "cascading" else acts.index[name]
        if name not in wanted:
            continue
        step = RandomizedStep(work, x, name, lowest, acts)
        yield step
        step.live = False
        if saved is not None:
            module.load_state_dict(saved)


def _plain(model, x, mode, seed, layers) -> Iterator[RandomizedStep]:
    for name, copy_ in randomized_models(model, mode, seed, layers):
        yield RandomizedStep(copy_, x, name, None, None)


def cascading_maps(
    model: nn.Module,
    x: torch.Tensor,
    target,
    method: str = "gradcam",
    layer: str | None = None,
    *,
    mode: str = "cascading",
    seed: int = 0,
    layers: Sequence[str] | None = None,
    size=None,
    **params,
) -> Iterator[tuple[str, torch.Tensor]]:
    """``(layer, maps)`` for each step of :func:`randomized_steps`: the maps
    ``cameval.explain.explain(randomized copy, x, target, method, layer, size, **params)`` returns
    (``[N, ...]``, or ``[N, K, ...]`` for a ``[N, K]`` target), detached."""
    targets = as_targets(target, x.shape[0], x.device)
    single = torch.as_tensor(target).ndim < 2
    for step in randomized_steps(model, x, mode, seed, layers):
        maps, _ = step.explain_targets(step.model, x, targets, method, layer=layer, size=size, **params)
        yield step.layer, (maps[:, 0] if single else maps).detach()
