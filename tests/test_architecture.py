"""The shape of the code, checked: imports in ``experiments/`` go one way with no loop (module
or function level), running knows nothing of pages, npref.training's functions take few
positional parameters, and nothing in the repository cites a document outside it."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: What computes and writes results; none of it may import the report or the command line.
RUNNING = ("experiments.runner", "experiments.results", "experiments.settings",
           "experiments.registry", "experiments.catalogue", "experiments.backends",
           "experiments.parallel", "experiments.data", "experiments.io", "experiments.plotting",
           "experiments.code")
PAGES = ("experiments.report", "experiments.cli")


def modules(package: str = "experiments") -> dict:
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def imports(name: str, path: Path, known: dict) -> set:
    """Every module of ``known`` that ``name`` imports, at module or function level; ``from pkg
    import submodule`` counts as importing the submodule."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()

    def add(target):
        parts = target.split(".")
        for k in range(len(parts), 0, -1):
            candidate = ".".join(parts[:k])
            if candidate in known:
                if candidate != name:
                    out.add(candidate)
                return

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                add(full if full in known else base)
    return out


def graph() -> dict:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def find_loop(edges: dict) -> list | None:
    """A cycle of ``edges`` (``{node: targets}``) as a list of nodes, or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == "open":
                return stack[stack.index(target):] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_loop_in_experiments():
    loop = find_loop(graph())
    assert loop is None, "import loop: " + " -> ".join(loop)


def test_running_knows_nothing_of_pages():
    for name, targets in graph().items():
        if name.startswith(RUNNING):
            bad = sorted(t for t in targets if t.startswith(PAGES))
            assert not bad, f"{name} imports {bad}"


def test_the_checks_see_what_they_look_for():
    """The loop finder finds a loop, function-level imports are edges, and the report does
    import the runner (so the direction test has something to hold)."""
    assert find_loop({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_loop({"a": {"b"}, "b": set()}) is None
    edges = graph()
    assert "experiments.runner" in edges["experiments.report.building"]
    assert "experiments.backends" in edges["experiments.catalogue.rules"]   # inside a function


def test_npref_training_functions_take_at_most_six_positional_parameters():
    for path in sorted((ROOT / "npref" / "training").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args.posonlyargs + node.args.args
                count = len(args) - (1 if args and args[0].arg in ("self", "cls") else 0)
                assert count <= 6, f"{path.name}: {node.name} takes {count} positional"


def test_nothing_cites_a_document_outside_the_repository():
    """The design is in docs/; code and tests cite docs/…, never a file this clone lacks."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    cited = re.compile(r"\bSPEC(?: section|\s?\d|'s|\.md)|\bthe SPEC\b|\.\./shared")
    for rel in tracked:
        path = ROOT / rel
        if path.suffix not in (".py", ".md", ".html", ".toml", ".cfg", "") or not path.is_file():
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            assert not cited.search(line), f"{rel}:{number}: {line.strip()[:80]}"
    for rel in tracked:
        if rel.endswith((".py", ".md")):
            for target in re.findall(r"docs/[\w.-]+\.md", (ROOT / rel).read_text()):
                assert (ROOT / target).is_file(), f"{rel} cites {target}, which does not exist"
