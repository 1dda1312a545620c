"""Import speed per format: messages (records, lines or rows read) per second of
:func:`lobzero.import_market`, on the real files in ../shared/data, 3 runs each.

    PYTHONPATH=python python benchmarks/import_speed.py [--runs 3]

A run is one whole import: decompression, parsing, (order-level formats) the book of orders,
conversion to ticks and lots and the validation replay of the L2 stream. The Databento ES file is
small (77,517 records with its snapshot file): each run imports both files once (passing them
again in one call would send time backwards, which the import refuses).
Prints one line per format: median messages/s and the spread
(min .. max) over the runs. The issue's goal for DBN MBO (decode + book building) is 5 M
messages/s.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

from lobzero.data.importers import import_market

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def cases(data: Path) -> list[tuple[str, list[Path], dict[str, Any]]]:
    es = data / "databento-cme-es"
    es_files = [
        es / "esh4-glbx-mdp3-20231224.mbo.dbn.zst",
        es / "esh4-glbx-mdp3-20231225.mbo.dbn.zst",
    ]
    return [
        ("binance-stream", [data / "binance-spot-btcusdt" / "btcusdt_20240808.gz"], {}),
        (
            "binance-csv",
            [data / "format-fixtures" / "binance" / "btcusdt-depth-snap.csv"],
            {},
        ),
        ("tardis", sorted((data / "format-fixtures" / "tardis").glob("*incremental*"))[:1], {}),
        ("databento", es_files, {"tick_size": "0.25", "on_cross": "hold"}),
        (
            "lobster",
            [data / "lobster-goog-l1" / "GOOG_2012-06-21_34200000_57600000_message_1.csv"],
            {},
        ),
        ("hyperliquid", [data / "format-fixtures" / "hyperliquid" / "btcusd_20250126.gz"], {}),
        (
            "binance-stream (COIN-M, inverse)",
            [data / "binance-coinm-perp" / "btcusd_perp_20240808.gz"],
            {"format": "binance-stream"},
        ),
        (
            "order-events",
            [data / "bitstamp-btcusd-l3" / "orders.csv.xz"],
            {"size_scale": "0.00000001", "on_unknown_order": "skip", "on_cross": "hold"},
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    for fmt, paths, options in cases(args.data.resolve()):
        if not paths or not all(p.is_file() for p in paths):
            print(f"{fmt:32s} skipped: no file in {args.data}")
            continue
        rates, seconds_per_run = [], []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            try:
                market = import_market(paths, **{"format": fmt, **options})
            except Exception as e:  # a fixture this format refuses: say so, time the others
                print(f"{fmt:32s} failed: {type(e).__name__}: {e}")
                break
            seconds = time.perf_counter() - t0
            rates.append(market.import_report["lines"] / seconds)
            seconds_per_run.append(seconds)
        if rates:
            print(
                f"{fmt:32s} {statistics.median(rates) / 1e6:6.2f} M msg/s "
                f"({min(rates) / 1e6:.2f} .. {max(rates) / 1e6:.2f}; "
                f"{market.import_report['lines']:,} messages, {len(market):,} events; "
                f"{statistics.median(seconds_per_run):.3f} s a run)"
            )


if __name__ == "__main__":
    main()
