use proptest::prelude::*;

use super::*;

fn col(name: &str, column_type: ColumnType, required: bool) -> Column {
    Column {
        name: name.to_owned(),
        column_type,
        required,
        severity_override: None,
    }
}

/// The v1 scoring: default rules (and, in these tests, no overrides).
fn assess(contract: &[Column], incoming: &[IncomingColumn]) -> Assessment {
    super::assess(contract, &Rules::default(), incoming)
}

fn inc(name: &str, column_type: ColumnType) -> IncomingColumn {
    IncomingColumn {
        name: name.to_owned(),
        column_type,
    }
}

fn same_as(contract: &[Column]) -> Vec<IncomingColumn> {
    contract
        .iter()
        .map(|c| inc(&c.name, c.column_type))
        .collect()
}

fn users_contract() -> Vec<Column> {
    vec![
        col("user_id", ColumnType::Integer, true),
        col("email", ColumnType::String, true),
        col("created_at", ColumnType::Timestamp, true),
    ]
}

// ---- the worked examples of the spec (fixed points) ----

#[test]
fn worked_example_removed_email_and_type_change_is_a_warning_of_70() {
    let incoming = [
        inc("user_id", ColumnType::Integer),
        inc("created_at", ColumnType::String),
    ];
    let a = assess(&users_contract(), &incoming);
    assert_eq!(a.severity, 70);
    assert_eq!(a.verdict, Verdict::Warning);
    assert_eq!(a.diff.removed, ["email"]);
    assert_eq!(
        a.diff.type_changes,
        [TypeChange {
            column: "created_at".into(),
            from: ColumnType::Timestamp,
            to: ColumnType::String,
            kind: ChangeKind::Incompatible,
        }]
    );
    assert!(a.diff.added.is_empty());
}

#[test]
fn worked_example_plus_user_id_removed_caps_at_100_breaking() {
    let a = assess(&users_contract(), &[inc("created_at", ColumnType::String)]);
    assert_eq!(a.severity, 100);
    assert_eq!(a.verdict, Verdict::Breaking);
    assert_eq!(a.diff.removed, ["user_id", "email"]);
}

#[test]
fn worked_example_one_added_column_is_a_pass_of_5() {
    let mut incoming = same_as(&users_contract());
    incoming.push(inc("updated_at", ColumnType::Timestamp));
    let a = assess(&users_contract(), &incoming);
    assert_eq!((a.severity, a.verdict), (5, Verdict::Pass));
    assert_eq!(a.diff.added, ["updated_at"]);
}

#[test]
fn worked_example_identical_schema_is_zero_with_empty_lists() {
    let a = assess(&users_contract(), &same_as(&users_contract()));
    assert_eq!((a.severity, a.verdict), (0, Verdict::Pass));
    assert_eq!(a.diff, Diff::default());
}

// ---- each rule on its own ----

#[test]
fn each_kind_of_change_scores_its_points() {
    let contract = [
        col("req", ColumnType::String, true),
        col("opt", ColumnType::String, false),
    ];
    let score = |incoming: &[IncomingColumn]| assess(&contract, incoming).severity;
    assert_eq!(score(&[inc("opt", ColumnType::String)]), 40);
    assert_eq!(score(&[inc("req", ColumnType::String)]), 20);
    assert_eq!(
        score(&[inc("req", ColumnType::Json), inc("opt", ColumnType::String)]),
        30
    );
    assert_eq!(
        score(&[
            inc("req", ColumnType::String),
            inc("opt", ColumnType::String),
            inc("new", ColumnType::Date)
        ]),
        5
    );
}

#[test]
fn a_type_change_of_an_optional_column_still_scores_30() {
    let contract = [col("opt", ColumnType::Integer, false)];
    let a = assess(&contract, &[inc("opt", ColumnType::Number)]);
    assert_eq!(a.severity, 30);
}

#[test]
fn names_are_case_sensitive() {
    let contract = [col("Email", ColumnType::String, true)];
    let a = assess(&contract, &[inc("email", ColumnType::String)]);
    assert_eq!(a.diff.removed, ["Email"]);
    assert_eq!(a.diff.added, ["email"]);
    assert_eq!(a.severity, 45);
}

#[test]
fn lists_keep_contract_and_incoming_order() {
    let contract = [
        col("c", ColumnType::String, true),
        col("a", ColumnType::String, true),
        col("b", ColumnType::Integer, true),
        col("d", ColumnType::Integer, true),
    ];
    let incoming = [
        inc("z", ColumnType::String),
        inc("d", ColumnType::String),
        inc("b", ColumnType::String),
        inc("y", ColumnType::String),
    ];
    let a = assess(&contract, &incoming);
    assert_eq!(a.diff.removed, ["c", "a"]);
    let changed: Vec<_> = a
        .diff
        .type_changes
        .iter()
        .map(|t| t.column.as_str())
        .collect();
    assert_eq!(changed, ["b", "d"]);
    assert_eq!(a.diff.added, ["z", "y"]);
}

#[test]
fn column_order_is_not_significant() {
    let mut incoming = same_as(&users_contract());
    incoming.reverse();
    assert_eq!(assess(&users_contract(), &incoming).severity, 0);
}

#[test]
fn empty_schemas() {
    assert_eq!(assess(&[], &[]).severity, 0);
    let a = assess(&[], &[inc("x", ColumnType::Json)]);
    assert_eq!((a.severity, a.diff.added.len()), (5, 1));
    assert_eq!(assess(&users_contract(), &[]).severity, 100);
}

// ---- verdict boundaries ----

#[test]
fn verdict_boundaries() {
    assert_eq!(Verdict::from_severity(0), Verdict::Pass);
    assert_eq!(Verdict::from_severity(19), Verdict::Pass);
    assert_eq!(Verdict::from_severity(20), Verdict::Warning);
    assert_eq!(Verdict::from_severity(89), Verdict::Warning);
    assert_eq!(Verdict::from_severity(90), Verdict::Breaking);
    assert_eq!(Verdict::from_severity(100), Verdict::Breaking);
}

#[test]
fn boundaries_reached_through_real_diffs() {
    let added = |n: usize| -> Vec<IncomingColumn> {
        (0..n)
            .map(|i| inc(&format!("n{i}"), ColumnType::String))
            .collect()
    };
    // 15 → pass, 20 → warning.
    assert_eq!(assess(&[], &added(3)).verdict, Verdict::Pass);
    let a = assess(&[], &added(4));
    assert_eq!((a.severity, a.verdict), (20, Verdict::Warning));
    // 85 → warning, 90 → breaking.
    let contract = [
        col("a", ColumnType::String, true),
        col("b", ColumnType::String, true),
        col("c", ColumnType::String, true),
    ];
    let a = assess(&contract[..2], &added(1));
    assert_eq!((a.severity, a.verdict), (85, Verdict::Warning));
    let retyped: Vec<_> = contract
        .iter()
        .map(|c| inc(&c.name, ColumnType::Json))
        .collect();
    let a = assess(&contract, &retyped);
    assert_eq!((a.severity, a.verdict), (90, Verdict::Breaking));
    // the cap: 21 added columns are 105 points.
    assert_eq!(assess(&[], &added(21)).severity, 100);
    assert_eq!(assess(&[], &added(20)).severity, 100);
}

// ---- name validation ----

#[test]
fn column_names_must_be_1_to_256_characters_and_unique() {
    let long = "é".repeat(256);
    assert!(validate_column_names(["a", long.as_str()], "schema.columns").is_ok());
    let too_long = "x".repeat(257);
    let err = validate_column_names(["a", too_long.as_str()], "schema.columns").unwrap_err();
    assert!(err.starts_with("schema.columns[1].name"), "{err}");
    assert!(validate_column_names([""], "c").is_err());
    let err = validate_column_names(["a", "b", "a"], "incoming_schema.columns").unwrap_err();
    assert!(err.contains("[2]") && err.contains("duplicate"), "{err}");
    assert!(
        validate_column_names(["A", "a"], "c").is_ok(),
        "case-sensitive"
    );
}

// ---- properties ----

fn column_type() -> impl Strategy<Value = ColumnType> {
    prop_oneof![
        Just(ColumnType::String),
        Just(ColumnType::Integer),
        Just(ColumnType::Number),
        Just(ColumnType::Boolean),
        Just(ColumnType::Date),
        Just(ColumnType::Timestamp),
        Just(ColumnType::Json),
    ]
}

/// Schemas drawn from a small name pool so that contract and incoming overlap often.
fn contract_columns() -> impl Strategy<Value = Vec<Column>> {
    proptest::collection::btree_map("[a-f]{1,2}", (column_type(), any::<bool>()), 0..12)
        .prop_map(|m| {
            m.into_iter()
                .map(|(name, (t, r))| col(&name, t, r))
                .collect::<Vec<_>>()
        })
        .prop_shuffle()
}

fn incoming_columns() -> impl Strategy<Value = Vec<IncomingColumn>> {
    proptest::collection::btree_map("[a-f]{1,2}", column_type(), 0..12)
        .prop_map(|m| m.into_iter().map(|(n, t)| inc(&n, t)).collect::<Vec<_>>())
        .prop_shuffle()
}

proptest! {
    #[test]
    fn severity_is_within_bounds_and_decides_the_verdict(
        contract in contract_columns(), incoming in incoming_columns()
    ) {
        let a = assess(&contract, &incoming);
        prop_assert!(a.severity <= MAX_SEVERITY);
        prop_assert_eq!(a.verdict, Verdict::from_severity(a.severity));
    }

    #[test]
    fn identical_schemas_score_zero(contract in contract_columns()) {
        let a = assess(&contract, &same_as(&contract));
        prop_assert_eq!(a.severity, 0);
        prop_assert_eq!(a.diff, Diff::default());
    }

    #[test]
    fn diff_lists_are_disjoint_and_complete(
        contract in contract_columns(), incoming in incoming_columns()
    ) {
        let a = assess(&contract, &incoming);
        let removed: HashSet<_> = a.diff.removed.iter().map(String::as_str).collect();
        let changed: HashSet<_> =
            a.diff.type_changes.iter().map(|t| t.column.as_str()).collect();
        let added: HashSet<_> = a.diff.added.iter().map(String::as_str).collect();
        prop_assert!(removed.is_disjoint(&changed));
        prop_assert!(removed.is_disjoint(&added));
        prop_assert!(changed.is_disjoint(&added));
        let in_contract: HashSet<_> = contract.iter().map(|c| c.name.as_str()).collect();
        let in_incoming: HashSet<_> = incoming.iter().map(|c| c.name.as_str()).collect();
        // removed = contract − incoming; added = incoming − contract.
        prop_assert_eq!(&removed, &in_contract.difference(&in_incoming).copied().collect());
        prop_assert_eq!(&added, &in_incoming.difference(&in_contract).copied().collect());
        // every common column is either unchanged or a type change with the right types.
        for c in &contract {
            if let Some(i) = incoming.iter().find(|i| i.name == c.name) {
                let change = a.diff.type_changes.iter().find(|t| t.column == c.name);
                match change {
                    Some(t) => prop_assert!(t.from == c.column_type && t.to == i.column_type
                        && t.from != t.to),
                    None => prop_assert_eq!(c.column_type, i.column_type),
                }
            }
        }
    }

    #[test]
    fn severity_is_the_capped_sum_of_the_points(
        contract in contract_columns(), incoming in incoming_columns()
    ) {
        let a = assess(&contract, &incoming);
        let removed_points: u32 = a.diff.removed.iter().map(|name| {
            let required = contract.iter().any(|c| &c.name == name && c.required);
            if required { REMOVED_REQUIRED_POINTS } else { REMOVED_OPTIONAL_POINTS }
        }).sum();
        let total = removed_points
            + TYPE_CHANGE_POINTS * a.diff.type_changes.len() as u32
            + ADDED_POINTS * a.diff.added.len() as u32;
        prop_assert_eq!(u32::from(a.severity), total.min(100));
    }

    #[test]
    fn adding_a_column_never_lowers_severity(
        contract in contract_columns(), incoming in incoming_columns()
    ) {
        let before = assess(&contract, &incoming).severity;
        let mut more = incoming.clone();
        more.push(inc("zz_new", ColumnType::String));
        prop_assert!(assess(&contract, &more).severity >= before);
    }
}
