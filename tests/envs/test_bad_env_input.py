"""Bad actions, counts and configs are refused where they are given, with the argument, the
field and the rule named; the dataclasses refuse what the Rust core refuses."""

from __future__ import annotations

import math
from typing import Any

import lobzero
import numpy as np
import pytest
from lobzero import _core
from lobzero.envs import AdversaryConfig, EnvConfig, TradingEnv, VecTradingEnv

from tests.envs.test_trading_env import CONFIG, wavy_market


@pytest.fixture(scope="module")
def market() -> lobzero.Market:
    return wavy_market(seconds=60)


def test_an_action_out_of_range_says_the_range(market: lobzero.Market) -> None:
    """Before: "7 is not in 0..5" for Discrete(5), read by many as 5 being allowed."""
    env = TradingEnv(market, CONFIG)
    env.reset(seed=0)
    with pytest.raises(lobzero.InvalidValueError, match="0 <= action < 5"):
        env.step(7)
    side = TradingEnv(market, CONFIG, action_mode="side")
    side.reset(seed=0)
    with pytest.raises(lobzero.InvalidValueError, match="0 <= action < 3"):
        side.step(3)


@pytest.mark.parametrize("action", [2.0, np.float64(2.0), True, np.True_])
def test_single_environment_refuses_floats_and_bools(market: lobzero.Market, action: Any) -> None:
    env = TradingEnv(market, CONFIG)
    env.reset(seed=0)
    with pytest.raises(lobzero.InvalidValueError, match="action"):
        env.step(action)


@pytest.mark.parametrize(
    "actions", [np.array([1.7, 2.2]), [1.0, 2.0], np.array([True, False]), [True, True]]
)
def test_batch_refuses_the_actions_one_environment_refuses(
    market: lobzero.Market, actions: Any
) -> None:
    """Before, the batch cast them to int64: 1.7 played 1 and True played 1, silently."""
    vec = VecTradingEnv(market, 2, CONFIG)
    vec.reset(seed=0)
    with pytest.raises(lobzero.InvalidValueError, match=r"actions: .*integers \(0 <= action < 5\)"):
        vec.step(actions)
    vec.step(np.array([1, 2]))  # the batch still steps after a refusal


def test_batch_continuous_refuses_bools_and_takes_both_shapes(market: lobzero.Market) -> None:
    vec = VecTradingEnv(market, 2, CONFIG, action_mode="continuous")
    vec.reset(seed=0)
    with pytest.raises(lobzero.InvalidValueError, match="numbers, got dtype bool"):
        vec.step(np.array([True, False]))
    vec.step(np.array([0.5, -0.5]))
    vec.step(np.array([[0.5], [-0.5]]))


@pytest.mark.parametrize("shape", [(3,), (2, 2), (1, 2), ()])
def test_a_wrong_shape_names_the_argument_and_both_shapes(
    market: lobzero.Market, shape: tuple[int, ...]
) -> None:
    """Before, (1, 2) was reshaped silently and (3,) raised numpy's reshape error."""
    vec = VecTradingEnv(market, 2, CONFIG)
    vec.reset(seed=0)
    with pytest.raises(
        lobzero.InvalidValueError,
        match=rf"actions: expected shape \(2,\), got {re_shape(shape)}",
    ):
        vec.step(np.zeros(shape, np.int64))


def re_shape(shape: tuple[int, ...]) -> str:
    return str(shape).replace("(", r"\(").replace(")", r"\)")


def test_negative_counts_are_config_errors(market: lobzero.Market) -> None:
    """Before: OverflowError ("can't convert negative int to unsigned"), naming nothing."""
    with pytest.raises(lobzero.ConfigError, match="num_envs must be >= 1, got -1"):
        VecTradingEnv(market, num_envs=-1, config=CONFIG)
    with pytest.raises(lobzero.ConfigError, match="num_envs"):
        VecTradingEnv(market, num_envs=0, config=CONFIG)


@pytest.mark.parametrize(
    ("fields", "rule"),
    [
        ({"max_position": -1}, r"max_position must be > 0"),
        ({"max_position": 0.0}, r"max_position must be > 0"),
        ({"max_position": math.nan}, r"max_position must be finite"),
        ({"side_unit": -0.5}, r"side_unit must be > 0"),
        ({"action_mode": "bogus"}, r"action_mode must be .*\"bogus\""),
        ({"reward": "sharpe"}, r"reward must be"),
        ({"step_ms": 0}, r"step_ms must be > 0"),
        ({"step_ms": -5.0}, r"step_ms must be > 0"),
        ({"step_ms": math.inf}, r"step_ms must be finite"),
        ({"latency_ms": -1.0}, r"latency_ms must be >= 0"),
        ({"taker_fee_bps": math.nan}, r"taker_fee_bps must be finite"),
        ({"taker_fee_bps": -1.0}, r"taker_fee_bps must be finite and >= 0"),
        ({"initial_cash": 0.0}, r"initial_cash must be > 0"),
        ({"episode_steps": 0}, r"episode_steps must be > 0"),
        ({"episode_steps": -1}, r"episode_steps must be an integer >= 0, got -1"),
        ({"levels": 0}, r"levels must be in 1..=100"),
        ({"frame_stack": 0}, r"frame_stack must be in 1..=1000"),
        ({"features": ("spread", "spread")}, r"listed twice"),
        ({"start_ns": 10, "end_ns": 5}, r"start < end"),
    ],
)
def test_env_config_refuses_bad_values_when_made(fields: dict[str, Any], rule: str) -> None:
    """Before, ``EnvConfig(...)`` took these and the error came when an environment was built
    (or never, for a config saved to TOML)."""
    with pytest.raises(lobzero.ConfigError, match=rule):
        EnvConfig(**fields)
    with pytest.raises(lobzero.ConfigError, match=rule):
        EnvConfig().replace(**fields)


@pytest.mark.parametrize(
    ("fields", "rule"),
    [
        ({"intensity": 2}, r"intensity must be in \[0, 1\], got 2"),
        ({"intensity": math.nan}, r"intensity must be finite"),
        ({"slippage": 1.5}, r"slippage probability must be in \[0, 1\]"),
        ({"noise_std": -1.0}, r"noise_std must be >= 0"),
        ({"latency_multiplier": 0.5}, r"latency_multiplier must be >= 1"),
        ({"liquidity_levels": 0}, r"liquidity_levels > 0"),
        ({"reward_scale": 3.0}, r"reward_scale must be in \[0, 1\]"),
    ],
)
def test_adversary_config_refuses_bad_values_when_made(fields: dict[str, Any], rule: str) -> None:
    with pytest.raises(lobzero.ConfigError, match=rule):
        AdversaryConfig(**fields)


# Fields checked on the Python side in user units (the core sees them converted): each bad
# value with the core's field it converts to. The core must refuse the converted value too, so
# the two sides cannot drift apart on a finite value.
PYTHON_SIDE_BAD = [
    ("step_ms", 0.0, "step_ns", 0),
    ("step_ms", -1.0, "step_ns", -1_000_000),
    ("latency_ms", -1.0, "latency_ns", -1_000_000),
    ("max_position", -1.0, "max_position_lots", -100),
    ("max_position", 0.0, "max_position_lots", 0),
    ("side_unit", -0.5, "side_unit_lots", -50),
]
PYTHON_SIDE_GOOD = [
    ("step_ms", 0.001, "step_ns", 1_000),
    ("latency_ms", 0.0, "latency_ns", 0),
    ("max_position", 0.01, "max_position_lots", 1),
    ("side_unit", 0.01, "side_unit_lots", 1),
]


def core_refuses(market: lobzero.Market, key: str, value: Any) -> bool:
    table = CONFIG.to_core(market.instrument)
    table[key] = value
    try:
        _core.check_env_config(table)
        _core.EnvCore(market.stream, table)
    except lobzero.ConfigError:
        return True
    return False


@pytest.mark.parametrize(("field", "value", "core_key", "core_value"), PYTHON_SIDE_BAD)
def test_python_and_rust_agree_on_bad_values(
    market: lobzero.Market, field: str, value: float, core_key: str, core_value: int
) -> None:
    with pytest.raises(lobzero.ConfigError, match=field):
        CONFIG.replace(**{field: value})
    assert core_refuses(market, core_key, core_value)


@pytest.mark.parametrize(("field", "value", "core_key", "core_value"), PYTHON_SIDE_GOOD)
def test_python_and_rust_agree_on_edge_values(
    market: lobzero.Market, field: str, value: float, core_key: str, core_value: int
) -> None:
    config = CONFIG.replace(**{field: value})
    assert config.to_core(market.instrument)[core_key] == core_value
    assert not core_refuses(market, core_key, core_value)


def test_the_agreement_test_catches_a_drifted_python_rule(
    market: lobzero.Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Planted drift: a Python rule that lets latency_ms = -1 through (as if it read
    ``< -1``). The bad-value check above then fails: the dataclass no longer raises."""
    original = EnvConfig.__post_init__

    def lenient(self: EnvConfig) -> None:
        if self.latency_ms == -1.0:
            object.__setattr__(self, "latency_ms", 0.0)
            original(self)
            object.__setattr__(self, "latency_ms", -1.0)
            return
        original(self)

    monkeypatch.setattr(EnvConfig, "__post_init__", lenient)
    with pytest.raises(pytest.fail.Exception):
        test_python_and_rust_agree_on_bad_values(market, *PYTHON_SIDE_BAD[2])


def test_configs_that_are_fine_stay_fine() -> None:
    assert EnvConfig(step_events=10, step_ms=0).step_events == 10
    assert AdversaryConfig(intensity=0.2, slippage=0.0).probabilities()[0] == 0.0
