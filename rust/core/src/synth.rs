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
//!   unit stationary variance). With `s = signal_strength` in [0, 1], market orders are
//!   buyer-initiated with probability `(1 + s·(tanh z + trend))/2` and limit
//!   orders join the bid with probability `(1 + 0.6·s·tanh z)/2`. The pressure persists for about
//!   `1/pressure_reversion` seconds, so the order-flow imbalance it causes now predicts the price
//!   drift of the next seconds: with `s = 0` flow is symmetric and carries no information about
//!   future moves; with `s = 1` it carries the most. (Queue imbalance at the touch predicts the
//!   very next tick move at any `s`, as in real books: the thinner queue empties first. That
//!   effect does not pay for crossing the spread.)
//! - **Regimes** (calm, trending, volatile) switch as a Markov chain with mean durations in
//!   seconds; each scales the arrival rate and market-order share and sizes; a trending regime
//!   adds a drift `trend_bias` (sign drawn at entry) to `tanh z` in the buy probability, so it
//!   too scales with `s`: at `s = 0` market-order direction is a fair coin in every regime.
//! - Receive times are exchange times plus a seeded latency (`latency_ms` mean, exponential),
//!   kept non-decreasing. The stream starts with a snapshot.

use crate::decimal::Decimal;
use crate::error::{LobzeroError, Result};
use crate::event::{
    Event, EventStream, Instrument, KIND_CLEAR, KIND_SNAPSHOT, KIND_TRADE, KIND_UPDATE, SIDE_ASK,
    SIDE_BID, SIDE_NONE,
};
use crate::rng::Rng;
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
    pub seconds: f64,
    pub seed: u64,
    pub symbol: String,
    pub venue: String,
    pub tick_size: String,
    pub lot_size: String,
    pub start_price: f64,
    pub levels: usize,
    /// Mean distance between consecutive levels of a side, ticks (geometric, >= 1).
    pub level_gap_ticks: f64,
    /// Probability that a limit order arriving while the spread is wider than a tick improves it.
    pub improve_share: f64,
    /// Baseline arrivals per second (before regime scaling and self-excitation).
    pub base_rate: f64,
    pub hawkes_branching: f64,
    pub hawkes_decay: f64,
    /// Share of non-market arrivals that are cancels (the rest are limit orders).
    pub cancel_share: f64,
    /// Mean queue size at the touch, lots (deeper queues grow by `depth_slope` per tick).
    pub mean_queue_lots: f64,
    pub depth_slope: f64,
    /// Mean market order size, lots (geometric).
    pub mean_market_lots: f64,
    /// Mean limit order size, lots (geometric).
    pub mean_limit_lots: f64,
    pub signal_strength: f64,
    pub pressure_reversion: f64,
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
    /// Seconds spent in each regime: calm, trending, volatile.
    pub regime_seconds: [f64; 3],
    pub regime_switches: u64,
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

/// One side's ladder, touch first: `prices[k]` (ticks, moving away from the spread) holding
/// `queues[k]` lots.
struct Ladder {
    side: i8,
    prices: Vec<i64>,
    queues: Vec<i64>,
}

impl Ladder {
    fn best(&self) -> i64 {
        self.prices[0]
    }

    /// The price `ticks` further from the spread than `price`.
    fn away(&self, price: i64, ticks: i64) -> i64 {
        if self.side == SIDE_BID {
            price - ticks
        } else {
            price + ticks
        }
    }
}

struct Generator<'a> {
    cfg: &'a SynthConfig,
    rng: Rng,
    out: EventStream,
    last_recv_ns: i64,
    report: SynthReport,
}

impl Generator<'_> {
    fn queue_size(&mut self, k: usize) -> i64 {
        let mean = self.cfg.mean_queue_lots * (1.0 + self.cfg.depth_slope * k as f64);
        // gamma(2) sizes: rarely tiny, sometimes large
        (self.rng.gamma(2.0) * mean / 2.0).round().max(1.0) as i64
    }

    /// Geometric size on {1, 2, ...} with the given mean.
    fn geometric(&mut self, mean: f64) -> i64 {
        if mean <= 1.0 {
            return 1;
        }
        let p = 1.0 / mean;
        1 + ((1.0 - self.rng.uniform()).ln() / (1.0 - p).ln()).floor() as i64
    }

    /// Stamps the events of one exchange message with one receive time.
    fn recv_for(&mut self, ts_ns: i64) -> i64 {
        let latency = if self.cfg.latency_ms > 0.0 {
            self.rng.exponential(1.0 / (self.cfg.latency_ms * 1e6)) as i64
        } else {
            0
        };
        let recv = (ts_ns + latency).max(self.last_recv_ns);
        self.last_recv_ns = recv;
        recv
    }

    fn emit(
        &mut self,
        ts_ns: i64,
        recv_ns: i64,
        kind: u8,
        side: i8,
        price_ticks: i64,
        qty_lots: i64,
    ) {
        self.out.push(Event {
            ts_ns,
            recv_ts_ns: recv_ns,
            kind,
            side,
            price_ticks,
            qty_lots,
        });
    }

    /// Removes emptied levels (an empty touch moves the price to the next level) and refills
    /// the far end, so the ladder keeps `levels` levels.
    fn normalize(&mut self, ladder: &mut Ladder, ts: i64, recv: i64) {
        let mut k = 0;
        while k < ladder.queues.len() {
            if ladder.queues[k] == 0 {
                ladder.queues.remove(k);
                ladder.prices.remove(k);
            } else {
                k += 1;
            }
        }
        while ladder.queues.len() < self.cfg.levels {
            let depth = ladder.queues.len();
            let Some(&far) = ladder.prices.last() else {
                // unreachable: sweeps and cancels never empty a whole ladder
                break;
            };
            let gap = self.geometric(self.cfg.level_gap_ticks);
            let price = ladder.away(far, gap);
            let q = self.queue_size(depth);
            ladder.prices.push(price);
            ladder.queues.push(q);
            self.emit(ts, recv, KIND_UPDATE, ladder.side, price, q);
        }
    }
}

/// Generates the market. Returns the instrument, the stream (validated) and a report.
pub fn synth_market(cfg: &SynthConfig) -> Result<(Instrument, EventStream, SynthReport)> {
    let (tick, lot) = cfg.validate()?;
    let instrument = Instrument::new(&cfg.symbol, &cfg.venue, tick, lot)?;
    let mut g = Generator {
        cfg,
        rng: Rng::new(cfg.seed),
        out: EventStream::with_capacity((cfg.seconds * cfg.base_rate * 4.0) as usize),
        last_recv_ns: 0,
        report: SynthReport::default(),
    };
    // 2024-01-01T00:00:00Z: a fixed, realistic epoch
    let t0: i64 = 1_704_067_200_000_000_000;
    let end = t0 + (cfg.seconds * 1e9) as i64;
    let mid0 = (cfg.start_price / tick.to_f64()).round() as i64;
    let levels = cfg.levels;
    let new_ladder = |side| Ladder {
        side,
        prices: Vec::with_capacity(levels + 1),
        queues: Vec::with_capacity(levels + 1),
    };
    let (mut bids, mut asks) = (new_ladder(SIDE_BID), new_ladder(SIDE_ASK));
    for ladder in [&mut bids, &mut asks] {
        let mut price = ladder.away(mid0, 1);
        for k in 0..levels {
            ladder.prices.push(price);
            let q = g.queue_size(k);
            ladder.queues.push(q);
            let gap = g.geometric(cfg.level_gap_ticks);
            price = ladder.away(price, gap);
        }
    }
    let recv = g.recv_for(t0);
    g.emit(t0, recv, KIND_CLEAR, SIDE_NONE, 0, 0);
    for ladder in [&bids, &asks] {
        for (&p, &q) in ladder.prices.iter().zip(&ladder.queues) {
            g.emit(t0, recv, KIND_SNAPSHOT, ladder.side, p, q);
        }
    }

    let regimes = [cfg.calm, cfg.trending, cfg.volatile];
    let mut regime = 0usize;
    let mut regime_until = t0 + (g.rng.exponential(1.0 / regimes[0].mean_duration_s) * 1e9) as i64;
    let mut regime_started = t0;
    let mut trend_sign = 1.0;
    let mut pressure = 0.0f64;
    let mut excitation = 0.0f64; // Σ α e^{-β(t - t_i)}, arrivals per second
    let alpha = cfg.hawkes_branching * cfg.hawkes_decay;
    let mut t = t0;
    loop {
        let base = cfg.base_rate * regimes[regime].rate_multiplier;
        // thinning: the intensity only decays until the next arrival, so base + excitation bounds it
        let bound = base + excitation;
        let dt_s = g.rng.exponential(bound);
        excitation *= (-cfg.hawkes_decay * dt_s).exp();
        // OU pressure, exact discretisation with unit stationary variance
        let keep = (-cfg.pressure_reversion * dt_s).exp();
        pressure = pressure * keep + (1.0 - keep * keep).sqrt() * g.rng.normal();
        t += (dt_s * 1e9).max(1.0) as i64;
        if t >= end {
            break;
        }
        while t >= regime_until {
            g.report.regime_seconds[regime] += (regime_until - regime_started) as f64 * 1e-9;
            regime_started = regime_until;
            // leave to one of the two other regimes with equal probability
            regime = (regime + 1 + g.rng.below(2) as usize) % 3;
            trend_sign = if g.rng.bernoulli(0.5) { 1.0 } else { -1.0 };
            regime_until +=
                (g.rng.exponential(1.0 / regimes[regime].mean_duration_s) * 1e9).max(1.0) as i64;
            g.report.regime_switches += 1;
        }
        if !g.rng.bernoulli((base + excitation) / bound) {
            continue; // rejected: the intensity fell since the bound was taken
        }
        excitation += alpha;
        g.report.arrivals += 1;
        let r = regimes[regime];
        let recv = g.recv_for(t);
        let tilt = pressure.tanh();
        if g.rng.bernoulli(r.market_share) {
            g.report.market_orders += 1;
            // everything predictable about the direction scales with the signal strength
            let drift = r.trend_bias * trend_sign;
            let p_buy = (0.5 * (1.0 + cfg.signal_strength * (tilt + drift))).clamp(0.02, 0.98);
            let buy = g.rng.bernoulli(p_buy);
            let mut remaining = g.geometric(cfg.mean_market_lots * r.size_multiplier);
            let (ladder, aggressor) = if buy {
                (&mut asks, SIDE_BID)
            } else {
                (&mut bids, SIDE_ASK)
            };
            // sweep, never emptying the whole ladder
            let mut k = 0;
            while remaining > 0 && k + 1 < ladder.queues.len() {
                let q = ladder.queues[k];
                let take = q.min(remaining);
                remaining -= take;
                ladder.queues[k] = q - take;
                let p = ladder.prices[k];
                g.emit(t, recv, KIND_TRADE, aggressor, p, take);
                g.emit(t, recv, KIND_UPDATE, ladder.side, p, q - take);
                k += 1;
            }
            g.normalize(ladder, t, recv);
        } else if g.rng.bernoulli(cfg.cancel_share) {
            g.report.cancels += 1;
            let ladder = if g.rng.bernoulli(0.5) {
                &mut bids
            } else {
                &mut asks
            };
            let k = (g.rng.exponential(1.0 / 4.0) as usize).min(ladder.queues.len() - 1);
            let q = ladder.queues[k];
            let cut = g.geometric(cfg.mean_limit_lots).min(q);
            ladder.queues[k] = q - cut;
            let p = ladder.prices[k];
            g.emit(t, recv, KIND_UPDATE, ladder.side, p, q - cut);
            g.normalize(ladder, t, recv);
        } else {
            g.report.limit_orders += 1;
            let on_bid = g
                .rng
                .bernoulli(0.5 * (1.0 + 0.6 * cfg.signal_strength * tilt));
            let size = g.geometric(cfg.mean_limit_lots);
            let spread = asks.best() - bids.best();
            let (ladder, other_best) = if on_bid {
                (&mut bids, asks.best())
            } else {
                (&mut asks, bids.best())
            };
            if spread > 1 && g.rng.bernoulli(cfg.improve_share) {
                // a new touch at a uniform price strictly inside the spread, sized like a touch
                // queue (liquidity providers stepping into a gap); the farthest level leaves
                let inside = 1 + g.rng.below((spread - 1) as u64) as i64;
                let size = g.queue_size(0);
                let price = ladder.away(other_best, inside);
                ladder.prices.insert(0, price);
                ladder.queues.insert(0, size);
                if let (Some(far), Some(_)) = (ladder.prices.pop(), ladder.queues.pop()) {
                    g.emit(t, recv, KIND_UPDATE, ladder.side, far, 0);
                }
                g.emit(t, recv, KIND_UPDATE, ladder.side, price, size);
            } else {
                let k = (g.rng.exponential(1.0 / 3.0) as usize).min(ladder.queues.len() - 1);
                ladder.queues[k] += size;
                let (p, q) = (ladder.prices[k], ladder.queues[k]);
                g.emit(t, recv, KIND_UPDATE, ladder.side, p, q);
            }
        }
    }
    g.report.regime_seconds[regime] += (end - regime_started).max(0) as f64 * 1e-9;
    let events = g.out;
    events.validate(&format!("synthetic market (seed {})", cfg.seed))?;
    Ok((instrument, events, g.report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::sample_book;

    fn small(seed: u64, signal: f64) -> SynthConfig {
        SynthConfig {
            seconds: 600.0,
            seed,
            signal_strength: signal,
            ..SynthConfig::default()
        }
    }

    #[test]
    fn same_seed_same_stream_and_valid() {
        let (_, a, ra) = synth_market(&small(3, 0.5)).unwrap();
        let (_, b, rb) = synth_market(&small(3, 0.5)).unwrap();
        assert_eq!(a, b);
        assert_eq!(ra, rb);
        let (_, c, _) = synth_market(&small(4, 0.5)).unwrap();
        assert_ne!(a, c);
        assert!(a.len() > 50_000, "{}", a.len());
        for seed in 0..5 {
            for signal in [0.0, 1.0] {
                synth_market(&small(seed, signal)).unwrap();
            }
        }
    }

    /// Correlation between the trade-flow imbalance of the last second and the mid change over
    /// the next two seconds, sampled every 100 ms.
    fn flow_predictiveness(seed: u64, signal: f64) -> f64 {
        let (_, s, _) = synth_market(&SynthConfig {
            seconds: 1800.0,
            ..small(seed, signal)
        })
        .unwrap();
        let step = 100_000_000;
        let samples = sample_book(&s, step, 1);
        let n = samples.ts_ns.len();
        let mids: Vec<f64> = (0..n)
            .map(|t| (samples.bid_price_ticks[t] + samples.ask_price_ticks[t]) as f64 * 0.5)
            .collect();
        // signed traded lots per 100 ms bucket
        let mut flow = vec![0.0; n];
        let start = s.recv_ts_ns[0];
        for i in 0..s.len() {
            if s.kind[i] == KIND_TRADE {
                let bucket = ((s.recv_ts_ns[i] - start - 1).max(0) / step) as usize;
                if bucket < n {
                    flow[bucket] += f64::from(s.side[i]) * s.qty_lots[i] as f64;
                }
            }
        }
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for t in 10..n.saturating_sub(20) {
            xs.push(flow[t - 9..=t].iter().sum::<f64>());
            ys.push(mids[t + 20] - mids[t]);
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let (mx, my) = (mean(&xs), mean(&ys));
        let cov: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
        let vx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
        let vy: f64 = ys.iter().map(|y| (y - my).powi(2)).sum();
        cov / (vx * vy).sqrt()
    }

    #[test]
    fn signal_strength_controls_predictiveness() {
        // microstructure alone (queue depletion, refills) leaves a small correlation either way
        let mean = |signal: f64| {
            (1..=3)
                .map(|seed| flow_predictiveness(seed, signal))
                .sum::<f64>()
                / 3.0
        };
        let (none, strong) = (mean(0.0), mean(1.0));
        eprintln!("flow predictiveness: none {none:.3}, strong {strong:.3}");
        assert!(
            none.abs() < 0.1,
            "no signal should predict (almost) nothing: {none}"
        );
        assert!(
            strong > 0.3 && strong - none > 0.25,
            "strong signal {strong} vs none {none}"
        );
    }

    #[test]
    fn bad_configs_are_refused() {
        for cfg in [
            SynthConfig {
                seconds: 0.0,
                ..SynthConfig::default()
            },
            SynthConfig {
                hawkes_branching: 1.0,
                ..SynthConfig::default()
            },
            SynthConfig {
                signal_strength: 1.5,
                ..SynthConfig::default()
            },
            SynthConfig {
                tick_size: "abc".into(),
                ..SynthConfig::default()
            },
            SynthConfig {
                levels: 2,
                ..SynthConfig::default()
            },
            SynthConfig {
                base_rate: f64::NAN,
                ..SynthConfig::default()
            },
        ] {
            assert!(matches!(synth_market(&cfg), Err(LobzeroError::Config(_))));
        }
    }
}
