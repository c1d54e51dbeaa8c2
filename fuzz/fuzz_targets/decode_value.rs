//! Decodes arbitrary bytes as cty msgpack and JSON against a type that is
//! itself derived from the input, and checks that whatever decodes can be
//! encoded again and decodes to the same value.
//!
//! Run: `cargo +nightly fuzz run decode_value -- -max_total_time=60`

#![no_main]

use libfuzzer_sys::fuzz_target;
use tfplugin::cty::{json, msgpack, Type, Value};

/// Builds a type from the front of `data`, one byte per type node.
fn take_type(data: &mut &[u8], depth: u32) -> Type {
    let Some((&b, rest)) = data.split_first() else {
        return Type::String;
    };
    *data = rest;
    let kind = if depth >= 6 { b % 4 } else { b % 9 };
    let count = usize::from(b >> 4) % 4;
    match kind {
        0 => Type::Bool,
        1 => Type::Number,
        2 => Type::String,
        3 => Type::Dynamic,
        4 => Type::list(take_type(data, depth + 1)),
        5 => Type::set(take_type(data, depth + 1)),
        6 => Type::map(take_type(data, depth + 1)),
        7 => Type::object(
            ["a", "b", "c", "d"][..count]
                .iter()
                .map(|name| (*name, take_type(data, depth + 1)))
                .collect::<Vec<_>>(),
        ),
        _ => Type::tuple(
            (0..count)
                .map(|_| take_type(data, depth + 1))
                .collect::<Vec<_>>(),
        ),
    }
}

/// Whether `back` is `orig` after a trip through the encoder, which may
/// only weaken unknown-value refinements to fit go-cty's 1 KiB limit. The
/// codecs keep element order, so sets are compared by position.
fn same_or_weakened(orig: &Value, back: &Value) -> bool {
    match (orig, back) {
        (Value::Unknown(a), Value::Unknown(b)) => {
            let prefix_ok = match (&a.string_prefix, &b.string_prefix) {
                (_, None) => true,
                (Some(x), Some(y)) => x.starts_with(y.as_str()),
                (None, Some(_)) => false,
            };
            a.not_null == b.not_null
                && a.length_lower == b.length_lower
                && a.length_upper == b.length_upper
                && prefix_ok
                && (b.number_lower.is_none() || b.number_lower == a.number_lower)
                && (b.number_upper.is_none() || b.number_upper == a.number_upper)
        }
        (Value::List(a), Value::List(b))
        | (Value::Set(a), Value::Set(b))
        | (Value::Tuple(a), Value::Tuple(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_or_weakened(x, y))
        }
        (Value::Map(a), Value::Map(b)) | (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|((ka, va), (kb, vb))| ka == kb && same_or_weakened(va, vb))
        }
        (Value::Dynamic(a), Value::Dynamic(b)) => a.0 == b.0 && same_or_weakened(&a.1, &b.1),
        _ => orig == back,
    }
}

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    let ty = take_type(&mut rest, 0);

    // Types round-trip through their JSON form.
    assert_eq!(Type::from_json(&ty.to_json()).as_ref(), Ok(&ty));
    // Arbitrary bytes as a type: must not panic.
    if let Ok(t) = Type::from_json(rest) {
        assert_eq!(Type::from_json(&t.to_json()), Ok(t));
    }

    if let Ok(v) = msgpack::decode(rest, &ty) {
        let bytes = msgpack::encode(&v, &ty)
            .unwrap_or_else(|e| panic!("decoded {v:?} but cannot encode it: {e}"));
        let back = msgpack::decode(&bytes, &ty)
            .unwrap_or_else(|e| panic!("re-encoded {v:?} does not decode: {e}"));
        assert!(same_or_weakened(&v, &back), "{v:?} came back as {back:?}");
        assert_eq!(v.check_type(&ty), Ok(()));
    }

    if let Ok(v) = json::decode(rest, &ty) {
        let text = json::encode(&v, &ty)
            .unwrap_or_else(|e| panic!("decoded {v:?} but cannot encode it: {e}"));
        let back = json::decode(&text, &ty)
            .unwrap_or_else(|e| panic!("re-encoded {v:?} does not decode: {e}"));
        assert_eq!(back, v);
    }
});
