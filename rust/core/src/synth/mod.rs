//! The built-in synthetic market: an L2 event stream from a small, documented model of order
//! flow, in lobzero's event format, with a signal of known strength.
//!
//! The model, per side a ladder of `levels` queues from the touch outward, `level_gap_ticks`
//! apart on average (real books at a fine tick are sparse, so the price jumps when a queue
//! empties):
//! - **Arrivals** form a self-exciting (Hawkes) process with exponential kernel: intensity
//!   `λ(t) = regime_rate × base_rate + Σ α·exp(−β(t − t_i))`, branching ratio `n = α/β`
//!   (`hawkes_branching`), decay `β` (`hawkes_decay`, 1/s). Simulated exactly by thinning.
//! - Each arrival is a **limit order** (joins a queue: near the touch more often, or improves
//!   the price when the spread is wider than a tick), a **cancel** (shrinks a queue), or a
//!   **market order** that sweeps the opposite side. A queue at the touch that empties moves the
//!   price to the next level; the ladder is refilled at its far end, so it keeps `levels` levels
//!   a side. While the spread is wider than a tick, limit orders land inside it (at a uniform
//!   price, sized like a touch queue) with probability `improve_share`, which closes it within
//!   a few arrivals.
//! - A latent **pressure** `z` follows an Ornstein–Uhlenbeck process (`pressure_reversion`, 1/s;
//!   unit stationary variance). `s = signal_strength` in [0, 1] is the slope of the order flow
//!   in the pressure: each market order is buyer-initiated with probability
//!   `P(buy) = (1 + s·(tanh z + trend))/2` (clamped to [0.02, 0.98]) and each limit order joins
//!   the bid with probability `(1 + 0.6·s·tanh z)/2`. So at `s = 1` and `z = +1` a market order
//!   is a buy with probability 0.88; at `s = 0.5`, 0.69; at `s = 0`, 0.5 whatever `z` is. The
//!   pressure persists for about `1/pressure_reversion` seconds, so the signed trade flow of the
//!   last second predicts the mid change of the next seconds: with `s = 0` order flow is
//!   symmetric and carries no information about future moves. What that buys, measured over
//!   three 30-minute markets (the `signal_strength_controls_predictiveness` test: correlation of
//!   the last second's signed traded lots with the mid change over the next 2 s, book read every
//!   100 ms): about 0.0 at `s = 0`, 0.4–0.5 at `s = 0.5`, 0.5 at `s = 1` (Binance BTCUSDT: about
//!   0). Queue imbalance at the touch predicts the very next tick move at any `s`, as in real
//!   books (the thinner queue empties first); that effect does not pay for crossing the spread.
//! - **Fading quotes**: a share `touch_fade_share × (1 − s)` of the non-market arrivals withdraws
//!   a whole touch queue of a random side, which moves the price by a level with equal odds
//!   either way: uninformed volatility, which gives way to informed flow as `s` grows so that
//!   `s = 0` is not a frozen market. (Informed flow still moves prices more at `s = 1` than the
//!   fades do at `s = 0`: the knob is not volatility-neutral; the stylized-facts benchmark shows
//!   by how much.)
//! - **Regimes** (calm, trending, volatile) switch as a Markov chain with mean durations in
//!   seconds; each scales the arrival rate and market-order share and sizes; a trending regime
//!   adds a drift `trend_bias` (sign drawn at entry) to `tanh z` in the buy probability, so it
//!   too scales with `s`: at `s = 0` market-order direction is a fair coin in every regime.
//! - Receive times are exchange times plus a seeded latency (`latency_ms` mean, exponential),
//!   kept non-decreasing. The stream starts with a snapshot.

mod generator;
#[cfg(test)]
mod tests;

pub use generator::synth_market;

use crate::decimal::Decimal;
use crate::error::{LobzeroError, Result};
use serde::Serialize;

/// Parameters of one regime.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Regime {
    /// Mean time spent in the regime, seconds.
    pub mean_duration_s: f64,
    /// Multiplies the base arrival rate.
    pub rate_multiplier: f64,
    /// Share of arrivals that are market orders.
    pub market_share: f64,
    /// Multiplies the mean market order size.
    pub size_multiplier: f64,
    /// Added to the market-order direction (signed by a draw at entry); 0 = no trend.
    pub trend_bias: f64,
}

/// Every knob of the generator. Units are in the names; see the module docs for the model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SynthConfig {
    /// Market time to generate, seconds (at most 30 days).
    pub seconds: f64,
    /// Seed of every random draw: the same config gives a bit-identical stream.
    pub seed: u64,
    pub symbol: String,
    pub venue: String,
    /// Price of one tick and size of one lot, exact decimal strings.
    pub tick_size: String,
    pub lot_size: String,
    /// Mid price at the start, quote currency.
    pub start_price: f64,
    /// Price levels kept on each side (4..=1000).
    pub levels: usize,
    /// Mean distance between consecutive levels of a side, ticks (geometric, >= 1).
    pub level_gap_ticks: f64,
    /// Probability that a limit order arriving while the spread is wider than a tick improves it.
    pub improve_share: f64,
    /// Baseline arrivals per second (before regime scaling and self-excitation).
    pub base_rate: f64,
    /// Expected arrivals triggered by one arrival, in [0, 1) (1 = explosive).
    pub hawkes_branching: f64,
    /// Decay rate of the excitation, 1/s (an arrival excites the next ~1/decay seconds).
    pub hawkes_decay: f64,
    /// Share of non-market arrivals that are cancels (the rest are limit orders).
    pub cancel_share: f64,
    /// Share of non-market arrivals that withdraw a whole touch queue (a fading quote: the price
    /// moves one level, either way with equal odds) at `signal_strength` 0; scaled by
    /// `1 - signal_strength`.
    pub touch_fade_share: f64,
    /// Mean queue size at the touch, lots (deeper queues grow by `depth_slope` per tick).
    pub mean_queue_lots: f64,
    /// Relative growth of queue size per level away from the touch.
    pub depth_slope: f64,
    /// Mean market order size, lots (geometric).
    pub mean_market_lots: f64,
    /// Mean limit order size, lots (geometric).
    pub mean_limit_lots: f64,
    /// In [0, 1]: the slope of the market-order direction in the latent pressure (module docs);
    /// 0 = order flow predicts nothing.
    pub signal_strength: f64,
    /// Mean reversion of the latent pressure, 1/s (it persists about `1/pressure_reversion` s).
    pub pressure_reversion: f64,
    /// Mean of the exponential exchange-to-receive latency, ms.
    pub latency_ms: f64,
    pub calm: Regime,
    pub trending: Regime,
    pub volatile: Regime,
}

impl Default for SynthConfig {
    fn default() -> Self {
        Self {
            seconds: 3600.0,
            seed: 0,
            symbol: "SYNTH".into(),
            venue: "lobzero-synth".into(),
            tick_size: "0.1".into(),
            lot_size: "0.001".into(),
            start_price: 60_000.0,
            levels: 20,
            level_gap_ticks: 40.0,
            improve_share: 0.97,
            base_rate: 80.0,
            hawkes_branching: 0.85,
            hawkes_decay: 60.0,
            cancel_share: 0.45,
            touch_fade_share: 0.02,
            mean_queue_lots: 1500.0,
            depth_slope: 0.08,
            mean_market_lots: 350.0,
            mean_limit_lots: 250.0,
            signal_strength: 0.5,
            pressure_reversion: 0.5,
            latency_ms: 1.0,
            calm: Regime {
                mean_duration_s: 600.0,
                rate_multiplier: 0.7,
                market_share: 0.08,
                size_multiplier: 0.8,
                trend_bias: 0.0,
            },
            trending: Regime {
                mean_duration_s: 240.0,
                rate_multiplier: 1.0,
                market_share: 0.12,
                size_multiplier: 1.0,
                trend_bias: 0.25,
            },
            volatile: Regime {
                mean_duration_s: 120.0,
                rate_multiplier: 1.8,
                market_share: 0.16,
                size_multiplier: 1.6,
                trend_bias: 0.0,
            },
        }
    }
}

/// What the generator produced, besides the events.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SynthReport {
    pub arrivals: u64,
    pub market_orders: u64,
    pub limit_orders: u64,
    pub cancels: u64,
    /// Whole touch queues withdrawn (see `touch_fade_share`).
    pub fades: u64,
    /// Seconds spent in each regime: calm, trending, volatile.
    pub regime_seconds: [f64; 3],
    pub regime_switches: u64,
    /// The regime path, exported beside the events as the true label of the market state:
    /// `regime_start_ns[k]` is the exchange time (ns) from which regime `regime_path[k]`
    /// (0 calm, 1 trending, 2 volatile) is in force, until the next start or the end. The first
    /// entry is the start of the market. Exchange time, not receive time: the receive clock
    /// lags by the latency (a millisecond by default).
    pub regime_start_ns: Vec<i64>,
    pub regime_path: Vec<u8>,
}

impl SynthConfig {
    pub fn validate(&self) -> Result<(Decimal, Decimal)> {
        let bad = |m: String| Err(LobzeroError::config(m));
        let positive = [
            ("seconds", self.seconds),
            ("start_price", self.start_price),
            ("base_rate", self.base_rate),
            ("hawkes_decay", self.hawkes_decay),
            ("mean_queue_lots", self.mean_queue_lots),
            ("mean_market_lots", self.mean_market_lots),
            ("mean_limit_lots", self.mean_limit_lots),
            ("pressure_reversion", self.pressure_reversion),
        ];
        for (name, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return bad(format!("{name} must be a finite number > 0, got {v}"));
            }
        }
        if !(0.0..1.0).contains(&self.hawkes_branching) {
            return bad(format!(
                "hawkes_branching must be in [0, 1) (stationary), got {}",
                self.hawkes_branching
            ));
        }
        if !(self.level_gap_ticks.is_finite() && self.level_gap_ticks >= 1.0) {
            return bad(format!(
                "level_gap_ticks must be >= 1, got {}",
                self.level_gap_ticks
            ));
        }
        for (name, v) in [
            ("cancel_share", self.cancel_share),
            ("touch_fade_share", self.touch_fade_share),
            ("signal_strength", self.signal_strength),
            ("improve_share", self.improve_share),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return bad(format!("{name} must be in [0, 1], got {v}"));
            }
        }
        let non_negative = |v: f64| v.is_finite() && v >= 0.0;
        if !(non_negative(self.depth_slope) && non_negative(self.latency_ms)) {
            return bad("depth_slope and latency_ms must be finite and >= 0".into());
        }
        if !(4..=1000).contains(&self.levels) {
            return bad(format!("levels must be in 4..=1000, got {}", self.levels));
        }
        if self.seconds > 30.0 * 86_400.0 {
            return bad("seconds must be at most 30 days".into());
        }
        for (name, r) in [
            ("calm", self.calm),
            ("trending", self.trending),
            ("volatile", self.volatile),
        ] {
            let ok = r.mean_duration_s.is_finite()
                && r.mean_duration_s > 0.0
                && r.rate_multiplier.is_finite()
                && r.rate_multiplier > 0.0
                && (0.0..=1.0).contains(&r.market_share)
                && r.size_multiplier.is_finite()
                && r.size_multiplier > 0.0
                && (0.0..=1.0).contains(&r.trend_bias);
            if !ok {
                return bad(format!(
                    "regime {name}: mean_duration_s, rate_multiplier, size_multiplier must be > 0; market_share and trend_bias in [0, 1]"
                ));
            }
        }
        let tick = Decimal::parse(&self.tick_size)
            .map_err(|e| LobzeroError::config(format!("tick_size: {e}")))?;
        let lot = Decimal::parse(&self.lot_size)
            .map_err(|e| LobzeroError::config(format!("lot_size: {e}")))?;
        if tick.is_zero() || lot.is_zero() {
            return bad("tick_size and lot_size must be > 0".into());
        }
        let start_ticks = self.start_price / tick.to_f64();
        if start_ticks < 10.0 * self.levels as f64 || start_ticks > 1e15 {
            return bad(format!(
                "start_price {} is too close to 0 (or too large) for tick {}",
                self.start_price, self.tick_size
            ));
        }
        Ok((tick, lot))
    }
}
