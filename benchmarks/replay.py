"""Order-book replay speed: lobzero vs hftbacktest on the same hftbacktest event file.

Both apply every event and read the book every STEP_MS of market time (lobzero: the best 10
levels a side into arrays; hftbacktest: best bid/ask and 10 tick offsets a side, the loop of
../shared/bench/hftbacktest_replay.py). ``--data`` takes an hftbacktest ``.npz`` or any file
lobzero imports (a Binance recording, a lobzero Parquet file); the latter is exported to an
hftbacktest file for the peer (the peer script assumes tick 0.1 and lot 0.001, so only such
instruments, e.g. Binance USD-M BTCUSDT, are compared). Make a synthetic input with
``python ../shared/bench/synth_hftbacktest_npz.py 2000000 /tmp/synth_l2.npz`` (in a venv with
hftbacktest), then::

    python benchmarks/replay.py --data /tmp/synth_l2.npz --step-ms 100 \
        --peer-python /tmp/peers/bin/python

``--json`` prints one line with lobzero's ``events_per_s`` (and the peer's, when run).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import lobzero

PEER_SCRIPT = (
    Path(__file__).resolve().parents[1] / ".." / "shared" / "bench" / "hftbacktest_replay.py"
)


@dataclass
class Args:
    data: Path
    step_ms: float = 100.0
    levels: int = 10
    repeats: int = 5
    tick_size: str = "0.1"
    lot_size: str = "0.001"
    peer_python: str | None = None
    json: bool = False


def parse() -> Args:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--data", type=Path, required=True, help="hftbacktest .npz (or any lobzero market file)"
    )
    p.add_argument("--step-ms", type=float, default=100.0)
    p.add_argument("--levels", type=int, default=10)
    p.add_argument("--repeats", type=int, default=5, help="best of N timed replays")
    p.add_argument(
        "--tick-size", default="0.1", help="tick of the npz (synth_hftbacktest_npz.py: 0.1)"
    )
    p.add_argument("--lot-size", default="0.001")
    p.add_argument(
        "--peer-python",
        default=None,
        help="python with hftbacktest installed (default: this one if it has hftbacktest, else "
        "$PEER_PYTHON or /tmp/peers/bin/python when present)",
    )
    p.add_argument("--no-peer", action="store_true", help="time lobzero only")
    p.add_argument("--json", action="store_true")
    ns = vars(p.parse_args())
    if ns.pop("no_peer"):
        ns["peer_python"] = None
    elif ns["peer_python"] is None:
        ns["peer_python"] = find_peer_python()
    return Args(**ns)


def find_peer_python() -> str | None:
    """A Python interpreter that can import hftbacktest, if there is one at hand."""
    import importlib.util
    import os
    import sys

    if importlib.util.find_spec("hftbacktest") is not None:
        return sys.executable
    for candidate in (os.environ.get("PEER_PYTHON"), "/tmp/peers/bin/python"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def load(args: Args) -> lobzero.Market:
    if args.data.suffix == ".npz":
        return lobzero.import_market(
            args.data,
            format="hftbacktest",
            tick_size=args.tick_size,
            lot_size=args.lot_size,
            round_qty=True,
        )
    return lobzero.import_market(args.data)


def time_lobzero(args: Args, market: lobzero.Market, import_s: float) -> dict[str, float]:
    best = float("inf")
    steps = 0
    for _ in range(args.repeats):
        t = time.perf_counter()
        samples = market.sample_book(step_ms=args.step_ms, levels=args.levels)
        best = min(best, time.perf_counter() - t)
        steps = len(samples["ts_ns"])
    return {
        "events": len(market),
        "steps": steps,
        "seconds": best,
        "import_seconds": import_s,
        "events_per_s": len(market) / best,
        "steps_per_s": steps / best,
    }


def time_peer(args: Args, market: lobzero.Market, tmp: Path) -> dict[str, float] | None:
    if not args.peer_python:
        return None
    data = args.data
    if data.suffix != ".npz":
        meta = market.instrument
        if (meta.tick, meta.lot) != (0.1, 0.001):
            print(
                f"peer skipped: its script assumes tick 0.1 / lot 0.001, {data.name} has "
                f"{meta.tick_size} / {meta.lot_size}"
            )
            return None
        from lobzero.data.export import to_hftbacktest_npz

        data = to_hftbacktest_npz(market, tmp / "peer_input.npz")
    out = subprocess.run(
        [args.peer_python, str(PEER_SCRIPT), str(data), str(int(args.step_ms))],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    args = parse()
    t0 = time.perf_counter()
    market = load(args)
    ours = time_lobzero(args, market, time.perf_counter() - t0)
    with tempfile.TemporaryDirectory() as tmp:
        peer = time_peer(args, market, Path(tmp))
    result = {"lobzero": ours, "hftbacktest": peer}
    if peer:
        result["ratio_events_per_s"] = ours["events_per_s"] / peer["events_per_s"]
    if args.json:
        print(json.dumps({"events_per_s": ours["events_per_s"], **result}))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"replay of {args.data.name}, book read every {args.step_ms:g} ms")
    for col in ("engine", "events", "decisions", "seconds", "M events/s", "k decisions/s"):
        table.add_column(col, justify="right")
    for name, r in (("lobzero", ours), ("hftbacktest", peer)):
        if r:
            table.add_row(
                name,
                f"{r['events']:,}",
                f"{r['steps']:,}",
                f"{r['seconds']:.3f}",
                f"{r['events_per_s'] / 1e6:.1f}",
                f"{r['steps_per_s'] / 1e3:.0f}",
            )
    Console().print(table)
    if peer:
        Console().print(
            f"lobzero / hftbacktest events per second: {result['ratio_events_per_s']:.2f}x"
        )


if __name__ == "__main__":
    main()
