"""What the paper loop shows while it runs: a rich live table (positions, PnL, decisions per
symbol, decision latency percentiles, model version, feed health) or, with ``--json-log``, one
JSON object a line for machines."""

from __future__ import annotations

import json
import time
from typing import IO, Any

import numpy as np
from rich.console import Console
from rich.live import Live
from rich.table import Table

from lobzero.live.orchestrator import PaperLoop


def snapshot(loop: PaperLoop) -> dict[str, Any]:
    """The loop's state as plain values: ``clock_ns``, ``model_version``, ``committed``
    decisions, the feed's last health event, the loop's ``health`` counters (duplicates,
    gaps, stalls, disconnects, crashes: :data:`~lobzero.live.orchestrator.HEALTH_COUNTERS`),
    and per symbol the step, position (units of
    size), equity and PnL (settlement currency), fills, and decision latency p50 / p90 / p99 /
    max (ms) with the count of decisions over budget."""
    symbols = {}
    for symbol, s in loop.states.items():
        lat = np.asarray(s.latencies_ms[-1000:] or [0.0])
        equity = float(s.info.get("equity", 0.0))
        symbols[symbol] = {
            "step": s.step,
            "position": float(s.info.get("position", 0.0)),
            "equity": equity,
            "pnl": equity - loop.config.env.initial_cash,
            "fees": float(s.info.get("fees", 0.0)),
            "fills": s.fills,
            "latency_ms": {
                "p50": float(np.percentile(lat, 50)),
                "p90": float(np.percentile(lat, 90)),
                "p99": float(np.percentile(lat, 99)),
                "max": float(lat.max()),
            },
            "over_budget": s.over_budget,
            "done": s.done,
        }
    beat = loop.feed.heartbeat()
    return {
        "clock_ns": loop.clock_ns,
        "model_version": loop.model_version,
        "committed": loop.committed,
        "feed": {"kind": beat.kind, "ts_ns": beat.ts_ns, "detail": beat.detail},
        "health": dict(getattr(loop, "counters", {})),
        "symbols": symbols,
    }


def table(snap: dict[str, Any]) -> Table:
    """The live view of a :func:`snapshot` (decision latency p50 / p99 in ms; "late": the
    decisions over budget; p90 and max are in the JSON log)."""
    clock = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(snap["clock_ns"] / 1e9))
    t = Table(
        title=f"paper {clock} UTC  model {snap['model_version']}  committed "
        f"{snap['committed']:,}  feed {snap['feed']['kind']} ({snap['feed']['detail']})"
    )
    for name in ("symbol", "step", "position", "equity", "PnL", "fees", "fills",
                 "decision ms p50/p99", "late"):  # fmt: skip
        # numbers fold onto a second line rather than being cut in a narrow terminal
        t.add_column(name, justify="left" if name == "symbol" else "right", overflow="fold")
    for symbol, s in snap["symbols"].items():
        lat = s["latency_ms"]
        t.add_row(
            symbol + (" (done)" if s["done"] else ""),
            f"{s['step']:,}",
            f"{s['position']:g}",
            f"{s['equity']:,.2f}",
            f"{s['pnl']:+,.2f}",
            f"{s['fees']:,.2f}",
            f"{s['fills']:,}",
            f"{lat['p50']:.2f}/{lat['p99']:.2f}",
            f"{s['over_budget']}",
        )
    return t


class LiveView:
    """``on_update`` of the loop: refreshes a rich live table at most ``refresh_s`` apart
    (wall time), or writes a JSON line per ``log_every_s`` of market time to ``json_out``."""

    def __init__(
        self,
        console: Console | None = None,
        json_out: IO[str] | None = None,
        refresh_s: float = 0.25,
        log_every_s: float = 1.0,
    ) -> None:
        self.json_out, self.refresh_s = json_out, refresh_s
        self.log_every_ns = round(log_every_s * 1e9)
        self._last_wall = 0.0
        self._last_log_ns: int | None = None
        self._live = None if json_out is not None else Live(console=console, auto_refresh=False)

    def __enter__(self) -> LiveView:
        if self._live is not None:
            self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)

    def __call__(self, loop: PaperLoop) -> None:
        if self.json_out is not None:
            last = self._last_log_ns
            if last is None or loop.clock_ns - last >= self.log_every_ns:
                self._last_log_ns = loop.clock_ns
                self.json_out.write(json.dumps(snapshot(loop)) + "\n")
                self.json_out.flush()
            return
        now = time.monotonic()
        if self._live is not None and now - self._last_wall >= self.refresh_s:
            self._last_wall = now
            self._live.update(table(snapshot(loop)), refresh=True)

    def final(self, loop: PaperLoop) -> None:
        """The last state, whatever the throttling."""
        if self.json_out is not None:
            self.json_out.write(json.dumps({"final": True, **snapshot(loop)}) + "\n")
            self.json_out.flush()
        elif self._live is not None:
            self._live.update(table(snapshot(loop)), refresh=True)
