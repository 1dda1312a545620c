"""Files of a comparison: ``metrics.csv``, ``metrics.json``, ``equity.png``, ``drawdown.png``
and ``index.html`` (the tables, the verdicts, the targets and the curves).

Undefined metrics (nan: profit factor and win rate without a round trip, a return annualised
over less than a day) read ``n/a`` in the tables, an empty cell in the CSV and ``null`` in the
JSON, which is strict JSON (no ``NaN`` / ``Infinity``; an unbounded profit factor, gains
without a loss, is ``null`` there too and ``inf`` in the tables). Targets not judged (a test
range shorter than ``min_judged_seconds``) read ``n/a`` with the reason, an empty cell and
``null``, in the terminal, the CSV, the JSON and the HTML alike.
"""

from __future__ import annotations

import csv
import html
import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lobzero.evaluation.report import pyplot
from lobzero.evaluation.verdict import TARGETS, not_judged_reason, target_word, targets_line

if TYPE_CHECKING:
    from lobzero.evaluation.compare import AgentRun, CompareResult

#: (key, header, format) of the metrics table, in the terminal and the report
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("sharpe", "Sharpe (ann.)", "{:.2f}"),
    ("episode_sharpe", "Sharpe/ep", "{:.2f}"),
    ("sortino", "Sortino (ann.)", "{:.2f}"),
    ("total_return", "return", "{:+.3%}"),
    ("max_drawdown", "max DD", "{:.2%}"),
    ("profit_factor", "profit factor", "{:.2f}"),
    ("win_rate", "win rate", "{:.1%}"),
    ("fills", "fills/ep", "{:.1f}"),
    ("round_trips", "round trips/ep", "{:.1f}"),
    ("turnover", "turnover", "{:.2f}"),
    ("fees", "fees", "{:,.2f}"),
    ("exposure", "exposure", "{:.0%}"),
    ("avg_holding_s", "hold (s)", "{:.1f}"),
)


def fmt(key: str, value: float) -> str:
    """A metric as the tables show it (large ratios without decimals, n/a when undefined)."""
    spec = next((f for k, _, f in COLUMNS if k == key), "{:.4g}")
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if spec == "{:.2f}" and abs(value) >= 100:
        spec = "{:,.0f}"
    return spec.format(value)


def fmt_ci(result: CompareResult, agent: str, key: str, sep: str = " ") -> str:
    """``value [low, high]`` when the metric has an interval (``sep`` between the two), else
    the value."""
    text = fmt(key, result.summary[agent][key])
    c = result.ci[agent].get(key)
    return text if c is None else f"{text}{sep}[{fmt(key, c.low)}, {fmt(key, c.high)}]"


def chained_equity(run: AgentRun) -> np.ndarray:
    """Equity of a run's test episodes played one after the other, starting at 1: [T]."""
    curve = [np.ones(1)]
    for ep in run.episodes:
        rel = np.asarray(ep.equity, np.float64) / float(ep.equity[0])
        curve.append(curve[-1][-1] * rel[1:])
    return np.concatenate(curve)


def mean_curve(runs: list[AgentRun]) -> np.ndarray:
    """Mean chained equity over runs (shorter runs held at their last value): [T]."""
    curves = [chained_equity(r) for r in runs]
    n = max(len(c) for c in curves)
    padded = [np.concatenate([c, np.full(n - len(c), c[-1])]) for c in curves]
    return np.mean(padded, axis=0)


def _json_safe(value: Any) -> Any:
    """Non-finite floats as null (JSON has no nan or inf; see the module docstring)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).isoformat(timespec="seconds")


def _plots(result: CompareResult, out: Path) -> dict[str, Path]:
    plt = pyplot()
    step_s = result.config.env.step_ms / 1e3
    curves = {a: mean_curve(result.runs[a]) for a in result.agents}
    paths = {}
    for key, title, ylabel in (
        ("equity", "test equity (episodes chained, mean over seeds)", "equity / start"),
        ("drawdown", "drawdown of the mean test equity", "drawdown"),
    ):
        fig, ax = plt.subplots(figsize=(9, 4))
        for agent, curve in curves.items():
            y = curve if key == "equity" else 1.0 - curve / np.maximum.accumulate(curve)
            ax.plot(np.arange(len(y)) * step_s / 60.0, y, label=agent, lw=1.2)
        ax.set_title(title)
        ax.set_xlabel("test decisions (minutes of market time)")
        ax.set_ylabel(ylabel)
        if key == "drawdown":
            ax.invert_yaxis()
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        paths[key] = out / f"{key}.png"
        fig.savefig(paths[key], dpi=100)
        plt.close(fig)
    for agent in result.agents:
        checked = [r for r in result.runs[agent] if r.model_check is not None]
        if checked:
            from lobzero.muzero.diagnostics import plot_model_check

            run = checked[0]
            paths[f"model_{agent}"] = out / f"model_{agent}.png"
            plot_model_check(
                run.model_check,
                f"{agent}: what the model predicts along a test episode (fold {run.fold}, "
                f"seed {run.seed}), unrolled with the actions taken",
                paths[f"model_{agent}"],
            )
    return paths


def _rows(result: CompareResult) -> list[dict[str, Any]]:
    rows = []
    for agent in result.agents:
        s, ci = result.summary[agent], result.ci[agent]
        row: dict[str, Any] = {"agent": agent, "episodes": int(s["episodes"])}
        for key in ("annualized_return", "calmar", *(k for k, _, _ in COLUMNS)):
            row[key] = s[key]
            if key in ci:
                row[f"{key}_low"], row[f"{key}_high"] = ci[key].low, ci[key].high
        met = result.targets[agent]
        judged = _not_judged(result) is None
        row["targets_judged"] = judged
        row["targets_met"] = sum(1 for v in met.values() if v) if judged else None
        row.update({f"target_{k}": v for k, v in met.items()})
        # an empty cell for an undefined value (csv writes None as "")
        rows.append({k: _json_safe(v) for k, v in row.items()})
    return rows


def _not_judged(result: CompareResult) -> str | None:
    return not_judged_reason(result.test_seconds, result.config.min_judged_seconds)


def target_lines(result: CompareResult) -> list[str]:
    """Each agent against the targets, one line each (terminal, JSON and HTML)."""
    kw = {"test_seconds": result.test_seconds, "min_seconds": result.config.min_judged_seconds}
    return [targets_line(a, result.summary[a], **kw) for a in result.agents]


def _html(result: CompareResult, files: dict[str, Path]) -> str:
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for _, h, _ in COLUMNS)
    body = ""
    for agent in result.agents:
        cells = "".join(f"<td>{e(fmt_ci(result, agent, k))}</td>" for k, _, _ in COLUMNS)
        body += f"<tr><th>{e(agent)}</th>{cells}</tr>\n"
    target_head = "".join(f"<th>{e(k)} {op} {v:g}</th>" for k, (op, v) in TARGETS.items())
    target_body = ""
    for agent in result.agents:
        met = result.targets[agent]
        cells = "".join(f"<td>{target_word(met[k])}</td>" for k in TARGETS)
        target_body += f"<tr><th>{e(agent)}</th>{cells}</tr>\n"
    reason = _not_judged(result)
    judged_note = (
        f"<p><b>Targets {e(reason)}</b>: on a short test range an annualised Sharpe measures "
        "little more than its sign.</p>"
        if reason
        else ""
    )
    verdicts = "".join(f"<li>{e(v.line())}</li>" for v in result.verdicts) or "<li>-</li>"
    splits = "".join(
        f"<li>fold {s.fold}: train {_iso(s.train.start_ns)} ({s.train.seconds:.0f} s), "
        f"validation {_iso(s.validation.start_ns)} ({s.validation.seconds:.0f} s), "
        f"test {_iso(s.test.start_ns)} to {_iso(s.test.end_ns)} ({s.test.seconds:.0f} s)</li>"
        for s in result.splits
    )
    model_images = "".join(
        f'<img src="{path.name}" alt="{e(key)}"><br>'
        for key, path in files.items()
        if key.startswith("model_")
    )
    model_section = (
        "<h2>What the learned model knows</h2><p>Along one test episode, the rewards and "
        "values the model predicts when it unrolls K steps with the actions taken, against the "
        "rewards received and the discounted returns realised (correlation by unroll step "
        f"on the right).</p>{model_images}"
        if model_images
        else ""
    )
    c = result.config
    conf = f"{c.confidence:.0%}"
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>lobzero comparison</title>
<style>body{{font-family:sans-serif;max-width:1200px;margin:2em auto}}
table{{border-collapse:collapse;font-size:13px}}td,th{{border:1px solid #ccc;padding:3px 6px;
text-align:right}}</style></head><body>
<h1>lobzero comparison</h1>
<p>{e(result.market)}; {result.budget_steps:,} training steps per learned agent and seed;
episodes of {c.env.episode_steps} decisions of {c.env.step_ms:g} ms; checkpoints chosen by mean
validation {e(c.select_by)}; test metrics are means over seeds × episodes (profit factor and win
rate over all round trips) with {conf} bootstrap intervals (seeds resampled, then episodes).
Sharpe (ann.) is annualised, Sharpe/ep scaled to one episode; fills are executed orders, round
trips the closed ones; n/a: undefined (no round trip for profit factor and win rate).</p>
<ul>{splits}</ul>
<h2>Test metrics</h2>
<table><tr><th>agent</th>{head}</tr>
{body}</table>
<h2>Verdict</h2><p>A candidate is preferred to a reference when it is better on at least 3 of
Sharpe, max drawdown, profit factor and win rate.</p><ul>{verdicts}</ul>
<h2>Targets of a strategy worth deploying</h2>
{judged_note}<table><tr><th>agent</th>{target_head}</tr>
{target_body}</table>
<h2>Curves</h2>
<img src="{files["equity"].name}" alt="equity"><br>
<img src="{files["drawdown"].name}" alt="drawdown">
{model_section}
<p>Also: <a href="metrics.csv">metrics.csv</a>, <a href="metrics.json">metrics.json</a>.</p>
</body></html>
"""


def write_compare_report(result: CompareResult, out: str | Path) -> dict[str, Path]:
    """Writes the report files into ``out``; returns their paths by name (csv, json, equity,
    drawdown, html)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {"csv": out / "metrics.csv", "json": out / "metrics.json"}
    rows = _rows(result)
    with open(files["csv"], "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    doc = {
        "market": result.market,
        "budget_steps": result.budget_steps,
        "config": result.config.to_dict(),
        "splits": [s.to_dict() for s in result.splits],
        "agents": {
            a: {
                "summary": result.summary[a],
                "ci": {k: c.to_dict() for k, c in result.ci[a].items()},
                "targets": result.targets[a],
                "runs": [
                    {
                        "fold": r.fold,
                        "seed": r.seed,
                        "selected_step": r.selected_step,
                        "validation": r.validation,
                        "train_seconds": r.train_seconds,
                        "train_env_steps": r.train_env_steps,
                        "test_seconds": r.test_seconds,
                        "model_check": None if r.model_check is None else r.model_check.to_dict(),
                        "episodes": [
                            {"start_ns": ep.start_ns, "end_ns": ep.end_ns, **ep.metrics.to_dict()}
                            for ep in r.episodes
                        ],
                    }
                    for r in result.runs[a]
                ],
            }
            for a in result.agents
        },
        "verdicts": [v.to_dict() for v in result.verdicts],
        "test_seconds": result.test_seconds,
        "targets_not_judged": _not_judged(result),
        "target_lines": target_lines(result),
    }
    files["json"].write_text(json.dumps(_json_safe(doc), indent=1, allow_nan=False))
    files.update(_plots(result, out))
    files["html"] = out / "index.html"
    files["html"].write_text(_html(result, files))
    return files
