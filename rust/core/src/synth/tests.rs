//! Determinism, validity, the signal knob and configuration errors of the generator.

use super::*;
use crate::event::{EventStream, KIND_TRADE};
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
    flow_predictiveness_of(&s)
}

fn flow_predictiveness_of(s: &EventStream) -> f64 {
    let step = 100_000_000;
    let samples = sample_book(s, step, 1);
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
            touch_fade_share: -0.1,
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

/// The exported regime path agrees with the time per regime and the switch count: a path that
/// dropped a switch, or recorded the regime left instead of the one entered, would not.
#[test]
fn regime_path_matches_regime_seconds() {
    let cfg = SynthConfig {
        seconds: 3600.0,
        ..small(5, 0.5)
    };
    let (_, events, report) = synth_market(&cfg).unwrap();
    let n = report.regime_path.len();
    assert_eq!(n as u64, report.regime_switches + 1);
    assert_eq!(report.regime_start_ns.len(), n);
    assert!(report.regime_switches >= 3, "{}", report.regime_switches);
    assert!(report.regime_start_ns.windows(2).all(|w| w[0] <= w[1]));
    assert!(report.regime_path.windows(2).all(|w| w[0] != w[1]));
    let t0 = report.regime_start_ns[0];
    assert_eq!(t0, events.ts_ns[0]);
    let end = t0 + (cfg.seconds * 1e9) as i64;
    let mut seconds = [0.0f64; 3];
    for k in 0..n {
        let until = report.regime_start_ns.get(k + 1).copied().unwrap_or(end);
        seconds[report.regime_path[k] as usize] +=
            (until - report.regime_start_ns[k]) as f64 * 1e-9;
    }
    for r in 0..3 {
        assert!(
            (seconds[r] - report.regime_seconds[r]).abs() < 1e-3,
            "{seconds:?} {:?}",
            report.regime_seconds
        );
    }
}
