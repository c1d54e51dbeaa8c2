//! Reading values: every msgpack form Terraform and go-cty write, bounded in depth and
//! preallocation so hostile input cannot exhaust memory.

use super::*;

pub(super) struct Reader<'a> {
    pub(super) buf: &'a [u8],
    pub(super) pos: usize,
}

pub(super) fn eof() -> CtyError {
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

pub(super) fn is_ext(marker: u8) -> bool {
    matches!(marker, 0xc7..=0xc9 | 0xd4..=0xd8)
}

pub(super) fn decode_value(r: &mut Reader<'_>, ty: &Type, depth: usize) -> Result<Value, CtyError> {
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

pub(super) fn decode_unknown(r: &mut Reader<'_>, ty: &Type) -> Result<Value, CtyError> {
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
