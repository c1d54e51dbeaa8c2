//! Unit tests of `args`.

use super::*;
use serde_json::json;

fn spec() -> Spec {
    Spec::new(
        "demo",
        vec![
            Opt::new("name", Type::STR).required(),
            Opt::new("retries", Type::INT).default(json!(0)),
            Opt::new("delay", Type::FLOAT).default(json!(1.0)),
            Opt::new("enabled", Type::BOOL).default(json!(true)),
            Opt::new("state", Type::STR)
                .choices(&["present", "absent"])
                .default(json!("present")),
            Opt::new("targets", Type::List(Scalar::Str)),
            Opt::new("codes", Type::List(Scalar::Int)),
            Opt::new("labels", Type::Dict(Scalar::Str)).default(json!({})),
            Opt::new("dir", Type::PATH),
            Opt::new("url", Type::STR),
            Opt::new("tcp", Type::STR),
            Opt::new("password", Type::STR).no_log(),
        ],
    )
    .mutually_exclusive(&["url", "tcp"])
    .required_one_of(&["url", "tcp"])
    .required_if("state", "present", &["targets"])
}

fn run(v: Value) -> Result<Params, String> {
    check(&spec(), v.as_object().unwrap()).params
}

fn ok(v: Value) -> Params {
    run(v).unwrap()
}

#[test]
fn applies_defaults_and_marks_what_was_supplied() {
    let p = ok(json!({"name": "x", "url": "u", "targets": ["a"]}));
    assert_eq!(p.get("retries"), &json!(0));
    assert_eq!(p.get("delay"), &json!(1.0));
    assert_eq!(p.get("state"), &json!("present"));
    assert_eq!(p.get("labels"), &json!({}));
    assert_eq!(p.get("dir"), &Value::Null);
    assert!(p.supplied("name") && !p.supplied("retries"));
    assert_eq!(
        p.object(&["name", "dir", "retries"]),
        json!({"name": "x", "retries": 0})
    );
}

#[test]
fn null_is_not_given() {
    let p = ok(json!({"name": "x", "url": "u", "targets": ["a"], "retries": null}));
    assert_eq!(p.get("retries"), &json!(0));
    assert_eq!(
        run(json!({"name": null, "url": "u", "targets": ["a"]})).unwrap_err(),
        "missing required arguments: name"
    );
}

#[test]
fn coerces_like_ansible() {
    let p = ok(json!({
        "name": "x", "url": "u", "targets": "a,b", "retries": " 3 ", "delay": "2.5",
        "enabled": "no", "codes": ["200", 204, 301.0], "labels": "env=lab, role=nas",
    }));
    assert_eq!(p.get("targets"), &json!(["a", "b"]));
    assert_eq!(p.get("retries"), &json!(3));
    assert_eq!(p.get("delay"), &json!(2.5));
    assert_eq!(p.get("enabled"), &json!(false));
    assert_eq!(p.get("codes"), &json!([200, 204, 301]));
    assert_eq!(p.get("labels"), &json!({"env": "lab", "role": "nas"}));
    for (given, want) in [
        ("yes", true),
        ("True", true),
        ("on", true),
        ("1", true),
        ("off", false),
        ("F", false),
    ] {
        let p = ok(json!({"name": "x", "url": "u", "targets": ["a"], "enabled": given}));
        assert_eq!(p.bool("enabled"), want, "{given}");
    }
    let p = ok(json!({"name": "x", "url": "u", "targets": ["a"], "labels": {"n": 3, "b": true}}));
    assert_eq!(p.get("labels"), &json!({"n": "3", "b": "True"}));
    let p = ok(json!({"name": "x", "url": "u", "targets": ["a"], "labels": "{\"a\": \"b\"}"}));
    assert_eq!(p.get("labels"), &json!({"a": "b"}));
}

#[test]
fn a_number_in_a_string_option_is_converted_with_a_warning() {
    let c = check(
        &spec(),
        json!({"name": 1.10, "url": "u", "targets": ["a"]})
            .as_object()
            .unwrap(),
    );
    assert_eq!(c.params.unwrap().get("name"), &json!("1.1"));
    assert_eq!(c.warnings.len(), 1);
    assert!(
        c.warnings[0]
            .starts_with("The value 1.1 (type float) in a string field was converted to '1.1'"),
        "{}",
        c.warnings[0]
    );
}

#[test]
fn conversion_failures_name_the_option_and_type() {
    assert_eq!(
        run(json!({"name": "x", "url": "u", "targets": ["a"], "retries": "many"})).unwrap_err(),
        "argument 'retries' is of type str and we were unable to convert to int: \"many\" is not a whole number"
    );
    assert!(run(json!({"name": "x", "url": "u", "targets": ["a"], "retries": 1.5}))
        .unwrap_err()
        .starts_with("argument 'retries' is of type float and we were unable to convert to int: cannot convert 1.5"));
    assert!(run(json!({"name": "x", "url": "u", "targets": ["a"], "enabled": "maybe"}))
        .unwrap_err()
        .starts_with("argument 'enabled' is of type str and we were unable to convert to bool: The value 'maybe' is not a valid boolean. Valid booleans include: 'y', 'yes'"));
    assert_eq!(
        run(json!({"name": "x", "url": "u", "targets": ["a"], "codes": ["ok"]})).unwrap_err(),
        "Elements value for option 'codes' is of type str and we were unable to convert to int: \"ok\" is not a whole number"
    );
    assert!(run(json!({"name": ["x"], "url": "u", "targets": ["a"]}))
        .unwrap_err()
        .starts_with("argument 'name' is of type list and we were unable to convert to str"));
    assert!(run(json!({"name": "x", "url": "u", "targets": {"a": 1}}))
        .unwrap_err()
        .starts_with("argument 'targets' is of type dict and we were unable to convert to list"));
    assert!(run(json!({"name": "x", "url": "u", "targets": ["a"], "labels": "novalue"}))
        .unwrap_err()
        .starts_with("argument 'labels' is of type str and we were unable to convert to dict: \"novalue\" is not key=value"));
}

#[test]
fn unsupported_options_are_named_alone_with_the_supported_ones() {
    assert_eq!(
        run(json!({"name": "x", "foo": 1, "bar": 2, "retries": "many"})).unwrap_err(),
        "Unsupported parameters for (tabiri.homelab.demo) module: bar, foo. Supported \
         parameters include: codes, delay, dir, enabled, labels, name, password, retries, \
         state, targets, tcp, url."
    );
}

#[test]
fn group_rules_and_choices_are_all_reported() {
    assert_eq!(
        run(json!({"url": "u", "tcp": "t", "state": "gone"})).unwrap_err(),
        "parameters are mutually exclusive: url|tcp; missing required arguments: name; \
         value of state must be one of: present, absent, got: gone"
    );
    assert_eq!(
        run(json!({"name": "x"})).unwrap_err(),
        "one of the following is required: url, tcp; state is present but all of the \
         following are missing: targets"
    );
    ok(json!({"name": "x", "tcp": "t", "state": "absent"}));
}

#[test]
fn no_log_values_are_collected_as_strings() {
    let user = json!({"name": "x", "password": "hunter2"});
    assert_eq!(
        no_log_values(&spec(), user.as_object().unwrap()),
        vec!["hunter2"]
    );
    let user = json!({"password": 1234});
    assert_eq!(
        no_log_values(&spec(), user.as_object().unwrap()),
        vec!["1234"]
    );
    let user = json!({"password": ""});
    assert!(no_log_values(&spec(), user.as_object().unwrap()).is_empty());
}

#[test]
fn paths_expand_home_and_variables() {
    std::env::set_var("TABIRI_TEST_DIR", "/srv/lab");
    let home = std::env::var("HOME").unwrap();
    assert_eq!(expand_path("~/x"), format!("{home}/x"));
    assert_eq!(expand_path("$TABIRI_TEST_DIR/a"), "/srv/lab/a");
    assert_eq!(expand_path("${TABIRI_TEST_DIR}b"), "/srv/labb");
    assert_eq!(
        expand_path("/a/$TABIRI_UNSET_VAR/b"),
        "/a/$TABIRI_UNSET_VAR/b"
    );
    assert_eq!(expand_path("/a/${unclosed"), "/a/${unclosed");
    assert_eq!(expand_path("~other/x"), "~other/x");
    let p = ok(json!({"name": "x", "url": "u", "targets": ["a"], "dir": "$TABIRI_TEST_DIR"}));
    assert_eq!(p.str("dir"), Some("/srv/lab"));
}
