"""Self-play's bookkeeping of episode ends: a time-aware episode's length limit is the end of
the MDP (absorbing), running out of data is not."""

from __future__ import annotations

import numpy as np
from lobzero import EnvConfig, VecTradingEnv, signal_market
from lobzero.muzero import MuZeroConfig, Planner, ReplayBuffer, build_network
from lobzero.muzero.self_play import SelfPlay, make_gym_vec_env
from lobzero.muzero.trainer import time_limit_steps


def play(config: MuZeroConfig, steps: int) -> ReplayBuffer:
    envs = VecTradingEnv(
        signal_market(seconds=600, seed=0), num_envs=2, config=EnvConfig(episode_steps=5)
    )
    net = build_network(config, envs.single_observation_space.shape[0], 5)
    buffer = ReplayBuffer(64, 2, net.obs_dim, 5)
    actors = SelfPlay(
        envs, Planner(net, config), buffer, seed=0, time_limit_steps=time_limit_steps(config, envs)
    )
    for _ in range(steps):
        actors.step(1.0)
    return buffer


def test_the_length_limit_of_a_time_aware_episode_is_absorbing() -> None:
    """The defect: the 300th step was stored as truncated and bootstrapped from an observation
    with ``time_fraction = 1`` the value head never trained on; with the time left in the
    observation the value there is 0. Planted check: "bootstrap" keeps the old bookkeeping."""
    config = MuZeroConfig(latent_dim=8, hidden=16, blocks=1, num_simulations=4)
    buffer = play(config, 7)
    assert buffer.terminated[:, 4].all() and not buffer.truncated[:, :7].any()
    assert not buffer.terminated[:, [0, 1, 2, 3, 5, 6]].any()
    old = play(config.replace(time_limit="bootstrap"), 7)
    assert old.truncated[:, 4].all() and not old.terminated[:, :7].any()


def test_environments_without_a_time_feature_bootstrap() -> None:
    envs = make_gym_vec_env("CartPole-v1", 2)
    assert time_limit_steps(MuZeroConfig(), envs) is None
    assert time_limit_steps(MuZeroConfig(time_limit="terminal"), envs) == 500
    trading = VecTradingEnv(
        signal_market(seconds=600, seed=0), num_envs=2, config=EnvConfig(episode_steps=7)
    )
    assert time_limit_steps(MuZeroConfig(), trading) == 7
    assert time_limit_steps(MuZeroConfig(time_limit="bootstrap"), trading) is None
    assert np.isfinite(trading.single_observation_space.high).any()
