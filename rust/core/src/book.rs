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

/// How many levels from the touch a lookup examines with a branch-free count before it
/// binary-searches the rest. Updates land unpredictably among the first few levels, so a count
/// over a fixed window (no data-dependent branch) beats scanning with an early exit.
const TOUCH_WINDOW: usize = 32;

impl Ladder {
    /// Index of `key` or where it would go.
    #[inline]
    fn find(&self, key: i64) -> Result<usize, usize> {
        let levels = &self.levels;
        let window_start = levels.len().saturating_sub(TOUCH_WINDOW);
        if window_start > 0 && key < levels[window_start].0 {
            return levels[..window_start].binary_search_by_key(&key, |&(k, _)| k);
        }
        let at_or_below = levels[window_start..]
            .iter()
            .map(|&(k, _)| usize::from(k <= key))
            .sum::<usize>();
        let i = window_start + at_or_below;
        if at_or_below > 0 && levels[i - 1].0 == key {
            Ok(i - 1)
        } else {
            Err(i)
        }
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

    /// What [`Ladder::set`] would do with `(key, qty)` on this ladder, as a slot.
    #[inline]
    fn locate(&self, key: i64, qty: i64) -> LevelSlot {
        match self.find(key) {
            Ok(i) if qty > 0 => LevelSlot::new(LevelSlot::SET, i),
            Ok(i) => LevelSlot::new(LevelSlot::REMOVE, i),
            Err(i) if qty > 0 => LevelSlot::new(LevelSlot::INSERT, i),
            Err(_) => LevelSlot::NOTHING,
        }
    }

    /// [`Ladder::set`] at a recorded slot, without searching. The slot is checked against the
    /// levels around it (one cache line); one that does not fit this ladder falls back to the
    /// search, so a wrong slot costs time, never a wrong book.
    #[inline(always)]
    fn set_at(&mut self, key: i64, qty: i64, slot: LevelSlot) {
        // Most updates change the size of a level that exists: that case is inlined into the
        // replay loop; inserts, removals and misfits pay a call.
        if slot.op() == LevelSlot::SET && qty > 0 {
            if let Some(level) = self.levels.get_mut(slot.index()) {
                if level.0 == key {
                    level.1 = qty;
                    return;
                }
            }
        }
        self.set_at_slow(key, qty, slot);
    }

    #[inline(never)]
    fn set_at_slow(&mut self, key: i64, qty: i64, slot: LevelSlot) {
        let i = slot.index();
        let levels = &mut self.levels;
        let fits = match slot.op() {
            LevelSlot::SET => qty > 0 && levels.get(i).is_some_and(|l| l.0 == key),
            LevelSlot::INSERT => {
                qty > 0
                    && i <= levels.len()
                    && (i == 0 || levels[i - 1].0 < key)
                    && levels.get(i).is_none_or(|l| l.0 > key)
            }
            LevelSlot::REMOVE => qty == 0 && levels.get(i).is_some_and(|l| l.0 == key),
            _ => false,
        };
        if !fits {
            return self.set(key, qty);
        }
        match slot.op() {
            LevelSlot::SET => levels[i].1 = qty,
            LevelSlot::INSERT => levels.insert(i, (key, qty)),
            _ => {
                levels.remove(i);
            }
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

/// Where an update lands in its side's ladder and what it does there (set a size, insert a
/// level, remove one, or nothing), packed in 32 bits: the operation in the top two, the ladder
/// index in the rest. The book is a function of the stream alone, so the slot of every event is
/// the same on every replay: recorded once per market ([`crate::replay::ReplayIndex`]), it
/// spares each later replay its search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelSlot(u32);

impl LevelSlot {
    const SET: u32 = 0;
    const INSERT: u32 = 1;
    const REMOVE: u32 = 2;
    const OTHER: u32 = 3;
    const INDEX_BITS: u32 = 30;
    const INDEX_MASK: u32 = (1 << Self::INDEX_BITS) - 1;
    /// Not a level update (a trade or a clear), a removal of an absent level, or no recorded
    /// slot: an update given it is searched.
    pub const NOTHING: LevelSlot = LevelSlot(Self::OTHER << Self::INDEX_BITS);

    #[inline]
    fn new(op: u32, index: usize) -> Self {
        match u32::try_from(index) {
            Ok(i) if i <= Self::INDEX_MASK => LevelSlot((op << Self::INDEX_BITS) | i),
            // a ladder beyond 2^30 levels: no shortcut, the replay searches
            _ => Self::NOTHING,
        }
    }

    #[inline]
    fn op(self) -> u32 {
        self.0 >> Self::INDEX_BITS
    }

    #[inline]
    fn index(self) -> usize {
        (self.0 & Self::INDEX_MASK) as usize
    }
}

/// The L2 book. See the module documentation for the layout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Book {
    /// `[bids, asks]`: indexed arithmetically by side, because the side of consecutive events
    /// is a coin flip that a branch would mispredict half the time.
    ladders: [Ladder; 2],
}

impl Book {
    /// Ladder index (0 bids, 1 asks) and key sign of a side.
    #[inline]
    fn slot(side: i8) -> (usize, i64) {
        let is_ask = usize::from(side != SIDE_BID);
        (is_ask, 1 - 2 * is_ask as i64)
    }

    #[inline]
    fn ladder(&self, side: i8) -> &Ladder {
        &self.ladders[Self::slot(side).0]
    }

    #[inline]
    fn key(side: i8, price_ticks: i64) -> i64 {
        Self::slot(side).1 * price_ticks
    }

    /// Hints the CPU to load both touches (the levels most updates hit); see
    /// [`crate::prefetch`].
    #[inline]
    pub fn prefetch_touch(&self) {
        for ladder in &self.ladders {
            let levels = &ladder.levels;
            crate::prefetch::prefetch_slice(&levels[levels.len().saturating_sub(4)..]);
        }
    }

    /// [`OrderBook::set_level`] that also returns the slot the update used.
    #[inline]
    pub fn set_level_recording(&mut self, side: i8, price_ticks: i64, qty_lots: i64) -> LevelSlot {
        let (slot, sign) = Self::slot(side);
        let ladder = &mut self.ladders[slot];
        let key = sign * price_ticks;
        let level_slot = ladder.locate(key, qty_lots);
        ladder.set_at(key, qty_lots, level_slot);
        level_slot
    }

    /// [`OrderBook::set_level`] at a slot [`Book::set_level_recording`] returned when the same
    /// update met the same book (any other slot is detected and searched instead).
    #[inline]
    pub fn set_level_at(&mut self, side: i8, price_ticks: i64, qty_lots: i64, slot: LevelSlot) {
        let (ladder, sign) = Self::slot(side);
        self.ladders[ladder].set_at(sign * price_ticks, qty_lots, slot);
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
        let (slot, sign) = Self::slot(side);
        self.ladders[slot].set(sign * price_ticks, qty_lots);
    }

    fn clear(&mut self, side: i8) {
        if side != SIDE_ASK {
            self.ladders[0].clear();
        }
        if side != SIDE_BID {
            self.ladders[1].clear();
        }
    }

    #[inline]
    fn best_bid(&self) -> Option<(i64, i64)> {
        self.ladders[0].best()
    }

    #[inline]
    fn best_ask(&self) -> Option<(i64, i64)> {
        self.ladders[1].best().map(|(k, q)| (-k, q))
    }

    #[inline]
    fn top_levels(&self, side: i8, price_ticks: &mut [i64], qty_lots: &mut [i64]) -> usize {
        let (slot, sign) = Self::slot(side);
        let levels = self.ladders[slot].levels.iter().rev();
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
        let (slot, sign) = Self::slot(side);
        for &(key, qty) in self.ladders[slot].levels.iter().rev() {
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
