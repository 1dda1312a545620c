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

type ZstdReader = zstd::stream::read::Decoder<'static, std::io::BufReader<std::fs::File>>;

enum Source {
    Zstd(Box<ZstdReader>),
    /// zstd decompressed on a second thread (see [`Decompression::SecondThread`]).
    Pipelined(ChunkReceiver),
    Plain(std::fs::File),
}

/// Where a zstd file is decompressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Decompression {
    /// On a second thread when the machine has at least two cores, else on the caller's.
    #[default]
    Auto,
    /// On the thread that decodes the records.
    SameThread,
    /// On a thread of its own, in chunks of 256 KiB handed over through a bounded queue: zstd takes about half of an MBO import's decode-and-book time (0.10 µs of
    /// ~0.20 µs a record on this project's 2-core machine), so with a free core the two halves
    /// overlap. On a machine whose cores are all busy it costs a little instead (the hand-overs
    /// wait for a core).
    SecondThread,
}

/// The decompressing thread's chunk: large, so that a hand-over (two queue operations) costs
/// nothing next to the ~2 ms zstd takes to fill it.
const CHUNK: usize = 1 << 18;

/// Chunks queued between the threads (besides the one being filled and the one being read).
const CHUNKS_IN_FLIGHT: usize = 4;

/// The reading end of a decompressing thread: chunks in order, an error as the last item,
/// the end of the data when the thread has finished. Emptied chunks go back to the thread.
struct ChunkReceiver {
    chunks: std::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
    recycle: std::sync::mpsc::SyncSender<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
    done: bool,
}

impl ChunkReceiver {
    fn spawn(mut z: Box<ZstdReader>) -> std::io::Result<Self> {
        use std::io::Read;
        let (send, chunks) = std::sync::mpsc::sync_channel(CHUNKS_IN_FLIGHT);
        let (recycle, recycled) = std::sync::mpsc::sync_channel::<Vec<u8>>(CHUNKS_IN_FLIGHT + 1);
        std::thread::Builder::new()
            .name("lobzero-zstd".into())
            .spawn(move || loop {
                let mut chunk = recycled.try_recv().unwrap_or_default();
                chunk.clear();
                chunk.reserve(CHUNK);
                // up to CHUNK bytes; what was read before an error stays in the chunk
                let result = (&mut *z).take(CHUNK as u64).read_to_end(&mut chunk);
                let last = chunk.len() < CHUNK;
                // a closed queue: the reader stopped (an error, or it has what it wanted)
                if !chunk.is_empty() && send.send(Ok(chunk)).is_err() {
                    return;
                }
                match result {
                    Err(e) => {
                        let _ = send.send(Err(e));
                        return;
                    }
                    Ok(_) if last => return,
                    Ok(_) => {}
                }
            })?;
        Ok(Self {
            chunks,
            recycle,
            chunk: Vec::new(),
            at: 0,
            done: false,
        })
    }

    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.chunk.len() {
            if self.done {
                return Ok(0);
            }
            match self.chunks.recv() {
                Ok(Ok(next)) => {
                    let used = std::mem::replace(&mut self.chunk, next);
                    self.at = 0;
                    let _ = self.recycle.try_send(used);
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                // the thread finished: everything it decoded has been read
                Err(_) => self.done = true,
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl Decompressed {
    /// About how many records of `record_size` bytes the file holds, for reserving memory:
    /// exact for a plain file, for zstd the ratio of MBO data (about 4: the ES session's is 3.9);
    /// at most [`MAX_RESERVED_RECORDS`] (beyond it the columns grow as they fill).
    pub(crate) fn records_estimate(&self, record_size: u64) -> usize {
        let decoded = match self.inner {
            Source::Zstd(_) | Source::Pipelined(_) => self.file_len.saturating_mul(4),
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
            Source::Pipelined(p) => p.read(buf),
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
pub(crate) fn open_decompressed(path: &Path, where_: Decompression) -> Result<Decompressed> {
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
        let z = Box::new(zstd::stream::read::Decoder::new(file).map_err(io)?);
        let second_thread = match where_ {
            Decompression::SameThread => false,
            Decompression::SecondThread => true,
            Decompression::Auto => std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2),
        };
        if second_thread {
            Source::Pipelined(ChunkReceiver::spawn(z).map_err(io)?)
        } else {
            Source::Zstd(z)
        }
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
    open_with(path, upgrade, Decompression::Auto)
}

/// [`open`], with the thread that decompresses a zstd file chosen.
pub fn open_with(
    path: &Path,
    upgrade: VersionUpgradePolicy,
    decompression: Decompression,
) -> Result<Decoder> {
    let name = path.display().to_string();
    let reader = open_decompressed(path, decompression)?;
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
