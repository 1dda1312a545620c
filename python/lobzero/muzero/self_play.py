"""Self-play: every actor of a vector environment steps once per batched search.

The environments are a gymnasium ``VectorEnv`` with same-step autoreset (a finished episode's
last observation in ``infos["final_obs"]``): a :class:`lobzero.VecTradingEnv`, or any
gymnasium environment with discrete actions through :func:`make_gym_vec_env`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode

from lobzero.exceptions import ConfigError
from lobzero.muzero.planner import Planner
from lobzero.muzero.replay_buffer import ReplayBuffer


def make_gym_vec_env(env_id: str, num_envs: int) -> gym.vector.VectorEnv:
    """``num_envs`` copies of a registered gymnasium environment, same-step autoreset."""
    try:
        gym.spec(env_id)
    except gym.error.Error as e:
        raise ConfigError(f"unknown gymnasium environment {env_id!r}: {e}") from e
    fns: list[Callable[[], gym.Env[Any, Any]]] = [lambda: gym.make(env_id) for _ in range(num_envs)]
    return gym.vector.SyncVectorEnv(fns, autoreset_mode=AutoresetMode.SAME_STEP)


def check_discrete(envs: gym.vector.VectorEnv) -> tuple[int, int]:
    """(obs_dim, num_actions) of a vector environment MuZero can play, or a ConfigError."""
    action_space = envs.single_action_space
    obs_space = envs.single_observation_space
    if not isinstance(action_space, gym.spaces.Discrete):
        raise ConfigError(
            f"MuZero needs discrete actions, the environment has {action_space} (use the "
            "'target' or 'side' action mode)"
        )
    if not isinstance(obs_space, gym.spaces.Box) or len(obs_space.shape) != 1:
        raise ConfigError(f"MuZero needs a flat Box observation space, got {obs_space}")
    if envs.metadata.get("autoreset_mode") != AutoresetMode.SAME_STEP:
        raise ConfigError("self-play needs a vector environment with same-step autoreset")
    return int(obs_space.shape[0]), int(action_space.n)


class SelfPlay:
    """Actors over ``envs`` writing every step into ``buffer`` (one lane per actor).

    ``time_limit_steps``: an episode cut after that many steps is stored as terminated (the
    end of a time-aware MDP, nothing to bootstrap); other cuts (the data ran out) as truncated.
    """

    def __init__(
        self,
        envs: gym.vector.VectorEnv,
        planner: Planner,
        buffer: ReplayBuffer,
        seed: int,
        time_limit_steps: int | None = None,
    ) -> None:
        self.envs, self.planner, self.buffer = envs, planner, buffer
        self.time_limit_steps = time_limit_steps
        obs, _ = envs.reset(seed=seed)
        self.obs = np.array(obs, np.float32)
        self.returns = np.zeros(envs.num_envs)
        self.lengths = np.zeros(envs.num_envs, np.int64)
        self.update_normalizer = True

    def step(self, temperature: float) -> list[tuple[float, int]]:
        """One step of every actor; returns (return, length) of the episodes that ended."""
        obs = self.obs
        net = self.planner.net
        if self.update_normalizer:
            net.normalizer.update(torch.as_tensor(obs, device=self.planner.device))
        plan = self.planner.run(obs, noise=True, temperature=temperature)
        next_obs, rewards, terminated, truncated, infos = self.envs.step(plan.action)
        rewards = np.asarray(rewards, np.float64)
        terminated = np.asarray(terminated, bool)
        truncated = np.asarray(truncated, bool) & ~terminated
        if self.time_limit_steps is not None:
            out_of_time = truncated & (self.lengths + 1 >= self.time_limit_steps)
            terminated = terminated | out_of_time
            truncated = truncated & ~out_of_time
        final_obs = np.zeros_like(obs)
        final_values = np.zeros(len(obs), np.float32)
        for i in np.flatnonzero(terminated | truncated):
            final_obs[i] = infos["final_obs"][i]
        if truncated.any():
            final_values[truncated] = self.planner.values(final_obs[truncated])
        self.buffer.add(
            obs,
            plan.action,
            rewards,
            plan.root_value,
            plan.policy,
            terminated,
            truncated,
            final_obs,
            final_values,
        )
        self.returns += rewards
        self.lengths += 1
        finished = []
        for i in np.flatnonzero(terminated | truncated):
            finished.append((float(self.returns[i]), int(self.lengths[i])))
            self.returns[i], self.lengths[i] = 0.0, 0
        # the vector environment may reuse its buffers: keep a copy
        self.obs = np.array(next_obs, np.float32)
        return finished
