//! Tardis CSVs (`exchange,symbol,timestamp,local_timestamp,...`, times in µs, plain or gzip):
//! `incremental_book_L2` (`is_snapshot,side,price,amount`), `book_snapshot_N` (wide rows
//! `asks[i].price,asks[i].amount,bids[i].price,bids[i].amount`) and `trades`
//! (`id,side,price,amount`). The kind of each file is read from its header; other kinds
//! (quotes, derivative tickers, ...) are refused.
//!
//! Receive time is `local_timestamp`, exchange time `timestamp`. In an incremental file a run of
//! `is_snapshot=true` rows after updates (or at the start) is a new snapshot: the book is
//! cleared first. Each `book_snapshot_N` row is a full image of the top N levels: a clear, then
//! the levels (empty cells are absent levels). Several files are merged by receive time; on equal
//! times book files come before trade files, then the order given. Tardis rows carry no sequence numbers, so gaps cannot be seen. A last line
//! without a line break that does not read is a cut file (`Truncated`).

use super::text::{column_index, csv_reader, decimal, field, next_record};
use super::{ImportOptions, ImportReport, Imported, RawEvent, RawEvents};
use crate::decimal::Decimal;
use crate::error::{LobzeroError, Result};
use crate::event::{
    KIND_CLEAR, KIND_SNAPSHOT, KIND_TRADE, KIND_UPDATE, SIDE_ASK, SIDE_BID, SIDE_NONE,
};
use std::path::Path;

const FORMAT: &str = "tardis";
const COMMON: [&str; 4] = ["exchange", "symbol", "timestamp", "local_timestamp"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Incremental,
    Snapshot(usize),
    Trades,
}

fn kind_of(headers: &[String], location: &str) -> Result<Kind> {
    let has = |name: &str| headers.iter().any(|h| h == name);
    if has("is_snapshot") {
        return Ok(Kind::Incremental);
    }
    if has("asks[0].price") {
        let levels = (0..)
            .take_while(|i| has(&format!("asks[{i}].price")))
            .count();
        return Ok(Kind::Snapshot(levels));
    }
    if has("id") && has("side") && has("amount") {
        return Ok(Kind::Trades);
    }
    Err(LobzeroError::Format {
        location: location.to_string(),
        format: FORMAT.into(),
        detail: format!(
            "unsupported Tardis data type (header: {}); supported: incremental_book_L2, book_snapshot_N, trades",
            headers.join(",")
        ),
    })
}

fn micros_to_ns(text: &str, what: &str, loc: &dyn Fn() -> String) -> Result<i64> {
    text.parse::<i64>()
        .ok()
        .and_then(|us| us.checked_mul(1_000))
        .ok_or_else(|| {
            LobzeroError::parse(loc(), format!("{what} {text:?} is not an integer of µs"))
        })
}

struct FileMeta {
    exchange: Option<String>,
    symbol: Option<String>,
}

/// Reads one file; a last line cut short (no line break) is a `Truncated` error.
fn read_file(
    path: &Path,
    report: &mut ImportReport,
    meta: &mut FileMeta,
) -> Result<(Kind, RawEvents)> {
    read_rows(path, report, meta).map_err(|e| super::text::explain_cut(e, path))
}

fn read_rows(
    path: &Path,
    report: &mut ImportReport,
    meta: &mut FileMeta,
) -> Result<(Kind, RawEvents)> {
    let name = path.display().to_string();
    let (mut reader, headers) = csv_reader(path)?;
    let header_loc = format!("{name}:1");
    let common = column_index(&headers, &COMMON, &header_loc, FORMAT)?;
    let kind = kind_of(&headers, &header_loc)?;
    let specific = match kind {
        Kind::Incremental => column_index(
            &headers,
            &["is_snapshot", "side", "price", "amount"],
            &header_loc,
            FORMAT,
        )?,
        Kind::Trades => column_index(&headers, &["side", "price", "amount"], &header_loc, FORMAT)?,
        Kind::Snapshot(levels) => {
            let mut names = Vec::new();
            for i in 0..levels {
                for part in ["asks", "bids"] {
                    names.push(format!("{part}[{i}].price"));
                    names.push(format!("{part}[{i}].amount"));
                }
            }
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            column_index(&headers, &refs, &header_loc, FORMAT)?
        }
    };
    let mut raw = RawEvents {
        files: vec![name.clone()],
        events: Vec::new(),
    };
    let mut record = csv::StringRecord::new();
    let mut in_snapshot = false;
    let mut updates_before_snapshot = 0u64;
    let mut seen_snapshot = false;
    while let Some(line) = next_record(&mut reader, &mut record, &name)? {
        let loc = || format!("{name}:{line}");
        let get = |i: usize| field(&record, i);
        report.lines += 1;
        for (slot, value) in [
            (&mut meta.exchange, get(common[0])),
            (&mut meta.symbol, get(common[1])),
        ] {
            super::one_instrument(slot, value, "", FORMAT, loc)?;
        }
        let ts_ns = micros_to_ns(get(common[2]), "timestamp", &loc)?;
        let recv_ts_ns = micros_to_ns(get(common[3]), "local_timestamp", &loc)?;
        let event = |kind, side, price, qty| RawEvent {
            ts_ns,
            recv_ts_ns,
            kind,
            side,
            price,
            qty,
            file: 0,
            line,
        };
        let zero = Decimal::ZERO;
        match kind {
            Kind::Incremental => {
                let snapshot = match get(specific[0]) {
                    "true" => true,
                    "false" => false,
                    other => {
                        return Err(LobzeroError::invalid(
                            loc(),
                            format!("is_snapshot {other:?} is not true or false"),
                        ))
                    }
                };
                let side = match get(specific[1]) {
                    "bid" => SIDE_BID,
                    "ask" => SIDE_ASK,
                    other => {
                        return Err(LobzeroError::invalid(
                            loc(),
                            format!("side {other:?} is not bid or ask"),
                        ))
                    }
                };
                let price = decimal(get(specific[2]), "price", loc)?;
                let qty = decimal(get(specific[3]), "amount", loc)?;
                if !snapshot && !seen_snapshot {
                    updates_before_snapshot += 1;
                }
                seen_snapshot |= snapshot;
                if snapshot && !in_snapshot {
                    report.snapshots += 1;
                    raw.events.push(event(KIND_CLEAR, SIDE_NONE, zero, zero));
                }
                in_snapshot = snapshot;
                report.count_message(if snapshot { "snapshot_level" } else { "update" });
                raw.events.push(event(
                    if snapshot { KIND_SNAPSHOT } else { KIND_UPDATE },
                    side,
                    price,
                    qty,
                ));
            }
            Kind::Trades => {
                let side = match get(specific[0]) {
                    "buy" => SIDE_BID,
                    "sell" => SIDE_ASK,
                    "unknown" | "" => SIDE_NONE,
                    other => {
                        return Err(LobzeroError::invalid(
                            loc(),
                            format!("side {other:?} is not buy, sell or unknown"),
                        ))
                    }
                };
                let price = decimal(get(specific[1]), "price", loc)?;
                let qty = decimal(get(specific[2]), "amount", loc)?;
                if price.is_zero() || qty.is_zero() {
                    return Err(LobzeroError::invalid(
                        loc(),
                        "a trade needs a positive price and amount",
                    ));
                }
                report.count_message("trade");
                raw.events.push(event(KIND_TRADE, side, price, qty));
            }
            Kind::Snapshot(levels) => {
                report.snapshots += 1;
                report.count_message("book_snapshot");
                raw.events.push(event(KIND_CLEAR, SIDE_NONE, zero, zero));
                for i in 0..levels {
                    for (j, side) in [(0, SIDE_ASK), (1, SIDE_BID)] {
                        let (p, q) = (
                            get(specific[4 * i + 2 * j]),
                            get(specific[4 * i + 2 * j + 1]),
                        );
                        if p.is_empty() && q.is_empty() {
                            continue; // fewer levels than N on this side
                        }
                        let price = decimal(p, "price", loc)?;
                        let qty = decimal(q, "amount", loc)?;
                        raw.events.push(event(KIND_SNAPSHOT, side, price, qty));
                    }
                }
            }
        }
    }
    if updates_before_snapshot > 0 {
        report.notes.push(format!(
            "{name}: {updates_before_snapshot} updates before the first snapshot, applied to an empty book"
        ));
    }
    Ok((kind, raw))
}

/// Imports Tardis CSV files of one instrument, merged by receive time.
pub fn import(paths: &[&Path], options: ImportOptions) -> Result<Imported> {
    let mut report = ImportReport {
        format: FORMAT.into(),
        ..Default::default()
    };
    let mut meta = FileMeta {
        exchange: None,
        symbol: None,
    };
    let mut parts = Vec::with_capacity(paths.len());
    for path in paths {
        parts.push(read_file(path, &mut report, &mut meta)?);
    }
    // book files before trade files, so that on equal receive times the book moves first
    parts.sort_by_key(|(kind, _)| *kind == Kind::Trades);
    let merged = RawEvents::merge(parts.into_iter().map(|(_, raw)| raw).collect())?;
    let symbol = meta.symbol.unwrap_or_default();
    let venue = meta.exchange.unwrap_or_default();
    merged.finish(&options, &symbol, &venue, report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("lobzero-tardis-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn incremental_snapshot_and_trades() {
        let inc = file(
            "inc.csv",
            "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n\
             x,S,1,10,true,ask,100.5,3\nx,S,1,10,true,bid,100,2\nx,S,2,20,false,bid,100,0\nx,S,2,20,false,bid,99.5,1\n\
             x,S,3,30,true,bid,99,1\nx,S,3,30,true,ask,101,1\n",
        );
        let trades = file("tr.csv", "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\nx,S,2,20,a,sell,100,1\nx,S,4,40,b,unknown,101,2\n");
        let out = import(&[inc.as_path(), trades.as_path()], ImportOptions::default()).unwrap();
        let s = &out.events;
        assert_eq!(
            s.kind,
            vec![
                KIND_CLEAR,
                KIND_SNAPSHOT,
                KIND_SNAPSHOT,
                KIND_UPDATE,
                KIND_UPDATE,
                KIND_TRADE,
                KIND_CLEAR,
                KIND_SNAPSHOT,
                KIND_SNAPSHOT,
                KIND_TRADE
            ]
        );
        assert_eq!(out.instrument.tick_size, "0.5");
        assert_eq!(s.price_ticks[1], 201);
        assert_eq!(s.recv_ts_ns[5], 20_000);
        assert_eq!(s.side[9], SIDE_NONE);
        assert_eq!(
            (
                out.instrument.venue.as_str(),
                out.instrument.symbol.as_str()
            ),
            ("x", "S")
        );
        assert_eq!(out.report.snapshots, 2);
    }

    #[test]
    fn wide_snapshots_and_errors() {
        let snap = file(
            "snap.csv",
            "exchange,symbol,timestamp,local_timestamp,asks[0].price,asks[0].amount,bids[0].price,bids[0].amount,asks[1].price,asks[1].amount,bids[1].price,bids[1].amount\n\
             x,S,1,10,101,1,100,2,102,1,,\n",
        );
        let out = import(&[snap.as_path()], ImportOptions::default()).unwrap();
        assert_eq!(out.events.len(), 4);
        let quotes = file("q.csv", "exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount\nx,S,1,1,1,2,1,1\n");
        assert!(matches!(
            import(&[quotes.as_path()], ImportOptions::default()),
            Err(LobzeroError::Format { .. })
        ));
        let back = file("back.csv", "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\nx,S,2,20,a,sell,100,1\nx,S,1,10,b,buy,100,1\n");
        let err = import(&[back.as_path()], ImportOptions::default()).unwrap_err();
        assert!(matches!(err, LobzeroError::TimestampOrder { .. }));
        assert!(err.location().unwrap().ends_with("back.csv:3"), "{err}");
        let crossed = file("x.csv", "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\nx,S,1,1,true,ask,100,1\nx,S,1,1,true,bid,100,1\n");
        assert!(matches!(
            import(&[crossed.as_path()], ImportOptions::default()),
            Err(LobzeroError::CrossedBook { .. })
        ));
        let two = file("two.csv", "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\nx,S,2,20,a,sell,100,1\nx,T,3,30,b,buy,100,1\n");
        assert!(matches!(
            import(&[two.as_path()], ImportOptions::default()),
            Err(LobzeroError::Format { .. })
        ));
    }

    #[test]
    fn gzip_and_cut_files() {
        use std::io::Write;
        let text = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n\
                    x,S,1,10,a,buy,100,1\nx,S,2,20,b,sell,100.5,2\n";
        let path = file("tr.csv.gz", "");
        let mut gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&path).unwrap(),
            flate2::Compression::default(),
        );
        gz.write_all(text.as_bytes()).unwrap();
        gz.finish().unwrap();
        let out = import(&[path.as_path()], ImportOptions::default()).unwrap();
        assert_eq!(out.events.len(), 2);
        assert_eq!(out.events.side[..], [SIDE_BID, SIDE_ASK]);
        assert_eq!(out.events.ts_ns[1], 2_000);
        let cut = file("cut.csv", &text[..text.len() - 5]);
        let err = import(&[cut.as_path()], ImportOptions::default()).unwrap_err();
        assert!(matches!(err, LobzeroError::Truncated { .. }), "{err}");
        assert!(err.location().unwrap().ends_with("cut.csv:3"), "{err}");
        let late = file(
            "late.csv",
            "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n\
             x,S,1,10,false,bid,100,1\nx,S,2,20,true,bid,100,2\n",
        );
        let out = import(&[late.as_path()], ImportOptions::default()).unwrap();
        assert!(out.report.notes[0].contains("1 updates before the first snapshot"));
    }
}
