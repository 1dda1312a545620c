"""API tests of lobzero.mcts.StochasticMctsBatch and stochastic_search: shapes, dtypes, errors,
determinism, which latents each function is given, torch tensors."""

from __future__ import annotations

import lobzero
import numpy as np
import pytest
from lobzero import ConfigError, InvalidValueError
from lobzero.mcts import MctsBatch, StochasticMctsBatch, search, stochastic_search

B, A, C, S = 6, 4, 3, 24


def root_fn(obs: np.ndarray):
    """State latents are [K, 3]: (kind 0 = state, depth, a running hash of the path)."""
    latent = np.stack([np.zeros(len(obs)), np.zeros(len(obs)), obs[:, 0]], axis=1)
    return latent.astype(np.float32), obs[:, 0].copy(), np.zeros((len(obs), A), np.float32)


def afterstate_fn(state: np.ndarray, action: np.ndarray):
    assert state.shape[1:] == (3,) and action.dtype == np.int64
    assert (state[:, 0] == 0).all(), "afterstate_fn must get state latents"
    assert ((action >= 0) & (action < A)).all()
    h = np.tanh(state[:, 2] + 0.3 * action + 0.1)
    after = np.stack([np.ones(len(state)), state[:, 1], h], axis=1).astype(np.float32)
    logits = (np.arange(C)[None, :] * h[:, None]).astype(np.float32)
    return after, (0.5 * h).astype(np.float32), logits


def dynamics_fn(after: np.ndarray, code: np.ndarray):
    assert (after[:, 0] == 1).all(), "dynamics_fn must get afterstate latents"
    assert ((code >= 0) & (code < C)).all()
    h = np.tanh(after[:, 2] - 0.2 * code)
    nxt = np.stack([np.zeros(len(after)), after[:, 1] + 1, h], axis=1).astype(np.float32)
    logits = (np.arange(A)[None, :] * h[:, None]).astype(np.float32)
    return nxt, h.astype(np.float32), (0.3 * h).astype(np.float32), logits


def obs(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(B, 2)).astype(np.float32)


def test_shapes_dtypes_and_node_kinds():
    assert "StochasticMctsBatch" in lobzero.__all__
    batch = StochasticMctsBatch(B, A, S, C, discount=0.99, seed=1)
    assert (batch.num_roots, batch.num_actions, batch.chance_outcomes) == (B, A, C)
    assert batch.capacity == S + 1 and batch.algorithm == "muzero"
    assert "StochasticMctsBatch(" in repr(batch)
    result = stochastic_search(root_fn, afterstate_fn, dynamics_fn, obs(), batch=batch)
    assert result.batch is batch and batch.simulations_done == S
    counts = result.root_visit_counts
    assert counts.shape == (B, A) and counts.dtype == np.int64 and (counts.sum(axis=1) == S).all()
    assert result.policy_target.shape == (B, A) and result.policy_target.dtype == np.float32
    np.testing.assert_allclose(result.policy_target, counts / S, rtol=1e-6)
    assert result.root_value.shape == (B,) and result.action.shape == (B,)
    kinds = batch.node_is_chance()
    assert kinds.shape == (B, S + 1) and kinds.dtype == np.bool_
    assert kinds.sum(axis=1).min() > 0 and (~kinds[:, 1:]).sum(axis=1).min() > 0
    assert batch.node_values().shape == (B, S + 1) and batch.node_values().dtype == np.float64
    priors = batch.outcome_priors()
    assert priors.shape == (B, S + 1, C)
    np.testing.assert_allclose(priors[kinds].sum(axis=1), 1.0)
    assert (priors[~kinds] == 0).all()
    q = batch.root_q_values()
    assert q.shape == (B, A) and np.isfinite(q[counts > 0]).all()


def test_same_seed_same_search_and_gumbel_runs():
    runs = [
        stochastic_search(
            root_fn,
            afterstate_fn,
            dynamics_fn,
            obs(),
            chance_outcomes=C,
            num_simulations=S,
            seed=seed,
            temperature=1.0,
        )
        for seed in (3, 3, 4)
    ]
    np.testing.assert_array_equal(runs[0].root_visit_counts, runs[1].root_visit_counts)
    np.testing.assert_array_equal(runs[0].action, runs[1].action)
    assert not np.array_equal(runs[0].root_visit_counts, runs[2].root_visit_counts)
    gumbel = stochastic_search(
        root_fn,
        afterstate_fn,
        dynamics_fn,
        obs(),
        chance_outcomes=C,
        num_simulations=S,
        algorithm="gumbel",
        max_considered_actions=2,
    )
    assert gumbel.batch.algorithm == "gumbel"
    assert (gumbel.root_visit_counts[~gumbel.batch.considered_actions()] == 0).all()
    np.testing.assert_allclose(gumbel.policy_target.sum(axis=1), 1.0, atol=1e-5)


def test_one_outcome_is_the_deterministic_search_with_an_extra_step():
    """With C = 1 every afterstate has a single code, so it has at most one child, which holds
    all its visits but its own expansion."""

    def one_code(state, action):
        after, value, logits = afterstate_fn(state, action)
        return after, value, logits[:, :1]

    batch = StochasticMctsBatch(B, A, S, 1, seed=0)
    with pytest.raises(ValueError, match=r"afterstate_fn must return logits of shape \[6, 1\]"):
        stochastic_search(root_fn, afterstate_fn, dynamics_fn, obs(), batch=batch)
    result = stochastic_search(root_fn, one_code, dynamics_fn, obs(), batch=batch)
    kinds, visits, parents = batch.node_is_chance(), batch.node_visit_counts(), batch.node_parents()
    for b in range(B):
        for n in np.flatnonzero(kinds[b]):
            children = np.flatnonzero(parents[b] == n)
            assert len(children) <= 1  # one code: at most one child
            assert visits[b, children].sum() == visits[b, n] - 1
    assert (result.root_visit_counts.sum(axis=1) == S).all()


def test_errors_are_clear():
    with pytest.raises(ConfigError, match="chance_outcomes"):
        StochasticMctsBatch(2, 3, 4, 0)
    with pytest.raises(ConfigError, match="reuse_subtree"):
        StochasticMctsBatch(2, 3, 4, 2, reuse_subtree=True)
    with pytest.raises(ConfigError, match="unknown mcts config key"):
        StochasticMctsBatch(2, 3, 4, 2, colour="red")
    batch = StochasticMctsBatch(2, 3, 4, 2)
    with pytest.raises(ConfigError, match="before reset"):
        batch.select()
    batch.reset(np.zeros((2, 3)), np.zeros(2), noise=False)
    with pytest.raises(ConfigError, match="without a select"):
        batch.backup(np.zeros(2), np.zeros(2), np.zeros((2, 3)), np.zeros((2, 2)))
    _, _, from_chance = batch.select()
    assert not from_chance.any()
    with pytest.raises(ConfigError, match="outcome_logits"):
        batch.backup(np.zeros(2), np.zeros(2), np.zeros((2, 3)), np.zeros((2, 3)))
    bad = np.zeros((2, 2))
    bad[1, 1] = np.nan
    with pytest.raises(InvalidValueError, match=r"outcome_logits\[1\]"):
        batch.backup(np.zeros(2), np.zeros(2), np.zeros((2, 3)), bad)
    with pytest.raises(InvalidValueError, match=r"value\[0\]"):
        batch.backup(np.zeros(2), [np.nan, 0], np.zeros((2, 3)), np.zeros((2, 2)))
    # rows of the other kind are not read: NaN reward and prior logits are fine here
    batch.backup([np.nan] * 2, np.zeros(2), np.full((2, 3), np.nan), np.zeros((2, 2)))
    with pytest.raises(TypeError, match="chance_outcomes"):
        stochastic_search(root_fn, afterstate_fn, dynamics_fn, obs())
    with pytest.raises(TypeError, match="not both"):
        stochastic_search(
            root_fn,
            afterstate_fn,
            dynamics_fn,
            obs(),
            batch=StochasticMctsBatch(B, A, S, C),
            discount=0.5,
        )


def test_deterministic_tree_unchanged_next_to_it():
    """The deterministic search still runs as before beside a stochastic one."""

    def rec(latent, action):
        nxt = np.tanh(latent + 0.1 * (action[:, None] + 1)).astype(np.float32)
        return nxt, nxt[:, 0].copy(), nxt[:, 1].copy(), np.zeros((len(latent), A), np.float32)

    plain = search(
        lambda o: (o, o[:, 0].copy(), np.zeros((B, A), np.float32)), rec, obs(), num_simulations=S
    )
    assert isinstance(plain.batch, MctsBatch)
    assert (plain.root_visit_counts.sum(axis=1) == S).all()


def test_torch_latents_stay_tensors():
    torch = pytest.importorskip("torch")

    def t_root(o):
        latent, value, logits = root_fn(o.numpy())
        return torch.from_numpy(latent), torch.from_numpy(value), torch.from_numpy(logits)

    def t_after(state, action):
        assert isinstance(state, torch.Tensor) and action.dtype == torch.int64
        return tuple(torch.from_numpy(x) for x in afterstate_fn(state.numpy(), action.numpy()))

    def t_dyn(after, code):
        assert isinstance(after, torch.Tensor) and code.dtype == torch.int64
        return tuple(torch.from_numpy(x) for x in dynamics_fn(after.numpy(), code.numpy()))

    o = obs()
    with_torch = stochastic_search(
        t_root, t_after, t_dyn, torch.from_numpy(o), chance_outcomes=C, num_simulations=S
    )
    with_numpy = stochastic_search(
        root_fn, afterstate_fn, dynamics_fn, o, chance_outcomes=C, num_simulations=S
    )
    np.testing.assert_array_equal(with_torch.root_visit_counts, with_numpy.root_visit_counts)
