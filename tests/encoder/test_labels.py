"""Samples, labels and the split of the order-book encoder.

Planted defects each test catches are named in its docstring; the property tests plant them
and assert the property then fails.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lobzero import Market
from lobzero.encoder.labels import (
    RegimeRule,
    chronological_split,
    make_labels,
    realised_volatility,
    signal_labels,
    synth_regimes,
)
from lobzero.encoder.samples import book_samples

SNAP, UPD, TRADE = 0, 1, 2
BID, ASK = 1, -1

#: (time ns, kind, side, price ticks, lots): a book whose mid walks
#: 100.5, 100, 99.5, 100.5, 101, 102.5 on a clock of 1 µs with spreads 1, 2, 3, 1, 2, 1
EVENTS = [
    *[(1000, SNAP, BID, p, 5) for p in (100, 99, 98, 97)],
    *[(1000, SNAP, ASK, p, 5) for p in (101, 102, 103, 104)],
    (2500, UPD, BID, 100, 0),
    (2600, TRADE, BID, 101, 3),
    (3500, UPD, BID, 99, 0),
    (4500, UPD, BID, 100, 2),
    (4700, TRADE, ASK, 100, 2),
    (5500, UPD, ASK, 101, 0),
    (6500, UPD, ASK, 102, 0),
    (6600, UPD, BID, 102, 1),
    (7000, UPD, BID, 97, 9),
]


def small_market() -> Market:
    ts, kind, side, price, qty = (list(c) for c in zip(*EVENTS, strict=True))
    df = pl.DataFrame(
        {
            "ts_ns": ts,
            "recv_ts_ns": ts,
            "kind": kind,
            "side": side,
            "price_ticks": price,
            "qty_lots": qty,
        }
    )
    return Market.from_polars(df, {"symbol": "T", "venue": "t", "tick_size": "1", "lot_size": "1"})


def test_labels_equal_hand_computed_ones_on_a_small_stream() -> None:
    """Catches a label measured from the wrong sample, a flat band that is not the spread, a
    volatility over the wrong steps, trade flow put in the wrong interval."""
    s = book_samples(small_market(), step_ms=0.001, levels=2)
    assert s.ts_ns.tolist() == [2000, 3000, 4000, 5000, 6000, 7000]
    np.testing.assert_array_equal(s.mid_ticks, [100.5, 100, 99.5, 100.5, 101, 102.5])
    np.testing.assert_array_equal(s.spread_ticks, [1, 2, 3, 1, 2, 1])
    assert s.buy_lots.tolist() == [0, 3, 0, 0, 0, 0]
    assert s.sell_lots.tolist() == [0, 0, 0, 2, 0, 0]
    rule = RegimeRule(volatility=1.5, trend=0.5)
    lab = make_labels(s, (2, 3), "mid", None, rule)
    down, flat, up = 0, 1, 2
    # h2 moves -1, +0.5, +1.5, +2 against spreads 1, 2, 3, 1; h3 moves 0, +1, +3 against 1, 2, 3
    assert lab.signal[:, 0].tolist() == [down, flat, flat, up, -1, -1]
    assert lab.signal[:, 1].tolist() == [flat, flat, up, -1, -1, -1]
    vol2 = np.log1p(np.sqrt([0.5, 1.25, 1.25, 2.5]))
    np.testing.assert_allclose(lab.volatility[:4, 0], vol2, rtol=1e-6)
    # H = 3: future volatility sqrt(1.5), sqrt(1.5), sqrt(3.5); moves 0, 1, 3
    assert lab.regime[:3].tolist() == [0, 1, 2]
    assert lab.known.tolist() == [True, True, True, False, False, False]


def backward_signal(price: np.ndarray, spread: np.ndarray, h: int) -> np.ndarray:
    """A planted defect: the move of the last h decisions instead of the next h."""
    out = np.full(len(price), -1)
    move = price[h:] - price[:-h]
    out[h:] = np.where(move >= spread[h:], 2, np.where(move <= -spread[h:], 0, 1))
    return out


def labels_ignore_the_past(label_fn, price: np.ndarray, spread: np.ndarray, h: int, t: int) -> bool:
    """Whether the label of ``t`` stays the same when every sample before ``t`` changes."""
    before = label_fn(price, spread, h)[t]
    p2, s2 = price.copy(), spread.copy()
    p2[:t] += 37.0
    s2[:t] += 5.0
    return label_fn(p2, s2, h)[t] == before


def vol_fn(price: np.ndarray, spread: np.ndarray, h: int) -> np.ndarray:
    return realised_volatility(price, h)


prices = st.lists(st.integers(-20, 20), min_size=12, max_size=40).map(
    lambda d: 1000.0 + np.cumsum(np.asarray(d, dtype=np.float64)) / 2
)


@settings(max_examples=60, deadline=None)
@given(price=prices, h=st.integers(1, 5), data=st.data())
def test_no_label_uses_an_input_of_its_time_or_earlier(price, h, data) -> None:
    """The label of t depends on the samples after t only (and on t's own price and spread as
    the reference): changing every earlier sample changes no label, changing the future
    does. Planted defect: the move of the last h decisions (``backward_signal``) fails."""
    spread = np.ones_like(price)
    t = data.draw(st.integers(h + 1, len(price) - h - 1))
    assert labels_ignore_the_past(signal_labels, price, spread, h, t)
    assert labels_ignore_the_past(vol_fn, price, spread, h, t)
    # the future moves the label: a price 10 spreads above p[t] at t + h makes it up
    future = price.copy()
    future[t + h :] = price[t] + 10.0
    assert signal_labels(future, spread, h)[t] == 2
    # the planted backward label is caught on a price that moved before t
    moved = price.copy()
    moved[t - h] = price[t] - 10.0
    assert not labels_ignore_the_past(backward_signal, moved, spread, h, t)


def straddlers(split, window: int, horizon: int, usable: np.ndarray) -> list[int]:
    """Anchors whose window or label horizon leaves their range or touches an unusable sample."""
    bad = []
    for name, (lo, hi) in split.bounds.items():
        for t in getattr(split, name):
            if t - window + 1 < lo or t + horizon >= hi or not usable[t - window + 1 : t + 1].all():
                bad.append(int(t))
    return bad


@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(30, 300),
    window=st.integers(1, 12),
    horizon=st.integers(1, 12),
    val=st.floats(0.1, 0.5),
    test=st.floats(0.1, 0.5),
    holes=st.lists(st.integers(0, 299), max_size=8),
    stride=st.integers(1, 3),
)
def test_the_split_has_no_straddling_window(n, window, horizon, val, test, holes, stride) -> None:
    """Every window [t−W+1, t] and its labels (t, t+H] lie inside one range, on usable
    samples, ranges in time order. Planted defect: adding the last anchor of a range (its
    labels reach into the next range) is caught by the same check."""
    usable = np.ones(n, dtype=bool)
    usable[[h for h in holes if h < n]] = False
    split = chronological_split(n, window, horizon, val, test, usable, stride)
    assert split.bounds["train"][1] == split.bounds["val"][0] <= split.bounds["test"][0]
    assert straddlers(split, window, horizon, usable) == []
    for name in ("train", "val", "test"):
        anchors = getattr(split, name)
        assert (np.diff(anchors) > 0).all()
    lo, hi = split.bounds["train"]
    if hi - 1 >= lo + window - 1 and usable[max(hi - window, 0) : hi].all():
        planted = type(split)(np.append(split.train, hi - 1), split.val, split.test, split.bounds)
        assert straddlers(planted, window, horizon, usable) == [hi - 1]


def test_synthetic_regimes_follow_the_generator_path() -> None:
    """The regime of a sample is the one in force at its time (a search on the wrong side, or
    the regime left instead of the one entered, would shift it)."""
    report = {"generator": {"regime_start_ns": [0, 100, 250], "regime_path": [0, 2, 1]}}
    ts = np.array([0, 50, 99, 100, 249, 250, 900])
    assert synth_regimes(report, ts).tolist() == [0, 0, 0, 2, 2, 1, 1]
    assert synth_regimes({"format": "binance"}, ts) is None


def test_the_synthetic_market_exports_its_regime_path() -> None:
    from lobzero import synth_market

    m = synth_market(seconds=900, seed=2)
    gen = m.import_report["generator"]
    assert len(gen["regime_path"]) == gen["regime_switches"] + 1
    assert gen["regime_path"][0] == 0
    s = book_samples(m, 1000.0, 2)
    seen = set(synth_regimes(m.import_report, s.ts_ns).tolist())
    assert seen <= {0, 1, 2} and len(seen) >= 2


@pytest.mark.parametrize("step_ms", [0.001])
def test_windows_end_at_their_anchor(step_ms: float) -> None:
    """The window of anchor t ends with sample t (an off-by-one would feed t+1, the label's
    first future sample, or drop t)."""
    from lobzero import synth_market
    from lobzero.encoder import EncoderConfig, build_dataset

    m = synth_market(seconds=120, seed=1)
    cfg = EncoderConfig(step_ms=200, window=5, horizons=(3, 6), levels=3)
    d = build_dataset(m, cfg)
    anchors = d.split.train[:7]
    w = d.windows(anchors)
    assert w.shape == (7, 5, 3, 7)
    for i, t in enumerate(anchors):
        np.testing.assert_array_equal(w[i], d.x[t - 4 : t + 1])
