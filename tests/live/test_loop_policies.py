"""The loop's decision budget, its risk seam, and the replay feed."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import numpy as np
from lobzero.baselines.rules import make_rule_agent
from lobzero.live import IntendedAction, PaperBroker, ReplayDatabase, ReplayFeed

from .helpers import config, markets, run_loop


class Alternating:
    """Long, flat, long, flat, ...: every decision intends to trade."""

    action_mode = "target"

    def __init__(self) -> None:
        self.calls = 0

    def act(self, obs: np.ndarray) -> np.ndarray:
        self.calls += 1
        return np.full(len(obs), 4 if self.calls % 2 else 2, np.int64)


def _run_with_slow_decisions(tmp_path: Path, policy: str, monkeypatch) -> list[dict]:
    """Every third decision takes 10 s by the loop's clock (its perf_counter is patched: the
    loop reads it twice a decision; no sleeping, no timed test), the others 1 ms."""
    import lobzero.live.orchestrator as orchestrator

    reads = iter(range(10**9))

    def perf_counter() -> float:
        n = next(reads)
        decision, after = divmod(n, 2)
        return decision * 100.0 + after * (10.0 if decision % 3 == 2 else 0.001)

    monkeypatch.setattr(orchestrator.time, "perf_counter", perf_counter)
    cfg = config(over_budget=policy, decision_budget_ms=5000.0)
    run_loop(tmp_path / f"{policy}.sqlite", markets(5.0, ("AAA",)), cfg, agent=Alternating())
    db = ReplayDatabase(tmp_path / f"{policy}.sqlite")
    rows = db.decisions("AAA")
    db.close()
    return rows


def test_over_budget_decisions_hold_or_repeat_the_last_action(tmp_path: Path, monkeypatch) -> None:
    for policy in ("hold", "last"):
        rows = _run_with_slow_decisions(tmp_path, policy, monkeypatch)
        over = [i for i, r in enumerate(rows) if r["over_budget"]]
        assert over == list(range(2, len(rows), 3))
        for i in over:
            r = rows[i]
            assert r["latency_ms"] > 5000.0
            previous = rows[i - 1]
            if policy == "last":
                assert r["action"] == previous["action"]
            else:  # hold: the position does not change
                assert r["position"] == previous["position"]
            assert r["intended_action"] != r["action"]
        for r in rows:
            if not r["over_budget"]:
                assert r["action"] == r["intended_action"]


def test_the_risk_seam_sees_every_intended_action_and_its_answer_is_executed(
    tmp_path: Path,
) -> None:
    seen: list[IntendedAction] = []

    def flat_only(intent: IntendedAction) -> int:
        seen.append(intent)
        return 2  # the flat target, whatever was intended

    mkts = markets(5.0, ("AAA",))
    names = PaperBroker(mkts, config().env).feature_names()
    loop = run_loop(
        tmp_path / "p.sqlite", mkts, config(), agent=make_rule_agent("buy_and_hold", names),
        risk=flat_only,
    )  # fmt: skip
    db = ReplayDatabase(tmp_path / "p.sqlite")
    rows = db.decisions("AAA")
    assert len(seen) >= len(rows) > 10
    assert all(int(i.action) == 4 for i in seen)
    assert all(r["action"] == 2 and r["intended_action"] == 4 for r in rows)
    assert db.count("fills") == 0 and loop.states["AAA"].info["position"] == 0
    db.close()


def test_the_replay_feed_delivers_every_event_once_in_order() -> None:
    mkts = markets(5.0)

    async def collect(start_ns: int | None) -> dict[str, list[tuple[int, int]]]:
        feed = ReplayFeed(mkts, slice_ns=37_000_000, start_ns=start_ns)
        rows: dict[str, list[tuple[int, int]]] = {s: [] for s in mkts}
        last = -1
        async for batch in feed:
            assert batch.first_ns <= batch.last_ns <= feed.clock_ns
            assert feed.clock_ns >= last
            last = feed.clock_ns
            rows[batch.symbol].append((batch.start_row, batch.end_row))
        kinds = [h.kind for h in feed.health_events()]
        assert kinds.count("connect") == kinds.count("end") == len(mkts)
        return rows

    full = asyncio.run(collect(None))
    for symbol, spans in full.items():
        assert spans[0][0] == 0 and spans[-1][1] == len(mkts[symbol])
        assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    # resuming after a receive time skips the events at or before it
    middle = int(mkts["AAA"].columns()["recv_ts_ns"][1000])
    resumed = asyncio.run(collect(middle))
    recv = mkts["AAA"].columns()["recv_ts_ns"]
    assert resumed["AAA"][0][0] == int(np.searchsorted(recv, middle, "right")) > 1000


def test_the_live_view_shows_every_symbol(tmp_path: Path) -> None:
    import io

    from lobzero.live.view import LiveView
    from rich.console import Console

    buffer = io.StringIO()
    view = LiveView(console=Console(file=buffer, width=160), refresh_s=0.0)
    with view:
        loop = run_loop(tmp_path / "p.sqlite", markets(5.0), config(), on_update=view)
        view.final(loop)
    text = buffer.getvalue()
    assert "AAA" in text and "BBB" in text and "decision ms p50/p99" in text
    assert f"committed {loop.committed:,}" in text
