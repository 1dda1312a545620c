"""`MuZeroAgent`: a trained MuZero network behind lobzero's agent interface
(``act(obs_batch) -> actions``, ``save(dir)``, ``load(dir)``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import torch

from lobzero.exceptions import ConfigError
from lobzero.models.muzero_net import MuZeroNet
from lobzero.models.stochastic_net import StochasticMuZeroNet
from lobzero.muzero.config import MuZeroConfig
from lobzero.muzero.planner import Planner
from lobzero.storage import atomic_writer, write_text

if TYPE_CHECKING:
    from lobzero.encoder.agents import AgentEncoder

AGENT_FILE = "agent.json"
MODEL_FILE = "model.pt"
CONFIG_FILE = "muzero.toml"
#: MuZeroConfig.algorithm -> the agent's name (those of lobzero.evaluation.compare's variants)
_NAMES = {"gumbel": "muzero", "muzero": "muzero_puct", "stochastic": "stochastic_muzero"}


class MuZeroAgent:
    """Plays with a search of ``config.num_simulations`` from each observation, without root
    noise, taking the most visited action (``search=False``: the policy head's argmax).

    ``action_mode`` is the trading environment's action mode the agent was trained in
    (``"target"`` or ``"side"``; ``"gym"`` for a gymnasium environment). ``encoder``: the
    pretrained encoder in front of h (``config.encoder``), embedded in the saved agent
    (``encoder.pt``); its windows follow the environment's features in each observation.
    """

    kind = "muzero"

    def __init__(
        self,
        net: MuZeroNet,
        config: MuZeroConfig,
        *,
        action_mode: str = "target",
        env: dict[str, Any] | None = None,
        device: str | torch.device = "cpu",
        search: bool = True,
        seed: int = 0,
        encoder: AgentEncoder | None = None,
    ) -> None:
        self.net = net.to(device).eval()
        self.encoder = encoder
        self.config = config
        self.action_mode = action_mode
        self.env = env or {}
        self.search = search
        self.planner = Planner(self.net, config, device, seed=seed)

    @property
    def name(self) -> str:
        """The compare name of the agent's search: "muzero" (Gumbel), "muzero_puct" or
        "stochastic_muzero" (with "+encoder" when it has one)."""
        from lobzero.agents import ENCODER_SUFFIX

        return _NAMES[self.config.algorithm] + (ENCODER_SUFFIX if self.encoder is not None else "")

    def act(self, obs_batch: np.ndarray) -> npt.NDArray[np.int64]:
        """Actions ``[N]`` (int64) for observations ``[N, obs_dim]`` (float32)."""
        obs = np.asarray(obs_batch, np.float32)
        if obs.ndim != 2 or obs.shape[1] != self.net.obs_dim:
            raise ConfigError(
                f"MuZeroAgent.act expects observations [N, {self.net.obs_dim}], got {obs.shape}"
            )
        if not self.search:
            with torch.inference_mode():
                _, _, logits = self.net.initial_inference(
                    torch.as_tensor(obs, device=self.planner.device)
                )
            return logits.argmax(-1).cpu().numpy().astype(np.int64)
        return self.planner.run(obs, noise=False, temperature=0.0).action

    def save(self, directory: str | Path) -> Path:
        """Writes ``agent.json``, ``model.pt`` (the network's state) and ``muzero.toml``."""
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        spec = {
            "kind": self.kind,
            "action_mode": self.action_mode,
            "obs_dim": self.net.obs_dim,
            "num_actions": self.net.num_actions,
            "frame_stack": self.env.get("frame_stack", 1),
            "env": self.env,
        }
        if self.encoder is not None:
            spec["encoder"] = self.encoder.save(path)
        # each file whole or not at all, agent.json (what load_agent reads first) last
        with atomic_writer(path / MODEL_FILE) as fh:
            torch.save(self.net.state_dict(), fh)
        self.config.save(path / CONFIG_FILE)
        write_text(path / AGENT_FILE, json.dumps(spec, indent=1))
        return path

    @classmethod
    def load(
        cls, directory: str | Path, device: str | torch.device = "cpu", search: bool = True
    ) -> MuZeroAgent:
        """The agent saved by :meth:`save` in ``directory``."""
        path = Path(directory)
        try:
            spec = json.loads((path / AGENT_FILE).read_text())
        except FileNotFoundError as e:
            raise ConfigError(f"{path / AGENT_FILE}: no such file (not an agent directory)") from e
        if spec.get("kind") != cls.kind:
            raise ConfigError(f"{path}: a {spec.get('kind')!r} agent, not a MuZero agent")
        config = MuZeroConfig.load(path / CONFIG_FILE)
        encoder = None
        if spec.get("encoder"):
            from lobzero.encoder.agents import AgentEncoder

            encoder = AgentEncoder.from_spec(path, spec["encoder"])
        net = build_network(
            config,
            spec["obs_dim"],
            spec["num_actions"],
            spec.get("frame_stack", 1),
            encoder=encoder,
        )
        state = torch.load(path / MODEL_FILE, map_location=device, weights_only=True)
        try:
            net.load_state_dict(state)
        except RuntimeError as e:
            raise ConfigError(
                f"{path / MODEL_FILE} does not fit the network {path / CONFIG_FILE} describes "
                f"(saved by another version of lobzero?): {e}"
            ) from e
        return cls(
            net,
            config,
            action_mode=spec.get("action_mode", "target"),
            env=spec.get("env"),
            device=device,
            search=search,
            encoder=encoder,
        )


def build_network(
    config: MuZeroConfig,
    obs_dim: int,
    num_actions: int,
    frame_stack: int = 1,
    obs_bounds: tuple[np.ndarray, np.ndarray] | None = None,
    encoder: AgentEncoder | None = None,
) -> MuZeroNet:
    """The network a configuration describes, for an environment's observation and actions;
    ``obs_bounds`` (low, high) ``[obs_dim]`` are the observation space's bounds (used with
    ``obs_scaling = "bounds"``; a loaded network gets them from its saved state); ``encoder``
    the pretrained encoder in front of h (``obs_dim`` then counts its window)."""
    extra: dict[str, Any] = {}
    if encoder is not None:
        extra = {"encoder": encoder.encoder.model, "freeze_encoder": encoder.freeze}
    low, high = (
        obs_bounds
        if obs_bounds is not None and config.obs_scaling == "bounds"
        else (
            None,
            None,
        )
    )
    if config.algorithm == "stochastic":
        return StochasticMuZeroNet(
            obs_dim,
            num_actions,
            chance_outcomes=config.chance_outcomes,
            frame_stack=frame_stack,
            obs_low=low,
            obs_high=high,
            **config.network_kwargs(),  # type: ignore[arg-type]
            **extra,
        )
    return MuZeroNet(
        obs_dim,
        num_actions,
        frame_stack=frame_stack,
        obs_low=low,
        obs_high=high,
        **config.network_kwargs(),  # type: ignore[arg-type]
        **extra,
    )
