//! Hosts: the one way every on-host capability (Traefik routes, Prometheus targets, and
//! what comes after them) reads and writes files and runs commands, whether the host is
//! the machine the surface runs on ([`Local`]) or one reached over SSH ([`ssh::SshHost`]).
//!
//! A capability takes `&dyn Host` and never knows which it has. The operations are the
//! few a configuration manager needs, each with the properties that matter to readers of
//! configuration directories:
//! - writes are atomic (a temporary file in the same directory, renamed over the target),
//!   so Traefik's or Prometheus' directory watchers never see half a file, and a write cut
//!   off in the middle leaves the old file and no temporary file;
//! - reads tell a missing file (`Ok(None)`) from one that cannot be read;
//! - commands are argument vectors. Over SSH each argument is quoted for the remote shell,
//!   so a value from a configuration is never parsed as shell syntax; environment values
//!   travel on the command's standard input, never on a command line another user of the
//!   host could read in the process list.
//!
//! Errors are [`Error::Host`] values that name the host (`ssh admin@10.0.20.11:22`, or
//! `local`), what was being done and what the host said.

mod local;
#[cfg(feature = "hosts")]
pub mod ssh;
#[cfg(feature = "hosts")]
pub mod target;

use std::path::Path;

pub use local::Local;

use crate::secret::Secret;
use crate::Error;

/// How a written file ends up: its permission bits and, when set, its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMode {
    /// Permission bits, e.g. `0o644`.
    pub mode: u32,
    /// `user` or `user:group`, as `chown` takes it; `None` keeps the writer's.
    pub owner: Option<String>,
}

impl FileMode {
    /// 0644, owned by whoever writes: configuration files that services running as other
    /// users must be able to read.
    pub fn config_file() -> Self {
        Self {
            mode: crate::files::FILE_MODE,
            owner: None,
        }
    }
}

/// A command to run on a host: an argument vector, never a shell string.
#[derive(Debug, Clone, Default)]
pub struct Command {
    pub argv: Vec<String>,
    /// Bytes for the command's standard input (empty: none).
    pub stdin: Vec<u8>,
    /// Environment variables for the command. Values are secrets: they never appear in a
    /// command line, a log or an error.
    pub env: Vec<(String, Secret)>,
}

impl Command {
    pub fn new<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            argv: argv.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = bytes.into();
        self
    }

    pub fn env(mut self, name: impl Into<String>, value: Secret) -> Self {
        self.env.push((name.into(), value));
        self
    }

    /// The command as a person would type it, for messages: arguments only, never the
    /// environment or the input.
    pub fn display(&self) -> String {
        self.argv
            .iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// What a finished command gave back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The exit status; `None` when the command was ended by a signal.
    pub status: Option<u32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }

    /// The last few lines of stderr, for an error message.
    pub fn stderr_excerpt(&self) -> String {
        excerpt(&self.stderr)
    }

    /// `exit status 3`, or `killed by a signal`.
    pub fn status_text(&self) -> String {
        match self.status {
            Some(code) => format!("exit status {code}"),
            None => "killed by a signal".to_owned(),
        }
    }

    /// Why the command failed, in words: the end of its stderr, else its exit status.
    pub fn failure_reason(&self) -> String {
        let stderr = self.stderr_excerpt();
        if stderr.is_empty() {
            self.status_text()
        } else {
            stderr
        }
    }
}

/// At most the last 10 lines (and 2000 bytes) of a command's output, trimmed.
pub fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let tail = lines[lines.len().saturating_sub(10)..].join("\n");
    if tail.len() > 2000 {
        let cut = tail.len() - 2000;
        let start = (cut..tail.len())
            .find(|i| tail.is_char_boundary(*i))
            .unwrap_or(tail.len());
        format!("...{}", &tail[start..])
    } else {
        tail
    }
}

/// Quotes one argument for a POSIX shell: `'...'`, with embedded quotes spelled `'\''`.
/// Plain words (letters, digits and `-_./=:@,+%`) stay as they are, for readable messages.
pub fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:@,+%".contains(&b));
    if plain {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// A machine that capabilities act on.
#[async_trait::async_trait]
pub trait Host: Send + Sync {
    /// How messages name this host: `local`, or `ssh admin@10.0.20.11:22`.
    fn name(&self) -> String;

    /// The whole file; `Ok(None)` when there is no file at `path`.
    async fn read_file(&self, path: &Path) -> Result<Option<Vec<u8>>, Error>;

    /// Replaces `path` atomically with `bytes` (temporary file in the same directory, then
    /// a rename). The directory must exist. On failure no temporary file is left.
    async fn write_file(&self, path: &Path, bytes: &[u8], mode: &FileMode) -> Result<(), Error>;

    /// Removes a file; returns whether there was one.
    async fn remove_file(&self, path: &Path) -> Result<bool, Error>;

    /// Whether `path` is a directory (`false` when nothing is there; an error when
    /// something else is).
    async fn dir_exists(&self, path: &Path) -> Result<bool, Error>;

    /// Creates `path` and its missing parents; returns whether it had to.
    async fn ensure_dir(&self, path: &Path) -> Result<bool, Error>;

    /// The names in a directory, sorted; `Ok(None)` when there is no such directory.
    async fn list_dir(&self, path: &Path) -> Result<Option<Vec<String>>, Error>;

    /// Runs a command to its end. A command that ran and failed is `Ok` with its status:
    /// callers decide what a failure means (see [`run_checked`]).
    async fn run(&self, command: &Command) -> Result<Output, Error>;
}

/// Runs a command and turns a non-zero exit into an error naming the host, the command and
/// the end of its stderr.
pub async fn run_checked(host: &dyn Host, command: &Command) -> Result<Output, Error> {
    let output = host.run(command).await?;
    if output.success() {
        return Ok(output);
    }
    Err(Error::Host {
        host: host.name(),
        message: format!(
            "`{}` failed ({}): {}",
            command.display(),
            output.status_text(),
            output.stderr_excerpt()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_keeps_words_and_wraps_everything_else() {
        assert_eq!(shell_quote("/etc/traefik/a.toml"), "/etc/traefik/a.toml");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn display_shows_arguments_but_never_the_environment() {
        let c =
            Command::new(["restic", "snapshots"]).env("RESTIC_PASSWORD", Secret::new("hunter2"));
        assert_eq!(c.display(), "restic snapshots");
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn excerpt_keeps_the_last_lines() {
        let text: String = (0..30).map(|i| format!("line {i}\n")).collect();
        let e = excerpt(text.as_bytes());
        assert!(e.starts_with("line 20"), "{e}");
        assert!(e.ends_with("line 29"), "{e}");
    }
}
