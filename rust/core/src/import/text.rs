//! Reading text files line by line, gzip or plain, with errors that name the file and line.

use crate::error::{LobzeroError, Result};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// What the text importers read, for the message that refuses anything else.
pub const SUPPORTED_FORMATS: &str = "binance-stream, binance-csv, tardis, lobster and hyperliquid \
text files (plain or gzip), hftbacktest .npz/.npy, lobzero .parquet";

/// Opens a file for line reading, decompressing it when it starts with the gzip magic bytes.
/// A directory, an empty file and a zip archive are refused with a message that says so (read
/// as text they would fail as "no such file", import as nothing, or read as "not UTF-8 text").
pub fn open(path: &Path) -> Result<Box<dyn BufRead>> {
    let location = path.display().to_string();
    let io = |e: std::io::Error| LobzeroError::Io {
        location: location.clone(),
        detail: e.to_string(),
    };
    if path.is_dir() {
        return Err(LobzeroError::Io {
            location: location.clone(),
            detail: "is a directory, not a file (pass the files inside it)".into(),
        });
    }
    let file = File::open(path).map_err(io)?;
    let mut magic = Vec::with_capacity(4);
    file.take(4).read_to_end(&mut magic).map_err(io)?;
    if magic.is_empty() {
        return Err(LobzeroError::Format {
            location: location.clone(),
            format: "market data".into(),
            detail: "the file is empty".into(),
        });
    }
    if magic.starts_with(b"PK\x03\x04") || magic.starts_with(b"PK\x05\x06") {
        return Err(LobzeroError::Format {
            location: location.clone(),
            format: "text".into(),
            detail: format!(
                "zip archives are not supported: unzip it first; supported formats: {SUPPORTED_FORMATS}"
            ),
        });
    }
    let file = File::open(path).map_err(io)?;
    if magic.starts_with(&[0xfd, b'7', b'z', b'X']) {
        // xz has no streaming reader in pure Rust: decompress whole (order logs are small)
        let mut out = Vec::new();
        lzma_rs::xz_decompress(&mut BufReader::new(file), &mut out).map_err(|e| match e {
            lzma_rs::error::Error::IoError(ref io)
                if io.kind() == std::io::ErrorKind::UnexpectedEof =>
            {
                LobzeroError::Truncated {
                    location: location.clone(),
                    detail: format!("xz stream ends early: {e}"),
                }
            }
            other => LobzeroError::Format {
                location: location.clone(),
                format: "xz".into(),
                detail: other.to_string(),
            },
        })?;
        return Ok(Box::new(std::io::Cursor::new(out)));
    }
    if magic.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 16, file)),
        )))
    } else {
        Ok(Box::new(BufReader::with_capacity(1 << 16, file)))
    }
}

/// Iterates over the lines of a reader: `(line_number, text, ends_with_newline)`, 1-based. A read
/// error (a truncated gzip stream, a bad disk) or a line that is not UTF-8 becomes an error
/// naming the file and line.
pub struct Lines<R: BufRead> {
    reader: R,
    name: String,
    line: u64,
    buf: Vec<u8>,
}

impl<R: BufRead> Lines<R> {
    pub fn new(reader: R, name: &str) -> Self {
        Self {
            reader,
            name: name.to_string(),
            line: 0,
            buf: Vec::with_capacity(1 << 12),
        }
    }

    pub fn location(&self) -> String {
        format!("{}:{}", self.name, self.line)
    }

    /// The next line without its line ending; `Ok(None)` at the end of the file.
    pub fn next_line(&mut self) -> Result<Option<(u64, &str, bool)>> {
        self.buf.clear();
        let n = self.reader.read_until(b'\n', &mut self.buf).map_err(|e| {
            let location = format!("{}:{}", self.name, self.line + 1);
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                LobzeroError::Truncated {
                    location,
                    detail: format!("compressed stream ends early: {e}"),
                }
            } else if e.kind() == std::io::ErrorKind::InvalidInput
                || e.kind() == std::io::ErrorKind::InvalidData
            {
                LobzeroError::Format {
                    location,
                    format: "gzip".into(),
                    detail: e.to_string(),
                }
            } else {
                LobzeroError::Io {
                    location,
                    detail: e.to_string(),
                }
            }
        })?;
        if n == 0 {
            return Ok(None);
        }
        self.line += 1;
        let mut end = self.buf.len();
        let newline = self.buf[end - 1] == b'\n';
        if newline {
            end -= 1;
            if end > 0 && self.buf[end - 1] == b'\r' {
                end -= 1;
            }
        }
        let text = std::str::from_utf8(&self.buf[..end]).map_err(|e| {
            LobzeroError::parse(
                format!("{}:{}", self.name, self.line),
                format!("not UTF-8 text ({e})"),
            )
        })?;
        Ok(Some((self.line, text, newline)))
    }
}

/// Calls `each(line_number, text)` for every line that is not blank. A parse error on a last
/// line without its line break is a file cut short (`Truncated`).
pub fn each_line(
    reader: impl BufRead,
    name: &str,
    mut each: impl FnMut(u64, &str) -> Result<()>,
) -> Result<()> {
    let mut lines = Lines::new(reader, name);
    while let Some((line, text, newline)) = lines.next_line()? {
        if text.trim().is_empty() {
            continue;
        }
        match each(line, text) {
            Err(LobzeroError::Parse { .. }) if !newline => {
                return Err(LobzeroError::Truncated {
                    location: format!("{name}:{line}"),
                    detail: "the last line is incomplete".into(),
                })
            }
            other => other?,
        }
    }
    Ok(())
}

/// A CSV reader over a text file, plain or gzip.
pub type CsvReader = csv::Reader<Box<dyn BufRead>>;

/// A CSV reader over a (possibly gzip) file, with its header row read.
pub fn csv_reader(path: &Path) -> Result<(CsvReader, Vec<String>)> {
    let name = path.display().to_string();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(open(path)?);
    let headers = reader
        .headers()
        .map_err(|e| csv_error(&name, e))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect::<Vec<_>>();
    if headers.iter().all(String::is_empty) {
        // a gzip stream of no bytes passes `open`'s check on the compressed size
        return Err(LobzeroError::Format {
            location: name,
            format: "market data".into(),
            detail: "the file is empty (no header row)".into(),
        });
    }
    Ok((reader, headers))
}

/// Maps a csv crate error to the matching lobzero error, naming file and line.
pub fn csv_error(name: &str, err: csv::Error) -> LobzeroError {
    let line = err.position().map_or(0, |p| p.line());
    let location = format!("{name}:{line}");
    match err.kind() {
        csv::ErrorKind::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            LobzeroError::Truncated {
                location,
                detail: format!("compressed stream ends early: {e}"),
            }
        }
        csv::ErrorKind::Io(e) => LobzeroError::Io {
            location,
            detail: e.to_string(),
        },
        csv::ErrorKind::Utf8 { .. } => LobzeroError::parse(location, "not UTF-8 text"),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => LobzeroError::parse(
            location,
            format!("{len} fields where the header has {expected_len}"),
        ),
        _ => LobzeroError::parse(location, err.to_string()),
    }
}

/// Column positions by name, refusing a header that lacks one.
pub fn column_index(
    headers: &[String],
    names: &[&str],
    location: &str,
    format: &str,
) -> Result<Vec<usize>> {
    names
        .iter()
        .map(|name| {
            headers
                .iter()
                .position(|h| h == name)
                .ok_or_else(|| LobzeroError::Format {
                    location: location.to_string(),
                    format: format.to_string(),
                    detail: format!("missing column {name:?} (header: {})", headers.join(",")),
                })
        })
        .collect()
}

/// The next CSV record and its line number; `None` at the end of the file.
pub fn next_record(
    reader: &mut CsvReader,
    record: &mut csv::StringRecord,
    name: &str,
) -> Result<Option<u64>> {
    match reader.read_record(record) {
        Ok(true) => Ok(Some(record.position().map_or(0, |p| p.line()))),
        Ok(false) => Ok(None),
        Err(e) => Err(csv_error(name, e)),
    }
}

/// Field `i` of a record, trimmed ("" when absent).
pub fn field(record: &csv::StringRecord, i: usize) -> &str {
    record.get(i).unwrap_or("").trim()
}

/// An exact decimal price or size; a bad one is an `InvalidValue` naming `what` and the place.
pub fn decimal(
    text: &str,
    what: &str,
    location: impl Fn() -> String,
) -> Result<crate::decimal::Decimal> {
    crate::decimal::Decimal::parse(text)
        .map_err(|e| LobzeroError::invalid(location(), format!("{what}: {e}")))
}

/// The number of the last line of a file when that line has no line break (the mark of a file
/// cut off while it was written or copied); `None` when the file ends with a line break, is
/// empty, or cannot be read to its end. Reads the whole file: meant for error paths.
pub fn unterminated_last_line(path: &Path) -> Option<u64> {
    let mut reader = open(path).ok()?;
    let mut buf = vec![0u8; 1 << 16];
    let (mut newlines, mut last_byte) = (0u64, None);
    loop {
        let n = reader.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        newlines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        last_byte = Some(buf[n - 1]);
    }
    match last_byte {
        Some(b) if b != b'\n' => Some(newlines + 1),
        _ => None,
    }
}

/// Turns a parse or value error on the last line of `path` into a `Truncated` error when that
/// line has no line break: a row cut in the middle reads as too few fields or a broken number.
pub fn explain_cut(err: LobzeroError, path: &Path) -> LobzeroError {
    let (LobzeroError::Parse { location, rule } | LobzeroError::InvalidValue { location, rule }) =
        &err
    else {
        return err;
    };
    let name = path.display().to_string();
    let line = location
        .strip_prefix(name.as_str())
        .and_then(|rest| rest.strip_prefix(':'))
        .and_then(|n| n.parse::<u64>().ok());
    match (line, unterminated_last_line(path)) {
        (Some(line), Some(last)) if line == last => LobzeroError::Truncated {
            location: location.clone(),
            detail: format!(
                "the last line has no line break and does not read ({rule}): the file was cut short"
            ),
        },
        _ => err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(name: &str, bytes: Option<&[u8]>) -> LobzeroError {
        let dir = std::env::temp_dir().join(format!("lobzero-text-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = match bytes {
            Some(b) => {
                let p = dir.join(name);
                std::fs::write(&p, b).unwrap();
                p
            }
            None => dir.clone(),
        };
        let err = open(&path).err().expect("open must refuse it");
        let _ = std::fs::remove_dir_all(&dir);
        err
    }

    #[test]
    fn a_directory_an_empty_file_and_a_zip_are_refused_by_name() {
        let dir = refusal("dir", None);
        assert!(matches!(dir, LobzeroError::Io { .. }), "{dir}");
        assert!(dir.to_string().contains("is a directory"), "{dir}");
        let empty = refusal("empty.csv", Some(b""));
        assert!(empty.to_string().contains("empty.csv: "), "{empty}");
        assert!(empty.to_string().contains("the file is empty"), "{empty}");
        let zip = refusal("day.zip", Some(b"PK\x03\x04\x14\x00rest of the archive"));
        assert!(matches!(zip, LobzeroError::Format { .. }), "{zip}");
        assert!(
            zip.to_string().contains("zip archives are not supported"),
            "{zip}"
        );
    }
}
