"""stable-baselines3 PPO and SAC baselines, trained on the fast batched path.

PPO acts in the ``"target"`` action mode (Discrete(5) target positions), SAC in the
``"continuous"`` mode (Box([-1], [1]), the target position as a fraction of ``max_position``).
Both train on :class:`~lobzero.VecTradingEnv` through :class:`~lobzero.envs.sb3.Sb3VecEnv`, on
the CPU. Hyperparameters are TOML configurations (:class:`PpoConfig`, :class:`SacConfig`).

The trained policy is an :class:`Sb3Agent` behind the interface every lobzero agent shares:
``act(obs_batch [N, obs_dim] float32) -> actions [N]`` (deterministic), ``save(dir)``,
:func:`load_sb3_agent` (``dir``), and ``action_mode``, the mode its actions mean.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from lobzero.budget import TrainingBudget
from lobzero.config import TomlConfig
from lobzero.data.market import Market
from lobzero.envs.config import EnvConfig
from lobzero.exceptions import ConfigError

Algo = Literal["ppo", "sac"]
#: the action mode each algorithm trains and acts in
ACTION_MODES: dict[str, str] = {"ppo": "target", "sac": "continuous"}
MODEL_FILE = "model.zip"


@dataclass(frozen=True)
class PpoConfig(TomlConfig):
    """PPO hyperparameters (stable-baselines3 names; ``n_steps`` per environment).

    ``num_envs`` environments are stepped together; ``checkpoints`` evenly spaced calls of the
    checkpoint callback over the run (the last at its end). When one rollout
    (``n_steps`` × ``num_envs``) is longer than the training budget, :func:`train_sb3` shortens
    ``n_steps`` to fit it (and ``batch_size`` to a divisor of the rollout), and the saved agent
    records the values used.
    """

    learning_rate: float = 3e-4
    n_steps: int = 256
    batch_size: int = 256
    n_epochs: int = 4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    net_arch: tuple[int, ...] = (64, 64)
    num_envs: int = 8
    checkpoints: int = 4


@dataclass(frozen=True)
class SacConfig(TomlConfig):
    """SAC hyperparameters (stable-baselines3 names; ``train_freq`` in vector steps).

    ``ent_coef`` "auto" (or "auto_0.1": starting at 0.1) learns the entropy coefficient; a
    number ("0.05") fixes it.
    """

    learning_rate: float = 3e-4
    buffer_size: int = 100_000
    learning_starts: int = 1000
    batch_size: int = 256
    tau: float = 0.005
    gamma: float = 0.99
    train_freq: int = 1
    gradient_steps: int = 1
    ent_coef: str = "auto"
    net_arch: tuple[int, ...] = (64, 64)
    num_envs: int = 8
    checkpoints: int = 4


CONFIGS: dict[str, type[PpoConfig] | type[SacConfig]] = {"ppo": PpoConfig, "sac": SacConfig}


class Sb3Agent:
    """A trained stable-baselines3 policy behind the lobzero agent interface.

    ``model`` is the SB3 model; ``algo`` "ppo" or "sac"; ``env_config`` the environment it was
    trained in (its ``action_mode`` is the agent's); ``feature_names`` the observation's frame
    layout, checked when the agent is loaded for another environment.
    """

    kind = "sb3"

    def __init__(
        self,
        model: Any,
        algo: str,
        env_config: EnvConfig,
        feature_names: list[str],
        config: PpoConfig | SacConfig | None = None,
    ) -> None:
        self.model = model
        self.algo = algo
        self.env_config = env_config
        self.action_mode = env_config.action_mode
        self.feature_names = list(feature_names)
        self.config = config or CONFIGS[algo]()

    @property
    def name(self) -> str:
        """The algorithm: "ppo" or "sac"."""
        return self.algo

    @property
    def obs_dim(self) -> int:
        """Length of the observations the policy reads (``[N, obs_dim]`` float32)."""
        return int(self.model.observation_space.shape[0])

    def act(self, obs_batch: np.ndarray) -> np.ndarray:
        """Deterministic actions for observations [N, obs_dim] float32: [N] int64 target
        actions (PPO) or [N] float32 target fractions in [-1, 1] (SAC)."""
        obs = np.asarray(obs_batch, dtype=np.float32)
        if obs.ndim != 2 or obs.shape[1] != self.obs_dim:
            raise ConfigError(
                f"{self.algo} agent: observations must be [N, {self.obs_dim}], got {obs.shape}"
            )
        actions, _ = self.model.predict(obs, deterministic=True)
        if self.action_mode == "continuous":
            return np.asarray(actions, dtype=np.float32).reshape(len(obs))
        return np.asarray(actions, dtype=np.int64).reshape(len(obs))

    def save(self, directory: str | Path) -> Path:
        """Writes ``agent.json`` (kind, algo, action mode, environment and hyperparameters) and
        the SB3 ``model.zip`` into ``directory``; returns it."""
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        self.model.save(path / MODEL_FILE)
        spec = {
            "kind": self.kind,
            "algo": self.algo,
            "action_mode": self.action_mode,
            "feature_names": self.feature_names,
            "env_config": self.env_config.to_dict(),
            "config": self.config.to_dict(),
        }
        (path / "agent.json").write_text(json.dumps(spec, indent=1))
        return path

    @classmethod
    def load(cls, directory: str | Path) -> Sb3Agent:
        """The agent :meth:`save` wrote into ``directory`` (loaded on the CPU)."""
        return load_sb3_agent(directory)


def _sb3_class(algo: str) -> Any:
    from stable_baselines3 import PPO, SAC

    classes = {"ppo": PPO, "sac": SAC}
    if algo not in classes:
        raise ConfigError(f"unknown stable-baselines3 algorithm {algo!r}; choose ppo or sac")
    return classes[algo]


def load_sb3_agent(directory: str | Path) -> Sb3Agent:
    """An agent written by :meth:`Sb3Agent.save` (loaded on the CPU)."""
    path = Path(directory)
    try:
        spec = json.loads((path / "agent.json").read_text())
    except FileNotFoundError as e:
        raise ConfigError(f"{path / 'agent.json'}: no such file (not an agent directory)") from e
    if spec.get("kind") != Sb3Agent.kind:
        raise ConfigError(f"{path}: not a stable-baselines3 agent (kind {spec.get('kind')!r})")
    algo = spec["algo"]
    model = _sb3_class(algo).load(path / MODEL_FILE, device="cpu")
    return Sb3Agent(
        model,
        algo,
        EnvConfig.from_dict(spec["env_config"]),
        spec["feature_names"],
        CONFIGS[algo].from_dict(spec["config"]),
    )


def _build_model(algo: str, env: Any, config: PpoConfig | SacConfig, seed: int) -> Any:
    policy_kwargs = {"net_arch": list(config.net_arch)}
    common: dict[str, Any] = {
        "seed": seed,
        "device": "cpu",
        "verbose": 0,
        "policy_kwargs": policy_kwargs,
    }
    if isinstance(config, PpoConfig):
        from stable_baselines3 import PPO

        return PPO(
            "MlpPolicy",
            env,
            learning_rate=config.learning_rate,
            n_steps=config.n_steps,
            batch_size=config.batch_size,
            n_epochs=config.n_epochs,
            gamma=config.gamma,
            gae_lambda=config.gae_lambda,
            clip_range=config.clip_range,
            ent_coef=config.ent_coef,
            vf_coef=config.vf_coef,
            max_grad_norm=config.max_grad_norm,
            **common,
        )
    from stable_baselines3 import SAC

    ent_coef: str | float = config.ent_coef
    if not config.ent_coef.startswith("auto"):
        try:
            ent_coef = float(config.ent_coef)
        except ValueError:
            raise ConfigError(
                f"SacConfig.ent_coef must be 'auto' or a number, got {config.ent_coef!r}"
            ) from None
    return SAC(
        "MlpPolicy",
        env,
        learning_rate=config.learning_rate,
        buffer_size=config.buffer_size,
        learning_starts=config.learning_starts,
        batch_size=config.batch_size,
        tau=config.tau,
        gamma=config.gamma,
        train_freq=config.train_freq,
        gradient_steps=config.gradient_steps,
        ent_coef=ent_coef,
        **common,
    )


def train_sb3(
    algo: str,
    market: Market,
    env_config: EnvConfig,
    out: str | Path,
    *,
    seed: int,
    total_steps: int,
    config: PpoConfig | SacConfig | None = None,
    on_checkpoint: Callable[[int, Sb3Agent], None] | None = None,
    max_seconds: float | None = None,
) -> Sb3Agent:
    """Trains PPO or SAC for ``total_steps`` environment steps (summed over the vector), or
    until ``max_seconds`` of wall time have passed when that comes first, on ``market`` with
    ``env_config`` (its episode start range is the training range; its action mode is replaced
    by the algorithm's) and saves the final agent in ``out``.

    ``on_checkpoint(step, agent)`` is called ``config.checkpoints`` times, evenly spaced over the
    budget (:class:`lobzero.budget.TrainingBudget`), the last after the final step (``step``:
    environment steps so far); ``agent`` is the model being trained (save it to keep that
    checkpoint). The same seed gives the same agent (without a time limit).
    """
    from stable_baselines3.common.callbacks import BaseCallback

    from lobzero.envs.sb3 import Sb3VecEnv
    from lobzero.envs.vector import VecTradingEnv

    _sb3_class(algo)
    config = config or CONFIGS[algo]()
    if not isinstance(config, CONFIGS[algo]):
        raise ConfigError(f"{algo} takes a {CONFIGS[algo].__name__}, got {type(config).__name__}")
    if total_steps < 1:
        raise ConfigError(f"total_steps must be >= 1, got {total_steps}")
    if config.checkpoints < 1 or config.num_envs < 1:
        raise ConfigError("checkpoints and num_envs must be >= 1")
    if isinstance(config, PpoConfig) and config.n_steps * config.num_envs > total_steps:
        # a rollout longer than the budget would overshoot it: fit the rollout to the budget
        n_steps = max(8, total_steps // config.num_envs)
        rollout = n_steps * config.num_envs
        # the largest mini-batch up to batch_size that divides the rollout evenly
        batch = max(d for d in range(1, min(config.batch_size, rollout) + 1) if rollout % d == 0)
        config = config.replace(n_steps=n_steps, batch_size=batch)
    env_config = env_config.replace(action_mode=ACTION_MODES[algo], seed=seed)
    vec = VecTradingEnv(market, config.num_envs, env_config)
    venv = Sb3VecEnv(vec)
    venv.seed(seed)
    model = _build_model(algo, venv, config, seed)
    agent = Sb3Agent(model, algo, env_config, vec.feature_names, config)
    budget = TrainingBudget(total_steps, max_seconds, config.checkpoints)

    class _Checkpoints(BaseCallback):  # type: ignore[misc]
        def _on_step(self) -> bool:
            # the last mark is the end of the run, called after learn() returns
            if budget.checkpoint_due(int(self.num_timesteps)) and on_checkpoint is not None:
                on_checkpoint(int(self.num_timesteps), agent)
            return not budget.out_of_time()

    model.learn(total_timesteps=total_steps, callback=_Checkpoints(), progress_bar=False)
    if on_checkpoint is not None:
        on_checkpoint(int(model.num_timesteps), agent)
    agent.save(out)
    venv.close()
    return agent
