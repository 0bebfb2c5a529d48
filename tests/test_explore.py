"""The explorable lessons (experiments/explore.py, docs/explore.md): every position of a page's
sliders computed on both backends when the set is written, stored in metrics.json and shown.
optimizer-paths' stored grid is checked in tests/test_report.py (on the report it builds), the
other lessons on the catalogue test's runs (tests/test_catalogue.py)."""

import json

import pytest

from experiments import explore, registry, runner
from experiments.cli import main

BOTH = ("numpy", "torch")


@pytest.fixture(autouse=True)
def explorables_on(monkeypatch):
    monkeypatch.setenv("NPREF_EXPLORE", "1")


def test_every_lesson_names_settings_its_experiment_has():
    from experiments.catalogue.init_histograms import ACTIVATIONS, INITS

    experiments = registry.all_experiments()
    assert len(explore.LESSONS) >= 6
    assert len({lesson.experiment for lesson in explore.LESSONS}) >= 6
    for lesson in explore.LESSONS:
        settings = experiments[lesson.experiment].defaults
        for slider in lesson.sliders:
            assert lesson.own or slider.key in settings, (lesson.experiment, slider.key)
    by_name = {lesson.experiment: lesson for lesson in explore.LESSONS}
    histograms = by_name["init-histograms"].sliders
    assert (list(histograms[0].values), list(histograms[1].values)) == (list(INITS),
                                                                        list(ACTIVATIONS))


def test_a_setting_that_diverges_is_said_not_drawn():
    lesson = explore.lessons_for("optimizer-paths")[0]
    experiment = registry.get("optimizer-paths")
    asked = []

    def diverging(sets):
        asked.append(sets)
        raise FloatingPointError("SGD: the loss became inf at step 12")

    point = explore._run_point(lesson, experiment, experiment.config_for("quick"),
                               ("convention=torch",), diverging,
                               {"lr_sgd": 1.05, "lr_momentum": 0.1})
    assert point == {"stopped": "SGD: the loss became inf at step 12"}
    # the run's own settings first, then the sliders' (which win)
    assert asked == [("convention=torch", "lr_sgd=1.05", "lr_momentum=0.1")]


def test_a_position_that_diverges_is_a_task_that_stops_not_a_failed_run():
    """A position is a task of the run's executor (any process's): its divergence comes back
    as the position's Stopped, and the run goes on."""
    job = runner.Job("optimizer-paths", "quick", 0, ("lr_sgd=1e30",), "cpu", None, BOTH)
    stopped = runner.compute_seed(job, position=True)
    assert isinstance(stopped, runner.Stopped) and "non-finite at step" in stopped.reason
    with pytest.raises(FloatingPointError, match="non-finite at step"):
        runner.compute_seed(job)                         # a seed's own run: the run's error


def test_the_notebook_api_leaves_them_to_the_report(tmp_path, capfd):
    """experiments.run (a notebook's cells) computes no explorable: a notebook waits for none;
    a report over that set runs it again with them."""
    import experiments
    from experiments.report import build
    from tests.conftest import copy_conventions

    copy_conventions(tmp_path)                       # measured once per test run, not here
    result = experiments.run("init-histograms", out=tmp_path, device="cpu")
    assert result.explore is None
    on_disk = json.loads((tmp_path / "init-histograms" / "metrics.json").read_text())
    assert "explore" not in on_disk
    capfd.readouterr()
    build(out=tmp_path, profile="quick", only=["init-histograms"], device="cpu")
    assert "lack the page's explorable lessons" in capfd.readouterr().err
    on_disk = json.loads((tmp_path / "init-histograms" / "metrics.json").read_text())
    assert len(on_disk["explore"]["lessons"][0]["points"]) == 12


def test_npref_explore_is_checked_before_any_work(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NPREF_EXPLORE", "maybe")
    assert main(["run", "optimizer-paths", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: NPREF_EXPLORE: 'maybe' is not one of 0, 1, off, on")
    assert err.count("\n") == 1 and not (tmp_path / "optimizer-paths").exists()
    monkeypatch.setenv("NPREF_EXPLORE", "0")                 # off: a run without them
    assert main(["run", "optimizer-paths", "--out", str(tmp_path)]) == 0
    assert "explore" not in json.loads((tmp_path / "optimizer-paths" / "metrics.json").read_text())
