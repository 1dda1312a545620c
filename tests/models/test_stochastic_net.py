"""Stochastic MuZero's networks and loss: shapes, the straight-through chance code, and the
loss's afterstate and chance terms learning on a fixed batch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lobzero.exceptions import ConfigError
from lobzero.models.stochastic_net import StochasticMuZeroNet
from lobzero.muzero import Learner, MuZeroConfig, build_network, muzero_loss
from lobzero.muzero.learner import codebook_usage
from lobzero.muzero.replay_buffer import Batch


def test_shapes_and_straight_through_code() -> None:
    torch.manual_seed(0)
    net = StochasticMuZeroNet(6, 3, chance_outcomes=4, latent_dim=8, hidden=16, blocks=1)
    latent, value, logits = net.initial_inference(torch.randn(5, 6))
    after, q, chance_logits = net.afterstate(latent, torch.arange(5) % 3)
    assert after.shape == (5, 8) and q.shape == value.shape and chance_logits.shape == (5, 4)
    # a new network: uniform chance prior
    assert torch.allclose(torch.softmax(chance_logits, -1), torch.full((5, 4), 0.25))
    obs = torch.randn(5, 6, requires_grad=True)
    code, _probs = net.encode_chance(obs)
    assert torch.equal(code.detach().sum(-1), torch.ones(5))
    assert set(code.detach().unique().tolist()) <= {0.0, 1.0}
    (code * torch.arange(4.0)).sum().backward()  # the softmax's gradient flows to the encoder
    assert obs.grad is not None and obs.grad.abs().sum() > 0
    nxt, _reward, value, logits = net.chance_step(after, code.detach())
    same = net.chance_step(after, code.detach().argmax(-1))
    assert torch.allclose(nxt, same[0]) and logits.shape == (5, 3)
    with pytest.raises(ConfigError, match="chance_outcomes"):
        StochasticMuZeroNet(6, 3, chance_outcomes=1)


def coin_batch(rng: np.random.Generator, b: int = 64, k: int = 2) -> Batch:
    """Observations whose next observation carries a fair coin (feature 0 is ±1) that decides
    the reward of the step: +1 for heads, -1 for tails."""
    obs = np.zeros((b, 3), np.float32)
    coins = rng.choice([-1.0, 1.0], size=(b, k)).astype(np.float32)
    next_obs = np.zeros((b, k, 3), np.float32)
    next_obs[..., 0] = coins
    rewards = np.concatenate([np.zeros((b, 1)), coins], 1).astype(np.float32)
    return Batch(
        obs=obs,
        actions=np.zeros((b, k), np.int64),
        value_target=np.zeros((b, k + 1), np.float32),
        reward_target=rewards,
        policy_target=np.full((b, k + 1, 2), 0.5, np.float32),
        value_mask=np.ones((b, k + 1), np.float32),
        reward_mask=np.concatenate([np.zeros((b, 1)), np.ones((b, k))], 1).astype(np.float32),
        policy_mask=np.ones((b, k + 1), np.float32),
        weights=np.ones(b, np.float32),
        lanes=np.zeros(b, np.int64),
        positions=np.arange(b, dtype=np.int64),
        next_obs=next_obs,
        next_obs_mask=np.ones((b, k), np.float32),
    )


def small_config(**fields: object) -> MuZeroConfig:
    """A small Stochastic MuZero with a scalar value codec, for the learning tests below."""
    base: dict[str, object] = {
        "algorithm": "stochastic",
        "support_size": 0,
        "value_scale": 1.0,
        "latent_dim": 8,
        "hidden": 32,
        "blocks": 1,
        "learning_rate": 3e-3,
    }
    return MuZeroConfig.from_dict({**base, **fields})


def first_step(
    net: StochasticMuZeroNet, batch: Batch
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The encoder's codes ``[B, C]`` of the first observed outcome, the reward ``[B]`` the
    model predicts with them for action 0, and the chance logits ``[B, C]`` of that action."""
    assert batch.next_obs is not None
    with torch.no_grad():
        code, _ = net.encode_chance(torch.as_tensor(batch.next_obs[:, 0]))
        latent, _, _ = net.initial_inference(torch.as_tensor(batch.obs))
        action = torch.zeros(len(batch.obs), dtype=torch.int64)
        after, _, chance_logits = net.afterstate(latent, action)
        _, reward, _, _ = net.chance_step(after, code)
    return code, net.codec.to_scalar(reward), chance_logits


def die_batch(rng: np.random.Generator, faces: int, b: int = 64, k: int = 2) -> Batch:
    """:func:`coin_batch` with a fair die of ``faces`` faces: the next observation's feature 0
    is the face, centred (−(faces − 1)/2 … (faces − 1)/2), and it is the step's reward."""
    batch = coin_batch(rng, b, k)
    faces_rolled = rng.integers(0, faces, size=(b, k)) - (faces - 1) / 2
    assert batch.next_obs is not None
    batch.next_obs[..., 0] = faces_rolled
    batch.reward_target[:, 1:] = faces_rolled
    return batch


def test_the_codebook_usage_term() -> None:
    """0 when the codes are used equally on average, 1 when one code takes every row; the
    number of codes in use counts the hard codes of the known rows only."""
    eye = torch.eye(4)
    term, used = codebook_usage(eye, eye, torch.ones(4))
    assert float(term) == pytest.approx(0.0, abs=1e-6) and used == pytest.approx(4.0)
    one = eye[[2, 2, 2, 2]]
    term, used = codebook_usage(one, one, torch.ones(4))
    assert float(term) == pytest.approx(1.0, abs=1e-6) and used == pytest.approx(1.0)
    term, used = codebook_usage(eye, eye, torch.tensor([1.0, 1.0, 0.0, 0.0]))
    assert float(term) == pytest.approx(0.5, abs=1e-6) and used == pytest.approx(2.0)


def test_the_codebook_usage_term_keeps_the_codebook_from_collapsing() -> None:
    """Six equally likely outcomes, eight codes: without the usage term
    (``chance_diversity_weight`` 0, the planted defect: what the market's runs had, whose
    codebook fell to one code) the encoder ends up using 1.9-3.0 codes over seeds 0-3 and the
    reward of a step stays 0.5-0.8 off; with it, 4.5-6 codes and the reward 0.0-0.36 off."""

    def train(weight: float) -> tuple[float, float]:
        torch.manual_seed(0)
        config = small_config(chance_outcomes=8, chance_diversity_weight=weight)
        net = build_network(config, 3, 2)
        assert isinstance(net, StochasticMuZeroNet)
        learner = Learner(net, config, total_updates=300)
        rng = np.random.default_rng(0)
        for _ in range(300):
            stats, _ = learner.update(die_batch(rng, 6))
        batch = die_batch(rng, 6)
        _, reward, _ = first_step(net, batch)
        error = np.abs(reward.numpy() - batch.reward_target[:, 1]).mean()
        return stats["chance_codes_used"], float(error)

    used, error = train(1.0)
    assert used >= 4.5 and error < 0.4
    used, error = train(0.0)
    assert used < 3.5 and error > 0.4


def test_the_chance_code_explains_the_reward_the_dynamics_cannot() -> None:
    """The case Stochastic MuZero is for: from the same state and action the reward is +1 or
    -1 by chance. A deterministic model can only predict the mean (0); with the chance code of
    the observed outcome the reward is predictable, the encoder splits heads from tails, and
    the chance prior learns the coin's odds."""
    torch.manual_seed(0)
    config = small_config(chance_outcomes=2)
    net = build_network(config, 3, 2)
    assert isinstance(net, StochasticMuZeroNet)
    learner = Learner(net, config, total_updates=200)
    rng = np.random.default_rng(0)
    for _ in range(200):
        stats, _ = learner.update(coin_batch(rng))
    batch = coin_batch(rng)
    code, reward, chance_logits = first_step(net, batch)
    assert batch.next_obs is not None
    heads = batch.next_obs[:, 0, 0] > 0
    codes = code.argmax(-1).numpy()
    assert len(set(codes[heads])) == 1 and len(set(codes[~heads])) == 1
    assert codes[heads][0] != codes[~heads][0]
    predicted = reward.numpy()
    np.testing.assert_allclose(predicted, batch.reward_target[:, 1], atol=0.2)
    prior = torch.softmax(chance_logits, -1).numpy()
    np.testing.assert_allclose(prior, 0.5, atol=0.1)
    # summed over the K = 2 unrolled steps: 2 ln 2 for a fair coin
    assert stats["chance_loss"] == pytest.approx(2 * np.log(2), abs=0.1)


def test_the_loss_needs_next_observations() -> None:
    config = MuZeroConfig(algorithm="stochastic", latent_dim=8, hidden=16, blocks=1)
    net = build_network(config, 3, 2)
    batch = coin_batch(np.random.default_rng(0))
    batch.next_obs = None
    with pytest.raises(ConfigError, match="next observations"):
        muzero_loss(net, batch, config)


def test_the_roots_afterstate_q_has_the_roots_gradient_scale() -> None:
    """Q(s_0, a_0) shares V(s_0)'s target and is what the search reads at every root child, so
    its loss gets the root's gradient, not an unrolled step's 1/K. Only step 0's value target
    is known here and no next observation is: the gradient on ψ (which only Q reaches) must be
    ``value_loss_weight`` times that of CE(Q_0, z_0) alone. Planted: the afterstate terms on
    step k + 1's column (the code before this test) give 1/K of it (here 1/4)."""
    torch.manual_seed(0)
    config = MuZeroConfig(algorithm="stochastic", latent_dim=8, hidden=16, blocks=1)
    net = build_network(config, 3, 2)
    assert isinstance(net, StochasticMuZeroNet)
    for p in net.afterstate_prediction_net.parameters():
        torch.nn.init.normal_(p, std=0.3)
    batch = coin_batch(np.random.default_rng(0), k=4)
    batch.value_target = np.random.default_rng(1).normal(size=(64, 5)).astype(np.float32) * 5
    batch.value_mask[:, 1:] = 0.0
    batch.next_obs_mask[:] = 0.0
    last = net.afterstate_prediction_net[-1]
    assert isinstance(last, torch.nn.Linear)

    muzero_loss(net, batch, config).total.backward()
    assert last.weight.grad is not None
    got = last.weight.grad.clone()
    net.zero_grad()
    latent = net.representation(torch.as_tensor(batch.obs))
    _, q, _ = net.afterstate(latent, torch.as_tensor(batch.actions[:, 0]))
    alone = net.codec.loss(q, torch.as_tensor(batch.value_target[:, 0])).mean()
    (config.value_loss_weight * alone).backward()
    torch.testing.assert_close(got, last.weight.grad, rtol=1e-4, atol=1e-6)
