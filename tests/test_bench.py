"""The benchmark command: its processes, its JSON and its page (timings themselves are not
asserted here: CI machines vary; `python -m experiments bench` is for measuring)."""

import json

import pytest
import torch

from experiments.cli import main


def test_bench_writes_json_and_a_page(tmp_path, capsys):
    # a 512² GEMM: the 4096² default's products take most of a test's time here
    assert main(["bench", "--out", str(tmp_path), "--rounds", "1", "--blocks", "1",
                 "--steps", "2", "--warmup", "1", "--batch", "128", "--dtype", "float32",
                 "--gemm-size", "512"]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "machine float32 GEMM" in out and "npref cpu batch 128 float32" in out
    assert "float32 matmul in full float32: TF32 off" in captured.err
    assert "the rounds will take about" in captured.err       # said before the rounds
    assert "1 round(s): no spread to judge by" in out         # one round: every figure flagged
    result = json.loads((tmp_path / "bench" / "bench.json").read_text())
    assert result["float32_matmul"].startswith("full float32: TF32 off")
    impls = {r["impl"] for r in result["rows"]}
    assert impls == {"npref", "torchref", "pytorch", "pytorch-fused"}
    assert result["machine_gflops"] > 0 and result["params"] == 109_810
    assert result["gemm_size"] == 512 and "GEMM float32 512²" in result["raw"]
    for row in result["rows"]:
        assert row["ms"] > 0 and row["gflops"] > 0 and row["vs_pytorch"] > 0
        # every step beside its own matrix products, timed in the same rounds
        assert row["products_ms"] > 0 and row["vs_products"] > 0
    assert "÷ products" in out and "products numpy cpu batch 128" not in out
    page = (tmp_path / "bench" / "index.html").read_text()
    assert "plain PyTorch eager loop" in page and 'src="bench.png"' in page
    assert "÷ products" in page and "GEMM (512², each library" in page
    assert (tmp_path / "bench" / "bench.png").stat().st_size > 5000


def test_bench_refuses_bad_arguments(tmp_path, capsys):
    assert main(["bench", "--out", str(tmp_path), "--rounds", "0"]) == 2
    assert "--rounds must be an int >= 1" in capsys.readouterr().err
    assert main(["bench", "--out", str(tmp_path), "--gemm-size", "8"]) == 2
    assert "--gemm-size must be an int from 16 to 16384, got 8" in capsys.readouterr().err
    assert not (tmp_path / "bench").exists()


def test_cuda_rows_sit_beside_the_cpu_rows_each_against_its_own_gemm(tmp_path):
    """Planned and summarized as on a GPU machine (worker results made up): CUDA rows at batch
    1024–8192, and a CUDA row's "% of GEMM" is of the GPU's GEMM, not the CPU's."""
    from experiments.bench import CUDA_BATCHES, configs, label, plot, summarize

    todo = configs(("cpu", "cuda"), (128,), ("float32",))
    assert {"impl": "gemm", "n": 4096, "device": "cuda"} in todo
    cuda_rows = [c for c in todo if c.get("device") == "cuda" and c["impl"] != "gemm"]
    assert sorted({c["batch"] for c in cuda_rows}) == list(CUDA_BATCHES) == [1024, 2048, 4096,
                                                                             8192]
    assert {c["impl"] for c in cuda_rows} == {"products", "torchref", "pytorch",
                                              "pytorch-fused"}
    assert {c["lib"] for c in cuda_rows if c["impl"] == "products"} == {"torch"}
    raw = {label(c): [{"seconds_per_step": [1e-3]}] for c in todo if c["impl"] != "gemm"}
    raw[label({"impl": "gemm"})] = [{"gflops": {"numpy": 100.0, "torch": 80.0}}]
    raw[label({"impl": "gemm", "device": "cuda"})] = [{"gflops": {"torch cuda": 50_000.0}}]
    result = summarize(todo, raw)
    assert result["gemm_by_device"] == {"cpu": 100.0, "cuda": 50_000.0}
    assert result["machine_gflops"] == 100.0
    for row in result["rows"]:
        assert row["of_gemm"] == row["gflops"] / (50_000.0 if row["device"] == "cuda" else 100.0)
        assert row["vs_products"] == 1.0                   # each against its own device's
    for row in result["rows"]:
        row["ms_low"] = row["ms_high"] = row["ms"]
    plot(result, tmp_path)                             # a CPU panel and a CUDA panel
    assert (tmp_path / "bench.png").stat().st_size > 5000


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_the_gpu_gemm_and_a_cuda_step_are_timed_in_full_float32():
    from experiments.bench.steps import worker

    gemm = worker({"impl": "gemm", "device": "cuda"}, 0, 1, 1)["gflops"]
    assert set(gemm) == {"torch cuda"} and gemm["torch cuda"] > 0
    for impl in ("torchref", "pytorch"):
        step = worker({"impl": impl, "batch": 1024, "dtype": "float32", "device": "cuda"}, 1, 1, 2)
        assert step["seconds_per_step"][0] > 0


def test_figures_the_spread_or_the_gemm_limit_make_meaningless_are_flagged_not_printed_plainly():
    """Worker results made up: one round gives no spread; noisy rounds flag a row and every
    ratio against it; a share above the GEMM limit is called impossible."""
    from experiments.bench import PARAMS, configs, label, summarize, table

    todo = configs(("cpu",), (128,), ("float32",))
    flops = 6 * PARAMS * 128
    steady = [{"seconds_per_step": [1e-3] * 3}] * 3
    raw = {label(c): steady for c in todo if c["impl"] != "gemm"}
    raw[label({"impl": "gemm"})] = [{"gflops": {"numpy": 100.0, "torch": 90.0}}] * 3
    noisy = "pytorch cpu batch 128 float32"
    raw[noisy] = [{"seconds_per_step": [s] * 3} for s in (1e-3, 1.5e-3, 1e-3)]
    fast = "npref cpu batch 128 float32"
    raw[fast] = [{"seconds_per_step": [flops / 150e9] * 3}] * 3          # 150% of the GEMM
    rows = {r["label"]: r for r in summarize(todo, raw)["rows"]}
    assert rows["torchref cpu batch 128 float32"]["flags"] == {
        "vs_pytorch": "per-round ratios spread over 33% of the median"}     # 1, 1/1.5, 1
    # against itself always 1×; against its own (steady) products as noisy as its time
    assert set(rows[noisy]["flags"]) == {"ms", "of_gemm", "vs_products"}
    assert "above the GEMM limit" in rows[fast]["flags"]["of_gemm"]
    printed = "\n".join(table({"rows": list(rows.values())}))
    assert "150%?" in printed and "figures marked ? are not to be taken at face value" in printed

    one = summarize(todo, {k: v[:1] for k, v in raw.items()})["rows"]
    assert all("no spread to judge by" in r["flags"]["ms"] for r in one)


def test_a_slow_stretch_of_the_machine_moves_both_sides_of_a_ratio_and_the_ratio_stands():
    """Ratios are paired round by round: in a round where the shared machine ran 60% slower for
    everybody, the times spread (flagged) but npref/pytorch and the share of that round's GEMM
    do not (not flagged, and exact)."""
    from experiments.bench import PARAMS, configs, label, summarize

    todo = configs(("cpu",), (1024,), ("float32",))
    slow = (1.0, 1.6, 1.0)
    raw = {label(c): [{"seconds_per_step": [8e-3 * k] * 3} for k in slow]
           for c in todo if c["impl"] != "gemm"}
    raw["npref cpu batch 1024 float32"] = [{"seconds_per_step": [4e-3 * k] * 3} for k in slow]
    raw[label({"impl": "gemm"})] = [{"gflops": {"numpy": 200.0 / k, "torch": 150.0 / k}}
                                    for k in slow]
    rows = {r["label"]: r for r in summarize(todo, raw)["rows"]}
    npref = rows["npref cpu batch 1024 float32"]
    assert set(npref["flags"]) == {"ms"} and "60%" in npref["flags"]["ms"]
    assert npref["vs_pytorch"] == pytest.approx(0.5)
    assert npref["of_gemm"] == pytest.approx(6 * PARAMS * 1024 / 4e-3 / 200e9)   # 84%


def test_each_round_is_measured_against_the_faster_gemm_library_of_that_round():
    """Both libraries' products are timed every round; a round's share of the GEMM is against
    whichever was faster in that round (a library chosen once, from one noisy turn, overstated
    the shares whenever the other was faster in the rounds)."""
    from experiments.bench import PARAMS, configs, label, summarize

    todo = configs(("cpu",), (1024,), ("float32",))
    raw = {label(c): [{"seconds_per_step": [8e-3] * 3}] * 3 for c in todo if c["impl"] != "gemm"}
    raw[label({"impl": "gemm"})] = [{"gflops": {"numpy": 200.0, "torch": 150.0}},
                                    {"gflops": {"numpy": 100.0, "torch": 180.0}},
                                    {"gflops": {"numpy": 200.0, "torch": 150.0}}]
    result = summarize(todo, raw)
    row = next(r for r in result["rows"] if r["impl"] == "npref")
    flops = 6 * PARAMS * 1024 / 8e-3 / 1e9
    assert row["of_gemm"] == pytest.approx(flops / 200.0)                   # median of 3 rounds
    assert row["of_gemm_spread"] == pytest.approx((flops / 180 - flops / 200) / (flops / 200))
    assert result["machine_gflops"] == 200.0
    assert result["gemm_gflops"] == {"numpy": 200.0, "torch": 150.0}      # each library's median


def test_the_step_over_its_products_does_not_move_with_the_hosts_speed():
    """Made-up rounds in which the machine runs at three speeds: each step takes 3× (npref) or
    1.5× (PyTorch's) its own products in every round, and that is the figure, with no spread;
    npref is paired with NumPy's products, the others with PyTorch's, and the products of
    NumPy are timed in npref's process (which never imports torch)."""
    from experiments.bench import configs, label, summarize, worker_of

    todo = configs(("cpu",), (128,), ("float64",))
    products = [c for c in todo if c["impl"] == "products"]
    assert [(c["lib"], worker_of(c)) for c in products] == [("numpy", "npref"),
                                                           ("torch", "pytorch")]
    speeds = [1.0, 2.5, 0.7]
    own = {"numpy": 2e-3, "torch": 1e-3}
    raw = {label({"impl": "gemm"}): [{"gflops": {"numpy": 100.0, "torch": 90.0}}] * 3}
    for c in todo:
        if c["impl"] == "products":
            raw[label(c)] = [{"seconds_per_step": [own[c["lib"]] * s]} for s in speeds]
        elif c["impl"] != "gemm":
            base = own["numpy"] * 3 if c["impl"] == "npref" else own["torch"] * 1.5
            raw[label(c)] = [{"seconds_per_step": [base * s]} for s in speeds]
    rows = {r["impl"]: r for r in summarize(todo, raw)["rows"]}
    assert rows["npref"]["vs_products"] == pytest.approx(3.0)
    assert rows["torchref"]["vs_products"] == pytest.approx(1.5)
    assert rows["npref"]["products_ms"] == pytest.approx(2.0)
    assert all(r["vs_products_spread"] == pytest.approx(0.0) for r in rows.values())
    assert all("vs_products" not in r["flags"] for r in rows.values())
