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


def test_torch_is_pinned_exactly():
    text = (ROOT / "pyproject.toml").read_text()
    assert '"torch==2.13.0"' in text
    assert "torch>" not in text and "torch~" not in text
