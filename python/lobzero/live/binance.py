"""The Binance market-data feed: combined websocket streams (``<symbol>@depth@0ms`` or
``@100ms`` and ``<symbol>@trade``), the REST depth snapshot, continuity checks, reconnect
with resync, behind the :class:`~lobzero.live.feeds.Feed` protocol.

The feed records what it receives in the format of the recorded Binance files
(``<receive time ns> <JSON>`` a line, the combined-stream messages as received and each REST
snapshot as its own line), one file per symbol in ``record_dir``. The book is built from that
recording by the importer (``import_market(path, format="binance-stream", on_gap="resync")``),
so the snapshot + diff procedure has one implementation, the core's. The feed itself checks
only the update ids, to see a gap as it happens (futures: ``pu`` = previous ``u``; spot: ``U``
= previous ``u`` + 1): it reports a ``gap`` health event and fetches a new snapshot (resync).
A lost connection is reopened (``reconnect``), after ``reconnect_delay_s``, and every symbol
resynced; after ``max_reconnects`` failures in a row the feed gives up (:class:`FeedError`).

Trading on the feed: each recorded line also goes to the symbol's
:class:`~lobzero.live.live_market.LiveMarket` (``live``), in the order it is recorded, so the
market the paper broker trades is the recording's, message for message. Receive times are
strictly increasing (a clock that repeats or steps back is moved on by 1 ns), and a feed quiet
for ``idle_s`` seconds yields an empty batch per symbol at the current time (the decision clock
goes on without messages; the markets are complete up to it).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Literal

from lobzero.exceptions import ConfigError
from lobzero.live.feeds import HealthEvent, MarketEvents
from lobzero.live.live_market import LiveMarket
from lobzero.live.websocket import FeedError, WebSocket, connect, http_get_json

ENDPOINTS = {
    "usdm": ("wss://fstream.binance.com", "https://fapi.binance.com", "/fapi/v1/depth", "0ms"),
    "spot": ("wss://stream.binance.com:9443", "https://api.binance.com", "/api/v3/depth", "100ms"),
}


@dataclass
class _Book:
    """What the feed tracks of one symbol: the last diff's ``u`` on this connection, whether a
    snapshot was written since the last (re)sync, and the open recording."""

    record: IO[str]
    last_u: int | None = None
    snapshots: int = 0
    gaps: int = 0
    messages: int = 0


@dataclass
class BinanceFeed:
    """Live Binance feed of ``symbols`` (``market`` "usdm" futures or "spot"), recording into
    ``record_dir/<SYMBOL>.txt``. ``ws_url`` / ``rest_url`` override Binance's addresses (a
    loopback server in tests); ``clock`` gives the receive time, ns."""

    symbols: list[str]
    record_dir: Path
    market: Literal["usdm", "spot"] = "usdm"
    ws_url: str | None = None
    rest_url: str | None = None
    snapshot_limit: int = 1000
    reconnect_delay_s: float = 0.5
    max_reconnects: int = 5
    clock: Callable[[], int] = time.time_ns
    live: Mapping[str, LiveMarket] = field(default_factory=dict)
    idle_s: float | None = 1.0
    _books: dict[str, _Book] = field(init=False, default_factory=dict)
    _stamp_ns: int = field(init=False, default=0)
    _receiving: asyncio.Task[str | None] | None = field(init=False, default=None)
    _socket: WebSocket | None = field(init=False, default=None)
    _pending: list[HealthEvent] = field(init=False, default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(init=False, default_factory=set)
    _last_message_ns: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if self.market not in ENDPOINTS:
            raise ConfigError(f"Binance market {self.market!r}: choose usdm or spot")
        if not self.symbols:
            raise ConfigError("a Binance feed needs at least one symbol")
        ws, rest, self._depth_path, self._speed = ENDPOINTS[self.market]
        self.ws_url = (self.ws_url or ws).rstrip("/")
        self.rest_url = (self.rest_url or rest).rstrip("/")
        self.symbols = [s.upper() for s in self.symbols]
        unknown = set(self.live) - set(self.symbols)
        if unknown:
            raise ConfigError(f"live markets of symbols the feed does not read: {sorted(unknown)}")
        if self.idle_s is not None and not self.idle_s > 0:
            raise ConfigError(f"idle_s must be > 0 (or None), got {self.idle_s}")
        # a restart goes on after what the markets already hold
        self._stamp_ns = max((m.known_ns for m in self.live.values()), default=0)

    @property
    def stream_url(self) -> str:
        """The combined-stream address of every symbol's depth and trade streams."""
        streams = [
            f"{s.lower()}@{kind}"
            for s in self.symbols
            for kind in (f"depth@{self._speed}", "trade")
        ]
        return f"{self.ws_url}/stream?streams={'/'.join(streams)}"

    def record_path(self, symbol: str) -> Path:
        return Path(self.record_dir) / f"{symbol}.txt"

    @property
    def clock_ns(self) -> int:
        return self._last_message_ns

    def _now(self) -> int:
        """The clock, strictly increasing (ns)."""
        self._stamp_ns = max(self.clock(), self._stamp_ns + 1)
        return self._stamp_ns

    def _record(self, book: _Book, symbol: str, recv_ns: int, text: str) -> None:
        """Writes one received line to the recording and hands it to the symbol's market."""
        book.record.write(f"{recv_ns} {text}\n")
        self._last_message_ns = max(self._last_message_ns, recv_ns)
        for name, market in self.live.items():
            if name == symbol:
                market.feed(recv_ns, text)
            else:
                # nothing arrived for the others: their markets are complete up to now too
                market.idle(recv_ns)

    def flush(self) -> None:
        """Pushes the recordings to the operating system (the loop calls it before each
        database commit, so a committed decision's events are on disk after a kill -9)."""
        for book in self._books.values():
            if not book.record.closed:
                book.record.flush()

    def _health(self, symbol: str, kind: str, detail: str = "") -> None:
        self._pending.append(HealthEvent(symbol, self.clock(), kind, detail))

    def health_events(self) -> list[HealthEvent]:
        out, self._pending = self._pending, []
        return out

    def heartbeat(self) -> HealthEvent:
        age_ms = (self.clock() - self._last_message_ns) / 1e6 if self._last_message_ns else -1.0
        state = "open" if self._socket is not None and not self._socket.closed else "closed"
        return HealthEvent(
            "*", self.clock(), "heartbeat", f"{state}, last message {age_ms:.0f} ms ago"
        )

    def stats(self, symbol: str) -> dict[str, int]:
        """Messages, snapshots and gaps seen for ``symbol``."""
        b = self._books[symbol]
        return {"messages": b.messages, "snapshots": b.snapshots, "gaps": b.gaps}

    async def exchange_steps(self) -> dict[str, tuple[str, str]]:
        """Each symbol's (tick size, lot size) as decimal strings, from Binance's exchangeInfo
        (filters PRICE_FILTER.tickSize and LOT_SIZE.stepSize): what a :class:`LiveMarket`
        needs. A symbol missing from the answer is a :class:`FeedError`."""
        path = self._depth_path.replace("depth", "exchangeInfo")
        info = await http_get_json(f"{self.rest_url}{path}")
        steps: dict[str, tuple[str, str]] = {}
        for entry in info.get("symbols", []) if isinstance(info, dict) else []:
            filters = {f.get("filterType"): f for f in entry.get("filters", [])}
            try:
                tick = filters["PRICE_FILTER"]["tickSize"]
                lot = filters["LOT_SIZE"]["stepSize"]
            except KeyError:
                continue
            steps[str(entry.get("symbol", "")).upper()] = (_plain(tick), _plain(lot))
        missing = [s for s in self.symbols if s not in steps]
        if missing:
            raise FeedError(f"{self.rest_url}{path}: no tick and lot sizes of {', '.join(missing)}")
        return {s: steps[s] for s in self.symbols}

    # -- connection ----------------------------------------------------------------------------
    async def connect(self) -> None:
        Path(self.record_dir).mkdir(parents=True, exist_ok=True)
        for s in self.symbols:
            book = self._books.get(s)
            if book is None or book.record.closed:
                # the recording stays open for the feed's life (closed by close())
                record = open(self.record_path(s), "a", encoding="utf-8")  # noqa: SIM115
                if book is None:
                    self._books[s] = _Book(record)
                else:
                    book.record = record
        self._socket = await connect(self.stream_url)
        for s in self.symbols:
            self._books[s].last_u = None
            self._health(s, "connect", self.stream_url)
            self._resync(s)

    def _cancel_receive(self) -> None:
        if self._receiving is not None:
            self._receiving.cancel()
            self._receiving = None

    async def reconnect(self, reason: str) -> None:
        self._cancel_receive()
        if self._socket is not None:
            await self._socket.close()
        for s in self.symbols:
            self._health(s, "reconnect", reason)
        failures = 0
        while True:
            await asyncio.sleep(self.reconnect_delay_s)
            try:
                await self.connect()
                return
            except FeedError as e:
                failures += 1
                if failures >= self.max_reconnects:
                    raise FeedError(f"Binance feed: {failures} reconnects failed ({e})") from e

    def _resync(self, symbol: str) -> None:
        """Fetches a snapshot in the background (diffs keep arriving and are recorded meanwhile,
        as Binance's procedure wants)."""
        task = asyncio.get_running_loop().create_task(self._snapshot(symbol))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _snapshot(self, symbol: str) -> None:
        url = f"{self.rest_url}{self._depth_path}?symbol={symbol}&limit={self.snapshot_limit}"
        try:
            snapshot = await http_get_json(url)
        except FeedError as e:
            self._health(symbol, "snapshot_failed", str(e))
            return
        if not isinstance(snapshot, dict) or "lastUpdateId" not in snapshot:
            self._health(symbol, "snapshot_failed", "no lastUpdateId in the answer")
            return
        book = self._books[symbol]
        self._record(book, symbol, self._now(), json.dumps(snapshot, separators=(",", ":")))
        book.record.flush()
        book.snapshots += 1
        self._health(symbol, "snapshot", str(snapshot["lastUpdateId"]))

    # -- messages ------------------------------------------------------------------------------
    def _on_message(self, text: str, recv_ns: int) -> MarketEvents | None:
        try:
            message = json.loads(text)
            stream, data = message["stream"], message["data"]
        except (json.JSONDecodeError, KeyError, TypeError):
            self._health("*", "bad_message", text[:120])
            return None
        symbol = str(stream).split("@", 1)[0].upper()
        book = self._books.get(symbol)
        if book is None:
            self._health("*", "bad_message", f"unsubscribed stream {stream}")
            return None
        self._record(book, symbol, recv_ns, text)
        book.messages += 1
        if data.get("e") == "depthUpdate":
            first, last = int(data["U"]), int(data["u"])
            if book.last_u is not None:
                continues = (
                    int(data["pu"]) == book.last_u if "pu" in data else first == book.last_u + 1
                )
                if not continues:
                    book.gaps += 1
                    self._health(symbol, "gap", f"after u={book.last_u}, got U={first}")
                    self._resync(symbol)
            book.last_u = last
        return MarketEvents(symbol, recv_ns, recv_ns, 1)

    def __aiter__(self) -> AsyncIterator[MarketEvents]:
        return self._events()

    async def _events(self) -> AsyncIterator[MarketEvents]:
        if self._socket is None:
            await self.connect()
        try:
            while True:
                assert self._socket is not None
                if self._receiving is None:
                    # one receive at a time, never cancelled by the idle wait (a frame read
                    # halfway would break the stream)
                    self._receiving = asyncio.get_running_loop().create_task(self._socket.recv())
                done, _ = await asyncio.wait({self._receiving}, timeout=self.idle_s)
                if not done:
                    now = self._now()
                    self._last_message_ns = now
                    # every market first: the loop may execute any symbol at the first batch
                    for market in self.live.values():
                        market.idle(now)
                    for s in self.symbols:
                        yield MarketEvents(s, now, now, 0)
                    continue
                receiving, self._receiving = self._receiving, None
                text = receiving.result()
                if text is None:
                    await self.reconnect("connection closed by the server")
                    continue
                recv_ns = self._now()
                self._last_message_ns = recv_ns
                event = self._on_message(text, recv_ns)
                if event is not None:
                    yield event
        finally:
            await self.close()

    async def settle(self) -> None:
        """Waits for the snapshot fetches under way."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Closes the socket and the recordings (pending snapshot fetches are cancelled)."""
        for task in list(self._tasks):
            task.cancel()
        self._cancel_receive()
        if self._socket is not None:
            await self._socket.close()
        for book in self._books.values():
            book.record.close()


def _plain(text: str) -> str:
    """A decimal string without trailing zeros ("0.10" -> "0.1", "1.00" -> "1")."""
    return format(Decimal(text).normalize(), "f")


def recorded_market(feed: BinanceFeed, symbol: str) -> Any:
    """The market of what ``feed`` recorded for ``symbol`` (the importer builds the book), on
    the tick and lot sizes of the symbol's live market when the feed has one (the exchange's:
    what the live run traded on), else inferred from the recording."""
    from lobzero.data.importers import import_market

    live = feed.live.get(symbol)
    steps = {} if live is None else {"tick_size": live.tick_size, "lot_size": live.lot_size}
    return import_market(
        feed.record_path(symbol), format="binance-stream", on_gap="resync", **steps
    )


def recording_source(feed: BinanceFeed) -> Callable[[int], dict[str, Any]]:
    """The retrain job's markets on a live feed (a
    :data:`~lobzero.live.scheduler.MarketSource`): at each call, every symbol's recording so
    far, flushed to disk first and imported as a complete market (:func:`recorded_market`:
    what the run saw, message for message, restarts included). A symbol not recorded yet is
    absent."""

    def seen(clock_ns: int) -> dict[str, Any]:
        feed.flush()
        return {s: recorded_market(feed, s) for s in feed.symbols if feed.record_path(s).exists()}

    return seen
