//! Layouts of older Binance collectors that the `binance-stream` importer also reads: the REST
//! snapshot written with Python's `repr` (`{'lastUpdateId': 1, 'bids': [['1.0', '2']], ...}`).
//! (Receive times in µs are read by [`super::recv_clock::RecvClock`].)

/// Rewrites a Python literal of dicts, lists, strings, numbers, `True`, `False` and `None` as
/// JSON. Strings with a backslash are refused: `repr`'s escapes are not JSON's, and a snapshot
/// of prices and sizes never holds one.
pub fn python_literal_to_json(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '\'' | '"' => {
                out.push('"');
                loop {
                    match chars.next() {
                        Some((_, q)) if q == c => break,
                        Some((_, '\\')) => {
                            return Err(format!(
                                "a Python-dict snapshot with a backslash in a string (at byte {at})"
                            ))
                        }
                        Some((_, '"')) => out.push_str("\\\""),
                        Some((_, other)) => out.push(other),
                        None => return Err("a Python-dict snapshot with an unclosed string".into()),
                    }
                }
                out.push('"');
            }
            c if c.is_ascii_alphabetic() => {
                let mut word = String::from(c);
                while let Some(&(_, n)) = chars.peek() {
                    if !n.is_ascii_alphanumeric() {
                        break;
                    }
                    word.push(n);
                    chars.next();
                }
                out.push_str(match word.as_str() {
                    "True" => "true",
                    "False" => "false",
                    "None" => "null",
                    other => {
                        return Err(format!(
                        "a Python-dict snapshot with the name {other:?} (only True, False, None)"
                    ))
                    }
                });
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_dicts_read_as_json() {
        let text = "{'lastUpdateId': 7, 'bids': [['1.0', '2']], 'asks': [], 'ok': True, 'x': None}";
        let json = python_literal_to_json(text).unwrap();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["lastUpdateId"], 7);
        assert_eq!(value["bids"][0][1], "2");
        assert_eq!(value["ok"], true);
        for bad in ["{'a': 'b\\'c'}", "{'a': nan}", "{'a': 'open"] {
            assert!(python_literal_to_json(bad).is_err(), "{bad}");
        }
    }
}
