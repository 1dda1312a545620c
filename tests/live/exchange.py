"""A loopback Binance USD-M exchange for the live paper tests: it serves recorded messages of
several symbols over one combined stream (the real wire format) in their recorded order, the
REST depth snapshot and exchangeInfo, and keeps each symbol's book as the recording moves it,
so a snapshot asked for later (a resync after an outage) is the book at that moment, labelled
the way Binance labels it (``lastUpdateId`` inside the next diff). Nothing leaves the machine."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: tick and lot sizes of the recorded USD-M symbols (Binance's exchangeInfo, 2024)
STEPS = {"BTCUSDT": ("0.10", "0.001"), "ETHUSDT": ("0.01", "0.001")}
FILES = {
    "BTCUSDT": "binance-usdm-btcusdt/btcusdt_20240808.gz",
    "ETHUSDT": "binance-usdm-ethusdt/ethusdt_20240808.gz",
}


@dataclass
class _SymbolBook:
    snapshot: dict[str, Any]
    bids: dict[str, str] = field(default_factory=dict)
    asks: dict[str, str] = field(default_factory=dict)
    last_u: int | None = None
    next_first: int | None = None

    def apply(self, data: dict[str, Any]) -> None:
        if data["u"] < self.snapshot["lastUpdateId"]:
            return
        for side, levels in ((self.bids, data["b"]), (self.asks, data["a"])):
            for px, qty in levels:
                if float(qty) == 0.0:
                    side.pop(px, None)
                else:
                    side[px] = qty
        self.last_u = data["u"]

    def current(self) -> dict[str, Any]:
        bids = sorted(self.bids.items(), key=lambda kv: -float(kv[0]))[:1000]
        asks = sorted(self.asks.items(), key=lambda kv: float(kv[0]))[:1000]
        # Binance: the first diff to apply has U <= lastUpdateId <= u
        last = self.next_first if self.next_first is not None else (self.last_u or 0)
        return {"lastUpdateId": last, "bids": [list(b) for b in bids],
                "asks": [list(a) for a in asks]}  # fmt: skip


def load_messages(shared: Path, symbols: list[str], lines: int) -> tuple[list, dict]:
    """The first ``lines`` lines of each symbol's recording: (messages as (recorded receive
    time ns, symbol, text) merged in time order, without bookTicker and the snapshot lines;
    each symbol's recorded snapshot with the index of the first message after it)."""
    merged: list[tuple[int, str, str]] = []
    snapshots: dict[str, tuple[int, dict[str, Any]]] = {}
    for symbol in symbols:
        with gzip.open(shared / FILES[symbol], "rt") as f:
            for _ in range(lines):
                recv, text = next(f).rstrip("\n").split(" ", 1)
                if text.startswith('{"lastUpdateId"'):
                    snapshots[symbol] = (int(recv), json.loads(text))
                elif "@bookTicker" not in text:
                    merged.append((int(recv), symbol, text))
    merged.sort(key=lambda m: m[0])
    after = {
        s: next(i for i, m in enumerate(merged) if m[1] == s and m[0] > t)
        for s, (t, _) in snapshots.items()
    }
    return merged, {s: (after[s], snap) for s, (_, snap) in snapshots.items()}


class LoopbackExchange:
    """Serves ``messages`` (see :func:`load_messages`) on one connection after another.
    Before the first message past a symbol's recorded snapshot it waits until that snapshot was
    asked for. ``outage_after``: after that many messages the connection closes and the next
    ``outage_lost`` messages are never sent (the exchange's books still move). ``now_ns``: the
    recorded receive time of the last message sent (the clients' clock in the tests)."""

    def __init__(self, messages, snapshots, outage_after=None, outage_lost=0, speed=None) -> None:
        self.messages, self.snapshots, self.speed = messages, snapshots, speed
        self._paced: tuple[float, int] | None = None
        self.outage_after, self.outage_lost = outage_after, outage_lost
        self.books = {s: _SymbolBook(snap) for s, (_, snap) in snapshots.items()}
        for book in self.books.values():
            for px, qty in book.snapshot["bids"]:
                book.bids[px] = qty
            for px, qty in book.snapshot["asks"]:
                book.asks[px] = qty
        self.served = {s: asyncio.Event() for s in snapshots}
        self.snapshots_served = dict.fromkeys(snapshots, 0)
        self.cursor = 0
        self.connections = 0
        self.now_ns = messages[0][0] - 1
        self.done = asyncio.Event()

    def get(self, path: str) -> Any:
        if path.startswith("/fapi/v1/exchangeInfo"):
            return {"symbols": [
                {"symbol": s, "filters": [{"filterType": "PRICE_FILTER", "tickSize": t},
                                          {"filterType": "LOT_SIZE", "stepSize": lot}]}
                for s, (t, lot) in STEPS.items()
            ]}  # fmt: skip
        for symbol, book in self.books.items():
            if path.startswith(f"/fapi/v1/depth?symbol={symbol}&"):
                self.snapshots_served[symbol] += 1
                first = self.snapshots_served[symbol] == 1
                self.served[symbol].set()
                return book.snapshot if first else book.current()
        return None

    def _advance_book(self, i: int) -> None:
        _, symbol, text = self.messages[i]
        data = json.loads(text)["data"]
        if data.get("e") == "depthUpdate" and symbol in self.books:
            book = self.books[symbol]
            if i >= self.snapshots[symbol][0]:
                book.apply(data)
            book.next_first = None
            nxt = next(
                (json.loads(t)["data"] for _, s, t in self.messages[i + 1 :]
                 if s == symbol and "depthUpdate" in t),
                None,
            )  # fmt: skip
            book.next_first = None if nxt is None else nxt["U"]

    async def stream(self, socket, path: str) -> None:
        self.connections += 1
        # the client going away ends the test's exchange
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await self._send(socket)

    async def _send(self, socket) -> None:
        sent = 0
        while self.cursor < len(self.messages):
            i = self.cursor
            for symbol, (after, _) in self.snapshots.items():
                if i == after:
                    await self.served[symbol].wait()
            recv, _, text = self.messages[i]
            if self.speed is not None:
                # at ``speed`` times the recorded pace (the clients' own clock is real time)
                loop = asyncio.get_running_loop()
                if self._paced is None:
                    self._paced = (loop.time(), recv)
                due = self._paced[0] + (recv - self._paced[1]) / 1e9 / self.speed
                await asyncio.sleep(max(0.0, due - loop.time()))
            self.now_ns = max(self.now_ns, recv)
            self._advance_book(i)
            self.cursor += 1
            await socket.send(text)
            sent += 1
            await asyncio.sleep(0)
            if self.outage_after is not None and sent == self.outage_after:
                self.outage_after = None
                for _ in range(self.outage_lost):  # lost while the client is away
                    if self.cursor < len(self.messages):
                        self.now_ns = max(self.now_ns, self.messages[self.cursor][0])
                        self._advance_book(self.cursor)
                        self.cursor += 1
                return
        self.done.set()
        while await socket.recv() is not None:  # stay open until the client closes
            pass


class ExchangeThread:
    """A :class:`LoopbackExchange` served from its own thread and event loop (for a process
    that runs ``lobzero paper`` in the test's thread); ``port`` once started."""

    def __init__(self, exchange_args: tuple, **kwargs: Any) -> None:
        import threading

        self.exchange_args, self.kwargs = exchange_args, kwargs
        self.ready = threading.Event()
        self.port = 0
        self.thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        from lobzero.live.websocket import serve

        async def main() -> None:
            exchange = LoopbackExchange(*self.exchange_args, **self.kwargs)
            server = await serve(exchange.stream, exchange.get)
            self.port = server.sockets[0].getsockname()[1]
            self.exchange = exchange
            self.ready.set()
            await asyncio.Event().wait()  # until the process ends (daemon thread)

        asyncio.run(main())

    def __enter__(self) -> ExchangeThread:
        self.thread.start()
        self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        pass
