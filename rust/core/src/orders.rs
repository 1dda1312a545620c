//! A book of orders (market by order, "L3"): every resting order by id, a FIFO queue of order
//! ids per price level, and the L2 aggregate (the sum of resting sizes per price) from which
//! level updates are emitted, only for the levels whose total changed.
//!
//! Prices and sizes are integers in the units of the source (Databento: price in 1e-9, size in
//! contracts; a CSV: its decimals scaled to one exponent); the importer converts them to ticks and
//! lots afterwards.
//!
//! Queue priority (price-time, the rule of CME Globex, Eurex, Nasdaq and of Databento's own
//! book-building example in its MBO documentation):
//! - a new order joins the back of its level;
//! - a modify that changes the price, or increases the size, loses priority: the order moves to
//!   the back of its (new) level;
//! - a modify that only decreases the size, a partial cancel and a partial fill keep it.
//!
//! Bad input is a named [`OrderRule`], never a panic: an unknown order id, an add of an id that
//! rests already, a size that is not positive, a cancel or fill of more than rests, a modify that
//! changes side. The importer turns it into an error naming the file and record (or counts it
//! where an explicit option says so).
//!
//! The order log ([`OrderLog`]) keeps what MBO has and L2 loses: each action with the row of the
//! L2 stream after which it is in effect; [`OrderLog::queues_at`] replays it into the per-level
//! FIFO of resting orders at any row (queue positions for the execution simulator).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

pub const ACTION_ADD: u8 = 0;
pub const ACTION_CANCEL: u8 = 1;
pub const ACTION_MODIFY: u8 = 2;
/// A fill that reduces the resting order by its size.
pub const ACTION_FILL: u8 = 3;
pub const ACTION_CLEAR: u8 = 4;
/// A trade print (the aggressor's side), or a fill report whose size the venue removes by a
/// separate cancel or modify (Databento's CME `F` records): kept for the record, no book change.
pub const ACTION_TRADE: u8 = 5;
pub const ACTION_NAMES: [&str; 6] = ["add", "cancel", "modify", "fill", "clear", "trade"];

/// The rule an order action broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderRule {
    UnknownOrder(u64),
    DuplicateAdd(u64),
    NonPositiveSize(i64),
    TooLarge {
        order_id: u64,
        resting: i64,
        asked: i64,
    },
    SideChange(u64),
    BadSide(i8),
}

impl OrderRule {
    /// A short name, for counting in the import report.
    pub fn name(&self) -> &'static str {
        match self {
            Self::UnknownOrder(_) => "unknown_order",
            Self::DuplicateAdd(_) => "duplicate_add",
            Self::NonPositiveSize(_) => "non_positive_size",
            Self::TooLarge { .. } => "more_than_rests",
            Self::SideChange(_) => "side_change",
            Self::BadSide(_) => "bad_side",
        }
    }
}

impl std::fmt::Display for OrderRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnknownOrder(id) => write!(f, "unknown order id {id} (no add seen for it)"),
            Self::DuplicateAdd(id) => write!(f, "duplicated add: order id {id} rests already"),
            Self::NonPositiveSize(q) => write!(f, "order size must be > 0, got {q}"),
            Self::TooLarge {
                order_id,
                resting,
                asked,
            } => write!(
                f,
                "order id {order_id}: removes {asked} where only {resting} rests"
            ),
            Self::SideChange(id) => write!(f, "order id {id}: a modify may not change the side"),
            Self::BadSide(s) => write!(f, "order side must be +1 (bid) or -1 (ask), got {s}"),
        }
    }
}

/// Multiplicative hashing of order ids: ids are venue counters, SipHash's DoS guard buys
/// nothing here and costs a third of the book's time.
#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (n ^ (n >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

/// Hashing of prices: a price in 1e-9 on a 0.25 tick has its low bits all zero, which a
/// multiplication alone keeps; the high half of the product is folded into the low half,
/// where the table takes its bucket.
#[derive(Default)]
pub struct PriceHasher(u64);

impl Hasher for PriceHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(self.0.rotate_left(8) ^ u64::from(b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        let x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = x ^ (x >> 32);
    }
}

/// The levels of one side: looked up by price in a hash table (every action touches one),
/// with the set of their prices in order for the best price and the ordered views.
#[derive(Debug, Default, Clone)]
struct BookSide {
    levels: HashMap<i64, Level, BuildHasherDefault<PriceHasher>>,
    prices: BTreeSet<i64>,
}

impl BookSide {
    fn clear(&mut self) {
        self.levels.clear();
        self.prices.clear();
    }

    fn level_mut(&mut self, price: i64) -> &mut Level {
        let prices = &mut self.prices;
        self.levels.entry(price).or_insert_with(|| {
            prices.insert(price);
            Level::default()
        })
    }

    fn remove(&mut self, price: i64) {
        self.levels.remove(&price);
        self.prices.remove(&price);
    }

    /// The levels by ascending price.
    fn iter(&self) -> impl DoubleEndedIterator<Item = (&i64, &Level)> {
        self.prices
            .iter()
            .filter_map(|p| self.levels.get(p).map(|l| (p, l)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    pub side: i8,
    pub price: i64,
    pub qty: i64,
}

#[derive(Debug, Default, Clone)]
struct Level {
    total: i64,
    /// The total last emitted as an L2 update (0 for a level new since the last emission).
    emitted: i64,
    dirty: bool,
    queue: VecDeque<u64>,
}

/// The book of orders. See the module documentation for the priority rule.
#[derive(Debug, Default, Clone)]
pub struct MboBook {
    orders: IdMap<Order>,
    bids: BookSide,
    asks: BookSide,
    dirty: Vec<(i8, i64)>,
}

impl MboBook {
    pub fn order(&self, id: u64) -> Option<Order> {
        self.orders.get(&id).copied()
    }

    pub fn order_count(&self) -> usize {
        self.orders.len()
    }

    fn side_mut(&mut self, side: i8) -> &mut BookSide {
        if side > 0 {
            &mut self.bids
        } else {
            &mut self.asks
        }
    }

    fn level_mut(&mut self, side: i8, price: i64) -> &mut Level {
        let (levels, dirty) = if side > 0 {
            (&mut self.bids, &mut self.dirty)
        } else {
            (&mut self.asks, &mut self.dirty)
        };
        let level = levels.level_mut(price);
        if !level.dirty {
            level.dirty = true;
            dirty.push((side, price));
        }
        level
    }

    fn unqueue(&mut self, id: u64, o: Order) {
        let level = self.level_mut(o.side, o.price);
        level.total -= o.qty;
        if let Some(pos) = level.queue.iter().position(|&q| q == id) {
            level.queue.remove(pos);
        }
    }

    pub fn add(&mut self, id: u64, side: i8, price: i64, qty: i64) -> Result<(), OrderRule> {
        if side != 1 && side != -1 {
            return Err(OrderRule::BadSide(side));
        }
        if qty <= 0 {
            return Err(OrderRule::NonPositiveSize(qty));
        }
        // one hash of the id: the entry both checks for a duplicate and inserts
        match self.orders.entry(id) {
            std::collections::hash_map::Entry::Occupied(_) => {
                return Err(OrderRule::DuplicateAdd(id));
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(Order { side, price, qty });
            }
        }
        let level = self.level_mut(side, price);
        level.total += qty;
        level.queue.push_back(id);
        Ok(())
    }

    /// Removes `qty` of the order (all of it: the order leaves the book); priority is kept.
    pub fn reduce(&mut self, id: u64, qty: i64) -> Result<Order, OrderRule> {
        if qty <= 0 {
            return Err(OrderRule::NonPositiveSize(qty));
        }
        let resting = self
            .orders
            .get_mut(&id)
            .ok_or(OrderRule::UnknownOrder(id))?;
        let o = *resting;
        if qty > o.qty {
            return Err(OrderRule::TooLarge {
                order_id: id,
                resting: o.qty,
                asked: qty,
            });
        }
        if qty == o.qty {
            self.orders.remove(&id);
            self.unqueue(id, o);
        } else {
            resting.qty -= qty;
            self.level_mut(o.side, o.price).total -= qty;
        }
        Ok(o)
    }

    /// Sets a new price and size; see the module documentation for the priority rule.
    pub fn modify(&mut self, id: u64, side: i8, price: i64, qty: i64) -> Result<Order, OrderRule> {
        if qty <= 0 {
            return Err(OrderRule::NonPositiveSize(qty));
        }
        let resting = self
            .orders
            .get_mut(&id)
            .ok_or(OrderRule::UnknownOrder(id))?;
        let o = *resting;
        if side != o.side {
            return Err(OrderRule::SideChange(id));
        }
        *resting = Order { side, price, qty };
        if price != o.price || qty > o.qty {
            self.unqueue(id, o);
            let level = self.level_mut(side, price);
            level.total += qty;
            level.queue.push_back(id);
        } else {
            self.level_mut(side, price).total -= o.qty - qty;
        }
        Ok(o)
    }

    /// Removes every order of one side (+1, -1) or of both (0). Levels vanish without updates:
    /// the caller emits one L2 clear instead.
    pub fn clear(&mut self, side: i8) {
        if side >= 0 {
            self.bids.clear();
        }
        if side <= 0 {
            self.asks.clear();
        }
        if side == 0 {
            self.orders.clear();
        } else {
            self.orders.retain(|_, o| o.side != side);
        }
    }

    /// Calls `emit(side, price, total)` for each level whose total changed since the last
    /// flush, in the order the levels were first touched; empty levels are dropped.
    pub fn flush(&mut self, mut emit: impl FnMut(i8, i64, i64)) {
        let dirty = std::mem::take(&mut self.dirty);
        for &(side, price) in &dirty {
            let levels = self.side_mut(side);
            let Some(level) = levels.levels.get_mut(&price) else {
                continue; // cleared since it was touched
            };
            level.dirty = false;
            if level.total != level.emitted {
                emit(side, price, level.total);
                level.emitted = level.total;
            }
            if level.total == 0 && level.queue.is_empty() {
                levels.remove(price);
            }
        }
        self.dirty = dirty;
        self.dirty.clear();
    }

    /// The best bid and best ask price with resting size, when both exist and bid >= ask.
    pub fn crossed(&self) -> Option<(i64, i64)> {
        // the outermost level is almost always the best: a walk only past levels emptied
        // since the last flush (dropped there)
        let rests = |side: &BookSide, p: &i64| side.levels.get(p).is_some_and(|l| l.total > 0);
        let bid = match self.bids.prices.last() {
            Some(p) if rests(&self.bids, p) => *p,
            _ => *self.bids.iter().rev().find(|(_, l)| l.total > 0)?.0,
        };
        let ask = match self.asks.prices.first() {
            Some(p) if rests(&self.asks, p) => *p,
            _ => *self.asks.iter().find(|(_, l)| l.total > 0)?.0,
        };
        (bid >= ask).then_some((bid, ask))
    }

    /// The resting orders of one side, best price first: `(price, [(order_id, qty)])` in queue
    /// order.
    pub fn queues(&self, side: i8) -> Vec<(i64, Vec<(u64, i64)>)> {
        let level = |(&price, l): (&i64, &Level)| {
            let q: Vec<(u64, i64)> = l
                .queue
                .iter()
                .map(|id| (*id, self.orders.get(id).map_or(0, |o| o.qty)))
                .collect();
            (price, q)
        };
        let out: Vec<_> = if side > 0 {
            self.bids.iter().rev().map(level).collect()
        } else {
            self.asks.iter().map(level).collect()
        };
        out.into_iter().filter(|(_, q)| !q.is_empty()).collect()
    }

    /// The L2 aggregate of one side, best first: `(price, total)`.
    pub fn levels(&self, side: i8) -> Vec<(i64, i64)> {
        let m = if side > 0 { &self.bids } else { &self.asks };
        let it = m.iter().filter(|(_, l)| l.total > 0);
        if side > 0 {
            it.rev().map(|(p, l)| (*p, l.total)).collect()
        } else {
            it.map(|(p, l)| (*p, l.total)).collect()
        }
    }
}

pub mod log;
pub use log::OrderLog;

#[cfg(test)]
mod tests;
