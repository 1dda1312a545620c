"""The replay database: schema version and migrations, idempotent batched writes, and a loop
that resumes from the database's state (in process; the kill -9 subprocess test is in
test_kill_restart.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from lobzero.baselines.rules import make_rule_agent
from lobzero.exceptions import ConfigError
from lobzero.live import SCHEMA_VERSION, PaperBroker, ReplayDatabase

from .helpers import config, markets, replayed_rows, run_loop


def test_a_new_database_is_in_wal_mode_at_the_schema_version(tmp_path: Path) -> None:
    db = ReplayDatabase(tmp_path / "p.sqlite")
    assert db.schema_version == SCHEMA_VERSION
    assert db.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite"
    sqlite3.connect(path).execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(ConfigError, match="schema version"):
        ReplayDatabase(path)


def test_rewriting_committed_rows_inserts_nothing(tmp_path: Path) -> None:
    db = ReplayDatabase(tmp_path / "p.sqlite")
    cols = ("symbol", "ts_ns", "kind", "detail")
    rows = [("feed_health", cols, ("AAA", t, "heartbeat", "")) for t in range(5)]
    assert db.write(rows) == 5
    assert db.write(rows) == 0
    assert db.count("feed_health") == 5
    db.close()


def test_a_failed_transaction_writes_nothing(tmp_path: Path) -> None:
    db = ReplayDatabase(tmp_path / "p.sqlite")
    cols = ("symbol", "ts_ns", "kind", "detail")
    rows = [("feed_health", cols, ("AAA", 1, "heartbeat", "")), ("no_table", cols, (1, 2, 3, 4))]
    with pytest.raises(sqlite3.OperationalError):
        db.write(rows)
    assert db.count("feed_health") == 0
    db.close()


def test_transitions_are_ready_for_training(tmp_path: Path) -> None:
    loop = run_loop(tmp_path / "p.sqlite", markets(10.0, ("AAA",)), config())
    db = ReplayDatabase(tmp_path / "p.sqlite")
    obs, actions, rewards, next_obs = db.transitions("AAA")
    assert obs.shape == next_obs.shape == (loop.states["AAA"].step, obs.shape[1])
    # s' of a step is s of the next
    np.testing.assert_array_equal(next_obs[:-1], obs[1:])
    assert len(actions) == len(rewards) == len(obs)
    db.close()


class StopAfter:
    """An agent that dies (as a crash would) after ``calls`` decisions."""

    def __init__(self, agent, calls: int) -> None:
        self.agent, self.calls = agent, calls
        self.action_mode = agent.action_mode

    def act(self, obs):
        self.calls -= 1
        if self.calls < 0:
            raise RuntimeError("crash")
        return self.agent.act(obs)


def test_a_crashed_run_resumes_to_the_uninterrupted_result(tmp_path: Path) -> None:
    mkts, cfg = markets(), config(commit_every=7)
    run_loop(tmp_path / "full.sqlite", mkts, cfg)
    names = PaperBroker(mkts, cfg.env).feature_names()
    crashing = StopAfter(make_rule_agent("imbalance", names, threshold=0.1), 250)
    with pytest.raises(RuntimeError, match="crash"):
        run_loop(tmp_path / "cut.sqlite", mkts, cfg, agent=crashing)
    partial = replayed_rows(tmp_path / "cut.sqlite")
    # only whole transactions of 7 decisions were committed, fewer than were made
    assert 0 < len(partial) < 250 and len(partial) % 7 == 0
    loop = run_loop(tmp_path / "cut.sqlite", mkts, cfg)
    assert loop.resumed_steps == len(partial)
    assert replayed_rows(tmp_path / "cut.sqlite") == replayed_rows(tmp_path / "full.sqlite")


def test_resuming_on_another_environment_is_refused(tmp_path: Path) -> None:
    mkts, cfg = markets(10.0), config()
    run_loop(
        tmp_path / "p.sqlite",
        mkts,
        cfg,
    )
    with pytest.raises(ConfigError, match="another environment"):
        run_loop(tmp_path / "p.sqlite", mkts, cfg.replace(env=cfg.env.replace(latency_ms=5.0)))


def test_a_finished_run_replayed_again_adds_nothing(tmp_path: Path) -> None:
    mkts, cfg = markets(10.0), config()
    run_loop(tmp_path / "p.sqlite", mkts, cfg)
    before = replayed_rows(tmp_path / "p.sqlite")
    loop = run_loop(tmp_path / "p.sqlite", mkts, cfg)
    assert loop.resumed_steps == len(before)
    assert replayed_rows(tmp_path / "p.sqlite") == before
