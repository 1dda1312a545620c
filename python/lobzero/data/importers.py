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
- ``parquet``: lobzero's own format (:meth:`Market.save`).

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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lobzero import _core
from lobzero.data.market import Market
from lobzero.exceptions import (
    ConfigError,
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

#: LOBSTER's file names: TICKER_YYYY-MM-DD_START_END_message_LEVELS.csv (or _orderbook_)
LOBSTER_NAME = re.compile(r"^.+_\d{4}-\d{2}-\d{2}_\d+_\d+_(message|orderbook)_\d+\.csv(\.gz)?$")


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


def _text_format(fmt: str) -> Callable[..., Market]:
    """An importer for one of the text formats the Rust core reads."""

    allowed = TEXT_OPTIONS[fmt]

    def importer(paths: list[Path], **options: Any) -> Market:
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            raise ConfigError(
                f"format {fmt!r} has no option {', '.join(unknown)}; "
                f"its options are {', '.join(allowed)}"
            )
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
    options.pop("on_gap", None)  # no sequence numbers in this format: nothing to resynchronise
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
    if name.endswith(".csv") or name.endswith(".csv.gz"):
        opener = gzip.open if name.endswith(".gz") else open
        try:
            with opener(p, "rt") as fh:  # type: ignore[operator]
                header = fh.readline()
        except OSError as e:
            raise DataIOError(f"{p}: cannot read ({e})") from e
        if header.startswith("exchange,symbol,timestamp,local_timestamp"):
            return "tardis"
        return "binance-csv"
    _, _, message = _first_line(p).partition(" ")
    if re.match(r'\s*\{\s*"channel"\s*:', message):
        return "hyperliquid"
    return "binance-stream"


def import_market(
    paths: PathLike | Sequence[PathLike],
    format: str | None = None,
    **options: Any,
) -> Market:
    """Imports one file or several files of one recording (in order) into a :class:`Market`.

    ``format`` is one of :data:`FORMATS`; guessed from the first file's name and header when
    omitted. Common options: ``symbol``, ``venue``, ``tick_size`` and ``lot_size`` (decimal
    strings, inferred from the data when the format allows), ``on_gap`` (``"error"`` or
    ``"resync"``), ``round_qty`` (round off-grid sizes to the lot, counted). LOBSTER's:
    ``date`` (``"YYYY-MM-DD"``), ``levels`` (int), ``on_book_mismatch`` (``"error"`` or
    ``"count"``). A format refuses an option it does not have (``ConfigError``).
    """
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
    return importer(files, **options)
