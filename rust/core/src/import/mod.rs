//! Importers: exchange and vendor files into an [`EventStream`] plus its [`Instrument`].
//!
//! Text formats are parsed into [`RawEvent`]s that keep exact decimal prices and sizes and the
//! file and line they came from; [`RawEvents::finish`] then picks the tick and lot (given, or the
//! finest grid the data uses), converts to integers and validates the result, so every error
//! names the line of the file that caused it.

pub mod binance_stream;
pub mod hftbacktest;
pub mod text;

use crate::decimal::Decimal;
use crate::error::{LobzeroError, Result};
use crate::event::{Event, EventStream, Instrument, StreamSummary};
use serde::Serialize;
use std::collections::BTreeMap;

/// What to do when exchange sequence numbers show that updates were lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GapPolicy {
    /// Stop with a `SequenceGap` error naming the line.
    #[default]
    Error,
    /// Clear the book (it is unknown) and drop updates until the next snapshot; counted.
    Resync,
}

impl std::str::FromStr for GapPolicy {
    type Err = LobzeroError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "error" => Ok(Self::Error),
            "resync" => Ok(Self::Resync),
            other => Err(LobzeroError::config(format!(
                "on_gap must be \"error\" or \"resync\", got {other:?}"
            ))),
        }
    }
}

/// Options shared by the importers.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Instrument symbol; taken from the data when the format carries it.
    pub symbol: Option<String>,
    /// Venue name; taken from the data when the format carries it.
    pub venue: Option<String>,
    /// Tick size; inferred as the finest decimal grid of the prices when absent.
    pub tick_size: Option<Decimal>,
    /// Lot size; inferred as the finest decimal grid of the sizes when absent.
    pub lot_size: Option<Decimal>,
    pub on_gap: GapPolicy,
    /// Round sizes that are off the lot grid to the nearest lot (counted) instead of failing.
    pub round_qty: bool,
}

/// What an import read, kept, dropped and repaired. Saved with the stream (Parquet metadata).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub format: String,
    pub files: Vec<String>,
    pub lines: u64,
    /// Messages or rows read, by type (e.g. "depthUpdate", "trade", "bookTicker", "snapshot").
    pub messages: BTreeMap<String, u64>,
    pub events_by_kind: BTreeMap<String, u64>,
    pub snapshots: u64,
    /// Depth diffs older than the snapshot they precede, dropped as the exchange documents.
    pub stale_diffs_dropped: u64,
    /// Sequence gaps found (each resynchronised when `on_gap = "resync"`).
    pub gaps: u64,
    /// Depth diffs dropped while waiting for a snapshot after a gap (or at the end of the file).
    pub diffs_dropped_awaiting_snapshot: u64,
    /// Sizes rounded to the lot grid (`round_qty`).
    pub qty_rounded: u64,
    pub tick_size: String,
    pub lot_size: String,
    pub tick_size_inferred: bool,
    pub lot_size_inferred: bool,
    /// Messages the format carries that lobzero reads but does not turn into events, and why.
    pub notes: Vec<String>,
    pub max_bid_levels: usize,
    pub max_ask_levels: usize,
}

impl ImportReport {
    pub fn count_message(&mut self, name: &str) {
        *self.messages.entry(name.to_string()).or_default() += 1;
    }

    pub fn set_summary(&mut self, summary: &StreamSummary) {
        for (k, name) in crate::event::KIND_NAMES.iter().enumerate() {
            self.events_by_kind
                .insert(name.to_string(), summary.events_by_kind[k]);
        }
        self.max_bid_levels = summary.max_bid_levels;
        self.max_ask_levels = summary.max_ask_levels;
    }
}

/// The result of an import.
#[derive(Debug, Clone)]
pub struct Imported {
    pub instrument: Instrument,
    pub events: EventStream,
    pub report: ImportReport,
}

/// An event with exact decimal price and size and the place it was read from.
#[derive(Debug, Clone, Copy)]
pub struct RawEvent {
    pub ts_ns: i64,
    pub recv_ts_ns: i64,
    pub kind: u8,
    pub side: i8,
    pub price: Decimal,
    pub qty: Decimal,
    pub file: u32,
    pub line: u64,
}

/// Raw events of one import, in stream order, with the file names they point into.
#[derive(Debug, Clone, Default)]
pub struct RawEvents {
    pub files: Vec<String>,
    pub events: Vec<RawEvent>,
}

impl RawEvents {
    pub fn location(&self, file: u32, line: u64) -> String {
        let name = self
            .files
            .get(file as usize)
            .map_or("<input>", |s| s.as_str());
        format!("{name}:{line}")
    }

    /// Converts to integer ticks and lots and validates the stream, naming file and line on error.
    pub fn finish(
        self,
        options: &ImportOptions,
        symbol: &str,
        venue: &str,
        mut report: ImportReport,
    ) -> Result<Imported> {
        let finest = |values: &mut dyn Iterator<Item = Decimal>| {
            values.filter(|d| !d.is_zero()).map(|d| d.scale).max()
        };
        let (tick, tick_inferred) = match options.tick_size {
            Some(t) => (t, false),
            None => {
                let scale = finest(
                    &mut self
                        .events
                        .iter()
                        .filter(|e| e.kind != crate::event::KIND_CLEAR)
                        .map(|e| e.price),
                );
                (Decimal::unit(scale.unwrap_or(0)), true)
            }
        };
        let (lot, lot_inferred) = match options.lot_size {
            Some(l) => (l, false),
            None => {
                let scale = finest(&mut self.events.iter().map(|e| e.qty));
                (Decimal::unit(scale.unwrap_or(0)), true)
            }
        };
        let instrument = Instrument::new(
            options.symbol.as_deref().unwrap_or(symbol),
            options.venue.as_deref().unwrap_or(venue),
            tick,
            lot,
        )?;
        let mut stream = EventStream::with_capacity(self.events.len());
        let lot_f = lot.to_f64();
        for e in &self.events {
            let loc = || self.location(e.file, e.line);
            let price_ticks = e.price.to_steps(tick).map_err(|rule| {
                LobzeroError::invalid(loc(), format!("price {rule} (tick size)"))
            })?;
            let qty_lots = match e.qty.to_steps(lot) {
                Ok(q) => q,
                Err(_) if options.round_qty => {
                    report.qty_rounded += 1;
                    crate::decimal::f64_to_steps(e.qty.to_f64(), lot_f, true)
                        .map_err(|r| LobzeroError::invalid(loc(), format!("size {r}")))?
                        .0
                }
                Err(rule) => {
                    return Err(LobzeroError::invalid(
                        loc(),
                        format!("size {rule} (lot size); pass round_qty=True to round to the lot"),
                    ))
                }
            };
            stream.push(Event {
                ts_ns: e.ts_ns,
                recv_ts_ns: e.recv_ts_ns,
                kind: e.kind,
                side: e.side,
                price_ticks,
                qty_lots,
            });
        }
        let summary = stream.validate_with(|row| {
            let e = &self.events[row];
            self.location(e.file, e.line)
        })?;
        report.set_summary(&summary);
        report.files = self.files;
        report.tick_size = tick.to_string();
        report.lot_size = lot.to_string();
        report.tick_size_inferred = tick_inferred;
        report.lot_size_inferred = lot_inferred;
        Ok(Imported {
            instrument,
            events: stream,
            report,
        })
    }
}
