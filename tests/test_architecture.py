"""The shape of the code, checked: imports in ``experiments/`` go one way with no loop (module
or function level, and the registry's reading of the catalogue), running knows nothing of pages,
the catalogue holds experiments and nothing else, a name means one thing, npref.training's
functions take few positional parameters, torchref's functions fit on a screen, and nothing in
the repository cites a document outside it."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: What computes and writes results; none of it may import the report or the command line.
RUNNING = ("experiments.runner", "experiments.results", "experiments.settings",
           "experiments.registry", "experiments.catalogue", "experiments.backends",
           "experiments.parallel", "experiments.data", "experiments.atomic", "experiments.plotting",
           "experiments.panels")
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
    """``{module: the modules it imports}``; the registry imports the catalogue's modules by
    name (``importlib``), so those count as its imports too."""
    from experiments import registry

    known = modules()
    edges = {name: imports(name, path, known) for name, path in known.items()}
    edges["experiments.registry"] |= set(registry.MODULES)
    return edges


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
    assert "experiments.backends" in edges["experiments.panels"]   # inside a function
    assert "experiments.catalogue.lecture_errata" in edges["experiments.registry"]


def test_the_catalogue_holds_experiments_and_nothing_else():
    """Every module of experiments/catalogue is an experiment the registry lists (declaring its
    ``EXPERIMENT``), a family's package (whose modules are experiments), or a part inside an
    experiment's own package; what experiments share lives in its own folder."""
    from experiments import registry

    listed = set(registry.MODULES)
    catalogue = {name: path for name, path in modules().items()
                 if name.startswith("experiments.catalogue")}
    for name, path in catalogue.items():
        family = path.name == "__init__.py" and any(m.startswith(name + ".") for m in listed)
        part = any(name.startswith(m + ".") for m in listed)
        assert name in listed or family or part, f"{name} is not an experiment"
        if name in listed:
            declared = {target.id for node in ast.parse(path.read_text()).body
                        if isinstance(node, ast.Assign) for target in node.targets
                        if isinstance(target, ast.Name)}
            assert "EXPERIMENT" in declared, f"{name} declares no EXPERIMENT"
    assert "experiments.catalogue.optimizer_paths" in catalogue


#: Module names that say nothing of their purpose.
VAGUE = {"io", "code", "utils", "util", "helpers", "misc", "common"}


def test_each_name_means_one_thing():
    """No module is named for nothing (``io.py``, ``utils.py``), ``RULES`` is npref.optim's
    rule classes and nothing else, and no module is called ``rules`` beside it."""
    tracked = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    for rel in tracked:
        assert Path(rel).stem not in VAGUE | {"rules"}, f"{rel}: say what it is for"
        for node in ast.parse((ROOT / rel).read_text()).body:
            names = [t.id for t in getattr(node, "targets", [getattr(node, "target", None)])
                     if isinstance(t, ast.Name)]
            alias = isinstance(getattr(node, "value", None), ast.Attribute) and \
                node.value.attr == "RULES"                     # RULES = npref.optim.RULES
            if "RULES" in names and not alias:
                assert rel == "npref/optim/__init__.py", f"{rel}:{node.lineno} defines RULES"


def test_torchref_functions_fit_on_a_screen():
    """torchref's functions (the training loop's included) have at most 35 lines below their
    docstring: a longer one is several steps that want names."""
    for path in sorted((ROOT / "torchref").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                body = node.body
                first = body[1] if len(body) > 1 and ast.get_docstring(node) else body[0]
                lines = node.end_lineno - first.lineno + 1
                assert lines <= 35, f"{path.name}: {node.name} has {lines} lines"


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
