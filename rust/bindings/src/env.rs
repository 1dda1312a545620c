//! Trading environments for Python: `EnvCore` (one) and `VecEnvCore` (a batch writing into numpy
//! buffers without copies, the GIL released). The gymnasium classes in `lobzero.envs` wrap them.

use crate::errors::{count, to_py, IntoPyResult};
use crate::stream::Stream;
use lobzero_core::adversary::{AdversaryConfig, PERTURBATION_NAMES};
use lobzero_core::env::{Action, ActionMode, EnvConfig, RewardKind, StepInfo, TradingEnv};
use lobzero_core::features::{Feature, FeatureConfig};
use lobzero_core::vec_env::{StepBuffers, VecTradingEnv};
use lobzero_core::LobzeroError;
use numpy::{PyArray1, PyReadonlyArray1, PyReadwriteArray1, PyReadwriteArray2};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyList, PyString};

fn config_error(message: String) -> PyErr {
    to_py(LobzeroError::config(message))
}

fn get<'py, T: FromPyObjectOwned<'py>>(d: &Bound<'py, PyDict>, key: &str) -> PyResult<Option<T>> {
    match d.get_item(key)? {
        None => Ok(None),
        Some(v) if v.is_none() => Ok(None),
        Some(v) => v
            .extract::<T>()
            .map(Some)
            .map_err(|_| config_error(format!("{key} must be {}, got {v:?}", kind_of::<T>()))),
    }
}

use pyo3::conversion::FromPyObjectOwned;

/// What a config value of type `T` must be, in the user's words.
fn kind_of<T>() -> &'static str {
    let name = std::any::type_name::<T>();
    if name.contains("Vec<") {
        if name.contains("String") {
            "a list of strings"
        } else if name.contains("f64") {
            "a list of numbers"
        } else {
            "a list of integers >= 0"
        }
    } else if name.ends_with("usize") || name.ends_with("u64") || name.ends_with("u32") {
        "an integer >= 0"
    } else if name.ends_with("i64") {
        "an integer"
    } else if name.ends_with("f64") {
        "a number"
    } else if name.ends_with("String") {
        "a string"
    } else {
        "a value of another type"
    }
}

/// Runs the checks an environment runs on its config table (`EnvConfig.to_core()`'s dict), with
/// no market: the dataclasses call it when they are made, so a bad value fails there, under
/// the core's own rule.
#[pyfunction]
pub fn check_env_config(config: &Bound<'_, PyDict>) -> PyResult<()> {
    env_config(config).map(|_| ())
}

/// Builds the core configuration from the dict `lobzero.EnvConfig.to_core()` produces (sizes
/// already in lots, times in ns). Unknown keys are refused.
pub fn env_config(d: &Bound<'_, PyDict>) -> PyResult<EnvConfig> {
    const KNOWN: [&str; 24] = [
        "step_ns",
        "step_events",
        "action_mode",
        "max_position_lots",
        "side_unit_lots",
        "taker_fee_bps",
        "maker_fee_bps",
        "latency_ns",
        "reward",
        "reward_scale",
        "risk_aversion",
        "initial_cash",
        "episode_steps",
        "start_ns",
        "end_ns",
        "features",
        "levels",
        "imbalance_depths",
        "return_horizons",
        "volatility_window",
        "frame_stack",
        "seed",
        "adversary",
        "num_threads",
    ];
    for key in d.keys() {
        let key: String = key.extract()?;
        if !KNOWN.contains(&key.as_str()) {
            return Err(config_error(format!("unknown env config key {key:?}")));
        }
    }
    let mut c = EnvConfig::default();
    let mut f = FeatureConfig::default();
    if let Some(v) = get(d, "step_ns")? {
        c.step_ns = v;
    }
    if let Some(v) = get(d, "step_events")? {
        c.step_events = v;
    }
    if let Some(v) = get::<String>(d, "action_mode")? {
        c.action_mode = match v.as_str() {
            "target" => ActionMode::Target,
            "side" => ActionMode::Side,
            "continuous" => ActionMode::Continuous,
            other => {
                return Err(config_error(format!(
                    "action_mode must be \"target\", \"side\" or \"continuous\", got {other:?}"
                )))
            }
        };
    }
    if let Some(v) = get::<String>(d, "reward")? {
        c.reward = match v.as_str() {
            "pnl" => RewardKind::Pnl,
            "log_return" => RewardKind::LogReturn,
            "risk_adjusted" => RewardKind::RiskAdjusted,
            other => {
                return Err(config_error(format!(
                    "reward must be \"pnl\", \"log_return\" or \"risk_adjusted\", got {other:?}"
                )))
            }
        };
    }
    macro_rules! set {
        ($key:literal, $field:expr) => {
            if let Some(v) = get(d, $key)? {
                $field = v;
            }
        };
    }
    set!("max_position_lots", c.max_position_lots);
    set!("side_unit_lots", c.side_unit_lots);
    set!("taker_fee_bps", c.taker_fee_bps);
    set!("maker_fee_bps", c.maker_fee_bps);
    set!("latency_ns", c.latency_ns);
    set!("reward_scale", c.reward_scale);
    set!("risk_aversion", c.risk_aversion);
    set!("initial_cash", c.initial_cash);
    set!("episode_steps", c.episode_steps);
    set!("seed", c.seed);
    set!("levels", f.levels);
    set!("imbalance_depths", f.imbalance_depths);
    set!("return_horizons", f.return_horizons);
    set!("volatility_window", f.volatility_window);
    set!("frame_stack", f.frame_stack);
    if let Some(names) = get::<Vec<String>>(d, "features")? {
        f.features = names
            .iter()
            .map(|n| Feature::parse(n))
            .collect::<Result<_, _>>()
            .py()?;
    }
    let start: Option<i64> = get(d, "start_ns")?;
    let end: Option<i64> = get(d, "end_ns")?;
    c.start_range_ns = match (start, end) {
        (None, None) => None,
        (s, e) => Some((s.unwrap_or(i64::MIN), e.unwrap_or(i64::MAX))),
    };
    // the range's end is also the hard end of its episodes (no event at or after it is used)
    c.end_ns = end;
    c.features = f;
    if let Some(table) = d.get_item("adversary")? {
        if !table.is_none() {
            let table = table
                .cast_into::<PyDict>()
                .map_err(|_| config_error("env config adversary: expected a table".into()))?;
            c.adversary = adversary_config(&table)?;
        }
    }
    c.validate().py()?;
    Ok(c)
}

/// The adversary's table, as `lobzero.AdversaryConfig.to_core()` writes it.
fn adversary_config(d: &Bound<'_, PyDict>) -> PyResult<AdversaryConfig> {
    let mut a = AdversaryConfig::default();
    for key in d.keys() {
        let key: String = key.extract()?;
        let known = [
            "probabilities",
            "slippage_ticks",
            "gap_ticks",
            "liquidity_fraction",
            "liquidity_levels",
            "liquidity_steps",
            "latency_multiplier",
            "noise_std",
            "reward_scale",
        ];
        if !known.contains(&key.as_str()) {
            return Err(config_error(format!("unknown adversary key {key:?}")));
        }
    }
    if let Some(p) = get::<Vec<f64>>(d, "probabilities")? {
        a.probabilities = p.try_into().map_err(|p: Vec<f64>| {
            config_error(format!(
                "adversary probabilities: expected {} values ({}), got {}",
                PERTURBATION_NAMES.len(),
                PERTURBATION_NAMES.join(", "),
                p.len()
            ))
        })?;
    }
    macro_rules! set {
        ($key:literal, $field:expr) => {
            if let Some(v) = get(d, $key)? {
                $field = v;
            }
        };
    }
    set!("slippage_ticks", a.slippage_ticks);
    set!("gap_ticks", a.gap_ticks);
    set!("liquidity_fraction", a.liquidity_fraction);
    set!("liquidity_levels", a.liquidity_levels);
    set!("liquidity_steps", a.liquidity_steps);
    set!("latency_multiplier", a.latency_multiplier);
    set!("noise_std", a.noise_std);
    set!("reward_scale", a.reward_scale);
    Ok(a)
}

fn action_from_py(mode: ActionMode, action: &Bound<'_, PyAny>) -> PyResult<Action> {
    match mode {
        // a bool extracts as 0/1: the batch refuses it, so one environment does too
        _ if action.is_instance_of::<PyBool>() => Err(to_py(LobzeroError::invalid(
            "action",
            format!("expected a number, got the bool {action}"),
        ))),
        ActionMode::Continuous => {
            let x: f64 = match action.extract::<f64>() {
                Ok(x) => x,
                Err(_) => {
                    let values: Vec<f64> = action
                        .call_method0("ravel")
                        .and_then(|a| a.extract())
                        .map_err(|_| {
                        to_py(LobzeroError::invalid(
                            "action",
                            "expected a float or an array of one float",
                        ))
                    })?;
                    match values.as_slice() {
                        [x] => *x,
                        _ => {
                            return Err(to_py(LobzeroError::invalid(
                                "action",
                                format!("expected one value, got {}", values.len()),
                            )))
                        }
                    }
                }
            };
            Ok(Action::Continuous(x))
        }
        _ => {
            let a: i64 = action.extract().map_err(|_| {
                to_py(LobzeroError::invalid(
                    "action",
                    format!("expected an integer, got {action}"),
                ))
            })?;
            Ok(Action::Discrete(a))
        }
    }
}

/// Keys of a step's `info`, in order.
const INFO_KEYS: [&str; 12] = [
    "equity",
    "cash",
    "position",
    "mark",
    "fees",
    "realized_pnl",
    "unrealized_pnl",
    "unfilled",
    "ts_ns",
    "step",
    "perturbations",
    "fills",
];

/// A dict holding every info key: copying it and overwriting the values costs less than
/// growing a fresh dict key by key, which matters at a few hundred thousand steps a second.
static INFO_TEMPLATE: PyOnceLock<Py<PyDict>> = PyOnceLock::new();

fn info_template(py: Python<'_>) -> PyResult<&Bound<'_, PyDict>> {
    let template = INFO_TEMPLATE.get_or_try_init(py, || -> PyResult<Py<PyDict>> {
        let d = PyDict::new(py);
        for key in INFO_KEYS {
            d.set_item(PyString::intern(py, key), py.None())?;
        }
        Ok(d.unbind())
    })?;
    Ok(template.bind(py))
}

/// The `info` of a step in user units: the settlement currency for money (quote; the coin if
/// inverse), units of size (base units or contracts) for sizes, prices
/// as prices; `fills` lists the step's fills as (ts_ns, side, price, size, fee).
fn info_dict<'py>(
    py: Python<'py>,
    env: &TradingEnv,
    info: &StepInfo,
    with_fills: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let (tick, lot) = (env.market().tick(), env.market().lot());
    let d = info_template(py)?.copy()?;
    d.set_item(intern!(py, "equity"), info.equity)?;
    d.set_item(intern!(py, "cash"), info.cash)?;
    d.set_item(intern!(py, "position"), info.position_lots as f64 * lot)?;
    d.set_item(intern!(py, "mark"), info.mark_ticks * tick)?;
    d.set_item(intern!(py, "fees"), info.fees)?;
    d.set_item(intern!(py, "realized_pnl"), info.realized_pnl)?;
    d.set_item(intern!(py, "unrealized_pnl"), info.unrealized_pnl)?;
    d.set_item(intern!(py, "unfilled"), info.unfilled_lots as f64 * lot)?;
    d.set_item(intern!(py, "ts_ns"), info.ts_ns)?;
    d.set_item(intern!(py, "step"), info.step)?;
    let fired = (0..PERTURBATION_NAMES.len())
        .filter(|k| info.perturbations & (1 << k) != 0)
        .map(|k| PERTURBATION_NAMES[k]);
    d.set_item(intern!(py, "perturbations"), PyList::new(py, fired)?)?;
    if with_fills {
        let fills = &env.account().fills[info.fills_start.min(env.account().fills.len())..];
        let list = PyList::new(
            py,
            fills.iter().map(|f| {
                (
                    f.ts_ns,
                    f.side,
                    f.price_ticks as f64 * tick,
                    f.qty_lots as f64 * lot,
                    f.fee,
                )
            }),
        )?;
        d.set_item(intern!(py, "fills"), list)?;
    } else {
        d.del_item(intern!(py, "fills"))?;
    }
    Ok(d)
}

/// Properties shared by both classes.
fn spaces<'py>(py: Python<'py>, cfg: &EnvConfig) -> PyResult<Bound<'py, PyDict>> {
    let (low, high) = cfg.features.bounds();
    let d = PyDict::new(py);
    d.set_item(intern!(py, "obs_low"), PyArray1::from_vec(py, low))?;
    d.set_item(intern!(py, "obs_high"), PyArray1::from_vec(py, high))?;
    d.set_item(intern!(py, "frame_names"), cfg.features.frame_names())?;
    d.set_item(intern!(py, "frame_stack"), cfg.features.frame_stack)?;
    Ok(d)
}

/// One trading environment over a `Stream`, built from the dict `EnvConfig.to_core()` writes
/// (sizes in lots, times in ns); `lobzero.envs.TradingEnv` is its gymnasium face. Observations
/// are float32 [obs_dim], rewards in the settlement currency (quote; the coin if inverse).
#[pyclass(module = "lobzero._core")]
pub struct EnvCore {
    env: TradingEnv,
    /// The step's observation before it is copied into a new array.
    obs: Vec<f32>,
}

#[pymethods]
impl EnvCore {
    #[new]
    fn new(
        py: Python<'_>,
        stream: &Bound<'_, Stream>,
        config: &Bound<'_, PyDict>,
    ) -> PyResult<Self> {
        let cfg = env_config(config)?;
        let market = stream.get().shared_market(py)?;
        let env = TradingEnv::new(market, cfg).py()?;
        Ok(Self {
            obs: vec![0.0; env.obs_dim()],
            env,
        })
    }

    /// Length of an observation: features per frame times `frame_stack`.
    #[getter]
    fn obs_dim(&self) -> usize {
        self.env.obs_dim()
    }

    /// obs_low, obs_high (float32 [obs_dim]), frame_names, frame_stack.
    fn spaces<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        spaces(py, self.env.config())
    }

    /// Forces the next step's perturbations: bit k of `mask` fires kind k (PERTURBATIONS order);
    /// `gap_sign` +1 / -1 / 0 (coin flip) for a price gap.
    #[pyo3(signature = (mask, gap_sign=0))]
    fn force_perturbations(&mut self, mask: u8, gap_sign: i8) -> PyResult<()> {
        self.env.force_perturbations(mask, gap_sign).py()
    }

    /// Starts an episode and returns its first observation, float32 [obs_dim]. `seed` reseeds
    /// the environment's generator (None: it goes on); `start_ns` is the receive time (ns) to
    /// start from (None: a start drawn from the seeded stream).
    #[pyo3(signature = (seed=None, start_ns=None))]
    fn reset<'py>(
        &mut self,
        py: Python<'py>,
        seed: Option<u64>,
        start_ns: Option<i64>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let mut obs = vec![0.0f32; self.env.obs_dim()];
        self.env.reset(seed, start_ns, &mut obs).py()?;
        Ok(PyArray1::from_vec(py, obs))
    }

    /// One decision: (obs, reward, terminated, truncated, info).
    #[allow(clippy::type_complexity)]
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        action: &Bound<'py, PyAny>,
    ) -> PyResult<(
        Bound<'py, PyArray1<f32>>,
        f64,
        bool,
        bool,
        Bound<'py, PyDict>,
    )> {
        let action = action_from_py(self.env.config().action_mode, action)?;
        let out = self.env.step(action, &mut self.obs).py()?;
        let info = info_dict(py, &self.env, &self.env.info(), true)?;
        Ok((
            // a copy of 4 × obs_dim bytes costs less than handing numpy a Vec to own
            PyArray1::from_slice(py, &self.obs),
            out.reward,
            out.terminated,
            out.truncated,
            info,
        ))
    }

    /// Appends a live market's new events (`chunk`, a `Stream` continuing this environment's,
    /// same instrument; None: no new event) and declares the market complete up to
    /// `known_through_ns` (the feed's clock). Amortized O(new events) (see the core's
    /// `extend_stream`).
    #[pyo3(signature = (chunk, known_through_ns))]
    fn extend_market(
        &mut self,
        py: Python<'_>,
        chunk: Option<&Bound<'_, Stream>>,
        known_through_ns: i64,
    ) -> PyResult<()> {
        let empty = lobzero_core::EventStream::default();
        let events = match chunk {
            Some(chunk) => {
                let chunk = chunk.get();
                if chunk.instrument != self.env.market().instrument {
                    return Err(crate::errors::to_py(lobzero_core::LobzeroError::config(
                        format!(
                            "the appended events are of {} ({}), the environment trades {} ({})",
                            chunk.instrument.symbol,
                            chunk.instrument.venue,
                            self.env.market().instrument.symbol,
                            self.env.market().instrument.venue
                        ),
                    )));
                }
                &chunk.events
            }
            None => &empty,
        };
        let env = &mut self.env;
        py.detach(|| env.extend_stream(events, known_through_ns))
            .py()
    }

    /// The current state as a step's `info` (with the last step's fills).
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        info_dict(py, &self.env, &self.env.info(), true)
    }

    /// Round trips of the episode so far: list of (entry_ts_ns, exit_ts_ns, side, max_qty_lots,
    /// pnl, fees), pnl and fees in the settlement currency (quote; the coin if inverse).
    fn round_trips<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(
            py,
            self.env.account().round_trips.iter().map(|t| {
                (
                    t.entry_ts_ns,
                    t.exit_ts_ns,
                    t.side,
                    t.max_qty_lots,
                    t.pnl,
                    t.fees,
                )
            }),
        )
    }

    /// Traded notional of the episode so far, settlement currency.
    #[getter]
    fn traded_notional(&self) -> f64 {
        self.env.account().traded_notional
    }
}

/// A batch of N = `num_envs` trading environments over one `Stream` (or, built with
/// `from_markets`, each on its own), stepped in one call (same-step autoreset) into caller
/// buffers; environment i is seeded with `seed + i`.
/// `lobzero.envs.VecTradingEnv` is its gymnasium face; the config dict is `EnvCore`'s, plus
/// an optional `num_threads`.
#[pyclass(module = "lobzero._core")]
pub struct VecEnvCore {
    envs: VecTradingEnv,
    actions: Vec<Action>,
}

#[pymethods]
impl VecEnvCore {
    #[new]
    fn new(
        py: Python<'_>,
        stream: &Bound<'_, Stream>,
        num_envs: i64,
        config: &Bound<'_, PyDict>,
    ) -> PyResult<Self> {
        let num_envs = count("num_envs", num_envs)?;
        let cfg = env_config(config)?;
        let threads: Option<usize> = get(config, "num_threads")?;
        let market = stream.get().shared_market(py)?;
        let mut envs = py
            .detach(|| VecTradingEnv::new(market, num_envs, cfg))
            .py()?;
        if let Some(t) = threads {
            envs.set_threads(t);
        }
        Ok(Self {
            actions: Vec::with_capacity(num_envs),
            envs,
        })
    }

    /// A batch over several markets: environment i on `streams[i]` with the config dict
    /// `configs[i]` (its own seed and sizes in its own lots; `EnvCore`'s dict), one of each per
    /// environment. `num_threads` as the constructor's config key.
    #[staticmethod]
    #[pyo3(signature = (streams, configs, num_threads=None))]
    fn from_markets(
        py: Python<'_>,
        streams: Vec<Bound<'_, Stream>>,
        configs: Vec<Bound<'_, PyDict>>,
        num_threads: Option<usize>,
    ) -> PyResult<Self> {
        if streams.len() != configs.len() {
            return Err(config_error(format!(
                "from_markets needs one config per stream, got {} streams and {} configs",
                streams.len(),
                configs.len()
            )));
        }
        let parts = streams
            .iter()
            .zip(&configs)
            .map(|(stream, config)| Ok((stream.get().shared_market(py)?, env_config(config)?)))
            .collect::<PyResult<Vec<_>>>()?;
        let num_envs = parts.len();
        let mut envs = py.detach(|| VecTradingEnv::from_parts(parts)).py()?;
        if let Some(t) = num_threads {
            envs.set_threads(t);
        }
        Ok(Self {
            actions: Vec::with_capacity(num_envs),
            envs,
        })
    }

    /// N, the number of environments.
    #[getter]
    fn num_envs(&self) -> usize {
        self.envs.num_envs()
    }

    /// Length of one environment's observation (features per frame times `frame_stack`).
    #[getter]
    fn obs_dim(&self) -> usize {
        self.envs.obs_dim()
    }

    /// obs_low, obs_high (float32 [obs_dim]), frame_names, frame_stack (as `EnvCore.spaces`).
    fn spaces<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        spaces(py, self.envs.envs()[0].config())
    }

    /// Forces the next step's perturbations of every environment: `masks` uint8 [N], `gap_signs`
    /// int8 [N] (see `EnvCore.force_perturbations`).
    fn force_perturbations(
        &mut self,
        masks: PyReadonlyArray1<'_, u8>,
        gap_signs: PyReadonlyArray1<'_, i8>,
    ) -> PyResult<()> {
        let masks = masks
            .as_slice()
            .map_err(|_| config_error("masks must be contiguous uint8".into()))?;
        let signs = gap_signs
            .as_slice()
            .map_err(|_| config_error("gap_signs must be contiguous int8".into()))?;
        self.envs.force_perturbations(masks, signs).py()
    }

    /// Resets all environments into `obs` [N, obs_dim] float32: environment i with `seeds[i]`
    /// (None: not reseeded) from `start_ns[i]` (None: a drawn start); both lists of N entries.
    fn reset(
        &mut self,
        py: Python<'_>,
        mut obs: PyReadwriteArray2<'_, f32>,
        seeds: Vec<Option<u64>>,
        start_ns: Vec<Option<i64>>,
    ) -> PyResult<()> {
        let obs = obs
            .as_slice_mut()
            .map_err(|_| config_error("obs must be a C-contiguous float32 array".into()))?;
        py.detach(|| self.envs.reset_each(&seeds, &start_ns, obs))
            .py()
    }

    /// Steps all environments. `actions`: int64 [N] (discrete modes) or float64 [N]
    /// (continuous); outputs are written in place, the state after the step into `info_values` /
    /// `info_ts_ns` (see `infos`). Returns how many episodes ended (and were reset).
    #[allow(clippy::too_many_arguments)]
    fn step(
        &mut self,
        py: Python<'_>,
        actions: &Bound<'_, PyAny>,
        mut obs: PyReadwriteArray2<'_, f32>,
        mut rewards: PyReadwriteArray1<'_, f64>,
        mut terminated: PyReadwriteArray1<'_, bool>,
        mut truncated: PyReadwriteArray1<'_, bool>,
        mut final_obs: PyReadwriteArray2<'_, f32>,
        mut info_values: PyReadwriteArray2<'_, f64>,
        mut info_ts_ns: PyReadwriteArray1<'_, i64>,
    ) -> PyResult<usize> {
        let mode = self.envs.envs()[0].config().action_mode;
        self.actions.clear();
        if mode == ActionMode::Continuous {
            let a: PyReadonlyArray1<'_, f64> = actions.extract().map_err(|_| {
                config_error("continuous actions must be a float64 array [N]".into())
            })?;
            self.actions
                .extend(a.as_array().iter().map(|&x| Action::Continuous(x)));
        } else {
            let a: PyReadonlyArray1<'_, i64> = actions
                .extract()
                .map_err(|_| config_error("discrete actions must be an int64 array [N]".into()))?;
            self.actions
                .extend(a.as_array().iter().map(|&x| Action::Discrete(x)));
        }
        let contiguous = |name: &str| config_error(format!("{name} must be a C-contiguous array"));
        let buffers = StepBuffers {
            obs: obs.as_slice_mut().map_err(|_| contiguous("obs"))?,
            rewards: rewards.as_slice_mut().map_err(|_| contiguous("rewards"))?,
            terminated: terminated
                .as_slice_mut()
                .map_err(|_| contiguous("terminated"))?,
            truncated: truncated
                .as_slice_mut()
                .map_err(|_| contiguous("truncated"))?,
            final_obs: final_obs
                .as_slice_mut()
                .map_err(|_| contiguous("final_obs"))?,
        };
        let values = info_values
            .as_slice_mut()
            .map_err(|_| contiguous("info_values"))?;
        let ts = info_ts_ns
            .as_slice_mut()
            .map_err(|_| contiguous("info_ts_ns"))?;
        let envs = &mut self.envs;
        let actions = &self.actions;
        py.detach(move || {
            envs.step(actions, buffers)?;
            write_infos(envs.envs(), values, ts)?;
            Ok::<_, LobzeroError>(envs.final_info().iter().filter(|f| f.is_some()).count())
        })
        .py()
    }

    /// Writes the current state of every environment in user units: `values` float64
    /// [len(VEC_INFO_ARRAYS), N] rows in `VEC_INFO_ARRAYS` order, `ts_ns` int64 [N].
    fn infos(
        &self,
        mut values: PyReadwriteArray2<'_, f64>,
        mut ts_ns: PyReadwriteArray1<'_, i64>,
    ) -> PyResult<()> {
        let contiguous = |name: &str| config_error(format!("{name} must be a C-contiguous array"));
        write_infos(
            self.envs.envs(),
            values.as_slice_mut().map_err(|_| contiguous("values"))?,
            ts_ns.as_slice_mut().map_err(|_| contiguous("ts_ns"))?,
        )
        .py()
    }

    /// For the environments whose episode ended in the last step: {index: info dict of its
    /// last step}.
    fn final_infos<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        let envs = self.envs.envs();
        for (i, info) in self.envs.final_info().iter().enumerate() {
            if let Some(info) = info {
                d.set_item(i, info_dict(py, &envs[i], info, false)?)?;
            }
        }
        Ok(d)
    }
}

/// How many of the first `INFO_KEYS` (the float ones, in that order) are rows of the float64
/// array of `VecEnvCore.infos`.
const INFO_ARRAYS: usize = 8;

/// The state of every environment into `values` ([INFO_ARRAYS, N], row-major) and
/// `ts_ns` ([N]).
fn write_infos(
    envs: &[TradingEnv],
    values: &mut [f64],
    ts_ns: &mut [i64],
) -> Result<(), LobzeroError> {
    let n = envs.len();
    if values.len() != INFO_ARRAYS * n || ts_ns.len() != n {
        return Err(LobzeroError::config(format!(
            "info buffers must be float64 [{INFO_ARRAYS}, {n}] and int64 [{n}]"
        )));
    }
    let mut rows = values.chunks_exact_mut(n);
    let mut row = || rows.next().unwrap_or_default();
    let (equity, cash, position, mark) = (row(), row(), row(), row());
    let (fees, realized, unrealized, unfilled) = (row(), row(), row(), row());
    for (i, env) in envs.iter().enumerate() {
        // each environment's own grid: a batch may hold several instruments
        let (tick, lot) = (env.market().tick(), env.market().lot());
        let s = env.info();
        equity[i] = s.equity;
        cash[i] = s.cash;
        position[i] = s.position_lots as f64 * lot;
        mark[i] = s.mark_ticks * tick;
        fees[i] = s.fees;
        realized[i] = s.realized_pnl;
        unrealized[i] = s.unrealized_pnl;
        unfilled[i] = s.unfilled_lots as f64 * lot;
        ts_ns[i] = s.ts_ns;
    }
    Ok(())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("VEC_INFO_ARRAYS", INFO_KEYS[..INFO_ARRAYS].to_vec())?;
    m.add_function(wrap_pyfunction!(check_env_config, m)?)?;
    m.add_class::<EnvCore>()?;
    m.add_class::<VecEnvCore>()?;
    Ok(())
}
