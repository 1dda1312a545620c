//! Times the Rust environment alone (no Python): one `TradingEnv`, and a `VecTradingEnv` of 256
//! on one and on all threads, on the default synthetic market (1,800 s), random target actions.
//! For profiling the step (`perf record`); the README's figures come from
//! `benchmarks/env_speed.py`, which includes the Python boundary.
//!
//!     cargo run --release -p lobzero-core --example env_step_timing [ROUNDS] [single|batch]

use lobzero_core::env::{Action, EnvConfig, SharedMarket, TradingEnv};
use lobzero_core::synth::{synth_market, SynthConfig};
use lobzero_core::vec_env::{StepBuffers, VecTradingEnv};
use std::sync::Arc;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rounds: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(7);
    let only = std::env::args().nth(2);
    let part = |name: &str| only.as_deref().is_none_or(|o| o == name);
    let (instrument, stream, _) = synth_market(&SynthConfig {
        seconds: 1800.0,
        ..SynthConfig::default()
    })?;
    let market = SharedMarket::new(Arc::new(stream), instrument)?;
    let config = EnvConfig {
        max_position_lots: 100,
        episode_steps: 1000,
        ..EnvConfig::default()
    };
    let mut lcg: u64 = 1;
    let mut action = move || {
        lcg = lcg
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        Action::Discrete(((lcg >> 33) % 5) as i64)
    };

    if part("single") {
        let mut env = TradingEnv::new(market.clone(), config.clone())?;
        let mut obs = vec![0.0f32; env.obs_dim()];
        let steps = 200_000;
        let mut single = Vec::new();
        for _ in 0..rounds {
            env.reset(Some(0), None, &mut obs)?;
            let t = Instant::now();
            for _ in 0..steps {
                let out = env.step(action(), &mut obs)?;
                if out.terminated || out.truncated {
                    env.reset(None, None, &mut obs)?;
                }
            }
            single.push(t.elapsed().as_secs_f64() * 1e9 / steps as f64);
        }
        println!(
            "single env: {:.0} ns per step (median of {rounds})",
            median(single)
        );
    }

    if !part("batch") {
        return Ok(());
    }
    let n = 256;
    let calls = 1000;
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    for t in [1, threads] {
        let mut vec = VecTradingEnv::new(market.clone(), n, config.clone())?;
        vec.set_threads(t);
        let d = vec.obs_dim();
        let (mut obs, mut fin) = (vec![0.0f32; n * d], vec![0.0f32; n * d]);
        let (mut rew, mut term, mut trunc) = (vec![0.0; n], vec![false; n], vec![false; n]);
        let actions: Vec<Vec<Action>> = (0..calls)
            .map(|_| (0..n).map(|_| action()).collect())
            .collect();
        let mut per_step = Vec::new();
        for _ in 0..rounds {
            vec.reset(Some(0), &mut obs)?;
            let start = Instant::now();
            for a in &actions {
                vec.step(
                    a,
                    StepBuffers {
                        obs: &mut obs,
                        rewards: &mut rew,
                        terminated: &mut term,
                        truncated: &mut trunc,
                        final_obs: &mut fin,
                    },
                )?;
            }
            per_step.push(start.elapsed().as_secs_f64() * 1e9 / (calls * n) as f64);
        }
        let ns = median(per_step);
        println!(
            "batch of {n}, {t} thread(s): {ns:.0} ns per env step, {:.2} M env steps/s",
            1e3 / ns
        );
    }
    Ok(())
}
