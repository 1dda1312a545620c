"""The MuZero training loop: Play → Store → Train, with checkpoints that a killed run resumes.

``out/`` holds ``config.toml`` (the MuZero settings), ``env.json`` (what was played),
``train_log.csv`` and TensorBoard events under ``tb/`` (losses, returns, speed),
``checkpoint.pt`` (network, target network, optimiser, replay buffer, counters and random
states; written atomically every ``checkpoint_interval`` environment steps and at the end) and
``agent/`` (the playable agent, :func:`lobzero.load_agent`).

Resuming (``resume=True``) restores everything in the checkpoint; the actors start fresh
episodes (an environment's mid-episode state is not saved), so nothing that was checkpointed is
lost and the steps played after the last checkpoint are played again.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
import torch

from lobzero import interrupt
from lobzero.agents import CHECKPOINT_VERSION, check_format_version
from lobzero.budget import TrainingBudget
from lobzero.data.market import Market
from lobzero.devices import resolve_device
from lobzero.distributed.reanalyse import REANALYSE_SEED_OFFSET, RemoteReanalyser
from lobzero.distributed.self_play import RayActors, RemoteSelfPlay
from lobzero.envs.config import EnvConfig
from lobzero.exceptions import ConfigError
from lobzero.muzero.agent import MuZeroAgent, build_network
from lobzero.muzero.config import MuZeroConfig
from lobzero.muzero.learner import Learner
from lobzero.muzero.planner import Planner
from lobzero.muzero.replay_buffer import ReplayBuffer
from lobzero.muzero.self_play import SelfPlay, check_discrete, make_gym_vec_env
from lobzero.progress import TrainLog, TrainProgress, summary_line, write_summary
from lobzero.storage import RunFolder, atomic_writer, join

if TYPE_CHECKING:
    from lobzero.encoder.agents import AgentEncoder

CHECKPOINT_FILE = "checkpoint.pt"
LOG_FIELDS = (
    "env_steps",
    "updates",
    "seconds",
    "episodes",
    "mean_return",
    "mean_length",
    "loss",
    "value_loss",
    "reward_loss",
    "policy_loss",
    "grad_norm",
    "lr",
    "temperature",
    "env_steps_per_s",
    "value_target_clipped",
    "value_target_p01",
    "value_target_p99",
    "support_used",
    "value_scale",
    "obs_clipped",
    "obs_clipped_feature",
)


def log_fields(config: MuZeroConfig) -> tuple[str, ...]:
    """The columns of ``train_log.csv``: :data:`LOG_FIELDS`, then the losses only some
    configurations have (Stochastic MuZero's afterstate Q and chance prior, EfficientZero's
    consistency), so that a run whose extra terms misbehave shows it in its log."""
    extra: tuple[str, ...] = ()
    if config.algorithm == "stochastic":
        extra += ("afterstate_value_loss", "chance_loss", "chance_codes_used")
    if config.consistency_weight > 0.0:
        extra += ("consistency_loss",)
    return LOG_FIELDS + extra


CheckpointCallback = Callable[[int, MuZeroAgent], float | None]
"""Called after each checkpoint of a trained network; may return its validation score."""
EnvWrapper = Callable[[Any], gym.vector.VectorEnv]
"""Wraps the self-play VecTradingEnv (e.g. with an adversary acting inside)."""


def atomic_torch_save(obj: Any, path: Path) -> None:
    """Writes ``obj`` to ``path`` through a temporary file and a rename: a reader (or a resumed
    run) sees the old file or the new one, never half of one."""
    with atomic_writer(path) as fh:
        torch.save(obj, fh)


def make_envs(
    config: MuZeroConfig,
    seed: int,
    market: Market | None,
    env_config: EnvConfig | None,
    env_id: str | None,
    env_wrapper: EnvWrapper | None = None,
) -> tuple[gym.vector.VectorEnv, dict[str, Any]]:
    """The self-play environments and a description of them (saved with the agent)."""
    if env_id is not None:
        if market is not None:
            raise ConfigError("give either a market or a gymnasium env_id, not both")
        return make_gym_vec_env(env_id, config.num_envs), {"type": "gym", "id": env_id}
    from lobzero.envs import VecTradingEnv

    env_config = (env_config or EnvConfig()).replace(seed=seed)
    if env_config.action_mode == "continuous":
        raise ConfigError(
            "MuZero plans over discrete actions: use action_mode 'target' or 'side', not "
            "'continuous'"
        )
    envs: gym.vector.VectorEnv = VecTradingEnv(market, num_envs=config.num_envs, config=env_config)
    if env_wrapper is not None:
        envs = env_wrapper(envs)
    spec = {
        "type": "trading",
        "market": str(market) if market is not None else "synthetic (default)",
        "env_config": env_config.to_dict(),
        "frame_stack": env_config.frame_stack,
    }
    return envs, spec


def _attach_encoder(
    config: MuZeroConfig,
    out: Path,
    resume: bool,
    market: Market | None,
    env_id: str | None,
    remote: RayActors | None,
) -> AgentEncoder | None:
    """The pretrained encoder of ``config.encoder`` (None without one), copied into the run's
    folder (``encoder.pt``): a resumed run reads its copy, so moving the file breaks nothing."""
    if not config.encoder:
        return None
    if env_id is not None or market is None:
        raise ConfigError("the encoder reads a market's book: give a market (--data), not --env")
    if remote is not None:
        raise ConfigError("the encoder's windows are built here: train it with --backend local")
    from lobzero.encoder.agents import ENCODER_FILE, AgentEncoder

    copy = out / ENCODER_FILE
    source = copy if resume and copy.is_file() else Path(config.encoder)
    attached = AgentEncoder.load(source, config.encoder_mode, config.encoder_lr_scale)
    attached.save(out)
    return attached


def train_muzero(
    config: MuZeroConfig,
    out: str | Path,
    *,
    market: Market | None = None,
    env_config: EnvConfig | None = None,
    env_id: str | None = None,
    seed: int = 0,
    resume: bool = False,
    device: str = "cpu",
    on_checkpoint: CheckpointCallback | None = None,
    progress: bool = True,
    env_wrapper: EnvWrapper | None = None,
    on_progress: Callable[[int], None] | None = None,
    max_seconds: float | None = None,
    self_play: RayActors | None = None,
) -> MuZeroAgent:
    """Trains MuZero for ``config.total_env_steps`` environment steps, or until
    ``max_seconds`` of wall time have passed when that comes first, and returns the agent.

    Plays a :class:`lobzero.VecTradingEnv` over ``market`` (``env_config``; its
    ``start_ns``/``end_ns`` range is all that is played, so a walk-forward split trains on its
    train range only), or the gymnasium environment ``env_id`` (discrete actions). Writes
    ``out/`` (see the module docstring); ``on_checkpoint(env_steps, agent)`` is called after
    each checkpoint of a trained network (not before the first update: an untrained network
    is no candidate for selection), e.g. to score the agent on a validation range, and may
    return that score (shown in the end-of-run summary). ``env_wrapper`` wraps the trading
    environments before play (:class:`lobzero.envs.adversarial.AdversarialVecEnv`).
    ``on_progress(env_steps)`` is called after every vector step.

    ``device``: see :func:`lobzero.devices.resolve_device`. ``progress``: a bar (or plain
    lines, off a terminal) on stderr and a summary line on stdout at the end. ``resume``
    needs ``out/checkpoint.pt`` (:class:`ConfigError` without one). SIGINT or SIGTERM stop the
    run after the current update: the checkpoint is written and
    :class:`lobzero.interrupt.Interrupted` raised (naming it).

    With ``max_seconds``, a checkpoint also falls at each even fraction of that time (as many
    as ``checkpoint_interval`` makes of the step budget), and the schedules (temperature,
    learning rate, priority β) still follow the step budget.

    ``self_play``: where the environments are played: here (None), or by Ray actors
    (:class:`lobzero.distributed.self_play.RayActors`; the same configuration, and with one
    actor broadcasting every update the same run).
    """
    config.validate()
    device = resolve_device(device)
    # a URL (s3://bucket/run): the run writes a local staging folder, published at checkpoints
    run = RunFolder(out)
    if resume:
        run.restore()
    try:
        return _train(
            config, run, market, env_config, env_id, seed, resume, device, on_checkpoint,
            progress, env_wrapper, on_progress, max_seconds, self_play,
        )  # fmt: skip
    finally:
        run.close()


def _train(
    config: MuZeroConfig,
    run: RunFolder,
    market: Market | None,
    env_config: EnvConfig | None,
    env_id: str | None,
    seed: int,
    resume: bool,
    device: str,
    on_checkpoint: CheckpointCallback | None,
    progress: bool,
    env_wrapper: EnvWrapper | None,
    on_progress: Callable[[int], None] | None,
    max_seconds: float | None,
    remote: RayActors | None,
) -> MuZeroAgent:
    """The loop of :func:`train_muzero`, writing into ``run.local``."""
    if remote is not None and env_wrapper is not None:
        raise ConfigError("an env_wrapper plays here: it cannot wrap the Ray actors' envs")
    out = run.local
    checkpoint_path = out / CHECKPOINT_FILE
    if resume and not checkpoint_path.is_file():
        raise ConfigError(
            f"resume: {join(run.target, CHECKPOINT_FILE)} does not exist (no run to continue "
            f"in {run.target}); "
            "start without resume, or give the folder of an earlier run"
        )
    out.mkdir(parents=True, exist_ok=True)
    if config.torch_threads > 0:
        torch.set_num_threads(config.torch_threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    attached = _attach_encoder(config, out, resume, market, env_id, remote)
    if attached is not None:
        outer = env_wrapper

        def env_wrapper(envs: Any) -> Any:
            assert attached is not None and market is not None  # checked by _attach_encoder
            return attached.wrap_vec(envs if outer is None else outer(envs), market)

    envs, env_spec = make_envs(config, seed, market, env_config, env_id, env_wrapper)
    obs_dim, num_actions = check_discrete(envs)
    space = envs.single_observation_space
    assert isinstance(space, gym.spaces.Box)
    net = build_network(
        config,
        obs_dim,
        num_actions,
        env_spec.get("frame_stack", 1),
        obs_bounds=(np.asarray(space.low), np.asarray(space.high)),
        encoder=attached,
    ).to(device)
    total_updates = int(max(0, config.total_env_steps - config.warmup_steps) * config.replay_ratio)
    learner = Learner(net, config, total_updates, device)
    # one lane per environment, of every actor
    lanes = config.num_envs * (1 if remote is None else remote.num_actors)
    buffer = ReplayBuffer(
        config.replay_capacity,
        lanes,
        obs_dim,
        num_actions,
        alpha=config.priority_alpha,
        eps=config.priority_eps,
        prioritized=config.prioritized,
    )
    env_steps, episodes = 0, 0
    if resume:
        state = torch.load(checkpoint_path, map_location=device, weights_only=False)
        check_format_version(state.get("version"), checkpoint_path, CHECKPOINT_VERSION)
        try:
            net.load_state_dict(state["net"])
            learner.load_state_dict(state["learner"])
        except RuntimeError as e:
            raise ConfigError(
                f"{checkpoint_path} does not fit this configuration's network: {e}"
            ) from e
        buffer.load_state_dict(state["buffer"])
        rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        env_steps, episodes = int(state["env_steps"]), int(state["episodes"])
    config.save(out / "config.toml")
    (out / "env.json").write_text(json.dumps(env_spec, indent=1))
    # a resumed run draws new seeds for its episodes and searches, derived from where it stands
    play_seed = seed + env_steps
    planner = Planner(net, config, device, seed=play_seed)
    # reanalysis searches with a planner of its own, so that self-play's trees are seeded the
    # same whether reanalysis runs here or in Ray actors
    reanalyser: Planner | RemoteReanalyser | None = None
    actors: SelfPlay | RemoteSelfPlay
    if remote is None:
        actors = SelfPlay(
            envs, planner, buffer, seed=play_seed, time_limit_steps=time_limit_steps(config, envs)
        )
        if config.reanalyse_fraction > 0:
            reanalyser = Planner(net, config, device, seed=play_seed + REANALYSE_SEED_OFFSET)
    else:
        steps_left = -(-max(0, config.total_env_steps - env_steps) // lanes)
        actors = remote.start(
            config, market, env_config, env_id, seed, play_seed, net, buffer, learner,
            time_limit_steps(config, envs), env_steps, steps_left,
        )  # fmt: skip
        if config.reanalyse_fraction > 0:
            reanalyser = remote.start_reanalyse(
                config, net, learner, play_seed, env_spec.get("frame_stack", 1),
                (np.asarray(space.low), np.asarray(space.high)),
            )  # fmt: skip
    warn = _ScaleWarnings()
    action_mode = env_spec.get("env_config", {}).get("action_mode", "gym")

    def snapshot() -> MuZeroAgent:
        copy = build_network(
            config, obs_dim, num_actions, env_spec.get("frame_stack", 1), encoder=attached
        )
        copy.load_state_dict(net.state_dict())
        return MuZeroAgent(
            copy, config, action_mode=action_mode, env=env_spec, device=device, encoder=attached
        )

    checkpointed_at = -1  # a resumed run rewrites its checkpoint from the restored state

    last_score: float | None = None

    def checkpoint(notify: bool = True) -> None:
        nonlocal checkpointed_at, last_score
        checkpointed_at = env_steps
        atomic_torch_save(
            {
                "version": CHECKPOINT_VERSION,
                "config": config.to_dict(),
                "env": env_spec,
                "env_steps": env_steps,
                "episodes": episodes,
                "net": net.state_dict(),
                "learner": learner.state_dict(),
                "buffer": buffer.state_dict(),
                "rng": rng.bit_generator.state,
                "torch_rng": torch.get_rng_state(),
            },
            checkpoint_path,
        )
        agent = snapshot()
        agent.save(out / "agent")
        run.publish({"env_steps": env_steps, "episodes": episodes})
        if notify and on_checkpoint is not None and learner.updates > 0:
            score = on_checkpoint(env_steps, agent)
            last_score = last_score if score is None else float(score)

    log = TrainLog(out, log_fields(config), append=resume)
    recent: list[tuple[float, int]] = []
    last_stats: dict[str, float] = {}
    started, steps_at_start = time.perf_counter(), env_steps
    next_log = (env_steps // config.log_interval + 1) * config.log_interval
    next_checkpoint = (env_steps // config.checkpoint_interval + 1) * config.checkpoint_interval
    bar = TrainProgress("MuZero", config.total_env_steps, env_steps) if progress else None
    section = interrupt.training_section()
    section.__enter__()
    # the clock of a time budget; the step marks stay at multiples of checkpoint_interval
    clock = TrainingBudget(
        config.total_env_steps,
        max_seconds,
        checkpoints=max(1, config.total_env_steps // config.checkpoint_interval),
    )
    try:
        while env_steps < config.total_env_steps and not clock.out_of_time():
            temperature = config.temperature(env_steps)
            actors.update_normalizer = env_steps < config.warmup_steps
            finished = actors.step(temperature)
            env_steps += lanes
            episodes += len(finished)
            recent.extend(finished)
            if env_steps >= config.warmup_steps:
                if config.value_scale == 0.0 and not bool(net.codec.fitted):
                    fit_value_scale(net, buffer, config)
                    learner.refresh_target()
                owed = int((env_steps - config.warmup_steps) * config.replay_ratio)
                beta = config.priority_beta + (
                    config.priority_beta_final - config.priority_beta
                ) * (env_steps / config.total_env_steps)
                while learner.updates < owed:
                    batch = buffer.sample(
                        config.batch_size,
                        unroll_steps=config.unroll_steps,
                        td_steps=config.td_steps,
                        discount=config.discount,
                        beta=beta,
                        rng=rng,
                        value_fn=learner.target_values
                        if config.value_bootstrap == "target"
                        else None,
                        reanalyse_fraction=config.reanalyse_fraction,
                        search_fn=None if reanalyser is None else reanalyser.search_fn,
                        next_obs=config.algorithm == "stochastic"
                        or config.consistency_weight > 0.0,
                        td_age_steps=config.off_policy_tau * config.total_env_steps,
                    )
                    last_stats, priorities = learner.update(batch)
                    buffer.update_priorities(batch.lanes, batch.positions, priorities)
            if interrupt.requested() is not None:
                checkpoint(notify=False)
                raise interrupt.Interrupted(
                    interrupt.requested() or 0, checkpoint_path, "continue with --resume"
                )
            if bar is not None:
                bar.update(
                    env_steps,
                    f"return {np.mean([r for r, _ in recent]):.3g}" if recent else "",
                )
            if on_progress is not None:
                on_progress(env_steps)
            if env_steps >= next_log or env_steps >= config.total_env_steps or clock.out_of_time():
                seconds = time.perf_counter() - started
                returns = [r for r, _ in recent]
                log.write(
                    {
                        "env_steps": env_steps,
                        "updates": learner.updates,
                        "seconds": seconds,
                        "episodes": episodes,
                        "mean_return": float(np.mean(returns)) if returns else float("nan"),
                        "mean_length": float(np.mean([n for _, n in recent]))
                        if recent
                        else float("nan"),
                        "temperature": temperature,
                        "env_steps_per_s": (env_steps - steps_at_start) / max(seconds, 1e-9),
                        **last_stats,
                    }
                )
                warn.check(last_stats)
                recent = []
                next_log += config.log_interval
            time_mark = clock.max_seconds is not None and clock.checkpoint_due(0)
            if env_steps >= next_checkpoint or time_mark:
                checkpoint()
            while next_checkpoint <= env_steps:
                next_checkpoint += config.checkpoint_interval
        if checkpointed_at != env_steps:
            checkpoint()
    finally:
        section.__exit__(None, None, None)
        log.close()
        if bar is not None:
            bar.stop()
        envs.close()
        if isinstance(actors, RemoteSelfPlay):
            actors.close()
        if isinstance(reanalyser, RemoteReanalyser):
            reanalyser.close()
    if progress:
        write_summary(
            summary_line(
                "MuZero",
                env_steps - steps_at_start,
                time.perf_counter() - started,
                {**log.last, **last_stats},
                last_score,
            )
        )
    return snapshot()


def time_limit_steps(config: MuZeroConfig, envs: gym.vector.VectorEnv) -> int | None:
    """The episode length after which the end of an episode is absorbing for the value
    targets (``config.time_limit``, see :class:`MuZeroConfig`), or None to bootstrap it."""
    if config.time_limit == "bootstrap":
        return None
    feature_names = list(getattr(envs, "feature_names", []))
    if config.time_limit == "auto" and "time_fraction" not in feature_names:
        return None
    env_config = getattr(envs, "config", None)
    steps = getattr(env_config, "episode_steps", None)
    if steps is None:
        # a gymnasium vector env of registered envs: the TimeLimit of its first sub-env
        sub_envs = getattr(envs, "envs", None) or [envs]
        steps = getattr(getattr(sub_envs[0], "spec", None), "max_episode_steps", None)
    if steps is None and config.time_limit == "terminal":
        raise ConfigError("time_limit 'terminal' needs an environment with a known episode length")
    return None if steps is None else int(steps)


def fit_value_scale(net: Any, buffer: ReplayBuffer, config: MuZeroConfig) -> float:
    """Fits the value heads' scale to the discounted returns of the warm-up data (see
    :meth:`lobzero.models.muzero_net.ValueCodec.fit_scale`); returns it."""
    returns = torch.as_tensor(buffer.discounted_returns(config.discount))
    return net.codec.fit_scale(returns)


class _ScaleWarnings:
    """Warns (once each) when the value targets clip at the support's ends or use little of
    it (the support and the value scale do not fit the data), and when the observation
    normaliser clips a feature of the sampled observations (its warm-up statistics do not
    cover what the agent now sees)."""

    CLIPPED = 0.01
    UNUSED = 0.05
    # the market's fat-tailed features clip ~0.5 % of rows; CartPole's frozen x clipped > 60 %
    OBS_CLIPPED = 0.05

    def __init__(self) -> None:
        self.said: set[str] = set()

    def check(self, stats: dict[str, float]) -> None:
        p01 = stats.get("value_target_p01", float("nan"))
        p99 = stats.get("value_target_p99", float("nan"))
        clipped = stats.get("value_target_clipped", 0.0)
        obs_clipped = stats.get("obs_clipped", 0.0)
        used = stats.get("support_used", 1.0)
        found = {
            "clipped": clipped > self.CLIPPED
            and f"{clipped:.1%} of the value targets lie beyond the support's ends (p01 "
            f"{p01:.4g}, p99 {p99:.4g}, scale {stats.get('value_scale', float('nan')):.4g}): "
            "raise support_size or value_scale (0 fits it to the warm-up data)",
            "obs": obs_clipped > self.OBS_CLIPPED
            and f"{obs_clipped:.1%} of the sampled observations have feature "
            f"{int(stats.get('obs_clipped_feature', 0))} beyond the observation normaliser's "
            "±10 sd of its warm-up statistics, where the network sees them all as one value: "
            "use obs_scaling 'bounds' (the feature's bounds, where the environment declares "
            "them) or a longer warm-up (warmup_steps)",
            "unused": used < self.UNUSED
            and f"the value targets use {used:.1%} of the support (p01 {p01:.4g}, p99 "
            f"{p99:.4g}): lower support_size or value_scale (0 fits it to the warm-up data)",
        }
        for key, message in found.items():
            if message and key not in self.said:
                self.said.add(key)
                warnings.warn(message, UserWarning, stacklevel=2)


def evaluate_gym(
    agent: MuZeroAgent, env_id: str, episodes: int = 20, seed: int = 10_000
) -> list[float]:
    """Returns of ``episodes`` episodes of ``env_id`` played by ``agent`` in one batch (one
    search per step for all episodes still running)."""
    envs = make_gym_vec_env(env_id, episodes)
    obs, _ = envs.reset(seed=seed)
    returns = np.zeros(episodes)
    running = np.ones(episodes, bool)
    while running.any():
        actions = agent.act(np.asarray(obs, np.float32))
        obs, rewards, terminated, truncated, _ = envs.step(actions)
        returns += np.where(running, rewards, 0.0)
        running &= ~(np.asarray(terminated) | np.asarray(truncated))
    envs.close()
    return returns.tolist()
