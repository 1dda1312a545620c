"""`RiskVecEnv`: the risk stack over a batch of environments (a
:class:`~lobzero.VecTradingEnv`), the vector form of :class:`~lobzero.risk.RiskWrapper`, so
the trainers (``train-agent --risk``: PPO, SAC, MuZero play vector environments) learn with
the guards between the policy and the market.

Each environment is its own account with its own :class:`~lobzero.risk.RiskStack` (a copy of
the configuration's), reset when its episode ends (the batch resets finished episodes in the
same step, so the guards of that environment start over with the new episode's first state).
Actions go through the same :class:`~lobzero.risk.wrapper.ActionCodec` as the single wrapper;
environment i with the stack equals ``RiskWrapper(TradingEnv(...seed + i))``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from lobzero.exceptions import ConfigError
from lobzero.risk.config import RiskConfig
from lobzero.risk.stack import RiskStack
from lobzero.risk.state import GuardState
from lobzero.risk.wrapper import ActionCodec


class RiskVecEnv(gym.vector.VectorWrapper):
    """A :class:`~lobzero.VecTradingEnv` whose actions pass the guards of ``config`` (a
    :class:`RiskConfig` or its TOML path), one stack per environment (see the module docs).

    ``infos`` gains ``risk_target`` / ``intended_target`` (float [N], units of size) and
    ``risk_interventions`` (bool [N]: a guard changed the action this step);
    :attr:`interventions` counts the steps of each environment a guard changed."""

    def __init__(self, env: Any, config: RiskConfig | str | Path) -> None:
        super().__init__(env)
        self.risk_config = config if isinstance(config, RiskConfig) else RiskConfig.load(config)
        markets = getattr(env, "markets", None)
        env_config = getattr(env, "config", None)
        if markets is None or env_config is None:
            raise ConfigError("RiskVecEnv wraps a lobzero VecTradingEnv")
        n = env.num_envs
        self.stacks = [RiskStack(self.risk_config) for _ in range(n)]
        self.codecs = [ActionCodec(env_config, m.instrument.lot) for m in markets]
        self.symbols = [str(m.instrument.symbol) for m in markets]
        self.interventions = np.zeros(n, np.int64)
        self._infos: dict[str, Any] | None = None
        self._batch: Any = env  # the VecTradingEnv API beyond gymnasium's

    # the VecTradingEnv API the trainers read (a vector wrapper does not forward it)
    @property
    def config(self) -> Any:
        """The wrapped batch's environment configuration."""
        return self._batch.config

    @property
    def markets(self) -> list[Any]:
        """The market of each environment."""
        return list(self._batch.markets)

    @property
    def feature_names(self) -> list[str]:
        """The frame layout of the observations."""
        return list(self._batch.feature_names)

    def reset(
        self, *, seed: Any = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Resets every environment and every stack (new accounts)."""
        obs, infos = self.env.reset(seed=seed, options=options)
        for stack in self.stacks:
            stack.reset()
        self.interventions[:] = 0
        self._infos = infos
        return obs, infos

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Steps with the actions the guards allow in place of ``actions`` ([N])."""
        if self._infos is None:
            raise ConfigError("RiskVecEnv.step before reset")
        last, n = self._infos, self.num_envs
        given = np.asarray(actions)
        sent = given.copy()
        intended = np.empty(n, np.float64)
        allowed = np.empty(n, np.float64)
        changed = np.zeros(n, bool)
        position, equity = last["position"].tolist(), last["equity"].tolist()
        mark, realized = last["mark"].tolist(), last["realized_pnl"].tolist()
        for i in range(n):
            state = GuardState(position[i], equity[i], mark[i], realized[i])
            codec = self.codecs[i]
            intended[i] = codec.target_of(given[i], state.position)
            decision = self.stacks[i].decide(self.symbols[i], state, intended[i])
            allowed[i] = decision.target
            action = codec.action_for(decision.target, state.position, given[i])
            sent[i] = np.asarray(action).reshape(sent[i].shape)
            changed[i] = bool(decision.events)
        obs, rewards, terminated, truncated, infos = self.env.step(sent)
        for ended in np.flatnonzero(terminated | truncated).tolist():
            # same-step autoreset: this environment is a new account from here
            self.stacks[ended].reset()
        self.interventions += changed
        self._infos = infos
        infos = {**infos, "risk_target": allowed, "intended_target": intended,
                 "risk_interventions": changed}  # fmt: skip
        return obs, rewards, terminated, truncated, infos


def risk_env_wrapper(config: RiskConfig | str | Path) -> Any:
    """A trainer's ``env_wrapper`` that puts the guards of ``config`` over its batch."""
    risk = config if isinstance(config, RiskConfig) else RiskConfig.load(config)

    def wrap(envs: Any) -> RiskVecEnv:
        return RiskVecEnv(envs, risk)

    return wrap
