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

/// A batch of B search trees (struct of arrays, preallocated for the budget).
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

    #[getter]
    fn num_roots(&self) -> usize {
        self.inner.config().num_roots
    }
    #[getter]
    fn num_actions(&self) -> usize {
        self.inner.config().num_actions
    }
    #[getter]
    fn num_simulations(&self) -> usize {
        self.inner.config().num_simulations
    }
    #[getter]
    fn capacity(&self) -> usize {
        self.inner.capacity()
    }
    #[getter]
    fn simulations_done(&self) -> usize {
        self.inner.simulations_done()
    }
    #[getter]
    fn algorithm(&self) -> &'static str {
        match self.inner.config().algorithm {
            Algorithm::MuZero => "muzero",
            Algorithm::Gumbel => "gumbel",
        }
    }

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

    fn next_slots<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        PyArray1::from_vec(py, self.inner.next_slots())
    }

    fn root_visit_counts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<i64>>> {
        let v = self.inner.root_visit_counts().py()?;
        matrix_i64(py, v, self.shape().0)
    }

    fn root_values<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f32>>> {
        Ok(PyArray1::from_vec(py, self.inner.root_values().py()?))
    }

    #[pyo3(signature = (normalized = false))]
    fn root_q_values<'py>(
        &self,
        py: Python<'py>,
        normalized: bool,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let v = self.inner.root_q_values(normalized).py()?;
        matrix(py, v, self.shape().0)
    }

    fn policy_target<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let inner = &self.inner;
        let v = py.detach(|| inner.policy_target()).py()?;
        matrix(py, v, self.shape().0)
    }

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

    fn considered_actions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<bool>>> {
        let v = self.inner.considered_actions().py()?;
        let cols = self.shape().1;
        PyArray1::from_vec(py, v).reshape([self.shape().0, cols])
    }

    fn node_visit_counts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<i64>>> {
        matrix_i64(py, self.inner.node_visit_counts(), self.shape().0)
    }

    fn node_parents<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<i64>>> {
        matrix_i64(py, self.inner.node_parents(), self.shape().0)
    }

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

/// A batch of B Stochastic MuZero search trees: decision nodes alternate with chance nodes
/// (afterstates) whose children are the C codes of the chance encoder. See
/// `lobzero.mcts.StochasticMctsBatch`.
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

    #[getter]
    fn num_roots(&self) -> usize {
        self.shape().0
    }
    #[getter]
    fn num_actions(&self) -> usize {
        self.shape().1
    }
    #[getter]
    fn chance_outcomes(&self) -> usize {
        self.shape().2
    }
    #[getter]
    fn num_simulations(&self) -> usize {
        self.inner.config().num_simulations
    }
    #[getter]
    fn capacity(&self) -> usize {
        self.inner.tree().capacity()
    }
    #[getter]
    fn simulations_done(&self) -> usize {
        self.inner.tree().simulations_done()
    }
    #[getter]
    fn algorithm(&self) -> &'static str {
        match self.inner.config().algorithm {
            Algorithm::MuZero => "muzero",
            Algorithm::Gumbel => "gumbel",
        }
    }

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

    fn next_slots<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        PyArray1::from_vec(py, self.inner.next_slots())
    }

    fn root_visit_counts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<i64>>> {
        let v = self.inner.tree().root_visit_counts().py()?;
        matrix_i64(py, v, self.shape().0)
    }

    fn root_values<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f32>>> {
        Ok(PyArray1::from_vec(
            py,
            self.inner.tree().root_values().py()?,
        ))
    }

    #[pyo3(signature = (normalized = false))]
    fn root_q_values<'py>(
        &self,
        py: Python<'py>,
        normalized: bool,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let v = self.inner.tree().root_q_values(normalized).py()?;
        matrix(py, v, self.shape().0)
    }

    fn policy_target<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let inner = &self.inner;
        let v = py.detach(|| inner.tree().policy_target()).py()?;
        matrix(py, v, self.shape().0)
    }

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

    fn considered_actions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<bool>>> {
        let v = self.inner.tree().considered_actions().py()?;
        let (b, a, _) = self.shape();
        PyArray1::from_vec(py, v).reshape([b, a])
    }

    fn node_visit_counts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<i64>>> {
        matrix_i64(py, self.inner.tree().node_visit_counts(), self.shape().0)
    }

    fn node_parents<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<i64>>> {
        matrix_i64(py, self.inner.tree().node_parents(), self.shape().0)
    }

    fn node_is_chance<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<bool>>> {
        let b = self.shape().0;
        let v = self.inner.node_is_chance();
        let cols = v.len() / b;
        PyArray1::from_vec(py, v).reshape([b, cols])
    }

    fn node_values<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let b = self.shape().0;
        let v = self.inner.node_values();
        let cols = v.len() / b;
        PyArray1::from_vec(py, v).reshape([b, cols])
    }

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
