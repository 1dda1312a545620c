"""The risk layer in the paper loop: a :class:`~lobzero.risk.RiskStack` behind the loop's
:class:`~lobzero.live.orchestrator.RiskFilter` seam, with the same action-to-target
conversion as :class:`~lobzero.risk.RiskWrapper`, so a guard's rule is written once."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lobzero.envs import EnvConfig
from lobzero.live.orchestrator import IntendedAction
from lobzero.risk import ActionCodec, GuardState, RiskConfig, RiskEvent, RiskStack


class StackRiskFilter:
    """Passes each intended action through ``stack``: the action becomes a target position
    (units of size) by the symbol's :class:`ActionCodec`, the guards may shrink it, and the
    closest action of the mode that does not go past the allowed target is executed.
    ``lots``: units of size of one lot, per symbol. Every intervention is kept in
    :attr:`events` (in decision order)."""

    def __init__(self, stack: RiskStack, env_config: EnvConfig, lots: Mapping[str, float]):
        self.stack = stack
        self.codecs = {symbol: ActionCodec(env_config, lot) for symbol, lot in lots.items()}
        self.events: list[RiskEvent] = []

    def __call__(self, intent: IntendedAction, /) -> Any:
        codec = self.codecs[intent.symbol]
        state = GuardState.from_info(intent.info)
        target = codec.target_of(intent.action, state.position)
        decision = self.stack.decide(intent.symbol, state, target)
        self.events.extend(decision.events)
        return codec.action_for(decision.target, state.position, intent.action)

    def state(self) -> bytes:
        """The stack's state (the loop stores it with each commit)."""
        return self.stack.state()

    def restore(self, state: bytes) -> None:
        """Takes back a stored state (a resumed run)."""
        self.stack.restore(state)


def risk_filter_from_toml(
    path: str | Path, env_config: EnvConfig, lots: Mapping[str, float]
) -> StackRiskFilter:
    """The guards of a risk TOML (:class:`RiskConfig`) for the symbols of ``lots``."""
    return StackRiskFilter(RiskStack(RiskConfig.load(path)), env_config, lots)
