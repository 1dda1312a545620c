"""Market feeds behind one interface (:class:`Feed`): an async iterator of
:class:`MarketEvents`, slices of one symbol's event stream in receive-time order, with
``connect`` / ``reconnect`` / ``heartbeat`` and health events for the replay database.

:class:`ReplayFeed` replays recorded markets (a :class:`~lobzero.data.universe.Universe` or
one market per symbol) on a simulated clock: ``speed=1`` in real time, ``10`` ten times faster,
``None`` ("max") as fast as the consumer takes them. A live exchange adapter implements the
same protocol (:class:`~lobzero.live.binance.BinanceFeed`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from lobzero.data.market import Market
from lobzero.exceptions import ConfigError


@dataclass(frozen=True)
class MarketEvents:
    """Events of one symbol received in ``(first_ns - 1 .. last_ns]``: ``count`` events, the
    rows ``[start_row, end_row)`` of the symbol's recorded stream (replay) or ``-1`` (live)."""

    symbol: str
    first_ns: int
    last_ns: int
    count: int
    start_row: int = -1
    end_row: int = -1


@dataclass(frozen=True)
class HealthEvent:
    """A change of a feed's health: ``kind`` is "connect", "reconnect", "heartbeat", "gap",
    "end"; ``ts_ns`` the feed clock (receive time, ns); ``detail`` free text."""

    symbol: str
    ts_ns: int
    kind: str
    detail: str = ""


class Feed(Protocol):
    """What the paper loop reads markets through (replay files or an exchange)."""

    symbols: list[str]

    async def connect(self) -> None:
        """Opens the feed (replay: positions the clock; exchange: connects and syncs books)."""
        ...

    async def reconnect(self, reason: str) -> None:
        """Reopens after a failure, resyncing every book (a health event says why)."""
        ...

    def heartbeat(self) -> HealthEvent:
        """The feed's current health, for the live view and the database."""
        ...

    def health_events(self) -> list[HealthEvent]:
        """Health events since the last call (the loop stores them)."""
        ...

    def __aiter__(self) -> AsyncIterator[MarketEvents]: ...


@dataclass
class ReplayFeed:
    """Recorded markets replayed in receive-time order, in slices of ``slice_ns`` of market
    time (each symbol's events of a slice come as one :class:`MarketEvents`).

    ``speed``: market seconds per wall second (1 real time, 10 accelerated), None for as fast
    as possible. ``start_ns``: the first receive time to replay (resume: the last event time the
    database holds; events at or before it are skipped); ``end_ns``: stop after it (inclusive).
    """

    markets: Mapping[str, Market]
    speed: float | None = None
    slice_ns: int = 100_000_000
    start_ns: int | None = None
    end_ns: int | None = None
    symbols: list[str] = field(init=False)
    _recv: dict[str, np.ndarray] = field(init=False, repr=False)
    _clock_ns: int = field(init=False, default=0)
    _pending: list[HealthEvent] = field(init=False, default_factory=list)
    _connected: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        if not self.markets:
            raise ConfigError("a replay feed needs at least one market")
        if self.speed is not None and not self.speed > 0:
            raise ConfigError(f"replay speed must be > 0 (or None for max), got {self.speed}")
        if self.slice_ns <= 0:
            raise ConfigError(f"slice_ns must be > 0, got {self.slice_ns}")
        self.symbols = list(self.markets)
        self._recv = {s: m.columns()["recv_ts_ns"] for s, m in self.markets.items()}

    @property
    def clock_ns(self) -> int:
        """Receive time of the newest event delivered, ns."""
        return self._clock_ns

    async def connect(self) -> None:
        """Sets the clock just before the first event (or at ``start_ns``)."""
        first = min(int(r[0]) for r in self._recv.values())
        self._clock_ns = first - 1 if self.start_ns is None else self.start_ns
        self._connected = True
        for s in self.symbols:
            self._pending.append(HealthEvent(s, self._clock_ns, "connect", "replay"))

    async def reconnect(self, reason: str) -> None:
        """Records a reconnect; a replay resumes at its clock."""
        # a replay cannot drop: reconnecting resumes at the clock
        for s in self.symbols:
            self._pending.append(HealthEvent(s, self._clock_ns, "reconnect", reason))

    def heartbeat(self) -> HealthEvent:
        """The feed's health now (a replay is always healthy)."""
        return HealthEvent("*", self._clock_ns, "heartbeat", "replay")

    def health_events(self) -> list[HealthEvent]:
        """Health events since the last call."""
        out, self._pending = self._pending, []
        return out

    def __aiter__(self) -> AsyncIterator[MarketEvents]:
        return self._events()

    async def _events(self) -> AsyncIterator[MarketEvents]:
        if not self._connected:
            await self.connect()
        last = max(int(r[-1]) for r in self._recv.values())
        if self.end_ns is not None:
            last = min(last, self.end_ns)
        rows = {s: int(np.searchsorted(r, self._clock_ns, "right")) for s, r in self._recv.items()}
        wall0, market0 = time.monotonic(), self._clock_ns
        while self._clock_ns < last:
            upto = min(self._clock_ns + self.slice_ns, last)
            if self.speed is not None:
                due = wall0 + (upto - market0) / 1e9 / self.speed
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            # the slice's events of every symbol are delivered together: the clock is the
            # slice's end from its first batch on
            self._clock_ns = upto
            for s, recv in self._recv.items():
                end = int(np.searchsorted(recv, upto, "right"))
                if end > rows[s]:
                    yield MarketEvents(
                        s, int(recv[rows[s]]), int(recv[end - 1]), end - rows[s], rows[s], end
                    )
                    rows[s] = end
            if self.speed is None:
                # let the other tasks (live view, writer) run between slices
                await asyncio.sleep(0)
        for s in self.symbols:
            self._pending.append(HealthEvent(s, self._clock_ns, "end", "replay finished"))
