//! The client side of a go-plugin handshake: start a plugin binary and talk to it the
//! way Terraform does. For tests and benchmarks; a provider never needs this module.
//!
//! [`PluginProcess::launch`] starts the binary with the magic cookie, the offered
//! protocol version, the TCP port range, a socket directory and, with AutoMTLS (the
//! default), a fresh client certificate shaped like Terraform's (ECDSA P-521 / SHA-512,
//! CN and SAN `localhost`, CA bit, client and server auth). It reads the handshake line
//! `core|protocol|network|address|grpc|server-cert` from the plugin's stdout, and
//! [`PluginProcess::channel`] then opens a gRPC [`Channel`] to the address, over TLS
//! that trusts exactly the server certificate from the handshake and presents the
//! client certificate. [`PluginProcess::shutdown`] asks `plugin.GRPCController` to stop
//! and waits for the process; dropping a [`PluginProcess`] kills it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tfplugin::client::ClientError> {
//! use tfplugin::client::{LaunchOptions, PluginProcess};
//! use tfplugin::proto::tfplugin6::{get_provider_schema, provider_client::ProviderClient};
//!
//! let plugin = PluginProcess::launch(
//!     "target/debug/terraform-provider-example".as_ref(),
//!     6,
//!     LaunchOptions::default(),
//! )
//! .await?;
//! println!("handshake after {:?}", plugin.handshake_duration());
//! let mut provider = ProviderClient::new(plugin.channel().await?);
//! let schema = provider
//!     .get_provider_schema(get_provider_schema::Request {})
//!     .await
//!     .expect("GetProviderSchema");
//! let status = plugin.shutdown().await?;
//! assert!(status.success());
//! # drop(schema);
//! # Ok(())
//! # }
//! ```
//!
//! Processes are started with tokio, so everything here runs inside a tokio runtime.

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use hyper_util::rt::TokioIo;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::net::{TcpStream, UnixStream};
use tokio::process::{Child, Command};
use tokio_util::either::Either;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::proto::plugin::{grpc_controller_client::GrpcControllerClient, Empty};
use crate::server::{MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE};

/// The TCP port range offered to plugins, as Terraform does.
pub const MIN_PORT: u16 = 10000;
/// See [`MIN_PORT`].
pub const MAX_PORT: u16 = 25000;
/// How long [`PluginProcess::shutdown`] waits for the plugin to exit before killing it
/// (go-plugin waits two seconds too).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Output captured from each of the plugin's stdout and stderr is cut at this size.
const CAPTURE_LIMIT: usize = 1 << 20;

/// What can go wrong while starting or reaching a plugin.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot start {binary}: {source}")]
    Spawn { binary: PathBuf, source: io::Error },
    /// The plugin did not print a valid handshake line. `stderr` is what it printed
    /// there meanwhile, usually the reason.
    #[error("plugin handshake failed: {message}{}", stderr_suffix(.stderr))]
    Handshake { message: String, stderr: String },
    #[error("generating the client certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    #[error("cannot connect to the plugin: {0}")]
    Connect(#[from] tonic::transport::Error),
    #[error("{0}")]
    Io(#[from] io::Error),
}

fn stderr_suffix(stderr: &str) -> String {
    let stderr = stderr.trim();
    if stderr.is_empty() {
        String::new()
    } else {
        format!("\nplugin stderr:\n{stderr}")
    }
}

/// Which certificate a connection presents to the plugin.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PresentedCert {
    /// The certificate passed in `PLUGIN_CLIENT_CERT`, as Terraform does.
    #[default]
    Registered,
    /// Another self-signed certificate of the same shape, which the plugin has never
    /// seen: it must refuse the connection.
    Impostor,
    /// No client certificate at all: the plugin must refuse the connection.
    None,
}

/// How to start a plugin. `Default` is what Terraform does.
#[derive(Clone, Debug)]
pub struct LaunchOptions {
    /// Command-line arguments (Terraform passes none).
    pub args: Vec<OsString>,
    /// Extra environment variables, set after the go-plugin ones so they can override
    /// them. The rest of the environment is inherited.
    pub env: Vec<(OsString, OsString)>,
    /// Pass a client certificate and expect TLS (on by default, as in Terraform).
    /// Off, the plugin serves plaintext and [`PluginProcess::channel`] connects so.
    pub auto_mtls: bool,
    /// What [`PluginProcess::channel`] presents.
    pub present: PresentedCert,
    /// How long to wait for the handshake line.
    pub handshake_timeout: Duration,
}

impl Default for LaunchOptions {
    fn default() -> Self {
        Self {
            args: Vec::new(),
            env: Vec::new(),
            auto_mtls: true,
            present: PresentedCert::Registered,
            handshake_timeout: Duration::from_secs(30),
        }
    }
}

impl LaunchOptions {
    /// Adds a command-line argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, name: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Sets what [`PluginProcess::channel`] presents.
    pub fn present(mut self, present: PresentedCert) -> Self {
        self.present = present;
        self
    }

    /// Turns AutoMTLS on or off.
    pub fn auto_mtls(mut self, on: bool) -> Self {
        self.auto_mtls = on;
        self
    }
}

/// Where a plugin listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PluginAddr {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

impl PluginAddr {
    /// The handshake's network field: `unix` or `tcp`.
    pub fn network(&self) -> &'static str {
        match self {
            PluginAddr::Unix(_) => "unix",
            PluginAddr::Tcp(_) => "tcp",
        }
    }
}

impl fmt::Display for PluginAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PluginAddr::Unix(path) => write!(f, "unix:{}", path.display()),
            PluginAddr::Tcp(addr) => write!(f, "tcp:{addr}"),
        }
    }
}

/// A parsed go-plugin handshake line: `core|protocol|network|address|grpc|server-cert`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handshake {
    /// go-plugin's core protocol version, always 1.
    pub core_version: u32,
    /// The application protocol version the plugin chose (5 or 6 for Terraform).
    pub protocol_version: u32,
    pub addr: PluginAddr,
    /// The server certificate (DER) for AutoMTLS; `None` when the plugin sent none.
    pub server_cert: Option<Vec<u8>>,
}

impl Handshake {
    /// Parses a handshake line (trailing newline allowed). Only gRPC plugins are
    /// accepted. The certificate is base64 with the standard alphabet; go-plugin
    /// writes it without padding, padding is tolerated.
    pub fn parse(line: &str) -> Result<Handshake, String> {
        let line = line.trim_end_matches(['\r', '\n']);
        let fields: Vec<&str> = line.split('|').collect();
        if !(5..=6).contains(&fields.len()) {
            return Err(format!(
                "expected `core|protocol|network|address|grpc|cert`, got {line:?}"
            ));
        }
        let number = |what: &str, field: &str| {
            field
                .parse::<u32>()
                .map_err(|_| format!("{what} {field:?} is not a number in {line:?}"))
        };
        let core_version = number("core version", fields[0])?;
        if core_version != 1 {
            return Err(format!("unsupported go-plugin core version {core_version}"));
        }
        let protocol_version = number("protocol version", fields[1])?;
        let addr = match fields[2] {
            "unix" => PluginAddr::Unix(PathBuf::from(fields[3])),
            "tcp" => PluginAddr::Tcp(
                fields[3]
                    .parse()
                    .map_err(|_| format!("bad TCP address {:?}", fields[3]))?,
            ),
            other => return Err(format!("unsupported network {other:?}")),
        };
        if fields[4] != "grpc" {
            return Err(format!(
                "unsupported plugin protocol {:?} (only grpc)",
                fields[4]
            ));
        }
        let server_cert = match fields.get(5).copied().unwrap_or("") {
            "" => None,
            encoded => Some(
                base64::engine::general_purpose::STANDARD_NO_PAD
                    .decode(encoded.trim_end_matches('='))
                    .map_err(|e| format!("server certificate is not base64: {e}"))?,
            ),
        };
        Ok(Handshake {
            core_version,
            protocol_version,
            addr,
            server_cert,
        })
    }
}

/// A client certificate and key, generated the way Terraform generates its own.
#[derive(Clone)]
pub struct ClientIdentity {
    cert_der: Vec<u8>,
    cert_pem: String,
    key_der: Vec<u8>,
}

impl fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

impl ClientIdentity {
    /// A fresh self-signed certificate: ECDSA P-521 with SHA-512, CN and SAN
    /// `localhost`, CA bit, key usages digitalSignature, keyEncipherment and
    /// keyCertSign, extended key usages client and server auth, valid from 30 s ago.
    pub fn generate() -> Result<ClientIdentity, ClientError> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512)?;
        let mut params = CertificateParams::new(vec!["localhost".to_string()])?;
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
            KeyUsagePurpose::KeyCertSign,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ClientAuth,
            ExtendedKeyUsagePurpose::ServerAuth,
        ];
        let now = SystemTime::now();
        params.not_before = (now - Duration::from_secs(30)).into();
        params.not_after = (now + Duration::from_secs(30 * 24 * 3600)).into();
        let cert = params.self_signed(&key)?;
        Ok(ClientIdentity {
            cert_der: cert.der().to_vec(),
            cert_pem: cert.pem(),
            key_der: key.serialize_der(),
        })
    }

    /// The certificate in DER.
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The certificate in PEM, as passed in `PLUGIN_CLIENT_CERT`.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }
}

/// A rustls client configuration for AutoMTLS: trusts exactly `server_cert` (DER) and
/// presents `identity`, or no certificate when `None`. Uses aws-lc-rs, so P-521
/// certificates on either side work. ALPN is `h2`; the server name is irrelevant
/// because the certificate is pinned.
pub fn tls_config(
    server_cert: &[u8],
    identity: Option<&ClientIdentity>,
) -> Result<ClientConfig, ClientError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(PinnedServerCert {
        cert: server_cert.to_vec(),
        algorithms: provider.signature_verification_algorithms,
    });
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match identity {
        Some(identity) => builder.with_client_auth_cert(
            vec![CertificateDer::from(identity.cert_der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(identity.key_der.clone())),
        )?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// Trusts one certificate, compared byte for byte. go-plugin's certificates have the CA
/// bit set, which a WebPKI verifier rejects in an end-entity position, so they are
/// pinned instead; the handshake signatures are still verified.
#[derive(Debug)]
struct PinnedServerCert {
    cert: Vec<u8>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedServerCert {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.cert.as_slice() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A unix or TCP connection.
type Socket = Either<UnixStream, TcpStream>;

async fn open_socket(addr: &PluginAddr) -> io::Result<Socket> {
    match addr {
        PluginAddr::Unix(path) => UnixStream::connect(path).await.map(Either::Left),
        PluginAddr::Tcp(addr) => {
            let stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            Ok(Either::Right(stream))
        }
    }
}

/// The endpoint every plugin channel uses: the URI only names the `:authority`
/// (`localhost`, as go-plugin clients send); the connector decides where to go.
fn endpoint() -> Endpoint {
    Endpoint::from_static("http://localhost")
}

/// Opens a gRPC channel to a plugin over TLS with `config` (see [`tls_config`]). The
/// connection is made now; if it drops, the channel reconnects the same way.
pub async fn connect_tls(addr: &PluginAddr, config: ClientConfig) -> Result<Channel, ClientError> {
    let addr = addr.clone();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let server_name = ServerName::try_from("localhost").expect("a valid DNS name");
    let channel = endpoint()
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let addr = addr.clone();
            let connector = connector.clone();
            let server_name = server_name.clone();
            async move {
                let socket = open_socket(&addr).await?;
                let tls = connector.connect(server_name, socket).await?;
                Ok::<_, io::Error>(TokioIo::new(tls))
            }
        }))
        .await?;
    Ok(channel)
}

/// Opens a plaintext gRPC channel to a plugin, e.g. one started with `-debug` whose
/// address came from `TF_REATTACH_PROVIDERS`.
pub async fn connect_plaintext(addr: &PluginAddr) -> Result<Channel, ClientError> {
    let addr = addr.clone();
    let channel = endpoint()
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let addr = addr.clone();
            async move { open_socket(&addr).await.map(TokioIo::new) }
        }))
        .await?;
    Ok(channel)
}

/// The resident set size of a process in bytes (`VmRSS` in `/proc/<pid>/status`).
pub fn rss_bytes(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|kb| kb.trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| io::Error::other(format!("no VmRSS for process {pid}")))
}

/// Output captured from one of the plugin's pipes (the first [`CAPTURE_LIMIT`] bytes).
type Captured = Arc<Mutex<Vec<u8>>>;

/// Copies `pipe` into a buffer until it closes; the task ends with the pipe.
fn capture(
    mut pipe: impl AsyncRead + Unpin + Send + 'static,
) -> (Captured, tokio::task::JoinHandle<()>) {
    let captured = Captured::default();
    let sink = captured.clone();
    let task = tokio::spawn(async move {
        let mut buf = [0u8; 8192];
        while let Ok(n @ 1..) = pipe.read(&mut buf).await {
            let mut sink = sink.lock().unwrap_or_else(|e| e.into_inner());
            let room = CAPTURE_LIMIT.saturating_sub(sink.len());
            sink.extend_from_slice(&buf[..n.min(room)]);
        }
    });
    (captured, task)
}

fn captured_text(captured: &Captured) -> String {
    String::from_utf8_lossy(&captured.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
}

/// A running plugin process, started as Terraform starts providers.
pub struct PluginProcess {
    child: Child,
    pid: u32,
    handshake: Handshake,
    handshake_duration: Duration,
    identity: Option<ClientIdentity>,
    present: PresentedCert,
    stdout: Captured,
    stderr: Captured,
    /// Passed as `PLUGIN_UNIX_SOCKET_DIR`; removed with everything in it on drop.
    _socket_dir: tempfile::TempDir,
}

impl fmt::Debug for PluginProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginProcess")
            .field("pid", &self.pid)
            .field("handshake", &self.handshake)
            .field("handshake_duration", &self.handshake_duration)
            .finish_non_exhaustive()
    }
}

impl PluginProcess {
    /// Starts `binary`, offering exactly `protocol` (5 or 6 for Terraform providers),
    /// and waits for its handshake line. Sets `TF_PLUGIN_MAGIC_COOKIE`,
    /// `PLUGIN_PROTOCOL_VERSIONS`, `PLUGIN_MIN_PORT`/`PLUGIN_MAX_PORT`,
    /// `PLUGIN_UNIX_SOCKET_DIR` (a private temporary directory) and, with AutoMTLS,
    /// `PLUGIN_CLIENT_CERT`; then `opts.env`. Fails, with the plugin's stderr, if the
    /// line is missing, malformed, or names another protocol version; the process is
    /// then killed.
    pub async fn launch(
        binary: &Path,
        protocol: u32,
        opts: LaunchOptions,
    ) -> Result<PluginProcess, ClientError> {
        let identity = if opts.auto_mtls {
            Some(ClientIdentity::generate()?)
        } else {
            None
        };
        let socket_dir = tempfile::Builder::new().prefix("plugin-").tempdir()?;

        let mut command = Command::new(binary);
        command
            .args(&opts.args)
            .env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)
            .env("PLUGIN_PROTOCOL_VERSIONS", protocol.to_string())
            .env("PLUGIN_MIN_PORT", MIN_PORT.to_string())
            .env("PLUGIN_MAX_PORT", MAX_PORT.to_string())
            .env("PLUGIN_UNIX_SOCKET_DIR", socket_dir.path());
        match &identity {
            Some(identity) => command.env("PLUGIN_CLIENT_CERT", identity.cert_pem()),
            None => command.env_remove("PLUGIN_CLIENT_CERT"),
        };
        command
            .envs(opts.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);

        let started = Instant::now();
        let mut child = command.spawn().map_err(|source| ClientError::Spawn {
            binary: binary.to_path_buf(),
            source,
        })?;
        let pid = child.id().unwrap_or_default();
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let (stderr, stderr_done) = capture(child.stderr.take().expect("stderr is piped"));

        let mut line = String::new();
        let read = tokio::time::timeout(opts.handshake_timeout, stdout.read_line(&mut line)).await;
        let handshake_duration = started.elapsed();
        let failure = match read {
            Err(_) => Some(format!(
                "no handshake line within {:?}",
                opts.handshake_timeout
            )),
            Ok(Err(e)) => Some(format!("reading the plugin's stdout: {e}")),
            Ok(Ok(0)) => Some("the plugin closed stdout without a handshake line".to_string()),
            Ok(Ok(_)) => None,
        };
        let parsed = match failure {
            Some(message) => Err(message),
            None => Handshake::parse(&line).and_then(|handshake| {
                if handshake.protocol_version != protocol {
                    Err(format!(
                        "asked for protocol {protocol}, the plugin chose {}",
                        handshake.protocol_version
                    ))
                } else if opts.auto_mtls && handshake.server_cert.is_none() {
                    Err("AutoMTLS is on but the plugin sent no server certificate".to_string())
                } else {
                    Ok(handshake)
                }
            }),
        };
        let handshake = match parsed {
            Ok(handshake) => handshake,
            Err(message) => {
                // Let the process die and its stderr drain so the error can show it.
                let _ = child.start_kill();
                let _ = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
                let _ = tokio::time::timeout(Duration::from_secs(1), stderr_done).await;
                return Err(ClientError::Handshake {
                    message,
                    stderr: captured_text(&stderr),
                });
            }
        };
        let (stdout, _) = capture(stdout);

        Ok(PluginProcess {
            child,
            pid,
            handshake,
            handshake_duration,
            identity,
            present: opts.present,
            stdout,
            stderr,
            _socket_dir: socket_dir,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The parsed handshake line.
    pub fn handshake(&self) -> &Handshake {
        &self.handshake
    }

    /// Time from spawning the process to reading its handshake line.
    pub fn handshake_duration(&self) -> Duration {
        self.handshake_duration
    }

    /// The client certificate passed in `PLUGIN_CLIENT_CERT` (`None` without AutoMTLS).
    pub fn identity(&self) -> Option<&ClientIdentity> {
        self.identity.as_ref()
    }

    /// The process's resident set size now, in bytes.
    pub fn rss_bytes(&self) -> io::Result<u64> {
        rss_bytes(self.pid)
    }

    /// What the plugin printed on stdout after the handshake line so far.
    pub fn stdout_output(&self) -> String {
        captured_text(&self.stdout)
    }

    /// What the plugin printed on stderr so far.
    pub fn stderr_output(&self) -> String {
        captured_text(&self.stderr)
    }

    /// Opens a gRPC channel to the plugin presenting the certificate chosen in
    /// [`LaunchOptions::present`] (plaintext without AutoMTLS).
    pub async fn channel(&self) -> Result<Channel, ClientError> {
        self.channel_presenting(self.present).await
    }

    /// Opens a gRPC channel presenting `present`. With TLS 1.3 a refused client
    /// certificate may only show on the first RPC, not here.
    pub async fn channel_presenting(&self, present: PresentedCert) -> Result<Channel, ClientError> {
        let (Some(identity), Some(server_cert)) = (&self.identity, &self.handshake.server_cert)
        else {
            return connect_plaintext(&self.handshake.addr).await;
        };
        let impostor;
        let presented = match present {
            PresentedCert::Registered => Some(identity),
            PresentedCert::Impostor => {
                impostor = ClientIdentity::generate()?;
                Some(&impostor)
            }
            PresentedCert::None => None,
        };
        connect_tls(&self.handshake.addr, tls_config(server_cert, presented)?).await
    }

    /// Whether the process has exited, without waiting.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.child.try_wait()
    }

    /// Waits for the process to exit, at most `timeout` (`None` if it is still running).
    pub async fn wait_timeout(&mut self, timeout: Duration) -> io::Result<Option<ExitStatus>> {
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(status) => status.map(Some),
            Err(_) => Ok(None),
        }
    }

    /// Stops the plugin as Terraform does: calls `plugin.GRPCController/Shutdown`, waits
    /// up to [`SHUTDOWN_GRACE`] for the process to exit, and kills it otherwise. The
    /// status tells which happened (a killed process has no exit code).
    pub async fn shutdown(self) -> Result<ExitStatus, ClientError> {
        self.shutdown_within(SHUTDOWN_GRACE).await
    }

    /// [`PluginProcess::shutdown`] with another grace period.
    pub async fn shutdown_within(mut self, grace: Duration) -> Result<ExitStatus, ClientError> {
        let deadline = tokio::time::Instant::now() + grace;
        let ask = async {
            let channel = self.channel_presenting(PresentedCert::Registered).await?;
            // The answer may be lost as the server goes away; only the exit counts.
            let _ = GrpcControllerClient::new(channel).shutdown(Empty {}).await;
            Ok::<_, ClientError>(())
        };
        let _ = tokio::time::timeout_at(deadline, ask).await;
        match tokio::time::timeout_at(deadline, self.child.wait()).await {
            Ok(status) => Ok(status?),
            Err(_) => {
                self.child.start_kill()?;
                Ok(self.child.wait().await?)
            }
        }
    }

    /// Kills the process (SIGKILL) and waits for it.
    pub async fn kill(mut self) -> io::Result<ExitStatus> {
        self.child.kill().await?;
        self.child.wait().await
    }
}

impl Drop for PluginProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.start_kill();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_unix_and_tcp_handshakes() {
        let unix = Handshake::parse("1|6|unix|/tmp/p/plugin.sock|grpc|AAEC\n").unwrap();
        assert_eq!(unix.core_version, 1);
        assert_eq!(unix.protocol_version, 6);
        assert_eq!(unix.addr, PluginAddr::Unix("/tmp/p/plugin.sock".into()));
        assert_eq!(unix.server_cert.as_deref(), Some(&[0u8, 1, 2][..]));

        let tcp = Handshake::parse("1|5|tcp|127.0.0.1:10000|grpc|").unwrap();
        assert_eq!(
            tcp.addr,
            PluginAddr::Tcp("127.0.0.1:10000".parse().unwrap())
        );
        assert_eq!(tcp.server_cert, None);
        // Padding is tolerated.
        let padded = Handshake::parse("1|6|unix|/s|grpc|AAE=").unwrap();
        assert_eq!(padded.server_cert.as_deref(), Some(&[0u8, 1][..]));
    }

    #[test]
    fn rejects_bad_handshakes() {
        for line in [
            "",
            "hello",
            "2|6|unix|/s|grpc|",
            "1|x|unix|/s|grpc|",
            "1|6|pipe|/s|grpc|",
            "1|6|tcp|nowhere|grpc|",
            "1|6|unix|/s|netrpc|",
            "1|6|unix|/s|grpc|***",
            "1|6|unix|/s|grpc|AA|extra",
        ] {
            assert!(
                Handshake::parse(line).is_err(),
                "{line:?} should be refused"
            );
        }
    }

    #[test]
    fn client_identity_is_p521_pem() {
        let identity = ClientIdentity::generate().unwrap();
        assert!(identity
            .cert_pem()
            .starts_with("-----BEGIN CERTIFICATE-----"));
        let parsed = crate::server::parse_client_certs(identity.cert_pem()).unwrap();
        assert_eq!(parsed[0].as_ref(), identity.cert_der());
        // id-ecdsa-with-SHA512 and the secp521r1 curve OIDs appear in the DER.
        let der = identity.cert_der();
        let contains = |needle: &[u8]| der.windows(needle.len()).any(|w| w == needle);
        assert!(contains(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04]));
        assert!(contains(&[0x2b, 0x81, 0x04, 0x00, 0x23]));
    }

    #[test]
    fn rss_of_this_process() {
        assert!(rss_bytes(std::process::id()).unwrap() > 0);
    }
}
