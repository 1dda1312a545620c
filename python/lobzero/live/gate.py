"""The champion/challenger gate: a challenger replaces the champion only if, on a validation
range neither of them trained on, its Sharpe ratio is at least ``ratio`` times the champion's
(for a negative champion Sharpe: at least the champion's plus ``ratio - 1`` times its
magnitude, so "5 % better" never admits a worse one), at least ``sharpe_floor``, and its
train - validation Sharpe gap is at most ``max_gap`` times its train Sharpe's magnitude (a
challenger that fits its training range far better than it validates has overfit; relative,
because annualized Sharpe ratios of sub-second decisions run into the thousands)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from lobzero.config import TomlConfig
from lobzero.exceptions import ConfigError


@dataclass(frozen=True)
class GateConfig(TomlConfig):
    """Thresholds of the champion/challenger gate."""

    #: the challenger's validation Sharpe must be >= ratio x the champion's
    ratio: float = 1.05
    #: ... and >= this floor
    sharpe_floor: float = 0.0
    #: ... and its train Sharpe minus its validation Sharpe <= max_gap x |train Sharpe|
    max_gap: float = 0.5

    def __post_init__(self) -> None:
        if not (math.isfinite(self.ratio) and self.ratio >= 1.0):
            raise ConfigError(f"GateConfig.ratio must be >= 1, got {self.ratio}")
        if not (math.isfinite(self.max_gap) and self.max_gap >= 0):
            raise ConfigError(f"GateConfig.max_gap must be >= 0, got {self.max_gap}")


@dataclass(frozen=True)
class GateDecision:
    promoted: bool
    reason: str


def gate(
    champion_validation: float,
    challenger_validation: float,
    challenger_train: float,
    config: GateConfig | None = None,
) -> GateDecision:
    """Whether the challenger is promoted, and why (Sharpe ratios, annualized). A NaN score
    (an undefined Sharpe: no trade, flat equity) never promotes."""
    c = config or GateConfig()
    champ, chall, train = champion_validation, challenger_validation, challenger_train
    if math.isnan(chall) or math.isnan(train):
        return GateDecision(False, "challenger Sharpe undefined")
    if not math.isnan(champ):
        needed = champ + (c.ratio - 1.0) * abs(champ)
        if chall < needed:
            return GateDecision(
                False,
                f"validation Sharpe {chall:.3f} < {needed:.3f} "
                f"({c.ratio:g} x champion {champ:.3f})",
            )
    if chall < c.sharpe_floor:
        return GateDecision(False, f"validation Sharpe {chall:.3f} < floor {c.sharpe_floor:g}")
    gap = train - chall
    if gap > c.max_gap * abs(train):
        return GateDecision(
            False, f"train - validation gap {gap:.3f} > {c.max_gap:g} x train Sharpe {train:.3f}"
        )
    return GateDecision(
        True, f"validation Sharpe {chall:.3f} vs champion {champ:.3f}, gap {gap:.3f}"
    )
