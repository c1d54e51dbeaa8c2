//! The desired-vs-actual engine for capabilities that manage one whole local file
//! (Prometheus file_sd targets, Docker's daemon.json): compare the content wanted with
//! the content on disk, return the change with both texts (Terraform plan, Ansible check
//! and diff mode), then carry it out with an atomic write or a removal.
//!
//! The ownership rule, one for every capability whose files must not clobber someone
//! else's (Traefik routes, Prometheus targets): a file at the path that lacks the
//! capability's [`Mark`] was written by someone else, and a [`MarkedPlan`] refuses to
//! overwrite or delete it unless the caller owns the path ([`Ownership`]).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::error::FileOperation;
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

/// Who may overwrite or delete an existing file that lacks its capability's [`Mark`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// Only files carrying the mark are touched; anything else at the path is an error.
    /// For Ansible, and for Terraform when creating a resource.
    RequireMark,
    /// The caller's state already owns the path (a Terraform resource in state,
    /// including one imported from a hand-written file): overwrite or delete it even
    /// without the mark. The next write adds the mark.
    Owned,
}

/// How a capability tells a file this tool wrote from one someone else wrote.
#[derive(Debug)]
pub struct Mark {
    /// What one file holds, in messages: `route` gives `import it as route "whoami"`.
    pub holds: &'static str,
    /// How a file without the mark looks, in words after "it": `it lacks the ownership
    /// header`.
    pub missing: &'static str,
    /// Whether a file's bytes carry the mark.
    pub carried_by: fn(&[u8]) -> bool,
}

/// A [`FilePlan`] under the ownership rule: what would change, with both contents for a
/// diff, and whether the file there now carries the capability's [`Mark`].
#[derive(Debug, Clone)]
pub struct MarkedPlan {
    pub action: Action,
    /// What the file is named after (the route, the job), for messages.
    pub name: String,
    pub path: PathBuf,
    /// The file content now; `None` when there is no file.
    pub before: Option<String>,
    /// The file content after apply; `None` when the file is to be absent.
    pub after: Option<String>,
    /// Whether the existing file carries the mark (`false` if there is none).
    pub before_marked: bool,
    mark: &'static Mark,
}

impl PartialEq for MarkedPlan {
    fn eq(&self, other: &Self) -> bool {
        // Plans of one capability share one mark; the rest says what changes.
        self.file_plan() == other.file_plan()
            && self.name == other.name
            && self.before_marked == other.before_marked
    }
}

impl MarkedPlan {
    /// `plan` for the file named after `name`; `before_marked` says whether the file the
    /// plan saw carries `mark` ([`Mark::carried_by`]; `false` when there was none).
    pub fn new(plan: FilePlan, name: String, mark: &'static Mark, before_marked: bool) -> Self {
        MarkedPlan {
            action: plan.action,
            name,
            path: plan.path,
            before: plan.before,
            after: plan.after,
            before_marked,
            mark,
        }
    }

    pub fn changed(&self) -> bool {
        self.action != Action::None
    }

    /// Whether [`apply_marked`] would be refused under `ownership`, judged from the file
    /// the plan saw; call it at plan time (Terraform plan, Ansible check mode) to fail
    /// early. [`apply_marked`] checks again against the file as it is then.
    pub fn check(&self, ownership: Ownership) -> Result<(), Error> {
        self.allowed(ownership, self.before.is_some(), self.before_marked)
    }

    /// The ownership rule against the file as it is now (`None`: no file).
    pub fn check_current(&self, ownership: Ownership, current: Option<&[u8]>) -> Result<(), Error> {
        self.allowed(
            ownership,
            current.is_some(),
            current.is_some_and(self.mark.carried_by),
        )
    }

    fn allowed(&self, ownership: Ownership, exists: bool, marked: bool) -> Result<(), Error> {
        if self.action == Action::None || !exists || marked || ownership == Ownership::Owned {
            return Ok(());
        }
        Err(Error::NotManaged {
            path: self.path.clone(),
            name: self.name.clone(),
            operation: if self.action == Action::Delete {
                FileOperation::Delete
            } else {
                FileOperation::Write
            },
            mark: self.mark,
        })
    }

    /// The same change as a plain file change, for [`apply`] and [`apply_on`] once the
    /// ownership rule has been checked.
    pub fn file_plan(&self) -> FilePlan {
        FilePlan {
            action: self.action,
            path: self.path.clone(),
            before: self.before.clone(),
            after: self.after.clone(),
        }
    }
}

/// Carries out `plan` on the local filesystem under the ownership rule, checked against
/// the file as it is now, not as the plan saw it, so a file that appeared since the plan
/// is not overwritten by accident.
pub fn apply_marked(plan: &MarkedPlan, ownership: Ownership) -> Result<(), Error> {
    if !plan.changed() {
        return Ok(());
    }
    let current = files::read_optional(&plan.path)?;
    plan.check_current(ownership, current.as_deref())?;
    apply(&plan.file_plan())
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
