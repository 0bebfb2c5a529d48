"""``python -m experiments bench``: one training step of the book's MLP, measured honestly.

The step — forward, backward, optimizer update — of the 784-[100×4]-10 ReLU network with softmax
cross-entropy and Adam (lr 1e-3), at batch 128 and 1024, float32 and float64, for

* ``npref``        — :class:`npref.nets.MultiLayerNet` and :class:`npref.optim.Adam`;
* ``torchref``     — :class:`torchref.nets.MultiLayerNet` and ``torchref.optim.Adam(fused=True)``
                     (PyTorch's single-kernel Adam: the parity suite checks it against npref);
* ``pytorch``      — the baseline: a plain PyTorch eager loop written here (``nn.Sequential``,
                     ``nn.CrossEntropyLoss``, ``torch.optim.Adam`` with its defaults), what a user
                     would otherwise run;
* ``pytorch-fused``— the same loop with ``torch.optim.Adam(fused=True)``, for reference;

on the CPU, and on CUDA where a GPU is present (batch 1024 and 8192 there). Next to them the
machine's float32 GEMM throughput: the faster of NumPy's and PyTorch's product of two 4096×4096
matrices (the median over the rounds, as the step times are medians). A step counts 6 × parameters × batch floating-point operations (2 forward, 4 backward).

Every configuration runs in a process of its own — so no two BLAS thread pools ever compete —
and the configurations take turns, round after round (reversed every other round); each process
warms up, then times blocks of steps. Reported: the median over all blocks of all rounds, and the
spread of the per-round medians. Inputs are random (the time of a step does not depend on them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from experiments.io import write_json, write_text

SIZES = [784, 100, 100, 100, 100, 10]
PARAMS = sum(SIZES[i] * SIZES[i + 1] + SIZES[i + 1] for i in range(len(SIZES) - 1))
IMPLS = ("npref", "torchref", "pytorch", "pytorch-fused")


def configs(device_kinds=("cpu",), batches=(128, 1024), dtypes=("float32", "float64")):
    out = [{"impl": "gemm"}]
    for device in device_kinds:
        for batch in (batches if device == "cpu" else (1024, 8192)):
            for dtype in (dtypes if device == "cpu" else ("float32",)):
                for impl in IMPLS:
                    if impl == "npref" and device != "cpu":
                        continue
                    out.append({"impl": impl, "batch": batch, "dtype": dtype, "device": device})
    return out


def label(c: dict) -> str:
    if c["impl"] == "gemm":
        return "GEMM float32 4096²"
    return f"{c['impl']} {c['device']} batch {c['batch']} {c['dtype']}"


# -- the worker: one configuration, in its own process --------------------------------------------

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


def _gemm(n=4096, reps=4):
    import torch

    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    best = {}
    for name, product in (("numpy", lambda: a @ a),
                          ("torch", lambda ta=torch.from_numpy(a): ta @ ta)):
        product()
        times = []
        for _ in range(reps):
            start = time.perf_counter()
            product()
            times.append(time.perf_counter() - start)
        best[name] = 2 * n ** 3 / min(times) / 1e9
    return best


def worker(config: dict, warmup: int, blocks: int, steps: int) -> dict:
    """Time one configuration: seconds per step, one value per block."""
    if config["impl"] == "gemm":
        return {"gflops": _gemm()}
    if config["impl"] == "npref":
        step, sync = _step_npref(config["batch"], np.dtype(config["dtype"]))
    else:
        step, sync = _step_torch(config["impl"], config["batch"], config["dtype"],
                                 config["device"])
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


# -- the parent: rounds of processes, then the summary --------------------------------------------

def run(*, out="results", rounds=5, warmup=10, blocks=5, steps=20, batches=(128, 1024),
        dtypes=("float32", "float64"), log=print) -> dict:
    """Measure every configuration; write ``OUT/bench/bench.json``."""
    try:
        import torch
        cuda = torch.cuda.is_available()
        threads = torch.get_num_threads()
    except ImportError:
        cuda, threads = False, None
    todo = configs(("cpu", "cuda") if cuda else ("cpu",), tuple(batches), tuple(dtypes))
    raw = {label(c): [] for c in todo}
    root = Path(__file__).resolve().parent.parent
    for r in range(rounds):
        order = todo if r % 2 == 0 else todo[::-1]
        for i, c in enumerate(order, 1):
            log(f"bench: round {r + 1}/{rounds}, {i}/{len(order)}: {label(c)}")
            done = subprocess.run(
                [sys.executable, "-m", "experiments.bench", json.dumps(c), str(warmup),
                 str(blocks), str(steps)], capture_output=True, text=True, cwd=root,
                env={**os.environ, "PYTHONPATH": str(root)})
            if done.returncode != 0:
                raise RuntimeError(f"bench worker for {label(c)} failed:\n{done.stderr}")
            raw[label(c)].append(json.loads(done.stdout.strip().splitlines()[-1]))
    result = summarize(todo, raw)
    result.update({"rounds": rounds, "warmup": warmup, "blocks": blocks, "steps": steps,
                   "params": PARAMS, "torch_threads": threads, "cpu_count": os.cpu_count(),
                   "raw": raw})
    folder = Path(out) / "bench"
    write_json(folder / "bench.json", result)
    result["figure"] = plot(result, folder)
    write_json(folder / "bench.json", result)
    return result


def summarize(todo, raw) -> dict:
    gemm = raw[label({"impl": "gemm"})]
    # Typical against typical: the median step against the median GEMM of the same rounds.
    gemm_by = {k: float(np.median([r["gflops"][k] for r in gemm])) for k in gemm[0]["gflops"]}
    machine = max(gemm_by.values())
    rows = []
    for c in todo:
        if c["impl"] == "gemm":
            continue
        runs = raw[label(c)]
        blocks = [s for r in runs for s in r["seconds_per_step"]]
        medians = [float(np.median(r["seconds_per_step"])) for r in runs]
        seconds = float(np.median(blocks))
        gflops = 6 * PARAMS * c["batch"] / seconds / 1e9
        rows.append({**c, "label": label(c), "ms": seconds * 1e3,
                     "ms_low": min(medians) * 1e3, "ms_high": max(medians) * 1e3,
                     "gflops": gflops, "of_gemm": gflops / machine})
    for row in rows:
        base = next(r for r in rows if r["impl"] == "pytorch" and r["batch"] == row["batch"]
                    and r["dtype"] == row["dtype"] and r["device"] == row["device"])
        row["vs_pytorch"] = row["ms"] / base["ms"]
    return {"gemm_gflops": gemm_by, "machine_gflops": machine, "rows": rows}


def plot(result, folder) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from experiments.io import save_figure

    rows = [r for r in result["rows"] if r["device"] == "cpu"]
    groups = sorted({(r["batch"], r["dtype"]) for r in rows})
    fig, ax = plt.subplots(figsize=(11, 4.5))
    width = 0.2
    colors = {"npref": "#1f77b4", "torchref": "#d62728", "pytorch": "#7f7f7f",
              "pytorch-fused": "#bcbd22"}
    for j, impl in enumerate(IMPLS):
        values = [next(r for r in rows if r["impl"] == impl and (r["batch"], r["dtype"]) == g)
                  for g in groups]
        x = np.arange(len(groups)) + (j - 1.5) * width
        ax.bar(x, [v["ms"] for v in values], width, color=colors[impl], label=impl,
               yerr=[[v["ms"] - v["ms_low"] for v in values],
                     [v["ms_high"] - v["ms"] for v in values]], capsize=2)
    ax.set_xticks(np.arange(len(groups)), [f"batch {b}, {d}" for b, d in groups])
    ax.set_ylabel("ms per training step (median; bars: spread of round medians)")
    ax.set_title(f"784-[100×4]-10 ReLU + Adam, CPU — machine float32 GEMM "
                 f"{result['machine_gflops']:.0f} GFLOP/s")
    ax.legend()
    save_figure(fig, folder / "bench.png")
    plt.close(fig)
    return "bench.png"


def render(result, out) -> str:
    """The benchmark's page (``OUT/bench/index.html``)."""
    import html

    from experiments.report import _page, _table, _td, optional_pages

    rows = [[_td(html.escape(r["impl"])), _td(r["device"]), _td(str(r["batch"]), True),
             _td(r["dtype"]), _td(f"{r['ms']:.2f}", True),
             _td(f"{r['ms_low']:.2f}–{r['ms_high']:.2f}", True),
             _td(f"{r['vs_pytorch']:.2f}×", True), _td(f"{r['gflops']:.1f}", True),
             _td(f"{100 * r['of_gemm']:.0f}%", True)] for r in result["rows"]]
    gemm = ", ".join(f"{k} {v:.0f}" for k, v in result["gemm_gflops"].items())
    body = f"""<h1>Performance: one training step, both backends and plain PyTorch</h1>
<p class="concept">One step — forward, backward, Adam update — of the book's 784-[100×4]-10 ReLU
network with softmax cross-entropy. Every configuration ran in a process of its own, the
configurations taking turns over {result['rounds']} rounds; each process warmed up for
{result['warmup']} steps, then timed {result['blocks']} blocks of {result['steps']} steps. The
baseline, <code>pytorch</code>, is a plain PyTorch eager loop (<code>nn.Sequential</code>,
<code>torch.optim.Adam</code> with its defaults); <code>pytorch-fused</code> is the same loop with
<code>fused=True</code>. A step counts 6 × {result['params']:,} parameters × batch floating-point
operations. The machine's float32 GEMM (4096²): {html.escape(gemm)} GFLOP/s; the percentages
below are of the faster, {result['machine_gflops']:.0f} GFLOP/s ({result['cpu_count']} CPUs,
PyTorch on {result['torch_threads']} threads).</p>
<p><img src="{result['figure']}" alt="milliseconds per training step, by implementation"></p>
{_table(["implementation", "device", "batch", "dtype", "ms / step (median)",
         "spread of rounds", "vs pytorch", "GFLOP/s", "of GEMM"], rows)}
"""
    return _page("Performance — npref / torchref", body, depth=1, extras=optional_pages(out))


def write_page(result, out) -> Path:
    path = Path(out) / "bench" / "index.html"
    write_text(path, "")
    write_text(path, render(result, out))
    return path


if __name__ == "__main__":
    config, warmup, blocks, steps = json.loads(sys.argv[1]), *map(int, sys.argv[2:5])
    print(json.dumps(worker(config, warmup, blocks, steps)))
