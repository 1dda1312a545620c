//! Binance's rule for the order of depth diffs around a REST snapshot, shared by the
//! `binance-stream` and `binance-csv` importers (the same ids, `U` / `u` / `pu` on the stream,
//! `first_update_id` / `last_update_id` / `pu` in the CSV files).
//!
//! Right after a snapshot of id `S`:
//! - futures (diffs carry `pu`): a diff with `u < S` is stale; the first one applied must
//!   straddle the snapshot (`U <= S <= u`) or continue it exactly (`pu == S`: the diff right
//!   after the last one the snapshot holds, which Binance's procedure passes over when the diff
//!   with `u == S` was not recorded);
//! - spot (no `pu`): `u <= S` is stale; the first one applied must start at `U <= S + 1`.
//!
//! After that, futures diffs need `pu` = the previous `u`, spot diffs `U` = the previous `u + 1`.

/// What to do with a diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sequence {
    /// Older than the snapshot: dropped (counted).
    Stale,
    /// Continues the book.
    Applies,
    /// Does not continue the book: a gap.
    Gap,
}

/// The first diff after a snapshot of id `snapshot_id`.
pub fn after_snapshot(snapshot_id: u64, first_id: u64, last_id: u64, pu: Option<u64>) -> Sequence {
    let (stale, applies) = match pu {
        Some(pu) => (
            last_id < snapshot_id,
            first_id <= snapshot_id || pu == snapshot_id,
        ),
        None => (
            last_id <= snapshot_id,
            first_id <= snapshot_id.saturating_add(1),
        ),
    };
    if stale {
        Sequence::Stale
    } else if applies {
        Sequence::Applies
    } else {
        Sequence::Gap
    }
}

/// A diff after one that ended at `previous_last_id`.
pub fn continues(previous_last_id: u64, first_id: u64, pu: Option<u64>) -> bool {
    match pu {
        Some(pu) => pu == previous_last_id,
        None => first_id == previous_last_id.saturating_add(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn futures_after_a_snapshot() {
        // snapshot 10: u < 10 stale; U <= 10 <= u applies; pu == 10 applies (the next diff)
        assert_eq!(after_snapshot(10, 5, 9, Some(4)), Sequence::Stale);
        assert_eq!(after_snapshot(10, 8, 10, Some(7)), Sequence::Applies);
        assert_eq!(after_snapshot(10, 8, 12, Some(7)), Sequence::Applies);
        assert_eq!(after_snapshot(10, 13, 15, Some(10)), Sequence::Applies);
        // planted for the stream importer before this rule was shared: it refused this one
        assert_eq!(after_snapshot(10, 13, 15, Some(11)), Sequence::Gap);
    }

    #[test]
    fn spot_after_a_snapshot() {
        assert_eq!(after_snapshot(10, 5, 10, None), Sequence::Stale);
        assert_eq!(after_snapshot(10, 11, 12, None), Sequence::Applies);
        assert_eq!(after_snapshot(10, 9, 12, None), Sequence::Applies);
        assert_eq!(after_snapshot(10, 12, 13, None), Sequence::Gap);
    }

    #[test]
    fn later_diffs() {
        assert!(continues(12, 99, Some(12)));
        assert!(!continues(12, 13, Some(11)));
        assert!(continues(12, 13, None));
        assert!(!continues(12, 14, None));
    }
}
