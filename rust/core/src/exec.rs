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

/// How an adversary bends one sweep (all zero: the plain book).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SweepAdjust {
    /// Extra ticks against the trader on every fill.
    pub slippage_ticks: i64,
    /// Added to every book price (a gap that moved the whole book).
    pub offset_ticks: i64,
    /// The best `withdrawn_levels` levels show only `1 − withdrawn_fraction` of their size.
    pub withdrawn_levels: usize,
    pub withdrawn_fraction: f64,
}

impl SweepAdjust {
    /// Size a level shows at depth `level` (0 = the touch).
    #[inline]
    pub fn visible(&self, level: usize, qty_lots: i64) -> i64 {
        if level < self.withdrawn_levels {
            (qty_lots as f64 * (1.0 - self.withdrawn_fraction)).floor() as i64
        } else {
            qty_lots
        }
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
/// (takes bids). Each level offers its size minus what we already took there; `adjust` lets an
/// adversary thin the top levels, shift prices and add slippage (fill prices then include the
/// shift and the slippage, floored at one tick; consumption is kept on the book's own prices).
/// Fills are reported to `on_fill(price_ticks, lots)`, best level first.
pub fn sweep(
    book: &impl OrderBook,
    consumed: &mut Consumed,
    side: i8,
    qty_lots: i64,
    adjust: SweepAdjust,
    on_fill: &mut dyn FnMut(i64, i64),
) -> Sweep {
    let book_side = if side > 0 { SIDE_ASK } else { SIDE_BID };
    let mut remaining = qty_lots.max(0);
    let mut result = Sweep::default();
    let mut taken = std::mem::take(&mut consumed.scratch);
    taken.clear();
    let mut level = 0;
    book.walk(book_side, &mut |price, qty| {
        if remaining == 0 {
            return false;
        }
        let visible = adjust.visible(level, qty) - consumed.taken(book_side, price);
        level += 1;
        if visible > 0 {
            let lots = visible.min(remaining);
            remaining -= lots;
            taken.push((price, lots));
        }
        remaining > 0
    });
    for &(price, lots) in &taken {
        consumed.add(book_side, price, lots);
        // a gap or slippage never prices a fill at zero or below (nor a fee below zero)
        let fill_price = price
            .saturating_add(adjust.offset_ticks)
            .saturating_add(i64::from(side).saturating_mul(adjust.slippage_ticks))
            .max(1);
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
        let r = sweep(
            &b,
            &mut consumed,
            1,
            4,
            SweepAdjust::default(),
            &mut |p, q| fills.push((p, q)),
        );
        assert_eq!(fills, vec![(101, 2), (102, 2)]);
        assert_eq!(
            (r.filled_lots, r.unfilled_lots, r.cost_ticks_lots),
            (4, 0, 406)
        );
        // the liquidity stays consumed: only 1 lot is left at 102
        fills.clear();
        let r = sweep(
            &b,
            &mut consumed,
            1,
            10,
            SweepAdjust::default(),
            &mut |p, q| fills.push((p, q)),
        );
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
        let slip = SweepAdjust {
            slippage_ticks: 2,
            ..SweepAdjust::default()
        };
        let r = sweep(&b, &mut consumed, -1, 7, slip, &mut |p, q| {
            fills.push((p, q))
        });
        assert_eq!(fills, vec![(97, 5), (96, 2)]);
        assert_eq!(r.worst_price_ticks, 96);
        assert_eq!(r.levels_used, 2);
    }

    #[test]
    fn withdrawn_liquidity_and_gaps() {
        let b = book();
        let mut consumed = Consumed::default();
        let mut fills = Vec::new();
        let adjust = SweepAdjust {
            offset_ticks: 10,
            withdrawn_levels: 1,
            withdrawn_fraction: 0.5,
            ..SweepAdjust::default()
        };
        // the touch shows 1 of its 2 lots; prices are shifted 10 ticks up
        sweep(&b, &mut consumed, 1, 3, adjust, &mut |p, q| {
            fills.push((p, q))
        });
        assert_eq!(fills, vec![(111, 1), (112, 2)]);
        assert_eq!(consumed.taken(SIDE_ASK, 101), 1);
    }

    #[test]
    fn a_fill_is_never_priced_below_one_tick() {
        let b = book();
        let mut consumed = Consumed::default();
        let mut fills = Vec::new();
        let adjust = SweepAdjust {
            offset_ticks: -98,
            slippage_ticks: 3,
            ..SweepAdjust::default()
        };
        let r = sweep(&b, &mut consumed, -1, 7, adjust, &mut |p, q| {
            fills.push((p, q))
        });
        assert_eq!(fills, vec![(1, 5), (1, 2)]);
        assert_eq!(r.cost_ticks_lots, 7);
        // consumption stays on the book's own prices
        assert_eq!(consumed.taken(SIDE_BID, 99), 5);
    }
}
