//! [`Value`]: a cty value, and [`Refinements`] of unknown values.

use std::collections::BTreeMap;

use super::{msgpack, CtyError, Number, Type};

/// What is known about an unknown value (go-cty "refinements").
///
/// Which fields apply depends on the value's type: `not_null` for any type
/// but `dynamic`; `string_prefix` for strings; `number_lower` and
/// `number_upper` (bound, inclusive) for numbers; `length_lower` and
/// `length_upper` for lists, sets and maps. The msgpack encoder rejects
/// refinements that do not fit the type, and drops all of them for
/// `dynamic` (which go-cty never refines). `Default` is "nothing known".
///
/// Values that mean "no constraint" are not sent: an empty prefix, a
/// length lower bound of 0, a length upper bound of `i64::MAX` or more.
/// So `Some(0)` as lower bound comes back as `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Refinements {
    /// The value will not be null.
    pub not_null: bool,
    /// A string value will start with this.
    pub string_prefix: Option<String>,
    /// A number value will be at least (bound, inclusive) this.
    pub number_lower: Option<(Number, bool)>,
    /// A number value will be at most (bound, inclusive) this.
    pub number_upper: Option<(Number, bool)>,
    /// A collection will have at least this many elements.
    pub length_lower: Option<u64>,
    /// A collection will have at most this many elements.
    pub length_upper: Option<u64>,
}

impl Refinements {
    /// Whether nothing is known (a plain unknown).
    pub fn is_empty(&self) -> bool {
        *self == Refinements::default()
    }

    /// Only "will not be null".
    pub fn not_null() -> Refinements {
        Refinements {
            not_null: true,
            ..Refinements::default()
        }
    }
}

/// A cty value.
///
/// Values do not carry their type: the codecs and [`Value::check_type`]
/// take the type alongside. The variants line up with [`Type`], plus
/// [`Value::Null`] and [`Value::Unknown`], which any type allows, and
/// [`Value::Dynamic`], the form of a known-typed value at a
/// [`Type::Dynamic`] position.
///
/// Equality (`==`, [`Value::sem_eq`]) is semantic: numbers compare by
/// value, sets ignore element order, and unknowns compare by their
/// refinements. Sets are kept as given, so a set with duplicate elements
/// is not equal to one without.
#[derive(Clone, Debug)]
pub enum Value {
    Null,
    Unknown(Refinements),
    Bool(bool),
    Number(Number),
    String(String),
    List(Vec<Value>),
    /// Element order carries no meaning.
    Set(Vec<Value>),
    Map(BTreeMap<String, Value>),
    /// Must have exactly the type's attributes (use `Null` for absent ones).
    Object(BTreeMap<String, Value>),
    Tuple(Vec<Value>),
    /// A value together with its run-time type, for a `dynamic` position.
    /// The type must not itself be `Type::Dynamic`.
    Dynamic(Box<(Type, Value)>),
}

impl Value {
    /// A wholly unknown value (no refinements).
    pub fn unknown() -> Value {
        Value::Unknown(Refinements::default())
    }

    /// An unknown value with refinements.
    pub fn unknown_refined(refinements: Refinements) -> Value {
        Value::Unknown(refinements)
    }

    /// `value` of type `ty`, for a `dynamic` position.
    pub fn dynamic(ty: Type, value: Value) -> Value {
        Value::Dynamic(Box::new((ty, value)))
    }

    /// An object from `(name, value)` pairs.
    pub fn object<K: Into<String>>(attrs: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Object(attrs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// A map from `(key, value)` pairs.
    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// Whether this is null (a `Dynamic` wrapper around null counts).
    pub fn is_null(&self) -> bool {
        match self {
            Value::Null => true,
            Value::Dynamic(b) => b.1.is_null(),
            _ => false,
        }
    }

    /// Whether this value itself is unknown (not looking inside).
    pub fn is_unknown(&self) -> bool {
        match self {
            Value::Unknown(_) => true,
            Value::Dynamic(b) => b.1.is_unknown(),
            _ => false,
        }
    }

    /// Whether no unknown appears anywhere in this value.
    pub fn is_known(&self) -> bool {
        match self {
            Value::Unknown(_) => false,
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => true,
            Value::List(vs) | Value::Set(vs) | Value::Tuple(vs) => vs.iter().all(Value::is_known),
            Value::Map(m) | Value::Object(m) => m.values().all(Value::is_known),
            Value::Dynamic(b) => b.1.is_known(),
        }
    }

    /// The refinements of an unknown value.
    pub fn refinements(&self) -> Option<&Refinements> {
        match self.unwrap_dynamic() {
            Value::Unknown(r) => Some(r),
            _ => None,
        }
    }

    /// The value inside a `Dynamic` wrapper, or the value itself.
    pub fn unwrap_dynamic(&self) -> &Value {
        match self {
            Value::Dynamic(b) => b.1.unwrap_dynamic(),
            v => v,
        }
    }

    /// The string, if this is a known string.
    pub fn as_str(&self) -> Option<&str> {
        match self.unwrap_dynamic() {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The bool, if this is a known bool.
    pub fn as_bool(&self) -> Option<bool> {
        match self.unwrap_dynamic() {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number, if this is a known number.
    pub fn as_number(&self) -> Option<&Number> {
        match self.unwrap_dynamic() {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    /// The number as an i64, if it is a known whole number in range.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_number()?.as_i64()
    }

    /// The elements of a list, set or tuple.
    pub fn as_elements(&self) -> Option<&[Value]> {
        match self.unwrap_dynamic() {
            Value::List(vs) | Value::Set(vs) | Value::Tuple(vs) => Some(vs),
            _ => None,
        }
    }

    /// The entries of a map or the attributes of an object.
    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self.unwrap_dynamic() {
            Value::Map(m) | Value::Object(m) => Some(m),
            _ => None,
        }
    }

    /// An attribute of an object.
    pub fn get_attr(&self, name: &str) -> Option<&Value> {
        match self.unwrap_dynamic() {
            Value::Object(m) => m.get(name),
            _ => None,
        }
    }

    /// A mutable attribute of an object.
    pub fn get_attr_mut(&mut self, name: &str) -> Option<&mut Value> {
        match self {
            Value::Object(m) => m.get_mut(name),
            Value::Dynamic(b) => b.1.get_attr_mut(name),
            _ => None,
        }
    }

    /// An element of a list or tuple by position.
    pub fn index(&self, index: usize) -> Option<&Value> {
        match self.unwrap_dynamic() {
            Value::List(vs) | Value::Tuple(vs) => vs.get(index),
            _ => None,
        }
    }

    /// A short name of this value's kind, for messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Unknown(_) => "unknown",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::Map(_) => "map",
            Value::Object(_) => "object",
            Value::Tuple(_) => "tuple",
            Value::Dynamic(_) => "dynamic value",
        }
    }

    /// Checks that this value fits `ty`, as the encoders do, and says
    /// where it does not.
    pub fn check_type(&self, ty: &Type) -> Result<(), CtyError> {
        msgpack::encode(self, ty).map(|_| ())
    }

    /// Semantic equality: numbers by value, sets ignoring order. Same as
    /// `==`.
    pub fn sem_eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Unknown(a), Value::Unknown(b)) => a == b,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Number(a), Value::Number(b)) => a == b,
            (Value::String(a), Value::String(b)) => a == b,
            (Value::List(a), Value::List(b)) | (Value::Tuple(a), Value::Tuple(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.sem_eq(y))
            }
            (Value::Set(a), Value::Set(b)) => set_eq(a, b),
            (Value::Map(a), Value::Map(b)) | (Value::Object(a), Value::Object(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|((ka, va), (kb, vb))| ka == kb && va.sem_eq(vb))
            }
            (Value::Dynamic(a), Value::Dynamic(b)) => a.0 == b.0 && a.1.sem_eq(&b.1),
            _ => false,
        }
    }
}

/// Multiset equality: each element of `a` pairs off with a distinct equal
/// element of `b`. Greedy pairing is enough because `sem_eq` is an
/// equivalence relation.
fn set_eq(a: &[Value], b: &[Value]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut used = vec![false; b.len()];
    'outer: for x in a {
        for (j, y) in b.iter().enumerate() {
            if !used[j] && x.sem_eq(y) {
                used[j] = true;
                continue 'outer;
            }
        }
        return false;
    }
    true
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        self.sem_eq(other)
    }
}

impl Eq for Value {}

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Bool(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::String(v.to_string())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::String(v)
    }
}

impl From<Number> for Value {
    fn from(v: Number) -> Value {
        Value::Number(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Number(v.into())
    }
}

impl From<u64> for Value {
    fn from(v: u64) -> Value {
        Value::Number(v.into())
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Value {
        Value::Number(v.into())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    /// `None` is null.
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_equality_ignores_order_but_counts() {
        let a = Value::Set(vec![1.into(), 2.into(), 2.into()]);
        let b = Value::Set(vec![2.into(), 1.into(), 2.into()]);
        let c = Value::Set(vec![2.into(), 1.into(), 1.into()]);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(
            Value::List(vec![1.into(), 2.into()]),
            Value::List(vec![2.into(), 1.into()])
        );
        assert_ne!(Value::List(vec![]), Value::Set(vec![]));
    }

    #[test]
    fn numbers_compare_by_value() {
        let one: Value = Value::Number("1.0".parse().unwrap());
        assert_eq!(one, Value::from(1));
    }

    #[test]
    fn accessors() {
        let v = Value::object([
            ("name", Value::from("web")),
            ("count", Value::from(3)),
            ("tags", Value::Set(vec![Value::unknown()])),
            ("flag", Value::dynamic(Type::Bool, true.into())),
        ]);
        assert_eq!(v.get_attr("name").and_then(Value::as_str), Some("web"));
        assert_eq!(v.get_attr("count").and_then(Value::as_i64), Some(3));
        assert_eq!(v.get_attr("flag").and_then(Value::as_bool), Some(true));
        assert!(v.get_attr("missing").is_none());
        assert!(!v.is_known());
        assert!(!v.is_unknown());
        assert!(v.get_attr("tags").unwrap().as_elements().unwrap()[0].is_unknown());
        assert!(Value::from(None::<i64>).is_null());
        assert!(Value::dynamic(Type::String, Value::Null).is_null());
    }

    #[test]
    fn check_type_reports_path() {
        let ty = Type::object([("servers", Type::list(Type::Number))]);
        let v = Value::object([(
            "servers",
            Value::List(vec![1.into(), 2.into(), "three".into()]),
        )]);
        let err = v.check_type(&ty).unwrap_err();
        assert_eq!(err.path_string(), ".servers[2]");
        assert_eq!(
            err.to_string(),
            ".servers[2]: number is required, got string"
        );
    }
}
