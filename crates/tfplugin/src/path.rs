//! Attribute paths: where in a configuration a diagnostic or a replacement applies.

use std::fmt;

/// One step into a value: an object attribute, a map key or a list/tuple index.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    Attr(String),
    Key(String),
    Index(i64),
}

/// A path from the root of a resource's value down to one attribute or element.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct AttrPath(pub Vec<Step>);

impl AttrPath {
    pub fn root() -> Self {
        Self(Vec::new())
    }

    /// The path of a top-level attribute, the most common case.
    pub fn attr(name: impl Into<String>) -> Self {
        Self(vec![Step::Attr(name.into())])
    }

    pub fn then_attr(mut self, name: impl Into<String>) -> Self {
        self.0.push(Step::Attr(name.into()));
        self
    }

    pub fn then_key(mut self, key: impl Into<String>) -> Self {
        self.0.push(Step::Key(key.into()));
        self
    }

    pub fn then_index(mut self, index: i64) -> Self {
        self.0.push(Step::Index(index));
        self
    }

    pub fn steps(&self) -> &[Step] {
        &self.0
    }

    /// The top-level attribute the path starts with, if any.
    pub fn first_attr(&self) -> Option<&str> {
        match self.0.first() {
            Some(Step::Attr(name)) => Some(name),
            _ => None,
        }
    }
}

impl fmt::Display for AttrPath {
    /// Renders the path the way Terraform users write it: `servers[1]`, `tags["Name"]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                Step::Attr(name) if i == 0 => write!(f, "{name}")?,
                Step::Attr(name) => write!(f, ".{name}")?,
                Step::Key(key) => write!(f, "[{key:?}]")?,
                Step::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_hcl_references() {
        let path = AttrPath::attr("network")
            .then_index(1)
            .then_attr("tags")
            .then_key("Name");
        assert_eq!(path.to_string(), "network[1].tags[\"Name\"]");
        assert_eq!(path.first_attr(), Some("network"));
    }
}
