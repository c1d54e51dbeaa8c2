//! `timeouts` blocks, as hashicorp/aws spells them: one optional duration per operation
//! (`create = "10m"`), checked at plan and read at apply. Durations parse with
//! [`lab::duration::parse`].

use std::time::Duration;

use tfplugin::cty::{Type, Value};
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::path::AttrPath;
use tfplugin::schema::{Attribute, Block, NestedBlock};

/// The block, with one attribute per `(operation, default)`.
pub fn block(description: &str, operations: &[(&str, &str)]) -> NestedBlock {
    let mut block = Block::new(description);
    for (operation, default) in operations {
        block = block.attribute(
            Attribute::optional(operation, Type::String)
                .description(format!("Defaults to `{default}`.")),
        );
    }
    NestedBlock::single("timeouts", block)
}

fn invalid(operation: &str, error: String) -> Diagnostic {
    Diagnostic::error("Invalid timeout", format!("timeouts.{operation}: {error}"))
        .at(AttrPath::attr("timeouts").then_attr(operation))
}

/// Checks the durations of a configuration's `timeouts` block (unknowns pass).
pub fn validate(value: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    if let Some(Value::Object(fields)) = value.get_attr("timeouts") {
        for (operation, v) in fields {
            if let Some(Err(e)) = v.as_str().map(lab::duration::parse) {
                diags.push(invalid(operation, e));
            }
        }
    }
    diags
}

/// The timeout for `operation` from a resource value's `timeouts` block, or `default`.
pub fn get(value: &Value, operation: &str, default: Duration) -> Result<Duration, Diagnostics> {
    match value
        .get_attr("timeouts")
        .and_then(|t| t.get_attr(operation))
        .and_then(Value::as_str)
    {
        None => Ok(default),
        Some(text) => lab::duration::parse(text).map_err(|e| invalid(operation, e).into()),
    }
}
