"""The default starting cash on an inverse contract."""

from __future__ import annotations

import warnings

import lobzero
import pytest


def test_the_default_cash_on_an_inverse_contract_is_a_warning() -> None:
    """Planted defect it catches: without the check, an inverse market with EnvConfig's
    default cash silently trades a 100,000-coin account whose PnL feature is ~0."""
    market = lobzero.synth_market(seconds=60, seed=0).with_contract(
        contract_size="100", inverse=True
    )
    with pytest.warns(UserWarning, match="initial_cash is in the base coin"):
        lobzero.TradingEnv(market)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lobzero.TradingEnv(market, initial_cash=1.0)
        lobzero.TradingEnv(lobzero.synth_market(seconds=60, seed=0))
