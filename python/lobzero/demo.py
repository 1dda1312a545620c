"""The quick tour `make demo` runs: generate the built-in synthetic market, store it, inspect it,
and replay it at full speed. Later stages of the project (environment, agents, comparison) add
their steps here."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console


def run_demo(out: Path = Path("runs/demo"), seconds: float = 1800.0, seed: int = 0) -> int:
    """Runs the tour, writing files under ``out``; returns the exit code."""
    from lobzero.cli import print_info
    from lobzero.data.info import market_info
    from lobzero.data.market import Market
    from lobzero.data.synth import synth_market

    console = Console()
    out.mkdir(parents=True, exist_ok=True)
    console.rule("[bold]lobzero demo")

    t = time.perf_counter()
    market = synth_market(seconds=seconds, seed=seed)
    gen_s = time.perf_counter() - t
    path = market.save(out / "synth.parquet")
    console.print(f"generated {market} in {gen_s:.2f} s -> {path}")

    market = Market.load(path)
    info = market_info(market)
    keys = ("events", "span_s", "events_per_s", "events_by_kind", "spread_ticks", "mid")
    print_info({k: info[k] for k in keys if k in info}, "synthetic market (lobzero data info)")

    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        samples = market.sample_book(step_ms=100, levels=10)
        best = min(best, time.perf_counter() - t)
    console.print(
        f"replay: {len(market):,} events, book read every 100 ms ({len(samples['ts_ns']):,} "
        f"reads of 10 levels a side) in {best * 1e3:.1f} ms = "
        f"[bold]{len(market) / best / 1e6:.1f} M events/s[/]"
    )

    import numpy as np

    from lobzero.envs import EnvConfig, VecTradingEnv

    num_envs = 256
    vec = VecTradingEnv(market, num_envs, EnvConfig(max_position=0.1, episode_steps=1000))
    vec.reset(seed=seed)
    rng = np.random.default_rng(seed)
    actions = rng.integers(0, 5, size=(50, num_envs))
    t = time.perf_counter()
    for a in actions:
        vec.step(a)
    elapsed = time.perf_counter() - t
    console.print(
        f"environment: {num_envs} trading environments (100 ms decisions, market orders walking "
        f"the book, fees, 10 ms latency) at [bold]{50 * num_envs / elapsed / 1e6:.2f} M steps/s[/]"
    )
    console.print(f"files in {out}/; next: `lobzero data info {path}`")
    return 0
