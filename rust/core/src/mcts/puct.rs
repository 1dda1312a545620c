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

/// Per-tree constants of one descent.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Tree {
    base: usize,
    /// `min` and `max - min` of the tree's Q statistics (`MinMax::normalize` with the span
    /// hoisted). Without spread (fewer than two distinct Q values, where `normalize` gives 0)
    /// they are +inf and 1, so that `((q - min) / span).clamp(0, 1)` is 0 for every `q`, and
    /// the score loop needs no test of its own for that case.
    min: f64,
    span: f64,
    spread: bool,
    /// index of the tree's row of `MctsBatch::legal`
    legal: usize,
}

impl Tree {
    pub(crate) fn new(t: &MctsBatch, b: usize) -> Self {
        let mm = t.minmax[b];
        let spread = mm.max > mm.min;
        let (min, span) = if spread {
            (mm.min, mm.max - mm.min)
        } else {
            (f64::INFINITY, 1.0)
        };
        Self {
            base: b * t.capacity,
            min,
            span,
            spread,
            legal: b * t.cfg.num_actions,
        }
    }

    /// `MinMax::normalize` with the span hoisted.
    #[inline(always)]
    fn normalize(&self, q: f64) -> f64 {
        if self.spread {
            ((q - self.min) / self.span).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
}

/// Children scored per pass of [`best_action`]: its score buffer lives on the stack, so any
/// action count is handled in chunks of this many.
const CHUNK: usize = 8;

/// The PUCT choice at `node` (with `visits` visits) of tree `tr`: (action, its edge index).
/// `AT_ROOT`: `node` is the root, where only legal actions compete. `PARENT_RULE`: unvisited
/// children are valued by [`UnvisitedValue::Parent`] (else [`UnvisitedValue::Zero`]).
///
/// Everything that depends only on the parent (its row of the exploration table, the min-max
/// span, the unvisited value) is computed once; per child only the node's edge arrays are read
/// (`prior`, `edge_visits`, `edge_q`, contiguous), with the same f64 operations in the same
/// order as the pseudocode so the scores are bit-identical to it.
#[inline(always)]
fn best_action<const A: usize, const AT_ROOT: bool, const PARENT_RULE: bool>(
    t: &MctsBatch,
    tr: &Tree,
    node: usize,
    visits: u32,
) -> (usize, usize) {
    let cfg = &t.cfg;
    // A > 0: the action count known at compile time (loops unrolled, no bounds checks)
    let na = if A > 0 { A } else { cfg.num_actions };
    let parent_visits = visits as f64;
    // the exploration factor of each child visit count, from the table when it covers this
    // parent (child visits never exceed the parent's; the per-child fallback computes exactly
    // what the table holds)
    let (row, pb_c_parent, sqrt_parent): (&[f64], f64, f64) =
        if visits as usize <= t.exploration_max_visits {
            let start = visits as usize * (visits as usize + 1) / 2;
            (
                t.exploration_table
                    .get(start..=start + visits as usize)
                    .unwrap_or(&[]),
                0.0,
                0.0,
            )
        } else {
            // the tables hold exactly ln((n + base + 1) / base) + init and sqrt(n)
            let pb_c = t
                .pb_c_table
                .get(visits as usize)
                .copied()
                .unwrap_or_else(|| {
                    ((parent_visits + cfg.pb_c_base + 1.0) / cfg.pb_c_base).ln() + cfg.pb_c_init
                });
            let sqrt = t
                .sqrt_table
                .get(visits as usize)
                .copied()
                .unwrap_or_else(|| parent_visits.sqrt());
            (&[], pb_c, sqrt)
        };
    let exploration = |n: u32| match row.get(n as usize) {
        Some(&factor) => factor,
        None => pb_c_parent * (sqrt_parent / (n as f64 + 1.0)),
    };
    // 0 without spread, as `MinMax::normalize` gives
    let unvisited_parent = if PARENT_RULE {
        tr.normalize(t.value_sum[tr.base + node] / parent_visits)
    } else {
        0.0
    };
    let e0 = (tr.base + node) * na;
    let prior = &t.prior[e0..e0 + na];
    let child_visits = &t.edge_visits[e0..e0 + na];
    let child_q = &t.edge_q[e0..e0 + na];
    // ties go to the lowest index (strict >); scores are finite, so the first candidate
    // always beats the -inf start. Root actions outside the legal mask score -inf.
    let mut best = 0;
    let mut best_score = f64::NEG_INFINITY;
    for first in (0..na).step_by(CHUNK) {
        let len = CHUNK.min(na - first);
        let mut score = [0.0f64; CHUNK];
        for k in 0..len {
            let a = first + k;
            let n = child_visits[a];
            // an unexpanded edge holds q = -inf, whose normalized value is 0: the "zero" rule's
            // value for an unvisited child (an edge with visits is expanded, see
            // `MctsBatch::edge_visits`), with no test in the loop. A test would compile to a
            // branch, which the visited / unvisited pattern of the children mispredicts.
            let value_score = ((child_q[a] - tr.min) / tr.span).clamp(0.0, 1.0);
            let value_score = if PARENT_RULE && n == 0 {
                unvisited_parent
            } else {
                value_score
            };
            score[k] = exploration(n) * prior[a] + value_score;
        }
        for k in 0..len {
            let a = first + k;
            let s = if AT_ROOT && !t.legal[tr.legal + a] {
                f64::NEG_INFINITY
            } else {
                score[k]
            };
            if s > best_score {
                best_score = s;
                best = a;
            }
        }
    }
    (best, e0 + best)
}

/// Descents interleaved by [`descend_trees`].
const LANES: usize = 8;

/// Descends every tree by PUCT to its first unexpanded edge, writing (slot of the node, action)
/// of tree `b` into `parent_slot[b]` and `action[b]`.
///
/// [`LANES`] descents run interleaved, one step of each in turn: a step waits on the load of
/// the child slot it chose and on a long chain of f64 operations, and interleaving independent
/// trees lets the CPU overlap those waits. A lane whose descent ends takes the next tree at
/// once, so every lane stays busy and no step tests for finished lanes (a test that the
/// varying depths make mispredict).
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

/// One PUCT step at `node` (with `visits` visits) of tree `tr`, dispatching on the unvisited
/// rule: (action, its edge index).
#[inline(always)]
pub(crate) fn step<const A: usize, const AT_ROOT: bool>(
    t: &MctsBatch,
    tr: &Tree,
    parent_rule: bool,
    node: usize,
    visits: u32,
) -> (usize, usize) {
    if parent_rule {
        best_action::<A, AT_ROOT, true>(t, tr, node, visits)
    } else {
        best_action::<A, AT_ROOT, false>(t, tr, node, visits)
    }
}

/// A descent in progress: tree `b` is at `node`, which has `visits` visits.
#[derive(Debug, Clone, Copy, Default)]
struct Lane {
    b: usize,
    tree: Tree,
    node: usize,
    visits: u32,
}

/// Starts the descents of trees `*next..` until one goes below its root: the root step is the
/// only one that checks the legal mask. Descents that end at the root are written out;
/// returns the lane of the one that goes on, or `None` when no tree is left.
#[inline(always)]
fn start_descent<const A: usize>(
    t: &MctsBatch,
    parent_rule: bool,
    next: &mut usize,
    parent_slot: &mut [i64],
    action: &mut [i64],
) -> Option<Lane> {
    while *next < t.cfg.num_roots {
        let b = *next;
        *next += 1;
        let tree = Tree::new(t, b);
        let root_visits = t.visit_count[tree.base];
        let (a, e) = step::<A, true>(t, &tree, parent_rule, ROOT, root_visits);
        let child = t.children[e];
        if child < 0 {
            parent_slot[b] = ROOT as i64;
            action[b] = a as i64;
        } else {
            return Some(Lane {
                b,
                tree,
                node: child as usize,
                visits: t.edge_visits[e],
            });
        }
    }
    None
}

/// [`descend_trees`] for `A` actions (0: any count, read from the configuration).
fn descend_trees_for<const A: usize>(t: &MctsBatch, parent_slot: &mut [i64], action: &mut [i64]) {
    let parent_rule = t.cfg.unvisited_value == UnvisitedValue::Parent;
    let mut next = 0;
    // lanes[..active] are descending; the others are unused
    let mut lanes = [Lane::default(); LANES];
    let mut active = 0;
    while active < LANES {
        match start_descent::<A>(t, parent_rule, &mut next, parent_slot, action) {
            Some(lane) => {
                lanes[active] = lane;
                active += 1;
            }
            None => break,
        }
    }
    while active > 0 {
        let mut j = 0;
        while j < active {
            let lane = &mut lanes[j];
            let (a, e) = step::<A, false>(t, &lane.tree, parent_rule, lane.node, lane.visits);
            let child = t.children[e];
            if child >= 0 {
                lane.node = child as usize;
                lane.visits = t.edge_visits[e];
                j += 1;
                continue;
            }
            parent_slot[lane.b] = lane.node as i64;
            action[lane.b] = a as i64;
            match start_descent::<A>(t, parent_rule, &mut next, parent_slot, action) {
                Some(fresh) => {
                    *lane = fresh;
                    j += 1;
                }
                None => {
                    // no tree left: the last lane moves here (and steps next)
                    active -= 1;
                    lanes[j] = lanes[active];
                }
            }
        }
    }
}
