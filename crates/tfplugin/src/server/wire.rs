//! Conversions between our types and the tfplugin6 wire messages.

use crate::cty::{self, Type, Value};
use crate::diag::{Diagnostic, Diagnostics, Severity};
use crate::path::{AttrPath, Step};
use crate::proto::tfplugin6 as pb;
use crate::schema::{Attribute, AttributeType, Block, Nesting, Schema};

pub fn schema(schema: &Schema) -> pb::Schema {
    pb::Schema {
        version: schema.version,
        block: Some(block(&schema.block, schema.version)),
    }
}

fn block(block_: &Block, version: i64) -> pb::schema::Block {
    pb::schema::Block {
        version,
        attributes: block_.attributes.iter().map(attribute).collect(),
        block_types: block_
            .blocks
            .iter()
            .map(|nested| pb::schema::NestedBlock {
                type_name: nested.type_name.clone(),
                block: Some(block(&nested.block, version)),
                nesting: block_nesting(nested.nesting) as i32,
                min_items: nested.min_items,
                max_items: nested.max_items,
            })
            .collect(),
        description: block_.description.clone(),
        description_kind: pb::StringKind::Markdown as i32,
        deprecated: block_.deprecated,
    }
}

fn attribute(a: &Attribute) -> pb::schema::Attribute {
    let (ty, nested_type) = match &a.ty {
        AttributeType::Plain(ty) => (ty.to_json(), None),
        AttributeType::Nested {
            nesting,
            attributes,
        } => (
            Vec::new(),
            Some(pb::schema::Object {
                attributes: attributes.iter().map(attribute).collect(),
                nesting: object_nesting(*nesting) as i32,
                ..Default::default()
            }),
        ),
    };
    pb::schema::Attribute {
        name: a.name.clone(),
        r#type: ty,
        nested_type,
        description: a.description.clone(),
        required: a.required,
        optional: a.optional,
        computed: a.computed,
        sensitive: a.sensitive,
        write_only: a.write_only,
        description_kind: pb::StringKind::Markdown as i32,
        deprecated: a.deprecation.is_some(),
    }
}

fn block_nesting(nesting: Nesting) -> pb::schema::nested_block::NestingMode {
    use pb::schema::nested_block::NestingMode as M;
    match nesting {
        Nesting::Single => M::Single,
        Nesting::List => M::List,
        Nesting::Set => M::Set,
        Nesting::Map => M::Map,
        Nesting::Group => M::Group,
    }
}

fn object_nesting(nesting: Nesting) -> pb::schema::object::NestingMode {
    use pb::schema::object::NestingMode as M;
    match nesting {
        Nesting::Single | Nesting::Group => M::Single,
        Nesting::List => M::List,
        Nesting::Set => M::Set,
        Nesting::Map => M::Map,
    }
}

pub fn diagnostics(diags: &Diagnostics) -> Vec<pb::Diagnostic> {
    diags.iter().map(diagnostic).collect()
}

fn diagnostic(d: &Diagnostic) -> pb::Diagnostic {
    pb::Diagnostic {
        severity: match d.severity {
            Severity::Error => pb::diagnostic::Severity::Error,
            Severity::Warning => pb::diagnostic::Severity::Warning,
        } as i32,
        summary: d.summary.clone(),
        detail: d.detail.clone(),
        attribute: d.attribute.as_ref().map(path),
    }
}

pub fn path(p: &AttrPath) -> pb::AttributePath {
    use pb::attribute_path::step::Selector;
    pb::AttributePath {
        steps: p
            .steps()
            .iter()
            .map(|step| pb::attribute_path::Step {
                selector: Some(match step {
                    Step::Attr(name) => Selector::AttributeName(name.clone()),
                    Step::Key(key) => Selector::ElementKeyString(key.clone()),
                    Step::Index(index) => Selector::ElementKeyInt(*index),
                }),
            })
            .collect(),
    }
}

/// Decodes a value Terraform sent; absent means null (Terraform omits null prior states).
pub fn decode(
    value: Option<&pb::DynamicValue>,
    ty: &Type,
    what: &str,
) -> Result<Value, Diagnostics> {
    let Some(value) = value else {
        return Ok(Value::Null);
    };
    let decoded = if !value.msgpack.is_empty() {
        cty::msgpack::decode(&value.msgpack, ty)
    } else if !value.json.is_empty() {
        cty::json::decode(&value.json, ty)
    } else {
        return Ok(Value::Null);
    };
    decoded.map_err(|e| {
        Diagnostic::error(
            format!("Cannot decode the {what}"),
            format!("The value Terraform sent does not match the schema: {e}. This is a bug in the provider or a version mismatch; please report it."),
        )
        .into()
    })
}

pub fn encode(value: &Value, ty: &Type, what: &str) -> Result<pb::DynamicValue, Diagnostics> {
    cty::msgpack::encode(value, ty)
        .map(|msgpack| pb::DynamicValue {
            msgpack,
            json: Vec::new(),
        })
        .map_err(|e| {
            Diagnostic::error(
                format!("Cannot encode the {what}"),
                format!("The provider produced a value that does not match its own schema: {e}. This is a bug in the provider; please report it."),
            )
            .into()
        })
}
