//! Batched Monte Carlo tree search for MuZero: `B` trees searched in lock step, stored as a
//! struct of arrays preallocated for the whole simulation budget (no allocation per simulation).
//!
//! # Shapes
//! With `B = num_roots`, `A = num_actions`, `S = num_simulations` and `N = capacity` nodes per
//! tree (`S + 1`, or `2 S + 1` when subtree reuse is on):
//!
//! | array                | shape       | meaning                                                    |
//! |----------------------|-------------|------------------------------------------------------------|
//! | `visit_count`        | `[B, N]`    | visits of each node (the root counts its own expansion)   |
//! | `value_sum`          | `[B, N]`    | sum of the discounted returns backed up through the node   |
//! | `reward`             | `[B, N]`    | reward on the edge into the node (0 for the root)          |
//! | `parent`             | `[B, N]`    | slot of the parent, [`NO_PARENT`] for the root             |
//! | `action_from_parent` | `[B, N]`    | action that led to the node, [`NO_ACTION`] for the root    |
//! | `raw_value`          | `[B, N]`    | the model's value at expansion, Gumbel only (else empty)   |
//! | `prior`              | `[B, N, A]` | prior of child `a` of node `n` (root: after noise and mask)|
//! | `children`           | `[B, N, A]` | slot of child `a` of node `n`, or [`UNEXPANDED`]           |
//! | `edge_visits`        | `[B, N, A]` | `visit_count` of child `a` of node `n` (0: unexpanded)     |
//! | `edge_q`             | `[B, N, A]` | Q of child `a` of node `n` (-inf: unexpanded)              |
//! | `log_prior`          | `[B, N, A]` | `ln(prior)`, Gumbel only (empty for MuZero)                |
//!
//! The Q of a child is `reward + discount * value_sum / visit_count`, stored only on its edge.
//! `edge_visits` and `edge_q` duplicate the child's own statistics next to the parent's priors,
//! so that selection reads one node's edges as three contiguous runs of `A` values instead of
//! following `children` to each child; `backup` writes both copies. An edge with visits is
//! expanded (a new node is backed up in the `backup` that expands it). The edge rows of the
//! slots a tree has not handed out yet are kept clean (unexpanded, 0 visits, Q -inf) by `reset`
//! and `reuse_subtree`, so expanding a node does not write its row.
//!
//! Flat index of node `n` of tree `b` is `b * N + n`; of edge `(n, a)` it is `(b * N + n) * A + a`.
//! Slots are handed out in expansion order: the root is slot [`ROOT`] (0) and the node expanded
//! by simulation `s` of a fresh search is slot `s + 1`, so a caller keeps its latent states in a
//! `[B, N, ...]` array indexed by slot. A parent's slot is always below its children's slots.
//!
//! # Algorithms
//! * [`Algorithm::MuZero`]: PUCT selection as in the MuZero pseudocode (see [`puct`]), Dirichlet
//!   noise at the root, visit-count policy target, temperature sampling.
//! * [`Algorithm::Gumbel`]: Gumbel MuZero (Danihelka et al., 2022): Gumbel-top-k at the root,
//!   sequential halving, completed Q values and the improved policy target (see [`gumbel`]).
//!
//! * Chance nodes (Stochastic MuZero): [`StochasticMctsBatch`] alternates decision nodes with
//!   afterstates whose children are the chance encoder's codes (see [`chance`]).
//!
//! The search is single-player: values are never negated along a path.

pub mod chance;
pub mod gumbel;
pub mod puct;
mod results;
mod reuse;
pub mod tree;

#[cfg(test)]
mod chance_tests;
#[cfg(test)]
mod tests;

pub use chance::StochasticMctsBatch;
pub use tree::{MctsBatch, MinMax};

use crate::error::{LobzeroError, Result};

/// Slot of the root of every tree.
pub const ROOT: usize = 0;
/// `parent` of the root.
pub const NO_PARENT: i32 = -1;
/// `action_from_parent` of the root.
pub const NO_ACTION: i32 = -1;
/// `children` entry of an edge whose child has not been expanded yet.
pub const UNEXPANDED: i32 = -1;

/// Which search to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// PUCT with Dirichlet root noise (MuZero).
    MuZero,
    /// Gumbel MuZero: sequential halving at the root, deterministic selection below.
    Gumbel,
}

impl Algorithm {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "muzero" | "puct" => Ok(Self::MuZero),
            "gumbel" | "gumbel_muzero" => Ok(Self::Gumbel),
            other => Err(LobzeroError::config(format!(
                "mcts algorithm must be \"muzero\" or \"gumbel\", got {other:?}"
            ))),
        }
    }
}

/// How PUCT values a child that has never been visited (its Q is unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnvisitedValue {
    /// Value score 0, the bottom of the normalized range (the MuZero pseudocode).
    Zero,
    /// The parent's mean value `value_sum / visit_count`, normalized like a Q value.
    Parent,
}

impl UnvisitedValue {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "zero" => Ok(Self::Zero),
            "parent" => Ok(Self::Parent),
            other => Err(LobzeroError::config(format!(
                "unvisited_value must be \"zero\" or \"parent\", got {other:?}"
            ))),
        }
    }
}

/// Configuration of a batch of searches. Defaults follow the MuZero pseudocode (PUCT) and
/// mctx's defaults (Gumbel).
#[derive(Debug, Clone, PartialEq)]
pub struct MctsConfig {
    pub num_roots: usize,
    pub num_actions: usize,
    pub num_simulations: usize,
    pub algorithm: Algorithm,
    /// Discount of rewards along a path (per step).
    pub discount: f64,
    pub pb_c_base: f64,
    pub pb_c_init: f64,
    /// Dirichlet concentration of the root noise (MuZero only).
    pub dirichlet_alpha: f64,
    /// Weight of the noise in the root prior (MuZero only).
    pub exploration_fraction: f64,
    /// Known (min, max) of Q values; `None` uses the min-max seen in each tree.
    pub value_bounds: Option<(f64, f64)>,
    pub unvisited_value: UnvisitedValue,
    /// Gumbel: at most this many root actions are considered (k of Gumbel-top-k).
    pub max_considered_actions: usize,
    /// Gumbel: sigma(q) = (c_visit + max visits) * c_scale * q.
    pub gumbel_c_visit: f64,
    pub gumbel_c_scale: f64,
    /// Gumbel: the root's Gumbel draws are multiplied by this with noise (mctx's
    /// `gumbel_scale`): 1 is the paper's exploration, 0 acts as without noise.
    pub gumbel_scale: f64,
    /// Keep room for the chosen subtree to become the next root (`MctsBatch::reuse_subtree`).
    pub reuse_subtree: bool,
    pub seed: u64,
}

impl MctsConfig {
    pub fn new(num_roots: usize, num_actions: usize, num_simulations: usize) -> Self {
        Self {
            num_roots,
            num_actions,
            num_simulations,
            algorithm: Algorithm::MuZero,
            discount: 0.997,
            pb_c_base: 19652.0,
            pb_c_init: 1.25,
            dirichlet_alpha: 0.3,
            exploration_fraction: 0.25,
            value_bounds: None,
            unvisited_value: UnvisitedValue::Zero,
            max_considered_actions: 16,
            gumbel_c_visit: 50.0,
            gumbel_c_scale: 0.1,
            gumbel_scale: 1.0,
            reuse_subtree: false,
            seed: 0,
        }
    }

    /// Nodes per tree: the root plus one per simulation, twice the budget with subtree reuse
    /// (a kept subtree holds at most `num_simulations` nodes).
    pub fn capacity(&self) -> usize {
        if self.reuse_subtree {
            2 * self.num_simulations + 1
        } else {
            self.num_simulations + 1
        }
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(LobzeroError::config(m));
        if self.num_roots == 0 || self.num_actions == 0 || self.num_simulations == 0 {
            return bad(format!(
                "mcts: num_roots, num_actions and num_simulations must be >= 1 (got {}, {}, {})",
                self.num_roots, self.num_actions, self.num_simulations
            ));
        }
        if self.num_actions > i32::MAX as usize || self.capacity() > i32::MAX as usize {
            return bad("mcts: num_actions or num_simulations too large".into());
        }
        let cells = self
            .num_roots
            .checked_mul(self.capacity())
            .and_then(|x| x.checked_mul(self.num_actions));
        if !matches!(cells, Some(c) if c <= 1 << 32) {
            return bad("mcts: num_roots x capacity x num_actions exceeds 2^32 edges".into());
        }
        if !(self.discount.is_finite() && (0.0..=1.0).contains(&self.discount)) {
            return bad(format!(
                "mcts: discount must be in [0, 1], got {}",
                self.discount
            ));
        }
        if !(self.pb_c_base.is_finite() && self.pb_c_base > 0.0) {
            return bad(format!(
                "mcts: pb_c_base must be > 0, got {}",
                self.pb_c_base
            ));
        }
        if !(self.pb_c_init.is_finite() && self.pb_c_init >= 0.0) {
            return bad(format!(
                "mcts: pb_c_init must be >= 0, got {}",
                self.pb_c_init
            ));
        }
        if !(self.dirichlet_alpha.is_finite() && self.dirichlet_alpha > 0.0) {
            return bad(format!(
                "mcts: dirichlet_alpha must be > 0, got {}",
                self.dirichlet_alpha
            ));
        }
        if !(0.0..=1.0).contains(&self.exploration_fraction) {
            return bad(format!(
                "mcts: exploration_fraction must be in [0, 1], got {}",
                self.exploration_fraction
            ));
        }
        if let Some((lo, hi)) = self.value_bounds {
            if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                return bad(format!(
                    "mcts: value_bounds must be finite with min < max, got ({lo}, {hi})"
                ));
            }
        }
        if self.max_considered_actions == 0 {
            return bad("mcts: max_considered_actions must be >= 1".into());
        }
        let non_negative = |x: f64| x.is_finite() && x >= 0.0;
        if !non_negative(self.gumbel_c_visit)
            || !non_negative(self.gumbel_c_scale)
            || !non_negative(self.gumbel_scale)
        {
            return bad(
                "mcts: gumbel_c_visit, gumbel_c_scale and gumbel_scale must be finite and >= 0"
                    .into(),
            );
        }
        if self.reuse_subtree && self.algorithm == Algorithm::Gumbel {
            return bad(
                "mcts: reuse_subtree is only supported with algorithm=\"muzero\" (sequential \
                 halving needs a fresh root)"
                    .into(),
            );
        }
        Ok(())
    }
}
