"""Categorical value and reward heads: the invertible transform and the two-hot support.

MuZero predicts values and rewards as distributions over the integers ``-S..S`` of a
transformed scale (appendix F of the MuZero paper): a scalar ``x`` is squashed by
``h(x) = sign(x)(sqrt(|x| + 1) - 1) + eps·x``, then split between the two nearest integers of the
support (two-hot). A predicted distribution is turned back into a scalar by its expectation on
the support followed by ``h⁻¹``, the exact inverse::

    h⁻¹(y) = sign(y) · (((sqrt(1 + 4·eps·(|y| + 1 + eps)) - 1) / (2·eps))² - 1)

Shapes: scalars ``[...]``, distributions ``[..., 2S + 1]`` (index ``i`` is the support value
``i - S``).
"""

from __future__ import annotations

import torch

DEFAULT_EPS = 0.001


def scale_transform(x: torch.Tensor, eps: float = DEFAULT_EPS) -> torch.Tensor:
    """``h(x)``, elementwise; same shape as ``x``."""
    return torch.sign(x) * (torch.sqrt(torch.abs(x) + 1.0) - 1.0) + eps * x


def inverse_scale_transform(y: torch.Tensor, eps: float = DEFAULT_EPS) -> torch.Tensor:
    """``h⁻¹(y)``, elementwise, exact for ``eps > 0`` (plain squaring when ``eps`` is 0)."""
    if eps == 0.0:
        return torch.sign(y) * ((torch.abs(y) + 1.0) ** 2 - 1.0)
    root = (torch.sqrt(1.0 + 4.0 * eps * (torch.abs(y) + 1.0 + eps)) - 1.0) / (2.0 * eps)
    return torch.sign(y) * (root**2 - 1.0)


def scalar_to_support(
    x: torch.Tensor, support_size: int, eps: float = DEFAULT_EPS, transform: bool = True
) -> torch.Tensor:
    """Two-hot target distribution ``[..., 2S + 1]`` of scalars ``x [...]``.

    Values beyond the support are clipped to its ends, so the target's expectation is ``h(x)``
    whenever ``|h(x)| <= S``.
    """
    y = scale_transform(x, eps) if transform else x
    y = y.clamp(-float(support_size), float(support_size))
    low = torch.floor(y)
    upper_weight = y - low
    low_index = (low + support_size).long()
    out = torch.zeros(*y.shape, 2 * support_size + 1, dtype=y.dtype, device=y.device)
    out.scatter_(-1, low_index.unsqueeze(-1), (1.0 - upper_weight).unsqueeze(-1))
    # at the top end of the support the upper weight is 0: put it on the same index
    high_index = (low_index + 1).clamp(max=2 * support_size)
    out.scatter_add_(-1, high_index.unsqueeze(-1), upper_weight.unsqueeze(-1))
    return out


def support_to_scalar(
    logits: torch.Tensor, eps: float = DEFAULT_EPS, transform: bool = True
) -> torch.Tensor:
    """Scalars ``[...]`` of distributions given as logits ``[..., 2S + 1]``."""
    support_size = (logits.shape[-1] - 1) // 2
    values = torch.arange(-support_size, support_size + 1, dtype=logits.dtype, device=logits.device)
    y = (torch.softmax(logits, dim=-1) * values).sum(-1)
    return inverse_scale_transform(y, eps) if transform else y
