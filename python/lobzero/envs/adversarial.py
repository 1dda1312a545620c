"""A trained adversary inside the trading environment, from both sides.

The adversary watches the market and the trader and picks, each decision, one move of
:data:`ADVERSARY_MOVES` (nothing, or one perturbation of :data:`~lobzero.envs.config.PERTURBATIONS`,
with the price gap's direction its own choice), at most ``budget`` perturbations per episode.
Its observation is the trader's observation followed by the trader's position as a fraction of
``max_position`` and the share of the budget left: ``[obs_dim + 2]`` float32. Its reward is the
negative of the trader's.

- :class:`AdversaryVecEnv`: the adversary's view (a trader agent plays inside), to train it;
- :class:`AdversarialVecEnv`: the trader's view (an adversary agent acts inside every step),
  to train the trader against the worst the adversary found.

Both wrap a :class:`~lobzero.VecTradingEnv`, keep its same-step autoreset and ``infos``, and
work with :class:`~lobzero.envs.sb3.Sb3VecEnv` and MuZero's self-play.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Protocol

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from lobzero.envs.trading_env import perturbation_mask
from lobzero.envs.vector import VecTradingEnv
from lobzero.exceptions import ConfigError


class Actor(Protocol):
    def act(self, obs_batch: np.ndarray) -> np.ndarray: ...


#: the adversary's moves: (name, perturbation, price-gap direction)
ADVERSARY_MOVES: tuple[tuple[str, str | None, int], ...] = (
    ("none", None, 0),
    ("slippage", "slippage", 0),
    ("price_gap_up", "price_gap", 1),
    ("price_gap_down", "price_gap", -1),
    ("liquidity", "liquidity", 0),
    ("latency_spike", "latency_spike", 0),
    ("obs_noise", "obs_noise", 0),
    ("reward", "reward", 0),
)
_MASKS = np.array(
    [perturbation_mask([kind] if kind else []) for _, kind, _ in ADVERSARY_MOVES], np.uint8
)
_SIGNS = np.array([sign for _, _, sign in ADVERSARY_MOVES], np.int8)


class AdversaryMoves:
    """The adversary's side of a :class:`VecTradingEnv`: its observations, its budget, and
    its moves forced into the next step."""

    def __init__(self, vec: VecTradingEnv, budget: int) -> None:
        if budget < 0:
            raise ConfigError(f"the adversary's budget must be >= 0, got {budget}")
        self.vec, self.budget = vec, budget
        self.budget_left = np.full(vec.num_envs, budget, np.int64)
        space = vec.single_observation_space
        assert isinstance(space, spaces.Box)
        low, high = space.low, space.high
        self.observation_space = spaces.Box(
            low=np.concatenate([low, [-1.0, 0.0]]).astype(np.float32),
            high=np.concatenate([high, [1.0, 1.0]]).astype(np.float32),
            dtype=np.float32,
        )
        self.action_space = spaces.Discrete(len(ADVERSARY_MOVES))

    def observe(self, trader_obs: np.ndarray, position: np.ndarray) -> np.ndarray:
        """Adversary observations ``[N, obs_dim + 2]`` from the trader's ``[N, obs_dim]`` and
        positions ``[N]`` (base units)."""
        fraction = np.clip(np.asarray(position) / self.vec.config.max_position, -1.0, 1.0)
        left = self.budget_left / max(self.budget, 1)
        return np.concatenate(
            [trader_obs, fraction[:, None], left[:, None]], axis=1, dtype=np.float32
        )

    def apply(self, moves: np.ndarray) -> np.ndarray:
        """Forces moves ``[N]`` (indices of :data:`ADVERSARY_MOVES`) into the next step where
        budget is left; returns the moves actually made."""
        moves = np.asarray(moves, np.int64).reshape(self.vec.num_envs)
        if ((moves < 0) | (moves >= len(ADVERSARY_MOVES))).any():
            raise ConfigError(f"adversary moves must be in [0, {len(ADVERSARY_MOVES)})")
        made = np.where(self.budget_left > 0, moves, 0)
        self.budget_left -= made != 0
        self.vec.force_perturbations(_MASKS[made], _SIGNS[made])
        return made

    def episodes_ended(self, done: np.ndarray) -> None:
        self.budget_left[done] = self.budget


class _Wrapper(gym.vector.VectorEnv):
    """Shared plumbing of the two views over one :class:`VecTradingEnv`."""

    metadata: ClassVar[dict[str, Any]] = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, vec: VecTradingEnv, budget: int) -> None:
        self.vec = vec
        self.moves = AdversaryMoves(vec, budget)
        self.num_envs = vec.num_envs
        self.config = vec.config
        self.feature_names = vec.feature_names
        self._trader_obs = np.zeros((vec.num_envs, vec.single_observation_space.shape[0]))
        self._position = np.zeros(vec.num_envs)

    def _reset(
        self, seed: int | Sequence[int | None] | None, options: dict[str, Any] | None
    ) -> dict[str, Any]:
        obs, infos = self.vec.reset(seed=seed, options=options)
        self._trader_obs = np.array(obs, np.float32)
        self._position = np.array(infos["position"], np.float64)
        self.moves.episodes_ended(np.ones(self.num_envs, bool))
        return infos

    def _step(
        self, trader_actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        obs, rewards, terminated, truncated, infos = self.vec.step(trader_actions)
        done = terminated | truncated
        infos["adversary_final_obs"] = None
        if done.any():
            # what the adversary saw last in a finished episode, before its budget refills
            final_positions = np.array(
                [
                    infos["final_info"][i]["position"] if done[i] else infos["position"][i]
                    for i in range(self.num_envs)
                ]
            )
            final_trader = np.array(self._trader_obs)
            for i in np.flatnonzero(done):
                final_trader[i] = infos["final_obs"][i]
            infos["adversary_final_obs"] = self.moves.observe(final_trader, final_positions)
        self.moves.episodes_ended(done)
        self._trader_obs = np.array(obs, np.float32)
        self._position = np.array(infos["position"], np.float64)
        return obs, rewards, terminated, truncated, infos

    def close(self, **kwargs: Any) -> None:
        self.vec.close(**kwargs)


class AdversaryVecEnv(_Wrapper):
    """The adversary's environment: ``trader`` (any lobzero agent, acting in the environment's
    action mode) plays inside; actions are moves of :data:`ADVERSARY_MOVES`; reward = − the
    trader's reward. ``infos["moves_made"]`` [N] are the moves the budget allowed."""

    def __init__(self, vec: VecTradingEnv, trader: Actor, budget: int = 20) -> None:
        super().__init__(vec, budget)
        self.trader = trader
        self.single_observation_space = self.moves.observation_space
        self.single_action_space = self.moves.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)

    def reset(
        self,
        *,
        seed: int | Sequence[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Resets as :meth:`VecTradingEnv.reset` does (same ``seed`` and ``options``)."""
        infos = self._reset(seed, options)
        return self.moves.observe(self._trader_obs, self._position), infos

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        made = self.moves.apply(actions)
        trader_actions = self.trader.act(self._trader_obs)
        _, rewards, terminated, truncated, infos = self._step(trader_actions)
        infos["moves_made"] = made
        done = terminated | truncated
        if done.any():
            final = np.empty(self.num_envs, dtype=object)
            for i in np.flatnonzero(done):
                final[i] = infos["adversary_final_obs"][i]
            infos["final_obs"], infos["_final_obs"] = final, done.copy()
        adversary_obs = self.moves.observe(self._trader_obs, self._position)
        return adversary_obs, -np.asarray(rewards), terminated, truncated, infos


class AdversarialVecEnv(_Wrapper):
    """The trader's environment with a trained ``adversary`` acting inside every step (same
    spaces, rewards and ``infos`` as the wrapped :class:`VecTradingEnv`, plus
    ``infos["moves_made"]``)."""

    def __init__(self, vec: VecTradingEnv, adversary: Actor, budget: int = 20) -> None:
        super().__init__(vec, budget)
        self.adversary = adversary
        self.single_observation_space = vec.single_observation_space
        self.single_action_space = vec.single_action_space
        self.observation_space = vec.observation_space
        self.action_space = vec.action_space

    def reset(
        self,
        *,
        seed: int | Sequence[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Resets as :meth:`VecTradingEnv.reset` does (same ``seed`` and ``options``)."""
        infos = self._reset(seed, options)
        return self._trader_obs.copy(), infos

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        moves = self.adversary.act(self.moves.observe(self._trader_obs, self._position))
        made = self.moves.apply(moves)
        obs, rewards, terminated, truncated, infos = self._step(actions)
        infos["moves_made"] = made
        return obs, rewards, terminated, truncated, infos
