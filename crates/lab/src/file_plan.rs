//! The desired-vs-actual engine for capabilities that manage one whole local file
//! (Prometheus file_sd targets, Docker's daemon.json): compare the content wanted with
//! the content on disk, return the change with both texts (Terraform plan, Ansible check
//! and diff mode), then carry it out with an atomic write or a removal.
//!
//! Capabilities that need an ownership rule on top (Traefik routes) have their own plan.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::files;
use crate::Error;

/// What [`apply`] will do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    None,
    Create,
    Update,
    Delete,
}

impl Action {
    /// Lower-case name, for module output and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::None => "none",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }
}

/// The change to one file. `before`/`after` are the texts for a diff (`None`: no file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePlan {
    pub action: Action,
    pub path: PathBuf,
    pub before: Option<String>,
    pub after: Option<String>,
}

impl FilePlan {
    pub fn changed(&self) -> bool {
        self.action != Action::None
    }

    /// The content a create or update writes.
    fn content_to_write(&self) -> &[u8] {
        self.after
            .as_deref()
            .expect("a create or update plan carries the content to write")
            .as_bytes()
    }
}

/// Compares the content wanted at `path` (`None`: no file) with the bytes there now
/// (`None`: no file). Byte-exact; makes no I/O.
pub fn plan(path: &Path, desired: Option<String>, actual: Option<&[u8]>) -> FilePlan {
    let action = match (&desired, actual) {
        (None, None) => Action::None,
        (None, Some(_)) => Action::Delete,
        (Some(_), None) => Action::Create,
        (Some(want), Some(have)) if want.as_bytes() == have => Action::None,
        (Some(_), Some(_)) => Action::Update,
    };
    FilePlan {
        action,
        path: path.to_owned(),
        before: actual.map(|b| String::from_utf8_lossy(b).into_owned()),
        after: desired,
    }
}

/// Carries out `plan`: an atomic write ([`files::write_atomic`], mode 0644) or a
/// removal (a file already gone is fine). The directory must exist; see [`ensure_dir`].
pub fn apply(plan: &FilePlan) -> Result<(), Error> {
    match plan.action {
        Action::None => Ok(()),
        Action::Create | Action::Update => {
            tracing::debug!(path = %plan.path.display(), action = plan.action.as_str(), "writing file");
            files::write_atomic(&plan.path, plan.content_to_write())
        }
        Action::Delete => {
            tracing::debug!(path = %plan.path.display(), "removing file");
            files::remove_if_exists(&plan.path).map(|_| ())
        }
    }
}

/// [`apply`] on any host (local or over SSH).
#[cfg(feature = "hosts")]
pub async fn apply_on(host: &dyn crate::host::Host, plan: &FilePlan) -> Result<(), Error> {
    match plan.action {
        Action::None => Ok(()),
        Action::Create | Action::Update => {
            tracing::debug!(host = %host.name(), path = %plan.path.display(), action = plan.action.as_str(), "writing file");
            let mode = crate::host::FileMode::config_file();
            host.write_file(&plan.path, plan.content_to_write(), &mode)
                .await
        }
        Action::Delete => {
            tracing::debug!(host = %host.name(), path = %plan.path.display(), "removing file");
            host.remove_file(&plan.path).await.map(|_| ())
        }
    }
}

/// Whether `dir` is a directory: `Ok(false)` when nothing is there, an error when
/// something else is (a file, a dangling link) or it cannot be looked at.
pub fn dir_exists(dir: &Path) -> Result<bool, Error> {
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(true),
        Ok(_) => Err(Error::Io {
            action: "using",
            path: dir.to_owned(),
            source: io::Error::new(io::ErrorKind::AlreadyExists, "it is not a directory"),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(Error::Io {
            action: "looking at",
            path: dir.to_owned(),
            source,
        }),
    }
}

/// Creates `dir` and its missing parents (mode 0755 less the umask); returns whether
/// it had to.
pub fn ensure_dir(dir: &Path) -> Result<bool, Error> {
    if dir_exists(dir)? {
        return Ok(false);
    }
    fs::create_dir_all(dir).map_err(|source| Error::Io {
        action: "creating the directory",
        path: dir.to_owned(),
        source,
    })?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_each_transition() {
        let p = Path::new("/x/a.json");
        assert_eq!(plan(p, None, None).action, Action::None);
        assert_eq!(plan(p, None, Some(b"a")).action, Action::Delete);
        assert_eq!(plan(p, Some("a".into()), None).action, Action::Create);
        assert_eq!(plan(p, Some("a".into()), Some(b"a")).action, Action::None);
        let update = plan(p, Some("b".into()), Some(b"a"));
        assert_eq!(update.action, Action::Update);
        assert_eq!(update.before.as_deref(), Some("a"));
        assert_eq!(update.after.as_deref(), Some("b"));
    }

    #[test]
    fn applies_writes_and_removals() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        apply(&plan(&path, Some("x\n".into()), None)).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "x\n");
        apply(&plan(&path, None, Some(b"x\n"))).unwrap();
        assert!(!path.exists());
        // Already gone: still converged.
        apply(&plan(&path, None, Some(b"x\n"))).unwrap();
    }

    #[test]
    fn ensure_dir_creates_parents_once_and_refuses_files() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        assert!(!dir_exists(&nested).unwrap());
        assert!(ensure_dir(&nested).unwrap());
        assert!(!ensure_dir(&nested).unwrap());
        let file = dir.path().join("f");
        fs::write(&file, b"").unwrap();
        let msg = ensure_dir(&file).unwrap_err().to_string();
        assert!(msg.contains("it is not a directory"), "{msg}");
    }
}
