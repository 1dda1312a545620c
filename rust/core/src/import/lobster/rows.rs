//! One row of each LOBSTER file, parsed and checked: a message, and the visible book after it.

use super::check::{Message, View};
use crate::error::{LobzeroError, Result};

/// LOBSTER's dummy price for an empty ask level; bids use its negative.
const DUMMY_PRICE: i64 = 9_999_999_999;

/// A message row and its time, ns after New York midnight.
pub struct Row {
    pub message: Message,
    pub local_ns: i64,
}

/// A parse error on a last line without its line break is a file cut short.
fn cut(err: LobzeroError, newline: bool) -> LobzeroError {
    match err {
        LobzeroError::Parse { location, rule } if !newline => LobzeroError::Truncated {
            location,
            detail: format!("the last line has no line break and does not read ({rule})"),
        },
        other => other,
    }
}

fn int(text: &str, what: &str, loc: &dyn Fn() -> String) -> Result<i64> {
    level_int(text, what, 0, loc)
}

/// An integer field; `level` (1-based, 0 for none) only goes into the error, so a good row
/// costs no formatting.
fn level_int(text: &str, what: &str, level: usize, loc: &dyn Fn() -> String) -> Result<i64> {
    text.trim().parse::<i64>().map_err(|_| {
        let what = if level > 0 {
            format!("{what} {level}")
        } else {
            what.to_string()
        };
        LobzeroError::parse(loc(), format!("{what} {text:?} is not an integer"))
    })
}

/// Seconds after midnight with up to 9 decimals, as ns.
fn seconds_ns(text: &str, loc: &dyn Fn() -> String) -> Result<i64> {
    let bad = || {
        LobzeroError::parse(
            loc(),
            format!("time {text:?} is not seconds after midnight"),
        )
    };
    let (whole, frac) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 6 || frac.len() > 9 || !digits(whole) || !digits(frac) {
        return Err(bad());
    }
    let seconds: i64 = whole.parse().map_err(|_| bad())?;
    let mut nanos: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| bad())?
    };
    for _ in frac.len()..9 {
        nanos *= 10;
    }
    // a day of trading may run past midnight, but not by more than a day
    if seconds > 2 * 86_400 {
        return Err(LobzeroError::invalid(
            loc(),
            format!("time {text} s after midnight is more than two days"),
        ));
    }
    Ok(seconds * 1_000_000_000 + nanos)
}

/// Parses a message row `time,type,order_id,size,price,direction`.
pub fn message(text: &str, newline: bool, loc: &dyn Fn() -> String) -> Result<Row> {
    parse_message(text, loc).map_err(|e| cut(e, newline))
}

fn parse_message(text: &str, loc: &dyn Fn() -> String) -> Result<Row> {
    let fields: Vec<&str> = text.split(',').collect();
    if fields.len() != 6 {
        return Err(LobzeroError::parse(
            loc(),
            format!(
                "{} fields where a LOBSTER message has 6 (time,type,order_id,size,price,direction)",
                fields.len()
            ),
        ));
    }
    let local_ns = seconds_ns(fields[0], loc)?;
    let kind = int(fields[1], "type", loc)?;
    let size = int(fields[3], "size", loc)?;
    let price = int(fields[4], "price", loc)?;
    let direction = int(fields[5], "direction", loc)?;
    int(fields[2], "order id", loc)?;
    if !(1..=7).contains(&kind) {
        return Err(LobzeroError::invalid(
            loc(),
            format!("message type {kind} is not 1..7 (LOBSTER's event types)"),
        ));
    }
    if direction != 1 && direction != -1 {
        return Err(LobzeroError::invalid(
            loc(),
            format!("direction {direction} is not 1 (buy) or -1 (sell)"),
        ));
    }
    if kind == 7 {
        if !(-1..=1).contains(&price) || size != 0 {
            return Err(LobzeroError::invalid(
                loc(),
                format!("a trading halt (type 7) has price -1, 0 or 1 and size 0, got price {price}, size {size}"),
            ));
        }
    } else if size <= 0 || price <= 0 || price >= DUMMY_PRICE {
        return Err(LobzeroError::invalid(
            loc(),
            format!("a type {kind} message needs a positive size and price, got size {size}, price {price}"),
        ));
    }
    Ok(Row {
        message: Message {
            kind: kind as u8,
            size,
            price,
            direction: direction as i8,
        },
        local_ns,
    })
}

/// Parses an orderbook row of `4 × levels` fields. `levels` is filled from the first row when
/// neither the name nor the options gave it.
pub fn view(
    text: &str,
    newline: bool,
    levels: &mut Option<usize>,
    loc: &dyn Fn() -> String,
) -> Result<View> {
    parse_view(text, levels, loc).map_err(|e| cut(e, newline))
}

fn parse_view(text: &str, levels: &mut Option<usize>, loc: &dyn Fn() -> String) -> Result<View> {
    let fields: Vec<&str> = text.split(',').collect();
    let depth = *levels.get_or_insert(fields.len() / 4);
    if fields.len() != 4 * depth || depth == 0 {
        return Err(LobzeroError::parse(
            loc(),
            format!(
                "{} fields where an orderbook row of {depth} levels has {} (ask price, ask size, \
                 bid price, bid size per level)",
                fields.len(),
                4 * depth.max(1)
            ),
        ));
    }
    let mut view = View::default();
    for (side, offset, dummy) in [(1i8, 2usize, -DUMMY_PRICE), (-1, 0, DUMMY_PRICE)] {
        let name = if side > 0 { "bid" } else { "ask" };
        let out = if side > 0 {
            &mut view.bids
        } else {
            &mut view.asks
        };
        for level in 0..depth {
            let what = if side > 0 {
                ["bid price", "bid size"]
            } else {
                ["ask price", "ask size"]
            };
            let price = level_int(fields[4 * level + offset], what[0], level + 1, loc)?;
            let size = level_int(fields[4 * level + offset + 1], what[1], level + 1, loc)?;
            if price == dummy && size == 0 {
                continue;
            }
            let rule = if price <= 0 || price >= DUMMY_PRICE || size <= 0 {
                Some("a level needs a positive price and size (or the dummy of an empty level)")
            } else if out.len() < level {
                Some("a level below an empty (dummy) level")
            } else if out
                .last()
                .is_some_and(|&(p, _)| if side > 0 { price >= p } else { price <= p })
            {
                Some("levels must run from the best price outwards, each price once")
            } else {
                None
            };
            if let Some(rule) = rule {
                return Err(LobzeroError::invalid(
                    loc(),
                    format!(
                        "{name} level {}: {rule} (price {price}, size {size})",
                        level + 1
                    ),
                ));
            }
            out.push((price, size));
        }
    }
    Ok(view)
}
