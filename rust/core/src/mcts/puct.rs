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

// the child loops walk priors, edge arrays and the legal mask by action
#![allow(clippy::needless_range_loop)]

use super::{MctsBatch, UnvisitedValue, ROOT};

/// `if cond { a } else { b }` as bit operations: LLVM turns the plain `if` into a branch, which
/// the visited / unvisited pattern of the children makes mispredict; this stays a blend.
#[inline(always)]
fn pick(cond: bool, a: f64, b: f64) -> f64 {
    let mask = (cond as u64).wrapping_neg();
    f64::from_bits((a.to_bits() & mask) | (b.to_bits() & !mask))
}

/// Per-tree constants of one descent.
struct Tree<'a> {
    base: usize,
    /// min and max - min of the tree's Q statistics (`MinMax::normalize` with the span hoisted)
    min: f64,
    span: f64,
    spread: bool,
    legal: &'a [bool],
}

impl<'a> Tree<'a> {
    fn new(t: &'a MctsBatch, b: usize) -> Self {
        let na = t.cfg.num_actions;
        let mm = t.minmax[b];
        Self {
            base: b * t.capacity,
            min: mm.min,
            span: mm.max - mm.min,
            spread: mm.max > mm.min,
            legal: &t.legal[b * na..(b + 1) * na],
        }
    }

    #[inline(always)]
    fn normalize(&self, q: f64) -> f64 {
        if self.spread {
            ((q - self.min) / self.span).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
}

/// The PUCT choice at `node` (with `visits` visits) of tree `tr`: (action, its edge index).
///
/// Everything that depends only on the parent (pb_c, sqrt of its visits, the min-max span, the
/// unvisited value) is computed once; per child only the node's edge arrays are read (`prior`,
/// `edge_visits`, `edge_q`, contiguous), with the same f64 operations in the same order as the
/// pseudocode so the scores are bit-identical to it.
#[inline(always)]
fn best_action<const A: usize>(
    t: &MctsBatch,
    tr: &Tree<'_>,
    node: usize,
    visits: u32,
) -> (usize, usize) {
    let cfg = &t.cfg;
    // A > 0: the action count known at compile time (loops unrolled, no bounds checks)
    let na = if A > 0 { A } else { cfg.num_actions };
    let parent_visits = visits as f64;
    // tables hold exactly ln((n + base + 1) / base) + init and sqrt(n) for this visit count
    let (pb_c_parent, sqrt_parent) = match (
        t.pb_c_table.get(visits as usize),
        t.sqrt_table.get(visits as usize),
    ) {
        (Some(&pb_c), Some(&sqrt)) => (pb_c, sqrt),
        _ => (
            ((parent_visits + cfg.pb_c_base + 1.0) / cfg.pb_c_base).ln() + cfg.pb_c_init,
            parent_visits.sqrt(),
        ),
    };
    let unvisited = match cfg.unvisited_value {
        UnvisitedValue::Zero => 0.0,
        UnvisitedValue::Parent => tr.normalize(t.value_sum[tr.base + node] / parent_visits),
    };
    let e0 = (tr.base + node) * na;
    let prior = &t.prior[e0..e0 + na];
    let child_visits = &t.edge_visits[e0..e0 + na];
    let child_q = &t.edge_q[e0..e0 + na];
    // touch the node's child slots now so their cache line arrives while the scores are
    // computed (read after the argmax, the load's miss would be paid in full)
    std::hint::black_box(t.children.get(e0).copied());
    let pb_c = |n: u32| pb_c_parent * (sqrt_parent / (n as f64 + 1.0));
    // ties go to the lowest index (strict >); scores are finite, so the first candidate
    // always beats the -inf start. Root actions outside the legal mask score -inf.
    let at_root = node == ROOT;
    let mut best = 0;
    let mut best_score = f64::NEG_INFINITY;
    if tr.spread {
        for a in 0..na {
            let n = child_visits[a];
            // computed for every edge (unexpanded ones hold q = 0) and then picked, so the
            // loop has no data-dependent branch; an edge with visits is expanded (see
            // `MctsBatch::edge_visits`)
            let visited_score = ((child_q[a] - tr.min) / tr.span).clamp(0.0, 1.0);
            let value_score = pick(n > 0, visited_score, unvisited);
            let score = pb_c(n) * prior[a] + value_score;
            let score = if at_root && !tr.legal[a] {
                f64::NEG_INFINITY
            } else {
                score
            };
            if score > best_score {
                best_score = score;
                best = a;
            }
        }
    } else {
        // fewer than two distinct Q values: every value score is 0 (unvisited included,
        // since the "parent" rule normalizes to 0 too), as `MinMax::normalize` gives
        for a in 0..na {
            let score = pb_c(child_visits[a]) * prior[a] + 0.0;
            let score = if at_root && !tr.legal[a] {
                f64::NEG_INFINITY
            } else {
                score
            };
            if score > best_score {
                best_score = score;
                best = a;
            }
        }
    }
    (best, e0 + best)
}

/// Trees descended together by [`descend_trees`].
const GROUP: usize = 8;

/// Descends every tree by PUCT to its first unexpanded edge, writing (slot of the node, action)
/// of tree `b` into `parent_slot[b]` and `action[b]`.
///
/// The trees go down in groups of [`GROUP`], one step of each in turn: a step waits on the load
/// of the child slot it chose (often a cache miss) and on a long chain of f64 operations, and
/// interleaving independent trees lets the CPU overlap those waits.
pub(crate) fn descend_trees(t: &MctsBatch, parent_slot: &mut [i64], action: &mut [i64]) {
    // common action counts get a copy of the loop specialized for them
    match t.cfg.num_actions {
        2 => descend_trees_for::<2>(t, parent_slot, action),
        3 => descend_trees_for::<3>(t, parent_slot, action),
        4 => descend_trees_for::<4>(t, parent_slot, action),
        5 => descend_trees_for::<5>(t, parent_slot, action),
        6 => descend_trees_for::<6>(t, parent_slot, action),
        7 => descend_trees_for::<7>(t, parent_slot, action),
        8 => descend_trees_for::<8>(t, parent_slot, action),
        _ => descend_trees_for::<0>(t, parent_slot, action),
    }
}

/// [`descend_trees`] for `A` actions (0: any count, read from the configuration).
fn descend_trees_for<const A: usize>(t: &MctsBatch, parent_slot: &mut [i64], action: &mut [i64]) {
    for (k, (ps, ac)) in parent_slot
        .chunks_mut(GROUP)
        .zip(action.chunks_mut(GROUP))
        .enumerate()
    {
        let b0 = k * GROUP;
        // a short last group repeats its last tree in the unused lanes, which start dead
        let last = b0 + ps.len().saturating_sub(1);
        let trees: [Tree<'_>; GROUP] = std::array::from_fn(|j| Tree::new(t, (b0 + j).min(last)));
        let mut node = [ROOT; GROUP];
        let mut visits: [u32; GROUP] = std::array::from_fn(|j| t.visit_count[trees[j].base]);
        let mut live = [false; GROUP];
        live[..ps.len()].fill(true);
        let mut left = ps.len();
        while left > 0 {
            for j in 0..GROUP {
                if !live[j] {
                    continue;
                }
                let (a, e) = best_action::<A>(t, &trees[j], node[j], visits[j]);
                let child = t.children[e];
                if child < 0 {
                    ps[j] = node[j] as i64;
                    ac[j] = a as i64;
                    live[j] = false;
                    left -= 1;
                } else {
                    node[j] = child as usize;
                    visits[j] = t.edge_visits[e];
                }
            }
        }
    }
}
