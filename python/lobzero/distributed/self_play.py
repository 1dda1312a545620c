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
:mod:`lobzero.distributed.reanalyse`). With several actors or a longer interval: actor ``k > 0`` plays environments seeded ``seed + k·1000`` with searches
seeded apart, each actor's normaliser sees only its own observations between broadcasts, and
the actors act on weights up to ``broadcast_interval`` updates old; so the run differs from a
local one (a different ordering of the same kind of experience), while every step is still
stored once, in lockstep, and the same seed gives the same run.

Asynchronous (``asynchronous=True``): each actor steps again as soon as its last step is back,
with the weights due at that moment, up to ``max_ahead`` steps ahead of the learner's newest
stored step; the learner stores step ``t`` of every actor once all have returned it (the
buffer's lanes stay in lockstep) and then trains. The step budget is cut into steps per actor
beforehand, so no actor plays a step that is not stored. What an actor's step was played with
(its weights) now depends on timing: the run is no longer reproducible step for step, while
every step is still stored exactly once, in its actor's lanes, in the order played.
"""

from __future__ import annotations

from collections import deque
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


class RemoteSelfPlay:
    """What the training loop steps (the interface of :class:`lobzero.muzero.SelfPlay`): one
    step of every actor, stored in the learner's buffer in one batch."""

    def __init__(
        self, actors: list[Any], net: Any, buffer: Any, learner: Any, broadcast_interval: int
    ) -> None:
        self.actors, self.net, self.buffer, self.learner = actors, net, buffer, learner
        self.broadcast_interval = broadcast_interval
        self.update_normalizer = True
        # what each actor's weights were built from: the learner's updates, the value scale
        self._sent = [(learner.updates, float(net.codec.fitted))] * len(actors)
        self._weights_ref: tuple[tuple[int, float], Any] | None = None
        self.broadcasts = 0

    def _weights_due(self, k: int) -> Any:
        """The object ref of the learner's weights when actor ``k``'s are due, else None."""
        import ray

        now = (self.learner.updates, float(self.net.codec.fitted))
        sent = self._sent[k]
        if now[1] == sent[1] and now[0] - sent[0] < self.broadcast_interval:
            return None
        self._sent[k] = now
        if self._weights_ref is None or self._weights_ref[0] != now:
            self._weights_ref = (now, ray.put(cpu_weights(self.net)))
            self.broadcasts += 1
        return self._weights_ref[1]

    def _store(self, steps: list[tuple[Any, ...]], update_normalizer: bool) -> None:
        """One step of every actor (in actor order) into the buffer, in one insert."""
        if update_normalizer:
            # the actors' updates, replayed here in the same order on the same observations
            for arrays in steps:
                obs = torch.tensor(arrays[0], device=_device(self.net))  # Ray's arrays: read-only
                self.net.normalizer.update(obs)
        joined = [np.concatenate(parts) for parts in zip(*steps, strict=True)]
        self.buffer.add(*joined)

    def step(self, temperature: float) -> list[tuple[float, int]]:
        """One step of every environment of every actor; (return, length) of the episodes
        that ended, actor by actor."""
        import ray

        refs = [
            a.step.remote(temperature, self.update_normalizer, self._weights_due(k))
            for k, a in enumerate(self.actors)
        ]
        results = ray.get(refs)
        self._store([arrays for arrays, _ in results], self.update_normalizer)
        return [episode for _, finished in results for episode in finished]

    def close(self) -> None:
        """Ends the actors."""
        import ray

        for actor in self.actors:
            ray.kill(actor)


class AsyncRemoteSelfPlay(RemoteSelfPlay):
    """Asynchronous actors (see the module docstring): :meth:`step` stores the next step of
    every actor, waiting only for the actors that have not returned it yet. The temperature
    and the normaliser flag of a step are those of the step's place in the run (from
    ``config``), as the lockstep loop would have passed them."""

    def __init__(
        self,
        actors: list[Any],
        net: Any,
        buffer: Any,
        learner: Any,
        broadcast_interval: int,
        config: Any,
        max_ahead: int,
        total_steps: int | None,
        env_steps: int,
    ) -> None:
        super().__init__(actors, net, buffer, learner, broadcast_interval)
        self.config, self.max_ahead = config, max_ahead
        self.total_steps = total_steps
        self.lanes = len(actors) * config.num_envs
        self.env_steps_at_start = env_steps
        self.played = [0] * len(actors)  # steps asked of each actor
        self.stored = 0  # steps of every actor in the buffer
        self.queues: list[deque[tuple[Any, ...]]] = [deque() for _ in actors]
        self.in_flight: dict[Any, int] = {}

    def _env_steps(self, step: int) -> int:
        """The run's env steps before this run's step ``step`` of every actor."""
        return self.env_steps_at_start + step * self.lanes

    def _ask(self, k: int) -> None:
        """Actor ``k``'s next step, if it has one to play and is not too far ahead."""
        if k in self.in_flight.values():
            return
        step = self.played[k]
        if self.total_steps is not None and step >= self.total_steps:
            return
        if step - self.stored >= self.max_ahead:
            return
        env_steps = self._env_steps(step)
        ref = self.actors[k].step.remote(
            self.config.temperature(env_steps),
            env_steps < self.config.warmup_steps,
            self._weights_due(k),
        )
        self.in_flight[ref] = k
        self.played[k] += 1

    def step(self, temperature: float) -> list[tuple[float, int]]:
        """Stores the next step of every actor (``temperature`` unused: each step's own)."""
        import ray

        for k in range(len(self.actors)):
            self._ask(k)
        while not all(self.queues):
            if not self.in_flight:
                from lobzero.exceptions import ConfigError

                raise ConfigError(
                    "asynchronous self-play: asked for a step past the budget given to start()"
                )
            done, _ = ray.wait(list(self.in_flight), num_returns=1)
            k = self.in_flight.pop(done[0])
            self.queues[k].append(ray.get(done[0]))
            self._ask(k)
        results = [queue.popleft() for queue in self.queues]
        self._store(
            [arrays for arrays, _ in results],
            self._env_steps(self.stored) < self.config.warmup_steps,
        )
        self.stored += 1
        for k in range(len(self.actors)):
            self._ask(k)
        return [episode for _, finished in results for episode in finished]

    def pending(self) -> int:
        """Steps asked of the actors and not stored (0 at the end of a full run)."""
        return sum(self.played) - self.stored * len(self.actors)


def _device(net: Any) -> torch.device:
    return next(net.parameters()).device
