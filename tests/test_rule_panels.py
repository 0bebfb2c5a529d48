""""The rule, side by side" shows the rule, not plumbing: every panel of every page is short,
has no argument checks or ``out=`` buffers, and names no private helper whose body it does not
show; and the reader of the installed code keeps exactly the statements that ran."""

from __future__ import annotations

import re

import pytest

from experiments import registry
from experiments.panels import code_that_ran as code

#: A panel a student can put beside the book's listing: every rule's, no exception (Adafactor's
#: update keeps a matrix's second moment as a row and a column, a vector's whole; the paths page
#: shows the branch its coordinates ran, 18 lines of PyTorch's, not both: 28).
MAX_LINES = 25
PRIVATE_CALL = re.compile(r"(?<![\w.])(?:self\.)?(_[A-Za-z]\w*)\(")


def configurations():
    """Every experiment with rules, in its defaults, its quick profile and — where it has
    one — the other convention."""
    for name, experiment in registry.all_experiments().items():
        if experiment.rules is None:
            continue
        base = experiment.config_for("quick")
        yield name, base
        if "convention" in base:
            other = "torch" if base["convention"] == "book" else "book"
            yield f"{name} (convention={other})", {**base, "convention": other}


CONFIGS = list(configurations())


@pytest.mark.parametrize("label,config", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_every_rule_panel_is_short_and_shows_every_helper_it_calls(label, config):
    experiment = registry.get(label.split(" (")[0])
    rules = experiment.rules_for(config)
    assert rules, label
    for rule in rules:
        for side in ("numpy", "torch"):
            panel = getattr(rule, side)()
            where = f"{label}: {rule.formula[:40]} ({side})"
            assert panel.blocks, f"{where}: no code"
            assert panel.lines <= MAX_LINES, f"{where}: {panel.lines} lines"
            shown = {b.title.rsplit(".", 1)[-1].rsplit(", ", 1)[-1] for b in panel.blocks}
            for block in panel.blocks:
                assert block.code.strip() and block.code.strip() != "pass", f"{where}: empty"
                for name in PRIVATE_CALL.findall(block.code):
                    assert name in shown, f"{where}: calls {name}() without showing it"
                # npref's side is written to be read (no out= buffers); PyTorch's is its code
                # as installed, which may write into out= (Adamax's torch.maximum does).
                for plumbing in ("out=",) * (side == "numpy") + (
                        "raise ", "_validate", "assert ", "is_scripting", "is_compiling"):
                    assert plumbing not in block.code, f"{where}: shows {plumbing!r}"


def test_pages_show_every_optimizer_they_run():
    """Every rule of a page, not two of six."""
    from experiments.catalogue import optimizer_paths as paths

    every_path = len(paths.OPTIMIZERS) + len(paths.MORE)      # the book's figure's, the rest
    for name, count in (("optimizer-paths", every_path), ("optimizer-mnist", 6),
                        ("lr-schedule", 4)):
        experiment = registry.get(name)
        shown = [r.formula for r in experiment.rules_for(experiment.defaults)]
        assert len(shown) == count, shown


def test_the_paths_page_shows_the_code_its_coordinates_ran():
    """optimizer-paths descends a bowl whose coordinates are parameters of their own (vectors):
    its panels are traced from that descent, so Adafactor's matrix branch (row and column
    averages), which a tiny net's weight matrix runs, is not on the page."""
    from experiments import panels
    from experiments.catalogue import optimizer_paths as paths

    hyper = {"lr": 0.1}
    in_a_net = panels.optimizer("adafactor", hyper)
    on_the_bowl = panels.optimizer("adafactor", hyper, descent=(paths.Bowl, {"x": -7.0, "y": 2.0}))
    for side in ("numpy", "torch"):
        net_code = "\n".join(b.code for b in getattr(in_a_net, side)().blocks)
        bowl_code = "\n".join(b.code for b in getattr(on_the_bowl, side)().blocks)
        assert "row_var" in net_code and "row_var" not in bowl_code, side
    config = registry.get("optimizer-paths").config_for("quick")
    shown = {r.formula.split(":")[0]: r for r in registry.get("optimizer-paths").rules_for(config)}
    assert "row_var" not in "\n".join(b.code for b in shown["Adafactor"].torch().blocks)


# -- the reader of the installed code ---------------------------------------------------------

def _example(x, scale, flag=False, rescale=True):
    if x < 0:
        raise ValueError("x must be >= 0")
    unused = x * 2
    y = _checked(x)
    y = y if not flag else -y
    if rescale:
        y = y * scale
    else:
        y = y / scale
    if y > 100:
        y = 100
    return _helper(y)


def _checked(x):
    return x


def _helper(y):
    return y + 1


def test_the_reader_keeps_what_ran_and_shows_its_helpers(monkeypatch):
    monkeypatch.setattr(code, "CHECKS", code.CHECKS | {"_checked"})
    monkeypatch.setattr(code, "_roots", lambda: (__file__.rsplit("/", 1)[0],))
    record = code.trace(lambda: [_example(3.0, 2.0), _example(60.0, 2.0)])
    blocks = code.statements(_example, record)
    main, helper = blocks
    assert main.code.splitlines() == ["y = x", "y = y * scale", "if y > 100:", "    y = 100",
                                      "return _helper(y)"]
    assert helper.code == "return y + 1" and helper.title.endswith("_helper")


def test_a_branch_taken_on_the_first_call_only_keeps_its_condition(monkeypatch):
    monkeypatch.setattr(code, "_roots", lambda: (__file__.rsplit("/", 1)[0],))

    def step(state):
        if not state:
            state["n"] = 0
        state["n"] += 1

    state = {}
    record = code.trace(lambda: [step(state) for _ in range(3)])
    assert code.statements(step, record)[0].code.splitlines() == [
        "if not state:", "    state['n'] = 0", "state['n'] += 1"]


def test_the_pytorch_panel_is_the_function_that_ran():
    from experiments import panels as R

    panel = R.optimizer("adam", {"lr": 0.01})
    torch_side = panel.torch()
    assert torch_side.blocks[0].title == "torch/optim/adam.py, _single_tensor_adam"
    assert "exp_avg.lerp_(grad, 1 - device_beta1)" in torch_side.blocks[0].code
    assert "amsgrad" not in torch_side.blocks[0].code            # a branch not taken
    book = R.optimizer("adam", {"lr": 0.01, "convention": "book"}).torch()
    assert book.blocks[0].title == "torchref/optim.py, BookAdam.step"


def test_a_package_imported_through_a_symlink_is_traced(tmp_path, monkeypatch):
    """A virtual environment reached through a symlink (a linked .venv): frames carry the path
    the module was imported by, and the panel must still see them run (it showed an empty
    PyTorch column)."""
    import importlib
    import sys

    real = tmp_path / "real" / "linkedpkg"
    real.mkdir(parents=True)
    (real / "__init__.py").write_text("def step(x):\n    y = x + 1\n    return y\n")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    monkeypatch.syspath_prepend(str(tmp_path / "link"))
    monkeypatch.setattr(code, "ROOTS", ("linkedpkg",))
    sys.modules.pop("linkedpkg", None)
    module = importlib.import_module("linkedpkg")
    try:
        assert "link" in module.step.__code__.co_filename
        record = code.trace(lambda: module.step(1))
        assert record.ran(module.step)
        assert code.statements(module.step, record)[0].code.splitlines() == [
            "y = x + 1", "return y"]
    finally:
        sys.modules.pop("linkedpkg", None)
