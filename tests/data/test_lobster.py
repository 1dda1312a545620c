"""LOBSTER message + orderbook files (``lobster``): the GOOG sample in ../shared/data (its own
book check on all 49,482 rows, a planted inconsistency caught by row) and small files written
here (halts, options, partners, the New York clock, random damage)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import lobzero
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lobzero.data.importers import guess_format
from lobzero.data.market import KIND_CLEAR, KIND_SNAPSHOT, KIND_TRADE, KIND_UPDATE

from tests.data.corrupt import damage, data_error_or_valid

GOOG = "GOOG_2012-06-21_34200000_57600000_{}_1.csv"
ROWS = 49_482
NS = 1_000_000_000

# a 2-level day: ask submission, bid submission, visible execution (of the ask), hidden
# execution, partial cancel, halt, resume, deletion
MESSAGES = """\
34200.5,1,1,100,1000100,-1
34200.6,1,2,50,999900,1
34200.7,4,1,30,1000100,-1
34201,5,9,10,1000000,1
34202,2,2,20,999900,1
34203,7,0,0,-1,-1
34204,7,0,0,1,-1
34205,3,2,30,999900,1
"""
BOOKS = """\
1000100,100,999800,10,9999999999,0,-9999999999,0
1000100,100,999900,50,9999999999,0,999800,10
1000100,70,999900,50,9999999999,0,999800,10
1000100,70,999900,50,9999999999,0,999800,10
1000100,70,999900,30,9999999999,0,999800,10
1000100,70,999900,30,9999999999,0,999800,10
1000100,70,999900,30,9999999999,0,999800,10
1000100,70,999800,10,9999999999,0,-9999999999,0
"""


def write_pair(
    folder: Path, messages: str = MESSAGES, books: str = BOOKS, day: str = "2012-03-12"
) -> tuple[Path, Path]:
    msg = folder / f"TEST_{day}_0_1_message_2.csv"
    book = folder / f"TEST_{day}_0_1_orderbook_2.csv"
    msg.write_text(messages)
    book.write_text(books)
    return msg, book


@pytest.fixture(scope="module")
def goog(shared_data: Path) -> Path:
    folder = shared_data / "lobster-goog-l1"
    if not (folder / GOOG.format("message")).is_file():
        pytest.skip(f"the LOBSTER GOOG sample is not in {folder}")
    return folder


def test_the_goog_sample_passes_its_own_book_check(goog: Path) -> None:
    market = lobzero.import_market(goog / GOOG.format("message"))
    report = market.import_report
    assert report["format"] == "lobster"
    assert report["book_check"] == {"checked": ROWS - 1, "first_row": 1}
    assert sum(report["messages"].values()) == ROWS
    assert market.instrument.symbol == "GOOG"
    # the 50 hidden executions at half a cent (midpoint) make the finest grid 0.005
    assert market.instrument.tick_size == "0.005"
    df = market.to_polars()
    # 34200.015105074 s after midnight EDT (UTC-4) on 2012-06-21
    assert df["ts_ns"][0] == (1_340_285_400 * NS) + 15_105_074
    kinds = df["kind"].to_numpy()
    trades = df.filter(df["kind"] == KIND_TRADE)
    assert len(trades) == report["messages"]["execution"] + report["messages"]["hidden_execution"]
    # the first message executes a resting buy order: a sell
    assert trades["side"][0] == -1
    assert (kinds == KIND_SNAPSHOT).sum() == 2 and (kinds == KIND_UPDATE).sum() > 0


def test_either_file_or_both_import_the_same(goog: Path) -> None:
    a = lobzero.import_market(goog / GOOG.format("message"))
    b = lobzero.import_market(goog / GOOG.format("orderbook"))
    c = lobzero.import_market([goog / GOOG.format("orderbook"), goog / GOOG.format("message")])
    assert a.to_polars().equals(b.to_polars()) and a.to_polars().equals(c.to_polars())


def test_a_planted_size_in_a_copy_is_caught_by_row(goog: Path, tmp_path: Path) -> None:
    lines = (goog / GOOG.format("message")).read_text().splitlines(keepends=True)
    row = 1000
    fields = lines[row - 1].split(",")
    fields[3] = str(int(fields[3]) + 1)
    lines[row - 1] = ",".join(fields)
    copy = tmp_path / GOOG.format("message")
    copy.write_text("".join(lines))
    shutil.copy(goog / GOOG.format("orderbook"), tmp_path / GOOG.format("orderbook"))
    with pytest.raises(lobzero.InvalidValueError, match=rf"message_1.csv:{row}: book check"):
        lobzero.import_market(copy)
    counted = lobzero.import_market(copy, on_book_mismatch="count")
    assert counted.import_report["book_check"]["mismatches"] == 1
    assert f"message_1.csv:{row}" in counted.import_report["notes"][0]


def test_small_files_become_events(tmp_path: Path) -> None:
    msg, _ = write_pair(tmp_path)
    assert guess_format(msg) == "lobster"
    market = lobzero.import_market(msg)
    report = market.import_report
    assert report["book_check"] == {"checked": 7, "first_row": 1}
    assert report["messages"]["halt"] == 2
    assert any("trading halt" in n for n in report["notes"])
    df = market.to_polars()
    kinds = df["kind"].to_numpy()
    # a clear at the start and one at the halt; the book comes back at the resume
    assert (kinds == KIND_CLEAR).sum() == 2
    trades = df.filter(df["kind"] == KIND_TRADE)
    assert trades["side"].to_list() == [1, -1]
    # 2012-03-12 is daylight time: 09:30:00.5 New York = 13:30:00.5 UTC
    assert df["ts_ns"][0] == 1_331_559_000 * NS + NS // 2
    book = market.sample_book(step_ms=500, levels=2)
    assert book["bid_price_ticks"][-1, 0] == 9_998


def test_the_day_before_the_dst_change_is_an_hour_later_in_utc(tmp_path: Path) -> None:
    """2012-03-09 (a Friday, EST, UTC-5) and 2012-03-12 (the Monday after, EDT, UTC-4)."""
    a = tmp_path / "a"
    b = tmp_path / "b"
    a.mkdir()
    b.mkdir()
    before = lobzero.import_market(write_pair(a, day="2012-03-09")[0]).to_polars()["ts_ns"][0]
    after = lobzero.import_market(write_pair(b, day="2012-03-12")[0]).to_polars()["ts_ns"][0]
    assert after - before == (3 * 86_400 - 3_600) * NS


def test_options_stand_in_for_the_name(tmp_path: Path) -> None:
    msg, book = tmp_path / "m.csv", tmp_path / "b.csv"
    msg.write_text(MESSAGES)
    book.write_text(BOOKS)
    with pytest.raises(lobzero.ConfigError, match="date"):
        lobzero.import_market([msg, book], format="lobster")
    market = lobzero.import_market([msg, book], format="lobster", date="2012-03-12", levels=2)
    named = lobzero.import_market(write_pair(tmp_path)[0])
    assert np.array_equal(market.to_polars()["ts_ns"], named.to_polars()["ts_ns"])
    with pytest.raises(lobzero.ConfigError, match="says 2012-03-12"):
        lobzero.import_market(write_pair(tmp_path)[0], date="2012-03-13")
    with pytest.raises(lobzero.ParseError, match=r"b\.csv:1: 8 fields where .* 3 levels"):
        lobzero.import_market([msg, book], format="lobster", date="2012-03-12", levels=3)
    with pytest.raises(lobzero.ConfigError, match="no option on_gap"):
        lobzero.import_market([msg, book], format="lobster", date="2012-03-12", on_gap="resync")


def test_a_missing_partner_names_the_path_expected(tmp_path: Path) -> None:
    msg, book = write_pair(tmp_path)
    book.unlink()
    with pytest.raises(lobzero.DataIOError, match=rf"{book.name}: no such file"):
        lobzero.import_market(msg)


def test_different_lengths_are_a_truncated_pair(tmp_path: Path) -> None:
    msg, _ = write_pair(tmp_path, books="".join(BOOKS.splitlines(keepends=True)[:-1]))
    with pytest.raises(
        lobzero.TruncatedFileError, match=r"orderbook_2\.csv:8: .*different lengths"
    ):
        lobzero.import_market(msg)


def test_the_damage_property_fails_on_a_planted_crash() -> None:
    """The property below lets only DataError through: a crash of another kind fails it."""
    with pytest.raises(IndexError):
        data_error_or_valid(lambda: [][0])


#: field values worth planting: empty, signs, LOBSTER's dummies, a float, text, an overflow
GARBLED_FIELDS = ["", "-1", "0", "7", "9999999999", "-9999999999", "1.5", "x", "9" * 25, " 3"]


def garble_field(data: st.DataObject, text: str) -> bytes:
    """One CSV field of one row replaced by a drawn value."""
    rows = [row.split(",") for row in text.splitlines()]
    r = data.draw(st.integers(0, len(rows) - 1))
    rows[r][data.draw(st.integers(0, len(rows[r]) - 1))] = data.draw(
        st.sampled_from(GARBLED_FIELDS)
    )
    return ("\n".join(",".join(row) for row in rows) + "\n").encode()


def test_a_message_beyond_the_visible_levels_is_counted_not_checked(tmp_path: Path) -> None:
    """With 1 level a bid submitted below the best bid changes nothing visible: counted; had it
    moved the visible bid, the check would fail."""
    msg = tmp_path / "TEST_2012-03-12_0_1_message_1.csv"
    book = tmp_path / "TEST_2012-03-12_0_1_orderbook_1.csv"
    msg.write_text("34200,1,1,10,1000100,-1\n34201,1,2,5,999000,1\n")
    book.write_text("1000100,10,999800,3\n1000100,10,999800,3\n")
    report = lobzero.import_market(msg).import_report
    assert report["book_check"] == {"beyond_visible_depth": 1, "first_row": 1}
    book.write_text("1000100,10,999800,3\n1000100,10,999800,8\n")
    with pytest.raises(lobzero.InvalidValueError, match="beyond the 1 visible levels"):
        lobzero.import_market(msg)


@settings(max_examples=150, deadline=None)
@given(st.data(), st.booleans(), st.booleans())
def test_random_damage_is_a_data_error_never_a_crash(
    data: st.DataObject, in_book: bool, by_field: bool
) -> None:
    """Bytes flipped, deleted, inserted or cut, or one field garbled, in either file."""
    text = BOOKS if in_book else MESSAGES
    damaged = garble_field(data, text) if by_field else damage(data, text.encode())
    messages, books = (MESSAGES.encode(), damaged) if in_book else (damaged, BOOKS.encode())
    with tempfile.TemporaryDirectory() as d:
        msg = Path(d) / "TEST_2012-03-12_0_1_message_2.csv"
        msg.write_bytes(messages)
        (Path(d) / "TEST_2012-03-12_0_1_orderbook_2.csv").write_bytes(books)
        data_error_or_valid(lambda: lobzero.import_market(msg))


def test_the_cli_imports_and_names_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lobzero.cli import main

    planted = MESSAGES.replace("34202,2,2,20,", "34202,2,2,21,")
    msg, _ = write_pair(tmp_path, messages=planted)
    out = tmp_path / "day.parquet"
    assert main(["data", "import", str(msg), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "message_2.csv:5: book check" in err and "--on-book-mismatch count" in err
    assert main(["data", "import", str(msg), "-o", str(out), "--on-book-mismatch", "count"]) == 0
    assert lobzero.Market.load(out).import_report["book_check"]["mismatches"] == 1
    other = tmp_path / "other"
    other.mkdir()
    plain, book = other / "m.csv", other / "b.csv"
    plain.write_text(MESSAGES)
    book.write_text(BOOKS)
    args = ["--format", "lobster", "--date", "2012-03-12", "--levels", "2"]
    assert main(["data", "import", str(plain), str(book), "-o", str(out), *args]) == 0


def test_a_cross_trade_is_a_trade_without_a_side(tmp_path: Path) -> None:
    """Type 6 (an auction cross) prints but changes no visible level; its direction is not an
    aggressor's, so the trade has side 0."""
    messages = MESSAGES.splitlines(keepends=True)
    books = BOOKS.splitlines(keepends=True)
    messages.insert(4, "34201.5,6,0,40,1000050,-1\n")
    books.insert(4, books[3])
    msg, _ = write_pair(tmp_path, "".join(messages), "".join(books))
    market = lobzero.import_market(msg)
    assert market.import_report["messages"]["cross_trade"] == 1
    assert market.import_report["book_check"]["checked"] == 8
    df = market.to_polars()
    assert df.filter(df["kind"] == KIND_TRADE)["side"].to_list() == [1, -1, 0]
    books[4] = books[2].replace("1000100,70", "1000100,60")
    msg, _ = write_pair(tmp_path, "".join(messages), "".join(books))
    with pytest.raises(lobzero.InvalidValueError, match=r"message_2\.csv:5: book check: a type 6"):
        lobzero.import_market(msg)
