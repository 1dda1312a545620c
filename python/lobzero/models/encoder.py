"""The order-book encoder: a trunk over windows of the book and three task heads.

Input ``x`` [B, window, levels, channels] (normalised, see :mod:`lobzero.encoder.samples`).

- ``deeplob`` (after Zhang, Zohren and Roberts, DeepLOB, 2019): a 1×1 convolution mixes the
  channels of each level, a convolution over time follows, a convolution across all levels
  collapses them; an inception block (1×1 → 3×1, 1×1 → 5×1, 3×1 max-pool → 1×1) looks at
  several time scales; a GRU runs over time and its last state is the trunk.
- ``transformer``: each sample's levels × channels are projected to ``width``, a learned
  position is added, ``layers`` transformer encoder layers run over the window and the last
  sample's output is the trunk.

The trunk is followed by a linear layer to ``hidden`` features (:meth:`MultiTaskEncoder.encode`,
what agents use), then the heads: signal logits [B, n_horizons, 3], volatility [B, n_horizons]
(log(1 + ticks)), regime logits [B, 3].
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import nn


class EncoderOutput(NamedTuple):
    """What the encoder predicts for a batch of B windows."""

    #: [B, n_horizons, 3] logits of down / flat / up per horizon
    signal_logits: torch.Tensor
    #: [B, n_horizons] log(1 + realised volatility in ticks) per horizon
    volatility: torch.Tensor
    #: [B, 3] logits of calm / trending / volatile
    regime_logits: torch.Tensor
    #: [B, hidden] the shared features (the trunk's output)
    features: torch.Tensor


class Inception(nn.Module):
    """Three branches over time (kernel 3, kernel 5, max-pool), concatenated: [B, 3·w, T, 1]."""

    def __init__(self, width: int) -> None:
        super().__init__()

        def branch(k: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(width, width, 1),
                nn.LeakyReLU(0.01),
                nn.Conv2d(width, width, (k, 1), padding=(k // 2, 0)),
                nn.LeakyReLU(0.01),
            )

        self.b3, self.b5 = branch(3), branch(5)
        self.pool = nn.Sequential(
            nn.MaxPool2d((3, 1), stride=1, padding=(1, 0)),
            nn.Conv2d(width, width, 1),
            nn.LeakyReLU(0.01),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b3(x), self.b5(x), self.pool(x)], dim=1)


class DeepLobTrunk(nn.Module):
    """[B, T, L, C] → [B, hidden] (see the module docstring)."""

    def __init__(self, levels: int, channels: int, width: int, hidden: int) -> None:
        super().__init__()
        act = nn.LeakyReLU(0.01)
        self.conv = nn.Sequential(
            nn.Conv2d(channels, width, 1),
            act,
            nn.Conv2d(width, width, (3, 1), padding=(1, 0)),
            act,
            nn.Conv2d(width, width, (1, levels)),
            act,
        )
        self.inception = Inception(width)
        self.rnn = nn.GRU(3 * width, hidden, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x.permute(0, 3, 1, 2))  # [B, C, T, L] -> [B, w, T, 1]
        h = self.inception(h).squeeze(-1).transpose(1, 2)  # [B, T, 3w]
        _, last = self.rnn(h)
        return last[-1]


class TransformerTrunk(nn.Module):
    """[B, T, L, C] → [B, width] (see the module docstring)."""

    def __init__(self, window: int, levels: int, channels: int, width: int, layers: int) -> None:
        super().__init__()
        self.project = nn.Linear(levels * channels, width)
        self.position = nn.Parameter(torch.zeros(1, window, width))
        layer = nn.TransformerEncoderLayer(
            width,
            nhead=max(1, width // 16),
            dim_feedforward=2 * width,
            batch_first=True,
            dropout=0.0,
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t = x.shape[:2]
        h = self.project(x.reshape(b, t, -1)) + self.position[:, -t:]
        return self.encoder(h)[:, -1]


class MultiTaskEncoder(nn.Module):
    """The trunk, a shared linear layer of ``hidden`` features and three heads."""

    volatility_mean: torch.Tensor
    volatility_std: torch.Tensor
    signal_class_weight: torch.Tensor
    regime_class_weight: torch.Tensor

    def __init__(
        self,
        arch: str,
        window: int,
        levels: int,
        channels: int,
        n_horizons: int,
        width: int = 16,
        hidden: int = 64,
        layers: int = 2,
    ) -> None:
        super().__init__()
        self.kwargs: dict[str, Any] = dict(
            arch=arch,
            window=window,
            levels=levels,
            channels=channels,
            n_horizons=n_horizons,
            width=width,
            hidden=hidden,
            layers=layers,
        )
        if arch == "deeplob":
            self.trunk: nn.Module = DeepLobTrunk(levels, channels, width, hidden)
            trunk_out = hidden
        elif arch == "transformer":
            self.trunk = TransformerTrunk(window, levels, channels, width, layers)
            trunk_out = width
        else:
            raise ValueError(f"unknown encoder arch {arch!r}: deeplob or transformer")
        self.shared = nn.Sequential(nn.Linear(trunk_out, hidden), nn.LeakyReLU(0.01))
        self.n_horizons = n_horizons
        self.signal = nn.Linear(hidden, n_horizons * 3)
        self.volatility = nn.Linear(hidden, n_horizons)
        self.regime = nn.Linear(hidden, 3)
        self.hidden = hidden
        # the volatility head predicts z-scores; these (the training labels' statistics, set by
        # the trainer, saved with the weights) bring them back to log(1 + ticks)
        self.register_buffer("volatility_mean", torch.zeros(n_horizons))
        self.register_buffer("volatility_std", torch.ones(n_horizons))
        # the cross-entropies' class weights of the training run (ones: unweighted)
        self.register_buffer("signal_class_weight", torch.ones(n_horizons, 3))
        self.register_buffer("regime_class_weight", torch.ones(3))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """[B, window, levels, channels] → [B, hidden] features."""
        return self.shared(self.trunk(x))

    def forward(self, x: torch.Tensor) -> EncoderOutput:
        f = self.encode(x)
        return EncoderOutput(
            self.signal(f).view(-1, self.n_horizons, 3),
            self.volatility(f) * self.volatility_std + self.volatility_mean,
            self.regime(f),
            f,
        )
