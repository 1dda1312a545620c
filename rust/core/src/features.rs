//! The observation builder: a float32 vector from a configurable list of features, computed at
//! each decision time from the book, the flow of events since the previous decision, and the
//! account. Every feature has documented units and true bounds (±inf where none exist).

use crate::book::{Book, OrderBook};
use crate::error::{LobzeroError, Result};
use crate::event::{SIDE_ASK, SIDE_BID};

/// The features, in the order they appear in the vector when listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Feature {
    /// For k < `levels`: bid offset from mid (ticks, >= 0; 0 for a missing level), bid size share,
    /// ask offset (ticks), ask size share. Shares are size / total size of the 2×levels levels.
    Levels,
    /// Best ask − best bid, ticks (0 when a side is empty).
    Spread,
    /// For each depth d: (bid − ask)/(bid + ask) size over the best d levels a side, in [-1, 1].
    Imbalance,
    /// Order-flow imbalance at the touch between the previous and this decision (Cont, Kukanov &
    /// Stoikov's e_n over two snapshots), divided by the four touch sizes involved: [-1, 1].
    OrderFlowImbalance,
    /// (microprice − mid) / (spread / 2), microprice = (bid·ask_qty + ask·bid_qty)/(bid_qty + ask_qty): [-1, 1].
    Microprice,
    /// For each horizon h (decisions): log(mid_t / mid_{t−h}) in basis points (0 before h decisions).
    Returns,
    /// Standard deviation of one-decision log mid returns over `volatility_window` decisions, bps.
    Volatility,
    /// (buyer − seller initiated) / total traded lots since the previous decision: [-1, 1].
    TradeFlow,
    /// Position / max position: [-1, 1].
    Position,
    /// Unrealized PnL / initial cash, both in the settlement currency (quote, or the base coin
    /// for an inverse contract): a pure ratio on either kind of contract.
    UnrealizedPnl,
    /// Decisions taken / episode length: [0, 1].
    TimeFraction,
}

impl Feature {
    pub const ALL: [Feature; 11] = [
        Feature::Levels,
        Feature::Spread,
        Feature::Imbalance,
        Feature::OrderFlowImbalance,
        Feature::Microprice,
        Feature::Returns,
        Feature::Volatility,
        Feature::TradeFlow,
        Feature::Position,
        Feature::UnrealizedPnl,
        Feature::TimeFraction,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Feature::Levels => "levels",
            Feature::Spread => "spread",
            Feature::Imbalance => "imbalance",
            Feature::OrderFlowImbalance => "ofi",
            Feature::Microprice => "microprice",
            Feature::Returns => "returns",
            Feature::Volatility => "volatility",
            Feature::TradeFlow => "trade_flow",
            Feature::Position => "position",
            Feature::UnrealizedPnl => "unrealized_pnl",
            Feature::TimeFraction => "time_fraction",
        }
    }

    pub fn parse(name: &str) -> Result<Self> {
        Feature::ALL
            .into_iter()
            .find(|f| f.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = Feature::ALL.iter().map(|f| f.name()).collect();
                LobzeroError::config(format!(
                    "unknown feature {name:?}; known: {}",
                    known.join(", ")
                ))
            })
    }
}

/// Which features, with their parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureConfig {
    pub features: Vec<Feature>,
    /// Levels a side for [`Feature::Levels`].
    pub levels: usize,
    /// Depths (levels a side) for [`Feature::Imbalance`].
    pub imbalance_depths: Vec<usize>,
    /// Horizons (decisions) for [`Feature::Returns`].
    pub return_horizons: Vec<usize>,
    /// Window (decisions) for [`Feature::Volatility`].
    pub volatility_window: usize,
    /// Frames stacked (1 = no stacking); the newest frame comes last.
    pub frame_stack: usize,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        Self {
            features: Feature::ALL.to_vec(),
            levels: 5,
            imbalance_depths: vec![1, 3, 5],
            return_horizons: vec![1, 5, 20],
            volatility_window: 20,
            frame_stack: 1,
        }
    }
}

impl FeatureConfig {
    pub fn validate(&self) -> Result<()> {
        if self.features.is_empty() {
            return Err(LobzeroError::config(
                "features must list at least one feature",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for f in &self.features {
            if !seen.insert(*f) {
                return Err(LobzeroError::config(format!(
                    "feature {:?} listed twice",
                    f.name()
                )));
            }
        }
        if self.levels == 0 || self.levels > 100 {
            return Err(LobzeroError::config("levels must be in 1..=100"));
        }
        if self.imbalance_depths.is_empty()
            || self.imbalance_depths.iter().any(|&d| d == 0 || d > 100)
        {
            return Err(LobzeroError::config(
                "imbalance_depths must be non-empty, each in 1..=100",
            ));
        }
        if self.return_horizons.is_empty()
            || self.return_horizons.iter().any(|&h| h == 0 || h > 100_000)
        {
            return Err(LobzeroError::config(
                "return_horizons must be non-empty, each in 1..=100000",
            ));
        }
        if self.volatility_window < 2 || self.volatility_window > 100_000 {
            return Err(LobzeroError::config(
                "volatility_window must be in 2..=100000",
            ));
        }
        if self.frame_stack == 0 || self.frame_stack > 1000 {
            return Err(LobzeroError::config("frame_stack must be in 1..=1000"));
        }
        Ok(())
    }

    /// Values in one frame.
    pub fn frame_dim(&self) -> usize {
        self.features.iter().map(|f| self.width(*f)).sum()
    }

    /// Values in the whole observation.
    pub fn dim(&self) -> usize {
        self.frame_dim() * self.frame_stack
    }

    fn width(&self, f: Feature) -> usize {
        match f {
            Feature::Levels => 4 * self.levels,
            Feature::Imbalance => self.imbalance_depths.len(),
            Feature::Returns => self.return_horizons.len(),
            _ => 1,
        }
    }

    /// Decisions of history the features need before the first observation.
    pub fn warmup(&self) -> usize {
        let horizon = self.return_horizons.iter().copied().max().unwrap_or(1);
        horizon.max(self.volatility_window).max(self.frame_stack)
    }

    /// Lower and upper bounds of every value of the observation (true bounds).
    pub fn bounds(&self) -> (Vec<f32>, Vec<f32>) {
        let inf = f32::INFINITY;
        let (mut low, mut high) = (Vec::new(), Vec::new());
        for &f in &self.features {
            let (lo, hi): (f32, f32) = match f {
                Feature::Levels => (0.0, inf), // offsets; shares are fixed below
                Feature::Spread | Feature::Volatility => (0.0, inf),
                Feature::Imbalance
                | Feature::OrderFlowImbalance
                | Feature::Microprice
                | Feature::TradeFlow
                | Feature::Position => (-1.0, 1.0),
                Feature::Returns | Feature::UnrealizedPnl => (-inf, inf),
                Feature::TimeFraction => (0.0, 1.0),
            };
            for j in 0..self.width(f) {
                let is_share = f == Feature::Levels && j % 2 == 1;
                low.push(lo);
                high.push(if is_share { 1.0 } else { hi });
            }
        }
        let frame = low.len();
        let (mut l, mut h) = (Vec::with_capacity(frame * self.frame_stack), Vec::new());
        for _ in 0..self.frame_stack {
            l.extend_from_slice(&low);
            h.extend_from_slice(&high);
        }
        (l, h)
    }

    /// Names of the values of one frame (for logs and feature importance).
    pub fn frame_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for &f in &self.features {
            match f {
                Feature::Levels => {
                    for k in 0..self.levels {
                        for part in ["bid_offset", "bid_share", "ask_offset", "ask_share"] {
                            names.push(format!("{part}_{k}"));
                        }
                    }
                }
                Feature::Imbalance => names.extend(
                    self.imbalance_depths
                        .iter()
                        .map(|d| format!("imbalance_{d}")),
                ),
                Feature::Returns => {
                    names.extend(self.return_horizons.iter().map(|h| format!("return_{h}")))
                }
                other => names.push(other.name().to_string()),
            }
        }
        names
    }
}

/// What the features need from outside the book at a decision.
#[derive(Debug, Clone, Copy, Default)]
pub struct DecisionContext {
    pub position_fraction: f64,
    pub unrealized_pnl_fraction: f64,
    pub time_fraction: f64,
    /// Buyer- and seller-initiated lots traded since the previous decision.
    pub buy_lots: i64,
    pub sell_lots: i64,
    /// Ticks added to every price by adversarial gaps (shifts the mid history only: features
    /// relative to the mid do not move).
    pub price_offset_ticks: i64,
    /// The best `withdrawn_levels` levels a side show `1 − withdrawn_fraction` of their size.
    pub withdrawn_levels: usize,
    pub withdrawn_fraction: f64,
}

/// Log mids of past decisions and a rolling window of one-decision log returns, so that returns
/// over any horizon and their volatility cost O(1) per decision.
#[derive(Debug, Clone)]
struct MidHistory {
    /// ln(mid) of the last decisions, ring buffer; NaN where the mid was unknown.
    log_mids: Vec<f64>,
    seen: usize,
    /// One-decision log returns in bps, ring buffer of the volatility window; NaN where unknown.
    returns: Vec<f64>,
    sum: f64,
    sum_sq: f64,
    count: usize,
}

impl MidHistory {
    fn new(history: usize, window: usize) -> Self {
        Self {
            log_mids: vec![f64::NAN; history],
            seen: 0,
            returns: vec![f64::NAN; window],
            sum: 0.0,
            sum_sq: 0.0,
            count: 0,
        }
    }

    fn reset(&mut self) {
        self.log_mids.iter_mut().for_each(|m| *m = f64::NAN);
        self.returns.iter_mut().for_each(|r| *r = f64::NAN);
        self.seen = 0;
        (self.sum, self.sum_sq, self.count) = (0.0, 0.0, 0);
    }

    /// ln(mid) `h` decisions ago (NaN when unknown).
    fn back(&self, h: usize) -> f64 {
        if h >= self.seen || h >= self.log_mids.len() {
            return f64::NAN;
        }
        self.log_mids[(self.seen - 1 - h) % self.log_mids.len()]
    }

    fn push(&mut self, mid_ticks: f64) {
        let log_mid = if mid_ticks > 0.0 && mid_ticks.is_finite() {
            mid_ticks.ln()
        } else {
            f64::NAN
        };
        let r = (log_mid - self.back(0)) * 1e4;
        let w = self.returns.len();
        let slot = self.seen % w;
        let old = self.returns[slot];
        if !old.is_nan() {
            self.sum -= old;
            self.sum_sq -= old * old;
            self.count -= 1;
        }
        self.returns[slot] = r;
        if !r.is_nan() {
            self.sum += r;
            self.sum_sq += r * r;
            self.count += 1;
        }
        let n = self.log_mids.len();
        self.log_mids[self.seen % n] = log_mid;
        self.seen += 1;
        if self.seen.is_multiple_of(w) {
            // start the running sums afresh once a window, so rounding never accumulates
            let valid = self.returns.iter().filter(|r| !r.is_nan());
            (self.sum, self.sum_sq, self.count) =
                valid.fold((0.0, 0.0, 0), |(s, q, c), r| (s + r, q + r * r, c + 1));
        }
    }

    /// log(mid_now / mid_h_ago) in bps; 0 before `h` decisions or with an unknown mid.
    fn return_bps(&self, h: usize) -> f64 {
        let r = (self.back(0) - self.back(h)) * 1e4;
        if r.is_nan() {
            0.0
        } else {
            r
        }
    }

    /// Standard deviation of the one-decision returns in the window, bps; 0 with < 2 of them.
    fn volatility_bps(&self) -> f64 {
        if self.count < 2 {
            return 0.0;
        }
        let mean = self.sum / self.count as f64;
        (self.sum_sq / self.count as f64 - mean * mean)
            .max(0.0)
            .sqrt()
    }
}

/// Per-environment feature state: mid history, the previous touch, stacked frames.
#[derive(Debug, Clone)]
pub struct FeatureState {
    config: FeatureConfig,
    mids: MidHistory,
    prev_touch: Option<(i64, i64, i64, i64)>,
    frames: Vec<f32>,
    frames_seen: usize,
    px: Vec<i64>,
    qty: Vec<i64>,
}

impl FeatureState {
    pub fn new(config: FeatureConfig) -> Result<Self> {
        config.validate()?;
        let history = config.warmup() + 1;
        let frames = vec![0.0; config.dim()];
        let n = config
            .levels
            .max(*config.imbalance_depths.iter().max().unwrap_or(&1));
        Ok(Self {
            mids: MidHistory::new(history, config.volatility_window),
            prev_touch: None,
            frames,
            frames_seen: 0,
            px: vec![0; 2 * n],
            qty: vec![0; 2 * n],
            config,
        })
    }

    pub fn config(&self) -> &FeatureConfig {
        &self.config
    }

    /// The [`Feature::Volatility`] value at the last decision, bps (whether or not it is listed).
    pub fn volatility_bps(&self) -> f64 {
        self.mids.volatility_bps()
    }

    pub fn reset(&mut self) {
        self.mids.reset();
        self.prev_touch = None;
        self.frames.iter_mut().for_each(|v| *v = 0.0);
        self.frames_seen = 0;
    }

    /// Records the book at a decision and writes the observation into `out` (len = `dim()`).
    /// `mid_ticks` is the mid to use (the last known one when the book is one-sided).
    pub fn observe(&mut self, book: &Book, mid_ticks: f64, ctx: &DecisionContext, out: &mut [f32]) {
        self.mids.push(mid_ticks + ctx.price_offset_ticks as f64);

        let frame_dim = self.config.frame_dim();
        let stack = self.config.frame_stack;
        // shift the stack left by one frame, write the newest at the end
        if stack > 1 {
            self.frames.copy_within(frame_dim.., 0);
        }
        let start = (stack - 1) * frame_dim;
        let mut frame = std::mem::take(&mut self.frames);
        self.write_frame(book, mid_ticks, ctx, &mut frame[start..]);
        if self.frames_seen == 0 {
            // before any history exists, every stacked frame is the first one
            for k in 0..stack - 1 {
                frame.copy_within(start..start + frame_dim, k * frame_dim);
            }
        }
        self.frames = frame;
        self.frames_seen += 1;
        out.copy_from_slice(&self.frames);
    }

    fn write_frame(&mut self, book: &Book, mid: f64, ctx: &DecisionContext, out: &mut [f32]) {
        let depth = self.px.len() / 2;
        let (bid_px, ask_px) = self.px.split_at_mut(depth);
        let (bid_q, ask_q) = self.qty.split_at_mut(depth);
        let mids = &self.mids;
        bid_px.iter_mut().for_each(|v| *v = 0);
        ask_px.iter_mut().for_each(|v| *v = 0);
        bid_q.iter_mut().for_each(|v| *v = 0);
        ask_q.iter_mut().for_each(|v| *v = 0);
        let n_bid = book.top_levels(SIDE_BID, bid_px, bid_q);
        let n_ask = book.top_levels(SIDE_ASK, ask_px, ask_q);
        let thin = ctx.withdrawn_levels.min(bid_q.len());
        if thin > 0 {
            let keep = 1.0 - ctx.withdrawn_fraction;
            for q in bid_q[..thin].iter_mut().chain(ask_q[..thin].iter_mut()) {
                *q = (*q as f64 * keep).floor() as i64;
            }
        }
        let cfg = &self.config;
        let mut i = 0;
        for &f in &cfg.features {
            match f {
                Feature::Levels => {
                    let l = cfg.levels;
                    let total: i64 = bid_q[..l].iter().chain(&ask_q[..l]).sum();
                    let share = |q: i64| {
                        if total > 0 {
                            q as f64 / total as f64
                        } else {
                            0.0
                        }
                    };
                    for k in 0..l {
                        let bid_off = if k < n_bid {
                            (mid - bid_px[k] as f64).max(0.0)
                        } else {
                            0.0
                        };
                        let ask_off = if k < n_ask {
                            (ask_px[k] as f64 - mid).max(0.0)
                        } else {
                            0.0
                        };
                        out[i] = bid_off as f32;
                        out[i + 1] = share(bid_q[k]) as f32;
                        out[i + 2] = ask_off as f32;
                        out[i + 3] = share(ask_q[k]) as f32;
                        i += 4;
                    }
                }
                Feature::Spread => {
                    out[i] = if n_bid > 0 && n_ask > 0 {
                        (ask_px[0] - bid_px[0]) as f32
                    } else {
                        0.0
                    };
                    i += 1;
                }
                Feature::Imbalance => {
                    for &d in &cfg.imbalance_depths {
                        let b: i64 = bid_q[..d].iter().sum();
                        let a: i64 = ask_q[..d].iter().sum();
                        out[i] = if a + b > 0 {
                            ((b - a) as f64 / (a + b) as f64) as f32
                        } else {
                            0.0
                        };
                        i += 1;
                    }
                }
                Feature::OrderFlowImbalance => {
                    let touch = (n_bid > 0 && n_ask > 0)
                        .then(|| (bid_px[0], bid_q[0], ask_px[0], ask_q[0]));
                    out[i] = match (self.prev_touch, touch) {
                        (Some((pb0, qb0, pa0, qa0)), Some((pb, qb, pa, qa))) => {
                            let mut e = 0i64;
                            if pb >= pb0 {
                                e += qb;
                            }
                            if pb <= pb0 {
                                e -= qb0;
                            }
                            if pa <= pa0 {
                                e -= qa;
                            }
                            if pa >= pa0 {
                                e += qa0;
                            }
                            let scale = qb + qb0 + qa + qa0;
                            if scale > 0 {
                                (e as f64 / scale as f64) as f32
                            } else {
                                0.0
                            }
                        }
                        _ => 0.0,
                    };
                    self.prev_touch = touch.or(self.prev_touch);
                    i += 1;
                }
                Feature::Microprice => {
                    out[i] = if n_bid > 0
                        && n_ask > 0
                        && bid_q[0] + ask_q[0] > 0
                        && ask_px[0] > bid_px[0]
                    {
                        let (b, a) = (bid_px[0] as f64, ask_px[0] as f64);
                        let (qb, qa) = (bid_q[0] as f64, ask_q[0] as f64);
                        let micro = (b * qa + a * qb) / (qa + qb);
                        let m = 0.5 * (a + b);
                        (((micro - m) / (0.5 * (a - b))).clamp(-1.0, 1.0)) as f32
                    } else {
                        0.0
                    };
                    i += 1;
                }
                Feature::Returns => {
                    for &h in &cfg.return_horizons {
                        out[i] = mids.return_bps(h) as f32;
                        i += 1;
                    }
                }
                Feature::Volatility => {
                    out[i] = mids.volatility_bps() as f32;
                    i += 1;
                }
                Feature::TradeFlow => {
                    let total = ctx.buy_lots + ctx.sell_lots;
                    out[i] = if total > 0 {
                        ((ctx.buy_lots - ctx.sell_lots) as f64 / total as f64) as f32
                    } else {
                        0.0
                    };
                    i += 1;
                }
                Feature::Position => {
                    out[i] = ctx.position_fraction.clamp(-1.0, 1.0) as f32;
                    i += 1;
                }
                Feature::UnrealizedPnl => {
                    out[i] = ctx.unrealized_pnl_fraction as f32;
                    i += 1;
                }
                Feature::TimeFraction => {
                    out[i] = ctx.time_fraction.clamp(0.0, 1.0) as f32;
                    i += 1;
                }
            }
        }
    }
}

/// A deliberately wrong feature, for the power check of the no-lookahead property only: it
/// adds the kind, price and size of the next event the cursor has *not* applied (the first one
/// received after the decision) to the first value of the observation, i.e. it peeks one event
/// ahead. Compiled in only with the test-only cargo feature `planted-lookahead`, and applied
/// only after `TradingEnv::plant_lookahead`.
#[cfg(feature = "planted-lookahead")]
pub fn planted_peek_next_event(stream: &crate::event::EventStream, next: usize, out: &mut [f32]) {
    let peek = (
        stream.kind.get(next),
        stream.price_ticks.get(next),
        stream.qty_lots.get(next),
    );
    if let (Some(first), (Some(&kind), Some(&price), Some(&qty))) = (out.first_mut(), peek) {
        *first += (i64::from(kind) + price + qty) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dims_bounds_and_names_agree() {
        let cfg = FeatureConfig {
            frame_stack: 3,
            ..FeatureConfig::default()
        };
        let (lo, hi) = cfg.bounds();
        assert_eq!(lo.len(), cfg.dim());
        assert_eq!(hi.len(), cfg.dim());
        assert_eq!(cfg.frame_names().len(), cfg.frame_dim());
        assert_eq!(cfg.frame_dim(), 20 + 1 + 3 + 1 + 1 + 3 + 1 + 1 + 1 + 1 + 1);
        assert!(Feature::parse("nope").is_err());
        assert_eq!(Feature::parse("ofi"), Ok(Feature::OrderFlowImbalance));
    }

    #[test]
    fn rolling_volatility_equals_the_direct_formula() {
        let window = 7;
        let mut h = MidHistory::new(30, window);
        let mut rng = crate::rng::Rng::new(3);
        let mut mids = Vec::new();
        for step in 0..500 {
            // a random walk with a few unknown mids
            let mid = if step % 97 == 13 {
                f64::NAN
            } else {
                1000.0 + rng.normal() * 3.0 + step as f64 * 0.01
            };
            h.push(mid);
            mids.push(mid);
            let returns: Vec<f64> = (0..window.min(mids.len().saturating_sub(1)))
                .map(|j| (mids[mids.len() - 1 - j].ln() - mids[mids.len() - 2 - j].ln()) * 1e4)
                .filter(|r| !r.is_nan())
                .collect();
            let direct = if returns.len() < 2 {
                0.0
            } else {
                let mean = returns.iter().sum::<f64>() / returns.len() as f64;
                (returns.iter().map(|r| r * r).sum::<f64>() / returns.len() as f64 - mean * mean)
                    .max(0.0)
                    .sqrt()
            };
            assert!(
                (h.volatility_bps() - direct).abs() < 1e-6,
                "step {step}: {} vs {direct}",
                h.volatility_bps()
            );
        }
        assert!((h.return_bps(3) - (mids[499].ln() - mids[496].ln()) * 1e4).abs() < 1e-9);
    }

    #[test]
    fn values_by_hand() {
        let cfg = FeatureConfig {
            features: vec![
                Feature::Levels,
                Feature::Spread,
                Feature::Imbalance,
                Feature::Microprice,
                Feature::Returns,
            ],
            levels: 2,
            imbalance_depths: vec![1, 2],
            return_horizons: vec![1],
            volatility_window: 2,
            frame_stack: 2,
        };
        let mut state = FeatureState::new(cfg.clone()).unwrap();
        let mut book = Book::default();
        book.set_level(SIDE_BID, 99, 3);
        book.set_level(SIDE_BID, 98, 1);
        book.set_level(SIDE_ASK, 101, 1);
        let mut out = vec![0.0; cfg.dim()];
        state.observe(&book, 100.0, &DecisionContext::default(), &mut out);
        let f = cfg.frame_dim();
        // levels: bid 1 tick below mid, share 3/5; ask 1 above, 1/5; second bid 2 below, 1/5
        assert_eq!(&out[f..f + 8], &[1.0, 0.6, 1.0, 0.2, 2.0, 0.2, 0.0, 0.0]);
        assert_eq!(out[f + 8], 2.0); // spread
        assert_eq!(&out[f + 9..f + 11], &[0.5, 0.6]); // (3-1)/4, (4-1)/5
                                                      // microprice = (99·1 + 101·3)/4 = 100.5 → (100.5 − 100)/1 = 0.5
        assert_eq!(out[f + 11], 0.5);
        assert_eq!(out[f + 12], 0.0); // no history yet
        assert_eq!(&out[..f], &out[f..]); // the stack starts filled with the first frame
        book.set_level(SIDE_ASK, 101, 0);
        book.set_level(SIDE_ASK, 103, 1);
        state.observe(&book, 101.0, &DecisionContext::default(), &mut out);
        assert!((out[f + 12] - ((101.0f64 / 100.0).ln() * 1e4) as f32).abs() < 1e-3);
        assert_eq!(out[8], 2.0); // the previous frame moved left
        let (lo, hi) = cfg.bounds();
        assert!(out
            .iter()
            .zip(lo.iter().zip(&hi))
            .all(|(v, (l, h))| *v >= *l && *v <= *h));
    }
}
