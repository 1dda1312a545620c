"""Market data: the event stream (`Market`), several on one clock (`Universe`), importers, the
Parquet store and the generator."""

from lobzero.data.importers import FORMATS, import_market, register_importer
from lobzero.data.market import COLUMNS, KIND_NAMES, Instrument, Market
from lobzero.data.synth import SynthConfig, signal_market, synth_market
from lobzero.data.universe import Universe

__all__ = [
    "COLUMNS",
    "FORMATS",
    "KIND_NAMES",
    "Instrument",
    "Market",
    "SynthConfig",
    "Universe",
    "import_market",
    "register_importer",
    "signal_market",
    "synth_market",
]
