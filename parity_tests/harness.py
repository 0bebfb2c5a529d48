"""The helpers every parity test calls, and the record of the worst differences seen.

``check_parity(expected, actual, dtype=..., what=...)`` compares two results of the same case
(nested dicts/lists of NumPy arrays or tensors, on any device), raises ``AssertionError`` saying
where and by how much they differ when they disagree beyond the dtype's tolerance (docs/parity.md),
and records the worst relative difference under ``what`` for the end-of-session table.

Two helpers *run* both sides and then call it, so that a parity test is a strategy plus one call:

* :func:`run_layer_parity` — an npref layer and its torch twin on the same input: forward, the
  input gradient and every parameter gradient;
* :func:`run_update_parity` — an npref optimizer and a torch one fed the same gradient sequence:
  the parameter and every state buffer after each step.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from npref.testing import assert_close, tolerance_for

#: what -> {"max_rel_diff", "max_abs_diff", "tolerance", "cases"}; printed by conftest.
RECORD: dict[str, dict] = {}
#: what -> {"min_p": the smallest p-value seen, "alpha": the rejection level, "tests": count}.
KS_RECORD: dict[str, dict] = {}
_lock = threading.Lock()


def to_numpy(x):
    """Tensors (any device, with or without grad) to NumPy arrays, through nested containers."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    if isinstance(x, Mapping):
        return {k: to_numpy(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(to_numpy(v) for v in x)
    return x


def check_parity(expected, actual, *, dtype, what: str, names=("expected", "actual"),
                 floor: float = 1.0, tol: float | None = None, check_dtype: bool = True):
    """Assert that ``actual`` equals ``expected`` within the tolerance for ``dtype``."""
    tol = tolerance_for(dtype) if tol is None else tol
    result = assert_close(to_numpy(actual), to_numpy(expected), tol=tol, floor=floor,
                          check_dtype=check_dtype, names=(names[1], names[0]), what=what)
    key = f"{what} [{_dtype_name(dtype)}]"
    with _lock:
        row = RECORD.setdefault(key, {"max_rel_diff": 0.0, "max_abs_diff": 0.0,
                                      "tolerance": tol, "cases": 0})
        row["max_rel_diff"] = max(row["max_rel_diff"], result.max_rel_diff)
        row["max_abs_diff"] = max(row["max_abs_diff"], result.max_abs_diff)
        row["cases"] += 1
    return result


def record_ks(what: str, p: float, alpha: float) -> None:
    """Keep the smallest Kolmogorov–Smirnov p-value seen under ``what``."""
    with _lock:
        row = KS_RECORD.setdefault(what, {"min_p": 1.0, "alpha": alpha, "tests": 0})
        row["min_p"] = min(row["min_p"], p)
        row["tests"] += 1


def _dtype_name(dtype) -> str:
    return str(dtype).replace("torch.", "") if isinstance(dtype, torch.dtype) else np.dtype(dtype).name


def torch_dtype(dtype) -> torch.dtype:
    return {np.dtype("float64"): torch.float64, np.dtype("float32"): torch.float32}[np.dtype(dtype)]


def tensor(a, device, grad: bool = False) -> torch.Tensor:
    """A NumPy array as a tensor on ``device`` (a leaf that records its gradient with ``grad``)."""
    return torch.tensor(a, device=device, requires_grad=grad)


# -- layers ---------------------------------------------------------------------------------------

def run_layer_parity(layer, theirs, x, dout=None, *, device, dtype, what: str, target=None,
                     train: bool | None = None, grads: Mapping[str, str] | None = None,
                     module=None, floor="norm", tol: float | None = None,
                     names=("torch", "npref")) -> dict:
    """Run an npref layer and its torch twin on the same input; compare forward and gradients.

    npref: ``out = layer.forward(x)`` (``forward(x, train=train)`` when ``train`` is given), then
    ``dx = layer.backward(dout)``. A loss layer is given ``target``: ``loss = forward(x, target)``,
    ``dx = backward()``. Each parameter gradient is the attribute named by a key of ``grads``.

    torch: ``theirs`` — an ``nn.Module`` or a function of the input tensor (and of the target
    tensor) — runs on the same ``x`` as a leaf tensor, and autograd takes ``backward(dout)``
    (a loss: ``backward()``). ``grads`` names the parameter of ``module`` (``theirs`` by default)
    that holds each npref gradient's twin: ``{"dW": "weight.T", "db": "bias"}``, where ``.T``
    says that PyTorch stores it transposed. Parameter gradients are cleared first, so one module
    can be run step after step. npref runs first: ``theirs`` may read what the layer drew (a
    dropout mask).

    Compared under ``what``, as one dict: ``out`` (or ``loss``), ``dx`` and each key of
    ``grads``. ``floor`` is :func:`check_parity`'s, or a function of npref's results returning
    one (a loss as npref returned it, a Python float; it is compared in ``dtype``). Returns npref's
    results.
    """
    grads = dict(grads or {})
    module = theirs if module is None else module
    kw = {} if train is None else {"train": train}
    if target is None:
        ours = {"out": layer.forward(x, **kw), "dx": layer.backward(dout)}
    else:
        ours = {"loss": layer.forward(x, target, **kw), "dx": layer.backward()}
    ours.update({key: getattr(layer, key) for key in grads})

    if isinstance(module, torch.nn.Module):
        if train is not None:
            module.train(train)
        for p in module.parameters():
            p.grad = None
    xt = tensor(x, device, grad=True)
    if target is None:
        out_t = theirs(xt)
        out_t.backward(tensor(dout, device))
        results = {"out": out_t}
    else:
        out_t = theirs(xt, tensor(target, device))
        out_t.backward()
        results = {"loss": out_t}
    results["dx"] = xt.grad
    for key, path in grads.items():
        name, transposed = (path[:-2], True) if path.endswith(".T") else (path, False)
        grad = module.get_parameter(name).grad
        results[key] = grad.T if transposed else grad

    floor = floor(ours) if callable(floor) else floor
    compared = ours if target is None else {**ours, "loss": np.asarray(ours["loss"], dtype)}
    check_parity(results, compared, dtype=dtype, floor=floor, tol=tol, what=what, names=names)
    return ours


# -- update rules ---------------------------------------------------------------------------------

def npref_trajectory(optimizer, p0, grads, start_from=None) -> dict:
    """Feed ``grads`` to an npref optimizer from ``p0``: {"p": the parameter before and after
    each step, buffer: the state after each step}, stacked along axis 0.

    With ``start_from`` (a reference trajectory in npref's names) every step starts from the
    reference's parameter and state, so that the step alone is compared.
    """
    params = {"p": p0.copy()}
    steps = []
    for t, g in enumerate(grads):
        if start_from is not None and t > 0:
            params["p"][...] = start_from["p"][t]
            for buffer, value in optimizer.state["p"].items():
                if buffer == "step":
                    continue
                if isinstance(value, np.ndarray):
                    value[...] = start_from[buffer][t - 1]
                else:                              # a scalar (NAdam's mu_product, ASGD's eta)
                    optimizer.state["p"][buffer] = float(start_from[buffer][t - 1])
        optimizer.update(params, {"p": g})
        assert params["p"].dtype == p0.dtype
        state = {k: np.array(v, copy=True) for k, v in optimizer.state["p"].items()
                 if k != "step"}
        steps.append({"p": params["p"].copy(), **state})
    traj = {k: np.stack([s[k] for s in steps]) for k in steps[0]}
    traj["p"] = np.concatenate([p0[None], traj["p"]])
    return traj


def torch_trajectory(make_optimizer, p0, grads, device) -> dict:
    """The same for the torch optimizer ``make_optimizer([p])``, on ``device``, as NumPy."""
    p = torch.tensor(p0, device=device, requires_grad=True)
    opt = make_optimizer([p])
    steps = []
    for g in grads:
        p.grad = torch.tensor(g, device=device)
        opt.step()
        # A scalar is compared as a number: PyTorch keeps some in float32 tensors, npref keeps
        # the same float32 value in a Python float.
        state = {k: v.clone() if v.dim() else v.detach().to("cpu", torch.float64)
                 for k, v in opt.state[p].items() if isinstance(v, torch.Tensor) and k != "step"}
        steps.append({"p": p.detach().clone(), **state})
    traj = {k: torch.stack([s[k].to(s["p"].device) for s in steps]) for k in steps[0]}
    traj["p"] = torch.cat([torch.tensor(p0, device=device)[None], traj["p"]])
    return to_numpy(traj)


def check_trajectory(expected, actual, *, dtype, what: str, names, floor) -> None:
    """Two trajectories with the same buffers: the parameter with ``floor``, the state buffers
    each against its largest value (``floor="norm"``) under ``what (state)``. ``floor`` may be a
    dict ``{"p": floor, buffer: floor, …}`` for buffers that need their own (a rule that divides
    by a cancelled root carries it into its state)."""
    assert set(expected) == set(actual), f"{what}: state {sorted(expected)} vs {sorted(actual)}"
    own = dict(floor) if isinstance(floor, Mapping) else {"p": floor}
    check_parity(expected["p"], actual["p"], dtype=dtype, floor=own.pop("p"), what=what,
                 names=names)
    for buffer, buffer_floor in own.items():
        check_parity(expected[buffer], actual[buffer], dtype=dtype, floor=buffer_floor,
                     what=f"{what} (state)", names=names)
    buffers = sorted(set(expected) - {"p"} - set(own))
    if buffers:
        check_parity({k: expected[k] for k in buffers}, {k: actual[k] for k in buffers},
                     dtype=dtype, floor="norm", what=f"{what} (state)", names=names)


@dataclass(frozen=True)
class UpdateRun:
    """What :func:`run_update_parity` ran: the reference's trajectory in its own buffer names
    and in npref's, npref's trajectory, and the floor the parameter was judged with."""

    reference: dict
    expected: dict
    npref: dict
    floor: object


def run_update_parity(optimizer, reference: Callable, p0, grads, *, device, dtype, what: str,
                      names, state: Mapping | None = None, floor="norm",
                      stepwise: bool = False) -> UpdateRun:
    """Feed one gradient sequence to an npref optimizer and to a torch one; compare every step.

    ``optimizer`` is a fresh npref optimizer; ``reference(params)`` builds the torch one. Both
    start from ``p0`` and take ``grads`` in turn. The parameter after each step is compared
    with ``floor`` (:func:`check_parity`'s, or a function of the reference's trajectory in
    npref's names returning one), each state buffer against its largest value.

    ``state`` names the reference's buffers in npref's terms, ``{npref buffer: torch buffer}``,
    or ``{npref buffer: (torch buffer, factor)}`` where npref stores the factor times torch's
    (the book's velocity is −lr·buf); ``None``: the reference's names. It must name every npref
    buffer and every buffer the reference keeps; one the reference does not keep (SGD's momentum
    buffer at μ = 0) leaves its npref twin uncompared.

    ``stepwise``: every npref step starts from the reference's parameter and state, so that the
    step alone is compared (where the iteration itself would amplify a rounding difference).
    """
    theirs = torch_trajectory(reference, p0, grads, device)
    kept = set(theirs) - {"p"}
    state = {b: b for b in kept} if state is None else state
    mapped = {b: spec if isinstance(spec, tuple) else (spec, None) for b, spec in state.items()}
    unnamed = kept - {name for name, _ in mapped.values()}
    assert not unnamed, f"{what}: the reference keeps buffers {sorted(unnamed)} the map omits"
    expected = {"p": theirs["p"]}
    for buffer, (name, factor) in mapped.items():
        if name in kept:
            expected[buffer] = theirs[name] if factor is None else factor * theirs[name]
    ours = npref_trajectory(optimizer, p0, grads, start_from=expected if stepwise else None)
    assert set(ours) == {"p", *state}, f"{what}: npref keeps {sorted(ours)}, map {sorted(state)}"
    ours = {k: ours[k] for k in expected}
    floor = floor(expected) if callable(floor) else floor
    check_trajectory(expected, ours, dtype=dtype, what=what, names=names, floor=floor)
    return UpdateRun(theirs, expected, ours, floor)
