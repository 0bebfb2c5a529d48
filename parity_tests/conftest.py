"""Hypothesis profiles, the device fixture, the CUDA guard, and the end-of-run parity table.

Profiles (``HYPOTHESIS_PROFILE=...``; ``ci`` when unset):

* ``ci``       — 100 examples per test, derandomized so CI runs are repeatable;
* ``dev``      — 20 examples, for a quick loop while editing;
* ``thorough`` — 1,000 examples, random each run, to hunt for rare disagreements.

CUDA tests carry the marker ``cuda`` and skip without a GPU in a plain run. A run that asks for
them — a ``-m`` expression that selects ``cuda`` tests and nothing unmarked (``-m cuda``,
``-m "cuda and not slow"``), or ``NPREF_REQUIRE_CUDA=1`` (``make test-cuda`` sets it) — stops
before collecting, with one line naming the torch build, when CUDA is absent: skipping every test
would report a pass that measured nothing.
"""

from __future__ import annotations

import json
import os

import pytest
import torch
from hypothesis import HealthCheck, settings

from parity_tests.harness import KS_RECORD, RECORD
from torchref.device import cuda_absent

_common = dict(deadline=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("ci", max_examples=100, derandomize=True, **_common)
settings.register_profile("dev", max_examples=20, **_common)
settings.register_profile("thorough", max_examples=1000, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Parity on CUDA is measured in true float32: TF32 would round matmul inputs to 10 mantissa bits.
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False

_DEVICES = [pytest.param("cpu", id="cpu"),
            pytest.param("cuda", id="cuda", marks=[
                pytest.mark.cuda,
                pytest.mark.skipif(not torch.cuda.is_available(),
                                   reason=f"no CUDA device (torch {torch.__version__}, "
                                          f"torch.version.cuda = {torch.version.cuda})")])]


def cuda_asked(markexpr: str | None, environ=os.environ) -> bool:
    """Whether a run asks for the CUDA tests: ``NPREF_REQUIRE_CUDA=1``, or a ``-m`` expression
    true for a test marked ``cuda`` alone and false for an unmarked test."""
    if environ.get("NPREF_REQUIRE_CUDA", "") not in ("", "0"):
        return True
    if not markexpr:
        return False
    from _pytest.mark import expression as mark_expression
    malformed = (SyntaxError, getattr(mark_expression, "ParseError", SyntaxError))
    try:
        expression = mark_expression.Expression.compile(markexpr)
    except malformed:                 # pytest reports a malformed expression itself
        return False
    return (expression.evaluate(lambda name, **kw: name == "cuda")
            and not expression.evaluate(lambda name, **kw: False))


def pytest_configure(config):
    markexpr = config.getoption("markexpr", default="")
    if cuda_asked(markexpr) and cuda_absent() is not None:
        asked = f"-m {markexpr!r}" if markexpr else "NPREF_REQUIRE_CUDA=1"
        raise pytest.UsageError(f"CUDA tests were asked for ({asked}), but {cuda_absent()}")


@pytest.fixture(scope="session", params=_DEVICES)
def device(request) -> torch.device:
    """Each torch-side test runs on the CPU, and again on CUDA where a GPU is present."""
    return torch.device(request.param)


def pytest_sessionfinish(session):
    """Under pytest-xdist each worker hands its records to the controller, which prints the
    table for the whole run (:func:`pytest_testnodedown`)."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        # plain Python numbers only cross to the controller (NumPy scalars do not serialize)
        workeroutput["parity_record"] = json.loads(json.dumps(RECORD, default=float))
        workeroutput["ks_record"] = json.loads(json.dumps(KS_RECORD, default=float))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """A worker's records merged into the controller's: worst differences, smallest p-values and
    counts over every worker (the same table one process would have printed)."""
    output = getattr(node, "workeroutput", {})
    for key, row in output.get("parity_record", {}).items():
        mine = RECORD.setdefault(key, {"max_rel_diff": 0.0, "max_abs_diff": 0.0,
                                       "tolerance": row["tolerance"], "cases": 0})
        mine["max_rel_diff"] = max(mine["max_rel_diff"], row["max_rel_diff"])
        mine["max_abs_diff"] = max(mine["max_abs_diff"], row["max_abs_diff"])
        mine["cases"] += row["cases"]
    for key, row in output.get("ks_record", {}).items():
        mine = KS_RECORD.setdefault(key, {"min_p": 1.0, "alpha": row["alpha"], "tests": 0})
        mine["min_p"] = min(mine["min_p"], row["min_p"])
        mine["tests"] += row["tests"]


def pytest_terminal_summary(terminalreporter):
    tr = terminalreporter
    if KS_RECORD:
        tr.section("distributions: smallest Kolmogorov–Smirnov p-value per law and backend")
        width = max(len(k) for k in KS_RECORD)
        tr.write_line(f"{'law, backend':<{width}}  {'tests':>6}  {'min p':>9}  {'alpha':>7}")
        for key in sorted(KS_RECORD):
            row = KS_RECORD[key]
            tr.write_line(f"{key:<{width}}  {row['tests']:>6}  {row['min_p']:>9.2e}  "
                          f"{row['alpha']:>7.0e}")
    if not RECORD:
        return
    tr.section("parity: worst relative difference per comparison")
    width = max(len(k) for k in RECORD)
    tr.write_line(f"{'comparison':<{width}}  {'cases':>6}  {'max rel':>9}  {'max abs':>9}  "
                  f"{'tolerance':>9}")
    for key in sorted(RECORD):
        row = RECORD[key]
        tr.write_line(f"{key:<{width}}  {row['cases']:>6}  {row['max_rel_diff']:>9.2e}  "
                      f"{row['max_abs_diff']:>9.2e}  {row['tolerance']:>9.0e}")
