"""MuZero on Ray against the local loop, on this machine: self-play env steps/s and learner
updates/s with 1 and 2 self-play actors, the overhead of Ray at one actor, and the per-part
costs the README's cost model is built from.

Parts (each timed alone): one self-play step of E environments in this process (search +
environment step), the same step through Ray actors (the step, the transfer of its
transitions and their insertion in the learner's buffer), one learner update, one batch's
reanalysis searches (a quarter of the batch: its policy and bootstrap positions) here and
through one reanalyse actor. End to end: ``train_muzero`` for the same number of steps of
every actor, local and on Ray (1 and 2 actors in lockstep, 2 asynchronous).

    python benchmarks/ray_scaling.py --json ray_scaling.json --png ray_scaling.png
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import lobzero
import numpy as np
import torch
from lobzero.distributed.self_play import RayActors
from lobzero.muzero import MuZeroConfig, train_muzero
from lobzero.muzero.agent import build_network
from lobzero.muzero.learner import Learner
from lobzero.muzero.planner import Planner
from lobzero.muzero.replay_buffer import ReplayBuffer
from lobzero.muzero.self_play import SelfPlay
from lobzero.muzero.trainer import make_envs

ENV = lobzero.EnvConfig(max_position=0.1, episode_steps=200)


def config_for(num_envs: int, iterations: int, actors: int) -> MuZeroConfig:
    steps = iterations * num_envs * actors
    return MuZeroConfig(
        total_env_steps=steps,
        num_envs=num_envs,
        num_simulations=8,
        latent_dim=32,
        hidden=64,
        blocks=1,
        batch_size=64,
        replay_capacity=max(steps, 1024),
        warmup_steps=num_envs * actors * 4,
        replay_ratio=0.25,
        checkpoint_interval=steps,
        log_interval=steps,
        torch_threads=1,
    )


def parts(market: lobzero.Market, num_envs: int, steps: int) -> dict[str, float]:
    """Seconds of one local self-play step, of one step through 1 and 2 Ray actors, and of one
    learner update."""
    config = config_for(num_envs, steps, 1)
    torch.set_num_threads(1)
    envs, _ = make_envs(config, 0, market, ENV, None)
    space = envs.single_observation_space
    net = build_network(
        config,
        int(space.shape[0]),
        int(envs.single_action_space.n),
        1,
        obs_bounds=(np.asarray(space.low), np.asarray(space.high)),
    )
    out: dict[str, float] = {}
    buffer = ReplayBuffer(config.replay_capacity * 2, num_envs, net.obs_dim, net.num_actions)
    play = SelfPlay(envs, Planner(net, config, seed=0), buffer, seed=0)
    play.step(1.0)
    t0 = time.perf_counter()
    for _ in range(steps):
        play.step(1.0)
    out["local_step_s"] = (time.perf_counter() - t0) / steps
    learner = Learner(net, config, total_updates=steps + 1)
    rng = np.random.default_rng(0)
    kw = {"unroll_steps": 5, "td_steps": 10, "discount": 0.97, "beta": 0.4, "rng": rng}
    learner.update(buffer.sample(config.batch_size, **kw))
    t0 = time.perf_counter()
    for _ in range(steps):
        learner.update(buffer.sample(config.batch_size, **kw))
    out["update_s"] = (time.perf_counter() - t0) / steps
    # a batch's reanalysis: a quarter of its samples, K + 1 policy and bootstrap positions each
    rows = buffer.obs[:, : buffer.written].reshape(-1, net.obs_dim)
    positions = rows[: config.batch_size // 4 * 6]
    reanalyser = Planner(net, config, seed=1)
    reanalyser.search_fn(positions)
    t0 = time.perf_counter()
    for _ in range(steps):
        reanalyser.search_fn(positions)
        reanalyser.search_fn(positions)
    out["reanalyse_s"] = (time.perf_counter() - t0) / steps
    for actors in (1, 2):
        lanes = ReplayBuffer(config.replay_capacity * 2, num_envs * actors, net.obs_dim, 5)
        remote = RayActors(num_actors=actors).start(
            config, market, ENV, None, 0, 0, net, lanes, learner, None
        )
        remote.step(1.0)  # the actors' start: imports, environments
        t0 = time.perf_counter()
        for _ in range(steps):
            remote.step(1.0)
        out[f"ray{actors}_step_s"] = (time.perf_counter() - t0) / steps
        remote.close()
    space_bounds = (np.asarray(space.low), np.asarray(space.high))
    remote_reanalyser = RayActors(reanalyse_actors=1).start_reanalyse(
        config, net, learner, 1, 1, space_bounds
    )
    remote_reanalyser.search_fn(positions)
    t0 = time.perf_counter()
    for _ in range(steps):
        remote_reanalyser.search_fn(positions)
        remote_reanalyser.search_fn(positions)
    out["ray_reanalyse_s"] = (time.perf_counter() - t0) / steps
    remote_reanalyser.close()
    return out


def end_to_end(market: lobzero.Market, num_envs: int, iterations: int) -> list[dict[str, Any]]:
    """env steps/s and updates/s of whole runs: local, Ray with 1 and 2 actors in lockstep, 2
    asynchronous."""
    rows = []
    for backend, actors, asynchronous in (
        ("local", 1, False),
        ("ray", 1, False),
        ("ray", 2, False),
        ("ray", 2, True),
    ):
        config = config_for(num_envs, iterations, actors)
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            train_muzero(
                config,
                out,
                market=market,
                env_config=ENV,
                seed=0,
                progress=False,
                self_play=None
                if backend == "local"
                else RayActors(num_actors=actors, asynchronous=asynchronous),
            )
            seconds = time.perf_counter() - t0
            state = torch.load(Path(out) / "checkpoint.pt", weights_only=False)
        rows.append(
            {
                "backend": backend,
                "actors": actors,
                "asynchronous": asynchronous,
                "env_steps": int(state["env_steps"]),
                "updates": int(state["learner"]["updates"]),
                "seconds": seconds,
                "env_steps_per_s": state["env_steps"] / seconds,
                "updates_per_s": state["learner"]["updates"] / seconds,
            }
        )
    return rows


def figure(costs: dict[str, float], rows: list[dict[str, Any]], envs: int, path: Path) -> None:
    """Left: self-play env steps/s from the parts (E / step seconds, A·E on A actors); right:
    whole runs' env steps/s and updates/s (Ray's actor start included)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    ray_play = [a * envs / costs[f"ray{a}_step_s"] for a in (1, 2)]
    left.plot([1, 2], ray_play, "o-", label="ray actors")
    left.axhline(envs / costs["local_step_s"], ls="--", color="gray", label="local")
    left.set_title("self-play env steps/s (steps alone)")
    ray_rows = [r for r in rows if r["backend"] == "ray" and not r["asynchronous"]]
    local = next(r for r in rows if r["backend"] == "local")
    for key, style in (("env_steps_per_s", "o-"), ("updates_per_s", "s-")):
        right.plot([r["actors"] for r in ray_rows], [r[key] for r in ray_rows], style, label=key)
        right.axhline(local[key], ls="--", color="gray")
    right.set_title("whole runs (dashed: local)")
    for ax in (left, right):
        ax.set_xticks([1, 2])
        ax.set_xlabel("Ray self-play actors")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", type=int, default=16, help="environments per actor (E)")
    parser.add_argument("--iterations", type=int, default=40, help="steps of every actor a run")
    parser.add_argument("--part-steps", type=int, default=20, help="repeats of each part timed")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--png", type=Path, default=None)
    args = parser.parse_args()
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    market = lobzero.synth_market(seconds=600, seed=0)
    costs = parts(market, args.envs, args.part_steps)
    rows = end_to_end(market, args.envs, args.iterations)
    for r in rows:
        mode = " async" if r["asynchronous"] else ""
        print(
            f"{r['backend']:5} actors={r['actors']}{mode}: "
            f"{r['env_steps_per_s']:7.1f} env steps/s, "
            f"{r['updates_per_s']:6.1f} updates/s ({r['env_steps']} steps, {r['updates']} "
            f"updates, {r['seconds']:.1f} s)"
        )
    print(
        "parts (s): "
        + ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in costs.items())
        + f"; Ray overhead at one actor: {costs['ray1_step_s'] / costs['local_step_s'] - 1:+.0%}"
    )
    if args.json is not None:
        args.json.write_text(
            json.dumps({"parts": costs, "runs": rows, "envs": args.envs}, indent=1)
        )
    if args.png is not None:
        figure(costs, rows, args.envs, args.png)


if __name__ == "__main__":
    main()
