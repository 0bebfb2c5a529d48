"""An experiment's settings, declared where the experiment is: a frozen dataclass whose fields
carry their default, their check and their meaning (``docs/experiments.md``).

::

    @dataclass(frozen=True)
    class Settings:
        epochs: int = setting(201, positive_int, "epochs of training")
        hidden: list = setting([100] * 6, layer_sizes, "hidden layer sizes")

    PROFILES = {"quick": Settings(epochs=151)}

A field's type is its default's: ``--set epochs=50`` gives an int, ``--set lr=0.1`` a float,
``--set convention=torch`` a string, ``--set use_bn=true`` a bool, ``--set hidden=100,100`` a list
of the default list's element type. Its check is one of the functions below (the library's own
checks, :mod:`npref._validate`, where they exist), each saying what it accepts in words — which
``run NAME --help`` prints beside the default. A value that does not parse or lies outside its
range is a :class:`ConfigError` naming the key, the value and what is accepted, before any work.
Profiles are named instances; ``full`` is the declaration's defaults, the source's settings.
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import MISSING, field, fields

import npref.init
from npref import _validate

PROFILES = ("quick", "full")


class ConfigError(ValueError):
    """A bad ``--set``, profile or seed."""


def setting(default, check, meaning: str):
    """A settings field: its default, its check (``check(name, value) -> value``, with an
    ``accepts`` text) and what it means."""
    metadata = {"check": check, "meaning": meaning}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


class Named(str):
    """A meaning made from a message with placeholders (``named("{name}'s learning rate",
    name="Lion")``): the English text, which also keeps the message and its values, so that the
    page translates the message and fills them in."""

    def __new__(cls, message: str, **values):
        made = super().__new__(cls, message.format(**values))
        made.message, made.values = message, values
        return made


def named(message: str, **values) -> Named:
    """A setting's meaning from a catalogue message with placeholders (for settings made from a
    description, one per rule)."""
    return Named(message, **values)


def _accepts(text: str):
    def mark(check):
        check.accepts = text
        return check
    return mark


# -- the checks -----------------------------------------------------------------------------------

#: The most any count of an experiment may be (epochs, iterations, trials, sizes): a bound so
#: that a slip of the keyboard (``--set epochs=1000000000000``) is refused, not run for ever —
#: a hundred times the largest the sources use (the lecture's 10,000 epochs).
MOST = 1_000_000
#: The most seeds one run may take (``--seeds``): each is a whole run on every backend.
MOST_SEEDS = 1000


@_accepts(f"an int from 1 to {MOST:,}")
def positive_int(name, value):
    value = _validate.positive_int(name, value)
    if value > MOST:
        raise ValueError(f"{name} must be an int from 1 to {MOST:,}, got {value:,}")
    return value


@_accepts(f"an int from 0 to {MOST:,} (0: all there is)")
def count(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0 \
            or value > MOST:
        raise ValueError(f"{name} must be an int from 0 to {MOST:,} (0: all), got {value!r}")
    return int(value)


@_accepts("a number > 0")
def positive(name, value):
    return _validate.positive(name, value)


@_accepts("a number >= 0")
def nonnegative(name, value):
    return _validate.nonnegative(name, value)


@_accepts("a number in [0, 1)")
def fraction(name, value):
    return _validate.fraction(name, value)


@_accepts("a number in (0, 1)")
def open_fraction(name, value):
    """A share that must leave something on both sides."""
    value = _validate.fraction(name, value)
    if value == 0.0:
        raise ValueError(f"{name} must be a number in (0, 1), got {value!r}")
    return value


@_accepts("a finite number")
def finite(name, value):
    return _validate._real(name, value, "a finite number")


@_accepts("a non-empty list of ints >= 1")
def layer_sizes(name, value):
    if not isinstance(value, list) or not value:
        raise ValueError(f"{name} must be a non-empty list of ints >= 1, got {value!r}")
    return [positive_int(name, v) for v in value]


@_accepts("two exponents lo,hi with lo < hi")
def exponent_range(name, value):
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, numbers.Real) for v in value) or not value[0] < value[1]):
        raise ValueError(f"{name} must be two exponents lo,hi with lo < hi, got {value!r}")
    return [finite(name, v) for v in value]


@_accepts("a std > 0 or an initializer name (he, xavier, glorot_normal, …)")
def weight_init(name, value):
    """``--set weight_init=0.01`` reads as a std."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    npref.init.get(value)
    return value


@_accepts("true or false")
def flag(name, value):
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value


def choice(*allowed):
    """One of ``allowed``."""
    @_accepts(" or ".join(allowed))
    def check(name, value):
        return _validate.choice(name, value, allowed)
    return check


def dtype():
    return setting("float64", choice("float64", "float32"), "the dtype both backends compute in")


def convention(default: str):
    return setting(default, choice("torch", "book"),
                   "the rules' convention: PyTorch's or the book's (docs/conventions.md)")


# -- reading a declaration ------------------------------------------------------------------------

def defaults(settings) -> dict:
    """The declaration's defaults, as a dict."""
    return dataclasses.asdict(settings())


def resolve(settings, profiles: dict, profile: str, sets=()) -> dict:
    """The profile's settings (``full``: the defaults), then each ``KEY=VALUE`` of ``sets`` —
    every value checked — as a dict."""
    if profile not in PROFILES:
        raise ConfigError(f"profile must be one of {', '.join(PROFILES)}, got {profile!r}")
    chosen = profiles.get(profile) if profile != "full" else None
    config = dataclasses.asdict(chosen if chosen is not None else settings())
    given = set()
    for item in sets:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep:
            raise ConfigError(f"--set takes KEY=VALUE, got {item!r}")
        if key not in config:
            raise ConfigError(f"unknown configuration key {key!r}; valid keys: "
                              f"{', '.join(sorted(config))}")
        config[key] = parse(key, text, config[key])
        given.add(key)
    return check(settings, config, given)


def check(settings, config: dict, given=()) -> dict:
    """``config`` with every value checked (and normalized) by its field's check; a value
    outside its range raises :class:`ConfigError` naming the key (as ``--set KEY=VALUE`` when
    the user gave it) and the accepted range."""
    checks = {f.name: f.metadata["check"] for f in fields(settings)}
    out = {}
    for key, value in config.items():
        try:
            out[key] = checks[key](key, value)
        except ValueError as error:
            where = f"--set {key}={_cli(value)}: " if key in given else f"{key}={value!r}: "
            raise ConfigError(where + str(error)) from None
    return out


def parse(key: str, text: str, default):
    """``text`` read as a value of ``default``'s type."""
    kind = type(default)
    text = text.strip()
    try:
        if kind is bool:
            lowered = text.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if kind is list:
            element = type(default[0]) if default else str
            return [parse(key, part, element()) for part in text.split(",") if part.strip()]
        if kind is float:
            return float(text)
        if kind is int:
            return int(text)
        if default is None:
            return None if text.lower() in ("", "none", "null") else text
        return kind(text)
    except ValueError:
        raise ConfigError(f"--set {key}={text}: {key} must be {_describe(default)}, got "
                          f"{text!r}") from None


def _describe(default) -> str:
    if isinstance(default, bool):
        return "a bool (true/false)"
    if isinstance(default, list):
        inner = type(default[0]).__name__ if default else "str"
        return f"a comma-separated list of {inner}"
    kind = {int: "an int", float: "a number", str: "a string"}.get(type(default),
                                                                 type(default).__name__)
    return f"{kind} like {default!r}"


def describe(settings, profiles: dict) -> list[tuple[str, str, str, str]]:
    """``(key, default, quick profile's value or "", meaning and what it accepts)`` for every
    field: what ``run NAME --help`` lists."""
    quick = profiles.get("quick")
    rows = []
    for f in fields(settings):
        default = f.default if f.default is not MISSING else f.default_factory()
        in_quick = getattr(quick, f.name) if quick is not None else default
        check_fn = f.metadata["check"]
        rows.append((f.name, _cli(default), "" if in_quick == default else _cli(in_quick),
                     f"{f.metadata['meaning']} ({getattr(check_fn, 'accepts', 'any value')})"))
    return rows


def check_seed(seed) -> int:
    """A seed for ``numpy.random.default_rng``: an int >= 0."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ConfigError(f"--seed must be an int >= 0, got {seed!r}")
    return int(seed)


def check_seeds(seeds) -> int:
    """``--seeds``: how many seeds, an int from 1 to :data:`MOST_SEEDS`."""
    if isinstance(seeds, bool) or not isinstance(seeds, numbers.Integral) or seeds < 1 \
            or seeds > MOST_SEEDS:
        raise ConfigError(f"--seeds must be an int from 1 to {MOST_SEEDS}, got {seeds!r}")
    return int(seeds)


def _cli(value) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)
