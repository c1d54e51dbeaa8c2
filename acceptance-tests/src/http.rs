//! A minimal HTTP/1.1 client and backend for loopback tests: enough to send a request
//! with a Host header through Traefik and to answer it with a recognisable body.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

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

fn answer(mut stream: TcpStream, body: &str) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}
