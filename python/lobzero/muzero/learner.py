"""The MuZero loss and the optimiser around it.

Loss over K + 1 steps, as in the paper's pseudocode: the initial inference and K unrolled
dynamics steps each predict a policy, a value and (unrolled steps) a reward; per step
``l_k = value_loss_weight·CE(value) + CE(reward) + CE(policy)`` (masked where a target is
unknown, see :mod:`lobzero.muzero.targets`); the gradient of each unrolled step's loss is
scaled by 1/K and the gradient flowing into the dynamics from the next step by 0.5
(:func:`scale_gradient`: the forward value is unchanged). The batch loss is the mean over
samples weighted by the prioritized-replay importance weights.

Stochastic MuZero (:class:`~lobzero.models.stochastic_net.StochasticMuZeroNet`) unrolls each
step through its afterstate: ``as_k = φ(s_k, a_k)``, ``(σ_k, Q_k) = ψ(as_k)``, the code
``c_k = e(o_{t+k+1})`` of the observed next observation, ``s_{k+1} = g(as_k, c_k)``; it adds
to step k's loss (k < K) ``value_loss_weight·CE(Q_k, z_k) + CE(σ_k, c_k) +
commitment_weight·‖c_k − e(·)‖²`` (the chance terms masked where the next observation is
unknown), so the root's afterstate terms have the root's gradient scale 1, the others 1/K;
with ``chance_diversity_weight`` > 0 the batch loss adds that weight times the codebook-usage
term of :func:`codebook_usage` (the encoder's codes spread over the codebook).

With ``consistency_weight`` > 0 each unrolled step adds EfficientZero's temporal consistency
term (:meth:`~lobzero.models.muzero_net.MuZeroNet.consistency_loss`) against the real next
observation. With ``value_prefix`` the reward head reads an LSTM over the unrolled states
and learns the sum of the rewards since the unroll began (EfficientZero's value prefix).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.nn import functional

from lobzero.exceptions import ConfigError
from lobzero.models.muzero_net import MuZeroNet, ValueCodec
from lobzero.models.stochastic_net import StochasticMuZeroNet
from lobzero.muzero.config import MuZeroConfig
from lobzero.muzero.replay_buffer import Batch


def scale_gradient(x: torch.Tensor, scale: float | torch.Tensor) -> torch.Tensor:
    """``x`` in the forward pass; its gradient multiplied by ``scale`` (a number, or a tensor
    that broadcasts against ``x``: one scale per column) in the backward pass."""
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
    """[B] |predicted initial value − value target| on the heads' scale (``priority_scale``
    "transformed") or in quote currency ("value"); NaN where the sample has no value target
    (the newest steps of a lane), whose priority must be left as it is."""
    target_stats: dict[str, float]
    """What the value targets of the batch look like against the support (see
    :func:`value_target_stats`)."""
    afterstate_value: float = 0.0
    """Stochastic MuZero: the afterstate Q loss."""
    chance: float = 0.0
    """Stochastic MuZero: the chance prior's cross-entropy against the encoder's codes."""
    consistency: float = 0.0
    """EfficientZero's temporal consistency loss (negative cosine similarity, summed over K)."""
    chance_codes_used: float = 0.0
    """Stochastic MuZero: how many chance codes the encoder uses on the batch's observed
    outcomes (the exponential of their entropy; 1 when the codebook has collapsed)."""


def muzero_loss(
    net: MuZeroNet, batch: Batch, config: MuZeroConfig, device: torch.device | str = "cpu"
) -> LossParts:
    """The loss of a batch (see the module docstring).

    Only the dynamics run step by step: the prediction f of the K + 1 latents, the consistency
    projections of the K real next observations and every loss term run as one batch each
    (``[B·(K+1), ·]``) instead of once per step (fewer, larger torch calls; timed by
    ``benchmarks/muzero_learner_speed.py``); the networks hold no batch statistics (layer
    norms), so the result is the per-step one."""

    def t(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(a, device=device)

    obs, actions = t(batch.obs), t(batch.actions)
    z, u, pi = t(batch.value_target), t(batch.reward_target), t(batch.policy_target)
    vmask, rmask, pmask = t(batch.value_mask), t(batch.reward_mask), t(batch.policy_mask)
    codec = net.codec
    stochastic = isinstance(net, StochasticMuZeroNet)
    if (stochastic or config.consistency_weight > 0.0) and batch.next_obs is None:
        raise ConfigError(
            "Stochastic MuZero's and the consistency loss need the batch's next observations"
        )
    batch_size, k_total = actions.shape
    latent = net.representation(obs)
    # the latents f reads (the dynamics' outputs before their gradient is halved)
    predicted_latents = [latent]
    # Stochastic MuZero's chance_step runs f itself: its outputs, step by step
    values: list[torch.Tensor] = []
    logits_list: list[torch.Tensor] = []
    rewards: list[torch.Tensor] = []
    # per step k < K, [B]: the afterstate and chance terms of (s_k, a_k) (Stochastic MuZero)
    extras: list[torch.Tensor] = []
    prefix_state: tuple[torch.Tensor, torch.Tensor] | None = None
    if config.value_prefix:
        # the reward head predicts the sum of the rewards since the unroll began, known while
        # every reward before it is (column 0 is unused)
        u = torch.cat([torch.zeros_like(u[:, :1]), torch.cumsum(u[:, 1:], dim=1)], dim=1)
        rmask = torch.cat([rmask[:, :1], torch.cumprod(rmask[:, 1:], dim=1)], dim=1)
    sums = dict.fromkeys(("afterstate_value", "chance", "consistency"), 0.0)
    # Stochastic MuZero: the encoder's softmax and hard codes [B, C] of each step, for the
    # codebook-usage term and its report
    code_probs: list[torch.Tensor] = []
    code_hard: list[torch.Tensor] = []
    code_known: list[torch.Tensor] = []
    if stochastic:
        assert isinstance(net, StochasticMuZeroNet)
        logits0, value0 = net.prediction(latent)
        values.append(value0)
        logits_list.append(logits0)
    for k in range(k_total):
        if stochastic:
            assert isinstance(net, StochasticMuZeroNet)
            assert batch.next_obs is not None and batch.next_obs_mask is not None
            after, q_out, chance_logits = net.afterstate(latent, actions[:, k])
            code, probs = net.encode_chance(t(batch.next_obs[:, k]))
            known = t(batch.next_obs_mask[:, k])
            # the Q of the afterstate has the value target of the state the action left
            q_loss = codec.loss(q_out, z[:, k]) * vmask[:, k]
            # σ learns the encoder's code; the encoder commits to its one-hot code (VQ-VAE)
            sigma_loss = -(code.detach() * functional.log_softmax(chance_logits, -1)).sum(-1)
            commitment = ((code.detach() - probs) ** 2).sum(-1)
            extras.append(
                config.value_loss_weight * q_loss
                + (sigma_loss + config.commitment_weight * commitment) * known
            )
            sums["afterstate_value"] += float(q_loss.detach().mean())
            sums["chance"] += float((sigma_loss * known).detach().mean())
            code_probs.append(probs)
            code_hard.append(code.detach())
            code_known.append(known)
            # where the next observation is unknown the model's most likely code stands in
            fallback = functional.one_hot(chance_logits.argmax(-1), net.chance_outcomes)
            code = torch.where(known[:, None] > 0, code, fallback.to(code.dtype))
            latent, step_reward, value, logits = net.chance_step(after, code)
            values.append(value)
            logits_list.append(logits)
        elif config.value_prefix:
            latent, step_reward, prefix_state = net.dynamics_prefix(
                latent, actions[:, k], prefix_state
            )
        else:
            latent, step_reward = net.dynamics(latent, actions[:, k])
        rewards.append(step_reward)
        predicted_latents.append(latent)
        latent = scale_gradient(latent, 0.5)
    if stochastic:
        value_out, logits = torch.stack(values, 1), torch.stack(logits_list, 1)
    else:
        flat_logits, flat_value = net.prediction(torch.cat(predicted_latents, 0))
        # rows are step-major: [(K+1)·B, ·] → [B, K+1, ·]
        logits = flat_logits.reshape(k_total + 1, batch_size, -1).transpose(0, 1)
        value_out = flat_value.reshape(k_total + 1, batch_size, -1).transpose(0, 1)
    v_loss = codec.loss(value_out, z) * vmask
    p_loss = -(pi * functional.log_softmax(logits, dim=-1)).sum(-1) * pmask
    step_loss = config.value_loss_weight * v_loss + p_loss  # [B, K+1]
    unrolled = codec.loss(torch.stack(rewards, 1), u[:, 1:]) * rmask[:, 1:]  # [B, K]
    reward_sum = float(unrolled.detach().mean(0).sum())
    if config.consistency_weight > 0.0:
        assert batch.next_obs is not None and batch.next_obs_mask is not None
        similarity = net.consistency_loss(
            torch.cat(predicted_latents[1:], 0),
            t(batch.next_obs).transpose(0, 1).reshape(k_total * batch_size, -1),
        )
        consistency = similarity.reshape(k_total, batch_size).T * t(batch.next_obs_mask)
        unrolled = unrolled + config.consistency_weight * consistency
        sums["consistency"] = float(consistency.detach().mean(0).sum())
    step_loss = torch.cat([step_loss[:, :1], step_loss[:, 1:] + unrolled], dim=1)
    if extras:
        # the afterstate of (s_k, a_k) belongs to step k, whose value target its Q shares: at
        # the root its terms get the root's full gradient, not an unrolled step's 1/K (which
        # left Q, the value the search reads at every root child, learning K times slower
        # than V: on CartPole it stayed one constant for both actions)
        step_loss = step_loss + functional.pad(torch.stack(extras, 1), (0, 1))
    grad_scales = torch.full((k_total + 1,), 1.0 / k_total, device=device, dtype=step_loss.dtype)
    grad_scales[0] = 1.0
    per_sample = scale_gradient(step_loss, grad_scales).sum(1)
    total = (per_sample * t(batch.weights)).mean()
    codes_used = 0.0
    if code_probs:
        diversity, codes_used = codebook_usage(
            torch.cat(code_probs), torch.cat(code_hard), torch.cat(code_known)
        )
        if config.chance_diversity_weight > 0.0:
            total = total + config.chance_diversity_weight * diversity
    with torch.no_grad():
        first_value = codec.to_scalar(value_out[:, 0])
        if config.priority_scale == "transformed":
            error = torch.abs(codec.encode(first_value) - codec.encode(z[:, 0]))
        else:
            error = torch.abs(first_value - z[:, 0])
        known_value = vmask[:, 0] > 0
        priorities = torch.where(known_value, error, torch.nan).double().cpu().numpy()
        stats = value_target_stats(codec, z[vmask > 0])
    return LossParts(
        total,
        float(v_loss.detach().mean(0).sum()),
        reward_sum,
        float(p_loss.detach().mean(0).sum()),
        priorities,
        stats,
        sums["afterstate_value"],
        sums["chance"],
        sums["consistency"],
        codes_used,
    )


def codebook_usage(
    probs: torch.Tensor, hard: torch.Tensor, known: torch.Tensor
) -> tuple[torch.Tensor, float]:
    """Of the chance encoder's softmax ``probs [N, C]`` and one-hot codes ``hard [N, C]`` over
    rows with ``known [N]`` > 0: the usage term ``1 − H(p̄) / ln C`` (p̄ the mean softmax; 0
    when every code is equally used on average, 1 when one code takes all; differentiable),
    and the number of codes in use, ``exp(H)`` of the hard codes' frequencies (1: collapsed)."""
    weight = known[:, None]
    rows = weight.sum().clamp_min(1.0)
    mean_probs = (probs * weight).sum(0) / rows
    entropy = -(mean_probs * torch.log(mean_probs.clamp_min(1e-12))).sum()
    usage_term = 1.0 - entropy / math.log(probs.shape[1])
    freq = (hard * weight).sum(0) / rows
    hard_entropy = -(freq * torch.log(freq.clamp_min(1e-12))).sum()
    return usage_term, float(torch.exp(hard_entropy))


def value_target_stats(codec: ValueCodec, targets: torch.Tensor) -> dict[str, float]:
    """Of known value targets ``[N]`` (quote currency): ``value_target_clipped`` (share beyond
    the support's ends), ``value_target_p01`` / ``value_target_p99`` (percentiles, quote
    currency), ``support_used`` (the larger |percentile| as a share of the support's half
    range) and ``value_scale``."""
    out = {"value_scale": float(codec.scale)}
    if targets.numel() == 0:
        return out
    z = targets.double()
    p01, p99 = (float(q) for q in torch.quantile(z, torch.tensor([0.01, 0.99], dtype=z.dtype)))
    out.update(
        value_target_clipped=float(codec.clipped(z).double().mean()),
        value_target_p01=p01,
        value_target_p99=p99,
    )
    if codec.support_size > 0:
        reach = codec.encode(torch.tensor([p01, p99], dtype=z.dtype)).abs().max()
        out["support_used"] = float(reach) / codec.support_size
    return out


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


def parameter_groups(net: MuZeroNet, config: MuZeroConfig) -> list[dict[str, Any]]:
    """The optimiser's parameter groups: the network's, then (fine-tuned) the pretrained
    encoder's with ``lr_scale = config.encoder_lr_scale`` (its rate is the schedule's times
    it); a frozen encoder's weights are in no group."""
    encoder = getattr(net, "encoder", None)
    if encoder is None:
        return [{"params": list(net.parameters())}]
    own = {id(p) for p in encoder.parameters()}
    groups: list[dict[str, Any]] = [{"params": [p for p in net.parameters() if id(p) not in own]}]
    if config.encoder_mode == "fine-tune":
        groups.append({"params": list(encoder.parameters()), "lr_scale": config.encoder_lr_scale})
    return groups


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
        params = parameter_groups(net, config)
        if config.optimizer == "sgd":
            self.optimizer: torch.optim.Optimizer = torch.optim.SGD(
                params,
                lr=config.learning_rate,
                momentum=config.momentum,
                weight_decay=config.weight_decay,
                foreach=True,
            )
        else:
            # the fused kernel updates every tensor in one call: 2-3x faster than the default
            # per-tensor loop on a CPU, where small MuZero nets spend much of an update here
            self.optimizer = torch.optim.AdamW(
                params, lr=config.learning_rate, weight_decay=config.weight_decay, fused=True
            )
        self.target_net = copy.deepcopy(net).eval()
        self.updates = 0
        self.obs_clipped: torch.Tensor | None = None
        """``[obs_dim]``: the share of sampled observations whose feature the observation
        normaliser clips, a moving average over the recent updates."""

    def update(self, batch: Batch) -> tuple[dict[str, float], np.ndarray]:
        """One gradient step on ``batch``; returns the logged losses and the new priorities."""
        self.net.train()
        factor = lr_factor(self.config, self.updates, self.total_updates)
        for group in self.optimizer.param_groups:
            group["lr"] = self.config.learning_rate * factor * group.get("lr_scale", 1.0)
        parts = muzero_loss(self.net, batch, self.config, self.device)
        self.optimizer.zero_grad(set_to_none=True)
        parts.total.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(
            self.net.parameters(), self.config.max_grad_norm, foreach=True
        )
        self.optimizer.step()
        self.updates += 1
        clipped_now = self.net.normalizer.clipped_fraction(
            torch.as_tensor(batch.obs, dtype=torch.float32, device=self.device)
        )
        # averaged over ~100 updates: one batch of a fat-tailed feature clips a row or two
        obs_clipped = (
            clipped_now
            if self.obs_clipped is None
            else 0.99 * self.obs_clipped + 0.01 * clipped_now
        )
        self.obs_clipped = obs_clipped
        if self.updates % self.config.target_update_interval == 0:
            self.refresh_target()
        stats = {
            "loss": float(parts.total.detach()),
            "value_loss": parts.value,
            "reward_loss": parts.reward,
            "policy_loss": parts.policy,
            **(
                {
                    "afterstate_value_loss": parts.afterstate_value,
                    "chance_loss": parts.chance,
                    "chance_codes_used": parts.chance_codes_used,
                }
                if isinstance(self.net, StochasticMuZeroNet)
                else {}
            ),
            **(
                {"consistency_loss": parts.consistency}
                if self.config.consistency_weight > 0.0
                else {}
            ),
            "grad_norm": float(grad_norm),
            "lr": self.config.learning_rate * factor,
            # the feature the observation normaliser clips most often, and how often
            "obs_clipped": float(obs_clipped.max()),
            "obs_clipped_feature": float(obs_clipped.argmax()),
            **parts.target_stats,
        }
        return stats, parts.priorities

    def refresh_target(self) -> None:
        """Copies the online network's weights into the target network."""
        self.target_net.load_state_dict(self.net.state_dict())

    @torch.inference_mode()
    def target_values(self, obs: np.ndarray) -> np.ndarray:
        """The target network's values ``[M]`` of observations ``[M, obs_dim]``."""
        _, value, _ = self.target_net.initial_inference(
            torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        )
        return self.target_net.codec.to_scalar(value).double().cpu().numpy()

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint needs to resume the learner: optimizer, target network, updates."""
        return {
            "optimizer": self.optimizer.state_dict(),
            "target_net": self.target_net.state_dict(),
            "updates": self.updates,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores what :meth:`state_dict` returned."""
        self.optimizer.load_state_dict(state["optimizer"])
        self.target_net.load_state_dict(state["target_net"])
        self.updates = int(state["updates"])
