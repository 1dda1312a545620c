"""Binance historical CSVs and Tardis CSVs: the nautilus_trader fixtures in ../shared/data and
small files written here (every error class at least once, with the line it names)."""

from __future__ import annotations

import gzip
from pathlib import Path

import lobzero
import pytest

DEPTH_HEADER = "symbol,timestamp,first_update_id,last_update_id,side,update_type,price,qty,pu\n"
TARDIS_L2 = "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n"
TARDIS_TRADES = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    if name.endswith(".gz"):
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


# -- Binance historical CSVs ----------------------------------------------------------------


def test_binance_snapshot_fixture(shared_data: Path) -> None:
    path = shared_data / "format-fixtures" / "binance" / "btcusdt-depth-snap.csv"
    market = lobzero.import_market(path)  # format guessed from the header
    assert market.import_report["format"] == "binance-csv"
    meta = market.metadata
    assert (meta.symbol, meta.venue, meta.tick_size, meta.lot_size) == (
        "BTCUSDT",
        "binance",
        "0.1",
        "0.001",
    )
    cols = market.columns()
    assert cols["kind"][0] == 3 and (cols["kind"][1:] == 0).all()
    # first rows of the file: b,snap,20377.00,1.770
    assert cols["price_ticks"][1] == 203770 and cols["qty_lots"][1] == 1770


def test_binance_update_fixture_does_not_continue_the_snapshot(shared_data: Path) -> None:
    folder = shared_data / "format-fixtures" / "binance"
    snap, update = folder / "btcusdt-depth-snap.csv", folder / "btcusdt-depth-update.csv"
    # recorded ten minutes apart: the first update's pu is not the snapshot's id
    with pytest.raises(
        lobzero.SequenceGapError, match=r"btcusdt-depth-update\.csv:2: .*pu=2098041693400"
    ):
        lobzero.import_market([snap, update], format="binance-csv")
    market = lobzero.import_market([snap, update], format="binance-csv", on_gap="resync")
    assert market.import_report["gaps"] == 1
    assert market.import_report["diffs_dropped_awaiting_snapshot"] > 0
    with pytest.raises(lobzero.FormatError, match="no snapshot"):
        lobzero.import_market(update, format="binance-csv", on_gap="resync")


def test_binance_depth_and_trades_merge_by_time(tmp_path: Path) -> None:
    depth = write(
        tmp_path,
        "d.csv.gz",
        DEPTH_HEADER
        + "X,1000,10,10,b,snap,100.0,1.0,-1\nX,1000,10,10,a,snap,100.5,2.0,-1\n"
        + "X,1002,11,12,b,set,100.1,0.5,10\nX,1002,11,12,a,set,100.5,0,10\n"
        + "X,1002,11,12,a,set,100.6,1,10\n",
    )
    trades = write(
        tmp_path,
        "t.csv",
        "id,price,qty,quote_qty,time,is_buyer_maker\n"
        "1,100.5,0.3,30.15,1001,false\n2,100.1,0.2,20.02,1003,true\n",
    )
    market = lobzero.import_market([depth, trades], format="binance-csv")
    cols = market.columns()
    assert list(cols["kind"]) == [3, 0, 0, 2, 1, 1, 1, 2]
    assert list(cols["side"][[3, 7]]) == [1, -1]
    assert market.metadata.venue == "binance-futures"
    assert any("one timestamp" in n for n in market.import_report["notes"])


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
        (DEPTH_HEADER + "X,1000,10,10,b\n", lobzero.ParseError, r"bad\.csv:2: 5 fields"),
        (DEPTH_HEADER + "X,soon,10,10,b,snap,1,1,-1\n", lobzero.ParseError, "not an integer"),
        (
            DEPTH_HEADER + "X,1000,10,10,b,snap,100,1,-1\nX,900,10,10,a,snap,101,1,-1\n",
            lobzero.TimestampOrderError,
            r"bad\.csv:3",
        ),
        (
            DEPTH_HEADER + "X,1000,10,10,b,snap,100,1,-1\nX,1000,10,10,a,snap,99,1,-1\n",
            lobzero.CrossedBookError,
            r"bad\.csv:3: crossed book",
        ),
        ("symbol,price\nX,1\n", lobzero.ParseError, "trade row needs 6 fields"),
    ],
)
def test_binance_csv_errors(tmp_path: Path, text: str, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        lobzero.import_market(write(tmp_path, "bad.csv", text), format="binance-csv")


def test_binance_csv_truncated_gzip(tmp_path: Path) -> None:
    path = write(tmp_path, "cut.csv.gz", DEPTH_HEADER + "X,1000,10,10,b,snap,100.0,1.0,-1\n" * 200)
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(lobzero.TruncatedFileError):
        lobzero.import_market(path, format="binance-csv")


# -- Tardis -----------------------------------------------------------------------------------


def test_tardis_fixtures(shared_data: Path) -> None:
    folder = shared_data / "format-fixtures" / "tardis"
    deribit = lobzero.import_market(folder / "deribit_incremental_book_L2_BTC-PERPETUAL.csv")
    meta = deribit.metadata
    assert (meta.venue, meta.symbol, meta.tick_size, meta.lot_size) == (
        "deribit",
        "BTC-PERPETUAL",
        "0.5",
        "10",
    )
    book = deribit.columns()
    # first row: ask 6421.5 x 18640 at local_timestamp 1585699200355684 µs
    assert book["price_ticks"][1] == 12843 and book["qty_lots"][1] == 1864
    assert book["recv_ts_ns"][1] == 1585699200355684000
    snap5 = lobzero.import_market(folder / "binance-futures_book_snapshot_5_BTCUSDT.csv")
    assert snap5.import_report["snapshots"] == 10
    top = snap5.sample_book(step_ms=1, levels=5)
    # first row: asks[0] 11657.08, bids[0] 11657.07 → one tick of 0.01
    assert top["ask_price_ticks"][0, 0] - top["bid_price_ticks"][0, 0] == 1
    trades = lobzero.import_market(folder / "bitmex_trades_XBTUSD.csv")
    assert (trades.columns()["side"] == -1).sum() > 0
    with pytest.raises(lobzero.FormatError, match="supported: incremental_book_L2"):
        lobzero.import_market(folder / "huobi-dm-swap_quotes_BTC-USD.csv")


def test_tardis_merges_book_and_trades(tmp_path: Path) -> None:
    book = write(
        tmp_path,
        "book.csv.gz",
        TARDIS_L2 + "x,S,1,10,true,ask,100.5,3\n"
        "x,S,1,10,true,bid,100,2\nx,S,2,20,false,bid,100,0\nx,S,2,20,false,bid,99.5,1\n",
    )
    trades = write(tmp_path, "trades.csv", TARDIS_TRADES + "x,S,2,15,a,sell,100,1\n")
    market = lobzero.import_market([book, trades], format="tardis")
    assert list(market.columns()["kind"]) == [3, 0, 0, 2, 1, 1]


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        (TARDIS_L2 + "x,S,1,10,maybe,bid,100,1\n", lobzero.InvalidValueError, "is_snapshot"),
        (TARDIS_L2 + "x,S,1,10,true,middle,100,1\n", lobzero.InvalidValueError, "side"),
        (
            TARDIS_L2 + "x,S,1,ten,true,bid,100,1\n",
            lobzero.ParseError,
            r"bad\.csv:2: local_timestamp",
        ),
        (TARDIS_TRADES + "x,S,1,10,a,buy,100,0\n", lobzero.InvalidValueError, "positive"),
        (
            TARDIS_TRADES + "x,S,1,10,a,buy,100,1\nx,S,1,9,b,buy,100,1\n",
            lobzero.TimestampOrderError,
            r"bad\.csv:3",
        ),
        ("exchange,symbol,timestamp\nx,S,1\n", lobzero.FormatError, "missing column"),
    ],
)
def test_tardis_errors(tmp_path: Path, text: str, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        lobzero.import_market(write(tmp_path, "bad.csv", text), format="tardis")
