"""`MuZeroConfig`: every setting of a MuZero run (network, search, replay, learner), TOML."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lobzero.config import TomlConfig
from lobzero.exceptions import ConfigError


@dataclass(frozen=True)
class MuZeroConfig(TomlConfig):
    """Configuration of :func:`lobzero.muzero.train_muzero`. Defaults follow the MuZero paper's
    pseudocode where it applies (discount, PUCT constants, K = 5, the 1/K and 0.5 gradient
    scales, the value transform) and small-network settings that train on a CPU.

    Budget: ``total_env_steps`` environment steps (all ``num_envs`` actors together); the
    learner does ``replay_ratio`` updates per environment step once ``warmup_steps`` steps are
    stored. Temperatures: ``temperatures[i]`` from the fraction ``temperature_steps[i - 1]`` of
    the budget on (1.0, then 0.5 after half, 0.25 after three quarters). The observation
    normaliser's mean and variance are gathered over the first ``warmup_steps`` steps and then
    frozen, so the network's input scale does not drift under the learner.
    """

    total_env_steps: int = 100_000
    num_envs: int = 16
    # network
    latent_dim: int = 64
    hidden: int = 128
    blocks: int = 2
    #: atoms per side of the categorical value / reward heads; 0 = scalar heads
    support_size: int = 300
    value_eps: float = 0.001
    temporal_encoder: Literal["none", "conv", "gru"] = "none"
    prediction: Literal["mlp", "alphazero"] = "mlp"
    # search
    algorithm: Literal["muzero", "gumbel"] = "muzero"
    num_simulations: int = 50
    discount: float = 0.997
    pb_c_base: float = 19652.0
    pb_c_init: float = 1.25
    dirichlet_alpha: float = 0.3
    exploration_fraction: float = 0.25
    max_considered_actions: int = 16
    temperatures: tuple[float, ...] = (1.0, 0.5, 0.25)
    temperature_steps: tuple[float, ...] = (0.5, 0.75)
    # targets and replay
    td_steps: int = 10
    unroll_steps: int = 5
    replay_capacity: int = 100_000
    priority_alpha: float = 0.6
    priority_beta: float = 0.4
    #: beta grows linearly to 1 over the budget
    priority_beta_final: float = 1.0
    priority_eps: float = 1e-6
    prioritized: bool = True
    #: n-step bootstrap values: "root" (search values stored at play time) or "target"
    #: (recomputed by the target network)
    value_bootstrap: Literal["root", "target"] = "target"
    #: share of each sampled batch whose policy and value targets are recomputed by a fresh
    #: search with the latest network (MuZero Reanalyse)
    reanalyse_fraction: float = 0.0
    # learner
    batch_size: int = 256
    replay_ratio: float = 0.25
    warmup_steps: int = 1_000
    optimizer: Literal["adamw", "sgd"] = "adamw"
    learning_rate: float = 3e-3
    lr_schedule: Literal["constant", "cosine", "step"] = "constant"
    lr_warmup_updates: int = 0
    #: with "step": the rate is multiplied by 0.1 at these fractions of the budget
    lr_decay_steps: tuple[float, ...] = (0.5, 0.75)
    momentum: float = 0.9
    weight_decay: float = 1e-4
    max_grad_norm: float = 10.0
    value_loss_weight: float = 0.25
    target_update_interval: int = 200
    # bookkeeping
    log_interval: int = 1_000
    checkpoint_interval: int = 10_000
    eval_episodes: int = 0
    torch_threads: int = 0

    def validate(self) -> None:
        """Raises :class:`ConfigError` naming the first setting out of its range."""
        positive = [
            "total_env_steps",
            "num_envs",
            "latent_dim",
            "hidden",
            "num_simulations",
            "td_steps",
            "batch_size",
            "replay_capacity",
            "log_interval",
            "checkpoint_interval",
        ]
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"MuZeroConfig.{name} must be > 0, got {getattr(self, name)}")
        checks = [
            ("discount", 0.0 < self.discount <= 1.0, "in (0, 1]"),
            ("unroll_steps", self.unroll_steps >= 1, ">= 1"),
            ("support_size", self.support_size >= 0, ">= 0"),
            ("reanalyse_fraction", 0.0 <= self.reanalyse_fraction <= 1.0, "in [0, 1]"),
            ("replay_ratio", self.replay_ratio > 0.0, "> 0"),
            ("priority_alpha", self.priority_alpha >= 0.0, ">= 0"),
            ("learning_rate", self.learning_rate > 0.0, "> 0"),
            (
                "temperatures",
                len(self.temperatures) == len(self.temperature_steps) + 1,
                "one more than temperature_steps",
            ),
            (
                "replay_capacity",
                self.replay_capacity // self.num_envs > self.unroll_steps + self.td_steps,
                f"more than num_envs x (unroll_steps + td_steps) = "
                f"{self.num_envs * (self.unroll_steps + self.td_steps)}",
            ),
        ]
        for name, ok, rule in checks:
            if not ok:
                raise ConfigError(f"MuZeroConfig.{name} must be {rule}, got {getattr(self, name)}")

    def temperature(self, env_steps: int) -> float:
        """The visit-count temperature after ``env_steps`` of the budget."""
        fraction = env_steps / self.total_env_steps
        passed = sum(fraction >= t for t in self.temperature_steps)
        return self.temperatures[passed]

    def mcts_kwargs(self) -> dict[str, object]:
        """The keywords of :class:`lobzero.MctsBatch` this configuration sets."""
        return {
            "algorithm": self.algorithm,
            "discount": self.discount,
            "pb_c_base": self.pb_c_base,
            "pb_c_init": self.pb_c_init,
            "dirichlet_alpha": self.dirichlet_alpha,
            "exploration_fraction": self.exploration_fraction,
            "max_considered_actions": self.max_considered_actions,
        }

    def network_kwargs(self) -> dict[str, object]:
        """The keywords of :class:`lobzero.models.MuZeroNet` this configuration sets."""
        return {
            "latent_dim": self.latent_dim,
            "hidden": self.hidden,
            "blocks": self.blocks,
            "support_size": self.support_size,
            "value_eps": self.value_eps,
            "temporal_encoder": self.temporal_encoder,
            "prediction": self.prediction,
        }
