"""``kill -9`` of a real ``lobzero paper`` process in the middle of its write burst, then a
restart: the database ends with exactly the rows of an uninterrupted run (nothing committed is
lost, nothing is written twice) and the restart resumed from the database's state.

The agent is the imbalance rule, a function of the observation: an agent with a state of its
own (the random rule's generator) restarts with a fresh one, so its decisions after a restart
differ from an uninterrupted run's (the positions and cash it resumes from do not)."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from lobzero.data.synth import synth_market

from ..lobzero_process import REPO, LobzeroProcess
from .helpers import replayed_rows

#: 2 symbols x 60 s at one decision per 100 ms: ~1,200 decisions, 5 per transaction
ARGS = ["--agent", "rule:imbalance", "--speed", "30", "--commit-every", "5", "--json-log",
        "--max-position", "0.01", "--latency-ms", "25"]  # fmt: skip


def _decisions(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as c:
            return int(c.execute("SELECT COUNT(*) FROM decisions").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


def _run_to_end(args: list[str], folder: Path) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(REPO / "python")}
    return subprocess.run(
        [sys.executable, "-m", "lobzero", "paper", *args],
        cwd=folder, env=env, capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip


def test_kill_9_mid_burst_then_restart_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    for i, s in enumerate(("AAA", "BBB")):
        synth_market(symbol=s, seconds=60, seed=i).save(tmp_path / f"{s}.parquet")
    feed = ["--feed", f"replay:{tmp_path / 'AAA.parquet'},{tmp_path / 'BBB.parquet'}"]
    reference, cut = tmp_path / "reference.sqlite", tmp_path / "cut.sqlite"
    _run_to_end([*ARGS, *feed, "--db", str(reference), "--speed", "max"], tmp_path)
    total = len(replayed_rows(reference))
    assert total > 1000
    with sqlite3.connect(reference) as r:
        assert r.execute("SELECT COUNT(*) FROM fills").fetchone()[0] > 50

    proc = LobzeroProcess(["paper", *ARGS, *feed, "--db", str(cut)], tmp_path)
    proc.wait_until(lambda: _decisions(cut) >= 300, "300 committed decisions")
    proc.proc.send_signal(signal.SIGKILL)
    assert proc.proc.wait(timeout=60) == -signal.SIGKILL
    committed = _decisions(cut)
    assert 300 <= committed < total, "the kill must land mid-run"

    done = _run_to_end([*ARGS, *feed, "--db", str(cut), "--speed", "max"], tmp_path)
    assert f"{committed:,} resumed" in done.stderr
    assert replayed_rows(cut) == replayed_rows(reference)
    with sqlite3.connect(cut) as c, sqlite3.connect(reference) as r:
        for table in ("fills", "transitions"):
            query = f"SELECT * FROM {table} ORDER BY symbol, step"
            assert c.execute(query).fetchall() == r.execute(query).fetchall(), table
