"""Continuous learning on the loop's clock: a daily in-process schedule
(:class:`DailySchedule`, cron-like, driven by the feed's clock, so an accelerated replay runs a
day's schedule in seconds) and the retrain job it runs (:class:`RetrainJob`): build a
challenger from the champion, score both on a validation range neither trained on, pass the
gate, register, promote atomically, log the decision in the replay database."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lobzero.data.market import Market
from lobzero.envs import EnvConfig, TradingEnv
from lobzero.exceptions import ConfigError
from lobzero.live.database import ReplayDatabase
from lobzero.live.gate import GateConfig, gate
from lobzero.live.registry import ModelRegistry

DAY_NS = 86_400 * 10**9


def parse_time_of_day(text: str) -> int:
    """``"HH:MM"`` or ``"HH:MM:SS"`` (UTC) as ns after midnight."""
    parts = text.split(":")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in (2, 3):
        raise ConfigError(f"time of day {text!r}: use HH:MM or HH:MM:SS (UTC)")
    h, m, s = (*values, 0)[:3]
    if not (0 <= h < 24 and 0 <= m < 60 and 0 <= s < 60):
        raise ConfigError(f"time of day {text!r} is out of range")
    return ((h * 60 + m) * 60 + s) * 10**9


class DailySchedule:
    """Runs ``job(clock_ns, loop)`` once a day when the loop's clock passes ``at`` (UTC). The
    first run is the first ``at`` after the clock's first tick; a clock that jumps over several
    days runs the job once, then waits for the next ``at``."""

    def __init__(self, at: str, job: Callable[[int, Any], object]) -> None:
        self.offset_ns = parse_time_of_day(at)
        self.job = job
        self.next_ns: int | None = None
        self.runs: list[int] = []

    def _after(self, clock_ns: int) -> int:
        day = clock_ns - clock_ns % DAY_NS
        due = day + self.offset_ns
        return due if due > clock_ns else due + DAY_NS

    def tick(self, clock_ns: int, loop: Any = None) -> None:
        if self.next_ns is None:
            self.next_ns = self._after(clock_ns)
        if clock_ns >= self.next_ns:
            self.runs.append(clock_ns)
            self.job(clock_ns, loop)
            self.next_ns = self._after(clock_ns)


def validation_sharpe(
    agent: Any, markets: Mapping[str, Market], env_config: EnvConfig, first_ns: int, end_ns: int
) -> float:
    """Mean over the symbols of the agent's annualized Sharpe ratio on the receive times
    ``[first_ns, end_ns)`` (one episode a symbol, hard end ``end_ns``: nothing after it is
    seen); NaN when no symbol's Sharpe is defined."""
    from lobzero.evaluation.robustness import run_episode

    step_ns = round(env_config.step_ms * 1e6)
    steps = max(1, (end_ns - first_ns) // step_ns)
    values = []
    for market in markets.values():
        env = TradingEnv(market, env_config.replace(end_ns=end_ns, episode_steps=int(steps)))
        result = run_episode(agent, env, seed=env_config.seed, start_ns=first_ns)
        values.append(result.metrics.sharpe)
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


#: builds a challenger: (champion agent, markets, train range first_ns, end_ns) -> agent
ChallengerBuilder = Callable[[Any, Mapping[str, Market], int, int], Any]


def tune_imbalance_threshold(env_config: EnvConfig) -> ChallengerBuilder:
    """A challenger builder for the imbalance rule: the threshold (of 0.05 .. 0.6) with the
    best Sharpe on the training range. Other agents have no builder here yet."""
    from lobzero.baselines.rules import ImbalanceAgent

    def build(champion: Any, markets: Mapping[str, Market], first_ns: int, end_ns: int) -> Any:
        if not isinstance(champion, ImbalanceAgent):
            raise ConfigError(
                f"no challenger builder for a {getattr(champion, 'name', type(champion).__name__)} "
                "agent: paper retrains only the imbalance rule so far"
            )
        best, best_sharpe = champion, -math.inf
        for threshold in (0.05, 0.1, 0.2, 0.3, 0.45, 0.6):
            candidate = ImbalanceAgent(list(champion.feature_names), threshold=threshold)
            sharpe = validation_sharpe(candidate, markets, env_config, first_ns, end_ns)
            if math.isfinite(sharpe) and sharpe > best_sharpe:
                best, best_sharpe = candidate, sharpe
        return best

    return build


def _fit_range(env: EnvConfig, first_ns: int, end_ns: int) -> EnvConfig:
    """``env`` restricted to ``[first_ns, end_ns)``, with episodes short enough to start in it
    after the warm-up (half its decisions)."""
    step_ns = round(env.step_ms * 1e6)
    warmup = max(*env.return_horizons, env.volatility_window, env.frame_stack)
    fit = max(1, ((end_ns - first_ns) // step_ns - warmup - 2) // 2)
    return env.replace(start_ns=first_ns, end_ns=end_ns, episode_steps=min(env.episode_steps, fit))


def muzero_budget(config: Any, steps: int) -> Any:
    """The champion's MuZero configuration with a budget of ``steps`` environment steps: the
    warm-up and the checkpoint interval shrink to fit a budget under them (a third of it, and
    the budget), nothing else changes."""
    return config.replace(
        total_env_steps=steps,
        warmup_steps=min(config.warmup_steps, steps // 3),
        checkpoint_interval=min(config.checkpoint_interval, steps),
    )


def retrain_builder(env_config: EnvConfig, steps: int, work_dir: Path) -> ChallengerBuilder:
    """The challenger builder of ``lobzero paper --retrain-at``: the imbalance rule's threshold
    tuned on the training range (:func:`tune_imbalance_threshold`, in ``env_config``); a PPO /
    SAC or MuZero agent trained afresh for ``steps`` environment steps with the champion's own
    configuration (MuZero: :func:`muzero_budget`) and environment on the training range
    (episodes shortened to fit it), saved under ``work_dir``."""
    tune = tune_imbalance_threshold(env_config)

    def build(champion: Any, markets: Mapping[str, Market], first_ns: int, end_ns: int) -> Any:
        from lobzero.agents import agent_env_config
        from lobzero.baselines.rules import ImbalanceAgent
        from lobzero.baselines.sb3 import Sb3Agent, train_sb3
        from lobzero.data.universe import Universe
        from lobzero.muzero import MuZeroAgent, train_muzero

        if isinstance(champion, ImbalanceAgent):
            return tune(champion, markets, first_ns, end_ns)
        market: Any = Universe(dict(markets)) if len(markets) > 1 else next(iter(markets.values()))
        out = Path(work_dir) / f"challenger-{end_ns}"
        if isinstance(champion, MuZeroAgent):
            trained = agent_env_config(champion)
            if trained is None:
                raise ConfigError("a MuZero champion of a gymnasium environment cannot trade")
            env = _fit_range(trained, first_ns, end_ns)
            return train_muzero(
                muzero_budget(champion.config, steps), out, market=market, env_config=env,
                seed=env.seed + 1, progress=False,
            )  # fmt: skip
        if not isinstance(champion, Sb3Agent):
            raise ConfigError(
                f"no challenger builder for a {getattr(champion, 'name', type(champion).__name__)} "
                "agent: paper retrains the imbalance rule, PPO / SAC and MuZero agents"
            )
        env = _fit_range(champion.env_config, first_ns, end_ns)
        return train_sb3(
            champion.algo, market, env, out, seed=env.seed + 1, total_steps=steps,
            config=champion.config, progress=False,
        )  # fmt: skip

    return build


#: the markets a retrain job sees at a clock (ns): a live feed's recording, imported then
MarketSource = Callable[[int], Mapping[str, Market]]

_PROMOTION = ("ts_ns", "kind", "champion", "challenger", "promoted", "reason")


@dataclass(frozen=True)
class RetrainRanges:
    """The receive-time ranges (ns, ``[first, end)``) of one retrain: the challenger trains on
    ``train``, both models are scored on ``validation``; ``seen``: the first and last event
    of the markets the job had (the earliest first, the latest last, over the symbols)."""

    train: tuple[int, int]
    validation: tuple[int, int]
    seen: tuple[int, int]


@dataclass
class RetrainJob:
    """The daily retrain: at clock ``t``, train on ``[t - validation - train, t - validation)``
    and validate both on ``[t - validation, t)`` (the champion was built before ``t - 1 day``
    from earlier data, so with ``validation_s <= 1 day`` neither saw the validation range).

    ``markets``: the complete markets of a replay run, or a :data:`MarketSource` called at
    each run (a live feed's recording up to ``t``:
    :func:`lobzero.live.binance.recording_source`), so the validation range is the last part
    of what the loop saw. Markets that begin after the training range's start are too short:
    the job registers nothing and logs the refusal and its reason in the database. ``runs``:
    the ranges of each run."""

    registry: ModelRegistry
    markets: Mapping[str, Market] | MarketSource
    env_config: EnvConfig
    build: ChallengerBuilder
    db: ReplayDatabase
    train_s: float = 3600.0
    validation_s: float = 600.0
    gate_config: GateConfig = field(default_factory=GateConfig)
    runs: list[RetrainRanges] = field(default_factory=list)

    def ranges(self, clock_ns: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """The training and validation ranges of a retrain at ``clock_ns``."""
        val_first = clock_ns - round(self.validation_s * 1e9)
        return (val_first - round(self.train_s * 1e9), val_first), (val_first, clock_ns)

    def __call__(self, clock_ns: int, loop: Any = None) -> bool:
        """Runs once; returns whether the challenger was promoted."""
        champion_version = self.registry.champion
        if champion_version is None:
            raise ConfigError(f"{self.registry.file}: no champion to retrain")
        markets = self.markets(clock_ns) if callable(self.markets) else self.markets
        (train_first, train_end), (val_first, val_end) = self.ranges(clock_ns)
        starts = [int(m.start_ns) for m in markets.values() if m.start_ns is not None]
        ends = [int(m.end_ns) for m in markets.values() if m.end_ns is not None]
        short = [s for s, m in markets.items() if m.start_ns is None or m.start_ns > train_first]
        self.runs.append(RetrainRanges(
            (train_first, train_end), (val_first, val_end),
            (min(starts, default=-1), max(ends, default=-1)),
        ))  # fmt: skip
        if short or not markets:
            if loop is not None:
                loop.flush()
            late = f"{', '.join(short)} begin after" if short else "no market before"
            reason = (
                f"not enough market seen: {late} the training range's start {train_first} "
                f"({self.train_s:g} s + {self.validation_s:g} s before {clock_ns})"
            )
            self.db.write([("promotions", _PROMOTION,
                            (clock_ns, "retrain", champion_version, None, 0, reason))])  # fmt: skip
            return False
        champion = self.registry.load(champion_version)
        challenger = self.build(champion, markets, train_first, train_end)
        score = lambda agent, a, b: validation_sharpe(agent, markets, self.env_config, a, b)  # noqa: E731
        champ_val = score(champion, val_first, val_end)
        chall_val = score(challenger, val_first, val_end)
        chall_train = score(challenger, train_first, train_end)
        decision = gate(champ_val, chall_val, chall_train, self.gate_config)
        version = self.registry.register(
            challenger,
            {"train_sharpe": chall_train, "validation_sharpe": chall_val},
            parent=champion_version,
        )
        self.registry.set_scores(champion_version, {f"validation_sharpe@{clock_ns}": champ_val})
        # the decisions so far, then the database's record of the decision, then the registry:
        # a crash between the last two is finished by reconcile() on restart
        if loop is not None:
            loop.flush()
        promotion = (clock_ns, "retrain", champion_version, version, int(decision.promoted))
        model = (version, str(self.registry.get(version).path), clock_ns)
        scores = json.dumps({
            "train_sharpe": chall_train, "validation_sharpe": chall_val,
            "train_ns": [train_first, train_end], "validation_ns": [val_first, val_end],
        })  # fmt: skip
        self.db.write([
            ("promotions", _PROMOTION, (*promotion, decision.reason)),
            ("models", ("version", "path", "created_ns", "scores"), (*model, scores)),
        ])  # fmt: skip
        if decision.promoted:
            self.registry.promote(version)
            if loop is not None:
                loop.set_agent(challenger, version)
        return decision.promoted


def reconcile(registry: ModelRegistry, db: ReplayDatabase) -> str | None:
    """Finishes a promotion the database logged but the registry did not record (a crash
    between the two writes, which the retrain job and ``paper rollback`` make in that order):
    when the database's last promotion or rollback names another champion than the
    registry's, the registry follows. Returns the version made champion, or None."""
    rows = [p for p in db.promotions() if p[4]]
    if not rows:
        return None
    _, kind, _, challenger, _, _ = rows[-1]
    names = {v.version for v in registry.versions()}
    if challenger in names and registry.champion != challenger:
        if kind == "rollback":
            registry.rollback()
        else:
            registry.promote(challenger)
        return str(challenger)
    return None
