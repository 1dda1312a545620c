"""The guards. Each reads a :class:`~lobzero.risk.state.Context` and the target it is given
(units of size) and returns the target it allows with the reason when it changed it. Every
guard only moves a target towards the current position or towards flat: none ever asks for
more than it was given, so a guard later in the order cannot undo an earlier one's cap.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import deque
from typing import ClassVar, Literal

import numpy as np

from lobzero.risk.config import (
    CircuitBreakerConfig,
    KillSwitchConfig,
    LimitsConfig,
    PyramidingConfig,
    SizingConfig,
    TrailingStopConfig,
)
from lobzero.risk.state import Context

BreakerState = Literal["active", "reducing", "halted"]


def _sign(x: float) -> float:
    return 0.0 if x == 0 else math.copysign(1.0, x)


def _cap(target: float, limit: float) -> float:
    """``target`` with its size at most ``limit`` (>= 0), same side."""
    return math.copysign(min(abs(target), max(0.0, limit)), target) if target else 0.0


class RiskGuard(ABC):
    """One rule. ``apply`` is called once per symbol and decision, in the stack's order, and
    keeps whatever state the rule needs; ``reset`` forgets it (a new account)."""

    name: ClassVar[str]

    @property
    def history_length(self) -> int:
        """Marks of the symbol's history the guard reads."""
        return 0

    @abstractmethod
    def apply(self, ctx: Context, target: float) -> tuple[float, str | None]:
        """The allowed target and, when it differs from ``target``, why."""

    def reset(self) -> None:  # noqa: B027 (a stateless guard has nothing to forget)
        """Forgets everything seen (state as new)."""


class KillSwitch(RiskGuard):
    """Flattens every symbol for good once the portfolio lost ``max_loss`` of its equity of
    ``window`` decisions ago (see :class:`KillSwitchConfig`); :meth:`rearm` re-enables it."""

    name = "kill_switch"

    def __init__(self, config: KillSwitchConfig) -> None:
        self.config = config
        self.reset()

    def reset(self) -> None:
        # the portfolio equity at each of the last window + 1 decisions (the first one seen
        # stays the reference until a whole window has passed)
        self.equities: deque[float] = deque(maxlen=self.config.window + 1)
        self.tripped = False
        self._last_symbol_seen: set[str] = set()

    def rearm(self) -> None:
        """Trading resumes; the loss window starts again."""
        self.reset()

    def loss(self) -> float:
        """Loss of the portfolio since the window's first equity (fraction; < 0: a gain)."""
        if not self.equities or self.equities[0] <= 0:
            return 0.0
        return 1.0 - self.equities[-1] / self.equities[0]

    def apply(self, ctx: Context, target: float) -> tuple[float, str | None]:
        # one portfolio decision is the round of all symbols: a symbol seen again starts one
        if ctx.symbol in self._last_symbol_seen or not self.equities:
            self._last_symbol_seen = set()
            self.equities.append(ctx.portfolio.equity)
        else:
            self.equities[-1] = ctx.portfolio.equity
        self._last_symbol_seen.add(ctx.symbol)
        if not self.tripped and self.loss() >= self.config.max_loss:
            self.tripped = True
            reason = (
                f"tripped: lost {self.loss():.2%} within {self.config.window} decisions "
                f"(max {self.config.max_loss:.2%}); flat until rearm()"
            )
            return 0.0, reason
        if self.tripped:
            return 0.0, "killed: flat until rearm()" if target != 0 else None
        return target, None


class CircuitBreaker(RiskGuard):
    """Drawdown circuit breaker over the portfolio's equity (see :class:`CircuitBreakerConfig`).
    States: "active" (targets pass), "reducing" (tripped: every target is flat until every
    symbol is), "halted" (flat); only :meth:`resume` makes it active again, with the peak
    starting over from the next equity."""

    name = "circuit_breaker"

    def __init__(self, config: CircuitBreakerConfig) -> None:
        self.config = config
        self.reset()

    def reset(self) -> None:
        self.state: BreakerState = "active"
        self.peak: float | None = None

    def resume(self) -> None:
        """Active again; the drawdown is measured from the next equity seen."""
        self.state = "active"
        self.peak = None

    def drawdown(self, equity: float) -> float:
        """``equity``'s drawdown from the peak (a fraction; 0 before any peak)."""
        if self.peak is None or self.peak <= 0:
            return 0.0
        return 1.0 - equity / self.peak

    def apply(self, ctx: Context, target: float) -> tuple[float, str | None]:
        equity = ctx.portfolio.equity
        if self.state == "active":
            self.peak = equity if self.peak is None else max(self.peak, equity)
            drawdown = self.drawdown(equity)
            if drawdown <= self.config.max_drawdown:
                return target, None
            self.state = "reducing"
            reason = (
                f"tripped: drawdown {drawdown:.2%} > {self.config.max_drawdown:.2%}; "
                "flattening, then halted until resume()"
            )
        else:
            reason = f"{self.state}: flat until resume()"
        if self.state == "reducing" and ctx.portfolio.all_flat():
            self.state = "halted"
        return 0.0, reason if (target != 0 or ctx.state.position != 0) else None


class TrailingStop(RiskGuard):
    """ATR x k trailing stop, armed above a profit (see :class:`TrailingStopConfig`), per
    symbol."""

    name = "trailing_stop"

    def __init__(self, config: TrailingStopConfig) -> None:
        self.config = config
        self.reset()

    @property
    def history_length(self) -> int:
        return self.config.atr_window + 1

    def reset(self) -> None:
        # per symbol: side held (+1 / -1), entry mark, best mark since entry, armed
        self.side: dict[str, float] = {}
        self.entry: dict[str, float] = {}
        self.best: dict[str, float] = {}
        self.armed: dict[str, bool] = {}
        #: per symbol: the side a stop closed, kept closed until the agent lets it go
        self.stopped: dict[str, float] = {}

    def apply(self, ctx: Context, target: float) -> tuple[float, str | None]:
        sym, mark = ctx.symbol, ctx.state.mark
        side = _sign(ctx.state.position)
        stopped = self.stopped.get(sym, 0.0)
        if stopped and _sign(target) != stopped:
            del self.stopped[sym]  # the agent asked for flat or the other side
            stopped = 0.0
        if side != self.side.get(sym, 0.0):  # a new position (or none): track it afresh
            self.side[sym], self.entry[sym], self.best[sym] = side, mark, mark
            self.armed[sym] = False
        if stopped:
            return 0.0, "stopped out: this side stays closed until the agent leaves it"
        if side == 0.0:
            return target, None
        best = self.best[sym] = self._best(sym, mark, side)
        atr = ctx.history.atr(self.config.atr_window)
        if not atr:  # no move seen yet: no distance to trail by
            return target, None
        if not self.armed[sym] and (best - self.entry[sym]) * side >= self.config.arm_atr * atr:
            self.armed[sym] = True
        stop = best - side * self.config.atr_multiple * atr
        if self.armed[sym] and (mark - stop) * side <= 0:
            self.stopped[sym] = side
            self.side[sym] = 0.0
            why = (
                f"stop: mark {mark:g} reached {stop:g} ({self.config.atr_multiple:g} ATR "
                f"of {atr:.4g} from the best {best:g})"
            )
            return 0.0, why
        return target, None

    def _best(self, symbol: str, mark: float, side: float) -> float:
        """The best mark in the position's favour since its entry, ``mark`` included."""
        return max(self.best[symbol] * side, mark * side) * side


class Sizing(RiskGuard):
    """Volatility- or Kelly-scaled size (see :class:`SizingConfig`), per symbol."""

    name = "sizing"

    def __init__(self, config: SizingConfig) -> None:
        self.config = config

    @property
    def history_length(self) -> int:
        return self.config.window + 1

    def largest(self, ctx: Context, side: float) -> float | None:
        """Largest |target| allowed on ``side`` (None: no cap yet)."""
        returns = ctx.history.log_returns(self.config.window)
        if len(returns) < 2:
            return None
        mark, equity = ctx.state.mark, max(ctx.state.equity, 0.0)
        sigma = float(np.std(returns, ddof=1))
        if sigma == 0:
            return None
        if self.config.method == "volatility":
            return self.config.risk_fraction * equity / (mark * sigma)
        edge = max(0.0, side * float(np.mean(returns)) / sigma**2)
        return self.config.kelly_fraction * edge * equity / mark

    def apply(self, ctx: Context, target: float) -> tuple[float, str | None]:
        if target == 0:
            return target, None
        largest = self.largest(ctx, _sign(target))
        if largest is None or abs(target) <= largest:
            return target, None
        return _cap(target, largest), f"{self.config.method} sizing: at most {largest:.6g}"


class Pyramiding(RiskGuard):
    """Open at a fraction, add to a winner in steps, at most ``max_multiple`` x the initial
    size (see :class:`PyramidingConfig`), per symbol."""

    name = "pyramiding"

    def __init__(self, config: PyramidingConfig) -> None:
        self.config = config
        self.reset()

    def reset(self) -> None:
        # per symbol: side held, its initial size, mark of the entry or the last add
        self.side: dict[str, float] = {}
        self.initial: dict[str, float] = {}
        self.reference: dict[str, float] = {}

    def apply(self, ctx: Context, target: float) -> tuple[float, str | None]:
        sym, mark, position = ctx.symbol, ctx.state.mark, ctx.state.position
        side = _sign(position)
        if side != self.side.get(sym, 0.0):  # a position opened (or closed, or flipped)
            self.side[sym] = side
            self.initial[sym] = abs(position)
            self.reference[sym] = mark
        want = _sign(target)
        if want == 0 or (abs(target) <= abs(position) and want == side):
            return target, None  # flat, or reducing: always allowed
        fraction = self.config.initial_fraction
        if want != side:  # opening (from flat or the other side): the initial size
            opened = target * fraction
            if opened == target:
                return target, None
            return opened, f"pyramiding: opens at {fraction:g} of the target"
        initial = self.initial[sym]
        move = (mark / self.reference[sym] - 1.0) * side
        if move < self.config.add_after_return:
            return position, f"pyramiding: no add before a {self.config.add_after_return:.3%} gain"
        largest = min(abs(position) + initial, self.config.max_multiple * initial)
        self.reference[sym] = mark
        if abs(target) <= largest:
            return target, None
        return _cap(target, largest), f"pyramiding: adds at most {initial:g}, up to {largest:g}"


class Limits(RiskGuard):
    """Hard caps per symbol and over all symbols (see :class:`LimitsConfig`)."""

    name = "limits"

    def __init__(self, config: LimitsConfig) -> None:
        self.config = config

    def largest(self, ctx: Context) -> tuple[float, str] | None:
        """The tightest cap on |target| and its name (None: no cap)."""
        c, mark = self.config, ctx.state.mark
        others = [s for s in ctx.portfolio.states if s != ctx.symbol]
        caps: list[tuple[float, str]] = []
        if c.max_position is not None:
            caps.append((c.max_position, f"max_position {c.max_position:g}"))
        if c.max_notional is not None:
            caps.append((c.max_notional / mark, f"max_notional {c.max_notional:g}"))
        if c.max_total_position is not None:
            used = sum(ctx.portfolio.exposure(s) for s in others)
            caps.append(
                (c.max_total_position - used, f"max_total_position {c.max_total_position:g}")
            )
        if c.max_total_notional is not None:
            used = sum(ctx.portfolio.exposure(s) * ctx.portfolio.states[s].mark for s in others)
            caps.append(
                (
                    (c.max_total_notional - used) / mark,
                    f"max_total_notional {c.max_total_notional:g}",
                )
            )
        return min(caps, default=None)

    def apply(self, ctx: Context, target: float) -> tuple[float, str | None]:
        cap = self.largest(ctx)
        if cap is None or abs(target) <= cap[0]:
            return target, None
        return _cap(target, cap[0]), f"limit: {cap[1]}"


GUARDS: dict[str, type[RiskGuard]] = {
    g.name: g for g in (KillSwitch, CircuitBreaker, TrailingStop, Sizing, Pyramiding, Limits)
}
