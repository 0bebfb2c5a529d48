"""Devices: one place resolves and checks them, every path follows the parameters' device, and a
CUDA run cannot pass by skipping.

Tests taking the ``device`` fixture run on the CPU and again on CUDA (marked ``cuda``). The rest
run on the CPU alone and catch device mixing without a GPU: PyTorch's ``meta`` device refuses to
mix with the CPU as CUDA does, and :class:`OneDevice` — a ``TorchFunctionMode`` — records every op
whose tensors lie on more than one device (stricter than CUDA: a CPU index tensor into a GPU
tensor is an implicit copy each step) while it answers ``.item()`` and ``bool()`` on meta tensors
with placeholders, so a whole training run goes through on ``meta``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode

import npref.training as T
import torchref.init as TI
import torchref.layers as TL
import torchref.optim
import torchref.training as TT
from npref.guard import NonFiniteError
from npref.nets import MultiLayerNet
from parity_tests.conftest import cuda_asked
from torchref.device import cuda_absent, describe, float32_matmul_state, full_float32, resolve
from torchref.nets import MultiLayerNet as TorchNet

ROOT = Path(__file__).resolve().parents[1]
META = torch.device("meta")
ARCH = dict(input_size=6, hidden_sizes=[8, 5], output_size=3, use_batchnorm=True, dropout=0.3)


def blobs(rng, n=40, d=6, k=3):
    t = rng.integers(0, k, n)
    return rng.standard_normal((n, d)) + t[:, None], t


class OneDevice(TorchFunctionMode):
    """Records ``(op, devices)`` for every op whose tensor arguments lie on more than one device
    (0-dim CPU tensors excepted: PyTorch lets those meet any device, and ``torch.optim`` keeps
    its step counts so); answers ``.item()``/``bool()`` on meta tensors with 0.0/True."""

    def __init__(self):
        super().__init__()
        self.mixed = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        tensors = [a for a in _flatten((args, kwargs)) if isinstance(a, torch.Tensor)]
        devices = {t.device for t in tensors if not (t.device.type == "cpu" and t.dim() == 0)}
        if len(devices) > 1:
            self.mixed.append((getattr(func, "__name__", repr(func)), sorted(map(str, devices))))
        if tensors and tensors[0].is_meta and func in (torch.Tensor.item, torch.Tensor.__bool__):
            return 0.0 if func is torch.Tensor.item else True
        return func(*args, **kwargs)


def _flatten(value):
    if isinstance(value, (list, tuple)):
        for v in value:
            yield from _flatten(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _flatten(v)
    else:
        yield value


# -- a CUDA run cannot pass by skipping -----------------------------------------------------------

@pytest.mark.parametrize("markexpr, asked", [
    ("cuda", True), ("cuda and not slow", True), ("cuda or slow", True), ("(cuda)", True),
    ("not cuda", False), ("slow", False), ("not slow", False), ("", False), (None, False),
    ("cuda and", False)])                  # malformed: pytest itself reports it
def test_which_runs_ask_for_cuda(markexpr, asked):
    assert cuda_asked(markexpr, environ={}) is asked
    assert cuda_asked(markexpr, environ={"NPREF_REQUIRE_CUDA": "1"}) is True


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present: the CUDA tests run")
@pytest.mark.parametrize("args, env", [(["parity_tests", "-m", "cuda"], {}),
                                       (["parity_tests/test_device.py", "-k", "which_runs"],
                                        {"NPREF_REQUIRE_CUDA": "1"})])
def test_a_cuda_run_without_cuda_fails_in_one_line(args, env):
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "NPREF_REQUIRE_CUDA": "", **env})
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode not in (0, 5), lines
    assert len(lines) == 1, lines
    assert lines[0].startswith("ERROR: CUDA tests were asked for")
    assert f"torch.version.cuda = {torch.version.cuda}" in lines[0]
    assert "pip install" in lines[0] and "torch==2.13.0" in lines[0]


# -- one place resolves and checks devices --------------------------------------------------------

def test_auto_and_names_resolve_in_one_place():
    here = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve("auto") == here and resolve("cpu") == torch.device("cpu")
    assert resolve(META) == META
    # Every device= of torchref takes "auto" (layers and init used to raise PyTorch's own error).
    assert TI.he_normal((3, 2), np.random.default_rng(0), device="auto").device.type == here.type
    assert TL.BatchNorm(4, device="auto").weight.device.type == here.type
    assert TL.BatchNorm(4, convention="book", device="auto").running_var.device.type == here.type
    assert TorchNet(3, [4], 2, device="auto").device.type == here.type
    for bad in ("gpu", "CUDA", "cuda:x", 0, None):
        with pytest.raises(ValueError, match="device must be one of 'auto', 'cpu', 'cuda', "
                                             "'cuda:N' or a torch.device"):
            resolve(bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a torch without CUDA")
@pytest.mark.parametrize("make", [
    lambda d: resolve(d), lambda d: TI.he_normal((3, 2), device=d),
    lambda d: TL.BatchNorm(3, device=d), lambda d: TorchNet(3, [4], 2, device=d),
    lambda d: TT.minibatches(10, 3, np.random.default_rng(0), device=d)])
@pytest.mark.parametrize("device", ["cuda", "cuda:0", torch.device("cuda", 1)])
def test_cuda_without_a_gpu_is_refused_early_naming_the_build(make, device):
    with pytest.raises(ValueError, match=r"was asked for, but this torch .* \(torch.version.cuda "
                                         r"= None\); install a CUDA build"):
        make(device)


def test_a_cuda_index_beyond_the_gpus_present_is_refused_early(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve("cuda:1") == torch.device("cuda", 1) and resolve("cuda") == torch.device("cuda")
    for device in ("cuda:2", torch.device("cuda", 7)):
        with pytest.raises(ValueError, match=r"PyTorch sees 2 CUDA devices \(cuda:0 … cuda:1\)"):
            resolve(device)
        with pytest.raises(ValueError, match="PyTorch sees 2 CUDA devices"):
            TI.he_normal((3, 2), device=device)


def test_the_cpu_build_message_names_the_build():
    if torch.cuda.is_available():
        assert cuda_absent() is None
    else:
        assert str(torch.version.cuda) in cuda_absent() and torch.__version__ in cuda_absent()


# -- initialization: drawn where the generator lives, the same on every device --------------------

@pytest.mark.parametrize("name", ["he_normal", "lecun_normal", "glorot_normal", "glorot_uniform",
                                  "he_uniform"])
def test_the_same_seed_gives_the_same_weights_on_every_device(name, device):
    draw = getattr(TI, name)
    here = draw((30, 20), np.random.default_rng(5), device="cpu")
    there = draw((30, 20), np.random.default_rng(5), device=device)
    assert there.device.type == device.type and torch.equal(there.cpu(), here)
    # A CPU torch.Generator serves a tensor on any device (PyTorch alone would refuse it).
    there = draw((30, 20), torch.Generator().manual_seed(2), device=device)
    assert torch.equal(there.cpu(), draw((30, 20), torch.Generator().manual_seed(2)))
    net = TorchNet(**ARCH, rng=np.random.default_rng(9), device=device)
    ref = TorchNet(**ARCH, rng=np.random.default_rng(9))
    assert all(torch.equal(net.params[k].cpu(), ref.params[k]) for k in ref.params)


def test_init_and_a_whole_net_build_on_meta():
    drawn = TI.glorot_uniform((4, 3), np.random.default_rng(0), device=META)
    assert drawn.is_meta and tuple(drawn.shape) == (4, 3)
    net = TorchNet(**ARCH, rng=np.random.default_rng(0), device=META)
    assert net.device == META and all(p.is_meta for p in net.parameters())


# -- the network follows its parameters -----------------------------------------------------------

def test_the_net_follows_to_meta_without_mixing():
    rng = np.random.default_rng(0)
    x, t = blobs(rng, 10)
    masks = [rng.random((10, h)) >= 0.3 for h in ARCH["hidden_sizes"]]
    net = TorchNet(**ARCH, rng=np.random.default_rng(1))
    assert net.device == torch.device("cpu")
    net.to(META)
    assert net.device == META
    with OneDevice() as guard:
        loss = net.loss(x, t, train=True, masks=masks)
        grads = net.gradient(x, t, masks=masks)
        net.predict(x)
        net.accuracy(x, t)
        net.load_params(MultiLayerNet(**ARCH, rng=np.random.default_rng(2)).params)
    assert loss.is_meta and all(g.is_meta for g in grads.values())
    assert guard.mixed == []
    net.to_empty(device="cpu")                 # back (meta holds no values to copy)
    net.load_params(MultiLayerNet(**ARCH, rng=np.random.default_rng(2)).params)
    assert net.device == torch.device("cpu") and net.loss(x, t, masks=masks).dim() == 0


def test_a_whole_training_run_on_meta_mixes_no_devices():
    """Batches, masks, targets, evaluation, watched weights, update ratios, early stopping and
    the finiteness check of ``torchref.training.train``, all on ``meta`` — under CUDA's rules."""
    rng = np.random.default_rng(0)
    x, t = blobs(rng, 40)
    xv, tv = blobs(rng, 12)
    data = T.Data(x, t, x_test=xv, t_test=tv, x_val=xv, t_val=tv)
    net = TorchNet(**ARCH, rng=np.random.default_rng(1)).to(META)
    schedule = T.Schedule(batch_size=8, epochs=3, early_stopping={"patience": 5},
                          watch=[("W1", (0, 0))], update_ratios=True)
    for name in ("adam", "momentum"):
        optimizer = torchref.optim.make(name, net.parameters())
        with OneDevice() as guard:
            history = TT.train(net, optimizer, data, schedule, rng=np.random.default_rng(2),
                               progress=False)
        assert len(history.loss) == 15 and guard.mixed == [], guard.mixed
    assert all(p.is_meta for p in net.parameters())


def test_the_guard_sees_mixing():
    cpu, meta = torch.ones(3), torch.ones(3, device=META)
    with OneDevice() as guard:
        meta[torch.tensor([0, 1])]                        # CUDA allows it; a copy each time
        meta * torch.tensor(2.0)                          # a 0-dim CPU tensor: allowed
        with pytest.raises((RuntimeError, NotImplementedError)):
            cpu + meta
    assert [op for op, _ in guard.mixed] == ["__getitem__", "add"]


# -- the CPU tests that matter, on every device ---------------------------------------------------

def test_a_non_finite_run_stops_on_every_device(device):
    x, t = blobs(np.random.default_rng(0), 32, 4, 3)
    net = TorchNet(4, [8], 3, rng=np.random.default_rng(0), device=device)
    with pytest.raises(NonFiniteError, match=r"training loss became non-finite at step \d+"):
        TT.train(net, torchref.optim.SGD(net.parameters(), lr=1e6), T.Data(x, t), batch_size=8,
                 epochs=50, rng=np.random.default_rng(1), progress=False)


def test_early_stopping_restores_a_module_on_its_device(device):
    net = TorchNet(**ARCH, rng=np.random.default_rng(0), device=device)
    best = {k: v.detach().clone() for k, v in net.state_dict().items()}
    stopper = TT.EarlyStopping(patience=1)
    stopper.step(1.0, net)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    assert stopper.step(2.0, net)
    stopper.restore(net)
    for key, value in net.state_dict().items():
        assert value.device.type == device.type and torch.equal(value, best[key]), key


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_parameters_round_trip_between_npref_and_any_device(device, dtype):
    ours = MultiLayerNet(**ARCH, rng=np.random.default_rng(3), dtype=dtype)
    theirs = TorchNet(**ARCH, dtype=dtype, device=device)
    theirs.load_params(ours.params)
    assert all(p.device.type == device.type for p in theirs.parameters())
    back = theirs.numpy_params()
    for key, value in ours.params.items():
        assert back[key].dtype == value.dtype and np.array_equal(back[key], value), key
    stats = {f"running_{k}{i}": np.full(h, float(i), dtype=dtype)
             for i, h in enumerate(ARCH["hidden_sizes"], 1) for k in ("mean", "var")}
    theirs.load_running_stats(stats)
    assert all(np.array_equal(v.cpu().numpy(), stats[k])
               for k, v in theirs.running_stats().items())


def test_the_torch_experiment_backend_on_a_short_run(device):
    from experiments import backends

    rng = np.random.default_rng(0)
    x, t = blobs(rng, 40)
    data = T.Data(x, t, x_test=x[:10], t_test=t[:10])
    # No BatchNorm here: the bias before it has a zero gradient up to rounding, which Adam
    # blows up to ±lr steps — a chaotic part, not a device question.
    plain = {**ARCH, "use_batchnorm": False}
    arch = {**plain, "activation": "relu", "weight_init": "he", "regularizer": None,
            "convention": "torch"}
    init = MultiLayerNet(**plain, rng=np.random.default_rng(1)).params
    schedule = T.Schedule(batch_size=8, epochs=2)
    runs = {name: backends.get(name, str(device)).train(
                arch, init, "adam", {"lr": 0.01}, data, schedule, dtype="float32", seed=3)
            for name in ("numpy", "torch")}
    (h_np, p_np), (h_t, p_t) = runs["numpy"], runs["torch"]
    assert len(h_t.loss) == len(h_np.loss) == 10
    np.testing.assert_allclose(h_t.loss, h_np.loss, rtol=1e-4)
    for key in p_np:
        assert p_t[key].dtype == np.float32
        np.testing.assert_allclose(p_t[key], p_np[key], rtol=1e-4, atol=1e-5)
    assert backends.get("torch", str(device)).device == describe(device)


# -- TF32 off for float32 work, and the process's settings back after -----------------------------

@pytest.mark.parametrize("outer", ["high", "medium", "highest"])
def test_full_float32_switches_tf32_off_and_restores(outer):
    torch.set_float32_matmul_precision(outer)
    try:
        before = float32_matmul_state()
        with full_float32():
            assert torch.get_float32_matmul_precision() == "highest"
            assert torch.backends.cuda.matmul.allow_tf32 is False
            assert torch.backends.cudnn.allow_tf32 is False
            assert float32_matmul_state()["cuda.matmul"] == "ieee"
        assert float32_matmul_state() == before
        assert torch.get_float32_matmul_precision() == outer
    finally:
        torch.set_float32_matmul_precision("highest")
        torch.backends.cudnn.allow_tf32 = False


def test_the_torch_backend_works_in_full_float32_whatever_the_process_set():
    from experiments import backends

    seen = []

    class Objective:
        @staticmethod
        def value(x):
            seen.append((torch.get_float32_matmul_precision(),
                         torch.backends.cuda.matmul.allow_tf32))
            return (x * x).sum()

    torch.set_float32_matmul_precision("high")
    try:
        backends.get("torch", "cpu").descend(Objective, {"x": 1.0}, "sgd", {"lr": 0.1}, 2,
                                             "float32")
        assert seen == [("highest", False)] * 2
        assert torch.get_float32_matmul_precision() == "high"
    finally:
        torch.set_float32_matmul_precision("highest")


def test_describe_states_the_precision_on_cuda(device):
    text = describe(device)
    if device.type == "cpu":
        assert text == "cpu"
    else:
        assert text.startswith("cuda:") and "TF32 off" in text


# -- refused flags are refused --------------------------------------------------------------------

@pytest.mark.parametrize("flag", ["fused", "foreach"])
def test_book_adam_refuses_a_fast_path_it_does_not_have(flag):
    params = [torch.zeros(2, requires_grad=True)]
    with pytest.raises(ValueError, match=f"{flag}=True is not available with convention='book'"):
        torchref.optim.Adam(params, convention="book", **{flag: True})
    for value in (None, False):
        assert isinstance(torchref.optim.Adam(params, convention="book", **{flag: value}),
                          torchref.optim.BookAdam)
