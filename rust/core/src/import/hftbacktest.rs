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

/// Converts the local events of an hftbacktest array. `source` names the input in errors
/// (rows are numbered from 0); tick and lot sizes are required, the format does not carry them.
pub fn import(cols: &HbtColumns<'_>, source: &str, options: &ImportOptions) -> Result<Imported> {
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
        files: vec![source.to_string()],
        lines: n as u64,
        tick_size: tick.to_string(),
        lot_size: lot.to_string(),
        ..Default::default()
    };
    let mut out = EventStream::with_capacity(n);
    let mut rows: Vec<usize> = Vec::with_capacity(n);
    let mut in_snapshot = false;
    let mut skipped_exchange_only = 0u64;
    for i in 0..n {
        let ev = cols.ev[i];
        if ev & LOCAL_EVENT == 0 {
            skipped_exchange_only += 1;
            continue;
        }
        let loc = || format!("{source} row {i}");
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
        report.count_message(crate::event::KIND_NAMES[kind as usize]);
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
    let summary =
        out.validate_with(|row| format!("{source} row {}", rows.get(row).copied().unwrap_or(row)))?;
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
        let out = import(&cols, "mem", &opts(false)).unwrap();
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
        let err = import(&cols, "f.npz", &opts(false)).unwrap_err();
        assert_eq!(err.location(), Some("f.npz row 0"));
        let cols = HbtColumns {
            ev: &ev,
            exch_ts: &[1, 2],
            local_ts: &[1, 2],
            px: &[100.0, 100.0],
            qty: &[1.0, 1.0],
        };
        let err = import(&cols, "f.npz", &opts(false)).unwrap_err();
        assert!(err.to_string().contains("BUY or SELL"), "{err}");
        let cols = HbtColumns {
            ev: &ev[..1],
            exch_ts: &[1],
            local_ts: &[1],
            px: &[100.0],
            qty: &[0.0004],
        };
        assert!(import(&cols, "f.npz", &opts(false)).is_err());
        assert!(import(&cols, "f.npz", &ImportOptions::default()).is_err());
        let rounded = import(&cols, "f.npz", &opts(true)).unwrap();
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
            import(&cols, "f.npz", &opts(false)),
            Err(LobzeroError::TimestampOrder { .. })
        ));
    }
}
