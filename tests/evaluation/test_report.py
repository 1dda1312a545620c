"""The report's data and figures: what an episode records (mid, position, fees, fills, round
trips) against the ledger, round trips priced from the fills, training logs of any trainer,
drawdown in the table's units, the market timeline, and robustness.png's error bars, targets
and flat baseline."""

from __future__ import annotations

import csv
from pathlib import Path

import lobzero
import numpy as np
import pytest
from lobzero.baselines import make_rule_agent
from lobzero.evaluation.compare import AgentRun, summarize
from lobzero.evaluation.report import (
    COLLAPSE_RETURN,
    ROBUST_MAX_DRAWDOWN,
    ROBUST_SHARPE,
    robustness_figure,
    seed_spread,
)
from lobzero.evaluation.report_figures import (
    chained_equity_runs,
    episode_drawdowns,
    log_steps,
    loss_columns,
    mid_series,
    plot_train_log,
    read_train_log,
    return_columns,
    round_trip_rows,
)
from lobzero.evaluation.robustness import EpisodePath, EpisodeResult, robustness, run_episodes

CONFIG = lobzero.EnvConfig(max_position=0.1, episode_steps=120)


@pytest.fixture(scope="module")
def market() -> lobzero.Market:
    return lobzero.synth_market(seconds=120, seed=3, signal_strength=1.0)


@pytest.fixture(scope="module")
def random_episodes(market: lobzero.Market) -> list[EpisodeResult]:
    envs = [lobzero.TradingEnv(market, CONFIG) for _ in range(3)]
    agent = make_rule_agent("random", envs[0].feature_names, seed=4)
    return run_episodes(agent, envs, [0, 1, 2])


def test_the_path_of_an_episode_agrees_with_its_ledger(
    random_episodes: list[EpisodeResult],
) -> None:
    """Fills, fees, position and round trips recorded along the episode are the ones the
    metrics count: a path that dropped the fills of a step, or kept the fees of one step
    instead of the running sum, breaks one of these equalities."""
    for ep in random_episodes:
        p = ep.path
        assert p is not None
        n = CONFIG.episode_steps + 1
        assert p.ts_ns.shape == p.mid.shape == p.position.shape == p.fees.shape == (n,)
        assert (np.diff(p.ts_ns) > 0).all() and (p.mid > 0).all()
        np.testing.assert_array_equal(p.ts_ns[[0, -1]], [ep.start_ns, ep.end_ns])
        assert len(p.fills) == len(p.fill_ts_ns) == ep.metrics.fills > 10
        assert set(np.unique(p.fills[:, 0])) <= {-1.0, 1.0}
        # every fill inside the episode; the position is the sum of the signed fills
        assert p.ts_ns[0] <= p.fill_ts_ns.min() and p.fill_ts_ns.max() <= p.ts_ns[-1]
        assert p.position[-1] == pytest.approx((p.fills[:, 0] * p.fills[:, 2]).sum(), abs=1e-9)
        assert (np.diff(p.fees) >= 0).all()
        assert p.fees[-1] == pytest.approx(p.fills[:, 3].sum()) == pytest.approx(ep.metrics.fees)
        np.testing.assert_allclose([t[4] for t in p.round_trips], ep.trade_pnls)
        assert len(p.round_trips) == ep.metrics.round_trips


def test_round_trips_are_priced_from_their_fills() -> None:
    """Entry and exit prices are the volume-weighted fills of the trip's side at that moment
    (a fill of the other side at the same time is not part of the entry)."""
    s = 10**9
    path = EpisodePath(
        ts_ns=np.array([0, s, 2 * s, 3 * s]),
        mid=np.full(4, 100.0),
        position=np.array([0.0, 3.0, 3.0, 0.0]),
        fees=np.array([0.0, 0.3, 0.3, 0.6]),
        fill_ts_ns=np.array([s, s, 3 * s, 3 * s]),
        fills=np.array(
            [[1, 100.0, 2.0, 0.2], [1, 101.0, 1.0, 0.1], [-1, 103.0, 3.0, 0.3], [1, 99.0, 5, 0]]
        ),
        round_trips=((s, 3 * s, 1, 3000, 7.4, 0.6),),
        lot=0.001,
    )
    metrics = lobzero.evaluation.metrics.compute_metrics([1.0, 1.0], step_seconds=1.0)
    (row,) = round_trip_rows(EpisodeResult(metrics, np.ones(2), path=path))
    assert row["entry"] == "1970-01-01T00:00:01.000+00:00" and row["side"] == "long"
    assert row["entry_price"] == pytest.approx((2 * 100.0 + 101.0) / 3)
    assert row["exit_price"] == 103.0  # the buy at 3 s is not the exit of a long
    assert (row["size"], row["pnl"], row["fees"], row["holding_s"]) == (3.0, 7.4, 0.6, 2.0)


def test_round_trip_rows_of_a_played_episode(random_episodes: list[EpisodeResult]) -> None:
    ep = random_episodes[0]
    rows = round_trip_rows(ep)
    assert len(rows) == len(ep.trade_pnls) > 0
    lo, hi = ep.path.mid.min() * 0.99, ep.path.mid.max() * 1.01
    for row in rows:
        assert lo < row["entry_price"] < hi and lo < row["exit_price"] < hi
        assert 0 < row["size"] <= CONFIG.max_position + 1e-12 and row["holding_s"] >= 0
        assert row["exit"] >= row["entry"]


def _write_csv(path: Path, rows: list[dict[str, object]]) -> Path:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_training_logs_of_muzero_and_sb3_are_read(tmp_path: Path) -> None:
    """MuZero's columns and SB3 logger's (``time/total_timesteps``, ``train/...``) alike;
    empty cells are nan, a text column is left out, a missing or empty log is ``{}``."""
    from lobzero.muzero.trainer import LOG_FIELDS

    mz = [{k: "" for k in LOG_FIELDS} for _ in range(3)]
    for i, row in enumerate(mz):
        row.update(env_steps=32 * (i + 1), loss=3.0 - i, value_loss=1.0, mean_return=0.5 * i)
    table = read_train_log(_write_csv(tmp_path / "mz.csv", mz))
    assert loss_columns(table) == ["loss", "value_loss"] and return_columns(table) == [
        "mean_return"
    ]
    np.testing.assert_array_equal(log_steps(table), [32, 64, 96])
    assert "grad_norm" not in table  # never written: no number at all
    sb3 = [
        {"time/total_timesteps": 256, "rollout/ep_rew_mean": "", "train/value_loss": 0.5,
         "train/policy_gradient_loss": -0.01, "note": "warm"},
        {"time/total_timesteps": 512, "rollout/ep_rew_mean": -1.5, "train/value_loss": 0.4,
         "train/policy_gradient_loss": -0.02, "note": "hot"},
    ]  # fmt: skip
    table = read_train_log(_write_csv(tmp_path / "sb3.csv", sb3))
    assert sorted(loss_columns(table)) == ["train/policy_gradient_loss", "train/value_loss"]
    assert return_columns(table) == ["rollout/ep_rew_mean"] and "note" not in table
    assert np.isnan(table["rollout/ep_rew_mean"][0]) and table["rollout/ep_rew_mean"][1] == -1.5
    np.testing.assert_array_equal(log_steps(table), [256, 512])
    assert read_train_log(tmp_path / "absent.csv") == {}
    (tmp_path / "empty.csv").write_text("env_steps,loss\n")
    assert read_train_log(tmp_path / "empty.csv") == {}
    png = plot_train_log("ppo", [("seed 0", table)], tmp_path / "trainlog.png")
    assert png.stat().st_size > 5000


def test_drawdown_is_drawn_in_the_units_of_the_table(
    random_episodes: list[EpisodeResult],
) -> None:
    """The figure's curve restarts its peak with each episode, so the mean of its per-episode
    maxima is the table's max DD (the old figure drew the drawdown of the seeds' mean equity,
    chained: a number the table never shows)."""
    runs = [AgentRun("random", 0, 0, random_episodes[:2]), AgentRun("random", 0, 1, [])]
    runs[1].episodes = random_episodes[2:] * 2
    summary, _ = summarize(runs, resamples=50)
    dd = episode_drawdowns(runs)
    t = CONFIG.episode_steps
    assert dd.shape == (2, 2 * t + 1) and (dd >= 0).all()
    maxima = [dd[0, : t + 1].max(), dd[0, t:].max(), dd[1, : t + 1].max(), dd[1, t:].max()]
    expected = [e.metrics.max_drawdown for e in random_episodes[:2] + random_episodes[2:] * 2]
    np.testing.assert_allclose(maxima, expected, rtol=1e-9)
    assert np.mean(maxima) == pytest.approx(summary["max_drawdown"])
    equity = chained_equity_runs(runs)
    first = random_episodes[0].equity
    np.testing.assert_allclose(equity[0, : t + 1], first / first[0])
    assert equity[0, -1] == pytest.approx(
        np.prod([e.equity[-1] / e.equity[0] for e in random_episodes[:2]])
    )


def test_mid_series_spans_the_market(market: lobzero.Market) -> None:
    ts, mid = mid_series(market, points=500)
    assert 400 <= len(ts) <= 520 and (np.diff(ts) > 0).all()
    cols = market.columns()
    prices = cols["price_ticks"][cols["price_ticks"] > 0] * market.metadata.tick
    assert prices.min() <= mid.min() and mid.max() <= prices.max()
    assert ts[0] >= market.start_ns and ts[-1] <= market.end_ns + 10**9


def test_robustness_figure_has_error_bars_targets_and_the_flat_baseline(
    market: lobzero.Market,
) -> None:
    config = CONFIG.replace(episode_steps=80)
    names = lobzero.TradingEnv(market, config).feature_names
    levels, seeds = [0.0, 0.5], [0, 1, 2]
    rows = robustness(make_rule_agent("random", names, seed=1), market, config, levels, seeds)
    flat = robustness(make_rule_agent("flat", names), market, config, levels, seeds)
    fig = robustness_figure(rows, flat, "robustness of rule:random")
    try:
        for ax, key, target in zip(
            fig.axes,
            ("sharpe", "max_drawdown", "total_return"),
            (ROBUST_SHARPE, ROBUST_MAX_DRAWDOWN, COLLAPSE_RETURN),
            strict=True,
        ):
            (bars,) = ax.containers
            _, _, (segments,) = bars.lines
            half = [abs(seg[1][1] - seg[0][1]) / 2 for seg in segments.get_segments()]
            spread = [np.std([ep[key] for ep in r["episodes"]]) for r in rows]
            np.testing.assert_allclose(half, spread, rtol=1e-9)
            assert min(spread) > 0  # three seeds that differ: the bars have a length
            labels = {line.get_label(): line for line in ax.get_lines()}
            baseline = labels["flat (baseline)"].get_ydata()
            np.testing.assert_array_equal(baseline, [0.0, 0.0])  # flat never trades
            horizontal = [ln.get_ydata()[0] for ln in ax.get_lines() if ln.get_label()[0] != "_"
                          and ln.get_label().startswith(("target", "collapse"))]  # fmt: skip
            assert horizontal == [target]
    finally:
        lobzero.evaluation.report.pyplot().close(fig)
    assert seed_spread({"episodes": [{"sharpe": 2.0}]}, "sharpe") == 0.0


def test_the_timeline_draws_each_fold_where_its_ranges_are(market: lobzero.Market) -> None:
    """Bars of the train, validation and test ranges of every fold, in minutes from the
    market's first mid, over the mid price itself."""
    from lobzero.evaluation.report_figures import RANGE_COLOURS, timeline_figure
    from lobzero.evaluation.walkforward import WalkForwardConfig, walk_forward_splits

    splits = walk_forward_splits(market, WalkForwardConfig(folds=2))
    ts, mid = mid_series(market, points=300)
    fig = timeline_figure(splits, (ts, mid))
    try:
        top, bottom = fig.axes
        np.testing.assert_allclose(top.get_lines()[0].get_ydata(), mid)
        bars = bottom.collections
        assert len(bars) == 3 * len(splits)
        for row, split in enumerate(splits):
            for k, name in enumerate(RANGE_COLOURS):
                r = getattr(split, name)
                (x0, y0), (x1, y1) = bars[3 * row + k].get_paths()[0].get_extents().get_points()
                assert x0 == pytest.approx((r.start_ns - ts[0]) / 60e9)
                assert x1 == pytest.approx((r.end_ns - ts[0]) / 60e9)
                assert y0 < row < y1  # fold `row` on row `row`
        assert bottom.get_xlabel() == "minutes from the market's start"
    finally:
        lobzero.evaluation.report.pyplot().close(fig)


def test_the_return_boxes_hold_every_test_episode(random_episodes: list[EpisodeResult]) -> None:
    from types import SimpleNamespace

    from lobzero.evaluation.report_figures import returns_figure

    flat = [EpisodeResult(e.metrics.__class__(**{**e.metrics.to_dict(), "total_return": 0.0}),
                          e.equity) for e in random_episodes]  # fmt: skip
    runs = {
        "random": [AgentRun("random", 0, 0, random_episodes)],
        "flat": [AgentRun("flat", 0, 0, flat)],
    }
    fig = returns_figure(SimpleNamespace(agents=["random", "flat"], runs=runs))
    try:
        (ax,) = fig.axes
        dots = [c.get_offsets()[:, 1] for c in ax.collections]
        np.testing.assert_allclose(
            sorted(dots[0]), sorted(e.metrics.total_return for e in random_episodes)
        )
        np.testing.assert_array_equal(dots[1], [0.0, 0.0, 0.0])
        medians = [
            ln.get_ydata()[0] for ln in ax.get_lines() if ln.get_color() in ("C1", "#ff7f0e")
        ]
        expected = np.median([e.metrics.total_return for e in random_episodes])
        assert medians[0] == pytest.approx(expected)
        assert [t.get_text() for t in ax.get_xticklabels()] == ["random", "flat"]
    finally:
        lobzero.evaluation.report.pyplot().close(fig)
