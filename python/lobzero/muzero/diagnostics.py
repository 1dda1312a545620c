"""What a trained MuZero model knows: along a played episode, the rewards and values the model
predicts when it unrolls K steps with the actions really taken, against what happened.

For each decision ``t`` of the episode and unroll step ``k`` (1..K), the model starts from the
representation of the observation at ``t`` and applies the dynamics to the actions
``a_t .. a_{t+k-1}``; it predicts the reward of step ``t+k-1`` and the value at ``t+k``
(``k = 0``: the value at ``t`` itself). The realised counterparts are the reward received and
the discounted return from that decision to the end of the episode (the MuZero value's target
without a bootstrap). A Stochastic MuZero model unrolls with its most likely chance code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from lobzero.muzero.agent import MuZeroAgent


@dataclass(frozen=True)
class ModelCheck:
    """Predictions of one episode of ``T`` decisions, unrolled ``K`` steps (NaN past the end)."""

    predicted_reward: npt.NDArray[np.float64]
    """[T, K] the model's reward of step t+k-1, unrolled from t (quote currency)."""
    realised_reward: npt.NDArray[np.float64]
    """[T, K] the reward of step t+k-1."""
    predicted_value: npt.NDArray[np.float64]
    """[T, K+1] the model's value at t+k, unrolled from t."""
    realised_return: npt.NDArray[np.float64]
    """[T, K+1] the discounted return from t+k to the end of the episode."""
    discount: float

    def correlations(self) -> dict[str, list[float]]:
        """Pearson correlation of predicted and realised, per unroll step: ``reward`` [K] and
        ``value`` [K+1] (NaN where a side is constant or there is no data)."""

        def corr(a: np.ndarray, b: np.ndarray) -> float:
            ok = np.isfinite(a) & np.isfinite(b)
            if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
                return float("nan")
            return float(np.corrcoef(a[ok], b[ok])[0, 1])

        k = self.predicted_reward.shape[1]
        return {
            "reward": [
                corr(self.predicted_reward[:, j], self.realised_reward[:, j]) for j in range(k)
            ],
            "value": [
                corr(self.predicted_value[:, j], self.realised_return[:, j]) for j in range(k + 1)
            ],
        }

    def to_dict(self) -> dict[str, Any]:
        return {"discount": self.discount, "correlations": self.correlations()}


@torch.inference_mode()
def check_model(
    agent: MuZeroAgent,
    observations: np.ndarray,
    actions: np.ndarray,
    rewards: np.ndarray,
    unroll_steps: int | None = None,
) -> ModelCheck:
    """The :class:`ModelCheck` of an episode (``observations [T, obs_dim]``, ``actions [T]``,
    ``rewards [T]``: the ``trace`` of :func:`lobzero.evaluation.robustness.run_episodes` with
    ``record=True``), unrolled ``unroll_steps`` (default: the agent's K)."""
    net, config = agent.net, agent.config
    k_steps = unroll_steps or config.unroll_steps
    gamma = config.discount
    n = len(actions)
    device = next(net.parameters()).device
    latent, value, _ = net.initial_inference(torch.as_tensor(observations, device=device))
    predicted_value = np.full((n, k_steps + 1), np.nan)
    predicted_reward = np.full((n, k_steps), np.nan)
    predicted_value[:, 0] = net.codec.to_scalar(value).double().cpu().numpy()
    for k in range(1, k_steps + 1):
        rows = n - k + 1  # unrolls from t = 0..n-k still inside the episode at step k
        if rows <= 0:
            break
        latent = latent[:rows]
        step_actions = torch.as_tensor(actions[k - 1 : k - 1 + rows], device=device)
        latent, reward, value, _ = net.recurrent_inference(latent, step_actions)
        predicted_reward[:rows, k - 1] = net.codec.to_scalar(reward).double().cpu().numpy()
        predicted_value[:rows, k] = net.codec.to_scalar(value).double().cpu().numpy()
    returns = np.zeros(n + 1)
    for t in range(n - 1, -1, -1):
        returns[t] = rewards[t] + gamma * returns[t + 1]
    realised_reward = np.full((n, k_steps), np.nan)
    realised_return = np.full((n, k_steps + 1), np.nan)
    for k in range(k_steps + 1):
        idx = np.arange(n) + k  # the decision t + k, n being the end of the episode
        inside = idx <= n
        realised_return[inside, k] = returns[idx[inside]]
        if k >= 1:
            realised_reward[inside, k - 1] = rewards[idx[inside] - 1]
    return ModelCheck(predicted_reward, realised_reward, predicted_value, realised_return, gamma)


def plot_model_check(check: ModelCheck, title: str, path: Any) -> None:
    """A PNG: the one-step reward and the value (k = 0) against what happened over the
    episode, and the correlations by unroll step."""
    from lobzero.evaluation.report import pyplot

    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    t = np.arange(len(check.predicted_reward))
    axes[0].plot(t, check.realised_reward[:, 0], lw=0.8, label="realised")
    axes[0].plot(t, check.predicted_reward[:, 0], lw=1.0, label="predicted (k = 1)")
    axes[0].set_title("reward of each step")
    axes[1].plot(t, check.realised_return[:, 0], lw=0.8, label="realised return")
    axes[1].plot(t, check.predicted_value[:, 0], lw=1.0, label="predicted value (k = 0)")
    axes[1].set_title(f"value (discount {check.discount:g})")
    corr = check.correlations()
    axes[2].plot(range(1, len(corr["reward"]) + 1), corr["reward"], "o-", label="reward")
    axes[2].plot(range(len(corr["value"])), corr["value"], "s-", label="value")
    axes[2].axhline(0.0, color="grey", lw=0.5)
    axes[2].set_title("correlation with what happened")
    axes[2].set_xlabel("unroll step k")
    for ax in axes[:2]:
        ax.set_xlabel("decision")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
