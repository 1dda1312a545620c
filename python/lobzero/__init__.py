"""lobzero: train and judge planning agents on limit-order-book data.

A Rust core replays L2 order-book event streams, runs the trading environment and searches
batches of MuZero trees; Python puts gymnasium, torch and stable-baselines3 on top. Five entry
points cover a study from data to verdict:

1. Data: :func:`import_market` (Binance, Tardis, hftbacktest recordings), :func:`synth_market`
   and :func:`signal_market` (synthetic markets) give a :class:`Market`, an immutable event
   stream with its :class:`Instrument` (``Market.save`` / ``Market.load`` for Parquet,
   ``slice_time`` / ``slice_rows`` for views). Files of several symbols import as a
   :class:`Universe`, a mapping of symbol to :class:`Market` on one receive-time clock
   (int64 ns UTC; ``common_span()`` is ``(latest start, earliest end)``, ns, inclusive;
   ``trim()`` cuts every market to it, reported; ``save`` / ``load`` a folder of one Parquet
   per symbol and ``universe.json``).
2. Environments: :class:`TradingEnv` (also ``gymnasium.make("lobzero/Trading-v0")``) and
   :class:`VecTradingEnv` (N environments stepped in one Rust call; over a universe,
   environment i trades symbol i mod len(universe) with arrays [N, obs_dim]), configured by
   :class:`EnvConfig` (observations float32 ``[obs_dim]``, rewards in quote currency).
3. Search: :class:`MctsBatch` and :class:`StochasticMctsBatch`, B trees searched in lock step,
   and :func:`lobzero.mcts.search` for one batched search in one call.
4. Training: :func:`lobzero.muzero.train_muzero` (MuZero, Gumbel and Stochastic MuZero);
   :func:`load_agent` reads any saved agent back as an :class:`Agent`
   (``act(obs [N, obs_dim]) -> actions [N]``).
5. Evaluation: :func:`lobzero.evaluation.compare.compare` (walk-forward comparison of agents
   with bootstrap intervals) and :mod:`lobzero.evaluation` (metrics, robustness).

The ``lobzero`` command line drives the same flows (``lobzero --help``). Bad input raises a
:class:`DataError` subclass naming the file and row; bad settings raise :class:`ConfigError`.
``lobzero.muzero`` is imported on first use (it loads torch, seconds).
See the README for a tour.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from lobzero import data, distributed, envs, evaluation, mcts, risk, storage
from lobzero._core import __version__
from lobzero.agents import Agent, load_agent
from lobzero.data import (
    FORMATS,
    Instrument,
    Market,
    SynthConfig,
    Universe,
    import_market,
    signal_market,
    synth_market,
)
from lobzero.envs import ENV_ID, AdversaryConfig, EnvConfig, TradingEnv, VecTradingEnv
from lobzero.exceptions import (
    ConfigError,
    CrossedBookError,
    DataError,
    DataIOError,
    FormatError,
    InvalidValueError,
    LobzeroError,
    ParseError,
    SequenceGapError,
    TimestampOrderError,
    TruncatedFileError,
)
from lobzero.mcts import MctsBatch, StochasticMctsBatch
from lobzero.risk import RiskConfig, RiskStack, RiskWrapper

if TYPE_CHECKING:
    from lobzero import encoder, live, muzero
    from lobzero.encoder import load_encoder

#: subpackages imported on first attribute access: muzero and encoder import torch (seconds),
#: which ``import lobzero`` alone should not pay; live (the paper loop) is needed by few
_LAZY_SUBMODULES = ("live", "muzero", "encoder")
#: functions of those subpackages offered at the top level (imported on first use too)
_LAZY_FUNCTIONS = {"load_encoder": "lobzero.encoder"}


def __getattr__(name: str) -> Any:
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"lobzero.{name}")
    if name in _LAZY_FUNCTIONS:
        return getattr(importlib.import_module(_LAZY_FUNCTIONS[name]), name)
    raise AttributeError(f"module 'lobzero' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_SUBMODULES) | set(_LAZY_FUNCTIONS))


__all__ = [
    "ENV_ID",
    "FORMATS",
    "AdversaryConfig",
    "Agent",
    "ConfigError",
    "CrossedBookError",
    "DataError",
    "DataIOError",
    "EnvConfig",
    "FormatError",
    "Instrument",
    "InvalidValueError",
    "LobzeroError",
    "Market",
    "MctsBatch",
    "ParseError",
    "RiskConfig",
    "RiskStack",
    "RiskWrapper",
    "SequenceGapError",
    "StochasticMctsBatch",
    "SynthConfig",
    "TimestampOrderError",
    "TradingEnv",
    "TruncatedFileError",
    "Universe",
    "VecTradingEnv",
    "__version__",
    "data",
    "distributed",
    "encoder",
    "envs",
    "evaluation",
    "import_market",
    "live",
    "load_agent",
    "load_encoder",
    "mcts",
    "muzero",
    "risk",
    "signal_market",
    "storage",
    "synth_market",
]
