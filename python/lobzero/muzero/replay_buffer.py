"""Prioritized replay of self-play steps, in lanes (one per actor) of a fixed-size ring.

Actors step in lockstep, so every lane holds the same positions ``first..last`` (see
:mod:`lobzero.muzero.targets` for the layout and the target rules). Sampling is proportional
to ``priority^alpha`` with importance weights ``(N·P(i))^-beta / max`` (Schaul et al. 2016);
new steps get the largest priority seen so far, and the learner sets a sampled step's priority
to ``|predicted value − value target| + eps`` after each update, unless the step has no value
target yet (the newest steps of a lane), whose priority stays where it was. The whole buffer
is a dict of numpy arrays (:meth:`state_dict`), saved with the checkpoint so a resumed run
keeps it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from lobzero.exceptions import ConfigError
from lobzero.muzero.targets import NO_BOOTSTRAP, TargetPlan, plan_targets

ValueFn = Callable[[np.ndarray], np.ndarray]
"""observations [M, obs_dim] float32 -> values [M] (float)"""
SearchFn = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
"""observations [M, obs_dim] float32 -> (search policy [M, A], root values [M])"""


@dataclass
class Batch:
    """A training batch (``B`` samples, ``K`` unroll steps), numpy arrays."""

    obs: npt.NDArray[np.float32]
    """[B, obs_dim] observation at the sampled position."""
    actions: npt.NDArray[np.int64]
    """[B, K] actions to unroll."""
    value_target: npt.NDArray[np.float32]
    """[B, K+1] n-step value targets."""
    reward_target: npt.NDArray[np.float32]
    """[B, K+1] rewards (column 0 unused)."""
    policy_target: npt.NDArray[np.float32]
    """[B, K+1, A] search policies (zeros where masked)."""
    value_mask: npt.NDArray[np.float32]
    reward_mask: npt.NDArray[np.float32]
    policy_mask: npt.NDArray[np.float32]
    weights: npt.NDArray[np.float32]
    """[B] importance weights (1 without prioritized sampling)."""
    lanes: npt.NDArray[np.int64]
    positions: npt.NDArray[np.int64]
    """[B] where the samples came from (for :meth:`ReplayBuffer.update_priorities`)."""
    next_obs: npt.NDArray[np.float32] | None = None
    """[B, K, obs_dim] the observation after each unrolled action (Stochastic MuZero's chance
    encoder reads it); only when sampled with ``next_obs=True``."""
    next_obs_mask: npt.NDArray[np.float32] | None = None
    """[B, K] 1 where that observation is known (the action was taken inside the episode)."""


class ReplayBuffer:
    """``num_lanes`` rings of ``capacity // num_lanes`` steps (see the module docstring)."""

    def __init__(
        self,
        capacity: int,
        num_lanes: int,
        obs_dim: int,
        num_actions: int,
        *,
        alpha: float = 0.6,
        eps: float = 1e-6,
        prioritized: bool = True,
    ) -> None:
        if num_lanes <= 0 or capacity < num_lanes:
            raise ConfigError(
                f"replay capacity {capacity} must hold at least one step per lane "
                f"({num_lanes} lanes)"
            )
        ring = capacity // num_lanes
        self.ring, self.num_lanes = ring, num_lanes
        self.obs_dim, self.num_actions = obs_dim, num_actions
        self.alpha, self.eps, self.prioritized = alpha, eps, prioritized
        shape = (num_lanes, ring)
        self.obs = np.zeros((*shape, obs_dim), np.float32)
        self.final_obs = np.zeros((*shape, obs_dim), np.float32)
        self.actions = np.zeros(shape, np.int64)
        self.rewards = np.zeros(shape, np.float32)
        self.root_values = np.zeros(shape, np.float32)
        self.final_values = np.zeros(shape, np.float32)
        self.policies = np.zeros((*shape, num_actions), np.float32)
        self.terminated = np.zeros(shape, np.bool_)
        self.truncated = np.zeros(shape, np.bool_)
        self.priorities = np.zeros(shape, np.float64)
        self.written = 0
        self.max_priority = 1.0

    def __len__(self) -> int:
        return min(self.written, self.ring) * self.num_lanes

    @property
    def first(self) -> int:
        """Oldest stored position."""
        return max(0, self.written - self.ring)

    @property
    def last(self) -> int:
        """Newest stored position (-1 when empty)."""
        return self.written - 1

    def add(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        root_values: np.ndarray,
        policies: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
        final_obs: np.ndarray | None = None,
        final_values: np.ndarray | None = None,
    ) -> None:
        """Appends one step of every lane: ``obs [E, obs_dim]``, ``actions``, ``rewards``,
        ``root_values``, ``terminated``, ``truncated`` ``[E]``, ``policies [E, A]``; for
        lanes whose episode ended the final observation ``[E, obs_dim]``, and for truncated
        ones its value ``[E]``."""
        slot = self.written % self.ring
        self.obs[:, slot] = obs
        self.actions[:, slot] = actions
        self.rewards[:, slot] = rewards
        self.root_values[:, slot] = root_values
        self.policies[:, slot] = policies
        self.terminated[:, slot] = terminated
        self.truncated[:, slot] = np.asarray(truncated) & ~np.asarray(terminated)
        self.final_obs[:, slot] = 0.0 if final_obs is None else final_obs
        self.final_values[:, slot] = 0.0 if final_values is None else final_values
        self.priorities[:, slot] = self.max_priority
        self.written += 1

    def sample(
        self,
        batch_size: int,
        *,
        unroll_steps: int,
        td_steps: int,
        discount: float,
        beta: float,
        rng: np.random.Generator,
        value_fn: ValueFn | None = None,
        reanalyse_fraction: float = 0.0,
        search_fn: SearchFn | None = None,
        next_obs: bool = False,
        td_age_steps: float = 0.0,
    ) -> Batch:
        """A batch of targets. Bootstrap values are the stored root values, or ``value_fn``'s
        (a target network) when given. A ``reanalyse_fraction`` of the samples gets policy
        targets and bootstrap values from ``search_fn`` (a fresh search with the latest
        network) instead of the stored ones. ``next_obs`` adds the observations that followed
        each unrolled action (:attr:`Batch.next_obs`)."""
        if len(self) == 0:
            raise ConfigError("the replay buffer is empty: play before sampling")
        first, last = self.first, self.last
        count = last - first + 1
        slots = (np.arange(first, last + 1) % self.ring).astype(np.int64)
        if self.prioritized:
            p = self.priorities[:, slots].reshape(-1) ** self.alpha
            p /= p.sum()
            flat = rng.choice(p.size, size=batch_size, p=p)
            weights = (p.size * p[flat]) ** (-beta)
            weights /= weights.max()
        else:
            flat = rng.integers(0, self.num_lanes * count, size=batch_size)
            weights = np.ones(batch_size)
        lanes = (flat // count).astype(np.int64)
        positions = (first + flat % count).astype(np.int64)
        horizon: int | np.ndarray = td_steps
        if td_age_steps > 0.0:
            age = (last - positions) * self.num_lanes
            horizon = np.clip(td_steps - np.floor(age / td_age_steps), 1, td_steps).astype(np.int64)
        plan = plan_targets(
            lanes,
            positions,
            rewards=self.rewards,
            actions=self.actions,
            terminated=self.terminated,
            truncated=self.truncated,
            last=last,
            unroll_steps=unroll_steps,
            td_steps=horizon,
            discount=discount,
            num_actions=self.num_actions,
            rng=rng,
        )
        reanalysed = np.zeros(batch_size, bool)
        if search_fn is not None and reanalyse_fraction > 0.0:
            reanalysed[: round(reanalyse_fraction * batch_size)] = True
        policy = self._policy_targets(lanes, plan, reanalysed, search_fn)
        boot = self._bootstrap_values(lanes, plan, reanalysed, value_fn, search_fn)
        value_target = plan.reward_sum + plan.boot_discount * boot
        following = self._next_observations(lanes, plan) if next_obs else (None, None)
        return Batch(
            obs=self.obs[lanes, positions % self.ring],
            actions=plan.actions,
            value_target=value_target.astype(np.float32),
            reward_target=plan.reward_target,
            policy_target=policy,
            value_mask=plan.value_mask,
            reward_mask=plan.reward_mask,
            policy_mask=plan.policy_mask,
            weights=weights.astype(np.float32),
            lanes=lanes,
            positions=positions,
            next_obs=following[0],
            next_obs_mask=following[1],
        )

    def _next_observations(
        self, lanes: np.ndarray, plan: TargetPlan
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """([B, K, obs_dim], [B, K]): after the action at unroll step k, the stored observation
        of step k + 1 when the episode went on, the episode's final observation when it ended
        there, and nothing (mask 0) when the action was not taken inside the episode."""
        taken = plan.policy_pos[:, :-1] != NO_BOOTSTRAP  # [B, K]
        went_on = plan.policy_pos[:, 1:] != NO_BOOTSTRAP
        lane_grid = np.broadcast_to(lanes[:, None], taken.shape)
        here = np.where(taken, plan.policy_pos[:, :-1], 0) % self.ring
        after = np.where(went_on, plan.policy_pos[:, 1:], 0) % self.ring
        ended = (
            taken & ~went_on & (self.terminated[lane_grid, here] | self.truncated[lane_grid, here])
        )
        obs = np.where(
            went_on[..., None],
            self.obs[lane_grid, after],
            np.where(ended[..., None], self.final_obs[lane_grid, here], 0.0),
        )
        return obs.astype(np.float32), (went_on | ended).astype(np.float32)

    def _policy_targets(
        self,
        lanes: np.ndarray,
        plan: TargetPlan,
        reanalysed: np.ndarray,
        search_fn: SearchFn | None,
    ) -> npt.NDArray[np.float32]:
        known = plan.policy_pos != NO_BOOTSTRAP
        lane_grid = np.broadcast_to(lanes[:, None], known.shape)
        slots = np.where(known, plan.policy_pos, 0) % self.ring
        policy = np.where(known[..., None], self.policies[lane_grid, slots], 0.0)
        fresh = known & reanalysed[:, None]
        if search_fn is not None and fresh.any():
            new_policy, _ = search_fn(self.obs[lane_grid[fresh], slots[fresh]])
            policy[fresh] = new_policy
        return policy.astype(np.float32)

    def _bootstrap_values(
        self,
        lanes: np.ndarray,
        plan: TargetPlan,
        reanalysed: np.ndarray,
        value_fn: ValueFn | None,
        search_fn: SearchFn | None,
    ) -> npt.NDArray[np.float64]:
        need = plan.boot_pos != NO_BOOTSTRAP
        lane_grid = np.broadcast_to(lanes[:, None], need.shape)
        slots = np.where(need, plan.boot_pos, 0) % self.ring
        values = np.where(
            plan.boot_final,
            self.final_values[lane_grid, slots],
            self.root_values[lane_grid, slots],
        ).astype(np.float64)
        obs = np.where(
            plan.boot_final[..., None],
            self.final_obs[lane_grid, slots],
            self.obs[lane_grid, slots],
        )
        if value_fn is not None and need.any():
            values[need] = value_fn(obs[need])
        fresh = need & reanalysed[:, None]
        if search_fn is not None and fresh.any():
            _, root_values = search_fn(obs[fresh])
            values[fresh] = root_values
        return np.where(need, values, 0.0)

    def update_priorities(
        self, lanes: np.ndarray, positions: np.ndarray, priorities: np.ndarray
    ) -> None:
        """Sets the priority of sampled steps (``[B]`` each) still in the buffer. A NaN
        priority (a step without a value target yet: the newest of its lane) leaves the step's
        priority as it is, so that it is drawn again once its target is known."""
        alive = (positions >= self.first) & np.isfinite(np.asarray(priorities, np.float64))
        p = np.asarray(priorities, np.float64)[alive] + self.eps
        self.priorities[lanes[alive], positions[alive] % self.ring] = p
        if p.size:
            self.max_priority = max(self.max_priority, float(p.max()))

    def discounted_returns(self, discount: float) -> npt.NDArray[np.float64]:
        """Monte Carlo returns ``Σ_i γ^i r_{t+i}`` of every stored step ``[E·n]`` (quote
        currency), each summed to its episode's end or the end of the stored data (no
        bootstrap): the spread of what the value head will have to predict."""
        first, last = self.first, self.last
        if last < first:
            return np.zeros(0)
        slots = np.arange(first, last + 1) % self.ring
        rewards = self.rewards[:, slots].astype(np.float64)
        ended = self.terminated[:, slots] | self.truncated[:, slots]
        returns = np.zeros_like(rewards)
        running = np.zeros(self.num_lanes)
        for j in range(rewards.shape[1] - 1, -1, -1):
            running = rewards[:, j] + discount * np.where(ended[:, j], 0.0, running)
            returns[:, j] = running
        return returns.reshape(-1)

    _ARRAYS = (
        "obs",
        "final_obs",
        "actions",
        "rewards",
        "root_values",
        "final_values",
        "policies",
        "terminated",
        "truncated",
        "priorities",
    )

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to restore the buffer (numpy arrays and numbers)."""
        state: dict[str, Any] = {name: getattr(self, name) for name in self._ARRAYS}
        state.update(written=self.written, max_priority=self.max_priority)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores what :meth:`state_dict` returned (arrays of the buffer's shapes)."""
        for name in self._ARRAYS:
            current = getattr(self, name)
            array = np.asarray(state[name])
            if array.shape != current.shape:
                raise ConfigError(
                    f"replay buffer {name} has shape {array.shape} in the checkpoint, "
                    f"{current.shape} in this configuration (num_envs, replay_capacity and "
                    "the environment must match to resume)"
                )
            current[...] = array
        self.written = int(state["written"])
        self.max_priority = float(state["max_priority"])
