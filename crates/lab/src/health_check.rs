//! The health check capability: is a service up? An HTTP(S) `GET` answering with an
//! expected status (and body), or a TCP port accepting connections, retried a number of
//! times with a delay in between.
//!
//! Read-only, so it has no plan: [`HealthCheck::validate`], then [`run`], which returns a
//! [`Report`] whether or not the service is healthy. Surfaces decide what unhealthy means
//! for them (the Ansible module fails the task). Needs feature `blocking-http`.

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::format_duration;
use crate::prometheus_target::split_host_port;
use crate::secret::Secret;
use crate::validation::Validate;
use crate::validation::{FieldError, PathSegment};
use crate::Error;

/// Characters of the body shown when the check fails.
pub const BODY_EXCERPT_CHARS: usize = 200;

/// A check that a service answers: `url` (HTTP GET) or `tcp` (connect), exactly one.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    /// `http` or `https` URL to `GET`, e.g. `https://nas.lab/health`. Redirects are
    /// followed. Put credentials in `url_username` / `url_password`, not in the URL.
    #[serde(default)]
    pub url: Option<String>,

    /// `host:port` to open a TCP connection to, e.g. `db.lab:5432`; healthy when the
    /// connection is accepted.
    #[serde(default)]
    pub tcp: Option<String>,

    /// PEM file with the CA certificates to trust for `https`, instead of the system's.
    #[serde(default)]
    pub ca_file: Option<String>,

    /// Check the server's certificate for `https`. Turn off only for throwaway lab
    /// services with self-signed certificates.
    #[serde(default = "crate::defaults::yes", deserialize_with = "null_as_true")]
    pub validate_certs: bool,

    /// Extra request headers, e.g. `{"Host": "nas.lab"}`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub headers: BTreeMap<String, String>,

    /// User for HTTP basic authentication.
    #[serde(default)]
    pub url_username: Option<String>,

    /// Password for HTTP basic authentication (needs `url_username`). Never printed.
    #[serde(default)]
    pub url_password: Option<Secret>,

    /// HTTP statuses that count as healthy.
    #[serde(default = "default_expect_status", deserialize_with = "null_as_200")]
    pub expect_status: Vec<i64>,

    /// Text the response body must contain to count as healthy.
    #[serde(default)]
    pub expect_body: Option<String>,

    /// How many times to try again after a failed attempt (0: one attempt only).
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub retries: i64,

    /// Seconds to wait between attempts.
    #[serde(default = "default_delay")]
    pub delay: f64,

    /// Seconds one attempt may take, connection and answer included.
    #[serde(default = "default_timeout")]
    pub timeout: f64,
}

fn default_expect_status() -> Vec<i64> {
    vec![200]
}
fn default_delay() -> f64 {
    1.0
}
fn default_timeout() -> f64 {
    10.0
}
fn null_as_true<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(true))
}
fn null_as_default<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    Ok(Option::<BTreeMap<String, String>>::deserialize(d)?.unwrap_or_default())
}
fn null_as_200<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i64>, D::Error> {
    Ok(Option::<Vec<i64>>::deserialize(d)?.unwrap_or_else(default_expect_status))
}

fn header_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn seconds_problem(value: f64, allow_zero: bool) -> Option<String> {
    if !value.is_finite() || value < 0.0 || (!allow_zero && value == 0.0) {
        let least = if allow_zero {
            "0 or more"
        } else {
            "more than 0"
        };
        Some(format!("must be {least} seconds, got {value}"))
    } else if value > 86_400.0 {
        Some(format!(
            "must be at most 86400 seconds (a day), got {value}"
        ))
    } else {
        None
    }
}

impl HealthCheck {
    /// What is checked, for messages: the URL or `tcp://host:port`.
    pub fn target(&self) -> String {
        match (&self.url, &self.tcp) {
            (Some(url), _) => url.clone(),
            (None, Some(tcp)) => format!("tcp://{tcp}"),
            (None, None) => "(nothing)".into(),
        }
    }
}

impl Validate for HealthCheck {
    /// Every problem with the arguments, each with its path. Makes no I/O.
    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        match (&self.url, &self.tcp) {
            (Some(_), Some(_)) => errors.push(FieldError::field(
                "url",
                "set url or tcp, not both (url checks an HTTP answer, tcp only a connection)",
            )),
            (None, None) => errors.push(FieldError::field(
                "url",
                "set url (an http(s) URL) or tcp (host:port): one of them is required",
            )),
            _ => {}
        }
        if let Some(url) = &self.url {
            if let Some(m) = url_problem(url) {
                errors.push(FieldError::field("url", m));
            }
        }
        if let Some(tcp) = &self.tcp {
            if let Err(m) = split_host_port(tcp) {
                errors.push(FieldError::field("tcp", m));
            }
        }
        if let Some(ca) = &self.ca_file {
            if !ca.starts_with('/') {
                errors.push(FieldError::field(
                    "ca_file",
                    format!("must be an absolute path, got {ca:?}"),
                ));
            }
        }
        for (name, value) in &self.headers {
            let at = || {
                vec![
                    PathSegment::Field("headers".into()),
                    PathSegment::Key(name.clone()),
                ]
            };
            if !header_name_ok(name) {
                errors.push(FieldError::new(
                    at(),
                    "is not an HTTP header name (letters, digits and !#$%&'*+-.^_`|~)",
                ));
            }
            if value.contains(['\r', '\n']) {
                errors.push(FieldError::new(at(), "must not contain line breaks"));
            }
        }
        if self.url_password.is_some() && self.url_username.is_none() {
            errors.push(FieldError::field(
                "url_password",
                "needs url_username (basic authentication sends both)",
            ));
        }
        if self.expect_status.is_empty() {
            errors.push(FieldError::field(
                "expect_status",
                "must list at least one HTTP status, e.g. [200]",
            ));
        }
        for (i, status) in self.expect_status.iter().enumerate() {
            if !(100..=599).contains(status) {
                errors.push(FieldError::item(
                    "expect_status",
                    i,
                    format!("must be an HTTP status from 100 to 599, got {status}"),
                ));
            }
        }
        if self.retries < 0 {
            errors.push(FieldError::field(
                "retries",
                format!("must be 0 or more, got {}", self.retries),
            ));
        }
        if let Some(m) = seconds_problem(self.delay, true) {
            errors.push(FieldError::field("delay", m));
        }
        if let Some(m) = seconds_problem(self.timeout, false) {
            errors.push(FieldError::field("timeout", m));
        }
        errors
    }
}

/// Checked with the parser that sends the request (`http::Uri`, RFC 3986), which also
/// keeps the `url` crate and its Unicode tables out of the module binary.
fn url_problem(url: &str) -> Option<String> {
    let uri = match url.parse::<ureq::http::Uri>() {
        Ok(uri) => uri,
        Err(e) => return Some(format!("must be an http or https URL, got {url:?} ({e})")),
    };
    match (uri.scheme_str(), uri.authority()) {
        (Some("http" | "https"), Some(authority)) => {
            if authority.as_str().contains('@') {
                Some("must not carry credentials; set url_username and url_password instead".into())
            } else if authority.host().is_empty() {
                Some(format!("must name a host, got {url:?}"))
            } else {
                None
            }
        }
        (Some(scheme), _) if !matches!(scheme, "http" | "https") => Some(format!(
            "must be an http or https URL, got scheme {scheme:?} in {url:?}"
        )),
        _ => Some(format!("must be an http or https URL, got {url:?}")),
    }
}

/// How a check went.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub healthy: bool,
    /// HTTP status of the last answer; `None` for TCP checks and when nothing answered.
    pub status: Option<u16>,
    /// Attempts made, 1 to `retries + 1`.
    pub attempts: u32,
    /// Time from the first attempt to the end of the last, delays included.
    pub elapsed: Duration,
    /// What the last attempt saw when it failed: the status and a body excerpt, or the
    /// connection error.
    pub problem: Option<String>,
}

impl Report {
    /// One line for the user: healthy or not, after how many attempts, and why not.
    pub fn message(&self, check: &HealthCheck) -> String {
        let attempts = match self.attempts {
            1 => "1 attempt".to_owned(),
            n => format!("{n} attempts"),
        };
        let took = format_duration(self.elapsed);
        if self.healthy {
            let how = self
                .status
                .map(|s| format!(" (HTTP {s})"))
                .unwrap_or_default();
            format!(
                "{} is healthy{how} after {attempts} in {took}",
                check.target()
            )
        } else {
            format!(
                "{} is not healthy after {attempts} in {took}: {}",
                check.target(),
                self.problem.as_deref().unwrap_or("no attempt made")
            )
        }
    }
}

/// The first [`BODY_EXCERPT_CHARS`] characters of `body`, trimmed, `...` when cut.
pub fn body_excerpt(body: &str) -> String {
    let body = body.trim();
    let mut excerpt: String = body.chars().take(BODY_EXCERPT_CHARS).collect();
    if excerpt.len() < body.len() {
        excerpt.push_str("...");
    }
    excerpt
}

/// One attempt's verdict on an HTTP answer.
fn judge_answer(check: &HealthCheck, status: u16, status_text: &str, body: &str) -> Option<String> {
    if !check.expect_status.contains(&i64::from(status)) {
        let expected: Vec<String> = check.expect_status.iter().map(i64::to_string).collect();
        return Some(format!(
            "HTTP {status_text} (expected {}); body: {:?}",
            expected.join(" or "),
            body_excerpt(body)
        ));
    }
    match &check.expect_body {
        Some(want) if !body.contains(want.as_str()) => Some(format!(
            "HTTP {status_text}, but the body does not contain {want:?}; body: {:?}",
            body_excerpt(body)
        )),
        _ => None,
    }
}

/// Runs the check: up to `retries + 1` attempts, `delay` apart, stopping at the first
/// healthy one. `Err` only when the check cannot start (an unreadable `ca_file`); an
/// unhealthy service is a [`Report`] with `healthy: false`. Validate first.
pub fn run(check: &HealthCheck) -> Result<Report, Error> {
    run_with(check, &mut std::thread::sleep)
}

/// [`run`] with the waiting between attempts done by `sleep` (tests pass a recorder).
pub fn run_with(check: &HealthCheck, sleep: &mut dyn FnMut(Duration)) -> Result<Report, Error> {
    use std::time::Instant;

    let timeout = Duration::from_secs_f64(check.timeout);
    let delay = Duration::from_secs_f64(check.delay);
    let max_attempts = u32::try_from(check.retries.max(0))
        .unwrap_or(u32::MAX)
        .saturating_add(1);
    let http = match &check.url {
        Some(url) => Some((url.as_str(), http_client(check)?, request_headers(check))),
        None => None,
    };
    let start = Instant::now();
    let mut report = Report {
        healthy: false,
        status: None,
        attempts: 0,
        elapsed: Duration::ZERO,
        problem: None,
    };
    while report.attempts < max_attempts {
        if report.attempts > 0 {
            sleep(delay);
        }
        report.attempts += 1;
        let problem = match &http {
            Some((url, client, headers)) => match client.get(url, headers, timeout) {
                Ok(answer) => {
                    report.status = Some(answer.status);
                    judge_answer(check, answer.status, &answer.status_text, &answer.body)
                }
                Err(text) => {
                    report.status = None;
                    Some(format!("GET {url}: {}", with_tls_hint(text)))
                }
            },
            None => tcp_attempt(check.tcp.as_deref().unwrap_or_default(), timeout).err(),
        };
        tracing::debug!(attempt = report.attempts, ?problem, "health check attempt");
        report.problem = problem;
        if report.problem.is_none() {
            report.healthy = true;
            break;
        }
    }
    report.elapsed = start.elapsed();
    Ok(report)
}

fn http_client(check: &HealthCheck) -> Result<crate::http::Client, Error> {
    crate::http::Client::new(&crate::http::Trust {
        ca_file: check.ca_file.as_deref().map(std::path::Path::new),
        insecure: !check.validate_certs,
    })
}

fn request_headers(check: &HealthCheck) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = check
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(user) = &check.url_username {
        let password = check
            .url_password
            .as_ref()
            .map(Secret::expose)
            .unwrap_or("");
        headers.push(crate::http::basic_auth(user, password));
    }
    headers
}

fn with_tls_hint(text: String) -> String {
    if text.contains("certificate") || text.contains("UnknownIssuer") {
        format!(
            "{text}; set ca_file to the CA that signed the server's certificate (or \
             validate_certs: false for a throwaway self-signed one)"
        )
    } else {
        text
    }
}

fn tcp_attempt(target: &str, timeout: Duration) -> Result<(), String> {
    use std::net::{TcpStream, ToSocketAddrs};

    let (host, port) = split_host_port(target).map_err(|m| format!("tcp {m}"))?;
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("resolve {host}: {e}"))?
        .collect();
    let mut last = format!("resolve {host}: no addresses");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                last = format!(
                    "connect to {target} ({addr}): no answer within {}",
                    format_duration(timeout)
                )
            }
            Err(e) => last = format!("connect to {target} ({addr}): {e}"),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(v: serde_json::Value) -> HealthCheck {
        serde_json::from_value(v).unwrap()
    }

    fn messages(c: &HealthCheck) -> Vec<String> {
        c.validate().iter().map(ToString::to_string).collect()
    }

    #[test]
    fn defaults() {
        let c = check(json!({"url": "http://nas.lab/health"}));
        assert!(c.validate_certs);
        assert_eq!(c.expect_status, vec![200]);
        assert_eq!((c.retries, c.delay, c.timeout), (0, 1.0, 10.0));
        assert!(c.validate().is_empty());
        assert_eq!(c.target(), "http://nas.lab/health");
        assert_eq!(check(json!({"tcp": "db:5432"})).target(), "tcp://db:5432");
    }

    #[test]
    fn url_and_tcp_are_exclusive_and_one_is_required() {
        let both = check(json!({"url": "http://a/", "tcp": "a:1"}));
        assert_eq!(
            messages(&both),
            vec![
                "url: set url or tcp, not both (url checks an HTTP answer, tcp only a connection)"
            ]
        );
        let none = check(json!({}));
        assert!(messages(&none)[0].starts_with("url: set url (an http(s) URL) or tcp"));
    }

    #[test]
    fn url_must_be_http_or_https_without_credentials() {
        for (url, want) in [
            (
                "ftp://nas.lab/x",
                "url: must be an http or https URL, got scheme \"ftp\"",
            ),
            (
                "nas.lab/health",
                "url: must be an http or https URL, got \"nas.lab/health\"",
            ),
            ("http://u:p@nas.lab/", "url: must not carry credentials"),
        ] {
            let m = messages(&check(json!({ "url": url })));
            assert_eq!(m.len(), 1, "{m:?}");
            assert!(m[0].starts_with(want), "{}", m[0]);
            assert!(!m[0].contains(":p@"), "{}", m[0]);
        }
    }

    #[test]
    fn everything_else_is_checked_with_its_path() {
        let c = check(json!({
            "tcp": "db.lab",
            "ca_file": "ca.pem",
            "headers": {"Bad Name": "x", "X-Ok": "a\nb"},
            "url_password": "hunter2",
            "expect_status": [200, 99],
            "retries": -1,
            "delay": -1.0,
            "timeout": 0.0,
        }));
        let m = messages(&c);
        assert_eq!(m.len(), 9, "{m:#?}");
        assert!(
            m[0].starts_with("tcp: must be host:port with a port"),
            "{}",
            m[0]
        );
        assert!(
            m[1].starts_with("ca_file: must be an absolute path"),
            "{}",
            m[1]
        );
        assert!(
            m[2].starts_with("headers[\"Bad Name\"]: is not an HTTP header name"),
            "{}",
            m[2]
        );
        assert_eq!(m[3], "headers[\"X-Ok\"]: must not contain line breaks");
        assert!(
            m[4].starts_with("url_password: needs url_username"),
            "{}",
            m[4]
        );
        assert_eq!(
            m[5],
            "expect_status[1]: must be an HTTP status from 100 to 599, got 99"
        );
        assert_eq!(m[6], "retries: must be 0 or more, got -1");
        assert_eq!(m[7], "delay: must be 0 or more seconds, got -1");
        assert_eq!(m[8], "timeout: must be more than 0 seconds, got 0");
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn timeout_must_be_positive() {
        let m = messages(&check(json!({"tcp": "a:1", "timeout": 0.0})));
        assert_eq!(m, vec!["timeout: must be more than 0 seconds, got 0"]);
    }

    #[test]
    fn answers_are_judged_by_status_then_body() {
        let c =
            check(json!({"url": "http://a/", "expect_status": [200, 204], "expect_body": "ok"}));
        assert_eq!(judge_answer(&c, 200, "200 OK", "all ok"), None);
        assert_eq!(
            judge_answer(&c, 503, "503 Service Unavailable", "  down  "),
            Some("HTTP 503 Service Unavailable (expected 200 or 204); body: \"down\"".into())
        );
        let long = "x".repeat(300);
        let m = judge_answer(&c, 200, "200 OK", &long).unwrap();
        assert!(
            m.starts_with("HTTP 200 OK, but the body does not contain \"ok\""),
            "{m}"
        );
        assert!(m.contains(&format!("{}...", "x".repeat(200))), "{m}");
        assert!(!m.contains(&"x".repeat(201)), "{m}");
    }

    #[test]
    fn excerpt_counts_characters_not_bytes() {
        let body = "é".repeat(250);
        let e = body_excerpt(&body);
        assert_eq!(e.chars().count(), 203);
        assert_eq!(body_excerpt("short"), "short");
    }

    #[test]
    fn report_messages() {
        let c = check(json!({"url": "http://a/"}));
        let ok = Report {
            healthy: true,
            status: Some(200),
            attempts: 1,
            elapsed: Duration::from_millis(12),
            problem: None,
        };
        assert_eq!(
            ok.message(&c),
            "http://a/ is healthy (HTTP 200) after 1 attempt in 12ms"
        );
        let bad = Report {
            healthy: false,
            status: Some(503),
            attempts: 3,
            elapsed: Duration::from_millis(2500),
            problem: Some("HTTP 503 Service Unavailable (expected 200); body: \"\"".into()),
        };
        assert_eq!(
            bad.message(&c),
            "http://a/ is not healthy after 3 attempts in 2.5s: HTTP 503 Service Unavailable (expected 200); body: \"\""
        );
    }
}
