"""Stylized facts of the synthetic market next to the real Binance recordings.

    python benchmarks/synth_facts.py [--seconds 1800] [--seeds 3] [--json facts.json]

Synthetic markets at signal strength 0, 0.5 (the default) and 1, each the mean over ``--seeds``
seeds (one synthetic market is one path through the regimes); the real files
(``../shared/data/binance-{usdm,spot}-btcusdt/*.gz``, or ``$LOBZERO_SHARED_DATA``) when present.
One row per market: event and trade rates, spread, arrival clustering (CV of inter-arrival
gaps: 1 = Poisson), mid dynamics, the touch-imbalance hit rate for the next mid move, and the
correlation of the last second's signed flow with the mid change over the next 2 s (the
tradeable signal).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import lobzero
from lobzero.data.facts import stylized_facts

SHARED = Path(
    os.environ.get("LOBZERO_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def mean_facts(facts: list[dict[str, Any]]) -> dict[str, Any]:
    """The mean of each number over several markets' facts (same keys, nested dicts)."""
    out: dict[str, Any] = {}
    for key, value in facts[0].items():
        if isinstance(value, dict):
            out[key] = mean_facts([f[key] for f in facts])
        else:
            out[key] = sum(f[key] for f in facts) / len(facts)
    return out


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--seconds", type=float, default=1800.0, help="length of each synthetic market")
    p.add_argument("--seeds", type=int, default=3, help="synthetic markets per signal strength")
    p.add_argument("--json", type=Path, default=None, help="also write the facts to this file")
    args = p.parse_args()
    facts: dict[str, dict[str, Any]] = {}
    for s in (0.0, 0.5, 1.0):
        runs = [
            stylized_facts(lobzero.synth_market(seconds=args.seconds, seed=seed, signal_strength=s))
            for seed in range(args.seeds)
        ]
        facts[f"synth, signal {s:g}" + (" (default)" if s == 0.5 else "")] = mean_facts(runs)
    for name, folder in [
        ("Binance USD-M BTCUSDT", "binance-usdm-btcusdt"),
        ("Binance spot BTCUSDT", "binance-spot-btcusdt"),
    ]:
        files = sorted((SHARED / folder).glob("*.gz"))
        if files:
            facts[name] = stylized_facts(lobzero.import_market(files))
    if args.json:
        args.json.write_text(json.dumps(facts, indent=1))
    from rich.console import Console
    from rich.table import Table

    table = Table(title="stylized facts (book read every 100 ms; synth: mean over seeds)")
    columns = [
        ("events/s", lambda f: f"{f['events_per_s']:.0f}"),
        ("trades/s", lambda f: f"{f['trades_per_s']:.0f}"),
        ("spread mean", lambda f: f"{f['spread_ticks']['mean']:.2f}"),
        ("median", lambda f: f"{f['spread_ticks']['median']:.0f}"),
        ("p90", lambda f: f"{f['spread_ticks']['p90']:.1f}"),
        ("1-tick", lambda f: f"{f['spread_ticks']['one_tick_share']:.0%}"),
        ("gap mean ms", lambda f: f"{f['interarrival']['mean_ms']:.2f}"),
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
