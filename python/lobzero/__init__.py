"""lobzero: train and judge planning agents on limit-order-book data.

The public API. See the README for a tour.
"""

from lobzero._core import __version__
from lobzero.agents import load_agent
from lobzero.data import (
    FORMATS,
    Instrument,
    Market,
    SynthConfig,
    import_market,
    signal_market,
    synth_market,
)
from lobzero.envs import AdversaryConfig, EnvConfig, TradingEnv, VecTradingEnv
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

__all__ = [
    "FORMATS",
    "AdversaryConfig",
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
    "SequenceGapError",
    "StochasticMctsBatch",
    "SynthConfig",
    "TimestampOrderError",
    "TradingEnv",
    "TruncatedFileError",
    "VecTradingEnv",
    "__version__",
    "import_market",
    "load_agent",
    "signal_market",
    "synth_market",
]
