//! A deterministic cursor over an [`EventStream`]: it applies events to a [`Book`] in stream order
//! and never past the time it is asked for, so whatever reads the book at time `t` sees exactly
//! the events received up to `t`.

use crate::book::{Book, LevelSlot, OrderBook};
use crate::event::{EventStream, KIND_CLEAR, KIND_SNAPSHOT, KIND_UPDATE};
use crate::prefetch::prefetch_slice;
use std::sync::Arc;

/// The events `range` of a stream as `(kind, side, price_ticks, qty_lots)`.
#[inline]
fn rows(
    s: &EventStream,
    range: std::ops::Range<usize>,
) -> impl Iterator<Item = (u8, i8, i64, i64)> + '_ {
    s.kind[range.clone()]
        .iter()
        .zip(&s.side[range.clone()])
        .zip(&s.price_ticks[range.clone()])
        .zip(&s.qty_lots[range])
        .map(|(((&kind, &side), &price), &qty)| (kind, side, price, qty))
}

/// The cursor. `position()` is the index of the next event to apply. `S` is how the stream is
/// held: `&EventStream` for a scan, `Arc<EventStream>` for an environment that owns its cursor.
#[derive(Debug, Clone)]
pub struct Replay<S: AsRef<EventStream>> {
    stream: S,
    pos: usize,
    book: Book,
}

impl AsRef<EventStream> for EventStream {
    fn as_ref(&self) -> &EventStream {
        self
    }
}

impl<S: AsRef<EventStream>> Replay<S> {
    pub fn new(stream: S) -> Self {
        Self {
            stream,
            pos: 0,
            book: Book::default(),
        }
    }

    pub fn book(&self) -> &Book {
        &self.book
    }

    pub fn stream(&self) -> &EventStream {
        self.stream.as_ref()
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn is_done(&self) -> bool {
        self.pos >= self.stream().len()
    }

    /// Receive time of the next event, if any.
    pub fn next_ts_ns(&self) -> Option<i64> {
        self.stream().recv_ts_ns.get(self.pos).copied()
    }

    /// Applies the events `[self.pos, end)` to the book, each update at its slot
    /// ([`LevelSlot::NOTHING`]: searched), showing each event to `visit` as
    /// `(kind, side, price_ticks, qty_lots)`.
    #[inline]
    fn apply(
        &mut self,
        end: usize,
        slots: impl Iterator<Item = LevelSlot>,
        mut visit: impl FnMut(u8, i8, i64, i64),
    ) {
        let events = rows(self.stream.as_ref(), self.pos..end).zip(slots);
        for ((kind, side, price, qty), slot) in events {
            match kind {
                KIND_SNAPSHOT | KIND_UPDATE => self.book.set_level_at(side, price, qty, slot),
                KIND_CLEAR => self.book.clear(side),
                // trades leave the book as it is; validated streams hold no other kind
                _ => {}
            }
            visit(kind, side, price, qty);
        }
        self.pos = end;
    }

    /// [`Replay::apply`] searching the ladders for every update.
    #[inline]
    fn apply_until(&mut self, end: usize, visit: impl FnMut(u8, i8, i64, i64)) {
        self.apply(end, std::iter::repeat(LevelSlot::NOTHING), visit);
    }

    /// [`Replay::apply`] with the slots a [`ReplayIndex`] recorded for these events: the same
    /// book without searching. An index of another length (another stream) is not used.
    #[inline]
    fn apply_until_indexed(
        &mut self,
        end: usize,
        index: &ReplayIndex,
        visit: impl FnMut(u8, i8, i64, i64),
    ) {
        let slots = (index.slots.len() == self.stream().len())
            .then(|| index.slots.get(self.pos..end))
            .flatten();
        match slots {
            Some(slots) => self.apply(end, slots.iter().copied(), visit),
            None => self.apply_until(end, visit),
        }
    }

    /// Asks the CPU to start loading the next events' columns (and their slots in `index`) and
    /// the book's touch into cache. A batch of environments reads 256 streams at 256 positions,
    /// so each step would otherwise begin with a cache miss per column; hinting the next
    /// environment's rows while stepping this one hides that latency. A hint only: it never
    /// changes results.
    #[inline]
    pub fn prefetch_next(&self, index: &ReplayIndex) {
        let s = self.stream.as_ref();
        let i = self.pos;
        prefetch_slice(s.recv_ts_ns.get(i..).unwrap_or_default());
        prefetch_slice(s.kind.get(i..).unwrap_or_default());
        prefetch_slice(s.side.get(i..).unwrap_or_default());
        prefetch_slice(s.price_ticks.get(i..).unwrap_or_default());
        prefetch_slice(s.qty_lots.get(i..).unwrap_or_default());
        prefetch_slice(index.slots.get(i..).unwrap_or_default());
        self.book.prefetch_touch();
    }

    /// Index of the first event received after `ts_ns`, from the cursor on.
    #[inline]
    fn end_of(&self, ts_ns: i64) -> usize {
        let recv = &self.stream.as_ref().recv_ts_ns[self.pos..];
        self.pos + recv.iter().position(|&t| t > ts_ns).unwrap_or(recv.len())
    }

    /// Applies every event received at or before `ts_ns`; returns how many were applied.
    #[inline]
    pub fn advance_to(&mut self, ts_ns: i64) -> usize {
        self.advance_to_visiting(ts_ns, |_, _, _, _| {})
    }

    /// [`Replay::advance_to`] that also shows each applied event to `visit` as
    /// `(kind, side, price_ticks, qty_lots)`, for callers that track flow or react to level
    /// updates in the same pass.
    #[inline]
    pub fn advance_to_visiting(
        &mut self,
        ts_ns: i64,
        visit: impl FnMut(u8, i8, i64, i64),
    ) -> usize {
        let start = self.pos;
        let end = self.end_of(ts_ns);
        self.apply_until(end, visit);
        end - start
    }

    /// [`Replay::advance_to_visiting`] through the slots of `index` (built from this stream).
    #[inline]
    pub fn advance_to_indexed(
        &mut self,
        ts_ns: i64,
        index: &ReplayIndex,
        visit: impl FnMut(u8, i8, i64, i64),
    ) -> usize {
        let start = self.pos;
        let end = self.end_of(ts_ns);
        self.apply_until_indexed(end, index, visit);
        end - start
    }

    /// Applies the next `n` events (fewer at the end of the stream); returns how many were applied.
    pub fn advance_events(&mut self, n: usize) -> usize {
        let end = self.pos.saturating_add(n).min(self.stream().len());
        let start = self.pos;
        self.apply_until(end, |_, _, _, _| {});
        end - start
    }

    /// Goes back to the start with an empty book.
    pub fn reset(&mut self) {
        self.pos = 0;
        self.book.clear(0);
    }

    /// Puts the cursor at the state after every event received at or before `ts_ns`, starting
    /// from the index's nearest checkpoint instead of the beginning of the stream.
    pub fn seek(&mut self, ts_ns: i64, index: &ReplayIndex) {
        let target = self.stream().recv_ts_ns.partition_point(|&t| t <= ts_ns);
        if target < self.pos || self.pos + index.every < target {
            let (pos, book) = index.before(target);
            self.pos = pos;
            self.book.clone_from(book);
        }
        self.apply_until_indexed(target, index, |_, _, _, _| {});
    }
}

impl Replay<Arc<EventStream>> {
    /// The stream's shared handle, for a live market that grows (the cursor's position and
    /// book stay valid: events are only appended).
    pub fn stream_handle_mut(&mut self) -> &mut Arc<EventStream> {
        &mut self.stream
    }
}

/// What makes replaying one stream many times cheap (environments start each episode at a
/// random time of a long stream, and replay it step after step): copies of the book every
/// `every` events, so a cursor can jump anywhere; and the ladder slot of every event, so a
/// replay applies updates without searching the book.
#[derive(Debug, Clone)]
pub struct ReplayIndex {
    pub every: usize,
    /// (position, book after the events before it); the first is (0, empty book).
    books: Vec<(usize, Book)>,
    /// [`LevelSlot`] of each event of the stream, in stream order (one per event: its length
    /// is the stream's).
    slots: Vec<LevelSlot>,
}

impl ReplayIndex {
    /// One pass over the stream; `every` events between checkpoints (at least 1). Memory: 4
    /// bytes an event, plus the checkpoint books.
    pub fn build(stream: &EventStream, every: usize) -> Self {
        let every = every.max(1);
        let mut books = vec![(0, Book::default())];
        let mut slots = Vec::with_capacity(stream.len());
        let mut book = Book::default();
        for (i, (kind, side, price, qty)) in rows(stream, 0..stream.len()).enumerate() {
            if i > 0 && i % every == 0 {
                books.push((i, book.clone()));
            }
            slots.push(match kind {
                KIND_SNAPSHOT | KIND_UPDATE => book.set_level_recording(side, price, qty),
                KIND_CLEAR => {
                    book.clear(side);
                    LevelSlot::NOTHING
                }
                _ => LevelSlot::NOTHING,
            });
        }
        Self {
            every,
            books,
            slots,
        }
    }

    /// The last checkpoint at or before `position`.
    pub fn before(&self, position: usize) -> (usize, &Book) {
        let i = self
            .books
            .partition_point(|(p, _)| *p <= position)
            .saturating_sub(1);
        let (pos, book) = &self.books[i];
        (*pos, book)
    }

    /// Number of checkpoints.
    pub fn len(&self) -> usize {
        self.books.len()
    }

    pub fn is_empty(&self) -> bool {
        self.books.is_empty()
    }
}

/// The book read on a fixed clock: `levels` levels a side at `ts_ns[t]` for every decision time
/// `t`. Row-major `[T, levels]` arrays; empty levels hold price 0 and size 0.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BookSamples {
    pub levels: usize,
    pub ts_ns: Vec<i64>,
    pub bid_price_ticks: Vec<i64>,
    pub bid_qty_lots: Vec<i64>,
    pub ask_price_ticks: Vec<i64>,
    pub ask_qty_lots: Vec<i64>,
}

/// Replays the whole stream and reads the top `levels` levels a side every `step_ns` of receive
/// time, starting one step after the first event (the first decision sees at least one event).
pub fn sample_book(stream: &EventStream, step_ns: i64, levels: usize) -> BookSamples {
    let mut out = BookSamples {
        levels,
        ..Default::default()
    };
    let (Some(start), Some(end)) = (stream.start_ns(), stream.end_ns()) else {
        return out;
    };
    let step_ns = step_ns.max(1);
    let steps = ((end - start) / step_ns) as usize;
    out.ts_ns.reserve(steps);
    out.bid_price_ticks = vec![0; steps * levels];
    out.bid_qty_lots = vec![0; steps * levels];
    out.ask_price_ticks = vec![0; steps * levels];
    out.ask_qty_lots = vec![0; steps * levels];
    let mut replay = Replay::new(stream);
    for t in 0..steps {
        let now = start + (t as i64 + 1) * step_ns;
        replay.advance_to(now);
        out.ts_ns.push(now);
        let row = t * levels..(t + 1) * levels;
        let book = replay.book();
        book.top_levels(
            crate::event::SIDE_BID,
            &mut out.bid_price_ticks[row.clone()],
            &mut out.bid_qty_lots[row.clone()],
        );
        book.top_levels(
            crate::event::SIDE_ASK,
            &mut out.ask_price_ticks[row.clone()],
            &mut out.ask_qty_lots[row],
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, KIND_TRADE, SIDE_ASK, SIDE_BID};

    fn stream() -> EventStream {
        let mut s = EventStream::default();
        let rows = [
            (10, KIND_UPDATE, SIDE_BID, 99, 5),
            (10, KIND_UPDATE, SIDE_ASK, 101, 5),
            (20, KIND_UPDATE, SIDE_BID, 100, 1),
            (30, KIND_TRADE, SIDE_ASK, 100, 1),
            (30, KIND_UPDATE, SIDE_BID, 100, 0),
            (45, KIND_CLEAR, SIDE_ASK, 0, 0),
        ];
        for (t, kind, side, price, qty) in rows {
            s.push(Event {
                ts_ns: t,
                recv_ts_ns: t,
                kind,
                side,
                price_ticks: price,
                qty_lots: qty,
            });
        }
        s
    }

    #[test]
    fn advances_by_time_and_by_count() {
        let s = stream();
        let mut r = Replay::new(&s);
        assert_eq!(r.advance_to(9), 0);
        assert_eq!(r.advance_to(10), 2);
        assert_eq!(r.book().best_bid(), Some((99, 5)));
        assert_eq!(r.advance_to(25), 1);
        assert_eq!(r.book().best_bid(), Some((100, 1)));
        assert_eq!(r.advance_events(2), 2);
        assert_eq!(r.book().best_bid(), Some((99, 5)));
        assert_eq!(r.next_ts_ns(), Some(45));
        assert_eq!(r.advance_events(10), 1);
        assert!(r.is_done());
        assert_eq!(r.book().best_ask(), None);
        r.reset();
        assert_eq!(r.position(), 0);
        assert_eq!(r.book().best_bid(), None);
    }

    #[test]
    fn seeking_through_checkpoints_equals_replaying() {
        let s = stream();
        for every in 1..5 {
            let cps = ReplayIndex::build(&s, every);
            for t in [0, 10, 15, 20, 30, 44, 45, 100, 20, 10] {
                let mut seeker = Replay::new(&s);
                seeker.seek(t, &cps);
                let mut plain = Replay::new(&s);
                plain.advance_to(t);
                assert_eq!(seeker.position(), plain.position());
                assert_eq!(seeker.book(), plain.book());
            }
        }
    }

    /// A random stream over a narrow price range, so updates hit, insert and delete levels
    /// anywhere in ladders both shallower and deeper than the book's search window.
    fn random_stream(seed: u64, events: usize, price_range: u64) -> EventStream {
        let mut rng = crate::rng::Rng::new(seed);
        let mut s = EventStream::default();
        for i in 0..events {
            let roll = rng.below(100);
            let (kind, qty) = match roll {
                0 => (KIND_CLEAR, 0),
                1..=10 => (KIND_TRADE, 1 + rng.below(5) as i64),
                11..=45 => (KIND_UPDATE, 0),
                _ => (KIND_UPDATE, 1 + rng.below(9) as i64),
            };
            let side = if rng.below(2) == 0 {
                SIDE_BID
            } else {
                SIDE_ASK
            };
            let price = if side == SIDE_BID {
                1000
            } else {
                1000 + price_range as i64
            };
            let offset = rng.below(price_range) as i64;
            s.push(Event {
                ts_ns: i as i64,
                recv_ts_ns: i as i64,
                kind,
                side,
                price_ticks: if side == SIDE_BID {
                    price - offset
                } else {
                    price + offset
                },
                qty_lots: qty,
            });
        }
        s
    }

    #[test]
    fn indexed_replay_equals_searching_replay() {
        for (seed, price_range) in [(1, 8), (2, 60), (3, 400)] {
            let s = random_stream(seed, 5000, price_range);
            let index = ReplayIndex::build(&s, 700);
            for step in [1, 7, 93] {
                let (mut plain, mut indexed) = (Replay::new(&s), Replay::new(&s));
                let mut t = 0;
                while !plain.is_done() {
                    t += step;
                    plain.advance_to(t);
                    indexed.advance_to_indexed(t, &index, |_, _, _, _| {});
                    assert_eq!(
                        plain.book(),
                        indexed.book(),
                        "seed {seed} step {step} t {t}"
                    );
                }
            }
            for t in [0, 699, 700, 2500, 4999, 1200] {
                let mut seeker = Replay::new(&s);
                seeker.seek(t, &index);
                let mut plain = Replay::new(&s);
                plain.advance_to(t);
                assert_eq!(seeker.book(), plain.book());
            }
        }
    }

    #[test]
    fn slots_of_another_book_fall_back_to_searching() {
        // an index built from another stream of the same length: every slot is wrong for this
        // book, and each one must be caught
        let s = random_stream(4, 3000, 50);
        let other = ReplayIndex::build(&random_stream(5, 3000, 50), 500);
        let (mut plain, mut indexed) = (Replay::new(&s), Replay::new(&s));
        for t in (0..3000).step_by(11) {
            plain.advance_to(t);
            indexed.advance_to_indexed(t, &other, |_, _, _, _| {});
            assert_eq!(plain.book(), indexed.book());
        }
    }

    #[test]
    fn samples_on_a_clock() {
        let s = stream();
        let samples = sample_book(&s, 10, 2);
        assert_eq!(samples.ts_ns, vec![20, 30, 40]);
        assert_eq!(&samples.bid_price_ticks[0..2], &[100, 99]);
        assert_eq!(&samples.bid_price_ticks[2..4], &[99, 0]);
        assert_eq!(&samples.ask_price_ticks[4..6], &[101, 0]);
        assert_eq!(&samples.ask_qty_lots[4..6], &[5, 0]);
    }
}
