"""MuZero's throughput on whatever device is present: self-play env steps/s, search time and
learner updates/s at B roots (default 256 and 1024).

Self-play here is what an actor does each step: one batched search of B roots (the Rust tree on
the CPU, the network's batched inference on ``--device``), then one step of B trading
environments; the search's share of the step is reported apart. The learner's updates run on
batches of ``--batch-size`` sampled from the buffer the self-play filled.

    python benchmarks/gpu_throughput.py --device cuda --roots 256,1024 --json out.json

Short by default (a few steps per size, CPU or GPU): CI and the tests never run it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import lobzero
import numpy as np
import torch
from lobzero.devices import resolve_device
from lobzero.envs import VecTradingEnv
from lobzero.muzero import MuZeroConfig
from lobzero.muzero.agent import build_network
from lobzero.muzero.learner import Learner
from lobzero.muzero.planner import Planner
from lobzero.muzero.replay_buffer import ReplayBuffer
from lobzero.muzero.self_play import SelfPlay


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def measure(roots: int, device: str, steps: int, updates: int, batch_size: int) -> dict[str, Any]:
    """One size: env steps/s of self-play, seconds per search, learner updates/s."""
    config = MuZeroConfig(
        num_envs=roots,
        num_simulations=16,
        batch_size=batch_size,
        replay_capacity=max(4 * steps * roots, 4096),
        unroll_steps=5,
        td_steps=10,
        torch_threads=0,
    )
    market = lobzero.synth_market(seconds=600, seed=0)
    envs = VecTradingEnv(market, num_envs=roots, config=lobzero.EnvConfig(episode_steps=500))
    space = envs.single_observation_space
    obs_dim, num_actions = int(space.shape[0]), int(envs.single_action_space.n)
    net = build_network(
        config, obs_dim, num_actions, 1, obs_bounds=(np.asarray(space.low), np.asarray(space.high))
    ).to(device)
    buffer = ReplayBuffer(config.replay_capacity, roots, obs_dim, num_actions)
    planner = Planner(net, config, device, seed=0)
    play = SelfPlay(envs, planner, buffer, seed=0)
    play.update_normalizer = False
    play.step(1.0)  # warm-up: the tree's allocation, CUDA kernels
    search_seconds = 0.0
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        s0 = time.perf_counter()
        planner.run(play.obs, noise=True, temperature=1.0)
        _sync(device)
        search_seconds += time.perf_counter() - s0
        play.step(1.0)
    _sync(device)
    play_seconds = time.perf_counter() - t0
    # each timed iteration ran one extra search (timed alone): a step is the rest plus one
    step_seconds = (play_seconds - search_seconds) / steps
    learner = Learner(net, config, total_updates=updates + 1, device=device)
    rng = np.random.default_rng(0)
    kw = {"unroll_steps": 5, "td_steps": 10, "discount": 0.97, "beta": 0.4, "rng": rng}
    learner.update(buffer.sample(batch_size, **kw))
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(updates):
        batch = buffer.sample(batch_size, **kw)
        learner.update(batch)
    _sync(device)
    learn_seconds = time.perf_counter() - t0
    return {
        "roots": roots,
        "device": device,
        "env_steps_per_s": roots / step_seconds,
        "search_seconds": search_seconds / steps,
        "step_seconds": step_seconds,
        "search_share": (search_seconds / steps) / step_seconds,
        "updates_per_s": updates / learn_seconds,
        "batch_size": batch_size,
        "num_simulations": config.num_simulations,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--roots", default="256,1024", help="comma-separated batch sizes B")
    parser.add_argument("--steps", type=int, default=5, help="self-play steps per size")
    parser.add_argument("--updates", type=int, default=10, help="learner updates per size")
    parser.add_argument("--batch-size", type=int, default=256, help="learner batch")
    parser.add_argument("--json", type=Path, default=None, help="write the rows here")
    args = parser.parse_args()
    device = resolve_device(args.device)
    rows = [
        measure(int(b), device, args.steps, args.updates, args.batch_size)
        for b in args.roots.split(",")
    ]
    for r in rows:
        print(
            f"{r['device']} B={r['roots']}: self-play {r['env_steps_per_s']:,.0f} env steps/s "
            f"(search {r['search_seconds'] * 1e3:.1f} ms = {r['search_share']:.0%} of a step), "
            f"learner {r['updates_per_s']:.1f} updates/s (batch {r['batch_size']})"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
