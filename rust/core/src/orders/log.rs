//! The order-level side table of a market: every order action, in the units of the L2 stream
//! (ticks and lots), with the L2 row after which it is in effect.

use super::{MboBook, OrderRule, ACTION_ADD, ACTION_CANCEL, ACTION_CLEAR, ACTION_FILL};
use super::{ACTION_MODIFY, ACTION_TRADE};
use crate::error::{LobzeroError, Result};

/// Order actions as columns of equal length.
///
/// `qty_lots` is what the action says: the size of an add, the new size of a modify, the size
/// removed by a cancel or fill, the size of a trade print; 0 for a clear. `side` is the order's
/// side (+1 bid, -1 ask; for a clear the side cleared, 0 both; for a trade the aggressor, 0
/// unknown). `l2_row`: the action is in effect once rows `[0, l2_row)` of the L2 stream are
/// applied (actions of one venue event share the row after that event's updates).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderLog {
    pub order_id: Vec<u64>,
    pub recv_ts_ns: Vec<i64>,
    pub action: Vec<u8>,
    pub side: Vec<i8>,
    pub price_ticks: Vec<i64>,
    pub qty_lots: Vec<i64>,
    pub l2_row: Vec<u64>,
}

/// One row of an [`OrderLog`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderAction {
    pub order_id: u64,
    pub recv_ts_ns: i64,
    pub action: u8,
    pub side: i8,
    pub price_ticks: i64,
    pub qty_lots: i64,
    pub l2_row: u64,
}

/// The resting orders of one price level, in queue order: `(order_id, qty_lots)`.
pub type LevelQueue = (i8, i64, Vec<(u64, i64)>);

impl OrderLog {
    pub fn len(&self) -> usize {
        self.order_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order_id.is_empty()
    }

    /// Makes room for `additional` more actions in every column.
    pub fn reserve(&mut self, additional: usize) {
        self.order_id.reserve(additional);
        self.recv_ts_ns.reserve(additional);
        self.action.reserve(additional);
        self.side.reserve(additional);
        self.price_ticks.reserve(additional);
        self.qty_lots.reserve(additional);
        self.l2_row.reserve(additional);
    }

    #[inline]
    pub fn push(&mut self, a: OrderAction) {
        self.order_id.push(a.order_id);
        self.recv_ts_ns.push(a.recv_ts_ns);
        self.action.push(a.action);
        self.side.push(a.side);
        self.price_ticks.push(a.price_ticks);
        self.qty_lots.push(a.qty_lots);
        self.l2_row.push(a.l2_row);
    }

    pub fn get(&self, i: usize) -> OrderAction {
        OrderAction {
            order_id: self.order_id[i],
            recv_ts_ns: self.recv_ts_ns[i],
            action: self.action[i],
            side: self.side[i],
            price_ticks: self.price_ticks[i],
            qty_lots: self.qty_lots[i],
            l2_row: self.l2_row[i],
        }
    }

    /// Checks that the columns have one length and `l2_row` never decreases.
    pub fn check(&self, source: &str) -> Result<()> {
        let n = self.len();
        let lens = [
            self.recv_ts_ns.len(),
            self.action.len(),
            self.side.len(),
            self.price_ticks.len(),
            self.qty_lots.len(),
            self.l2_row.len(),
        ];
        if lens.iter().any(|&l| l != n) {
            return Err(LobzeroError::parse(
                source,
                "the order table's columns differ in length",
            ));
        }
        if let Some(i) = (1..n).find(|&i| self.l2_row[i] < self.l2_row[i - 1]) {
            return Err(LobzeroError::invalid(
                format!("{source} order row {i}"),
                "l2_row goes backwards",
            ));
        }
        Ok(())
    }

    /// Applies one action to a book (an unknown action code or a broken rule is an error).
    pub fn apply(book: &mut MboBook, a: &OrderAction) -> std::result::Result<(), String> {
        let rule = |r: OrderRule| r.to_string();
        match a.action {
            ACTION_ADD => book
                .add(a.order_id, a.side, a.price_ticks, a.qty_lots)
                .map_err(rule),
            ACTION_CANCEL | ACTION_FILL => book
                .reduce(a.order_id, a.qty_lots)
                .map(|_| ())
                .map_err(rule),
            ACTION_MODIFY => book
                .modify(a.order_id, a.side, a.price_ticks, a.qty_lots)
                .map(|_| ())
                .map_err(rule),
            ACTION_CLEAR => {
                book.clear(a.side);
                Ok(())
            }
            ACTION_TRADE => Ok(()),
            other => Err(format!("unknown order action {other}")),
        }
    }

    /// The per-level FIFO of resting orders once L2 rows `[0, row)` are applied: bids best
    /// first, then asks best first, each `(side, price_ticks, [(order_id, qty_lots)])`.
    ///
    /// A log recorded with `on_unknown_order="skip"` replays its kept actions only: the orders
    /// never seen are not in it, so the queues are those of the orders the log knows.
    pub fn queues_at(&self, row: u64, source: &str) -> Result<Vec<LevelQueue>> {
        self.check(source)?;
        let mut book = MboBook::default();
        let end = self.l2_row.partition_point(|&r| r <= row);
        for i in 0..end {
            let a = self.get(i);
            Self::apply(&mut book, &a)
                .map_err(|rule| LobzeroError::invalid(format!("{source} order row {i}"), rule))?;
        }
        let mut out: Vec<LevelQueue> = Vec::new();
        for side in [1i8, -1] {
            for (price, queue) in book.queues(side) {
                out.push((side, price, queue));
            }
        }
        Ok(out)
    }
}
