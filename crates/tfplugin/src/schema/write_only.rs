//! Write-only attributes (protocol 6.8, Terraform 1.11+) as the server enforces them for
//! every resource: their values exist only in the configuration, so every state the
//! provider answers with (planned, applied, read, imported) carries null for them, and a
//! Terraform that does not say it supports them gets an error naming the attribute rather
//! than a value silently dropped.

use crate::cty::Value;
use crate::path::AttrPath;

use super::{Attribute, AttributeType, Block, Nesting};

/// The paths of write-only attributes that hold a value (known or not) in `value`.
pub fn set_paths(block: &Block, value: &Value) -> Vec<AttrPath> {
    let mut found = Vec::new();
    in_block(block, value, AttrPath::root(), &mut found);
    found
}

/// `value` with every write-only attribute null.
pub fn nulled(block: &Block, mut value: Value) -> Value {
    null_in_block(block, &mut value);
    value
}

/// Whether the block holds any write-only attribute, at any depth.
pub fn any(block: &Block) -> bool {
    block.attributes.iter().any(attribute_has)
        || block.blocks.iter().any(|nested| any(&nested.block))
}

/// Whether the attribute is write-only or holds one in its nested attributes.
pub fn attribute_has(attribute: &Attribute) -> bool {
    attribute.write_only
        || matches!(&attribute.ty, AttributeType::Nested { attributes, .. }
            if attributes.iter().any(attribute_has))
}

/// The objects of a nested attribute or block value, each with its path step.
fn each_object(nesting: Nesting, value: &Value, path: &AttrPath) -> Vec<(AttrPath, Value)> {
    match (nesting, value) {
        (_, Value::Null | Value::Unknown(_)) => Vec::new(),
        (Nesting::Single | Nesting::Group, v) => vec![(path.clone(), v.clone())],
        (Nesting::List | Nesting::Set, Value::List(items) | Value::Set(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (path.clone().then_index(i as i64), v.clone()))
            .collect(),
        (Nesting::Map, Value::Map(entries)) => entries
            .iter()
            .map(|(k, v)| (path.clone().then_key(k.clone()), v.clone()))
            .collect(),
        _ => Vec::new(),
    }
}

fn in_attributes(
    attributes: &[Attribute],
    value: &Value,
    path: &AttrPath,
    found: &mut Vec<AttrPath>,
) {
    for attribute in attributes {
        let Some(v) = value.get_attr(&attribute.name) else {
            continue;
        };
        let at = path.clone().then_attr(attribute.name.clone());
        if attribute.write_only {
            if !v.is_null() {
                found.push(at);
            }
        } else if let AttributeType::Nested {
            nesting,
            attributes,
        } = &attribute.ty
        {
            for (item_path, item) in each_object(*nesting, v, &at) {
                in_attributes(attributes, &item, &item_path, found);
            }
        }
    }
}

fn in_block(block: &Block, value: &Value, path: AttrPath, found: &mut Vec<AttrPath>) {
    in_attributes(&block.attributes, value, &path, found);
    for nested in &block.blocks {
        let Some(v) = value.get_attr(&nested.type_name) else {
            continue;
        };
        let at = path.clone().then_attr(nested.type_name.clone());
        for (item_path, item) in each_object(nested.nesting, v, &at) {
            in_block(&nested.block, &item, item_path, found);
        }
    }
}

fn null_in_object(attributes: &[Attribute], value: &mut Value) {
    let Value::Object(fields) = value else {
        return;
    };
    for attribute in attributes {
        let Some(v) = fields.get_mut(&attribute.name) else {
            continue;
        };
        if attribute.write_only {
            *v = Value::Null;
        } else if let AttributeType::Nested { attributes, .. } = &attribute.ty {
            for_each_object_mut(v, |item| null_in_object(attributes, item));
        }
    }
}

fn null_in_block(block: &Block, value: &mut Value) {
    null_in_object(&block.attributes, value);
    let Value::Object(fields) = value else {
        return;
    };
    for nested in &block.blocks {
        if let Some(v) = fields.get_mut(&nested.type_name) {
            for_each_object_mut(v, |item| null_in_block(&nested.block, item));
        }
    }
}

fn for_each_object_mut(value: &mut Value, mut f: impl FnMut(&mut Value)) {
    match value {
        Value::Object(_) => f(value),
        Value::List(items) | Value::Set(items) => items.iter_mut().for_each(f),
        Value::Map(entries) => entries.values_mut().for_each(f),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cty::Type;
    use crate::schema::NestedBlock;

    fn schema() -> Block {
        Block::new("")
            .attribute(Attribute::optional("name", Type::String))
            .attribute(Attribute::optional("password_wo", Type::String).write_only())
            .attribute(Attribute::nested(
                "users",
                Nesting::List,
                vec![
                    Attribute::required("name", Type::String),
                    Attribute::optional("secret_wo", Type::String).write_only(),
                ],
            ))
            .block(NestedBlock::single(
                "host",
                Block::new("").attribute(Attribute::optional("key_wo", Type::String).write_only()),
            ))
    }

    fn config() -> Value {
        Value::object([
            ("name", Value::from("a")),
            ("password_wo", Value::from("p")),
            (
                "users",
                Value::List(vec![
                    Value::object([("name", Value::from("u")), ("secret_wo", Value::Null)]),
                    Value::object([("name", Value::from("v")), ("secret_wo", Value::unknown())]),
                ]),
            ),
            ("host", Value::object([("key_wo", Value::from("k"))])),
        ])
    }

    #[test]
    fn finds_every_write_only_value_with_its_path() {
        let paths: Vec<String> = set_paths(&schema(), &config())
            .iter()
            .map(|p| format!("{p}"))
            .collect();
        assert_eq!(paths, ["password_wo", "users[1].secret_wo", "host.key_wo"]);
        assert!(any(&schema()));
        assert!(!any(
            &Block::new("").attribute(Attribute::optional("x", Type::String))
        ));
    }

    #[test]
    fn nulls_every_write_only_value_and_keeps_the_rest() {
        let out = nulled(&schema(), config());
        assert!(set_paths(&schema(), &out).is_empty());
        assert_eq!(out.get_attr("name"), Some(&Value::from("a")));
        assert_eq!(
            out.get_attr("users")
                .and_then(|u| u.index(1))
                .and_then(|u| u.get_attr("name")),
            Some(&Value::from("v"))
        );
    }
}
