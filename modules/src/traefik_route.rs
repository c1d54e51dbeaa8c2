//! `tabiri.homelab.traefik_route`: a Traefik route file, the same capability (and the
//! same bytes on disk) as the Terraform resource `homelab_traefik_route`.
//!
//! Options are the fields of [`lab::traefik::TraefikRoute`] plus `state` and
//! `create_dir`. Only files carrying our ownership header are overwritten or deleted
//! ([`Ownership::RequireMark`]). With `traefik_api_url`, a run that is not in check
//! mode waits (30 s at most) until Traefik serves the route as written, or no longer
//! lists it for `state: absent`: every run, so a route Traefik rejected keeps failing
//! until it is fixed. The wait speaks plain http only (`lab::http::Client::plain`), which
//! keeps rustls and ring, about 1.2 MB, out of this binary; an `https` API URL is refused
//! before anything is written. Returns `path` and `action` (`create`, `update`,
//! `delete`, `none`).

use std::path::Path;
use std::time::Duration;

use lab::traefik::{self as route, Ownership, TraefikRoute, HEADER_PREFIX};
use lab::validation::Validate;
use serde_json::{json, Map};

use crate::args::{Opt, Scalar, Spec, Type};
use crate::common;
use crate::docs::{Attribute, Documentation, LabFields, Return, SeeAlso, Support};
use crate::fragments;
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
            Opt::new("config_dir", Type::PATH).required().description(&["With O(create_dir=true) the module creates it instead."]),
            Opt::new("rule", Type::STR),
            Opt::new("entrypoints", Type::List(Scalar::Str))
                .default(json!([])),
            Opt::new("servers", Type::List(Scalar::Str)),
            Opt::new("middlewares", Type::List(Scalar::Str))
                .default(json!([])),
            Opt::new("priority", Type::INT),
            Opt::new("pass_host_header", Type::BOOL)
                .default(json!(true)),
            Opt::new("tls_cert_resolver", Type::STR),
            Opt::new("traefik_api_url", Type::STR).description(&["The module waits after every run that is not in check mode; for O(state=absent), until the router is gone."]),
            fragments::owned_file_state("route file", ["name", "config_dir"]),
            fragments::create_dir("config_dir"),
        ],
    )
    .required_if("state", "present", &["rule", "servers"])
}

pub fn documentation() -> Documentation {
    Documentation {
        lab_fields: Some(LabFields::of::<TraefikRoute>()),
        short_description: "Manage a Traefik route file in a file-provider directory",
        description: &[
            "Writes one Traefik HTTP route, a router and the load-balanced service it sends \
             requests to, as C(<name>.toml) into the directory watched by Traefik's file \
             provider (C(providers.file.directory)).",
            "Writes are atomic (a temporary file renamed in the same directory), so Traefik never \
             reads a half-written file, even when the directory is bind-mounted into a container.",
            "Files this module writes start with a C(# Managed by Tabiri Homelab) header line. A \
             file without it was written by someone else and is never overwritten or deleted; \
             the task fails instead.",
            "The rule is parsed before anything is written, so a typo fails the task instead of \
             the route.",
            "The same Rust code backs the Terraform resource C(homelab_traefik_route) of the \
             C(tabiri/homelab) provider.",
        ],
        version_added: "0.1.0",
        notes: &[],
        seealso: &[
            SeeAlso::Link {
                name: "Traefik file provider",
                description: "How Traefik reads dynamic configuration from a directory.",
                link: "https://doc.traefik.io/traefik/providers/file/",
            },
            SeeAlso::Link {
                name: "Traefik router rules",
                description: "The rule syntax O(rule) accepts.",
                link: "https://doc.traefik.io/traefik/routing/routers/#rule",
            },
        ],
        check_mode: Attribute {
            support: Support::Full,
            details: "Reports the change it would make, and fails as the real run would (bad \
                      rule, foreign file).",
        },
        diff_mode: Attribute {
            support: Support::Full,
            details: "The diff shows the route file before and after.",
        },
        examples: r#"- name: Route nextcloud.example.org to the Nextcloud container, with a Let's Encrypt certificate
  tabiri.homelab.traefik_route:
    name: nextcloud
    config_dir: /etc/traefik/dynamic
    rule: Host(`nextcloud.example.org`)
    entrypoints: [websecure]
    servers: [http://127.0.0.1:8081]
    middlewares: [secure-headers]
    tls_cert_resolver: letsencrypt

- name: Route an API path to two backends and wait until Traefik serves it
  tabiri.homelab.traefik_route:
    name: whoami-api
    config_dir: /etc/traefik/dynamic
    rule: Host(`whoami.lab.example`) && PathPrefix(`/api`)
    servers:
      - http://10.0.0.5:8080
      - http://10.0.0.6:8080
    priority: 100
    traefik_api_url: http://127.0.0.1:8080

- name: Remove a route
  tabiri.homelab.traefik_route:
    name: whoami-api
    config_dir: /etc/traefik/dynamic
    state: absent
"#,
        returns: vec![
            Return::new(
                "path",
                "str",
                "always",
                "Absolute path of the route file, C(<config_dir>/<name>.toml).",
            )
            .sample(json!("/etc/traefik/dynamic/nextcloud.toml")),
            fragments::file_action(),
            fragments::file_diff(
                "The route file before and after (the usual Ansible diff, shown with C(--diff)).",
            ),
        ],
    }
}

/// A file without our header in the way, worded for the task.
fn lab_failure(e: lab::Error) -> Failure {
    common::not_written_here(
        e,
        &format!("its first line is not the \"{HEADER_PREFIX}\" header"),
    )
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
    plan.check(Ownership::RequireMark).map_err(lab_failure)?;

    let shown = path.display().to_string();
    let diff = plan
        .changed()
        .then(|| Diff::file(&shown, plan.before.as_deref(), plan.after.as_deref()));
    let mut values = Map::new();
    values.insert("path".into(), shown.clone().into());
    values.insert("action".into(), plan.action.as_str().into());
    let summary = if present {
        common::summary(plan.action, &path, ctx.check_mode)
    } else {
        common::absent_summary(plan.action, &path, ctx.check_mode)
    };

    if !ctx.check_mode {
        if plan.changed() {
            if present && !dir_exists {
                lab::file_plan::ensure_dir(Path::new(&config_dir))?;
            }
            route::apply(&plan, Ownership::RequireMark).map_err(lab_failure)?;
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
