//! The trading environment on hand-made streams: fills, fees, latency, ledger identities,
//! determinism and the absence of lookahead.

use lobzero_core::env::{Action, ActionMode, EnvConfig, RewardKind, SharedMarket, TradingEnv};
use lobzero_core::event::{
    Event, EventStream, Instrument, KIND_CLEAR, KIND_SNAPSHOT, KIND_TRADE, KIND_UPDATE,
};
use lobzero_core::features::{Feature, FeatureConfig};
use lobzero_core::rng::Rng;
use lobzero_core::synth::{synth_market, SynthConfig};
use lobzero_core::Decimal;
use lobzero_core::{OrderBook, Replay};
use std::sync::Arc;

const MS: i64 = 1_000_000;

fn ev(t_ms: i64, kind: u8, side: i8, price: i64, qty: i64) -> Event {
    Event {
        ts_ns: t_ms * MS,
        recv_ts_ns: t_ms * MS,
        kind,
        side,
        price_ticks: price,
        qty_lots: qty,
    }
}

/// A book around 1000 ticks that moves up one tick every 100 ms, 2 s long, 5 lots at the touch.
fn rising_market() -> SharedMarket {
    let mut s = EventStream::default();
    s.push(ev(0, KIND_SNAPSHOT, 1, 999, 5));
    s.push(ev(0, KIND_SNAPSHOT, 1, 998, 5));
    s.push(ev(0, KIND_SNAPSHOT, -1, 1001, 5));
    s.push(ev(0, KIND_SNAPSHOT, -1, 1002, 5));
    for k in 1..=20 {
        let t = k * 100 - 50;
        // the ask side lifts, the bid follows
        s.push(ev(t, KIND_UPDATE, -1, 1000 + k, 0));
        s.push(ev(t, KIND_UPDATE, -1, 1002 + k, 5));
        s.push(ev(t, KIND_UPDATE, 1, 999 + k, 5));
        s.push(ev(t, KIND_UPDATE, 1, 997 + k, 0));
        s.push(ev(t + 10, KIND_TRADE, 1, 1001 + k, 1));
    }
    s.validate("rising").expect("valid stream");
    let instrument = Instrument::new(
        "T",
        "test",
        Decimal::parse("0.5").expect("tick"),
        Decimal::parse("0.1").expect("lot"),
    )
    .expect("instrument");
    SharedMarket::new(Arc::new(s), instrument).expect("market")
}

fn config() -> EnvConfig {
    EnvConfig {
        step_ns: 100 * MS,
        latency_ns: 10 * MS,
        max_position_lots: 8,
        taker_fee_bps: 10.0,
        initial_cash: 1000.0,
        episode_steps: 10,
        features: FeatureConfig {
            features: vec![
                Feature::Spread,
                Feature::Position,
                Feature::Returns,
                Feature::TradeFlow,
            ],
            return_horizons: vec![1],
            volatility_window: 2,
            ..FeatureConfig::default()
        },
        ..EnvConfig::default()
    }
}

#[test]
fn a_buy_walks_the_book_at_decision_plus_latency_and_pays_fees() {
    let market = rising_market();
    let mut env = TradingEnv::new(market, config()).expect("env");
    let mut obs = vec![0.0; env.obs_dim()];
    env.reset(None, Some(300 * MS), &mut obs).expect("reset");
    // at 300 ms the book is bid 1002 / ask 1004 (updated at 250 ms)
    assert_eq!(obs[0], 2.0);
    // target +1 = 8 lots: the order meets the book at 310 ms: 5 at 1004, 3 at 1005
    let out = env.step(Action::Discrete(4), &mut obs).expect("step");
    let fills = &env.account().fills;
    assert_eq!(fills.len(), 2);
    assert_eq!((fills[0].price_ticks, fills[0].qty_lots), (1004, 5));
    assert_eq!((fills[1].price_ticks, fills[1].qty_lots), (1005, 3));
    assert!(fills.iter().all(|f| f.ts_ns == 310 * MS));
    let unit = 0.5 * 0.1;
    let fee = (1004.0 * 5.0 + 1005.0 * 3.0) * unit * 10.0 * 1e-4;
    assert!((env.account().fees_paid - fee).abs() < 1e-12);
    // at 400 ms the mid is (1003 + 1005) / 2 = 1004
    let info = env.info();
    assert_eq!(info.mark_ticks, 1004.0);
    let expected_equity = 1000.0 - (1004.0 * 5.0 + 1005.0 * 3.0) * unit - fee + 8.0 * 1004.0 * unit;
    assert!((info.equity - expected_equity).abs() < 1e-9);
    assert!((out.reward - (expected_equity - 1000.0)).abs() < 1e-9);
    assert_eq!(obs[1], 1.0); // position / max
                             // the liquidity taken at 1005 stays taken until that level updates
    assert_eq!(info.unfilled_lots, 0);
}

#[test]
fn unfillable_size_is_cancelled_and_positions_respect_the_limit() {
    let mut cfg = config();
    cfg.max_position_lots = 40;
    cfg.action_mode = ActionMode::Continuous;
    let mut env = TradingEnv::new(rising_market(), cfg).expect("env");
    let mut obs = vec![0.0; env.obs_dim()];
    env.reset(None, Some(300 * MS), &mut obs).expect("reset");
    env.step(Action::Continuous(5.0), &mut obs).expect("step"); // clipped to +1
    let info = env.info();
    assert_eq!(info.position_lots, 10); // only 10 lots are visible
    assert_eq!(info.unfilled_lots, 30);
    assert!(env.step(Action::Continuous(f64::NAN), &mut obs).is_err());
    assert!(env.step(Action::Discrete(1), &mut obs).is_err());
}

#[test]
fn ledger_identities_hold_every_step_and_episodes_truncate() {
    for mode in [
        RewardKind::Pnl,
        RewardKind::LogReturn,
        RewardKind::RiskAdjusted,
    ] {
        let mut cfg = config();
        cfg.reward = mode;
        cfg.risk_aversion = 0.1;
        let mut env = TradingEnv::new(rising_market(), cfg).expect("env");
        let mut obs = vec![0.0; env.obs_dim()];
        env.reset(Some(3), None, &mut obs).expect("reset");
        let actions = [4, 0, 2, 3, 1, 4, 4, 0, 2, 1];
        for (k, a) in actions.iter().enumerate() {
            let out = env.step(Action::Discrete(*a), &mut obs).expect("step");
            let info = env.info();
            let acc = env.account();
            assert!(
                (info.equity
                    - (acc.cash
                        + acc.position_lots as f64
                            * info.mark_ticks
                            * env.market().tick()
                            * env.market().lot()))
                .abs()
                    < 1e-9
            );
            assert!(
                (info.realized_pnl + info.unrealized_pnl - (info.equity - acc.initial_cash)).abs()
                    < 1e-6
            );
            assert!(acc.position_lots.abs() <= 8);
            assert!(acc.fills.iter().all(|f| f.fee >= 0.0 && f.qty_lots > 0));
            assert!(out.reward.is_finite());
            if out.terminated || out.truncated {
                assert!(out.truncated || k + 1 < actions.len());
                break;
            }
        }
        assert!(env.needs_reset() || env.info().step < 10);
    }
}

#[test]
fn same_seed_same_episode() {
    let run = |seed: u64| {
        let mut env = TradingEnv::new(rising_market(), config()).expect("env");
        let mut obs = vec![0.0; env.obs_dim()];
        env.reset(Some(seed), None, &mut obs).expect("reset");
        let mut trace = vec![env.now_ns() as f64];
        for a in [4, 0, 3] {
            let out = env.step(Action::Discrete(a), &mut obs).expect("step");
            trace.push(out.reward);
            trace.extend(obs.iter().map(|v| f64::from(*v)));
        }
        trace
    };
    assert_eq!(run(11), run(11));
}

// ---- no lookahead: a random edit after a cut inside the played trace changes nothing before it

/// A random synthetic market (about 30 s, a few hundred events a second).
fn synth(seed: u64) -> SharedMarket {
    let (instrument, stream, _) = synth_market(&SynthConfig {
        seconds: 30.0,
        seed,
        ..SynthConfig::default()
    })
    .expect("synth");
    SharedMarket::new(Arc::new(stream), instrument).expect("market")
}

/// One random episode: configuration (either decision clock, latency below or above the
/// step, no / random / forced adversary), fixed start and actions.
#[derive(Debug, Clone)]
struct Case {
    config: EnvConfig,
    start_ns: i64,
    actions: Vec<i64>,
    /// The trained adversary's move for each step (mask, gap sign), when it forces one.
    forced: Vec<Option<(u8, i8)>>,
}

fn pick<T: Copy>(rng: &mut Rng, values: &[T]) -> T {
    values[rng.below(values.len() as u64) as usize]
}

fn draw_case(rng: &mut Rng, market: &SharedMarket) -> Case {
    let mut config = EnvConfig {
        max_position_lots: pick(rng, &[300, 3_000, 30_000]),
        episode_steps: 40,
        reward: pick(
            rng,
            &[
                RewardKind::Pnl,
                RewardKind::LogReturn,
                RewardKind::RiskAdjusted,
            ],
        ),
        risk_aversion: 0.5,
        seed: rng.next_u64(),
        ..EnvConfig::default()
    };
    config.features.frame_stack = pick(rng, &[1, 2]);
    let step_ns = pick(rng, &[20 * MS, 50 * MS, 100 * MS]);
    if rng.bernoulli(0.5) {
        config.step_ns = step_ns;
    } else {
        config.step_events = pick(rng, &[3, 12, 40]);
    }
    // below the step, zero, or several steps long (a trading step then lasts the latency)
    config.latency_ns = pick(rng, &[0, step_ns / 4, 3 * step_ns]);
    let adversary = rng.below(3);
    if adversary == 1 {
        config.adversary.probabilities = [0.3; 6];
        config.adversary.latency_multiplier = 4.0;
    }
    let n = 40;
    let forced = (0..n)
        .map(|_| (adversary == 2).then(|| (rng.below(64) as u8, pick(rng, &[-1, 0, 1]))))
        .collect();
    let first = market.stream.start_ns().expect("events");
    Case {
        config,
        start_ns: first + 3_000 * MS + rng.below(2_000) as i64 * MS,
        actions: (0..n).map(|_| rng.below(5) as i64).collect(),
        forced,
    }
}

/// What one decision showed and did, bit for bit: time, observation, reward, flags, the fills
/// of the step, equity and the perturbations that fired.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    ts_ns: i64,
    obs: Vec<u32>,
    reward: u64,
    ended: (bool, bool),
    fills: Vec<(i64, i8, i64, i64, u64)>,
    equity: u64,
    perturbations: u8,
}

fn play(market: SharedMarket, case: &Case, leak: bool) -> Vec<Seen> {
    let mut env = TradingEnv::new(market, case.config.clone()).expect("env");
    if leak {
        env.plant_lookahead();
    }
    let mut obs = vec![0.0; env.obs_dim()];
    env.reset(None, Some(case.start_ns), &mut obs)
        .expect("reset");
    let seen = |env: &TradingEnv, obs: &[f32], reward: f64, ended: (bool, bool)| {
        let info = env.info();
        Seen {
            ts_ns: info.ts_ns,
            obs: obs.iter().map(|v| v.to_bits()).collect(),
            reward: reward.to_bits(),
            ended,
            fills: env.account().fills[info.fills_start..]
                .iter()
                .map(|f| (f.ts_ns, f.side, f.price_ticks, f.qty_lots, f.fee.to_bits()))
                .collect(),
            equity: info.equity.to_bits(),
            perturbations: info.perturbations,
        }
    };
    let mut trace = vec![seen(&env, &obs, 0.0, (false, false))];
    for (a, forced) in case.actions.iter().zip(&case.forced) {
        if let Some((mask, sign)) = forced {
            env.force_perturbations(*mask, *sign).expect("force");
        }
        let out = env.step(Action::Discrete(*a), &mut obs).expect("step");
        trace.push(seen(
            &env,
            &obs,
            out.reward,
            (out.terminated, out.truncated),
        ));
        if out.terminated || out.truncated {
            break;
        }
    }
    trace
}

/// `stream` with every event received after `cut_ns` rewritten at random: sizes scaled,
/// prices shifted (through a clear and a shifted snapshot of the book at the cut, so the book
/// stays valid), update/snapshot kinds swapped, trades deleted and inserted, receive times
/// stretched. Events received at or before `cut_ns` are kept as they are; the result is a
/// valid stream.
fn edit_after(stream: &EventStream, cut_ns: i64, rng: &mut Rng) -> EventStream {
    let keep = stream.recv_ts_ns.partition_point(|&t| t <= cut_ns);
    let mut out = EventStream::default();
    for i in 0..keep {
        out.push(stream.get(i));
    }
    let first_edit = cut_ns + 1;
    let scale = pick(rng, &[1, 2, 7]);
    let shift = pick(rng, &[0, 0, -40, 3, 25]);
    let swap_kinds = rng.bernoulli(0.5);
    let delete = pick(rng, &[0.0, 0.3, 1.0]);
    let inserts = pick(rng, &[0, 1, 20]);
    let stretch = pick(rng, &[1.0, 0.5, 1.7]);
    let mut tail: Vec<Event> = Vec::new();
    if shift != 0 || (scale == 1 && delete == 0.0 && inserts == 0 && !swap_kinds) {
        // the book at the cut, moved `shift` ticks (and rescaled) from the next instant on
        let mut replay = Replay::new(stream);
        replay.advance_to(cut_ns);
        let book = replay.book();
        tail.push(Event {
            ts_ns: first_edit,
            recv_ts_ns: first_edit,
            kind: KIND_CLEAR,
            side: 0,
            price_ticks: 0,
            qty_lots: 0,
        });
        for side in [1i8, -1] {
            let n = book.depth_levels(side);
            let (mut px, mut qty) = (vec![0; n], vec![0; n]);
            book.top_levels(side, &mut px, &mut qty);
            for (p, q) in px.into_iter().zip(qty) {
                tail.push(Event {
                    ts_ns: first_edit,
                    recv_ts_ns: first_edit,
                    kind: KIND_SNAPSHOT,
                    side,
                    price_ticks: p + shift,
                    qty_lots: q * scale,
                });
            }
        }
    }
    for i in keep..stream.len() {
        let mut e = stream.get(i);
        if e.kind == KIND_TRADE && rng.bernoulli(delete) {
            continue;
        }
        e.price_ticks += if e.kind == KIND_CLEAR { 0 } else { shift };
        e.qty_lots *= scale;
        if swap_kinds && (e.kind == KIND_UPDATE || e.kind == KIND_SNAPSHOT) {
            e.kind = KIND_UPDATE + KIND_SNAPSHOT - e.kind;
        }
        tail.push(e);
    }
    let last = stream.end_ns().unwrap_or(cut_ns).max(first_edit);
    for _ in 0..inserts {
        let t = first_edit + rng.below((last - first_edit) as u64 + 1) as i64;
        let price = stream.price_ticks[keep.saturating_sub(1)].max(1);
        tail.push(Event {
            ts_ns: t,
            recv_ts_ns: t,
            kind: KIND_TRADE,
            side: pick(rng, &[-1, 1]),
            price_ticks: price,
            qty_lots: 1 + rng.below(1_000) as i64,
        });
    }
    tail.sort_by_key(|e| e.recv_ts_ns); // stable: inserted trades go after the events they tie
    for mut e in tail {
        e.recv_ts_ns = first_edit + ((e.recv_ts_ns - first_edit) as f64 * stretch) as i64;
        out.push(e);
    }
    out.validate("edited")
        .expect("the edit keeps the stream valid");
    out
}

/// Outcome counts of the no-lookahead property over `cases` random cases.
#[derive(Debug, Default)]
struct Tally {
    cases: usize,
    /// The cut lies strictly inside the played trace (a decision comes after it).
    cut_inside: usize,
    /// The edited run differs from the original after the cut (the edit reached the episode).
    diverged_after: usize,
    /// Cases where something at or before the cut differed: the property failed.
    leaked: usize,
}

/// The property: for a random case and a cut drawn inside its played trace (at a decision,
/// one nanosecond after it, or anywhere before the next), every decision at or before the cut
/// (time, observation, reward, fills, equity, perturbations) is identical on the edited stream.
fn no_lookahead(cases: usize, seed: u64, leak: bool) -> Tally {
    let markets: Vec<SharedMarket> = (0..3).map(synth).collect();
    let mut rng = Rng::new(seed);
    let mut tally = Tally::default();
    for _ in 0..cases {
        let market = &markets[rng.below(3) as usize];
        let case = draw_case(&mut rng, market);
        let base = play(market.clone(), &case, leak);
        tally.cases += 1;
        if base.len() < 2 {
            continue;
        }
        let k = rng.below(base.len() as u64 - 1) as usize;
        let (t, next) = (base[k].ts_ns, base[k + 1].ts_ns);
        let anywhere = rng.below((next - t) as u64) as i64;
        let cut = t + pick(&mut rng, &[0, 1.min(next - t - 1), anywhere]);
        tally.cut_inside += usize::from(cut < base[base.len() - 1].ts_ns);
        let edited = edit_after(&market.stream, cut, &mut rng);
        let edited =
            SharedMarket::new(Arc::new(edited), market.instrument.clone()).expect("market");
        let other = play(edited, &case, leak);
        let before = base.iter().take_while(|s| s.ts_ns <= cut).count();
        if base[..before] != other[..before.min(other.len())] {
            tally.leaked += 1;
            if !leak {
                let k = (0..before)
                    .find(|&k| other.get(k) != Some(&base[k]))
                    .unwrap_or(0);
                panic!(
                    "a change after {cut} ns changed decision {k} (of {before} before it)\n\
                     case {case:?}\noriginal {:?}\nedited {:?}",
                    base[k],
                    other.get(k)
                );
            }
        }
        tally.diverged_after += usize::from(base != other);
    }
    tally
}

/// Its power: `the_no_lookahead_property_catches_a_feature_that_peeks_one_event_ahead`. On
/// the old core it failed on the event clock (the warm-up was placed with the event rate of the
/// whole stream, so inserting or deleting later events moved it).
#[test]
fn later_events_change_nothing_before_them() {
    let tally = no_lookahead(160, 7, false);
    assert_eq!(tally.leaked, 0);
    // power: the cut is inside the played trace and the edit reaches the episode in most cases
    assert!(tally.cut_inside * 10 >= tally.cases * 9, "{tally:?}");
    assert!(tally.diverged_after * 10 >= tally.cases * 6, "{tally:?}");
}

#[test]
fn the_no_lookahead_property_catches_a_feature_that_peeks_one_event_ahead() {
    // the planted defect (test-only cargo feature): the first feature adds the next event's
    // kind + price + size; the same property must see it in a good share of the cases
    let tally = no_lookahead(60, 7, true);
    assert!(tally.leaked * 4 >= tally.cases, "{tally:?}");
}

/// The hard end: cases whose `end_ns` is drawn inside the played trace, against the same cases
/// on a stream whose events at or after `end_ns` were rewritten. Returns (cases, cases whose
/// episode the end cut short, cases where the two runs differed or used an event at or after
/// the end). `honour_end` false runs the same check on an environment without the end (the
/// walk-forward split's old defect), which must be caught.
fn hard_end_holds(cases: usize, seed: u64, honour_end: bool) -> (usize, usize, usize) {
    let markets: Vec<SharedMarket> = (0..3).map(synth).collect();
    let mut rng = Rng::new(seed);
    let (mut cut_short, mut broken) = (0, 0);
    for _ in 0..cases {
        let market = &markets[rng.below(3) as usize];
        let mut case = draw_case(&mut rng, market);
        let free = play(market.clone(), &case, false);
        let k = rng.below(free.len() as u64) as usize;
        // inside the data: past its last event the data's end, not this one, stops the episode
        let end = (free[k].ts_ns + 1 + rng.below(case.config.step_ns as u64) as i64)
            .min(market.stream.end_ns().expect("events"));
        case.config.end_ns = honour_end.then_some(end);
        let edited = edit_after(&market.stream, end - 1, &mut rng);
        let edited =
            SharedMarket::new(Arc::new(edited), market.instrument.clone()).expect("market");
        let (a, b) = (
            play(market.clone(), &case, false),
            play(edited, &case, false),
        );
        let used_after = a
            .iter()
            .any(|s| s.ts_ns >= end || s.fills.iter().any(|f| f.0 >= end));
        if honour_end && (a != b || used_after) {
            let k = (0..a.len()).find(|&k| b.get(k) != Some(&a[k])).unwrap_or(0);
            panic!(
                "end {end}: decision {k} of {} differs or uses an event at or after the end\n\
                 case {case:?}\noriginal {:?}\nedited {:?}",
                a.len(),
                a.get(k),
                b.get(k)
            );
        }
        broken += usize::from(a != b || used_after);
        let last = &a[a.len() - 1];
        if a.len() <= case.actions.len() && honour_end {
            // cut short by the end: truncated, never terminated (unless bankrupt)
            cut_short += 1;
            assert!(last.ended.1 || last.ended.0, "{last:?}");
        }
    }
    (cases, cut_short, broken)
}

#[test]
fn nothing_at_or_after_the_hard_end_is_used() {
    let (cases, cut_short, broken) = hard_end_holds(120, 11, true);
    assert_eq!(broken, 0);
    assert!(cut_short * 10 >= cases * 8, "{cut_short} of {cases}");
}

#[test]
fn the_hard_end_check_catches_an_environment_without_one() {
    let (cases, _, broken) = hard_end_holds(40, 11, false);
    assert!(broken * 2 >= cases, "{broken} of {cases}");
}

#[test]
fn running_out_of_data_truncates_and_bankruptcy_terminates() {
    let mut env = TradingEnv::new(rising_market(), config()).expect("env");
    let mut obs = vec![0.0; env.obs_dim()];
    // the last event is at 1.96 s, before the next decision at 2.05 s
    env.reset(None, Some(1_950 * MS), &mut obs).expect("reset");
    let out = env.step(Action::Discrete(2), &mut obs).expect("step");
    assert!(out.truncated && !out.terminated, "{out:?}");
    assert_eq!(env.now_ns(), 1_960 * MS);
    // an order that would meet the book after the hard end is not filled; the episode truncates
    let mut cfg = config();
    cfg.end_ns = Some(505 * MS);
    cfg.latency_ns = 250 * MS;
    let mut env = TradingEnv::new(rising_market(), cfg).expect("env");
    env.reset(None, Some(300 * MS), &mut obs).expect("reset");
    let out = env.step(Action::Discrete(4), &mut obs).expect("step");
    assert!(out.truncated && !out.terminated, "{out:?}");
    assert!(env.account().fills.is_empty());
    assert_eq!((env.now_ns(), env.info().unfilled_lots), (505 * MS - 1, 8));
    // bankruptcy: equity at or below 0 is absorbing
    let mut cfg = config();
    cfg.initial_cash = 1e-3;
    cfg.taker_fee_bps = 1e4;
    let mut env = TradingEnv::new(rising_market(), cfg).expect("env");
    env.reset(None, Some(300 * MS), &mut obs).expect("reset");
    let out = env.step(Action::Discrete(4), &mut obs).expect("step");
    assert!(out.terminated && !out.truncated, "{out:?}");
}

/// The rising market as an inverse contract of 100 quote per lot (tick 0.5, lot 1).
fn rising_inverse_market() -> SharedMarket {
    let plain = rising_market();
    let instrument = Instrument::new(
        "TUSD_PERP",
        "test",
        Decimal::parse("0.5").expect("tick"),
        Decimal::parse("1").expect("lot"),
    )
    .and_then(|i| i.with_contract(Decimal::parse("100").expect("size"), true, Decimal::unit(0)))
    .expect("instrument");
    SharedMarket::new(Arc::clone(&plain.stream), instrument).expect("market")
}

#[test]
fn inverse_env_counts_in_coin() {
    // buy 4 contracts of 100 at the ask (1001 ticks = 500.5; 5 lots there), hold while the
    // market rises: the PnL is 4·100·(1/500.5 − 1/mark), in coin, the fee 10 bps of
    // 4·100/500.5 coin
    let market = rising_inverse_market();
    let mut cfg = config();
    cfg.initial_cash = 1.0;
    cfg.max_position_lots = 4;
    let mut env = TradingEnv::new(market, cfg).expect("env");
    let mut obs = vec![0.0; env.obs_dim()];
    env.reset(Some(0), Some(0), &mut obs).expect("reset");
    let mut rewards = 0.0;
    let out = env.step(Action::Discrete(4), &mut obs).expect("step");
    rewards += out.reward;
    let acc = env.account();
    let fill = acc.fills[0];
    let entry = fill.price_ticks as f64 * 0.5;
    assert_eq!((acc.position_lots, acc.fills.len()), (4, 1));
    assert!((fill.fee - 1e-3 * 400.0 / entry).abs() < 1e-15);
    assert!((acc.cash - (1.0 - fill.fee)).abs() < 1e-15);
    for _ in 0..4 {
        rewards += env
            .step(Action::Discrete(4), &mut obs)
            .expect("step")
            .reward;
    }
    let info = env.info();
    let mark = info.mark_ticks * 0.5;
    let want = 400.0 * (1.0 / entry - 1.0 / mark);
    assert!(want > 0.0, "the market rose");
    assert!((info.unrealized_pnl - want).abs() < 1e-15);
    assert!((info.equity - (1.0 - fill.fee + want)).abs() < 1e-15);
    assert!((rewards - (info.equity - 1.0)).abs() < 1e-15);
}

/// A live market: an environment made from the first part of a stream and extended part by
/// part (each part declared complete up to the next decision's needs) steps exactly as one
/// made from the whole stream; appending before the last event, or a horizon that goes back,
/// is refused.
#[test]
fn an_environment_extended_part_by_part_equals_one_on_the_whole_stream() {
    let (instrument, stream, _) = synth_market(&SynthConfig {
        seconds: 120.0,
        seed: 5,
        ..SynthConfig::default()
    })
    .expect("synth");
    let cfg = EnvConfig {
        episode_steps: 1_000_000,
        ..config()
    };
    let whole = SharedMarket::new(Arc::new(stream.clone()), instrument.clone()).expect("whole");
    let start = stream.recv_ts_ns[0] + 2_000 * MS;
    let first_end = stream
        .recv_ts_ns
        .partition_point(|&t| t <= start + 500 * MS);
    let first = SharedMarket::new(Arc::new(stream.slice(0, first_end)), instrument).expect("part");
    let (mut a, mut b) = (
        TradingEnv::new(whole, cfg.clone()).expect("env"),
        TradingEnv::new(first, cfg).expect("env"),
    );
    let (mut obs_a, mut obs_b) = (vec![0.0; a.obs_dim()], vec![0.0; b.obs_dim()]);
    a.reset(Some(1), Some(start), &mut obs_a).expect("reset");
    b.extend_stream(&EventStream::default(), start + 500 * MS)
        .expect("horizon");
    b.reset(Some(1), Some(start), &mut obs_b).expect("reset");
    assert_eq!(obs_a, obs_b);
    let mut rng = Rng::new(3);
    let mut cursor = first_end;
    let mut horizon = start + 500 * MS;
    for _ in 0..600 {
        // what a live feed has delivered by the time this decision executes
        let known = (b.now_ns() + 100 * MS + 1).max(horizon);
        horizon = known;
        let end = stream.recv_ts_ns.partition_point(|&t| t <= known);
        b.extend_stream(&stream.slice(cursor, end.max(cursor)), known)
            .expect("extend");
        cursor = end.max(cursor);
        let action = Action::Discrete(rng.below(5) as i64);
        let out_a = a.step(action, &mut obs_a).expect("step");
        let out_b = b.step(action, &mut obs_b).expect("step");
        assert_eq!(
            (out_a.reward, out_a.truncated),
            (out_b.reward, out_b.truncated)
        );
        assert_eq!(obs_a, obs_b);
        assert_eq!(a.info().equity, b.info().equity);
        assert_eq!(a.account().fills, b.account().fills);
    }
    assert!(a.account().fills.len() > 50);
    let old = stream.slice(0, 1);
    assert!(
        b.extend_stream(&old, i64::MAX).is_err(),
        "events before the stream's end"
    );
    assert!(
        b.extend_stream(&EventStream::default(), 0).is_err(),
        "a horizon going back"
    );
}
