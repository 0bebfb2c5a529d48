"""The report's languages (experiments.i18n): one catalogue per language, every message of the code
and the templates translated, placeholders kept, English untouched, the option validated, and
Korean figures drawn with a shipped font and no missing glyph."""

from __future__ import annotations

import string
import warnings
from pathlib import Path

import pytest

from experiments import i18n
from experiments.cli import main

ROOT = Path(__file__).resolve().parents[1]
#: How the catalogue's messages are found: the functions that mark them, and the settings'
#: meanings (the third argument of experiments.settings.setting).
KEYWORDS = {"_": None, "_h": None, "N_": None, "setting": (3,)}
METHODS = [("**/templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]


def messages() -> dict:
    """Every message of experiments/ (code and templates): {message: [where, …]}."""
    from babel.messages.extract import extract_from_dir

    found: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for filename, lineno, message, _c, _x in extract_from_dir(
                str(ROOT / "experiments"), METHODS, keywords=KEYWORDS,
                options_map={"**/templates/**.html": {"trim_blocks": "True",
                                                      "lstrip_blocks": "True"}}):
            message = message[0] if isinstance(message, tuple) else message
            found.setdefault(message, []).append(f"{filename}:{lineno}")
    for message, where in phrases().items():
        found.setdefault(message, []).append(where)
    return found


def phrases() -> dict:
    """The words the optimizers' descriptions hold for the report (``npref.optim.Phrase``: a
    formula's words, a note), each with where it is: {message: "npref.optim.RULES[name].…"}."""
    import npref.optim

    found = {}
    for name, rule in npref.optim.RULES.items():
        formulas = rule.formula.values() if isinstance(rule.formula, dict) else [rule.formula]
        for attribute, texts in (("formula", formulas), ("note", [rule.note])):
            for text in texts:
                if isinstance(text, npref.optim.Phrase):
                    found.setdefault(str(text), f"npref.optim.RULES[{name!r}].{attribute}")
    return found


def _fields(text: str) -> list:
    return sorted((name, spec) for _, name, spec, _ in string.Formatter().parse(text)
                  if name is not None)


@pytest.mark.parametrize("lang", [lang for lang in i18n.LANGUAGES if lang != "en"])
def test_every_message_is_translated_with_its_placeholders(lang):
    found = messages()
    assert len(found) > 500, len(found)
    catalogue = i18n.catalogue(lang)
    untranslated = [f"{where[0]}: {m!r}" for m, where in found.items() if m not in catalogue]
    assert not untranslated, (f"{len(untranslated)} messages have no {lang} translation:\n"
                              + "\n".join(untranslated))
    wrong = [f"{m!r} → {catalogue[m]!r}" for m in found if _fields(m) != _fields(catalogue[m])]
    assert not wrong, "placeholders lost or changed:\n" + "\n".join(wrong)


def test_the_catalogue_is_one_file_per_language():
    assert sorted(p.name for p in (ROOT / "experiments" / "locale").glob("*.po")) == [
        f"{lang}.po" for lang in sorted(i18n.LANGUAGES) if lang != "en"]
    assert not list((ROOT / "experiments" / "locale").glob("*/*.po"))


def test_english_is_the_source_and_other_languages_translate():
    assert i18n.current() == "en"
    assert i18n._("{count} train", count=3) == "3 train"
    with i18n.language("ko"):
        assert i18n.current() == "ko" and i18n.html_lang() == "ko"
        assert i18n._("{count} train", count=3) == "훈련 3"
        assert i18n._("a message nobody wrote") == "a message nobody wrote"
    assert i18n.current() == "en"
    with pytest.raises(ValueError, match=r"--lang must be one of 'en', 'ko', got 'fr'"):
        i18n.check("fr")


def test_korean_particles_agree_with_the_word_before_them():
    """"은(는)" after a placeholder settles on the filled-in word's final consonant; after a
    Latin name or a number it stays paired."""
    settle = i18n._settle_particles
    assert settle("드롭아웃은(는) 가중치 감소은(는) 배치 정규화을(를) 모멘텀이(가) 규제과(와)") == (
        "드롭아웃은 가중치 감소는 배치 정규화를 모멘텀이 규제와")
    assert settle("SGD은(는) 0.947을(를)") == "SGD은(는) 0.947을(를)"
    with i18n.language("ko"):
        assert i18n._("{cure} narrows the gap between training and test accuracy without "
                      "giving up test accuracy", cure="가중치 감소").startswith("가중치 감소는 ")


@pytest.mark.parametrize("argv", [["report", "--lang", "fr"], ["run", "optimizer-paths",
                                                                "--lang", "kr"]])
def test_a_bad_language_is_one_error_line(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and err[-1].startswith("error: argument --lang: invalid choice")


def test_korean_figures_use_the_shipped_font_and_miss_no_glyph(tmp_path):
    """A figure with Hangul and the symbols the figures use, drawn as the runner draws a Korean
    figure: DejaVu Sans, NanumGothic (from koreanize-matplotlib, registered at run time) behind
    it for Hangul; a missing glyph would warn or log, and both are errors here (conftest.py),
    the log-scale axis' mathtext minus included."""
    import matplotlib.pyplot as plt

    from experiments import plotting

    with i18n.language("ko"), plotting.fonts(), warnings.catch_warnings():
        warnings.simplefilter("error")
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot([0, 1], [1, 0], label="학습률 감소 β₁ √v ← x²/20 + y² · μ η θ ≈ × −1 ∝")
        ax.set_xlabel("에폭")
        ax.set_ylabel("손실")
        ax.set_title("가중치 감소(weight decay)")
        ax.legend()
        ax.set_yscale("log")                 # ticks in mathtext: 10^−1, whose minus is U+2212
        ax.set_ylim(1e-3, 10)
        written = plotting.save(fig, tmp_path, "check.png")
        assert written == "check.ko.png" and (tmp_path / written).stat().st_size > 5_000
        assert plt.rcParams["font.family"] == ["DejaVu Sans", "NanumGothic"]
    assert "NanumGothic" not in plt.rcParams["font.family"]             # restored


def test_a_run_in_korean_stores_english_words_and_the_korean_beside_them(monkeypatch, tmp_path):
    """``run … --lang ko`` and ``--lang en`` share one result set: its findings and its table are
    stored in English, the Korean words under ``translations`` — whichever language ran it, the
    other re-renders from the same metrics.json."""
    import json
    from dataclasses import dataclass

    from experiments import registry, runner
    from experiments.experiment import Experiment
    from experiments.findings import finding
    from experiments.results import Computed
    from experiments.settings import positive_int, setting

    @dataclass(frozen=True)
    class Probe:
        n: int = setting(1, positive_int, "a count")

    def table(results, config):
        return {"columns": [i18n._("variant")], "rows": [[i18n._("as written")]]}

    def findings(result, config):
        return [finding(i18n._("epochs of training"), i18n._("{count} train", count=3),
                                 True)]

    experiment = Experiment(
        name="language-probe", description="probe", concept="probe", settings=Probe,
        compute=lambda backend, config, seed, data_dir: Computed({"x.loss": [1.0, 0.5]},
                                                                  {"x.loss": 0.5}),
        plot=lambda results, config, out_dir: [], table=table, findings=findings,
        data=lambda config, data_dir: {"name": "none", "source": "none", "n_train": 0,
                                       "n_test": 0})
    monkeypatch.setitem(registry._REGISTRY, experiment.name, experiment)
    monkeypatch.setattr(registry, "all_experiments", lambda: dict(registry._REGISTRY))
    with i18n.language("ko"):
        result = runner.run(runner.RunSpec(experiment.name, device="cpu", out=tmp_path))
    saved = json.loads((tmp_path / experiment.name / "metrics.json").read_text())
    assert saved["table"] == {"columns": ["variant"], "rows": [["as written"]]}
    assert saved["findings"][0]["claim"] == "epochs of training"
    korean = saved["translations"]["ko"]
    assert korean["table"] == {"columns": ["변형"], "rows": [["코드 그대로"]]}
    assert korean["findings"][0]["claim"] == "훈련 에폭 수"
    shown = result.in_language("ko")
    assert shown.table == korean["table"] and shown.findings[0].measured == "훈련 3"
