"""``index.html`` of a comparison: one self-contained page (every figure inlined as a base64
PNG, the same PNGs also written beside it) with the tables, the verdicts, the targets, the
learning curves, equity and drawdown, one test episode per agent, the return distributions,
the best agent's round trips, the walk-forward timeline, the cost of training and the settings.

A small script marks on ``<body>`` how many figures the browser decoded
(``data-images-loaded`` of ``data-images-total``) and prints a warning above the page when one
did not: the headless-browser test reads it, and so does a reader whose viewer broke one.
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomli_w

from lobzero.evaluation.report_figures import iso, round_trip_rows
from lobzero.evaluation.verdict import TARGETS, target_word

if TYPE_CHECKING:
    from lobzero.evaluation.compare import CompareResult

#: the section headings of the page, in order ("What the learned model knows" only with a
#: MuZero agent)
SECTIONS = (
    "Test metrics",
    "Verdict",
    "Targets of a strategy worth deploying",
    "Learning curves",
    "Equity and drawdown",
    "One test episode per agent",
    "Episode returns",
    "Round trips of the best agent",
    "Train, validation and test ranges",
    "Training time and environment steps",
    "Settings",
)
MODEL_SECTION = "What the learned model knows"
#: round trips listed at most (the rest are counted)
MAX_TRIP_ROWS = 50

_SCRIPT = """<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var broken = images.filter(function (i) { return !(i.complete && i.naturalWidth > 0); });
  document.body.setAttribute("data-images-total", String(images.length));
  document.body.setAttribute("data-images-loaded", String(images.length - broken.length));
  if (broken.length) {
    var p = document.createElement("p");
    p.className = "warn";
    p.textContent = broken.length + " figure(s) did not load: " +
      broken.map(function (i) { return i.alt; }).join(", ");
    document.body.insertBefore(p, document.body.firstChild);
  }
});
</script>"""

_STYLE = """<style>
body{font-family:system-ui,sans-serif;max-width:1240px;margin:2em auto;padding:0 1em;color:#222}
h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;font-size:13px;margin:.5em 0}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}
tr:nth-child(even) td{background:#f7f7f7}
img{max-width:100%;display:block;margin:.6em 0}
pre{background:#f5f5f5;padding:.8em;font-size:12px;overflow-x:auto}
.warn{background:#fde2e1;border:1px solid #d62728;padding:.5em}
.note{color:#555;font-size:13px}
table.kv td{text-align:left}
</style>"""


def inline_image(path: Path, alt: str) -> str:
    """An ``<img>`` carrying the PNG itself (``data:`` URI), so the page needs no other file."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    e = html.escape
    return f'<img src="data:image/png;base64,{data}" alt="{e(alt)}" data-file="{e(path.name)}">'


def _table(head: list[str], rows: list[list[str]], css_class: str = "") -> str:
    e = html.escape
    header = "".join(f"<th>{e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>\n" for row in rows)
    attr = f' class="{css_class}"' if css_class else ""
    return f"<table{attr}><tr>{header}</tr>\n{body}</table>"


def best_agent(result: CompareResult) -> str | None:
    """The agent with the highest mean test score (``select_by``) among those that closed a
    round trip; None when none did."""
    key = result.config.select_by
    traders = [
        a
        for a in result.agents
        if any(len(e.trade_pnls) for r in result.runs[a] for e in r.episodes)
    ]
    scored = [a for a in traders if math.isfinite(result.summary[a].get(key, math.nan))]
    pool = scored or traders
    return max(pool, key=lambda a: result.summary[a].get(key, -math.inf)) if pool else None


def _round_trips(result: CompareResult) -> str:
    best = best_agent(result)
    if best is None:
        return "<p>No agent closed a round trip in the test episodes.</p>"
    trips = [
        (r, row) for r in result.runs[best] for ep in r.episodes for row in round_trip_rows(ep)
    ]
    rows = [
        [
            f"{r.fold}/{r.seed}",
            t["entry"],
            t["exit"],
            t["side"],
            f"{t['size']:g}",
            f"{t['entry_price']:,.2f}",
            f"{t['exit_price']:,.2f}",
            f"{t['pnl']:+,.4f}",
            f"{t['fees']:,.4f}",
            f"{t['holding_s']:.1f}",
        ]
        for r, t in trips[:MAX_TRIP_ROWS]
    ]
    more = len(trips) - len(rows)
    note = f" The first {len(rows)} are listed." if more > 0 else ""
    pnl = [t["pnl"] for _, t in trips]
    wins = sum(1 for p in pnl if p > 0)
    hold = sum(t["holding_s"] for _, t in trips) / len(trips) if trips else math.nan
    totals = (
        f"<p>In all: {len(trips)} round trips, {wins} winning, PnL {sum(pnl):+,.4f}, fees "
        f"{sum(t['fees'] for _, t in trips):,.4f}, mean holding {hold:.1f} s.</p>"
        if trips
        else ""
    )
    head = ["fold/seed", "entry", "exit", "side", "size", "entry price", "exit price"]
    head += ["PnL (net)", "fees", "holding (s)"]
    return (
        f"<p>{html.escape(best)}: the highest mean test {html.escape(result.config.select_by)} "
        f"among the agents that closed a round trip; {len(trips)} round trips over all its "
        "test episodes. Size: the largest position of the trip (base units); prices: the "
        f"volume-weighted fills at entry and exit; PnL net of fees (quote).{note}</p>"
        + totals
        + _table(head, rows)
    )


def _cost_table(result: CompareResult) -> str:
    rows = []
    for agent in result.agents:
        runs = result.runs[agent]
        steps = sum(r.train_env_steps for r in runs)
        train_s = sum(r.train_seconds for r in runs)
        test_s = sum(r.test_seconds for r in runs)
        rate = f"{steps / train_s:,.0f}" if steps and train_s > 0 else "-"
        rows.append(
            [
                agent,
                str(len(runs)),
                f"{steps:,}",
                f"{train_s:,.1f}",
                rate,
                f"{test_s:,.1f}",
                str(sum(len(r.episodes) for r in runs)),
            ]
        )
    head = ["agent", "runs", "training env steps", "training (s)", "env steps/s", "testing (s)"]
    return _table([*head, "test episodes"], rows)


def _settings(result: CompareResult) -> str:
    from lobzero import __version__

    seeds = sorted({r.seed for runs in result.runs.values() for r in runs})
    doc = _without_none(result.config.to_dict())
    try:
        text = tomli_w.dumps(doc)
    except TypeError:  # a value TOML cannot hold: show it as Python writes it
        text = repr(doc)
    run = [
        ["market", result.market],
        ["agents", ", ".join(result.agents)],
        ["seeds", ", ".join(map(str, seeds))],
        ["training steps per learned agent, seed and fold", f"{result.budget_steps:,}"],
        ["lobzero", __version__],
    ]
    risk = getattr(result, "risk", None)
    guards = ""
    if risk is not None:
        guards = (
            "<p>The risk guards of the +risk rows, as a <code>compare --risk</code> file reads "
            f"them:</p><pre>{html.escape(tomli_w.dumps(_without_none(risk.to_dict())))}</pre>"
        )
    return (
        _table(["", "this run"], run, css_class="kv")
        + "<p>Every other setting, as a <code>compare --config</code> file reads it:</p>"
        + f"<pre>{html.escape(text)}</pre>"
        + guards
    )


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    return value


def _section(title: str, body: str) -> str:
    return f"<h2>{html.escape(title)}</h2>\n{body}\n"


def _images(files: dict[str, Path], prefix: str) -> str:
    return "".join(inline_image(p, k) for k, p in files.items() if k.startswith(prefix))


def page(
    result: CompareResult,
    files: dict[str, Path],
    metrics_table: str,
    targets_table: str,
    intro: str,
) -> str:
    """The HTML of the report; ``files`` the figures by name (``equity``, ``drawdown``,
    ``returns``, ``timeline``, ``validation``, ``trainlog_<agent>``, ``episode_<agent>``,
    ``model_<agent>``), the tables already rendered."""
    e = html.escape
    verdicts = "".join(f"<li>{e(v.line())}</li>" for v in result.verdicts) or "<li>-</li>"
    learned = [a for a in result.agents if any(r.validation for r in result.runs[a])]
    if learned:
        curves = inline_image(files["validation"], "validation")
        logs = _images(files, "trainlog_")
        missing = [a for a in learned if f"trainlog_{a}" not in files]
        if missing:
            curves += (
                f'<p class="note">No training log (train_log.csv) found for '
                f"{e(', '.join(missing))}.</p>"
            )
        curves += logs
        learning = (
            "<p>The mean validation score of every checkpoint (circled: the one tested), then "
            "the losses and episode returns the trainers logged.</p>" + curves
        )
    else:
        learning = "<p>No learned agent in this comparison (rule agents are not trained).</p>"
    model = _images(files, "model_")
    sections = [
        _section(SECTIONS[0], metrics_table),
        _section(
            SECTIONS[1],
            "<p>A candidate is preferred to a reference when it is better on at least 3 of "
            f"Sharpe, max drawdown, profit factor and win rate.</p><ul>{verdicts}</ul>",
        ),
        _section(SECTIONS[2], targets_table),
        _section(SECTIONS[3], learning),
        _section(
            SECTIONS[4],
            inline_image(files["equity"], "equity") + inline_image(files["drawdown"], "drawdown"),
        ),
        _section(
            SECTIONS[5],
            "<p>The first test episode of each agent's first seed: the mid price with its "
            "buys and sells, its position and the fees paid so far.</p>"
            + _images(files, "episode_"),
        ),
        _section(SECTIONS[6], inline_image(files["returns"], "returns")),
        _section(SECTIONS[7], _round_trips(result)),
        _section(
            SECTIONS[8],
            inline_image(files["timeline"], "timeline") + _splits_list(result),
        ),
        _section(SECTIONS[9], _cost_table(result)),
        _section(SECTIONS[10], _settings(result)),
    ]
    if model:
        sections.append(
            _section(
                MODEL_SECTION,
                "<p>Along one test episode, the rewards and values the model predicts when it "
                "unrolls K steps with the actions taken, against the rewards received and the "
                "discounted returns realised (correlation by unroll step on the right).</p>"
                + model,
            )
        )
    links = (
        '<p>Also: <a href="metrics.csv">metrics.csv</a>, '
        '<a href="metrics.json">metrics.json</a>.</p>'
    )
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>lobzero comparison</title>
{_STYLE}</head><body>
<h1>lobzero comparison</h1>
{intro}
{"".join(sections)}
{links}
{_SCRIPT}
</body></html>
"""


def _splits_list(result: CompareResult) -> str:
    items = "".join(
        f"<li>fold {s.fold}: train {iso(s.train.start_ns)} ({s.train.seconds:.0f} s), "
        f"validation {iso(s.validation.start_ns)} ({s.validation.seconds:.0f} s), "
        f"test {iso(s.test.start_ns)} to {iso(s.test.end_ns)} ({s.test.seconds:.0f} s)</li>"
        for s in result.splits
    )
    return f"<ul>{items}</ul>"


def target_table(result: CompareResult) -> str:
    """Each agent against each target (yes / no / n/a)."""
    e = html.escape
    head = "".join(f"<th>{e(k)} {op} {v:g}</th>" for k, (op, v) in TARGETS.items())
    body = ""
    for agent in result.agents:
        met = result.targets[agent]
        cells = "".join(f"<td>{target_word(met[k])}</td>" for k in TARGETS)
        body += f"<tr><th>{e(agent)}</th>{cells}</tr>\n"
    return f"<table><tr><th>agent</th>{head}</tr>\n{body}</table>"
