use super::*;
use crate::rng::Rng;

/// Runs a full search where every expansion returns `reward = arm_value[root action]`, value 0
/// (a bandit at depth 1, no further reward below), random logits.
fn bandit_search(cfg: MctsConfig, arm_values: &[f32], noise: bool) -> MctsBatch {
    let (nb, na) = (cfg.num_roots, cfg.num_actions);
    let sims = cfg.num_simulations;
    let mut t = MctsBatch::new(cfg).expect("valid config");
    t.reset(&vec![0.0; nb * na], &vec![0.0; nb], noise, None)
        .expect("reset");
    let (mut p, mut a) = (vec![0i64; nb], vec![0i64; nb]);
    for _ in 0..sims {
        t.select(&mut p, &mut a).expect("select");
        let r: Vec<f32> = (0..nb)
            .map(|b| {
                if p[b] == 0 {
                    arm_values[a[b] as usize]
                } else {
                    0.0
                }
            })
            .collect();
        t.backup(&r, &vec![0.0; nb], &vec![0.0; nb * na])
            .expect("backup");
    }
    t
}

fn random_search(cfg: MctsConfig, seed: u64, noise: bool) -> MctsBatch {
    let (nb, na) = (cfg.num_roots, cfg.num_actions);
    let sims = cfg.num_simulations;
    let mut rng = Rng::new(seed);
    let mut draw = |n: usize| -> Vec<f32> { (0..n).map(|_| rng.normal() as f32).collect() };
    let mut t = MctsBatch::new(cfg).expect("valid config");
    t.reset(&draw(nb * na), &draw(nb), noise, None)
        .expect("reset");
    let (mut p, mut a) = (vec![0i64; nb], vec![0i64; nb]);
    for _ in 0..sims {
        t.select(&mut p, &mut a).expect("select");
        t.backup(&draw(nb), &draw(nb), &draw(nb * na))
            .expect("backup");
    }
    t
}

fn check_visit_invariant(t: &MctsBatch) {
    let (nb, cap) = (t.cfg.num_roots, t.capacity());
    let visits = t.node_visit_counts();
    let parents = t.node_parents();
    for b in 0..nb {
        let mut child_sum = vec![0i64; cap];
        for n in 1..t.num_nodes[b] as usize {
            child_sum[parents[b * cap + n] as usize] += visits[b * cap + n];
        }
        for n in 0..t.num_nodes[b] as usize {
            assert_eq!(child_sum[n], visits[b * cap + n] - 1, "tree {b} node {n}");
        }
    }
}

#[test]
fn muzero_visits_add_up_and_policy_sums_to_one() {
    for algorithm in [Algorithm::MuZero, Algorithm::Gumbel] {
        let mut cfg = MctsConfig::new(8, 4, 30);
        cfg.algorithm = algorithm;
        let t = random_search(cfg, 3, true);
        check_visit_invariant(&t);
        let visits = t.root_visit_counts().expect("searched");
        for b in 0..8 {
            assert_eq!(visits[b * 4..b * 4 + 4].iter().sum::<i64>(), 30);
        }
        let policy = t.policy_target().expect("searched");
        for row in policy.chunks(4) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
    }
}

#[test]
fn bandit_most_visited_is_best_arm() {
    let arms = [0.1, 0.5, 0.9, 0.3, 0.2];
    for algorithm in [Algorithm::MuZero, Algorithm::Gumbel] {
        let mut cfg = MctsConfig::new(4, 5, 256);
        cfg.algorithm = algorithm;
        let mut t = bandit_search(cfg, &arms, true);
        let visits = t.root_visit_counts().expect("searched");
        for row in visits.chunks(5) {
            let best = (0..5).max_by_key(|&a| row[a]).expect("five arms");
            assert_eq!(best, 2, "{algorithm:?}: {row:?}");
        }
        assert!(t.select_action(0.0).expect("ok").iter().all(|&a| a == 2));
    }
}

#[test]
fn same_seed_same_search() {
    let mut cfg = MctsConfig::new(4, 3, 20);
    cfg.seed = 11;
    let a = random_search(cfg.clone(), 5, true);
    let b = random_search(cfg.clone(), 5, true);
    assert_eq!(a.root_visit_counts(), b.root_visit_counts());
    cfg.seed = 12;
    let c = random_search(cfg, 5, true);
    assert_eq!(c.root_visit_counts().expect("ok").iter().sum::<i64>(), 80);
}

#[test]
fn schedule_halves() {
    let s = gumbel::considered_visit_schedule(4, 16);
    assert_eq!(s.len(), 16);
    assert_eq!(&s[..4], &[0, 0, 0, 0]);
    assert_eq!(gumbel::considered_visit_schedule(1, 3), vec![0, 1, 2]);
}

#[test]
fn gumbel_visits_only_considered() {
    let mut cfg = MctsConfig::new(16, 10, 12);
    cfg.algorithm = Algorithm::Gumbel;
    cfg.max_considered_actions = 3;
    let mut t = random_search(cfg, 9, true);
    let considered = t.considered_actions().expect("ok");
    let visits = t.root_visit_counts().expect("ok");
    let actions = t.select_action(1.0).expect("ok");
    for b in 0..16 {
        assert_eq!(
            considered[b * 10..b * 10 + 10]
                .iter()
                .filter(|&&x| x)
                .count(),
            3
        );
        for a in 0..10 {
            if !considered[b * 10 + a] {
                assert_eq!(visits[b * 10 + a], 0);
            }
        }
        assert!(considered[b * 10 + actions[b] as usize]);
    }
}

#[test]
fn reuse_keeps_a_valid_tree() {
    let mut cfg = MctsConfig::new(4, 3, 25);
    cfg.reuse_subtree = true;
    let mut t = random_search(cfg, 2, false);
    let played = t.select_action(0.0).expect("ok");
    let visits = t.root_visit_counts().expect("ok");
    let kept = t
        .reuse_subtree(&played, &[0.0; 12], &[0.0; 4], false, None)
        .expect("reuse");
    for b in 0..4 {
        let expected = visits[b * 3 + played[b] as usize];
        assert_eq!(t.node_visit_counts()[b * t.capacity()], expected);
        assert!(kept[b * t.capacity()] > 0);
    }
    check_visit_invariant(&t);
    let (mut p, mut a) = (vec![0i64; 4], vec![0i64; 4]);
    for _ in 0..25 {
        t.select(&mut p, &mut a).expect("select");
        t.backup(&[0.1; 4], &[0.2; 4], &[0.0; 12]).expect("backup");
    }
    check_visit_invariant(&t);
}

#[test]
fn bad_input_is_an_error() {
    let mut t = MctsBatch::new(MctsConfig::new(2, 3, 4)).expect("valid");
    let (mut p, mut a) = (vec![0i64; 2], vec![0i64; 2]);
    assert!(t.select(&mut p, &mut a).is_err());
    assert!(t.reset(&[0.0; 5], &[0.0; 2], false, None).is_err());
    assert!(t.reset(&[f32::NAN; 6], &[0.0; 2], false, None).is_err());
    let mask = [true, false, false, false, false, false];
    assert!(t.reset(&[0.0; 6], &[0.0; 2], false, Some(&mask)).is_err());
    t.reset(&[0.0; 6], &[0.0; 2], false, None).expect("ok");
    assert!(t.backup(&[0.0; 2], &[0.0; 2], &[0.0; 6]).is_err());
    t.select(&mut p, &mut a).expect("ok");
    assert!(t.select(&mut p, &mut a).is_err());
    assert!(t.backup(&[0.0; 2], &[f32::NAN; 2], &[0.0; 6]).is_err());
    assert!(MctsBatch::new(MctsConfig::new(0, 3, 4)).is_err());
}
