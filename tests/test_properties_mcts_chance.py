"""Property tests of the chance-node tree (lobzero.mcts.StochasticMctsBatch).

The reference below is a plain recursive-structure Stochastic MuZero search written from the
paper's appendix pseudocode (Node with ``is_chance``, ``select_child``, ``ucb_score``,
``backpropagate``) with this project's rules, each a line below: at a chance node the code
``argmax_c prior(c) / (N(c) + 1)`` (lowest code on ties) instead of a random draw, the Q of an
action is its afterstate's mean value, a state returns ``reward + discount * g`` into its
afterstate and an afterstate passes ``g`` unchanged to its state (one discount per environment
step), and the min-max statistics take in the Q values of actions. It must reproduce the Rust
tree's visit counts, values and node kinds slot by slot, exactly, on random trees.

Each property is shown able to fail: `ref_search` takes a planted ``defect`` (discounting at the
chance step, following the likeliest code only, ignoring the prior), and the tests assert the
defective reference disagrees with the Rust tree where the correct one agrees.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from lobzero.mcts import StochasticMctsBatch, stochastic_search

SETTINGS = settings(max_examples=40, deadline=None)

Step = tuple[bool, int]
"""An edge of a path from the root: (it leaves a chance node, action or code)."""
Model = Callable[[int, int, list[Step]], tuple[float, float, np.ndarray, np.ndarray]]
"""(tree, simulation, path to the new node) -> (reward, value, prior_logits [A],
outcome_logits [C]); a new afterstate ignores reward and prior_logits, a new state
outcome_logits."""


class RefNode:
    def __init__(self, is_chance: bool, slot: int, parent: int = -1) -> None:
        self.is_chance = is_chance
        self.slot = slot
        self.parent = parent
        self.visit_count = 0
        self.value_sum = 0.0
        self.reward = 0.0
        self.priors: list[float] = []
        self.children: dict[int, RefNode] = {}

    def value(self) -> float:
        return self.value_sum / self.visit_count


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


def ref_softmax(logits, legal=None) -> list[float]:
    legal = [True] * len(logits) if legal is None else list(legal)
    top = max(float(x) for x, ok in zip(logits, legal, strict=True) if ok)
    exps = [math.exp(float(x) - top) if ok else 0.0 for x, ok in zip(logits, legal, strict=True)]
    total = 0.0
    for e in exps:
        total += e
    return [e / total for e in exps]


def ref_search(
    root_logits: np.ndarray,
    root_values: np.ndarray,
    model: Model,
    num_simulations: int,
    legal: np.ndarray,
    discount: float,
    c_base: float,
    c_init: float,
    unvisited: str = "zero",
    defect: str | None = None,
) -> list[list[RefNode]]:
    """The nodes of each tree in slot order, after the search."""
    trees = []
    for b in range(root_logits.shape[0]):
        root = RefNode(False, 0)
        root.priors = ref_softmax(root_logits[b], legal[b])
        root.visit_count, root.value_sum = 1, float(root_values[b])
        nodes, stats = [root], RefMinMax()
        for s in range(num_simulations):
            node, path, steps = root, [root], []
            while True:
                if node.is_chance:
                    best, best_score = -1, -math.inf
                    for c, p in enumerate(node.priors):
                        n = node.children[c].visit_count if c in node.children else 0
                        score = {"greedy": p, "uniform": -n}.get(defect, p / (n + 1))
                        if score > best_score:
                            best, best_score = c, score
                else:
                    pb_base = math.log((node.visit_count + c_base + 1) / c_base) + c_init
                    unv = 0.0 if unvisited == "zero" else stats.normalize(node.value())
                    best, best_score = -1, -math.inf
                    for a, p in enumerate(node.priors):
                        if node is root and not legal[b][a]:
                            continue
                        child = node.children.get(a)
                        n = child.visit_count if child else 0
                        pb_c = pb_base * (math.sqrt(node.visit_count) / (n + 1))
                        vs = stats.normalize(child.value()) if child else unv
                        score = pb_c * p + vs
                        if score > best_score:
                            best, best_score = a, score
                steps.append((node.is_chance, best))
                if best not in node.children:
                    leaf = RefNode(not node.is_chance, len(nodes), node.slot)
                    node.children[best] = leaf
                    nodes.append(leaf)
                    break
                node = node.children[best]
                path.append(node)
            reward, value, prior_logits, outcome_logits = model(b, s, steps)
            if leaf.is_chance:
                leaf.priors = ref_softmax(outcome_logits)
            else:
                leaf.reward = float(np.float32(reward))
                leaf.priors = ref_softmax(prior_logits)
            path.append(leaf)
            g = float(np.float32(value))
            for nd in reversed(path):
                nd.value_sum += g
                nd.visit_count += 2 if defect == "double_count_chance" and nd.is_chance else 1
                if nd.is_chance:
                    stats.update(nd.value())
                    if defect == "discount_at_chance":
                        g = discount * g
                elif nd is not root:
                    g = nd.reward + discount * g
        trees.append(nodes)
    return trees


def drive(
    batch: StochasticMctsBatch, root_logits, root_values, model: Model, legal=None, noise=False
):
    """Runs `batch` with `model` answering each lane's new node, as `ref_search` does."""
    num_roots, a, c = batch.num_roots, batch.num_actions, batch.chance_outcomes
    batch.reset(root_logits, root_values, noise=noise, legal_mask=legal)
    paths: list[list[list[Step]]] = [[[]] for _ in range(num_roots)]
    for s in range(batch.num_simulations):
        slot = batch.next_slots()
        parent, index, from_chance = batch.select()
        reward = np.full(num_roots, np.nan, np.float32)  # rows a lane does not read
        value = np.zeros(num_roots, np.float32)
        prior = np.full((num_roots, a), np.nan, np.float32)
        outcome = np.full((num_roots, c), np.nan, np.float32)
        for b in range(num_roots):
            path = [*paths[b][parent[b]], (bool(from_chance[b]), int(index[b]))]
            assert len(paths[b]) == slot[b]
            paths[b].append(path)
            r, v, pl, ol = model(b, s, path)
            value[b] = v
            if from_chance[b]:
                reward[b], prior[b] = r, pl
            else:
                outcome[b] = ol
        batch.backup(reward, value, prior, outcome)


def random_model(rng: np.random.Generator, num_roots: int, sims: int, a: int, c: int) -> Model:
    """Path-independent random outputs, drawn up front: simulation s of tree b gets row [s, b]."""
    r = rng.normal(size=(sims, num_roots)).astype(np.float32)
    v = rng.normal(size=(sims, num_roots)).astype(np.float32)
    pl = (2 * rng.normal(size=(sims, num_roots, a))).astype(np.float32)
    ol = (2 * rng.normal(size=(sims, num_roots, c))).astype(np.float32)
    return lambda b, s, path: (r[s, b], v[s, b], pl[s, b], ol[s, b])


def assert_same_tree(batch: StochasticMctsBatch, trees: list[list[RefNode]]) -> None:
    visits, values, kinds = batch.node_visit_counts(), batch.node_values(), batch.node_is_chance()
    for b, nodes in enumerate(trees):
        n = len(nodes)
        np.testing.assert_array_equal(visits[b, :n], [x.visit_count for x in nodes])
        np.testing.assert_array_equal(values[b, :n], [x.value() for x in nodes])
        np.testing.assert_array_equal(kinds[b, :n], [x.is_chance for x in nodes])


def same_tree(batch: StochasticMctsBatch, trees: list[list[RefNode]]) -> bool:
    try:
        assert_same_tree(batch, trees)
    except AssertionError:
        return False
    return True


def visit_rule_holds(visits: np.ndarray, parents: np.ndarray) -> bool:
    """Every used slot has one visit more than its children together ([N] rows of one tree;
    unused slots have 0 visits and parent -1)."""
    used = visits > 0
    child_sum = np.zeros(len(visits), dtype=np.int64)
    np.add.at(child_sum, parents[1:][used[1:]], visits[1:][used[1:]])
    return bool((child_sum[used] == visits[used] - 1).all())


def ref_arrays(nodes: list[RefNode]) -> tuple[np.ndarray, np.ndarray]:
    return np.array([x.visit_count for x in nodes]), np.array([x.parent for x in nodes])


shapes = st.tuples(st.integers(1, 3), st.integers(1, 5), st.integers(1, 6), st.integers(1, 30))


@SETTINGS
@given(
    shapes,
    st.integers(0, 2**32),
    st.floats(0.5, 1.0),
    st.floats(0.5, 3.0),
    st.sampled_from(["zero", "parent"]),
    st.booleans(),
)
def test_matches_reference_search_exactly(shape, seed, discount, c_init, unvisited, masked):
    num_roots, a, c, sims = shape
    rng = np.random.default_rng(seed)
    legal = np.ones((num_roots, a), dtype=bool)
    if masked:
        legal = rng.random((num_roots, a)) < 0.6
        legal[np.arange(num_roots), rng.integers(0, a, num_roots)] = True
    root_logits = rng.normal(size=(num_roots, a)).astype(np.float32)
    root_values = rng.normal(size=num_roots).astype(np.float32)
    model = random_model(rng, num_roots, sims, a, c)
    batch = StochasticMctsBatch(
        num_roots,
        a,
        sims,
        c,
        discount=discount,
        pb_c_init=c_init,
        pb_c_base=50.0,
        unvisited_value=unvisited,
    )
    drive(batch, root_logits, root_values, model, legal=legal)
    ref = ref_search(
        root_logits, root_values, model, sims, legal, discount, 50.0, c_init, unvisited
    )
    assert_same_tree(batch, ref)
    expected_root = np.array(
        [[t[0].children[x].visit_count if x in t[0].children else 0 for x in range(a)] for t in ref]
    )
    np.testing.assert_array_equal(batch.root_visit_counts(), expected_root)


def test_planted_defects_in_the_reference_disagree():
    """The comparison above has power: each planted defect breaks the exact agreement on the
    same random tree where the correct reference agrees."""
    num_roots, a, c, sims, discount = 3, 3, 4, 40, 0.9
    rng = np.random.default_rng(5)
    root_logits = rng.normal(size=(num_roots, a)).astype(np.float32)
    root_values = rng.normal(size=num_roots).astype(np.float32)
    model = random_model(rng, num_roots, sims, a, c)
    legal = np.ones((num_roots, a), dtype=bool)
    batch = StochasticMctsBatch(num_roots, a, sims, c, discount=discount, pb_c_base=50.0)
    drive(batch, root_logits, root_values, model)
    args = (root_logits, root_values, model, sims, legal, discount, 50.0, 1.25)
    assert same_tree(batch, ref_search(*args))
    for defect in ("discount_at_chance", "greedy", "uniform", "double_count_chance"):
        assert not same_tree(batch, ref_search(*args, defect=defect)), defect
    # the visit rule of the next test catches a backup that counts chance nodes twice
    assert all(visit_rule_holds(*ref_arrays(t)) for t in ref_search(*args))
    assert not any(
        visit_rule_holds(*ref_arrays(t)) for t in ref_search(*args, defect="double_count_chance")
    )


@SETTINGS
@given(shapes, st.integers(0, 2**32), st.sampled_from(["muzero", "gumbel"]), st.booleans())
def test_visits_add_up_at_both_kinds_and_policy_sums_to_one(shape, seed, algorithm, noise):
    """Every node, decision or chance, has one visit more than its children together (its own
    expansion); node kinds alternate; the policy target sums to 1 and every chance prior too.
    Planted defects: a backup that counts chance nodes twice breaks the first rule
    (`test_planted_defects_in_the_reference_disagree`); a policy target over the root's visit
    count instead of its children's misses 1 (below)."""
    num_roots, a, c, sims = shape
    rng = np.random.default_rng(seed)
    batch = StochasticMctsBatch(num_roots, a, sims, c, algorithm=algorithm, seed=seed)
    model = random_model(rng, num_roots, sims, a, c)
    root_logits = rng.normal(size=(num_roots, a)).astype(np.float32)
    drive(batch, root_logits, np.zeros(num_roots, np.float32), model, noise=noise)
    visits, parents, kinds = batch.node_visit_counts(), batch.node_parents(), batch.node_is_chance()
    assert visits.shape == kinds.shape == (num_roots, batch.capacity)
    for b in range(num_roots):
        assert visit_rule_holds(visits[b], parents[b])
        assert (visits[b, 1:] > 0).all()  # simulation s expands slot s + 1
        assert (kinds[b, 1:] != kinds[b, parents[b, 1:]]).all()
        assert not kinds[b, 0]
    assert (batch.root_visit_counts().sum(axis=1) == sims).all()
    policy = batch.policy_target()
    assert (policy >= 0).all()
    np.testing.assert_allclose(policy.sum(axis=1), 1.0, atol=1e-5)
    # planted defect: visit shares over the root's own count (its expansion included) miss 1
    off_by_one = batch.root_visit_counts() / visits[:, :1]
    assert not np.allclose(off_by_one.sum(axis=1), 1.0, atol=1e-5)
    priors = batch.outcome_priors()
    np.testing.assert_allclose(priors[kinds].sum(axis=1), 1.0, atol=1e-12)


# The two-step chance bandit: action 0 leads to reward +1 with probability 0.9 and -5 with 0.1
# (expectation 0.4), action 1 to a sure +0.3. Latents are (root action, depth).
LIKELY = np.log(np.array([0.9, 0.1], np.float32))
SURE = np.array([0.0, -1000.0], np.float32)


def bandit_afterstate(state: np.ndarray, action: np.ndarray):
    first = np.where(state[:, 1] == 0, action, state[:, 0])
    logits = np.where((first == 0)[:, None], LIKELY, SURE).astype(np.float32)
    return np.stack([first, state[:, 1]], axis=1), np.zeros(len(state), np.float32), logits


def bandit_dynamics(afterstate: np.ndarray, code: np.ndarray):
    first, depth = afterstate[:, 0], afterstate[:, 1]
    reward = np.where(first == 0, np.where(code == 0, 1.0, -5.0), 0.3)
    reward = np.where(depth == 0, reward, 0.0).astype(np.float32)
    nxt = np.stack([first, depth + 1], axis=1)
    k = len(afterstate)
    return nxt, reward, np.zeros(k, np.float32), np.zeros((k, 2), np.float32)


def bandit_model(b: int, s: int, path: list[Step]):
    """The same bandit for `ref_search`, read off the path."""
    first, code = path[0][1], path[-1][1]
    reward = (1.0 if code == 0 else -5.0) if first == 0 else 0.3
    reward = reward if len(path) == 2 else 0.0
    return reward, 0.0, np.zeros(2, np.float32), LIKELY if first == 0 else SURE


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 1000), st.sampled_from(["muzero", "gumbel"]))
def test_chance_bandit_prefers_the_best_expectation(seed, algorithm):
    """Planted defect: a search whose chance nodes ignore the prior (``defect="uniform"`` in
    the reference) values action 0 at (1 - 5) / 2 and plays action 1."""
    b = 4
    obs = np.zeros((b, 2), np.float32)
    result = stochastic_search(
        lambda o: (o, np.zeros(b, np.float32), np.zeros((b, 2), np.float32)),
        bandit_afterstate,
        bandit_dynamics,
        obs,
        chance_outcomes=2,
        num_simulations=200,
        algorithm=algorithm,
        seed=seed,
    )
    assert (result.action == 0).all(), result.root_visit_counts
    q = result.batch.root_q_values()
    np.testing.assert_allclose(q[:, 0], 0.4, atol=0.05)
    legal = np.ones((1, 2), bool)
    zeros = np.zeros((1, 2), np.float32)
    for defect, best in ((None, 0), ("uniform", 1)):
        tree = ref_search(
            zeros, np.zeros(1), bandit_model, 200, legal, 0.997, 19652, 1.25, defect=defect
        )[0]
        visits = [tree[0].children[a].visit_count for a in range(2)]
        assert int(np.argmax(visits)) == best, (defect, visits)
