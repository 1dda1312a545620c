//! Opening DBN files for the `databento` importer: zstd or plain, with a cut file reported as
//! truncated, and definition files.

use crate::decimal::Decimal;
use crate::error::{LobzeroError, Result};
use dbn::decode::dbn::fsm::DbnFsm;
use dbn::decode::DecodeRecordRef;
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

/// A DBN file's decoded bytes: zstd (sniffed once, from the file's first four bytes) or plain.
/// It counts the bytes it delivers and keeps the first 8 (the `DBN` + version prefix and the
/// length of the metadata), so the importer can tell a file that ends inside a record without
/// reading the file a second time. A compressed stream that ends early is an error here:
/// `dbn` reads an early end as the end of the data (right for a live stream, a silent loss for
/// a file cut short).
pub struct Decompressed {
    inner: Source,
    /// The size of the file on disk.
    file_len: u64,
    bytes: u64,
    head: [u8; 8],
}

enum Source {
    Zstd(Box<zstd::stream::read::Decoder<'static, std::io::BufReader<std::fs::File>>>),
    Plain(std::fs::File),
}

impl Decompressed {
    /// About how many records of `record_size` bytes the file holds, for reserving memory:
    /// exact for a plain file, for zstd the ratio of MBO data (about 4: the ES session's is 3.9);
    /// at most [`MAX_RESERVED_RECORDS`] (beyond it the columns grow as they fill).
    pub(crate) fn records_estimate(&self, record_size: u64) -> usize {
        let decoded = match self.inner {
            Source::Zstd(_) => self.file_len.saturating_mul(4),
            Source::Plain(_) => self.file_len,
        };
        (decoded / record_size.max(1)).min(MAX_RESERVED_RECORDS) as usize
    }

    /// The decoded bytes delivered so far.
    pub(crate) fn bytes_read(&self) -> u64 {
        self.bytes
    }

    /// The length of the metadata block (bytes 4..8 of the prefix, little endian), once the
    /// prefix has been read.
    pub(crate) fn header_length(&self) -> Option<u64> {
        (self.bytes >= 8).then(|| {
            let h = &self.head;
            u64::from(u32::from_le_bytes([h[4], h[5], h[6], h[7]]))
        })
    }
}

impl std::io::Read for Decompressed {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let got = match &mut self.inner {
            Source::Zstd(z) => z.read(buf),
            Source::Plain(f) => f.read(buf),
        };
        match got {
            Ok(n) => {
                let start = self.bytes.min(8) as usize;
                let take = (8 - start).min(n);
                self.head[start..start + take].copy_from_slice(&buf[..take]);
                self.bytes += n as u64;
                Ok(n)
            }
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                Err(std::io::Error::other(format!("{TRUNCATED}: {e}")))
            }
            Err(e) => Err(e),
        }
    }
}

/// 16 M records: about 1.4 GB of columns reserved (not touched) for an MBO import.
const MAX_RESERVED_RECORDS: u64 = 1 << 24;

const TRUNCATED: &str = "compressed stream ends early";

/// The decoder's own buffer: large enough that zstd decodes straight into it in few calls,
/// small enough to stay in the L2 cache while the records are read from it.
const DECODE_BUFFER: usize = 256 << 10;

/// Opens a DBN file, zstd or plain, with one open and one sniff of the zstd magic.
pub(crate) fn open_decompressed(path: &Path) -> Result<Decompressed> {
    use std::io::{Read, Seek};
    let name = path.display().to_string();
    if path.is_dir() {
        return Err(LobzeroError::Io {
            location: name,
            detail: "is a directory, not a file (pass the files inside it)".into(),
        });
    }
    let io = |e: std::io::Error| LobzeroError::Io {
        location: name.clone(),
        detail: if e.kind() == std::io::ErrorKind::NotFound {
            "no such file".into()
        } else {
            e.to_string()
        },
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let file_len = file.metadata().map_err(io)?.len();
    let mut magic = Vec::with_capacity(4);
    (&mut file).take(4).read_to_end(&mut magic).map_err(io)?;
    file.rewind().map_err(io)?;
    let inner = if magic == [0x28, 0xb5, 0x2f, 0xfd] {
        Source::Zstd(Box::new(
            zstd::stream::read::Decoder::new(file).map_err(io)?,
        ))
    } else {
        Source::Plain(file)
    };
    Ok(Decompressed {
        inner,
        file_len,
        bytes: 0,
        head: [0; 8],
    })
}

pub type Decoder = dbn::decode::dbn::Decoder<Decompressed>;

/// The decoder of a DBN file (zstd or plain). `upgrade`: how records of older DBN versions
/// are read; market data (MBO, MBP-1, MBP-10, whose layout no version changed) is read as it
/// is (`AsIs`: the batch path, no per-record conversion), definitions are upgraded.
pub fn open(path: &Path, upgrade: VersionUpgradePolicy) -> Result<Decoder> {
    let name = path.display().to_string();
    let reader = open_decompressed(path)?;
    let fsm = DbnFsm::builder()
        .upgrade_policy(upgrade)
        .buffer_size(DECODE_BUFFER)
        .build()
        .map_err(|e| dbn_error(&name, e))?;
    dbn::decode::dbn::Decoder::with_fsm(reader, fsm).map_err(|e| dbn_error(&name, e))
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
    let mut dec = open(path, VersionUpgradePolicy::default())?;
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
