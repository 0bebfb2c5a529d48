"""An experiment's configuration: flat defaults, per-profile changes, and ``--set KEY=VALUE``.

Every key has a default, and the default's type is the key's type: ``--set steps=50`` gives an
int, ``--set lr_adam=0.1`` a float, ``--set convention=torch`` a string, ``--set use_bn=true`` a
bool, ``--set hidden=100,100`` a list of the default list's element type. Unknown keys and values
that do not parse are errors that list what is accepted.
"""

from __future__ import annotations

import copy

PROFILES = ("quick", "full")


class ConfigError(ValueError):
    """A bad ``--set`` or profile."""


def resolve(defaults: dict, profiles: dict, profile: str, sets=()) -> dict:
    """Defaults, then the profile's changes, then each ``KEY=VALUE`` of ``sets``."""
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
    return config


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
        raise ConfigError(f"--set {key}={text!r}: expected {_describe(default)}") from None


def _describe(default) -> str:
    if isinstance(default, bool):
        return "a bool (true/false)"
    if isinstance(default, list):
        inner = type(default[0]).__name__ if default else "str"
        return f"a comma-separated list of {inner}"
    return f"a value of type {type(default).__name__} like {default!r}"
