//! SSH test hosts for Ansible runs: each is a network namespace this test process makes
//! itself (`hl-<pid>-<n>`), joined to the host by a veth pair on a /30 out of
//! 10.199.0.0/16, running its own `sshd` on the namespace address, port 22, with a fresh
//! host key, a fresh client key and host key checking left on.
//!
//! Namespaces share the filesystem with the host: a module run "on" the namespace host
//! writes into directories the test can read directly, and a Traefik or Prometheus on the
//! host sees what it wrote. Sessions get an empty `HOME` (sshd `SetEnv`), so root's own
//! dotfiles do not run on every command Ansible sends (a `~/.bashrc` running pyenv cost
//! seconds per task here, and hung while pyenv's rehash lock was stale).
//!
//! Cleanup does not depend on Rust destructors alone (a host kept in a `static` for a whole
//! test file is never dropped, and a killed test process runs none): each host has a guard
//! process holding a pipe to the test process. When the pipe closes (drop, or the test
//! process exiting for any reason) the guard kills every process in the namespace,
//! deletes the namespace (which deletes the veth pair), releases the address slot and
//! removes the temp directory. Namespaces left by a test process that died before its
//! guard could act are removed by the next [`SshHost::start`].
//!
//! Needs root, `ip` (iproute2), `/usr/sbin/sshd` (openssh-server) and `ssh-keygen`.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde_json::{json, Map, Value as Json};

use crate::procs::wait_for;

/// Where address slots are claimed (one lock file per /30), shared by all test processes.
const SLOT_DIR: &str = "/run/homelab-acc-netns";
/// 10.199.0.0/16 in /30s.
const SLOTS: u32 = 16384;
const SSHD: &str = "/usr/sbin/sshd";

static NEXT_HOST: AtomicU32 = AtomicU32::new(0);

/// One host of an Ansible inventory: its name and its host variables.
#[derive(Debug, Clone)]
pub struct InventoryHost {
    pub name: String,
    pub vars: Map<String, Json>,
}

impl InventoryHost {
    /// Adds a host variable (for per-host values such as the directory a module writes to).
    pub fn var(mut self, name: &str, value: impl Into<Json>) -> Self {
        self.vars.insert(name.to_string(), value.into());
        self
    }
}

/// `localhost` with `ansible_connection: local`, running modules with the controller's
/// own Python (binary modules need none, but the action plugin runs on the controller).
pub fn localhost() -> InventoryHost {
    let mut vars = Map::new();
    vars.insert("ansible_connection".into(), json!("local"));
    vars.insert(
        "ansible_python_interpreter".into(),
        json!("{{ ansible_playbook_python }}"),
    );
    InventoryHost {
        name: "localhost".into(),
        vars,
    }
}

/// A network-namespace host reachable over real SSH.
pub struct SshHost {
    /// The namespace name, `hl-<pid>-<n>`.
    pub netns: String,
    /// The namespace's address, where sshd listens (port 22).
    pub address: String,
    /// The host side of the veth pair: a service bound here is reachable from inside the
    /// namespace (its loopback is its own).
    pub host_side_address: String,
    pub dir: PathBuf,
    pub client_key: PathBuf,
    pub known_hosts: PathBuf,
    pub sshd_log: PathBuf,
    sshd: Option<Child>,
    guard: Option<(Child, ChildStdin)>,
}

fn run(what: &str, command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    if !output.status.success() {
        panic!(
            "{what} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn ip(args: &[&str]) -> String {
    run(
        &format!("ip {}", args.join(" ")),
        Command::new("ip").args(args),
    )
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Claims a free /30 slot by creating its lock file exclusively; a lock whose owner
/// process is gone is taken over. (`pub(crate)` for the NetBird double's address, see
/// `netbird.rs`.)
pub(crate) fn claim_slot(pid: u32, n: u32) -> (u32, PathBuf) {
    std::fs::create_dir_all(SLOT_DIR).expect("slot dir");
    let start = (pid.wrapping_mul(64).wrapping_add(n)) % SLOTS;
    for i in 0..SLOTS {
        let slot = (start + i) % SLOTS;
        let lock = Path::new(SLOT_DIR).join(format!("{slot}.lock"));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&lock)
        {
            Ok(mut f) => {
                let _ = writeln!(f, "{pid}");
                return (slot, lock);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let owner = std::fs::read_to_string(&lock)
                    .ok()
                    .and_then(|s| s.trim().parse::<u32>().ok());
                if matches!(owner, Some(p) if !pid_alive(p)) {
                    let _ = std::fs::remove_file(&lock);
                    // Retry the same slot once; another process may win it.
                    if let Ok(mut f) = std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(&lock)
                    {
                        let _ = writeln!(f, "{pid}");
                        return (slot, lock);
                    }
                }
            }
            Err(e) => panic!("cannot create {}: {e}", lock.display()),
        }
    }
    panic!("no free /30 left in 10.199.0.0/16 under {SLOT_DIR}");
}

/// Deletes namespaces named `hl-<pid>-<n>` whose creating process is gone, with the
/// processes still inside them (sshd sessions a killed test left behind).
fn sweep_stale_namespaces() {
    let Ok(list) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&list.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or_default();
        let Some(rest) = name.strip_prefix("hl-") else {
            continue;
        };
        let Some(owner) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid_alive(owner) {
            continue;
        }
        if let Ok(pids) = Command::new("ip").args(["netns", "pids", name]).output() {
            for pid in String::from_utf8_lossy(&pids.stdout).split_whitespace() {
                let _ = Command::new("kill").arg(pid).status();
            }
        }
        let _ = Command::new("ip").args(["netns", "del", name]).status();
    }
}

/// The teardown the guard runs once its stdin closes. Arguments: netns, host-side veth,
/// slot lock file, temp dir, sshd pid file.
const GUARD_SCRIPT: &str = r#"
cat >/dev/null
[ -s "$5" ] && kill "$(cat "$5")" 2>/dev/null
for pid in $(ip netns pids "$1" 2>/dev/null); do kill "$pid" 2>/dev/null; done
sleep 0.1
for pid in $(ip netns pids "$1" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
ip netns del "$1" 2>/dev/null
ip link del "$2" 2>/dev/null
rm -f "$3"
rm -rf "$4"
exit 0
"#;

impl SshHost {
    /// Creates the namespace, the veth pair and the keys, starts sshd and waits until an
    /// SSH login with host key checking works.
    pub fn start() -> Self {
        Self::start_inner(None)
    }

    /// A host whose only link is to `bastion`'s namespace: this process cannot reach it;
    /// only a hop through the bastion's sshd can.
    pub fn start_behind(bastion: &SshHost) -> Self {
        Self::start_inner(Some(bastion))
    }

    fn start_inner(behind: Option<&SshHost>) -> Self {
        sweep_stale_namespaces();
        let pid = std::process::id();
        let n = NEXT_HOST.fetch_add(1, Ordering::SeqCst);
        let netns = format!("hl-{pid}-{n}");
        // Interface names are at most 15 bytes: 2 + 7 (pid_max 4194304) + 1 + up to 3.
        let veth_host = format!("hh{pid}n{n}");
        let veth_ns = format!("hp{pid}n{n}");
        let (slot, lock) = claim_slot(pid, n);
        let (x, y) = (slot / 64, (slot % 64) * 4);
        let host_side_address = format!("10.199.{x}.{}", y + 1);
        let address = format!("10.199.{x}.{}", y + 2);

        let dir = tempfile::Builder::new()
            .prefix(&format!("homelab-{netns}-"))
            .tempdir()
            .expect("temp dir")
            .keep();
        let pid_file = dir.join("sshd.pid");

        ip(&["netns", "add", &netns]);
        // The guard owns the teardown from here on.
        let mut guard = Command::new("sh");
        guard
            .args([
                "-c",
                GUARD_SCRIPT,
                "homelab-netns-guard",
                &netns,
                &veth_host,
            ])
            .arg(&lock)
            .arg(&dir)
            .arg(&pid_file)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: a Ctrl-C to the test must not kill it before it
            // cleans up (closing the pipe tells it to).
            .process_group(0);
        let mut guard = guard.spawn().expect("start the netns guard");
        let guard_stdin = guard.stdin.take().expect("guard stdin");
        let mut host = Self {
            netns: netns.clone(),
            address: address.clone(),
            host_side_address: host_side_address.clone(),
            client_key: dir.join("client_key"),
            known_hosts: dir.join("known_hosts"),
            sshd_log: dir.join("sshd.log"),
            dir: dir.clone(),
            sshd: None,
            guard: Some((guard, guard_stdin)),
        };

        ip(&[
            "link", "add", &veth_host, "type", "veth", "peer", "name", &veth_ns,
        ]);
        ip(&["link", "set", &veth_ns, "netns", &netns]);
        // The "host side" of the pair is the bastion's namespace for a host behind one.
        let outer: Vec<&str> = match behind {
            Some(b) => {
                ip(&["link", "set", &veth_host, "netns", &b.netns]);
                vec!["-n", b.netns.as_str()]
            }
            None => Vec::new(),
        };
        let with_outer = |args: &[&str]| {
            let mut all = outer.clone();
            all.extend_from_slice(args);
            ip(&all)
        };
        with_outer(&[
            "addr",
            "add",
            &format!("{host_side_address}/30"),
            "dev",
            &veth_host,
        ]);
        with_outer(&["link", "set", &veth_host, "up"]);
        ip(&[
            "-n",
            &netns,
            "addr",
            "add",
            &format!("{address}/30"),
            "dev",
            &veth_ns,
        ]);
        ip(&["-n", &netns, "link", "set", &veth_ns, "up"]);
        ip(&["-n", &netns, "link", "set", "lo", "up"]);

        for key in ["host_key", "client_key"] {
            run(
                "ssh-keygen",
                Command::new("ssh-keygen")
                    .args(["-q", "-t", "ed25519", "-N", "", "-C", &netns, "-f"])
                    .arg(dir.join(key)),
            );
        }
        std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys"))
            .expect("authorized_keys");
        let host_pub = std::fs::read_to_string(dir.join("host_key.pub")).expect("host key");
        let host_pub: Vec<&str> = host_pub.split_whitespace().take(2).collect();
        std::fs::write(
            &host.known_hosts,
            format!("{address} {}\n", host_pub.join(" ")),
        )
        .expect("known_hosts");

        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "ListenAddress {address}:22\n\
                 HostKey {host_key}\n\
                 PidFile {pid}\n\
                 AuthorizedKeysFile {auth}\n\
                 PermitRootLogin prohibit-password\n\
                 PubkeyAuthentication yes\n\
                 PasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\n\
                 StrictModes no\n\
                 UsePAM no\n\
                 UseDNS no\n\
                 PrintMotd no\n\
                 MaxStartups 50:30:100\n\
                 MaxSessions 10\n\
                 LogLevel VERBOSE\n\
                 SetEnv HOME={home}\n\
                 Subsystem sftp internal-sftp\n",
                home = dir.join("home").display(),
                host_key = dir.join("host_key").display(),
                pid = pid_file.display(),
                auth = dir.join("authorized_keys").display(),
            ),
        )
        .expect("sshd_config");
        // Sessions get an empty HOME, so root's own dotfiles (a ~/.bashrc that runs pyenv,
        // say) do not run on every Ansible command: the host behaves the same on every
        // machine. `~root` still expands to root's home, so Ansible's remote_tmp is as usual.
        std::fs::create_dir_all(dir.join("home")).expect("session home");
        // sshd refuses to start without its privilege separation directory.
        std::fs::create_dir_all("/run/sshd").expect("/run/sshd");

        let log = std::fs::File::create(&host.sshd_log).expect("sshd log");
        let sshd = Command::new("ip")
            .args(["netns", "exec", &netns, SSHD, "-D", "-e", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start sshd in {netns}: {e}"));
        host.sshd = Some(sshd);

        // sshd reads the one authorized_keys file as the logging-in user too (the sudo
        // user): the directory must be traversable by others.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        if behind.is_some() {
            wait_for(
                &format!("sshd in {netns} to listen"),
                Duration::from_secs(10),
                || {
                    std::fs::read_to_string(&host.sshd_log)
                        .ok()
                        .filter(|log| log.contains("Server listening"))
                        .map(|_| ())
                },
            );
            return host;
        }
        let sshd_addr: SocketAddr = format!("{address}:22").parse().expect("address");
        wait_for(
            &format!("sshd in {netns} to listen on {sshd_addr}"),
            Duration::from_secs(10),
            || {
                if let Some(Ok(Some(status))) = host.sshd.as_mut().map(|c| c.try_wait()) {
                    panic!(
                        "sshd in {netns} exited ({status}):\n{}",
                        std::fs::read_to_string(&host.sshd_log).unwrap_or_default()
                    );
                }
                TcpStream::connect_timeout(&sshd_addr, Duration::from_millis(200))
                    .ok()
                    .map(|_| ())
            },
        );
        let hello = host.ssh("echo ready");
        assert_eq!(hello.trim(), "ready", "ssh login to {netns}");
        host
    }

    /// The `-o` options that keep host key checking strict against this host's key only.
    pub fn ssh_common_args(&self) -> String {
        format!(
            "-o UserKnownHostsFile={} -o StrictHostKeyChecking=yes",
            self.known_hosts.display()
        )
    }

    /// Runs a shell command on the host over SSH and returns its stdout (panics on failure).
    pub fn ssh(&self, command: &str) -> String {
        let mut ssh = Command::new("ssh");
        ssh.args(["-i"])
            .arg(&self.client_key)
            .args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=5"])
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", self.known_hosts.display()))
            .args(["-o", "StrictHostKeyChecking=yes"])
            .arg(format!("root@{}", self.address))
            .arg(command);
        run(&format!("ssh root@{} {command:?}", self.address), &mut ssh)
    }

    /// The host's public key line (`ssh-ed25519 AAAA...`), without the comment.
    pub fn host_public_key(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("host_key.pub")).expect("host key");
        text.split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The client's private key, OpenSSH text.
    pub fn client_private_key(&self) -> String {
        std::fs::read_to_string(&self.client_key).expect("client key")
    }

    /// Gives the host a new host key (a rebuilt machine) and restarts sshd with it.
    pub fn rotate_host_key(&mut self) {
        let key = self.dir.join("host_key");
        let _ = std::fs::remove_file(&key);
        let _ = std::fs::remove_file(self.dir.join("host_key.pub"));
        run(
            "ssh-keygen",
            Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(&key),
        );
        self.restart_sshd();
    }

    /// Authorises one more client key (a passphrase key, an agent's key).
    pub fn authorize(&self, public_key_file: &Path) {
        let line = std::fs::read_to_string(public_key_file).expect("public key");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.join("authorized_keys"))
            .expect("authorized_keys");
        f.write_all(line.as_bytes()).expect("append key");
    }

    /// Stops sshd: connections are refused from now on.
    pub fn stop_sshd(&mut self) {
        if let Some(mut sshd) = self.sshd.take() {
            let _ = sshd.kill();
            let _ = sshd.wait();
        }
        let address: SocketAddr = format!("{}:22", self.address).parse().expect("address");
        wait_for("sshd to stop listening", Duration::from_secs(10), || {
            TcpStream::connect_timeout(&address, Duration::from_millis(200))
                .is_err()
                .then_some(())
        });
    }

    /// Starts sshd again (after [`stop_sshd`](Self::stop_sshd) or a key change).
    pub fn restart_sshd(&mut self) {
        self.stop_sshd();
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.sshd_log)
            .expect("sshd log");
        let sshd = Command::new("ip")
            .args(["netns", "exec", &self.netns, SSHD, "-D", "-e", "-f"])
            .arg(self.dir.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("restart sshd");
        self.sshd = Some(sshd);
        let address: SocketAddr = format!("{}:22", self.address).parse().expect("address");
        wait_for("sshd to listen again", Duration::from_secs(10), || {
            TcpStream::connect_timeout(&address, Duration::from_millis(200))
                .ok()
                .map(|_| ())
        });
    }

    /// Kills every sshd process serving a connection (not the listener): what a dropped
    /// network does to the sessions in flight. Returns how many it killed.
    pub fn kill_sessions(&self) -> usize {
        let main = self.sshd.as_ref().map(Child::id);
        let pids = ip(&["netns", "pids", &self.netns]);
        let mut killed = 0;
        for pid in pids
            .split_whitespace()
            .filter_map(|p| p.parse::<u32>().ok())
        {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            // `ip netns exec` execs sshd, so the listener is the child's own pid.
            if comm.trim() == "sshd" && Some(pid) != main {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                killed += 1;
            }
        }
        killed
    }

    /// How many SSH logins sshd accepted so far (its log, `LogLevel VERBOSE`).
    pub fn accepted_logins(&self) -> usize {
        std::fs::read_to_string(&self.sshd_log)
            .unwrap_or_default()
            .matches("Accepted publickey")
            .count()
    }

    /// Runs a program in sshd's mount namespace (`ip netns exec` gave sshd its own, so a
    /// mount made there is what sessions on this host see).
    pub fn in_sshd_mounts(&self, program: &str) -> Command {
        let pid = self.sshd.as_ref().map(Child::id).expect("sshd runs");
        let mut command = Command::new("nsenter");
        command.args(["-t", &pid.to_string(), "-m", program]);
        command
    }

    /// Runs a program inside the host's network namespace (its filesystem is ours).
    pub fn in_netns(&self, program: &str) -> Command {
        let mut command = Command::new("nsenter");
        command
            .arg(format!("--net=/var/run/netns/{}", self.netns))
            .arg(program);
        command
    }

    /// This host as an inventory entry named `name`.
    pub fn inventory_host(&self, name: &str) -> InventoryHost {
        let mut vars = Map::new();
        vars.insert("ansible_host".into(), json!(self.address));
        vars.insert("ansible_port".into(), json!(22));
        vars.insert("ansible_user".into(), json!("root"));
        vars.insert("ansible_connection".into(), json!("ssh"));
        vars.insert(
            "ansible_ssh_private_key_file".into(),
            json!(self.client_key.display().to_string()),
        );
        vars.insert(
            "ansible_ssh_common_args".into(),
            json!(self.ssh_common_args()),
        );
        // Binary modules need no Python on the host; builtin modules used alongside them
        // get the system one rather than whatever `python3` is first on root's PATH.
        vars.insert(
            "ansible_python_interpreter".into(),
            json!("/usr/bin/python3"),
        );
        InventoryHost {
            name: name.into(),
            vars,
        }
    }
}

impl Drop for SshHost {
    fn drop(&mut self) {
        if let Some(mut sshd) = self.sshd.take() {
            let _ = sshd.kill();
            let _ = sshd.wait();
        }
        if let Some((mut guard, stdin)) = self.guard.take() {
            drop(stdin);
            let _ = guard.wait();
        }
    }
}

/// A non-root user (shared by every test process on the machine) who may run anything
/// through `sudo -n`: the "admin with passwordless sudo" of a real lab. Logs in with the
/// same client key as root (sshd's `AuthorizedKeysFile` is one file for every user).
pub const SUDO_USER: &str = "homelab-acc";

/// Creates [`SUDO_USER`] and its sudoers entry once; safe to call from every test.
pub fn ensure_sudo_user() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let exists = Command::new("id")
            .arg(SUDO_USER)
            .output()
            .is_ok_and(|o| o.status.success());
        if !exists {
            // Another test process may create it at the same time: ignore "already exists".
            let _ = Command::new("useradd")
                .args([
                    "--system",
                    "--shell",
                    "/bin/sh",
                    "--no-create-home",
                    SUDO_USER,
                ])
                .output();
        }
        // No password, but not locked: sshd (without PAM) refuses keys of locked accounts.
        let _ = Command::new("usermod")
            .args(["-p", "*", SUDO_USER])
            .output();
        let sudoers = format!("/etc/sudoers.d/{SUDO_USER}");
        if !Path::new(&sudoers).exists() {
            std::fs::write(&sudoers, format!("{SUDO_USER} ALL=(ALL) NOPASSWD: ALL\n"))
                .expect("sudoers entry");
            let mut perms = std::fs::metadata(&sudoers).expect("sudoers").permissions();
            use std::os::unix::fs::PermissionsExt;
            perms.set_mode(0o440);
            std::fs::set_permissions(&sudoers, perms).expect("sudoers mode");
        }
    });
}
