"""The comparison: bootstrap intervals on known data, the verdict and the targets on
hand-computed cases, pooled metrics, and end-to-end runs that write every file and test only on
the test range."""

from __future__ import annotations

import base64
import csv
import html
import itertools
import json
import re
import signal
from pathlib import Path
from typing import Any

import lobzero
import numpy as np
import pytest
from lobzero.evaluation.bootstrap import bootstrap_ci
from lobzero.evaluation.compare import (
    AgentRun,
    CompareConfig,
    compare,
    muzero_config,
    parse_agents,
    summarize,
)
from lobzero.evaluation.metrics import compute_metrics
from lobzero.evaluation.robustness import EpisodeResult, run_episode, run_episodes
from lobzero.evaluation.verdict import MIN_JUDGED_SECONDS, judge_targets, targets_line, verdict
from lobzero.evaluation.walkforward import walk_forward_splits

# ---------------------------------------------------------------- bootstrap


def test_bootstrap_of_two_points_is_their_range() -> None:
    # resampled means of [0, 1]: 0 (1/4), 0.5 (1/2), 1 (1/4): the 95 % interval is [0, 1]
    ci = bootstrap_ci([0.0, 1.0], n_resamples=4000, seed=1)
    assert (ci.value, ci.low, ci.high) == (0.5, 0.0, 1.0)
    # at 40 % the 30th and 70th percentiles are both 0.5
    ci = bootstrap_ci([0.0, 1.0], n_resamples=4000, confidence=0.4, seed=1)
    assert (ci.low, ci.high) == (0.5, 0.5)


def test_bootstrap_of_a_constant_is_that_constant() -> None:
    ci = bootstrap_ci(np.full(7, 2.5), n_resamples=200)
    assert (ci.value, ci.low, ci.high) == (2.5, 2.5, 2.5)


def test_bootstrap_matches_the_normal_interval_on_a_large_sample() -> None:
    x = np.random.default_rng(0).normal(1.0, 2.0, 400)
    ci = bootstrap_ci(x, n_resamples=3000, seed=2)
    half = 1.96 * x.std(ddof=1) / np.sqrt(len(x))  # 0.196
    assert ci.value == pytest.approx(x.mean())
    assert ci.low == pytest.approx(x.mean() - half, abs=0.03)
    assert ci.high == pytest.approx(x.mean() + half, abs=0.03)
    assert bootstrap_ci(x, n_resamples=3000, seed=2) == ci  # same seed, same interval


def test_grouped_bootstrap_resamples_seeds_first() -> None:
    # two seeds whose episodes agree within a seed and disagree across seeds
    values = [0.0] * 10 + [2.0] * 10
    groups = ["a"] * 10 + ["b"] * 10
    grouped = bootstrap_ci(values, groups=groups, n_resamples=4000, seed=0)
    # resampling 2 seeds: means 0 (1/4), 1 (1/2), 2 (1/4) -> [0, 2]
    assert (grouped.value, grouped.low, grouped.high) == (1.0, 0.0, 2.0)
    flat = bootstrap_ci(values, n_resamples=4000, seed=0)
    # 20 independent draws of a fair 0/2 coin: sd of the mean 1/sqrt(20) = 0.22
    assert 0.4 < flat.low < 0.7 and 1.3 < flat.high < 1.6


def test_bootstrap_of_a_ratio_over_rows() -> None:
    rows = np.array([[3.0, 1.0], [1.0, 1.0], [0.0, 2.0]])  # gross profit, gross loss
    ci = bootstrap_ci(rows, statistic=lambda r: r[:, 0].sum() / r[:, 1].sum(), n_resamples=500)
    assert ci.value == pytest.approx(1.0)  # 4 / 4
    assert ci.low <= 1.0 <= ci.high and ci.low >= 0.0
    with pytest.raises(lobzero.ConfigError, match="non-empty"):
        bootstrap_ci([])
    with pytest.raises(lobzero.ConfigError, match="confidence"):
        bootstrap_ci([1.0, 2.0], confidence=1.0)
    with pytest.raises(lobzero.ConfigError, match="2 labels for 3 rows"):
        bootstrap_ci([1.0, 2.0, 3.0], groups=[0, 1])


# ---------------------------------------------------------------- verdict and targets

DAY = 24.0 * 3600.0
NAN = float("nan")
REF = {"sharpe": 1.0, "max_drawdown": 0.10, "profit_factor": 1.5, "win_rate": 0.50}


def test_better_on_three_of_four_is_preferred() -> None:
    cand = {"sharpe": 1.2, "max_drawdown": 0.08, "profit_factor": 1.6, "win_rate": 0.40}
    v = verdict("muzero", cand, "ppo", REF)
    assert v.better == ["sharpe", "max_drawdown", "profit_factor"] and v.worse == ["win_rate"]
    assert v.preferred
    assert v.line().startswith("muzero is PREFERRED to ppo: better on 3 of 4")


def test_two_wins_and_ties_are_not_enough() -> None:
    cand = {"sharpe": 2.0, "max_drawdown": 0.10, "profit_factor": 1.5, "win_rate": 0.9}
    v = verdict("muzero", cand, "flat", REF)
    assert v.better == ["sharpe", "win_rate"] and v.ties == ["max_drawdown", "profit_factor"]
    assert not v.preferred and "not preferred" in v.line()


def test_a_larger_drawdown_is_worse() -> None:
    cand = {**REF, "max_drawdown": 0.12, "sharpe": 1.1, "profit_factor": 2.0}
    v = verdict("a", cand, "b", REF)
    assert v.worse == ["max_drawdown"] and v.better == ["sharpe", "profit_factor"]
    assert not v.preferred
    # nan is undefined (neither better, worse nor tied), inf against a number is better
    nan = verdict("a", {**REF, "sharpe": float("nan"), "profit_factor": float("inf")}, "b", REF)
    assert nan.better == ["profit_factor"] and nan.undefined == ["sharpe"]
    assert "sharpe" not in nan.ties + nan.worse


def test_undefined_metrics_are_neither_a_win_nor_a_loss() -> None:
    """Buy-and-hold has no closed round trip: its profit factor and win rate are nan. Counted
    as 0 they made any agent with one winning trip better on both; counted as ties they hid
    that nothing was compared."""
    hold = {"sharpe": 2.0, "max_drawdown": 0.05, "profit_factor": NAN, "win_rate": NAN}
    trader = {"sharpe": 1.0, "max_drawdown": 0.10, "profit_factor": 1.1, "win_rate": 0.51}
    v = verdict("trader", trader, "hold", hold)
    assert v.undefined == ["profit_factor", "win_rate"]
    assert (v.better, v.ties, v.worse) == ([], [], ["sharpe", "max_drawdown"])
    assert not v.preferred and "undefined: profit_factor, win_rate" in v.line()
    assert v.to_dict()["undefined"] == ["profit_factor", "win_rate"]
    # with two metrics undefined even winning both others is not 3 of 4
    v = verdict("hold", hold, "trader", trader)
    assert v.better == ["sharpe", "max_drawdown"] and not v.preferred


def test_clear_wins_need_separate_intervals() -> None:
    cand = {"sharpe": 2.0, "max_drawdown": 0.05, "profit_factor": 3.0, "win_rate": 0.6}
    cand_ci = {"sharpe": (1.5, 2.5), "max_drawdown": (0.02, 0.11), "profit_factor": (2.0, 4.0)}
    ref_ci = {"sharpe": (0.5, 1.4), "max_drawdown": (0.08, 0.12), "profit_factor": (1.0, 2.5)}
    v = verdict("a", cand, "b", REF, cand_ci, ref_ci)
    assert v.preferred and v.clear == ["sharpe"]


def test_targets_are_strict() -> None:
    good = {"sharpe": 1.6, "max_drawdown": 0.14, "profit_factor": 2.1, "win_rate": 0.56}
    assert judge_targets(good, test_seconds=DAY) == dict.fromkeys(good, True)
    edge = {"sharpe": 1.5, "max_drawdown": 0.15, "profit_factor": 2.0, "win_rate": 0.55}
    assert judge_targets(edge, test_seconds=DAY) == dict.fromkeys(edge, False)
    line = targets_line("ppo", {**edge, "sharpe": 3.0}, test_seconds=DAY)
    assert line.startswith("ppo: targets met 1/4") and "Sharpe > 1.5 yes" in line
    assert "max DD < 15% no" in line
    # an undefined metric meets no target and misses none
    hold = {**good, "profit_factor": NAN, "win_rate": NAN}
    assert judge_targets(hold, test_seconds=DAY) == {**dict.fromkeys(good, True), **UNDEF}
    assert "PF > 2 n/a" in targets_line("hold", hold, test_seconds=DAY)


UNDEF = {"profit_factor": None, "win_rate": None}


def test_targets_are_not_judged_on_a_short_test_range() -> None:
    """A Sharpe of 3000 over 5 minutes says only that the sign is positive: below
    MIN_JUDGED_SECONDS of test range no target reads yes or no."""
    good = {"sharpe": 3000.0, "max_drawdown": 0.01, "profit_factor": 5.0, "win_rate": 0.9}
    assert judge_targets(good, test_seconds=300.0) == dict.fromkeys(good)
    line = targets_line("muzero", good, test_seconds=300.0)
    assert line == "muzero: targets not judged: test range 5.0 minutes (< 1440 minutes)"
    assert MIN_JUDGED_SECONDS == DAY
    # the minimum is the caller's: an hour is enough when the caller says so
    assert all(judge_targets(good, test_seconds=3600.0, min_seconds=3600.0).values())


# ---------------------------------------------------------------- pooled metrics


def _episode(equity: list[float], pnls: list[float]) -> EpisodeResult:
    metrics = compute_metrics(equity, step_seconds=1.0, trade_pnls=pnls)
    return EpisodeResult(metrics, np.asarray(equity), trade_pnls=np.asarray(pnls))


def test_summary_pools_round_trips_over_episodes() -> None:
    a = _episode([100.0, 110.0, 99.0], [10.0, -1.0, 2.0])
    b = _episode([100.0, 95.0, 100.0], [-4.0])
    c = _episode([100.0, 100.0, 100.0], [])
    runs = [AgentRun("x", 0, 0, [a, b]), AgentRun("x", 0, 1, [c])]
    summary, ci = summarize(runs, resamples=300)
    assert summary["episodes"] == 3
    assert summary["profit_factor"] == pytest.approx(12.0 / 5.0)  # gains 10+2, losses 1+4
    assert summary["win_rate"] == pytest.approx(2.0 / 4.0)
    assert summary["total_return"] == pytest.approx((-0.01 + 0.0 + 0.0) / 3)
    assert summary["max_drawdown"] == pytest.approx((0.1 + 0.05 + 0.0) / 3)
    assert summary["round_trips"] == pytest.approx(4 / 3)
    for key in ("sharpe", "max_drawdown", "profit_factor", "win_rate", "total_return"):
        assert ci[key].low <= summary[key] + 1e-12 and summary[key] <= ci[key].high + 1e-12


def test_summary_without_a_round_trip_leaves_them_undefined() -> None:
    held = [_episode([100.0, 101.0, 102.0], []), _episode([100.0, 99.0, 100.5], [])]
    summary, ci = summarize([AgentRun("buy_and_hold", 0, 0, held)], resamples=100)
    for key in ("profit_factor", "win_rate"):
        assert np.isnan(summary[key]) and np.isnan(ci[key].low) and np.isnan(ci[key].high)
    assert summary["round_trips"] == 0.0 and np.isfinite(summary["sharpe"])
    # one episode with a trip: the resamples that miss it are left out, not counted as 0
    mixed = [*held, _episode([100.0, 100.0, 101.0], [1.0])]
    summary, ci = summarize([AgentRun("x", 0, 0, mixed)], resamples=200)
    assert summary["win_rate"] == 1.0 and (ci["win_rate"].low, ci["win_rate"].high) == (1.0, 1.0)


def test_agent_names_are_checked() -> None:
    assert parse_agents("ppo, flat,random") == ["ppo", "flat", "random"]
    with pytest.raises(lobzero.ConfigError, match=r"unknown agent.*dqn"):
        parse_agents("ppo,dqn")
    with pytest.raises(lobzero.ConfigError, match="listed twice: flat"):
        parse_agents(["flat", "ppo", "flat"])
    with pytest.raises(lobzero.ConfigError, match="no agents"):
        parse_agents(" , ")


# ---------------------------------------------------------------- end to end


@pytest.mark.parametrize("rule", ["buy_and_hold", "imbalance"])
def test_lockstep_episodes_equal_single_ones(rule: str) -> None:
    market = lobzero.synth_market(seconds=90, seed=6, signal_strength=1.0)
    config = lobzero.EnvConfig(max_position=0.1, episode_steps=80)
    envs = [lobzero.TradingEnv(market, config) for _ in range(3)]
    agent = lobzero.baselines.make_rule_agent(rule, envs[0].feature_names)
    t0 = market.stream.start_ns + 10**9
    starts = [t0, t0 + 20 * 10**9, t0 + 40 * 10**9]
    together = run_episodes(agent, envs, [0, 1, 2], starts)
    for seed, start, result in zip([0, 1, 2], starts, together, strict=True):
        alone = run_episode(agent, lobzero.TradingEnv(market, config), seed, start)
        np.testing.assert_array_equal(result.equity, alone.equity)
        assert result.metrics == alone.metrics and result.start_ns == alone.start_ns >= start
    assert len({float(r.equity[-1]) for r in together}) == 3  # three different episodes


SMALL = CompareConfig(
    env=lobzero.EnvConfig(max_position=0.1, episode_steps=100),
    validation_episodes=2,
    test_episodes=3,
    bootstrap_resamples=200,
    ppo=lobzero.baselines.sb3.PpoConfig(n_steps=32, batch_size=64, n_epochs=1, num_envs=4),
)


@pytest.fixture(scope="module")
def market() -> lobzero.Market:
    return lobzero.synth_market(seconds=180, seed=5, signal_strength=1.0)


@pytest.fixture(scope="module")
def run(market: lobzero.Market, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("compare")
    agents = ["ppo", "flat", "random", "buy_and_hold"]
    return compare(market, agents, 2, 512, out, config=SMALL), out


def test_compare_writes_every_file(run) -> None:
    result, out = run
    for name in ("metrics.csv", "metrics.json", "index.html", "equity.png", "drawdown.png"):
        assert (out / name).stat().st_size > 500, name
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert [r["agent"] for r in rows] == ["ppo", "flat", "random", "buy_and_hold"]
    assert {"sharpe_low", "sharpe_high", "target_win_rate"} <= set(rows[0])
    doc = strict_json((out / "metrics.json").read_text())
    assert set(doc["agents"]) == {"ppo", "flat", "random", "buy_and_hold"}
    assert len(doc["verdicts"]) == 3 and doc["verdicts"][0]["candidate"] == "ppo"
    page = (out / "index.html").read_text()
    # the figures travel inside the page (and lie beside it as PNGs)
    for name in ("equity", "drawdown", "returns", "timeline", "validation", "episode_ppo"):
        assert (out / f"{name}.png").stat().st_size > 5000, name
        data = base64.b64encode((out / f"{name}.png").read_bytes()).decode()
        assert f'src="data:image/png;base64,{data}" alt="{name}"' in page, name
    assert all(v.line() in page for v in result.verdicts)
    # what training cost and what produced the run, also in metrics.json
    runs = doc["agents"]["ppo"]["runs"]
    assert [r["train_env_steps"] for r in runs] == [r["validation"][-1][0] for r in runs]
    assert all(r["train_env_steps"] >= 512 for r in runs)
    assert "<td>ppo</td><td>2</td>" in page and "n_steps = 32" in page


def strict_json(text: str) -> Any:
    """The document, refusing NaN / Infinity and any string standing in for a number."""

    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in metrics.json")

    doc = json.loads(text, parse_constant=refuse)

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        else:
            assert value not in ("inf", "-inf", "nan"), value

    walk(doc)
    json.dumps(doc, allow_nan=False)
    return doc


def test_undefined_metrics_are_null_in_the_files(run) -> None:
    """The old report wrote "inf" strings and 0 for a profit factor without a round trip."""
    _, out = run
    doc = strict_json((out / "metrics.json").read_text())
    hold = doc["agents"]["buy_and_hold"]["summary"]
    assert hold["profit_factor"] is None and hold["win_rate"] is None
    assert hold["annualized_return"] is None and hold["calmar"] is None  # 10 s episodes
    assert hold["round_trips"] == 0 and hold["fills"] == 1.0
    rows = {r["agent"]: r for r in csv.DictReader((out / "metrics.csv").open())}
    assert rows["buy_and_hold"]["profit_factor"] == "" and rows["flat"]["win_rate"] == ""
    assert rows["buy_and_hold"]["fills"] == "1.0" and rows["buy_and_hold"]["round_trips"] == "0.0"
    page = (out / "index.html").read_text()
    assert "<th>fills/ep</th>" in page and "<th>round trips/ep</th>" in page
    assert "<th>Sharpe/ep</th>" in page and "n/a" in page


def test_short_test_range_is_not_judged_anywhere(
    run, market: lobzero.Market, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Terminal, CSV, JSON and HTML say "not judged" on a short range, and judge the same
    metrics when the minimum is lowered below the range."""
    from lobzero.cli import print_compare

    result, out = run
    (split,) = result.splits
    assert result.test_seconds == pytest.approx(split.test.seconds) and result.test_seconds < DAY
    reason = f"not judged: test range {split.test.seconds / 60:.1f} minutes (< 1440 minutes)"
    assert all(v is None for t in result.targets.values() for v in t.values())
    print_compare(result, market, result.config, 2)
    assert f"flat: targets {reason}" in capsys.readouterr().out
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert {r["targets_judged"] for r in rows} == {"False"}
    assert {r["target_sharpe"] for r in rows} == {r["targets_met"] for r in rows} == {""}
    doc = strict_json((out / "metrics.json").read_text())
    assert doc["targets_not_judged"] == reason
    assert doc["agents"]["flat"]["targets"] == dict.fromkeys(result.targets["flat"])
    assert f"<b>Targets {html.escape(reason)}</b>" in (out / "index.html").read_text()
    # a minimum below the range: judged, and every file says the same yes / no
    judged = compare(
        market, "flat,buy_and_hold", 1, 0, tmp_path, config=SMALL.replace(min_judged_seconds=1.0)
    )
    flat = judged.targets["flat"]
    assert flat == {"sharpe": False, "max_drawdown": True, "profit_factor": None, "win_rate": None}
    rows = {r["agent"]: r for r in csv.DictReader((tmp_path / "metrics.csv").open())}
    assert (rows["flat"]["targets_judged"], rows["flat"]["targets_met"]) == ("True", "1")
    assert (rows["flat"]["target_sharpe"], rows["flat"]["target_win_rate"]) == ("False", "")
    doc = strict_json((tmp_path / "metrics.json").read_text())
    assert doc["targets_not_judged"] is None and doc["agents"]["flat"]["targets"] == flat
    assert "flat: targets met 1/4 (Sharpe > 1.5 no, max DD < 15% yes, PF > 2 n/a" in str(doc)
    page = (tmp_path / "index.html").read_text()
    assert "not judged" not in page
    assert "<tr><th>flat</th><td>no</td><td>yes</td><td>n/a</td><td>n/a</td></tr>" in page


def test_compare_tests_on_the_test_range_only(run, market: lobzero.Market) -> None:
    result, _ = run
    (split,) = walk_forward_splits(market)
    assert result.splits == [split]
    for name, runs in result.runs.items():
        assert [r.seed for r in runs] == [0, 1]
        for r in runs:
            assert len(r.episodes) == 3, name
            for ep in r.episodes:
                assert split.test.start_ns <= ep.start_ns and ep.end_ns < split.test.end_ns
                assert len(ep.equity) == SMALL.env.episode_steps + 1


def test_compare_selects_the_best_validation_checkpoint(run) -> None:
    result, out = run
    for r in result.runs["ppo"]:
        steps = [s for s, _ in r.validation]
        assert len(steps) == 4 and steps[-1] >= 512  # PpoConfig.checkpoints, last at the end
        best = max(r.validation, key=lambda sv: sv[1])
        assert r.selected_step == best[0]
        spec = json.loads((out / "agents/ppo" / f"fold0_seed{r.seed}/best/agent.json").read_text())
        assert spec["kind"] == "sb3" and spec["action_mode"] == "target"
    for name in ("flat", "random", "buy_and_hold"):
        assert all(r.selected_step is None and not r.validation for r in result.runs[name])


def test_compare_metrics_of_the_rules(run) -> None:
    result, _ = run
    flat = result.summary["flat"]
    assert flat["total_return"] == 0.0 and flat["fees"] == 0.0 and flat["max_drawdown"] == 0.0
    assert result.ci["flat"]["sharpe"].low == result.ci["flat"]["sharpe"].high == 0.0
    hold = result.summary["buy_and_hold"]
    # one fill per episode opens the position and no round trip closes: two different numbers
    assert hold["exposure"] > 0.9 and hold["fills"] == 1.0 and hold["round_trips"] == 0.0
    # the random rule trades most, and pays for it
    others = [s["fees"] for a, s in result.summary.items() if a != "random"]
    assert result.summary["random"]["fees"] > max(others)
    # 54 s of test range: no target is judged
    assert result.targets["flat"] == dict.fromkeys(("sharpe", "max_drawdown", *UNDEF))


def test_bad_settings_fail_before_training(market: lobzero.Market, tmp_path: Path) -> None:
    with pytest.raises(lobzero.ConfigError, match="unknown agent"):
        compare(market, "ppo,alphago", 1, 100, tmp_path)
    with pytest.raises(lobzero.ConfigError, match="sum to 1"):
        bad = SMALL.replace(walkforward={"train": 0.5, "validation": 0.2, "test": 0.2})
        compare(market, "flat", 1, 100, tmp_path, config=bad)
    with pytest.raises(lobzero.ConfigError, match="do not fit"):
        compare(market, "flat", 1, 100, tmp_path, config=SMALL.replace(env={"episode_steps": 900}))
    with pytest.raises(lobzero.ConfigError, match="select_by"):
        compare(market, "flat", 1, 100, tmp_path, config=SMALL.replace(select_by="sortino"))
    assert not (tmp_path / "agents").exists()


def test_compare_config_round_trips_through_toml(tmp_path: Path) -> None:
    config = SMALL.replace(muzero={"num_simulations": 8})
    loaded = CompareConfig.load(config.save(tmp_path / "compare.toml"))
    assert loaded == config
    assert loaded.ppo.n_steps == 32 and loaded.muzero == {"num_simulations": 8}


def test_cli_compare(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from lobzero.cli import main

    config = SMALL.replace(test_episodes=2).save(tmp_path / "c.toml")
    args = ["compare", "--agents", "imbalance,flat,random", "--seeds", "1", "--budget-steps", "0"]
    args += ["--synth-seconds", "150", "--config", str(config), "--out", str(tmp_path / "r")]
    assert main(args) == 0
    captured = capsys.readouterr()
    text = captured.out
    assert "imbalance is" in text and "preferred to flat" in text
    assert "flat: targets not judged: test range" in text
    assert text.strip().endswith("index.html")
    # the plan and the progress on stderr (not a terminal here: plain lines), none on stdout
    err = captured.err
    assert "compare: 3 agents (imbalance, flat, random) x 1 seed (0) x 1 fold on" in err
    assert "budget: no learned agent" in err and "estimated time:" in err
    assert "job 1/3 imbalance" in err and "job 3/3 random" in err
    assert "compare: done, 3 jobs in" in err
    assert "compare:" not in text
    assert (tmp_path / "r" / "index.html").exists()
    assert main(["compare", "--agents", "flat,dqn", "--out", str(tmp_path / "x")]) == 2


# ---------------------------------------------------------------- MuZero

#: a MuZero that trains in a few seconds (the sizes of tests/muzero/test_train.py)
TINY_MUZERO = {
    "num_envs": 4,
    "num_simulations": 2,
    "latent_dim": 8,
    "hidden": 16,
    "blocks": 1,
    "support_size": 10,
    "td_steps": 3,
    "unroll_steps": 2,
    "batch_size": 16,
    "replay_capacity": 400,
    "warmup_steps": 32,
    "log_interval": 32,
    "torch_threads": 1,
}


def test_real_muzero_in_a_tiny_comparison(market: lobzero.Market, tmp_path: Path) -> None:
    """The real lobzero.muzero through compare: trained on the train range, a checkpoint
    chosen on validation, that checkpoint tested."""
    short = {"env": {**SMALL.env.to_dict(), "episode_steps": 40}, "validation_episodes": 1}
    config = SMALL.replace(**short, muzero=TINY_MUZERO, select_by="total_return", test_episodes=2)
    result = compare(market, "muzero,flat", [7], 64, tmp_path, config=config)
    (r,) = result.runs["muzero"]
    # checkpoint_interval defaults to a quarter of the budget: 16, 32, 48, 64; the 32-step
    # warm-up given here leaves 16 and 32 untrained, and untrained networks are no candidates
    assert [s for s, _ in r.validation] == [48, 64]
    assert r.selected_step == max(r.validation, key=lambda sv: sv[1])[0]
    best = json.loads((tmp_path / "agents/muzero/fold0_seed7/best/agent.json").read_text())
    assert best["kind"] == "muzero" and len(r.episodes) == 2
    assert [v.candidate for v in result.verdicts] == ["muzero"]


def test_a_muzero_typo_fails_before_any_agent_trains(
    market: lobzero.Market, tmp_path: Path
) -> None:
    """``[muzero]`` used to be parsed only on MuZero's turn, after PPO had trained."""
    typo = SMALL.replace(muzero={**TINY_MUZERO, "num_simulatoins": 8})
    with pytest.raises(lobzero.ConfigError, match=r"unknown option.*num_simulatoins"):
        compare(market, "ppo,muzero", 1, 256, tmp_path, config=typo)
    out_of_range = SMALL.replace(muzero={**TINY_MUZERO, "discount": 1.5})
    with pytest.raises(lobzero.ConfigError, match="discount"):
        compare(market, "ppo,muzero", 1, 256, tmp_path, config=out_of_range)
    assert not (tmp_path / "agents").exists()


def test_rule_agents_act_in_target_mode() -> None:
    names = lobzero.TradingEnv(lobzero.synth_market(seconds=60, seed=0)).feature_names
    for rule in lobzero.baselines.RULES:
        assert lobzero.baselines.make_rule_agent(rule, names).action_mode == "target"


def test_the_bars_move_during_training_and_evaluation() -> None:
    """The overall bar and the agent's bar advance with env steps while an agent trains and
    with decisions while it is evaluated (a rich console that is a terminal)."""
    import io

    from lobzero.evaluation.compare_progress import CompareProgress, make_job
    from rich.console import Console

    kw = {"budget_steps": 1000, "checkpoints": 4, "validation_episodes": 2, "episode_steps": 50}
    jobs = [
        make_job("ppo", 0, 0, learned=True, test_episodes=3, **kw),
        make_job("flat", 0, 0, learned=False, test_episodes=3, **kw),
    ]
    assert jobs[0].eval_decisions == (4 * 2 + 3) * 50 and jobs[1].train_steps == 0
    screen = io.StringIO()
    tracker = CompareProgress(jobs, console=Console(file=screen, force_terminal=True, width=150))
    plan = tracker.plan_lines("synthetic market", 1000, [0], 1)
    assert "2 agents (ppo, flat) x 1 seed (0) x 1 fold on synthetic market" in plan[0]
    assert "1,000 training env steps per learned agent (ppo)" in plan[1]
    assert plan[2].startswith("estimated time:")
    tracker.begin()
    overall, ppo = tracker.bar.tasks[0], tracker.bar.tasks[1]
    tracker.start(0)
    seen = []
    for steps in (250, 500, 1000):
        tracker.trained(steps)
        seen.append((overall.completed, ppo.completed))
    tracker.evaluated(100, "validation")
    seen.append((overall.completed, ppo.completed))
    tracker.evaluated(150, "test")
    seen.append((overall.completed, ppo.completed))
    assert all(b[0] > a[0] and b[1] > a[1] for a, b in itertools.pairwise(seen))
    assert "test 250/550 decisions" in ppo.fields["info"]
    tracker.end_job()
    assert ppo.completed == ppo.total
    tracker.start(1)
    tracker.evaluated(150, "test")
    tracker.end_job()
    tracker.finish()
    assert overall.completed == overall.total
    assert "overall" in screen.getvalue() and "ppo" in screen.getvalue()


def test_sigint_during_compare_checkpoints_the_agent_in_training(tmp_path: Path) -> None:
    """A real `python -m lobzero compare` (stdout and stderr files, not terminals) prints its
    plan and plain progress lines on stderr; SIGINT while PPO trains writes its checkpoint,
    one line says where, and the exit code is 130."""
    from tests.lobzero_process import LobzeroProcess

    config = SMALL.replace(test_episodes=2).save(tmp_path / "c.toml")
    args = ["compare", "--agents", "ppo,flat", "--seeds", "1", "--budget-steps", "1000000"]
    args += ["--synth-seconds", "150", "--config", str(config), "--out", str(tmp_path / "r")]
    run = LobzeroProcess(args, tmp_path, env={"LOBZERO_PROGRESS_INTERVAL_S": "0.2"})
    moving = re.compile(r"training [1-9][\d,]*/1,000,000 env steps")
    run.wait_until(lambda: moving.search(run.stderr()) is not None, "a training progress line")
    assert run.signal(signal.SIGINT) == 130
    err = run.stderr()
    final = tmp_path / "r" / "agents" / "ppo" / "fold0_seed0" / "final"
    assert err.strip().splitlines()[-1] == (
        f"interrupted by SIGINT: checkpoint written to {final} (continue with --resume)"
    )
    assert "compare: 2 agents (ppo, flat) x 1 seed (0) x 1 fold" in err
    assert "budget: 1,000,000 training env steps" in err and "estimated time:" in err
    # the last progress line says the run stopped, not "done" (it said "done, 2 jobs")
    assert "compare: stopped after 0 of 2 jobs" in err and "compare: done" not in err
    assert "Traceback" not in err and "compare:" not in run.stdout()
    agent = lobzero.load_agent(final)
    assert json.loads((final / "checkpoint.json").read_text())["env_steps"] > 0
    assert agent.action_mode == "target"


def test_a_small_budget_scales_the_warmup_below_the_first_checkpoint() -> None:
    """With the default 1,000-step warm-up and a 2,000-step budget the warm-up used to end
    exactly at the first checkpoint (a quarter: 500, untrained); now it ends at an eighth."""
    config = muzero_config(CompareConfig(), 2000)
    assert config.checkpoint_interval == 500 and config.warmup_steps == 250
    assert muzero_config(CompareConfig(), 20_000).warmup_steps == 1000  # the default, kept
    with pytest.raises(lobzero.ConfigError, match="warmup_steps"):
        muzero_config(CompareConfig(), 3)  # no update would be left: an untrained agent
