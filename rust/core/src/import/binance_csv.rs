//! Binance historical CSVs: order-book depth files (`symbol,timestamp,first_update_id,
//! last_update_id,side,update_type,price,qty,pu`, rows `snap` and `set`) and trade files (spot
//! `id,price,qty,quote_qty,time,is_buyer_maker[,is_best_match]`, with or without a header;
//! futures the same with a header).
//!
//! These files carry one timestamp (ms, or µs in newer spot files), used as both exchange and
//! receive time. A run of `snap` rows with one timestamp and id is one snapshot (a clear, then
//! its levels). `set` rows of one update (same `first_update_id`/`last_update_id`/`pu`) apply
//! together. Sequence rules, across the depth files of one import: right after a snapshot `S`,
//! updates ending before `S` are stale (dropped, counted) and the first one covering `S` applies;
//! after that a futures update needs `pu` = the previous `last_update_id` and a spot update
//! (`pu` = -1) `first_update_id` = the previous `last_update_id + 1`. A break is a gap handled by
//! `on_gap` (error, or clear the book and drop updates until the next snapshot). Updates before
//! any snapshot cannot build a book: a gap too, and a file set with updates but no snapshot at
//! all is refused. Depth and trade files are merged by time, depth first on ties. A last line
//! without a line break that does not read is a cut file (`Truncated`).

use super::binance_sequence::{after_snapshot, continues, Sequence};
use super::text::{column_index, csv_reader, decimal, field, next_record};
use super::{GapPolicy, ImportOptions, ImportReport, Imported, RawEvent, RawEvents};
use crate::decimal::Decimal;
use crate::error::{LobzeroError, Result};
use crate::event::{
    KIND_CLEAR, KIND_SNAPSHOT, KIND_TRADE, KIND_UPDATE, SIDE_ASK, SIDE_BID, SIDE_NONE,
};
use std::path::Path;

const FORMAT: &str = "binance-csv";
const DEPTH_COLUMNS: [&str; 9] = [
    "symbol",
    "timestamp",
    "first_update_id",
    "last_update_id",
    "side",
    "update_type",
    "price",
    "qty",
    "pu",
];
const TRADE_COLUMNS: [&str; 6] = ["id", "price", "qty", "quote_qty", "time", "is_buyer_maker"];

/// Milliseconds or microseconds since the epoch, told apart by magnitude (µs after 2001 are > 1e15).
fn epoch_to_ns(value: i64) -> i64 {
    if value > 100_000_000_000_000 {
        value * 1_000
    } else {
        value * 1_000_000
    }
}

fn int(text: &str, what: &str, loc: &dyn Fn() -> String) -> Result<i64> {
    text.parse::<i64>()
        .map_err(|_| LobzeroError::parse(loc(), format!("{what} {text:?} is not an integer")))
}

struct Depth<'a> {
    options: &'a ImportOptions,
    report: &'a mut ImportReport,
    raw: RawEvents,
    symbol: Option<String>,
    futures: Option<bool>,
    /// The last applied update id (snapshot or update), when the book is in sync.
    last_id: Option<i64>,
    /// `(timestamp, last_update_id)` of the snapshot being read (a run of `snap` rows).
    snapshot_key: Option<(i64, i64)>,
    /// True between a snapshot and the first update applied after it.
    fresh_snapshot: bool,
    sets: u64,
}

/// What to do with the rows of one depth update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Apply,
    Drop,
}

impl Depth<'_> {
    fn read(&mut self, path: &Path) -> Result<()> {
        self.read_rows(path)
            .map_err(|e| super::text::explain_cut(e, path))
    }

    fn read_rows(&mut self, path: &Path) -> Result<()> {
        let name = path.display().to_string();
        let (mut reader, headers) = csv_reader(path)?;
        let cols = column_index(&headers, &DEPTH_COLUMNS, &format!("{name}:1"), FORMAT)?;
        let file = self.raw.files.len() as u32;
        self.raw.files.push(name.clone());
        let mut record = csv::StringRecord::new();
        // the update being read: (first id, last id, pu) and what happens to its rows
        let mut current: Option<((i64, i64, i64), Verdict)> = None;
        while let Some(line) = next_record(&mut reader, &mut record, &name)? {
            let loc = || format!("{name}:{line}");
            self.report.lines += 1;
            let symbol = field(&record, cols[0]);
            super::one_instrument(&mut self.symbol, symbol, "symbol ", FORMAT, loc)?;
            let ts_ns = epoch_to_ns(int(field(&record, cols[1]), "timestamp", &loc)?);
            let first_id = int(field(&record, cols[2]), "first_update_id", &loc)?;
            let last_id = int(field(&record, cols[3]), "last_update_id", &loc)?;
            let side = match field(&record, cols[4]) {
                "b" | "bid" => SIDE_BID,
                "a" | "ask" => SIDE_ASK,
                other => {
                    return Err(LobzeroError::invalid(
                        loc(),
                        format!("side {other:?} is not \"b\" or \"a\""),
                    ))
                }
            };
            let price = decimal(field(&record, cols[6]), "price", loc)?;
            let qty = decimal(field(&record, cols[7]), "qty", loc)?;
            let pu = int(field(&record, cols[8]), "pu", &loc)?;
            let event = |kind| RawEvent {
                ts_ns,
                recv_ts_ns: ts_ns,
                kind,
                side,
                price,
                qty,
                file,
                line,
            };
            match field(&record, cols[5]) {
                "snap" => {
                    current = None;
                    // a run of snap rows with one timestamp and id is one snapshot
                    if self.snapshot_key != Some((ts_ns, last_id)) {
                        self.report.snapshots += 1;
                        self.report.count_message("snapshot");
                        self.raw.events.push(RawEvent {
                            side: SIDE_NONE,
                            price: Decimal::ZERO,
                            qty: Decimal::ZERO,
                            ..event(KIND_CLEAR)
                        });
                    }
                    self.snapshot_key = Some((ts_ns, last_id));
                    self.fresh_snapshot = true;
                    self.last_id = Some(last_id);
                    self.raw.events.push(event(KIND_SNAPSHOT));
                }
                "set" => {
                    self.snapshot_key = None;
                    self.sets += 1;
                    let key = (first_id, last_id, pu);
                    let verdict = match current {
                        Some((k, verdict)) if k == key => verdict,
                        _ => {
                            self.report.count_message("update");
                            let verdict = self.check_continuity(key, &loc, ts_ns, file, line)?;
                            current = Some((key, verdict));
                            verdict
                        }
                    };
                    if verdict == Verdict::Apply {
                        self.raw.events.push(event(KIND_UPDATE));
                    }
                }
                other => {
                    return Err(LobzeroError::invalid(
                        loc(),
                        format!("update_type {other:?} is not \"snap\" or \"set\""),
                    ))
                }
            }
        }
        Ok(())
    }

    /// Decides whether an update `(first_id, last_id, pu)` continues the book, by Binance's rule
    /// ([`super::binance_sequence`]; spot updates have `pu` = -1). Anything else is a gap
    /// (`on_gap`); a negative update id is an error.
    fn check_continuity(
        &mut self,
        (first_id, last_id, pu): (i64, i64, i64),
        loc: &dyn Fn() -> String,
        ts_ns: i64,
        file: u32,
        line: u64,
    ) -> Result<Verdict> {
        let futures = pu >= 0;
        self.futures.get_or_insert(futures);
        let Some(prev) = self.last_id else {
            return match self.options.on_gap {
                GapPolicy::Resync => {
                    self.report.diffs_dropped_awaiting_snapshot += 1;
                    Ok(Verdict::Drop)
                }
                GapPolicy::Error => Err(LobzeroError::SequenceGap {
                    location: loc(),
                    rule: "an update before any snapshot: the book is unknown".into(),
                }),
            };
        };
        let id = |v: i64, what: &str| {
            u64::try_from(v)
                .map_err(|_| LobzeroError::invalid(loc(), format!("{what} {v} is negative")))
        };
        let (first, last, previous) = (
            id(first_id, "first_update_id")?,
            id(last_id, "last_update_id")?,
            id(prev, "last_update_id")?,
        );
        let pu_id = u64::try_from(pu).ok(); // -1: spot
        let continues = if self.fresh_snapshot {
            match after_snapshot(previous, first, last, pu_id) {
                Sequence::Stale => {
                    self.report.stale_diffs_dropped += 1;
                    return Ok(Verdict::Drop);
                }
                Sequence::Applies => true,
                Sequence::Gap => false,
            }
        } else {
            continues(previous, first, pu_id)
        };
        if continues {
            self.fresh_snapshot = false;
            self.last_id = Some(last_id);
            return Ok(Verdict::Apply);
        }
        let rule = if futures {
            format!(
                "pu={pu} but the previous update ended at {prev} (update {first_id}..{last_id})"
            )
        } else {
            format!(
                "first_update_id={first_id} but the previous update ended at {prev} (update {first_id}..{last_id})"
            )
        };
        match self.options.on_gap {
            GapPolicy::Error => Err(LobzeroError::SequenceGap {
                location: loc(),
                rule,
            }),
            GapPolicy::Resync => {
                self.report.gaps += 1;
                self.report.notes.push(format!(
                    "gap at {}: {rule}; book cleared until the next snapshot",
                    loc()
                ));
                self.raw.events.push(RawEvent {
                    ts_ns,
                    recv_ts_ns: ts_ns,
                    kind: KIND_CLEAR,
                    side: SIDE_NONE,
                    price: Decimal::ZERO,
                    qty: Decimal::ZERO,
                    file,
                    line,
                });
                self.last_id = None;
                self.report.diffs_dropped_awaiting_snapshot += 1;
                Ok(Verdict::Drop)
            }
        }
    }
}

/// Reads one trade file (header optional).
fn read_trades(path: &Path, report: &mut ImportReport) -> Result<RawEvents> {
    read_trade_rows(path, report).map_err(|e| super::text::explain_cut(e, path))
}

fn read_trade_rows(path: &Path, report: &mut ImportReport) -> Result<RawEvents> {
    let name = path.display().to_string();
    let mut reader: super::text::CsvReader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(false)
        .from_reader(super::text::open(path)?);
    let mut raw = RawEvents {
        files: vec![name.clone()],
        events: Vec::new(),
    };
    let mut record = csv::StringRecord::new();
    let mut first = true;
    while let Some(line) = next_record(&mut reader, &mut record, &name)? {
        let loc = || format!("{name}:{line}");
        if first {
            first = false;
            if field(&record, 0) == "id" {
                let headers: Vec<String> = record.iter().map(|h| h.trim().to_string()).collect();
                let cols = column_index(&headers, &TRADE_COLUMNS, &loc(), FORMAT)?;
                if cols != [0, 1, 2, 3, 4, 5] {
                    return Err(LobzeroError::Format {
                        location: loc(),
                        format: FORMAT.into(),
                        detail: format!("trade columns must start {}", TRADE_COLUMNS.join(",")),
                    });
                }
                continue;
            }
            if field(&record, 0).parse::<i64>().is_err() {
                return Err(LobzeroError::Format {
                    location: loc(),
                    format: FORMAT.into(),
                    detail: format!(
                        "neither a depth file (header {}) nor a trade file (rows or header {})",
                        DEPTH_COLUMNS.join(","),
                        TRADE_COLUMNS.join(",")
                    ),
                });
            }
        }
        if record.len() < 6 {
            return Err(LobzeroError::parse(
                loc(),
                format!(
                    "a trade row needs 6 fields ({}), got {}",
                    TRADE_COLUMNS.join(","),
                    record.len()
                ),
            ));
        }
        report.lines += 1;
        report.count_message("trade");
        let price = decimal(field(&record, 1), "price", loc)?;
        let qty = decimal(field(&record, 2), "qty", loc)?;
        if price.is_zero() || qty.is_zero() {
            return Err(LobzeroError::invalid(
                loc(),
                "a trade needs a positive price and size",
            ));
        }
        let ts_ns = epoch_to_ns(int(field(&record, 4), "time", &loc)?);
        let side = match field(&record, 5).to_ascii_lowercase().as_str() {
            "true" => SIDE_ASK, // the buyer made the market: the seller took it
            "false" => SIDE_BID,
            other => {
                return Err(LobzeroError::invalid(
                    loc(),
                    format!("is_buyer_maker {other:?} is not true or false"),
                ))
            }
        };
        raw.events.push(RawEvent {
            ts_ns,
            recv_ts_ns: ts_ns,
            kind: KIND_TRADE,
            side,
            price,
            qty,
            file: 0,
            line,
        });
    }
    Ok(raw)
}

/// True when the file's header is a depth file's.
fn is_depth_file(path: &Path) -> Result<bool> {
    let (_, headers) = csv_reader(path)?;
    Ok(headers.iter().any(|h| h == "update_type"))
}

/// Imports Binance depth and trade CSVs (in any order: depth files are applied in the order
/// given, then merged with the trades by time).
pub fn import(paths: &[&Path], options: ImportOptions) -> Result<Imported> {
    let mut report = ImportReport {
        format: FORMAT.into(),
        ..Default::default()
    };
    let mut depth_paths = Vec::new();
    let mut trade_paths = Vec::new();
    for path in paths {
        if is_depth_file(path)? {
            depth_paths.push(*path);
        } else {
            trade_paths.push(*path);
        }
    }
    let mut depth = Depth {
        options: &options,
        report: &mut report,
        raw: RawEvents::default(),
        symbol: None,
        futures: None,
        last_id: None,
        snapshot_key: None,
        fresh_snapshot: false,
        sets: 0,
    };
    for path in &depth_paths {
        depth.read(path)?;
    }
    let (depth_raw, symbol, futures, sets) = (depth.raw, depth.symbol, depth.futures, depth.sets);
    if sets > 0 && report.snapshots == 0 {
        return Err(LobzeroError::Format {
            location: depth_paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            format: FORMAT.into(),
            detail: "depth updates but no snapshot (snap rows): the book cannot be built".into(),
        });
    }
    let mut parts = vec![depth_raw];
    for path in &trade_paths {
        parts.push(read_trades(path, &mut report)?);
    }
    let merged = RawEvents::merge(parts)?;
    report
        .notes
        .push("Binance CSVs carry one timestamp: it is used as exchange and receive time".into());
    let venue = if futures == Some(true) {
        "binance-futures"
    } else {
        "binance"
    };
    merged.finish(&options, symbol.as_deref().unwrap_or(""), venue, report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(text.as_bytes()).unwrap();
        path
    }

    const HEADER: &str =
        "symbol,timestamp,first_update_id,last_update_id,side,update_type,price,qty,pu\n";

    #[test]
    fn snapshot_updates_and_trades_merge() {
        let dir = std::env::temp_dir().join(format!("lobzero-bcsv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let depth = file(
            &dir,
            "depth.csv",
            &format!(
                "{HEADER}X,1000,10,10,b,snap,100.0,1.0,-1\nX,1000,10,10,a,snap,100.5,2.0,-1\n\
                 X,1002,11,12,b,set,100.1,0.5,10\nX,1002,11,12,a,set,100.5,0,10\nX,1002,11,12,a,set,100.6,1,10\n\
                 X,1005,13,13,b,set,100.1,0,12\n"
            ),
        );
        let trades = file(
            &dir,
            "trades.csv",
            "1,100.5,0.3,30.15,1001,false,true\n2,100.1,0.2,20.02,1003,true,true\n",
        );
        let out = import(
            &[trades.as_path(), depth.as_path()],
            ImportOptions::default(),
        )
        .unwrap();
        let s = &out.events;
        assert_eq!(
            s.kind,
            vec![
                KIND_CLEAR,
                KIND_SNAPSHOT,
                KIND_SNAPSHOT,
                KIND_TRADE,
                KIND_UPDATE,
                KIND_UPDATE,
                KIND_UPDATE,
                KIND_TRADE,
                KIND_UPDATE
            ]
        );
        assert_eq!(s.recv_ts_ns[3], 1_001_000_000);
        assert_eq!(s.side[3], SIDE_BID);
        assert_eq!(s.side[7], SIDE_ASK);
        assert_eq!(out.instrument.venue, "binance-futures");
        assert_eq!(out.report.snapshots, 1);

        let broken = file(
            &dir,
            "gap.csv",
            &format!("{HEADER}X,1000,10,10,b,snap,100.0,1.0,-1\nX,1002,11,12,b,set,100.1,0.5,9\n"),
        );
        let err = import(&[broken.as_path()], ImportOptions::default()).unwrap_err();
        assert!(matches!(err, LobzeroError::SequenceGap { .. }), "{err}");
        assert!(err.location().unwrap().ends_with("gap.csv:3"));
        let resync = import(
            &[broken.as_path()],
            ImportOptions {
                on_gap: GapPolicy::Resync,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(resync.report.gaps, 1);

        let bad = file(
            &dir,
            "bad.csv",
            &format!("{HEADER}X,1000,10,10,q,snap,100.0,1.0,-1\n"),
        );
        assert!(matches!(
            import(&[bad.as_path()], ImportOptions::default()),
            Err(LobzeroError::InvalidValue { .. })
        ));
        let short = file(&dir, "short.csv", &format!("{HEADER}X,1000,10,10,b\n"));
        assert!(matches!(
            import(&[short.as_path()], ImportOptions::default()),
            Err(LobzeroError::Parse { .. })
        ));
        let updates_only = file(
            &dir,
            "upd.csv",
            &format!("{HEADER}X,1002,11,12,b,set,100.1,0.5,10\n"),
        );
        assert!(matches!(
            import(&[updates_only.as_path()], ImportOptions::default()),
            Err(LobzeroError::SequenceGap { .. })
        ));
        let resync = ImportOptions {
            on_gap: GapPolicy::Resync,
            ..Default::default()
        };
        assert!(matches!(
            import(&[updates_only.as_path()], resync),
            Err(LobzeroError::Format { .. })
        ));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn snapshot_boundaries_stale_updates_and_spot_continuity() {
        let dir = std::env::temp_dir().join(format!("lobzero-bcsv2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // two snapshots back to back (new timestamp) then a stale update, a straddling one
        // and a continuing one (futures pu rule)
        let depth = file(
            &dir,
            "futures.csv",
            &format!(
                "{HEADER}X,1000,10,10,b,snap,100.0,1.0,-1\nX,1000,10,10,a,snap,100.5,2.0,-1\n\
                 X,2000,20,20,b,snap,100.1,1.0,-1\nX,2000,20,20,a,snap,100.6,2.0,-1\n\
                 X,2001,15,18,b,set,100.0,5,14\nX,2002,19,22,b,set,100.2,1,18\n\
                 X,2003,23,25,a,set,100.6,0,22\nX,2003,23,25,a,set,100.7,3,22\n"
            ),
        );
        let out = import(&[depth.as_path()], ImportOptions::default()).unwrap();
        assert_eq!(out.report.snapshots, 2);
        assert_eq!(out.report.stale_diffs_dropped, 1);
        assert_eq!(
            out.events.kind,
            vec![
                KIND_CLEAR,
                KIND_SNAPSHOT,
                KIND_SNAPSHOT,
                KIND_CLEAR,
                KIND_SNAPSHOT,
                KIND_SNAPSHOT,
                KIND_UPDATE,
                KIND_UPDATE,
                KIND_UPDATE
            ]
        );
        assert_eq!(out.events.price_ticks[6], 1002);
        // spot: no pu, first_update_id must follow the previous last_update_id
        let spot = file(
            &dir,
            "spot.csv",
            &format!(
                "{HEADER}X,1000,10,10,b,snap,100.0,1.0,-1\nX,1001,11,12,b,set,100.0,2,-1\n\
                 X,1002,13,13,b,set,100.0,3,-1\nX,1003,15,16,b,set,100.0,4,-1\n"
            ),
        );
        let err = import(&[spot.as_path()], ImportOptions::default()).unwrap_err();
        assert!(matches!(err, LobzeroError::SequenceGap { .. }), "{err}");
        assert!(err.to_string().contains("spot.csv:5"), "{err}");
        assert!(err.to_string().contains("first_update_id=15"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn cut_and_foreign_files() {
        let dir = std::env::temp_dir().join(format!("lobzero-bcsv3-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cut = file(
            &dir,
            "cut.csv",
            &format!("{HEADER}X,1000,10,10,b,snap,100.0,1.0,-1\nX,1000,10,10,a,sn"),
        );
        let err = import(&[cut.as_path()], ImportOptions::default()).unwrap_err();
        assert!(matches!(err, LobzeroError::Truncated { .. }), "{err}");
        assert!(err.location().unwrap().ends_with("cut.csv:3"), "{err}");
        // the same short row followed by a line break is a parse error, not a cut file
        let short = file(
            &dir,
            "short.csv",
            &format!("{HEADER}X,1000,10,10,b,snap,100.0,1.0,-1\nX,1000,10,10,a,sn\n"),
        );
        let err = import(&[short.as_path()], ImportOptions::default()).unwrap_err();
        assert!(matches!(err, LobzeroError::Parse { .. }), "{err}");
        let cut_trades = file(&dir, "t.csv", "1,100.5,0.3,30.15,1001,false\n2,100.1,0.");
        let err = import(&[cut_trades.as_path()], ImportOptions::default()).unwrap_err();
        assert!(matches!(err, LobzeroError::Truncated { .. }), "{err}");
        let tardis = file(
            &dir,
            "tardis.csv",
            "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\nx,S,1,1,a,buy,1,1\n",
        );
        let err = import(&[tardis.as_path()], ImportOptions::default()).unwrap_err();
        assert!(matches!(err, LobzeroError::Format { .. }), "{err}");
        assert!(err.location().unwrap().ends_with("tardis.csv:1"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
