"""Bootstrap confidence intervals over seeds × episodes.

Episodes played by the same trained agent (one seed, one fold) are not independent draws: they
share the agent. :func:`bootstrap_ci` therefore resamples at two levels when ``groups`` is
given: first the groups (seeds) with replacement, then the episodes within each drawn group
with replacement; the statistic is computed on the pooled rows of each resample, and the
interval is the percentile interval of those values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from lobzero.exceptions import ConfigError


@dataclass(frozen=True)
class ConfidenceInterval:
    """The statistic on the full sample (``value``) and its percentile interval [low, high]
    at ``confidence`` (0.95 = 95 %)."""

    value: float
    low: float
    high: float
    confidence: float

    def to_dict(self) -> dict[str, float]:
        return {"value": self.value, "low": self.low, "high": self.high}


def _mean_first_column(rows: np.ndarray) -> float:
    return float(np.mean(rows[:, 0]))


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    *,
    groups: Sequence[object] | np.ndarray | None = None,
    statistic: Callable[[np.ndarray], float] | None = None,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> ConfidenceInterval:
    """Percentile bootstrap interval of ``statistic`` over the rows of ``values``.

    ``values``: [n] or [n, k], one row per episode; ``statistic``: rows [m, k] -> float (default:
    the mean of the first column); ``groups``: [n] labels (e.g. the seed of each episode) for
    the two-level resample described in the module docstring (None: episodes resampled
    directly). Infinite statistics are kept (the interval's ends are order statistics, never
    interpolated, so no NaN appears); resamples whose statistic is undefined (nan) are left
    out, and the interval is nan when it is undefined on every resample. Same ``seed``, same
    interval.
    """
    rows = np.asarray(values, dtype=np.float64)
    if rows.ndim == 1:
        rows = rows[:, None]
    if rows.ndim != 2 or len(rows) == 0:
        raise ConfigError(f"bootstrap needs a non-empty [n] or [n, k] sample, got {rows.shape}")
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence must be in (0, 1), got {confidence}")
    if n_resamples < 1:
        raise ConfigError(f"n_resamples must be >= 1, got {n_resamples}")
    stat = statistic or _mean_first_column
    rng = np.random.default_rng(seed)
    if groups is None:
        members = [np.arange(len(rows))]
    else:
        labels = np.asarray(groups)
        if len(labels) != len(rows):
            raise ConfigError(f"groups has {len(labels)} labels for {len(rows)} rows")
        members = [np.flatnonzero(labels == g) for g in dict.fromkeys(labels.tolist())]
    stats = np.empty(n_resamples)
    for r in range(n_resamples):
        if groups is None:
            idx = rng.integers(0, len(rows), len(rows))
        else:
            drawn = rng.integers(0, len(members), len(members))
            idx = np.concatenate([rng.choice(members[g], len(members[g])) for g in drawn])
        stats[r] = stat(rows[idx])
    # a resample where the statistic is undefined (a profit factor of episodes without a round
    # trip) says nothing about it: the interval is over the resamples where it is defined
    stats = stats[~np.isnan(stats)]
    if len(stats) == 0:
        return ConfidenceInterval(float(stat(rows)), math.nan, math.nan, confidence)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(stats, [alpha, 1.0 - alpha], method="inverted_cdf")
    return ConfidenceInterval(float(stat(rows)), float(low), float(high), confidence)
