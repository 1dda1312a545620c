"""The soak: the paper loop over simulated days on an accelerated clock, several synthetic
symbols, every fault of :mod:`lobzero.live.faults` on, and the daily retrain of an imbalance
champion; then the checks that it survived (``benchmarks/paper_soak.py`` prints them).

Checks (:func:`run_soak`'s ``checks``): ``no_crash`` (the loop ran to the end), ``rows``: per
symbol the database's decisions are steps ``0 .. n-1`` on the decision grid (each one step
after the last: none lost, none twice), as many as the loop made, with one transition each and
the fills the broker returned; ``events``: every event the feed held was accepted once or
counted in a gap (``accepted + gaps == rows from the first accepted to the last``), the
duplicates and out-of-order batches dropped equal those injected; ``daily``: every symbol
decided and traded on every simulated day; ``retrain``: the schedule ran each day and each run
logged a promotion or a refusal with its reason.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from lobzero.baselines.rules import make_rule_agent
from lobzero.data.synth import synth_market
from lobzero.envs import EnvConfig
from lobzero.live.broker import PaperBroker
from lobzero.live.database import ReplayDatabase
from lobzero.live.faults import FaultConfig, FaultyAgent, FaultyBroker, FaultyFeed, with_faults
from lobzero.live.feeds import ReplayFeed
from lobzero.live.orchestrator import PaperConfig, PaperLoop
from lobzero.live.registry import ModelRegistry
from lobzero.live.scheduler import DAY_NS, DailySchedule, RetrainJob, retrain_builder

#: the soak's faults: per batch (one a symbol per second of market time) or per call
SOAK_FAULTS = FaultConfig(drop=0.002, duplicate=0.002, reorder=0.002, stall=0.0002, stall_s=30.0,
                          disconnect=0.0002, agent_crash=0.0005, broker_crash=0.00002)  # fmt: skip


def run_soak(
    hours: float = 24.0,
    symbols: int = 3,
    step_ms: float = 1000.0,
    base_rate: float = 2.0,
    retrain_at: str = "02:00",
    train_s: float = 3600.0,
    validation_s: float = 600.0,
    faults: FaultConfig = SOAK_FAULTS,
    seed: int = 0,
    work_dir: Path | None = None,
) -> dict[str, Any]:
    """Runs the soak (see the module docs): ``symbols`` synthetic markets of ``hours`` at
    ``base_rate`` arrivals a second (seeds ``seed ..``), a decision every ``step_ms``, the
    feed in slices of ``step_ms``; returns timings, the loop's counters, what was injected,
    the promotions and the ``checks`` (all True when it survived)."""
    tmp = None
    if work_dir is None:
        tmp = tempfile.TemporaryDirectory()
        work_dir = Path(tmp.name)
    began = time.perf_counter()
    markets = {
        f"SYN{i}": synth_market(symbol=f"SYN{i}", seconds=hours * 3600, seed=seed + i,
                                base_rate=base_rate)
        for i in range(symbols)
    }  # fmt: skip
    generated_s = time.perf_counter() - began
    env = EnvConfig(max_position=0.01, initial_cash=10_000.0, step_ms=step_ms, latency_ms=25.0)
    config = PaperConfig(env=env, commit_every=256)
    inner = PaperBroker(markets, env)
    registry = ModelRegistry(work_dir / "registry")
    champion = registry.register(make_rule_agent("imbalance", inner.feature_names(), threshold=0.3))
    registry.promote(champion)
    slice_ns = round(step_ms * 1e6)
    feed, broker, agent = with_faults(
        ReplayFeed(markets, slice_ns=slice_ns), inner, registry.load(champion), faults, seed
    )
    db = ReplayDatabase(work_dir / "soak.sqlite")
    build = retrain_builder(env, config.retrain_steps, work_dir / "work")
    job = RetrainJob(registry, markets, env, build, db, train_s, validation_s, config.gate)
    schedule = DailySchedule(retrain_at, job)
    loop = PaperLoop(feed, broker, agent, db, config, model_version=champion, scheduler=schedule)
    crash = None
    began = time.perf_counter()
    try:
        asyncio.run(loop.run())
    except Exception as e:  # the soak reports a crash rather than dying with it
        crash = f"{type(e).__name__}: {e}"
    loop_s = time.perf_counter() - began
    try:
        report = _check(loop, feed, agent, broker, db, markets, schedule, inner.step_ns, crash)
    finally:
        db.close()
        if tmp is not None:
            tmp.cleanup()
    decisions = sum(s.step for s in loop.states.values())
    report.update({
        "hours": hours, "symbols": symbols, "step_ms": step_ms, "base_rate": base_rate,
        "events_held": sum(len(m.columns()["recv_ts_ns"]) for m in markets.values()),
        "generate_s": round(generated_s, 2), "loop_s": round(loop_s, 2),
        "decisions": decisions, "decisions_per_s": round(decisions / loop_s, 1),
        "simulated_speed": round(hours * 3600 / loop_s, 1),
    })  # fmt: skip
    return report


def _check(
    loop: PaperLoop, feed: FaultyFeed, agent: FaultyAgent, broker: FaultyBroker,
    db: ReplayDatabase, markets: dict[str, Any], schedule: DailySchedule, step_ns: int,
    crash: str | None,
) -> dict[str, Any]:  # fmt: skip
    c, injected = loop.counters, feed.counts
    start = int(db.meta()["start_ns"])
    rows_ok, daily_ok, per_symbol = True, True, {}
    held = 0
    for symbol, state in loop.states.items():
        rows = db.decisions(symbol)
        steps = np.array([r["step"] for r in rows])
        ts = np.array([r["ts_ns"] for r in rows], dtype=np.int64)
        on_grid = bool(len(ts) and np.all(np.diff(ts) == step_ns))
        fills = db.fills(symbol)
        transitions = db.connection.execute(
            "SELECT COUNT(*) FROM transitions WHERE symbol = ?", (symbol,)
        ).fetchone()[0]
        ok = (
            len(rows) == state.step
            and np.array_equal(steps, np.arange(len(rows)))
            and on_grid
            and transitions == len(rows)
            and len(fills) == state.fills
        )
        rows_ok &= ok
        days = int((int(markets[symbol].end_ns) - start) // DAY_NS) + 1
        decided = np.bincount((ts - start) // DAY_NS, minlength=days)
        fill_ts = np.array([f[3] for f in fills], dtype=np.int64)
        traded = np.bincount((fill_ts - start) // DAY_NS, minlength=days)
        daily_ok &= bool(np.all(decided[:days] > 0) and np.all(traded[:days] > 0))
        held += loop.last_row(symbol) - loop.first_row.get(symbol, 0)
        per_symbol[symbol] = {
            "decisions": len(rows), "fills": len(fills), "rows_ok": bool(ok),
            "decisions_per_day": decided.tolist(), "fills_per_day": traded.tolist(),
            "equity": rows[-1]["equity"] if rows else None,
            "model_versions": sorted({r["model_version"] for r in rows}),
        }  # fmt: skip
    events_ok = (
        c["events"] == injected.events
        and c["events"] + c["gap_events"] == held
        and c["gap_events"] <= injected.lost_events
        and c["duplicates"] == injected.duplicated
        and c["out_of_order"] == injected.reordered
        and c["disconnects"] == injected.disconnects
        and c["agent_crashes"] == agent.crashes
        and c["broker_crashes"] == broker.crashes
    )
    promotions = [list(p) for p in db.promotions()]
    retrain_ok = len(schedule.runs) >= 1 and len(promotions) == len(schedule.runs)
    retrain_ok &= all(p[1] == "retrain" and p[5] for p in promotions)
    return {
        "crash": crash,
        "checks": {
            "no_crash": crash is None, "rows": bool(rows_ok), "events": bool(events_ok),
            "daily": bool(daily_ok), "retrain": bool(retrain_ok),
        },
        "counters": dict(c),
        "injected": {**{k: v for k, v in vars(injected).items() if k != "stall_ns"},
                     "agent_crashes": agent.crashes, "broker_crashes": broker.crashes},
        "promotions": promotions,
        "per_symbol": per_symbol,
    }  # fmt: skip
