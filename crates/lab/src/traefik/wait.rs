//! Waiting on Traefik's API until it serves a route as written (or no longer lists it).
//! What Traefik's answers mean is decided once, here; the transports are reqwest + tokio
//! (feature `async-http`: `wait_until_routed`, used by the Terraform provider) and the
//! blocking client of `crate::http` (feature `blocking-http`:
//! `wait_until_routed_blocking`, used by the Ansible modules).

use std::time::Duration;

use serde::Deserialize;
use url::Url;

use super::route::redact;
use super::TraefikRoute;
use crate::deadline::Deadline;
use crate::Error;

const POLL_INTERVAL: Duration = Duration::from_millis(100);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
struct RouterInfo {
    rule: String,
    service: String,
    entry_points: Vec<String>,
    middlewares: Vec<String>,
    priority: Option<i64>,
    tls: Option<TlsInfo>,
    status: String,
    error: Vec<String>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
struct TlsInfo {
    cert_resolver: Option<String>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
struct ServiceInfo {
    load_balancer: Option<LoadBalancerInfo>,
    status: String,
    error: Vec<String>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
struct LoadBalancerInfo {
    servers: Vec<ServerInfo>,
    pass_host_header: Option<bool>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct ServerInfo {
    url: String,
}

fn redacted_url(url: &Url) -> String {
    redact(url.as_str())
}

fn api_endpoint(api_url: &str, segments: &[&str]) -> Result<Url, Error> {
    let invalid = |message: String| Error::TraefikApi {
        endpoint: redact(api_url),
        message,
    };
    let mut url = Url::parse(api_url).map_err(|e| invalid(format!("not a valid URL ({e})")))?;
    url.path_segments_mut()
        .map_err(|_| invalid("not a URL that can have a path".into()))?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

enum Fetched<T> {
    Found(T),
    NotFound,
    /// Worth retrying (connection refused while Traefik starts, 5xx); the text says what.
    Transient(String),
}

/// What one `GET shown` that got an answer means, whatever the transport.
/// `status_text` is the status as `503 Service Unavailable`.
fn interpret<T: serde::de::DeserializeOwned>(
    shown: &str,
    status: u16,
    status_text: &str,
    body: &str,
) -> Result<Fetched<T>, Error> {
    if status == 404 {
        return Ok(Fetched::NotFound);
    }
    if status >= 500 {
        return Ok(Fetched::Transient(format!(
            "GET {shown}: HTTP {status_text}: {}",
            snippet(body)
        )));
    }
    if !(200..300).contains(&status) {
        let hint = if status == 401 || status == 403 {
            "; traefik_api_url must reach Traefik's API without authentication, e.g. \
             api.insecure on a loopback entry point"
        } else {
            ""
        };
        return Err(Error::TraefikApi {
            endpoint: shown.to_owned(),
            message: format!("answered HTTP {status_text}: {}{hint}", snippet(body)),
        });
    }
    match serde_json::from_str(body) {
        Ok(v) => Ok(Fetched::Found(v)),
        Err(e) => Err(Error::TraefikApi {
            endpoint: shown.to_owned(),
            message: format!(
                "answered with something that is not a Traefik API object ({e}): {}; does \
                 traefik_api_url point at Traefik's API (the `traefik` entry point)?",
                snippet(body)
            ),
        }),
    }
}

fn snippet(body: &str) -> String {
    let body = body.trim();
    if body.chars().count() > 300 {
        format!("{}...", body.chars().take(300).collect::<String>())
    } else {
        body.to_owned()
    }
}

fn qualified(middleware: &str) -> String {
    if middleware.contains('@') {
        middleware.to_owned()
    } else {
        format!("{middleware}@file")
    }
}

/// What Traefik reports that differs from `route`; empty when Traefik runs this version.
/// Fields Traefik fills in itself (default entry points, default priority) are compared
/// only when the route sets them.
fn differences(route: &TraefikRoute, router: &RouterInfo, service: &ServiceInfo) -> Vec<String> {
    let mut diffs = Vec::new();
    if router.rule != route.rule {
        diffs.push(format!("rule is {:?}", router.rule));
    }
    if router.service != route.name && router.service != format!("{}@file", route.name) {
        diffs.push(format!("service is {:?}", router.service));
    }
    if !route.entrypoints.is_empty() && router.entry_points != route.entrypoints {
        diffs.push(format!("entryPoints are {:?}", router.entry_points));
    }
    let want: Vec<String> = route.middlewares.iter().map(|m| qualified(m)).collect();
    let have: Vec<String> = router.middlewares.iter().map(|m| qualified(m)).collect();
    if want != have {
        diffs.push(format!("middlewares are {:?}", router.middlewares));
    }
    if let Some(p) = route.priority.filter(|p| *p > 0) {
        if router.priority != Some(p) {
            diffs.push(format!("priority is {:?}", router.priority));
        }
    }
    let resolver = router.tls.as_ref().and_then(|t| t.cert_resolver.clone());
    if resolver != route.tls_cert_resolver {
        diffs.push(format!("tls.certResolver is {resolver:?}"));
    }
    let lb = service.load_balancer.as_ref();
    let mut have: Vec<&str> = lb
        .map(|lb| lb.servers.iter().map(|s| s.url.as_str()).collect())
        .unwrap_or_default();
    let mut want: Vec<&str> = route.servers.iter().map(String::as_str).collect();
    have.sort_unstable();
    want.sort_unstable();
    if have != want {
        diffs.push(format!("servers are {have:?}"));
    }
    let pass = lb.and_then(|lb| lb.pass_host_header).unwrap_or(true);
    if pass != route.pass_host_header {
        diffs.push(format!("passHostHeader is {pass}"));
    }
    diffs
}

/// The URLs one route's wait polls.
struct Endpoints {
    router_id: String,
    router_url: Url,
    service_url: Url,
}

fn endpoints(api_url: &str, name: &str) -> Result<Endpoints, Error> {
    let router_id = format!("{name}@file");
    Ok(Endpoints {
        router_url: api_endpoint(api_url, &["api", "http", "routers", &router_id])?,
        service_url: api_endpoint(api_url, &["api", "http", "services", &router_id])?,
        router_id,
    })
}

enum Progress {
    Done,
    /// Not yet; the text is what was seen, for the timeout message.
    Waiting(String),
}

/// What Traefik's answers about the router (and, when the router was found, its
/// service) mean for `route`: served, rejected (`Err`, final) or not yet.
fn judge_routed(
    route: &TraefikRoute,
    at: &Endpoints,
    router: Fetched<RouterInfo>,
    service: Option<Fetched<ServiceInfo>>,
) -> Result<Progress, Error> {
    let router_id = &at.router_id;
    let router = match router {
        Fetched::Transient(text) => return Ok(Progress::Waiting(text)),
        Fetched::NotFound => {
            return Ok(Progress::Waiting(format!(
                "Traefik has no router {router_id} yet"
            )))
        }
        Fetched::Found(router) => router,
    };
    let service = match service {
        Some(Fetched::Found(service)) => service,
        Some(Fetched::Transient(text)) => return Ok(Progress::Waiting(text)),
        Some(Fetched::NotFound) | None => {
            return Ok(Progress::Waiting(format!(
                "Traefik has router {router_id} but no service {router_id} yet"
            )))
        }
    };
    let diffs = differences(route, &router, &service);
    if !diffs.is_empty() {
        return Ok(Progress::Waiting(format!(
            "Traefik still runs another version of {router_id} ({}); Traefik keeps its \
             previous configuration while any file in {} fails to load, see its log",
            diffs.join(", "),
            route.config_dir
        )));
    }
    let mut errors = router.error.clone();
    errors.extend(service.error.iter().map(|e| format!("service: {e}")));
    let service_down = service.status == "disabled";
    if router.status == "enabled" && errors.is_empty() && !service_down {
        tracing::debug!(router = %router_id, "traefik serves the route");
        return Ok(Progress::Done);
    }
    if !matches!(router.status.as_str(), "enabled" | "disabled" | "warning") {
        // A status this code does not know: keep waiting, and say so.
        return Ok(Progress::Waiting(format!(
            "router {router_id} has status {:?}",
            router.status
        )));
    }
    let status = if service_down && router.status == "enabled" {
        "enabled, with its service disabled".to_owned()
    } else {
        router.status.clone()
    };
    Err(Error::TraefikRejected {
        endpoint: redacted_url(&at.router_url),
        router: router_id.clone(),
        status,
        errors,
    })
}

fn judge_unrouted(at: &Endpoints, router: Fetched<serde_json::Value>) -> Progress {
    match router {
        Fetched::NotFound => Progress::Done,
        Fetched::Transient(text) => Progress::Waiting(text),
        Fetched::Found(_) => {
            Progress::Waiting(format!("Traefik still has router {}", at.router_id))
        }
    }
}

/// `Some(error)` when the deadline leaves no time for another poll (or the caller
/// stopped the wait).
fn out_of_time(
    deadline: &Deadline,
    what: impl FnOnce() -> String,
    last_seen: String,
) -> Option<Error> {
    (deadline.remaining() < POLL_INTERVAL || deadline.stopped())
        .then(|| deadline.ended(what(), last_seen).into())
}

fn routed_what(api_url: &str, route: &TraefikRoute, at: &Endpoints) -> String {
    format!(
        "Traefik at {} to serve router {} as written to {}",
        redact(api_url),
        at.router_id,
        route.file_path().display()
    )
}

fn unrouted_what(api_url: &str, at: &Endpoints) -> String {
    format!(
        "Traefik at {} to drop router {}",
        redact(api_url),
        at.router_id
    )
}

// --- async transport (reqwest + tokio) ---------------------------------------------

/// Waits until Traefik's API at `api_url` serves `route` as written: the router
/// `<name>@file` and its service report this route's configuration (so an older
/// version still loaded does not count), and the router is enabled.
///
/// Fails at once, with Traefik's own error texts, when Traefik reports this version
/// of the router disabled or with warnings (e.g. a middleware or entry point that
/// does not exist). Polls every 100 ms; on timeout the error says what it waited for
/// and the last thing it saw.
#[cfg(feature = "async-http")]
pub async fn wait_until_routed(
    api_url: &str,
    route: &TraefikRoute,
    deadline: &Deadline,
) -> Result<(), Error> {
    let at = endpoints(api_url, &route.name)?;
    let client = client()?;
    loop {
        let remaining = deadline.remaining();
        let router = fetch::<RouterInfo>(&client, &at.router_url, remaining).await?;
        let service = match router {
            Fetched::Found(_) => {
                Some(fetch::<ServiceInfo>(&client, &at.service_url, remaining).await?)
            }
            _ => None,
        };
        let last_seen = match judge_routed(route, &at, router, service)? {
            Progress::Done => return Ok(()),
            Progress::Waiting(seen) => seen,
        };
        if let Some(e) = out_of_time(deadline, || routed_what(api_url, route, &at), last_seen) {
            return Err(e);
        }
        deadline.sleep(POLL_INTERVAL).await;
    }
}

/// Waits until Traefik's API at `api_url` no longer lists the router `<name>@file`,
/// after the route file was deleted.
#[cfg(feature = "async-http")]
pub async fn wait_until_unrouted(
    api_url: &str,
    name: &str,
    deadline: &Deadline,
) -> Result<(), Error> {
    let at = endpoints(api_url, name)?;
    let client = client()?;
    loop {
        let remaining = deadline.remaining();
        let router = fetch::<serde_json::Value>(&client, &at.router_url, remaining).await?;
        let last_seen = match judge_unrouted(&at, router) {
            Progress::Done => return Ok(()),
            Progress::Waiting(seen) => seen,
        };
        if let Some(e) = out_of_time(deadline, || unrouted_what(api_url, &at), last_seen) {
            return Err(e);
        }
        deadline.sleep(POLL_INTERVAL).await;
    }
}

#[cfg(feature = "async-http")]
async fn fetch<T: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    url: &Url,
    remaining: Duration,
) -> Result<Fetched<T>, Error> {
    let shown = redacted_url(url);
    let response = match client
        .get(url.clone())
        .timeout(REQUEST_TIMEOUT.min(remaining.max(Duration::from_millis(10))))
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => {
            // The URL is already in front, with any password redacted; reqwest's own
            // text would repeat it unredacted.
            return Ok(Fetched::Transient(format!(
                "GET {shown}: {}",
                error_chain(&e.without_url())
            )));
        }
    };
    let status = response.status();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Ok(Fetched::NotFound);
    }
    let body = response.text().await.unwrap_or_default();
    interpret(&shown, status.as_u16(), &status.to_string(), &body)
}

#[cfg(feature = "async-http")]
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

#[cfg(feature = "async-http")]
fn client() -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|e| Error::TraefikApi {
            endpoint: String::new(),
            message: format!("cannot build an HTTP client: {}", error_chain(&e)),
        })
}

// --- blocking transport (crate::http) ----------------------------------------------

/// `wait_until_routed` without an async runtime, for callers that run once and exit
/// (the Ansible modules), over `client`: [`crate::http::Client::plain`] keeps TLS
/// out of a binary that only talks to a loopback API. Same checks, same errors.
#[cfg(feature = "blocking-http")]
pub fn wait_until_routed_blocking(
    client: &crate::http::Client,
    api_url: &str,
    route: &TraefikRoute,
    deadline: &Deadline,
) -> Result<(), Error> {
    let at = endpoints(api_url, &route.name)?;
    loop {
        let remaining = deadline.remaining();
        let router = fetch_blocking::<RouterInfo>(client, &at.router_url, remaining)?;
        let service = match router {
            Fetched::Found(_) => Some(fetch_blocking::<ServiceInfo>(
                client,
                &at.service_url,
                remaining,
            )?),
            _ => None,
        };
        let last_seen = match judge_routed(route, &at, router, service)? {
            Progress::Done => return Ok(()),
            Progress::Waiting(seen) => seen,
        };
        if let Some(e) = out_of_time(deadline, || routed_what(api_url, route, &at), last_seen) {
            return Err(e);
        }
        deadline.sleep_blocking(POLL_INTERVAL);
    }
}

/// `wait_until_unrouted` without an async runtime, over `client`.
#[cfg(feature = "blocking-http")]
pub fn wait_until_unrouted_blocking(
    client: &crate::http::Client,
    api_url: &str,
    name: &str,
    deadline: &Deadline,
) -> Result<(), Error> {
    let at = endpoints(api_url, name)?;
    loop {
        let remaining = deadline.remaining();
        let router = fetch_blocking::<serde_json::Value>(client, &at.router_url, remaining)?;
        let last_seen = match judge_unrouted(&at, router) {
            Progress::Done => return Ok(()),
            Progress::Waiting(seen) => seen,
        };
        if let Some(e) = out_of_time(deadline, || unrouted_what(api_url, &at), last_seen) {
            return Err(e);
        }
        deadline.sleep_blocking(POLL_INTERVAL);
    }
}

#[cfg(feature = "blocking-http")]
fn fetch_blocking<T: serde::de::DeserializeOwned>(
    client: &crate::http::Client,
    url: &Url,
    remaining: Duration,
) -> Result<Fetched<T>, Error> {
    let shown = redacted_url(url);
    let timeout = REQUEST_TIMEOUT.min(remaining.max(Duration::from_millis(10)));
    match client.get(url.as_str(), &[], timeout) {
        // The client's error text does not repeat the URL.
        Err(text) => Ok(Fetched::Transient(format!("GET {shown}: {text}"))),
        Ok(answer) => interpret(&shown, answer.status, &answer.status_text, &answer.body),
    }
}
