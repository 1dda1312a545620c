"""The cost of one MuZero learner update on a CartPole-shaped batch (B = 128, K = 5, 4
features, 2 actions): loss + backward, and the optimiser step (with gradient clipping).

    python benchmarks/muzero_learner_speed.py [--support-sizes 300,20] [--rounds 30]

Prints the median milliseconds over ``--rounds`` (after 5 warm-up rounds), one torch thread.
To compare two versions of the learner, run it at both commits on the same machine, one
right after the other (e.g. ``git worktree add /tmp/old 2def9a6``, build, and run it there).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from lobzero.muzero import Learner, MuZeroConfig, build_network, muzero_loss
from lobzero.muzero.replay_buffer import Batch

B, K, OBS, ACTIONS = 128, 5, 4, 2


def random_batch(rng: np.random.Generator) -> Batch:
    def uniform(*shape: int) -> np.ndarray:
        return rng.random(shape).astype(np.float32)

    policy = uniform(B, K + 1, ACTIONS)
    policy /= policy.sum(-1, keepdims=True)
    ones = np.ones((B, K + 1), np.float32)
    return Batch(
        obs=uniform(B, OBS),
        actions=rng.integers(0, ACTIONS, (B, K)),
        value_target=uniform(B, K + 1) * 100,
        reward_target=ones.copy(),
        policy_target=policy,
        value_mask=ones.copy(),
        reward_mask=ones.copy(),
        policy_mask=ones.copy(),
        weights=np.ones(B, np.float32),
        lanes=np.zeros(B, np.int64),
        positions=np.zeros(B, np.int64),
        next_obs=uniform(B, K, OBS),
        next_obs_mask=np.ones((B, K), np.float32),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--support-sizes", default="300,20")
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(1)
    batch = random_batch(np.random.default_rng(0))
    for support in (int(s) for s in args.support_sizes.split(",")):
        config = MuZeroConfig(
            support_size=support, value_transform="sqrt", value_scale=1.0, obs_scaling="running"
        )
        net = build_network(config, OBS, ACTIONS)
        learner = Learner(net, config, 1000)
        loss_ms, step_ms = [], []
        for _ in range(args.rounds + 5):
            started = time.perf_counter()
            learner.optimizer.zero_grad(set_to_none=True)
            muzero_loss(net, batch, config).total.backward()
            middle = time.perf_counter()
            torch.nn.utils.clip_grad_norm_(net.parameters(), config.max_grad_norm)
            learner.optimizer.step()
            loss_ms.append((middle - started) * 1e3)
            step_ms.append((time.perf_counter() - middle) * 1e3)
        print(
            f"support {support}: loss + backward {np.median(loss_ms[5:]):.1f} ms, "
            f"clip + optimiser step {np.median(step_ms[5:]):.1f} ms (median of {args.rounds})"
        )


if __name__ == "__main__":
    main()
