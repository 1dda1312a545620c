"""Quickstart: a market (synthetic, or a file you pass), its book on a clock, and a simple
order-flow rule trading it in the environment.

    python examples/quickstart.py                       # built-in synthetic market
    python examples/quickstart.py --data btcusdt.gz     # any format lobzero imports
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, fields

import lobzero
import numpy as np


@dataclass
class Args:
    data: str | None = None
    """a market file (default: the synthetic market)"""
    seconds: float = 900.0
    """length of the synthetic market, s"""
    seed: int = 0
    episode_steps: int = 2000
    """decisions per episode (100 ms each)"""
    max_position: float = 0.1
    """base units"""


def parse() -> Args:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for f in fields(Args):
        p.add_argument(
            f"--{f.name.replace('_', '-')}",
            type=type(f.default) if f.default is not None else str,
            default=f.default,
        )
    return Args(**vars(p.parse_args()))


def main(args: Args) -> dict[str, float]:
    market = (
        lobzero.import_market(args.data)
        if args.data
        else lobzero.synth_market(seconds=args.seconds, seed=args.seed)
    )
    print(market)
    book = market.sample_book(step_ms=100, levels=5)
    spread = book["ask_price_ticks"][:, 0] - book["bid_price_ticks"][:, 0]
    print(f"{len(book['ts_ns'])} book reads; median spread {np.median(spread):.0f} tick(s)")

    results = {}
    # the same rule with the exchange's taker fee and without: how much edge the fee eats
    for fee_bps in (4.0, 0.0):
        config = lobzero.EnvConfig(
            max_position=args.max_position,
            episode_steps=args.episode_steps,
            taker_fee_bps=fee_bps,
            features=("imbalance", "trade_flow"),
            imbalance_depths=(1,),
        )
        env = lobzero.TradingEnv(market, config)
        obs, info = env.reset(seed=args.seed)
        start = info["equity"]
        while True:
            imbalance, flow = obs
            # long when buyers dominate the touch and the last 100 ms of trades, short when
            # sellers do
            signal = 0.5 * imbalance + 0.5 * flow
            action = 4 if signal > 0.3 else 0 if signal < -0.3 else 2
            obs, _, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                break
        trips = env.round_trips()
        wins = sum(1 for t in trips if t[4] > 0)
        pnl = info["equity"] - start
        print(
            f"order-flow rule, taker fee {fee_bps:g} bps: PnL {pnl:+,.2f} "
            f"(fees {info['fees']:,.2f}), {len(trips)} round trips, {wins} won"
        )
        results[f"pnl_fee_{fee_bps:g}bps"] = pnl
    return results


if __name__ == "__main__":
    main(parse())
