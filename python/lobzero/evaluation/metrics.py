"""Performance metrics of a backtest, each checked against hand-computed values in the tests.

Inputs are an equity curve sampled at every decision (the instrument's settlement
currency: quote, or the base coin for an inverse contract), the decision interval,
the episode's fills and its closed round trips. Crypto trades around the clock, so annualisation
uses 365 × 24 × 3600 seconds a year.

Undefined is not zero. A metric that the sample cannot give is ``nan`` (``null`` in JSON,
``n/a`` in tables), never a number that would rank an agent:

- ``profit_factor`` and ``win_rate`` need at least one closed round trip (buy-and-hold has
  none: its fills open a position that the episode never closes);
- ``annualized_return`` and ``calmar`` need a curve spanning at least
  :data:`MIN_ANNUALIZE_SECONDS` of market time (one day): compounding a few minutes into a
  year turns a 0.2 % move into thousands of percent. The annualised ``sharpe`` and ``sortino``
  are only rescaled (× sqrt(periods a year)), never compounded, so they stay defined;
  ``episode_sharpe`` is the same ratio scaled to the episode's own length (× sqrt(steps)),
  the figure to read on short episodes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

SECONDS_PER_YEAR = 365.0 * 24.0 * 3600.0
#: the shortest curve (market seconds) whose return is annualised: one day
MIN_ANNUALIZE_SECONDS = 24.0 * 3600.0


@dataclass(frozen=True, eq=False)
class Metrics:
    """Metrics of one equity curve. Returns and drawdowns are fractions (0.05 = 5 %); ``nan``
    marks an undefined metric (module docstring). ``fills``: executed orders; ``round_trips``:
    closed round trips (flat to flat or through zero), over which profit factor and win rate
    are taken."""

    total_return: float
    annualized_return: float
    sharpe: float
    episode_sharpe: float
    sortino: float
    max_drawdown: float
    calmar: float
    profit_factor: float
    win_rate: float
    fills: int
    round_trips: int
    turnover: float
    fees: float
    exposure: float
    avg_holding_s: float

    def to_dict(self) -> dict[str, float]:
        """The metrics as a plain dict, field name -> value."""
        return asdict(self)

    def _key(self) -> tuple[float | None, ...]:
        # nan marks "undefined": two metrics undefined alike are equal (nan != nan otherwise)
        return tuple(None if v != v else v for v in asdict(self).values())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Metrics) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


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
    """Gross profit / gross loss of round trips: nan (undefined) without a round trip, inf with
    profits and no loss, 0 with losses only; nan too when every trip broke even."""
    pnl = np.asarray(trade_pnls, dtype=np.float64)
    gains, losses = pnl[pnl > 0].sum(), -pnl[pnl < 0].sum()
    if losses == 0:
        return math.inf if gains > 0 else math.nan
    return float(gains / losses)


def win_rate(trade_pnls: Sequence[float]) -> float:
    """Fraction of round trips with a positive PnL; nan (undefined) without a round trip."""
    pnl = np.asarray(trade_pnls, dtype=np.float64)
    return float(np.mean(pnl > 0)) if len(pnl) else math.nan


def annualized_return(
    total_return: float, seconds: float, min_seconds: float = MIN_ANNUALIZE_SECONDS
) -> float:
    """``total_return`` over ``seconds`` of market time compounded to a year; nan (undefined)
    when ``seconds < min_seconds``, -1 after a total loss. Finite whenever defined from a
    curve of at least a day (a year is at most 365 compoundings of the day's growth; beyond
    the float range it is inf, which a day of real trading does not reach)."""
    if seconds < min_seconds or seconds <= 0:
        return math.nan
    growth = 1.0 + total_return
    if growth <= 0:
        return -1.0
    exponent = math.log(growth) * SECONDS_PER_YEAR / seconds
    return math.expm1(exponent) if exponent < 700 else math.inf


def compute_metrics(
    equity: Sequence[float] | np.ndarray,
    step_seconds: float,
    trade_pnls: Sequence[float] = (),
    holding_seconds: Sequence[float] = (),
    positions: Sequence[float] | np.ndarray = (),
    fees: float = 0.0,
    traded_notional: float = 0.0,
    fills: int = 0,
    min_annualize_seconds: float = MIN_ANNUALIZE_SECONDS,
) -> Metrics:
    """All metrics of one episode.

    ``equity`` [T] at each decision (settlement currency); ``step_seconds`` the decision interval;
    ``trade_pnls`` and ``holding_seconds`` per round trip; ``positions`` [T] held at each
    decision (for exposure); ``fees`` and ``traded_notional`` in that currency too (turnover is
    traded notional / starting equity); ``fills`` the episode's executed orders;
    ``min_annualize_seconds`` the shortest span whose return is annualised.
    """
    eq = np.asarray(equity, dtype=np.float64)
    if len(eq) < 2 or not np.all(np.isfinite(eq)) or eq[0] <= 0:
        raise ValueError("an equity curve needs >= 2 finite values starting above 0")
    periods = SECONDS_PER_YEAR / step_seconds
    r = step_returns(np.maximum(eq, 1e-12))
    total = float(eq[-1] / eq[0] - 1.0)
    annualized = annualized_return(total, (len(eq) - 1) * step_seconds, min_annualize_seconds)
    mdd = max_drawdown(eq)
    pos = np.asarray(positions, dtype=np.float64)
    pnls = list(trade_pnls)
    calmar = annualized / mdd if mdd > 0 else 0.0  # nan stays nan
    return Metrics(
        total_return=total,
        annualized_return=annualized,
        sharpe=sharpe_ratio(r, periods),
        episode_sharpe=sharpe_ratio(r, len(r)),
        sortino=sortino_ratio(r, periods),
        max_drawdown=mdd,
        calmar=calmar,
        profit_factor=profit_factor(pnls),
        win_rate=win_rate(pnls),
        fills=int(fills),
        round_trips=len(pnls),
        turnover=float(traded_notional / eq[0]),
        fees=float(fees),
        exposure=float(np.mean(pos != 0)) if len(pos) else 0.0,
        avg_holding_s=float(np.mean(holding_seconds)) if len(holding_seconds) else 0.0,
    )
