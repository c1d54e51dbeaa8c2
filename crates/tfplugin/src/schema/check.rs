//! The rules Terraform holds a provider's schemas to when it loads them. Terraform 1.3 and
//! later refuse the whole provider ("invalid schema ..., which is a bug in the provider")
//! when one schema breaks a rule, so every command fails; Terraform 1.0 to 1.2 did not
//! check, which is how a broken schema could pass their runs. The rules follow Terraform's
//! `configschema` internal validation, written here in our own terms, plus a few that
//! protocol 6.8 and the plugin frameworks add for write-only attributes and that would
//! otherwise surface only when a user sets the attribute.
//!
//! [`check_schema`] checks one schema; [`check_provider`] every schema a provider serves,
//! with each problem prefixed the way Terraform names the schema ("managed resource type
//! homelab_x: host: ...").

use crate::cty::Type;
use crate::provider::Provider;

use super::{write_only, Attribute, AttributeType, Block, NestedBlock, Nesting, Schema};

/// Every problem of every schema `provider` serves; empty when Terraform would load them all.
pub fn check_provider<P: Provider + ?Sized>(provider: &P) -> Vec<String> {
    let prefixed = |what: String, schema: &Schema| {
        check_schema(schema)
            .into_iter()
            .map(move |p| format!("{what}: {p}"))
    };
    let mut problems: Vec<String> =
        prefixed("provider configuration".into(), &provider.schema()).collect();
    let prefix = format!("{}_", provider.type_name());
    let mut seen = std::collections::BTreeSet::new();
    for resource in provider.resources() {
        let name = resource.type_name().to_string();
        name_problems(
            "managed resource type",
            &name,
            &prefix,
            &mut seen,
            &mut problems,
        );
        problems.extend(prefixed(
            format!("managed resource type {name}"),
            &resource.schema(),
        ));
    }
    seen.clear();
    for source in provider.data_sources() {
        let name = source.type_name().to_string();
        name_problems(
            "data resource type",
            &name,
            &prefix,
            &mut seen,
            &mut problems,
        );
        problems.extend(prefixed(
            format!("data resource type {name}"),
            &source.schema(),
        ));
    }
    problems
}

/// A type name Terraform could never match to a configuration: not prefixed by the
/// provider's name (Terraform picks the provider from the prefix), or served twice (the
/// wire form is a map, so one would silently hide the other).
fn name_problems(
    kind: &str,
    name: &str,
    prefix: &str,
    seen: &mut std::collections::BTreeSet<String>,
    problems: &mut Vec<String>,
) {
    if !name.starts_with(prefix) || !valid_name(name) {
        problems.push(format!(
            "{kind} {name}: the name must be {prefix}<lowercase letters, digits and underscores>"
        ));
    }
    if !seen.insert(name.to_string()) {
        problems.push(format!("{kind} {name}: served twice"));
    }
}

/// The problems of one schema, each naming the dotted path of the attribute or block.
pub fn check_schema(schema: &Schema) -> Vec<String> {
    let mut problems = Vec::new();
    if schema.version < 0 {
        problems.push(format!("schema version {} is negative", schema.version));
    }
    check_block(&schema.block, "", &mut problems);
    problems
}

/// `^[a-z0-9_]+$`: the names Terraform accepts for block types. Terraform does not yet
/// enforce it for attributes (providers in the wild break it), but an attribute named
/// otherwise cannot be written in HCL, so we hold attributes to it too.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn check_block(block: &Block, prefix: &str, problems: &mut Vec<String>) {
    let mut names = std::collections::BTreeSet::new();
    for attribute in &block.attributes {
        if !names.insert(attribute.name.as_str()) {
            problems.push(format!(
                "{prefix}{}: attribute defined twice",
                attribute.name
            ));
        }
        check_attribute(attribute, prefix, false, problems);
    }
    for nested in &block.blocks {
        check_nested_block(block, nested, prefix, &mut names, problems);
    }
}

fn check_nested_block<'a>(
    parent: &Block,
    nested: &'a NestedBlock,
    prefix: &str,
    names: &mut std::collections::BTreeSet<&'a str>,
    problems: &mut Vec<String>,
) {
    let at = format!("{prefix}{}", nested.type_name);
    let mut problem = |text: &str| problems.push(format!("{at}: {text}"));
    if parent.get(&nested.type_name).is_some() {
        problem("name defined as both attribute and child block type");
    } else if !valid_name(&nested.type_name) {
        problem("name may contain only lowercase letters, digits and underscores");
    }
    if !names.insert(nested.type_name.as_str()) && parent.get(&nested.type_name).is_none() {
        problem("block type defined twice");
    }
    let (min, max) = (nested.min_items, nested.max_items);
    if min < 0 || max < 0 {
        problem("MinItems and MaxItems must not be negative");
    }
    match nested.nesting {
        Nesting::Single => {
            // Terraform takes MinItems = MaxItems = 1 to mean "required", 0 "optional";
            // anything else, 0 and 1 included, is refused.
            if min != max {
                problem("MinItems and MaxItems must match in NestingSingle mode");
            } else if !(0..=1).contains(&min) {
                problem("MinItems and MaxItems must be set to either 0 or 1 in NestingSingle mode");
            }
        }
        Nesting::Group => {
            if min != 0 || max != 0 {
                problem("MinItems and MaxItems cannot be used in NestingGroup mode");
            }
        }
        Nesting::List | Nesting::Set => {
            if max != 0 && min > max {
                problem("MinItems must be less than or equal to MaxItems");
            }
            if nested.nesting == Nesting::Set {
                if nested.block.value_type().has_dynamic() {
                    problem("NestingSet blocks may not contain attributes of dynamic type");
                }
                if write_only::any(&nested.block) {
                    problem("NestingSet blocks may not contain WriteOnly attributes");
                }
            }
        }
        Nesting::Map => {
            if min != 0 || max != 0 {
                problem("MinItems and MaxItems must both be 0 in NestingMap mode");
            }
        }
    }
    check_block(&nested.block, &format!("{at}."), problems);
}

fn check_attribute(attribute: &Attribute, prefix: &str, in_set: bool, problems: &mut Vec<String>) {
    let at = format!("{prefix}{}", attribute.name);
    let mut problem = |text: &str| problems.push(format!("{at}: {text}"));
    if !valid_name(&attribute.name) {
        problem("name may contain only lowercase letters, digits and underscores");
    }
    let (required, optional, computed) =
        (attribute.required, attribute.optional, attribute.computed);
    if !required && !optional && !computed {
        problem("must set Optional, Required or Computed");
    }
    if optional && required {
        problem("cannot set both Optional and Required");
    }
    if computed && required {
        problem("cannot set both Computed and Required");
    }
    if attribute.default.is_some() && !(optional && computed) {
        problem("a default needs Optional and Computed (the provider fills the value)");
    }
    if attribute.write_only {
        // Protocol 6.8: the value never reaches state, so the provider can never fill it,
        // and a set would carry the mark onto every element's neighbours.
        if computed {
            problem("WriteOnly attributes cannot be Computed");
        }
        if in_set {
            problem("WriteOnly attributes cannot be inside set nesting");
        }
    }
    match &attribute.ty {
        AttributeType::Plain(ty) => {
            if matches!(ty, Type::Set(_)) && ty.has_dynamic() {
                problem("a set may not hold values of dynamic type");
            }
        }
        AttributeType::Nested {
            nesting,
            attributes,
        } => {
            if *nesting == Nesting::Group {
                problem("nested attributes cannot use NestingGroup (blocks only)");
            }
            let is_set = *nesting == Nesting::Set;
            if is_set {
                if attribute.value_type().has_dynamic() {
                    problem("NestingSet attributes may not contain attributes of dynamic type");
                }
                if attributes.iter().any(write_only::attribute_has) {
                    problem("NestingSet attributes may not contain WriteOnly attributes");
                }
            }
            let inner = format!("{at}.");
            let mut names = std::collections::BTreeSet::new();
            for nested in attributes {
                if !names.insert(nested.name.as_str()) {
                    problems.push(format!("{inner}{}: attribute defined twice", nested.name));
                }
                check_attribute(nested, &inner, in_set || is_set, problems);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cty::Value;

    fn single(name: &str, min: i64, max: i64) -> NestedBlock {
        NestedBlock {
            min_items: min,
            max_items: max,
            ..NestedBlock::single(
                name,
                Block::new("").attribute(Attribute::optional("a", Type::String)),
            )
        }
    }

    fn problems_of(block: Block) -> Vec<String> {
        check_schema(&Schema::new(0, block))
    }

    #[test]
    fn a_valid_schema_has_no_problems() {
        let block = Block::new("")
            .attribute(Attribute::required("name", Type::String))
            .attribute(
                Attribute::optional("password", Type::String)
                    .sensitive()
                    .write_only(),
            )
            .attribute(Attribute::computed("id", Type::String))
            .attribute(Attribute::optional("port", Type::Number).default(Value::from(22i64)))
            .attribute(Attribute::nested(
                "disks",
                Nesting::List,
                vec![Attribute::required("size", Type::Number)],
            ))
            .block(NestedBlock::single("timeouts", Block::new("")))
            .block(NestedBlock {
                type_name: "rule".into(),
                block: Block::new("").attribute(Attribute::required("port", Type::Number)),
                nesting: Nesting::Set,
                min_items: 1,
                max_items: 0,
            });
        assert_eq!(problems_of(block), Vec::<String>::new());
    }

    #[test]
    fn single_blocks_with_zero_and_one_items_are_refused_as_terraform_does() {
        // The bug Terraform 1.11 found: optional single blocks sent as MinItems 0, MaxItems 1.
        let block = Block::new("").block(NestedBlock {
            block: Block::new("").block(single("bastion", 0, 1)),
            ..single("host", 0, 1)
        });
        assert_eq!(
            problems_of(block),
            vec![
                "host: MinItems and MaxItems must match in NestingSingle mode",
                "host.bastion: MinItems and MaxItems must match in NestingSingle mode",
            ]
        );
        assert_eq!(
            problems_of(Block::new("").block(single("x", 2, 2))),
            vec!["x: MinItems and MaxItems must be set to either 0 or 1 in NestingSingle mode"]
        );
        assert!(problems_of(Block::new("").block(single("x", 1, 1))).is_empty());
    }

    #[test]
    fn item_counts_of_group_list_and_map_blocks() {
        let with = |nesting, min, max| {
            Block::new("").block(NestedBlock {
                nesting,
                ..single("b", min, max)
            })
        };
        assert_eq!(
            problems_of(with(Nesting::Group, 0, 1)),
            vec!["b: MinItems and MaxItems cannot be used in NestingGroup mode"]
        );
        assert_eq!(
            problems_of(with(Nesting::List, 3, 2)),
            vec!["b: MinItems must be less than or equal to MaxItems"]
        );
        assert!(problems_of(with(Nesting::List, 3, 0)).is_empty());
        assert_eq!(
            problems_of(with(Nesting::Map, 0, 1)),
            vec!["b: MinItems and MaxItems must both be 0 in NestingMap mode"]
        );
        assert_eq!(
            problems_of(with(Nesting::List, -1, 0)),
            vec!["b: MinItems and MaxItems must not be negative"]
        );
    }

    #[test]
    fn attribute_flag_combinations() {
        let mut neither = Attribute::optional("a", Type::String);
        neither.optional = false;
        let mut both = Attribute::required("b", Type::String);
        both.optional = true;
        let mut required_computed = Attribute::required("c", Type::String);
        required_computed.computed = true;
        let mut default_not_computed = Attribute::optional("d", Type::String);
        default_not_computed.default = Some(Value::from("x"));
        let block = Block::new("")
            .attribute(neither)
            .attribute(both)
            .attribute(required_computed)
            .attribute(default_not_computed);
        assert_eq!(
            problems_of(block),
            vec![
                "a: must set Optional, Required or Computed",
                "b: cannot set both Optional and Required",
                "c: cannot set both Computed and Required",
                "d: a default needs Optional and Computed (the provider fills the value)",
            ]
        );
    }

    #[test]
    fn names_clashes_and_duplicates() {
        let block = Block::new("")
            .attribute(Attribute::optional("Host", Type::String))
            .attribute(Attribute::optional("x", Type::String))
            .attribute(Attribute::optional("x", Type::String))
            .block(single("x", 0, 0))
            .block(single("bad-name", 0, 0));
        assert_eq!(
            problems_of(block),
            vec![
                "Host: name may contain only lowercase letters, digits and underscores",
                "x: attribute defined twice",
                "x: name defined as both attribute and child block type",
                "bad-name: name may contain only lowercase letters, digits and underscores",
            ]
        );
    }

    #[test]
    fn write_only_is_never_computed_nor_inside_a_set() {
        let computed = Attribute::optional("token", Type::String)
            .write_only()
            .also_computed();
        let in_set = Attribute::nested(
            "users",
            Nesting::Set,
            vec![Attribute::optional("password", Type::String).write_only()],
        );
        let set_block = NestedBlock {
            type_name: "keys".into(),
            block: Block::new("").attribute(Attribute::optional("k", Type::String).write_only()),
            nesting: Nesting::Set,
            min_items: 0,
            max_items: 0,
        };
        let block = Block::new("")
            .attribute(computed)
            .attribute(in_set)
            .block(set_block);
        assert_eq!(
            problems_of(block),
            vec![
                "token: WriteOnly attributes cannot be Computed",
                "users: NestingSet attributes may not contain WriteOnly attributes",
                "users.password: WriteOnly attributes cannot be inside set nesting",
                "keys: NestingSet blocks may not contain WriteOnly attributes",
            ]
        );
    }

    #[test]
    fn sets_of_dynamic_values_and_group_attributes_are_refused() {
        let block = Block::new("")
            .attribute(Attribute::optional("any", Type::set(Type::Dynamic)))
            .attribute(Attribute::nested(
                "objs",
                Nesting::Set,
                vec![Attribute::optional("v", Type::Dynamic)],
            ))
            .attribute(Attribute::nested(
                "g",
                Nesting::Group,
                vec![Attribute::optional("v", Type::String)],
            ));
        assert_eq!(
            problems_of(block),
            vec![
                "any: a set may not hold values of dynamic type",
                "objs: NestingSet attributes may not contain attributes of dynamic type",
                "g: nested attributes cannot use NestingGroup (blocks only)",
            ]
        );
    }

    #[test]
    fn negative_versions_are_refused() {
        assert_eq!(
            check_schema(&Schema::new(-1, Block::new(""))),
            vec!["schema version -1 is negative"]
        );
    }
}
