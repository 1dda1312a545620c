//! `MctsBatch` for Python: a batch of MuZero / Gumbel MuZero search trees stepped from Python
//! with numpy arrays (read in place when float32/bool and C-contiguous), the GIL released
//! around the tree work. See `lobzero.mcts` for the user-facing documentation.

use crate::errors::{count, to_py, IntoPyResult};
use lobzero_core::mcts::{self, Algorithm, MctsConfig, UnvisitedValue};
use lobzero_core::LobzeroError;
use numpy::{
    AllowTypeChange, Element, PyArray1, PyArray2, PyArrayLike1, PyArrayLike2, PyArrayMethods,
    PyUntypedArrayMethods,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::borrow::Cow;

type F32Matrix<'py> = PyArrayLike2<'py, f32, AllowTypeChange>;
type F32Vector<'py> = PyArrayLike1<'py, f32, AllowTypeChange>;
type SlotsAndActions<'py> = (Bound<'py, PyArray1<i64>>, Bound<'py, PyArray1<i64>>);

fn config_err(message: String) -> PyErr {
    to_py(LobzeroError::config(message))
}

/// The array's data without a copy when it is contiguous, else a copy in C order.
fn data<'a, T: Element + Copy, D: numpy::ndarray::Dimension>(
    array: &'a numpy::PyReadonlyArray<'_, T, D>,
) -> Cow<'a, [T]> {
    match array.as_slice() {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(array.as_array().iter().copied().collect()),
    }
}

fn check_shape(name: &str, got: &[usize], want: &[usize]) -> PyResult<()> {
    if got != want {
        return Err(config_err(format!(
            "mcts: {name} must have shape {want:?}, got {got:?}"
        )));
    }
    Ok(())
}

fn matrix<'py>(py: Python<'py>, v: Vec<f32>, rows: usize) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let cols = v.len() / rows.max(1);
    PyArray1::from_vec(py, v).reshape([rows, cols])
}

fn matrix_i64<'py>(
    py: Python<'py>,
    v: Vec<i64>,
    rows: usize,
) -> PyResult<Bound<'py, PyArray2<i64>>> {
    let cols = v.len() / rows.max(1);
    PyArray1::from_vec(py, v).reshape([rows, cols])
}

fn parse_config(
    num_roots: usize,
    num_actions: usize,
    num_simulations: usize,
    config: Option<&Bound<'_, PyDict>>,
) -> PyResult<MctsConfig> {
    let mut c = MctsConfig::new(num_roots, num_actions, num_simulations);
    let Some(config) = config else {
        c.validate().py()?;
        return Ok(c);
    };
    for (key, value) in config.iter() {
        let key: String = key.extract()?;
        let bad =
            |want: &str| config_err(format!("mcts config {key}: expected {want}, got {value}"));
        let float = || value.extract::<f64>().map_err(|_| bad("a number"));
        match key.as_str() {
            "discount" => c.discount = float()?,
            "pb_c_base" => c.pb_c_base = float()?,
            "pb_c_init" => c.pb_c_init = float()?,
            "dirichlet_alpha" => c.dirichlet_alpha = float()?,
            "exploration_fraction" => c.exploration_fraction = float()?,
            "gumbel_c_visit" => c.gumbel_c_visit = float()?,
            "gumbel_c_scale" => c.gumbel_c_scale = float()?,
            "gumbel_scale" => c.gumbel_scale = float()?,
            "seed" => c.seed = value.extract().map_err(|_| bad("an integer >= 0"))?,
            "max_considered_actions" => {
                c.max_considered_actions = value.extract().map_err(|_| bad("an integer >= 1"))?
            }
            "reuse_subtree" => c.reuse_subtree = value.extract().map_err(|_| bad("a bool"))?,
            "algorithm" => {
                let name: String = value.extract().map_err(|_| bad("a string"))?;
                c.algorithm = Algorithm::parse(&name).py()?;
            }
            "unvisited_value" => {
                let name: String = value.extract().map_err(|_| bad("a string"))?;
                c.unvisited_value = UnvisitedValue::parse(&name).py()?;
            }
            "value_bounds" => {
                c.value_bounds = if value.is_none() {
                    None
                } else {
                    Some(value.extract().map_err(|_| bad("None or (min, max)"))?)
                }
            }
            _ => return Err(config_err(format!("unknown mcts config key {key:?}"))),
        }
    }
    c.validate().py()?;
    Ok(c)
}

/// `num_roots` (B) MuZero / Gumbel MuZero search trees stepped together from Python: one
/// model call per simulation for the whole batch, the latents kept by the caller in a
/// `[B, N, ...]` store indexed by slot (N = `capacity`: the root is slot 0, the node expanded
/// by simulation s of a fresh search is slot s + 1). A = `num_actions`, S = `num_simulations`.
/// Arrays are float32 (bool for masks), read in place when C-contiguous.
///
/// Configuration keywords (`**config`, defaults in brackets):
///
/// - `algorithm` ["muzero"]: "muzero" (PUCT, Dirichlet root noise, visit-count target) or
///   "gumbel" (Gumbel MuZero: Gumbel-top-k, sequential halving, improved-policy target).
/// - `discount` [0.997]: per-step discount of rewards along a path, in [0, 1].
/// - `pb_c_base` [19652], `pb_c_init` [1.25]: PUCT exploration
///   `ln((N + base + 1) / base) + init` (MuZero only).
/// - `dirichlet_alpha` [0.3], `exploration_fraction` [0.25]: root noise concentration and its
///   weight in the root prior (MuZero only; applied when `reset(noise=True)`).
/// - `value_bounds` [None]: known (min, max) of Q values; None normalizes Q by the min-max
///   seen in each tree.
/// - `unvisited_value` ["zero"]: PUCT value of an unvisited child, "zero" (MuZero
///   pseudocode) or "parent" (the parent's mean value).
/// - `max_considered_actions` [16]: Gumbel's k (root actions kept by Gumbel-top-k).
/// - `gumbel_c_visit` [50], `gumbel_c_scale` [0.1]: Gumbel's
///   `sigma(q) = (c_visit + max visits) * c_scale * q`.
/// - `gumbel_scale` [1]: multiplier of the root's Gumbel draws with noise (mctx's
///   `gumbel_scale`; 0 searches as without noise).
/// - `reuse_subtree` [False]: doubles `capacity` to 2 S + 1 so that `reuse_subtree` can keep
///   the chosen subtree as the next root (algorithm "muzero" only: Gumbel's sequential
///   halving needs a fresh root).
/// - `seed` [0]: seed of the noise, Gumbel draws and temperature sampling (integer >= 0).
///
/// Raises `ConfigError` for an unknown key, a value of the wrong type or out of range, and
/// for arrays of the wrong shape or calls out of order (`select` before `reset`, two
/// `select` without a `backup`, more than S simulations).
#[pyclass(module = "lobzero._core")]
pub struct MctsBatch {
    inner: mcts::MctsBatch,
}

impl MctsBatch {
    fn shape(&self) -> (usize, usize) {
        let c = self.inner.config();
        (c.num_roots, c.num_actions)
    }
}

#[pymethods]
impl MctsBatch {
    #[new]
    #[pyo3(signature = (num_roots, num_actions, num_simulations, **config))]
    fn new(
        num_roots: i64,
        num_actions: i64,
        num_simulations: i64,
        config: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let cfg = parse_config(
            count("num_roots", num_roots)?,
            count("num_actions", num_actions)?,
            count("num_simulations", num_simulations)?,
            config,
        )?;
        Ok(Self {
            inner: mcts::MctsBatch::new(cfg).py()?,
        })
    }

    /// B, the number of trees.
    #[getter]
    fn num_roots(&self) -> usize {
        self.inner.config().num_roots
    }
    /// A, the number of actions of every decision node.
    #[getter]
    fn num_actions(&self) -> usize {
        self.inner.config().num_actions
    }
    /// S, the simulation budget of one search.
    #[getter]
    fn num_simulations(&self) -> usize {
        self.inner.config().num_simulations
    }
    /// N, slots per tree: S + 1, or 2 S + 1 with `reuse_subtree=True`.
    #[getter]
    fn capacity(&self) -> usize {
        self.inner.capacity()
    }
    /// Simulations run since the last `reset` (or `reuse_subtree`), 0..=S.
    #[getter]
    fn simulations_done(&self) -> usize {
        self.inner.simulations_done()
    }
    /// "muzero" (PUCT) or "gumbel" (Gumbel MuZero), from the `algorithm` keyword.
    #[getter]
    fn algorithm(&self) -> &'static str {
        match self.inner.config().algorithm {
            Algorithm::MuZero => "muzero",
            Algorithm::Gumbel => "gumbel",
        }
    }

    /// Starts a new search: expands every root from the representation/prediction output
    /// and backs its value up once. `prior_logits` [B, A] (unnormalized log-probabilities),
    /// `values` [B]; `legal_mask` [B, A] bool (None: all legal) restricts the root actions.
    /// `noise=True` mixes Dirichlet noise into the root prior (MuZero) or draws the Gumbel
    /// variables (Gumbel); `noise=False` gives a deterministic search for evaluation.
    #[pyo3(signature = (prior_logits, values, noise = true, legal_mask = None))]
    fn reset(
        &mut self,
        py: Python<'_>,
        prior_logits: F32Matrix<'_>,
        values: F32Vector<'_>,
        noise: bool,
        legal_mask: Option<PyArrayLike2<'_, bool, AllowTypeChange>>,
    ) -> PyResult<()> {
        let (b, a) = self.shape();
        check_shape("prior_logits", prior_logits.shape(), &[b, a])?;
        check_shape("values", values.shape(), &[b])?;
        if let Some(m) = &legal_mask {
            check_shape("legal_mask", m.shape(), &[b, a])?;
        }
        let (logits, values) = (data(&prior_logits), data(&values));
        let mask = legal_mask.as_ref().map(|m| data(m));
        let inner = &mut self.inner;
        py.detach(|| inner.reset(&logits, &values, noise, mask.as_deref()))
            .py()
    }

    /// (parent_slot [B], action [B]) of the leaf edge each tree expands next.
    fn select<'py>(&mut self, py: Python<'py>) -> PyResult<SlotsAndActions<'py>> {
        let (b, _) = self.shape();
        let (mut parent_slot, mut action) = (vec![0i64; b], vec![0i64; b]);
        let inner = &mut self.inner;
        py.detach(|| inner.select(&mut parent_slot, &mut action))
            .py()?;
        Ok((
            PyArray1::from_vec(py, parent_slot),
            PyArray1::from_vec(py, action),
        ))
    }

    /// Expands the leaves the last `select` chose with the model's output and backs the
    /// value up their paths: `reward` [B] on the new edge, `value` [B] and `prior_logits`
    /// [B, A] of the new node (slot `next_slots()` before the `select`).
    fn backup(
        &mut self,
        py: Python<'_>,
        reward: F32Vector<'_>,
        value: F32Vector<'_>,
        prior_logits: F32Matrix<'_>,
    ) -> PyResult<()> {
        let (b, a) = self.shape();
        check_shape("reward", reward.shape(), &[b])?;
        check_shape("value", value.shape(), &[b])?;
        check_shape("prior_logits", prior_logits.shape(), &[b, a])?;
        let (r, v, l) = (data(&reward), data(&value), data(&prior_logits));
        let inner = &mut self.inner;
        py.detach(|| inner.backup(&r, &v, &l)).py()
    }

    /// [B] int64: the slot each tree's next expansion writes (s + 1 at simulation s
    /// of a fresh search); where to store the latent `backup` is given for.
    fn next_slots<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        PyArray1::from_vec(py, self.inner.next_slots())
    }

    /// [B, A] int64: visits of each root action.
    fn root_visit_counts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<i64>>> {
        let v = self.inner.root_visit_counts().py()?;
        matrix_i64(py, v, self.shape().0)
    }

    /// [B] float32: mean value of each root (`value_sum / visit_count`, the root's
    /// own expansion included).
    fn root_values<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f32>>> {
        Ok(PyArray1::from_vec(py, self.inner.root_values().py()?))
    }

    /// [B, A] float32: Q `reward + discount * value` of each root action (NaN for
    /// unvisited actions); with `normalized`, mapped into [0, 1] by the tree's min-max
    /// statistics.
    #[pyo3(signature = (normalized = false))]
    fn root_q_values<'py>(
        &self,
        py: Python<'py>,
        normalized: bool,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let v = self.inner.root_q_values(normalized).py()?;
        matrix(py, v, self.shape().0)
    }

    /// [B, A] float32 training target for the policy head, each row summing to 1
    /// (illegal actions 0). MuZero: root visit counts over their sum. Gumbel: the improved
    /// policy softmax(log prior + sigma(completed Q)).
    fn policy_target<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let inner = &self.inner;
        let v = py.detach(|| inner.policy_target()).py()?;
        matrix(py, v, self.shape().0)
    }

    /// [B] int64 action to play. MuZero: `temperature == 0` takes the most visited
    /// root action (lowest index on ties), `temperature > 0` samples with probability
    /// proportional to `N(a) ** (1 / temperature)` from the seeded stream. Gumbel: the
    /// sequential-halving winner (`temperature` unused: the Gumbel draws already explore).
    #[pyo3(signature = (temperature = 0.0))]
    fn select_action<'py>(
        &mut self,
        py: Python<'py>,
        temperature: f64,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let inner = &mut self.inner;
        let v = py.detach(|| inner.select_action(temperature)).py()?;
        Ok(PyArray1::from_vec(py, v))
    }

    /// [B, A] bool: root actions the search may visit (the legal ones for
    /// MuZero, the Gumbel-top-k for Gumbel).
    fn considered_actions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<bool>>> {
        let v = self.inner.considered_actions().py()?;
        let cols = self.shape().1;
        PyArray1::from_vec(py, v).reshape([self.shape().0, cols])
    }

    /// [B, N] int64: visit count of every slot (0 for unused slots).
    fn node_visit_counts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<i64>>> {
        matrix_i64(py, self.inner.node_visit_counts(), self.shape().0)
    }

    /// [B, N] int64: parent slot of every slot (-1 for the root and unused slots).
    fn node_parents<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<i64>>> {
        matrix_i64(py, self.inner.node_parents(), self.shape().0)
    }

    /// Moves each tree's root to the child reached by `actions` [B] int64 (needs
    /// `reuse_subtree=True`), compacting the kept subtree into slots 0..k. Trees whose child
    /// was never expanded restart from `prior_logits` [B, A] / `values` [B] like `reset`; for
    /// the others those rows are ignored (but must be finite). `legal_mask` [B, A] and `noise`
    /// apply to the new roots. Returns `kept_slot` [B, N] int64: the old slot now held by each
    /// new slot, -1 for free slots (and for slot 0 of a restarted tree, whose latent the caller
    /// writes from the representation network).
    #[pyo3(signature = (actions, prior_logits, values, noise = true, legal_mask = None))]
    fn reuse_subtree<'py>(
        &mut self,
        py: Python<'py>,
        actions: PyArrayLike1<'py, i64, AllowTypeChange>,
        prior_logits: F32Matrix<'py>,
        values: F32Vector<'py>,
        noise: bool,
        legal_mask: Option<PyArrayLike2<'py, bool, AllowTypeChange>>,
    ) -> PyResult<Bound<'py, PyArray2<i64>>> {
        let (b, a) = self.shape();
        check_shape("actions", actions.shape(), &[b])?;
        check_shape("prior_logits", prior_logits.shape(), &[b, a])?;
        check_shape("values", values.shape(), &[b])?;
        if let Some(m) = &legal_mask {
            check_shape("legal_mask", m.shape(), &[b, a])?;
        }
        let (act, logits, vals) = (data(&actions), data(&prior_logits), data(&values));
        let mask = legal_mask.as_ref().map(|m| data(m));
        let inner = &mut self.inner;
        let kept = py
            .detach(|| inner.reuse_subtree(&act, &logits, &vals, noise, mask.as_deref()))
            .py()?;
        matrix_i64(py, kept, b)
    }

    fn __repr__(&self) -> String {
        let c = self.inner.config();
        format!(
            "MctsBatch(num_roots={}, num_actions={}, num_simulations={}, algorithm={:?})",
            c.num_roots,
            c.num_actions,
            c.num_simulations,
            self.algorithm()
        )
    }
}

type Selection<'py> = (
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<bool>>,
);

/// `num_roots` (B) Stochastic MuZero search trees (Antonoglou et al., 2022): decision nodes
/// (states, A = `num_actions` children) alternate with chance nodes (afterstates, C =
/// `chance_outcomes` children, the codes of the chance encoder). Slots: N = `capacity` =
/// `num_simulations` + 1 per tree, the root is slot 0 and simulation s expands slot s + 1.
/// The roots are decision nodes; at a chance node the code `argmax_c prior(c) / (N(c) + 1)`
/// is followed. Arrays are float32, read in place when C-contiguous.
///
/// Configuration keywords (`**config`) are those of `MctsBatch` (`algorithm`, `discount`,
/// `pb_c_base`, `pb_c_init`, `dirichlet_alpha`, `exploration_fraction`, `value_bounds`,
/// `unvisited_value`, `max_considered_actions`, `gumbel_c_visit`, `gumbel_c_scale`,
/// `gumbel_scale`, `seed`)
/// with the same defaults; subtree reuse is not supported with chance nodes. Raises
/// `ConfigError` like `MctsBatch`.
#[pyclass(module = "lobzero._core")]
pub struct StochasticMctsBatch {
    inner: mcts::StochasticMctsBatch,
}

impl StochasticMctsBatch {
    fn shape(&self) -> (usize, usize, usize) {
        let c = self.inner.config();
        (c.num_roots, c.num_actions, self.inner.num_outcomes())
    }
}

#[pymethods]
impl StochasticMctsBatch {
    #[new]
    #[pyo3(signature = (num_roots, num_actions, num_simulations, chance_outcomes, **config))]
    fn new(
        num_roots: usize,
        num_actions: usize,
        num_simulations: usize,
        chance_outcomes: usize,
        config: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let cfg = parse_config(num_roots, num_actions, num_simulations, config)?;
        Ok(Self {
            inner: mcts::StochasticMctsBatch::new(cfg, chance_outcomes).py()?,
        })
    }

    /// B, the number of trees.
    #[getter]
    fn num_roots(&self) -> usize {
        self.shape().0
    }
    /// A, the number of actions of a decision node.
    #[getter]
    fn num_actions(&self) -> usize {
        self.shape().1
    }
    /// C, the number of codes (children) of a chance node.
    #[getter]
    fn chance_outcomes(&self) -> usize {
        self.shape().2
    }
    /// S, the simulation budget of one search.
    #[getter]
    fn num_simulations(&self) -> usize {
        self.inner.config().num_simulations
    }
    /// N = S + 1, slots per tree.
    #[getter]
    fn capacity(&self) -> usize {
        self.inner.tree().capacity()
    }
    /// Simulations run since the last `reset`, 0..=S.
    #[getter]
    fn simulations_done(&self) -> usize {
        self.inner.tree().simulations_done()
    }
    /// "muzero" (PUCT) or "gumbel" (Gumbel MuZero), from the `algorithm` keyword.
    #[getter]
    fn algorithm(&self) -> &'static str {
        match self.inner.config().algorithm {
            Algorithm::MuZero => "muzero",
            Algorithm::Gumbel => "gumbel",
        }
    }

    /// Starts a new search: expands every root (a decision node) from `prior_logits`
    /// [B, A] and `values` [B]; `legal_mask` [B, A] bool (None: all legal), `noise` as in
    /// `MctsBatch.reset`.
    #[pyo3(signature = (prior_logits, values, noise = true, legal_mask = None))]
    fn reset(
        &mut self,
        py: Python<'_>,
        prior_logits: F32Matrix<'_>,
        values: F32Vector<'_>,
        noise: bool,
        legal_mask: Option<PyArrayLike2<'_, bool, AllowTypeChange>>,
    ) -> PyResult<()> {
        let (b, a, _) = self.shape();
        check_shape("prior_logits", prior_logits.shape(), &[b, a])?;
        check_shape("values", values.shape(), &[b])?;
        if let Some(m) = &legal_mask {
            check_shape("legal_mask", m.shape(), &[b, a])?;
        }
        let (logits, values) = (data(&prior_logits), data(&values));
        let mask = legal_mask.as_ref().map(|m| data(m));
        let inner = &mut self.inner;
        py.detach(|| inner.reset(&logits, &values, noise, mask.as_deref()))
            .py()
    }

    /// (parent_slot [B], index [B], from_chance [B]) of the leaf each tree expands next.
    fn select<'py>(&mut self, py: Python<'py>) -> PyResult<Selection<'py>> {
        let (b, _, _) = self.shape();
        let (mut slot, mut index, mut from_chance) = (vec![0i64; b], vec![0i64; b], vec![false; b]);
        let inner = &mut self.inner;
        py.detach(|| inner.select(&mut slot, &mut index, &mut from_chance))
            .py()?;
        Ok((
            PyArray1::from_vec(py, slot),
            PyArray1::from_vec(py, index),
            PyArray1::from_vec(py, from_chance),
        ))
    }

    /// Expands the leaves the last `select` chose: `reward` [B], `value` [B],
    /// `prior_logits` [B, A], `outcome_logits` [B, C]. A lane whose new node is a state reads
    /// `reward`, `value` and `prior_logits`; a lane whose new node is an afterstate reads `value`
    /// and `outcome_logits`; the other rows are not read.
    fn backup(
        &mut self,
        py: Python<'_>,
        reward: F32Vector<'_>,
        value: F32Vector<'_>,
        prior_logits: F32Matrix<'_>,
        outcome_logits: F32Matrix<'_>,
    ) -> PyResult<()> {
        let (b, a, c) = self.shape();
        check_shape("reward", reward.shape(), &[b])?;
        check_shape("value", value.shape(), &[b])?;
        check_shape("prior_logits", prior_logits.shape(), &[b, a])?;
        check_shape("outcome_logits", outcome_logits.shape(), &[b, c])?;
        let (r, v) = (data(&reward), data(&value));
        let (l, o) = (data(&prior_logits), data(&outcome_logits));
        let inner = &mut self.inner;
        py.detach(|| inner.backup(&r, &v, &l, &o)).py()
    }

    /// [B] int64: the slot each tree's next expansion writes (s + 1 at simulation s
    /// of a fresh search); where to store the latent `backup` is given for.
    fn next_slots<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        PyArray1::from_vec(py, self.inner.next_slots())
    }

    /// [B, A] int64: visits of each root action.
    fn root_visit_counts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<i64>>> {
        let v = self.inner.tree().root_visit_counts().py()?;
        matrix_i64(py, v, self.shape().0)
    }

    /// [B] float32: mean value of each root (`value_sum / visit_count`, the root's
    /// own expansion included).
    fn root_values<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f32>>> {
        Ok(PyArray1::from_vec(
            py,
            self.inner.tree().root_values().py()?,
        ))
    }

    /// [B, A] float32: Q of each root action, the mean value of its afterstate (no
    /// reward, no discount on that edge; NaN when unvisited); `normalized` maps it into [0, 1]
    /// by the tree's min-max statistics.
    #[pyo3(signature = (normalized = false))]
    fn root_q_values<'py>(
        &self,
        py: Python<'py>,
        normalized: bool,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let v = self.inner.tree().root_q_values(normalized).py()?;
        matrix(py, v, self.shape().0)
    }

    /// [B, A] float32 training target for the policy head (rows sum to 1), as
    /// `MctsBatch.policy_target` (the root and its children read as in the deterministic
    /// search).
    fn policy_target<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let inner = &self.inner;
        let v = py.detach(|| inner.tree().policy_target()).py()?;
        matrix(py, v, self.shape().0)
    }

    /// [B] int64 action to play, as `MctsBatch.select_action`.
    #[pyo3(signature = (temperature = 0.0))]
    fn select_action<'py>(
        &mut self,
        py: Python<'py>,
        temperature: f64,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let inner = &mut self.inner;
        let v = py.detach(|| inner.select_action(temperature)).py()?;
        Ok(PyArray1::from_vec(py, v))
    }

    /// [B, A] bool: root actions the search may visit (the legal ones for
    /// MuZero, the Gumbel-top-k for Gumbel).
    fn considered_actions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<bool>>> {
        let v = self.inner.tree().considered_actions().py()?;
        let (b, a, _) = self.shape();
        PyArray1::from_vec(py, v).reshape([b, a])
    }

    /// [B, N] int64: visit count of every slot (0 for unused slots).
    fn node_visit_counts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<i64>>> {
        matrix_i64(py, self.inner.tree().node_visit_counts(), self.shape().0)
    }

    /// [B, N] int64: parent slot of every slot (-1 for the root and unused slots).
    fn node_parents<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<i64>>> {
        matrix_i64(py, self.inner.tree().node_parents(), self.shape().0)
    }

    /// [B, N] bool: the slot holds a chance node (False for unused slots).
    fn node_is_chance<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<bool>>> {
        let b = self.shape().0;
        let v = self.inner.node_is_chance();
        let cols = v.len() / b;
        PyArray1::from_vec(py, v).reshape([b, cols])
    }

    /// [B, N] float64: `value_sum / visit_count` of each slot (NaN for unused slots).
    fn node_values<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let b = self.shape().0;
        let v = self.inner.node_values();
        let cols = v.len() / b;
        PyArray1::from_vec(py, v).reshape([b, cols])
    }

    /// [B, N, C] float64: the chance prior at each chance node (0 elsewhere).
    fn outcome_priors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, numpy::PyArray3<f64>>> {
        let (b, _, c) = self.shape();
        let n = self.inner.tree().capacity();
        PyArray1::from_vec(py, self.inner.outcome_priors()).reshape([b, n, c])
    }

    fn __repr__(&self) -> String {
        let (b, a, c) = self.shape();
        format!(
            "StochasticMctsBatch(num_roots={b}, num_actions={a}, num_simulations={}, \
             chance_outcomes={c}, algorithm={:?})",
            self.inner.config().num_simulations,
            self.algorithm()
        )
    }
}
