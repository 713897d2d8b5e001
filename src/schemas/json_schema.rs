//! A JSON Schema document (drafts 7 and 2020-12) → columns (SPEC 6.1).
//!
//! serde_json parses the document; this file walks it. The top level must be an object
//! schema with `properties`; each property becomes a [`Field`], an object with
//! `properties` a nested record for [`columns`] to keep whole or flatten. `$ref`s resolve
//! inside the document only (`#/$defs/…`, `#/definitions/…`).

use serde_json::{Map, Value};

use super::avro::{json_error, union_shape, MAX_DEPTH, MAX_FIELDS};
use super::{columns, ConvertError, Converted, Field, Nested, Options, Shape};
use crate::drift::ColumnType;

/// The `$ref` prefixes that resolve: the definitions of drafts 2019+ and of draft 7.
const LOCAL_REFS: [&str; 2] = ["#/$defs/", "#/definitions/"];

/// How many `$ref`s may follow each other before a schema: more is a `400` (a long chain
/// is as unusable as a cycle, and a cycle is found well before this).
const MAX_REF_CHAIN: usize = 64;

/// Converts `source` (a JSON Schema document) into columns and warnings.
pub fn convert(source: &[u8], options: &Options) -> Result<Converted, ConvertError> {
    if source.is_empty() {
        return Err(ConvertError::source(
            "the file is empty: expected a JSON Schema document",
        ));
    }
    let source = source.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(source);
    let document: Value = serde_json::from_slice(source).map_err(json_error)?;
    let mut walk = Walk {
        document: &document,
        nested: options.nested,
        expanding: Vec::new(),
        fields: 0,
        warnings: Vec::new(),
    };
    let top = walk.resolve(&document, String::new())?;
    let properties = match (top.schema.get("properties"), top_is_object(top.schema)) {
        (Some(Value::Object(properties)), true) => properties,
        _ => {
            return Err(ConvertError::at_pointer(
                top.pointer,
                "the top level must be an object schema with \"properties\"",
            ))
        }
    };
    walk.expanding.push(top.pointer.clone());
    let fields = walk.properties(top.schema, properties, &top.pointer, "")?;
    let warnings = walk.warnings;
    Ok(Converted {
        columns: columns(fields, options.nested)?,
        warnings,
    })
}

/// Whether the top level's `type` (if any) is `object`.
fn top_is_object(schema: &Value) -> bool {
    match schema.get("type") {
        None => true,
        Some(Value::String(t)) => t == "object",
        Some(Value::Array(types)) => types.iter().any(|t| t == "object"),
        Some(_) => false,
    }
}

/// A schema after its `$ref`s, with where it is and whether a schema on the way admitted
/// `null` (draft 2020-12 lets a `$ref` have siblings such as `nullable`).
struct Resolved<'d> {
    schema: &'d Value,
    /// The JSON Pointer of `schema` in the document.
    pointer: String,
    null_on_the_way: bool,
}

/// What a schema admits, before SPEC 6.1's union rule picks one shape.
#[derive(Default)]
struct Admits {
    /// Each non-null type, with its name for a warning.
    shapes: Vec<(Shape, String)>,
    /// `"null"` in `type`, `nullable: true`, a `null` in `enum`, or a null branch.
    null: bool,
}

/// One conversion's walk over the document.
struct Walk<'d> {
    document: &'d Value,
    /// Only flattening looks inside a recursive object, so only it warns about one.
    nested: Nested,
    /// The pointers of the object schemas being expanded: a property that refers back
    /// to one of them is a recursion, kept as one `json` column.
    expanding: Vec<String>,
    /// Fields produced so far, against [`MAX_FIELDS`].
    fields: usize,
    warnings: Vec<String>,
}

impl<'d> Walk<'d> {
    /// Follows `schema`'s `$ref`s (at `pointer`) to the schema they name.
    fn resolve(&self, schema: &'d Value, pointer: String) -> Result<Resolved<'d>, ConvertError> {
        let mut resolved = Resolved {
            schema,
            pointer,
            null_on_the_way: false,
        };
        let mut chain: Vec<String> = Vec::new();
        while let Some(reference) = resolved.schema.get("$ref") {
            let at = format!("{}/$ref", resolved.pointer);
            let Some(reference) = reference.as_str() else {
                return Err(ConvertError::at_pointer(at, "$ref must be a string"));
            };
            if !LOCAL_REFS.iter().any(|p| reference.starts_with(p)) {
                let why = if reference.starts_with('#') {
                    "is not a definition"
                } else {
                    "points outside the document"
                };
                return Err(ConvertError::at_pointer(
                    at,
                    format!(
                        "the $ref {reference:?} {why}: only \"#/$defs/…\" and \"#/definitions/…\" resolve"
                    ),
                ));
            }
            if chain.iter().any(|r| r == reference) {
                chain.push(reference.to_owned());
                return Err(ConvertError::at_pointer(
                    at,
                    format!("a $ref cycle: {}", chain.join(" → ")),
                ));
            }
            if chain.len() >= MAX_REF_CHAIN {
                return Err(ConvertError::at_pointer(
                    at,
                    format!("more than {MAX_REF_CHAIN} $refs in a row"),
                ));
            }
            chain.push(reference.to_owned());
            resolved.null_on_the_way |= admits_null_here(resolved.schema);
            let target = &reference[1..];
            let Some(schema) = self.document.pointer(target) else {
                return Err(ConvertError::at_pointer(
                    at,
                    format!("the $ref {reference:?} points to nothing in the document"),
                ));
            };
            resolved.schema = schema;
            resolved.pointer = target.to_owned();
        }
        Ok(resolved)
    }

    /// The fields of an object schema's `properties` (the schema at `pointer`, its path
    /// `path`), required when listed in its `required` and not admitting `null`.
    fn properties(
        &mut self,
        object: &'d Value,
        properties: &'d Map<String, Value>,
        pointer: &str,
        path: &str,
    ) -> Result<Vec<Field>, ConvertError> {
        if self.expanding.len() > MAX_DEPTH {
            return Err(ConvertError::at_pointer(
                pointer,
                format!("objects nest more than {MAX_DEPTH} deep"),
            ));
        }
        let required: Vec<&str> = match object.get("required") {
            None => Vec::new(),
            Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).collect(),
            // Draft 3's `required: true` on the property itself is not read.
            Some(_) => Vec::new(),
        };
        let mut fields = Vec::with_capacity(properties.len());
        for (name, schema) in properties {
            self.fields += 1;
            if self.fields > MAX_FIELDS {
                return Err(ConvertError::source(format!(
                    "the schema expands to more than {MAX_FIELDS} fields"
                )));
            }
            let at = format!("{pointer}/properties/{}", escape(name));
            let path = if path.is_empty() {
                name.clone()
            } else {
                format!("{path}.{name}")
            };
            let admits = self.admits(schema, at, &path, 0)?;
            let nullable = admits.null;
            let shape = self.one_shape(admits, &path);
            fields.push(Field {
                name: name.clone(),
                required: !nullable && required.contains(&name.as_str()),
                shape,
            });
        }
        Ok(fields)
    }

    /// Everything `schema` (at `pointer`) admits. `branches` counts the `anyOf`/`oneOf`
    /// levels above it, against [`MAX_DEPTH`].
    fn admits(
        &mut self,
        schema: &'d Value,
        pointer: String,
        path: &str,
        branches: usize,
    ) -> Result<Admits, ConvertError> {
        if branches > MAX_DEPTH {
            return Err(ConvertError::at_pointer(
                pointer,
                format!("anyOf/oneOf nest more than {MAX_DEPTH} deep"),
            ));
        }
        let mut admits = Admits::default();
        match schema {
            // `true` admits anything, `false` nothing: neither has a type.
            Value::Bool(_) => {
                admits.shapes.push((Shape::Whole, "any".into()));
                return Ok(admits);
            }
            Value::Object(_) => {}
            _ => {
                return Err(ConvertError::at_pointer(
                    pointer,
                    "a schema must be an object or a boolean",
                ))
            }
        }
        let resolved = self.resolve(schema, pointer)?;
        let (schema, pointer) = (resolved.schema, resolved.pointer);
        admits.null = resolved.null_on_the_way || admits_null_here(schema);
        if !schema.is_object() {
            admits.shapes.push((Shape::Whole, "any".into()));
            return Ok(admits);
        }
        let format = schema.get("format").and_then(Value::as_str);
        if let Some(types) = schema.get("type") {
            let types: Vec<(&Value, String)> = match types {
                Value::Array(types) => types
                    .iter()
                    .enumerate()
                    .map(|(i, t)| (t, format!("{pointer}/type/{i}")))
                    .collect(),
                one => vec![(one, format!("{pointer}/type"))],
            };
            for (name, at) in types {
                let shape = match name.as_str() {
                    Some("null") => continue,
                    Some("integer") => Shape::Scalar(ColumnType::Integer),
                    Some("number") => Shape::Scalar(ColumnType::Number),
                    Some("boolean") => Shape::Scalar(ColumnType::Boolean),
                    Some("string") => Shape::Scalar(string_type(format)),
                    Some("array") => Shape::Whole,
                    Some("object") => self.object(schema, &pointer, path)?,
                    Some(other) => {
                        return Err(ConvertError::at_pointer(
                            at,
                            format!("unknown type {other:?}"),
                        ))
                    }
                    None => return Err(ConvertError::at_pointer(at, "a type must be a string")),
                };
                admits.shapes.push((shape, type_name(name)));
            }
        } else if let Some(values) = schema.get("enum") {
            let Some(values) = values.as_array() else {
                return Err(ConvertError::at_pointer(
                    format!("{pointer}/enum"),
                    "enum must be an array",
                ));
            };
            for value in values {
                admits_value(&mut admits, value, format);
            }
        } else if let Some(value) = schema.get("const") {
            admits_value(&mut admits, value, format);
        } else if let Some((keyword, branches_of)) = ["anyOf", "oneOf"]
            .into_iter()
            .find_map(|k| schema.get(k).map(|b| (k, b)))
        {
            let Some(list) = branches_of.as_array() else {
                return Err(ConvertError::at_pointer(
                    format!("{pointer}/{keyword}"),
                    format!("{keyword} must be an array"),
                ));
            };
            for (i, branch) in list.iter().enumerate() {
                let at = format!("{pointer}/{keyword}/{i}");
                let branch = self.admits(branch, at, path, branches + 1)?;
                admits.null |= branch.null;
                admits.shapes.extend(branch.shapes);
            }
        } else if let Some(Value::Array(all)) = schema.get("allOf") {
            // `allOf: [{"$ref": …}]`, the idiom that gives a reference a description.
            match all.as_slice() {
                [only] => {
                    let at = format!("{pointer}/allOf/0");
                    let branch = self.admits(only, at, path, branches + 1)?;
                    admits.null |= branch.null;
                    admits.shapes.extend(branch.shapes);
                }
                _ => admits.shapes.push((Shape::Whole, "any".into())),
            }
        } else {
            // No type: anything, one `json` column (SPEC 6.1).
            admits.shapes.push((Shape::Whole, "any".into()));
        }
        Ok(admits)
    }

    /// An `object`: a record of its `properties`, or one `json` column without them.
    fn object(
        &mut self,
        schema: &'d Value,
        pointer: &str,
        path: &str,
    ) -> Result<Shape, ConvertError> {
        let properties = match schema.get("properties") {
            None => return Ok(Shape::Whole),
            Some(Value::Object(properties)) => properties,
            Some(_) => {
                return Err(ConvertError::at_pointer(
                    format!("{pointer}/properties"),
                    "properties must be an object",
                ))
            }
        };
        if self.expanding.iter().any(|p| p == pointer) {
            if self.nested == Nested::Flatten {
                self.warn(
                    path,
                    &format!(
                        "the schema at {pointer:?} contains itself, so it stays one json column"
                    ),
                );
            }
            return Ok(Shape::Whole);
        }
        self.expanding.push(pointer.to_owned());
        let fields = self.properties(schema, properties, pointer, path);
        self.expanding.pop();
        Ok(Shape::Record(fields?))
    }

    /// The one shape of what a property admits, by SPEC 6.1's union rule.
    fn one_shape(&mut self, admits: Admits, path: &str) -> Shape {
        let names: Vec<String> = admits.shapes.iter().map(|(_, n)| n.clone()).collect();
        let shapes: Vec<Shape> = admits.shapes.into_iter().map(|(s, _)| s).collect();
        if shapes.is_empty() {
            self.warn(path, "only null is allowed, so it becomes string");
            return Shape::Scalar(ColumnType::String);
        }
        match union_shape(shapes) {
            Some(shape) => shape,
            None => {
                self.warn(
                    path,
                    &format!("the union of {} becomes json", names.join(", ")),
                );
                Shape::Scalar(ColumnType::Json)
            }
        }
    }

    fn warn(&mut self, path: &str, what: &str) {
        self.warnings.push(format!("property {path:?}: {what}"));
    }
}

/// Whether this schema itself (not its `$ref`) admits `null`: `"null"` in `type`,
/// or `nullable: true` (OpenAPI's spelling).
fn admits_null_here(schema: &Value) -> bool {
    let in_type = match schema.get("type") {
        Some(Value::String(t)) => t == "null",
        Some(Value::Array(types)) => types.iter().any(|t| t == "null"),
        _ => false,
    };
    in_type || schema.get("nullable") == Some(&Value::Bool(true))
}

/// The type of an `enum` or `const` value.
fn admits_value(admits: &mut Admits, value: &Value, format: Option<&str>) {
    let (shape, name) = match value {
        Value::Null => {
            admits.null = true;
            return;
        }
        Value::Bool(_) => (Shape::Scalar(ColumnType::Boolean), "boolean"),
        Value::Number(n) if n.is_i64() || n.is_u64() => {
            (Shape::Scalar(ColumnType::Integer), "integer")
        }
        Value::Number(_) => (Shape::Scalar(ColumnType::Number), "number"),
        Value::String(_) => (Shape::Scalar(string_type(format)), "string"),
        Value::Array(_) => (Shape::Whole, "array"),
        Value::Object(_) => (Shape::Whole, "object"),
    };
    admits.shapes.push((shape, name.to_owned()));
}

/// A `string` by its `format`: `date` and `date-time` have their own types.
fn string_type(format: Option<&str>) -> ColumnType {
    match format {
        Some("date") => ColumnType::Date,
        Some("date-time") => ColumnType::Timestamp,
        _ => ColumnType::String,
    }
}

/// A `type` entry as a warning names it.
fn type_name(name: &Value) -> String {
    name.as_str().unwrap_or("?").to_owned()
}

/// A property name as a JSON Pointer token.
fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests;
