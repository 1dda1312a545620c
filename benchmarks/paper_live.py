"""Speed of the live paper path: one Binance recording fed a line at a time through a
:class:`~lobzero.live.live_market.LiveMarket` (the core's importer, a line at a time) into a
:class:`~lobzero.live.live_market.LivePaperBroker` that appends the new events to its
environment before each decision, as ``lobzero paper --feed binance:...`` does (no websocket:
this times the market and the broker, not the network).

Prints lines/s and events/s overall, and the time per decision (append + step) in each
quarter of the run: an environment rebuilt on every append would grow with the stream
(O(n^2) over a day); an append in place stays flat.

    python benchmarks/paper_live.py [--lines 94000] [--step-ms 100]
"""

from __future__ import annotations

import argparse
import gzip
import time
from pathlib import Path

import numpy as np
from lobzero.envs import EnvConfig
from lobzero.live.live_market import LiveMarket, LivePaperBroker

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path,
                        default=DATA / "binance-usdm-btcusdt" / "btcusdt_20240808.gz")  # fmt: skip
    parser.add_argument("--lines", type=int, default=94_000)
    parser.add_argument("--step-ms", type=float, default=100.0)
    args = parser.parse_args()
    with gzip.open(args.file, "rt") as f:
        lines = [
            line.rstrip("\n").split(" ", 1) for _, line in zip(range(args.lines), f, strict=False)
        ]
    live = LiveMarket("BTCUSDT", "0.1", "0.001")
    env = EnvConfig(max_position=0.01, initial_cash=10_000.0, latency_ms=20.0,
                    step_ms=args.step_ms)  # fmt: skip
    broker = LivePaperBroker(env_config=env, live={"BTCUSDT": live})
    step_ns = round(args.step_ms * 1e6)
    wait_ns = broker.wait_ns
    opened, next_ns, decisions = False, 0, 0
    rng = np.random.default_rng(0)
    per_decision: list[float] = []
    began = time.perf_counter()
    for recv, text in lines:
        recv_ns = int(recv)
        live.feed(recv_ns, text)
        if not opened:
            if broker.ready("BTCUSDT"):
                _, info = broker.open("BTCUSDT", recv_ns)
                next_ns, opened = int(info["ts_ns"]), True
            continue
        while recv_ns >= next_ns + wait_ns:
            t0 = time.perf_counter()
            ex = broker.execute("BTCUSDT", int(rng.integers(0, 5)))
            per_decision.append(time.perf_counter() - t0)
            next_ns = int(ex.info["ts_ns"])
            decisions += 1
    elapsed = time.perf_counter() - began
    live.take()
    span_s = (int(lines[-1][0]) - int(lines[0][0])) / 1e9
    print(f"{len(lines):,} lines ({span_s:.0f} s of market), {decisions:,} decisions of "
          f"{step_ns / 1e6:g} ms, in {elapsed:.2f} s: {len(lines) / elapsed:,.0f} lines/s, "
          f"{live.events / elapsed:,.0f} events/s ({live.events:,} events), "
          f"{span_s / elapsed:,.0f}x real time")  # fmt: skip
    quarters = np.array_split(np.array(per_decision), 4)
    print("time per decision (append + step), by quarter of the run, µs: "
          + " / ".join(f"{q.mean() * 1e6:.0f}" for q in quarters))  # fmt: skip


if __name__ == "__main__":
    main()
