//! Terraform schemas derived from the JSON Schema of a lab capability's argument type
//! (one definition per capability: the lab type is the schema). Terraform-only facts (computed
//! attributes, requires-replace) are added here as annotations.

use lab::validation::{FieldError, PathSegment};
use serde_json::Value as Json;
use tfplugin::cty::{Type, Value};
use tfplugin::diag::Diagnostics;
use tfplugin::schema::{Attribute, Block, NestedBlock, Nesting};
use tfplugin::serde_bridge;

/// Terraform-only annotations on top of the derived attributes.
#[derive(Default)]
pub struct Annotations<'a> {
    /// Attributes whose change replaces the object.
    pub requires_replace: &'a [&'a str],
    /// Attributes of the argument type that Terraform should not see.
    pub skip: &'a [&'a str],
    /// Attributes whose values Terraform must not print (they may hold credentials).
    pub sensitive: &'a [&'a str],
    /// Extra (usually computed) attributes.
    pub extra: Vec<Attribute>,
    /// Struct-typed fields written as nested blocks (`bastion { ... }`) instead of nested
    /// attributes: Terraform 1.0.0 to 1.0.4 (the floor, 1.0.3, among them) crash planning an
    /// optional single nested attribute left null; 1.0.5 and later, 1.11 included, do not. The
    /// block's own attributes get the same `sensitive` marks, and its struct fields named
    /// here become blocks in turn.
    pub blocks: &'a [&'a str],
}

/// Builds a block from `schemars::schema_for!(T)` output: properties become attributes,
/// doc comments become descriptions, `required` decides required/optional, and serde
/// defaults become planned defaults (so Terraform never shows null vs empty diffs).
/// Struct-typed fields become nested attributes (`x = { ... }`), and vectors of structs
/// nested list attributes (`x = [{ ... }]`), so their optional fields may be left out.
pub fn block_from_json_schema(description: &str, root: &Json, annotations: Annotations) -> Block {
    let definitions = root.get("definitions").cloned().unwrap_or(Json::Null);
    let mut block = Block::new(description);
    let skip: Vec<&str> = annotations
        .skip
        .iter()
        .chain(annotations.blocks)
        .copied()
        .collect();
    for mut attribute in attributes_from(root, &definitions, &skip) {
        if annotations
            .requires_replace
            .contains(&attribute.name.as_str())
        {
            attribute = attribute.requires_replace();
        }
        if annotations.sensitive.contains(&attribute.name.as_str()) {
            attribute = attribute.sensitive();
        }
        block = block.attribute(attribute);
    }
    for extra in annotations.extra {
        block = block.attribute(extra);
    }
    let properties = root.get("properties").and_then(Json::as_object);
    for name in annotations.blocks {
        // A name here that the type lacks is a typo in the resource: fail loudly.
        let property = properties
            .and_then(|p| p.get(*name))
            .unwrap_or_else(|| panic!("block {name}: the argument type has no such field"));
        let mut inner = resolve(property, &definitions);
        if let Some(fields) = inner.as_object_mut() {
            fields.insert("definitions".into(), definitions.clone());
        }
        let text = inner
            .get("description")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_owned();
        // Its own struct fields named in `blocks` become blocks in turn.
        let inner_blocks: Vec<&str> = annotations
            .blocks
            .iter()
            .copied()
            .filter(|b| inner.get("properties").and_then(|p| p.get(*b)).is_some())
            .collect();
        let nested = block_from_json_schema(
            &text,
            &inner,
            Annotations {
                sensitive: annotations.sensitive,
                blocks: &inner_blocks,
                ..Annotations::default()
            },
        );
        block = block.block(NestedBlock::single(*name, nested));
    }
    block
}

/// The attributes of one JSON Schema object, recursing into struct-typed fields.
fn attributes_from(object: &Json, definitions: &Json, skip: &[&str]) -> Vec<Attribute> {
    let required: Vec<&str> = object
        .get("required")
        .and_then(Json::as_array)
        .map(|names| names.iter().filter_map(Json::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = object.get("properties").and_then(Json::as_object) else {
        return Vec::new();
    };
    let mut attributes = Vec::new();
    for (name, property) in properties {
        if skip.contains(&name.as_str()) {
            continue;
        }
        let property = resolve(property, definitions);
        let mut attribute = match nested_shape(&property, definitions) {
            Some((nesting, fields)) => {
                Attribute::nested(name, nesting, attributes_from(&fields, definitions, &[]))
            }
            None => {
                let ty = json_schema_type(&property, definitions).unwrap_or_else(|| {
                    panic!("attribute {name}: no Terraform type for {property}")
                });
                Attribute::optional(name, ty)
            }
        };
        if required.contains(&name.as_str()) {
            attribute.required = true;
            attribute.optional = false;
        }
        // A null default is just "optional"; only real defaults are planned.
        if let Some(default) = property.get("default").filter(|d| !d.is_null()) {
            let value = serde_bridge::from_json(default, &attribute.value_type())
                .unwrap_or_else(|e| panic!("attribute {name}: default {default}: {e}"));
            attribute = attribute.default(value);
        }
        if let Some(text) = property.get("description").and_then(Json::as_str) {
            attribute = attribute.description(text);
        }
        attributes.push(attribute);
    }
    attributes
}

/// Whether a property is a struct (single nested) or a vector of structs (list/set nested).
fn nested_shape(property: &Json, definitions: &Json) -> Option<(Nesting, Json)> {
    let is_struct = |s: &Json| s.get("properties").is_some_and(Json::is_object);
    if is_struct(property) {
        return Some((Nesting::Single, property.clone()));
    }
    let type_name = match property.get("type")? {
        Json::String(s) => s.as_str(),
        Json::Array(types) => types
            .iter()
            .filter_map(Json::as_str)
            .find(|t| *t != "null")?,
        _ => return None,
    };
    if type_name != "array" {
        return None;
    }
    let items = resolve(property.get("items")?, definitions);
    if !is_struct(&items) {
        return None;
    }
    let nesting = if property.get("uniqueItems") == Some(&Json::Bool(true)) {
        Nesting::Set
    } else {
        Nesting::List
    };
    Some((nesting, items))
}

fn resolve(schema: &Json, definitions: &Json) -> Json {
    // `Option<Struct>` is rendered as allOf/anyOf around a $ref.
    if let Some(reference) = schema.get("$ref").and_then(Json::as_str) {
        let name = reference.trim_start_matches("#/definitions/");
        let mut resolved = definitions.get(name).cloned().unwrap_or(Json::Null);
        if let (Some(obj), Some(desc)) = (resolved.as_object_mut(), schema.get("description")) {
            obj.insert("description".into(), desc.clone());
        }
        return resolved;
    }
    for key in ["allOf", "anyOf"] {
        if let Some(parts) = schema.get(key).and_then(Json::as_array) {
            if let Some(inner) = parts
                .iter()
                .find(|p| p.get("type") != Some(&Json::from("null")))
            {
                let mut merged = resolve(inner, definitions);
                if let Some(obj) = merged.as_object_mut() {
                    for k in ["description", "default"] {
                        if let Some(v) = schema.get(k) {
                            obj.insert(k.into(), v.clone());
                        }
                    }
                }
                return merged;
            }
        }
    }
    schema.clone()
}

fn json_schema_type(schema: &Json, definitions: &Json) -> Option<Type> {
    let type_name = match schema.get("type")? {
        Json::String(s) => s.as_str(),
        // `Option<T>` is ["T", "null"].
        Json::Array(types) => types
            .iter()
            .filter_map(Json::as_str)
            .find(|t| *t != "null")?,
        _ => return None,
    };
    Some(match type_name {
        "string" => Type::String,
        "integer" | "number" => Type::Number,
        "boolean" => Type::Bool,
        "array" => {
            let items = resolve(schema.get("items")?, definitions);
            let element = Box::new(json_schema_type(&items, definitions)?);
            if schema.get("uniqueItems") == Some(&Json::Bool(true)) {
                Type::Set(element)
            } else {
                Type::List(element)
            }
        }
        "object" => {
            if let Some(properties) = schema.get("properties").and_then(Json::as_object) {
                Type::Object(
                    properties
                        .iter()
                        .map(|(k, v)| {
                            Some((
                                k.clone(),
                                json_schema_type(&resolve(v, definitions), definitions)?,
                            ))
                        })
                        .collect::<Option<_>>()?,
                )
            } else {
                let values = resolve(schema.get("additionalProperties")?, definitions);
                Type::Map(Box::new(json_schema_type(&values, definitions)?))
            }
        }
        _ => return None,
    })
}

/// Turns a lab capability's field errors into diagnostics pointing at the attributes.
pub fn field_error_diagnostics(
    summary: &str,
    errors: &[lab::validation::FieldError],
) -> tfplugin::diag::Diagnostics {
    use lab::validation::PathSegment;
    use tfplugin::path::AttrPath;
    let mut diags = tfplugin::diag::Diagnostics::new();
    for error in errors {
        let mut path = AttrPath::root();
        for segment in &error.path {
            path = match segment {
                PathSegment::Field(name) => path.then_attr(name.clone()),
                PathSegment::Index(index) => path.then_index(*index as i64),
                PathSegment::Key(key) => path.then_key(key.clone()),
            };
        }
        diags.push(
            tfplugin::diag::Diagnostic::error(summary, format!("{path}: {}", error.message))
                .at(path),
        );
    }
    diags
}

// Shared by the provider blocks and resources of every backend.

/// Reads a configuration object into a lab argument type. `skip` names Terraform's own
/// (computed) attributes, which may be unknown while planning; nulls at any depth are
/// dropped so serde defaults apply.
pub fn args_from<T: serde::de::DeserializeOwned>(
    value: &Value,
    skip: &[&str],
) -> Result<T, String> {
    let mut object = value.clone();
    if let Value::Object(fields) = &mut object {
        fields.retain(|k, _| !skip.contains(&k.as_str()));
    }
    let mut json = serde_bridge::to_json(&object)?;
    strip_nulls(&mut json);
    serde_json::from_value(json).map_err(|e| e.to_string())
}

fn strip_nulls(json: &mut serde_json::Value) {
    match json {
        serde_json::Value::Object(fields) => {
            fields.retain(|_, v| !v.is_null());
            fields.values_mut().for_each(strip_nulls);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// Replaces every unknown in `value` with null: what a state records for values a failed
/// operation never learned.
pub fn unknowns_to_null(value: &Value) -> Value {
    match value {
        v if v.is_unknown() => Value::Null,
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), unknowns_to_null(v)))
                .collect(),
        ),
        Value::List(items) => Value::List(items.iter().map(unknowns_to_null).collect()),
        Value::Set(items) => Value::Set(items.iter().map(unknowns_to_null).collect()),
        Value::Map(entries) => Value::Map(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), unknowns_to_null(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Validates a configuration or plan that may still hold unknown values: unknowns are
/// replaced by placeholders of their type, the capability's `validate` runs, and only the
/// errors about known values are kept. So bad input is reported at plan (with its attribute
/// path) even when other attributes come from resources not created yet. `report` turns
/// the remaining errors into diagnostics. A `timeouts` block is checked first.
pub fn validate_known<T, F>(
    summary: &str,
    value: &Value,
    ty: &Type,
    skip: &[&str],
    validate: F,
    report: fn(&str, &[FieldError]) -> Diagnostics,
) -> Diagnostics
where
    T: serde::de::DeserializeOwned,
    F: FnOnce(&T) -> Vec<FieldError>,
{
    // The `timeouts` block (when the resource has one) is Terraform's, not the capability's.
    let mut diags = crate::timeouts::validate(value);
    let mut unknown = Vec::new();
    let filled = fill_unknown(value, ty, &mut Vec::new(), &mut unknown);
    let parsed: T = match args_from(&filled, skip) {
        Ok(parsed) => parsed,
        Err(e) => {
            if value.is_known() {
                diags.push(tfplugin::diag::Diagnostic::error(
                    summary,
                    format!("cannot read the arguments: {e}"),
                ));
            }
            return diags;
        }
    };
    let errors: Vec<FieldError> = validate(&parsed)
        .into_iter()
        .filter(|e| {
            !unknown
                .iter()
                .any(|u| e.path.starts_with(u) || u.starts_with(&e.path))
        })
        .collect();
    diags.extend(report(summary, &errors));
    diags
}

/// A copy of `value` with every unknown replaced by a placeholder of its type; the paths
/// of the replaced values go to `unknown`.
fn fill_unknown(
    value: &Value,
    ty: &Type,
    path: &mut Vec<PathSegment>,
    unknown: &mut Vec<Vec<PathSegment>>,
) -> Value {
    if value.is_unknown() {
        unknown.push(path.clone());
        return placeholder(ty);
    }
    match (value, ty) {
        (Value::Object(fields), Type::Object(types)) => Value::Object(
            fields
                .iter()
                .map(|(name, v)| {
                    let t = types.get(name).cloned().unwrap_or(Type::Dynamic);
                    path.push(PathSegment::Field(name.clone()));
                    let filled = fill_unknown(v, &t, path, unknown);
                    path.pop();
                    (name.clone(), filled)
                })
                .collect(),
        ),
        (Value::List(items), Type::List(t)) | (Value::Set(items), Type::Set(t)) => {
            let filled = items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    path.push(PathSegment::Index(i));
                    let filled = fill_unknown(v, t, path, unknown);
                    path.pop();
                    filled
                })
                .collect();
            if matches!(value, Value::Set(_)) {
                // Set elements have no stable path: a set with unknowns counts as unknown.
                if !value.is_known() {
                    unknown.push(path.clone());
                }
                Value::Set(filled)
            } else {
                Value::List(filled)
            }
        }
        (Value::Map(entries), Type::Map(t)) => Value::Map(
            entries
                .iter()
                .map(|(k, v)| {
                    path.push(PathSegment::Key(k.clone()));
                    let filled = fill_unknown(v, t, path, unknown);
                    path.pop();
                    (k.clone(), filled)
                })
                .collect(),
        ),
        _ => value.clone(),
    }
}

fn placeholder(ty: &Type) -> Value {
    match ty {
        Type::String => Value::String(String::new()),
        // One, not zero: counts and sizes are valid with it, so a placeholder does not
        // trip a check on a neighbouring known value.
        Type::Number => Value::Number("1".parse().expect("one")),
        Type::Bool => Value::Bool(false),
        Type::List(_) => Value::List(Vec::new()),
        Type::Set(_) => Value::Set(Vec::new()),
        Type::Map(_) => Value::Map(Default::default()),
        Type::Object(types) => Value::Object(
            types
                .iter()
                .map(|(k, t)| (k.clone(), placeholder(t)))
                .collect(),
        ),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_required_optional_defaults_and_lists() {
        let root = serde_json::json!({
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "description": "The name."},
                "servers": {"type": "array", "items": {"type": "string"}, "default": []},
                "priority": {"type": ["integer", "null"], "format": "int64"},
                "on": {"type": "boolean", "default": true},
                "tags": {"type": "object", "additionalProperties": {"type": "string"}}
            }
        });
        let block = block_from_json_schema(
            "x",
            &root,
            Annotations {
                requires_replace: &["name"],
                ..Annotations::default()
            },
        );
        let name = block.get("name").unwrap();
        assert!(name.required && name.requires_replace);
        assert_eq!(name.description, "The name.");
        let servers = block.get("servers").unwrap();
        assert!(servers.optional && servers.computed);
        assert_eq!(servers.default, Some(Value::List(vec![])));
        assert!(block.get("priority").unwrap().optional);
        assert_eq!(block.get("on").unwrap().default, Some(Value::Bool(true)));
        assert_eq!(
            block.get("tags").unwrap().value_type(),
            Type::Map(Box::new(Type::String))
        );
    }

    #[test]
    fn structs_become_nested_attributes() {
        let root = serde_json::json!({
            "type": "object",
            "required": ["clone"],
            "properties": {
                "clone": {"$ref": "#/definitions/Clone"},
                "disks": {"type": "array", "items": {"$ref": "#/definitions/Disk"}}
            },
            "definitions": {
                "Clone": {"type": "object", "required": ["template_id"], "properties": {
                    "template_id": {"type": "integer"}, "full": {"type": "boolean", "default": true}}},
                "Disk": {"type": "object", "required": ["slot"], "properties": {
                    "slot": {"type": "string"}, "size_gb": {"type": ["integer", "null"]}}}
            }
        });
        let block = block_from_json_schema("x", &root, Annotations::default());
        let clone = block.get("clone").unwrap();
        assert!(clone.required && !clone.optional);
        let tfplugin::schema::AttributeType::Nested {
            nesting,
            attributes,
        } = &clone.ty
        else {
            panic!("clone should be a nested attribute")
        };
        assert_eq!(*nesting, Nesting::Single);
        assert!(attributes
            .iter()
            .any(|a| a.name == "template_id" && a.required));
        assert!(attributes
            .iter()
            .any(|a| a.name == "full" && a.default == Some(Value::Bool(true))));
        let disks = block.get("disks").unwrap();
        assert!(matches!(
            &disks.ty,
            tfplugin::schema::AttributeType::Nested {
                nesting: Nesting::List,
                ..
            }
        ));
    }
}

#[cfg(test)]
mod validate_known_tests {
    use super::*;
    use std::collections::BTreeMap;
    use tfplugin::cty::Type;

    #[derive(serde::Deserialize)]
    struct Sized {
        size: i64,
    }

    fn check(value: &Value) -> Vec<String> {
        let ty = Type::Object(BTreeMap::from([
            ("size".to_string(), Type::Number),
            (
                "timeouts".to_string(),
                Type::Object(BTreeMap::from([("create".to_string(), Type::String)])),
            ),
        ]));
        let validate = |s: &Sized| {
            (s.size < 2)
                .then(|| FieldError::field("size", "must be at least 2"))
                .into_iter()
                .collect()
        };
        validate_known(
            "Invalid",
            value,
            &ty,
            &["timeouts"],
            validate,
            field_error_diagnostics,
        )
        .iter()
        .map(|d| d.detail.clone())
        .collect()
    }

    #[test]
    fn reports_timeouts_and_known_values_and_spares_unknowns() {
        let timeouts = |text: &str| Value::object([("create", Value::String(text.into()))]);
        let details = check(&Value::object([
            ("size", Value::Number("1".parse().unwrap())),
            ("timeouts", timeouts("ten minutes")),
        ]));
        assert_eq!(details.len(), 2, "{details:?}");
        assert!(details[0].starts_with("timeouts.create: \"ten minutes\" is not a duration"));
        assert_eq!(details[1], "size: must be at least 2");
        // An unknown size is not judged; a good timeout passes.
        let details = check(&Value::object([
            ("size", Value::unknown()),
            ("timeouts", timeouts("10m")),
        ]));
        assert!(details.is_empty(), "{details:?}");
    }
}
