"""Books on the decision clock, the trade flow between them, and the feature tensor of windows.

:func:`book_samples` reads the book with the Rust replay (:meth:`Market.sample_book`, arrays
moved into numpy without copies) and adds the trade flow between samples from the event
columns (views of the Rust stream) with vectorised prefix sums: one pass of searchsorted, no
Python loop over events.

Feature channels of sample ``t`` and level ``k`` (:data:`CHANNELS`), all floats:

=================  ================================================================
bid_offset_ticks   reference − bid price of level k (ticks, ≥ 0; 0 when the level is empty)
bid_size           log(1 + bid size of level k in lots)
ask_offset_ticks   ask price of level k − reference (ticks, ≥ 0; 0 when empty)
ask_size           log(1 + ask size of level k in lots)
buy_flow           log(1 + buyer-initiated traded lots in (t−1, t]) (same at every level)
sell_flow          log(1 + seller-initiated traded lots in (t−1, t])
mid_change_ticks   mid(t) − mid(t−1) in ticks (0 at the first sample or over a gap)
=================  ================================================================

The reference is the mid ``(best bid + best ask) / 2`` in ticks. A sample whose book lacks a
side has no mid: it is *invalid*, and no window or label uses it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lobzero.data.market import KIND_TRADE, SIDE_ASK, SIDE_BID, Market

CHANNELS = (
    "bid_offset_ticks",
    "bid_size",
    "ask_offset_ticks",
    "ask_size",
    "buy_flow",
    "sell_flow",
    "mid_change_ticks",
)


@dataclass(frozen=True)
class BookSamples:
    """The book every decision: ``ts_ns`` [T] (receive time, ns), prices (ticks) and sizes
    (lots) [T, levels] int64, best level first, 0 where a side has fewer levels; the traded
    lots between a sample and the previous one, ``buy_lots`` / ``sell_lots`` [T] int64."""

    ts_ns: np.ndarray
    bid_price_ticks: np.ndarray
    bid_qty_lots: np.ndarray
    ask_price_ticks: np.ndarray
    ask_qty_lots: np.ndarray
    buy_lots: np.ndarray
    sell_lots: np.ndarray

    def __len__(self) -> int:
        return len(self.ts_ns)

    @property
    def valid(self) -> np.ndarray:
        """[T] bool: both sides of the book have a level (the mid exists)."""
        return (self.bid_qty_lots[:, 0] > 0) & (self.ask_qty_lots[:, 0] > 0)

    @property
    def mid_ticks(self) -> np.ndarray:
        """[T] float64: the mid in ticks (NaN where :attr:`valid` is false)."""
        mid = (self.bid_price_ticks[:, 0] + self.ask_price_ticks[:, 0]) / 2.0
        return np.where(self.valid, mid, np.nan)

    @property
    def spread_ticks(self) -> np.ndarray:
        """[T] float64: best ask − best bid in ticks (NaN where invalid)."""
        spread = (self.ask_price_ticks[:, 0] - self.bid_price_ticks[:, 0]).astype(np.float64)
        return np.where(self.valid, spread, np.nan)

    @property
    def microprice_ticks(self) -> np.ndarray:
        """[T] float64: the size-weighted touch price ``(bid·ask_size + ask·bid_size) /
        (bid_size + ask_size)`` in ticks (NaN where invalid)."""
        bq = self.bid_qty_lots[:, 0].astype(np.float64)
        aq = self.ask_qty_lots[:, 0].astype(np.float64)
        total = np.where(self.valid, bq + aq, 1.0)
        micro = (self.bid_price_ticks[:, 0] * aq + self.ask_price_ticks[:, 0] * bq) / total
        return np.where(self.valid, micro, np.nan)


def trade_flow(market: Market, ts_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Buyer- and seller-initiated traded lots received in ``(ts_ns[t-1], ts_ns[t]]`` (the first
    sample: every trade up to ``ts_ns[0]``), int64 [T] each; the same rule as the replay, which
    applies every event received at or before a sample's time."""
    cols = market.columns()
    trades = cols["kind"] == KIND_TRADE
    recv = cols["recv_ts_ns"][trades]
    side = cols["side"][trades]
    qty = cols["qty_lots"][trades]
    out = []
    for wanted in (SIDE_BID, SIDE_ASK):
        cum = np.concatenate(([0], np.cumsum(np.where(side == wanted, qty, 0))))
        upto = cum[np.searchsorted(recv, ts_ns, side="right")]
        out.append(np.diff(upto, prepend=0).astype(np.int64))
    return out[0], out[1]


def book_samples(market: Market, step_ms: float, levels: int) -> BookSamples:
    """The book of ``market`` every ``step_ms`` of receive time, ``levels`` a side, with the
    trade flow between samples (see :class:`BookSamples`)."""
    raw = market.sample_book(step_ms, levels)
    buy, sell = trade_flow(market, raw["ts_ns"])
    return BookSamples(
        ts_ns=raw["ts_ns"],
        bid_price_ticks=raw["bid_price_ticks"],
        bid_qty_lots=raw["bid_qty_lots"],
        ask_price_ticks=raw["ask_price_ticks"],
        ask_qty_lots=raw["ask_qty_lots"],
        buy_lots=buy,
        sell_lots=sell,
    )


def features(samples: BookSamples) -> np.ndarray:
    """The raw (unnormalised) feature tensor ``[T, levels, channels]`` float32 (channels as
    :data:`CHANNELS`); rows of invalid samples are zeros."""
    valid = samples.valid
    mid = np.where(valid, samples.mid_ticks, 0.0)[:, None]
    bid_there = samples.bid_qty_lots > 0
    ask_there = samples.ask_qty_lots > 0
    t, levels = samples.bid_price_ticks.shape
    out = np.zeros((t, levels, len(CHANNELS)), dtype=np.float32)
    out[..., 0] = np.where(bid_there, mid - samples.bid_price_ticks, 0.0)
    out[..., 1] = np.log1p(np.maximum(samples.bid_qty_lots, 0))
    out[..., 2] = np.where(ask_there, samples.ask_price_ticks - mid, 0.0)
    out[..., 3] = np.log1p(np.maximum(samples.ask_qty_lots, 0))
    out[..., 4] = np.log1p(samples.buy_lots)[:, None]
    out[..., 5] = np.log1p(samples.sell_lots)[:, None]
    mids = samples.mid_ticks
    change = np.diff(mids, prepend=np.nan)
    out[..., 6] = np.nan_to_num(change, nan=0.0)[:, None]
    out[~valid] = 0.0
    return out


@dataclass(frozen=True)
class Normaliser:
    """Per-channel mean and standard deviation ``[channels]`` (float32), from the training
    range only; ``apply`` maps raw features ``[..., channels]`` to z-scores."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, raw: np.ndarray, rows: np.ndarray) -> Normaliser:
        """Statistics of ``raw[rows]`` (``rows``: indices or a mask of the training samples)
        over samples and levels."""
        part = raw[rows].reshape(-1, raw.shape[-1]).astype(np.float64)
        mean = part.mean(axis=0)
        std = part.std(axis=0)
        std = np.where(std > 1e-8, std, 1.0)
        return cls(mean.astype(np.float32), std.astype(np.float32))

    def apply(self, raw: np.ndarray) -> np.ndarray:
        return ((raw - self.mean) / self.std).astype(np.float32)
