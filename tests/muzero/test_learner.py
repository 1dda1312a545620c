"""The MuZero loss: gradient scaling as in the pseudocode, learning on a fixed batch, policies."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from lobzero.exceptions import ConfigError
from lobzero.muzero import (
    Learner,
    MuZeroConfig,
    Planner,
    ReplayBuffer,
    build_network,
    muzero_loss,
    scale_gradient,
)
from lobzero.muzero.replay_buffer import Batch


def random_batch(rng: np.random.Generator, b: int = 32, k: int = 3, obs_dim: int = 6, a: int = 4):
    policy = rng.random((b, k + 1, a)).astype(np.float32)
    policy /= policy.sum(-1, keepdims=True)
    return Batch(
        obs=rng.normal(size=(b, obs_dim)).astype(np.float32),
        actions=rng.integers(0, a, size=(b, k)),
        value_target=rng.normal(0, 5, size=(b, k + 1)).astype(np.float32),
        reward_target=rng.normal(0, 1, size=(b, k + 1)).astype(np.float32),
        policy_target=policy,
        value_mask=np.ones((b, k + 1), np.float32),
        reward_mask=np.concatenate([np.zeros((b, 1)), np.ones((b, k))], 1).astype(np.float32),
        policy_mask=np.ones((b, k + 1), np.float32),
        weights=np.ones(b, np.float32),
        lanes=np.zeros(b, np.int64),
        positions=np.arange(b, dtype=np.int64),
    )


def test_scale_gradient() -> None:
    x = torch.tensor([1.0, -2.0], requires_grad=True)
    y = scale_gradient(x, 0.3)
    assert torch.equal(y, x)
    (y * torch.tensor([2.0, 5.0])).sum().backward()
    assert torch.allclose(x.grad, torch.tensor([0.6, 1.5]))


@pytest.mark.parametrize("support_size", [0, 20])
def test_loss_gradient_matches_the_formula(support_size: int) -> None:
    """d loss / d θ = Σ_k c_k · d l_k / d θ with c_0 = 1 and c_k = (1/K) · 0.5^(k-1): each
    unrolled step scaled by 1/K, and every step back through the dynamics by 0.5."""
    torch.manual_seed(0)
    k = 3
    config = MuZeroConfig(support_size=support_size, latent_dim=8, hidden=16, blocks=1)
    net = build_network(config, 6, 4)
    batch = random_batch(np.random.default_rng(1), k=k)
    muzero_loss(net, batch, config).total.backward()
    got = {n: p.grad.clone() for n, p in net.named_parameters() if p.grad is not None}

    # the same losses, one step at a time, without any gradient scaling
    obs = torch.as_tensor(batch.obs)
    expected = {n: torch.zeros_like(g) for n, g in got.items()}
    for step in range(k + 1):
        net.zero_grad()
        latent, value, logits = net.initial_inference(obs)
        reward = None
        for j in range(step):
            latent, reward, value, logits = net.recurrent_inference(
                latent, torch.as_tensor(batch.actions[:, j])
            )
        loss = config.value_loss_weight * net.codec.loss(
            value, torch.as_tensor(batch.value_target[:, step])
        )
        loss = loss - (
            torch.as_tensor(batch.policy_target[:, step]) * torch.log_softmax(logits, -1)
        ).sum(-1)
        if reward is not None:
            loss = loss + net.codec.loss(reward, torch.as_tensor(batch.reward_target[:, step]))
        loss.mean().backward()
        c = 1.0 if step == 0 else (1.0 / k) * 0.5 ** (step - 1)
        # the 0.5 applies to what flows back into the latent of earlier steps: parameters of
        # the step's own heads and last dynamics see 1/K only; compare through the
        # representation network, which every step reaches through all earlier dynamics
        for n, p in net.named_parameters():
            if n.startswith("representation_net") and p.grad is not None:
                expected[n] += c * p.grad
    for n in expected:
        if n.startswith("representation_net"):
            torch.testing.assert_close(got[n], expected[n], rtol=1e-4, atol=1e-6)


def test_loss_falls_on_a_fixed_batch() -> None:
    torch.manual_seed(0)
    config = MuZeroConfig(
        support_size=20,
        value_transform="sqrt",
        latent_dim=16,
        hidden=32,
        blocks=1,
        learning_rate=3e-3,
    )
    net = build_network(config, 6, 4)
    learner = Learner(net, config, total_updates=100)
    batch = random_batch(np.random.default_rng(2))
    first, _ = learner.update(batch)
    for _ in range(99):
        last, priorities = learner.update(batch)
    assert last["loss"] < 0.5 * first["loss"], (first, last)
    assert priorities.shape == (32,) and (priorities >= 0).all()


def test_target_network_refreshes_on_schedule() -> None:
    config = MuZeroConfig(
        support_size=0, latent_dim=8, hidden=16, blocks=1, target_update_interval=3
    )
    net = build_network(config, 6, 4)
    learner = Learner(net, config, total_updates=10)
    batch = random_batch(np.random.default_rng(3))
    before = [p.clone() for p in learner.target_net.parameters()]
    learner.update(batch)
    learner.update(batch)
    assert all(
        torch.equal(a, b) for a, b in zip(before, learner.target_net.parameters(), strict=True)
    )
    learner.update(batch)
    for a, b in zip(learner.target_net.parameters(), net.parameters(), strict=True):
        assert torch.equal(a, b)


def test_search_policies_sum_to_one() -> None:
    torch.manual_seed(0)
    config = MuZeroConfig(latent_dim=8, hidden=16, blocks=1, num_simulations=12)
    net = build_network(config, 6, 4)
    plan = Planner(net, config).run(
        np.random.default_rng(0).normal(size=(9, 6)).astype(np.float32), noise=True, temperature=1.0
    )
    assert plan.policy.shape == (9, 4) and plan.action.shape == (9,)
    np.testing.assert_allclose(plan.policy.sum(1), 1.0, rtol=1e-5)
    assert ((plan.action >= 0) & (plan.action < 4)).all()


def test_prioritized_sampling_weights() -> None:
    """P(i) ∝ p_i^α and w_i = (N·P(i))^-β / max w, with the learner's priorities."""
    buffer = ReplayBuffer(4, 1, obs_dim=1, num_actions=2, alpha=1.0, eps=0.0)
    for i in range(4):
        buffer.add(
            np.array([[i]]),
            np.array([0]),
            np.array([0.0]),
            np.array([0.0]),
            np.array([[0.5, 0.5]]),
            np.array([False]),
            np.array([False]),
        )
    buffer.update_priorities(np.zeros(4, np.int64), np.arange(4), np.array([1.0, 1.0, 2.0, 4.0]))
    rng = np.random.default_rng(0)
    batch = buffer.sample(20_000, unroll_steps=1, td_steps=1, discount=1.0, beta=1.0, rng=rng)
    freq = np.bincount(batch.positions, minlength=4) / 20_000
    np.testing.assert_allclose(freq, [0.125, 0.125, 0.25, 0.5], atol=0.015)
    # w = (4·P)^-1 / max: P = 1/8 → 2 (the max) → 1; P = 1/2 → 0.5 / 2 = 0.25
    w = {int(p): float(x) for p, x in zip(batch.positions, batch.weights, strict=True)}
    assert w[0] == pytest.approx(1.0) and w[3] == pytest.approx(0.25)


def test_config_errors_name_the_setting() -> None:
    with pytest.raises(ConfigError, match="discount"):
        MuZeroConfig(discount=1.5).validate()
    with pytest.raises(ConfigError, match="temperatures"):
        MuZeroConfig(temperatures=(1.0,)).validate()
    with pytest.raises(ConfigError, match="unknown option"):
        MuZeroConfig.from_dict({"simulations": 3})


def test_priorities_are_errors_on_the_heads_scale() -> None:
    """The defect: priorities in dollars tracked PnL noise (5th-99th percentile 0.05-374), so
    a few noisy steps took most of the sampling mass. "transformed" measures |v − z| where the
    heads learn it; a sample without a value target gets NaN (its priority is kept)."""
    torch.manual_seed(0)
    config = MuZeroConfig(latent_dim=8, hidden=16, blocks=1, support_size=20, value_scale=4.0)
    net = build_network(config, 6, 4)
    batch = random_batch(np.random.default_rng(3))
    batch.value_mask[:3, 0] = 0.0
    got = muzero_loss(net, batch, config).priorities
    with torch.no_grad():
        _, value, _ = net.initial_inference(torch.as_tensor(batch.obs))
        v = net.codec.to_scalar(value).double()
    z = torch.as_tensor(batch.value_target[:, 0]).double()
    want = (net.codec.encode(v) - net.codec.encode(z)).abs().numpy()
    assert np.isnan(got[:3]).all()
    np.testing.assert_allclose(got[3:], want[3:], rtol=1e-5)
    np.testing.assert_allclose(want[3:], (v - z).abs().numpy()[3:] / 4.0, rtol=1e-5)
    dollars = muzero_loss(net, batch, config.replace(priority_scale="value")).priorities
    np.testing.assert_allclose(dollars[3:], (v - z).abs().numpy()[3:], rtol=1e-5)


def test_default_discount_fits_the_trading_episode() -> None:
    """The defect: 0.997 (a 333-step horizon) on 300-step episodes of a signal with a ~14 s
    half-life made values far-future PnL noise. The default horizon 1/(1-γ) must be shorter
    than a quarter of the default 5-minute episode of 1 s decisions."""
    from lobzero.evaluation.compare import CompareConfig

    horizon = 1.0 / (1.0 - MuZeroConfig().discount)
    assert horizon <= CompareConfig().env.episode_steps / 4


def test_consistency_loss_learns_the_next_latent() -> None:
    """EfficientZero's temporal consistency: on transitions whose next observation is a fixed
    function of the observation and the action, the predicted next latent's projection comes
    to match the real one's (cosine similarity near 1); the target branch gets no gradient."""
    torch.manual_seed(0)
    config = MuZeroConfig(
        latent_dim=8, hidden=32, blocks=1, support_size=10, consistency_weight=2.0
    )
    net = build_network(config, 6, 4)
    learner = Learner(net, config, total_updates=150)
    rng = np.random.default_rng(4)
    for _ in range(150):
        batch = random_batch(rng)
        shift = batch.actions[..., None].astype(np.float32)
        batch.next_obs = np.stack(
            [np.roll(batch.obs, k + 1, axis=1) + shift[:, k] for k in range(3)], axis=1
        )
        batch.next_obs_mask = np.ones((32, 3), np.float32)
        stats, _ = learner.update(batch)
    # summed over K = 3 steps: -3 is a perfect match
    assert stats["consistency_loss"] < -2.5
    latent = torch.rand(4, 8, requires_grad=True)
    obs = torch.randn(4, 6, requires_grad=True)
    net.consistency_loss(latent, obs).sum().backward()
    assert latent.grad is not None and obs.grad is None


def test_value_prefix_learns_sums_and_the_search_reads_steps() -> None:
    """EfficientZero's value prefix: the reward head learns the running sum of the unrolled
    rewards (targets: cumulative sums, known while every reward before is), and the planner
    turns prefixes back into one step's reward (the difference) for the search. Planted defect
    it caught while written: the sum included the unused column 0 of the reward targets."""
    from lobzero.muzero.planner import pack_prefix_state, unpack_prefix_state

    torch.manual_seed(0)
    config = MuZeroConfig(
        latent_dim=8, hidden=32, blocks=1, support_size=0, value_scale=1.0, value_prefix=True
    )
    net = build_network(config, 6, 4)
    # 600 updates: the LSTM reads the next latent, which must first learn to carry the action
    learner = Learner(net, config, total_updates=600)
    rng = np.random.default_rng(5)
    batch = random_batch(rng)
    batch.reward_target[:, 1:] = batch.actions.astype(np.float32) - 1.5  # reward = action - 1.5
    for _ in range(600):
        learner.update(batch)
    with torch.no_grad():
        latent, _, _ = net.initial_inference(torch.as_tensor(batch.obs))
        state = None
        for k in range(3):
            latent, out, state = net.dynamics_prefix(
                latent, torch.as_tensor(batch.actions[:, k]), state
            )
        predicted = net.codec.to_scalar(out).numpy()
    np.testing.assert_allclose(predicted, batch.reward_target[:, 1:].sum(1), atol=0.3)
    # the search's packed latent round-trips
    h = torch.randn(5, 32)
    packed = pack_prefix_state(torch.rand(5, 8), (h, -h), torch.arange(5.0), 3)
    lat, (h2, c2), prefix, depth = unpack_prefix_state(packed, 8)
    assert torch.equal(h2, h) and torch.equal(c2, -h) and depth.tolist() == [3] * 5
    assert lat.shape == (5, 8) and prefix.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    plan = Planner(net, config.replace(num_simulations=12)).run(batch.obs[:4], noise=False)
    assert plan.policy.shape == (4, 4) and np.isfinite(plan.root_value).all()


def test_the_value_prefix_knows_the_action_the_next_latent_does_not() -> None:
    """The first step's value prefix is the step's reward, which on the market depends on the
    trade (its fee is paid on the change of position) where the next latent holds only the new
    position. With the next-latent head zeroed, every action leads to the same next latent, and
    the prefix must still tell the actions apart through the dynamics' hidden layer. Planted
    defect it catches: the LSTM fed the next latent alone (lobzero's design until 2026-12-02;
    the prefixes of all four actions are then equal), where on the market the value prefix
    lost money on every seed (−0.26 / −0.27 / −1.00 % on the ablation's test range)."""
    torch.manual_seed(0)
    config = MuZeroConfig(
        latent_dim=8, hidden=32, blocks=1, support_size=0, value_scale=1.0, value_prefix=True
    )
    net = build_network(config, 6, 4)
    torch.nn.init.normal_(net.reward_head[-1].weight)
    with torch.no_grad():
        for p in net.next_latent_head.parameters():
            p.zero_()
    latent = net.representation(torch.randn(1, 6)).expand(4, -1)
    nxt, out, _ = net.dynamics_prefix(latent, torch.arange(4), None)
    assert torch.equal(nxt, nxt[:1].expand(4, -1))  # the same next latent for every action
    assert float((out - out[:1]).abs().max()) > 1e-3


def test_the_value_prefix_reads_the_next_latent() -> None:
    """EfficientZero's LSTM reads the dynamics' next latent, so the value-prefix loss shapes
    the latents that f reads: in a one-step unroll its gradient reaches the next-latent head.
    Planted defect it catches: the LSTM fed the dynamics' hidden layer (lobzero before
    2026-12-02), where that gradient is exactly zero and, on CartPole, the dynamics learned
    almost nothing of what an action does (greedy return 24 after 6,000 steps, 137 with the
    latent)."""
    torch.manual_seed(0)
    config = MuZeroConfig(
        latent_dim=8, hidden=32, blocks=1, support_size=0, value_scale=1.0, value_prefix=True
    )
    net = build_network(config, 6, 4)
    # a nonzero reward head (a new network's output layer is zero, which stops every gradient)
    torch.nn.init.normal_(net.reward_head[-1].weight)
    latent = net.representation(torch.randn(16, 6))
    _, out, _ = net.dynamics_prefix(latent, torch.randint(0, 4, (16,)), None)
    net.zero_grad()
    ((out - 1.0) ** 2).sum().backward()
    head = [p.grad for p in net.next_latent_head.parameters()]
    assert all(g is not None for g in head)
    assert sum(float(g.abs().sum()) for g in head if g is not None) > 0.0


def test_the_learner_reports_features_the_frozen_normaliser_clips() -> None:
    """The defect (CartPole, 2026-12-03): the normaliser's statistics froze after a 200-step
    random warm-up, where the cart position had sd 0.055, so every |x| > 0.55 of the ±2.4 track
    reached the ±10 clip and looked the same to the network; seeds 1 and 2 then plateaued at
    ~140-270 steps, the cart drifting off the track, and nothing said why. Planted here: that
    warm-up and a batch of a policy that roams the track. The learner logs the share of
    clipped rows and the feature, the trainer warns once; with the observation space's bounds
    (CartPole declares ±4.8 for x) nothing is clipped."""
    from lobzero.muzero.trainer import _ScaleWarnings

    rng = np.random.default_rng(0)
    warm_up = np.zeros((208, 4), np.float32)
    warm_up[:, 0] = rng.normal(0.0, 0.055, 208)
    warm_up[:, 1:] = rng.normal(0.0, 0.5, (208, 3))
    batch = random_batch(rng, obs_dim=4, a=2)
    batch.obs[:, 0] = rng.uniform(-2.4, 2.4, len(batch.obs))
    batch.obs[:, 1:] = rng.normal(0.0, 0.5, (len(batch.obs), 3))
    low = np.array([-4.8, -np.inf, -0.418, -np.inf], np.float32)
    stats = {}
    for scaling in ("running", "bounds"):
        config = MuZeroConfig(
            obs_scaling=scaling, support_size=20, latent_dim=8, hidden=16, blocks=1
        )
        net = build_network(config, 4, 2, obs_bounds=(low, -low))
        net.normalizer.update(torch.as_tensor(warm_up))
        stats[scaling], _ = Learner(net, config, 10).update(batch)
    assert stats["running"]["obs_clipped"] > 0.6
    assert stats["running"]["obs_clipped_feature"] == 0
    assert stats["bounds"]["obs_clipped"] == 0.0
    warn = _ScaleWarnings()
    with pytest.warns(UserWarning, match="feature 0 beyond the observation normaliser"):
        warn.check(stats["running"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn.check(stats["bounds"])
        warn.check(stats["running"])  # once only
