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
matrices (the median over the rounds, as the step times are medians). A step counts
6 × parameters × batch floating-point operations (2 forward, 4 backward).

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
from pathlib import Path

import numpy as np

from experiments.bench.steps import SIZES
from experiments.io import write_json

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
    root = Path(__file__).resolve().parents[2]
    for r in range(rounds):
        order = todo if r % 2 == 0 else todo[::-1]
        for i, c in enumerate(order, 1):
            log(f"bench: round {r + 1}/{rounds}, {i}/{len(order)}: {label(c)}")
            done = subprocess.run(
                [sys.executable, "-m", "experiments.bench.steps", json.dumps(c), str(warmup),
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

    from experiments.plotting import save

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
    return save(fig, folder, "bench.png")


def write_page(result, out) -> Path:
    """The benchmark's page, ``OUT/bench/index.html``."""
    from experiments.report import write_bench_page
    return write_bench_page(result, out)
