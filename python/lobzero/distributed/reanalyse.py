"""MuZero's reanalysis as Ray actors: fresh searches of stored positions with the learner's
latest broadcast weights, for the reanalysed share of each training batch.

The local loop reanalyses inside :meth:`lobzero.muzero.ReplayBuffer.sample`: a
``reanalyse_fraction`` of each batch gets its policy targets and bootstrap values from a search
(``search_fn``, :meth:`lobzero.muzero.planner.Planner.search_fn`) with the current network, by a
planner of its own (seeded ``play_seed + REANALYSE_SEED_OFFSET``, apart from self-play's). On
Ray the same ``search_fn`` call goes to ``R`` reanalyse actors instead: the positions are cut in
``R`` contiguous parts, each actor searches its part with its network copy, and the refreshed
targets come back into the learner's batch (nothing is written back to the stored steps, as
locally). The learner sends its weights (normaliser and value scale included) before a search
once ``broadcast_interval`` updates have passed since the last ones it sent, or the value scale
was fitted.

With one reanalyse actor and ``broadcast_interval = 1`` the actor searches the same positions
with the same weights, in the same order, with a planner seeded as the local one: its targets
are the local reanalyser's, bit for bit (one torch thread on both sides,
``MuZeroConfig.torch_threads = 1``), and so the whole run is the local run. With ``R > 1`` each
actor's search batch is a part of the local one, padded to its own multiple of 128 rows: the
trees are the same, the floats may differ in the last bits where torch's kernels block by batch
size.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

#: seed offset of the reanalysis planner from self-play's (locally and in the actors)
REANALYSE_SEED_OFFSET = 500_000


def cpu_weights(net: Any) -> dict[str, torch.Tensor]:
    """The network's state dict, copied to the CPU (what a broadcast sends)."""
    return {k: v.detach().to("cpu").clone() for k, v in net.state_dict().items()}


class ReanalyseWorker:
    """The body of one reanalyse actor (a Ray actor class, or an object here in tests): a
    network of the learner's shape and a planner seeded ``seed``."""

    def __init__(
        self,
        config: Any,
        obs_dim: int,
        num_actions: int,
        frame_stack: int,
        obs_bounds: tuple[np.ndarray, np.ndarray] | None,
        weights: dict[str, torch.Tensor],
        seed: int,
        device: str = "cpu",
    ) -> None:
        from lobzero.muzero.agent import build_network
        from lobzero.muzero.planner import Planner

        if config.torch_threads > 0:
            torch.set_num_threads(config.torch_threads)
        self.net = build_network(
            config, obs_dim, num_actions, frame_stack, obs_bounds=obs_bounds
        ).to(device)
        self.net.load_state_dict(weights)
        self.planner = Planner(self.net, config, device, seed=seed)
        self.searched = 0

    def search(
        self, obs: np.ndarray, weights: dict[str, torch.Tensor] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(policy targets ``[M, A]``, root values ``[M]``) of observations ``[M, obs_dim]``
        (after loading ``weights`` when given)."""
        if weights is not None:
            self.net.load_state_dict(weights)
        self.searched += len(obs)
        if len(obs) == 0:
            return np.zeros((0, self.net.num_actions), np.float32), np.zeros(0, np.float32)
        return self.planner.search_fn(np.asarray(obs, np.float32))


class RemoteReanalyser:
    """The learner's ``search_fn`` (:data:`lobzero.muzero.replay_buffer.SearchFn`) served by
    reanalyse actors (see the module docstring)."""

    def __init__(self, actors: list[Any], net: Any, learner: Any, broadcast_interval: int) -> None:
        self.actors, self.net, self.learner = actors, net, learner
        self.broadcast_interval = broadcast_interval
        self._sent = (learner.updates, float(net.codec.fitted))
        self.broadcasts = 0

    def _weights_due(self) -> dict[str, torch.Tensor] | None:
        updates, fitted = self.learner.updates, float(self.net.codec.fitted)
        if fitted == self._sent[1] and updates - self._sent[0] < self.broadcast_interval:
            return None
        self._sent = (updates, fitted)
        self.broadcasts += 1
        return cpu_weights(self.net)

    def search_fn(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Policy targets ``[M, A]`` and root values ``[M]`` of ``obs [M, obs_dim]``, the
        ``M`` rows cut in one contiguous part per actor."""
        import ray

        weights = self._weights_due()
        ref = None if weights is None else ray.put(weights)
        # every actor gets a call, an empty part too, so none misses a broadcast
        parts = np.array_split(np.asarray(obs, np.float32), len(self.actors))
        calls = [a.search.remote(p, ref) for a, p in zip(self.actors, parts, strict=True)]
        results = ray.get(calls)
        return (
            np.concatenate([policy for policy, _ in results]),
            np.concatenate([value for _, value in results]),
        )

    def close(self) -> None:
        """Ends the actors."""
        import ray

        for actor in self.actors:
            ray.kill(actor)
