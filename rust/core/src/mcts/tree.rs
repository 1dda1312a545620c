//! The batch of trees: storage, reset (root expansion), the select / backup loop, results and
//! subtree reuse. Selection rules live in [`super::puct`] and [`super::gumbel`].

use super::{gumbel, puct, Algorithm, MctsConfig, NO_ACTION, NO_PARENT, ROOT, UNEXPANDED};
use crate::error::{LobzeroError, Result};
use crate::rng::Rng;

/// Min-max statistics of the Q values (`reward + discount * value`) backed up in one tree.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinMax {
    pub min: f64,
    pub max: f64,
}

impl MinMax {
    pub const EMPTY: Self = Self {
        min: f64::INFINITY,
        max: f64::NEG_INFINITY,
    };

    /// Widens the range to take in `q`. Plain comparisons rather than `f64::min` /
    /// `f64::max`, whose NaN handling costs a backup some ten instructions per level; the
    /// result is the same (a NaN `q` changes nothing, and on a tie the old bound is kept, as
    /// the compiled `f64::min` / `f64::max` keep it: only the sign of an equal zero could
    /// tell).
    #[inline]
    pub fn update(&mut self, q: f64) {
        if q < self.min {
            self.min = q;
        }
        if q > self.max {
            self.max = q;
        }
    }

    /// `(q - min) / (max - min)` clamped to [0, 1]; 0 while the tree has seen fewer than two
    /// distinct Q values (so a lone visited child is valued like an unvisited one).
    #[inline]
    pub fn normalize(&self, q: f64) -> f64 {
        if self.max > self.min {
            ((q - self.min) / (self.max - self.min)).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// No `reset` yet.
    Empty,
    /// Ready for `select`.
    Ready,
    /// `select` ran; `backup` must come next.
    Selected,
}

/// `B` search trees in struct-of-arrays form (see the module docs for shapes and sentinels).
#[derive(Debug, Clone)]
pub struct MctsBatch {
    pub(crate) cfg: MctsConfig,
    pub(crate) capacity: usize,
    pub(crate) visit_count: Vec<u32>,
    pub(crate) value_sum: Vec<f64>,
    pub(crate) reward: Vec<f64>,
    pub(crate) parent: Vec<i32>,
    pub(crate) action_from_parent: Vec<i32>,
    /// [B, N] the value the model predicted when the node was expanded, which only Gumbel's
    /// completed Q reads; empty for MuZero (a store per backup saved).
    pub(crate) raw_value: Vec<f64>,
    pub(crate) prior: Vec<f64>,
    pub(crate) children: Vec<i32>,
    /// [B, N, A] visit count of the child behind each edge, 0 while the edge is unexpanded (a
    /// child is backed up in the same `backup` that expands it, so 0 visits means unexpanded
    /// whenever `select` runs). A copy of the child's `visit_count`, kept next to the priors so
    /// that selection reads a node's edges contiguously instead of chasing child slots.
    pub(crate) edge_visits: Vec<u32>,
    /// [B, N, A] Q (`reward + discount * value_sum / visit_count`) of the child behind each
    /// edge, for the same reason (and its only copy, refreshed by every backup); -inf while
    /// unexpanded, so that PUCT's normalized value of an unexpanded edge is 0 (the "zero" rule
    /// for unvisited children) without a test (see [`super::puct`]).
    pub(crate) edge_q: Vec<f64>,
    /// [B, N, A] `ln(prior)`, computed once at expansion because Gumbel selection needs the log
    /// prior of every child at every step; empty for MuZero.
    pub(crate) log_prior: Vec<f64>,
    /// [B] nodes in use (the next expansion's slot).
    pub(crate) num_nodes: Vec<u32>,
    /// [B, A] legal root actions.
    pub(crate) legal: Vec<bool>,
    /// [B] Q statistics (fixed to `value_bounds` when given).
    pub(crate) minmax: Vec<MinMax>,
    /// [B, A] Gumbel draws at the root (0 without noise); Gumbel only.
    pub(crate) gumbel: Vec<f64>,
    /// [B, A] root actions kept by Gumbel-top-k (the legal ones for MuZero).
    pub(crate) considered: Vec<bool>,
    /// [B] number of considered root actions.
    pub(crate) num_considered: Vec<u32>,
    /// `schedule[m - 1][s]`: visits a considered root action must have to be chosen at
    /// simulation `s` when `m` actions are considered (sequential halving).
    pub(crate) schedule: Vec<Vec<u32>>,
    /// [B] pending leaf edge chosen by `select`.
    pub(crate) pending_parent: Vec<u32>,
    pub(crate) pending_action: Vec<u32>,
    pub(crate) sims_done: usize,
    pub(crate) phase: Phase,
    pub(crate) rngs: Vec<Rng>,
    pub(crate) scratch: Vec<f64>,
    /// `pb_c_table[n] = ln((n + pb_c_base + 1) / pb_c_base) + pb_c_init` and
    /// `sqrt_table[n] = sqrt(n)` for every parent visit count `n` a tree can reach.
    pub(crate) pb_c_table: Vec<f64>,
    pub(crate) sqrt_table: Vec<f64>,
    /// PUCT's exploration factor `pb_c_table[p] * (sqrt_table[p] / (c + 1))` for parent visits
    /// `p <= exploration_max_visits` and child visits `c <= p`, row `p` starting at
    /// `p (p + 1) / 2`: the same f64 operations done once here instead of a division per child
    /// at every selection step.
    pub(crate) exploration_table: Vec<f64>,
    pub(crate) exploration_max_visits: usize,
}

/// Largest parent visit count [`MctsBatch::exploration_table`] covers (its rows then take
/// 8 (P + 1) (P + 2) / 2 bytes, some 260 KB; bigger counts compute the factor per child).
const EXPLORATION_TABLE_MAX_VISITS: usize = 255;

/// The rows of [`MctsBatch::exploration_table`] for parent visits `0..=max_visits`.
fn exploration_table(pb_c_table: &[f64], sqrt_table: &[f64], max_visits: usize) -> Vec<f64> {
    let mut table = Vec::with_capacity((max_visits + 1) * (max_visits + 2) / 2);
    for (parent_visits, (&pb_c, &sqrt)) in pb_c_table
        .iter()
        .zip(sqrt_table)
        .take(max_visits + 1)
        .enumerate()
    {
        table.extend((0..=parent_visits).map(|c| pb_c * (sqrt / (c as f64 + 1.0))));
    }
    table
}

/// Checks that the legal entries of a row of prior logits are finite.
pub(crate) fn check_logits(
    logits: &[f32],
    legal: Option<&[bool]>,
    location: impl Fn() -> String,
) -> Result<()> {
    let bad = logits
        .iter()
        .enumerate()
        .find(|&(a, x)| legal.is_none_or(|l| l[a]) && !x.is_finite());
    match bad {
        Some((a, x)) => Err(LobzeroError::invalid(
            location(),
            format!("prior logit of action {a} is {x}; logits must be finite"),
        )),
        None => Ok(()),
    }
}

/// The softmax of a row of prior logits over its legal entries (the others get 0), into
/// `out`; the legal logits must be finite ([`check_logits`]). `A > 0`: rows of that length
/// (loops unrolled); 0: any.
#[inline(always)]
pub(crate) fn softmax_row<const A: usize>(logits: &[f32], legal: Option<&[bool]>, out: &mut [f64]) {
    let (logits, out) = if A > 0 {
        (&logits[..A], &mut out[..A])
    } else {
        (logits, out)
    };
    let is_legal = |a: usize| legal.is_none_or(|l| l[a]);
    let mut max = f64::NEG_INFINITY;
    for (a, &x) in logits.iter().enumerate() {
        // a plain comparison (the logits are finite, so `f64::max`'s NaN handling is not
        // needed); on equal zeros either is kept, and `x - max` gives the same exponential
        if is_legal(a) && x as f64 > max {
            max = x as f64;
        }
    }
    let mut total = 0.0;
    for (a, (o, &x)) in out.iter_mut().zip(logits).enumerate() {
        *o = if is_legal(a) {
            (x as f64 - max).exp()
        } else {
            0.0
        };
        total += *o;
    }
    for o in out.iter_mut() {
        *o /= total;
    }
}

pub(crate) fn check_len(name: &str, got: usize, want: usize, shape: &str) -> Result<()> {
    if got != want {
        return Err(LobzeroError::config(format!(
            "mcts: {name} must have shape {shape} ({want} values), got {got} values"
        )));
    }
    Ok(())
}

/// Index of the first value that is not finite. Whether there is one is checked first, in a
/// loop the compiler vectorizes: the values are almost always finite, and a scalar search
/// over the `[B, A]` logits of every backup cost a tenth of the backup itself.
pub(crate) fn first_non_finite(values: &[f32]) -> Option<usize> {
    if !values.iter().fold(false, |bad, v| bad | !v.is_finite()) {
        return None;
    }
    values.iter().position(|v| !v.is_finite())
}

pub(crate) fn check_finite(name: &str, values: &[f32]) -> Result<()> {
    match first_non_finite(values) {
        Some(b) => Err(LobzeroError::invalid(
            format!("{name}[{b}]"),
            format!("is {}; must be finite", values[b]),
        )),
        None => Ok(()),
    }
}

impl MctsBatch {
    pub fn new(cfg: MctsConfig) -> Result<Self> {
        cfg.validate()?;
        let (b, a, n) = (cfg.num_roots, cfg.num_actions, cfg.capacity());
        let max_m = cfg.max_considered_actions.min(a);
        let schedule = (1..=max_m)
            .map(|m| gumbel::considered_visit_schedule(m, cfg.num_simulations))
            .collect();
        let rngs = (0..b as u64).map(|i| Rng::derive(cfg.seed, i)).collect();
        let pb_c_table: Vec<f64> = (0..=n + 1)
            .map(|v| ((v as f64 + cfg.pb_c_base + 1.0) / cfg.pb_c_base).ln() + cfg.pb_c_init)
            .collect();
        let sqrt_table: Vec<f64> = (0..=n + 1).map(|v| (v as f64).sqrt()).collect();
        let exploration_max_visits = (n + 1).min(EXPLORATION_TABLE_MAX_VISITS);
        Ok(Self {
            capacity: n,
            visit_count: vec![0; b * n],
            value_sum: vec![0.0; b * n],
            reward: vec![0.0; b * n],
            parent: vec![NO_PARENT; b * n],
            action_from_parent: vec![NO_ACTION; b * n],
            raw_value: match cfg.algorithm {
                Algorithm::Gumbel => vec![0.0; b * n],
                Algorithm::MuZero => Vec::new(),
            },
            prior: vec![0.0; b * n * a],
            children: vec![UNEXPANDED; b * n * a],
            edge_visits: vec![0; b * n * a],
            edge_q: vec![f64::NEG_INFINITY; b * n * a],
            log_prior: match cfg.algorithm {
                Algorithm::Gumbel => vec![0.0; b * n * a],
                Algorithm::MuZero => Vec::new(),
            },
            num_nodes: vec![0; b],
            legal: vec![true; b * a],
            minmax: vec![MinMax::EMPTY; b],
            gumbel: vec![0.0; b * a],
            considered: vec![true; b * a],
            num_considered: vec![a as u32; b],
            schedule,
            pending_parent: vec![0; b],
            pending_action: vec![0; b],
            sims_done: 0,
            phase: Phase::Empty,
            rngs,
            scratch: vec![0.0; 4 * a],
            exploration_table: exploration_table(&pb_c_table, &sqrt_table, exploration_max_visits),
            exploration_max_visits,
            pb_c_table,
            sqrt_table,
            cfg,
        })
    }

    pub fn config(&self) -> &MctsConfig {
        &self.cfg
    }

    /// Nodes per tree (`N`).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Simulations run since the last `reset` / `reuse_subtree`.
    pub fn simulations_done(&self) -> usize {
        self.sims_done
    }

    #[inline]
    pub(crate) fn node(&self, b: usize, n: usize) -> usize {
        b * self.capacity + n
    }

    #[inline]
    pub(crate) fn edge(&self, b: usize, n: usize, a: usize) -> usize {
        (b * self.capacity + n) * self.cfg.num_actions + a
    }

    /// Child slot of edge (n, a) of tree b, or `None` when unexpanded.
    #[inline]
    pub(crate) fn child(&self, b: usize, n: usize, a: usize) -> Option<usize> {
        let c = self.children[self.edge(b, n, a)];
        (c != UNEXPANDED).then_some(c as usize)
    }

    /// `reward + discount * mean value` of node `c` (a visited child, not the root), from
    /// its parent's edge.
    #[inline]
    pub(crate) fn q_of(&self, b: usize, c: usize) -> f64 {
        let i = self.node(b, c);
        self.edge_q[self.edge(
            b,
            self.parent[i] as usize,
            self.action_from_parent[i] as usize,
        )]
    }

    fn fresh_minmax(&self) -> MinMax {
        match self.cfg.value_bounds {
            Some((min, max)) => MinMax { min, max },
            None => MinMax::EMPTY,
        }
    }

    /// Expands every root from the model's output and backs its value up once (root visits 1).
    /// `prior_logits` is [B, A], `values` [B], `legal` [B, A] (None: all legal). With `noise`,
    /// MuZero mixes Dirichlet noise into the root prior and Gumbel draws its Gumbel variables
    /// (without, Gumbel uses zeros: a deterministic search for evaluation).
    pub fn reset(
        &mut self,
        prior_logits: &[f32],
        values: &[f32],
        noise: bool,
        legal: Option<&[bool]>,
    ) -> Result<()> {
        let (nb, na) = (self.cfg.num_roots, self.cfg.num_actions);
        check_len("prior_logits", prior_logits.len(), nb * na, "[B, A]")?;
        check_len("values", values.len(), nb, "[B]")?;
        if let Some(l) = legal {
            check_len("legal_mask", l.len(), nb * na, "[B, A]")?;
        }
        check_finite("values", values)?;
        for b in 0..nb {
            let row = legal.map(|l| &l[b * na..(b + 1) * na]);
            self.reset_tree(
                b,
                &prior_logits[b * na..(b + 1) * na],
                values[b],
                noise,
                row,
            )?;
        }
        self.sims_done = 0;
        self.phase = Phase::Ready;
        Ok(())
    }

    pub(crate) fn reset_tree(
        &mut self,
        b: usize,
        logits: &[f32],
        value: f32,
        noise: bool,
        legal: Option<&[bool]>,
    ) -> Result<()> {
        let na = self.cfg.num_actions;
        if let Some(l) = legal {
            if !l.iter().any(|&x| x) {
                return Err(LobzeroError::invalid(
                    format!("legal_mask[{b}]"),
                    "has no legal action",
                ));
            }
        }
        let r = self.node(b, ROOT);
        let e = self.edge(b, ROOT, 0);
        check_logits(logits, legal, || format!("prior_logits[{b}]"))?;
        softmax_row::<0>(logits, legal, &mut self.prior[e..e + na]);
        let used = (self.num_nodes[b] as usize).max(1);
        self.clear_edges(b, 0, used);
        for a in 0..na {
            self.legal[b * na + a] = legal.is_none_or(|l| l[a]);
        }
        self.visit_count[r] = 1;
        self.value_sum[r] = value as f64;
        self.reward[r] = 0.0;
        self.parent[r] = NO_PARENT;
        self.action_from_parent[r] = NO_ACTION;
        if let Some(raw) = self.raw_value.get_mut(r) {
            *raw = value as f64;
        }
        self.num_nodes[b] = 1;
        self.minmax[b] = self.fresh_minmax();
        match self.cfg.algorithm {
            Algorithm::MuZero => {
                self.considered[b * na..(b + 1) * na]
                    .copy_from_slice(&self.legal[b * na..(b + 1) * na]);
                self.num_considered[b] = self.legal[b * na..(b + 1) * na]
                    .iter()
                    .filter(|&&x| x)
                    .count() as u32;
                if noise {
                    self.add_root_noise(b);
                }
            }
            Algorithm::Gumbel => gumbel::prepare_root(self, b, noise),
        }
        Ok(())
    }

    /// Marks every edge of slots `from..to` of tree `b` unexpanded (no child, 0 visits, q -inf).
    /// The edge rows of the slots at and above `num_nodes[b]` are kept clean this way (by
    /// `reset_tree` and `reuse_subtree`, over the slots the last search used, one contiguous
    /// fill per array), so `backup` expands a node without writing its row.
    pub(crate) fn clear_edges(&mut self, b: usize, from: usize, to: usize) {
        let (e0, e1) = (self.edge(b, from, 0), self.edge(b, to, 0));
        self.children[e0..e1].fill(UNEXPANDED);
        self.edge_visits[e0..e1].fill(0);
        self.edge_q[e0..e1].fill(f64::NEG_INFINITY);
    }

    /// Mixes Dirichlet(alpha) noise over the legal root actions into the root prior.
    pub(crate) fn add_root_noise(&mut self, b: usize) {
        let na = self.cfg.num_actions;
        let legal_count = self.num_considered[b] as usize;
        let frac = self.cfg.exploration_fraction;
        let mut noise = std::mem::take(&mut self.scratch);
        self.rngs[b].dirichlet(self.cfg.dirichlet_alpha, &mut noise[..legal_count]);
        let e = self.edge(b, ROOT, 0);
        let mut k = 0;
        for a in 0..na {
            if self.legal[b * na + a] {
                let p = &mut self.prior[e + a];
                *p = *p * (1.0 - frac) + noise[k] * frac;
                k += 1;
            }
        }
        self.scratch = noise;
    }

    /// The state checks of `select`: after a `reset`, not twice in a row, within the budget,
    /// and with room in every tree for the expansion.
    pub(crate) fn check_can_select(&self) -> Result<()> {
        let nb = self.cfg.num_roots;
        match self.phase {
            Phase::Empty => return Err(LobzeroError::config("mcts: select called before reset")),
            Phase::Selected => {
                return Err(LobzeroError::config(
                    "mcts: select called twice; call backup with the model's output first",
                ))
            }
            Phase::Ready => {}
        }
        if self.sims_done >= self.cfg.num_simulations {
            return Err(LobzeroError::config(format!(
                "mcts: the simulation budget ({}) is spent; call reset or reuse_subtree",
                self.cfg.num_simulations
            )));
        }
        if let Some(b) = (0..nb).find(|&b| self.num_nodes[b] as usize >= self.capacity) {
            return Err(LobzeroError::config(format!(
                "mcts: tree {b} is full ({} nodes)",
                self.capacity
            )));
        }
        Ok(())
    }

    /// Chooses, for every tree, the leaf edge to expand: writes the slot of the node to expand
    /// from into `parent_slot` [B] and the action to apply into `action` [B].
    pub fn select(&mut self, parent_slot: &mut [i64], action: &mut [i64]) -> Result<()> {
        let nb = self.cfg.num_roots;
        check_len("parent_slot", parent_slot.len(), nb, "[B]")?;
        check_len("action", action.len(), nb, "[B]")?;
        self.check_can_select()?;
        // One thread: a descent costs about 100 ns, so a whole `select` over 256 trees is some
        // 30 us, and splitting it over rayon's pool measured slower (2 cores: 1.6 ms vs 1.3 ms
        // per 50-simulation search at B=256, worse on average, and no gain up to B=4096; the
        // hand-off and the spinning workers cost more than they save).
        match self.cfg.algorithm {
            Algorithm::MuZero => puct::descend_trees(self, parent_slot, action),
            Algorithm::Gumbel => {
                let mut scratch = std::mem::take(&mut self.scratch);
                for b in 0..nb {
                    let (node, a) = gumbel::descend(self, b, &mut scratch);
                    parent_slot[b] = node as i64;
                    action[b] = a as i64;
                }
                self.scratch = scratch;
            }
        }
        for b in 0..nb {
            self.pending_parent[b] = parent_slot[b] as u32;
            self.pending_action[b] = action[b] as u32;
        }
        self.phase = Phase::Selected;
        Ok(())
    }

    /// Slot each tree's next expansion goes to (`s + 1` at simulation `s` of a fresh search).
    pub fn next_slots(&self) -> Vec<i64> {
        self.num_nodes.iter().map(|&n| n as i64).collect()
    }

    /// Expands the leaves chosen by `select` with the model's output (`reward` [B] on the new
    /// edge, `value` [B] and `prior_logits` [B, A] of the new node) and backs the value up.
    pub fn backup(&mut self, reward: &[f32], value: &[f32], prior_logits: &[f32]) -> Result<()> {
        let (nb, na) = (self.cfg.num_roots, self.cfg.num_actions);
        if self.phase != Phase::Selected {
            return Err(LobzeroError::config(
                "mcts: backup called without a select before it",
            ));
        }
        check_len("reward", reward.len(), nb, "[B]")?;
        check_len("value", value.len(), nb, "[B]")?;
        check_len("prior_logits", prior_logits.len(), nb * na, "[B, A]")?;
        check_finite("reward", reward)?;
        check_finite("value", value)?;
        // validate every row before touching any tree, so an error leaves the batch unchanged
        if let Some(i) = first_non_finite(prior_logits) {
            return Err(LobzeroError::invalid(
                format!("prior_logits[{}]", i / na),
                format!(
                    "prior logit of action {} is {}; logits must be finite",
                    i % na,
                    prior_logits[i]
                ),
            ));
        }
        // common action counts get a copy of the loop specialized for them
        match na {
            2 => self.expand_and_back_up::<2>(reward, value, prior_logits),
            3 => self.expand_and_back_up::<3>(reward, value, prior_logits),
            4 => self.expand_and_back_up::<4>(reward, value, prior_logits),
            5 => self.expand_and_back_up::<5>(reward, value, prior_logits),
            6 => self.expand_and_back_up::<6>(reward, value, prior_logits),
            7 => self.expand_and_back_up::<7>(reward, value, prior_logits),
            8 => self.expand_and_back_up::<8>(reward, value, prior_logits),
            _ => self.expand_and_back_up::<0>(reward, value, prior_logits),
        }
        self.sims_done += 1;
        self.phase = Phase::Ready;
        Ok(())
    }

    /// The work of [`Self::backup`] once its inputs are validated, for `A` actions (0: any
    /// count, read from the configuration).
    fn expand_and_back_up<const A: usize>(
        &mut self,
        reward: &[f32],
        value: &[f32],
        prior_logits: &[f32],
    ) {
        let (nb, na) = (self.cfg.num_roots, self.cfg.num_actions);
        let na = if A > 0 { A } else { na };
        let discount = self.cfg.discount;
        let fixed_bounds = self.cfg.value_bounds.is_some();
        let gumbel = self.cfg.algorithm == Algorithm::Gumbel;
        for b in 0..nb {
            let parent = self.pending_parent[b] as usize;
            let a = self.pending_action[b] as usize;
            let slot = self.num_nodes[b] as usize;
            self.num_nodes[b] += 1;
            let base = b * self.capacity;
            let i = base + slot;
            let e = i * na;
            self.children[(base + parent) * na + a] = slot as i32;
            self.parent[i] = parent as i32;
            self.action_from_parent[i] = a as i32;
            self.reward[i] = reward[b] as f64;
            self.visit_count[i] = 0;
            self.value_sum[i] = 0.0;
            // the new node's edge row is already clean (see `clear_edges`)
            debug_assert!(self.children[e..e + na].iter().all(|&c| c == UNEXPANDED));
            // the row was validated above
            softmax_row::<A>(
                &prior_logits[b * na..(b + 1) * na],
                None,
                &mut self.prior[e..e + na],
            );
            if gumbel {
                self.raw_value[i] = value[b] as f64;
                for (l, p) in self.log_prior[e..e + na]
                    .iter_mut()
                    .zip(&self.prior[e..e + na])
                {
                    *l = p.ln();
                }
            }
            // walk up to the root; the min-max statistics stay in registers until the end
            let mut mm = self.minmax[b];
            let mut g = value[b] as f64;
            let mut i = i;
            loop {
                let visits = self.visit_count[i] + 1;
                let value_sum = self.value_sum[i] + g;
                self.visit_count[i] = visits;
                self.value_sum[i] = value_sum;
                let p = self.parent[i];
                if p == NO_PARENT {
                    break;
                }
                let reward = self.reward[i];
                let q = reward + discount * (value_sum / visits as f64);
                let pe = (base + p as usize) * na + self.action_from_parent[i] as usize;
                self.edge_visits[pe] = visits;
                self.edge_q[pe] = q;
                if !fixed_bounds {
                    mm.update(q);
                }
                g = reward + discount * g;
                i = base + p as usize;
            }
            self.minmax[b] = mm;
        }
    }
}
