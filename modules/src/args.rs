//! Argument specs and their checking, as Ansible's `AnsibleModule` does it for Python
//! modules: the controller never sees a binary module's spec, so the module checks its
//! own options, applies its own defaults and knows its own secrets.
//!
//! Order, as in ansible-core's `ArgumentSpecValidator`: unsupported options (alone, if
//! any), mutually exclusive options, defaults, required options, types, choices,
//! required-one-of, required-if. Unlike Ansible, which reports only the first problem,
//! every problem found is reported, joined with `; `.
//!
//! A `null` value counts as not given (so its default applies), which is also what the
//! lab types do with `null`.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Number, Value};

/// Element type of a list or the value type of a dict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scalar {
    Str,
    Int,
    Float,
    Bool,
    /// A string with `~` and `$VAR` expanded, as Ansible's `path` type.
    Path,
    /// A dict kept as it is (the elements of a list of objects, such as dumps).
    Dict,
}

/// An option's type, named as in Ansible's `argument_spec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Scalar(Scalar),
    /// `type: list`, `elements: <scalar>`.
    List(Scalar),
    /// `type: dict` whose values are converted to the scalar (str for labels, headers).
    Dict(Scalar),
    /// `type: dict` kept as it is, nested values and all (a compose file as a dict).
    Document,
}

impl Type {
    pub const STR: Type = Type::Scalar(Scalar::Str);
    pub const INT: Type = Type::Scalar(Scalar::Int);
    pub const FLOAT: Type = Type::Scalar(Scalar::Float);
    pub const BOOL: Type = Type::Scalar(Scalar::Bool);
    pub const PATH: Type = Type::Scalar(Scalar::Path);

    /// Ansible's name: `str`, `list`, ...
    pub fn ansible_name(self) -> &'static str {
        match self {
            Type::Scalar(s) => s.ansible_name(),
            Type::List(_) => "list",
            Type::Dict(_) | Type::Document => "dict",
        }
    }
}

impl Scalar {
    pub fn ansible_name(self) -> &'static str {
        match self {
            Scalar::Str => "str",
            Scalar::Int => "int",
            Scalar::Float => "float",
            Scalar::Bool => "bool",
            Scalar::Path => "path",
            Scalar::Dict => "dict",
        }
    }
}

/// One option.
#[derive(Debug, Clone)]
pub struct Opt {
    pub name: &'static str,
    pub ty: Type,
    pub required: bool,
    /// Applied by the module when the option is not given (Ansible does not).
    pub default: Option<Value>,
    pub choices: &'static [&'static str],
    /// Value replaced in `invocation` and scrubbed from all output.
    pub no_log: bool,
    /// Paragraphs of the option's documentation (Ansible markup: O(), V(), C()). For an
    /// option that is a field of the module's lab type, only what Ansible users need beyond
    /// that field's doc comment, which comes first (see [`crate::lab_docs`]). The sidecar
    /// docs add what the spec itself says: the group rules and no_log (see [`crate::docs`]).
    pub description: Vec<Cow<'static, str>>,
}

impl Opt {
    pub fn new(name: &'static str, ty: Type) -> Self {
        Opt {
            name,
            ty,
            required: false,
            default: None,
            choices: &[],
            no_log: false,
            description: Vec::new(),
        }
    }
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
    pub fn default(mut self, value: Value) -> Self {
        self.default = Some(value);
        self
    }
    pub fn choices(mut self, choices: &'static [&'static str]) -> Self {
        self.choices = choices;
        self
    }
    pub fn no_log(mut self) -> Self {
        self.no_log = true;
        self
    }
    /// Adds paragraphs to the option's description.
    pub fn description(mut self, paragraphs: &'static [&'static str]) -> Self {
        self.description
            .extend(paragraphs.iter().map(|p| Cow::Borrowed(*p)));
        self
    }
    /// Adds one paragraph made at run time (a shared text naming this module's options).
    pub fn paragraph(mut self, paragraph: impl Into<Cow<'static, str>>) -> Self {
        self.description.push(paragraph.into());
        self
    }
}

/// `required_if`: when `key` is `value`, the `requirements` must be given (all of them,
/// or at least one with `any`).
#[derive(Debug, Clone)]
pub struct RequiredIf {
    pub key: &'static str,
    pub value: &'static str,
    pub requirements: &'static [&'static str],
    pub any: bool,
}

/// A module's argument spec.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Short name (`traefik_route`); messages use `tabiri.homelab.<name>`.
    pub module: &'static str,
    pub options: Vec<Opt>,
    pub mutually_exclusive: Vec<&'static [&'static str]>,
    pub required_one_of: Vec<&'static [&'static str]>,
    pub required_if: Vec<RequiredIf>,
}

impl Spec {
    pub fn new(module: &'static str, options: Vec<Opt>) -> Self {
        Spec {
            module,
            options,
            mutually_exclusive: Vec::new(),
            required_one_of: Vec::new(),
            required_if: Vec::new(),
        }
    }
    pub fn mutually_exclusive(mut self, group: &'static [&'static str]) -> Self {
        self.mutually_exclusive.push(group);
        self
    }
    pub fn required_one_of(mut self, group: &'static [&'static str]) -> Self {
        self.required_one_of.push(group);
        self
    }
    pub fn required_if(
        self,
        key: &'static str,
        value: &'static str,
        requirements: &'static [&'static str],
    ) -> Self {
        self.with_required_if(RequiredIf {
            key,
            value,
            requirements,
            any: false,
        })
    }

    /// Like [`Spec::required_if`], satisfied by any one of `requirements`.
    pub fn required_if_any(
        self,
        key: &'static str,
        value: &'static str,
        requirements: &'static [&'static str],
    ) -> Self {
        self.with_required_if(RequiredIf {
            key,
            value,
            requirements,
            any: true,
        })
    }

    fn with_required_if(mut self, rule: RequiredIf) -> Self {
        self.required_if.push(rule);
        self
    }

    pub fn option(&self, name: &str) -> Option<&Opt> {
        self.options.iter().find(|o| o.name == name)
    }

    /// `tabiri.homelab.<module>`.
    pub fn full_name(&self) -> String {
        format!("tabiri.homelab.{}", self.module)
    }
}

/// Checked options: every option of the spec, `Null` when not given and without default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params {
    values: BTreeMap<String, Value>,
    supplied: BTreeSet<String>,
}

impl Params {
    /// The value, `Null` when unset.
    pub fn get(&self, name: &str) -> &Value {
        self.values.get(name).unwrap_or(&Value::Null)
    }
    pub fn str(&self, name: &str) -> Option<&str> {
        self.get(name).as_str()
    }
    /// A bool option (with a default, so never unset).
    pub fn bool(&self, name: &str) -> bool {
        self.get(name).as_bool().unwrap_or(false)
    }
    /// Whether the user gave the option (rather than it taking its default).
    pub fn supplied(&self, name: &str) -> bool {
        self.supplied.contains(name)
    }
    /// The set options among `names`, as a JSON object for a lab type's serde.
    pub fn object(&self, names: &[&str]) -> Value {
        let map: Map<String, Value> = names
            .iter()
            .filter_map(|n| {
                let v = self.get(n);
                (!v.is_null()).then(|| ((*n).to_owned(), v.clone()))
            })
            .collect();
        Value::Object(map)
    }
    /// All options with their values, for `invocation.module_args`.
    pub fn all(&self) -> &BTreeMap<String, Value> {
        &self.values
    }
}

/// What checking found: the params, or the problems (first the unsupported ones).
#[derive(Debug)]
pub struct Checked {
    pub params: Result<Params, String>,
    /// Conversion warnings, as Ansible gives for a number in a string option.
    pub warnings: Vec<String>,
}

/// The string forms of the values of `no_log` options in the user's arguments, as
/// Ansible collects them: every scalar inside, at any depth. Taken before any checking
/// so that no message can show them.
pub fn no_log_values(spec: &Spec, user: &Map<String, Value>) -> Vec<String> {
    fn collect(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Null => {}
            Value::String(s) => out.push(s.clone()),
            Value::Bool(_) | Value::Number(_) => out.push(v.to_string()),
            Value::Array(items) => items.iter().for_each(|i| collect(i, out)),
            Value::Object(map) => map.values().for_each(|i| collect(i, out)),
        }
    }
    let mut out = Vec::new();
    for opt in spec.options.iter().filter(|o| o.no_log) {
        if let Some(v) = user.get(opt.name) {
            collect(v, &mut out);
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// Checks the user's options (internal `_ansible_*` keys already removed) against `spec`.
pub fn check(spec: &Spec, user: &Map<String, Value>) -> Checked {
    let mut warnings = Vec::new();
    let unsupported: Vec<&str> = user
        .keys()
        .map(String::as_str)
        .filter(|k| spec.option(k).is_none())
        .collect();
    if !unsupported.is_empty() {
        let mut supported: Vec<&str> = spec.options.iter().map(|o| o.name).collect();
        supported.sort_unstable();
        return Checked {
            params: Err(format!(
                "Unsupported parameters for ({}) module: {}. Supported parameters include: {}.",
                spec.full_name(),
                unsupported.join(", "),
                supported.join(", ")
            )),
            warnings,
        };
    }
    let given: BTreeMap<&str, &Value> = user
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    let mut errors = Vec::new();

    for group in &spec.mutually_exclusive {
        let present: Vec<&str> = group
            .iter()
            .copied()
            .filter(|n| given.contains_key(n))
            .collect();
        if present.len() > 1 {
            errors.push(format!(
                "parameters are mutually exclusive: {}",
                group.join("|")
            ));
        }
    }

    let missing: Vec<&str> = spec
        .options
        .iter()
        .filter(|o| o.required && !given.contains_key(o.name))
        .map(|o| o.name)
        .collect();
    if !missing.is_empty() {
        errors.push(format!(
            "missing required arguments: {}",
            missing.join(", ")
        ));
    }

    let mut values = BTreeMap::new();
    let mut supplied = BTreeSet::new();
    for opt in &spec.options {
        let (raw, from_user) = match given.get(opt.name) {
            Some(v) => ((*v).clone(), true),
            None => match &opt.default {
                Some(d) => (d.clone(), false),
                None => {
                    values.insert(opt.name.to_owned(), Value::Null);
                    continue;
                }
            },
        };
        if from_user {
            supplied.insert(opt.name.to_owned());
        }
        match convert(opt, raw, &mut warnings) {
            Ok(v) => {
                if !opt.choices.is_empty() {
                    if let Some(problem) = choice_problem(opt, &v) {
                        errors.push(problem);
                    }
                }
                values.insert(opt.name.to_owned(), v);
            }
            Err(e) => {
                errors.push(e);
                values.insert(opt.name.to_owned(), Value::Null);
            }
        }
    }

    let is_set = |n: &str| values.get(n).is_some_and(|v| !v.is_null());
    for group in &spec.required_one_of {
        if !group.iter().any(|n| is_set(n)) {
            errors.push(format!(
                "one of the following is required: {}",
                group.join(", ")
            ));
        }
    }
    for rule in &spec.required_if {
        let matches = match values.get(rule.key) {
            Some(Value::String(s)) => s == rule.value,
            Some(Value::Bool(b)) => rule.value == if *b { "true" } else { "false" },
            _ => false,
        };
        if !matches {
            continue;
        }
        let missing: Vec<&str> = rule
            .requirements
            .iter()
            .copied()
            .filter(|n| !is_set(n))
            .collect();
        let unmet = if rule.any {
            missing.len() == rule.requirements.len()
        } else {
            !missing.is_empty()
        };
        if unmet {
            errors.push(format!(
                "{} is {} but {} of the following are missing: {}",
                rule.key,
                rule.value,
                if rule.any { "any" } else { "all" },
                missing.join(", ")
            ));
        }
    }

    Checked {
        params: if errors.is_empty() {
            Ok(Params { values, supplied })
        } else {
            Err(errors.join("; "))
        },
        warnings,
    }
}

fn choice_problem(opt: &Opt, v: &Value) -> Option<String> {
    let s = v.as_str()?;
    (!opt.choices.contains(&s)).then(|| {
        format!(
            "value of {} must be one of: {}, got: {s}",
            opt.name,
            opt.choices.join(", ")
        )
    })
}

/// Python's name for the type of a JSON value, as Ansible's messages say it.
fn py_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

fn convert(opt: &Opt, raw: Value, warnings: &mut Vec<String>) -> Result<Value, String> {
    let unable = |v: &Value, detail: String| {
        format!(
            "argument '{}' is of type {} and we were unable to convert to {}: {detail}",
            opt.name,
            py_type(v),
            opt.ty.ansible_name()
        )
    };
    match opt.ty {
        Type::Scalar(scalar) => {
            if scalar_is_str(scalar) && matches!(raw, Value::Number(_) | Value::Bool(_)) {
                let converted = py_str(&raw);
                warnings.push(format!(
                    "The value {} (type {}) in a string field was converted to '{converted}' \
                     (type string). If this does not look like what you expect, quote the \
                     entire value to ensure it does not change.",
                    py_str(&raw),
                    py_type(&raw)
                ));
            }
            convert_scalar(scalar, &raw).map_err(|d| unable(&raw, d))
        }
        Type::List(elem) => {
            let items = match &raw {
                Value::Array(items) => items.clone(),
                // Ansible splits a string on commas, and wraps a number.
                Value::String(s) => s.split(',').map(|p| Value::String(p.into())).collect(),
                Value::Number(_) | Value::Bool(_) => vec![Value::String(py_str(&raw))],
                other => return Err(unable(other, "it is not a list".into())),
            };
            let mut out = Vec::with_capacity(items.len());
            for item in &items {
                out.push(convert_scalar(elem, item).map_err(|d| {
                    format!(
                        "Elements value for option '{}' is of type {} and we were unable to \
                         convert to {}: {d}",
                        opt.name,
                        py_type(item),
                        elem.ansible_name()
                    )
                })?);
            }
            Ok(Value::Array(out))
        }
        Type::Document => match &raw {
            Value::Object(_) => Ok(raw.clone()),
            other => Err(unable(other, "it is not a dict".into())),
        },
        Type::Dict(elem) => {
            let map = match &raw {
                Value::Object(map) => map.clone(),
                Value::String(s) => parse_dict_string(s).map_err(|d| unable(&raw, d))?,
                other => return Err(unable(other, "it is not a dict".into())),
            };
            let mut out = Map::new();
            for (k, v) in &map {
                let converted = convert_scalar(elem, v).map_err(|d| {
                    format!(
                        "value of key '{k}' in option '{}' is of type {} and we were unable to \
                         convert to {}: {d}",
                        opt.name,
                        py_type(v),
                        elem.ansible_name()
                    )
                })?;
                out.insert(k.clone(), converted);
            }
            Ok(Value::Object(out))
        }
    }
}

fn scalar_is_str(s: Scalar) -> bool {
    matches!(s, Scalar::Str | Scalar::Path)
}

/// Python's `str()` of a scalar: `True`, `3`, `1.5`.
fn py_str(v: &Value) -> String {
    match v {
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

const BOOLEANS_TRUE: &[&str] = &["y", "yes", "on", "1", "true", "t"];
const BOOLEANS_FALSE: &[&str] = &["n", "no", "off", "0", "false", "f"];

fn convert_scalar(scalar: Scalar, v: &Value) -> Result<Value, String> {
    match scalar {
        Scalar::Str => match v {
            Value::String(_) => Ok(v.clone()),
            Value::Number(_) | Value::Bool(_) => Ok(Value::String(py_str(v))),
            _ => Err(format!("a {} is not a string", py_type(v))),
        },
        Scalar::Dict => match v {
            Value::Object(_) => Ok(v.clone()),
            _ => Err(format!("a {} is not a dict", py_type(v))),
        },
        Scalar::Path => convert_scalar(Scalar::Str, v)
            .map(|s| Value::String(expand_path(s.as_str().unwrap_or_default()))),
        Scalar::Int => match v {
            Value::Number(n) if n.is_i64() || n.is_u64() => n
                .as_i64()
                .map(Value::from)
                .ok_or_else(|| format!("{n} is too large")),
            Value::Number(n) => {
                let f = n.as_f64().unwrap_or(f64::NAN);
                if f.fract() == 0.0 && f.abs() < 9.0e15 {
                    Ok(Value::from(f as i64))
                } else {
                    Err(format!(
                        "cannot convert {n} to int without losing its fraction"
                    ))
                }
            }
            Value::String(s) => s
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| format!("{s:?} is not a whole number")),
            _ => Err(format!("a {} is not a number", py_type(v))),
        },
        Scalar::Float => match v {
            Value::Number(n) => n
                .as_f64()
                .and_then(Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| format!("{n} is not a float")),
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| format!("{s:?} is not a number")),
            _ => Err(format!("a {} is not a number", py_type(v))),
        },
        Scalar::Bool => {
            let text = match v {
                Value::Bool(b) => return Ok(Value::Bool(*b)),
                Value::String(s) => s.trim().to_ascii_lowercase(),
                Value::Number(n) if n.as_f64() == Some(1.0) => "1".into(),
                Value::Number(n) if n.as_f64() == Some(0.0) => "0".into(),
                _ => String::new(),
            };
            if BOOLEANS_TRUE.contains(&text.as_str()) {
                Ok(Value::Bool(true))
            } else if BOOLEANS_FALSE.contains(&text.as_str()) {
                Ok(Value::Bool(false))
            } else {
                Err(format!(
                    "The value {} is not a valid boolean. Valid booleans include: {}",
                    match v {
                        Value::String(s) => format!("'{s}'"),
                        other => py_str(other),
                    },
                    BOOLEANS_TRUE
                        .iter()
                        .chain(BOOLEANS_FALSE)
                        .map(|b| format!("'{b}'"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        }
    }
}

/// `{"a": 1}` (JSON) or `a=1, b=2` / `a=1 b=2`, as Ansible's `check_type_dict` reads a
/// string given for a dict option.
fn parse_dict_string(s: &str) -> Result<Map<String, Value>, String> {
    let trimmed = s.trim();
    if trimmed.starts_with('{') {
        return match serde_json::from_str::<Value>(trimmed) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err("it starts with { but is not a JSON object".into()),
        };
    }
    let mut map = Map::new();
    for pair in trimmed
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|p| !p.is_empty())
    {
        let Some((k, v)) = pair.split_once('=') else {
            return Err(format!("{pair:?} is not key=value"));
        };
        map.insert(k.to_owned(), Value::String(v.to_owned()));
    }
    Ok(map)
}

/// Ansible's `path`: `os.path.expanduser(os.path.expandvars(value))`. Unknown variables
/// stay as written; `~user` is left alone.
pub fn expand_path(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, consumed) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (&braced[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        match (!name.is_empty())
            .then(|| std::env::var(name).ok())
            .flatten()
        {
            Some(v) => out.push_str(&v),
            None => out.push_str(&rest[i..i + 1 + consumed]),
        }
        rest = &after[consumed..];
    }
    out.push_str(rest);
    if out == "~" || out.starts_with("~/") {
        if let Ok(home) = std::env::var("HOME") {
            return format!("{home}{}", &out[1..]);
        }
    }
    out
}

#[cfg(test)]
mod tests;
