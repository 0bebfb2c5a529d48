"""The install promises: npref needs NumPy alone; the CLI starts; the README's commands exist."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_npref_imports_without_torch():
    # sys.modules['torch'] = None makes any `import torch` raise ImportError.
    done = _python("import sys; sys.modules['torch'] = None; "
                   "import npref, npref.optim, npref.testing, npref.guard; print('ok')")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_npref_source_never_imports_torch():
    for path in (ROOT / "npref").rglob("*.py"):
        text = path.read_text()
        assert "import torch" not in text and "from torch" not in text, path


def test_cli_help_explains_the_commands():
    done = subprocess.run([sys.executable, "-m", "experiments", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for word in ("list", "run", "report"):
        assert word in done.stdout


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make report" in readme
    assert "\nmake test\n" in ci


def test_the_package_accepts_a_torch_range_and_the_install_path_pins_one():
    """The package declares the torch versions it supports (installing it into Colab keeps
    Colab's PyTorch); the exact version CI and the parity figures use is pinned in the install
    path `make` and CI take — constraints.txt, which the Makefile hands to pip."""
    import re
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [r for group in project["optional-dependencies"].values() for r in group
                if re.match(r"torch\b", r)]
    assert declared and set(declared) == {"torch>=2.5,<3"}, declared
    assert not any(r.startswith("torch") for r in project["dependencies"])
    pins = [line.split("#")[0].strip()
            for line in (ROOT / "constraints.txt").read_text().splitlines()]
    assert "torch==2.13.0" in pins
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"pip install .*-c constraints\.txt -e", makefile)
    # the README's Colab cell is the one every notebook carries
    from experiments.notebook import install_cell
    assert install_cell() in (ROOT / "README.md").read_text()
    assert install_cell(lang="ko") in (ROOT / "README.ko.md").read_text()
