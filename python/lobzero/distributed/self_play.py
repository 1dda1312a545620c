"""MuZero self-play as Ray actors: each actor a batch of environments with its own network
copy and its own Rust search; the learner keeps the replay buffer and inserts each step of all
actors in one batch.

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
seeded as it is, so a run is bit-identical to ``local`` for the same seed (reanalyse off: the
local loop's reanalysis shares its planner's seeds with self-play). With several actors or a
longer interval: actor ``k > 0`` plays environments seeded ``seed + k·1000`` with searches
seeded apart, each actor's normaliser sees only its own observations between broadcasts, and
the actors act on weights up to ``broadcast_interval`` updates old; so the run differs from a
local one (a different ordering of the same kind of experience), while every step is still
stored once, in lockstep, and the same seed gives the same run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from lobzero.distributed.backend import require_ray

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
    ``address`` (None: a local one)."""

    num_actors: int = 1
    broadcast_interval: int = 1
    address: str | None = None
    num_cpus: float = 1.0
    num_gpus: float = 0.0

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
    ) -> RemoteSelfPlay:
        """The actors, built from the learner's current network."""
        from lobzero.exceptions import ConfigError

        if self.num_actors < 1 or self.broadcast_interval < 1:
            raise ConfigError("num_actors and broadcast_interval must be >= 1")
        ray = require_ray()
        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
        remote = ray.remote(num_cpus=self.num_cpus, num_gpus=self.num_gpus)(SelfPlayWorker)
        weights = _cpu_weights(net)
        market_ref = ray.put(market)
        device = "cuda" if self.num_gpus > 0 else "cpu"
        actors = [
            remote.remote(  # type: ignore[attr-defined]
                config,
                market_ref,
                env_config,
                env_id,
                seed + ACTOR_SEED_STRIDE * k,
                play_seed + ACTOR_SEED_STRIDE * k,
                weights,
                time_limit_steps,
                device,
            )
            for k in range(self.num_actors)
        ]
        return RemoteSelfPlay(actors, net, buffer, learner, self.broadcast_interval)


def _cpu_weights(net: Any) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").clone() for k, v in net.state_dict().items()}


class RemoteSelfPlay:
    """What the training loop steps (the interface of :class:`lobzero.muzero.SelfPlay`): one
    step of every actor, stored in the learner's buffer in one batch."""

    def __init__(
        self, actors: list[Any], net: Any, buffer: Any, learner: Any, broadcast_interval: int
    ) -> None:
        self.actors, self.net, self.buffer, self.learner = actors, net, buffer, learner
        self.broadcast_interval = broadcast_interval
        self.update_normalizer = True
        # what the actors' weights were built from: the learner's updates, the value scale
        self._sent = (learner.updates, float(net.codec.fitted))
        self.broadcasts = 0

    def _weights_due(self) -> dict[str, torch.Tensor] | None:
        updates, fitted = self.learner.updates, float(self.net.codec.fitted)
        if fitted == self._sent[1] and updates - self._sent[0] < self.broadcast_interval:
            return None
        self._sent = (updates, fitted)
        self.broadcasts += 1
        return _cpu_weights(self.net)

    def step(self, temperature: float) -> list[tuple[float, int]]:
        """One step of every environment of every actor; (return, length) of the episodes
        that ended, actor by actor."""
        import ray

        weights = self._weights_due()
        ref = None if weights is None else ray.put(weights)
        refs = [a.step.remote(temperature, self.update_normalizer, ref) for a in self.actors]
        results = ray.get(refs)
        steps = [arrays for arrays, _ in results]
        if self.update_normalizer:
            # the actors' updates, replayed here in the same order on the same observations
            for arrays in steps:
                obs = torch.tensor(arrays[0], device=_device(self.net))  # Ray's arrays: read-only
                self.net.normalizer.update(obs)
        joined = [np.concatenate(parts) for parts in zip(*steps, strict=True)]
        self.buffer.add(*joined)
        return [episode for _, finished in results for episode in finished]

    def close(self) -> None:
        """Ends the actors."""
        import ray

        for actor in self.actors:
            ray.kill(actor)


def _device(net: Any) -> torch.device:
    return next(net.parameters()).device
