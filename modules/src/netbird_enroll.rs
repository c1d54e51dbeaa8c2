//! `tabiri.homelab.netbird_enroll`: the NetBird agent on the target host enrolled with a
//! management service ([`lab::netbird::agent`]), idempotently.
//!
//! The agent's own `netbird status --json` decides: connected to `management_url`
//! already is unchanged; anything else enrols (after `netbird down` when connected
//! elsewhere, since `up` ignores a new URL then). The setup key goes to the agent in its
//! environment (`NB_SETUP_KEY`), never on a command line.

use lab::host::Local;
use lab::netbird::agent::{self, Enrolment, Status};
use lab::netbird::NetbirdError;
use lab::secret::Secret;
use serde_json::{json, Map};

use crate::args::{Opt, Spec, Type};
use crate::docs::{Attribute, Documentation, Return, SeeAlso, Support};
use crate::fragments;
use crate::runtime::{Ctx, Failure, Module, Outcome};

pub const MODULE: Module = Module { spec, run };

pub fn spec() -> Spec {
    Spec::new(
        "netbird_enroll",
        vec![
            Opt::new("management_url", Type::STR).description(&[
                "The management service the agent connects to, for example \
                 V(https://api.netbird.io) or V(https://netbird.lab:443). Required with \
                 O(state=present).",
            ]),
            Opt::new("setup_key", Type::STR).no_log().description(&[
                "The setup key to enrol with. Needed only when the agent is not connected to \
                 O(management_url) yet.",
                "Passed to the agent in its environment, never on a command line; never logged \
                 or returned.",
            ]),
            Opt::new("hostname", Type::STR).description(&[
                "The hostname the peer reports (and its DNS label starts from). Defaults to the \
                 host's own.",
            ]),
            fragments::state(&[
                "V(present): connected to O(management_url). V(absent): down and logged \
                 out, holding no identity (delete the peer in the API as well).",
            ]),
        ],
    )
    .required_if_any("state", "present", &["management_url"])
}

pub fn documentation() -> Documentation {
    Documentation {
        lab_fields: None,
        short_description: "Enrol the target host's NetBird agent, once",
        description: &[
            "Reads the agent's own C(netbird status --json) and enrols only when the agent is \
             not connected to O(management_url); a second run changes nothing.",
            "An agent connected to another management service is taken down first, because \
             C(netbird up) on a connected agent answers C(Already connected) and ignores new \
             flags.",
        ],
        version_added: "0.1.0",
        notes: &[
            "Needs the NetBird agent (C(netbird)) installed on the target host, with its \
             daemon running.",
            "To enrol from Terraform instead, use the C(homelab_netbird_peer) resource, which \
             also names the peer and sets its groups.",
        ],
        seealso: &[SeeAlso::Link {
            name: "NetBird CLI",
            description: "The agent's commands.",
            link: "https://docs.netbird.io/how-to/cli",
        }],
        check_mode: Attribute {
            support: Support::Full,
            details: "Reads the agent's status and reports whether a run would enrol or leave.",
        },
        diff_mode: Attribute {
            support: Support::None,
            details: "Nothing is written that a diff could show.",
        },
        examples: r#"- name: Join the lab's mesh
  tabiri.homelab.netbird_enroll:
    management_url: https://netbird.lab:443
    setup_key: "{{ vault_netbird_setup_key }}"

- name: Leave the mesh
  tabiri.homelab.netbird_enroll:
    management_url: https://netbird.lab:443
    state: absent
"#,
        returns: vec![
            Return::new(
                "ip",
                "str",
                "always",
                "The peer's mesh IP (empty when not enrolled).",
            )
            .sample(json!("100.90.12.7")),
            Return::new(
                "fqdn",
                "str",
                "always",
                "The peer's DNS name in the mesh (empty when not enrolled).",
            )
            .sample(json!("nextcloud.netbird.selfhosted")),
            Return::new(
                "daemon_status",
                "str",
                "always",
                "What the agent says it is: C(Connected), C(Idle), C(NeedsLogin), ...",
            )
            .sample(json!("Connected")),
        ],
    }
}

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    futures_executor::block_on(future)
}

fn failure(e: NetbirdError) -> Failure {
    Failure::new(e.to_string())
}

fn outcome(changed: bool, msg: String, status: &Status) -> Outcome {
    let mut values = Map::new();
    values.insert("ip".into(), json!(status.ip));
    values.insert("fqdn".into(), json!(status.fqdn));
    values.insert("daemon_status".into(), json!(status.daemon_status));
    Outcome {
        changed,
        msg,
        diff: None,
        values,
    }
}

pub fn run(ctx: &mut Ctx) -> Result<Outcome, Failure> {
    let url = ctx
        .params
        .str("management_url")
        .unwrap_or_default()
        .to_owned();
    let state = ctx.params.str("state").unwrap_or("present").to_owned();
    let key = ctx.params.str("setup_key").map(Secret::new);
    if let Some(key) = &key {
        ctx.add_secret(key.expose().to_string());
    }
    let hostname = ctx.params.str("hostname").map(str::to_owned);
    let host = Local;
    let now = block_on(agent::status(&host)).map_err(failure)?;
    if state == "absent" {
        if now.daemon_status == "NeedsLogin" {
            return Ok(outcome(false, "the agent holds no identity".into(), &now));
        }
        if ctx.check_mode {
            return Ok(outcome(
                true,
                format!("would take the {} off the mesh", now.summary()),
                &now,
            ));
        }
        block_on(agent::leave(&host)).map_err(failure)?;
        let after = block_on(agent::status(&host)).map_err(failure)?;
        return Ok(outcome(
            true,
            format!("left the mesh (was {})", now.summary()),
            &after,
        ));
    }
    if now.connected_to(&url) {
        return Ok(outcome(false, format!("connected to {url}"), &now));
    }
    if ctx.check_mode {
        return Ok(outcome(
            true,
            format!("would enrol with {url} ({} now)", now.summary()),
            &now,
        ));
    }
    let Some(key) = key else {
        // Without a key the agent may still log in again with the identity it holds.
        return match block_on(agent::enrol(&host, &url, None, hostname.as_deref())) {
            Ok(done) => Ok(outcome(true, format!("reconnected to {url}"), done.status())),
            Err(e) => Err(Failure::new(format!(
                "the agent is not connected to {url} ({}) and no setup_key was given to enrol it: {e}",
                now.summary()
            ))),
        };
    };
    let done =
        block_on(agent::enrol(&host, &url, Some(&key), hostname.as_deref())).map_err(failure)?;
    let changed = matches!(done, Enrolment::Enrolled(_));
    Ok(outcome(
        changed,
        format!("enrolled with {url} ({} before)", now.summary()),
        done.status(),
    ))
}
