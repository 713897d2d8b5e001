use proptest::prelude::*;

use super::*;

/// A contract column without an override (the compatibility tests use it too).
pub(super) fn col(name: &str, column_type: ColumnType, required: bool) -> Column {
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

#[test]
fn names_with_control_or_bidi_characters_are_refused_naming_the_field() {
    for bad in [
        "x\n::error::forged",
        "x\r",
        "tab\there",
        "esc\u{1b}[31m",
        "nul\0",
        "del\u{7f}",
        "c1\u{85}",
        "rlo\u{202E}gpj.exe",
        "lri\u{2066}x",
        "pdi\u{2069}",
        "rlm\u{200F}",
        "alm\u{061C}",
    ] {
        let err = validate_column_names(["ok", bad], "schema.columns").unwrap_err();
        assert!(
            err.starts_with("schema.columns[1].name: must not contain"),
            "{bad:?}: {err}"
        );
        let err = validate_name(bad, "name").unwrap_err();
        assert!(err.starts_with("name: must not contain"), "{bad:?}: {err}");
    }
    for good in [
        "user_id",
        "Straße",
        "名前",
        "emoji 🚀",
        "a b",
        "x-y.z",
        "\u{200D}zwj",
    ] {
        assert!(validate_name(good, "name").is_ok(), "{good:?}");
    }
}

proptest! {
    /// A name is refused for its characters exactly when one is a hidden control.
    #[test]
    fn a_name_is_refused_exactly_when_it_hides_a_control(name in "\\PC{0,8}[\\x00-\\x1f\\u{202A}-\\u{202E}]?\\PC{0,8}") {
        prop_assume!(!name.is_empty() && name.chars().count() <= MAX_NAME_CHARS);
        let hidden = name.chars().any(is_hidden_control);
        prop_assert_eq!(validate_name(&name, "name").is_err(), hidden);
    }
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
    /// The hot path's pairing of schemas in the same order agrees with pairing by name.
    #[test]
    fn aligned_schemas_pair_as_by_name(contract in contract_columns(), changed in any::<u8>()) {
        let mut incoming = same_as(&contract);
        if let Some(column) = incoming.get_mut(usize::from(changed) % contract.len().max(1)) {
            column.column_type = ColumnType::Json;
        }
        let (types, added) = match_columns(&contract, &incoming);
        let (by_name, added_by_name) = match_columns_by_name(&contract, &incoming);
        prop_assert_eq!(types, by_name);
        prop_assert_eq!(added, added_by_name);
    }

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

// ---- §5.2: rules, overrides, renames, kinds ----

fn with(rules: Rules) -> impl Fn(&[Column], &[IncomingColumn]) -> Assessment {
    move |contract, incoming| super::assess(contract, &rules, incoming)
}

fn overridden(name: &str, t: ColumnType, required: bool, o: SeverityOverride) -> Column {
    Column {
        severity_override: Some(o),
        ..col(name, t, required)
    }
}

#[test]
fn type_changes_have_a_kind() {
    use ColumnType::*;
    assert_eq!(ChangeKind::of(Integer, Number), ChangeKind::Widening);
    assert_eq!(ChangeKind::of(Date, Timestamp), ChangeKind::Widening);
    assert_eq!(ChangeKind::of(Number, Integer), ChangeKind::Narrowing);
    assert_eq!(ChangeKind::of(Timestamp, Date), ChangeKind::Narrowing);
    for (from, to) in [
        (Integer, String),
        (String, Json),
        (Boolean, Integer),
        (Date, String),
    ] {
        assert_eq!(ChangeKind::of(from, to), ChangeKind::Incompatible);
    }
}

#[test]
fn allow_additional_columns_scores_added_columns_zero_and_lists_them_ignored() {
    let rules = Rules {
        allow_additional_columns: true,
        ..Rules::default()
    };
    let mut incoming = same_as(&users_contract());
    incoming.push(inc("x", ColumnType::Json));
    let a = with(rules)(&users_contract(), &incoming);
    assert_eq!((a.severity, a.verdict), (0, Verdict::Pass));
    assert_eq!(a.diff.added, ["x"]);
    assert_eq!(a.diff.ignored, ["x"]);
}

#[test]
fn allow_type_widening_scores_widening_5_and_nothing_else() {
    let rules = Rules {
        allow_type_widening: true,
        ..Rules::default()
    };
    let contract = [
        col("n", ColumnType::Integer, true),
        col("d", ColumnType::Date, true),
    ];
    let widened = [
        inc("n", ColumnType::Number),
        inc("d", ColumnType::Timestamp),
    ];
    assert_eq!(with(rules)(&contract, &widened).severity, 10);
    assert_eq!(assess(&contract, &widened).severity, 60, "off by default");
    let narrowed = [
        col("n", ColumnType::Number, true),
        col("d", ColumnType::Timestamp, true),
    ];
    let incoming = [inc("n", ColumnType::Integer), inc("d", ColumnType::Date)];
    let a = with(rules)(&narrowed, &incoming);
    assert_eq!(a.severity, 60, "narrowing still scores 30");
    assert!(a.diff.ignored.is_empty());
    assert!(a
        .diff
        .type_changes
        .iter()
        .all(|t| t.kind == ChangeKind::Narrowing));
}

#[test]
fn renames_are_found_by_normalised_name_and_equal_type() {
    let contract = [
        col("userId", ColumnType::Integer, true),
        col("email", ColumnType::String, true),
    ];
    let incoming = [
        inc("USER-ID", ColumnType::Integer),
        inc("email", ColumnType::String),
    ];
    let a = assess(&contract, &incoming);
    assert_eq!(
        a.diff.renames,
        [Rename {
            from: "userId".into(),
            to: "USER-ID".into(),
            column_type: ColumnType::Integer
        }]
    );
    // Renamed columns stay in removed and added; by default the score is v1's.
    assert_eq!(a.diff.removed, ["userId"]);
    assert_eq!(a.diff.added, ["USER-ID"]);
    assert_eq!(a.severity, 45);
    // A different type is no rename.
    let a = assess(&contract, &[inc("user_id", ColumnType::String)]);
    assert!(a.diff.renames.is_empty());
}

#[test]
fn the_only_removed_and_only_added_column_of_equal_type_are_a_rename() {
    let contract = users_contract();
    let mut incoming = same_as(&contract);
    incoming.retain(|c| c.name != "email");
    incoming.push(inc("mail_address", ColumnType::String));
    let a = assess(&contract, &incoming);
    assert_eq!(a.diff.renames.len(), 1);
    assert_eq!(
        (
            a.diff.renames[0].from.as_str(),
            a.diff.renames[0].to.as_str()
        ),
        ("email", "mail_address")
    );
    // Two added columns: no fallback.
    incoming.push(inc("other", ColumnType::String));
    assert!(assess(&contract, &incoming).diff.renames.is_empty());
    // Types differ: no fallback.
    let mut incoming = same_as(&contract);
    incoming.retain(|c| c.name != "email");
    incoming.push(inc("mail_address", ColumnType::Json));
    assert!(assess(&contract, &incoming).diff.renames.is_empty());
}

#[test]
fn renames_not_breaking_score_10_instead_of_a_removal_and_an_addition() {
    let rules = Rules {
        treat_renames_as_breaking: false,
        ..Rules::default()
    };
    let contract = [col("user_id", ColumnType::Integer, true)];
    let incoming = [inc("userId", ColumnType::Integer)];
    let a = with(rules)(&contract, &incoming);
    assert_eq!((a.severity, a.verdict), (10, Verdict::Pass));
    assert!(a.diff.ignored.is_empty());
    assert_eq!(assess(&contract, &incoming).severity, 45);
}

#[test]
fn overrides_replace_the_points_of_a_removal_or_a_type_change() {
    use SeverityOverride::*;
    for (o, points) in [(Ignore, 0), (Warning, 20), (Breaking, 90)] {
        let contract = [overridden("a", ColumnType::Integer, true, o)];
        let removed = assess(&contract, &[]);
        assert_eq!(u32::from(removed.severity), points, "{o:?} removed");
        let retyped = assess(&contract, &[inc("a", ColumnType::String)]);
        assert_eq!(u32::from(retyped.severity), points, "{o:?} retyped");
        // Also over a rule: widening allowed does not beat the override.
        let widening = Rules {
            allow_type_widening: true,
            ..Rules::default()
        };
        let widened = with(widening)(&contract, &[inc("a", ColumnType::Number)]);
        assert_eq!(u32::from(widened.severity), points, "{o:?} widened");
        let ignored = if o == Ignore { vec!["a"] } else { vec![] };
        assert_eq!(removed.diff.ignored, ignored);
        assert_eq!(removed.verdict, Verdict::from_severity(removed.severity));
    }
    // An unchanged overridden column scores nothing and is not listed.
    let contract = [overridden("a", ColumnType::Integer, true, Breaking)];
    let a = assess(&contract, &[inc("a", ColumnType::Integer)]);
    assert_eq!((a.severity, a.diff.ignored.len()), (0, 0));
}

#[test]
fn an_override_on_the_removed_half_of_a_rename_counts_the_column_once() {
    use SeverityOverride::*;
    let contract = [overridden("user_id", ColumnType::Integer, true, Warning)];
    let incoming = [inc("userId", ColumnType::Integer)];
    for rules in [
        Rules::default(),
        Rules {
            treat_renames_as_breaking: false,
            ..Rules::default()
        },
    ] {
        let a = with(rules)(&contract, &incoming);
        assert_eq!(a.severity, 20, "the added half scores nothing ({rules:?})");
        assert!(a.diff.ignored.is_empty());
    }
    let contract = [overridden("user_id", ColumnType::Integer, true, Ignore)];
    let a = assess(&contract, &incoming);
    assert_eq!(a.severity, 0);
    assert_eq!(a.diff.ignored, ["user_id"]);
    // Without a rename the added column scores on its own.
    let a = assess(&contract, &[inc("other", ColumnType::String)]);
    assert_eq!(
        (a.severity, a.diff.ignored.clone()),
        (5, vec!["user_id".to_owned()])
    );
}

#[test]
fn ignored_lists_contract_columns_in_contract_order_then_added_in_incoming_order() {
    use SeverityOverride::*;
    let rules = Rules {
        allow_additional_columns: true,
        ..Rules::default()
    };
    let contract = [
        overridden("z", ColumnType::String, true, Ignore),
        col("kept", ColumnType::String, true),
        overridden("b", ColumnType::String, true, Ignore),
    ];
    let incoming = [
        inc("kept", ColumnType::String),
        inc("b", ColumnType::Json),
        inc("q", ColumnType::Integer),
        inc("c", ColumnType::Boolean),
    ];
    let a = with(rules)(&contract, &incoming);
    assert_eq!(a.diff.ignored, ["z", "b", "q", "c"]);
    assert_eq!(a.severity, 0);
}

#[test]
fn each_column_is_in_at_most_one_rename() {
    let contract = [
        col("user_id", ColumnType::Integer, true),
        col("userId", ColumnType::Integer, true),
    ];
    let incoming = [inc("USER_ID", ColumnType::Integer)];
    let a = assess(&contract, &incoming);
    assert_eq!(a.diff.renames.len(), 1);
    assert_eq!(a.diff.renames[0].from, "user_id", "contract order decides");
}

#[test]
fn version_changes_compare_two_versions() {
    use ColumnType::*;
    let before = [
        col("a", Integer, true),
        col("b", String, true),
        col("c", Date, false),
    ];
    let after = [
        col("d", Json, true),
        col("c", Timestamp, true),
        col("a", Integer, false),
    ];
    let rules = Rules::default();
    let changes = compare_versions(
        ("old", &before, &rules, Compatibility::None),
        ("new", &after, &rules, Compatibility::None),
    );
    assert_eq!(changes.added, ["d"]);
    assert_eq!(changes.removed, ["b"]);
    assert_eq!(
        changes.type_changes,
        [TypeChange::new("c".into(), Date, Timestamp)]
    );
    assert_eq!(changes.type_changes[0].kind, ChangeKind::Widening);
    let flips: Vec<_> = changes
        .required_changes
        .iter()
        .map(|r| (r.column.as_str(), r.from, r.to))
        .collect();
    assert_eq!(flips, [("a", true, false), ("c", false, true)]);
    assert_eq!(
        changes.name_changed,
        Some(NameChange {
            from: "old".into(),
            to: "new".into()
        })
    );
    assert!(!changes.rules_changed);
    let mut overridden_a = before.clone();
    overridden_a[0].severity_override = Some(SeverityOverride::Ignore);
    let changes = compare_versions(
        ("x", &before, &rules, Compatibility::None),
        ("x", &overridden_a, &rules, Compatibility::None),
    );
    assert!(changes.rules_changed && changes.name_changed.is_none());
    assert!(!same_schema(&before, &rules, &overridden_a, &rules));
    let mut reordered = before.clone();
    reordered.reverse();
    assert!(same_schema(&before, &rules, &reordered, &rules));
}

/// Contract columns that may carry overrides.
fn overridden_columns() -> impl Strategy<Value = Vec<Column>> {
    let o = prop_oneof![
        Just(None),
        Just(Some(SeverityOverride::Ignore)),
        Just(Some(SeverityOverride::Warning)),
        Just(Some(SeverityOverride::Breaking)),
    ];
    proptest::collection::btree_map("[a-cA-C_]{1,3}", (column_type(), any::<bool>(), o), 0..10)
        .prop_map(|m| {
            m.into_iter()
                .map(|(name, (t, r, o))| Column {
                    severity_override: o,
                    ..col(&name, t, r)
                })
                .collect::<Vec<_>>()
        })
        .prop_shuffle()
}

fn renaming_incoming() -> impl Strategy<Value = Vec<IncomingColumn>> {
    proptest::collection::btree_map("[a-cA-C_-]{1,3}", column_type(), 0..10)
        .prop_map(|m| m.into_iter().map(|(n, t)| inc(&n, t)).collect::<Vec<_>>())
        .prop_shuffle()
}

fn any_rules() -> impl Strategy<Value = Rules> {
    (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(a, r, w)| Rules {
        allow_additional_columns: a,
        treat_renames_as_breaking: r,
        allow_type_widening: w,
    })
}

proptest! {
    #[test]
    fn default_rules_without_overrides_score_the_v1_formula(
        contract in contract_columns(), incoming in renaming_incoming()
    ) {
        let a = assess(&contract, &incoming);
        let removed: u32 = a.diff.removed.iter().map(|name| {
            let required = contract.iter().any(|c| &c.name == name && c.required);
            if required { REMOVED_REQUIRED_POINTS } else { REMOVED_OPTIONAL_POINTS }
        }).sum();
        let v1 = removed
            + TYPE_CHANGE_POINTS * a.diff.type_changes.len() as u32
            + ADDED_POINTS * a.diff.added.len() as u32;
        prop_assert_eq!(u32::from(a.severity), v1.min(100));
        prop_assert!(a.diff.ignored.is_empty());
    }

    #[test]
    fn renames_pair_each_column_once_and_only_equal_types(
        contract in overridden_columns(), incoming in renaming_incoming(), rules in any_rules()
    ) {
        let a = super::assess(&contract, &rules, &incoming);
        let mut seen = HashSet::new();
        for r in &a.diff.renames {
            prop_assert!(seen.insert(("from", r.from.clone())), "{} twice", r.from);
            prop_assert!(seen.insert(("to", r.to.clone())), "{} twice", r.to);
            prop_assert!(a.diff.removed.contains(&r.from));
            prop_assert!(a.diff.added.contains(&r.to));
            let from = contract.iter().find(|c| c.name == r.from).map(|c| c.column_type);
            let to = incoming.iter().find(|c| c.name == r.to).map(|c| c.column_type);
            prop_assert_eq!(from, Some(r.column_type));
            prop_assert_eq!(to, Some(r.column_type));
        }
    }

    #[test]
    fn ignored_lists_exactly_the_columns_a_rule_or_override_zeroed(
        contract in overridden_columns(), incoming in renaming_incoming(), rules in any_rules()
    ) {
        let a = super::assess(&contract, &rules, &incoming);
        // Independently: a contract column is zeroed by an `ignore` override on its
        // removal or type change; an added column by `allow_additional_columns`, unless
        // it is the new name of a renamed column whose points are counted with it (an
        // override on the old name, or renames that are not breaking).
        let changed: HashSet<&str> = a.diff.removed.iter()
            .chain(a.diff.type_changes.iter().map(|t| &t.column))
            .map(String::as_str).collect();
        let mut expected: Vec<String> = contract.iter()
            .filter(|c| changed.contains(c.name.as_str())
                && c.severity_override == Some(SeverityOverride::Ignore))
            .map(|c| c.name.clone()).collect();
        if rules.allow_additional_columns {
            for name in &a.diff.added {
                let absorbed = a.diff.renames.iter().any(|r| &r.to == name && (
                    !rules.treat_renames_as_breaking
                    || contract.iter().any(|c| c.name == r.from && c.severity_override.is_some())
                ));
                if !absorbed {
                    expected.push(name.clone());
                }
            }
        }
        prop_assert_eq!(&a.diff.ignored, &expected);
    }

    #[test]
    fn any_rules_keep_the_score_within_bounds_and_the_verdict_follows_it(
        contract in overridden_columns(), incoming in renaming_incoming(), rules in any_rules()
    ) {
        let a = super::assess(&contract, &rules, &incoming);
        prop_assert!(a.severity <= MAX_SEVERITY);
        prop_assert_eq!(a.verdict, Verdict::from_severity(a.severity));
        // The diff itself never depends on the rules.
        let plain = super::assess(&contract, &Rules::default(), &incoming);
        prop_assert_eq!(&a.diff.removed, &plain.diff.removed);
        prop_assert_eq!(&a.diff.type_changes, &plain.diff.type_changes);
        prop_assert_eq!(&a.diff.added, &plain.diff.added);
        prop_assert_eq!(&a.diff.renames, &plain.diff.renames);
    }
}
