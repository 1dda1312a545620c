"""`RiskWrapper`: a :class:`~lobzero.risk.RiskStack` between an agent and a
:class:`~lobzero.TradingEnv` (gymnasium wrapper), so agents train and are compared with the
guards; the rule is the stack's, written once.

The agent's action becomes a target position (units of size) through the environment's
action mode (:class:`ActionCodec`), the stack allows a target, and the action sent on is the
one of the mode that comes closest to it without going past it: never further from flat
than the allowed target nor on the other side of it ("target": a level of
{-1, -0.5, 0, 0.5, 1} x max position; "continuous": whole lots, rounded towards flat;
"side": the one of sell / hold / buy that best approaches it, so a flatten takes
|position| / side_unit decisions, and a position that is no multiple of side_unit, after a
partial fill, cannot be flattened exactly in this mode).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from lobzero.data.market import Market
from lobzero.envs.config import EnvConfig
from lobzero.exceptions import ConfigError, InvalidValueError
from lobzero.risk.config import (
    CircuitBreakerConfig,
    KillSwitchConfig,
    LimitsConfig,
    PyramidingConfig,
    RiskConfig,
    SizingConfig,
    TrailingStopConfig,
)
from lobzero.risk.stack import RiskStack
from lobzero.risk.state import GuardState

TARGET_FRACTIONS = (-1.0, -0.5, 0.0, 0.5, 1.0)


class ActionCodec:
    """Actions of an :class:`EnvConfig` action mode to target positions and back, with the
    instrument's ``lot`` (units of size of one lot); sizes are in lots as the core has them."""

    def __init__(self, config: EnvConfig, lot: float) -> None:
        self.mode = config.action_mode
        self.lot = float(lot)
        self.max_lots = max(1, round(config.max_position / lot))
        side = config.side_unit if config.side_unit is not None else config.max_position / 2
        self.side_lots = max(1, round(side / lot))

    def _lots(self, size: float) -> int:
        return round(size / self.lot)

    def target_of(self, action: Any, position: float) -> float:
        """The target position (units of size) ``action`` asks for at ``position``."""
        if self.mode == "continuous":
            x = float(np.clip(np.asarray(action, np.float64).reshape(-1)[0], -1.0, 1.0))
            return round(x * self.max_lots) * self.lot
        a = int(np.asarray(action).reshape(-1)[0])
        count = len(TARGET_FRACTIONS) if self.mode == "target" else 3
        if not 0 <= a < count:  # the core's own message, before a guard could replace it
            raise InvalidValueError(
                f"action: {a} is not a {self.mode} action: need 0 <= action < {count}"
            )
        if self.mode == "target":
            return round(TARGET_FRACTIONS[a] * self.max_lots) * self.lot
        delta = (-self.side_lots, 0, self.side_lots)[a]
        held = self._lots(position)
        return max(-self.max_lots, min(self.max_lots, held + delta)) * self.lot

    def action_for(self, allowed: float, position: float, intended_action: Any) -> Any:
        """The action of the mode closest to ``allowed`` (units of size) that goes neither
        further from flat than it nor past it to the other side; ``intended_action`` when
        that is the agent's own action."""
        # lots, rounded towards flat (the tolerance keeps a float like 49.999999999 for an
        # exact 50 lots at 50)
        cap = math.trunc(allowed / self.lot + math.copysign(1e-6, allowed))
        if self.mode == "continuous":
            if self.target_of(intended_action, position) == cap * self.lot:
                return intended_action
            return np.array([cap / self.max_lots], np.float32)
        n = len(TARGET_FRACTIONS) if self.mode == "target" else 3
        low, high = min(0, cap), max(0, cap)

        def key(a: int) -> tuple[int, int, int]:
            lots = self._lots(self.target_of(a, position))
            outside = max(low - lots, lots - high, 0)
            return outside, abs(lots - cap), a != int(np.asarray(intended_action).reshape(-1)[0])

        best = min(range(n), key=key)
        return intended_action if best == int(np.asarray(intended_action).reshape(-1)[0]) else best


class RiskWrapper(gym.Wrapper[np.ndarray, Any, np.ndarray, Any]):
    """A :class:`~lobzero.TradingEnv` whose actions pass the guards of ``config`` (a
    :class:`RiskConfig`, its TOML path, or a :class:`RiskStack` to share one with a caller).

    ``info["risk_events"]``: the step's interventions (dicts of
    :class:`~lobzero.risk.RiskEvent`), ``info["risk_target"]`` / ``info["intended_target"]``
    the allowed and intended target (units of size), ``info["breaker"]`` the circuit
    breaker's state. ``reset`` resets the guards (an episode is a new account); a tripped
    breaker stays halted for the rest of the episode unless :meth:`resume` is called.
    """

    def __init__(
        self, env: gym.Env[np.ndarray, Any], config: RiskConfig | RiskStack | str | Path
    ) -> None:
        super().__init__(env)
        base = env.unwrapped
        env_config = getattr(base, "config", None)
        market = getattr(base, "market", None)
        if not isinstance(env_config, EnvConfig) or market is None:
            raise ConfigError("RiskWrapper wraps a lobzero TradingEnv")
        self.stack = config if isinstance(config, RiskStack) else RiskStack(config)
        self.symbol = str(market.instrument.symbol)
        self.codec = ActionCodec(env_config, market.instrument.lot)
        self._info: dict[str, Any] | None = None
        self.interventions = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Resets the environment and the guards (a new account)."""
        obs, info = self.env.reset(seed=seed, options=options)
        self.stack.reset()
        self.interventions = 0
        self._info = info
        return obs, {**info, "risk_events": [], "breaker": self.stack.breaker_state}

    def step(self, action: Any) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        """Steps with the action the guards allow in place of ``action``."""
        if self._info is None:
            raise ConfigError("RiskWrapper.step before reset")
        state = GuardState.from_info(self._info)
        intended = self.codec.target_of(action, state.position)
        decision = self.stack.decide(self.symbol, state, intended)
        sent = self.codec.action_for(decision.target, state.position, action)
        obs, reward, terminated, truncated, info = self.env.step(sent)
        self._info = info
        self.interventions += bool(decision.events)
        info = {
            **info,
            "risk_events": [e.to_dict() for e in decision.events],
            "risk_target": decision.target,
            "intended_target": intended,
            "breaker": self.stack.breaker_state,
        }
        return obs, reward, terminated, truncated, info

    def resume(self) -> None:
        """Resumes after the circuit breaker tripped."""
        self.stack.resume()

    # the TradingEnv API the episode runner reads (gymnasium 1 wrappers do not forward it)
    @property
    def config(self) -> EnvConfig:
        """The wrapped environment's configuration."""
        return self.env.unwrapped.config  # type: ignore[attr-defined,no-any-return]

    @property
    def market(self) -> Market:
        """The wrapped environment's market."""
        return self.env.unwrapped.market  # type: ignore[attr-defined,no-any-return]

    @property
    def feature_names(self) -> list[str]:
        """The wrapped environment's frame layout."""
        return self.env.unwrapped.feature_names  # type: ignore[attr-defined,no-any-return]

    @property
    def traded_notional(self) -> float:
        """Quote notional traded in the episode so far."""
        return float(self.env.unwrapped.traded_notional)  # type: ignore[attr-defined]

    def round_trips(self) -> list[tuple[int, int, int, int, float, float]]:
        """The wrapped environment's round trips (see :meth:`lobzero.TradingEnv.round_trips`)."""
        return self.env.unwrapped.round_trips()  # type: ignore[attr-defined,no-any-return]


def _single(name: str, table: type) -> Any:
    def make(env: gym.Env[np.ndarray, Any], config: Any = None) -> RiskWrapper:
        return RiskWrapper(env, RiskConfig(**{name: config or table()}))

    make.__name__ = "".join(p.capitalize() for p in name.split("_")) + "Wrapper"
    make.__doc__ = f"A :class:`RiskWrapper` with the {name.replace('_', ' ')} alone."
    return make


#: each guard alone as a wrapper: ``LimitsWrapper(env, LimitsConfig(max_position=0.05))``
LimitsWrapper = _single("limits", LimitsConfig)
CircuitBreakerWrapper = _single("circuit_breaker", CircuitBreakerConfig)
TrailingStopWrapper = _single("trailing_stop", TrailingStopConfig)
SizingWrapper = _single("sizing", SizingConfig)
PyramidingWrapper = _single("pyramiding", PyramidingConfig)
KillSwitchWrapper = _single("kill_switch", KillSwitchConfig)
