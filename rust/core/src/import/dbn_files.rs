//! Opening DBN files for the `databento` importer: zstd or plain, with a cut file reported as
//! truncated, and definition files.

use crate::decimal::Decimal;
use crate::error::{LobzeroError, Result};
use dbn::decode::{DecodeRecordRef, DynDecoder};
use dbn::{InstrumentDefMsg, VersionUpgradePolicy};
use std::collections::BTreeMap;
use std::path::Path;

pub(crate) fn dbn_error(location: &str, e: dbn::Error) -> LobzeroError {
    match e {
        dbn::Error::Io { source, context } => {
            if source.kind() == std::io::ErrorKind::UnexpectedEof
                || source.to_string().starts_with(TRUNCATED)
            {
                LobzeroError::Truncated {
                    location: location.into(),
                    detail: format!("{source} while {context}"),
                }
            } else if source.kind() == std::io::ErrorKind::NotFound {
                LobzeroError::Io {
                    location: location.into(),
                    detail: "no such file".into(),
                }
            } else {
                LobzeroError::Format {
                    location: location.into(),
                    format: "DBN".into(),
                    detail: format!("{source} while {context}"),
                }
            }
        }
        other => LobzeroError::Format {
            location: location.into(),
            format: "DBN".into(),
            detail: other.to_string(),
        },
    }
}

/// A reader that counts the bytes it delivers and reports a compressed stream that ends early
/// as an error: `dbn` reads an early end as the end of the data (right for a live stream, a
/// silent loss for a file cut short).
struct Counted<R> {
    inner: R,
    bytes: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: std::io::Read> std::io::Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.bytes.set(self.bytes.get() + n as u64);
                Ok(n)
            }
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                Err(std::io::Error::other(format!("{TRUNCATED}: {e}")))
            }
            Err(e) => Err(e),
        }
    }
}

const TRUNCATED: &str = "compressed stream ends early";

pub(crate) type Decoder = DynDecoder<'static, std::io::BufReader<Box<dyn std::io::Read>>>;

/// The decoder of a DBN file (zstd or plain) and the count of decoded bytes it has read.
pub(crate) fn open(path: &Path) -> Result<(Decoder, std::rc::Rc<std::cell::Cell<u64>>)> {
    use std::io::Read;
    let name = path.display().to_string();
    if path.is_dir() {
        return Err(LobzeroError::Io {
            location: name,
            detail: "is a directory, not a file (pass the files inside it)".into(),
        });
    }
    let io = |e: std::io::Error| LobzeroError::Io {
        location: name.clone(),
        detail: e.to_string(),
    };
    let mut magic = Vec::with_capacity(4);
    std::fs::File::open(path)
        .map_err(io)?
        .take(4)
        .read_to_end(&mut magic)
        .map_err(io)?;
    let file = std::fs::File::open(path).map_err(io)?;
    let inner: Box<dyn std::io::Read> = if magic == [0x28, 0xb5, 0x2f, 0xfd] {
        Box::new(zstd::stream::read::Decoder::new(file).map_err(io)?)
    } else {
        Box::new(file)
    };
    let bytes = std::rc::Rc::new(std::cell::Cell::new(0));
    let reader: Box<dyn std::io::Read> = Box::new(Counted {
        inner,
        bytes: bytes.clone(),
    });
    let dec = DynDecoder::new(
        reader,
        dbn::Compression::None,
        VersionUpgradePolicy::default(),
    )
    .map_err(|e| dbn_error(&name, e))?;
    Ok((dec, bytes))
}

/// The length of the metadata block of a DBN file (bytes 4..8 after the `DBN` + version
/// prefix, little endian), read through the same decompression.
pub(crate) fn header_length(path: &Path) -> Result<u64> {
    use std::io::Read;
    let name = path.display().to_string();
    let io = |e: std::io::Error| LobzeroError::Io {
        location: name.clone(),
        detail: e.to_string(),
    };
    let mut magic = Vec::with_capacity(4);
    std::fs::File::open(path)
        .map_err(io)?
        .take(4)
        .read_to_end(&mut magic)
        .map_err(io)?;
    let file = std::fs::File::open(path).map_err(io)?;
    let mut inner: Box<dyn Read> = if magic == [0x28, 0xb5, 0x2f, 0xfd] {
        Box::new(zstd::stream::read::Decoder::new(file).map_err(io)?)
    } else {
        Box::new(file)
    };
    let mut head = [0u8; 8];
    inner
        .read_exact(&mut head)
        .map_err(|e| LobzeroError::Truncated {
            location: name.clone(),
            detail: format!("no DBN header: {e}"),
        })?;
    Ok(u64::from(u32::from_le_bytes([
        head[4], head[5], head[6], head[7],
    ])))
}

/// What a definition file says of one instrument.
#[derive(Debug, Clone)]
pub struct Definition {
    pub symbol: String,
    pub tick: Decimal,
    pub multiplier: Option<Decimal>,
}

/// The definitions of a definition file by instrument id (the last record of an id wins: a
/// definition file of a session may repeat an instrument as it is updated).
pub fn read_definitions(path: &Path) -> Result<BTreeMap<u32, Definition>> {
    let name = path.display().to_string();
    let (mut dec, _) = open(path)?;
    let mut out = BTreeMap::new();
    let mut k = 0u64;
    while let Some(rec) = dec.decode_record_ref().map_err(|e| dbn_error(&name, e))? {
        k += 1;
        let Some(d) = rec.get::<InstrumentDefMsg>() else {
            continue;
        };
        let loc = || format!("{name} record {k}");
        let tick = Decimal::new(i128::from(d.min_price_increment), 9)
            .map_err(|e| LobzeroError::invalid(loc(), format!("min_price_increment: {e}")))?;
        let multiplier = if d.contract_multiplier != i32::MAX && d.contract_multiplier > 0 {
            Decimal::new(i128::from(d.contract_multiplier), 0).ok()
        } else if d.unit_of_measure_qty != i64::MAX && d.unit_of_measure_qty > 0 {
            Decimal::new(i128::from(d.unit_of_measure_qty), 9).ok()
        } else {
            None
        };
        let symbol = d.raw_symbol().unwrap_or("").to_string();
        out.insert(
            d.hd.instrument_id,
            Definition {
                symbol,
                tick,
                multiplier,
            },
        );
    }
    if out.is_empty() {
        return Err(LobzeroError::Format {
            location: name,
            format: "Databento definition".into(),
            detail: "no instrument definition records".into(),
        });
    }
    Ok(out)
}
