"""The soak of ``benchmarks/paper_soak.py``, short: two simulated hours of two synthetic
symbols with every fault on and a retrain, on an accelerated clock; every check holds. Planted
defects show the checks can fail: a database that loses a transaction, a loop that takes
every batch (duplicates and out-of-order ones too)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lobzero.live import PaperLoop, ReplayDatabase
from lobzero.live.soak import run_soak


def test_a_short_soak_survives_every_fault(tmp_path: Path) -> None:
    report = run_soak(hours=2.0, symbols=2, retrain_at="01:30", train_s=1800.0,
                      work_dir=tmp_path)  # fmt: skip
    assert report["checks"] == dict.fromkeys(("no_crash", "rows", "events", "daily", "retrain"),
                                             True), report  # fmt: skip
    injected = report["injected"]
    assert min(injected[k] for k in ("dropped", "duplicated", "reordered", "stalls",
                                     "disconnects", "agent_crashes")) > 0, injected  # fmt: skip
    (promotion,) = report["promotions"]
    assert promotion[1] == "retrain" and promotion[5]  # promoted or refused, with its reason


def test_a_lost_transaction_fails_the_rows_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write = ReplayDatabase.write
    calls = {"n": 0}

    def losing_write(self: ReplayDatabase, rows: Any) -> int:
        rows = list(rows)
        calls["n"] += 1
        if calls["n"] == 5 and any(r[0] == "decisions" for r in rows):
            return 0  # planted: the transaction never reaches the disk
        return write(self, rows)

    monkeypatch.setattr(ReplayDatabase, "write", losing_write)
    report = run_soak(hours=0.5, symbols=1, retrain_at="00:20", train_s=600.0,
                      work_dir=tmp_path)  # fmt: skip
    assert not report["checks"]["rows"]


def test_taking_every_batch_fails_the_events_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def take_all(self: PaperLoop, batch: Any) -> bool:
        # planted: no key check, duplicates and late batches go through
        self.counters["batches"] += 1
        self.counters["events"] += batch.count
        return True

    monkeypatch.setattr(PaperLoop, "accept", take_all)
    report = run_soak(hours=0.5, symbols=1, retrain_at="00:20", train_s=600.0,
                      work_dir=tmp_path)  # fmt: skip
    assert report["checks"]["rows"] and not report["checks"]["events"]
