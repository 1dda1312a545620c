"""Fault injection for the paper loop: wrappers that make a feed, an agent or a broker fail
the way live ones do, at seeded random moments, and count what they did (the ground truth the
loop's own counters are checked against).

- :class:`FaultyFeed` (around any :class:`~lobzero.live.feeds.Feed`): drops event batches
  (a gap in the sequence: the rows ``[start_row, end_row)`` never arrive), duplicates one
  (delivered twice), delivers two of a symbol out of order (the later first), stalls
  (withholds ``stall_s`` of market time, then delivers the backlog at once) and disconnects
  (the iterator raises :class:`FeedDisconnectedError`, losing the batch in hand; the consumer
  reconnects through :meth:`Feed.reconnect` and iterates again, and the wrapped feed goes on
  where it was).
- :class:`FaultyAgent`: ``act`` raises :class:`WorkerCrashError` at random calls.
- :class:`FaultyBroker`: ``execute`` raises :class:`WorkerCrashError` before stepping, once at each
  of a random set of decision indices (a restarted symbol that replays its decisions passes
  them: a crash fires once).

How :class:`~lobzero.live.orchestrator.PaperLoop` handles each is in its module docs.
:func:`parse_faults` reads the command line's ``--faults`` (:data:`FAULTS_GRAMMAR`) and
:func:`with_faults` wraps a run's feed, broker and agent (the soak and ``lobzero paper`` both).
"""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from lobzero.config import TomlConfig
from lobzero.exceptions import ConfigError
from lobzero.live.broker import Execution
from lobzero.live.feeds import Feed, HealthEvent, MarketEvents


class FeedDisconnectedError(ConnectionError):
    """The feed's connection dropped (injected): reconnect and iterate again."""


class WorkerCrashError(RuntimeError):
    """An injected failure of the agent's ``act`` or of a broker step."""


@dataclass(frozen=True)
class FaultConfig(TomlConfig):
    """Probabilities per delivered event batch (feed faults) or per call (worker faults)."""

    #: a batch is dropped (a gap in the symbol's sequence)
    drop: float = 0.0
    #: a batch is delivered twice
    duplicate: float = 0.0
    #: a batch is held back and delivered after the symbol's next one
    reorder: float = 0.0
    #: the feed stalls before a batch: it withholds stall_s of market time, then delivers it all
    stall: float = 0.0
    #: market seconds of a stall
    stall_s: float = 30.0
    #: the connection drops at a batch (that batch is lost)
    disconnect: float = 0.0
    #: the agent's act raises, per call
    agent_crash: float = 0.0
    #: a broker step raises, per decision
    broker_crash: float = 0.0

    def __post_init__(self) -> None:
        for name in ("drop", "duplicate", "reorder", "stall", "disconnect", "agent_crash",
                     "broker_crash"):  # fmt: skip
            p = getattr(self, name)
            if not 0.0 <= p < 1.0:
                raise ConfigError(f"FaultConfig.{name} must be in [0, 1), got {p}")
        if not self.stall_s > 0:
            raise ConfigError(f"FaultConfig.stall_s must be > 0, got {self.stall_s}")


@dataclass
class FaultCounts:
    """What a faulty feed did: batches and events delivered (first deliveries), and the
    faults injected (``lost_events``: events of dropped batches and of the batches in hand at
    a disconnect)."""

    batches: int = 0
    events: int = 0
    dropped: int = 0
    duplicated: int = 0
    reordered: int = 0
    stalls: int = 0
    #: market time each stall withheld, ns (one cut short by the stream's end is shorter)
    stall_ns: list[int] = field(default_factory=list)
    disconnects: int = 0
    lost_events: int = 0


@dataclass
class FaultyFeed:
    """``feed`` with faults of ``config`` drawn from ``seed`` (see the module docs); the
    :class:`~lobzero.live.feeds.Feed` protocol, with ``clock_ns`` the clock of what it has
    delivered and ``counts`` what it injected."""

    feed: Feed
    config: FaultConfig
    seed: int = 0
    counts: FaultCounts = field(init=False, default_factory=FaultCounts)
    symbols: list[str] = field(init=False)
    _rng: np.random.Generator = field(init=False, repr=False)
    _inner: AsyncIterator[MarketEvents] | None = field(init=False, default=None)
    _held: dict[str, MarketEvents] = field(init=False, default_factory=dict)
    _clock_ns: int = field(init=False, default=0)
    _pending: list[HealthEvent] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.symbols = list(self.feed.symbols)
        self._rng = np.random.default_rng(self.seed)

    @property
    def start_ns(self) -> int | None:
        """The wrapped feed's ``start_ns`` (the loop sets it to resume)."""
        return getattr(self.feed, "start_ns", None)

    @start_ns.setter
    def start_ns(self, value: int | None) -> None:
        if hasattr(self.feed, "start_ns"):
            self.feed.start_ns = value  # type: ignore[attr-defined]

    @property
    def clock_ns(self) -> int:
        """The wrapped feed's clock when the last batch was delivered, ns."""
        return self._clock_ns

    async def connect(self) -> None:
        """Connects the wrapped feed."""
        await self.feed.connect()
        self._clock_ns = int(getattr(self.feed, "clock_ns", 0))

    async def reconnect(self, reason: str) -> None:
        """Reconnects the wrapped feed; iterating again goes on where it was."""
        await self.feed.reconnect(reason)

    def heartbeat(self) -> HealthEvent:
        """The wrapped feed's heartbeat."""
        return self.feed.heartbeat()

    def health_events(self) -> list[HealthEvent]:
        """The injected disconnects and the wrapped feed's events since the last call."""
        out, self._pending = self._pending + self.feed.health_events(), []
        return out

    def __aiter__(self) -> AsyncIterator[MarketEvents]:
        if self._inner is None:
            self._inner = self.feed.__aiter__()
        return self._events(self._inner)

    def _deliver(self, batch: MarketEvents) -> MarketEvents:
        self.counts.batches += 1
        self.counts.events += batch.count
        return batch

    async def _events(self, inner: AsyncIterator[MarketEvents]) -> AsyncIterator[MarketEvents]:
        c, rng = self.config, self._rng
        stall_ns = round(c.stall_s * 1e9)
        stall_until: int | None = None
        stall_from = 0
        backlog: list[MarketEvents] = []
        async for batch in inner:
            inner_clock = int(getattr(self.feed, "clock_ns", batch.last_ns))
            if stall_until is None and c.stall > 0 and rng.random() < c.stall:
                stall_until, self.counts.stalls = inner_clock + stall_ns, self.counts.stalls + 1
                stall_from = self._clock_ns
            if stall_until is not None:
                backlog.append(batch)
                if inner_clock < stall_until:
                    continue
                stall_until = None
                self.counts.stall_ns.append(inner_clock - stall_from)
            todo, backlog = backlog or [batch], []
            for b in todo:
                self._clock_ns = max(self._clock_ns, inner_clock)
                u = rng.random(4)
                if c.disconnect > 0 and u[0] < c.disconnect:
                    self.counts.disconnects += 1
                    self.counts.lost_events += b.count
                    self._pending.append(
                        HealthEvent(b.symbol, self._clock_ns, "disconnect", "injected")
                    )
                    # the backlog's rest is lost with the connection too
                    for rest in todo[todo.index(b) + 1 :]:
                        self.counts.lost_events += rest.count
                    raise FeedDisconnectedError(f"injected disconnect at {self._clock_ns}")
                if c.drop > 0 and u[1] < c.drop:
                    self.counts.dropped += 1
                    self.counts.lost_events += b.count
                    continue
                held = self._held.pop(b.symbol, None)
                if held is None and c.reorder > 0 and u[2] < c.reorder:
                    self._held[b.symbol] = b
                    continue
                yield self._deliver(b)
                if held is not None:
                    # the held batch arrives after its successor: the loop drops it as out of
                    # order (its events are a gap by then)
                    self.counts.reordered += 1
                    self.counts.lost_events += held.count
                    yield held
                if c.duplicate > 0 and u[3] < c.duplicate:
                    self.counts.duplicated += 1
                    yield b
        if stall_until is not None:
            self.counts.stall_ns.append(int(getattr(self.feed, "clock_ns", 0)) - stall_from)
        for b in backlog:
            # a stall at the end: the backlog arrives when the stream ends
            self._clock_ns = max(self._clock_ns, int(getattr(self.feed, "clock_ns", 0)))
            yield self._deliver(b)
        for held in self._held.values():
            # held at the end: never delivered
            self.counts.lost_events += held.count
        self._held.clear()
        self._clock_ns = max(self._clock_ns, int(getattr(self.feed, "clock_ns", 0)))


class FaultyAgent:
    """``agent`` whose ``act`` raises :class:`WorkerCrashError` with probability ``rate`` per
    call; ``crashes`` counts them."""

    def __init__(self, agent: Any, rate: float, seed: int = 0) -> None:
        self.agent, self.rate, self.crashes = agent, rate, 0
        self._rng = np.random.default_rng(seed)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.agent, name)

    def act(self, obs_batch: np.ndarray) -> np.ndarray:
        """The agent's actions ``[N]``, or :class:`WorkerCrashError`."""
        if self._rng.random() < self.rate:
            self.crashes += 1
            raise WorkerCrashError("injected crash in act")
        return self.agent.act(obs_batch)


class FaultyBroker:
    """``broker`` whose ``execute`` raises :class:`WorkerCrashError` once at each of a random
    ``rate`` share of the decision indices of each symbol; ``crashes`` counts them. Before
    stepping, or with ``after_step`` after (the symbol's environment has moved on: only a
    restart that replays brings it back)."""

    def __init__(self, broker: Any, rate: float, seed: int = 0, after_step: bool = False) -> None:
        self.broker, self.rate, self.crashes, self.after_step = broker, rate, 0, after_step
        self._rng = np.random.default_rng(seed)
        self._crash_at: dict[str, set[int]] = {}
        self._step: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.broker, name)

    def open(self, symbol: str, start_ns: int) -> tuple[np.ndarray, dict[str, Any]]:
        """Opens the symbol (its crash steps drawn at the first open) and counts from 0."""
        if symbol not in self._crash_at:
            market = self.broker.markets[symbol]
            steps = (int(market.end_ns) - int(market.start_ns)) // self.broker.step_ns + 2
            self._crash_at[symbol] = set(np.flatnonzero(self._rng.random(steps) < self.rate))
        self._step[symbol] = 0
        return self.broker.open(symbol, start_ns)

    def execute(self, symbol: str, action: Any) -> Execution:
        """The wrapped broker's step, or :class:`WorkerCrashError` at a crash step."""
        k = self._step[symbol]
        crash = k in self._crash_at[symbol]
        if crash:
            self._crash_at[symbol].discard(k)
            self.crashes += 1
            if not self.after_step:
                raise WorkerCrashError(f"injected crash before the broker step {k} of {symbol}")
        execution = self.broker.execute(symbol, action)
        self._step[symbol] = k + 1
        if crash:
            raise WorkerCrashError(f"injected crash after the broker step {k} of {symbol}")
        return execution

    def hold_action(self, symbol: str) -> Any:
        """The wrapped broker's hold action."""
        return self.broker.hold_action(symbol)


#: ``--faults`` of ``lobzero paper`` (also its --help)
FAULTS_GRAMMAR = """comma-separated KIND:RATE. KIND: gap (a batch of events lost), duplicate,
reorder (a batch after the next one), stall, disconnect, crash (a broker step of a symbol
fails: the symbol restarts from the database), agent-crash (the agent's act fails). RATE: a
probability per event batch (feed kinds) or per decision (crash kinds), e.g. 0.001; or a mean
interval of market time over the whole run, NUMBER with s, m, h or d, e.g. 1h (about once an
hour). stall also takes its length: stall:RATE/LENGTH (default 30s). Example:
stall:1h/30s,gap:0.01,disconnect:1h,duplicate:0.001,reorder:0.001,crash:6h"""

#: --faults kinds: the FaultConfig field each sets, and whether it is drawn per decision
FAULT_KINDS = {
    "gap": ("drop", False), "duplicate": ("duplicate", False), "reorder": ("reorder", False),
    "stall": ("stall", False), "disconnect": ("disconnect", False),
    "crash": ("broker_crash", True), "agent-crash": ("agent_crash", True),
}  # fmt: skip

_UNITS_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def _interval_s(text: str) -> float | None:
    """Seconds of ``NUMBER[smhd]`` with a unit, None for a plain number."""
    m = re.fullmatch(r"([0-9]*\.?[0-9]+)([smhd])", text.strip())
    return None if m is None else float(m.group(1)) * _UNITS_S[m.group(2)]


def parse_faults(text: str, batch_s: float, decision_s: float) -> FaultConfig:
    """The :class:`FaultConfig` of ``--faults`` (grammar: :data:`FAULTS_GRAMMAR`). A mean
    interval becomes a probability per unit: ``batch_s`` market seconds between two event
    batches of the whole feed (a replay feed: its slice over the symbols), ``decision_s``
    between two decisions of the whole run (the decision interval over the symbols), as
    ``1 - exp(-unit / interval)``. A bad part is a :class:`ConfigError` that names it."""
    values: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        kind, sep, rate = part.partition(":")
        kind = kind.strip().lower()
        if not sep or kind not in FAULT_KINDS:
            raise ConfigError(
                f"--faults part {part!r}: use KIND:RATE with KIND one of {', '.join(FAULT_KINDS)}"
            )
        name, per_decision = FAULT_KINDS[kind]
        if name in values:
            raise ConfigError(f"--faults part {part!r}: {kind} given twice")
        if kind == "stall" and "/" in rate:
            rate, length = rate.split("/", 1)
            length_s = _interval_s(length)
            if length_s is None or not length_s > 0:
                raise ConfigError(
                    f"--faults part {part!r}: the stall length {length!r} must be a duration "
                    "like 30s"
                )
            values["stall_s"] = length_s
        unit = decision_s if per_decision else batch_s
        interval = _interval_s(rate)
        if interval is not None:
            if not interval > unit:
                raise ConfigError(
                    f"--faults part {part!r}: every {rate} is as often as every "
                    f"{'decision' if per_decision else 'event batch'} ({unit:g} s) or more"
                )
            probability = 1.0 - math.exp(-unit / interval)
        else:
            try:
                probability = float(rate)
            except ValueError:
                probability = -1.0
            if not 0.0 <= probability < 1.0:
                raise ConfigError(
                    f"--faults part {part!r}: {rate!r} is neither a probability in [0, 1) "
                    "nor an interval like 6h"
                )
        values[name] = probability
    return replace(FaultConfig(), **values)


def with_faults(
    feed: Feed, broker: Any, agent: Any, faults: FaultConfig, seed: int = 0
) -> tuple[FaultyFeed, FaultyBroker, FaultyAgent]:
    """The run's feed, broker and agent wrapped with the faults of ``faults``, each drawn
    from its own seed (``seed`` + 103, + 101, + 102)."""
    return (
        FaultyFeed(feed, faults, seed=seed + 103),
        FaultyBroker(broker, faults.broker_crash, seed=seed + 101),
        FaultyAgent(agent, faults.agent_crash, seed=seed + 102),
    )
