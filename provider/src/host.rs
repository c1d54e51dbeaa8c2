//! The `host { }` block of every on-host resource (Traefik routes, Prometheus targets, and
//! what follows them): which machine the resource acts on, merged with the provider's
//! `ssh { }` defaults into a `lab::host::Host`. No block means the machine Terraform runs on.
//!
//! The key a host presented is recorded in the computed `host_public_key`; with
//! `trust_on_first_use` that recorded key is what every later connection must present.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use lab::host::ssh::SshHost;
use lab::host::target::{self, HostArgs, HostKeyCheck, SshTarget};
use lab::host::{Host, Local};
use lab::validation::{FieldError, PathSegment};
use tfplugin::cty::{Type, Value};
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::path::AttrPath;
use tfplugin::provider::PlanChange;
use tfplugin::schema::{Attribute, Block, NestedBlock};
use tfplugin::serde_bridge;

use crate::config::{ssh, ProviderState};
use crate::derive::{self, Annotations};

/// The block's name in a resource.
pub const BLOCK: &str = "host";
/// The computed attribute recording the host's SSH key.
pub const PUBLIC_KEY: &str = "host_public_key";
/// What an on-host resource's argument type does not hold: these two are Terraform's.
pub const ATTRIBUTES: &[&str] = &[BLOCK, PUBLIC_KEY];

fn host_block() -> &'static Block {
    static BLOCK_SCHEMA: OnceLock<Block> = OnceLock::new();
    BLOCK_SCHEMA.get_or_init(|| {
        let json_schema = serde_json::to_value(schemars::schema_for!(HostArgs))
            .expect("a JSON schema serialises");
        derive::block_from_json_schema(
            "The host to act on, over SSH; without this block, the machine Terraform runs \
             on. Unset values come from the provider's `ssh` block. The host key is always \
             verified: `host_key`, the provider's `ssh.known_hosts`, or `trust_on_first_use`. \
             Changing `address` or `port` replaces the resource (it then lives on another \
             machine). Prefer the provider's `ssh.private_key` (or the agent) to a \
             `private_key` here: Terraform 1.0.3's `terraform show` crashes on a state whose \
             nested block holds a sensitive value (plan and apply are not affected; 1.11's \
             `terraform show` is not affected either).",
            &json_schema,
            Annotations {
                sensitive: ssh::SENSITIVE,
                blocks: &["bastion"],
                ..Annotations::default()
            },
        )
    })
}

/// The `host` block, for a resource's schema.
pub fn block() -> NestedBlock {
    NestedBlock::single(BLOCK, host_block().clone())
}

/// The computed `host_public_key` attribute, for a resource's schema.
pub fn public_key_attribute() -> Attribute {
    Attribute::computed(PUBLIC_KEY, Type::String).description(
        "The SSH public key the host presented (null for the local machine). With \
         `trust_on_first_use`, later connections must present this same key.",
    )
}

fn host_value(value: &Value) -> Option<&Value> {
    value.get_attr(BLOCK).filter(|h| !h.is_null())
}

/// Errors from `HostArgs::validate`, whose paths start inside the block, at `host.<...>`.
fn report(summary: &str, errors: &[FieldError]) -> Diagnostics {
    let prefixed: Vec<FieldError> = errors
        .iter()
        .map(|e| {
            let mut path = vec![PathSegment::Field(BLOCK.into())];
            path.extend(e.path.iter().cloned());
            FieldError::new(path, e.message.clone())
        })
        .collect();
    derive::field_error_diagnostics(summary, &prefixed)
}

/// Checks a configuration's or plan's `host` block; values still unknown are checked later.
pub fn validate(value: &Value) -> Diagnostics {
    let Some(host) = host_value(value) else {
        return Diagnostics::new();
    };
    derive::validate_known::<HostArgs, _>(
        "Invalid host block",
        host,
        &host_block().value_type(),
        &[],
        |args| args.validate(&[]),
        report,
    )
}

/// The arguments of a known `host` block; `None` without one.
fn args(value: &Value) -> Result<Option<HostArgs>, Diagnostics> {
    let Some(host) = host_value(value) else {
        return Ok(None);
    };
    derive::args_from::<HostArgs>(host, &[])
        .map(Some)
        .map_err(|e| {
            Diagnostic::error("Invalid host block", e)
                .at(AttrPath::attr(BLOCK))
                .into()
        })
}

/// Where a host block points, for telling whether the resource moved machines.
fn location(value: &Value) -> Option<(Value, Value)> {
    let host = host_value(value)?;
    Some((
        host.get_attr("address").cloned().unwrap_or(Value::Null),
        host.get_attr("port").cloned().unwrap_or(Value::Null),
    ))
}

/// A key recorded in state (by an import, or by trust on first use) held to the host key
/// policy the configuration states, before the plan lets anything be written: a pinned
/// `host_key` must name it, and without a pin, trust on first use or the provider's
/// `ssh.known_hosts` must stand behind it. (Known hosts were checked when the key was read.)
pub fn check_recorded_key(state: &ProviderState, change: &PlanChange<'_>) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let (Some(recorded), Some(host)) = (
        change.prior.get_attr(PUBLIC_KEY).and_then(Value::as_str),
        host_value(change.config),
    ) else {
        return diags;
    };
    let recorded_fingerprint = target::pinned_fingerprint(recorded);
    match host.get_attr("host_key") {
        Some(Value::String(pinned)) => {
            if !target::recorded_key_matches(pinned, recorded) {
                diags.push(
                    Diagnostic::error(
                        "Host key mismatch",
                        format!(
                            "The host presented {recorded_fingerprint} when this resource was \
                             imported or last read (host_public_key), and host.host_key pins \
                             {}. Nothing has been written. If the address reaches the \
                             machine you meant and it was rebuilt, update host_key; otherwise \
                             check host.address.",
                            target::pinned_fingerprint(pinned)
                        ),
                    )
                    .at(AttrPath::attr(BLOCK).then_attr("host_key")),
                );
            }
        }
        Some(Value::Null) | None => {
            let tofu = host.get_attr("trust_on_first_use");
            // Unknown until apply: the connection then applies whichever policy it becomes.
            if tofu.is_some_and(|t| !t.is_known()) {
                return diags;
            }
            let tofu = tofu.and_then(Value::as_bool);
            if tofu != Some(true) && state.ssh.defaults().known_hosts.is_none() {
                diags.push(
                    Diagnostic::error(
                        "Unconfirmed host key",
                        format!(
                            "The host presented {recorded_fingerprint} (recorded in \
                             host_public_key, as an import records it), and the configuration \
                             confirms no key: pin it with host_key = \"{recorded}\" after \
                             checking it on the host (ssh-keygen -lf on its host key), list \
                             it in the provider's ssh.known_hosts file, or set \
                             trust_on_first_use = true. Nothing has been written."
                        ),
                    )
                    .at(AttrPath::attr(BLOCK)),
                );
            }
        }
        // Unknown until apply: checked by the connection itself then.
        Some(_) => {}
    }
    diags
}

/// The host's part of a plan: moving to another machine (`address`, `port`) replaces the
/// resource, and `host_public_key` is null for the local machine, unknown until a new
/// host has been connected to, and kept otherwise.
pub fn plan(change: &mut PlanChange<'_>) {
    let creating = change.prior.is_null();
    let before = location(change.prior);
    let after = location(&change.planned);
    let moved = !creating
        && match (&before, &after) {
            (None, None) => false,
            (Some((a1, p1)), Some((a2, p2))) => {
                !a2.is_known() || !p2.is_known() || !a1.sem_eq(a2) || !p1.sem_eq(p2)
            }
            _ => true,
        };
    if moved {
        change
            .requires_replace
            .push(AttrPath::attr(BLOCK).then_attr("address"));
    }
    let key = if after.is_none() {
        Value::Null
    } else if creating || moved {
        Value::unknown()
    } else {
        change
            .prior
            .get_attr(PUBLIC_KEY)
            .cloned()
            .unwrap_or(Value::Null)
    };
    change.planned.set_attr(PUBLIC_KEY, key);
}

/// `content_sha256` of a resource that is one whole file on a host: how a hand edit shows.
pub fn content_sha256_attribute() -> Attribute {
    Attribute::computed("content_sha256", Type::String).description(
        "SHA-256 of the file's bytes. A hand edit of the file changes it, so the next plan shows an update.",
    )
}

/// A resource's host, ready to act on.
#[derive(Clone)]
pub struct Connected {
    pub host: Arc<dyn Host>,
    ssh: Option<SshHost>,
}

impl Connected {
    /// What to record in `host_public_key`: the key the host presented, null when local.
    pub async fn public_key(&self) -> Result<Value, lab::Error> {
        match &self.ssh {
            None => Ok(Value::Null),
            Some(ssh) => Ok(Value::String(ssh.host_public_key().await?)),
        }
    }

    /// The file at `path` (`None`: no file) and the `host_public_key` to record: what a
    /// read or an import of an on-host resource needs, in one remote command.
    pub async fn read_file(&self, path: &Path) -> Result<(Option<Vec<u8>>, Value), lab::Error> {
        let bytes = self.host.read_file(path).await?;
        Ok((bytes, self.public_key().await?))
    }
}

/// The host a resource value (configuration, plan or state) names. Connecting happens on
/// first use; this only resolves the settings.
pub fn connect(state: &ProviderState, value: &Value) -> Result<Connected, Diagnostics> {
    connect_as(state, value, false)
}

/// [`connect`], or for an import: an import ID cannot carry the resource's `host_key`, so
/// where the provider's `ssh.known_hosts` does not decide, the key the host presents is
/// recorded in `host_public_key` and the first plan holds it to the configuration
/// ([`plan`]) before anything is written.
fn connect_as(
    state: &ProviderState,
    value: &Value,
    import: bool,
) -> Result<Connected, Diagnostics> {
    let Some(args) = args(value)? else {
        return Ok(Connected {
            host: Arc::new(Local),
            ssh: None,
        });
    };
    let recorded = value.get_attr(PUBLIC_KEY).and_then(Value::as_str);
    let mut target = SshTarget::resolve(&args, &state.ssh.defaults(), recorded).map_err(|e| {
        Diagnostics::from(
            Diagnostic::error("Cannot reach the host", e.to_string()).at(AttrPath::attr(BLOCK)),
        )
    })?;
    if import {
        target.host_key = match target.host_key {
            HostKeyCheck::Unconfigured => HostKeyCheck::TrustOnFirstUse,
            HostKeyCheck::KnownHosts(path) => HostKeyCheck::KnownHostsOnly(path),
            other => other,
        };
    }
    let ssh = state.ssh.pool.host(target);
    Ok(Connected {
        host: Arc::new(ssh.clone()),
        ssh: Some(ssh),
    })
}

/// What an import ID names: `/abs/path` on the local machine, or
/// `[user@]address[:port]:/abs/path` on a host over SSH (its key checked against the
/// provider's `ssh.known_hosts`). Returns a value holding just the `host` block (for
/// building the imported state), the path, and the host.
pub fn locate_import(
    state: &ProviderState,
    id: &str,
    example: &str,
) -> Result<(Value, PathBuf, Connected), Diagnostics> {
    let (args, path) = target::parse_remote_path(id).map_err(|e| {
        invalid_id(format!(
            "The import ID is the file's absolute path ({example}), or \
             [user@]address[:port]:/abs/path for a file on a host over SSH; {id:?}: {e}."
        ))
    })?;
    let (located, connected) = locate(state, args)?;
    Ok((located, path, connected))
}

/// [`locate_import`] for things named on a host (a Compose project): `name`, or
/// `[user@]address[:port]:name`.
pub fn locate_named_import(
    state: &ProviderState,
    id: &str,
    example: &str,
) -> Result<(Value, String, Connected), Diagnostics> {
    let (args, name) = target::parse_remote_name(id).map_err(|e| {
        invalid_id(format!(
            "The import ID is the name ({example}), or [user@]address[:port]:name for one on \
             a host over SSH; {id:?}: {e}."
        ))
    })?;
    let (located, connected) = locate(state, args)?;
    Ok((located, name, connected))
}

fn invalid_id(detail: String) -> Diagnostics {
    Diagnostic::error("Invalid import ID", detail).into()
}

/// The value holding the `host` block for `args` (null: the local machine), and the host.
fn locate(
    state: &ProviderState,
    args: Option<HostArgs>,
) -> Result<(Value, Connected), Diagnostics> {
    let host_block = match args {
        None => Value::Null,
        Some(args) => {
            let json = serde_json::to_value(&args).expect("host arguments serialise");
            serde_bridge::from_json(&json, &host_block().value_type())
                .map_err(|e| Diagnostics::from(Diagnostic::error("Invalid import ID", e)))?
        }
    };
    let mut located = Value::Object(Default::default());
    located.set_attr(BLOCK, host_block);
    let connected = connect_as(state, &located, true)?;
    Ok((located, connected))
}
