"""Rule baselines behind the agent interface every lobzero agent shares
(:class:`lobzero.Agent`): ``act(obs_batch [N, obs_dim] float32) -> actions [N]``,
``save(dir)``, ``load(dir)``, ``name``. A saved rule agent keeps the frame layout
(``feature_names``) it reads, so ``lobzero.load_agent(dir)`` needs nothing else.

- ``flat``: never holds a position;
- ``buy_and_hold``: goes (and stays) fully long;
- ``random``: uniform actions from a seeded generator;
- ``imbalance``: long when the touch queue imbalance and the last step's trade flow lean to the
  buyers by more than ``threshold``, short when they lean to the sellers, flat otherwise.

They act in the ``"target"`` action mode (Discrete(5): -1, -0.5, 0, 0.5, 1 × max position).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from lobzero.exceptions import ConfigError

SHORT, FLAT, LONG = 0, 2, 4


@dataclass
class RuleAgent(ABC):
    """Base of the rule agents; ``feature_names`` is the environment's frame layout (the
    names of one frame's values, ``TradingEnv.feature_names``)."""

    name: ClassVar[str] = "rule"
    #: the environment action mode the actions are meant for
    action_mode: ClassVar[str] = "target"
    feature_names: list[str] = field(default_factory=list)

    @abstractmethod
    def act(self, obs_batch: np.ndarray) -> np.ndarray:
        """Actions [N] (int64, target mode) for observations [N, obs_dim]."""

    def save(self, directory: str | Path) -> Path:
        """Writes ``agent.json`` (the rule's name, its parameters and ``feature_names``) into
        ``directory``; returns it."""
        from lobzero.agents import AGENT_FORMAT_VERSION

        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        spec = {
            "kind": "rule",
            "version": AGENT_FORMAT_VERSION,
            "name": self.name,
            "params": asdict(self),
        }
        (path / "agent.json").write_text(json.dumps(spec))
        return path

    @classmethod
    def load(cls, directory: str | Path) -> RuleAgent:
        """The rule agent :meth:`save` wrote into ``directory``, with its saved layout."""
        return load_rule_agent(directory)


@dataclass
class FlatAgent(RuleAgent):
    """Never holds a position (always the flat target)."""

    name: ClassVar[str] = "flat"

    def act(self, obs_batch: np.ndarray) -> np.ndarray:
        return np.full(len(obs_batch), FLAT, np.int64)


@dataclass
class BuyAndHoldAgent(RuleAgent):
    """Goes fully long and stays there."""

    name: ClassVar[str] = "buy_and_hold"

    def act(self, obs_batch: np.ndarray) -> np.ndarray:
        return np.full(len(obs_batch), LONG, np.int64)


@dataclass
class RandomAgent(RuleAgent):
    """Uniform target actions from a generator seeded with ``seed``."""

    name: ClassVar[str] = "random"
    seed: int = 0

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.seed)

    def act(self, obs_batch: np.ndarray) -> np.ndarray:
        return self._rng.integers(0, 5, size=len(obs_batch), dtype=np.int64)


@dataclass
class ImbalanceAgent(RuleAgent):
    """Long when the mean of the touch imbalance (``imbalance_1``) and the last step's trade
    flow (``trade_flow``) exceeds ``threshold``, short below ``-threshold``, flat otherwise."""

    name: ClassVar[str] = "imbalance"
    threshold: float = 0.3

    def __post_init__(self) -> None:
        missing = [n for n in ("imbalance_1", "trade_flow") if n not in self.feature_names]
        if missing:
            raise ConfigError(
                f"the imbalance rule needs the features {missing}: add 'imbalance' (depth 1) "
                "and 'trade_flow' to EnvConfig.features"
            )
        self._columns = [
            self.feature_names.index("imbalance_1"),
            self.feature_names.index("trade_flow"),
        ]

    def act(self, obs_batch: np.ndarray) -> np.ndarray:
        # the newest frame is the last one when frames are stacked
        frame = obs_batch[:, -len(self.feature_names) :]
        signal = frame[:, self._columns].mean(axis=1)
        return np.where(
            signal > self.threshold, LONG, np.where(signal < -self.threshold, SHORT, FLAT)
        ).astype(np.int64)


RULES: dict[str, type[RuleAgent]] = {
    cls.name: cls for cls in (FlatAgent, BuyAndHoldAgent, RandomAgent, ImbalanceAgent)
}


def make_rule_agent(name: str, feature_names: list[str], **params: Any) -> RuleAgent:
    """A rule agent by name (see :data:`RULES`)."""
    try:
        cls = RULES[name]
    except KeyError:
        raise ConfigError(f"unknown rule agent {name!r}; choose one of {sorted(RULES)}") from None
    return cls(feature_names=list(feature_names), **params)


def load_rule_agent(directory: str | Path, feature_names: list[str] | None = None) -> RuleAgent:
    """A rule agent saved with :meth:`RuleAgent.save`, reading the ``feature_names`` it was
    saved with, or the given ones (the layout of another environment)."""
    path = Path(directory) / "agent.json"
    try:
        spec = json.loads(path.read_text())
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: no such file (not an agent directory)") from e
    params = dict(spec.get("params", {}))
    saved_names = params.pop("feature_names", [])
    names = saved_names if feature_names is None else feature_names
    return make_rule_agent(spec["name"], names, **params)
