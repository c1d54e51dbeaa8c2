//! The Proxmox VE API client: HTTPS with the server certificate verified (against the
//! system roots, a `ca_file`, or not at all with `insecure`), ticket login with the CSRF
//! token and a new login when the ticket expires, or an API token; retries with backoff
//! only for requests that are safe to repeat; the cluster's guest list shared by all
//! callers; and guest id allocation that never hands out one id twice.
//!
//! Secrets never reach a log or an error: the password and token live in [`Secret`],
//! request parameters are not logged, and errors show method, endpoint and path only.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use tokio::sync::Mutex;

use super::error::ProxmoxError;
use super::props;
use crate::deadline::{Backoff, Deadline};
use crate::secret::Secret;

/// How a client proves who it is.
#[derive(Clone, Debug)]
pub enum Auth {
    /// `root@pam` and its password: a ticket (valid 2 hours) is fetched at the first
    /// request and fetched again when PVE says it is no longer valid.
    Password { username: String, password: Secret },
    /// An API token `user@realm!tokenid=secret`, sent with every request.
    Token(Secret),
}

#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// `https://host:8006/` (a trailing `/api2/json` is accepted too).
    pub endpoint: String,
    pub auth: Auth,
    /// PEM file with the CA (or self-signed) certificates to trust instead of the system's.
    pub ca_file: Option<PathBuf>,
    /// Do not verify the server's certificate at all.
    pub insecure: bool,
    /// Longest wait for one answer.
    pub request_timeout: Duration,
}

impl ClientConfig {
    pub fn new(endpoint: impl Into<String>, auth: Auth) -> Self {
        Self {
            endpoint: endpoint.into(),
            auth,
            ca_file: None,
            insecure: false,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Checks an endpoint: an `https://` URL with a host. Returns the base without a trailing
/// slash or `/api2/json`.
pub fn check_endpoint(endpoint: &str) -> Result<String, String> {
    let url = url::Url::parse(endpoint).map_err(|e| {
        format!("{endpoint:?} is not a URL ({e}); expected e.g. \"https://pve.lab:8006/\"")
    })?;
    if url.scheme() != "https" {
        return Err(format!(
            "{endpoint:?} is not an https URL: the Proxmox API is only served over HTTPS (e.g. \"https://pve.lab:8006/\")"
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{endpoint:?} has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "the endpoint must not carry credentials; use username/password or api_token".into(),
        );
    }
    let mut base = url.as_str().trim_end_matches('/').to_string();
    if let Some(stripped) = base.strip_suffix("/api2/json") {
        base = stripped.to_string();
    }
    Ok(base)
}

/// Checks an API token `user@realm!tokenid=secret` (the secret part is never shown).
pub fn check_api_token(token: &str) -> Result<(), String> {
    let Some((id, secret)) = token.split_once('=') else {
        return Err(
            "an API token is \"user@realm!tokenid=secret\": the \"=secret\" part is missing".into(),
        );
    };
    let Some((user, name)) = id.split_once('!') else {
        return Err("an API token is \"user@realm!tokenid=secret\": the \"!\" between user and token id is missing".into());
    };
    if !user.contains('@') || user.starts_with('@') || user.ends_with('@') {
        return Err(
            "an API token is \"user@realm!tokenid=secret\": the user needs a realm, e.g. root@pam"
                .into(),
        );
    }
    if name.is_empty() || secret.is_empty() {
        return Err("an API token is \"user@realm!tokenid=secret\": the token id and the secret must not be empty".into());
    }
    Ok(())
}

/// Checks a user name `user@realm`.
pub fn check_username(username: &str) -> Result<(), String> {
    match username.split_once('@') {
        Some((user, realm)) if !user.is_empty() && !realm.is_empty() => Ok(()),
        _ => Err(format!(
            "{username:?} is not user@realm, e.g. \"root@pam\" or \"terraform@pve\""
        )),
    }
}

/// A guest as the cluster's resource list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guest {
    pub vmid: u32,
    /// `qemu` or `lxc`.
    pub kind: String,
    pub node: String,
    pub name: Option<String>,
    /// `running`, `stopped`, ... (`unknown` when its node is offline).
    pub status: String,
    pub template: bool,
    pub lock: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

/// Whether a request may be sent again after a network error left its fate unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repeat {
    /// Reads, and writes that set absolute values (a config PUT, a resize to a size, a
    /// delete): doing them twice ends in the same state.
    Safe,
    /// Creates and power actions: repeated only when it is certain the first never left.
    Once,
}

struct Session {
    ticket: Secret,
    csrf: Secret,
    generation: u64,
}

/// How long the shared guest list is reused by reads.
pub const GUEST_LIST_MAX_AGE: Duration = Duration::from_secs(20);
/// Attempts for a request that fails on the network (reset, refused) or with a proxy status.
const ATTEMPTS: u32 = 8;
/// Attempts for a request that got no answer in time: each costs a whole request timeout.
const TIMEOUT_ATTEMPTS: u32 = 2;

pub struct Client {
    http: reqwest::Client,
    endpoint: String,
    auth: Auth,
    request_timeout: Duration,
    session: Mutex<Option<Arc<Session>>>,
    logins: AtomicU64,
    requests: AtomicU64,
    guests: Mutex<Option<(Instant, Arc<Vec<Guest>>)>>,
    /// Ids this process has created guests with (so one is never handed out twice) and
    /// the lock held while an id is chosen and its create request sent.
    ids: Mutex<BTreeSet<u32>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Self, ProxmoxError> {
        let endpoint = check_endpoint(&config.endpoint).map_err(ProxmoxError::Config)?;
        match &config.auth {
            Auth::Token(token) => check_api_token(token.expose()).map_err(ProxmoxError::Config)?,
            Auth::Password { username, .. } => {
                check_username(username).map_err(ProxmoxError::Config)?
            }
        }
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("tabiri-homelab/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(32)
            .redirect(reqwest::redirect::Policy::none());
        if config.insecure {
            builder = builder.danger_accept_invalid_certs(true);
        } else if let Some(path) = &config.ca_file {
            use rustls::pki_types::{pem::PemObject, CertificateDer};
            let pem = std::fs::read(path).map_err(|e| {
                ProxmoxError::Config(format!("cannot read ca_file {}: {e}", path.display()))
            })?;
            let certs = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| {
                    ProxmoxError::Config(format!(
                        "ca_file {} holds no usable PEM certificate: {e}",
                        path.display()
                    ))
                })?;
            if certs.is_empty() {
                return Err(ProxmoxError::Config(format!(
                    "ca_file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                    path.display()
                )));
            }
            let tls = super::ca_file::client_config(certs)
                .map_err(|e| ProxmoxError::Config(format!("ca_file {}: {e}", path.display())))?;
            builder = builder.use_preconfigured_tls(tls);
        }
        let http = builder.build().map_err(|e| {
            ProxmoxError::Config(format!(
                "cannot build the HTTPS client: {}",
                error_chain(&e)
            ))
        })?;
        Ok(Self {
            http,
            endpoint,
            auth: config.auth,
            request_timeout: config.request_timeout,
            session: Mutex::new(None),
            logins: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            guests: Mutex::new(None),
            ids: Mutex::new(BTreeSet::new()),
        })
    }

    /// `https://host:8006`, as errors show it.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// HTTP requests sent so far (logins included).
    pub fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Logins (tickets fetched) so far.
    pub fn login_count(&self) -> u64 {
        self.logins.load(Ordering::Relaxed)
    }

    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Json, ProxmoxError> {
        self.call(Method::Get, path, query, Repeat::Safe, None)
            .await
    }

    pub async fn post(&self, path: &str, form: &[(&str, String)]) -> Result<Json, ProxmoxError> {
        self.call(Method::Post, path, form, Repeat::Once, None)
            .await
    }

    pub async fn put(&self, path: &str, form: &[(&str, String)]) -> Result<Json, ProxmoxError> {
        self.call(Method::Put, path, form, Repeat::Safe, None).await
    }

    pub async fn delete(&self, path: &str, query: &[(&str, String)]) -> Result<Json, ProxmoxError> {
        self.call(Method::Delete, path, query, Repeat::Safe, None)
            .await
    }

    /// One API call: `data` of the answer, or the error with PVE's own message and
    /// per-field errors. Network errors and proxy statuses (502-504, 595, 596) are retried
    /// with backoff when `repeat` allows it; a 401 on a ticket logs in again once.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        params: &[(&str, String)],
        repeat: Repeat,
        timeout: Option<Duration>,
    ) -> Result<Json, ProxmoxError> {
        let mut backoff = Backoff::new(Duration::from_millis(150), Duration::from_secs(3));
        let mut relogged = false;
        let mut attempt = 0;
        let mut timeouts = 0;
        loop {
            attempt += 1;
            let session = match &self.auth {
                Auth::Password { .. } => Some(self.session().await?),
                Auth::Token(_) => None,
            };
            match self
                .send(method, path, params, session.as_deref(), timeout)
                .await
            {
                Ok(data) => return Ok(data),
                Err(Failure::Status(e)) => {
                    let status = match &e {
                        ProxmoxError::Api { status, .. } => *status,
                        _ => 0,
                    };
                    if status == 401 && !relogged {
                        if let Some(session) = &session {
                            tracing::debug!(path, "ticket refused; logging in again");
                            self.forget_session(session.generation).await;
                            relogged = true;
                            attempt -= 1;
                            continue;
                        }
                    }
                    let proxy = matches!(status, 502..=504 | 595 | 596);
                    if proxy && repeat == Repeat::Safe && attempt < ATTEMPTS {
                        tokio::time::sleep(backoff.next_delay()).await;
                        continue;
                    }
                    return Err(e);
                }
                Err(Failure::Network {
                    message,
                    sent,
                    timed_out,
                }) => {
                    timeouts += u32::from(timed_out);
                    let may_repeat =
                        (repeat == Repeat::Safe || !sent) && !is_certificate_problem(&message);
                    if may_repeat && attempt < ATTEMPTS && timeouts < TIMEOUT_ATTEMPTS {
                        tracing::debug!(path, attempt, "network error, retrying: {message}");
                        tokio::time::sleep(backoff.next_delay()).await;
                        continue;
                    }
                    return Err(ProxmoxError::Transport {
                        method: method.as_str().into(),
                        endpoint: self.endpoint.clone(),
                        path: path.into(),
                        message,
                        attempts: attempt,
                        maybe_sent: sent,
                    });
                }
            }
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        params: &[(&str, String)],
        session: Option<&Session>,
        timeout: Option<Duration>,
    ) -> Result<Json, Failure> {
        let url = format!("{}/api2/json{}", self.endpoint, path);
        let mut request = match method {
            Method::Get => self.http.get(&url),
            Method::Post => self.http.post(&url),
            Method::Put => self.http.put(&url),
            Method::Delete => self.http.delete(&url),
        };
        request = match method {
            Method::Get | Method::Delete if !params.is_empty() => request.query(params),
            Method::Post | Method::Put => request
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(encode_form(params)),
            _ => request,
        };
        match (&self.auth, session) {
            (Auth::Token(token), _) => {
                request =
                    request.header("Authorization", format!("PVEAPIToken={}", token.expose()));
            }
            (Auth::Password { .. }, Some(session)) => {
                request = request.header(
                    "Cookie",
                    format!("PVEAuthCookie={}", session.ticket.expose()),
                );
                if method != Method::Get {
                    request = request.header("CSRFPreventionToken", session.csrf.expose());
                }
            }
            _ => {}
        }
        request = request.timeout(timeout.unwrap_or(self.request_timeout));
        self.requests.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(method = method.as_str(), path, "proxmox request");
        let response = request.send().await.map_err(|e| Failure::Network {
            sent: !e.is_connect(),
            timed_out: e.is_timeout(),
            message: describe_reqwest(&e),
        })?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| Failure::Network {
            sent: true,
            timed_out: e.is_timeout(),
            message: format!("reading the answer: {}", describe_reqwest(&e)),
        })?;
        let json: Json = serde_json::from_slice(&body).unwrap_or(Json::Null);
        if status.is_success() {
            return Ok(json.get("data").cloned().unwrap_or(Json::Null));
        }
        let message = json
            .get("message")
            .and_then(Json::as_str)
            .map(|m| m.trim_end().to_string())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
        let errors = json
            .get("errors")
            .and_then(Json::as_object)
            .map(|fields| {
                fields
                    .iter()
                    .map(|(k, v)| {
                        let text = v
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string());
                        (k.clone(), text.trim_end().to_string())
                    })
                    .collect()
            })
            .unwrap_or_default();
        Err(Failure::Status(ProxmoxError::Api {
            method: method.as_str().into(),
            path: path.into(),
            status: status.as_u16(),
            message,
            errors,
        }))
    }

    async fn session(&self) -> Result<Arc<Session>, ProxmoxError> {
        let mut slot = self.session.lock().await;
        if let Some(session) = slot.as_ref() {
            return Ok(session.clone());
        }
        let session = Arc::new(self.login().await?);
        *slot = Some(session.clone());
        Ok(session)
    }

    async fn forget_session(&self, generation: u64) {
        let mut slot = self.session.lock().await;
        if slot.as_ref().is_some_and(|s| s.generation == generation) {
            *slot = None;
        }
    }

    async fn login(&self) -> Result<Session, ProxmoxError> {
        let Auth::Password { username, password } = &self.auth else {
            return Err(ProxmoxError::Config("no password to log in with".into()));
        };
        let params = [
            ("username", username.clone()),
            ("password", password.expose().to_string()),
        ];
        let mut backoff = Backoff::new(Duration::from_millis(150), Duration::from_secs(3));
        let mut attempt = 0;
        let data = loop {
            attempt += 1;
            match self
                .send(Method::Post, "/access/ticket", &params, None, None)
                .await
            {
                Ok(data) => break data,
                Err(Failure::Status(ProxmoxError::Api {
                    status, message, ..
                })) if status == 401 => {
                    return Err(ProxmoxError::Api {
                        method: "POST".into(),
                        path: "/access/ticket".into(),
                        status,
                        message: format!("{message} (login as {username})"),
                        errors: Default::default(),
                    })
                }
                Err(Failure::Status(e)) => return Err(e),
                Err(Failure::Network {
                    message,
                    sent,
                    timed_out,
                }) => {
                    if attempt < ATTEMPTS && !timed_out && !is_certificate_problem(&message) {
                        tokio::time::sleep(backoff.next_delay()).await;
                        continue;
                    }
                    return Err(ProxmoxError::Transport {
                        method: "POST".into(),
                        endpoint: self.endpoint.clone(),
                        path: "/access/ticket".into(),
                        message,
                        attempts: attempt,
                        maybe_sent: sent,
                    });
                }
            }
        };
        let field = |name: &str| {
            data.get(name)
                .and_then(Json::as_str)
                .map(str::to_string)
                .ok_or_else(|| ProxmoxError::Protocol {
                    method: "POST".into(),
                    path: "/access/ticket".into(),
                    message: format!("no {name} in the login answer"),
                })
        };
        if data.get("NeedTFA").is_some() {
            return Err(ProxmoxError::Config(format!(
                "{username} needs a second factor (TFA) to log in; use an API token (api_token) for automation"
            )));
        }
        let generation = self.logins.fetch_add(1, Ordering::Relaxed) + 1;
        Ok(Session {
            ticket: Secret::new(field("ticket")?),
            csrf: Secret::new(field("CSRFPreventionToken")?),
            generation,
        })
    }

    // ------------------------------------------------------------------ guests

    /// The cluster's VMs and containers, read once (`GET /cluster/resources?type=vm`) and
    /// shared by every caller for `max_age`; concurrent callers wait for the same read.
    pub async fn guests(&self, max_age: Duration) -> Result<Arc<Vec<Guest>>, ProxmoxError> {
        let mut slot = self.guests.lock().await;
        if let Some((at, list)) = slot.as_ref() {
            if at.elapsed() <= max_age {
                return Ok(list.clone());
            }
        }
        let data = self
            .get("/cluster/resources", &[("type", "vm".to_string())])
            .await?;
        let list = Arc::new(parse_guests(&data));
        *slot = Some((Instant::now(), list.clone()));
        Ok(list)
    }

    /// Forgets the shared guest list (after this process changed a guest).
    pub async fn invalidate_guests(&self) {
        *self.guests.lock().await = None;
    }

    /// Finds a guest by id in the shared list.
    pub async fn find_guest(&self, vmid: u32) -> Result<Option<Guest>, ProxmoxError> {
        let list = self.guests(GUEST_LIST_MAX_AGE).await?;
        Ok(list.iter().find(|g| g.vmid == vmid).cloned())
    }

    /// Creates a guest under an id nobody else holds: `wanted`, or the next free one from
    /// `/cluster/nextid`. The id is chosen and `create` sent under one lock, so parallel
    /// creates in this process never pick the same id; when another client took it first
    /// (PVE answers "already exists"), the next id is tried.
    pub async fn create_with_id<F, Fut, T>(
        &self,
        wanted: Option<u32>,
        deadline: &Deadline,
        mut create: F,
    ) -> Result<(u32, T), ProxmoxError>
    where
        F: FnMut(u32) -> Fut,
        Fut: std::future::Future<Output = Result<T, ProxmoxError>>,
    {
        let mut skipped: BTreeSet<u32> = BTreeSet::new();
        let mut last_error = None;
        for _ in 0..20 {
            if deadline.expired() {
                break;
            }
            let mut taken = self.ids.lock().await;
            let id = match wanted {
                Some(id) => id,
                None => {
                    let data = self.get("/cluster/nextid", &[]).await?;
                    let mut id = props::json_text(&data)
                        .and_then(|t| t.parse::<u32>().ok())
                        .ok_or_else(|| ProxmoxError::Protocol {
                            method: "GET".into(),
                            path: "/cluster/nextid".into(),
                            message: format!("not an id: {data}"),
                        })?;
                    while taken.contains(&id) || skipped.contains(&id) {
                        id += 1;
                    }
                    id
                }
            };
            match create(id).await {
                Ok(value) => {
                    taken.insert(id);
                    drop(taken);
                    self.invalidate_guests().await;
                    return Ok((id, value));
                }
                Err(e) if e.is_id_taken() && wanted.is_none() => {
                    skipped.insert(id);
                    last_error = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_error.unwrap_or_else(|| deadline.ended("a free guest id", "none").into()))
    }
}

enum Failure {
    Status(ProxmoxError),
    Network {
        message: String,
        sent: bool,
        timed_out: bool,
    },
}

fn parse_guests(data: &Json) -> Vec<Guest> {
    data.as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| {
                    let kind = item.get("type")?.as_str()?;
                    if kind != "qemu" && kind != "lxc" {
                        return None;
                    }
                    Some(Guest {
                        vmid: item.get("vmid")?.as_u64()? as u32,
                        kind: kind.to_string(),
                        node: item.get("node")?.as_str()?.to_string(),
                        name: item.get("name").and_then(Json::as_str).map(str::to_string),
                        status: item
                            .get("status")
                            .and_then(Json::as_str)
                            .unwrap_or("unknown")
                            .to_string(),
                        template: item
                            .get("template")
                            .and_then(props::json_text)
                            .is_some_and(|t| t == "1"),
                        lock: item
                            .get("lock")
                            .and_then(Json::as_str)
                            .filter(|l| !l.is_empty())
                            .map(str::to_string),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `application/x-www-form-urlencoded` of the parameters.
pub fn encode_form(params: &[(&str, String)]) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        serializer.append_pair(k, v);
    }
    serializer.finish()
}

fn describe_reqwest(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "no answer in time (request timeout)".to_string();
    }
    let text = e.without_url_ref();
    if is_certificate_problem(&text) {
        return format!(
            "{text} (the server's certificate is not trusted: give its CA in the proxmox block's ca_file, or set insecure = true)"
        );
    }
    text
}

/// TLS verification failures do not go away by asking again.
fn is_certificate_problem(text: &str) -> bool {
    text.contains("certificate") || text.contains("UnknownIssuer")
}

trait WithoutUrl {
    fn without_url_ref(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_ref(&self) -> String {
        // reqwest's Display repeats the URL; the error already shows endpoint and path.
        let mut text = crate::error::source_chain(self);
        if text.is_empty() {
            text = if self.is_connect() {
                "cannot connect".into()
            } else {
                "request failed".into()
            };
        }
        text
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_https() {
        assert_eq!(
            check_endpoint("https://127.0.0.2:8006/").unwrap(),
            "https://127.0.0.2:8006"
        );
        assert_eq!(
            check_endpoint("https://pve:8006/api2/json").unwrap(),
            "https://pve:8006"
        );
        assert!(check_endpoint("http://127.0.0.2:8006/")
            .unwrap_err()
            .contains("not an https URL"));
        assert!(check_endpoint("127.0.0.2:8006").is_err());
    }

    #[test]
    fn api_tokens_need_user_bang_id_and_secret() {
        assert!(check_api_token("root@pam!tf=0b7c8a1e").is_ok());
        assert!(check_api_token("root@pam-tf=0b7c")
            .unwrap_err()
            .contains('!'));
        assert!(check_api_token("root@pam!tf").is_err());
        let e = check_api_token("root@pam-tf=s3cr3t").unwrap_err();
        assert!(!e.contains("s3cr3t"));
    }

    #[test]
    fn guests_are_read_from_cluster_resources() {
        let data = serde_json::json!([
            {"id": "qemu/100", "type": "qemu", "node": "pve1", "vmid": 100, "name": "a", "status": "running", "template": 0},
            {"id": "lxc/200", "type": "lxc", "node": "pve1", "vmid": 200, "name": "b", "status": "stopped", "template": 0, "lock": "backup"},
            {"id": "node/pve1", "type": "node", "node": "pve1", "status": "online"}
        ]);
        let guests = parse_guests(&data);
        assert_eq!(guests.len(), 2);
        assert_eq!(guests[1].lock.as_deref(), Some("backup"));
    }
}
