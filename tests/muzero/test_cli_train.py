"""`lobzero train-agent --algo muzero`, in-process: a gymnasium env and a market, --resume."""

from __future__ import annotations

from pathlib import Path

import lobzero
import numpy as np
import pytest
from lobzero.cli import main

from tests.muzero.test_train import TINY as TRAIN_TINY

TINY = TRAIN_TINY.replace(checkpoint_interval=64, eval_episodes=2, reanalyse_fraction=0.0)


def test_train_agent_on_a_gym_env_then_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = TINY.save(tmp_path / "muzero.toml")
    out = tmp_path / "run"
    argv = ["train-agent", "--algo", "muzero", "--env", "CartPole-v1", "--config", str(config)]
    assert main([*argv, "--steps", "64", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "CartPole-v1: mean return" in printed and str(out) in printed
    assert (out / "checkpoint.pt").exists() and (out / "tb").is_dir()
    rows_before = len((out / "train_log.csv").read_text().splitlines())
    # a longer budget continues the same run
    assert main([*argv, "--steps", "128", "--out", str(out), "--resume"]) == 0
    rows_after = len((out / "train_log.csv").read_text().splitlines())
    assert rows_after > rows_before
    agent = lobzero.load_agent(out)
    assert agent.act(np.zeros((3, 4), np.float32)).shape == (3,)


def test_train_agent_on_a_market(tmp_path: Path) -> None:
    market = lobzero.synth_market(seconds=90, seed=2)
    data = market.save(tmp_path / "m.parquet")
    config = TINY.save(tmp_path / "muzero.toml")
    out = tmp_path / "run"
    argv = ["train-agent", "--data", str(data), "--config", str(config), "--steps", "48"]
    assert main([*argv, "--episode-steps", "16", "--out", str(out)]) == 0
    assert lobzero.load_agent(out).action_mode == "target"


def test_train_agent_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train-agent", "--env", "CartPole-v1", "--data", "x.parquet"]) == 2
    assert "either --data" in capsys.readouterr().err
    assert main(["train-agent", "--algo", "ppo", "--env", "CartPole-v1"]) == 2
    assert "--env is for MuZero" in capsys.readouterr().err
