"""`Market`: an L2 event stream in memory, with its instrument and import report.

Columns (one row per event, in receive order):

=============  =======  ====================================================================
column         dtype    meaning
=============  =======  ====================================================================
ts_ns          int64    exchange time, ns since the Unix epoch (informational)
recv_ts_ns     int64    local receive time, ns; never decreases; the replay clock
kind           uint8    0 snapshot level, 1 level update, 2 trade, 3 clear
side           int8     +1 bid / buyer-initiated, -1 ask / seller-initiated, 0 none
price_ticks    int64    price in ticks of the instrument
qty_lots       int64    size in lots (levels: the new absolute size, 0 deletes the level)
=============  =======  ====================================================================

A market imported from order-level data (``databento`` MBO, ``order-events``) also keeps its
order log, :attr:`Market.orders` (one row per order action, see :mod:`lobzero.data.order_log`): what
market-by-order data has and L2 loses, for queue positions. :meth:`Market.order_queues`
rebuilds the FIFO of resting orders of every level at any row of the L2 stream.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lobzero import _core
from lobzero.data.order_log import orders_path, read_orders
from lobzero.exceptions import (
    ConfigError,
    DataIOError,
    FormatError,
    InvalidValueError,
    ParseError,
)

if TYPE_CHECKING:
    import polars as pl

COLUMNS: dict[str, np.dtype[Any]] = {
    "ts_ns": np.dtype(np.int64),
    "recv_ts_ns": np.dtype(np.int64),
    "kind": np.dtype(np.uint8),
    "side": np.dtype(np.int8),
    "price_ticks": np.dtype(np.int64),
    "qty_lots": np.dtype(np.int64),
}
KIND_SNAPSHOT, KIND_UPDATE, KIND_TRADE, KIND_CLEAR = 0, 1, 2, 3
KIND_NAMES = ("snapshot", "update", "trade", "clear")
SIDE_BID, SIDE_ASK, SIDE_NONE = 1, -1, 0

_META_KEY = b"lobzero"
_FORMAT_VERSION = 1


@dataclass(frozen=True)
class Instrument:
    """What is traded, the grid of its prices and sizes, and how a position is valued.

    ``tick_size`` and ``lot_size`` are exact decimal strings (``"0.01"``); ``tick`` and ``lot``
    give them as floats for the edges where floats are needed.

    Contract terms (the defaults, linear with size 1 and multiplier 1, fit spot):

    - linear (``inverse=False``): one lot at price ``p`` is worth
      ``p × lot_size × contract_size × multiplier`` quote currency, and profit and loss settle in
      quote currency; ``contract_size`` is the base units one unit of size stands for,
      ``multiplier`` the quote currency per price point per unit of size (ES futures: 50 USD);
    - inverse (``inverse=True``, Binance COIN-M): sizes count contracts of ``contract_size``
      quote currency (BTCUSD_PERP: 100 USD), one lot at ``p`` is worth
      ``lot_size × contract_size / p`` of the base coin, and profit and loss, cash, equity,
      fees and rewards are in the base coin; ``multiplier`` is 1.

    Files saved before these fields existed load as linear.
    """

    symbol: str
    venue: str
    tick_size: str
    lot_size: str
    #: linear: base units per unit of size; inverse: quote notional of one contract (decimal)
    contract_size: str = "1"
    #: profit and loss settle in the base coin (COIN-M) instead of the quote currency
    inverse: bool = False
    #: quote currency per price point per unit of size (decimal; 1 for spot and inverse)
    multiplier: str = "1"

    @property
    def settlement_currency(self) -> str:
        """What money is counted in: ``"base"`` (inverse) or ``"quote"``."""
        return "base" if self.inverse else "quote"

    @property
    def tick(self) -> float:
        """The tick size as a float (price units)."""
        return float(self.tick_size)

    @property
    def lot(self) -> float:
        """The lot size as a float (base-currency units)."""
        return float(self.lot_size)


class Market:
    """An event stream held in Rust memory, validated, with its instrument.

    Build one with :func:`lobzero.import_market`, :func:`lobzero.synth_market`,
    :meth:`Market.load` or :meth:`Market.from_polars`. ``len(market)`` is the number of events;
    ``start_ns`` / ``end_ns`` are the first and last receive times (ns).
    """

    __slots__ = {
        "_stream": "The Rust stream (see :attr:`stream`).",
        "import_report": "What the importer (or generator) reported: messages read, gaps, "
        "dropped updates, levels, ... (a dict, empty for a market built from columns).",
        "orders": "The order log of an order-level import (the columns of "
        "lobzero.data.order_log.ORDER_COLUMNS, numpy "
        "arrays of one length), or None.",
    }

    def __init__(
        self,
        stream: _core.Stream,
        import_report: Mapping[str, Any] | None = None,
        orders: Mapping[str, np.ndarray] | None = None,
    ):
        self._stream = stream
        self.import_report: dict[str, Any] = dict(import_report or {})
        self.orders: dict[str, np.ndarray] | None = dict(orders) if orders is not None else None

    def __deepcopy__(self, memo: dict[int, Any]) -> Market:
        """The market itself: it is immutable, and its Rust stream cannot be pickled (gymnasium
        deep-copies the ``gym.make`` kwargs into ``env.spec``)."""
        return self

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickles as its columns, instrument and import report (Ray ships markets to its
        workers this way); unpickling validates the columns again like any input."""
        return (_market_from_state, (self.columns(), asdict(self.instrument), self.import_report))

    # -- basic facts -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._stream)

    @property
    def start_ns(self) -> int | None:
        """Receive time of the first event, ns since the Unix epoch (None when empty)."""
        return self._stream.start_ns

    @property
    def end_ns(self) -> int | None:
        """Receive time of the last event, ns since the Unix epoch (None when empty)."""
        return self._stream.end_ns

    @property
    def instrument(self) -> Instrument:
        """What is traded: symbol, venue, tick and lot size (exact decimal strings) and the
        contract terms (contract size, inverse, multiplier)."""
        return Instrument(**self._stream.instrument)

    @property
    def metadata(self) -> Instrument:
        """The old name of :attr:`instrument` (kept so that existing code runs)."""
        return self.instrument

    @property
    def stream(self) -> _core.Stream:
        """The Rust stream (for the environment and other native consumers)."""
        return self._stream

    def __repr__(self) -> str:
        m = self.instrument
        span = ((self.end_ns or 0) - (self.start_ns or 0)) / 1e9
        return (
            f"Market({m.venue}:{m.symbol}, {len(self):,} events, {span:.1f} s, "
            f"tick {m.tick_size}, lot {m.lot_size}"
            + (f", inverse, contract {m.contract_size}" if m.inverse else "")
            + (f", multiplier {m.multiplier}" if m.multiplier != "1" else "")
            + ")"
        )

    def columns(self) -> dict[str, np.ndarray]:
        """The six columns as read-only numpy arrays sharing the stream's memory."""
        return self._stream.columns()

    def order_queues(self, row: int) -> list[tuple[int, int, list[tuple[int, int]]]]:
        """The resting orders of every level once L2 rows ``[0, row)`` are applied, in queue
        order: ``[(side, price_ticks, [(order_id, qty_lots), ...]), ...]``, bids best first,
        then asks best first. Needs the order log (:attr:`orders`); a log imported with
        ``on_unknown_order="skip"`` knows only the orders it saw added."""
        if self.orders is None:
            raise ConfigError(
                "this market has no order log: import order-level data (databento MBO, "
                "order-events) to get queue positions"
            )
        o = self.orders
        return _core.order_queues_at(
            o["order_id"],
            o["recv_ts_ns"],
            o["action"],
            o["side"],
            o["price_ticks"],
            o["qty_lots"],
            o["l2_row"],
            int(row),
        )

    # -- polars ------------------------------------------------------------------------------
    def to_polars(self) -> pl.DataFrame:
        """The stream as a polars DataFrame (columns as documented in this module)."""
        import polars as pl

        return pl.DataFrame({name: np.asarray(col) for name, col in self.columns().items()})

    @classmethod
    def from_polars(
        cls,
        df: pl.DataFrame,
        instrument: Instrument | Mapping[str, str] | None = None,
        *,
        source: str = "polars",
        import_report: Mapping[str, Any] | None = None,
        metadata: Instrument | Mapping[str, str] | None = None,
    ) -> Market:
        """Builds a market from a DataFrame with the six columns, validated like any input.
        ``metadata`` is the old name of ``instrument``, kept for callers that pass it by
        keyword.

        Raises ``ParseError`` for a missing column, ``InvalidValueError`` for nulls, values that
        do not fit the column's type or break a rule, ``TimestampOrderError`` and
        ``CrossedBookError`` as any importer does.
        """
        if instrument is not None and metadata is not None:
            raise ConfigError("Market.from_polars takes the instrument once, not also metadata")
        # neither: _instrument says what is needed
        meta = _instrument(instrument if instrument is not None else metadata, source)
        if df.height == 0:
            raise FormatError(
                f"{source}: not a valid market (no events: the frame has no rows; a market "
                "needs at least one event to replay)"
            )
        arrays: dict[str, np.ndarray] = {}
        for name, dtype in COLUMNS.items():
            if name not in df.columns:
                raise ParseError(f"{source}: missing column {name!r} (need {list(COLUMNS)})")
            series = df.get_column(name)
            if series.null_count():
                row = int(series.is_null().arg_max() or 0)
                raise InvalidValueError(f"{source} row {row}: column {name!r} is null")
            arrays[name] = _to_dtype(series.to_numpy(), dtype, name, source)
        stream = _core.Stream.from_columns(
            **arrays,
            symbol=meta.symbol,
            venue=meta.venue,
            tick_size=meta.tick_size,
            lot_size=meta.lot_size,
            source=source,
            contract_size=meta.contract_size,
            inverse=meta.inverse,
            multiplier=meta.multiplier,
        )
        return cls(stream, import_report)

    def with_contract(
        self,
        contract_size: str | None = None,
        inverse: bool | None = None,
        multiplier: str | None = None,
    ) -> Market:
        """The same events (shared) with the instrument's contract terms replaced; a term left
        ``None`` keeps its value. Sizes are decimal strings (numbers are converted); an inverse
        contract with a multiplier other than 1, or a zero size, is a ``ConfigError``."""
        meta = self.instrument
        stream = self._stream.with_contract(
            _decimal_text(
                "contract_size", meta.contract_size if contract_size is None else contract_size
            ),
            meta.inverse if inverse is None else _flag("inverse", inverse),
            _decimal_text("multiplier", meta.multiplier if multiplier is None else multiplier),
        )
        return Market(stream, self.import_report, self.orders)

    # -- Parquet -----------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Writes lobzero's Parquet format: the six columns, instrument and import report in
        the file's key-value metadata; an order log (:attr:`orders`) goes to
        ``<name>.orders.parquet`` beside it, named in the metadata. Written to a temporary
        file and renamed, so a crash never leaves a half-written file under the final name."""
        import pyarrow as pa

        path = Path(path)
        table = pa.table({name: np.asarray(col) for name, col in self.columns().items()})
        meta: dict[str, Any] = {
            "format_version": _FORMAT_VERSION,
            "instrument": asdict(self.instrument),
            "import_report": self.import_report,
        }
        if self.orders is not None:
            # a second file beside the first: Parquet holds one table per file
            log_path = orders_path(path)
            _write_parquet(pa.table(dict(self.orders)), log_path)
            meta["orders_file"] = log_path.name
        table = table.replace_schema_metadata({_META_KEY: json.dumps(meta).encode()})
        _write_parquet(table, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Market:
        """Reads a file written by :meth:`save` (validating it again)."""
        import polars as pl

        path = Path(path)
        table = read_parquet_table(path)
        raw = (table.schema.metadata or {}).get(_META_KEY)
        if raw is None:
            raise FormatError(
                f"{path}: not a valid lobzero parquet file (no 'lobzero' metadata: "
                "write it with Market.save or `lobzero data import`)"
            )
        try:
            meta = json.loads(raw)
            # files written before the contract terms existed get the linear defaults
            instrument = _instrument(meta["instrument"], str(path))
        except (ValueError, KeyError, TypeError, ConfigError) as e:
            raise FormatError(f"{path}: unreadable lobzero metadata ({e})") from e
        df = pl.from_arrow(table)
        assert isinstance(df, pl.DataFrame)
        market = cls.from_polars(
            df, instrument, source=str(path), import_report=meta.get("import_report")
        )
        if "orders_file" in meta:  # files written before order logs existed have none
            market.orders = read_orders(path.with_name(str(meta["orders_file"])))
        return market

    # -- views -------------------------------------------------------------------------------
    def slice_rows(self, start: int, end: int) -> Market:
        """Rows ``[start, end)`` as a new market (same instrument). The slice is not
        re-validated: any contiguous part of a valid stream is valid. The order log is not
        carried over (its queues depend on the rows before ``start``)."""
        return Market(self._stream.slice(start, end), self.import_report)

    def slice_time(self, start_ns: int | None = None, end_ns: int | None = None) -> Market:
        """Events with ``start_ns <= recv_ts_ns < end_ns`` (either bound optional)."""
        recv = self.columns()["recv_ts_ns"]
        lo = 0 if start_ns is None else int(np.searchsorted(recv, start_ns, side="left"))
        hi = len(recv) if end_ns is None else int(np.searchsorted(recv, end_ns, side="left"))
        return self.slice_rows(lo, hi)

    def sample_book(self, step_ms: float = 100.0, levels: int = 10) -> dict[str, np.ndarray]:
        """Replays the stream and reads the book on a clock.

        Returns ``ts_ns`` [T] and ``bid_price_ticks``, ``bid_qty_lots``, ``ask_price_ticks``,
        ``ask_qty_lots`` [T, levels] (int64, best level first, 0 where a side has fewer levels),
        one row every ``step_ms`` milliseconds of receive time after the first event.
        A clock so fine that the arrays would pass :data:`MAX_SAMPLE_BYTES` is a
        :class:`~lobzero.exceptions.ConfigError` (naming the size), not an allocation that
        takes the process down.
        """
        step_ns = round(step_ms * 1e6)
        if step_ns > 0 and levels > 0 and len(self):
            rows = ((self.end_ns or 0) - (self.start_ns or 0)) // step_ns
            size = rows * (1 + 4 * int(levels)) * 8
            if size > MAX_SAMPLE_BYTES:
                raise ConfigError(
                    f"sample_book(step_ms={step_ms:g}, levels={levels}) would hold {rows:,} rows "
                    f"({size / 2**30:.1f} GiB, over the {MAX_SAMPLE_BYTES / 2**30:.0f} GiB limit) "
                    f"for {((self.end_ns or 0) - (self.start_ns or 0)) / 1e9:.1f} s of data; "
                    "take a coarser step or a slice of the market"
                )
        return self._stream.sample_book(step_ns, int(levels))


#: the most memory :meth:`Market.sample_book` may allocate, bytes
MAX_SAMPLE_BYTES = 4 * 2**30


def read_parquet_table(path: Path, what: str = "") -> Any:
    """A Parquet file as a pyarrow table; a missing file is a DataIOError, an unreadable one a
    FormatError, both naming the path (and ``what`` it is, e.g. "the market's order log")."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path)
    except FileNotFoundError as e:
        raise DataIOError(f"{path}: no such file{f' ({what})' if what else ''}") from e
    except (pa.ArrowInvalid, OSError) as e:
        raise FormatError(f"{path}: not a valid parquet file ({e})") from e


def _write_parquet(table: Any, path: Path) -> None:
    """Writes to a temporary file and renames it, so a crash never leaves a half-written file
    under the final name."""
    import pyarrow.parquet as pq

    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, tmp, compression="zstd")
        tmp.replace(path)
    except OSError as e:
        raise DataIOError(f"{path}: cannot write ({e})") from e


_INSTRUMENT_FIELDS = ("symbol", "venue", "tick_size", "lot_size")
#: optional contract terms, with the linear defaults of :class:`Instrument`
_CONTRACT_FIELDS = ("contract_size", "inverse", "multiplier")


def _decimal_text(name: str, value: Any) -> str:
    """A decimal string for the core; a bool or a non-number is a ConfigError."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ConfigError(f"{name} must be a decimal string such as '100', got {value!r}")
    return str(value)


def _flag(name: str, value: Any) -> bool:
    """A real bool (``"false"`` would read as true)."""
    if not isinstance(value, bool | np.bool_):
        raise ConfigError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _instrument(given: Any, source: str) -> Instrument:
    """The instrument of :meth:`Market.from_polars`: an :class:`Instrument` or a mapping of its
    four fields (decimal strings for the sizes); anything else is a :class:`ConfigError`."""
    if isinstance(given, Instrument):
        return given
    need = (
        f"Market.from_polars({source}) needs the instrument: an Instrument or a dict of "
        f"{', '.join(_INSTRUMENT_FIELDS)} (e.g. {{'symbol': 'BTCUSDT', 'venue': 'binance', "
        "'tick_size': '0.01', 'lot_size': '0.001'})"
    )
    if not isinstance(given, Mapping):
        raise ConfigError(f"{need}; got {given!r}")
    missing = [k for k in _INSTRUMENT_FIELDS if k not in given]
    unknown = sorted(set(given) - set(_INSTRUMENT_FIELDS) - set(_CONTRACT_FIELDS))
    if missing or unknown:
        raise ConfigError(
            f"{need} (optionally {', '.join(_CONTRACT_FIELDS)}); missing {missing}, "
            f"unknown {unknown}"
        )
    terms: dict[str, Any] = {}
    for k in ("contract_size", "multiplier"):
        if k in given:
            terms[k] = _decimal_text(k, given[k])
    if "inverse" in given:
        terms["inverse"] = _flag("inverse", given["inverse"])
    base: dict[str, Any] = {k: str(given[k]) for k in _INSTRUMENT_FIELDS}
    return Instrument(**base, **terms)


def _to_dtype(values: np.ndarray, dtype: np.dtype[Any], name: str, source: str) -> np.ndarray:
    """Casts a column to its dtype, refusing NaN, fractions and values out of range."""
    if values.dtype == dtype:
        return np.ascontiguousarray(values)
    if values.dtype.kind == "f":
        bad = ~np.isfinite(values) | (values != np.round(values))
        if bad.any():
            row = int(np.argmax(bad))
            raise InvalidValueError(
                f"{source} row {row}: column {name!r} holds {values[row].item()!r}, not an integer"
            )
    elif values.dtype.kind not in "iub":
        raise InvalidValueError(
            f"{source}: column {name!r} has dtype {values.dtype}, expected {dtype}"
        )
    info = np.iinfo(dtype)
    if len(values):
        lo, hi = values.min(), values.max()
        if lo < info.min or hi > info.max:
            bad_row = int(np.argmax((values < info.min) | (values > info.max)))
            raise InvalidValueError(
                f"{source} row {bad_row}: column {name!r} value {values[bad_row].item()!r} "
                f"does not fit {dtype}"
            )
    return np.ascontiguousarray(values.astype(dtype))


def _market_from_state(
    columns: Mapping[str, np.ndarray], instrument: Mapping[str, Any], import_report: Any
) -> Market:
    """The market :meth:`Market.__reduce__` pickled."""
    import polars as pl

    df = pl.DataFrame({name: np.asarray(col) for name, col in columns.items()})
    return Market.from_polars(df, instrument, source="pickle", import_report=import_report)
