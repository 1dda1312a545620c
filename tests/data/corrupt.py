"""Random damage to a file's bytes (hypothesis), and the property every importer must keep
under it: a :class:`~lobzero.exceptions.DataError`, or a market that is still a valid stream."""

from __future__ import annotations

import gzip
from collections.abc import Callable

import lobzero
from hypothesis import strategies as st

#: bytes worth inserting: the separators and digits the text formats are made of
INSERTABLE = list(b'0123456789-.,:"[]{} \nx\x00')


def damage(data: st.DataObject, blob: bytes) -> bytes:
    """1 to 4 flips, deletions, insertions or cuts at drawn places."""
    out = bytearray(blob)
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "delete", "insert", "cut"]))
        pos = data.draw(st.integers(0, max(len(out) - 1, 0)))
        if op == "flip" and out:
            out[pos] = data.draw(st.integers(0, 255))
        elif op == "delete" and out:
            del out[pos]
        elif op == "insert":
            out.insert(pos, data.draw(st.sampled_from(INSERTABLE)))
        else:
            del out[pos:]
    return bytes(out)


def maybe_gzip(data: st.DataObject, blob: bytes) -> bytes:
    """The bytes as they are, gzip-compressed, or compressed and then cut."""
    if not data.draw(st.booleans()):
        return blob
    packed = gzip.compress(blob)
    if data.draw(st.booleans()):
        packed = packed[: data.draw(st.integers(0, len(packed)))]
    return packed


def data_error_or_valid(load: Callable[[], lobzero.Market]) -> None:
    """Runs ``load``: a DataError passes, any other exception propagates (the property fails),
    and an accepted market must rebuild from its own columns (every stream rule holds)."""
    try:
        market = load()
    except lobzero.DataError:
        return
    lobzero.Market.from_polars(market.to_polars(), market.instrument)
