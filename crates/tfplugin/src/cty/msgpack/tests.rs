//! Unit tests of `msgpack`.

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
