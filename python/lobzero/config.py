"""Configuration dataclasses that load from and save to TOML.

Every configuration of lobzero (`EnvConfig`, `SynthConfig`, ...) is a dataclass deriving from
:class:`TomlConfig`: ``Config.load(path)``, ``config.save(path)``, ``config.replace(**changes)``
and ``Config.from_dict(d)``, which refuses unknown keys with a :class:`ConfigError` naming them.
Nested dataclasses become TOML tables. Files are written by tomli-w (a maintained writer whose
output tomllib reads back: strings with newlines, quotes or any unicode, every float) and read by
tomllib; ``tests/test_config_roundtrip.py`` proves save-then-load is the identity for every
configuration class.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, Self, get_type_hints

import tomli_w

from lobzero.exceptions import ConfigError


def _without_none(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with its None values left out, at every depth: TOML has no null, so a None
    option is not written and loads back as its default (None for every optional field)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, float) and value != value:
            raise ConfigError(f"{key}: NaN cannot be written to a configuration")
        out[key] = _without_none(value) if isinstance(value, dict) else value
    return out


def _coerce(name: str, hint: Any, value: Any) -> Any:
    """Turns TOML values into the field's type (lists into tuples, ints into floats, tables
    into nested configs), refusing values of the wrong kind."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return _coerce(name, args[0], value) if len(args) == 1 else value
    if isinstance(hint, type) and issubclass(hint, TomlConfig):
        if isinstance(value, hint):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{name}: expected a table, got {value!r}")
        return hint.from_dict(value)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{name}: expected a list, got {value!r}")
        (item,) = typing.get_args(hint)[:1] or (Any,)
        return tuple(_coerce(name, item, v) for v in value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and not isinstance(value, hint):
        raise ConfigError(f"{name}: expected {hint.__name__}, got {value!r}")
    return value


def read_toml(path: str | Path) -> dict[str, Any]:
    """The tables of the TOML file ``path``; :class:`ConfigError` when it is missing or not
    valid TOML."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: no such file") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e})") from e


class TomlConfig:
    """Mixin for dataclass configurations (see the module docstring)."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """The configuration from plain values (a TOML table): missing fields keep their
        defaults; an unknown field or a value of the wrong kind is a :class:`ConfigError`."""
        assert dataclasses.is_dataclass(cls)
        hints = get_type_hints(cls)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(
                f"{cls.__name__}: unknown option(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(names))}"
            )
        values = {k: _coerce(f"{cls.__name__}.{k}", hints[k], v) for k, v in data.items()}
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Plain values (tuples as lists, nested configs as dicts)."""

        def plain(v: Any) -> Any:
            if isinstance(v, TomlConfig):
                return v.to_dict()
            if isinstance(v, tuple | list):
                return [plain(x) for x in v]
            return v

        assert dataclasses.is_dataclass(self)
        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """The configuration in the TOML file ``path`` (validated like :meth:`from_dict`)."""
        return cls.from_dict(read_toml(path))

    def save(self, path: str | Path) -> Path:
        """Writes the configuration as TOML to ``path`` (None options left out); returns it."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            text = tomli_w.dumps(_without_none(self.to_dict()))
        except TypeError as e:
            raise ConfigError(f"{type(self).__name__}: cannot be written to TOML ({e})") from e
        path.write_text(text, encoding="utf-8")
        return path

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed (validated like `from_dict`)."""
        return type(self).from_dict({**self.to_dict(), **changes})
