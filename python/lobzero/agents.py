"""One entry point to every saved lobzero agent: :func:`load_agent`.

Every agent (rule baselines, SB3 PPO / SAC, MuZero) shares one interface:
``act(obs_batch [N, obs_dim] float32) -> actions [N]``, ``save(dir)``, and ``action_mode``
(the trading environment's action mode its actions are meant for). A saved agent is a folder
with an ``agent.json`` whose ``kind`` says which loader reads it.

Saved files carry a format ``version``; :func:`check_format_version` refuses a file of another
version with a :class:`ConfigError` naming the file and both versions (a training checkpoint of
another lobzero would otherwise fail deep inside torch, or load into the wrong fields).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from lobzero.envs.config import EnvConfig
from lobzero.exceptions import ConfigError
from lobzero.storage import fetch, is_url

#: format version of a MuZero training checkpoint (``checkpoint.pt``)
CHECKPOINT_VERSION = 1
#: format version of ``agent.json`` (files without one were written before versions: 1)
AGENT_FORMAT_VERSION = 1
#: the suffix of the name of an agent trained with a pretrained order-book encoder
#: ("ppo+encoder": :mod:`lobzero.encoder.agents`, compare's rows)
ENCODER_SUFFIX = "+encoder"


def check_format_version(found: object, path: str | Path, expected: int) -> None:
    """Raises :class:`ConfigError` unless ``found`` (the ``version`` stored in the file at
    ``path``) is ``expected``, the version this lobzero reads."""
    if found != expected:
        raise ConfigError(
            f"{path}: format version {found!r}, but this lobzero reads version {expected} "
            f"(written by another lobzero version; retrain, or load it with the version that "
            f"wrote it)"
        )


@runtime_checkable
class Agent(Protocol):
    """What every saved lobzero agent offers (rule baselines, SB3 PPO / SAC, MuZero, the
    trained adversary), and what :func:`load_agent` returns."""

    @property
    def action_mode(self) -> str:
        """The trading environment's action mode the actions are meant for ("target", "side",
        "continuous"; "gym" for a gymnasium environment, "adversary" for the adversary)."""
        ...

    @property
    def name(self) -> str:
        """Short name of the agent ("muzero", "ppo", "flat", ...), as compare reports it."""
        ...

    def act(self, obs_batch: np.ndarray) -> np.ndarray:
        """Actions ``[N]`` (int64 for discrete modes, float32 in [-1, 1] for "continuous") for
        observations ``[N, obs_dim]`` float32."""
        ...

    def save(self, directory: str | Path) -> Path:
        """Writes the agent into ``directory`` (``agent.json`` and its files); returns it."""
        ...

    @classmethod
    def load(cls, directory: str | Path) -> Agent:
        """The agent :meth:`save` wrote into ``directory``."""
        ...


def _agent_dir(directory: str | Path) -> Path:
    """The folder holding ``agent.json``: ``directory`` itself, or the ``agent/`` folder of a
    training run's output."""
    path = Path(directory)
    for candidate in (path, path / "agent"):
        if (candidate / "agent.json").is_file():
            return candidate
    raise ConfigError(f"{path}: no agent.json here or in {path / 'agent'} (not a saved agent)")


def load_agent(
    directory: str | Path, *, feature_names: list[str] | None = None, device: str = "cpu"
) -> Agent:
    """The agent saved in ``directory`` (or in a training run's ``directory/agent``), of any
    kind: MuZero, SB3 (PPO / SAC), rule baseline or adversary. ``directory`` may be the fsspec
    URL a run was published to (``train-agent --out s3://bucket/run``).

    ``feature_names`` (an environment's frame layout) overrides the layout a rule agent was
    saved with, for an environment whose features are ordered differently; by default the
    saved one is used. ``device`` is where a neural agent runs ("cpu", "cuda").
    Raises :class:`ConfigError` for a folder without ``agent.json``, an unknown kind or a
    file of another format version.
    """
    if is_url(directory):
        # a published run or agent (lobzero.storage): its manifest's files, checked, here
        with tempfile.TemporaryDirectory(prefix="lobzero-agent-") as local:
            fetch(directory, local)
            return load_agent(local, feature_names=feature_names, device=device)
    path = _agent_dir(directory)
    try:
        spec = json.loads((path / "agent.json").read_text())
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path / 'agent.json'}: not valid JSON ({e})") from e
    if not isinstance(spec, dict):
        raise ConfigError(f"{path / 'agent.json'}: not a JSON object")
    check_format_version(
        spec.get("version", AGENT_FORMAT_VERSION), path / "agent.json", AGENT_FORMAT_VERSION
    )
    kind = spec.get("kind")
    if kind == "muzero":
        from lobzero.muzero.agent import MuZeroAgent

        return MuZeroAgent.load(path, device=device)
    if kind == "sb3":
        from lobzero.baselines.sb3 import load_sb3_agent

        return load_sb3_agent(path)
    if kind == "adversary":
        from lobzero.adversarial import AdversaryAgent

        return AdversaryAgent.load(path)
    if kind == "rule":
        from lobzero.baselines.rules import load_rule_agent

        return load_rule_agent(path, feature_names)
    raise ConfigError(f"{path / 'agent.json'}: unknown agent kind {kind!r}")


def agent_env_config(agent: Any) -> EnvConfig | None:
    """The trading environment configuration ``agent`` was trained in (None for rule agents
    and agents of gymnasium environments): evaluate it in the same decision clock, features
    and action mode."""
    config = getattr(agent, "env_config", None)
    if isinstance(config, EnvConfig):
        return config
    env = getattr(agent, "env", None)
    if isinstance(env, dict) and isinstance(env.get("env_config"), dict):
        return EnvConfig.from_dict(env["env_config"])
    return None
