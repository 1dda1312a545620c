"""`lobzero tune`: an Optuna study judged on the validation range (the score compare selects
checkpoints by), pruned on intermediate scores, resumable from its sqlite storage, trials in
parallel on Ray; the best configuration loads back as train-agent's and compare's TOML."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import lobzero
import pytest
from lobzero.baselines.sb3 import PpoConfig
from lobzero.evaluation.compare import CompareConfig, compare
from lobzero.exceptions import ConfigError

from tests.evaluation.test_compare import SMALL

optuna = pytest.importorskip(
    "optuna", reason="optuna is not installed (pip install 'lobzero[tune]')"
)

from lobzero.distributed.tune import (  # noqa: E402
    TuneSettings,
    load_space,
    objective,
    tune,
    with_params,
)

#: 2 checkpoints of 128 env steps: a trial trains in about a second
BASE = SMALL.replace(ppo=SMALL.ppo.replace(checkpoints=2), validation_episodes=1)
STEPS = 256


@pytest.fixture(scope="module")
def market() -> lobzero.Market:
    return lobzero.synth_market(seconds=150, seed=5, signal_strength=1.0)


def _settings(tmp_path: Path, space: dict[str, Any], study: str = "s") -> TuneSettings:
    return TuneSettings(
        algo="ppo",
        space=space,
        config=BASE,
        budget_steps=STEPS,
        seed=3,
        out=tmp_path / "out",
        storage=f"sqlite:///{tmp_path / 'tune.db'}",
        study=study,
    )


def test_the_objective_is_the_validation_score_compare_selects_by(
    market: lobzero.Market, tmp_path: Path
) -> None:
    """One fixed draw: the trial's value is the best validation score of compare's run with
    the same settings and seed (an objective that played the test range, or the last
    checkpoint instead of the best, would differ)."""
    space = {"learning_rate": {"choices": [1e-3]}}
    result = tune(market, _settings(tmp_path, space), trials=1)
    config = with_params(BASE, "ppo", {"learning_rate": 1e-3})
    run = compare(market, "ppo", [3], STEPS, tmp_path / "cmp", config=config, report=False)
    (ppo,) = run.runs["ppo"]
    assert math.isclose(result.best_value, max(s for _, s in ppo.validation), rel_tol=0, abs_tol=0)
    test_score = ppo.episodes and sum(e.metrics.sharpe for e in ppo.episodes) / len(ppo.episodes)
    assert result.best_value != test_score


def test_a_trial_the_pruner_rejects_stops_at_its_first_checkpoint(
    market: lobzero.Market, tmp_path: Path
) -> None:
    study = optuna.create_study(
        direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=math.inf)
    )
    trial = study.ask()
    with pytest.raises(optuna.TrialPruned, match="pruned at env step 128"):
        objective(trial, market, _settings(tmp_path, {"gamma": {"low": 0.9, "high": 0.99}}))
    assert list(study.trials[0].intermediate_values) == [128]  # the second never trained


def test_cli_tune_writes_the_best_config_and_resumes(
    market: lobzero.Market, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lobzero.cli import main

    config = BASE.save(tmp_path / "base.toml")
    args = ["tune", "--algo", "ppo", "--params", "learning_rate,gamma", "--steps", str(STEPS)]
    args += ["--storage", f"sqlite:///{tmp_path / 'tune.db'}", "--study", "cli"]
    args += ["--config", str(config), "--synth-seconds", "150", "--out", str(tmp_path / "o")]
    assert main([*args, "--trials", "2"]) == 0
    text = capsys.readouterr().out
    assert "best trial" in text and "learning_rate" in text
    study = optuna.load_study(study_name="cli", storage=f"sqlite:///{tmp_path / 'tune.db'}")
    assert len(study.trials) == 2
    best = PpoConfig.load(tmp_path / "o/best.toml")
    assert best.learning_rate == study.best_params["learning_rate"]
    assert best.gamma == study.best_params["gamma"] and best.n_steps == BASE.ppo.n_steps
    assert CompareConfig.load(tmp_path / "o/best_compare.toml").ppo == best
    assert (tmp_path / "o/history.png").stat().st_size > 0
    assert (tmp_path / "o/importance.png").stat().st_size > 0
    # resumed from the storage: to 3 trials in all, one more
    assert main([*args, "--trials", "3"]) == 0
    assert capsys.readouterr().err.count(" done") == 1
    assert len(optuna.load_study(study_name="cli", storage=study._storage).trials) == 3
    assert main([*args, "--trials", "1", "--params", "pb_c_init"]) == 2


def test_the_search_space_is_checked(tmp_path: Path) -> None:
    assert set(load_space(None, "muzero", ["pb_c_init", "num_simulations", "learning_rate"])) == {
        "pb_c_init",
        "num_simulations",
        "learning_rate",
    }
    (tmp_path / "s.toml").write_text('[ppo.n_steps]\nlow = 64\nhigh = 32\ntype = "int"\n')
    with pytest.raises(ConfigError, match="give low < high"):
        load_space(tmp_path / "s.toml", "ppo", ["n_steps"])
    with pytest.raises(ConfigError, match="not in the sac search space"):
        load_space(None, "sac", ["pb_c_init"])


def test_trials_run_in_parallel_on_ray(
    ray_cluster: Any, market: lobzero.Market, tmp_path: Path
) -> None:
    from lobzero.distributed.backend import RayBackend

    space = {"learning_rate": {"low": 1e-4, "high": 1e-3, "log": True}}
    result = tune(market, _settings(tmp_path, space, "ray"), trials=2, backend=RayBackend())
    study = optuna.load_study(study_name="ray", storage=f"sqlite:///{tmp_path / 'tune.db'}")
    states = [t.state for t in study.trials]
    assert states == [optuna.trial.TrialState.COMPLETE] * 2 and result.ran == 2
    rates = {t.params["learning_rate"] for t in study.trials}
    assert len(rates) == 2  # each task's sampler draws its own settings
