//! The trading environment on hand-made streams: fills, fees, latency, ledger identities,
//! determinism and the absence of lookahead.

use lobzero_core::env::{Action, ActionMode, EnvConfig, RewardKind, SharedMarket, TradingEnv};
use lobzero_core::event::{Event, EventStream, Instrument, KIND_SNAPSHOT, KIND_TRADE, KIND_UPDATE};
use lobzero_core::features::{Feature, FeatureConfig};
use lobzero_core::Decimal;
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
                        + acc.position_lots as f64 * info.mark_ticks * acc.quote_per_tick_lot))
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

#[test]
fn later_events_change_nothing_before_them() {
    // the same market with its last events replaced: everything up to 700 ms must match
    let base = rising_market();
    let mut edited = (*base.stream).clone();
    for i in 0..edited.len() {
        if edited.recv_ts_ns[i] > 760 * MS && edited.kind[i] == KIND_TRADE {
            edited.qty_lots[i] = 9;
        }
    }
    let edited = SharedMarket::new(Arc::new(edited), base.instrument.clone()).expect("market");
    let trace = |market: SharedMarket| {
        let mut env = TradingEnv::new(market, config()).expect("env");
        let mut obs = vec![0.0; env.obs_dim()];
        env.reset(None, Some(300 * MS), &mut obs).expect("reset");
        let mut out = Vec::new();
        for a in [4, 3, 0, 4] {
            let r = env.step(Action::Discrete(a), &mut obs).expect("step");
            out.push((
                env.now_ns(),
                r.reward.to_bits(),
                obs.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            ));
        }
        out
    };
    let (a, b) = (trace(base), trace(edited));
    // decisions at 400, 500, 600, 700 ms: all before the edit
    assert_eq!(a, b);
}
