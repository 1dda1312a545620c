"""The quick tour `make demo` runs: generate the built-in synthetic market with a real signal,
store it, inspect it, replay it and step the batched environment at full speed, then compare
MuZero, PPO, SAC and the rule baselines on it walk-forward, out of sample (``lobzero
compare`` with :data:`DEMO_COMPARE`), ending with the table and the report's path."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console

from lobzero.envs.config import EnvConfig
from lobzero.evaluation.compare import CompareConfig

#: the demo's comparison, also `examples/configs/compare_synth.toml`: decisions every second,
#: 5-minute episodes, 1 BTC at most, a 1 bps (VIP-tier) taker fee, MuZero's defaults
DEMO_COMPARE = CompareConfig(
    env=EnvConfig(step_ms=1000.0, episode_steps=300, max_position=1.0, taker_fee_bps=1.0),
    validation_episodes=4,
    # MuZeroConfig's own defaults (Gumbel, 16 simulations, a fitted linear support, discount
    # 0.97: benchmarks/muzero_ablation.py); the warm-up scales with a small budget
    muzero={"torch_threads": 1},
)
DEMO_AGENTS = "muzero,ppo,sac,buy_and_hold,random,flat"


def run_demo(
    out: Path = Path("runs/demo"),
    seconds: float = 7200.0,
    seed: int = 0,
    seeds: int = 2,
    budget_steps: int = 8000,
) -> int:
    """Runs the tour, writing files under ``out``; returns the exit code."""
    from lobzero.cli import print_info
    from lobzero.data.info import market_info
    from lobzero.data.market import Market
    from lobzero.data.synth import signal_market

    console = Console()
    out.mkdir(parents=True, exist_ok=True)
    console.rule("[bold]lobzero demo")

    t = time.perf_counter()
    market = signal_market(seconds=seconds, seed=seed)
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

    from lobzero.envs import VecTradingEnv

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
    from lobzero.cli import print_compare
    from lobzero.evaluation.compare import compare

    console.rule(f"[bold]walk-forward comparison ({seeds} seeds, {budget_steps:,} steps each)")
    result = compare(
        market,
        DEMO_AGENTS,
        seeds,
        budget_steps,
        out / "compare",
        config=DEMO_COMPARE,
        progress=True,
    )
    print_compare(result, market, DEMO_COMPARE, seeds)
    return 0
