"""Saved files of another format version are refused by name, before anything is restored."""

from __future__ import annotations

import json
from pathlib import Path

import lobzero
import pytest
from lobzero.agents import AGENT_FORMAT_VERSION, CHECKPOINT_VERSION, load_agent

torch = pytest.importorskip("torch")

TINY = {
    "total_env_steps": 32,
    "num_envs": 2,
    "num_simulations": 2,
    "latent_dim": 8,
    "hidden": 16,
    "blocks": 1,
    "support_size": 5,
    "td_steps": 2,
    "unroll_steps": 1,
    "batch_size": 8,
    "replay_capacity": 200,
    "warmup_steps": 16,
    "log_interval": 16,
    "checkpoint_interval": 32,
    "torch_threads": 1,
}


def test_a_checkpoint_of_another_version_is_refused(tmp_path: Path) -> None:
    """The old loader restored any checkpoint.pt whatever its version said."""
    from lobzero.muzero import MuZeroConfig, train_muzero
    from lobzero.muzero.trainer import CHECKPOINT_FILE

    config = MuZeroConfig.from_dict(TINY)
    train_muzero(config, tmp_path, env_id="CartPole-v1", progress=False)
    path = tmp_path / CHECKPOINT_FILE
    state = torch.load(path, weights_only=False)
    assert state["version"] == CHECKPOINT_VERSION
    state["version"] = CHECKPOINT_VERSION + 1
    torch.save(state, path)
    with pytest.raises(
        lobzero.ConfigError, match=rf"checkpoint\.pt: format version {CHECKPOINT_VERSION + 1}"
    ):
        train_muzero(
            config.replace(total_env_steps=64),
            tmp_path,
            env_id="CartPole-v1",
            resume=True,
            progress=False,
        )


def test_an_agent_of_another_version_is_refused(tmp_path: Path) -> None:
    names = lobzero.TradingEnv(lobzero.synth_market(seconds=60, seed=0)).feature_names
    from lobzero.baselines import make_rule_agent

    make_rule_agent("flat", names).save(tmp_path)
    assert load_agent(tmp_path, feature_names=names).action_mode == "target"  # no version: 1
    spec = json.loads((tmp_path / "agent.json").read_text())
    (tmp_path / "agent.json").write_text(json.dumps({**spec, "version": AGENT_FORMAT_VERSION + 1}))
    with pytest.raises(lobzero.ConfigError, match=r"agent\.json: format version 2"):
        load_agent(tmp_path, feature_names=names)
