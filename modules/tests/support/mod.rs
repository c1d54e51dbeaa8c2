//! Running the module binaries as Ansible does (`<binary> <args file>`), and small
//! local servers (HTTP, HTTPS, a Traefik API stand-in) for them to talk to.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::thread;

use serde_json::Value;

/// What a module run printed and returned.
pub struct Run {
    pub out: Value,
    pub stdout: String,
    pub code: i32,
}

/// Runs `bin` with `args` written to an args file, checks that stdout is exactly one
/// JSON object and that the exit code agrees with `failed`.
pub fn run(bin: &str, args: &Value) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("args");
    std::fs::write(&path, args.to_string()).unwrap();
    let output = Command::new(bin).arg(&path).output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let out: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {stdout:?}"));
    assert!(out.is_object(), "{stdout}");
    let code = output.status.code().unwrap();
    assert_eq!(
        code,
        i32::from(out["failed"] == true),
        "exit code and failed disagree: {stdout}"
    );
    assert!(out["changed"].is_boolean(), "{stdout}");
    assert!(out["msg"].is_string(), "{stdout}");
    assert!(out["invocation"]["module_args"].is_object(), "{stdout}");
    Run { out, stdout, code }
}

pub fn path_str(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

type Handler = dyn Fn(&str, &str) -> (u16, String) + Send + Sync;

/// Serves `handler(path, request_head)` over HTTP/1.1 on loopback; returns the base URL.
pub fn serve(handler: impl Fn(&str, &str) -> (u16, String) + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let handler: Arc<Handler> = Arc::new(handler);
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let handler = handler.clone();
            thread::spawn(move || {
                let mut stream = stream;
                answer(&mut stream, &*handler);
            });
        }
    });
    base
}

/// Serves `handler` over HTTPS with the test certificate in tests/fixtures (for
/// `localhost` and 127.0.0.1, signed by fixtures/ca.pem); returns the port.
pub fn serve_tls(handler: impl Fn(&str, &str) -> (u16, String) + Send + Sync + 'static) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let certs = CertificateDer::pem_file_iter(fixtures.join("server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(fixtures.join("server.key")).unwrap();
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handler: Arc<Handler> = Arc::new(handler);
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (handler, config) = (handler.clone(), config.clone());
            thread::spawn(move || {
                let Ok(conn) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut tls = rustls::StreamOwned::new(conn, stream);
                answer(&mut tls, &*handler);
            });
        }
    });
    port
}

fn answer<S: Read + Write>(stream: &mut S, handler: &Handler) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let (status, body) = handler(&path, &head);
    let reason = match status {
        200 => "OK",
        204 => "No Content",
        401 => "Unauthorized",
        404 => "Not Found",
        503 => "Service Unavailable",
        _ => "Whatever",
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.flush();
}

/// A port on loopback where nothing listens (bound, then released).
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    // Make sure: a connect must fail now.
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    port
}
