"""Shadow mode: a challenger decides beside the champion without trading, its decisions stored
(schema version 2, ``shadow_decisions``), and ``paper ab`` compares the two: agreement, and
the shadow's PnL by replaying its decisions through a paper broker on the same events."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lobzero.baselines.rules import make_rule_agent
from lobzero.live import SCHEMA_VERSION, PaperBroker, ReplayDatabase
from lobzero.live.ab import compare
from lobzero.live.database import MIGRATIONS

from ..lobzero_process import REPO
from .helpers import config, markets, replayed_rows, run_loop


def _agent(name: str, mkts: dict[str, Any], **params: Any) -> Any:
    cfg = config()
    return make_rule_agent(name, PaperBroker(mkts, cfg.env).feature_names(), **params)


def test_a_shadow_trades_nothing_and_its_replayed_pnl_is_its_own_run(tmp_path: Path) -> None:
    """buy_and_hold decides without looking at the observation, so replaying its shadow
    decisions must give the PnL of a run with it as the champion; the champion's rows are
    those of a run without a shadow. (A shadow row stored one step off, or a shadow action
    executed, breaks these.)"""
    mkts, cfg = markets(20.0), config()
    champion = _agent("imbalance", mkts, threshold=0.1)
    run_loop(tmp_path / "alone.sqlite", mkts, cfg, agent=champion)
    run_loop(tmp_path / "bh.sqlite", mkts, cfg, agent=_agent("buy_and_hold", mkts))
    loop = run_loop(tmp_path / "ab.sqlite", mkts, cfg, agent=champion,
                    shadow=_agent("buy_and_hold", mkts), shadow_version="bh")  # fmt: skip
    assert replayed_rows(tmp_path / "ab.sqlite") == replayed_rows(tmp_path / "alone.sqlite")
    db = ReplayDatabase(tmp_path / "ab.sqlite")
    summary = compare(db, mkts)
    db.close()
    bh = ReplayDatabase(tmp_path / "bh.sqlite")
    for symbol, s in summary.items():
        assert s["shadow_decisions"] == s["decisions"] == loop.states[symbol].step
        assert 0.0 < s["agreement"] < 1.0 and s["shadow_versions"] == ["bh"]
        own = bh.decisions(symbol)
        assert s["shadow_pnl"] == pytest.approx(own[-1]["equity"] - 10_000.0, abs=1e-9)
        assert s["shadow_fills"] == len(bh.fills(symbol)) > 0
    bh.close()


def test_a_shadow_equal_to_the_champion_agrees_everywhere(tmp_path: Path) -> None:
    mkts, cfg = markets(10.0), config()
    run_loop(tmp_path / "p.sqlite", mkts, cfg, agent=_agent("imbalance", mkts, threshold=0.1),
             shadow=_agent("imbalance", mkts, threshold=0.1))  # fmt: skip
    db = ReplayDatabase(tmp_path / "p.sqlite")
    for s in compare(db, mkts).values():
        assert s["agreement"] == 1.0
        assert s["shadow_pnl"] == pytest.approx(s["champion_pnl"], abs=1e-9)
    db.close()


class Crashing:
    """A shadow that fails on every other call."""

    def __init__(self, agent: Any) -> None:
        self.agent, self.calls = agent, 0

    def act(self, obs: Any) -> Any:
        self.calls += 1
        if self.calls % 2:
            raise RuntimeError("shadow down")
        return self.agent.act(obs)


def test_a_crashing_shadow_never_touches_the_champion(tmp_path: Path) -> None:
    mkts, cfg = markets(10.0), config()
    champion = _agent("imbalance", mkts, threshold=0.1)
    run_loop(tmp_path / "alone.sqlite", mkts, cfg, agent=champion)
    loop = run_loop(tmp_path / "p.sqlite", mkts, cfg, agent=champion,
                    shadow=Crashing(_agent("flat", mkts)))  # fmt: skip
    assert replayed_rows(tmp_path / "p.sqlite") == replayed_rows(tmp_path / "alone.sqlite")
    db = ReplayDatabase(tmp_path / "p.sqlite")
    crashes = db.connection.execute(
        "SELECT COUNT(*) FROM feed_health WHERE kind = 'shadow_crash'").fetchone()[0]  # fmt: skip
    assert crashes == loop.counters["shadow_crashes"] > 0
    # one row a decision, or a crash; a symbol's last decision (decided, never executed, as
    # the feed ended) may add a crash
    extra = db.count("shadow_decisions") + crashes - db.count("decisions")
    assert 0 <= extra <= len(mkts)
    db.close()


def test_a_version_1_database_migrates_to_the_latest_keeping_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "v1.sqlite"
    with sqlite3.connect(path) as c:
        c.executescript(MIGRATIONS[0] + "PRAGMA user_version=1;")
        c.execute("INSERT INTO meta VALUES ('start_ns', '5')")
    db = ReplayDatabase(path)
    assert db.schema_version == SCHEMA_VERSION == 3 and db.meta() == {"start_ns": 5}
    assert db.count("shadow_decisions") == 0 and db.risk_state() is None
    db.close()


def test_paper_shadow_and_ab_commands(tmp_path: Path) -> None:
    for s in ("AAA", "BBB"):
        markets(10.0, (s,))[s].save(tmp_path / f"{s}.parquet")
    feed = f"replay:{tmp_path / 'AAA.parquet'},{tmp_path / 'BBB.parquet'}"
    db = tmp_path / "p.sqlite"
    env = {"PYTHONPATH": str(REPO / "python")}
    base = [sys.executable, "-m", "lobzero", "paper"]
    subprocess.run([*base, "--agent", "rule:imbalance", "--shadow", "rule:buy_and_hold",
                    "--feed", feed, "--db", str(db), "--json-log", "--max-position", "0.01"],
                   env=env, cwd=tmp_path, capture_output=True, text=True, check=True)  # fmt: skip
    done = subprocess.run([*base, "ab", "--db", str(db), "--feed", feed], env=env, cwd=tmp_path,
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert "agreement" in done.stdout and "rule:buy_and_hold" in done.stdout
    assert (tmp_path / "p_ab.json").exists()
