"""PyTorch's own optimizer test inputs, through npref and torchref.

PyTorch ships the configurations its own optimizer tests run with the wheel:
``torch.testing._internal.common_optimizers.optim_db`` — for each ``torch.optim`` class, an
``optim_inputs_func`` listing keyword sets (the default, a non-default lr, weight decay,
``maximize``, ``amsgrad``, ``centered``, a 0-d tensor lr …). Every one is run here through
``npref.optim.make(class name lower-cased, **kwargs)`` and ``torchref.optim.make`` against the
``torch.optim`` class itself, on the same gradients for 30 steps, float64 and float32, from the
same parameters (a matrix, a vector, a 3-D tensor, a 0-d scalar: Adafactor factors the first and
third). PyTorch's implementation flags (``foreach``, ``fused``, ``capturable``,
``differentiable``) choose how, not what, and are dropped.

Judged as docs/parity.md asks: the parameters and every state buffer, each against its own
largest magnitude (``floor="norm"``), within 1e-12 in float64 and 1e-5 in float32, over the whole
run — no step restarted from PyTorch's values. Skipped, by name and with the reason: only the
classes npref refuses by design (``npref.optim.REFUSED``: LBFGS, SparseAdam, Muon).

Importing ``optim_db`` needs the ``expecttest`` package (a dev dependency), and changes the
importing process (it forbids setting ``torch.backends`` flags, sets environment variables and
warning filters for PyTorch's own suite), so the inputs are read in a child process — 5 s here,
in every test process as it collects. For the PyTorch this project pins they are read from
``optim_db_inputs.json`` beside this file, written from that read (``python -m
parity_tests.test_optim_db``), and a test reads optim_db again and checks the file holds the same;
any other PyTorch is read live.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import npref.optim
import torchref.optim
from parity_tests.harness import check_parity, to_numpy

STEPS = 30
#: PyTorch's switches between implementations of one rule.
FLAGS = ("foreach", "fused", "capturable", "differentiable")
SHAPES = {"W": (6, 5), "b": (5,), "T": (2, 3, 4), "s": ()}
DTYPES = {np.float64: torch.float64, np.float32: torch.float32}


_READ = """
import pickle, sys, torch
from torch.testing._internal.common_optimizers import optim_db
out = {}
for dtype in (torch.float64, torch.float32):
    out[str(dtype)] = [(info.optim_cls.__name__, case.desc, case.kwargs)
                       for info in optim_db
                       for case in info.optim_inputs_func(device="cpu", dtype=dtype)]
sys.stdout.buffer.write(pickle.dumps(out))
"""


def read_inputs() -> dict:
    """{dtype name: [(class name, description, kwargs)]} for every input of optim_db, refused
    classes included, read in a child process."""
    done = subprocess.run([sys.executable, "-c", _READ], capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError("could not read torch's optim_db (pip install expecttest):\n"
                           + done.stderr.decode(errors="replace")[-2000:])
    return pickle.loads(done.stdout)


#: optim_db's inputs as read for one PyTorch version (its ``torch.__version__`` inside).
SNAPSHOT = Path(__file__).with_name("optim_db_inputs.json")


def _to_json(value):
    if isinstance(value, torch.Tensor):         # a 0-d tensor lr: its value and dtype
        return {"tensor": value.item(), "dtype": str(value.dtype).removeprefix("torch.")}
    if isinstance(value, tuple):
        return {"tuple": [_to_json(v) for v in value]}
    return value


def _from_json(value):
    if isinstance(value, dict) and "tensor" in value:
        return torch.tensor(value["tensor"], dtype=getattr(torch, value["dtype"]))
    if isinstance(value, dict) and "tuple" in value:
        return tuple(_from_json(v) for v in value["tuple"])
    return value


def snapshot(read: dict) -> dict:
    return {"torch": torch.__version__,
            "inputs": {dtype: [[name, desc, {k: _to_json(v) for k, v in kwargs.items()}]
                               for name, desc, kwargs in rows] for dtype, rows in read.items()}}


def inputs() -> dict:
    """optim_db's inputs: from the snapshot where it is this PyTorch's, else read live."""
    saved = json.loads(SNAPSHOT.read_text()) if SNAPSHOT.exists() else {}
    if saved.get("torch") != torch.__version__:
        return read_inputs()
    return {dtype: [(name, desc, {k: _from_json(v) for k, v in kwargs.items()})
                    for name, desc, kwargs in rows] for dtype, rows in saved["inputs"].items()}


CASES = [(f"{name}-{desc}".replace(" ", "_"), name,
          {k: v for k, v in kwargs.items() if k not in FLAGS}, np_dtype)
         for read in [inputs()]
         for np_dtype, torch_dtype in DTYPES.items()
         for name, desc, kwargs in read[str(torch_dtype)]]


def test_the_snapshot_is_what_optim_db_holds():
    """The snapshot the cases come from is this PyTorch's optim_db, read again now (where the
    snapshot is another PyTorch's, the cases were read live: nothing to compare)."""
    saved = json.loads(SNAPSHOT.read_text())
    if saved["torch"] != torch.__version__:
        pytest.skip(f"the snapshot is torch {saved['torch']}'s; this is {torch.__version__}: "
                    "the cases were read live")
    live = read_inputs()
    assert snapshot(live) == saved
    # and it reads back as the live read: 0-d tensor lrs, tuples and all
    back = inputs()
    assert [(n, d, sorted(k)) for n, d, k in live["torch.float64"]] == [
        (n, d, sorted(k)) for n, d, k in back["torch.float64"]]
    for (_, _, a), (_, _, b) in zip(live["torch.float32"], back["torch.float32"]):
        for key in a:
            assert type(a[key]) is type(b[key]), key
            if isinstance(a[key], torch.Tensor):
                assert a[key].dtype == b[key].dtype and a[key].item() == b[key].item()
            else:
                assert a[key] == b[key], key


if __name__ == "__main__":                      # write the snapshot for the installed PyTorch
    import tempfile

    saved = snapshot(read_inputs())             # one input a line
    text = "{" + f'"torch": {json.dumps(saved["torch"])}, "inputs": {{\n' + ",\n".join(
        f"{json.dumps(dtype)}: [\n" + ",\n".join(json.dumps(row) for row in rows) + "]"
        for dtype, rows in saved["inputs"].items()) + "}}\n"
    with tempfile.NamedTemporaryFile("w", dir=SNAPSHOT.parent, delete=False) as f:
        f.write(text)
    Path(f.name).replace(SNAPSHOT)
    print(f"wrote {SNAPSHOT} (torch {torch.__version__})")


def _case(dtype, seed=20261206):
    rng = np.random.default_rng(seed)
    p0 = {k: rng.standard_normal(shape).astype(dtype) for k, shape in SHAPES.items()}
    grads = [{k: rng.standard_normal(shape).astype(dtype) for k, shape in SHAPES.items()}
             for _ in range(STEPS)]
    return p0, grads


def _npref_run(opt, p0, grads):
    """Every step's parameters, and every step's state (npref's names)."""
    params = {k: v.copy() for k, v in p0.items()}
    steps, states = [], []
    for g in grads:
        opt.update(params, g)
        steps.append({k: v.copy() for k, v in params.items()})
        states.append({k: {b: np.array(v, dtype=np.float64 if np.ndim(v) == 0 else None)
                           for b, v in s.items() if b != "step"} for k, s in opt.state.items()})
    return steps, _stacked(states)


def _torch_run(make, p0, grads, opt_np=None):
    """The same for a torch optimizer; its state in npref's names and scale (``opt_np``'s
    buffers: the book's velocity is −lr times PyTorch's buffer)."""
    params = {k: torch.tensor(v, requires_grad=True) for k, v in p0.items()}
    opt = make(list(params.values()))
    steps, states = [], []
    for g in grads:
        for k, p in params.items():
            p.grad = torch.tensor(g[k])
        opt.step()
        steps.append({k: to_numpy(p).copy() for k, p in params.items()})
        if opt_np is not None:
            states.append({k: _in_npref_terms(opt_np, opt.state[p]) for k, p in params.items()})
    return steps, (_stacked(states) if states else None)


def _in_npref_terms(opt_np, buffers):
    mine = {}
    for buffer in opt_np.state_buffers:
        value = buffers.get(buffer.torch_name)
        if value is None:                          # a buffer this parameter does not have
            continue
        value = to_numpy(value).copy()
        if value.ndim == 0:                        # a scalar PyTorch keeps in a float32 tensor
            value = value.astype(np.float64)
        mine[buffer.name] = value * (buffer.scale(opt_np) if buffer.scale else 1.0)
    return mine


def _stacked(states):
    """Per parameter and buffer, the values of every step stacked: each buffer is judged against
    the largest magnitude it held (a running mean of gradients of both signs cancels)."""
    return {k: {b: np.stack([s[k][b] for s in states]) for b in states[0][k]} for k in states[0]}


@pytest.mark.parametrize("case_id,name,kwargs,dtype", CASES,
                         ids=[f"{c[0]}-{np.dtype(c[3]).name}" for c in CASES])
def test_pytorchs_own_inputs(case_id, name, kwargs, dtype):
    key = name.lower()
    if key in npref.optim.REFUSED:
        pytest.skip(f"refused by design: {npref.optim.REFUSED[key]}")
    p0, grads = _case(dtype)
    opt = npref.optim.make(key, **kwargs)
    ours, state = _npref_run(opt, p0, grads)
    theirs, expected = _torch_run(lambda ps: getattr(torch.optim, name)(ps, **kwargs), p0, grads,
                                  opt_np=opt)
    mirror, _ = _torch_run(lambda ps: torchref.optim.make(key, ps, **kwargs), p0, grads)
    what = f"optim_db {case_id}"
    check_parity(theirs, ours, dtype=dtype, floor="norm", what=what,
                 names=(f"torch.optim.{name}", "npref"))
    assert {k: set(v) for k, v in expected.items()} == {k: set(v) for k, v in state.items()}
    check_parity(expected, state, dtype=dtype, floor="norm", what=f"{what} (state)",
                 names=(f"torch.optim.{name}", "npref"), check_dtype=False)
    check_parity(theirs, mirror, dtype=dtype, floor="norm", what=f"{what} torchref",
                 names=(f"torch.optim.{name}", "torchref"))


def test_the_table_is_pytorchs_whole_list():
    """75 inputs outside the refused classes in torch 2.13's optim_db, every class covered."""
    classes = {name.lower() for _, name, _, _ in CASES}
    assert classes - set(npref.optim.REFUSED) <= set(npref.optim.NAMES)
    covered = [c for c in CASES if c[1].lower() not in npref.optim.REFUSED and c[3] is np.float64]
    assert len(covered) >= 75, len(covered)


#: PyTorch's inputs with one option each, and that option left out on npref's side: the
#: comparison above must tell them apart (a test that cannot fail proves nothing).
DROPPED = [("Adam", {"weight_decay": 0.1, "amsgrad": True}, "amsgrad"),
           ("RMSprop", {"weight_decay": 0.1, "centered": True}, "centered"),
           ("RMSprop", {"momentum": 0.1}, "momentum"),
           ("SGD", {"momentum": 0.9, "dampening": 0.5}, "dampening"),
           ("Adagrad", {"lr": 0.1, "lr_decay": 0.5}, "lr_decay"),
           ("Adagrad", {"initial_accumulator_value": 0.1}, "initial_accumulator_value"),
           ("Adamax", {"maximize": True}, "maximize")]


@pytest.mark.parametrize("name,kwargs,dropped", DROPPED, ids=[f"{n}-{d}" for n, _, d in DROPPED])
def test_an_option_left_out_is_caught(name, kwargs, dropped):
    p0, grads = _case(np.float64)
    theirs, _ = _torch_run(lambda ps: getattr(torch.optim, name)(ps, **kwargs), p0, grads)
    without = {k: v for k, v in kwargs.items() if k != dropped}
    ours, _ = _npref_run(npref.optim.make(name.lower(), **without), p0, grads)
    with pytest.raises(AssertionError, match="max relative difference"):
        check_parity(theirs, ours, dtype=np.float64, floor="norm", what=f"{name} without {dropped}")
