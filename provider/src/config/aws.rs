//! The provider's `aws` block, the SDK clients `configure` builds from it, and what every
//! AWS resource and data source shares: the "not configured" error naming the block, AWS
//! errors as diagnostics, `timeouts` blocks, and plan-time validation of configurations
//! that still hold unknown values.

use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use lab::aws::{Aws, AwsConfig, AwsError};
use lab::validation::{FieldError, PathSegment};
use tfplugin::cty::{Type, Value};
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::path::AttrPath;
use tfplugin::schema::{Attribute, Block, NestedBlock, Nesting};
use tfplugin::serde_bridge;

use crate::derive::{self, Annotations};

/// The block's name in `provider "homelab" { ... }`.
pub const BLOCK: &str = "aws";

/// What `configure` made of the `aws` block.
enum Configured {
    /// Ready clients.
    Ready(Arc<Aws>),
    /// The block is there but could not be used; the reason was reported by `configure`.
    Failed(String),
    /// The block holds values that are unknown until apply.
    Unknown,
}

/// The AWS part of the provider's state: empty until `configure` sees an `aws` block.
#[derive(Default)]
pub struct AwsSlot(RwLock<Option<Configured>>);

/// The `aws` block's schema, derived from `lab::aws::AwsConfig`.
pub use crate::derive::{args_from, unknowns_to_null};

pub fn block() -> NestedBlock {
    static BLOCK_SCHEMA: OnceLock<Block> = OnceLock::new();
    let block = BLOCK_SCHEMA.get_or_init(|| {
        let json_schema = serde_json::to_value(schemars::schema_for!(AwsConfig))
            .expect("a JSON schema serialises");
        derive::block_from_json_schema(
            "AWS access for `homelab_aws_*` and `homelab_route53_*`. Credentials come from the \
             standard AWS chain (environment, shared config and credentials files, SSO, \
             process credentials, instance role) unless `access_key` and `secret_key` are set. \
             Throttling and transient errors are retried by the SDK's standard retry policy.",
            &json_schema,
            Annotations {
                sensitive: &["secret_key"],
                ..Annotations::default()
            },
        )
    });
    NestedBlock {
        type_name: BLOCK.into(),
        block: block.clone(),
        nesting: Nesting::Single,
        min_items: 0,
        max_items: 1,
    }
}

fn config_from(block: &Value) -> Result<AwsConfig, String> {
    args_from::<AwsConfig>(block, &[])
}

/// Checks the `aws` block at validate time (unknown values are checked at configure).
pub fn validate(provider_config: &Value) -> Diagnostics {
    let Some(block) = provider_config.get_attr(BLOCK).filter(|b| !b.is_null()) else {
        return Diagnostics::new();
    };
    if !block.is_known() {
        return Diagnostics::new();
    }
    match config_from(block) {
        Ok(config) => block_diagnostics(&config.validate()),
        Err(e) => Diagnostic::error("Invalid aws block", e).into(),
    }
}

fn block_diagnostics(errors: &[FieldError]) -> Diagnostics {
    let mut diags = Diagnostics::new();
    for error in errors {
        let mut path = AttrPath::attr(BLOCK);
        for segment in &error.path {
            if let PathSegment::Field(name) = segment {
                path = path.then_attr(name.clone());
            }
        }
        diags.push(Diagnostic::error("Invalid aws block", format!("aws.{error}")).at(path));
    }
    diags
}

impl AwsSlot {
    /// Builds the SDK clients from the `aws` block (with the AWS environment variables as
    /// fallbacks). No block, no clients, and nothing is sent anywhere.
    pub async fn configure(&self, provider_config: &Value) -> Diagnostics {
        let Some(block) = provider_config.get_attr(BLOCK).filter(|b| !b.is_null()) else {
            *self.0.write().expect("lock") = None;
            return Diagnostics::new();
        };
        if !block.is_known() {
            *self.0.write().expect("lock") = Some(Configured::Unknown);
            return Diagnostics::new();
        }
        let config = match config_from(block) {
            Ok(config) => config.with_env_fallbacks(|name| std::env::var(name).ok()),
            Err(e) => {
                *self.0.write().expect("lock") = Some(Configured::Failed(e.clone()));
                return Diagnostic::error("Invalid aws block", e).into();
            }
        };
        let errors = config.validate();
        if !errors.is_empty() {
            *self.0.write().expect("lock") =
                Some(Configured::Failed("the aws block is invalid".into()));
            return block_diagnostics(&errors);
        }
        match Aws::connect(&config).await {
            Ok(aws) => {
                *self.0.write().expect("lock") = Some(Configured::Ready(Arc::new(aws)));
                Diagnostics::new()
            }
            Err(e) => {
                let text = e.to_string();
                *self.0.write().expect("lock") = Some(Configured::Failed(text.clone()));
                Diagnostic::error("Cannot set up AWS access", text)
                    .at(AttrPath::attr(BLOCK))
                    .into()
            }
        }
    }

    /// The clients, or an error naming the `aws` block for `type_name` to show.
    pub fn clients(&self, type_name: &str) -> Result<Arc<Aws>, Diagnostics> {
        let guard = self.0.read().expect("lock");
        match &*guard {
            Some(Configured::Ready(aws)) => Ok(aws.clone()),
            Some(Configured::Failed(reason)) => Err(Diagnostic::error(
                "AWS is not configured",
                format!("{type_name} needs the provider's `aws` block, which could not be used: {reason}"),
            )
            .into()),
            Some(Configured::Unknown) => Err(Diagnostic::error(
                "AWS is not configured",
                format!(
                    "{type_name} needs the provider's `aws` block, whose values are not known until apply; \
                     set them from variables or constants"
                ),
            )
            .into()),
            None => Err(Diagnostic::error(
                "AWS is not configured",
                format!(
                    "{type_name} needs AWS access: add an `aws` block to the provider, e.g.\n\n  \
                     provider \"homelab\" {{\n    aws {{\n      region = \"eu-west-1\"\n    }}\n  }}\n\n\
                     Credentials come from the standard AWS chain or access_key/secret_key."
                ),
            )
            .into()),
        }
    }
}

/// An AWS failure as a diagnostic: the summary says what we were doing, the detail carries
/// AWS's code and message.
pub fn error(summary: &str, error: AwsError) -> Diagnostics {
    Diagnostic::error(summary, error.to_string()).into()
}

/// A `timeouts` block like hashicorp/aws's: one optional duration per operation.
pub fn timeouts_block(operations: &[(&str, &str)]) -> NestedBlock {
    let mut block =
        Block::new("How long operations may take, as Go durations (`30s`, `10m`, `1h30m`).");
    for (operation, default) in operations {
        block = block.attribute(
            Attribute::optional(operation, Type::String)
                .description(format!("Defaults to `{default}`.")),
        );
    }
    NestedBlock {
        type_name: "timeouts".into(),
        block,
        nesting: Nesting::Single,
        min_items: 0,
        max_items: 1,
    }
}

/// Parses a Go-style duration: `90s`, `10m`, `1h30m`, `1.5h`, `500ms`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration like \"30s\", \"10m\" or \"1h30m\"");
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if number_len == 0 {
            return Err(bad());
        }
        let number: f64 = rest[..number_len].parse().map_err(|_| bad())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += number * seconds;
        rest = &rest[unit_len..];
    }
    Ok(Duration::from_secs_f64(total))
}

/// The timeout for `operation` from a resource value's `timeouts` block, or the default.
pub fn timeout(value: &Value, operation: &str, default: Duration) -> Result<Duration, Diagnostics> {
    let Some(text) = value
        .get_attr("timeouts")
        .and_then(|t| t.get_attr(operation))
        .and_then(Value::as_str)
    else {
        return Ok(default);
    };
    parse_duration(text).map_err(|e| {
        Diagnostic::error("Invalid timeout", format!("timeouts.{operation}: {e}"))
            .at(AttrPath::attr("timeouts").then_attr(operation))
            .into()
    })
}

/// Checks the `timeouts` block's durations.
pub fn validate_timeouts(value: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    if let Some(Value::Object(fields)) = value.get_attr("timeouts") {
        for (operation, v) in fields {
            if let Some(text) = v.as_str() {
                if let Err(e) = parse_duration(text) {
                    diags.push(
                        Diagnostic::error("Invalid timeout", format!("timeouts.{operation}: {e}"))
                            .at(AttrPath::attr("timeouts").then_attr(operation.clone())),
                    );
                }
            }
        }
    }
    diags
}

/// Validates a configuration or plan that may still hold unknown values: unknowns are
/// replaced by placeholders of their type, the capability's `validate` runs, and only the
/// errors about known values are kept. So bad input is reported at plan (with its attribute
/// path) even when other attributes come from resources not created yet.
pub fn validate_known<T, F>(
    summary: &str,
    value: &Value,
    ty: &Type,
    skip: &[&str],
    validate: F,
) -> Diagnostics
where
    T: serde::de::DeserializeOwned,
    F: FnOnce(&T) -> Vec<FieldError>,
{
    let mut unknown = Vec::new();
    let filled = fill_unknown(value, ty, &mut Vec::new(), &mut unknown);
    let parsed: T = match args_from(&filled, skip) {
        Ok(parsed) => parsed,
        Err(e) => {
            return if value.is_known() {
                Diagnostic::error(summary, format!("cannot read the arguments: {e}")).into()
            } else {
                Diagnostics::new()
            }
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
    derive::field_error_diagnostics(summary, &errors)
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
        Type::Number => Value::Number("0".parse().expect("zero")),
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

/// Builds a state value from a capability's JSON plus computed attributes, keeping the
/// `timeouts` block from `keep_from` (configuration or prior state).
pub fn state_value(
    json: serde_json::Value,
    extra: &[(&str, serde_json::Value)],
    ty: &Type,
    keep_from: &Value,
) -> Result<Value, Diagnostics> {
    let mut json = json;
    if let Some(object) = json.as_object_mut() {
        for (k, v) in extra {
            object.insert((*k).to_string(), v.clone());
        }
    }
    let mut value = serde_bridge::from_json(&json, ty)
        .map_err(|e| Diagnostics::from(Diagnostic::error("Cannot record the state", e)))?;
    if let Some(timeouts) = keep_from.get_attr("timeouts") {
        value.set_attr("timeouts", timeouts.clone());
    }
    Ok(value)
}

/// Marks attributes optional and computed: the provider fills them when the configuration
/// leaves them out (AWS picks a default), and an unset value never shows as a change.
pub fn mark_computed(block: &mut Block, names: &[&str]) {
    for attribute in &mut block.attributes {
        if names.contains(&attribute.name.as_str()) {
            attribute.computed = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("ten minutes").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn provider_block_marks_secret_key_sensitive() {
        let block = block();
        assert!(block.block.get("secret_key").unwrap().sensitive);
        assert!(!block.block.get("access_key").unwrap().sensitive);
        assert_eq!(block.max_items, 1);
    }

    #[derive(serde::Deserialize)]
    struct Pair {
        a: String,
        b: String,
    }

    #[test]
    fn validation_skips_unknown_values() {
        let ty = Type::Object(
            [
                ("a".to_string(), Type::String),
                ("b".to_string(), Type::String),
            ]
            .into(),
        );
        let value = Value::object([("a", Value::unknown()), ("b", Value::String("bad".into()))]);
        let check = |p: &Pair| {
            let mut errors = Vec::new();
            if p.a != "good" {
                errors.push(FieldError::field("a", "not good"));
            }
            if p.b != "good" {
                errors.push(FieldError::field("b", "not good"));
            }
            errors
        };
        let diags = validate_known("Invalid", &value, &ty, &[], check);
        assert_eq!(diags.0.len(), 1);
        assert_eq!(diags.0[0].attribute, Some(AttrPath::attr("b")));
    }
}
