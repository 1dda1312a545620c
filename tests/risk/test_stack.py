"""The stack's API as the paper loop calls it: state machine of the circuit breaker, resume and
rearm, the fixed guard order, the portfolio over several symbols, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from lobzero.exceptions import ConfigError
from lobzero.risk import (
    GUARD_ORDER,
    CircuitBreakerConfig,
    GuardState,
    KillSwitchConfig,
    LimitsConfig,
    PyramidingConfig,
    RiskConfig,
    RiskStack,
    SizingConfig,
    TrailingStopConfig,
)

from tests.risk.simulate import simulate

EVERY_GUARD = RiskConfig(
    kill_switch=KillSwitchConfig(max_loss=0.2, window=50),
    circuit_breaker=CircuitBreakerConfig(max_drawdown=0.1),
    trailing_stop=TrailingStopConfig(atr_multiple=3.0, arm_atr=1.0, atr_window=10),
    sizing=SizingConfig(method="volatility", risk_fraction=0.5, window=10),
    pyramiding=PyramidingConfig(initial_fraction=0.5, max_multiple=3.0, add_after_return=0.0),
    limits=LimitsConfig(max_position=1.0, max_notional=1e6),
)


def test_the_breaker_reduces_then_halts_and_resumes_only_by_command() -> None:
    stack = RiskStack(RiskConfig(circuit_breaker=CircuitBreakerConfig(max_drawdown=0.1)))
    assert stack.decide("S", GuardState(1.0, 1000.0, 100.0), 1.0).target == 1.0
    assert stack.breaker_state == "active"
    # 12 % below the peak: flatten; the order is not filled yet, so still reducing
    d = stack.decide("S", GuardState(1.0, 880.0, 88.0), 1.0)
    assert d.target == 0.0 and stack.breaker_state == "reducing"
    assert [e.guard for e in d.events] == ["circuit_breaker"] and "tripped" in d.events[0].reason
    d = stack.decide("S", GuardState(0.0, 880.0, 88.0), 1.0)
    assert d.target == 0.0 and stack.breaker_state == "halted"
    for equity in (900.0, 1200.0, 2000.0):  # a recovery does not resume it
        assert stack.decide("S", GuardState(0.0, equity, 90.0), -1.0).target == 0.0
    assert stack.breaker_state == "halted"
    stack.resume()
    assert stack.breaker_state == "active"
    # the peak starts over at the equity after resume(): 880 is no drawdown of it
    assert stack.decide("S", GuardState(0.0, 880.0, 88.0), 1.0).target == 1.0
    assert stack.decide("S", GuardState(1.0, 800.0, 80.0), 1.0).target == 1.0  # 9 %
    assert stack.decide("S", GuardState(1.0, 780.0, 78.0), 1.0).target == 0.0  # 11 %


def test_a_trip_flattens_every_symbol_of_the_portfolio() -> None:
    stack = RiskStack(RiskConfig(circuit_breaker=CircuitBreakerConfig(max_drawdown=0.1)))
    stack.decide("A", GuardState(1.0, 1000.0, 100.0), 1.0)
    stack.decide("B", GuardState(-1.0, 1000.0, 50.0), -1.0)
    # A loses 250 of the portfolio's 2000: 12.5 %
    assert stack.decide("A", GuardState(1.0, 750.0, 75.0), 1.0).target == 0.0
    assert stack.decide("B", GuardState(-1.0, 1000.0, 50.0), -1.0).target == 0.0
    assert stack.breaker_state == "reducing"
    stack.decide("A", GuardState(0.0, 750.0, 75.0), 1.0)
    assert stack.breaker_state == "reducing"  # B is not flat yet
    stack.decide("B", GuardState(0.0, 1000.0, 50.0), -1.0)
    assert stack.breaker_state == "halted"


def test_one_shared_account_is_measured_by_its_own_equity() -> None:
    stack = RiskStack(RiskConfig(circuit_breaker=CircuitBreakerConfig(max_drawdown=0.1)))
    stack.decide("A", GuardState(1.0, 1000.0, 100.0), 1.0, portfolio_equity=1000.0)
    stack.decide("B", GuardState(1.0, 1000.0, 100.0), 1.0, portfolio_equity=1000.0)
    # summed, 1000 + 850 would be a 7.5 % drawdown; the shared account lost 15 %
    assert stack.decide("A", GuardState(1.0, 850.0, 85.0), 1.0, portfolio_equity=850.0).target == 0


def test_the_kill_switch_stays_tripped_until_rearmed() -> None:
    stack = RiskStack(RiskConfig(kill_switch=KillSwitchConfig(max_loss=0.05, window=2)))
    for equity in (1000.0, 980.0, 940.0):
        d = stack.decide("S", GuardState(1.0, equity, 100.0), 1.0)
    assert d.target == 0.0 and stack.killed
    assert stack.decide("S", GuardState(0.0, 2000.0, 100.0), 1.0).target == 0.0
    stack.rearm()
    assert not stack.killed and stack.decide("S", GuardState(0.0, 940.0, 100.0), 1.0).target == 1


def test_guards_run_in_the_documented_order() -> None:
    stack = RiskStack(EVERY_GUARD)
    assert [g.name for g in stack.guards] == list(GUARD_ORDER)
    assert GUARD_ORDER[:2] == ("kill_switch", "circuit_breaker") and GUARD_ORDER[-1] == "limits"
    # pyramiding halves the opening target of 4, then the limit caps the 2 at 1
    d = stack.decide("S", GuardState(0.0, 1000.0, 100.0), 4.0)
    assert d.target == 1.0 and [e.guard for e in d.events] == ["pyramiding", "limits"]
    assert (d.events[0].intended, d.events[0].allowed) == (4.0, 2.0)
    assert (d.events[1].intended, d.events[1].allowed) == (2.0, 1.0)


def test_every_guard_together_only_reduces_and_respects_the_limit() -> None:
    rng = np.random.default_rng(3)
    marks = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, 300)))
    intents = np.round(rng.uniform(-3, 3, 300))
    trace = simulate(RiskStack(EVERY_GUARD), {"S": marks}, {"S": intents})["S"]
    assert np.all(np.abs(trace.allowed) <= 1.0)
    assert np.all(
        (np.sign(trace.allowed) == np.sign(trace.intended))
        | (trace.allowed == 0)
        | (trace.allowed == trace.held)
    )
    assert sum(bool(e) for e in trace.events) > 10


def test_bad_input_is_refused() -> None:
    with pytest.raises(ConfigError, match="mark"):
        GuardState(0.0, 1000.0, 0.0)
    with pytest.raises(ConfigError, match="equity"):
        GuardState(0.0, float("nan"), 100.0)
    with pytest.raises(ConfigError, match="resume"):
        RiskStack(RiskConfig()).resume()
    with pytest.raises(ConfigError, match="max_drawdown"):
        CircuitBreakerConfig(max_drawdown=1.5)
    with pytest.raises(ConfigError, match="unknown"):
        RiskConfig.from_dict({"limits": {"max_positon": 1.0}})


def test_risk_config_round_trips_through_toml(tmp_path: Path) -> None:
    path = EVERY_GUARD.save(tmp_path / "risk.toml")
    assert RiskConfig.load(path) == EVERY_GUARD
    assert "[circuit_breaker]" in path.read_text()
    partial = RiskConfig(limits=LimitsConfig(max_position=0.5))
    loaded = RiskConfig.load(partial.save(tmp_path / "limits.toml"))
    assert loaded == partial and loaded.enabled == ["limits"]
    assert RiskStack(tmp_path / "limits.toml").config == partial


def test_the_example_risk_file_loads() -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "configs" / "risk.toml"
    config = RiskConfig.load(example)
    assert config.enabled == ["kill_switch", "circuit_breaker", "trailing_stop", "limits"]


def test_the_kill_switch_window_counts_rounds_of_all_symbols() -> None:
    """A decision of the portfolio is one round of every symbol: with two symbols a window of
    two decisions spans four calls, and the loss is the portfolio's (the sum of equities)."""
    stack = RiskStack(RiskConfig(kill_switch=KillSwitchConfig(max_loss=0.05, window=2)))
    rounds = [(1000.0, 1000.0), (990.0, 1000.0), (990.0, 970.0)]  # 2 %, then 2 % more
    for a, b in rounds:
        assert stack.decide("A", GuardState(1.0, a, 100.0), 1.0).target == 1.0
        assert stack.decide("B", GuardState(1.0, b, 100.0), 1.0).target == 1.0
    switch = stack.guard("kill_switch")
    assert switch is not None and switch.loss() == pytest.approx(0.02)  # type: ignore[attr-defined]
    # one more round: 1870, 6 % below the portfolio's 1990 of two rounds before
    assert stack.decide("A", GuardState(1.0, 900.0, 100.0), 1.0).target == 0.0
    assert stack.decide("B", GuardState(1.0, 970.0, 100.0), 1.0).target == 0.0 and stack.killed
