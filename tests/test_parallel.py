"""Executors: the same results, in the tasks' order, whichever runs them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from experiments import parallel

TASKS = [(i, 0.3 if i == 0 else 0.0) for i in range(4)]        # the first finishes last


@pytest.mark.parametrize("jobs", [1, 2, 3])
def test_local_results_come_back_in_the_order_of_the_tasks(jobs):
    """J tasks at a time: this process and J − 1 workers, taking them from one queue."""
    out = parallel.run_all(parallel.probe, TASKS, jobs=jobs, log=lambda m: None)
    assert [r["value"] for r in out] == [0, 1, 2, 3]
    pids = {r["pid"] for r in out}
    assert os.getpid() in pids and 1 <= len(pids) <= jobs
    if jobs > 1:
        assert len(pids) > 1          # the first task sleeps 0.3 s: another process takes one


def fail_on(value, bad):
    if value == bad:
        raise ZeroDivisionError(f"task {value} failed")
    return value


@pytest.mark.parametrize("bad", [0, 3])
def test_a_task_that_fails_fails_the_map_with_its_own_error(bad):
    with pytest.raises(ZeroDivisionError, match=f"task {bad} failed"):
        parallel.run_all(fail_on, [(i, bad) for i in range(4)], jobs=2, log=lambda m: None)


@pytest.mark.slow
def test_a_dask_local_cluster_gives_the_same_results():
    pytest.importorskip("distributed")
    out = parallel.run_all(parallel.probe, TASKS, executor="dask", jobs=2, log=lambda m: None)
    assert [r["value"] for r in out] == [0, 1, 2, 3] and os.getpid() not in {r["pid"] for r in out}
    _check_ready("dask", 2)                      # on a cluster of its own, as the executor makes


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


def _without_timings(path) -> dict:
    """metrics.json without what may differ between equal runs: seconds and figure bytes'
    hashes are kept (figures are drawn from the same numbers), timings dropped."""
    import json
    m = json.loads(path.read_text())
    for side in m["backends"].values():
        side.pop("seconds")
    return m


_ONE_JOB: dict = {}


@pytest.mark.slow
@pytest.mark.parametrize("other", [["--jobs", "2"], ["--executor", "dask", "--jobs", "2"]],
                         ids=["jobs-2", "dask-local-cluster"])
def test_seeds_give_the_same_metrics_whatever_runs_them(tmp_path, other):
    from experiments.cli import main

    if "dask" in other:
        pytest.importorskip("distributed")
    common = ["run", "breast-cancer-init", "--seeds", "2", "--set", "epochs=40", "--device", "cpu"]
    if "one" not in _ONE_JOB:                  # the one-job run: made once, for both cases
        _ONE_JOB["one"] = tmp_path / "one"
        assert main([*common, "--out", str(_ONE_JOB["one"])]) == 0
    assert main([*common, *other, "--out", str(tmp_path / "other")]) == 0
    one = _without_timings(_ONE_JOB["one"] / "breast-cancer-init" / "metrics.json")
    two = _without_timings(tmp_path / "other" / "breast-cancer-init" / "metrics.json")
    assert one == two
    assert one["seeds"] == [0, 1] and [r["seed"] for r in one["parity"]["by_seed"]] == [0, 1]
    assert all(f["reproduced_in"]["seeds"] == 2 for f in one["findings"])
    assert "breast-cancer-init-seeds.png" in one["figures"]
    page = (_ONE_JOB["one"] / "breast-cancer-init" / "index.html").read_text()
    assert "reproduced in" in page and "of 2 seeds" in page and "--seeds 2" in page


def test_a_scheduler_that_does_not_answer_is_one_error_line(tmp_path, capsys, monkeypatch):
    pytest.importorskip("distributed")
    from experiments.cli import main

    # Dask retries a refused connection until the timeout: 2 s here, not the 10 s of a run
    monkeypatch.setattr(parallel, "CONNECT_TIMEOUT", 2)

    code = main(["run", "optimizer-paths", "--executor", "dask", "--scheduler",
                 "tcp://127.0.0.1:9", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "no Dask scheduler answers there" in err and "Traceback" not in err


@pytest.mark.slow
@pytest.mark.parametrize("name, sets", [("sanity-checks", []),
                                        ("overfit-weight-decay", ["epochs=6"])])
def test_a_task_computes_the_same_bits_whatever_threads_its_process_has(name, sets):
    """OpenBLAS's products and PyTorch's reductions round differently on one thread and on two,
    so every task runs on ``TASK_THREADS`` whatever its process had. Without that, on 2 cores,
    sanity-checks' NumPy losses and overfit-weight-decay's PyTorch penalty differed in their last
    bits between ``--jobs 1`` (two threads) and ``--jobs 2`` (one each)."""
    import numpy as np
    import torch
    from threadpoolctl import threadpool_limits

    from experiments import runner

    before, outcomes = torch.get_num_threads(), []
    try:
        for threads in (2, 1):
            with threadpool_limits(threads):
                torch.set_num_threads(threads)
                outcomes.append(runner.compute_seed(runner.Job(
                    name, "quick", 0, tuple(sets), "cpu", None, ("numpy", "torch"))))
                assert torch.get_num_threads() == threads          # given back afterwards
    finally:
        torch.set_num_threads(before)
    one, two = (o.results for o in outcomes)
    for side in ("numpy", "torch"):
        for key, values in one[side].series.items():
            assert np.array_equal(values, two[side].series[key]), (side, key)
    assert parallel.TASK_THREADS == 1


# -- workers started before the tasks are known ------------------------------------------------

def note_pid(folder) -> None:
    """A worker's warm-up for the tests: leaves a file named after its process."""
    (Path(folder) / str(os.getpid())).write_text("warm")


def slow_warm(seconds) -> None:
    import time
    time.sleep(seconds)


def test_every_worker_warms_once_before_its_tasks_and_meanwhile_runs_here(tmp_path):
    here = []
    with parallel.workers("local", 3, None, tasks=4, warm=(note_pid, (str(tmp_path),))) as pool:
        processes = list(pool.pool._processes.values())
        out = pool.map(parallel.probe, TASKS, log=lambda m: None,
                       meanwhile=lambda: here.append(os.getpid()))
    assert [r["value"] for r in out] == [0, 1, 2, 3]
    # On a slow machine this process and the first worker may take every (instant) task while
    # the second worker still starts; it warms up all the same, before it reads the (closed)
    # queue and exits: its note is awaited, not assumed written by the time the block ends.
    for process in processes:
        process.join(60)
    assert len(processes) == 2 and not any(p.is_alive() for p in processes)
    warmed = {int(p.name) for p in tmp_path.iterdir()}
    assert len(warmed) == 2 and os.getpid() not in warmed                  # J − 1 workers
    assert {r["pid"] for r in out} - {os.getpid()} <= warmed       # the tasks' workers warmed
    assert here == [os.getpid()]


@pytest.mark.parametrize("jobs", [1, 2])
def test_ready_is_called_here_once_with_the_first_results_while_the_rest_run(jobs):
    """``ready=(n, then)``: ``then`` gets the first n results, once, in this process, as soon
    as they are in, not once the slow tasks after them are done (a run's figures, drawn while
    its lessons' runs compute). Dask's: in the test of its LocalCluster above."""
    _check_ready("local", jobs)


def _check_ready(executor, jobs):
    import time

    tasks = [(0, 0.0), (1, 0.0)] + [(i, 0.4) for i in range(2, 6)]   # then 1.6 s of tasks
    called = []
    with parallel.workers(executor, jobs, None, tasks=len(tasks)) as pool:
        if executor == "local" and jobs > 1:
            pool.pool.submit(parallel.probe, 0).result()            # its worker started
        out = pool.map(parallel.probe, tasks, log=lambda m: None, ready=(
            2, lambda first: called.append((first, os.getpid(), time.perf_counter()))))
        returned = time.perf_counter()
    assert [r["value"] for r in out] == list(range(6))
    ((first, pid, when),) = called
    assert first == out[:2] and pid == os.getpid()
    assert returned - when > 0.2, returned - when       # not once the slow ones are done
    # asked for no more results than the tasks have: all of them, once
    with parallel.workers("local", 1, None, tasks=1) as pool:
        pool.map(parallel.probe, tasks[:1], log=lambda m: None,
                 ready=(1, lambda first: called.append(first)))
    assert called[1] == [{"value": 0, "pid": os.getpid()}]


def torch_in_worker() -> tuple:
    """A task: whether PyTorch was imported before it, and its threads once it is."""
    import sys

    before = "torch" in sys.modules
    import torch
    return before, torch.get_num_threads(), os.getpid()


def test_a_worker_imports_pytorch_only_for_a_task_and_then_on_one_thread():
    """A worker's start does not import PyTorch (its tasks may not need it; the run's warm-up
    imports it where they do); imported by a task, its pool is one thread wide all the same."""
    with parallel.workers("local", 2, None, tasks=2) as pool:
        pool.pool.submit(parallel.probe, 0).result()                 # the worker started
        before, threads, pid = pool.pool.submit(torch_in_worker).result()
    assert pid != os.getpid()
    assert before is False and threads == parallel.TASK_THREADS == 1


def test_a_warm_up_that_fails_does_not_fail_the_tasks():
    with parallel.workers("local", 2, None, tasks=2, warm=(note_pid, ("/no/such/folder",))) as pool:
        out = pool.map(parallel.probe, TASKS[:2], log=lambda m: None)
    assert [r["value"] for r in out] == [0, 1]


def test_one_job_or_one_task_runs_here_and_calls_no_warm_up(tmp_path):
    for jobs, tasks in ((1, 4), (2, 1)):
        with parallel.workers("local", jobs, None, tasks=tasks,
                              warm=(note_pid, (str(tmp_path),))) as pool:
            out = pool.map(parallel.probe, TASKS[:tasks], log=lambda m: None)
        assert {r["pid"] for r in out} == {os.getpid()}
    assert list(tmp_path.iterdir()) == []


def test_a_refusal_in_the_block_ends_the_workers_at_once():
    """A plan refused while the workers still start (PyTorch importing, here a 120 s warm-up)
    does not wait for them, and ends them."""
    import time

    start = time.perf_counter()
    with pytest.raises(ValueError, match="refused"):
        with parallel.workers("local", 3, None, tasks=3, warm=(slow_warm, (120,))) as pool:
            processes = list(pool.pool._processes.values())
            time.sleep(0.5)
            raise ValueError("refused")
    assert time.perf_counter() - start < 8
    for process in processes:               # under a loaded suite a worker may take a while
        process.join(20)
    assert len(processes) == 2
    running = {p.pid: _state(p.pid) for p in processes if p.is_alive() and _state(p.pid)}
    assert running == {}, f"workers still running (pid: /proc state): {running}"


def _state(pid: int) -> str | None:
    """The process ``pid``'s state as /proc tells it ("S (sleeping)", …), None once it is gone
    or a zombie: whether the worker still runs, asked of the system. ``Process.is_alive``
    alone said, in loaded runs, that a worker lived on 20 s after its SIGTERM (why is not
    known: if another waiter in the test process reaped it, its own ``waitpid`` fails and it
    never reports the exit); a worker that really runs on is still caught here."""
    if not Path("/proc/self/status").exists():      # no /proc: ask whether the pid exists
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return "exists"
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return None
    state = next(line.split(":", 1)[1].strip() for line in status.splitlines()
                 if line.startswith("State:"))
    return None if state.startswith(("Z", "X")) else state


def test_run_warms_its_workers_with_the_backends_and_the_data():
    """runner.warm builds each backend (PyTorch and torch._dynamo imported) and loads the
    experiment's data into the process's cache, where the tasks find it."""
    import sys

    from experiments import runner
    from experiments.data import breast_cancer

    breast_cancer._split.cache_clear()
    runner.warm(("numpy", "torch"), "cpu", "breast-cancer-init", "quick", (), None)
    assert "torch._dynamo" in sys.modules
    assert breast_cancer._split.cache_info().currsize == 1


def test_the_device_a_run_came_to_is_the_one_its_fingerprint_resolves(tmp_path):
    """Workers report the device ``auto`` came to; the result's fingerprint, made from it
    where the main process never imported PyTorch, is the one a reuse check computes."""
    from experiments import results, runner

    spec = runner.RunSpec("optimizer-paths", out=tmp_path, device="auto")
    outcome = runner.compute_seed(spec.job(0))
    config = runner.plan(spec).config
    assert outcome.resolved == results.resolved_device(spec)
    assert (results.fingerprint(spec, config, resolved=outcome.resolved)
            == results.fingerprint(spec, config))


def test_versions_name_torch_as_torch_does():
    import torch

    from experiments import results
    assert results.versions()["torch"] == torch.__version__
