"""Metrics against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from lobzero.evaluation.metrics import (
    MIN_ANNUALIZE_SECONDS,
    SECONDS_PER_YEAR,
    annualized_return,
    compute_metrics,
    max_drawdown,
    profit_factor,
    sharpe_ratio,
    sortino_ratio,
    win_rate,
)


def test_by_hand() -> None:
    equity = [100.0, 110.0, 99.0, 121.0]
    # three decisions a year: the annualisation factors are small enough to check by hand
    m = compute_metrics(
        equity,
        step_seconds=SECONDS_PER_YEAR / 3,
        trade_pnls=[10.0, -5.0, 5.0],
        holding_seconds=[2.0, 4.0, 6.0],
        positions=[0.0, 1.0, 1.0, 0.0],
        fees=1.5,
        traded_notional=300.0,
    )
    # returns: +10 %, -10 %, +22.2 %
    r = np.array([0.1, -0.1, 22.0 / 99.0])
    periods = 3.0
    mean, sd = r.mean(), math.sqrt(((r - r.mean()) ** 2).sum() / 2)
    assert m.total_return == pytest.approx(0.21)
    assert m.sharpe == pytest.approx(mean / sd * math.sqrt(periods))
    downside = math.sqrt(0.01 / 3)  # only -10 % is below zero; averaged over the 3 periods
    assert m.sortino == pytest.approx(mean / downside * math.sqrt(periods))
    assert m.max_drawdown == pytest.approx(0.1)  # 110 -> 99
    assert m.annualized_return == pytest.approx(0.21)  # 3 periods = one year
    assert m.calmar == pytest.approx(0.21 / 0.1)
    assert m.profit_factor == pytest.approx(15.0 / 5.0)
    assert m.win_rate == pytest.approx(2 / 3)
    assert m.round_trips == 3 and m.fills == 0  # no fills passed in
    assert m.turnover == pytest.approx(3.0)
    assert m.exposure == pytest.approx(0.5)
    assert m.avg_holding_s == pytest.approx(4.0)
    assert m.fees == 1.5


def test_edge_cases() -> None:
    assert max_drawdown(np.array([1.0, 2.0, 3.0])) == 0.0
    assert max_drawdown(np.array([4.0, 2.0, 8.0, 2.0])) == pytest.approx(0.75)
    assert math.isnan(profit_factor([]))
    assert profit_factor([1.0, 2.0]) == math.inf
    assert profit_factor([-1.0]) == 0.0
    assert sharpe_ratio(np.zeros(5), 10.0) == 0.0
    assert sortino_ratio(np.array([0.1, 0.2]), 10.0) == 0.0
    flat = compute_metrics([5.0, 5.0, 5.0], step_seconds=0.1)
    assert (flat.total_return, flat.sharpe, flat.max_drawdown, flat.round_trips) == (0, 0, 0, 0)
    with pytest.raises(ValueError):
        compute_metrics([1.0], step_seconds=1.0)
    with pytest.raises(ValueError):
        compute_metrics([0.0, 1.0], step_seconds=1.0)
    # a 100 ms gain is not compounded into a year: undefined, not inf
    assert math.isnan(compute_metrics([1.0, 1.1], step_seconds=0.1).annualized_return)


def test_annualisation_follows_the_decision_interval() -> None:
    equity = 100 * np.cumprod(1 + np.array([0.01, -0.005, 0.007, 0.002, -0.001]))
    a = compute_metrics(np.r_[100.0, equity], step_seconds=0.1)
    b = compute_metrics(np.r_[100.0, equity], step_seconds=60.0)
    assert a.sharpe / b.sharpe == pytest.approx(math.sqrt(600.0))


def test_without_a_round_trip_profit_factor_and_win_rate_are_undefined() -> None:
    """Buy-and-hold closes nothing: its profit factor and win rate are nan, not 0 (which
    would rank it below any agent that loses on every trip)."""
    held = compute_metrics([100.0, 101.0, 102.0], step_seconds=1.0, trade_pnls=[], fills=1)
    assert math.isnan(held.profit_factor) and math.isnan(held.win_rate)
    assert (held.fills, held.round_trips) == (1, 0)
    losing = compute_metrics([100.0, 99.0, 98.0], step_seconds=1.0, trade_pnls=[-1.0, -1.0])
    assert (losing.profit_factor, losing.win_rate) == (0.0, 0.0)  # defined, and bad
    assert win_rate([]) != win_rate([])  # nan


def test_only_a_day_or_more_is_annualised() -> None:
    """The report's case: -0.22 % over a few minutes read as +8857 (or inf). Under
    MIN_ANNUALIZE_SECONDS the annualised return and Calmar are undefined; from one day on they
    are the compounded figures."""
    short = compute_metrics([100.0, 100.5, 99.78], step_seconds=150.0)  # 5 minutes
    assert math.isnan(short.annualized_return) and math.isnan(short.calmar)
    assert math.isfinite(short.sharpe) and math.isfinite(short.episode_sharpe)
    steps = int(MIN_ANNUALIZE_SECONDS / 3600.0)  # hourly decisions over exactly one day
    day = compute_metrics(np.linspace(100.0, 99.78, steps + 1), step_seconds=3600.0)
    assert day.annualized_return == pytest.approx(0.9978**365.0 - 1.0)
    assert day.calmar == pytest.approx(day.annualized_return / day.max_drawdown)
    # the rule is a parameter: a shorter minimum annualises the short curve
    assert math.isfinite(
        compute_metrics([100.0, 99.78], step_seconds=60.0, min_annualize_seconds=60.0).calmar
    )
    assert math.isnan(annualized_return(0.01, MIN_ANNUALIZE_SECONDS - 1.0))
    assert annualized_return(-1.0, SECONDS_PER_YEAR) == -1.0


def test_episode_sharpe_is_the_annualised_one_rescaled_to_the_episode() -> None:
    returns = np.array([0.01, -0.005, 0.007, 0.002, -0.001])
    equity = np.r_[100.0, 100.0 * np.cumprod(1 + returns)]
    m = compute_metrics(equity, step_seconds=0.1)
    periods = SECONDS_PER_YEAR / 0.1
    assert m.episode_sharpe == pytest.approx(sharpe_ratio(returns, len(returns)))
    assert m.sharpe / m.episode_sharpe == pytest.approx(math.sqrt(periods / len(returns)))
    assert abs(m.sharpe) > 1000 > abs(m.episode_sharpe)  # what the annualised one does to 0.5 s
