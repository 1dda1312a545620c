"""Risk layer: guards applied after the agent's action, for the paper loop
(:class:`RiskStack`: ``decide(symbol, state, target) -> Decision``) and the environment
(:class:`RiskWrapper`, a gymnasium wrapper on the same objects). Configured by a
:class:`RiskConfig` (TOML); the guards run in the order :data:`GUARD_ORDER`."""

from lobzero.risk.config import (
    CircuitBreakerConfig,
    KillSwitchConfig,
    LimitsConfig,
    PyramidingConfig,
    RiskConfig,
    SizingConfig,
    TrailingStopConfig,
)
from lobzero.risk.guards import (
    GUARDS,
    CircuitBreaker,
    KillSwitch,
    Limits,
    Pyramiding,
    RiskGuard,
    Sizing,
    TrailingStop,
)
from lobzero.risk.stack import GUARD_ORDER, RiskStack
from lobzero.risk.state import Context, Decision, GuardState, MarkHistory, Portfolio, RiskEvent
from lobzero.risk.wrapper import (
    ActionCodec,
    CircuitBreakerWrapper,
    KillSwitchWrapper,
    LimitsWrapper,
    PyramidingWrapper,
    RiskWrapper,
    SizingWrapper,
    TrailingStopWrapper,
)

__all__ = [
    "GUARDS",
    "GUARD_ORDER",
    "ActionCodec",
    "CircuitBreaker",
    "CircuitBreakerConfig",
    "CircuitBreakerWrapper",
    "Context",
    "Decision",
    "GuardState",
    "KillSwitch",
    "KillSwitchConfig",
    "KillSwitchWrapper",
    "Limits",
    "LimitsConfig",
    "LimitsWrapper",
    "MarkHistory",
    "Portfolio",
    "Pyramiding",
    "PyramidingConfig",
    "PyramidingWrapper",
    "RiskConfig",
    "RiskEvent",
    "RiskGuard",
    "RiskStack",
    "RiskWrapper",
    "Sizing",
    "SizingConfig",
    "SizingWrapper",
    "TrailingStop",
    "TrailingStopConfig",
    "TrailingStopWrapper",
]
