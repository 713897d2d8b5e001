use std::collections::HashSet;

use proptest::prelude::*;

use super::*;
// `String` below is the column type; no test here names `std::string::String`.
use crate::drift::tests::col;
use crate::drift::ColumnType::{self, *};

/// `(column, rule)` of each violation, in order.
fn rules_of(found: &[Violation]) -> Vec<(&str, Rule)> {
    found.iter().map(|v| (v.column.as_str(), v.rule)).collect()
}

/// The rule that refuses the reverse change in the other direction.
fn mirror(rule: Rule) -> Rule {
    match rule {
        Rule::RequiredColumnAdded => Rule::ColumnRemoved,
        Rule::ColumnRemoved => Rule::RequiredColumnAdded,
        Rule::MadeRequired => Rule::MadeOptional,
        Rule::MadeOptional => Rule::MadeRequired,
        Rule::TypeNarrowed => Rule::TypeWidened,
        Rule::TypeWidened => Rule::TypeNarrowed,
        Rule::TypeChanged => Rule::TypeChanged,
    }
}

/// The non-transitive mode a transitive one applies to each stored version.
fn base(mode: Compatibility) -> Compatibility {
    match mode {
        Compatibility::BackwardTransitive => Compatibility::Backward,
        Compatibility::ForwardTransitive => Compatibility::Forward,
        Compatibility::FullTransitive => Compatibility::Full,
        other => other,
    }
}

// ---- names ----

#[test]
fn compatibility_names_round_trip() {
    let names: Vec<_> = Compatibility::ALL.iter().map(|m| m.as_str()).collect();
    assert_eq!(
        names,
        [
            "none",
            "backward",
            "forward",
            "full",
            "backward_transitive",
            "forward_transitive",
            "full_transitive"
        ]
    );
    for mode in Compatibility::ALL {
        assert_eq!(Compatibility::from_name(mode.as_str()), Some(mode));
    }
    assert_eq!(Compatibility::default(), Compatibility::None);
}

#[test]
fn rule_names_round_trip() {
    let names: Vec<_> = Rule::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(
        names,
        [
            "column_removed",
            "required_column_added",
            "made_required",
            "made_optional",
            "type_widened",
            "type_narrowed",
            "type_changed"
        ]
    );
    for rule in Rule::ALL {
        assert_eq!(Rule::from_name(rule.as_str()), Some(rule));
    }
}

#[test]
fn unknown_names_are_refused() {
    for name in [
        "Backward",
        "full-transitive",
        "",
        " full",
        "FULL",
        "transitive",
    ] {
        assert_eq!(Compatibility::from_name(name), None, "{name:?}");
    }
    for name in ["Column_Removed", "type-changed", "", "removed"] {
        assert_eq!(Rule::from_name(name), None, "{name:?}");
    }
}

#[test]
fn modes_say_what_they_check() {
    use Compatibility as C;
    let table = [
        // mode, backward, forward, transitive
        (C::None, false, false, false),
        (C::Backward, true, false, false),
        (C::Forward, false, true, false),
        (C::Full, true, true, false),
        (C::BackwardTransitive, true, false, true),
        (C::ForwardTransitive, false, true, true),
        (C::FullTransitive, true, true, true),
    ];
    for (mode, backward, forward, transitive) in table {
        assert_eq!(mode.checks_backward(), backward, "{mode:?}");
        assert_eq!(mode.checks_forward(), forward, "{mode:?}");
        assert_eq!(mode.is_transitive(), transitive, "{mode:?}");
    }
}

// ---- every rule in every mode ----

/// One change, and what `backward`, `forward` and `full` refuse of it (`none` refuses
/// nothing; a transitive mode with one stored version refuses what its base mode does).
struct Case {
    change: &'static str,
    older: Vec<Column>,
    newer: Vec<Column>,
    backward: Vec<(&'static str, Rule)>,
    forward: Vec<(&'static str, Rule)>,
    full: Vec<(&'static str, Rule)>,
}

fn cases() -> Vec<Case> {
    let id = || col("id", Integer, true);
    vec![
        Case {
            change: "adding required region",
            older: vec![id()],
            newer: vec![id(), col("region", String, true)],
            backward: vec![("region", Rule::RequiredColumnAdded)],
            forward: vec![],
            full: vec![("region", Rule::RequiredColumnAdded)],
        },
        Case {
            change: "adding optional region",
            older: vec![id()],
            newer: vec![id(), col("region", String, false)],
            backward: vec![],
            forward: vec![],
            full: vec![],
        },
        Case {
            change: "removing required id",
            older: vec![id(), col("email", String, false)],
            newer: vec![col("email", String, false)],
            backward: vec![],
            forward: vec![("id", Rule::ColumnRemoved)],
            full: vec![("id", Rule::ColumnRemoved)],
        },
        Case {
            change: "removing optional email",
            older: vec![id(), col("email", String, false)],
            newer: vec![id()],
            backward: vec![],
            forward: vec![],
            full: vec![],
        },
        Case {
            change: "amount integer→number (widening)",
            older: vec![id(), col("amount", Integer, true)],
            newer: vec![id(), col("amount", Number, true)],
            backward: vec![],
            forward: vec![("amount", Rule::TypeWidened)],
            full: vec![("amount", Rule::TypeWidened)],
        },
        Case {
            change: "amount number→integer (narrowing)",
            older: vec![id(), col("amount", Number, true)],
            newer: vec![id(), col("amount", Integer, true)],
            backward: vec![("amount", Rule::TypeNarrowed)],
            forward: vec![],
            full: vec![("amount", Rule::TypeNarrowed)],
        },
        Case {
            change: "day date→timestamp (widening)",
            older: vec![col("day", Date, false)],
            newer: vec![col("day", Timestamp, false)],
            backward: vec![],
            forward: vec![("day", Rule::TypeWidened)],
            full: vec![("day", Rule::TypeWidened)],
        },
        Case {
            change: "at timestamp→date (narrowing)",
            older: vec![col("at", Timestamp, false)],
            newer: vec![col("at", Date, false)],
            backward: vec![("at", Rule::TypeNarrowed)],
            forward: vec![],
            full: vec![("at", Rule::TypeNarrowed)],
        },
        Case {
            change: "amount integer→string (incompatible): one violation in full",
            older: vec![id(), col("amount", Integer, true)],
            newer: vec![id(), col("amount", String, true)],
            backward: vec![("amount", Rule::TypeChanged)],
            forward: vec![("amount", Rule::TypeChanged)],
            full: vec![("amount", Rule::TypeChanged)],
        },
        Case {
            change: "email made required",
            older: vec![id(), col("email", String, false)],
            newer: vec![id(), col("email", String, true)],
            backward: vec![("email", Rule::MadeRequired)],
            forward: vec![],
            full: vec![("email", Rule::MadeRequired)],
        },
        Case {
            change: "email made optional",
            older: vec![id(), col("email", String, true)],
            newer: vec![id(), col("email", String, false)],
            backward: vec![],
            forward: vec![("email", Rule::MadeOptional)],
            full: vec![("email", Rule::MadeOptional)],
        },
        Case {
            change: "renaming required id to user_id: a removal and an addition",
            older: vec![id()],
            newer: vec![col("user_id", Integer, true)],
            backward: vec![("user_id", Rule::RequiredColumnAdded)],
            forward: vec![("id", Rule::ColumnRemoved)],
            full: vec![
                ("id", Rule::ColumnRemoved),
                ("user_id", Rule::RequiredColumnAdded),
            ],
        },
        Case {
            change: "renaming optional note to notes",
            older: vec![id(), col("note", String, false)],
            newer: vec![id(), col("notes", String, false)],
            backward: vec![],
            forward: vec![],
            full: vec![],
        },
        Case {
            change: "amount integer→string and made required: type first",
            older: vec![col("amount", Integer, false)],
            newer: vec![col("amount", String, true)],
            backward: vec![
                ("amount", Rule::TypeChanged),
                ("amount", Rule::MadeRequired),
            ],
            forward: vec![("amount", Rule::TypeChanged)],
            full: vec![
                ("amount", Rule::TypeChanged),
                ("amount", Rule::MadeRequired),
            ],
        },
        Case {
            change: "amount integer→number and made optional",
            older: vec![col("amount", Integer, true)],
            newer: vec![col("amount", Number, false)],
            backward: vec![],
            forward: vec![
                ("amount", Rule::TypeWidened),
                ("amount", Rule::MadeOptional),
            ],
            full: vec![
                ("amount", Rule::TypeWidened),
                ("amount", Rule::MadeOptional),
            ],
        },
        Case {
            change: "reordering the columns",
            older: vec![id(), col("email", String, false)],
            newer: vec![col("email", String, false), id()],
            backward: vec![],
            forward: vec![],
            full: vec![],
        },
    ]
}

#[test]
fn every_rule_in_every_mode() {
    use Compatibility as C;
    for case in cases() {
        for mode in Compatibility::ALL {
            let expected = match base(mode) {
                C::Backward => &case.backward[..],
                C::Forward => &case.forward[..],
                C::Full => &case.full[..],
                _ => &[],
            };
            let found = judge(mode, &[(3, &case.older)], &case.newer);
            assert_eq!(rules_of(&found), expected, "{}, {mode:?}", case.change);
            assert!(found.iter().all(|v| v.version == 3), "{}", case.change);
        }
    }
    // Every rule is exercised by some case.
    let exercised: HashSet<Rule> = cases()
        .iter()
        .flat_map(|c| c.backward.iter().chain(&c.forward).chain(&c.full))
        .map(|&(_, rule)| rule)
        .collect();
    assert_eq!(exercised, Rule::ALL.into_iter().collect());
}

#[test]
fn violations_follow_older_order_then_added_in_newer_order() {
    let older = [
        col("c", Integer, true),
        col("a", Number, false),
        col("b", String, true),
    ];
    let newer = [
        col("z", Boolean, true),
        col("a", Integer, true),
        col("y", Date, true),
        col("c", Json, true),
    ];
    let found = violations(Compatibility::Full, (1, &older), &newer);
    assert_eq!(
        rules_of(&found),
        [
            ("c", Rule::TypeChanged),
            ("a", Rule::TypeNarrowed),
            ("a", Rule::MadeRequired),
            ("b", Rule::ColumnRemoved),
            ("z", Rule::RequiredColumnAdded),
            ("y", Rule::RequiredColumnAdded),
        ]
    );
}

#[test]
fn messages_name_the_column_the_version_and_why() {
    let message = |mode, older: &[Column], newer: &[Column]| -> Vec<_> {
        violations(mode, (3, older), newer)
            .into_iter()
            .map(|v| v.message)
            .collect()
    };
    let id = || col("id", Integer, true);
    assert_eq!(
        message(
            Compatibility::Backward,
            &[id()],
            &[id(), col("region", String, true)]
        ),
        [
            "adding required column \"region\" breaks backward compatibility: data written \
             under version 3 has no \"region\""
        ]
    );
    assert_eq!(
        message(Compatibility::Forward, &[id()], &[]),
        [
            "removing required column \"id\" breaks forward compatibility: readers of version \
             3 require \"id\", and data written under the new schema has none"
        ]
    );
    assert_eq!(
        message(
            Compatibility::Backward,
            &[col("email", String, false)],
            &[col("email", String, true)]
        ),
        [
            "making column \"email\" required breaks backward compatibility: data written \
             under version 3 may have no \"email\""
        ]
    );
    assert_eq!(
        message(
            Compatibility::Forward,
            &[id()],
            &[col("id", Integer, false)]
        ),
        [
            "making column \"id\" optional breaks forward compatibility: readers of version 3 \
             require \"id\", and data written under the new schema may have none"
        ]
    );
    let amount = |t| [col("amount", t, true)];
    assert_eq!(
        message(Compatibility::Forward, &amount(Integer), &amount(Number)),
        [
            "widening column \"amount\" from integer to number breaks forward compatibility: \
             readers of version 3 expect an integer, and not every number written under the \
             new schema is one"
        ]
    );
    assert_eq!(
        message(Compatibility::Backward, &amount(Number), &amount(Integer)),
        [
            "narrowing column \"amount\" from number to integer breaks backward \
             compatibility: readers of the new schema expect an integer, and not every number \
             written under version 3 is one"
        ]
    );
    assert_eq!(
        message(Compatibility::Backward, &amount(Integer), &amount(String)),
        [
            "changing column \"amount\" from integer to string breaks backward compatibility: \
             readers of the new schema expect a string, not the integer written under \
             version 3"
        ]
    );
    assert_eq!(
        message(Compatibility::Forward, &amount(Integer), &amount(String)),
        [
            "changing column \"amount\" from integer to string breaks forward compatibility: \
             readers of version 3 expect an integer, not the string written under the new \
             schema"
        ]
    );
    assert_eq!(
        message(
            Compatibility::FullTransitive,
            &amount(Json),
            &amount(Boolean)
        ),
        [
            "changing column \"amount\" from json to boolean breaks backward and forward \
             compatibility: readers of version 3 expect a json value and readers of the new \
             schema a boolean, so neither can read the other's data"
        ]
    );
}

#[test]
fn judge_uses_the_latest_version_unless_transitive() {
    let v1 = [col("id", Integer, true), col("legacy", String, true)];
    let v2 = [col("id", Integer, true)];
    let newer = [col("id", Number, true)];
    let history: [(u32, &[Column]); 2] = [(1, &v1), (2, &v2)];

    let latest = judge(Compatibility::Forward, &history, &newer);
    assert_eq!(rules_of(&latest), [("id", Rule::TypeWidened)]);
    assert!(latest.iter().all(|v| v.version == 2));

    let every = judge(Compatibility::ForwardTransitive, &history, &newer);
    let by_version: Vec<_> = every
        .iter()
        .map(|v| (v.version, v.column.as_str(), v.rule))
        .collect();
    assert_eq!(
        by_version,
        [
            (1, "id", Rule::TypeWidened),
            (1, "legacy", Rule::ColumnRemoved),
            (2, "id", Rule::TypeWidened),
        ]
    );

    for mode in Compatibility::ALL {
        assert!(judge(mode, &[], &newer).is_empty(), "{mode:?}");
    }
}

// ---- properties ----

/// Types weighted towards the widening and narrowing pairs, which uniform types rarely
/// produce.
fn column_type() -> impl Strategy<Value = ColumnType> {
    prop_oneof![
        2 => Just(Integer),
        2 => Just(Number),
        2 => Just(Date),
        2 => Just(Timestamp),
        1 => Just(String),
        1 => Just(Boolean),
        1 => Just(Json),
    ]
}

/// Schemas drawn from a small name pool (`[a-d]{1,2}`) so that two schemas overlap often.
fn columns() -> impl Strategy<Value = Vec<Column>> {
    proptest::collection::btree_map("[a-d]{1,2}", (column_type(), any::<bool>()), 0..10)
        .prop_map(|m| {
            m.into_iter()
                .map(|(name, (t, r))| col(&name, t, r))
                .collect::<Vec<_>>()
        })
        .prop_shuffle()
}

fn mode() -> impl Strategy<Value = Compatibility> {
    proptest::sample::select(Compatibility::ALL.to_vec())
}

/// `(column, rule)` of each violation, as a set.
fn rule_set(found: &[Violation]) -> HashSet<(&str, Rule)> {
    found.iter().map(|v| (v.column.as_str(), v.rule)).collect()
}

proptest! {
    /// older→newer is backward-compatible exactly when newer→older is forward-compatible,
    /// each refusal mirrored by its counterpart rule.
    #[test]
    fn backward_is_forward_reversed(older in columns(), newer in columns()) {
        for (backward, forward) in [
            (Compatibility::Backward, Compatibility::Forward),
            (Compatibility::BackwardTransitive, Compatibility::ForwardTransitive),
        ] {
            let there = violations(backward, (1, &older), &newer);
            let back = violations(forward, (1, &newer), &older);
            let mirrored: HashSet<_> =
                there.iter().map(|v| (v.column.as_str(), mirror(v.rule))).collect();
            prop_assert_eq!(there.is_empty(), back.is_empty());
            prop_assert_eq!(mirrored, rule_set(&back));
            prop_assert_eq!(there.len(), back.len());
        }
    }

    /// `full` refuses exactly what `backward` or `forward` refuses, each refusal once.
    #[test]
    fn full_is_backward_and_forward(older in columns(), newer in columns()) {
        let full = violations(Compatibility::Full, (1, &older), &newer);
        let backward = violations(Compatibility::Backward, (1, &older), &newer);
        let forward = violations(Compatibility::Forward, (1, &older), &newer);
        prop_assert_eq!(full.is_empty(), backward.is_empty() && forward.is_empty());
        let union: HashSet<_> = rule_set(&backward).union(&rule_set(&forward)).copied().collect();
        prop_assert_eq!(rule_set(&full), union);
        prop_assert_eq!(rule_set(&full).len(), full.len(), "no refusal twice");
    }

    /// A transitive mode over v1..vn is the pairwise check against each version, in order;
    /// a non-transitive mode is the pairwise check against vn alone.
    #[test]
    fn transitive_is_every_pairwise_check(
        mode in mode(),
        versions in proptest::collection::vec(columns(), 0..5),
        newer in columns(),
    ) {
        let history: Vec<(u32, &[Column])> =
            (1..).zip(versions.iter().map(Vec::as_slice)).collect();
        let judged = judge(mode, &history, &newer);
        let against = if mode.is_transitive() {
            &history[..]
        } else {
            &history[history.len().saturating_sub(1)..]
        };
        let pairwise: Vec<Violation> = against
            .iter()
            .flat_map(|&older| violations(base(mode), older, &newer))
            .collect();
        prop_assert_eq!(&judged, &pairwise);
        prop_assert!(judged.windows(2).all(|w| w[0].version <= w[1].version));
    }

    /// The same schema, in any column order, breaks no mode.
    #[test]
    fn an_identical_schema_never_violates(
        (older, reordered) in columns().prop_flat_map(|c| (Just(c.clone()), Just(c).prop_shuffle())),
        mode in mode(),
    ) {
        prop_assert_eq!(violations(mode, (1, &older), &older), vec![]);
        prop_assert_eq!(violations(mode, (1, &older), &reordered), vec![]);
    }

    /// Adding an optional column, anywhere, is allowed by every mode.
    #[test]
    fn adding_an_optional_column_is_allowed_in_every_mode(
        older in columns(), t in column_type(), at in any::<prop::sample::Index>(), mode in mode(),
    ) {
        let mut newer = older.clone();
        newer.insert(at.index(older.len() + 1), col("zz", t, false));
        prop_assert_eq!(violations(mode, (1, &older), &newer), vec![]);
    }

    /// `none` refuses nothing.
    #[test]
    fn none_never_violates(
        versions in proptest::collection::vec(columns(), 0..4), newer in columns(),
    ) {
        let history: Vec<(u32, &[Column])> =
            (1..).zip(versions.iter().map(Vec::as_slice)).collect();
        prop_assert_eq!(judge(Compatibility::None, &history, &newer), vec![]);
    }

    /// Every violation is about a column of one of the two schemas, judged against the given
    /// version, and its message names that column and that version.
    #[test]
    fn violations_are_about_the_two_schemas(
        older in columns(), newer in columns(), mode in mode(), version in 1u32..1000,
    ) {
        for v in violations(mode, (version, &older), &newer) {
            prop_assert_eq!(v.version, version);
            prop_assert!(older.iter().chain(&newer).any(|c| c.name == v.column));
            prop_assert!(v.message.contains(&format!("{:?}", v.column)), "{}", v.message);
            prop_assert!(v.message.contains(&format!("version {version}")), "{}", v.message);
        }
    }
}
