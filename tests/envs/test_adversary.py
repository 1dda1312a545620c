"""Adversarial injection: off means bit-identical; every perturbation does what it says; the
ledger and book invariants hold under any mix of them (hypothesis)."""

from __future__ import annotations

import lobzero
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lobzero.envs import PERTURBATIONS, AdversaryConfig, EnvConfig, TradingEnv

from tests.envs.test_properties_env import MARKETS, book_at, run_checking_invariants
from tests.envs.test_trading_env import wavy_market

MS = 1_000_000
CONFIG = EnvConfig(max_position=0.1, episode_steps=60, initial_cash=10_000.0)


@pytest.fixture(scope="module")
def market() -> lobzero.Market:
    return wavy_market(seconds=60)


def trace(env: TradingEnv, actions: list[int], start_ns: int) -> list:
    obs, info = env.reset(options={"start_ns": start_ns})
    out = [obs.tobytes()]
    for a in actions:
        obs, reward, terminated, truncated, info = env.step(a)
        out.append((obs.tobytes(), reward, info["equity"], info["fills"]))
        if terminated or truncated:
            break
    return out


def test_zero_probabilities_are_bit_identical(market: lobzero.Market) -> None:
    start = market.start_ns + 10_000 * MS
    actions = [4, 0, 2, 3, 1] * 8
    plain = trace(TradingEnv(market, CONFIG), actions, start)
    silent = AdversaryConfig(intensity=0.0, gap_ticks=50, slippage_ticks=9, noise_std=3.0)
    assert trace(TradingEnv(market, CONFIG, adversary=silent), actions, start) == plain


def test_each_perturbation_does_what_it_says(market: lobzero.Market) -> None:
    start = market.start_ns + 10_000 * MS
    plain = TradingEnv(market, CONFIG)
    plain.reset(options={"start_ns": start})
    _, _, _, _, base = plain.step(4)

    slip = TradingEnv(market, CONFIG, adversary=AdversaryConfig(slippage=1.0, slippage_ticks=3))
    slip.reset(options={"start_ns": start})
    _, _, _, _, info = slip.step(4)
    assert info["perturbations"] == ["slippage"]
    tick = market.instrument.tick
    assert [
        round((f[2] - g[2]) / tick) for f, g in zip(info["fills"], base["fills"], strict=True)
    ] == [3] * len(base["fills"])

    gap = TradingEnv(market, CONFIG, adversary=AdversaryConfig(price_gap=1.0, gap_ticks=40))
    gap.reset(options={"start_ns": start})
    _, _, _, _, info = gap.step(2)
    assert abs(round((info["mark"] - base["mark"]) / tick)) == 40

    reward_env = TradingEnv(market, CONFIG, adversary=AdversaryConfig(reward=1.0, reward_scale=0.5))
    reward_env.reset(options={"start_ns": start})
    _, r, _, _, info = reward_env.step(4)
    assert info["perturbations"] == ["reward"]
    expected = info["equity"] - CONFIG.initial_cash
    assert r == pytest.approx(expected * (0.5 if expected > 0 else 1.5))

    noisy = TradingEnv(market, CONFIG, adversary=AdversaryConfig(obs_noise=1.0, noise_std=0.5))
    noisy.reset(options={"start_ns": start})
    obs, *_ = noisy.step(2)
    assert noisy.observation_space.contains(obs)

    thin = TradingEnv(
        market,
        CONFIG,
        max_position=5.0,
        adversary=AdversaryConfig(liquidity=1.0, liquidity_fraction=1.0, liquidity_levels=1),
    )
    thin.reset(options={"start_ns": start})
    _, _, _, _, info = thin.step(4)
    book = book_at(market.to_polars(), info["fills"][0][0])
    best_ask = min(p for (side, p) in book if side == -1)
    # the touch is withdrawn entirely: no fill at the best ask
    assert all(round(f[2] / tick) > best_ask for f in info["fills"])


def test_intensity_one_fires_everything(market: lobzero.Market) -> None:
    env = TradingEnv(market, CONFIG, adversary=AdversaryConfig(intensity=1.0))
    env.reset(seed=1)
    _, _, _, _, info = env.step(3)
    assert info["perturbations"] == list(PERTURBATIONS)


def test_bad_adversary_configs(market: lobzero.Market) -> None:
    with pytest.raises(lobzero.ConfigError, match="intensity"):
        TradingEnv(market, CONFIG, adversary=AdversaryConfig(intensity=1.5))
    with pytest.raises(lobzero.ConfigError, match="price_gap probability"):
        TradingEnv(market, CONFIG, adversary=AdversaryConfig(price_gap=-0.1))
    with pytest.raises(lobzero.ConfigError, match="latency_multiplier"):
        TradingEnv(market, CONFIG, adversary=AdversaryConfig(intensity=0.1, latency_multiplier=0.5))


adversaries = st.builds(
    AdversaryConfig,
    intensity=st.floats(0.0, 1.0),
    slippage_ticks=st.integers(0, 5),
    gap_ticks=st.integers(0, 50),
    liquidity_fraction=st.floats(0.0, 1.0),
    liquidity_levels=st.integers(1, 5),
    noise_std=st.floats(0.0, 2.0),
)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2),
    adversary=adversaries,
    actions=st.lists(st.integers(0, 4), min_size=5, max_size=40),
)
def test_invariants_hold_under_any_perturbation(seed, adversary, actions) -> None:
    config = EnvConfig(
        max_position=0.2, episode_steps=60, initial_cash=2_000.0, adversary=adversary
    )
    run_checking_invariants(MARKETS[seed], config, actions)
