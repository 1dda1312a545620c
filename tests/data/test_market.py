"""Market: polars round trips, Parquet store, slicing, validation of edited streams."""

from __future__ import annotations

from pathlib import Path

import lobzero
import numpy as np
import polars as pl
import pytest
from lobzero.data.market import Instrument

META = Instrument(symbol="TEST", venue="unit", tick_size="0.5", lot_size="0.001")


def frame(**overrides) -> pl.DataFrame:
    cols = {
        "ts_ns": [1, 1, 1, 2, 3, 4],
        "recv_ts_ns": [10, 10, 10, 20, 30, 40],
        "kind": [3, 0, 0, 1, 2, 1],
        "side": [0, 1, -1, 1, -1, -1],
        "price_ticks": [0, 100, 102, 101, 101, 102],
        "qty_lots": [0, 5, 5, 2, 1, 0],
    }
    cols.update(overrides)
    return pl.DataFrame(cols).with_columns(
        pl.col("kind").cast(pl.UInt8), pl.col("side").cast(pl.Int8)
    )


def test_from_polars_and_back() -> None:
    market = lobzero.Market.from_polars(frame(), META)
    assert len(market) == 6
    assert (market.start_ns, market.end_ns) == (10, 40)
    assert market.instrument == META
    assert market.instrument.tick == 0.5
    assert market.to_polars().equals(frame())
    cols = market.columns()
    assert not cols["price_ticks"].flags.writeable
    with pytest.raises(ValueError):
        cols["price_ticks"][0] = 1


def test_plain_int_columns_are_accepted() -> None:
    df = frame().with_columns(pl.col("kind").cast(pl.Int64), pl.col("side").cast(pl.Int64))
    assert len(lobzero.Market.from_polars(df, META.__dict__)) == 6


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (
            {"price_ticks": [0, 100, 102, 103, 101, 102]},
            lobzero.CrossedBookError,
            "polars row 3: crossed book",
        ),
        ({"recv_ts_ns": [10, 10, 10, 20, 15, 40]}, lobzero.TimestampOrderError, "polars row 4"),
        ({"qty_lots": [0, 5, -5, 2, 1, 0]}, lobzero.InvalidValueError, "polars row 2: level size"),
        ({"kind": [3, 0, 0, 1, 7, 1]}, lobzero.InvalidValueError, "unknown event kind 7"),
        ({"side": [0, 1, -1, 0, -1, -1]}, lobzero.InvalidValueError, "side"),
        (
            {"price_ticks": [0.0, 100.0, 102.5, 101.0, 101.0, 102.0]},
            lobzero.InvalidValueError,
            "polars row 2: column 'price_ticks' holds 102.5",
        ),
        ({"price_ticks": [0, None, 102, 101, 101, 102]}, lobzero.InvalidValueError, "is null"),
    ],
)
def test_edited_streams_are_validated(change, error, message) -> None:
    with pytest.raises(error, match=message):
        lobzero.Market.from_polars(frame(**change), META)


def test_missing_column() -> None:
    with pytest.raises(lobzero.ParseError, match="missing column 'qty_lots'"):
        lobzero.Market.from_polars(frame().drop("qty_lots"), META)


def test_bad_instrument() -> None:
    with pytest.raises(lobzero.ConfigError, match="tick_size"):
        lobzero.Market.from_polars(frame(), {**META.__dict__, "tick_size": "abc"})
    with pytest.raises(lobzero.ConfigError, match="positive"):
        lobzero.Market.from_polars(frame(), {**META.__dict__, "lot_size": "0"})


def test_parquet_round_trip(tmp_path: Path) -> None:
    market = lobzero.Market.from_polars(frame(), META, import_report={"note": "hand-made"})
    path = market.save(tmp_path / "m.parquet")
    back = lobzero.Market.load(path)
    assert back.instrument == META
    assert back.import_report == {"note": "hand-made"}
    assert back.to_polars().equals(market.to_polars())
    assert lobzero.import_market(path).to_polars().equals(market.to_polars())


def test_parquet_errors(tmp_path: Path) -> None:
    with pytest.raises(lobzero.DataIOError):
        lobzero.Market.load(tmp_path / "absent.parquet")
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"not parquet at all")
    with pytest.raises(lobzero.FormatError, match="not a valid parquet file"):
        lobzero.Market.load(junk)
    foreign = tmp_path / "foreign.parquet"
    frame().write_parquet(foreign)
    with pytest.raises(lobzero.FormatError, match="no 'lobzero' metadata"):
        lobzero.Market.load(foreign)


def test_slices_and_sampling() -> None:
    market = lobzero.Market.from_polars(frame(), META)
    part = market.slice_time(20, 40)
    assert len(part) == 2
    assert list(part.columns()["recv_ts_ns"]) == [20, 30]
    samples = market.sample_book(step_ms=10 / 1e6, levels=2)
    assert list(samples["ts_ns"]) == [20, 30, 40]
    assert samples["bid_price_ticks"].shape == (3, 2)
    assert list(samples["bid_price_ticks"][0]) == [101, 100]
    assert list(samples["ask_price_ticks"][2]) == [0, 0]
    with pytest.raises(lobzero.ConfigError):
        market.sample_book(step_ms=0)
    assert np.asarray(samples["ask_qty_lots"]).dtype == np.int64


def test_a_clock_too_fine_for_memory_is_a_config_error_not_an_abort() -> None:
    """Planted defect it catches: without the size check, sampling 10 s of data every
    nanosecond asks the core for 10^10 rows x 41 int64 columns (3 TiB) and the allocation
    aborts the Python process (the test run dies instead of failing)."""
    market = lobzero.synth_market(seconds=10, seed=0)
    with pytest.raises(lobzero.ConfigError, match=r"GiB, over the 4 GiB limit"):
        market.sample_book(step_ms=1e-6, levels=10)
    assert len(market.sample_book(step_ms=100.0, levels=10)["ts_ns"]) > 0
