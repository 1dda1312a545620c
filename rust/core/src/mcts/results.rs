//! What a search produces: root visit counts, values, Q values, policy targets and actions, plus
//! the whole-tree arrays for inspection.

use super::tree::Phase;
use super::{gumbel, Algorithm, MctsBatch, ROOT};
use crate::error::{LobzeroError, Result};

impl MctsBatch {
    fn check_searched(&self, what: &str) -> Result<()> {
        if self.phase == Phase::Empty {
            return Err(LobzeroError::config(format!(
                "mcts: {what} called before reset"
            )));
        }
        Ok(())
    }

    #[inline]
    fn root_child_visits(&self, b: usize, a: usize) -> u32 {
        self.child(b, ROOT, a)
            .map_or(0, |c| self.visit_count[self.node(b, c)])
    }

    /// [B, A] visit counts of the root's children.
    pub fn root_visit_counts(&self) -> Result<Vec<i64>> {
        self.check_searched("root_visit_counts")?;
        let (nb, na) = (self.cfg.num_roots, self.cfg.num_actions);
        let mut out = Vec::with_capacity(nb * na);
        for b in 0..nb {
            out.extend((0..na).map(|a| self.root_child_visits(b, a) as i64));
        }
        Ok(out)
    }

    /// [B] mean value of each root (`value_sum / visit_count`, the root's own expansion included).
    pub fn root_values(&self) -> Result<Vec<f32>> {
        self.check_searched("root_values")?;
        Ok((0..self.cfg.num_roots)
            .map(|b| {
                let r = self.node(b, ROOT);
                (self.value_sum[r] / self.visit_count[r] as f64) as f32
            })
            .collect())
    }

    /// [B, A] Q values `reward + discount * value` of the root's children; with `normalized`,
    /// mapped into [0, 1] by the tree's min-max statistics. Unvisited children are NaN.
    pub fn root_q_values(&self, normalized: bool) -> Result<Vec<f32>> {
        self.check_searched("root_q_values")?;
        let (nb, na) = (self.cfg.num_roots, self.cfg.num_actions);
        let mut out = vec![f32::NAN; nb * na];
        for b in 0..nb {
            for a in 0..na {
                if let Some(c) = self.child(b, ROOT, a) {
                    let q = self.q_of(b, c);
                    out[b * na + a] = if normalized {
                        self.minmax[b].normalize(q) as f32
                    } else {
                        q as f32
                    };
                }
            }
        }
        Ok(out)
    }

    /// [B, A] policy target. MuZero: root visit counts over their sum (the root prior before
    /// any simulation). Gumbel: the improved policy softmax(log prior + sigma(completed Q)).
    /// Illegal actions get 0; each row sums to 1.
    pub fn policy_target(&self) -> Result<Vec<f32>> {
        self.check_searched("policy_target")?;
        let (nb, na) = (self.cfg.num_roots, self.cfg.num_actions);
        let mut out = vec![0.0f32; nb * na];
        let mut sigma = vec![0.0; na];
        let mut policy = vec![0.0; na];
        for b in 0..nb {
            let row = &mut out[b * na..(b + 1) * na];
            match self.cfg.algorithm {
                Algorithm::MuZero => {
                    let total: u64 = (0..na).map(|a| self.root_child_visits(b, a) as u64).sum();
                    let e0 = self.edge(b, ROOT, 0);
                    for (a, p) in row.iter_mut().enumerate() {
                        *p = if total > 0 {
                            (self.root_child_visits(b, a) as f64 / total as f64) as f32
                        } else {
                            self.prior[e0 + a] as f32
                        };
                    }
                }
                Algorithm::Gumbel => {
                    gumbel::improved_policy(self, b, ROOT, &mut sigma, &mut policy);
                    for (p, &x) in row.iter_mut().zip(&policy) {
                        *p = x as f32;
                    }
                }
            }
        }
        Ok(out)
    }

    /// [B] action to play. MuZero: `temperature == 0` takes the most visited root action
    /// (lowest index on ties), `temperature > 0` samples with probability proportional to
    /// `N(a)^(1 / temperature)` from the tree's seeded stream. Gumbel: the sequential-halving
    /// winner (the Gumbel draws already explore; `temperature` is not used).
    pub fn select_action(&mut self, temperature: f64) -> Result<Vec<i64>> {
        self.check_searched("select_action")?;
        if !(temperature.is_finite() && temperature >= 0.0) {
            return Err(LobzeroError::invalid(
                "temperature",
                format!("is {temperature}; must be finite and >= 0"),
            ));
        }
        let (nb, na) = (self.cfg.num_roots, self.cfg.num_actions);
        let mut sigma = vec![0.0; na];
        let mut out = Vec::with_capacity(nb);
        for b in 0..nb {
            let a = match self.cfg.algorithm {
                Algorithm::Gumbel => gumbel::chosen_action(self, b, &mut sigma),
                Algorithm::MuZero => self.sample_visits(b, temperature),
            };
            out.push(a as i64);
        }
        Ok(out)
    }

    fn sample_visits(&mut self, b: usize, temperature: f64) -> usize {
        let na = self.cfg.num_actions;
        let legal = |t: &Self, a: usize| t.legal[b * na + a];
        let e0 = self.edge(b, ROOT, 0);
        // weights: visits, or the prior when no simulation ran
        let total: u32 = (0..na).map(|x| self.root_child_visits(b, x)).sum();
        let weight = |t: &Self, a: usize| -> f64 {
            if total > 0 {
                t.root_child_visits(b, a) as f64
            } else {
                t.prior[e0 + a]
            }
        };
        let mut best = usize::MAX;
        let mut best_w = f64::NEG_INFINITY;
        for a in 0..na {
            let w = weight(self, a);
            if legal(self, a) && (best == usize::MAX || w > best_w) {
                best = a;
                best_w = w;
            }
        }
        if temperature == 0.0 || best_w <= 0.0 {
            return best;
        }
        // N^(1/T) relative to the largest weight, in log space so small T cannot overflow
        let mut probs = vec![0.0; na];
        let mut total = 0.0;
        for (a, p) in probs.iter_mut().enumerate() {
            let w = weight(self, a);
            if legal(self, a) && w > 0.0 {
                *p = ((w.ln() - best_w.ln()) / temperature).exp();
                total += *p;
            }
        }
        let mut u = self.rngs[b].uniform() * total;
        for (a, &p) in probs.iter().enumerate() {
            if p > 0.0 {
                if u < p {
                    return a;
                }
                u -= p;
            }
        }
        best
    }

    /// [B, A] root actions the search may visit: the legal ones (MuZero) or the Gumbel-top-k.
    pub fn considered_actions(&self) -> Result<Vec<bool>> {
        self.check_searched("considered_actions")?;
        Ok(self.considered.clone())
    }

    /// [B, N] visit count of every slot (0 for unused slots).
    pub fn node_visit_counts(&self) -> Vec<i64> {
        let mut out = vec![0i64; self.visit_count.len()];
        for b in 0..self.cfg.num_roots {
            for n in 0..self.num_nodes[b] as usize {
                let i = self.node(b, n);
                out[i] = self.visit_count[i] as i64;
            }
        }
        out
    }

    /// [B, N] parent slot of every slot ([`super::NO_PARENT`] for the root and unused slots).
    pub fn node_parents(&self) -> Vec<i64> {
        let mut out = vec![super::NO_PARENT as i64; self.parent.len()];
        for b in 0..self.cfg.num_roots {
            for n in 0..self.num_nodes[b] as usize {
                let i = self.node(b, n);
                out[i] = self.parent[i] as i64;
            }
        }
        out
    }

    /// [B] nodes in use per tree.
    pub fn num_nodes(&self) -> Vec<i64> {
        self.num_nodes.iter().map(|&n| n as i64).collect()
    }
}
