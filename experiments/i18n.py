"""The report's languages: English, the source strings, and one gettext catalogue per other
language (``experiments/locale/<lang>.po``, read with Babel).

Every sentence a page, a finding or a figure shows is written once, in English, as a message::

    from experiments.i18n import _
    _("sign changes of y in {steps} steps", steps=30)

``_`` looks the English text up in the current language's catalogue and fills the named
placeholders with ``str.format`` (format specs included: ``{loss:.3g}``); in English, or for a
message the catalogue lacks, it is the English text itself — so English output is exactly what
it was. ``N_`` marks a message where it is defined and translates nothing (a table of labels
translated where it is shown). The current language is a context: ``with language("ko"):``
renders everything inside in Korean, and nothing outside.

A third language is a new catalogue file, ``experiments/locale/<lang>.po``, and its name in
:data:`LANGUAGES`; ``tests/test_i18n.py`` lists every message of the code and the templates the
catalogue does not translate, and fails on any.

Figures in a language whose script matplotlib's default font lacks use a font shipped by a
declared package (Korean: NanumGothic from ``koreanize-matplotlib``), registered with matplotlib
when first needed, behind DejaVu Sans: matplotlib takes each glyph from the first family that
has it, so Hangul comes from NanumGothic and the symbols it lacks (the minus sign of log-axis
ticks) from DejaVu Sans (:func:`figure_fonts`).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import io
import re
import importlib.util
from contextvars import ContextVar
from pathlib import Path

__all__ = ["LANGUAGES", "NAMES", "_", "_h", "N_", "language", "current", "check", "catalogue",
           "figure_fonts", "html_lang", "page_font_css"]

#: The languages the report is written in; English is the source.
LANGUAGES = ("en", "ko")
#: Each language by its own name (the report's language switch).
NAMES = {"en": "English", "ko": "한국어"}
LOCALE = Path(__file__).resolve().parent / "locale"

_current: ContextVar[str] = ContextVar("language", default="en")


def check(lang) -> str:
    """``lang`` if it is one of :data:`LANGUAGES`, else a ``ValueError`` naming the accepted."""
    if lang not in LANGUAGES:
        accepted = ", ".join(repr(x) for x in LANGUAGES)
        raise ValueError(f"--lang must be one of {accepted}, got {lang!r}")
    return lang


def figure_languages() -> tuple:
    """The languages a run draws its figures in: English, and the others of
    ``NPREF_FIGURE_LANGUAGES`` (a comma-separated list; by default every language, so that a
    report in any of them reuses the run). ``NPREF_FIGURE_LANGUAGES=en`` halves the figures' time
    where no other language is wanted; a page in a language whose figures were not drawn shows
    the English ones."""
    import os

    given = os.environ.get("NPREF_FIGURE_LANGUAGES")
    if not given:
        return LANGUAGES
    chosen = [lang.strip() for lang in given.split(",") if lang.strip()]
    for lang in chosen:
        if lang not in LANGUAGES:
            raise ValueError(f"NPREF_FIGURE_LANGUAGES: {lang!r} is not one of "
                             f"{', '.join(LANGUAGES)}")
    return ("en", *(lang for lang in LANGUAGES[1:] if lang in chosen))


def current() -> str:
    """The language being written."""
    return _current.get()


@contextlib.contextmanager
def language(lang: str):
    """Write in ``lang`` inside the block."""
    token = _current.set(check(lang))
    try:
        yield lang
    finally:
        _current.reset(token)


@functools.cache
def catalogue(lang: str) -> dict:
    """``{English message: translation}`` of ``lang``'s catalogue (empty for English; fuzzy
    and empty entries left out, so they show in English and the test lists them)."""
    if check(lang) == "en":
        return {}
    from babel.messages.pofile import read_po

    with open(LOCALE / f"{lang}.po", "rb") as f:
        return {m.id: m.string for m in read_po(f) if m.id and m.string and not m.fuzzy}


#: Korean particles whose form depends on the word before them — 은/는, 이/가, 을/를, 과/와 —
#: written "은(는)" in the catalogue after a placeholder, and settled once the word is known.
_PARTICLES = {"은(는)": ("은", "는"), "이(가)": ("이", "가"), "을(를)": ("을", "를"),
              "과(와)": ("과", "와")}
_PAIRED = re.compile(r"([가-힣])(" + "|".join(re.escape(p) for p in _PARTICLES) + ")")


def _settle_particles(text: str) -> str:
    """"드롭아웃은(는)" → "드롭아웃은", "학습률 감소은(는)" → "학습률 감소는": after a Hangul
    syllable the particle agrees with its final consonant (받침); after anything else (a
    number, a Latin name) the paired form stays, as Korean software writes it."""
    def settle(match):
        syllable, pair = match.groups()
        with_final, without = _PARTICLES[pair]
        return syllable + (with_final if (ord(syllable) - 0xAC00) % 28 else without)
    return _PAIRED.sub(settle, text)


def _(message: str, /, **values) -> str:
    """``message`` in the current language, its ``{placeholders}`` filled from ``values``."""
    lang = _current.get()
    text = message if lang == "en" else catalogue(lang).get(message, message)
    text = text.format(**values) if values else text
    return _settle_particles(text) if lang == "ko" else text


def _h(message: str, /, **values):
    """:func:`_` for a message that holds HTML markup (a template's paragraph with a link):
    the values are escaped, the translated markup kept (``markupsafe.Markup``)."""
    from markupsafe import Markup, escape

    lang = _current.get()
    text = message if lang == "en" else catalogue(lang).get(message, message)
    text = text.format(**{k: escape(v) for k, v in values.items()})
    return Markup(_settle_particles(text) if lang == "ko" else text)


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue without translating it here."""
    return message


def html_lang() -> str:
    """The ``lang`` attribute of a page written now."""
    return _current.get()


#: The font each language's figures need, and the package that ships it.
FONTS = {"ko": ("koreanize_matplotlib", "fonts/NanumGothic.ttf", "NanumGothic")}


@functools.cache
def _register(lang: str) -> str | None:
    """Register ``lang``'s font with matplotlib (once); its family name, or None."""
    if lang not in FONTS:
        return None
    package, relative, family = FONTS[lang]
    spec = importlib.util.find_spec(package)         # found, not imported: no rcParams touched
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the {NAMES.get(lang, lang)} figures need the font of the "
                           f"'{package.replace('_', '-')}' package: pip install "
                           f"{package.replace('_', '-')}")
    from matplotlib import font_manager

    font_manager.fontManager.addfont(str(Path(spec.submodule_search_locations[0]) / relative))
    return family


def figure_fonts() -> dict:
    """The matplotlib rc settings a figure drawn now needs: for a language with its own font,
    DejaVu Sans (matplotlib's own) first and that font behind it — matplotlib's per-glyph
    fallback takes the letters DejaVu lacks (Hangul) from the second, while the mathtext of
    log-axis ticks, which uses the first family alone, keeps its minus sign (NanumGothic has no
    U+2212); for English, none (figures stay exactly as they were)."""
    family = _register(_current.get())
    if family is None:
        return {}
    return {"font.family": ["DejaVu Sans", family]}


#: The letters a page in a language may hold that the reader's browser may lack a font for
#: (Hangul syllables and jamo, CJK punctuation such as 『』), which the page then carries itself.
SCRIPTS = {"ko": r"[\u1100-\u11ff\u3000-\u303f\u3131-\u318e\uac00-\ud7a3]"}


def _font_file(lang: str, weight: str) -> Path:
    package, relative, _family = FONTS[lang]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        _register(lang)                              # raises, naming the package to install
    path = Path(spec.submodule_search_locations[0]) / relative
    return path.with_name(path.stem + weight + path.suffix)


@functools.cache
def page_font_css(lang: str) -> str:
    """The ``@font-face`` rules a page in ``lang`` carries for its script (empty for English):
    the language's figure font, regular and bold, cut down (fontTools) to the letters its
    catalogue uses and inlined as WOFF, ahead of the reader's own fonts in the page's font list (Hangul only) —
    so a page opened on a machine with no Hangul font (a fresh Linux, a container's browser)
    shows Korean, not boxes, and stays one file. About 100 KB (477 syllables)."""
    if lang not in SCRIPTS:
        return ""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    letters = set(re.findall(SCRIPTS[lang], "".join(catalogue(lang).values()) + NAMES[lang]))
    rules = []
    for weight, css_weight in (("", "normal"), ("Bold", "bold")):
        options = subset.Options()
        options.flavor, options.hinting = "woff", False
        options.drop_tables += ["TSI0", "TSI1", "TSI2", "TSI3", "TSI5"]   # VTT sources
        font = TTFont(_font_file(lang, weight))
        cut = subset.Subsetter(options)
        cut.populate(unicodes=sorted(map(ord, letters)))
        cut.subset(font)
        font.flavor = "woff"
        data = io.BytesIO()
        font.save(data)
        rules.append("@font-face { font-family: 'Report Hangul'; font-weight: %s; src: "
                     "url(data:font/woff;base64,%s) format('woff'); }"
                     % (css_weight, base64.b64encode(data.getvalue()).decode("ascii")))
    # The page's own Hangul first: a system font listed before it may claim Hangul it draws as
    # boxes (headless Chromium on a bare Linux did, for some bold headings); Latin text, which
    # the cut-down font lacks, falls through to the reader's system font.
    return "\n".join(rules) + "\nbody { font-family: 'Report Hangul', system-ui, sans-serif; }"
