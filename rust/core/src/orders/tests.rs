use super::*;

#[test]
fn priority_follows_price_time_rules() {
    let mut b = MboBook::default();
    b.add(1, 1, 100, 5).expect("a valid action");
    b.add(2, 1, 100, 3).expect("a valid action");
    b.add(3, 1, 100, 4).expect("a valid action");
    // a size decrease keeps the place
    b.modify(1, 1, 100, 2).expect("a valid action");
    assert_eq!(b.queues(1)[0].1, vec![(1, 2), (2, 3), (3, 4)]);
    // a size increase loses it
    b.modify(2, 1, 100, 6).expect("a valid action");
    assert_eq!(b.queues(1)[0].1, vec![(1, 2), (3, 4), (2, 6)]);
    // a price change loses it, and the old level's total follows
    b.modify(1, 1, 99, 2).expect("a valid action");
    assert_eq!(b.levels(1), vec![(100, 10), (99, 2)]);
    // partial fill keeps the place; a full one removes the order
    b.reduce(3, 1).expect("a valid action");
    assert_eq!(b.queues(1)[0].1, vec![(3, 3), (2, 6)]);
    b.reduce(3, 3).expect("a valid action");
    assert_eq!(b.queues(1)[0].1, vec![(2, 6)]);
}

#[test]
fn broken_rules_are_named() {
    let mut b = MboBook::default();
    b.add(1, -1, 100, 5).expect("a valid action");
    assert_eq!(b.add(1, -1, 101, 1), Err(OrderRule::DuplicateAdd(1)));
    assert_eq!(b.reduce(9, 1), Err(OrderRule::UnknownOrder(9)));
    assert_eq!(b.add(2, -1, 100, 0), Err(OrderRule::NonPositiveSize(0)));
    assert_eq!(b.add(2, -1, 100, -3), Err(OrderRule::NonPositiveSize(-3)));
    assert!(matches!(b.reduce(1, 6), Err(OrderRule::TooLarge { .. })));
    assert_eq!(b.modify(1, 1, 100, 5), Err(OrderRule::SideChange(1)));
    assert_eq!(b.add(3, 0, 100, 1), Err(OrderRule::BadSide(0)));
}

#[test]
fn flush_emits_only_levels_whose_total_changed() {
    let mut b = MboBook::default();
    b.add(1, 1, 100, 5).expect("a valid action");
    b.add(2, -1, 101, 5).expect("a valid action");
    let mut out = Vec::new();
    b.flush(|s, p, q| out.push((s, p, q)));
    assert_eq!(out, vec![(1, 100, 5), (-1, 101, 5)]);
    // a cancel and an add of the same size at one level: the total is unchanged
    b.reduce(1, 5).expect("a valid action");
    b.add(3, 1, 100, 5).expect("a valid action");
    b.reduce(2, 5).expect("a valid action");
    out.clear();
    b.flush(|s, p, q| out.push((s, p, q)));
    assert_eq!(out, vec![(-1, 101, 0)]);
    assert!(b.levels(-1).is_empty());
}

/// The low 7 bits of the hash (where a small table takes its bucket) of 1,000 consecutive ES
/// prices in 1e-9 (a 0.25 tick: 250,000,000, seven zero low bits) take every one of their 128
/// values. Planted defect: the multiplication alone (what `IdHasher` does for order ids, after
/// a shift too small to reach these bits) leaves them at a handful of values.
#[test]
fn price_hash_spreads_prices_with_zero_low_bits() {
    fn low_bits<H: Hasher + Default>(prices: &[i64]) -> usize {
        let mut seen = std::collections::HashSet::new();
        for &p in prices {
            let mut h = H::default();
            h.write_i64(p);
            seen.insert(h.finish() & 0x7f);
        }
        seen.len()
    }
    #[derive(Default)]
    struct MultiplyOnly(u64);
    impl Hasher for MultiplyOnly {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, _: &[u8]) {}
        fn write_u64(&mut self, n: u64) {
            self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    let prices: Vec<i64> = (0..1000)
        .map(|k| 4_700_000_000_000 + k * 250_000_000)
        .collect();
    assert_eq!(low_bits::<PriceHasher>(&prices), 128);
    assert!(low_bits::<MultiplyOnly>(&prices) <= 2);
}
