"""The synthetic market from Python: determinism, validity, configuration, the signal knob."""

from __future__ import annotations

from pathlib import Path

import lobzero
import numpy as np
import pytest
from lobzero.data.facts import stylized_facts
from lobzero.data.synth import Regime, SynthConfig


def test_same_seed_same_market_and_different_seeds_differ() -> None:
    a = lobzero.synth_market(seconds=120, seed=5)
    b = lobzero.synth_market(seconds=120, seed=5)
    c = lobzero.synth_market(seconds=120, seed=6)
    assert a.to_polars().equals(b.to_polars())
    assert not a.to_polars().equals(c.to_polars())
    assert a.instrument.symbol == "SYNTH" and a.instrument.tick_size == "0.1"
    assert (a.end_ns - a.start_ns) / 1e9 == pytest.approx(120, abs=1)
    report = a.import_report
    assert report["format"] == "synth" and report["config"]["seed"] == 5
    assert report["generator"]["arrivals"] > 0 and report["generator"]["fades"] > 0


def test_the_stream_is_a_valid_book() -> None:
    market = lobzero.synth_market(seconds=300, seed=1, signal_strength=1.0)
    # re-validated from its columns like any edited stream
    lobzero.Market.from_polars(market.to_polars(), market.instrument)
    book = market.sample_book(step_ms=100, levels=5)
    bid, ask = book["bid_price_ticks"], book["ask_price_ticks"]
    assert (bid[:, 0] < ask[:, 0]).all()
    assert (np.diff(bid, axis=1) < 0).all() and (np.diff(ask, axis=1) > 0).all()
    assert (book["bid_qty_lots"] > 0).all() and (book["ask_qty_lots"] > 0).all()


def test_signal_strength_is_what_flow_predicts() -> None:
    none = np.mean(
        [
            stylized_facts(lobzero.synth_market(seconds=900, seed=s, signal_strength=0.0))[
                "flow_future_return_corr"
            ]
            for s in (1, 2)
        ]
    )
    strong = np.mean(
        [
            stylized_facts(lobzero.synth_market(seconds=900, seed=s, signal_strength=1.0))[
                "flow_future_return_corr"
            ]
            for s in (1, 2)
        ]
    )
    assert abs(none) < 0.15
    assert strong > none + 0.2


def test_config_errors_and_toml(tmp_path: Path) -> None:
    with pytest.raises(lobzero.ConfigError, match="signal_strength must be in"):
        lobzero.synth_market(seconds=10, signal_strength=2.0)
    with pytest.raises(lobzero.ConfigError, match="hawkes_branching"):
        lobzero.synth_market(seconds=10, hawkes_branching=1.2)
    with pytest.raises(lobzero.ConfigError, match="touch_fade_share must be in"):
        lobzero.synth_market(seconds=10, touch_fade_share=-0.1)
    with pytest.raises(lobzero.ConfigError, match="unknown option"):
        lobzero.synth_market(seconds=10, volatility=3)
    with pytest.raises(lobzero.ConfigError, match="regime calm"):
        lobzero.synth_market(seconds=10, calm=Regime(-1.0, 1.0, 0.1, 1.0))
    config = SynthConfig(seconds=30, seed=3, trending=Regime(60.0, 1.2, 0.2, 1.0, 0.4))
    back = SynthConfig.load(config.save(tmp_path / "synth.toml"))
    assert back == config
    assert lobzero.synth_market(back).to_polars().equals(lobzero.synth_market(config).to_polars())


def test_parquet_round_trip(tmp_path: Path) -> None:
    market = lobzero.synth_market(seconds=60, seed=2)
    back = lobzero.Market.load(market.save(tmp_path / "synth.parquet"))
    assert back.to_polars().equals(market.to_polars())
    assert back.import_report["config"]["seconds"] == 60
