"""Atomic writes to a path or an fsspec URL (lobzero.storage), on the local and the in-memory
filesystems: a write interrupted half-way leaves the old file; a run published to a URL keeps
its last complete checkpoint (manifest written last) and resumes from it."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import fsspec
import lobzero
import pytest
import torch
from lobzero import storage
from lobzero.exceptions import DataIOError
from lobzero.muzero import MuZeroAgent, train_muzero

from tests.muzero.test_train import TINY


@pytest.fixture
def memory_url() -> str:
    """A fresh folder of the in-memory filesystem (shared by the whole process)."""
    return f"memory://lobzero-test-{uuid.uuid4().hex}"


class CrashError(Exception):
    pass


def _crash_half_way(fh: io.IOBase) -> None:
    fh.write(b"half of the new")
    raise CrashError


def test_a_write_is_whole_or_nothing(tmp_path: Path, memory_url: str) -> None:
    """An interrupted write leaves the old bytes (and no temporary file among the names); the
    planted defect, writing in place, leaves half a file under the final name."""
    for target in (str(tmp_path / "a/b/file.bin"), storage.join(memory_url, "a", "file.bin")):
        storage.write_bytes(target, b"old checkpoint")
        with pytest.raises(CrashError), storage.atomic_writer(target) as fh:
            _crash_half_way(fh)
        assert storage.read_bytes(target) == b"old checkpoint"
        with storage.atomic_writer(target) as fh:
            fh.write(b"new checkpoint")
        assert storage.read_bytes(target) == b"new checkpoint"
    fs = fsspec.filesystem("memory")
    names = fs.find(memory_url.removeprefix("memory://"))
    assert [n.rsplit("/", 1)[1] for n in names] == ["file.bin"]
    in_place = tmp_path / "in_place.bin"
    in_place.write_bytes(b"old checkpoint")
    with pytest.raises(CrashError), open(in_place, "wb") as fh:
        _crash_half_way(fh)
    assert in_place.read_bytes() != b"old checkpoint"  # what the atomic writer prevents


def test_paths_and_urls_join_apart() -> None:
    assert storage.join("s3://bucket/run", "agent", "model.pt") == "s3://bucket/run/agent/model.pt"
    assert storage.join("runs/x", "agent") == str(Path("runs/x/agent"))
    assert not storage.is_url("runs/x") and not storage.is_url("file:///tmp/x")
    with pytest.raises(DataIOError, match="no such file"):
        storage.read_bytes("memory://lobzero-test-nothing/here")


def test_a_publish_that_dies_keeps_the_last_manifest(
    tmp_path: Path, memory_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The manifest is written last: a publish that dies after some files leaves the previous
    manifest, and every file it lists still reads back with its checksum; a file changed
    under the manifest is named."""
    run = tmp_path / "run"
    (run / "agent").mkdir(parents=True)
    (run / "agent/model.pt").write_bytes(b"weights v1")
    (run / "checkpoint.pt").write_bytes(b"state v1")
    storage.publish(run, memory_url, {"env_steps": 48})
    (run / "agent/model.pt").write_bytes(b"weights v2")
    (run / "checkpoint.pt").write_bytes(b"state v2")
    real, calls = storage.write_bytes, []

    def dies_after_one_file(target: str, data: bytes) -> str:
        calls.append(target)
        if len(calls) > 1:
            raise CrashError
        return real(target, data)

    monkeypatch.setattr(storage, "write_bytes", dies_after_one_file)
    with pytest.raises(CrashError):
        storage.publish(run, memory_url, {"env_steps": 96})
    monkeypatch.undo()
    # the first file of v2 landed, the manifest still says v1: a reader sees the mix as
    # inconsistent rather than as a checkpoint
    assert json.loads(storage.read_bytes(storage.join(memory_url, storage.MANIFEST)))["state"] == {
        "env_steps": 48
    }
    with pytest.raises(DataIOError, match=r"does not match MANIFEST\.json"):
        storage.read_manifest(memory_url)
    storage.publish(run, memory_url, {"env_steps": 96})
    assert storage.read_manifest(memory_url)["state"] == {"env_steps": 96}
    storage.fetch(memory_url, tmp_path / "back")
    assert (tmp_path / "back/agent/model.pt").read_bytes() == b"weights v2"


class KilledError(Exception):
    pass


def test_muzero_trains_to_a_url_and_resumes_from_it(memory_url: str) -> None:
    """A run on memory:// (as on s3://) publishes each checkpoint; killed after the first, it
    resumes from the URL alone, and the agent loads back from the URL."""

    def kill(env_steps: int, agent: MuZeroAgent) -> None:
        raise KilledError

    with pytest.raises(KilledError):
        train_muzero(TINY, memory_url, env_id="CartPole-v1", on_checkpoint=kill, progress=False)
    manifest = storage.read_manifest(memory_url)
    assert manifest["state"]["env_steps"] == 48
    assert {"checkpoint.pt", "agent/agent.json", "agent/model.pt", "config.toml"} <= set(
        manifest["files"]
    )
    train_muzero(TINY, memory_url, env_id="CartPole-v1", resume=True, progress=False)
    assert storage.read_manifest(memory_url)["state"]["env_steps"] == 96
    state = torch.load(
        io.BytesIO(storage.read_bytes(storage.join(memory_url, "checkpoint.pt"))),
        weights_only=False,
    )
    assert state["env_steps"] == 96 and state["learner"]["updates"] == 16
    agent = lobzero.load_agent(memory_url)
    assert agent.act(torch.zeros(2, 4).numpy()).shape == (2,)


def test_cli_writes_reports_to_a_url(memory_url: str, tmp_path: Path) -> None:
    from lobzero.cli import main

    from tests.evaluation.test_compare import SMALL

    config = SMALL.replace(test_episodes=2).save(tmp_path / "c.toml")
    args = ["compare", "--agents", "imbalance,flat", "--seeds", "1", "--budget-steps", "0"]
    args += ["--synth-seconds", "150", "--config", str(config), "--out", f"{memory_url}/cmp"]
    assert main(args) == 0
    files = storage.read_manifest(f"{memory_url}/cmp")["files"]
    assert {
        "metrics.json",
        "metrics.csv",
        "index.html",
        "agents/flat/fold0_seed0/agent.json",
    } <= set(files)
    rob = ["robustness", "--agent", "rule:flat", "--intensity", "0", "--seeds", "1"]
    rob += ["--synth-seconds", "60", "--episode-steps", "30", "--out", f"{memory_url}/rob"]
    assert main(rob) == 0
    doc = json.loads(storage.read_bytes(f"{memory_url}/rob/robustness.json"))
    assert doc["agent"] == "rule:flat" and storage.exists(f"{memory_url}/rob/robustness.png")
