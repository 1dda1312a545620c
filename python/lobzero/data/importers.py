"""`import_market`: read exchange and vendor files into a :class:`Market`.

Formats (``format=``):

- ``binance-stream``: Binance recordings, gzip or plain lines ``<recv_ns> <JSON>`` (REST depth
  snapshot, ``depthUpdate`` diffs, ``trade`` / ``aggTrade``, ``bookTicker``), spot and USD-M.
- ``binance-csv``: Binance historical depth CSVs (``snap`` / ``set`` rows) and trade CSVs.
- ``tardis``: Tardis ``incremental_book_L2``, ``book_snapshot_N`` and ``trades`` CSVs.
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

Every importer validates what it reads and raises a :class:`~lobzero.exceptions.DataError`
subclass naming the file, the line or row and the rule broken. Standard repairs are explicit
options, counted in ``market.import_report``.
"""

from __future__ import annotations

import json
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
    "hftbacktest",
    "databento",
    "order-events",
    "parquet",
)


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

    def importer(paths: list[Path], **options: Any) -> Market:
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


def _order_level(fmt: str) -> Callable[..., Market]:
    """An importer of order-level data: the market and its order log (``market.orders``)."""
    core = _core.import_databento if fmt == "databento" else _core.import_order_events

    def importer(paths: list[Path], **options: Any) -> Market:
        options.pop("on_gap", None)  # neither format carries sequence gaps lobzero resyncs
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
    "hftbacktest": _hftbacktest,
    "databento": _order_level("databento"),
    "order-events": _order_level("order-events"),
    "parquet": _parquet,
}


def register_importer(name: str, importer: Callable[..., Market]) -> None:
    """Adds a format to :func:`import_market` (``importer(paths: list[Path], **options)``)."""
    _IMPORTERS[name] = importer


def guess_format(path: PathLike) -> str:
    """The format a file most likely holds, from its name and first bytes."""
    p = Path(path)
    name = p.name.lower()
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith(".npz"):
        return "hftbacktest"
    if name.endswith((".dbn", ".dbn.zst")):
        return "databento"
    if name.endswith((".csv", ".csv.gz", ".csv.xz")):
        import gzip
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
    ``"resync"``), ``round_qty`` (round off-grid sizes to the lot, counted).
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
