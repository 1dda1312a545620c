//! Liquidity our own orders took stays taken: a property over random streams and actions. A
//! model of the rule, kept apart from the engine's (`exec::Consumed`), tracks what was taken at
//! each level until the exchange next sets that level or clears its side; every order must
//! fill exactly the greedy walk over visible size minus what the model says is taken, so no
//! fill ever uses liquidity an earlier fill consumed at the same level.

use lobzero_core::book::{Book, OrderBook};
use lobzero_core::env::{Action, EnvConfig, SharedMarket, TradingEnv};
use lobzero_core::event::{
    Event, EventStream, Instrument, KIND_CLEAR, KIND_SNAPSHOT, KIND_TRADE, KIND_UPDATE, SIDE_ASK,
    SIDE_BID,
};
use lobzero_core::exec::{sweep, Consumed, SweepAdjust};
use lobzero_core::replay::Replay;
use lobzero_core::rng::Rng;
use lobzero_core::Decimal;
use std::collections::HashMap;
use std::sync::Arc;

const MS: i64 = 1_000_000;

/// A random stream around 300 ticks: sparse level updates (so what we take often stays taken
/// for several decisions), some levels emptied, side clears, whole-book moves, trades.
fn random_stream(seed: u64) -> Arc<EventStream> {
    let mut rng = Rng::new(seed);
    let mut s = EventStream::default();
    let mut push = |t: i64, kind: u8, side: i8, price: i64, qty: i64| {
        s.push(Event {
            ts_ns: t,
            recv_ts_ns: t,
            kind,
            side,
            price_ticks: price,
            qty_lots: qty,
        })
    };
    let depth = 2 + rng.below(5) as i64;
    let mut mid = 300;
    let snapshot = |push: &mut dyn FnMut(i64, u8, i8, i64, i64), rng: &mut Rng, t, mid| {
        for k in 1..=depth {
            push(t, KIND_SNAPSHOT, SIDE_BID, mid - k, 1 + rng.below(6) as i64);
            push(t, KIND_SNAPSHOT, SIDE_ASK, mid + k, 1 + rng.below(6) as i64);
        }
    };
    snapshot(&mut push, &mut rng, 0, mid);
    let mut t = 0;
    while t < 10_000 * MS {
        t += (1 + rng.below(25) as i64) * MS;
        match rng.below(100) {
            0..=3 => {
                // the book moves: both sides cleared and set again one tick away
                push(t, KIND_CLEAR, 0, 0, 0);
                mid += if rng.bernoulli(0.5) { 1 } else { -1 };
                snapshot(&mut push, &mut rng, t, mid);
            }
            4..=6 => {
                let side = if rng.bernoulli(0.5) {
                    SIDE_BID
                } else {
                    SIDE_ASK
                };
                push(t, KIND_CLEAR, side, 0, 0);
                for k in 1..=depth {
                    let price = mid - i64::from(side) * k;
                    push(t, KIND_SNAPSHOT, side, price, 1 + rng.below(6) as i64);
                }
            }
            7..=30 => push(t, KIND_TRADE, 1, mid + 1, 1),
            _ => {
                let side = if rng.bernoulli(0.5) {
                    SIDE_BID
                } else {
                    SIDE_ASK
                };
                let k = 1 + rng.below(depth as u64) as i64;
                // a third of the updates empty the level
                let qty = rng.below(9) as i64 - 3;
                push(t, KIND_UPDATE, side, mid - i64::from(side) * k, qty.max(0));
            }
        }
    }
    s.validate("random").expect("valid stream");
    Arc::new(s)
}

/// The rule, written apart from the engine: lots taken per (book side, price) since the level
/// was last set or its side cleared, over a replay of the same stream.
struct ConsumptionModel {
    replay: Replay<Arc<EventStream>>,
    taken: HashMap<(i8, i64), i64>,
}

impl ConsumptionModel {
    fn new(stream: &Arc<EventStream>) -> Self {
        Self {
            replay: Replay::new(Arc::clone(stream)),
            taken: HashMap::new(),
        }
    }

    fn restart(&mut self) {
        self.replay.reset();
        self.taken.clear();
    }

    fn advance(&mut self, ts_ns: i64) {
        let taken = &mut self.taken;
        self.replay
            .advance_to_visiting(ts_ns, |kind, side, price, _| match kind {
                KIND_UPDATE | KIND_SNAPSHOT => {
                    taken.remove(&(side, price));
                }
                KIND_CLEAR => taken.retain(|&(s, _), _| side != 0 && s != side),
                _ => {}
            });
    }

    /// Checks the fills `(price_ticks, lots)` of a market order of `qty` lots (`side` +1 buys)
    /// that met the book at `fill_ns`, then books them as taken.
    fn check(
        &mut self,
        fill_ns: i64,
        side: i8,
        qty: i64,
        fills: &[(i64, i64)],
    ) -> Result<(), String> {
        self.advance(fill_ns);
        let book_side = if side > 0 { SIDE_ASK } else { SIDE_BID };
        let book: &Book = self.replay.book();
        for &(price, lots) in fills {
            let left =
                book.qty_at(book_side, price) - self.taken.get(&(book_side, price)).unwrap_or(&0);
            if lots > left {
                return Err(format!(
                    "at {fill_ns} ns a fill of {lots} lots at {price} where {left} were left"
                ));
            }
        }
        let mut expected = Vec::new();
        let mut remaining = qty;
        book.walk(book_side, &mut |price, shown| {
            let left = shown - self.taken.get(&(book_side, price)).unwrap_or(&0);
            if left > 0 && remaining > 0 {
                expected.push((price, left.min(remaining)));
                remaining -= left.min(remaining);
            }
            remaining > 0
        });
        if expected != fills {
            return Err(format!(
                "at {fill_ns} ns fills {fills:?}, the rule gives {expected:?}"
            ));
        }
        for &(price, lots) in fills {
            *self.taken.entry((book_side, price)).or_insert(0) += lots;
        }
        Ok(())
    }
}

fn market(stream: &Arc<EventStream>) -> SharedMarket {
    let instrument = Instrument::new(
        "R",
        "test",
        Decimal::parse("0.1").expect("tick"),
        Decimal::parse("1").expect("lot"),
    )
    .expect("instrument");
    SharedMarket::new(Arc::clone(stream), instrument).expect("market")
}

#[test]
fn no_fill_uses_liquidity_an_earlier_fill_took() {
    let mut orders_into_taken_levels = 0;
    for seed in 0..24u64 {
        let mut rng = Rng::new(seed);
        let stream = random_stream(seed);
        let config = EnvConfig {
            step_ns: (2 + rng.below(30) as i64) * MS,
            latency_ns: rng.below(20) as i64 * MS,
            max_position_lots: 1 + rng.below(12) as i64,
            episode_steps: 120,
            seed,
            ..EnvConfig::default()
        };
        let (latency, max) = (config.latency_ns, config.max_position_lots);
        let mut env = TradingEnv::new(market(&stream), config).expect("env");
        let mut model = ConsumptionModel::new(&stream);
        let mut obs = vec![0.0f32; env.obs_dim()];
        for episode in 0..3 {
            env.reset(Some(seed * 7 + episode), None, &mut obs)
                .expect("reset");
            model.restart();
            loop {
                let a = rng.below(5) as i64;
                let target = ([-1.0, -0.5, 0.0, 0.5, 1.0][a as usize] * max as f64).round() as i64;
                let order = target - env.account().position_lots;
                let fill_ns = env.now_ns() + latency;
                let out = env.step(Action::Discrete(a), &mut obs).expect("step");
                let info = env.info();
                let fills: Vec<(i64, i64)> = env.account().fills[info.fills_start..]
                    .iter()
                    .map(|f| (f.price_ticks, f.qty_lots))
                    .collect();
                if order != 0 {
                    let side = order.signum() as i8;
                    let book_side = -side;
                    orders_into_taken_levels += usize::from(
                        fills
                            .iter()
                            .any(|&(p, _)| model.taken.contains_key(&(book_side, p))),
                    );
                    if let Err(e) = model.check(fill_ns, side, order.abs(), &fills) {
                        panic!("seed {seed} episode {episode}: {e}");
                    }
                    assert_eq!(
                        info.unfilled_lots,
                        order.abs() - fills.iter().map(|f| f.1).sum::<i64>()
                    );
                }
                if out.terminated || out.truncated {
                    break;
                }
            }
        }
    }
    // the property is only worth something if orders met levels we had taken from
    assert!(orders_into_taken_levels > 50, "{orders_into_taken_levels}");
}

#[test]
fn the_model_catches_a_sweep_that_forgets_what_it_took() {
    // planted defect: every order sweeps with a fresh `Consumed`, so a second order at an
    // unchanged level takes the same lots again
    let stream = random_stream(3);
    let mut rng = Rng::new(3);
    let (mut faithful, mut forgetful) = (Ok(()), Ok(()));
    for forget in [false, true] {
        let mut model = ConsumptionModel::new(&stream);
        let mut replay = Replay::new(Arc::clone(&stream));
        let mut consumed = Consumed::default();
        let mut t = 0;
        let mut verdict = Ok(());
        while verdict.is_ok() && t < 3_000 * MS {
            t += 5 * MS;
            replay.advance_to_visiting(t, |kind, side, price, _| match kind {
                KIND_UPDATE | KIND_SNAPSHOT => consumed.on_level_update(side, price),
                KIND_CLEAR => consumed.on_clear(side),
                _ => {}
            });
            if forget {
                consumed = Consumed::default();
            }
            let side = if rng.bernoulli(0.5) { 1 } else { -1 };
            let qty = 1 + rng.below(4) as i64;
            let mut fills = Vec::new();
            sweep(
                replay.book(),
                &mut consumed,
                side,
                qty,
                SweepAdjust::default(),
                &mut |p, q| fills.push((p, q)),
            );
            verdict = model.check(t, side, qty, &fills);
        }
        if forget {
            forgetful = verdict;
        } else {
            faithful = verdict;
        }
    }
    assert_eq!(faithful, Ok(()));
    assert!(forgetful.is_err(), "the forgetful sweep went unnoticed");
}
