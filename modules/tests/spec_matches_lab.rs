//! One definition per capability: each module's options are its lab
//! type's fields (same names, types, required-ness and defaults, read from the type's
//! JSON schema) plus the Ansible-only options listed here. The specs are written out in
//! Rust so the binaries carry no schema generator; this test keeps them honest, and checks
//! that every option that is a lab field is described by that field's doc comment.

use lab::backup::BackupJob;
use lab::compose::ComposeStack;
use lab::docker_logging::DockerLogging;
use lab::health_check::HealthCheck;
use lab::prometheus_target::PrometheusTarget;
use lab::traefik::TraefikRoute;
use serde_json::Value;
use tabiri_homelab_modules::args::{Scalar, Spec, Type};
use tabiri_homelab_modules::docs::Documentation;
use tabiri_homelab_modules::{
    backup_job, compose_stack, docker_logging, health_check, netbird_enroll, prometheus_target,
    traefik_route,
};

fn schema<T: schemars::JsonSchema>() -> Value {
    serde_json::to_value(schemars::schema_for!(T)).unwrap()
}

/// The JSON-schema type of a property, through `$ref` and `Option`'s `anyOf`/null.
fn json_type(prop: &Value, root: &Value) -> String {
    if let Some(r) = prop.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/definitions/");
        return json_type(&root["definitions"][name], root);
    }
    for key in ["anyOf", "allOf", "oneOf"] {
        if let Some(alts) = prop.get(key).and_then(Value::as_array) {
            let types: Vec<String> = alts
                .iter()
                .map(|a| json_type(a, root))
                .filter(|t| t != "null")
                .collect();
            return types.join("|");
        }
    }
    match &prop["type"] {
        Value::String(t) => t.clone(),
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect::<Vec<_>>()
            .join("|"),
        _ => panic!("no type in {prop}"),
    }
}

fn expected_json_type(ty: Type) -> &'static str {
    match ty {
        Type::Scalar(Scalar::Str | Scalar::Path) => "string",
        Type::Scalar(Scalar::Int) => "integer",
        Type::Scalar(Scalar::Float) => "number",
        Type::Scalar(Scalar::Bool) => "boolean",
        Type::Scalar(Scalar::Dict) => "object",
        Type::List(_) => "array",
        Type::Dict(_) | Type::Document => "object",
    }
}

fn assert_matches(spec: &Spec, doc: &Documentation, root: &Value, module_only: &[&str]) {
    let props = root["properties"].as_object().unwrap();
    let required: Vec<&str> = root["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut fields: Vec<&str> = props.keys().map(String::as_str).collect();
    let mut options: Vec<&str> = spec
        .options
        .iter()
        .map(|o| o.name)
        .filter(|n| !module_only.contains(n))
        .collect();
    fields.sort_unstable();
    options.sort_unstable();
    assert_eq!(options, fields, "{}: options vs lab fields", spec.module);

    let lab = doc.lab_fields.expect("a module with a lab type names it");
    for (name, prop) in props {
        let opt = spec.option(name).unwrap();
        assert!(
            lab.description(name, &options).is_some(),
            "{}.{name}: the lab field has no doc comment to describe the option",
            spec.module
        );
        assert_eq!(
            json_type(prop, root),
            expected_json_type(opt.ty),
            "{}.{name}: type",
            spec.module
        );
        if let Type::List(elem) = opt.ty {
            let items = &prop["items"];
            let want = expected_json_type(Type::Scalar(elem));
            assert_eq!(
                json_type(items, root),
                want,
                "{}.{name}: elements",
                spec.module
            );
        }
        let lab_required = required.contains(&name.as_str());
        let conditionally = spec.required_if.iter().any(|r| {
            r.key == "state" && r.value == "present" && r.requirements.contains(&name.as_str())
        }) || spec
            .required_one_of
            .iter()
            .any(|g| g.contains(&name.as_str()));
        if lab_required {
            assert!(
                opt.required || conditionally,
                "{}.{name}: lab requires it, the module does not",
                spec.module
            );
        } else {
            assert!(
                !opt.required,
                "{}.{name}: the module requires what lab does not",
                spec.module
            );
        }
        if let Some(default) = prop.get("default").filter(|d| !d.is_null()) {
            assert_eq!(
                opt.default.as_ref(),
                Some(default),
                "{}.{name}: default",
                spec.module
            );
        }
    }
    for name in module_only {
        assert!(spec.option(name).is_some(), "{}: {name}", spec.module);
    }
}

#[test]
fn traefik_route_options_are_the_route_fields() {
    assert_matches(
        &traefik_route::spec(),
        &traefik_route::documentation(),
        &schema::<TraefikRoute>(),
        &["state", "create_dir"],
    );
}

#[test]
fn prometheus_target_options_are_the_target_fields() {
    assert_matches(
        &prometheus_target::spec(),
        &prometheus_target::documentation(),
        &schema::<PrometheusTarget>(),
        &["state", "create_dir"],
    );
}

#[test]
fn health_check_options_are_the_check_fields() {
    let spec = health_check::spec();
    assert_matches(
        &spec,
        &health_check::documentation(),
        &schema::<HealthCheck>(),
        &[],
    );
    let no_log: Vec<&str> = spec
        .options
        .iter()
        .filter(|o| o.no_log)
        .map(|o| o.name)
        .collect();
    assert_eq!(no_log, ["url_password"]);
}

#[test]
fn compose_stack_options_are_the_stack_fields() {
    let spec = compose_stack::spec();
    assert_matches(
        &spec,
        &compose_stack::documentation(),
        &schema::<ComposeStack>(),
        &["definition", "state"],
    );
    let no_log: Vec<&str> = spec
        .options
        .iter()
        .filter(|o| o.no_log)
        .map(|o| o.name)
        .collect();
    assert_eq!(no_log, ["env", "files"]);
}

#[test]
fn docker_logging_options_are_the_settings_fields() {
    assert_matches(
        &docker_logging::spec(),
        &docker_logging::documentation(),
        &schema::<DockerLogging>(),
        &[],
    );
}

#[test]
fn netbird_enroll_speaks_of_the_agent_as_the_peer_resource_does() {
    // No lab type holds these options (the capability is the agent, lab::netbird::agent);
    // the ones homelab_netbird_peer has too carry its names.
    let spec = netbird_enroll::spec();
    let names: Vec<&str> = spec.options.iter().map(|o| o.name).collect();
    assert_eq!(names, ["management_url", "setup_key", "hostname", "state"]);
    let peer = schema::<lab::netbird::peer::Peer>();
    for shared in ["management_url", "setup_key"] {
        assert!(peer["properties"].get(shared).is_some(), "{shared}");
    }
    let no_log: Vec<&str> = spec
        .options
        .iter()
        .filter(|o| o.no_log)
        .map(|o| o.name)
        .collect();
    assert_eq!(no_log, ["setup_key"]);
}

#[test]
fn backup_job_options_are_the_job_fields() {
    let spec = backup_job::spec();
    assert_matches(
        &spec,
        &backup_job::documentation(),
        &schema::<BackupJob>(),
        &["state"],
    );
    let no_log: Vec<&str> = spec
        .options
        .iter()
        .filter(|o| o.no_log)
        .map(|o| o.name)
        .collect();
    assert_eq!(no_log, ["password", "env", "heartbeat_url"]);
}
