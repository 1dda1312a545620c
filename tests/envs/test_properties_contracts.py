"""Inverse (COIN-M) and multiplied contracts in the environment: hand-computed golden values,
the default environment on the real COIN-M recording, and hypothesis properties of the ledger
under random actions, each shown able to fail on a planted defect.

The properties check the environment's ``info`` against a reference computed here from the
fills alone (no average cost, no ledger): with ``s`` the side, ``q`` the size (units of size),
``p`` the fill price, ``x`` the mark, ``n`` the position, ``cs`` the contract size and ``m`` the
multiplier,

- linear: equity − start = −Σ s·q·p·cs·m + n·x·cs·m − fees, and equity = cash + n·x·cs·m;
- inverse: equity − start = Σ s·q·cs/p − n·cs/x − fees (coin), and equity = cash + unrealized;

plus realized + unrealized = equity − start, fees ≥ 0 and each fee = rate × its notional
(q·p·cs·m quote, or q·cs/p coin).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import lobzero
import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lobzero.data.market import Instrument
from lobzero.envs import EnvConfig, TradingEnv

from tests.envs.test_trading_env import wavy_market

MS = 1_000_000


def with_terms(market: lobzero.Market, **terms: object) -> lobzero.Market:
    return market.with_contract(**terms)  # type: ignore[arg-type]


# the wavy market's mid is ~10,000 ticks of 0.5: ~5,000 quote
BASE = {seed: wavy_market(seconds=40, seed=seed) for seed in range(2)}
INVERSE = {s: with_terms(m, contract_size="100", inverse=True) for s, m in BASE.items()}
MULTIPLIED = {s: with_terms(m, multiplier="50") for s, m in BASE.items()}


def reference_equity_change(
    fills: list[tuple[int, int, float, float, float]],
    position: float,
    mark: float,
    instrument: Instrument,
) -> float:
    """Equity − start from the fills alone, as the module docstring writes it."""
    cs, m = float(instrument.contract_size), float(instrument.multiplier)
    fees = sum(f[4] for f in fills)
    if instrument.inverse:
        flow = sum(side * size * cs / price for _, side, price, size, _ in fills)
        return flow - position * cs / mark - fees
    flow = -sum(side * size * price * cs * m for _, side, price, size, _ in fills)
    return flow + position * mark * cs * m - fees


def fee_reference(price: float, size: float, instrument: Instrument, bps: float) -> float:
    cs, m = float(instrument.contract_size), float(instrument.multiplier)
    notional = size * cs / price if instrument.inverse else size * price * cs * m
    return bps * 1e-4 * notional


def check_ledger(
    env_market: lobzero.Market,
    truth: Instrument,
    config: EnvConfig,
    actions: list[int],
) -> None:
    """Plays ``actions`` on ``env_market`` and checks every step against the reference for the
    contract ``truth`` (the terms the market really has)."""
    env = TradingEnv(env_market, config)
    _, info = env.reset(options={"start_ns": env_market.start_ns + 5_000 * MS})
    start = info["equity"]
    fills: list[tuple[int, int, float, float, float]] = []
    scale = 1.0
    for a in actions:
        _, reward, terminated, truncated, info = env.step(a)
        assert np.isfinite(reward)
        fills += [tuple(f) for f in info["fills"]]
        for _, _, price, size, fee in info["fills"]:
            assert fee >= 0
            want = fee_reference(price, size, truth, config.taker_fee_bps)
            assert abs(fee - want) <= 1e-9 * max(1.0, want), (fee, want)
        assert info["fees"] >= 0
        cs, m = float(truth.contract_size), float(truth.multiplier)
        if truth.inverse:
            carried = info["unrealized_pnl"]
            scale = max(scale, abs(info["position"]) * cs / info["mark"])
        else:
            carried = info["position"] * info["mark"] * cs * m
            scale = max(scale, abs(carried))
        tol = 1e-9 * scale
        assert abs(info["equity"] - (info["cash"] + carried)) <= tol
        total = info["realized_pnl"] + info["unrealized_pnl"]
        assert abs(total - (info["equity"] - start)) <= tol
        want = reference_equity_change(fills, info["position"], info["mark"], truth)
        assert abs((info["equity"] - start) - want) <= tol, (info["equity"] - start, want)
        if terminated or truncated:
            break


configs = st.builds(
    EnvConfig,
    max_position=st.sampled_from([1.0, 3.0, 10.0]),
    latency_ms=st.sampled_from([0.0, 30.0]),
    step_ms=st.sampled_from([50.0, 250.0]),
    taker_fee_bps=st.sampled_from([0.0, 5.0]),
    reward=st.sampled_from(["pnl", "risk_adjusted"]),
    risk_aversion=st.just(0.5),
    initial_cash=st.just(1.0),
    episode_steps=st.just(40),
)
actions = st.lists(st.integers(0, 4), min_size=5, max_size=40)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 1), config=configs, actions=actions)
def test_inverse_ledger_under_random_actions(seed, config, actions) -> None:
    market = INVERSE[seed]
    check_ledger(market, market.instrument, config, actions)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 1), config=configs, actions=actions)
def test_multiplied_ledger_under_random_actions(seed, config, actions) -> None:
    market = MULTIPLIED[seed]
    check_ledger(market, market.instrument, replace(config, initial_cash=1e6), actions)


def test_the_property_catches_inverse_pnl_computed_linearly() -> None:
    """Planted defect: the COIN-M market valued as linear (what the importer did before it knew
    inverse contracts). The property, with the true terms as reference, must fail."""
    config = EnvConfig(max_position=10.0, step_ms=250.0, initial_cash=1.0, episode_steps=40)
    market = INVERSE[0]
    planted = with_terms(market, inverse=False, contract_size="1")
    with pytest.raises(AssertionError):
        check_ledger(planted, market.instrument, config, [4, 4, 0, 0, 2, 4, 0, 2] * 4)
    # the planted defect is in the market, not in the check: the true market passes
    check_ledger(market, market.instrument, config, [4, 4, 0, 0, 2, 4, 0, 2] * 4)


def test_the_property_catches_a_dropped_multiplier() -> None:
    """Planted defect: the multiplier ignored (ES valued at 1 USD a point instead of 50)."""
    config = EnvConfig(max_position=3.0, step_ms=250.0, initial_cash=1e6, episode_steps=40)
    market = MULTIPLIED[0]
    planted = with_terms(market, multiplier="1")
    with pytest.raises(AssertionError):
        check_ledger(planted, market.instrument, config, [4, 4, 0, 0, 2, 4, 0, 2] * 4)


def two_book_market() -> lobzero.Market:
    """BTCUSD_PERP by hand: the book quotes 59,999.9 / 60,000.0 until 1 s, then 61,000.0 /
    61,000.1; a trade at 3 s keeps the market going."""
    rows = [
        (0, 3, 0, 0, 0),
        (0, 0, 1, 599_999, 1_000),
        (0, 0, -1, 600_000, 1_000),
        (1_000 * MS, 3, 0, 0, 0),
        (1_000 * MS, 0, 1, 610_000, 1_000),
        (1_000 * MS, 0, -1, 610_001, 1_000),
        (3_000 * MS, 2, 1, 610_001, 1),
    ]
    t, kind, side, price, qty = map(list, zip(*rows, strict=True))
    df = pl.DataFrame(
        {"ts_ns": t, "recv_ts_ns": t, "kind": kind, "side": side}
        | {"price_ticks": price, "qty_lots": qty}
    )
    meta = Instrument("BTCUSD_PERP", "binance-coinm", "0.1", "1", "100", True, "1")
    return lobzero.Market.from_polars(df, meta)


def test_inverse_round_trip_by_hand() -> None:
    """Long 10 BTCUSD_PERP contracts at 60,000, out at 61,000: PnL = 10·100·(1/60000 − 1/61000)
    = 2.7322404e-4 BTC; with a 5 bps fee on each leg, 5e-4·(1000/60000 + 1000/61000) BTC."""
    golden = 10 * 100 * (1 / 60_000 - 1 / 61_000)
    assert golden == pytest.approx(2.73224043715847e-4, rel=1e-12)
    fees = 5e-4 * (1000 / 60_000 + 1000 / 61_000)
    config = EnvConfig(
        max_position=10.0,
        step_ms=1_000.0,
        latency_ms=0.0,
        taker_fee_bps=5.0,
        initial_cash=1.0,
        episode_steps=2,
        features=("spread", "position", "unrealized_pnl"),
    )
    env = TradingEnv(two_book_market(), config)
    _, info = env.reset(options={"start_ns": 0})
    assert info["equity"] == 1.0
    _, r1, *_, info = env.step(4)  # target +10 contracts: buys at the ask, 60,000.0
    assert info["position"] == 10
    assert info["fills"][0][2] == pytest.approx(60_000.0)
    # marked at the mid 61,000.05 after the book moved
    unrealized = 1000 * (1 / 60_000 - 1 / 61_000.05)
    assert info["unrealized_pnl"] == pytest.approx(unrealized, rel=1e-12)
    assert info["cash"] == pytest.approx(1.0 - 5e-4 * 1000 / 60_000, rel=1e-15)
    _, r2, *_, info = env.step(2)  # flat: sells at the bid, 61,000.0
    assert info["position"] == 0
    assert info["realized_pnl"] == pytest.approx(golden - fees, rel=1e-12)
    assert info["fees"] == pytest.approx(fees, rel=1e-12)
    assert info["equity"] == pytest.approx(1.0 + golden - fees, rel=1e-12)
    # the pnl reward is the change of equity, in BTC
    assert r1 + r2 == pytest.approx(golden - fees, rel=1e-9)
    trips = env.round_trips()
    assert trips[0][4] == pytest.approx(golden - fees, rel=1e-12)


def test_unrealized_pnl_feature_is_a_ratio_of_coin() -> None:
    """The ``unrealized_pnl`` feature divides the coin PnL by the coin cash: on 1 BTC of cash
    it is the unrealized PnL in BTC, not a quote amount."""
    config = EnvConfig(
        max_position=10.0,
        step_ms=1_000.0,
        latency_ms=0.0,
        taker_fee_bps=0.0,
        initial_cash=0.01,
        episode_steps=2,
        features=("unrealized_pnl",),
    )
    env = TradingEnv(two_book_market(), config)
    env.reset(options={"start_ns": 0})
    obs, *_, info = env.step(4)
    assert obs[0] == pytest.approx(info["unrealized_pnl"] / 0.01, rel=1e-6)
    # 10 contracts of 100 USD up 1.7 %: 2.7e-4 BTC on 0.01 BTC, a few percent
    assert 0.01 < obs[0] < 0.05


def test_default_env_on_the_coin_m_recording_counts_in_coin(shared_data: Path) -> None:
    """TradingEnv with the default config on BTCUSD_PERP: equity, cash and rewards are BTC (the
    reference of the module docstring), and one contract of 100 USD moves equity by
    fractions of a millibitcoin, not by dollars."""
    path = shared_data / "binance-coinm-perp" / "btcusd_perp_20240808.gz"
    market = lobzero.import_market(path)
    assert market.instrument.inverse and market.instrument.contract_size == "100"
    with pytest.warns(UserWarning, match="initial_cash is in the base coin"):
        env = TradingEnv(market, EnvConfig(episode_steps=300))
    _, info = env.reset(seed=1)
    start = info["equity"]
    assert start == EnvConfig().initial_cash  # in BTC
    fills: list[tuple[int, int, float, float, float]] = []
    rewards = 0.0
    rng = np.random.default_rng(0)
    for _ in range(300):
        _, reward, terminated, truncated, info = env.step(int(rng.integers(0, 5)))
        fills += [tuple(f) for f in info["fills"]]
        rewards += reward
        if terminated or truncated:
            break
    assert fills, "random actions traded"
    change = info["equity"] - start
    want = reference_equity_change(fills, info["position"], info["mark"], market.instrument)
    # the default cash of 100,000 (BTC here) rounds each booking at ~1e-11: a few hundred fills
    assert change == pytest.approx(want, abs=1e-8)
    assert rewards == pytest.approx(change, abs=1e-8)
    # fees: 4 bps of 100 USD / ~61,700 per contract traded, in BTC
    traded = sum(f[3] for f in fills)
    assert info["fees"] == pytest.approx(4e-4 * traded * 100 / 61_700, rel=0.01)
    assert abs(change) < 1e-3
