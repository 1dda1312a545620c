//! Gumbel MuZero (Danihelka, Guez, Schrittwieser & Silver, "Policy improvement by planning with
//! Gumbel", ICLR 2022).
//!
//! * Root: draw `g(a) ~ Gumbel(0, 1)` for each legal action and keep the `m = min(k, legal)`
//!   actions with the largest `g(a) + log prior(a)` (Gumbel-top-k).
//! * Sequential halving over the considered actions: simulation `s` goes to the considered action
//!   whose visit count equals the schedule's target for `s` and that maximises
//!   `g(a) + log prior(a) + sigma(q(a))`; the schedule ([`considered_visit_schedule`]) splits the
//!   budget over `ceil(log2 m)` phases, halving the field after each one, so the actions with
//!   the best scores are the ones that keep getting visits.
//! * Completed Q: a visited child has `q = reward + discount * value`; an unvisited one gets the
//!   mixed value `(v(node) + sum_b N(b) * sum_visited pi(b) q(b) / sum_visited pi(b)) / (1 + sum_b N(b))`
//!   with `v(node)` the model's value at the node. Completed Q values are min-max normalized over
//!   the node's children (or by `value_bounds` when given), then
//!   `sigma(q) = (c_visit + max_b N(b)) * c_scale * q`.
//! * Below the root, selection is deterministic: `argmax_a pi'(a) - N(a) / (1 + sum_b N(b))` with
//!   the improved policy `pi' = softmax(log prior + sigma(completed q))`.
//! * The policy target is `pi'` at the root; the action played is the sequential-halving winner:
//!   among the considered actions with the most visits, the largest `g + log prior + sigma(q)`.

// index loops walk several parallel arrays (priors, children, sigma) by action
#![allow(clippy::needless_range_loop)]

use super::{MctsBatch, ROOT};

/// Visits a considered root action must have to be chosen at each simulation, for `m`
/// considered actions and a budget of `num_simulations`.
pub fn considered_visit_schedule(m: usize, num_simulations: usize) -> Vec<u32> {
    if m <= 1 {
        return (0..num_simulations as u32).collect();
    }
    let phases = (usize::BITS - (m - 1).leading_zeros()) as usize; // ceil(log2 m)
    let mut schedule = Vec::with_capacity(num_simulations + m);
    let mut visits = 0u32;
    let mut remaining = m;
    while schedule.len() < num_simulations {
        let rounds = (num_simulations / (phases * remaining)).max(1);
        for _ in 0..rounds {
            schedule.extend(std::iter::repeat_n(visits, remaining));
            visits += 1;
        }
        remaining = (remaining / 2).max(2);
    }
    schedule.truncate(num_simulations);
    schedule
}

/// Draws the root's Gumbel variables (zeros without noise) and marks the considered actions.
pub(crate) fn prepare_root(t: &mut MctsBatch, b: usize, noise: bool) {
    let na = t.cfg.num_actions;
    let e0 = t.edge(b, ROOT, 0);
    let mut legal_count = 0;
    for a in 0..na {
        let legal = t.legal[b * na + a];
        legal_count += legal as usize;
        t.gumbel[b * na + a] = if legal && noise {
            t.cfg.gumbel_scale * t.rngs[b].gumbel()
        } else {
            0.0
        };
        t.considered[b * na + a] = false;
    }
    for a in 0..na {
        t.log_prior[e0 + a] = t.prior[e0 + a].ln();
    }
    let m = t.cfg.max_considered_actions.min(legal_count);
    for _ in 0..m {
        let mut best = usize::MAX;
        let mut best_score = f64::NEG_INFINITY;
        for a in 0..na {
            if !t.legal[b * na + a] || t.considered[b * na + a] {
                continue;
            }
            let score = t.gumbel[b * na + a] + t.log_prior[e0 + a];
            if best == usize::MAX || score > best_score {
                best = a;
                best_score = score;
            }
        }
        t.considered[b * na + best] = true;
    }
    t.num_considered[b] = m as u32;
}

/// Writes sigma(completed, normalized Q) of every child of `node` into `out` [A] and returns
/// nothing for illegal root actions (left at 0; callers skip them).
pub(crate) fn completed_sigma(t: &MctsBatch, b: usize, node: usize, out: &mut [f64]) {
    completed_sigma_for::<0>(t, b, node, out)
}

/// The action count `A` when it is known at compile time (`A > 0`: loops unrolled, no bounds
/// checks), else the configured one.
#[inline(always)]
fn actions<const A: usize>(t: &MctsBatch) -> usize {
    if A > 0 {
        A
    } else {
        t.cfg.num_actions
    }
}

#[inline(always)]
fn completed_sigma_for<const A: usize>(t: &MctsBatch, b: usize, node: usize, out: &mut [f64]) {
    let cfg = &t.cfg;
    let na = actions::<A>(t);
    let out = &mut out[..na];
    let e0 = t.edge(b, node, 0);
    let legal = |a: usize| node != ROOT || t.legal[b * na + a];
    let (mut sum_visits, mut max_visits) = (0u64, 0u32);
    let (mut sum_pq, mut sum_p, mut sum_q, mut visited) = (0.0, 0.0, 0.0, 0usize);
    for a in 0..na {
        out[a] = 0.0;
        if !legal(a) {
            continue;
        }
        // an edge with visits is expanded (see `MctsBatch::edge_visits`)
        let n = t.edge_visits[e0 + a];
        if n > 0 {
            let q = t.edge_q[e0 + a];
            out[a] = q;
            sum_visits += n as u64;
            max_visits = max_visits.max(n);
            sum_pq += t.prior[e0 + a] * q;
            sum_p += t.prior[e0 + a];
            sum_q += q;
            visited += 1;
        }
    }
    let raw = t.raw_value[t.node(b, node)];
    let mixed = if visited == 0 {
        raw
    } else {
        let weighted = if sum_p > 0.0 {
            sum_pq / sum_p
        } else {
            sum_q / visited as f64
        };
        (raw + sum_visits as f64 * weighted) / (sum_visits as f64 + 1.0)
    };
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for a in 0..na {
        if !legal(a) {
            continue;
        }
        if t.edge_visits[e0 + a] == 0 {
            out[a] = mixed;
        }
        lo = lo.min(out[a]);
        hi = hi.max(out[a]);
    }
    if let Some(bounds) = cfg.value_bounds {
        (lo, hi) = bounds;
    }
    let scale = (cfg.gumbel_c_visit + max_visits as f64) * cfg.gumbel_c_scale;
    let span = (hi - lo).max(1e-8);
    for a in 0..na {
        if legal(a) {
            out[a] = scale * ((out[a] - lo) / span).clamp(0.0, 1.0);
        }
    }
}

/// Root action for simulation `sim` (sequential halving over the considered actions).
pub(crate) fn select_root(t: &MctsBatch, b: usize, sim: usize, scratch: &mut [f64]) -> usize {
    let na = t.cfg.num_actions;
    let m = t.num_considered[b] as usize;
    let target = t.schedule[m - 1][sim];
    let sigma = &mut scratch[..na];
    completed_sigma(t, b, ROOT, sigma);
    let e0 = t.edge(b, ROOT, 0);
    let visits = |a: usize| t.edge_visits[e0 + a];
    let mut best = usize::MAX;
    let mut best_score = f64::NEG_INFINITY;
    let mut fewest = (u32::MAX, usize::MAX);
    for a in 0..na {
        if !t.considered[b * na + a] {
            continue;
        }
        let n = visits(a);
        if n < fewest.0 {
            fewest = (n, a);
        }
        if n != target {
            continue;
        }
        let score = t.gumbel[b * na + a] + t.log_prior[e0 + a] + sigma[a];
        if best == usize::MAX || score > best_score {
            best = a;
            best_score = score;
        }
    }
    if best == usize::MAX {
        fewest.1
    } else {
        best
    }
}

/// Writes the improved policy softmax(log prior + sigma) of `node` into `out` [A] (illegal root
/// actions get 0). `sigma` is scratch of length A.
pub(crate) fn improved_policy(
    t: &MctsBatch,
    b: usize,
    node: usize,
    sigma: &mut [f64],
    out: &mut [f64],
) {
    improved_policy_for::<0>(t, b, node, sigma, out)
}

#[inline(always)]
fn improved_policy_for<const A: usize>(
    t: &MctsBatch,
    b: usize,
    node: usize,
    sigma: &mut [f64],
    out: &mut [f64],
) {
    let na = actions::<A>(t);
    let (sigma, out) = (&mut sigma[..na], &mut out[..na]);
    completed_sigma_for::<A>(t, b, node, sigma);
    let e0 = t.edge(b, node, 0);
    let legal = |a: usize| node != ROOT || t.legal[b * na + a];
    let mut max = f64::NEG_INFINITY;
    for a in 0..na {
        out[a] = if legal(a) {
            t.log_prior[e0 + a] + sigma[a]
        } else {
            f64::NEG_INFINITY
        };
        max = max.max(out[a]);
    }
    let mut total = 0.0;
    for x in out.iter_mut() {
        *x = if x.is_finite() { (*x - max).exp() } else { 0.0 };
        total += *x;
    }
    for x in out.iter_mut() {
        *x /= total;
    }
}

/// Descends tree `b`: the root by sequential halving ([`select_root`]), the nodes below by
/// [`select_interior_for`], down to the first unexpanded edge: (slot of the node, action).
/// `scratch` holds at least `2 A` values.
pub(crate) fn descend(t: &MctsBatch, b: usize, scratch: &mut [f64]) -> (usize, usize) {
    // common action counts get a copy of the loop specialized for them
    match t.cfg.num_actions {
        2 => descend_for::<2>(t, b, scratch),
        3 => descend_for::<3>(t, b, scratch),
        4 => descend_for::<4>(t, b, scratch),
        5 => descend_for::<5>(t, b, scratch),
        6 => descend_for::<6>(t, b, scratch),
        7 => descend_for::<7>(t, b, scratch),
        8 => descend_for::<8>(t, b, scratch),
        _ => descend_for::<0>(t, b, scratch),
    }
}

/// [`descend`] for `A` actions (0: any count, read from the configuration).
fn descend_for<const A: usize>(t: &MctsBatch, b: usize, scratch: &mut [f64]) -> (usize, usize) {
    let mut node = ROOT;
    let mut a = select_root(t, b, t.sims_done, scratch);
    loop {
        match t.child(b, node, a) {
            Some(c) => node = c,
            None => return (node, a),
        }
        a = select_interior_for::<A>(t, b, node, scratch);
    }
}

/// Deterministic selection below the root: argmax pi'(a) - N(a) / (1 + sum N).
#[inline(always)]
pub(crate) fn select_interior_for<const A: usize>(
    t: &MctsBatch,
    b: usize,
    node: usize,
    scratch: &mut [f64],
) -> usize {
    let na = actions::<A>(t);
    let (sigma, rest) = scratch.split_at_mut(na);
    let policy = &mut rest[..na];
    improved_policy_for::<A>(t, b, node, sigma, policy);
    let e0 = t.edge(b, node, 0);
    let child_visits = &t.edge_visits[e0..e0 + na];
    let visits = |a: usize| child_visits[a] as f64;
    let total: f64 = (0..na).map(visits).sum();
    let mut best = 0;
    let mut best_score = f64::NEG_INFINITY;
    for (a, p) in policy.iter().enumerate() {
        let score = p - visits(a) / (1.0 + total);
        if score > best_score {
            best = a;
            best_score = score;
        }
    }
    best
}

/// The action Gumbel MuZero plays: among the considered actions with the most visits, the one
/// with the largest `g + log prior + sigma(q)`.
pub(crate) fn chosen_action(t: &MctsBatch, b: usize, sigma: &mut [f64]) -> usize {
    let na = t.cfg.num_actions;
    completed_sigma(t, b, ROOT, sigma);
    let e0 = t.edge(b, ROOT, 0);
    let visits = |a: usize| t.edge_visits[e0 + a];
    let most = (0..na)
        .filter(|&a| t.considered[b * na + a])
        .map(visits)
        .max()
        .unwrap_or(0);
    let mut best = usize::MAX;
    let mut best_score = f64::NEG_INFINITY;
    for a in 0..na {
        if !t.considered[b * na + a] || visits(a) != most {
            continue;
        }
        let score = t.gumbel[b * na + a] + t.log_prior[e0 + a] + sigma[a];
        if best == usize::MAX || score > best_score {
            best = a;
            best_score = score;
        }
    }
    best
}
