"""Stylized facts of a market: what a realistic order book looks like, in numbers that can be
compared between the synthetic market and real recordings."""

from __future__ import annotations

from typing import Any

import numpy as np

from lobzero.data.market import KIND_TRADE, Market


def stylized_facts(
    market: Market, step_ms: float = 100.0, horizon_steps: int = 20
) -> dict[str, Any]:
    """Statistics of ``market`` with the book read every ``step_ms`` ms.

    - ``spread_ticks``: mean, median, p90, p99 and the share of one-tick spreads;
    - ``interarrival``: mean gap between receive times (ms), its coefficient of variation
      (1 for a Poisson process, > 1 when arrivals cluster) and the share of gaps under 1 ms;
    - ``events_per_s``, ``trades_per_s``;
    - ``mid``: share of steps where the mid moves, std of one-step mid returns (bps), and the
      range over the whole market (bps of the first mid);
    - ``imbalance_next_move_hit_rate``: how often the sign of the touch queue imbalance equals the
      sign of the next mid move (0.5 = no information);
    - ``flow_future_return_corr``: correlation of the signed traded size of the last second with
      the mid change over the next ``horizon_steps`` steps (the tradeable signal).
    """
    cols = market.columns()
    recv = cols["recv_ts_ns"]
    span_s = (recv[-1] - recv[0]) / 1e9 if len(recv) > 1 else float("nan")
    gaps = np.diff(np.unique(recv)) / 1e6
    book = market.sample_book(step_ms=step_ms, levels=1)
    bid, ask = book["bid_price_ticks"][:, 0], book["ask_price_ticks"][:, 0]
    live = (bid > 0) & (ask > 0)
    spread = (ask - bid)[live]
    mid = ((bid + ask) * 0.5)[live].astype(np.float64)
    returns = np.diff(np.log(mid)) * 1e4
    imbalance = (book["bid_qty_lots"][:, 0] - book["ask_qty_lots"][:, 0])[live]

    # the next non-zero mid move after each step
    moves = np.sign(np.diff(mid))
    next_move = np.zeros_like(moves)
    pending = 0.0
    for t in range(len(moves) - 1, -1, -1):
        if moves[t] != 0:
            pending = moves[t]
        next_move[t] = pending
    usable = (np.sign(imbalance[:-1]) != 0) & (next_move != 0)
    hit_rate = (
        float((np.sign(imbalance[:-1])[usable] == next_move[usable]).mean())
        if usable.any()
        else float("nan")
    )

    # signed traded size per step, the last second of it against the next horizon's mid change
    trade = cols["kind"] == KIND_TRADE
    step_ns = int(step_ms * 1e6)
    bucket = (recv[trade] - recv[0] - 1) // step_ns
    signed = cols["side"][trade].astype(np.float64) * cols["qty_lots"][trade]
    flow = np.bincount(np.clip(bucket, 0, len(bid) - 1), weights=signed, minlength=len(bid))[live]
    window = max(1, round(1000.0 / step_ms))
    past = np.convolve(flow, np.ones(window), mode="full")[: len(flow)]
    future = np.full_like(mid, np.nan)
    future[:-horizon_steps] = mid[horizon_steps:] - mid[:-horizon_steps]
    ok = ~np.isnan(future)
    ok[:window] = False
    corr = float(np.corrcoef(past[ok], future[ok])[0, 1]) if ok.sum() > 2 else float("nan")

    return {
        "events": len(market),
        "span_s": float(span_s),
        "events_per_s": len(market) / span_s,
        "trades_per_s": float(trade.sum() / span_s),
        "spread_ticks": {
            "mean": float(spread.mean()),
            "median": float(np.median(spread)),
            "p90": float(np.percentile(spread, 90)),
            "p99": float(np.percentile(spread, 99)),
            "one_tick_share": float((spread == 1).mean()),
        },
        "interarrival": {
            "mean_ms": float(gaps.mean()),
            "cv": float(gaps.std() / gaps.mean()),
            "under_1ms_share": float((gaps < 1.0).mean()),
        },
        "mid": {
            "move_share": float((np.diff(mid) != 0).mean()),
            "step_return_std_bps": float(returns.std()),
            "range_bps": float((mid.max() - mid.min()) / mid[0] * 1e4),
        },
        "imbalance_next_move_hit_rate": hit_rate,
        "flow_future_return_corr": corr,
    }
