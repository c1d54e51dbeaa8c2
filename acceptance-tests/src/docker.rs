//! A real Docker Engine (Debian's 20.10), started the one way every test starts one: its own
//! data-root, exec-root and socket in a directory of its own. Per SSH test host, started
//! inside the host's network namespace and made the default engine of the host's SSH
//! sessions (the socket is bind-mounted on `/run/docker.sock` in sshd's mount
//! namespace). So stacks on two hosts never see each other, and `docker` on the host works
//! as on any machine. No registry is reachable: images are built `FROM scratch` around
//! Debian's static busybox (`httpd`, `sh`, `wget` for healthchecks).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::procs::wait_for;
use crate::ssh_hosts::SshHost;

/// The default socket path of the docker CLI on the hosts.
const DEFAULT_SOCKET: &str = "/run/docker.sock";

pub struct DockerEngine {
    pub dir: PathBuf,
    pub socket: PathBuf,
    dockerd: Option<Child>,
}

impl DockerEngine {
    /// Starts an engine inside `host`'s namespace and makes it the default of its sessions.
    pub fn start(host: &SshHost) -> Self {
        let engine = Self::spawn(Some(host), None);
        engine.serve_sessions_of(host);
        engine.build_busybox_image("tabiri-test/busybox:1", "");
        engine
    }

    /// Starts an engine on this machine (no namespace) reading `daemon_json`, for tests of
    /// what dockerd makes of that file. Everything it keeps is in its own directory and it
    /// has no bridge and no iptables rules: the machine's own Docker is left alone.
    pub fn start_with_config(daemon_json: &Path) -> Self {
        Self::spawn(None, Some(daemon_json))
    }

    fn spawn(host: Option<&SshHost>, daemon_json: Option<&Path>) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("homelab-docker-")
            .tempdir()
            .expect("temp dir")
            .keep();
        let socket = dir.join("docker.sock");
        let log_path = dir.join("dockerd.log");
        let log = std::fs::File::create(&log_path).expect("log");
        let mut command = match host {
            Some(host) => host.in_netns("dockerd"),
            None => Command::new("dockerd"),
        };
        if let Some(daemon_json) = daemon_json {
            command.arg(format!("--config-file={}", daemon_json.display()));
        }
        let dockerd = command
            .arg(format!("--data-root={}", dir.join("data").display()))
            .arg(format!("--exec-root={}", dir.join("exec").display()))
            .arg(format!("--pidfile={}", dir.join("dockerd.pid").display()))
            .arg(format!("--host=unix://{}", socket.display()))
            .args([
                "--bridge=none",
                "--iptables=false",
                "--ip6tables=false",
                "--ip-masq=false",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start dockerd");
        let mut engine = Self {
            dir,
            socket,
            dockerd: Some(dockerd),
        };
        wait_for("dockerd to answer", Duration::from_secs(60), || {
            if let Some(Ok(Some(status))) = engine.dockerd.as_mut().map(Child::try_wait) {
                panic!(
                    "dockerd exited ({status}):\n{}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
            engine
                .docker(&["version", "--format", "{{.Server.Version}}"])
                .status
                .success()
                .then_some(())
        });
        engine
    }

    /// Makes this engine the default (`/run/docker.sock`) of `host`'s SSH sessions. Again
    /// after the host's sshd restarts: a new sshd has a new mount namespace.
    pub fn serve_sessions_of(&self, host: &SshHost) {
        // The mount point: an empty file where the CLI looks; dockerd replaces a stale one
        // at its own start, so it never stands in a real engine's way.
        if !Path::new(DEFAULT_SOCKET).exists() {
            let _ = std::fs::File::create(DEFAULT_SOCKET);
        }
        let mounted = host
            .in_sshd_mounts("mount")
            .arg("--bind")
            .arg(&self.socket)
            .arg(DEFAULT_SOCKET)
            .status()
            .expect("mount");
        assert!(
            mounted.success(),
            "bind-mounting the engine's socket failed"
        );
    }

    /// Runs the docker CLI against this engine, from this process.
    pub fn docker(&self, args: &[&str]) -> std::process::Output {
        Command::new("docker")
            .arg("-H")
            .arg(format!("unix://{}", self.socket.display()))
            .args(args)
            .output()
            .expect("run docker")
    }

    /// `docker ARGS`, which must succeed; its stdout, trimmed.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "docker {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Builds `tag` from scratch with busybox as its entrypoint; `marker` goes into the
    /// image as /marker, so the same tag can be rebuilt into a different image.
    pub fn build_busybox_image(&self, tag: &str, marker: &str) {
        let context = self
            .dir
            .join(format!("build-{}", tag.replace([':', '/'], "-")));
        std::fs::create_dir_all(&context).expect("context");
        std::fs::copy("/bin/busybox", context.join("busybox")).expect("busybox-static");
        std::fs::write(context.join("marker"), marker).expect("marker");
        std::fs::write(
            context.join("Dockerfile"),
            "FROM scratch\nCOPY busybox /bin/busybox\nCOPY marker /marker\nENTRYPOINT [\"/bin/busybox\"]\n",
        )
        .expect("Dockerfile");
        self.ok(&["build", "-q", "-t", tag, &context.display().to_string()]);
    }

    /// Container IDs of `project` by service, sorted by name.
    pub fn containers(&self, project: &str) -> Vec<(String, String)> {
        let out = self.ok(&[
            "ps",
            "-a",
            "--filter",
            &format!("label=com.docker.compose.project={project}"),
            "--format",
            "{{.Label \"com.docker.compose.service\"}} {{.ID}}",
        ]);
        let mut found: Vec<(String, String)> = out
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(s, id)| (s.to_string(), id.to_string()))
            .collect();
        found.sort();
        found
    }

    /// The networks `project` made.
    pub fn networks(&self, project: &str) -> Vec<String> {
        self.ok(&[
            "network",
            "ls",
            "--filter",
            &format!("label=com.docker.compose.project={project}"),
            "--format",
            "{{.Name}}",
        ])
        .lines()
        .map(str::to_string)
        .collect()
    }
}

impl Drop for DockerEngine {
    fn drop(&mut self) {
        // Containers live in their own namespaces: remove them before the engine goes, or
        // their processes outlive the test.
        let ids = self.docker(&["ps", "-aq"]);
        for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
            let _ = self.docker(&["rm", "-f", id]);
        }
        if let Some(mut dockerd) = self.dockerd.take() {
            let _ = Command::new("kill").arg(dockerd.id().to_string()).status();
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while dockerd.try_wait().ok().flatten().is_none()
                && std::time::Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = dockerd.kill();
            let _ = dockerd.wait();
        }
        // Mounts the engine left under its roots (overlay, netns files).
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let mut inside: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|m| Path::new(m).starts_with(&self.dir))
            .collect();
        inside.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in inside {
            let _ = Command::new("umount").arg("-l").arg(m).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
