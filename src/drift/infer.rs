//! Schema inference from sample records (`POST /contracts/infer`, `driftguard infer`).
//!
//! A sample record is domain input here, so it arrives as what it is — a parsed JSON
//! value (`serde_json::Value`). That is the drift engine's only use of serde: the columns
//! it infers are rendered by `wire`, like every other drift type.

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

/// Most records [`infer_samples`] is asked to read at once over the API.
pub const MAX_SAMPLES: usize = 1000;

/// One column per key seen in any of `records`, in first-seen order. A column is
/// `required` only when its key is present and non-null in every record; `null` says
/// nothing about the type (a key that is only ever `null` is a `string`, the catch-all);
/// when records disagree, see [`merge_types`].
pub fn infer_samples(records: &[Map<String, Value>]) -> Vec<Column> {
    // (name, type seen so far, records where it was present and non-null)
    let mut columns: Vec<(&str, Option<ColumnType>, usize)> = Vec::new();
    let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for record in records {
        for (name, value) in record {
            let slot = *index.entry(name.as_str()).or_insert_with(|| {
                columns.push((name.as_str(), None, 0));
                columns.len() - 1
            });
            if value.is_null() {
                continue;
            }
            let column = &mut columns[slot];
            let seen = infer_type(value);
            column.1 = Some(column.1.map_or(seen, |known| merge_types(known, seen)));
            column.2 += 1;
        }
    }
    columns
        .into_iter()
        .map(|(name, column_type, present)| Column {
            name: name.to_owned(),
            column_type: column_type.unwrap_or(ColumnType::String),
            required: present == records.len(),
            severity_override: None,
        })
        .collect()
}

/// The type of a column whose records disagree: integer and number make a `number`, date
/// and timestamp a `timestamp`, anything else a `string`. Commutative and associative
/// (integer < number, date < timestamp, everything < string), so the record order does
/// not matter.
pub fn merge_types(a: ColumnType, b: ColumnType) -> ColumnType {
    use ColumnType::*;
    match (a, b) {
        (a, b) if a == b => a,
        (Integer, Number) | (Number, Integer) => Number,
        (Date, Timestamp) | (Timestamp, Date) => Timestamp,
        _ => String,
    }
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

    fn records(values: Value) -> Vec<Map<String, Value>> {
        let Value::Array(items) = values else {
            panic!("records must be an array")
        };
        items
            .into_iter()
            .map(|v| match v {
                Value::Object(map) => map,
                other => panic!("not a record: {other}"),
            })
            .collect()
    }

    fn summary(columns: &[Column]) -> Vec<(&str, ColumnType, bool)> {
        columns
            .iter()
            .map(|c| (c.name.as_str(), c.column_type, c.required))
            .collect()
    }

    #[test]
    fn many_samples_follow_the_spec() {
        use ColumnType::*;
        let samples = records(
            serde_json::from_str(
                r#"[
                {"id": 1, "price": 1, "day": "2026-03-01", "note": null, "flag": true, "mixed": 1},
                {"id": 2, "price": 2.5, "day": "2026-03-01T10:00:00Z", "flag": false, "mixed": "x", "late": 3},
                {"id": 3, "price": 3, "day": null, "note": null, "flag": true, "mixed": true, "late": null}
            ]"#,
            )
            .expect("valid JSON"),
        );
        assert_eq!(
            summary(&infer_samples(&samples)),
            vec![
                ("id", Integer, true),
                ("price", Number, true),
                ("day", Timestamp, false),
                ("note", String, false),
                ("flag", Boolean, true),
                ("mixed", String, true),
                ("late", Integer, false),
            ]
        );
    }

    #[test]
    fn one_sample_is_the_single_record_rule_except_for_nulls() {
        let one = records(json!([{"a": 1, "b": "x", "c": null}]));
        let many = infer_samples(&one);
        let single = infer_columns(&one[0]);
        for (m, s) in many.iter().zip(&single) {
            assert_eq!((&m.name, m.column_type), (&s.name, s.column_type));
        }
        assert_eq!(
            many.iter().map(|c| c.required).collect::<Vec<_>>(),
            [true, true, false],
            "a null value is not a present value"
        );
        assert!(infer_samples(&[]).is_empty());
    }

    #[test]
    fn disagreements_widen_to_the_smallest_common_type() {
        use ColumnType::*;
        assert_eq!(merge_types(Integer, Number), Number);
        assert_eq!(merge_types(Date, Timestamp), Timestamp);
        assert_eq!(merge_types(Integer, Boolean), String);
        assert_eq!(merge_types(Date, Integer), String);
        assert_eq!(merge_types(Json, Json), Json);
        assert_eq!(merge_types(Number, Timestamp), String);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        const TYPES: [ColumnType; 7] = [
            ColumnType::String,
            ColumnType::Integer,
            ColumnType::Number,
            ColumnType::Boolean,
            ColumnType::Date,
            ColumnType::Timestamp,
            ColumnType::Json,
        ];

        fn value() -> impl Strategy<Value = Value> {
            prop_oneof![
                Just(Value::Null),
                any::<i32>().prop_map(|n| json!(n)),
                Just(serde_json::from_str::<Value>("1.5").expect("number")),
                any::<bool>().prop_map(Value::Bool),
                Just(json!("2026-03-01")),
                Just(json!("2026-03-01T10:00:00Z")),
                "[a-z]{0,4}".prop_map(Value::String),
                Just(json!({"nested": 1})),
            ]
        }

        fn record() -> impl Strategy<Value = Map<String, Value>> {
            proptest::collection::vec(("[a-d]", value()), 0..5)
                .prop_map(|pairs| pairs.into_iter().collect())
        }

        proptest! {
            #[test]
            fn merging_is_commutative_and_associative(a in 0..7usize, b in 0..7usize, c in 0..7usize) {
                let (a, b, c) = (TYPES[a], TYPES[b], TYPES[c]);
                prop_assert_eq!(merge_types(a, b), merge_types(b, a));
                prop_assert_eq!(merge_types(merge_types(a, b), c), merge_types(a, merge_types(b, c)));
            }

            #[test]
            fn record_order_changes_only_the_column_order(samples in proptest::collection::vec(record(), 1..6)) {
                let forward = infer_samples(&samples);
                let mut reversed_input = samples.clone();
                reversed_input.reverse();
                let mut backward = infer_samples(&reversed_input);
                backward.sort_by(|x, y| x.name.cmp(&y.name));
                let mut forward_sorted = forward.clone();
                forward_sorted.sort_by(|x, y| x.name.cmp(&y.name));
                prop_assert_eq!(forward_sorted, backward);
            }

            #[test]
            fn every_key_once_and_required_means_everywhere_non_null(samples in proptest::collection::vec(record(), 1..6)) {
                let columns = infer_samples(&samples);
                let mut seen = std::collections::HashSet::new();
                for column in &columns {
                    prop_assert!(seen.insert(column.name.clone()), "duplicate {}", column.name);
                    let everywhere = samples.iter().all(|r| r.get(&column.name).is_some_and(|v| !v.is_null()));
                    prop_assert_eq!(column.required, everywhere);
                    // Widening: every non-null value's own type merges into the column's.
                    for r in &samples {
                        if let Some(v) = r.get(&column.name).filter(|v| !v.is_null()) {
                            prop_assert_eq!(merge_types(infer_type(v), column.column_type), column.column_type);
                        }
                    }
                }
                let keys: std::collections::HashSet<&String> = samples.iter().flat_map(|r| r.keys()).collect();
                prop_assert_eq!(keys.len(), columns.len());
            }
        }
    }

    #[test]
    fn columns_keep_the_sample_key_order() {
        let got = types_of(json!({"zeta": 1, "alpha": "x", "mid": null}));
        let names: Vec<_> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["zeta", "alpha", "mid"]);
    }
}
