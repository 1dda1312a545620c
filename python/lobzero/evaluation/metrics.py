"""Performance metrics of a backtest, each checked against hand-computed values in the tests.

Inputs are an equity curve sampled at every decision (quote currency), the decision interval,
and the episode's round-trip trades. Crypto trades around the clock, so annualisation uses
365 × 24 × 3600 seconds a year.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

SECONDS_PER_YEAR = 365.0 * 24.0 * 3600.0


@dataclass(frozen=True)
class Metrics:
    """Metrics of one equity curve. Returns and drawdowns are fractions (0.05 = 5 %)."""

    total_return: float
    annualized_return: float
    sharpe: float
    sortino: float
    max_drawdown: float
    calmar: float
    profit_factor: float
    win_rate: float
    trades: int
    turnover: float
    fees: float
    exposure: float
    avg_holding_s: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def step_returns(equity: np.ndarray) -> np.ndarray:
    """Simple returns between consecutive equity values, [T-1]."""
    equity = np.asarray(equity, dtype=np.float64)
    return equity[1:] / equity[:-1] - 1.0


def sharpe_ratio(returns: np.ndarray, periods_per_year: float) -> float:
    """mean / sample std of per-period returns × sqrt(periods per year); 0 when flat."""
    if len(returns) < 2:
        return 0.0
    sd = float(np.std(returns, ddof=1))
    return 0.0 if sd == 0.0 else float(np.mean(returns)) / sd * math.sqrt(periods_per_year)


def sortino_ratio(returns: np.ndarray, periods_per_year: float) -> float:
    """mean / downside deviation (root mean square of the negative returns, over all periods)
    × sqrt(periods per year); 0 when nothing goes down."""
    if len(returns) < 2:
        return 0.0
    downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
    return (
        0.0 if downside == 0.0 else float(np.mean(returns)) / downside * math.sqrt(periods_per_year)
    )


def max_drawdown(equity: np.ndarray) -> float:
    """Largest fall from a running peak, as a fraction of that peak (0 when never below it)."""
    equity = np.asarray(equity, dtype=np.float64)
    if len(equity) == 0:
        return 0.0
    peaks = np.maximum.accumulate(equity)
    return float(np.max(1.0 - equity / peaks))


def profit_factor(trade_pnls: Sequence[float]) -> float:
    """Gross profit / gross loss of round trips (inf with profits and no loss; 0 with none)."""
    pnl = np.asarray(trade_pnls, dtype=np.float64)
    gains, losses = pnl[pnl > 0].sum(), -pnl[pnl < 0].sum()
    if losses == 0:
        return math.inf if gains > 0 else 0.0
    return float(gains / losses)


def compute_metrics(
    equity: Sequence[float] | np.ndarray,
    step_seconds: float,
    trade_pnls: Sequence[float] = (),
    holding_seconds: Sequence[float] = (),
    positions: Sequence[float] | np.ndarray = (),
    fees: float = 0.0,
    traded_notional: float = 0.0,
) -> Metrics:
    """All metrics of one episode.

    ``equity`` [T] at each decision (quote); ``step_seconds`` the decision interval;
    ``trade_pnls`` and ``holding_seconds`` per round trip; ``positions`` [T] held at each
    decision (for exposure); ``fees`` and ``traded_notional`` in quote currency (turnover is
    traded notional / starting equity).
    """
    eq = np.asarray(equity, dtype=np.float64)
    if len(eq) < 2 or not np.all(np.isfinite(eq)) or eq[0] <= 0:
        raise ValueError("an equity curve needs >= 2 finite values starting above 0")
    periods = SECONDS_PER_YEAR / step_seconds
    r = step_returns(np.maximum(eq, 1e-12))
    total = float(eq[-1] / eq[0] - 1.0)
    growth = max(eq[-1], 0.0) / eq[0]
    if growth > 0:
        # compounding a short sample over a year overflows floats: report that as inf
        exponent = math.log(growth) * periods / (len(eq) - 1)
        annualized = math.expm1(exponent) if exponent < 700 else math.inf
    else:
        annualized = -1.0
    mdd = max_drawdown(eq)
    pos = np.asarray(positions, dtype=np.float64)
    pnls = list(trade_pnls)
    return Metrics(
        total_return=total,
        annualized_return=annualized,
        sharpe=sharpe_ratio(r, periods),
        sortino=sortino_ratio(r, periods),
        max_drawdown=mdd,
        calmar=annualized / mdd if mdd > 0 else 0.0,
        profit_factor=profit_factor(pnls),
        win_rate=float(np.mean([p > 0 for p in pnls])) if pnls else 0.0,
        trades=len(pnls),
        turnover=traded_notional / eq[0],
        fees=float(fees),
        exposure=float(np.mean(pos != 0)) if len(pos) else 0.0,
        avg_holding_s=float(np.mean(holding_seconds)) if len(holding_seconds) else 0.0,
    )
