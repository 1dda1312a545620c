"""Files of a comparison: ``metrics.csv``, ``metrics.json``, the figures as PNG
(:mod:`lobzero.evaluation.report_figures`) and ``index.html``, which carries them inline
(:mod:`lobzero.evaluation.report_page`).

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
import io
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lobzero.evaluation.verdict import not_judged_reason, targets_line
from lobzero.storage import write_text

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


def _json_safe(value: Any) -> Any:
    """Non-finite floats as null (JSON has no nan or inf; see the module docstring)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _plots(result: CompareResult, out: Path) -> dict[str, Path]:
    """Every figure of the report, written into ``out``; their paths by name."""
    from lobzero.evaluation import report_figures as fig

    paths = {
        "equity": fig.plot_equity(result, out / "equity.png"),
        "drawdown": fig.plot_drawdown(result, out / "drawdown.png"),
        "returns": fig.plot_returns(result, out / "returns.png"),
    }
    mid = result.market_mid if result.market_mid is not None else (np.zeros(0), np.zeros(0))
    paths["timeline"] = fig.plot_timeline(result.splits, mid, out / "timeline.png")
    learned = [a for a in result.agents if any(r.validation for r in result.runs[a])]
    if learned:
        paths["validation"] = fig.plot_validation(result, learned, out / "validation.png")
    for agent in learned:
        logs = [
            (f"seed {r.seed}" if r.fold == 0 else f"fold {r.fold} seed {r.seed}", table)
            for r in result.runs[agent]
            for table in [train_log(r)]
            if fig.loss_columns(table) or fig.return_columns(table)
        ]
        if logs:
            paths[f"trainlog_{agent}"] = fig.plot_train_log(
                agent, logs, out / f"trainlog_{agent}.png"
            )
    for agent in result.agents:
        run = result.runs[agent][0]
        if run.episodes and run.episodes[0].path is not None:
            paths[f"episode_{agent}"] = fig.plot_episode(
                agent, run, run.episodes[0], out / f"episode_{agent}.png"
            )
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


def train_log(run: AgentRun) -> dict[str, np.ndarray]:
    """The numeric columns of the run's ``train_log.csv`` (the trainer's output folder, or any
    folder below the run's), ``{}`` when it wrote none."""
    from lobzero.evaluation.report_figures import read_train_log

    if run.run_dir is None:
        return {}
    run_dir = Path(run.run_dir)
    trainer_out = run_dir / "final" / "train_log.csv"  # where compare's trainers write it
    for path in [trainer_out, *sorted(run_dir.rglob("train_log.csv"))]:
        table = read_train_log(path)
        if table:
            return table
    return {}


def _rows(result: CompareResult) -> list[dict[str, Any]]:
    """One row per agent; on a universe, one per symbol and agent (column ``symbol``), then
    the pooled rows (symbol ``pooled``), which the targets are judged on."""
    if not result.symbols:
        return [
            _row(result, agent, result.summary[agent], result.ci[agent]) for agent in result.agents
        ]
    rows = [
        {
            "symbol": sym,
            **_row(
                result,
                agent,
                result.by_symbol[sym][agent],
                result.by_symbol_ci[sym][agent],
                targets=False,
            ),
        }
        for sym in result.symbols
        for agent in result.agents
    ]
    rows += [
        {"symbol": POOLED, **_row(result, agent, result.summary[agent], result.ci[agent])}
        for agent in result.agents
    ]
    return rows


#: the ``symbol`` of the rows pooled over a universe's symbols
POOLED = "pooled"


def _row(
    result: CompareResult,
    agent: str,
    s: dict[str, float],
    ci: dict[str, Any],
    targets: bool = True,
) -> dict[str, Any]:
    """The metrics of one agent (one symbol's, or pooled) as a CSV row; the targets (judged on
    the pooled metrics) in the pooled rows, empty cells in a symbol's."""
    row: dict[str, Any] = {"agent": agent, "episodes": int(s["episodes"])}
    for key in ("annualized_return", "calmar", *(k for k, _, _ in COLUMNS)):
        row[key] = s[key]
        if key in ci:
            row[f"{key}_low"], row[f"{key}_high"] = ci[key].low, ci[key].high
    met = result.targets[agent]
    judged = _not_judged(result) is None
    row["targets_judged"] = judged if targets else None
    row["targets_met"] = sum(1 for v in met.values() if v) if judged and targets else None
    row.update({f"target_{k}": v if targets else None for k, v in met.items()})
    # an empty cell for an undefined value (csv writes None as "")
    return {k: _json_safe(v) for k, v in row.items()}


def symbol_fmt_ci(result: CompareResult, symbol: str, agent: str, key: str, sep: str = " ") -> str:
    """:func:`fmt_ci` of one universe symbol's metrics (``symbol`` :data:`POOLED`: the pooled
    ones)."""
    if symbol == POOLED:
        return fmt_ci(result, agent, key, sep)
    text = fmt(key, result.by_symbol[symbol][agent][key])
    c = result.by_symbol_ci[symbol][agent].get(key)
    return text if c is None else f"{text}{sep}[{fmt(key, c.low)}, {fmt(key, c.high)}]"


def _not_judged(result: CompareResult) -> str | None:
    return not_judged_reason(result.test_seconds, result.config.min_judged_seconds)


def target_lines(result: CompareResult) -> list[str]:
    """Each agent against the targets, one line each (terminal, JSON and HTML)."""
    kw = {"test_seconds": result.test_seconds, "min_seconds": result.config.min_judged_seconds}
    return [targets_line(a, result.summary[a], **kw) for a in result.agents]


def _html(result: CompareResult, files: dict[str, Path]) -> str:
    from lobzero.evaluation.report_page import page, target_table

    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for _, h, _ in COLUMNS)
    body = ""
    lead = "<th>symbol</th><th>agent</th>" if result.symbols else "<th>agent</th>"
    if result.symbols:
        for sym in [*result.symbols, POOLED]:
            for agent in result.agents:
                cells = "".join(
                    f"<td>{e(symbol_fmt_ci(result, sym, agent, k))}</td>" for k, _, _ in COLUMNS
                )
                body += f"<tr><td>{e(sym)}</td><th>{e(agent)}</th>{cells}</tr>\n"
    for agent in [] if result.symbols else result.agents:
        cells = "".join(f"<td>{e(fmt_ci(result, agent, k))}</td>" for k, _, _ in COLUMNS)
        body += f"<tr><th>{e(agent)}</th>{cells}</tr>\n"
    reason = _not_judged(result)
    judged_note = (
        f"<p><b>Targets {e(reason)}</b>: on a short test range an annualised Sharpe measures "
        "little more than its sign.</p>"
        if reason
        else ""
    )
    c = result.config
    conf = f"{c.confidence:.0%}"
    intro = f"""<p>{e(result.market)}; {result.budget_steps:,} training steps per learned agent
and seed; episodes of {c.env.episode_steps} decisions of {c.env.step_ms:g} ms; checkpoints chosen
by mean validation {e(c.select_by)}; test metrics are means over seeds × episodes (profit factor
and win rate over all round trips) with {conf} bootstrap intervals (seeds resampled, then
episodes). Sharpe (ann.) is annualised, Sharpe/ep scaled to one episode; fills are executed
orders, round trips the closed ones; n/a: undefined (no round trip for profit factor and win
rate).</p>"""
    if result.risk is not None:
        guards = ", ".join(result.risk.enabled) or "none"
        intro += f"""<p>Rows <i>agent</i>+risk: the same agent (the same checkpoint, the same test
episodes) played through the risk guards ({e(guards)}; their settings under Settings), which
change its actions before they reach the market.</p>"""
    return page(
        result,
        files,
        metrics_table=f"<table><tr>{lead}{head}</tr>\n{body}</table>",
        targets_table=judged_note + target_table(result),
        intro=intro,
    )


def _symbols_doc(result: CompareResult) -> dict[str, Any]:
    """Each universe symbol's metrics per agent (``agents`` holds the pooled ones)."""
    return {
        sym: {
            a: {
                "summary": result.by_symbol[sym][a],
                "ci": {k: c.to_dict() for k, c in result.by_symbol_ci[sym][a].items()},
            }
            for a in result.agents
        }
        for sym in result.symbols
    }


def write_compare_report(result: CompareResult, out: str | Path) -> dict[str, Path]:
    """Writes the report files into ``out``; returns their paths by name (csv, json, html and
    the figures: equity, drawdown, returns, timeline, validation, trainlog_<agent>,
    episode_<agent>, model_<agent>)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {"csv": out / "metrics.csv", "json": out / "metrics.json"}
    rows = _rows(result)
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=list(rows[0]), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    # the files a reader opens first, each whole or not at all (lobzero.storage)
    write_text(files["csv"], table.getvalue())
    doc = {
        "market": result.market,
        **({"pooled_over": result.symbols} if result.symbols else {}),
        "budget_steps": result.budget_steps,
        "config": result.config.to_dict(),
        "risk": None if result.risk is None else result.risk.to_dict(),
        "splits": [s.to_dict() for s in result.splits],
        "agents": {
            a: {
                "summary": result.summary[a],
                "ci": {k: c.to_dict() for k, c in result.ci[a].items()},
                "targets": result.targets[a],
                "runs": [
                    {
                        **({"symbol": r.symbol} if r.symbol is not None else {}),
                        "fold": r.fold,
                        "seed": r.seed,
                        "selected_step": r.selected_step,
                        "validation": r.validation,
                        "train_seconds": r.train_seconds,
                        "train_env_steps": r.train_env_steps,
                        "test_seconds": r.test_seconds,
                        "risk_interventions": r.risk_interventions,
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
        **({"symbols": _symbols_doc(result)} if result.symbols else {}),
        "verdicts": [v.to_dict() for v in result.verdicts],
        "test_seconds": result.test_seconds,
        "targets_not_judged": _not_judged(result),
        "target_lines": target_lines(result),
    }
    write_text(files["json"], json.dumps(_json_safe(doc), indent=1, allow_nan=False))
    files.update(_plots(result, out))
    files["html"] = out / "index.html"
    write_text(files["html"], _html(result, files))
    return files
