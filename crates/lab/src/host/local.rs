//! The machine the surface runs on. With an async runtime (feature `runtime`: the
//! provider) every filesystem call and process runs on tokio's blocking pool, never on the
//! runtime's worker threads (a slow NFS mount must not stall other resources' network
//! I/O). Without one (the Ansible modules, one task per process) the same calls run in
//! place.

use std::path::{Path, PathBuf};

use super::{Command, FileMode, Host, Output};
use crate::{file_plan, files, Error};

/// The local machine.
#[derive(Debug, Clone, Copy, Default)]
pub struct Local;

#[cfg(feature = "runtime")]
async fn blocking<T, F>(what: &'static str, f: F) -> Result<T, Error>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, Error> + Send + 'static,
{
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(Error::Host {
            host: "local".into(),
            message: format!("{what}: the worker thread failed: {e}"),
        })
    })
}

#[cfg(not(feature = "runtime"))]
async fn blocking<T, F>(_what: &'static str, f: F) -> Result<T, Error>
where
    F: FnOnce() -> Result<T, Error>,
{
    f()
}

#[async_trait::async_trait]
impl Host for Local {
    fn name(&self) -> String {
        "local".into()
    }

    async fn read_file(&self, path: &Path) -> Result<Option<Vec<u8>>, Error> {
        let path = path.to_owned();
        blocking("reading", move || files::read_optional(&path)).await
    }

    async fn write_file(&self, path: &Path, bytes: &[u8], mode: &FileMode) -> Result<(), Error> {
        let (path, bytes, mode) = (path.to_owned(), bytes.to_vec(), mode.clone());
        blocking("writing", move || {
            files::write_atomic_with(&path, &bytes, mode.mode, mode.owner.as_deref())
        })
        .await
    }

    async fn remove_file(&self, path: &Path) -> Result<bool, Error> {
        let path = path.to_owned();
        blocking("removing", move || files::remove_if_exists(&path)).await
    }

    async fn dir_exists(&self, path: &Path) -> Result<bool, Error> {
        let path = path.to_owned();
        blocking("looking at", move || file_plan::dir_exists(&path)).await
    }

    async fn ensure_dir(&self, path: &Path) -> Result<bool, Error> {
        let path = path.to_owned();
        blocking("creating", move || file_plan::ensure_dir(&path)).await
    }

    async fn list_dir(&self, path: &Path) -> Result<Option<Vec<String>>, Error> {
        let path: PathBuf = path.to_owned();
        blocking("listing", move || match std::fs::read_dir(&path) {
            Ok(entries) => {
                let mut names = Vec::new();
                for entry in entries {
                    let entry = entry.map_err(|source| Error::Io {
                        action: "listing",
                        path: path.clone(),
                        source,
                    })?;
                    names.push(entry.file_name().to_string_lossy().into_owned());
                }
                names.sort();
                Ok(Some(names))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::Io {
                action: "listing",
                path,
                source,
            }),
        })
        .await
    }

    async fn run(&self, command: &Command) -> Result<Output, Error> {
        if command.argv.is_empty() {
            return Err(Error::Host {
                host: self.name(),
                message: "cannot run an empty command".into(),
            });
        }
        let command = command.clone();
        blocking("running", move || run_to_end(&command)).await
    }
}

/// Runs `command` to its end, feeding its stdin from another thread while the output is
/// read, so a command that writes a lot before it reads everything cannot deadlock.
fn run_to_end(command: &Command) -> Result<Output, Error> {
    let (program, args) = command.argv.split_first().expect("a non-empty command");
    let mut child = std::process::Command::new(program);
    child
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (name, value) in &command.env {
        child.env(name, value.expose());
    }
    let spawn_error = |e: std::io::Error| Error::Host {
        host: "local".into(),
        message: format!("cannot run `{}`: {e}", command.display()),
    };
    let mut child = child.spawn().map_err(spawn_error)?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = command.stdin.clone();
    let feeder = std::thread::spawn(move || {
        use std::io::Write;
        let _ = stdin.write_all(&input);
    });
    let output = child.wait_with_output().map_err(spawn_error)?;
    let _ = feeder.join();
    Ok(Output {
        status: output.status.code().map(|c| c as u32),
        stdout: output.stdout,
        stderr: output.stderr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[tokio::test]
    async fn files_round_trip_with_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/a.txt");
        let host = Local;
        assert!(host.ensure_dir(&dir.path().join("sub")).await.unwrap());
        assert_eq!(host.read_file(&path).await.unwrap(), None);
        let mode = FileMode {
            mode: 0o600,
            owner: None,
        };
        host.write_file(&path, b"hello", &mode).await.unwrap();
        assert_eq!(
            host.read_file(&path).await.unwrap().as_deref(),
            Some(&b"hello"[..])
        );
        use std::os::unix::fs::PermissionsExt;
        let bits = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(bits, 0o600);
        assert_eq!(
            host.list_dir(&dir.path().join("sub")).await.unwrap(),
            Some(vec!["a.txt".to_string()])
        );
        assert!(host.remove_file(&path).await.unwrap());
        assert!(!host.remove_file(&path).await.unwrap());
        assert_eq!(host.list_dir(&dir.path().join("nope")).await.unwrap(), None);
    }

    #[tokio::test]
    async fn runs_argv_with_stdin_and_env() {
        let out = Local
            .run(
                &Command::new(["sh", "-c", "cat; printf %s \"$X\"; echo err >&2; exit 3"])
                    .stdin("in:")
                    .env("X", Secret::new("x-value")),
            )
            .await
            .unwrap();
        assert_eq!(out.status, Some(3));
        assert_eq!(out.stdout, b"in:x-value");
        assert_eq!(out.stderr_excerpt(), "err");
        let err =
            super::super::run_checked(&Local, &Command::new(["sh", "-c", "echo boom >&2; exit 1"]))
                .await
                .unwrap_err()
                .to_string();
        assert!(
            err.starts_with("local: `sh -c 'echo boom >&2; exit 1'` failed (exit status 1): boom"),
            "{err}"
        );
    }
}
