//! Property tests for the cty codecs: random types, random values that
//! conform to them, round trips through msgpack and JSON, and decoders fed
//! with garbage.

use proptest::prelude::*;
use proptest::strategy::Union;
use tfplugin::cty::{json, msgpack, Number, Refinements, Type, Value};

/// Attribute names and map keys: mostly identifiers, sometimes anything.
fn arb_name() -> BoxedStrategy<String> {
    prop_oneof![4 => "[a-z_]{1,6}", 1 => "(?s).{0,5}"].boxed()
}

/// A random type, at most four levels deep.
fn arb_type(allow_dynamic: bool) -> BoxedStrategy<Type> {
    let leaf = if allow_dynamic {
        prop_oneof![
            Just(Type::Bool),
            Just(Type::Number),
            Just(Type::String),
            Just(Type::Dynamic)
        ]
        .boxed()
    } else {
        prop_oneof![Just(Type::Bool), Just(Type::Number), Just(Type::String)].boxed()
    };
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(Type::list),
            inner.clone().prop_map(Type::set),
            inner.clone().prop_map(Type::map),
            prop::collection::btree_map(arb_name(), inner.clone(), 0..4).prop_map(Type::Object),
            prop::collection::vec(inner, 0..4).prop_map(Type::Tuple),
        ]
    })
    .boxed()
}

/// Numbers of every shape: small, i64, u64, floats, and big or precise
/// decimals that fit none of those.
fn arb_number() -> BoxedStrategy<Number> {
    prop_oneof![
        (-5i64..5).prop_map(Number::from),
        any::<i64>().prop_map(Number::from),
        any::<u64>().prop_map(Number::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Number::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| Number::from_f64_shortest(f).unwrap()),
        ("-?[0-9]{1,60}(\\.[0-9]{1,40})?", -500i64..500)
            .prop_map(|(m, e)| format!("{m}e{e}").parse().unwrap()),
    ]
    .boxed()
}

/// An unknown of `ty`, refined as go-cty allows for that type. Only
/// refinements that survive the wire are generated (no empty prefix, no
/// zero lower length bound).
fn arb_unknown(ty: &Type) -> BoxedStrategy<Value> {
    match ty {
        Type::Dynamic => Just(Value::unknown()).boxed(),
        Type::String => (any::<bool>(), prop::option::of("(?s).{1,20}"))
            .prop_map(|(not_null, string_prefix)| {
                Value::Unknown(Refinements {
                    not_null,
                    string_prefix,
                    ..Refinements::default()
                })
            })
            .boxed(),
        Type::Number => (
            any::<bool>(),
            prop::option::of((arb_number(), any::<bool>())),
            prop::option::of((arb_number(), any::<bool>())),
        )
            .prop_map(|(not_null, number_lower, number_upper)| {
                Value::Unknown(Refinements {
                    not_null,
                    number_lower,
                    number_upper,
                    ..Refinements::default()
                })
            })
            .boxed(),
        Type::List(_) | Type::Set(_) | Type::Map(_) => (
            any::<bool>(),
            prop::option::of(1u64..100_000),
            prop::option::of(0u64..100_000),
        )
            .prop_map(|(not_null, length_lower, length_upper)| {
                Value::Unknown(Refinements {
                    not_null,
                    length_lower,
                    length_upper,
                    ..Refinements::default()
                })
            })
            .boxed(),
        Type::Bool | Type::Object(_) | Type::Tuple(_) => any::<bool>()
            .prop_map(|not_null| {
                Value::Unknown(Refinements {
                    not_null,
                    ..Refinements::default()
                })
            })
            .boxed(),
    }
}

/// A value conforming to `ty`: null, unknown (if `unknowns`), or known.
/// `dyn_depth` bounds how many dynamic values may nest inside each other.
fn arb_value(ty: &Type, unknowns: bool, dyn_depth: u32) -> BoxedStrategy<Value> {
    let mut choices = vec![
        (1, Just(Value::Null).boxed()),
        (6, arb_known(ty, unknowns, dyn_depth)),
    ];
    if unknowns {
        choices.push((1, arb_unknown(ty)));
    }
    Union::new_weighted(choices).boxed()
}

fn arb_known(ty: &Type, unknowns: bool, dyn_depth: u32) -> BoxedStrategy<Value> {
    let elems = |et: &Type| prop::collection::vec(arb_value(et, unknowns, dyn_depth), 0..4);
    match ty {
        Type::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Type::Number => arb_number().prop_map(Value::Number).boxed(),
        Type::String => "(?s).{0,12}".prop_map(Value::String).boxed(),
        Type::List(et) => elems(et).prop_map(Value::List).boxed(),
        Type::Set(et) => elems(et).prop_map(Value::Set).boxed(),
        Type::Map(et) => {
            prop::collection::btree_map(arb_name(), arb_value(et, unknowns, dyn_depth), 0..4)
                .prop_map(Value::Map)
                .boxed()
        }
        Type::Object(attrs) => attrs
            .iter()
            .map(|(k, at)| {
                let k = k.clone();
                arb_value(at, unknowns, dyn_depth).prop_map(move |v| (k.clone(), v))
            })
            .collect::<Vec<_>>()
            .prop_map(|kvs| Value::Object(kvs.into_iter().collect()))
            .boxed(),
        Type::Tuple(ts) => ts
            .iter()
            .map(|t| arb_value(t, unknowns, dyn_depth))
            .collect::<Vec<_>>()
            .prop_map(Value::Tuple)
            .boxed(),
        Type::Dynamic => arb_type(dyn_depth > 0)
            .prop_filter("a dynamic value has a concrete type", |t| {
                *t != Type::Dynamic
            })
            .prop_flat_map(move |t| {
                arb_value(&t, unknowns, dyn_depth.saturating_sub(1))
                    .prop_map(move |v| Value::dynamic(t.clone(), v))
            })
            .boxed(),
    }
}

fn typed_value(unknowns: bool) -> impl Strategy<Value = (Type, Value)> {
    arb_type(true).prop_flat_map(move |t| (Just(t.clone()), arb_value(&t, unknowns, 1)))
}

/// Ways to damage an encoding.
#[derive(Clone, Debug)]
enum Damage {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, u8),
    Remove(usize),
}

fn arb_damage() -> impl Strategy<Value = Vec<Damage>> {
    prop::collection::vec(
        prop_oneof![
            (any::<usize>(), 1u8..=255).prop_map(|(i, x)| Damage::Flip(i, x)),
            any::<usize>().prop_map(Damage::Truncate),
            (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Damage::Insert(i, b)),
            any::<usize>().prop_map(Damage::Remove),
        ],
        1..4,
    )
}

fn damage(mut bytes: Vec<u8>, damage: &[Damage]) -> Vec<u8> {
    for d in damage {
        let n = bytes.len();
        match *d {
            Damage::Flip(i, x) if n > 0 => bytes[i % n] ^= x,
            Damage::Truncate(i) => bytes.truncate(i % (n + 1)),
            Damage::Insert(i, b) => bytes.insert(i % (n + 1), b),
            Damage::Remove(i) if n > 0 => {
                bytes.remove(i % n);
            }
            _ => {}
        }
    }
    bytes
}

/// Whether `back` is `orig` after a trip through the encoder, which may
/// only have weakened unknown-value refinements to fit go-cty's 1 KiB
/// limit (dropped number bounds, shortened prefix). The codecs keep
/// element order, so sets are compared by position here.
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

/// Whatever decodes must re-encode, and decode again to the same value.
fn check_decoded(bytes: &[u8], ty: &Type) -> Result<(), TestCaseError> {
    if let Ok(v) = msgpack::decode(bytes, ty) {
        let again = msgpack::encode(&v, ty);
        prop_assert!(
            again.is_ok(),
            "decoded {v:?} but cannot encode it: {again:?}"
        );
        let back = msgpack::decode(&again.unwrap(), ty);
        prop_assert!(
            matches!(&back, Ok(b) if same_or_weakened(&v, b)),
            "msgpack {v:?} came back as {back:?}"
        );
    }
    if let Ok(v) = json::decode(bytes, ty) {
        let again = json::encode(&v, ty);
        prop_assert!(
            again.is_ok(),
            "decoded {v:?} but cannot encode it: {again:?}"
        );
        let back = json::decode(&again.unwrap(), ty);
        prop_assert_eq!(back, Ok(v));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn type_json_round_trip(ty in arb_type(true)) {
        prop_assert_eq!(Type::from_json(&ty.to_json()), Ok(ty));
    }

    #[test]
    fn msgpack_round_trip((ty, v) in typed_value(true)) {
        let bytes = msgpack::encode(&v, &ty);
        prop_assert!(bytes.is_ok(), "{:?}", bytes);
        let bytes = bytes.unwrap();
        prop_assert_eq!(msgpack::decode(&bytes, &ty), Ok(v.clone()));
        // check_type agrees with the encoder.
        prop_assert_eq!(v.check_type(&ty), Ok(()));
    }

    #[test]
    fn json_round_trip((ty, v) in typed_value(false)) {
        prop_assert!(v.is_known());
        let text = json::encode(&v, &ty);
        prop_assert!(text.is_ok(), "{:?}", text);
        let text = text.unwrap();
        prop_assert!(std::str::from_utf8(&text).is_ok());
        prop_assert_eq!(json::decode(&text, &ty), Ok(v));
    }

    #[test]
    fn json_refuses_unknowns((ty, v) in typed_value(true)) {
        let result = json::encode(&v, &ty);
        prop_assert_eq!(result.is_ok(), v.is_known(), "{:?}", result);
    }

    #[test]
    fn values_do_not_fit_other_types(
        (ty, v) in typed_value(false),
        other in arb_type(true),
    ) {
        // Encoding against the wrong type either fails or yields bytes
        // that decode against that type; it never panics.
        if let Ok(bytes) = msgpack::encode(&v, &other) {
            prop_assert_eq!(msgpack::decode(&bytes, &other), Ok(v.clone()));
        }
        if let Ok(text) = json::encode(&v, &other) {
            prop_assert!(json::decode(&text, &other).is_ok());
        }
        let _ = ty;
    }

    #[test]
    fn decoding_random_bytes_never_panics(
        ty in arb_type(true),
        bytes in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        check_decoded(&bytes, &ty)?;
    }

    #[test]
    fn decoding_damaged_msgpack_never_panics(
        (ty, v) in typed_value(true),
        harm in arb_damage(),
    ) {
        let bytes = damage(msgpack::encode(&v, &ty).unwrap(), &harm);
        check_decoded(&bytes, &ty)?;
    }

    #[test]
    fn decoding_damaged_json_never_panics(
        (ty, v) in typed_value(false),
        harm in arb_damage(),
    ) {
        let text = damage(json::encode(&v, &ty).unwrap(), &harm);
        check_decoded(&text, &ty)?;
    }
}
