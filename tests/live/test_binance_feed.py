"""The Binance websocket feed against a loopback server that serves recorded messages (the
real wire format: combined streams, the REST depth snapshot), nothing reaching the internet:
its recording imports into the same book and trades as the original recording, a dropped
message is seen as a gap and resynced, a dropped connection is reopened and resynced."""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from lobzero.data.importers import import_market
from lobzero.data.market import KIND_TRADE
from lobzero.live.binance import BinanceFeed, recorded_market
from lobzero.live.websocket import serve

LINES = 1500


@pytest.fixture(scope="module")
def recorded(shared_data: Path) -> tuple[list[str], dict, list[str]]:
    """(messages before the snapshot, the snapshot, messages after), as recorded."""
    path = shared_data / "binance-usdm-btcusdt" / "btcusdt_20240808.gz"
    with gzip.open(path, "rt") as f:
        lines = [next(f).rstrip("\n") for _ in range(LINES)]
    texts = [line.split(" ", 1)[1] for line in lines]
    at = next(i for i, t in enumerate(texts) if t.startswith('{"lastUpdateId"'))
    keep = lambda ts: [t for t in ts if "@bookTicker" not in t]  # noqa: E731  (not subscribed)
    return keep(texts[:at]), json.loads(texts[at]), keep(texts[at + 1 :])


class Exchange:
    """A loopback Binance: sends the messages before the snapshot, waits until the snapshot
    was served, sends the rest. ``drop``: indexes of messages never sent; ``close_after``:
    closes the connection after that many messages (the next connection goes on)."""

    def __init__(self, before, snapshot, after, drop=(), close_after=None) -> None:
        self.before, self.snapshot, self.after = before, snapshot, after
        self.drop, self.close_after = set(drop), close_after
        self.snapshots_served = 0
        self.served = asyncio.Event()
        self.cursor = 0
        self.paths: list[str] = []

    def get(self, path: str):
        if path.startswith("/fapi/v1/depth?symbol=BTCUSDT"):
            self.snapshots_served += 1
            self.served.set()
            return self.snapshot
        return None

    async def stream(self, socket, path: str) -> None:
        self.paths.append(path)
        messages = self.before + self.after
        sent = 0
        while self.cursor < len(messages):
            if self.cursor == len(self.before):
                await self.served.wait()
            i, self.cursor = self.cursor, self.cursor + 1
            if i in self.drop:
                continue
            await socket.send(messages[i])
            sent += 1
            if self.close_after is not None and sent == self.close_after:
                self.close_after = None
                return
        while await socket.recv() is not None:  # stay open until the client closes
            pass


async def _run(exchange: Exchange, folder: Path, events: int) -> BinanceFeed:
    server = await serve(exchange.stream, exchange.get)
    port = server.sockets[0].getsockname()[1]
    feed = BinanceFeed(
        ["BTCUSDT"], folder, ws_url=f"ws://127.0.0.1:{port}", rest_url=f"http://127.0.0.1:{port}",
        reconnect_delay_s=0.01,
    )  # fmt: skip
    got = 0
    async for batch in feed:
        assert batch.symbol == "BTCUSDT"
        got += 1
        if got == events:
            await feed.settle()
            break
    await feed.close()
    server.close()
    return feed


def test_the_feed_records_what_the_importer_reads_as_the_original(recorded, tmp_path: Path) -> None:
    before, snapshot, after = recorded
    exchange = Exchange(before, snapshot, after)
    feed = asyncio.run(_run(exchange, tmp_path, len(before) + len(after)))
    assert exchange.paths == ["/stream?streams=btcusdt@depth@0ms/btcusdt@trade"]
    assert feed.stats("BTCUSDT") == {
        "messages": len(before) + len(after), "snapshots": 1, "gaps": 0,
    }  # fmt: skip
    live = recorded_market(feed, "BTCUSDT").columns()
    original = tmp_path / "original.txt"
    original.write_text(
        "".join(f"{i} {t}\n" for i, t in enumerate([*before, json.dumps(snapshot), *after]))
    )
    reference = import_market(original, format="binance-stream", on_gap="resync").columns()
    # the same events: the receive times are the feed's own, and where the snapshot line falls
    # among the messages received while it was fetched moves the buffered diffs in the stream
    assert len(reference["ts_ns"]) > 1000
    columns = [c for c in reference if c != "recv_ts_ns"]

    def rows(table):
        stacked = np.stack([np.asarray(table[c], np.int64) for c in columns])
        return stacked[:, np.lexsort(stacked[::-1])]

    np.testing.assert_array_equal(rows(live), rows(reference))
    for c in columns:  # the trades come in the same order
        np.testing.assert_array_equal(
            np.asarray(live[c])[live["kind"] == KIND_TRADE],
            np.asarray(reference[c])[reference["kind"] == KIND_TRADE],
        )


def test_a_lost_message_is_a_gap_and_the_book_is_resynced(recorded, tmp_path: Path) -> None:
    before, snapshot, after = recorded
    depth = [i for i, t in enumerate(before + after) if "depthUpdate" in t]
    exchange = Exchange(before, snapshot, after, drop=[depth[len(depth) // 2]])
    feed = asyncio.run(_run(exchange, tmp_path, len(before) + len(after) - 1))
    assert feed.stats("BTCUSDT")["gaps"] == 1
    assert exchange.snapshots_served == 2


def test_a_dropped_connection_is_reopened_and_resynced(recorded, tmp_path: Path) -> None:
    before, snapshot, after = recorded
    exchange = Exchange(before, snapshot, after, close_after=len(before) + 100)
    feed = asyncio.run(_run(exchange, tmp_path, len(before) + len(after)))
    assert len(exchange.paths) == 2 and exchange.snapshots_served == 2
    assert feed.stats("BTCUSDT")["gaps"] == 0
    kinds = [h.kind for h in feed.health_events()]
    assert kinds.count("reconnect") == 1 and kinds.count("snapshot") == 2
