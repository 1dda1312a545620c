"""MuZero self-play as Ray actors (a local cluster of 2 CPUs): one actor broadcasting every
update trains bit-identically to the local loop for the same seed; stale weights (the planted
defect: a broadcast every 2 updates) do not; two actors fill twice the lanes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lobzero
import pytest
import torch
from lobzero.distributed.self_play import RayActors
from lobzero.muzero import train_muzero

from tests.muzero.test_train import TINY, assert_same_state, load

#: reanalysis off: the local loop's reanalysis shares its planner's seeds with self-play
SYNC = TINY.replace(reanalyse_fraction=0.0, torch_threads=1)
ENV = lobzero.EnvConfig(max_position=0.1, episode_steps=40)


@pytest.fixture(scope="module")
def market() -> lobzero.Market:
    return lobzero.synth_market(seconds=120, seed=2)


def _train(market: lobzero.Market, out: Path, actors: RayActors | None) -> dict[str, Any]:
    train_muzero(SYNC, out, market=market, env_config=ENV, seed=5, progress=False, self_play=actors)
    return load(out)


def test_one_actor_in_sync_is_the_local_run(
    ray_cluster: Any, market: lobzero.Market, tmp_path: Path
) -> None:
    local = _train(market, tmp_path / "local", None)
    remote = _train(market, tmp_path / "ray", RayActors(num_actors=1, broadcast_interval=1))
    assert local["learner"]["updates"] == 16
    assert_same_state(local, remote)
    stale = _train(market, tmp_path / "stale", RayActors(num_actors=1, broadcast_interval=2))
    with pytest.raises(AssertionError):
        assert_same_state(local, stale)


def test_two_actors_fill_their_own_lanes(
    ray_cluster: Any, market: lobzero.Market, tmp_path: Path
) -> None:
    state = _train(market, tmp_path / "two", RayActors(num_actors=2, broadcast_interval=1))
    # 96 env steps in lockstep of 2 × 4 environments; the updates owed for them
    assert state["env_steps"] == 96 and state["learner"]["updates"] == 16
    obs = torch.as_tensor(state["buffer"]["obs"])
    assert obs.shape[0] == 2 * SYNC.num_envs  # [lanes, ring, obs_dim]
    # the second actor plays other episodes than the first
    assert not torch.equal(obs[: SYNC.num_envs], obs[SYNC.num_envs :])


def test_cli_train_agent_on_ray(
    ray_cluster: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lobzero.cli import main

    config = SYNC.save(tmp_path / "m.toml")
    args = ["train-agent", "--algo", "muzero", "--env", "CartPole-v1", "--config", str(config)]
    assert main([*args, "--backend", "ray", "--actors", "2", "--out", str(tmp_path / "r")]) == 0
    assert load(tmp_path / "r")["env_steps"] == 96
    capsys.readouterr()
    assert main(["train-agent", "--algo", "ppo", "--backend", "ray", "--out", str(tmp_path)]) == 2
    assert "--backend ray plays MuZero's self-play on Ray" in capsys.readouterr().err
