"""`RiskWrapper` on the real trading environment: gymnasium's checker, identity without guards,
the guards' rules through each action mode, and the info it reports."""

from __future__ import annotations

import warnings

import lobzero
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from lobzero.envs.trading_env import TradingEnv
from lobzero.risk import (
    ActionCodec,
    CircuitBreakerConfig,
    LimitsConfig,
    LimitsWrapper,
    PyramidingConfig,
    RiskConfig,
    RiskStack,
    RiskWrapper,
    TrailingStopConfig,
)

from tests.risk.test_stack import EVERY_GUARD

CONFIG = lobzero.EnvConfig(max_position=0.1, episode_steps=120, initial_cash=10_000.0)
MODES = ("target", "side", "continuous")


@pytest.fixture(scope="module")
def market() -> lobzero.Market:
    return lobzero.synth_market(seconds=90, seed=2, signal_strength=1.0)


def play(env, steps: int, seed: int = 0) -> list[dict]:  # type: ignore[no-untyped-def]
    """Random actions from a seeded action space; the info after each step."""
    env.action_space.seed(seed)
    _, info = env.reset(seed=seed)
    infos = [info]
    for _ in range(steps):
        _, _, terminated, truncated, info = env.step(env.action_space.sample())
        infos.append(info)
        if terminated or truncated:
            break
    return infos


@pytest.mark.parametrize("mode", MODES)
def test_the_wrapper_passes_gymnasiums_checker(market: lobzero.Market, mode: str) -> None:
    env = RiskWrapper(TradingEnv(market, CONFIG, action_mode=mode), EVERY_GUARD)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*is different from the unwrapped")
        check_env(env, skip_render_check=True)


@pytest.mark.parametrize("mode", MODES)
def test_without_guards_the_wrapper_changes_nothing(market: lobzero.Market, mode: str) -> None:
    plain = play(TradingEnv(market, CONFIG, action_mode=mode), 100)
    wrapped = play(RiskWrapper(TradingEnv(market, CONFIG, action_mode=mode), RiskConfig()), 100)
    assert [i["equity"] for i in plain] == [i["equity"] for i in wrapped]
    assert all(i["risk_events"] == [] for i in wrapped)


@pytest.mark.parametrize("mode", MODES)
def test_the_position_limit_holds_in_every_action_mode(market: lobzero.Market, mode: str) -> None:
    env = LimitsWrapper(
        TradingEnv(market, CONFIG, action_mode=mode), LimitsConfig(max_position=0.05)
    )
    infos = play(env, 120)
    positions = np.array([i["position"] for i in infos])
    assert np.abs(positions).max() <= 0.05 + 1e-12
    assert np.abs(positions).max() >= 0.05 - 1e-12  # the limit, not flat, is what is held
    events = [e for i in infos for e in i.get("risk_events", [])]
    assert events and all(e["guard"] == "limits" for e in events)
    assert all(abs(i["risk_target"]) <= 0.05 + 1e-12 for i in infos[1:])


def test_the_breaker_flattens_and_halts_the_environment(market: lobzero.Market) -> None:
    env = RiskWrapper(
        TradingEnv(market, CONFIG, action_mode="continuous"),
        RiskConfig(circuit_breaker=CircuitBreakerConfig(max_drawdown=1e-5)),
    )
    infos = play(env, 100)  # of 120: the episode goes on after
    states = [i["breaker"] for i in infos]
    assert "halted" in states
    halted = states.index("halted")
    assert all(i["position"] == 0.0 for i in infos[halted:])
    assert all(s == "halted" for s in states[halted:])
    env.resume()
    _, _, _, _, info = env.step(np.array([1.0], np.float32))
    assert info["breaker"] == "active" and info["risk_target"] == pytest.approx(0.1)


def test_side_mode_flattens_step_by_step(market: lobzero.Market) -> None:
    """A "side" action moves side_unit at a time: a flatten from the full position takes two
    decisions (reducing), and no action ever goes past flat."""
    stack = RiskStack(RiskConfig(circuit_breaker=CircuitBreakerConfig(max_drawdown=0.5)))
    env = RiskWrapper(TradingEnv(market, CONFIG, action_mode="side"), stack)
    env.reset(seed=0)
    for _ in range(2):
        _, _, _, _, info = env.step(2)  # buy, buy: the full 0.1
    assert info["position"] == pytest.approx(0.1)
    stack.guard("circuit_breaker").state = "reducing"  # type: ignore[union-attr]
    positions = []
    for _ in range(3):
        _, _, _, _, info = env.step(2)  # the agent keeps buying
        positions.append(info["position"])
    assert positions == pytest.approx([0.05, 0.0, 0.0])
    assert info["breaker"] == "halted"


def test_the_codec_never_goes_past_the_allowed_target(market: lobzero.Market) -> None:
    lot = market.instrument.lot
    rng = np.random.default_rng(0)
    for mode in MODES:
        codec = ActionCodec(CONFIG.replace(action_mode=mode), lot)
        for _ in range(300):
            position = round(rng.uniform(-0.1, 0.1) / lot) * lot
            allowed = rng.uniform(-0.12, 0.12)
            intended = 0 if mode != "continuous" else np.array([0.0], np.float32)
            action = codec.action_for(allowed, position, intended)
            sent = codec.target_of(action, position)
            low, high = min(0.0, allowed), max(0.0, allowed)

            def outside(x: float, low: float = low, high: float = high) -> float:
                return max(low - x, x - high, 0.0)

            if mode != "side":
                assert outside(sent) <= 1e-12, (mode, allowed, sent)
            else:  # a step of side_unit: never further outside than holding
                assert outside(sent) <= outside(position) + 1e-12, (allowed, position, sent)


def test_trailing_stop_and_pyramiding_report_in_info(market: lobzero.Market) -> None:
    config = RiskConfig(
        trailing_stop=TrailingStopConfig(atr_multiple=1.0, arm_atr=0.0, atr_window=5),
        pyramiding=PyramidingConfig(initial_fraction=0.5, max_multiple=3.0),
    )
    env = RiskWrapper(TradingEnv(market, CONFIG, action_mode="target"), config)
    env.reset(seed=1)
    guards: set[str] = set()
    for _ in range(120):
        _, _, terminated, truncated, info = env.step(4)  # always fully long
        guards |= {e["guard"] for e in info["risk_events"]}
        if terminated or truncated:
            break
    assert guards == {"trailing_stop", "pyramiding"}
    assert env.round_trips() and env.traded_notional > 0 and env.feature_names


def test_a_bad_action_is_refused_even_when_a_guard_would_replace_it(
    market: lobzero.Market,
) -> None:
    env = LimitsWrapper(TradingEnv(market, CONFIG), LimitsConfig(max_position=0.05))
    env.reset(seed=0)
    for bad in (-1, 5):
        with pytest.raises(lobzero.InvalidValueError, match="not a target action"):
            env.step(bad)
