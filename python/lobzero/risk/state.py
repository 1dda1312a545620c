"""What a guard sees: the state an agent acted in (:class:`GuardState`), the symbol's recent
marks and the portfolio (:class:`Context`), and what it says (:class:`RiskEvent`,
:class:`Decision`)."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from lobzero.exceptions import ConfigError


@dataclass(frozen=True)
class GuardState:
    """One symbol's state at a decision: ``position`` (units of size, signed), ``equity`` and
    ``realized_pnl`` (settlement currency), ``mark`` (the mid valuing the position, > 0)."""

    position: float
    equity: float
    mark: float
    realized_pnl: float = 0.0

    def __post_init__(self) -> None:
        for name in ("position", "equity", "mark", "realized_pnl"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float | np.floating):
                raise ConfigError(f"GuardState.{name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ConfigError(f"GuardState.{name} must be finite, got {value!r}")
        if self.mark <= 0:
            raise ConfigError(f"GuardState.mark must be > 0, got {self.mark!r}")

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> GuardState:
        """The state in a :class:`~lobzero.TradingEnv` ``info`` dict."""
        return cls(
            position=float(info["position"]),
            equity=float(info["equity"]),
            mark=float(info["mark"]),
            realized_pnl=float(info.get("realized_pnl", 0.0)),
        )


@dataclass(frozen=True)
class RiskEvent:
    """A guard changed a target: which guard, on which symbol, the target it was given and
    the one it allowed (units of size), and why."""

    guard: str
    symbol: str
    intended: float
    allowed: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """The event as plain values (for ``info`` and JSON)."""
        return asdict(self)


@dataclass(frozen=True)
class Decision:
    """What :meth:`~lobzero.risk.RiskStack.decide` returns: the target the guards allow
    (units of size) and the interventions that led there, in guard order."""

    target: float
    intended: float
    events: tuple[RiskEvent, ...] = ()

    @property
    def changed(self) -> bool:
        """Whether a guard intervened."""
        return bool(self.events)


class MarkHistory:
    """The last ``length`` marks of one symbol, one per decision (oldest first)."""

    def __init__(self, length: int) -> None:
        self.marks: deque[float] = deque(maxlen=max(2, length))

    def push(self, mark: float) -> None:
        """Appends the mark of a new decision."""
        self.marks.append(float(mark))

    def last(self, n: int) -> np.ndarray:
        """The last ``n`` marks (fewer when fewer were seen), float64."""
        values = list(self.marks)[-n:]
        return np.asarray(values, np.float64)

    def atr(self, window: int) -> float | None:
        """Mean |change of the mark| over the last ``window`` decisions (None before one)."""
        marks = self.last(window + 1)
        if len(marks) < 2:
            return None
        return float(np.mean(np.abs(np.diff(marks))))

    def log_returns(self, window: int) -> np.ndarray:
        """Log returns of the mark over the last ``window`` decisions."""
        return np.diff(np.log(self.last(window + 1)))


@dataclass
class Portfolio:
    """Every symbol's latest state and allowed target, and the portfolio's equity (the sum
    of the symbols' equities, unless the caller gives the equity of one shared account)."""

    states: dict[str, GuardState] = field(default_factory=dict)
    targets: dict[str, float] = field(default_factory=dict)
    equity: float = 0.0

    def exposure(self, symbol: str) -> float:
        """|position| a symbol may hold after this decision: the larger of its position and
        its last allowed target (an order still on its way counts)."""
        state = self.states.get(symbol)
        held = abs(state.position) if state is not None else 0.0
        return max(held, abs(self.targets.get(symbol, 0.0)))

    def all_flat(self) -> bool:
        """Whether every symbol seen holds no position."""
        return all(s.position == 0.0 for s in self.states.values())


@dataclass
class Context:
    """What a guard reads at one decision: the symbol, its state, its recent marks (the
    current one last) and the portfolio (the other symbols' latest states)."""

    symbol: str
    state: GuardState
    history: MarkHistory
    portfolio: Portfolio
