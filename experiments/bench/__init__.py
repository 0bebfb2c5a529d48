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

on the CPU, and on CUDA where a GPU is present (batch 1024 to 8192 there, float32, beside the CPU
rows). Next to them each device's float32 GEMM throughput, the product of two 4096×4096 matrices
(the median over the rounds, as the step times are medians): on the CPU the faster of NumPy's and
PyTorch's, on CUDA PyTorch's, synchronised around each product — a CUDA row's "% of GEMM" is of
the GPU's GEMM, a CPU row's of the CPU's. A step counts 6 × parameters × batch floating-point
operations (2 forward, 4 backward).

PyTorch's float32 matrix products run in true float32 in every worker — TF32 off on CUDA, bf16
off in oneDNN (:func:`torchref.device.full_float32`) — as in the parity suite; ``bench.json``
records it (``float32_matmul``) and the run says so.

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
#: The batches of the CUDA rows (a GPU needs large batches to be busy), float32 only.
CUDA_BATCHES = (1024, 2048, 4096, 8192)
FLOAT32_MATMUL = "full float32: TF32 off (CUDA), bf16 off (oneDNN)"


def configs(device_kinds=("cpu",), batches=(128, 1024), dtypes=("float32", "float64")):
    out = [{"impl": "gemm"}] + [{"impl": "gemm", "device": d} for d in device_kinds
                                if d != "cpu"]
    for device in device_kinds:
        for batch in (batches if device == "cpu" else CUDA_BATCHES):
            for dtype in (dtypes if device == "cpu" else ("float32",)):
                for impl in IMPLS:
                    if impl == "npref" and device != "cpu":
                        continue
                    out.append({"impl": impl, "batch": batch, "dtype": dtype, "device": device})
    return out


def label(c: dict) -> str:
    if c["impl"] == "gemm":
        return "GEMM float32 4096²" + (f" {c['device']}" if c.get("device", "cpu") != "cpu"
                                       else "")
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
    log(f"bench: PyTorch float32 matmul in {FLOAT32_MATMUL}; devices: "
        + ("cpu, cuda" if cuda else "cpu (no CUDA device)"))
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
                   "float32_matmul": FLOAT32_MATMUL, "raw": raw})
    folder = Path(out) / "bench"
    write_json(folder / "bench.json", result)
    result["figure"] = plot(result, folder)
    write_json(folder / "bench.json", result)
    return result


def summarize(todo, raw) -> dict:
    # Typical against typical: the median step against the median GEMM of the same rounds, each
    # device's rows against that device's GEMM.
    gemm_by, by_device = {}, {}
    for c in todo:
        if c["impl"] != "gemm":
            continue
        runs = raw[label(c)]
        medians = {k: float(np.median([r["gflops"][k] for r in runs])) for k in runs[0]["gflops"]}
        gemm_by.update(medians)
        by_device[c.get("device", "cpu")] = max(medians.values())
    machine = by_device["cpu"]
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
                     "gflops": gflops, "of_gemm": gflops / by_device[c["device"]]})
    for row in rows:
        base = next(r for r in rows if r["impl"] == "pytorch" and r["batch"] == row["batch"]
                    and r["dtype"] == row["dtype"] and r["device"] == row["device"])
        row["vs_pytorch"] = row["ms"] / base["ms"]
    return {"gemm_gflops": gemm_by, "machine_gflops": machine, "gemm_by_device": by_device,
            "rows": rows}


def plot(result, folder) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from experiments.plotting import save

    devices = [d for d in ("cpu", "cuda") if any(r["device"] == d for r in result["rows"])]
    fig, axes = plt.subplots(1, len(devices), figsize=(11 * len(devices), 4.5), squeeze=False)
    colors = {"npref": "#1f77b4", "torchref": "#d62728", "pytorch": "#7f7f7f",
              "pytorch-fused": "#bcbd22"}
    gemm = result.get("gemm_by_device", {"cpu": result["machine_gflops"]})
    for ax, device in zip(axes[0], devices):
        rows = [r for r in result["rows"] if r["device"] == device]
        groups = sorted({(r["batch"], r["dtype"]) for r in rows})
        impls = [i for i in IMPLS if any(r["impl"] == i for r in rows)]
        width = 0.8 / len(impls)
        for j, impl in enumerate(impls):
            values = [next(r for r in rows if r["impl"] == impl and (r["batch"], r["dtype"]) == g)
                      for g in groups]
            x = np.arange(len(groups)) + (j - (len(impls) - 1) / 2) * width
            ax.bar(x, [v["ms"] for v in values], width, color=colors[impl], label=impl,
                   yerr=[[v["ms"] - v["ms_low"] for v in values],
                         [v["ms_high"] - v["ms"] for v in values]], capsize=2)
        ax.set_xticks(np.arange(len(groups)), [f"batch {b}, {d}" for b, d in groups])
        ax.set_ylabel("ms per training step (median; bars: spread of round medians)")
        ax.set_title(f"784-[100×4]-10 ReLU + Adam, {device.upper()} — float32 GEMM "
                     f"{gemm[device]:.0f} GFLOP/s")
        ax.legend()
    return save(fig, folder, "bench.png")


def write_page(result, out) -> Path:
    """The benchmark's page, ``OUT/bench/index.html``."""
    from experiments.report import write_bench_page
    return write_bench_page(result, out)
