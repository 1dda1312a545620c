"""Adversary edge cases as hypothesis properties.

- On a cheap instrument (a mid of a few hundred ticks) with long episodes of forced gaps down and
  slippage, every fill is priced at one tick or more, every fee is >= 0 and every observed price
  (the mark, the features) is > 0 and finite. Planted defect caught: without the floors
  (``Adversary::draw`` piling gaps up below zero, ``exec::sweep`` not flooring fill prices) the
  property fails within a few steps: a fill at -2.5 with a negative fee, a mark below zero.
- An adversary on its active path (probabilities > 0, or moves forced every step) whose effects
  are all zero-size is bit-identical to no adversary, while the test checks that perturbations
  did fire (the active branch ran). Planted defects caught: each effect one unit away from its
  identity (a gap or slippage of 1 tick, a withdrawn lot, 1 ns more latency, a reward scale of
  1 - 1e-9, noise of 1e-3) breaks bit-identity, asserted by
  ``test_a_one_unit_effect_breaks_bit_identity``.
"""

from __future__ import annotations

import dataclasses
import math

import lobzero
import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lobzero import Instrument
from lobzero.envs import PERTURBATIONS, AdversaryConfig, EnvConfig, TradingEnv

MS = 1_000_000
TICK = 0.01


def cheap_market(mid: int, seed: int, seconds: int = 30) -> lobzero.Market:
    """A book of 5 levels a side around ``mid`` ticks of 0.01 (a few quote units), a tick of
    random walk now and then, an update every 10 ms and a trade every 50 ms."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[int, int, int, int, int]] = []
    for k in range(1, 6):
        rows += [(0, 0, 1, mid - k, 5 + k), (0, 0, -1, mid + k, 5 + k)]
    for i in range(1, seconds * 100):
        t = i * 10 * MS
        if rng.random() < 0.1:
            for k in range(1, 6):
                rows += [(t, 1, 1, mid - k, 0), (t, 1, -1, mid + k, 0)]
            mid += int(rng.choice([-1, 1]))
            for k in range(1, 6):
                rows += [(t, 1, 1, mid - k, 3 + k), (t, 1, -1, mid + k, 3 + k)]
        else:
            k = int(rng.integers(1, 6))
            side = int(rng.choice([-1, 1]))
            rows += [(t, 1, side, mid - side * k, int(rng.integers(1, 20)))]
        if i % 5 == 0:
            rows += [(t, 2, 1, mid + 1, 1)]
    t, kind, side, price, qty = map(list, zip(*rows, strict=True))
    df = pl.DataFrame(
        {
            "ts_ns": t,
            "recv_ts_ns": t,
            "kind": kind,
            "side": side,
            "price_ticks": price,
            "qty_lots": qty,
        }
    )
    meta = Instrument(symbol="CHEAP", venue="test", tick_size=str(TICK), lot_size="1")
    return lobzero.Market.from_polars(df, meta)


CHEAP = [cheap_market(300, 0), cheap_market(200, 1)]
CONFIG = EnvConfig(
    step_ms=20.0, latency_ms=5.0, max_position=20.0, taker_fee_bps=10.0, initial_cash=1_000.0
)


@settings(max_examples=15, deadline=None)
@given(
    market=st.sampled_from(CHEAP),
    seed=st.integers(0, 1_000),
    gap_ticks=st.integers(10, 80),
    slippage_ticks=st.integers(0, 60),
    intensity=st.floats(0.0, 1.0),
    moves=st.lists(
        st.tuples(st.sets(st.sampled_from(PERTURBATIONS)), st.sampled_from([-1, -1, -1, 0, 1])),
        min_size=1,
        max_size=12,
    ),
    actions=st.lists(st.integers(0, 4), min_size=1, max_size=12),
)
def test_prices_stay_at_least_one_tick_and_fees_non_negative(
    market, seed, gap_ticks, slippage_ticks, intensity, moves, actions
) -> None:
    adversary = AdversaryConfig(
        intensity=intensity, gap_ticks=gap_ticks, slippage_ticks=slippage_ticks
    )
    env = TradingEnv(market, CONFIG, episode_steps=120, adversary=adversary)
    obs, info = env.reset(seed=seed)
    marks = []
    for k in range(120):
        kinds, sign = moves[k % len(moves)]
        # every step a gap down besides the drawn move: the book would be far below zero
        env.force_perturbations({"price_gap", *kinds}, gap_sign=-1 if k % 3 else sign)
        obs, reward, terminated, truncated, info = env.step(actions[k % len(actions)])
        for _ts, _side, price, _size, fee in info["fills"]:
            assert price >= TICK - 1e-12, info["fills"]
            assert fee >= 0.0, info["fills"]
        assert info["mark"] > 0.0, info
        assert math.isfinite(reward) and math.isfinite(info["equity"])
        assert np.isfinite(obs).all()
        marks.append(info["mark"])
        if terminated or truncated:
            break
    assert min(marks) < 0.05 or len(marks) < 10, "the gaps reach the floor"


def trace(env: TradingEnv, seed: int, actions: list[int], force: bool) -> tuple[list, int]:
    """Everything the trader sees, as bytes and floats, and how many perturbations fired."""
    obs, _ = env.reset(seed=seed)
    out: list = [obs.tobytes()]
    fired = 0
    for a in actions:
        if force:
            env.force_perturbations(PERTURBATIONS, gap_sign=-1)
        obs, reward, terminated, truncated, info = env.step(a)
        fired += len(info["perturbations"])
        out.append((obs.tobytes(), reward, info["equity"], info["mark"], info["fills"]))
        if terminated or truncated:
            break
    return out, fired


def zero_effect(probability: float) -> AdversaryConfig:
    """Every perturbation at its identity, firing with ``probability``."""
    return AdversaryConfig(
        intensity=probability,
        slippage_ticks=0,
        gap_ticks=0,
        liquidity_fraction=0.0,
        latency_multiplier=1.0,
        noise_std=0.0,
        reward_scale=1.0,
    )


def differs_from_plain(
    market: lobzero.Market, adversary: AdversaryConfig, seed: int, actions: list[int]
) -> tuple[bool, bool]:
    """Whether a drawn and a forced run of ``adversary`` differ from the plain environment."""
    config = EnvConfig(step_ms=20.0, latency_ms=5.0, max_position=12.0, episode_steps=60)
    plain, fired = trace(TradingEnv(market, config), seed, actions, force=False)
    assert fired == 0
    drawn, fired_drawn = trace(
        TradingEnv(market, config, adversary=adversary), seed, actions, False
    )
    silent = dataclasses.replace(adversary, intensity=0.0)
    forced, fired_forced = trace(TradingEnv(market, config, adversary=silent), seed, actions, True)
    # the active branch ran: perturbations fired, drawn and forced
    assert fired_drawn > 0 and fired_forced == len(PERTURBATIONS) * (len(forced) - 1)
    return drawn != plain, forced != plain


@settings(max_examples=15, deadline=None)
@given(
    market=st.sampled_from(CHEAP),
    seed=st.integers(0, 1_000),
    probability=st.floats(0.2, 1.0),
    actions=st.lists(st.integers(0, 4), min_size=5, max_size=40),
)
def test_an_active_adversary_with_zero_effects_is_bit_identical(
    market, seed, probability, actions
) -> None:
    assert differs_from_plain(market, zero_effect(probability), seed, actions) == (False, False)


@pytest.mark.parametrize(
    "planted",
    [
        {"gap_ticks": 1},
        {"slippage_ticks": 1},
        {"liquidity_fraction": 1e-9},
        {"latency_multiplier": 1.0 + 1.0 / (5 * MS)},
        {"reward_scale": 1.0 - 1e-9},
        {"noise_std": 1e-3},
    ],
)
def test_a_one_unit_effect_breaks_bit_identity(planted: dict) -> None:
    adversary = dataclasses.replace(zero_effect(1.0), **planted)
    assert differs_from_plain(CHEAP[0], adversary, 3, [4, 0, 4, 1, 3, 0, 2] * 5) == (True, True)
