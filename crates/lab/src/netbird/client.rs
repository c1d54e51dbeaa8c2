//! The NetBird management REST API client: `Authorization: Token <pat>`, JSON in and out,
//! errors carrying the server's own `{message, code}`, 429 and network errors retried
//! with backoff, and one shared read of each collection per run.
//!
//! Why collections are shared: Terraform refreshes every resource in parallel, and the
//! API has no "get many by ID". Reading `/api/peers` once and answering each peer's
//! refresh from it turns N requests into one per resource type. Writes made through this
//! client forget the collection they touched, so a read after a write sees it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use tokio::sync::Mutex;

use super::{check_management_url, check_token, NetbirdError};
use crate::deadline::Backoff;
use crate::secret::Secret;

/// How long a shared collection read answers reads. Writes by this process forget it at
/// once; the age only bounds how stale a change made elsewhere can look within one run.
pub const COLLECTION_MAX_AGE: Duration = Duration::from_secs(30);
/// Attempts for one request that is rate limited or fails on the network.
const ATTEMPTS: u32 = 6;
/// The longest `Retry-After` honoured; a longer one is an error saying so.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The collections the API lists, each read once and shared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Collection {
    Peers,
    Groups,
    SetupKeys,
    Policies,
    Routes,
}

impl Collection {
    pub fn path(self) -> &'static str {
        match self {
            Collection::Peers => "/api/peers",
            Collection::Groups => "/api/groups",
            Collection::SetupKeys => "/api/setup-keys",
            Collection::Policies => "/api/policies",
            Collection::Routes => "/api/routes",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

type Shared = Arc<Mutex<Option<(Instant, Arc<Vec<Json>>)>>>;

pub struct Client {
    http: reqwest::Client,
    url: String,
    token: Secret,
    requests: AtomicU64,
    collections: std::sync::Mutex<BTreeMap<Collection, Shared>>,
    /// One lock per group ID: membership changes are read-modify-write (the API's PUT
    /// replaces the whole group), so two peers joining one group in parallel must take
    /// turns or one addition is lost.
    group_locks: std::sync::Mutex<BTreeMap<String, Arc<Mutex<()>>>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(url: &str, token: Secret) -> Result<Self, NetbirdError> {
        let url = check_management_url(url).map_err(NetbirdError::Config)?;
        check_token(token.expose()).map_err(NetbirdError::Config)?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("tabiri-homelab/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| NetbirdError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            http,
            url,
            token,
            requests: AtomicU64::new(0),
            collections: std::sync::Mutex::new(BTreeMap::new()),
            group_locks: std::sync::Mutex::new(BTreeMap::new()),
        })
    }

    /// The management URL, as errors show it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// HTTP requests sent so far (retries included).
    pub fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// A collection, read once and shared by every caller for [`COLLECTION_MAX_AGE`];
    /// concurrent callers wait for the same read.
    pub async fn list(&self, collection: Collection) -> Result<Arc<Vec<Json>>, NetbirdError> {
        let shared = self.shared(collection);
        let mut slot = shared.lock().await;
        if let Some((at, list)) = slot.as_ref() {
            if at.elapsed() <= COLLECTION_MAX_AGE {
                return Ok(list.clone());
            }
        }
        let list = Arc::new(self.list_fresh(collection).await?);
        *slot = Some((Instant::now(), list.clone()));
        Ok(list)
    }

    /// A collection read now, not shared (for waits that must see the latest).
    pub async fn list_fresh(&self, collection: Collection) -> Result<Vec<Json>, NetbirdError> {
        match self.call(Method::Get, collection.path(), None).await? {
            Json::Array(items) => Ok(items),
            other => Err(NetbirdError::Protocol {
                path: collection.path().into(),
                message: format!("expected a list, got {}", kind_of(&other)),
            }),
        }
    }

    /// The item of a shared collection with this `id`.
    pub async fn find(
        &self,
        collection: Collection,
        id: &str,
    ) -> Result<Option<Json>, NetbirdError> {
        let list = self.list(collection).await?;
        Ok(list
            .iter()
            .find(|item| item.get("id").and_then(Json::as_str) == Some(id))
            .cloned())
    }

    /// Forgets a shared collection (after a write to it).
    pub async fn forget(&self, collection: Collection) {
        *self.shared(collection).lock().await = None;
    }

    fn shared(&self, collection: Collection) -> Shared {
        self.collections
            .lock()
            .expect("lock")
            .entry(collection)
            .or_default()
            .clone()
    }

    /// The lock that serialises membership changes of one group in this process.
    pub fn group_lock(&self, group_id: &str) -> Arc<Mutex<()>> {
        self.group_locks
            .lock()
            .expect("lock")
            .entry(group_id.to_string())
            .or_default()
            .clone()
    }

    pub async fn get(&self, path: &str) -> Result<Json, NetbirdError> {
        self.call(Method::Get, path, None).await
    }

    /// A write; the collection it belongs to is forgotten afterwards, whatever the outcome.
    pub async fn write(
        &self,
        method: Method,
        collection: Collection,
        path: &str,
        body: Option<&Json>,
    ) -> Result<Json, NetbirdError> {
        let result = self.call(method, path, body).await;
        self.forget(collection).await;
        result
    }

    /// Creates an object of `collection` (`POST`).
    pub async fn create(&self, collection: Collection, body: &Json) -> Result<Json, NetbirdError> {
        self.write(Method::Post, collection, collection.path(), Some(body))
            .await
    }

    /// Replaces the object `id` of `collection` (`PUT`).
    pub async fn replace(
        &self,
        collection: Collection,
        id: &str,
        body: &Json,
    ) -> Result<Json, NetbirdError> {
        let path = format!("{}/{id}", collection.path());
        self.write(Method::Put, collection, &path, Some(body)).await
    }

    /// Deletes the object `id` of `collection`; one already gone is fine.
    pub async fn remove(&self, collection: Collection, id: &str) -> Result<(), NetbirdError> {
        let path = format!("{}/{id}", collection.path());
        match self.write(Method::Delete, collection, &path, None).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// One API call. A 429 is retried after the server's `Retry-After` (or backoff);
    /// network errors are retried for requests that are safe to repeat (reads, PUTs and
    /// DELETEs set absolute states) and for any request that never left.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Json>,
    ) -> Result<Json, NetbirdError> {
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
        let repeatable = method != Method::Post;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = match method {
                Method::Get => self.http.get(format!("{}{path}", self.url)),
                Method::Post => self.http.post(format!("{}{path}", self.url)),
                Method::Put => self.http.put(format!("{}{path}", self.url)),
                Method::Delete => self.http.delete(format!("{}{path}", self.url)),
            };
            request = request
                .header("Authorization", format!("Token {}", self.token.expose()))
                .header("Accept", "application/json");
            if let Some(body) = body {
                request = request.json(body);
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(method = method.as_str(), path, "netbird request");
            let response = match request.send().await {
                Ok(response) => response,
                Err(e) => {
                    let never_left = e.is_connect();
                    if (repeatable || never_left) && attempt < ATTEMPTS {
                        tracing::debug!(path, attempt, "network error, retrying: {e}");
                        tokio::time::sleep(backoff.next_delay()).await;
                        continue;
                    }
                    return Err(NetbirdError::Transport {
                        method: method.as_str().into(),
                        url: self.url.clone(),
                        path: path.into(),
                        message: describe(&e),
                        attempts: attempt,
                    });
                }
            };
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let bytes = response.bytes().await.unwrap_or_default();
            let json: Json = if bytes.is_empty() {
                Json::Null
            } else {
                serde_json::from_slice(&bytes).unwrap_or(Json::Null)
            };
            if (200..300).contains(&status) {
                return Ok(json);
            }
            if status == 429 && attempt < ATTEMPTS {
                let wait = retry_after.unwrap_or_else(|| backoff.next_delay());
                if wait <= MAX_RETRY_AFTER {
                    tracing::debug!(path, attempt, ?wait, "rate limited, retrying");
                    tokio::time::sleep(wait).await;
                    continue;
                }
            }
            let message = json
                .get("message")
                .and_then(Json::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| {
                    String::from_utf8_lossy(&bytes)
                        .trim()
                        .chars()
                        .take(300)
                        .collect()
                });
            return Err(NetbirdError::Api {
                method: method.as_str().into(),
                path: path.into(),
                status,
                message,
                attempts: attempt,
            });
        }
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "no answer in time".into();
    }
    // reqwest's own text repeats the URL; the error shows the URL and path already.
    let text = crate::error::source_chain(e);
    if text.is_empty() {
        e.to_string()
    } else {
        text
    }
}

pub(super) fn kind_of(value: &Json) -> &'static str {
    match value {
        Json::Null => "nothing",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    }
}
