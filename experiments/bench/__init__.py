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
(the median of two products per library per round, as the step times are medians): on the CPU
the faster of NumPy's and PyTorch's in that round, on CUDA PyTorch's, synchronised around each
product — a CUDA row's "% of GEMM" is of the GPU's GEMM, a CPU row's of the CPU's. A step counts
6 × parameters × batch floating-point operations (2 forward, 4 backward).

PyTorch's float32 matrix products run in true float32 in every worker — TF32 off on CUDA, bf16
off in oneDNN (:func:`torchref.device.full_float32`) — as in the parity suite; ``bench.json``
records it (``float32_matmul``) and the run says so.

Each implementation runs in a worker process of its own that stays up for the whole run (npref's
never imports torch; the GEMM is timed in plain PyTorch's), so no two BLAS thread pools ever
compete and no round pays for starting Python again. The configurations take turns, round after
round (reversed every other round), with a short pause between turns for the last worker's
threads to go idle; each turn warms up, then times blocks of steps. Before the rounds, one short
turn per configuration (not counted) tells how long the run will take, and the run says so.
Beside each step, in the same rounds, the step's own matrix products alone
(:func:`experiments.bench.steps._step_products`: per layer the forward product, the weight
gradient's and — but for the first layer — the input gradient's), in NumPy for npref and in
PyTorch for the others: the physical limit of that step on that machine.

Reported: a step's time, the median over all blocks of all rounds; its ratio to plain PyTorch,
its share of the GEMM and its ratio to its own products (÷ products: the overhead beyond the
limit, in units of the machine's own products rather than milliseconds), the medians of their per-round values — paired, round by round, so that a
stretch when the shared machine runs slow slows both sides of a ratio (:func:`summarize`). A
figure is flagged — printed with a ``?`` and a reason, never plainly — when fewer than three
rounds give no spread to judge it by, when its per-round values spread over more than
:data:`NOISY` of their median, or when it claims more than the GEMM limit. The load
average before and after is recorded: on a busy machine every figure is noisy. Inputs are random
(the time of a step does not depend on them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from experiments.atomic import write_json
from experiments.bench.steps import GEMM_REPS, GEMM_SIZE, SIZES

PARAMS = sum(SIZES[i] * SIZES[i + 1] + SIZES[i + 1] for i in range(len(SIZES) - 1))
IMPLS = ("npref", "torchref", "pytorch", "pytorch-fused")
#: The batches of the CUDA rows (a GPU needs large batches to be busy), float32 only.
CUDA_BATCHES = (1024, 2048, 4096, 8192)
FLOAT32_MATMUL = "full float32: TF32 off (CUDA), bf16 off (oneDNN)"


def configs(device_kinds=("cpu",), batches=(128, 1024), dtypes=("float32", "float64"),
            gemm_size=GEMM_SIZE):
    out = [{"impl": "gemm", "n": gemm_size}] + [{"impl": "gemm", "n": gemm_size, "device": d}
                                                for d in device_kinds if d != "cpu"]
    for device in device_kinds:
        for batch in (batches if device == "cpu" else CUDA_BATCHES):
            for dtype in (dtypes if device == "cpu" else ("float32",)):
                for lib in (("numpy", "torch") if device == "cpu" else ("torch",)):
                    out.append({"impl": "products", "lib": lib, "batch": batch, "dtype": dtype,
                                "device": device})
                for impl in IMPLS:
                    if impl == "npref" and device != "cpu":
                        continue
                    out.append({"impl": impl, "batch": batch, "dtype": dtype, "device": device})
    return out


def label(c: dict) -> str:
    if c["impl"] == "gemm":
        return f"GEMM float32 {c.get('n', GEMM_SIZE)}²" + (
            f" {c['device']}" if c.get("device", "cpu") != "cpu" else "")
    if c["impl"] == "products":
        return f"products {c['lib']} {c['device']} batch {c['batch']} {c['dtype']}"
    return f"{c['impl']} {c['device']} batch {c['batch']} {c['dtype']}"


#: Whose matrix products bound each implementation's step: npref's are NumPy's.
PRODUCTS_OF = {"npref": "numpy", "torchref": "torch", "pytorch": "torch", "pytorch-fused": "torch"}


# -- the parent: rounds over long-lived workers, then the summary ------------------------------

#: A figure whose round medians spread over more than this fraction of the median is flagged.
NOISY = 0.2
#: Seconds between two turns: the last worker's BLAS/OpenMP threads stop spinning meanwhile.
SETTLE = 0.1


def worker_of(c: dict) -> str:
    """The worker process a configuration runs in: one per implementation; the GEMM and
    PyTorch's step products in plain PyTorch's (it times NumPy's product and PyTorch's), NumPy's
    step products in npref's (which never imports torch)."""
    if c["impl"] == "products":
        return "npref" if c["lib"] == "numpy" else "pytorch"
    return "pytorch" if c["impl"] == "gemm" else c["impl"]


class _Worker:
    def __init__(self, name: str, root: Path):
        self.name = name
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "experiments.bench.steps"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self.stderr, text=True, cwd=root,
            env={**os.environ, "PYTHONPATH": str(root)})

    def ask(self, config: dict, warmup: int, blocks: int, steps: int) -> dict:
        request = {"config": config, "warmup": warmup, "blocks": blocks, "steps": steps}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            self.stderr.seek(0)
            raise RuntimeError(f"bench worker {self.name} for {label(config)} failed:\n"
                               f"{self.stderr.read()}")
        return json.loads(line)

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.stderr.close()


def run(*, out="results", rounds=5, warmup=10, blocks=5, steps=20, batches=(128, 1024),
        dtypes=("float32", "float64"), gemm_size=GEMM_SIZE, log=print) -> dict:
    """Measure every configuration; write ``OUT/bench/bench.json``."""
    try:
        import torch
        cuda = torch.cuda.is_available()
        threads = torch.get_num_threads()
    except ImportError:
        cuda, threads = False, None
    started = time.perf_counter()
    load_before = _load()
    todo = configs(("cpu", "cuda") if cuda else ("cpu",), tuple(batches), tuple(dtypes),
                   gemm_size)
    log(f"bench: PyTorch float32 matmul in {FLOAT32_MATMUL}; devices: "
        + ("cpu, cuda" if cuda else "cpu (no CUDA device)"))
    log(f"bench: {rounds} round(s) of {len(todo)} configurations; starting the workers "
        f"(load average {load_before:.1f} on {os.cpu_count()} CPUs"
        + (": a busy machine, the figures will be noisy)" if _busy(load_before) else ")"))
    root = Path(__file__).resolve().parents[2]
    workers = {name: _Worker(name, root) for name in dict.fromkeys(map(worker_of, todo))}
    try:
        per_turn = _first_turns(todo, workers, warmup, blocks, steps)
        estimate = rounds * (sum(per_turn.values()) + SETTLE * len(todo))
        log(f"bench: ready after {time.perf_counter() - started:.0f} s; the rounds will take "
            f"about {estimate:.0f} s more")
        raw = {label(c): [] for c in todo}
        for r in range(rounds):
            order = todo if r % 2 == 0 else todo[::-1]
            log(f"bench: round {r + 1}/{rounds}")
            for c in order:
                raw[label(c)].append(workers[worker_of(c)].ask(c, warmup, blocks, steps))
                time.sleep(SETTLE)
    finally:
        for w in workers.values():
            w.close()
    load_after = _load()
    result = summarize(todo, raw)
    seconds = time.perf_counter() - started
    log(f"bench: done in {seconds:.0f} s")
    result.update({"rounds": rounds, "warmup": warmup, "blocks": blocks, "steps": steps,
                   "params": PARAMS, "gemm_size": gemm_size, "torch_threads": threads,
                   "cpu_count": os.cpu_count(),
                   "float32_matmul": FLOAT32_MATMUL, "seconds": seconds,
                   "estimated_seconds": estimate, "noisy_above": NOISY,
                   "load_average": {"before": load_before, "after": load_after}, "raw": raw})
    folder = Path(out) / "bench"
    write_json(folder / "bench.json", result)
    result["figure"] = plot(result, folder)
    write_json(folder / "bench.json", result)
    return result


def _first_turns(todo, workers, warmup, blocks, steps) -> dict:
    """One short turn per configuration, not counted: builds every network, draws the GEMM's
    operand, and tells how long a round will take (``{label: seconds}``)."""
    per_turn = {}
    for c in todo:
        answer = workers[worker_of(c)].ask({**c, "reps": 1} if c["impl"] == "gemm" else c,
                                           warmup, 1, min(steps, 5))
        if c["impl"] == "gemm":       # a round: GEMM_REPS products of each library
            per_turn[label(c)] = sum(GEMM_REPS * 2 * c["n"] ** 3 / (1e9 * rate)
                                     for rate in answer["gflops"].values())
        else:
            per_turn[label(c)] = answer["seconds_per_step"][0] * (warmup + blocks * steps)
        time.sleep(SETTLE)
    return per_turn


def _load() -> float:
    """The one-minute load average (NaN where the system does not tell)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return float("nan")


def _busy(load: float) -> bool:
    return load > 0.5 * (os.cpu_count() or 1)


def _spread(values) -> float:
    """(max − min) / median: how far apart the rounds landed, as a fraction of their median."""
    return (max(values) - min(values)) / float(np.median(values))


def summarize(todo, raw) -> dict:
    """Typical against typical, round by round: a row's time is the median of all its blocks;
    its ratio to plain PyTorch is the median of the per-round ratios of the two (measured a turn
    apart, so a machine that slows down for a while slows both), and its share of the GEMM the
    median of the per-round shares against that round's GEMM (the faster library's median
    product in that round) — each device's rows against that device's GEMM. A figure's spread is
    that of its rounds."""
    gemm_by, by_device, gemm_rounds = {}, {}, {}
    for c in todo:
        if c["impl"] != "gemm":
            continue
        runs = raw[label(c)]
        medians = {k: float(np.median([r["gflops"][k] for r in runs])) for k in runs[0]["gflops"]}
        gemm_by.update(medians)
        device = c.get("device", "cpu")
        gemm_rounds[device] = [max(r["gflops"].values()) for r in runs]   # the faster, each round
        by_device[device] = float(np.median(gemm_rounds[device]))
    rows, products = [], {}
    for c in todo:
        if c["impl"] == "products":
            products[(c["lib"], c["device"], c["batch"], c["dtype"])] = [
                float(np.median(r["seconds_per_step"])) for r in raw[label(c)]]
    for c in todo:
        if c["impl"] in ("gemm", "products"):
            continue
        runs = raw[label(c)]
        blocks = [s for r in runs for s in r["seconds_per_step"]]
        medians = [float(np.median(r["seconds_per_step"])) for r in runs]
        seconds = float(np.median(blocks))
        flops = 6 * PARAMS * c["batch"]
        shares = [flops / m / 1e9 / g for m, g in zip(medians, gemm_rounds[c["device"]])]
        rows.append({**c, "label": label(c), "ms": seconds * 1e3, "round_ms": medians,
                     "ms_low": min(medians) * 1e3, "ms_high": max(medians) * 1e3,
                     "spread": _spread(medians), "rounds": len(runs),
                     "gflops": flops / seconds / 1e9, "of_gemm": float(np.median(shares)),
                     "of_gemm_spread": _spread(shares)})
    for row in rows:
        base = next(r for r in rows if r["impl"] == "pytorch" and r["batch"] == row["batch"]
                    and r["dtype"] == row["dtype"] and r["device"] == row["device"])
        ratios = [a / b for a, b in zip(row["round_ms"], base["round_ms"])]
        row["vs_pytorch"] = float(np.median(ratios))
        row["vs_pytorch_spread"] = _spread(ratios)
        own = products.get((PRODUCTS_OF[row["impl"]], row["device"], row["batch"], row["dtype"]))
        if own is not None:               # the step against its own products, round by round
            over = [a / b for a, b in zip(row["round_ms"], own)]
            row["products_ms"] = float(np.median(own)) * 1e3
            row["vs_products"] = float(np.median(over))
            row["vs_products_spread"] = _spread(over)
        row["flags"] = flags(row)
    return {"gemm_gflops": gemm_by, "machine_gflops": by_device["cpu"],
            "gemm_by_device": by_device,
            "gemm_spread": {d: _spread(v) for d, v in gemm_rounds.items()}, "rows": rows}


def flags(row: dict) -> dict:
    """Why a row's figures cannot be taken at face value: ``{figure: reason}`` for the figures
    ``ms``, ``vs_pytorch`` and ``of_gemm`` (empty when all stand). Each is judged by the spread
    of its own per-round values: the time by its round medians, a ratio by its per-round
    ratios."""
    if row["rounds"] < 3:
        few = f"{row['rounds']} round(s): no spread to judge by (use --rounds 3 or more)"
        out = {"ms": few, "vs_pytorch": few, "of_gemm": few}
        if "vs_products" in row:
            out["vs_products"] = few
    else:
        out = {}
        for key, spread, what in (("ms", row["spread"], "round medians"),
                                  ("vs_pytorch", row["vs_pytorch_spread"], "per-round ratios"),
                                  ("of_gemm", row["of_gemm_spread"], "per-round shares"),
                                  ("vs_products", row.get("vs_products_spread", 0.0),
                                   "per-round ratios")):
            if spread > NOISY:
                out[key] = f"{what} spread over {100 * spread:.0f}% of the median"
    if row["of_gemm"] > 1:
        out["of_gemm"] = (f"{100 * row['of_gemm']:.0f}% is above the GEMM limit: impossible, "
                          "the machine was busier while the GEMM ran")
    return out


def table(result) -> list[str]:
    """The summary as printed: flagged figures carry a ``?`` and their reasons follow below."""
    lines = [f"{'configuration':<42} {'ms/step':>9} {'±':>5} {'vs pytorch':>11} "
             f"{'GFLOP/s':>8} {'of GEMM':>8} {'÷ products':>11}"]
    notes = []
    for r in result["rows"]:
        mark = {key: "?" if key in r["flags"] else " "
                for key in ("ms", "vs_pytorch", "of_gemm", "vs_products")}
        ms = f"{r['ms']:.2f}{mark['ms']}"
        vs = f"{r['vs_pytorch']:.2f}×{mark['vs_pytorch']}"
        of = f"{100 * r['of_gemm']:.0f}%{mark['of_gemm']}"
        over = f"{r['vs_products']:.2f}×{mark['vs_products']}" if "vs_products" in r else "—"
        lines.append(f"{r['label']:<42} {ms:>9} {50 * r['spread']:>4.0f}% {vs:>11} "
                     f"{r['gflops']:>8.1f} {of:>8} {over:>11}")
        notes += [f"  ? {r['label']}, {key}: {why}" for key, why in r["flags"].items()]
    lines.append("÷ products: the step's time over the time of its own matrix products alone "
                 "(NumPy's for npref, PyTorch's for the rest), round by round — what the step "
                 "spends beyond the physical limit of its arithmetic, in units of this machine's "
                 "own products")
    if notes:
        lines += ["figures marked ? are not to be taken at face value:", *notes]
    return lines


def plot(result, folder) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from experiments.plotting import save

    devices = [d for d in ("cpu", "cuda") if any(r["device"] == d for r in result["rows"])]
    fig, axes = plt.subplots(len(devices), 1, figsize=(11, 4.8 * len(devices)), squeeze=False)
    colors = {"npref": "#1f77b4", "torchref": "#d62728", "pytorch": "#7f7f7f",
              "pytorch-fused": "#bcbd22"}
    gemm = result.get("gemm_by_device", {"cpu": result["machine_gflops"]})
    for ax, device in zip(axes[:, 0], devices):
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
        ax.set_xlabel("configuration (batch size, dtype)")
        ax.set_ylabel("ms per training step (median; bars: spread of round medians)")
        ax.set_title(f"784-[100×4]-10 ReLU + Adam, {device.upper()} — float32 GEMM "
                     f"{gemm[device]:.0f} GFLOP/s")
        ax.legend()
    return save(fig, folder, "bench.png")


def write_page(result, out) -> Path:
    """The benchmark's page, ``OUT/bench/index.html``."""
    from experiments.report import write_bench_page
    return write_bench_page(result, out)
