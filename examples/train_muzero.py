"""Train MuZero on the built-in synthetic market and test it out of sample against a random
agent, in one file.

    python examples/train_muzero.py                         # ~10 minutes on 2 cores
    python examples/train_muzero.py --total-env-steps 4000  # a quick look

The market has a slow order-flow pressure (a signal that lasts tens of seconds); the first
70 % of it trains the agent, the last 30 % tests it: episodes start only where they end
before the market does, and nothing of the test range is seen in training.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, fields
from typing import Any

import lobzero
import numpy as np
from lobzero.baselines.rules import make_rule_agent
from lobzero.evaluation.robustness import run_episode
from lobzero.muzero import MuZeroConfig, train_muzero


@dataclass
class Args:
    seconds: float = 7200.0
    """length of the synthetic market, s"""
    signal_strength: float = 1.0
    pressure_reversion: float = 0.05
    """per second: the signal's half-life is ln 2 / this"""
    step_ms: float = 1000.0
    """decision interval"""
    taker_fee_bps: float = 1.0
    episode_steps: int = 300
    total_env_steps: int = 40_000
    num_simulations: int = 16
    algorithm: str = "gumbel"
    test_episodes: int = 8
    seed: int = 0
    out: str = "runs/train_muzero"


def parse() -> Args:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for f in fields(Args):
        p.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default)
    return Args(**vars(p.parse_args()))


def main(args: Args) -> dict[str, Any]:
    market = lobzero.synth_market(
        seconds=args.seconds,
        seed=args.seed,
        signal_strength=args.signal_strength,
        pressure_reversion=args.pressure_reversion,
    )
    split_ns = market.start_ns + int(0.7 * (market.end_ns - market.start_ns))
    episode_ns = int(args.episode_steps * args.step_ms * 1e6)
    base = lobzero.EnvConfig(
        step_ms=args.step_ms,
        taker_fee_bps=args.taker_fee_bps,
        max_position=1.0,
        episode_steps=args.episode_steps,
    )
    # episodes start where they end inside their range (plus the features' warm-up margin)
    train_env = base.replace(start_ns=market.start_ns, end_ns=split_ns - episode_ns)
    test_env = base.replace(start_ns=split_ns + episode_ns // 10, end_ns=market.end_ns - episode_ns)

    config = MuZeroConfig(
        total_env_steps=args.total_env_steps,
        num_envs=16,
        num_simulations=args.num_simulations,
        algorithm=args.algorithm,  # type: ignore[arg-type]
        support_size=50,
        td_steps=10,
        batch_size=128,
        warmup_steps=min(1000, args.total_env_steps // 4),
        replay_capacity=min(50_000, 16 * args.total_env_steps),
        checkpoint_interval=max(1000, args.total_env_steps // 4),
        log_interval=max(500, args.total_env_steps // 20),
        torch_threads=1,
    )
    agent = train_muzero(config, args.out, market=market, env_config=train_env, seed=args.seed)

    env = lobzero.TradingEnv(market, test_env)
    agents = {
        "muzero": agent,
        "random": make_rule_agent("random", env.feature_names, seed=args.seed),
        "flat": make_rule_agent("flat", env.feature_names),
    }
    results: dict[str, Any] = {}
    print(f"test range: last 30 % of {market}; {args.test_episodes} episodes per agent")
    for name, player in agents.items():
        metrics = [run_episode(player, env, 1000 + i).metrics for i in range(args.test_episodes)]
        results[name] = {
            "total_return": float(np.mean([m.total_return for m in metrics])),
            "sharpe": float(np.mean([m.sharpe for m in metrics])),
            "round_trips": float(np.mean([m.round_trips for m in metrics])),
            "fees": float(np.mean([m.fees for m in metrics])),
        }
        r = results[name]
        print(
            f"{name:>8}: return {r['total_return']:+.3%}  Sharpe {r['sharpe']:+.1f}  "
            f"round trips {r['round_trips']:.0f}  fees {r['fees']:.2f}"
        )
    return results


if __name__ == "__main__":
    main(parse())
