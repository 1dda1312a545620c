//! hftbacktest event arrays (its `event_dtype`: `ev` flags, `exch_ts`, `local_ts`, `px`, `qty`,
//! ...), as its users keep them in `.npz` files. The caller reads the arrays (numpy); this module
//! turns the events a local trader sees (`LOCAL_EVENT` flag) into lobzero events.
//!
//! Mapping: `DEPTH_EVENT` → update, `DEPTH_SNAPSHOT_EVENT` → snapshot level (a run of them is
//! preceded by a clear of both sides unless one comes just before), `DEPTH_CLEAR_EVENT` → clear of the flagged side (or both;
//! hftbacktest can clear only up to a price, lobzero clears the side), `TRADE_EVENT` → trade
//! with the flagged initiator side. Best-bid/offer and order-by-order events are counted and
//! skipped (lobzero's book is L2). Prices must lie on the tick grid; sizes too unless
//! `round_qty` is set, in which case rounded sizes are counted.

use super::{ImportOptions, ImportReport, Imported};
use crate::decimal::f64_to_steps;
use crate::error::{LobzeroError, Result};
use crate::event::{
    Event, EventStream, Instrument, KIND_CLEAR, KIND_SNAPSHOT, KIND_TRADE, KIND_UPDATE, SIDE_ASK,
    SIDE_BID, SIDE_NONE,
};

pub const DEPTH_EVENT: u64 = 1;
pub const TRADE_EVENT: u64 = 2;
pub const DEPTH_CLEAR_EVENT: u64 = 3;
pub const DEPTH_SNAPSHOT_EVENT: u64 = 4;
pub const DEPTH_BBO_EVENT: u64 = 5;
pub const EXCH_EVENT: u64 = 1 << 31;
pub const LOCAL_EVENT: u64 = 1 << 30;
pub const BUY_EVENT: u64 = 1 << 29;
pub const SELL_EVENT: u64 = 1 << 28;

/// The columns of an hftbacktest event array (equal lengths).
pub struct HbtColumns<'a> {
    pub ev: &'a [u64],
    pub exch_ts: &'a [i64],
    pub local_ts: &'a [i64],
    pub px: &'a [f64],
    pub qty: &'a [f64],
}

/// The files an event array was concatenated from, to name a row by its file and its index in
/// that file (from 0).
#[derive(Debug, Clone)]
pub struct RowSources {
    names: Vec<String>,
    /// The first row of each file in the concatenated array (ascending, starting at 0).
    starts: Vec<usize>,
}

impl RowSources {
    /// One input of any length.
    pub fn single(name: &str) -> Self {
        Self {
            names: vec![name.to_string()],
            starts: vec![0],
        }
    }

    /// Inputs with their row counts, in the order they were concatenated.
    pub fn from_counts(files: &[(String, usize)]) -> Self {
        let mut starts = Vec::with_capacity(files.len());
        let mut next = 0usize;
        for (_, rows) in files {
            starts.push(next);
            next = next.saturating_add(*rows);
        }
        Self {
            names: files.iter().map(|(name, _)| name.clone()).collect(),
            starts,
        }
    }

    /// "`file` row `k`" for row `row` of the concatenation.
    pub fn locate(&self, row: usize) -> String {
        let k = self.starts.partition_point(|&start| start <= row).max(1) - 1;
        let name = self.names.get(k).map_or("<input>", String::as_str);
        let start = self.starts.get(k).copied().unwrap_or(0);
        format!("{name} row {}", row - start.min(row))
    }

    fn describe(&self) -> String {
        self.names.join(", ")
    }
}

/// Converts the local events of an hftbacktest array. `sources` names the input in errors
/// (rows are numbered from 0 in each file); tick and lot sizes are required, the format does not
/// carry them.
pub fn import(
    cols: &HbtColumns<'_>,
    sources: &RowSources,
    options: &ImportOptions,
) -> Result<Imported> {
    let source = sources.describe();
    let source = source.as_str();
    let n = cols.ev.len();
    if [
        cols.exch_ts.len(),
        cols.local_ts.len(),
        cols.px.len(),
        cols.qty.len(),
    ]
    .iter()
    .any(|&l| l != n)
    {
        return Err(LobzeroError::parse(
            source,
            "the ev, exch_ts, local_ts, px and qty fields differ in length",
        ));
    }
    let tick = options.tick_size.ok_or_else(|| {
        LobzeroError::config("hftbacktest files do not record the tick size: pass tick_size")
    })?;
    let lot = options.lot_size.ok_or_else(|| {
        LobzeroError::config("hftbacktest files do not record the lot size: pass lot_size")
    })?;
    if tick.is_zero() || lot.is_zero() {
        return Err(LobzeroError::config("tick_size and lot_size must be > 0"));
    }
    let (tick_f, lot_f) = (tick.to_f64(), lot.to_f64());
    let mut report = ImportReport {
        format: "hftbacktest".into(),
        files: sources.names.clone(),
        lines: n as u64,
        tick_size: tick.to_string(),
        lot_size: lot.to_string(),
        ..Default::default()
    };
    let mut out = EventStream::with_capacity(n);
    let mut rows: Vec<usize> = Vec::with_capacity(n);
    let mut in_snapshot = false;
    let mut skipped_exchange_only = 0u64;
    // hftbacktest events read, by the lobzero kind they map to (counted here, not per event in
    // the report's map: this loop runs millions of times)
    let mut read_by_kind = [0u64; 4];
    for i in 0..n {
        let ev = cols.ev[i];
        if ev & LOCAL_EVENT == 0 {
            skipped_exchange_only += 1;
            continue;
        }
        let loc = || sources.locate(i);
        let side = match (ev & BUY_EVENT != 0, ev & SELL_EVENT != 0) {
            (true, false) => SIDE_BID,
            (false, true) => SIDE_ASK,
            (false, false) => SIDE_NONE,
            (true, true) => {
                return Err(LobzeroError::invalid(
                    loc(),
                    "event flagged both BUY and SELL",
                ))
            }
        };
        let code = ev & 0xff;
        let kind = match code {
            DEPTH_EVENT => KIND_UPDATE,
            DEPTH_SNAPSHOT_EVENT => KIND_SNAPSHOT,
            TRADE_EVENT => KIND_TRADE,
            DEPTH_CLEAR_EVENT => KIND_CLEAR,
            _ => {
                let name = if code == DEPTH_BBO_EVENT {
                    "bbo"
                } else {
                    "order_by_order_or_other"
                };
                report.count_message(&format!("skipped_{name}"));
                continue;
            }
        };
        read_by_kind[kind as usize] += 1;
        let (ts_ns, recv_ts_ns) = (cols.exch_ts[i], cols.local_ts[i]);
        if kind == KIND_SNAPSHOT && !in_snapshot {
            report.snapshots += 1;
            let cleared =
                out.kind.last() == Some(&KIND_CLEAR) && out.side.last() == Some(&SIDE_NONE);
            if !cleared {
                out.push(Event {
                    ts_ns,
                    recv_ts_ns,
                    kind: KIND_CLEAR,
                    side: SIDE_NONE,
                    price_ticks: 0,
                    qty_lots: 0,
                });
                rows.push(i);
            }
        }
        in_snapshot = kind == KIND_SNAPSHOT;
        let (price_ticks, qty_lots) = if kind == KIND_CLEAR {
            (0, 0)
        } else {
            if side == SIDE_NONE && kind != KIND_TRADE {
                return Err(LobzeroError::invalid(
                    loc(),
                    "a depth event needs the BUY or SELL flag",
                ));
            }
            let (p, _) = f64_to_steps(cols.px[i], tick_f, false).map_err(|e| {
                LobzeroError::invalid(loc(), format!("price {e} (tick size {tick})"))
            })?;
            let (q, rounded) =
                f64_to_steps(cols.qty[i], lot_f, options.round_qty).map_err(|e| {
                    LobzeroError::invalid(
                        loc(),
                        format!(
                            "size {e} (lot size {lot}); pass round_qty=True to round to the lot"
                        ),
                    )
                })?;
            if rounded {
                report.qty_rounded += 1;
            }
            (p, q)
        };
        if kind == KIND_TRADE && qty_lots == 0 {
            // a print smaller than half a lot rounds to nothing: there is nothing to replay
            report.count_message("skipped_trade_below_half_lot");
            continue;
        }
        out.push(Event {
            ts_ns,
            recv_ts_ns,
            kind,
            side,
            price_ticks,
            qty_lots,
        });
        rows.push(i);
    }
    if skipped_exchange_only > 0 {
        report.notes.push(format!(
            "{skipped_exchange_only} exchange-only events skipped (not seen by a local trader)"
        ));
    }
    for (kind, &count) in read_by_kind.iter().enumerate() {
        if count > 0 {
            report
                .messages
                .insert(crate::event::KIND_NAMES[kind].to_string(), count);
        }
    }
    if skipped_exchange_only > 0 {
        report
            .messages
            .insert("skipped_exchange_only".into(), skipped_exchange_only);
    }
    if read_by_kind[KIND_CLEAR as usize] > 0 {
        report.notes.push(
            "DEPTH_CLEAR clears the whole flagged side (hftbacktest clears up to its price)".into(),
        );
    }
    let summary = out.validate_with(|row| sources.locate(rows.get(row).copied().unwrap_or(row)))?;
    report.set_summary(&summary);
    let instrument = Instrument::new(
        options.symbol.as_deref().unwrap_or(""),
        options.venue.as_deref().unwrap_or("hftbacktest"),
        tick,
        lot,
    )?;
    Ok(Imported {
        instrument,
        events: out,
        report,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decimal::Decimal;

    fn opts(round: bool) -> ImportOptions {
        ImportOptions {
            tick_size: Some(Decimal::parse("0.1").unwrap()),
            lot_size: Some(Decimal::parse("0.001").unwrap()),
            round_qty: round,
            ..Default::default()
        }
    }

    #[test]
    fn maps_local_events() {
        let l = LOCAL_EVENT | EXCH_EVENT;
        let ev = [
            DEPTH_SNAPSHOT_EVENT | l | BUY_EVENT,
            DEPTH_SNAPSHOT_EVENT | l | SELL_EVENT,
            DEPTH_EVENT | EXCH_EVENT | BUY_EVENT, // exchange only
            DEPTH_EVENT | l | BUY_EVENT,
            TRADE_EVENT | l | SELL_EVENT,
            DEPTH_BBO_EVENT | l | BUY_EVENT,
        ];
        let ts = [1, 1, 2, 3, 4, 5];
        let cols = HbtColumns {
            ev: &ev,
            exch_ts: &ts,
            local_ts: &ts,
            px: &[100.0, 100.2, 100.1, 100.1, 100.0, 100.0],
            qty: &[1.0, 2.0, 1.0, 0.5, 0.25, 1.0],
        };
        let out = import(&cols, &RowSources::single("mem"), &opts(false)).unwrap();
        let s = &out.events;
        assert_eq!(
            s.kind,
            vec![
                KIND_CLEAR,
                KIND_SNAPSHOT,
                KIND_SNAPSHOT,
                KIND_UPDATE,
                KIND_TRADE
            ]
        );
        assert_eq!(s.price_ticks, vec![0, 1000, 1002, 1001, 1000]);
        assert_eq!(s.qty_lots, vec![0, 1000, 2000, 500, 250]);
        assert_eq!(s.side[4], SIDE_ASK);
        assert_eq!(out.report.snapshots, 1);
        assert_eq!(out.report.messages.get("skipped_bbo"), Some(&1));
    }

    #[test]
    fn refuses_bad_rows() {
        let ev = [
            DEPTH_EVENT | LOCAL_EVENT | BUY_EVENT,
            DEPTH_EVENT | LOCAL_EVENT,
        ];
        let cols = HbtColumns {
            ev: &ev,
            exch_ts: &[1, 2],
            local_ts: &[1, 2],
            px: &[100.05, 100.0],
            qty: &[1.0, 1.0],
        };
        let err = import(&cols, &RowSources::single("f.npz"), &opts(false)).unwrap_err();
        assert_eq!(err.location(), Some("f.npz row 0"));
        let cols = HbtColumns {
            ev: &ev,
            exch_ts: &[1, 2],
            local_ts: &[1, 2],
            px: &[100.0, 100.0],
            qty: &[1.0, 1.0],
        };
        let err = import(&cols, &RowSources::single("f.npz"), &opts(false)).unwrap_err();
        assert!(err.to_string().contains("BUY or SELL"), "{err}");
        let cols = HbtColumns {
            ev: &ev[..1],
            exch_ts: &[1],
            local_ts: &[1],
            px: &[100.0],
            qty: &[0.0004],
        };
        assert!(import(&cols, &RowSources::single("f.npz"), &opts(false)).is_err());
        assert!(import(
            &cols,
            &RowSources::single("f.npz"),
            &ImportOptions::default()
        )
        .is_err());
        let rounded = import(&cols, &RowSources::single("f.npz"), &opts(true)).unwrap();
        assert_eq!(rounded.report.qty_rounded, 1);
        let back = [DEPTH_EVENT | LOCAL_EVENT | BUY_EVENT; 2];
        let cols = HbtColumns {
            ev: &back,
            exch_ts: &[2, 1],
            local_ts: &[2, 1],
            px: &[100.0, 100.0],
            qty: &[1.0, 1.0],
        };
        assert!(matches!(
            import(&cols, &RowSources::single("f.npz"), &opts(false)),
            Err(LobzeroError::TimestampOrder { .. })
        ));
    }

    #[test]
    fn rows_are_named_by_file() {
        let sources = RowSources::from_counts(&[("a.npz".into(), 3), ("b.npz".into(), 2)]);
        assert_eq!(sources.locate(0), "a.npz row 0");
        assert_eq!(sources.locate(2), "a.npz row 2");
        assert_eq!(sources.locate(3), "b.npz row 0");
        assert_eq!(sources.locate(4), "b.npz row 1");
        // an empty file in the middle is skipped over
        let sources = RowSources::from_counts(&[("a".into(), 1), ("e".into(), 0), ("b".into(), 1)]);
        assert_eq!(sources.locate(1), "b row 0");
        assert_eq!(RowSources::single("x.npz").locate(7), "x.npz row 7");
    }
}
