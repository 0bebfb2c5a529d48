"""Every experiment as a notebook (docs/notebooks.md): generated from the catalogue, valid nbformat
v4, its cells the project's public API only; executed with nbclient in a fresh kernel, it shows
its figures and computes the same findings and parity as ``python -m experiments run``."""

import ast
import json
import re
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from experiments import notebook
from experiments.cli import main
from experiments.registry import all_experiments
from tests.test_catalogue import SLIVERS

ROOT = Path(__file__).resolve().parents[1]
#: One of each kind the issue names: an optimizer, an initializer, a regularizer, breast cancer.
FOUR = ["optimizer-paths", "init-histograms", "overfit-weight-decay",
        "breast-cancer-regularization"]


def _code(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


def _python(source: str) -> str:
    """A cell's code without its IPython magics (``%pip …``), for ``ast``."""
    return "\n".join(line[:len(line) - len(line.lstrip())] + "pass"
                     if line.lstrip().startswith("%") else line for line in source.splitlines())


def test_every_notebook_is_valid_v4_empty_and_generated_from_the_catalogue(tmp_path, capsys):
    assert main(["notebook", "--all", "--out", str(tmp_path)]) == 0
    written = capsys.readouterr().out.split()
    experiments = all_experiments()
    assert [Path(p).name for p in written] == [f"{n}.ipynb" for n in experiments]
    readme = (ROOT / "README.md").read_text()
    for name, experiment in experiments.items():
        nb = nbformat.read(tmp_path / f"{name}.ipynb", as_version=nbformat.NO_CONVERT)
        nbformat.validate(nb)
        assert nb.nbformat == 4 and nb.metadata["npref"]["experiment"] == name
        # outputs stripped: nothing ran
        assert all(c.outputs == [] and c.execution_count is None
                   for c in nb.cells if c.cell_type == "code")
        code = _code(nb)
        # the first code cell installs the project, the cell the README shows for Colab
        assert code[0] == notebook.install_cell() and code[0] in readme
        # the settings cell is plain keyword values: the quick profile's, each commented
        tree = ast.parse(code[1])
        call = tree.body[0].value
        assert call.func.id == "dict"
        values = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
        assert values == experiment.config_for("quick"), name
        assert all("  # " in line for line in code[1].splitlines()[2:-2])
        # only the public API and IPython's display are imported
        for source in code:
            for node in ast.walk(ast.parse(_python(source))):
                if isinstance(node, ast.Import):
                    assert {a.name for a in node.names} <= set(notebook.IMPORTS), source
                elif isinstance(node, ast.ImportFrom):
                    assert node.module in notebook.IMPORTS, source
        assert f'experiments.run("{name}", settings, seed=seed, profile="quick")' in code[2]
        # the lesson and, where the page shows rules, the rule side by side
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        assert experiment.concept_for(experiment.config_for("quick")) in text
        if experiment.rules_for(experiment.config_for("quick")):
            assert "## The rule, side by side" in text and "<pre>" in text
    with zipfile.ZipFile(tmp_path / notebook.wheel_name()) as wheel:
        names = wheel.namelist()
    assert "experiments/notebook.py" in names and "npref/optim/__init__.py" in names
    assert "experiments/report/templates/experiment.html" in names


def _executed(name: str, folder: Path) -> tuple[nbformat.NotebookNode, dict]:
    """``name``'s notebook at its sliver, executed in a fresh kernel in ``folder``; with the
    metrics.json its run wrote."""
    notebook.write([name], folder, sets=tuple(SLIVERS.get(name, ())), execute=True,
                   source="npref")
    nb = nbformat.read(folder / f"{name}.ipynb", as_version=4)
    return nb, json.loads((folder / "results" / name / "metrics.json").read_text())


def _execute_all(names, folder: Path) -> dict:
    """Each notebook of ``names`` executed (:func:`_executed`), two kernels at a time — each
    computes on one thread, so the results do not depend on it."""
    with ThreadPoolExecutor(2) as pool:
        return dict(zip(names, pool.map(lambda n: _executed(n, folder / n), names)))


@pytest.fixture(scope="module")
def four(tmp_path_factory):
    # a module's fixture comes before conftest's per-test isolation: the same, set here
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NPREF_OFFLINE", "1")
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        mp.delenv("NPREF_DATA_DIR", raising=False)
        mp.setenv("NPREF_FIGURE_LANGUAGES", "en")
        return _execute_all(FOUR, tmp_path_factory.mktemp("four"))


def _check_outputs(nb, metrics: dict) -> None:
    """No error; the figures as images; each claim printed with the mark it has."""
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert not [o for o in outputs if o.get("name") == "stderr"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == len(metrics["figures"]) >= 1
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    for f in metrics["findings"]:
        mark = "✓" if all(f["reproduced"].values()) else "✗"
        assert f"{mark} {f['claim']}\n    measured: {f['measured']}\n" in printed
    p = metrics["parity"]
    assert f"largest relative difference {p['max_rel_diff']:.1e}" in printed


def _same_run(a: dict, b: dict) -> None:
    """The notebook's run and the command line's: the same settings, findings, parity and
    numbers, bit for bit (only the timings differ)."""
    for key in ("config", "profile", "seed", "findings", "parity", "data", "table", "figures"):
        assert a.get(key) == b.get(key), key
    for backend in ("numpy", "torch"):
        for key in ("series", "final", "checks"):
            assert a["backends"][backend].get(key) == b["backends"][backend].get(key)


@pytest.mark.parametrize("name", FOUR)
def test_a_notebook_runs_and_computes_what_the_command_line_does(name, four, tmp_path):
    nb, metrics = four[name]
    _check_outputs(nb, metrics)
    args = ["run", name, "--out", str(tmp_path / "cli")]
    for item in SLIVERS.get(name, ()):
        args += ["--set", item]
    assert main(args) == 0
    _same_run(metrics, json.loads((tmp_path / "cli" / name / "metrics.json").read_text()))
    # the run's set holds the page's notebook, for these settings; the page links it and the
    # wheel it installs in Colab, shipped at the report's root
    shipped = nbformat.read(tmp_path / "cli" / name / f"{name}.ipynb", as_version=4)
    nbformat.validate(shipped)
    assert _code(shipped)[1] == _code(nb)[1]
    page = (tmp_path / "cli" / name / "index.html").read_text()
    assert f'href="{name}.ipynb"' in page and "Open as notebook" in page
    assert f'href="../{notebook.wheel_name()}"' in page
    assert (tmp_path / "cli" / notebook.wheel_name()).is_file()


def _execute_in_one_kernel(names, folder: Path) -> dict:
    """Each notebook of ``names`` at its sliver, one after another in one kernel (working folder
    ``folder``): the slow test's way through the whole catalogue — a fresh kernel per notebook,
    what a student gets, is what the four above are run in."""
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync
    from nbclient import NotebookClient

    folder.mkdir(parents=True, exist_ok=True)
    km, done = AsyncKernelManager(kernel_name="python3"), {}
    try:
        for name in names:
            experiment = all_experiments()[name]
            nb = notebook.make(experiment, experiment.config_for("quick", SLIVERS.get(name, ())),
                               source="npref")
            NotebookClient(nb, km=km, timeout=600, extra_arguments=["--log-level=ERROR"],
                           resources={"metadata": {"path": str(folder)}}).execute()
            done[name] = (nb, json.loads((folder / "results" / name / "metrics.json").read_text()))
    finally:
        run_sync(km.shutdown_kernel)(now=True)
    return done


@pytest.mark.slow
def test_every_notebook_runs(tmp_path):
    rest = [n for n in all_experiments() if n not in FOUR]
    halves = [rest[0::2], rest[1::2]]           # two kernels, each on one thread
    with ThreadPoolExecutor(2) as pool:
        done = {k: v for part in pool.map(lambda i: _execute_in_one_kernel(
            halves[i], tmp_path / str(i)), range(2)) for k, v in part.items()}
    assert set(done) == set(rest)
    for name, (nb, metrics) in done.items():
        _check_outputs(nb, metrics)
        assert metrics["parity"]["passed"] is True, name


def test_a_cell_that_raises_fails_the_command_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(notebook, "_settings_cell",
                        lambda *args: "raise ValueError('planted')")
    code = main(["notebook", "optimizer-paths", "--out", str(tmp_path), "--execute",
                 "--source", "npref"])
    err = capsys.readouterr().err
    assert code == 1
    assert re.search(r"^notebook: 1 of 1 FAILED: .*optimizer-paths.ipynb failed to run: "
                     r"ValueError: planted$", err, re.M), err
    assert "Traceback" not in err
    # the notebook is kept with what it showed, the error included
    nb = nbformat.read(tmp_path / "optimizer-paths.ipynb", as_version=4)
    assert any(o.output_type == "error" for c in nb.cells if c.cell_type == "code"
               for o in c.outputs)


def test_execute_without_a_kernel_is_refused_before_any_work(tmp_path, monkeypatch, capsys):
    real = notebook.importlib.util.find_spec
    monkeypatch.setattr(notebook.importlib.util, "find_spec",
                        lambda n, *a: None if n == "nbclient" else real(n, *a))
    assert main(["notebook", "optimizer-paths", "--out", str(tmp_path / "o"),
                 "--execute"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --execute needs nbclient") and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_the_wheel_installs_and_keeps_the_torch_already_there(tmp_path):
    wheel = notebook.build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as z:
        metadata = z.read("npref-0.1.0.dist-info/METADATA").decode()
        record = z.read("npref-0.1.0.dist-info/RECORD").decode()
    # a range of torch, never one version: installing into Colab keeps its CUDA torch
    torch = [line for line in metadata.splitlines()
             if line.startswith("Requires-Dist: torch")]
    specs = [line.split(";")[0].removeprefix("Requires-Dist: torch") for line in torch]
    assert specs and all("==" not in s and "<3" in s and ">=" in s for s in specs), torch
    assert "experiments/notebook.py,sha256=" in record
    target = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                           "--no-index", "--target", str(target), str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([sys.executable, "-c", "import experiments.notebook, npref, torchref; "
                           "print(npref.__file__)"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={"PYTHONPATH": str(target),
                                                       "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith(str(target))


def test_a_korean_notebook_speaks_korean_and_runs(tmp_path, monkeypatch):
    """``--lang ko``: the prose, the comments and the run's findings in Korean — the page's
    language — while the code and the numbers stay the same."""
    from tests.test_report import hangul_share

    assert main(["notebook", "--all", "--out", str(tmp_path / "all"), "--lang", "ko",
                 "--source", "npref"]) == 0
    for path in sorted((tmp_path / "all").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        # the rule tables are code; the prose around them is Korean
        prose = re.sub(r"(?s)<table>.*?</table>", " ", prose)
        prose = re.sub(r"`[^`]*`", " ", prose)
        assert hangul_share(prose) >= 0.9, (path.name, hangul_share(prose))
        assert _code(nb)[0] == notebook.install_cell("npref", lang="ko")
    name = "breast-cancer-init"
    monkeypatch.setenv("NPREF_FIGURE_LANGUAGES", "en,ko")
    notebook.write([name], tmp_path / "run", sets=tuple(SLIVERS[name]), lang="ko",
                   execute=True, source="npref")
    nb = nbformat.read(tmp_path / "run" / f"{name}.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                      for o in c.outputs if o.output_type == "stream")
    metrics = json.loads((tmp_path / "run" / "results" / name / "metrics.json").read_text())
    korean = metrics["translations"]["ko"]["findings"]
    assert korean and all(f"{f['claim']}\n    측정: {f['measured']}\n" in printed
                          for f in korean), printed
    assert "통과: NumPy와 PyTorch가 일치한다" in printed
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if "image/png" in o.get("data", {})]
    assert len(images) == len(metrics["translations"]["ko"]["figures"]) >= 1
