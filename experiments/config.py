"""An experiment's configuration: flat defaults, per-profile changes, and ``--set KEY=VALUE``.

Every key has a default, and the default's type is the key's type: ``--set steps=50`` gives an
int, ``--set lr_adam=0.1`` a float, ``--set convention=torch`` a string, ``--set use_bn=true`` a
bool, ``--set hidden=100,100`` a list of the default list's element type. Unknown keys and values
that do not parse are errors that list what is accepted.

Every key also has a constraint — the same checks the library's constructors make
(:mod:`npref._validate`) — declared once, by key name, in :data:`CONSTRAINTS` (scikit-learn's
``_parameter_constraints`` in spirit; an experiment may add its own). A value outside its range
is refused before any work, naming the key, the value and the accepted range.
"""

from __future__ import annotations

import copy
import numbers
import re

import npref.init
from npref import _validate

PROFILES = ("quick", "full")


class ConfigError(ValueError):
    """A bad ``--set`` or profile."""


def resolve(defaults: dict, profiles: dict, profile: str, sets=(), constraints=None) -> dict:
    """Defaults, then the profile's changes, then each ``KEY=VALUE`` of ``sets`` — every value
    checked against its constraint (:func:`check`)."""
    if profile not in PROFILES:
        raise ConfigError(f"profile must be one of {', '.join(PROFILES)}, got {profile!r}")
    config = copy.deepcopy(defaults)
    config.update(copy.deepcopy(profiles.get(profile, {})))
    for item in sets:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep:
            raise ConfigError(f"--set takes KEY=VALUE, got {item!r}")
        if key not in config:
            raise ConfigError(f"unknown configuration key {key!r}; valid keys: "
                              f"{', '.join(sorted(config))}")
        config[key] = parse(key, text, config[key])
    return check(config, constraints, given={item.partition("=")[0].strip() for item in sets})


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


# -- constraints ----------------------------------------------------------------------------------

def _count(name, value):
    """An int >= 0 (0: all there is)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be an int >= 0 (0: all), got {value!r}")
    return int(value)


def _open_fraction(name, value):
    """A number in (0, 1): a share that must leave something on both sides."""
    value = _validate.fraction(name, value)
    if value == 0.0:
        raise ValueError(f"{name} must be a number in (0, 1), got {value!r}")
    return value


def _finite(name, value):
    return _validate._real(name, value, "a finite number")


def _hidden(name, value):
    if not isinstance(value, list) or not value:
        raise ValueError(f"{name} must be a non-empty list of ints >= 1, got {value!r}")
    return [_validate.positive_int(name, v) for v in value]


def _exponent_range(name, value):
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, numbers.Real) for v in value) or not value[0] < value[1]):
        raise ValueError(f"{name} must be two exponents lo,hi with lo < hi, got {value!r}")
    return [_finite(name, v) for v in value]


def _weight_init(name, value):
    """A std (a number > 0) or an initializer name; ``--set weight_init=0.01`` reads as a std."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    npref.init.get(value)
    return value


def _choices(*allowed):
    return lambda name, value: _validate.choice(name, value, allowed)


#: The constraint of every configuration key, by name (a regular expression matched in full).
CONSTRAINTS = {
    r"lr_range|decay_range": _exponent_range,
    r"lr|lr_\w+|\w+_lr": _validate.positive,
    r"(epochs|iterations|batch_size|steps|trials|fine_trials|top|scales|layers|units|bins"
    r"|n_inputs|patience|subset|subset_epochs|fixed_batch|small_train|notebook_iterations"
    r"|long_epochs|rmsprop_epochs|epochs_4layer|iterations_3layer|iterations_7layer"
    r"|evaluate_every|evaluate_every_7layer)": _validate.positive_int,
    r"n_train|n_test": _count,
    r"momentum|alpha|dropout": _validate.fraction,
    r"validation": _open_fraction,
    r"weight_decay|l1|l2|strong_decay": _validate.nonnegative,
    r"start_x|start_y": _finite,
    r"hidden": _hidden,
    r"weight_init": _weight_init,
    r"dtype": _choices("float64", "float32"),
    r"convention": _choices("torch", "book"),
    r"sampling": _choices("shuffle", "replacement"),
}


def constraint_for(key: str, constraints=None):
    """The check of ``key``: the experiment's own, else the first of :data:`CONSTRAINTS` whose
    pattern matches; None when there is none (a test keeps that from happening)."""
    if constraints and key in constraints:
        return constraints[key]
    for pattern, rule in CONSTRAINTS.items():
        if re.fullmatch(pattern, key):
            return rule
    return None


def check(config: dict, constraints=None, given=()) -> dict:
    """``config`` with every value checked (and normalized) by its constraint; a value outside
    its range raises :class:`ConfigError` naming the key (as ``--set KEY=VALUE`` when the user
    gave it) and the accepted range."""
    out = {}
    for key, value in config.items():
        rule = constraint_for(key, constraints)
        try:
            out[key] = value if rule is None else rule(key, value)
        except ValueError as error:
            where = f"--set {key}={_cli(value)}: " if key in given else f"{key}={value!r}: "
            raise ConfigError(where + str(error)) from None
    return out


def check_seed(seed) -> int:
    """A seed for ``numpy.random.default_rng``: an int >= 0."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ConfigError(f"--seed must be an int >= 0, got {seed!r}")
    return int(seed)


def check_seeds(seeds) -> int:
    """``--seeds``: how many seeds, an int >= 1."""
    if isinstance(seeds, bool) or not isinstance(seeds, numbers.Integral) or seeds < 1:
        raise ConfigError(f"--seeds must be an int >= 1, got {seeds!r}")
    return int(seeds)


def _cli(value) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)
