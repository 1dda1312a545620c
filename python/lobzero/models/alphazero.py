"""The dual-head network of the roadmap (AlphaZero): a shared residual trunk with a softmax
policy head and a tanh value head. lobzero uses it as MuZero's prediction function f
(``MuZeroNet(prediction="alphazero")``) and as a stand-alone policy / value network."""

from __future__ import annotations

import torch
from torch import nn


class ResidualBlock(nn.Module):
    """Pre-norm residual MLP block: ``x + W2·relu(W1·layernorm(x))``, width unchanged."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, width)
        self.fc2 = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc2(torch.relu(self.fc1(self.norm(x))))


class AlphaZeroNet(nn.Module):
    """Input ``[B, in_dim]`` (e.g. 78 order-book features) → policy logits ``[B, num_actions]``
    (softmax gives the policy) and value ``[B]`` in [-1, 1] (tanh)."""

    def __init__(self, in_dim: int = 78, num_actions: int = 5, hidden: int = 256, blocks: int = 3):
        super().__init__()
        self.trunk = nn.Sequential(
            nn.Linear(in_dim, hidden),
            *[ResidualBlock(hidden) for _ in range(blocks)],
            nn.LayerNorm(hidden),
            nn.ReLU(),
        )
        self.policy_head = nn.Linear(hidden, num_actions)
        self.value_head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(x)
        return self.policy_head(h), torch.tanh(self.value_head(h)).squeeze(-1)

    def policy(self, x: torch.Tensor) -> torch.Tensor:
        """Action probabilities ``[B, num_actions]`` (rows sum to 1)."""
        return torch.softmax(self.forward(x)[0], dim=-1)
