//! `order-events`: a generic order log as CSV (plain, gzip or xz), one row per order action:
//! order id, receive time, (exchange time), side, price, size, action. Column names and time
//! unit are options; the defaults are those of obAnalytics' Bitstamp logs
//! (`id,timestamp,exchange.timestamp,price,volume,action,direction`, times in ms).
//!
//! Actions (case-insensitive): `created` / `add` → add of `size`; `changed` / `modify` → the
//! order's new price and *remaining* size (priority as in [`crate::orders`]: kept on a size
//! decrease only; a change to size 0 removes the order, recorded as a cancel of what rested);
//! `deleted` / `cancel` → the order leaves the book (whatever its size column says: Bitstamp
//! writes the remaining or 0); `traded` / `fill` → the resting order is reduced by `size` and
//! an L2 trade row is written (aggressor: the other side). Sides: `bid`/`buy`/`b`/`1` and
//! `ask`/`sell`/`a`/`s`/`-1`. `size_scale` multiplies every size (Bitstamp volume is in
//! 1e-8 BTC: `size_scale="0.00000001"`).
//!
//! A log that starts mid-session changes and deletes orders it never saw added: an
//! `InvalidValue` error by default; `on_unknown_order="skip"` skips them, counts them
//! (`unknown_orders`) and marks the book partial (`book_partial`): orders resting before the
//! log began are missing from it.

use super::l3::{At, CrossPolicy, L3Builder, UnknownOrderPolicy};
use super::text::{self, column_index, field, next_record};
use super::{ImportOptions, ImportReport, Imported};
use crate::decimal::Decimal;
use crate::error::{LobzeroError, Result};
use crate::orders::{OrderLog, ACTION_ADD, ACTION_CANCEL, ACTION_FILL, ACTION_MODIFY};
use std::path::Path;

/// Columns and conventions of an order-events file.
#[derive(Debug, Clone)]
pub struct OrderEventsOptions {
    pub id_column: String,
    pub time_column: String,
    /// Exchange time; the receive time is used when empty or absent.
    pub exchange_time_column: String,
    pub side_column: String,
    pub price_column: String,
    pub size_column: String,
    pub action_column: String,
    /// Nanoseconds per unit of the time columns (1_000_000 for ms).
    pub ns_per_time_unit: i64,
    pub size_scale: Option<Decimal>,
    pub on_unknown_order: UnknownOrderPolicy,
    pub on_cross: CrossPolicy,
}

impl Default for OrderEventsOptions {
    fn default() -> Self {
        Self {
            id_column: "id".into(),
            time_column: "timestamp".into(),
            exchange_time_column: "exchange.timestamp".into(),
            side_column: "direction".into(),
            price_column: "price".into(),
            size_column: "volume".into(),
            action_column: "action".into(),
            ns_per_time_unit: 1_000_000,
            size_scale: None,
            on_unknown_order: UnknownOrderPolicy::Error,
            on_cross: CrossPolicy::Error,
        }
    }
}

/// `"ns"`, `"us"`, `"ms"` or `"s"` as nanoseconds per unit.
pub fn time_unit(name: &str) -> Result<i64> {
    match name {
        "ns" => Ok(1),
        "us" => Ok(1_000),
        "ms" => Ok(1_000_000),
        "s" => Ok(1_000_000_000),
        other => Err(LobzeroError::config(format!(
            "time_unit must be ns, us, ms or s, got {other:?}"
        ))),
    }
}

struct Row {
    id: u64,
    ts_ns: i64,
    recv_ts_ns: i64,
    side: i8,
    action: u8,
    price: Decimal,
    size: Decimal,
    file: u32,
    line: u64,
}

fn scaled(d: Decimal, scale: u32, loc: &dyn Fn() -> String, what: &str) -> Result<i64> {
    let factor = 10i128.checked_pow(scale - d.scale.min(scale));
    factor
        .and_then(|f| d.mantissa.checked_mul(f))
        .and_then(|v| i64::try_from(v).ok())
        .ok_or_else(|| LobzeroError::invalid(loc(), format!("{what} {d} is too large")))
}

fn read_rows(path: &Path, file: u32, o: &OrderEventsOptions, rows: &mut Vec<Row>) -> Result<u64> {
    let name = path.display().to_string();
    let (mut reader, headers) = text::csv_reader(path)?;
    let required = [
        o.id_column.as_str(),
        &o.time_column,
        &o.side_column,
        &o.price_column,
        &o.size_column,
        &o.action_column,
    ];
    let cols = column_index(&headers, &required, &name, "order-events")?;
    let exch_col = headers.iter().position(|h| *h == o.exchange_time_column);
    let mut record = csv::StringRecord::new();
    let mut lines = 0u64;
    while let Some(line) = next_record(&mut reader, &mut record, &name)? {
        lines += 1;
        let loc = || format!("{name}:{line}");
        let int = |i: usize, what: &str| -> Result<i64> {
            field(&record, i).parse::<i64>().map_err(|_| {
                LobzeroError::parse(
                    loc(),
                    format!("{what} {:?} is not an integer", field(&record, i)),
                )
            })
        };
        let id = field(&record, cols[0]).parse::<u64>().map_err(|_| {
            LobzeroError::parse(
                loc(),
                format!(
                    "order id {:?} is not an unsigned integer",
                    field(&record, cols[0])
                ),
            )
        })?;
        let to_ns = |t: i64, what: &str| {
            t.checked_mul(o.ns_per_time_unit)
                .filter(|v| *v >= 0)
                .ok_or_else(|| {
                    LobzeroError::invalid(loc(), format!("{what} {t} is negative or out of range"))
                })
        };
        let recv_ts_ns = to_ns(int(cols[1], "time")?, "time")?;
        let ts_ns = match exch_col {
            Some(i) if !field(&record, i).is_empty() => {
                to_ns(int(i, "exchange time")?, "exchange time")?
            }
            _ => recv_ts_ns,
        };
        let side = match field(&record, cols[2]).to_ascii_lowercase().as_str() {
            "bid" | "buy" | "b" | "1" => 1,
            "ask" | "sell" | "a" | "s" | "-1" => -1,
            other => {
                return Err(LobzeroError::parse(
                    loc(),
                    format!("side {other:?} is not bid/buy or ask/sell"),
                ))
            }
        };
        let action = match field(&record, cols[5]).to_ascii_lowercase().as_str() {
            "created" | "add" | "new" => ACTION_ADD,
            "changed" | "modify" | "modified" => ACTION_MODIFY,
            "deleted" | "cancel" | "cancelled" | "canceled" | "delete" => ACTION_CANCEL,
            "traded" | "trade" | "fill" | "filled" => ACTION_FILL,
            other => {
                return Err(LobzeroError::parse(
                    loc(),
                    format!("action {other:?} is not created/changed/deleted/traded (or add/modify/cancel/fill)"),
                ))
            }
        };
        let price = text::decimal(field(&record, cols[3]), "price", loc)?;
        let mut size = text::decimal(field(&record, cols[4]), "size", loc)?;
        if let Some(k) = o.size_scale {
            size = size
                .mantissa
                .checked_mul(k.mantissa)
                .and_then(|m| Decimal::new(m, size.scale + k.scale).ok())
                .ok_or_else(|| {
                    LobzeroError::invalid(
                        loc(),
                        format!("size {size} × size_scale {k} is out of range"),
                    )
                })?;
        }
        rows.push(Row {
            id,
            ts_ns,
            recv_ts_ns,
            side,
            action,
            price,
            size,
            file,
            line,
        });
    }
    Ok(lines)
}

/// Imports order-event files of one log, in order. Returns the L2 market and its order log.
pub fn import(
    paths: &[&Path],
    options: &ImportOptions,
    o: &OrderEventsOptions,
) -> Result<(Imported, OrderLog)> {
    let mut report = ImportReport {
        format: "order-events".into(),
        ..Default::default()
    };
    let mut rows = Vec::new();
    let mut files = Vec::new();
    for (k, path) in paths.iter().enumerate() {
        report.lines +=
            read_rows(path, k as u32, o, &mut rows).map_err(|e| text::explain_cut(e, path))?;
        files.push(path.display().to_string());
    }
    // one integer grid for the book: the finest decimal exponent of the file
    let price_scale = rows.iter().map(|r| r.price.scale).max().unwrap_or(0);
    let qty_scale = rows.iter().map(|r| r.size.scale).max().unwrap_or(0);
    let mut b = L3Builder::new(price_scale, qty_scale, o.on_unknown_order);
    b.on_cross = o.on_cross;
    b.files = files;
    for r in &rows {
        let loc = || b.location(r.file, r.line);
        let price = scaled(r.price, price_scale, &loc, "price")?;
        let size = scaled(r.size, qty_scale, &loc, "size")?;
        let at = At {
            file: r.file,
            line: r.line,
            ts_ns: r.ts_ns,
            recv_ts_ns: r.recv_ts_ns,
        };
        match r.action {
            ACTION_CANCEL | ACTION_MODIFY if b.book.order(r.id).is_none() => {
                // unknown: `act` errors or counts it, by the policy
                b.act(ACTION_CANCEL, r.id, r.side, price, 1, at)?;
            }
            ACTION_CANCEL => {
                let resting = b.book.order(r.id).map_or(0, |o| o.qty);
                b.act(ACTION_CANCEL, r.id, r.side, price, resting, at)?;
            }
            ACTION_MODIFY if size == 0 => {
                let resting = b.book.order(r.id).map_or(0, |o| o.qty);
                b.act(ACTION_CANCEL, r.id, r.side, price, resting, at)?;
            }
            ACTION_FILL => {
                let resting = b.book.order(r.id);
                b.act(ACTION_FILL, r.id, r.side, price, size, at)?;
                if resting.is_some() {
                    b.trade(r.id, -r.side, price, size, true, at)?;
                }
            }
            action => b.act(action, r.id, r.side, price, size, at)?,
        }
        b.end_event(at)?;
    }
    b.finish(options, "", "", report)
}
