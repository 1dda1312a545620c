"""The Binance recording importer, on the real files in ../shared/data and on files written here."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import lobzero
import numpy as np
import pytest
from lobzero.data.market import KIND_CLEAR, KIND_SNAPSHOT, KIND_TRADE, KIND_UPDATE

MS = 1_000_000


def depth(recv: int, first: int, last: int, prev: int | None, bids=(), asks=(), sym="BTCUSDT"):
    data = {
        "e": "depthUpdate",
        "E": recv // MS,
        "s": sym,
        "U": first,
        "u": last,
        "b": bids,
        "a": asks,
    }
    if prev is not None:
        data["pu"] = prev
        data["T"] = recv // MS
    return f"{recv} " + json.dumps({"stream": "btcusdt@depth@0ms", "data": data})


def snapshot(recv: int, last_update_id: int, bids, asks):
    return f"{recv} " + json.dumps({"lastUpdateId": last_update_id, "bids": bids, "asks": asks})


def trade(recv: int, price: str, qty: str, buyer_is_maker: bool):
    data = {
        "e": "trade",
        "E": recv // MS,
        "T": recv // MS,
        "s": "BTCUSDT",
        "t": 1,
        "p": price,
        "q": qty,
        "m": buyer_is_maker,
    }
    return f"{recv} " + json.dumps({"stream": "btcusdt@trade", "data": data})


def futures_lines() -> list[str]:
    return [
        depth(1 * MS, 5, 8, 4, bids=[["100.0", "1.000"]]),
        snapshot(2 * MS, 9, [["100.0", "2.000"], ["99.9", "1.5"]], [["100.2", "3"]]),
        depth(3 * MS, 9, 12, 8, bids=[["100.1", "0.5"]], asks=[["100.2", "0"], ["100.3", "1"]]),
        trade(4 * MS, "100.3", "0.25", False),
        depth(5 * MS, 13, 14, 12, asks=[["100.4", "2"]]),
    ]


def write(tmp_path: Path, lines: list[str], name="rec.gz", gz=True) -> Path:
    path = tmp_path / name
    text = "\n".join(lines) + "\n"
    if gz:
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


def test_small_futures_recording_by_hand(tmp_path: Path) -> None:
    market = lobzero.import_market(write(tmp_path, futures_lines()), format="binance-stream")
    meta = market.instrument
    assert (meta.symbol, meta.venue, meta.tick_size, meta.lot_size) == (
        "BTCUSDT",
        "binance-futures",
        "0.1",
        "0.05",  # the coarsest 1/2/5 grid of the sizes seen: 2, 1.5, 3, 0.5, 1, 0.25, 2
    )
    cols = market.columns()
    # the diff before the snapshot is stale (u=8 < lastUpdateId=9) and dropped
    assert market.import_report["stale_diffs_dropped"] == 1
    assert list(cols["kind"]) == [KIND_CLEAR] + [KIND_SNAPSHOT] * 3 + [KIND_UPDATE] * 3 + [
        KIND_TRADE,
        KIND_UPDATE,
    ]
    assert list(cols["price_ticks"][1:4]) == [1000, 999, 1002]
    assert list(cols["qty_lots"][1:4]) == [40, 30, 60]
    assert cols["side"][7] == 1  # buyer not maker: buyer-initiated
    book = market.sample_book(step_ms=1, levels=3)
    # at t = 5 ms: bids 100.1 x 0.5, 100.0 x 2, 99.9 x 1.5; asks 100.3 x 1, 100.4 x 2
    assert list(book["bid_price_ticks"][-1]) == [1001, 1000, 999]
    assert list(book["ask_price_ticks"][-1]) == [1003, 1004, 0]
    assert list(book["ask_qty_lots"][-1]) == [20, 40, 0]


def test_tick_and_lot_can_be_given(tmp_path: Path) -> None:
    path = write(tmp_path, futures_lines())
    market = lobzero.import_market(path, tick_size="0.1", lot_size="0.001", symbol="X", venue="v")
    assert market.instrument.lot_size == "0.001"
    assert market.instrument.symbol == "X"
    assert not market.import_report["lot_size_inferred"]
    with pytest.raises(
        lobzero.InvalidValueError, match=r"rec\.gz:2: price 99\.9 is not a multiple"
    ):
        lobzero.import_market(path, tick_size="0.2")


def test_gap_is_an_error_or_a_counted_resync(tmp_path: Path) -> None:
    lines = futures_lines()
    lines[4] = depth(5 * MS, 13, 14, 11, asks=[["100.4", "2"]])
    path = write(tmp_path, lines)
    with pytest.raises(lobzero.SequenceGapError, match=r"rec\.gz:5: sequence gap \(pu=11") as info:
        lobzero.import_market(path)
    assert info.value.location == f"{path}:5"
    market = lobzero.import_market(path, on_gap="resync")
    assert market.import_report["gaps"] == 1
    assert market.import_report["diffs_dropped_awaiting_snapshot"] == 1
    assert market.columns()["kind"][-1] == KIND_CLEAR


def test_spot_continuity_rule(tmp_path: Path) -> None:
    lines = [
        snapshot(1 * MS, 10, [["50.00", "1"]], [["50.02", "1"]]),
        depth(2 * MS, 9, 11, None, bids=[["50.01", "1"]]),  # straddles 10 + 1: applied
        depth(3 * MS, 12, 12, None, asks=[["50.03", "2"]]),  # U == previous u + 1
        depth(4 * MS, 14, 15, None, asks=[["50.04", "2"]]),  # 13 is missing
    ]
    with pytest.raises(lobzero.SequenceGapError, match=r":4: .*U=14 but the previous diff ended"):
        lobzero.import_market(write(tmp_path, lines))
    market = lobzero.import_market(write(tmp_path, lines[:3]))
    assert market.instrument.venue == "binance"


BAD_CASES = [
    (["notamessage"], lobzero.ParseError, r":1: expected `<receive time \(ns or µs\)> <JSON>`"),
    (["12 {nope"], lobzero.ParseError, r":1: unparseable JSON"),
    (["x1 {}"], lobzero.ParseError, r"receive time \"x1\" is not an integer"),
    (['12 {"a": 1}'], lobzero.FormatError, r"neither a combined-stream message"),
    ([depth(1, 1, 2, 0, bids=[["1.0", "1"]])], lobzero.FormatError, r"no REST depth snapshot"),
    ([snapshot(1, 1, [["NaN", "1"]], [])], lobzero.InvalidValueError, r":1: price: not a plain"),
    ([snapshot(1, 1, [["1.0", "-1"]], [])], lobzero.InvalidValueError, r":1: size: negative"),
    (
        [trade(5, "1.0", "1", True), trade(4, "1.0", "1", True)],
        lobzero.TimestampOrderError,
        r":2: timestamp goes backwards",
    ),
    (
        [snapshot(1, 1, [["1.0", "1"]], [["1.1", "1"]]), depth(2, 1, 2, 0, bids=[["1.2", "1"]])],
        lobzero.CrossedBookError,
        r":2: crossed book \(best bid 12 >= best ask 11",
    ),
    (
        [trade(1, "1.0", "1", True), depth(2, 1, 2, 0, sym="ETHUSDT")],
        lobzero.FormatError,
        r'symbol "ETHUSDT" in a recording of "BTCUSDT"',
    ),
]


@pytest.mark.parametrize(("lines", "error", "message"), BAD_CASES)
def test_bad_input_names_the_line(tmp_path: Path, lines, error, message) -> None:
    with pytest.raises(error, match=message):
        lobzero.import_market(
            write(tmp_path, lines, gz=False, name="bad.txt"), format="binance-stream"
        )


def test_truncated_files(tmp_path: Path) -> None:
    path = write(tmp_path, futures_lines(), gz=False, name="cut.txt")
    path.write_bytes(path.read_bytes()[:-25])
    with pytest.raises(lobzero.TruncatedFileError, match=r"cut\.txt:5: file is truncated"):
        lobzero.import_market(path, format="binance-stream")
    gz = write(tmp_path, futures_lines())
    gz.write_bytes(gz.read_bytes()[:-30])
    with pytest.raises(lobzero.TruncatedFileError, match="compressed stream ends early"):
        lobzero.import_market(gz)


def test_missing_file_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(lobzero.DataIOError, match="no such file"):
        lobzero.import_market(tmp_path / "absent.gz")
    with pytest.raises(lobzero.ConfigError, match="unknown format 'nope'"):
        lobzero.import_market(write(tmp_path, futures_lines()), format="nope")
    with pytest.raises(lobzero.ConfigError, match='on_gap must be "error" or "resync"'):
        lobzero.import_market(write(tmp_path, futures_lines()), on_gap="ignore")


# -- the real recordings --------------------------------------------------------------------


def test_real_usdm_file(shared_data: Path) -> None:
    market = lobzero.import_market(shared_data / "binance-usdm-btcusdt" / "btcusdt_20240808.gz")
    meta = market.instrument
    assert (meta.symbol, meta.venue, meta.tick_size, meta.lot_size) == (
        "BTCUSDT",
        "binance-futures",
        "0.1",
        "0.001",
    )
    report = market.import_report
    assert report["snapshots"] == 1 and report["gaps"] == 0
    assert report["messages"]["snapshot"] == 1
    assert report["events_by_kind"]["trade"] == report["messages"]["trade"]
    book = market.sample_book(step_ms=100, levels=5)
    bid, ask = book["bid_price_ticks"][:, 0], book["ask_price_ticks"][:, 0]
    live = (bid > 0) & (ask > 0)
    assert live.mean() > 0.95
    assert (bid[live] < ask[live]).all()
    mid = (bid[live] + ask[live]) / 2 * meta.tick
    assert mid.min() > 55_000 and mid.max() < 70_000  # BTC in August 2024
    # the spread of BTCUSDT perpetual is one tick most of the time
    assert np.median(ask[live] - bid[live]) == 1


def test_real_spot_session_spans_two_files(shared_data: Path) -> None:
    folder = shared_data / "binance-spot-btcusdt"
    files = [folder / "btcusdt_20240808.gz", folder / "btcusdt_20240809.gz"]
    market = lobzero.import_market(files)
    assert market.instrument.venue == "binance"
    assert market.instrument.tick_size == "0.01"
    assert market.import_report["gaps"] == 0
    first = lobzero.import_market(files[0])
    assert len(first) < len(market)
    assert (market.end_ns - market.start_ns) / 1e9 > 600  # ~10.8 minutes
