"""MuZero's networks: shapes, latent scaling, temporal encoders, the AlphaZero head, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lobzero.exceptions import ConfigError
from lobzero.models import AlphaZeroNet, MuZeroNet, ObsNormalizer


@pytest.mark.parametrize(
    ("frames", "encoder", "support"),
    [(1, "none", 300), (4, "conv", 10), (4, "gru", 10), (3, "none", 0)],
)
def test_shapes_and_latent_range(frames: int, encoder: str, support: int) -> None:
    torch.manual_seed(0)
    net = MuZeroNet(
        6 * frames,
        5,
        latent_dim=12,
        hidden=16,
        blocks=1,
        support_size=support,
        frame_stack=frames,
        temporal_encoder=encoder,
    )
    obs = torch.randn(7, 6 * frames)
    latent, value, logits = net.initial_inference(obs)
    width = 2 * support + 1 if support else 1
    assert latent.shape == (7, 12) and value.shape == (7, width) and logits.shape == (7, 5)
    assert latent.min() >= 0.0 and latent.max() <= 1.0
    nxt, reward, value, logits = net.recurrent_inference(latent, torch.arange(7) % 5)
    assert nxt.shape == (7, 12) and reward.shape == (7, width)
    assert nxt.min() >= 0.0 and nxt.max() <= 1.0
    # a new network predicts a uniform policy and zero value and reward
    assert torch.allclose(torch.softmax(logits, -1), torch.full((7, 5), 0.2))
    assert torch.allclose(net.codec.to_scalar(reward), torch.zeros(7), atol=1e-3)


def test_alphazero_net_and_head() -> None:
    net = AlphaZeroNet(78, 5, hidden=32, blocks=2)
    logits, value = net(torch.randn(4, 78))
    assert logits.shape == (4, 5) and value.shape == (4,)
    assert (value.abs() <= 1).all()
    assert torch.allclose(net.policy(torch.randn(3, 78)).sum(-1), torch.ones(3))
    mz = MuZeroNet(10, 3, latent_dim=8, hidden=16, blocks=1, support_size=0, prediction="alphazero")
    _, value, logits = mz.initial_inference(torch.randn(2, 10))
    assert value.shape == (2, 1) and (value.abs() <= 1).all() and logits.shape == (2, 3)


def test_normalizer_matches_numpy_statistics() -> None:
    torch.manual_seed(0)
    data = torch.randn(300, 3, dtype=torch.float64) * torch.tensor([1.0, 5.0, 0.1]) + 2.0
    norm = ObsNormalizer(3)
    for chunk in data.split(70):
        norm.update(chunk)
    assert torch.allclose(norm.mean, data.mean(0)) and torch.allclose(
        norm.var, data.var(0, unbiased=False)
    )
    z = norm(data.float())
    assert torch.allclose(z.mean(0), torch.zeros(3), atol=1e-4)


def test_bad_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="stacked frames"):
        MuZeroNet(10, 3, frame_stack=3, temporal_encoder="conv")
    with pytest.raises(ConfigError, match="temporal_encoder"):
        MuZeroNet(12, 3, frame_stack=3, temporal_encoder="lstm")
    with pytest.raises(ConfigError, match="support_size = 0"):
        MuZeroNet(12, 3, prediction="alphazero")
    with pytest.raises(ConfigError, match="num_actions"):
        MuZeroNet(12, 1)


def test_bounded_features_are_scaled_by_their_bounds_not_by_a_skewed_warm_up() -> None:
    """The defect: all lanes start their episodes together, so the warm-up sees only an
    episode's first steps; ``time_fraction`` (bounds [0, 1]) then got mean 0.10 / sd 0.06 and
    a frozen normaliser clipped it at ±10 past ~71 % of every episode. With the environment's
    bounds it maps onto [-1, 1] whatever the warm-up saw; unbounded features still use the
    warm-up statistics."""
    from lobzero import EnvConfig, TradingEnv, signal_market
    from lobzero.muzero import MuZeroConfig, build_network

    env = TradingEnv(signal_market(seconds=900, seed=0), EnvConfig(episode_steps=300))
    space = env.observation_space
    names = env.feature_names
    t = names.index("time_fraction")
    warm_up = np.zeros((64, len(names)), np.float32)
    warm_up[:, t] = np.linspace(0.0, 63 / 300, 64)
    late = np.zeros((1, len(names)), np.float32)
    late[0, t] = 0.95
    for scaling, bounded in (("bounds", True), ("running", False)):
        config = MuZeroConfig(obs_scaling=scaling, latent_dim=8, hidden=16, blocks=1)
        net = build_network(config, len(names), 5, obs_bounds=(space.low, space.high))
        net.normalizer.update(torch.as_tensor(warm_up))
        z = float(net.normalizer(torch.as_tensor(late))[0, t])
        if bounded:
            assert z == pytest.approx(0.9)
        else:
            assert z == 10.0  # clipped: what the running statistics alone did
    unbounded = names.index("return_1")
    assert not bool(net.normalizer.bounded[unbounded])


def test_bounds_of_the_wrong_shape_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="bounds"):
        ObsNormalizer(3, low=[0.0, 0.0], high=[1.0, 1.0])
