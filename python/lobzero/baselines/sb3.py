"""stable-baselines3 PPO and SAC baselines, trained on the fast batched path.

PPO acts in the ``"target"`` action mode (Discrete(5) target positions), SAC in the
``"continuous"`` mode (Box([-1], [1]), the target position as a fraction of ``max_position``).
Both train on :class:`~lobzero.VecTradingEnv` through :class:`~lobzero.envs.sb3.Sb3VecEnv`.
Hyperparameters are TOML configurations (:class:`PpoConfig`, :class:`SacConfig`).

A run shows the face of a MuZero run (:mod:`lobzero.progress`): ``out/`` holds ``config.toml``,
``train_log.csv`` and TensorBoard events in ``tb/`` (the same column names: ``loss``,
``value_loss``, ``policy_loss``, ``mean_return``, ...), and a checkpoint rewritten at each of
``config.checkpoints`` evenly spaced fractions of the budget (compare's MuZero checkpoints at the
same quarters): the agent (``agent.json``, ``model.zip`` with the optimiser state), SAC's replay
buffer (``replay_buffer.pkl``) and ``checkpoint.json`` (written last: env steps, budget). A
resumed run (``resume=True``) continues from it with fresh episodes; SIGINT / SIGTERM write it
after the current update and raise :class:`lobzero.interrupt.Interrupted`.

The trained policy is an :class:`Sb3Agent` behind the interface every lobzero agent shares:
``act(obs_batch [N, obs_dim] float32) -> actions [N]`` (deterministic), ``save(dir)``,
:func:`load_sb3_agent` (``dir``), and ``action_mode``, the mode its actions mean.

With an encoder (``train_sb3(..., encoder=AgentEncoder)``, ``train-agent --encoder PATH``), the
environments carry the encoder's book window after each observation
(:class:`lobzero.encoder.agents.BookWindowVecEnv`) and the policy encodes it
(:class:`lobzero.encoder.agents.EncoderFeaturesExtractor`, frozen or fine-tuned); the agent
embeds the encoder (``encoder.pt``) and its ``encoder`` rebuilds the same windows for any
environment it is evaluated in (:func:`lobzero.encoder.agents.observation_env`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from lobzero import interrupt
from lobzero.budget import TrainingBudget
from lobzero.config import TomlConfig
from lobzero.data.market import Market
from lobzero.envs.config import EnvConfig
from lobzero.exceptions import ConfigError
from lobzero.storage import RunFolder, write_text

if TYPE_CHECKING:
    from lobzero.encoder.agents import AgentEncoder

Algo = Literal["ppo", "sac"]
#: the action mode each algorithm trains and acts in
ACTION_MODES: dict[str, str] = {"ppo": "target", "sac": "continuous"}
MODEL_FILE = "model.zip"
#: written last at each checkpoint: a folder with it holds a complete checkpoint
CHECKPOINT_FILE = "checkpoint.json"
REPLAY_FILE = "replay_buffer.pkl"
#: format version of ``checkpoint.json``
SB3_CHECKPOINT_VERSION = 1
#: the columns of an SB3 run's ``train_log.csv`` (MuZero's names where they mean the same)
LOG_FIELDS = (
    "env_steps",
    "updates",
    "seconds",
    "episodes",
    "mean_return",
    "mean_length",
    "loss",
    "value_loss",
    "policy_loss",
    "entropy_loss",
    "approx_kl",
    "clip_fraction",
    "explained_variance",
    "actor_loss",
    "critic_loss",
    "ent_coef",
    "ent_coef_loss",
    "lr",
    "env_steps_per_s",
)
#: SB3 logger keys renamed to the log's columns (other ``train/x`` keys become ``x``)
SB3_KEYS = {
    "train/policy_gradient_loss": "policy_loss",
    "train/n_updates": "updates",
    "train/learning_rate": "lr",
}


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
    layout, checked when the agent is loaded for another environment; ``encoder`` the
    :class:`~lobzero.encoder.agents.AgentEncoder` it was trained with (None: none), whose
    window follows the environment's features in each observation.
    """

    kind = "sb3"

    def __init__(
        self,
        model: Any,
        algo: str,
        env_config: EnvConfig,
        feature_names: list[str],
        config: PpoConfig | SacConfig | None = None,
        encoder: AgentEncoder | None = None,
    ) -> None:
        self.model = model
        self.encoder = encoder
        self.algo = algo
        self.env_config = env_config
        self.action_mode = env_config.action_mode
        self.feature_names = list(feature_names)
        self.config = config or CONFIGS[algo]()

    @property
    def name(self) -> str:
        """The algorithm: "ppo" or "sac" (with "+encoder" when it was trained with one)."""
        from lobzero.agents import ENCODER_SUFFIX

        return self.algo + (ENCODER_SUFFIX if self.encoder is not None else "")

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
        # through a temporary file: a checkpoint interrupted mid-write keeps the old model
        tmp = path / f"{MODEL_FILE}.tmp.zip"
        self.model.save(tmp)
        os.replace(tmp, path / MODEL_FILE)
        spec = {
            "kind": self.kind,
            "algo": self.algo,
            "action_mode": self.action_mode,
            "feature_names": self.feature_names,
            "env_config": self.env_config.to_dict(),
            "config": self.config.to_dict(),
        }
        if self.encoder is not None:
            spec["encoder"] = {
                **self.encoder.save(path),
                "obs_dim": self.obs_dim - self.encoder.width,
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
    config = CONFIGS[algo].from_dict(spec["config"])
    encoder = _embedded_encoder(path, spec)
    model = _sb3_class(algo).load(
        path / MODEL_FILE, device="cpu", custom_objects=_custom_objects(encoder, spec, config)
    )
    return Sb3Agent(
        model,
        algo,
        EnvConfig.from_dict(spec["env_config"]),
        spec["feature_names"],
        config,
        encoder,
    )


def _embedded_encoder(path: Path, spec: dict[str, Any]) -> AgentEncoder | None:
    """The encoder a saved agent embeds (None: trained without one)."""
    if not spec.get("encoder"):
        return None
    from lobzero.encoder.agents import AgentEncoder

    return AgentEncoder.from_spec(path, spec["encoder"])


def _custom_objects(
    encoder: AgentEncoder | None, spec: dict[str, Any], config: PpoConfig | SacConfig
) -> dict[str, Any] | None:
    """What SB3's ``load`` rebuilds the policy with: the embedded encoder in front of it (the
    one pickled into ``model.zip`` is not trusted to unpickle in another process)."""
    if encoder is None:
        return None
    from lobzero.encoder.agents import sb3_policy_kwargs

    kwargs = sb3_policy_kwargs(encoder, int(spec["encoder"]["obs_dim"]), spec["algo"])
    return {"policy_kwargs": {"net_arch": list(config.net_arch), **kwargs}}


def _build_model(
    algo: str,
    env: Any,
    config: PpoConfig | SacConfig,
    seed: int,
    device: str = "cpu",
    encoder: AgentEncoder | None = None,
    obs_dim: int = 0,
) -> Any:
    policy_kwargs: dict[str, Any] = {"net_arch": list(config.net_arch)}
    if encoder is not None:
        from lobzero.encoder.agents import sb3_policy_kwargs

        policy_kwargs.update(sb3_policy_kwargs(encoder, obs_dim, algo))
    common: dict[str, Any] = {
        "seed": seed,
        "device": device,
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


class _EpisodeStats:
    """Returns and lengths of the episodes finished since the last log row, from the rewards
    and dones SB3 sees at each vector step."""

    def __init__(self, num_envs: int) -> None:
        self.returns = np.zeros(num_envs)
        self.lengths = np.zeros(num_envs, np.int64)
        self.finished: list[tuple[float, int]] = []
        self.episodes = 0

    def step(self, rewards: np.ndarray, dones: np.ndarray) -> None:
        self.returns += rewards
        self.lengths += 1
        for i in np.flatnonzero(dones):
            self.finished.append((float(self.returns[i]), int(self.lengths[i])))
            self.returns[i], self.lengths[i] = 0.0, 0
        self.episodes += int(np.count_nonzero(dones))

    def take(self) -> dict[str, float]:
        done, self.finished = self.finished, []
        nan = float("nan")
        return {
            "episodes": self.episodes,
            "mean_return": float(np.mean([r for r, _ in done])) if done else nan,
            "mean_length": float(np.mean([n for _, n in done])) if done else nan,
        }


def _sb3_writer(log: Any, stats: _EpisodeStats, started: float) -> Any:
    """An SB3 logger output that writes each dump of the logger as one row of ``log``."""
    from stable_baselines3.common.logger import KVWriter

    class _RowWriter(KVWriter):  # type: ignore[misc]
        def write(
            self,
            key_values: dict[str, Any],
            key_excluded: dict[str, tuple[str, ...]],
            step: int = 0,
        ) -> None:
            row: dict[str, float] = {
                "env_steps": int(step),
                "seconds": time.perf_counter() - started,
                **stats.take(),
            }
            for key, value in key_values.items():
                if not isinstance(value, int | float | np.number):
                    continue
                if key in SB3_KEYS:
                    row[SB3_KEYS[key]] = float(value)
                elif key.startswith("train/"):
                    row[key.removeprefix("train/")] = float(value)
                elif key == "time/fps":
                    row["env_steps_per_s"] = float(value)
            log.write(row)

        def close(self) -> None:
            pass

    return _RowWriter()


def _save_checkpoint(
    agent: Sb3Agent, out: Path, total_steps: int, seed: int, run: RunFolder | None = None
) -> str:
    """Writes the agent, SAC's replay buffer, then ``checkpoint.json`` (and publishes the
    folder to ``run``'s URL, when it has one); returns where the checkpoint is."""
    agent.save(out)
    if agent.algo == "sac":
        tmp = out / f"{REPLAY_FILE}.tmp.pkl"
        agent.model.save_replay_buffer(tmp)
        os.replace(tmp, out / REPLAY_FILE)
    state = {
        "version": SB3_CHECKPOINT_VERSION,
        "algo": agent.algo,
        "env_steps": int(agent.model.num_timesteps),
        "total_steps": int(total_steps),
        "seed": int(seed),
    }
    write_text(out / CHECKPOINT_FILE, json.dumps(state, indent=1))
    if run is None:
        return str(out)
    run.publish(state)
    return run.target


def train_sb3(
    algo: str,
    market: Market,
    env_config: EnvConfig,
    out: str | Path,
    *,
    seed: int,
    total_steps: int,
    config: PpoConfig | SacConfig | None = None,
    on_checkpoint: Callable[[int, Sb3Agent], float | None] | None = None,
    device: str = "cpu",
    resume: bool = False,
    progress: bool = True,
    on_progress: Callable[[int], None] | None = None,
    max_seconds: float | None = None,
    env_wrapper: Callable[[Any], Any] | None = None,
    encoder: AgentEncoder | None = None,
) -> Sb3Agent:
    """Trains PPO or SAC for ``total_steps`` environment steps (summed over the vector), or
    until ``max_seconds`` of wall time have passed when that comes first, on
    ``market`` with ``env_config`` (its episode start range is the training range; its action
    mode is replaced by the algorithm's) and saves the final agent in ``out`` (with the logs
    and checkpoints of the module docstring).

    ``on_checkpoint(step, agent)`` is called ``config.checkpoints`` times, evenly spaced over
    the budget (:class:`lobzero.budget.TrainingBudget`), the last after the final step
    (``step``: environment steps so far); ``agent`` is the model being trained (save it to keep
    that checkpoint); it may return a validation score, shown in the end-of-run summary. The
    same seed gives the same agent (without a time budget). ``device``: see
    :func:`lobzero.devices.resolve_device`. ``resume`` continues the run in ``out`` (its
    checkpoint's hyperparameters; :class:`ConfigError` without a checkpoint).
    ``progress``: a bar (or plain lines) on stderr and a summary line on stdout;
    ``on_progress(env_steps)`` is called after every vector step. ``env_wrapper(vec)``
    wraps the batch the model plays (e.g. :func:`lobzero.risk.vector.risk_env_wrapper`: the
    guards between the policy and the market). ``encoder``: the pretrained encoder in front of
    the policy (see the module docstring; a resumed run uses the one its agent embeds); its
    window is appended to what the wrapped batch returns.
    """
    from lobzero.devices import resolve_device

    cls = _sb3_class(algo)
    config = config or CONFIGS[algo]()
    if not isinstance(config, CONFIGS[algo]):
        raise ConfigError(f"{algo} takes a {CONFIGS[algo].__name__}, got {type(config).__name__}")
    if total_steps < 1:
        raise ConfigError(f"total_steps must be >= 1, got {total_steps}")
    device = resolve_device(device)
    # a URL (s3://bucket/run): the run writes a local staging folder, published at checkpoints
    run = RunFolder(out)
    if resume:
        run.restore()
    try:
        return _train_sb3(
            cls, algo, market, env_config, run, seed, total_steps, config, on_checkpoint,
            device, resume, progress, on_progress, max_seconds, env_wrapper, encoder,
        )  # fmt: skip
    finally:
        run.close()


def _train_sb3(
    cls: Any,
    algo: str,
    market: Market,
    env_config: EnvConfig,
    run: RunFolder,
    seed: int,
    total_steps: int,
    config: PpoConfig | SacConfig,
    on_checkpoint: Callable[[int, Sb3Agent], float | None] | None,
    device: str,
    resume: bool,
    progress: bool,
    on_progress: Callable[[int], None] | None,
    max_seconds: float | None,
    env_wrapper: Callable[[Any], Any] | None,
    encoder: AgentEncoder | None,
) -> Sb3Agent:
    """The run of :func:`train_sb3`, writing into ``run.local``."""
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.logger import Logger

    from lobzero.envs.sb3 import Sb3VecEnv
    from lobzero.envs.vector import VecTradingEnv
    from lobzero.progress import TrainLog, TrainProgress, summary_line, write_summary

    out = folder = run.local  # folder: the Path the nested callback sees
    state: dict[str, Any] = {}
    if resume:
        state = _read_checkpoint(out, algo)
        spec = json.loads((out / "agent.json").read_text())
        config = CONFIGS[algo].from_dict(spec["config"])
        encoder = _embedded_encoder(out, spec)
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
    done_steps = int(state.get("env_steps", 0))
    vec = VecTradingEnv(market, config.num_envs, env_config)
    played: Any = vec if env_wrapper is None else env_wrapper(vec)
    if encoder is not None:
        played = encoder.wrap_vec(played, market)
    venv = Sb3VecEnv(played)
    # a resumed run draws new episodes, derived from where it stands
    venv.seed(seed + done_steps)
    if resume:
        model = cls.load(
            out / MODEL_FILE,
            env=venv,
            device=device,
            custom_objects=_custom_objects(encoder, spec, config),
        )
        model.set_random_seed(seed + done_steps)
        if algo == "sac" and (out / REPLAY_FILE).is_file():
            model.load_replay_buffer(out / REPLAY_FILE)
    else:
        shape = vec.single_observation_space.shape
        assert shape is not None
        model = _build_model(algo, venv, config, seed, device, encoder, int(shape[0]))
    out.mkdir(parents=True, exist_ok=True)
    config.save(out / "config.toml")
    agent = Sb3Agent(model, algo, env_config, vec.feature_names, config, encoder)
    budget = TrainingBudget(total_steps, max_seconds, config.checkpoints, start_steps=done_steps)
    started = time.perf_counter()
    log = TrainLog(out, LOG_FIELDS, append=resume)
    stats = _EpisodeStats(config.num_envs)
    model.set_logger(Logger(None, [_sb3_writer(log, stats, started)]))
    label = algo.upper()
    bar = TrainProgress(label, total_steps, done_steps) if progress else None
    scores: list[float] = []

    def call_back(step: int) -> None:
        if on_checkpoint is not None:
            score = on_checkpoint(step, agent)
            if score is not None:
                scores.append(float(score))

    class _Callback(BaseCallback):  # type: ignore[misc]
        def _on_step(self) -> bool:
            stats.step(np.asarray(self.locals["rewards"]), np.asarray(self.locals["dones"]))
            steps = int(self.num_timesteps)
            if bar is not None:
                bar.update(steps)
            if on_progress is not None:
                on_progress(steps)
            # the last mark is the end of the run, called after learn() returns
            if budget.checkpoint_due(steps):
                _save_checkpoint(agent, folder, total_steps, seed, run)
                call_back(steps)
            # a signal or the time budget stops the rollout here; learn() returns without
            # another update
            return interrupt.requested() is None and not budget.out_of_time()

    try:
        with interrupt.training_section():
            remaining = total_steps - done_steps
            if remaining > 0:
                model.learn(
                    total_timesteps=remaining,
                    callback=_Callback(),
                    progress_bar=False,
                    reset_num_timesteps=not resume,
                )
            signum = interrupt.requested()
            if signum is not None:
                where = _save_checkpoint(agent, out, total_steps, seed, run)
                raise interrupt.Interrupted(signum, where, "continue with --resume")
        model.logger.dump(step=model.num_timesteps)  # the last update's losses
        _save_checkpoint(agent, out, total_steps, seed, run)
        call_back(int(model.num_timesteps))
    finally:
        if bar is not None:
            bar.stop()
        log.close()
        venv.close()
    if progress:
        write_summary(
            summary_line(
                label,
                int(model.num_timesteps) - done_steps,
                time.perf_counter() - started,
                log.last,
                scores[-1] if scores else None,
            )
        )
    return agent


def _read_checkpoint(out: Path, algo: str) -> dict[str, Any]:
    """The ``checkpoint.json`` of a run in ``out`` to resume (:class:`ConfigError` if there is
    none, or it is another algorithm's)."""
    from lobzero.agents import check_format_version

    path = out / CHECKPOINT_FILE
    if not path.is_file():
        raise ConfigError(
            f"resume: {path} does not exist (no run to continue in {out}); start without "
            "resume, or give the folder of an earlier run"
        )
    state = json.loads(path.read_text())
    check_format_version(state.get("version"), path, SB3_CHECKPOINT_VERSION)
    if state.get("algo") != algo:
        raise ConfigError(f"resume: {out} holds a {state.get('algo')} run, not {algo}")
    return dict(state)
