"""The comparison protocol: every agent through the same walk-forward test.

For each agent and seed (and fold, with rolling folds):

1. train on the train range only (learned agents: MuZero, PPO, SAC), or build (rule agents);
2. pick the checkpoint with the best mean validation score (episode Sharpe, or total return)
   over fixed validation episodes;
3. play fixed test episodes with that checkpoint.

Training, selection and testing use disjoint ranges in time order, and every episode ends
before its range does (:mod:`lobzero.evaluation.walkforward`): no test-range event reaches
training or selection. Per agent, the test episodes of all seeds and folds are pooled: means of
the episode metrics (profit factor and win rate over all round trips), with bootstrap intervals
over seeds × episodes (:mod:`lobzero.evaluation.bootstrap`). Then the roadmap's verdict and the
user's targets (:mod:`lobzero.evaluation.verdict`), judged only when the test ranges of all
folds together span ``CompareConfig.min_judged_seconds`` of market time.

On a :class:`~lobzero.data.universe.Universe` the folds cut the universe's common span (the
time every symbol has data for), so a fold's ranges are the same receive times for every
symbol: no symbol's test range overlaps any symbol's training or validation range. Each agent
trains (or is built) and is tested on each symbol's market on its own; the metrics are given
per symbol (``CompareResult.by_symbol``) and pooled over the symbols' test episodes
(``summary``, with bootstrap groups per symbol × fold × seed), on which the verdicts and
targets are judged.

With a :class:`~lobzero.risk.RiskConfig` (``compare(..., risk=...)``, ``compare --risk
risk.toml``), every agent is also tested through the guards (:class:`~lobzero.risk.RiskWrapper`):
the same trained agent, checkpoint and test episodes, reported as the agent ``"<name>+risk"``
right after it.

With a pretrained order-book encoder (``CompareConfig.encoder``, ``compare --encoder PATH``),
every learned agent is also trained with it (``encoder_mode``: frozen or fine-tuned), on the
same folds, seeds and budget, and reported as ``"<name>+encoder"`` right after the agent
without it: the table answers whether the pretraining helps.

Every section of the configuration (``[muzero]`` included) is parsed and validated before any
agent trains: a typo in one agent's table does not cost the others' training.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from lobzero.agents import ENCODER_SUFFIX, load_agent
from lobzero.baselines.rules import RULES, make_rule_agent
from lobzero.baselines.sb3 import PpoConfig, SacConfig
from lobzero.config import TomlConfig
from lobzero.data.market import Market
from lobzero.data.universe import Universe
from lobzero.distributed.backend import Backend, LocalBackend
from lobzero.envs.config import EnvConfig
from lobzero.envs.trading_env import TradingEnv
from lobzero.evaluation.bootstrap import ConfidenceInterval, bootstrap_ci
from lobzero.evaluation.compare_progress import CompareProgress, make_job
from lobzero.evaluation.metrics import profit_factor
from lobzero.evaluation.robustness import EpisodeResult, run_episodes
from lobzero.evaluation.verdict import MIN_JUDGED_SECONDS, Verdict, judge_targets, verdict
from lobzero.evaluation.walkforward import (
    Split,
    TimeRange,
    WalkForwardConfig,
    episode_starts,
    walk_forward_splits,
)
from lobzero.exceptions import ConfigError
from lobzero.risk import RiskConfig, RiskWrapper
from lobzero.storage import RunFolder

#: the suffix of an agent tested through the risk guards
RISK_SUFFIX = "+risk"

#: MuZero agents: the ``[muzero]`` settings with these changed (the default MuZero is Gumbel
#: MuZero; "muzero_puct" is the pseudocode's PUCT search with its 50 simulations;
#: "stochastic_muzero" plans over chance nodes for the market's move)
MUZERO_VARIANTS: dict[str, dict[str, Any]] = {
    "muzero": {},
    "muzero_puct": {"algorithm": "muzero", "num_simulations": 50},
    "stochastic_muzero": {"algorithm": "stochastic"},
}
LEARNED = (*MUZERO_VARIANTS, "ppo", "sac")
AGENTS = (*LEARNED, *RULES)
#: metrics given a bootstrap interval
CI_METRICS = (
    "sharpe",
    "episode_sharpe",
    "sortino",
    "total_return",
    "max_drawdown",
    "profit_factor",
    "win_rate",
)
SELECT_BY = ("sharpe", "total_return")


def _default_env() -> EnvConfig:
    return EnvConfig(episode_steps=300)


@dataclass(frozen=True)
class CompareConfig(TomlConfig):
    """Settings of :func:`compare` (TOML tables ``[env]``, ``[walkforward]``, ``[ppo]``,
    ``[sac]``, ``[muzero]``).

    ``env``: the environment every agent trains and is tested in (its action mode is each
    agent's own); ``validation_episodes`` per checkpoint; ``test_episodes`` per seed (0: as
    many as fit in the test range without overlapping); ``select_by``: "sharpe" or
    "total_return", the mean validation score that picks the checkpoint; ``muzero``: the fields
    of :class:`lobzero.muzero.MuZeroConfig` to change (``total_env_steps`` comes from the
    budget, and ``checkpoint_interval``, unless given, is a quarter of it);
    ``min_judged_seconds``: the shortest test range (market seconds, all folds together) on
    which the deployment targets are judged (one day by default; shorter: "not judged");
    ``budget_seconds``: wall-clock seconds of training per learned agent, seed and fold (0: no
    limit), ended at whichever of it and the step budget comes first, with the checkpoints at
    the same fractions of it (:class:`lobzero.budget.TrainingBudget`): an equal wall-time
    comparison gives a step budget no agent reaches and this. ``encoder``, ``encoder_mode``,
    ``encoder_lr_scale``: see the module docstring.
    """

    env: EnvConfig = field(default_factory=_default_env)
    walkforward: WalkForwardConfig = field(default_factory=WalkForwardConfig)
    validation_episodes: int = 4
    test_episodes: int = 0
    select_by: str = "sharpe"
    bootstrap_resamples: int = 2000
    confidence: float = 0.95
    min_judged_seconds: float = MIN_JUDGED_SECONDS
    #: wall-clock seconds of training per learned agent, seed and fold (0: no limit); a run
    #: ends at whichever of this and the step budget comes first
    budget_seconds: float = 0.0
    #: a pretrained order-book encoder (``lobzero train-encoder``'s checkpoint): every learned
    #: agent is also trained with it, as "<agent>+encoder" ("" = none)
    encoder: str = ""
    #: "frozen" (the encoder's weights stay as trained) or "fine-tune" (they train with the
    #: agent at ``encoder_lr_scale`` × its learning rate)
    encoder_mode: Literal["frozen", "fine-tune"] = "frozen"
    #: fine-tune: the encoder's learning rate is the agent's times this
    encoder_lr_scale: float = 0.1
    ppo: PpoConfig = field(default_factory=PpoConfig)
    sac: SacConfig = field(default_factory=SacConfig)
    muzero: dict[str, Any] = field(default_factory=dict)


@dataclass
class AgentRun:
    """One agent trained (or built) with one seed on one fold, and its test episodes.

    ``validation``: (step, mean validation score) per checkpoint; ``selected_step`` the step of
    the checkpoint tested (None for rule agents); seconds spent training and testing;
    ``train_env_steps`` the environment steps trained (the step of the last checkpoint scored,
    less than the step budget when the time budget ended the run; 0 for rule agents);
    ``run_dir`` the folder of the run's files (agents, training log).
    """

    agent: str
    fold: int
    seed: int
    episodes: list[EpisodeResult]
    #: the universe symbol the run traded (None: a comparison on one market)
    symbol: str | None = None
    validation: list[tuple[int, float]] = field(default_factory=list)
    selected_step: int | None = None
    train_seconds: float = 0.0
    test_seconds: float = 0.0
    train_env_steps: int = 0
    run_dir: Path | None = None
    #: MuZero agents: what the model predicts along the first test episode against what
    #: happened (a :class:`lobzero.muzero.diagnostics.ModelCheck`)
    model_check: Any = None
    #: tested through the risk guards: the decisions at which a guard changed the action,
    #: summed over the test episodes (0 without guards)
    risk_interventions: int = 0


@dataclass
class CompareResult:
    """Everything :func:`compare` measured; ``summary[agent]`` holds the test metrics (means
    over episodes; pooled profit factor and win rate; nan where undefined), ``ci[agent]``
    their intervals; ``targets[agent]`` each target met (None: not judged or undefined);
    ``test_seconds`` the market time of the test ranges of all folds; ``market_mid`` the
    market's mid price, receive times (ns) [P] and prices [P], for the report's timeline (a
    universe's first symbol). On a universe, ``symbols`` lists its symbols, ``summary`` and
    ``ci`` are pooled over them and ``by_symbol[symbol][agent]`` / ``by_symbol_ci`` hold each
    symbol's own (empty on one market). ``risk``: the guards the ``"<agent>+risk"`` agents
    were tested through (None: none)."""

    agents: list[str]
    splits: list[Split]
    runs: dict[str, list[AgentRun]]
    summary: dict[str, dict[str, float]]
    ci: dict[str, dict[str, ConfidenceInterval]]
    verdicts: list[Verdict]
    targets: dict[str, dict[str, bool | None]]
    config: CompareConfig
    budget_steps: int
    market: str
    test_seconds: float = 0.0
    files: dict[str, Path] = field(default_factory=dict)
    market_mid: tuple[np.ndarray, np.ndarray] | None = None
    symbols: list[str] = field(default_factory=list)
    by_symbol: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    by_symbol_ci: dict[str, dict[str, dict[str, ConfidenceInterval]]] = field(default_factory=dict)
    risk: RiskConfig | None = None


def parse_agents(agents: Sequence[str] | str) -> list[str]:
    """Agent names from a list or a comma-separated string; unknown or repeated names raise
    :class:`ConfigError`."""
    names = [a.strip() for a in agents.split(",")] if isinstance(agents, str) else list(agents)
    names = [n for n in names if n]
    if not names:
        raise ConfigError(f"no agents to compare; choose from {', '.join(AGENTS)}")
    unknown = [n for n in names if n not in AGENTS]
    if unknown:
        raise ConfigError(f"unknown agent(s) {', '.join(unknown)}; choose from {', '.join(AGENTS)}")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"agent(s) listed twice: {', '.join(repeated)}")
    return names


class _Selector:
    """The checkpoint callback: scores a checkpoint on the validation episodes and saves it
    when it is the best so far."""

    def __init__(
        self,
        envs_for: Callable[[str, int], list[TradingEnv]],
        starts: list[int],
        seed: int,
        select_by: str,
        best_dir: Path,
        on_step: Callable[[int], None] | None = None,
    ) -> None:
        self.envs_for, self.starts, self.seed = envs_for, starts, seed
        self.on_step = on_step
        self.select_by, self.best_dir = select_by, best_dir
        self.history: list[tuple[int, float]] = []
        self.best: tuple[int, float] | None = None

    def __call__(self, step: int, agent: Any) -> float:
        """Scores the checkpoint at ``step`` (env steps) and returns its validation score."""
        envs = self.envs_for(agent.action_mode, len(self.starts))
        results = run_episodes(
            agent, envs, [self.seed] * len(envs), self.starts, on_step=self.on_step
        )
        score = float(np.mean([getattr(r.metrics, self.select_by) for r in results]))
        self.history.append((int(step), score))
        if self.best is None or score > self.best[1]:
            self.best = (int(step), score)
            agent.save(self.best_dir)
        return score


def muzero_config(config: CompareConfig, budget_steps: int, variant: str = "muzero") -> Any:
    """The :class:`lobzero.muzero.MuZeroConfig` of ``config.muzero`` for a MuZero agent of
    :data:`MUZERO_VARIANTS` with the budget, validated (:class:`ConfigError` on an unknown or
    out-of-range setting, or without torch). Unless given, the warm-up is at most an eighth of
    the budget, so a small budget still trains and its first checkpoint is a trained one."""
    try:
        from lobzero.muzero import MuZeroConfig
    except ImportError as e:
        raise ConfigError(f"the muzero agent is not available ({e})") from e
    mz = MuZeroConfig.from_dict({**config.muzero, **MUZERO_VARIANTS[variant]}).replace(
        total_env_steps=budget_steps
    )
    if "checkpoint_interval" not in config.muzero:
        # as many checkpoints to choose from as the SB3 agents get by default (4)
        mz = mz.replace(checkpoint_interval=max(1, budget_steps // 4))
    if "warmup_steps" not in config.muzero:
        # an eighth: the first checkpoint (a quarter) has trained, so all four are candidates
        mz = mz.replace(warmup_steps=min(mz.warmup_steps, budget_steps // 8))
    mz.validate()
    return mz


def _train(
    name: str,
    market: Market,
    train_env: EnvConfig,
    run_dir: Path,
    seed: int,
    budget_steps: int,
    config: CompareConfig,
    selector: _Selector,
    on_progress: Callable[[int], None] | None = None,
) -> Any:
    """Trains a learned agent on the train range, calling ``selector`` at its checkpoints and
    ``on_progress(env_steps)`` as it plays; ``"<agent>+encoder"`` with the configuration's
    encoder."""
    name, with_encoder = _base_name(name)
    if name in MUZERO_VARIANTS:
        from lobzero.muzero import train_muzero

        mz = muzero_config(config, budget_steps, name)
        if with_encoder:
            mz = mz.replace(
                encoder=config.encoder,
                encoder_mode=config.encoder_mode,
                encoder_lr_scale=config.encoder_lr_scale,
            )
        return train_muzero(
            mz,
            run_dir / "final",
            market=market,
            env_config=train_env,
            seed=seed,
            device="cpu",
            on_checkpoint=selector,
            progress=False,
            on_progress=on_progress,
            max_seconds=config.budget_seconds or None,
        )
    from lobzero.baselines.sb3 import train_sb3

    encoder = None
    if with_encoder:
        from lobzero.encoder.agents import AgentEncoder

        encoder = AgentEncoder.load(config.encoder, config.encoder_mode, config.encoder_lr_scale)
    return train_sb3(
        name,
        market,
        train_env,
        run_dir / "final",
        seed=seed,
        total_steps=budget_steps,
        config=config.ppo if name == "ppo" else config.sac,
        on_checkpoint=selector,
        progress=False,
        on_progress=on_progress,
        max_seconds=config.budget_seconds or None,
        encoder=encoder,
    )


def _base_name(name: str) -> tuple[str, bool]:
    """(the agent, trained with the encoder): "ppo+encoder" → ("ppo", True)."""
    if name.endswith(ENCODER_SUFFIX):
        return name.removesuffix(ENCODER_SUFFIX), True
    return name, False


def with_encoder_agents(names: list[str]) -> list[str]:
    """``names`` with each learned agent followed by its "+encoder" twin."""
    return [
        n for name in names for n in ((name, name + ENCODER_SUFFIX) if name in LEARNED else (name,))
    ]


def _run_one(
    name: str,
    market: Market,
    split: Split,
    seed: int,
    budget_steps: int,
    config: CompareConfig,
    out: Path,
    tracker: CompareProgress | None = None,
    symbol: str | None = None,
    risk: RiskConfig | None = None,
) -> list[AgentRun]:
    """The run of one agent, seed, fold (and symbol); with ``risk``, then the same agent's
    test through the guards."""
    base = config.env.replace(seed=seed)
    cache: dict[tuple[str, TimeRange], list[TradingEnv]] = {}

    def envs_in(time_range: TimeRange) -> Callable[[str, int], list[TradingEnv]]:
        """``n`` environments of the range in an action mode, played in lockstep."""

        def get(mode: str, n: int) -> list[TradingEnv]:
            envs = cache.setdefault((mode, time_range), [])
            cfg = time_range.env_config(base).replace(action_mode=mode)
            envs += [TradingEnv(market, cfg) for _ in range(n - len(envs))]
            return envs[:n]

        return get

    feature_names = envs_in(split.test)("target", 1)[0].feature_names
    val_starts = episode_starts(split.validation, base, config.validation_episodes)
    test_starts = episode_starts(split.test, base, config.test_episodes or None)
    run_dir = out / "agents" / name / f"fold{split.fold}_seed{seed}"
    if symbol is not None:
        run_dir = out / "agents" / name / symbol / f"fold{split.fold}_seed{seed}"
    t0 = time.perf_counter()
    run = AgentRun(name, split.fold, seed, episodes=[], symbol=symbol, run_dir=run_dir)

    def on_step(phase: str) -> Callable[[int], None] | None:
        return None if tracker is None else (lambda n: tracker.evaluated(n, phase))

    base_name = _base_name(name)[0]
    if base_name in LEARNED:
        selector = _Selector(
            envs_in(split.validation),
            val_starts,
            seed,
            config.select_by,
            run_dir / "best",
            on_step("validation"),
        )
        train_env = split.train.env_config(base)
        final = _train(
            name,
            market,
            train_env,
            run_dir,
            seed,
            budget_steps,
            config,
            selector,
            None if tracker is None else tracker.trained,
        )
        if not selector.history:
            selector(budget_steps, final)  # both trainers checkpoint their end; never else
        assert selector.best is not None
        run.validation, run.selected_step = selector.history, selector.best[0]
        run.train_env_steps = max(step for step, _ in selector.history)
        agent = load_agent(run_dir / "best", feature_names=feature_names)
    else:
        params = {"seed": seed} if name == "random" else {}
        agent = make_rule_agent(name, feature_names, **params)
        agent.save(run_dir)
    run.train_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    envs = envs_in(split.test)(agent.action_mode, len(test_starts))
    is_muzero = base_name in MUZERO_VARIANTS
    run.episodes = run_episodes(
        agent, envs, [seed] * len(envs), test_starts, record=is_muzero, on_step=on_step("test")
    )
    if is_muzero:
        from lobzero.muzero.agent import MuZeroAgent
        from lobzero.muzero.diagnostics import check_model

        trace = run.episodes[0].trace
        assert trace is not None and isinstance(agent, MuZeroAgent)
        run.model_check = check_model(agent, *trace)
    run.test_seconds = time.perf_counter() - t0
    if risk is None:
        return [run]
    t0 = time.perf_counter()
    guarded = [RiskWrapper(env, risk) for env in envs]
    episodes = run_episodes(
        agent, guarded, [seed] * len(envs), test_starts, on_step=on_step("test")
    )
    with_risk = dataclasses.replace(
        run,
        agent=name + RISK_SUFFIX,
        episodes=episodes,
        validation=[],  # the training (and its plots) is the agent's own row's
        model_check=None,
        test_seconds=time.perf_counter() - t0,
        risk_interventions=sum(env.interventions for env in guarded),
    )
    return [run, with_risk]


def _job(
    name: str,
    split: Split,
    seed: int,
    symbol: str | None,
    *,
    markets: dict[str | None, Market],
    budget_steps: int,
    config: CompareConfig,
    out: Path,
    risk: RiskConfig | None = None,
    tracker: CompareProgress | None = None,
) -> list[AgentRun]:
    """One (agent, fold, seed, symbol) job of :func:`compare`, a Ray task on ``--backend ray``:
    it writes its artefacts under ``out`` as the local loop does (the agent's run, and with
    ``risk`` its test through the guards)."""
    return _run_one(
        name, markets[symbol], split, seed, budget_steps, config, out, tracker, symbol, risk
    )


def _sb3_checkpoints(config: CompareConfig, name: str) -> int:
    """The checkpoints (validation rounds) of a PPO or SAC agent; 0 for any other agent."""
    if name == "ppo":
        return config.ppo.checkpoints
    if name == "sac":
        return config.sac.checkpoints
    return 0


def summarize(
    runs: list[AgentRun], resamples: int = 2000, confidence: float = 0.95
) -> tuple[dict[str, float], dict[str, ConfidenceInterval]]:
    """Test metrics of one agent over all its runs' episodes: the mean of each episode metric,
    except ``profit_factor`` (gross profit / gross loss of all round trips) and ``win_rate``
    (winning / all round trips); bootstrap intervals (:data:`CI_METRICS`) over
    seeds × episodes, seeds (and folds, and universe symbols) as groups."""
    episodes = [
        (f"{r.fold}:{r.seed}" if r.symbol is None else f"{r.symbol}:{r.fold}:{r.seed}", e)
        for r in runs
        for e in r.episodes
    ]
    if not episodes:
        raise ConfigError("no test episodes to summarize")
    groups = [g for g, _ in episodes]
    results = [e for _, e in episodes]
    table = {
        k: np.array([getattr(e.metrics, k) for e in results], np.float64)
        for k in results[0].metrics.to_dict()
    }
    summary = {k: float(np.mean(v)) for k, v in table.items()}
    # per episode: gross profit, gross loss, winning trips, trips
    trips = np.array(
        [
            (p[p > 0].sum(), -p[p < 0].sum(), (p > 0).sum(), len(p))
            for p in (e.trade_pnls for e in results)
        ],
        np.float64,
    ).reshape(len(results), 4)

    def pooled_pf(rows: np.ndarray) -> float:
        return profit_factor([rows[:, 0].sum(), -rows[:, 1].sum()])

    def pooled_win(rows: np.ndarray) -> float:
        n = rows[:, 3].sum()
        return float(rows[:, 2].sum() / n) if n > 0 else math.nan

    summary["profit_factor"] = pooled_pf(trips)
    summary["win_rate"] = pooled_win(trips)
    summary["episodes"] = float(len(results))
    kw: dict[str, Any] = {"groups": groups, "n_resamples": resamples, "confidence": confidence}
    ci = {k: bootstrap_ci(table[k], **kw) for k in CI_METRICS if k in table}
    ci["profit_factor"] = bootstrap_ci(trips, statistic=pooled_pf, **kw)
    ci["win_rate"] = bootstrap_ci(trips, statistic=pooled_win, **kw)
    return summary, ci


def verdicts_for(
    agents: list[str],
    summary: dict[str, dict[str, float]],
    ci: dict[str, dict[str, ConfidenceInterval]],
) -> list[Verdict]:
    """The first agent against each other one, and each MuZero agent against each other one
    when it is in the list but not first."""
    candidates = [agents[0]]
    candidates += [a for a in agents if a in MUZERO_VARIANTS and a != agents[0]]
    out = []
    for cand in candidates:
        for ref in agents:
            if ref == cand:
                continue
            lohi = {a: {k: (c.low, c.high) for k, c in ci[a].items()} for a in (cand, ref)}
            out.append(verdict(cand, summary[cand], ref, summary[ref], lohi[cand], lohi[ref]))
    return out


def compare(
    market: Market | Universe,
    agents: Sequence[str] | str,
    seeds: Sequence[int] | int,
    budget_steps: int,
    out: str | Path,
    *,
    config: CompareConfig | None = None,
    progress: bool = False,
    report: bool = True,
    risk: RiskConfig | None = None,
    backend: Backend | None = None,
) -> CompareResult:
    """Runs the protocol of the module docstring for every agent and seed, and (``report``)
    writes ``metrics.csv``, ``metrics.json``, equity and drawdown PNGs and ``index.html`` into
    ``out``.

    ``market``: one market, or a :class:`~lobzero.data.universe.Universe` (every agent on
    every symbol, folds on the common span; metrics per symbol and pooled). ``agents``: names
    from :data:`AGENTS` (list or comma-separated); ``seeds``: seeds, or a count (seeds
    0..n-1); ``budget_steps``: environment steps of training per learned agent, seed, fold
    (and symbol). ``progress``: print the plan with an estimated time, then bars (or plain
    lines) on stderr (:mod:`lobzero.evaluation.compare_progress`). ``risk``: also test every
    agent through these guards, as the agent ``"<name>+risk"`` (see the module docstring).
    ``backend``: where the independent (agent, fold, seed, symbol) jobs run
    (:mod:`lobzero.distributed.backend`; by default here, one after the other); the report is
    the same on any backend for the same seeds (only the measured seconds differ).
    """
    config = config or CompareConfig()
    names = parse_agents(agents)
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list:
        raise ConfigError("at least one seed is needed")
    if any(n in LEARNED for n in names) and budget_steps < 1:
        raise ConfigError(f"budget_steps must be >= 1 to train agents, got {budget_steps}")
    if config.select_by not in SELECT_BY:
        raise ConfigError(f"select_by must be one of {SELECT_BY}, got {config.select_by!r}")
    if not (config.budget_seconds >= 0 and np.isfinite(config.budget_seconds)):
        raise ConfigError(f"budget_seconds must be >= 0, got {config.budget_seconds}")
    if config.validation_episodes < 1 or config.test_episodes < 0:
        raise ConfigError("validation_episodes must be >= 1 and test_episodes >= 0")
    for name in names:
        if name in MUZERO_VARIANTS:
            muzero_config(config, budget_steps, name)
    if config.encoder:
        from lobzero.encoder.agents import AgentEncoder

        # the checkpoint and its settings, checked before any agent trains
        AgentEncoder.load(config.encoder, config.encoder_mode, config.encoder_lr_scale)
        names = with_encoder_agents(names)
    is_universe = isinstance(market, Universe)
    markets: dict[str | None, Market] = (
        dict(market.items()) if isinstance(market, Universe) else {None: market}
    )
    # a universe's folds cut the span every symbol has: one clock, one set of ranges for all
    span = market.common_span() if isinstance(market, Universe) else market
    splits = walk_forward_splits(span, config.walkforward)
    for split in splits:  # fail before any training when an episode does not fit a range
        for r in (split.train, split.validation, split.test):
            r.env_config(config.env)
    if risk is not None and not isinstance(risk, RiskConfig):
        raise ConfigError(f"risk must be a RiskConfig, got {risk!r}")
    # a URL (s3://bucket/report): a local staging folder, published after every job
    folder = RunFolder(out)
    try:
        return _compare(
            market, names, seed_list, budget_steps, folder, config, progress, report, backend,
            markets, splits, is_universe, risk,
        )  # fmt: skip
    finally:
        folder.close()


def _compare(
    market: Market | Universe,
    names: list[str],
    seed_list: list[int],
    budget_steps: int,
    folder: RunFolder,
    config: CompareConfig,
    progress: bool,
    report: bool,
    backend: Backend | None,
    markets: dict[str | None, Market],
    splits: list[Split],
    is_universe: bool,
    risk: RiskConfig | None,
) -> CompareResult:
    """The jobs and the report of :func:`compare`, written into ``folder.local``."""
    out = folder.local
    jobs = [(n, s, k, sym) for n in names for s in splits for k in seed_list for sym in markets]
    runs: dict[str, list[AgentRun]] = {n: [] for n in names}
    tracker = None
    if progress:
        tracker = CompareProgress(
            [
                make_job(
                    n,
                    s.fold,
                    k,
                    learned=_base_name(n)[0] in LEARNED,
                    budget_steps=budget_steps,
                    checkpoints=4
                    if _base_name(n)[0] in MUZERO_VARIANTS
                    else _sb3_checkpoints(config, _base_name(n)[0]),
                    validation_episodes=config.validation_episodes,
                    # with risk guards, each test episode is played twice
                    test_episodes=(1 + (risk is not None))
                    * len(episode_starts(s.test, config.env, config.test_episodes or None)),
                    episode_steps=config.env.episode_steps,
                    budget_seconds=config.budget_seconds,
                )
                for n, s, k, _ in jobs
            ]
        )
        tracker.show_plan(str(market), budget_steps, seed_list, len(splits))
        tracker.begin()
    completed = 0
    backend = backend or LocalBackend()
    shared: dict[str, Any] = {
        "markets": markets,
        "budget_steps": budget_steps,
        "config": config,
        "out": out,
        "risk": risk,
    }
    try:
        if backend.name == "local":
            for index, (name, split, seed, symbol) in enumerate(jobs):
                if tracker is not None:
                    tracker.start(index)
                for run in _job(name, split, seed, symbol, **shared, tracker=tracker):
                    runs.setdefault(run.agent, []).append(run)
                folder.publish({"jobs_done": index + 1})
                completed += 1
                if tracker is not None:
                    tracker.end_job()
        else:

            def done(index: int, _: list[AgentRun]) -> None:
                nonlocal completed
                completed += 1
                folder.publish({"jobs_done": completed})
                if tracker is not None:  # a remote job reports when it ends, not as it plays
                    tracker.start(index)
                    tracker.end_job()

            # results in the jobs' order: the runs (and so the report) as the local loop's
            for played in backend.map(_job, jobs, shared, done):
                for run in played:
                    runs.setdefault(run.agent, []).append(run)
    finally:
        if tracker is not None:
            tracker.finish(completed)
    test_seconds = float(sum(s.test.seconds for s in splits))
    # each agent's guarded test right after it
    names = [n for name in names for n in (name, name + RISK_SUFFIX) if n in runs]
    summary, ci = {}, {}
    for name in names:
        summary[name], ci[name] = summarize(
            runs[name], config.bootstrap_resamples, config.confidence
        )
    symbols = [str(k) for k in markets] if is_universe else []
    by_symbol: dict[str, dict[str, dict[str, float]]] = {}
    by_symbol_ci: dict[str, dict[str, dict[str, ConfidenceInterval]]] = {}
    for sym in symbols:
        by_symbol[sym], by_symbol_ci[sym] = {}, {}
        for name in names:
            by_symbol[sym][name], by_symbol_ci[sym][name] = summarize(
                [r for r in runs[name] if r.symbol == sym],
                config.bootstrap_resamples,
                config.confidence,
            )
    result = CompareResult(
        agents=names,
        splits=splits,
        runs=runs,
        summary=summary,
        ci=ci,
        verdicts=verdicts_for(names, summary, ci),
        targets={
            n: judge_targets(
                summary[n], test_seconds=test_seconds, min_seconds=config.min_judged_seconds
            )
            for n in names
        },
        config=config,
        budget_steps=budget_steps,
        market=str(market),
        test_seconds=test_seconds,
        symbols=symbols,
        by_symbol=by_symbol,
        by_symbol_ci=by_symbol_ci,
        risk=risk,
    )
    if report:
        from lobzero.evaluation.compare_report import write_compare_report
        from lobzero.evaluation.report_figures import mid_series

        result.market_mid = mid_series(next(iter(markets.values())))
        result.files = write_compare_report(result, out)
        folder.publish({"jobs_done": len(jobs), "report": True})
    return result
