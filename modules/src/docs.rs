//! The collection's sidecar docs (`plugins/modules/<name>.yml`) and action plugins
//! (`plugins/action/<name>.py`), generated from each module's one definition: its
//! [`Spec`] (option names, types, defaults, choices, group rules, no_log and the option
//! descriptions) and its `documentation()` (everything else), both in `src/<name>.rs`. An
//! option that is a field of the module's lab type (`Documentation::lab_fields`) is
//! described first by that field's doc comment ([`crate::lab_docs`]); pieces several
//! modules share are in [`crate::fragments`].
//! `examples/collection-docs.rs` writes the files (`make collection-docs`) and
//! `make collection-docs-check` fails when the committed ones differ.
//!
//! The binaries never call this: it costs them nothing but the options' own paragraphs (no
//! JSON Schema is built in them).
//!
//! The YAML is written by hand (no YAML crate is in the lockfile): every string goes
//! through [`scalar`], which quotes whatever a YAML 1.1 reader (PyYAML, so Ansible) could
//! take for anything but that string.

use serde_json::Value;

use crate::args::{Opt, Spec, Type};
use crate::fragments;
pub use crate::lab_docs::LabFields;
use crate::{
    backup_job, backup_restore_test, compose_stack, docker_logging, health_check, netbird_enroll,
    prometheus_target, traefik_route,
};

/// A module's one definition: its `spec` and its `documentation`.
pub type Definition = (fn() -> Spec, fn() -> Documentation);

/// Every module of the collection; the generator writes both files for each.
pub const MODULES: &[Definition] = &[
    (backup_job::spec, backup_job::documentation),
    (
        backup_restore_test::spec,
        backup_restore_test::documentation,
    ),
    (compose_stack::spec, compose_stack::documentation),
    (docker_logging::spec, docker_logging::documentation),
    (health_check::spec, health_check::documentation),
    (netbird_enroll::spec, netbird_enroll::documentation),
    (prometheus_target::spec, prometheus_target::documentation),
    (traefik_route::spec, traefik_route::documentation),
];

/// What the command that writes the files is, for their headers.
pub const GENERATOR: &str = "`make collection-docs` (modules/examples/collection-docs.rs)";

/// A module's documentation besides its options (those are in its [`Spec`]).
#[derive(Debug, Clone)]
pub struct Documentation {
    /// The module's lab argument type: its fields' doc comments describe the options of
    /// the same names (see [`LabFields`]). `None` for a module no lab type backs.
    pub lab_fields: Option<LabFields>,
    pub short_description: &'static str,
    pub description: &'static [&'static str],
    pub version_added: &'static str,
    /// This module's notes; [`COMMON_NOTES`] come first.
    pub notes: &'static [&'static str],
    pub seealso: &'static [SeeAlso],
    pub check_mode: Attribute,
    pub diff_mode: Attribute,
    /// Tasks as YAML, unindented, ending with one newline.
    pub examples: &'static str,
    pub returns: Vec<Return>,
}

#[derive(Debug, Clone)]
pub enum SeeAlso {
    Module(&'static str),
    Link {
        name: &'static str,
        description: &'static str,
        link: &'static str,
    },
}

#[derive(Debug, Clone, Copy)]
pub struct Attribute {
    pub support: Support,
    /// Empty: no details.
    pub details: &'static str,
}

#[derive(Debug, Clone, Copy)]
pub enum Support {
    Full,
    Partial,
    None,
    NotApplicable,
}

impl Support {
    fn as_str(self) -> &'static str {
        match self {
            Support::Full => "full",
            Support::Partial => "partial",
            Support::None => "none",
            Support::NotApplicable => "N/A",
        }
    }
}

/// One return value (`RETURN`); `contains` for the keys of a dict.
#[derive(Debug, Clone, Default)]
pub struct Return {
    pub name: &'static str,
    pub description: &'static str,
    pub returned: &'static str,
    /// Ansible's type name: `str`, `int`, `bool`, `dict`...
    pub ty: &'static str,
    pub choices: &'static [&'static str],
    pub sample: Option<Value>,
    pub contains: Vec<Return>,
}

impl Return {
    /// `name`, of Ansible type `ty` (`str`, `int`, `bool`, `dict`...), returned `returned`
    /// (`always`, `success`, `in diff mode`...), and what it is.
    pub fn new(
        name: &'static str,
        ty: &'static str,
        returned: &'static str,
        description: &'static str,
    ) -> Self {
        Return {
            name,
            description,
            returned,
            ty,
            ..Return::default()
        }
    }
    pub fn choices(mut self, choices: &'static [&'static str]) -> Self {
        self.choices = choices;
        self
    }
    pub fn sample(mut self, sample: Value) -> Self {
        self.sample = Some(sample);
        self
    }
    /// The keys of a dict.
    pub fn contains(mut self, keys: Vec<Return>) -> Self {
        self.contains = keys;
        self
    }
}

pub const AUTHOR: &str = "Tabiri Homelab (@tabiri)";

/// Notes every module shares: what being a binary module means for the user.
pub const COMMON_NOTES: &[&str] = &[
    "This module is a static Rust binary, not Python; it needs no Python on the target. An \
     action plugin runs the binary built for the target's CPU (C(uname -m) V(x86_64) or \
     V(aarch64)) and fails clearly on any other.",
    "The controller never sees an argument spec for binary modules; the module checks its \
     options itself and rejects unknown ones.",
];

/// Said of every option whose spec has `no_log`: the controller cannot know it is secret.
pub const NO_LOG_NOTE: &str =
    "Never logged or returned; the module scrubs it from its output like a C(no_log) option.";

/// The action plugin of every module; `MODULE_NAME` is replaced by the module's name.
const ACTION_PLUGIN: &str = r#"# -*- coding: utf-8 -*-
# Generated by GENERATOR; do not edit by hand.
# Copyright: Tabiri Homelab
# Mozilla Public License 2.0 (see https://mozilla.org/MPL/2.0/)
"""Action plugin for tabiri.homelab.MODULE_NAME: runs the module binary built for the target's CPU."""

from __future__ import annotations

from ansible_collections.tabiri.homelab.plugins.plugin_utils.arch_dispatch import ArchDispatchAction


class ActionModule(ArchDispatchAction):
    """tabiri.homelab.MODULE_NAME; see plugins/plugin_utils/arch_dispatch.py."""
"#;

/// `plugins/action/<module>.py`.
pub fn action_plugin(module: &str) -> String {
    ACTION_PLUGIN
        .replace("GENERATOR", GENERATOR)
        .replace("MODULE_NAME", module)
}

/// `plugins/modules/<module>.yml`: DOCUMENTATION, EXAMPLES and RETURN.
pub fn sidecar(spec: &Spec, doc: &Documentation) -> String {
    let name = spec.module;
    let mut y = Yaml::default();
    y.line(0, "---");
    y.line(
        0,
        &format!("# Generated by {GENERATOR} from modules/src/{name}.rs; do not edit by hand."),
    );
    y.line(0, &format!("# Documentation of the binary module plugins/modules/{name} (sidecar docs, ansible-core >= 2.14)."));
    // validate-modules looks for the GPL near the top of a module's files.
    y.line(0, "# Licensed under the Mozilla Public License 2.0, not the GNU General Public License version 3.");
    y.line(0, "DOCUMENTATION:");
    y.pair(2, "module", name);
    y.pair(2, "short_description", doc.short_description);
    y.list(2, "description", doc.description.iter().copied());
    y.pair(2, "version_added", doc.version_added);
    y.list(2, "author", [AUTHOR]);
    y.line(2, "options:");
    for opt in &spec.options {
        y.line(4, &format!("{}:", scalar(opt.name, false)));
        y.list(6, "description", option_description(spec, doc, opt));
        y.pair(6, "type", opt.ty.ansible_name());
        if let Type::List(elem) = opt.ty {
            y.pair(6, "elements", elem.ansible_name());
        }
        if opt.required {
            y.line(6, "required: true");
        }
        if !opt.choices.is_empty() {
            y.line(6, &format!("choices: {}", flow_list(opt.choices)));
        }
        if let Some(default) = &opt.default {
            y.line(6, &format!("default: {}", value(default, false)));
        }
    }
    y.list(2, "notes", COMMON_NOTES.iter().chain(doc.notes).copied());
    y.line(2, "seealso:");
    for see in doc.seealso {
        match see {
            SeeAlso::Module(module) => y.pair(4, "- module", module),
            SeeAlso::Link {
                name,
                description,
                link,
            } => {
                y.pair(4, "- name", name);
                y.pair(6, "description", description);
                y.pair(6, "link", link);
            }
        }
    }
    y.list(
        2,
        "extends_documentation_fragment",
        [
            "ansible.builtin.action_common_attributes",
            "ansible.builtin.action_common_attributes.flow",
        ],
    );
    y.line(2, "attributes:");
    y.attribute("check_mode", doc.check_mode);
    y.attribute("diff_mode", doc.diff_mode);
    y.line(4, "platform:");
    y.pair(6, "platforms", fragments::PLATFORMS);
    for (name, attribute) in fragments::COMMON_ATTRIBUTES {
        y.attribute(name, *attribute);
    }
    y.blank();
    y.literal("EXAMPLES", doc.examples);
    y.blank();
    y.line(0, "RETURN:");
    for ret in &doc.returns {
        y.ret(2, ret);
    }
    y.0
}

/// The lab field's paragraphs (when the option is one), the option's own, then what its
/// spec says that the docs have no key for.
fn option_description(spec: &Spec, doc: &Documentation, opt: &Opt) -> Vec<String> {
    let names: Vec<&str> = spec.options.iter().map(|o| o.name).collect();
    let mut out: Vec<String> = doc
        .lab_fields
        .and_then(|lab| lab.description(opt.name, &names))
        .unwrap_or_default();
    out.extend(opt.description.iter().map(|p| p.to_string()));
    let has = |group: &[&str]| group.contains(&opt.name);
    let exclusive = spec.mutually_exclusive.iter().copied().filter(|g| has(g));
    for group in exclusive {
        if spec.required_one_of.contains(&group) {
            out.push(format!("Exactly one of {} is required.", options(group)));
        } else {
            out.push(format!("At most one of {} may be given.", options(group)));
        }
    }
    for group in spec.required_one_of.iter().filter(|g| has(g)) {
        if !spec.mutually_exclusive.contains(group) {
            out.push(format!("At least one of {} is required.", options(group)));
        }
    }
    for rule in spec.required_if.iter().filter(|r| has(r.requirements)) {
        if rule.any && rule.requirements.len() > 1 {
            out.push(format!(
                "One of {} is required when O({}={}).",
                options(rule.requirements),
                rule.key,
                rule.value
            ));
        } else {
            out.push(format!("Required when O({}={}).", rule.key, rule.value));
        }
    }
    if opt.no_log {
        out.push(NO_LOG_NOTE.to_owned());
    }
    assert!(
        !out.is_empty(),
        "{}: option {} has no description",
        spec.module,
        opt.name
    );
    out
}

/// `O(a) and O(b)`, `O(a), O(b) and O(c)`.
fn options(names: &[&str]) -> String {
    let marked: Vec<String> = names.iter().map(|n| format!("O({n})")).collect();
    match marked.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => marked.join(""),
    }
}

/// YAML text being written, line by line.
#[derive(Default)]
struct Yaml(String);

impl Yaml {
    fn line(&mut self, indent: usize, text: &str) {
        self.0.push_str(&" ".repeat(indent));
        self.0.push_str(text);
        self.0.push('\n');
    }
    fn blank(&mut self) {
        self.0.push('\n');
    }
    fn pair(&mut self, indent: usize, key: &str, text: &str) {
        self.line(indent, &format!("{key}: {}", scalar(text, false)));
    }
    fn list<S: AsRef<str>>(
        &mut self,
        indent: usize,
        key: &str,
        items: impl IntoIterator<Item = S>,
    ) {
        self.line(indent, &format!("{key}:"));
        for item in items {
            self.line(indent + 2, &format!("- {}", scalar(item.as_ref(), false)));
        }
    }
    fn attribute(&mut self, name: &str, a: Attribute) {
        self.line(4, &format!("{name}:"));
        self.line(
            6,
            &format!("support: {}", scalar(a.support.as_str(), false)),
        );
        if !a.details.is_empty() {
            self.pair(6, "details", a.details);
        }
    }
    /// A literal block (`|`), kept as written: the text must not start indented (YAML
    /// would take that indentation for the block's) and must end with one newline (`|`
    /// keeps exactly one).
    fn literal(&mut self, key: &str, text: &str) {
        assert!(
            !text.starts_with([' ', '\n']) && text.ends_with('\n') && !text.ends_with("\n\n"),
            "{key}: a literal block must start unindented and end with one newline"
        );
        self.line(0, &format!("{key}: |"));
        for l in text.lines() {
            if l.is_empty() {
                self.blank();
            } else {
                self.line(2, l);
            }
        }
    }
    fn ret(&mut self, indent: usize, r: &Return) {
        self.line(indent, &format!("{}:", scalar(r.name, false)));
        self.pair(indent + 2, "description", r.description);
        self.pair(indent + 2, "returned", r.returned);
        self.pair(indent + 2, "type", r.ty);
        if !r.choices.is_empty() {
            self.line(indent + 2, &format!("choices: {}", flow_list(r.choices)));
        }
        if let Some(sample) = &r.sample {
            self.line(indent + 2, &format!("sample: {}", value(sample, false)));
        }
        if !r.contains.is_empty() {
            self.line(indent + 2, "contains:");
            for c in &r.contains {
                self.ret(indent + 4, c);
            }
        }
    }
}

fn flow_list(items: &[&str]) -> String {
    let items: Vec<String> = items.iter().map(|i| scalar(i, true)).collect();
    format!("[{}]", items.join(", "))
}

/// A JSON value (a default or a sample) in YAML flow style.
fn value(v: &Value, flow: bool) -> String {
    match v {
        Value::String(s) => scalar(s, flow),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(|i| value(i, true)).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let pairs: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", scalar(k, true), value(v, true)))
                .collect();
            format!("{{{}}}", pairs.join(", "))
        }
        Value::Number(n) => {
            let text = n.to_string();
            // PyYAML reads a float only with a dot and no bare exponent (`1e3` is a string).
            assert!(
                !n.is_f64() || (text.contains('.') && !text.contains('e')),
                "{text}: spell this float so that YAML 1.1 reads a float"
            );
            text
        }
        // null, true, false: the same words in JSON and YAML.
        Value::Null | Value::Bool(_) => v.to_string(),
    }
}

/// A string as a YAML scalar: plain when it cannot be read as anything else, otherwise
/// single-quoted, or double-quoted with JSON's escapes when it holds control characters.
/// `flow`: inside `[...]` or `{...}`, where more characters end a plain scalar.
fn scalar(s: &str, flow: bool) -> String {
    if s.chars().any(char::is_control) {
        return serde_json::to_string(s).expect("a string serialises");
    }
    if plain_is_safe(s, flow) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

/// Deliberately stricter than YAML: anything starting like a number, an indicator or a
/// quote, YAML 1.1's booleans and nulls in any case, `: ` and ` #` anywhere.
fn plain_is_safe(s: &str, flow: bool) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    let word = s.to_ascii_lowercase();
    let reserved = ["null", "true", "false", "yes", "no", "on", "off", "y", "n"];
    !reserved.contains(&word.as_str())
        && !first.is_ascii_digit()
        && !"-?:,[]{}#&*!|>'\"%@`+.~=< ".contains(first)
        && !s.ends_with([' ', ':'])
        && !s.contains(": ")
        && !s.contains(" #")
        && !(flow && s.contains([',', '[', ']', '{', '}', ':', '?', '#']))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_yaml_could_misread_are_quoted() {
        for plain in [
            "present",
            "/etc/docker/daemon.json",
            "N/A",
            "Host(`a`) && PathPrefix(`/api`\\)",
            "Label names follow Prometheus' rules (C([a-z_]*)); values are strings.",
            "when O(url) is set",
        ] {
            assert_eq!(scalar(plain, false), plain);
        }
        for (given, want) in [
            ("", "''"),
            ("yes", "'yes'"),
            ("Off", "'Off'"),
            ("null", "'null'"),
            ("0.1.0", "'0.1.0'"),
            ("10", "'10'"),
            ("-x", "'-x'"),
            ("*ref", "'*ref'"),
            ("it's", "it's"),
            ("'quoted'", "'''quoted'''"),
            ("for example C({Host: a}).", "'for example C({Host: a}).'"),
            ("a #b", "'a #b'"),
            ("ends:", "'ends:'"),
            (" lead", "' lead'"),
            ("two\nlines", "\"two\\nlines\""),
        ] {
            assert_eq!(scalar(given, false), want, "{given:?}");
        }
        assert_eq!(scalar("a,b", false), "a,b");
        assert_eq!(scalar("a,b", true), "'a,b'");
    }

    #[test]
    fn values_are_flow_yaml() {
        assert_eq!(value(&json!([200]), false), "[200]");
        assert_eq!(value(&json!({}), false), "{}");
        assert_eq!(value(&json!(1.0), false), "1.0");
        assert_eq!(value(&json!(true), false), "true");
        assert_eq!(
            value(&json!({"a b": ["x", "y,z"]}), false),
            "{a b: [x, 'y,z']}"
        );
    }

    #[test]
    fn option_descriptions_add_what_the_spec_says() {
        let (spec, doc) = (health_check::spec(), health_check::documentation());
        let url = option_description(&spec, &doc, spec.option("url").unwrap());
        assert_eq!(
            url.last().unwrap(),
            "Exactly one of O(url) and O(tcp) is required."
        );
        let pw = option_description(&spec, &doc, spec.option("url_password").unwrap());
        assert_eq!(pw.last().unwrap(), NO_LOG_NOTE);
        let (spec, doc) = (traefik_route::spec(), traefik_route::documentation());
        let rule = option_description(&spec, &doc, spec.option("rule").unwrap());
        assert_eq!(rule.last().unwrap(), "Required when O(state=present).");
        assert_eq!(options(&["a", "b", "c"]), "O(a), O(b) and O(c)");
    }

    /// A module binary without an entry here would build but never be packed (the build
    /// packs the bins that have sidecar docs).
    #[test]
    fn every_module_binary_is_documented() {
        let bin_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bin");
        let mut bins: Vec<String> = std::fs::read_dir(bin_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "rs"))
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        bins.sort();
        let documented: Vec<String> = MODULES
            .iter()
            .map(|(spec, _)| spec().module.to_owned())
            .collect();
        assert_eq!(documented, bins);
        for (spec, doc) in MODULES {
            // Renders (every option described, examples well formed) without panicking.
            assert!(sidecar(&spec(), &doc()).contains("\nRETURN:\n"));
        }
    }
}
