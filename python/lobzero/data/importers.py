"""`import_market`: read exchange and vendor files into a :class:`Market`.

Formats (``format=``):

- ``binance-stream``: Binance recordings, gzip or plain lines ``<recv_time> <JSON>`` (REST depth
  snapshot, ``depthUpdate`` diffs, ``trade`` / ``aggTrade``, ``bookTicker``), spot and USD-M. The
  older collector layout reads too: receive times in µs (the unit is detected from the magnitude
  and reported as ``recv_time_unit``; a time that fits no unit is refused), the snapshot written
  as a Python dict, ``markPrice`` lines (counted, not events).
- ``binance-csv``: Binance historical depth CSVs (``snap`` / ``set`` rows) and trade CSVs.
- ``tardis``: Tardis ``incremental_book_L2``, ``book_snapshot_N`` and ``trades`` CSVs.
- ``lobster``: a LOBSTER message file with its orderbook file (either one finds the other by
  name; ``date`` and ``levels`` come from the name ``TICKER_YYYY-MM-DD_START_END_message_L.csv``
  or the options). Times are seconds after midnight New York, converted to UTC by the US DST
  rule; level updates are the changes between orderbook rows; executions (types 4, 5, 6) are
  trades on the aggressor's side; a trading halt (type 7, price -1) clears the book until the
  next type 7. Every message is checked against the change it made to the book:
  a mismatch is an ``InvalidValueError`` naming the row, or counted with
  ``on_book_mismatch="count"`` (``import_report["book_check"]``).
- ``hyperliquid``: Hyperliquid websocket recordings, lines ``<recv_ns> <JSON>`` of ``l2Book``
  full books (the first a snapshot, then only the levels that changed) and ``trades``.
- ``hftbacktest``: hftbacktest ``.npz`` (or ``.npy``) event arrays (its ``event_dtype``).
- ``databento``: Databento DBN files (``.dbn``, ``.dbn.zst``) of schema MBO (order by order:
  the L2 stream is the sum of resting sizes per price, the order log is kept in
  ``market.orders``), MBP-1 or MBP-10. Options ``definition`` (a definition DBN: tick size,
  ``contract_multiplier`` in the report), ``instrument_id`` (pick one of several),
  ``on_unknown_order`` (``"error"``/``"skip"``), ``on_cross`` (``"error"``/``"hold"``: level
  updates wait while the book of orders is crossed, e.g. in a pre-open auction). Pass a
  snapshot file and the next file of the session in order.
- ``order-events``: a generic L3 log as CSV (plain, gzip, xz) or Parquet (pass the format:
  a ``.parquet`` name guesses lobzero's own), one row per order action
  (created / changed / deleted / traded); column names, ``time_unit`` and ``size_scale`` are
  options (defaults: obAnalytics' Bitstamp logs). A log that starts mid-session needs
  ``on_unknown_order="skip"`` (counted; the report marks the book partial).
- ``parquet``: lobzero's own format (:meth:`Market.save`).

Files of several instruments give a :class:`~lobzero.data.universe.Universe` (symbol →
market): the files are grouped by the symbol their data names (or by the keys of a mapping
``{"BTCUSDT": [files], "ETHUSDT": [files]}``), each group one recording.

Every importer validates what it reads and raises a :class:`~lobzero.exceptions.DataError`
subclass naming the file, the line or row and the rule broken. Standard repairs are explicit
options, counted in ``market.import_report``.
"""

from __future__ import annotations

import gzip
import json
import re
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lobzero import _core
from lobzero.data.market import Market
from lobzero.data.universe import Universe, is_universe
from lobzero.exceptions import (
    ConfigError,
    DataError,
    DataIOError,
    FormatError,
    ParseError,
    TruncatedFileError,
)

PathLike = str | Path

FORMATS = (
    "binance-stream",
    "binance-csv",
    "tardis",
    "lobster",
    "hyperliquid",
    "hftbacktest",
    "databento",
    "order-events",
    "parquet",
)

#: the options of each text format (formats without sequence numbers have no ``on_gap``)
_COMMON_OPTIONS = ("symbol", "venue", "tick_size", "lot_size", "round_qty")
TEXT_OPTIONS = {
    "binance-stream": (*_COMMON_OPTIONS, "on_gap"),
    "binance-csv": (*_COMMON_OPTIONS, "on_gap"),
    "tardis": (*_COMMON_OPTIONS, "on_gap"),
    "lobster": (*_COMMON_OPTIONS, "date", "levels", "on_book_mismatch"),
    "hyperliquid": _COMMON_OPTIONS,
}

#: the options of the order-level formats (``on_gap``: only its default, ``"error"``, which
#: holds trivially; neither carries sequence numbers to resynchronise on, see
#: :func:`_no_sequence_gaps`)
_ORDER_LEVEL_COMMON = (*_COMMON_OPTIONS, "on_gap", "on_unknown_order", "on_cross")
#: the column names of ``order-events`` (defaults: obAnalytics' Bitstamp logs)
ORDER_EVENTS_COLUMNS = (
    "id_column",
    "time_column",
    "exchange_time_column",
    "side_column",
    "price_column",
    "size_column",
    "action_column",
)
ORDER_LEVEL_OPTIONS = {
    "databento": (*_ORDER_LEVEL_COMMON, "definition", "instrument_id"),
    "order-events": (*_ORDER_LEVEL_COMMON, "time_unit", "size_scale", *ORDER_EVENTS_COLUMNS),
}

#: LOBSTER's file names: TICKER_YYYY-MM-DD_START_END_message_LEVELS.csv (or _orderbook_)
LOBSTER_NAME = re.compile(r"^.+_\d{4}-\d{2}-\d{2}_\d+_\d+_(message|orderbook)_\d+\.csv(\.gz)?$")

#: options of :func:`import_market` that every format takes: the instrument's contract terms
CONTRACT_OPTIONS = ("contract_size", "inverse", "multiplier")


def _paths(paths: PathLike | Sequence[PathLike]) -> list[Path]:
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    if not items:
        raise ConfigError("import_market needs at least one input path")
    out = [Path(p) for p in items]
    for p in out:
        if p.is_dir():
            raise DataIOError(f"{p}: is a directory, not a file (pass the files inside it)")
        if not p.is_file():
            raise DataIOError(f"{p}: no such file")
        if p.stat().st_size == 0:
            # an empty file would import as a market of no events, no symbol and tick 1
            raise FormatError(f"{p}: not a valid market data file (the file is empty)")
    return out


def _refuse_unknown(fmt: str, options: dict[str, Any], allowed: Sequence[str]) -> None:
    """A ``ConfigError`` naming each option ``fmt`` does not take, with its value (``key=value``,
    the form the CLI rewrites into the flag typed: ``--on-cross hold``)."""
    unknown = sorted(set(options) - set(allowed))
    if unknown:

        def shown(value: Any) -> str:
            return repr(str(value)) if isinstance(value, str | Path) else str(value)

        given = ", ".join(f"{k}={shown(options[k])}" for k in unknown)
        raise ConfigError(
            f"format {fmt!r} has no option {given}; its options are {', '.join(allowed)}"
        )


#: the formats whose sequence numbers show gaps that ``on_gap="resync"`` resynchronises
GAP_FORMATS = tuple(f for f, opts in TEXT_OPTIONS.items() if "on_gap" in opts)


def _no_sequence_gaps(fmt: str, options: dict[str, Any]) -> None:
    """Takes ``on_gap`` out of the options of a format without sequence numbers: its default,
    ``"error"``, holds (there is no gap to stop at); any other value would be ignored, so it is
    a ``ConfigError`` naming the option and the format (the CLI writes it as the flag)."""
    on_gap = options.pop("on_gap", None)
    if on_gap is not None and on_gap != "error":
        raise ConfigError(
            f"format {fmt!r} has no sequence numbers, so no gaps to resynchronise: "
            f"on_gap={str(on_gap)!r} would do nothing (formats with gaps: "
            f"{', '.join(GAP_FORMATS)})"
        )


def _text_format(fmt: str) -> Callable[..., Market]:
    """An importer for one of the text formats the Rust core reads."""

    allowed = TEXT_OPTIONS[fmt]

    def importer(paths: list[Path], **options: Any) -> Market:
        _refuse_unknown(fmt, options, allowed)
        stream, report = _core.import_files(fmt, [str(p) for p in paths], **options)
        return Market(stream, json.loads(report))

    return importer


HBT_FIELDS = {
    "ev": np.uint64,
    "exch_ts": np.int64,
    "local_ts": np.int64,
    "px": np.float64,
    "qty": np.float64,
}


_ZIP_MAGIC = b"PK\x03\x04"
_NPY_MAGIC = b"\x93NUMPY"
HBT_OPTIONS = ("symbol", "venue", "tick_size", "lot_size", "round_qty", "on_gap")


def _not_hftbacktest(path: Path, detail: str) -> FormatError:
    return FormatError(f"{path}: not a valid hftbacktest file ({detail})")


def _read_npy(path: Path) -> np.ndarray:
    """A plain ``.npy`` event array; a file shorter than its header says is truncated."""
    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
            data_start = fh.tell()
    except (ValueError, EOFError) as e:
        raise TruncatedFileError(f"{path}: file is truncated (the .npy header is cut: {e})") from e
    if dtype.hasobject:
        raise _not_hftbacktest(path, "the array holds Python objects, not hftbacktest events")
    expected = data_start + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    size = path.stat().st_size
    if size < expected:
        raise TruncatedFileError(
            f"{path}: file is truncated ({size} bytes where its header announces {expected})"
        )
    return np.load(path, allow_pickle=False)


def _read_npz(path: Path) -> np.ndarray:
    """The event array of an ``.npz`` archive: key ``data``, or its only array."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as e:
        # the local header is there (checked by the caller) but the directory at the end is not
        raise TruncatedFileError(
            f"{path}: file is truncated (a zip archive without its closing directory: {e})"
        ) from e
    with archive:
        members = {name.removesuffix(".npy"): name for name in archive.namelist()}
        if "data" in members:
            key = "data"
        elif len(members) == 1:
            key = next(iter(members))
        else:
            raise _not_hftbacktest(path, f"no 'data' array among {sorted(members)}")
        try:
            with archive.open(members[key]) as member:
                return np.lib.format.read_array(member, allow_pickle=False)
        except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError) as e:
            raise _not_hftbacktest(
                path, f"array {key!r} is damaged or not an event array: {e}"
            ) from e


def _read_hftbacktest_npz(path: Path) -> np.ndarray:
    """The event array of an hftbacktest file: an ``.npz`` (key ``data``, or its only array) or
    a plain ``.npy``, with the fields of hftbacktest's ``event_dtype`` (times in ns, prices and
    sizes as floats). Not such a file or damaged → FormatError; cut short → TruncatedFileError;
    a missing field → ParseError naming it."""
    try:
        with open(path, "rb") as fh:
            magic = fh.read(len(_NPY_MAGIC))
    except OSError as e:
        raise DataIOError(f"{path}: cannot read ({e})") from e
    if magic.startswith(_NPY_MAGIC):
        data = _read_npy(path)
    elif magic.startswith(_ZIP_MAGIC):
        data = _read_npz(path)
    else:
        raise _not_hftbacktest(path, f"not an .npz archive or .npy array: it starts {magic!r}")
    names = data.dtype.names or ()
    for field in HBT_FIELDS:
        if field not in names:
            raise ParseError(
                f"{path}: missing field {field!r} (hftbacktest's event_dtype has "
                f"{', '.join(HBT_FIELDS)}, ...; found {list(names)})"
            )
    if data.ndim != 1:
        shape = data.shape
        raise _not_hftbacktest(path, f"the event array has shape {shape}, not one row per event")
    return data


def _hftbacktest(paths: list[Path], **options: Any) -> Market:
    unknown = sorted(set(options) - set(HBT_OPTIONS))
    if unknown:
        raise ConfigError(
            f"format 'hftbacktest' has no option {', '.join(unknown)}; "
            f"its options are {', '.join(HBT_OPTIONS)}"
        )
    _no_sequence_gaps("hftbacktest", options)
    arrays = [_read_hftbacktest_npz(p) for p in paths]
    data = np.concatenate(arrays) if len(arrays) > 1 else arrays[0]
    cols: dict[str, Any] = {
        name: np.ascontiguousarray(data[name], dtype=dtype) for name, dtype in HBT_FIELDS.items()
    }
    files = [(str(p), len(a)) for p, a in zip(paths, arrays, strict=True)]
    stream, report = _core.import_hftbacktest(
        **cols, source=str(paths[0]), files=files if len(files) > 1 else None, **options
    )
    return Market(stream, json.loads(report))


def _order_level(fmt: str) -> Callable[..., Market]:
    """An importer of order-level data: the market and its order log (``market.orders``)."""
    core = _core.import_databento if fmt == "databento" else _core.import_order_events

    allowed = ORDER_LEVEL_OPTIONS[fmt]

    def importer(paths: list[Path], **options: Any) -> Market:
        _refuse_unknown(fmt, options, allowed)
        _no_sequence_gaps(fmt, options)
        for key in ("definition", "size_scale"):
            if options.get(key) is not None:
                options[key] = str(options[key])
        if fmt == "order-events" and any(p.name.lower().endswith(".parquet") for p in paths):
            return _order_events_parquet(paths, core, options)
        try:
            stream, report, orders = core([str(p) for p in paths], **options)
        except TypeError as e:  # an option the format does not have
            raise ConfigError(f"format {fmt!r}: {e}") from None
        return Market(stream, json.loads(report), orders)

    return importer


def _order_events_parquet(
    paths: list[Path], core: Callable[..., Any], options: dict[str, Any]
) -> Market:
    """Order events in Parquet: each file is written as CSV to a temporary folder and read by
    the CSV importer; errors name the Parquet file and its row (from 0), not the CSV."""
    import re
    import tempfile

    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory(prefix="lobzero-order-events-") as tmp:
        csvs: dict[str, Path] = {}
        for k, p in enumerate(paths):
            if not p.name.lower().endswith(".parquet"):
                csvs[str(p)] = p
                continue
            try:
                table = pq.read_table(p)
            except (pa.ArrowInvalid, OSError) as e:
                raise FormatError(f"{p}: not a valid parquet file ({e})") from e
            out = Path(tmp) / f"{k}.csv"
            pacsv.write_csv(table, out, pacsv.WriteOptions(quoting_style="none"))
            csvs[str(out)] = p
        try:
            stream, report, orders = core([str(c) for c in csvs], **options)
        except TypeError as e:
            raise ConfigError(f"format 'order-events': {e}") from None
        except DataError as e:
            text = str(e)
            for csv_name, original in csvs.items():
                if original.name.lower().endswith(".parquet"):

                    def row(m: re.Match[str], o: Path = original) -> str:
                        return f"{o} row {int(m.group(1)) - 2}"

                    text = re.sub(re.escape(csv_name) + r":(\d+)", row, text)
                    text = text.replace(csv_name, str(original))
            raise type(e)(text) from None
    report_dict = json.loads(report)
    report_dict["files"] = [str(p) for p in paths]
    return Market(stream, report_dict, orders)


def _parquet(paths: list[Path], **options: Any) -> Market:
    if options:
        raise ConfigError(f"format 'parquet' takes no options, got {sorted(options)}")
    if len(paths) != 1:
        raise ConfigError("format 'parquet' reads one file at a time")
    return Market.load(paths[0])


_IMPORTERS: dict[str, Callable[..., Market]] = {
    "binance-stream": _text_format("binance-stream"),
    "binance-csv": _text_format("binance-csv"),
    "tardis": _text_format("tardis"),
    "lobster": _text_format("lobster"),
    "hyperliquid": _text_format("hyperliquid"),
    "hftbacktest": _hftbacktest,
    "databento": _order_level("databento"),
    "order-events": _order_level("order-events"),
    "parquet": _parquet,
}


def register_importer(name: str, importer: Callable[..., Market]) -> None:
    """Adds a format to :func:`import_market` (``importer(paths: list[Path], **options)``)."""
    _IMPORTERS[name] = importer


def _first_line(p: Path) -> str:
    """The first line of a plain or gzip text file ("" when it cannot be read as text)."""
    try:
        with open(p, "rb") as fh:
            gz = fh.read(2) == b"\x1f\x8b"
        with gzip.open(p, "rb") if gz else open(p, "rb") as fh:
            return fh.readline(1 << 16).decode("utf-8", errors="replace")
    except (OSError, EOFError, zlib.error) as e:
        raise DataIOError(f"{p}: cannot read ({e})") from e


def guess_format(path: PathLike) -> str:
    """The format a file most likely holds, from its name and first bytes: LOBSTER by its file
    name pattern, Hyperliquid by the channel of its first line."""
    p = Path(path)
    name = p.name.lower()
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith(".npz"):
        return "hftbacktest"
    if LOBSTER_NAME.match(p.name):
        return "lobster"
    if name.endswith((".dbn", ".dbn.zst")):
        return "databento"
    if name.endswith((".csv", ".csv.gz", ".csv.xz")):
        import lzma

        opener = gzip.open if name.endswith(".gz") else lzma.open if name.endswith(".xz") else open
        try:
            with opener(p, "rt") as fh:  # type: ignore[operator]
                header = fh.readline()
        except (OSError, lzma.LZMAError, EOFError) as e:
            raise DataIOError(f"{p}: cannot read ({e})") from e
        if header.startswith("exchange,symbol,timestamp,local_timestamp"):
            return "tardis"
        if "action" in header.strip().split(",") or name.endswith(".xz"):
            return "order-events"
        return "binance-csv"
    _, _, message = _first_line(p).partition(" ")
    if re.match(r'\s*\{\s*"channel"\s*:', message):
        return "hyperliquid"
    return "binance-stream"


def _symbol_in_json_lines(path: Path, lines: int = 64) -> str | None:
    """The ``"s"`` field of the first of ``lines`` Binance stream messages that has one."""
    import gzip

    opener: Any = gzip.open if _is_gzip(path) else open
    try:
        with opener(path, "rt", errors="replace") as fh:
            for _, line in zip(range(lines), fh, strict=False):
                found = re.search(r'"s"\s*:\s*"([^"]+)"', line)
                if found:
                    return found.group(1)
    except (OSError, EOFError, zlib.error):
        return None  # the importer reports what is wrong with the file
    return None


def _symbol_in_csv(path: Path) -> str | None:
    """The ``symbol`` column of the first data row of a (possibly gzipped) CSV whose header
    has one (a Binance trade CSV has none: None)."""
    import gzip

    opener: Any = gzip.open if _is_gzip(path) else open
    try:
        with opener(path, "rt", errors="replace") as fh:
            header = [h.strip() for h in fh.readline().split(",")]
            row = fh.readline().split(",")
    except (OSError, EOFError, zlib.error):
        return None
    if "symbol" not in header:
        return None
    column = header.index("symbol")
    return (row[column].strip() or None) if len(row) > column else None


def _is_gzip(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(2) == b"\x1f\x8b"
    except OSError:
        return False


def file_symbol(path: PathLike, format: str) -> str | None:
    """The symbol the data of one file names, read from its first lines (None when the format
    does not carry one, as hftbacktest's arrays, or it cannot be read here: the importer then
    reports the file's problem)."""
    p = Path(path)
    if format == "binance-stream":
        return _symbol_in_json_lines(p)
    if format in ("tardis", "binance-csv"):
        return _symbol_in_csv(p)
    if format == "parquet":
        import pyarrow.parquet as pq

        try:
            raw = (pq.read_schema(p).metadata or {}).get(b"lobzero")
            return str(json.loads(raw)["instrument"]["symbol"]) if raw else None
        except (OSError, ValueError, KeyError, TypeError):
            return None
    return None


def import_market(
    paths: PathLike | Sequence[PathLike] | Mapping[str, PathLike | Sequence[PathLike]],
    format: str | None = None,
    **options: Any,
) -> Market | Universe:
    """Imports one file or several files of one recording (in order) into a :class:`Market`;
    files of several symbols into a :class:`~lobzero.data.universe.Universe`.

    ``format`` is one of :data:`FORMATS`; guessed from the first file's name and header when
    omitted. Common options: ``symbol``, ``venue``, ``tick_size`` and ``lot_size`` (decimal
    strings, inferred from the data when the format allows), ``on_gap`` (``"error"`` or
    ``"resync"``), ``round_qty`` (round off-grid sizes to the lot, counted). LOBSTER's:
    ``date`` (``"YYYY-MM-DD"``), ``levels`` (int), ``on_book_mismatch`` (``"error"`` or
    ``"count"``). A format refuses an option it does not have (``ConfigError``).

    Several symbols: a mapping ``{"BTCUSDT": [files], "ETHUSDT": [files]}`` imports each group
    as one recording, keyed as given; a list of files whose data name several symbols (see
    :func:`file_symbol`) is grouped by symbol, in the order of the files, and gives a universe
    keyed by symbol. Files of one symbol (or of a format that names none, or with ``symbol``
    given) are one recording, as ever: a :class:`Market`. A universe folder
    (:meth:`Universe.save`) loads as a :class:`Universe`.

    Contract terms, for every format (see :class:`~lobzero.data.market.Instrument`):
    ``contract_size`` (decimal string), ``inverse`` (bool) and ``multiplier`` (decimal
    string) replace what the importer set: linear, size 1, multiplier 1, except that
    ``binance-stream`` marks COIN-M symbols (``<BASE>USD_PERP``, ``<BASE>USD_<YYMMDD>``)
    inverse with Binance's contract sizes (BTCUSD 100 USD, the others 10 USD). The import
    report records the terms given (``contract_overrides``).
    """
    if isinstance(paths, Mapping):
        if "symbol" in options:
            raise ConfigError("import_market: a mapping of symbols to files takes no 'symbol'")
        if not paths:
            raise ConfigError("import_market needs at least one input path")
        return Universe({str(k): _import_one(v, format, dict(options)) for k, v in paths.items()})
    if isinstance(paths, str | Path) and Path(paths).is_dir() and is_universe(paths):
        if options or format not in (None, "parquet"):
            raise ConfigError(f"{paths}: a universe folder is read as saved, without options")
        return Universe.load(paths)
    files = _paths(paths)
    fmt = format or guess_format(files[0])
    groups = symbol_groups(files, fmt) if options.get("symbol") is None else None
    if groups is not None:
        return Universe({k: _import_one(v, fmt, dict(options)) for k, v in groups.items()})
    return _import_one(files, fmt, options)


def symbol_groups(
    paths: PathLike | Sequence[PathLike], format: str | None = None
) -> dict[str, list[Path]] | None:
    """The files grouped by the symbol their data names (:func:`file_symbol`), each group in
    the files' order, when they name more than one; None when they are one recording (one
    symbol, or a file whose symbol cannot be told)."""
    files = _paths(paths)
    if len(files) < 2:
        return None
    fmt = format or guess_format(files[0])
    groups: dict[str, list[Path]] = {}
    for f in files:
        groups.setdefault(file_symbol(f, fmt) or "", []).append(f)
    return groups if len(groups) > 1 and "" not in groups else None


def _import_one(
    paths: PathLike | Sequence[PathLike], format: str | None, options: dict[str, Any]
) -> Market:
    """The files of one recording as a :class:`Market`."""
    files = _paths(paths)
    fmt = format or guess_format(files[0])
    try:
        importer = _IMPORTERS[fmt]
    except KeyError:
        raise ConfigError(
            f"unknown format {fmt!r}; choose one of {', '.join(sorted(_IMPORTERS))}"
        ) from None
    for key in ("tick_size", "lot_size"):
        if key in options and options[key] is not None:
            options[key] = str(options[key])
    terms = {k: options.pop(k) for k in CONTRACT_OPTIONS if k in options}
    terms = {k: v for k, v in terms.items() if v is not None}
    market = importer(files, **options)
    definition_multiplier = market.import_report.get("contract_multiplier")
    if definition_multiplier is not None and "multiplier" not in terms:
        # a Databento definition file gives the contract's multiplier (ES: 50 USD a point)
        terms["multiplier"] = definition_multiplier
    if not terms:
        return market
    market = market.with_contract(**terms)
    overrides = {k: getattr(market.instrument, k) for k in terms}
    market.import_report["contract_overrides"] = overrides
    return market
