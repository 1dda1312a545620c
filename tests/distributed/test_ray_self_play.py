"""MuZero self-play as Ray actors (a local cluster of 2 CPUs): one actor and one reanalyse
actor broadcasting every update train bit-identically to the local loop for the same seed;
stale weights (the planted defect: a broadcast every 2 updates) do not; two actors fill twice
the lanes; two asynchronous actors store every step they played exactly once (a lane with a
step dropped, planted, fails the replay check)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lobzero
import numpy as np
import pytest
import torch
from lobzero.distributed.self_play import ACTOR_SEED_STRIDE, RayActors
from lobzero.muzero import ReplayBuffer, train_muzero

from tests.muzero.test_train import TINY, assert_same_state, load

SYNC = TINY.replace(reanalyse_fraction=0.0, torch_threads=1)
#: reanalysing a quarter of each batch
REANALYSE = TINY.replace(torch_threads=1)
ENV = lobzero.EnvConfig(max_position=0.1, episode_steps=40)
SEED = 5


@pytest.fixture(scope="module")
def market() -> lobzero.Market:
    return lobzero.synth_market(seconds=120, seed=2)


def _train(
    market: lobzero.Market, out: Path, actors: RayActors | None, config: Any = SYNC
) -> dict[str, Any]:
    train_muzero(
        config, out, market=market, env_config=ENV, seed=SEED, progress=False, self_play=actors
    )
    return load(out)


def test_one_actor_in_sync_is_the_local_run(
    ray_cluster: Any, market: lobzero.Market, tmp_path: Path
) -> None:
    """Self-play and reanalysis (a quarter of each batch) in one actor each, both cores."""
    local = _train(market, tmp_path / "local", None, REANALYSE)
    remote = _train(market, tmp_path / "ray", RayActors(1, 1, reanalyse_actors=1), REANALYSE)
    assert local["learner"]["updates"] == 16
    assert_same_state(local, remote)
    stale = _train(market, tmp_path / "stale", RayActors(1, 2), REANALYSE)
    with pytest.raises(AssertionError):
        assert_same_state(local, stale)


def replay_mismatch(state: dict[str, Any], market: lobzero.Market, actor: int) -> int | None:
    """The first stored step of ``actor``'s lanes that its environments, seeded as the actor's
    and replaying the stored actions from a reset, do not reproduce (observation, reward,
    end); None when every one is reproduced: the lanes hold each step the actor played, once,
    in order."""
    buffer, e = state["buffer"], SYNC.num_envs
    lanes = slice(actor * e, (actor + 1) * e)
    stride = ACTOR_SEED_STRIDE * actor
    envs = lobzero.VecTradingEnv(market, num_envs=e, config=ENV.replace(seed=SEED + stride))
    obs, _ = envs.reset(seed=SEED + stride)
    for t in range(buffer["written"]):
        if not np.array_equal(np.asarray(obs, np.float32), buffer["obs"][lanes, t]):
            return t
        obs, rewards, terminated, _, _ = envs.step(buffer["actions"][lanes, t])
        if not np.array_equal(np.asarray(rewards, np.float32), buffer["rewards"][lanes, t]):
            return t
        if not np.array_equal(terminated, buffer["terminated"][lanes, t]):
            return t
    return None


def test_two_asynchronous_actors_store_every_step_once(
    ray_cluster: Any, market: lobzero.Market, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inserts: list[int] = []
    add = ReplayBuffer.add

    def counted_add(self: ReplayBuffer, *arrays: Any) -> None:
        inserts.append(len(arrays[0]))
        add(self, *arrays)

    monkeypatch.setattr(ReplayBuffer, "add", counted_add)
    state = _train(market, tmp_path / "async", RayActors(2, 1, asynchronous=True, max_ahead=2))
    # 96 env steps = 12 steps of 2 × 4 environments, each step of both actors one insert
    assert state["env_steps"] == 96 and state["learner"]["updates"] == 16
    assert inserts == [2 * SYNC.num_envs] * 12 and state["buffer"]["written"] == 12
    for actor in (0, 1):
        assert replay_mismatch(state, market, actor) is None
    # the planted defect: actor 1's step 5 lost (the later ones moved up a slot)
    dropped = {**state, "buffer": dict(state["buffer"])}
    for name in ("obs", "actions", "rewards", "terminated"):
        array = np.array(state["buffer"][name])
        array[SYNC.num_envs :, 5:-1] = array[SYNC.num_envs :, 6:].copy()
        dropped["buffer"][name] = array
    assert replay_mismatch(dropped, market, 0) is None
    assert replay_mismatch(dropped, market, 1) == 5


def test_two_actors_fill_their_own_lanes(
    ray_cluster: Any, market: lobzero.Market, tmp_path: Path
) -> None:
    state = _train(market, tmp_path / "two", RayActors(num_actors=2, broadcast_interval=1))
    # 96 env steps in lockstep of 2 × 4 environments; the updates owed for them
    assert state["env_steps"] == 96 and state["learner"]["updates"] == 16
    for actor in (0, 1):
        assert replay_mismatch(state, market, actor) is None
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


def test_actors_on_cuda_need_a_gpu(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Refused before any cluster starts (no ray_cluster here); the Rust search is on the CPU
    either way, only the actors' network inference moves."""
    from lobzero.cli import main
    from lobzero.distributed.self_play import check_cluster

    args = ["train-agent", "--algo", "muzero", "--env", "CartPole-v1", "--out", str(tmp_path)]
    if not torch.cuda.is_available():
        assert main([*args, "--backend", "ray", "--actor-device", "cuda"]) == 2
        assert "--actor-device cuda: no CUDA device" in capsys.readouterr().err
    assert main([*args, "--backend", "ray", "--actor-gpus", "0.5"]) == 2
    assert "--actor-gpus is for --actor-device cuda" in capsys.readouterr().err
    assert main([*args, "--actor-device", "cuda"]) == 2
    assert "--actor-device is for --backend ray" in capsys.readouterr().err
    # the other Ray flags are refused locally too (they were silently ignored)
    for flag, value in [("--actors", "2"), ("--broadcast-interval", "4"), ("--max-ahead", "3")]:
        assert main([*args, flag, value]) == 2
        assert f"{flag} is for --backend ray" in capsys.readouterr().err
    # a remote cluster: checked against its resources once connected
    with pytest.raises(lobzero.ConfigError, match=r"--actor-device cuda: 3 actors of 0\.5 GPU"):
        check_cluster({"CPU": 8.0, "GPU": 1.0}, RayActors(2, num_gpus=0.5), 3)
    with pytest.raises(lobzero.ConfigError, match="--actors: 3 actors"):
        check_cluster({"CPU": 2.0}, RayActors(3), 3)
    check_cluster({"CPU": 2.0, "GPU": 1.0}, RayActors(1, num_gpus=0.5), 2)
