//! Hyperliquid websocket recordings: gzip (or plain) lines `<local receive time, ns> <JSON>`
//! holding `l2Book` messages (the whole visible book, up to 20 levels a side, every time) and
//! `trades` messages (a list of prints).
//!
//! The first `l2Book` is a snapshot (a clear, then its levels); each later one is diffed against
//! the one before it and only the levels that changed are emitted (a level that left the view
//! gets size 0), so the replayed book is the visible one. Trades carry the aggressor's side
//! (`"B"`: a buy, `"A"`: a sell) and their exchange time (ms). The first `trades` message after
//! subscribing repeats recent prints from before the recording: they are kept, at their own
//! exchange time, and counted in the notes. `subscriptionResponse` and `pong` lines are counted,
//! not events; any other channel is refused.

use super::levels::{best_first, changed_levels};
use super::recv_clock::RecvClock;
use super::text::{decimal, each_line, open};
use super::{ImportOptions, ImportReport, Imported, RawEvent, RawEvents};
use crate::decimal::Decimal;
use crate::error::{LobzeroError, Result};
use crate::event::{
    KIND_CLEAR, KIND_SNAPSHOT, KIND_TRADE, KIND_UPDATE, SIDE_ASK, SIDE_BID, SIDE_NONE,
};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::io::BufRead;
use std::path::Path;

const FORMAT: &str = "hyperliquid";
const MS: i64 = 1_000_000;

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    channel: &'a str,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Level<'a> {
    #[serde(borrow)]
    px: &'a str,
    #[serde(borrow)]
    sz: &'a str,
}

#[derive(Deserialize)]
struct Book<'a> {
    #[serde(borrow)]
    coin: &'a str,
    time: i64,
    #[serde(borrow)]
    levels: [Vec<Level<'a>>; 2],
}

#[derive(Deserialize)]
struct Trade<'a> {
    #[serde(borrow)]
    coin: &'a str,
    #[serde(borrow)]
    side: &'a str,
    #[serde(borrow)]
    px: &'a str,
    #[serde(borrow)]
    sz: &'a str,
    time: i64,
}

type Side = Vec<(Decimal, Decimal)>;

#[derive(Default)]
struct Importer {
    raw: RawEvents,
    report: ImportReport,
    clock: RecvClock,
    coin: Option<String>,
    /// The last book seen: bids, asks.
    book: Option<[Side; 2]>,
    first_book_ms: Option<i64>,
    trades_before_first_book: u64,
}

impl Importer {
    fn coin(&mut self, coin: &str, loc: &dyn Fn() -> String) -> Result<()> {
        super::one_instrument(&mut self.coin, coin, "coin ", FORMAT, loc)
    }

    fn line(&mut self, file: u32, line: u64, text: &str) -> Result<()> {
        let here = self.raw.location(file, line);
        let loc = || here.clone();
        self.report.lines += 1;
        let (recv_ts_ns, json) = self.clock.split(text, &loc)?;
        let envelope: Envelope = serde_json::from_str(json)
            .map_err(|e| LobzeroError::parse(loc(), format!("unparseable JSON ({e})")))?;
        let data = || {
            envelope
                .data
                .map(RawValue::get)
                .ok_or_else(|| LobzeroError::parse(loc(), "message without \"data\""))
        };
        let event = |ts_ns, kind, side, price, qty| RawEvent {
            ts_ns,
            recv_ts_ns,
            kind,
            side,
            price,
            qty,
            file,
            line,
        };
        match envelope.channel {
            "l2Book" => {
                let book: Book = serde_json::from_str(data()?)
                    .map_err(|e| LobzeroError::parse(loc(), format!("bad l2Book ({e})")))?;
                self.coin(book.coin, &loc)?;
                self.report.count_message("l2Book");
                let ts_ns = book.time.checked_mul(MS).filter(|t| *t >= 0).ok_or_else(|| {
                    LobzeroError::invalid(loc(), format!("book time {} ms is out of range", book.time))
                })?;
                let mut next: [Side; 2] = Default::default();
                for (k, (side, name)) in [(SIDE_BID, "bid"), (SIDE_ASK, "ask")].into_iter().enumerate() {
                    for level in &book.levels[k] {
                        let price = decimal(level.px, "price", loc)?;
                        let qty = decimal(level.sz, "size", loc)?;
                        if price.is_zero() || qty.is_zero() {
                            return Err(LobzeroError::invalid(
                                loc(),
                                format!("{name} level {price} x {qty}: a level needs a positive price and size"),
                            ));
                        }
                        next[k].push((price, qty));
                    }
                    // prices of one scale compare as their mantissas after normalising to it
                    let scale = next[k].iter().map(|l| l.0.scale).max().unwrap_or(0);
                    let key = |d: &Decimal| d.mantissa * 10i128.pow(scale - d.scale);
                    if !best_first(side, next[k].iter().map(|l| key(&l.0))) {
                        return Err(LobzeroError::invalid(
                            loc(),
                            format!("{name} levels must run from the best price outwards, each price once"),
                        ));
                    }
                }
                match &self.book {
                    None => {
                        self.report.snapshots += 1;
                        self.first_book_ms = Some(book.time);
                        let zero = Decimal::ZERO;
                        self.raw.events.push(event(ts_ns, KIND_CLEAR, SIDE_NONE, zero, zero));
                        for (k, side) in [SIDE_BID, SIDE_ASK].into_iter().enumerate() {
                            for &(p, q) in &next[k] {
                                self.raw.events.push(event(ts_ns, KIND_SNAPSHOT, side, p, q));
                            }
                        }
                    }
                    Some(prev) => {
                        for (k, side) in [SIDE_BID, SIDE_ASK].into_iter().enumerate() {
                            changed_levels(&prev[k], &next[k], Decimal::ZERO, |p, q| {
                                self.raw.events.push(event(ts_ns, KIND_UPDATE, side, p, q));
                            });
                        }
                    }
                }
                self.book = Some(next);
                Ok(())
            }
            "trades" => {
                let trades: Vec<Trade> = serde_json::from_str(data()?)
                    .map_err(|e| LobzeroError::parse(loc(), format!("bad trades ({e})")))?;
                self.report.count_message("trades");
                for t in &trades {
                    self.coin(t.coin, &loc)?;
                    let side = match t.side {
                        "B" => SIDE_BID,
                        "A" => SIDE_ASK,
                        other => {
                            return Err(LobzeroError::invalid(
                                loc(),
                                format!("trade side {other:?} is not \"B\" or \"A\""),
                            ))
                        }
                    };
                    let price = decimal(t.px, "price", loc)?;
                    let qty = decimal(t.sz, "size", loc)?;
                    if price.is_zero() || qty.is_zero() {
                        return Err(LobzeroError::invalid(loc(), "a trade needs a positive price and size"));
                    }
                    let ts_ns = t.time.checked_mul(MS).filter(|t| *t >= 0).ok_or_else(|| {
                        LobzeroError::invalid(loc(), format!("trade time {} ms is out of range", t.time))
                    })?;
                    if self.first_book_ms.is_none_or(|first| t.time < first) {
                        self.trades_before_first_book += 1;
                    }
                    self.raw.events.push(event(ts_ns, KIND_TRADE, side, price, qty));
                }
                Ok(())
            }
            "subscriptionResponse" | "pong" => {
                self.report.count_message(envelope.channel);
                Ok(())
            }
            other => Err(LobzeroError::Format {
                location: loc(),
                format: FORMAT.into(),
                detail: format!(
                    "unsupported channel {other:?} (supported: l2Book, trades, subscriptionResponse, pong)"
                ),
            }),
        }
    }

    fn feed_reader(&mut self, reader: impl BufRead, name: &str) -> Result<()> {
        let file = self.raw.files.len() as u32;
        self.raw.files.push(name.to_string());
        each_line(reader, name, |line, text| self.line(file, line, text))
    }

    fn finish(mut self, options: &ImportOptions) -> Result<Imported> {
        if self.report.snapshots == 0 && !self.raw.events.is_empty() {
            return Err(LobzeroError::Format {
                location: self.raw.files.join(", "),
                format: FORMAT.into(),
                detail: "trades but no l2Book message: there is no book to replay".into(),
            });
        }
        if self.trades_before_first_book > 0 {
            self.report.notes.push(format!(
                "{} trades are older than the first book (recent prints sent on subscribing): kept at their exchange time",
                self.trades_before_first_book
            ));
        }
        for key in ["subscriptionResponse", "pong"] {
            if self.report.messages.contains_key(key) {
                self.report
                    .notes
                    .push(format!("{key} messages counted, not events"));
            }
        }
        self.report.recv_time_unit = self.clock.unit();
        self.report.notes.extend(self.clock.note());
        let coin = self.coin.clone().unwrap_or_default();
        self.raw.finish(options, &coin, "hyperliquid", self.report)
    }
}

/// Imports the files of one Hyperliquid recording, in order.
pub fn import(paths: &[&Path], options: ImportOptions) -> Result<Imported> {
    let mut importer = Importer {
        report: ImportReport {
            format: FORMAT.into(),
            ..Default::default()
        },
        ..Default::default()
    };
    for path in paths {
        importer.feed_reader(open(path)?, &path.display().to_string())?;
    }
    importer.finish(&options)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> Result<Imported> {
        let mut imp = Importer {
            report: ImportReport {
                format: FORMAT.into(),
                ..Default::default()
            },
            ..Default::default()
        };
        imp.feed_reader(text.as_bytes(), "mem")?;
        imp.finish(&ImportOptions::default())
    }

    fn book(recv: i64, ms: i64, bids: &str, asks: &str) -> String {
        format!("{recv} {{\"channel\":\"l2Book\",\"data\":{{\"coin\":\"BTC\",\"time\":{ms},\"levels\":[[{bids}],[{asks}]]}}}}\n")
    }

    fn lvl(px: &str, sz: &str) -> String {
        format!("{{\"px\":\"{px}\",\"sz\":\"{sz}\",\"n\":1}}")
    }

    fn sample() -> String {
        let t = 1_737_918_843_000_000_000i64;
        [
            book(t, 1_737_918_843_000, &format!("{},{}", lvl("100", "1"), lvl("99", "2")), &lvl("101", "3")),
            format!("{} {{\"channel\":\"trades\",\"data\":[{{\"coin\":\"BTC\",\"side\":\"A\",\"px\":\"100\",\"sz\":\"0.5\",\"time\":1737918843100,\"tid\":1}}]}}\n", t + 200_000_000),
            book(t + 500_000_000, 1_737_918_843_400, &format!("{},{}", lvl("100", "0.5"), lvl("99", "2")), &format!("{},{}", lvl("101", "3"), lvl("102", "1"))),
        ]
        .concat()
    }

    #[test]
    fn snapshots_become_a_snapshot_then_changes() {
        let out = run(&sample()).unwrap();
        assert_eq!(out.instrument.symbol, "BTC");
        let s = &out.events;
        // clear + 3 levels, the trade, then 2 changed levels (bid 100 resized, ask 102 new)
        assert_eq!(
            s.kind,
            vec![KIND_CLEAR, 0, 0, 0, KIND_TRADE, KIND_UPDATE, KIND_UPDATE]
        );
        assert_eq!(s.side[4], SIDE_ASK);
        assert_eq!(s.ts_ns[4], 1_737_918_843_100 * MS);
        assert_eq!(out.report.recv_time_unit.as_deref(), Some("ns"));
    }

    #[test]
    fn bad_lines_are_named() {
        let good = sample();
        let cases = [
            (
                good.replace("\"side\":\"A\"", "\"side\":\"X\""),
                "InvalidValue",
                "mem:2",
            ),
            (good.replace("l2Book", "bbo"), "Format", "mem:1"),
            (
                good.replacen("\"99\"", "\"100\"", 1),
                "InvalidValue",
                "mem:1",
            ),
            (
                good.replace("\"coin\":\"BTC\",\"side\"", "\"coin\":\"ETH\",\"side\""),
                "Format",
                "mem:2",
            ),
            (good[..good.len() - 10].to_string(), "Truncated", "mem:3"),
        ];
        for (text, want, at) in cases {
            let err = run(&text).unwrap_err();
            assert!(format!("{err:?}").starts_with(want), "{want}: {err}");
            assert_eq!(err.location(), Some(at), "{err}");
        }
    }
}
