"""`VecTradingEnv`: a batch of Rust environments as a gymnasium `VectorEnv`, stepped in one call
that writes into preallocated numpy buffers with the GIL released."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from lobzero import _core
from lobzero.data.market import Market
from lobzero.data.universe import Universe, is_universe
from lobzero.envs.config import EnvConfig
from lobzero.envs.trading_env import (
    build_spaces,
    core_seed,
    optional_int,
    reset_start_ns,
    resolve_market,
)
from lobzero.exceptions import ConfigError, InvalidValueError


def vector_seeds(seed: int | Sequence[int | None] | None, num_envs: int) -> list[int | None]:
    """Per-environment reset seeds, as gymnasium's vector API reads ``seed``: None, no reseed;
    an int s, environment i gets s + i; a list, one seed per environment (None entries: that
    environment is not reseeded). A list of another length is a :class:`ConfigError`."""
    if seed is None:
        return [None] * num_envs
    if isinstance(seed, int | np.integer) and not isinstance(seed, bool):
        return [core_seed(int(seed) + i) for i in range(num_envs)]
    if isinstance(seed, str | bytes) or not isinstance(seed, Sequence | np.ndarray):
        raise ConfigError(f"seed must be an int, a list of {num_envs} seeds or None, got {seed!r}")
    seeds = list(seed)
    if len(seeds) != num_envs:
        raise ConfigError(
            f"seed: a list needs one seed per environment ({num_envs}), got {len(seeds)}"
        )
    return [core_seed(s) for s in seeds]


def vector_starts(options: dict[str, Any] | None, num_envs: int) -> list[int | None]:
    """Per-environment episode starts from reset ``options``: ``{"start_ns": t}`` starts every
    environment at t (gymnasium hands every sub-environment the same options), a list of
    ``num_envs`` times (None entries: drawn) one each."""
    start = reset_start_ns(options)
    if start is None or isinstance(start, int | np.integer):
        return [optional_int("options['start_ns']", start)] * num_envs
    if isinstance(start, str | bytes) or not isinstance(start, Sequence | np.ndarray):
        raise ConfigError(
            f"options['start_ns'] must be an int, a list of {num_envs} or None, got {start!r}"
        )
    starts = list(start)
    if len(starts) != num_envs:
        raise ConfigError(
            f"options['start_ns']: a list needs one start per environment ({num_envs}), "
            f"got {len(starts)}"
        )
    return [optional_int("options['start_ns']", t) for t in starts]


def _env_count(num_envs: Any) -> int:
    """``num_envs`` as an int >= 1; anything else is a :class:`ConfigError`."""
    if isinstance(num_envs, bool) or not isinstance(num_envs, int | np.integer):
        raise ConfigError(f"num_envs must be an integer >= 1, got {num_envs!r}")
    if num_envs < 1:
        raise ConfigError(f"num_envs must be >= 1, got {num_envs}")
    return int(num_envs)


class VecTradingEnv(gym.vector.VectorEnv):
    """``num_envs`` trading environments (environment i seeded ``config.seed + i``), equal to
    that many :class:`TradingEnv` built with those seeds.

    Markets: one ``market`` for all (a :class:`Market`, a file, or None for the synthetic
    market; ``num_envs`` default 8); a :class:`~lobzero.data.universe.Universe` (or its
    folder), environment i on symbol ``i mod len(universe)`` (``num_envs`` default: one per
    symbol); or ``markets=[...]``, one per environment. Environment i then equals
    ``TradingEnv(markets[i], config.replace(seed=config.seed + i))``: its sizes
    (``max_position``, ``side_unit``) in its own instrument's base units and lots, its infos
    (``position`` base units, ``mark`` price) in its own units. ``symbols`` lists what each
    trades. All share one observation and action space.

    Episodes that end are reset within the same ``step`` (gymnasium's ``SAME_STEP`` autoreset):
    the returned observation row is the new episode's first, and ``infos["final_obs"]`` /
    ``infos["final_info"]`` (with masks ``_final_obs`` / ``_final_info``) hold the finished one's
    last. ``infos`` also carries per-environment arrays ``equity``, ``cash``, ``position``,
    ``mark``, ``fees``, ``realized_pnl``, ``unrealized_pnl``, ``unfilled`` and ``ts_ns``.

    Returned arrays are the environment's own buffers, overwritten by the next call (``copy``
    False) unless ``copy=True``; the ``infos`` arrays are always fresh.

    A step runs on ``num_threads`` threads (default: every core; batches under 32 environments
    use the calling thread alone): the calling thread and persistent workers that each step
    their own share of the environments first, then help with what is left. Between calls a
    worker polls for 100 µs, then sleeps, so a policy running between steps gets its core back.
    """

    metadata: ClassVar[dict[str, Any]] = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(
        self,
        market: Market | Universe | str | Path | None = None,
        num_envs: int | None = None,
        config: EnvConfig | None = None,
        copy: bool = False,
        num_threads: int | None = None,
        *,
        markets: Sequence[Market] | None = None,
        **overrides: Any,
    ) -> None:
        config = config or EnvConfig()
        self.config = config.replace(**overrides) if overrides else config
        self.markets = self._markets_of(market, num_envs, markets)
        self.num_envs = len(self.markets)
        #: the first environment's market (all of them, on one market)
        self.market = self.markets[0]
        if all(m is self.market for m in self.markets):
            # one market: the batch the core builds itself (seeds config.seed + i)
            core_config = self.config.to_core(self.market.instrument)
            if num_threads is not None:
                core_config["num_threads"] = num_threads
            self._core = _core.VecEnvCore(self.market.stream, self.num_envs, core_config)
        else:
            # environment i on its own market: its sizes in its own lots, seed config.seed + i
            # (as the one-market batch: it equals TradingEnv(markets[i], seed=config.seed + i))
            configs = [
                self.config.replace(seed=self.config.seed + i).to_core(m.instrument)
                for i, m in enumerate(self.markets)
            ]
            self._core = _core.VecEnvCore.from_markets(
                [m.stream for m in self.markets], configs, num_threads
            )
        self.single_observation_space, self.single_action_space = build_spaces(
            self._core, self.config
        )
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.feature_names: list[str] = self._core.spaces()["frame_names"]
        self.copy = copy
        d = self._core.obs_dim
        self._info_values, self._info_ts_ns = self._new_info_buffers()
        self._obs = np.zeros((self.num_envs, d), np.float32)
        self._final_obs = np.zeros((self.num_envs, d), np.float32)
        self._rewards = np.zeros(self.num_envs, np.float64)
        self._terminated = np.zeros(self.num_envs, np.bool_)
        self._truncated = np.zeros(self.num_envs, np.bool_)
        self._continuous = self.config.action_mode == "continuous"

    @staticmethod
    def _markets_of(
        market: Market | Universe | str | Path | None,
        num_envs: int | None,
        markets: Sequence[Market] | None,
    ) -> list[Market]:
        """One market per environment: ``markets`` as given; a universe's symbols in turn
        (``num_envs`` default: one environment per symbol); else ``num_envs`` (default 8)
        times the one market."""
        if markets is not None:
            if market is not None:
                raise ConfigError(
                    "VecTradingEnv takes a market (or universe) or markets=, not both"
                )
            out = list(markets)
            if not out or not all(isinstance(m, Market) for m in out):
                raise ConfigError(
                    "markets= must be a non-empty list of Market, one per environment"
                )
            if num_envs is not None and _env_count(num_envs) != len(out):
                raise ConfigError(
                    f"num_envs={num_envs} but markets= has {len(out)} markets (one per environment)"
                )
            return out
        if isinstance(market, str | Path) and is_universe(market):
            market = Universe.load(market)
        if isinstance(market, Universe):
            return market.markets_for(len(market) if num_envs is None else _env_count(num_envs))
        n = 8 if num_envs is None else _env_count(num_envs)
        return [resolve_market(market)] * n

    @property
    def symbols(self) -> list[str]:
        """The symbol each environment trades, [num_envs]."""
        return [m.instrument.symbol for m in self.markets]

    def reset(
        self,
        *,
        seed: int | Sequence[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Resets every environment. ``seed``: an int s gives environment i the seed s + i; a
        list gives one seed per environment (None: not reseeded); None reseeds none.
        ``options``: ``{"start_ns": t}`` (an int for all, or a list of one per environment) fixes
        the episodes' start; other keys are a :class:`ConfigError`."""
        seeds = vector_seeds(seed, self.num_envs)
        starts = vector_starts(options, self.num_envs)
        if isinstance(seed, int | np.integer) and not isinstance(seed, bool) and seed >= 0:
            self._np_random, _ = gym.utils.seeding.np_random(int(seed))
        self._core.reset(self._obs, seeds, starts)
        self._core.infos(self._info_values, self._info_ts_ns)
        return self._out(self._obs), self._infos()

    def _actions(self, actions: Any) -> np.ndarray:
        """``actions`` as the core takes them, refused as the single environment refuses them:
        discrete modes int [N] (no floats, no bools: they would be truncated), continuous
        float [N] or [N, 1] (the batched Box shape)."""
        a = np.asarray(actions)
        n = self.num_envs
        shapes = [(n,), (n, 1)] if self._continuous else [(n,)]
        if a.shape not in shapes:
            raise InvalidValueError(
                f"actions: expected shape {' or '.join(map(str, shapes))}, got {a.shape}"
            )
        if self._continuous:
            if a.dtype.kind not in "fiu":
                raise InvalidValueError(
                    f"actions: continuous actions must be numbers, got dtype {a.dtype}"
                )
            return np.ascontiguousarray(a.reshape(n), dtype=np.float64)
        if a.dtype.kind not in "iu":
            raise InvalidValueError(
                f"actions: {self.config.action_mode} actions must be integers "
                f"(0 <= action < {self.single_action_space.n}), got dtype {a.dtype}"  # type: ignore[attr-defined]
            )
        return np.ascontiguousarray(a, dtype=np.int64)

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        a = self._actions(actions)
        ended = self._core.step(
            a,
            self._obs,
            self._rewards,
            self._terminated,
            self._truncated,
            self._final_obs,
            self._info_values,
            self._info_ts_ns,
        )
        infos = self._infos()
        if ended:
            done = self._terminated | self._truncated
            final_obs = np.empty(self.num_envs, dtype=object)
            final_info = np.empty(self.num_envs, dtype=object)
            for i, info in self._core.final_infos().items():
                final_obs[i] = self._final_obs[i].copy()
                final_info[i] = info
            infos["final_obs"], infos["_final_obs"] = final_obs, done.copy()
            infos["final_info"], infos["_final_info"] = final_info, done.copy()
        return (
            self._out(self._obs),
            self._out(self._rewards),
            self._out(self._terminated),
            self._out(self._truncated),
            infos,
        )

    def force_perturbations(self, masks: np.ndarray, gap_signs: np.ndarray | None = None) -> None:
        """Forces the next step's perturbations of every environment: ``masks`` [N] (bit k for
        ``PERTURBATIONS[k]``, see :func:`~lobzero.envs.trading_env.perturbation_mask`),
        ``gap_signs`` [N] (+1, -1, or 0 for a coin flip; default 0)."""
        m = np.ascontiguousarray(np.asarray(masks).reshape(self.num_envs), dtype=np.uint8)
        if gap_signs is None:
            signs = np.zeros(self.num_envs, np.int8)
        else:
            signs = np.ascontiguousarray(np.asarray(gap_signs).reshape(self.num_envs), np.int8)
        self._core.force_perturbations(m, signs)

    def _new_info_buffers(self) -> tuple[np.ndarray, np.ndarray]:
        return (
            np.empty((len(_core.VEC_INFO_ARRAYS), self.num_envs), np.float64),
            np.empty(self.num_envs, np.int64),
        )

    def _infos(self) -> dict[str, Any]:
        """The per-environment info arrays the last call wrote, as a dict of fresh arrays (a
        new pair of buffers is made for the next call, so earlier infos are never overwritten)."""
        infos: dict[str, Any] = dict(zip(_core.VEC_INFO_ARRAYS, self._info_values, strict=True))
        infos["ts_ns"] = self._info_ts_ns
        self._info_values, self._info_ts_ns = self._new_info_buffers()
        return infos

    def _out(self, array: np.ndarray) -> np.ndarray:
        return array.copy() if self.copy else array
