"""``RiskStack.state()`` / ``restore()``: a stack restored from a snapshot taken mid-run
decides every later decision exactly as the stack that was never interrupted, with every guard
on (breaker, trailing stop, pyramiding, kill switch, sizing, limits); a restore that drops
one guard's state (planted) does not."""

from __future__ import annotations

import numpy as np
import pytest
from lobzero.exceptions import ConfigError
from lobzero.risk import GuardState, RiskConfig, RiskStack
from lobzero.risk.config import (
    CircuitBreakerConfig,
    KillSwitchConfig,
    LimitsConfig,
    PyramidingConfig,
    SizingConfig,
    TrailingStopConfig,
)

ALL = RiskConfig(
    kill_switch=KillSwitchConfig(max_loss=0.2, window=30),
    circuit_breaker=CircuitBreakerConfig(max_drawdown=0.05),
    trailing_stop=TrailingStopConfig(atr_multiple=2.0, arm_atr=0.5, atr_window=5),
    sizing=SizingConfig(window=5),
    pyramiding=PyramidingConfig(add_after_return=0.0005),
    limits=LimitsConfig(max_position=2.0),
)


def _market(n: int, seed: int = 0, drift: float = -10.0):
    """Two symbols' marks (trending random walks), equities and the agent's targets (mostly
    long, sometimes short or flat), one symbol a decision."""
    rng = np.random.default_rng(seed)
    marks = {"A": 100.0, "B": 50.0}
    out = []
    for k in range(n):
        symbol = "AB"[k % 2]
        marks[symbol] *= float(np.exp(rng.normal(0.0, 0.01)))
        equity = 10_000.0 + float(rng.normal(0, 20)) + drift * k
        target = float(rng.choice([2.0] * 12 + [1.0, -1.0, 0.0]))
        out.append((symbol, equity, marks[symbol], target))
    return out


def _drive(stack: RiskStack, market, positions: dict[str, float]) -> list:
    """Decides each step; the position of a symbol is the target allowed at its last decision
    (fills exact). Returns (allowed target, reasons) per step; ``positions`` is updated."""
    out = []
    for symbol, equity, mark, target in market:
        state = GuardState(positions.get(symbol, 0.0), equity, mark)
        d = stack.decide(symbol, state, target)
        positions[symbol] = d.target
        out.append((d.target, tuple(e.reason for e in d.events)))
    return out


def _restored_run(
    cut: int, drop: str | None = None, config: RiskConfig = ALL, drift: float = -10.0
) -> tuple[list, list]:
    market = _market(400, drift=drift)
    expected = _drive(RiskStack(config), market, {})
    first, positions = RiskStack(config), {}
    _drive(first, market[:cut], positions)
    resumed = RiskStack(config)
    resumed.restore(first.state())
    if drop is not None:  # planted: that guard comes back fresh
        resumed.guard(drop).reset()  # type: ignore[union-attr]
    return expected[cut:], _drive(resumed, market[cut:], positions)


@pytest.mark.parametrize("cut", [1, 57, 200])
def test_a_restored_stack_decides_as_the_uninterrupted_one(cut: int) -> None:
    expected, got = _restored_run(cut)
    assert got == expected
    assert any(reasons for _, reasons in expected)  # the guards were at work


@pytest.mark.parametrize(
    ("guard", "config", "cut"),
    [
        ("circuit_breaker", ALL.circuit_breaker, 120),
        ("trailing_stop", ALL.trailing_stop, 200),
        ("pyramiding", ALL.pyramiding, 300),
        ("kill_switch", KillSwitchConfig(max_loss=0.005, window=30), 120),
    ],
)
def test_a_restore_that_loses_a_guards_state_is_caught(guard: str, config, cut: int) -> None:
    """Each guard alone (its state then decides), its state dropped at the restore (planted)
    at a cut where that state matters; restored whole, the run is the same."""
    alone = RiskConfig(**{guard: config})
    expected, got = _restored_run(cut, drop=guard, config=alone, drift=-3.0)
    assert _restored_run(cut, config=alone, drift=-3.0)[1] == expected
    assert got != expected


def test_a_state_of_other_guards_is_refused() -> None:
    state = RiskStack(ALL).state()
    with pytest.raises(ConfigError, match="guards"):
        RiskStack(RiskConfig(limits=LimitsConfig(max_position=1.0))).restore(state)
