//! LOBSTER file names (`TICKER_YYYY-MM-DD_START_END_message_LEVELS.csv` and its `orderbook`
//! partner) and the pairing of the paths a user passes: either file of a pair finds the other.

use crate::error::{LobzeroError, Result};
use std::path::{Path, PathBuf};

/// What a LOBSTER file name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    pub ticker: String,
    pub date: String,
    pub levels: usize,
    pub is_message: bool,
}

/// Reads a LOBSTER file name; `None` when the name does not follow the pattern.
pub fn parse_name(path: &Path) -> Option<Name> {
    let name = path.file_name()?.to_str()?;
    let stem = name
        .strip_suffix(".csv")
        .or_else(|| name.strip_suffix(".csv.gz"))?;
    let mut parts = stem.rsplitn(6, '_');
    let levels = parts.next()?.parse::<usize>().ok()?;
    let is_message = match parts.next()? {
        "message" => true,
        "orderbook" => false,
        _ => return None,
    };
    let (end, start) = (parts.next()?, parts.next()?);
    if !end.bytes().all(|b| b.is_ascii_digit()) || !start.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let date = parts.next()?;
    let ticker = parts.next()?;
    let date_like = date.len() == 10 && date.as_bytes()[4] == b'-' && date.as_bytes()[7] == b'-';
    if !date_like || ticker.is_empty() || levels == 0 {
        return None;
    }
    Some(Name {
        ticker: ticker.to_string(),
        date: date.to_string(),
        levels,
        is_message,
    })
}

/// The other file of a pair: `_message_` ↔ `_orderbook_` in the name.
fn partner_path(path: &Path, is_message: bool) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    let (from, to) = if is_message {
        ("_message_", "_orderbook_")
    } else {
        ("_orderbook_", "_message_")
    };
    let at = name.rfind(from)?;
    let partner = format!("{}{to}{}", &name[..at], &name[at + from.len()..]);
    Some(path.with_file_name(partner))
}

/// A message file, its orderbook file, and what their name says (if it follows the pattern).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub message: PathBuf,
    pub orderbook: PathBuf,
    pub name: Option<Name>,
}

/// The pairs the paths make, in order of first mention. A file named as LOBSTER names them
/// finds its partner beside it; a missing partner is an `Io` error naming the path expected.
/// Two paths whose names do not follow the pattern are taken as (message, orderbook).
pub fn pairs(paths: &[&Path]) -> Result<Vec<Pair>> {
    if paths.len() == 2 && paths.iter().all(|p| parse_name(p).is_none()) {
        return Ok(vec![Pair {
            message: paths[0].to_path_buf(),
            orderbook: paths[1].to_path_buf(),
            name: None,
        }]);
    }
    let mut out: Vec<Pair> = Vec::new();
    for path in paths {
        let Some(name) = parse_name(path) else {
            return Err(LobzeroError::config(format!(
                "{}: not a LOBSTER file name (TICKER_YYYY-MM-DD_START_END_message_LEVELS.csv or \
                 ..._orderbook_LEVELS.csv): pass the message file and the orderbook file, in \
                 that order, with the options date and levels",
                path.display()
            )));
        };
        let partner = partner_path(path, name.is_message)
            .ok_or_else(|| LobzeroError::config(format!("{}: no partner name", path.display())))?;
        let (message, orderbook) = if name.is_message {
            (path.to_path_buf(), partner)
        } else {
            (partner, path.to_path_buf())
        };
        if out.iter().any(|p| p.message == message) {
            continue;
        }
        let other = if name.is_message {
            &orderbook
        } else {
            &message
        };
        if !other.is_file() {
            return Err(LobzeroError::Io {
                location: other.display().to_string(),
                detail: format!(
                    "no such file: the LOBSTER {} file that goes with {}",
                    if name.is_message {
                        "orderbook"
                    } else {
                        "message"
                    },
                    path.display()
                ),
            });
        }
        out.push(Pair {
            message,
            orderbook,
            name: Some(Name {
                is_message: true,
                ..name
            }),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_read() {
        let n = parse_name(Path::new(
            "/d/GOOG_2012-06-21_34200000_57600000_orderbook_10.csv",
        ));
        assert_eq!(
            n,
            Some(Name {
                ticker: "GOOG".into(),
                date: "2012-06-21".into(),
                levels: 10,
                is_message: false
            })
        );
        assert!(parse_name(Path::new("GOOG_2012-06-21_3_5_trades_1.csv")).is_none());
        assert!(parse_name(Path::new("book.csv")).is_none());
        let partner = partner_path(Path::new("/d/X_2012-06-21_1_2_message_1.csv"), true);
        assert_eq!(
            partner,
            Some(PathBuf::from("/d/X_2012-06-21_1_2_orderbook_1.csv"))
        );
    }

    #[test]
    fn a_missing_partner_names_the_path_expected() {
        let dir = std::env::temp_dir().join(format!("lobzero-lobster-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let msg = dir.join("AAPL_2012-06-21_1_2_message_5.csv");
        std::fs::write(&msg, "1,1,1,1,1,1\n").unwrap();
        let err = pairs(&[msg.as_path()]).unwrap_err();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(matches!(err, LobzeroError::Io { .. }), "{err}");
        assert!(
            err.location()
                .unwrap()
                .ends_with("AAPL_2012-06-21_1_2_orderbook_5.csv"),
            "{err}"
        );
    }
}
