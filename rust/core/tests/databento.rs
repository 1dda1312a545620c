//! The `databento` importer on small DBN files written here with Databento's own encoder (the
//! `dbn` crate): MBP-1, MBP-10, MBO events spanning several records (F_LAST), definitions,
//! several instruments, a plain file cut short.

use dbn::encode::{DbnEncodable, EncodeRecord};
use dbn::{
    rtype, BidAskPair, FlagSet, InstrumentDefMsg, MboMsg, Mbp10Msg, Mbp1Msg, Metadata,
    RecordHeader, SType, Schema,
};
use lobzero_core::event::{KIND_SNAPSHOT, KIND_TRADE, KIND_UPDATE};
use lobzero_core::import::databento::{import, DbnOptions, Decompression};
use lobzero_core::import::{ImportOptions, Imported};
use lobzero_core::{Decimal, LobzeroError};
use std::path::{Path, PathBuf};

const PX: i64 = 1_000_000_000; // 1.0 in DBN's 1e-9 units
const LAST: u8 = dbn::flags::LAST;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lobzero-dbn-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("test setup");
    d
}

fn write<R: DbnEncodable>(path: &Path, schema: Schema, records: &[R]) {
    let meta = Metadata::builder()
        .dataset("GLBX.MDP3".to_string())
        .schema(Some(schema))
        .start(0)
        .stype_in(Some(SType::RawSymbol))
        .stype_out(SType::InstrumentId)
        .symbols(vec!["ESH4".into()])
        .build();
    let file = std::fs::File::create(path).expect("test setup");
    let mut enc = dbn::encode::dbn::Encoder::new(file, &meta).expect("test setup");
    for r in records {
        enc.encode_record(r).expect("test setup");
    }
}

fn pair(bid: (i64, u32), ask: (i64, u32)) -> BidAskPair {
    BidAskPair {
        bid_px: bid.0,
        bid_sz: bid.1,
        ask_px: ask.0,
        ask_sz: ask.1,
        ..Default::default()
    }
}

fn mbp1(ts: u64, action: u8, side: u8, price: i64, size: u32, l: BidAskPair) -> Mbp1Msg {
    Mbp1Msg {
        hd: RecordHeader::new::<Mbp1Msg>(rtype::MBP_1, 1, 7, ts),
        price,
        size,
        action: action as std::ffi::c_char,
        side: side as std::ffi::c_char,
        flags: FlagSet::new(LAST),
        ts_recv: ts,
        levels: [l],
        ..Default::default()
    }
}

#[allow(clippy::too_many_arguments)]
fn mbo(
    ts: u64,
    id: u32,
    action: u8,
    side: u8,
    order: u64,
    price: i64,
    size: u32,
    flags: u8,
) -> MboMsg {
    MboMsg {
        hd: RecordHeader::new::<MboMsg>(rtype::MBO, 1, id, ts),
        order_id: order,
        price,
        size,
        flags: FlagSet::new(flags),
        action: action as std::ffi::c_char,
        side: side as std::ffi::c_char,
        ts_recv: ts,
        ..Default::default()
    }
}

fn rows(imp: &Imported) -> Vec<(u8, i8, i64, i64)> {
    let s = &imp.events;
    (0..s.len())
        .map(|i| (s.kind[i], s.side[i], s.price_ticks[i], s.qty_lots[i]))
        .collect()
}

fn quarter() -> ImportOptions {
    ImportOptions {
        tick_size: Some(Decimal::parse("0.25").expect("test setup")),
        ..Default::default()
    }
}

#[test]
fn mbp1_emits_changed_levels_deletes_and_trades() {
    let d = dir("mbp1");
    let p = d.join("es.mbp-1.dbn");
    let undef = dbn::UNDEF_PRICE;
    write(
        &p,
        Schema::Mbp1,
        &[
            mbp1(1, b'A', b'B', 100 * PX, 5, pair((100 * PX, 5), (undef, 0))),
            mbp1(
                2,
                b'A',
                b'A',
                101 * PX,
                3,
                pair((100 * PX, 5), (101 * PX, 3)),
            ),
            mbp1(
                3,
                b'T',
                b'A',
                100 * PX,
                2,
                pair((100 * PX, 3), (101 * PX, 3)),
            ),
            // the bid leaves: its price goes, the new best comes
            mbp1(
                4,
                b'C',
                b'B',
                100 * PX,
                3,
                pair((99 * PX, 4), (101 * PX, 3)),
            ),
        ],
    );
    let (imp, log) = import(&[&p], &quarter(), &DbnOptions::default()).expect("the file imports");
    assert!(log.is_empty(), "MBP has no orders");
    assert_eq!(
        rows(&imp),
        vec![
            (KIND_UPDATE, 1, 400, 5),
            (KIND_UPDATE, -1, 404, 3),
            (KIND_TRADE, -1, 400, 2),
            (KIND_UPDATE, 1, 400, 3),
            (KIND_UPDATE, 1, 400, 0),
            (KIND_UPDATE, 1, 396, 4),
        ]
    );
    assert_eq!(imp.report.messages["mbp-1"], 4);
}

#[test]
fn mbp10_drops_levels_that_leave_the_window() {
    let d = dir("mbp10");
    let p = d.join("es.mbp-10.dbn.zst");
    let undef = dbn::UNDEF_PRICE;
    let mut levels: [BidAskPair; 10] = std::array::from_fn(|_| pair((undef, 0), (undef, 0)));
    levels[0] = pair((100 * PX, 1), (101 * PX, 2));
    levels[1] = pair((99 * PX, 3), (102 * PX, 4));
    let first = Mbp10Msg {
        hd: RecordHeader::new::<Mbp10Msg>(rtype::MBP_10, 1, 7, 1),
        action: b'A' as std::ffi::c_char,
        side: b'B' as std::ffi::c_char,
        flags: FlagSet::new(LAST),
        ts_recv: 1,
        levels,
        ..Default::default()
    };
    let mut second = first.clone();
    second.hd.ts_event = 2;
    second.ts_recv = 2;
    second.levels[1] = pair((undef, 0), (102 * PX, 5));
    let meta = Metadata::builder()
        .dataset("GLBX.MDP3".to_string())
        .schema(Some(Schema::Mbp10))
        .start(0)
        .stype_in(Some(SType::RawSymbol))
        .stype_out(SType::InstrumentId)
        .symbols(vec!["ESH4".into()])
        .build();
    {
        let file = std::fs::File::create(&p).expect("test setup");
        let mut enc = dbn::encode::dbn::Encoder::with_zstd(file, &meta).expect("test setup");
        enc.encode_record(&first).expect("test setup");
        enc.encode_record(&second).expect("test setup");
    }
    let (imp, _) = import(&[&p], &quarter(), &DbnOptions::default()).expect("the file imports");
    assert_eq!(
        rows(&imp),
        vec![
            (KIND_UPDATE, 1, 400, 1),
            (KIND_UPDATE, 1, 396, 3),
            (KIND_UPDATE, -1, 404, 2),
            (KIND_UPDATE, -1, 408, 4),
            (KIND_UPDATE, 1, 396, 0),
            (KIND_UPDATE, -1, 408, 5),
        ]
    );
}

#[test]
fn mbo_levels_change_only_at_the_end_of_an_event() {
    let d = dir("mbo");
    let p = d.join("es.mbo.dbn");
    let snap = dbn::flags::SNAPSHOT;
    write(
        &p,
        Schema::Mbo,
        &[
            mbo(1, 7, b'A', b'B', 1, 100 * PX, 5, snap),
            mbo(1, 7, b'A', b'A', 2, 101 * PX, 2, snap | LAST),
            // one event: a cancel and an add of the same size at the bid: no level change
            mbo(2, 7, b'C', b'B', 1, 100 * PX, 5, 0),
            mbo(2, 7, b'A', b'B', 3, 100 * PX, 5, LAST),
            mbo(3, 7, b'T', b'B', 0, 101 * PX, 1, 0),
            mbo(3, 7, b'F', b'A', 2, 101 * PX, 1, 0),
            mbo(3, 7, b'C', b'A', 2, 101 * PX, 1, LAST),
        ],
    );
    let (imp, log) = import(&[&p], &quarter(), &DbnOptions::default()).expect("the file imports");
    assert_eq!(
        rows(&imp),
        vec![
            (3, 0, 0, 0),
            (KIND_SNAPSHOT, 1, 400, 5),
            (KIND_SNAPSHOT, -1, 404, 2),
            (KIND_TRADE, 1, 404, 1),
            (KIND_UPDATE, -1, 404, 1),
        ]
    );
    // the fill is kept, as a trade action; the cancel after it is what reduces the order
    assert_eq!(log.len(), 8);
    assert_eq!(log.l2_row, vec![3, 3, 3, 3, 3, 5, 5, 5]);
    let queues = log.queues_at(3, "t").expect("test setup");
    assert_eq!(
        queues,
        vec![(1, 400, vec![(3, 5)]), (-1, 404, vec![(2, 2)])]
    );
}

#[test]
fn a_definition_gives_tick_multiplier_and_symbol() {
    let d = dir("def");
    let p = d.join("es.mbo.dbn");
    write(
        &p,
        Schema::Mbo,
        &[mbo(1, 7, b'A', b'B', 1, 100 * PX, 5, LAST)],
    );
    let def_path = d.join("def.dbn");
    let mut def = InstrumentDefMsg {
        hd: RecordHeader::new::<InstrumentDefMsg>(rtype::INSTRUMENT_DEF, 1, 7, 0),
        min_price_increment: PX / 4,
        unit_of_measure_qty: 50 * PX,
        ..Default::default()
    };
    for (k, c) in b"ESH4".iter().enumerate() {
        def.raw_symbol[k] = *c as std::ffi::c_char;
    }
    let mut other = def.clone();
    other.hd.instrument_id = 8;
    other.min_price_increment = PX;
    write(&def_path, Schema::Definition, &[other, def]);
    let opts = DbnOptions {
        definition: Some(def_path),
        ..Default::default()
    };
    let (imp, _) = import(&[&p], &ImportOptions::default(), &opts).expect("the file imports");
    assert_eq!(imp.instrument.tick_size, "0.25");
    assert_eq!(imp.instrument.symbol, "ESH4");
    assert_eq!(imp.report.contract_multiplier.as_deref(), Some("50"));
    assert!(!imp.report.tick_size_inferred);
}

#[test]
fn several_instruments_need_instrument_id() {
    let d = dir("many");
    let p = d.join("two.mbo.dbn");
    write(
        &p,
        Schema::Mbo,
        &[
            mbo(1, 7, b'A', b'B', 1, 100 * PX, 5, LAST),
            mbo(2, 9, b'A', b'B', 2, 50 * PX, 1, LAST),
        ],
    );
    let err = import(&[&p], &quarter(), &DbnOptions::default()).expect_err("the import must fail");
    assert!(matches!(err, LobzeroError::Format { .. }), "{err}");
    assert!(err.to_string().contains("instrument_id 7 and 9"), "{err}");
    let opts = DbnOptions {
        instrument_id: Some(9),
        ..Default::default()
    };
    let (imp, _) = import(&[&p], &quarter(), &opts).expect("the file imports");
    assert_eq!(rows(&imp), vec![(KIND_UPDATE, 1, 200, 1)]);
    assert_eq!(imp.report.messages["other instruments (filtered out)"], 1);
}

#[test]
fn a_plain_file_cut_inside_a_record_is_truncated() {
    let d = dir("cut");
    let p = d.join("es.mbo.dbn");
    write(
        &p,
        Schema::Mbo,
        &[
            mbo(1, 7, b'A', b'B', 1, 100 * PX, 5, LAST),
            mbo(2, 7, b'A', b'B', 2, 100 * PX, 5, LAST),
        ],
    );
    let bytes = std::fs::read(&p).expect("test setup");
    std::fs::write(&p, &bytes[..bytes.len() - 10]).expect("test setup");
    let err = import(&[&p], &quarter(), &DbnOptions::default()).expect_err("the import must fail");
    assert!(matches!(err, LobzeroError::Truncated { .. }), "{err}");
    assert!(err.to_string().contains("record 2"), "{err}");
}

/// The MBO records of a zstd file of `n` events (adds, then cancels of half of them), large
/// enough to span several of the decompressing thread's chunks.
fn zstd_mbo_file(path: &Path, n: u64) {
    let mut records = Vec::new();
    for k in 0..n {
        let price = (100 + (k % 40) as i64) * PX;
        let side = if k % 40 < 20 { b'B' } else { b'A' };
        let price = if side == b'B' { price } else { price + 50 * PX };
        records.push(mbo(
            k + 1,
            7,
            b'A',
            side,
            k + 1,
            price,
            1 + (k % 5) as u32,
            LAST,
        ));
        if k % 2 == 1 {
            let o = k; // the previous order
            records.push(mbo(k + 1, 7, b'C', side, o, 0, 0, LAST));
        }
    }
    // a cancel names its order's price and size: fill them in from the adds
    let adds: std::collections::HashMap<u64, (i64, u32, std::ffi::c_char)> = records
        .iter()
        .filter(|r| r.action as u8 == b'A')
        .map(|r| (r.order_id, (r.price, r.size, r.side)))
        .collect();
    for r in records.iter_mut().filter(|r| r.action as u8 == b'C') {
        let (price, size, side) = adds[&r.order_id];
        (r.price, r.size, r.side) = (price, size, side);
    }
    let plain = path.with_extension("plain");
    write(&plain, Schema::Mbo, &records);
    let bytes = std::fs::read(&plain).expect("test setup");
    std::fs::write(path, zstd::bulk::compress(&bytes, 3).expect("test setup")).expect("test setup");
}

fn with(decompression: Decompression) -> DbnOptions {
    DbnOptions {
        decompression,
        ..Default::default()
    }
}

/// zstd on a second thread hands the records over in chunks: the import must be the one of
/// the same thread, record for record. Planted: a thread that drops the last, partial chunk
/// (only full chunks sent) loses the file's end (fewer rows, and a truncated record).
#[test]
fn zstd_on_a_second_thread_imports_the_same_records() {
    let d = dir("threads");
    let p = d.join("es.mbo.dbn.zst");
    zstd_mbo_file(&p, 20_000); // ~1.7 MB decoded: 7 chunks of 256 KiB, the last one partial
    let (one, log_one) =
        import(&[&p], &quarter(), &with(Decompression::SameThread)).expect("the file imports");
    let (two, log_two) =
        import(&[&p], &quarter(), &with(Decompression::SecondThread)).expect("the file imports");
    assert_eq!(one.report.lines, 30_000);
    assert_eq!(rows(&one), rows(&two));
    assert_eq!(one.report.lines, two.report.lines);
    assert_eq!(log_one.len(), log_two.len());
}

/// A zstd file cut short is `Truncated` whichever thread decompresses it (on the second
/// thread the error arrives through the queue, after the chunks decoded before it), and says
/// it is the compressed stream that ends early. Planted: a second thread whose error ends the
/// data instead (only the importer's check of a record cut short would then notice, and not
/// at all where the decoded part ends on a record boundary).
#[test]
fn a_zstd_file_cut_short_is_truncated_on_either_thread() {
    let d = dir("zcut");
    let p = d.join("es.mbo.dbn.zst");
    zstd_mbo_file(&p, 20_000);
    let bytes = std::fs::read(&p).expect("test setup");
    std::fs::write(&p, &bytes[..bytes.len() * 2 / 3]).expect("test setup");
    for mode in [Decompression::SameThread, Decompression::SecondThread] {
        let err = import(&[&p], &quarter(), &with(mode)).expect_err("the import must fail");
        assert!(
            matches!(err, LobzeroError::Truncated { .. }),
            "{mode:?}: {err}"
        );
        assert!(
            err.to_string().contains("compressed stream ends early"),
            "{mode:?}: {err}"
        );
    }
}
