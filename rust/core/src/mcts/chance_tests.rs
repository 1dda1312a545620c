//! Properties of the chance-node tree, each shown able to fail with a planted [`Defect`].

use super::chance::Defect;
use super::*;
use crate::rng::Rng;

/// One step of a path from the root: (the edge leaves a chance node, action or code).
type Step = (bool, usize);

/// What the model returns for one lane: (reward, value, prior logits [A], outcome logits [C]).
type Output = (f32, f32, Vec<f32>, Vec<f32>);

/// Runs a whole search; `model(b, path)` answers for the node at the end of `path` (the edges
/// from the root to the new node; the last step says which kind of node it is).
fn drive(
    t: &mut StochasticMctsBatch,
    root_logits: &[f32],
    noise: bool,
    mut model: impl FnMut(usize, &[Step]) -> Output,
) {
    let cfg = t.config().clone();
    let (nb, na, nc) = (cfg.num_roots, cfg.num_actions, t.num_outcomes());
    t.reset(root_logits, &vec![0.0; nb], noise, None)
        .expect("reset");
    let mut paths: Vec<Vec<Vec<Step>>> = vec![vec![Vec::new()]; nb];
    let (mut p, mut k, mut c) = (vec![0i64; nb], vec![0i64; nb], vec![false; nb]);
    for _ in 0..cfg.num_simulations {
        let slots = t.next_slots();
        t.select(&mut p, &mut k, &mut c).expect("select");
        let (mut r, mut v) = (vec![0.0f32; nb], vec![0.0f32; nb]);
        let (mut pl, mut ol) = (vec![0.0f32; nb * na], vec![0.0f32; nb * nc]);
        for b in 0..nb {
            let mut path = paths[b][p[b] as usize].clone();
            path.push((c[b], k[b] as usize));
            let (reward, value, policy, outcomes) = model(b, &path);
            r[b] = reward;
            v[b] = value;
            pl[b * na..(b + 1) * na].copy_from_slice(&policy);
            ol[b * nc..(b + 1) * nc].copy_from_slice(&outcomes);
            assert_eq!(paths[b].len(), slots[b] as usize);
            paths[b].push(path);
        }
        t.backup(&r, &v, &pl, &ol).expect("backup");
    }
}

fn random_search(cfg: MctsConfig, nc: usize, seed: u64) -> StochasticMctsBatch {
    let (nb, na) = (cfg.num_roots, cfg.num_actions);
    let mut t = StochasticMctsBatch::new(cfg, nc).expect("valid config");
    let mut rng = Rng::new(seed);
    let root: Vec<f32> = (0..nb * na).map(|_| rng.normal() as f32).collect();
    drive(&mut t, &root, true, |_, _| {
        let mut draw = |n: usize| -> Vec<f32> { (0..n).map(|_| rng.normal() as f32).collect() };
        let (r, v) = (draw(1)[0], draw(1)[0]);
        (r, v, draw(na), draw(nc))
    });
    t
}

#[test]
fn visits_add_up_at_both_kinds_and_kinds_alternate() {
    for algorithm in [Algorithm::MuZero, Algorithm::Gumbel] {
        let mut cfg = MctsConfig::new(6, 3, 40);
        cfg.algorithm = algorithm;
        let t = random_search(cfg, 4, 5);
        let cap = t.tree().capacity();
        let (visits, parents) = (t.tree().node_visit_counts(), t.tree().node_parents());
        let kinds = t.node_is_chance();
        let mut chance_nodes = 0;
        for b in 0..6 {
            let used = t.tree().num_nodes()[b] as usize;
            assert_eq!(used, 41);
            let mut child_sum = vec![0i64; cap];
            for n in 1..used {
                let p = parents[b * cap + n] as usize;
                child_sum[p] += visits[b * cap + n];
                // a chance node hangs below a decision node and a decision node below a chance
                // node
                assert_ne!(kinds[b * cap + n], kinds[b * cap + p], "tree {b} slot {n}");
            }
            for n in 0..used {
                assert_eq!(child_sum[n], visits[b * cap + n] - 1, "tree {b} slot {n}");
                chance_nodes += kinds[b * cap + n] as usize;
            }
            assert!(!kinds[b * cap]);
        }
        assert!(
            chance_nodes > 6 * 10,
            "{algorithm:?}: {chance_nodes} chance nodes"
        );
        let root_visits = t.tree().root_visit_counts().expect("searched");
        assert!(root_visits
            .chunks(3)
            .all(|row| row.iter().sum::<i64>() == 40));
        let policy = t.tree().policy_target().expect("searched");
        for row in policy.chunks(3) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
    }
}

/// A model whose values satisfy the Bellman equations of both node kinds exactly: every reward
/// 0.25, discount 0.5, every state and afterstate value 0.5 (= 0.25 + 0.5 * 0.5, all exact in
/// binary). Every return the backup forms is then 0.5, so every node's mean value is exactly
/// 0.5. Planted defect: discounting on the chance step too makes the decision nodes' returns
/// 0.25 and the root's value drops below 0.5.
fn bellman_values(defect: Defect) -> Vec<f64> {
    let mut cfg = MctsConfig::new(3, 2, 60);
    cfg.discount = 0.5;
    let mut t = StochasticMctsBatch::new(cfg, 3).expect("valid");
    t.defect = defect;
    let mut rng = Rng::new(1);
    let mut root = vec![0.0f32; 6];
    root.iter_mut().for_each(|x| *x = rng.normal() as f32);
    t.reset(&root, &[0.5; 3], false, None).expect("reset");
    let (mut p, mut k, mut c) = ([0i64; 3], [0i64; 3], [false; 3]);
    for _ in 0..60 {
        t.select(&mut p, &mut k, &mut c).expect("select");
        let logits: Vec<f32> = (0..9).map(|_| rng.normal() as f32).collect();
        t.backup(&[0.25; 3], &[0.5; 3], &logits[..6], &logits)
            .expect("backup");
    }
    let used = t.tree().num_nodes();
    let cap = t.tree().capacity();
    let values = t.node_values();
    (0..3)
        .flat_map(|b| values[b * cap..b * cap + used[b] as usize].to_vec())
        .collect()
}

#[test]
fn bellman_consistent_model_gives_exact_values_at_both_kinds() {
    assert!(bellman_values(Defect::None).iter().all(|&v| v == 0.5));
    let planted = bellman_values(Defect::DiscountAtChance);
    assert!(
        planted.iter().any(|&v| v < 0.5),
        "the planted defect must show"
    );
}

/// Two-step chance tree: action 0 leads to reward +1 with probability 0.9 and -5 with 0.1
/// (expectation 0.4), action 1 to a sure +0.3; every value 0, rewards 0 deeper down. The
/// search must prefer action 0 (by expectation) in every tree. Planted defect: chance nodes
/// that ignore the prior (uniform over codes) value action 0 at (1 - 5) / 2 = -2 and prefer 1.
fn chance_bandit(algorithm: Algorithm, defect: Defect) -> (Vec<i64>, Vec<f32>) {
    let mut cfg = MctsConfig::new(4, 2, 300);
    cfg.algorithm = algorithm;
    cfg.seed = 3;
    let mut t = StochasticMctsBatch::new(cfg, 2).expect("valid");
    t.defect = defect;
    let likely = [(0.9f32).ln(), (0.1f32).ln()];
    let sure = [0.0f32, -1000.0];
    drive(&mut t, &[0.0; 8], true, |_, path| {
        let (from_chance, index) = path[path.len() - 1];
        let root_action = path[0].1;
        let outcome_logits = if root_action == 0 { likely } else { sure };
        let reward = match (path.len(), root_action, index) {
            (2, 0, 0) => 1.0,
            (2, 0, _) => -5.0,
            (2, _, _) => 0.3,
            _ => 0.0,
        };
        let reward = if from_chance { reward } else { f32::NAN }; // not read: must not matter
        (reward, 0.0, vec![0.0; 2], outcome_logits.to_vec())
    });
    let q = t.tree().root_q_values(false).expect("searched");
    (t.select_action(0.0).expect("searched"), q)
}

#[test]
fn chance_bandit_prefers_the_best_expectation() {
    for algorithm in [Algorithm::MuZero, Algorithm::Gumbel] {
        let (actions, q) = chance_bandit(algorithm, Defect::None);
        assert!(
            actions.iter().all(|&a| a == 0),
            "{algorithm:?}: {actions:?}"
        );
        // Q(action 0) approaches 0.9 - 0.5 = 0.4 from its (value 0) afterstate expansion
        assert!(q.chunks(2).all(|row| (row[0] - 0.4).abs() < 0.05), "{q:?}");
        let (planted, _) = chance_bandit(algorithm, Defect::UniformOutcome);
        assert!(
            planted.iter().all(|&a| a == 1),
            "{algorithm:?}: {planted:?}"
        );
    }
}

/// Whether every code's visit count at every chance node is at least `floor(N * prior)`, `N`
/// the node's visits less its own expansion (the lower quota of this rule, which is D'Hondt's
/// apportionment: `argmax prior / (n + 1)` never lets a code fall a whole visit behind).
fn lower_quota_holds(defect: Defect) -> bool {
    let (nb, nc) = (4, 5);
    let mut t = StochasticMctsBatch::new(MctsConfig::new(nb, 2, 80), nc).expect("valid");
    t.defect = defect;
    let mut rng = Rng::new(8);
    t.reset(&[0.0; 8], &[0.0; 4], false, None).expect("reset");
    let (mut p, mut k, mut c) = ([0i64; 4], [0i64; 4], [false; 4]);
    for _ in 0..80 {
        t.select(&mut p, &mut k, &mut c).expect("select");
        let draw = |rng: &mut Rng, n: usize| -> Vec<f32> {
            (0..n).map(|_| 2.0 * rng.normal() as f32).collect()
        };
        let (r, l) = (draw(&mut rng, nb), draw(&mut rng, nb * nc));
        t.backup(&r, &r, &l[..nb * 2], &l).expect("backup");
    }
    let cap = t.tree().capacity();
    let (visits, parents) = (t.tree().node_visit_counts(), t.tree().node_parents());
    let (kinds, priors) = (t.node_is_chance(), t.outcome_priors());
    for b in 0..nb {
        let used = t.tree().num_nodes()[b] as usize;
        for n in (0..used).filter(|&n| kinds[b * cap + n]) {
            let i = b * cap + n;
            let mut per_code = vec![0i64; nc];
            for m in (n + 1..used).filter(|&m| parents[b * cap + m] == n as i64) {
                per_code[t.tree().action_from_parent[b * cap + m] as usize] += visits[b * cap + m];
            }
            let total = (visits[i] - 1) as f64;
            for (code, &v) in per_code.iter().enumerate() {
                if v as f64 + 1.0 <= total * priors[i * nc + code] - 1e-9 {
                    return false;
                }
            }
        }
    }
    true
}

#[test]
fn chance_visits_keep_up_with_the_prior() {
    assert!(lower_quota_holds(Defect::None));
    assert!(
        !lower_quota_holds(Defect::UniformOutcome),
        "the planted defect must show"
    );
}

#[test]
fn chance_bad_input_is_an_error() {
    assert!(StochasticMctsBatch::new(MctsConfig::new(2, 3, 4), 0).is_err());
    let mut reuse = MctsConfig::new(2, 3, 4);
    reuse.reuse_subtree = true;
    assert!(StochasticMctsBatch::new(reuse, 4).is_err());
    let mut t = StochasticMctsBatch::new(MctsConfig::new(2, 3, 4), 4).expect("valid");
    let (mut p, mut k, mut c) = ([0i64; 2], [0i64; 2], [false; 2]);
    assert!(t.select(&mut p, &mut k, &mut c).is_err());
    t.reset(&[0.0; 6], &[0.0; 2], false, None).expect("ok");
    assert!(t
        .backup(&[0.0; 2], &[0.0; 2], &[0.0; 6], &[0.0; 8])
        .is_err());
    t.select(&mut p, &mut k, &mut c).expect("ok");
    assert!(c.iter().all(|&x| !x));
    // a chance expansion reads the outcome logits: NaN there is an error, NaN rewards are not
    let mut bad = [0.0f32; 8];
    bad[5] = f32::NAN;
    assert!(t.backup(&[0.0; 2], &[0.0; 2], &[0.0; 6], &bad).is_err());
    assert!(t
        .backup(&[0.0; 2], &[0.0; 2], &[0.0; 6], &[0.0; 7])
        .is_err());
    t.backup(&[f32::NAN; 2], &[0.0; 2], &[f32::NAN; 6], &[0.0; 8])
        .expect("rows a lane does not read are not checked");
    // one action: the second simulation goes below the afterstate, and reads the reward
    let mut one = StochasticMctsBatch::new(MctsConfig::new(2, 1, 4), 4).expect("valid");
    one.reset(&[0.0; 2], &[0.0; 2], false, None).expect("ok");
    one.select(&mut p, &mut k, &mut c).expect("ok");
    one.backup(&[0.0; 2], &[0.0; 2], &[0.0; 2], &[0.0; 8])
        .expect("ok");
    one.select(&mut p, &mut k, &mut c).expect("ok");
    assert!(c.iter().all(|&x| x), "below an afterstate comes a code");
    assert!(one
        .backup(&[f32::NAN; 2], &[0.0; 2], &[0.0; 2], &[0.0; 8])
        .is_err());
    assert!(one
        .backup(&[0.0; 2], &[0.0; 2], &[f32::NAN; 2], &[0.0; 8])
        .is_err());
    one.backup(&[0.0; 2], &[0.0; 2], &[0.0; 2], &[f32::NAN; 8])
        .expect("outcome rows are not read for a decision expansion");
}
