"""The order log of a market imported from order-level data (``databento`` MBO,
``order-events``): its columns and where :meth:`Market.save` keeps it (a second Parquet file
beside the market's, named in the market file's metadata: Parquet holds one table per file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lobzero.exceptions import ParseError

# The order log: order_id; recv_ts_ns; action (ORDER_ACTIONS); side (+1 bid, -1 ask; a clear's
# side, 0 both; a trade's aggressor, 0 unknown); price_ticks; qty_lots (add: size, modify: new
# size, cancel / fill: size removed, trade: size); l2_row (in effect once L2 rows [0, l2_row)
# are applied).
ORDER_COLUMNS: dict[str, np.dtype[Any]] = {
    "order_id": np.dtype(np.uint64),
    "recv_ts_ns": np.dtype(np.int64),
    "action": np.dtype(np.uint8),
    "side": np.dtype(np.int8),
    "price_ticks": np.dtype(np.int64),
    "qty_lots": np.dtype(np.int64),
    "l2_row": np.dtype(np.uint64),
}
ORDER_ACTIONS = ("add", "cancel", "modify", "fill", "clear", "trade")


def orders_path(path: Path) -> Path:
    """Where the order log of the market saved at ``path`` goes: ``m.parquet`` →
    ``m.orders.parquet``."""
    return path.with_name(path.name.removesuffix(".parquet") + ".orders.parquet")


def read_orders(path: Path) -> dict[str, np.ndarray]:
    """The order log saved beside a market; a missing file or column is an error naming it."""

    from lobzero.data.market import _to_dtype, read_parquet_table  # one cast, one reader

    table = read_parquet_table(path, "the market's order log")
    out: dict[str, np.ndarray] = {}
    for name, dtype in ORDER_COLUMNS.items():
        if name not in table.column_names:
            raise ParseError(f"{path}: missing column {name!r} of the order log")
        col = table.column(name).to_numpy()
        out[name] = _to_dtype(col, dtype, name, str(path))
    return out
