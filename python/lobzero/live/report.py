"""``lobzero paper report``: what a paper run did, from its replay database (per symbol:
decisions, fills, equity, PnL, fees, decision latency, decisions over budget, model versions;
feed health; promotions), as a table, a JSON file and an equity figure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lobzero.live.database import ReplayDatabase


def summarize(db: ReplayDatabase) -> dict[str, Any]:
    """Per symbol: ``decisions``, ``fills``, ``first_ns`` / ``last_ns`` (decision times),
    ``equity`` (last, settlement currency), ``pnl`` (against the initial cash), ``fees``,
    ``position``, ``latency_ms`` (p50, p99, max), ``over_budget``, ``model_versions``; plus
    ``health`` (events by kind) and ``promotions`` (rows)."""
    meta = db.meta()
    initial = float(meta.get("env", {}).get("initial_cash", 0.0))
    symbols: dict[str, Any] = {}
    for symbol in meta.get("symbols", []):
        rows = db.decisions(symbol)
        if not rows:
            symbols[symbol] = {"decisions": 0}
            continue
        lat = np.array([r["latency_ms"] for r in rows])
        last = rows[-1]
        symbols[symbol] = {
            "decisions": len(rows),
            "fills": len(db.fills(symbol)),
            "first_ns": rows[0]["ts_ns"],
            "last_ns": last["ts_ns"],
            "equity": last["equity"],
            "pnl": last["equity"] - initial,
            "fees": last["fees"],
            "position": last["position"],
            "latency_ms": {
                "p50": float(np.percentile(lat, 50)),
                "p99": float(np.percentile(lat, 99)),
                "max": float(lat.max()),
            },
            "over_budget": int(sum(r["over_budget"] for r in rows)),
            "model_versions": sorted({r["model_version"] for r in rows}),
        }
    health = dict(
        db.connection.execute("SELECT kind, COUNT(*) FROM feed_health GROUP BY kind").fetchall()
    )
    return {
        "schema_version": db.schema_version,
        "symbols": symbols,
        "health": health,
        "promotions": [list(p) for p in db.promotions()],
    }


def plot_equity(db: ReplayDatabase, path: Path) -> Path:
    """Equity of each symbol along the run (settlement currency against UTC time), PNG."""
    from lobzero.evaluation.report import pyplot
    from lobzero.evaluation.report_figures import _finish

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 4))
    for symbol in db.meta().get("symbols", []):
        rows = db.decisions(symbol)
        if rows:
            t = (np.array([r["next_ts_ns"] for r in rows]) - rows[0]["ts_ns"]) / 1e9
            ax.plot(t, [r["equity"] for r in rows], label=symbol, lw=1)
    ax.set_xlabel("seconds since the first decision")
    ax.set_ylabel("equity")
    ax.ticklabel_format(axis="y", useOffset=False, style="plain")
    ax.legend()
    ax.set_title("paper run: equity per symbol")
    return _finish(fig, path)
