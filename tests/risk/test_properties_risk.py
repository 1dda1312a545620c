"""Each guard's rule under hypothesis, on random mark paths and intended targets, through the
frictionless account of :mod:`tests.risk.simulate`. Every property is a function that returns
the first violation (None: the rule held); each is run once on a planted defect, on a path
where the defect shows, and must report it."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lobzero.risk import (
    CircuitBreaker,
    CircuitBreakerConfig,
    KillSwitch,
    KillSwitchConfig,
    Limits,
    LimitsConfig,
    Pyramiding,
    PyramidingConfig,
    RiskConfig,
    RiskStack,
    Sizing,
    SizingConfig,
    TrailingStop,
    TrailingStopConfig,
)

from tests.risk.simulate import Trace, one, only_reduces, price_paths, simulate, targets

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EPS = 1e-9
#: cash of the breaker's and kill switch's account: positions of up to 8 at a mark near 100
#: are two times levered, so drawdowns reach their bounds in about half of the examples
LEVERED = 400.0


def planted(config: RiskConfig, guard: object) -> RiskStack:
    """The stack of ``config`` with its one guard replaced by ``guard`` (a planted defect)."""
    stack = RiskStack(config)
    stack.guards = [guard]  # type: ignore[list-item]
    return stack


# --- limits -----------------------------------------------------------------------------


def limits_violation(traces: dict[str, Trace], c: LimitsConfig) -> str | None:
    """|position| and |position| x mark within the caps per symbol, and their sums over the
    symbols after every symbol's decision; no guard asks for more than it was given."""
    symbols = list(traces)
    steps = len(traces[symbols[0]].marks)
    held = dict.fromkeys(symbols, 0.0)
    mark = dict.fromkeys(symbols, 1.0)
    for t in range(steps):
        for s in symbols:
            tr = traces[s]
            held[s], mark[s] = tr.allowed[t], tr.marks[t]
            if c.max_position is not None and abs(held[s]) > c.max_position * (1 + EPS):
                return f"{s} at {t}: |{held[s]}| > max_position {c.max_position}"
            if c.max_notional is not None and abs(held[s]) * mark[s] > c.max_notional * (1 + EPS):
                return f"{s} at {t}: notional {abs(held[s]) * mark[s]} > {c.max_notional}"
            total = sum(abs(v) for v in held.values())
            if c.max_total_position is not None and total > c.max_total_position * (1 + EPS):
                return f"at {t}: total position {total} > {c.max_total_position}"
            notional = sum(abs(held[k]) * mark[k] for k in symbols)
            if c.max_total_notional is not None and notional > c.max_total_notional * (1 + EPS):
                return f"at {t}: total notional {notional} > {c.max_total_notional}"
    for s in symbols:
        if (why := only_reduces(traces[s])) is not None:
            return f"{s}: {why}"
    return None


optional_cap = st.none() | st.floats(0.05, 3.0)


@SETTINGS
@given(
    data=st.data(),
    max_position=optional_cap,
    max_notional=st.none() | st.floats(5.0, 300.0),
    max_total_position=optional_cap,
    max_total_notional=st.none() | st.floats(5.0, 300.0),
)
def test_limits_are_never_exceeded(
    data: st.DataObject,
    max_position: float | None,
    max_notional: float | None,
    max_total_position: float | None,
    max_total_notional: float | None,
) -> None:
    config = LimitsConfig(max_position, max_notional, max_total_position, max_total_notional)
    marks = {s: data.draw(price_paths(min_size=10, max_size=30), label=s) for s in ("A", "B")}
    n = min(len(m) for m in marks.values())
    marks = {s: m[:n] for s, m in marks.items()}
    intents = {s: data.draw(targets(n), label=f"intents {s}") for s in marks}
    traces = simulate(RiskStack(RiskConfig(limits=config)), marks, intents)
    assert limits_violation(traces, config) is None


class LongsOnlyLimits(Limits):
    """Planted defect: the caps clip longs only."""

    def apply(self, ctx, target):  # type: ignore[no-untyped-def]
        cap = self.largest(ctx)
        if cap is None or target <= cap[0]:
            return target, None
        return cap[0], "planted"


def test_the_limits_property_catches_caps_on_longs_only() -> None:
    config = LimitsConfig(max_position=1.0)
    stack = planted(RiskConfig(limits=config), LongsOnlyLimits(config))
    traces = simulate(stack, {"S": np.full(4, 100.0)}, {"S": np.array([2.0, -2.0, 0.5, -0.5])})
    assert "max_position" in (limits_violation(traces, config) or "")
    honest = simulate(
        RiskStack(RiskConfig(limits=config)),
        {"S": np.full(4, 100.0)},
        {"S": np.array([2.0, -2.0, 0.5, -0.5])},
    )
    assert limits_violation(honest, config) is None


# --- circuit breaker ----------------------------------------------------------------------


def breaker_violation(trace: Trace, bound: float) -> str | None:
    """The drawdown from the peak equity never exceeds ``bound`` by more than one decision's
    loss (the largest one-decision loss so far, a fraction of the peak): the breaker sees each
    equity and flattens at the first one past the bound."""
    peak = np.maximum.accumulate(trace.equity)
    drawdown = 1.0 - trace.equity / peak
    step_loss = np.maximum(0.0, -np.diff(trace.equity, prepend=trace.equity[0])) / peak
    slack = np.maximum.accumulate(step_loss)
    over = np.nonzero(drawdown > bound + slack + EPS)[0]
    if len(over):
        t = int(over[0])
        return f"decision {t}: drawdown {drawdown[t]:.4%} > {bound:.4%} + {slack[t]:.4%}"
    return None


@SETTINGS
@given(data=st.data(), bound=st.floats(0.005, 0.3))
def test_the_breaker_bounds_the_drawdown(data: st.DataObject, bound: float) -> None:
    marks = data.draw(price_paths(min_size=10, max_size=80, move=0.05))
    intents = data.draw(targets(len(marks), size=8.0))
    stack = RiskStack(RiskConfig(circuit_breaker=CircuitBreakerConfig(bound)))
    trace = one(stack, marks, intents, cash=LEVERED)
    assert breaker_violation(trace, bound) is None
    assert only_reduces(trace) is None
    halted = [t for t, ev in enumerate(trace.events) if any("tripped" in e.reason for e in ev)]
    if halted:  # flat from the trip on, halted for good once a decision saw the flat position
        assert np.all(trace.allowed[halted[0] :] == 0.0) and len(halted) == 1
        last = halted[0] == len(marks) - 1 and trace.held[-1] != 0
        assert stack.breaker_state == ("reducing" if last else "halted")


class EveryOtherDecision(CircuitBreaker):
    """Planted defect: the breaker looks at every other decision only."""

    n = 0

    def apply(self, ctx, target):  # type: ignore[no-untyped-def]
        self.n += 1
        if self.n % 2 == 0 and self.state == "active":
            return target, None
        return super().apply(ctx, target)


def test_the_breaker_property_catches_a_breaker_checking_every_other_decision() -> None:
    marks = np.array([100.0, 95.0, 90.0, 85.0, 80.0])
    intents = np.full(5, 1.0)
    config = CircuitBreakerConfig(max_drawdown=0.004)
    defect = planted(RiskConfig(circuit_breaker=config), EveryOtherDecision(config))
    assert breaker_violation(one(defect, marks, intents), 0.004) is not None
    honest = RiskStack(RiskConfig(circuit_breaker=config))
    assert breaker_violation(one(honest, marks, intents), 0.004) is None


# --- trailing stop ------------------------------------------------------------------------


def stop_violation(trace: Trace, c: TrailingStopConfig) -> str | None:
    """For an agent holding one side all along: the position is closed exactly at the first
    decision where, armed (the best mark since entry was ``arm_atr`` ATRs in its favour),
    the mark is ``atr_multiple`` ATRs back from the best, and stays closed."""
    m, side = trace.marks, float(np.sign(trace.intended[0]))
    first = next((t for t, h in enumerate(trace.held) if h != 0), None)
    if first is None:
        return None if np.all(trace.allowed == trace.intended) else "changed before entry"
    entry, best, armed, trigger = m[first], m[first], False, None
    for t in range(first, len(m)):
        best = max(best * side, m[t] * side) * side
        diffs = np.abs(np.diff(m[max(0, t - c.atr_window) : t + 1]))
        atr = float(np.mean(diffs))
        if atr > 0:
            armed = armed or (best - entry) * side >= c.arm_atr * atr
            if armed and (m[t] - (best - side * c.atr_multiple * atr)) * side <= 0:
                trigger = t
                break
    exits = [t for t in range(len(m)) if trace.allowed[t] != trace.intended[t]]
    if trigger is None:
        return None if not exits else f"closed at {exits[0]} without a stop"
    if not exits or exits[0] != trigger:
        return f"stop at {trigger}, closed at {exits[0] if exits else None}"
    if np.any(trace.allowed[trigger:] != 0):
        return "reopened the stopped side"
    return None


@SETTINGS
@given(
    data=st.data(),
    k=st.floats(0.5, 4.0),
    arm=st.floats(0.0, 3.0),
    window=st.integers(1, 10),
    side=st.sampled_from([-1.0, 1.0]),
)
def test_the_trailing_stop_exits_at_k_atr_from_the_best_once_armed(
    data: st.DataObject, k: float, arm: float, window: int, side: float
) -> None:
    config = TrailingStopConfig(atr_multiple=k, arm_atr=arm, atr_window=window)
    marks = data.draw(price_paths(min_size=10, max_size=60, move=0.02))
    trace = one(RiskStack(RiskConfig(trailing_stop=config)), marks, np.full(len(marks), side))
    assert stop_violation(trace, config) is None


class StopFromEntry(TrailingStop):
    """Planted defect: the stop trails the entry, never the best mark."""

    def _best(self, symbol: str, mark: float, side: float) -> float:
        return self.entry[symbol]


def test_the_stop_property_catches_a_stop_that_does_not_trail() -> None:
    marks = np.array([100.0 + i for i in range(11)] + [110.0 - i for i in range(1, 6)])
    config = TrailingStopConfig(atr_multiple=2.0, arm_atr=1.0, atr_window=3)
    intents = np.ones(len(marks))
    defect = planted(RiskConfig(trailing_stop=config), StopFromEntry(config))
    assert stop_violation(one(defect, marks, intents), config) is not None
    honest = one(RiskStack(RiskConfig(trailing_stop=config)), marks, intents)
    assert stop_violation(honest, config) is None and honest.allowed[-1] == 0.0


# --- pyramiding ---------------------------------------------------------------------------


def pyramid_violation(trace: Trace, c: PyramidingConfig) -> str | None:
    """Within a position (one side held without a break), |position| <= max_multiple x its
    initial size; each add at most the initial size, made only after the mark moved
    ``add_after_return`` in the position's favour since the entry or the last add."""
    initial = reference = 0.0
    side = 0.0
    for t in range(len(trace.marks)):
        held, got, mark = trace.held[t], trace.allowed[t], trace.marks[t]
        if np.sign(held) != side:
            side, initial, reference = float(np.sign(held)), abs(held), mark
        if side == 0 or np.sign(got) != side:
            if got and abs(got) > c.initial_fraction * abs(trace.intended[t]) + EPS:
                return f"decision {t}: opened {got} > {c.initial_fraction} x intended"
            continue
        if abs(got) > c.max_multiple * initial * (1 + EPS):
            return f"decision {t}: {got} > {c.max_multiple} x initial {initial}"
        if abs(got) > abs(held) + EPS:
            if abs(got) - abs(held) > initial * (1 + EPS):
                return f"decision {t}: added {abs(got) - abs(held)} > initial {initial}"
            if (mark / reference - 1.0) * side < c.add_after_return:
                return f"decision {t}: added after a move of {mark / reference - 1:.4%}"
            reference = mark
    return None


@SETTINGS
@given(
    data=st.data(),
    fraction=st.floats(0.1, 1.0),
    multiple=st.floats(1.0, 4.0),
    step=st.floats(0.0, 0.02),
)
def test_pyramiding_never_exceeds_its_multiple_of_the_initial_size(
    data: st.DataObject, fraction: float, multiple: float, step: float
) -> None:
    config = PyramidingConfig(
        initial_fraction=fraction, max_multiple=multiple, add_after_return=step
    )
    marks = data.draw(price_paths(min_size=10, max_size=60, move=0.02))
    # intents mostly on one side, larger than the initial size, so adds are asked for
    intents = data.draw(targets(len(marks), size=10.0))
    trace = one(RiskStack(RiskConfig(pyramiding=config)), marks, intents)
    assert pyramid_violation(trace, config) is None
    assert only_reduces(trace) is None


def test_the_pyramid_property_catches_a_missing_cap() -> None:
    config = PyramidingConfig(initial_fraction=0.2, max_multiple=3.0, add_after_return=0.001)
    marks = 100.0 * 1.01 ** np.arange(8)
    intents = np.full(8, 100.0)
    uncapped = Pyramiding(PyramidingConfig(0.2, 1e9, 0.001))  # the cap not applied
    defect = planted(RiskConfig(pyramiding=config), uncapped)
    assert "x initial" in (pyramid_violation(one(defect, marks, intents), config) or "")
    honest = one(RiskStack(RiskConfig(pyramiding=config)), marks, intents)
    assert pyramid_violation(honest, config) is None
    assert honest.allowed.max() == pytest.approx(60.0)  # 3 x the initial 20, reached


# --- kill switch --------------------------------------------------------------------------


def kill_violation(trace: Trace, c: KillSwitchConfig) -> str | None:
    """The switch trips at the first decision whose equity has lost ``max_loss`` of the
    equity ``window`` decisions before (the first one, before that many), not earlier, and
    everything is flat from then on."""
    e = trace.equity
    trip = next(
        (t for t in range(len(e)) if 1.0 - e[t] / e[max(0, t - c.window)] >= c.max_loss), None
    )
    changed = np.nonzero(trace.allowed != trace.intended)[0]
    first = int(changed[0]) if len(changed) else None
    if trip is None:
        return None if first is None else f"changed at {first} without a trip"
    if first is not None and first < trip:
        return f"changed at {first}, before the trip at {trip}"
    if np.any(trace.allowed[trip:] != 0):
        return f"not flat after the trip at {trip}"
    return None


@SETTINGS
@given(data=st.data(), loss=st.floats(0.005, 0.2), window=st.integers(1, 20))
def test_the_kill_switch_trips_at_its_loss_rate(
    data: st.DataObject, loss: float, window: int
) -> None:
    config = KillSwitchConfig(max_loss=loss, window=window)
    marks = data.draw(price_paths(min_size=10, max_size=60, move=0.04))
    intents = data.draw(targets(len(marks), size=8.0))
    stack = RiskStack(RiskConfig(kill_switch=config))
    trace = one(stack, marks, intents, cash=LEVERED)
    assert kill_violation(trace, config) is None


class LossSinceStart(KillSwitch):
    """Planted defect: the loss is counted from the first equity, not over the window."""

    def reset(self) -> None:
        super().reset()
        self.equities = deque()


def test_the_kill_switch_property_catches_a_window_that_does_not_roll() -> None:
    config = KillSwitchConfig(max_loss=0.05, window=3)
    marks = 100.0 * 0.99 ** np.arange(12)  # 1 % a decision: 3 % a window, 11 % overall
    intents = np.full(12, 10.0)
    defect = planted(RiskConfig(kill_switch=config), LossSinceStart(config))
    assert kill_violation(one(defect, marks, intents), config) is not None
    honest = one(RiskStack(RiskConfig(kill_switch=config)), marks, intents)
    assert kill_violation(honest, config) is None and honest.allowed[-1] == 10.0


# --- sizing -------------------------------------------------------------------------------


def sizing_violation(trace: Trace, c: SizingConfig) -> str | None:
    """With sigma and mu the standard deviation and mean of the last ``window`` log returns:
    |target| x mark x sigma <= risk_fraction x equity ("volatility"), or |target| x mark <=
    kelly_fraction x max(0, side x mu / sigma^2) x equity ("kelly")."""
    for t in range(len(trace.marks)):
        r = np.diff(np.log(trace.marks[max(0, t - c.window) : t + 1]))
        got, mark, equity = trace.allowed[t], trace.marks[t], max(trace.equity[t], 0.0)
        if len(r) < 2 or got == 0 or np.std(r, ddof=1) == 0:
            continue
        sigma = float(np.std(r, ddof=1))
        if c.method == "volatility":
            cap = c.risk_fraction * equity / (mark * sigma)
        else:
            cap = c.kelly_fraction * max(0.0, np.sign(got) * float(np.mean(r)) / sigma**2)
            cap *= equity / mark
        if abs(got) > cap * (1 + 1e-7):
            return f"decision {t}: |{got}| > {cap}"
    return only_reduces(trace)


@SETTINGS
@given(
    data=st.data(),
    method=st.sampled_from(["volatility", "kelly"]),
    budget=st.floats(0.0001, 0.01),
    window=st.integers(2, 20),
)
def test_sizing_keeps_the_risk_budget(
    data: st.DataObject, method: str, budget: float, window: int
) -> None:
    config = SizingConfig(
        method=method, risk_fraction=budget, kelly_fraction=budget * 50, window=window
    )  # type: ignore[arg-type]
    marks = data.draw(price_paths(min_size=10, max_size=50, move=0.03))
    intents = data.draw(targets(len(marks), size=8.0))
    trace = one(RiskStack(RiskConfig(sizing=config)), marks, intents)
    assert sizing_violation(trace, config) is None


def test_the_sizing_property_catches_a_too_short_window() -> None:
    config = SizingConfig(method="volatility", risk_fraction=0.001, window=10)
    marks = np.array([100, 104, 98, 105, 97, 103, 99, 99.1, 99.2, 99.3, 99.4])
    intents = np.full(len(marks), 8.0)
    defect = planted(RiskConfig(sizing=config), Sizing(SizingConfig("volatility", 0.001, 0.5, 2)))
    assert sizing_violation(one(defect, marks, intents), config) is not None
    assert (
        sizing_violation(one(RiskStack(RiskConfig(sizing=config)), marks, intents), config) is None
    )


# --- all together -------------------------------------------------------------------------


@SETTINGS
@given(data=st.data(), max_position=st.floats(0.1, 5.0), bound=st.floats(0.01, 0.3))
def test_the_composed_stack_keeps_every_cap(
    data: st.DataObject, max_position: float, bound: float
) -> None:
    """Every guard at once: the limit and the breaker's bound still hold, whatever the
    other guards do, and the stack only ever reduces (planted below: a sizing that scales
    up, run after the limits)."""
    config = RiskConfig(
        kill_switch=KillSwitchConfig(max_loss=0.5, window=10),
        circuit_breaker=CircuitBreakerConfig(max_drawdown=bound),
        trailing_stop=TrailingStopConfig(atr_multiple=2.0, arm_atr=0.5, atr_window=5),
        sizing=SizingConfig(method="volatility", risk_fraction=0.01, window=5),
        pyramiding=PyramidingConfig(initial_fraction=0.5, max_multiple=3.0, add_after_return=0.0),
        limits=LimitsConfig(max_position=max_position),
    )
    marks = data.draw(price_paths(min_size=10, max_size=60, move=0.04))
    intents = data.draw(targets(len(marks), size=8.0))
    trace = one(RiskStack(config), marks, intents, cash=LEVERED)
    assert composed_violation(trace, max_position, bound) is None


def composed_violation(trace: Trace, max_position: float, bound: float) -> str | None:
    """The limit, the breaker's bound and only-reducing, together."""
    if np.abs(trace.allowed).max() > max_position * (1 + EPS):
        return f"position {np.abs(trace.allowed).max()} > {max_position}"
    return breaker_violation(trace, bound) or only_reduces(trace)


class ScalesUp(Sizing):
    """Planted defect: a sizing that doubles a target (volatility targeting that levers up)."""

    def apply(self, ctx, target):  # type: ignore[no-untyped-def]
        return 2.0 * target, "planted" if target else None


def test_the_composed_property_catches_a_guard_that_scales_up_after_the_limits() -> None:
    config = RiskConfig(limits=LimitsConfig(max_position=1.0))
    stack = RiskStack(config)
    stack.guards = [*stack.guards, ScalesUp(SizingConfig())]
    marks, intents = np.full(5, 100.0), np.full(5, 1.0)
    assert composed_violation(one(stack, marks, intents), 1.0, 0.1) is not None
    assert composed_violation(one(RiskStack(config), marks, intents), 1.0, 0.1) is None
