"""Exports of a :class:`~lobzero.data.market.Market` to other tools' formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lobzero.data.market import KIND_CLEAR, KIND_SNAPSHOT, KIND_TRADE, KIND_UPDATE, Market
from lobzero.exceptions import DataIOError

# hftbacktest's event flags (hftbacktest.types): event kind in the low byte, then side and
# which timeline (exchange / local) the event belongs to.
HBT_DEPTH, HBT_TRADE, HBT_DEPTH_CLEAR, HBT_DEPTH_SNAPSHOT = 1, 2, 3, 4
HBT_EXCH, HBT_LOCAL = 1 << 31, 1 << 30
HBT_BUY, HBT_SELL = 1 << 29, 1 << 28
HBT_EVENT_DTYPE = np.dtype(
    {
        "names": ["ev", "exch_ts", "local_ts", "px", "qty", "order_id", "ival", "fval"],
        "formats": ["<u8", "<i8", "<i8", "<f8", "<f8", "<u8", "<i8", "<f8"],
        "offsets": [0, 8, 16, 24, 32, 40, 48, 56],
        "itemsize": 64,
        "aligned": True,
    }
)


def to_hftbacktest_npz(market: Market, path: str | Path) -> Path:
    """Writes the market as an hftbacktest event file (``np.savez_compressed``, key ``data``).

    Every event is flagged for the local timeline only (``local_ts`` = lobzero's receive
    time, ``exch_ts`` = exchange time): exchange timestamps of merged exchange streams are not
    monotone, which hftbacktest's exchange timeline requires. Prices and sizes are converted
    back to floats with the instrument's tick and lot.
    """
    cols = market.columns()
    meta = market.instrument
    kind = cols["kind"]
    side_flag = np.where(cols["side"] > 0, HBT_BUY, np.where(cols["side"] < 0, HBT_SELL, 0))
    kind_flag = np.select(
        [kind == KIND_UPDATE, kind == KIND_SNAPSHOT, kind == KIND_TRADE, kind == KIND_CLEAR],
        [HBT_DEPTH, HBT_DEPTH_SNAPSHOT, HBT_TRADE, HBT_DEPTH_CLEAR],
    )
    out = np.zeros(len(market), HBT_EVENT_DTYPE)
    out["ev"] = (kind_flag | side_flag | HBT_LOCAL).astype(np.uint64)
    out["exch_ts"] = cols["ts_ns"]
    out["local_ts"] = cols["recv_ts_ns"]
    out["px"] = cols["price_ticks"] * meta.tick
    out["qty"] = cols["qty_lots"] * meta.lot
    path = Path(path)
    try:
        np.savez_compressed(path, data=out)
    except OSError as e:
        raise DataIOError(f"{path}: cannot write ({e})") from e
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")
