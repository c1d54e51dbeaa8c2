//! The `netbird` agent on a host, driven through [`Host`]: its own `status --json` (what
//! it is connected to, its mesh IP and FQDN), `up`, `down` and `logout`.
//!
//! The setup key travels in the `NB_SETUP_KEY` environment variable, which the agent
//! reads like its `--setup-key` flag; [`Host`] sends environment values over standard
//! input, so the key is never in a command line another user can see in the process list.
//!
//! `netbird up` on an agent that is already connected answers "Already connected" and
//! ignores every flag, a new management URL included; so enrolling with another URL
//! takes the agent down first.

use serde_json::Value as Json;

use super::NetbirdError;
use crate::host::{Command, Host};
use crate::secret::Secret;

/// What `netbird status --json` says, in the parts that matter here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// `Connected`, `Idle` (down), `NeedsLogin`, `LoginFailed`, `Connecting`, ...
    pub daemon_status: String,
    pub management_url: String,
    pub management_connected: bool,
    /// The mesh IP without its prefix length.
    pub ip: String,
    pub fqdn: String,
}

impl Status {
    pub fn parse(json: &Json) -> Status {
        let text = |value: Option<&Json>| value.and_then(Json::as_str).unwrap_or("").to_string();
        let management = json.get("management");
        let ip = text(json.get("netbirdIp"));
        Status {
            daemon_status: text(json.get("daemonStatus")),
            management_url: text(management.and_then(|m| m.get("url"))),
            management_connected: management
                .and_then(|m| m.get("connected"))
                .and_then(Json::as_bool)
                .unwrap_or(false),
            ip: ip.split('/').next().unwrap_or("").to_string(),
            fqdn: text(json.get("fqdn")).trim_end_matches('.').to_string(),
        }
    }

    pub fn connected(&self) -> bool {
        self.daemon_status == "Connected"
    }

    /// Connected to the management service at `url`.
    pub fn connected_to(&self, url: &str) -> bool {
        self.connected() && super::same_management_url(&self.management_url, url)
    }

    /// The management URL this agent is enrolled with and connected to, empty otherwise:
    /// what a peer's state records, so an agent logged out, down or pointed elsewhere
    /// shows as a change.
    pub fn enrolled_url(&self) -> String {
        if self.connected() {
            self.management_url.clone()
        } else {
            String::new()
        }
    }

    /// A one-line summary for messages.
    pub fn summary(&self) -> String {
        if self.management_url.is_empty() {
            format!("agent {}", self.daemon_status)
        } else {
            format!(
                "agent {} (management {})",
                self.daemon_status, self.management_url
            )
        }
    }
}

fn agent_error(host: &dyn Host, command: &Command, detail: String) -> NetbirdError {
    NetbirdError::Host(crate::Error::Host {
        host: host.name(),
        message: format!("`{}`: {detail}", command.display()),
    })
}

/// `netbird status --json`.
pub async fn status(host: &dyn Host) -> Result<Status, NetbirdError> {
    let command = Command::new(["netbird", "status", "--json"]);
    let output = host.run(&command).await?;
    if output.status == Some(127) {
        return Err(agent_error(
            host,
            &command,
            "the NetBird agent is not installed (no `netbird` on the PATH); install it first, e.g. from pkgs.netbird.io".into(),
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    match serde_json::from_str::<Json>(stdout.trim()) {
        Ok(json) => Ok(Status::parse(&json)),
        // Some agent versions print words instead of JSON before the first login.
        Err(_)
            if stdout.contains("NeedsLogin") || output.stderr_excerpt().contains("NeedsLogin") =>
        {
            Ok(Status {
                daemon_status: "NeedsLogin".into(),
                ..Status::default()
            })
        }
        Err(_) => Err(agent_error(
            host,
            &command,
            format!("no status JSON ({})", output.failure_reason()),
        )),
    }
}

async fn run(host: &dyn Host, command: Command) -> Result<String, NetbirdError> {
    let output = host.run(&command).await?;
    if output.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    let mut reason = output.stderr_excerpt();
    if reason.is_empty() {
        reason = crate::host::excerpt(&output.stdout);
    }
    if reason.is_empty() {
        reason = output.status_text();
    }
    Err(agent_error(host, &command, reason))
}

/// `netbird up` with `url`, the key when one is given (in the environment) and the
/// hostname the peer is to report, when one is given.
pub async fn up(
    host: &dyn Host,
    url: &str,
    key: Option<&Secret>,
    hostname: Option<&str>,
) -> Result<String, NetbirdError> {
    let mut command = Command::new(["netbird", "up", "--management-url", url]);
    if let Some(hostname) = hostname {
        command
            .argv
            .extend(["--hostname".to_string(), hostname.to_string()]);
    }
    if let Some(key) = key {
        command = command.env("NB_SETUP_KEY", key.clone());
    }
    run(host, command).await
}

pub async fn down(host: &dyn Host) -> Result<(), NetbirdError> {
    run(host, Command::new(["netbird", "down"])).await.map(drop)
}

/// Forgets the agent's identity: the next `up` needs a setup key again.
pub async fn logout(host: &dyn Host) -> Result<(), NetbirdError> {
    run(host, Command::new(["netbird", "logout"]))
        .await
        .map(drop)
}

/// What [`enrol`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enrolment {
    /// The agent was connected to `url` already: nothing was run.
    Already(Status),
    /// The agent was brought up (after going down, when it was connected elsewhere).
    Enrolled(Status),
}

impl Enrolment {
    pub fn status(&self) -> &Status {
        match self {
            Enrolment::Already(s) | Enrolment::Enrolled(s) => s,
        }
    }
}

/// Connects the agent to `url`: nothing when it is connected there already; otherwise
/// down (if it is connected elsewhere, since `up` would ignore the new URL), then up with
/// the key. Fails when the agent does not end up connected to `url`.
pub async fn enrol(
    host: &dyn Host,
    url: &str,
    key: Option<&Secret>,
    hostname: Option<&str>,
) -> Result<Enrolment, NetbirdError> {
    let before = status(host).await?;
    if before.connected_to(url) {
        return Ok(Enrolment::Already(before));
    }
    if before.connected() || before.daemon_status == "Connecting" {
        down(host).await?;
    }
    up(host, url, key, hostname).await?;
    let after = status(host).await?;
    if !after.connected_to(url) || after.ip.is_empty() {
        return Err(NetbirdError::Host(crate::Error::Host {
            host: host.name(),
            message: format!(
                "`netbird up` finished but the {} is not connected to {url} with a mesh IP",
                after.summary()
            ),
        }));
    }
    Ok(Enrolment::Enrolled(after))
}

/// Takes the agent off the mesh: down and logged out, so it holds no identity.
pub async fn leave(host: &dyn Host) -> Result<(), NetbirdError> {
    let now = status(host).await?;
    if now.daemon_status != "NeedsLogin" {
        if now.daemon_status != "Idle" {
            down(host).await?;
        }
        logout(host).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields() {
        let json = serde_json::json!({"daemonStatus": "Connected", "netbirdIp": "100.90.0.7/16",
            "fqdn": "nextcloud.netbird.selfhosted", "management": {"url": "https://nb.lab:443", "connected": true}});
        let s = Status::parse(&json);
        assert_eq!(s.ip, "100.90.0.7");
        assert!(s.connected_to("https://nb.lab/"));
        assert!(!s.connected_to("https://other.lab"));
        assert_eq!(s.enrolled_url(), "https://nb.lab:443");
        let idle = Status {
            daemon_status: "Idle".into(),
            ..s
        };
        assert_eq!(idle.enrolled_url(), "");
    }
}
