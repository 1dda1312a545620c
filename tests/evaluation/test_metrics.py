"""Metrics against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from lobzero.evaluation.metrics import (
    SECONDS_PER_YEAR,
    compute_metrics,
    max_drawdown,
    profit_factor,
    sharpe_ratio,
    sortino_ratio,
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
    assert m.trades == 3
    assert m.turnover == pytest.approx(3.0)
    assert m.exposure == pytest.approx(0.5)
    assert m.avg_holding_s == pytest.approx(4.0)
    assert m.fees == 1.5


def test_edge_cases() -> None:
    assert max_drawdown(np.array([1.0, 2.0, 3.0])) == 0.0
    assert max_drawdown(np.array([4.0, 2.0, 8.0, 2.0])) == pytest.approx(0.75)
    assert profit_factor([]) == 0.0
    assert profit_factor([1.0, 2.0]) == math.inf
    assert profit_factor([-1.0]) == 0.0
    assert sharpe_ratio(np.zeros(5), 10.0) == 0.0
    assert sortino_ratio(np.array([0.1, 0.2]), 10.0) == 0.0
    flat = compute_metrics([5.0, 5.0, 5.0], step_seconds=0.1)
    assert (flat.total_return, flat.sharpe, flat.max_drawdown, flat.trades) == (0.0, 0.0, 0.0, 0)
    with pytest.raises(ValueError):
        compute_metrics([1.0], step_seconds=1.0)
    with pytest.raises(ValueError):
        compute_metrics([0.0, 1.0], step_seconds=1.0)
    # a year of compounding a 100 ms gain overflows: reported as inf, not an error
    assert math.isinf(compute_metrics([1.0, 1.1], step_seconds=0.1).annualized_return)


def test_annualisation_follows_the_decision_interval() -> None:
    equity = 100 * np.cumprod(1 + np.array([0.01, -0.005, 0.007, 0.002, -0.001]))
    a = compute_metrics(np.r_[100.0, equity], step_seconds=0.1)
    b = compute_metrics(np.r_[100.0, equity], step_seconds=60.0)
    assert a.sharpe / b.sharpe == pytest.approx(math.sqrt(600.0))
