"""Paper trading on the Binance websocket feed (a loopback exchange serving recorded USD-M
messages of two symbols; nothing reaches the internet): the loop decides, the live broker
fills against the market as it arrives, and the fills and equity equal a ``TradingEnv``'s on
the feed's own recording imported afterwards (paper = environment on the same events), also
across an outage that the feed resyncs."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from lobzero.baselines.rules import make_rule_agent
from lobzero.data.importers import import_market
from lobzero.envs import EnvConfig, TradingEnv
from lobzero.live import PaperConfig, PaperLoop, ReplayDatabase
from lobzero.live.binance import BinanceFeed
from lobzero.live.live_market import LiveMarket, LivePaperBroker
from lobzero.live.websocket import serve

from .exchange import STEPS, LoopbackExchange, load_messages

SYMBOLS = ["BTCUSDT", "ETHUSDT"]
LINES = 6000  # of each recording: ~25 s of market time


@pytest.fixture(scope="module")
def recorded(shared_data: Path):
    return load_messages(shared_data, SYMBOLS, LINES)


def _config(seconds: float) -> PaperConfig:
    env = EnvConfig(max_position=0.01, initial_cash=10_000.0, latency_ms=20.0, step_ms=200.0)
    return PaperConfig(env=env, duration_s=seconds, commit_every=16)


async def _live_run(
    exchange: LoopbackExchange,
    folder: Path,
    cfg: PaperConfig,
    broker_type: type = LivePaperBroker,
    db_type: type = ReplayDatabase,
    agent: Any = None,
    scheduler_for: Any = None,
    model_version: str = "v0",
) -> tuple[PaperLoop, BinanceFeed]:
    """A paper run on the loopback ``exchange``; ``scheduler_for(feed, db)``: the run's
    scheduler (None: none); ``agent``: the imbalance rule (threshold 0.1) when None."""
    server = await serve(exchange.stream, exchange.get)
    port = server.sockets[0].getsockname()[1]
    feed = BinanceFeed(
        SYMBOLS, folder / "recording", ws_url=f"ws://127.0.0.1:{port}",
        rest_url=f"http://127.0.0.1:{port}", reconnect_delay_s=0.01,
        clock=lambda: exchange.now_ns, idle_s=None,
    )  # fmt: skip
    steps = await feed.exchange_steps()
    live = {s: LiveMarket(s, *steps[s]) for s in SYMBOLS}
    feed.live = live
    broker = broker_type(env_config=cfg.env, live=live)
    if agent is None:
        agent = make_rule_agent("imbalance", broker.feature_names(), threshold=0.1)
    db = db_type(folder / "paper.sqlite")
    scheduler = None if scheduler_for is None else scheduler_for(feed, db)
    loop = PaperLoop(feed, broker, agent, db, cfg, model_version=model_version,
                     scheduler=scheduler)  # fmt: skip
    try:
        await loop.run()
    finally:
        db.close()
        await feed.close()
        server.close()
    return loop, feed


def _last_line_ns(folder: Path, recording: str = "recording") -> int:
    """The receive time of the last line the feed recorded (of any symbol)."""
    last = 0
    for path in (folder / recording).glob("*.txt"):
        lines = path.read_text().splitlines()
        last = max(last, int(lines[-1].split(" ", 1)[0]))
    return last


def _environment_replay(folder: Path, symbol: str, cfg: PaperConfig, episode_steps: int):
    """The feed's recording of ``symbol`` imported as a file, and a TradingEnv on it stepped
    with the database's actions: (equity per step, fills as in the database, decisions)."""
    tick, lot = STEPS[symbol]
    market = import_market(
        folder / "recording" / f"{symbol}.txt", format="binance-stream", on_gap="resync",
        tick_size=tick.rstrip("0"), lot_size=lot,
    )  # fmt: skip
    db = ReplayDatabase(folder / "paper.sqlite")
    try:
        start, rows, fills = int(db.meta()["start_ns"]), db.decisions(symbol), db.fills(symbol)
    finally:
        db.close()
    env = TradingEnv(market, cfg.env.replace(episode_steps=episode_steps))
    # the recording of the other symbol shows that nothing came for this one until its end
    env.extend_market(None, _last_line_ns(folder))
    env.reset(seed=cfg.env.seed, options={"start_ns": start})
    equity, env_fills = [], []
    for row in rows:
        _, _, _, _, info = env.step(int(row["action"]))
        equity.append(info["equity"])
        env_fills += [(int(f[0]), int(f[1]), float(f[2]), float(f[3]), float(f[4]))
                      for f in info["fills"]]  # fmt: skip
    paper_fills = [tuple(f[3:]) for f in fills]
    return equity, env_fills, paper_fills, rows, market


def _assert_paper_equals_env(folder: Path, cfg: PaperConfig) -> dict[str, Any]:
    out = {}
    for symbol in SYMBOLS:
        equity, env_fills, paper_fills, rows, market = _environment_replay(
            folder, symbol, cfg, 1_000_000_000
        )
        assert len(rows) > 50, symbol
        assert len(paper_fills) > 5, symbol
        np.testing.assert_array_equal([r["equity"] for r in rows], equity)
        assert paper_fills == env_fills
        out[symbol] = (rows, market)
    return out


def test_paper_on_the_live_feed_equals_the_environment_on_its_recording(
    recorded, tmp_path: Path
) -> None:
    messages, snapshots = recorded
    exchange = LoopbackExchange(messages, snapshots)
    cfg = _config(seconds=15.0)
    loop, feed = asyncio.run(_live_run(exchange, tmp_path, cfg))
    assert all(feed.stats(s)["snapshots"] == 1 for s in SYMBOLS)
    assert loop.counters["events"] > 300  # messages
    _assert_paper_equals_env(tmp_path, cfg)


def test_an_outage_in_the_middle_resyncs_and_trading_goes_on(recorded, tmp_path: Path) -> None:
    messages, snapshots = recorded
    # the connection drops after ~8 s of messages and 200 messages are lost meanwhile
    outage = next(i for i, m in enumerate(messages) if m[0] > messages[0][0] + 8e9)
    exchange = LoopbackExchange(messages, snapshots, outage_after=outage, outage_lost=200)
    cfg = _config(seconds=15.0)
    loop, _ = asyncio.run(_live_run(exchange, tmp_path, cfg))
    assert exchange.connections == 2 and loop.counters["disconnects"] == 0  # the feed reconnects
    reconnect_ns = messages[outage + 200][0]
    runs = _assert_paper_equals_env(tmp_path, cfg)
    for symbol, (rows, market) in runs.items():
        assert exchange.snapshots_served[symbol] == 2
        # the book rebuilt from the second snapshot (after a gap if a diff came before it)
        assert market.import_report["snapshots"] == 2, symbol
        # the book is back after the resync: decisions on a two-sided book trade again
        after = [r for r in rows if r["ts_ns"] > reconnect_ns + 1e9]
        assert len(after) > 10
        assert len({r["position"] for r in after}) > 1 or any(
            r["action"] != after[0]["action"] for r in after
        )


def test_every_commit_finds_the_recording_on_disk(recorded, tmp_path: Path) -> None:
    """The recording is flushed before each database commit: at every commit the files on
    disk hold every line the feed received (a committed decision's events survive a kill -9;
    a loop that commits without flushing the feed, planted by hand, fails this)."""
    seen: list[tuple[int, int]] = []
    live_lines: dict[str, Any] = {}

    class Checking(ReplayDatabase):
        def write(self, rows):  # type: ignore[no-untyped-def]
            rows = list(rows)
            if not any(table == "decisions" for table, _, _ in rows):
                return super().write(rows)  # the run's settings, before any decision
            for symbol in SYMBOLS:
                path = tmp_path / "recording" / f"{symbol}.txt"
                on_disk = len(path.read_bytes().splitlines()) if path.exists() else 0
                seen.append((on_disk, live_lines["markets"][symbol].lines))
            return super().write(rows)

    class Recording(LivePaperBroker):
        def __post_init__(self) -> None:
            super().__post_init__()
            live_lines["markets"] = self.live

    messages, snapshots = recorded
    cfg = _config(seconds=6.0).replace(commit_every=4)
    asyncio.run(_live_run(LoopbackExchange(messages, snapshots), tmp_path, cfg, Recording,
                          Checking))  # fmt: skip
    assert len(seen) > 20
    assert all(on_disk == fed for on_disk, fed in seen), seen


def test_the_comparison_catches_a_broker_that_does_not_extend_its_market(
    recorded, tmp_path: Path
) -> None:
    """Planted defect: the live broker makes its environments from the first events and
    never appends (the bug a market built once would have): the run no longer equals the
    environment on the recording."""

    class Frozen(LivePaperBroker):
        def sync(self, symbol: str) -> None:
            if symbol not in self.envs:
                super().sync(symbol)
            else:
                self.live[symbol].take()
                self.envs[symbol].extend_market(None, self.live[symbol].known_ns)

    messages, snapshots = recorded
    cfg = _config(seconds=6.0)
    asyncio.run(_live_run(LoopbackExchange(messages, snapshots), tmp_path, cfg, Frozen))
    with pytest.raises(AssertionError):
        _assert_paper_equals_env(tmp_path, cfg)


def test_lobzero_paper_on_a_binance_feed_runs_and_resumes(
    recorded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``lobzero paper --feed binance:...`` against the loopback exchange (real clock, the
    messages at 4x their recorded pace), then the same command with a longer duration: it
    reads the recording back, replays the stored decisions on it and goes on."""
    from lobzero.cli import main

    from .exchange import ExchangeThread

    messages, snapshots = recorded
    db = tmp_path / "p.sqlite"
    with ExchangeThread((messages, snapshots), speed=4.0) as ex:
        url = f"127.0.0.1:{ex.port}"
        args = ["paper", "--agent", "rule:imbalance", "--feed", "binance:BTCUSDT,ETHUSDT",
                "--ws-url", f"ws://{url}", "--rest-url", f"http://{url}", "--db", str(db),
                "--json-log", "--step-ms", "100"]  # fmt: skip
        assert main([*args, "--duration", "1s"]) == 0
        first = ReplayDatabase(db)
        rows = {s: first.decisions(s) for s in SYMBOLS}
        first.close()
        assert all(len(r) >= 5 for r in rows.values())
        assert main([*args, "--duration", "2s"]) == 0
    err = capsys.readouterr().err
    assert "resumed from" in err
    db_after = ReplayDatabase(db)
    try:
        for s in SYMBOLS:
            again = db_after.decisions(s)
            assert len(again) > len(rows[s])
            assert [r["equity"] for r in again[: len(rows[s])]] == [r["equity"] for r in rows[s]]
    finally:
        db_after.close()
    recording = tmp_path / "p_recording"
    assert sorted(p.name for p in recording.iterdir()) == ["BTCUSDT.txt", "ETHUSDT.txt"]


def test_kill_9_of_a_live_run_then_restart_still_equals_the_environment(
    recorded, tmp_path: Path
) -> None:
    """``kill -9`` of a real ``lobzero paper --feed binance:...`` process mid-run, then the
    same command: it resumes from the database and the recording (flushed before each commit,
    so every committed decision's events are on disk), and the whole run, before and after the
    kill, equals a ``TradingEnv`` on the recording."""
    import signal
    import sqlite3

    from ..lobzero_process import LobzeroProcess
    from .exchange import ExchangeThread
    from .test_kill_restart import _decisions, _run_to_end

    messages, snapshots = recorded
    db = tmp_path / "p.sqlite"
    with ExchangeThread((messages, snapshots), speed=2.0) as ex:
        url = f"127.0.0.1:{ex.port}"
        args = ["paper", "--agent", "rule:imbalance", "--feed", "binance:BTCUSDT,ETHUSDT",
                "--ws-url", f"ws://{url}", "--rest-url", f"http://{url}", "--db", str(db),
                "--json-log", "--step-ms", "200", "--latency-ms", "20", "--max-position",
                "0.01", "--initial-cash", "10000", "--commit-every", "4"]  # fmt: skip
        proc = LobzeroProcess([*args, "--duration", "8s"], tmp_path)
        proc.wait_until(lambda: _decisions(db) >= 16, "16 committed decisions")
        proc.proc.send_signal(signal.SIGKILL)
        assert proc.proc.wait(timeout=60) == -signal.SIGKILL
        committed = _decisions(db)
        done = _run_to_end([*args[1:], "--duration", "8s"], tmp_path)
    assert f"{committed:,} resumed" in done.stderr
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] > committed
    cfg = _config(seconds=8.0)
    cfg = cfg.replace(env=cfg.env.replace(latency_ms=20.0, step_ms=200.0))
    for symbol in SYMBOLS:
        tick, lot = STEPS[symbol]
        market = import_market(
            tmp_path / "p_recording" / f"{symbol}.txt", format="binance-stream",
            on_gap="resync", tick_size=tick.rstrip("0"), lot_size=lot,
        )  # fmt: skip
        d = ReplayDatabase(db)
        start, rows, fills = int(d.meta()["start_ns"]), d.decisions(symbol), d.fills(symbol)
        d.close()
        env = TradingEnv(market, cfg.env.replace(episode_steps=1_000_000_000))
        env.extend_market(None, _last_line_ns(tmp_path, "p_recording"))
        env.reset(seed=cfg.env.seed, options={"start_ns": start})
        env_fills = []
        for row in rows:
            _, _, _, _, info = env.step(int(row["action"]))
            assert info["equity"] == row["equity"], (symbol, row["step"])
            env_fills += [tuple(f) for f in info["fills"]]
        assert [tuple(f[3:]) for f in fills] == [
            (int(a), int(b), float(p), float(q), float(fee)) for a, b, p, q, fee in env_fills
        ]


def test_a_quiet_feed_still_decides_on_its_clock(recorded, tmp_path: Path) -> None:
    """After the exchange's last message the feed's idle ticks move the decision clock on
    (real time): the run reaches its duration, decides on the unchanged book, and still
    equals the environment on the recording with the run's horizon (the last decision's
    time: no message came until then). Without idle ticks (idle_s=None) the same run would
    wait for a message forever."""
    import time

    messages, snapshots = recorded
    short = [m for m in messages if m[0] < messages[0][0] + 4e9]
    after = {s: (min(i, len(short) - 1), snap) for s, (i, snap) in snapshots.items()}
    exchange = LoopbackExchange(short, after)

    async def run() -> PaperLoop:
        server = await serve(exchange.stream, exchange.get)
        port = server.sockets[0].getsockname()[1]
        feed = BinanceFeed(
            SYMBOLS, tmp_path / "recording", ws_url=f"ws://127.0.0.1:{port}",
            rest_url=f"http://127.0.0.1:{port}", idle_s=0.05, clock=time.time_ns,
        )  # fmt: skip
        steps = await feed.exchange_steps()
        live = {s: LiveMarket(s, *steps[s]) for s in SYMBOLS}
        feed.live = live
        broker = LivePaperBroker(env_config=cfg.env, live=live)
        agent = make_rule_agent("imbalance", broker.feature_names(), threshold=0.1)
        db = ReplayDatabase(tmp_path / "paper.sqlite")
        loop = PaperLoop(feed, broker, agent, db, cfg)
        try:
            await asyncio.wait_for(loop.run(), timeout=60)
        finally:
            db.close()
            await feed.close()
            server.close()
        return loop

    cfg = _config(seconds=2.0)
    loop = asyncio.run(run())
    assert exchange.done.is_set()  # every message was sent, then the feed went quiet
    db = ReplayDatabase(tmp_path / "paper.sqlite")
    try:
        horizon = max(int(r["next_ts_ns"]) for r in db.decisions())
        start = int(db.meta()["start_ns"])
    finally:
        db.close()
    assert horizon - start >= 2e9 - 2e8  # decided to the end of the duration
    assert horizon > _last_line_ns(tmp_path) + 2e8  # well past the last message
    for symbol in SYMBOLS:
        assert loop.states[symbol].step >= 8, symbol
        tick, lot = STEPS[symbol]
        market = import_market(
            tmp_path / "recording" / f"{symbol}.txt", format="binance-stream",
            on_gap="resync", tick_size=tick.rstrip("0"), lot_size=lot,
        )  # fmt: skip
        d = ReplayDatabase(tmp_path / "paper.sqlite")
        rows = d.decisions(symbol)
        d.close()
        env = TradingEnv(market, cfg.env.replace(episode_steps=1_000_000_000))
        env.extend_market(None, horizon)
        env.reset(seed=cfg.env.seed, options={"start_ns": start})
        for row in rows:
            _, _, _, _, info = env.step(int(row["action"]))
            assert (info["equity"], info["ts_ns"]) == (row["equity"], row["next_ts_ns"])
