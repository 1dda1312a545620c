//! Importer entry points: each returns `(Stream, report_json)`.

use crate::errors::IntoPyResult;
use crate::stream::{parse_decimal, Stream};
use lobzero_core::import::{
    binance_csv, binance_stream, hftbacktest, hyperliquid, lobster, tardis, GapPolicy,
    ImportOptions, Imported, MismatchPolicy,
};
use lobzero_core::import::{databento, order_events};
use lobzero_core::orders::log::LevelQueue;
use lobzero_core::orders::OrderLog;
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;
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

/// The order log as numpy columns (`order_id` u64, `recv_ts_ns` i64, `action` u8, `side` i8,
/// `price_ticks` i64, `qty_lots` i64, `l2_row` u64); `None` when empty (MBP data).
fn order_columns(py: Python<'_>, log: OrderLog) -> PyResult<Option<Py<PyDict>>> {
    if log.is_empty() {
        return Ok(None);
    }
    let d = PyDict::new(py);
    d.set_item("order_id", PyArray1::from_vec(py, log.order_id))?;
    d.set_item("recv_ts_ns", PyArray1::from_vec(py, log.recv_ts_ns))?;
    d.set_item("action", PyArray1::from_vec(py, log.action))?;
    d.set_item("side", PyArray1::from_vec(py, log.side))?;
    d.set_item("price_ticks", PyArray1::from_vec(py, log.price_ticks))?;
    d.set_item("qty_lots", PyArray1::from_vec(py, log.qty_lots))?;
    d.set_item("l2_row", PyArray1::from_vec(py, log.l2_row))?;
    Ok(Some(d.unbind()))
}

type L3Result = (Stream, String, Option<Py<PyDict>>);

/// Imports Databento DBN files (MBO, MBP-1, MBP-10) of one session, in order.
#[pyfunction]
#[pyo3(signature = (paths, *, symbol=None, venue=None, tick_size=None, lot_size=None, round_qty=false, definition=None, instrument_id=None, on_unknown_order="error", on_cross="error"))]
#[allow(clippy::too_many_arguments)]
pub fn import_databento(
    py: Python<'_>,
    paths: Vec<PathBuf>,
    symbol: Option<String>,
    venue: Option<String>,
    tick_size: Option<&str>,
    lot_size: Option<&str>,
    round_qty: bool,
    definition: Option<PathBuf>,
    instrument_id: Option<u32>,
    on_unknown_order: &str,
    on_cross: &str,
) -> PyResult<L3Result> {
    let opts = options(symbol, venue, tick_size, lot_size, "error", round_qty)?;
    let dbn_opts = databento::DbnOptions {
        definition,
        instrument_id,
        on_unknown_order: on_unknown_order.parse().py()?,
        on_cross: on_cross.parse().py()?,
        decompression: databento::Decompression::Auto,
    };
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let (imported, log) = py
        .detach(|| databento::import(&refs, &opts, &dbn_opts))
        .py()?;
    let (stream, report) = finish(imported)?;
    Ok((stream, report, order_columns(py, log)?))
}

/// Imports order-event CSV files (plain, gzip or xz) of one log, in order.
#[pyfunction]
#[pyo3(signature = (paths, *, symbol=None, venue=None, tick_size=None, lot_size=None, round_qty=false, id_column="id", time_column="timestamp", exchange_time_column="exchange.timestamp", side_column="direction", price_column="price", size_column="volume", action_column="action", time_unit="ms", size_scale=None, on_unknown_order="error", on_cross="error"))]
#[allow(clippy::too_many_arguments)]
pub fn import_order_events(
    py: Python<'_>,
    paths: Vec<PathBuf>,
    symbol: Option<String>,
    venue: Option<String>,
    tick_size: Option<&str>,
    lot_size: Option<&str>,
    round_qty: bool,
    id_column: &str,
    time_column: &str,
    exchange_time_column: &str,
    side_column: &str,
    price_column: &str,
    size_column: &str,
    action_column: &str,
    time_unit: &str,
    size_scale: Option<&str>,
    on_unknown_order: &str,
    on_cross: &str,
) -> PyResult<L3Result> {
    let opts = options(symbol, venue, tick_size, lot_size, "error", round_qty)?;
    let oe = order_events::OrderEventsOptions {
        id_column: id_column.into(),
        time_column: time_column.into(),
        exchange_time_column: exchange_time_column.into(),
        side_column: side_column.into(),
        price_column: price_column.into(),
        size_column: size_column.into(),
        action_column: action_column.into(),
        ns_per_time_unit: order_events::time_unit(time_unit).py()?,
        size_scale: size_scale
            .map(|s| parse_decimal("size_scale", s))
            .transpose()?,
        on_unknown_order: on_unknown_order.parse().py()?,
        on_cross: on_cross.parse().py()?,
    };
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let (imported, log) = py.detach(|| order_events::import(&refs, &opts, &oe)).py()?;
    let (stream, report) = finish(imported)?;
    Ok((stream, report, order_columns(py, log)?))
}

/// The per-level FIFO of resting orders once L2 rows `[0, row)` are applied, from the order
/// log's columns: `[(side, price_ticks, [(order_id, qty_lots), ...]), ...]`, bids best first
/// then asks best first.
#[pyfunction]
#[pyo3(signature = (order_id, recv_ts_ns, action, side, price_ticks, qty_lots, l2_row, row, *, source="orders"))]
#[allow(clippy::too_many_arguments)]
pub fn order_queues_at(
    py: Python<'_>,
    order_id: PyReadonlyArray1<'_, u64>,
    recv_ts_ns: PyReadonlyArray1<'_, i64>,
    action: PyReadonlyArray1<'_, u8>,
    side: PyReadonlyArray1<'_, i8>,
    price_ticks: PyReadonlyArray1<'_, i64>,
    qty_lots: PyReadonlyArray1<'_, i64>,
    l2_row: PyReadonlyArray1<'_, u64>,
    row: u64,
    source: &str,
) -> PyResult<Vec<LevelQueue>> {
    let log = OrderLog {
        order_id: order_id.as_array().to_vec(),
        recv_ts_ns: recv_ts_ns.as_array().to_vec(),
        action: action.as_array().to_vec(),
        side: side.as_array().to_vec(),
        price_ticks: price_ticks.as_array().to_vec(),
        qty_lots: qty_lots.as_array().to_vec(),
        l2_row: l2_row.as_array().to_vec(),
    };
    py.detach(|| log.queues_at(row, source)).py()
}

/// The Binance stream importer fed one line at a time (a live feed): each line as the
/// recording holds it (`<receive time ns> <JSON>`), then `drain()` for the events made since
/// the last drain, as a `Stream` in ticks and lots of the given tick and lot sizes (decimal
/// strings; a live import cannot infer them from data not received yet). Gaps resync by
/// default (`on_gap="resync"`: the book cleared until the next snapshot), as a live feed must.
#[pyclass(module = "lobzero._core")]
pub struct BinanceLiveImporter {
    importer: binance_stream::BinanceStreamImporter,
}

#[pymethods]
impl BinanceLiveImporter {
    #[new]
    #[pyo3(signature = (tick_size, lot_size, *, symbol=None, venue=None, on_gap="resync", round_qty=false))]
    fn new(
        tick_size: &str,
        lot_size: &str,
        symbol: Option<String>,
        venue: Option<String>,
        on_gap: &str,
        round_qty: bool,
    ) -> PyResult<Self> {
        let opts = options(
            symbol,
            venue,
            Some(tick_size),
            Some(lot_size),
            on_gap,
            round_qty,
        )?;
        Ok(Self {
            importer: binance_stream::BinanceStreamImporter::new(opts),
        })
    }

    /// Reads one line (`<receive time ns> <JSON>`, no newline).
    fn feed_line(&mut self, line: &str) -> PyResult<()> {
        self.importer.feed_line(line).py()
    }

    /// The events since the last drain as a validated `Stream` (None: no new event).
    fn drain(&mut self) -> PyResult<Option<Stream>> {
        let events = self.importer.drain().py()?;
        if events.is_empty() {
            return Ok(None);
        }
        let instrument = self.importer.live_instrument().py()?;
        Ok(Some(Stream::new(events, instrument)))
    }

    /// The import report so far, as JSON.
    fn report(&self) -> PyResult<String> {
        serde_json::to_string(self.importer.report())
            .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))
    }
}
