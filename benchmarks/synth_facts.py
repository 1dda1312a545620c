"""Stylized facts of the synthetic market next to the real Binance recordings.

    python benchmarks/synth_facts.py [--seconds 1800] [--json]

Synthetic markets at signal strength 0, 0.5 (the default) and 1; the real files are read from
../shared/data when present. One row per market: event and trade rates, spread, arrival
clustering (CV of inter-arrival gaps: 1 = Poisson), mid dynamics, the touch-imbalance hit rate
for the next mid move, and the correlation of the last second's signed flow with the mid change
over the next 2 s (the tradeable signal).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import lobzero
from lobzero.data.facts import stylized_facts

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--seconds", type=float, default=1800.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    markets: dict[str, lobzero.Market] = {}
    for s in (0.0, 0.5, 1.0):
        markets[f"synth, signal {s:g}"] = lobzero.synth_market(
            seconds=args.seconds, seed=args.seed, signal_strength=s
        )
    usdm = SHARED / "binance-usdm-btcusdt" / "btcusdt_20240808.gz"
    spot = sorted((SHARED / "binance-spot-btcusdt").glob("*.gz"))
    if usdm.exists():
        markets["Binance USD-M BTCUSDT"] = lobzero.import_market(usdm)
    if spot:
        markets["Binance spot BTCUSDT"] = lobzero.import_market(spot)
    facts = {name: stylized_facts(m) for name, m in markets.items()}
    if args.json:
        print(json.dumps(facts))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="stylized facts (book read every 100 ms)")
    columns = [
        ("events/s", lambda f: f"{f['events_per_s']:.0f}"),
        ("trades/s", lambda f: f"{f['trades_per_s']:.0f}"),
        ("1-tick spread", lambda f: f"{f['spread_ticks']['one_tick_share']:.1%}"),
        ("spread p99", lambda f: f"{f['spread_ticks']['p99']:.0f}"),
        ("gap CV", lambda f: f"{f['interarrival']['cv']:.2f}"),
        ("gaps <1ms", lambda f: f"{f['interarrival']['under_1ms_share']:.0%}"),
        ("mid moves", lambda f: f"{f['mid']['move_share']:.0%}"),
        ("σ 100ms bps", lambda f: f"{f['mid']['step_return_std_bps']:.2f}"),
        ("imb. hit", lambda f: f"{f['imbalance_next_move_hit_rate']:.2f}"),
        ("flow→2s corr", lambda f: f"{f['flow_future_return_corr']:+.2f}"),
    ]
    table.add_column("market")
    for name, _ in columns:
        table.add_column(name, justify="right")
    for name, f in facts.items():
        table.add_row(name, *(fmt(f) for _, fmt in columns))
    Console().print(table)


if __name__ == "__main__":
    main()
