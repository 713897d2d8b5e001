//! The JSON shapes of the drift engine's types: the columns and rules of a schema as
//! requests give them (`…Doc`, parsed) and as answers show them (`…View`, rendered), a
//! check's `diff` and a version's `changes`.
//!
//! `drift` knows no JSON; this is the one place that names its fields. Parsed documents
//! are owned and become drift types by moving their strings (`From`); views borrow the
//! drift types they render, so no answer copies a schema or makes a second JSON pass.

use serde::{Serialize, Serializer};

use crate::drift::{
    ChangeKind, Column, Diff, IncomingColumn, NameChange, Rename, RequiredChange, TypeChange,
    Verdict, VersionChanges, Violation,
};

// ---- requests (and the names of types and verdicts, both ways) ----

/// The parsed documents, declared under the drift types' own names: serde's messages quote
/// the Rust name of the type (`expected struct Column with 4 elements`), and a request is
/// refused with the very message it always was (their serde attributes are the ones the
/// drift types had, too). Re-exported as `…Doc`.
mod doc {
    use serde::{Deserialize, Serialize};

    use crate::drift;

    /// A column type by its JSON name: `string`, `integer`, `number`, `boolean`, `date`,
    /// `timestamp`, `json`. Any other name is refused, listing these.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    pub enum ColumnType {
        /// `string`.
        String,
        /// `integer`.
        Integer,
        /// `number`.
        Number,
        /// `boolean`.
        Boolean,
        /// `date`.
        Date,
        /// `timestamp`.
        Timestamp,
        /// `json`.
        Json,
    }

    impl From<drift::ColumnType> for ColumnType {
        fn from(t: drift::ColumnType) -> Self {
            match t {
                drift::ColumnType::String => ColumnType::String,
                drift::ColumnType::Integer => ColumnType::Integer,
                drift::ColumnType::Number => ColumnType::Number,
                drift::ColumnType::Boolean => ColumnType::Boolean,
                drift::ColumnType::Date => ColumnType::Date,
                drift::ColumnType::Timestamp => ColumnType::Timestamp,
                drift::ColumnType::Json => ColumnType::Json,
            }
        }
    }

    impl From<ColumnType> for drift::ColumnType {
        fn from(t: ColumnType) -> Self {
            match t {
                ColumnType::String => drift::ColumnType::String,
                ColumnType::Integer => drift::ColumnType::Integer,
                ColumnType::Number => drift::ColumnType::Number,
                ColumnType::Boolean => drift::ColumnType::Boolean,
                ColumnType::Date => drift::ColumnType::Date,
                ColumnType::Timestamp => drift::ColumnType::Timestamp,
                ColumnType::Json => drift::ColumnType::Json,
            }
        }
    }

    /// A column's `severity_override`: `ignore`, `warning` or `breaking`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    pub enum SeverityOverride {
        /// `ignore`.
        Ignore,
        /// `warning`.
        Warning,
        /// `breaking`.
        Breaking,
    }

    impl From<drift::SeverityOverride> for SeverityOverride {
        fn from(o: drift::SeverityOverride) -> Self {
            match o {
                drift::SeverityOverride::Ignore => SeverityOverride::Ignore,
                drift::SeverityOverride::Warning => SeverityOverride::Warning,
                drift::SeverityOverride::Breaking => SeverityOverride::Breaking,
            }
        }
    }

    impl From<SeverityOverride> for drift::SeverityOverride {
        fn from(o: SeverityOverride) -> Self {
            match o {
                SeverityOverride::Ignore => drift::SeverityOverride::Ignore,
                SeverityOverride::Warning => drift::SeverityOverride::Warning,
                SeverityOverride::Breaking => drift::SeverityOverride::Breaking,
            }
        }
    }

    /// A contract's compatibility mode by its JSON name (SPEC 6.2).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum Compatibility {
        /// `none`.
        None,
        /// `backward`.
        Backward,
        /// `forward`.
        Forward,
        /// `full`.
        Full,
        /// `backward_transitive`.
        BackwardTransitive,
        /// `forward_transitive`.
        ForwardTransitive,
        /// `full_transitive`.
        FullTransitive,
    }

    impl From<drift::Compatibility> for Compatibility {
        fn from(c: drift::Compatibility) -> Self {
            match c {
                drift::Compatibility::None => Compatibility::None,
                drift::Compatibility::Backward => Compatibility::Backward,
                drift::Compatibility::Forward => Compatibility::Forward,
                drift::Compatibility::Full => Compatibility::Full,
                drift::Compatibility::BackwardTransitive => Compatibility::BackwardTransitive,
                drift::Compatibility::ForwardTransitive => Compatibility::ForwardTransitive,
                drift::Compatibility::FullTransitive => Compatibility::FullTransitive,
            }
        }
    }

    impl From<Compatibility> for drift::Compatibility {
        fn from(c: Compatibility) -> Self {
            match c {
                Compatibility::None => drift::Compatibility::None,
                Compatibility::Backward => drift::Compatibility::Backward,
                Compatibility::Forward => drift::Compatibility::Forward,
                Compatibility::Full => drift::Compatibility::Full,
                Compatibility::BackwardTransitive => drift::Compatibility::BackwardTransitive,
                Compatibility::ForwardTransitive => drift::Compatibility::ForwardTransitive,
                Compatibility::FullTransitive => drift::Compatibility::FullTransitive,
            }
        }
    }

    /// A verdict by its JSON name: a check's `result`, a webhook's `events`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    pub enum Verdict {
        /// `pass`.
        Pass,
        /// `warning`.
        Warning,
        /// `breaking`.
        Breaking,
    }

    impl From<drift::Verdict> for Verdict {
        fn from(v: drift::Verdict) -> Self {
            match v {
                drift::Verdict::Pass => Verdict::Pass,
                drift::Verdict::Warning => Verdict::Warning,
                drift::Verdict::Breaking => Verdict::Breaking,
            }
        }
    }

    impl From<Verdict> for drift::Verdict {
        fn from(v: Verdict) -> Self {
            match v {
                Verdict::Pass => drift::Verdict::Pass,
                Verdict::Warning => drift::Verdict::Warning,
                Verdict::Breaking => drift::Verdict::Breaking,
            }
        }
    }

    /// A contract column as a request gives it: `{"name", "type", "required",
    /// "severity_override"?}`.
    #[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
    pub struct Column {
        name: String,
        #[serde(rename = "type")]
        column_type: ColumnType,
        required: bool,
        #[serde(default)]
        severity_override: Option<SeverityOverride>,
    }

    impl From<Column> for drift::Column {
        fn from(c: Column) -> Self {
            drift::Column {
                name: c.name,
                column_type: c.column_type.into(),
                required: c.required,
                severity_override: c.severity_override.map(Into::into),
            }
        }
    }

    /// A column of an incoming schema as a request gives it: `{"name", "type"}` (anything
    /// else, `required` included, is ignored).
    #[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
    pub struct IncomingColumn {
        name: String,
        #[serde(rename = "type")]
        column_type: ColumnType,
    }

    impl From<IncomingColumn> for drift::IncomingColumn {
        fn from(c: IncomingColumn) -> Self {
            drift::IncomingColumn {
                name: c.name,
                column_type: c.column_type.into(),
            }
        }
    }

    /// A schema's `rules`, in requests and answers alike; a rule left out of a request keeps
    /// its default.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(default)]
    pub struct Rules {
        allow_additional_columns: bool,
        treat_renames_as_breaking: bool,
        allow_type_widening: bool,
    }

    impl Default for Rules {
        /// The drift engine's defaults (the v1 scoring).
        fn default() -> Self {
            drift::Rules::default().into()
        }
    }

    impl From<drift::Rules> for Rules {
        fn from(r: drift::Rules) -> Self {
            Rules {
                allow_additional_columns: r.allow_additional_columns,
                treat_renames_as_breaking: r.treat_renames_as_breaking,
                allow_type_widening: r.allow_type_widening,
            }
        }
    }

    impl From<Rules> for drift::Rules {
        fn from(r: Rules) -> Self {
            drift::Rules {
                allow_additional_columns: r.allow_additional_columns,
                treat_renames_as_breaking: r.treat_renames_as_breaking,
                allow_type_widening: r.allow_type_widening,
            }
        }
    }
}

pub use doc::{
    Column as ColumnDoc, ColumnType as ColumnTypeDoc, Compatibility as CompatibilityDoc,
    IncomingColumn as IncomingColumnDoc, Rules as RulesDoc,
    SeverityOverride as SeverityOverrideDoc, Verdict as VerdictDoc,
};

// ---- answers ----

/// A type change's `kind`: `widening`, `narrowing` or `incompatible` (answers only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKindView {
    /// `widening`.
    Widening,
    /// `narrowing`.
    Narrowing,
    /// `incompatible`.
    Incompatible,
}

impl From<ChangeKind> for ChangeKindView {
    fn from(k: ChangeKind) -> Self {
        match k {
            ChangeKind::Widening => ChangeKindView::Widening,
            ChangeKind::Narrowing => ChangeKindView::Narrowing,
            ChangeKind::Incompatible => ChangeKindView::Incompatible,
        }
    }
}

/// A slice rendered element by element through a view, without collecting the views
/// (a check's diff is rendered on the hot path).
pub struct ListView<'a, T, V> {
    items: &'a [T],
    view: fn(&'a T) -> V,
}

impl<'a, T, V> ListView<'a, T, V> {
    /// `items`, each rendered by `view`.
    pub fn new(items: &'a [T], view: fn(&'a T) -> V) -> Self {
        ListView { items, view }
    }
}

impl<T, V: Serialize> Serialize for ListView<'_, T, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.items.iter().map(self.view))
    }
}

/// A contract column: `{"name", "type", "required"}`, and `severity_override` only when
/// set, so a contract without overrides reads exactly as in v1.
#[derive(Serialize)]
pub struct ColumnView<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    column_type: ColumnTypeDoc,
    required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    severity_override: Option<SeverityOverrideDoc>,
}

impl<'a> ColumnView<'a> {
    /// Renders a column.
    pub fn new(c: &'a Column) -> Self {
        ColumnView {
            name: &c.name,
            column_type: c.column_type.into(),
            required: c.required,
            severity_override: c.severity_override.map(Into::into),
        }
    }
}

/// A list of contract columns.
pub type ColumnsView<'a> = ListView<'a, Column, ColumnView<'a>>;

/// Renders contract columns.
pub fn columns_view(columns: &[Column]) -> ColumnsView<'_> {
    ListView::new(columns, ColumnView::new)
}

/// A column of an incoming schema: `{"name", "type"}` (the body `driftguard check`
/// sends).
#[derive(Serialize)]
pub struct IncomingColumnView<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    column_type: ColumnTypeDoc,
}

impl<'a> IncomingColumnView<'a> {
    /// Renders an incoming column.
    pub fn new(c: &'a IncomingColumn) -> Self {
        IncomingColumnView {
            name: &c.name,
            column_type: c.column_type.into(),
        }
    }
}

/// A list of incoming columns.
pub type IncomingColumnsView<'a> = ListView<'a, IncomingColumn, IncomingColumnView<'a>>;

/// Renders incoming columns.
pub fn incoming_columns_view(columns: &[IncomingColumn]) -> IncomingColumnsView<'_> {
    ListView::new(columns, IncomingColumnView::new)
}

/// A list of verdicts (a webhook's `events`).
pub type VerdictsView<'a> = ListView<'a, Verdict, VerdictDoc>;

/// Renders verdicts by name.
pub fn verdicts_view(verdicts: &[Verdict]) -> VerdictsView<'_> {
    ListView::new(verdicts, |v| VerdictDoc::from(*v))
}

/// `{"column", "from", "to", "kind"}`.
#[derive(Serialize)]
pub struct TypeChangeView<'a> {
    column: &'a str,
    from: ColumnTypeDoc,
    to: ColumnTypeDoc,
    kind: ChangeKindView,
}

impl<'a> TypeChangeView<'a> {
    /// Renders a type change.
    pub fn new(t: &'a TypeChange) -> Self {
        TypeChangeView {
            column: &t.column,
            from: t.from.into(),
            to: t.to.into(),
            kind: t.kind.into(),
        }
    }
}

/// `{"from", "to", "type"}`.
#[derive(Serialize)]
pub struct RenameView<'a> {
    from: &'a str,
    to: &'a str,
    #[serde(rename = "type")]
    column_type: ColumnTypeDoc,
}

impl<'a> RenameView<'a> {
    /// Renders a probable rename.
    pub fn new(r: &'a Rename) -> Self {
        RenameView {
            from: &r.from,
            to: &r.to,
            column_type: r.column_type.into(),
        }
    }
}

/// A check's `diff`: `{"removed", "type_changes", "added", "renames", "ignored"}`, every
/// list always present.
#[derive(Serialize)]
pub struct DiffView<'a> {
    removed: &'a [String],
    type_changes: ListView<'a, TypeChange, TypeChangeView<'a>>,
    added: &'a [String],
    renames: ListView<'a, Rename, RenameView<'a>>,
    ignored: &'a [String],
}

impl<'a> DiffView<'a> {
    /// Renders a diff.
    pub fn new(d: &'a Diff) -> Self {
        DiffView {
            removed: &d.removed,
            type_changes: ListView::new(&d.type_changes, TypeChangeView::new),
            added: &d.added,
            renames: ListView::new(&d.renames, RenameView::new),
            ignored: &d.ignored,
        }
    }
}

/// `{"column", "from", "to"}`: a flipped `required`.
#[derive(Serialize)]
pub struct RequiredChangeView<'a> {
    column: &'a str,
    from: bool,
    to: bool,
}

impl<'a> RequiredChangeView<'a> {
    /// Renders a `required` change.
    pub fn new(r: &'a RequiredChange) -> Self {
        RequiredChangeView {
            column: &r.column,
            from: r.from,
            to: r.to,
        }
    }
}

/// `{"from", "to"}`: a contract's rename.
#[derive(Serialize)]
pub struct NameChangeView<'a> {
    from: &'a str,
    to: &'a str,
}

impl<'a> NameChangeView<'a> {
    /// Renders a name change.
    pub fn new(n: &'a NameChange) -> Self {
        NameChangeView {
            from: &n.from,
            to: &n.to,
        }
    }
}

/// A version's `changes`: `{"added", "removed", "type_changes", "required_changes",
/// "name_changed", "rules_changed", "compatibility_changed"}` (`name_changed` and
/// `compatibility_changed` are `null` when they stayed).
#[derive(Serialize)]
pub struct VersionChangesView<'a> {
    added: &'a [String],
    removed: &'a [String],
    type_changes: ListView<'a, TypeChange, TypeChangeView<'a>>,
    required_changes: ListView<'a, RequiredChange, RequiredChangeView<'a>>,
    name_changed: Option<NameChangeView<'a>>,
    rules_changed: bool,
    compatibility_changed: Option<CompatibilityChangeView>,
}

/// `{"from", "to"}`: a compatibility mode that changed.
#[derive(Serialize)]
pub struct CompatibilityChangeView {
    from: CompatibilityDoc,
    to: CompatibilityDoc,
}

/// `{"version", "column", "rule", "message"}`: a change a compatibility mode refuses.
#[derive(Serialize)]
pub struct ViolationView<'a> {
    version: u32,
    column: &'a str,
    rule: &'static str,
    message: &'a str,
}

impl<'a> ViolationView<'a> {
    /// Renders violations.
    pub fn list(violations: &'a [Violation]) -> Vec<ViolationView<'a>> {
        violations
            .iter()
            .map(|v| ViolationView {
                version: v.version,
                column: &v.column,
                rule: v.rule.as_str(),
                message: &v.message,
            })
            .collect()
    }
}

impl<'a> VersionChangesView<'a> {
    /// Renders the changes between two versions.
    pub fn new(c: &'a VersionChanges) -> Self {
        VersionChangesView {
            added: &c.added,
            removed: &c.removed,
            type_changes: ListView::new(&c.type_changes, TypeChangeView::new),
            required_changes: ListView::new(&c.required_changes, RequiredChangeView::new),
            name_changed: c.name_changed.as_ref().map(NameChangeView::new),
            rules_changed: c.rules_changed,
            compatibility_changed: c.compatibility_changed.map(|m| CompatibilityChangeView {
                from: m.from.into(),
                to: m.to.into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests;
