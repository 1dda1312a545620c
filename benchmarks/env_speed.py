"""Trading-environment speed: one `TradingEnv` through gymnasium, and a `VecTradingEnv` of 256,
on the built-in synthetic market (or ``--data``), with the peers timed in the same run.

    python benchmarks/env_speed.py [--seconds 1800] [--peer-python /tmp/peers/bin/python]
                                   [--rounds 3] [--json]

Peers: gym-anytrading and Gym-Trading-Env with random actions (``../shared/bench/gym_envs.py``,
no order book), and hftbacktest's replay loop with a decision every 100 ms
(``../shared/bench/hftbacktest_replay.py``) on the same market exported to its format.

lobzero and the peers take turns, ``--rounds`` times: the speed of a shared 2-vCPU machine
drifts by tens of percent within seconds, so a ratio is taken between timings of the same round
and reported per round (its spread is the honest error bar), with the median of each figure.
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


def peers(python: str, steps: int, npz: Path | None) -> dict[str, float]:
    """Steps per second of each peer (``npz``: the market in hftbacktest's format, if it fits
    the peer script's tick and lot)."""
    out: dict[str, float] = {}
    text = subprocess.run(
        [python, str(BENCH / "gym_envs.py"), str(steps)], check=True, capture_output=True, text=True
    ).stdout
    for line in text.strip().splitlines():
        row = json.loads(line)
        out[row["peer"]] = row["steps_per_s"]
    if npz is not None:
        text = subprocess.run(
            [python, str(BENCH / "hftbacktest_replay.py"), str(npz), "100"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        out["hftbacktest decisions"] = json.loads(text.strip().splitlines()[-1])["steps_per_s"]
    return out


def one_round(
    market: lobzero.Market, args: argparse.Namespace, npz: Path | None
) -> dict[str, float]:
    row = {
        "single_env_steps_per_s": single_env_steps_per_s(market, args.steps),
        "single_env_gym_make_steps_per_s": single_env_steps_per_s(
            market, args.steps, via_make=True
        ),
        "vec_env_steps_per_s": vec_env_steps_per_s(market, args.num_envs, args.calls),
    }
    if args.peer_python:
        row.update({f"peer {k}": v for k, v in peers(args.peer_python, args.steps, npz).items()})
        anytrading = row.get("peer gym-anytrading")
        if anytrading:
            row["single_vs_gym_anytrading"] = row["single_env_steps_per_s"] / anytrading
        decisions = row.get("peer hftbacktest decisions")
        if decisions:
            row["vec_vs_hftbacktest_decisions"] = row["vec_env_steps_per_s"] / decisions
    return row


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data", type=Path, default=None, help="a market file (default: synthetic)")
    p.add_argument("--seconds", type=float, default=1800.0, help="synthetic market length")
    p.add_argument("--steps", type=int, default=50_000, help="single-environment steps")
    p.add_argument("--num-envs", type=int, default=256)
    p.add_argument("--calls", type=int, default=2000, help="batched steps per timed run")
    p.add_argument("--rounds", type=int, default=3, help="turns of lobzero and the peers")
    p.add_argument("--peer-python", default=None)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    market = (
        lobzero.import_market(args.data)
        if args.data
        else lobzero.synth_market(seconds=args.seconds)
    )
    with tempfile.TemporaryDirectory() as tmp:
        npz = None
        meta = market.instrument
        if args.peer_python and (meta.tick, meta.lot) == (0.1, 0.001):  # the peer's assumption
            npz = to_hftbacktest_npz(market, Path(tmp) / "market.npz")
        rounds = [one_round(market, args, npz) for _ in range(args.rounds)]
    keys = list(rounds[0])
    result = {
        "market": repr(market),
        "rounds": rounds,
        "median": {k: float(np.median([r[k] for r in rounds])) for k in keys},
    }
    if args.json:
        print(json.dumps(result))
        return
    from rich.console import Console
    from rich.table import Table

    labels = {
        "single_env_steps_per_s": "lobzero TradingEnv (gymnasium, random actions)",
        "single_env_gym_make_steps_per_s": "lobzero TradingEnv via gym.make (gymnasium's wrappers)",
        "vec_env_steps_per_s": f"lobzero VecTradingEnv × {args.num_envs}",
        "single_vs_gym_anytrading": "ratio: TradingEnv / gym-anytrading",
        "vec_vs_hftbacktest_decisions": "ratio: VecTradingEnv / hftbacktest decisions",
    }
    table = Table(title=result["market"])
    table.add_column("what (steps/s)")
    for k in range(len(rounds)):
        table.add_column(f"round {k + 1}", justify="right")
    table.add_column("median", justify="right")
    for key in keys:
        cells = [r[key] for r in rounds] + [result["median"][key]]
        fmt = "{:.2f}x" if key.startswith(("single_vs", "vec_vs")) else "{:,.0f}"
        table.add_row(labels.get(key, key), *(fmt.format(c) for c in cells))
    Console().print(table)


if __name__ == "__main__":
    main()
