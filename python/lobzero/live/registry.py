"""The model registry on disk: every version of the deciding agent (a saved agent folder), its
scores, the current champion and the history of champions.

``ROOT/registry.json`` is the one source of truth; it is replaced atomically (written to a
temporary file, flushed, renamed over the old one), so a crash leaves the old registry or the
new one, never half of each. A version's folder is written before the registry names it.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lobzero.exceptions import ConfigError

REGISTRY_VERSION = 1


@dataclass(frozen=True)
class ModelVersion:
    """One registered agent: ``version`` ("v1", ...), its folder, the version it was built
    from (None for the first), its scores (Sharpe on train / validation ranges, ...)."""

    version: str
    path: Path
    parent: str | None
    scores: dict[str, float]
    created_ns: int


class ModelRegistry:
    """The registry in folder ``root`` (created empty when absent)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.file = self.root / "registry.json"
        if not self.file.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            self._write({"version": REGISTRY_VERSION, "models": {}, "champions": []})

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.file.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ConfigError(f"{self.file}: not a model registry ({e})") from e
        if data.get("version") != REGISTRY_VERSION:
            raise ConfigError(
                f"{self.file}: registry format {data.get('version')!r}, this lobzero reads "
                f"{REGISTRY_VERSION}"
            )
        return data

    def _write(self, data: dict[str, Any]) -> None:
        tmp = self.file.with_suffix(".json.tmp")
        with open(tmp, "w") as f:
            f.write(json.dumps(data, indent=1))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.file)

    def versions(self) -> list[ModelVersion]:
        """Every registered version, oldest first."""
        return [self._version(v, m) for v, m in self._read()["models"].items()]

    def _version(self, version: str, m: dict[str, Any]) -> ModelVersion:
        return ModelVersion(
            version, self.root / m["path"], m.get("parent"), dict(m["scores"]), m["created_ns"]
        )

    def get(self, version: str) -> ModelVersion:
        models = self._read()["models"]
        if version not in models:
            raise ConfigError(f"{self.file}: no model version {version!r}")
        return self._version(version, models[version])

    @property
    def champion(self) -> str | None:
        """The current champion's version (None before the first promotion)."""
        champions = self._read()["champions"]
        return champions[-1] if champions else None

    def champions(self) -> list[str]:
        """The champions in the order they were promoted (the last is the current one)."""
        return list(self._read()["champions"])

    def register(
        self, agent: Any, scores: dict[str, float] | None = None, parent: str | None = None
    ) -> str:
        """Saves ``agent`` (anything with ``save(dir)``) as a new version; returns its name.
        It is not the champion until :meth:`promote`."""
        data = self._read()
        version = f"v{len(data['models']) + 1}"
        folder = Path("versions") / version
        agent.save(self.root / folder)
        data["models"][version] = {
            "path": str(folder),
            "parent": parent,
            "scores": dict(scores or {}),
            "created_ns": time.time_ns(),
        }
        self._write(data)
        return version

    def set_scores(self, version: str, scores: dict[str, float]) -> None:
        data = self._read()
        if version not in data["models"]:
            raise ConfigError(f"{self.file}: no model version {version!r}")
        data["models"][version]["scores"].update(scores)
        self._write(data)

    def promote(self, version: str) -> None:
        """Makes ``version`` the champion (atomically)."""
        data = self._read()
        if version not in data["models"]:
            raise ConfigError(f"{self.file}: no model version {version!r}")
        data["champions"].append(version)
        self._write(data)

    def rollback(self) -> str:
        """Makes the previous champion the champion again; returns it. A registry with fewer
        than two champions has nothing to roll back to (:class:`ConfigError`)."""
        data = self._read()
        if len(data["champions"]) < 2:
            raise ConfigError(f"{self.file}: no earlier champion to roll back to")
        data["champions"].pop()
        self._write(data)
        return str(data["champions"][-1])

    def load(self, version: str | None = None) -> Any:
        """The agent of ``version`` (default: the champion)."""
        from lobzero.agents import load_agent

        version = version or self.champion
        if version is None:
            raise ConfigError(f"{self.file}: no champion yet")
        return load_agent(self.get(version).path)
