"""The experiment catalogue of docs/experiments.md: every name, and every experiment on both backends.

Each experiment runs here on a sliver of its quick profile (a few epochs or iterations, set with
``--set``) so that the whole catalogue is exercised in CI in about a minute; the quick profiles
themselves are what ``make report`` runs.
"""

import itertools
import json
import math
import re
from pathlib import Path

import pytest

from experiments import explore, results, runner
from experiments.cli import main
from experiments.registry import all_experiments
from experiments.report import render

CATALOGUE_NAMES = [
    "optimizer-paths", "optimizer-mnist", "init-histograms", "init-mnist", "batchnorm-mnist",
    "overfit-weight-decay", "overfit-dropout", "hyperparameter-search", "deep-mnist-exercises",
    "breast-cancer-init", "breast-cancer-regularization", "breast-cancer-learning-rate",
    "breast-cancer-validation", "breast-cancer-early-stopping", "breast-cancer-minibatch",
    "breast-cancer-dropout", "breast-cancer-optimizers", "sanity-checks",
]
#: And the lecture as written beside the correct rules (docs/lecture.md).
CATALOGUE = CATALOGUE_NAMES + ["lecture-errata", "lr-schedule"]

#: The experiment whose explorable lesson tests/test_explore.py and test_report.py compute whole.
EXPLORED_ELSEWHERE = ("optimizer-paths",)

#: Enough to run every code path, little enough for CI.
SLIVERS = {
    "optimizer-paths": [],
    "optimizer-mnist": ["iterations=20"],
    "init-histograms": ["n_inputs=50"],
    "init-mnist": ["iterations=20"],
    "batchnorm-mnist": ["epochs=2", "scales=2", "n_test=100"],
    "overfit-weight-decay": ["epochs=3", "n_test=100"],
    "overfit-dropout": ["epochs=3", "n_test=100"],
    "hyperparameter-search": ["epochs=2", "trials=3", "fine_trials=2", "top=2"],
    "deep-mnist-exercises": ["iterations_3layer=10", "epochs_4layer=1", "iterations_7layer=10",
                             "n_train=500", "n_test=100"],
    "breast-cancer-init": ["epochs=30"],
    "breast-cancer-regularization": ["epochs=30"],
    "breast-cancer-learning-rate": ["epochs=30"],
    "breast-cancer-validation": ["epochs=30"],
    "breast-cancer-early-stopping": ["epochs=30", "patience=3"],
    "breast-cancer-minibatch": ["epochs=5"],
    "breast-cancer-dropout": ["epochs=30"],
    "breast-cancer-optimizers": ["epochs=30"],
    "sanity-checks": ["iterations=20", "subset_epochs=150"],
    "lecture-errata": ["epochs=20", "long_epochs=20", "rmsprop_epochs=20",
                       "notebook_iterations=5", "n_test=100"],
    "lr-schedule": ["epochs=3", "step_size=1", "n_train=500", "n_test=100"],
}


def test_the_catalogue_is_the_specs(capsys):
    # docs/experiments.md's catalogue, in its order; an experiment added later joins after it (and runs
    # in the test below on its own quick profile, or on its sliver if it has one).
    assert list(all_experiments())[:len(CATALOGUE)] == CATALOGUE
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(all_experiments())
    assert all(len(line.split(maxsplit=1)[1]) > 20 for line in lines)


@pytest.mark.parametrize("name", list(all_experiments()))
def test_every_experiment_runs_on_both_backends_and_agrees(tmp_path, name, monkeypatch):
    # every experiment's figures in every language: a glyph missing from a Korean figure fails
    monkeypatch.setenv("NPREF_FIGURE_LANGUAGES", "en,ko")
    # and the explorable lessons at the sliver — but optimizer-paths', which
    # tests/test_explore.py and the report's tests run whole
    monkeypatch.setenv("NPREF_EXPLORE", "0" if name in EXPLORED_ELSEWHERE else "1")
    args = ["run", name, "--backend", "both", "--device", "cpu", "--out", str(tmp_path)]
    for item in SLIVERS.get(name, []):
        args += ["--set", item]
    read = _record_reads(monkeypatch)
    assert main(args) == 0
    # Every key the experiment accepts is one it uses: a --set of an ignored key can't happen.
    unused = set(all_experiments()[name].defaults) - read
    assert not unused, f"{name} accepts but never reads {sorted(unused)}"
    folder = _RAN[name] = tmp_path / name
    m = json.loads((folder / "metrics.json").read_text())
    # metrics.json is written from a Result and reads back into the same Result (format 2)
    assert m["format"] == results.FORMAT and results.to_json(results.from_json(m)) == m
    assert m["parity"]["passed"] is True, m["parity"]
    assert m["figures"] and all((folder / f).stat().st_size > 5000 for f in m["figures"])
    korean = m["translations"]["ko"]["figures"]
    assert len(korean) == len(m["figures"]) and all(".ko." in f and (folder / f).stat().st_size
                                                    > 5000 for f in korean)
    assert set(m["data"]) >= {"name", "source", "n_train", "n_test"}
    # At least one claim of the source, judged on each backend (docs/experiments.md); every figure passed
    # experiments.plotting.check_figure (data on every panel, both axes labelled) on its way out.
    assert m["findings"], f"{name} states no finding of its source"
    for f in m["findings"]:
        assert set(f) == {"claim", "measured", "reproduced", "needs", "why"}
        assert set(f["reproduced"]) == {"numpy", "torch"} and f["needs"] in ("quick", "full")
        # a claim that does not hold says why, in words; one that holds has no reason
        assert (f["why"] is None) == all(f["reproduced"].values()), f
        assert f["why"] is None or len(f["why"]) > 15
        # numbers for reading: no raw dicts, no 17-digit floats
        assert "{" not in f["measured"] and not re.search(r"\d\.\d{8,}", f["measured"])
    # its explorable lessons: every position drawn on both backends, passed, its claims in
    # every language (docs/explore.md)
    lessons = explore.lessons_for(name)
    if name in EXPLORED_ELSEWHERE or not lessons:
        assert "explore" not in m
        return
    assert [lesson["name"] for lesson in m["explore"]["lessons"]] == [x.name for x in lessons]
    for lesson in m["explore"]["lessons"]:
        assert len(lesson["points"]) == math.prod(len(v) for v in lesson["values"]) >= 2
        for point in lesson["points"]:
            assert [len(point["lines"][b]) for b in ("numpy", "torch")] == [
                len(point["lines"]["numpy"])] * 2 and point["lines"]["numpy"]
            assert point["parity"]["passed"] is True, point["parity"]
            assert set(point["findings"]) == {"en", "ko"} and point["findings"]["ko"]


def _record_reads(monkeypatch) -> set:
    """Make the runner's configuration a dict that records every key read from it."""
    from experiments import settings as settings_mod

    read: set = set()

    class Recording(dict):
        def __getitem__(self, key):
            read.add(key)
            return super().__getitem__(key)

        def get(self, key, default=None):
            read.add(key)
            return super().get(key, default)

        def __deepcopy__(self, memo):
            return self

    checked = settings_mod.check
    monkeypatch.setattr(settings_mod, "check", lambda *a, **k: Recording(checked(*a, **k)))
    return read


def test_sanity_checks_pass_on_both_backends(tmp_path):
    assert main(["run", "sanity-checks", "--out", str(tmp_path)]) == 0
    m = json.loads((tmp_path / "sanity-checks" / "metrics.json").read_text())
    for backend in ("numpy", "torch"):
        checks = m["backends"][backend]["checks"]
        assert len(checks) == 6
        assert all(c["passed"] for c in checks.values()), checks


def test_same_seed_same_results_bit_for_bit(tmp_path):
    for out in ("a", "b"):
        main(["run", "breast-cancer-minibatch", "--backend", "numpy", "--seed", "7",
              "--set", "epochs=3", "--out", str(tmp_path / out)])
    a, b = (json.loads((tmp_path / o / "breast-cancer-minibatch" / "metrics.json").read_text())
            for o in ("a", "b"))
    assert a["backends"]["numpy"]["series"] == b["backends"]["numpy"]["series"]


def test_set_rejects_wrong_types_and_lists_keys(tmp_path, capsys):
    assert main(["run", "batchnorm-mnist", "--set", "scales=many", "--out", str(tmp_path)]) == 2
    assert "scales must be an int like" in capsys.readouterr().err
    assert main(["run", "hyperparameter-search", "--set", "lr=0.1", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown configuration key 'lr'" in err and "lr_range" in err and "trials" in err


#: The folder of each experiment's run by the test above, for the tests below that read the same
#: run (each runs it itself where the test above did not run first: alone, or deselected).
_RAN: dict = {}


def _sliver_run(name: str, tmp_path) -> Path:
    if name not in _RAN:
        args = ["run", name, "--out", str(tmp_path)]
        for item in SLIVERS.get(name, []):
            args += ["--set", item]
        assert main(args) == 0
        _RAN[name] = tmp_path / name
    return _RAN[name]


def test_lecture_errata_writes_its_table(tmp_path):
    m = json.loads((_sliver_run("lecture-errata", tmp_path) / "metrics.json").read_text())
    table = m["table"]
    assert table["columns"][:4] == ["variant", "epochs (lecture)", "lecture printed", "as written"]
    by_name = {row[0]: row for row in table["rows"]}
    # every printed figure sits beside its exact reproduction
    for name in ("fixed", "L1 0.01", "L2 0.01", "elastic", "learning-rate 0.1", "momentum",
                 "adam", "early-stop"):
        assert by_name[name][2] == by_name[name][3], name
    assert len([r for r in table["rows"] if r[0].startswith("notebook")]) == 3
    assert all(isinstance(row[-1], str) and len(row[-1]) > 20 for row in table["rows"])


def test_breast_cancer_variants_are_named_from_the_configuration_that_ran():
    """A page says what ran: `--set batch_size=64` draws and judges "batch 64", not the
    default's "batch 32" (the names were fixed strings before)."""
    from experiments.catalogue.breast_cancer import dropout, minibatch

    assert minibatch.labels({"batch_size": 64}) == ["full batch", "batch 64"]
    assert dropout.labels({"dropout": 0.3}) == ["no dropout", "dropout 0.3"]


def test_the_accuracy_panel_is_drawn_in_epochs_not_iterations():
    """Evaluations are recorded in iterations; with 8 minibatches per epoch, 3 epochs end at
    epoch 3 on the accuracy panel's epoch axis, not at 24."""
    from experiments.catalogue.breast_cancer import _epochs_at

    series = {"v.loss": [0.0] * 24, "v.epoch_loss": [0.0] * 3, "v.epoch_iterations": [8, 16, 24]}
    assert _epochs_at(series, "v") == [1.0, 2.0, 3.0]


def test_a_page_title_names_the_network_that_ran():
    """`--set units=20` titles the page "30-20-1", not the default's "30-10-1"."""
    from experiments import registry

    for name in ("breast-cancer-minibatch", "breast-cancer-optimizers"):
        experiment = registry.get(name)
        assert "30-10-1" in experiment.description_for()
        assert "30-20-1" in experiment.description_for({**experiment.defaults, "units": 20})


# -- the explorable lessons (docs/explore.md) on the runs above ---------------------------------

BOTH = ("numpy", "torch")


def _chromium():
    from tests.test_report import _chromium as find

    return find()


def test_a_lesson_over_the_run_s_own_parts_draws_them(tmp_path, monkeypatch):
    """init-histograms' sliders pick among the run's own histograms: each position draws the
    counts the run computed, on both backends, with the parity of those values."""
    monkeypatch.setenv("NPREF_EXPLORE", "1")
    assert SLIVERS["init-histograms"] == ["n_inputs=50"]
    metrics = json.loads((_sliver_run("init-histograms", tmp_path) / "metrics.json").read_text())
    (lesson,) = metrics["explore"]["lessons"]
    assert lesson["values"] == [["std=1", "std=0.01", "Xavier (book)", "He"],
                                ["sigmoid", "tanh", "relu"]]
    outcome = runner.compute_seed(runner.Job("init-histograms", "quick", 0, ("n_inputs=50",),
                                             "cpu", None, BOTH))
    for i, init in enumerate(lesson["values"][0]):
        for j, activation in enumerate(lesson["values"][1]):
            point = lesson["points"][i * 3 + j]
            for backend in BOTH:
                counts = outcome.results[backend].extra[f"{init}/{activation}"]
                assert [line["y"] for line in point["lines"][backend]] == [
                    explore._round(c) for c in counts]
            assert point["parity"] == {"max_rel_diff": 0.0, "tolerance": 1e-12, "passed": True}


#: Every lesson but optimizer-paths' (the report's browser test moves its sliders), at a
#: sliver of its run: the catalogue test's run.
SLIVERED = [lesson.experiment for lesson in explore.LESSONS
            if lesson.experiment != "optimizer-paths"]


@pytest.mark.skipif(_chromium() is None, reason="no Chromium on this machine")
@pytest.mark.parametrize("name", SLIVERED)
def test_every_slider_of_every_lesson_redraws_its_stored_setting_in_a_browser(name, tmp_path,
                                                                                monkeypatch):
    """Each lesson's page in Chromium: every position of its sliders draws that position's
    stored lines on both backends (curves, steps, a log axis), its parity and its claims."""
    sync_api = pytest.importorskip("playwright.sync_api")
    monkeypatch.setenv("NPREF_EXPLORE", "1")
    folder = _sliver_run(name, tmp_path)
    stored = json.loads((folder / "metrics.json").read_text())
    (lesson,) = stored["explore"]["lessons"]
    sizes = [len(v) for v in lesson["values"]]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        try:
            page = browser.new_page()
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto((folder / "index.html").as_uri())
            section = page.locator("section.explore")
            sliders = section.locator("input.explore-slider")
            assert sliders.count() == len(sizes)
            for index, at in enumerate(itertools.product(*[range(n) for n in sizes])):
                for k, value in enumerate(at):
                    sliders.nth(k).evaluate("(e, v) => { e.value = v; "
                                            "e.dispatchEvent(new Event('input')); }", value)
                assert section.get_attribute("data-point") == str(index)
                point = lesson["points"][index]
                if "stopped" in point:
                    assert point["stopped"] in section.locator(".explore-stopped").inner_text()
                    continue
                drawn = section.locator("polyline").evaluate_all(
                    "ls => ls.map(l => [l.dataset.backend, JSON.parse(l.dataset.x), "
                    "JSON.parse(l.dataset.y)])")
                assert drawn == [[b, line["x"], line["y"]] for b in BOTH
                                 for line in point["lines"][b]], at
                assert render.sci(point["parity"]["max_rel_diff"]) in section.locator(
                    ".explore-parity").inner_text()
                claims = section.locator(".explore-claims li").all_inner_texts()
                assert [c.split(" ")[0] for c in claims] == [
                    "✓" if all(f["reproduced"].values()) else "✗"
                    for f in point["findings"]["en"]], at
            assert errors == []
        finally:
            browser.close()


def test_the_positions_are_the_executor_s_tasks_with_the_same_results(tmp_path, monkeypatch,
                                                                       capfd):
    """`run --jobs 2` hands the lesson's runs to its workers beside the seeds' (one progress
    line each), draws the figures while they compute, and stores what `--jobs 1` (the catalogue
    test's run), computing them itself, stores."""
    name = "breast-cancer-early-stopping"
    monkeypatch.setenv("NPREF_EXPLORE", "1")
    monkeypatch.setenv("NPREF_FIGURE_LANGUAGES", "en,ko")          # as the catalogue test's
    one = json.loads((_sliver_run(name, tmp_path) / "metrics.json").read_text())
    made = runner.plan(runner.RunSpec(name, sets=tuple(SLIVERS[name]), device="cpu"))
    positions = runner.position_jobs(made)
    assert [job.sets[-1] for job in positions] == [
        f"patience={v}" for v in explore.lessons_for(name)[0].sliders[0].values]
    assert runner.position_jobs(made, explore=False) == []
    args = ["run", name, "--device", "cpu", "--jobs", "2", "--out", str(tmp_path / "two")]
    for item in SLIVERS[name]:
        args += ["--set", item]
    capfd.readouterr()
    assert main(args) == 0
    err = capfd.readouterr().err
    for job in positions:
        assert f"done {runner.position_label(made, job)};" in err, err
    two = json.loads((tmp_path / "two" / name / "metrics.json").read_text())
    assert one["explore"] == two["explore"]
    assert len(one["explore"]["lessons"][0]["points"]) == len(positions)
    # the figures, every language's: with --jobs 2 drawn ahead, while the workers computed
    assert one["figure_sha256"] == two["figure_sha256"] and len(one["figure_sha256"]) == 2
