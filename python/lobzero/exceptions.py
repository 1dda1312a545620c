"""lobzero's exceptions: one class per kind of error, raised from Rust and Python alike.

    LobzeroError
    ├── DataError                 input data breaks a rule of its format
    │   ├── ParseError            a line, record or field cannot be parsed; a column is missing
    │   ├── InvalidValueError     NaN, negative size, price off the tick grid, unknown code, ...
    │   ├── TimestampOrderError   receive timestamps go backwards
    │   ├── CrossedBookError      best bid >= best ask after an update
    │   ├── SequenceGapError      exchange sequence numbers show lost updates
    │   ├── TruncatedFileError    the file stops in the middle of a record or compressed block
    │   ├── FormatError           the file is not what its format says
    │   └── DataIOError           a file cannot be read or written
    └── ConfigError               a configuration value is out of range or inconsistent

Errors raised from Rust carry a ``location`` attribute (``"file.gz:55"``, ``"polars row 12"``)
when the error has one; the message always names it.
"""

from lobzero._core import (
    ConfigError,
    CrossedBookError,
    DataError,
    DataIOError,
    FormatError,
    InvalidValueError,
    LobzeroError,
    ParseError,
    SequenceGapError,
    TimestampOrderError,
    TruncatedFileError,
)

__all__ = [
    "ConfigError",
    "CrossedBookError",
    "DataError",
    "DataIOError",
    "FormatError",
    "InvalidValueError",
    "LobzeroError",
    "ParseError",
    "SequenceGapError",
    "TimestampOrderError",
    "TruncatedFileError",
]
