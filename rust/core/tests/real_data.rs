//! Integration tests on the real Binance recordings in ../shared/data (skipped, with a message,
//! when the folder is absent).

use lobzero_core::book::OrderBook;
use lobzero_core::import::{binance_stream, ImportOptions};
use lobzero_core::Replay;
use std::path::PathBuf;

fn shared(rel: &str) -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(rel);
    if path.exists() {
        Some(path)
    } else {
        eprintln!("skipped: {} is absent", path.display());
        None
    }
}

#[test]
fn usdm_import_is_deterministic_and_never_crossed() -> Result<(), Box<dyn std::error::Error>> {
    let Some(path) = shared("binance-usdm-btcusdt/btcusdt_20240808.gz") else {
        return Ok(());
    };
    let a = binance_stream::import(&[path.as_path()], ImportOptions::default())?;
    let b = binance_stream::import(&[path.as_path()], ImportOptions::default())?;
    assert_eq!(a.events, b.events);
    assert_eq!(a.report, b.report);
    assert_eq!(a.instrument.tick_size, "0.1");

    // step through every receive time: the book is never crossed between messages
    let events = &a.events;
    let mut replay = Replay::new(events);
    let mut checked = 0;
    while let Some(t) = replay.next_ts_ns() {
        replay.advance_to(t);
        let book = replay.book();
        if let (Some((bid, bq)), Some((ask, aq))) = (book.best_bid(), book.best_ask()) {
            assert!(bid < ask, "crossed at {t}");
            assert!(bq > 0 && aq > 0);
            checked += 1;
        }
    }
    assert!(checked > 10_000);
    Ok(())
}

#[test]
fn spot_session_continues_across_files() -> Result<(), Box<dyn std::error::Error>> {
    let (Some(first), Some(second)) = (
        shared("binance-spot-btcusdt/btcusdt_20240808.gz"),
        shared("binance-spot-btcusdt/btcusdt_20240809.gz"),
    ) else {
        return Ok(());
    };
    let both = binance_stream::import(
        &[first.as_path(), second.as_path()],
        ImportOptions::default(),
    )?;
    assert_eq!(both.report.gaps, 0);
    assert_eq!(both.report.snapshots, 1);
    assert_eq!(both.instrument.venue, "binance");
    // the second file alone has no snapshot: its diffs cannot build a book
    let err = binance_stream::import(&[second.as_path()], ImportOptions::default());
    assert!(matches!(
        err,
        Err(lobzero_core::LobzeroError::Format { .. })
    ));
    Ok(())
}
