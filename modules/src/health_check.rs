//! `tabiri.homelab.health_check`: wait for a service to answer, over HTTP(S) (`url`) or
//! TCP (`tcp`), with retries ([`lab::health_check`]).
//!
//! Read-only: `changed` is always false, and it runs in check mode too. Fails when the
//! service is not healthy after `retries + 1` attempts, with the last status and a body
//! excerpt (or the connection error) and the number of attempts. Returns `status` (the
//! last HTTP status; absent for TCP and when nothing answered), `attempts` and `elapsed`
//! (seconds), on failure too. `url_password` is `no_log`.

use lab::health_check::{self as check, HealthCheck};
use lab::validation::Validate;
use serde_json::{json, Map};

use crate::args::{Opt, Scalar, Spec, Type};
use crate::docs::{Attribute, Documentation, LabFields, Return, SeeAlso, Support};
use crate::runtime::{Ctx, Failure, Module, Outcome};

const CHECK_FIELDS: &[&str] = &[
    "url",
    "tcp",
    "ca_file",
    "validate_certs",
    "headers",
    "url_username",
    "url_password",
    "expect_status",
    "expect_body",
    "retries",
    "delay",
    "timeout",
];

/// Options that only mean something for `url`.
const HTTP_ONLY: &[&str] = &[
    "ca_file",
    "validate_certs",
    "headers",
    "url_username",
    "url_password",
    "expect_status",
    "expect_body",
];

pub const MODULE: Module = Module { spec, run };

pub fn spec() -> Spec {
    Spec::new(
        "health_check",
        vec![
            Opt::new("url", Type::STR),
            Opt::new("tcp", Type::STR)
                .description(&["An IPv6 address goes in brackets, for example V([::1]:5432)."]),
            Opt::new("ca_file", Type::PATH),
            Opt::new("validate_certs", Type::BOOL)
                .default(json!(true))
                .description(&["The check covers the certificate chain and the host name."]),
            Opt::new("headers", Type::Dict(Scalar::Str)).default(json!({})),
            Opt::new("url_username", Type::STR),
            Opt::new("url_password", Type::STR).no_log(),
            Opt::new("expect_status", Type::List(Scalar::Int)).default(json!([200])),
            Opt::new("expect_body", Type::STR),
            Opt::new("retries", Type::INT).default(json!(0)),
            Opt::new("delay", Type::FLOAT).default(json!(1.0)),
            Opt::new("timeout", Type::FLOAT).default(json!(10.0)),
        ],
    )
    .mutually_exclusive(&["url", "tcp"])
    .required_one_of(&["url", "tcp"])
}

pub fn documentation() -> Documentation {
    Documentation {
        lab_fields: Some(LabFields::of::<HealthCheck>()),
        short_description: "Check that an HTTP(S) endpoint or a TCP port answers, from the target \
                            host",
        description: &[
            "Probes an HTTP or HTTPS O(url), or opens a TCP connection to O(tcp), from the \
             target host, and fails the task unless it answers as expected. Retries on failure \
             when O(retries) is set.",
            "Never changes anything; it reports C(changed=false) and runs in check mode too.",
        ],
        version_added: "0.1.0",
        notes: &[
            "The probe runs on the target host. To probe from the controller, use \
             C(delegate_to=localhost) or C(connection=local).",
        ],
        seealso: &[
            SeeAlso::Module("ansible.builtin.uri"),
            SeeAlso::Module("ansible.builtin.wait_for"),
        ],
        check_mode: Attribute {
            support: Support::Full,
            details: "The check only reads, so it runs in check mode as in a normal run.",
        },
        diff_mode: Attribute {
            support: Support::NotApplicable,
            details: "Never changes anything, so there is nothing to diff.",
        },
        examples: r#"- name: Wait until Nextcloud answers through Traefik
  tabiri.homelab.health_check:
    url: https://nextcloud.example.org/status.php
    expect_body: '"installed":true'
    retries: 30
    delay: 2

- name: Check the API of a service behind basic auth, with a private CA
  tabiri.homelab.health_check:
    url: https://grafana.lab.internal/api/health
    ca_file: /etc/ssl/lab-ca.pem
    url_username: monitor
    url_password: "{{ vault_monitor_password }}"
    expect_status: [200, 204]

- name: Check that PostgreSQL accepts connections
  tabiri.homelab.health_check:
    tcp: 127.0.0.1:5432
    timeout: 3
"#,
        returns: vec![
            Return::new(
                "status",
                "int",
                "when O(url) is set and a response came",
                "HTTP status code of the last response. Absent for O(tcp) checks \
                 and when no response came.",
            )
            .sample(json!(200)),
            Return::new(
                "attempts",
                "int",
                "always",
                "How many probes ran, 1 plus the retries used.",
            )
            .sample(json!(1)),
            Return::new(
                "elapsed",
                "float",
                "always",
                "Seconds from the first probe to the end, all retries and delays \
                 included.",
            )
            .sample(json!(0.042)),
        ],
    }
}

pub fn run(ctx: &mut Ctx) -> Result<Outcome, Failure> {
    let hc: HealthCheck = serde_json::from_value(ctx.params.object(CHECK_FIELDS))
        .map_err(|e| Failure::new(format!("cannot read the check options: {e}")))?;
    let errors = hc.validate();
    if !errors.is_empty() {
        return Err(lab::Error::Invalid {
            what: "health check".into(),
            errors,
        }
        .into());
    }
    if hc.tcp.is_some() {
        let ignored: Vec<&str> = HTTP_ONLY
            .iter()
            .copied()
            .filter(|o| ctx.params.supplied(o))
            .collect();
        if !ignored.is_empty() {
            ctx.warn(format!(
                "{} only apply to url checks and were ignored for tcp",
                ignored.join(", ")
            ));
        }
    }
    let report = check::run(&hc)?;
    let mut values = Map::new();
    if let Some(status) = report.status {
        values.insert("status".into(), status.into());
    }
    values.insert("attempts".into(), report.attempts.into());
    let elapsed = (report.elapsed.as_secs_f64() * 1000.0).round() / 1000.0;
    values.insert("elapsed".into(), json!(elapsed));
    let msg = report.message(&hc);
    if report.healthy {
        Ok(Outcome {
            changed: false,
            msg,
            diff: None,
            values,
        })
    } else {
        Err(Failure {
            msg,
            values,
            ..Failure::default()
        })
    }
}
