"""The learner's side of Ray self-play (:mod:`lobzero.distributed.self_play`): stepping the
actors, in lockstep or asynchronously, and storing their steps in the learner's buffer, one
insert per step of all actors."""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
import torch

from lobzero.distributed.reanalyse import cpu_weights
from lobzero.exceptions import ConfigError


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
