"""Record what every layer of a model computes, under names both sides of a port share.

A port is proven layer by layer when the two models' outputs, the gradients they pass back and
their parameters' gradients are laid side by side in the order the data flows through them.
:func:`record` attaches to a model — a torch ``nn.Module`` (hooks on its leaf modules) or a
NumPy model whose layers are objects with ``forward``/``backward`` (the book's nets and npref's,
or any list or dict of such layers) — and after a forward and a backward pass :meth:`Recorder.take`
returns, in dataflow order::

    affine1.out, batchnorm1.out, batchnorm1.running_mean, batchnorm1.running_var, relu1.out, …,
    affine3.out,                                              (forward, in the order layers ran)
    affine3.W.grad, affine3.b.grad, affine3.dx, …, affine1.W.grad, affine1.b.grad
                                                              (backward, in the order it ran)

An affine layer that a BatchNorm follows is recorded without its bias (``x·W``; see
:attr:`Recorder.inert`). A layer is named by its kind and its rank among layers of that kind — ``affine2`` is the second
``nn.Linear`` or ``Affine``, ``batchnorm1`` the first ``nn.BatchNorm1d`` or ``BatchNorm`` — so
that a like-for-like port's names meet the original's with no map at all; ``names=`` renames
layers (``{"fc1": "affine1"}``). Parameters are laid out as the book lays them: ``nn.Linear``'s
``weight`` (out, in) is ``W`` as (in, out), ``bias`` is ``b``; a BatchNorm's ``weight``/``bias``
are ``gamma``/``beta`` (``layout=`` adds or overrides). :meth:`Recorder.params` and
:meth:`Recorder.state` return the parameters and the optimizer's state under the same names and
layouts (``affine1.W``, ``affine1.W.exp_avg`` …, PyTorch's state names), whichever optimizer
holds them: a ``torch.optim`` one, an npref one, or the book's own (a dict of dicts).

The gradient of the first layer's input (nobody's parameter) is not recorded: NumPy ports often
skip computing it. Recording never changes what the model computes: outputs are copied as they
come, hooks return nothing, NumPy layers are wrapped per instance and the wrapper hands every
argument and result through untouched (``tests/test_recorder.py`` trains recorded and unrecorded
twins bit for bit).

NumPy only: torch modules and tensors are used through their own methods.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from npref.testing.comparison import as_array

__all__ = ["record", "Recorder", "draws", "KINDS", "LAYOUT", "ROLES"]

#: A layer's kind, by its class name: what a port's layer and the original's are both called.
#: The book's own classes (common/layers.py: ``BatchNormalization``, ``Relu``, ``Dropout`` …)
#: are the kinds they are, so a book net and its port meet by name with no map.
KINDS = {"Linear": "affine", "Affine": "affine", "LazyLinear": "affine",
         "BatchNorm1d": "batchnorm", "BatchNorm": "batchnorm", "BookBatchNorm1d": "batchnorm",
         "BatchNormalization": "batchnorm",
         "ReLU": "relu", "Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh",
         "Dropout": "dropout", "LeakyReLU": "leakyrelu", "Softmax": "softmax",
         "SoftmaxWithLoss": "softmaxwithloss", "BookSoftmaxWithLoss": "softmaxwithloss",
         "CrossEntropyLoss": "softmaxwithloss"}

#: (kind, attribute) → (the book's name, how the array is laid out there). PyTorch's Linear keeps
#: ``weight`` as (out, in); the book's Affine keeps ``W`` as (in, out).
LAYOUT = {("affine", "weight"): ("W", "T"), ("affine", "bias"): ("b", None),
          ("batchnorm", "weight"): ("gamma", None), ("batchnorm", "bias"): ("beta", None)}

#: The second part of a recorded name that is not a parameter: what a layer computes.
ROLES = ("out", "dx", "running_mean", "running_var", "mask")

#: A NumPy layer's parameters and buffers, by attribute name (its gradient is ``"d" + name``).
_NUMPY_PARAMS = ("W", "b", "gamma", "beta")
_NUMPY_BUFFERS = ("running_mean", "running_var")


def _copy(x) -> np.ndarray:
    return np.array(as_array(x), copy=True)


def _laid_out(array, how):
    return array.T if how == "T" else array


class Recorder:
    """What :func:`record` returns: attached to one model; see the module docstring."""

    def __init__(self, model, layers=None, names=None, layout=None):
        self._entries: list[tuple[str, np.ndarray]] = []
        self._backward: list[str] = []            # layer names, in the order backward reached
        self.layout = {**LAYOUT, **(layout or {})}
        self.torch = hasattr(model, "named_modules") and hasattr(model, "register_forward_hook")
        chosen = self._torch_layers(model) if self.torch else self._numpy_layers(model, layers)
        renames = dict(names or {})
        unknown = set(renames) - {key for key, _ in chosen}
        if unknown:
            raise ValueError(f"names: no layer {', '.join(map(repr, sorted(unknown)))} in the "
                             f"model; its layers are {', '.join(repr(k) for k, _ in chosen)}")
        counts: dict = {}
        self.layers: dict = {}                    # recorder name -> layer object
        self._kind: dict = {}
        for key, layer in chosen:
            kind = KINDS.get(type(layer).__name__, type(layer).__name__.lower())
            counts[kind] = counts.get(kind, 0) + 1
            name = renames.get(key, f"{kind}{counts[kind]}")
            if name in self.layers:
                raise ValueError(f"names: two layers would be called {name!r}")
            self.layers[name], self._kind[name] = layer, kind
        self._first = next(iter(self.layers), None)
        order = list(self.layers)
        #: affine layers whose bias is inert (a BatchNorm follows), and those BatchNorms.
        self._inert_pairs = [(a, b) for a, b in zip(order, order[1:])
                             if self._kind[a] == "affine" and self._kind[b] == "batchnorm"]
        self._inert_layers = {a for a, _ in self._inert_pairs}
        self._attach()

    # -- finding the layers -------------------------------------------------------------------

    @staticmethod
    def _torch_layers(model) -> list:
        return [(name, m) for name, m in model.named_modules()
                if name and not list(m.children())] or [("", model)]

    @staticmethod
    def _numpy_layers(model, layers) -> list:
        if layers is None:
            layers = getattr(model, "layers", None)
            if layers is None:
                raise ValueError("record: the model has no `layers` (a list or dict of layer "
                                 "objects with forward/backward); pass layers= explicitly")
        items = (list(layers.items()) if isinstance(layers, Mapping)
                 else list(enumerate(layers)) if isinstance(layers, Sequence) else None)
        if items is None:
            raise ValueError(f"layers must be a list or dict of layers, got {type(layers).__name__}")
        for key, layer in items:
            if not (callable(getattr(layer, "forward", None))
                    and callable(getattr(layer, "backward", None))):
                raise ValueError(f"layers[{key!r}] has no forward/backward: "
                                 f"{type(layer).__name__}")
        return items

    # -- attaching ------------------------------------------------------------------------------

    def _attach(self) -> None:
        self._handles = []
        for name, layer in self.layers.items():
            if self.torch:
                self._handles.append(layer.register_forward_hook(self._torch_hook(name)))
            else:
                self._wrap(name, layer)

    def _torch_hook(self, name):
        def hook(module, inputs, output):
            out = _copy(output)
            if name in self._inert_layers:           # x·W: the bias BatchNorm removes, left out
                out = out - _copy(module.bias)
            self._entries.append((f"{name}.out", out))
            for buf in _NUMPY_BUFFERS:
                value = getattr(module, buf, None)
                if value is not None and module.training:
                    self._entries.append((f"{name}.{buf}", _copy(value)))
            x = inputs[0] if inputs else None
            if name != self._first and getattr(x, "requires_grad", False):
                x.register_hook(lambda grad: self._passed_back(name, grad))
        return hook

    def _wrap(self, name, layer) -> None:
        forward, backward = layer.forward, layer.backward

        def recorded_forward(*args, **kwargs):
            out = forward(*args, **kwargs)
            shown = _copy(out)
            if name in self._inert_layers:           # x·W: the bias BatchNorm removes, left out
                shown = shown - layer.b
            self._entries.append((f"{name}.out", shown))
            training = kwargs.get("train", kwargs.get("train_flg",
                                                      args[1] if len(args) > 1 else True))
            for buf in _NUMPY_BUFFERS:
                if getattr(layer, buf, None) is not None and training is not False:
                    self._entries.append((f"{name}.{buf}", _copy(getattr(layer, buf))))
            return out

        def recorded_backward(*args, **kwargs):
            dx = backward(*args, **kwargs)
            self._backward.append(name)
            for attr in _NUMPY_PARAMS:
                grad = getattr(layer, "d" + attr, None)
                if isinstance(getattr(layer, attr, None), np.ndarray) and grad is not None:
                    self._entries.append((f"{name}.{attr}.grad", _copy(grad)))
            if dx is not None and name != self._first:
                self._entries.append((f"{name}.dx", _copy(dx)))
            return dx

        layer.forward, layer.backward = recorded_forward, recorded_backward

    def _passed_back(self, name, grad):
        self._backward.append(name)
        self._entries.append((f"{name}.dx", _copy(grad)))

    def detach(self) -> None:
        """Remove the hooks and wrappers: the model is as it was."""
        for h in self._handles:
            h.remove()
        if not self.torch:
            for layer in self.layers.values():
                for attr in ("forward", "backward"):
                    layer.__dict__.pop(attr, None)
        self._handles = []

    # -- reading --------------------------------------------------------------------------------

    def _torch_params(self, name):
        """``[(book name, tensor, layout)]`` of a torch layer's own parameters."""
        kind = self._kind[name]
        out = []
        for attr, p in self.layers[name].named_parameters(recurse=False):
            book, how = self.layout.get((kind, attr), (attr, None))
            out.append((book, p, how))
        return out

    def take(self) -> dict:
        """What the model computed since the last ``take()``: forward outputs (and BatchNorm's
        running statistics) in the order the layers ran, then the backward pass in the order it
        ran — each layer's parameter gradients, then the gradient it passed back. Clears."""
        entries, self._entries = self._entries, []
        reached, self._backward = self._backward, []
        _warn_if_twice(entries)
        if not self.torch:
            return dict(entries)
        out = dict(entries)
        # Parameter gradients are complete once backward is: each sits just before the gradient
        # its layer passed back, in the order backward reached the layers.
        ordered = {k: v for k, v in out.items() if k.endswith((".out",) + tuple(
            "." + b for b in _NUMPY_BUFFERS))}
        seen = set()
        for name in [*reached, *reversed(self.layers)]:
            if name in seen:
                continue
            seen.add(name)
            for book, p, how in self._torch_params(name):
                if getattr(p, "grad", None) is not None:
                    ordered[f"{name}.{book}.grad"] = _laid_out(_copy(p.grad), how)
            if f"{name}.dx" in out:
                ordered[f"{name}.dx"] = out[f"{name}.dx"]
        return ordered

    def params(self) -> dict:
        """Every layer's parameters under the recorder's names and the book's layouts."""
        out = {}
        for name, layer in self.layers.items():
            if self.torch:
                for book, p, how in self._torch_params(name):
                    out[f"{name}.{book}"] = _laid_out(_copy(p), how)
            else:
                for attr in _NUMPY_PARAMS:
                    value = getattr(layer, attr, None)
                    if isinstance(value, np.ndarray):
                        out[f"{name}.{attr}"] = value.copy()
        return out

    def _named_arrays(self, params):
        """id(array) → (recorder name, layout) of every parameter: how an optimizer's key (a
        tensor, or an array of the dict it updates) is found."""
        found = {}
        for name, layer in self.layers.items():
            if self.torch:
                for book, p, how in self._torch_params(name):
                    found[id(p)] = (f"{name}.{book}", how)
            else:
                for attr in _NUMPY_PARAMS:
                    value = getattr(layer, attr, None)
                    if isinstance(value, np.ndarray):
                        found[id(value)] = (f"{name}.{attr}", None)
                        if params is not None:
                            for key, arr in params.items():
                                if isinstance(arr, np.ndarray) and arr is not value and \
                                        arr.shape == value.shape and np.shares_memory(arr, value):
                                    found[id(arr)] = (f"{name}.{attr}", None)
        return found

    def state(self, optimizer, params=None, names=None) -> dict:
        """The optimizer's per-parameter state as ``{"affine1.W.exp_avg": array, …}``, in the
        layers' order, laid out as the parameters are, under PyTorch's state names.

        ``optimizer``: a ``torch.optim.Optimizer`` (state keyed by its tensors), an npref
        optimizer with the dict of arrays it updates as ``params`` (its state names become
        PyTorch's), or the book's own, given as ``{state name: {key: array}}`` with ``params``
        (``{"m": opt.m, "v": opt.v}``). ``names`` renames state entries (``{"m": "exp_avg"}``).
        ``step`` counts are left out (a number, the same on both sides of a port)."""
        renames = dict(names or {})
        index = self._named_arrays(params)
        collected: dict = {}
        if hasattr(optimizer, "param_groups"):                         # torch.optim
            for p, entries in optimizer.state.items():
                for key, value in entries.items():
                    if key != "step" and getattr(value, "ndim", 0) > 0:
                        collected.setdefault(id(p), []).append((key, value))
        elif isinstance(optimizer, Mapping):                            # the book's own
            if params is None:
                raise ValueError("state: the book's optimizer state needs params= (the dict "
                                 "its keys index)")
            for key, per_param in optimizer.items():
                for pkey, value in (per_param or {}).items():
                    collected.setdefault(id(params[pkey]), []).append((key, value))
        elif hasattr(optimizer, "state_buffers"):                       # npref
            if params is None:
                raise ValueError("state: an npref optimizer's state needs params= (the dict "
                                 "it updates)")
            torch_names = {b.name: b.torch_name for b in optimizer.state_buffers}
            for pkey, entries in optimizer.state.items():
                for key, value in entries.items():
                    if key != "step" and isinstance(value, np.ndarray):
                        collected.setdefault(id(params[pkey]), []).append(
                            (torch_names.get(key, key), value))
        else:
            raise ValueError("state: optimizer must be a torch.optim.Optimizer, an npref "
                             "optimizer or a dict {state name: {key: array}}, got "
                             f"{type(optimizer).__name__}")
        unmatched = set(collected) - set(index)
        if unmatched:
            raise ValueError("state: the optimizer holds state for parameters that are not the "
                             "model's (pass params=, the dict it updates)")
        order = {v[0]: i for i, v in enumerate(index.values())}
        out = {}
        for key in sorted(collected, key=lambda k: order[index[k][0]]):
            pname, how = index[key]
            for sname, value in collected[key]:
                out[f"{pname}.{renames.get(sname, sname)}"] = _laid_out(_copy(value), how)
        return out

    @property
    def inert(self) -> tuple:
        """What moves only by rounding noise, for :func:`npref.testing.lockstep`'s ``inert=``
        (shown, not judged): an affine layer's bias when a BatchNorm follows it, and that
        BatchNorm's running mean.

        Normalizing removes any shift, so the bias's gradient is zero in exact arithmetic; in
        floating point it is a few ulps of noise, different in any two implementations, which an
        adaptive optimizer scales by lr/eps into a random walk of the bias (and of its optimizer
        state). The walk shifts the layer's output and the running mean, and nothing else: the
        recorder records such a layer's output as x·W, without the bias (so it stays judged),
        and names the running mean here. The bias's gradient is judged (against its layer's)."""
        return tuple(name for a, b in self._inert_pairs
                     for name in (f"{a}.b", f"{b}.running_mean"))

    def masks(self) -> list:
        """The keep-masks the model's NumPy dropout layers drew in their last forward pass (the
        ``mask`` each keeps), in order: what to hand to the port's dropout."""
        return [np.array(layer.mask, copy=True) for name, layer in self.layers.items()
                if self._kind[name] == "dropout" and getattr(layer, "mask", None) is not None]

    def __repr__(self):
        side = "torch" if self.torch else "NumPy"
        return f"Recorder({side}: {', '.join(self.layers)})"


def _warn_if_twice(entries) -> None:
    """A layer that ran forward more than once since the last ``take()`` (an evaluation pass
    after the step, say) is recorded by its last pass only: said, not silently kept."""
    runs: dict = {}
    for key, _value in entries:
        if key.endswith(".out"):
            runs[key[:-4]] = runs.get(key[:-4], 0) + 1
    twice = {name: n for name, n in runs.items() if n > 1}
    if twice:
        warnings.warn(
            f"take(): {', '.join(f'{k} ran forward {n} times' for k, n in twice.items())} "
            "since the last take(); the values returned are the last pass's (an evaluation "
            "pass after the step replaces the training pass's) — take() after the pass you "
            "mean to compare", stacklevel=3)


def record(model, *, layers=None, names=None, layout=None) -> Recorder:
    """Attach a :class:`Recorder` to ``model`` (see the module docstring).

    ``model``: a torch ``nn.Module`` (its leaf modules are the layers) or a NumPy model with a
    ``layers`` list or dict (or pass ``layers=``: a list or dict of objects with ``forward`` and
    ``backward``). ``names``: ``{layer key: name}`` — the module's qualified name (``"fc1"``,
    ``"net.0"``) or the key/index in ``layers`` — to rename layers. ``layout``: ``{(kind,
    attribute): (name, "T" or None)}`` added to :data:`LAYOUT`.
    """
    return Recorder(model, layers=layers, names=names, layout=layout)


@contextlib.contextmanager
def draws():
    """Capture what code draws from NumPy's global random state (``np.random.rand``,
    ``random``, ``random_sample``, ``randn``, ``uniform``, ``choice``) while the block runs:
    the dropout masks of book-style code, to replay on the other side::

        with draws() as drawn:
            grads = book_net.gradient(x, t)      # its Dropout calls np.random.rand(*x.shape)
        masks = [d > 0.5 for d in drawn]         # the book's keep rule: rand > dropout_ratio

    The draws are the very numbers the code received (the global state advances as without the
    block)."""
    names = ("rand", "random", "random_sample", "randn", "uniform", "choice")
    drawn: list = []
    originals = {n: getattr(np.random, n) for n in names}

    def wrap(fn):
        def wrapped(*args, **kwargs):
            value = fn(*args, **kwargs)
            drawn.append(np.array(value, copy=True))
            return value
        return wrapped

    for n, fn in originals.items():
        setattr(np.random, n, wrap(fn))
    try:
        yield drawn
    finally:
        for n, fn in originals.items():
            setattr(np.random, n, fn)
