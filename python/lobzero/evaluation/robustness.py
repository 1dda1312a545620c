"""Robustness: how much of an agent's edge survives adversarial injection.

For each intensity, the agent plays the same episodes (same starts, several seeds) in an
environment whose :class:`~lobzero.AdversaryConfig` has that intensity; each episode's equity
curve gives its :class:`~lobzero.evaluation.metrics.Metrics`, averaged per intensity.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, SupportsFloat

import numpy as np

from lobzero.config import TomlConfig
from lobzero.data.market import Market
from lobzero.distributed.backend import Backend, LocalBackend
from lobzero.envs import AdversaryConfig, EnvConfig, TradingEnv
from lobzero.evaluation.metrics import Metrics, compute_metrics
from lobzero.exceptions import ConfigError


class Agent(Protocol):
    def act(self, obs_batch: np.ndarray) -> np.ndarray: ...


class EpisodeEnv(Protocol):
    """What an episode is played in: a :class:`~lobzero.TradingEnv`, or one behind the risk
    guards (:class:`lobzero.risk.RiskWrapper`, which offers the same API)."""

    @property
    def config(self) -> EnvConfig: ...

    @property
    def market(self) -> Market: ...

    @property
    def traded_notional(self) -> float: ...

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]: ...

    def step(self, action: Any) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]: ...

    def round_trips(self) -> list[tuple[int, int, int, int, float, float]]: ...


@dataclass(frozen=True)
class EpisodePath:
    """What happened along one episode of ``T`` decisions, for the report's figures.

    ``ts_ns``, ``mid``, ``position`` and ``fees`` are ``[T + 1]`` (the reset, then each step):
    receive time (ns), the mid valuing the position (quote per base unit), the position (base
    units) and the fees paid so far (quote). ``fills`` is ``[F, 4]`` float64 (side +1 buy / -1
    sell, price, size in base units, fee in quote) with ``fill_ts_ns`` ``[F]`` (int64, its own
    array: a float64 cannot hold a ns timestamp exactly). ``round_trips``: the environment's
    :meth:`~lobzero.TradingEnv.round_trips`, (entry_ts_ns, exit_ts_ns, side, max_qty_lots, pnl,
    fees) each, with ``lot`` the base units of one lot."""

    ts_ns: np.ndarray
    mid: np.ndarray
    position: np.ndarray
    fees: np.ndarray
    fill_ts_ns: np.ndarray
    fills: np.ndarray
    round_trips: tuple[tuple[int, int, int, int, float, float], ...] = ()
    lot: float = 1.0


@dataclass(frozen=True)
class EpisodeResult:
    """One played episode: its metrics, its equity [T] at each decision (quote), the PnL of each
    round trip (quote), and the receive times of its first and last decision (ns). Played with
    ``record=True``, ``trace`` holds what the agent saw, did and got: observations
    ``[T, obs_dim]`` (float32, the one each action was chosen from), actions ``[T]`` and
    rewards ``[T]``. ``path``: mid, position, fees, fills and round trips along the episode
    (:class:`EpisodePath`, always kept: a few numbers a step)."""

    metrics: Metrics
    equity: np.ndarray
    trade_pnls: np.ndarray = field(default_factory=lambda: np.zeros(0))
    start_ns: int = 0
    end_ns: int = 0
    trace: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    path: EpisodePath | None = None


def run_episode(
    agent: Agent, env: EpisodeEnv, seed: int, start_ns: int | None = None
) -> EpisodeResult:
    """Plays one episode and measures it: the start is drawn from ``seed`` in the environment's
    start range, or fixed at ``start_ns`` (receive time, ns) when given."""
    return run_episodes(agent, [env], [seed], [start_ns])[0]


def run_episodes(
    agent: Agent,
    envs: Sequence[EpisodeEnv],
    seeds: Sequence[int],
    starts_ns: Sequence[int | None] | None = None,
    record: bool = False,
    on_step: Callable[[int], None] | None = None,
) -> list[EpisodeResult]:
    """Plays one episode in each environment in lockstep, the agent acting on the batch of
    their observations [N, obs_dim] at every decision (one call per step: a planning agent
    searches N roots at once), and measures each. ``seeds[i]`` and ``starts_ns[i]`` as in
    :func:`run_episode`; an episode that ends early stops there while the others go on.
    ``record`` keeps each episode's :attr:`EpisodeResult.trace`; ``on_step(n)`` is called after
    each lockstep decision with the number of episodes that made it (progress).

    An agent trained with an encoder sees each environment as it trained: its observations
    followed by the encoder's window at the decision time
    (:func:`lobzero.encoder.agents.observation_env`; the window ends at or before it)."""
    if getattr(agent, "encoder", None) is not None:
        from lobzero.encoder.agents import observation_env

        envs = [observation_env(agent, env) for env in envs]
    n = len(envs)
    starts = list(starts_ns) if starts_ns is not None else [None] * n
    if len(seeds) != n or len(starts) != n:
        raise ValueError("run_episodes needs one seed and one start per environment")
    obs, equity, positions, first_ns, last = [], [], [], [], []
    # per episode: ts_ns, mid, fees at each decision, and every fill
    steps: list[tuple[list[int], list[float], list[float]]] = [([], [], []) for _ in envs]
    fill_rows: list[list[tuple[int, int, float, float, float]]] = [[] for _ in envs]
    traces: list[tuple[list[np.ndarray], list[int], list[float]]] = [([], [], []) for _ in envs]
    for env, seed, start in zip(envs, seeds, starts, strict=True):
        options = None if start is None else {"start_ns": int(start)}
        o, info = env.reset(seed=seed, options=options)
        obs.append(o)
        equity.append([info["equity"]])
        positions.append([info["position"]])
        first_ns.append(int(info["ts_ns"]))
        last.append(info)
        _keep_step(steps[len(last) - 1], info)
    live = list(range(n))
    while live:
        actions = agent.act(np.stack([obs[i] for i in live]))
        still = []
        for i, action in zip(live, actions, strict=True):
            seen = obs[i]
            obs[i], reward, terminated, truncated, last[i] = envs[i].step(action)
            if record:
                traces[i][0].append(np.asarray(seen, np.float32))
                traces[i][1].append(int(action))
                traces[i][2].append(float(reward))
            equity[i].append(last[i]["equity"])
            positions[i].append(last[i]["position"])
            fill_rows[i] += last[i]["fills"]
            _keep_step(steps[i], last[i])
            if not (terminated or truncated):
                still.append(i)
        if on_step is not None:
            on_step(len(live))
        live = still
    results = [
        _measure(envs[i], equity[i], positions[i], last[i], first_ns[i], steps[i], fill_rows[i])
        for i in range(n)
    ]
    if not record:
        return results
    return [
        dataclasses.replace(
            result,
            trace=(np.stack(seen), np.asarray(acts, np.int64), np.asarray(rewards, np.float64)),
        )
        for result, (seen, acts, rewards) in zip(results, traces, strict=True)
    ]


def _keep_step(step: tuple[list[int], list[float], list[float]], info: dict[str, Any]) -> None:
    step[0].append(int(info["ts_ns"]))
    step[1].append(float(info["mark"]))
    step[2].append(float(info["fees"]))


def _measure(
    env: EpisodeEnv,
    equity: list[float],
    positions: list[float],
    info: dict[str, Any],
    first_ns: int,
    steps: tuple[list[int], list[float], list[float]],
    fill_rows: list[tuple[int, int, float, float, float]],
) -> EpisodeResult:
    trips = env.round_trips()
    fills = len(fill_rows)
    metrics = compute_metrics(
        np.maximum(np.asarray(equity), 1e-9),
        step_seconds=env.config.step_ms / 1e3,
        trade_pnls=[t[4] for t in trips],
        holding_seconds=[(t[1] - t[0]) / 1e9 for t in trips],
        positions=positions,
        fees=info["fees"],
        traded_notional=env.traded_notional,
        fills=fills,
    )
    return EpisodeResult(
        metrics,
        np.asarray(equity),
        trade_pnls=np.asarray([t[4] for t in trips], dtype=np.float64),
        start_ns=first_ns,
        end_ns=int(info["ts_ns"]),
        path=EpisodePath(
            ts_ns=np.asarray(steps[0], np.int64),
            mid=np.asarray(steps[1], np.float64),
            position=np.asarray(positions, np.float64),
            fees=np.asarray(steps[2], np.float64),
            fill_ts_ns=np.asarray([f[0] for f in fill_rows], np.int64),
            fills=np.asarray([f[1:] for f in fill_rows], np.float64).reshape(len(fill_rows), 4),
            round_trips=tuple(tuple(t) for t in trips),  # type: ignore[misc]
            lot=env.market.metadata.lot,
        ),
    )


def robustness(
    agent: Agent | Callable[[], Agent],
    market: Market,
    config: EnvConfig,
    intensities: Sequence[float],
    seeds: Sequence[int] = (0, 1, 2),
    backend: Backend | None = None,
) -> list[dict[str, Any]]:
    """One row per intensity: mean Sharpe, max drawdown, total return, fees over the seeds
    (the same episode starts at every intensity), plus each seed's metrics.

    ``agent``: an agent, played in every episode in turn (its state, a random agent's draws or
    a planner's generator, runs on from one episode to the next), or a function of no
    arguments that builds one (picklable, e.g. :class:`AgentSpec`): then every (intensity,
    seed) episode is an independent job with an agent of its own, run on ``backend``
    (:mod:`lobzero.distributed.backend`; default here), and its result depends on nothing but
    the agent, the intensity and the seed, whichever backend ran it."""
    levels = [float(i) for i in intensities]
    jobs = [(intensity, int(seed)) for intensity in levels for seed in seeds]
    if hasattr(agent, "act"):
        if backend is not None and backend.name != "local":
            raise ConfigError(
                "robustness on a remote backend builds an agent per job: pass a function "
                "that builds it (e.g. AgentSpec), not the agent"
            )
        results = [_episode(i, s, agent=agent, market=market, config=config) for i, s in jobs]
    else:
        backend = backend or LocalBackend()
        shared = {"agent": agent, "market": market, "config": config}
        results = backend.map(_episode, jobs, shared)
    rows = []
    for intensity in levels:
        per_seed = [m for (i, _), m in zip(jobs, results, strict=True) if i == intensity]
        rows.append(
            {
                "intensity": intensity,
                "sharpe": float(np.mean([m.sharpe for m in per_seed])),
                "max_drawdown": float(np.mean([m.max_drawdown for m in per_seed])),
                "total_return": float(np.mean([m.total_return for m in per_seed])),
                "fees": float(np.mean([m.fees for m in per_seed])),
                "worst_return": float(np.min([m.total_return for m in per_seed])),
                "episodes": [m.to_dict() for m in per_seed],
            }
        )
    return rows


def _episode(
    intensity: float,
    seed: int,
    *,
    agent: Agent | Callable[[], Agent],
    market: Market,
    config: EnvConfig,
) -> Metrics:
    """One robustness episode (a job): the agent (built here when ``agent`` builds one) in the
    environment at ``intensity``, started from ``seed``."""
    player = agent if hasattr(agent, "act") else agent()  # type: ignore[operator]
    adversary = config.adversary.replace(intensity=float(intensity))
    env = TradingEnv(market, config.replace(adversary=adversary.to_dict()))
    return run_episode(player, env, seed).metrics  # type: ignore[arg-type]


@dataclass(frozen=True)
class AgentSpec:
    """Builds the agent of a spec (``rule:NAME`` or a saved agent's folder) on the features
    ``feature_names``: a picklable recipe, so every job (a Ray task too) loads its own."""

    spec: str
    feature_names: tuple[str, ...]

    def __call__(self) -> Agent:
        from lobzero.evaluation.report import load_agent_spec

        agent: Agent = load_agent_spec(self.spec, list(self.feature_names))
        return agent


__all__ = [
    "AdversaryConfig",
    "AgentSpec",
    "EpisodePath",
    "EpisodeResult",
    "robustness",
    "run_episode",
    "run_episodes",
]


def _robustness_env() -> EnvConfig:
    return EnvConfig(max_position=0.1, episode_steps=3000)


@dataclass(frozen=True)
class RobustnessConfig(TomlConfig):
    """Settings of ``lobzero robustness`` (TOML; table ``[env]``).

    ``intensity``: the injection levels played (probability per decision of each
    perturbation); ``seeds``: episodes (seeds 0..n-1) per level; ``env``: the environment of a
    rule agent (a trained agent plays in the one it learned, with this ``episode_steps``).
    """

    #: injection levels played (per-decision probability of each perturbation)
    intensity: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3)
    #: episodes (seeds 0..n-1) per intensity level
    seeds: int = 3
    env: EnvConfig = field(default_factory=_robustness_env)
