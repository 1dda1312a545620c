//! Order-level (L3, market by order) imports: a [`MboBook`] fed action by action, whose L2
//! aggregate becomes the event stream (one level update per level whose total changed, at the
//! end of each venue event) and whose actions become the market's [`OrderLog`].
//!
//! Prices and sizes enter as integers of `10^-price_scale` and `10^-qty_scale` (Databento: 9
//! and 0); [`L3Builder::finish`] converts the stream through [`RawEvents::finish`] (tick and
//! lot given, from a definition, or inferred) and then the order log to the same ticks and lots.

use super::{ImportOptions, ImportReport, Imported, RawEvent, RawEvents};
use crate::decimal::Decimal;
use crate::error::{LobzeroError, Result};
use crate::event::{KIND_CLEAR, KIND_SNAPSHOT, KIND_TRADE, KIND_UPDATE};
use crate::orders::log::OrderAction;
use crate::orders::{IdHasher, ACTION_FILL, ACTION_MODIFY, ACTION_NAMES, ACTION_TRADE};
use crate::orders::{MboBook, OrderLog, OrderRule, ACTION_ADD, ACTION_CANCEL, ACTION_CLEAR};

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

/// The book, the L2 rows it emitted and the actions, of one import.
pub struct L3Builder {
    pub book: MboBook,
    pub raw: RawEvents,
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
    price_cache: std::collections::HashMap<i64, Decimal, std::hash::BuildHasherDefault<IdHasher>>,
}

/// Where a record is: the file (index into `raw.files`) and its line or record number.
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
            raw: RawEvents::default(),
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
            price_cache: Default::default(),
        }
    }

    fn decimal(&self, value: i64, scale: u32, what: &str, at: At) -> Result<Decimal> {
        if scale == 0 && value >= 0 {
            return Ok(Decimal {
                mantissa: i128::from(value),
                scale: 0,
            });
        }
        Decimal::new(i128::from(value), scale).map_err(|e| {
            LobzeroError::invalid(self.raw.location(at.file, at.line), format!("{what}: {e}"))
        })
    }

    /// [`Self::decimal`] of a price, cached: a session revisits a few thousand prices, and
    /// normalizing a 1e-9 mantissa takes a dozen 128-bit divisions.
    fn price_decimal(&mut self, value: i64, at: At) -> Result<Decimal> {
        if let Some(d) = self.price_cache.get(&value) {
            return Ok(*d);
        }
        let d = self.decimal(value, self.price_scale, "price", at)?;
        self.price_cache.insert(value, d);
        Ok(d)
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
                self.raw.location(at.file, at.line),
                format!("{} {rule}", ACTION_NAMES[action as usize]),
            )),
        }
    }

    /// Clears one side (+1, -1) or both (0): one L2 clear row, one recorded action.
    pub fn clear(&mut self, side: i8, at: At) {
        self.book.clear(side);
        self.record(ACTION_CLEAR, 0, side, 0, 0, at);
        self.raw.events.push(RawEvent {
            ts_ns: at.ts_ns,
            recv_ts_ns: at.recv_ts_ns,
            kind: KIND_CLEAR,
            side,
            price: Decimal::ZERO,
            qty: Decimal::ZERO,
            file: at.file,
            line: at.line,
        });
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
            let price = self.decimal(price, self.price_scale, "trade price", at)?;
            let qty = self.decimal(qty, self.qty_scale, "trade size", at)?;
            self.raw.events.push(RawEvent {
                ts_ns: at.ts_ns,
                recv_ts_ns: at.recv_ts_ns,
                kind: KIND_TRADE,
                side,
                price,
                qty,
                file: at.file,
                line: at.line,
            });
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
                        self.raw.location(at.file, at.line)
                    ),
                    best_bid_ticks: bid,
                    best_ask_ticks: ask,
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
            let price = self.price_decimal(price, at)?;
            let qty = self.decimal(total, self.qty_scale, "level size", at)?;
            self.raw.events.push(RawEvent {
                ts_ns: at.ts_ns,
                recv_ts_ns: at.recv_ts_ns,
                kind,
                side,
                price,
                qty,
                file: at.file,
                line: at.line,
            });
        }
        self.flushed = levels;
        let row = self.raw.events.len() as u64;
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
            let price = self.decimal(price, self.price_scale, "level price", at)?;
            let qty = self.decimal(qty, self.qty_scale, "level size", at)?;
            self.raw.events.push(RawEvent {
                ts_ns: at.ts_ns,
                recv_ts_ns: at.recv_ts_ns,
                kind,
                side,
                price,
                qty,
                file: at.file,
                line: at.line,
            });
        }
        Ok(())
    }

    /// Converts the stream (see [`RawEvents::finish`]) and the order log to ticks and lots.
    pub fn finish(
        mut self,
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
        let source = self.raw.files.join(", ");
        let imported = std::mem::take(&mut self.raw).finish(options, symbol, venue, report)?;
        let (tick, lot) = imported.instrument.steps()?;
        let mut log = self.log;
        // integer fast path when the tick and lot are whole numbers of source units
        let units = |step: Decimal, scale: u32| -> Option<i64> {
            let pow = 10i128.checked_pow(scale.checked_sub(step.scale)?)?;
            i64::try_from(step.mantissa.checked_mul(pow)?)
                .ok()
                .filter(|&u| u > 0)
        };
        let (tick_units, lot_units) = (units(tick, self.price_scale), units(lot, self.qty_scale));
        let convert = |v: i64,
                       scale: u32,
                       step: Decimal,
                       fast: Option<i64>|
         -> std::result::Result<i64, String> {
            match fast {
                Some(u) if v >= 0 && v % u == 0 => Ok(v / u),
                _ => Decimal::new(i128::from(v), scale).and_then(|d| d.to_steps(step)),
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
