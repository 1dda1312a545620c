//! The adversary on a cheap instrument: however many gaps and slippage pile up, every fill is
//! priced at one tick or more, every fee is >= 0 and every observed price is > 0. And an
//! adversary that fires everything with zero-size effects is bit-identical to none.

use lobzero_core::adversary::{AdversaryConfig, KINDS, PRICE_GAP, SLIPPAGE};
use lobzero_core::env::{Action, EnvConfig, SharedMarket, StepInfo, TradingEnv};
use lobzero_core::event::{Event, EventStream, Instrument, KIND_SNAPSHOT, KIND_TRADE, KIND_UPDATE};
use lobzero_core::rng::Rng;
use lobzero_core::Decimal;
use std::sync::Arc;

const MS: i64 = 1_000_000;

fn ev(t_ns: i64, kind: u8, side: i8, price: i64, qty: i64) -> Event {
    Event {
        ts_ns: t_ns,
        recv_ts_ns: t_ns,
        kind,
        side,
        price_ticks: price,
        qty_lots: qty,
    }
}

/// A book around `mid` ticks (a few hundred: a cheap instrument) that random-walks a tick now
/// and then, 5 levels a side, 20 s of events every 10 ms.
fn cheap_market(mid: i64, seed: u64) -> SharedMarket {
    let mut rng = Rng::new(seed);
    let mut s = EventStream::default();
    let mut mid = mid;
    for k in 1..=5 {
        s.push(ev(0, KIND_SNAPSHOT, 1, mid - k, 5 + k));
        s.push(ev(0, KIND_SNAPSHOT, -1, mid + k, 5 + k));
    }
    for i in 1..2000 {
        let t = i * 10 * MS;
        if rng.bernoulli(0.1) {
            for k in 1..=5 {
                s.push(ev(t, KIND_UPDATE, 1, mid - k, 0));
                s.push(ev(t, KIND_UPDATE, -1, mid + k, 0));
            }
            mid += if rng.bernoulli(0.5) { 1 } else { -1 };
            for k in 1..=5 {
                s.push(ev(t, KIND_UPDATE, 1, mid - k, 3 + k));
                s.push(ev(t, KIND_UPDATE, -1, mid + k, 3 + k));
            }
        } else {
            let k = 1 + rng.below(5) as i64;
            let side = if rng.bernoulli(0.5) { 1 } else { -1 };
            s.push(ev(
                t,
                KIND_UPDATE,
                side,
                mid - i64::from(side) * k,
                1 + rng.below(20) as i64,
            ));
        }
        if i % 5 == 0 {
            s.push(ev(t, KIND_TRADE, 1, mid + 1, 1));
        }
    }
    s.validate("cheap").expect("valid stream");
    let instrument = Instrument::new(
        "CHEAP",
        "test",
        Decimal::parse("0.01").expect("tick"),
        Decimal::parse("1").expect("lot"),
    )
    .expect("instrument");
    SharedMarket::new(Arc::new(s), instrument).expect("market")
}

fn config(adversary: AdversaryConfig) -> EnvConfig {
    EnvConfig {
        step_ns: 20 * MS,
        latency_ns: 5 * MS,
        max_position_lots: 30,
        taker_fee_bps: 10.0,
        initial_cash: 1_000.0,
        episode_steps: 400,
        adversary,
        seed: 3,
        ..EnvConfig::default()
    }
}

/// Draws one step's forced move: (perturbation mask, gap sign).
type DrawMove = fn(&mut Rng) -> (u8, i8);

/// Runs 3 episodes of random actions, forcing perturbation masks drawn from `force`
/// (None: the configured random draws only), and checks the price floors on every step.
fn run_checking_floors(env: &mut TradingEnv, seed: u64, force: Option<DrawMove>) -> (usize, i64) {
    let mut rng = Rng::new(seed);
    let mut obs = vec![0.0f32; env.obs_dim()];
    let (mut fills, mut lowest_mark) = (0, i64::MAX);
    for episode in 0..3u64 {
        env.reset(Some(seed + episode), None, &mut obs)
            .expect("reset");
        loop {
            if let Some(draw) = force {
                let (mask, sign) = draw(&mut rng);
                env.force_perturbations(mask, sign).expect("force");
            }
            let action = Action::Discrete(rng.below(5) as i64);
            let out = env.step(action, &mut obs).expect("step");
            let info: StepInfo = env.info();
            for f in &env.account().fills[info.fills_start..] {
                assert!(f.price_ticks >= 1, "a fill at {} ticks", f.price_ticks);
                assert!(f.fee >= 0.0, "a fee of {}", f.fee);
                fills += 1;
            }
            assert!(info.mark_ticks > 0.0, "marked at {} ticks", info.mark_ticks);
            assert!(info.equity.is_finite() && info.fees >= 0.0);
            assert!(obs.iter().all(|v| v.is_finite()), "{obs:?}");
            lowest_mark = lowest_mark.min(info.mark_ticks.round() as i64);
            if out.terminated || out.truncated {
                break;
            }
        }
    }
    (fills, lowest_mark)
}

#[test]
fn forced_gaps_down_never_price_below_one_tick() {
    // every step a gap of 40 ticks down on a ~300-tick book, with slippage most steps: without
    // the floor the book is below zero after 8 steps and fills land at negative prices
    let adversary = AdversaryConfig {
        gap_ticks: 40,
        slippage_ticks: 25,
        ..AdversaryConfig::default()
    };
    let mut env = TradingEnv::new(cheap_market(300, 1), config(adversary)).expect("env");
    let (fills, lowest_mark) = run_checking_floors(
        &mut env,
        11,
        Some(|rng| {
            let slip = if rng.bernoulli(0.7) { 1 << SLIPPAGE } else { 0 };
            ((1 << PRICE_GAP) | slip, -1)
        }),
    );
    assert!(fills > 100, "the trader traded ({fills} fills)");
    assert!(
        lowest_mark <= 2,
        "the gaps reached the floor ({lowest_mark})"
    );
}

#[test]
fn random_and_forced_perturbations_of_any_mix_keep_prices_positive() {
    let adversary = AdversaryConfig {
        probabilities: [0.3; KINDS],
        gap_ticks: 60,
        slippage_ticks: 40,
        liquidity_fraction: 0.7,
        ..AdversaryConfig::default()
    };
    let mut env = TradingEnv::new(cheap_market(200, 2), config(adversary)).expect("env");
    let (fills, _) = run_checking_floors(
        &mut env,
        5,
        Some(|rng| {
            let sign = [-1, -1, 0, 1][rng.below(4) as usize];
            (rng.below(1 << KINDS) as u8, sign)
        }),
    );
    assert!(fills > 100, "{fills}");
    let (fills, _) = run_checking_floors(&mut env, 6, None);
    assert!(fills > 100, "{fills}");
}

/// Everything an episode shows the trader, to compare bit for bit.
fn trace(env: &mut TradingEnv, seed: u64, force_all: bool) -> (Vec<u32>, Vec<u64>, u8) {
    let mut rng = Rng::new(seed);
    let mut obs = vec![0.0f32; env.obs_dim()];
    env.reset(Some(seed), None, &mut obs).expect("reset");
    let mut bits: Vec<u32> = obs.iter().map(|v| v.to_bits()).collect();
    let mut money = Vec::new();
    let mut fired = 0u8;
    loop {
        if force_all {
            env.force_perturbations((1 << KINDS) - 1, -1)
                .expect("force");
        }
        let out = env
            .step(Action::Discrete(rng.below(5) as i64), &mut obs)
            .expect("step");
        let info = env.info();
        fired |= info.perturbations;
        bits.extend(obs.iter().map(|v| v.to_bits()));
        money.extend(
            [
                out.reward,
                info.equity,
                info.cash,
                info.fees,
                info.mark_ticks,
            ]
            .map(f64::to_bits),
        );
        for f in &env.account().fills[info.fills_start..] {
            money.extend([
                f.price_ticks as u64,
                f.qty_lots as u64,
                f.ts_ns as u64,
                f.fee.to_bits(),
            ]);
        }
        if out.terminated || out.truncated {
            break;
        }
    }
    (bits, money, fired)
}

/// Every perturbation at its identity (no ticks, nothing withdrawn, latency × 1, no noise, the
/// reward × 1), firing with probability `p`.
fn zero_effect(p: f64) -> AdversaryConfig {
    AdversaryConfig {
        probabilities: [p; KINDS],
        slippage_ticks: 0,
        gap_ticks: 0,
        liquidity_fraction: 0.0,
        latency_multiplier: 1.0,
        noise_std: 0.0,
        reward_scale: 1.0,
        ..AdversaryConfig::default()
    }
}

/// Traces of the plain environment, of one whose adversary draws with `adversary`'s
/// probabilities, and of one forced to fire every kind every step, with the kinds that fired.
type Trace = (Vec<u32>, Vec<u64>, u8);
fn three_traces(market: &SharedMarket, adversary: &AdversaryConfig, seed: u64) -> [Trace; 3] {
    let env = |a: AdversaryConfig| TradingEnv::new(market.clone(), config(a)).expect("env");
    let zero_probabilities = AdversaryConfig {
        probabilities: [0.0; KINDS],
        ..adversary.clone()
    };
    [
        trace(&mut env(AdversaryConfig::default()), seed, false),
        trace(&mut env(adversary.clone()), seed, false),
        trace(&mut env(zero_probabilities), seed, true),
    ]
}

#[test]
fn an_active_adversary_with_zero_effects_is_bit_identical_to_none() {
    // The active path runs: the adversary exists (a probability is > 0, or moves are forced)
    // and every kind fires, yet nothing may change. An off-by-one planted in that path is
    // caught: `a_one_unit_effect_is_caught` below.
    let market = cheap_market(300, 4);
    for (seed, p) in [(0, 1.0), (1, 1.0), (2, 0.5), (3, 0.3)] {
        let [plain, drawn, forced] = three_traces(&market, &zero_effect(p), seed);
        assert_eq!(plain.2, 0);
        assert_eq!(drawn.2, (1 << KINDS) - 1, "every kind fired");
        assert_eq!(forced.2, (1 << KINDS) - 1, "every kind fired");
        assert!(plain.1.len() > 400, "the trader traded");
        assert!(
            drawn.0 == plain.0 && drawn.1 == plain.1,
            "drawn, seed {seed}"
        );
        assert!(
            forced.0 == plain.0 && forced.1 == plain.1,
            "forced, seed {seed}"
        );
    }
}

#[test]
fn a_one_unit_effect_is_caught() {
    // each effect one unit away from its identity: the comparison above must see it, drawn and
    // forced alike
    let market = cheap_market(300, 4);
    let planted = [
        AdversaryConfig {
            gap_ticks: 1,
            ..zero_effect(1.0)
        },
        AdversaryConfig {
            slippage_ticks: 1,
            ..zero_effect(1.0)
        },
        // one lot less at the touch
        AdversaryConfig {
            liquidity_fraction: 1e-9,
            ..zero_effect(1.0)
        },
        // 1 ns more latency
        AdversaryConfig {
            latency_multiplier: 1.0 + 1.0 / (5 * MS) as f64,
            ..zero_effect(1.0)
        },
        AdversaryConfig {
            noise_std: 1e-3,
            ..zero_effect(1.0)
        },
        AdversaryConfig {
            reward_scale: 1.0 - 1e-9,
            ..zero_effect(1.0)
        },
    ];
    for (k, adversary) in planted.iter().enumerate() {
        let [plain, drawn, forced] = three_traces(&market, adversary, 0);
        assert!(drawn.0 != plain.0 || drawn.1 != plain.1, "kind {k} drawn");
        assert!(
            forced.0 != plain.0 || forced.1 != plain.1,
            "kind {k} forced"
        );
    }
}
