"""What the batch's worker pool gains when calls come apart: one `VecTradingEnv` call timed
after a busy gap on the calling thread (a stand-in for the policy), on 1 thread and on all.

    python benchmarks/vec_env_gaps.py [--num-envs 256] [--calls 300] [--gaps-ms 0 0.2 2]

Idle workers poll for 100 µs, then park: a gap longer than that makes each call wake them.
"""

from __future__ import annotations

import argparse
import os
import time

import lobzero
import numpy as np
from lobzero.envs import EnvConfig, VecTradingEnv


def us_per_call(
    market: lobzero.Market, num_envs: int, threads: int, gap_s: float, actions: np.ndarray
) -> float:
    """Mean time of one step call, µs, each call after `gap_s` of busy waiting."""
    vec = VecTradingEnv(
        market, num_envs, EnvConfig(max_position=0.1, episode_steps=1000), num_threads=threads
    )
    vec.reset(seed=0)
    total = 0.0
    for a in actions:
        waited = time.perf_counter()
        while time.perf_counter() - waited < gap_s:
            pass
        start = time.perf_counter()
        vec.step(a)
        total += time.perf_counter() - start
    return total / len(actions) * 1e6


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--num-envs", type=int, default=256)
    p.add_argument("--calls", type=int, default=300)
    p.add_argument("--gaps-ms", type=float, nargs="+", default=[0.0, 0.2, 2.0])
    args = p.parse_args()
    market = lobzero.synth_market(seconds=1800)
    actions = np.random.default_rng(0).integers(0, 5, size=(args.calls, args.num_envs))
    threads = [1, os.cpu_count() or 1]
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"VecTradingEnv × {args.num_envs}: µs per call after a gap")
    table.add_column("gap (ms)", justify="right")
    for t in threads:
        table.add_column(f"{t} thread(s)", justify="right")
    for gap in args.gaps_ms:
        cells = [us_per_call(market, args.num_envs, t, gap / 1e3, actions) for t in threads]
        table.add_row(f"{gap:g}", *(f"{c:,.0f}" for c in cells))
    Console().print(table)


if __name__ == "__main__":
    main()
