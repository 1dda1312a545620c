//! The synthetic market generator for Python.

use crate::errors::{to_py, IntoPyResult};
use crate::stream::Stream;
use lobzero_core::synth::{synth_market as generate, Regime, SynthConfig};
use lobzero_core::LobzeroError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

fn bad(key: &str, expected: &str) -> PyErr {
    to_py(LobzeroError::config(format!(
        "synth config {key}: expected {expected}"
    )))
}

fn regime(d: &Bound<'_, PyDict>, name: &str, default: Regime) -> PyResult<Regime> {
    let Some(table) = d.get_item(name)? else {
        return Ok(default);
    };
    let table = table
        .cast_into::<PyDict>()
        .map_err(|_| bad(name, "a table"))?;
    let mut r = default;
    for (key, value) in table.iter() {
        let key: String = key.extract()?;
        let v: f64 = value
            .extract()
            .map_err(|_| bad(&format!("{name}.{key}"), "a number"))?;
        match key.as_str() {
            "mean_duration_s" => r.mean_duration_s = v,
            "rate_multiplier" => r.rate_multiplier = v,
            "market_share" => r.market_share = v,
            "size_multiplier" => r.size_multiplier = v,
            "trend_bias" => r.trend_bias = v,
            other => {
                return Err(to_py(LobzeroError::config(format!(
                    "unknown synth config key {name}.{other}"
                ))))
            }
        }
    }
    Ok(r)
}

/// Generates the synthetic market from a dict of `SynthConfig` fields (missing ones keep their
/// defaults). Returns `(Stream, report_json)`.
#[pyfunction]
pub fn synth_market(py: Python<'_>, config: &Bound<'_, PyDict>) -> PyResult<(Stream, String)> {
    let mut c = SynthConfig::default();
    for (key, value) in config.iter() {
        let key: String = key.extract()?;
        let num = || value.extract::<f64>().map_err(|_| bad(&key, "a number"));
        let text = || value.extract::<String>().map_err(|_| bad(&key, "a string"));
        match key.as_str() {
            "seconds" => c.seconds = num()?,
            "seed" => c.seed = value.extract().map_err(|_| bad(&key, "an integer >= 0"))?,
            "symbol" => c.symbol = text()?,
            "venue" => c.venue = text()?,
            "tick_size" => c.tick_size = text()?,
            "lot_size" => c.lot_size = text()?,
            "start_price" => c.start_price = num()?,
            "levels" => c.levels = value.extract().map_err(|_| bad(&key, "an integer"))?,
            "level_gap_ticks" => c.level_gap_ticks = num()?,
            "improve_share" => c.improve_share = num()?,
            "base_rate" => c.base_rate = num()?,
            "hawkes_branching" => c.hawkes_branching = num()?,
            "hawkes_decay" => c.hawkes_decay = num()?,
            "cancel_share" => c.cancel_share = num()?,
            "touch_fade_share" => c.touch_fade_share = num()?,
            "mean_queue_lots" => c.mean_queue_lots = num()?,
            "depth_slope" => c.depth_slope = num()?,
            "mean_market_lots" => c.mean_market_lots = num()?,
            "mean_limit_lots" => c.mean_limit_lots = num()?,
            "signal_strength" => c.signal_strength = num()?,
            "pressure_reversion" => c.pressure_reversion = num()?,
            "latency_ms" => c.latency_ms = num()?,
            "calm" | "trending" | "volatile" => {}
            other => {
                return Err(to_py(LobzeroError::config(format!(
                    "unknown synth config key {other:?}"
                ))))
            }
        }
    }
    c.calm = regime(config, "calm", c.calm)?;
    c.trending = regime(config, "trending", c.trending)?;
    c.volatile = regime(config, "volatile", c.volatile)?;
    let (instrument, events, report) = py.detach(|| generate(&c)).py()?;
    let report = serde_json::json!({ "format": "synth", "config": c, "generator": report });
    Ok((Stream::new(events, instrument), report.to_string()))
}
