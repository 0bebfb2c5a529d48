"""The explorable lessons (experiments/explore.py, docs/explore.md): every position of a page's
sliders computed on both backends when the set is written, stored in metrics.json and shown."""

import json

import numpy as np
import pytest

from experiments import explore, registry, runner
from experiments.cli import main
from experiments.report import render

BOTH = ("numpy", "torch")


@pytest.fixture(autouse=True)
def explorables_on(monkeypatch):
    monkeypatch.setenv("NPREF_EXPLORE", "1")


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    """optimizer-paths run as `run` runs it: its set, with its explorable's 45 runs."""
    out = tmp_path_factory.mktemp("paths")
    with pytest.MonkeyPatch.context() as mp:      # a module's fixture: before conftest's own
        mp.setenv("NPREF_EXPLORE", "1")
        mp.setenv("NPREF_FIGURE_LANGUAGES", "en")
        assert main(["run", "optimizer-paths", "--out", str(out)]) == 0
    return json.loads((out / "optimizer-paths" / "metrics.json").read_text())


def _point(lesson: dict, **at) -> dict:
    """The stored position of ``lesson`` at the slider values ``at`` (row-major order)."""
    keys = [s.key for s in explore.lessons_for("optimizer-paths")[0].sliders]
    index = 0
    for key, values in zip(keys, lesson["values"]):
        index = index * len(values) + values.index(at[key])
    return lesson["points"][index]


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


def test_each_position_is_a_run_of_its_own_on_both_backends(paths):
    """A position holds what a run at its settings computes — both backends' lines, its parity,
    its findings in every language — and the lines are the book's rule at the slider's rate:
    SGD's y after k steps is 2·(1 − 2·lr)^k."""
    (lesson,) = paths["explore"]["lessons"]
    assert lesson["name"] == "sgd-momentum" and len(lesson["points"]) == 9 * 5
    for at in ({"lr_sgd": 1.05, "lr_momentum": 0.4}, {"lr_sgd": 0.5, "lr_momentum": 0.02}):
        point = _point(lesson, **at)
        sets = tuple(f"{k}={v}" for k, v in at.items())
        outcome = runner.compute_seed(runner.Job("optimizer-paths", "quick", 0, sets, "cpu", None,
                                                 BOTH))
        for backend in BOTH:
            series = outcome.results[backend].series
            drawn = {line["label"]["message"]: line for line in point["lines"][backend]}
            for name in ("SGD", "Momentum"):
                assert drawn[name]["x"] == explore._round(series[f"{name}.x"])
                assert drawn[name]["y"] == explore._round(series[f"{name}.y"])
        assert point["parity"]["max_rel_diff"] == outcome.parity["max_rel_diff"]
        assert point["parity"]["passed"] is True
        assert point["findings"]["en"][0]["claim"] == outcome.findings[0].claim
        assert point["findings"]["ko"][0]["measured"] == outcome.translated["ko"][0].measured
    for i, lr in enumerate(lesson["values"][0]):
        point = _point(lesson, lr_sgd=lr, lr_momentum=0.1)
        for backend in BOTH:
            y = np.array(point["lines"][backend][0]["y"])
            expected = 2 * (1 - 2 * lr) ** np.arange(31)
            np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-12)
        zigzag = point["findings"]["en"][0]["reproduced"]
        # the page's "try this": it zigzags between 0.5 and 1.0 only (the claim ✓)
        assert zigzag == {b: 0.5 < lr <= 1.0 for b in BOTH}, (lr, zigzag)


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


def test_the_positions_are_the_executor_s_tasks_with_the_same_results(tmp_path, capfd):
    """`run --jobs 2` hands the lesson's runs to its workers beside the seeds' (one progress
    line each) and stores what `--jobs 1`, computing them itself, stores."""
    from tests.test_catalogue import SLIVERS

    name = "breast-cancer-early-stopping"
    made = runner.plan(runner.RunSpec(name, sets=tuple(SLIVERS[name]), device="cpu"))
    positions = runner.position_jobs(made)
    assert [job.sets[-1] for job in positions] == [
        f"patience={v}" for v in explore.lessons_for(name)[0].sliders[0].values]
    assert runner.position_jobs(made, explore=False) == []
    stored = {}
    for jobs in (1, 2):
        args = ["run", name, "--device", "cpu", "--jobs", str(jobs), "--out",
                str(tmp_path / str(jobs))]
        for item in SLIVERS[name]:
            args += ["--set", item]
        capfd.readouterr()
        assert main(args) == 0
        err = capfd.readouterr().err
        stored[jobs] = json.loads((tmp_path / str(jobs) / name / "metrics.json").read_text())
        for job in positions:
            assert f"done {runner.position_label(made, job)};" in err, err
    assert stored[1]["explore"] == stored[2]["explore"]
    # the figures: with --jobs 2 drawn ahead, while the workers computed the lesson's runs
    assert stored[1]["figure_sha256"] == stored[2]["figure_sha256"]
    assert len(stored[1]["explore"]["lessons"][0]["points"]) == len(positions)


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


def test_the_page_holds_the_sliders_the_data_and_a_table_without_javascript(paths, tmp_path):
    from experiments import i18n
    from experiments.results import from_json

    result = from_json(paths)
    experiment = registry.get("optimizer-paths")
    (x,) = render.explorables(result, result.config)
    assert [s["values"] for s in x["sliders"]] == [
        ["0.1", "0.3", "0.5", "0.7", "0.9", "0.95", "1", "1.02", "1.05"],
        ["0.02", "0.05", "0.1", "0.2", "0.4"]]
    assert [s["start"] for s in x["sliders"]] == [5, 2]             # the run's own 0.95 and 0.1
    data = json.loads(str(x["data"]).replace("<\\/", "</"))
    assert len(data["points"]) == len(x["rows"]) == 45
    page = render.render_experiment(result, experiment)
    assert page.count('class="explore-slider"') == 2 and "<details>" in page
    assert 'src="http' not in page and "<script src" not in page      # nothing fetched
    with i18n.language("ko"):
        (ko,) = render.explorables(result, result.config)
    assert ko["title"] != x["title"] and "학습률" in ko["sliders"][0]["label"]
    assert json.loads(str(ko["data"]).replace("<\\/", "</"))["points"][0]["findings"][0][
        "claim"] == paths["explore"]["lessons"][0]["points"][0]["findings"]["ko"][0]["claim"]


def test_npref_explore_is_checked_before_any_work(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NPREF_EXPLORE", "maybe")
    assert main(["run", "optimizer-paths", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: NPREF_EXPLORE: 'maybe' is not one of 0, 1, off, on")
    assert err.count("\n") == 1 and not (tmp_path / "optimizer-paths").exists()
    monkeypatch.setenv("NPREF_EXPLORE", "0")                 # off: a run without them
    assert main(["run", "optimizer-paths", "--out", str(tmp_path)]) == 0
    assert "explore" not in json.loads((tmp_path / "optimizer-paths" / "metrics.json").read_text())
