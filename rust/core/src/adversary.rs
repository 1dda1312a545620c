//! Adversarial market injection: faults real markets throw at a trader, drawn each decision from
//! the environment's own seeded generator (a stream separate from the one that draws episode
//! starts, so switching the adversary on changes nothing else).
//!
//! | perturbation | when it fires (one decision)                                              |
//! |--------------|---------------------------------------------------------------------------|
//! | `slippage`   | this step's fills land `slippage_ticks` further against the trader         |
//! | `price_gap`  | the whole book shifts `gap_ticks` up or down (coin flip), for the episode; never below a mid of one tick |
//! | `liquidity`  | the top `liquidity_levels` levels lose `liquidity_fraction` of their size, for `liquidity_steps` decisions (fills and features see the thinner book) |
//! | `latency_spike` | this step's order latency is multiplied by `latency_multiplier`        |
//! | `obs_noise`  | Gaussian noise of std `noise_std` on every feature (clipped to its bounds) |
//! | `reward`     | the reward is made pessimistic: × `reward_scale` when positive, × (2 − `reward_scale`) when negative |
//!
//! Each kind fires with probability `probabilities[k]`; with every probability 0 nothing is drawn
//! and the environment is bit-identical to one without an adversary.

use crate::error::{LobzeroError, Result};
use crate::rng::Rng;

pub const SLIPPAGE: usize = 0;
pub const PRICE_GAP: usize = 1;
pub const LIQUIDITY: usize = 2;
pub const LATENCY_SPIKE: usize = 3;
pub const OBS_NOISE: usize = 4;
pub const REWARD: usize = 5;
pub const KINDS: usize = 6;
/// Names of the perturbations, indexed by kind.
pub const PERTURBATION_NAMES: [&str; KINDS] = [
    "slippage",
    "price_gap",
    "liquidity",
    "latency_spike",
    "obs_noise",
    "reward",
];

/// Probabilities and magnitudes of the perturbations.
#[derive(Debug, Clone, PartialEq)]
pub struct AdversaryConfig {
    /// Per-decision probability of each kind, in `PERTURBATION_NAMES` order.
    pub probabilities: [f64; KINDS],
    pub slippage_ticks: i64,
    pub gap_ticks: i64,
    pub liquidity_fraction: f64,
    pub liquidity_levels: usize,
    pub liquidity_steps: usize,
    pub latency_multiplier: f64,
    pub noise_std: f64,
    pub reward_scale: f64,
}

impl Default for AdversaryConfig {
    fn default() -> Self {
        Self {
            probabilities: [0.0; KINDS],
            slippage_ticks: 2,
            gap_ticks: 10,
            liquidity_fraction: 0.5,
            liquidity_levels: 3,
            liquidity_steps: 10,
            latency_multiplier: 10.0,
            noise_std: 0.1,
            reward_scale: 0.5,
        }
    }
}

impl AdversaryConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(LobzeroError::config(m));
        for (k, p) in self.probabilities.iter().enumerate() {
            if !(0.0..=1.0).contains(p) {
                return bad(format!(
                    "adversary {} probability must be in [0, 1], got {p}",
                    PERTURBATION_NAMES[k]
                ));
            }
        }
        if self.slippage_ticks < 0 || self.gap_ticks < 0 {
            return bad("adversary slippage_ticks and gap_ticks must be >= 0".into());
        }
        if !(0.0..=1.0).contains(&self.liquidity_fraction) || self.liquidity_levels == 0 {
            return bad(
                "adversary liquidity_fraction must be in [0, 1] and liquidity_levels > 0".into(),
            );
        }
        if !(self.latency_multiplier.is_finite() && self.latency_multiplier >= 1.0) {
            return bad("adversary latency_multiplier must be >= 1".into());
        }
        if !(self.noise_std.is_finite() && self.noise_std >= 0.0) {
            return bad("adversary noise_std must be >= 0".into());
        }
        if !(0.0..=1.0).contains(&self.reward_scale) {
            return bad("adversary reward_scale must be in [0, 1]".into());
        }
        Ok(())
    }

    pub fn is_active(&self) -> bool {
        self.probabilities.iter().any(|&p| p > 0.0)
    }
}

/// Perturbations chosen from outside for one step (a trained adversary's move): bit k of `mask`
/// fires kind k; `gap_sign` is the direction of a price gap (+1 up, -1 down, 0 a coin flip).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forced {
    pub mask: u8,
    pub gap_sign: i8,
}

impl Forced {
    pub fn new(mask: u8, gap_sign: i8) -> Result<Self> {
        if u32::from(mask) >= 1 << KINDS {
            return Err(LobzeroError::config(format!(
                "perturbation mask {mask:#b} has bits beyond the {KINDS} kinds"
            )));
        }
        if !(-1..=1).contains(&gap_sign) {
            return Err(LobzeroError::config(format!(
                "gap_sign must be -1, 0 or +1, got {gap_sign}"
            )));
        }
        Ok(Self { mask, gap_sign })
    }
}

/// The adversary's state inside one environment.
#[derive(Debug, Clone)]
pub struct Adversary {
    pub config: AdversaryConfig,
    rng: Rng,
    /// Accumulated price gaps of the episode, ticks (added to every price the trader meets).
    pub offset_ticks: i64,
    liquidity_left: usize,
    /// Bit k set when perturbation k fired in the current step.
    pub fired: u8,
    /// The next step's perturbations when chosen from outside (replaces that step's draw).
    forced: Option<Forced>,
}

impl Adversary {
    pub fn new(config: AdversaryConfig, seed: u64) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            config,
            // a stream of its own: episode starts are drawn from the environment's generator
            rng: Rng::derive(seed, 0xAD7E_5A21),
            offset_ticks: 0,
            liquidity_left: 0,
            fired: 0,
            forced: None,
        })
    }

    pub fn reset(&mut self, seed: Option<u64>) {
        if let Some(seed) = seed {
            self.rng = Rng::derive(seed, 0xAD7E_5A21);
        }
        self.offset_ticks = 0;
        self.liquidity_left = 0;
        self.fired = 0;
        self.forced = None;
    }

    /// Makes the next step apply exactly `forced` instead of drawing.
    pub fn force(&mut self, forced: Forced) {
        self.forced = Some(forced);
    }

    /// Draws this step's perturbations (no draw at all for a kind with probability 0), or takes
    /// the forced ones. `mid_ticks` is the book's mid at the decision: a gap down stops where
    /// the shifted mid would fall below one tick, so gaps cannot pile up below a price of zero.
    pub fn draw(&mut self, mid_ticks: f64) {
        self.fired = 0;
        let forced = self.forced.take();
        match forced {
            Some(f) => self.fired = f.mask,
            None => {
                for k in 0..KINDS {
                    let p = self.config.probabilities[k];
                    if p > 0.0 && self.rng.bernoulli(p) {
                        self.fired |= 1 << k;
                    }
                }
            }
        }
        if self.has(PRICE_GAP) {
            let sign = match forced {
                Some(f) if f.gap_sign != 0 => i64::from(f.gap_sign),
                _ if self.rng.bernoulli(0.5) => 1,
                _ => -1,
            };
            self.offset_ticks = self
                .offset_ticks
                .saturating_add(sign.saturating_mul(self.config.gap_ticks));
        }
        self.offset_ticks = self.offset_at(mid_ticks);
        if self.has(LIQUIDITY) {
            self.liquidity_left = self.config.liquidity_steps.max(1);
        }
    }

    /// The episode's gap as it applies to a book whose mid is `mid_ticks`: never so far down
    /// that the shifted mid is below one tick (a book that drifted down since the last gap
    /// stays priced; no floor while the mid is unknown).
    pub fn offset_at(&self, mid_ticks: f64) -> i64 {
        if mid_ticks.is_finite() {
            self.offset_ticks.max(1 - mid_ticks.floor() as i64)
        } else {
            self.offset_ticks
        }
    }

    pub fn has(&self, kind: usize) -> bool {
        self.fired & (1 << kind) != 0
    }

    /// Levels and fraction withdrawn from the top of the book now (0 levels when none).
    pub fn withdrawal(&self) -> (usize, f64) {
        if self.liquidity_left > 0 {
            (self.config.liquidity_levels, self.config.liquidity_fraction)
        } else {
            (0, 0.0)
        }
    }

    /// Called once the step's fills and observation are done.
    pub fn end_step(&mut self) {
        self.liquidity_left = self.liquidity_left.saturating_sub(1);
    }

    pub fn slippage_ticks(&self) -> i64 {
        if self.has(SLIPPAGE) {
            self.config.slippage_ticks
        } else {
            0
        }
    }

    pub fn latency_ns(&self, base_ns: i64) -> i64 {
        if self.has(LATENCY_SPIKE) {
            (base_ns as f64 * self.config.latency_multiplier).round() as i64
        } else {
            base_ns
        }
    }

    pub fn reward(&self, reward: f64) -> f64 {
        if !self.has(REWARD) {
            return reward;
        }
        if reward > 0.0 {
            reward * self.config.reward_scale
        } else {
            reward * (2.0 - self.config.reward_scale)
        }
    }

    /// Adds noise to an observation, keeping every value inside its bounds.
    pub fn noise(&mut self, obs: &mut [f32], low: &[f32], high: &[f32]) {
        if !self.has(OBS_NOISE) || self.config.noise_std == 0.0 {
            return;
        }
        for ((v, lo), hi) in obs.iter_mut().zip(low).zip(high) {
            let noisy = f64::from(*v) + self.config.noise_std * self.rng.normal();
            *v = (noisy as f32).clamp(*lo, *hi);
        }
    }

    /// Names of the perturbations that fired in the step.
    pub fn fired_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        (0..KINDS)
            .filter(|&k| self.has(k))
            .map(|k| PERTURBATION_NAMES[k])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_probabilities_fire_nothing_and_draw_nothing() {
        let mut a = Adversary::new(AdversaryConfig::default(), 1).unwrap();
        let before = a.rng.clone();
        for _ in 0..100 {
            a.draw(1e6);
            assert_eq!(a.fired, 0);
        }
        assert_eq!(a.rng, before);
    }

    #[test]
    fn probabilities_are_frequencies() {
        let config = AdversaryConfig {
            probabilities: [0.2; KINDS],
            ..AdversaryConfig::default()
        };
        let mut a = Adversary::new(config, 7).unwrap();
        let mut counts = [0u32; KINDS];
        for _ in 0..20_000 {
            a.draw(1e6);
            for (k, c) in counts.iter_mut().enumerate() {
                *c += u32::from(a.has(k));
            }
            a.end_step();
        }
        for c in counts {
            assert!((f64::from(c) / 20_000.0 - 0.2).abs() < 0.015, "{c}");
        }
    }

    #[test]
    fn pessimistic_reward_and_bad_configs() {
        let config = AdversaryConfig {
            probabilities: [0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
            ..AdversaryConfig::default()
        };
        let mut a = Adversary::new(config, 0).unwrap();
        a.draw(1e6);
        assert_eq!(a.reward(2.0), 1.0);
        assert_eq!(a.reward(-2.0), -3.0);
        let bad = AdversaryConfig {
            probabilities: [1.5, 0.0, 0.0, 0.0, 0.0, 0.0],
            ..AdversaryConfig::default()
        };
        assert!(Adversary::new(bad, 0).is_err());
    }

    #[test]
    fn forced_perturbations_replace_the_draw_for_one_step() {
        let mut a = Adversary::new(AdversaryConfig::default(), 7).unwrap();
        a.force(Forced::new((1 << PRICE_GAP) | (1 << SLIPPAGE), -1).unwrap());
        a.draw(1e6);
        assert!(a.has(PRICE_GAP) && a.has(SLIPPAGE) && !a.has(LIQUIDITY));
        assert_eq!(a.offset_ticks, -a.config.gap_ticks);
        a.draw(1e6);
        assert_eq!(a.fired, 0, "a forced move lasts one step");
        assert!(Forced::new(1 << KINDS, 0).is_err());
    }

    #[test]
    fn gaps_down_stop_at_a_mid_of_one_tick() {
        let mut a = Adversary::new(AdversaryConfig::default(), 7).unwrap();
        for _ in 0..50 {
            a.force(Forced::new(1 << PRICE_GAP, -1).unwrap());
            a.draw(35.5);
        }
        // 35.5 - 34 = 1.5 ticks: the gaps piled up no further than that
        assert_eq!(a.offset_ticks, -34);
        assert_eq!(
            a.offset_at(20.0),
            -19,
            "a book that drifted down stays at one tick"
        );
        assert_eq!(a.offset_at(f64::NAN), -34);
        a.force(Forced::new(1 << PRICE_GAP, 1).unwrap());
        a.draw(35.5);
        assert_eq!(
            a.offset_ticks, -24,
            "a gap up after the floor lifts the book at once"
        );
        assert!(Forced::new(1, 2).is_err());
    }
}
