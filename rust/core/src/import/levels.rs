//! Full views of the book, sent whole after every change (LOBSTER's orderbook rows, Hyperliquid's
//! `l2Book` messages), turned into level updates: only what changed between two consecutive views.

/// Calls `emit(price, size)` for each level of `next` that is new or has a new size, and
/// `emit(price, zero)` for each level of `prev` that `next` no longer shows. Both are one side of
/// a view, at most a few dozen levels, so the quadratic scan costs less than a map would.
pub fn changed_levels<P: PartialEq + Copy, Q: PartialEq + Copy>(
    prev: &[(P, Q)],
    next: &[(P, Q)],
    zero: Q,
    mut emit: impl FnMut(P, Q),
) {
    for &(price, _) in prev {
        if !next.iter().any(|&(p, _)| p == price) {
            emit(price, zero);
        }
    }
    for &(price, size) in next {
        if !prev.iter().any(|&(p, q)| p == price && q == size) {
            emit(price, size);
        }
    }
}

/// True when the prices of one side run strictly from the best level outwards: falling for bids
/// (`side` +1), rising for asks (-1). A view with a repeated price would make the diff ambiguous.
pub fn best_first<P: PartialOrd>(side: i8, prices: impl Iterator<Item = P>) -> bool {
    let mut prev: Option<P> = None;
    for p in prices {
        if let Some(q) = &prev {
            let outward = if side > 0 { p < *q } else { p > *q };
            if !outward {
                return false;
            }
        }
        prev = Some(p);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changes_are_emitted() {
        let prev = [(100, 5), (99, 2), (98, 1)];
        let next = [(101, 1), (100, 5), (99, 3)];
        let mut out = Vec::new();
        changed_levels(&prev, &next, 0, |p, q| out.push((p, q)));
        assert_eq!(out, vec![(98, 0), (101, 1), (99, 3)]);
        out.clear();
        changed_levels(&next, &next, 0, |p, q| out.push((p, q)));
        assert!(out.is_empty());
    }

    #[test]
    fn order_of_a_side() {
        assert!(best_first(1, [3, 2, 1].into_iter()));
        assert!(!best_first(1, [3, 3, 1].into_iter()));
        assert!(best_first(-1, [1, 2, 3].into_iter()));
        assert!(!best_first(-1, [1, 3, 2].into_iter()));
    }
}
