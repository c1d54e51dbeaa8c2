//! AutoMTLS in process: the server's TLS configuration ([`ServerIdentity`] with the
//! pinned client-certificate verifier) against the go-plugin client in
//! [`tfplugin::client`], over a real loopback socket, serving a small example provider.
//! Process-level tests (the handshake line, `-debug`, exit codes) need a provider
//! binary and live in `acceptance-tests/tests/plugin_handshake.rs`.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tfplugin::async_trait;
use tfplugin::client::{connect_tls, tls_config, ClientIdentity, PluginAddr};
use tfplugin::cty::{Type, Value};
use tfplugin::diag::Diagnostics;
use tfplugin::proto::tfplugin6::provider_server::ProviderServer;
use tfplugin::proto::tfplugin6::{get_provider_schema, provider_client::ProviderClient};
use tfplugin::provider::{ApplyRequest, Ctx, Outcome, Provider, Resource};
use tfplugin::schema::{Attribute, Block, Schema};
use tfplugin::server::{parse_client_certs, ProviderService, ServerIdentity};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;
use tonic::transport::server::Connected;

struct Example;

#[async_trait]
impl Provider for Example {
    fn type_name(&self) -> &str {
        "example"
    }
    fn schema(&self) -> Schema {
        Schema::new(0, Block::new("An example provider"))
    }
    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        vec![Arc::new(Thing)]
    }
    async fn configure(&self, _config: &Value, _ctx: &Ctx) -> Diagnostics {
        Diagnostics::new()
    }
}

struct Thing;

#[async_trait]
impl Resource for Thing {
    fn type_name(&self) -> &str {
        "example_thing"
    }
    fn schema(&self) -> Schema {
        Schema::new(
            0,
            Block::new("A thing")
                .attribute(Attribute::required("name", Type::String))
                .attribute(Attribute::computed("id", Type::String)),
        )
    }
    async fn create(&self, request: ApplyRequest<'_>) -> Outcome {
        Outcome::ok(request.planned.clone())
    }
    async fn update(&self, request: ApplyRequest<'_>) -> Outcome {
        Outcome::ok(request.planned.clone())
    }
    async fn delete(&self, _request: ApplyRequest<'_>) -> Diagnostics {
        Diagnostics::new()
    }
    async fn read(&self, state: &Value, _private: &[u8], _ctx: &Ctx) -> Outcome {
        Outcome::ok(state.clone())
    }
}

/// A TLS connection as tonic's server wants it.
struct Conn(TlsStream<TcpStream>);

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
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// A provider served over mutual TLS on loopback, trusting `client` only.
struct Server {
    addr: PluginAddr,
    server_cert: Vec<u8>,
    client: ClientIdentity,
}

async fn serve() -> Server {
    let client = ClientIdentity::generate().unwrap();
    // The client certificate travels as PEM in PLUGIN_CLIENT_CERT.
    let trusted = parse_client_certs(client.cert_pem()).unwrap();
    let identity = ServerIdentity::generate().unwrap();
    let acceptor =
        tokio_rustls::TlsAcceptor::from(Arc::new(identity.server_config(trusted).unwrap()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = PluginAddr::Tcp(listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Conn>>(4);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                // A refused handshake simply never reaches the gRPC server.
                if let Ok(tls) = acceptor.accept(stream).await {
                    let _ = tx.send(Ok(Conn(tls))).await;
                }
            });
        }
    });
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(ProviderServer::new(ProviderService::new(Example)))
            .serve_with_incoming(tokio_stream::wrappers::ReceiverStream::new(rx)),
    );
    Server {
        addr,
        server_cert: identity.cert_der,
        client,
    }
}

/// Connects with `config` and asks for the schema; Err when refused at either step
/// (under TLS 1.3 the server judges the client certificate after the client finished).
async fn get_schema(
    server: &Server,
    config: rustls::ClientConfig,
) -> Result<get_provider_schema::Response, String> {
    let channel = connect_tls(&server.addr, config)
        .await
        .map_err(|e| e.to_string())?;
    ProviderClient::new(channel)
        .get_provider_schema(get_provider_schema::Request {})
        .await
        .map(|r| r.into_inner())
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn terraforms_p521_client_certificate_is_accepted() {
    let server = serve().await;
    let config = tls_config(&server.server_cert, Some(&server.client)).unwrap();
    let schema = get_schema(&server, config).await.expect("accepted");
    assert!(schema.resource_schemas.contains_key("example_thing"));
}

#[tokio::test]
async fn another_self_signed_p521_certificate_is_refused() {
    let server = serve().await;
    let stranger = ClientIdentity::generate().unwrap();
    let config = tls_config(&server.server_cert, Some(&stranger)).unwrap();
    assert!(get_schema(&server, config).await.is_err());
}

#[tokio::test]
async fn a_client_without_certificate_is_refused() {
    let server = serve().await;
    let config = tls_config(&server.server_cert, None).unwrap();
    assert!(get_schema(&server, config).await.is_err());
}

#[tokio::test]
async fn the_client_refuses_a_server_with_another_certificate() {
    let server = serve().await;
    let other = ServerIdentity::generate().unwrap();
    let config = tls_config(&other.cert_der, Some(&server.client)).unwrap();
    let error = get_schema(&server, config).await.expect_err("pinned");
    assert!(
        error.to_lowercase().contains("certificate") || error.contains("connect"),
        "{error}"
    );
}

#[tokio::test]
async fn many_calls_share_one_connection() {
    let server = serve().await;
    let channel = connect_tls(
        &server.addr,
        tls_config(&server.server_cert, Some(&server.client)).unwrap(),
    )
    .await
    .unwrap();
    let mut provider = ProviderClient::new(channel);
    for _ in 0..20 {
        provider
            .get_provider_schema(get_provider_schema::Request {})
            .await
            .unwrap();
    }
}
