"""The report: valid static HTML that opens from disk, every image present, no machine paths,
reused when unchanged — and, where Chromium is installed, rendered in a real headless browser."""

import html.parser
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from experiments import explore, i18n, registry, runner
from experiments.report import build, render

ONLY = ["optimizer-paths", "breast-cancer-validation"]
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


@pytest.fixture(autouse=True)
def every_language(monkeypatch):
    """The report's tests write pages in both languages: their runs draw both languages' figures
    (conftest.py draws English only), and their explorable lessons."""
    monkeypatch.setenv("NPREF_FIGURE_LANGUAGES", "en,ko")
    monkeypatch.setenv("NPREF_EXPLORE", "1")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    with pytest.MonkeyPatch.context() as mp:        # the Korean pages below need their figures
        mp.setenv("NPREF_FIGURE_LANGUAGES", "en,ko")
        mp.setenv("NPREF_EXPLORE", "1")
        index, failed = build(out=out, profile="quick", only=ONLY, device="cpu")
    assert failed == []
    return out


def pages(site):
    return sorted(site.rglob("*.html"))


@pytest.fixture(scope="module")
def site_ko(site, tmp_path_factory):
    """The same report written in Korean from the same results (a copy, so that the English
    pages stay for the other tests): no experiment reruns."""

    out = tmp_path_factory.mktemp("report-ko") / "site"
    shutil.copytree(site, out)
    before = {p: p.read_bytes() for p in out.rglob("metrics.json")}
    with i18n.language("ko"):
        index, failed = build(out=out, profile="quick", only=ONLY, device="cpu")
    assert failed == [] and {p: p.read_bytes() for p in out.rglob("metrics.json")} == before
    return out


#: Words a Korean page keeps in Latin letters: names of methods, libraries, options and symbols.
NAMES = {"numpy", "pytorch", "npref", "torchref", "python", "sgd", "momentum", "nesterov",
         "adagrad", "rmsprop", "adam", "adamw", "adadelta", "adamax", "nadam", "radam", "asgd",
         "rprop", "adafactor", "xavier", "he", "relu", "sigmoid", "tanh", "mnist", "eps", "ulp",
         "lr", "quick", "full", "book", "torch", "cpu", "cuda", "mlxtend", "scikit", "learn",
         "x", "y", "f", "p", "g", "v", "b", "w", "t", "dtype", "float64", "float32", "softmax",
         "batchnorm", "dropout", "nan", "inf", "lecun", "glorot", "kaiming", "steplr",
         "cosineannealinglr", "reducelronplateau", "jinja", "seeds", "seed", "gemm", "blas",
         "openblas", "idx"}


def hangul_share(html_text: str) -> float:
    """The share of Hangul among the letters of a page's prose: text outside code, figures'
    file names and the formula lines, with numbers, identifiers (names above, words with digits,
    dots, underscores or capitals inside) and the English term given in parentheses after a
    Korean one left out."""
    text = re.sub(r"(?s)<(code|pre|style|title|script)[^>]*>.*?</\1>", " ", html_text)
    text = re.sub(r'(?s)<p class="formula">.*?</p>', " ", text)
    text = re.sub(r"<[^>]+>", " ", text)
    text = html.unescape(text)
    text = re.sub(r"(?<=[가-힣])\([A-Za-z][A-Za-z ,'’\-]*\)", " ", text)
    words = re.findall(r"[A-Za-z][A-Za-z0-9_.\-]*", text)
    latin = sum(len(w) for w in words
                if w.lower() not in NAMES and not re.search(r"[0-9_.\-]|.[A-Z]", w))
    hangul = len(re.findall(r"[가-힣]", text))
    return hangul / max(1, hangul + latin)


class Checker(html.parser.HTMLParser):
    """Well-formedness: every element closed in order, ids unique; collects links and images."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.ids, self.links, self.images, self.errors = [], set(), [], [], []
        self.text = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            if attrs["id"] in self.ids:
                self.errors.append(f"duplicate id {attrs['id']}")
            self.ids.add(attrs["id"])
        if tag == "a" and "href" in attrs:
            self.links.append(attrs["href"])
        if tag == "img":
            self.images.append(attrs.get("src"))
            if not attrs.get("alt"):
                self.errors.append(f"image without alt text: {attrs.get('src')}")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def test_every_page_is_well_formed_html_with_working_relative_links(site):
    assert {p.relative_to(site).as_posix() for p in pages(site)} == {
        "index.html", "conventions.html", *(f"{n}/index.html" for n in ONLY)}
    for page in pages(site):
        text = page.read_text()
        assert text.startswith("<!DOCTYPE html>") and '<html lang="en">' in text
        checker = Checker()
        checker.feed(text)
        checker.close()
        assert checker.errors == [] and checker.stack == [], (page, checker.errors)
        # Scripts only where a page has explorable lessons, in the page itself (nothing to
        # fetch); the page reads without them: its words, figures and links are outside them.
        scripts = re.findall(r"(?s)<script[^>]*>.*?</script>", text)
        assert not scripts or 'class="explore"' in text, page
        assert all(s.startswith(("<script>", '<script type="application/json"'))
                   for s in scripts), page
        plain = Checker()
        plain.feed(re.sub(r"(?s)<script[^>]*>.*?</script>", "", text))
        for ref in plain.links + plain.images:
            assert not re.match(r"^(/|[a-z]+:)", ref), f"{page}: {ref} is not relative"
            target = (page.parent / ref.split("#")[0]).resolve()
            assert target.exists(), f"{page}: {ref} points nowhere"
        body = " ".join(plain.text)
        assert len(body.split()) > 80, f"{page} is nearly empty"
    assert any('class="explore"' in p.read_text() for p in pages(site))


def test_no_absolute_path_of_this_machine(site):
    forbidden = {str(Path.cwd()), str(Path.home()), str(site), "/work/", "/tmp/", "file://"}
    for page in pages(site):
        text = page.read_text()
        assert not [f for f in forbidden if f in text], page


def test_index_lists_every_experiment_with_its_parity(site):
    text = (site / "index.html").read_text()
    for name in ONLY:
        assert f'href="{name}/index.html"' in text
    assert text.count('class="pass">passed<') >= len(ONLY)
    page = (site / "breast-cancer-validation" / "index.html").read_text()
    for needed in ("Parity", "Configuration", "python -m experiments run breast-cancer-validation",
                   "sklearn.datasets.load_breast_cancer", "numpy", "torch"):
        assert needed in page


def test_conventions_page_measures_every_difference(site):
    text = (site / "conventions.html").read_text()
    for name in ("Adam", "AdaGrad", "RMSprop", "Momentum", "Nesterov", "BatchNorm", "Dropout",
                 "Softmax cross-entropy", "Training-loop bookkeeping"):
        assert f">{name}</h2>" in text
    assert text.count("When it matters.") == 9


def test_unchanged_results_are_reused_and_force_reruns(site, capfd, monkeypatch):
    import json

    from experiments.report import conventions

    metrics = site / "optimizer-paths" / "metrics.json"
    before = metrics.stat().st_mtime_ns
    build(out=site, profile="quick", only=["optimizer-paths"], device="cpu")
    assert metrics.stat().st_mtime_ns == before
    assert "reusing its results" in capfd.readouterr().err
    # --force measures the conventions again too. Their measurement and figures (17-25 s, the
    # conventions' own tests check them) are stood in for by this report's saved ones, so that
    # the pages the later tests read stay what they were; the stand-ins count their calls.
    folder, calls = site / "conventions", []
    saved = json.loads((folder / "conventions.json").read_text())

    def measure():
        calls.append("measure")
        return {k: v for k, v in saved.items()
                if k not in ("figures", "translations", "figure_sha256", "code")}

    def plot(measured, out_dir):
        lang = i18n.current()
        calls.append(f"plot {lang}")
        names = saved["figures"] if lang == "en" else saved["translations"][lang]["figures"]
        for name in names.values():
            shutil.copy(folder / name, Path(out_dir) / name)
        return dict(names)

    monkeypatch.setattr(conventions, "measure", measure)
    monkeypatch.setattr(conventions, "plot", plot)
    build(out=site, profile="quick", only=["optimizer-paths"], device="cpu", force=True)
    assert metrics.stat().st_mtime_ns != before
    assert calls == ["measure", *(f"plot {lang}" for lang in i18n.LANGUAGES)]
    assert json.loads((folder / "conventions.json").read_text()) == saved


def test_with_two_jobs_the_workers_write_the_same_sets(site, tmp_path, capfd):
    """``--jobs 2``: the sets (figures in both languages, page, notebook) are written by this
    process and a worker, as tasks; every figure and number is the same as the one-job report's
    (``site``), but the seconds each backend took."""
    import json

    out = tmp_path / "two"
    shutil.copytree(site / "conventions", out / "conventions")
    index, failed = build(out=out, profile="quick", only=ONLY, device="cpu", jobs=2)
    assert failed == []
    err = capfd.readouterr().err
    assert all(f"done writing {name}" in err for name in ONLY), err[-2000:]
    for name in ONLY:
        one, two = (json.loads((folder / name / "metrics.json").read_text())
                    for folder in (site, out))
        for m in (one, two):
            for backend in m["backends"].values():
                backend.pop("seconds")
        assert one == two, name
        assert (out / name / "index.html").is_file() and (out / name / f"{name}.ipynb").is_file()


def test_with_two_jobs_the_conventions_are_a_writing_task_first(tmp_path, monkeypatch):
    """Where the conventions are to be measured, ``--jobs 2`` makes them the first writing task
    (the longest), beside the sets; with them saved, or on one job, they are not a task (one
    job: every set written here)."""
    from experiments.report import building
    from experiments.runner import RunSpec, plan
    from tests.conftest import copy_conventions

    class Pool:
        def __init__(self, jobs):
            self.jobs, self.maps = jobs, []

        def map(self, fn, tasks, *, labels=None, log=None, meanwhile=None):
            self.maps.append((fn, [t[0] for t in tasks], labels))
            return [f"{t[0]} done" if fn is building._write else None for t in tasks]

    made = plan(RunSpec("optimizer-paths", profile="quick", device="cpu", out=tmp_path))
    pool = Pool(2)
    written, conventions = building._run_planned([made], pool, "local", 2, tmp_path, False)
    assert conventions == "conventions done" and written == {"optimizer-paths": "set done"}
    fn, kinds, labels = pool.maps[1]
    assert fn is building._write and kinds == ["conventions", "set"]
    assert labels == ["measuring the conventions", "writing optimizer-paths"]

    copy_conventions(tmp_path)                   # saved: the sets are the only tasks
    pool = Pool(2)
    assert building._run_planned([made], pool, "local", 2, tmp_path, False) == (
        {"optimizer-paths": "set done"}, None)
    assert pool.maps[1][1] == ["set"]

    monkeypatch.setattr(building, "finish",
                        lambda made, seeds, pages, explored: "written here")
    pool = Pool(1)                               # one job: no writing tasks at all
    assert building._run_planned([made], pool, "local", 1, tmp_path, False) == (
        {"optimizer-paths": "written here"}, None)
    assert [m[0] for m in pool.maps] == [building.compute_seed]


def test_with_two_jobs_the_longest_runs_go_first_and_each_set_gets_its_own_seeds(tmp_path,
                                                                                 monkeypatch):
    """The workers take the runs longest first (a long one started last leaves the other cores
    idle); each experiment's set is still written from its own seeds, in seed order."""
    from experiments.report import building
    from experiments.runner import RunSpec, plan
    from tests.conftest import copy_conventions

    class Pool:
        def __init__(self, jobs):
            self.jobs, self.maps = jobs, []

        def map(self, fn, tasks, *, labels=None, log=None, meanwhile=None):
            self.maps.append((fn, [t[0] for t in tasks] if fn is building.compute_seed
                              else list(tasks)))
            return [t[0] for t in tasks]        # a run's outcome: its job; a write: its kind

    monkeypatch.setenv("NPREF_EXPLORE", "0")   # the seeds alone (positions: the test below)
    names = ["optimizer-paths", "breast-cancer-init", "lecture-errata"]
    planned = [plan(RunSpec(n, profile="quick", device="cpu", seeds=2, out=tmp_path))
               for n in names]
    copy_conventions(tmp_path)
    pool = Pool(2)
    building._run_planned(planned, pool, "local", 2, tmp_path, False)
    (_, runs), (_, writes) = pool.maps
    assert [(j.experiment, j.seed) for j in runs] == [
        ("lecture-errata", 0), ("lecture-errata", 1), ("breast-cancer-init", 0),
        ("breast-cancer-init", 1), ("optimizer-paths", 0), ("optimizer-paths", 1)]
    for name, task in zip(names, writes):                     # the sets in the catalogue's order
        kind, spec, _config, _data, _jobs, seeds, *_ = task
        assert (kind, spec.experiment) == ("set", name)
        assert [(j.experiment, j.seed) for j in seeds] == [(name, 0), (name, 1)]
    monkeypatch.setattr(building, "finish", lambda made, seeds, pages, explored: seeds)
    pool = Pool(1)                         # one job after the other: the catalogue's order
    written, _ = building._run_planned(planned, pool, "local", 1, tmp_path, False)
    assert [(j.experiment, j.seed) for j in pool.maps[0][1]] == [
        (n, seed) for n in names for seed in (0, 1)]
    assert {n: [j.seed for j in seeds] for n, seeds in written.items()} == {
        n: [0, 1] for n in names}


def test_the_explorables_runs_are_tasks_beside_the_seeds_and_reach_their_own_set(
        tmp_path, monkeypatch):
    """With the pages' explorable lessons on, their runs are the workers' tasks too (flagged
    as positions, the longest first with the rest), and each set is written with its own
    positions' outcomes, in the lesson's order."""
    from experiments.report import building
    from experiments.runner import RunSpec, plan, position_jobs
    from tests.conftest import copy_conventions

    class Pool:
        def __init__(self):
            self.jobs, self.maps = 2, []

        def map(self, fn, tasks, *, labels=None, log=None, meanwhile=None):
            self.maps.append((list(tasks), labels))
            return list(tasks)          # a run's outcome: its task; a write: its task

    monkeypatch.setenv("NPREF_EXPLORE", "1")
    names = ["optimizer-paths", "breast-cancer-early-stopping", "lecture-errata"]
    planned = [plan(RunSpec(n, profile="quick", device="cpu", out=tmp_path)) for n in names]
    copy_conventions(tmp_path)
    pool = Pool()
    building._run_planned(planned, pool, "local", 2, tmp_path, False)
    (runs, labels), (writes, _) = pool.maps
    positions = {made.spec.experiment: position_jobs(made) for made in planned}
    assert [len(p) for p in positions.values()] == [45, 5, 0]
    assert [(job.experiment, position) for job, position in runs] == (
        [("lecture-errata", False), ("breast-cancer-early-stopping", False)]
        + [("breast-cancer-early-stopping", True)] * 5
        + [("optimizer-paths", False)] + [("optimizer-paths", True)] * 45)
    assert "breast-cancer-early-stopping at patience=30" in labels
    for name, (kind, spec, *_rest, explored) in zip(names, writes):
        assert (kind, spec.experiment) == ("set", name)
        assert explored == [(job, True) for job in positions[name]]
    assert explore.positions("optimizer-paths", planned[0].config, ("a=1",))[0] == (
        "a=1", "lr_sgd=0.1", "lr_momentum=0.02")


def test_every_experiment_has_a_task_length_for_the_report_order():
    from experiments.report import building

    assert set(building.TASK_SECONDS) == set(registry.all_experiments())


#: The elements (outside scrolling blocks) whose right edge passes the viewport's.
#: Figures as the page shows them: each figure's file and displayed widths, and every code
#: panel that scrolls sideways (a panel must wrap, never hide its lines' ends).
FIGURES = """[...document.images].filter(i => !i.closest('.card'))
  .map(i => ({src: i.src, natural: i.naturalWidth, shown: i.clientWidth}))"""
CODE_OVERFLOW = """[...document.querySelectorAll('pre')]
  .filter(p => p.scrollWidth > p.clientWidth + 1).map(p => p.textContent.slice(0, 60))"""
OVERFLOW = """[...document.querySelectorAll('body *')]
  .filter(e => !e.closest('pre') && e.getBoundingClientRect().right >
               document.documentElement.clientWidth + 1)
  .map(e => e.tagName + (e.className ? '.' + e.className : ''))"""


def test_pages_state_the_findings_and_the_index_groups_by_topic(site):
    """Each experiment's findings are in its metrics.json and on its page; the index has the
    chapter's sections, a thumbnail and the findings per experiment, and no pages cite a document outside the report or
    show a raw key path or a 17-digit float."""
    import json

    index = (site / "index.html").read_text()
    assert index.index(">Optimizers") < index.index(">The breast-cancer lecture")
    for name in ONLY:
        m = json.loads((site / name / "metrics.json").read_text())
        assert m["findings"] and all(set(f["reproduced"]) == {"numpy", "torch"}
                                     for f in m["findings"])
        page = (site / name / "index.html").read_text()
        assert f'src="{name}/{m["figures"][0]}"' in index
        for f in m["findings"]:
            escaped = f["claim"].replace("'", "&#39;")
            assert escaped in page and escaped in index
    paths = (site / "optimizer-paths" / "index.html").read_text()
    # read at build time: the book's form in NumPy, PyTorch's own update function that ran
    assert "The rule, side by side" in paths and "def momentum(params, grads, v" in paths
    assert "torch/optim/sgd.py, _single_tensor_sgd" in paths
    # chapter 6's in the book's notation (Adam's book form, not npref's fast update)
    assert "def adam(params, grads, m, v, t" in paths
    for path in pages(site):
        text = path.read_text()
        assert "SPEC" not in text and "shared/" not in text, path
        assert not re.search(r"\d\.\d{12,}", text), path


def test_run_refreshes_its_page_and_index_row_and_marks_overrides(site):
    from experiments.cli import main

    name = "breast-cancer-validation"
    assert main(["run", name, "--out", str(site), "--device", "cpu", "--set", "epochs=700"]) == 0
    page = (site / name / "index.html").read_text()
    assert "--set epochs=700" in page and "changed on the command line: epochs" in page
    assert "the training part split again, for 700 epochs".lower() in page.lower()
    assert "at epoch 700" in (site / "index.html").read_text()
    build(out=site, profile="quick", only=[name], device="cpu")   # back to the quick profile


def test_prose_numbers_come_from_the_configuration_that_ran():
    """Where the quick profile changes a number, the quick page never states the full one."""
    from experiments.registry import all_experiments

    for name, e in all_experiments().items():
        quick = e.config_for("quick")
        full = e.config_for("full")
        text = e.concept_for(quick)
        numbers = set(re.findall(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?![\w.])", text))
        for key, value in full.items():
            if value == quick[key] or isinstance(value, (bool, list, str)):
                continue
            stale = {f"{value:g}", f"{value:,}"} & numbers
            assert not stale - {f"{v:g}" for v in quick.values()
                                if isinstance(v, (int, float)) and not isinstance(v, bool)}, (
                f"{name}: the quick page states {key} = {value} (full profile)")


def _png_dpi(path) -> float:
    """The resolution a PNG records (its pHYs chunk), in dots per inch."""
    import struct

    data = Path(path).read_bytes()
    at = data.find(b"pHYs")
    x_per_metre = struct.unpack(">I", data[at + 4:at + 8])[0]
    return x_per_metre * 0.0254


def test_figures_are_written_for_a_projector(site):
    """150 dpi or more, and every text at least 12 px tall on the page (checked as each figure
    is saved: a figure with smaller text is refused, see the next test)."""
    from experiments import plotting

    figures = sorted(site.rglob("*.png"))
    assert figures
    for path in figures:
        assert _png_dpi(path) >= 150 - 0.5, path
    assert plotting.DPI >= 150 and plotting.MIN_TEXT_PX >= 12


def test_a_figure_with_text_too_small_for_the_page_is_refused(tmp_path):
    import matplotlib.pyplot as plt

    from experiments.plotting import FigureError, save

    fig, ax = plt.subplots(figsize=(16, 4))
    ax.plot([0, 1], [0, 1])
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("8-point text on a 16-inch figure", fontsize=8)
    with pytest.raises(FigureError, match="under 12 px"):
        save(fig, tmp_path, "small.png")


def test_figures_with_an_empty_panel_or_an_unlabelled_axis_are_refused(tmp_path):
    import matplotlib.pyplot as plt

    from experiments.plotting import FigureError, save

    fig, (a, _) = plt.subplots(1, 2)
    a.plot([1, 2], [3, 4])
    a.set_xlabel("x")
    a.set_ylabel("y")
    with pytest.raises(FigureError, match="panel 2.*draws nothing"):
        save(fig, tmp_path, "empty.png")
    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    with pytest.raises(FigureError, match="without a label"):
        save(fig, tmp_path, "unlabelled.png")
    fig, ax = plt.subplots()
    ax.plot([1], [3])
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    with pytest.raises(FigureError, match="single point"):
        save(fig, tmp_path, "point.png")
    assert not list(tmp_path.iterdir())
    fig, ax = plt.subplots()
    ax.plot([1], [3], marker="o")
    fig.supxlabel("x")
    fig.supylabel("y")
    assert save(fig, tmp_path, "fine.png") == "fine.png"


def test_every_korean_page_is_korean_html(site_ko):
    """The Korean report: the same pages, lang="ko", well formed, Korean figures beside the
    English ones, and prose at least 90 % Hangul (the English term once in parentheses, names
    and code aside)."""
    assert {p.relative_to(site_ko).as_posix() for p in pages(site_ko)} == {
        "index.html", "conventions.html", *(f"{n}/index.html" for n in ONLY)}
    for page in pages(site_ko):
        text = page.read_text()
        assert text.startswith("<!DOCTYPE html>") and '<html lang="ko">' in text, page
        checker = Checker()
        checker.feed(text)
        assert checker.errors == [] and checker.stack == [], (page, checker.errors)
        for src in checker.images:
            assert ".ko." in src and (page.parent / src).exists(), (page, src)
        # the page carries the Hangul it shows (a browser with no Korean font shows it too)
        assert "font-family: 'Report Hangul'" in text, page
        font_letters = set(re.findall(i18n.SCRIPTS["ko"], "".join(
            i18n.catalogue("ko").values()) + i18n.NAMES["ko"]))
        shown = set(re.findall(i18n.SCRIPTS["ko"], re.sub(r"(?s)<style>.*?</style>", "", text)))
        assert shown <= font_letters, (page, sorted(shown - font_letters)[:20])
        share = hangul_share(text)
        assert share >= 0.9, f"{page.relative_to(site_ko)}: {share:.0%} Hangul"


def _chromium():
    for candidate in (os.environ.get("NPREF_CHROMIUM"), "chromium", "chromium-browser",
                      "google-chrome"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    return None


@pytest.mark.skipif(_chromium() is None,
                    reason="no Chromium on this machine (Debian: apt install chromium; or set "
                           "NPREF_CHROMIUM to a Chromium executable)")
def test_every_page_renders_in_a_real_browser(site, site_ko, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright (a dev dependency) is not installed")
    flags = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run"]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=flags)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            shown = [site / "index.html", site / "conventions.html",
                     *(site / name / "index.html" for name in ONLY)]
            korean = [site_ko / "index.html", site_ko / ONLY[0] / "index.html"]
            assert len(shown) >= 4 and all(p.exists() for p in shown)
            for path in [*pages(site), *korean]:
                page.goto(path.as_uri())
                page.wait_for_load_state("load")
                broken = page.evaluate("[...document.images].filter(i => !(i.complete && "
                                       "i.naturalWidth > 0)).map(i => i.src)")
                assert broken == [], f"{path}: images that did not load: {broken}"
                assert page.evaluate("document.images.length") >= 1, path
                assert len(page.inner_text("body")) > 500, f"{path} renders nearly blank"
                # Nothing wider than the page: a wide table or code block scrolls inside itself.
                wider = page.evaluate(OVERFLOW)
                assert wider == [], f"{path}: elements overflow the page width: {wider}"
                assert page.evaluate(CODE_OVERFLOW) == [], f"{path}: a code panel overflows"
                for figure in page.evaluate(FIGURES):
                    # sharp (never enlarged) and shown large: at least 600 px or its own width
                    assert figure["natural"] >= figure["shown"], figure
                    assert figure["shown"] >= min(600, figure["natural"]), figure
                shot = tmp_path / (("ko-" if path in korean else "") + path.parent.name + "-"
                                   + path.stem + ".png")
                page.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 20_000, f"{path}: the screenshot is blank"
        finally:
            browser.close()


@pytest.mark.skipif(_chromium() is None, reason="no Chromium on this machine")
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_the_explorable_redraws_each_stored_setting_in_a_real_browser(site, site_ko, lang):
    """optimizer-paths' sliders in Chromium: every position draws the stored lines of that
    setting (both backends), and shows its parity and the claims' verdicts; the page asks for
    nothing outside its own folder; without JavaScript the table of every setting is there and
    the sliders are not."""
    sync_api = pytest.importorskip("playwright.sync_api")
    root = site if lang == "en" else site_ko
    path = root / "optimizer-paths" / "index.html"
    stored = json.loads((root / "optimizer-paths" / "metrics.json").read_text())
    lesson = stored["explore"]["lessons"][0]
    sizes = [len(v) for v in lesson["values"]]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        try:
            page = browser.new_page()
            requests, errors = [], []
            page.on("request", lambda r: requests.append(r.url))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(path.as_uri())
            section = page.locator("section.explore")
            sliders = section.locator("input.explore-slider")
            assert sliders.count() == 2 and section.locator(".explore-ui").is_visible()
            seen = set()
            for i in range(sizes[0]):
                for j in (0, sizes[1] - 1) if i % 2 else (sizes[1] - 1, 0):
                    for k, value in ((0, i), (1, j)):
                        sliders.nth(k).evaluate("(e, v) => { e.value = v; "
                                                "e.dispatchEvent(new Event('input')); }", value)
                    index = i * sizes[1] + j
                    assert section.get_attribute("data-point") == str(index)
                    point = lesson["points"][index]
                    drawn = section.locator("polyline").evaluate_all(
                        "ls => ls.map(l => [l.dataset.backend, JSON.parse(l.dataset.x), "
                        "JSON.parse(l.dataset.y), l.getAttribute('points').split(' ').length])")
                    want = [[b, line["x"], line["y"], len(line["y"])]
                            for b in ("numpy", "torch") for line in point["lines"][b]]
                    assert drawn == want, (i, j)
                    parity = section.locator(".explore-parity").inner_text()
                    assert render.sci(point["parity"]["max_rel_diff"]) in parity
                    claims = section.locator(".explore-claims li").all_inner_texts()
                    marks = ["✓" if all(f["reproduced"].values()) else "✗"
                             for f in point["findings"][lang]]
                    assert [c.split(" ")[0] for c in claims] == marks
                    assert all(f["measured"] in c
                               for f, c in zip(point["findings"][lang], claims))
                    seen.add(tuple(marks))
            assert len(seen) == 2                  # the claim turns ✗ and ✓ as SGD's rate moves
            assert errors == []
            folder = path.parent.as_uri() + "/"                   # the page's own folder
            assert requests and all(url.startswith(folder) for url in requests), \
                [u for u in requests if not u.startswith(folder)]
            quiet = browser.new_page(java_script_enabled=False)
            quiet.goto(path.as_uri())
            assert not quiet.locator(".explore-ui").is_visible()
            quiet.locator("section.explore summary").click()
            assert quiet.locator("section.explore details tbody tr").count() == len(
                lesson["points"])
            assert quiet.locator("img").count() >= 1                     # the figures stay
        finally:
            browser.close()


def test_pages_come_from_templates_with_escaping_and_strict_data(tmp_path):
    """Markup lives in the templates: data is escaped text, a missing value is an error, the
    number filters format as the pages need, and the benchmark page links to itself."""
    import jinja2

    from experiments.report import render, write_bench_page

    assert (render.sci(1.234e-4), render.tol(1e-9), render.seconds(2.345, 2)) == (
        "1.23e-04", "1e-09", "2.35 s")
    assert render.sci(None) == render.cell(None) == "—"
    row = {"impl": "npref <fast> & co", "device": "cpu", "batch": 128, "dtype": "float32",
           "ms": 1.0, "ms_low": 0.9, "ms_high": 1.1, "vs_pytorch": 1.5, "gflops": 10.0,
           "of_gemm": 0.01}
    result = {"rounds": 5, "warmup": 10, "blocks": 5, "steps": 20, "params": 119_910,
              "machine_gflops": 900.0, "cpu_count": 2, "torch_threads": 2,
              "figure": "bench.png", "gemm_gflops": {"torch": 900.0}, "rows": [row]}
    text = write_bench_page(result, tmp_path).read_text()
    assert "npref &lt;fast&gt; &amp; co" in text and "<fast>" not in text
    assert 'href="../bench/index.html">Performance</a>' in text and "119,910" in text
    with pytest.raises(jinja2.UndefinedError):
        render.render_bench({**result, "rows": [{"impl": "x"}]})


def rule_panels(page: Path) -> list:
    """(formula, column, [(title, code)]) for every column of every rule on a built page."""
    text = page.read_text(encoding="utf-8")
    found = []
    for rule in text.split('<p class="formula">')[1:]:
        formula = rule.split("</p>", 1)[0]
        side = re.search(r'<div class="side">\n(.*?</div>)\n</div>', rule, re.S).group(1)
        for column, body in zip(("NumPy", "PyTorch"), re.findall(r"<div>(.*?)</div>", side,
                                                                 re.S)):
            blocks = re.findall(r'<p><code>([^<]*)</code>[^<]*</p><pre class="rule">(.*?)</pre>',
                                body, re.S)
            found.append((html.unescape(formula), column,
                          [(t, html.unescape(code)) for t, code in blocks]))
    return found


def test_every_rule_panel_of_the_built_pages_shows_the_code_that_ran(site, site_ko):
    """issue 42, on the pages as written (both languages, both columns): every column holds code
    (a PyTorch column was empty where the environment is reached through a symlink), no panel
    is longer than a student can set beside the book's listing, the NumPy column has no out=
    buffers, and no column calls a private helper whose lines are not on the page."""
    from tests.test_rule_panels import MAX_LINES, PRIVATE_CALL

    checked = 0
    for page in [*site.glob("*/index.html"), *site_ko.glob("*/index.html")]:
        for formula, column, blocks in rule_panels(page):
            where = f"{page.parent.name}: {formula[:40]} ({column})"
            assert blocks, f"{where}: no code"
            shown = {t.rsplit(".", 1)[-1].rsplit(", ", 1)[-1] for t, _ in blocks}
            lines = sum(len(code.splitlines()) for _, code in blocks)
            assert lines <= MAX_LINES, f"{where}: {lines}"
            for title, code in blocks:
                assert column == "PyTorch" or "out=" not in code, f"{where}: out= in {title}"
                for name in PRIVATE_CALL.findall(code):
                    assert name in shown, f"{where}: calls {name}() without showing it"
            checked += 1
    assert checked >= 2 * 2 * 14, checked          # optimizer-paths' 14 rules, both languages


# -- optimizer-paths' explorable lesson (docs/explore.md), as the report above computed it -------

BOTH = ("numpy", "torch")


@pytest.fixture(scope="module")
def paths(site):
    """optimizer-paths' set as the report wrote it, with its explorable's 45 runs."""
    return json.loads((site / "optimizer-paths" / "metrics.json").read_text())


def _point(lesson: dict, **at) -> dict:
    """The stored position of ``lesson`` at the slider values ``at`` (row-major order)."""
    keys = [s.key for s in explore.lessons_for("optimizer-paths")[0].sliders]
    index = 0
    for key, values in zip(keys, lesson["values"]):
        index = index * len(values) + values.index(at[key])
    return lesson["points"][index]


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


def test_the_page_holds_the_sliders_the_data_and_a_table_without_javascript(paths):
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
