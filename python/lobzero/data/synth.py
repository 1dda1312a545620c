"""The built-in synthetic market (Rust generator; the model is documented in
``rust/core/src/synth/mod.rs`` and summarised on :class:`SynthConfig`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from lobzero import _core
from lobzero.config import TomlConfig
from lobzero.data.market import Market


@dataclass(frozen=True)
class Regime(TomlConfig):
    """One market regime: how long it lasts and how it scales the order flow."""

    #: mean time spent in the regime, seconds (exponential)
    mean_duration_s: float
    #: multiplies the base arrival rate
    rate_multiplier: float
    #: share of arrivals that are market orders
    market_share: float
    #: multiplies the mean market order size
    size_multiplier: float
    #: drift added to the pressure's tilt of market orders (times signal_strength), sign drawn
    #: at entry (0 = no trend)
    trend_bias: float = 0.0


@dataclass(frozen=True)
class SynthConfig(TomlConfig):
    """Configuration of the synthetic market.

    Arrivals form a Hawkes process (``base_rate`` per second × the regime's multiplier, branching
    ratio ``hawkes_branching``, decay ``hawkes_decay`` per second); each is a limit order, a
    cancel (``cancel_share`` of non-market arrivals) or a market order that sweeps the book; an
    emptied touch queue moves the price. A latent pressure (Ornstein–Uhlenbeck, reversion
    ``pressure_reversion`` per second) tilts market orders to the buy side with probability
    ``(1 + signal_strength·(tanh z + trend))/2`` (``trend``: the trending regime's drift) and
    limit orders likewise (0.6 × as much), so at ``signal_strength`` 0 the order flow predicts
    nothing and at 1 it predicts the drift of the next seconds (at ``z = +1`` a market order is a
    buy with probability 0.88 at strength 1, 0.69 at 0.5). Uninformed price moves come from
    fading quotes (``touch_fade_share × (1 − signal_strength)`` of non-market arrivals withdraw
    a whole touch queue), so a market without signal still moves. Sizes are lots, prices decimal
    strings, times seconds.
    """

    seconds: float = 3600.0
    seed: int = 0
    symbol: str = "SYNTH"
    venue: str = "lobzero-synth"
    tick_size: str = "0.1"
    lot_size: str = "0.001"
    start_price: float = 60_000.0
    levels: int = 20
    #: mean distance between consecutive levels of a side, ticks (real books are sparse)
    level_gap_ticks: float = 40.0
    #: probability that a limit order arriving into a spread wider than a tick improves it
    improve_share: float = 0.97
    base_rate: float = 80.0
    hawkes_branching: float = 0.85
    hawkes_decay: float = 60.0
    cancel_share: float = 0.45
    #: share of non-market arrivals that withdraw a whole touch queue (a fading quote: the price
    #: moves, either way with equal odds) at signal_strength 0; scaled by 1 - signal_strength
    touch_fade_share: float = 0.02
    mean_queue_lots: float = 1500.0
    depth_slope: float = 0.08
    mean_market_lots: float = 350.0
    mean_limit_lots: float = 250.0
    signal_strength: float = 0.5
    pressure_reversion: float = 0.5
    latency_ms: float = 1.0
    calm: Regime = field(default_factory=lambda: Regime(600.0, 0.7, 0.08, 0.8, 0.0))
    trending: Regime = field(default_factory=lambda: Regime(240.0, 1.0, 0.12, 1.0, 0.25))
    volatile: Regime = field(default_factory=lambda: Regime(120.0, 1.8, 0.16, 1.6, 0.0))


def synth_market(config: SynthConfig | None = None, **overrides: Any) -> Market:
    """Generates the synthetic market: ``synth_market(seconds=600, seed=1, signal_strength=1)``.

    ``config`` gives every field (default :class:`SynthConfig`); keyword arguments override
    fields. The same configuration always gives the same stream. The import report holds the
    configuration and what the generator did (arrivals by type, time per regime).
    """
    config = config or SynthConfig()
    if overrides:
        config = config.replace(**overrides)
    stream, report = _core.synth_market(config.to_dict())
    return Market(stream, json.loads(report))


#: the order-flow pressure's reversion rate of :func:`signal_market` (per second): a half-life
#: of ln 2 / 0.05 ≈ 14 s, long enough for a taker to be paid for a round trip at low fees
SIGNAL_MARKET_REVERSION = 0.05


def signal_market_config(
    seconds: float = 7200.0, seed: int = 0, signal_strength: float = 1.0
) -> SynthConfig:
    """The :class:`SynthConfig` of :func:`signal_market` (what ``lobzero data synth`` writes
    by default)."""
    return SynthConfig(
        seconds=seconds,
        seed=seed,
        signal_strength=signal_strength,
        pressure_reversion=SIGNAL_MARKET_REVERSION,
    )


def signal_market(seconds: float = 7200.0, seed: int = 0, signal_strength: float = 1.0) -> Market:
    """The built-in synthetic market with a real, tradeable signal: :func:`synth_market` with a
    slow order-flow pressure (``pressure_reversion`` :data:`SIGNAL_MARKET_REVERSION`). What the
    demo, ``lobzero compare`` and ``train-agent`` use when no market file is given."""
    return synth_market(config=signal_market_config(seconds, seed, signal_strength))
