//! `Stream`: an immutable event stream plus its instrument, shared with numpy without copies.

use crate::errors::IntoPyResult;
use lobzero_core::env::SharedMarket;
use lobzero_core::event::Instrument;
use lobzero_core::{Decimal, EventStream, LobzeroError};
use numpy::ndarray::ArrayView1;
use numpy::{Element, PyArray1, PyArrayMethods, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::{Arc, OnceLock};

/// An event stream held in Rust memory. Immutable: its columns are handed to numpy as read-only
/// views that keep the stream alive, and environments share it without copies.
#[pyclass(frozen, module = "lobzero._core")]
pub struct Stream {
    pub events: Arc<EventStream>,
    pub instrument: Instrument,
    /// Built on first use by an environment (book checkpoints), then shared.
    market: OnceLock<SharedMarket>,
}

impl Stream {
    pub fn new(events: EventStream, instrument: Instrument) -> Self {
        Self {
            events: Arc::new(events),
            instrument,
            market: OnceLock::new(),
        }
    }

    /// The stream as environments see it, built once.
    pub fn shared_market(&self, py: Python<'_>) -> PyResult<SharedMarket> {
        if let Some(market) = self.market.get() {
            return Ok(market.clone());
        }
        let built = py
            .detach(|| SharedMarket::new(Arc::clone(&self.events), self.instrument.clone()))
            .py()?;
        Ok(self.market.get_or_init(|| built).clone())
    }
}

fn column<'py, T: Element>(
    slf: &Bound<'py, Stream>,
    data: &[T],
) -> PyResult<Bound<'py, PyArray1<T>>> {
    let view = ArrayView1::from(data);
    // SAFETY: the stream is frozen, so `data` is never mutated or freed while `slf` (the array's
    // base object) lives; the array is marked read-only below.
    let array = unsafe { PyArray1::borrow_from_array(&view, slf.clone().into_any()) };
    array.getattr("flags")?.setattr("writeable", false)?;
    Ok(array)
}

fn slice<'a, T: Element>(name: &str, array: &'a PyReadonlyArray1<'_, T>) -> PyResult<&'a [T]> {
    array.as_slice().map_err(|_| {
        crate::errors::to_py(LobzeroError::invalid(
            format!("column {name}"),
            "must be a contiguous 1-D array",
        ))
    })
}

pub fn parse_decimal(name: &str, text: &str) -> PyResult<Decimal> {
    Decimal::parse(text)
        .map_err(|e| LobzeroError::config(format!("{name}: {e}")))
        .py()
}

#[pymethods]
impl Stream {
    /// Builds and validates a stream from columns (see the module docs of `lobzero.data` for the
    /// column meanings). `source` names the input in error messages; `contract_size`,
    /// `inverse` and `multiplier` are the instrument's contract terms (decimal strings; see
    /// `lobzero.Instrument`).
    #[staticmethod]
    #[pyo3(signature = (ts_ns, recv_ts_ns, kind, side, price_ticks, qty_lots, symbol, venue, tick_size, lot_size, source="columns", contract_size="1", inverse=false, multiplier="1"))]
    #[allow(clippy::too_many_arguments)]
    fn from_columns(
        py: Python<'_>,
        ts_ns: PyReadonlyArray1<'_, i64>,
        recv_ts_ns: PyReadonlyArray1<'_, i64>,
        kind: PyReadonlyArray1<'_, u8>,
        side: PyReadonlyArray1<'_, i8>,
        price_ticks: PyReadonlyArray1<'_, i64>,
        qty_lots: PyReadonlyArray1<'_, i64>,
        symbol: &str,
        venue: &str,
        tick_size: &str,
        lot_size: &str,
        source: &str,
        contract_size: &str,
        inverse: bool,
        multiplier: &str,
    ) -> PyResult<Self> {
        let instrument = Instrument::new(
            symbol,
            venue,
            parse_decimal("tick_size", tick_size)?,
            parse_decimal("lot_size", lot_size)?,
        )
        .and_then(|i| {
            i.with_contract(
                Decimal::parse(contract_size)
                    .map_err(|e| LobzeroError::config(format!("contract_size: {e}")))?,
                inverse,
                Decimal::parse(multiplier)
                    .map_err(|e| LobzeroError::config(format!("multiplier: {e}")))?,
            )
        })
        .py()?;
        let events = EventStream::from_columns(
            slice("ts_ns", &ts_ns)?.to_vec(),
            slice("recv_ts_ns", &recv_ts_ns)?.to_vec(),
            slice("kind", &kind)?.to_vec(),
            slice("side", &side)?.to_vec(),
            slice("price_ticks", &price_ticks)?.to_vec(),
            slice("qty_lots", &qty_lots)?.to_vec(),
        )
        .py()?;
        py.detach(|| events.validate(source)).py()?;
        Ok(Self::new(events, instrument))
    }

    fn __len__(&self) -> usize {
        self.events.len()
    }

    /// Receive time of the first event, ns (None when empty).
    #[getter]
    fn start_ns(&self) -> Option<i64> {
        self.events.start_ns()
    }

    /// Receive time of the last event, ns (None when empty).
    #[getter]
    fn end_ns(&self) -> Option<i64> {
        self.events.end_ns()
    }

    /// Instrument as a dict: symbol, venue, tick_size, lot_size, contract_size, multiplier
    /// (decimal strings) and inverse (bool).
    #[getter]
    fn instrument<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("symbol", &self.instrument.symbol)?;
        d.set_item("venue", &self.instrument.venue)?;
        d.set_item("tick_size", &self.instrument.tick_size)?;
        d.set_item("lot_size", &self.instrument.lot_size)?;
        d.set_item("contract_size", &self.instrument.contract_size)?;
        d.set_item("inverse", self.instrument.inverse)?;
        d.set_item("multiplier", &self.instrument.multiplier)?;
        Ok(d)
    }

    /// The same events (shared, not copied) with the instrument's contract terms replaced:
    /// `contract_size` and `multiplier` decimal strings, `inverse` a bool.
    fn with_contract(
        &self,
        contract_size: &str,
        inverse: bool,
        multiplier: &str,
    ) -> PyResult<Self> {
        let instrument = self
            .instrument
            .clone()
            .with_contract(
                parse_decimal("contract_size", contract_size)?,
                inverse,
                parse_decimal("multiplier", multiplier)?,
            )
            .py()?;
        Ok(Self {
            events: Arc::clone(&self.events),
            instrument,
            market: OnceLock::new(),
        })
    }

    /// The six columns as read-only numpy arrays that share the stream's memory.
    fn columns<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyDict>> {
        let py = slf.py();
        let s = &slf.get().events;
        let d = PyDict::new(py);
        d.set_item("ts_ns", column(slf, &s.ts_ns)?)?;
        d.set_item("recv_ts_ns", column(slf, &s.recv_ts_ns)?)?;
        d.set_item("kind", column(slf, &s.kind)?)?;
        d.set_item("side", column(slf, &s.side)?)?;
        d.set_item("price_ticks", column(slf, &s.price_ticks)?)?;
        d.set_item("qty_lots", column(slf, &s.qty_lots)?)?;
        Ok(d)
    }

    /// Replays the stream once: the deepest book seen on each side (levels) and the events by
    /// kind, as a dict.
    fn summary<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let summary = py.detach(|| self.events.validate("stream")).py()?;
        let d = PyDict::new(py);
        d.set_item("max_bid_levels", summary.max_bid_levels)?;
        d.set_item("max_ask_levels", summary.max_ask_levels)?;
        d.set_item("events_by_kind", summary.events_by_kind.to_vec())?;
        Ok(d)
    }

    /// Rows [start, end) as a new stream with the same instrument.
    fn slice(&self, py: Python<'_>, start: usize, end: usize) -> Self {
        let events = py.detach(|| self.events.slice(start, end));
        Self::new(events, self.instrument.clone())
    }

    /// Replays the stream and reads `levels` levels a side every `step_ns` of receive time.
    /// Returns a dict: `ts_ns` [T] and `bid_price_ticks`, `bid_qty_lots`, `ask_price_ticks`,
    /// `ask_qty_lots` [T, levels] (int64; empty levels are 0).
    fn sample_book<'py>(
        &self,
        py: Python<'py>,
        step_ns: i64,
        levels: usize,
    ) -> PyResult<Bound<'py, PyDict>> {
        if step_ns <= 0 || levels == 0 {
            return Err(crate::errors::to_py(LobzeroError::config(
                "sample_book needs step_ns > 0 and levels > 0",
            )));
        }
        let samples = py.detach(|| lobzero_core::sample_book(&self.events, step_ns, levels));
        let steps = samples.ts_ns.len();
        let d = PyDict::new(py);
        d.set_item("ts_ns", PyArray1::from_vec(py, samples.ts_ns))?;
        for (name, data) in [
            ("bid_price_ticks", samples.bid_price_ticks),
            ("bid_qty_lots", samples.bid_qty_lots),
            ("ask_price_ticks", samples.ask_price_ticks),
            ("ask_qty_lots", samples.ask_qty_lots),
        ] {
            let array = PyArray1::from_vec(py, data).reshape([steps, levels])?;
            d.set_item(name, array)?;
        }
        Ok(d)
    }
}
