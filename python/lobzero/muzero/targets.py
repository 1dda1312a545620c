"""n-step value, reward and policy targets for K unroll steps (MuZero's ``make_target``).

Trajectories are stored in lanes (one per actor), each a ring of ``L`` steps addressed by
absolute position ``p`` (slot ``p % L``); every lane holds positions ``first..last``. Step ``p``
holds the observation seen, the action taken, the reward that followed, and whether the
episode ended after it: ``terminated`` (an absorbing state follows) or ``truncated`` (the
episode was cut; its final observation is kept for the bootstrap). The next position of a lane
starts a new episode after either.

For a sample at position ``t`` and unroll step ``k`` (``u = t + k``):

- value target ``z_u = Σ_{i<h} γ^i r_{u+i} + γ^h v`` with ``h ≤ n`` (``td_steps``): the sum stops
  after a terminal step (no bootstrap), after a truncated one (bootstrap from its final
  observation), or where the lane's data ends (bootstrap from the last stored observation, so
  ``h`` shrinks); ``v`` is a value the caller supplies (root values stored at play time, or a
  target network's; see :class:`TargetPlan`);
- past a terminal step the state is absorbing: value and reward targets 0, no policy target;
- past a truncation, or beyond the stored data, nothing is known: every target is masked;
- reward target at ``k >= 1``: the reward of step ``u - 1``.

Shapes: ``B`` samples, ``K + 1`` unroll positions (index 0 is the observed state).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

NO_BOOTSTRAP = -1


@dataclass
class TargetPlan:
    """Everything about the targets of a batch except the bootstrap values.

    ``value_target = reward_sum + boot_discount · v`` where ``v`` is the value of the
    observation at (``lane``, ``boot_pos``) (of the final observation of that truncated step
    when ``boot_final``), and 0 where ``boot_pos`` is ``NO_BOOTSTRAP``.
    """

    reward_sum: npt.NDArray[np.float64]
    """[B, K+1] discounted rewards inside the horizon."""
    boot_pos: npt.NDArray[np.int64]
    """[B, K+1] absolute position whose value closes the horizon, or NO_BOOTSTRAP."""
    boot_final: npt.NDArray[np.bool_]
    """[B, K+1] the bootstrap is the final observation of a truncated step."""
    boot_discount: npt.NDArray[np.float64]
    """[B, K+1] γ^h of the bootstrap (0 with no bootstrap)."""
    value_mask: npt.NDArray[np.float32]
    """[B, K+1] 1 where the value target is known."""
    reward_target: npt.NDArray[np.float32]
    """[B, K+1] reward of the transition into position k (column 0 is unused, 0)."""
    reward_mask: npt.NDArray[np.float32]
    """[B, K+1] 1 where the reward target is known (column 0 is 0)."""
    policy_pos: npt.NDArray[np.int64]
    """[B, K+1] position whose search policy is the target, or NO_BOOTSTRAP where masked."""
    actions: npt.NDArray[np.int64]
    """[B, K] actions to unroll (a uniformly random action past the episode's end)."""

    @property
    def policy_mask(self) -> npt.NDArray[np.float32]:
        """[B, K+1] 1 where there is a policy target."""
        return (self.policy_pos != NO_BOOTSTRAP).astype(np.float32)


def plan_targets(
    lanes: npt.NDArray[np.int64],
    positions: npt.NDArray[np.int64],
    *,
    rewards: npt.NDArray[np.floating],
    actions: npt.NDArray[np.int64],
    terminated: npt.NDArray[np.bool_],
    truncated: npt.NDArray[np.bool_],
    last: int,
    unroll_steps: int,
    td_steps: int | npt.NDArray[np.int64],
    discount: float,
    num_actions: int,
    rng: np.random.Generator,
) -> TargetPlan:
    """Targets of samples at (``lanes[b]``, ``positions[b]``) in lanes ``[E, L]`` (rewards,
    actions, terminated, truncated) whose newest position is ``last`` (the same in every lane:
    actors step in lockstep). ``positions`` must be stored ones (``<= last``, not overwritten).
    ``td_steps``: n, or one n per sample ``[B]`` (off-policy correction: a shorter horizon for
    older samples).
    """
    ring = rewards.shape[1]
    batch = len(positions)
    horizon = np.broadcast_to(np.asarray(td_steps, np.int64), (batch,))
    max_td = int(horizon.max()) if batch else 0
    k1 = unroll_steps + 1

    def at(array: np.ndarray, pos: np.ndarray) -> np.ndarray:
        rows = lanes if pos.ndim == 1 else lanes[:, None]
        return array[rows, np.minimum(pos, last) % ring]

    # state of each sample as the unroll walks forward: still in the episode, absorbed
    # (a terminal step came before), or unknown (a truncation came before, or no data)
    inside = np.ones(batch, bool)
    absorbed = np.zeros(batch, bool)
    inside_at = np.zeros((batch, k1), bool)
    reward_sum = np.zeros((batch, k1))
    boot_pos = np.full((batch, k1), NO_BOOTSTRAP, np.int64)
    boot_final = np.zeros((batch, k1), bool)
    boot_discount = np.zeros((batch, k1))
    value_mask = np.zeros((batch, k1), np.float32)
    reward_target = np.zeros((batch, k1), np.float32)
    reward_mask = np.zeros((batch, k1), np.float32)
    policy_pos = np.full((batch, k1), NO_BOOTSTRAP, np.int64)
    unroll_actions = rng.integers(0, num_actions, size=(batch, unroll_steps), dtype=np.int64)

    for k in range(k1):
        u = positions + k
        if k > 0:
            prev = u - 1
            was_inside = inside.copy()
            reward_target[:, k] = np.where(was_inside, at(rewards, prev), 0.0)
            reward_mask[:, k] = (was_inside | absorbed).astype(np.float32)
            ended_term = was_inside & at(terminated, prev)
            ended_trunc = was_inside & at(truncated, prev)
            absorbed |= ended_term
            inside &= ~(ended_term | ended_trunc)
            inside &= u <= last
        if k < unroll_steps:
            unroll_actions[:, k] = np.where(inside, at(actions, u), unroll_actions[:, k])
        policy_pos[:, k] = np.where(inside, u, NO_BOOTSTRAP)
        value_mask[:, k] = absorbed.astype(np.float32)  # absorbing: target 0, known
        inside_at[:, k] = inside

    # n-step sums of the unroll steps still inside the episode, every step [B, K+1] at once
    # (each column's walk is independent of the others': one numpy call per TD step, not
    # per TD step and unroll step)
    start = positions[:, None] + np.arange(k1)
    horizon_at = horizon[:, None]
    walking = inside_at.copy()
    disc = np.ones((batch, k1))
    total = np.zeros((batch, k1))
    for i in range(max_td + 1):
        p = start + i
        has_data = p <= last
        # the horizon closes here: n steps summed, or the data ends (bootstrap from p, which
        # exists as long as i > 0 or the state itself is stored)
        close = walking & ((i == horizon_at) | ~has_data)
        if close.any():
            q = np.where(has_data, p, p - 1)
            known = close & (has_data | (i > 1))
            boot_pos[known] = q[known]
            if i > 0:
                # no data at p: the last reward counted led to p, which is not stored; take
                # one reward back and bootstrap from p - 1
                back = close & ~has_data
                total[back] -= disc[back] / discount * at(rewards, p - 1)[back]
                disc[back] /= discount
            boot_discount[known] = disc[known]
            reward_sum[known] = total[known]
            value_mask[known] = 1.0
            walking &= ~close
        if i == max_td or not walking.any():
            break
        r = at(rewards, p)
        total = np.where(walking, total + disc * r, total)
        disc = np.where(walking, disc * discount, disc)
        term = walking & at(terminated, p)
        trunc = walking & at(truncated, p)
        reward_sum[term] = total[term]
        value_mask[term] = 1.0
        boot_pos[trunc] = p[trunc]
        boot_final[trunc] = True
        boot_discount[trunc] = disc[trunc]
        reward_sum[trunc] = total[trunc]
        value_mask[trunc] = 1.0
        walking &= ~(term | trunc)
    return TargetPlan(
        reward_sum=reward_sum,
        boot_pos=boot_pos,
        boot_final=boot_final,
        boot_discount=np.where(boot_pos == NO_BOOTSTRAP, 0.0, boot_discount),
        value_mask=value_mask,
        reward_target=reward_target,
        reward_mask=reward_mask,
        policy_pos=policy_pos,
        actions=unroll_actions,
    )
