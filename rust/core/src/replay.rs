//! A deterministic cursor over an [`EventStream`]: it applies events to a [`Book`] in stream order
//! and never past the time it is asked for, so whatever reads the book at time `t` sees exactly
//! the events received up to `t`.

use crate::book::{Book, OrderBook};
use crate::event::{EventStream, KIND_CLEAR, KIND_SNAPSHOT, KIND_TRADE, KIND_UPDATE};

/// The cursor. `position()` is the index of the next event to apply.
#[derive(Debug, Clone)]
pub struct Replay<'a> {
    stream: &'a EventStream,
    pos: usize,
    book: Book,
}

impl<'a> Replay<'a> {
    pub fn new(stream: &'a EventStream) -> Self {
        Self {
            stream,
            pos: 0,
            book: Book::default(),
        }
    }

    pub fn book(&self) -> &Book {
        &self.book
    }

    pub fn stream(&self) -> &'a EventStream {
        self.stream
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn is_done(&self) -> bool {
        self.pos >= self.stream.len()
    }

    /// Receive time of the next event, if any.
    pub fn next_ts_ns(&self) -> Option<i64> {
        self.stream.recv_ts_ns.get(self.pos).copied()
    }

    #[inline]
    fn apply(&mut self, i: usize) {
        let s = self.stream;
        match s.kind[i] {
            KIND_SNAPSHOT | KIND_UPDATE => {
                self.book
                    .set_level(s.side[i], s.price_ticks[i], s.qty_lots[i])
            }
            KIND_CLEAR => self.book.clear(s.side[i]),
            KIND_TRADE => {}
            // validated streams hold no other kind; an unknown row changes nothing
            _ => {}
        }
    }

    /// Applies every event received at or before `ts_ns`; returns how many were applied.
    #[inline]
    pub fn advance_to(&mut self, ts_ns: i64) -> usize {
        let start = self.pos;
        let recv = &self.stream.recv_ts_ns;
        while self.pos < recv.len() && recv[self.pos] <= ts_ns {
            self.apply(self.pos);
            self.pos += 1;
        }
        self.pos - start
    }

    /// Applies the next `n` events (fewer at the end of the stream); returns how many were applied.
    pub fn advance_events(&mut self, n: usize) -> usize {
        let end = self.pos.saturating_add(n).min(self.stream.len());
        let start = self.pos;
        while self.pos < end {
            self.apply(self.pos);
            self.pos += 1;
        }
        end - start
    }

    /// Goes back to the start with an empty book.
    pub fn reset(&mut self) {
        self.pos = 0;
        self.book.clear(0);
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
    use crate::event::{Event, SIDE_ASK, SIDE_BID};

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
