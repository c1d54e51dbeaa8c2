//! Serving a provider the way go-plugin clients (Terraform, OpenTofu) expect: magic
//! cookie check, protocol negotiation, a unix socket or TCP listener, AutoMTLS, the
//! handshake line on stdout, then gRPC until the client asks us to shut down.

mod cached_schema;
mod goplugin;
mod rpc;
mod tls;
mod wire;

use std::io::Write;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use base64::Engine;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, UnixListener};
use tokio_util::sync::CancellationToken;
use tonic::transport::server::Connected;

use crate::proto::plugin::{
    grpc_broker_server::GrpcBrokerServer, grpc_controller_server::GrpcControllerServer,
    grpc_stdio_server::GrpcStdioServer,
};
use crate::proto::tfplugin6::provider_server::ProviderServer;
use crate::provider::Provider;

pub use rpc::ProviderService;
pub use tls::{parse_client_certs, ServerIdentity};

pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
pub const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// go-plugin servers accept messages this large; schemas and states can be big.
const MAX_MESSAGE_BYTES: usize = 256 << 20;

/// Which listener to serve on. go-plugin uses unix sockets on Unix; TCP is chosen with
/// `TFPLUGIN_TRANSPORT=tcp` (the port comes from `PLUGIN_MIN_PORT`..`PLUGIN_MAX_PORT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Unix,
    Tcp,
}

/// Runs the provider as a plugin process and returns the process exit code.
/// `address` is the provider's registry address, used in `-debug` mode.
pub fn serve<P: Provider>(provider: P, address: &str) -> std::process::ExitCode {
    init_logging();
    let debug = std::env::args()
        .skip(1)
        .any(|a| a == "-debug" || a == "--debug");
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        if debug {
            serve_debug(provider, address).await
        } else {
            serve_plugin(provider).await
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    // Terraform shows provider stderr under TF_LOG; TF_LOG_PROVIDER narrows it to providers.
    let level = std::env::var("TF_LOG_PROVIDER")
        .or_else(|_| std::env::var("TF_LOG"))
        .unwrap_or_else(|_| "warn".to_string())
        .to_lowercase();
    let level = match level.as_str() {
        "trace" | "debug" | "info" | "warn" | "error" => level,
        "json" => "trace".to_string(),
        _ => "warn".to_string(),
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::new(level))
        .with_ansi(false)
        .try_init();
}

async fn serve_plugin<P: Provider>(provider: P) -> Result<(), String> {
    if std::env::var(MAGIC_COOKIE_KEY).as_deref() != Ok(MAGIC_COOKIE_VALUE) {
        return Err(
            "This binary is a Terraform plugin. It is not meant to be run directly: \
                    Terraform starts it. Add the provider to your configuration and run \
                    `terraform init`, or run it with -debug to attach Terraform to it."
                .to_string(),
        );
    }
    let versions = std::env::var("PLUGIN_PROTOCOL_VERSIONS").unwrap_or_else(|_| "6".into());
    if !versions.split(',').any(|v| v.trim() == "6") {
        return Err(format!(
            "this provider speaks plugin protocol 6; the client offered {versions:?}. Use Terraform 1.0 or newer."
        ));
    }
    let tls = match std::env::var("PLUGIN_CLIENT_CERT") {
        Ok(pem) if !pem.trim().is_empty() => {
            let trusted = parse_client_certs(&pem)?;
            let identity = ServerIdentity::generate()?;
            let config = identity.server_config(trusted)?;
            Some((identity.cert_der, Arc::new(config)))
        }
        _ => None,
    };
    let transport = match std::env::var("TFPLUGIN_TRANSPORT").as_deref() {
        Ok("tcp") => Transport::Tcp,
        _ => Transport::Unix,
    };
    let shutdown = CancellationToken::new();
    let (listener, network, addr) = listen(transport).await?;
    let cert_field = tls
        .as_ref()
        .map(|(der, _)| base64::engine::general_purpose::STANDARD_NO_PAD.encode(der))
        .unwrap_or_default();
    let acceptor = tls.map(|(_, config)| tokio_rustls::TlsAcceptor::from(config));
    let incoming = accept_loop(listener, acceptor, shutdown.clone());
    // The handshake line must be the first thing on stdout.
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "1|6|{network}|{addr}|grpc|{cert_field}")
            .and_then(|_| stdout.flush())
            .map_err(|e| format!("writing the handshake: {e}"))?;
    }
    ignore_interrupts();
    let result = run_grpc(provider, incoming, shutdown).await;
    if network == "unix" {
        let _ = std::fs::remove_file(&addr);
        if let Some(dir) = PathBuf::from(&addr).parent() {
            let _ = std::fs::remove_dir(dir);
        }
    }
    result
}

/// `-debug`: serve plaintext on a unix socket and print what to export so Terraform
/// attaches to this process instead of starting its own (useful under a debugger).
async fn serve_debug<P: Provider>(provider: P, address: &str) -> Result<(), String> {
    let shutdown = CancellationToken::new();
    let (listener, _, addr) = listen(Transport::Unix).await?;
    let incoming = accept_loop(listener, None, shutdown.clone());
    let reattach = serde_json::json!({
        address: {
            "Protocol": "grpc",
            "ProtocolVersion": 6,
            "Pid": std::process::id(),
            "Test": true,
            "Addr": { "Network": "unix", "String": addr },
        }
    });
    println!("Provider started. To attach Terraform, export this in another shell:\n");
    println!("\tTF_REATTACH_PROVIDERS='{reattach}'\n");
    let _ = std::io::stdout().flush();
    let provider_shutdown = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        provider_shutdown.cancel();
    });
    run_grpc(provider, incoming, shutdown).await
}

async fn run_grpc<P: Provider>(
    provider: P,
    incoming: tokio_stream::wrappers::ReceiverStream<Result<Conn, std::io::Error>>,
    shutdown: CancellationToken,
) -> Result<(), String> {
    let (mut health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_service_status("plugin", tonic_health::ServingStatus::Serving)
        .await;
    let service = ProviderService::new(provider);
    let schema_response = service.schema_response().clone();
    let stop_token = shutdown.clone();
    tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(GrpcControllerServer::new(goplugin::Controller {
            shutdown: shutdown.clone(),
        }))
        .add_service(GrpcStdioServer::new(goplugin::Stdio {
            shutdown: shutdown.clone(),
        }))
        .add_service(GrpcBrokerServer::new(goplugin::Broker {
            shutdown: shutdown.clone(),
        }))
        .add_service(cached_schema::CachedSchema::new(
            ProviderServer::new(service)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
            &schema_response,
        ))
        .serve_with_incoming_shutdown(incoming, async move { stop_token.cancelled().await })
        .await
        .map_err(|e| format!("gRPC server: {e}"))
}

fn ignore_interrupts() {
    // Ctrl-C reaches the whole process group; Terraform answers it with StopProvider,
    // so the plugin itself must not die on SIGINT.
    tokio::spawn(async {
        if let Ok(mut interrupts) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        {
            while interrupts.recv().await.is_some() {
                tracing::debug!("ignoring SIGINT; waiting for StopProvider");
            }
        }
    });
}

enum Listener {
    Unix(UnixListener),
    Tcp(TcpListener),
}

async fn listen(transport: Transport) -> Result<(Listener, &'static str, String), String> {
    match transport {
        Transport::Unix => {
            let base = std::env::var_os("PLUGIN_UNIX_SOCKET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(std::env::temp_dir);
            let dir = unique_dir(&base)?;
            let path = dir.join("plugin.sock");
            let listener = UnixListener::bind(&path)
                .map_err(|e| format!("listening on {}: {e}", path.display()))?;
            Ok((Listener::Unix(listener), "unix", path.display().to_string()))
        }
        Transport::Tcp => {
            let min: u16 = port_env("PLUGIN_MIN_PORT", 10000)?;
            let max: u16 = port_env("PLUGIN_MAX_PORT", 25000)?;
            for port in min..=max {
                if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)).await {
                    return Ok((Listener::Tcp(listener), "tcp", format!("127.0.0.1:{port}")));
                }
            }
            Err(format!(
                "no free TCP port between {min} and {max} on 127.0.0.1"
            ))
        }
    }
}

fn port_env(name: &str, default: u16) -> Result<u16, String> {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .map_err(|_| format!("{name}={v:?} is not a port number")),
        Err(_) => Ok(default),
    }
}

/// A private directory for the socket, so other users cannot connect or hijack the path.
fn unique_dir(base: &std::path::Path) -> Result<PathBuf, String> {
    use std::os::unix::fs::DirBuilderExt;
    let pid = std::process::id();
    for attempt in 0..100u32 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = base.join(format!("plugin-{pid}-{nanos:x}-{attempt}"));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("creating {}: {e}", dir.display())),
        }
    }
    Err(format!(
        "could not create a socket directory in {}",
        base.display()
    ))
}

/// Accepts connections and finishes TLS handshakes off the accept path, so one slow or
/// refused client does not hold up the next.
fn accept_loop(
    listener: Listener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    shutdown: CancellationToken,
) -> tokio_stream::wrappers::ReceiverStream<Result<Conn, std::io::Error>> {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            let accepted: std::io::Result<Box<dyn Io>> = tokio::select! {
                _ = shutdown.cancelled() => break,
                result = async {
                    match &listener {
                        Listener::Unix(l) => l.accept().await.map(|(s, _)| Box::new(s) as Box<dyn Io>),
                        Listener::Tcp(l) => l.accept().await.map(|(s, _)| {
                            let _ = s.set_nodelay(true);
                            Box::new(s) as Box<dyn Io>
                        }),
                    }
                } => result,
            };
            let stream = match accepted {
                Ok(stream) => stream,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    continue;
                }
            };
            let tx = tx.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let conn = match acceptor {
                    None => Conn(stream),
                    Some(acceptor) => match acceptor.accept(stream).await {
                        Ok(tls) => Conn(Box::new(tls)),
                        Err(e) => {
                            tracing::warn!("refused a connection: TLS handshake failed: {e}");
                            return;
                        }
                    },
                };
                let _ = tx.send(Ok(conn)).await;
            });
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// One accepted connection, plaintext or TLS, over a unix socket or TCP.
struct Conn(Box<dyn Io>);

impl Connected for Conn {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}
