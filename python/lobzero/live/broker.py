"""Execution behind one interface (:class:`Broker`): the paper loop hands it each symbol's
action at each decision and gets the fills, the new observation and the account back.

:class:`PaperBroker` executes on the Rust core's own execution model and ledger: each symbol is
a :class:`~lobzero.TradingEnv` over the recorded market, stepped once per decision, so an order
walks the book after the configured latency, pays the taker fee and is marked to the mid
exactly as in the environment (paper results equal the environment's on the same events, by
construction rather than by a second implementation). A broker of a real exchange implements
the same protocol (out of scope here).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from lobzero.data.market import Market
from lobzero.envs import EnvConfig, TradingEnv
from lobzero.exceptions import ConfigError

#: target fractions of the "target" action mode, by action index (the core's table)
TARGET_FRACTIONS = (-1.0, -0.5, 0.0, 0.5, 1.0)


@dataclass(frozen=True)
class Execution:
    """What one decision's action did: the observation of the next decision ``[obs_dim]``
    float32, the environment's reward, whether the symbol's run is over (``done``: bankrupt or
    out of data), its ``info`` (equity, cash, position, mark, ts_ns of the next decision, ...)
    and its fills (ts_ns, side, price, size, fee)."""

    obs: np.ndarray
    reward: float
    done: bool
    info: dict[str, Any]
    fills: list[tuple[int, int, float, float, float]]


class Broker(Protocol):
    """Where the paper loop's orders go."""

    def open(self, symbol: str, start_ns: int) -> tuple[np.ndarray, dict[str, Any]]:
        """Starts trading ``symbol`` at receive time ``start_ns``: the first observation and
        the account's info."""
        ...

    def execute(self, symbol: str, action: Any) -> Execution:
        """Carries out the action decided on the last observation of ``symbol``."""
        ...

    def hold_action(self, symbol: str) -> Any:
        """The action that keeps the current position (the over-budget policy "hold")."""
        ...


@dataclass
class PaperBroker:
    """Paper execution on the environment's execution model (see the module docs): one
    :class:`TradingEnv` per symbol of ``markets`` with ``env_config`` (its ``episode_steps`` is
    raised so that only the data's end, or bankruptcy, ends a symbol's run)."""

    markets: Mapping[str, Market]
    env_config: EnvConfig
    envs: dict[str, TradingEnv] = field(init=False, default_factory=dict)
    _max_lots: dict[str, int] = field(init=False, default_factory=dict)
    _position_lots: dict[str, int] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        if self.env_config.step_events:
            raise ConfigError("the paper loop runs on the time clock: set step_events = 0")
        for symbol, market in self.markets.items():
            span = int(market.end_ns or 0) - int(market.start_ns or 0)
            steps = max(self.env_config.episode_steps, span // self.step_ns + 2)
            config = self.env_config.replace(episode_steps=steps)
            self.envs[symbol] = TradingEnv(market, config)
            self._max_lots[symbol] = int(config.to_core(market.instrument)["max_position_lots"])

    @property
    def step_ns(self) -> int:
        """Time between decisions, ns."""
        return round(self.env_config.step_ms * 1e6)

    @property
    def wait_ns(self) -> int:
        """Market time a decision's execution needs after the decision, ns (the next decision,
        or the order's arrival if the latency is longer)."""
        return max(self.step_ns, round(self.env_config.latency_ms * 1e6))

    def feature_names(self) -> list[str]:
        """The frame layout of the observations (the same for every symbol)."""
        return next(iter(self.envs.values())).feature_names

    def open(self, symbol: str, start_ns: int) -> tuple[np.ndarray, dict[str, Any]]:
        """Resets the symbol's environment at ``start_ns`` (after its warm-up, on the first
        two-sided book): the first observation ``[obs_dim]`` and info."""
        obs, info = self.envs[symbol].reset(
            seed=self.env_config.seed, options={"start_ns": start_ns}
        )
        self._position_lots[symbol] = 0
        return obs, info

    def execute(self, symbol: str, action: Any) -> Execution:
        """Steps the symbol's environment with ``action`` (one decision)."""
        obs, reward, terminated, truncated, info = self.envs[symbol].step(action)
        lot = self.markets[symbol].instrument.lot
        self._position_lots[symbol] = round(float(info["position"]) / lot)
        return Execution(
            obs, float(reward), bool(terminated or truncated), info, list(info["fills"])
        )

    def hold_action(self, symbol: str) -> Any:
        """The action that keeps the position: "side" hold (1); "continuous" the position's
        fraction; "target" the target equal to the position, or the nearest one when a
        partial fill left the position between targets (that one trades)."""
        position, max_lots = self._position_lots.get(symbol, 0), self._max_lots[symbol]
        mode = self.env_config.action_mode
        if mode == "side":
            return 1
        if mode == "continuous":
            return np.float32(position / max_lots)
        for i, fraction in enumerate(TARGET_FRACTIONS):
            if round(fraction * max_lots) == position:
                return i
        # a position between the targets (partial fill): the nearest target
        return int(np.argmin([abs(f * max_lots - position) for f in TARGET_FRACTIONS]))
