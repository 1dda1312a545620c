"""Stochastic MuZero's networks (Antonoglou, Schrittwieser, Ozair, Hubert & Silver, "Planning
in Stochastic Environments with a Learned Model", ICLR 2022).

A trade is a decision and the market's move is chance: the model splits a step in two.

- h (representation) and f (prediction): as in :class:`~lobzero.models.muzero_net.MuZeroNet`;
- φ (afterstate dynamics): latent ``s [B, D]`` + one-hot action → afterstate ``as [B, D]``
  (what the agent's own action determines: position, fee);
- ψ (afterstate prediction): ``as`` → chance logits ``σ [B, C]`` over the ``C`` chance codes
  and the afterstate value ``Q [B, W]``;
- g (dynamics): ``as`` + one-hot code ``c [B, C]`` → next latent ``s' [B, D]`` and reward
  ``[B, W]`` (the market's move decides the PnL);
- e (chance encoder): the next observation ``[B, obs_dim]`` → code ``c``: a VQ-VAE with the
  fixed codebook of the ``C`` one-hot vectors, so the code is the one-hot of the encoder's
  argmax, with the straight-through gradient of its softmax.

Latents and afterstates are min-max scaled to [0, 1] like MuZero's; ``W`` is the value codec's
width (categorical or scalar, see :class:`~lobzero.models.muzero_net.ValueCodec`).
"""

from __future__ import annotations

from typing import Any

import numpy.typing as npt
import torch
from torch import nn
from torch.nn import functional

from lobzero.exceptions import ConfigError
from lobzero.models.muzero_net import MuZeroNet, residual_mlp, scale_latent


class StochasticMuZeroNet(MuZeroNet):
    """MuZero's h and f, plus φ, ψ, g over codes and the chance encoder e (module docstring).

    ``chance_outcomes``: the codebook size ``C``. Other arguments as :class:`MuZeroNet`.
    """

    def __init__(
        self,
        obs_dim: int,
        num_actions: int,
        *,
        chance_outcomes: int = 8,
        latent_dim: int = 64,
        hidden: int = 128,
        blocks: int = 2,
        obs_low: npt.ArrayLike | None = None,
        obs_high: npt.ArrayLike | None = None,
        **kwargs: Any,
    ) -> None:
        if chance_outcomes < 2:
            raise ConfigError(f"chance_outcomes must be >= 2, got {chance_outcomes}")
        if kwargs.get("prediction", "mlp") != "mlp":
            raise ConfigError("Stochastic MuZero's prediction networks are MLPs ('mlp')")
        super().__init__(
            obs_dim,
            num_actions,
            latent_dim=latent_dim,
            hidden=hidden,
            blocks=blocks,
            obs_low=obs_low,
            obs_high=obs_high,
            **kwargs,
        )
        self.chance_outcomes = chance_outcomes
        width = self.codec.width
        # g reads (afterstate, code) instead of (latent, action)
        self.dynamics_net = residual_mlp(latent_dim + chance_outcomes, hidden, hidden, blocks)
        self.afterstate_net = residual_mlp(latent_dim + num_actions, hidden, latent_dim, blocks)
        self.afterstate_prediction_net = residual_mlp(
            latent_dim, hidden, chance_outcomes + width, blocks
        )
        self.chance_encoder = residual_mlp(obs_dim, hidden, chance_outcomes, 1)
        # a new network: uniform chance prior and Q of 0, like the other heads
        last = self.afterstate_prediction_net[-1]
        assert isinstance(last, nn.Linear)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def afterstate(
        self, latent: torch.Tensor, action: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """φ then ψ: latents ``[B, D]`` and actions ``[B]`` (int64) → afterstates ``[B, D]``,
        Q outputs ``[B, W]`` and chance logits ``[B, C]``."""
        one_hot = functional.one_hot(action.long(), self.num_actions).to(latent.dtype)
        after = scale_latent(self.afterstate_net(torch.cat([latent, one_hot], dim=1)))
        out = self.afterstate_prediction_net(after)
        return after, out[:, self.chance_outcomes :], out[:, : self.chance_outcomes]

    def chance_step(
        self, afterstate: torch.Tensor, code: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """g then f: afterstates ``[B, D]`` and codes (``[B]`` int64 indices or ``[B, C]``
        one-hot, straight-through) → next latents ``[B, D]``, reward outputs ``[B, W]``, value
        outputs ``[B, W]`` and policy logits ``[B, A]``."""
        if code.dim() == 1:
            code = functional.one_hot(code.long(), self.chance_outcomes).to(afterstate.dtype)
        h = self.dynamics_net(torch.cat([afterstate, code], dim=1))
        nxt = scale_latent(self.next_latent_head(h))
        logits, value = self.prediction(nxt)
        return nxt, self.reward_head(h), value, logits

    def encode_chance(self, next_obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """e: next observations ``[B, obs_dim]`` → (code ``[B, C]``: one-hot in the forward
        pass, the softmax's gradient in the backward pass; the softmax ``[B, C]``)."""
        probs = torch.softmax(self.chance_encoder(self.normalizer(next_obs)), dim=-1)
        hard = functional.one_hot(probs.argmax(-1), self.chance_outcomes).to(probs.dtype)
        return hard + probs - probs.detach(), probs

    def recurrent_inference(
        self, latent: torch.Tensor, action: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """A full step with the most likely chance code (what a deterministic search over this
        model would see): next latents, reward, value outputs and policy logits."""
        after, _, chance_logits = self.afterstate(latent, action)
        return self.chance_step(after, chance_logits.argmax(-1))
