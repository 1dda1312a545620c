"""A market turned into the encoder's data: normalised windows, labels, split, baseline features.

:func:`build_dataset` reads the book on the decision clock, labels each sample from its future,
cuts the samples chronologically and normalises every feature by statistics of the training
range only. :func:`build_new_data` does the same for another instrument or a later period with
the training range's statistics and regime thresholds (nothing of the new data is fitted).

Windows are views: ``windows(anchors)`` gathers ``[N, window, levels, channels]`` from the
feature tensor only for the requested anchors (a batch), never the whole overlapping set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lobzero.data.market import Market
from lobzero.encoder.config import EncoderConfig
from lobzero.encoder.labels import (
    Labels,
    RegimeRule,
    Split,
    chronological_split,
    future_move,
    make_labels,
    realised_volatility,
    split_bounds,
    synth_regimes,
)
from lobzero.encoder.samples import BookSamples, Normaliser, book_samples, features
from lobzero.exceptions import ConfigError

#: the hand-made features of the logistic-regression baseline, at the anchor sample
HAND_FEATURES = (
    "imbalance_l1",
    "imbalance_all",
    "ofi_1",
    "ofi_window",
    "spread_ticks",
    "trade_imbalance_window",
    "mid_change_window",
)


@dataclass
class EncoderData:
    """One market's samples ready for the encoder: ``x`` [T, levels, channels] float32
    (normalised), ``labels``, ``anchors`` per range (``split``), ``hand`` [T, len(HAND_FEATURES)]
    float32 (the baselines' inputs, raw), the ``normaliser`` and ``regime_rule`` (None on the
    synthetic market, whose regimes are the generator's), and whether regimes are ``true``."""

    x: np.ndarray
    labels: Labels
    split: Split
    hand: np.ndarray
    normaliser: Normaliser
    regime_rule: RegimeRule | None
    window: int
    true_regimes: bool

    def windows(self, anchors: np.ndarray) -> np.ndarray:
        """[N, window, levels, channels] float32: the windows ending at ``anchors``."""
        view = np.lib.stride_tricks.sliding_window_view(self.x, self.window, axis=0)
        # view[i] is the window ending at i + window - 1, shaped [levels, channels, window]
        return np.ascontiguousarray(np.moveaxis(view[anchors - self.window + 1], -1, 1))


def order_flow_imbalance(s: BookSamples) -> np.ndarray:
    """[T] float64: Cont, Kukanov and Stoikov's order-flow imbalance at the touch between
    consecutive samples (lots): bid-side inflow minus ask-side inflow."""
    bp, bq = s.bid_price_ticks[:, 0], s.bid_qty_lots[:, 0].astype(np.float64)
    ap, aq = s.ask_price_ticks[:, 0], s.ask_qty_lots[:, 0].astype(np.float64)
    out = np.zeros(len(s))
    pbp, pbq, pap, paq = bp[:-1], bq[:-1], ap[:-1], aq[:-1]
    e_bid = np.where(bp[1:] >= pbp, bq[1:], 0.0) - np.where(bp[1:] <= pbp, pbq, 0.0)
    e_ask = np.where(ap[1:] <= pap, aq[1:], 0.0) - np.where(ap[1:] >= pap, paq, 0.0)
    out[1:] = e_bid - e_ask
    both = s.valid
    out[1:] = np.where(both[1:] & both[:-1], out[1:], 0.0)
    return out


def _trailing_sum(values: np.ndarray, window: int) -> np.ndarray:
    cum = np.concatenate(([0.0], np.cumsum(values)))
    idx = np.arange(len(values))
    return cum[idx + 1] - cum[np.maximum(idx + 1 - window, 0)]


def hand_features(s: BookSamples, window: int) -> np.ndarray:
    """[T, len(HAND_FEATURES)] float32 from each sample and the ``window`` before it only."""
    bq, aq = s.bid_qty_lots.astype(np.float64), s.ask_qty_lots.astype(np.float64)
    imb1 = (bq[:, 0] - aq[:, 0]) / np.maximum(bq[:, 0] + aq[:, 0], 1.0)
    imb_all = (bq.sum(1) - aq.sum(1)) / np.maximum(bq.sum(1) + aq.sum(1), 1.0)
    ofi = order_flow_imbalance(s)
    flow = (s.buy_lots - s.sell_lots).astype(np.float64)
    volume = (s.buy_lots + s.sell_lots).astype(np.float64)
    trade_imb = _trailing_sum(flow, window) / np.maximum(_trailing_sum(volume, window), 1.0)
    mid = s.mid_ticks
    change = np.nan_to_num(np.diff(mid, prepend=np.nan), nan=0.0)
    cols = [
        imb1,
        imb_all,
        np.sign(ofi) * np.log1p(np.abs(ofi)),
        np.sign(w := _trailing_sum(ofi, window)) * np.log1p(np.abs(w)),
        np.nan_to_num(s.spread_ticks, nan=0.0),
        trade_imb,
        _trailing_sum(change, window),
    ]
    out = np.stack(cols, axis=1).astype(np.float32)
    out[~s.valid] = 0.0
    return out


def _samples(market: Market, config: EncoderConfig) -> BookSamples:
    s = book_samples(market, config.step_ms, config.levels)
    need = config.window + config.max_horizon + 1
    if len(s) < need:
        raise ConfigError(
            f"the market spans {len(s)} decisions of {config.step_ms:g} ms; a window of "
            f"{config.window} and a horizon of {config.max_horizon} need at least {need} "
            "(a longer market, a shorter step_ms, window or horizons)"
        )
    return s


def build_dataset(market: Market, config: EncoderConfig) -> EncoderData:
    """The encoder's data of ``market`` (see the module docstring): split first, then every
    statistic (normalisation, regime terciles) from the training range alone."""
    s = _samples(market, config)
    n = len(s)
    regimes = synth_regimes(market.import_report, s.ts_ns)
    # the regime rule's thresholds come from the training range only: cut before fitting
    val_start = split_bounds(n, config.val_split, config.test_split)["val"][0]
    rule = None
    if regimes is None:
        mid = s.mid_ticks
        vol = realised_volatility(mid, config.max_horizon)
        move = future_move(mid, config.max_horizon)
        # a training sample's future must stay in the training range
        train_future = slice(0, max(val_start - config.max_horizon, 0))
        rule = RegimeRule.fit(vol[train_future], move[train_future])
    labels = make_labels(s, config.horizons, config.price, regimes, rule)
    split = chronological_split(
        n,
        config.window,
        config.max_horizon,
        config.val_split,
        config.test_split,
        labels.known,
        config.stride,
    )
    assert split.bounds["val"][0] == val_start
    for name in ("train", "val", "test"):
        if len(getattr(split, name)) < 2:
            raise ConfigError(
                f"the {name} range holds {len(getattr(split, name))} windows: the market is too "
                f"short or too gappy for window {config.window} and horizons "
                f"{list(config.horizons)} at {config.step_ms:g} ms (use a longer market or "
                "smaller window / horizons / split)"
            )
    raw = features(s)
    train_rows = np.zeros(n, dtype=bool)
    train_rows[:val_start] = s.valid[:val_start]
    normaliser = Normaliser.fit(raw, train_rows)
    return EncoderData(
        x=normaliser.apply(raw),
        labels=labels,
        split=split,
        hand=hand_features(s, config.window),
        normaliser=normaliser,
        regime_rule=rule,
        window=config.window,
        true_regimes=regimes is not None,
    )


def build_new_data(
    market: Market, config: EncoderConfig, normaliser: Normaliser, rule: RegimeRule | None
) -> tuple[EncoderData, np.ndarray]:
    """Another instrument or a later period, seen with the training range's ``normaliser``
    and regime ``rule`` (None: the market must carry the generator's regimes). Returns the
    data and its anchors (every window of the market, one range)."""
    s = _samples(market, config)
    regimes = synth_regimes(market.import_report, s.ts_ns)
    if regimes is None and rule is None:
        raise ConfigError(
            "the new data has no true regimes and the training market gave no regime rule "
            "(train on real data to test on real data, or on a synthetic market to test on one)"
        )
    labels = make_labels(
        s, config.horizons, config.price, regimes, rule if regimes is None else None
    )
    n = len(s)
    bad = np.concatenate(([0], np.cumsum(~labels.known)))
    anchors = np.arange(config.window - 1, n - config.max_horizon, dtype=np.int64)
    anchors = anchors[(bad[anchors + 1] - bad[anchors + 1 - config.window]) == 0][:: config.stride]
    if len(anchors) < 2:
        raise ConfigError("the new data holds fewer than 2 labelled windows")
    data = EncoderData(
        x=normaliser.apply(features(s)),
        labels=labels,
        split=Split(anchors[:0], anchors[:0], anchors, {"test": (0, n)}),
        hand=hand_features(s, config.window),
        normaliser=normaliser,
        regime_rule=rule,
        window=config.window,
        true_regimes=regimes is not None,
    )
    return data, anchors
