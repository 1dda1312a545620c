"""The MuZero loss and the optimiser around it.

Loss over K + 1 steps, as in the paper's pseudocode: the initial inference and K unrolled
dynamics steps each predict a policy, a value and (unrolled steps) a reward; per step
``l_k = value_loss_weight·CE(value) + CE(reward) + CE(policy)`` (masked where a target is
unknown, see :mod:`lobzero.muzero.targets`); the gradient of each unrolled step's loss is
scaled by 1/K and the gradient flowing into the dynamics from the next step by 0.5
(:func:`scale_gradient`: the forward value is unchanged). The batch loss is the mean over
samples weighted by the prioritized-replay importance weights.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.nn import functional

from lobzero.models.muzero_net import MuZeroNet
from lobzero.muzero.config import MuZeroConfig
from lobzero.muzero.replay_buffer import Batch


def scale_gradient(x: torch.Tensor, scale: float) -> torch.Tensor:
    """``x`` in the forward pass; its gradient multiplied by ``scale`` in the backward pass."""
    return x * scale + x.detach() * (1.0 - scale)


@dataclass(frozen=True)
class LossParts:
    """The loss of one batch and what the learner logs and feeds back to the replay buffer."""

    total: torch.Tensor
    """scalar, weighted mean over the batch (what is minimised)."""
    value: float
    reward: float
    policy: float
    priorities: np.ndarray
    """[B] |predicted initial value − value target|."""


def muzero_loss(
    net: MuZeroNet, batch: Batch, config: MuZeroConfig, device: torch.device | str = "cpu"
) -> LossParts:
    """The loss of a batch (see the module docstring)."""

    def t(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(a, device=device)

    obs, actions = t(batch.obs), t(batch.actions)
    z, u, pi = t(batch.value_target), t(batch.reward_target), t(batch.policy_target)
    vmask, rmask, pmask = t(batch.value_mask), t(batch.reward_mask), t(batch.policy_mask)
    codec = net.codec
    latent, value, logits = net.initial_inference(obs)
    steps: list[tuple[float, torch.Tensor, torch.Tensor | None, torch.Tensor]] = [
        (1.0, value, None, logits)
    ]
    k_total = actions.shape[1]
    for k in range(k_total):
        latent, step_reward, value, logits = net.recurrent_inference(latent, actions[:, k])
        steps.append((1.0 / k_total, value, step_reward, logits))
        latent = scale_gradient(latent, 0.5)
    per_sample = torch.zeros(obs.shape[0], device=device)
    sums = {"value": 0.0, "reward": 0.0, "policy": 0.0}
    for k, (grad_scale, value, reward, logits) in enumerate(steps):
        v_loss = codec.loss(value, z[:, k]) * vmask[:, k]
        p_loss = -(pi[:, k] * functional.log_softmax(logits, dim=-1)).sum(-1) * pmask[:, k]
        step_loss = config.value_loss_weight * v_loss + p_loss
        sums["value"] += float(v_loss.detach().mean())
        sums["policy"] += float(p_loss.detach().mean())
        if reward is not None:
            r_loss = codec.loss(reward, u[:, k]) * rmask[:, k]
            step_loss = step_loss + r_loss
            sums["reward"] += float(r_loss.detach().mean())
        per_sample = per_sample + scale_gradient(step_loss, grad_scale)
    total = (per_sample * t(batch.weights)).mean()
    with torch.no_grad():
        first_value = codec.to_scalar(steps[0][1])
        priorities = (torch.abs(first_value - z[:, 0]) * vmask[:, 0]).cpu().numpy()
    return LossParts(total, sums["value"], sums["reward"], sums["policy"], priorities)


def lr_factor(config: MuZeroConfig, update: int, total_updates: int) -> float:
    """Multiplier of the learning rate at ``update`` (linear warm-up, then the schedule)."""
    if config.lr_warmup_updates > 0 and update < config.lr_warmup_updates:
        return (update + 1) / config.lr_warmup_updates
    progress = min(1.0, update / max(1, total_updates))
    if config.lr_schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    if config.lr_schedule == "step":
        return 0.1 ** sum(progress >= s for s in config.lr_decay_steps)
    return 1.0


class Learner:
    """Optimiser, learning-rate schedule, gradient clipping and the target network."""

    def __init__(
        self,
        net: MuZeroNet,
        config: MuZeroConfig,
        total_updates: int,
        device: torch.device | str = "cpu",
    ) -> None:
        self.net, self.config, self.device = net, config, torch.device(device)
        self.total_updates = max(1, total_updates)
        params = net.parameters()
        if config.optimizer == "sgd":
            self.optimizer: torch.optim.Optimizer = torch.optim.SGD(
                params,
                lr=config.learning_rate,
                momentum=config.momentum,
                weight_decay=config.weight_decay,
            )
        else:
            self.optimizer = torch.optim.AdamW(
                params, lr=config.learning_rate, weight_decay=config.weight_decay
            )
        self.target_net = copy.deepcopy(net).eval()
        self.updates = 0

    def update(self, batch: Batch) -> tuple[dict[str, float], np.ndarray]:
        """One gradient step on ``batch``; returns the logged losses and the new priorities."""
        self.net.train()
        factor = lr_factor(self.config, self.updates, self.total_updates)
        for group in self.optimizer.param_groups:
            group["lr"] = self.config.learning_rate * factor
        parts = muzero_loss(self.net, batch, self.config, self.device)
        self.optimizer.zero_grad(set_to_none=True)
        parts.total.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.config.max_grad_norm)
        self.optimizer.step()
        self.updates += 1
        if self.updates % self.config.target_update_interval == 0:
            self.refresh_target()
        stats = {
            "loss": float(parts.total.detach()),
            "value_loss": parts.value,
            "reward_loss": parts.reward,
            "policy_loss": parts.policy,
            "grad_norm": float(grad_norm),
            "lr": self.config.learning_rate * factor,
        }
        return stats, parts.priorities

    def refresh_target(self) -> None:
        self.target_net.load_state_dict(self.net.state_dict())

    @torch.inference_mode()
    def target_values(self, obs: np.ndarray) -> np.ndarray:
        """The target network's values ``[M]`` of observations ``[M, obs_dim]``."""
        _, value, _ = self.target_net.initial_inference(
            torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        )
        return self.target_net.codec.to_scalar(value).double().cpu().numpy()

    def state_dict(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer.state_dict(),
            "target_net": self.target_net.state_dict(),
            "updates": self.updates,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.target_net.load_state_dict(state["target_net"])
        self.updates = int(state["updates"])
