//! Moving between cty values and `serde_json::Value`, so providers can hand typed
//! configuration to serde-based domain types and turn their results back into state.

use std::collections::BTreeMap;

use crate::cty::{Number, Type, Value};

/// Converts a wholly known value to JSON; null stays null so serde defaults apply.
pub fn to_json(value: &Value) -> Result<serde_json::Value, String> {
    Ok(match value {
        Value::Null => serde_json::Value::Null,
        Value::Unknown(_) => return Err("value is not known yet".to_string()),
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Number(n) => number_to_json(n),
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::List(items) | Value::Set(items) | Value::Tuple(items) => {
            serde_json::Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?)
        }
        Value::Map(fields) | Value::Object(fields) => serde_json::Value::Object(
            fields
                .iter()
                .map(|(k, v)| Ok((k.clone(), to_json(v)?)))
                .collect::<Result<_, String>>()?,
        ),
        Value::Dynamic(inner) => to_json(&inner.1)?,
    })
}

fn number_to_json(n: &Number) -> serde_json::Value {
    if let Some(i) = n.as_i64() {
        return serde_json::Value::from(i);
    }
    serde_json::Value::from(n.as_f64())
}

/// Converts JSON into a value of type `ty`. Object attributes missing from the JSON
/// become null; keys the type does not have are an error naming them.
pub fn from_json(json: &serde_json::Value, ty: &Type) -> Result<Value, String> {
    if json.is_null() {
        return Ok(Value::Null);
    }
    let mismatch = || {
        format!(
            "expected {}, got {json}",
            String::from_utf8_lossy(&ty.to_json())
        )
    };
    Ok(match ty {
        Type::Bool => Value::Bool(json.as_bool().ok_or_else(mismatch)?),
        Type::String => Value::String(json.as_str().ok_or_else(mismatch)?.to_string()),
        Type::Number => {
            let n = json.as_number().ok_or_else(mismatch)?;
            let number: Number = n.to_string().parse().map_err(|_| mismatch())?;
            Value::Number(number)
        }
        Type::Dynamic => return Err("dynamic values cannot be built from plain JSON".to_string()),
        Type::List(element) | Type::Set(element) => {
            let items = json
                .as_array()
                .ok_or_else(mismatch)?
                .iter()
                .map(|item| from_json(item, element))
                .collect::<Result<Vec<_>, _>>()?;
            if matches!(ty, Type::Set(_)) {
                Value::Set(items)
            } else {
                Value::List(items)
            }
        }
        Type::Tuple(elements) => {
            let items = json.as_array().ok_or_else(mismatch)?;
            if items.len() != elements.len() {
                return Err(mismatch());
            }
            Value::Tuple(
                items
                    .iter()
                    .zip(elements)
                    .map(|(item, t)| from_json(item, t))
                    .collect::<Result<_, _>>()?,
            )
        }
        Type::Map(element) => Value::Map(
            json.as_object()
                .ok_or_else(mismatch)?
                .iter()
                .map(|(k, v)| Ok((k.clone(), from_json(v, element)?)))
                .collect::<Result<BTreeMap<_, _>, String>>()?,
        ),
        Type::Object(attributes) => {
            let fields = json.as_object().ok_or_else(mismatch)?;
            if let Some(extra) = fields.keys().find(|k| !attributes.contains_key(*k)) {
                return Err(format!("unexpected attribute {extra:?}"));
            }
            Value::Object(
                attributes
                    .iter()
                    .map(|(name, t)| {
                        let v = fields.get(name).unwrap_or(&serde_json::Value::Null);
                        Ok((name.clone(), from_json(v, t)?))
                    })
                    .collect::<Result<_, String>>()?,
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_an_object() {
        let ty = Type::Object(BTreeMap::from([
            ("name".to_string(), Type::String),
            ("servers".to_string(), Type::List(Box::new(Type::String))),
            ("priority".to_string(), Type::Number),
            ("tls".to_string(), Type::Bool),
        ]));
        let json = serde_json::json!({"name": "a", "servers": ["x", "y"], "priority": 10});
        let value = from_json(&json, &ty).unwrap();
        assert_eq!(value.get_attr("tls"), Some(&Value::Null));
        let back = to_json(&value).unwrap();
        assert_eq!(back["servers"], serde_json::json!(["x", "y"]));
        assert_eq!(back["priority"], serde_json::json!(10));
        assert!(from_json(&serde_json::json!({"bogus": 1}), &ty).is_err());
        assert!(to_json(&Value::unknown()).is_err());
    }
}
