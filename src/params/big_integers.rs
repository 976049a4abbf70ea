//! Integers beyond 2^53 in magnitude, which an `f64` (a protobuf number) cannot hold exactly,
//! found where they enter: in parsed JSON, and in JSON text before it is parsed.
//!
//! The text matters because serde_json reads an integer literal that fits in 64 bits as an
//! integer, which the converters can see and refuse, but one beyond 64 bits as an `f64`: once
//! parsed, `18446744073709551616` is `1.8446744073709552e19`, already changed and no longer
//! told apart from a float someone wrote.

use serde_json::Value as Json;

/// The largest integer magnitude an `f64` holds exactly (2^53).
pub(crate) const MAX_SAFE_INTEGER: u64 = 1 << 53;

/// One step of a path into a JSON document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// An object's key.
    Key(String),
    /// An array's index.
    Index(usize),
}

/// An integer beyond 2^53 and where it is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct BigInteger {
    /// From the document's root.
    pub(crate) path: Vec<Step>,
    /// As written.
    pub(crate) literal: String,
}

/// The first integer of a parsed document beyond 2^53 in magnitude (integers beyond 64 bits
/// are floats by then: see [`in_text`]).
pub(crate) fn in_value(json: &Json) -> Option<BigInteger> {
    let mut path = Vec::new();
    find_in_value(json, &mut path)
}

fn find_in_value(json: &Json, path: &mut Vec<Step>) -> Option<BigInteger> {
    match json {
        Json::Number(n) => {
            let big = n.as_i64().map(i64::unsigned_abs).or(n.as_u64())? > MAX_SAFE_INTEGER;
            big.then(|| BigInteger {
                path: path.clone(),
                literal: n.to_string(),
            })
        }
        Json::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            path.push(Step::Index(i));
            let found = find_in_value(item, path);
            path.pop();
            found
        }),
        Json::Object(map) => map.iter().find_map(|(key, item)| {
            path.push(Step::Key(key.clone()));
            let found = find_in_value(item, path);
            path.pop();
            found
        }),
        _ => None,
    }
}

/// The first integer literal of `text`, a valid JSON document, beyond 2^53 in magnitude: one
/// without a fraction or an exponent (`1e30` is a float as written, and stays one).
pub(crate) fn in_text(text: &str) -> Option<BigInteger> {
    /// Where the scan is: in an object (expecting a key or not) or an array.
    enum Frame {
        Object {
            key: Option<String>,
            expect_key: bool,
        },
        Array {
            index: usize,
        },
    }
    let bytes = text.as_bytes();
    let mut stack: Vec<Frame> = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'{' => stack.push(Frame::Object {
                key: None,
                expect_key: true,
            }),
            b'[' => stack.push(Frame::Array { index: 0 }),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => match stack.last_mut() {
                Some(Frame::Array { index }) => *index += 1,
                Some(Frame::Object { expect_key, .. }) => *expect_key = true,
                None => {}
            },
            b'"' => {
                let start = at;
                at += 1;
                while at < bytes.len() && bytes[at] != b'"' {
                    at += if bytes[at] == b'\\' { 2 } else { 1 };
                }
                if let Some(Frame::Object { key, expect_key }) = stack.last_mut()
                    && *expect_key
                {
                    // Valid JSON: the key decodes.
                    *key = serde_json::from_str(&text[start..=at.min(bytes.len() - 1)]).ok();
                    *expect_key = false;
                }
            }
            b'-' | b'0'..=b'9' => {
                let start = at;
                while at + 1 < bytes.len()
                    && matches!(
                        bytes[at + 1],
                        b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'
                    )
                {
                    at += 1;
                }
                let literal = &text[start..=at];
                if is_big_integer(literal) {
                    let path = stack
                        .iter()
                        .map(|frame| match frame {
                            Frame::Object { key, .. } => Step::Key(key.clone().unwrap_or_default()),
                            Frame::Array { index } => Step::Index(*index),
                        })
                        .collect();
                    return Some(BigInteger {
                        path,
                        literal: literal.to_owned(),
                    });
                }
            }
            _ => {}
        }
        at += 1;
    }
    None
}

/// Whether `literal` is an integer (no fraction, no exponent) beyond 2^53 in magnitude.
fn is_big_integer(literal: &str) -> bool {
    let digits = literal.strip_prefix('-').unwrap_or(literal);
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let digits = digits.trim_start_matches('0');
    let limit = MAX_SAFE_INTEGER.to_string();
    // Same length: digit strings compare as numbers.
    digits.len() > limit.len() || (digits.len() == limit.len() && digits > limit.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Option<(Vec<Step>, String)> {
        in_text(text).map(|big| (big.path, big.literal))
    }

    #[test]
    fn integer_literals_past_2_pow_53_are_found_with_their_path() {
        let key = |k: &str| Step::Key(k.to_owned());
        assert_eq!(found("9007199254740992"), None);
        assert_eq!(found("-9007199254740992"), None);
        assert_eq!(
            found("9007199254740993"),
            Some((vec![], "9007199254740993".into()))
        );
        assert_eq!(
            found(r#"{"seed": 12345678901234567890123}"#),
            Some((vec![key("seed")], "12345678901234567890123".into()))
        );
        assert_eq!(
            found(r#"{"a": [1, "x,\"]", {"b\"c": [0, -18446744073709551616]}]}"#),
            Some((
                vec![key("a"), Step::Index(2), key("b\"c"), Step::Index(1)],
                "-18446744073709551616".into()
            ))
        );
        // Floats as written, keys and strings that look like numbers: none.
        for text in [
            "1e300",
            "123456789012345678901234.5",
            "-1.8446744073709552e19",
            r#"{"12345678901234567890": "12345678901234567890"}"#,
            r#"[0.5, 1E25, "99999999999999999999"]"#,
        ] {
            assert_eq!(found(text), None, "{text}");
        }
    }

    #[test]
    fn parsed_integers_past_2_pow_53_are_found_with_their_path() {
        let json = serde_json::json!({"a": [1, {"b": u64::MAX}]});
        let big = in_value(&json).expect("found");
        assert_eq!(
            big.path,
            [Step::Key("a".into()), Step::Index(1), Step::Key("b".into())]
        );
        assert_eq!(big.literal, u64::MAX.to_string());
        assert_eq!(
            in_value(&serde_json::json!([9_007_199_254_740_992u64, 1e300])),
            None
        );
        assert!(in_value(&serde_json::json!(i64::MIN)).is_some());
    }
}
