//! Object-value helpers used while planning and building state.

use crate::cty::Value;

impl Value {
    /// Sets an attribute of an object value; does nothing on other values, which cannot
    /// carry attributes (a null or unknown resource object is replaced as a whole).
    pub fn set_attr(&mut self, name: &str, value: Value) {
        if let Value::Object(fields) = self {
            fields.insert(name.to_string(), value);
        }
    }

    /// Whether every attribute of this object other than `except` is wholly known.
    pub fn is_known_except(&self, except: &[&str]) -> bool {
        match self {
            Value::Object(fields) => fields
                .iter()
                .all(|(name, v)| except.contains(&name.as_str()) || v.is_known()),
            other => other.is_known(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn sets_attributes_and_checks_knownness() {
        let mut v = Value::Object(BTreeMap::from([
            ("a".to_string(), Value::Null),
            ("b".to_string(), Value::unknown()),
        ]));
        assert!(!v.is_known_except(&[]));
        assert!(v.is_known_except(&["b"]));
        v.set_attr("b", Value::Bool(true));
        assert!(v.is_known_except(&[]));
    }
}
