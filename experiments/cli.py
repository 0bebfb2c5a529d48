"""``python -m experiments list | run | report | notebook | bench`` — see ``--help`` of each."""

from __future__ import annotations

import argparse
import os
import sys

from experiments import backends as backend_registry
from experiments import i18n
from experiments.bench.steps import GEMM_SIZE
from experiments.data import DataError
from experiments.parallel import ExecutorError, ExecutorLost
from experiments.settings import PROFILES, ConfigError
from npref.guard import NonFiniteError

DESCRIPTION = """\
Side-by-side experiments of "Deep Learning from Scratch", chapter 6, on NumPy (npref) and
PyTorch (torchref). Each experiment runs on both backends and records how far apart they land.

  python -m experiments list                      the catalogue, one line each
  python -m experiments run optimizer-paths       run one, write OUT/NAME/metrics.json + figures
  python -m experiments report --profile quick    run them all, write OUT/index.html
  python -m experiments notebook --all            every experiment as a Jupyter notebook
  python -m experiments bench                     time a training step, both backends vs PyTorch
"""


#: Exit status (docs/bad-input.md): what each outcome returns.
DONE, DISAGREE, BAD_INPUT, DIVERGED, NOT_WRITTEN, EXECUTOR_LOST, INTERRUPTED = \
    0, 1, 2, 3, 4, 5, 130

#: A module the experiments need, missing: almost always the system Python instead of the
#: project's environment (as the torch backend says of PyTorch).
NO_MODULE = ("the experiments need {module}, which {python} does not have: use the project's "
             "environment (`. .venv/bin/activate`, or `.venv/bin/python -m experiments ...`); "
             "`make report` creates .venv with everything in it, or without make: "
             "`python3 -m venv .venv && .venv/bin/pip install -e '.[experiments]'`")


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one ``error:`` line (and exit 2), not a usage block."""

    def error(self, message):
        sys.stderr.write(f"error: {message} (see {self.prog} --help)\n")
        raise SystemExit(BAD_INPUT)


def main(argv=None) -> int:
    """The command line; returns the exit status. Bad input is one ``error:`` line and 2, a
    diverged run 3, a file that could not be written (disk full, a path too long) 4, a Dask
    cluster lost mid-run 5, Ctrl-C 130 — never a traceback for any of them."""
    try:
        parser = _parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return BAD_INPUT
        return args.handler(args)
    except BrokenPipeError:
        # `python -m experiments list | head`: the reader left early; nothing went wrong here.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return DONE
    except KeyboardInterrupt:
        print("interrupted: results written so far are whole; the set in progress was not "
              "kept", file=sys.stderr)
        return INTERRUPTED
    except (ConfigError, DataError, ExecutorError, backend_registry.BackendUnavailable,
            KeyError) as error:
        message = error.args[0] if isinstance(error, KeyError) else str(error)
        print(f"error: {message}", file=sys.stderr)
        return BAD_INPUT
    except NonFiniteError as error:
        print(f"error: training diverged: {error}", file=sys.stderr)
        return DIVERGED
    except ExecutorLost as error:
        print(f"error: {error}", file=sys.stderr)
        return EXECUTOR_LOST
    except ModuleNotFoundError as error:
        print(f"error: {NO_MODULE.format(module=error.name, python=sys.executable)}",
              file=sys.stderr)
        return BAD_INPUT
    except OSError as error:
        print(f"error: {not_written(error)}", file=sys.stderr)
        return NOT_WRITTEN


def not_written(error: OSError) -> str:
    """An OSError met while writing results, in one line: what, where, and what to do."""
    what = error.strerror or str(error)
    where = f": {error.filename}" if error.filename else ""
    hint = {28: " — free some space, or write elsewhere with --out",
            36: " — choose a shorter --out",
            21: " — a folder stands where this file must go: remove it"}.get(error.errno, "")
    return f"could not write{where}: {what}{hint}"


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m experiments", description=DESCRIPTION,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="{list,run,report,notebook,bench}")

    p = sub.add_parser("list", help="list the experiments with a one-line description")
    p.set_defaults(handler=_list)

    p = sub.add_parser("run", help="run one experiment on one or both backends", add_help=False,
                       description="Run one experiment; write OUT/NAME/metrics.json, its "
                                   "figures and its page. Exit status: 0 done, 1 the backends "
                                   "disagree, 2 bad arguments or data, 3 training diverged "
                                   "(NaN/Inf), 4 a file could not be written (disk full, a path "
                                   "too long), 5 the Dask cluster was lost. `run NAME --help` "
                                   "lists NAME's settings, their defaults and ranges (the keys "
                                   "of --set).")
    p.add_argument("-h", "--help", action="store_true",
                   help="show this help, or with NAME the experiment's settings, and exit")
    p.add_argument("name", nargs="?", help="experiment name (see `list`)")
    p.add_argument("--backend", choices=("numpy", "torch", "both"), default="both",
                   help="which backend(s) to run (default: both, and compare them)")
    _common(p)
    p.add_argument("--out", default="results", help="output folder (default: results)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override a configuration value (repeatable); an unknown key lists "
                        "the valid ones")
    p.set_defaults(handler=_run)

    p = sub.add_parser("report", help="run the experiments and write a static HTML report",
                       description="Run every experiment (or those named by --only) on both "
                                   "backends and write OUT/index.html — with a page per "
                                   "experiment and a page measuring the book-vs-PyTorch "
                                   "conventions — which opens from disk. Results whose "
                                   "configuration and code are unchanged are reused.")
    _common(p)
    p.add_argument("--out", default="results", help="output folder (default: results)")
    p.add_argument("--only", nargs="+", action="extend", metavar="NAME",
                   help="only these experiments (--only a b, or --only a --only b)")
    p.add_argument("--force", action="store_true",
                   help="rerun every experiment, even those whose configuration and code are "
                        "unchanged since their last run")
    p.set_defaults(handler=_report)

    p = sub.add_parser("notebook", help="write experiments as Jupyter notebooks to run and change",
                       description="Write one Jupyter notebook per experiment, generated from "
                                   "the catalogue: the lesson, the settings as an editable cell, "
                                   "the run on both backends, the figures, the claims judged "
                                   "with ✓/✗, the parity verdict and the rule side by side — and "
                                   "the project's wheel beside them, which a notebook's first "
                                   "cell installs in Colab. Outputs are empty unless --execute "
                                   "runs each notebook in a fresh kernel (working folder OUT) "
                                   "and stores its outputs. Exit status: 0 done, 1 a notebook "
                                   "failed to run or its backends disagree, 2 bad arguments.")
    p.add_argument("names", nargs="*", metavar="NAME", help="experiment names (see `list`)")
    p.add_argument("--all", action="store_true", help="every experiment of the catalogue")
    p.add_argument("--out", default="notebooks", help="output folder (default: notebooks)")
    p.add_argument("--lang", choices=i18n.LANGUAGES, default="en",
                   help="the notebooks' language: their prose, comments and the run's findings "
                        "and figures — en (English) or ko (Korean) (default: en)")
    p.add_argument("--profile", choices=PROFILES, default="quick",
                   help="whose settings the settings cell starts from (default: quick)")
    p.add_argument("--seed", type=int, default=0, help="the settings cell's seed (default: 0)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="start the settings cell from this value (repeatable; a key every named "
                        "experiment must take)")
    p.add_argument("--source", default=None, metavar="REQUIREMENT",
                   help="what the install cell installs where the project is not importable "
                        "(Colab): a pip requirement such as 'npref[experiments] @ "
                        "git+https://…'; default: the wheel written beside the notebooks")
    p.add_argument("--execute", action="store_true",
                   help="run each notebook in a fresh kernel and store its outputs (needs "
                        "nbclient and ipykernel: pip install -e '.[notebook]')")
    p.add_argument("--timeout", type=int, default=1200, metavar="S",
                   help="with --execute, the longest one cell may run, in seconds "
                        "(default: 1200)")
    p.set_defaults(handler=_notebook)

    p = sub.add_parser("bench", help="time one training step: npref, torchref, plain PyTorch",
                       description="Time one training step (forward, backward, Adam) of the "
                                   "book's 784-[100×4]-10 MLP at batch 128 and 1024, float32 "
                                   "and float64, for npref, torchref and a plain PyTorch eager "
                                   "loop, next to the machine's float32 GEMM throughput; each "
                                   "implementation in its own process, in rounds; 1½–2 "
                                   "minutes on 2 cores, said at the start. Writes "
                                   "OUT/bench/bench.json and OUT/bench/index.html.")
    p.add_argument("--out", default="results", help="output folder (default: results)")
    p.add_argument("--rounds", type=int, default=None,
                   help="rounds over every configuration (default: 5, with --floor 2; under 3, "
                        "no spread: every figure is flagged)")
    p.add_argument("--blocks", type=int, default=5, help="timed blocks per turn (default: 5)")
    p.add_argument("--steps", type=int, default=20, help="steps per block (default: 20)")
    p.add_argument("--warmup", type=int, default=10, help="untimed steps first (default: 10)")
    p.add_argument("--batch", type=int, nargs="+", default=[128, 1024],
                   help="CPU batch sizes (default: 128 1024)")
    p.add_argument("--dtype", nargs="+", choices=("float32", "float64"),
                   default=["float32", "float64"], help="dtypes (default: both)")
    p.add_argument("--gemm-size", type=int, default=GEMM_SIZE, metavar="N",
                   help="the GEMM's matrices, N×N float32 (default: 4096; a smaller one for a "
                        "quick check: its throughput is lower than a large product's)")
    p.add_argument("--floor", action="store_true",
                   help="instead: time each experiment's PyTorch side (its quick profile, or "
                        "--profile) with torchref and with a plain hand-written PyTorch loop of "
                        "the same arithmetic, in turn (--rounds each, default 2 here), beside "
                        "NumPy's; prints torchref/plain and torch/numpy per experiment and "
                        "writes OUT/bench/floor.json (about 8 minutes for the catalogue on 2 "
                        "cores)")
    p.add_argument("--only", nargs="+", metavar="NAME", default=None,
                   help="with --floor: these experiments only (default: all)")
    p.add_argument("--profile", choices=("quick", "full"), default=None,
                   help="with --floor: the profile timed (default: quick)")
    p.set_defaults(handler=_bench)
    return parser


def _common(p):
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="device of the torch backend (default: auto = CUDA when available)")
    p.add_argument("--profile", choices=PROFILES, default="quick",
                   help="quick: seconds on a laptop; full: the book's settings (default: quick)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--data-dir", default=None,
                   help="folder with data files (MNIST IDX files) instead of the built-in sources")
    p.add_argument("--seeds", type=int, default=1, metavar="N",
                   help="run seeds SEED … SEED+N−1, each on both backends; findings say in how "
                        "many seeds they held, figures show the median and the spread "
                        "(default: 1)")
    p.add_argument("--jobs", default="1", metavar="J|auto",
                   help="how many seeds (and, for report, experiments) run at a time: this "
                        "process and J-1 worker processes; auto = this machine's cores; the "
                        "results do not depend on it (default: 1)")
    p.add_argument("--executor", choices=("local", "dask"), default="local",
                   help="local: this machine; dask: Dask distributed — a LocalCluster of --jobs "
                        "workers, or the cluster at --scheduler (default: local)")
    p.add_argument("--scheduler", default=None, metavar="ADDR",
                   help="a running Dask scheduler, tcp://host:8786 (with --executor dask)")
    p.add_argument("--lang", choices=i18n.LANGUAGES, default="en",
                   help="the language of the pages, findings and figures: en (English) or ko "
                        "(한국어); results are shared, so switching reruns nothing "
                        "(default: en)")


def _list(args) -> int:
    from experiments.registry import all_experiments
    experiments = all_experiments()
    width = max(map(len, experiments))
    for name, experiment in experiments.items():
        print(f"{name:<{width}}  {experiment.description_for()}")
    return 0


def _check_common(args) -> None:
    """``run`` and ``report``'s arguments that need no experiment, refused before anything is
    imported or loaded: the seeds, the executor, contradictory flags, the output folder."""
    from experiments import atomic, parallel, settings
    settings.check_seed(args.seed)
    settings.check_seeds(args.seeds)
    parallel.check(args.executor, args.jobs, args.scheduler, probe=True)
    if getattr(args, "backend", "both") == "numpy" and args.device == "cuda":
        raise ConfigError("--device cuda is the torch backend's, and --backend numpy runs only "
                          "NumPy (on the CPU): drop --device, or use --backend torch or both")
    try:
        atomic.check_out(args.out)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def _run(args) -> int:
    """Run one experiment into its result set — its page rendered by the report, into the same
    set — then refresh the report's index where one exists."""
    if args.help:
        return _run_help(args)
    if args.name is None:
        raise ConfigError("run needs an experiment name (see `python -m experiments list`)")
    _check_common(args)
    from experiments import registry, report, runner
    chosen = backend_registry.BACKENDS if args.backend == "both" else (args.backend,)
    spec = runner.RunSpec(args.name, profile=args.profile, seed=args.seed, seeds=args.seeds,
                          sets=tuple(args.sets), backends=chosen, device=args.device,
                          data_dir=args.data_dir, out=args.out)
    experiment = registry.get(args.name)
    with i18n.language(args.lang):
        result = runner.run(spec, jobs=args.jobs, executor=args.executor,
                            scheduler=args.scheduler,
                            pages=report.page_writers(experiment, spec.out))
        report.ship_wheel(spec.out)
        if (spec.out / report.PAGES["index"]).exists():
            report.refresh_index(spec.out)
    if result.parity.passed is False:
        from experiments.backends.parity import failure_summary
        print(f"run: {failure_summary(result.experiment, result.parity)}", file=sys.stderr)
        return DISAGREE
    return DONE


def _run_help(args) -> int:
    """``run --help``; with a name, the experiment's settings: key, default, quick profile's
    value, meaning and range."""
    from experiments import registry
    from experiments.settings import describe
    if args.name is None:
        _parser()._subparsers._group_actions[0].choices["run"].print_help()
        return DONE
    experiment = registry.get(args.name)
    rows = describe(experiment.settings, experiment.profiles)
    print(f"{args.name}: {experiment.description_for()}\n")
    print("settings (--set KEY=VALUE), the default (the full profile, the source's settings) "
          "and the quick profile's value where it differs:\n")
    width = max(len(k) for k, *_ in rows)
    for key, default, quick, meaning in rows:
        shown = default + (f" (quick: {quick})" if quick else "")
        print(f"  {key:<{width}}  {shown}\n  {'':<{width}}  {meaning}")
    return DONE


def _bench(args) -> int:
    from experiments import atomic, bench
    if not args.floor and (args.only or args.profile):
        raise ConfigError("--only and --profile choose what bench --floor times: add --floor")
    if args.rounds is None:
        args.rounds = 2 if args.floor else 5
    for name in ("rounds", "blocks", "steps"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name} must be an int >= 1, got {getattr(args, name)}")
    if args.warmup < 0:
        raise ConfigError(f"--warmup must be an int >= 0, got {args.warmup}")
    if any(b < 1 for b in args.batch):
        raise ConfigError(f"--batch must be ints >= 1, got {args.batch}")
    if not 16 <= args.gemm_size <= 16384:
        raise ConfigError(f"--gemm-size must be an int from 16 to 16384, got {args.gemm_size}")
    try:
        atomic.check_out(args.out)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    if args.floor:
        return _bench_floor(args)
    result = bench.run(out=args.out, rounds=args.rounds, warmup=args.warmup, blocks=args.blocks,
                       steps=args.steps, batches=args.batch, dtypes=args.dtype,
                       gemm_size=args.gemm_size,
                       log=lambda m: print(m, file=sys.stderr, flush=True))
    page = bench.write_page(result, args.out)
    print("\n".join(bench.table(result)))
    print(f"machine float32 GEMM: {result['machine_gflops']:.0f} GFLOP/s; load average "
          f"{result['load_average']['before']:.1f} before, {result['load_average']['after']:.1f} "
          f"after ({result['cpu_count']} CPUs); {result['seconds']:.0f} s; page: {page}")
    return 0


def _bench_floor(args) -> int:
    from pathlib import Path

    from experiments import registry
    from experiments.atomic import write_json
    names = args.only or list(registry.all_experiments())
    for name in names:
        if name not in registry.all_experiments():
            raise ConfigError(registry.unknown(name, registry.all_experiments()))
    from experiments.bench import floor
    result = floor.measure(names, profile=args.profile or "quick", rounds=args.rounds,
                           log=lambda m: print(m, flush=True))
    write_json(Path(args.out) / "bench" / "floor.json", result)
    print(f"load average {result['load_average']['before']:.1f} before, "
          f"{result['load_average']['after']:.1f} after ({os.cpu_count()} CPUs); "
          f"{Path(args.out) / 'bench' / 'floor.json'}")
    return 0


def _notebook(args) -> int:
    """Write (and with --execute run) the notebooks; every argument checked before any work."""
    from experiments import notebook, registry
    if args.all == bool(args.names):
        raise ConfigError("notebook takes experiment names or --all (one of them)")
    if args.timeout < 1:
        raise ConfigError(f"--timeout must be an int >= 1 (seconds), got {args.timeout}")
    names = list(registry.all_experiments()) if args.all else args.names
    try:
        written = notebook.write(names, args.out, profile=args.profile, sets=tuple(args.sets),
                                 seed=args.seed, lang=args.lang, source=args.source,
                                 execute=args.execute, timeout=args.timeout,
                                 log=lambda m: print(m, file=sys.stderr, flush=True))
    except notebook.NotebookFailed as error:
        print(f"notebook: {error}", file=sys.stderr)
        return DISAGREE
    except ValueError as error:
        raise ConfigError(str(error)) from None
    print("\n".join(map(str, written)))
    return DONE


def _report(args) -> int:
    _check_common(args)
    from experiments.report import build
    with i18n.language(args.lang):
        index, failed = build(out=args.out, profile=args.profile, only=args.only,
                              device=args.device, seed=args.seed, data_dir=args.data_dir,
                              force=args.force, seeds=args.seeds, jobs=args.jobs,
                              executor=args.executor, scheduler=args.scheduler)
    print(index)
    return DISAGREE if failed else DONE
