"""`EnvConfig`: everything a trading environment needs, in user units (ms, units of size,
the instrument's settlement currency)."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

from lobzero import _core
from lobzero.config import TomlConfig
from lobzero.data.market import Instrument
from lobzero.exceptions import ConfigError

#: EnvConfig's starting cash, quote currency (on an inverse contract, cash is coin: a warning)
DEFAULT_INITIAL_CASH = 100_000.0

ALL_FEATURES = (
    "levels",
    "spread",
    "imbalance",
    "ofi",
    "microprice",
    "returns",
    "volatility",
    "trade_flow",
    "position",
    "unrealized_pnl",
    "time_fraction",
)


PERTURBATIONS = ("slippage", "price_gap", "liquidity", "latency_spike", "obs_noise", "reward")


def _number(owner: str, name: str, value: Any) -> float:
    """A finite number, or a :class:`ConfigError` naming the field."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{owner}.{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{owner}.{name} must be finite, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class AdversaryConfig(TomlConfig):
    """Adversarial market injection, applied inside every environment step.

    Each perturbation fires at a decision with probability ``intensity`` (0.2 = the 20 %
    injection level), unless its own probability is given (``slippage=0.05`` and so on, absolute
    per-decision probabilities). Draws come from the environment's seed on a stream of their own;
    with every probability 0 the environment is bit-identical to one without an adversary.

    - ``slippage``: fills land ``slippage_ticks`` further against the trader;
    - ``price_gap``: the whole book moves ``gap_ticks`` up or down for the rest of the episode;
    - ``liquidity``: the best ``liquidity_levels`` levels a side lose ``liquidity_fraction`` of
      their size for ``liquidity_steps`` decisions (for fills and features alike);
    - ``latency_spike``: the order latency is multiplied by ``latency_multiplier``;
    - ``obs_noise``: Gaussian noise of std ``noise_std`` on every feature, clipped to its bounds;
    - ``reward``: a pessimistic critic: positive rewards × ``reward_scale``, negative ones
      × (2 − ``reward_scale``).

    ``info["perturbations"]`` lists the ones that fired in the step.
    """

    #: per-decision probability of each perturbation unless its own is given
    intensity: float = 0.0
    #: probability of slippage (none: intensity): fills land slippage_ticks further away
    slippage: float | None = None
    #: probability of a price gap (none: intensity): the book moves gap_ticks for good
    price_gap: float | None = None
    #: probability of thin liquidity (none: intensity)
    liquidity: float | None = None
    #: probability of a latency spike (none: intensity)
    latency_spike: float | None = None
    #: probability of noise on the features (none: intensity)
    obs_noise: float | None = None
    #: probability of a pessimistic reward (none: intensity)
    reward: float | None = None
    #: ticks a slipped fill lands further against the trader
    slippage_ticks: int = 2
    #: ticks the whole book moves on a price gap
    gap_ticks: int = 10
    #: share of size the best levels lose on thin liquidity
    liquidity_fraction: float = 0.5
    #: levels a side that thin liquidity hits
    liquidity_levels: int = 3
    #: decisions thin liquidity lasts
    liquidity_steps: int = 10
    #: multiplies the order latency on a latency spike
    latency_multiplier: float = 10.0
    #: std of the Gaussian noise on every feature
    noise_std: float = 0.1
    #: positive rewards x reward_scale, negative ones x (2 - reward_scale)
    reward_scale: float = 0.5

    def __post_init__(self) -> None:
        """Refuses a bad value when the config is made, not when an environment is built. The
        rules on the core's fields are the core's own (`check_env_config`), so the two cannot
        drift; ``intensity`` exists on this side only and is checked here."""
        intensity = _number("AdversaryConfig", "intensity", self.intensity)
        if not 0.0 <= intensity <= 1.0:
            raise ConfigError(f"AdversaryConfig.intensity must be in [0, 1], got {intensity}")
        _core.check_env_config({"adversary": self.to_core()})

    def probabilities(self) -> list[float]:
        """Per-decision probability of each perturbation, in :data:`PERTURBATIONS` order."""
        if not 0.0 <= self.intensity <= 1.0:
            raise ConfigError(f"adversary intensity must be in [0, 1], got {self.intensity}")
        out = []
        for name in PERTURBATIONS:
            override = getattr(self, name)
            out.append(self.intensity if override is None else float(override))
        return out

    def to_core(self) -> dict[str, Any]:
        """The table the Rust core takes."""
        core = {k: v for k, v in self.to_dict().items() if k not in (*PERTURBATIONS, "intensity")}
        return {**core, "probabilities": self.probabilities()}


@dataclass(frozen=True)
class EnvConfig(TomlConfig):
    """Configuration of :class:`lobzero.TradingEnv` and :class:`lobzero.VecTradingEnv`.

    Decision clock: one decision every ``step_ms`` milliseconds of market (receive) time, or
    every ``step_events`` events when that is > 0. Actions (``action_mode``): ``"target"``,
    Discrete(5) target positions {-1, -0.5, 0, 0.5, 1} × ``max_position``; ``"side"``,
    Discrete(3) sell / hold / buy ``side_unit``; ``"continuous"``, Box([-1], [1]) target
    position as a fraction of ``max_position``. Orders are market orders that meet the book
    ``latency_ms`` after the decision and pay ``taker_fee_bps`` of their notional.

    Rewards (``reward``): ``"pnl"``, the change of equity net of fees in the settlement
    currency times ``reward_scale``; ``"log_return"``, log(equity_t / equity_{t-1});
    ``"risk_adjusted"``, pnl minus ``risk_aversion`` × |position value| × one-decision mid
    volatility, times the scale.

    Episodes last ``episode_steps`` decisions from a start drawn uniformly from the receive
    times [``start_ns``, ``end_ns``) where an episode fits (the whole market when absent), after
    a warm-up that fills the feature history; ``reset(options={"start_ns": t})`` fixes the
    start. ``end_ns`` is also a hard end: no observation, fill or reward uses an event received
    at or after it; an episode whose next decision or fill would need one ends there as
    ``truncated`` (as when the market runs out of events). ``terminated`` means bankruptcy.

    Units follow the instrument (:class:`lobzero.data.market.Instrument`): sizes
    (``max_position``, ``side_unit``) are in its units of size, base units such as BTC for spot
    and linear contracts, contracts for an inverse one (BTCUSD_PERP: contracts of 100 USD);
    money (``initial_cash``, rewards, equity, fees) is in its settlement currency, quote
    currency when linear, the base coin when inverse (``initial_cash=1.0`` on BTCUSD_PERP is
    1 BTC). The ``unrealized_pnl`` feature is unrealized PnL / ``initial_cash``, a ratio of one
    currency, so it means the same on either kind as long as the cash is sized to the position.
    """

    #: decision clock: one decision every step_ms milliseconds of market (receive) time
    step_ms: float = 100.0
    #: one decision every step_events events instead, when > 0
    step_events: int = 0
    #: "target" (Discrete(5) target positions), "side" (sell / hold / buy side_unit) or
    #: "continuous" (target position as a fraction of max_position)
    action_mode: Literal["target", "side", "continuous"] = "target"
    #: largest absolute position, units of size (base units e.g. BTC; contracts when inverse);
    #: rounded to whole lots
    max_position: float = 1.0
    #: size of one "side" action, units of size (none: half of max_position)
    side_unit: float | None = None
    #: fee of a market order, basis points of its notional
    taker_fee_bps: float = 4.0
    #: fee of a passive fill, basis points of its notional
    maker_fee_bps: float = 2.0
    #: delay between a decision and its order meeting the book, ms
    latency_ms: float = 10.0
    #: "pnl" (change of equity net of fees), "log_return" or "risk_adjusted"
    reward: Literal["pnl", "log_return", "risk_adjusted"] = "pnl"
    #: multiplies the "pnl" and "risk_adjusted" rewards
    reward_scale: float = 1.0
    #: "risk_adjusted": penalty per |position value| x one-decision mid volatility
    risk_aversion: float = 0.0
    #: starting cash, settlement currency (quote; the base coin for an inverse instrument)
    initial_cash: float = DEFAULT_INITIAL_CASH
    #: decisions per episode
    episode_steps: int = 1000
    #: episodes start at or after this receive time, ns UTC (none: the market's start)
    start_ns: int | None = None
    #: hard end: no event received at or after it is used, ns UTC (none: the market's end)
    end_ns: int | None = None
    #: observation features, in order (of lobzero.envs.config.ALL_FEATURES)
    features: tuple[str, ...] = ALL_FEATURES
    #: book levels a side in the "levels" feature
    levels: int = 5
    #: depths (levels) of the "imbalance" features
    imbalance_depths: tuple[int, ...] = (1, 3, 5)
    #: horizons (decisions) of the "returns" features
    return_horizons: tuple[int, ...] = (1, 5, 20)
    #: window (decisions) of the "volatility" feature
    volatility_window: int = 20
    #: observations stacked per decision
    frame_stack: int = 1
    #: adversarial injection (none by default)
    adversary: AdversaryConfig = field(default_factory=AdversaryConfig)
    seed: int = 0

    def __post_init__(self) -> None:
        """Refuses a bad value when the config is made (``EnvConfig(step_ms=0)``), not when an
        environment is built. Fields in user units that the core only sees converted
        (milliseconds, base units) are checked here; every other rule is the core's own
        (``check_env_config`` runs the validation an environment runs), so the two cannot drift.
        """
        owner = "EnvConfig"
        step_ms = _number(owner, "step_ms", self.step_ms)
        for name in ("step_ms", "latency_ms"):
            # both become int64 nanoseconds in the core
            if abs(_number(owner, name, getattr(self, name))) * 1e6 >= 2.0**63:
                raise ConfigError(
                    f"{owner}.{name} must be less than {2.0**63 / 1e6:.4g} ms (int64 "
                    f"nanoseconds), got {getattr(self, name)}"
                )
        if isinstance(self.step_events, int) and self.step_events == 0 and step_ms <= 0:
            raise ConfigError(f"{owner}.step_ms must be > 0 (or set step_events), got {step_ms}")
        if _number(owner, "latency_ms", self.latency_ms) < 0:
            raise ConfigError(f"{owner}.latency_ms must be >= 0, got {self.latency_ms}")
        if _number(owner, "max_position", self.max_position) <= 0:
            raise ConfigError(f"{owner}.max_position must be > 0, got {self.max_position}")
        if self.side_unit is not None and _number(owner, "side_unit", self.side_unit) <= 0:
            raise ConfigError(f"{owner}.side_unit must be > 0 (or None), got {self.side_unit}")
        if not isinstance(self.adversary, AdversaryConfig):
            raise ConfigError(
                f"{owner}.adversary must be an AdversaryConfig, got {self.adversary!r}"
            )
        # one lot each stands in for the sizes: they are checked above in base units, and the
        # instrument's lot that converts them is not known before a market is
        _core.check_env_config(self._core_table(max_position_lots=1, side_unit_lots=1))

    def to_core(self, instrument: Instrument) -> dict[str, Any]:
        """The dict the Rust core takes: sizes in lots, times in ns."""

        def lots(name: str, value: float) -> int:
            n = round(value / instrument.lot)
            if n < 1:
                raise ConfigError(
                    f"{name}={value} is less than one lot ({instrument.lot_size} "
                    f"{instrument.symbol})"
                )
            return n

        if instrument.inverse and self.initial_cash == DEFAULT_INITIAL_CASH:
            # the default is a quote-currency sum; on an inverse contract it would be read as
            # that many coins, and the unrealized_pnl feature (PnL / cash) would sit at ~1e-10
            warnings.warn(
                f"{instrument.symbol} is inverse: initial_cash is in the base coin, and the "
                f"default {DEFAULT_INITIAL_CASH:,.0f} means {DEFAULT_INITIAL_CASH:,.0f} coins; "
                "set initial_cash to the coin balance you mean (e.g. 1.0)",
                UserWarning,
                stacklevel=3,
            )
        max_lots = lots("max_position", self.max_position)
        side = self.side_unit if self.side_unit is not None else self.max_position / 2
        return self._core_table(max_lots, max(1, round(side / instrument.lot)))

    def _core_table(self, max_position_lots: int, side_unit_lots: int) -> dict[str, Any]:
        """:meth:`to_core` once the sizes are in lots."""
        return {
            "step_ns": round(self.step_ms * 1e6),
            "step_events": self.step_events,
            "action_mode": self.action_mode,
            "max_position_lots": max_position_lots,
            "side_unit_lots": side_unit_lots,
            "taker_fee_bps": self.taker_fee_bps,
            "maker_fee_bps": self.maker_fee_bps,
            "latency_ns": round(self.latency_ms * 1e6),
            "reward": self.reward,
            "reward_scale": self.reward_scale,
            "risk_aversion": self.risk_aversion,
            "initial_cash": self.initial_cash,
            "episode_steps": self.episode_steps,
            "start_ns": self.start_ns,
            "end_ns": self.end_ns,
            "features": list(self.features),
            "levels": self.levels,
            "imbalance_depths": list(self.imbalance_depths),
            "return_horizons": list(self.return_horizons),
            "volatility_window": self.volatility_window,
            "frame_stack": self.frame_stack,
            "adversary": self.adversary.to_core(),
            "seed": self.seed,
        }
