"""The `lobzero` command, run in-process through `main(argv)`."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import lobzero
import pytest
from lobzero.cli import main


def test_import_then_info(
    tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = shared_data / "binance-usdm-btcusdt" / "btcusdt_20240808.gz"
    out = tmp_path / "usdm.parquet"
    assert main(["data", "import", str(src), "-o", str(out), "--format", "binance-stream"]) == 0
    assert lobzero.Market.load(out).metadata.symbol == "BTCUSDT"
    capsys.readouterr()
    assert main(["data", "info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["venue"] == "binance-futures"
    assert info["spread_ticks"]["median"] == 1.0
    assert info["import"]["gaps"] == 0
    assert info["max_levels"]["bid"] > 1000  # the REST snapshot has 1000 levels a side


def test_errors_are_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("123 {oops\n")
    assert main(["data", "info", str(bad), "--format", "binance-stream"]) == 2
    out = capsys.readouterr().out
    assert "ParseError" in out and "bad.txt:1" in out
    assert "Traceback" not in out


def test_help_lists_the_flows(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "data import" in out and "demo" in out


def test_synth_then_info(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "synth.parquet"
    args = ["data", "synth", "--seconds", "30", "--seed", "3", "--signal-strength", "1"]
    assert main([*args, "-o", str(out)]) == 0
    market = lobzero.Market.load(out)
    assert market.import_report["config"]["signal_strength"] == 1.0
    assert market.to_polars().equals(
        lobzero.synth_market(seconds=30, seed=3, signal_strength=1.0).to_polars()
    )
    capsys.readouterr()
    assert main(["data", "synth", "--seconds", "-5", "-o", str(out)]) == 2
    assert "ConfigError" in capsys.readouterr().out


def test_synth_from_a_config_file(tmp_path: Path) -> None:
    config = lobzero.SynthConfig(seconds=20, seed=9, levels=10).save(tmp_path / "s.toml")
    out = tmp_path / "s.parquet"
    assert main(["data", "synth", "--config", str(config), "-o", str(out)]) == 0
    assert lobzero.Market.load(out).import_report["config"]["levels"] == 10


def test_demo_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from lobzero.demo import run_demo

    assert run_demo(out=tmp_path, seconds=2400.0, seeds=1, budget_steps=256) == 0
    text = capsys.readouterr().out
    assert "M events/s" in text and "M steps/s" in text
    assert "muzero" in text and "report:" in text
    assert (tmp_path / "synth.parquet").exists()
    assert (tmp_path / "compare" / "index.html").exists()


def test_demo_comparison_is_the_shipped_example_config() -> None:
    from lobzero.demo import DEMO_COMPARE
    from lobzero.evaluation.compare import CompareConfig

    example = Path(__file__).resolve().parents[1] / "examples" / "configs" / "compare_synth.toml"
    assert CompareConfig.load(example) == DEMO_COMPARE


def test_sigint_during_ppo_training_checkpoints_and_resume_continues(tmp_path: Path) -> None:
    """A real `python -m lobzero train-agent --algo ppo` gets SIGINT once its log shows
    training: one line on stderr names the checkpoint, the exit code is 130, no traceback; the
    checkpoint loads as an agent and --resume continues it."""
    from tests.lobzero_process import LobzeroProcess, log_rows

    config = tmp_path / "ppo.toml"
    lobzero.baselines.sb3.PpoConfig(n_steps=16, batch_size=64, n_epochs=1, num_envs=4).save(config)
    out = tmp_path / "run"
    argv = ["train-agent", "--algo", "ppo", "--config", str(config), "--out", str(out)]
    argv += ["--synth-seconds", "120", "--episode-steps", "32"]
    run = LobzeroProcess([*argv, "--steps", "1000000"], tmp_path)
    run.wait_until(lambda: log_rows(out / "train_log.csv") >= 1, "a train_log.csv row")
    assert run.signal(signal.SIGINT) == 130
    err = run.stderr()
    assert err.strip().splitlines()[-1] == (
        f"interrupted by SIGINT: checkpoint written to {out} (continue with --resume)"
    )
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    stopped = json.loads((out / "checkpoint.json").read_text())["env_steps"]
    assert stopped >= 64  # at least the logged rollout: nothing played before it is lost
    agent = lobzero.load_agent(out)
    assert agent.model.num_timesteps == stopped
    rows = log_rows(out / "train_log.csv")
    assert main([*argv, "--steps", str(stopped + 64), "--resume"]) == 0
    assert json.loads((out / "checkpoint.json").read_text())["env_steps"] >= stopped + 64
    assert log_rows(out / "train_log.csv") > rows
