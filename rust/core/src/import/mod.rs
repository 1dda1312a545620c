//! Importers: exchange and vendor files into an [`EventStream`] plus its [`Instrument`].
//!
//! Text formats are parsed into [`RawEvent`]s that keep exact decimal prices and sizes and the
//! file and line they came from; [`RawEvents::finish`] then picks the tick and lot (given, or the
//! finest grid the data uses), converts to integers and validates the result, so every error
//! names the line of the file that caused it.

pub mod binance_compat;
pub mod binance_csv;
pub mod binance_sequence;
pub mod binance_stream;
pub mod databento;
mod dbn_files;
pub mod hftbacktest;
pub mod hyperliquid;
pub mod l3;
pub mod levels;
pub mod lobster;
pub mod order_events;
pub mod recv_clock;
pub mod tardis;
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

/// What to do when a message of a format that carries its own book (LOBSTER) disagrees with
/// the change that book shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MismatchPolicy {
    /// Stop with an `InvalidValue` error naming the file, the row and the rule.
    #[default]
    Error,
    /// Count the mismatch in the report (`book_check["mismatches"]`, first ones in `notes`) and
    /// keep the book the file shows.
    Count,
}

impl std::str::FromStr for MismatchPolicy {
    type Err = LobzeroError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "error" => Ok(Self::Error),
            "count" => Ok(Self::Count),
            other => Err(LobzeroError::config(format!(
                "on_book_mismatch must be \"error\" or \"count\", got {other:?}"
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
    /// Trading day `YYYY-MM-DD` of files whose times are seconds after midnight (LOBSTER);
    /// taken from the file name when it carries one.
    pub date: Option<String>,
    /// Book levels per side in the file (LOBSTER); taken from the file name when absent.
    pub levels: Option<usize>,
    pub on_book_mismatch: MismatchPolicy,
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
    /// Formats that carry their own book (LOBSTER): messages checked against the change the
    /// book shows ("checked"), not checkable ("beyond_visible_depth", "first_row"), and
    /// "mismatches" counted under `on_book_mismatch = "count"`. Empty for other formats.
    pub book_check: BTreeMap<String, u64>,
    /// The unit the receive times were written in ("ns", "us", "ms"), detected from their
    /// magnitude, for formats that allow several; `None` where the format fixes it.
    pub recv_time_unit: Option<String>,
    /// Order-level imports: actions kept, by name (add, cancel, modify, fill, clear, trade).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub order_actions: BTreeMap<String, u64>,
    /// Cancels, modifies and fills of orders never added, skipped (`on_unknown_order="skip"`).
    #[serde(skip_serializing_if = "is_zero")]
    pub unknown_orders: u64,
    /// The book holds only the orders the import saw: orders resting before the log began are
    /// missing until a snapshot (`unknown_orders` counts the actions that showed it).
    #[serde(skip_serializing_if = "is_false")]
    pub book_partial: bool,
    #[serde(skip_serializing_if = "is_zero")]
    pub resting_orders_at_end: u64,
    /// Venue events after which the book of orders was crossed, level updates held
    /// (`on_cross="hold"`).
    #[serde(skip_serializing_if = "is_zero")]
    pub crossed_events_held: u64,
    /// Contract multiplier from a definition file (decimal string), for the instrument.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract_multiplier: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl ImportReport {
    pub fn count_message(&mut self, name: &str) {
        *self.messages.entry(name.to_string()).or_default() += 1;
    }

    pub fn count_check(&mut self, name: &str) {
        *self.book_check.entry(name.to_string()).or_default() += 1;
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

/// The coarsest usual grid every value lies on: the largest step of the form 1, 2 or 5 × 10^k
/// that divides every value (e.g. 0.5 for Deribit prices 6421.5, 6422, ...; 0.5 again for a
/// file whose only price is 8531.5, where the plain greatest common divisor would be the price
/// itself); 1 when there are no non-zero values.
pub fn coarsest_grid(values: impl Iterator<Item = Decimal>) -> Decimal {
    fn gcd(mut a: i128, mut b: i128) -> i128 {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    }
    let values: Vec<Decimal> = values.filter(|d| !d.is_zero()).collect();
    let Some(scale) = values.iter().map(|d| d.scale).max() else {
        return Decimal::unit(0);
    };
    let mut g: i128 = 0;
    for d in &values {
        g = gcd(g, d.mantissa * 10i128.pow(scale - d.scale));
        if g == 1 {
            break;
        }
    }
    // the largest 1/2/5 × 10^k (in units of 10^-scale) dividing g
    let mut best = 1i128;
    let mut power = 1i128;
    while power <= g {
        for m in [1, 2, 5] {
            let step = m * power;
            if step <= g && g % step == 0 {
                best = best.max(step);
            }
        }
        power *= 10;
    }
    Decimal::new(best, scale).unwrap_or(Decimal::unit(scale))
}

/// One instrument per import: the first `value` read (a symbol, a coin, an exchange) is kept
/// in `seen`; a different one later is a `Format` error at `location`, naming both.
pub fn one_instrument(
    seen: &mut Option<String>,
    value: &str,
    what: &str,
    format: &str,
    location: impl FnOnce() -> String,
) -> Result<()> {
    match seen {
        None => *seen = Some(value.to_string()),
        Some(known) if known != value => {
            return Err(LobzeroError::Format {
                location: location(),
                format: format.into(),
                detail: format!(
                    "{what}{value:?} in a recording of {known:?}: one instrument per import"
                ),
            })
        }
        Some(_) => {}
    }
    Ok(())
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
    /// Merges several imports into one stream ordered by receive time; ties keep the order of
    /// `parts` (depth files before trade files, say). Each part must already be in order: a part
    /// whose times go backwards is refused, not sorted.
    pub fn merge(parts: Vec<RawEvents>) -> Result<RawEvents> {
        let mut merged = RawEvents::default();
        let mut tagged: Vec<(usize, RawEvent)> = Vec::new();
        for (k, part) in parts.into_iter().enumerate() {
            let offset = merged.files.len() as u32;
            for w in part.events.windows(2) {
                if w[1].recv_ts_ns < w[0].recv_ts_ns {
                    return Err(LobzeroError::TimestampOrder {
                        location: part.location(w[1].file, w[1].line),
                        previous_ts_ns: w[0].recv_ts_ns,
                        ts_ns: w[1].recv_ts_ns,
                    });
                }
            }
            tagged.extend(part.events.into_iter().map(|mut e| {
                e.file += offset;
                (k, e)
            }));
            merged.files.extend(part.files);
        }
        // stable: equal times keep part order, then file order within a part
        tagged.sort_by_key(|(k, e)| (e.recv_ts_ns, *k));
        merged.events = tagged.into_iter().map(|(_, e)| e).collect();
        Ok(merged)
    }

    pub fn location(&self, file: u32, line: u64) -> String {
        location(&self.files, file, line)
    }

    /// Converts to integer ticks and lots and validates the stream, naming file and line on error.
    pub fn finish(
        self,
        options: &ImportOptions,
        symbol: &str,
        venue: &str,
        report: ImportReport,
    ) -> Result<Imported> {
        let events = &self.events;
        finish_rows(
            &self.files,
            events.len(),
            options,
            (symbol, venue),
            report,
            || {
                coarsest_grid(
                    events
                        .iter()
                        .filter(|e| e.kind != crate::event::KIND_CLEAR)
                        .map(|e| e.price),
                )
            },
            || coarsest_grid(events.iter().map(|e| e.qty)),
            |row, tick, lot, rounded| {
                let e = &events[row];
                raw_event_to_steps(e, tick, lot, options.round_qty, rounded, || {
                    self.location(e.file, e.line)
                })
            },
            |row| self.location(events[row].file, events[row].line),
        )
    }
}

/// `file:line`, `<input>` for a file index out of range.
pub(crate) fn location(files: &[String], file: u32, line: u64) -> String {
    let name = files.get(file as usize).map_or("<input>", |s| s.as_str());
    format!("{name}:{line}")
}

/// One raw event in ticks and lots: a price off the tick grid is an error, a size off the lot
/// grid too unless `round_qty` (then rounded and counted in `rounded`).
pub(crate) fn raw_event_to_steps(
    e: &RawEvent,
    tick: Decimal,
    lot: Decimal,
    round_qty: bool,
    rounded: &mut u64,
    loc: impl Fn() -> String,
) -> Result<Event> {
    let price_ticks = e
        .price
        .to_steps(tick)
        .map_err(|rule| LobzeroError::invalid(loc(), format!("price {rule} (tick size)")))?;
    let qty_lots = match e.qty.to_steps(lot) {
        Ok(q) => q,
        Err(_) if round_qty => {
            *rounded += 1;
            crate::decimal::f64_to_steps(e.qty.to_f64(), lot.to_f64(), true)
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
    Ok(Event {
        ts_ns: e.ts_ns,
        recv_ts_ns: e.recv_ts_ns,
        kind: e.kind,
        side: e.side,
        price_ticks,
        qty_lots,
    })
}

/// The common end of an import of `rows` stream rows: the tick and lot (given, else inferred by
/// `infer_tick` / `infer_lot`), each row converted by `convert(row, tick, lot, &mut
/// qty_rounded)`, the validation replay naming `locate(row)` on error, and the report.
#[allow(clippy::too_many_arguments)]
pub(crate) fn finish_rows(
    files: &[String],
    rows: usize,
    options: &ImportOptions,
    (symbol, venue): (&str, &str),
    mut report: ImportReport,
    infer_tick: impl FnOnce() -> Decimal,
    infer_lot: impl FnOnce() -> Decimal,
    mut convert: impl FnMut(usize, Decimal, Decimal, &mut u64) -> Result<Event>,
    locate: impl Fn(usize) -> String,
) -> Result<Imported> {
    if rows == 0 {
        // an empty market would replay as nothing, with no symbol and a made-up tick of 1
        return Err(LobzeroError::Format {
            location: files.join(", "),
            format: report.format.clone(),
            detail: "no events: the file is empty or holds only headers or messages that \
                     are not events"
                .into(),
        });
    }
    let (tick, tick_inferred) = match options.tick_size {
        Some(t) => (t, false),
        None => (infer_tick(), true),
    };
    let (lot, lot_inferred) = match options.lot_size {
        Some(l) => (l, false),
        None => (infer_lot(), true),
    };
    let instrument = Instrument::new(
        options.symbol.as_deref().unwrap_or(symbol),
        options.venue.as_deref().unwrap_or(venue),
        tick,
        lot,
    )?;
    let mut stream = EventStream::with_capacity(rows);
    for row in 0..rows {
        stream.push(convert(row, tick, lot, &mut report.qty_rounded)?);
    }
    let summary = stream.validate_with(locate)?;
    report.set_summary(&summary);
    report.files = files.to_vec();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_events_is_an_error_naming_the_files() {
        let raw = RawEvents {
            files: vec!["a.csv.gz".into(), "b.csv.gz".into()],
            events: vec![],
        };
        let report = ImportReport {
            format: "tardis".into(),
            ..Default::default()
        };
        let err = raw
            .finish(&ImportOptions::default(), "", "", report)
            .expect_err("an import of no events must fail");
        assert!(matches!(err, LobzeroError::Format { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.starts_with("a.csv.gz, b.csv.gz: not a valid tardis file (no events"),
            "{text}"
        );
    }
}
