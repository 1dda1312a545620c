"""A frictionless account for the guards' properties: the position becomes the allowed target
at the decision's mark (no fees, no latency), so what the guards allow is what is held."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st
from lobzero.risk import GuardState, RiskEvent, RiskStack


@dataclass
class Trace:
    """One symbol's decisions, [T] each: the mark, the intended and allowed targets, the
    position held in the state decided on, the equity then, and the events."""

    marks: np.ndarray
    intended: np.ndarray
    allowed: np.ndarray
    held: np.ndarray
    equity: np.ndarray
    events: list[tuple[RiskEvent, ...]]


def simulate(
    stack: RiskStack,
    marks: dict[str, np.ndarray],
    intents: dict[str, np.ndarray],
    cash: float = 1000.0,
) -> dict[str, Trace]:
    """Every symbol decides in turn at each decision (the dicts' order); returns a trace per
    symbol."""
    symbols = list(marks)
    steps = len(next(iter(marks.values())))
    position = dict.fromkeys(symbols, 0.0)
    money = dict.fromkeys(symbols, cash)
    rows: dict[str, list[tuple[float, float, float, float, float]]] = {s: [] for s in symbols}
    events: dict[str, list[tuple[RiskEvent, ...]]] = {s: [] for s in symbols}
    for t in range(steps):
        for s in symbols:
            mark, want = float(marks[s][t]), float(intents[s][t])
            equity = money[s] + position[s] * mark
            decision = stack.decide(s, GuardState(position[s], equity, mark), want)
            rows[s].append((mark, want, decision.target, position[s], equity))
            events[s].append(decision.events)
            money[s] -= (decision.target - position[s]) * mark
            position[s] = decision.target
    out = {}
    for s in symbols:
        a = np.asarray(rows[s], np.float64).reshape(-1, 5)
        out[s] = Trace(a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4], events[s])
    return out


def one(stack: RiskStack, marks: np.ndarray, intents: np.ndarray, cash: float = 1000.0) -> Trace:
    """:func:`simulate` on one symbol, ``"S"``."""
    return simulate(stack, {"S": np.asarray(marks)}, {"S": np.asarray(intents)}, cash)["S"]


def price_paths(min_size: int = 3, max_size: int = 60, move: float = 0.03) -> st.SearchStrategy:
    """Positive mark paths from 100: a drift of at most ``move`` / 2 a decision plus noise of
    at most ``move`` (some decisions without any move, as a quiet book has)."""
    noise = st.floats(-move, move, allow_nan=False) | st.just(0.0)
    steps = st.lists(noise, min_size=min_size - 1, max_size=max_size - 1)

    def path(drift: float, r: list[float]) -> np.ndarray:
        moves = [drift + x if x else 0.0 for x in r]
        return 100.0 * np.exp(np.cumsum([0.0, *moves]))

    return st.builds(path, st.floats(-move / 2, move / 2, allow_nan=False), steps)


def targets(n: int, size: float = 2.0) -> st.SearchStrategy:
    """``n`` intended targets in [-size, size] (a whole -size, 0 or size as often), held for
    runs of decisions as an agent holds a view."""
    value = st.floats(-size, size, allow_nan=False) | st.sampled_from([-size, 0.0, size])
    runs = st.lists(st.tuples(value, st.integers(1, 12)), min_size=1, max_size=n)

    def spread(segments: list[tuple[float, int]]) -> np.ndarray:
        out = [v for v, k in segments for _ in range(k)]
        out += [segments[-1][0]] * max(0, n - len(out))
        return np.asarray(out[:n], np.float64)

    return runs.map(spread)


def only_reduces(trace: Trace) -> str | None:
    """Every guard only shrinks a target or holds the position: the allowed target is
    between the intended one and flat, or between the held position and the intended one."""
    for t, (want, got, held) in enumerate(
        zip(trace.intended, trace.allowed, trace.held, strict=True)
    ):
        towards_flat = min(0.0, want) - 1e-12 <= got <= max(0.0, want) + 1e-12
        towards_held = min(held, want) - 1e-12 <= got <= max(held, want) + 1e-12
        if not (towards_flat or towards_held):
            return f"decision {t}: intended {want}, held {held}, allowed {got}"
    return None
