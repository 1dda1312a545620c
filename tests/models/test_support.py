"""The value transform and the categorical support."""

from __future__ import annotations

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from lobzero.models import (
    inverse_scale_transform,
    scalar_to_support,
    scale_transform,
    support_to_scalar,
)

finite = st.floats(min_value=-1e5, max_value=1e5, allow_nan=False)


def test_transform_by_hand() -> None:
    # h(3) = sqrt(4) - 1 + 0.003 = 1.003; h(-8) = -(3 - 1) - 0.008 = -2.008; h(0) = 0
    x = torch.tensor([3.0, -8.0, 0.0], dtype=torch.float64)
    assert torch.allclose(scale_transform(x), torch.tensor([1.003, -2.008, 0.0], dtype=x.dtype))


@settings(max_examples=200, deadline=None)
@given(st.lists(finite, min_size=1, max_size=20))
def test_inverse_transform_round_trips(values: list[float]) -> None:
    x = torch.tensor(values, dtype=torch.float64)
    back = inverse_scale_transform(scale_transform(x))
    assert torch.allclose(back, x, rtol=1e-9, atol=1e-7)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=-5e3, max_value=5e3, allow_nan=False), min_size=1, max_size=20))
def test_support_round_trips(values: list[float]) -> None:
    """Two-hot targets sum to 1, have h(x) as expectation, and decode back to x."""
    x = torch.tensor(values, dtype=torch.float64)
    dist = scalar_to_support(x, support_size=300)
    assert dist.shape == (len(values), 601)
    assert torch.allclose(dist.sum(-1), torch.ones(len(values), dtype=x.dtype))
    assert (dist >= 0).all() and ((dist > 0).sum(-1) <= 2).all()
    atoms = torch.arange(-300, 301, dtype=x.dtype)
    assert torch.allclose((dist * atoms).sum(-1), scale_transform(x), atol=1e-9)
    logits = torch.log(dist.clamp(min=1e-300))
    assert torch.allclose(support_to_scalar(logits), x, rtol=1e-6, atol=1e-5)


def test_support_clips_beyond_its_ends() -> None:
    # h(1e6) ≈ 1999: far past a support of 10 → all weight on the last atom
    dist = scalar_to_support(torch.tensor([1e6, -1e6]), support_size=10)
    assert dist[0, -1] == 1.0 and dist[1, 0] == 1.0


def test_two_hot_by_hand() -> None:
    # x = 3 → h = 1.003: weight 0.997 on atom 1 and 0.003 on atom 2
    dist = scalar_to_support(torch.tensor([3.0], dtype=torch.float64), support_size=5)[0]
    assert math.isclose(float(dist[5 + 1]), 0.997, rel_tol=1e-9)
    assert math.isclose(float(dist[5 + 2]), 0.003, rel_tol=1e-6)
