//! The JSON form of cty values, as in go-cty's `cty/json` (used for
//! `RawState.json` in `UpgradeResourceState`, and `DynamicValue.json`).
//!
//! Same shapes as msgpack, but with no unknowns; numbers are JSON numbers
//! kept digit for digit, so big ones stay exact. At a `dynamic` position a
//! known-typed value is `{"value": <value>, "type": <type JSON>}`.
//!
//! Decoding follows go-cty in being lenient where it is: an object
//! attribute that is absent is null, a string holding a number is read as
//! a number (and `"true"`/`"false"` as bools), a number or bool is read as
//! a string. Attributes the type does not have are an error.

use std::collections::BTreeMap;

use super::msgpack::{kind_of, mismatch};
use super::{at, too_deep, CtyError, Number, PathStep, Type, Value, MAX_DEPTH};

/// Encodes `v` as a value of type `ty`, checking that it fits. Unknown
/// values are an error: JSON has no way to write them. So are infinities.
pub fn encode(v: &Value, ty: &Type) -> Result<Vec<u8>, CtyError> {
    let mut out = Vec::new();
    encode_value(&mut out, v, ty, 0)?;
    Ok(out)
}

/// Decodes a value of type `ty`. The whole input must be one JSON value
/// (whitespace around it is fine).
pub fn decode(bytes: &[u8], ty: &Type) -> Result<Value, CtyError> {
    let j = parse(bytes)?;
    decode_value(&j, ty, 0)
}

// ---------------------------------------------------------------- encoding

/// `s` as a JSON string literal, quotes included.
pub(crate) fn quote(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() + 2);
    write_str(&mut out, s);
    out
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for &b in s.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x00..=0x1f => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

fn encode_value(out: &mut Vec<u8>, v: &Value, ty: &Type, depth: usize) -> Result<(), CtyError> {
    if depth > MAX_DEPTH {
        return Err(too_deep());
    }
    match (ty, v) {
        (_, Value::Unknown(_)) => Err(CtyError::new(
            "value is unknown, which the JSON form cannot represent",
        )),
        (_, Value::Null) => {
            out.extend_from_slice(b"null");
            Ok(())
        }
        (Type::Dynamic, Value::Dynamic(b)) => {
            let (real, inner) = &**b;
            if *real == Type::Dynamic {
                return Err(CtyError::new(
                    "the type of a Value::Dynamic must not itself be dynamic",
                ));
            }
            out.extend_from_slice(b"{\"value\":");
            encode_value(out, inner, real, depth + 1)?;
            out.extend_from_slice(b",\"type\":");
            out.extend_from_slice(&real.to_json());
            out.push(b'}');
            Ok(())
        }
        (Type::Bool, Value::Bool(b)) => {
            out.extend_from_slice(if *b { b"true" } else { b"false" });
            Ok(())
        }
        (Type::Number, Value::Number(n)) => {
            if n.is_infinite() {
                return Err(CtyError::new("infinity cannot be represented in JSON"));
            }
            out.extend_from_slice(n.to_string().as_bytes());
            Ok(())
        }
        (Type::String, Value::String(s)) => {
            write_str(out, s);
            Ok(())
        }
        (Type::List(et), Value::List(vs)) | (Type::Set(et), Value::Set(vs)) => {
            out.push(b'[');
            for (i, e) in vs.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                at(
                    || PathStep::Index(i as u64),
                    || encode_value(out, e, et, depth + 1),
                )?;
            }
            out.push(b']');
            Ok(())
        }
        (Type::Map(et), Value::Map(m)) => {
            out.push(b'{');
            for (i, (k, e)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, k);
                out.push(b':');
                at(
                    || PathStep::Key(k.clone()),
                    || encode_value(out, e, et, depth + 1),
                )?;
            }
            out.push(b'}');
            Ok(())
        }
        (Type::Object(attrs), Value::Object(m)) => {
            if let Some(k) = m.keys().find(|k| !attrs.contains_key(*k)) {
                return Err(
                    CtyError::new("unsupported attribute").within(PathStep::Attr(k.clone()))
                );
            }
            out.push(b'{');
            for (i, (k, aty)) in attrs.iter().enumerate() {
                let Some(av) = m.get(k) else {
                    return Err(CtyError::new(
                        "attribute is missing (use Value::Null for an absent value)",
                    )
                    .within(PathStep::Attr(k.clone())));
                };
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, k);
                out.push(b':');
                at(
                    || PathStep::Attr(k.clone()),
                    || encode_value(out, av, aty, depth + 1),
                )?;
            }
            out.push(b'}');
            Ok(())
        }
        (Type::Tuple(ts), Value::Tuple(vs)) => {
            if ts.len() != vs.len() {
                return Err(CtyError::new(format!(
                    "a tuple of {} elements is required, got {}",
                    ts.len(),
                    vs.len()
                )));
            }
            out.push(b'[');
            for (i, (e, et)) in vs.iter().zip(ts).enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                at(
                    || PathStep::Index(i as u64),
                    || encode_value(out, e, et, depth + 1),
                )?;
            }
            out.push(b']');
            Ok(())
        }
        _ => Err(mismatch(ty, v)),
    }
}

// ---------------------------------------------------------------- decoding

fn decode_value(j: &Json, ty: &Type, depth: usize) -> Result<Value, CtyError> {
    if depth > MAX_DEPTH {
        return Err(too_deep());
    }
    if let Json::Null = j {
        return Ok(Value::Null);
    }
    let required = || CtyError::new(format!("{} is required", kind_of(ty)));
    match ty {
        Type::Dynamic => {
            let Json::Object(members) = j else {
                return Err(CtyError::new(
                    "a dynamic value ({\"value\": ..., \"type\": ...}) is required",
                ));
            };
            let (mut type_json, mut value_json) = (None, None);
            for (k, mj) in members {
                let slot = match k.as_str() {
                    "type" => &mut type_json,
                    "value" => &mut value_json,
                    other => {
                        return Err(CtyError::new(format!(
                            "invalid key {other:?} in dynamic value"
                        )))
                    }
                };
                if slot.replace(mj).is_some() {
                    return Err(CtyError::new(format!(
                        "duplicate key {k:?} in dynamic value"
                    )));
                }
            }
            let type_json =
                type_json.ok_or_else(|| CtyError::new("missing type in dynamic value"))?;
            let value_json =
                value_json.ok_or_else(|| CtyError::new("missing value in dynamic value"))?;
            let real = Type::from_json_value(type_json, 0)
                .map_err(|e| CtyError::new(format!("invalid type in dynamic value: {e}")))?;
            let inner = decode_value(value_json, &real, depth + 1)?;
            if real == Type::Dynamic {
                return Ok(inner);
            }
            Ok(Value::dynamic(real, inner))
        }
        Type::Bool => match j {
            Json::Bool(b) => Ok(Value::Bool(*b)),
            Json::String(s) if s == "true" => Ok(Value::Bool(true)),
            Json::String(s) if s == "false" => Ok(Value::Bool(false)),
            _ => Err(required()),
        },
        Type::Number => match j {
            Json::Number(text) | Json::String(text) => {
                let n: Number = text
                    .parse()
                    .map_err(|e| CtyError::new(format!("number is required: {e}")))?;
                if n.is_infinite() {
                    return Err(CtyError::new("infinity cannot be represented in JSON"));
                }
                Ok(Value::Number(n))
            }
            _ => Err(required()),
        },
        Type::String => match j {
            Json::String(s) | Json::Number(s) => Ok(Value::String(s.clone())),
            Json::Bool(b) => Ok(Value::String(b.to_string())),
            _ => Err(required()),
        },
        Type::List(et) | Type::Set(et) => {
            let Json::Array(items) = j else {
                return Err(required());
            };
            let mut vs = Vec::with_capacity(items.len());
            for (i, ij) in items.iter().enumerate() {
                vs.push(at(
                    || PathStep::Index(i as u64),
                    || decode_value(ij, et, depth + 1),
                )?);
            }
            Ok(if matches!(ty, Type::List(_)) {
                Value::List(vs)
            } else {
                Value::Set(vs)
            })
        }
        Type::Map(et) => {
            let Json::Object(members) = j else {
                return Err(required());
            };
            let mut m = BTreeMap::new();
            for (k, mj) in members {
                let v = at(
                    || PathStep::Key(k.clone()),
                    || decode_value(mj, et, depth + 1),
                )?;
                if m.insert(k.clone(), v).is_some() {
                    return Err(CtyError::new("duplicate map key").within(PathStep::Key(k.clone())));
                }
            }
            Ok(Value::Map(m))
        }
        Type::Object(attrs) => {
            let Json::Object(members) = j else {
                return Err(required());
            };
            let mut m = BTreeMap::new();
            for (k, mj) in members {
                let Some(aty) = attrs.get(k) else {
                    return Err(
                        CtyError::new("unsupported attribute").within(PathStep::Attr(k.clone()))
                    );
                };
                let v = at(
                    || PathStep::Attr(k.clone()),
                    || decode_value(mj, aty, depth + 1),
                )?;
                if m.insert(k.clone(), v).is_some() {
                    return Err(
                        CtyError::new("duplicate attribute").within(PathStep::Attr(k.clone()))
                    );
                }
            }
            for k in attrs.keys() {
                if !m.contains_key(k) {
                    m.insert(k.clone(), Value::Null);
                }
            }
            Ok(Value::Object(m))
        }
        Type::Tuple(ts) => {
            let Json::Array(items) = j else {
                return Err(required());
            };
            if items.len() != ts.len() {
                return Err(CtyError::new(format!(
                    "a tuple of {} elements is required, got {}",
                    ts.len(),
                    items.len()
                )));
            }
            let mut vs = Vec::with_capacity(items.len());
            for (i, (ij, et)) in items.iter().zip(ts).enumerate() {
                vs.push(at(
                    || PathStep::Index(i as u64),
                    || decode_value(ij, et, depth + 1),
                )?);
            }
            Ok(Value::Tuple(vs))
        }
    }
}

// ---------------------------------------------------------------- parsing

/// A parsed JSON document. Numbers keep their text so no precision is
/// lost; object members keep their order and duplicates.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

/// Parses strict JSON (RFC 8259), nesting at most [`MAX_DEPTH`] deep.
pub(crate) fn parse(bytes: &[u8]) -> Result<Json, CtyError> {
    if std::str::from_utf8(bytes).is_err() {
        return Err(CtyError::new("invalid JSON: not valid UTF-8"));
    }
    let mut p = Parser { s: bytes, pos: 0 };
    p.ws();
    let j = p.value(0)?;
    p.ws();
    if p.pos != bytes.len() {
        return Err(p.err("unexpected data after the JSON value"));
    }
    Ok(j)
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn err(&self, msg: &str) -> CtyError {
        CtyError::new(format!("invalid JSON at byte {}: {msg}", self.pos))
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn expect(&mut self, b: u8) -> Result<(), CtyError> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(&format!("expected {:?}", b as char)))
        }
    }

    fn literal(&mut self, word: &[u8], j: Json) -> Result<Json, CtyError> {
        if self.s[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(j)
        } else {
            Err(self.err("invalid literal"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, CtyError> {
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        match self.peek() {
            None => Err(self.err("unexpected end of input")),
            Some(b'n') => self.literal(b"null", Json::Null),
            Some(b't') => self.literal(b"true", Json::Bool(true)),
            Some(b'f') => self.literal(b"false", Json::Bool(false)),
            Some(b'"') => self.string().map(Json::String),
            Some(b'-' | b'0'..=b'9') => self.number().map(Json::Number),
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                self.ws();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                    return Ok(Json::Array(items));
                }
                loop {
                    self.ws();
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(Json::Array(items));
                        }
                        _ => return Err(self.err("expected ',' or ']'")),
                    }
                }
            }
            Some(b'{') => {
                self.pos += 1;
                let mut members = Vec::new();
                self.ws();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                    return Ok(Json::Object(members));
                }
                loop {
                    self.ws();
                    if self.peek() != Some(b'"') {
                        return Err(self.err("expected a string key"));
                    }
                    let k = self.string()?;
                    self.ws();
                    self.expect(b':')?;
                    self.ws();
                    members.push((k, self.value(depth + 1)?));
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(Json::Object(members));
                        }
                        _ => return Err(self.err("expected ',' or '}'")),
                    }
                }
            }
            Some(_) => Err(self.err("unexpected character")),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<String, CtyError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.err("invalid number"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("invalid number"));
            }
        }
        // All ASCII, so this cannot fail.
        Ok(String::from_utf8_lossy(&self.s[start..self.pos]).into_owned())
    }

    fn hex4(&mut self) -> Result<u32, CtyError> {
        let Some(h) = self.s.get(self.pos..self.pos + 4) else {
            return Err(self.err("truncated \\u escape"));
        };
        let h = std::str::from_utf8(h).map_err(|_| self.err("invalid \\u escape"))?;
        if !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(self.err("invalid \\u escape"));
        }
        let v = u32::from_str_radix(h, 16).map_err(|_| self.err("invalid \\u escape"))?;
        self.pos += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, CtyError> {
        self.expect(b'"')?;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(self.err("unterminated string"));
            };
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let Some(e) = self.peek() else {
                        return Err(self.err("unterminated string"));
                    };
                    self.pos += 1;
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xd800..0xdc00).contains(&hi)
                                && self.s[self.pos..].starts_with(b"\\u")
                            {
                                let save = self.pos;
                                self.pos += 2;
                                let lo = self.hex4()?;
                                if (0xdc00..0xe000).contains(&lo) {
                                    0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                                } else {
                                    // Not a pair: the lone half is replaced,
                                    // the next escape read on its own.
                                    self.pos = save;
                                    0xfffd
                                }
                            } else {
                                hi
                            };
                            // Lone surrogates become U+FFFD, as in Go.
                            char::from_u32(code).unwrap_or('\u{fffd}')
                        }
                        _ => return Err(self.err("invalid escape")),
                    };
                    let mut buf = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                0x00..=0x1f => return Err(self.err("control character in string")),
                _ => out.push(b),
            }
        }
        // The input is valid UTF-8 and escapes add whole characters.
        String::from_utf8(out).map_err(|_| self.err("invalid UTF-8 in string"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cty::Refinements;

    fn num(s: &str) -> Value {
        Value::Number(s.parse().unwrap())
    }

    fn both_ways(v: &Value, ty: &Type, text: &str) {
        assert_eq!(String::from_utf8(encode(v, ty).unwrap()).unwrap(), text);
        assert_eq!(&decode(text.as_bytes(), ty).unwrap(), v, "{text}");
    }

    #[test]
    fn primitives() {
        both_ways(&Value::Null, &Type::String, "null");
        both_ways(
            &Value::from("a\"b\\c\n\u{1}é"),
            &Type::String,
            r#""a\"b\\c\n\u0001é""#,
        );
        both_ways(&Value::from(true), &Type::Bool, "true");
        both_ways(&Value::from(-12), &Type::Number, "-12");
        both_ways(&num("0.1"), &Type::Number, "0.1");
        both_ways(
            &num("1e400"),
            &Type::Number,
            &format!("1{}", "0".repeat(400)),
        );
        both_ways(&num("1.5e-2000"), &Type::Number, "1.5e-2000");
        both_ways(
            &num("123456789012345678901234567890.000000000000000000001"),
            &Type::Number,
            "123456789012345678901234567890.000000000000000000001",
        );
        assert_eq!(
            decode(b" 1.50E+1 ", &Type::Number).unwrap(),
            Value::from(15)
        );
    }

    #[test]
    fn lenient_primitives() {
        assert_eq!(decode(br#""12""#, &Type::Number).unwrap(), Value::from(12));
        assert_eq!(
            decode(br#""true""#, &Type::Bool).unwrap(),
            Value::from(true)
        );
        assert_eq!(decode(b"1.50", &Type::String).unwrap(), Value::from("1.50"));
        assert_eq!(
            decode(b"false", &Type::String).unwrap(),
            Value::from("false")
        );
        assert!(decode(br#""yes""#, &Type::Bool).is_err());
        assert!(decode(br#""Inf""#, &Type::Number).is_err());
        assert!(decode(b"[]", &Type::String).is_err());
    }

    #[test]
    fn collections_and_objects() {
        let ty = Type::object([
            ("a", Type::list(Type::set(Type::Number))),
            ("m", Type::map(Type::String)),
            ("t", Type::tuple([Type::String, Type::Bool])),
        ]);
        let v = Value::object([
            (
                "a",
                Value::List(vec![
                    Value::Set(vec![1.into(), 2.into()]),
                    Value::Set(vec![]),
                ]),
            ),
            ("m", Value::map([("k", Value::from("v"))])),
            ("t", Value::Tuple(vec!["x".into(), false.into()])),
        ]);
        both_ways(&v, &ty, r#"{"a":[[1,2],[]],"m":{"k":"v"},"t":["x",false]}"#);
        // Absent attributes are null; unknown ones are errors.
        let partial = decode(br#"{"t": null}"#, &ty).unwrap();
        assert_eq!(
            partial,
            Value::object([("a", Value::Null), ("m", Value::Null), ("t", Value::Null)])
        );
        let err = decode(br#"{"zz": 1}"#, &ty).unwrap_err();
        assert_eq!(err.to_string(), ".zz: unsupported attribute");
        let err = decode(br#"{"t": ["x"]}"#, &ty).unwrap_err();
        assert_eq!(err.path_string(), ".t");
        let err = decode(br#"{"m": {"k": []}}"#, &ty).unwrap_err();
        assert_eq!(err.to_string(), ".m[\"k\"]: string is required");
        assert!(decode(br#"{"m": {"k": "a", "k": "b"}}"#, &ty).is_err());
    }

    #[test]
    fn dynamic() {
        let v = Value::dynamic(Type::list(Type::String), Value::List(vec!["x".into()]));
        both_ways(
            &v,
            &Type::Dynamic,
            r#"{"value":["x"],"type":["list","string"]}"#,
        );
        both_ways(&Value::Null, &Type::Dynamic, "null");
        both_ways(
            &Value::dynamic(Type::String, Value::Null),
            &Type::Dynamic,
            r#"{"value":null,"type":"string"}"#,
        );
        assert_eq!(
            decode(br#"{"type":"number","value":"5"}"#, &Type::Dynamic).unwrap(),
            Value::dynamic(Type::Number, 5.into())
        );
        for bad in [
            &br#"{"type":"number"}"#[..],
            br#"{"value":1}"#,
            br#"{"type":"number","value":1,"x":2}"#,
            br#"{"type":"nope","value":1}"#,
            br#"5"#,
        ] {
            assert!(decode(bad, &Type::Dynamic).is_err());
        }
    }

    #[test]
    fn unknowns_and_mismatches_do_not_encode() {
        let ty = Type::list(Type::String);
        let v = Value::List(vec!["a".into(), Value::Unknown(Refinements::not_null())]);
        assert_eq!(encode(&v, &ty).unwrap_err().path_string(), "[1]");
        assert!(encode(&Value::from(1), &Type::String).is_err());
        assert!(encode(&Value::Number(Number::infinity()), &Type::Number).is_err());
    }

    #[test]
    fn parser() {
        assert_eq!(
            parse(br#" {"a" : [1, -2.5e3, true, null, "\u00e9\ud83d\ude00\ud800x"]} "#).unwrap(),
            Json::Object(vec![(
                "a".into(),
                Json::Array(vec![
                    Json::Number("1".into()),
                    Json::Number("-2.5e3".into()),
                    Json::Bool(true),
                    Json::Null,
                    Json::String("é😀\u{fffd}x".into()),
                ])
            )])
        );
        for bad in [
            &b""[..],
            b"01",
            b"1.",
            b"-",
            b"1e",
            b".5",
            b"+1",
            b"[1,]",
            b"{\"a\"}",
            b"{\"a\":1,}",
            b"{1:2}",
            b"\"abc",
            b"\"\\x\"",
            b"\"\\u12\"",
            b"\"a\nb\"",
            b"nul",
            b"[1] 2",
            b"\xff",
            b"NaN",
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let deep = "[".repeat(10_000);
        assert!(parse(deep.as_bytes()).is_err());
    }
}
