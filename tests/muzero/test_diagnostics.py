"""The model check: unrolls line up with the actions and rewards of the episode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from lobzero.muzero import MuZeroAgent, MuZeroConfig, build_network
from lobzero.muzero.diagnostics import check_model, plot_model_check


def test_unrolls_align_with_the_episode(tmp_path: Path) -> None:
    torch.manual_seed(0)
    config = MuZeroConfig(latent_dim=8, hidden=16, blocks=1, unroll_steps=3, discount=0.5)
    net = build_network(config, 2, 3)
    agent = MuZeroAgent(net, config, action_mode="gym")
    rng = np.random.default_rng(0)
    n = 12
    obs = rng.normal(size=(n, 2)).astype(np.float32)
    actions = rng.integers(0, 3, n)
    rewards = rng.normal(size=n)
    check = check_model(agent, obs, actions, rewards)
    assert check.predicted_reward.shape == (n, 3) and check.predicted_value.shape == (n, 4)
    # realised: reward of step t+k-1 and the return from t+k, NaN past the end
    np.testing.assert_allclose(check.realised_reward[:, 0], rewards)
    np.testing.assert_allclose(check.realised_reward[: n - 2, 2], rewards[2:])
    assert np.isnan(check.realised_reward[n - 1, 1]) and np.isnan(check.predicted_reward[n - 1, 1])
    ret = np.zeros(n + 1)
    for t in range(n - 1, -1, -1):
        ret[t] = rewards[t] + 0.5 * ret[t + 1]
    np.testing.assert_allclose(check.realised_return[:, 0], ret[:n])
    np.testing.assert_allclose(check.realised_return[: n - 2, 3], ret[3 : n + 1])
    # the unroll from t with the actions taken, by hand
    with torch.inference_mode():
        latent, _, _ = net.initial_inference(torch.as_tensor(obs[4:5]))
        for k in range(2):
            latent, reward, value, _ = net.recurrent_inference(
                latent, torch.as_tensor(actions[4 + k : 5 + k])
            )
    np.testing.assert_allclose(
        check.predicted_reward[4, 1], float(net.codec.to_scalar(reward)), rtol=1e-6
    )
    np.testing.assert_allclose(
        check.predicted_value[4, 2], float(net.codec.to_scalar(value)), rtol=1e-6
    )
    # a model that knows the rewards has correlation 1; an unrelated one does not
    perfect = check.__class__(
        rewards[:, None] + np.zeros((n, 3)),
        np.tile(rewards[:, None], (1, 3)),
        check.realised_return,
        check.realised_return,
        0.5,
    )
    assert np.allclose(perfect.correlations()["value"][:3], 1.0)
    plot_model_check(check, "test", tmp_path / "model.png")
    assert (tmp_path / "model.png").stat().st_size > 1000
