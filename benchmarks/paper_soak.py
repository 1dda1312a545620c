"""The paper loop's soak: simulated hours on an accelerated clock (``--speed max``), several
synthetic symbols, faults on (dropped, duplicated, out-of-order batches, stalls, disconnects,
crashes of the agent and the broker) and the daily retrain of an imbalance champion; prints
the checks of :mod:`lobzero.live.soak` (0 crashes, no row lost or written twice, every event
accepted once or counted in a gap, every symbol deciding and trading each day, retrain logged).

    python benchmarks/paper_soak.py --hours 24 --symbols 3 [--json]
"""

from __future__ import annotations

import argparse
import json
import sys

from lobzero.live.soak import run_soak


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hours", type=float, default=24.0, help="simulated hours")
    p.add_argument("--symbols", type=int, default=3)
    p.add_argument("--step-ms", type=float, default=1000.0, help="decision interval, ms")
    p.add_argument("--base-rate", type=float, default=2.0, help="synthetic arrivals per second")
    p.add_argument("--retrain-at", default="02:00", help="daily retrain, UTC HH:MM")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="the whole report as JSON")
    args = p.parse_args()
    report = run_soak(args.hours, args.symbols, args.step_ms, args.base_rate, args.retrain_at,
                      seed=args.seed)  # fmt: skip
    if args.json:
        print(json.dumps(report))
    else:
        print(json.dumps({k: v for k, v in report.items() if k != "per_symbol"}, indent=1))
    return 0 if all(report["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
