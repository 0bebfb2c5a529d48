"""The benchmark command: its processes, its JSON and its page (timings themselves are not
asserted here: CI machines vary; `python -m experiments bench` is for measuring)."""

import json

from experiments.cli import main


def test_bench_writes_json_and_a_page(tmp_path, capsys):
    assert main(["bench", "--out", str(tmp_path), "--rounds", "1", "--blocks", "1",
                 "--steps", "2", "--warmup", "1", "--batch", "128", "--dtype", "float32"]) == 0
    out = capsys.readouterr().out
    assert "machine float32 GEMM" in out and "npref cpu batch 128 float32" in out
    result = json.loads((tmp_path / "bench" / "bench.json").read_text())
    impls = {r["impl"] for r in result["rows"]}
    assert impls == {"npref", "torchref", "pytorch", "pytorch-fused"}
    assert result["machine_gflops"] > 0 and result["params"] == 109_810
    for row in result["rows"]:
        assert row["ms"] > 0 and row["gflops"] > 0 and row["vs_pytorch"] > 0
    page = (tmp_path / "bench" / "index.html").read_text()
    assert "plain PyTorch eager loop" in page and 'src="bench.png"' in page
    assert (tmp_path / "bench" / "bench.png").stat().st_size > 5000


def test_bench_refuses_bad_arguments(tmp_path, capsys):
    assert main(["bench", "--out", str(tmp_path), "--rounds", "0"]) == 2
    assert "--rounds must be an int >= 1" in capsys.readouterr().err
