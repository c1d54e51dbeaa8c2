//! A small blocking HTTP(S) client: ureq with rustls (ring), no async runtime.
//!
//! The Ansible modules run once per task and are copied to the host each time, so they
//! use this instead of reqwest + tokio (feature `blocking-http`). It serves
//! [`health_check`](crate::health_check) and the blocking Traefik waits.
//!
//! [`Client::plain`] speaks plain HTTP only: a binary that uses no other constructor links
//! no TLS code at all (rustls and ring are most of a TLS client's size).
//!
//! Trust: by default the system's CA certificates (`SSL_CERT_FILE`, `SSL_CERT_DIR`, then
//! the distribution's bundle), like curl and Ansible's `uri`; with a `ca_file`, only the
//! certificates in it (as Python's `ssl.create_default_context(cafile=...)` does).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

use crate::Error;

/// Largest response body read; anything beyond is an error naming the limit.
const MAX_BODY_BYTES: u64 = 10 * 1024 * 1024;

/// How certificates of `https` servers are checked.
#[derive(Debug, Clone, Default)]
pub struct Trust<'a> {
    /// PEM file with the CA certificates to trust instead of the system's.
    pub ca_file: Option<&'a Path>,
    /// Skip certificate verification altogether (`validate_certs: false`).
    pub insecure: bool,
}

/// A response: status and body (invalid UTF-8 replaced).
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// The status as `404 Not Found`.
    pub status_text: String,
    pub body: String,
}

/// A blocking client; redirects are followed (at most 10), and credentials set in
/// `Authorization` are not sent on to another host.
pub struct Client {
    agent: ureq::Agent,
    /// Why there are no trusted certificates, when there are none; added to TLS errors.
    trust_note: Option<String>,
}

impl Client {
    /// Builds a client. Fails only when `trust.ca_file` cannot be read or holds no
    /// certificate; missing system certificates surface later, on an `https` request.
    pub fn new(trust: &Trust<'_>) -> Result<Client, Error> {
        let (roots, trust_note) = if trust.insecure {
            (Vec::new(), None)
        } else if let Some(file) = trust.ca_file {
            (read_ca_file(file)?, None)
        } else {
            system_roots()
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = TlsConfig::builder()
            .root_certs(RootCerts::Specific(Arc::new(roots)))
            .disable_verification(trust.insecure)
            .unversioned_rustls_crypto_provider(provider)
            .build();
        let agent = config().tls_config(tls).build().new_agent();
        Ok(Client { agent, trust_note })
    }

    /// A client for `http` URLs only (an `https` URL fails with a message saying so).
    /// Proxies from the environment are honoured as by [`Client::new`].
    pub fn plain() -> Client {
        use ureq::unversioned::resolver::DefaultResolver;
        use ureq::unversioned::transport::{ConnectProxyConnector, Connector, TcpConnector};

        let connector = ().chain(ConnectProxyConnector::default()).chain(TcpConnector::default());
        let agent =
            ureq::Agent::with_parts(config().build(), connector, DefaultResolver::default());
        Client {
            agent,
            trust_note: None,
        }
    }

    /// `GET url` with `headers`, the whole exchange bounded by `timeout`. The error is
    /// the transport's text (connection refused, timeout, certificate problem), without
    /// the URL: callers put the URL, redacted as needed, in front.
    pub fn get(
        &self,
        url: &str,
        headers: &[(String, String)],
        timeout: Duration,
    ) -> Result<Response, String> {
        let mut request = self
            .agent
            .get(url)
            .config()
            .timeout_global(Some(timeout))
            .build();
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let mut response = request.call().map_err(|e| self.describe(e, timeout))?;
        let status = response.status();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY_BYTES)
            .lossy_utf8(true)
            .read_to_string()
            .map_err(|e| format!("reading the body: {}", self.describe(e, timeout)))?;
        Ok(Response {
            status: status.as_u16(),
            status_text: status.to_string(),
            body,
        })
    }

    fn describe(&self, error: ureq::Error, timeout: Duration) -> String {
        let text = match &error {
            ureq::Error::Timeout(_) => {
                format!(
                    "no answer within {}",
                    crate::error::format_duration(timeout)
                )
            }
            ureq::Error::Io(e) => e.to_string(),
            ureq::Error::Rustls(e) => format!("TLS: {e}"),
            ureq::Error::HostNotFound => "host not found (DNS lookup failed)".to_owned(),
            ureq::Error::TlsRequired => "https is not available here: this client speaks plain \
                                         http only"
                .to_owned(),
            other => other.to_string(),
        };
        match &self.trust_note {
            Some(note) if looks_like_certificate_problem(&text) => format!("{text} ({note})"),
            _ => text,
        }
    }
}

fn config() -> ureq::config::ConfigBuilder<ureq::typestate::AgentScope> {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .user_agent(concat!("tabiri-homelab/", env!("CARGO_PKG_VERSION")))
}

fn looks_like_certificate_problem(text: &str) -> bool {
    text.contains("certificate") || text.contains("UnknownIssuer")
}

/// `Authorization: Basic ...` for `user` and `password`.
pub fn basic_auth(user: &str, password: &str) -> (String, String) {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    ("Authorization".to_owned(), format!("Basic {token}"))
}

fn read_ca_file(path: &Path) -> Result<Vec<Certificate<'static>>, Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        action: "reading CA certificates from",
        path: path.to_owned(),
        source,
    })?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&bytes) {
        match item {
            Ok(PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => {
                return Err(Error::Io {
                    action: "reading CA certificates from",
                    path: path.to_owned(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("not a PEM file ({e})"),
                    ),
                })
            }
        }
    }
    if certs.is_empty() {
        return Err(Error::Io {
            action: "reading CA certificates from",
            path: path.to_owned(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "it holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            ),
        });
    }
    Ok(certs)
}

fn system_roots() -> (Vec<Certificate<'static>>, Option<String>) {
    let found = rustls_native_certs::load_native_certs();
    let certs: Vec<Certificate<'static>> = found
        .certs
        .iter()
        .map(|der| Certificate::from_der(der.as_ref()).to_owned())
        .collect();
    let note = certs.is_empty().then(|| {
        let why = found
            .errors
            .first()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        format!(
            "no system CA certificates were found{why}; install ca-certificates, set \
             SSL_CERT_FILE, or give a CA file"
        )
    });
    (certs, note)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_is_rfc7617() {
        assert_eq!(
            basic_auth("Aladdin", "open sesame"),
            (
                "Authorization".to_owned(),
                "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==".to_owned()
            )
        );
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not pem at all\n").unwrap();
        let Err(e) = Client::new(&Trust {
            ca_file: Some(&path),
            insecure: false,
        }) else {
            panic!("accepted a CA file without certificates")
        };
        let msg = e.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("no PEM certificate"), "{msg}");
    }

    #[test]
    fn the_plain_client_refuses_https_in_words() {
        // Something listens (the kernel accepts into the backlog), so the connection is
        // made and the missing TLS is what fails.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("https://{}/", listener.local_addr().unwrap());
        let err = Client::plain()
            .get(&url, &[], Duration::from_secs(1))
            .unwrap_err();
        assert!(err.contains("plain http only"), "{err}");
    }

    #[test]
    fn a_missing_ca_file_is_named() {
        let Err(e) = Client::new(&Trust {
            ca_file: Some(Path::new("/nonexistent/ca.pem")),
            insecure: false,
        }) else {
            panic!("accepted a missing CA file")
        };
        let msg = e.to_string();
        assert!(
            msg.starts_with("reading CA certificates from /nonexistent/ca.pem"),
            "{msg}"
        );
    }
}
