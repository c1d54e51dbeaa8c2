//! The provider as a go-plugin process, driven the way Terraform drives it but without
//! Terraform: the handshake line, AutoMTLS (and refusing strangers), the go-plugin side
//! services, `-debug` reattach, and the RPCs a newer client may call.
//!
//! Needs the provider binary (`cargo build -p terraform-provider-homelab`), nothing else.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine as _;
use rustls::pki_types::{CertificateDer, ServerName};
use tfplugin::client::{
    connect_plaintext, LaunchOptions, PluginAddr, PluginProcess, PresentedCert,
};
use tfplugin::proto::plugin::{grpc_controller_client::GrpcControllerClient, Empty};
use tfplugin::proto::tfplugin6::{
    diagnostic::Severity, get_functions, get_metadata, get_provider_schema,
    open_ephemeral_resource, provider_client::ProviderClient, stop_provider, Diagnostic,
};
use tokio::io::{AsyncBufReadExt, BufReader};
use tonic::transport::Channel;
use tonic_health::pb::{health_check_response::ServingStatus, health_client::HealthClient};

const ROUTE: &str = "homelab_traefik_route";

fn provider_binary() -> PathBuf {
    acceptance_tests::provider_dir().join("terraform-provider-homelab")
}

async fn launch(opts: LaunchOptions) -> PluginProcess {
    PluginProcess::launch(&provider_binary(), 6, opts)
        .await
        .unwrap_or_else(|e| panic!("launching the provider: {e}"))
}

fn errors(diagnostics: &[Diagnostic]) -> Vec<&Diagnostic> {
    diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error as i32)
        .collect()
}

/// Reads the handshake line as the process printed it (not through the client's
/// parser) and checks its shape field by field.
async fn raw_handshake(transport: Option<&str>) -> (String, tempfile::TempDir) {
    let socket_dir = tempfile::tempdir().expect("temp dir");
    let mut command = tokio::process::Command::new(provider_binary());
    command
        .env(
            tfplugin::server::MAGIC_COOKIE_KEY,
            tfplugin::server::MAGIC_COOKIE_VALUE,
        )
        .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
        .env("PLUGIN_MIN_PORT", "10000")
        .env("PLUGIN_MAX_PORT", "25000")
        .env("PLUGIN_UNIX_SOCKET_DIR", socket_dir.path())
        .env(
            "PLUGIN_CLIENT_CERT",
            tfplugin::client::ClientIdentity::generate()
                .unwrap()
                .cert_pem(),
        )
        .env_remove("TFPLUGIN_TRANSPORT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    if let Some(transport) = transport {
        command.env("TFPLUGIN_TRANSPORT", transport);
    }
    let mut child = command.spawn().expect("spawn the provider");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(30), stdout.read_line(&mut line))
        .await
        .expect("handshake within 30 s")
        .expect("read stdout");
    child.kill().await.ok();
    (line, socket_dir)
}

fn check_cert_field(field: &str) {
    assert!(
        !field.is_empty(),
        "AutoMTLS: the certificate field is empty"
    );
    assert!(
        !field.ends_with('='),
        "go-plugin writes the certificate without base64 padding: {field}"
    );
    let der = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(field)
        .expect("certificate field is base64 (standard alphabet, no padding)");
    let der = CertificateDer::from(der);
    let cert = webpki::EndEntityCert::try_from(&der).expect("certificate field is an X.509 DER");
    cert.verify_is_valid_for_subject_name(&ServerName::try_from("localhost").unwrap())
        .expect("server certificate has SAN localhost");
}

// (a) The handshake line, over a unix socket (the default) and over TCP.
#[tokio::test]
async fn handshake_line_over_unix_socket() {
    let (line, socket_dir) = raw_handshake(None).await;
    assert!(line.ends_with('\n'), "handshake is a whole line: {line:?}");
    let fields: Vec<&str> = line.trim_end().split('|').collect();
    assert_eq!(fields.len(), 6, "1|6|unix|ADDR|grpc|CERT, got {line:?}");
    assert_eq!(&fields[..3], ["1", "6", "unix"]);
    assert_eq!(fields[4], "grpc");
    assert!(
        fields[3].starts_with(socket_dir.path().to_str().unwrap()),
        "the socket lives in PLUGIN_UNIX_SOCKET_DIR: {}",
        fields[3]
    );
    check_cert_field(fields[5]);
}

#[tokio::test]
async fn handshake_line_over_tcp() {
    let (line, _dir) = raw_handshake(Some("tcp")).await;
    let fields: Vec<&str> = line.trim_end().split('|').collect();
    assert_eq!(fields.len(), 6, "1|6|tcp|ADDR|grpc|CERT, got {line:?}");
    assert_eq!(&fields[..3], ["1", "6", "tcp"]);
    assert_eq!(fields[4], "grpc");
    let addr: std::net::SocketAddr = fields[3].parse().expect("host:port");
    assert!(addr.ip().is_loopback(), "listens on loopback only: {addr}");
    assert!(
        (10000..=25000).contains(&addr.port()),
        "port in range: {addr}"
    );
    check_cert_field(fields[5]);
}

async fn schema_over(plugin: &PluginProcess) -> get_provider_schema::Response {
    let mut provider = ProviderClient::new(plugin.channel().await.expect("connect"));
    provider
        .get_provider_schema(get_provider_schema::Request {})
        .await
        .expect("GetProviderSchema")
        .into_inner()
}

// (b) GetProviderSchema over mutual TLS, on both transports.
#[tokio::test]
async fn get_provider_schema_over_mtls_unix() {
    let plugin = launch(LaunchOptions::default()).await;
    assert!(matches!(plugin.handshake().addr, PluginAddr::Unix(_)));
    let schema = schema_over(&plugin).await;
    assert!(
        errors(&schema.diagnostics).is_empty(),
        "{:?}",
        schema.diagnostics
    );
    let route = &schema.resource_schemas[ROUTE];
    let block = route.block.as_ref().expect("resource schema block");
    for name in ["name", "rule", "servers"] {
        assert!(
            block.attributes.iter().any(|a| a.name == name),
            "{ROUTE} has attribute {name}"
        );
    }
    assert!(plugin.shutdown().await.unwrap().success());
}

#[tokio::test]
async fn get_provider_schema_over_mtls_tcp() {
    let plugin = launch(LaunchOptions::default().env("TFPLUGIN_TRANSPORT", "tcp")).await;
    assert!(matches!(plugin.handshake().addr, PluginAddr::Tcp(_)));
    let schema = schema_over(&plugin).await;
    assert!(schema.resource_schemas.contains_key(ROUTE));
    assert!(plugin.shutdown().await.unwrap().success());
}

/// Connecting and calling one RPC presenting `present`; Err when refused at either step.
async fn schema_presenting(plugin: &PluginProcess, present: PresentedCert) -> Result<(), String> {
    let channel = plugin
        .channel_presenting(present)
        .await
        .map_err(|e| e.to_string())?;
    ProviderClient::new(channel)
        .get_provider_schema(get_provider_schema::Request {})
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

// (c) Only the certificate from PLUGIN_CLIENT_CERT gets in.
#[tokio::test]
async fn refuses_a_client_with_another_certificate() {
    for transport in ["unix", "tcp"] {
        let plugin = launch(LaunchOptions::default().env("TFPLUGIN_TRANSPORT", transport)).await;
        let refused = schema_presenting(&plugin, PresentedCert::Impostor).await;
        assert!(
            refused.is_err(),
            "{transport}: a self-signed P-521 certificate other than Terraform's was accepted"
        );
        // The provider is still there for the real client.
        schema_presenting(&plugin, PresentedCert::Registered)
            .await
            .unwrap_or_else(|e| panic!("{transport}: Terraform's certificate refused: {e}"));
        assert!(plugin.shutdown().await.unwrap().success());
    }
}

#[tokio::test]
async fn refuses_a_client_without_certificate() {
    for transport in ["unix", "tcp"] {
        let plugin = launch(LaunchOptions::default().env("TFPLUGIN_TRANSPORT", transport)).await;
        let refused = schema_presenting(&plugin, PresentedCert::None).await;
        assert!(
            refused.is_err(),
            "{transport}: a client without certificate was accepted"
        );
        schema_presenting(&plugin, PresentedCert::Registered)
            .await
            .unwrap_or_else(|e| panic!("{transport}: Terraform's certificate refused: {e}"));
        assert!(plugin.shutdown().await.unwrap().success());
    }
}

#[tokio::test]
async fn refuses_a_plaintext_client() {
    let plugin = launch(LaunchOptions::default()).await;
    let plaintext = async {
        let channel = connect_plaintext(&plugin.handshake().addr)
            .await
            .map_err(|e| e.to_string())?;
        ProviderClient::new(channel)
            .get_provider_schema(get_provider_schema::Request {})
            .await
            .map_err(|e| e.to_string())
    };
    let result = tokio::time::timeout(Duration::from_secs(10), plaintext).await;
    assert!(
        !matches!(result, Ok(Ok(_))),
        "a plaintext client got an answer from a TLS plugin"
    );
}

// (d) go-plugin's health check.
#[tokio::test]
async fn health_reports_plugin_serving() {
    let plugin = launch(LaunchOptions::default()).await;
    let mut health = HealthClient::new(plugin.channel().await.unwrap());
    let response = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "plugin".to_string(),
        })
        .await
        .expect("grpc.health.v1.Health/Check")
        .into_inner();
    assert_eq!(response.status, ServingStatus::Serving as i32);
    assert!(plugin.shutdown().await.unwrap().success());
}

// (e) GRPCController/Shutdown ends the process with status 0, promptly.
#[tokio::test]
async fn controller_shutdown_exits_zero_promptly() {
    let mut plugin = launch(LaunchOptions::default()).await;
    // An open connection with a finished call must not hold the process up.
    let _schema = schema_over(&plugin).await;
    let mut controller = GrpcControllerClient::new(plugin.channel().await.unwrap());
    let asked = Instant::now();
    let _ = controller.shutdown(Empty {}).await;
    let status = plugin
        .wait_timeout(Duration::from_secs(5))
        .await
        .unwrap()
        .expect("the provider exits within 5 s of Shutdown");
    let took = asked.elapsed();
    assert_eq!(status.code(), Some(0), "exit status {status}");
    assert!(took < Duration::from_secs(2), "exit took {took:?}");
    // Its socket directory is gone.
    if let PluginAddr::Unix(path) = &plugin.handshake().addr {
        assert!(!path.exists(), "{} left behind", path.display());
    }
}

// (f) Run by hand, without the magic cookie.
#[test]
fn without_magic_cookie_explains_and_exits_1() {
    let output = std::process::Command::new(provider_binary())
        .env_remove(tfplugin::server::MAGIC_COOKIE_KEY)
        .stdin(Stdio::null())
        .output()
        .expect("run the provider");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(output.stdout.is_empty(), "stdout: {:?}", output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("Terraform") && stderr.to_lowercase().contains("plugin"),
        "a human message on stderr, got {stderr:?}"
    );
}

// (g) `-debug`: plaintext on a unix socket, reattach line for Terraform.
#[tokio::test]
async fn debug_mode_prints_reattach_and_serves_plaintext() {
    let socket_dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(provider_binary())
        .arg("-debug")
        .env_remove(tfplugin::server::MAGIC_COOKIE_KEY)
        .env("PLUGIN_UNIX_SOCKET_DIR", socket_dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the provider with -debug");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let reattach = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            if let Some((_, rest)) = line.split_once("TF_REATTACH_PROVIDERS=") {
                return rest.trim().trim_matches('\'').to_string();
            }
        }
        panic!("no TF_REATTACH_PROVIDERS line");
    })
    .await
    .expect("reattach line within 30 s");
    let json: serde_json::Value = serde_json::from_str(&reattach)
        .unwrap_or_else(|e| panic!("reattach JSON {reattach:?}: {e}"));
    let entry = &json["registry.terraform.io/tabiri/homelab"];
    assert_eq!(entry["Protocol"], "grpc", "{json}");
    assert_eq!(entry["ProtocolVersion"], 6, "{json}");
    assert_eq!(entry["Pid"], child.id().unwrap(), "{json}");
    assert_eq!(entry["Addr"]["Network"], "unix", "{json}");
    let path = PathBuf::from(entry["Addr"]["String"].as_str().expect("socket path"));
    assert!(path.exists(), "{} exists", path.display());

    let channel: Channel = connect_plaintext(&PluginAddr::Unix(path))
        .await
        .expect("plaintext connection");
    let schema = ProviderClient::new(channel.clone())
        .get_provider_schema(get_provider_schema::Request {})
        .await
        .expect("GetProviderSchema in debug mode")
        .into_inner();
    assert!(schema.resource_schemas.contains_key(ROUTE));

    let _ = GrpcControllerClient::new(channel).shutdown(Empty {}).await;
    let status = tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .expect("debug server stops on Shutdown")
        .unwrap();
    assert!(status.success(), "{status}");
}

// (h) StopProvider.
#[tokio::test]
async fn stop_provider_answers_without_error() {
    let plugin = launch(LaunchOptions::default()).await;
    let mut provider = ProviderClient::new(plugin.channel().await.unwrap());
    let response = provider
        .stop_provider(stop_provider::Request {})
        .await
        .expect("StopProvider")
        .into_inner();
    assert_eq!(response.error, "");
    // Still serving afterwards.
    provider
        .get_provider_schema(get_provider_schema::Request {})
        .await
        .expect("GetProviderSchema after StopProvider");
    assert!(plugin.shutdown().await.unwrap().success());
}

// (i) What newer clients (Terraform 1.6+, OpenTofu) call.
#[tokio::test]
async fn metadata_functions_and_unsupported_rpcs() {
    let plugin = launch(LaunchOptions::default()).await;
    let mut provider = ProviderClient::new(plugin.channel().await.unwrap());

    let metadata = provider
        .get_metadata(get_metadata::Request {})
        .await
        .expect("GetMetadata")
        .into_inner();
    assert!(
        errors(&metadata.diagnostics).is_empty(),
        "{:?}",
        metadata.diagnostics
    );
    assert!(
        metadata.resources.iter().any(|r| r.type_name == ROUTE),
        "{:?}",
        metadata.resources
    );

    let functions = provider
        .get_functions(get_functions::Request {})
        .await
        .expect("GetFunctions")
        .into_inner();
    assert!(functions.functions.is_empty());
    assert!(
        errors(&functions.diagnostics).is_empty(),
        "{:?}",
        functions.diagnostics
    );

    let ephemeral = provider
        .open_ephemeral_resource(open_ephemeral_resource::Request {
            type_name: "homelab_secret".to_string(),
            ..Default::default()
        })
        .await
        .expect("OpenEphemeralResource answers with diagnostics, not a gRPC error")
        .into_inner();
    let errors = errors(&ephemeral.diagnostics);
    assert!(
        errors
            .iter()
            .any(|d| d.summary.contains("not supported by this provider")),
        "{:?}",
        ephemeral.diagnostics
    );
    assert!(plugin.shutdown().await.unwrap().success());
}

/// The client offers only protocol 5: the provider must refuse rather than hand out a
/// protocol 6 server to a client that cannot speak it.
#[tokio::test]
async fn refuses_protocol_5_only_clients() {
    let result = PluginProcess::launch(&provider_binary(), 5, LaunchOptions::default()).await;
    let error = result.expect_err("protocol 5 only must fail").to_string();
    // The client's error carries what the provider said on stderr.
    assert!(error.contains("protocol 6"), "{error}");
}
