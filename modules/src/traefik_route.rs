//! `tabiri.homelab.traefik_route`: a Traefik route file, the same capability (and the
//! same bytes on disk) as the Terraform resource `homelab_traefik_route`.
//!
//! Options are the fields of [`lab::traefik_route::TraefikRoute`] plus `state` and
//! `create_dir`. Only files carrying our ownership header are overwritten or deleted
//! ([`Ownership::RequireHeader`]). With `traefik_api_url`, a run that is not in check
//! mode waits (30 s at most) until Traefik serves the route as written, or no longer
//! lists it for `state: absent`: every run, so a route Traefik rejected keeps failing
//! until it is fixed. The wait speaks plain http only (`lab::http::Client::plain`), which
//! keeps rustls and ring, about 1.2 MB, out of this binary; an `https` API URL is refused
//! before anything is written. Returns `path` and `action` (`create`, `update`,
//! `delete`, `none`).

use std::path::Path;
use std::time::Duration;

use lab::file_plan::Action as FileAction;
use lab::traefik_route::{self as route, Action, Ownership, TraefikRoute, HEADER_PREFIX};
use serde_json::{json, Map};

use crate::args::{Opt, Scalar, Spec, Type};
use crate::common;
use crate::runtime::{Ctx, Diff, Failure, Module, Outcome};
use lab::deadline::Deadline;

/// How long a run waits for Traefik, as the Terraform resource does.
const ROUTED_TIMEOUT: Duration = Duration::from_secs(30);

/// The deadline of the wait `traefik_api_url` asks for.
fn routed_deadline() -> Deadline {
    Deadline::after(ROUTED_TIMEOUT, "the traefik_api_url wait")
}

/// The options that are [`TraefikRoute`]'s fields.
const ROUTE_FIELDS: &[&str] = &[
    "name",
    "config_dir",
    "rule",
    "entrypoints",
    "servers",
    "middlewares",
    "priority",
    "pass_host_header",
    "tls_cert_resolver",
    "traefik_api_url",
];

pub const MODULE: Module = Module { spec, run };

pub fn spec() -> Spec {
    Spec::new(
        "traefik_route",
        vec![
            Opt::new("name", Type::STR).required(),
            Opt::new("config_dir", Type::PATH).required(),
            Opt::new("rule", Type::STR),
            Opt::new("entrypoints", Type::List(Scalar::Str)).default(json!([])),
            Opt::new("servers", Type::List(Scalar::Str)),
            Opt::new("middlewares", Type::List(Scalar::Str)).default(json!([])),
            Opt::new("priority", Type::INT),
            Opt::new("pass_host_header", Type::BOOL).default(json!(true)),
            Opt::new("tls_cert_resolver", Type::STR),
            Opt::new("traefik_api_url", Type::STR),
            Opt::new("state", Type::STR)
                .choices(&["present", "absent"])
                .default(json!("present")),
            Opt::new("create_dir", Type::BOOL).default(json!(false)),
        ],
    )
    .required_if("state", "present", &["rule", "servers"])
}

fn lab_failure(e: lab::Error) -> Failure {
    match e {
        lab::Error::NotManaged {
            path, operation, ..
        } => Failure::new(format!(
            "{} exists and was not written by Tabiri Homelab (its first line is not the \
             \"{HEADER_PREFIX}\" header), so it was left alone; move it away or delete it \
             if this route should {}",
            path.display(),
            match operation {
                lab::error::FileOperation::Write => "replace it",
                lab::error::FileOperation::Delete => "be removed",
            }
        )),
        other => other.into(),
    }
}

fn file_action(a: Action) -> FileAction {
    match a {
        Action::None => FileAction::None,
        Action::Create => FileAction::Create,
        Action::Update => FileAction::Update,
        Action::Delete => FileAction::Delete,
    }
}

pub fn run(ctx: &mut Ctx) -> Result<Outcome, Failure> {
    let p = &ctx.params;
    let present = p.str("state") == Some("present");
    let name = p.str("name").unwrap_or_default().to_owned();
    let config_dir = p.str("config_dir").unwrap_or_default().to_owned();
    let api_url = p.str("traefik_api_url").map(str::to_owned);
    let create_dir = p.bool("create_dir");
    if let Some(pw) = api_url.as_deref().and_then(common::url_password) {
        let pw = pw.to_owned();
        ctx.add_secret(pw);
    }

    if let Some(api) = api_url.as_deref() {
        if api
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
        {
            return Err(Failure::new(format!(
                "traefik_api_url: this module reaches Traefik's API over plain http only (it \
                 keeps the module binary small, and the API belongs on a loopback entry point \
                 such as http://127.0.0.1:8080), got {api:?}"
            )));
        }
    }

    let desired = if present {
        let route: TraefikRoute = serde_json::from_value(ctx.params.object(ROUTE_FIELDS))
            .map_err(|e| Failure::new(format!("cannot read the route options: {e}")))?;
        route.check()?;
        Some(route)
    } else {
        common::invalid(
            format!("traefik route {name:?}"),
            route::validate_location(&name, &config_dir),
        )?;
        None
    };

    let dir_exists = common::check_dir("config_dir", &config_dir, present, create_dir)?;
    let path = route::route_file_path(&config_dir, &name);
    let actual = if dir_exists {
        route::read_route_file(&path)?
    } else {
        None
    };
    let plan = route::plan(&path, desired.as_ref(), actual.as_ref());
    plan.check(Ownership::RequireHeader).map_err(lab_failure)?;

    let shown = path.display().to_string();
    let diff = plan
        .changed()
        .then(|| Diff::file(&shown, plan.before.as_deref(), plan.after.as_deref()));
    let mut values = Map::new();
    values.insert("path".into(), shown.clone().into());
    values.insert("action".into(), plan.action.as_str().into());
    let summary = if present {
        common::summary(file_action(plan.action), Path::new(&path), ctx.check_mode)
    } else {
        common::absent_summary(file_action(plan.action), Path::new(&path), ctx.check_mode)
    };

    if !ctx.check_mode {
        if plan.changed() {
            if present && !dir_exists {
                lab::file_plan::ensure_dir(Path::new(&config_dir))?;
            }
            route::apply(&plan, Ownership::RequireHeader).map_err(lab_failure)?;
        }
        if let Some(api) = &api_url {
            let client = lab::http::Client::plain();
            let waited = match &desired {
                Some(route) => {
                    route::wait_until_routed_blocking(&client, api, route, &routed_deadline())
                }
                None => {
                    route::wait_until_unrouted_blocking(&client, api, &name, &routed_deadline())
                }
            };
            if let Err(e) = waited {
                return Err(Failure {
                    msg: format!("{summary}, but {e}"),
                    changed: plan.changed(),
                    diff: diff.map(Box::new),
                    values,
                });
            }
        }
    }

    let msg = match (&api_url, ctx.check_mode, present) {
        (Some(_), false, true) => format!("{summary}; Traefik serves route {name}"),
        (Some(_), false, false) => format!("{summary}; Traefik no longer lists route {name}"),
        _ => summary,
    };
    Ok(Outcome {
        changed: plan.changed(),
        msg,
        diff,
        values,
    })
}
