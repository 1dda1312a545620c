"""MuZero self-play as Ray actors: each actor a batch of environments with its own network
copy and its own Rust search (on the CPU; the network's inference on a GPU share with
``num_gpus``); the learner keeps the replay buffer and inserts each step of all actors in one
batch: one :meth:`ReplayBuffer.add` of ``A·E`` transitions per step, not one per actor or per
environment.

The loop of :func:`lobzero.muzero.train_muzero` is unchanged: it calls ``actors.step`` for
one step of every environment, then trains. With :class:`RayActors` that step runs in the
actors (in parallel, one Ray process each), and returns the transitions; the learner replays
their observation-normaliser updates on its own network, adds them to its buffer (actor ``k``
in lanes ``k·E .. (k+1)·E - 1``, E = ``num_envs``), and after every ``broadcast_interval``
updates sends its weights (normaliser and value scale included) to the actors before their
next step.

What stays the same on Ray: the configuration, the step budget, the learner's schedule (the
updates owed per env step), the checkpoints and the agent. With one actor and
``broadcast_interval = 1`` the actor plays with exactly the network the local loop plays with,
seeded as it is, so a run is bit-identical to ``local`` for the same seed (with reanalysis too:
:mod:`lobzero.distributed.reanalyse`). With several actors or a longer interval: actor ``k > 0``
plays environments seeded ``seed + k·1000`` with searches seeded apart, each actor's normaliser
sees only its own observations between broadcasts, and the actors act on weights up to
``broadcast_interval`` updates old; so the run differs from a local one (a different ordering of
the same kind of experience), while every step is still stored once, in lockstep, and the same
seed gives the same run.

Asynchronous (``asynchronous=True``): each actor steps again as soon as its last step is back,
with the weights due at that moment, up to ``max_ahead`` steps ahead of the learner's newest
stored step; the learner stores step ``t`` of every actor once all have returned it (the
buffer's lanes stay in lockstep) and then trains. The step budget is cut into steps per actor
beforehand, so no actor plays a step that is not stored. What an actor's step was played with
(its weights) now depends on timing: the run is no longer reproducible step for step, while
every step is still stored exactly once, in its actor's lanes, in the order played.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from lobzero.distributed.backend import require_ray
from lobzero.distributed.reanalyse import (
    REANALYSE_SEED_OFFSET,
    ReanalyseWorker,
    RemoteReanalyser,
    cpu_weights,
)
from lobzero.distributed.remote_play import AsyncRemoteSelfPlay, RemoteSelfPlay

#: seed offset between the environments (and searches) of consecutive actors
ACTOR_SEED_STRIDE = 1000


class _Recorder:
    """Stands for the replay buffer inside an actor: keeps the one step ``SelfPlay`` adds."""

    def __init__(self) -> None:
        self.step: tuple[Any, ...] | None = None

    def add(self, *arrays: Any) -> None:
        self.step = tuple(np.array(a) for a in arrays)


class SelfPlayWorker:
    """The body of one actor (a Ray actor class, or an object here in tests): ``num_envs``
    environments, a network copy and a planner, stepping on request."""

    def __init__(
        self,
        config: Any,
        market: Any,
        env_config: Any,
        env_id: str | None,
        seed: int,
        play_seed: int,
        weights: dict[str, torch.Tensor],
        time_limit_steps: int | None,
        device: str = "cpu",
    ) -> None:
        import gymnasium as gym

        from lobzero.muzero.agent import build_network
        from lobzero.muzero.planner import Planner
        from lobzero.muzero.self_play import SelfPlay, check_discrete
        from lobzero.muzero.trainer import make_envs

        if config.torch_threads > 0:
            torch.set_num_threads(config.torch_threads)
        envs, spec = make_envs(config, seed, market, env_config, env_id)
        obs_dim, num_actions = check_discrete(envs)
        space = envs.single_observation_space
        assert isinstance(space, gym.spaces.Box)
        self.net = build_network(
            config,
            obs_dim,
            num_actions,
            spec.get("frame_stack", 1),
            obs_bounds=(np.asarray(space.low), np.asarray(space.high)),
        ).to(device)
        self.net.load_state_dict(weights)
        self.recorder = _Recorder()
        planner = Planner(self.net, config, device, seed=play_seed)
        self.play = SelfPlay(
            envs,
            planner,
            self.recorder,  # type: ignore[arg-type]
            seed=play_seed,
            time_limit_steps=time_limit_steps,
        )

    def step(
        self,
        temperature: float,
        update_normalizer: bool,
        weights: dict[str, torch.Tensor] | None,
    ) -> tuple[tuple[Any, ...], list[tuple[float, int]]]:
        """One step of every environment (after loading ``weights`` when given): the step's
        arrays as :meth:`ReplayBuffer.add` takes them, and the episodes that ended."""
        if weights is not None:
            self.net.load_state_dict(weights)
        self.play.update_normalizer = update_normalizer
        finished = self.play.step(temperature)
        assert self.recorder.step is not None
        return self.recorder.step, finished


@dataclass(frozen=True)
class RayActors:
    """Self-play on Ray (:func:`lobzero.muzero.train_muzero`'s ``actors``): ``num_actors``
    actors of ``num_cpus`` CPUs (``num_gpus`` GPUs each, for their network's inference), the
    learner's weights broadcast every ``broadcast_interval`` updates, on the cluster at
    ``address`` (None: a local one). With ``reanalyse_fraction > 0``, ``reanalyse_actors``
    reanalyse actors of the same resources (:mod:`lobzero.distributed.reanalyse`).
    ``asynchronous``: actors step without waiting for each other or the learner, up to
    ``max_ahead`` steps ahead (see the module docstring)."""

    num_actors: int = 1
    broadcast_interval: int = 1
    address: str | None = None
    num_cpus: float = 1.0
    num_gpus: float = 0.0
    reanalyse_actors: int = 1
    asynchronous: bool = False
    max_ahead: int = 2

    def check(self) -> None:
        """The settings on their own (:class:`ConfigError` naming the CLI flag)."""
        from lobzero.exceptions import ConfigError

        for flag, value in (
            ("--actors", self.num_actors),
            ("--broadcast-interval", self.broadcast_interval),
            ("--reanalyse-actors", self.reanalyse_actors),
            ("--max-ahead", self.max_ahead),
        ):
            if value < 1:
                raise ConfigError(f"{flag} must be >= 1, got {value}")
        if self.num_cpus <= 0 or self.num_gpus < 0:
            raise ConfigError("an actor needs num_cpus > 0 and num_gpus >= 0")

    def start(
        self,
        config: Any,
        market: Any,
        env_config: Any,
        env_id: str | None,
        seed: int,
        play_seed: int,
        net: Any,
        buffer: Any,
        learner: Any,
        time_limit_steps: int | None,
        env_steps: int = 0,
        total_steps: int | None = None,
    ) -> RemoteSelfPlay:
        """The actors, built from the learner's current network, ``env_steps`` into the run;
        ``total_steps``: the steps each actor has left to play (asynchronous actors play no
        more)."""
        self.check()
        ray = require_ray()
        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
        reanalysers = self.reanalyse_actors if config.reanalyse_fraction > 0 else 0
        check_cluster(ray.cluster_resources(), self, self.num_actors + reanalysers)
        remote = ray.remote(num_cpus=self.num_cpus, num_gpus=self.num_gpus)(SelfPlayWorker)
        weights = cpu_weights(net)
        market_ref = ray.put(market)
        weights_ref = ray.put(weights)
        device = self.device
        actors = [
            remote.remote(  # type: ignore[attr-defined]
                config,
                market_ref,
                env_config,
                env_id,
                seed + ACTOR_SEED_STRIDE * k,
                play_seed + ACTOR_SEED_STRIDE * k,
                weights_ref,
                time_limit_steps,
                device,
            )
            for k in range(self.num_actors)
        ]
        if self.asynchronous:
            return AsyncRemoteSelfPlay(
                actors, net, buffer, learner, self.broadcast_interval, config, self.max_ahead,
                total_steps, env_steps,
            )  # fmt: skip
        return RemoteSelfPlay(actors, net, buffer, learner, self.broadcast_interval)

    @property
    def device(self) -> str:
        """Where the actors' networks run: ``cuda`` with a GPU share, else ``cpu``."""
        return "cuda" if self.num_gpus > 0 else "cpu"

    def start_reanalyse(
        self,
        config: Any,
        net: Any,
        learner: Any,
        play_seed: int,
        frame_stack: int,
        obs_bounds: tuple[np.ndarray, np.ndarray],
    ) -> RemoteReanalyser:
        """The reanalyse actors (``ray`` started by :meth:`start`), built from the learner's
        current network, their planner seeded as the local loop's reanalysis planner."""
        import ray

        remote = ray.remote(num_cpus=self.num_cpus, num_gpus=self.num_gpus)(ReanalyseWorker)
        weights_ref = ray.put(cpu_weights(net))
        actors = [
            remote.remote(  # type: ignore[attr-defined]
                config,
                net.obs_dim,
                net.num_actions,
                frame_stack,
                obs_bounds,
                weights_ref,
                play_seed + REANALYSE_SEED_OFFSET + ACTOR_SEED_STRIDE * k,
                self.device,
            )
            for k in range(self.reanalyse_actors)
        ]
        return RemoteReanalyser(actors, net, learner, self.broadcast_interval)


def check_cluster(resources: dict[str, float], actors: RayActors, count: int) -> None:
    """A :class:`ConfigError` (naming the flag) when the cluster cannot hold ``count`` actors
    of ``actors``' resources at once: Ray would wait for them forever."""
    from lobzero.exceptions import ConfigError

    cpus, gpus = resources.get("CPU", 0.0), resources.get("GPU", 0.0)
    if actors.num_gpus > 0 and gpus < actors.num_gpus * count:
        raise ConfigError(
            f"--actor-device cuda: {count} actors of {actors.num_gpus:g} GPU need "
            f"{actors.num_gpus * count:g} GPUs, the Ray cluster has {gpus:g} (lower "
            "--actor-gpus, or use --actor-device cpu)"
        )
    if cpus < actors.num_cpus * count:
        raise ConfigError(
            f"--actors: {count} actors (self-play and reanalyse) of {actors.num_cpus:g} CPU "
            f"need {actors.num_cpus * count:g} CPUs, the Ray cluster has {cpus:g}"
        )
