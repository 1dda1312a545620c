"""Robustness evaluation: same episodes at every level, files written, targets judged."""

from __future__ import annotations

import json
from pathlib import Path

import lobzero
import numpy as np
import pytest
from lobzero.baselines import make_rule_agent
from lobzero.cli import main
from lobzero.evaluation import robustness, run_episode
from lobzero.evaluation.robustness import run_episodes


def test_flat_agent_is_untouched_by_the_adversary() -> None:
    market = lobzero.synth_market(seconds=300, seed=1)
    config = lobzero.EnvConfig(max_position=0.1, episode_steps=300)
    agent = make_rule_agent("flat", lobzero.TradingEnv(market, config).feature_names)
    rows = robustness(agent, market, config, [0.0, 0.5], seeds=[0, 1])
    # never trading, the flat agent sees no slippage or fees: only gaps move nothing it holds
    for row in rows:
        assert row["total_return"] == 0.0 and row["fees"] == 0.0 and row["max_drawdown"] == 0.0


def test_buy_and_hold_pays_more_under_injection() -> None:
    market = lobzero.synth_market(seconds=300, seed=2)
    config = lobzero.EnvConfig(max_position=0.1, episode_steps=300)
    env = lobzero.TradingEnv(market, config)
    agent = make_rule_agent("buy_and_hold", env.feature_names)
    plain = run_episode(agent, env, seed=0)
    # one fill opens the position, none closes it: fills and round trips are two numbers
    assert plain.metrics.fills == 1 and plain.metrics.round_trips == 0
    assert plain.metrics.exposure > 0.9
    rows = robustness(agent, market, config, [0.0, 1.0], seeds=[0])
    assert rows[0]["total_return"] == pytest.approx(plain.metrics.total_return)
    assert rows[0]["total_return"] != rows[1]["total_return"]


def test_cli_writes_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "robustness",
        "--agent",
        "rule:imbalance",
        "--intensity",
        "0,0.2",
        "--seeds",
        "2",
        "--episode-steps",
        "200",
        "--synth-seconds",
        "300",
        "--out",
        str(tmp_path),
    ]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "target at intensity 0.2" in text and "no collapse" in text
    rows = json.loads((tmp_path / "robustness.json").read_text())["rows"]
    assert [r["intensity"] for r in rows] == [0.0, 0.2]
    assert (tmp_path / "robustness.png").stat().st_size > 1000
    assert (tmp_path / "robustness.csv").read_text().startswith("intensity,sharpe")
    assert (
        main(
            [
                "robustness",
                "--agent",
                "rule:oracle",
                "--synth-seconds",
                "60",
                "--out",
                str(tmp_path),
            ]
        )
        == 2
    )


def test_a_recorded_episode_keeps_what_the_agent_saw_did_and_got() -> None:
    """``record=True``: the trace replays the episode (the model check reads it); without it,
    no trace is kept and the results are the same."""
    market = lobzero.synth_market(seconds=120, seed=0)
    config = lobzero.EnvConfig(episode_steps=15)
    names = lobzero.TradingEnv(market, config).feature_names
    agent = make_rule_agent("random", names, seed=1)
    (plain,) = run_episodes(agent, [lobzero.TradingEnv(market, config)], [3])
    agent = make_rule_agent("random", names, seed=1)  # the same draws again
    (recorded,) = run_episodes(agent, [lobzero.TradingEnv(market, config)], [3], record=True)
    assert plain.trace is None and recorded.trace is not None
    obs, actions, rewards = recorded.trace
    assert obs.shape == (15, len(agent.feature_names)) and actions.shape == rewards.shape == (15,)
    np.testing.assert_array_equal(plain.equity, recorded.equity)
    env = lobzero.TradingEnv(market, config)
    first, _ = env.reset(seed=3)
    np.testing.assert_array_equal(obs[0], first)
    for action, reward in zip(actions, rewards, strict=True):
        assert env.step(int(action))[1] == reward
