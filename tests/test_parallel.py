"""Executors: the same results, in the tasks' order, whichever runs them."""

from __future__ import annotations

import os

import pytest

from experiments import parallel

TASKS = [(i, 0.3 if i == 0 else 0.0) for i in range(4)]        # the first finishes last


@pytest.mark.parametrize("jobs", [1, 2])
def test_local_results_come_back_in_the_order_of_the_tasks(jobs):
    out = parallel.run_all(parallel.probe, TASKS, jobs=jobs, log=lambda m: None)
    assert [r["value"] for r in out] == [0, 1, 2, 3]
    pids = {r["pid"] for r in out}
    assert (pids == {os.getpid()}) if jobs == 1 else (os.getpid() not in pids)


@pytest.mark.slow
def test_a_dask_local_cluster_gives_the_same_results():
    pytest.importorskip("distributed")
    out = parallel.run_all(parallel.probe, TASKS, executor="dask", jobs=2, log=lambda m: None)
    assert [r["value"] for r in out] == [0, 1, 2, 3] and os.getpid() not in {r["pid"] for r in out}


@pytest.mark.parametrize("executor, jobs, scheduler, message", [
    ("threads", 1, None, "--executor must be one of local, dask"),
    ("local", 0, None, "--jobs must be an int >= 1 or 'auto', got 0"),
    ("local", "many", None, "--jobs must be an int >= 1 or 'auto'"),
    ("local", 1, "tcp://h:8786", "--scheduler needs --executor dask"),
    ("dask", 1, "h:86x", "--scheduler must be an address like tcp://host:8786"),
])
def test_bad_executor_settings_are_refused(executor, jobs, scheduler, message):
    with pytest.raises(parallel.ExecutorError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parallel.check(executor, jobs, scheduler)


def test_auto_is_the_machines_cores():
    assert parallel.jobs_from("auto") == len(os.sched_getaffinity(0))


def test_without_dask_the_error_says_how_to_install_it(monkeypatch):
    import builtins
    real = builtins.__import__

    def no_dask(name, *args, **kwargs):
        if name.startswith("distributed"):
            raise ImportError(name)
        return real(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_dask)
    with pytest.raises(parallel.ExecutorError, match=r"pip install 'dask\[distributed\]'"):
        parallel.check("dask", 1, None)
