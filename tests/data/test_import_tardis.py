"""Tardis CSVs (``tardis``): the fixtures in ../shared/data and small files written here (every
error class Tardis files can show, with the line the message names)."""

from __future__ import annotations

from pathlib import Path

import lobzero
import numpy as np
import pytest

from tests.data.textfiles import KIND, write

L2_HEADER = "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n"
TRADES_HEADER = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"
SNAP2_HEADER = (
    "exchange,symbol,timestamp,local_timestamp,asks[0].price,asks[0].amount,bids[0].price,"
    "bids[0].amount,asks[1].price,asks[1].amount,bids[1].price,bids[1].amount\n"
)
# a snapshot at local time 10 µs: ask 100.5 x 3, bid 100 x 2
L2_SNAP = "x,S,1,10,true,ask,100.5,3\nx,S,1,10,true,bid,100,2\n"


def fixture(shared_data: Path, name: str) -> Path:
    return shared_data / "format-fixtures" / "tardis" / name


# -- the recorded fixtures ---------------------------------------------------------------------


def test_incremental_fixture_golden_values(shared_data: Path) -> None:
    market = lobzero.import_market(
        fixture(shared_data, "deribit_incremental_book_L2_BTC-PERPETUAL.csv")
    )
    assert market.import_report["format"] == "tardis"  # guessed from the header
    meta = market.instrument
    assert (meta.venue, meta.symbol, meta.tick_size, meta.lot_size) == (
        "deribit",
        "BTC-PERPETUAL",
        "0.5",
        "10",
    )
    cols = market.columns()
    assert len(market) == 16 and cols["kind"][0] == KIND["clear"]  # a clear + 15 ask levels
    # first row, hand-read: ask 6421.5 x 18640, timestamp 1585699200245000 µs,
    # local_timestamp 1585699200355684 µs
    assert cols["price_ticks"][1] == 12843 and cols["qty_lots"][1] == 1864
    assert cols["ts_ns"][1] == 1585699200245000000
    assert cols["recv_ts_ns"][1] == 1585699200355684000
    assert cols["price_ticks"][cols["side"] == -1].min() == 12843  # best ask 6421.5
    assert market.import_report["snapshots"] == 1


@pytest.mark.parametrize(("levels", "events"), [(5, 10 * (1 + 10)), (25, 10 * (1 + 50))])
def test_book_snapshot_fixtures(shared_data: Path, levels: int, events: int) -> None:
    path = fixture(shared_data, f"binance-futures_book_snapshot_{levels}_BTCUSDT.csv")
    market = lobzero.import_market(path)
    assert market.import_report["snapshots"] == 10 and len(market) == events
    assert market.instrument.tick_size == "0.01" and market.instrument.lot_size == "0.001"
    cols = market.columns()
    # every row is a clear then its levels; first row: asks[0] 11657.08 x 1.714,
    # bids[0] 11657.07 x 10.896 (one tick apart)
    assert (cols["kind"][:: 1 + 2 * levels] == KIND["clear"]).all()
    first = slice(1, 1 + 2 * levels)
    asks, bids = cols["side"][first] == -1, cols["side"][first] == 1
    assert cols["price_ticks"][first][asks].min() == 1165708
    assert cols["price_ticks"][first][bids].max() == 1165707
    assert cols["qty_lots"][1] == 1714 and cols["qty_lots"][2] == 10896
    assert cols["recv_ts_ns"][0] == 1598918403810979000


def test_trades_fixture(shared_data: Path) -> None:
    market = lobzero.import_market(fixture(shared_data, "bitmex_trades_XBTUSD.csv"))
    cols = market.columns()
    assert (cols["kind"] == KIND["trade"]).all() and len(market) == 10
    assert (cols["side"] == -1).all()  # every trade of the file is a sell
    # 8531.5 on the inferred 0.5 grid; sizes 2152 then 1 contract
    assert market.instrument.tick_size == "0.5" and cols["price_ticks"][0] == 17063
    assert list(cols["qty_lots"][:2]) == [2152, 1]


def test_quotes_are_refused(shared_data: Path) -> None:
    with pytest.raises(
        lobzero.FormatError,
        match=r"quotes_BTC-USD\.csv:1: .*supported: incremental_book_L2, book_snapshot_N, trades",
    ):
        lobzero.import_market(fixture(shared_data, "huobi-dm-swap_quotes_BTC-USD.csv"))


def test_two_instruments_in_two_files_are_a_universe(shared_data: Path) -> None:
    """Files of two symbols are grouped by the symbol of their rows (issue 16: before, the
    import refused them, "one instrument per import"); each group is its own recording."""
    files = [
        fixture(shared_data, "deribit_incremental_book_L2_BTC-PERPETUAL.csv"),
        fixture(shared_data, "bitmex_trades_XBTUSD.csv"),
    ]
    universe = lobzero.import_market(files)
    assert isinstance(universe, lobzero.Universe)
    assert universe.symbols == ["BTC-PERPETUAL", "XBTUSD"]
    assert universe["XBTUSD"].instrument.venue == "bitmex"


def test_two_instruments_in_one_file_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "two.csv", L2_HEADER + L2_SNAP + "x,T,2,20,false,bid,100,1\n")
    with pytest.raises(lobzero.FormatError, match="one instrument per import"):
        lobzero.import_market(path)


# -- files written here ----------------------------------------------------------------------


def test_book_and_trades_merge_by_local_timestamp(tmp_path: Path) -> None:
    book = write(
        tmp_path,
        "book.csv.gz",
        L2_HEADER + L2_SNAP + "x,S,2,20,false,bid,100,0\nx,S,2,20,false,bid,99.5,1\n",
    )
    trades = write(
        tmp_path, "trades.csv", TRADES_HEADER + "x,S,3,15,a,sell,100,1\nx,S,3,20,b,buy,100.5,2\n"
    )
    market = lobzero.import_market([trades, book], format="tardis")
    cols = market.columns()
    # by local time; at 20 µs the book rows come first (book files before trade files)
    assert list(cols["kind"]) == [3, 0, 0, 2, 1, 1, 2]
    assert list(cols["recv_ts_ns"]) == [10_000] * 3 + [15_000] + [20_000] * 3
    assert list(cols["ts_ns"][[3, 6]]) == [3_000, 3_000]  # exchange time from `timestamp`
    assert list(cols["side"][[3, 6]]) == [-1, 1]
    assert list(cols["qty_lots"][4:6]) == [0, 1]  # amount 0 deletes the level


def test_a_new_snapshot_run_clears_the_book(tmp_path: Path) -> None:
    text = (
        L2_HEADER
        + L2_SNAP
        + "x,S,2,20,false,bid,99.5,1\n"
        + "x,S,3,30,true,ask,101,1\nx,S,3,30,true,bid,100.5,1\n"
    )
    market = lobzero.import_market(write(tmp_path, "l2.csv", text), format="tardis")
    assert list(market.columns()["kind"]) == [3, 0, 0, 1, 3, 0, 0]
    assert market.import_report["snapshots"] == 2
    top = market.sample_book(step_ms=0.01, levels=2)
    # after the second snapshot only its levels remain: 99.5 (before it) is gone
    assert list(top["bid_price_ticks"][-1]) == [201, 0]


def test_wide_snapshot_with_empty_cells(tmp_path: Path) -> None:
    text = SNAP2_HEADER + "x,S,1,10,101,1,100,2,102,1,,\nx,S,2,20,101,1,100,3,,,,\n"
    market = lobzero.import_market(write(tmp_path, "snap.csv", text), format="tardis")
    cols = market.columns()
    assert list(cols["kind"]) == [3, 0, 0, 0, 3, 0, 0]  # empty cells are absent levels
    assert list(cols["side"][1:4]) == [-1, 1, -1]


def test_unknown_trade_side(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", TRADES_HEADER + "x,S,1,10,a,unknown,100,1\n")
    assert np.array_equal(lobzero.import_market(path, format="tardis").columns()["side"], [0])


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        (
            L2_HEADER + "x,S,1,10,maybe,bid,100,1\n",
            lobzero.InvalidValueError,
            r"bad\.csv:2: is_snapshot",
        ),
        (
            L2_HEADER + "x,S,1,10,true,middle,100,1\n",
            lobzero.InvalidValueError,
            r"bad\.csv:2: side",
        ),
        (L2_HEADER + "x,S,1,10,true,bid,nan,1\n", lobzero.InvalidValueError, r"bad\.csv:2: price"),
        (
            L2_HEADER + "x,S,1,10,true,bid,100,-1\n",
            lobzero.InvalidValueError,
            r"bad\.csv:2: amount",
        ),
        (
            TRADES_HEADER + "x,S,1,10,a,buy,100,0\n",
            lobzero.InvalidValueError,
            r"bad\.csv:2: .*positive",
        ),
        (
            TRADES_HEADER + "x,S,1,10,a,bought,100,1\n",
            lobzero.InvalidValueError,
            r"bad\.csv:2: side",
        ),
        (
            L2_HEADER + "x,S,1,ten,true,bid,100,1\n",
            lobzero.ParseError,
            r"bad\.csv:2: local_timestamp",
        ),
        (L2_HEADER + "x,S,1,10,true,bid\n" + L2_SNAP, lobzero.ParseError, r"bad\.csv:2: 6 fields"),
        (
            TRADES_HEADER + "x,S,1,10,a,buy,100,1\nx,S,1,9,b,buy,100,1\n",
            lobzero.TimestampOrderError,
            r"bad\.csv:3",
        ),
        (
            L2_HEADER + L2_SNAP + "x,S,2,20,false,bid,100.5,1\n",
            lobzero.CrossedBookError,
            r"bad\.csv:4: crossed book",
        ),
        (
            "exchange,symbol,timestamp\nx,S,1\n",
            lobzero.FormatError,
            r"bad\.csv:1: .*missing column",
        ),
        (
            L2_HEADER + L2_SNAP + "x,T,2,20,false,bid,99,1\n",
            lobzero.FormatError,
            r"bad\.csv:4: .*one instrument",
        ),
        (
            L2_HEADER + L2_SNAP + "x,S,2,20,false,bid,99,",
            lobzero.TruncatedFileError,
            r"bad\.csv:4: .*cut short",
        ),
    ],
)
def test_errors_name_the_line(tmp_path: Path, text: str, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        lobzero.import_market(write(tmp_path, "bad.csv", text), format="tardis")


def test_truncated_gzip(tmp_path: Path) -> None:
    path = write(tmp_path, "cut.csv.gz", TRADES_HEADER + "x,S,1,10,a,buy,100,1\n" * 500)
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(lobzero.TruncatedFileError, match=r"cut\.csv\.gz:\d+"):
        lobzero.import_market(path, format="tardis")
