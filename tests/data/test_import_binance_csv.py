"""Binance historical CSVs (``binance-csv``): the depth fixtures in ../shared/data and small files
written here (every error class at least once, with the line the message names)."""

from __future__ import annotations

from pathlib import Path

import lobzero
import numpy as np
import pytest

from tests.data.textfiles import KIND, write

DEPTH_HEADER = "symbol,timestamp,first_update_id,last_update_id,side,update_type,price,qty,pu\n"
TRADE_HEADER = "id,price,qty,quote_qty,time,is_buyer_maker\n"
# a futures snapshot (id 10) at t = 1000 ms: bid 100.0 x 1.0, ask 100.5 x 2.0
SNAP = "X,1000,10,10,b,snap,100.0,1.0,-1\nX,1000,10,10,a,snap,100.5,2.0,-1\n"


def fixture(shared_data: Path, name: str) -> Path:
    return shared_data / "format-fixtures" / "binance" / name


# -- the recorded fixtures ---------------------------------------------------------------------


def test_snapshot_fixture_golden_values(shared_data: Path) -> None:
    market = lobzero.import_market(fixture(shared_data, "btcusdt-depth-snap.csv"))
    assert market.import_report["format"] == "binance-csv"  # guessed from the header
    meta = market.instrument
    assert (meta.symbol, meta.venue, meta.tick_size, meta.lot_size) == (
        "BTCUSDT",
        "binance",
        "0.1",
        "0.001",
    )
    cols = market.columns()
    # one snapshot: a clear, then the 100 bid levels of the file (it has no ask rows)
    assert len(market) == 101 and market.import_report["snapshots"] == 1
    assert cols["kind"][0] == KIND["clear"] and (cols["kind"][1:] == KIND["snapshot"]).all()
    # first row of the file, hand-read: BTCUSDT,1667346579146,...,b,snap,20377.00,1.770,-1
    assert cols["price_ticks"][1] == 203770 and cols["qty_lots"][1] == 1770
    assert (cols["ts_ns"] == 1667346579146 * 1_000_000).all()
    assert (cols["recv_ts_ns"] == cols["ts_ns"]).all()  # one timestamp in the file, used twice
    # best bid = 20377.00 (the highest bid price of the file, checked by hand); no asks at all
    assert cols["price_ticks"][cols["side"] == 1].max() == 203770
    assert (cols["side"][1:] == 1).all()
    assert any("one timestamp" in note for note in market.import_report["notes"])


def test_update_fixture_does_not_continue_the_snapshot(shared_data: Path) -> None:
    snap = fixture(shared_data, "btcusdt-depth-snap.csv")
    update = fixture(shared_data, "btcusdt-depth-update.csv")
    # recorded ten minutes apart: the update (ids 2098041693435..2098041696700, pu 2098041693400)
    # neither names nor covers the snapshot's id 2098021528332
    with pytest.raises(
        lobzero.SequenceGapError, match=r"btcusdt-depth-update\.csv:2: .*pu=2098041693400"
    ):
        lobzero.import_market([snap, update], format="binance-csv")
    market = lobzero.import_market([snap, update], format="binance-csv", on_gap="resync")
    report = market.import_report
    assert report["gaps"] == 1 and report["diffs_dropped_awaiting_snapshot"] == 1
    assert report["messages"] == {"snapshot": 1, "update": 1}
    kinds = market.columns()["kind"]
    assert len(kinds) == 102 and kinds[-1] == KIND["clear"]  # the book is cleared at the gap
    assert market.instrument.venue == "binance-futures"  # the update rows carry pu
    # updates alone cannot build a book
    with pytest.raises(lobzero.SequenceGapError, match=r"update\.csv:2: .*before any snapshot"):
        lobzero.import_market(update, format="binance-csv")
    with pytest.raises(lobzero.FormatError, match="no snapshot"):
        lobzero.import_market(update, format="binance-csv", on_gap="resync")


# -- files written here ----------------------------------------------------------------------


def test_depth_and_trades_merge_by_time(tmp_path: Path) -> None:
    depth = write(
        tmp_path,
        "d.csv.gz",
        DEPTH_HEADER
        + SNAP
        + "X,1002,11,12,b,set,100.1,0.5,10\nX,1002,11,12,a,set,100.5,0,10\n"
        + "X,1002,11,12,a,set,100.6,1,10\n",
    )
    trades = write(
        tmp_path,
        "t.csv",
        TRADE_HEADER + "1,100.5,0.3,30.15,1001,false\n2,100.1,0.2,20.02,1002,true\n",
    )
    market = lobzero.import_market([trades, depth], format="binance-csv")
    cols = market.columns()
    # the trade at 1002 ms comes after the depth rows of 1002 ms (depth first on ties)
    assert list(cols["kind"]) == [3, 0, 0, 2, 1, 1, 1, 2]
    assert list(cols["side"][[3, 7]]) == [1, -1]  # buyer maker false: a buy took the ask
    assert list(cols["recv_ts_ns"][[3, 7]]) == [1_001_000_000, 1_002_000_000]
    assert list(cols["price_ticks"][[4, 5, 6]]) == [1001, 1005, 1006]
    assert market.instrument.venue == "binance-futures"


def test_spot_trades_without_header_and_microseconds(tmp_path: Path) -> None:
    # spot: 7 columns (is_best_match), no header, time in µs (files since 2025)
    trades = write(
        tmp_path,
        "spot.csv",
        "5,100.5,0.3,30.15,1735689600000000,False,True\n6,100.4,1,100.4,1735689600000500,True,True\n",
    )
    cols = lobzero.import_market(trades, format="binance-csv").columns()
    assert list(cols["ts_ns"]) == [1735689600000000000, 1735689600000500000]
    assert list(cols["side"]) == [1, -1]


def test_stale_updates_after_a_snapshot_are_dropped(tmp_path: Path) -> None:
    text = (
        DEPTH_HEADER
        + SNAP.replace(",10,10,", ",20,20,")  # snapshot id 20
        + "X,1001,15,18,b,set,99.0,5,14\n"  # ends before the snapshot: stale
        + "X,1002,19,22,b,set,100.2,1,18\n"  # covers id 20: applies
        + "X,1003,23,25,a,set,100.6,3,22\n"  # continues (pu = 22)
    )
    market = lobzero.import_market(write(tmp_path, "s.csv", text), format="binance-csv")
    assert market.import_report["stale_diffs_dropped"] == 1
    assert list(market.columns()["price_ticks"][3:]) == [1002, 1006]


def test_spot_depth_updates_must_follow_each_other(tmp_path: Path) -> None:
    text = DEPTH_HEADER + SNAP + "X,1001,11,12,b,set,100.0,2,-1\nX,1002,14,15,b,set,100.0,3,-1\n"
    path = write(tmp_path, "spot.csv", text)
    with pytest.raises(lobzero.SequenceGapError, match=r"spot\.csv:5: .*first_update_id=14"):
        lobzero.import_market(path, format="binance-csv")
    market = lobzero.import_market(path, format="binance-csv", on_gap="resync")
    assert market.import_report["gaps"] == 1
    assert market.instrument.venue == "binance"


def test_two_snapshots_in_a_row_are_two(tmp_path: Path) -> None:
    text = DEPTH_HEADER + SNAP + SNAP.replace("1000,10,10", "2000,30,30").replace("100.5", "100.7")
    market = lobzero.import_market(write(tmp_path, "two.csv", text), format="binance-csv")
    assert market.import_report["snapshots"] == 2
    assert list(market.columns()["kind"]) == [3, 0, 0, 3, 0, 0]


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        (
            DEPTH_HEADER + "X,1000,10,10,q,snap,100.0,1.0,-1\n",
            lobzero.InvalidValueError,
            r"bad\.csv:2: side \"q\"",
        ),
        (
            DEPTH_HEADER + "X,1000,10,10,b,snap,NaN,1.0,-1\n",
            lobzero.InvalidValueError,
            r"bad\.csv:2: price",
        ),
        (
            DEPTH_HEADER + "X,1000,10,10,b,snap,100.0,-1,-1\n",
            lobzero.InvalidValueError,
            r"bad\.csv:2: qty: negative",
        ),
        (
            DEPTH_HEADER + "X,1000,10,10,b,boo,100.0,1,-1\n",
            lobzero.InvalidValueError,
            r"bad\.csv:2: update_type",
        ),
        (
            TRADE_HEADER + "1,100.5,0,0,1001,false\n",
            lobzero.InvalidValueError,
            r"bad\.csv:2: .*positive",
        ),
        (
            TRADE_HEADER + "1,100.5,1,1,1001,maybe\n",
            lobzero.InvalidValueError,
            r"bad\.csv:2: is_buyer_maker",
        ),
        (DEPTH_HEADER + "X,1000,10,10,b\n" + SNAP, lobzero.ParseError, r"bad\.csv:2: 5 fields"),
        (
            DEPTH_HEADER + "X,soon,10,10,b,snap,1,1,-1\n",
            lobzero.ParseError,
            r"bad\.csv:2: timestamp .*not an integer",
        ),
        (TRADE_HEADER + "1,100.5,1,1,noon,false\n", lobzero.ParseError, r"bad\.csv:2: time"),
        (
            DEPTH_HEADER + SNAP + "X,900,10,10,a,snap,101,1,-1\n",
            lobzero.TimestampOrderError,
            r"bad\.csv:4",
        ),
        (
            DEPTH_HEADER + SNAP + "X,1001,11,11,b,set,100.5,1,10\n",
            lobzero.CrossedBookError,
            r"bad\.csv:4: crossed book",
        ),
        (
            DEPTH_HEADER + SNAP + "X,1001,11,11,b,set,100.1,1,9\n",
            lobzero.SequenceGapError,
            r"bad\.csv:4: .*pu=9",
        ),
        (
            DEPTH_HEADER + SNAP + "Y,1001,11,11,b,set,100.1,1,10\n",
            lobzero.FormatError,
            r"bad\.csv:4: .*symbol \"Y\"",
        ),
        ("symbol,price\nX,1\n", lobzero.FormatError, r"bad\.csv:1: .*neither a depth file"),
        (
            DEPTH_HEADER.replace(",pu", "") + "X,1000,10,10,b,snap,1,1\n",
            lobzero.FormatError,
            r"bad\.csv:1: .*missing column \"pu\"",
        ),
        (
            DEPTH_HEADER + SNAP + "X,1001,11,11,b,set,100.1,1",
            lobzero.TruncatedFileError,
            r"bad\.csv:4: .*cut short",
        ),
        (
            TRADE_HEADER + "1,100.5,0.3,30.15,1001,false\n2,100.1,0.",
            lobzero.TruncatedFileError,
            r"bad\.csv:3",
        ),
    ],
)
def test_errors_name_the_line(tmp_path: Path, text: str, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        lobzero.import_market(write(tmp_path, "bad.csv", text), format="binance-csv")


def test_truncated_gzip(tmp_path: Path) -> None:
    path = write(tmp_path, "cut.csv.gz", DEPTH_HEADER + SNAP * 200)
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(lobzero.TruncatedFileError, match=r"cut\.csv\.gz:\d+"):
        lobzero.import_market(path, format="binance-csv")


def test_off_grid_sizes_against_a_given_lot(tmp_path: Path) -> None:
    path = write(tmp_path, "lot.csv", DEPTH_HEADER + SNAP.replace("2.0", "2.0004"))
    with pytest.raises(lobzero.InvalidValueError, match=r"lot\.csv:3: size .*round_qty"):
        lobzero.import_market(path, format="binance-csv", lot_size="0.001")
    market = lobzero.import_market(path, format="binance-csv", lot_size="0.001", round_qty=True)
    assert market.import_report["qty_rounded"] == 1
    assert np.array_equal(market.columns()["qty_lots"], [0, 1000, 2000])
