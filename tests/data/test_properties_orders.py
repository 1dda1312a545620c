"""The book of orders (MBO / L3) against a pure-Python reference, on random order sequences
written as ``order-events`` CSVs: the L2 aggregate after every event and the FIFO queue of every
level agree. Each property shows the planted defect it catches (a reference with the defect
disagrees with lobzero on a sequence the property generates)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lobzero.data.importers import import_market
from lobzero.exceptions import DataError

HEADER = "id,timestamp,price,volume,action,direction\n"
SIDES = {1: "bid", -1: "ask"}


class Reference:
    """Orders by id, a FIFO list of ids per level; price-time priority: a price change or a
    size increase sends the order to the back, a decrease keeps its place. ``planted`` names a
    defect to plant: ``"increase_keeps_priority"`` or ``"fill_keeps_level"``."""

    def __init__(self, planted: str | None = None):
        self.orders: dict[int, list[int]] = {}  # id -> [side, price, qty]
        self.queues: dict[tuple[int, int], list[int]] = {}
        self.planted = planted

    def add(self, oid: int, side: int, price: int, qty: int) -> None:
        self.orders[oid] = [side, price, qty]
        self.queues.setdefault((side, price), []).append(oid)

    def remove(self, oid: int) -> None:
        side, price, _ = self.orders.pop(oid)
        self.queues[(side, price)].remove(oid)

    def modify(self, oid: int, price: int, qty: int) -> None:
        side, old_price, old_qty = self.orders[oid]
        if qty == 0:
            self.remove(oid)
            return
        loses = price != old_price or qty > old_qty
        if self.planted == "increase_keeps_priority":
            loses = price != old_price
        if loses:
            self.remove(oid)
            self.add(oid, side, price, qty)
        else:
            self.orders[oid][2] = qty

    def fill(self, oid: int, qty: int) -> None:
        if self.planted == "fill_keeps_level":
            return
        self.orders[oid][2] -= qty
        if self.orders[oid][2] == 0:
            self.remove(oid)

    def levels(self) -> dict[tuple[int, int], int]:
        out: dict[tuple[int, int], int] = {}
        for side, price, qty in self.orders.values():
            out[(side, price)] = out.get((side, price), 0) + qty
        return out

    def fifo(self) -> list[tuple[int, int, list[tuple[int, int]]]]:
        out = []
        for side in (1, -1):
            prices = sorted({p for (s, p), q in self.queues.items() if s == side and q})
            for price in reversed(prices) if side == 1 else prices:
                ids = self.queues[(side, price)]
                out.append((side, price, [(i, self.orders[i][2]) for i in ids]))
        return out


@st.composite
def order_sequences(draw: st.DrawFn) -> list[tuple[str, int, int, int, int]]:
    """Rows ``(action, id, side, price, size)``: bids on prices 1..5, asks on 6..10 (never
    crossed), a few ids so that levels hold queues."""
    rows: list[tuple[str, int, int, int, int]] = []
    live: dict[int, list[int]] = {}
    next_id = 1
    for _ in range(draw(st.integers(1, 40))):
        op = draw(st.sampled_from(["add", "add", "cancel", "modify", "fill"]))
        if op == "add" or not live:
            side = draw(st.sampled_from([1, -1]))
            price = draw(st.integers(1, 5)) + (0 if side == 1 else 5)
            qty = draw(st.integers(1, 9))
            rows.append(("created", next_id, side, price, qty))
            live[next_id] = [side, price, qty]
            next_id += 1
            continue
        oid = draw(st.sampled_from(sorted(live)))
        side, price, qty = live[oid]
        if op == "cancel":
            rows.append(("deleted", oid, side, price, qty))
            del live[oid]
        elif op == "modify":
            new_price = draw(st.integers(1, 5)) + (0 if side == 1 else 5)
            new_qty = draw(st.integers(0, 12))
            rows.append(("changed", oid, side, new_price, new_qty))
            if new_qty == 0:
                del live[oid]
            else:
                live[oid] = [side, new_price, new_qty]
        else:
            fill = draw(st.integers(1, qty))
            rows.append(("traded", oid, side, price, fill))
            if fill == qty:
                del live[oid]
            else:
                live[oid][2] -= fill
    return rows


def write_log(path: Path, rows: list[tuple[str, int, int, int, int]]) -> Path:
    lines = [
        f"{oid},{t + 1},{price},{qty},{action},{SIDES[side]}"
        for t, (action, oid, side, price, qty) in enumerate(rows)
    ]
    path.write_text(HEADER + "\n".join(lines) + "\n")
    return path


def check_against(path: Path, rows: list[tuple[str, int, int, int, int]], ref: Reference) -> None:
    """Imports the log and asserts, after every row, that lobzero's L2 levels equal the
    reference's aggregate, and at the end that the FIFO queues are equal."""
    market = import_market(path, format="order-events", time_unit="ns", tick_size="1", lot_size="1")
    cols = market.columns()
    book: dict[tuple[int, int], int] = {}
    k, n = 0, len(market)
    for t, (action, oid, side, price, qty) in enumerate(rows):
        if action == "created":
            ref.add(oid, side, price, qty)
        elif action == "deleted":
            ref.remove(oid)
        elif action == "changed":
            ref.modify(oid, price, qty)
        else:
            ref.fill(oid, qty)
        while k < n and cols["recv_ts_ns"][k] <= t + 1:
            if cols["kind"][k] in (0, 1):
                key = (int(cols["side"][k]), int(cols["price_ticks"][k]))
                book[key] = int(cols["qty_lots"][k])
            k += 1
        assert {key: q for key, q in book.items() if q} == ref.levels(), f"after row {t}"
    assert market.order_queues(n) == ref.fifo()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=order_sequences())
def test_l2_aggregate_and_fifo_match_the_reference(tmp_path: Path, rows: list) -> None:
    check_against(write_log(tmp_path / "log.csv", rows), rows, Reference())


@pytest.mark.parametrize(
    ("planted", "rows"),
    [
        # a size increase must send order 1 behind order 2
        (
            "increase_keeps_priority",
            [("created", 1, 1, 3, 2), ("created", 2, 1, 3, 2), ("changed", 1, 1, 3, 5)],
        ),
        # a fill must reduce the level
        ("fill_keeps_level", [("created", 1, -1, 7, 4), ("traded", 1, -1, 7, 1)]),
    ],
)
def test_the_property_catches_a_planted_defect(tmp_path: Path, planted: str, rows: list) -> None:
    path = write_log(tmp_path / "log.csv", rows)
    check_against(path, rows, Reference())
    with pytest.raises(AssertionError):
        check_against(path, rows, Reference(planted))


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=order_sequences(),
    cut=st.integers(0, 2000),
    junk=st.sampled_from(
        ["", ",", "x", "-1", "\x00", "1e9", "changed", "\n", "99999999999999999999999"]
    ),
)
def test_corrupted_logs_raise_only_data_errors(
    tmp_path: Path, rows: list, cut: int, junk: str
) -> None:
    """A log with bytes replaced or cut is imported or refused with a DataError subclass,
    never another exception (a bare ValueError or a panic would fail here)."""
    text = write_log(tmp_path / "log.csv", rows).read_text()
    pos = cut % (len(text) + 1)
    bad = tmp_path / "bad.csv"
    bad.write_text(text[:pos] + junk + text[pos + 1 :])
    with contextlib.suppress(DataError):
        import_market(
            bad, format="order-events", time_unit="ns", on_unknown_order="skip", on_cross="hold"
        )
