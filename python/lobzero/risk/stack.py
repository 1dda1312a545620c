"""`RiskStack`: the guards of a :class:`RiskConfig` composed in one fixed order, for the paper
loop and (through :class:`~lobzero.risk.wrapper.RiskWrapper`) the environment.

Order (:data:`GUARD_ORDER`): the kill switch and the circuit breaker first (they flatten
whatever comes after), then the trailing stop (an exit), then sizing and pyramiding (they
shape the size), and the limits last, so no guard after them can exceed a hard cap (no guard
ever increases a target anyway).
"""

from __future__ import annotations

import pickle
from pathlib import Path

from lobzero.exceptions import ConfigError
from lobzero.risk.config import RiskConfig
from lobzero.risk.guards import GUARDS, CircuitBreaker, KillSwitch, RiskGuard
from lobzero.risk.state import Context, Decision, GuardState, MarkHistory, Portfolio, RiskEvent

#: the order the guards run in
GUARD_ORDER = ("kill_switch", "circuit_breaker", "trailing_stop", "sizing", "pyramiding", "limits")


class RiskStack:
    """The guards of ``config`` (a :class:`RiskConfig`, or the path of its TOML file).

    Call :meth:`decide` once per symbol and decision with the state the agent acted in and
    the target it intends (units of size); it returns the :class:`Decision`, the allowed
    target and the interventions. The portfolio (for total limits, the breaker's and the kill
    switch's equity) is every symbol's latest state: its equity is their sum unless
    ``portfolio_equity`` (one shared account's equity) is given.
    """

    def __init__(self, config: RiskConfig | str | Path) -> None:
        self.config = config if isinstance(config, RiskConfig) else RiskConfig.load(config)
        if not isinstance(self.config, RiskConfig):
            raise ConfigError(f"RiskStack needs a RiskConfig, got {config!r}")
        self.guards: list[RiskGuard] = [
            GUARDS[name](getattr(self.config, name))  # type: ignore[call-arg]
            for name in GUARD_ORDER
            if getattr(self.config, name) is not None
        ]
        self._history_length = max([g.history_length for g in self.guards], default=2)
        self.reset()

    def reset(self) -> None:
        """Forgets every state seen (a new account): guards, histories, the portfolio."""
        self.portfolio = Portfolio()
        self.histories: dict[str, MarkHistory] = {}
        for guard in self.guards:
            guard.reset()

    def state(self) -> bytes:
        """Everything the stack remembers (each guard's state: the breaker's state and peak,
        the trailing stops' armed levels, the pyramiding steps, the kill switch's window, ...;
        the marks' histories; the portfolio), as bytes for the paper loop's database. The
        configuration is not in it: :meth:`restore` keeps the stack's own."""
        guards = {g.name: {k: v for k, v in vars(g).items() if k != "config"} for g in self.guards}
        return pickle.dumps(
            {"guards": guards, "histories": self.histories, "portfolio": self.portfolio},
            protocol=pickle.HIGHEST_PROTOCOL,
        )

    def restore(self, state: bytes) -> None:
        """Takes back a :meth:`state` (a resumed paper run: a halted breaker stays halted).
        A state of other guards than this stack's is a :class:`ConfigError`."""
        # the bytes come from the loop's own database, written by state()
        data = pickle.loads(state)
        names = [g.name for g in self.guards]
        if sorted(data["guards"]) != sorted(names):
            raise ConfigError(
                f"the stored risk state is of the guards {sorted(data['guards'])}, the risk "
                f"configuration runs {sorted(names)}"
            )
        for guard in self.guards:
            vars(guard).update(data["guards"][guard.name])
        self.histories = data["histories"]
        self.portfolio = data["portfolio"]

    def guard(self, name: str) -> RiskGuard | None:
        """The running guard called ``name`` (None when it is not configured)."""
        return next((g for g in self.guards if g.name == name), None)

    @property
    def breaker_state(self) -> str | None:
        """The circuit breaker's state ("active", "reducing", "halted"; None: no breaker)."""
        breaker = self.guard("circuit_breaker")
        return breaker.state if isinstance(breaker, CircuitBreaker) else None

    @property
    def killed(self) -> bool:
        """Whether the kill switch has tripped."""
        switch = self.guard("kill_switch")
        return isinstance(switch, KillSwitch) and switch.tripped

    def resume(self) -> None:
        """Resumes trading after the circuit breaker tripped (the only way it does)."""
        breaker = self.guard("circuit_breaker")
        if not isinstance(breaker, CircuitBreaker):
            raise ConfigError("resume(): no circuit breaker is configured")
        breaker.resume()

    def rearm(self) -> None:
        """Re-enables trading after the kill switch tripped (the only way it does)."""
        switch = self.guard("kill_switch")
        if not isinstance(switch, KillSwitch):
            raise ConfigError("rearm(): no kill switch is configured")
        switch.rearm()

    def decide(
        self,
        symbol: str,
        state: GuardState,
        target: float,
        portfolio_equity: float | None = None,
    ) -> Decision:
        """The target the guards allow for ``symbol`` given the ``state`` the agent acted in
        and its intended ``target`` (units of size); events in guard order."""
        if not isinstance(state, GuardState):
            raise ConfigError(f"decide() needs a GuardState, got {type(state).__name__}")
        intended = float(target)
        history = self.histories.setdefault(symbol, MarkHistory(self._history_length))
        history.push(state.mark)
        self.portfolio.states[symbol] = state
        self.portfolio.equity = (
            float(portfolio_equity)
            if portfolio_equity is not None
            else sum(s.equity for s in self.portfolio.states.values())
        )
        ctx = Context(symbol, state, history, self.portfolio)
        events: list[RiskEvent] = []
        allowed = intended
        for guard in self.guards:
            new, reason = guard.apply(ctx, allowed)
            if reason is not None:  # a change, or a trip / halt the caller must hear of
                events.append(RiskEvent(guard.name, symbol, allowed, new, reason))
            allowed = new
        self.portfolio.targets[symbol] = allowed
        return Decision(allowed, intended, tuple(events))
