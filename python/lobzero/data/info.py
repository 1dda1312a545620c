"""`market_info`: the summary `lobzero data info` prints."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from lobzero.data.market import KIND_NAMES, Market
from lobzero.data.universe import Universe


def _utc(ns: int | None) -> str:
    if ns is None:
        return "-"
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def market_info(market: Market, step_ms: float = 100.0) -> dict[str, Any]:
    """Span, events by kind, book depth, spread and mid statistics (the book read every
    ``step_ms`` ms of receive time), and what the import found and repaired.

    Prices are in quote currency, spreads in ticks, durations in seconds. ``tick_size_inferred``
    and ``lot_size_inferred`` say whether the importer took the grid from the data (the coarsest
    usual grid the prices and sizes lie on) rather than from the file or an option; they are absent
    when the market's source does not say (a market built from columns). ``contract_size``,
    ``inverse``, ``multiplier`` and ``settlement`` (the currency money is counted in: quote,
    or the base coin for an inverse contract) are the instrument's contract terms.
    """
    meta = market.instrument
    cols = market.columns()
    kinds = np.bincount(cols["kind"], minlength=len(KIND_NAMES))
    start, end = market.start_ns, market.end_ns
    span_s = ((end or 0) - (start or 0)) / 1e9
    info: dict[str, Any] = {
        "symbol": meta.symbol,
        "venue": meta.venue,
        "tick_size": meta.tick_size,
        "lot_size": meta.lot_size,
    }
    report = market.import_report
    for key in ("tick_size_inferred", "lot_size_inferred"):
        if key in report:
            info[key] = bool(report[key])
    info |= {
        "contract_size": meta.contract_size,
        "inverse": meta.inverse,
        "multiplier": meta.multiplier,
        "settlement": meta.settlement_currency,
        "events": len(market),
        "start": _utc(start),
        "end": _utc(end),
        "span_s": span_s,
        "events_per_s": len(market) / span_s if span_s > 0 else float("nan"),
        "events_by_kind": {name: int(kinds[i]) for i, name in enumerate(KIND_NAMES)},
    }
    if len(market):
        summary = market.stream.summary()
        info["max_levels"] = {"bid": summary["max_bid_levels"], "ask": summary["max_ask_levels"]}
    book = market.sample_book(step_ms=step_ms, levels=1) if len(market) else None
    if book is not None and len(book["ts_ns"]):
        bid = book["bid_price_ticks"][:, 0]
        ask = book["ask_price_ticks"][:, 0]
        live = (bid > 0) & (ask > 0)
        info["book_two_sided_share"] = float(live.mean())
        if live.any():
            spread = ask[live] - bid[live]
            mid = (bid[live] + ask[live]) * 0.5 * meta.tick
            info["spread_ticks"] = {
                "mean": float(spread.mean()),
                "median": float(np.median(spread)),
                "p99": float(np.percentile(spread, 99)),
                "one_tick_share": float((spread == 1).mean()),
            }
            info["mid"] = {
                "first": float(mid[0]),
                "last": float(mid[-1]),
                "min": float(mid.min()),
                "max": float(mid.max()),
            }
    if report:
        info["import"] = {
            key: report[key]
            for key in (
                "format",
                "files",
                "snapshots",
                "stale_diffs_dropped",
                "gaps",
                "diffs_dropped_awaiting_snapshot",
                "qty_rounded",
                "book_check",
                "recv_time_unit",
                "max_bid_levels",
                "max_ask_levels",
                "notes",
                "contract_overrides",
            )
            if key in report
        }
    return info


def universe_info(universe: Universe, step_ms: float = 100.0) -> dict[str, Any]:
    """:func:`market_info` of every symbol (``symbols``, in order) and the universe's common
    span (``common_span``: first and last receive time every symbol has, UTC, and seconds)."""
    first, last = universe.common_span()
    return {
        "symbols": {k: market_info(m, step_ms=step_ms) for k, m in universe.items()},
        "common_span": {"start": _utc(first), "end": _utc(last), "span_s": (last - first) / 1e9},
    }
