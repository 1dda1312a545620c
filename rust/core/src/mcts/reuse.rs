//! Subtree reuse: the child reached by the action played becomes the next root, keeping its
//! statistics (MuZero only; needs `reuse_subtree = true`, which doubles the capacity).

use super::tree::Phase;
use super::{Algorithm, MctsBatch, NO_ACTION, NO_PARENT, ROOT, UNEXPANDED};
use crate::error::{LobzeroError, Result};

impl MctsBatch {
    /// Moves each tree's root to the child reached by `actions[b]`, compacting the kept subtree
    /// into slots `0..k` (creation order kept). Trees whose child was never expanded restart
    /// from `prior_logits[b]` / `values[b]` like `reset` (as do trees whose kept subtree has more
    /// than `num_simulations` nodes, possible only after repeated reuse, since the next search
    /// would not fit); for the others those rows are ignored (but must be finite).
    /// `legal` [B, A] masks the new roots' actions (renormalizing their priors), and `noise`
    /// mixes fresh Dirichlet noise into them. Returns `kept_slot` [B, N]: the old slot now held
    /// by each new slot, -1 for a slot that is free (and for slot 0 of a restarted tree, whose
    /// latent the caller writes from the representation network).
    pub fn reuse_subtree(
        &mut self,
        actions: &[i64],
        prior_logits: &[f32],
        values: &[f32],
        noise: bool,
        legal: Option<&[bool]>,
    ) -> Result<Vec<i64>> {
        let (nb, na, cap) = (self.cfg.num_roots, self.cfg.num_actions, self.capacity);
        if !self.cfg.reuse_subtree || self.cfg.algorithm != Algorithm::MuZero {
            return Err(LobzeroError::config(
                "mcts: reuse_subtree needs MctsBatch(..., reuse_subtree=True, algorithm=\"muzero\")",
            ));
        }
        if self.phase == Phase::Empty {
            return Err(LobzeroError::config(
                "mcts: reuse_subtree called before reset",
            ));
        }
        if actions.len() != nb || prior_logits.len() != nb * na || values.len() != nb {
            return Err(LobzeroError::config(
                "mcts: reuse_subtree needs actions [B], prior_logits [B, A] and values [B]",
            ));
        }
        if let Some(l) = legal {
            if l.len() != nb * na {
                return Err(LobzeroError::config(
                    "mcts: legal_mask must have shape [B, A]",
                ));
            }
        }
        for (b, &a) in actions.iter().enumerate() {
            if a < 0 || a as usize >= na {
                return Err(LobzeroError::invalid(
                    format!("actions[{b}]"),
                    format!("is {a}; must be in [0, {na})"),
                ));
            }
        }
        // validate everything before changing any tree, so an error leaves the batch as it was
        for b in 0..nb {
            let row = legal.map(|l| &l[b * na..(b + 1) * na]);
            if row.is_some_and(|l| !l.iter().any(|&x| x)) {
                return Err(LobzeroError::invalid(
                    format!("legal_mask[{b}]"),
                    "has no legal action",
                ));
            }
            {
                if !values[b].is_finite() {
                    return Err(LobzeroError::invalid(
                        format!("values[{b}]"),
                        "must be finite",
                    ));
                }
                for a in 0..na {
                    let x = prior_logits[b * na + a];
                    if row.is_none_or(|l| l[a]) && !x.is_finite() {
                        return Err(LobzeroError::invalid(
                            format!("prior_logits[{b}]"),
                            format!("prior logit of action {a} is {x}; logits must be finite"),
                        ));
                    }
                }
            }
        }
        let mut kept = vec![-1i64; nb * cap];
        let mut new_of_old = vec![-1i64; cap];
        for b in 0..nb {
            let row = legal.map(|l| &l[b * na..(b + 1) * na]);
            let Some(child) = self.child(b, ROOT, actions[b] as usize) else {
                self.reset_tree(
                    b,
                    &prior_logits[b * na..(b + 1) * na],
                    values[b],
                    noise,
                    row,
                )?;
                continue;
            };
            // a parent's slot is below its children's, so one ascending pass finds the subtree
            // and an in-place forward copy never overwrites a slot not yet read
            new_of_old.fill(-1);
            let mut count = 0usize;
            for old in child..self.num_nodes[b] as usize {
                let p = self.parent[self.node(b, old)];
                if old == child || (p >= 0 && new_of_old[p as usize] >= 0) {
                    new_of_old[old] = count as i64;
                    kept[b * cap + count] = old as i64;
                    count += 1;
                }
            }
            if count > self.cfg.num_simulations {
                // only after repeated reuse: the next search would not fit, so start afresh
                kept[b * cap..(b + 1) * cap].fill(-1);
                self.reset_tree(
                    b,
                    &prior_logits[b * na..(b + 1) * na],
                    values[b],
                    noise,
                    row,
                )?;
                continue;
            }
            for new in 0..count {
                let old = kept[b * cap + new] as usize;
                let (o, n) = (self.node(b, old), self.node(b, new));
                self.visit_count[n] = self.visit_count[o];
                self.value_sum[n] = self.value_sum[o];
                self.reward[n] = self.reward[o];
                self.action_from_parent[n] = self.action_from_parent[o];
                self.parent[n] = match self.parent[o] {
                    p if new == 0 || p < 0 => NO_PARENT,
                    p => new_of_old[p as usize] as i32,
                };
                for a in 0..na {
                    let (eo, en) = (self.edge(b, old, a), self.edge(b, new, a));
                    self.prior[en] = self.prior[eo];
                    self.edge_visits[en] = self.edge_visits[eo];
                    self.edge_q[en] = self.edge_q[eo];
                    let c = self.children[eo];
                    self.children[en] = if c < 0 {
                        UNEXPANDED
                    } else {
                        new_of_old[c as usize] as i32
                    };
                }
            }
            // the slots the compacted subtree no longer uses must have clean edge rows
            let used = self.num_nodes[b] as usize;
            if used > count {
                self.clear_edges(b, count, used);
            }
            let r = self.node(b, ROOT);
            self.reward[r] = 0.0;
            self.action_from_parent[r] = NO_ACTION;
            self.num_nodes[b] = count as u32;
            self.minmax[b] = match self.cfg.value_bounds {
                Some((min, max)) => super::MinMax { min, max },
                None => {
                    let mut mm = super::MinMax::EMPTY;
                    for n in 1..count {
                        mm.update(self.q_of(b, n));
                    }
                    mm
                }
            };
            let e0 = self.edge(b, ROOT, 0);
            let mut total = 0.0;
            for a in 0..na {
                let ok = row.is_none_or(|l| l[a]);
                self.legal[b * na + a] = ok;
                self.considered[b * na + a] = ok;
                if !ok {
                    self.prior[e0 + a] = 0.0;
                }
                total += self.prior[e0 + a];
            }
            for a in 0..na {
                self.prior[e0 + a] = if total > 0.0 {
                    self.prior[e0 + a] / total
                } else if self.legal[b * na + a] {
                    1.0
                } else {
                    0.0
                };
            }
            let legal_count = self.legal[b * na..(b + 1) * na]
                .iter()
                .filter(|&&x| x)
                .count();
            if total <= 0.0 {
                for a in 0..na {
                    self.prior[e0 + a] /= legal_count as f64;
                }
            }
            self.num_considered[b] = legal_count as u32;
            if noise {
                self.add_root_noise(b);
            }
        }
        self.sims_done = 0;
        self.phase = Phase::Ready;
        Ok(kept)
    }
}
