//! Option descriptions from the lab's own documentation: an option that is a field of the
//! module's lab argument type is described by that field's doc comment, as the type's JSON
//! Schema carries it, so the Terraform resource and the Ansible module say the same thing
//! from one text. A module's hand-written description of such an option holds only what
//! is Ansible-specific; it follows the generated paragraphs.
//!
//! The lab writes Markdown; Ansible's markup is converted from its backtick spans only:
//! an option name of the module (or `option=value`) becomes `O(...)`, other text `C(...)`,
//! and text holding `)` or `\`, which `C(...)` cannot carry, becomes an escaped `V(...)`.

use schemars::JsonSchema;
use serde_json::Value;

/// A lab argument type's field documentation (its JSON Schema, built only when the docs
/// are rendered).
#[derive(Debug, Clone, Copy)]
pub struct LabFields(fn() -> Value);

fn schema_of<T: JsonSchema>() -> Value {
    serde_json::to_value(schemars::schema_for!(T)).expect("a JSON Schema serialises")
}

impl LabFields {
    pub fn of<T: JsonSchema>() -> Self {
        LabFields(schema_of::<T>)
    }

    /// The field's doc comment as Ansible description paragraphs; `None` when the type has
    /// no such field or the field has no doc comment. `options`: the module's option
    /// names, which become `O(...)` references.
    pub fn description(&self, field: &str, options: &[&str]) -> Option<Vec<String>> {
        let schema = (self.0)();
        let prop = schema.get("properties")?.get(field)?;
        // `name` in a field of `{name, command}` items is the item's key, not the option.
        let mut keys = Vec::new();
        nested_keys(prop, &schema, 4, &mut keys);
        let text = [prop.get("title"), prop.get("description")]
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("\n\n");
        let paragraphs: Vec<String> = text
            .split("\n\n")
            .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|p| !p.is_empty())
            .map(|p| ansible_markup(&p, &references(options, &keys)))
            .collect();
        (!paragraphs.is_empty()).then_some(paragraphs)
    }
}

/// The module's options, but for names the field's own nested keys shadow.
fn references<'a>(options: &[&'a str], nested: &[String]) -> Vec<&'a str> {
    options
        .iter()
        .copied()
        .filter(|o| !nested.iter().any(|k| k == o))
        .collect()
}

/// The property names of the objects a field holds (through `$ref`, `items`, `anyOf`...).
fn nested_keys(schema: &Value, root: &Value, depth: u8, out: &mut Vec<String>) {
    if depth == 0 {
        return;
    }
    if let Some(name) = schema.get("$ref").and_then(Value::as_str) {
        let name = name.trim_start_matches("#/definitions/");
        if let Some(def) = root.get("definitions").and_then(|d| d.get(name)) {
            nested_keys(def, root, depth - 1, out);
        }
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        out.extend(props.keys().cloned());
    }
    for key in ["items", "additionalProperties"] {
        if let Some(inner) = schema.get(key) {
            nested_keys(inner, root, depth - 1, out);
        }
    }
    for key in ["anyOf", "allOf", "oneOf"] {
        for alt in schema
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            nested_keys(alt, root, depth - 1, out);
        }
    }
}

/// Markdown code spans (`` `x` `` or ``` ``x`` ```) as Ansible markup; the rest as written.
pub fn ansible_markup(markdown: &str, options: &[&str]) -> String {
    let mut out = String::new();
    let mut rest = markdown;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let fence = if rest[start..].starts_with("``") {
            "``"
        } else {
            "`"
        };
        let body = &rest[start + fence.len()..];
        let Some(end) = body.find(fence) else {
            out.push_str(&rest[start..]);
            return out;
        };
        out.push_str(&code(body[..end].trim(), options));
        rest = &body[end + fence.len()..];
    }
    out.push_str(rest);
    out
}

fn code(text: &str, options: &[&str]) -> String {
    let option = text.split_once('=').map_or(text, |(name, _)| name);
    if options.contains(&option) {
        format!("O({text})")
    } else if text.contains([')', '\\']) {
        format!("V({})", text.replace('\\', "\\\\").replace(')', "\\)"))
    } else {
        format!("C({text})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spans_become_ansible_markup() {
        let options = ["name", "state"];
        assert_eq!(
            ansible_markup(
                "Shown as `<name>@file`; see `name`, `state=absent`.",
                &options
            ),
            "Shown as C(<name>@file); see O(name), O(state=absent)."
        );
        assert_eq!(
            ansible_markup("e.g. ``Host(`a`) && Path(`/b`)``.", &options),
            "e.g. V(Host(`a`\\) && Path(`/b`\\))."
        );
        assert_eq!(ansible_markup("an odd ` tick", &options), "an odd ` tick");
    }
}
