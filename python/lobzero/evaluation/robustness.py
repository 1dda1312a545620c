"""Robustness: how much of an agent's edge survives adversarial injection.

For each intensity, the agent plays the same episodes (same starts, several seeds) in an
environment whose :class:`~lobzero.AdversaryConfig` has that intensity; each episode's equity
curve gives its :class:`~lobzero.evaluation.metrics.Metrics`, averaged per intensity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from lobzero.data.market import Market
from lobzero.envs import AdversaryConfig, EnvConfig, TradingEnv
from lobzero.evaluation.metrics import Metrics, compute_metrics


class Agent(Protocol):
    def act(self, obs_batch: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class EpisodeResult:
    metrics: Metrics
    equity: np.ndarray


def run_episode(agent: Agent, env: TradingEnv, seed: int) -> EpisodeResult:
    """Plays one episode (start drawn from ``seed``) and measures it."""
    obs, info = env.reset(seed=seed)
    equity, positions = [info["equity"]], [info["position"]]
    while True:
        action = agent.act(obs[None, :])[0]
        obs, _, terminated, truncated, info = env.step(action)
        equity.append(info["equity"])
        positions.append(info["position"])
        if terminated or truncated:
            break
    trips = env.round_trips()
    step_s = env.config.step_ms / 1e3
    metrics = compute_metrics(
        np.maximum(np.asarray(equity), 1e-9),
        step_seconds=step_s,
        trade_pnls=[t[4] for t in trips],
        holding_seconds=[(t[1] - t[0]) / 1e9 for t in trips],
        positions=positions,
        fees=info["fees"],
        traded_notional=env.traded_notional,
    )
    return EpisodeResult(metrics, np.asarray(equity))


def robustness(
    agent: Agent,
    market: Market,
    config: EnvConfig,
    intensities: Sequence[float],
    seeds: Sequence[int] = (0, 1, 2),
) -> list[dict[str, Any]]:
    """One row per intensity: mean Sharpe, max drawdown, total return, fees over the seeds
    (the same episode starts at every intensity), plus each seed's metrics."""
    rows = []
    for intensity in intensities:
        adversary = config.adversary.replace(intensity=float(intensity))
        env = TradingEnv(market, config.replace(adversary=adversary.to_dict()))
        results = [run_episode(agent, env, seed) for seed in seeds]
        per_seed = [r.metrics for r in results]
        rows.append(
            {
                "intensity": float(intensity),
                "sharpe": float(np.mean([m.sharpe for m in per_seed])),
                "max_drawdown": float(np.mean([m.max_drawdown for m in per_seed])),
                "total_return": float(np.mean([m.total_return for m in per_seed])),
                "fees": float(np.mean([m.fees for m in per_seed])),
                "worst_return": float(np.min([m.total_return for m in per_seed])),
                "episodes": [m.to_dict() for m in per_seed],
            }
        )
    return rows


__all__ = ["AdversaryConfig", "EpisodeResult", "robustness", "run_episode"]
