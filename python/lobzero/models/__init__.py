"""torch networks: MuZero's h/g/f, the AlphaZero dual-head network, the support transforms."""

from lobzero.models.alphazero import AlphaZeroNet, ResidualBlock
from lobzero.models.muzero_net import MuZeroNet, ObsNormalizer, ValueCodec
from lobzero.models.support import (
    inverse_scale_transform,
    scalar_to_support,
    scale_transform,
    support_to_scalar,
)

__all__ = [
    "AlphaZeroNet",
    "MuZeroNet",
    "ObsNormalizer",
    "ResidualBlock",
    "ValueCodec",
    "inverse_scale_transform",
    "scalar_to_support",
    "scale_transform",
    "support_to_scalar",
]
