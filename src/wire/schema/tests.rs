//! The JSON of the drift types, byte for byte: what answers show, what requests may say,
//! and the messages a malformed request gets.

use super::super::SchemaView;
use super::*;
use crate::drift::{
    compare_versions, ColumnType, Diff, IncomingColumn, Rename, Rules, SeverityOverride,
    TypeChange, Verdict,
};

fn json(value: impl Serialize) -> String {
    serde_json::to_string(&value).expect("render")
}

fn column(
    name: &str,
    column_type: ColumnType,
    severity_override: Option<SeverityOverride>,
) -> Column {
    Column {
        name: name.into(),
        column_type,
        required: true,
        severity_override,
    }
}

#[test]
fn a_column_shows_its_override_only_when_it_has_one() {
    let plain = column("id", ColumnType::Integer, None);
    assert_eq!(
        json(ColumnView::new(&plain)),
        r#"{"name":"id","type":"integer","required":true}"#
    );
    for (o, name) in [
        (SeverityOverride::Ignore, "ignore"),
        (SeverityOverride::Warning, "warning"),
        (SeverityOverride::Breaking, "breaking"),
    ] {
        let overridden = Column {
            required: false,
            ..column("at", ColumnType::Timestamp, Some(o))
        };
        assert_eq!(
            json(ColumnView::new(&overridden)),
            format!(
                r#"{{"name":"at","type":"timestamp","required":false,"severity_override":"{name}"}}"#
            )
        );
        // …and reads back as it was.
        let doc: ColumnDoc =
            serde_json::from_str(&json(ColumnView::new(&overridden))).expect("parse");
        assert_eq!(Column::from(doc), overridden);
    }
    assert_eq!(json(columns_view(&[])), "[]");
    assert_eq!(
        json(columns_view(&[plain.clone(), plain])),
        r#"[{"name":"id","type":"integer","required":true},{"name":"id","type":"integer","required":true}]"#
    );
}

#[test]
fn default_rules_are_left_out_of_a_schema() {
    let columns = [column("id", ColumnType::String, None)];
    assert_eq!(
        json(SchemaView::new(&columns, &Rules::default())),
        r#"{"columns":[{"name":"id","type":"string","required":true}]}"#
    );
    let rules = Rules {
        allow_type_widening: true,
        ..Rules::default()
    };
    assert_eq!(
        json(SchemaView::new(&columns, &rules)),
        r#"{"columns":[{"name":"id","type":"string","required":true}],"rules":{"allow_additional_columns":false,"treat_renames_as_breaking":true,"allow_type_widening":true}}"#
    );
}

#[test]
fn rules_left_out_of_a_request_keep_their_defaults() {
    let parse = |text: &str| Rules::from(serde_json::from_str::<RulesDoc>(text).expect("rules"));
    assert_eq!(parse("{}"), Rules::default());
    assert_eq!(
        parse(r#"{"treat_renames_as_breaking": false}"#),
        Rules {
            treat_renames_as_breaking: false,
            ..Rules::default()
        }
    );
    assert_eq!(
        json(RulesDoc::from(Rules::default())),
        r#"{"allow_additional_columns":false,"treat_renames_as_breaking":true,"allow_type_widening":false}"#
    );
}

#[test]
fn a_diff_lists_every_kind_of_change() {
    assert_eq!(
        json(DiffView::new(&Diff::default())),
        r#"{"removed":[],"type_changes":[],"added":[],"renames":[],"ignored":[]}"#
    );
    let diff = Diff {
        removed: vec!["user_id".into()],
        type_changes: vec![
            TypeChange::new("n".into(), ColumnType::Integer, ColumnType::Number),
            TypeChange::new("d".into(), ColumnType::Timestamp, ColumnType::Date),
            TypeChange::new("s".into(), ColumnType::Boolean, ColumnType::Json),
        ],
        added: vec!["userId".into()],
        renames: vec![Rename {
            from: "user_id".into(),
            to: "userId".into(),
            column_type: ColumnType::String,
        }],
        ignored: vec!["userId".into()],
    };
    assert_eq!(
        json(DiffView::new(&diff)),
        concat!(
            r#"{"removed":["user_id"],"type_changes":["#,
            r#"{"column":"n","from":"integer","to":"number","kind":"widening"},"#,
            r#"{"column":"d","from":"timestamp","to":"date","kind":"narrowing"},"#,
            r#"{"column":"s","from":"boolean","to":"json","kind":"incompatible"}],"#,
            r#""added":["userId"],"renames":[{"from":"user_id","to":"userId","type":"string"}],"#,
            r#""ignored":["userId"]}"#
        )
    );
}

#[test]
fn a_version_says_what_changed() {
    let old = [
        column("id", ColumnType::Integer, None),
        column("gone", ColumnType::Date, None),
    ];
    let new = [
        Column {
            required: false,
            ..column("id", ColumnType::Number, None)
        },
        column("fresh", ColumnType::Boolean, None),
    ];
    let rules = Rules::default();
    use crate::drift::Compatibility;
    let changes = compare_versions(
        ("users", &old, &rules, Compatibility::None),
        ("people", &new, &rules, Compatibility::Backward),
    );
    assert_eq!(
        json(VersionChangesView::new(&changes)),
        concat!(
            r#"{"added":["fresh"],"removed":["gone"],"#,
            r#""type_changes":[{"column":"id","from":"integer","to":"number","kind":"widening"}],"#,
            r#""required_changes":[{"column":"id","from":true,"to":false}],"#,
            r#""name_changed":{"from":"users","to":"people"},"rules_changed":false,"#,
            r#""compatibility_changed":{"from":"none","to":"backward"}}"#
        )
    );
    let same = compare_versions(
        ("users", &old, &rules, Compatibility::Full),
        ("users", &old, &rules, Compatibility::Full),
    );
    assert_eq!(
        json(VersionChangesView::new(&same)),
        r#"{"added":[],"removed":[],"type_changes":[],"required_changes":[],"name_changed":null,"rules_changed":false,"compatibility_changed":null}"#
    );
}

#[test]
fn every_column_type_name_round_trips() {
    let names: Vec<&str> = ColumnType::ALL.iter().map(|t| t.as_str()).collect();
    assert_eq!(
        names,
        [
            "string",
            "integer",
            "number",
            "boolean",
            "date",
            "timestamp",
            "json"
        ]
    );
    for t in ColumnType::ALL {
        let text = json(ColumnTypeDoc::from(t));
        assert_eq!(text, format!("\"{}\"", t.as_str()));
        let back: ColumnTypeDoc = serde_json::from_str(&text).expect("parse");
        assert_eq!(ColumnType::from(back), t);
    }
}

#[test]
fn verdicts_are_named_as_the_spec_names_them() {
    let all = [Verdict::Pass, Verdict::Warning, Verdict::Breaking];
    assert_eq!(
        json(verdicts_view(&all)),
        r#"["pass","warning","breaking"]"#
    );
    for v in all {
        assert_eq!(json(VerdictDoc::from(v)), format!("\"{}\"", v.as_str()));
        let back: VerdictDoc = serde_json::from_str(&json(VerdictDoc::from(v))).expect("parse");
        assert_eq!(Verdict::from(back), v);
    }
}

#[test]
fn incoming_columns_are_a_name_and_a_type() {
    let incoming = [IncomingColumn {
        name: "id".into(),
        column_type: ColumnType::Date,
    }];
    let text = json(incoming_columns_view(&incoming));
    assert_eq!(text, r#"[{"name":"id","type":"date"}]"#);
    // `required` and anything else is ignored.
    let docs: Vec<IncomingColumnDoc> =
        serde_json::from_str(r#"[{"name":"id","type":"date","required":true,"x":1}]"#)
            .expect("parse");
    let parsed: Vec<IncomingColumn> = docs.into_iter().map(Into::into).collect();
    assert_eq!(parsed, incoming);
}

/// The messages of malformed columns are serde's, naming the drift types as they always
/// did (the documents carry those names for that).
#[test]
fn malformed_columns_are_refused_with_the_messages_they_always_had() {
    let column_error = |text: &str| {
        serde_json::from_str::<ColumnDoc>(text)
            .expect_err("malformed")
            .to_string()
    };
    assert_eq!(
        column_error(r#"{"name": "b", "type": "float", "required": true}"#),
        "unknown variant `float`, expected one of `string`, `integer`, `number`, `boolean`, \
         `date`, `timestamp`, `json` at line 1 column 29"
    );
    assert_eq!(
        column_error(r#"{"name": "b", "type": "string"}"#),
        "missing field `required` at line 1 column 31"
    );
    assert_eq!(
        column_error(
            r#"{"name": "b", "type": "string", "required": true, "severity_override": "x"}"#
        ),
        "unknown variant `x`, expected one of `ignore`, `warning`, `breaking` at line 1 column 74"
    );
    assert_eq!(
        column_error(r#"["b", "string"]"#),
        "invalid length 2, expected struct Column with 4 elements at line 1 column 15"
    );
    assert_eq!(
        column_error("5"),
        "invalid type: integer `5`, expected struct Column at line 1 column 1"
    );
    assert_eq!(
        serde_json::from_str::<IncomingColumnDoc>(r#"["a"]"#)
            .expect_err("malformed")
            .to_string(),
        "invalid length 1, expected struct IncomingColumn with 2 elements at line 1 column 5"
    );
    assert_eq!(
        serde_json::from_str::<VerdictDoc>(r#""fail""#)
            .expect_err("malformed")
            .to_string(),
        "unknown variant `fail`, expected one of `pass`, `warning`, `breaking` at line 1 column 6"
    );
}
