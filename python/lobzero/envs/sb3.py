"""An adapter that lets stable-baselines3 train on the fast batched path.

`Sb3VecEnv(VecTradingEnv(...))` is a `stable_baselines3.common.vec_env.VecEnv`: SB3's PPO and
SAC step all environments in one Rust call instead of looping over Python environments.
stable-baselines3 is imported only here (install the ``rl`` extra).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvStepReturn

from lobzero.envs.vector import VecTradingEnv


class Sb3VecEnv(VecEnv):
    """SB3's VecEnv protocol over a :class:`VecTradingEnv` (or a wrapper of one with the same
    ``infos``, such as :class:`lobzero.envs.adversarial.AdversarialVecEnv`).

    SB3 conventions: ``reset()`` returns observations only; a finished episode's last
    observation is ``infos[i]["terminal_observation"]`` and ``infos[i]["TimeLimit.truncated"]``
    tells truncation from termination; continuous actions arrive as [N, 1] float32.
    """

    def __init__(self, venv: VecTradingEnv | gym.vector.VectorEnv) -> None:
        self.venv = venv
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)
        self._actions: np.ndarray | None = None
        self._seed: int | None = None

    def reset(self) -> np.ndarray:
        obs, _ = self.venv.reset(seed=self._seed)
        self._seed = None
        return obs.copy()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        assert self._actions is not None, "step_async must come first"
        obs, rewards, terminated, truncated, infos = self.venv.step(self._actions)
        done = terminated | truncated
        # one tolist per key: per-element float() over 256 environments costs more than the step
        out_infos: list[dict[str, Any]] = [
            {"equity": e, "position": p, "fees": f}
            for e, p, f in zip(
                infos["equity"].tolist(),
                infos["position"].tolist(),
                infos["fees"].tolist(),
                strict=True,
            )
        ]
        for i in np.flatnonzero(done):
            out_infos[i]["terminal_observation"] = infos["final_obs"][i]
            out_infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
            out_infos[i]["episode_final"] = infos["final_info"][i]
        return obs.copy(), rewards.astype(np.float32), done.copy(), out_infos

    def close(self) -> None:
        self.venv.close()

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        self._seed = seed
        return [None if seed is None else seed + i for i in range(self.num_envs)]

    def _indices(self, indices: VecEnvIndices) -> Iterable[int]:
        if indices is None:
            return range(self.num_envs)
        if isinstance(indices, int):
            return [indices]
        return indices

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        value = getattr(self.venv, attr_name)
        return [value for _ in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        setattr(self.venv, attr_name, value)

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **kwargs: Any
    ) -> list[Any]:
        method = getattr(self.venv, method_name)
        return [method(*method_args, **kwargs) for _ in self._indices(indices)]

    def env_is_wrapped(self, wrapper_class: type, indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._indices(indices)]
