"""Seconds per training env step and per test decision of each `compare` agent with compare's
built-in settings: the constants of :data:`lobzero.evaluation.compare_progress.SECONDS_PER_STEP`.

    PYTHONPATH=python python benchmarks/compare_speed.py [--steps 2048]

Each learned agent trains ``--steps`` env steps (MuZero a quarter of them: it is the slowest) on
the default synthetic market, then plays 8 test episodes in lockstep; prints one line per agent.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import lobzero
from lobzero.evaluation.compare import LEARNED, CompareConfig, muzero_config
from lobzero.evaluation.robustness import run_episodes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=2048)
    parser.add_argument("--agents", default="ppo,sac,muzero")
    args = parser.parse_args()
    market = lobzero.synth_market(seconds=1800, seed=0, signal_strength=1.0)
    config = CompareConfig()
    for name in args.agents.split(","):
        steps = args.steps // 4 if name in LEARNED[:3] else args.steps
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            if name in ("ppo", "sac"):
                from lobzero.baselines.sb3 import train_sb3

                agent = train_sb3(
                    name,
                    market,
                    config.env,
                    Path(tmp),
                    seed=0,
                    total_steps=steps,
                    config=config.ppo if name == "ppo" else config.sac,
                )
            else:
                from lobzero.muzero import train_muzero

                agent = train_muzero(
                    muzero_config(config, steps, name),
                    Path(tmp),
                    market=market,
                    env_config=config.env,
                    progress=False,
                )
            train_s = time.perf_counter() - t0
            envs = [
                lobzero.TradingEnv(market, config.env.replace(action_mode=agent.action_mode))
                for _ in range(8)
            ]
            t0 = time.perf_counter()
            run_episodes(agent, envs, list(range(8)))
            test_s = time.perf_counter() - t0
        decisions = 8 * config.env.episode_steps
        print(
            f"{name}: {train_s / steps:.3g} s per training env step ({steps} steps), "
            f"{test_s / decisions:.3g} s per test decision ({decisions} decisions)",
            flush=True,
        )


if __name__ == "__main__":
    main()
