"""The paper-trading loop: a :class:`~lobzero.live.feeds.Feed` drives the clock, the agent
decides on each symbol every decision interval, a risk filter may change each intended action,
a :class:`~lobzero.live.broker.Broker` executes it, and everything goes to the
:class:`~lobzero.live.database.ReplayDatabase`.

Timeline of one symbol (time clock, ``step`` between decisions): the decision at ``t`` is made
on the observation of the book at ``t``; it is executed once the feed's clock has reached
``t + max(step, latency)`` (the events it fills against and the next observation's have then
arrived), which gives the observation of the decision at ``t + step``.

Decision budget: each decision's wall time (the agent's ``act`` on one observation) is measured
and stored. A decision slower than ``decision_budget_ms`` is not executed as decided: the
``over_budget`` policy replaces it, ``"hold"`` (keep the position) or ``"last"`` (the previous
executed action; hold on the first decision), and the row records ``over_budget = 1`` next to
the intended action. (A late action would reach a book that has moved on.)

Risk: the risk filter sees each decision's action (after the over-budget policy) when it is
executed, with the state it was decided in. A filter with ``state()`` / ``restore()`` (the risk
stack: breaker state, trailing stops, pyramiding steps, kill-switch window) has its state taken
after each decision row and stored with the commit (table ``risk_state``); a resume restores
it, so a halted breaker stays halted after a ``kill -9``.

Resume: rows are written in transactions of ``commit_every`` decisions with their fills and
transitions. On start, the loop replays the database's decisions through the broker (the
environment is deterministic, so positions, cash and the last event time come back exactly; an
equity that differs is a :class:`ConfigError`: another market or configuration) and the feed
resumes after the last executed decision.

Live feeds: with a broker that has ``ready(symbol)`` (the
:class:`~lobzero.live.live_market.LivePaperBroker` of a Binance feed), a first run opens every
symbol once each one's book has arrived, at the feed's clock then; its markets grow as the feed
delivers (see :mod:`lobzero.live.live_market`).

Faults (:mod:`lobzero.live.faults` injects each): a batch of events at or before the symbol's
last accepted one (by receive time, and by row id where the feed numbers its events) is
dropped, counted as a duplicate (the same key) or out of order; rows missing before an
accepted batch are a gap (a ``gap`` health event; the replay broker executes on the whole
recording, a live feed resyncs its book itself). A disconnect (the feed's iterator raises
:class:`ConnectionError`) is counted, the loop calls ``feed.reconnect`` and iterates again
(at most ``max_reconnects`` times). The heartbeat: a feed clock that moves more than
``stall_s`` market seconds between two batches is a ``stall`` health event. A crash of the
agent's ``act`` is logged (``agent_crash``) and retried, up to ``worker_retries`` calls in all
(the retry's latency counts against the decision budget); a persistent failure raises (the
process dies; the same command resumes from the database). A crash of a broker step is
logged (``broker_crash``) and the symbol is restarted: the buffered rows are committed, the
symbol's broker reopened and its decisions replayed from the database (as a resume does), and
the pending decision executed again (up to ``worker_retries`` restarts, then the loop raises).
The other symbols go on untouched. The counts are :attr:`PaperLoop.counters`, stored at the
end as a ``counters`` health event.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from lobzero.config import TomlConfig
from lobzero.envs import EnvConfig
from lobzero.exceptions import ConfigError
from lobzero.live.broker import Broker, Execution
from lobzero.live.database import DECISION_COLUMNS, SHADOW_COLUMNS, ReplayDatabase
from lobzero.live.feeds import Feed, MarketEvents
from lobzero.live.gate import GateConfig

#: the loop's counters (:attr:`PaperLoop.counters`): batches and events accepted, batches
#: dropped as duplicates or out of order, gaps (and the events they miss), stalls, disconnects,
#: crashes of the agent and of the broker, symbol restarts
HEALTH_COUNTERS = (
    "batches", "events", "duplicates", "out_of_order", "gaps", "gap_events", "stalls",
    "disconnects", "agent_crashes", "broker_crashes", "restarts", "shadow_crashes",
)  # fmt: skip


def _paper_env() -> EnvConfig:
    return EnvConfig(max_position=0.01, initial_cash=10_000.0)


@dataclass(frozen=True)
class PaperConfig(TomlConfig):
    """Settings of ``lobzero paper`` (TOML; table ``[env]`` the execution and observations)."""

    #: wall time a decision may take, ms (over it, the over_budget policy acts)
    decision_budget_ms: float = 5000.0
    #: "hold" (keep the position) or "last" (repeat the last executed action) when over budget
    over_budget: Literal["hold", "last"] = "hold"
    #: decisions written per database transaction
    commit_every: int = 64
    #: stop after this much market time, seconds (none: the feed's end)
    duration_s: float | None = None
    #: retrain: market seconds of the training range before the validation range
    retrain_train_s: float = 3600.0
    #: retrain: market seconds of the validation range just before the retrain (<= 1 day)
    retrain_validation_s: float = 600.0
    #: retrain: environment steps of a PPO / SAC challenger trained afresh
    retrain_steps: int = 20_000
    #: a feed clock that jumps more than this many market seconds between two batches is a
    #: stall (a health event)
    stall_s: float = 5.0
    #: reconnects after a feed disconnect before the loop gives up (raises)
    max_reconnects: int = 1000
    #: calls of a crashed agent's act (or restarts of a symbol whose broker step crashed) for
    #: one decision before the loop gives up and raises
    worker_retries: int = 3
    env: EnvConfig = field(default_factory=_paper_env)
    gate: GateConfig = field(default_factory=GateConfig)

    def __post_init__(self) -> None:
        if not self.decision_budget_ms > 0:
            raise ConfigError(
                f"PaperConfig.decision_budget_ms must be > 0, got {self.decision_budget_ms}"
            )
        if self.commit_every < 1:
            raise ConfigError(f"PaperConfig.commit_every must be >= 1, got {self.commit_every}")
        if self.duration_s is not None and not self.duration_s > 0:
            raise ConfigError(f"PaperConfig.duration_s must be > 0, got {self.duration_s}")
        if not self.stall_s > 0 or self.max_reconnects < 0 or self.worker_retries < 1:
            raise ConfigError(
                "PaperConfig.stall_s must be > 0, max_reconnects >= 0 and worker_retries >= 1"
            )
        if not 0 < self.retrain_validation_s <= 86_400 or not self.retrain_train_s > 0:
            raise ConfigError(
                "PaperConfig.retrain_validation_s must be in (0, 86400] and retrain_train_s > 0"
            )


@dataclass(frozen=True)
class IntendedAction:
    """An action the agent wants executed, before the risk layer sees it: ``symbol``, the
    decision time ``ts_ns``, the ``action`` and the broker's last ``info`` (position, equity,
    cash, mark)."""

    symbol: str
    ts_ns: int
    action: Any
    info: dict[str, Any]


class RiskFilter(Protocol):
    """The risk layer's seam: called with each intended action (after the over-budget
    policy), returns the action to execute (the same, a smaller one, or hold)."""

    def __call__(self, intent: IntendedAction, /) -> Any:
        """The action to execute instead of ``intent.action``."""
        ...


class Agent(Protocol):
    def act(self, obs_batch: np.ndarray) -> np.ndarray: ...


@dataclass
class SymbolState:
    """Where one symbol's run stands: the observation of the pending decision, its time, the
    decision made on it (``pending``), and the last broker info."""

    obs: np.ndarray
    ts_ns: int
    info: dict[str, Any]
    step: int = 0
    done: bool = False
    pending: dict[str, Any] | None = None
    last_action: Any = None
    latencies_ms: list[float] = field(default_factory=list)
    over_budget: int = 0
    fills: int = 0


def _action_value(action: Any) -> float:
    return float(np.asarray(action).reshape(-1)[0])


class PaperLoop:
    """The loop (see the module docs). ``risk``: applied to every intended action (None: the
    action as decided). ``on_update(loop)`` is called after each feed slice that executed
    something (the live view). ``scheduler``: ``tick(clock_ns, loop)`` after each slice (the
    retrain job). ``shadow``: a challenger that decides on each observation beside the agent
    (after it: its time is not the agent's) without trading; its decisions go to the
    ``shadow_decisions`` table as ``shadow_version`` (``lobzero paper ab`` compares them)."""

    def __init__(
        self,
        feed: Feed,
        broker: Broker,
        agent: Agent,
        db: ReplayDatabase,
        config: PaperConfig,
        model_version: str = "v0",
        risk: RiskFilter | None = None,
        on_update: Callable[[PaperLoop], None] | None = None,
        scheduler: Any = None,
        start_ns: int | None = None,
        shadow: Agent | None = None,
        shadow_version: str = "shadow",
    ) -> None:
        self.feed, self.broker, self.agent, self.db = feed, broker, agent, db
        self.config, self.model_version, self.risk = config, model_version, risk
        self.on_update, self.scheduler = on_update, scheduler
        self.states: dict[str, SymbolState] = {}
        self.clock_ns = 0
        self._rows: list[tuple[str, tuple[str, ...], tuple[Any, ...]]] = []
        self._decisions_buffered = 0
        self.committed = 0
        self.resumed_steps = 0
        self._start_ns = start_ns
        self._discrete = config.env.action_mode != "continuous"
        self.shadow, self.shadow_version = shadow, shadow_version
        self._start = 0
        #: what the loop saw of the feed and the workers (see the module docs)
        self.counters: dict[str, int] = dict.fromkeys(HEALTH_COUNTERS, 0)
        #: per symbol, the last batch accepted: (last receive time, end row)
        self._last_batch: dict[str, tuple[int, int]] = {}
        #: per symbol, the first row accepted (replay feeds number their rows)
        self.first_row: dict[str, int] = {}
        #: the risk filter's state, taken after each decision row (stored with the commit)
        self._risk_state: Callable[[], bytes] | None = getattr(risk, "state", None)
        self._risk_snapshot: bytes | None = None

    # -- start and resume ----------------------------------------------------------------------
    def open(self) -> int:
        """Opens every symbol, replaying the database's decisions; returns the receive time the
        feed resumes after (ns)."""
        env = self.config.env.to_dict()
        meta = self.db.meta()
        if meta:
            if meta.get("env") != env or meta.get("symbols") != self.feed.symbols:
                raise ConfigError(
                    f"{self.db.path} holds a run of other symbols or another environment "
                    f"(symbols {meta.get('symbols')}); use a new --db"
                )
            start = int(meta["start_ns"])
        else:
            start = self._start_ns if self._start_ns is not None else self._common_start()
            self.db.set_meta({"start_ns": start, "symbols": self.feed.symbols, "env": env})
        self._start = start
        for symbol in self.feed.symbols:
            self.states[symbol] = self._open_symbol(symbol, start)
            self.resumed_steps += self.states[symbol].step
        stored = self.db.risk_state() if meta else None
        if stored is not None and self.risk is not None and hasattr(self.risk, "restore"):
            self.risk.restore(stored)
        self.committed = self.resumed_steps
        return min(s.ts_ns for s in self.states.values())

    def _open_symbol(self, symbol: str, start: int) -> SymbolState:
        """Opens ``symbol`` at ``start`` and replays its stored decisions through the broker."""
        obs, info = self.broker.open(symbol, start)
        state = SymbolState(obs=obs, ts_ns=int(info["ts_ns"]), info=info)
        for row in self.db.decisions(symbol):
            action = int(row["action"]) if self._discrete else np.float32(row["action"])
            ex = self.broker.execute(symbol, action)
            if ex.info["equity"] != row["equity"] or int(ex.info["ts_ns"]) != row["next_ts_ns"]:
                raise ConfigError(
                    f"{self.db.path}: replaying {symbol} step {row['step']} gives equity "
                    f"{ex.info['equity']} at {ex.info['ts_ns']}, the database holds "
                    f"{row['equity']} at {row['next_ts_ns']} (another market or config)"
                )
            state.obs, state.ts_ns, state.info = ex.obs, int(ex.info["ts_ns"]), ex.info
            state.step, state.done, state.last_action = row["step"] + 1, ex.done, action
            state.fills += len(ex.fills)
        return state

    def _common_start(self) -> int:
        markets = getattr(self.broker, "markets", None)
        if not markets:
            raise ConfigError("the loop needs a start time (start_ns) for this broker")
        return max(int(m.start_ns) for m in markets.values())

    # -- one decision --------------------------------------------------------------------------
    def _decide(self, symbol: str, state: SymbolState) -> None:
        began = time.perf_counter()
        intended: Any = None
        failures: list[str] = []
        for attempt in range(self.config.worker_retries):
            try:
                intended = self.agent.act(state.obs[None, :])[0]
                break
            except Exception as e:
                if attempt == self.config.worker_retries - 1:
                    # a persistent failure: the process dies, a restart resumes
                    raise
                failures.append(f"{type(e).__name__}: {e}")
        latency_ms = (time.perf_counter() - began) * 1e3
        if failures:
            self.counters["agent_crashes"] += len(failures)
            self._health(symbol, state.ts_ns, "agent_crash", f"{len(failures)} x {failures[0]}")
        action: Any = intended
        over = latency_ms > self.config.decision_budget_ms
        if over:
            state.over_budget += 1
            if self.config.over_budget == "last" and state.last_action is not None:
                action = state.last_action
            else:
                action = self.broker.hold_action(symbol)
        state.latencies_ms.append(latency_ms)
        state.pending = {
            "intended": intended,
            "action": action,
            "latency_ms": latency_ms,
            "over_budget": int(over),
            "policy": getattr(self.agent, "last_policy", None),
            "value": getattr(self.agent, "last_value", None),
            "model_version": self.model_version,
            "shadow": self._shadow_decide(symbol, state),
        }

    def _shadow_decide(self, symbol: str, state: SymbolState) -> tuple[Any, ...] | None:
        """The shadow's row for this decision (its action on the champion's observation), or
        None without a shadow; a crash of the shadow is a health event, never the loop's."""
        if self.shadow is None:
            return None
        began = time.perf_counter()
        try:
            action = self.shadow.act(state.obs[None, :])[0]
        except Exception as e:  # the shadow must not stop the champion
            self.counters["shadow_crashes"] += 1
            self._health(symbol, state.ts_ns, "shadow_crash", f"{type(e).__name__}: {e}")
            return None
        latency_ms = (time.perf_counter() - began) * 1e3
        policy = getattr(self.shadow, "last_policy", None)
        value = getattr(self.shadow, "last_value", None)
        return (
            symbol, state.step, state.ts_ns, _action_value(action),
            None if policy is None else json.dumps(np.asarray(policy).tolist()),
            None if value is None else float(value), latency_ms, self.shadow_version,
        )  # fmt: skip

    def _execute(self, symbol: str, state: SymbolState) -> None:
        assert state.pending is not None
        if self.risk is not None and not state.pending.get("risk_applied"):
            # at the order, not at the decision: every risk call then belongs to a decision
            # row, so the state stored with a commit is that of the committed decisions
            intent = IntendedAction(symbol, state.ts_ns, state.pending["action"], state.info)
            state.pending["action"] = self.risk(intent)
            state.pending["risk_applied"] = True
        for attempt in range(self.config.worker_retries + 1):
            try:
                ex: Execution = self.broker.execute(symbol, state.pending["action"])
                break
            except Exception as e:
                if attempt == self.config.worker_retries:
                    raise
                # the symbol's environment may be half stepped: restart the symbol from the
                # database (its committed decisions replayed), then execute the pending one
                self.counters["broker_crashes"] += 1
                self._health(symbol, state.ts_ns, "broker_crash", f"{type(e).__name__}: {e}")
                self.flush()
                fresh = self._open_symbol(symbol, self._start)
                # the same object (the caller holds it); the decision in hand and the latency
                # statistics stay
                state.obs, state.ts_ns, state.info = fresh.obs, fresh.ts_ns, fresh.info
                state.step, state.done, state.fills = fresh.step, fresh.done, fresh.fills
                state.last_action = fresh.last_action
                self.counters["restarts"] += 1
        p, obs, ts = state.pending, state.obs, state.ts_ns
        i = ex.info
        policy = p["policy"]
        decision = (
            symbol, state.step, ts, f"transitions:{symbol}:{state.step}",
            _action_value(p["intended"]), _action_value(p["action"]),
            None if policy is None else json.dumps(np.asarray(policy).tolist()),
            None if p["value"] is None else float(p["value"]),
            p["latency_ms"], p["over_budget"], p["model_version"], float(i["equity"]),
            float(i["cash"]), float(i["position"]), float(i["mark"]), float(i["fees"]),
            int(i["ts_ns"]), int(ex.done),
        )  # fmt: skip
        self._rows.append(("decisions", DECISION_COLUMNS, decision))
        if self._risk_state is not None:
            self._risk_snapshot = self._risk_state()
        if p["shadow"] is not None:
            self._rows.append(("shadow_decisions", SHADOW_COLUMNS, p["shadow"]))
        for k, (fts, side, price, size, fee) in enumerate(ex.fills):
            self._rows.append((
                "fills", ("symbol", "step", "k", "ts_ns", "side", "price", "size", "fee"),
                (symbol, state.step, k, int(fts), int(side), float(price), float(size), float(fee)),
            ))  # fmt: skip
        self._rows.append((
            "transitions", ("symbol", "step", "obs", "action", "reward", "next_obs", "done"),
            (symbol, state.step, np.asarray(obs, np.float32).tobytes(),
             _action_value(p["action"]), ex.reward, np.asarray(ex.obs, np.float32).tobytes(),
             int(ex.done)),
        ))  # fmt: skip
        state.fills += len(ex.fills)
        state.last_action = p["action"]
        state.obs, state.ts_ns, state.info = ex.obs, int(i["ts_ns"]), i
        state.step += 1
        state.done = ex.done
        state.pending = None
        self._decisions_buffered += 1
        if self._decisions_buffered >= self.config.commit_every:
            self.flush()

    def _health(self, symbol: str, ts_ns: int, kind: str, detail: str) -> None:
        self._rows.append(
            ("feed_health", ("symbol", "ts_ns", "kind", "detail"), (symbol, ts_ns, kind, detail))
        )

    def accept(self, batch: MarketEvents) -> bool:
        """Whether to take ``batch``: a batch at or before the symbol's last accepted one (by
        receive time, and by row where the feed numbers them) is a duplicate (the same key)
        or out of order, dropped and counted; rows skipped before it are a gap (a health
        event)."""
        last = self._last_batch.get(batch.symbol)
        key = (batch.last_ns, batch.end_row)
        if last is not None and (batch.last_ns < last[0] or batch.end_row < last[1]
                                 or key == last):  # fmt: skip
            kind = "duplicates" if key == last else "out_of_order"
            self.counters[kind] += 1
            return False
        expected = last[1] if last is not None else -1
        if batch.start_row >= 0 and expected >= 0 and batch.start_row > expected:
            missing = batch.start_row - expected
            self.counters["gaps"] += 1
            self.counters["gap_events"] += missing
            self._health(batch.symbol, batch.first_ns, "gap", f"rows {expected}..{batch.start_row}")
        self._last_batch[batch.symbol] = key
        self.first_row.setdefault(batch.symbol, batch.start_row)
        self.counters["batches"] += 1
        self.counters["events"] += batch.count
        return True

    def last_row(self, symbol: str) -> int:
        """The end row of the symbol's last accepted batch (-1: none, or a live feed)."""
        return self._last_batch.get(symbol, (0, -1))[1]

    def flush(self) -> None:
        """Commits the buffered rows (and the feed's health events) in one transaction."""
        health: list[tuple[str, tuple[str, ...], tuple[Any, ...]]] = [
            (
                "feed_health",
                ("symbol", "ts_ns", "kind", "detail"),
                (h.symbol, h.ts_ns, h.kind, h.detail),
            )
            for h in self.feed.health_events()
        ]
        if self._risk_snapshot is not None:
            health.append(("risk_state", ("id", "state"), (0, self._risk_snapshot)))
            self._risk_snapshot = None
        rows, self._rows = self._rows + health, []
        flush_feed = getattr(self.feed, "flush", None)
        if flush_feed is not None:
            # a live feed's recording first: the events of every committed decision are on disk
            flush_feed()
        if rows:
            self.db.write(rows)
        self.committed += self._decisions_buffered
        self._decisions_buffered = 0

    # -- the loop ------------------------------------------------------------------------------
    def _stop_ns(self) -> int | None:
        """The market time the run stops at (``duration_s`` after its start), or None."""
        if self.config.duration_s is None:
            return None
        return int(self.db.meta()["start_ns"]) + round(self.config.duration_s * 1e9)

    def set_agent(self, agent: Agent, version: str) -> None:
        """Swaps the deciding agent (a promotion); decisions from now on carry ``version``."""
        self.agent, self.model_version = agent, version

    def advance(self, clock_ns: int) -> int:
        """Executes every decision the clock has reached; returns how many."""
        self.clock_ns = max(self.clock_ns, clock_ns)
        wait = int(getattr(self.broker, "wait_ns", 0))
        executed = 0
        for symbol, state in self.states.items():
            while not state.done and self.clock_ns >= state.ts_ns + wait:
                if state.pending is None:
                    self._decide(symbol, state)
                self._execute(symbol, state)
                executed += 1
            if not state.done and state.pending is None:
                self._decide(symbol, state)
        return executed

    async def run(self) -> None:
        """Runs until the feed ends, every symbol is done, or ``duration_s`` of market time."""
        feed = self.feed
        ready = getattr(self.broker, "ready", None)
        # a live broker's first run opens once every symbol's book has arrived (a resume
        # opens at once: its market is primed from the feed's recording)
        deferred = ready is not None and not self.db.meta()
        stop: int | None = None
        if not deferred:
            resume_ns = self.open()
            if hasattr(feed, "start_ns") and getattr(feed, "start_ns", None) is None:
                feed.start_ns = resume_ns  # type: ignore[attr-defined]
            stop = self._stop_ns()
        await feed.connect()
        stall_ns = round(self.config.stall_s * 1e9)
        last_clock = int(getattr(feed, "clock_ns", 0))
        finished = False
        while not finished:
            try:
                async for batch in feed:
                    if not self.accept(batch):
                        continue
                    clock = int(getattr(feed, "clock_ns", batch.last_ns))
                    if deferred:
                        assert ready is not None
                        if not all(ready(s) for s in feed.symbols):
                            last_clock = clock
                            continue
                        deferred = False
                        self._start_ns = clock
                        self.open()
                        stop = self._stop_ns()
                    if clock - last_clock > stall_ns:
                        # the heartbeat: no batch for stall_s of market time
                        self.counters["stalls"] += 1
                        beat = feed.heartbeat()
                        self._health("*", last_clock, "stall",
                                     f"{(clock - last_clock) / 1e9:.1f} s without events "
                                     f"(feed {beat.kind})")  # fmt: skip
                    last_clock = max(last_clock, clock)
                    if stop is not None:
                        clock = min(clock, stop)
                    executed = self.advance(clock)
                    if self.scheduler is not None:
                        self.scheduler.tick(clock, self)
                    if executed and self.on_update is not None:
                        self.on_update(self)
                    if all(s.done for s in self.states.values()) or (
                        stop is not None and clock >= stop
                    ):
                        break
                finished = True
            except ConnectionError as e:
                self.counters["disconnects"] += 1
                if self.counters["disconnects"] > self.config.max_reconnects:
                    self.flush()
                    raise
                await feed.reconnect(f"{type(e).__name__}: {e}")
        self._health("*", self.clock_ns, "counters", json.dumps(self.counters))
        self.flush()
        if self.on_update is not None:
            self.on_update(self)
