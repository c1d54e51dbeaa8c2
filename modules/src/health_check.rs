//! `tabiri.homelab.health_check`: wait for a service to answer, over HTTP(S) (`url`) or
//! TCP (`tcp`), with retries ([`lab::health_check`]).
//!
//! Read-only: `changed` is always false, and it runs in check mode too. Fails when the
//! service is not healthy after `retries + 1` attempts, with the last status and a body
//! excerpt (or the connection error) and the number of attempts. Returns `status` (the
//! last HTTP status; absent for TCP and when nothing answered), `attempts` and `elapsed`
//! (seconds), on failure too. `url_password` is `no_log`.

use lab::health_check::{self as check, HealthCheck};
use serde_json::{json, Map};

use crate::args::{Opt, Scalar, Spec, Type};
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
            Opt::new("tcp", Type::STR),
            Opt::new("ca_file", Type::PATH),
            Opt::new("validate_certs", Type::BOOL).default(json!(true)),
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
