"""The value and reward heads' scale: what a categorical head reports for noisy targets, the
scale fitted to the data, and the diagnostics that say when a support does not fit."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lobzero.exceptions import ConfigError
from lobzero.models import ValueCodec
from lobzero.muzero.learner import value_target_stats
from lobzero.muzero.trainer import _ScaleWarnings


def reported_mean(codec: ValueCodec, targets: torch.Tensor) -> float:
    """What a categorical head trained to convergence on ``targets`` reports: cross-entropy
    against two-hot targets is minimised by their mean distribution, read back by to_scalar."""
    from lobzero.models.support import scalar_to_support

    two_hot = scalar_to_support(codec.encode(targets), codec.support_size, transform=False)
    mean = two_hot.mean(0)
    return float(codec.to_scalar(torch.log(mean.clamp(min=1e-30))))


def test_linear_support_reports_the_mean_of_noisy_targets() -> None:
    """A one-step PnL: a small edge (+2) under large noise (sd 30). The linear support reports
    E[z]; MuZero's sqrt transform reports h⁻¹(E[h(z)]), well inside it (the defect: a bias
    toward 0 for a noisy edge, while a deterministic fee is learned exactly)."""
    torch.manual_seed(0)
    targets = 2.0 + 30.0 * torch.randn(200_000, dtype=torch.float64)
    linear = ValueCodec(50, transform="linear")
    linear.fit_scale(targets)
    assert reported_mean(linear, targets) == pytest.approx(float(targets.mean()), rel=0.02)
    sqrt = ValueCodec(300, transform="sqrt")
    assert reported_mean(sqrt, targets) < 0.6 * float(targets.mean())
    # a deterministic value is exact on both
    fee = torch.full((100,), -6.0, dtype=torch.float64)
    assert reported_mean(sqrt, fee) == pytest.approx(-6.0, abs=1e-6)
    assert reported_mean(linear, fee) == pytest.approx(-6.0, abs=1e-6)


@pytest.mark.parametrize(("transform", "support"), [("linear", 50), ("sqrt", 50), ("linear", 0)])
def test_fitted_scale_puts_the_spread_inside_the_support(transform: str, support: int) -> None:
    returns = torch.as_tensor(np.random.default_rng(0).standard_t(3, 10_000) * 80.0)
    codec = ValueCodec(support, transform=transform)
    codec.fit_scale(returns)
    spread = float(torch.quantile(returns.abs(), 0.99))
    assert bool(codec.fitted) and float(codec.spread) == pytest.approx(spread)
    assert codec.typical_value() == pytest.approx(spread, rel=1e-9)
    if support:
        assert float(codec.encode(torch.tensor(spread, dtype=torch.float64))) == pytest.approx(
            ValueCodec.FIT_SHARE * support
        )
        assert float(codec.clipped(returns).double().mean()) < 0.001
    # encode and decode are inverses on the fitted scale
    x = torch.linspace(-500, 500, 11, dtype=torch.float64)
    assert torch.allclose(codec.decode(codec.encode(x)), x)


def test_degenerate_data_keeps_the_scale() -> None:
    codec = ValueCodec(50)
    assert codec.fit_scale(torch.zeros(10)) == 1.0 and not bool(codec.fitted)
    with pytest.raises(ConfigError, match="value_transform"):
        ValueCodec(50, transform="log")
    with pytest.raises(ConfigError, match="scale"):
        ValueCodec(50, scale=0.0)


def test_the_trainer_warns_when_the_support_does_not_fit() -> None:
    """The defect: the CLI's support of 300 atoms (±$58.7k with the sqrt transform) used < 5 %
    of its atoms on dollar-scale PnL, and support 50 clipped ~1 % of good returns; nothing
    said so. Planted here: both mismatches, each warned about once."""
    returns = torch.as_tensor(np.random.default_rng(1).normal(0, 20, 5000))
    wide = value_target_stats(ValueCodec(300, transform="sqrt"), returns)
    assert wide["value_target_clipped"] == 0.0 and wide["support_used"] < 0.05
    narrow = value_target_stats(ValueCodec(5, transform="linear"), returns)
    assert narrow["value_target_clipped"] > 0.5
    warn = _ScaleWarnings()
    with pytest.warns(UserWarning, match="use .* of the support"):
        warn.check(wide)
    with pytest.warns(UserWarning, match="beyond the support"):
        warn.check(narrow)
    fitted = ValueCodec(50)
    fitted.fit_scale(returns)
    stats = value_target_stats(fitted, returns)
    assert stats["value_target_clipped"] == 0.0 and 0.2 < stats["support_used"] < 0.35
