//! Integration tests on the real recordings in ../shared/data, or in `LOBZERO_SHARED_DATA` as
//! for the Python tests (skipped, with a message, when the folder is absent).

use lobzero_core::book::OrderBook;
use lobzero_core::import::{binance_stream, lobster, ImportOptions};
use lobzero_core::Replay;
use std::path::PathBuf;

fn shared(rel: &str) -> Option<PathBuf> {
    let root = std::env::var_os("LOBZERO_SHARED_DATA").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
        PathBuf::from,
    );
    let path = root.join(rel);
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

#[test]
fn the_lobster_goog_sample_passes_its_own_book_check() -> Result<(), Box<dyn std::error::Error>> {
    let Some(path) = shared("lobster-goog-l1/GOOG_2012-06-21_34200000_57600000_message_1.csv")
    else {
        return Ok(());
    };
    let out = lobster::import(&[path.as_path()], ImportOptions::default())?;
    let check = &out.report.book_check;
    assert_eq!(check.get("checked"), Some(&49_481));
    assert_eq!(check.get("first_row"), Some(&1));
    assert_eq!(check.get("mismatches"), None);
    // 50 hidden executions print at half a cent (the midpoint): the finest grid is 0.005
    assert_eq!(out.instrument.tick_size, "0.005");
    Ok(())
}
