"""`VecTradingEnv`: a batch of Rust environments as a gymnasium `VectorEnv`, stepped in one call
that writes into preallocated numpy buffers with the GIL released."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from lobzero import _core
from lobzero.data.market import Market
from lobzero.envs.config import EnvConfig
from lobzero.envs.trading_env import build_spaces, resolve_market


class VecTradingEnv(gym.vector.VectorEnv):
    """``num_envs`` trading environments (environment i seeded ``config.seed + i``), equal to
    that many :class:`TradingEnv` built with those seeds.

    Episodes that end are reset within the same ``step`` (gymnasium's ``SAME_STEP`` autoreset):
    the returned observation row is the new episode's first, and ``infos["final_obs"]`` /
    ``infos["final_info"]`` (with masks ``_final_obs`` / ``_final_info``) hold the finished one's
    last. ``infos`` also carries per-environment arrays ``equity``, ``cash``, ``position``,
    ``mark``, ``fees``, ``realized_pnl``, ``unrealized_pnl``, ``unfilled`` and ``ts_ns``.

    Returned arrays are the environment's own buffers, overwritten by the next call (``copy``
    False) unless ``copy=True``; the ``infos`` arrays are always fresh.

    A step runs on ``num_threads`` threads (default: every core; batches under 32 environments
    use the calling thread alone): the calling thread and persistent workers that each step
    their own share of the environments first, then help with what is left. Between calls a
    worker polls for 100 µs, then sleeps, so a policy running between steps gets its core back.
    """

    metadata: ClassVar[dict[str, Any]] = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(
        self,
        market: Market | str | Path | None = None,
        num_envs: int = 8,
        config: EnvConfig | None = None,
        copy: bool = False,
        num_threads: int | None = None,
        **overrides: Any,
    ) -> None:
        self.market = resolve_market(market)
        config = config or EnvConfig()
        self.config = config.replace(**overrides) if overrides else config
        core_config = self.config.to_core(self.market.metadata)
        if num_threads is not None:
            core_config["num_threads"] = num_threads
        self._core = _core.VecEnvCore(self.market.stream, int(num_envs), core_config)
        self.num_envs = int(num_envs)
        self.single_observation_space, self.single_action_space = build_spaces(
            self._core, self.config
        )
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.feature_names: list[str] = self._core.spaces()["frame_names"]
        self.copy = copy
        d = self._core.obs_dim
        self._info_values, self._info_ts_ns = self._new_info_buffers()
        self._obs = np.zeros((self.num_envs, d), np.float32)
        self._final_obs = np.zeros((self.num_envs, d), np.float32)
        self._rewards = np.zeros(self.num_envs, np.float64)
        self._terminated = np.zeros(self.num_envs, np.bool_)
        self._truncated = np.zeros(self.num_envs, np.bool_)
        self._continuous = self.config.action_mode == "continuous"

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Resets every environment; ``seed`` s gives environment i the seed s + i."""
        if isinstance(seed, list):
            seed = seed[0] if seed else None
        if seed is not None:
            self._np_random, _ = gym.utils.seeding.np_random(seed)
        self._core.reset(self._obs, None if seed is None else int(seed))
        self._core.infos(self._info_values, self._info_ts_ns)
        return self._out(self._obs), self._infos()

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if self._continuous:
            a = np.ascontiguousarray(np.asarray(actions, dtype=np.float64).reshape(self.num_envs))
        else:
            a = np.ascontiguousarray(np.asarray(actions, dtype=np.int64).reshape(self.num_envs))
        ended = self._core.step(
            a,
            self._obs,
            self._rewards,
            self._terminated,
            self._truncated,
            self._final_obs,
            self._info_values,
            self._info_ts_ns,
        )
        infos = self._infos()
        if ended:
            done = self._terminated | self._truncated
            final_obs = np.empty(self.num_envs, dtype=object)
            final_info = np.empty(self.num_envs, dtype=object)
            for i, info in self._core.final_infos().items():
                final_obs[i] = self._final_obs[i].copy()
                final_info[i] = info
            infos["final_obs"], infos["_final_obs"] = final_obs, done.copy()
            infos["final_info"], infos["_final_info"] = final_info, done.copy()
        return (
            self._out(self._obs),
            self._out(self._rewards),
            self._out(self._terminated),
            self._out(self._truncated),
            infos,
        )

    def force_perturbations(self, masks: np.ndarray, gap_signs: np.ndarray | None = None) -> None:
        """Forces the next step's perturbations of every environment: ``masks`` [N] (bit k for
        ``PERTURBATIONS[k]``, see :func:`~lobzero.envs.trading_env.perturbation_mask`),
        ``gap_signs`` [N] (+1, -1, or 0 for a coin flip; default 0)."""
        m = np.ascontiguousarray(np.asarray(masks).reshape(self.num_envs), dtype=np.uint8)
        if gap_signs is None:
            signs = np.zeros(self.num_envs, np.int8)
        else:
            signs = np.ascontiguousarray(np.asarray(gap_signs).reshape(self.num_envs), np.int8)
        self._core.force_perturbations(m, signs)

    def _new_info_buffers(self) -> tuple[np.ndarray, np.ndarray]:
        return (
            np.empty((len(_core.VEC_INFO_ARRAYS), self.num_envs), np.float64),
            np.empty(self.num_envs, np.int64),
        )

    def _infos(self) -> dict[str, Any]:
        """The per-environment info arrays the last call wrote, as a dict of fresh arrays (a
        new pair of buffers is made for the next call, so earlier infos are never overwritten)."""
        infos: dict[str, Any] = dict(zip(_core.VEC_INFO_ARRAYS, self._info_values, strict=True))
        infos["ts_ns"] = self._info_ts_ns
        self._info_values, self._info_ts_ns = self._new_info_buffers()
        return infos

    def _out(self, array: np.ndarray) -> np.ndarray:
        return array.copy() if self.copy else array
