//! The msgpack form of cty values, as in go-cty's `cty/msgpack` and
//! plugin protocol 6 `DynamicValue.msgpack`.
//!
//! * null is msgpack nil; any extension value is an unknown. A plain
//!   unknown is written `d4 00 00` (fixext1, type 0). An unknown with
//!   [`Refinements`] is extension type 12 whose payload is a map: `1` →
//!   `false` (not null), `2` → string prefix, `3`/`4` → `[number,
//!   inclusive]` lower/upper bound, `5`/`6` → collection length
//!   lower/upper bound.
//! * bool and string are native. A number is an int if it is a whole
//!   number that fits in an i64, else a float64 if that is exact, else its
//!   decimal text; all int, uint, float32, float64 and string forms are
//!   read.
//! * list, set and tuple are arrays; map is a map with string keys; object
//!   is a map with exactly the type's attributes.
//! * At a `dynamic` position a known-typed value is the array
//!   `[type JSON as bin, value]`.

use std::collections::BTreeMap;

use super::{at, too_deep, CtyError, Number, PathStep, Refinements, Type, Value, MAX_DEPTH};

/// Extension type of an unknown value with refinements.
const EXT_REFINED_UNKNOWN: i8 = 12;
/// Largest refinement payload accepted, as in go-cty.
const MAX_REFINEMENT_LEN: usize = 1024;
/// Refinement map keys.
const RFN_NULLNESS: i128 = 1;
const RFN_STRING_PREFIX: i128 = 2;
const RFN_NUMBER_MIN: i128 = 3;
const RFN_NUMBER_MAX: i128 = 4;
const RFN_LENGTH_MIN: i128 = 5;
const RFN_LENGTH_MAX: i128 = 6;
/// Most elements reserved up front, however many an input claims.
const MAX_PREALLOC: usize = 1024;

/// Encodes `v` as a value of type `ty`, checking that it fits.
pub fn encode(v: &Value, ty: &Type) -> Result<Vec<u8>, CtyError> {
    let mut w = Writer(Vec::new());
    encode_value(&mut w, v, ty, 0)?;
    Ok(w.0)
}

/// Decodes a value of type `ty`. The whole input must be one value.
pub fn decode(bytes: &[u8], ty: &Type) -> Result<Value, CtyError> {
    let mut r = Reader { buf: bytes, pos: 0 };
    let v = decode_value(&mut r, ty, 0)?;
    if r.pos != bytes.len() {
        return Err(CtyError::new(format!(
            "{} bytes of unexpected data after the value",
            bytes.len() - r.pos
        )));
    }
    Ok(v)
}

// ---------------------------------------------------------------- encoding

/// What a value of `ty` is called in "X is required" messages.
pub(crate) fn kind_of(ty: &Type) -> &'static str {
    match ty {
        Type::Bool => "bool",
        Type::Number => "number",
        Type::String => "string",
        Type::Dynamic => "dynamic value",
        Type::List(_) => "list",
        Type::Set(_) => "set",
        Type::Map(_) => "map",
        Type::Object(_) => "object",
        Type::Tuple(_) => "tuple",
    }
}

pub(crate) fn mismatch(ty: &Type, v: &Value) -> CtyError {
    if *ty == Type::Dynamic {
        CtyError::new(format!(
            "a value of dynamic type must be Value::Dynamic (with its type), null or unknown, got {}",
            v.kind_name()
        ))
    } else {
        CtyError::new(format!(
            "{} is required, got {}",
            kind_of(ty),
            v.kind_name()
        ))
    }
}

struct Writer(Vec<u8>);

impl Writer {
    fn byte(&mut self, b: u8) {
        self.0.push(b);
    }

    fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }

    fn uint(&mut self, u: u64) {
        if u < 128 {
            self.byte(u as u8);
        } else if u <= u64::from(u8::MAX) {
            self.bytes(&[0xcc, u as u8]);
        } else if u <= u64::from(u16::MAX) {
            self.byte(0xcd);
            self.bytes(&(u as u16).to_be_bytes());
        } else if u <= u64::from(u32::MAX) {
            self.byte(0xce);
            self.bytes(&(u as u32).to_be_bytes());
        } else {
            self.byte(0xcf);
            self.bytes(&u.to_be_bytes());
        }
    }

    /// The shortest form, as go's msgpack with compact ints: unsigned
    /// forms for non-negative numbers.
    fn int(&mut self, i: i64) {
        if i >= 0 {
            self.uint(i as u64);
        } else if i >= -32 {
            self.byte(i as u8);
        } else if i >= i64::from(i8::MIN) {
            self.bytes(&[0xd0, i as i8 as u8]);
        } else if i >= i64::from(i16::MIN) {
            self.byte(0xd1);
            self.bytes(&(i as i16).to_be_bytes());
        } else if i >= i64::from(i32::MIN) {
            self.byte(0xd2);
            self.bytes(&(i as i32).to_be_bytes());
        } else {
            self.byte(0xd3);
            self.bytes(&i.to_be_bytes());
        }
    }

    fn f64(&mut self, f: f64) {
        self.byte(0xcb);
        self.bytes(&f.to_be_bytes());
    }

    fn len32(n: usize) -> Result<u32, CtyError> {
        u32::try_from(n).map_err(|_| CtyError::new("too long for msgpack"))
    }

    fn str(&mut self, s: &str) -> Result<(), CtyError> {
        let n = Writer::len32(s.len())?;
        if n < 32 {
            self.byte(0xa0 | n as u8);
        } else if n < 256 {
            self.bytes(&[0xd9, n as u8]);
        } else if n < 65536 {
            self.byte(0xda);
            self.bytes(&(n as u16).to_be_bytes());
        } else {
            self.byte(0xdb);
            self.bytes(&n.to_be_bytes());
        }
        self.bytes(s.as_bytes());
        Ok(())
    }

    fn bin(&mut self, b: &[u8]) -> Result<(), CtyError> {
        let n = Writer::len32(b.len())?;
        if n < 256 {
            self.bytes(&[0xc4, n as u8]);
        } else if n < 65536 {
            self.byte(0xc5);
            self.bytes(&(n as u16).to_be_bytes());
        } else {
            self.byte(0xc6);
            self.bytes(&n.to_be_bytes());
        }
        self.bytes(b);
        Ok(())
    }

    fn array_len(&mut self, n: usize) -> Result<(), CtyError> {
        let n = Writer::len32(n)?;
        if n < 16 {
            self.byte(0x90 | n as u8);
        } else if n < 65536 {
            self.byte(0xdc);
            self.bytes(&(n as u16).to_be_bytes());
        } else {
            self.byte(0xdd);
            self.bytes(&n.to_be_bytes());
        }
        Ok(())
    }

    fn map_len(&mut self, n: usize) -> Result<(), CtyError> {
        let n = Writer::len32(n)?;
        if n < 16 {
            self.byte(0x80 | n as u8);
        } else if n < 65536 {
            self.byte(0xde);
            self.bytes(&(n as u16).to_be_bytes());
        } else {
            self.byte(0xdf);
            self.bytes(&n.to_be_bytes());
        }
        Ok(())
    }

    fn ext(&mut self, ext_type: i8, payload: &[u8]) -> Result<(), CtyError> {
        let n = Writer::len32(payload.len())?;
        match n {
            1 => self.byte(0xd4),
            2 => self.byte(0xd5),
            4 => self.byte(0xd6),
            8 => self.byte(0xd7),
            16 => self.byte(0xd8),
            n if n < 256 => self.bytes(&[0xc7, n as u8]),
            n if n < 65536 => {
                self.byte(0xc8);
                self.bytes(&(n as u16).to_be_bytes());
            }
            n => {
                self.byte(0xc9);
                self.bytes(&n.to_be_bytes());
            }
        }
        self.byte(ext_type as u8);
        self.bytes(payload);
        Ok(())
    }

    fn number(&mut self, n: &Number) -> Result<(), CtyError> {
        if let Some(i) = n.as_i64() {
            self.int(i);
        } else if let Some(f) = n.to_f64_exact() {
            self.f64(f);
        } else {
            self.str(&n.to_string())?;
        }
        Ok(())
    }
}

fn encode_value(w: &mut Writer, v: &Value, ty: &Type, depth: usize) -> Result<(), CtyError> {
    if depth > MAX_DEPTH {
        return Err(too_deep());
    }
    match (ty, v) {
        (_, Value::Unknown(r)) => encode_unknown(w, r, ty),
        (_, Value::Null) => {
            w.byte(0xc0);
            Ok(())
        }
        (Type::Dynamic, Value::Dynamic(b)) => {
            let (real, inner) = &**b;
            if *real == Type::Dynamic {
                return Err(CtyError::new(
                    "the type of a Value::Dynamic must not itself be dynamic",
                ));
            }
            w.array_len(2)?;
            w.bin(&real.to_json())?;
            encode_value(w, inner, real, depth + 1)
        }
        (Type::Bool, Value::Bool(b)) => {
            w.byte(if *b { 0xc3 } else { 0xc2 });
            Ok(())
        }
        (Type::Number, Value::Number(n)) => w.number(n),
        (Type::String, Value::String(s)) => w.str(s),
        (Type::List(et), Value::List(vs)) | (Type::Set(et), Value::Set(vs)) => {
            w.array_len(vs.len())?;
            for (i, e) in vs.iter().enumerate() {
                at(
                    || PathStep::Index(i as u64),
                    || encode_value(w, e, et, depth + 1),
                )?;
            }
            Ok(())
        }
        (Type::Map(et), Value::Map(m)) => {
            w.map_len(m.len())?;
            for (k, e) in m {
                w.str(k)?;
                at(
                    || PathStep::Key(k.clone()),
                    || encode_value(w, e, et, depth + 1),
                )?;
            }
            Ok(())
        }
        (Type::Object(attrs), Value::Object(m)) => {
            if let Some(k) = m.keys().find(|k| !attrs.contains_key(*k)) {
                return Err(
                    CtyError::new("unsupported attribute").within(PathStep::Attr(k.clone()))
                );
            }
            w.map_len(attrs.len())?;
            for (k, aty) in attrs {
                let Some(av) = m.get(k) else {
                    return Err(CtyError::new(
                        "attribute is missing (use Value::Null for an absent value)",
                    )
                    .within(PathStep::Attr(k.clone())));
                };
                w.str(k)?;
                at(
                    || PathStep::Attr(k.clone()),
                    || encode_value(w, av, aty, depth + 1),
                )?;
            }
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
            w.array_len(vs.len())?;
            for (i, (e, et)) in vs.iter().zip(ts).enumerate() {
                at(
                    || PathStep::Index(i as u64),
                    || encode_value(w, e, et, depth + 1),
                )?;
            }
            Ok(())
        }
        _ => Err(mismatch(ty, v)),
    }
}

/// Checks that refinements fit the type (any are allowed, and dropped, for
/// `dynamic`).
pub(crate) fn check_refinements(r: &Refinements, ty: &Type) -> Result<(), CtyError> {
    if *ty == Type::Dynamic {
        return Ok(());
    }
    let bad = |what: &str| {
        Err(CtyError::new(format!(
            "an unknown {} cannot have a {what} refinement",
            kind_of(ty)
        )))
    };
    if r.string_prefix.is_some() && *ty != Type::String {
        return bad("string prefix");
    }
    if (r.number_lower.is_some() || r.number_upper.is_some()) && *ty != Type::Number {
        return bad("number bound");
    }
    if (r.length_lower.is_some() || r.length_upper.is_some()) && !ty.is_collection() {
        return bad("collection length");
    }
    Ok(())
}

fn encode_unknown(w: &mut Writer, r: &Refinements, ty: &Type) -> Result<(), CtyError> {
    check_refinements(r, ty)?;
    if *ty == Type::Dynamic {
        // go-cty never refines an unknown of unknown type.
        return w.ext(0, &[0]);
    }
    let mut prefix = r.string_prefix.as_deref().unwrap_or("");
    let mut with_bounds = true;
    loop {
        let payload = refinement_payload(r, prefix, with_bounds)?;
        if payload.len() <= MAX_REFINEMENT_LEN {
            return match payload.len() {
                // An empty map: nothing to say.
                1 => w.ext(0, &[0]),
                _ => w.ext(EXT_REFINED_UNKNOWN, &payload),
            };
        }
        // Too big for go-cty to accept: say less. A shorter prefix or no
        // bound is a weaker, still true, refinement.
        if prefix.len() > 1000 {
            let mut end = 1000;
            while !prefix.is_char_boundary(end) {
                end -= 1;
            }
            prefix = &prefix[..end];
        } else if with_bounds {
            with_bounds = false;
        } else {
            return Err(CtyError::new("unknown value refinements are too large"));
        }
    }
}

fn refinement_payload(
    r: &Refinements,
    prefix: &str,
    with_bounds: bool,
) -> Result<Vec<u8>, CtyError> {
    let mut body = Writer(Vec::new());
    let mut entries = 0;
    if r.not_null {
        entries += 1;
        body.uint(RFN_NULLNESS as u64);
        body.byte(0xc2); // "is null": false
    }
    if !prefix.is_empty() {
        entries += 1;
        body.uint(RFN_STRING_PREFIX as u64);
        body.str(prefix)?;
    }
    if with_bounds {
        for (key, bound) in [
            (RFN_NUMBER_MIN, &r.number_lower),
            (RFN_NUMBER_MAX, &r.number_upper),
        ] {
            if let Some((n, inclusive)) = bound {
                entries += 1;
                body.uint(key as u64);
                body.array_len(2)?;
                body.number(n)?;
                body.byte(if *inclusive { 0xc3 } else { 0xc2 });
            }
        }
    }
    if let Some(n) = r.length_lower.filter(|n| *n > 0) {
        entries += 1;
        body.uint(RFN_LENGTH_MIN as u64);
        body.int(i64::try_from(n).unwrap_or(i64::MAX));
    }
    if let Some(n) = r.length_upper.filter(|n| *n < i64::MAX as u64) {
        entries += 1;
        body.uint(RFN_LENGTH_MAX as u64);
        body.int(n as i64);
    }
    let mut payload = Writer(Vec::with_capacity(body.0.len() + 1));
    payload.map_len(entries)?;
    payload.bytes(&body.0);
    Ok(payload.0)
}

// ---------------------------------------------------------------- decoding

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

fn eof() -> CtyError {
    CtyError::new("unexpected end of msgpack data")
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn peek(&self) -> Result<u8, CtyError> {
        self.buf.get(self.pos).copied().ok_or_else(eof)
    }

    fn u8(&mut self) -> Result<u8, CtyError> {
        let b = self.peek()?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CtyError> {
        if self.remaining() < n {
            return Err(eof());
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CtyError> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn be16(&mut self) -> Result<usize, CtyError> {
        Ok(u16::from_be_bytes(self.array()?) as usize)
    }

    fn be32(&mut self) -> Result<usize, CtyError> {
        Ok(u32::from_be_bytes(self.array()?) as usize)
    }

    /// Reads an array header, or returns `None` (consuming nothing) if the
    /// next item is not an array.
    fn array_len(&mut self) -> Result<Option<usize>, CtyError> {
        let n = match self.peek()? {
            m @ 0x90..=0x9f => {
                self.pos += 1;
                usize::from(m & 0x0f)
            }
            0xdc => {
                self.pos += 1;
                self.be16()?
            }
            0xdd => {
                self.pos += 1;
                self.be32()?
            }
            _ => return Ok(None),
        };
        Ok(Some(n))
    }

    /// Like [`Reader::array_len`], for maps.
    fn map_len(&mut self) -> Result<Option<usize>, CtyError> {
        let n = match self.peek()? {
            m @ 0x80..=0x8f => {
                self.pos += 1;
                usize::from(m & 0x0f)
            }
            0xde => {
                self.pos += 1;
                self.be16()?
            }
            0xdf => {
                self.pos += 1;
                self.be32()?
            }
            _ => return Ok(None),
        };
        Ok(Some(n))
    }

    /// Reads a str or bin item's bytes, or `None` if it is neither.
    fn raw_bytes(&mut self) -> Result<Option<&'a [u8]>, CtyError> {
        let n = match self.peek()? {
            m @ 0xa0..=0xbf => {
                self.pos += 1;
                usize::from(m & 0x1f)
            }
            0xd9 | 0xc4 => {
                self.pos += 1;
                usize::from(self.u8()?)
            }
            0xda | 0xc5 => {
                self.pos += 1;
                self.be16()?
            }
            0xdb | 0xc6 => {
                self.pos += 1;
                self.be32()?
            }
            _ => return Ok(None),
        };
        self.take(n).map(Some)
    }

    /// Reads a string (str, or bin holding UTF-8).
    fn string(&mut self, what: &str) -> Result<String, CtyError> {
        let bytes = self
            .raw_bytes()?
            .ok_or_else(|| CtyError::new(format!("{what} is required")))?;
        std::str::from_utf8(bytes)
            .map(str::to_string)
            .map_err(|_| CtyError::new(format!("{what} is not valid UTF-8")))
    }

    /// Reads any msgpack integer.
    fn integer(&mut self) -> Result<Option<i128>, CtyError> {
        let v = match self.peek()? {
            m @ (0x00..=0x7f) => i128::from(m),
            m @ (0xe0..=0xff) => i128::from(m as i8),
            0xcc..=0xd3 => {
                let m = self.u8()?;
                return Ok(Some(match m {
                    0xcc => i128::from(self.u8()?),
                    0xcd => i128::from(u16::from_be_bytes(self.array()?)),
                    0xce => i128::from(u32::from_be_bytes(self.array()?)),
                    0xcf => i128::from(u64::from_be_bytes(self.array()?)),
                    0xd0 => i128::from(self.u8()? as i8),
                    0xd1 => i128::from(i16::from_be_bytes(self.array()?)),
                    0xd2 => i128::from(i32::from_be_bytes(self.array()?)),
                    _ => i128::from(i64::from_be_bytes(self.array()?)),
                }));
            }
            _ => return Ok(None),
        };
        self.pos += 1;
        Ok(Some(v))
    }

    fn bool(&mut self) -> Result<Option<bool>, CtyError> {
        let b = match self.peek()? {
            0xc2 => false,
            0xc3 => true,
            _ => return Ok(None),
        };
        self.pos += 1;
        Ok(Some(b))
    }

    fn number(&mut self) -> Result<Number, CtyError> {
        let required = || CtyError::new("number is required");
        if let Some(i) = self.integer()? {
            // i128 covers every msgpack int and uint.
            return Ok(if let Ok(i) = i64::try_from(i) {
                Number::from(i)
            } else {
                Number::from(i as u64)
            });
        }
        let f = match self.peek()? {
            0xca => {
                self.pos += 1;
                f64::from(f32::from_be_bytes(self.array()?))
            }
            0xcb => {
                self.pos += 1;
                f64::from_be_bytes(self.array()?)
            }
            _ => {
                let bytes = self.raw_bytes()?.ok_or_else(required)?;
                let s = std::str::from_utf8(bytes).map_err(|_| required())?;
                return s
                    .parse()
                    .map_err(|e| CtyError::new(format!("number is required: {e}")));
            }
        };
        Number::from_f64(f).ok_or_else(|| CtyError::new("NaN is not a valid number"))
    }

    /// Reads an extension header: (type, payload length).
    fn ext_header(&mut self) -> Result<Option<(i8, usize)>, CtyError> {
        let m = self.peek()?;
        if !is_ext(m) {
            return Ok(None);
        }
        self.pos += 1;
        let len = match m {
            0xd4 => 1,
            0xd5 => 2,
            0xd6 => 4,
            0xd7 => 8,
            0xd8 => 16,
            0xc7 => usize::from(self.u8()?),
            0xc8 => self.be16()?,
            _ => self.be32()?,
        };
        let ext_type = self.u8()? as i8;
        Ok(Some((ext_type, len)))
    }

    /// Skips one item of any kind, without recursion.
    fn skip(&mut self) -> Result<(), CtyError> {
        let mut pending: u64 = 1;
        while pending > 0 {
            pending -= 1;
            let m = self.u8()?;
            let skip = match m {
                0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => 0,
                0x80..=0x8f => {
                    pending = pending.saturating_add(2 * u64::from(m & 0x0f));
                    0
                }
                0x90..=0x9f => {
                    pending = pending.saturating_add(u64::from(m & 0x0f));
                    0
                }
                0xa0..=0xbf => usize::from(m & 0x1f),
                0xc4 | 0xd9 => usize::from(self.u8()?),
                0xc5 | 0xda => self.be16()?,
                0xc6 | 0xdb => self.be32()?,
                0xc7 => usize::from(self.u8()?) + 1,
                0xc8 => self.be16()? + 1,
                0xc9 => self.be32()? + 1,
                0xcc | 0xd0 => 1,
                0xcd | 0xd1 => 2,
                0xca | 0xce | 0xd2 => 4,
                0xcb | 0xcf | 0xd3 => 8,
                0xd4 => 2,
                0xd5 => 3,
                0xd6 => 5,
                0xd7 => 9,
                0xd8 => 17,
                0xdc => {
                    pending = pending.saturating_add(self.be16()? as u64);
                    0
                }
                0xdd => {
                    pending = pending.saturating_add(self.be32()? as u64);
                    0
                }
                0xde => {
                    pending = pending.saturating_add(2 * self.be16()? as u64);
                    0
                }
                0xdf => {
                    pending = pending.saturating_add(2 * self.be32()? as u64);
                    0
                }
                _ => return Err(CtyError::new("invalid msgpack marker 0xc1")),
            };
            self.take(skip)?;
        }
        Ok(())
    }
}

fn is_ext(marker: u8) -> bool {
    matches!(marker, 0xc7..=0xc9 | 0xd4..=0xd8)
}

fn decode_value(r: &mut Reader<'_>, ty: &Type, depth: usize) -> Result<Value, CtyError> {
    if depth > MAX_DEPTH {
        return Err(too_deep());
    }
    let marker = r.peek()?;
    if is_ext(marker) {
        return decode_unknown(r, ty);
    }
    if marker == 0xc0 {
        r.pos += 1;
        return Ok(Value::Null);
    }
    let required = || CtyError::new(format!("{} is required", kind_of(ty)));
    match ty {
        Type::Dynamic => {
            let n = r.array_len()?.ok_or_else(|| {
                CtyError::new("a dynamic value ([type, value] array) is required")
            })?;
            if n != 2 {
                return Err(CtyError::new(
                    "a dynamic value array must have exactly two elements",
                ));
            }
            let type_json = r
                .raw_bytes()?
                .ok_or_else(|| CtyError::new("the type of a dynamic value must be bytes"))?;
            let real = Type::from_json(type_json)
                .map_err(|e| CtyError::new(format!("invalid type in dynamic value: {e}")))?;
            let inner = decode_value(r, &real, depth + 1)?;
            if real == Type::Dynamic {
                // Already in dynamic form; don't wrap it twice.
                return Ok(inner);
            }
            Ok(Value::dynamic(real, inner))
        }
        Type::Bool => r.bool()?.map(Value::Bool).ok_or_else(required),
        Type::Number => r.number().map(Value::Number),
        Type::String => r.string("string").map(Value::String),
        Type::List(et) | Type::Set(et) => {
            let n = r.array_len()?.ok_or_else(required)?;
            let mut vs = Vec::with_capacity(n.min(r.remaining()).min(MAX_PREALLOC));
            for i in 0..n {
                vs.push(at(
                    || PathStep::Index(i as u64),
                    || decode_value(r, et, depth + 1),
                )?);
            }
            Ok(if matches!(ty, Type::List(_)) {
                Value::List(vs)
            } else {
                Value::Set(vs)
            })
        }
        Type::Map(et) => {
            let n = r.map_len()?.ok_or_else(required)?;
            let mut m = BTreeMap::new();
            for _ in 0..n {
                let k = r.string("map key")?;
                let v = at(
                    || PathStep::Key(k.clone()),
                    || decode_value(r, et, depth + 1),
                )?;
                if m.insert(k.clone(), v).is_some() {
                    return Err(CtyError::new("duplicate map key").within(PathStep::Key(k)));
                }
            }
            Ok(Value::Map(m))
        }
        Type::Object(attrs) => {
            let n = r.map_len()?.ok_or_else(required)?;
            let mut m = BTreeMap::new();
            for _ in 0..n {
                let k = r.string("attribute name")?;
                let Some(aty) = attrs.get(&k) else {
                    return Err(CtyError::new("unsupported attribute").within(PathStep::Attr(k)));
                };
                let v = at(
                    || PathStep::Attr(k.clone()),
                    || decode_value(r, aty, depth + 1),
                )?;
                if m.insert(k.clone(), v).is_some() {
                    return Err(CtyError::new("duplicate attribute").within(PathStep::Attr(k)));
                }
            }
            if let Some(k) = attrs.keys().find(|k| !m.contains_key(*k)) {
                return Err(CtyError::new("attribute is missing").within(PathStep::Attr(k.clone())));
            }
            Ok(Value::Object(m))
        }
        Type::Tuple(ts) => {
            let n = r.array_len()?.ok_or_else(required)?;
            if n != ts.len() {
                return Err(CtyError::new(format!(
                    "a tuple of {} elements is required, got {n}",
                    ts.len()
                )));
            }
            let mut vs = Vec::with_capacity(n);
            for (i, et) in ts.iter().enumerate() {
                vs.push(at(
                    || PathStep::Index(i as u64),
                    || decode_value(r, et, depth + 1),
                )?);
            }
            Ok(Value::Tuple(vs))
        }
    }
}

fn decode_unknown(r: &mut Reader<'_>, ty: &Type) -> Result<Value, CtyError> {
    let (ext_type, len) = r.ext_header()?.ok_or_else(eof)?;
    let body = r.take(len)?;
    if len <= 1 {
        return Ok(Value::unknown());
    }
    if ext_type != EXT_REFINED_UNKNOWN {
        return Err(CtyError::new(format!(
            "unsupported msgpack extension type {ext_type} with length {len}"
        )));
    }
    if len > MAX_REFINEMENT_LEN {
        return Err(CtyError::new("unknown value refinements are too large"));
    }
    let bad = |what: &str| CtyError::new(format!("invalid unknown value refinements: {what}"));
    let mut b = Reader { buf: body, pos: 0 };
    let entries = b.map_len()?.ok_or_else(|| bad("not a map"))?;
    if *ty == Type::Dynamic {
        // go-cty ignores refinements of an unknown of unknown type.
        return Ok(Value::unknown());
    }
    let mut rfn = Refinements::default();
    let mut is_null = false;
    for _ in 0..entries {
        let key = b.integer()?.ok_or_else(|| bad("non-integer key"))?;
        match key {
            RFN_NULLNESS => {
                if b.bool()?.ok_or_else(|| bad("nullness is not a bool"))? {
                    is_null = true;
                } else {
                    rfn.not_null = true;
                }
            }
            RFN_STRING_PREFIX => {
                if *ty != Type::String {
                    return Err(bad("string prefix for a non-string"));
                }
                let prefix = b.string("string prefix")?;
                rfn.string_prefix = (!prefix.is_empty()).then_some(prefix);
            }
            RFN_NUMBER_MIN | RFN_NUMBER_MAX => {
                if *ty != Type::Number {
                    return Err(bad("number bound for a non-number"));
                }
                if b.array_len()? != Some(2) {
                    return Err(bad("number bound must be [number, bool]"));
                }
                let n = b.number()?;
                let inclusive = b
                    .bool()?
                    .ok_or_else(|| bad("number bound must be [number, bool]"))?;
                let bound = Some((n, inclusive));
                if key == RFN_NUMBER_MIN {
                    rfn.number_lower = bound;
                } else {
                    rfn.number_upper = bound;
                }
            }
            RFN_LENGTH_MIN | RFN_LENGTH_MAX => {
                if !ty.is_collection() {
                    return Err(bad("length bound for a non-collection"));
                }
                let n = b
                    .integer()?
                    .ok_or_else(|| bad("length bound is not an integer"))?;
                if n < 0 {
                    return Err(bad("negative length bound"));
                }
                if key == RFN_LENGTH_MIN {
                    rfn.length_lower = (n > 0).then(|| u64::try_from(n).unwrap_or(u64::MAX));
                } else {
                    rfn.length_upper = (n < i128::from(i64::MAX)).then_some(n as u64);
                }
            }
            // Unknown keys are for future refinements: skip them.
            _ => b.skip()?,
        }
    }
    // Anything after the map is ignored, as go-cty does.
    if is_null {
        return Ok(Value::Null);
    }
    Ok(Value::Unknown(rfn))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Encodes to exactly `bytes` and decodes back to `v`.
    fn both_ways(v: &Value, ty: &Type, bytes: &[u8]) {
        assert_eq!(encode(v, ty).unwrap(), bytes, "encoding {v:?}");
        assert_eq!(&decode(bytes, ty).unwrap(), v, "decoding {bytes:02x?}");
    }

    fn num(s: &str) -> Value {
        Value::Number(s.parse().unwrap())
    }

    #[test]
    fn null_and_unknown() {
        both_ways(&Value::Null, &Type::String, &hex("c0"));
        both_ways(&Value::unknown(), &Type::String, &hex("d4 00 00"));
        both_ways(&Value::unknown(), &Type::list(Type::Bool), &hex("d4 00 00"));
        // Any other short extension is a plain unknown too.
        assert_eq!(
            decode(&hex("d4 05 ff"), &Type::Number).unwrap(),
            Value::unknown()
        );
        assert_eq!(
            decode(&hex("c7 00 00"), &Type::Number).unwrap(),
            Value::unknown()
        );
    }

    #[test]
    fn refined_unknowns() {
        let r = Refinements {
            not_null: true,
            string_prefix: Some("ab".into()),
            ..Refinements::default()
        };
        // ext8, 7 bytes, type 12: {1: false, 2: "ab"}
        both_ways(
            &Value::Unknown(r),
            &Type::String,
            &hex("c7 07 0c 82 01 c2 02 a2 61 62"),
        );
        both_ways(
            &Value::Unknown(Refinements::not_null()),
            &Type::Bool,
            &hex("c7 03 0c 81 01 c2"),
        );
        let r = Refinements {
            number_lower: Some((Number::from(0i64), true)),
            number_upper: Some(("0.5".parse().unwrap(), false)),
            ..Refinements::default()
        };
        both_ways(
            &Value::Unknown(r),
            &Type::Number,
            &hex("c7 11 0c 82 03 92 00 c3 04 92 cb 3f e0 00 00 00 00 00 00 c2"),
        );
        let r = Refinements {
            length_lower: Some(1),
            length_upper: Some(300),
            ..Refinements::default()
        };
        both_ways(
            &Value::Unknown(r),
            &Type::set(Type::String),
            &hex("c7 07 0c 82 05 01 06 cd 01 2c"),
        );
        // Meaningless bounds are not sent.
        let r = Refinements {
            length_lower: Some(0),
            string_prefix: None,
            ..Refinements::default()
        };
        assert_eq!(
            encode(&Value::Unknown(r), &Type::map(Type::Bool)).unwrap(),
            hex("d4 00 00")
        );
        // Refinements on dynamic are dropped, both ways.
        assert_eq!(
            encode(&Value::Unknown(Refinements::not_null()), &Type::Dynamic).unwrap(),
            hex("d4 00 00")
        );
        assert_eq!(
            decode(&hex("c7 03 0c 81 01 c2"), &Type::Dynamic).unwrap(),
            Value::unknown()
        );
        // "Definitely null" is just null.
        assert_eq!(
            decode(&hex("c7 03 0c 81 01 c3"), &Type::Bool).unwrap(),
            Value::Null
        );
        // Unknown keys are skipped, whatever their value.
        assert_eq!(
            decode(&hex("c7 08 0c 82 09 92 a1 78 80 01 c2"), &Type::Bool).unwrap(),
            Value::Unknown(Refinements::not_null())
        );
        // Refinements that do not fit the type.
        assert!(decode(&hex("c7 04 0c 81 02 a1 78"), &Type::Number).is_err());
        assert!(decode(&hex("c7 03 0c 81 05 01"), &Type::String).is_err());
        let r = Refinements {
            string_prefix: Some("x".into()),
            ..Refinements::default()
        };
        assert!(encode(&Value::Unknown(r), &Type::Number).is_err());
        // Other extension types with a payload are errors.
        assert!(decode(&hex("c7 03 01 81 01 c2"), &Type::Bool).is_err());
    }

    #[test]
    fn long_prefix_is_truncated_to_fit() {
        let r = Refinements {
            not_null: true,
            string_prefix: Some("é".repeat(2000)),
            ..Refinements::default()
        };
        let bytes = encode(&Value::Unknown(r), &Type::String).unwrap();
        let Value::Unknown(back) = decode(&bytes, &Type::String).unwrap() else {
            panic!("not unknown");
        };
        assert!(back.not_null);
        assert_eq!(back.string_prefix.unwrap(), "é".repeat(500));
    }

    #[test]
    fn numbers() {
        both_ways(&Value::from(1), &Type::Number, &hex("01"));
        both_ways(&Value::from(-1), &Type::Number, &hex("ff"));
        both_ways(&Value::from(-33), &Type::Number, &hex("d0 df"));
        both_ways(&Value::from(300), &Type::Number, &hex("cd 01 2c"));
        both_ways(&Value::from(-300), &Type::Number, &hex("d1 fe d4"));
        both_ways(
            &Value::from(i64::MIN),
            &Type::Number,
            &hex("d3 80 00 00 00 00 00 00 00"),
        );
        both_ways(
            &Value::from(i64::MAX),
            &Type::Number,
            &hex("cf 7f ff ff ff ff ff ff ff"),
        );
        both_ways(
            &num("0.5"),
            &Type::Number,
            &hex("cb 3f e0 00 00 00 00 00 00"),
        );
        both_ways(&num("1.0"), &Type::Number, &hex("01"));
        // u64::MAX is not an i64 nor exactly a float64: decimal text, as
        // go-cty sends it. It is read in its uint64 form too.
        let max = Value::from(u64::MAX);
        let mut text = hex("b4");
        text.extend_from_slice(b"18446744073709551615");
        both_ways(&max, &Type::Number, &text);
        assert_eq!(
            decode(&hex("cf ff ff ff ff ff ff ff ff"), &Type::Number).unwrap(),
            max
        );
        // 2^63 is exactly a float64, so go-cty sends it as one.
        both_ways(
            &num("9223372036854775808"),
            &Type::Number,
            &hex("cb 43 e0 00 00 00 00 00 00"),
        );
        // Beyond u64 and not a float64: text.
        let mut text = hex("b4");
        text.extend_from_slice(b"18446744073709551617");
        both_ways(&num("18446744073709551617"), &Type::Number, &text);
        // 0.1 is not a float64: text.
        both_ways(&num("0.1"), &Type::Number, &hex("a3 30 2e 31"));
        // A huge number in plain decimal.
        let big = num("1e400");
        let bytes = encode(&big, &Type::Number).unwrap();
        assert_eq!(&bytes[..3], &hex("da 01 91")[..]);
        assert_eq!(decode(&bytes, &Type::Number).unwrap(), big);
        // Other accepted forms.
        assert_eq!(
            decode(&hex("ca 3f 00 00 00"), &Type::Number).unwrap(),
            num("0.5")
        );
        assert_eq!(
            decode(&hex("cc ff"), &Type::Number).unwrap(),
            Value::from(255)
        );
        assert_eq!(
            decode(&hex("a3 31 65 33"), &Type::Number).unwrap(),
            Value::from(1000)
        );
        assert_eq!(
            decode(&hex("c4 01 37"), &Type::Number).unwrap(),
            Value::from(7)
        );
        // Infinities travel as float64.
        both_ways(
            &Value::Number(Number::infinity()),
            &Type::Number,
            &hex("cb 7f f0 00 00 00 00 00 00"),
        );
        // NaN and junk are not numbers.
        assert!(decode(&hex("cb 7f f8 00 00 00 00 00 00"), &Type::Number).is_err());
        assert!(decode(&hex("a1 78"), &Type::Number).is_err());
        assert!(decode(&hex("c3"), &Type::Number).is_err());
    }

    #[test]
    fn strings_and_bools() {
        both_ways(&Value::from("hi"), &Type::String, &hex("a2 68 69"));
        both_ways(&Value::from(true), &Type::Bool, &hex("c3"));
        let long = "x".repeat(40);
        let mut bytes = hex("d9 28");
        bytes.extend_from_slice(long.as_bytes());
        both_ways(&Value::from(long.as_str()), &Type::String, &bytes);
        assert!(decode(&hex("a1 ff"), &Type::String).is_err());
        assert!(decode(&hex("01"), &Type::String).is_err());
        assert!(decode(&hex("01"), &Type::Bool).is_err());
    }

    #[test]
    fn nested_object_with_list_of_sets() {
        let ty = Type::object([
            ("a", Type::list(Type::set(Type::Number))),
            ("b", Type::String),
        ]);
        let v = Value::object([
            (
                "a",
                Value::List(vec![
                    Value::Set(vec![1.into(), 2.into()]),
                    Value::Set(vec![3.into()]),
                ]),
            ),
            ("b", "x".into()),
        ]);
        both_ways(&v, &ty, &hex("82 a1 61 92 92 01 02 91 03 a1 62 a1 78"));
        // Set order does not matter.
        assert_eq!(
            decode(&hex("82 a1 62 a1 78 a1 61 92 92 02 01 91 03"), &ty).unwrap(),
            v
        );
    }

    #[test]
    fn maps_and_tuples() {
        let ty = Type::map(Type::String);
        let v = Value::map([("k", Value::from("v")), ("a", Value::Null)]);
        both_ways(&v, &ty, &hex("82 a1 61 c0 a1 6b a1 76"));
        both_ways(&Value::map::<String>([]), &ty, &hex("80"));
        assert!(decode(&hex("82 a1 61 c0 a1 61 c0"), &ty).is_err()); // duplicate key
        assert!(decode(&hex("81 01 c0"), &ty).is_err()); // non-string key

        let ty = Type::tuple([Type::String, Type::Number, Type::Bool]);
        let v = Value::Tuple(vec!["a".into(), 1.into(), true.into()]);
        both_ways(&v, &ty, &hex("93 a1 61 01 c3"));
        assert!(decode(&hex("92 a1 61 01"), &ty).is_err());
        assert!(encode(&Value::Tuple(vec!["a".into()]), &ty).is_err());
    }

    #[test]
    fn dynamic() {
        let ty = Type::Dynamic;
        let v = Value::dynamic(Type::list(Type::String), Value::List(vec!["x".into()]));
        let mut bytes = hex("92 c4 11");
        bytes.extend_from_slice(br#"["list","string"]"#);
        bytes.extend_from_slice(&hex("91 a1 78"));
        both_ways(&v, &ty, &bytes);
        // A wholly unknown dynamic value is just the extension.
        both_ways(&Value::unknown(), &ty, &hex("d4 00 00"));
        both_ways(&Value::Null, &ty, &hex("c0"));
        // A typed unknown keeps its refinements.
        let v = Value::dynamic(Type::String, Value::Unknown(Refinements::not_null()));
        let mut bytes = hex("92 c4 08");
        bytes.extend_from_slice(br#""string""#);
        bytes.extend_from_slice(&hex("c7 03 0c 81 01 c2"));
        both_ways(&v, &ty, &bytes);
        // The type may also come as str; "dynamic" inside is unwrapped.
        let mut bytes = hex("92 a8");
        bytes.extend_from_slice(br#""number""#);
        bytes.push(0x05);
        assert_eq!(
            decode(&bytes, &ty).unwrap(),
            Value::dynamic(Type::Number, 5.into())
        );
        let mut bytes = hex("92 a9");
        bytes.extend_from_slice(br#""dynamic""#);
        bytes.extend_from_slice(&hex("d4 00 00"));
        assert_eq!(decode(&bytes, &ty).unwrap(), Value::unknown());
        // Encoding needs the wrapper at a dynamic position.
        let err = encode(&Value::from("x"), &ty).unwrap_err();
        assert!(err.message().contains("Value::Dynamic"), "{err}");
        assert!(encode(&Value::dynamic(Type::Dynamic, Value::Null), &ty).is_err());
        // Wrong shapes.
        assert!(decode(&hex("91 c4 00"), &ty).is_err());
        assert!(decode(&hex("92 c4 03 31 32 33 c0"), &ty).is_err());
        assert!(decode(&hex("a1 78"), &ty).is_err());
    }

    #[test]
    fn object_keys_must_match_exactly() {
        let ty = Type::object([("a", Type::String), ("b", Type::String)]);
        let missing = decode(&hex("81 a1 61 a1 78"), &ty).unwrap_err();
        assert_eq!(missing.to_string(), ".b: attribute is missing");
        let extra = decode(&hex("83 a1 61 a1 78 a1 62 a1 79 a1 63 c0"), &ty).unwrap_err();
        assert_eq!(extra.to_string(), ".c: unsupported attribute");
        let dup = decode(&hex("82 a1 61 a1 78 a1 61 a1 79"), &ty).unwrap_err();
        assert_eq!(dup.path_string(), ".a");
        // The encoder is just as strict.
        let v = Value::object([("a", Value::from("x"))]);
        assert_eq!(encode(&v, &ty).unwrap_err().path_string(), ".b");
        let v = Value::object([("a", Value::Null), ("b", Value::Null), ("c", Value::Null)]);
        assert_eq!(encode(&v, &ty).unwrap_err().path_string(), ".c");
    }

    #[test]
    fn error_paths() {
        let ty = Type::object([(
            "servers",
            Type::list(Type::object([("tags", Type::map(Type::Number))])),
        )]);
        // {"servers": [{"tags": {"k": "x"}}]}
        let bytes = hex("81 a7 73 65 72 76 65 72 73 91 81 a4 74 61 67 73 81 a1 6b a1 78");
        let err = decode(&bytes, &ty).unwrap_err();
        assert_eq!(
            err.to_string(),
            ".servers[0].tags[\"k\"]: number is required: invalid number \"x\""
        );
        assert_eq!(
            err.path(),
            [
                PathStep::Attr("servers".into()),
                PathStep::Index(0),
                PathStep::Attr("tags".into()),
                PathStep::Key("k".into())
            ]
        );
    }

    #[test]
    fn garbage_is_an_error() {
        let ty = Type::object([("a", Type::list(Type::String))]);
        for bytes in [
            &b""[..],
            &[0x81],
            &[0x81, 0xa1, b'a'],
            &[0x81, 0xa1, b'a', 0xdd, 0xff, 0xff, 0xff, 0xff],
            &[0x81, 0xa1, b'a', 0x91, 0xdb, 0xff, 0xff, 0xff, 0xff],
            &[0xc1],
            &[0xc0, 0xc0],
            &[0xc9, 0xff, 0xff, 0xff, 0xff, 0x0c],
            &[0xc7, 0x05, 0x0c, 0xdf, 0xff, 0xff, 0xff, 0xff],
        ] {
            assert!(decode(bytes, &ty).is_err(), "{bytes:02x?}");
        }
    }

    #[test]
    fn depth_is_capped() {
        let mut ty = Type::String;
        for _ in 0..(MAX_DEPTH + 5) {
            ty = Type::list(ty);
        }
        let mut bytes = vec![0x91; MAX_DEPTH + 5];
        bytes.push(0xa0);
        assert!(decode(&bytes, &ty)
            .unwrap_err()
            .message()
            .contains("nested"));
        // Nesting by dynamic values is capped too.
        let mut bytes = Vec::new();
        for _ in 0..1000 {
            bytes.extend_from_slice(&hex("92 c4 15"));
            bytes.extend_from_slice(br#"["tuple",["dynamic"]]"#);
            bytes.push(0x91);
        }
        let err = decode(&bytes, &Type::Dynamic).unwrap_err();
        assert!(err.message().contains("nested"), "{err}");
    }
}
