"""Side-by-side experiments on npref and torchref, and the teaching comparison report.

``python -m experiments --help`` for the command line; :func:`run` to run one experiment from
Python (a notebook's cells use it); :mod:`experiments.registry` for the catalogue;
:mod:`experiments.backends` for the interface every experiment is written against.
"""

from __future__ import annotations

__all__ = ["run"]


def run(name: str, settings: dict | None = None, *, seed: int = 0, profile: str = "quick",
        seeds: int = 1, backends=("numpy", "torch"), device: str = "auto", data_dir=None,
        out="results", lang: str = "en"):
    """Run experiment ``name`` on NumPy and PyTorch as ``python -m experiments run`` does, and
    return its :class:`~experiments.results.Result` (``.findings``, ``.parity``, ``.figures``,
    ``.backends``); its set — metrics.json, figures, page — is written to ``out/NAME/``.

    ``settings``: values that replace the profile's (``{"epochs": 30}``), each checked as
    ``--set`` checks it: an unknown key or a value out of range is a ``ValueError`` naming it,
    before any work. ``lang``: the language of the page, the figures and the returned
    result's findings (``"en"`` or ``"ko"``; metrics.json keeps both). The page's explorable
    lessons — a grid of runs behind its sliders — are left to ``python -m experiments run`` and
    ``report`` (which computes them for a set written here): a notebook waits for none of them."""
    import contextlib
    import sys

    from experiments import i18n, registry, report, runner
    from experiments.settings import ConfigError
    from experiments.settings import _cli as settings_text      # what --set reads back

    i18n.check(lang)
    experiment = registry.get(name)
    given = dict(settings or {})
    unknown = sorted(set(given) - set(experiment.defaults))
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(map(repr, unknown))} for {name}; "
                          f"valid keys: {', '.join(experiment.defaults)}")
    sets = tuple(f"{key}={settings_text(list(value) if isinstance(value, tuple) else value)}"
                 for key, value in given.items())
    spec = runner.RunSpec(name, profile=profile, seed=seed, seeds=seeds, sets=sets,
                          backends=tuple(backends), device=device, data_dir=data_dir, out=out)
    # The progress lines go to stdout here: a notebook shows stderr as if something were wrong.
    with contextlib.redirect_stderr(sys.stdout), i18n.language(lang):
        result = runner.run(spec, pages=report.page_writers(experiment, spec.out), explore=False)
        report.ship_wheel(spec.out)
        if (spec.out / report.PAGES["index"]).exists():
            report.refresh_index(spec.out)
    return result.in_language(lang)
