"""Results as typed values, and result sets on disk — the one module both running and the
report use (see ``docs/results.md``).

In memory, an experiment's ``compute`` returns a :class:`Computed` per backend; the runner turns
the seeds' outcomes into a :class:`Result`, which :func:`to_json` writes as ``metrics.json``
(format :data:`FORMAT`) and :func:`from_json` reads back, so a key renamed on one side fails at
once on the other (``tests/test_results.py`` round-trips every experiment's). A result set —
``metrics.json``, its figures and pages — is written by :func:`write_set` into a fresh folder
and swapped in whole; :func:`saved` reads one back only when it still stands for the run asked
for (its :func:`fingerprint`) and every figure is the one recorded.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np

import npref
from experiments import atomic

__all__ = ["FORMAT", "Computed", "BackendResult", "Finding", "Parity", "Result", "to_json",
           "from_json", "series_key", "split_key", "code_version", "fingerprint", "versions",
           "write_set", "saved", "on_disk"]

#: The version of the ``metrics.json`` format: 2 adds ``format`` itself, ``why`` per finding
#: and ``axes`` per backend (a file without ``format`` is version 1, read as it is).
FORMAT = 2


# -- series keys --------------------------------------------------------------------------------

def series_key(part: str, metric: str) -> str:
    """The name of a series or final value: ``"Adam.loss"`` — the part (a variant, an
    optimizer) and what was measured, joined by the last dot."""
    return f"{part}.{metric}"


def split_key(key: str) -> tuple[str, str]:
    """``"L1 0.01.loss"`` → ``("L1 0.01", "loss")``: the part may hold dots, the metric not."""
    part, _, metric = key.rpartition(".")
    return part, metric


# -- what a backend computes ----------------------------------------------------------------------

@dataclass
class Computed:
    """One backend's result of one experiment, as its ``compute`` returns it.

    ``series``: ``{key: [float]}`` (keys by :func:`series_key`); ``final``: ``{key: float}``;
    ``axes``: what each series is plotted against (``"iteration"``, ``"epoch"``,
    ``"evaluation"``, ``"step"``, ``"layer"``), where the experiment says; ``arrays``: final
    parameters or activations by part, compared between backends but not written out;
    ``extra``: for the figures alone; ``checks``: ``{name: {"value", "criterion", "passed"}}``,
    written out per backend."""

    series: dict
    final: dict
    arrays: dict | None = None
    extra: dict | None = None
    checks: dict | None = None
    axes: dict = field(default_factory=dict)

    def merged(self, other: "Computed") -> "Computed":
        """This result and ``other``'s parts together (a second stage, a second batch of
        variants)."""
        def both(a, b):
            return None if a is None and b is None else {**(a or {}), **(b or {})}
        return Computed({**self.series, **other.series}, {**self.final, **other.final},
                        both(self.arrays, other.arrays), both(self.extra, other.extra),
                        both(self.checks, other.checks), {**self.axes, **other.axes})

    def part(self, name: str) -> "Computed":
        """The series, finals and arrays of one part."""
        return Computed({k: v for k, v in self.series.items() if split_key(k)[0] == name},
                        {k: v for k, v in self.final.items() if split_key(k)[0] == name},
                        {name: self.arrays[name]} if self.arrays and name in self.arrays
                        else {})

    def parts(self) -> list[str]:
        """The parts, in the order their series first appear."""
        return list(dict.fromkeys(split_key(k)[0] for k in [*self.series, *self.final]))


# -- what metrics.json holds --------------------------------------------------------------------

@dataclass
class BackendResult:
    """One backend's part of ``metrics.json``."""

    series: dict
    final: dict
    seconds: float
    device: str
    checks: dict | None = None
    axes: dict = field(default_factory=dict)


@dataclass
class Finding:
    """One claim of the source as judged on every backend (``docs/experiments.md``)."""

    claim: str
    measured: str
    reproduced: dict
    needs: str = "quick"
    why: str | None = None
    reproduced_in: dict | None = None

    @property
    def holds(self) -> bool:
        return all(self.reproduced.values())


@dataclass
class Parity:
    """How far apart the backends landed (``docs/parity.md``); the optional fields are there
    when the run measured them (per part: the shadowed verdict and a nudge's sensitivity; per
    seed)."""

    max_abs_diff: float | None
    max_rel_diff: float | None
    tolerance: float
    passed: bool | None
    floor: str | None = None
    where: str = ""
    compared: int = 0
    by_part: dict | None = None
    sensitivity: dict | None = None
    shadow: dict | None = None
    chaotic: list | None = None
    failed_parts: list | None = None
    criterion: str | None = None
    worst_seed: int | None = None
    by_seed: list | None = None

    @classmethod
    def of(cls, record: dict) -> "Parity":
        names = {f.name for f in fields(cls)}
        unknown = set(record) - names
        if unknown:
            raise ValueError(f"parity: unknown field(s) {sorted(unknown)}")
        return cls(**record)

    def summary(self, lang: str | None = None) -> str:
        """The verdict in one sentence, with the largest difference and the tolerance, in
        ``lang`` (by default the current language, :mod:`experiments.i18n`)."""
        from experiments import i18n

        with i18n.language(lang or i18n.current()):
            return self._summary()

    def _summary(self) -> str:
        from experiments.i18n import _

        if self.passed is None:
            return _("Parity not measured: only one backend ran.")
        figures = _("largest relative difference {diff}, tolerance {tol}",
                    diff=f"{self.max_rel_diff:.1e}", tol=f"{self.tolerance:.0e}")
        if self.passed and self.chaotic:
            shadow = self.shadow or {}
            worst = max((shadow[p]["max_rel_diff"] for p in self.chaotic if p in shadow),
                        default=float("nan"))
            return _("Chaotic — as close as the problem allows ({figures}): the whole runs of "
                     "{parts} drift apart, but PyTorch restarted from NumPy's state after every "
                     "iteration agrees with NumPy within {worst} at every one.", figures=figures,
                     parts=_(" and ").join(self.chaotic), worst=f"{worst:.1e}")
        if self.passed:
            return _("Passed: NumPy and PyTorch agree ({figures}).", figures=figures)
        parts = self.failed_parts or [p for p, v in (self.by_part or {}).items()
                                      if not v <= self.tolerance]
        return (_("FAILED: NumPy and PyTorch disagree ({figures}) in {parts}.", figures=figures,
                  parts=", ".join(parts)) if parts else
                _("FAILED: NumPy and PyTorch disagree ({figures}).", figures=figures))

    def as_dict(self) -> dict:
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None or f.name in ("max_abs_diff", "max_rel_diff", "passed"):
                out[f.name] = value
        return out


@dataclass
class Result:
    """An experiment's results: what ``metrics.json`` holds."""

    experiment: str
    profile: str
    seed: int
    config: dict
    data: dict
    backends: dict
    parity: Parity
    findings: list
    versions: dict
    fingerprint: str
    figures: list = field(default_factory=list)
    figure_sha256: dict = field(default_factory=dict)
    seeds: list | None = None
    table: dict | None = None
    format: int = FORMAT
    #: The other languages' words: ``{lang: {"findings": [{claim, measured, why}, …],
    #: "table": {columns, rows} (where the experiment has one), "figures": [file names]}}`` —
    #: the numbers are the ones above, shared.
    translations: dict = field(default_factory=dict)
    #: The page's explorable lessons (:mod:`experiments.explore`): ``{"lessons": [{name,
    #: values, points: [{lines: {backend: [{label, x, y}]}, parity, findings: {lang: […]}} or
    #: {stopped}]}]}``; None where the experiment has none.
    explore: dict | None = None

    def in_language(self, lang: str) -> "Result":
        """This result with its findings' words and its figures in ``lang`` (itself for
        English, or where the set holds no such translation)."""
        words = self.translations.get(lang)
        if lang == "en" or not words:
            return self
        texts = words.get("findings", [])
        findings = [replace(f, claim=t["claim"], measured=t["measured"], why=t["why"])
                    for f, t in zip(self.findings, texts)] if len(texts) == len(
                        self.findings) else self.findings
        return replace(self, findings=findings, table=words.get("table", self.table),
                       figures=list(words.get("figures", self.figures)))


def to_json(result: Result) -> dict:
    """``metrics.json``'s object (non-finite numbers as null: JSON has none)."""
    out = {"format": result.format, "experiment": result.experiment, "profile": result.profile,
           "seed": result.seed}
    if result.seeds is not None:
        out["seeds"] = list(result.seeds)
    out.update({
        "config": result.config, "data": result.data,
        "backends": {b: _backend_json(r) for b, r in result.backends.items()},
        "parity": result.parity.as_dict()})
    if result.table is not None:
        out["table"] = result.table
    out.update({"findings": [_finding_json(f) for f in result.findings],
                "versions": result.versions, "fingerprint": result.fingerprint,
                "figures": list(result.figures), "figure_sha256": dict(result.figure_sha256)})
    if result.translations:
        out["translations"] = result.translations
    if result.explore is not None:
        out["explore"] = result.explore
    return _finite_or_null(out)


def _backend_json(r: BackendResult) -> dict:
    out = {"series": r.series, "final": r.final, "seconds": r.seconds, "device": r.device}
    if r.checks is not None:
        out["checks"] = r.checks
    if r.axes:
        out["axes"] = r.axes
    return out


def _finding_json(f: Finding) -> dict:
    out = {"claim": f.claim, "measured": f.measured, "reproduced": f.reproduced,
           "needs": f.needs, "why": f.why}
    if f.reproduced_in is not None:
        out["reproduced_in"] = f.reproduced_in
    return out


def from_json(obj: dict) -> Result:
    """A :class:`Result` from ``metrics.json``'s object; a missing field raises ``KeyError``, a
    field of another name ``TypeError`` — never a silently empty page."""
    backends = {b: BackendResult(**r) for b, r in obj["backends"].items()}
    findings = [Finding(**{"why": None, **f}) for f in obj.get("findings", [])]
    return Result(
        experiment=obj["experiment"], profile=obj["profile"], seed=obj["seed"],
        config=obj["config"], data=obj["data"], backends=backends,
        parity=Parity.of(obj["parity"]), findings=findings, versions=obj["versions"],
        fingerprint=obj["fingerprint"], figures=list(obj.get("figures", [])),
        figure_sha256=dict(obj.get("figure_sha256", {})), seeds=obj.get("seeds"),
        table=obj.get("table"), format=obj.get("format", 1),
        translations=dict(obj.get("translations", {})), explore=obj.get("explore"))


def _finite_or_null(obj):
    """JSON has no NaN or Infinity: write them as null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite_or_null(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_or_null(v) for v in obj]
    return obj


# -- what determines a result ---------------------------------------------------------------------

def code_version() -> str:
    """A hash of the project's code (npref, torchref, experiments): results computed by other
    code are never reused."""
    digest = hashlib.sha256()
    root = Path(npref.__file__).resolve().parent.parent
    for package in ("npref", "torchref", "experiments"):
        for path in sorted((root / package).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def versions() -> dict:
    """The versions that made the results. PyTorch's is its installed distribution's (the same
    string as ``torch.__version__``), read without importing it: a process whose workers ran
    the tasks need not import PyTorch to write their results."""
    import importlib.metadata

    found = {"npref": npref.__version__, "numpy": np.__version__,
             "python": platform.python_version()}
    try:
        found["torch"] = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        pass
    return found


def fingerprint(spec, config: dict, *, resolved: str | None = None) -> str:
    """What determines an experiment's results — the run asked for (``spec``, a
    :class:`experiments.runner.RunSpec`), its configuration, the code and the versions: reuse
    them only when every part is the same. ``resolved``: the device ``spec.device`` came to
    (:func:`resolved_device`), where the run already knows it."""
    if resolved is None:
        resolved = resolved_device(spec)
    seeds = spec.seed_list
    key = json.dumps({"name": spec.experiment, "profile": spec.profile,
                      # one seed as the seed itself (as before seeds existed), several as a list
                      "seed": seeds[0] if len(seeds) == 1 else seeds, "config": config,
                      "backends": list(spec.backends), "device": resolved,
                      "data_dir": str(spec.data_dir) if spec.data_dir else None,
                      "code": code_version(), "versions": versions()}, sort_keys=True,
                     default=str)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def resolved_device(spec) -> str:
    """The device ``spec.device`` comes to on this machine (``auto`` → ``cpu`` or ``cuda``) where
    the torch backend runs, else ``spec.device`` as given."""
    if "torch" in spec.backends:
        try:
            from torchref.device import resolve
            return str(resolve(spec.device))
        except (ImportError, ValueError):
            pass
    return spec.device


# -- result sets on disk --------------------------------------------------------------------------

def figure_files(figures, translated: dict) -> list:
    """Every figure file of a set: the English ones, then each other language's."""
    return [*figures, *(f for files in translated.values() for f in files)]


def write_set(folder: Path, result: Result, draw, pages=()) -> Result:
    """Write ``result`` as one set under ``folder``: its figures (``draw(new_folder) -> [file
    names]``, or ``([English files], {lang: [files]})`` with the other languages'),
    ``metrics.json`` (with each figure's SHA-256) and each page of ``pages``
    (``[(file name, render(result) -> str)]``, given by the caller: running knows no pages),
    written into a fresh folder and swapped in together (:func:`experiments.atomic.result_set`).
    Returns the result as written."""
    with atomic.result_set(folder) as new:
        drawn = draw(new)
        figures, translated = (drawn if isinstance(drawn, tuple) else (list(drawn), {}))
        translations = {lang: {**result.translations.get(lang, {}), "figures": files}
                        for lang, files in translated.items()}
        every = figure_files(figures, translated)
        result = replace(result, figures=list(figures),
                         translations={**result.translations, **translations},
                         figure_sha256={f: atomic.sha256(new / f) for f in every})
        atomic.write_json(new / "metrics.json", to_json(result))
        for name, render in pages:
            atomic.write_text(new / name, render(result))
    return result


def read(folder: Path) -> Result | None:
    """The result set's metrics in ``folder``, or None when there is none whole to read."""
    obj = atomic.read_json_object(Path(folder) / "metrics.json")
    if obj is None or not isinstance(obj.get("figures"), list):
        return None
    try:
        return from_json(obj)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def saved(folder: Path, key: str) -> Result | None:
    """The saved result in ``folder`` when it is whole and still stands for ``key``: a parseable
    object with that fingerprint, and every figure present with the SHA-256 it had when written.
    Anything else (truncated, ``[]``, ``null``, a figure of another run) is None: run again."""
    atomic.tidy(folder)
    result = read(folder)
    if result is None or result.fingerprint != key:
        return None
    every = [*result.figures, *(f for words in result.translations.values()
                                for f in words.get("figures", []))]
    return result if figures_intact(folder, every, result.figure_sha256) else None


def figures_intact(folder: Path, names, hashes) -> bool:
    """Every figure present, with the SHA-256 recorded beside it."""
    if not isinstance(hashes, dict):
        return False
    return all((Path(folder) / str(name)).is_file()
               and hashes.get(name) == atomic.sha256(Path(folder) / str(name)) for name in names)


def on_disk(out: Path, names) -> dict:
    """The result of every experiment in ``names`` with a whole set under ``out``, in order —
    each set first repaired under its lock (:func:`experiments.atomic.tidy`: an old set put back
    where an interrupted swap left it aside, the leftovers of dead processes removed)."""
    found = {}
    for name in names:
        atomic.tidy(Path(out) / name)
        result = read(Path(out) / name)
        if result is not None:
            found[name] = result
    return found
