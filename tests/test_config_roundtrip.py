"""Every configuration class saves to TOML and loads back equal, for any values of its fields'
types: strings with newlines, quotes, backslashes and any unicode; floats from tiny to huge and
infinite; empty and long tuples; nested tables; the free ``[muzero]`` table of CompareConfig.

Planted defect: the hand-written writer lobzero used before (quotes and backslashes escaped,
nothing else) is put back in :func:`test_the_property_catches_the_old_writer`, and the
property finds a configuration that it writes and the loader then rejects (a newline in a
string).
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import pkgutil
import tempfile
import types
import typing
from pathlib import Path
from typing import Any

import lobzero
import lobzero.config
import pytest
from hypothesis import HealthCheck, Phase, find, given, reject, settings
from hypothesis import strategies as st
from lobzero.config import TomlConfig

TOML_INT = st.integers(-(2**63), 2**63 - 1)
ANY_FLOAT = st.floats(allow_nan=False) | st.sampled_from([5e-324, 1e-300, 1e300, -math.inf])
TEXT = st.text(max_size=12) | st.sampled_from(["a\nb", 'say "hi"', "back\\slash", "é€😀\t\r\n"])
SCALAR = st.booleans() | TOML_INT | ANY_FLOAT | TEXT


def all_config_classes() -> list[type[TomlConfig]]:
    """Every TomlConfig subclass of the package (all its modules imported first)."""
    for module in pkgutil.walk_packages(lobzero.__path__, "lobzero."):
        importlib.import_module(module.name)
    found: list[type[TomlConfig]] = []
    todo = list(TomlConfig.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.__module__.startswith("lobzero.") and cls not in found:
            found.append(cls)
    return sorted(found, key=lambda c: c.__qualname__)


def values_of(hint: Any) -> st.SearchStrategy[Any]:
    """Values of a field's type, as a user could put them in a file."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return st.one_of([values_of(a) for a in typing.get_args(hint)])
    if hint is type(None):
        return st.none()
    if origin is typing.Literal:
        return st.sampled_from(typing.get_args(hint))
    if origin is tuple:
        return st.lists(values_of(typing.get_args(hint)[0]), max_size=4).map(tuple)
    if origin is dict:  # a free table (CompareConfig.muzero): nested tables, lists, scalars
        leaves = SCALAR | st.lists(SCALAR, max_size=3)
        return st.dictionaries(
            TEXT, st.recursive(leaves, lambda t: st.dictionaries(TEXT, t, max_size=2)), max_size=3
        )
    if isinstance(hint, type) and issubclass(hint, TomlConfig):
        return configs(hint)
    return {bool: st.booleans(), int: TOML_INT, float: ANY_FLOAT, str: TEXT}[hint]


def configs(cls: type[TomlConfig]) -> st.SearchStrategy[Any]:
    """Valid configurations of ``cls``: from its defaults, each field in turn takes a drawn
    value unless the configuration's own checks (run when it is made) refuse it. A config that
    cannot be made cannot be saved, so only what a user can build is round-tripped."""
    assert dataclasses.is_dataclass(cls)
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]

    required = [
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]

    @st.composite
    def build(draw: st.DrawFn) -> Any:
        try:
            config = cls(**{name: draw(values_of(hints[name])) for name in required})
        except (lobzero.ConfigError, TypeError, ValueError):
            reject()
        for name in draw(st.permutations(names)):
            value = draw(values_of(hints[name]))
            try:
                config = dataclasses.replace(config, **{name: value})
            except (lobzero.ConfigError, TypeError, ValueError):
                continue
        return config

    return build()


CLASSES = all_config_classes()


def roundtrips(config: TomlConfig) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        try:
            loaded = type(config).load(config.save(Path(tmp) / "c.toml"))
        except lobzero.ConfigError:
            return False
    return loaded == config


def test_every_configuration_class_is_covered() -> None:
    names = {c.__name__ for c in CLASSES}
    expected = {"EnvConfig", "AdversaryConfig", "SynthConfig", "Regime", "PpoConfig"}
    expected |= {"SacConfig", "WalkForwardConfig", "AdversarialConfig", "CompareConfig"}
    assert expected | {"MuZeroConfig"} <= names


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_save_then_load_is_the_identity(cls: type[TomlConfig], data: st.DataObject) -> None:
    config = data.draw(configs(cls))
    assert roundtrips(config), config


def test_newlines_and_quotes_survive() -> None:
    from lobzero.evaluation.compare import CompareConfig

    config = CompareConfig(muzero={"a\nb": 'q"uote', "\\": "ünï\u2028", "t": ["x\ny"]})
    assert roundtrips(config)


def test_nan_is_refused_by_name(tmp_path: Path) -> None:
    from lobzero.evaluation.compare import CompareConfig

    with pytest.raises(lobzero.ConfigError, match="reward_scale"):
        lobzero.EnvConfig(reward_scale=math.nan)
    with pytest.raises(lobzero.ConfigError, match="discount: NaN cannot be written"):
        CompareConfig(muzero={"discount": math.nan}).save(tmp_path / "c.toml")


def _old_toml_value(value: Any) -> str:
    """The writer lobzero had before tomli-w: it escaped quotes and backslashes only."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return "[" + ", ".join(_old_toml_value(v) for v in value) + "]"


def _old_dumps(data: dict[str, Any], prefix: str = "") -> str:
    lines = [f"{k} = {_old_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for key, value in data.items():
        if isinstance(value, dict):
            lines += ["", f"[{prefix}{key}]", _old_dumps(value, f"{prefix}{key}.")]
    return "\n".join(lines) + "\n"


def test_the_property_catches_the_old_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    from lobzero.evaluation.compare import CompareConfig

    monkeypatch.setattr(lobzero.config.tomli_w, "dumps", _old_dumps)
    broken = find(
        configs(CompareConfig),
        lambda c: not roundtrips(c),
        # no shrinking: any failing configuration is the proof
        settings=settings(max_examples=200, database=None, phases=[Phase.generate]),
    )
    assert not roundtrips(broken)
