//! Writing values: the msgpack forms described in the parent module, unknowns and their
//! refinements included.

use super::*;

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

pub(super) struct Writer(pub(super) Vec<u8>);

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

pub(super) fn encode_value(
    w: &mut Writer,
    v: &Value,
    ty: &Type,
    depth: usize,
) -> Result<(), CtyError> {
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

pub(super) fn encode_unknown(w: &mut Writer, r: &Refinements, ty: &Type) -> Result<(), CtyError> {
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

pub(super) fn refinement_payload(
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
