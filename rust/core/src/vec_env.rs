//! A batch of environments stepped in one call, writing into caller buffers.
//!
//! Environment `i` is a [`TradingEnv`] seeded with `seed + i`, so a batch of N equals N single
//! environments built with those seeds. Episodes that end are reset in the same call
//! (gymnasium's "same-step" autoreset): the row of `obs` then holds the first observation of
//! the new episode, and the last observation of the old one goes to `final_obs`.

use crate::env::{Action, EnvConfig, SharedMarket, StepInfo, StepOutcome, TradingEnv};
use crate::error::{LobzeroError, Result};
use crate::pool::ForkJoin;
use std::marker::PhantomData;
use std::sync::Mutex;

/// Environments per task of the pool: small enough that a core slowed by a neighbour hands
/// work to the other, large enough that the next environment's prefetch stays in the task.
const CHUNK: usize = 16;
/// Batches smaller than this step on the calling thread alone (a hand-over costs more).
const PARALLEL_MIN_ENVS: usize = 32;

/// Buffers of one batched step; every slice has `num_envs` rows.
pub struct StepBuffers<'a> {
    /// [N, obs_dim] observations after the step (after an autoreset where one happened).
    pub obs: &'a mut [f32],
    pub rewards: &'a mut [f64],
    pub terminated: &'a mut [bool],
    pub truncated: &'a mut [bool],
    /// [N, obs_dim] last observation of episodes that ended in this step (other rows untouched).
    pub final_obs: &'a mut [f32],
}

/// At most `threads`, and no more than there are chunks of environments to share (a batch
/// under [`PARALLEL_MIN_ENVS`] gets the calling thread alone).
fn useful_threads(num_envs: usize, threads: usize) -> usize {
    if num_envs < PARALLEL_MIN_ENVS {
        1
    } else {
        threads.clamp(1, num_envs.div_ceil(CHUNK))
    }
}

#[derive(Debug)]
pub struct VecTradingEnv {
    envs: Vec<TradingEnv>,
    obs_dim: usize,
    /// Info of the finished episode's last step, per environment, when it ended in the last call.
    final_info: Vec<Option<StepInfo>>,
    pool: ForkJoin,
}

impl VecTradingEnv {
    /// `num_envs` environments over one market, environment i seeded `config.seed + i`.
    pub fn new(market: SharedMarket, num_envs: usize, config: EnvConfig) -> Result<Self> {
        if num_envs == 0 {
            return Err(LobzeroError::config("num_envs must be > 0"));
        }
        let parts = (0..num_envs).map(|i| {
            let mut c = config.clone();
            c.seed = config.seed.wrapping_add(i as u64);
            (market.clone(), c)
        });
        Self::from_parts(parts.collect())
    }

    /// One environment per `(market, config)` pair, in order: a batch over several markets (a
    /// universe of instruments), each environment on its own market with its own config (its
    /// seed included; sizes in its own lots). Every environment holds its market by `Arc`, as
    /// in [`VecTradingEnv::new`], so a step costs the same whatever the markets. The batch
    /// shares one observation and action space: configs whose observation length or action
    /// mode differ are a config error.
    pub fn from_parts(parts: Vec<(SharedMarket, EnvConfig)>) -> Result<Self> {
        if parts.is_empty() {
            return Err(LobzeroError::config("num_envs must be > 0"));
        }
        let num_envs = parts.len();
        let envs = parts
            .into_iter()
            .map(|(market, config)| TradingEnv::new(market, config))
            .collect::<Result<Vec<_>>>()?;
        let obs_dim = envs[0].obs_dim();
        let mode = envs[0].config().action_mode;
        if let Some((i, env)) = envs
            .iter()
            .enumerate()
            .find(|(_, e)| e.obs_dim() != obs_dim || e.config().action_mode != mode)
        {
            return Err(LobzeroError::config(format!(
                "environment {i} has observations of {} values in action mode {:?}, \
                 environment 0 {obs_dim} in {mode:?}: a batch shares one observation and \
                 action space",
                env.obs_dim(),
                env.config().action_mode
            )));
        }
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Self {
            pool: ForkJoin::new(useful_threads(num_envs, threads)),
            envs,
            obs_dim,
            final_info: vec![None; num_envs],
        })
    }

    /// Forces the next step's perturbations of every environment (see
    /// `TradingEnv::force_perturbations`); `masks` and `gap_signs` have one entry each.
    pub fn force_perturbations(&mut self, masks: &[u8], gap_signs: &[i8]) -> Result<()> {
        if masks.len() != self.envs.len() || gap_signs.len() != self.envs.len() {
            return Err(LobzeroError::config(format!(
                "force_perturbations needs {} masks and gap signs, got {} and {}",
                self.envs.len(),
                masks.len(),
                gap_signs.len()
            )));
        }
        for ((env, &mask), &sign) in self.envs.iter_mut().zip(masks).zip(gap_signs) {
            env.force_perturbations(mask, sign)?;
        }
        Ok(())
    }

    pub fn num_envs(&self) -> usize {
        self.envs.len()
    }

    pub fn obs_dim(&self) -> usize {
        self.obs_dim
    }

    pub fn envs(&self) -> &[TradingEnv] {
        &self.envs
    }

    /// Info of the last step of the episodes that ended in the last `step` call.
    pub fn final_info(&self) -> &[Option<StepInfo>] {
        &self.final_info
    }

    /// Work is split over at most this many threads (1 = the calling thread only).
    pub fn set_threads(&mut self, threads: usize) {
        let threads = useful_threads(self.envs.len(), threads);
        if threads != self.pool.threads() {
            self.pool = ForkJoin::new(threads);
        }
    }

    /// Threads a step runs on, the caller included.
    pub fn threads(&self) -> usize {
        self.pool.threads()
    }

    fn check(&self, obs: &[f32]) -> Result<()> {
        if obs.len() != self.envs.len() * self.obs_dim {
            return Err(LobzeroError::config(format!(
                "observation buffer has {} values, expected num_envs × obs_dim = {}",
                obs.len(),
                self.envs.len() * self.obs_dim
            )));
        }
        Ok(())
    }

    /// Resets every environment (`seed`: environment i gets `seed + i`).
    pub fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<()> {
        let seeds: Vec<Option<u64>> = (0..self.envs.len())
            .map(|i| seed.map(|s| s.wrapping_add(i as u64)))
            .collect();
        self.reset_each(&seeds, &vec![None; self.envs.len()], obs)
    }

    /// Resets environment i with `seeds[i]` (`None`: its random stream goes on, not reseeded)
    /// from `start_ns[i]` (`None`: a start drawn as usual); one entry per environment each.
    pub fn reset_each(
        &mut self,
        seeds: &[Option<u64>],
        start_ns: &[Option<i64>],
        obs: &mut [f32],
    ) -> Result<()> {
        self.check(obs)?;
        let n = self.envs.len();
        if seeds.len() != n || start_ns.len() != n {
            return Err(LobzeroError::config(format!(
                "reset needs one seed and one start per environment ({n}), got {} seeds and {} starts",
                seeds.len(),
                start_ns.len()
            )));
        }
        for (((env, row), seed), start) in self
            .envs
            .iter_mut()
            .zip(obs.chunks_mut(self.obs_dim))
            .zip(seeds)
            .zip(start_ns)
        {
            env.reset(*seed, *start, row)?;
        }
        self.final_info.iter_mut().for_each(|f| *f = None);
        Ok(())
    }

    /// Steps every environment with its action, resetting those whose episode ends.
    pub fn step(&mut self, actions: &[Action], buffers: StepBuffers<'_>) -> Result<()> {
        let n = self.envs.len();
        let d = self.obs_dim;
        self.check(buffers.obs)?;
        if actions.len() != n
            || buffers.rewards.len() != n
            || buffers.terminated.len() != n
            || buffers.truncated.len() != n
            || buffers.final_obs.len() != n * d
        {
            return Err(LobzeroError::config(format!(
                "a batch of {n} environments needs {n} actions and {n} rows in every buffer"
            )));
        }
        // a batch under PARALLEL_MIN_ENVS has a pool of one (see `useful_threads`)
        if self.pool.threads() == 1 {
            let envs = &mut self.envs;
            return step_chunk(
                envs,
                &mut self.final_info,
                actions,
                buffers.obs,
                buffers.rewards,
                buffers.terminated,
                buffers.truncated,
                buffers.final_obs,
                d,
            );
        }
        let rows = Rows {
            envs: self.envs.as_mut_ptr(),
            infos: self.final_info.as_mut_ptr(),
            actions,
            obs: buffers.obs.as_mut_ptr(),
            rewards: buffers.rewards.as_mut_ptr(),
            terminated: buffers.terminated.as_mut_ptr(),
            truncated: buffers.truncated.as_mut_ptr(),
            final_obs: buffers.final_obs.as_mut_ptr(),
            n,
            d,
            _borrows: PhantomData,
        };
        // the error of the first failing chunk, as a sequential step would report it
        let first_error: Mutex<Option<(usize, LobzeroError)>> = Mutex::new(None);
        self.pool.run(n.div_ceil(CHUNK), &|c| {
            // SAFETY: task c is the only one given chunk c, and chunks do not overlap
            let result = unsafe { rows.step_chunk(c) };
            if let Err(e) = result {
                let mut slot = first_error.lock().unwrap_or_else(|p| p.into_inner());
                if slot.as_ref().is_none_or(|(k, _)| c < *k) {
                    *slot = Some((c, e));
                }
            }
        });
        match first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
            Some((_, e)) => Err(e),
            None => Ok(()),
        }
    }
}

/// The batch's environments and one call's buffers as raw rows, shared by the pool's threads
/// for that call. Each task steps the rows of its own chunk of [`CHUNK`] environments, so no
/// element is reached from two threads; the borrows they come from outlive the call.
struct Rows<'a> {
    envs: *mut TradingEnv,
    infos: *mut Option<StepInfo>,
    actions: &'a [Action],
    obs: *mut f32,
    rewards: *mut f64,
    terminated: *mut bool,
    truncated: *mut bool,
    final_obs: *mut f32,
    n: usize,
    d: usize,
    _borrows: PhantomData<&'a mut [TradingEnv]>,
}

// SAFETY: the pointers come from exclusive borrows held for the whole call, and the threads
// reach them only through `step_chunk`, whose chunks are disjoint; what they point to may move
// between threads (checked below).
unsafe impl Sync for Rows<'_> {}
const _: () = {
    const fn sendable<T: Send>() {}
    sendable::<TradingEnv>();
    sendable::<StepInfo>();
};

impl Rows<'_> {
    /// Steps chunk `c` (environments `c × CHUNK ..`).
    ///
    /// # Safety
    /// No other thread may step chunk `c` at the same time.
    unsafe fn step_chunk(&self, c: usize) -> Result<()> {
        let lo = (c * CHUNK).min(self.n);
        let len = CHUNK.min(self.n - lo);
        let d = self.d;
        // SAFETY: [lo, lo + len) lies inside every buffer (the caller checked their lengths)
        // and belongs to this chunk alone.
        unsafe {
            use std::slice::from_raw_parts_mut as rows;
            step_chunk(
                rows(self.envs.add(lo), len),
                rows(self.infos.add(lo), len),
                &self.actions[lo..lo + len],
                rows(self.obs.add(lo * d), len * d),
                rows(self.rewards.add(lo), len),
                rows(self.terminated.add(lo), len),
                rows(self.truncated.add(lo), len),
                rows(self.final_obs.add(lo * d), len * d),
                d,
            )
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn step_chunk(
    envs: &mut [TradingEnv],
    infos: &mut [Option<StepInfo>],
    actions: &[Action],
    obs: &mut [f32],
    rewards: &mut [f64],
    terminated: &mut [bool],
    truncated: &mut [bool],
    final_obs: &mut [f32],
    d: usize,
) -> Result<()> {
    for i in 0..envs.len() {
        if let Some(next) = envs.get(i + 1) {
            next.prefetch();
        }
        let env = &mut envs[i];
        let row = &mut obs[i * d..(i + 1) * d];
        let StepOutcome {
            reward,
            terminated: term,
            truncated: trunc,
        } = env.step(actions[i], row)?;
        rewards[i] = reward;
        terminated[i] = term;
        truncated[i] = trunc;
        infos[i] = None;
        if term || trunc {
            final_obs[i * d..(i + 1) * d].copy_from_slice(row);
            infos[i] = Some(env.info());
            env.reset(None, None, row)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, EventStream, Instrument, KIND_SNAPSHOT, KIND_UPDATE};
    use crate::Decimal;
    use std::sync::Arc;

    fn market() -> SharedMarket {
        market_at(100, "X")
    }

    /// A market whose prices sit around `mid` ticks (distinct markets give distinct rewards).
    fn market_at(mid: i64, symbol: &str) -> SharedMarket {
        let mut s = EventStream::default();
        let mut push = |t: i64, kind, side, price, qty| {
            s.push(Event {
                ts_ns: t,
                recv_ts_ns: t,
                kind,
                side,
                price_ticks: price,
                qty_lots: qty,
            })
        };
        push(0, KIND_SNAPSHOT, 1, mid, 5);
        push(0, KIND_SNAPSHOT, -1, mid + 2, 5);
        for k in 1..2000i64 {
            let p = mid + (k % 7) - 3;
            push(k * 10_000_000, KIND_UPDATE, 1, p, 3 + k % 4);
            push(k * 10_000_000, KIND_UPDATE, -1, p + 5, 2 + k % 3);
        }
        let inst = Instrument::new(symbol, "t", Decimal::unit(0), Decimal::unit(0)).unwrap();
        SharedMarket::new(Arc::new(s), inst).unwrap()
    }

    #[test]
    fn threads_are_capped_by_the_chunks_to_share() {
        let mut batch = VecTradingEnv::new(market(), 40, EnvConfig::default()).unwrap();
        batch.set_threads(64);
        assert_eq!(batch.threads(), 3); // 40 environments are 3 chunks of 16
        batch.set_threads(2);
        assert_eq!(batch.threads(), 2);
        batch.set_threads(0);
        assert_eq!(batch.threads(), 1);
        let mut small = VecTradingEnv::new(market(), 8, EnvConfig::default()).unwrap();
        small.set_threads(4);
        assert_eq!(small.threads(), 1);
    }

    #[test]
    fn a_batch_equals_single_environments() {
        let cfg = EnvConfig {
            episode_steps: 7,
            seed: 5,
            ..EnvConfig::default()
        };
        let n = 130; // more than one thread's chunk
        let mut batch = VecTradingEnv::new(market(), n, cfg.clone()).unwrap();
        batch.set_threads(2);
        let d = batch.obs_dim();
        let mut obs = vec![0.0; n * d];
        batch.reset(None, &mut obs).unwrap();
        let mut singles: Vec<TradingEnv> = (0..n)
            .map(|i| {
                let mut c = cfg.clone();
                c.seed = 5 + i as u64;
                TradingEnv::new(market(), c).unwrap()
            })
            .collect();
        let mut single_obs = vec![vec![0.0; d]; n];
        for (env, o) in singles.iter_mut().zip(&mut single_obs) {
            env.reset(None, None, o).unwrap();
        }
        for (i, o) in single_obs.iter().enumerate() {
            assert_eq!(&obs[i * d..(i + 1) * d], o.as_slice());
        }
        let (mut rew, mut term, mut trunc, mut fin) = (
            vec![0.0; n],
            vec![false; n],
            vec![false; n],
            vec![0.0; n * d],
        );
        for step in 0..20 {
            let actions: Vec<Action> = (0..n)
                .map(|i| Action::Discrete(((i + step) % 5) as i64))
                .collect();
            batch
                .step(
                    &actions,
                    StepBuffers {
                        obs: &mut obs,
                        rewards: &mut rew,
                        terminated: &mut term,
                        truncated: &mut trunc,
                        final_obs: &mut fin,
                    },
                )
                .unwrap();
            for i in 0..n {
                let out = singles[i].step(actions[i], &mut single_obs[i]).unwrap();
                assert_eq!(out.reward.to_bits(), rew[i].to_bits());
                assert_eq!((out.terminated, out.truncated), (term[i], trunc[i]));
                if out.terminated || out.truncated {
                    assert_eq!(&fin[i * d..(i + 1) * d], single_obs[i].as_slice());
                    singles[i].reset(None, None, &mut single_obs[i]).unwrap();
                }
                assert_eq!(&obs[i * d..(i + 1) * d], single_obs[i].as_slice());
            }
        }
    }

    #[test]
    fn a_batch_over_several_markets_equals_single_environments_on_them() {
        let markets = [
            market_at(100, "A"),
            market_at(5000, "B"),
            market_at(300, "C"),
        ];
        let cfg = EnvConfig {
            episode_steps: 6,
            seed: 9,
            ..EnvConfig::default()
        };
        let n = 7;
        let parts: Vec<(SharedMarket, EnvConfig)> = (0..n)
            .map(|i| {
                let mut c = cfg.clone();
                c.seed = 9 + i as u64;
                (markets[i % 3].clone(), c)
            })
            .collect();
        let mut singles: Vec<TradingEnv> = parts
            .iter()
            .map(|(m, c)| TradingEnv::new(m.clone(), c.clone()).unwrap())
            .collect();
        let mut batch = VecTradingEnv::from_parts(parts).unwrap();
        let d = batch.obs_dim();
        let mut obs = vec![0.0; n * d];
        batch.reset(None, &mut obs).unwrap();
        let mut single_obs = vec![vec![0.0; d]; n];
        for (env, o) in singles.iter_mut().zip(&mut single_obs) {
            env.reset(None, None, o).unwrap();
        }
        let (mut rew, mut term, mut trunc, mut fin) = (
            vec![0.0; n],
            vec![false; n],
            vec![false; n],
            vec![0.0; n * d],
        );
        for step in 0..15 {
            let actions: Vec<Action> = (0..n)
                .map(|i| Action::Discrete(((i + step) % 5) as i64))
                .collect();
            let buffers = StepBuffers {
                obs: &mut obs,
                rewards: &mut rew,
                terminated: &mut term,
                truncated: &mut trunc,
                final_obs: &mut fin,
            };
            batch.step(&actions, buffers).unwrap();
            for i in 0..n {
                let out = singles[i].step(actions[i], &mut single_obs[i]).unwrap();
                assert_eq!(
                    out.reward.to_bits(),
                    rew[i].to_bits(),
                    "env {i} step {step}"
                );
                if out.terminated || out.truncated {
                    singles[i].reset(None, None, &mut single_obs[i]).unwrap();
                }
                assert_eq!(&obs[i * d..(i + 1) * d], single_obs[i].as_slice());
                assert_eq!(batch.envs()[i].info(), singles[i].info());
            }
        }
    }

    #[test]
    fn a_batch_refuses_environments_of_different_spaces() {
        let side = EnvConfig {
            action_mode: crate::env::ActionMode::Side,
            ..EnvConfig::default()
        };
        let parts = vec![(market(), EnvConfig::default()), (market(), side)];
        let err = VecTradingEnv::from_parts(parts).unwrap_err();
        assert!(err.to_string().contains("environment 1"), "{err}");
        assert!(VecTradingEnv::from_parts(vec![]).is_err());
    }
}
