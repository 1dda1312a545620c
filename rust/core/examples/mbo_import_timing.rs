//! Times the `databento` MBO import in Rust alone (no Python): decode + book of orders + L2
//! stream + order log, on the CME ES snapshot and session files in ../shared/data, `ROUNDS`
//! imports (median, min, max in records/s), then by phase: zstd alone, the decode alone (dbn's
//! `DynDecoder` as the importer used it before, and the importer's reader), decode and book of
//! orders in one pass (the "decoding and book building" figure, zstd on a second thread
//! as the importer does by default; also with zstd on the same thread and through the old
//! reader), the book alone (records decoded once into memory), the builder (book + L2 rows +
//! order log, in source integers, records in memory) and its `finish` (conversion to ticks and
//! lots, validation replay of the L2 stream, the order log's conversion). Each rate is given per
//! second of wall time and per second this thread ran on a CPU (on a shared machine the first
//! counts the waits for a core; with zstd on a second thread the CPU figure leaves that
//! thread's time out, so only the wall time compares the two). `benchmarks/import_speed.py` times the whole call from Python.
//!
//!     cargo run --release -p lobzero-core --example mbo_import_timing [ROUNDS] [DATA_DIR]
//!
//! With `ONLY_IMPORT=1` in the environment it times the whole import only.

use dbn::decode::{DecodeRecordRef, DynDecoder};
use dbn::{MboMsg, VersionUpgradePolicy};
use lobzero_core::import::databento::{import, open_dbn, open_dbn_with, DbnOptions, Decompression};
use lobzero_core::import::l3::{At, CrossPolicy, L3Builder, UnknownOrderPolicy};
use lobzero_core::import::ImportOptions;
use lobzero_core::import::ImportReport;
use lobzero_core::orders::MboBook;
use lobzero_core::orders::{ACTION_ADD, ACTION_CANCEL, ACTION_MODIFY};
use lobzero_core::Decimal;
use std::path::PathBuf;
use std::time::Instant;

/// Wall time and the time this thread ran on a CPU (Linux `schedstat`, ns): on a machine
/// shared with other work the wall time counts the waits for a core, the CPU time does not.
/// The kernel may account CPU time in scheduler ticks (4 ms here), so it is summed over all
/// rounds of a phase, never read per round.
struct Clock {
    wall: Instant,
    cpu_ns: Option<u64>,
}

fn cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

impl Clock {
    fn now() -> Self {
        Self {
            wall: Instant::now(),
            cpu_ns: cpu_ns(),
        }
    }

    /// `(n, wall seconds, CPU seconds)` since `now`.
    fn rate(&self, n: f64) -> (f64, f64, f64) {
        let wall = self.wall.elapsed().as_secs_f64();
        let cpu = match (self.cpu_ns, cpu_ns()) {
            (Some(a), Some(b)) if b >= a => (b - a) as f64 * 1e-9,
            _ => f64::NAN,
        };
        (n, wall, cpu)
    }
}

/// The median and range of the rounds' rates per wall second, and the rate per CPU second
/// over all rounds, in M records/s.
fn spread(v: Vec<(f64, f64, f64)>) -> String {
    if v.is_empty() {
        return "not timed (ONLY_IMPORT)".into();
    }
    let mut x: Vec<f64> = v.iter().map(|r| r.0 / r.1).collect();
    x.sort_by(f64::total_cmp);
    let (n, cpu) = v.iter().fold((0.0, 0.0), |(n, c), r| (n + r.0, c + r.2));
    format!(
        "wall {:5.2} ({:.2} .. {:.2}), cpu {:5.2} M rec/s",
        x[x.len() / 2] / 1e6,
        x[0] / 1e6,
        x[x.len() - 1] / 1e6,
        n / cpu / 1e6
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().map_or(Ok(10), |a| a.parse())?;
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "../shared/data".into()))
        .join("databento-cme-es");
    let files = [
        dir.join("esh4-glbx-mdp3-20231224.mbo.dbn.zst"),
        dir.join("esh4-glbx-mdp3-20231225.mbo.dbn.zst"),
    ];
    let paths: Vec<&std::path::Path> = files.iter().map(PathBuf::as_path).collect();
    let options = ImportOptions {
        tick_size: Some(Decimal::parse("0.25")?),
        ..Default::default()
    };
    let dbn_options = DbnOptions {
        on_cross: CrossPolicy::Hold,
        ..Default::default()
    };
    let mut records: Vec<MboMsg> = Vec::new();
    for f in &files {
        let mut d = DynDecoder::from_file(f, VersionUpgradePolicy::default())?;
        while let Some(r) = d.decode_record_ref()? {
            if let Some(m) = r.get::<MboMsg>() {
                records.push(m.clone());
            }
        }
    }
    let n = records.len() as f64;
    let (mut whole, mut decode, mut book) = (Vec::new(), Vec::new(), Vec::new());
    let (mut dyn_decode, mut decode_book, mut zstd_alone) = (Vec::new(), Vec::new(), Vec::new());
    let (mut dyn_decode_book, mut one_thread_decode_book) = (Vec::new(), Vec::new());
    let (mut builder, mut finish) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Clock::now();
        let (imported, _log) = import(&paths, &options, &dbn_options)?;
        whole.push(t.rate(imported.report.lines as f64));
        if std::env::var_os("ONLY_IMPORT").is_some() {
            continue;
        }
        let t = Clock::now();
        let mut count = 0usize;
        for f in &files {
            let mut d = DynDecoder::from_file(f, VersionUpgradePolicy::default())?;
            while d.decode_record_ref()?.is_some() {
                count += 1;
            }
        }
        dyn_decode.push(t.rate(count as f64));
        let t = Clock::now();
        let mut bytes = 0usize;
        for f in &files {
            bytes += zstd::stream::decode_all(std::fs::File::open(f)?)?.len();
        }
        std::hint::black_box(bytes);
        zstd_alone.push(t.rate(n));
        let t = Clock::now();
        let mut count = 0usize;
        for f in &files {
            let mut d = open_dbn(f, VersionUpgradePolicy::AsIs)?;
            while let Some(r) = d.decode_record_ref()? {
                count += usize::from(r.get::<MboMsg>().is_some());
            }
        }
        decode.push(t.rate(count as f64));
        let t = Clock::now();
        let (count, rows) = decode_and_book(&files, Decompression::Auto)?;
        decode_book.push(t.rate(count as f64));
        std::hint::black_box(rows);
        // the same with zstd on this thread (what the importer does on a one-core machine)
        let t = Clock::now();
        let (count, rows) = decode_and_book(&files, Decompression::SameThread)?;
        one_thread_decode_book.push(t.rate(count as f64));
        std::hint::black_box(rows);
        // the same through the decoder the importer used before (dbn's DynDecoder, upgrading
        // each record to DBN 3, behind a BufReader)
        let t = Clock::now();
        let mut b = MboBook::default();
        let (mut rows, mut count) = (0usize, 0usize);
        for f in &files {
            let mut d = DynDecoder::from_file(f, VersionUpgradePolicy::default())?;
            while let Some(r) = d.decode_record_ref()? {
                if let Some(m) = r.get::<MboMsg>() {
                    count += 1;
                    apply(&mut b, m, &mut rows);
                }
            }
        }
        dyn_decode_book.push(t.rate(count as f64));
        std::hint::black_box(rows);
        let t = Clock::now();
        let mut b = MboBook::default();
        let mut rows = 0usize;
        for m in &records {
            apply(&mut b, m, &mut rows);
        }
        std::hint::black_box(rows);
        book.push(t.rate(n));
        let t = Clock::now();
        let b = build(&records)?;
        builder.push(t.rate(n));
        let t = Clock::now();
        let report = ImportReport {
            format: "databento".into(),
            ..Default::default()
        };
        let mut finish_options = options.clone();
        finish_options.lot_size = Some(Decimal::unit(0));
        let (imported, _log) = b.finish(&finish_options, "ESH4", "databento", report)?;
        finish.push(t.rate(n));
        std::hint::black_box(imported);
    }
    println!(
        "whole import (decode, book, L2 stream, order log, validation): {}",
        spread(whole)
    );
    println!(
        "decode alone (dbn's DynDecoder, upgrading, zstd):             {}",
        spread(dyn_decode)
    );
    println!(
        "zstd alone (decompressing the files into memory):             {}",
        spread(zstd_alone)
    );
    println!(
        "decode alone (the importer's reader, zstd on a 2nd thread):   {}",
        spread(decode)
    );
    println!(
        "decode + book, zstd on a 2nd thread (the goal's figure):      {}",
        spread(decode_book)
    );
    println!(
        "decode + book, zstd on the same thread:                       {}",
        spread(one_thread_decode_book)
    );
    println!(
        "decode + book, through dbn's DynDecoder (the old reader):     {}",
        spread(dyn_decode_book)
    );
    println!(
        "book of orders alone (records in memory):                     {}",
        spread(book)
    );
    println!(
        "builder: book + L2 rows + order log (records in memory):      {}",
        spread(builder)
    );
    println!(
        "finish: ticks/lots conversion, validation, order-log units:   {}",
        spread(finish)
    );
    Ok(())
}

/// Decodes the files through the importer's reader and applies every MBO record to a book of
/// orders: `(records, L2 rows flushed)`.
fn decode_and_book(
    files: &[PathBuf],
    decompression: Decompression,
) -> Result<(usize, usize), Box<dyn std::error::Error>> {
    let mut b = MboBook::default();
    let (mut rows, mut count) = (0usize, 0usize);
    for f in files {
        let mut d = open_dbn_with(f, VersionUpgradePolicy::AsIs, decompression)?;
        while let Some(r) = d.decode_record_ref()? {
            if let Some(m) = r.get::<MboMsg>() {
                count += 1;
                apply(&mut b, m, &mut rows);
            }
        }
    }
    Ok((count, rows))
}

/// One record on the book of orders (a snapshot's first add of a resting id replaces the
/// book), its L2 changes flushed at the end of each venue event and counted in `rows`.
#[inline]
fn apply(b: &mut MboBook, m: &MboMsg, rows: &mut usize) {
    if m.flags.is_snapshot() && m.action as u8 == b'A' && b.order(m.order_id).is_some() {
        b.clear(0); // the second file's snapshot replaces the book
    }
    let side = if m.side as u8 == b'B' { 1 } else { -1 };
    let q = i64::from(m.size);
    let _ = match m.action as u8 {
        b'A' => b.add(m.order_id, side, m.price, q).map(|_| ()),
        b'C' => b.reduce(m.order_id, q).map(|_| ()),
        b'M' => b.modify(m.order_id, side, m.price, q).map(|_| ()),
        _ => Ok(()),
    };
    if m.flags.is_last() {
        b.flush(|_, _, _| *rows += 1);
    }
}

/// The databento importer's loop over records already decoded: snapshot runs rebuild the book,
/// `F_LAST` ends a venue event.
fn build(records: &[MboMsg]) -> Result<L3Builder, Box<dyn std::error::Error>> {
    let mut b = L3Builder::new(9, 0, UnknownOrderPolicy::Error);
    b.on_cross = CrossPolicy::Hold;
    b.files.push("records".into());
    for (k, m) in records.iter().enumerate() {
        let at = At {
            file: 0,
            line: k as u64 + 1,
            ts_ns: m.hd.ts_event as i64,
            recv_ts_ns: m.ts_recv as i64,
        };
        let snapshot = m.flags.is_snapshot();
        if snapshot && !b.in_snapshot {
            b.in_snapshot = true;
            b.clear(0, at);
        }
        b.in_snapshot = snapshot;
        let side = match m.side as u8 {
            b'B' => 1,
            b'A' => -1,
            _ => 0,
        };
        let q = i64::from(m.size);
        match m.action as u8 {
            b'A' => b.act(ACTION_ADD, m.order_id, side, m.price, q, at)?,
            b'C' => b.act(ACTION_CANCEL, m.order_id, side, m.price, q, at)?,
            b'M' => b.act(ACTION_MODIFY, m.order_id, side, m.price, q, at)?,
            b'R' => b.clear(0, at),
            b'T' => b.trade(m.order_id, side, m.price, q, true, at)?,
            b'F' => b.trade(m.order_id, side, m.price, q, false, at)?,
            _ => {}
        }
        if m.flags.is_last() {
            b.end_event(at)?;
            b.in_snapshot = false;
        }
    }
    Ok(b)
}
