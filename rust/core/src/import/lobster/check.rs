//! LOBSTER's own proof: every message against the change it made to the book the orderbook file
//! shows after it. Prices and sizes are the file's integers (1/10,000 of the currency, shares).
//!
//! Rules, on the side of the resting order (`direction` +1 bid, -1 ask):
//! - 1 submission of `q` at `p`: the level at `p` grows by `q` (a new level appears);
//! - 2 partial cancel, 3 deletion: the level at `p` shrinks by `q` (gone at 0);
//! - 4 visible execution: the same, and `p` must be the touch (the best level) of that side;
//! - 5 hidden execution, 6 cross trade, 7 trading halt: no visible level changes.
//!
//! With `L` levels a side is known only down to its `L`-th level: a change worse than that is
//! not checkable, beyond checking that the visible side stayed as it was (counted as
//! `beyond_visible_depth`), and a level that falls out of view, or comes into it from below,
//! is allowed only at the far end of the view. The other side must not change at all.

/// One side of a view, best level first: `(price, size)`, dummy levels removed.
pub type Side = Vec<(i64, i64)>;

/// The visible book after one message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    pub bids: Side,
    pub asks: Side,
}

/// A message row: its type (1..=7), size, price and direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message {
    pub kind: u8,
    pub size: i64,
    pub price: i64,
    pub direction: i8,
}

/// What the check could say about a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// The change matches the message.
    Matches,
    /// The change lies beyond the visible levels; only "nothing visible moved" was checked.
    BeyondVisibleDepth,
}

/// Checks one message against the views before and after it; `Err(rule)` says what broke.
pub fn check(msg: &Message, before: &View, after: &View, levels: usize) -> Result<Checked, String> {
    let delta = match msg.kind {
        1 => msg.size,
        2..=4 => -msg.size,
        _ => {
            if before != after {
                return Err(format!(
                    "a type {} message ({}) changes no visible level, but the book changed",
                    msg.kind,
                    kind_name(msg.kind)
                ));
            }
            return Ok(Checked::Matches);
        }
    };
    let bid = msg.direction > 0;
    let (side_before, side_after, other_before, other_after) = if bid {
        (&before.bids, &after.bids, &before.asks, &after.asks)
    } else {
        (&before.asks, &after.asks, &before.bids, &after.bids)
    };
    let side_name = if bid { "bid" } else { "ask" };
    if other_before != other_after {
        return Err(format!(
            "a {} on the {side_name} side changed the other side",
            kind_name(msg.kind)
        ));
    }
    if msg.kind == 4 && side_before.first().map(|l| l.0) != Some(msg.price) {
        return Err(format!(
            "a visible execution at {} is not at the {side_name} touch ({})",
            msg.price,
            side_before
                .first()
                .map_or("no level".to_string(), |l| l.0.to_string())
        ));
    }
    side_change(side_before, side_after, bid, msg.price, delta, levels).map_err(|rule| {
        format!(
            "{} of {} at {}: {rule}",
            kind_name(msg.kind),
            msg.size,
            msg.price
        )
    })
}

/// LOBSTER's name of a message type.
pub fn kind_name(kind: u8) -> &'static str {
    match kind {
        1 => "submission",
        2 => "cancel",
        3 => "delete",
        4 => "execution",
        5 => "hidden_execution",
        6 => "cross_trade",
        _ => "halt",
    }
}

fn side_change(
    before: &[(i64, i64)],
    after: &[(i64, i64)],
    bid: bool,
    price: i64,
    delta: i64,
    levels: usize,
) -> Result<Checked, String> {
    let better = |a: i64, b: i64| if bid { a > b } else { a < b };
    // a side with fewer than `levels` levels shows all it has: every price is visible
    let full = before.len() >= levels;
    let beyond = full
        && before
            .last()
            .is_some_and(|&(worst, _)| better(worst, price));
    if beyond {
        if before != after {
            return Err(format!(
                "the price lies beyond the {levels} visible levels, yet the visible side changed"
            ));
        }
        return Ok(Checked::BeyondVisibleDepth);
    }
    let mut expected = before.to_vec();
    match expected.iter().position(|&(p, _)| p == price) {
        Some(i) => {
            let size = expected[i].1 + delta;
            if size < 0 {
                return Err(format!("the level holds only {}", expected[i].1));
            }
            if size == 0 {
                expected.remove(i);
            } else {
                expected[i].1 = size;
            }
        }
        None if delta < 0 => return Err("no visible level at that price".into()),
        None => {
            let at = expected
                .iter()
                .position(|&(p, _)| better(price, p))
                .unwrap_or(expected.len());
            expected.insert(at, (price, delta));
        }
    }
    let known = expected.len().min(levels);
    let matches = after.len() >= known
        && after[..known] == expected[..known]
        && (full || after.len() == known);
    if matches {
        Ok(Checked::Matches)
    } else {
        Err(format!(
            "the {} side should read {:?} (best first), the orderbook file shows {:?}",
            if bid { "bid" } else { "ask" },
            &expected[..known],
            after
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(bids: &[(i64, i64)], asks: &[(i64, i64)]) -> View {
        View {
            bids: bids.to_vec(),
            asks: asks.to_vec(),
        }
    }

    fn msg(kind: u8, size: i64, price: i64, direction: i8) -> Message {
        Message {
            kind,
            size,
            price,
            direction,
        }
    }

    #[test]
    fn matching_changes_pass_and_wrong_ones_fail() {
        let before = view(&[(100, 5), (99, 2)], &[(101, 3), (102, 4)]);
        // submission at a visible level
        let after = view(&[(100, 8), (99, 2)], &[(101, 3), (102, 4)]);
        assert_eq!(
            check(&msg(1, 3, 100, 1), &before, &after, 2),
            Ok(Checked::Matches)
        );
        assert!(check(&msg(1, 2, 100, 1), &before, &after, 2).is_err());
        // a new best bid pushes the second level out of a 2-level view
        let after = view(&[(100, 5), (99, 2)], &[(101, 3), (102, 4)]);
        assert!(check(&msg(1, 1, 100, -1), &before, &after, 2).is_err());
        let pushed = view(&[(100, 5), (99, 2)], &[(100, 0), (101, 3)]);
        assert!(check(&msg(1, 1, 100, -1), &before, &pushed, 2).is_err());
        let pushed = view(&[(100, 5), (99, 2)], &[(100, 1), (101, 3)]);
        assert_eq!(
            check(&msg(1, 1, 100, -1), &before, &pushed, 2),
            Ok(Checked::Matches)
        );
        // beyond the visible depth: nothing may move
        assert_eq!(
            check(&msg(1, 1, 98, 1), &before, &before, 2),
            Ok(Checked::BeyondVisibleDepth)
        );
        // a deletion exposes a level from below
        let after = view(&[(99, 2), (97, 1)], &[(101, 3), (102, 4)]);
        assert_eq!(
            check(&msg(3, 5, 100, 1), &before, &after, 2),
            Ok(Checked::Matches)
        );
        // an execution away from the touch
        let after = view(&[(100, 5), (99, 1)], &[(101, 3), (102, 4)]);
        assert!(check(&msg(4, 1, 99, 1), &before, &after, 2).is_err());
        assert_eq!(
            check(&msg(2, 1, 99, 1), &before, &after, 2),
            Ok(Checked::Matches)
        );
        // a hidden execution that moved the book
        assert!(check(&msg(5, 1, 100, 1), &before, &after, 2).is_err());
        assert_eq!(
            check(&msg(5, 1, 100, 1), &before, &before, 2),
            Ok(Checked::Matches)
        );
    }

    #[test]
    fn a_side_with_room_is_known_completely() {
        let before = view(&[(100, 5)], &[]);
        let after = view(&[(100, 5), (98, 1)], &[]);
        assert_eq!(
            check(&msg(1, 1, 98, 1), &before, &after, 3),
            Ok(Checked::Matches)
        );
        // a level appearing from nowhere after a deletion
        let after = view(&[(97, 1)], &[]);
        assert!(check(&msg(3, 5, 100, 1), &before, &after, 3).is_err());
    }
}
