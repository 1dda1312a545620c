"""One batched search with a MuZero network: the search every part of lobzero's MuZero shares
(self-play, reanalyse, the trained agent's ``act``). A Stochastic MuZero network searches a
tree of decision and chance nodes (:func:`lobzero.mcts.stochastic_search`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from lobzero.mcts import MctsBatch, StochasticMctsBatch, search, stochastic_search
from lobzero.models.muzero_net import MuZeroNet
from lobzero.models.stochastic_net import StochasticMuZeroNet
from lobzero.muzero.config import MuZeroConfig


@dataclass(frozen=True)
class Plan:
    """Result of :meth:`Planner.run` for ``B`` observations and ``A`` actions."""

    action: npt.NDArray[np.int64]
    """[B] chosen actions."""
    policy: npt.NDArray[np.float32]
    """[B, A] search policy (the policy target); rows sum to 1."""
    root_value: npt.NDArray[np.float32]
    """[B] root values after the search."""


def pack_prefix_state(
    latent: torch.Tensor,
    lstm: tuple[torch.Tensor, torch.Tensor],
    prefix: torch.Tensor,
    depth: torch.Tensor | int,
) -> torch.Tensor:
    """The search's latent of a value-prefix network ``[B, D + 2H + 2]``: the dynamics latent
    ``[B, D]``, the LSTM state ``(h, c)`` ``[B, H]`` each, the value prefix so far ``[B]``
    (quote currency) and the depth below the root ``[B]``."""
    n = latent.shape[0]
    depth_t = torch.as_tensor(depth, dtype=latent.dtype, device=latent.device).expand(n)
    return torch.cat(
        [latent, lstm[0], lstm[1], prefix.to(latent)[:, None], depth_t[:, None]], dim=1
    )


def unpack_prefix_state(
    packed: torch.Tensor, latent_dim: int
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor], torch.Tensor, torch.Tensor]:
    """The inverse of :func:`pack_prefix_state`: latent, (h, c), prefix ``[B]``, depth ``[B]``
    (int64)."""
    hidden = (packed.shape[1] - latent_dim - 2) // 2
    latent = packed[:, :latent_dim]
    h = packed[:, latent_dim : latent_dim + hidden]
    c = packed[:, latent_dim + hidden : latent_dim + 2 * hidden]
    return latent, (h, c), packed[:, -2], packed[:, -1].round().long()


class Planner:
    """Runs :func:`lobzero.mcts.search` with ``net`` as the model, on ``device``, keeping one
    :class:`MctsBatch` per batch size and value bounds (seeded ``seed``, then ``seed + 1``, ...
    per new one)."""

    def __init__(
        self,
        net: MuZeroNet,
        config: MuZeroConfig,
        device: str | torch.device = "cpu",
        seed: int = 0,
    ) -> None:
        self.net, self.config = net, config
        self.device = torch.device(device)
        self.seed = seed
        self._batches: dict[
            tuple[int, tuple[float, float] | None, float], MctsBatch | StochasticMctsBatch
        ] = {}

    def value_bounds(self) -> tuple[float, float] | None:
        """Fixed bounds of Gumbel's Q normalisation (``gumbel_value_bounds`` "fitted"):
        ± the spread of returns the value scale was fitted on; None for each node's min-max."""
        if self.config.tree_algorithm != "gumbel" or self.config.gumbel_value_bounds != "fitted":
            return None
        spread = self.net.codec.typical_value()
        return (-spread, spread)

    def gumbel_scale(self, temperature: float) -> float:
        """The multiplier of the root's Gumbel draws in a search with noise at
        ``temperature`` (``gumbel_noise``: the temperature itself, or 1)."""
        return temperature if self.config.gumbel_noise == "temperature" else 1.0

    def _batch(self, size: int, gumbel_scale: float = 1.0) -> MctsBatch | StochasticMctsBatch:
        # the bounds change once, when the value scale is fitted after the warm-up, and the
        # Gumbel scale with each step of the temperature schedule: a few batches in all
        key = (size, self.value_bounds(), gumbel_scale)
        if key not in self._batches:
            common = {
                "seed": self.seed + len(self._batches),
                "value_bounds": key[1],
                "gumbel_scale": gumbel_scale,
                **self.config.mcts_kwargs(),
            }
            if isinstance(self.net, StochasticMuZeroNet):
                self._batches[key] = StochasticMctsBatch(
                    size,
                    self.net.num_actions,
                    self.config.num_simulations,
                    self.net.chance_outcomes,
                    **common,
                )
            else:
                self._batches[key] = MctsBatch(
                    size, self.net.num_actions, self.config.num_simulations, **common
                )
        return self._batches[key]

    @torch.inference_mode()
    def values(self, obs: np.ndarray) -> npt.NDArray[np.float32]:
        """The network's value ``[B]`` of observations ``[B, obs_dim]`` (no search)."""
        _, value, _ = self.net.initial_inference(self._tensor(obs))
        return self.net.codec.to_scalar(value).float().cpu().numpy()

    def _tensor(self, obs: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(obs, np.float32), device=self.device)

    @torch.inference_mode()
    def run(
        self,
        obs: np.ndarray,
        *,
        noise: bool,
        temperature: float = 0.0,
        legal_mask: np.ndarray | None = None,
    ) -> Plan:
        """Searches from observations ``[B, obs_dim]`` (float32); ``temperature`` 0 plays the
        most visited action."""
        net, codec = self.net, self.net.codec
        was_training = net.training
        net.eval()

        prefix = self.config.value_prefix

        def root_fn(x: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            latent, value, logits = net.initial_inference(self._tensor(x))
            if prefix:
                assert net.prefix_lstm is not None
                fresh = latent.new_zeros((len(latent), net.prefix_lstm.hidden_size))
                latent = pack_prefix_state(latent, (fresh, fresh), fresh[:, 0], 0)
            return latent, codec.to_scalar(value), logits

        def recurrent_fn(
            latent: torch.Tensor, action: torch.Tensor
        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
            if not prefix:
                nxt, reward, value, logits = net.recurrent_inference(latent, action)
                return nxt, codec.to_scalar(reward), codec.to_scalar(value), logits
            state, lstm, before, depth = unpack_prefix_state(latent, net.latent_dim)
            # the LSTM learned prefixes of at most K steps: restart it every K levels
            restart = depth % self.config.unroll_steps == 0
            lstm = (
                lstm[0] * ~restart[:, None],
                lstm[1] * ~restart[:, None],
            )
            before = torch.where(restart, torch.zeros_like(before), before)
            nxt, prefix_out, new_lstm = net.dynamics_prefix(state, action, lstm)
            logits, value = net.prediction(nxt)
            after = codec.to_scalar(prefix_out)
            packed = pack_prefix_state(nxt, new_lstm, after, depth + 1)
            return packed, after - before, codec.to_scalar(value), logits

        try:
            batch = self._batch(len(obs), self.gumbel_scale(temperature) if noise else 1.0)
            if isinstance(net, StochasticMuZeroNet):
                assert isinstance(batch, StochasticMctsBatch)

                def afterstate_fn(
                    latent: torch.Tensor, action: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
                    after, q_value, chance_logits = net.afterstate(latent, action)
                    return after, codec.to_scalar(q_value), chance_logits

                def dynamics_fn(
                    afterstate: torch.Tensor, code: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
                    nxt, reward, value, logits = net.chance_step(afterstate, code)
                    return nxt, codec.to_scalar(reward), codec.to_scalar(value), logits

                result = stochastic_search(
                    root_fn,
                    afterstate_fn,
                    dynamics_fn,
                    obs,
                    noise=noise,
                    legal_mask=legal_mask,
                    temperature=temperature,
                    batch=batch,
                )
            else:
                assert isinstance(batch, MctsBatch)
                result = search(
                    root_fn,
                    recurrent_fn,
                    obs,
                    noise=noise,
                    legal_mask=legal_mask,
                    temperature=temperature,
                    batch=batch,
                )
        finally:
            net.train(was_training)
        return Plan(result.action, result.policy_target, result.root_value)

    def search_fn(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Policy targets and root values of a fresh search without noise (for reanalyse).
        Batches are padded to a multiple of 128 rows so that few tree sizes are ever built."""
        n = len(obs)
        padded = np.zeros((-(-n // 128) * 128, *obs.shape[1:]), np.float32)
        padded[:n] = obs
        plan = self.run(padded, noise=False)
        return plan.policy[:n], plan.root_value[:n]
