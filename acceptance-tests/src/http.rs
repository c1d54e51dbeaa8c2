//! A minimal HTTP/1.1 client and backends for loopback tests: enough to send a request
//! with a Host header through Traefik, to answer it with a recognisable body, and to play
//! a service that is healthy, flaky or behind basic auth for the health checks.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;

/// Sends `GET path` with `Host: host` to `addr` and returns (status, body).
pub fn get(addr: &str, host: &str, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nUser-Agent: homelab-acc\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// Serves `body` with status 200 to every request on `127.0.0.1:port`, in a thread that
/// lives as long as the test process.
pub fn serve_text(port: u16, body: &'static str) {
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind backend");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer(stream, body));
        }
    });
}

/// Serves `body` with status 200 to every request on `ip`, port chosen by the system, in a
/// thread that lives as long as the process; returns the `ip:port` it listens on. Bind it
/// on [`crate::ssh_hosts::SshHost::host_side_address`] to reach it from a namespace host.
pub fn serve_text_on(ip: &str, body: &'static str) -> String {
    let listener = TcpListener::bind((ip, 0)).expect("bind backend");
    let addr = listener.local_addr().expect("backend address").to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer(stream, body));
        }
    });
    addr
}

/// The request line and headers of one request, or None when the client went away first.
fn read_head(stream: &mut TcpStream) -> Option<String> {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut request = Vec::new();
    let mut buf = [0u8; 2048];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    Some(String::from_utf8_lossy(&request).into_owned())
}

fn answer(mut stream: TcpStream, body: &str) {
    if read_head(&mut stream).is_none() {
        return;
    }
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

#[derive(Clone)]
pub struct Backend {
    pub addr: String,
    hits: Arc<Mutex<HashMap<String, u32>>>,
}

/// What the backend answers: `/healthy` 200 with a marker; `/flaky/<n>/...` 503 for the
/// first n requests to that path, then 200; `/auth` 200 only with the expected basic auth.
pub fn start_backend(ip: &str, basic_auth: &str) -> Backend {
    let listener = TcpListener::bind((ip, 0)).expect("bind backend");
    let addr = listener.local_addr().expect("backend addr").to_string();
    let hits: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let expected_auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(basic_auth)
    );
    let backend = Backend {
        addr,
        hits: hits.clone(),
    };
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let hits = hits.clone();
            let expected_auth = expected_auth.clone();
            std::thread::spawn(move || answer_by_path(stream, &hits, &expected_auth));
        }
    });
    backend
}

fn answer_by_path(mut stream: TcpStream, hits: &Mutex<HashMap<String, u32>>, expected_auth: &str) {
    let Some(text) = read_head(&mut stream) else {
        return;
    };
    let path = text.split_whitespace().nth(1).unwrap_or("/").to_string();
    let count = {
        let mut hits = hits.lock().unwrap();
        let n = hits.entry(path.clone()).or_insert(0);
        *n += 1;
        *n
    };
    let authorization = text
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("authorization"))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_default();
    let (status, body) = if path == "/healthy" {
        (200, "status: healthy-marker-7f3a\n".to_string())
    } else if let Some(rest) = path.strip_prefix("/flaky/") {
        let failures: u32 = rest.split('/').next().unwrap_or("0").parse().unwrap_or(0);
        if count <= failures {
            (503, format!("warming up {count}/{failures}\n"))
        } else {
            (200, "flaky-now-ok\n".to_string())
        }
    } else if path == "/auth" {
        if authorization == expected_auth {
            (200, "auth-ok\n".to_string())
        } else {
            (401, "auth-required\n".to_string())
        }
    } else {
        (404, "not found\n".to_string())
    };
    let reason = match status {
        200 => "OK",
        401 => "Unauthorized",
        503 => "Service Unavailable",
        _ => "Not Found",
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

impl Backend {
    pub fn hits(&self, path: &str) -> u32 {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

/// GET over HTTP/1.0, so Go servers (Prometheus) answer without chunked encoding.
pub fn http10_get(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}
