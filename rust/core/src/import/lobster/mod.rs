//! LOBSTER (lobsterdata.com) files: a message file (`time,type,order_id,size,price,direction`)
//! and its orderbook file (`ask_price_1,ask_size_1,bid_price_1,bid_size_1,...` for `L` levels),
//! one orderbook row per message: the visible book after that message.
//!
//! Times are seconds after midnight New York (decimals to the ns), turned into UTC ns for the
//! trading day (file name, or the `date` option) by the US daylight-saving rule. Prices are in
//! 1/10,000 of the currency; sizes are shares. Dummy levels (price ±9999999999, size 0) are no
//! level.
//!
//! Level updates come from the orderbook rows: the first row of a file is a snapshot (a clear,
//! then its levels); after it only the levels that changed are emitted, so the replayed book is
//! the visible `L` levels. Trades come from the messages: 4 (visible execution) and 5 (hidden
//! execution, no visible change) at the message's price and size, on the aggressor's side, the
//! side opposite the resting order's `direction` (a sell limit order executed is a buy); 6 (cross
//! trade, an auction print) with side 0. Type 7, a trading halt (price -1), clears the book: an
//! empty book while the market is halted, so nothing can be traded; it comes back, whole, at the
//! next type 7 (quoting, price 0, or trading, price 1). Each halt is counted (`messages["halt"]`)
//! and named in the report's notes.
//!
//! Every message is checked against the change it made to the book ([`check`]); a mismatch is an
//! `InvalidValue` error naming the message file and row, or with `on_book_mismatch = "count"` a
//! count in `book_check["mismatches"]` (the book the file shows is kept).

pub mod check;
pub mod clock;
pub mod files;
mod rows;

use super::levels::changed_levels;
use super::text::{open, Lines};
use super::{ImportOptions, ImportReport, Imported, MismatchPolicy, RawEvent, RawEvents};
use crate::decimal::Decimal;
use crate::error::{LobzeroError, Result};
use crate::event::{
    KIND_CLEAR, KIND_SNAPSHOT, KIND_TRADE, KIND_UPDATE, SIDE_ASK, SIDE_BID, SIDE_NONE,
};
use check::{Checked, View};
use clock::Date;
use std::path::Path;

const FORMAT: &str = "lobster";
/// Mismatches named one by one in the notes when they are counted; the rest only counted.
const NOTED_MISMATCHES: usize = 10;

/// A price in 1/10,000 of the currency, or a size in shares, as an exact decimal.
fn decimal(value: i64, scale: u32, loc: &dyn Fn() -> String) -> Result<Decimal> {
    Decimal::new(i128::from(value), scale).map_err(|e| LobzeroError::invalid(loc(), e))
}

/// Settings of one pair of files: from its name, the options, or both when they agree.
fn settings(pair: &files::Pair, options: &ImportOptions) -> Result<(Date, Option<usize>)> {
    let name = pair.name.as_ref();
    let date = match (&options.date, name.map(|n| &n.date)) {
        (Some(given), Some(named)) if given != named => {
            return Err(LobzeroError::config(format!(
                "date {given:?} but the file name {} says {named}",
                pair.message.display()
            )))
        }
        (Some(d), _) | (None, Some(d)) => d.parse::<Date>()?,
        (None, None) => {
            return Err(LobzeroError::config(format!(
            "{}: the file name does not carry the trading day: pass date=\"YYYY-MM-DD\" (LOBSTER \
                 times are seconds after midnight New York)",
            pair.message.display()
        )))
        }
    };
    let levels = match (options.levels, name.map(|n| n.levels)) {
        (Some(given), Some(named)) if given != named => {
            return Err(LobzeroError::config(format!(
                "levels={given} but the file name {} says {named}",
                pair.orderbook.display()
            )))
        }
        (Some(0), _) => return Err(LobzeroError::config("levels must be >= 1")),
        (given, named) => given.or(named),
    };
    Ok((date, levels))
}

struct Importer<'a> {
    options: &'a ImportOptions,
    raw: RawEvents,
    report: ImportReport,
    symbol: Option<String>,
}

impl Importer<'_> {
    fn pair(&mut self, pair: &files::Pair) -> Result<()> {
        let (date, levels) = settings(pair, self.options)?;
        if let Some(name) = &pair.name {
            match &self.symbol {
                Some(s) if *s != name.ticker => {
                    return Err(LobzeroError::config(format!(
                        "{}: ticker {} in an import of {s}",
                        pair.message.display(),
                        name.ticker
                    )))
                }
                _ => self.symbol = Some(name.ticker.clone()),
            }
        }
        let msg_name = pair.message.display().to_string();
        let book_name = pair.orderbook.display().to_string();
        let file = self.raw.files.len() as u32;
        self.raw.files.push(msg_name.clone());
        let mut messages = Lines::new(open(&pair.message)?, &msg_name);
        let mut books = Lines::new(open(&pair.orderbook)?, &book_name);
        let mut expected_levels = levels;
        let mut before: Option<View> = None;
        // what the emitted events show (empty while halted)
        let mut shown = View::default();
        let mut halted = false;
        loop {
            let (msg_line, book_line) = (messages.next_line()?, books.next_line()?);
            let ((line, msg_text, msg_nl), (_, book_text, book_nl)) = match (msg_line, book_line) {
                (None, None) => break,
                (Some(m), Some(b)) => (m, b),
                (Some((line, ..)), None) | (None, Some((line, ..))) => {
                    return Err(LobzeroError::Truncated {
                        location: format!("{book_name}:{line}"),
                        detail: format!(
                            "the message file and the orderbook file have different lengths \
                             (one ends before row {line}; they hold one row per message)"
                        ),
                    })
                }
            };
            let loc = || format!("{msg_name}:{line}");
            let book_loc = || format!("{book_name}:{line}");
            let msg = rows::message(msg_text, msg_nl, &loc)?;
            let view = rows::view(book_text, book_nl, &mut expected_levels, &book_loc)?;
            let depth = expected_levels.unwrap_or(1);
            self.report.lines += 1;
            self.report
                .count_message(check::kind_name(msg.message.kind));
            let ts_ns = date.new_york_to_utc_ns(msg.local_ns);
            let event = |kind, side, price, qty| RawEvent {
                ts_ns,
                recv_ts_ns: ts_ns,
                kind,
                side,
                price,
                qty,
                file,
                line,
            };
            match &before {
                None => self.report.count_check("first_row"),
                Some(prev) => match check::check(&msg.message, prev, &view, depth) {
                    Ok(Checked::Matches) => self.report.count_check("checked"),
                    Ok(Checked::BeyondVisibleDepth) => {
                        self.report.count_check("beyond_visible_depth")
                    }
                    Err(rule) => {
                        let rule = format!(
                            "book check: {rule} (orderbook file {book_name} row {line}); pass \
                             on_book_mismatch=\"count\" to count mismatches and keep the file's book"
                        );
                        match self.options.on_book_mismatch {
                            MismatchPolicy::Error => {
                                return Err(LobzeroError::invalid(loc(), rule))
                            }
                            MismatchPolicy::Count => {
                                let n = self.report.book_check.get("mismatches").copied();
                                if (n.unwrap_or(0) as usize) < NOTED_MISMATCHES {
                                    self.report.notes.push(format!("{}: {rule}", loc()));
                                }
                                self.report.count_check("mismatches");
                            }
                        }
                    }
                },
            }
            let m = msg.message;
            if matches!(m.kind, 4..=6) {
                if m.price <= 0 || m.size <= 0 {
                    return Err(LobzeroError::invalid(
                        loc(),
                        "an execution needs a positive price and size",
                    ));
                }
                // the resting order's side is `direction`; the aggressor is the other one
                let side = match m.kind {
                    6 => SIDE_NONE,
                    _ if m.direction > 0 => SIDE_ASK,
                    _ => SIDE_BID,
                };
                let (price, qty) = (decimal(m.price, 4, &loc)?, decimal(m.size, 0, &loc)?);
                self.raw.events.push(event(KIND_TRADE, side, price, qty));
            }
            if m.kind == 7 {
                let was = halted;
                halted = m.price < 0;
                let what = match m.price {
                    p if p < 0 => "trading halt: book cleared until quoting resumes",
                    0 => "quoting resumes: book shown again",
                    _ => "trading resumes",
                };
                self.report.notes.push(format!("{}: type 7, {what}", loc()));
                if halted && !was {
                    let zero = Decimal::ZERO;
                    self.raw
                        .events
                        .push(event(KIND_CLEAR, SIDE_NONE, zero, zero));
                    shown = View::default();
                }
            }
            if before.is_none() {
                self.report.snapshots += 1;
                let zero = Decimal::ZERO;
                self.raw
                    .events
                    .push(event(KIND_CLEAR, SIDE_NONE, zero, zero));
                for (side, levels) in [(SIDE_BID, &view.bids), (SIDE_ASK, &view.asks)] {
                    for &(p, q) in levels {
                        let (price, qty) = (decimal(p, 4, &loc)?, decimal(q, 0, &loc)?);
                        self.raw.events.push(event(KIND_SNAPSHOT, side, price, qty));
                    }
                }
                shown = view.clone();
            } else if !halted {
                for (side, old, new) in [
                    (SIDE_BID, &shown.bids, &view.bids),
                    (SIDE_ASK, &shown.asks, &view.asks),
                ] {
                    let mut changed = Vec::new();
                    changed_levels(old, new, 0, |p, q| changed.push((p, q)));
                    for (p, q) in changed {
                        let (price, qty) = (decimal(p, 4, &loc)?, decimal(q, 0, &loc)?);
                        self.raw.events.push(event(KIND_UPDATE, side, price, qty));
                    }
                }
                shown = view.clone();
            }
            before = Some(view);
        }
        if before.is_none() {
            return Err(LobzeroError::Format {
                location: msg_name,
                format: FORMAT.into(),
                detail: "the file is empty".into(),
            });
        }
        Ok(())
    }
}

/// Imports LOBSTER message files with their orderbook files (either file of a pair, or both).
pub fn import(paths: &[&Path], options: ImportOptions) -> Result<Imported> {
    let pairs = files::pairs(paths)?;
    let mut importer = Importer {
        options: &options,
        raw: RawEvents::default(),
        report: ImportReport {
            format: FORMAT.into(),
            ..Default::default()
        },
        symbol: None,
    };
    for pair in &pairs {
        importer.pair(pair)?;
    }
    let beyond = importer.report.book_check.get("beyond_visible_depth");
    if let Some(n) = beyond {
        importer.report.notes.push(format!(
            "{n} messages change the book beyond its visible levels: checked only for leaving \
             the visible levels as they were"
        ));
    }
    let symbol = importer.symbol.clone().unwrap_or_default();
    importer
        .raw
        .finish(&options, &symbol, "nasdaq", importer.report)
}

#[cfg(test)]
mod tests;
