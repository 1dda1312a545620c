//! Databento DBN files (zstd or plain), decoded by Databento's own `dbn` crate.
//!
//! - **MBO** (market by order): each record is an order action on an [`L3Builder`]: `A` add,
//!   `C` cancel (its size is the size removed: partial cancels keep priority), `M` modify (new
//!   price and size; priority as in [`crate::orders`]), `R` clear of the book, `T` trade print
//!   (an L2 trade row with the aggressor side, `N` → 0), `F` fill of a resting order (recorded
//!   in the order log as a trade action, no book change: on CME the venue sends the size change
//!   as the `C` or `M` that follows, as Databento's book-building guide notes; subtracting it
//!   again would empty levels that still rest), `N` none (counted).
//! - **MBP-1 / MBP-10**: each record carries the top 1 or 10 levels after it; lobzero emits an
//!   update for every level whose size changed and a delete for every level that left the
//!   window. `T` records are also trade rows.
//!
//! Flags: `F_LAST` ends a venue event: level updates are emitted then (never inside an event,
//! where the book may be crossed); a file ending inside an event flushes it (counted as a
//! note). `F_SNAPSHOT`: a run of snapshot records rebuilds the book: a clear row and the
//! snapshot's levels (snapshot rows). A file that starts with a snapshot therefore continues
//! the previous file of the session: import both in order, the later snapshot replaces the
//! book. `F_BAD_TS_RECV` (set on snapshot records, whose `ts_recv` is the file's start) and
//! `F_MAYBE_BAD_BOOK` are counted in the report (`messages`), the records are kept.
//!
//! Tick and multiplier: from a definition file (`definition`, the record of the data's
//! `instrument_id`: `min_price_increment`; `contract_multiplier`, or `unit_of_measure_qty` for
//! CME futures where the former is unset), else `tick_size` or inferred. Sizes are contracts:
//! the lot is 1. A file with several instrument ids needs `instrument_id`.

use super::dbn_files::{dbn_error, open_with};
pub use super::dbn_files::{
    open as open_dbn, open_with as open_dbn_with, read_definitions, Decoder, Decompression,
    Definition,
};
use super::l3::{At, CrossPolicy, L3Builder, UnknownOrderPolicy};
use super::{ImportOptions, ImportReport, Imported};
use crate::decimal::Decimal;
use crate::error::{LobzeroError, Result};
use crate::orders::{OrderLog, ACTION_ADD, ACTION_CANCEL, ACTION_MODIFY};
use dbn::decode::{DbnMetadata, DecodeRecordRef};
use dbn::{MboMsg, Mbp10Msg, Mbp1Msg, RecordRef, Schema};
use std::path::{Path, PathBuf};

/// Options of the `databento` format beyond [`ImportOptions`].
#[derive(Debug, Clone, Default)]
pub struct DbnOptions {
    pub definition: Option<PathBuf>,
    pub instrument_id: Option<u32>,
    pub on_unknown_order: UnknownOrderPolicy,
    pub on_cross: CrossPolicy,
    /// Which thread decompresses a zstd file (by default a second one where there are two
    /// cores); the records and the book are the same either way.
    pub decompression: Decompression,
}

fn side_of(c: std::ffi::c_char) -> i8 {
    match c as u8 {
        b'B' => 1,
        b'A' => -1,
        _ => 0,
    }
}

/// The record as `(instrument_id, ts_event, ts_recv, flags)`, for any schema lobzero reads.
fn header(rec: &RecordRef<'_>) -> Option<(u32, u64, u64, dbn::FlagSet)> {
    if let Some(m) = rec.get::<MboMsg>() {
        Some((m.hd.instrument_id, m.hd.ts_event, m.ts_recv, m.flags))
    } else if let Some(m) = rec.get::<Mbp1Msg>() {
        Some((m.hd.instrument_id, m.hd.ts_event, m.ts_recv, m.flags))
    } else {
        rec.get::<Mbp10Msg>()
            .map(|m| (m.hd.instrument_id, m.hd.ts_event, m.ts_recv, m.flags))
    }
}

fn ts(v: u64, what: &str, loc: impl Fn() -> String) -> Result<i64> {
    i64::try_from(v).map_err(|_| {
        LobzeroError::invalid(loc(), format!("{what} {v} is undefined or out of range"))
    })
}

/// Imports DBN files of one session, in order. Returns the L2 market and (MBO) its order log.
pub fn import(
    paths: &[&Path],
    options: &ImportOptions,
    dbn_options: &DbnOptions,
) -> Result<(Imported, OrderLog)> {
    let mut report = ImportReport {
        format: "databento".into(),
        ..Default::default()
    };
    let mut b = L3Builder::new(9, 0, dbn_options.on_unknown_order);
    b.on_cross = dbn_options.on_cross;
    let mut instrument: Option<u32> = dbn_options.instrument_id;
    let mut symbol = String::new();
    // MBP: the levels last emitted, and those of the venue event in progress
    let mut mbp_prev: [Vec<(i64, i64)>; 2] = [Vec::new(), Vec::new()];
    let mut mbp_now: Option<[Vec<(i64, i64)>; 2]> = None;
    let mut saw_mbo = false;
    let (mut bad_ts_recv, mut maybe_bad_book) = (0u64, 0u64);
    for (file_index, path) in paths.iter().enumerate() {
        let name = path.display().to_string();
        let file = file_index as u32;
        b.files.push(name.clone());
        let mut dec = open_with(
            path,
            dbn::VersionUpgradePolicy::AsIs,
            dbn_options.decompression,
        )?;
        let meta = dec.metadata().clone();
        // what the whole records and the header take: the rest is a record cut short
        let mut whole_bytes = 8 + dec.get_ref().header_length().unwrap_or(0);
        let schema = meta.schema;
        if !matches!(schema, Some(Schema::Mbo | Schema::Mbp1 | Schema::Mbp10)) {
            return Err(LobzeroError::Format {
                location: name,
                format: "databento".into(),
                detail: format!("schema {schema:?}: lobzero reads mbo, mbp-1 and mbp-10 (a definition file goes in definition=)"),
            });
        }
        if schema == Some(Schema::Mbo) {
            b.reserve(
                dec.get_ref()
                    .records_estimate(std::mem::size_of::<MboMsg>() as u64),
            );
        }
        if symbol.is_empty() {
            symbol = meta.symbols.first().cloned().unwrap_or_default();
        }
        report
            .messages
            .entry(format!("schema {}", schema.map_or("?", |s| s.as_str())))
            .or_default();
        let mut k = 0u64;
        let mut open_event: Option<At> = None;
        while let Some(rec) = dec
            .decode_record_ref()
            .map_err(|e| dbn_error(&format!("{name} record {}", k + 1), e))?
        {
            k += 1;
            whole_bytes += rec.header().record_size() as u64;
            let loc = || format!("{name} record {k}");
            let Some((id, ts_event, ts_recv, flags)) = header(&rec) else {
                report.count_message(&format!("skipped rtype {:#x}", rec.header().rtype));
                continue;
            };
            match instrument {
                None => instrument = Some(id),
                Some(want) if want != id => {
                    if dbn_options.instrument_id.is_some() {
                        report.count_message("other instruments (filtered out)");
                        continue;
                    }
                    return Err(LobzeroError::Format {
                        location: loc(),
                        format: "databento".into(),
                        detail: format!("several instruments in one import (instrument_id {want} and {id}): pass instrument_id= to pick one"),
                    });
                }
                Some(_) => {}
            }
            let at = At {
                file,
                line: k,
                ts_ns: ts(ts_event, "ts_event", loc)?,
                recv_ts_ns: ts(ts_recv, "ts_recv", loc)?,
            };
            report.lines += 1;
            bad_ts_recv += u64::from(flags.is_bad_ts_recv());
            maybe_bad_book += u64::from(flags.is_maybe_bad_book());
            let snapshot = flags.is_snapshot();
            if snapshot && !b.in_snapshot {
                report.snapshots += 1;
                b.in_snapshot = true;
                b.clear(0, at);
                mbp_prev = [Vec::new(), Vec::new()];
            }
            b.in_snapshot = snapshot;
            if let Some(m) = rec.get::<MboMsg>() {
                saw_mbo = true;
                mbo(&mut b, m, at, &mut report)?;
            } else if let Some(m) = rec.get::<Mbp1Msg>() {
                report.count_message("mbp-1");
                let l = &m.levels[0];
                mbp_now = Some(mbp(
                    &mut b,
                    m.action,
                    m.side,
                    m.price,
                    m.size,
                    &[(l.bid_px, l.bid_sz, l.ask_px, l.ask_sz)],
                    at,
                )?);
            } else if let Some(m) = rec.get::<Mbp10Msg>() {
                report.count_message("mbp-10");
                let levels: Vec<_> = m
                    .levels
                    .iter()
                    .map(|l| (l.bid_px, l.bid_sz, l.ask_px, l.ask_sz))
                    .collect();
                mbp_now = Some(mbp(&mut b, m.action, m.side, m.price, m.size, &levels, at)?);
            }
            if flags.is_last() {
                if let Some(now) = mbp_now.take() {
                    for (k, side) in [(0usize, 1i8), (1, -1)] {
                        b.set_levels(side, &mbp_prev[k], &now[k], at)?;
                    }
                    mbp_prev = now;
                }
                b.end_event(at)?;
                // a snapshot is one venue event: the next snapshot record starts a new one
                b.in_snapshot = false;
                open_event = None;
            } else {
                open_event = Some(at);
            }
        }
        let bytes_read = dec.get_ref().bytes_read();
        if bytes_read != whole_bytes {
            return Err(LobzeroError::Truncated {
                location: format!("{name} record {}", k + 1),
                detail: format!(
                    "the file ends inside a record ({} bytes after the last whole one)",
                    bytes_read.saturating_sub(whole_bytes)
                ),
            });
        }
        if let Some(at) = open_event {
            if let Some(now) = mbp_now.take() {
                for (k, side) in [(0usize, 1i8), (1, -1)] {
                    b.set_levels(side, &mbp_prev[k], &now[k], at)?;
                }
                mbp_prev = now;
            }
            report.notes.push(format!("{name}: ends inside a venue event (no F_LAST): its updates are emitted at the end of the file"));
            b.end_event(at)?;
        }
    }
    for (name, n) in [
        ("F_BAD_TS_RECV", bad_ts_recv),
        ("F_MAYBE_BAD_BOOK", maybe_bad_book),
    ] {
        if n > 0 {
            report.messages.insert(name.into(), n);
        }
    }
    let mut options = options.clone();
    if let Some(path) = &dbn_options.definition {
        let defs = read_definitions(path)?;
        let id = instrument.unwrap_or(0);
        let def = defs.get(&id).ok_or_else(|| LobzeroError::Format {
            location: path.display().to_string(),
            format: "Databento definition".into(),
            detail: format!(
                "no definition of instrument_id {id} (the data's); it defines {}",
                defs.iter()
                    .map(|(k, d)| format!("{k} ({})", d.symbol))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
        if options.tick_size.is_none() {
            options.tick_size = Some(def.tick);
        }
        report.contract_multiplier = def.multiplier.map(|m| m.to_string());
        if !def.symbol.is_empty() {
            symbol = def.symbol.clone();
        }
    }
    if options.lot_size.is_none() {
        options.lot_size = Some(Decimal::unit(0));
    }
    let (imported, log) = b.finish(&options, &symbol, "databento", report)?;
    // MBP data has no orders: its trade prints are in the stream, the log stays empty
    Ok((imported, if saw_mbo { log } else { OrderLog::default() }))
}

fn mbo(b: &mut L3Builder, m: &MboMsg, at: At, report: &mut ImportReport) -> Result<()> {
    let side = side_of(m.side);
    let qty = i64::from(m.size);
    match m.action as u8 {
        b'A' => b.act(ACTION_ADD, m.order_id, side, m.price, qty, at),
        b'C' => b.act(ACTION_CANCEL, m.order_id, side, m.price, qty, at),
        b'M' => b.act(ACTION_MODIFY, m.order_id, side, m.price, qty, at),
        b'R' => {
            b.clear(0, at);
            Ok(())
        }
        b'T' => b.trade(m.order_id, side, m.price, qty, true, at),
        b'F' => b.trade(m.order_id, side, m.price, qty, false, at),
        b'N' => {
            report.count_message("action N (none)");
            Ok(())
        }
        other => Err(LobzeroError::invalid(
            b.location(at.file, at.line),
            format!("unknown MBO action {:?}", other as char),
        )),
    }
}

/// One MBP record: a trade row for `T`; returns the bid and ask levels it carries.
fn mbp(
    b: &mut L3Builder,
    action: std::ffi::c_char,
    side: std::ffi::c_char,
    price: i64,
    size: u32,
    levels: &[(i64, u32, i64, u32)],
    at: At,
) -> Result<[Vec<(i64, i64)>; 2]> {
    if action as u8 == b'T' {
        b.trade(0, side_of(side), price, i64::from(size), true, at)?;
    }
    let side_levels = |bid: bool| -> Vec<(i64, i64)> {
        levels
            .iter()
            .map(|l| {
                if bid {
                    (l.0, i64::from(l.1))
                } else {
                    (l.2, i64::from(l.3))
                }
            })
            .filter(|(p, q)| *p != dbn::UNDEF_PRICE && *q > 0)
            .collect()
    };
    Ok([side_levels(true), side_levels(false)])
}
