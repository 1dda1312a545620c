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
from lobzero.data.importers import import_market
from lobzero.live import ReplayDatabase
from lobzero.live.binance import recorded_market, recording_source
from lobzero.live.gate import GateConfig
from lobzero.live.live_market import LiveMarket, LivePaperBroker
from lobzero.live.registry import ModelRegistry
from lobzero.live.scheduler import DailySchedule, RetrainJob, tune_imbalance_threshold

from .exchange import STEPS, LoopbackExchange, load_messages
from .test_paper_live import LINES, SYMBOLS, _config, _live_run

TRAIN_S, VALIDATION_S = 8.0, 5.0
#: market seconds after the first message: the retrain time, and the run's length
RETRAIN_AFTER_S, RUN_S = 17.0, 21.0


@pytest.fixture(scope="module")
def recorded(shared_data: Path):  # type: ignore[no-untyped-def]
    return load_messages(shared_data, SYMBOLS, LINES)


def _time_of_day(ns: int) -> str:
    """``HH:MM:SS`` (UTC) of the first whole second at or after ``ns``."""
    seconds = -(-ns // 10**9)
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%H:%M:%S")


def _retrain_run(
    messages, snapshots, folder: Path, job_type: type = RetrainJob, source=None, gate_config=None
):
    """A paper run with the daily retrain ``RETRAIN_AFTER_S`` market seconds after the first
    message; the imbalance rule (threshold 0.1) is champion v1, its challenger the threshold
    tuned on the training range. ``source(feed)``: the job's markets (the feed's recording
    when None); ``gate_config``: the gate's (its defaults when None). Returns (loop, job,
    schedule, registry, promotions, models, decisions)."""
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
                       TRAIN_S, VALIDATION_S, gate_config or GateConfig())  # fmt: skip
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


def _assert_validated_on_what_it_saw(
    job: RetrainJob, clock_ns: int, models: list, folder: Path
) -> None:
    """The retrain at ``clock_ns`` validated on the last ``VALIDATION_S`` seconds before it,
    trained before that, and had every event the live run had received up to then: the
    markets it saw begin where the feed's whole recording (read after the run) begins, and
    end at the recording's last event at or before the clock; the database's models row
    names the same ranges."""
    (run,) = job.runs
    assert run.validation == (clock_ns - round(VALIDATION_S * 1e9), clock_ns)
    assert run.train[0] < run.train[1] <= run.validation[0]
    assert run.seen[0] <= run.train[0], "the training range begins before the data seen"
    received = []
    for symbol in SYMBOLS:
        tick, lot = STEPS[symbol]
        market = import_market(
            folder / "recording" / f"{symbol}.txt", format="binance-stream", on_gap="resync",
            tick_size=tick.rstrip("0"), lot_size=lot,
        )  # fmt: skip
        received.append(market.columns()["recv_ts_ns"])
    first = min(int(r[0]) for r in received)
    last = max(int(r[r <= clock_ns].max()) for r in received)
    assert run.seen == (first, last), "the job did not see what the live run had received"
    (_, scores), *_ = models
    scores = json.loads(scores)
    assert (scores["train_ns"], scores["validation_ns"]) == (list(run.train), list(run.validation))


@pytest.mark.parametrize(
    "gate_config", [None, GateConfig(ratio=1.0, sharpe_floor=-1e12, max_gap=1e12)]
)
def test_a_live_run_retrains_on_its_recording_at_the_retrain_time(
    recorded, tmp_path: Path, gate_config: GateConfig | None
) -> None:
    """With the default gate the tuned challenger is refused (its validation Sharpe under the
    floor), with a gate that takes any challenger at least as good it is promoted and trades
    from the retrain on; either way the job validated on the last part of what it saw."""
    messages, snapshots = recorded
    began = time.perf_counter()
    _, job, schedule, registry, promotions, models, decisions = _retrain_run(
        messages, snapshots, tmp_path, gate_config=gate_config
    )
    elapsed = time.perf_counter() - began
    (clock_ns,) = schedule.runs
    assert clock_ns >= messages[0][0] + RETRAIN_AFTER_S * 1e9
    _assert_validated_on_what_it_saw(job, clock_ns, models, tmp_path)
    ((ts, kind, champion, challenger, promoted, reason),) = promotions
    assert (ts, kind, champion, challenger) == (clock_ns, "retrain", "v1", "v2") and reason
    assert [v.version for v in registry.versions()] == ["v1", "v2"]
    assert registry.champion == ("v2" if promoted else "v1"), reason
    assert promoted == (gate_config is not None), reason
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
        _assert_validated_on_what_it_saw(job, schedule.runs[0], models, tmp_path)


def test_a_retrain_that_never_sees_the_live_data_fails_the_check(
    recorded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Planted defect: the job's markets are what the run had before it traded (nothing: the
    markets of a run that was refused ``--retrain-at`` on a live feed). The job refuses with
    its reason in the database (and ``paper report``), and the check fails."""
    messages, snapshots = recorded
    _, job, schedule, registry, promotions, models, _ = _retrain_run(
        messages, snapshots, tmp_path, source=lambda feed: {}
    )
    ((_, kind, champion, challenger, promoted, reason),) = promotions
    assert (kind, champion, challenger, promoted) == ("retrain", "v1", None, 0)
    assert "not enough market seen" in reason and registry.champion == "v1"
    with pytest.raises(AssertionError):
        _assert_validated_on_what_it_saw(job, schedule.runs[0], models, tmp_path)
    from lobzero.cli import main

    assert main(["paper", "report", "--db", str(tmp_path / "paper.sqlite")]) == 0
    assert "no challenger of v1: kept champion (not enough market seen" in " ".join(
        capsys.readouterr().out.split()
    )


def test_lobzero_paper_retrains_on_a_binance_feed(
    recorded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``lobzero paper --feed binance:... --retrain-at`` (once refused: "the retrain job needs
    complete markets") against the loopback exchange on the real clock: the retrain runs at
    its time on the feed's recording, validates on the last seconds before it, and its
    decision is in the database and the registry."""
    from lobzero.cli import main

    from .exchange import ExchangeThread

    messages, snapshots = recorded
    db = tmp_path / "p.sqlite"
    at_ns = time.time_ns() + 10 * 10**9
    with ExchangeThread((messages, snapshots), speed=1.5) as ex:
        url = f"127.0.0.1:{ex.port}"
        code = main(["paper", "--agent", "rule:imbalance", "--feed", "binance:BTCUSDT,ETHUSDT",
                     "--ws-url", f"ws://{url}", "--rest-url", f"http://{url}", "--db", str(db),
                     "--json-log", "--step-ms", "200", "--duration", "13s",
                     "--registry", str(tmp_path / "reg"), "--retrain-at", _time_of_day(at_ns),
                     "--retrain-train-s", "3", "--retrain-validation-s", "3"])  # fmt: skip
    assert code == 0
    capsys.readouterr()
    registry = ModelRegistry(tmp_path / "reg")
    d = ReplayDatabase(db)
    try:
        ((ts, kind, champion, challenger, promoted, reason),) = d.promotions()
        ((version, scores),) = d.connection.execute("SELECT version, scores FROM models").fetchall()
        versions = {r["model_version"] for r in d.decisions() if r["ts_ns"] > ts}
    finally:
        d.close()
    assert (kind, champion, challenger, version) == ("retrain", "v1", "v2", "v2"), reason
    assert ts >= at_ns - 10**9
    assert json.loads(scores)["validation_ns"] == [ts - 3 * 10**9, ts]
    assert json.loads(scores)["train_ns"] == [ts - 6 * 10**9, ts - 3 * 10**9]
    assert registry.champion == ("v2" if promoted else "v1"), reason
    assert versions == {registry.champion}


def test_a_retrain_on_an_unflushed_recording_fails_the_check(recorded, tmp_path: Path) -> None:
    """Planted defect: the job imports the recording without flushing the feed first, so the
    lines still in the file's buffer are missing from what it trains and validates on."""
    messages, snapshots = recorded

    def unflushed(feed):  # type: ignore[no-untyped-def]
        return lambda clock_ns: {s: recorded_market(feed, s) for s in feed.symbols}

    _, job, schedule, *_, models, _ = _retrain_run(messages, snapshots, tmp_path, source=unflushed)
    with pytest.raises(AssertionError, match="did not see"):
        _assert_validated_on_what_it_saw(job, schedule.runs[0], models, tmp_path)
