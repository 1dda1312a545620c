//! The L2 order book on integer ticks and lots.
//!
//! [`OrderBook`] is the small interface the rest of lobzero uses; [`Book`] is its one
//! implementation: per side, a sorted vector of levels with the best level at the *end*. Updates
//! cluster near the touch, so an insert or delete moves only the few levels behind it, reading
//! the top N levels is a slice copy, and memory follows the number of levels, not the price range
//! (real books carry stray orders thousands of dollars away from the mid).

use crate::event::{SIDE_ASK, SIDE_BID};

/// The operations every book offers. `side` is [`SIDE_BID`] (+1) or [`SIDE_ASK`] (-1); any other
/// value is treated as the ask side only where noted.
pub trait OrderBook {
    /// Sets the size of the level at `price_ticks`; size 0 deletes it.
    fn set_level(&mut self, side: i8, price_ticks: i64, qty_lots: i64);
    /// Empties one side (±1) or both (0).
    fn clear(&mut self, side: i8);
    /// Best bid as (price_ticks, qty_lots).
    fn best_bid(&self) -> Option<(i64, i64)>;
    /// Best ask as (price_ticks, qty_lots).
    fn best_ask(&self) -> Option<(i64, i64)>;
    /// Writes the first `min(n, levels)` levels of a side, best first, into the caller's buffers
    /// (`n` = their common length) and returns how many were written; the rest is left as it is.
    fn top_levels(&self, side: i8, price_ticks: &mut [i64], qty_lots: &mut [i64]) -> usize;
    /// Total size on a side within `ticks` of that side's best price (inclusive).
    fn depth_within(&self, side: i8, ticks: i64) -> i64;
    /// Number of non-empty levels on a side.
    fn depth_levels(&self, side: i8) -> usize;
    /// Size at an exact price (0 if the level is empty).
    fn qty_at(&self, side: i8, price_ticks: i64) -> i64;
    /// Calls `visit(price_ticks, qty_lots)` for the levels of a side, best first, until it
    /// returns false.
    fn walk(&self, side: i8, visit: &mut dyn FnMut(i64, i64) -> bool);
}

/// One side: levels as `(key, qty)` pairs, keys ascending, best level last. Bids use
/// key = price, asks key = -price, so both sides share one code path. Pairs rather than two
/// vectors: an insert or delete moves one contiguous block, and a lookup touches one cache line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Ladder {
    levels: Vec<(i64, i64)>,
}

/// How many levels behind the touch a lookup scans linearly before it binary-searches.
const LINEAR_SCAN: usize = 8;

impl Ladder {
    /// Index of `key` or where it would go. The touch and the levels just behind it are the
    /// common case, then levels beyond the deepest one (a book refilling its far end): both are
    /// answered without a search; the rest scan a few levels back or binary-search.
    #[inline]
    fn find(&self, key: i64) -> Result<usize, usize> {
        let levels = &self.levels;
        let n = levels.len();
        let Some(&(best, _)) = levels.last() else {
            return Err(0);
        };
        if key >= best {
            return if key == best { Ok(n - 1) } else { Err(n) };
        }
        if key < levels[0].0 {
            return Err(0);
        }
        let scan_from = n.saturating_sub(LINEAR_SCAN);
        if key >= levels[scan_from].0 {
            for i in (scan_from..n - 1).rev() {
                let k = levels[i].0;
                if k <= key {
                    return if k == key { Ok(i) } else { Err(i + 1) };
                }
            }
            return Err(scan_from);
        }
        levels[..scan_from].binary_search_by_key(&key, |&(k, _)| k)
    }

    #[inline]
    fn set(&mut self, key: i64, qty: i64) {
        match self.find(key) {
            Ok(i) if qty > 0 => self.levels[i].1 = qty,
            Ok(i) => {
                self.levels.remove(i);
            }
            Err(i) if qty > 0 => self.levels.insert(i, (key, qty)),
            Err(_) => {}
        }
    }

    #[inline]
    fn best(&self) -> Option<(i64, i64)> {
        self.levels.last().copied()
    }

    fn clear(&mut self) {
        self.levels.clear();
    }
}

/// The L2 book. See the module documentation for the layout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Book {
    bids: Ladder,
    asks: Ladder,
}

impl Book {
    #[inline]
    fn ladder(&self, side: i8) -> &Ladder {
        if side == SIDE_BID {
            &self.bids
        } else {
            &self.asks
        }
    }

    #[inline]
    fn key(side: i8, price_ticks: i64) -> i64 {
        if side == SIDE_BID {
            price_ticks
        } else {
            -price_ticks
        }
    }

    /// Mid price in ticks (a half tick is possible, hence f64), if both sides exist.
    pub fn mid_ticks(&self) -> Option<f64> {
        let (b, _) = self.best_bid()?;
        let (a, _) = self.best_ask()?;
        Some((b + a) as f64 * 0.5)
    }

    /// Spread in ticks, if both sides exist.
    pub fn spread_ticks(&self) -> Option<i64> {
        Some(self.best_ask()?.0 - self.best_bid()?.0)
    }

    /// Is the book crossed or locked (best bid >= best ask)?
    pub fn is_crossed(&self) -> bool {
        matches!((self.best_bid(), self.best_ask()), (Some((b, _)), Some((a, _))) if b >= a)
    }
}

impl OrderBook for Book {
    #[inline]
    fn set_level(&mut self, side: i8, price_ticks: i64, qty_lots: i64) {
        let key = Self::key(side, price_ticks);
        if side == SIDE_BID {
            self.bids.set(key, qty_lots);
        } else {
            self.asks.set(key, qty_lots);
        }
    }

    fn clear(&mut self, side: i8) {
        if side != SIDE_ASK {
            self.bids.clear();
        }
        if side != SIDE_BID {
            self.asks.clear();
        }
    }

    #[inline]
    fn best_bid(&self) -> Option<(i64, i64)> {
        self.bids.best()
    }

    #[inline]
    fn best_ask(&self) -> Option<(i64, i64)> {
        self.asks.best().map(|(k, q)| (-k, q))
    }

    #[inline]
    fn top_levels(&self, side: i8, price_ticks: &mut [i64], qty_lots: &mut [i64]) -> usize {
        let sign = if side == SIDE_BID { 1 } else { -1 };
        let levels = self.ladder(side).levels.iter().rev();
        let mut written = 0;
        for ((price, qty), &(key, q)) in price_ticks.iter_mut().zip(qty_lots.iter_mut()).zip(levels)
        {
            *price = sign * key;
            *qty = q;
            written += 1;
        }
        written
    }

    fn depth_within(&self, side: i8, ticks: i64) -> i64 {
        let levels = &self.ladder(side).levels;
        let Some(&(best, _)) = levels.last() else {
            return 0;
        };
        levels
            .iter()
            .rev()
            .take_while(|&&(k, _)| best - k <= ticks)
            .map(|&(_, q)| q)
            .sum()
    }

    fn depth_levels(&self, side: i8) -> usize {
        self.ladder(side).levels.len()
    }

    fn walk(&self, side: i8, visit: &mut dyn FnMut(i64, i64) -> bool) {
        let sign = if side == SIDE_BID { 1 } else { -1 };
        for &(key, qty) in self.ladder(side).levels.iter().rev() {
            if !visit(sign * key, qty) {
                break;
            }
        }
    }

    fn qty_at(&self, side: i8, price_ticks: i64) -> i64 {
        let ladder = self.ladder(side);
        match ladder.find(Self::key(side, price_ticks)) {
            Ok(i) => ladder.levels[i].1,
            Err(_) => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_reads_and_deletes_levels() {
        let mut b = Book::default();
        assert_eq!(b.best_bid(), None);
        for (p, q) in [(100, 3), (98, 1), (99, 2), (90, 7)] {
            b.set_level(SIDE_BID, p, q);
        }
        for (p, q) in [(101, 4), (105, 1), (103, 2)] {
            b.set_level(SIDE_ASK, p, q);
        }
        assert_eq!(b.best_bid(), Some((100, 3)));
        assert_eq!(b.best_ask(), Some((101, 4)));
        assert_eq!(b.spread_ticks(), Some(1));
        assert_eq!(b.mid_ticks(), Some(100.5));
        let (mut px, mut qty) = ([0; 3], [0; 3]);
        assert_eq!(b.top_levels(SIDE_BID, &mut px, &mut qty), 3);
        assert_eq!((px, qty), ([100, 99, 98], [3, 2, 1]));
        assert_eq!(b.top_levels(SIDE_ASK, &mut px, &mut qty), 3);
        assert_eq!((px, qty), ([101, 103, 105], [4, 2, 1]));
        assert_eq!(b.depth_within(SIDE_BID, 2), 6);
        assert_eq!(b.depth_within(SIDE_ASK, 2), 6);
        assert_eq!(b.depth_within(SIDE_ASK, 0), 4);
        b.set_level(SIDE_BID, 100, 0);
        assert_eq!(b.best_bid(), Some((99, 2)));
        b.set_level(SIDE_BID, 95, 0); // deleting an absent level is a no-op
        assert_eq!(b.depth_levels(SIDE_BID), 3);
        assert_eq!(b.qty_at(SIDE_BID, 90), 7);
        assert_eq!(b.qty_at(SIDE_ASK, 104), 0);
        b.set_level(SIDE_ASK, 101, 9);
        assert_eq!(b.best_ask(), Some((101, 9)));
        let (mut px, mut qty) = ([0; 8], [0; 8]);
        assert_eq!(b.top_levels(SIDE_ASK, &mut px, &mut qty), 3);
        b.clear(SIDE_ASK);
        assert_eq!(b.best_ask(), None);
        assert_eq!(b.depth_levels(SIDE_BID), 3);
        b.clear(0);
        assert_eq!(b.depth_levels(SIDE_BID), 0);
    }

    #[test]
    fn deep_books_stay_sorted() {
        let mut b = Book::default();
        // a pseudo-random order of inserts over a wide range
        let mut x: i64 = 12345;
        for _ in 0..5000 {
            x = (x * 1103515245 + 12345) % 2147483648;
            b.set_level(SIDE_BID, 1 + x % 3000, 1 + x % 7);
            b.set_level(SIDE_ASK, 4000 + x % 3000, x % 3);
        }
        let n = b.depth_levels(SIDE_BID);
        let (mut px, mut qty) = (vec![0; n], vec![0; n]);
        b.top_levels(SIDE_BID, &mut px, &mut qty);
        assert!(px.windows(2).all(|w| w[0] > w[1]));
        assert!(qty.iter().all(|&q| q > 0));
        let n = b.depth_levels(SIDE_ASK);
        let (mut px, mut qty) = (vec![0; n], vec![0; n]);
        b.top_levels(SIDE_ASK, &mut px, &mut qty);
        assert!(px.windows(2).all(|w| w[0] < w[1]));
        assert!(qty.iter().all(|&q| q > 0));
    }
}
