//! The generic part of planning, driven by schema annotations, so resources only write
//! what is specific to them:
//! - on create, computed attributes the configuration leaves null become unknown;
//! - on update, such attributes keep their prior value (a resource refines this when it
//!   knows a value will change);
//! - attributes with a default get it when the configuration leaves them null;
//! - a change to an attribute marked requires-replace is reported as a replacement path.

use std::collections::BTreeMap;

use crate::cty::Value;
use crate::path::AttrPath;
use crate::schema::{AttributeType, Block, Nesting};

/// The plan Terraform will show, before the resource's own refinements.
pub struct GenericPlan {
    pub planned: Value,
    pub requires_replace: Vec<AttrPath>,
}

/// Plans a change from `prior` (null on create) to what the configuration asks for.
/// `proposed` is Terraform's proposed new state: config merged with prior computed values.
pub fn plan(block: &Block, prior: &Value, proposed: &Value, config: &Value) -> GenericPlan {
    let creating = prior.is_null();
    let planned = plan_object(block, proposed, config, creating);
    let mut requires_replace = Vec::new();
    if !creating {
        collect_replacements(
            block,
            prior,
            &planned,
            AttrPath::root(),
            &mut requires_replace,
        );
    }
    GenericPlan {
        planned,
        requires_replace,
    }
}

fn plan_object(block: &Block, proposed: &Value, config: &Value, creating: bool) -> Value {
    let Value::Object(proposed_fields) = proposed else {
        return proposed.clone();
    };
    let mut out: BTreeMap<String, Value> = proposed_fields.clone();
    for attribute in &block.attributes {
        let configured = config.get_attr(&attribute.name).unwrap_or(&Value::Null);
        let slot = out.entry(attribute.name.clone()).or_insert(Value::Null);
        if !configured.is_null() {
            // Nested attributes may hold defaults and computed children of their own.
            if let AttributeType::Nested {
                nesting,
                attributes,
            } = &attribute.ty
            {
                let inner = Block {
                    attributes: attributes.clone(),
                    ..Block::default()
                };
                *slot = plan_nested(&inner, *nesting, slot, configured, creating);
            }
            continue;
        }
        if !attribute.computed {
            continue;
        }
        if let Some(default) = &attribute.default {
            *slot = default.clone();
        } else if creating || slot.is_null() {
            *slot = Value::unknown();
        }
    }
    // A single nested block (`host { }`) gets the same treatment as its parent: defaults
    // and computed values of its own attributes.
    for nested in &block.blocks {
        if !matches!(nested.nesting, Nesting::Single | Nesting::Group) {
            continue;
        }
        let configured = config.get_attr(&nested.type_name).unwrap_or(&Value::Null);
        if configured.is_null() || !configured.is_known() {
            continue;
        }
        let slot = out.entry(nested.type_name.clone()).or_insert(Value::Null);
        *slot = plan_object(&nested.block, slot, configured, creating);
    }
    Value::Object(out)
}

/// Plans each element of a nested attribute against its proposed counterpart (by index
/// for lists, by key for maps). Set elements have no identity to match prior values by,
/// so they only get defaults and unknowns.
fn plan_nested(
    inner: &Block,
    nesting: Nesting,
    proposed: &Value,
    config: &Value,
    creating: bool,
) -> Value {
    match (nesting, config) {
        (Nesting::Single | Nesting::Group, _) => plan_object(inner, proposed, config, creating),
        (Nesting::List, Value::List(items)) => Value::List(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let before = proposed.index(i).unwrap_or(item);
                    plan_object(inner, before, item, creating)
                })
                .collect(),
        ),
        (Nesting::Set, Value::Set(items)) => Value::Set(
            items
                .iter()
                .map(|item| plan_object(inner, item, item, true))
                .collect(),
        ),
        (Nesting::Map, Value::Map(entries)) => Value::Map(
            entries
                .iter()
                .map(|(key, item)| {
                    let before = proposed.as_map().and_then(|m| m.get(key)).unwrap_or(item);
                    (key.clone(), plan_object(inner, before, item, creating))
                })
                .collect(),
        ),
        _ => proposed.clone(),
    }
}

fn collect_replacements(
    block: &Block,
    prior: &Value,
    planned: &Value,
    path: AttrPath,
    out: &mut Vec<AttrPath>,
) {
    for attribute in &block.attributes {
        let before = prior.get_attr(&attribute.name).unwrap_or(&Value::Null);
        let after = planned.get_attr(&attribute.name).unwrap_or(&Value::Null);
        let here = path.clone().then_attr(attribute.name.clone());
        if attribute.requires_replace && (!after.is_known() || !before.sem_eq(after)) {
            out.push(here);
            continue;
        }
        if let AttributeType::Nested {
            nesting: Nesting::Single,
            attributes,
        } = &attribute.ty
        {
            if !before.is_null() && !after.is_null() {
                let inner = Block {
                    attributes: attributes.clone(),
                    ..Block::default()
                };
                collect_replacements(&inner, before, after, here, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cty::Type;
    use crate::schema::Attribute;

    fn block() -> Block {
        Block::new("")
            .attribute(Attribute::required("name", Type::String).requires_replace())
            .attribute(Attribute::optional("size", Type::Number))
            .attribute(Attribute::computed("id", Type::String))
            .attribute(Attribute::optional("enabled", Type::Bool).default(Value::Bool(true)))
    }

    fn obj(fields: &[(&str, Value)]) -> Value {
        Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn create_marks_computed_unknown_and_applies_defaults() {
        let config = obj(&[
            ("name", Value::String("a".into())),
            ("size", Value::Null),
            ("id", Value::Null),
            ("enabled", Value::Null),
        ]);
        let result = plan(&block(), &Value::Null, &config, &config);
        assert!(result.planned.get_attr("id").unwrap().is_unknown());
        assert_eq!(result.planned.get_attr("enabled"), Some(&Value::Bool(true)));
        assert_eq!(result.planned.get_attr("size"), Some(&Value::Null));
        assert!(result.requires_replace.is_empty());
    }

    #[test]
    fn update_keeps_prior_computed_and_reports_replacement() {
        let prior = obj(&[
            ("name", Value::String("a".into())),
            ("size", Value::Null),
            ("id", Value::String("x1".into())),
            ("enabled", Value::Bool(true)),
        ]);
        let config = obj(&[
            ("name", Value::String("b".into())),
            ("size", Value::Null),
            ("id", Value::Null),
            ("enabled", Value::Null),
        ]);
        let proposed = obj(&[
            ("name", Value::String("b".into())),
            ("size", Value::Null),
            ("id", Value::String("x1".into())),
            ("enabled", Value::Bool(true)),
        ]);
        let result = plan(&block(), &prior, &proposed, &config);
        assert_eq!(
            result.planned.get_attr("id"),
            Some(&Value::String("x1".into()))
        );
        assert_eq!(result.requires_replace, vec![AttrPath::attr("name")]);
    }

    #[test]
    fn list_nested_elements_get_defaults_and_unknown_computed() {
        let block = Block::new("").attribute(Attribute::nested(
            "network",
            Nesting::List,
            vec![
                Attribute::required("bridge", Type::String),
                Attribute::optional("model", Type::String).default(Value::String("virtio".into())),
                Attribute::computed("mac", Type::String),
            ],
        ));
        let element = obj(&[
            ("bridge", Value::String("vmbr0".into())),
            ("model", Value::Null),
            ("mac", Value::Null),
        ]);
        let config = obj(&[("network", Value::List(vec![element]))]);
        let result = plan(&block, &Value::Null, &config, &config);
        let planned = result
            .planned
            .get_attr("network")
            .unwrap()
            .index(0)
            .unwrap();
        assert_eq!(
            planned.get_attr("model"),
            Some(&Value::String("virtio".into()))
        );
        assert!(planned.get_attr("mac").unwrap().is_unknown());
    }
}
