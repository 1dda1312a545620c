"""What :func:`lobzero.evaluation.compare.compare` shows while it runs: the plan with an
estimated time before it starts, then one overall bar (with an ETA) and one bar per agent that
moves during training (env steps) and evaluation (decisions of the validation and test
episodes). On stderr: rich bars when stderr is a terminal, else one plain line at each job's
start and every :data:`lobzero.progress.PLAIN_INTERVAL_S` seconds.

The estimate is a model: each agent's seconds per training env step and per evaluation
decision with compare's built-in settings, measured on the 2-core development machine with one
other training job on the second core (2026-12-01): ``lobzero compare --config
examples/configs/compare_synth.toml --agents muzero,ppo,sac,imbalance,buy_and_hold,random,flat
--seeds 3 --steps 20000 --synth-seconds 7200`` trained MuZero in 387-411 s a seed (about 60 s of
it scoring 4 checkpoints on 4 validation episodes), PPO in 5 s and SAC in 34-35 s, and played
each seed's 4 test episodes (1,200 decisions) in 4-7 s (MuZero), under 0.5 s (the others).
50-simulation PUCT MuZero and Stochastic MuZero were not measured on this setup: Gumbel
MuZero's figure times 6.7 (issue 15: 943 s for 1,000 steps, against 0.14 s a step for Gumbel
then) and times 1.5 (its larger model).
Progress is counted in these estimated seconds, so the bars' ETA corrects the model by the
speed actually seen.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from lobzero.progress import PLAIN_INTERVAL_S, PlainTicker, duration, progress_console

#: seconds per training env step (all of an agent's vector environments together) with
#: compare's built-in settings (see the module docstring for how each was measured)
TRAIN_SECONDS_PER_STEP: dict[str, float] = {
    "muzero": 0.017,
    "muzero_puct": 0.11,
    "stochastic_muzero": 0.026,
    "ppo": 0.0002,
    "sac": 0.0017,
}
#: seconds per decision of one evaluation episode (episodes played in lockstep batches; a
#: MuZero decision is one batched search, like a warm-up step)
DECISION_SECONDS: dict[str, float] = {
    "muzero": 0.012,
    "muzero_puct": 0.04,
    "stochastic_muzero": 0.018,
    "ppo": 0.0004,
    "sac": 0.0004,
}
#: a rule agent's decision (and any agent missing above)
RULE_DECISION_SECONDS = 0.0004


@dataclass
class Job:
    """One agent, fold and seed of a comparison; the estimated seconds of its training and of
    its evaluation (validation at each checkpoint, then the test episodes)."""

    agent: str
    fold: int
    seed: int
    train_steps: int
    eval_decisions: int
    seconds_per_step: float
    seconds_per_decision: float
    #: compare's ``budget_seconds`` (None: no time budget): training ends when it is spent
    max_train_seconds: float | None = None

    @property
    def train_estimate(self) -> float:
        seconds = self.train_steps * self.seconds_per_step
        return seconds if self.max_train_seconds is None else min(seconds, self.max_train_seconds)

    @property
    def estimate(self) -> float:
        return self.train_estimate + self.eval_decisions * self.seconds_per_decision


def make_job(
    agent: str,
    fold: int,
    seed: int,
    *,
    learned: bool,
    budget_steps: int,
    checkpoints: int,
    validation_episodes: int,
    test_episodes: int,
    episode_steps: int,
    budget_seconds: float = 0.0,
) -> Job:
    """The :class:`Job` of ``agent`` with the model's constants (a rule agent does not
    train)."""
    decisions = test_episodes * episode_steps
    if learned:
        decisions += checkpoints * validation_episodes * episode_steps
    return Job(
        agent,
        fold,
        seed,
        budget_steps if learned else 0,
        decisions,
        TRAIN_SECONDS_PER_STEP.get(agent, 0.0),
        DECISION_SECONDS.get(agent, RULE_DECISION_SECONDS),
        budget_seconds if learned and budget_seconds > 0 else None,
    )


class CompareProgress:
    """The plan, the bars and the plain lines of a comparison over ``jobs`` (in run order).

    The comparison calls :meth:`start` before each job, :meth:`trained` with the env steps
    done while it trains, :meth:`evaluated` with the decisions played, and :meth:`finish`.
    """

    def __init__(
        self, jobs: list[Job], interval_s: float = PLAIN_INTERVAL_S, console: Any = None
    ) -> None:
        self.jobs = jobs
        self.total = sum(j.estimate for j in jobs) or 1.0
        self.done_before = 0.0  # estimated seconds of the jobs finished
        self.job: Job | None = None
        self.job_index = 0
        self.steps = 0
        self.decisions = 0
        self.phase = ""
        self.started = time.perf_counter()
        self.job_started = self.started
        self.lock = threading.Lock()
        self.console = console or progress_console()
        self.bar: Any = None
        self.ticker: PlainTicker | None = None
        self.interval_s = interval_s
        self.agents = list(dict.fromkeys(j.agent for j in jobs))
        self.agent_done = dict.fromkeys(self.agents, 0.0)
        self.agent_total = {a: sum(j.estimate for j in jobs if j.agent == a) for a in self.agents}

    # ------------------------------------------------------------------ plan
    def plan_lines(self, market: str, budget_steps: int, seeds: list[int], folds: int) -> list[str]:
        """What will run and how long the model expects it to take."""
        per_agent = ", ".join(
            f"{a} {duration(self.agent_total[a])}" for a in self.agents if self.agent_total[a]
        )
        learned = [a for a in self.agents if any(j.train_steps for j in self.jobs if j.agent == a)]
        seed_word = "seed" if len(seeds) == 1 else "seeds"
        fold_word = "fold" if folds == 1 else "folds"
        lines = [
            f"compare: {len(self.agents)} agents ({', '.join(self.agents)}) x {len(seeds)} "
            f"{seed_word} ({', '.join(map(str, seeds))}) x {folds} {fold_word} on {market}",
            (
                f"budget: {budget_steps:,} training env steps{self._time_budget()} per learned "
                f"agent ({', '.join(learned)}), seed and fold"
                if learned
                else "budget: no learned agent, nothing trains"
            ),
            f"estimated time: {duration(self.total)} (per agent: {per_agent}; model: "
            "lobzero.evaluation.compare_progress, measured on 2 shared cores)",
        ]
        return lines

    def _time_budget(self) -> str:
        limits = {j.max_train_seconds for j in self.jobs if j.max_train_seconds is not None}
        if not limits:
            return ""
        return f" or {duration(max(limits))} of training, whichever comes first,"

    def show_plan(self, market: str, budget_steps: int, seeds: list[int], folds: int) -> None:
        for line in self.plan_lines(market, budget_steps, seeds, folds):
            self.console.print(line, highlight=False, soft_wrap=True)

    # ------------------------------------------------------------------ display
    def begin(self) -> None:
        """Starts the bars (terminal) or the plain-line ticker."""
        if self.console.is_terminal:
            from rich.progress import (
                BarColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[info]}"),
                console=self.console,
            )
            self.overall = self.bar.add_task("overall", total=self.total, info="")
            self.tasks = {
                # an agent's clock starts with its first job
                a: self.bar.add_task(
                    a, total=self.agent_total[a] or 1.0, info="waiting", start=False
                )
                for a in self.agents
            }
            self.bar.start()
        else:
            self.ticker = PlainTicker(self.say, self.interval_s)

    def _job_done(self) -> float:
        """Estimated seconds of the current job done so far."""
        j = self.job
        if j is None:
            return 0.0
        done = min(self.steps, j.train_steps) * j.seconds_per_step
        if j.max_train_seconds is not None:
            # a time budget ends training by the clock (validation included): count the time
            done = max(done, time.perf_counter() - self.job_started)
            done = j.train_estimate if self.phase == "test" else min(done, j.train_estimate)
        done += min(self.decisions, j.eval_decisions) * j.seconds_per_decision
        return min(done, j.estimate)

    def _info(self) -> str:
        j = self.job
        if j is None:
            return ""
        where = f"seed {j.seed} fold {j.fold}"
        if self.phase == "train":
            return f"{where}: training {self.steps:,}/{j.train_steps:,} env steps"
        return f"{where}: {self.phase} {self.decisions:,}/{j.eval_decisions:,} decisions"

    def _refresh(self) -> None:
        if self.bar is None or self.job is None:
            return
        job_done = self._job_done()
        self.bar.update(self.overall, completed=self.done_before + job_done)
        a = self.job.agent
        self.bar.update(self.tasks[a], completed=self.agent_done[a] + job_done, info=self._info())

    def fraction(self) -> float:
        with self.lock:
            return min(1.0, (self.done_before + self._job_done()) / self.total)

    def say(self) -> None:
        """The plain progress line."""
        elapsed = time.perf_counter() - self.started
        done = self.fraction()
        left = elapsed / done * (1 - done) if done > 0.01 else self.total * (1 - done)
        job = (
            f"; job {self.job_index + 1}/{len(self.jobs)} {self.job.agent} {self._info()}"
            if self.job is not None
            else ""
        )
        self.console.print(
            f"compare: {done:.0%} done, {duration(elapsed)} elapsed, about "
            f"{duration(left)} left{job}",
            highlight=False,
            soft_wrap=True,
        )

    # ------------------------------------------------------------------ events
    def start(self, index: int) -> None:
        with self.lock:
            self.job_index, self.job = index, self.jobs[index]
            self.steps, self.decisions = 0, 0
            self.job_started = time.perf_counter()
            self.phase = "train" if self.job.train_steps else "test"
        if self.ticker is not None:
            self.say()
        if self.bar is not None:
            self.bar.start_task(self.tasks[self.jobs[index].agent])
        self._refresh()

    def trained(self, env_steps: int) -> None:
        self.steps = env_steps
        self._refresh()

    def evaluated(self, decisions: int, phase: str) -> None:
        """``decisions`` more evaluation decisions played; ``phase`` "validation" or "test"."""
        with self.lock:
            self.decisions += decisions
            self.phase = phase
        self._refresh()

    def end_job(self) -> None:
        with self.lock:
            assert self.job is not None
            self.done_before += self.job.estimate
            self.agent_done[self.job.agent] += self.job.estimate
            self.job = None
        if self.bar is not None:
            self.bar.update(self.overall, completed=self.done_before)
            for a in self.agents:
                self.bar.update(self.tasks[a], completed=self.agent_done[a])

    def finish(self, completed: int | None = None) -> None:
        """Stops the display; ``completed``: the jobs that finished (all, unless the run was
        stopped early, by a signal or an error)."""
        done = len(self.jobs) if completed is None else completed
        if self.bar is not None:
            self.bar.stop()
        if self.ticker is not None:
            self.ticker.stop()
            took = duration(time.perf_counter() - self.started)
            self.console.print(
                f"compare: done, {done} jobs in {took}"
                if done == len(self.jobs)
                else f"compare: stopped after {done} of {len(self.jobs)} jobs, {took}",
                highlight=False,
            )
