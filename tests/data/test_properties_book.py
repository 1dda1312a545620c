"""Hypothesis properties of the book, the replay and the stores (DESIGN.md invariants):
no negative size, best bid < best ask whenever both exist (or a CrossedBookError), replay is
deterministic and agrees with a plain-Python reference book, Parquet round trips are lossless,
and random corruption of a valid file gives a DataError, never a panic."""

from __future__ import annotations

import tempfile
from pathlib import Path

import lobzero
import numpy as np
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lobzero.data.market import Instrument

from tests.data.corrupt import damage, data_error_or_valid, maybe_gzip

META = Instrument(symbol="P", venue="prop", tick_size="0.01", lot_size="1")
LEVELS = 4

event = st.tuples(
    st.integers(0, 3),  # receive-time increment
    st.sampled_from([0, 1, 1, 1, 2, 3]),  # kind, updates most often
    st.sampled_from([1, -1]),
    st.integers(1, 50),  # price offset inside the side's range
    st.integers(0, 9),  # size (0 deletes)
)


def build(rows, disjoint: bool) -> pl.DataFrame:
    t = 0
    cols: dict[str, list[int]] = {
        k: [] for k in ("ts_ns", "recv_ts_ns", "kind", "side", "price_ticks", "qty_lots")
    }
    for dt, kind, side, offset, qty in rows:
        t += dt
        price = (offset if side == 1 else 50 + offset) if disjoint else offset + 25
        if kind == 3:
            price, qty = 0, 0
        elif kind == 2:
            qty = max(qty, 1)
        cols["ts_ns"].append(t)
        cols["recv_ts_ns"].append(t)
        cols["kind"].append(kind)
        cols["side"].append(side)
        cols["price_ticks"].append(price)
        cols["qty_lots"].append(qty)
    return pl.DataFrame(cols).with_columns(
        pl.col("kind").cast(pl.UInt8), pl.col("side").cast(pl.Int8)
    )


def reference_samples(df: pl.DataFrame, step: int) -> dict[str, np.ndarray]:
    """The book at each sample time, from a dict per side (the obvious implementation)."""
    rows = df.rows(named=True)
    start, end = rows[0]["recv_ts_ns"], rows[-1]["recv_ts_ns"]
    out: dict[str, list[list[int]]] = {
        "bid_price_ticks": [],
        "bid_qty_lots": [],
        "ask_price_ticks": [],
        "ask_qty_lots": [],
    }
    books: dict[int, dict[int, int]] = {1: {}, -1: {}}
    i = 0
    for k in range((end - start) // step):
        now = start + (k + 1) * step
        while i < len(rows) and rows[i]["recv_ts_ns"] <= now:
            r = rows[i]
            if r["kind"] in (0, 1):
                if r["qty_lots"]:
                    books[r["side"]][r["price_ticks"]] = r["qty_lots"]
                else:
                    books[r["side"]].pop(r["price_ticks"], None)
            elif r["kind"] == 3:
                for side in (1, -1):
                    if r["side"] in (0, side):
                        books[side].clear()
            i += 1
        for side, name in ((1, "bid"), (-1, "ask")):
            levels = sorted(books[side].items(), reverse=side == 1)[:LEVELS]
            levels += [(0, 0)] * (LEVELS - len(levels))
            out[f"{name}_price_ticks"].append([p for p, _ in levels])
            out[f"{name}_qty_lots"].append([q for _, q in levels])
    return {k: np.array(v, dtype=np.int64).reshape(-1, LEVELS) for k, v in out.items()}


@settings(max_examples=150, deadline=None)
@given(st.lists(event, min_size=1, max_size=120))
def test_replay_matches_reference_and_keeps_invariants(rows) -> None:
    df = build(rows, disjoint=True)
    market = lobzero.Market.from_polars(df, META)
    samples = market.sample_book(step_ms=1e-6, levels=LEVELS)
    again = market.sample_book(step_ms=1e-6, levels=LEVELS)
    for key, values in samples.items():
        assert np.array_equal(values, again[key])  # deterministic
    for key, values in reference_samples(df, 1).items():
        assert np.array_equal(samples[key], values), key
    bid, ask = samples["bid_price_ticks"][:, 0], samples["ask_price_ticks"][:, 0]
    both = (bid > 0) & (ask > 0)
    assert (bid[both] < ask[both]).all()
    assert (samples["bid_qty_lots"] >= 0).all() and (samples["ask_qty_lots"] >= 0).all()


@settings(max_examples=150, deadline=None)
@given(st.lists(event, min_size=1, max_size=80))
def test_any_stream_is_accepted_uncrossed_or_refused(rows) -> None:
    df = build(rows, disjoint=False)
    try:
        market = lobzero.Market.from_polars(df, META)
    except lobzero.CrossedBookError as e:
        assert "crossed book" in str(e)
        return
    # accepted: no sample time may show a crossed book
    samples = market.sample_book(step_ms=1e-6, levels=1)
    bid, ask = samples["bid_price_ticks"][:, 0], samples["ask_price_ticks"][:, 0]
    both = (bid > 0) & (ask > 0)
    assert (bid[both] < ask[both]).all()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(event, min_size=0, max_size=60))
def test_parquet_round_trip_is_lossless(rows) -> None:
    df = build(rows, disjoint=True) if rows else build([(0, 3, 1, 1, 0)], disjoint=True)
    market = lobzero.Market.from_polars(df, META, import_report={"k": [1, 2]})
    with tempfile.TemporaryDirectory() as d:
        back = lobzero.Market.load(market.save(Path(d) / "m.parquet"))
    assert back.to_polars().equals(market.to_polars())
    assert back.instrument == market.instrument
    assert back.import_report == {"k": [1, 2]}


VALID = (
    b'1000000 {"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT",'
    b'"U":5,"u":8,"pu":4,"b":[["100.0","1.000"]],"a":[]}}\n'
    b'2000000 {"lastUpdateId":9,"E":2,"T":2,"bids":[["100.0","2.000"],["99.9","1.5"]],'
    b'"asks":[["100.2","3"]]}\n'
    b'3000000 {"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":3,"T":3,"s":"BTCUSDT",'
    b'"U":9,"u":12,"pu":8,"b":[["100.1","0.5"]],"a":[["100.2","0"],["100.3","1"]]}}\n'
    b'4000000 {"stream":"btcusdt@trade","data":{"e":"trade","E":4,"T":4,"s":"BTCUSDT","t":1,'
    b'"p":"100.3","q":"0.25","m":false}}\n'
)


VALID_FILES = {
    "binance-stream": VALID,
    "binance-csv": (
        b"symbol,timestamp,first_update_id,last_update_id,side,update_type,price,qty,pu\n"
        b"X,1000,10,10,b,snap,100.0,1.0,-1\nX,1000,10,10,a,snap,100.5,2.0,-1\n"
        b"X,1002,11,12,b,set,100.1,0.5,10\nX,1002,11,12,a,set,100.5,0,10\n"
    ),
    "tardis": (
        b"exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n"
        b"x,S,1,10,true,ask,100.5,3\nx,S,1,10,true,bid,100,2\nx,S,2,20,false,bid,100,0\n"
    ),
}


@settings(max_examples=300, deadline=None)
@given(st.data(), st.sampled_from(sorted(VALID_FILES)))
def test_random_corruption_is_a_data_error_never_a_crash(data, fmt) -> None:
    blob = maybe_gzip(data, damage(data, VALID_FILES[fmt]))
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / ("rec.gz" if blob[:2] == b"\x1f\x8b" else "rec.txt")
        path.write_bytes(blob)
        data_error_or_valid(lambda: lobzero.import_market(path, format=fmt))
