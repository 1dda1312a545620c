//! Python exception classes, one per error kind, and the mapping from `LobzeroError`.
//! `lobzero.exceptions` re-exports these classes; Python code raises the same ones.

use lobzero_core::LobzeroError;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    lobzero._core,
    LobzeroErrorPy,
    PyException,
    "Base class of every lobzero error."
);
create_exception!(
    lobzero._core,
    DataError,
    LobzeroErrorPy,
    "Input data breaks a rule of its format."
);
create_exception!(
    lobzero._core,
    ParseError,
    DataError,
    "A line, record or field cannot be parsed, or a column is missing."
);
create_exception!(
    lobzero._core,
    InvalidValueError,
    DataError,
    "A value parses but is not allowed (NaN, negative size, off-grid price, ...)."
);
create_exception!(
    lobzero._core,
    TimestampOrderError,
    DataError,
    "Receive timestamps go backwards."
);
create_exception!(
    lobzero._core,
    CrossedBookError,
    DataError,
    "The book is crossed (best bid >= best ask) after an update."
);
create_exception!(
    lobzero._core,
    SequenceGapError,
    DataError,
    "Exchange sequence numbers show lost updates."
);
create_exception!(
    lobzero._core,
    TruncatedFileError,
    DataError,
    "The file ends in the middle of a record or compressed block."
);
create_exception!(
    lobzero._core,
    FormatError,
    DataError,
    "The file is not what its format says."
);
create_exception!(
    lobzero._core,
    DataIOError,
    DataError,
    "A file cannot be read or written."
);
create_exception!(
    lobzero._core,
    ConfigError,
    LobzeroErrorPy,
    "A configuration value is out of range or inconsistent."
);

/// Converts a core error into the matching Python exception, with `location` set as an attribute.
pub fn to_py(err: LobzeroError) -> PyErr {
    let message = err.to_string();
    let location = err.location().map(str::to_string);
    let py_err = match err {
        LobzeroError::Parse { .. } => ParseError::new_err(message),
        LobzeroError::InvalidValue { .. } => InvalidValueError::new_err(message),
        LobzeroError::TimestampOrder { .. } => TimestampOrderError::new_err(message),
        LobzeroError::CrossedBook { .. } => CrossedBookError::new_err(message),
        LobzeroError::SequenceGap { .. } => SequenceGapError::new_err(message),
        LobzeroError::Truncated { .. } => TruncatedFileError::new_err(message),
        LobzeroError::Format { .. } => FormatError::new_err(message),
        LobzeroError::Io { .. } => DataIOError::new_err(message),
        LobzeroError::Config(_) => ConfigError::new_err(message),
    };
    Python::attach(|py| {
        let value = py_err.value(py);
        // best effort: an attribute we cannot set leaves the message, which names it too
        let _ = value.setattr("location", location);
    });
    py_err
}

/// A count Python passes as a plain int (PyO3's `usize` would refuse a negative one with an
/// `OverflowError` that names nothing): a negative value is a `ConfigError` naming the argument;
/// the core checks the rest (zero, say) with its own rule.
pub fn count(name: &str, value: i64) -> PyResult<usize> {
    usize::try_from(value).map_err(|_| {
        to_py(LobzeroError::config(format!(
            "{name} must be >= 1, got {value}"
        )))
    })
}

/// Shorthand for `result.map_err(to_py)`.
pub trait IntoPyResult<T> {
    fn py(self) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for Result<T, LobzeroError> {
    fn py(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("LobzeroError", py.get_type::<LobzeroErrorPy>())?;
    m.add("DataError", py.get_type::<DataError>())?;
    m.add("ParseError", py.get_type::<ParseError>())?;
    m.add("InvalidValueError", py.get_type::<InvalidValueError>())?;
    m.add("TimestampOrderError", py.get_type::<TimestampOrderError>())?;
    m.add("CrossedBookError", py.get_type::<CrossedBookError>())?;
    m.add("SequenceGapError", py.get_type::<SequenceGapError>())?;
    m.add("TruncatedFileError", py.get_type::<TruncatedFileError>())?;
    m.add("FormatError", py.get_type::<FormatError>())?;
    m.add("DataIOError", py.get_type::<DataIOError>())?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    Ok(())
}
