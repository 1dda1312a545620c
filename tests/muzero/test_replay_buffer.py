"""Prioritized replay under the trainer's own loop: a step whose value target is not known yet
(the newest of its lane) keeps its priority instead of being buried at ``eps`` for good."""

from __future__ import annotations

import numpy as np
from lobzero.muzero import Learner, MuZeroConfig, ReplayBuffer, build_network


def play_and_learn(steps: int, seed: int = 0) -> ReplayBuffer:
    """The trainer's loop on random transitions: add one step per lane, then learn from a
    batch sampled right away and write its priorities back (as ``train_muzero`` does)."""
    rng = np.random.default_rng(seed)
    config = MuZeroConfig(
        latent_dim=8, hidden=16, blocks=1, support_size=10, batch_size=16, unroll_steps=2
    )
    lanes, obs_dim, actions = 4, 3, 3
    net = build_network(config, obs_dim, actions)
    learner = Learner(net, config, total_updates=steps)
    buffer = ReplayBuffer(4 * 200, lanes, obs_dim, actions)
    for t in range(steps):
        buffer.add(
            rng.normal(size=(lanes, obs_dim)).astype(np.float32),
            rng.integers(0, actions, lanes),
            rng.normal(size=lanes),
            np.zeros(lanes),
            np.full((lanes, actions), 1 / actions),
            rng.random(lanes) < 0.02,
            np.zeros(lanes, bool),
        )
        if t >= 8:
            batch = buffer.sample(
                config.batch_size,
                unroll_steps=config.unroll_steps,
                td_steps=config.td_steps,
                discount=config.discount,
                beta=1.0,
                rng=rng,
            )
            _, priorities = learner.update(batch)
            buffer.update_priorities(batch.lanes, batch.positions, priorities)
    return buffer


def test_steps_without_a_value_target_keep_their_priority() -> None:
    """Planted defect it catches (the code before this test): the learner reported priority
    |v − z| × mask = 0 for a sample without a value target and the buffer stored 0 + eps, so
    every step drawn while it was the newest of its lane (likely: it enters at the largest
    priority) was never drawn again: 21 % of this buffer sat at eps (82 % of an 8k buffer in
    the audit), holding almost none of the sampling mass."""
    buffer = play_and_learn(120)
    stored = buffer.priorities[:, : buffer.written]
    buried = float(np.mean(stored <= 10 * buffer.eps))
    assert buried < 0.02, f"{buried:.0%} of the steps sit at priority eps"


def test_unknown_priorities_leave_the_step_as_it_was() -> None:
    buffer = ReplayBuffer(8, 1, obs_dim=1, num_actions=2)
    for _ in range(4):
        buffer.add(
            np.zeros((1, 1)),
            np.zeros(1, np.int64),
            np.zeros(1),
            np.zeros(1),
            np.full((1, 2), 0.5),
            np.zeros(1, bool),
            np.zeros(1, bool),
        )
    buffer.update_priorities(np.zeros(4, np.int64), np.arange(4), np.array([2.0, np.nan, 3.0, 0.5]))
    np.testing.assert_allclose(buffer.priorities[0, :4], [2.0, 1.0, 3.0, 0.5], rtol=1e-5)
    assert buffer.max_priority == 3.0 + buffer.eps


def test_discounted_returns_stop_at_episode_ends() -> None:
    buffer = ReplayBuffer(8, 1, obs_dim=1, num_actions=2)
    rewards, ends = [1.0, 2.0, 4.0, 8.0], [False, True, False, False]
    for r, end in zip(rewards, ends, strict=True):
        buffer.add(
            np.zeros((1, 1)),
            np.zeros(1, np.int64),
            np.array([r]),
            np.zeros(1),
            np.full((1, 2), 0.5),
            np.array([end]),
            np.zeros(1, bool),
        )
    # γ = 0.5: 1 + 0.5·2 | 2 | 4 + 0.5·8 | 8
    np.testing.assert_allclose(buffer.discounted_returns(0.5), [2.0, 2.0, 8.0, 8.0])
