//! Order-level (L3, market by order) imports: a [`MboBook`] fed action by action, whose L2
//! aggregate becomes the event stream (one level update per level whose total changed, at the
//! end of each venue event) and whose actions become the market's [`OrderLog`].
//!
//! Prices and sizes enter as integers of `10^-price_scale` and `10^-qty_scale` (Databento: 9
//! and 0) and the L2 rows stay integers in those units; [`L3Builder::finish`] picks the tick
//! and lot (given, from a definition, or inferred), converts the rows by one integer division
//! where the tick and lot are whole numbers of source units (through [`Decimal`] otherwise, and
//! for any row that is off the grid, so the error is the one a text format gives), validates
//! the stream, and converts the order log to the same ticks and lots.

use super::{coarsest_grid, finish_rows, raw_event_to_steps};
use super::{ImportOptions, ImportReport, Imported, RawEvent};
use crate::decimal::Decimal;
use crate::error::{LobzeroError, Result};
use crate::event::{Event, KIND_CLEAR, KIND_SNAPSHOT, KIND_TRADE, KIND_UPDATE};
use crate::orders::log::OrderAction;
use crate::orders::{MboBook, OrderLog, OrderRule, ACTION_ADD, ACTION_CANCEL, ACTION_CLEAR};
use crate::orders::{ACTION_FILL, ACTION_MODIFY, ACTION_NAMES, ACTION_TRADE};

/// What to do with a cancel, modify or fill of an order the import never saw added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownOrderPolicy {
    /// Stop with an `InvalidValue` error naming the record.
    #[default]
    Error,
    /// Skip the action, count it (`unknown_orders`) and mark the book partial: the standard
    /// reading of a log that starts mid-session, before a snapshot.
    Skip,
}

impl std::str::FromStr for UnknownOrderPolicy {
    type Err = LobzeroError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "error" => Ok(Self::Error),
            "skip" => Ok(Self::Skip),
            other => Err(LobzeroError::config(format!(
                "on_unknown_order must be \"error\" or \"skip\", got {other:?}"
            ))),
        }
    }
}

/// What to do when the book of orders is crossed at the end of a venue event (best bid >=
/// best ask): pre-open auctions (CME before the open) and feeds that send an aggressive order
/// before the deletes of the orders it matched (Bitstamp) both show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CrossPolicy {
    /// Stop with a `CrossedBook` error naming the record.
    #[default]
    Error,
    /// Emit no level updates while the book is crossed; once it is not, emit the net change
    /// of every level touched meanwhile (counted: `crossed_events_held`). Trades still go out.
    Hold,
}

impl std::str::FromStr for CrossPolicy {
    type Err = LobzeroError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "error" => Ok(Self::Error),
            "hold" => Ok(Self::Hold),
            other => Err(LobzeroError::config(format!(
                "on_cross must be \"error\" or \"hold\", got {other:?}"
            ))),
        }
    }
}

/// A row of the L2 stream in source units (`10^-price_scale`, `10^-qty_scale`), with the place
/// it was read from: 40 bytes where a [`RawEvent`] of two decimals takes 96.
#[derive(Debug, Clone, Copy)]
struct Row {
    ts_ns: i64,
    recv_ts_ns: i64,
    price: i64,
    qty: i64,
    line: u64,
    file: u32,
    kind: u8,
    side: i8,
}

/// The book, the L2 rows it emitted and the actions, of one import.
pub struct L3Builder {
    pub book: MboBook,
    /// The files read, in order (`At::file` indexes them).
    pub files: Vec<String>,
    rows: Vec<Row>,
    /// Actions in source units (converted to ticks and lots by `finish`).
    pub log: OrderLog,
    price_scale: u32,
    qty_scale: u32,
    pending_from: usize,
    pub on_unknown: UnknownOrderPolicy,
    pub unknown_orders: u64,
    pub on_cross: CrossPolicy,
    pub crossed_held: u64,
    /// Actions by name, counted here (a per-action map lookup would cost more than the book).
    pub actions: [u64; 6],
    /// Emit level rows as snapshot rows (the book is being rebuilt from a snapshot).
    pub in_snapshot: bool,
    /// The levels of the last flush (kept to reuse its allocation).
    flushed: Vec<(i8, i64, i64)>,
}

/// Where a record is: the file (index into `files`) and its line or record number.
#[derive(Debug, Clone, Copy)]
pub struct At {
    pub file: u32,
    pub line: u64,
    pub ts_ns: i64,
    pub recv_ts_ns: i64,
}

impl L3Builder {
    pub fn new(price_scale: u32, qty_scale: u32, on_unknown: UnknownOrderPolicy) -> Self {
        Self {
            book: MboBook::default(),
            files: Vec::new(),
            rows: Vec::new(),
            log: OrderLog::default(),
            price_scale,
            qty_scale,
            pending_from: 0,
            on_unknown,
            unknown_orders: 0,
            on_cross: CrossPolicy::Error,
            crossed_held: 0,
            actions: [0; 6],
            in_snapshot: false,
            flushed: Vec::new(),
        }
    }

    /// Makes room for `actions` more order actions and about as many L2 rows (an estimate
    /// from the file size: each push then fills memory reserved once, instead of copying the
    /// columns at every doubling).
    pub fn reserve(&mut self, actions: usize) {
        self.log.reserve(actions);
        self.rows.reserve(actions);
    }

    pub fn location(&self, file: u32, line: u64) -> String {
        super::location(&self.files, file, line)
    }

    /// Refuses a value that is no decimal (negative, or too many decimal places), at the record
    /// it comes from: the same check and message as converting it to a [`Decimal`] there.
    fn check_decimal(&self, value: i64, scale: u32, what: &str, at: At) -> Result<()> {
        if value >= 0 && scale <= MAX_DIRECT_SCALE {
            return Ok(());
        }
        Decimal::new(i128::from(value), scale)
            .map(|_| ())
            .map_err(|e| {
                LobzeroError::invalid(self.location(at.file, at.line), format!("{what}: {e}"))
            })
    }

    fn push_row(&mut self, kind: u8, side: i8, price: i64, qty: i64, at: At) {
        self.rows.push(Row {
            ts_ns: at.ts_ns,
            recv_ts_ns: at.recv_ts_ns,
            price,
            qty,
            line: at.line,
            file: at.file,
            kind,
            side,
        });
    }

    fn record(&mut self, action: u8, id: u64, side: i8, price: i64, qty: i64, at: At) {
        self.actions[action as usize] += 1;
        self.log.push(OrderAction {
            order_id: id,
            recv_ts_ns: at.recv_ts_ns,
            action,
            side,
            price_ticks: price,
            qty_lots: qty,
            l2_row: 0,
        });
    }

    /// Applies an add, cancel (size removed), modify (new price and size) or fill (size
    /// removed) to the book and records it. A broken rule is an error naming the record, except
    /// an unknown order under `on_unknown_order="skip"` (counted, not recorded).
    #[allow(clippy::too_many_arguments)]
    pub fn act(
        &mut self,
        action: u8,
        id: u64,
        side: i8,
        price: i64,
        qty: i64,
        at: At,
    ) -> Result<()> {
        let applied: std::result::Result<(i8, i64), OrderRule> = match action {
            ACTION_ADD => self.book.add(id, side, price, qty).map(|()| (side, price)),
            ACTION_CANCEL | ACTION_FILL => self.book.reduce(id, qty).map(|o| (o.side, o.price)),
            ACTION_MODIFY => self
                .book
                .modify(id, side, price, qty)
                .map(|_| (side, price)),
            _ => Err(OrderRule::BadSide(side)),
        };
        match applied {
            Ok((side, price)) => {
                self.record(action, id, side, price, qty, at);
                Ok(())
            }
            Err(OrderRule::UnknownOrder(_)) if self.on_unknown == UnknownOrderPolicy::Skip => {
                self.unknown_orders += 1;
                Ok(())
            }
            Err(rule) => Err(LobzeroError::invalid(
                self.location(at.file, at.line),
                format!("{} {rule}", ACTION_NAMES[action as usize]),
            )),
        }
    }

    /// Clears one side (+1, -1) or both (0): one L2 clear row, one recorded action.
    pub fn clear(&mut self, side: i8, at: At) {
        self.book.clear(side);
        self.record(ACTION_CLEAR, 0, side, 0, 0, at);
        self.push_row(KIND_CLEAR, side, 0, 0, at);
    }

    /// A trade print (aggressor side, 0 when unknown): an L2 trade row when `to_stream`, and a
    /// recorded action (no book change).
    pub fn trade(
        &mut self,
        id: u64,
        side: i8,
        price: i64,
        qty: i64,
        to_stream: bool,
        at: At,
    ) -> Result<()> {
        self.record(ACTION_TRADE, id, side, price, qty, at);
        if to_stream {
            self.check_decimal(price, self.price_scale, "trade price", at)?;
            self.check_decimal(qty, self.qty_scale, "trade size", at)?;
            self.push_row(KIND_TRADE, side, price, qty, at);
        }
        Ok(())
    }

    /// Ends a venue event: emits the changed levels and stamps the event's actions with the L2
    /// row after which they hold.
    pub fn end_event(&mut self, at: At) -> Result<()> {
        if let Some((bid, ask)) = self.book.crossed() {
            if self.on_cross == CrossPolicy::Error {
                return Err(LobzeroError::CrossedBook {
                    location: format!(
                        "{} (the book of orders; on_cross=\"hold\" holds level updates until it uncrosses)",
                        self.location(at.file, at.line)
                    ),
                    best_bid: source_price(bid, self.price_scale),
                    best_ask: source_price(ask, self.price_scale),
                    unit: "in price",
                });
            }
            self.crossed_held += 1;
            return Ok(());
        }
        let kind = if self.in_snapshot {
            KIND_SNAPSHOT
        } else {
            KIND_UPDATE
        };
        let mut levels = std::mem::take(&mut self.flushed);
        levels.clear();
        self.book
            .flush(|side, price, total| levels.push((side, price, total)));
        for &(side, price, total) in &levels {
            self.check_decimal(price, self.price_scale, "price", at)?;
            self.check_decimal(total, self.qty_scale, "level size", at)?;
            self.push_row(kind, side, price, total, at);
        }
        self.flushed = levels;
        let row = self.rows.len() as u64;
        for r in &mut self.log.l2_row[self.pending_from..] {
            *r = row;
        }
        self.pending_from = self.log.len();
        Ok(())
    }

    /// Emits level rows (MBP data, no orders): a delete for each price of `before` absent from
    /// `after`, and the size of each level of `after` that differs from `before`.
    pub fn set_levels(
        &mut self,
        side: i8,
        before: &[(i64, i64)],
        after: &[(i64, i64)],
        at: At,
    ) -> Result<()> {
        let kind = if self.in_snapshot {
            KIND_SNAPSHOT
        } else {
            KIND_UPDATE
        };
        let gone = before
            .iter()
            .filter(|(p, _)| !after.iter().any(|(q, _)| q == p))
            .map(|&(p, _)| (p, 0));
        let changed = after.iter().filter(|l| !before.contains(l)).copied();
        let rows: Vec<(i64, i64)> = gone.chain(changed).collect();
        for (price, qty) in rows {
            self.check_decimal(price, self.price_scale, "level price", at)?;
            self.check_decimal(qty, self.qty_scale, "level size", at)?;
            self.push_row(kind, side, price, qty, at);
        }
        Ok(())
    }

    /// Converts the stream (see [`super::RawEvents::finish`]: the same tick and lot inference,
    /// conversion errors and validation) and the order log to ticks and lots.
    pub fn finish(
        self,
        options: &ImportOptions,
        symbol: &str,
        venue: &str,
        mut report: ImportReport,
    ) -> Result<(Imported, OrderLog)> {
        for (name, n) in ACTION_NAMES.iter().zip(self.actions) {
            if n > 0 {
                report.order_actions.insert(name.to_string(), n);
            }
        }
        report.unknown_orders = self.unknown_orders;
        report.crossed_events_held = self.crossed_held;
        if self.book.crossed().is_some() {
            report.notes.push("the book of orders is crossed at the end: the level updates held since it crossed are not in the stream".into());
        }
        report.book_partial = report.book_partial || self.unknown_orders > 0;
        report.resting_orders_at_end = self.book.order_count() as u64;
        let source = self.files.join(", ");
        let (price_scale, qty_scale) = (self.price_scale, self.qty_scale);
        let rows = &self.rows;
        // a Decimal of a value `check_decimal` let in: the slow path of a conversion
        let decimal = |v: i64, scale: u32| {
            Decimal::new(i128::from(v), scale)
                .map_err(|e| LobzeroError::invalid(source.clone(), format!("{v}: {e}")))
        };
        // the tick and lot in source units, once (they are the same for every row)
        let mut steps_units: Option<(Option<ExactDivisor>, Option<ExactDivisor>)> = None;
        let to_event = |row: usize, tick: Decimal, lot: Decimal, rounded: &mut u64| {
            let r = &rows[row];
            let fast = |v: i64, units: Option<ExactDivisor>| units.and_then(|u| u.divide(v));
            let (tick_units, lot_units) = *steps_units.get_or_insert_with(|| {
                (
                    units(tick, price_scale).and_then(ExactDivisor::new),
                    units(lot, qty_scale).and_then(ExactDivisor::new),
                )
            });
            if let (Some(price_ticks), Some(qty_lots)) =
                (fast(r.price, tick_units), fast(r.qty, lot_units))
            {
                return Ok(Event {
                    ts_ns: r.ts_ns,
                    recv_ts_ns: r.recv_ts_ns,
                    kind: r.kind,
                    side: r.side,
                    price_ticks,
                    qty_lots,
                });
            }
            let e = RawEvent {
                ts_ns: r.ts_ns,
                recv_ts_ns: r.recv_ts_ns,
                kind: r.kind,
                side: r.side,
                price: decimal(r.price, price_scale)?,
                qty: decimal(r.qty, qty_scale)?,
                file: r.file,
                line: r.line,
            };
            raw_event_to_steps(&e, tick, lot, options.round_qty, rounded, || {
                super::location(&self.files, r.file, r.line)
            })
        };
        let infer = |values: &mut dyn Iterator<Item = i64>, scale: u32| -> Decimal {
            // the grid of all values is the grid of their greatest common divisor
            let g = values.fold(0u64, |g, v| gcd(g, v.unsigned_abs()));
            match i64::try_from(g).map(|g| decimal(g, scale)) {
                Ok(Ok(d)) => coarsest_grid(std::iter::once(d)),
                _ => Decimal::unit(scale),
            }
        };
        let imported = finish_rows(
            &self.files,
            rows.len(),
            options,
            (symbol, venue),
            report,
            || {
                infer(
                    &mut rows
                        .iter()
                        .filter(|r| r.kind != KIND_CLEAR)
                        .map(|r| r.price),
                    price_scale,
                )
            },
            || infer(&mut rows.iter().map(|r| r.qty), qty_scale),
            to_event,
            |row| super::location(&self.files, rows[row].file, rows[row].line),
        )?;
        let (tick, lot) = imported.instrument.steps()?;
        let mut log = self.log;
        let (tick_units, lot_units) = (
            units(tick, self.price_scale).and_then(ExactDivisor::new),
            units(lot, self.qty_scale).and_then(ExactDivisor::new),
        );
        let convert = |v: i64,
                       scale: u32,
                       step: Decimal,
                       fast: Option<ExactDivisor>|
         -> std::result::Result<i64, String> {
            match fast.and_then(|u| u.divide(v)) {
                Some(q) => Ok(q),
                None => Decimal::new(i128::from(v), scale).and_then(|d| d.to_steps(step)),
            }
        };
        for i in 0..log.len() {
            let loc = || format!("{source} order action {i}");
            if log.action[i] != ACTION_CLEAR {
                log.price_ticks[i] =
                    convert(log.price_ticks[i], self.price_scale, tick, tick_units)
                        .map_err(|e| LobzeroError::invalid(loc(), format!("order price: {e}")))?;
            }
            log.qty_lots[i] = convert(log.qty_lots[i], self.qty_scale, lot, lot_units)
                .map_err(|e| LobzeroError::invalid(loc(), format!("order size: {e}")))?;
        }
        Ok((imported, log))
    }
}

/// Scales up to this are converted without a check: every non-negative `i64` is a decimal there.
const MAX_DIRECT_SCALE: u32 = 18;

/// The step in source units (`10^-scale`) when it is a whole number of them: the integer
/// fast path of a conversion.
fn units(step: Decimal, scale: u32) -> Option<i64> {
    let pow = 10i128.checked_pow(scale.checked_sub(step.scale)?)?;
    i64::try_from(step.mantissa.checked_mul(pow)?)
        .ok()
        .filter(|&u| u > 0)
}

/// Exact division by a step fixed for a whole import (the tick or the lot in source units): a
/// hardware division per value cost more than the rest of the conversion. The divisor's odd
/// part is inverted once modulo 2^64; a value is a multiple iff its low bits (the divisor's
/// power of two) are zero and the product with the inverse is at most `u64::MAX / odd`, and
/// that product is then the quotient (Granlund and Montgomery, "Division by invariant integers
/// using multiplication", 1994, section 9).
#[derive(Debug, Clone, Copy)]
struct ExactDivisor {
    shift: u32,
    inverse: u64,
    limit: u64,
}

impl ExactDivisor {
    fn new(divisor: i64) -> Option<Self> {
        let d = u64::try_from(divisor).ok().filter(|&d| d > 0)?;
        let shift = d.trailing_zeros();
        let odd = d >> shift;
        // Newton's iteration doubles the correct low bits: 3 (odd * odd = 1 mod 8), 6, ..., 96
        let mut inverse = odd;
        for _ in 0..5 {
            inverse = inverse.wrapping_mul(2u64.wrapping_sub(odd.wrapping_mul(inverse)));
        }
        Some(Self {
            shift,
            inverse,
            limit: u64::MAX / odd,
        })
    }

    /// `v / divisor` when `v >= 0` is a multiple of the divisor, else `None`.
    #[inline]
    fn divide(self, v: i64) -> Option<i64> {
        let v = u64::try_from(v).ok()?;
        if v & ((1u64 << self.shift) - 1) != 0 {
            return None;
        }
        let q = (v >> self.shift).wrapping_mul(self.inverse);
        // q <= v <= i64::MAX when it is the quotient
        (q <= self.limit).then_some(q as i64)
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// A price in source units (`10^-scale`) as a decimal string of the currency.
fn source_price(units: i64, scale: u32) -> String {
    crate::decimal::Decimal::new(i128::from(units), scale)
        .map_or_else(|_| units.to_string(), |d| d.to_string())
}

#[cfg(test)]
mod tests {
    use super::ExactDivisor;

    /// The multiply-by-inverse test agrees with `%` and `/` on multiples, neighbours of
    /// multiples and extremes, for divisors with and without powers of two (1, the lot; 250e6,
    /// ES's tick of 0.25 in 1e-9; odd, prime and huge ones). A wrong inverse (planted: one Newton
    /// step too few) answers `None` for multiples, which the first assertion catches.
    #[test]
    fn exact_divisor_agrees_with_the_hardware_division() {
        let divisors = [
            1i64,
            2,
            3,
            7,
            10,
            250_000_000,
            1_000_000_007,
            1 << 40,
            3 << 50,
            i64::MAX,
        ];
        for d in divisors {
            let div = ExactDivisor::new(d).expect("a positive divisor");
            let mut values = vec![0i64, 1, -1, -d, d - 1, i64::MAX, i64::MAX - 1];
            for k in [1i64, 2, 3, 17, 4_000, 1 << 20, i64::MAX / d] {
                let m = k.saturating_mul(d);
                values.extend([m, m.saturating_sub(1), m.saturating_add(1)]);
            }
            for v in values {
                let want = (v >= 0 && v % d == 0).then(|| v / d);
                assert_eq!(div.divide(v), want, "{v} / {d}");
            }
        }
        assert!(ExactDivisor::new(0).is_none() && ExactDivisor::new(-4).is_none());
    }
}
