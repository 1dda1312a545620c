"""compare and robustness as Ray tasks on a local cluster of 2 workers: the same report as the
local loop for the same seeds (only the measured seconds differ)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import lobzero
import pytest
from lobzero.distributed.backend import LocalBackend, RayBackend, make_backend
from lobzero.evaluation.compare import compare
from lobzero.evaluation.report import robustness_report
from lobzero.evaluation.robustness import AgentSpec, robustness
from lobzero.exceptions import ConfigError

from tests.evaluation.test_compare import SMALL, TINY_MUZERO


def _report(out: Path) -> Any:
    """metrics.json without what a clock measured (each run's train and test seconds)."""
    doc = json.loads((out / "metrics.json").read_text())
    for agent in doc["agents"].values() if isinstance(doc["agents"], dict) else doc["agents"]:
        for run in agent.get("runs", []) if isinstance(agent, dict) else []:
            run.pop("train_seconds", None)
            run.pop("test_seconds", None)
    return doc


@pytest.fixture(scope="module")
def market() -> lobzero.Market:
    return lobzero.synth_market(seconds=180, seed=5, signal_strength=1.0)


#: a tiny MuZero with two rule agents (one of them drawing random actions)
AGENTS = "muzero,flat,random"
TINY = SMALL.replace(
    env={**SMALL.env.to_dict(), "episode_steps": 40},
    validation_episodes=1,
    test_episodes=2,
    select_by="total_return",
    muzero=TINY_MUZERO,
)


class _CompletionOrder(RayBackend):
    """A planted defect: results in the order the tasks finished (here: reversed), not the
    jobs' order."""

    def map(self, fn: Any, jobs: Any, shared: Any = None, on_done: Any = None) -> list[Any]:
        return list(reversed(super().map(fn, jobs, shared, on_done)))


def test_compare_on_ray_writes_the_local_report(
    ray_cluster: Any, market: lobzero.Market, tmp_path: Path
) -> None:
    local = compare(market, AGENTS, [4], 64, tmp_path / "local", config=TINY)
    remote = compare(market, AGENTS, [4], 64, tmp_path / "ray", config=TINY, backend=RayBackend())
    assert _report(tmp_path / "local") == _report(tmp_path / "ray")
    assert (tmp_path / "local/metrics.csv").read_text() == (
        tmp_path / "ray/metrics.csv"
    ).read_text()
    assert [r.seed for r in remote.runs["random"]] == [r.seed for r in local.runs["random"]]
    # each task wrote its artefacts where the local loop does
    assert (tmp_path / "ray/agents/muzero/fold0_seed4/best/agent.json").exists()
    assert (tmp_path / "ray/agents/random/fold0_seed4/agent.json").exists()
    # the planted defect: pooled in completion order, the runs land on the wrong agents
    compare(
        market, "flat,random", [0, 1], 0, tmp_path / "bad", config=TINY, backend=_CompletionOrder()
    )
    compare(market, "flat,random", [0, 1], 0, tmp_path / "good", config=TINY)
    assert _report(tmp_path / "bad") != _report(tmp_path / "good")


def test_robustness_on_ray_writes_the_local_report(ray_cluster: Any, tmp_path: Path) -> None:
    kw: dict[str, Any] = {
        "agent_spec": "rule:random",
        "data": None,
        "intensities": [0.0, 0.3],
        "seeds": [0, 1],
        "episode_steps": 60,
        "synth_seconds": 120.0,
    }
    local, _ = robustness_report(**kw, out=tmp_path / "local")
    remote, _ = robustness_report(**kw, out=tmp_path / "ray", backend=RayBackend())
    assert json.dumps(remote) == json.dumps(local)  # nan != nan: compared as text
    for name in ("robustness.json", "robustness.csv"):
        assert (tmp_path / "local" / name).read_text() == (tmp_path / "ray" / name).read_text()


def test_a_robustness_job_depends_only_on_its_intensity_and_seed() -> None:
    """Built per job, a random agent's episode is the same whatever ran before it; the planted
    defect, one agent shared by every episode, carries its draws from one episode to the next
    (so a job's result would depend on the order the jobs ran in)."""
    market = lobzero.synth_market(seconds=120, seed=1)
    config = lobzero.EnvConfig(max_position=0.1, episode_steps=60)
    names = tuple(lobzero.TradingEnv(market, config).feature_names)
    spec = AgentSpec("rule:random", names)
    both = robustness(spec, market, config, [0.0], [0, 1], LocalBackend())
    alone = robustness(spec, market, config, [0.0], [1], LocalBackend())
    assert json.dumps(both[0]["episodes"][1]) == json.dumps(alone[0]["episodes"][0])
    shared = robustness(spec(), market, config, [0.0], [0, 1])
    assert json.dumps(shared[0]["episodes"][1]) != json.dumps(alone[0]["episodes"][0])
    with pytest.raises(ConfigError, match="builds an agent per job"):
        robustness(spec(), market, config, [0.0], [0], _RemoteName())


class _RemoteName(LocalBackend):
    name = "ray"


def test_cli_compare_and_robustness_take_the_backend(
    ray_cluster: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lobzero.cli import main

    config = SMALL.replace(test_episodes=2).save(tmp_path / "c.toml")
    args = ["compare", "--agents", "imbalance,flat", "--seeds", "2", "--budget-steps", "0"]
    args += ["--synth-seconds", "150", "--config", str(config)]
    assert main([*args, "--out", str(tmp_path / "local")]) == 0
    assert main([*args, "--out", str(tmp_path / "ray"), "--backend", "ray"]) == 0
    assert _report(tmp_path / "local") == _report(tmp_path / "ray")
    rob = ["robustness", "--agent", "rule:imbalance", "--intensity", "0,0.2", "--seeds", "2"]
    rob += ["--synth-seconds", "120", "--episode-steps", "50", "--backend", "ray"]
    assert main([*rob, "--out", str(tmp_path / "rob")]) == 0
    assert (tmp_path / "rob/robustness.json").exists()
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "x"), "--ray-address", "auto"]) == 2
    assert "--ray-address is for --backend ray" in capsys.readouterr().err


def test_backend_names_are_checked() -> None:
    with pytest.raises(ConfigError, match="--backend must be one of local, ray"):
        make_backend("dask")


def test_a_market_pickles_whole() -> None:
    """Ray ships markets to its workers pickled: the same events and instrument come back
    (a __reduce__ that dropped the import report or a column would fail here)."""
    market = lobzero.synth_market(seconds=30, seed=3)
    back = pickle.loads(pickle.dumps(market))
    assert back.instrument == market.instrument and back.import_report == market.import_report
    for name, column in market.columns().items():
        assert (back.columns()[name] == column).all()
