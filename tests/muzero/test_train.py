"""Training runs with tiny budgets: checkpoints round-trip, a killed run resumes, the agent
plays the trading environment and loads back through `lobzero.load_agent`."""

from __future__ import annotations

from pathlib import Path

import lobzero
import numpy as np
import pytest
import torch
from lobzero.exceptions import ConfigError
from lobzero.muzero import MuZeroAgent, MuZeroConfig, train_muzero
from lobzero.muzero.trainer import CHECKPOINT_FILE

TINY = MuZeroConfig(
    total_env_steps=96,
    num_envs=4,
    num_simulations=4,
    latent_dim=8,
    hidden=16,
    blocks=1,
    support_size=10,
    td_steps=3,
    unroll_steps=2,
    batch_size=16,
    replay_capacity=400,
    warmup_steps=32,
    replay_ratio=0.25,
    log_interval=32,
    checkpoint_interval=48,
    target_update_interval=5,
    reanalyse_fraction=0.25,
)


def load(path: Path) -> dict:
    return torch.load(path / CHECKPOINT_FILE, weights_only=False)


def assert_same_state(a: dict, b: dict) -> None:
    for key in a["net"]:
        assert torch.equal(a["net"][key], b["net"][key]), key
    for key in a["learner"]["target_net"]:
        assert torch.equal(a["learner"]["target_net"][key], b["learner"]["target_net"][key])
    assert a["learner"]["updates"] == b["learner"]["updates"]
    opt_a, opt_b = a["learner"]["optimizer"]["state"], b["learner"]["optimizer"]["state"]
    assert opt_a.keys() == opt_b.keys()
    for k in opt_a:
        for name in opt_a[k]:
            assert torch.equal(torch.as_tensor(opt_a[k][name]), torch.as_tensor(opt_b[k][name]))
    for key, value in a["buffer"].items():
        np.testing.assert_array_equal(value, b["buffer"][key], err_msg=key)
    assert a["rng"] == b["rng"] and torch.equal(a["torch_rng"], b["torch_rng"])
    assert a["env_steps"] == b["env_steps"]


def test_checkpoint_round_trip_restores_the_identical_state(tmp_path: Path) -> None:
    train_muzero(TINY, tmp_path, env_id="CartPole-v1", progress=False)
    first = load(tmp_path)
    assert first["env_steps"] == 96 and first["learner"]["updates"] == 16
    # resuming a finished run plays nothing and writes back exactly what it loaded
    train_muzero(TINY, tmp_path, env_id="CartPole-v1", resume=True, progress=False)
    assert_same_state(first, load(tmp_path))


class KilledError(Exception):
    pass


def test_a_killed_run_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    def kill_at_first_checkpoint(env_steps: int, agent: MuZeroAgent) -> None:
        raise KilledError

    with pytest.raises(KilledError):
        train_muzero(
            TINY,
            tmp_path,
            env_id="CartPole-v1",
            on_checkpoint=kill_at_first_checkpoint,
            progress=False,
        )
    assert load(tmp_path)["env_steps"] == 48
    seen = []
    train_muzero(
        TINY,
        tmp_path,
        env_id="CartPole-v1",
        resume=True,
        progress=False,
        on_checkpoint=lambda steps, agent: seen.append(steps),
    )
    state = load(tmp_path)
    assert seen == [96] and state["env_steps"] == 96
    assert state["learner"]["updates"] == 16  # the updates owed for 96 steps, none twice
    log = (tmp_path / "train_log.csv").read_text().splitlines()
    assert log[0].startswith("env_steps,") and len(log) >= 3


@pytest.mark.parametrize(
    "overrides",
    [
        {"algorithm": "gumbel"},
        {"algorithm": "stochastic", "chance_outcomes": 4, "consistency_weight": 1.0},
        {"algorithm": "stochastic", "stochastic_selection": "puct", "off_policy_tau": 0.3},
        {"algorithm": "muzero", "value_prefix": True, "consistency_weight": 2.0},
    ],
    ids=["gumbel", "stochastic-gumbel", "stochastic-puct", "puct-efficientzero"],
)
def test_trains_on_the_trading_environment_and_loads_back(
    tmp_path: Path, overrides: dict[str, object]
) -> None:
    market = lobzero.synth_market(seconds=120, seed=0, signal_strength=1.0)
    env_config = lobzero.EnvConfig(max_position=0.1, episode_steps=20)
    agent = train_muzero(
        TINY.replace(**overrides),
        tmp_path,
        market=market,
        env_config=env_config,
        progress=False,
    )
    assert agent.action_mode == "target"
    loaded = lobzero.load_agent(tmp_path)
    assert isinstance(loaded, MuZeroAgent) and isinstance(loaded, lobzero.Agent)
    names = {"gumbel": "muzero", "muzero": "muzero_puct", "stochastic": "stochastic_muzero"}
    assert loaded.name == names[str(overrides["algorithm"])]
    env = lobzero.TradingEnv(market, env_config)
    obs, _ = env.reset(seed=3)
    batch = np.stack([obs, obs])
    actions = loaded.act(batch)
    assert actions.shape == (2,) and actions.dtype == np.int64
    np.testing.assert_array_equal(actions, agent.act(batch))
    assert ((actions >= 0) & (actions < 5)).all()
    assert (tmp_path / "config.toml").exists() and (tmp_path / "env.json").exists()
    # the extra loss terms are logged (they were only in TensorBoard: a collapsed afterstate
    # head was invisible in train_log.csv)
    header = (tmp_path / "train_log.csv").read_text().splitlines()[0].split(",")
    assert ("chance_loss" in header) == (overrides["algorithm"] == "stochastic")
    assert ("chance_codes_used" in header) == (overrides["algorithm"] == "stochastic")
    assert ("consistency_loss" in header) == ("consistency_weight" in overrides)


def test_refuses_what_it_cannot_play(tmp_path: Path) -> None:
    market = lobzero.synth_market(seconds=60, seed=0)
    with pytest.raises(ConfigError, match="continuous"):
        train_muzero(
            TINY,
            tmp_path,
            market=market,
            env_config=lobzero.EnvConfig(action_mode="continuous"),
            progress=False,
        )
    with pytest.raises(ConfigError, match="discrete"):
        train_muzero(TINY, tmp_path, env_id="Pendulum-v1", progress=False)
    with pytest.raises(ConfigError, match="unknown gymnasium"):
        train_muzero(TINY, tmp_path, env_id="NoSuchEnv-v0", progress=False)
    with pytest.raises(ConfigError, match="not a saved agent"):
        lobzero.load_agent(tmp_path / "nothing")
