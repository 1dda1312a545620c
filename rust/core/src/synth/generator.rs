//! The event process itself: two ladders of queues driven by Hawkes arrivals (see the module
//! docs of [`crate::synth`] for the model).

use super::{SynthConfig, SynthReport};
use crate::error::Result;
use crate::event::{
    Event, EventStream, Instrument, KIND_CLEAR, KIND_SNAPSHOT, KIND_TRADE, KIND_UPDATE, SIDE_ASK,
    SIDE_BID, SIDE_NONE,
};
use crate::rng::Rng;

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
    g.report.regime_start_ns.push(t0);
    g.report.regime_path.push(0);
    let mut trend_sign = 1.0;
    let mut pressure = 0.0f64;
    let mut excitation = 0.0f64; // Σ α e^{-β(t - t_i)}, arrivals per second
    let alpha = cfg.hawkes_branching * cfg.hawkes_decay;
    // the uninformed price moves give way to informed flow as the signal grows, so that prices
    // move about as much at every signal strength
    let fade_share = cfg.touch_fade_share * (1.0 - cfg.signal_strength);
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
            g.report.regime_start_ns.push(regime_started);
            g.report.regime_path.push(regime as u8);
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
        } else if g.rng.bernoulli(fade_share) {
            // a quote fading: the whole touch queue of a random side is withdrawn, the price
            // moves, and nothing seen before says which way (uninformed volatility)
            g.report.fades += 1;
            let ladder = if g.rng.bernoulli(0.5) {
                &mut bids
            } else {
                &mut asks
            };
            ladder.queues[0] = 0;
            let p = ladder.prices[0];
            g.emit(t, recv, KIND_UPDATE, ladder.side, p, 0);
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
