"""MuZero on the trading environment: each fix and option on and off, same seeds and budget.

    python benchmarks/muzero_ablation.py [--variants defaults,no-bounds,...] [--seeds 0,1,2]
        [--steps 8000] [--jobs 1] [--json] [--keep DIR]

Every run trains MuZero on the first 80 % of ``signal_market(seed=0)`` (the environment of the
demo's comparison: 1 s decisions, 5-minute episodes, 1 BTC at most, a 1 bps taker fee) for
``--steps`` environment steps, then plays its final checkpoint greedily on

- "test": 8 episodes spread over the held-out last 20 % of the same market;
- "path 1": 16 episodes of ``signal_market(seed=1)``, another path of the same market, unseen.

It prints, per variant, the mean return per episode (% of the starting cash) for every seed,
the trainer's value-scale diagnostics, and what the final model knows on the test episodes
(:func:`model_diagnostics`: how its Q follow the signal). The variants "PPO" and "SAC" train
lobzero's SB3 baselines with their defaults on the same range and score them the same way. A
variant is a set of :class:`MuZeroConfig` fields on top of :data:`BASE` (MuZeroConfig's
defaults, spelled out).
``--jobs N`` runs N trainings at once (one torch thread each); ``--keep DIR`` keeps each
run's folder (its whole ``train_log.csv`` and final agent) in ``DIR/VARIANT_seedK``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: the settings every variant starts from (the trading defaults of MuZeroConfig, spelled out
#: so that a variant's change is visible)
BASE: dict[str, Any] = {
    "algorithm": "gumbel",
    "support_size": 50,
    "num_simulations": 16,
    "num_envs": 16,
    "batch_size": 128,
    "td_steps": 10,
    "warmup_steps": 1000,
    "replay_ratio": 0.25,
    "torch_threads": 1,
}

#: name -> fields changed from BASE (MuZeroConfig's own defaults otherwise)
VARIANTS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "discount 0.997": {"discount": 0.997},
    "running obs scaling": {"obs_scaling": "running"},
    "priorities in dollars": {"priority_scale": "value"},
    "uniform replay": {"prioritized": False},
    "sqrt transform": {"value_transform": "sqrt"},
    "no value scale": {"value_scale": 1.0},
    "support 300 unscaled": {"support_size": 300, "value_scale": 1.0, "value_transform": "sqrt"},
    "time limit bootstraps": {"time_limit": "bootstrap"},
    "gumbel node bounds": {"gumbel_value_bounds": "node"},
    "gumbel noise fixed": {"gumbel_noise": "fixed"},
    "puct 50 sims": {"algorithm": "muzero", "num_simulations": 50},
    "stochastic": {"algorithm": "stochastic"},
    "stochastic codebook usage": {"algorithm": "stochastic", "chance_diversity_weight": 1.0},
    "stochastic 50 sims": {"algorithm": "stochastic", "num_simulations": 50},
    "consistency": {"consistency_weight": 2.0},
    "off-policy correction": {"off_policy_tau": 0.3},
    "value prefix": {"value_prefix": True},
}
#: peers trained and scored by the same protocol (lobzero's SB3 defaults)
PEERS = ("PPO", "SAC")


@dataclass(frozen=True)
class RunResult:
    variant: str
    seed: int
    test_return_pct: float
    path1_return_pct: float
    flat_share: float
    seconds: float
    diagnostics: dict[str, float]
    model: dict[str, float]


def _mean_return_pct(
    agent: Any, market: Any, env_config: Any, starts: list[int], record: bool = False
) -> tuple:
    from lobzero.envs import TradingEnv
    from lobzero.evaluation.robustness import run_episodes

    envs = [TradingEnv(market, env_config) for _ in starts]
    results = run_episodes(agent, envs, [0] * len(starts), starts, record=record)
    returns = [100.0 * (r.equity[-1] / r.equity[0] - 1.0) for r in results]
    return float(np.mean(returns)), results


def run_one(variant: str, seed: int, steps: int, keep: str = "") -> RunResult:
    """One training and its scores; ``keep``: a folder to keep the run's output in (its
    ``train_log.csv`` and agent) under ``VARIANT_seedK``, instead of a temporary one."""
    import torch

    torch.set_num_threads(1)
    from lobzero import signal_market
    from lobzero.demo import DEMO_COMPARE
    from lobzero.evaluation.walkforward import TimeRange, episode_starts
    from lobzero.muzero import MuZeroConfig, train_muzero

    market = signal_market(seed=0)
    other = signal_market(seed=1)
    env = DEMO_COMPARE.env.replace(seed=seed)
    first, last = int(market.stream.start_ns), int(market.stream.end_ns)
    cut = first + int(0.8 * (last + 1 - first))
    train_range, test_range = TimeRange(first, cut), TimeRange(cut, last + 1)
    started = time.perf_counter()
    diagnostics: dict[str, float] = {}
    kept = Path(keep) / f"{variant.replace(' ', '_')}_seed{seed}" if keep else None
    with contextlib.nullcontext(str(kept)) if kept else tempfile.TemporaryDirectory() as out:
        if variant in PEERS:
            from lobzero.baselines.sb3 import train_sb3

            torch.manual_seed(seed)
            agent: Any = train_sb3(
                variant.lower(),
                market,
                train_range.env_config(env),
                out,
                seed=seed,
                total_steps=steps,
            )
            env = env.replace(action_mode=agent.action_mode)
        else:
            overrides = {**BASE, **VARIANTS[variant], "total_env_steps": steps}
            config = MuZeroConfig.from_dict(overrides).replace(checkpoint_interval=steps)
            agent = train_muzero(
                config,
                out,
                market=market,
                env_config=train_range.env_config(env),
                seed=seed,
                progress=False,
            )
            diagnostics = _last_row(f"{out}/train_log.csv")
    seconds = time.perf_counter() - started
    test_env = test_range.env_config(env)
    test_pct, test_results = _mean_return_pct(
        agent, market, test_env, episode_starts(test_range, env, 8), record=True
    )
    o_first, o_last = int(other.stream.start_ns), int(other.stream.end_ns)
    other_range = TimeRange(o_first, o_last + 1)
    path_pct, _ = _mean_return_pct(
        agent, other, other_range.env_config(env), episode_starts(other_range, env, 16)
    )
    flat = float(np.mean([r.metrics.exposure == 0.0 for r in test_results]))
    model = model_diagnostics(agent, test_results) if variant not in PEERS else {}
    return RunResult(variant, seed, test_pct, path_pct, flat, seconds, diagnostics, model)


def model_diagnostics(agent: Any, results: list[Any], horizon: int = 10) -> dict[str, float]:
    """What the learned model knows, on the test episodes it played (``results`` recorded):
    ``q_signal_corr``, the correlation of Q(longest) − Q(shortest) with the mid's return over
    the next ``horizon`` decisions; ``q_spread``, the sd of the actions' Q about their mean at
    a state (quote currency). Q is r + γ V(g(s, a)) for MuZero; for Stochastic MuZero the
    afterstate's Q (what a chance node's first visit reads), with ``expected_q_signal_corr``
    for E_σ[r + γ V(g(as, c))] over the chance prior, and ``codes_used``, the exponential of
    the entropy of the encoder's codes of the observations (1: the codebook collapsed)."""
    import torch
    from lobzero.models.stochastic_net import StochasticMuZeroNet
    from lobzero.muzero.learner import codebook_usage

    net, to_scalar, discount = agent.net, agent.net.codec.to_scalar, agent.config.discount
    obs = torch.as_tensor(np.concatenate([r.trace[0] for r in results]))
    forward = []
    for r in results:
        steps = len(r.trace[0])
        mid = np.asarray(r.path.mid, float)[:steps]
        ahead = np.full(steps, np.nan)
        ahead[: steps - horizon] = mid[horizon:] / mid[: steps - horizon] - 1.0
        forward.append(ahead)
    ahead = np.concatenate(forward)
    stochastic = isinstance(net, StochasticMuZeroNet)
    q = np.zeros((len(obs), net.num_actions))
    expected = np.zeros_like(q)
    out: dict[str, float] = {}
    was_training = net.training
    net.eval()
    with torch.inference_mode():
        latent, _, _ = net.initial_inference(obs)
        for a in range(net.num_actions):
            action = torch.full((len(obs),), a, dtype=torch.int64)
            if stochastic:
                after, q_out, chance_logits = net.afterstate(latent, action)
                q[:, a] = to_scalar(q_out).numpy()
                prior = torch.softmax(chance_logits, -1)
                for c in range(net.chance_outcomes):
                    code = torch.full((len(obs),), c, dtype=torch.int64)
                    _, reward, value, _ = net.chance_step(after, code)
                    outcome = to_scalar(reward) + discount * to_scalar(value)
                    expected[:, a] += (prior[:, c] * outcome).numpy()
            else:
                _, reward, value, _ = net.recurrent_inference(latent, action)
                q[:, a] = (to_scalar(reward) + discount * to_scalar(value)).numpy()
        if stochastic:
            codes, probs = net.encode_chance(obs)
            _, out["codes_used"] = codebook_usage(probs, codes, torch.ones(len(obs)))
    net.train(was_training)
    known = ~np.isnan(ahead)

    def corr(values: np.ndarray) -> float:
        edge = values[:, -1] - values[:, 0]
        return float(np.corrcoef(edge[known], ahead[known])[0, 1])

    out["q_signal_corr"] = corr(q)
    out["q_spread"] = float(np.std(q - q.mean(1, keepdims=True)))
    if stochastic:
        out["expected_q_signal_corr"] = corr(expected)
    return {k: round(v, 3) for k, v in out.items()}


def _last_row(path: str) -> dict[str, float]:
    import csv

    keys = (
        "value_target_clipped",
        "value_target_p01",
        "value_target_p99",
        "value_scale",
        "reward_loss",
        "chance_loss",
        "chance_codes_used",
    )
    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return {}
    return {k: float(rows[-1][k]) for k in keys if rows[-1].get(k) not in (None, "")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", type=int, default=8000)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="one JSON line per run")
    parser.add_argument(
        "--keep",
        default="",
        metavar="DIR",
        help="keep each run's folder (train_log.csv, agent) under DIR",
    )
    args = parser.parse_args()
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS and v not in PEERS]
    if unknown:
        sys.exit(f"unknown variants {unknown}; known: {', '.join([*VARIANTS, *PEERS])}")
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        sys.exit(f"--seeds takes comma-separated integers, got {args.seeds!r}")
    jobs = [(v, s) for v in variants for s in seeds]
    results: list[RunResult] = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run_one, v, s, args.steps, args.keep) for v, s in jobs]
        for future in futures:
            r = future.result()
            results.append(r)
            if args.json:
                print(json.dumps(r.__dict__), flush=True)
            else:
                print(
                    f"{r.variant:24s} seed {r.seed}: test {r.test_return_pct:+.2f} %  "
                    f"path 1 {r.path1_return_pct:+.2f} %  flat {r.flat_share:.0%}  "
                    f"{r.seconds:.0f} s  {r.diagnostics}  model {r.model}",
                    flush=True,
                )
    print(f"\n{'variant':24s} {'test % (per seed)':>28s} {'path 1 % (per seed)':>28s}")
    for v in variants:
        rows = [r for r in results if r.variant == v]
        test = " / ".join(f"{r.test_return_pct:+.2f}" for r in rows)
        path = " / ".join(f"{r.path1_return_pct:+.2f}" for r in rows)
        print(f"{v:24s} {test:>28s} {path:>28s}")


if __name__ == "__main__":
    main()
