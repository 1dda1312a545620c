use super::*;
use crate::event::{KIND_CLEAR, KIND_TRADE};

struct Dir(std::path::PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write_pair(tag: &str, messages: &str, books: &str) -> (Dir, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("lobzero-lobster-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let msg = dir.join("TEST_2012-03-12_0_1_message_2.csv");
    std::fs::write(&msg, messages).unwrap();
    std::fs::write(dir.join("TEST_2012-03-12_0_1_orderbook_2.csv"), books).unwrap();
    (Dir(dir), msg)
}

const MESSAGES: &str = "\
34200.5,1,1,100,1000100,-1
34200.6,1,2,50,999900,1
34200.7,4,1,30,1000100,-1
34201,5,9,10,1000000,1
34202,2,2,20,999900,1
34203,7,0,0,-1,-1
34204,7,0,0,1,-1
34205,3,2,30,999900,1
";
const BOOKS: &str = "\
1000100,100,999800,10,9999999999,0,-9999999999,0
1000100,100,999900,50,9999999999,0,999800,10
1000100,70,999900,50,9999999999,0,999800,10
1000100,70,999900,50,9999999999,0,999800,10
1000100,70,999900,30,9999999999,0,999800,10
1000100,70,999900,30,9999999999,0,999800,10
1000100,70,999900,30,9999999999,0,999800,10
1000100,70,999800,10,9999999999,0,-9999999999,0
";

#[test]
fn messages_and_book_rows_become_events() {
    let (_dir, msg) = write_pair("ok", MESSAGES, BOOKS);
    let out = import(&[msg.as_path()], ImportOptions::default()).unwrap();
    assert_eq!(out.instrument.symbol, "TEST");
    assert_eq!(out.instrument.tick_size, "0.01");
    let r = &out.report;
    assert_eq!(r.book_check.get("checked"), Some(&7));
    assert_eq!(r.book_check.get("first_row"), Some(&1));
    assert_eq!(r.messages.get("halt"), Some(&2));
    let s = &out.events;
    // 2012-03-12 is the first weekday of daylight time: 09:30:00.5 EDT = 13:30:00.5 UTC
    assert_eq!(s.ts_ns[0], (1_331_559_000 * 1_000_000_000) + 500_000_000);
    let trades: Vec<(i8, i64)> = (0..s.len())
        .filter(|&i| s.kind[i] == KIND_TRADE)
        .map(|i| (s.side[i], s.price_ticks[i]))
        .collect();
    // the sell limit order executed is a buy; the hidden bid executed is a sell
    assert_eq!(trades, vec![(SIDE_BID, 10001), (SIDE_ASK, 10000)]);
    let clears = (0..s.len()).filter(|&i| s.kind[i] == KIND_CLEAR).count();
    assert_eq!(clears, 2, "the first row and the halt");
}

#[test]
fn a_planted_inconsistency_is_named_or_counted() {
    let planted = MESSAGES.replace("34202,2,2,20,", "34202,2,2,21,");
    let (_dir, msg) = write_pair("bad", &planted, BOOKS);
    let err = import(&[msg.as_path()], ImportOptions::default()).unwrap_err();
    assert!(matches!(err, LobzeroError::InvalidValue { .. }), "{err}");
    assert!(
        err.location().unwrap().ends_with("message_2.csv:5"),
        "{err}"
    );
    assert!(
        err.to_string().contains("book check: cancel of 21"),
        "{err}"
    );
    let counted = ImportOptions {
        on_book_mismatch: MismatchPolicy::Count,
        ..Default::default()
    };
    let out = import(&[msg.as_path()], counted).unwrap();
    assert_eq!(out.report.book_check.get("mismatches"), Some(&1));
}

#[test]
fn bad_rows_are_named() {
    let cases = [
        (
            MESSAGES.replace("34201,5,", "34201,8,"),
            BOOKS.to_string(),
            ":4",
            "InvalidValue",
        ),
        (
            MESSAGES.replace("34201,5,9", "34201,5,x"),
            BOOKS.to_string(),
            ":4",
            "Parse",
        ),
        (
            MESSAGES.to_string(),
            BOOKS.replacen("999900,50", "999900,-5", 1),
            ":2",
            "InvalidValue",
        ),
        (
            MESSAGES.to_string(),
            BOOKS[..BOOKS.len() - 5].to_string(),
            ":8",
            "Truncated",
        ),
        (
            MESSAGES.replace("34202,", "34100,"),
            BOOKS.to_string(),
            ":5",
            "TimestampOrder",
        ),
        (
            MESSAGES.to_string(),
            BOOKS.replacen(",-9999999999,0\n", ",-9999999999\n", 1),
            ":1",
            "Parse",
        ),
    ];
    for (k, (messages, books, at, want)) in cases.into_iter().enumerate() {
        let (_dir, msg) = write_pair(&format!("case{k}"), &messages, &books);
        let err = import(&[msg.as_path()], ImportOptions::default()).unwrap_err();
        assert!(format!("{err:?}").starts_with(want), "case {k}: {err}");
        assert!(err.location().unwrap().ends_with(at), "case {k}: {err}");
    }
}
