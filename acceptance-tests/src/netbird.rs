//! A NetBird management service for the tests, since none can run here: `netbird_double.py`
//! answers NetBird's REST API (every request and answer checked against the published OpenAPI
//! description in `acceptance-tests/specs/`, behaviour taken from the server's handlers) and,
//! privately, the Login/Sync/Logout of `netbird_agent.py`, a stand-in `netbird` CLI installed on
//! SSH test hosts.
//!
//! One management URL for everything, as in a real lab: the double listens on an address of its
//! own, `http://10.199.X.Y:33073`, on one end of a veth pair it makes in the root namespace (both
//! ends stay there; no traffic leaves the machine). The address is a /30 slot claimed the way
//! [`SshHost`] claims its own, so no test host ever gets it, and [`NetbirdDouble::reach_from`]
//! gives a host's namespace a route to it through the host's veth. The provider (this process)
//! and the agents (over SSH, inside their namespaces) so talk to the same URL.
//!
//! Cleanup does not depend on destructors alone: a guard process holding a pipe to this one
//! deletes the veth pair, releases the slot and removes the double's temp dir when the pipe
//! closes (drop, or this process ending any way at all), the double itself exits when its stdin
//! closes, and [`NetbirdDouble::start`] deletes pairs left by test processes that died before
//! their guard could act. An agent's files live in its host's directory, which the host's own
//! guard removes, and its mount lives in the host's sshd mount namespace, which ends with sshd.
//!
//! Needs root, `ip` (iproute2), `nsenter`, overlayfs, `/usr/bin/python3` on the hosts and the
//! venv Python (`scripts/setup.sh`), which has jsonschema and referencing.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{json, Value as Json};

use crate::ssh_hosts::SshHost;

/// The management server's port in self-hosted setups.
pub const PORT: u16 = 33073;
/// The DNS domain of peers (the server's default for self-hosted installs).
pub const DNS_DOMAIN: &str = "netbird.selfhosted";
/// Where the agent is mounted on the hosts: first on the default PATH of root's and other
/// users' SSH sessions alike.
const AGENT_BIN: &str = "/usr/local/bin";

static NEXT: AtomicU32 = AtomicU32::new(0);

/// The double's Python program beside this file.
pub fn double_script() -> PathBuf {
    crate::repo_root().join("acceptance-tests/src/netbird_double.py")
}

/// The stand-in agent beside this file.
pub fn agent_script() -> PathBuf {
    crate::repo_root().join("acceptance-tests/src/netbird_agent.py")
}

/// NetBird's published API description, kept in the repository (a clean clone has no
/// `../shared`).
pub fn spec_file() -> PathBuf {
    crate::repo_root().join("acceptance-tests/specs/netbird-openapi.yml")
}

/// One request the API saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// With its query string, as sent.
    pub path: String,
    pub status: u16,
}

/// A NetBird management service with one freshly seeded account (group `All`, policy
/// `Default`), reachable at [`url`](Self::url) with [`token`](Self::token) from this process
/// and, after [`reach_from`](Self::reach_from) or [`install_agent`](Self::install_agent), from
/// inside SSH test hosts. The process, its address and its veth pair go with the value.
pub struct NetbirdDouble {
    /// `http://10.199.X.Y:33073`
    pub url: String,
    /// A personal access token (`nbp_` and 36 letters and digits), made for this run; send it
    /// as `Authorization: Token <token>`.
    pub token: String,
    /// The address in the URL.
    pub address: String,
    dir: PathBuf,
    child: Child,
    io: Mutex<(ChildStdin, BufReader<ChildStdout>)>,
    guard: Option<(Child, ChildStdin)>,
}

/// The teardown the guard runs once its stdin closes. Arguments: the veth, the slot lock, the
/// temp dir (the double's log).
const GUARD_SCRIPT: &str = r#"
cat >/dev/null
ip link del "$1" 2>/dev/null
rm -f "$2"
rm -rf "$3"
exit 0
"#;

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run ip {args:?}: {e}"));
    assert!(
        out.status.success(),
        "ip {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Deletes veth pairs `nbm<pid>n<k>` whose test process is gone (its guard was killed too).
fn sweep_stale_links() {
    let Ok(out) = Command::new("ip").args(["-o", "link", "show"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // "548: nbm123n0@nbp123n0: <...>"
        let Some(name) = line.split_whitespace().nth(1) else {
            continue;
        };
        let name = name.trim_end_matches(':');
        let name = name.split('@').next().unwrap_or(name);
        let Some(owner) = name
            .strip_prefix("nbm")
            .and_then(|rest| rest.split('n').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !pid_alive(owner) {
            let _ = Command::new("ip").args(["link", "del", name]).status();
        }
    }
}

impl NetbirdDouble {
    /// Claims an address, makes the veth pair, starts the double and waits until it listens.
    pub fn start() -> Self {
        sweep_stale_links();
        let pid = std::process::id();
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        // Interface names are at most 15 bytes: 3 + 7 (pid_max 4194304) + 1 + up to 3.
        let link = format!("nbm{pid}n{n}");
        let peer = format!("nbp{pid}n{n}");
        // Searching from a different start than the hosts' (n), only to meet fewer taken slots.
        let (slot, lock) = crate::ssh_hosts::claim_slot(pid, 1000 + n);
        let address = format!("10.199.{}.{}", slot / 64, (slot % 64) * 4 + 1);

        let dir = tempfile::Builder::new()
            .prefix("homelab-netbird-")
            .tempdir()
            .expect("temp dir")
            .keep();
        let mut guard = Command::new("sh");
        guard
            .args(["-c", GUARD_SCRIPT, "homelab-netbird-guard", &link])
            .arg(&lock)
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: a Ctrl-C to the test must not kill it before it cleans up.
            .process_group(0);
        let mut guard = guard.spawn().expect("start the netbird guard");
        let guard_stdin = guard.stdin.take().expect("guard stdin");
        let guard = Some((guard, guard_stdin));

        ip(&["link", "add", &link, "type", "veth", "peer", "name", &peer]);
        ip(&["addr", "add", &format!("{address}/32"), "dev", &link]);
        ip(&["link", "set", &link, "up"]);
        ip(&["link", "set", &peer, "up"]);

        let log = std::fs::File::create(dir.join("double.log")).expect("log file");
        let python = crate::fakepve::python();
        let mut child = Command::new(&python)
            .arg(double_script())
            .args(["--host", &address, "--port", &PORT.to_string()])
            .arg("--spec")
            .arg(spec_file())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start the NetBird double ({}): {e}",
                    python.display()
                )
            });
        let stdin = child.stdin.take().expect("stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        let read = stdout.read_line(&mut first);
        let started: Json = serde_json::from_str(first.trim()).unwrap_or(Json::Null);
        let (Some(url), Some(token)) = (started["url"].as_str(), started["token"].as_str()) else {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(dir.join("double.log")).unwrap_or_default();
            panic!("the NetBird double did not start ({read:?}, {first:?}); run `scripts/setup.sh all`:\n{log}");
        };
        NetbirdDouble {
            url: url.to_string(),
            token: token.to_string(),
            address,
            dir,
            child,
            io: Mutex::new((stdin, stdout)),
            guard,
        }
    }

    /// Sends one control command and returns its result; panics on an error.
    fn command(&self, command: Json) -> Json {
        match self.try_command(command.clone()) {
            Ok(v) => v,
            Err(e) => panic!("NetBird double: {command} failed: {e}"),
        }
    }

    fn try_command(&self, command: Json) -> Result<Json, String> {
        let mut io = self.io.lock().unwrap_or_else(|e| e.into_inner());
        let (stdin, stdout) = &mut *io;
        writeln!(stdin, "{command}").expect("write to the double");
        stdin.flush().expect("flush the double");
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read the double");
        let answer: Json = serde_json::from_str(line.trim())
            .unwrap_or_else(|e| panic!("the double answered {line:?}: {e}\n{}", self.log()));
        match answer.get("error") {
            Some(error) => Err(error.as_str().unwrap_or_default().to_string()),
            None => Ok(answer["ok"].clone()),
        }
    }

    /// A request through the real API with the token, as a person in the dashboard or a script
    /// would send it: changes behind Terraform's back. Checked against the description like any
    /// other (a malformed one is answered 400 and recorded). Status 0 when no connection could
    /// be made (the double is [`down`](Self::down)); the body is `null` when empty.
    pub fn api(&self, method: &str, path: &str, body: Option<Json>) -> (u16, Json) {
        let auth = format!("Token {}", self.token);
        match http(&self.address, method, path, Some(&auth), body.as_ref()) {
            Ok(answer) => (answer.status, answer.body),
            Err(e) => (0, json!({ "connection_error": e.to_string() })),
        }
    }

    /// Every /api request so far (not the agents' channel): what a test counts to prove a plan
    /// made no write, or that a retry happened.
    pub fn requests(&self) -> Vec<Request> {
        self.command(json!({"op": "requests"}))
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|r| Request {
                        method: r["method"].as_str().unwrap_or_default().to_string(),
                        path: r["path"].as_str().unwrap_or_default().to_string(),
                        status: r["status"].as_u64().unwrap_or(0) as u16,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Forgets the requests so far, so a test counts only those of the step it looks at.
    pub fn clear_requests(&self) {
        self.command(json!({"op": "clear_requests"}));
    }

    /// Every way a request or an answer so far did not match the API description, and every
    /// described operation the double does not implement.
    pub fn violations(&self) -> Vec<String> {
        strings(self.command(json!({"op": "violations"})))
    }

    /// The violations so far, forgetting them: for tests that provoke some on purpose and
    /// still end with [`assert_conforms`](Self::assert_conforms).
    pub fn take_violations(&self) -> Vec<String> {
        strings(self.command(json!({"op": "take_violations"})))
    }

    /// Panics listing every violation so far. Tests call this at their end: a request the
    /// provider sends that the published API does not describe would fail against a real
    /// server in ways the double cannot predict.
    pub fn assert_conforms(&self) {
        let violations = self.violations();
        assert!(
            violations.is_empty(),
            "the traffic did not match NetBird's API description:\n  {}",
            violations.join("\n  ")
        );
    }

    /// The management server being down: its port refuses connections (and open ones are cut)
    /// until `down(false)` listens again on the same address and port. The account is kept.
    /// Agents lose it too (it is their management URL): `status` shows management not
    /// connected, and `up` fails at once where the real agent would retry with backoff.
    pub fn down(&self, down: bool) {
        self.command(json!({"op": "down", "down": down}));
    }

    /// The next `requests` API requests are answered 429 `too many requests` (with
    /// `Retry-After: 1`, which the real server does not send). Unlike the server's own limiter,
    /// this applies to Terraform's user agent too, which the server exempts.
    pub fn rate_limit(&self, requests: u32) {
        self.command(json!({"op": "rate_limit", "requests": requests}));
    }

    /// While on, enrolments succeed for the agent (it shows Connected with an address) but the
    /// peer never appears in the API: what a provider waiting for a peer must time out on.
    pub fn hide_enrolments(&self, hide: bool) {
        self.command(json!({"op": "hide_enrolments", "hide": hide}));
    }

    /// `{"groups", "policies", "setup_keys", "routes", "peers"}` exactly as the API lists them,
    /// without a request (nothing recorded).
    pub fn account(&self) -> Json {
        self.command(json!({"op": "account"}))
    }

    /// Whether the account still holds only what a new account starts with: group `All`
    /// (without peers) and policy `Default` (All to All, accept, bidirectional, all protocols).
    /// The check a test's clean-up ends on: a destroy must leave a lab as it found it.
    pub fn is_seeded(&self) -> bool {
        let account = self.account();
        let groups = account["groups"].as_array().cloned().unwrap_or_default();
        let policies = account["policies"].as_array().cloned().unwrap_or_default();
        let empty = |k: &str| account[k].as_array().is_some_and(|a| a.is_empty());
        let [group] = groups.as_slice() else {
            return false;
        };
        let [policy] = policies.as_slice() else {
            return false;
        };
        let rules = policy["rules"].as_array().cloned().unwrap_or_default();
        let all =
            json!([{"id": group["id"], "name": "All", "peers_count": 0, "resources_count": 0}]);
        group["name"] == "All"
            && group["peers"].is_null()
            && policy["name"] == "Default"
            && policy["enabled"] == true
            && rules.len() == 1
            && rules[0]["action"] == "accept"
            && rules[0]["bidirectional"] == true
            && rules[0]["protocol"] == "all"
            && rules[0]["sources"] == all
            && rules[0]["destinations"] == all
            && empty("setup_keys")
            && empty("routes")
            && empty("peers")
    }

    /// Enrols a peer the way an agent's login does, without an SSH host: the quick way to have
    /// peers for group, route and peer tests. `Ok` holds `{id, ip, ipv6, dns_label, fqdn,
    /// public_key, ...}`; `Err` the server's refusal (`NotFound: couldn't add peer: setup key
    /// is invalid`).
    pub fn enrol(&self, setup_key: &str, hostname: &str) -> Result<Json, String> {
        self.try_command(json!({"op": "enrol", "setup_key": setup_key, "hostname": hostname}))
    }

    /// Moves the double's clock forward (setup keys expire by it).
    pub fn advance_clock(&self, seconds: u64) {
        self.command(json!({"op": "advance_clock", "seconds": seconds}));
    }

    /// Makes the next API answer drop a required field (a test of the answer checks).
    pub fn break_next_response(&self) {
        self.command(json!({"op": "break_next_response"}));
    }

    /// The answer checks applied to a hand-made answer, recording nothing: what would be wrong
    /// with `body` as the `status` answer to `method path`.
    pub fn check_response(&self, method: &str, path: &str, status: u16, body: Json) -> Vec<String> {
        strings(self.command(json!({
            "op": "check_response", "method": method, "path": path, "status": status, "body": body
        })))
    }

    /// The double's own log (one line per request, Python errors).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("double.log")).unwrap_or_default()
    }

    /// Gives `host`'s namespace a route to the double through the host's veth, so the
    /// management URL works from there (hosts behind a bastion are not supported).
    pub fn reach_from(&self, host: &SshHost) {
        ip(&[
            "-n",
            &host.netns,
            "route",
            "replace",
            &format!("{}/32", self.address),
            "via",
            &host.host_side_address,
        ]);
    }

    /// Installs the stand-in `netbird` on `host`: `/usr/local/bin/netbird` in the host's SSH
    /// sessions only (an overlay mounted in sshd's mount namespace; the machine's own
    /// /usr/local/bin is untouched), with its state in the host's directory, and the route to
    /// the double. Install again after restarting the host's sshd (a new sshd has a new mount
    /// namespace).
    pub fn install_agent(&self, host: &SshHost) -> Agent {
        self.reach_from(host);
        let dir = host.dir.join("netbird-agent");
        let bin = dir.join("bin");
        let state_dir = dir.join("state");
        std::fs::create_dir_all(&bin).expect("agent bin dir");
        std::fs::create_dir_all(&state_dir).expect("agent state dir");
        let source = std::fs::read_to_string(agent_script()).expect("netbird_agent.py");
        let marker = "STATE_DIR = None  # set per host by netbird.rs when it installs this script";
        assert!(
            source.contains(marker),
            "netbird_agent.py lost its STATE_DIR line"
        );
        let script = format!(
            "#!/usr/bin/python3\n{}",
            source.replacen(
                marker,
                &format!("STATE_DIR = {:?}", state_dir.display().to_string()),
                1
            )
        );
        let exe = bin.join("netbird");
        std::fs::write(&exe, script).expect("write the agent");
        use std::os::unix::fs::PermissionsExt;
        for (path, mode) in [
            (&exe, 0o755),
            (&bin, 0o755),
            (&dir, 0o755),
            (&state_dir, 0o755),
        ] {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        }
        let mounted = host
            .in_sshd_mounts("mount")
            .args(["-t", "overlay", "overlay", "-o"])
            .arg(format!("lowerdir={}:{AGENT_BIN}", bin.display()))
            .arg(AGENT_BIN)
            .output()
            .expect("mount");
        assert!(
            mounted.status.success(),
            "mounting the agent on {AGENT_BIN} for {} failed: {}",
            host.netns,
            String::from_utf8_lossy(&mounted.stderr)
        );
        let agent = Agent { dir, state_dir };
        let found = host.ssh("command -v netbird");
        assert_eq!(
            found.trim(),
            format!("{AGENT_BIN}/netbird"),
            "netbird on {}",
            host.netns
        );
        agent
    }
}

impl Drop for NetbirdDouble {
    fn drop(&mut self) {
        // (Had this process died instead, the double would exit on its stdin closing.)
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some((mut guard, stdin)) = self.guard.take() {
            drop(stdin);
            let _ = guard.wait();
        }
    }
}

fn strings(value: Json) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// An HTTP answer from the double.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// Lowercase names.
    pub headers: Vec<(String, String)>,
    /// `null` when empty, a string when not JSON.
    pub body: Json,
}

/// One HTTP/1.1 request to the double (port [`PORT`] on `address`), with any `Authorization`
/// header (or none): for tests of the authentication and of headers, which
/// [`NetbirdDouble::api`] hides.
pub fn http(
    address: &str,
    method: &str,
    path: &str,
    authorization: Option<&str>,
    body: Option<&Json>,
) -> std::io::Result<Answer> {
    let addr = format!("{address}:{PORT}")
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{e}")))?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}:{PORT}\r\nConnection: close\r\nUser-Agent: homelab-acc\r\nAccept: application/json\r\n"
    );
    if let Some(auth) = authorization {
        request.push_str(&format!("Authorization: {auth}\r\n"));
    }
    if body.is_some() {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            payload.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(&payload);
    stream.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let body = if body.trim().is_empty() {
        Json::Null
    } else {
        serde_json::from_str(body).unwrap_or_else(|_| Json::String(body.to_string()))
    };
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// The stand-in `netbird` on one host (see `netbird_agent.py`): its files, and ways to run it.
pub struct Agent {
    /// `<host dir>/netbird-agent`: `bin/netbird` and `state/`.
    pub dir: PathBuf,
    /// The agent's config, state and `argv.log`.
    pub state_dir: PathBuf,
}

/// What one `netbird` command on a host did.
#[derive(Debug, Clone)]
pub struct AgentRun {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Agent {
    /// `netbird status --json` run over SSH, parsed.
    pub fn status(&self, host: &SshHost) -> Json {
        let out = host.ssh("netbird status --json");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("netbird status --json: {e}:\n{out}"))
    }

    /// Runs a shell command line on the host over SSH (`netbird up --setup-key-file /k`,
    /// `NB_SETUP_KEY=$(cat /k) netbird up`) and returns what it did, failing or not.
    pub fn run(&self, host: &SshHost, command: &str) -> AgentRun {
        let out = Command::new("ssh")
            .arg("-i")
            .arg(&host.client_key)
            .args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=5"])
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", host.known_hosts.display()))
            .args(["-o", "StrictHostKeyChecking=yes"])
            .arg(format!("root@{}", host.address))
            .arg(command)
            .output()
            .expect("run ssh");
        AgentRun {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Every invocation so far, one JSON line each: `{"argv": [...], "env": [names]}`.
    pub fn argv_log(&self) -> String {
        std::fs::read_to_string(self.state_dir.join("argv.log")).unwrap_or_default()
    }

    /// Forgets the agent's identity and state, as a reinstalled machine would: the peer stays
    /// in the API, and the agent needs a setup key again (and gets a new peer).
    pub fn forget_identity(&self) {
        for name in ["config.json", "state.json"] {
            let _ = std::fs::remove_file(self.state_dir.join(name));
        }
    }
}

/// The configuration head NetBird tests and benches share: the provider with its `ssh`
/// block (variables `key`, `known_hosts`) and its `netbird` block (variables
/// `netbird_url`, `netbird_token`).
pub fn provider_hcl() -> String {
    crate::hcl::SshProvider {
        variables: &["netbird_url"],
        secrets: &["netbird_token"],
        blocks: "  netbird {\n    management_url = var.netbird_url\n    token          = var.netbird_token\n  }\n",
        ..Default::default()
    }
    .hcl()
}
