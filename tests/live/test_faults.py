"""The paper loop under injected faults (:mod:`lobzero.live.faults`): dropped, duplicated and
out-of-order batches, stalls, disconnects and crashes of the agent and the broker. The
decisions, fills and transitions equal a fault-free run's (the rule agent is a function of the
observation), and the loop's counters equal what the faulty feed and workers injected."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from lobzero.baselines.rules import make_rule_agent
from lobzero.live import PaperBroker, PaperLoop, ReplayDatabase, ReplayFeed
from lobzero.live.faults import FaultConfig, FaultyAgent, FaultyBroker, FaultyFeed, WorkerCrashError

from .helpers import config, markets, replayed_rows

FAULTS = FaultConfig(drop=0.01, duplicate=0.02, reorder=0.02, stall=0.002, stall_s=8.0,
                     disconnect=0.005, agent_crash=0.01, broker_crash=0.005)  # fmt: skip


def _run(path: Path, mkts: dict[str, Any], faults: FaultConfig | None, after_step: bool = False,
         loop_class: type[PaperLoop] = PaperLoop) -> tuple[PaperLoop, Any, Any, Any]:  # fmt: skip
    cfg = config(commit_every=16)
    broker: Any = PaperBroker(mkts, cfg.env)
    agent: Any = make_rule_agent("imbalance", broker.feature_names(), threshold=0.1)
    feed: Any = ReplayFeed(mkts)
    if faults is not None:
        feed = FaultyFeed(feed, faults, seed=3)
        agent = FaultyAgent(agent, faults.agent_crash, seed=4)
        broker = FaultyBroker(broker, faults.broker_crash, seed=5, after_step=after_step)
    db = ReplayDatabase(path)
    loop = loop_class(feed, broker, agent, db, cfg)
    try:
        asyncio.run(loop.run())
    finally:
        db.close()
    return loop, feed, agent, broker


def _tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    db = ReplayDatabase(path)
    try:
        c = db.connection
        return {t: c.execute(f"SELECT * FROM {t} ORDER BY symbol, step").fetchall()
                for t in ("fills", "transitions")}  # fmt: skip
    finally:
        db.close()


@pytest.mark.parametrize("after_step", [False, True])
def test_faults_lose_and_duplicate_nothing_and_are_counted(
    tmp_path: Path, after_step: bool
) -> None:
    mkts = markets(60.0)
    clean, *_ = _run(tmp_path / "clean.sqlite", mkts, None)
    loop, feed, agent, broker = _run(tmp_path / "faulty.sqlite", mkts, FAULTS, after_step)
    c, injected = loop.counters, feed.counts
    # every kind of fault happened, and the loop saw each as injected
    assert min(injected.dropped, injected.duplicated, injected.reordered, injected.stalls,
               injected.disconnects, agent.crashes, broker.crashes) > 0, injected  # fmt: skip
    assert clean.counters["stalls"] == clean.counters["gaps"] == 0
    assert c["duplicates"] == injected.duplicated
    assert c["out_of_order"] == injected.reordered
    assert c["disconnects"] == injected.disconnects
    # a stall the stream's end cut short may stay under the heartbeat's threshold
    assert c["stalls"] == sum(d > loop.config.stall_s * 1e9 for d in injected.stall_ns)
    assert c["events"] == injected.events
    assert (c["agent_crashes"], c["broker_crashes"]) == (agent.crashes, broker.crashes)
    assert c["restarts"] == broker.crashes
    # every event is accepted once or counted missing: in a gap or after the last accepted batch
    tail = sum(clean._last_batch[s][1] - loop._last_batch[s][1] for s in mkts)
    assert c["gap_events"] + tail == injected.lost_events
    assert c["events"] + injected.lost_events == clean.counters["events"]
    # and the run is the fault-free run: no decision, fill or transition lost or written twice
    assert replayed_rows(tmp_path / "faulty.sqlite") == replayed_rows(tmp_path / "clean.sqlite")
    assert _tables(tmp_path / "faulty.sqlite") == _tables(tmp_path / "clean.sqlite")
    db = ReplayDatabase(tmp_path / "faulty.sqlite")
    kinds = dict(db.connection.execute(
        "SELECT kind, COUNT(*) FROM feed_health GROUP BY kind").fetchall())  # fmt: skip
    db.close()
    assert kinds["broker_crash"] == broker.crashes and kinds["stall"] == c["stalls"]
    assert kinds["gap"] == c["gaps"] and kinds["reconnect"] >= 2 * injected.disconnects


class RetryWithoutRestart(PaperLoop):
    """Planted defect: a crashed broker step retried on the same environment (no restart)."""

    def _open_symbol(self, symbol: str, start: int) -> Any:
        if symbol in self.states:
            return self.states[symbol]
        return super()._open_symbol(symbol, start)


def test_a_retry_without_restart_is_caught(tmp_path: Path) -> None:
    """A crash after the environment stepped, retried without restarting the symbol, steps
    twice: the run differs from the fault-free one (what the test above would catch)."""
    mkts = markets(20.0)
    _run(tmp_path / "clean.sqlite", mkts, None)
    faults = FaultConfig(broker_crash=0.02)
    _, _, _, broker = _run(tmp_path / "bad.sqlite", mkts, faults, True, RetryWithoutRestart)
    assert broker.crashes > 0
    assert replayed_rows(tmp_path / "bad.sqlite") != replayed_rows(tmp_path / "clean.sqlite")


def test_a_persistent_agent_failure_stops_the_loop(tmp_path: Path) -> None:
    mkts = markets(5.0)
    with pytest.raises(WorkerCrashError):
        _run(tmp_path / "p.sqlite", mkts, FaultConfig(agent_crash=0.999))
