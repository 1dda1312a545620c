//! Importer entry points: each returns `(Stream, report_json)`.

use crate::errors::IntoPyResult;
use crate::stream::{parse_decimal, Stream};
use lobzero_core::import::{binance_stream, GapPolicy, ImportOptions, Imported};
use pyo3::prelude::*;
use std::path::{Path, PathBuf};

#[allow(clippy::too_many_arguments)]
pub fn options(
    symbol: Option<String>,
    venue: Option<String>,
    tick_size: Option<&str>,
    lot_size: Option<&str>,
    on_gap: &str,
    round_qty: bool,
) -> PyResult<ImportOptions> {
    Ok(ImportOptions {
        symbol,
        venue,
        tick_size: tick_size
            .map(|t| parse_decimal("tick_size", t))
            .transpose()?,
        lot_size: lot_size.map(|l| parse_decimal("lot_size", l)).transpose()?,
        on_gap: on_gap.parse::<GapPolicy>().py()?,
        round_qty,
    })
}

pub fn finish(imported: Imported) -> PyResult<(Stream, String)> {
    let report = serde_json::to_string(&imported.report)
        .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?;
    Ok((Stream::new(imported.events, imported.instrument), report))
}

/// Imports Binance recordings (`<recv_ns> <JSON>` lines, gzip or plain), in order.
#[pyfunction]
#[pyo3(signature = (paths, *, symbol=None, venue=None, tick_size=None, lot_size=None, on_gap="error", round_qty=false))]
#[allow(clippy::too_many_arguments)]
pub fn import_binance_stream(
    py: Python<'_>,
    paths: Vec<PathBuf>,
    symbol: Option<String>,
    venue: Option<String>,
    tick_size: Option<&str>,
    lot_size: Option<&str>,
    on_gap: &str,
    round_qty: bool,
) -> PyResult<(Stream, String)> {
    let opts = options(symbol, venue, tick_size, lot_size, on_gap, round_qty)?;
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let imported = py.detach(|| binance_stream::import(&refs, opts)).py()?;
    finish(imported)
}
