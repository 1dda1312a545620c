"""Trading-environment speed: one `TradingEnv` through gymnasium, and a `VecTradingEnv` of 256,
on the built-in synthetic market (or ``--data``), with the peers timed in the same run.

    python benchmarks/env_speed.py [--seconds 1800] [--peer-python /tmp/peers/bin/python] [--json]

Peers: gym-anytrading and Gym-Trading-Env with random actions (``../shared/bench/gym_envs.py``,
no order book), and hftbacktest's replay loop with a decision every 100 ms
(``../shared/bench/hftbacktest_replay.py``) on the same market exported to its format.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import lobzero
import numpy as np
from lobzero.data.export import to_hftbacktest_npz
from lobzero.envs import EnvConfig, TradingEnv, VecTradingEnv

BENCH = Path(__file__).resolve().parents[1] / ".." / "shared" / "bench"


def median_of(repeats: int, run) -> float:
    """Median over repeated runs: a steady rate, not the luckiest one."""
    return float(np.median([run() for _ in range(repeats)]))


def single_env_steps_per_s(market: lobzero.Market, steps: int, via_make: bool = False) -> float:
    """Random actions from ``action_space.sample()``, as the peers' loop does. ``via_make``:
    built by ``gym.make``, so through gymnasium's checking and order-enforcing wrappers."""
    config = EnvConfig(max_position=0.1, episode_steps=1000)
    env = (
        gym.make("lobzero/Trading-v0", market=market, config=config)
        if via_make
        else TradingEnv(market, config)
    )

    def run() -> float:
        env.reset(seed=0)
        t = time.perf_counter()
        for _ in range(steps):
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            if terminated or truncated:
                env.reset()
        return steps / (time.perf_counter() - t)

    return median_of(3, run)


def vec_env_steps_per_s(market: lobzero.Market, num_envs: int, calls: int) -> float:
    vec = VecTradingEnv(market, num_envs, EnvConfig(max_position=0.1, episode_steps=1000))
    actions = np.random.default_rng(0).integers(0, 5, size=(calls, num_envs))

    def run() -> float:
        vec.reset(seed=0)
        t = time.perf_counter()
        for a in actions:
            vec.step(a)
        return calls * num_envs / (time.perf_counter() - t)

    return median_of(5, run)


def peers(python: str, market: lobzero.Market, steps: int) -> dict[str, float]:
    out: dict[str, float] = {}
    text = subprocess.run(
        [python, str(BENCH / "gym_envs.py"), str(steps)], check=True, capture_output=True, text=True
    ).stdout
    for line in text.strip().splitlines():
        row = json.loads(line)
        out[row["peer"]] = row["steps_per_s"]
    meta = market.metadata
    if (meta.tick, meta.lot) == (0.1, 0.001):  # what the peer script assumes
        with tempfile.TemporaryDirectory() as tmp:
            npz = to_hftbacktest_npz(market, Path(tmp) / "market.npz")
            text = subprocess.run(
                [python, str(BENCH / "hftbacktest_replay.py"), str(npz), "100"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        out["hftbacktest decisions"] = json.loads(text.strip().splitlines()[-1])["steps_per_s"]
    return out


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data", type=Path, default=None, help="a market file (default: synthetic)")
    p.add_argument("--seconds", type=float, default=1800.0, help="synthetic market length")
    p.add_argument("--steps", type=int, default=50_000, help="single-environment steps")
    p.add_argument("--num-envs", type=int, default=256)
    p.add_argument("--calls", type=int, default=2000, help="batched steps per timed run")
    p.add_argument("--peer-python", default=None)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    market = (
        lobzero.import_market(args.data)
        if args.data
        else lobzero.synth_market(seconds=args.seconds)
    )
    result = {
        "market": repr(market),
        "single_env_steps_per_s": single_env_steps_per_s(market, args.steps),
        "single_env_gym_make_steps_per_s": single_env_steps_per_s(
            market, args.steps, via_make=True
        ),
        "vec_env_steps_per_s": vec_env_steps_per_s(market, args.num_envs, args.calls),
        "peers": peers(args.peer_python, market, args.steps) if args.peer_python else {},
    }
    if args.json:
        print(json.dumps(result))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=result["market"])
    table.add_column("what")
    table.add_column("steps/s", justify="right")
    table.add_row(
        "lobzero TradingEnv (gymnasium, random actions)", f"{result['single_env_steps_per_s']:,.0f}"
    )
    table.add_row(
        "lobzero TradingEnv from gym.make (gymnasium's wrappers)",
        f"{result['single_env_gym_make_steps_per_s']:,.0f}",
    )
    table.add_row(
        f"lobzero VecTradingEnv × {args.num_envs}", f"{result['vec_env_steps_per_s']:,.0f}"
    )
    for name, value in result["peers"].items():
        table.add_row(f"peer: {name}", f"{value:,.0f}")
    Console().print(table)


if __name__ == "__main__":
    main()
