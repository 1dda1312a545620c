"""hftbacktest .npz import (and lobzero's export back to it), on files the tests write."""

from __future__ import annotations

from pathlib import Path

import lobzero
import numpy as np
import pytest
from lobzero.data.export import (
    HBT_BUY,
    HBT_DEPTH,
    HBT_DEPTH_CLEAR,
    HBT_DEPTH_SNAPSHOT,
    HBT_EVENT_DTYPE,
    HBT_EXCH,
    HBT_LOCAL,
    HBT_SELL,
    HBT_TRADE,
    to_hftbacktest_npz,
)

LOCAL = HBT_LOCAL | HBT_EXCH


def events(rows: list[tuple[int, int, float, float]]) -> np.ndarray:
    out = np.zeros(len(rows), HBT_EVENT_DTYPE)
    for i, (ev, ts, px, qty) in enumerate(rows):
        out[i] = (ev, ts, ts + 1000, px, qty, 0, 0, 0.0)
    return out


GOOD = [
    (HBT_DEPTH_SNAPSHOT | LOCAL | HBT_BUY, 10, 100.0, 1.5),
    (HBT_DEPTH_SNAPSHOT | LOCAL | HBT_SELL, 10, 100.2, 2.0),
    (HBT_DEPTH | HBT_EXCH | HBT_BUY, 20, 100.1, 1.0),  # exchange timeline only
    (HBT_DEPTH | LOCAL | HBT_BUY, 30, 100.1, 0.25),
    (HBT_TRADE | LOCAL | HBT_SELL, 40, 100.1, 0.1),
    (HBT_DEPTH | LOCAL | HBT_BUY, 50, 100.1, 0.0),
]


def write(tmp_path: Path, data: np.ndarray, name: str = "ev.npz", key: str = "data") -> Path:
    path = tmp_path / name
    np.savez_compressed(path, **{key: data})
    return path


def test_golden_values(tmp_path: Path) -> None:
    market = lobzero.import_market(
        write(tmp_path, events(GOOD)),
        tick_size="0.1",
        lot_size="0.001",
        symbol="BTCUSDT",
        venue="binance-futures",
    )
    cols = market.columns()
    assert list(cols["kind"]) == [3, 0, 0, 1, 2, 1]  # clear + snapshot, update, trade, delete
    assert list(cols["price_ticks"]) == [0, 1000, 1002, 1001, 1001, 1001]
    assert list(cols["qty_lots"]) == [0, 1500, 2000, 250, 100, 0]
    assert list(cols["recv_ts_ns"]) == [1010, 1010, 1010, 1030, 1040, 1050]
    assert cols["side"][4] == -1
    assert market.instrument.symbol == "BTCUSDT"
    report = market.import_report
    assert report["snapshots"] == 1
    assert "1 exchange-only events skipped" in report["notes"][0]


def test_tick_and_lot_are_required(tmp_path: Path) -> None:
    path = write(tmp_path, events(GOOD))
    with pytest.raises(lobzero.ConfigError, match="pass tick_size"):
        lobzero.import_market(path, lot_size="0.001")
    with pytest.raises(lobzero.ConfigError, match="pass lot_size"):
        lobzero.import_market(path, tick_size="0.1")


def test_off_grid_values(tmp_path: Path) -> None:
    rows = [*GOOD]
    rows[3] = (HBT_DEPTH | LOCAL | HBT_BUY, 30, 100.1, 0.2504)
    path = write(tmp_path, events(rows))
    with pytest.raises(lobzero.InvalidValueError, match=r"ev\.npz row 3: size .* round_qty"):
        lobzero.import_market(path, tick_size="0.1", lot_size="0.001")
    market = lobzero.import_market(path, tick_size="0.1", lot_size="0.001", round_qty=True)
    assert market.import_report["qty_rounded"] == 1
    rows[3] = (HBT_DEPTH | LOCAL | HBT_BUY, 30, 100.15, 0.25)
    with pytest.raises(lobzero.InvalidValueError, match=r"row 3: price 100\.15 is not a multiple"):
        lobzero.import_market(write(tmp_path, events(rows)), tick_size="0.1", lot_size="0.001")


def test_bad_files(tmp_path: Path) -> None:
    opts = {"tick_size": "0.1", "lot_size": "0.001"}
    backwards = [GOOD[0], GOOD[1], (HBT_DEPTH | LOCAL | HBT_BUY, 5, 100.1, 1.0)]
    with pytest.raises(lobzero.TimestampOrderError, match="row 2"):
        lobzero.import_market(write(tmp_path, events(backwards)), **opts)
    crossed = [GOOD[0], GOOD[1], (HBT_DEPTH | LOCAL | HBT_BUY, 30, 100.3, 1.0)]
    with pytest.raises(lobzero.CrossedBookError, match="row 2"):
        lobzero.import_market(write(tmp_path, events(crossed)), **opts)
    no_side = [(HBT_DEPTH | LOCAL, 10, 100.0, 1.0)]
    with pytest.raises(lobzero.InvalidValueError, match="BUY or SELL"):
        lobzero.import_market(write(tmp_path, events(no_side)), **opts)
    plain = np.zeros(3, dtype=[("ev", "<u8"), ("px", "<f8")])
    with pytest.raises(lobzero.ParseError, match="missing field 'exch_ts'"):
        lobzero.import_market(write(tmp_path, plain), **opts)
    path = write(tmp_path, events(GOOD))
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(lobzero.TruncatedFileError, match="truncated"):
        lobzero.import_market(path, **opts)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"hello, not a zip")
    with pytest.raises(lobzero.FormatError, match=r"not an \.npz archive"):
        lobzero.import_market(junk, **opts)
    two = tmp_path / "two.npz"
    np.savez(two, a=events(GOOD), b=events(GOOD))
    with pytest.raises(lobzero.FormatError, match="no 'data' array"):
        lobzero.import_market(two, **opts)


def test_export_then_import_is_lossless(tmp_path: Path) -> None:
    market = lobzero.synth_market(seconds=60, seed=4)
    path = to_hftbacktest_npz(market, tmp_path / "synth.npz")
    back = lobzero.import_market(path, tick_size="0.1", lot_size="0.001")
    assert back.to_polars().equals(market.to_polars())


def test_the_peer_generator_file(tmp_path: Path) -> None:
    """The layout ../shared/bench/synth_hftbacktest_npz.py writes: floats sizes off the lot."""
    rng = np.random.default_rng(0)
    rows = [
        (HBT_DEPTH | LOCAL | HBT_BUY, 1, 99.9, 1.2345),
        (HBT_DEPTH | LOCAL | HBT_SELL, 1, 100.1, 2.0),
    ]
    rows += [
        (HBT_TRADE | LOCAL | HBT_BUY, 2 + i, 100.1, float(rng.uniform(0.001, 0.5)))
        for i in range(20)
    ]
    market = lobzero.import_market(
        write(tmp_path, events(rows)), tick_size="0.1", lot_size="0.001", round_qty=True
    )
    assert len(market) == 22 and market.import_report["qty_rounded"] >= 1


OPTS = {"tick_size": "0.1", "lot_size": "0.001"}

HBT_BBO = 5


def test_clears_skips_and_counts(tmp_path: Path) -> None:
    rows = [
        (HBT_DEPTH_CLEAR | LOCAL | HBT_BUY, 5, 99.0, 0.0),  # hftbacktest: clear bids (up to 99.0)
        (HBT_DEPTH_CLEAR | LOCAL | HBT_SELL, 5, 101.0, 0.0),
        *GOOD,
        (HBT_BBO | LOCAL | HBT_BUY, 60, 100.0, 1.0),  # best bid/offer: not an L2 level
        (11 | LOCAL | HBT_BUY, 70, 100.0, 1.0),  # order-by-order add: not L2 either
    ]
    market = lobzero.import_market(write(tmp_path, events(rows)), **OPTS)
    cols = market.columns()
    # the two side clears, then the snapshot's own clear of both sides
    assert list(cols["kind"][:4]) == [3, 3, 3, 0]
    assert list(cols["side"][:3]) == [1, -1, 0]
    messages = market.import_report["messages"]
    assert messages["skipped_bbo"] == 1 and messages["skipped_order_by_order_or_other"] == 1
    assert messages["skipped_exchange_only"] == 1 and messages["clear"] == 2
    assert any("whole flagged side" in n for n in market.import_report["notes"])


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            (HBT_DEPTH | LOCAL | HBT_BUY, 30, float("nan"), 1.0),
            r"ev\.npz row 2: price NaN is not a finite",
        ),
        ((HBT_DEPTH | LOCAL | HBT_BUY, 30, 100.0, -1.0), r"ev\.npz row 2: size -1 is negative"),
        ((HBT_DEPTH | LOCAL | HBT_BUY | HBT_SELL, 30, 100.0, 1.0), r"row 2: .*both BUY and SELL"),
    ],
)
def test_invalid_values_name_the_row(tmp_path: Path, row: tuple, message: str) -> None:
    path = write(tmp_path, events([GOOD[0], GOOD[1], row]))
    with pytest.raises(lobzero.InvalidValueError, match=message):
        lobzero.import_market(path, **OPTS)


def test_several_files_name_the_file_and_its_row(tmp_path: Path) -> None:
    first = write(tmp_path, events(GOOD[:2]), name="a.npz")
    second = write(tmp_path, events([(HBT_DEPTH | LOCAL | HBT_BUY, 30, 100.1, 0.2504)]), "b.npz")
    with pytest.raises(lobzero.InvalidValueError, match=r"b\.npz row 0: size"):
        lobzero.import_market([first, second], **OPTS)
    market = lobzero.import_market([first, second], round_qty=True, **OPTS)
    assert len(market) == 4 and market.import_report["files"] == [str(first), str(second)]


def test_plain_npy_and_a_single_unnamed_array(tmp_path: Path) -> None:
    npy = tmp_path / "ev.npy"
    np.save(npy, events(GOOD))
    unnamed = write(tmp_path, events(GOOD), name="other.npz", key="events")
    for path in (npy, unnamed):
        market = lobzero.import_market(path, format="hftbacktest", **OPTS)
        assert list(market.columns()["kind"]) == [3, 0, 0, 1, 2, 1]


def test_damaged_files(tmp_path: Path) -> None:
    path = write(tmp_path, events(GOOD * 50))
    damaged = bytearray(path.read_bytes())
    for k in range(100, 140):  # inside the compressed array: the CRC no longer matches
        damaged[k] ^= 0xFF
    path.write_bytes(bytes(damaged))
    with pytest.raises(lobzero.FormatError, match=r"ev\.npz: .*'data' is damaged"):
        lobzero.import_market(path, **OPTS)
    objects = tmp_path / "objects.npz"
    np.savez(objects, data=np.array([{"ev": 1}], dtype=object))
    with pytest.raises(lobzero.FormatError, match=r"objects\.npz: .*not an event array"):
        lobzero.import_market(objects, **OPTS)
    grid = write(tmp_path, events(GOOD).reshape(2, 3), name="grid.npz")
    with pytest.raises(lobzero.FormatError, match=r"grid\.npz: .*shape \(2, 3\)"):
        lobzero.import_market(grid, **OPTS)
    npy = tmp_path / "cut.npy"
    np.save(npy, events(GOOD))
    npy.write_bytes(npy.read_bytes()[:-10])
    with pytest.raises(lobzero.TruncatedFileError, match=r"cut\.npy: .*bytes where its header"):
        lobzero.import_market(npy, format="hftbacktest", **OPTS)


def test_unknown_options_are_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(lobzero.ConfigError, match="no option tick"):
        lobzero.import_market(write(tmp_path, events(GOOD)), tick=0.1, **OPTS)
