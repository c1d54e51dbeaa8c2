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

mod decode;
mod encode;

use decode::{decode_value, Reader};
use encode::{encode_value, Writer};
pub(crate) use encode::{kind_of, mismatch};

#[cfg(test)]
mod tests;
