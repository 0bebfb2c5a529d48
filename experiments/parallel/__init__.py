"""Where tasks run: in this process, in J worker processes, or on a Dask cluster — with the same
results whichever (docs/results.md: byte-identical metrics.json apart from timings).

An executor maps a module-level function over a list of arguments and returns the results in the
order of the list, whatever order they finish in, reporting progress as they do. A task's result
depends only on its arguments (every random draw comes from a seed in them), so where it ran
cannot change it.

* ``local`` with ``jobs=1``: one after the other, in this process.
* ``local`` with ``jobs=J`` (``"auto"``: the machine's cores): J at a time, in this process and
  J − 1 worker processes (started with ``spawn``, so that no thread pool of a parent BLAS or
  PyTorch is inherited half-initialized), from one queue.
* ``dask``: ``dask.distributed`` — a ``LocalCluster`` of worker processes without ``scheduler``,
  or the cluster at ``scheduler`` (``tcp://host:8786``). Workers load their data themselves:
  the embedded sources ship with the installed packages; a ``--data-dir`` must be reachable at
  the same path on every worker.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing
import os
import sys
import time

EXECUTORS = ("local", "dask")
DASK_INSTALL = "pip install 'dask[distributed]' (or the project's extra: pip install -e '.[dask]')"


class ExecutorError(ValueError):
    """An executor that cannot be had: a bad ``--jobs``, Dask missing, a scheduler that does
    not answer."""


class ExecutorLost(RuntimeError):
    """The executor went away mid-run (a Dask scheduler or its workers killed): the results
    written so far are whole, the run in progress was not kept."""


#: Seconds a Dask scheduler has to answer who it is before the run gives up on it.
CONNECT_TIMEOUT = 10


def jobs_from(value) -> int:
    """``--jobs``: an int >= 1, or ``"auto"`` for the machine's cores."""
    if value in (None, ""):
        return 1
    if str(value).lower() == "auto":
        return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                   else os.cpu_count() or 1)
    try:
        jobs = int(value)
    except (TypeError, ValueError):
        jobs = 0
    if isinstance(value, bool) or jobs < 1 or str(jobs) != str(value).strip():
        raise ExecutorError(f"--jobs must be an int >= 1 or 'auto', got {value!r}")
    return jobs


def check(executor: str, jobs, scheduler, *, probe: bool = False) -> tuple[str, int, str | None]:
    """The executor's settings, refused before any work: a known kind, a valid ``--jobs``, a
    scheduler only with Dask and of the form ``tcp://host:port``, Dask installed — and, with
    ``probe``, a scheduler that answers as one within :data:`CONNECT_TIMEOUT` seconds."""
    if executor not in EXECUTORS:
        raise ExecutorError(f"--executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    jobs = jobs_from(jobs)
    if scheduler is not None:
        if executor != "dask":
            raise ExecutorError("--scheduler needs --executor dask")
        if not _address_ok(scheduler):
            raise ExecutorError(f"--scheduler must be an address like tcp://host:8786, got "
                                f"{scheduler!r}")
    if executor == "dask":
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise ExecutorError(f"--executor dask needs Dask distributed: {DASK_INSTALL}") from None
        if probe and scheduler is not None:
            _probe(scheduler)
    return executor, jobs, scheduler


def _address_ok(address: str) -> bool:
    """``scheme://host:port``, parseable (``tcp://[::1`` is not)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(address)
        return bool(parts.scheme and parts.hostname and parts.port is not None)
    except ValueError:
        return False


def _probe(scheduler: str) -> None:
    """Ask ``scheduler`` who it is, giving up after :data:`CONNECT_TIMEOUT` seconds: a port
    that accepts connections but never speaks Dask's protocol would hang ``Client`` for ever
    (its own timeout covers the connection, not the handshake)."""
    import asyncio

    from distributed.comm import connect

    async def identity():
        comm = await asyncio.wait_for(connect(scheduler, timeout=CONNECT_TIMEOUT),
                                      CONNECT_TIMEOUT)
        try:
            await asyncio.wait_for(comm.write({"op": "identity"}), CONNECT_TIMEOUT)
            return await asyncio.wait_for(comm.read(), CONNECT_TIMEOUT)
        finally:
            comm.abort()

    try:
        answer = asyncio.run(identity())
    except (OSError, TimeoutError, asyncio.TimeoutError) as error:
        raise ExecutorError(f"--scheduler {scheduler}: no Dask scheduler answers there within "
                            f"{CONNECT_TIMEOUT} s ({type(error).__name__}"
                            f"{': ' + str(error) if str(error) else ''})") from None
    if not isinstance(answer, dict) or answer.get("type") != "Scheduler":
        raise ExecutorError(f"--scheduler {scheduler}: what answers there is not a Dask "
                            f"scheduler")


def run_all(fn, tasks: list, *, executor: str = "local", jobs=1, scheduler=None,
            labels=None, log=None) -> list:
    """``[fn(*task) for task in tasks]``, run by the executor; results in the order of
    ``tasks``. ``labels`` name the tasks in the progress lines written to ``log``."""
    with workers(executor, jobs, scheduler, tasks=len(tasks)) as pool:
        return pool.map(fn, tasks, labels=labels, log=log)


@contextlib.contextmanager
def workers(executor: str = "local", jobs=1, scheduler=None, *, tasks: int | None = None,
            warm=None):
    """The executor's workers, started as the block begins, so that their start — a process,
    Python, PyTorch and the data loaded in each — runs while this process plans the run
    (``pool.map(fn, tasks, labels=…, log=…, meanwhile=…, ready=…)`` in the block runs the
    tasks, calling ``meanwhile()`` here once they are handed out and, with ``ready=(n,
    then)``, ``then(results of the first n tasks)`` here as soon as those are done and this
    process is free, while the others run). ``tasks``: how many
    there will be, at most (no more workers than tasks). ``warm``: ``(function, args)``, a
    module-level function every worker calls once as it starts (:func:`start_worker`), its
    errors ignored — what it loads is what the tasks would load first. A block that raises
    (a refusal in the plan) ends the workers at once rather than waiting for their start."""
    executor, jobs, scheduler = check(executor, jobs, scheduler)
    if tasks is not None:
        jobs = max(1, min(jobs, tasks))
    if executor == "dask" and tasks != 0:
        pool = _Dask(jobs, scheduler, warm)
    elif jobs == 1 or executor == "dask":
        pool = _InProcess()
    else:
        pool = _Processes(jobs, warm)
    try:
        yield pool
    except BaseException:
        pool.close(abort=True)
        raise
    pool.close()


class _InProcess:
    """``jobs=1``: one task after the other, in this process (``meanwhile`` is not called:
    nothing runs beside the tasks)."""

    jobs = 1

    def map(self, fn, tasks, *, labels=None, log=None, meanwhile=None, ready=None) -> list:
        progress, out, ready = _Progress(labels, len(tasks), log), [], _Ready(ready)
        for i, task in enumerate(tasks):
            progress.started([i])
            out.append(fn(*task))
            progress.finished(i)
            ready.check(out, range(i + 1, len(tasks)))
        return out

    def close(self, abort: bool = False) -> None:
        pass


def _meanwhile(meanwhile) -> None:
    """``meanwhile()``, this process's own work while the workers compute (what it will need
    once they are done, loaded now); its errors ignored, met again where that work is done."""
    if meanwhile is None:
        return
    try:
        meanwhile()
    except Exception:
        pass


def _ready() -> None:
    """A task that does nothing: submitting one per worker starts every worker at once."""


class _Ready:
    """``ready=(n, then)`` of a map: ``then(results[:n])``, called once, here, as soon as the
    first ``n`` tasks are done (None: nothing to call)."""

    def __init__(self, ready):
        self.count, self.then = ready if ready is not None else (0, None)

    def due(self, left) -> bool:
        """Whether ``then`` is still to be called and the first ``n`` tasks are done
        (``left``: the indices of the tasks not done)."""
        return self.then is not None and not any(i < self.count for i in left)

    def call(self, out) -> None:
        then, self.then = self.then, None
        then(out[:self.count])

    def check(self, out, left) -> None:
        if self.due(left):
            self.call(out)


class _Processes:
    """``jobs=J``: J tasks at a time — this process and J − 1 worker processes (started with
    ``spawn``, kept for every task of the run) take them in turn from one queue. This process
    computes too because it loads PyTorch and the data anyway (for the plan and the pages):
    a J-th worker would load them once more, beside it, on cores the tasks need."""

    def __init__(self, jobs: int, warm):
        self.jobs = jobs
        self.pool = concurrent.futures.ProcessPoolExecutor(
            jobs - 1, mp_context=multiprocessing.get_context("spawn"),
            initializer=start_worker, initargs=(TASK_THREADS, os.getpid(), warm))
        # ProcessPoolExecutor spawns a worker per task submitted while none is idle: one empty
        # task per worker starts them all now, not as the run's tasks arrive.
        for _ in range(jobs - 1):
            self.pool.submit(_ready)

    def map(self, fn, tasks, *, labels=None, log=None, meanwhile=None, ready=None) -> list:
        import collections
        import threading

        progress, out = _Progress(labels, len(tasks), log), [None] * len(tasks)
        waiting, running, lock = collections.deque(range(len(tasks))), {}, threading.Lock()
        failed, ready, finished = [], _Ready(ready), threading.Event()

        def check_ready():
            """``ready``'s call, here, once its tasks are done (not under the lock: it is
            work of this process's, while the workers go on)."""
            with lock:
                due = ready.due(progress.left)
            if due:
                ready.call(out)

        def take():
            with lock:
                if failed or not waiting:
                    return None
                return waiting.popleft()

        def feed():
            """The workers' side, in a thread: each worker handed the next task the moment it
            is free (this process, busy with a task of its own, cannot), results kept."""
            try:
                _feed()
            except BaseException as error:          # the pool broken: a worker killed
                with lock:
                    failed.append(error)

        def _feed():
            while True:
                with lock:
                    while not failed and waiting and len(running) < self.jobs - 1:
                        i = waiting.popleft()
                        running[self.pool.submit(fn, *tasks[i])] = i
                    if not running:
                        return
                    current = list(running)
                done, _ = concurrent.futures.wait(
                    current, return_when=concurrent.futures.FIRST_COMPLETED)
                with lock:
                    for future in done:
                        i = running.pop(future)
                        if future.exception() is not None:
                            failed.append(future.exception())
                        else:
                            out[i] = future.result()
                            progress.finished(i)
                finished.set()

        feeder = threading.Thread(target=feed, name="feed-workers", daemon=True)
        progress.started(list(range(min(self.jobs, len(tasks)))))
        feeder.start()
        try:
            while (i := take()) is not None:
                out[i] = fn(*tasks[i])
                with lock:
                    progress.finished(i)
                check_ready()
            _meanwhile(meanwhile)
            while ready.then is not None and feeder.is_alive() and not failed:
                check_ready()                       # as the workers finish the first tasks
                finished.wait(0.05)
                finished.clear()
            feeder.join()
            if failed:
                raise failed[0]                     # a worker's error, raised here
            check_ready()
        except BaseException:
            with lock:
                waiting.clear()
                for future in running:
                    future.cancel()
            raise
        return out

    def close(self, abort: bool = False) -> None:
        if not abort:
            # The workers exit (PyTorch's teardown, a second) while this process writes the
            # results; Python waits for them, if still needed, as it exits.
            self.pool.shutdown(wait=False)
            return
        # A worker still importing PyTorch would hold the exit for seconds: ended now (Python
        # 3.14's terminate_workers; before it, the pool's own table of its processes).
        terminate = getattr(self.pool, "terminate_workers", None)
        if terminate is not None:
            terminate()
            return
        for process in list((getattr(self.pool, "_processes", None) or {}).values()):
            process.terminate()
        self.pool.shutdown(wait=False, cancel_futures=True)


class _Dask:
    """``dask.distributed``: a LocalCluster of J single-threaded worker processes, or the
    cluster at ``scheduler``; its workers are warmed once each (a long-lived cluster's keep
    what they loaded for the next run)."""

    def __init__(self, jobs: int, scheduler, warm):
        from distributed import Client, LocalCluster

        self.scheduler, self.cluster, self.jobs = scheduler, None, jobs
        if scheduler is not None:
            _probe(scheduler)
        try:
            if scheduler is None:
                self.cluster = LocalCluster(n_workers=jobs, threads_per_worker=1,
                                            processes=True, host="127.0.0.1",
                                            dashboard_address=None)
                self.client = Client(self.cluster)
            else:
                self.client = Client(scheduler, timeout="10s")
        except OSError as error:
            if self.cluster is not None:
                self.cluster.close()
            raise ExecutorError(f"--scheduler {scheduler}: no Dask scheduler answers there "
                                f"({error})") from None
        if warm is not None:
            import threading

            threading.Thread(target=self._warm, args=(warm,), name="warm-dask-workers",
                             daemon=True).start()

    def _warm(self, warm) -> None:
        try:
            self.client.run(_warm, warm)
        except Exception:       # only a head start: a task meets whatever went wrong itself
            pass

    def map(self, fn, tasks, *, labels=None, log=None, meanwhile=None, ready=None) -> list:
        from distributed import as_completed
        from distributed.comm import CommClosedError

        progress, ready = _Progress(labels, len(tasks), log), _Ready(ready)
        # pure=False: every task runs, even two with equal arguments (timings are per run).
        futures = [self.client.submit(fn, *task, pure=False, key=f"{progress.labels[i]}-{i}")
                   for i, task in enumerate(tasks)]
        progress.started(list(range(len(tasks))))
        _meanwhile(meanwhile)
        index = {future.key: i for i, future in enumerate(futures)}
        out = [None] * len(tasks)
        try:
            for future in as_completed(futures):
                i = index[future.key]
                out[i] = future.result()
                progress.finished(i)
                ready.check(out, progress.left)
        except (concurrent.futures.CancelledError, CommClosedError) as error:
            where = self.scheduler or "this machine's LocalCluster"
            raise ExecutorLost(f"the Dask cluster ({where}) went away mid-run "
                               f"({type(error).__name__}): results written so far are whole; "
                               f"the run in progress was not kept") from None
        return out

    def close(self, abort: bool = False) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


class _Progress:
    """One line per task that finishes: what it was, how many are left, the time so far."""

    def __init__(self, labels, count: int, log):
        labels = list(labels) if labels is not None else [f"task {i + 1}" for i in range(count)]
        self.labels, self.log = labels, log or (lambda message: print(message, file=sys.stderr,
                                                                      flush=True))
        self.left, self.start = set(range(len(labels))), time.perf_counter()

    def started(self, indices) -> None:
        if len(self.labels) > 1:
            self.log(f"running {', '.join(self.labels[i] for i in indices)} "
                     f"({len(self.labels)} tasks)")

    def finished(self, i: int) -> None:
        self.left.discard(i)
        if len(self.labels) > 1:
            self.log(f"done {self.labels[i]}; {len(self.left)} of {len(self.labels)} left "
                     f"({time.perf_counter() - self.start:.1f} s)")


#: BLAS and PyTorch threads per task: one, whatever the executor, ``--jobs`` or the machine's
#: cores. OpenBLAS's matrix products and PyTorch's sums round differently on one thread and on
#: two — measured here: a (300×784)·(784×100) float64 product, every float32 product of the
#: MNIST experiments' sizes, and the weight penalty of overfit-weight-decay differ in their last
#: bits — so a thread count that followed ``--jobs`` (each of J workers taking its share of the
#: cores) made three MNIST experiments' results follow it too. With one thread a task computes
#: the same bits wherever it runs; ``--jobs`` is what uses the cores.
TASK_THREADS = 1


@contextlib.contextmanager
def task_threads(threads: int = TASK_THREADS, torch_too: bool = True):
    """Run the block with ``threads`` BLAS (threadpoolctl) and, with ``torch_too``, PyTorch
    threads, restoring both after: every task runs inside it, in this process as in a worker
    (:data:`TASK_THREADS`)."""
    from threadpoolctl import threadpool_limits

    torch = None
    if torch_too:
        try:
            import torch
        except ImportError:
            torch = None
    before = torch.get_num_threads() if torch is not None else None
    try:
        with threadpool_limits(threads):
            if torch is not None:
                torch.set_num_threads(threads)
            yield
    finally:
        if before is not None:
            torch.set_num_threads(before)


def start_worker(threads: int, parent: int, warm=None) -> None:
    """A worker process's start: a watch that ends it once ``parent`` (the process that
    started it) is gone — a SIGKILL of ``run``'s main process would otherwise leave its
    workers computing and waiting for tasks for ever — then its thread pools
    (:func:`limit_threads`), then ``warm`` (:func:`workers`)."""
    import threading

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()
    limit_threads(threads)
    _warm(warm)


def _warm(warm) -> None:
    """``function(*args)`` for ``warm = (function, args)``; its errors ignored: it is only a head
    start, and a task meets whatever went wrong itself, where it is reported."""
    if warm is None:
        return
    function, args = warm
    try:
        function(*args)
    except Exception:
        pass


def limit_threads(threads: int) -> None:
    """A worker process's thread pools, set once as it starts: ``threads`` (:data:`TASK_THREADS`)
    for OpenMP, BLAS and PyTorch, so no worker starts a pool as wide as the machine. PyTorch is
    not imported for it (a second of a worker whose tasks may not need it): where a task or the
    warm-up imports it later, it takes its pool's width from ``OMP_NUM_THREADS``, set here."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    from threadpoolctl import threadpool_limits
    threadpool_limits(threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)


def probe(value, delay: float = 0.0) -> dict:
    """A task that sleeps ``delay`` seconds and says where it ran: for checking an executor
    (``run_all(probe, [(1, 0.2), (2, 0.0)], executor="dask")`` returns in the tasks' order)."""
    time.sleep(delay)
    return {"value": value, "pid": os.getpid()}
