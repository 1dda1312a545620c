"""Labels of each sample, from its future only (never an input), and the chronological split.

For a sample ``t`` and horizon ``h`` (decisions):

- **signal** (:data:`SIGNAL_CLASSES`): the price ``p`` (mid or microprice, ticks) moves by
  ``d = p[t+h] − p[t]``; down if ``d <= −spread[t]``, up if ``d >= spread[t]``, flat otherwise
  (a move smaller than the spread at ``t`` is flat: it would not pay for crossing it);
- **volatility**: ``log(1 + sqrt(Σ_{k=1..h} (mid[t+k] − mid[t+k−1])²))``, the realised
  volatility of the next ``h`` decisions in ticks, on a log scale (0 when the mid stays put);
- **regime** (:data:`REGIME_CLASSES`): on the synthetic market the generator's true regime in
  force at the sample's time (the latent state the window has to recognise, exported by the
  generator as ``import_report["generator"]["regime_path"]``); on real data a rule over the
  next ``H`` = the longest horizon: *volatile* when that future's realised volatility is in the
  top tercile of the training range, else *trending* when its absolute mid move is in the top
  tercile of the training range, else *calm*.

A label exists when every sample from ``t`` to ``t + H`` is valid (both book sides present);
``t`` itself is used only as the reference price, the move is always from the future.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lobzero.encoder.samples import BookSamples
from lobzero.exceptions import ConfigError

SIGNAL_CLASSES = ("down", "flat", "up")
REGIME_CLASSES = ("calm", "trending", "volatile")


def signal_labels(price: np.ndarray, spread: np.ndarray, horizon: int) -> np.ndarray:
    """[T] int64 in {0 down, 1 flat, 2 up}, −1 where ``t + horizon`` is past the end or a
    price or spread is NaN. ``price``, ``spread``: [T] ticks."""
    t = len(price)
    out = np.full(t, -1, dtype=np.int64)
    if horizon >= t:
        return out
    move = price[horizon:] - price[:-horizon]
    band = spread[:-horizon]
    known = np.isfinite(move) & np.isfinite(band)
    lab = np.where(move >= band, 2, np.where(move <= -band, 0, 1))
    out[:-horizon] = np.where(known, lab, -1)
    return out


def realised_volatility(mid: np.ndarray, horizon: int) -> np.ndarray:
    """[T] float64: ``sqrt(Σ_{k=1..h} (mid[t+k] − mid[t+k−1])²)`` in ticks, NaN where the
    future is too short or holds an invalid sample."""
    t = len(mid)
    out = np.full(t, np.nan)
    if horizon >= t:
        return out
    sq = np.diff(mid) ** 2  # sq[i] = (mid[i+1] - mid[i])²
    cum = np.concatenate(([0.0], np.cumsum(np.nan_to_num(sq, nan=0.0))))
    bad = np.concatenate(([0], np.cumsum(~np.isfinite(sq))))
    start = np.arange(t - horizon)
    total = cum[start + horizon] - cum[start]
    has_bad = (bad[start + horizon] - bad[start]) > 0
    out[: t - horizon] = np.where(has_bad | ~np.isfinite(mid[start]), np.nan, np.sqrt(total))
    return out


def volatility_labels(mid: np.ndarray, horizon: int) -> np.ndarray:
    """[T] float64: ``log(1 + realised volatility)`` (ticks) of the next ``horizon``
    decisions, NaN where unknown."""
    return np.log1p(realised_volatility(mid, horizon))


def synth_regimes(report: dict[str, Any], ts_ns: np.ndarray) -> np.ndarray | None:
    """[T] int64: the generator's regime in force at each sample time (0 calm, 1 trending,
    2 volatile), or None when the market carries no regime path (not synthetic, or generated
    before the path was exported). The path's times are exchange times; the samples' are
    receive times (later by the generator's latency, a millisecond by default)."""
    gen = report.get("generator") if isinstance(report, dict) else None
    if not isinstance(gen, dict) or "regime_path" not in gen:
        return None
    starts = np.asarray(gen["regime_start_ns"], dtype=np.int64)
    path = np.asarray(gen["regime_path"], dtype=np.int64)
    if len(starts) == 0 or len(starts) != len(path):
        raise ConfigError("the synthetic market's regime path is malformed")
    k = np.searchsorted(starts, ts_ns, side="right") - 1
    return path[np.clip(k, 0, len(path) - 1)]


@dataclass(frozen=True)
class RegimeRule:
    """The real-data regime rule's thresholds, from the training range: ``volatility`` (upper
    tercile of the future realised volatility, ticks) and ``trend`` (upper tercile of the
    absolute future mid move, ticks), both over the longest horizon."""

    volatility: float
    trend: float

    @classmethod
    def fit(cls, future_vol: np.ndarray, future_move: np.ndarray) -> RegimeRule:
        vol = future_vol[np.isfinite(future_vol)]
        move = np.abs(future_move[np.isfinite(future_move)])
        if len(vol) == 0:
            raise ConfigError("no training sample has a label: the training range is too short")
        return cls(float(np.quantile(vol, 2 / 3)), float(np.quantile(move, 2 / 3)))

    def apply(self, future_vol: np.ndarray, future_move: np.ndarray) -> np.ndarray:
        """[T] int64 regime classes, −1 where unknown. A strict ``>`` so that a market whose
        mid never moves (both thresholds 0) is calm throughout."""
        known = np.isfinite(future_vol) & np.isfinite(future_move)
        lab = np.where(
            future_vol > self.volatility, 2, np.where(np.abs(future_move) > self.trend, 1, 0)
        )
        return np.where(known, lab, -1)


@dataclass(frozen=True)
class Labels:
    """All labels of a market: ``signal`` [T, n_horizons] int64, ``volatility``
    [T, n_horizons] float32, ``regime`` [T] int64; ``known`` [T] bool (every label exists)."""

    signal: np.ndarray
    volatility: np.ndarray
    regime: np.ndarray
    known: np.ndarray


def future_move(mid: np.ndarray, horizon: int) -> np.ndarray:
    """[T] ``mid[t+h] − mid[t]`` in ticks (NaN where unknown)."""
    out = np.full(len(mid), np.nan)
    if horizon < len(mid):
        out[:-horizon] = mid[horizon:] - mid[:-horizon]
    return out


def make_labels(
    samples: BookSamples,
    horizons: tuple[int, ...],
    price: str,
    regimes: np.ndarray | None,
    rule: RegimeRule | None,
) -> Labels:
    """The labels of every sample (see the module docstring); ``regimes`` the true regimes
    (synthetic), else ``rule`` gives them."""
    mid = samples.mid_ticks
    ref = samples.microprice_ticks if price == "microprice" else mid
    spread = samples.spread_ticks
    sig = np.stack([signal_labels(ref, spread, h) for h in horizons], axis=1)
    vol = np.stack([volatility_labels(mid, h) for h in horizons], axis=1)
    longest = max(horizons)
    if regimes is None:
        if rule is None:
            raise ConfigError("real data needs the regime rule fitted on the training range")
        regime = rule.apply(realised_volatility(mid, longest), future_move(mid, longest))
    else:
        regime = regimes.astype(np.int64)
    # every sample from t to t + longest valid: the widest horizon's volatility is finite
    known = (
        (sig >= 0).all(axis=1)
        & np.isfinite(vol).all(axis=1)
        & np.isfinite(realised_volatility(mid, longest))
        & (regime >= 0)
    )
    return Labels(sig, np.nan_to_num(vol, nan=0.0).astype(np.float32), regime, known)


@dataclass(frozen=True)
class Split:
    """Window end samples (anchors) of each range, int64 arrays: a window ``[t−W+1, t]`` and
    its labels ``(t, t+H]`` lie inside one range, so no window or label straddles a boundary.
    ``bounds``: the ranges as ``{"train": (start, end), ...}`` sample indices, end exclusive."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    bounds: dict[str, tuple[int, int]]


def split_bounds(n: int, val_split: float, test_split: float) -> dict[str, tuple[int, int]]:
    """The ranges of samples ``0..n`` in time order: ``{"train": (0, v), "val": (v, t),
    "test": (t, n)}`` with ``t = round(n·(1 − test_split))``, ``v = round(t·(1 − val_split))``
    (end exclusive)."""
    test_start = round(n * (1.0 - test_split))
    val_start = round(test_start * (1.0 - val_split))
    return {"train": (0, val_start), "val": (val_start, test_start), "test": (test_start, n)}


def chronological_split(
    n: int,
    window: int,
    max_horizon: int,
    val_split: float,
    test_split: float,
    usable: np.ndarray,
    stride: int = 1,
) -> Split:
    """Cuts samples ``0..n`` into train | val | test in time order (test the last
    ``test_split``, val the last ``val_split`` of the rest) and lists the anchors ``t`` of each
    whose window ``[t−window+1, t]`` and label horizon ``t + max_horizon`` stay inside the range
    and whose window and future are all ``usable`` ([n] bool: valid and labelled), every
    ``stride``-th. ``usable`` should already say where labels exist."""
    bounds = split_bounds(n, val_split, test_split)
    # a window is usable when all of its samples are (prefix sums over the bad ones)
    bad = np.concatenate(([0], np.cumsum(~usable)))
    out = {}
    for name, (lo, hi) in bounds.items():
        first, last = lo + window - 1, hi - 1 - max_horizon
        anchors = (
            np.arange(first, last + 1, dtype=np.int64) if last >= first else np.array([], np.int64)
        )
        if len(anchors):
            clean = (bad[anchors + 1] - bad[anchors + 1 - window]) == 0
            anchors = anchors[clean][::stride]
        out[name] = anchors
    return Split(out["train"], out["val"], out["test"], bounds)
