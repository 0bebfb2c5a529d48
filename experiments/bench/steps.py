"""The bench's worker: configurations timed in a process that stays up for the whole run.

``python -m experiments.bench.steps`` reads one request a line on stdin — ``{"config": {...},
"warmup": W, "blocks": B, "steps": S}`` — and answers each with one JSON line on stdout. The parent
(:mod:`experiments.bench`) keeps one such process per implementation (npref's never imports torch)
and asks them in turn, so no two BLAS thread pools ever compete and no round pays for starting
Python and importing torch again. A configuration's network is built once per process and
reused from round to round; each request warms it up again before timing.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

#: The book's MLP, 784-[100×4]-10.
SIZES = [784, 100, 100, 100, 100, 10]


def _step_npref(batch, dtype):
    import npref.optim
    from npref.nets import MultiLayerNet

    net = MultiLayerNet(784, SIZES[1:-1], 10, rng=np.random.default_rng(0), dtype=dtype)
    opt = npref.optim.Adam(lr=1e-3)
    rng = np.random.default_rng(1)
    x, t = rng.random((batch, 784)).astype(dtype), rng.integers(0, 10, batch)

    def step():
        opt.update(net.params, net.gradient(x, t))
    return step, lambda: None


def _step_torch(impl, batch, dtype, device):
    import torch

    import torchref.optim
    from npref.nets import MultiLayerNet as NumpyNet
    from torchref.nets import MultiLayerNet

    dt = getattr(torch, dtype)
    dev = torch.device(device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    g = torch.Generator().manual_seed(1)
    x = torch.rand(batch, 784, dtype=dt, generator=g).to(dev)
    t = torch.randint(0, 10, (batch,), generator=g).to(dev)
    if impl == "torchref":
        net = MultiLayerNet(784, SIZES[1:-1], 10, dtype=dt, device=dev)
        net.load_params(NumpyNet(784, SIZES[1:-1], 10, rng=np.random.default_rng(0)).params)
        opt = torchref.optim.Adam(net.parameters(), lr=1e-3, fused=True)

        def step():
            opt.zero_grad(set_to_none=True)
            net.loss(x, t).backward()
            opt.step()
        return step, sync
    layers = []
    for i in range(len(SIZES) - 1):
        layers.append(torch.nn.Linear(SIZES[i], SIZES[i + 1], dtype=dt, device=dev))
        if i < len(SIZES) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3,
                           **({"fused": True} if impl == "pytorch-fused" else {}))
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), t).backward()
        opt.step()
    return step, sync


def _step_products(lib, batch, dtype, device="cpu"):
    """The step's own matrix products alone — the physical limit of a step, which no
    implementation can go below: per layer the forward product (batch × fan_in by fan_in ×
    fan_out), the weight gradient's (fan_in × batch by batch × fan_out) and, but for the first
    layer (whose input needs no gradient), the input gradient's (batch × fan_out by fan_out ×
    fan_in). In NumPy (``lib="numpy"``, npref's limit) or PyTorch (``"torch"``), the operands
    drawn once; their values do not change the time."""
    rng = np.random.default_rng(2)
    pairs = list(zip(SIZES, SIZES[1:]))
    inputs = [rng.random((batch, a)).astype(dtype) for a, _ in pairs]
    grads = [rng.random((batch, b)).astype(dtype) for _, b in pairs]
    weights = [rng.random((a, b)).astype(dtype) for a, b in pairs]
    sync = lambda: None                                            # noqa: E731
    if lib == "torch":
        import torch
        on = [[torch.from_numpy(a).to(device) for a in arrays]
              for arrays in (inputs, grads, weights)]
        inputs, grads, weights = on
        if torch.device(device).type == "cuda":
            sync = torch.cuda.synchronize

    def products():
        for x, W in zip(inputs, weights):
            x @ W
        for x, g in zip(inputs, grads):
            x.T @ g
        for g, W in zip(grads[1:], weights[1:]):
            g @ W.T
    return products, sync


#: Products of each GEMM library per round: their median is the round's figure.
GEMM_REPS = 2
#: The GEMM's matrices: GEMM_SIZE × GEMM_SIZE float32 (``bench --gemm-size``).
GEMM_SIZE = 4096

_WARM: set = set()      # the products already run once in this process (not timed)
_MATRIX: dict = {}      # the n×n operand, drawn once per process


def _gemm(device="cpu", n=GEMM_SIZE, reps=GEMM_REPS):
    """float32 GEMM throughput (GFLOP/s) of an n×n product, from the median of ``reps`` timed
    products (a step's time is a median too): NumPy's and PyTorch's on the CPU, PyTorch's on
    CUDA — there synchronised before and after each timed product, and timed over more
    repetitions (one product takes milliseconds). Each is run once untimed the first time only."""
    import torch

    if n not in _MATRIX:                   # drawing 16M normals takes longer than a product
        _MATRIX[n] = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    a = _MATRIX[n]
    if device == "cpu":
        products = {"numpy": (lambda: a @ a, lambda: None),
                    "torch": (lambda ta=torch.from_numpy(a): ta @ ta, lambda: None)}
    else:
        ta = torch.from_numpy(a).to(device)
        products = {"torch cuda": (lambda: ta @ ta, torch.cuda.synchronize)}
        reps *= 5
    rate = {}
    for name, (product, sync) in products.items():
        if (device, name) not in _WARM:
            product()
            sync()
            _WARM.add((device, name))
        times = []
        for _ in range(reps):
            start = time.perf_counter()
            product()
            sync()
            times.append(time.perf_counter() - start)
        rate[name] = 2 * n ** 3 / float(np.median(times)) / 1e9
    return rate


def worker(config: dict, warmup: int, blocks: int, steps: int) -> dict:
    """Time one configuration: seconds per step, one value per block. PyTorch's float32 matrix
    products run in true float32 (TF32 off: :func:`torchref.device.full_float32`), as in the
    parity suite and the experiments."""
    if config["impl"] == "npref" or config.get("lib") == "numpy":      # never imports torch
        return _time(config, warmup, blocks, steps)
    from torchref.device import full_float32
    with full_float32():
        if config["impl"] == "gemm":
            return {"gflops": _gemm(config.get("device", "cpu"), n=config.get("n", GEMM_SIZE),
                                    reps=config.get("reps", GEMM_REPS))}
        return _time(config, warmup, blocks, steps)


_BUILT: dict = {}       # a configuration's (step, sync), built once per process


def _time(config: dict, warmup: int, blocks: int, steps: int) -> dict:
    key = json.dumps(config, sort_keys=True)
    if key not in _BUILT:
        if config["impl"] == "products":
            _BUILT[key] = _step_products(config["lib"], config["batch"],
                                         np.dtype(config["dtype"]), config["device"])
        elif config["impl"] == "npref":
            _BUILT[key] = _step_npref(config["batch"], np.dtype(config["dtype"]))
        else:
            _BUILT[key] = _step_torch(config["impl"], config["batch"], config["dtype"],
                                      config["device"])
    step, sync = _BUILT[key]
    for _ in range(warmup):
        step()
    sync()
    per_step = []
    for _ in range(blocks):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        sync()
        per_step.append((time.perf_counter() - start) / steps)
    return {"seconds_per_step": per_step}


def serve(requests=sys.stdin, answers=sys.stdout) -> None:
    """Answer timing requests, one JSON line each, until stdin closes."""
    for line in requests:
        if not line.strip():
            continue
        r = json.loads(line)
        answers.write(json.dumps(worker(r["config"], r["warmup"], r["blocks"], r["steps"]))
                      + "\n")
        answers.flush()


if __name__ == "__main__":
    serve()

