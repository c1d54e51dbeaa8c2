//! cty types and values, and their msgpack and JSON wire forms.
//!
//! Terraform core speaks in [go-cty](https://github.com/zclconf/go-cty)
//! values. Over plugin protocol 6 they travel as `DynamicValue`s, either
//! msgpack-encoded (the normal case) or JSON-encoded (`RawState` in
//! `UpgradeResourceState`), and always *against a type* that both sides
//! know from the schema. This module holds:
//!
//! * [`Type`]: the cty type model, plus its JSON form ([`Type::to_json`],
//!   [`Type::from_json`]) used for schema `type` bytes and dynamic values.
//! * [`Value`]: a value tree with nulls, (refined) unknowns and
//!   [`Value::Dynamic`] for values whose type is only known at run time.
//! * [`Number`]: an arbitrary-precision decimal, so that big or very precise
//!   numbers round-trip exactly.
//! * [`msgpack`] and [`json`]: encoders and decoders. Encoders check the
//!   value against the type; decoders accept any input without panicking.
//!
//! Errors are [`CtyError`]s, which carry the path to the offending part of
//! the value (`.servers[2].name`), both as text and as [`PathStep`]s so
//! that the server can turn them into protocol `AttributePath`s.
//!
//! ```
//! use std::collections::BTreeMap;
//! use tfplugin::cty::{msgpack, Type, Value};
//!
//! let ty = Type::Object(BTreeMap::from([("name".to_string(), Type::String)]));
//! let v = Value::Object(BTreeMap::from([("name".to_string(), Value::from("web"))]));
//! let bytes = msgpack::encode(&v, &ty).unwrap();
//! assert_eq!(msgpack::decode(&bytes, &ty).unwrap(), v);
//! ```

use std::fmt;

pub mod json;
pub mod msgpack;
mod number;
mod types;
mod value;

pub use number::{Number, ParseNumberError};
pub use types::Type;
pub use value::{Refinements, Value};

/// How deeply types and values may nest before the codecs give up.
///
/// Each list, set, map, object, tuple or dynamic wrapper is one level. The
/// limit keeps recursion on untrusted input bounded; real schemas stay far
/// below it.
pub const MAX_DEPTH: usize = 128;

/// One step of the path from the root of a value to a part of it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PathStep {
    /// An object attribute: `.name`.
    Attr(String),
    /// A list, set or tuple element by position: `[2]`. (Sets have no real
    /// order; this is the position in the encoded form.)
    Index(u64),
    /// A map element by key: `["key"]`.
    Key(String),
}

impl fmt::Display for PathStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathStep::Attr(name) => write!(f, ".{name}"),
            PathStep::Index(i) => write!(f, "[{i}]"),
            PathStep::Key(k) => {
                f.write_str("[")?;
                f.write_str(&String::from_utf8_lossy(&json::quote(k)))?;
                f.write_str("]")
            }
        }
    }
}

/// An error from a cty codec or type check: what went wrong, and where in
/// the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CtyError {
    message: String,
    path: Vec<PathStep>,
}

impl CtyError {
    /// An error at the root of the value.
    pub fn new(message: impl Into<String>) -> Self {
        CtyError {
            message: message.into(),
            path: Vec::new(),
        }
    }

    /// The error with `step` put in front of its path (used while
    /// unwinding out of nested values).
    pub(crate) fn within(mut self, step: PathStep) -> Self {
        self.path.insert(0, step);
        self
    }

    /// What went wrong, without the path.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Where it went wrong, from the root of the value (empty: the root).
    pub fn path(&self) -> &[PathStep] {
        &self.path
    }

    /// The path as text, e.g. `.servers[2].name`; empty for the root.
    pub fn path_string(&self) -> String {
        self.path.iter().map(ToString::to_string).collect()
    }
}

impl fmt::Display for CtyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path_string(), self.message)
        }
    }
}

impl std::error::Error for CtyError {}

/// Runs `f`, adding `step` to the path of any error it returns.
pub(crate) fn at<T>(
    step: impl FnOnce() -> PathStep,
    f: impl FnOnce() -> Result<T, CtyError>,
) -> Result<T, CtyError> {
    f().map_err(|e| e.within(step()))
}

/// The error for going past [`MAX_DEPTH`].
pub(crate) fn too_deep() -> CtyError {
    CtyError::new(format!("nested more than {MAX_DEPTH} levels deep"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_display_with_path() {
        let e = CtyError::new("string is required")
            .within(PathStep::Key("a\"b".into()))
            .within(PathStep::Index(2))
            .within(PathStep::Attr("servers".into()));
        assert_eq!(e.path_string(), ".servers[2][\"a\\\"b\"]");
        assert_eq!(e.to_string(), ".servers[2][\"a\\\"b\"]: string is required");
        assert_eq!(e.message(), "string is required");
        assert_eq!(CtyError::new("x").to_string(), "x");
    }
}
