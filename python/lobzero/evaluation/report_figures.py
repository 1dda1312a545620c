"""The figures of a comparison's report (PNG, matplotlib on Agg) and the data they read: the
training logs, the market's mid price, the round trips of an episode.

Money is in quote currency, returns and drawdowns are fractions shown as percent (the units of
the metrics table), time is market time.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lobzero.evaluation.report import pyplot

if TYPE_CHECKING:
    from lobzero.data.market import Market
    from lobzero.evaluation.compare import AgentRun, CompareResult
    from lobzero.evaluation.robustness import EpisodeResult
    from lobzero.evaluation.walkforward import Split

#: the column counting environment steps in a training log, first found wins (lobzero's
#: MuZero log, then the names SB3's logger writes)
STEP_COLUMNS = ("env_steps", "time/total_timesteps", "total_timesteps", "timesteps", "step")
#: colours of the three ranges of a walk-forward split
RANGE_COLOURS = {"train": "#4C72B0", "validation": "#DD8452", "test": "#55A868"}


def read_train_log(path: str | Path) -> dict[str, np.ndarray]:
    """The numeric columns of a training log CSV, each [rows] float64 (empty or non-numeric
    cells are nan; a column with no number at all is left out). A missing, empty or unreadable
    file gives ``{}``: the report shows what exists and says what does not."""
    try:
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, csv.Error, UnicodeDecodeError):
        return {}
    if not rows:
        return {}

    def number(text: str | None) -> float:
        try:
            return float(text) if text not in (None, "") else math.nan
        except ValueError:
            return math.nan

    table = {}
    for key in rows[0]:
        if key is None:
            continue
        column = np.array([number(r.get(key)) for r in rows], np.float64)
        if np.isfinite(column).any():
            table[key] = column
    return table


def log_steps(table: dict[str, np.ndarray]) -> np.ndarray:
    """The environment-step column of a training log (:data:`STEP_COLUMNS`), else the row
    number: [rows]."""
    for key in STEP_COLUMNS:
        if key in table:
            return table[key]
    n = len(next(iter(table.values()))) if table else 0
    return np.arange(n, dtype=np.float64)


def loss_columns(table: dict[str, np.ndarray]) -> list[str]:
    """Columns holding a loss (``loss``, ``value_loss``, SB3's ``train/actor_loss``, ...)."""
    return [k for k in table if "loss" in k.lower()]


def return_columns(table: dict[str, np.ndarray]) -> list[str]:
    """Columns holding episode returns (MuZero's ``mean_return``, SB3's
    ``rollout/ep_rew_mean``)."""
    return [k for k in table if "return" in k.lower() or "ep_rew" in k.lower()]


def mid_series(market: Market, points: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """The market's mid price sampled about ``points`` times over its span: receive times (ns)
    [P] and mids (quote per base unit) [P], where both sides of the book are quoted."""
    start, end = market.start_ns, market.end_ns
    if start is None or end is None or end <= start:
        return np.zeros(0, np.int64), np.zeros(0)
    step_ms = max((end - start) / 1e6 / points, 1.0)
    book = market.sample_book(step_ms=step_ms, levels=1)
    bid, ask = book["bid_price_ticks"][:, 0], book["ask_price_ticks"][:, 0]
    live = (bid > 0) & (ask > 0)
    mid = (bid[live] + ask[live]).astype(np.float64) * 0.5 * market.metadata.tick
    return book["ts_ns"][live], mid


def iso(ns: int, timespec: str = "seconds") -> str:
    """A receive time (ns) as ISO 8601 UTC, to the second (or ``timespec``)."""
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).isoformat(timespec=timespec)


def round_trip_rows(episode: EpisodeResult) -> list[dict[str, Any]]:
    """The round trips of an episode: entry and exit times (ISO UTC), side (long / short),
    size (largest position of the trip, units of size), entry and exit prices (the
    volume-weighted price of the fills at that moment in the trip's direction), PnL and fees
    (settlement currency: quote, or the base coin if inverse; the PnL net of fees) and holding
    time (s)."""
    path = episode.path
    if path is None:
        return []

    def vwap(ts: int, side: int) -> float:
        at = (path.fill_ts_ns == ts) & (path.fills[:, 0] == side)
        size = path.fills[at, 2]
        return float((path.fills[at, 1] * size).sum() / size.sum()) if size.sum() > 0 else math.nan

    rows = []
    for entry, exit_, side, lots, pnl, fees in path.round_trips:
        rows.append(
            {
                "entry": iso(entry, "milliseconds"),
                "exit": iso(exit_, "milliseconds"),
                "side": "long" if side > 0 else "short",
                "size": lots * path.lot,
                "entry_price": vwap(entry, side),
                "exit_price": vwap(exit_, -side),
                "pnl": float(pnl),
                "fees": float(fees),
                "holding_s": (exit_ - entry) / 1e9,
            }
        )
    return rows


def _chained(runs: Sequence[AgentRun], per_episode: Any, pad: str) -> np.ndarray:
    """A per-episode curve chained over each run's test episodes: [runs, T], shorter runs
    padded (``pad`` "last": with their last value, "zero": with 0)."""
    curves = []
    for run in runs:
        parts = [per_episode(np.asarray(ep.equity, np.float64)) for ep in run.episodes]
        curves.append(np.concatenate([parts[0], *(p[1:] for p in parts[1:])]))
    n = max(len(c) for c in curves)
    return np.stack(
        [np.concatenate([c, np.full(n - len(c), c[-1] if pad == "last" else 0.0)]) for c in curves]
    )


def chained_equity_runs(runs: Sequence[AgentRun]) -> np.ndarray:
    """Equity of each run's test episodes played one after the other, starting at 1, each
    episode continuing from where the last ended: [runs, T]."""
    out = []
    for run in runs:
        curve = [np.ones(1)]
        for ep in run.episodes:
            rel = np.asarray(ep.equity, np.float64) / float(ep.equity[0])
            curve.append(curve[-1][-1] * rel[1:])
        out.append(np.concatenate(curve))
    n = max(len(c) for c in out)
    return np.stack([np.concatenate([c, np.full(n - len(c), c[-1])]) for c in out])


def episode_drawdowns(runs: Sequence[AgentRun]) -> np.ndarray:
    """Drawdown from the episode's running peak at each test decision, episodes one after
    the other, the peak starting afresh with each episode (so the table's max DD, the mean of
    the episodes' maxima, is read off the same curve): [runs, T] fractions."""
    return _chained(runs, lambda eq: 1.0 - eq / np.maximum.accumulate(eq), pad="zero")


def _percent(ax: Any, axis: str = "y") -> None:
    from matplotlib.ticker import PercentFormatter

    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(PercentFormatter(1.0))


def _plain(ax: Any) -> None:
    """Prices as they are (60,005.3), not as an offset (+6.0005e4) the reader must add."""
    ax.ticklabel_format(axis="y", useOffset=False, style="plain")


def _finish(fig: Any, path: Path) -> Path:
    """Saves the figure as ``path`` (PNG, 100 dpi), closes it, returns the path."""
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    pyplot().close(fig)
    return path


def _colours(agents: Sequence[str]) -> dict[str, Any]:
    cmap = pyplot().get_cmap("tab10")
    return {a: cmap(i % 10) for i, a in enumerate(agents)}


def plot_equity(result: CompareResult, path: Path) -> Path:
    """Chained test equity per agent: the mean over seeds (and folds), the range over them as a
    band, each seed as a thin line."""
    plt = pyplot()
    step_min = result.config.env.step_ms / 1e3 / 60.0
    colours = _colours(result.agents)
    fig, ax = plt.subplots(figsize=(10, 4.2))
    for agent in result.agents:
        curves = chained_equity_runs(result.runs[agent])
        x = np.arange(curves.shape[1]) * step_min
        c = colours[agent]
        if len(curves) > 1:
            ax.fill_between(x, curves.min(0), curves.max(0), color=c, alpha=0.15, lw=0)
            for curve in curves:
                ax.plot(x, curve, color=c, lw=0.5, alpha=0.5)
        label = f"{agent} (mean of {len(curves)})" if len(curves) > 1 else agent
        ax.plot(x, curves.mean(0), color=c, lw=1.6, label=label)
    ax.set_title("test equity, episodes chained: mean over seeds, band = range over seeds")
    ax.set_xlabel("market time of the test decisions (minutes)")
    ax.set_ylabel("equity / start")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=min(4, len(result.agents)))
    return _finish(fig, path)


def plot_drawdown(result: CompareResult, path: Path) -> Path:
    """Drawdown within each test episode, in percent (the table's unit), mean over seeds with
    the range as a band; dashed: the table's max DD of the agent."""
    plt = pyplot()
    step_min = result.config.env.step_ms / 1e3 / 60.0
    colours = _colours(result.agents)
    fig, ax = plt.subplots(figsize=(10, 3.6))
    for agent in result.agents:
        dd = episode_drawdowns(result.runs[agent])
        x = np.arange(dd.shape[1]) * step_min
        c = colours[agent]
        if len(dd) > 1:
            ax.fill_between(x, dd.min(0), dd.max(0), color=c, alpha=0.15, lw=0)
        ax.plot(x, dd.mean(0), color=c, lw=1.2, label=agent)
        table = result.summary[agent]["max_drawdown"]
        if math.isfinite(table):
            ax.axhline(table, color=c, lw=0.8, ls="--")
    ax.set_title("drawdown within each test episode (dashed: the table's max DD, mean of maxima)")
    ax.set_xlabel("market time of the test decisions (minutes)")
    ax.set_ylabel("drawdown")
    _percent(ax)
    ax.invert_yaxis()
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=min(4, len(result.agents)))
    return _finish(fig, path)


def plot_validation(result: CompareResult, agents: Sequence[str], path: Path) -> Path:
    """Mean validation score of every checkpoint, one line per seed (and fold), the selected
    checkpoint circled; one panel per learned agent."""
    plt = pyplot()
    width = max(7.0, 4.6 * len(agents))
    fig, axes = plt.subplots(1, len(agents), figsize=(width, 3.4), squeeze=False)
    for ax, agent in zip(axes[0], agents, strict=True):
        for run in result.runs[agent]:
            steps = [s for s, _ in run.validation]
            scores = [v for _, v in run.validation]
            ax.plot(steps, scores, "o-", ms=3, lw=1.0, label=_run_label(run))
            chosen = [v for s, v in run.validation if s == run.selected_step]
            if chosen:
                ax.plot([run.selected_step], chosen[:1], "o", ms=9, mfc="none", color="black")
        ax.set_title(f"{agent}: validation {result.config.select_by} per checkpoint")
        ax.set_xlabel("training env steps")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel(f"mean validation {result.config.select_by}")
    return _finish(fig, path)


def _run_label(run: AgentRun) -> str:
    return f"seed {run.seed}" if run.fold == 0 else f"fold {run.fold} seed {run.seed}"


def plot_train_log(
    agent: str, logs: Sequence[tuple[str, dict[str, np.ndarray]]], path: Path
) -> Path:
    """Losses (log scale when positive) and episode returns of an agent's training logs
    against env steps, one line style per seed; ``logs``: (run label, table) pairs."""
    plt = pyplot()
    losses = sorted({k for _, t in logs for k in loss_columns(t)})
    returns = sorted({k for _, t in logs for k in return_columns(t)})
    panels = [(k, "loss") for k in losses] + [(k, "return") for k in returns]
    cols = min(4, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.8 * rows), squeeze=False)
    styles = ["-", "--", ":", "-."]
    for ax, (key, kind) in zip(axes.flat, panels, strict=False):
        seen = []
        for i, (label, table) in enumerate(logs):
            if key not in table:
                continue
            y = table[key]
            ok = np.isfinite(y)
            seen.append(y[ok])
            ax.plot(log_steps(table)[ok], y[ok], styles[i % 4], lw=1.0, label=label)
        values = np.concatenate(seen) if seen else np.zeros(0)
        # a log scale only where the loss falls by orders of magnitude
        if kind == "loss" and len(values) and values.min() > 0 and values.max() > 20 * values.min():
            ax.set_yscale("log")
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("env steps", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if len(logs) > 1:
            ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.suptitle(f"{agent}: training log", fontsize=10)
    return _finish(fig, path)


def plot_episode(agent: str, run: AgentRun, episode: EpisodeResult, path: Path) -> Path:
    """One test episode: the mid price with the agent's buys (up) and sells (down), its
    position, and the fees paid so far, against seconds from the episode's start."""
    plt = pyplot()
    p = episode.path
    assert p is not None
    t0 = int(p.ts_ns[0])
    t = (p.ts_ns - t0) / 1e9
    fig, axes = plt.subplots(3, 1, figsize=(10, 5.6), sharex=True, height_ratios=[2.2, 1, 1])
    axes[0].plot(t, p.mid, color="#444", lw=0.9, label="mid")
    fill_t = (p.fill_ts_ns - t0) / 1e9
    for side, marker, colour, word in ((1, "^", "#2a9d44", "buy"), (-1, "v", "#d62728", "sell")):
        at = p.fills[:, 0] == side
        if at.any():
            axes[0].scatter(
                fill_t[at], p.fills[at, 1], marker=marker, color=colour, s=28, zorder=3,
                label=f"{word} ({int(at.sum())})",
            )  # fmt: skip
    axes[0].set_ylabel("price")
    _plain(axes[0])
    axes[0].legend(fontsize=7, loc="best")
    axes[0].set_title(
        f"{agent}: test episode from {iso(t0)} ({_run_label(run)}), return "
        f"{episode.metrics.total_return:+.3%}",
        fontsize=10,
    )
    axes[1].step(t, p.position, where="post", color="#4C72B0", lw=1.0)
    axes[1].axhline(0.0, color="grey", lw=0.5)
    axes[1].set_ylabel("position (base)")
    axes[2].plot(t, p.fees, color="#DD8452", lw=1.0)
    axes[2].set_ylabel("fees paid (quote)")
    axes[2].set_xlabel("seconds from the episode's start")
    for ax in axes:
        ax.grid(alpha=0.3)
    return _finish(fig, path)


def plot_returns(result: CompareResult, path: Path) -> Path:
    """``returns.png``: :func:`returns_figure`."""
    return _finish(returns_figure(result), path)


def returns_figure(result: CompareResult) -> Any:
    """Per-episode test return of each agent as a box (quartiles, whiskers at 1.5 IQR) with
    every episode as a dot; the matplotlib Figure."""
    plt = pyplot()
    values = [
        [e.metrics.total_return for r in result.runs[a] for e in r.episodes] for a in result.agents
    ]
    fig, ax = plt.subplots(figsize=(max(5.0, 1.3 * len(result.agents) + 2), 3.8))
    ax.boxplot(values, showfliers=False)
    ax.set_xticks(range(1, len(result.agents) + 1), result.agents)
    jitter = np.random.default_rng(0)
    for i, v in enumerate(values, start=1):
        ax.scatter(i + jitter.uniform(-0.12, 0.12, len(v)), v, s=10, alpha=0.6, zorder=3)
    ax.axhline(0.0, color="grey", lw=0.6)
    ax.set_title("return of each test episode (all seeds)")
    ax.set_ylabel("episode return")
    _percent(ax)
    ax.grid(alpha=0.3, axis="y")
    return fig


def plot_timeline(splits: Sequence[Split], mid: tuple[np.ndarray, np.ndarray], path: Path) -> Path:
    """``timeline.png``: :func:`timeline_figure`."""
    return _finish(timeline_figure(splits, mid), path)


def timeline_figure(splits: Sequence[Split], mid: tuple[np.ndarray, np.ndarray]) -> Any:
    """The market's mid price with the train, validation and test ranges of each fold shaded
    (top) and drawn as bars, one row per fold (bottom), against minutes (hours past two hours)
    from the market's first sample; the matplotlib Figure."""
    plt = pyplot()
    ts, price = mid
    t0 = int(ts[0]) if len(ts) else min(s.train.start_ns for s in splits)
    span_s = (max(s.test.end_ns for s in splits) - t0) / 1e9
    unit, unit_ns = ("hours", 3600e9) if span_s > 7200 else ("minutes", 60e9)
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(10, 3.2 + 0.3 * len(splits)), sharex=True,
        height_ratios=[3, 0.6 + 0.35 * len(splits)],
    )  # fmt: skip
    top.plot((ts - t0) / unit_ns, price, color="#333", lw=0.8)
    for split in splits[:1]:
        for name in RANGE_COLOURS:
            r = getattr(split, name)
            span = ((r.start_ns - t0) / unit_ns, (r.end_ns - t0) / unit_ns)
            top.axvspan(*span, color=RANGE_COLOURS[name], alpha=0.12, lw=0)
    top.set_ylabel("mid price")
    _plain(top)
    top.set_title("market mid price and the walk-forward ranges")
    top.grid(alpha=0.3)
    for row, split in enumerate(splits):
        for name, colour in RANGE_COLOURS.items():
            r = getattr(split, name)
            bar = ((r.start_ns - t0) / unit_ns, r.seconds * 1e9 / unit_ns)
            label = name if row == 0 else None
            bottom.broken_barh([bar], (row - 0.35, 0.7), color=colour, label=label)
    bottom.set_yticks(range(len(splits)), [f"fold {s.fold}" for s in splits])
    bottom.set_ylim(len(splits) - 0.5, -0.5)
    bottom.set_xlabel(f"{unit} from the market's start")
    bottom.legend(fontsize=7, ncol=3, loc="upper left", bbox_to_anchor=(0, -0.6))
    return fig
