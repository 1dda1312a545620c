"""The risk layer's state survives a ``kill -9`` of a real ``lobzero paper --risk`` process:
the circuit breaker that halted before the kill is still halted after the restart, and the
resumed run's rows equal an uninterrupted run's (the state is stored with each commit)."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

from lobzero.data.synth import synth_market

from ..lobzero_process import LobzeroProcess
from .helpers import replayed_rows
from .test_kill_restart import ARGS, _decisions, _run_to_end

#: trips at the first loss of a few dollars of 20,000: early in the run
RISK = "[circuit_breaker]\nmax_drawdown = 0.0001\n"


def _halted_from(db: Path) -> int | None:
    """The first step (of symbol AAA) from which every later decision is flat though the agent
    wanted a position: the breaker's halt, seen in the rows (None: not halted)."""
    with sqlite3.connect(db, timeout=5) as c:
        rows = c.execute(
            "SELECT step, intended_action, action, position FROM decisions "
            "WHERE symbol = 'AAA' ORDER BY step"
        ).fetchall()
    start = None
    for step, _, action, position in rows:
        flat = action == 2 and position == 0.0  # target mode: action 2 is flat
        if not flat:
            start = None
        elif start is None:
            start = step
    overridden = any(i != a for s, i, a, _ in rows if start is not None and s >= start)
    return start if overridden else None


def test_a_halted_breaker_stays_halted_after_kill_9_and_restart(tmp_path: Path) -> None:
    for i, s in enumerate(("AAA", "BBB")):
        synth_market(symbol=s, seconds=60, seed=i).save(tmp_path / f"{s}.parquet")
    (tmp_path / "risk.toml").write_text(RISK)
    feed = ["--feed", f"replay:{tmp_path / 'AAA.parquet'},{tmp_path / 'BBB.parquet'}",
            "--risk", str(tmp_path / "risk.toml")]  # fmt: skip
    reference, cut = tmp_path / "reference.sqlite", tmp_path / "cut.sqlite"
    _run_to_end([*ARGS, *feed, "--db", str(reference), "--speed", "max"], tmp_path)
    halted = _halted_from(reference)
    assert halted is not None and 5 < halted < 150, halted
    total = len(replayed_rows(reference))

    proc = LobzeroProcess(["paper", *ARGS, *feed, "--db", str(cut)], tmp_path)
    proc.wait_until(lambda: _decisions(cut) >= 2 * halted + 100, "decisions past the halt")
    proc.proc.send_signal(signal.SIGKILL)
    assert proc.proc.wait(timeout=60) == -signal.SIGKILL
    committed = _decisions(cut)
    assert committed < total, "the kill must land mid-run"
    assert _halted_from(cut) == halted  # halted before the kill

    done = _run_to_end([*ARGS, *feed, "--db", str(cut), "--speed", "max"], tmp_path)
    assert f"{committed:,} resumed" in done.stderr
    # still halted to the end: a fresh breaker would trade again after the restart
    assert _halted_from(cut) == halted
    assert replayed_rows(cut) == replayed_rows(reference)
