"""Continuous learning on the Binance feed: a paper run against the loopback exchange (recorded
USD-M messages of two symbols, the clock the messages' recorded receive times: an accelerated
clock) crosses the daily retrain time; the retrain job imports what the feed recorded up to
then, trains the challenger on the first part of it and scores both models on the last part
(neither trained there), and the gate's decision, promotion or refusal with its reason, is in
the database and the registry. Planted defects (a job that validates on its training range, a
job that never sees the live data) fail the check."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import pytest
from lobzero.baselines.rules import make_rule_agent
from lobzero.live import ReplayDatabase
from lobzero.live.binance import recording_source
from lobzero.live.live_market import LiveMarket, LivePaperBroker
from lobzero.live.registry import ModelRegistry
from lobzero.live.scheduler import DailySchedule, RetrainJob, tune_imbalance_threshold

from .exchange import LoopbackExchange
from .test_paper_live import SYMBOLS, _config, _live_run, recorded  # noqa: F401

TRAIN_S, VALIDATION_S = 8.0, 5.0
#: market seconds after the first message: the retrain time, and the run's length
RETRAIN_AFTER_S, RUN_S = 17.0, 21.0


def _time_of_day(ns: int) -> str:
    """``HH:MM:SS`` (UTC) of the first whole second at or after ``ns``."""
    seconds = -(-ns // 10**9)
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%H:%M:%S")


def _retrain_run(messages, snapshots, folder: Path, job_type: type = RetrainJob, source=None):
    """A paper run with the daily retrain ``RETRAIN_AFTER_S`` market seconds after the first
    message; the imbalance rule (threshold 0.1) is champion v1, its challenger the threshold
    tuned on the training range. ``source(feed)``: the job's markets (the feed's recording
    when None). Returns (loop, job, schedule, promotions, models, decisions)."""
    cfg = _config(seconds=RUN_S)
    names = LivePaperBroker(
        env_config=cfg.env, live={"BTCUSDT": LiveMarket("BTCUSDT", "0.1", "0.001")}
    ).feature_names()
    registry = ModelRegistry(folder / "reg")
    registry.promote(registry.register(make_rule_agent("imbalance", names, threshold=0.1)))
    jobs: list[Any] = []

    def scheduler_for(feed, db):  # type: ignore[no-untyped-def]
        markets = recording_source(feed) if source is None else source(feed)
        job = job_type(registry, markets, cfg.env, tune_imbalance_threshold(cfg.env), db,
                       TRAIN_S, VALIDATION_S)  # fmt: skip
        jobs.append(job)
        return DailySchedule(_time_of_day(messages[0][0] + round(RETRAIN_AFTER_S * 1e9)), job)

    loop, _ = asyncio.run(_live_run(
        LoopbackExchange(messages, snapshots), folder, cfg, agent=registry.load("v1"),
        scheduler_for=scheduler_for, model_version="v1",
    ))  # fmt: skip
    db = ReplayDatabase(folder / "paper.sqlite")
    try:
        promotions, decisions = db.promotions(), db.decisions()
        models = db.connection.execute("SELECT version, scores FROM models").fetchall()
    finally:
        db.close()
    job = jobs[0]
    return loop, job, loop.scheduler, registry, promotions, models, decisions


def _assert_validated_on_what_it_saw(job: RetrainJob, clock_ns: int, models: list) -> None:
    """The retrain at ``clock_ns`` validated on the last ``VALIDATION_S`` seconds before it,
    trained before that, and both ranges lie in what the live run had seen (the recording up
    to the retrain: its last event within half a second of the clock, where messages arrive
    every few ms), as the database's models row says too."""
    (run,) = job.runs
    assert run.validation == (clock_ns - round(VALIDATION_S * 1e9), clock_ns)
    assert run.train[0] < run.train[1] <= run.validation[0]
    assert run.seen[0] <= run.train[0], "the training range begins before the data seen"
    assert run.seen[1] >= clock_ns - 5 * 10**8, "the job did not see the live data to the clock"
    (_, scores), *_ = models
    scores = json.loads(scores)
    assert (scores["train_ns"], scores["validation_ns"]) == (list(run.train), list(run.validation))


def test_a_live_run_retrains_on_its_recording_at_the_retrain_time(recorded, tmp_path: Path):
    messages, snapshots = recorded
    began = time.perf_counter()
    loop, job, schedule, registry, promotions, models, decisions = _retrain_run(
        messages, snapshots, tmp_path
    )
    elapsed = time.perf_counter() - began
    (clock_ns,) = schedule.runs
    assert clock_ns >= messages[0][0] + RETRAIN_AFTER_S * 1e9
    _assert_validated_on_what_it_saw(job, clock_ns, models)
    ((ts, kind, champion, challenger, promoted, reason),) = promotions
    assert (ts, kind, champion, challenger) == (clock_ns, "retrain", "v1", "v2") and reason
    assert [v.version for v in registry.versions()] == ["v1", "v2"]
    assert registry.champion == ("v2" if promoted else "v1"), reason
    after = {d["model_version"] for d in decisions if d["ts_ns"] > clock_ns}
    assert after == {registry.champion}  # the loop trades with the gate's choice
    assert {d["model_version"] for d in decisions if d["ts_ns"] < clock_ns} == {"v1"}
    print(f"live retrain run: {elapsed:.1f} s, promoted={promoted}: {reason}")


class _ValidatesOnItsTraining(RetrainJob):
    """Planted defect: the challenger is scored on the range it was tuned on."""

    def ranges(self, clock_ns: int) -> tuple[tuple[int, int], tuple[int, int]]:
        train, _ = super().ranges(clock_ns)
        return train, train


def test_a_retrain_that_validates_on_its_training_range_fails_the_check(
    recorded, tmp_path: Path
) -> None:
    messages, snapshots = recorded
    _, job, schedule, *_, models, _ = _retrain_run(
        messages, snapshots, tmp_path, _ValidatesOnItsTraining
    )
    with pytest.raises(AssertionError):
        _assert_validated_on_what_it_saw(job, schedule.runs[0], models)


def test_a_retrain_that_never_sees_the_live_data_fails_the_check(
    recorded, tmp_path: Path
) -> None:
    """Planted defect: the job's markets are what the run had before it traded (nothing: the
    markets of a run that was refused ``--retrain-at`` on a live feed). The job refuses with
    its reason in the database, and the check fails."""
    messages, snapshots = recorded
    _, job, schedule, registry, promotions, models, _ = _retrain_run(
        messages, snapshots, tmp_path, source=lambda feed: {}
    )
    ((_, kind, champion, challenger, promoted, reason),) = promotions
    assert (kind, champion, challenger, promoted) == ("retrain", "v1", None, 0)
    assert "not enough market seen" in reason and registry.champion == "v1"
    with pytest.raises(AssertionError):
        _assert_validated_on_what_it_saw(job, schedule.runs[0], models)
