"""stable-baselines3 baselines: tiny PPO and SAC runs on the batched path, checkpoints, the agent
interface (actions in the agent's own mode), save/load round trips and the TOML configs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import lobzero
import numpy as np
import pytest

pytest.importorskip("stable_baselines3", reason="stable-baselines3 is not installed")

from lobzero.baselines.sb3 import (
    PpoConfig,
    SacConfig,
    Sb3Agent,
    load_sb3_agent,
    train_sb3,
)
from lobzero.evaluation import run_episode

ENV = lobzero.EnvConfig(max_position=0.1, episode_steps=64)
PPO_TINY = PpoConfig(n_steps=32, batch_size=64, n_epochs=1, num_envs=4, checkpoints=3)
SAC_TINY = SacConfig(learning_starts=64, batch_size=32, buffer_size=1000, num_envs=4, checkpoints=2)


@pytest.fixture(scope="module")
def market() -> lobzero.Market:
    return lobzero.synth_market(seconds=120, seed=3, signal_strength=1.0)


@pytest.fixture(scope="module")
def obs_batch(market: lobzero.Market) -> np.ndarray:
    """Real observations from a few episodes, [N, obs_dim] float32."""
    env = lobzero.TradingEnv(market, ENV)
    rows = []
    for seed in range(4):
        obs, _ = env.reset(seed=seed)
        for step in range(8):
            rows.append(obs)
            obs, *_ = env.step(step % 5)
    return np.asarray(rows, np.float32)


@pytest.fixture(scope="module")
def ppo_run(market: lobzero.Market, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("ppo")
    calls: list[tuple[int, int]] = []

    def on_checkpoint(step: int, agent: Sb3Agent) -> None:
        calls.append((step, len(agent.act(np.zeros((2, agent.obs_dim), np.float32)))))

    agent = train_sb3(
        "ppo",
        market,
        ENV,
        out,
        seed=1,
        total_steps=600,
        config=PPO_TINY,
        on_checkpoint=on_checkpoint,
    )
    return agent, out, calls


def test_ppo_acts_in_target_mode_and_calls_checkpoints(ppo_run, obs_batch) -> None:
    agent, _, calls = ppo_run
    assert agent.action_mode == "target" and agent.algo == "ppo"
    steps = [s for s, _ in calls]
    assert len(calls) == PPO_TINY.checkpoints
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    assert steps[-1] >= 600 and agent.model.num_timesteps == steps[-1]
    assert all(n == 2 for _, n in calls)
    actions = agent.act(obs_batch)
    assert actions.shape == (len(obs_batch),) and actions.dtype == np.int64
    assert set(actions.tolist()) <= set(range(5))
    # deterministic: the same observations give the same actions
    np.testing.assert_array_equal(actions, agent.act(obs_batch))


def test_ppo_save_load_round_trip(ppo_run, obs_batch, tmp_path: Path) -> None:
    agent, out, _ = ppo_run
    spec = json.loads((out / "agent.json").read_text())
    assert spec["kind"] == "sb3" and spec["algo"] == "ppo" and spec["action_mode"] == "target"
    assert (out / "model.zip").stat().st_size > 1000
    loaded = load_sb3_agent(out)
    np.testing.assert_array_equal(loaded.act(obs_batch), agent.act(obs_batch))
    assert loaded.env_config == agent.env_config and loaded.feature_names == agent.feature_names
    # the rollout was fitted to the 600-step budget (32 x 4 fits already: kept)
    assert loaded.config.n_steps == 32
    again = load_sb3_agent(loaded.save(tmp_path / "again"))
    np.testing.assert_array_equal(again.act(obs_batch), agent.act(obs_batch))
    # the agent protocol: a name, and load as a classmethod of the class
    by_class = type(agent).load(tmp_path / "again")
    assert isinstance(by_class, lobzero.Agent) and by_class.name == "ppo"
    np.testing.assert_array_equal(by_class.act(obs_batch), agent.act(obs_batch))


def test_same_seed_same_agent(market: lobzero.Market, ppo_run, obs_batch, tmp_path: Path) -> None:
    agent, _, _ = ppo_run
    twin = train_sb3("ppo", market, ENV, tmp_path, seed=1, total_steps=600, config=PPO_TINY)
    np.testing.assert_array_equal(twin.act(obs_batch), agent.act(obs_batch))
    params = dict(agent.model.policy.state_dict())
    for name, value in twin.model.policy.state_dict().items():
        assert np.array_equal(value.numpy(), params[name].numpy()), name


def test_ppo_rollout_fits_a_small_budget(market: lobzero.Market, tmp_path: Path) -> None:
    agent = train_sb3(
        "ppo", market, ENV, tmp_path, seed=0, total_steps=100, config=PpoConfig(num_envs=2)
    )
    # 256 steps x 2 envs would overshoot 100 steps: the rollout is cut to 50 x 2, and the
    # mini-batch to 100 (a divisor of the rollout)
    assert agent.config.n_steps == 50 and agent.model.num_timesteps == 100
    assert agent.config.batch_size == 100
    odd = train_sb3(
        "ppo",
        market,
        ENV,
        tmp_path / "odd",
        seed=0,
        total_steps=100,
        config=PpoConfig(num_envs=3, batch_size=64),
    )
    assert (odd.config.n_steps, odd.config.batch_size) == (33, 33)  # 99 = 3 x 33


def test_sac_acts_in_continuous_mode(market: lobzero.Market, obs_batch, tmp_path: Path) -> None:
    steps: list[int] = []
    agent = train_sb3(
        "sac",
        market,
        ENV,
        tmp_path / "sac",
        seed=0,
        total_steps=200,
        config=SAC_TINY,
        on_checkpoint=lambda step, _: steps.append(step),
    )
    assert agent.action_mode == "continuous" and agent.env_config.action_mode == "continuous"
    assert len(steps) == 2 and steps[-1] >= 200
    actions = agent.act(obs_batch)
    assert actions.shape == (len(obs_batch),) and actions.dtype == np.float32
    assert np.all(np.abs(actions) <= 1.0)
    loaded = load_sb3_agent(tmp_path / "sac")
    np.testing.assert_array_equal(loaded.act(obs_batch), actions)
    # evaluated in its own action mode, the continuous agent holds fractional positions
    env = lobzero.TradingEnv(market, ENV.replace(action_mode=loaded.action_mode))
    result = run_episode(loaded, env, seed=0)
    assert len(result.equity) == ENV.episode_steps + 1


def test_configs_round_trip_through_toml(tmp_path: Path) -> None:
    ppo = PpoConfig(learning_rate=1e-3, net_arch=(32, 16), checkpoints=7)
    assert PpoConfig.load(ppo.save(tmp_path / "ppo.toml")) == ppo
    sac = SacConfig(ent_coef="0.05", buffer_size=5000)
    assert SacConfig.load(sac.save(tmp_path / "sac.toml")) == sac
    (tmp_path / "bad.toml").write_text("n_step = 10\n")
    with pytest.raises(lobzero.ConfigError, match="unknown option"):
        PpoConfig.load(tmp_path / "bad.toml")


def test_bad_input_raises_config_errors(market: lobzero.Market, ppo_run, tmp_path: Path) -> None:
    agent, _, _ = ppo_run
    with pytest.raises(lobzero.ConfigError, match="unknown stable-baselines3 algorithm"):
        train_sb3("dqn", market, ENV, tmp_path, seed=0, total_steps=10)
    with pytest.raises(lobzero.ConfigError, match="takes a PpoConfig"):
        train_sb3("ppo", market, ENV, tmp_path, seed=0, total_steps=10, config=SAC_TINY)
    with pytest.raises(lobzero.ConfigError, match="total_steps"):
        train_sb3("ppo", market, ENV, tmp_path, seed=0, total_steps=0)
    with pytest.raises(lobzero.ConfigError, match="ent_coef"):
        train_sb3(
            "sac", market, ENV, tmp_path, seed=0, total_steps=10, config=SacConfig(ent_coef="x")
        )
    with pytest.raises(lobzero.ConfigError, match="observations must be"):
        agent.act(np.zeros((3, agent.obs_dim + 1), np.float32))
    with pytest.raises(lobzero.ConfigError, match="not an agent directory"):
        load_sb3_agent(tmp_path / "nothing")
    rule_dir = tmp_path / "rule"
    lobzero.baselines.make_rule_agent("flat", []).save(rule_dir)
    with pytest.raises(lobzero.ConfigError, match="not a stable-baselines3 agent"):
        load_sb3_agent(rule_dir)


# ---------------------------------------------------------------- the face of a training run


def test_ppo_writes_what_a_muzero_run_writes(ppo_run) -> None:
    """config.toml, train_log.csv with MuZero's column names and the losses, TensorBoard
    events in tb/, and a checkpoint at the end (before: only model.zip and agent.json)."""
    agent, out, _ = ppo_run
    assert PpoConfig.load(out / "config.toml") == agent.config
    rows = list(csv.DictReader((out / "train_log.csv").open()))
    assert rows and {"env_steps", "loss", "value_loss", "policy_loss", "mean_return"} <= set(
        rows[0]
    )
    trained = [r for r in rows if r["loss"]]
    assert trained and all(float(r["value_loss"]) >= 0 for r in trained)
    assert any(r["mean_return"] not in ("", "nan") for r in rows)
    assert [int(r["env_steps"]) for r in rows] == sorted(int(r["env_steps"]) for r in rows)
    assert any(p.name.startswith("events.out.tfevents") for p in (out / "tb").iterdir())
    state = json.loads((out / "checkpoint.json").read_text())
    assert state["env_steps"] == agent.model.num_timesteps and state["algo"] == "ppo"


def test_sac_summary_and_replay_checkpoint(
    market: lobzero.Market, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    agent = train_sb3(
        "sac",
        market,
        ENV,
        tmp_path,
        seed=0,
        total_steps=160,
        config=SAC_TINY,
        on_checkpoint=lambda step, _: step / 1000,
    )
    summary = capsys.readouterr().out
    assert "SAC: 160 env steps in" in summary and "critic_loss" in summary
    assert "validation score 0.16" in summary  # the last score the callback returned
    assert (tmp_path / "replay_buffer.pkl").is_file()
    assert agent.model.replay_buffer.size() > 0


def test_resume_continues_the_run_and_needs_a_checkpoint(
    market: lobzero.Market, tmp_path: Path
) -> None:
    with pytest.raises(lobzero.ConfigError, match="does not exist"):
        train_sb3("ppo", market, ENV, tmp_path / "none", seed=0, total_steps=10, resume=True)
    out = tmp_path / "run"
    train_sb3("ppo", market, ENV, out, seed=0, total_steps=256, config=PPO_TINY, progress=False)
    rows = (out / "train_log.csv").read_text().splitlines()
    again = train_sb3(
        "ppo", market, ENV, out, seed=0, total_steps=512, config=PPO_TINY, resume=True
    )
    assert again.model.num_timesteps >= 512
    assert json.loads((out / "checkpoint.json").read_text())["env_steps"] >= 512
    more = (out / "train_log.csv").read_text().splitlines()
    assert more[: len(rows)] == rows and len(more) > len(rows)  # appended, one header
    assert sum(line.startswith("env_steps") for line in more) == 1
    with pytest.raises(lobzero.ConfigError, match="holds a ppo run, not sac"):
        train_sb3("sac", market, ENV, out, seed=0, total_steps=600, resume=True)


def test_the_device_is_checked(market: lobzero.Market, tmp_path: Path) -> None:
    import torch
    from lobzero.devices import resolve_device

    with pytest.raises(lobzero.ConfigError, match="'tpu' is not supported"):
        train_sb3("ppo", market, ENV, tmp_path, seed=0, total_steps=10, device="tpu")
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(lobzero.ConfigError, match="no CUDA device"):
            train_sb3("sac", market, ENV, tmp_path, seed=0, total_steps=10, device="cuda:0")
    assert not (tmp_path / "train_log.csv").exists()  # refused before anything trains
