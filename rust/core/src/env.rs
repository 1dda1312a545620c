//! The trading environment: an agent trades one instrument with market orders against a
//! replayed book, on a decision clock.
//!
//! One step: the agent saw the book at decision time `t` (events received up to `t`) and picks
//! an action; a resulting order reaches the book at `t + latency`, walks the visible levels
//! ([`crate::exec::sweep`]), pays the taker fee, and whatever cannot fill is cancelled; the next
//! decision is at `max(t + step, t + latency)` (time clock) or after `step_events` more events
//! (event clock), where the position is marked to the mid and the reward computed. Nothing at
//! decision `t` depends on an event received after `t`, and a fill on nothing after
//! `t + latency`.
//!
//! An episode ends `terminated` only when equity reaches 0 (bankruptcy, an absorbing state).
//! It ends `truncated` after `episode_steps` decisions, and when the market runs out: when the
//! next decision or a fill would need an event received at or after the hard end
//! `EnvConfig::end_ns` (or past the last event), the episode stops at the last usable instant
//! (`end_ns - 1`, or the last event) without that fill. Running out of data is outside the
//! MDP, so a learner bootstraps there. No observation, fill or reward ever uses an event
//! received at or after `end_ns`: a walk-forward range cannot leak into the next one, whatever
//! the latency or its adversarial spikes.

use crate::account::{Account, Fill};
use crate::adversary::{Adversary, AdversaryConfig, Forced};
use crate::error::{LobzeroError, Result};
use crate::event::{
    Contract, EventStream, Instrument, KIND_CLEAR, KIND_SNAPSHOT, KIND_TRADE, KIND_UPDATE,
};
use crate::exec::{sweep, Consumed, SweepAdjust};
use crate::features::{DecisionContext, FeatureConfig, FeatureState};
use crate::replay::{Replay, ReplayIndex};
use crate::rng::Rng;
use std::sync::Arc;

/// How actions map to orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionMode {
    /// Discrete(5): target position {-1, -0.5, 0, 0.5, 1} × max position.
    Target,
    /// Discrete(3): sell one unit, hold, buy one unit.
    Side,
    /// Box([-1], [1]): target position as a fraction of the max position.
    Continuous,
}

/// What the reward measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RewardKind {
    /// Change of equity (net of fees), settlement currency (quote for a linear instrument, the
    /// base coin for an inverse one) × `reward_scale`.
    Pnl,
    /// log(equity_t / equity_{t-1}).
    LogReturn,
    /// Pnl − `risk_aversion` × |position value| × one-decision volatility of the mid, × scale.
    RiskAdjusted,
}

/// Everything the environment needs; units in the names.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvConfig {
    /// Time between decisions, ns (time clock).
    pub step_ns: i64,
    /// Events between decisions; 0 selects the time clock.
    pub step_events: usize,
    pub action_mode: ActionMode,
    /// Largest absolute position, lots (of contracts, for an inverse instrument).
    pub max_position_lots: i64,
    /// Order size of one "side" action, lots.
    pub side_unit_lots: i64,
    pub taker_fee_bps: f64,
    /// Kept for limit orders (not used by market orders).
    pub maker_fee_bps: f64,
    /// Time from decision to the order meeting the book, ns.
    pub latency_ns: i64,
    pub reward: RewardKind,
    pub reward_scale: f64,
    pub risk_aversion: f64,
    /// Starting cash, in the instrument's settlement currency: quote currency for a linear
    /// instrument, the base coin for an inverse one (see [`crate::event::Instrument`]).
    pub initial_cash: f64,
    /// Decisions per episode (truncation).
    pub episode_steps: usize,
    /// Episode starts are drawn uniformly from [start, end) receive times (None: the whole
    /// stream), among those where an episode fits before the hard end and the data's end.
    pub start_range_ns: Option<(i64, i64)>,
    /// Hard end, ns: no event received at or after it is ever used (see the module docs);
    /// None: the end of the stream.
    pub end_ns: Option<i64>,
    pub features: FeatureConfig,
    /// Adversarial injection (all probabilities 0: none).
    pub adversary: AdversaryConfig,
    pub seed: u64,
}

impl Default for EnvConfig {
    fn default() -> Self {
        Self {
            step_ns: 100_000_000,
            step_events: 0,
            action_mode: ActionMode::Target,
            max_position_lots: 1,
            side_unit_lots: 1,
            taker_fee_bps: 4.0,
            maker_fee_bps: 2.0,
            latency_ns: 10_000_000,
            reward: RewardKind::Pnl,
            reward_scale: 1.0,
            risk_aversion: 0.0,
            initial_cash: 10_000.0,
            episode_steps: 1000,
            start_range_ns: None,
            end_ns: None,
            features: FeatureConfig::default(),
            adversary: AdversaryConfig::default(),
            seed: 0,
        }
    }
}

impl EnvConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(LobzeroError::config(m.to_string()));
        if self.step_events == 0 && self.step_ns <= 0 {
            return bad("step_ns must be > 0 (or set step_events)");
        }
        if self.max_position_lots <= 0 {
            return bad("max_position must be at least one lot");
        }
        if self.side_unit_lots <= 0 {
            return bad("side_unit must be at least one lot");
        }
        if !(self.taker_fee_bps.is_finite() && self.maker_fee_bps.is_finite())
            || self.taker_fee_bps < 0.0
        {
            return bad("taker_fee_bps must be finite and >= 0 (maker_fee_bps finite)");
        }
        if self.latency_ns < 0 {
            return bad("latency_ns must be >= 0");
        }
        if !(self.initial_cash.is_finite() && self.initial_cash > 0.0) {
            return bad("initial_cash must be > 0");
        }
        if !(self.reward_scale.is_finite()
            && self.risk_aversion.is_finite()
            && self.risk_aversion >= 0.0)
        {
            return bad("reward_scale must be finite and risk_aversion finite and >= 0");
        }
        if self.episode_steps == 0 {
            return bad("episode_steps must be > 0");
        }
        if let Some((lo, hi)) = self.start_range_ns {
            if hi <= lo {
                return bad("start_range_ns must be (start, end) with start < end");
            }
        }
        self.adversary.validate()?;
        self.features.validate()
    }
}

/// An action as the caller gives it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action {
    Discrete(i64),
    Continuous(f64),
}

/// What one step returns besides the observation.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepOutcome {
    pub reward: f64,
    pub terminated: bool,
    pub truncated: bool,
}

/// The state a caller reports in `info`, in the settlement currency (quote, or the base coin
/// for an inverse instrument) and ticks/lots.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepInfo {
    pub ts_ns: i64,
    pub step: usize,
    pub equity: f64,
    pub cash: f64,
    pub position_lots: i64,
    pub mark_ticks: f64,
    pub fees: f64,
    pub realized_pnl: f64,
    pub unrealized_pnl: f64,
    /// Lots ordered this step that could not fill (cancelled, IOC).
    pub unfilled_lots: i64,
    /// Fills of this step are `account().fills[fills_start..]`.
    pub fills_start: usize,
    /// Bit k set when adversarial perturbation k fired this step (see `adversary`).
    pub perturbations: u8,
}

/// The market the environments share: the stream, its instrument and its replay index.
#[derive(Debug, Clone)]
pub struct SharedMarket {
    pub stream: Arc<EventStream>,
    pub instrument: Instrument,
    pub index: Arc<ReplayIndex>,
    tick: f64,
    lot: f64,
    /// How positions are valued (linear or inverse, with the multiplier).
    pub contract: Contract,
}

impl SharedMarket {
    pub fn new(stream: Arc<EventStream>, instrument: Instrument) -> Result<Self> {
        let (tick, lot) = instrument.steps()?;
        let contract = instrument.contract()?;
        if stream.is_empty() {
            return Err(LobzeroError::config("the market has no events"));
        }
        // a few hundred checkpoints: a reset replays at most a few thousand events to its start
        let every = (stream.len() / 256).clamp(4096, 1 << 16);
        let index = Arc::new(ReplayIndex::build(&stream, every));
        Ok(Self {
            stream,
            instrument,
            index,
            tick: tick.to_f64(),
            lot: lot.to_f64(),
            contract,
        })
    }

    pub fn tick(&self) -> f64 {
        self.tick
    }

    pub fn lot(&self) -> f64 {
        self.lot
    }
}

/// One environment. See the module documentation for the timeline.
#[derive(Debug, Clone)]
pub struct TradingEnv {
    market: SharedMarket,
    config: EnvConfig,
    replay: Replay<Arc<EventStream>>,
    consumed: Consumed,
    account: Account,
    features: FeatureState,
    rng: Rng,
    now_ns: i64,
    steps: usize,
    last_mid_ticks: f64,
    prev_equity: f64,
    buy_lots: i64,
    sell_lots: i64,
    unfilled_lots: i64,
    fills_start: usize,
    needs_reset: bool,
    /// A live market's horizon: the stream is complete up to this receive time, ns, though
    /// its last event may be older (None: a recorded market, complete to its last event).
    known_through_ns: Option<i64>,
    scratch_obs: Vec<f32>,
    adversary: Option<Adversary>,
    /// Observation bounds, kept for clipping adversarial noise.
    bounds: (Vec<f32>, Vec<f32>),
    /// Test-only leak (see [`TradingEnv::plant_lookahead`]).
    #[cfg(feature = "planted-lookahead")]
    planted_lookahead: bool,
}

impl TradingEnv {
    pub fn new(market: SharedMarket, config: EnvConfig) -> Result<Self> {
        config.validate()?;
        let features = FeatureState::new(config.features.clone())?;
        let account = Account::with_contract(config.initial_cash, market.contract);
        let dim = config.features.dim();
        let adversary = if config.adversary.is_active() {
            Some(Adversary::new(config.adversary.clone(), config.seed)?)
        } else {
            None
        };
        let bounds = config.features.bounds();
        Ok(Self {
            replay: Replay::new(Arc::clone(&market.stream)),
            rng: Rng::new(config.seed),
            market,
            config,
            consumed: Consumed::default(),
            account,
            features,
            now_ns: 0,
            steps: 0,
            last_mid_ticks: f64::NAN,
            prev_equity: 0.0,
            buy_lots: 0,
            sell_lots: 0,
            unfilled_lots: 0,
            fills_start: 0,
            needs_reset: true,
            known_through_ns: None,
            scratch_obs: vec![0.0; dim],
            adversary,
            bounds,
            #[cfg(feature = "planted-lookahead")]
            planted_lookahead: false,
        })
    }

    /// Plants a one-event lookahead in every later observation
    /// ([`crate::features::planted_peek_next_event`]): the defect the no-lookahead tests must
    /// catch. Exists only with the test-only cargo feature `planted-lookahead`.
    #[cfg(feature = "planted-lookahead")]
    pub fn plant_lookahead(&mut self) {
        self.planted_lookahead = true;
    }

    pub fn config(&self) -> &EnvConfig {
        &self.config
    }

    pub fn account(&self) -> &Account {
        &self.account
    }

    pub fn market(&self) -> &SharedMarket {
        &self.market
    }

    pub fn obs_dim(&self) -> usize {
        self.config.features.dim()
    }

    pub fn now_ns(&self) -> i64 {
        self.now_ns
    }

    /// Hints the CPU to load what the next step reads first (see [`Replay::prefetch_next`]).
    pub fn prefetch(&self) {
        self.replay.prefetch_next(&self.market.index);
    }

    pub fn needs_reset(&self) -> bool {
        self.needs_reset
    }

    /// Appends the events of a live market that arrived since the last call, and declares the
    /// stream complete up to `known_through_ns` (the feed's clock: messages that made no event
    /// still move it). The environment then steps on the longer stream exactly as on a
    /// recording of the same events. The first call copies the shared stream once (the
    /// environment owns its stream from then on); later calls append in amortized O(new
    /// events). The replay index stays that of the first part (it only speeds up resets).
    pub fn extend_stream(&mut self, events: &EventStream, known_through_ns: i64) -> Result<()> {
        let last = self.stream().end_ns();
        if let (Some(last), Some(&first)) = (last, events.recv_ts_ns.first()) {
            if first < last {
                return Err(LobzeroError::TimestampOrder {
                    location: "the appended events, row 0".into(),
                    previous_ts_ns: last,
                    ts_ns: first,
                });
            }
        }
        let end = events.end_ns().or(last).unwrap_or(known_through_ns);
        if known_through_ns < end || self.known_through_ns.is_some_and(|k| known_through_ns < k) {
            return Err(LobzeroError::config(format!(
                "known_through_ns {known_through_ns} is before the stream's last event ({end}) or an earlier horizon"
            )));
        }
        if !events.is_empty() {
            // the cursor's handle is the only one once the market's is let go, so the append
            // does not copy (except the first time, while the Python market shares it)
            self.market.stream = Arc::new(EventStream::default());
            let stream = self.replay.stream_handle_mut();
            Arc::make_mut(stream).extend(events);
            self.market.stream = Arc::clone(stream);
        }
        self.known_through_ns = Some(known_through_ns);
        Ok(())
    }

    fn stream(&self) -> &EventStream {
        &self.market.stream
    }

    /// Decision-clock step, ns, for drawing starts (event clock: a rough guess from the mean
    /// event rate of the events before the hard end, so that no later event moves a start).
    fn nominal_step_ns(&self) -> i64 {
        if self.config.step_events == 0 {
            return self.config.step_ns;
        }
        let s = self.stream();
        let stop = self.stop_ns();
        let events = s.recv_ts_ns.partition_point(|&t| t <= stop);
        let span = stop - s.start_ns().unwrap_or(0);
        (span / events.max(1) as i64).max(1) * self.config.step_events as i64
    }

    /// Decision-clock time one step of an episode may take, ns, for fitting episodes into the
    /// start range: a step that trades lasts at least the latency.
    fn episode_step_ns(&self) -> i64 {
        let step = self.nominal_step_ns();
        if self.config.step_events == 0 {
            step.max(self.config.latency_ns)
        } else {
            step
        }
    }

    /// The last receive time an episode may use, ns: just before the hard end, and no later
    /// than the last event.
    fn stop_ns(&self) -> i64 {
        let last = self.stream().end_ns().unwrap_or(0);
        let last = self.known_through_ns.map_or(last, |known| known.max(last));
        self.config
            .end_ns
            .map_or(last, |end| last.min(end.saturating_sub(1)))
    }

    /// Time of warm-up decision `k` of `warmup` before `start`, ns. Time clock: every step
    /// before the start. Event clock: every `step_events` events before the start, counted
    /// back from it, so the warm-up reads nothing after the start (first - 1: before the data).
    fn warmup_ns(&self, start: i64, k: i64, warmup: i64) -> i64 {
        if self.config.step_events == 0 {
            return start - (warmup - k) * self.config.step_ns;
        }
        let s = self.stream();
        let at_start = s.recv_ts_ns.partition_point(|&t| t <= start);
        let back = (warmup - k) as usize * self.config.step_events;
        match at_start.checked_sub(back + 1) {
            Some(i) => s.recv_ts_ns[i],
            None => s.start_ns().unwrap_or(0) - 1,
        }
    }

    /// Applies events up to `ts_ns`, tracking trade flow and forgetting consumed liquidity at
    /// levels the exchange updates.
    fn advance(&mut self, ts_ns: i64) {
        let (buy, sell, consumed) = (&mut self.buy_lots, &mut self.sell_lots, &mut self.consumed);
        let index = &self.market.index;
        self.replay.advance_to_indexed(
            ts_ns,
            index,
            |kind, side, price_ticks, qty_lots| match kind {
                KIND_TRADE => {
                    // branch-free: the aggressor side is a coin flip
                    *buy += qty_lots * i64::from(side > 0);
                    *sell += qty_lots * i64::from(side < 0);
                }
                KIND_UPDATE | KIND_SNAPSHOT => consumed.on_level_update(side, price_ticks),
                KIND_CLEAR => consumed.on_clear(side),
                _ => {}
            },
        );
    }

    fn mid(&mut self) -> f64 {
        if let Some(mid) = self.replay.book().mid_ticks() {
            self.last_mid_ticks = mid;
        }
        self.last_mid_ticks
    }

    fn next_decision_ns(&self) -> i64 {
        if self.config.step_events == 0 {
            return self.now_ns + self.config.step_ns;
        }
        let s = self.stream();
        let target = self.replay.position() + self.config.step_events - 1;
        s.recv_ts_ns.get(target).copied().unwrap_or(i64::MAX)
    }

    /// Price gaps injected by the adversary in this episode, ticks.
    fn offset_ticks(&self) -> i64 {
        self.adversary
            .as_ref()
            .map_or(0, |a| a.offset_at(self.last_mid_ticks))
    }

    /// The mid that values the position: the book's mid plus any adversarial gap.
    fn mark(&mut self) -> f64 {
        self.mid() + self.offset_ticks() as f64
    }

    fn observe(&mut self, out: &mut [f32]) {
        let mid = self.mid();
        let mark = self.mark();
        let max = self.config.max_position_lots as f64;
        let (withdrawn_levels, withdrawn_fraction) =
            self.adversary.as_ref().map_or((0, 0.0), |a| a.withdrawal());
        let ctx = DecisionContext {
            position_fraction: self.account.position_lots as f64 / max,
            unrealized_pnl_fraction: self.account.unrealized_pnl(mark) / self.account.initial_cash,
            time_fraction: self.steps as f64 / self.config.episode_steps as f64,
            buy_lots: self.buy_lots,
            sell_lots: self.sell_lots,
            price_offset_ticks: self.offset_ticks(),
            withdrawn_levels,
            withdrawn_fraction,
        };
        self.buy_lots = 0;
        self.sell_lots = 0;
        self.features.observe(self.replay.book(), mid, &ctx, out);
        #[cfg(feature = "planted-lookahead")]
        if self.planted_lookahead {
            let next = self.replay.position();
            crate::features::planted_peek_next_event(&self.market.stream, next, out);
        }
    }

    /// Starts an episode and writes the first observation into `obs` (len `obs_dim()`).
    /// `seed` re-seeds the environment's generator; `start_ns` fixes the start instead of
    /// drawing it.
    pub fn reset(
        &mut self,
        seed: Option<u64>,
        start_ns: Option<i64>,
        obs: &mut [f32],
    ) -> Result<()> {
        if obs.len() != self.obs_dim() {
            return Err(LobzeroError::config(format!(
                "observation buffer has {} values, the environment writes {}",
                obs.len(),
                self.obs_dim()
            )));
        }
        if let Some(seed) = seed {
            self.rng = Rng::new(seed);
        }
        let step = self.nominal_step_ns();
        let warmup = self.config.features.warmup() as i64;
        let (first, last) = (self.stream().start_ns().unwrap_or(0), self.stop_ns());
        let start = match start_ns {
            Some(t) => {
                if t < first || t > last {
                    return Err(LobzeroError::config(format!(
                        "start_ns {t} is outside the market ({first} .. {last}, the last usable receive time)"
                    )));
                }
                t
            }
            None => {
                let (lo, hi) = self.config.start_range_ns.unwrap_or((first, last));
                let lo = lo.max(first + warmup * step);
                let length = self.config.episode_steps as i64 * self.episode_step_ns();
                let hi = hi.min(last.saturating_sub(length));
                if hi <= lo {
                    return Err(LobzeroError::config(format!(
                        "the start range is too short: episodes of {} decisions of {} ns after a warm-up of {} decisions do not fit",
                        self.config.episode_steps, step, warmup
                    )));
                }
                let slots = ((hi - lo) / step).max(1) as u64;
                lo + self.rng.below(slots) as i64 * step
            }
        };
        self.account.reset();
        if let Some(adversary) = &mut self.adversary {
            adversary.reset(seed);
        }
        self.consumed.clear();
        self.features.reset();
        self.last_mid_ticks = f64::NAN;
        self.steps = 0;
        self.unfilled_lots = 0;
        self.fills_start = 0;
        // warm-up: the decisions before the start fill the feature history
        let warm_start = self.warmup_ns(start, 0, warmup);
        let index = Arc::clone(&self.market.index);
        self.replay.seek(warm_start.max(first - 1), &index);
        let mut scratch = std::mem::take(&mut self.scratch_obs);
        for k in 0..warmup {
            self.buy_lots = 0;
            self.sell_lots = 0;
            self.now_ns = self.warmup_ns(start, k, warmup);
            self.advance(self.now_ns);
            self.observe(&mut scratch);
        }
        self.scratch_obs = scratch;
        self.now_ns = start;
        self.advance(start);
        // an episode starts on a two-sided book: move forward until there is one
        while self.replay.book().mid_ticks().is_none() {
            if self.replay.is_done() || self.now_ns >= last {
                return Err(LobzeroError::config(format!(
                    "no two-sided book after {start} ns: the market cannot be traded from there"
                )));
            }
            self.now_ns = self.next_decision_ns().min(last);
            self.advance(self.now_ns);
        }
        self.observe(obs);
        let mark = self.mark();
        self.prev_equity = self.account.equity(mark);
        self.needs_reset = false;
        Ok(())
    }

    fn target_lots(&self, action: Action) -> Result<i64> {
        let max = self.config.max_position_lots;
        match (self.config.action_mode, action) {
            (ActionMode::Target, Action::Discrete(a)) => {
                const FRACTIONS: [f64; 5] = [-1.0, -0.5, 0.0, 0.5, 1.0];
                let fraction = usize::try_from(a)
                    .ok()
                    .and_then(|i| FRACTIONS.get(i))
                    .ok_or_else(|| {
                        LobzeroError::invalid(
                            "action",
                            format!("{a} is not a target action: need 0 <= action < 5"),
                        )
                    })?;
                Ok((fraction * max as f64).round() as i64)
            }
            (ActionMode::Side, Action::Discrete(a)) => {
                let delta = match a {
                    0 => -self.config.side_unit_lots,
                    1 => 0,
                    2 => self.config.side_unit_lots,
                    _ => {
                        return Err(LobzeroError::invalid(
                            "action",
                            format!("{a} is not a side action: need 0 <= action < 3"),
                        ))
                    }
                };
                Ok((self.account.position_lots + delta).clamp(-max, max))
            }
            (ActionMode::Continuous, Action::Continuous(x)) => {
                if !x.is_finite() {
                    return Err(LobzeroError::invalid(
                        "action",
                        format!("{x} is not a finite number"),
                    ));
                }
                Ok((x.clamp(-1.0, 1.0) * max as f64).round() as i64)
            }
            (mode, action) => Err(LobzeroError::invalid(
                "action",
                format!("{action:?} does not fit action_mode {mode:?}"),
            )),
        }
    }

    /// Makes the next step apply exactly these perturbations (bit k of `mask` fires kind k of
    /// `adversary::PERTURBATION_NAMES`; `gap_sign` +1 / -1 / 0 for a coin flip) instead of the
    /// random draw: the move of a trained adversary. An environment without an active
    /// adversary gets one with the configured magnitudes and zero probabilities.
    pub fn force_perturbations(&mut self, mask: u8, gap_sign: i8) -> Result<()> {
        let forced = Forced::new(mask, gap_sign)?;
        if self.adversary.is_none() {
            self.adversary = Some(Adversary::new(
                self.config.adversary.clone(),
                self.config.seed,
            )?);
        }
        if let Some(adversary) = &mut self.adversary {
            adversary.force(forced);
        }
        Ok(())
    }

    /// One decision. Writes the next observation into `obs`.
    pub fn step(&mut self, action: Action, obs: &mut [f32]) -> Result<StepOutcome> {
        if self.needs_reset {
            return Err(LobzeroError::config(
                "the episode is over (or never started): call reset()",
            ));
        }
        if obs.len() != self.obs_dim() {
            return Err(LobzeroError::config(
                "observation buffer has the wrong length",
            ));
        }
        let target = self.target_lots(action)?;
        let order = target - self.account.position_lots;
        self.fills_start = self.account.fills.len();
        self.unfilled_lots = 0;
        let mut adjust = SweepAdjust::default();
        let mut latency_ns = self.config.latency_ns;
        let decision_mid = self.last_mid_ticks;
        if let Some(adversary) = &mut self.adversary {
            adversary.draw(decision_mid);
            let (levels, fraction) = adversary.withdrawal();
            adjust = SweepAdjust {
                slippage_ticks: adversary.slippage_ticks(),
                offset_ticks: adversary.offset_ticks,
                withdrawn_levels: levels,
                withdrawn_fraction: fraction,
            };
            latency_ns = adversary.latency_ns(latency_ns);
        }
        let stop = self.stop_ns();
        let fill_ns = if order != 0 {
            self.now_ns.saturating_add(latency_ns)
        } else {
            self.now_ns
        };
        if order != 0 && fill_ns > stop {
            // the order would meet the book after the last usable event: it is not simulated
            // (the episode ends below, truncated)
            self.unfilled_lots = order.abs();
        } else if order != 0 {
            self.advance(fill_ns);
            let side: i8 = if order > 0 { 1 } else { -1 };
            let contract = self.account.contract;
            let fee_rate = self.config.taker_fee_bps * 1e-4;
            let account = &mut self.account;
            let result = sweep(
                self.replay.book(),
                &mut self.consumed,
                side,
                order.abs(),
                adjust,
                &mut |price, lots| {
                    let fee = contract.notional(price as f64, lots as f64) * fee_rate;
                    account.apply_fill(Fill {
                        ts_ns: fill_ns,
                        side,
                        price_ticks: price,
                        qty_lots: lots,
                        fee,
                    });
                },
            );
            self.unfilled_lots = result.unfilled_lots;
        }
        let next = self.next_decision_ns().max(fill_ns);
        let out_of_range = next > stop;
        self.now_ns = next.min(stop);
        self.advance(self.now_ns);
        self.steps += 1;
        let mid = self.mark();
        let equity = self.account.equity(mid);
        let pnl = equity - self.prev_equity;
        let reward = match self.config.reward {
            RewardKind::Pnl => pnl * self.config.reward_scale,
            RewardKind::LogReturn => {
                if self.prev_equity > 0.0 {
                    (equity.max(self.prev_equity * 1e-12) / self.prev_equity).ln()
                } else {
                    0.0
                }
            }
            RewardKind::RiskAdjusted => {
                let vol = self.one_step_volatility();
                let exposure = self.account.position_value(mid).abs();
                (pnl - self.config.risk_aversion * exposure * vol) * self.config.reward_scale
            }
        };
        let reward = match &self.adversary {
            Some(adversary) => adversary.reward(reward),
            None => reward,
        };
        self.prev_equity = equity;
        // bankruptcy is absorbing; running out of steps, range or data is not (bootstrap there)
        let terminated = equity <= 0.0;
        let truncated = !terminated && (self.steps >= self.config.episode_steps || out_of_range);
        self.observe(obs);
        if let Some(adversary) = &mut self.adversary {
            adversary.noise(obs, &self.bounds.0, &self.bounds.1);
            adversary.end_step();
        }
        self.needs_reset = terminated || truncated;
        Ok(StepOutcome {
            reward,
            terminated,
            truncated,
        })
    }

    /// Standard deviation of one-decision mid log returns over the volatility window (a
    /// fraction, not bps), from the feature history.
    fn one_step_volatility(&self) -> f64 {
        self.features.volatility_bps() * 1e-4
    }

    pub fn info(&self) -> StepInfo {
        let mark = self.last_mid_ticks + self.offset_ticks() as f64;
        StepInfo {
            ts_ns: self.now_ns,
            step: self.steps,
            equity: self.account.equity(mark),
            cash: self.account.cash,
            position_lots: self.account.position_lots,
            mark_ticks: mark,
            fees: self.account.fees_paid,
            realized_pnl: self.account.realized_pnl,
            unrealized_pnl: self.account.unrealized_pnl(mark),
            unfilled_lots: self.unfilled_lots,
            fills_start: self.fills_start,
            perturbations: self.adversary.as_ref().map_or(0, |a| a.fired),
        }
    }
}
