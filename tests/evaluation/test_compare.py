"""The comparison: bootstrap intervals on known data, the verdict and the targets on
hand-computed cases, pooled metrics, and end-to-end runs that write every file and test only on
the test range."""

from __future__ import annotations

import csv
import dataclasses
import json
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lobzero
import numpy as np
import pytest
from lobzero.config import TomlConfig
from lobzero.evaluation.bootstrap import bootstrap_ci
from lobzero.evaluation.compare import (
    AgentRun,
    CompareConfig,
    compare,
    parse_agents,
    summarize,
)
from lobzero.evaluation.metrics import compute_metrics
from lobzero.evaluation.robustness import EpisodeResult, run_episode, run_episodes
from lobzero.evaluation.verdict import judge_targets, targets_line, verdict
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
    # nan is never better, inf against a number is
    nan = verdict("a", {**REF, "sharpe": float("nan"), "profit_factor": float("inf")}, "b", REF)
    assert nan.better == ["profit_factor"] and "sharpe" in nan.ties


def test_clear_wins_need_separate_intervals() -> None:
    cand = {"sharpe": 2.0, "max_drawdown": 0.05, "profit_factor": 3.0, "win_rate": 0.6}
    cand_ci = {"sharpe": (1.5, 2.5), "max_drawdown": (0.02, 0.11), "profit_factor": (2.0, 4.0)}
    ref_ci = {"sharpe": (0.5, 1.4), "max_drawdown": (0.08, 0.12), "profit_factor": (1.0, 2.5)}
    v = verdict("a", cand, "b", REF, cand_ci, ref_ci)
    assert v.preferred and v.clear == ["sharpe"]


def test_targets_are_strict() -> None:
    good = {"sharpe": 1.6, "max_drawdown": 0.14, "profit_factor": 2.1, "win_rate": 0.56}
    assert judge_targets(good) == dict.fromkeys(good, True)
    edge = {"sharpe": 1.5, "max_drawdown": 0.15, "profit_factor": 2.0, "win_rate": 0.55}
    assert judge_targets(edge) == dict.fromkeys(edge, False)
    line = targets_line("ppo", {**edge, "sharpe": 3.0})
    assert line.startswith("ppo: targets met 1/4") and "Sharpe > 1.5 yes" in line
    assert "max DD < 15% no" in line


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
    assert summary["trades"] == pytest.approx(4 / 3)
    for key in ("sharpe", "max_drawdown", "profit_factor", "win_rate", "total_return"):
        assert ci[key].low <= summary[key] + 1e-12 and summary[key] <= ci[key].high + 1e-12


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
    doc = json.loads((out / "metrics.json").read_text())
    assert set(doc["agents"]) == {"ppo", "flat", "random", "buy_and_hold"}
    assert len(doc["verdicts"]) == 3 and doc["verdicts"][0]["candidate"] == "ppo"
    page = (out / "index.html").read_text()
    assert 'src="equity.png"' in page and 'src="drawdown.png"' in page
    assert all(v.line() in page for v in result.verdicts)


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
    assert hold["exposure"] > 0.9 and hold["trades"] == 0.0
    # the random rule trades most, and pays for it
    others = [s["fees"] for a, s in result.summary.items() if a != "random"]
    assert result.summary["random"]["fees"] > max(others)
    assert result.targets["flat"] == {
        "sharpe": False,
        "max_drawdown": True,
        "profit_factor": False,
        "win_rate": False,
    }


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
    text = capsys.readouterr().out
    assert "imbalance is" in text and "preferred to flat" in text
    assert "flat: targets met" in text
    assert text.strip().endswith("index.html")
    assert (tmp_path / "r" / "index.html").exists()
    assert main(["compare", "--agents", "flat,dqn", "--out", str(tmp_path / "x")]) == 2


# ---------------------------------------------------------------- MuZero


@dataclass(frozen=True)
class _FakeMuZeroConfig(TomlConfig):
    total_env_steps: int = 100_000
    num_simulations: int = 50


class _FakeMuZeroAgent:
    """Stands in for the MuZero agent: holds position ``step`` mod 5 (varies per checkpoint)."""

    kind = "muzero"
    action_mode = "target"

    def __init__(self, action: int) -> None:
        self.action = action

    def act(self, obs_batch: np.ndarray) -> np.ndarray:
        return np.full(len(obs_batch), self.action, np.int64)

    def save(self, directory: str | Path) -> Path:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        (path / "agent.json").write_text(json.dumps({"kind": "muzero", "action": self.action}))
        return path

    @classmethod
    def load(cls, directory: str | Path, device: str = "cpu") -> _FakeMuZeroAgent:
        return cls(json.loads((Path(directory) / "agent.json").read_text())["action"])


def test_muzero_branch_follows_the_interface(
    market: lobzero.Market, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The MuZero branch against the agreed interface, with a stand-in trainer."""
    calls: list[dict[str, Any]] = []

    def train_muzero(config, out, *, market, env_config, seed, device, on_checkpoint, progress):
        calls.append({"config": config, "env": env_config, "seed": seed, "device": device})
        for step, action in ((100, 0), (200, 2), (300, 4)):
            on_checkpoint(step, _FakeMuZeroAgent(action))
        return _FakeMuZeroAgent(3)

    package = types.ModuleType("lobzero.muzero")
    package.MuZeroConfig = _FakeMuZeroConfig  # type: ignore[attr-defined]
    package.train_muzero = train_muzero  # type: ignore[attr-defined]
    agent_module = types.ModuleType("lobzero.muzero.agent")
    agent_module.MuZeroAgent = _FakeMuZeroAgent  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "lobzero.muzero", package)
    monkeypatch.setitem(sys.modules, "lobzero.muzero.agent", agent_module)

    config = SMALL.replace(muzero={"num_simulations": 4}, select_by="total_return")
    result = compare(market, "muzero,flat", [7], 300, tmp_path, config=config)
    (call,) = calls
    assert call["config"] == _FakeMuZeroConfig(total_env_steps=300, num_simulations=4)
    assert call["seed"] == 7 and call["device"] == "cpu"
    (split,) = result.splits
    assert (call["env"].start_ns, call["env"].end_ns) == (split.train.start_ns, split.train.end_ns)
    (r,) = result.runs["muzero"]
    assert [s for s, _ in r.validation] == [100, 200, 300]
    assert r.selected_step == max(r.validation, key=lambda sv: sv[1])[0]
    # the checkpoint tested is the selected one (flat at step 200, fully long or short else),
    # not the final model (half long)
    exposure = result.summary["muzero"]["exposure"]
    assert exposure == 0.0 if r.selected_step == 200 else exposure > 0.9
    assert [v.candidate for v in result.verdicts] == ["muzero"]


@pytest.mark.slow
def test_real_muzero_in_a_tiny_comparison(market: lobzero.Market, tmp_path: Path) -> None:
    muzero = pytest.importorskip("lobzero.muzero")
    if not hasattr(muzero, "train_muzero"):
        pytest.skip("lobzero.muzero does not provide train_muzero yet")
    tiny = {
        "num_envs": 4,
        "latent_dim": 16,
        "hidden": 32,
        "blocks": 1,
        "support_size": 10,
        "num_simulations": 4,
        "batch_size": 16,
        "warmup_steps": 64,
        "replay_capacity": 1000,
        "checkpoint_interval": 128,
        "log_interval": 128,
    }
    known = {f.name for f in dataclasses.fields(muzero.MuZeroConfig)}
    config = SMALL.replace(muzero={k: v for k, v in tiny.items() if k in known})
    result = compare(market, "muzero,flat", 1, 256, tmp_path, config=config)
    (r,) = result.runs["muzero"]
    assert r.validation and r.selected_step is not None and len(r.episodes) == 3
    assert (tmp_path / "index.html").exists()


def test_rule_agents_act_in_target_mode() -> None:
    names = lobzero.TradingEnv(lobzero.synth_market(seconds=60, seed=0)).feature_names
    for rule in lobzero.baselines.RULES:
        assert lobzero.baselines.make_rule_agent(rule, names).action_mode == "target"
