//! The receive clock of `<receive time> <JSON>` recordings (Binance collectors, Hyperliquid):
//! the unit of the times told from their magnitude, and their order.

use crate::error::{LobzeroError, Result};

/// Units of receive times, told apart by magnitude.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RecvUnit {
    /// ns since 1970: 1e17 (1973) and more.
    EpochNs,
    /// µs since 1970: 1e14 (1973) to 1e16 (2286).
    EpochUs,
    /// Under 1e14: not an epoch time in either unit; ns from some origin, as synthetic files
    /// and tests write them (the report's notes say so).
    OriginNs,
}

impl RecvUnit {
    fn of(value: i64) -> Option<Self> {
        match value {
            100_000_000_000_000_000.. => Some(Self::EpochNs),
            100_000_000_000_000..=9_999_999_999_999_999 => Some(Self::EpochUs),
            0..=99_999_999_999_999 => Some(Self::OriginNs),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::EpochUs => "us",
            _ => "ns",
        }
    }
}

/// The receive clock of `<receive time> <JSON>` recordings: splits a line, reads its time in
/// the unit the first line shows (by magnitude: [`RecvUnit`]) and refuses a time that fits no
/// unit, changes unit, or goes backwards.
#[derive(Debug, Clone, Default)]
pub struct RecvClock {
    unit: Option<RecvUnit>,
    last_ns: Option<i64>,
}

impl RecvClock {
    /// The unit detected ("ns" or "us"), once a line was read.
    pub fn unit(&self) -> Option<String> {
        self.unit.map(|u| u.name().to_string())
    }

    /// A note for the report when the times are not epoch times.
    pub fn note(&self) -> Option<String> {
        (self.unit == Some(RecvUnit::OriginNs)).then(|| {
            "receive times are under 1e14, not epoch times in ns or µs: read as ns from the \
             recording's own origin"
                .to_string()
        })
    }

    /// `(receive time ns, JSON text)` of one line.
    pub fn split<'a>(&mut self, text: &'a str, loc: &dyn Fn() -> String) -> Result<(i64, &'a str)> {
        let (recv_text, json) = text.split_once(' ').ok_or_else(|| {
            LobzeroError::parse(loc(), "expected `<receive time (ns or µs)> <JSON>`")
        })?;
        let value: i64 = recv_text.parse().map_err(|_| {
            LobzeroError::parse(
                loc(),
                format!("receive time {recv_text:?} is not an integer"),
            )
        })?;
        let Some(unit) = RecvUnit::of(value) else {
            return Err(LobzeroError::invalid(
                loc(),
                format!(
                    "receive time {value} fits no unit (epoch ns are >= 1e17, epoch µs 1e14 \
                     to 1e16, ns from the recording's origin under 1e14)"
                ),
            ));
        };
        match self.unit {
            None => self.unit = Some(unit),
            Some(u) if u != unit => {
                return Err(LobzeroError::invalid(
                    loc(),
                    format!(
                        "receive time {value} is not of the unit of the lines before ({u:?}): \
                         epoch ns are >= 1e17, epoch µs 1e14 to 1e16"
                    ),
                ))
            }
            Some(_) => {}
        }
        let ns = if unit == RecvUnit::EpochUs {
            value * 1_000
        } else {
            value
        };
        if let Some(last) = self.last_ns {
            if ns < last {
                return Err(LobzeroError::TimestampOrder {
                    location: loc(),
                    previous_ts_ns: last,
                    ts_ns: ns,
                });
            }
        }
        self.last_ns = Some(ns);
        Ok((ns, json))
    }
}
