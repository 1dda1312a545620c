//! PUCT selection, as in the MuZero pseudocode:
//!
//! ```text
//! pb_c  = ln((N(parent) + pb_c_base + 1) / pb_c_base) + pb_c_init
//! pb_c *= sqrt(N(parent)) / (N(child) + 1)
//! score = pb_c * prior(child) + value_score(child)
//! value_score(child) = normalize(reward(child) + discount * value_sum(child) / N(child))  if N(child) > 0
//!                    = unvisited rule                                                    otherwise
//! ```
//!
//! `normalize` is the tree's min-max statistics ([`super::MinMax`]), or the configured
//! `value_bounds`; the unvisited rule is [`super::UnvisitedValue`] (0 by default, as in the
//! pseudocode). At the root only legal actions compete. Ties go to the lowest action index.
//! The arithmetic is done in f64 in exactly this order, so a Python transcription of the
//! pseudocode reproduces the visit counts bit for bit.

// the loop walks priors, children and the legal mask by action
#![allow(clippy::needless_range_loop)]

use super::{MctsBatch, UnvisitedValue, ROOT};

/// The action PUCT picks at node `node` of tree `b`.
pub(crate) fn select_child(t: &MctsBatch, b: usize, node: usize) -> usize {
    let cfg = &t.cfg;
    let na = cfg.num_actions;
    let i = t.node(b, node);
    let parent_visits = t.visit_count[i] as f64;
    // tables hold exactly ln((n + base + 1) / base) + init and sqrt(n) for this visit count
    let (pb_c_parent, sqrt_parent) = match t.pb_c_table.get(t.visit_count[i] as usize) {
        Some(&pb_c) => (pb_c, t.sqrt_table[t.visit_count[i] as usize]),
        None => (
            ((parent_visits + cfg.pb_c_base + 1.0) / cfg.pb_c_base).ln() + cfg.pb_c_init,
            parent_visits.sqrt(),
        ),
    };
    let mm = t.minmax[b];
    let unvisited = match cfg.unvisited_value {
        UnvisitedValue::Zero => 0.0,
        UnvisitedValue::Parent => mm.normalize(t.value_sum[i] / parent_visits),
    };
    let e0 = t.edge(b, node, 0);
    let legal = &t.legal[b * na..(b + 1) * na];
    let at_root = node == ROOT;
    let mut best_score = f64::NEG_INFINITY;
    let mut best = usize::MAX;
    for a in 0..na {
        if at_root && !legal[a] {
            continue;
        }
        let child = t.children[e0 + a];
        let (child_visits, value_score) = if child >= 0 {
            let c = child as usize;
            (
                t.visit_count[t.node(b, c)] as f64,
                mm.normalize(t.q_of(b, c)),
            )
        } else {
            (0.0, unvisited)
        };
        let pb_c = pb_c_parent * (sqrt_parent / (child_visits + 1.0));
        let score = pb_c * t.prior[e0 + a] + value_score;
        if score > best_score || best == usize::MAX {
            best_score = score;
            best = a;
        }
    }
    best
}
