//! Importer entry points: each returns `(Stream, report_json)`.

use crate::errors::IntoPyResult;
use crate::stream::{parse_decimal, Stream};
use lobzero_core::import::{
    binance_csv, binance_stream, hftbacktest, hyperliquid, lobster, tardis, GapPolicy,
    ImportOptions, Imported, MismatchPolicy,
};
use numpy::PyReadonlyArray1;
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
        ..Default::default()
    })
}

pub fn finish(imported: Imported) -> PyResult<(Stream, String)> {
    let report = serde_json::to_string(&imported.report)
        .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?;
    Ok((Stream::new(imported.events, imported.instrument), report))
}

/// Imports text files of one recording, in order: `format` is "binance-stream", "binance-csv",
/// "tardis", "lobster" or "hyperliquid". `date` (YYYY-MM-DD), `levels` and `on_book_mismatch`
/// ("error" or "count") are LOBSTER's.
#[pyfunction]
#[pyo3(signature = (format, paths, *, symbol=None, venue=None, tick_size=None, lot_size=None, on_gap="error", round_qty=false, date=None, levels=None, on_book_mismatch="error"))]
#[allow(clippy::too_many_arguments)]
pub fn import_files(
    py: Python<'_>,
    format: &str,
    paths: Vec<PathBuf>,
    symbol: Option<String>,
    venue: Option<String>,
    tick_size: Option<&str>,
    lot_size: Option<&str>,
    on_gap: &str,
    round_qty: bool,
    date: Option<String>,
    levels: Option<usize>,
    on_book_mismatch: &str,
) -> PyResult<(Stream, String)> {
    let opts = ImportOptions {
        date,
        levels,
        on_book_mismatch: on_book_mismatch.parse::<MismatchPolicy>().py()?,
        ..options(symbol, venue, tick_size, lot_size, on_gap, round_qty)?
    };
    let importer = match format {
        "binance-stream" => binance_stream::import,
        "binance-csv" => binance_csv::import,
        "tardis" => tardis::import,
        "lobster" => lobster::import,
        "hyperliquid" => hyperliquid::import,
        other => {
            return Err(crate::errors::to_py(lobzero_core::LobzeroError::config(
                format!("unknown text format {other:?}"),
            )))
        }
    };
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let imported = py.detach(|| importer(&refs, opts)).py()?;
    finish(imported)
}

/// Converts hftbacktest event columns (numpy arrays of its `event_dtype` fields). `files`, when
/// the columns concatenate several files: `(name, rows)` of each, so errors name the file and
/// its row.
#[pyfunction]
#[pyo3(signature = (ev, exch_ts, local_ts, px, qty, source, *, files=None, symbol=None, venue=None, tick_size=None, lot_size=None, round_qty=false))]
#[allow(clippy::too_many_arguments)]
pub fn import_hftbacktest(
    py: Python<'_>,
    ev: PyReadonlyArray1<'_, u64>,
    exch_ts: PyReadonlyArray1<'_, i64>,
    local_ts: PyReadonlyArray1<'_, i64>,
    px: PyReadonlyArray1<'_, f64>,
    qty: PyReadonlyArray1<'_, f64>,
    source: &str,
    files: Option<Vec<(String, usize)>>,
    symbol: Option<String>,
    venue: Option<String>,
    tick_size: Option<&str>,
    lot_size: Option<&str>,
    round_qty: bool,
) -> PyResult<(Stream, String)> {
    let opts = options(symbol, venue, tick_size, lot_size, "error", round_qty)?;
    let sources = match files {
        Some(files) if !files.is_empty() => hftbacktest::RowSources::from_counts(&files),
        _ => hftbacktest::RowSources::single(source),
    };
    let contiguous = |name: &str| {
        crate::errors::to_py(lobzero_core::LobzeroError::parse(
            source,
            format!("field {name} must be a contiguous array"),
        ))
    };
    let cols = hftbacktest::HbtColumns {
        ev: ev.as_slice().map_err(|_| contiguous("ev"))?,
        exch_ts: exch_ts.as_slice().map_err(|_| contiguous("exch_ts"))?,
        local_ts: local_ts.as_slice().map_err(|_| contiguous("local_ts"))?,
        px: px.as_slice().map_err(|_| contiguous("px"))?,
        qty: qty.as_slice().map_err(|_| contiguous("qty"))?,
    };
    let imported = py
        .detach(|| hftbacktest::import(&cols, &sources, &opts))
        .py()?;
    finish(imported)
}
