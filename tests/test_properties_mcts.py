"""Property tests of the batched MCTS (lobzero.mcts) against the MuZero pseudocode.

The reference below is written straight from the MuZero pseudocode (Node, MinMaxStats,
ucb_score, backpropagate), with the Q of a child taken as reward + discount * value as the
issue specifies, no noise and ties broken by the lowest action index. It must reproduce the
Rust tree's visit counts exactly on random trees.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from lobzero.mcts import MctsBatch

SETTINGS = settings(max_examples=60, deadline=None)


class RefNode:
    def __init__(self, prior: float) -> None:
        self.prior = prior
        self.visit_count = 0
        self.value_sum = 0.0
        self.reward = 0.0
        self.children: dict[int, RefNode] = {}
        self.priors: list[float] = []

    def value(self) -> float:
        return self.value_sum / self.visit_count if self.visit_count else 0.0


class RefMinMax:
    def __init__(self) -> None:
        self.minimum = math.inf
        self.maximum = -math.inf

    def update(self, value: float) -> None:
        self.minimum = min(self.minimum, value)
        self.maximum = max(self.maximum, value)

    def normalize(self, value: float) -> float:
        if self.maximum > self.minimum:
            return min(max((value - self.minimum) / (self.maximum - self.minimum), 0.0), 1.0)
        return 0.0


def ref_softmax(logits: np.ndarray, legal: list[bool]) -> list[float]:
    top = max(float(x) for x, ok in zip(logits, legal, strict=True) if ok)
    exps = [math.exp(float(x) - top) if ok else 0.0 for x, ok in zip(logits, legal, strict=True)]
    total = 0.0
    for e in exps:
        total += e
    return [e / total for e in exps]


def ref_search(
    root_logits,
    root_values,
    rewards,
    values,
    logits,
    legal,
    discount,
    c_base,
    c_init,
    unvisited="zero",
):
    """Visit counts [B, A] of the reference search fed simulation s the model output [s]."""
    num_roots, num_actions = root_logits.shape
    out = np.zeros((num_roots, num_actions), dtype=np.int64)
    for b in range(num_roots):
        root = RefNode(1.0)
        root.priors = ref_softmax(root_logits[b], list(legal[b]))
        root.visit_count, root.value_sum = 1, float(root_values[b])
        stats = RefMinMax()
        for s in range(len(rewards)):
            node, path, at_root = root, [root], True
            while True:
                pb_base = math.log((node.visit_count + c_base + 1) / c_base) + c_init
                unv = 0.0 if unvisited == "zero" else stats.normalize(node.value())
                best, best_score = -1, -math.inf
                for a in range(num_actions):
                    if at_root and not legal[b][a]:
                        continue
                    child = node.children.get(a)
                    n = child.visit_count if child else 0
                    pb_c = pb_base * (math.sqrt(node.visit_count) / (n + 1))
                    if child is not None:
                        vs = stats.normalize(child.reward + discount * child.value())
                    else:
                        vs = unv
                    score = pb_c * node.priors[a] + vs
                    if best < 0 or score > best_score:
                        best, best_score = a, score
                at_root = False
                if best not in node.children:
                    leaf = RefNode(node.priors[best])
                    node.children[best] = leaf
                    break
                node = node.children[best]
                path.append(node)
            leaf.reward = float(rewards[s][b])
            leaf.priors = ref_softmax(logits[s][b], [True] * num_actions)
            path.append(leaf)
            value = float(values[s][b])
            for nd in reversed(path):
                nd.value_sum += value
                nd.visit_count += 1
                if nd is not root:
                    stats.update(nd.reward + discount * nd.value())
                value = nd.reward + discount * value
        for a, child in root.children.items():
            out[b, a] = child.visit_count
    return out


def run(batch: MctsBatch, rng: np.random.Generator, legal=None, noise=False):
    """Drives `batch` with random model outputs; returns them for replay in the reference."""
    num_roots, num_actions = batch.num_roots, batch.num_actions
    root_logits = rng.normal(size=(num_roots, num_actions)).astype(np.float32)
    root_values = rng.normal(size=num_roots).astype(np.float32)
    batch.reset(root_logits, root_values, noise=noise, legal_mask=legal)
    rewards, values, logits = [], [], []
    for _ in range(batch.num_simulations):
        batch.select()
        rewards.append(rng.normal(size=num_roots).astype(np.float32))
        values.append(rng.normal(size=num_roots).astype(np.float32))
        logits.append(rng.normal(size=(num_roots, num_actions)).astype(np.float32) * 2)
        batch.backup(rewards[-1], values[-1], logits[-1])
    return root_logits, root_values, rewards, values, logits


shapes = st.tuples(st.integers(1, 4), st.integers(2, 6), st.integers(1, 30))


@SETTINGS
@given(
    shapes,
    st.integers(0, 2**32),
    st.floats(0.5, 1.0),
    st.floats(0.5, 3.0),
    st.sampled_from(["zero", "parent"]),
    st.booleans(),
)
def test_matches_pseudocode_reference(shape, seed, discount, c_init, unvisited, masked):
    num_roots, num_actions, sims = shape
    rng = np.random.default_rng(seed)
    legal = np.ones((num_roots, num_actions), dtype=bool)
    if masked:
        legal = rng.random((num_roots, num_actions)) < 0.6
        legal[np.arange(num_roots), rng.integers(0, num_actions, num_roots)] = True
    batch = MctsBatch(
        num_roots,
        num_actions,
        sims,
        discount=discount,
        pb_c_init=c_init,
        unvisited_value=unvisited,
        pb_c_base=50.0,
    )
    data = run(batch, rng, legal=legal)
    expected = ref_search(*data, legal, discount, 50.0, c_init, unvisited)
    np.testing.assert_array_equal(batch.root_visit_counts(), expected)


@SETTINGS
@given(shapes, st.integers(0, 2**32), st.sampled_from(["muzero", "gumbel"]), st.booleans())
def test_visits_add_up_policy_sums_to_one_q_in_unit_range(shape, seed, algorithm, noise):
    num_roots, num_actions, sims = shape
    batch = MctsBatch(num_roots, num_actions, sims, algorithm=algorithm, seed=seed)
    run(batch, np.random.default_rng(seed), noise=noise)
    visits, parents = batch.node_visit_counts(), batch.node_parents()
    assert visits.shape == (num_roots, batch.capacity)
    for b in range(num_roots):
        child_sum = np.zeros(batch.capacity, dtype=np.int64)
        np.add.at(child_sum, parents[b, 1:], visits[b, 1:])
        np.testing.assert_array_equal(child_sum, visits[b] - 1)
    assert (batch.root_visit_counts().sum(axis=1) == sims).all()
    policy = batch.policy_target()
    assert policy.dtype == np.float32 and (policy >= 0).all()
    np.testing.assert_allclose(policy.sum(axis=1), 1.0, atol=1e-5)
    q = batch.root_q_values(normalized=True)
    visited = batch.root_visit_counts() > 0
    assert np.isfinite(q[visited]).all() and np.isnan(q[~visited]).all()
    assert ((q[visited] >= 0) & (q[visited] <= 1)).all()


def bandit(batch: MctsBatch, arms: np.ndarray, noise: bool) -> None:
    """Reward = arm value on the root's edges, 0 below; every value 0; uniform priors."""
    b, a = batch.num_roots, batch.num_actions
    batch.reset(np.zeros((b, a), np.float32), np.zeros(b, np.float32), noise=noise)
    for _ in range(batch.num_simulations):
        parent, action = batch.select()
        reward = np.where(parent == 0, arms[action], 0.0).astype(np.float32)
        batch.backup(reward, np.zeros(b, np.float32), np.zeros((b, a), np.float32))


arm_values = st.lists(st.floats(0.0, 1.0), min_size=2, max_size=5).filter(
    lambda v: sorted(v)[-1] - sorted(v)[-2] > 0.1
)


@settings(max_examples=25, deadline=None)
@given(arm_values, st.integers(0, 1000))
def test_bandit_converges_to_best_arm(values, seed):
    arms = np.array(values, dtype=np.float32)
    best = int(arms.argmax())
    batch = MctsBatch(4, len(arms), 400, seed=seed)
    bandit(batch, arms, noise=True)
    assert (batch.root_visit_counts().argmax(axis=1) == best).all()
    assert (batch.select_action(0.0) == best).all()


def test_more_simulations_find_the_best_arm_more_often():
    arms = np.array([0.2, 0.55, 0.5, 0.1], dtype=np.float32)
    share = []
    for sims in (8, 64, 512):
        batch = MctsBatch(32, 4, sims, seed=3)
        bandit(batch, arms, noise=True)
        share.append(float((batch.root_visit_counts().argmax(axis=1) == 1).mean()))
    assert share[-1] == 1.0 and share[0] <= share[-1]


def test_shallow_tree_with_known_values():
    """Depth-2 tree: the best first action is the one with the best reward over two steps."""
    r1 = np.array([0.5, 0.0, 0.3], dtype=np.float32)
    r2 = np.array([[0.0, 0.1, 0.0], [1.0, 0.0, 0.0], [0.2, 0.0, 0.1]], dtype=np.float32)
    best = 1  # 0 + 1.0 beats 0.5 + 0.1 and 0.3 + 0.2
    for algorithm in ("muzero", "gumbel"):
        batch = MctsBatch(2, 3, 300, discount=1.0, algorithm=algorithm, seed=1)
        batch.reset(np.zeros((2, 3), np.float32), np.zeros(2, np.float32), noise=False)
        path = {0: ()}
        for _ in range(300):
            slot = batch.next_slots()[0]
            parent, action = batch.select()
            p = path[int(parent[0])] + (int(action[0]),)
            path[int(slot)] = p
            r = r1[p[0]] if len(p) == 1 else (r2[p[0], p[1]] if len(p) == 2 else 0.0)
            batch.backup(
                np.full(2, r, np.float32), np.zeros(2, np.float32), np.zeros((2, 3), np.float32)
            )
        if algorithm == "muzero":
            assert (batch.root_visit_counts().argmax(axis=1) == best).all()
        else:  # sequential halving ends with two equally visited finalists
            assert (batch.policy_target().argmax(axis=1) == best).all()
        assert (batch.select_action(0.0) == best).all(), algorithm


@SETTINGS
@given(
    st.integers(1, 4),
    st.integers(2, 12),
    st.integers(1, 20),
    st.integers(1, 6),
    st.integers(0, 2**32),
)
def test_gumbel_stays_in_considered_set(num_roots, num_actions, sims, k, seed):
    batch = MctsBatch(
        num_roots, num_actions, sims, algorithm="gumbel", max_considered_actions=k, seed=seed
    )
    rng = np.random.default_rng(seed)
    legal = rng.random((num_roots, num_actions)) < 0.7
    legal[:, 0] = True
    run(batch, rng, legal=legal, noise=True)
    considered = batch.considered_actions()
    assert (considered <= legal).all()
    np.testing.assert_array_equal(considered.sum(axis=1), np.minimum(k, legal.sum(axis=1)))
    assert (batch.root_visit_counts()[~considered] == 0).all()
    action = batch.select_action(1.0)
    assert considered[np.arange(num_roots), action].all()
    assert (batch.policy_target()[~legal] == 0).all()


@settings(max_examples=25, deadline=None)
@given(arm_values, st.sampled_from([8, 12, 16]))
def test_gumbel_small_budget_improves_the_policy(values, sims):
    arms = np.array(values, dtype=np.float32)
    best = int(arms.argmax())
    batch = MctsBatch(2, len(arms), sims, algorithm="gumbel", seed=0)
    bandit(batch, arms, noise=False)
    policy = batch.policy_target()
    assert (policy[:, best] > 1.0 / len(arms)).all()
    assert (policy.argmax(axis=1) == best).all()
    assert (batch.select_action() == best).all()
