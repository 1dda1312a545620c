"""Reports written to disk: tables as CSV/JSON and curves as PNG."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lobzero.data.market import Market
from lobzero.data.universe import Universe
from lobzero.exceptions import ConfigError

# the user's targets for a robust strategy (issue 4)
ROBUST_SHARPE, ROBUST_MAX_DRAWDOWN, ROBUST_INTENSITY, COLLAPSE_RETURN = 1.0, 0.20, 0.2, -0.5


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (files only, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def load_market(
    data: str | Path | Sequence[str | Path] | None,
    synth_seconds: float,
    seed: int = 0,
    signal_strength: float = 1.0,
) -> Market:
    """The market of a file (or of several files of one recording), or (``data`` None) the
    synthetic market with a real signal, :func:`lobzero.signal_market` (``synth_seconds``
    long, path ``seed``). Data of several symbols is a :class:`ConfigError` here (see
    :func:`load_market_or_universe`)."""
    market = load_market_or_universe(data, synth_seconds, seed, signal_strength)
    if isinstance(market, Universe):
        raise ConfigError(
            f"--data holds {len(market)} symbols ({', '.join(market)}): this command trades one "
            "market (`lobzero compare` takes a universe); give the files of one symbol"
        )
    return market


def load_market_or_universe(
    data: str | Path | Sequence[str | Path] | None,
    synth_seconds: float,
    seed: int = 0,
    signal_strength: float = 1.0,
) -> Market | Universe:
    """:func:`load_market`, where files of several symbols (or a universe folder) give a
    :class:`~lobzero.data.universe.Universe`."""
    from lobzero.data.importers import import_market
    from lobzero.data.synth import signal_market

    if isinstance(data, Sequence) and not isinstance(data, str):
        data = list(data)
        if len(data) == 1:
            data = data[0]
    if data:
        return import_market(data)
    return signal_market(seconds=synth_seconds, seed=seed, signal_strength=signal_strength)


def load_agent_spec(spec: str, feature_names: list[str]) -> Any:
    """``rule:NAME`` or a folder written by an agent's ``save`` (any kind, or a training run's
    output folder)."""
    from lobzero.agents import load_agent
    from lobzero.baselines.rules import make_rule_agent

    if spec.startswith("rule:"):
        return make_rule_agent(spec.removeprefix("rule:"), feature_names)
    return load_agent(spec, feature_names=feature_names)


#: (row key, panel title, target line and its label) of the panels of ``robustness.png``
ROBUSTNESS_PANELS: tuple[tuple[str, str, float, str], ...] = (
    ("sharpe", "Sharpe (annualised)", ROBUST_SHARPE, f"target > {ROBUST_SHARPE:g}"),
    ("max_drawdown", "max drawdown", ROBUST_MAX_DRAWDOWN, f"target < {ROBUST_MAX_DRAWDOWN:.0%}"),
    ("total_return", "total return", COLLAPSE_RETURN, f"collapse {COLLAPSE_RETURN:.0%}"),
)


def seed_spread(row: dict[str, Any], key: str) -> float:
    """Standard deviation over the seeds of one robustness row's metric (0 with one seed)."""
    values = np.asarray([ep[key] for ep in row["episodes"]], np.float64)
    return float(values.std()) if len(values) > 1 else 0.0


def robustness_figure(
    rows: list[dict[str, Any]], flat_rows: list[dict[str, Any]] | None, title: str
) -> Any:
    """The figure of ``robustness.png``: per panel (:data:`ROBUSTNESS_PANELS`), the agent's
    mean over seeds at each intensity with ± one standard deviation over seeds as error bars,
    the target as a dashed line (the intensity where the targets are judged dotted), and the
    flat agent (``flat_rows``, same seeds and levels) as the baseline; the return panel also
    shows the worst episode. Returns the matplotlib Figure (the caller saves and closes it)."""
    from matplotlib.ticker import PercentFormatter

    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    xs = [r["intensity"] for r in rows]
    for ax, (key, panel, target, target_label) in zip(axes, ROBUSTNESS_PANELS, strict=True):
        ax.errorbar(
            xs,
            [r[key] for r in rows],
            yerr=[seed_spread(r, key) for r in rows],
            marker="o",
            capsize=3,
            label="agent (± 1 s.d. over seeds)",
        )
        if key == "total_return":
            ax.plot(xs, [r["worst_return"] for r in rows], "v:", ms=4, label="worst episode")
        if flat_rows is not None:
            fx = [r["intensity"] for r in flat_rows]
            ax.plot(
                fx, [r[key] for r in flat_rows], "s--", color="grey", ms=4, label="flat (baseline)"
            )
        ax.axhline(target, color="#d62728", ls="--", lw=1.0, label=target_label)
        if key != "total_return":
            ax.axvline(ROBUST_INTENSITY, color="#d62728", ls=":", lw=0.8)
        else:
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        if key == "max_drawdown":
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_title(panel)
        ax.set_xlabel("injection intensity")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"{title} (dotted: the intensity {ROBUST_INTENSITY:g} the targets are judged at)")
    fig.tight_layout()
    return fig


def robustness_report(
    agent_spec: str,
    data: str | Path | Sequence[str | Path] | None,
    intensities: list[float],
    seeds: list[int],
    episode_steps: int,
    out: str | Path,
    synth_seconds: float = 3600.0,
    synth_seed: int = 1,
    env_config: Any = None,
    backend: Any = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Runs :func:`lobzero.evaluation.robustness` and writes ``robustness.csv``,
    ``robustness.json`` (with the flat baseline's rows) and ``robustness.png``
    (:func:`robustness_figure`). ``env_config``: the environment of a rule agent (default: 0.1
    max position); a trained agent plays in its own, with ``episode_steps``."""
    plt = pyplot()

    from lobzero.agents import agent_env_config
    from lobzero.envs import EnvConfig, TradingEnv
    from lobzero.evaluation.robustness import AgentSpec, robustness

    market = load_market(data, synth_seconds, seed=synth_seed)
    config = (env_config or EnvConfig(max_position=0.1)).replace(episode_steps=episode_steps)
    feature_names = TradingEnv(market, config).feature_names
    agent = load_agent_spec(agent_spec, feature_names)
    # a trained agent plays in the environment it learned (clock, features, action mode)
    trained = agent_env_config(agent)
    if trained is not None:
        config = trained.replace(episode_steps=episode_steps, start_ns=None, end_ns=None)
    # every (intensity, seed) episode a job with an agent of its own (on ``backend``: a Ray
    # task each with --backend ray), so the rows are the same on any backend
    names = tuple(feature_names)
    rows = robustness(AgentSpec(agent_spec, names), market, config, intensities, seeds, backend)
    # the baseline: never trading, under the same injections, seeds and levels
    flat_rows = robustness(
        AgentSpec("rule:flat", names), market, config, intensities, seeds, backend
    )

    from lobzero.storage import atomic_writer, join, write_text

    keys = ["intensity", "sharpe", "max_drawdown", "total_return", "worst_return", "fees"]
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=keys, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({k: r[k] for k in keys} for r in rows)
    # each file through lobzero.storage: atomic, on a path or an fsspec URL alike
    paths = {name: join(out, f"robustness.{name}") for name in ("csv", "json", "png")}
    write_text(paths["csv"], table.getvalue())
    write_text(
        paths["json"],
        json.dumps({"agent": agent_spec, "rows": rows, "flat_rows": flat_rows}, indent=1),
    )
    fig = robustness_figure(rows, flat_rows, f"robustness of {agent_spec}")
    with atomic_writer(paths["png"]) as fh:
        fig.savefig(fh, dpi=100, format="png")
    plt.close(fig)

    verdict = []
    at = [r for r in rows if abs(r["intensity"] - ROBUST_INTENSITY) < 1e-9]
    if at:
        r = at[0]
        ok = r["sharpe"] > ROBUST_SHARPE and r["max_drawdown"] < ROBUST_MAX_DRAWDOWN
        verdict.append(
            f"target at intensity {ROBUST_INTENSITY:g} (Sharpe > {ROBUST_SHARPE:g}, max drawdown "
            f"< {ROBUST_MAX_DRAWDOWN:.0%}): {'met' if ok else 'NOT met'}"
        )
    collapse = [r["intensity"] for r in rows if r["worst_return"] <= COLLAPSE_RETURN]
    verdict.append(
        "no collapse (every episode above -50 %): "
        + ("met" if not collapse else f"NOT met at {collapse}")
    )
    return rows, {**paths, "verdict": verdict}
