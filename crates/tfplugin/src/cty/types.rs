//! [`Type`]: cty's type model and its JSON form.

use std::collections::BTreeMap;
use std::fmt;

use super::json::{self, Json};
use super::{at, too_deep, CtyError, PathStep, MAX_DEPTH};

/// A cty type.
///
/// The JSON form ([`Type::to_json`], [`Type::from_json`]) is go-cty's:
/// `"string"`, `"number"`, `"bool"`, `"dynamic"`, `["list", T]`,
/// `["set", T]`, `["map", T]`, `["object", {"attr": T}]` and
/// `["tuple", [T, ...]]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Type {
    Bool,
    Number,
    String,
    /// The pseudo-type "any type, decided at run time". Values at a dynamic
    /// position are [`Value::Null`](super::Value::Null), a plain
    /// [`Value::Unknown`](super::Value::Unknown), or a
    /// [`Value::Dynamic`](super::Value::Dynamic) naming their real type.
    Dynamic,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Object(BTreeMap<String, Type>),
    Tuple(Vec<Type>),
}

impl Type {
    /// `list(element)`.
    pub fn list(element: Type) -> Type {
        Type::List(Box::new(element))
    }

    /// `set(element)`.
    pub fn set(element: Type) -> Type {
        Type::Set(Box::new(element))
    }

    /// `map(element)`.
    pub fn map(element: Type) -> Type {
        Type::Map(Box::new(element))
    }

    /// `object({...})` from `(name, type)` pairs.
    pub fn object<K: Into<String>>(attrs: impl IntoIterator<Item = (K, Type)>) -> Type {
        Type::Object(attrs.into_iter().map(|(k, t)| (k.into(), t)).collect())
    }

    /// `tuple([...])`.
    pub fn tuple(elements: impl IntoIterator<Item = Type>) -> Type {
        Type::Tuple(elements.into_iter().collect())
    }

    /// Bool, number or string.
    pub fn is_primitive(&self) -> bool {
        matches!(self, Type::Bool | Type::Number | Type::String)
    }

    /// List, set or map.
    pub fn is_collection(&self) -> bool {
        matches!(self, Type::List(_) | Type::Set(_) | Type::Map(_))
    }

    /// The element type of a list, set or map.
    pub fn element_type(&self) -> Option<&Type> {
        match self {
            Type::List(t) | Type::Set(t) | Type::Map(t) => Some(t),
            _ => None,
        }
    }

    /// The attribute types of an object.
    pub fn attribute_types(&self) -> Option<&BTreeMap<String, Type>> {
        match self {
            Type::Object(attrs) => Some(attrs),
            _ => None,
        }
    }

    /// Whether `dynamic` appears anywhere in the type.
    pub fn has_dynamic(&self) -> bool {
        match self {
            Type::Dynamic => true,
            Type::Bool | Type::Number | Type::String => false,
            Type::List(t) | Type::Set(t) | Type::Map(t) => t.has_dynamic(),
            Type::Object(attrs) => attrs.values().any(Type::has_dynamic),
            Type::Tuple(ts) => ts.iter().any(Type::has_dynamic),
        }
    }

    /// The go-cty JSON form, compact and with object attributes sorted,
    /// e.g. `["list",["object",{"a":"string"}]]`.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_json(&mut out);
        out
    }

    fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Type::Bool => out.extend_from_slice(b"\"bool\""),
            Type::Number => out.extend_from_slice(b"\"number\""),
            Type::String => out.extend_from_slice(b"\"string\""),
            Type::Dynamic => out.extend_from_slice(b"\"dynamic\""),
            Type::List(t) | Type::Set(t) | Type::Map(t) => {
                out.extend_from_slice(match self {
                    Type::List(_) => b"[\"list\",",
                    Type::Set(_) => b"[\"set\",",
                    _ => b"[\"map\",",
                });
                t.write_json(out);
                out.push(b']');
            }
            Type::Object(attrs) => {
                out.extend_from_slice(b"[\"object\",{");
                for (i, (name, t)) in attrs.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(&json::quote(name));
                    out.push(b':');
                    t.write_json(out);
                }
                out.extend_from_slice(b"}]");
            }
            Type::Tuple(ts) => {
                out.extend_from_slice(b"[\"tuple\",[");
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    t.write_json(out);
                }
                out.extend_from_slice(b"]]");
            }
        }
    }

    /// Reads the go-cty JSON form.
    ///
    /// An object type may carry a third element listing its optional
    /// attributes (`["object", {"a": "string"}, ["a"]]`). It is checked and
    /// accepted, but not kept: optional attributes only matter for type
    /// conversion inside Terraform, and [`Type`] has no place for them.
    pub fn from_json(bytes: &[u8]) -> Result<Type, CtyError> {
        let j = json::parse(bytes)?;
        Type::from_json_value(&j, 0)
    }

    pub(crate) fn from_json_value(j: &Json, depth: usize) -> Result<Type, CtyError> {
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        let bad = |msg: &str| Err(CtyError::new(format!("invalid type: {msg}")));
        match j {
            Json::String(s) => match s.as_str() {
                "bool" => Ok(Type::Bool),
                "number" => Ok(Type::Number),
                "string" => Ok(Type::String),
                "dynamic" => Ok(Type::Dynamic),
                other => bad(&format!("unknown primitive type name {other:?}")),
            },
            Json::Array(items) => {
                let Some(Json::String(kind)) = items.first() else {
                    return bad("a complex type needs a kind name first");
                };
                let args = &items[1..];
                let expected = if kind == "object" { 1..=2 } else { 1..=1 };
                if !expected.contains(&args.len()) {
                    return bad(&format!("wrong number of elements for {kind:?}"));
                }
                let arg = &args[0];
                match kind.as_str() {
                    "list" => Ok(Type::list(Type::from_json_value(arg, depth + 1)?)),
                    "set" => Ok(Type::set(Type::from_json_value(arg, depth + 1)?)),
                    "map" => Ok(Type::map(Type::from_json_value(arg, depth + 1)?)),
                    "object" => {
                        let Json::Object(members) = arg else {
                            return bad("object attributes must be a JSON object");
                        };
                        let mut attrs = BTreeMap::new();
                        for (name, aj) in members {
                            let t = at(
                                || PathStep::Attr(name.clone()),
                                || Type::from_json_value(aj, depth + 1),
                            )?;
                            if attrs.insert(name.clone(), t).is_some() {
                                return bad(&format!("duplicate attribute {name:?}"));
                            }
                        }
                        if let Some(optional) = args.get(1) {
                            let Json::Array(names) = optional else {
                                return bad("optional attributes must be an array of names");
                            };
                            for name in names {
                                match name {
                                    Json::String(n) if attrs.contains_key(n) => {}
                                    _ => return bad("optional attribute is not an attribute"),
                                }
                            }
                        }
                        Ok(Type::Object(attrs))
                    }
                    "tuple" => {
                        let Json::Array(elems) = arg else {
                            return bad("tuple element types must be an array");
                        };
                        let mut ts = Vec::with_capacity(elems.len());
                        for (i, ej) in elems.iter().enumerate() {
                            ts.push(at(
                                || PathStep::Index(i as u64),
                                || Type::from_json_value(ej, depth + 1),
                            )?);
                        }
                        Ok(Type::Tuple(ts))
                    }
                    other => bad(&format!("unknown complex type kind {other:?}")),
                }
            }
            _ => bad("must be a string or an array"),
        }
    }
}

impl fmt::Display for Type {
    /// A type expression as in Terraform: `list(object({a=string}))`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Bool => f.write_str("bool"),
            Type::Number => f.write_str("number"),
            Type::String => f.write_str("string"),
            Type::Dynamic => f.write_str("dynamic"),
            Type::List(t) => write!(f, "list({t})"),
            Type::Set(t) => write!(f, "set({t})"),
            Type::Map(t) => write!(f, "map({t})"),
            Type::Object(attrs) => {
                f.write_str("object({")?;
                for (i, (name, t)) in attrs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{name}={t}")?;
                }
                f.write_str("})")
            }
            Type::Tuple(ts) => {
                f.write_str("tuple([")?;
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{t}")?;
                }
                f.write_str("])")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip() {
        let ty = Type::object([
            ("b", Type::list(Type::set(Type::Number))),
            ("a\"q", Type::map(Type::Bool)),
            ("d", Type::Dynamic),
            ("t", Type::tuple([Type::String, Type::Tuple(vec![])])),
            ("o", Type::Object(BTreeMap::new())),
        ]);
        let j = String::from_utf8(ty.to_json()).unwrap();
        assert_eq!(
            j,
            r#"["object",{"a\"q":["map","bool"],"b":["list",["set","number"]],"d":"dynamic","o":["object",{}],"t":["tuple",["string",["tuple",[]]]]}]"#
        );
        assert_eq!(Type::from_json(j.as_bytes()).unwrap(), ty);
        assert_eq!(
            ty.to_string(),
            "object({a\"q=map(bool), b=list(set(number)), d=dynamic, o=object({}), t=tuple([string, tuple([])])})"
        );
    }

    #[test]
    fn from_json_accepts_whitespace_and_optionals() {
        let ty = Type::from_json(
            b" [ \"object\" , { \"a\" : \"string\", \"b\": \"number\" }, [\"a\"] ] ",
        )
        .unwrap();
        assert_eq!(ty, Type::object([("a", Type::String), ("b", Type::Number)]));
    }

    #[test]
    fn from_json_rejects_garbage() {
        for bad in [
            &b""[..],
            b"\"strin\"",
            b"[\"list\"]",
            b"[\"list\",\"string\",\"string\"]",
            b"[\"object\",[]]",
            b"[\"object\",{\"a\":\"string\"},[\"b\"]]",
            b"[\"object\",{\"a\":\"string\",\"a\":\"number\"}]",
            b"[\"tuple\",{}]",
            b"[\"frob\",\"string\"]",
            b"[1,\"string\"]",
            b"42",
            b"\"string\" x",
            b"[\"list\",\"string\"",
        ] {
            assert!(
                Type::from_json(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = "[\"list\",".repeat(200) + "\"string\"" + &"]".repeat(200);
        assert!(Type::from_json(deep.as_bytes()).is_err());
        let ok = "[\"list\",".repeat(100) + "\"string\"" + &"]".repeat(100);
        assert!(Type::from_json(ok.as_bytes()).is_ok());
    }
}
