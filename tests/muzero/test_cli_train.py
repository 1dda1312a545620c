"""`lobzero train-agent --algo muzero`, in-process: a gymnasium env and a market, --resume."""

from __future__ import annotations

import signal
from pathlib import Path

import lobzero
import numpy as np
import pytest
import torch
from lobzero.cli import main

from tests.lobzero_process import LobzeroProcess, log_rows
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


def test_untrained_checkpoints_are_no_candidates(tmp_path: Path) -> None:
    """Checkpoints before the first update (the warm-up plays with an untrained network) are
    written for resuming but not offered to the checkpoint callback, so a selection cannot
    keep an untrained network as its best (before: called at 16 and 32 too)."""
    from lobzero.muzero import train_muzero

    seen: list[int] = []
    config = TINY.replace(checkpoint_interval=16)
    train_muzero(
        config,
        tmp_path,
        env_id="CartPole-v1",
        progress=False,
        on_checkpoint=lambda step, _: seen.append(step),
    )
    assert seen == [48, 64, 80, 96] and config.warmup_steps == 32


def test_a_budget_ending_in_the_warmup_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """33 steps with a 32-step warm-up at replay ratio 0.25 leave no update: the run used to
    save an untrained network as the agent."""
    config = TINY.save(tmp_path / "muzero.toml")
    argv = ["train-agent", "--env", "CartPole-v1", "--config", str(config)]
    for steps in ("20", "33"):
        assert main([*argv, "--steps", steps, "--out", str(tmp_path / steps)]) == 2
        assert "warmup-steps" in said(capsys)  # the flag the user can change
        assert not (tmp_path / steps / "checkpoint.pt").exists()


def test_resume_without_a_checkpoint_and_a_bad_device_are_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = TINY.save(tmp_path / "muzero.toml")
    argv = ["train-agent", "--env", "CartPole-v1", "--config", str(config), "--steps", "64"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([*argv, "--out", str(empty), "--resume"]) == 2
    assert "does not exist (no run to continue" in said(capsys)
    assert not (empty / "train_log.csv").exists()  # not a fresh run appending to a log
    market = ["train-agent", "--algo", "ppo", "--synth-seconds", "60", "--steps", "64"]
    assert main([*market, "--out", str(empty), "--resume"]) == 2
    assert "does not exist (no run to continue" in said(capsys)
    assert main([*argv, "--out", str(tmp_path / "tpu"), "--device", "tpu"]) == 2
    assert "'tpu' is not supported" in said(capsys)
    if not torch.cuda.is_available():
        assert main([*argv, "--out", str(tmp_path / "cuda"), "--device", "cuda"]) == 2
        assert "torch sees no CUDA device" in said(capsys)


def test_sigterm_writes_a_checkpoint_that_resume_continues(tmp_path: Path) -> None:
    """A real `python -m lobzero train-agent` gets SIGTERM once its log shows training:
    it writes the checkpoint, says where in one line on stderr and exits 143; --resume
    continues from that checkpoint."""
    config = TINY.save(tmp_path / "muzero.toml")
    out = tmp_path / "run"
    argv = ["train-agent", "--env", "CartPole-v1", "--config", str(config), "--out", str(out)]
    run = LobzeroProcess([*argv, "--steps", "1000000"], tmp_path)
    run.wait_until(lambda: log_rows(out / "train_log.csv") >= 1, "a train_log.csv row")
    assert run.signal(signal.SIGTERM) == 143
    lines = run.stderr().strip().splitlines()
    assert (
        lines[-1] == f"interrupted by SIGTERM: checkpoint written to {out / 'checkpoint.pt'} "
        "(continue with --resume)"
    )
    assert "Traceback" not in run.stderr()
    state = torch.load(out / "checkpoint.pt", weights_only=False)
    logged = int((out / "train_log.csv").read_text().splitlines()[-1].split(",")[0])
    assert state["env_steps"] >= logged and state["learner"]["updates"] > 0
    rows = log_rows(out / "train_log.csv")
    target = state["env_steps"] + 32
    assert main([*argv, "--steps", str(target), "--resume"]) == 0
    assert torch.load(out / "checkpoint.pt", weights_only=False)["env_steps"] == target
    assert log_rows(out / "train_log.csv") > rows


def said(capsys: pytest.CaptureFixture[str]) -> str:
    """What the command printed, stdout and stderr (errors may go to either)."""
    captured = capsys.readouterr()
    return captured.out + captured.err
