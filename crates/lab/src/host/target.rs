//! How a host is named in a configuration: the `host { }` arguments of an on-host
//! resource, the provider-wide SSH defaults, their checks, and the [`SshTarget`] they
//! resolve to. Parsing keys here (not at connect time) is what lets a surface reject a
//! malformed key at plan, with the argument's path.

use std::path::PathBuf;
use std::time::Duration;

use russh::keys::{HashAlg, PublicKey};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::secret::Secret;
use crate::validation::{FieldError, PathSegment};
use crate::Error;

pub const DEFAULT_PORT: u16 = 22;
pub const DEFAULT_USER: &str = "root";
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(30);

/// The host an on-host resource acts on, reached over SSH. Without it the resource acts on
/// the machine Terraform or Ansible runs on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostArgs {
    /// The host's address: an IP address or a DNS name. It may come from a resource created
    /// in the same apply (a VM's IP); it is then checked and connected to at apply.
    pub address: String,
    /// The SSH port. Defaults to 22.
    #[serde(default)]
    pub port: Option<i64>,
    /// The user to log in as. Defaults to the provider's `ssh.user`, then `root`.
    #[serde(default)]
    pub user: Option<String>,
    /// A private key, OpenSSH or PEM text (ed25519, ECDSA or RSA). Defaults to the
    /// provider's `ssh.private_key`; without either, the SSH agent at `SSH_AUTH_SOCK` signs.
    #[serde(default)]
    pub private_key: Option<Secret>,
    /// The passphrase of an encrypted `private_key`.
    #[serde(default)]
    pub private_key_passphrase: Option<Secret>,
    /// The host's public key (`ssh-ed25519 AAAA...`, as in `/etc/ssh/ssh_host_*_key.pub`)
    /// or its fingerprint (`SHA256:...`). A host presenting another key is refused.
    #[serde(default)]
    pub host_key: Option<String>,
    /// Accept the key the host presents on the first connection and record it in state
    /// (`host_public_key`); every later connection must present that same key. For a host
    /// created in the same apply. Conflicts with `host_key`.
    #[serde(default)]
    pub trust_on_first_use: bool,
    /// Run every command on the host through `sudo -n` (passwordless sudo): a non-root
    /// user writing under `/etc`.
    #[serde(default)]
    pub sudo: bool,
    /// A host to hop through (like `ssh -J`): the target is reached from the bastion, not
    /// from here. Defaults to the provider's `ssh.bastion`.
    #[serde(default)]
    pub bastion: Option<BastionArgs>,
}

/// A jump host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BastionArgs {
    /// The bastion's address.
    pub address: String,
    /// The bastion's SSH port. Defaults to 22.
    #[serde(default)]
    pub port: Option<i64>,
    /// The user on the bastion. Defaults to the target's user.
    #[serde(default)]
    pub user: Option<String>,
    /// The key for the bastion. Defaults to the target's key (or the agent).
    #[serde(default)]
    pub private_key: Option<Secret>,
    /// The passphrase of an encrypted `private_key`.
    #[serde(default)]
    pub private_key_passphrase: Option<Secret>,
    /// The bastion's public key or `SHA256:` fingerprint. Without it the bastion's key is
    /// looked up in `known_hosts`.
    #[serde(default)]
    pub host_key: Option<String>,
}

/// Defaults for every host (the provider's `ssh { }` block).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SshDefaults {
    /// The user to log in as where a `host` block names none. Defaults to `root`.
    #[serde(default)]
    pub user: Option<String>,
    /// The private key for hosts whose `host` block has none.
    #[serde(default)]
    pub private_key: Option<Secret>,
    /// The passphrase of an encrypted `private_key`.
    #[serde(default)]
    pub private_key_passphrase: Option<Secret>,
    /// Use the SSH agent at `SSH_AUTH_SOCK` where no private key is set. Defaults to true.
    #[serde(default)]
    pub agent: Option<bool>,
    /// An OpenSSH `known_hosts` file that host keys are checked against where a host has
    /// neither `host_key` nor `trust_on_first_use`.
    #[serde(default)]
    pub known_hosts: Option<String>,
    /// How long to keep trying to open a connection (a host still booting refuses it).
    /// Defaults to `10s`.
    #[serde(default)]
    pub connect_timeout: Option<String>,
    /// How often an idle connection is probed, so a dead peer is noticed. Defaults to `30s`.
    #[serde(default)]
    pub keepalive_interval: Option<String>,
    /// A jump host for every host whose `host` block names none.
    #[serde(default)]
    pub bastion: Option<BastionArgs>,
}

/// How a host's key is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyCheck {
    /// Only this key (OpenSSH public key text, or a `SHA256:` fingerprint).
    Pinned(String),
    /// The key `known_hosts` lists for the address.
    KnownHosts(PathBuf),
    /// The same check where listing the key is the only remedy: an import, which cannot see
    /// the resource's `host_key` or `trust_on_first_use`, so its refusal names neither.
    KnownHostsOnly(PathBuf),
    /// Whatever the host presents now; the caller records it and pins it afterwards.
    TrustOnFirstUse,
    /// Nothing configured: every key is refused, with a message saying what to set.
    Unconfigured,
}

/// How to authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    Key {
        key: Secret,
        passphrase: Option<Secret>,
    },
    Agent,
}

/// Everything needed to reach one host over SSH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    pub address: String,
    pub port: u16,
    pub user: String,
    pub auth: Auth,
    pub host_key: HostKeyCheck,
    pub sudo: bool,
    pub bastion: Option<Box<SshTarget>>,
    pub connect_timeout: Duration,
    pub keepalive: Duration,
}

impl SshTarget {
    /// `ssh admin@10.0.20.11:22`, how every message names the host.
    pub fn label(&self) -> String {
        format!("ssh {}@{}:{}", self.user, self.address, self.port)
    }

    /// What makes two targets the same connection: where, as whom, with which key and
    /// which host key check, through which bastion.
    pub fn connection_key(&self) -> String {
        let auth = match &self.auth {
            Auth::Key { key, .. } => format!(
                "key:{}",
                &crate::files::sha256_hex(key.expose().as_bytes())[..16]
            ),
            Auth::Agent => "agent".into(),
        };
        let via = self
            .bastion
            .as_ref()
            .map(|b| format!(" via {}", b.connection_key()))
            .unwrap_or_default();
        // An import's known_hosts check is the same check (only its refusal reads
        // differently), so the read that follows an import shares its connection.
        let check = match &self.host_key {
            HostKeyCheck::KnownHostsOnly(path) => HostKeyCheck::KnownHosts(path.clone()),
            other => other.clone(),
        };
        format!(
            "{}@{}:{} {auth} {check:?}{via}",
            self.user, self.address, self.port
        )
    }
}

fn field(prefix: &[PathSegment], name: &str) -> Vec<PathSegment> {
    let mut path = prefix.to_vec();
    path.push(PathSegment::Field(name.to_owned()));
    path
}

fn check_address(prefix: &[PathSegment], address: &str, errors: &mut Vec<FieldError>) {
    let path = field(prefix, "address");
    if address.trim().is_empty() {
        errors.push(FieldError::new(path, "must not be empty"));
    } else if address.starts_with('-')
        || address
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "/@'\"`$;&|<>\\".contains(c))
    {
        errors.push(FieldError::new(
            path,
            format!("{address:?} is not a host name or IP address"),
        ));
    }
}

fn check_port(prefix: &[PathSegment], port: Option<i64>, errors: &mut Vec<FieldError>) {
    if let Some(p) = port {
        if !(1..=65535).contains(&p) {
            errors.push(FieldError::new(
                field(prefix, "port"),
                format!("must be between 1 and 65535, got {p}"),
            ));
        }
    }
}

fn check_user(prefix: &[PathSegment], user: Option<&str>, errors: &mut Vec<FieldError>) {
    if let Some(u) = user {
        if u.is_empty()
            || u.starts_with('-')
            || u.chars().any(|c| c.is_whitespace() || c == '@' || c == ':')
        {
            errors.push(FieldError::new(
                field(prefix, "user"),
                format!("{u:?} is not a user name"),
            ));
        }
    }
}

/// Parses a private key, with its passphrase when it has one. The error never quotes the key.
pub fn parse_private_key(
    key: &Secret,
    passphrase: Option<&Secret>,
) -> Result<russh::keys::PrivateKey, String> {
    let text = key.expose();
    if !text.contains("PRIVATE KEY") && !text.trim_start().starts_with("PuTTY-User-Key-File-") {
        return Err(
            "is not a private key (expected OpenSSH or PEM text starting with \
                    -----BEGIN ... PRIVATE KEY-----)"
                .into(),
        );
    }
    match russh::keys::decode_secret_key(text, passphrase.map(Secret::expose)) {
        Ok(k) => Ok(k),
        Err(russh::keys::Error::KeyIsEncrypted) => {
            Err("is encrypted: set private_key_passphrase".into())
        }
        Err(e) if passphrase.is_some() => Err(format!(
            "cannot be decrypted with private_key_passphrase, or is malformed ({})",
            key_error_kind(&e)
        )),
        Err(e) => Err(format!(
            "is not a usable private key ({})",
            key_error_kind(&e)
        )),
    }
}

/// A key error's kind without its details: some parse errors quote the input.
fn key_error_kind(e: &russh::keys::Error) -> String {
    let text = e.to_string();
    // Keep messages short and free of key material: the first clause only.
    text.split(':')
        .next()
        .unwrap_or("unreadable")
        .trim()
        .to_owned()
}

/// Checks a `host_key`: an OpenSSH public key line or a `SHA256:` fingerprint.
pub fn check_host_key(text: &str) -> Result<(), String> {
    let text = text.trim();
    if let Some(b64) = text.strip_prefix("SHA256:") {
        use base64::Engine;
        let ok = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(b64.trim_end_matches('='))
            .is_ok_and(|d| d.len() == 32);
        return if ok {
            Ok(())
        } else {
            Err(format!(
                "{text:?} is not a SHA256 fingerprint (SHA256: and 43 base64 characters)"
            ))
        };
    }
    PublicKey::from_openssh(text).map(|_| ()).map_err(|_| {
        format!(
            "{:?} is not an SSH public key (`ssh-ed25519 AAAA...`) or a SHA256: fingerprint",
            shorten(text)
        )
    })
}

fn shorten(text: &str) -> String {
    if text.chars().count() > 40 {
        format!("{}...", text.chars().take(40).collect::<String>())
    } else {
        text.to_owned()
    }
}

/// Whether `presented` is the key `pinned` names (key text or fingerprint).
pub fn key_matches(pinned: &str, presented: &PublicKey) -> bool {
    let pinned = pinned.trim();
    if pinned.starts_with("SHA256:") {
        return fingerprint(presented).trim_end_matches('=') == pinned.trim_end_matches('=');
    }
    PublicKey::from_openssh(pinned).is_ok_and(|k| k.key_data() == presented.key_data())
}

/// Whether a key recorded in state (OpenSSH text, as `host_public_key` holds it) is the one
/// `pinned` names. A recorded text that does not parse matches nothing.
pub fn recorded_key_matches(pinned: &str, recorded: &str) -> bool {
    PublicKey::from_openssh(recorded.trim()).is_ok_and(|k| key_matches(pinned, &k))
}

/// `SHA256:...`, as `ssh-keygen -l` prints it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// The fingerprint of a pinned key's text (for messages); the text itself when it is one.
pub fn pinned_fingerprint(pinned: &str) -> String {
    let pinned = pinned.trim();
    if pinned.starts_with("SHA256:") {
        return pinned.to_owned();
    }
    PublicKey::from_openssh(pinned)
        .map(|k| fingerprint(&k))
        .unwrap_or_else(|_| pinned.to_owned())
}

fn check_key_pair(
    prefix: &[PathSegment],
    key: Option<&Secret>,
    passphrase: Option<&Secret>,
    errors: &mut Vec<FieldError>,
) {
    if let Some(key) = key {
        if let Err(e) = parse_private_key(key, passphrase) {
            errors.push(FieldError::new(field(prefix, "private_key"), e));
        }
    }
}

/// The checks for what a host and a bastion both have.
fn check_login(
    prefix: &[PathSegment],
    address: &str,
    port: Option<i64>,
    user: Option<&str>,
    key: Option<&Secret>,
    passphrase: Option<&Secret>,
    host_key: Option<&str>,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    check_address(prefix, address, &mut errors);
    check_port(prefix, port, &mut errors);
    check_user(prefix, user, &mut errors);
    check_key_pair(prefix, key, passphrase, &mut errors);
    if let Some(Err(e)) = host_key.map(check_host_key) {
        errors.push(FieldError::new(field(prefix, "host_key"), e));
    }
    errors
}

impl BastionArgs {
    pub fn validate(&self, prefix: &[PathSegment]) -> Vec<FieldError> {
        check_login(
            prefix,
            &self.address,
            self.port,
            self.user.as_deref(),
            self.private_key.as_ref(),
            self.private_key_passphrase.as_ref(),
            self.host_key.as_deref(),
        )
    }
}

impl HostArgs {
    /// Every problem at once; paths start with `prefix` (`host`).
    pub fn validate(&self, prefix: &[PathSegment]) -> Vec<FieldError> {
        let mut errors = check_login(
            prefix,
            &self.address,
            self.port,
            self.user.as_deref(),
            self.private_key.as_ref(),
            self.private_key_passphrase.as_ref(),
            self.host_key.as_deref(),
        );
        if self.host_key.is_some() && self.trust_on_first_use {
            errors.push(FieldError::new(
                field(prefix, "trust_on_first_use"),
                "conflicts with host_key: pin the key, or trust the first one seen, not both",
            ));
        }
        if let Some(b) = &self.bastion {
            errors.extend(b.validate(&field(prefix, "bastion")));
        }
        errors
    }
}

/// A file on a host, as `scp` spells it: `[user@]address[:port]:/abs/path`, or `/abs/path`
/// for the local machine (`None`). `Err` says what is wrong with the text.
pub fn parse_remote_path(text: &str) -> Result<(Option<HostArgs>, PathBuf), String> {
    const FORM: &str = "expected /abs/path or [user@]address[:port]:/abs/path";
    if text.starts_with('/') {
        return Ok((None, PathBuf::from(text)));
    }
    let (remote, path) = text.split_once(":/").ok_or(FORM)?;
    let args = parse_location(remote, FORM)?;
    Ok((Some(args), PathBuf::from(format!("/{path}"))))
}

/// A named thing on a host (a Compose project): `[user@]address[:port]:name`, or `name`
/// for the local machine (`None`).
pub fn parse_remote_name(text: &str) -> Result<(Option<HostArgs>, String), String> {
    const FORM: &str = "expected name or [user@]address[:port]:name";
    match text.rsplit_once(':') {
        None => Ok((None, text.to_string())),
        Some((_, "")) => Err(FORM.into()),
        Some((remote, name)) => Ok((Some(parse_location(remote, FORM)?), name.to_string())),
    }
}

/// `[user@]address[:port]` (`[IPv6]:port` for IPv6 with a port).
fn parse_location(remote: &str, form: &str) -> Result<HostArgs, String> {
    let (user, location) = match remote.split_once('@') {
        Some((user, rest)) => (Some(user), rest),
        None => (None, remote),
    };
    let port = |p: &str| {
        p.parse::<i64>()
            .map_err(|_| format!("{p:?} is not a port; {form}"))
    };
    let (address, port) = if let Some(rest) = location.strip_prefix('[') {
        let (address, tail) = rest.split_once(']').ok_or(form)?;
        match tail {
            "" => (address, None),
            _ => (address, Some(port(tail.strip_prefix(':').ok_or(form)?)?)),
        }
    } else {
        match location.rsplit_once(':') {
            Some((address, p)) => (address, Some(port(p)?)),
            None => (location, None),
        }
    };
    let args = HostArgs {
        address: address.to_owned(),
        port,
        user: user.map(str::to_owned),
        ..HostArgs::default()
    };
    let errors = args.validate(&[]);
    if !errors.is_empty() {
        return Err(errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "));
    }
    Ok(args)
}

impl SshDefaults {
    pub fn validate(&self, prefix: &[PathSegment]) -> Vec<FieldError> {
        let mut errors = Vec::new();
        check_user(prefix, self.user.as_deref(), &mut errors);
        check_key_pair(
            prefix,
            self.private_key.as_ref(),
            self.private_key_passphrase.as_ref(),
            &mut errors,
        );
        if let Some(path) = &self.known_hosts {
            if !path.starts_with('/') {
                errors.push(FieldError::new(
                    field(prefix, "known_hosts"),
                    format!("must be an absolute path, got {path:?}"),
                ));
            }
        }
        for (name, value) in [
            ("connect_timeout", &self.connect_timeout),
            ("keepalive_interval", &self.keepalive_interval),
        ] {
            if let Some(Err(e)) = value.as_deref().map(crate::duration::parse) {
                errors.push(FieldError::new(field(prefix, name), e));
            }
        }
        if let Some(b) = &self.bastion {
            errors.extend(b.validate(&field(prefix, "bastion")));
        }
        errors
    }

    fn duration(value: &Option<String>, default: Duration) -> Duration {
        value
            .as_deref()
            .and_then(|t| crate::duration::parse(t).ok())
            .unwrap_or(default)
    }
}

fn port_of(port: Option<i64>) -> u16 {
    port.and_then(|p| u16::try_from(p).ok())
        .unwrap_or(DEFAULT_PORT)
}

fn auth_of(
    key: Option<&Secret>,
    passphrase: Option<&Secret>,
    defaults: &SshDefaults,
    what: &str,
) -> Result<Auth, Error> {
    if let Some(key) = key {
        return Ok(Auth::Key {
            key: key.clone(),
            passphrase: passphrase.cloned(),
        });
    }
    if let Some(key) = &defaults.private_key {
        return Ok(Auth::Key {
            key: key.clone(),
            passphrase: defaults.private_key_passphrase.clone(),
        });
    }
    if defaults.agent != Some(false) && std::env::var_os("SSH_AUTH_SOCK").is_some() {
        return Ok(Auth::Agent);
    }
    Err(Error::Host {
        host: what.to_owned(),
        message: "no way to log in: set private_key (in the host block or the provider's ssh \
                  block), or run an SSH agent (SSH_AUTH_SOCK)"
            .into(),
    })
}

impl SshTarget {
    /// The target a `host` block names, filled in from the provider's defaults.
    /// `recorded_key` is the key recorded on first use (state), which pins it from then on.
    pub fn resolve(
        args: &HostArgs,
        defaults: &SshDefaults,
        recorded_key: Option<&str>,
    ) -> Result<SshTarget, Error> {
        let user = args
            .user
            .clone()
            .or_else(|| defaults.user.clone())
            .unwrap_or_else(|| DEFAULT_USER.to_owned());
        let port = port_of(args.port);
        let label = format!("ssh {user}@{}:{port}", args.address);
        let auth = auth_of(
            args.private_key.as_ref(),
            args.private_key_passphrase.as_ref(),
            defaults,
            &label,
        )?;
        // Without a pinned or recorded key, the provider's known_hosts decides.
        let known_hosts = || {
            defaults
                .known_hosts
                .as_ref()
                .map(|p| HostKeyCheck::KnownHosts(PathBuf::from(p)))
                .unwrap_or(HostKeyCheck::Unconfigured)
        };
        // A recorded key pins the host when nothing else names one: it is what trust on
        // first use or an import recorded, and the provider's plan has held it to the
        // configuration's policy (`host_key`, known_hosts, trust on first use) before
        // anything is written.
        let host_key = match (&args.host_key, recorded_key, args.trust_on_first_use) {
            (Some(pinned), _, _) => HostKeyCheck::Pinned(pinned.clone()),
            (None, Some(recorded), true) => HostKeyCheck::Pinned(recorded.to_owned()),
            (None, None, true) => HostKeyCheck::TrustOnFirstUse,
            (None, Some(recorded), false) if defaults.known_hosts.is_none() => {
                HostKeyCheck::Pinned(recorded.to_owned())
            }
            (None, _, false) => known_hosts(),
        };
        let connect_timeout =
            SshDefaults::duration(&defaults.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
        let keepalive = SshDefaults::duration(&defaults.keepalive_interval, DEFAULT_KEEPALIVE);
        let bastion = args
            .bastion
            .as_ref()
            .or(defaults.bastion.as_ref())
            .map(|b| {
                Box::new(SshTarget {
                    address: b.address.clone(),
                    port: port_of(b.port),
                    user: b.user.clone().unwrap_or_else(|| user.clone()),
                    auth: match &b.private_key {
                        Some(key) => Auth::Key {
                            key: key.clone(),
                            passphrase: b.private_key_passphrase.clone(),
                        },
                        None => auth.clone(),
                    },
                    host_key: match &b.host_key {
                        Some(k) => HostKeyCheck::Pinned(k.clone()),
                        None => known_hosts(),
                    },
                    sudo: false,
                    bastion: None,
                    connect_timeout,
                    keepalive,
                })
            });
        Ok(SshTarget {
            address: args.address.clone(),
            port,
            user,
            auth,
            host_key,
            sudo: args.sudo,
            bastion,
            connect_timeout,
            keepalive,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::format_path;

    fn host(address: &str) -> HostArgs {
        HostArgs {
            address: address.into(),
            ..HostArgs::default()
        }
    }

    fn paths(errors: &[FieldError]) -> Vec<String> {
        errors.iter().map(|e| format_path(&e.path)).collect()
    }

    #[test]
    fn bad_values_are_reported_with_their_paths() {
        let prefix = [PathSegment::Field("host".into())];
        let mut h = host("");
        h.port = Some(0);
        h.host_key = Some("ssh-ed25519 nonsense".into());
        h.trust_on_first_use = true;
        h.private_key = Some(Secret::new("hunter2-not-a-key"));
        let errors = h.validate(&prefix);
        assert_eq!(
            paths(&errors),
            vec![
                "host.address",
                "host.port",
                "host.private_key",
                "host.host_key",
                "host.trust_on_first_use"
            ]
        );
        assert!(!format!("{errors:?}").contains("hunter2"));
        let mut h = host("10.0.0.1");
        h.port = Some(65536);
        assert_eq!(paths(&h.validate(&prefix)), vec!["host.port"]);
        assert!(host("10.0.0.1").validate(&prefix).is_empty());
        assert_eq!(paths(&host("a b").validate(&prefix)), vec!["host.address"]);
    }

    #[test]
    fn remote_paths_name_local_and_remote_files() {
        let (host, path) = parse_remote_path("/etc/traefik/a.toml").unwrap();
        assert_eq!((host, path), (None, PathBuf::from("/etc/traefik/a.toml")));
        let (host, path) = parse_remote_path("admin@10.0.0.5:2222:/etc/traefik/a.toml").unwrap();
        let host = host.unwrap();
        assert_eq!(path, PathBuf::from("/etc/traefik/a.toml"));
        assert_eq!(
            (host.address.as_str(), host.port, host.user.as_deref()),
            ("10.0.0.5", Some(2222), Some("admin"))
        );
        let (host, _) = parse_remote_path("[fd00::5]:/etc/a.toml").unwrap();
        assert_eq!(host.unwrap().address, "fd00::5");
        for bad in ["relative/a.toml", "h:x:/a", "h:70000:/a", "@h:/a"] {
            assert!(parse_remote_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fingerprints_are_checked_for_shape() {
        assert!(check_host_key("SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU").is_ok());
        assert!(check_host_key("SHA256:short").is_err());
        assert!(check_host_key(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE"
        )
        .is_ok());
    }

    #[test]
    fn host_key_precedence() {
        let defaults = SshDefaults {
            private_key: None,
            known_hosts: Some("/k".into()),
            agent: Some(false),
            ..SshDefaults::default()
        };
        // No key and no agent: a clear error.
        let err = SshTarget::resolve(&host("h"), &defaults, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no way to log in"), "{err}");
        let defaults = SshDefaults {
            private_key: Some(Secret::new("k")),
            ..defaults
        };
        let t = SshTarget::resolve(&host("h"), &defaults, None).unwrap();
        assert_eq!(t.host_key, HostKeyCheck::KnownHosts("/k".into()));
        assert_eq!(t.label(), "ssh root@h:22");
        let mut tofu = host("h");
        tofu.trust_on_first_use = true;
        assert_eq!(
            SshTarget::resolve(&tofu, &defaults, None).unwrap().host_key,
            HostKeyCheck::TrustOnFirstUse
        );
        assert_eq!(
            SshTarget::resolve(&tofu, &defaults, Some("SHA256:x"))
                .unwrap()
                .host_key,
            HostKeyCheck::Pinned("SHA256:x".into())
        );
    }
}
