"""Small markets and runs shared by the paper-loop tests."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from lobzero.baselines.rules import make_rule_agent
from lobzero.data.synth import synth_market
from lobzero.envs import EnvConfig
from lobzero.live import PaperBroker, PaperConfig, PaperLoop, ReplayDatabase, ReplayFeed

#: the columns of a decision that a rerun must reproduce (latency is measured, not replayed)
REPLAYED = ("symbol", "step", "ts_ns", "action", "equity", "cash", "position", "fees", "next_ts_ns")


def markets(seconds: float = 30.0, symbols: tuple[str, ...] = ("AAA", "BBB")) -> dict[str, Any]:
    return {s: synth_market(symbol=s, seconds=seconds, seed=i) for i, s in enumerate(symbols)}


def config(**changes: Any) -> PaperConfig:
    env = EnvConfig(max_position=0.01, initial_cash=10_000.0, latency_ms=25.0)
    return PaperConfig(env=env, **changes)


def run_loop(
    db_path: Path, mkts: dict[str, Any], cfg: PaperConfig, agent: Any = None, **loop_args: Any
) -> PaperLoop:
    broker = PaperBroker(mkts, cfg.env)
    agent = agent or make_rule_agent("imbalance", broker.feature_names(), threshold=0.1)
    db = ReplayDatabase(db_path)
    loop = PaperLoop(ReplayFeed(mkts), broker, agent, db, cfg, **loop_args)
    try:
        asyncio.run(loop.run())
    finally:
        db.close()
    return loop


def replayed_rows(db_path: Path) -> list[tuple[Any, ...]]:
    db = ReplayDatabase(db_path)
    try:
        return [tuple(r[c] for c in REPLAYED) for r in db.decisions()]
    finally:
        db.close()
