"""API tests of lobzero.mcts: shapes, dtypes, errors, determinism, search(), subtree reuse."""

from __future__ import annotations

import lobzero
import numpy as np
import pytest
from lobzero import ConfigError, InvalidValueError
from lobzero.mcts import MctsBatch, search

B, A, S = 8, 5, 16


def model(latent: np.ndarray, action: np.ndarray):
    """A deterministic stand-in dynamics: latent [B, 4] float32, action [B] int64."""
    nxt = np.tanh(latent + 0.1 * (action[:, None] + 1)).astype(np.float32)
    reward = nxt[:, 0].copy()
    value = nxt[:, 1].copy()
    logits = np.repeat(nxt[:, 2:3], A, axis=1) * np.arange(A, dtype=np.float32)
    return nxt, reward, value, logits


def root(obs: np.ndarray):
    return obs, obs[:, 1].copy(), np.zeros((obs.shape[0], A), np.float32)


def drive(batch: MctsBatch, seed: int = 0, noise: bool = True) -> None:
    rng = np.random.default_rng(seed)
    latents = np.zeros((B, batch.capacity, 4), np.float32)
    latents[:, 0] = rng.normal(size=(B, 4))
    batch.reset(np.zeros((B, A), np.float32), latents[:, 0, 1].copy(), noise=noise)
    for s in range(batch.num_simulations):
        parent, action = batch.select()
        assert parent.dtype == np.int64 and action.dtype == np.int64
        assert (parent <= s).all() and ((action >= 0) & (action < A)).all()
        nxt, r, v, logits = model(latents[np.arange(B), parent], action)
        latents[:, s + 1] = nxt
        batch.backup(r, v, logits)


def test_shapes_and_dtypes():
    batch = MctsBatch(B, A, S, discount=0.99, seed=1)
    assert "MctsBatch" in lobzero.__all__ and lobzero.MctsBatch is MctsBatch
    assert batch.capacity == S + 1 and batch.algorithm == "muzero"
    drive(batch)
    counts = batch.root_visit_counts()
    assert counts.shape == (B, A) and counts.dtype == np.int64
    assert (counts.sum(axis=1) == S).all()
    assert batch.root_values().shape == (B,) and batch.root_values().dtype == np.float32
    target = batch.policy_target()
    assert target.shape == (B, A) and target.dtype == np.float32
    np.testing.assert_allclose(target, counts / S, rtol=1e-6)
    assert batch.select_action(0.0).shape == (B,)
    np.testing.assert_array_equal(batch.select_action(0.0), counts.argmax(axis=1))


def test_same_seed_same_result_and_other_seed_differs():
    runs = []
    for seed in (7, 7, 8):
        batch = MctsBatch(B, A, S, seed=seed)
        drive(batch)
        runs.append((batch.root_visit_counts(), batch.select_action(1.0)))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert not np.array_equal(runs[0][0], runs[2][0])


def test_non_contiguous_and_float64_inputs_are_accepted():
    batch = MctsBatch(2, 3, 2)
    logits = np.zeros((3, 2), np.float64).T  # non-contiguous, float64
    batch.reset(logits, np.zeros(2), noise=False)
    batch.select()
    batch.backup([0.0, 1.0], np.zeros(2), np.zeros((2, 3)))
    assert batch.root_visit_counts().sum() == 2


def test_bad_input_raises_clear_errors():
    with pytest.raises(ConfigError, match="num_roots"):
        MctsBatch(0, 3, 4)
    with pytest.raises(ConfigError, match="unknown mcts config key"):
        MctsBatch(2, 3, 4, discunt=0.9)
    with pytest.raises(ConfigError, match="algorithm"):
        MctsBatch(2, 3, 4, algorithm="alphago")
    with pytest.raises(ConfigError, match="discount"):
        MctsBatch(2, 3, 4, discount=1.5)
    batch = MctsBatch(2, 3, 1)
    with pytest.raises(ConfigError, match="before reset"):
        batch.select()
    with pytest.raises(ConfigError, match="before reset"):
        batch.root_visit_counts()
    with pytest.raises(ConfigError, match="shape"):
        batch.reset(np.zeros((2, 4)), np.zeros(2))
    with pytest.raises(InvalidValueError, match="finite"):
        batch.reset(np.array([[0, np.nan, 0], [0, 0, 0]]), np.zeros(2))
    with pytest.raises(InvalidValueError, match="no legal action"):
        batch.reset(np.zeros((2, 3)), np.zeros(2), legal_mask=np.array([[1, 0, 0], [0, 0, 0]]))
    batch.reset(np.zeros((2, 3)), np.zeros(2))
    with pytest.raises(ConfigError, match="without a select"):
        batch.backup(np.zeros(2), np.zeros(2), np.zeros((2, 3)))
    batch.select()
    with pytest.raises(ConfigError, match="twice"):
        batch.select()
    with pytest.raises(InvalidValueError, match="finite"):
        batch.backup(np.zeros(2), np.array([np.inf, 0]), np.zeros((2, 3)))
    batch.backup(np.zeros(2), np.zeros(2), np.zeros((2, 3)))
    with pytest.raises(ConfigError, match="budget"):
        batch.select()
    with pytest.raises(InvalidValueError, match="temperature"):
        batch.select_action(-1.0)


def test_legal_mask_is_respected():
    batch = MctsBatch(B, A, 40, seed=2)
    mask = np.ones((B, A), bool)
    mask[:, 1] = False
    batch.reset(np.zeros((B, A), np.float32), np.zeros(B, np.float32), legal_mask=mask)
    for _ in range(40):
        batch.select()
        batch.backup(np.ones(B), np.zeros(B), np.zeros((B, A)))
    assert (batch.root_visit_counts()[:, 1] == 0).all()
    assert (batch.policy_target()[:, 1] == 0).all()
    assert (batch.select_action(2.0) != 1).all()


def test_search_helper_numpy_and_batch_reuse():
    obs = np.random.default_rng(0).normal(size=(B, 4)).astype(np.float32)
    result = search(root, model, obs, num_simulations=S, seed=3)
    assert result.root_visit_counts.sum() == B * S
    batch = MctsBatch(B, A, S, seed=3)
    again = search(root, model, obs, batch=batch)
    np.testing.assert_array_equal(result.root_visit_counts, again.root_visit_counts)
    # the helper gives what driving the batch by hand gives
    manual = MctsBatch(B, A, S, seed=3)
    latents = np.zeros((B, S + 1, 4), np.float32)
    latents[:, 0] = obs
    manual.reset(np.zeros((B, A), np.float32), obs[:, 1].copy(), noise=True)
    for s in range(S):
        parent, action = manual.select()
        nxt, r, v, logits = model(latents[np.arange(B), parent], action)
        latents[:, s + 1] = nxt
        manual.backup(r, v, logits)
    np.testing.assert_array_equal(manual.root_visit_counts(), result.root_visit_counts)


def test_search_helper_with_torch_tensors():
    torch = pytest.importorskip("torch")

    def t_root(o):
        return o, o[:, 1].clone(), torch.zeros(o.shape[0], A)

    def t_model(latent, action):
        assert isinstance(action, torch.Tensor) and action.dtype == torch.int64
        nxt, r, v, logits = model(latent.numpy(), action.numpy())
        return torch.from_numpy(nxt), torch.from_numpy(r), torch.from_numpy(v), logits

    obs = np.random.default_rng(0).normal(size=(B, 4)).astype(np.float32)
    a = search(t_root, t_model, torch.from_numpy(obs), num_simulations=S, seed=3)
    b = search(root, model, obs, num_simulations=S, seed=3)
    np.testing.assert_array_equal(a.root_visit_counts, b.root_visit_counts)


def test_gumbel_search_runs_and_targets_sum_to_one():
    batch = MctsBatch(B, A, 8, algorithm="gumbel", max_considered_actions=4, seed=5)
    drive(batch)
    np.testing.assert_allclose(batch.policy_target().sum(axis=1), 1.0, atol=1e-5)
    considered = batch.considered_actions()
    assert (considered.sum(axis=1) == 4).all()
    assert considered[np.arange(B), batch.select_action()].all()
    with pytest.raises(ConfigError, match="reuse_subtree"):
        MctsBatch(B, A, 8, algorithm="gumbel", reuse_subtree=True)


def test_gumbel_scale_multiplies_the_root_noise():
    """``gumbel_scale`` 0 with noise searches exactly as without noise, and 1 does not (a tree
    that ignored the key, the planted defect, fails the first assertion; one that ignored the
    noise flag fails the second)."""

    def outcome(noise: bool, **config: float) -> tuple[np.ndarray, np.ndarray]:
        batch = MctsBatch(B, A, 8, algorithm="gumbel", seed=5, **config)
        drive(batch, noise=noise)
        return batch.select_action(), batch.policy_target()

    quiet_action, quiet_policy = outcome(False)
    zero_action, zero_policy = outcome(True, gumbel_scale=0.0)
    np.testing.assert_array_equal(zero_action, quiet_action)
    np.testing.assert_array_equal(zero_policy, quiet_policy)
    noisy_action, _ = outcome(True, gumbel_scale=1.0)
    assert (noisy_action != quiet_action).any()
    with pytest.raises(ConfigError, match="gumbel_scale"):
        MctsBatch(B, A, 8, algorithm="gumbel", gumbel_scale=-1.0)


def test_subtree_reuse_keeps_the_played_child():
    batch = MctsBatch(B, A, S, reuse_subtree=True, seed=4)
    assert batch.capacity == 2 * S + 1
    drive(batch, noise=False)
    played = batch.select_action(0.0)
    child_visits = batch.root_visit_counts()[np.arange(B), played]
    kept = batch.reuse_subtree(played, np.zeros((B, A)), np.zeros(B), noise=False)
    assert kept.shape == (B, batch.capacity)
    assert (batch.node_visit_counts()[:, 0] == child_visits).all()
    assert (kept[:, 0] > 0).all()
    assert (batch.next_slots() == (kept >= 0).sum(axis=1)).all()
    for _ in range(S):
        batch.select()
        batch.backup(np.zeros(B), np.zeros(B), np.zeros((B, A)))
    assert (batch.root_visit_counts().sum(axis=1) == child_visits - 1 + S).all()
    with pytest.raises(ConfigError, match="reuse_subtree"):
        MctsBatch(B, A, S).reuse_subtree(played, np.zeros((B, A)), np.zeros(B))


@pytest.mark.parametrize("name", ["num_roots", "num_actions", "num_simulations"])
def test_negative_counts_are_config_errors(name):
    """Before: OverflowError ("can't convert negative int to unsigned"), naming nothing."""
    counts = {"num_roots": 2, "num_actions": 3, "num_simulations": 4, name: -1}
    with pytest.raises(ConfigError, match=f"{name} must be >= 1, got -1"):
        MctsBatch(**counts)
