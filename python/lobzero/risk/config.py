"""`RiskConfig`: which guards run and their settings (TOML tables ``[limits]``,
``[circuit_breaker]``, ``[trailing_stop]``, ``[sizing]``, ``[pyramiding]``, ``[kill_switch]``;
a guard whose table is absent does not run).

Units are the trading environment's: sizes in the instrument's units of size (base units, or
contracts when inverse), money (equity, notional) in its settlement currency, prices as the
mark (the mid valuing the position), time in decisions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Literal

from lobzero.config import TomlConfig
from lobzero.exceptions import ConfigError


def _check(config: TomlConfig, rules: dict[str, tuple[float, float, bool]]) -> None:
    """Refuses a field outside its range: ``rules[name] = (low, high, low_is_open)``; None
    values (an option left out) pass."""
    owner = type(config).__name__
    for name, (low, high, open_low) in rules.items():
        value = getattr(config, name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{owner}.{name} must be a number, got {value!r}")
        if not math.isfinite(value) or value > high or value < low or (open_low and value == low):
            bound = f"({low}, {high}]" if open_low else f"[{low}, {high}]"
            raise ConfigError(f"{owner}.{name} must be in {bound}, got {value!r}")


INF = math.inf


@dataclass(frozen=True)
class LimitsConfig(TomlConfig):
    """Hard caps on the target position (each optional): per symbol, |target| <=
    ``max_position`` (units of size) and |target| x mark <= ``max_notional`` (settlement
    currency for a linear instrument; for an inverse one use ``max_position``); over all
    symbols, the sum of |exposure| (the larger of each other symbol's position and last allowed
    target) plus this one's <= ``max_total_position`` / ``max_total_notional``."""

    #: largest |target| per symbol, units of size
    max_position: float | None = None
    #: largest |target| x mark per symbol, settlement currency
    max_notional: float | None = None
    #: largest sum of |position| over all symbols, units of size
    max_total_position: float | None = None
    #: largest sum of |position| x mark over all symbols, settlement currency
    max_total_notional: float | None = None

    def __post_init__(self) -> None:
        _check(self, {f.name: (0.0, INF, True) for f in fields(self)})


@dataclass(frozen=True)
class CircuitBreakerConfig(TomlConfig):
    """Drawdown circuit breaker: when the portfolio's equity falls more than ``max_drawdown``
    (a fraction) below its peak, every symbol is flattened (state "reducing" until all are
    flat, then "halted") and stays flat until :meth:`~lobzero.risk.RiskStack.resume`."""

    #: drawdown from the peak equity that trips the breaker (0.15: 15 %)
    max_drawdown: float = 0.15

    def __post_init__(self) -> None:
        _check(self, {"max_drawdown": (0.0, 1.0, True)})


@dataclass(frozen=True)
class TrailingStopConfig(TomlConfig):
    """Trailing stop: once a position's best mark since entry is ``arm_atr`` ATRs in its
    favour, it is closed when the mark falls ``atr_multiple`` ATRs back from that best mark.
    The ATR is the mean |change of the mark| per decision over ``atr_window`` decisions (the
    environment has no bars: one decision is one bar, its range its move). After a stop-out the
    same side stays closed until the agent itself asks for flat or the other side."""

    #: distance of the stop from the best mark, in ATRs (the k of ATR x k)
    atr_multiple: float = 3.0
    #: profit of the best mark over the entry, in ATRs, that arms the stop
    arm_atr: float = 1.0
    #: decisions of the ATR's average
    atr_window: int = 20

    def __post_init__(self) -> None:
        _check(self, {"atr_multiple": (0.0, INF, True), "arm_atr": (0.0, INF, False)})
        _check(self, {"atr_window": (1, 1e9, False)})


@dataclass(frozen=True)
class SizingConfig(TomlConfig):
    """Scales the intended target down (never up) from the mark's log returns over ``window``
    decisions (mean mu, standard deviation sigma; no scaling before two returns).

    - ``"volatility"``: the position's one-decision PnL standard deviation is at most
      ``risk_fraction`` of equity: |target| x mark x sigma <= risk_fraction x equity;
    - ``"kelly"``: continuous Kelly on the instrument, ``kelly_fraction`` of it: |target| x mark
      <= kelly_fraction x max(0, side x mu / sigma^2) x equity (no edge on the side: flat).
    """

    #: "volatility" (risk budget per decision) or "kelly" (fractional Kelly)
    method: Literal["volatility", "kelly"] = "volatility"
    #: volatility: largest one-decision PnL standard deviation, fraction of equity
    risk_fraction: float = 0.01
    #: kelly: the fraction of the full Kelly position
    kelly_fraction: float = 0.5
    #: decisions of mark history the returns are taken from
    window: int = 20

    def __post_init__(self) -> None:
        if self.method not in ("volatility", "kelly"):
            raise ConfigError(
                f"SizingConfig.method must be 'volatility' or 'kelly', got {self.method!r}"
            )
        _check(self, {"risk_fraction": (0.0, INF, True), "kelly_fraction": (0.0, INF, True)})
        _check(self, {"window": (2, 1e9, False)})


@dataclass(frozen=True)
class PyramidingConfig(TomlConfig):
    """Pyramiding: a position opens at ``initial_fraction`` of the intended target (its
    initial size, the |position| first held); it grows, only towards the intended target, in
    steps of at most the initial size, each only once the mark has moved ``add_after_return``
    (a fraction) in its favour since the entry or the last add, up to ``max_multiple`` times
    the initial size."""

    #: share of the intended target a new position opens with
    initial_fraction: float = 0.5
    #: largest position, in multiples of the initial size
    max_multiple: float = 3.0
    #: favourable move of the mark since the entry or last add that allows an add (fraction)
    add_after_return: float = 0.001

    def __post_init__(self) -> None:
        _check(self, {"initial_fraction": (0.0, 1.0, True), "max_multiple": (1.0, INF, False)})
        _check(self, {"add_after_return": (0.0, INF, False)})


@dataclass(frozen=True)
class KillSwitchConfig(TomlConfig):
    """Kill switch on the loss rate: when the portfolio has lost ``max_loss`` (a fraction) of
    its equity of ``window`` decisions ago (or of its first equity, before that many), every
    symbol is flattened for good, until :meth:`~lobzero.risk.RiskStack.rearm`."""

    #: loss within the window that trips the switch (fraction of the window's first equity)
    max_loss: float = 0.05
    #: decisions of the window
    window: int = 100

    def __post_init__(self) -> None:
        _check(self, {"max_loss": (0.0, 1.0, True), "window": (1, 1e9, False)})


@dataclass(frozen=True)
class RiskConfig(TomlConfig):
    """The guards that run, in the fixed order of :data:`lobzero.risk.GUARD_ORDER`; a guard
    whose table is absent (None) does not run. ``RiskConfig.load("risk.toml")``."""

    kill_switch: KillSwitchConfig | None = None
    circuit_breaker: CircuitBreakerConfig | None = None
    trailing_stop: TrailingStopConfig | None = None
    sizing: SizingConfig | None = None
    pyramiding: PyramidingConfig | None = None
    limits: LimitsConfig | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and not isinstance(value, TomlConfig):
                raise ConfigError(f"RiskConfig.{f.name} must be a table, got {value!r}")

    @property
    def enabled(self) -> list[str]:
        """Names of the guards that run, in their order."""
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]
