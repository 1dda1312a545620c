//! The one error type of lobzero-core. Every variant names where the problem is (`location`: a
//! file and line, or a column and row) and the rule that was broken, so a user can find and fix
//! the input. The bindings map each variant to one Python exception class.

use thiserror::Error;

/// Everything that can go wrong in lobzero-core. Bad input is an error, never a panic.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LobzeroError {
    /// A line, record or field could not be parsed, or a required column is missing.
    #[error("{location}: {rule}")]
    Parse { location: String, rule: String },
    /// A value parsed but breaks a rule: NaN, a negative size, a price off the tick grid, ...
    #[error("{location}: {rule}")]
    InvalidValue { location: String, rule: String },
    /// Receive timestamps must never go backwards.
    #[error("{location}: timestamp goes backwards ({ts_ns} ns after {previous_ts_ns} ns)")]
    TimestampOrder {
        location: String,
        previous_ts_ns: i64,
        ts_ns: i64,
    },
    /// After all events of one receive time are applied, best bid must be below best ask.
    /// Prices are in `unit`: "ticks" for the L2 stream, the currency for an importer's book
    /// of orders (its tick is not chosen yet).
    #[error("{location}: crossed book (best bid {best_bid} >= best ask {best_ask} {unit})")]
    CrossedBook {
        location: String,
        best_bid: String,
        best_ask: String,
        unit: &'static str,
    },
    /// An update does not continue the previous one (exchange sequence numbers).
    #[error("{location}: sequence gap ({rule}); pass on_gap=\"resync\" to clear the book and wait for the next snapshot")]
    SequenceGap { location: String, rule: String },
    /// The file ends in the middle of a record or of a compressed block.
    #[error("{location}: file is truncated ({detail})")]
    Truncated { location: String, detail: String },
    /// The file is not what its format says (wrong header, wrong kind of message, no snapshot, ...).
    #[error("{location}: not a valid {format} file ({detail})")]
    Format {
        location: String,
        format: String,
        detail: String,
    },
    /// The operating system could not read or write a file.
    #[error("{location}: {detail}")]
    Io { location: String, detail: String },
    /// A configuration value is out of range or inconsistent with another one.
    #[error("{0}")]
    Config(String),
}

pub type Result<T> = std::result::Result<T, LobzeroError>;

impl LobzeroError {
    pub fn parse(location: impl Into<String>, rule: impl Into<String>) -> Self {
        Self::Parse {
            location: location.into(),
            rule: rule.into(),
        }
    }

    pub fn invalid(location: impl Into<String>, rule: impl Into<String>) -> Self {
        Self::InvalidValue {
            location: location.into(),
            rule: rule.into(),
        }
    }

    pub fn config(detail: impl Into<String>) -> Self {
        Self::Config(detail.into())
    }

    /// The location the error names, if it names one.
    pub fn location(&self) -> Option<&str> {
        match self {
            Self::Parse { location, .. }
            | Self::InvalidValue { location, .. }
            | Self::TimestampOrder { location, .. }
            | Self::CrossedBook { location, .. }
            | Self::SequenceGap { location, .. }
            | Self::Truncated { location, .. }
            | Self::Format { location, .. }
            | Self::Io { location, .. } => Some(location),
            Self::Config(_) => None,
        }
    }
}
