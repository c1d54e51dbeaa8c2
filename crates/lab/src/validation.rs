//! Field-level validation errors shared by every capability.
//!
//! A capability's `validate` returns all problems at once, each with the path of the
//! argument it concerns, so a surface can attach it to the right place: Terraform turns
//! the path into an attribute path on the diagnostic, Ansible prints it in front of the
//! message. Paths use argument names as users write them (`servers[1]`), not Rust names.

use std::fmt;

/// An argument type that can say what is wrong with it. Every capability's arguments
/// implement it, so the surfaces check them all the same way (Terraform at validate and
/// plan, Ansible before anything runs).
pub trait Validate {
    /// Every problem at once, each with the path of the argument it concerns.
    fn validate(&self) -> Vec<FieldError>;

    /// How an error names the value (`traefik route "whoami"`).
    fn subject(&self) -> String {
        "the arguments".into()
    }

    /// [`validate`](Self::validate) as a `Result`, for callers that only need to stop.
    fn check(&self) -> Result<(), crate::Error> {
        check(|| self.subject(), self.validate())
    }
}

/// `errors` as a `Result`, for callers that only need to stop: [`crate::Error::Invalid`]
/// about `what` (`traefik route "whoami"`) when there are any.
pub fn check(what: impl FnOnce() -> String, errors: Vec<FieldError>) -> Result<(), crate::Error> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(crate::Error::Invalid {
            what: what(),
            errors,
        })
    }
}

/// One step in the path to an argument: a field, a list index or a map key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathSegment {
    Field(String),
    Index(usize),
    Key(String),
}

/// A problem with one argument, where `path` says which one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub path: Vec<PathSegment>,
    pub message: String,
}

impl FieldError {
    pub fn new(path: Vec<PathSegment>, message: impl Into<String>) -> Self {
        Self {
            path,
            message: message.into(),
        }
    }

    /// An error on a top-level field, the common case.
    pub fn field(name: &str, message: impl Into<String>) -> Self {
        Self::new(vec![PathSegment::Field(name.to_owned())], message)
    }

    /// An error on one element of a top-level list field.
    pub fn item(name: &str, index: usize, message: impl Into<String>) -> Self {
        Self::new(
            vec![
                PathSegment::Field(name.to_owned()),
                PathSegment::Index(index),
            ],
            message,
        )
    }

    /// The path alone, as `servers[1]` or `labels["app"]`.
    pub fn path_string(&self) -> String {
        format_path(&self.path)
    }
}

/// Renders a path the way users write it: `a.b[2]["key"]`.
pub fn format_path(path: &[PathSegment]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            PathSegment::Field(name) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(name);
            }
            PathSegment::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
            PathSegment::Key(key) => {
                out.push('[');
                out.push_str(&format!("{key:?}"));
                out.push(']');
            }
        }
    }
    out
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path_string(), self.message)
        }
    }
}

impl std::error::Error for FieldError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_index_paths_like_users_write_them() {
        let e = FieldError::item("servers", 1, "must be an http(s) URL, got \"ftp://x\"");
        assert_eq!(
            e.to_string(),
            "servers[1]: must be an http(s) URL, got \"ftp://x\""
        );
    }

    #[test]
    fn displays_nested_fields_and_keys() {
        let e = FieldError::new(
            vec![
                PathSegment::Field("stack".into()),
                PathSegment::Field("labels".into()),
                PathSegment::Key("app.name".into()),
            ],
            "must not be empty",
        );
        assert_eq!(
            e.to_string(),
            "stack.labels[\"app.name\"]: must not be empty"
        );
    }

    #[test]
    fn displays_message_alone_without_path() {
        assert_eq!(FieldError::new(vec![], "boom").to_string(), "boom");
    }
}
