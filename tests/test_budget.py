"""The training budget: steps or wall seconds, whichever comes first, with checkpoints at even
fractions of it, and the two trainers that obey it (PPO and MuZero, tiny runs whose step budget
is out of reach, so only the clock can end them).

Planted defect each test catches: a trainer that ignores ``max_seconds`` (the loop condition
without ``out_of_time``) runs its 10⁷ steps and the tests time out or see the whole step budget;
checkpoints placed by steps only give one mark (the end) instead of ``checkpoints``."""

from __future__ import annotations

import time

import lobzero
import pytest
from lobzero.budget import TrainingBudget
from lobzero.exceptions import ConfigError


def test_steps_end_the_run_and_place_the_marks() -> None:
    budget = TrainingBudget(total_steps=100, checkpoints=4)
    due = [s for s in range(1, 101) if budget.checkpoint_due(s)]
    assert due == [25, 50, 75]  # the fourth mark is the end, the caller's to checkpoint
    assert not budget.done(99) and budget.done(100)
    assert not budget.out_of_time()


def test_the_clock_ends_the_run_before_the_steps() -> None:
    budget = TrainingBudget(total_steps=10**9, max_seconds=0.2, checkpoints=2)
    assert not budget.done(0)
    time.sleep(0.25)
    assert budget.out_of_time() and budget.done(0)
    assert budget.checkpoint_due(0)  # the middle mark passed with the time
    assert not budget.checkpoint_due(0)  # once


@pytest.mark.parametrize(
    "kwargs",
    [
        {"total_steps": 0},
        {"total_steps": 5, "max_seconds": -1.0},
        {"total_steps": 5, "checkpoints": 0},
    ],
)
def test_bad_budgets_are_config_errors(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        TrainingBudget(**kwargs)


@pytest.fixture(scope="module")
def market() -> lobzero.Market:
    return lobzero.synth_market(seconds=120, seed=3, signal_strength=1.0)


def test_ppo_stops_at_its_time_budget_with_every_checkpoint(market, tmp_path) -> None:
    pytest.importorskip("stable_baselines3", reason="stable-baselines3 is not installed")
    from lobzero.baselines.sb3 import PpoConfig, train_sb3

    steps: list[int] = []
    started = time.perf_counter()
    train_sb3(
        "ppo",
        market,
        lobzero.EnvConfig(max_position=0.1, episode_steps=64),
        tmp_path,
        seed=0,
        total_steps=10**7,
        config=PpoConfig(n_steps=32, batch_size=64, n_epochs=1, num_envs=4, checkpoints=3),
        on_checkpoint=lambda step, agent: steps.append(step),
        max_seconds=3.0,
    )
    assert time.perf_counter() - started < 120  # ended by the clock, not by 10⁷ steps
    # marks crossed together (a slow step under load) make one checkpoint: at least 2 of 3
    assert 2 <= len(steps) <= 3 and steps == sorted(steps) and steps[-1] < 10**7


def test_muzero_stops_at_its_time_budget_with_time_marks(market, tmp_path) -> None:
    pytest.importorskip("torch", reason="torch is not installed")
    from lobzero.muzero import MuZeroConfig, train_muzero

    config = MuZeroConfig(
        total_env_steps=10**7,
        num_envs=4,
        num_simulations=4,
        latent_dim=8,
        hidden=16,
        blocks=1,
        support_size=10,
        batch_size=16,
        replay_capacity=400,
        warmup_steps=32,
        replay_ratio=0.25,
        log_interval=32,
        checkpoint_interval=10**7 // 4,  # 4 marks: only the clock can reach the first three
    )
    steps: list[int] = []
    train_muzero(
        config,
        tmp_path,
        market=market,
        env_config=lobzero.EnvConfig(max_position=0.1, episode_steps=64),
        on_checkpoint=lambda step, agent: steps.append(step),
        progress=False,
        max_seconds=6.0,
    )
    # steps alone would place one checkpoint (the end); marks crossed together make one
    assert 3 <= len(steps) <= 4 and steps == sorted(steps) and steps[-1] < 10**7


def test_compares_estimate_is_capped_by_the_time_budget() -> None:
    """A step budget no agent reaches with a time budget: the plan's estimate is the time
    budget (it said 633 hours for `--steps 100000000 --budget-seconds 396`)."""
    from lobzero.evaluation.compare_progress import CompareProgress, make_job

    common = {
        "learned": True,
        "budget_steps": 10**8,
        "checkpoints": 4,
        "validation_episodes": 4,
        "test_episodes": 4,
        "episode_steps": 300,
    }
    timed = make_job("ppo", 0, 0, budget_seconds=396.0, **common)
    assert timed.train_estimate == 396.0
    assert make_job("ppo", 0, 0, **common).train_estimate > 10_000
    plan = CompareProgress([timed]).plan_lines("market", 10**8, [0], 1)
    assert "or 6 min 36 s of training, whichever comes first" in plan[1]
