//! The columnar event stream every part of lobzero reads: one row per book or trade event, in the
//! order the local machine received them.
//!
//! | column        | type | meaning                                                             |
//! |---------------|------|---------------------------------------------------------------------|
//! | `ts_ns`       | i64  | exchange time, ns since the Unix epoch (informational)              |
//! | `recv_ts_ns`  | i64  | local receive time, ns; never decreases; the replay clock           |
//! | `kind`        | u8   | [`KIND_SNAPSHOT`], [`KIND_UPDATE`], [`KIND_TRADE`], [`KIND_CLEAR`]  |
//! | `side`        | i8   | [`SIDE_BID`] (+1), [`SIDE_ASK`] (-1), [`SIDE_NONE`] (0)             |
//! | `price_ticks` | i64  | price in ticks of the instrument (> 0 for levels and trades)       |
//! | `qty_lots`    | i64  | size in lots; for levels the new absolute size (0 deletes the level)|
//!
//! Kinds: a *snapshot* row sets one level of a full book image (a snapshot is a `clear` of both
//! sides followed by its levels, all with one receive time); an *update* row sets one level; a
//! *trade* row is a print whose `side` is the aggressor's (+1 buyer-initiated, -1 seller-initiated,
//! 0 unknown) and which leaves the book as it is; a *clear* row empties one side (`side` ±1) or
//! both (`side` 0), as after a sequence gap, when the book is unknown until the next snapshot.

use crate::book::{Book, OrderBook};
use crate::decimal::Decimal;
use crate::error::{LobzeroError, Result};
use serde::{Deserialize, Serialize};

pub const KIND_SNAPSHOT: u8 = 0;
pub const KIND_UPDATE: u8 = 1;
pub const KIND_TRADE: u8 = 2;
pub const KIND_CLEAR: u8 = 3;
/// Names of the kinds, indexed by the kind code.
pub const KIND_NAMES: [&str; 4] = ["snapshot", "update", "trade", "clear"];

pub const SIDE_BID: i8 = 1;
pub const SIDE_ASK: i8 = -1;
pub const SIDE_NONE: i8 = 0;

/// What is traded, the grid its prices and sizes live on, and how a position is valued.
///
/// Contract fields (defaults: linear, `contract_size` "1", `multiplier` "1", as for spot):
/// - *linear* (`inverse` false): one lot at price `p` is worth
///   `p × lot_size × contract_size × multiplier` quote currency; profit and loss settle in quote
///   currency. `contract_size` is the base units one unit of size stands for (1 when sizes are
///   already in base units), `multiplier` the quote currency per price point per unit (ES: 50).
/// - *inverse* (`inverse` true, e.g. Binance COIN-M): sizes count contracts of a fixed quote
///   notional `contract_size` (BTCUSD_PERP: 100 USD), so one lot at price `p` is worth
///   `lot_size × contract_size / p` of the base coin, and profit and loss settle in the base
///   coin: `n × contract_size × (1/entry − 1/exit)`. `multiplier` must be 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instrument {
    pub symbol: String,
    pub venue: String,
    /// Price of one tick, in quote currency, as an exact decimal string (e.g. "0.01").
    pub tick_size: String,
    /// Size of one lot, in units of size (base currency, or contracts), as an exact decimal
    /// string (e.g. "0.00001").
    pub lot_size: String,
    /// Linear: base units per unit of size; inverse: quote notional of one contract (decimal).
    #[serde(default = "one")]
    pub contract_size: String,
    /// True when profit and loss settle in the base coin (see the type's docs).
    #[serde(default)]
    pub inverse: bool,
    /// Quote currency per price point per unit of size (decimal; 1 for spot; 1 for inverse).
    #[serde(default = "one")]
    pub multiplier: String,
}

fn one() -> String {
    "1".to_string()
}

/// How a position turns into money, from an [`Instrument`] (floats: the ledger's edge).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum Contract {
    /// One lot at `p` ticks is worth `p × quote_per_tick_lot` quote currency.
    Linear { quote_per_tick_lot: f64 },
    /// One lot at `p` ticks is worth `quote_per_lot / (p × tick)` base coin.
    Inverse { quote_per_lot: f64, tick: f64 },
}

impl Contract {
    /// Settlement-currency value of one lot at `price_ticks` (> 0), never negative.
    pub fn lot_value(&self, price_ticks: f64) -> f64 {
        match *self {
            Contract::Linear { quote_per_tick_lot } => price_ticks * quote_per_tick_lot,
            Contract::Inverse {
                quote_per_lot,
                tick,
            } => quote_per_lot / (price_ticks * tick),
        }
    }

    /// Settlement-currency notional of `lots` (signed as given) at `price_ticks`.
    pub fn notional(&self, price_ticks: f64, lots: f64) -> f64 {
        match *self {
            Contract::Linear { quote_per_tick_lot } => price_ticks * lots * quote_per_tick_lot,
            Contract::Inverse {
                quote_per_lot,
                tick,
            } => lots * quote_per_lot / (price_ticks * tick),
        }
    }

    pub fn is_inverse(&self) -> bool {
        matches!(self, Contract::Inverse { .. })
    }
}

impl Instrument {
    /// A linear instrument (spot-like: contract size 1, multiplier 1); see
    /// [`Instrument::with_contract`] for inverse and multiplied contracts.
    pub fn new(symbol: &str, venue: &str, tick_size: Decimal, lot_size: Decimal) -> Result<Self> {
        if tick_size.is_zero() || lot_size.is_zero() {
            return Err(LobzeroError::config(
                "tick_size and lot_size must be positive",
            ));
        }
        Ok(Self {
            symbol: symbol.to_string(),
            venue: venue.to_string(),
            tick_size: tick_size.to_string(),
            lot_size: lot_size.to_string(),
            contract_size: one(),
            inverse: false,
            multiplier: one(),
        })
    }

    /// The same instrument with these contract fields (see the type's docs). Zero sizes and an
    /// inverse contract with a multiplier other than 1 are configuration errors.
    pub fn with_contract(
        mut self,
        contract_size: Decimal,
        inverse: bool,
        multiplier: Decimal,
    ) -> Result<Self> {
        if contract_size.is_zero() || multiplier.is_zero() {
            return Err(LobzeroError::config(format!(
                "instrument {}: contract_size and multiplier must be positive",
                self.symbol
            )));
        }
        if inverse && multiplier != Decimal::unit(0) {
            return Err(LobzeroError::config(format!(
                "instrument {}: an inverse contract has multiplier 1 (its contract_size is the \
                 quote notional of one contract), got multiplier {multiplier}",
                self.symbol
            )));
        }
        self.contract_size = contract_size.to_string();
        self.inverse = inverse;
        self.multiplier = multiplier.to_string();
        Ok(self)
    }

    /// Tick and lot as exact decimals; a malformed string is a configuration error.
    pub fn steps(&self) -> Result<(Decimal, Decimal)> {
        Ok((
            positive("tick_size", &self.tick_size)?,
            positive("lot_size", &self.lot_size)?,
        ))
    }

    /// Contract size and multiplier as exact decimals.
    pub fn contract_terms(&self) -> Result<(Decimal, Decimal)> {
        Ok((
            positive("contract_size", &self.contract_size)?,
            positive("multiplier", &self.multiplier)?,
        ))
    }

    /// How the ledger values a position in this instrument.
    pub fn contract(&self) -> Result<Contract> {
        let (tick, lot) = self.steps()?;
        let (size, multiplier) = self.contract_terms()?;
        let (tick, lot, size, multiplier) = (
            tick.to_f64(),
            lot.to_f64(),
            size.to_f64(),
            multiplier.to_f64(),
        );
        if self.inverse {
            if multiplier != 1.0 {
                return Err(LobzeroError::config(format!(
                    "instrument {}: an inverse contract has multiplier 1, got {}",
                    self.symbol, self.multiplier
                )));
            }
            Ok(Contract::Inverse {
                quote_per_lot: lot * size,
                tick,
            })
        } else {
            Ok(Contract::Linear {
                quote_per_tick_lot: tick * lot * size * multiplier,
            })
        }
    }

    pub fn tick_size_f64(&self) -> Result<f64> {
        Ok(self.steps()?.0.to_f64())
    }

    pub fn lot_size_f64(&self) -> Result<f64> {
        Ok(self.steps()?.1.to_f64())
    }
}

fn positive(name: &str, text: &str) -> Result<Decimal> {
    let value = Decimal::parse(text)
        .map_err(|e| LobzeroError::config(format!("instrument {name}: {e}")))?;
    if value.is_zero() {
        return Err(LobzeroError::config(format!(
            "instrument {name} must be positive"
        )));
    }
    Ok(value)
}

/// One row of the stream, for building streams event by event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    pub ts_ns: i64,
    pub recv_ts_ns: i64,
    pub kind: u8,
    pub side: i8,
    pub price_ticks: i64,
    pub qty_lots: i64,
}

/// The stream itself, as columns of equal length.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventStream {
    pub ts_ns: Vec<i64>,
    pub recv_ts_ns: Vec<i64>,
    pub kind: Vec<u8>,
    pub side: Vec<i8>,
    pub price_ticks: Vec<i64>,
    pub qty_lots: Vec<i64>,
}

/// What [`EventStream::validate`] learnt on the way.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StreamSummary {
    pub events_by_kind: [u64; 4],
    pub max_bid_levels: usize,
    pub max_ask_levels: usize,
}

impl EventStream {
    pub fn with_capacity(n: usize) -> Self {
        Self {
            ts_ns: Vec::with_capacity(n),
            recv_ts_ns: Vec::with_capacity(n),
            kind: Vec::with_capacity(n),
            side: Vec::with_capacity(n),
            price_ticks: Vec::with_capacity(n),
            qty_lots: Vec::with_capacity(n),
        }
    }

    /// Builds a stream from columns, checking that they have one length.
    pub fn from_columns(
        ts_ns: Vec<i64>,
        recv_ts_ns: Vec<i64>,
        kind: Vec<u8>,
        side: Vec<i8>,
        price_ticks: Vec<i64>,
        qty_lots: Vec<i64>,
    ) -> Result<Self> {
        let n = ts_ns.len();
        let lengths = [
            ("recv_ts_ns", recv_ts_ns.len()),
            ("kind", kind.len()),
            ("side", side.len()),
            ("price_ticks", price_ticks.len()),
            ("qty_lots", qty_lots.len()),
        ];
        for (name, len) in lengths {
            if len != n {
                return Err(LobzeroError::invalid(
                    format!("column {name}"),
                    format!("has {len} rows but ts_ns has {n}"),
                ));
            }
        }
        Ok(Self {
            ts_ns,
            recv_ts_ns,
            kind,
            side,
            price_ticks,
            qty_lots,
        })
    }

    pub fn len(&self) -> usize {
        self.kind.len()
    }

    pub fn is_empty(&self) -> bool {
        self.kind.is_empty()
    }

    pub fn push(&mut self, e: Event) {
        self.ts_ns.push(e.ts_ns);
        self.recv_ts_ns.push(e.recv_ts_ns);
        self.kind.push(e.kind);
        self.side.push(e.side);
        self.price_ticks.push(e.price_ticks);
        self.qty_lots.push(e.qty_lots);
    }

    pub fn get(&self, i: usize) -> Event {
        Event {
            ts_ns: self.ts_ns[i],
            recv_ts_ns: self.recv_ts_ns[i],
            kind: self.kind[i],
            side: self.side[i],
            price_ticks: self.price_ticks[i],
            qty_lots: self.qty_lots[i],
        }
    }

    /// Appends another stream (the next file of one recording).
    pub fn extend(&mut self, other: &EventStream) {
        self.ts_ns.extend_from_slice(&other.ts_ns);
        self.recv_ts_ns.extend_from_slice(&other.recv_ts_ns);
        self.kind.extend_from_slice(&other.kind);
        self.side.extend_from_slice(&other.side);
        self.price_ticks.extend_from_slice(&other.price_ticks);
        self.qty_lots.extend_from_slice(&other.qty_lots);
    }

    /// Rows `[start, end)` as a new stream.
    pub fn slice(&self, start: usize, end: usize) -> Self {
        let end = end.min(self.len());
        let start = start.min(end);
        Self {
            ts_ns: self.ts_ns[start..end].to_vec(),
            recv_ts_ns: self.recv_ts_ns[start..end].to_vec(),
            kind: self.kind[start..end].to_vec(),
            side: self.side[start..end].to_vec(),
            price_ticks: self.price_ticks[start..end].to_vec(),
            qty_lots: self.qty_lots[start..end].to_vec(),
        }
    }

    pub fn start_ns(&self) -> Option<i64> {
        self.recv_ts_ns.first().copied()
    }

    pub fn end_ns(&self) -> Option<i64> {
        self.recv_ts_ns.last().copied()
    }

    /// Checks every rule of the format, replaying the book to find crossed states. `source` names
    /// the stream in errors (rows are numbered from 0). The book is checked for crossing once all
    /// the events of one receive time are applied: an exchange message may move both sides, and
    /// only the state after it is ever observable.
    pub fn validate(&self, source: &str) -> Result<StreamSummary> {
        self.validate_with(|i| format!("{source} row {i}"))
    }

    /// [`EventStream::validate`] with errors located by `locate(row)` (an importer maps rows
    /// back to the file and line they came from).
    pub fn validate_with(&self, locate: impl Fn(usize) -> String) -> Result<StreamSummary> {
        let mut validator = StreamValidator::default();
        validator.check(self, locate)?;
        Ok(validator.summary)
    }
}

/// [`EventStream::validate`] of a stream that arrives in parts (a live feed): the book and the
/// last receive time carry over from one part to the next. A part must end where a receive
/// time ends (its last group is checked for crossing at its end).
#[derive(Debug, Clone, Default)]
pub struct StreamValidator {
    book: Book,
    last_recv_ts_ns: Option<i64>,
    pub summary: StreamSummary,
}

impl StreamValidator {
    /// Checks `part`, the events after those checked so far; errors locate `locate(row of part)`.
    pub fn check(&mut self, part: &EventStream, locate: impl Fn(usize) -> String) -> Result<()> {
        let (summary, book) = (&mut self.summary, &mut self.book);
        let n = part.len();
        for i in 0..n {
            let loc = || locate(i);
            let kind = part.kind[i];
            let side = part.side[i];
            let price = part.price_ticks[i];
            let qty = part.qty_lots[i];
            let previous = if i > 0 {
                Some(part.recv_ts_ns[i - 1])
            } else {
                self.last_recv_ts_ns
            };
            if let Some(previous) = previous.filter(|&p| part.recv_ts_ns[i] < p) {
                return Err(LobzeroError::TimestampOrder {
                    location: loc(),
                    previous_ts_ns: previous,
                    ts_ns: part.recv_ts_ns[i],
                });
            }
            if part.ts_ns[i] < 0 || part.recv_ts_ns[i] < 0 {
                return Err(LobzeroError::invalid(loc(), "timestamps must be >= 0 ns"));
            }
            match kind {
                KIND_SNAPSHOT | KIND_UPDATE => {
                    if side != SIDE_BID && side != SIDE_ASK {
                        return Err(LobzeroError::invalid(
                            loc(),
                            format!("a level must have side +1 (bid) or -1 (ask), got {side}"),
                        ));
                    }
                    if price <= 0 {
                        return Err(LobzeroError::invalid(
                            loc(),
                            format!("level price must be > 0 ticks, got {price}"),
                        ));
                    }
                    if qty < 0 {
                        return Err(LobzeroError::invalid(
                            loc(),
                            format!("level size must be >= 0 lots, got {qty}"),
                        ));
                    }
                    book.set_level(side, price, qty);
                }
                KIND_TRADE => {
                    if !(-1..=1).contains(&side) {
                        return Err(LobzeroError::invalid(
                            loc(),
                            format!("a trade side must be +1, -1 or 0, got {side}"),
                        ));
                    }
                    if price <= 0 || qty <= 0 {
                        return Err(LobzeroError::invalid(
                            loc(),
                            format!("a trade needs price > 0 and size > 0, got {price} ticks x {qty} lots"),
                        ));
                    }
                }
                KIND_CLEAR => {
                    if !(-1..=1).contains(&side) {
                        return Err(LobzeroError::invalid(
                            loc(),
                            format!("a clear side must be +1, -1 or 0, got {side}"),
                        ));
                    }
                    book.clear(side);
                }
                other => {
                    return Err(LobzeroError::invalid(
                        loc(),
                        format!(
                            "unknown event kind {other} (0 snapshot, 1 update, 2 trade, 3 clear)"
                        ),
                    ))
                }
            }
            summary.events_by_kind[kind as usize] += 1;
            let group_ends = i + 1 == n || part.recv_ts_ns[i + 1] != part.recv_ts_ns[i];
            if group_ends {
                if let (Some((bid, _)), Some((ask, _))) = (book.best_bid(), book.best_ask()) {
                    if bid >= ask {
                        return Err(LobzeroError::CrossedBook {
                            location: loc(),
                            best_bid: bid.to_string(),
                            best_ask: ask.to_string(),
                            unit: "ticks",
                        });
                    }
                }
                summary.max_bid_levels = summary.max_bid_levels.max(book.depth_levels(SIDE_BID));
                summary.max_ask_levels = summary.max_ask_levels.max(book.depth_levels(SIDE_ASK));
            }
        }
        if n > 0 {
            self.last_recv_ts_ns = Some(part.recv_ts_ns[n - 1]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(recv: i64, kind: u8, side: i8, price: i64, qty: i64) -> Event {
        Event {
            ts_ns: recv,
            recv_ts_ns: recv,
            kind,
            side,
            price_ticks: price,
            qty_lots: qty,
        }
    }

    #[test]
    fn validates_a_good_stream() {
        let mut s = EventStream::default();
        s.push(ev(1, KIND_CLEAR, SIDE_NONE, 0, 0));
        s.push(ev(1, KIND_SNAPSHOT, SIDE_BID, 99, 5));
        s.push(ev(1, KIND_SNAPSHOT, SIDE_ASK, 101, 5));
        s.push(ev(2, KIND_TRADE, SIDE_BID, 101, 1));
        // crosses for a moment, inside one receive time: fine
        s.push(ev(3, KIND_UPDATE, SIDE_BID, 102, 1));
        s.push(ev(3, KIND_UPDATE, SIDE_ASK, 101, 0));
        s.push(ev(3, KIND_UPDATE, SIDE_ASK, 103, 2));
        let summary = s.validate("test").unwrap();
        assert_eq!(summary.events_by_kind, [2, 3, 1, 1]);
        assert_eq!(summary.max_bid_levels, 2);
    }

    #[test]
    fn refuses_crossed_book_backwards_time_and_bad_values() {
        let mut s = EventStream::default();
        s.push(ev(1, KIND_UPDATE, SIDE_BID, 100, 5));
        s.push(ev(2, KIND_UPDATE, SIDE_ASK, 100, 5));
        assert!(matches!(
            s.validate("t"),
            Err(LobzeroError::CrossedBook { .. })
        ));

        let mut s = EventStream::default();
        s.push(ev(2, KIND_UPDATE, SIDE_BID, 100, 5));
        s.push(ev(1, KIND_UPDATE, SIDE_BID, 100, 5));
        let err = s.validate("t").unwrap_err();
        assert!(matches!(err, LobzeroError::TimestampOrder { .. }));
        assert_eq!(err.location(), Some("t row 1"));

        for bad in [
            ev(1, KIND_UPDATE, SIDE_BID, 0, 5),
            ev(1, KIND_UPDATE, SIDE_BID, 10, -5),
            ev(1, KIND_UPDATE, SIDE_NONE, 10, 5),
            ev(1, KIND_TRADE, SIDE_BID, 10, 0),
            ev(1, 9, SIDE_BID, 10, 1),
        ] {
            let mut s = EventStream::default();
            s.push(bad);
            assert!(matches!(
                s.validate("t"),
                Err(LobzeroError::InvalidValue { .. })
            ));
        }
    }

    #[test]
    fn columns_must_match() {
        let err = EventStream::from_columns(vec![1], vec![1], vec![1], vec![1], vec![1], vec![]);
        assert!(err.is_err());
    }
}
