//! Hosts over SSH, through russh: a pure-Rust client, so the provider stays one
//! self-contained binary that works where Terraform runs in a container without OpenSSH.
//!
//! One connection per target per process ([`SshPool`]), shared by every resource on that
//! host, with at most [`MAX_CHANNELS`] channels open at once on it (OpenSSH's default
//! `MaxSessions` is 10; a provider applying 50 resources in parallel must not hit it). A
//! connection found closed is opened again for the next operation; an operation cut off in
//! the middle fails naming the host and what it was doing, and nothing half-done stays on
//! the host (see the write script).
//!
//! Each file operation is one remote command: a fixed `sh -c` script with the path and
//! other values as positional arguments, quoted, so configuration values are never shell
//! syntax. With `sudo`, the command runs under `sudo -n --`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use russh::client::{self, Handle};
use russh::keys::agent::client::AgentClient;
use russh::keys::agent::AgentIdentity;
use russh::keys::{PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use russh::ChannelMsg;
use tokio::sync::Semaphore;

use super::target::{self, Auth, HostKeyCheck, SshTarget};
use super::{shell_quote, Command, FileMode, Host, Output};
use crate::Error;

/// Channels open at once on one connection: below OpenSSH's default `MaxSessions` (10),
/// leaving room for a person's own session multiplexed on the same host.
pub const MAX_CHANNELS: usize = 8;

/// The exit status our scripts use for "nothing there" (no file, no directory).
const ABSENT: u32 = 66;

const READ_SCRIPT: &str = r#"if [ -e "$1" ] || [ -L "$1" ]; then exec cat -- "$1"; fi; exit 66"#;

/// Writes stdin to `$1` atomically: a temporary file beside it, its SHA-256 checked against
/// `$4` (a transfer cut short leaves a short file, which must never be renamed into place),
/// mode `$2`, owner `$3` when set, then a rename. The trap removes the temporary file on
/// every way out but success, including a hang-up when the connection drops.
const WRITE_SCRIPT: &str = r#"
dir=$(dirname -- "$1") && base=$(basename -- "$1") || exit 1
if [ ! -d "$dir" ]; then echo "the directory $dir does not exist" >&2; exit 1; fi
tmp="$dir/.$base.$$.tmp"
trap 'rm -f -- "$tmp"' EXIT
trap 'exit 1' HUP INT TERM PIPE
(umask 077 && cat >"$tmp") || exit 1
got=$(sha256sum <"$tmp") || exit 1
if [ "${got%% *}" != "$4" ]; then echo "the content arrived incomplete; nothing was changed" >&2; exit 1; fi
chmod "$2" "$tmp" || exit 1
if [ -n "$3" ]; then chown -- "$3" "$tmp" || exit 1; fi
mv -f -- "$tmp" "$1" || exit 1
trap - EXIT
"#;

const REMOVE_SCRIPT: &str =
    r#"if [ -e "$1" ] || [ -L "$1" ]; then rm -f -- "$1" || exit 1; exit 0; fi; exit 66"#;

const DIR_EXISTS_SCRIPT: &str = r#"if [ -d "$1" ]; then exit 0; fi
if [ -e "$1" ] || [ -L "$1" ]; then echo "it is not a directory" >&2; exit 1; fi
exit 66"#;

const ENSURE_DIR_SCRIPT: &str = r#"if [ -d "$1" ]; then exit 66; fi; mkdir -p -- "$1""#;

const LIST_DIR_SCRIPT: &str = r#"if [ ! -d "$1" ]; then exit 66; fi
cd -- "$1" || exit 1
for f in * .*; do
  case $f in .|..) continue;; esac
  if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
done"#;

/// Reads `$1` lines of `NAME=value` from stdin into the environment, then runs the rest of
/// the arguments with what is left of stdin: environment values never reach a command line.
/// `read` takes a pipe one byte at a time, so the command's own input stays intact.
const ENV_SCRIPT: &str = r#"n=$1; shift; i=0
while [ "$i" -lt "$n" ]; do IFS= read -r kv || exit 1; export "$kv"; i=$((i+1)); done
exec "$@""#;

/// The SSH connections of one process, by target.
#[derive(Default)]
pub struct SshPool {
    connections: Mutex<HashMap<String, Arc<Connection>>>,
    opened: Arc<AtomicU64>,
}

impl SshPool {
    pub fn new() -> Self {
        Self::default()
    }

    /// The host a target names, sharing the connection of every other user of the target.
    pub fn host(&self, target: SshTarget) -> SshHost {
        SshHost {
            sudo: target.sudo,
            connection: self.connection(target),
        }
    }

    fn connection(&self, target: SshTarget) -> Arc<Connection> {
        let key = target.connection_key();
        let bastion = target
            .bastion
            .as_deref()
            .cloned()
            .map(|b| self.connection(b));
        let mut connections = self.connections.lock().expect("pool lock");
        connections
            .entry(key)
            .or_insert_with(|| {
                Arc::new(Connection {
                    label: target.label(),
                    target,
                    bastion,
                    session: tokio::sync::Mutex::new(None),
                    channels: Semaphore::new(MAX_CHANNELS),
                    seen_key: Arc::new(Mutex::new(KeyVerdict::default())),
                    opened: self.opened.clone(),
                    last_failure: Mutex::new(None),
                })
            })
            .clone()
    }

    /// How many SSH connections this pool has opened (re-opened ones included).
    pub fn connections_opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }
}

/// A host reached over SSH.
#[derive(Clone)]
pub struct SshHost {
    connection: Arc<Connection>,
    sudo: bool,
}

impl SshHost {
    /// The host's public key in OpenSSH form (`ssh-ed25519 AAAA...`), as it presented it
    /// when this process connected (connecting now if need be): what trust-on-first-use
    /// records.
    pub async fn host_public_key(&self) -> Result<String, Error> {
        self.connection.handle().await?;
        let seen = self
            .connection
            .seen_key
            .lock()
            .expect("key lock")
            .seen
            .clone();
        let key = seen.ok_or_else(|| self.connection.error("no host key was seen"))?;
        key.to_openssh().map_err(|e| {
            self.connection
                .error(format!("cannot encode the host key: {e}"))
        })
    }

    /// One remote command line: the arguments quoted, under `sudo -n --` when asked.
    fn command_line<'a>(&self, argv: impl IntoIterator<Item = &'a str>) -> String {
        let sudo: &[&str] = if self.sudo {
            &["sudo", "-n", "--"]
        } else {
            &[]
        };
        sudo.iter()
            .copied()
            .chain(argv)
            .map(shell_quote)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Runs one of the file scripts on `path` (then `extra`): `Some(output)` when it exits
    /// 0, `None` when it says nothing is there ([`ABSENT`]), an error naming `verb` and the
    /// path with the script's stderr otherwise.
    async fn file_script(
        &self,
        verb: &str,
        script: &str,
        path: &Path,
        extra: &[&str],
        stdin: &[u8],
    ) -> Result<Option<Output>, Error> {
        let what = format!("{verb} {}", path.display());
        let path_text = path
            .to_str()
            .ok_or_else(|| self.connection.error(format!("{what}: not a UTF-8 path")))?;
        let argv = ["sh", "-c", script, "sh", path_text]
            .into_iter()
            .chain(extra.iter().copied());
        let out = self
            .connection
            .exec(&what, self.command_line(argv), stdin)
            .await?;
        match out.status {
            Some(0) => Ok(Some(out)),
            Some(ABSENT) => Ok(None),
            _ => Err(self
                .connection
                .error(format!("{what}: {}", out.failure_reason()))),
        }
    }
}

#[async_trait::async_trait]
impl Host for SshHost {
    fn name(&self) -> String {
        self.connection.label.clone()
    }

    async fn read_file(&self, path: &Path) -> Result<Option<Vec<u8>>, Error> {
        let out = self
            .file_script("reading", READ_SCRIPT, path, &[], b"")
            .await?;
        Ok(out.map(|o| o.stdout))
    }

    async fn write_file(&self, path: &Path, bytes: &[u8], mode: &FileMode) -> Result<(), Error> {
        let sha = crate::files::sha256_hex(bytes);
        let mode_text = format!("{:o}", mode.mode);
        let owner = mode.owner.as_deref().unwrap_or_default();
        let extra = [mode_text.as_str(), owner, sha.as_str()];
        self.file_script("writing", WRITE_SCRIPT, path, &extra, bytes)
            .await
            .map(|_| ())
    }

    async fn remove_file(&self, path: &Path) -> Result<bool, Error> {
        let out = self
            .file_script("removing", REMOVE_SCRIPT, path, &[], b"")
            .await?;
        Ok(out.is_some())
    }

    async fn dir_exists(&self, path: &Path) -> Result<bool, Error> {
        let out = self
            .file_script("looking at", DIR_EXISTS_SCRIPT, path, &[], b"")
            .await?;
        Ok(out.is_some())
    }

    async fn ensure_dir(&self, path: &Path) -> Result<bool, Error> {
        let out = self
            .file_script("creating the directory", ENSURE_DIR_SCRIPT, path, &[], b"")
            .await?;
        Ok(out.is_some())
    }

    async fn list_dir(&self, path: &Path) -> Result<Option<Vec<String>>, Error> {
        let out = self
            .file_script("listing", LIST_DIR_SCRIPT, path, &[], b"")
            .await?;
        Ok(out.map(|o| {
            let mut names: Vec<String> = o
                .stdout
                .split(|b| *b == 0)
                .filter(|n| !n.is_empty())
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .collect();
            names.sort();
            names
        }))
    }

    async fn run(&self, command: &Command) -> Result<Output, Error> {
        if command.argv.is_empty() {
            return Err(self.connection.error("cannot run an empty command"));
        }
        let what = format!("running `{}`", command.display());
        // Environment values go first on stdin, read by ENV_SCRIPT before it execs the
        // command: they never stand on a command line.
        let mut stdin = Vec::new();
        for (name, value) in &command.env {
            let valid_name = !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid_name || value.expose().contains('\n') {
                return Err(self.connection.error(format!(
                    "{what}: environment variable {name:?} has an invalid name or a value with a newline"
                )));
            }
            stdin.extend_from_slice(format!("{name}={}\n", value.expose()).as_bytes());
        }
        stdin.extend_from_slice(&command.stdin);
        let env_count = command.env.len().to_string();
        let wrapper: &[&str] = if command.env.is_empty() {
            &[]
        } else {
            &["sh", "-c", ENV_SCRIPT, "sh", &env_count]
        };
        let argv = wrapper
            .iter()
            .copied()
            .chain(command.argv.iter().map(String::as_str));
        self.connection
            .exec(&what, self.command_line(argv), &stdin)
            .await
    }
}

/// What the host key check saw on the latest connection.
#[derive(Default)]
struct KeyVerdict {
    seen: Option<PublicKey>,
    refusal: Option<String>,
}

/// russh's callbacks: the host key check.
struct Verifier {
    check: HostKeyCheck,
    address: String,
    port: u16,
    verdict: Arc<Mutex<KeyVerdict>>,
}

impl Verifier {
    fn judge(&self, key: &PublicKey) -> Result<(), String> {
        let got = target::fingerprint(key);
        match &self.check {
            HostKeyCheck::TrustOnFirstUse => Ok(()),
            HostKeyCheck::Pinned(pinned) => {
                if target::key_matches(pinned, key) {
                    Ok(())
                } else {
                    Err(format!(
                        "host key mismatch (expected {}, got {got}); if the host was \
                         rebuilt, update host_key",
                        target::pinned_fingerprint(pinned)
                    ))
                }
            }
            HostKeyCheck::KnownHosts(path) | HostKeyCheck::KnownHostsOnly(path) => {
                let remedy = if matches!(self.check, HostKeyCheck::KnownHostsOnly(_)) {
                    "add the host's key there (an import reads no host block's host_key)"
                } else {
                    "add the host's key there, pin it with host_key, or set \
                     trust_on_first_use = true"
                };
                match russh::keys::check_known_hosts_path(&self.address, self.port, key, path) {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(format!(
                        "unknown host key {got}: {} lists no key for {}; {remedy}",
                        path.display(),
                        self.address
                    )),
                    Err(russh::keys::Error::KeyChanged { line }) => Err(format!(
                        "host key mismatch ({} line {line} holds another key, got {got}); if \
                         the host was rebuilt, update that line",
                        path.display()
                    )),
                    Err(e) => Err(format!("cannot check {}: {e}", path.display())),
                }
            }
            HostKeyCheck::Unconfigured => Err(format!(
                "unknown host key {got}: pin it with host_key = \"{}\", list it in the \
                 provider's ssh.known_hosts file, or set trust_on_first_use = true",
                key.to_openssh().unwrap_or_else(|_| got.clone())
            )),
        }
    }
}

impl client::Handler for Verifier {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        presented: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let PublicKeyOrCertificate::PublicKey { key, .. } = presented else {
            self.verdict.lock().expect("key lock").refusal = Some(
                "the host presented a certificate; pin its plain host key with host_key".into(),
            );
            return Ok(false);
        };
        let judged = self.judge(key);
        let mut verdict = self.verdict.lock().expect("key lock");
        verdict.seen = Some(key.clone());
        verdict.refusal = judged.err();
        Ok(verdict.refusal.is_none())
    }
}

/// One SSH connection (opened on first use, again after it dropped).
struct Connection {
    target: SshTarget,
    label: String,
    bastion: Option<Arc<Connection>>,
    session: tokio::sync::Mutex<Option<Arc<Handle<Verifier>>>>,
    channels: Semaphore,
    seen_key: Arc<Mutex<KeyVerdict>>,
    opened: Arc<AtomicU64>,
    /// The last failed attempt to connect: operations queued behind it fail with the same
    /// error instead of each waiting out `connect_timeout` again.
    last_failure: Mutex<Option<(Instant, String)>>,
}

impl Connection {
    fn error(&self, message: impl Into<String>) -> Error {
        Error::Host {
            host: self.label.clone(),
            message: message.into(),
        }
    }

    /// The open session, opening one if there is none or the last one closed.
    async fn handle(&self) -> Result<Arc<Handle<Verifier>>, Error> {
        let mut session = self.session.lock().await;
        if let Some(handle) = session.as_ref() {
            if !handle.is_closed() {
                return Ok(handle.clone());
            }
            tracing::debug!(host = %self.label, "SSH connection closed; opening it again");
        }
        if let Some((at, message)) = self.last_failure.lock().expect("lock").clone() {
            if at.elapsed() < self.target.connect_timeout {
                return Err(self.error(message));
            }
        }
        match self.open().await {
            Ok(handle) => {
                let handle = Arc::new(handle);
                *session = Some(handle.clone());
                Ok(handle)
            }
            Err(e) => {
                if let Error::Host { message, .. } = &e {
                    *self.last_failure.lock().expect("lock") =
                        Some((Instant::now(), message.clone()));
                }
                Err(e)
            }
        }
    }

    /// Forgets `handle` if it is still the current session, so the next operation reconnects.
    async fn drop_session(&self, handle: &Arc<Handle<Verifier>>) {
        let mut session = self.session.lock().await;
        if session.as_ref().is_some_and(|h| Arc::ptr_eq(h, handle)) {
            *session = None;
        }
    }

    // Boxed: opening through a bastion opens the bastion's connection first (recursion).
    #[allow(clippy::type_complexity)]
    fn open(
        &self,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Handle<Verifier>, Error>> + Send + '_>,
    > {
        Box::pin(async move {
            let timeout = self.target.connect_timeout;
            let started = Instant::now();
            let config = Arc::new(client::Config {
                keepalive_interval: Some(self.target.keepalive),
                keepalive_max: 3,
                inactivity_timeout: None,
                nodelay: true,
                ..client::Config::default()
            });
            let verifier = Verifier {
                check: self.target.host_key.clone(),
                address: self.target.address.clone(),
                port: self.target.port,
                verdict: self.seen_key.clone(),
            };
            let timeout_text = crate::duration::format(timeout);
            let connected = match &self.bastion {
                None => {
                    let stream = self.tcp_connect(timeout).await?;
                    let remaining = timeout
                        .saturating_sub(started.elapsed())
                        .max(Duration::from_secs(1));
                    tokio::time::timeout(
                        remaining,
                        client::connect_stream(config, stream, verifier),
                    )
                    .await
                }
                Some(bastion) => {
                    let jump = bastion.handle().await?;
                    let channel = jump
                        .channel_open_direct_tcpip(
                            self.target.address.clone(),
                            u32::from(self.target.port),
                            "127.0.0.1",
                            0,
                        )
                        .await
                        .map_err(|e| {
                            self.error(format!(
                                "the bastion {} cannot reach {}:{}: {e}",
                                bastion.label, self.target.address, self.target.port
                            ))
                        })?;
                    tokio::time::timeout(
                        timeout,
                        client::connect_stream(config, channel.into_stream(), verifier),
                    )
                    .await
                }
            };
            let mut handle = match connected {
                Err(_) => {
                    return Err(self.error(format!(
                        "no SSH handshake after {timeout_text} (connect_timeout)"
                    )))
                }
                Ok(Err(e)) => {
                    let refusal = self.seen_key.lock().expect("key lock").refusal.clone();
                    return Err(
                        self.error(refusal.unwrap_or_else(|| format!("SSH handshake failed: {e}")))
                    );
                }
                Ok(Ok(handle)) => handle,
            };
            // Authentication shares the connect timeout: a session that dies half-way must
            // not hold the connection's lock (and every operation waiting on it) forever.
            let remaining = timeout
                .saturating_sub(started.elapsed())
                .max(Duration::from_secs(1));
            match tokio::time::timeout(remaining, self.authenticate(&mut handle)).await {
                Ok(result) => result?,
                Err(_) => {
                    return Err(self.error(format!(
                        "no answer to authentication within {timeout_text} (connect_timeout)"
                    )))
                }
            }
            self.opened.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(host = %self.label, "SSH connection open");
            Ok(handle)
        })
    }

    /// TCP connect, retried while the host refuses or cannot be reached (a VM still
    /// booting) until `timeout` has passed.
    async fn tcp_connect(&self, timeout: Duration) -> Result<tokio::net::TcpStream, Error> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(100);
        let address = (self.target.address.as_str(), self.target.port);
        loop {
            let remaining = timeout.saturating_sub(started.elapsed());
            let last = match tokio::time::timeout(
                remaining,
                tokio::net::TcpStream::connect(address),
            )
            .await
            {
                Ok(Ok(stream)) => return Ok(stream),
                Ok(Err(e)) => e,
                Err(_) => {
                    return Err(self.error(format!(
                        "connection timed out after {} (connect_timeout)",
                        crate::duration::format(timeout)
                    )))
                }
            };
            use std::io::ErrorKind::*;
            let retryable = matches!(
                last.kind(),
                ConnectionRefused
                    | ConnectionReset
                    | HostUnreachable
                    | NetworkUnreachable
                    | TimedOut
            );
            let remaining = timeout.saturating_sub(started.elapsed());
            if !retryable || remaining.is_zero() {
                let reason = match last.kind() {
                    ConnectionRefused => "connection refused".to_owned(),
                    _ => last.to_string(),
                };
                return Err(self.error(format!(
                    "{reason} after {} (connect_timeout)",
                    crate::duration::format(timeout)
                )));
            }
            tokio::time::sleep(pause.min(remaining)).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }

    async fn authenticate(&self, handle: &mut Handle<Verifier>) -> Result<(), Error> {
        let user = self.target.user.clone();
        let lost = |e: russh::Error| self.error(format!("authentication failed: {e}"));
        let rsa_hash = handle
            .best_supported_rsa_hash()
            .await
            .map_err(lost)?
            .unwrap_or(Some(russh::keys::HashAlg::Sha256));
        match &self.target.auth {
            Auth::Key { key, passphrase } => {
                let key = target::parse_private_key(key, passphrase.as_ref())
                    .map_err(|e| self.error(format!("private_key {e}")))?;
                let accepted = handle
                    .authenticate_publickey(
                        user.clone(),
                        PrivateKeyWithHashAlg::new(Arc::new(key), rsa_hash),
                    )
                    .await
                    .map_err(lost)?;
                if accepted.success() {
                    return Ok(());
                }
                Err(self.error(format!(
                    "the host refused the private key for {user} (publickey authentication)"
                )))
            }
            Auth::Agent => {
                let mut agent = AgentClient::connect_env().await.map_err(|e| {
                    self.error(format!("cannot reach the SSH agent (SSH_AUTH_SOCK): {e}"))
                })?;
                let identities = agent
                    .request_identities()
                    .await
                    .map_err(|e| self.error(format!("the SSH agent lists no keys: {e}")))?;
                let count = identities.len();
                for identity in identities {
                    let AgentIdentity::PublicKey { key, .. } = identity else {
                        continue;
                    };
                    let hash = if key.algorithm().is_rsa() {
                        rsa_hash
                    } else {
                        None
                    };
                    match handle
                        .authenticate_publickey_with(user.clone(), key, hash, &mut agent)
                        .await
                    {
                        Ok(result) if result.success() => return Ok(()),
                        Ok(_) => continue,
                        Err(e) => {
                            return Err(self.error(format!("the SSH agent could not sign: {e}")))
                        }
                    }
                }
                Err(self.error(format!(
                    "the host refused all {count} key(s) of the SSH agent for {user}"
                )))
            }
        }
    }

    /// Opens a session channel. sshd refuses one (`open failed`) while it still counts
    /// sessions whose close is in flight, though we never have more than [`MAX_CHANNELS`]
    /// open: nothing has run yet, so trying again shortly is safe.
    async fn open_channel(
        &self,
        handle: &Handle<Verifier>,
    ) -> Result<russh::Channel<client::Msg>, russh::Error> {
        let mut pause = Duration::from_millis(20);
        for _ in 0..12 {
            match handle.channel_open_session().await {
                Err(russh::Error::ChannelOpenFailure(reason)) if !handle.is_closed() => {
                    tracing::debug!(host = %self.label, ?reason, "channel refused; trying again");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(500));
                }
                other => return other,
            }
        }
        handle.channel_open_session().await
    }

    /// Runs one remote command line with `stdin` and collects its output.
    async fn exec(&self, what: &str, line: String, stdin: &[u8]) -> Result<Output, Error> {
        let _permit = self
            .channels
            .acquire()
            .await
            .expect("semaphore is never closed");
        let handle = self.handle().await?;
        let mut channel = match self.open_channel(&handle).await {
            Ok(channel) => channel,
            Err(e) => {
                self.drop_session(&handle).await;
                return Err(self.error(format!(
                    "{what}: the connection dropped ({e}); run again to retry"
                )));
            }
        };
        let sent = async {
            channel.exec(true, line.into_bytes()).await?;
            if !stdin.is_empty() {
                channel.data(stdin).await?;
            }
            channel.eof().await
        }
        .await;
        if let Err(e) = sent {
            self.drop_session(&handle).await;
            return Err(self.error(format!(
                "{what}: the connection dropped ({e}); run again to retry"
            )));
        }
        let mut output = Output {
            status: None,
            stdout: Vec::new(),
            stderr: Vec::new(),
        };
        let mut ended = false;
        while let Some(message) = channel.wait().await {
            match message {
                ChannelMsg::Data { data } => output.stdout.extend_from_slice(&data),
                ChannelMsg::ExtendedData { data, ext: 1 } => output.stderr.extend_from_slice(&data),
                ChannelMsg::ExitStatus { exit_status } => {
                    output.status = Some(exit_status);
                    ended = true;
                }
                ChannelMsg::ExitSignal { .. } => ended = true,
                ChannelMsg::Failure => {
                    return Err(self.error(format!("{what}: the host refused to run the command")))
                }
                _ => {}
            }
        }
        if !ended {
            self.drop_session(&handle).await;
            return Err(self.error(format!(
                "{what}: the connection dropped before the command finished; its effect is \
                 unknown, run again to converge"
            )));
        }
        Ok(output)
    }
}
