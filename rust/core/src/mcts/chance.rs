//! Stochastic MuZero search (Antonoglou, Schrittwieser, Ozair, Hubert & Silver, "Planning in
//! Stochastic Environments with a Learned Model", ICLR 2022): decision nodes (latent states,
//! whose children are actions) alternate with chance nodes (afterstates, whose children are the
//! `C` codes of the chance encoder's codebook).
//!
//! ```text
//! decision node s --action a--> chance node as = phi(s, a) --code c--> decision node s' = g(as, c)
//!                   (no reward)                              (reward r = g(as, c).reward)
//! ```
//!
//! # Storage
//! [`StochasticMctsBatch`] keeps one [`MctsBatch`] for everything the two kinds share (visit
//! counts, value sums, rewards, parents, the slot each node came from, the decision nodes'
//! action edges, min-max statistics, root noise, Gumbel state) and adds, for `C` codes:
//!
//! | array              | shape       | meaning                                                     |
//! |--------------------|-------------|-------------------------------------------------------------|
//! | `is_chance`        | `[B, N]`    | the slot holds a chance node (afterstate)                   |
//! | `outcome_prior`    | `[B, N, C]` | chance prior of code `c` at chance node `n` (softmax)       |
//! | `outcome_children` | `[B, N, C]` | slot of the decision node reached by code `c`, or [`UNEXPANDED`] |
//! | `outcome_visits`   | `[B, N, C]` | visit count of that child (0: unexpanded)                   |
//!
//! For a chance node, `action_from_parent` holds the action that led to it and `reward` is 0;
//! for a decision node below a chance node, `action_from_parent` holds the code and `reward`
//! the reward of the transition. Both kinds take slots in expansion order (simulation `s`
//! expands slot `s + 1`, one node of either kind), so a caller keeps state latents and
//! afterstate latents in `[B, N, ...]` stores indexed by slot.
//!
//! # Search
//! * Decision nodes select by PUCT ([`super::puct`], the same code as the deterministic tree)
//!   or Gumbel ([`super::gumbel`]). The Q of action `a` at decision node `s` is the mean value
//!   of the chance node `phi(s, a)`: no reward and no discount on that edge. The min-max
//!   statistics take in exactly these Q values, the ones PUCT normalizes.
//! * Chance nodes select `argmax_c prior(c) / (N(c) + 1)` (ties: lowest code). The paper's
//!   appendix pseudocode (`select_child`, `np.random.choice(outcomes, p=probs)`) and LightZero's
//!   `ctree_stochastic_muzero/lib/cnode.cpp` (`cselect_child`, `std::discrete_distribution`)
//!   sample the code from the prior; this is the deterministic, quasi-random version of that
//!   draw: it is Jefferson's (D'Hondt's) apportionment of the node's visits by the prior, so a
//!   code's visits never fall a whole visit short of `N * prior(c)`, with no random stream and
//!   no variance between searches (a search is reproducible and a reference can replay it).
//! * Backup walks up through both kinds: `g` starts at the leaf's value; a node adds `g` to its
//!   value sum; into a chance parent `g` becomes `reward + discount * g` (one discount per real
//!   environment step); into a decision parent `g` passes unchanged. (The paper's pseudocode
//!   `backpropagate` forms `value = node.reward + discount * value` at every node, chance nodes
//!   included, which discounts twice per environment step; we discount once per step, so that
//!   `Q(s, a) = E_c[r + discount * V(s')]` as in the model's Bellman equation.) The same
//!   pseudocode feeds `node.value()` of every node to the min-max statistics; we feed the Q
//!   values PUCT reads, as the deterministic tree does. A chance node's mean value is thus the
//!   Monte Carlo average of its children's returns (plus the afterstate value of its own
//!   expansion), which the selection rule keeps close to the prior-weighted expectation.
//! * Visits: every node, of either kind, has one visit more than its children together (its
//!   own expansion), as in the deterministic tree.
//!
//! Subtree reuse is not supported (a kept subtree would need the real chance outcome as well).

use super::tree::{check_finite, check_len, first_non_finite, softmax_row, Phase};
use super::{gumbel, puct, Algorithm, MctsBatch, MctsConfig, ROOT, UNEXPANDED};
use super::{UnvisitedValue, NO_PARENT};
use crate::error::{LobzeroError, Result};

/// A planted defect, for the tests that show the properties can fail.
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Defect {
    None,
    /// Backup also discounts on the chance -> decision-parent edge (twice per step).
    DiscountAtChance,
    /// Chance nodes ignore the prior and visit the least visited code.
    UniformOutcome,
}

/// `B` Stochastic MuZero search trees (see the module docs for shapes and rules).
#[derive(Debug, Clone)]
pub struct StochasticMctsBatch {
    tree: MctsBatch,
    num_outcomes: usize,
    is_chance: Vec<bool>,
    outcome_prior: Vec<f64>,
    outcome_children: Vec<i32>,
    outcome_visits: Vec<u32>,
    /// [B] the pending expansion hangs below a chance node (it is a decision node).
    pending_from_chance: Vec<bool>,
    scratch: Vec<f64>,
    #[cfg(test)]
    pub(crate) defect: Defect,
}

impl StochasticMctsBatch {
    /// `num_outcomes` is the codebook size `C` of the chance encoder.
    pub fn new(cfg: MctsConfig, num_outcomes: usize) -> Result<Self> {
        if cfg.reuse_subtree {
            return Err(LobzeroError::config(
                "mcts: reuse_subtree is not supported with chance nodes",
            ));
        }
        if num_outcomes == 0 || num_outcomes > i32::MAX as usize {
            return Err(LobzeroError::config(format!(
                "mcts: chance_outcomes must be in [1, 2^31), got {num_outcomes}"
            )));
        }
        let tree = MctsBatch::new(cfg)?;
        let (nb, cap, na) = (tree.cfg.num_roots, tree.capacity, tree.cfg.num_actions);
        let cells = (nb * cap).checked_mul(num_outcomes);
        if !matches!(cells, Some(c) if c <= 1 << 32) {
            return Err(LobzeroError::config(
                "mcts: num_roots x capacity x chance_outcomes exceeds 2^32 edges",
            ));
        }
        Ok(Self {
            num_outcomes,
            is_chance: vec![false; nb * cap],
            outcome_prior: vec![0.0; nb * cap * num_outcomes],
            outcome_children: vec![UNEXPANDED; nb * cap * num_outcomes],
            outcome_visits: vec![0; nb * cap * num_outcomes],
            pending_from_chance: vec![false; nb],
            scratch: vec![0.0; 2 * na],
            #[cfg(test)]
            defect: Defect::None,
            tree,
        })
    }

    pub fn config(&self) -> &MctsConfig {
        &self.tree.cfg
    }

    /// Codebook size `C`.
    pub fn num_outcomes(&self) -> usize {
        self.num_outcomes
    }

    /// The shared tree, for the root results (`root_visit_counts`, `policy_target`,
    /// `root_values`, `root_q_values`, ...), which read the root (a decision node) and its
    /// children (chance nodes) the same way as in the deterministic search.
    pub fn tree(&self) -> &MctsBatch {
        &self.tree
    }

    /// [B] action to play ([`MctsBatch::select_action`]).
    pub fn select_action(&mut self, temperature: f64) -> Result<Vec<i64>> {
        self.tree.select_action(temperature)
    }

    /// Expands every root (a decision node) like [`MctsBatch::reset`]: `prior_logits` [B, A],
    /// `values` [B], `legal` [B, A].
    pub fn reset(
        &mut self,
        prior_logits: &[f32],
        values: &[f32],
        noise: bool,
        legal: Option<&[bool]>,
    ) -> Result<()> {
        let (nb, cap, nc) = (
            self.tree.cfg.num_roots,
            self.tree.capacity,
            self.num_outcomes,
        );
        // the rows of the slots the last search used go back to unexpanded decision nodes
        // first, so that slots at and above `num_nodes` are clean whatever happens below
        for b in 0..nb {
            let used = (self.tree.num_nodes[b] as usize).max(1);
            self.is_chance[b * cap..b * cap + used].fill(false);
            let (e0, e1) = (b * cap * nc, (b * cap + used) * nc);
            self.outcome_children[e0..e1].fill(UNEXPANDED);
            self.outcome_visits[e0..e1].fill(0);
        }
        if let Err(e) = self.tree.reset(prior_logits, values, noise, legal) {
            // some trees may be reset and others not: a fresh reset must come next
            self.tree.phase = Phase::Empty;
            return Err(e);
        }
        Ok(())
    }

    /// Chooses, for every tree, the leaf to expand. Writes `parent_slot` [B] (the node it
    /// hangs from), `index` [B] and `from_chance` [B]: `false` means the parent is a decision
    /// node (a state) and `index` an action, so the new node is a chance node to compute as
    /// `afterstate(state[parent_slot], action)`; `true` means the parent is a chance node (an
    /// afterstate) and `index` a code, so the new node is a decision node to compute as
    /// `dynamics(afterstate[parent_slot], code)`.
    pub fn select(
        &mut self,
        parent_slot: &mut [i64],
        index: &mut [i64],
        from_chance: &mut [bool],
    ) -> Result<()> {
        let nb = self.tree.cfg.num_roots;
        check_len("parent_slot", parent_slot.len(), nb, "[B]")?;
        check_len("index", index.len(), nb, "[B]")?;
        check_len("from_chance", from_chance.len(), nb, "[B]")?;
        self.tree.check_can_select()?;
        match self.tree.cfg.num_actions {
            2 => self.descend_all::<2>(parent_slot, index, from_chance),
            3 => self.descend_all::<3>(parent_slot, index, from_chance),
            4 => self.descend_all::<4>(parent_slot, index, from_chance),
            5 => self.descend_all::<5>(parent_slot, index, from_chance),
            6 => self.descend_all::<6>(parent_slot, index, from_chance),
            7 => self.descend_all::<7>(parent_slot, index, from_chance),
            8 => self.descend_all::<8>(parent_slot, index, from_chance),
            _ => self.descend_all::<0>(parent_slot, index, from_chance),
        }
        for b in 0..nb {
            self.tree.pending_parent[b] = parent_slot[b] as u32;
            self.tree.pending_action[b] = index[b] as u32;
            self.pending_from_chance[b] = from_chance[b];
        }
        self.tree.phase = Phase::Selected;
        Ok(())
    }

    fn descend_all<const A: usize>(
        &mut self,
        parent_slot: &mut [i64],
        index: &mut [i64],
        from_chance: &mut [bool],
    ) {
        let mut scratch = std::mem::take(&mut self.scratch);
        for b in 0..self.tree.cfg.num_roots {
            let (node, i, chance) = self.descend::<A>(b, &mut scratch);
            parent_slot[b] = node as i64;
            index[b] = i as i64;
            from_chance[b] = chance;
        }
        self.scratch = scratch;
    }

    /// Descends tree `b` to its first unexpanded edge: (slot of the node, action or code, the
    /// node is a chance node).
    #[inline(always)]
    fn descend<const A: usize>(&self, b: usize, scratch: &mut [f64]) -> (usize, usize, bool) {
        let t = &self.tree;
        let nc = self.num_outcomes;
        let puct_tree = puct::Tree::new(t, b);
        let parent_rule = t.cfg.unvisited_value == UnvisitedValue::Parent;
        let mut node = ROOT;
        loop {
            let i = t.node(b, node);
            if self.is_chance[i] {
                let c = self.choose_outcome(i);
                match self.outcome_children[i * nc + c] {
                    UNEXPANDED => return (node, c, true),
                    child => node = child as usize,
                }
                continue;
            }
            let visits = t.visit_count[i];
            let (a, e) = match (t.cfg.algorithm, node == ROOT) {
                (Algorithm::MuZero, true) => {
                    puct::step::<A, true>(t, &puct_tree, parent_rule, node, visits)
                }
                (Algorithm::MuZero, false) => {
                    puct::step::<A, false>(t, &puct_tree, parent_rule, node, visits)
                }
                (Algorithm::Gumbel, true) => {
                    let a = gumbel::select_root(t, b, t.sims_done, scratch);
                    (a, t.edge(b, node, a))
                }
                (Algorithm::Gumbel, false) => {
                    let a = gumbel::select_interior_for::<A>(t, b, node, scratch);
                    (a, t.edge(b, node, a))
                }
            };
            match t.children[e] {
                UNEXPANDED => return (node, a, false),
                child => node = child as usize,
            }
        }
    }

    /// The code chosen at chance node `i` (flat index): `argmax_c prior(c) / (N(c) + 1)`,
    /// lowest code on ties. A code of prior 0 is never chosen (the largest prior is > 0).
    #[inline(always)]
    fn choose_outcome(&self, i: usize) -> usize {
        let nc = self.num_outcomes;
        let prior = &self.outcome_prior[i * nc..(i + 1) * nc];
        let visits = &self.outcome_visits[i * nc..(i + 1) * nc];
        #[cfg(test)]
        if self.defect == Defect::UniformOutcome {
            return (0..nc).min_by_key(|&c| visits[c]).unwrap_or(0);
        }
        let mut best = 0;
        let mut best_score = f64::NEG_INFINITY;
        for (c, (&p, &n)) in prior.iter().zip(visits).enumerate() {
            let score = p / (n as f64 + 1.0);
            if score > best_score {
                best = c;
                best_score = score;
            }
        }
        best
    }

    /// Slot each tree's next expansion goes to.
    pub fn next_slots(&self) -> Vec<i64> {
        self.tree.next_slots()
    }

    /// Expands the leaves chosen by `select` and backs their values up. Every lane reads
    /// `value[b]`; a lane whose new node is a chance node (`from_chance[b] == false`) reads
    /// its row of `outcome_logits` [B, C] (the afterstate's chance prior); a lane whose new
    /// node is a decision node reads `reward[b]` and its row of `prior_logits` [B, A]. The rows
    /// a lane does not read are not checked (they may hold anything).
    pub fn backup(
        &mut self,
        reward: &[f32],
        value: &[f32],
        prior_logits: &[f32],
        outcome_logits: &[f32],
    ) -> Result<()> {
        let (nb, na, nc) = (
            self.tree.cfg.num_roots,
            self.tree.cfg.num_actions,
            self.num_outcomes,
        );
        if self.tree.phase != Phase::Selected {
            return Err(LobzeroError::config(
                "mcts: backup called without a select before it",
            ));
        }
        check_len("reward", reward.len(), nb, "[B]")?;
        check_len("value", value.len(), nb, "[B]")?;
        check_len("prior_logits", prior_logits.len(), nb * na, "[B, A]")?;
        check_len("outcome_logits", outcome_logits.len(), nb * nc, "[B, C]")?;
        check_finite("value", value)?;
        // validate every lane before touching any tree, so an error leaves the batch unchanged
        for b in 0..nb {
            let (name, row, width) = if self.pending_from_chance[b] {
                if !reward[b].is_finite() {
                    return Err(LobzeroError::invalid(
                        format!("reward[{b}]"),
                        format!("is {}; must be finite", reward[b]),
                    ));
                }
                (
                    "prior_logits",
                    &prior_logits[b * na..(b + 1) * na],
                    "action",
                )
            } else {
                (
                    "outcome_logits",
                    &outcome_logits[b * nc..(b + 1) * nc],
                    "code",
                )
            };
            if let Some(k) = first_non_finite(row) {
                return Err(LobzeroError::invalid(
                    format!("{name}[{b}]"),
                    format!("logit of {width} {k} is {}; logits must be finite", row[k]),
                ));
            }
        }
        self.expand_and_back_up(reward, value, prior_logits, outcome_logits);
        self.tree.sims_done += 1;
        self.tree.phase = Phase::Ready;
        Ok(())
    }

    fn expand_and_back_up(
        &mut self,
        reward: &[f32],
        value: &[f32],
        prior_logits: &[f32],
        outcome_logits: &[f32],
    ) {
        let nc = self.num_outcomes;
        let t = &mut self.tree;
        let (nb, na, cap) = (t.cfg.num_roots, t.cfg.num_actions, t.capacity);
        let discount = t.cfg.discount;
        let fixed_bounds = t.cfg.value_bounds.is_some();
        let gumbel = t.cfg.algorithm == Algorithm::Gumbel;
        for b in 0..nb {
            let parent = t.pending_parent[b] as usize;
            let k = t.pending_action[b] as usize;
            let slot = t.num_nodes[b] as usize;
            t.num_nodes[b] += 1;
            let base = b * cap;
            let i = base + slot;
            t.parent[i] = parent as i32;
            t.action_from_parent[i] = k as i32;
            t.visit_count[i] = 0;
            t.value_sum[i] = 0.0;
            // the new node's edge rows of both kinds are clean (see `reset`, `clear_edges`)
            if self.pending_from_chance[b] {
                self.outcome_children[(base + parent) * nc + k] = slot as i32;
                self.is_chance[i] = false;
                t.reward[i] = reward[b] as f64;
                let e = i * na;
                softmax_row::<0>(
                    &prior_logits[b * na..(b + 1) * na],
                    None,
                    &mut t.prior[e..e + na],
                );
                if gumbel {
                    t.raw_value[i] = value[b] as f64;
                    for (l, p) in t.log_prior[e..e + na].iter_mut().zip(&t.prior[e..e + na]) {
                        *l = p.ln();
                    }
                }
            } else {
                t.children[(base + parent) * na + k] = slot as i32;
                self.is_chance[i] = true;
                t.reward[i] = 0.0;
                softmax_row::<0>(
                    &outcome_logits[b * nc..(b + 1) * nc],
                    None,
                    &mut self.outcome_prior[i * nc..(i + 1) * nc],
                );
            }
            let mut mm = t.minmax[b];
            let mut g = value[b] as f64;
            let mut i = i;
            loop {
                let visits = t.visit_count[i] + 1;
                let value_sum = t.value_sum[i] + g;
                t.visit_count[i] = visits;
                t.value_sum[i] = value_sum;
                let p = t.parent[i];
                if p == NO_PARENT {
                    break;
                }
                let pi = base + p as usize;
                let from = t.action_from_parent[i] as usize;
                if self.is_chance[i] {
                    // Q(s, a) of the decision parent: the afterstate's mean value
                    let q = value_sum / visits as f64;
                    let pe = pi * na + from;
                    t.edge_visits[pe] = visits;
                    t.edge_q[pe] = q;
                    if !fixed_bounds {
                        mm.update(q);
                    }
                    #[cfg(test)]
                    if self.defect == Defect::DiscountAtChance {
                        g *= discount;
                    }
                } else {
                    self.outcome_visits[pi * nc + from] = visits;
                    g = t.reward[i] + discount * g;
                }
                i = pi;
            }
            t.minmax[b] = mm;
        }
    }

    /// [B, N] whether each slot holds a chance node (false for unused slots).
    pub fn node_is_chance(&self) -> Vec<bool> {
        let cap = self.tree.capacity;
        let mut out = vec![false; self.is_chance.len()];
        for b in 0..self.tree.cfg.num_roots {
            let used = self.tree.num_nodes[b] as usize;
            out[b * cap..b * cap + used].copy_from_slice(&self.is_chance[b * cap..b * cap + used]);
        }
        out
    }

    /// [B, N] mean value (`value_sum / visit_count`) of every slot (NaN for unused slots).
    pub fn node_values(&self) -> Vec<f64> {
        let t = &self.tree;
        let mut out = vec![f64::NAN; t.visit_count.len()];
        for b in 0..t.cfg.num_roots {
            for n in 0..t.num_nodes[b] as usize {
                let i = t.node(b, n);
                out[i] = t.value_sum[i] / t.visit_count[i] as f64;
            }
        }
        out
    }

    /// [B, N, C] chance prior of each code at each chance node (0 for decision and unused
    /// slots).
    pub fn outcome_priors(&self) -> Vec<f64> {
        let (cap, nc) = (self.tree.capacity, self.num_outcomes);
        let mut out = vec![0.0; self.outcome_prior.len()];
        for b in 0..self.tree.cfg.num_roots {
            for n in 0..self.tree.num_nodes[b] as usize {
                let i = b * cap + n;
                if self.is_chance[i] {
                    out[i * nc..(i + 1) * nc]
                        .copy_from_slice(&self.outcome_prior[i * nc..(i + 1) * nc]);
                }
            }
        }
        out
    }
}
