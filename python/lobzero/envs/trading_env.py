"""`TradingEnv`: the gymnasium face of one Rust trading environment."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from lobzero import _core
from lobzero.data.market import Market
from lobzero.envs.config import PERTURBATIONS, EnvConfig
from lobzero.exceptions import ConfigError

DEFAULT_SYNTH_SECONDS = 3600.0

#: the keys ``reset(options=...)`` takes: ``start_ns``, the episode's start (receive time, ns)
RESET_OPTIONS = ("start_ns",)


def reset_start_ns(options: dict[str, Any] | None) -> Any:
    """The ``start_ns`` of reset ``options`` (None when absent); unknown keys are a
    :class:`ConfigError` (gymnasium would pass them on silently, and a misspelt
    ``"start"`` would then draw a random start)."""
    if options is None:
        return None
    if not isinstance(options, dict):
        raise ConfigError(f"reset options must be a dict, got {type(options).__name__}")
    unknown = sorted(set(options) - set(RESET_OPTIONS))
    if unknown:
        raise ConfigError(
            f"unknown reset option {', '.join(map(repr, unknown))}; "
            f"the options are {', '.join(RESET_OPTIONS)}"
        )
    return options.get("start_ns")


def optional_int(name: str, value: Any) -> int | None:
    """``value`` as an int, or None; anything else (a float, a bool, a string) is refused."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ConfigError(f"{name} must be an integer or None, got {value!r}")
    return int(value)


def core_seed(value: Any) -> int | None:
    """A reset seed as the core takes it (u64: a negative int wraps, as numpy's seeding does
    not allow it but the core's generator takes any 64 bits)."""
    seed = optional_int("seed", value)
    return None if seed is None else seed & 0xFFFF_FFFF_FFFF_FFFF


def make_trading_env(**kwargs: Any) -> gym.Env[np.ndarray, Any]:
    """The entry point of ``gym.make("lobzero/Trading-v0", ...)``: a :class:`TradingEnv` in a
    ``TimeLimit`` of its config's ``episode_steps`` (so ``env.spec.max_episode_steps`` tells
    the truth; the core truncates at the same step)."""
    env = TradingEnv(**kwargs)
    return gym.wrappers.TimeLimit(env, max_episode_steps=env.config.episode_steps)


def resolve_market(market: Market | str | Path | None) -> Market:
    """A :class:`Market` from a market, a file path (any importable format), or None (the
    built-in synthetic market: one hour, seed 0). A universe folder is a :class:`ConfigError`."""
    if market is None:
        from lobzero.data.synth import synth_market

        return synth_market(seconds=DEFAULT_SYNTH_SECONDS, seed=0)
    if isinstance(market, Market):
        return market
    from lobzero.data.importers import import_market

    imported = import_market(market)
    if not isinstance(imported, Market):
        raise ConfigError(
            f"{market} holds {len(imported)} symbols ({', '.join(imported)}): an environment "
            "trades one market (VecTradingEnv takes a universe, or pick universe[symbol])"
        )
    return imported


def perturbation_mask(kinds: Iterable[str]) -> int:
    """Bit mask of perturbation names (bit k for ``PERTURBATIONS[k]``)."""
    mask = 0
    for kind in kinds:
        if kind not in PERTURBATIONS:
            raise ConfigError(
                f"unknown perturbation {kind!r}; choose from {', '.join(PERTURBATIONS)}"
            )
        mask |= 1 << PERTURBATIONS.index(kind)
    return mask


def build_spaces(core: Any, config: EnvConfig) -> tuple[spaces.Box, spaces.Space[Any]]:
    """Observation and action spaces of one environment (bounds are the features' true bounds)."""
    s = core.spaces()
    observation_space = spaces.Box(low=s["obs_low"], high=s["obs_high"], dtype=np.float32)
    action_space: spaces.Space[Any]
    if config.action_mode == "target":
        action_space = spaces.Discrete(5)
    elif config.action_mode == "side":
        action_space = spaces.Discrete(3)
    else:
        action_space = spaces.Box(low=-1.0, high=1.0, shape=(1,), dtype=np.float32)
    return observation_space, action_space


class TradingEnv(gym.Env[np.ndarray, Any]):
    """Trade one instrument with market orders against a replayed order book.

    ``market``: a :class:`lobzero.Market`, a path to a market file, or None for the built-in
    synthetic market. ``config``: an :class:`EnvConfig` (keyword arguments override its fields).

    Observation: float32 [obs_dim], the features of ``config.features`` (see
    ``feature_names``), stacked ``frame_stack`` times. ``info`` after each step: ``equity``,
    ``cash``, ``fees`` (cumulative), ``realized_pnl``, ``unrealized_pnl`` (the instrument's
    settlement currency: quote, or the base coin for an inverse contract such as Binance
    COIN-M, where ``cash`` is the coin balance and ``equity`` = cash + unrealized PnL),
    ``position`` and ``unfilled`` (units of size: base units, or contracts), ``mark`` (the
    mid valuing the position), ``ts_ns``, ``step``, and ``fills``, the step's fills as
    (ts_ns, side, price, size, fee).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"]}

    def __init__(
        self,
        market: Market | str | Path | None = None,
        config: EnvConfig | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        self.market = resolve_market(market)
        config = config or EnvConfig()
        self.config = config.replace(**overrides) if overrides else config
        self._core = _core.EnvCore(self.market.stream, self.config.to_core(self.market.instrument))
        self.observation_space, self.action_space = build_spaces(self._core, self.config)
        self.feature_names: list[str] = self._core.spaces()["frame_names"]
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}")
        self.render_mode = render_mode

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Starts an episode; ``options={"start_ns": t}`` fixes its start (receive time, ns).
        Other option keys are a :class:`ConfigError` (see :data:`RESET_OPTIONS`)."""
        start_ns = optional_int("options['start_ns']", reset_start_ns(options))
        seed_u64 = core_seed(seed)
        super().reset(seed=seed)
        obs = self._core.reset(seed_u64, start_ns)
        return obs, self._core.info()

    def step(self, action: Any) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        # the Rust step returns gymnasium's 5-tuple as it is: nothing to add on the hot path
        return self._core.step(action)

    def extend_market(self, chunk: Market | None, known_through_ns: int) -> None:
        """Appends a live market's events received since the last call (``chunk``, continuing
        this environment's stream, same instrument; None: no new event) and declares the market
        complete up to ``known_through_ns`` (receive time, ns: the feed's clock). The
        environment then steps exactly as on a recording of the same events; amortized
        O(new events) (the first call copies the stream once). :attr:`market` stays the part
        the environment was made with."""
        self._core.extend_market(None if chunk is None else chunk.stream, int(known_through_ns))

    def force_perturbations(self, kinds: Iterable[str] = (), gap_sign: int = 0) -> None:
        """Makes the next step apply exactly these perturbations (names of
        :data:`~lobzero.envs.config.PERTURBATIONS`) instead of the adversary's random draw: the
        move of a trained adversary. ``gap_sign``: +1 up, -1 down, 0 a coin flip, for
        ``"price_gap"``. Magnitudes come from ``config.adversary``."""
        self._core.force_perturbations(perturbation_mask(kinds), int(gap_sign))

    def round_trips(self) -> list[tuple[int, int, int, int, float, float]]:
        """Round-trip trades of the episode: (entry_ts_ns, exit_ts_ns, side, max_qty_lots,
        pnl, fees), money in the settlement currency (quote, or the base coin if inverse)."""
        return self._core.round_trips()

    @property
    def traded_notional(self) -> float:
        """Quote notional traded in the episode so far."""
        return float(self._core.traded_notional)

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        i = self._core.info()
        return (
            f"step {i.get('step')}: equity {i.get('equity', 0.0):,.2f} "
            f"position {i.get('position', 0.0):g} mark {i.get('mark', 0.0):,.2f} "
            f"fees {i.get('fees', 0.0):,.2f}"
        )
