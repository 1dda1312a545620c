//! Binance market-data recordings: gzip (or plain) text, one message a line as
//! `<local receive time, ns> <JSON>`, holding a REST depth snapshot, combined-stream `depthUpdate`
//! diffs, `trade` / `aggTrade` prints and `bookTicker` quotes, for spot and USD-M futures.
//!
//! The book is built by Binance's documented procedure: diffs received before the snapshot are
//! buffered; at the snapshot, diffs older than it are dropped (futures: `u < lastUpdateId`,
//! spot: `u <= lastUpdateId`) and the rest applied in order; the first applied diff must straddle
//! the snapshot id (futures: or continue it, `pu == lastUpdateId`), and every later one continue
//! the previous (futures `pu == previous u`, spot `U == previous u + 1`), the rule of
//! [`super::binance_sequence`], which the CSV importer shares. A break is a gap: an error by
//! default, or with `on_gap = resync` a `clear` of the book and a wait for the next snapshot. Buffered diffs are applied at the
//! snapshot's receive time, since that is when the local machine could first know the book.
//! `bookTicker` quotes repeat the top of the same book on another stream with other timing, so
//! they are counted and not turned into events.
//!
//! COIN-M (coin-margined, inverse) contracts are recognised by Binance's symbol naming alone,
//! so that a trade-only recording is recognised too: `<BASE>USD_PERP` or `<BASE>USD_<YYMMDD>`
//! (BTCUSD_PERP, ETHUSD_240927) is inverse, with Binance's contract sizes, 100 USD for BTCUSD
//! and 10 USD for every other pair (see [`coin_margined_contract_size`]); USD-M symbols end in
//! USDT or USDC (BTCUSDT, BTCUSDT_240927) and spot symbols have no `_`, so both stay linear.
//! The venue of a COIN-M recording is `binance-coinm`, and the import report notes the rule.

use super::binance_compat::python_literal_to_json;
use super::binance_sequence::{after_snapshot, continues, Sequence};
use super::recv_clock::RecvClock;
use super::text::{decimal, each_line, open};
use super::{
    location, raw_event_to_steps, GapPolicy, ImportOptions, ImportReport, Imported, RawEvent,
    RawEvents,
};
use crate::decimal::Decimal;
use crate::error::{LobzeroError, Result};
use crate::event::{
    EventStream, Instrument, StreamValidator, KIND_CLEAR, KIND_SNAPSHOT, KIND_TRADE, KIND_UPDATE,
    SIDE_ASK, SIDE_BID, SIDE_NONE,
};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::io::BufRead;
use std::path::Path;

const FORMAT: &str = "binance-stream";
const MS: i64 = 1_000_000;

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    stream: Option<&'a str>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
    #[serde(rename = "lastUpdateId")]
    last_update_id: Option<u64>,
    #[serde(borrow)]
    bids: Option<Vec<[&'a str; 2]>>,
    #[serde(borrow)]
    asks: Option<Vec<[&'a str; 2]>>,
    #[serde(rename = "E")]
    event_ms: Option<i64>,
    #[serde(rename = "T")]
    transaction_ms: Option<i64>,
}

#[derive(Deserialize)]
struct DepthUpdate<'a> {
    #[serde(rename = "e")]
    event: &'a str,
    #[serde(rename = "E")]
    event_ms: i64,
    #[serde(rename = "T")]
    transaction_ms: Option<i64>,
    #[serde(rename = "s")]
    symbol: &'a str,
    #[serde(rename = "U")]
    first_id: u64,
    #[serde(rename = "u")]
    last_id: u64,
    pu: Option<u64>,
    #[serde(rename = "b", borrow)]
    bids: Vec<[&'a str; 2]>,
    #[serde(rename = "a", borrow)]
    asks: Vec<[&'a str; 2]>,
}

#[derive(Deserialize)]
struct TradeMessage<'a> {
    #[serde(rename = "e")]
    event: &'a str,
    #[serde(rename = "E")]
    event_ms: i64,
    #[serde(rename = "T")]
    transaction_ms: Option<i64>,
    #[serde(rename = "s")]
    symbol: &'a str,
    #[serde(rename = "p")]
    price: &'a str,
    #[serde(rename = "q")]
    qty: &'a str,
    #[serde(rename = "m")]
    buyer_is_maker: bool,
}

/// A diff kept until it can be applied (before a snapshot).
#[derive(Debug, Clone)]
struct Diff {
    ts_ns: i64,
    first_id: u64,
    last_id: u64,
    prev_last_id: Option<u64>,
    levels: Vec<(i8, Decimal, Decimal)>,
    file: u32,
    line: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sync {
    AwaitingSnapshot,
    AfterSnapshot { last_update_id: u64 },
    Synced { last_id: u64 },
}

/// Streaming importer: feed it the files of one recording in order, then [`finish`](Self::finish).
pub struct BinanceStreamImporter {
    options: ImportOptions,
    raw: RawEvents,
    report: ImportReport,
    sync: Sync,
    buffered: Vec<Diff>,
    symbol: Option<String>,
    futures: Option<bool>,
    depth_diffs: u64,
    clock: RecvClock,
    python_snapshots: u64,
    /// Live use ([`feed_line`](Self::feed_line)): the file index of the live lines, their
    /// count, and the validation of the parts drained so far.
    live_file: Option<u32>,
    live_lines: u64,
    validator: StreamValidator,
}

impl BinanceStreamImporter {
    pub fn new(options: ImportOptions) -> Self {
        Self {
            options,
            raw: RawEvents::default(),
            report: ImportReport {
                format: FORMAT.into(),
                ..Default::default()
            },
            sync: Sync::AwaitingSnapshot,
            buffered: Vec::new(),
            symbol: None,
            futures: None,
            depth_diffs: 0,
            clock: RecvClock::default(),
            python_snapshots: 0,
            live_file: None,
            live_lines: 0,
            validator: StreamValidator::default(),
        }
    }

    /// Reads one line of a live feed (`<receive time ns> <JSON>`, the same rules as a file's
    /// line); the events it makes wait for [`drain`](Self::drain). Errors name the line as
    /// `<live SYMBOL>:N`.
    pub fn feed_line(&mut self, text: &str) -> Result<()> {
        let file = match self.live_file {
            Some(file) => file,
            None => {
                let name = self.options.symbol.as_deref().unwrap_or("feed");
                self.raw.files.push(format!("<live {name}>"));
                let file = self.raw.files.len() as u32 - 1;
                self.live_file = Some(file);
                file
            }
        };
        self.live_lines += 1;
        self.report.lines += 1;
        self.line(file, self.live_lines, text)
    }

    /// The events made since the last drain (by any feed), in ticks and lots of the options'
    /// tick and lot sizes (a live import cannot infer them from data not received yet),
    /// validated as the continuation of the events drained before (crossed books are checked
    /// at the end of each receive time, so a part ends at a line's end). Empty when the lines
    /// made no event (a diff buffered before the snapshot, say).
    pub fn drain(&mut self) -> Result<EventStream> {
        let (tick, lot) = self.live_steps()?;
        let raw = std::mem::take(&mut self.raw.events);
        let mut stream = EventStream::with_capacity(raw.len());
        let files = &self.raw.files;
        for e in &raw {
            let loc = || location(files, e.file, e.line);
            let event = raw_event_to_steps(
                e,
                tick,
                lot,
                self.options.round_qty,
                &mut self.report.qty_rounded,
                loc,
            )?;
            stream.push(event);
        }
        self.validator
            .check(&stream, |i| location(files, raw[i].file, raw[i].line))?;
        Ok(stream)
    }

    /// The import report so far (lines, messages, snapshots, gaps, ...).
    pub fn report(&self) -> &ImportReport {
        &self.report
    }

    fn live_steps(&self) -> Result<(Decimal, Decimal)> {
        match (self.options.tick_size, self.options.lot_size) {
            (Some(tick), Some(lot)) => Ok((tick, lot)),
            _ => Err(LobzeroError::config(
                "a live Binance import needs tick_size and lot_size (Binance's exchangeInfo \
                 filters PRICE_FILTER.tickSize and LOT_SIZE.stepSize)",
            )),
        }
    }

    /// The instrument of a live import: the symbol seen (or the options'), the venue, the
    /// options' tick and lot, and COIN-M contract terms by the symbol's name.
    pub fn live_instrument(&self) -> Result<Instrument> {
        let (tick, lot) = self.live_steps()?;
        let seen = self.symbol.clone().unwrap_or_default();
        let (venue, coin_margined) = self.venue(&seen);
        let instrument = Instrument::new(
            self.options.symbol.as_deref().unwrap_or(&seen),
            self.options.venue.as_deref().unwrap_or(venue),
            tick,
            lot,
        )?;
        match coin_margined {
            Some(size) => instrument.with_contract(size, true, Decimal::unit(0)),
            None => Ok(instrument),
        }
    }

    /// The venue of `symbol` in this recording, and its COIN-M contract size if it is one.
    fn venue(&self, symbol: &str) -> (&'static str, Option<Decimal>) {
        let coin_margined = coin_margined_contract_size(symbol);
        let venue = match (coin_margined, self.futures) {
            (Some(_), _) => "binance-coinm",
            (None, Some(true)) => "binance-futures",
            _ => "binance",
        };
        (venue, coin_margined)
    }

    pub fn feed_file(&mut self, path: &Path) -> Result<()> {
        let reader = open(path)?;
        self.feed_reader(reader, &path.display().to_string())
    }

    /// Reads every line of one file of the recording.
    pub fn feed_reader(&mut self, reader: impl BufRead, name: &str) -> Result<()> {
        let file = self.raw.files.len() as u32;
        self.raw.files.push(name.to_string());
        each_line(reader, name, |line, text| {
            self.report.lines += 1;
            self.line(file, line, text)
        })
    }

    fn location(&self, file: u32, line: u64) -> String {
        self.raw.location(file, line)
    }

    fn line(&mut self, file: u32, line: u64, text: &str) -> Result<()> {
        let here = self.location(file, line);
        let loc = || here.clone();
        let (recv_ts_ns, json) = self.clock.split(text, &loc)?;
        // older collectors wrote the REST snapshot with Python's repr: single quotes
        let converted;
        let json = if json.starts_with("{'") {
            converted =
                python_literal_to_json(json).map_err(|rule| LobzeroError::parse(loc(), rule))?;
            self.python_snapshots += 1;
            converted.as_str()
        } else {
            json
        };
        let envelope: Envelope = serde_json::from_str(json)
            .map_err(|e| LobzeroError::parse(loc(), format!("unparseable JSON ({e})")))?;
        if let Some(last_update_id) = envelope.last_update_id {
            let (Some(bids), Some(asks)) = (envelope.bids, envelope.asks) else {
                return Err(LobzeroError::parse(
                    loc(),
                    "depth snapshot without bids and asks",
                ));
            };
            let ts_ns = envelope
                .transaction_ms
                .or(envelope.event_ms)
                .map_or(recv_ts_ns, |ms| ms * MS);
            return self.snapshot(file, line, recv_ts_ns, ts_ns, last_update_id, &bids, &asks);
        }
        let (Some(stream), Some(data)) = (envelope.stream, envelope.data) else {
            return Err(LobzeroError::Format {
                location: loc(),
                format: FORMAT.into(),
                detail: "line is neither a combined-stream message ({\"stream\", \"data\"}) nor a depth snapshot ({\"lastUpdateId\", ...})".into(),
            });
        };
        let channel = stream.split_once('@').map_or(stream, |(_, c)| c);
        if let Some(rest) = channel.strip_prefix("depth") {
            if rest.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(LobzeroError::Format {
                    location: loc(),
                    format: FORMAT.into(),
                    detail: format!("partial-depth stream {stream:?} is not supported; record the diff stream <symbol>@depth"),
                });
            }
            let msg: DepthUpdate = serde_json::from_str(data.get())
                .map_err(|e| LobzeroError::parse(loc(), format!("bad depthUpdate ({e})")))?;
            if msg.event != "depthUpdate" {
                return Err(LobzeroError::parse(
                    loc(),
                    format!("depth stream carries event {:?}", msg.event),
                ));
            }
            self.check_symbol(msg.symbol, file, line)?;
            self.report.count_message("depthUpdate");
            self.depth_diffs += 1;
            let mut levels = Vec::with_capacity(msg.bids.len() + msg.asks.len());
            for (side, entries) in [(SIDE_BID, &msg.bids), (SIDE_ASK, &msg.asks)] {
                for [px, qty] in entries.iter() {
                    levels.push((side, decimal(px, "price", loc)?, decimal(qty, "size", loc)?));
                }
            }
            let is_futures = msg.pu.is_some();
            match self.futures {
                None => self.futures = Some(is_futures),
                Some(f) if f != is_futures => {
                    return Err(LobzeroError::Format {
                        location: loc(),
                        format: FORMAT.into(),
                        detail: "spot diffs (no `pu`) mixed with futures diffs (with `pu`)".into(),
                    })
                }
                Some(_) => {}
            }
            let diff = Diff {
                ts_ns: msg.transaction_ms.unwrap_or(msg.event_ms) * MS,
                first_id: msg.first_id,
                last_id: msg.last_id,
                prev_last_id: msg.pu,
                levels,
                file,
                line,
            };
            return self.diff(diff, recv_ts_ns);
        }
        match channel {
            "trade" | "aggTrade" => {
                let msg: TradeMessage = serde_json::from_str(data.get())
                    .map_err(|e| LobzeroError::parse(loc(), format!("bad {channel} ({e})")))?;
                if msg.event != channel {
                    return Err(LobzeroError::parse(
                        loc(),
                        format!("{channel} stream carries event {:?}", msg.event),
                    ));
                }
                self.check_symbol(msg.symbol, file, line)?;
                self.report.count_message(channel);
                let price = decimal(msg.price, "price", loc)?;
                let qty = decimal(msg.qty, "size", loc)?;
                if price.is_zero() || qty.is_zero() {
                    return Err(LobzeroError::invalid(
                        loc(),
                        "a trade needs a positive price and size",
                    ));
                }
                self.raw.events.push(RawEvent {
                    ts_ns: msg.transaction_ms.unwrap_or(msg.event_ms) * MS,
                    recv_ts_ns,
                    kind: KIND_TRADE,
                    // the buyer is the maker, so the seller crossed the spread
                    side: if msg.buyer_is_maker {
                        SIDE_ASK
                    } else {
                        SIDE_BID
                    },
                    price,
                    qty,
                    file,
                    line,
                });
                Ok(())
            }
            "bookTicker" | "markPrice" | "markPrice@1s" => {
                let name = channel.split('@').next().unwrap_or(channel);
                serde_json::from_str::<serde::de::IgnoredAny>(data.get())
                    .map_err(|e| LobzeroError::parse(loc(), format!("bad {name} ({e})")))?;
                self.report.count_message(name);
                Ok(())
            }
            other => Err(LobzeroError::Format {
                location: loc(),
                format: FORMAT.into(),
                detail: format!(
                    "unsupported stream {other:?} (supported: depth, trade, aggTrade, bookTicker, markPrice)"
                ),
            }),
        }
    }

    fn check_symbol(&mut self, symbol: &str, file: u32, line: u64) -> Result<()> {
        let location = self.location(file, line);
        super::one_instrument(&mut self.symbol, symbol, "symbol ", FORMAT, || location)
    }

    #[allow(clippy::too_many_arguments)]
    fn snapshot(
        &mut self,
        file: u32,
        line: u64,
        recv_ts_ns: i64,
        ts_ns: i64,
        last_update_id: u64,
        bids: &[[&str; 2]],
        asks: &[[&str; 2]],
    ) -> Result<()> {
        let here = self.location(file, line);
        let loc = || here.clone();
        self.report.count_message("snapshot");
        self.report.snapshots += 1;
        let clear = RawEvent {
            ts_ns,
            recv_ts_ns,
            kind: KIND_CLEAR,
            side: SIDE_NONE,
            price: Decimal::ZERO,
            qty: Decimal::ZERO,
            file,
            line,
        };
        let mut events = vec![clear];
        for (side, entries) in [(SIDE_BID, bids), (SIDE_ASK, asks)] {
            for [px, qty] in entries {
                events.push(RawEvent {
                    kind: KIND_SNAPSHOT,
                    side,
                    price: decimal(px, "price", loc)?,
                    qty: decimal(qty, "size", loc)?,
                    ..clear
                });
            }
        }
        self.raw.events.extend(events);
        self.sync = Sync::AfterSnapshot { last_update_id };
        let buffered = std::mem::take(&mut self.buffered);
        for diff in buffered {
            self.diff(diff, recv_ts_ns)?;
        }
        Ok(())
    }

    fn diff(&mut self, diff: Diff, recv_ts_ns: i64) -> Result<()> {
        let futures = diff.prev_last_id.is_some();
        match self.sync {
            Sync::AwaitingSnapshot => {
                self.buffered.push(diff);
                Ok(())
            }
            Sync::AfterSnapshot { last_update_id } => {
                match after_snapshot(
                    last_update_id,
                    diff.first_id,
                    diff.last_id,
                    diff.prev_last_id,
                ) {
                    Sequence::Stale => {
                        self.report.stale_diffs_dropped += 1;
                        Ok(())
                    }
                    Sequence::Applies => {
                        self.emit(&diff, recv_ts_ns);
                        Ok(())
                    }
                    Sequence::Gap => {
                        let rule = if futures {
                            format!(
                                "first diff after snapshot {last_update_id} starts at U={} (must be <= {last_update_id}, or pu = {last_update_id})",
                                diff.first_id
                            )
                        } else {
                            format!(
                                "first diff after snapshot {last_update_id} starts at U={} (must be <= {})",
                                diff.first_id,
                                last_update_id + 1
                            )
                        };
                        self.gap(diff, recv_ts_ns, rule)
                    }
                }
            }
            Sync::Synced { last_id } => {
                if !continues(last_id, diff.first_id, diff.prev_last_id) {
                    let rule = match diff.prev_last_id {
                        Some(pu) => format!("pu={pu} but the previous diff ended at u={last_id}"),
                        None => format!(
                            "U={} but the previous diff ended at u={last_id}",
                            diff.first_id
                        ),
                    };
                    return self.gap(diff, recv_ts_ns, rule);
                }
                self.emit(&diff, recv_ts_ns);
                Ok(())
            }
        }
    }

    fn emit(&mut self, diff: &Diff, recv_ts_ns: i64) {
        for &(side, price, qty) in &diff.levels {
            self.raw.events.push(RawEvent {
                ts_ns: diff.ts_ns,
                recv_ts_ns,
                kind: KIND_UPDATE,
                side,
                price,
                qty,
                file: diff.file,
                line: diff.line,
            });
        }
        self.sync = Sync::Synced {
            last_id: diff.last_id,
        };
    }

    fn gap(&mut self, diff: Diff, recv_ts_ns: i64, rule: String) -> Result<()> {
        let location = self.location(diff.file, diff.line);
        match self.options.on_gap {
            GapPolicy::Error => Err(LobzeroError::SequenceGap { location, rule }),
            GapPolicy::Resync => {
                self.report.gaps += 1;
                self.report.notes.push(format!(
                    "gap at {location}: {rule}; book cleared until the next snapshot"
                ));
                self.raw.events.push(RawEvent {
                    ts_ns: diff.ts_ns,
                    recv_ts_ns,
                    kind: KIND_CLEAR,
                    side: SIDE_NONE,
                    price: Decimal::ZERO,
                    qty: Decimal::ZERO,
                    file: diff.file,
                    line: diff.line,
                });
                self.sync = Sync::AwaitingSnapshot;
                self.buffered.push(diff);
                Ok(())
            }
        }
    }

    /// Converts, validates and reports. A recording with depth diffs but no snapshot cannot
    /// give a book and is refused.
    pub fn finish(mut self) -> Result<Imported> {
        if self.depth_diffs > 0 && self.report.snapshots == 0 {
            let location = self.raw.files.join(", ");
            return Err(LobzeroError::Format {
                location,
                format: FORMAT.into(),
                detail: "depth diffs but no REST depth snapshot (a line with \"lastUpdateId\"): the book cannot be built".into(),
            });
        }
        self.report.diffs_dropped_awaiting_snapshot += self.buffered.len() as u64;
        if self.report.messages.contains_key("bookTicker") {
            self.report.notes.push("bookTicker quotes counted, not turned into events (they repeat the top of the diff-built book on another stream)".into());
        }
        if self.report.messages.contains_key("markPrice") {
            self.report.notes.push("markPrice messages counted, not turned into events (a futures index, not the book)".into());
        }
        if self.python_snapshots > 0 {
            self.report.notes.push(format!(
                "{} snapshots written as Python dicts (single quotes) read as JSON",
                self.python_snapshots
            ));
        }
        self.report.recv_time_unit = self.clock.unit();
        self.report.notes.extend(self.clock.note());
        let symbol = self.symbol.clone().unwrap_or_default();
        let (venue, coin_margined) = self.venue(&symbol);
        if let Some(size) = coin_margined {
            self.report.notes.push(format!(
                "{symbol} is a COIN-M contract (symbol <BASE>USD_PERP or <BASE>USD_<YYMMDD>): \
                 inverse, contract size {size} USD (Binance's specification), PnL in the base coin"
            ));
        }
        let options = self.options.clone();
        let mut out = self.raw.finish(&options, &symbol, venue, self.report)?;
        if let Some(size) = coin_margined {
            out.instrument = out.instrument.with_contract(size, true, Decimal::unit(0))?;
        }
        Ok(out)
    }
}

/// The contract size (USD) of a Binance COIN-M symbol, None for any other symbol: the pair
/// before `_` ends in `USD` and the suffix is `PERP` or a delivery date `YYMMDD`. BTCUSD
/// contracts are 100 USD, all other COIN-M contracts 10 USD (Binance's contract
/// specifications).
pub fn coin_margined_contract_size(symbol: &str) -> Option<Decimal> {
    let (pair, suffix) = symbol.split_once('_')?;
    let dated = suffix.len() == 6 && suffix.bytes().all(|b| b.is_ascii_digit());
    if !(suffix == "PERP" || dated) || pair.len() <= 3 || !pair.ends_with("USD") {
        return None;
    }
    let usd = if pair == "BTCUSD" { 100 } else { 10 };
    Decimal::new(usd, 0).ok()
}

/// Imports the files of one Binance recording, in order.
pub fn import(paths: &[&Path], options: ImportOptions) -> Result<Imported> {
    let mut importer = BinanceStreamImporter::new(options);
    for path in paths {
        importer.feed_file(path)?;
    }
    importer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str, on_gap: GapPolicy) -> Result<Imported> {
        let mut imp = BinanceStreamImporter::new(ImportOptions {
            on_gap,
            ..Default::default()
        });
        imp.feed_reader(text.as_bytes(), "mem")?;
        imp.finish()
    }

    const FUT: &str = concat!(
        "100 {\"stream\":\"btcusdt@depth@0ms\",\"data\":{\"e\":\"depthUpdate\",\"E\":1,\"T\":1,\"s\":\"BTCUSDT\",\"U\":5,\"u\":8,\"pu\":4,\"b\":[[\"100.0\",\"1.000\"]],\"a\":[]}}\n",
        "200 {\"lastUpdateId\":9,\"E\":2,\"T\":2,\"bids\":[[\"100.0\",\"2.000\"],[\"99.9\",\"1.5\"]],\"asks\":[[\"100.2\",\"3\"]]}\n",
        "300 {\"stream\":\"btcusdt@depth@0ms\",\"data\":{\"e\":\"depthUpdate\",\"E\":3,\"T\":3,\"s\":\"BTCUSDT\",\"U\":9,\"u\":12,\"pu\":8,\"b\":[[\"100.1\",\"0.5\"]],\"a\":[[\"100.2\",\"0\"],[\"100.3\",\"1\"]]}}\n",
        "400 {\"stream\":\"btcusdt@trade\",\"data\":{\"e\":\"trade\",\"E\":4,\"T\":4,\"s\":\"BTCUSDT\",\"t\":1,\"p\":\"100.3\",\"q\":\"0.25\",\"m\":false}}\n",
        "450 {\"stream\":\"btcusdt@bookTicker\",\"data\":{\"u\":12,\"s\":\"BTCUSDT\",\"b\":\"100.1\",\"B\":\"0.5\",\"a\":\"100.3\",\"A\":\"1\"}}\n",
        "500 {\"stream\":\"btcusdt@depth@0ms\",\"data\":{\"e\":\"depthUpdate\",\"E\":5,\"T\":5,\"s\":\"BTCUSDT\",\"U\":13,\"u\":14,\"pu\":12,\"b\":[],\"a\":[[\"100.4\",\"2\"]]}}\n",
    );

    #[test]
    fn lines_fed_one_at_a_time_drain_into_the_events_of_the_whole_file() {
        let options = ImportOptions {
            tick_size: Some(Decimal::parse("0.1").unwrap()),
            lot_size: Some(Decimal::parse("0.05").unwrap()),
            ..Default::default()
        };
        let whole = {
            let mut imp = BinanceStreamImporter::new(options.clone());
            imp.feed_reader(FUT.as_bytes(), "mem").unwrap();
            imp.finish().unwrap()
        };
        let mut live = BinanceStreamImporter::new(options);
        let mut parts = EventStream::default();
        for line in FUT.lines() {
            live.feed_line(line).unwrap();
            parts.extend(&live.drain().unwrap());
        }
        assert_eq!(parts, whole.events);
        assert_eq!(live.live_instrument().unwrap(), whole.instrument);
        // without tick and lot sizes there is nothing to convert with
        let mut bare = BinanceStreamImporter::new(ImportOptions::default());
        bare.feed_line(FUT.lines().next().unwrap()).unwrap();
        assert!(matches!(bare.drain(), Err(LobzeroError::Config(_))));
    }

    #[test]
    fn a_book_crossed_by_a_later_part_is_refused_and_named() {
        let mut live = BinanceStreamImporter::new(ImportOptions {
            tick_size: Some(Decimal::parse("0.1").unwrap()),
            lot_size: Some(Decimal::parse("0.05").unwrap()),
            ..Default::default()
        });
        for line in FUT.lines().take(3) {
            live.feed_line(line).unwrap();
        }
        live.drain().unwrap();
        // a bid above the resting ask of 100.3, in the next part: the carried book sees it
        live.feed_line("600 {\"stream\":\"btcusdt@depth@0ms\",\"data\":{\"e\":\"depthUpdate\",\"E\":6,\"T\":6,\"s\":\"BTCUSDT\",\"U\":13,\"u\":13,\"pu\":12,\"b\":[[\"100.5\",\"1\"]],\"a\":[]}}").unwrap();
        let err = live.drain().unwrap_err();
        assert!(matches!(err, LobzeroError::CrossedBook { .. }), "{err}");
        assert_eq!(err.location(), Some("<live feed>:4"));
    }

    #[test]
    fn builds_the_book_by_the_documented_procedure() {
        let out = run(FUT, GapPolicy::Error).unwrap();
        assert_eq!(out.instrument.symbol, "BTCUSDT");
        assert_eq!(out.instrument.venue, "binance-futures");
        assert_eq!(out.instrument.tick_size, "0.1");
        // the coarsest usual grid of the sizes seen (1, 1.5, 3, 0.5, 1, 0.25, 2)
        assert_eq!(out.instrument.lot_size, "0.05");
        assert_eq!(out.report.stale_diffs_dropped, 1);
        let s = &out.events;
        // clear + 3 snapshot levels, 3 updates, 1 trade, 1 update
        assert_eq!(s.len(), 9);
        assert_eq!(s.kind[0], KIND_CLEAR);
        assert_eq!(&s.price_ticks[1..4], &[1000, 999, 1002]);
        assert_eq!(&s.qty_lots[1..4], &[40, 30, 60]);
        assert_eq!(s.kind[7], KIND_TRADE);
        assert_eq!(s.side[7], SIDE_BID);
        assert_eq!(s.ts_ns[7], 4 * MS);
        assert_eq!(s.recv_ts_ns[7], 400);
        assert_eq!(out.report.messages.get("bookTicker"), Some(&1));
    }

    #[test]
    fn coin_margined_symbols_are_inverse_by_name() {
        let size = |s: &str| coin_margined_contract_size(s).map(|d| d.to_string());
        assert_eq!(size("BTCUSD_PERP").as_deref(), Some("100"));
        assert_eq!(size("ETHUSD_PERP").as_deref(), Some("10"));
        assert_eq!(size("BTCUSD_240927").as_deref(), Some("100"));
        assert_eq!(size("ADAUSD_241227").as_deref(), Some("10"));
        for linear in [
            "BTCUSDT",
            "BTCUSDT_240927",
            "BTCUSDC_PERP",
            "ETHBTC",
            "BTCUSD",
            "BTCUSD_PERPX",
            "BTCUSD_2409",
            "USD_PERP",
        ] {
            assert_eq!(size(linear), None, "{linear}");
        }
    }

    #[test]
    fn a_coin_m_recording_imports_as_inverse() {
        let coin = FUT.replace("btcusdt@", "btcusd_perp@").replace(
            "\"s\":\"BTCUSDT\"",
            "\"s\":\"BTCUSD_PERP\",\"ps\":\"BTCUSD\"",
        );
        let out = run(&coin, GapPolicy::Error).unwrap();
        assert_eq!(out.instrument.symbol, "BTCUSD_PERP");
        assert_eq!(out.instrument.venue, "binance-coinm");
        assert!(out.instrument.inverse);
        assert_eq!(out.instrument.contract_size, "100");
        assert_eq!(out.instrument.multiplier, "1");
        assert!(out.report.notes.iter().any(|n| n.contains("COIN-M")));
        // the USD-M recording stays linear
        let linear = run(FUT, GapPolicy::Error).unwrap().instrument;
        assert!(!linear.inverse);
        assert_eq!(linear.contract_size, "1");
    }

    /// The first futures diff after a snapshot may continue it exactly (`pu == lastUpdateId`,
    /// `U > lastUpdateId`) when the diff that straddles it was not recorded; the CSV importer
    /// always accepted it, this importer used to call it a gap.
    #[test]
    fn a_futures_diff_that_continues_the_snapshot_applies() {
        let text = FUT.replace("\"U\":9,\"u\":12,\"pu\":8", "\"U\":10,\"u\":12,\"pu\":9");
        assert!(text.contains("\"pu\":9"));
        let out = run(&text, GapPolicy::Error).unwrap();
        assert_eq!(out.report.gaps, 0);
        // pu 8 (the diff before the snapshot's last one) is still a gap
        let broken = FUT.replace("\"U\":9,\"u\":12,\"pu\":8", "\"U\":10,\"u\":12,\"pu\":8");
        let err = run(&broken, GapPolicy::Error).unwrap_err();
        assert!(matches!(err, LobzeroError::SequenceGap { .. }), "{err}");
    }

    #[test]
    fn gaps_error_or_resync() {
        let broken = FUT.replace("\"pu\":12", "\"pu\":11");
        let err = run(&broken, GapPolicy::Error).unwrap_err();
        assert!(matches!(err, LobzeroError::SequenceGap { .. }), "{err}");
        assert_eq!(err.location(), Some("mem:6"));
        let out = run(&broken, GapPolicy::Resync).unwrap();
        assert_eq!(out.report.gaps, 1);
        assert_eq!(out.report.diffs_dropped_awaiting_snapshot, 1);
        assert_eq!(*out.events.kind.last().unwrap(), KIND_CLEAR);
    }

    #[test]
    fn bad_lines_are_named() {
        let cases = [
            ("abc\n", "Parse"),
            ("12 {not json}\n", "Parse"),
            ("12 {\"foo\":1}\n", "Format"),
            ("12 {\"stream\":\"x@kline_1m\",\"data\":{}}\n", "Format"),
            ("12 {\"stream\":\"btcusdt@trade\",\"data\":{\"e\":\"trade\",\"E\":4,\"s\":\"B\",\"p\":\"-1\",\"q\":\"1\",\"m\":true}}\n", "InvalidValue"),
            ("12 {\"stream\":\"btcusdt@trade\",\"data\":{\"e\":\"trade\",\"E\":4,\"s\":\"B\",\"p\":\"1\",\"q\":\"1\",\"m\":true}}\n11 {\"stream\":\"btcusdt@trade\",\"data\":{\"e\":\"trade\",\"E\":4,\"s\":\"B\",\"p\":\"1\",\"q\":\"1\",\"m\":true}}\n", "TimestampOrder"),
            ("12 {\"stream\":\"btcusdt@depth\",\"data\":{\"e\":\"depthUpdate\",\"E\":1,\"s\":\"B\",\"U\":1,\"u\":2,\"b\":[],\"a\":[]}}\n", "Format"),
        ];
        for (text, want) in cases {
            let err = run(text, GapPolicy::Error).unwrap_err();
            let got = format!("{err:?}");
            assert!(got.starts_with(want), "{text:?}: {got}");
            assert!(err.location().unwrap().starts_with("mem"), "{err}");
        }
        let cut = &FUT[..FUT.len() - 20];
        let err = run(cut, GapPolicy::Error).unwrap_err();
        assert!(matches!(err, LobzeroError::Truncated { .. }), "{err}");
    }

    #[test]
    fn the_older_collector_layout_reads() {
        // receive times in µs since 1970, the snapshot as a Python dict, markPrice lines
        let t = 1_700_000_000_000_000i64;
        let text = format!(
            "{} {{'lastUpdateId': 9, 'E': 2, 'T': 2, 'bids': [['100.0', '2']], 'asks': [['100.2', '3']]}}\n\
             {} {{\"stream\":\"btcusdt@markPrice@1s\",\"data\":{{\"e\":\"markPriceUpdate\",\"p\":\"100.1\"}}}}\n\
             {} {{\"stream\":\"btcusdt@depth@0ms\",\"data\":{{\"e\":\"depthUpdate\",\"E\":3,\"T\":3,\"s\":\"BTCUSDT\",\"U\":9,\"u\":12,\"pu\":8,\"b\":[[\"100.1\",\"0.5\"]],\"a\":[]}}}}\n",
            t,
            t + 5,
            t + 10
        );
        let out = run(&text, GapPolicy::Error).unwrap();
        assert_eq!(out.report.recv_time_unit.as_deref(), Some("us"));
        assert_eq!(out.report.messages.get("markPrice"), Some(&1));
        assert_eq!(out.events.recv_ts_ns[0], t * 1_000);
        assert!(out.report.notes.iter().any(|n| n.contains("Python dicts")));
        // a µs line among ns lines, and a time that fits no unit, are refused by line
        let ns = format!(
            "{} {{'lastUpdateId': 9, 'bids': [], 'asks': []}}\n",
            t * 1_000
        );
        let mixed = format!(
            "{ns}{} {{'lastUpdateId': 10, 'bids': [], 'asks': []}}\n",
            t + 1
        );
        let err = run(&mixed, GapPolicy::Error).unwrap_err();
        assert!(matches!(err, LobzeroError::InvalidValue { .. }), "{err}");
        assert_eq!(err.location(), Some("mem:2"));
        let odd = "50000000000000000 {'lastUpdateId': 9, 'bids': [], 'asks': []}\n";
        let err = run(odd, GapPolicy::Error).unwrap_err();
        assert!(err.to_string().contains("fits no unit"), "{err}");
    }

    #[test]
    fn a_crossed_book_names_the_line() {
        let crossing = FUT.replace("[\"100.4\",\"2\"]", "[\"100.0\",\"2\"]");
        let err = run(&crossing, GapPolicy::Error).unwrap_err();
        assert!(matches!(err, LobzeroError::CrossedBook { .. }), "{err}");
        assert_eq!(err.location(), Some("mem:6"));
    }
}
