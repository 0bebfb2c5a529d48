"""Nothing a user does loses work or answers with a traceback (issue 34): faults of the disk, the
cluster, the data and the processes, each reproduced, each answered by one ``error:`` line with
its exit status — 2 bad arguments or data, 4 a file that could not be written, 5 a cluster lost
— and never a mixed, empty or littered result folder."""

from __future__ import annotations

import gzip
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from experiments import atomic, parallel, results
from experiments.cli import main
from experiments.data import mnist
from tests.test_data import idx_bytes

ROOT = Path(__file__).resolve().parent.parent


def _one_error(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _litter(folder: Path) -> list:
    return sorted(p.name for p in folder.iterdir() if ".new-" in p.name or ".old-" in p.name)


# -- the command line ---------------------------------------------------------------------------

def test_an_empty_out_is_refused_not_the_current_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "optimizer-paths", "--out", ""]) == 2
    assert "--out must name a folder, got ''" in _one_error(capsys)
    assert not any(tmp_path.iterdir())


def test_only_given_twice_keeps_both():
    from experiments.cli import _parser

    args = _parser().parse_args(["report", "--only", "optimizer-paths", "--only", "sanity-checks",
                                 "init-mnist"])
    assert args.only == ["optimizer-paths", "sanity-checks", "init-mnist"]


def test_arguments_are_checked_before_torch_or_the_data_is_loaded(tmp_path):
    """``--jobs 0`` used to be refused after importing torch and loading the data (4 s idle,
    40 s under load)."""
    argv = ["run", "breast-cancer-init", "--jobs", "0", "--out", str(tmp_path)]
    script = (f"import sys; from experiments.cli import main; code = main({argv!r}); "
              "print(code, 'torch' in sys.modules, 'sklearn' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.stdout.split() == ["2", "False", "False"], done.stdout + done.stderr


def test_a_missing_dependency_is_one_line_not_a_traceback(tmp_path):
    """Without the project's environment (matplotlib missing, say): the one error line that
    points to it, exit 2."""
    script = ("import sys; sys.modules['matplotlib'] = None; from experiments.cli import main; "
              f"sys.exit(main(['run', 'optimizer-paths', '--out', {str(tmp_path)!r}]))")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "error: the experiments need matplotlib" in done.stderr
    assert ".venv/bin/activate" in done.stderr


def _as_from_a_terminal() -> None:
    """In the child before it starts Python: SIGINT's default action, and not blocked."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


@pytest.mark.parametrize("module", ["experiments.settings", "matplotlib.pyplot", None])
def test_ctrl_c_while_loading_is_one_line_not_a_traceback(tmp_path, module):
    """Ctrl-C in the first moments (issue 34: the first 0.15 s) lands while modules load:
    while ``python -m experiments`` imports the command line, or while a command imports what
    it needs. Made exact here: the import of ``module`` raises KeyboardInterrupt (None: Ctrl-C
    at a real moment, 0.3 s in)."""
    out = str(tmp_path)
    if module is None:
        # Started as a terminal starts it: a child inherits an ignored or blocked SIGINT (a
        # background job's, or a test worker's after what ran before in it), and a Python
        # started so rightly never raises KeyboardInterrupt — the run then ends with exit 0.
        process = subprocess.Popen([sys.executable, "-m", "experiments", "run",
                                    "optimizer-paths", "--out", str(tmp_path)], cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                   preexec_fn=_as_from_a_terminal)
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        err = process.communicate(timeout=60)[1]
        code = process.returncode
    else:
        script = ("import runpy, sys\n"
                  "class Interrupt:\n"
                  "    def find_spec(self, name, path=None, target=None):\n"
                  f"        if name == {module!r}:\n"
                  "            raise KeyboardInterrupt\n"
                  "sys.meta_path.insert(0, Interrupt())\n"
                  f"sys.argv = {['experiments', 'run', 'optimizer-paths', '--out', out]!r}\n"
                  "runpy.run_module('experiments', run_name='__main__', alter_sys=True)\n")
        done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                              text=True, timeout=120)
        err, code = done.stderr, done.returncode
    assert "Traceback" not in err, err
    assert code in (130, -signal.SIGINT), (code, err)
    assert "interrupted" in err or code == -signal.SIGINT


# -- the disk -----------------------------------------------------------------------------------

def test_a_full_disk_while_writing_is_one_line_exit_4_and_leaves_the_old_set(tmp_path, capsys,
                                                                              monkeypatch):
    out = tmp_path / "out"
    assert main(["run", "optimizer-paths", "--out", str(out)]) == 0
    before = (out / "optimizer-paths" / "metrics.json").read_bytes()
    capsys.readouterr()

    def full(path, data):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(atomic, "write_bytes", full)
    assert main(["run", "optimizer-paths", "--seed", "7", "--out", str(out)]) == 4
    line = _one_error(capsys)
    assert "could not write" in line and "No space left on device" in line
    assert "free some space" in line
    assert (out / "optimizer-paths" / "metrics.json").read_bytes() == before
    assert _litter(out) == []


def test_too_little_free_space_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    real = os.statvfs

    class Almost:
        def __init__(self, path):
            stat = real(path)
            self.f_frsize, self.f_bavail = stat.f_frsize, 0

    monkeypatch.setattr(atomic.os, "statvfs", Almost)
    assert main(["run", "optimizer-paths", "--out", str(tmp_path / "out")]) == 2
    assert "MB free there" in _one_error(capsys)
    assert not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("depth, message", [
    (17, "cannot write there (File name too long)"),         # past the limit itself
    (16, "a path too long for the files a run writes inside it"),    # its files would be
])
def test_an_out_path_too_long_is_refused_first(tmp_path, capsys, depth, message):
    out = tmp_path.joinpath(*["x" * 250] * depth)
    if len(os.fsencode(out)) > os.pathconf(tmp_path, "PC_PATH_MAX") and depth == 16:
        pytest.skip("this temporary folder's path is already too long")
    assert main(["run", "optimizer-paths", "--out", str(out)]) == 2
    assert message in _one_error(capsys)


def test_a_lock_that_is_a_folder_is_one_line_exit_4(tmp_path, capsys):
    out = tmp_path / "out"
    (out / ".optimizer-paths.lock").mkdir(parents=True)
    assert main(["run", "optimizer-paths", "--out", str(out)]) == 4
    line = _one_error(capsys)
    assert ".optimizer-paths.lock" in line and "remove it" in line


# -- the result sets ----------------------------------------------------------------------------

def test_another_experiments_litter_is_cleaned_and_its_set_put_back(tmp_path):
    """A SIGKILL between the renames leaves ``.NAME.old-*`` (the set) and ``.NAME.new-*``: any
    command that reads the folder puts the set back and removes the dead run's leftovers — the
    index no longer drops NAME, and the litter does not wait for NAME's next run."""
    out = tmp_path / "out"
    assert main(["run", "optimizer-paths", "--out", str(out)]) == 0
    dead = 2 ** 22 + 12345                  # above any pid this machine hands out
    (out / "optimizer-paths").rename(out / f".optimizer-paths.old-{dead}-abc")
    (out / f".sanity-checks.new-{dead}-def").mkdir()
    from experiments import registry, report

    report.refresh_index(out)
    assert (out / "optimizer-paths" / "metrics.json").is_file()
    assert _litter(out) == []
    assert "optimizer-paths/index.html" in (out / "index.html").read_text()
    assert "optimizer-paths" in results.on_disk(out, registry.all_experiments())


@pytest.mark.parametrize("damage", ['{"figures": []}', '{"figures": [], "parity": null}', "[]"])
def test_another_experiments_damaged_results_never_block_this_command(tmp_path, capsys, damage):
    """Another experiment's metrics.json of ``{"figures": []}`` used to make every report fail
    with ``error: parity`` and every run with ``error: profile``: it is skipped (and rerun when
    that experiment's turn comes), and this command's index is whole."""
    out = tmp_path / "out"
    (out / "breast-cancer-init").mkdir(parents=True)
    (out / "breast-cancer-init" / "metrics.json").write_text(damage)
    (out / "index.html").write_text("an index to refresh")
    assert main(["run", "optimizer-paths", "--out", str(out)]) == 0
    assert "error:" not in capsys.readouterr().err
    index = (out / "index.html").read_text()
    assert "optimizer-paths/index.html" in index and "breast-cancer-init/index.html" not in index


def test_report_pages_describe_the_set_on_disk_not_the_one_it_held(tmp_path, monkeypatch):
    """``report`` and ``run`` into one folder at once: the report wrote NAME/index.html from
    its own result after a ``run`` had replaced the set. Pages are now written under the set's
    lock, from the set on disk."""
    from experiments import registry
    from experiments.report import building, render

    monkeypatch.setattr(render, "render_conventions", lambda conventions, extras: "")
    out = tmp_path / "out"
    assert main(["run", "optimizer-paths", "--out", str(out)]) == 0
    held = results.read(out / "optimizer-paths")                      # what a report holds
    assert main(["run", "optimizer-paths", "--seed", "7", "--out", str(out)]) == 0
    building._write_pages(out, {"optimizer-paths": held}, registry.all_experiments(), {},
                          "quick")
    page = (out / "optimizer-paths" / "index.html").read_text()
    on_disk = results.read(out / "optimizer-paths")
    assert on_disk.seed == 7 and held.seed == 0
    assert building.page_for(on_disk, registry.get("optimizer-paths"), out) == page


# -- the data -----------------------------------------------------------------------------------

def _mnist_folder(folder: Path, n: int = 20, labels=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for part, count in (("train", n), ("test", n)):
        images = rng.integers(0, 256, (count, 28, 28))
        tags = rng.integers(0, 10, count) if labels is None else labels[:count]
        for name, array in zip(mnist.FILES[part], (images, tags)):
            (folder / name).write_bytes(gzip.compress(idx_bytes(array)))
    return folder


@pytest.mark.parametrize("fault, message", [
    ("no images", "holds no images (its header declares 0)"),
    ("label 200", "labels must be digits 0–9, found 200"),
])
def test_bad_data_files_are_refused_before_training(tmp_path, capsys, monkeypatch, fault,
                                                    message):
    monkeypatch.setattr(mnist, "MD5", {kind: {} for kind in mnist.MD5})   # generated files
    if fault == "no images":
        folder = _mnist_folder(tmp_path / "data", n=0, labels=np.zeros(0, int))
    else:
        folder = _mnist_folder(tmp_path / "data", labels=np.array([3, 200] + [1] * 18))
    out = tmp_path / "out"
    code = main(["run", "optimizer-mnist", "--data-dir", str(folder), "--out", str(out)])
    assert code == 2 and message in _one_error(capsys)
    assert "running on" not in capsys.readouterr().err
    assert not (out / "optimizer-mnist").exists()


def test_runs_sharing_a_corrupt_cache_all_go_on(tmp_path, monkeypatch):
    """The first run moves the corrupt cached file aside; another that was reading it used to
    stop with "cannot read it (No such file)" (6 of 11 processes). It goes on to the next
    source, as the first does."""
    from experiments.data import DataError

    folder = _mnist_folder(tmp_path / "cache")
    monkeypatch.setattr(mnist, "MD5", {kind: {} for kind in mnist.MD5})
    victim = folder / mnist.FILES["train"][0]
    real, calls = mnist._from_folder, []

    def raced(folder_, kind, name, need_train=False):
        calls.append(1)
        if len(calls) == 1:                 # another run moves it aside while this one reads
            victim.rename(victim.with_name(victim.name + ".corrupt"))
            raise DataError(f"{victim}: cannot read it (No such file or directory)")
        return real(folder_, kind, name, need_train)

    monkeypatch.setattr(mnist, "_from_folder", raced)
    assert mnist._from_cache(folder, "mnist", "MNIST") is None      # the next source is asked
    assert len(calls) == 2


# -- processes and clusters ---------------------------------------------------------------------

def _children(pid: int) -> set:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_workers_die_with_a_killed_parent(tmp_path):
    # --jobs 3: this process computes beside two workers
    process = subprocess.Popen([sys.executable, "-m", "experiments", "run", "breast-cancer-init",
                                "--seeds", "4", "--jobs", "3", "--out", str(tmp_path / "out")],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline, workers = time.monotonic() + 90, set()
        while time.monotonic() < deadline and len(workers) < 2:
            time.sleep(0.2)
            workers = {c for c in _children(process.pid) if "spawn_main" in
                       Path(f"/proc/{c}/cmdline").read_bytes().decode(errors="replace")}
        assert len(workers) >= 2, "the workers never started"
        everyone = _children(process.pid)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(p) for p in everyone):
            time.sleep(0.2)
        assert not [p for p in everyone if _alive(p)], "orphans left running"
        out = tmp_path / "out"                  # killed while computing: nothing half-written
        assert not (out / "breast-cancer-init").exists() and _litter(out) == []
    finally:
        if process.poll() is None:
            process.kill()


def test_a_port_that_is_not_a_dask_scheduler_gives_up_in_one_line(tmp_path, capsys, monkeypatch):
    """A port that accepts TCP but never speaks Dask used to hang for ever, despite Client's
    10 s timeout (it covers the connection, not the handshake)."""
    pytest.importorskip("distributed")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    held = []
    threading.Thread(target=lambda: [held.append(server.accept()) for _ in range(4)],
                     daemon=True).start()
    monkeypatch.setattr(parallel, "CONNECT_TIMEOUT", 1)
    start = time.monotonic()
    try:
        code = main(["run", "optimizer-paths", "--executor", "dask", "--scheduler",
                     f"tcp://127.0.0.1:{server.getsockname()[1]}", "--out", str(tmp_path)])
    finally:
        server.close()
    assert code == 2 and time.monotonic() - start < 10
    assert "no Dask scheduler answers there within 1 s" in _one_error(capsys)
    assert not any(tmp_path.iterdir())


def test_a_scheduler_lost_mid_run_is_one_line_exit_5(capsys, monkeypatch):
    """The Dask scheduler killed mid-run used to end in ``FutureCancelledError``'s traceback."""
    pytest.importorskip("distributed")
    from distributed import LocalCluster

    from experiments.cli import EXECUTOR_LOST

    cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                           protocol="tcp://", host="127.0.0.1", scheduler_port=0,
                           dashboard_address=None)
    threading.Timer(2.0, cluster.close).start()
    with pytest.raises(parallel.ExecutorLost, match="went away mid-run"):
        parallel.run_all(parallel.probe, [(1, 6.0), (2, 6.0)], executor="dask",
                         scheduler=cluster.scheduler_address, log=lambda m: None)
    import experiments.cli as cli

    def lost(args):
        raise parallel.ExecutorLost("the Dask cluster (tcp://x:1) went away mid-run")

    monkeypatch.setattr(cli, "_run", lost)
    assert main(["run", "optimizer-paths"]) == EXECUTOR_LOST == 5
    assert "went away mid-run" in _one_error(capsys)


@pytest.mark.slow
def test_a_cluster_lost_mid_run_leaves_the_old_set_whole(tmp_path, capsys):
    """A run on a Dask cluster whose scheduler goes away: exit 5, and the folder holds the old
    set, whole, and nothing else (sets are written only once every seed is in)."""
    pytest.importorskip("distributed")
    from distributed import LocalCluster

    out = tmp_path / "out"
    assert main(["run", "breast-cancer-init", "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in (out / "breast-cancer-init").iterdir()}
    capsys.readouterr()
    cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                           protocol="tcp://", host="127.0.0.1", scheduler_port=0,
                           dashboard_address=None)
    threading.Timer(3.0, cluster.close).start()
    code = main(["run", "breast-cancer-init", "--seed", "5", "--seeds", "4", "--executor", "dask",
                 "--scheduler", cluster.scheduler_address, "--out", str(out)])
    assert code == 5 and "went away mid-run" in _one_error(capsys)
    after = {p.name: p.read_bytes() for p in (out / "breast-cancer-init").iterdir()}
    assert after == before and _litter(out) == []
