//! `CREATE TABLE` statements, parsed by `sqlparser` in the asked dialect → columns (SPEC 6.1).
//!
//! A dump (`pg_dump --schema-only`, `mysqldump --no-data`) is mostly other statements: `SET`,
//! sequences, `COMMENT ON`, `ALTER TABLE … OWNER TO`, conditional `/*! … */` comments. The
//! whole text is tokenized once by sqlparser's tokenizer and split into statements at its
//! `;` tokens; a statement is parsed only when it is a `CREATE TABLE` (which must parse: a
//! syntax error there is the answer, with its line and column) or an `ALTER TABLE` (which
//! may add the primary key, as pg_dump writes it; one that does not parse is skipped). The
//! rest are skipped unparsed, so a statement sqlparser does not know never fails a dump.
//!
//! [`data_type_field`] maps a parsed SQL type to a [`Field`]; dbt's `data_type` strings go
//! through [`type_name_field`], the same mapping.

use sqlparser::ast::{
    AlterColumnOperation, AlterTableOperation, ColumnDef, ColumnOption, DataType, Expr, Ident,
    ObjectName, ObjectNamePart, Statement, TableConstraint,
};
use sqlparser::dialect::{
    BigQueryDialect, Dialect, DuckDbDialect, GenericDialect, MsSqlDialect, MySqlDialect,
    PostgreSqlDialect, SQLiteDialect, SnowflakeDialect,
};
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer, Whitespace};

use super::{columns, ConvertError, Converted, Field, Input, Options, Place, Shape};
use crate::drift::ColumnType;

/// The dialects SPEC 6.1's `dialect` names, `generic` first (the default).
pub const DIALECTS: [&str; 8] = [
    "generic",
    "postgres",
    "mysql",
    "bigquery",
    "snowflake",
    "duckdb",
    "sqlite",
    "mssql",
];

/// How deep brackets (`(`, `[`, `{`) may nest in one statement. sqlparser's own recursion
/// limit (its `std` feature) stops deep expressions and types; this bound also covers the
/// paths it does not count, without the stack-growing `recursive-protection` feature.
const MAX_NESTING: usize = 64;

/// Words that may stand between `CREATE` and `TABLE` (`CREATE OR REPLACE TEMPORARY TABLE`).
const TABLE_MODIFIERS: [&str; 14] = [
    "OR",
    "REPLACE",
    "TEMP",
    "TEMPORARY",
    "GLOBAL",
    "LOCAL",
    "UNLOGGED",
    "TRANSIENT",
    "VOLATILE",
    "EXTERNAL",
    "ICEBERG",
    "DYNAMIC",
    "HYBRID",
    "SNAPSHOT",
];

/// Converts `source` into columns and warnings.
pub fn convert(source: &[u8], options: &Options) -> Result<Converted, ConvertError> {
    let dialect_name = options.dialect.as_deref().unwrap_or(DIALECTS[0]);
    let dialect = dialect(dialect_name)?;
    let text = text(source)?;
    if text.trim().is_empty() {
        return Err(ConvertError::source("the SQL is empty"));
    }
    let tables = tables(text, dialect.as_ref())?;
    let table = pick(&tables, options.table.as_deref())?;
    if table.columns.is_empty() && table.from_query {
        return Err(ConvertError::source(format!(
            "the table {} is created from a query or another table; its columns are not written in the DDL",
            table.name
        )));
    }
    let mut warnings = Vec::new();
    let fields = table
        .columns
        .iter()
        .map(|column| {
            let required = table
                .primary_key
                .iter()
                .any(|k| same_ident(k, &column.name))
                || column.options.iter().any(|o| {
                    matches!(
                        o.option,
                        ColumnOption::NotNull | ColumnOption::PrimaryKey(_)
                    )
                });
            data_type_field(
                column.name.value.clone(),
                required,
                &column.data_type,
                &column.name.value,
                &mut warnings,
            )
        })
        .collect();
    Ok(Converted {
        columns: columns(fields, options.nested)?,
        warnings,
    })
}

/// The sqlparser dialect of one of [`DIALECTS`]; any other name is an error listing them.
pub(super) fn dialect(name: &str) -> Result<Box<dyn Dialect>, ConvertError> {
    let dialect: Box<dyn Dialect> = match name {
        "generic" => Box::new(GenericDialect),
        "postgres" => Box::new(PostgreSqlDialect {}),
        "mysql" => Box::new(MySqlDialect {}),
        "bigquery" => Box::new(BigQueryDialect),
        "snowflake" => Box::new(SnowflakeDialect),
        "duckdb" => Box::new(DuckDbDialect {}),
        "sqlite" => Box::new(SQLiteDialect {}),
        "mssql" => Box::new(MsSqlDialect {}),
        _ => {
            return Err(ConvertError::option(
                Input::Dialect,
                format!(
                    "unknown SQL dialect {name:?}; the dialects are {}",
                    DIALECTS.join(", ")
                ),
            ))
        }
    };
    Ok(dialect)
}

/// The document as text: UTF-8, without a byte-order mark.
fn text(source: &[u8]) -> Result<&str, ConvertError> {
    let text = std::str::from_utf8(source).map_err(|e| {
        let (valid, _) = source.split_at(e.valid_up_to());
        // The bytes before the fault are valid UTF-8, so this never loses the place.
        let before = String::from_utf8_lossy(valid);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        ConvertError::at(
            line_column(line as u64, column as u64),
            "the SQL is not UTF-8 text",
        )
    })?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

/// A table as the document creates it, with the primary key any statement gives it.
struct Table {
    /// The name as written, qualified or not.
    name: ObjectName,
    /// The column definitions, in order.
    columns: Vec<ColumnDef>,
    /// Columns of a `PRIMARY KEY (…)` table constraint, a later `ALTER TABLE … ADD
    /// CONSTRAINT … PRIMARY KEY` or `ALTER COLUMN … SET NOT NULL`: required like `NOT NULL`
    /// ones.
    primary_key: Vec<Ident>,
    /// `CREATE TABLE … AS SELECT`, `… LIKE`, `… CLONE`: columns not written out.
    from_query: bool,
}

/// What a statement is, from its first words.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `CREATE [modifiers] TABLE`: parsed, and must parse.
    CreateTable,
    /// `ALTER TABLE`: parsed for an added primary key; skipped when it does not parse.
    AlterTable,
    /// Anything else (or nothing but comments): skipped unparsed.
    Other,
}

/// Every table the text creates, in order.
fn tables(text: &str, dialect: &dyn Dialect) -> Result<Vec<Table>, ConvertError> {
    let tokens = Tokenizer::new(dialect, text)
        .tokenize_with_location()
        .map_err(|e| ConvertError::at(place(e.location), e.message))?;
    let mut tables: Vec<Table> = Vec::new();
    for statement in statements(tokens) {
        let kind = kind(&statement);
        if kind == Kind::Other {
            continue;
        }
        let start = statement
            .iter()
            .find(|t| !matches!(t.token, Token::Whitespace(_)))
            .map_or(Location::new(1, 1), |t| t.span.start);
        if let Some(deep) = too_deep(&statement) {
            if kind == Kind::AlterTable {
                continue;
            }
            return Err(ConvertError::at(
                place(deep),
                format!("brackets nested deeper than {MAX_NESTING} levels"),
            ));
        }
        let parsed = Parser::new(dialect)
            .with_tokens_with_locations(statement)
            .parse_statement();
        match (parsed, kind) {
            (Ok(Statement::CreateTable(create)), _) => {
                let primary_key = create
                    .constraints
                    .iter()
                    .flat_map(primary_key_columns)
                    .collect();
                tables.push(Table {
                    from_query: create.query.is_some()
                        || create.like.is_some()
                        || create.clone.is_some(),
                    name: create.name,
                    columns: create.columns,
                    primary_key,
                });
            }
            (Ok(Statement::AlterTable(alter)), _) => {
                // `ADD CONSTRAINT … PRIMARY KEY (…)` and `ALTER COLUMN … SET NOT NULL`.
                let added = alter.operations.iter().flat_map(|op| match op {
                    AlterTableOperation::AddConstraint { constraint, .. } => {
                        primary_key_columns(constraint)
                    }
                    AlterTableOperation::AlterColumn {
                        column_name,
                        op: AlterColumnOperation::SetNotNull,
                    } => vec![column_name.clone()],
                    _ => Vec::new(),
                });
                let added: Vec<Ident> = added.collect();
                if let Some(table) = tables.iter_mut().find(|t| same_name(&t.name, &alter.name)) {
                    table.primary_key.extend(added);
                }
            }
            (Err(e), Kind::CreateTable) => return Err(parser_error(e, start)),
            // A CREATE TABLE some dialect reads as another statement (SQLite's
            // `CREATE VIRTUAL TABLE`), or an ALTER TABLE that does not parse: skipped.
            _ => {}
        }
    }
    Ok(tables)
}

/// The tokens split into statements at each `;`, each without its `;`. A psql
/// meta-command at the start of a statement (pg_dump's `\restrict`) runs to the end of its
/// line and is dropped.
fn statements(tokens: Vec<TokenWithSpan>) -> Vec<Vec<TokenWithSpan>> {
    let mut statements = Vec::new();
    let mut current: Vec<TokenWithSpan> = Vec::new();
    let mut in_meta_command = false;
    for token in tokens {
        match &token.token {
            Token::SemiColon if !in_meta_command => {
                statements.push(std::mem::take(&mut current));
                continue;
            }
            Token::Backslash
                if current
                    .iter()
                    .all(|t| matches!(t.token, Token::Whitespace(_))) =>
            {
                in_meta_command = true;
            }
            Token::Whitespace(Whitespace::Newline) if in_meta_command => {
                in_meta_command = false;
                current.clear();
                continue;
            }
            // A `--` comment holds its line's newline.
            Token::Whitespace(Whitespace::SingleLineComment { .. }) if in_meta_command => {
                in_meta_command = false;
                current.clear();
                continue;
            }
            _ => {}
        }
        if !in_meta_command {
            current.push(token);
        }
    }
    if !in_meta_command {
        statements.push(current);
    }
    statements
}

/// Whether a statement creates a table, alters one, or is something else.
fn kind(statement: &[TokenWithSpan]) -> Kind {
    let mut words = statement.iter().filter_map(|t| match &t.token {
        Token::Whitespace(_) => None,
        Token::Word(w) if w.quote_style.is_none() => Some(Some(w.value.as_str())),
        _ => Some(None),
    });
    let is =
        |word: Option<&str>, keyword: &str| word.is_some_and(|w| w.eq_ignore_ascii_case(keyword));
    match words.next().flatten() {
        Some(w) if w.eq_ignore_ascii_case("CREATE") => {
            for word in words {
                if is(word, "TABLE") {
                    return Kind::CreateTable;
                }
                if !TABLE_MODIFIERS.iter().any(|m| is(word, m)) {
                    return Kind::Other;
                }
            }
            Kind::Other
        }
        Some(w) if w.eq_ignore_ascii_case("ALTER") && is(words.next().flatten(), "TABLE") => {
            Kind::AlterTable
        }
        _ => Kind::Other,
    }
}

/// Where a statement's brackets first nest deeper than [`MAX_NESTING`], if they do.
fn too_deep(statement: &[TokenWithSpan]) -> Option<Location> {
    let mut depth = 0usize;
    for token in statement {
        match token.token {
            Token::LParen | Token::LBracket | Token::LBrace => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(token.span.start);
                }
            }
            Token::RParen | Token::RBracket | Token::RBrace => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// The columns a table constraint makes the primary key.
fn primary_key_columns(constraint: &TableConstraint) -> Vec<Ident> {
    match constraint {
        TableConstraint::PrimaryKey(key) => key
            .columns
            .iter()
            .filter_map(|c| match &c.column.expr {
                Expr::Identifier(ident) => Some(ident.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The table `table` names (by the last part of a qualified name, or by as many trailing
/// parts as it has), or the only table when it is absent.
fn pick<'t>(tables: &'t [Table], table: Option<&str>) -> Result<&'t Table, ConvertError> {
    let names = || {
        let names: Vec<String> = tables.iter().map(|t| t.name.to_string()).collect();
        names.join(", ")
    };
    let Some(wanted) = table else {
        return match tables {
            [] => Err(ConvertError::source(
                "no CREATE TABLE statement found (other statements are skipped)",
            )),
            [only] => Ok(only),
            _ => Err(ConvertError::option(
                Input::Table,
                format!(
                    "the SQL creates {} tables ({}); say which one with table",
                    tables.len(),
                    names()
                ),
            )),
        };
    };
    let wanted_parts: Vec<&str> = wanted.split('.').collect();
    let found: Vec<&Table> = tables
        .iter()
        .filter(|t| {
            let parts = name_parts(&t.name);
            parts.len() >= wanted_parts.len()
                && parts[parts.len() - wanted_parts.len()..]
                    .iter()
                    .zip(&wanted_parts)
                    .all(|(ident, wanted)| ident_is(ident, wanted))
        })
        .collect();
    match found.as_slice() {
        [one] => Ok(one),
        [] if tables.is_empty() => Err(ConvertError::source(
            "no CREATE TABLE statement found (other statements are skipped)",
        )),
        [] => Err(ConvertError::option(
            Input::Table,
            format!("no table named {wanted:?}; the SQL creates {}", names()),
        )),
        several => {
            let names: Vec<String> = several.iter().map(|t| t.name.to_string()).collect();
            Err(ConvertError::option(
                Input::Table,
                format!(
                    "several tables are named {wanted:?} ({}); qualify it with its schema",
                    names.join(", ")
                ),
            ))
        }
    }
}

/// The identifier parts of a name (`public.orders` → `public`, `orders`).
fn name_parts(name: &ObjectName) -> Vec<&Ident> {
    name.0
        .iter()
        .filter_map(|part| match part {
            ObjectNamePart::Identifier(ident) => Some(ident),
            ObjectNamePart::Function(_) => None,
        })
        .collect()
}

/// Whether an identifier of the SQL is `wanted`: exactly when it was quoted, ignoring case
/// when not.
fn ident_is(ident: &Ident, wanted: &str) -> bool {
    match ident.quote_style {
        Some(_) => ident.value == wanted,
        None => ident.value.eq_ignore_ascii_case(wanted),
    }
}

/// Whether two identifiers of the SQL name the same thing (exactly when both are quoted).
fn same_ident(a: &Ident, b: &Ident) -> bool {
    if a.quote_style.is_some() && b.quote_style.is_some() {
        a.value == b.value
    } else {
        a.value.eq_ignore_ascii_case(&b.value)
    }
}

/// Whether two table names are the same table: the parts of the shorter end the longer
/// (`ALTER TABLE orders` and `CREATE TABLE public.orders`).
fn same_name(a: &ObjectName, b: &ObjectName) -> bool {
    let (a, b) = (name_parts(a), name_parts(b));
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    !short.is_empty()
        && long[long.len() - short.len()..]
            .iter()
            .zip(&short)
            .all(|(x, y)| same_ident(x, y))
}

/// A parser error as a [`ConvertError`] at the line and column sqlparser names (its
/// message ends ` at Line: L, Column: C`), else at the statement's start.
fn parser_error(error: ParserError, start: Location) -> ConvertError {
    let message = match error {
        ParserError::TokenizerError(m) | ParserError::ParserError(m) => m,
        ParserError::RecursionLimitExceeded => "the statement is nested too deeply".to_owned(),
    };
    let located = message.rsplit_once(" at Line: ").and_then(|(text, at)| {
        let (line, column) = at.split_once(", Column: ")?;
        Some((text, line.parse().ok()?, column.parse().ok()?))
    });
    match located {
        Some((text, line, column)) => ConvertError::at(line_column(line, column), text),
        None => ConvertError::at(place(start), message),
    }
}

/// A sqlparser location as a place (never column 0, which it uses for "no place").
fn place(location: Location) -> Place {
    line_column(location.line, location.column)
}

fn line_column(line: u64, column: u64) -> Place {
    Place::LineColumn {
        line: line.max(1),
        column: column.max(1),
    }
}

/// A field of SQL type `data_type`: one of the seven types by SPEC 6.1's table, a
/// `STRUCT` with named fields as a record (one `json` column, or its leaves when
/// flattened), and an unknown type as `string` with a warning naming `path` and the type.
pub(super) fn data_type_field(
    name: String,
    required: bool,
    data_type: &DataType,
    path: &str,
    warnings: &mut Vec<String>,
) -> Field {
    let shape = match data_type {
        DataType::Struct(fields, _) | DataType::Tuple(fields)
            if !fields.is_empty() && fields.iter().all(|f| f.field_name.is_some()) =>
        {
            Shape::Record(
                fields
                    .iter()
                    .map(|f| {
                        let name = f
                            .field_name
                            .as_ref()
                            .map_or(String::new(), |n| n.value.clone());
                        let path = format!("{path}.{name}");
                        data_type_field(name, false, &f.field_type, &path, warnings)
                    })
                    .collect(),
            )
        }
        DataType::Collate(inner, _)
        | DataType::Nullable(inner)
        | DataType::LowCardinality(inner)
        | DataType::Zerofill(inner) => {
            return data_type_field(name, required, inner, path, warnings);
        }
        other => match column_type(other) {
            Some(ColumnType::Json) => Shape::Whole,
            Some(column_type) => Shape::Scalar(column_type),
            None => {
                warnings.push(format!(
                    "column {path:?}: unknown SQL type {:?}, read as string",
                    other.to_string()
                ));
                Shape::Scalar(ColumnType::String)
            }
        },
    };
    Field {
        name,
        required,
        shape,
    }
}

/// A field for a type written as text (dbt's `data_type`), parsed as a SQL type in
/// `dialect`; text that is no type is `string` with a warning, like an unknown type.
pub(super) fn type_name_field(
    name: &str,
    required: bool,
    type_name: &str,
    dialect: &dyn Dialect,
    warnings: &mut Vec<String>,
) -> Field {
    let parsed = Parser::new(dialect)
        .try_with_sql(type_name)
        .and_then(|mut parser| {
            let data_type = parser.parse_data_type()?;
            // The whole text must be the type (`int not null` is not one).
            match parser.peek_token().token {
                Token::EOF => Ok(data_type),
                _ => Err(ParserError::ParserError(String::new())),
            }
        });
    match parsed {
        Ok(data_type) => data_type_field(name.to_owned(), required, &data_type, name, warnings),
        Err(_) => {
            warnings.push(format!(
                "column {name:?}: unknown SQL type {type_name:?}, read as string"
            ));
            Field::scalar(name, required, ColumnType::String)
        }
    }
}

/// SPEC 6.1's SQL type table: the column type of a SQL type, whatever its parameters
/// (`VARCHAR(255)`, `DECIMAL(10,2)`), or `None` for a type the table does not name.
pub(super) fn column_type(data_type: &DataType) -> Option<ColumnType> {
    use DataType as T;
    let column_type = match data_type {
        T::TinyInt(_)
        | T::TinyIntUnsigned(_)
        | T::UTinyInt
        | T::Int2(_)
        | T::Int2Unsigned(_)
        | T::SmallInt(_)
        | T::SmallIntUnsigned(_)
        | T::USmallInt
        | T::MediumInt(_)
        | T::MediumIntUnsigned(_)
        | T::Int(_)
        | T::Int4(_)
        | T::Int8(_)
        | T::Int16
        | T::Int32
        | T::Int64
        | T::Int128
        | T::Int256
        | T::Integer(_)
        | T::IntUnsigned(_)
        | T::Int4Unsigned(_)
        | T::IntegerUnsigned(_)
        | T::HugeInt
        | T::UHugeInt
        | T::UInt8
        | T::UInt16
        | T::UInt32
        | T::UInt64
        | T::UInt128
        | T::UInt256
        | T::BigInt(_)
        | T::BigIntUnsigned(_)
        | T::UBigInt
        | T::Int8Unsigned(_)
        | T::Signed
        | T::SignedInteger
        | T::Unsigned
        | T::UnsignedInteger => ColumnType::Integer,
        T::Numeric(_)
        | T::Decimal(_)
        | T::DecimalUnsigned(_)
        | T::BigNumeric(_)
        | T::BigDecimal(_)
        | T::Dec(_)
        | T::DecUnsigned(_)
        | T::Float(_)
        | T::FloatUnsigned(_)
        | T::Float4
        | T::Float32
        | T::Float64
        | T::Real
        | T::RealUnsigned
        | T::Float8
        | T::Double(_)
        | T::DoubleUnsigned(_)
        | T::DoublePrecision
        | T::DoublePrecisionUnsigned => ColumnType::Number,
        T::Bool | T::Boolean => ColumnType::Boolean,
        T::Date | T::Date32 => ColumnType::Date,
        T::Timestamp(..) | T::TimestampNtz(_) | T::Datetime(_) | T::Datetime64(..) => {
            ColumnType::Timestamp
        }
        T::JSON
        | T::JSONB
        | T::Array(_)
        | T::Map(..)
        | T::Struct(..)
        | T::Tuple(_)
        | T::Nested(_)
        | T::Object(_)
        | T::Union(_) => ColumnType::Json,
        T::Character(_)
        | T::Char(_)
        | T::CharacterVarying(_)
        | T::CharVarying(_)
        | T::Varchar(_)
        | T::Nvarchar(_)
        | T::Uuid
        | T::CharacterLargeObject(_)
        | T::CharLargeObject(_)
        | T::Clob(_)
        | T::Binary(_)
        | T::Varbinary(_)
        | T::Blob(_)
        | T::TinyBlob
        | T::MediumBlob
        | T::LongBlob
        | T::Bytes(_)
        | T::Text
        | T::TinyText
        | T::MediumText
        | T::LongText
        | T::String(_)
        | T::FixedString(_)
        | T::Bytea
        | T::Time(..)
        | T::Interval { .. }
        | T::Enum(..) => ColumnType::String,
        T::Collate(inner, _)
        | T::Nullable(inner)
        | T::LowCardinality(inner)
        | T::Zerofill(inner) => return column_type(inner),
        T::Custom(name, _) => return custom_column_type(name),
        _ => return None,
    };
    Some(column_type)
}

/// A type sqlparser reads as a plain name (`SERIAL`, `MONEY`, Snowflake's `VARIANT`), by
/// the last part of the name, ignoring case.
fn custom_column_type(name: &ObjectName) -> Option<ColumnType> {
    let last = name_parts(name).last()?.value.to_ascii_lowercase();
    let column_type = match last.as_str() {
        "serial" | "bigserial" | "smallserial" | "serial2" | "serial4" | "serial8" | "int1"
        | "byteint" => ColumnType::Integer,
        "money" | "smallmoney" | "number" | "float2" => ColumnType::Number,
        "bool" | "boolean" => ColumnType::Boolean,
        "date" => ColumnType::Date,
        "timestamptz" | "timestamp_tz" | "timestamp_ltz" | "timestamp_ntz" | "datetime"
        | "datetime2" | "datetimeoffset" | "smalldatetime" => ColumnType::Timestamp,
        "json" | "jsonb" | "variant" | "object" | "array" | "struct" | "map" | "list" => {
            ColumnType::Json
        }
        "char" | "varchar" | "nchar" | "nvarchar" | "ntext" | "text" | "citext" | "string"
        | "uuid" | "uniqueidentifier" | "bytea" | "blob" | "binary" | "varbinary" | "time"
        | "timetz" | "interval" | "enum" => ColumnType::String,
        _ => return None,
    };
    Some(column_type)
}

// The golden walker is dbt's too.
#[cfg(test)]
pub(super) mod tests;
