"""One batched MuZero search with lobzero's default network on the CPU: the time self-play and
the agent pay per decision.

    python benchmarks/muzero_search.py [--roots 256] [--simulations 50] [--threads 2] [--json]

Builds `MuZeroNet` with `MuZeroConfig()`'s defaults for the trading environment's default
observation (the features of `EnvConfig()`), 5 actions, and times `Planner.run` (representation
once, then one dynamics + prediction call and one tree select/backup per simulation, for all
roots at once), with root noise as in self-play.
"""

from __future__ import annotations

import argparse
import json
import time

import lobzero
import numpy as np
import torch
from lobzero.muzero import MuZeroConfig, Planner, build_network


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--roots", type=int, default=256)
    p.add_argument("--simulations", type=int, default=50)
    p.add_argument("--algorithm", default="muzero")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    env = lobzero.TradingEnv(lobzero.synth_market(seconds=60, seed=0), lobzero.EnvConfig())
    obs_dim = env.observation_space.shape[0]
    config = MuZeroConfig(num_simulations=args.simulations, algorithm=args.algorithm)
    torch.manual_seed(0)
    net = build_network(config, obs_dim, 5)
    planner = Planner(net, config)
    obs = np.random.default_rng(0).normal(size=(args.roots, obs_dim)).astype(np.float32)
    planner.run(obs, noise=True)  # warm-up: allocations, first kernels
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        planner.run(obs, noise=True, temperature=1.0)
        times.append(time.perf_counter() - start)
    result = {
        "roots": args.roots,
        "simulations": args.simulations,
        "algorithm": args.algorithm,
        "obs_dim": obs_dim,
        "parameters": sum(x.numel() for x in net.parameters()),
        "torch_threads": args.threads,
        "ms_median": 1e3 * float(np.median(times)),
        "ms_min": 1e3 * float(np.min(times)),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{args.roots} roots x {args.simulations} simulations ({args.algorithm}), default "
            f"network ({result['parameters']:,} parameters, obs {obs_dim}), {args.threads} "
            f"torch threads: {result['ms_median']:.1f} ms per search (min {result['ms_min']:.1f})"
        )


if __name__ == "__main__":
    main()
