//! Schema inference from one sample record (`POST /contracts/infer`).

use serde_json::{Map, Value};
use time::{format_description::well_known::Rfc3339, Date, Month, OffsetDateTime};

use super::{Column, ColumnType};

/// One `required: true` column per key of `sample`, in the sample's key order.
pub fn infer_columns(sample: &Map<String, Value>) -> Vec<Column> {
    sample
        .iter()
        .map(|(name, value)| Column {
            name: name.clone(),
            column_type: infer_type(value),
            required: true,
            severity_override: None,
        })
        .collect()
}

/// The column type a JSON value suggests.
pub fn infer_type(value: &Value) -> ColumnType {
    match value {
        // serde_json keeps numbers as written (feature `arbitrary_precision`), so `1` is an
        // integer while `1.0` and `1e3` are numbers — however large the integer.
        Value::Number(n) => {
            if n.to_string().contains(['.', 'e', 'E']) {
                ColumnType::Number
            } else {
                ColumnType::Integer
            }
        }
        Value::Bool(_) => ColumnType::Boolean,
        Value::String(s) if is_rfc3339_date_time(s) => ColumnType::Timestamp,
        Value::String(s) if is_plain_date(s) => ColumnType::Date,
        Value::Object(_) | Value::Array(_) => ColumnType::Json,
        Value::String(_) | Value::Null => ColumnType::String,
    }
}

/// Strict RFC 3339: `T` between date and time, and `Z` or a numeric offset.
fn is_rfc3339_date_time(s: &str) -> bool {
    // The `time` parser also accepts a space between date and time, which the spec does
    // not: insist on the `T` (RFC 3339 allows it in lowercase). A missing offset or an
    // impossible date fails the parse.
    s.len() >= 20
        && matches!(s.as_bytes()[10], b'T' | b't')
        && OffsetDateTime::parse(s, &Rfc3339).is_ok()
}

/// Exactly `YYYY-MM-DD`, and a date that exists.
fn is_plain_date(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' || !digits(0..4) || !digits(5..7) {
        return false;
    }
    if !digits(8..10) {
        return false;
    }
    let number = |r: std::ops::Range<usize>| s[r].parse::<u16>().ok();
    match (number(0..4), number(5..7), number(8..10)) {
        (Some(year), Some(month), Some(day)) => Month::try_from(month as u8)
            .ok()
            .and_then(|m| Date::from_calendar_date(i32::from(year), m, day as u8).ok())
            .is_some(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn types_of(sample: Value) -> Vec<(String, ColumnType)> {
        let Value::Object(map) = sample else {
            panic!("sample must be an object")
        };
        infer_columns(&map)
            .into_iter()
            .map(|c| {
                assert!(c.required);
                (c.name, c.column_type)
            })
            .collect()
    }

    fn infer_text(json_text: &str) -> ColumnType {
        let value: Value = serde_json::from_str(json_text).expect("valid JSON");
        infer_type(&value)
    }

    #[test]
    fn numbers_follow_how_they_are_written() {
        assert_eq!(infer_text("1"), ColumnType::Integer);
        assert_eq!(infer_text("-42"), ColumnType::Integer);
        assert_eq!(infer_text("0"), ColumnType::Integer);
        assert_eq!(
            infer_text("123456789012345678901234567890"),
            ColumnType::Integer
        );
        assert_eq!(infer_text("1.0"), ColumnType::Number);
        assert_eq!(infer_text("1e3"), ColumnType::Number);
        assert_eq!(infer_text("1E3"), ColumnType::Number);
        assert_eq!(infer_text("-0.5"), ColumnType::Number);
    }

    #[test]
    fn strings_dates_and_timestamps() {
        assert_eq!(
            infer_text(r#""2026-03-01T19:22:00Z""#),
            ColumnType::Timestamp
        );
        assert_eq!(
            infer_text(r#""2026-03-01T19:22:00.123+02:00""#),
            ColumnType::Timestamp
        );
        assert_eq!(infer_text(r#""2026-03-01 19:22:00Z""#), ColumnType::String);
        assert_eq!(infer_text(r#""2026-03-01T19:22:00""#), ColumnType::String);
        assert_eq!(infer_text(r#""2026-02-30T19:22:00Z""#), ColumnType::String);
        assert_eq!(infer_text(r#""2026-03-01""#), ColumnType::Date);
        assert_eq!(infer_text(r#""2024-02-29""#), ColumnType::Date);
        assert_eq!(infer_text(r#""2026-02-29""#), ColumnType::String);
        assert_eq!(infer_text(r#""2026-13-01""#), ColumnType::String);
        assert_eq!(infer_text(r#""2026-3-01""#), ColumnType::String);
        assert_eq!(infer_text(r#""+026-03-01""#), ColumnType::String);
        assert_eq!(infer_text(r#""hello""#), ColumnType::String);
        assert_eq!(infer_text(r#""""#), ColumnType::String);
    }

    #[test]
    fn other_json_values() {
        assert_eq!(infer_text("true"), ColumnType::Boolean);
        assert_eq!(infer_text("false"), ColumnType::Boolean);
        assert_eq!(infer_text("null"), ColumnType::String);
        assert_eq!(infer_text(r#"{"a":1}"#), ColumnType::Json);
        assert_eq!(infer_text("[]"), ColumnType::Json);
    }

    #[test]
    fn columns_keep_the_sample_key_order() {
        let got = types_of(json!({"zeta": 1, "alpha": "x", "mid": null}));
        let names: Vec<_> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["zeta", "alpha", "mid"]);
    }
}
