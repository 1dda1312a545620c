//! Execution of market orders against the replayed book.
//!
//! A market order walks the visible levels of the opposite side, best first, taking what each
//! shows; what cannot fill is cancelled (IOC). Liquidity it took stays consumed: the replayed
//! book does not know about our orders, so [`Consumed`] remembers how much was taken at each
//! level until the next event that sets that level (the exchange's new size already reflects
//! whatever happened) or clears its side.

use crate::book::OrderBook;
use crate::event::{SIDE_ASK, SIDE_BID};

/// Liquidity taken by our own orders, per level, until the level next updates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Consumed {
    /// (book side, price_ticks, lots taken); a handful of entries at most.
    entries: Vec<(i8, i64, i64)>,
    /// Reused buffer of the levels a sweep takes from, so a sweep does not allocate.
    scratch: Vec<(i64, i64)>,
}

impl Consumed {
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Lots already taken at a level.
    pub fn taken(&self, side: i8, price_ticks: i64) -> i64 {
        self.entries
            .iter()
            .find(|&&(s, p, _)| s == side && p == price_ticks)
            .map_or(0, |&(_, _, q)| q)
    }

    fn add(&mut self, side: i8, price_ticks: i64, lots: i64) {
        match self
            .entries
            .iter_mut()
            .find(|(s, p, _)| *s == side && *p == price_ticks)
        {
            Some(entry) => entry.2 += lots,
            None => self.entries.push((side, price_ticks, lots)),
        }
    }

    /// The exchange set this level anew: our consumption there is forgotten.
    #[inline]
    pub fn on_level_update(&mut self, side: i8, price_ticks: i64) {
        if !self.entries.is_empty() {
            self.entries
                .retain(|&(s, p, _)| !(s == side && p == price_ticks));
        }
    }

    /// A side (±1) or both (0) was cleared.
    pub fn on_clear(&mut self, side: i8) {
        self.entries.retain(|&(s, _, _)| side != 0 && s != side);
    }
}

/// The outcome of one market order.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sweep {
    pub filled_lots: i64,
    pub unfilled_lots: i64,
    /// Σ price × lots over the fills, ticks × lots (average price = this / filled_lots).
    pub cost_ticks_lots: i64,
    /// Worst price reached, ticks (0 if nothing filled).
    pub worst_price_ticks: i64,
    pub levels_used: u32,
}

/// Walks the book for a market order of `qty_lots` (> 0); `side` +1 buys (takes asks), -1 sells
/// (takes bids). Each level offers its size minus what we already took there. `slippage_ticks`
/// (>= 0) moves every fill price that many ticks against the trader (the adversary's lever).
/// Fills are reported to `on_fill(price_ticks, lots)`, best level first.
pub fn sweep(
    book: &impl OrderBook,
    consumed: &mut Consumed,
    side: i8,
    qty_lots: i64,
    slippage_ticks: i64,
    on_fill: &mut dyn FnMut(i64, i64),
) -> Sweep {
    let book_side = if side > 0 { SIDE_ASK } else { SIDE_BID };
    let mut remaining = qty_lots.max(0);
    let mut result = Sweep::default();
    let mut taken = std::mem::take(&mut consumed.scratch);
    taken.clear();
    book.walk(book_side, &mut |price, qty| {
        if remaining == 0 {
            return false;
        }
        let visible = qty - consumed.taken(book_side, price);
        if visible > 0 {
            let lots = visible.min(remaining);
            remaining -= lots;
            taken.push((price, lots));
        }
        remaining > 0
    });
    for &(price, lots) in &taken {
        consumed.add(book_side, price, lots);
        let fill_price = price + i64::from(side) * slippage_ticks;
        result.filled_lots += lots;
        result.cost_ticks_lots += fill_price * lots;
        result.worst_price_ticks = fill_price;
        result.levels_used += 1;
        on_fill(fill_price, lots);
    }
    consumed.scratch = taken;
    result.unfilled_lots = remaining;
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::Book;

    fn book() -> Book {
        let mut b = Book::default();
        b.set_level(SIDE_BID, 99, 5);
        b.set_level(SIDE_BID, 98, 5);
        b.set_level(SIDE_ASK, 101, 2);
        b.set_level(SIDE_ASK, 102, 3);
        b
    }

    #[test]
    fn walks_levels_and_cancels_the_rest() {
        let b = book();
        let mut consumed = Consumed::default();
        let mut fills = Vec::new();
        let r = sweep(&b, &mut consumed, 1, 4, 0, &mut |p, q| fills.push((p, q)));
        assert_eq!(fills, vec![(101, 2), (102, 2)]);
        assert_eq!(
            (r.filled_lots, r.unfilled_lots, r.cost_ticks_lots),
            (4, 0, 406)
        );
        // the liquidity stays consumed: only 1 lot is left at 102
        fills.clear();
        let r = sweep(&b, &mut consumed, 1, 10, 0, &mut |p, q| fills.push((p, q)));
        assert_eq!(fills, vec![(102, 1)]);
        assert_eq!((r.filled_lots, r.unfilled_lots), (1, 9));
        // an update of the level resets what we took there
        consumed.on_level_update(SIDE_ASK, 101);
        assert_eq!(consumed.taken(SIDE_ASK, 101), 0);
        assert_eq!(consumed.taken(SIDE_ASK, 102), 3);
        consumed.on_clear(SIDE_BID);
        assert_eq!(consumed.taken(SIDE_ASK, 102), 3);
        consumed.on_clear(0);
        assert!(consumed.is_empty());
    }

    #[test]
    fn sells_take_bids_with_slippage() {
        let b = book();
        let mut consumed = Consumed::default();
        let mut fills = Vec::new();
        let r = sweep(&b, &mut consumed, -1, 7, 2, &mut |p, q| fills.push((p, q)));
        assert_eq!(fills, vec![(97, 5), (96, 2)]);
        assert_eq!(r.worst_price_ticks, 96);
        assert_eq!(r.levels_used, 2);
    }
}
