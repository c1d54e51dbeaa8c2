//! Pieces the file-managing modules share.

use std::path::Path;

use lab::file_plan::{self, Action};
use lab::validation::FieldError;

use crate::runtime::Failure;

/// `Invalid` from lab, worded as lab words it: `invalid <what>: field: problem; ...`.
pub fn invalid(what: String, errors: Vec<FieldError>) -> Result<(), Failure> {
    Ok(lab::validation::check(|| what, errors)?)
}

/// A file in the way that this collection did not write ([`lab::Error::NotManaged`]),
/// worded for the task: the path, `why` it is someone else's file, and the way out. Any
/// other error as lab words it.
pub fn not_written_here(error: lab::Error, why: &str) -> Failure {
    let lab::Error::NotManaged {
        path,
        operation,
        mark,
        ..
    } = error
    else {
        return error.into();
    };
    Failure::new(format!(
        "{} exists and was not written by Tabiri Homelab ({why}), so it was left alone; move \
         it away or delete it if this {} should {}",
        path.display(),
        mark.holds,
        match operation {
            lab::error::FileOperation::Write => "replace it",
            lab::error::FileOperation::Delete => "be removed",
        }
    ))
}

/// Whether the directory `dir` (option `option`) exists. With `must_exist` (a file is to
/// be written there) a missing directory is an error naming the option, unless
/// `create_dir` says the module may create it when it writes.
pub fn check_dir(
    option: &str,
    dir: &str,
    must_exist: bool,
    create_dir: bool,
) -> Result<bool, Failure> {
    let exists = file_plan::dir_exists(Path::new(dir))?;
    if !exists && must_exist && !create_dir {
        return Err(Failure::new(format!(
            "{option}: the directory {dir} does not exist; create it first or set \
             create_dir: true"
        )));
    }
    Ok(exists)
}

/// One line saying what happened (or would, in check mode) to the file at `path`.
pub fn summary(action: Action, path: &Path, check_mode: bool) -> String {
    let path = path.display();
    let (done, would) = match action {
        Action::None => return format!("{path} is up to date"),
        Action::Create => ("created", "would create"),
        Action::Update => ("updated", "would update"),
        Action::Delete => ("removed", "would remove"),
    };
    format!("{} {path}", if check_mode { would } else { done })
}

/// "already absent" reads better than "up to date" for a file that should not exist.
pub fn absent_summary(action: Action, path: &Path, check_mode: bool) -> String {
    if action == Action::None {
        format!("{} is already absent", path.display())
    } else {
        summary(action, path, check_mode)
    }
}

/// The password in `scheme://user:password@host/...`, if there is one (to scrub).
pub fn url_password(url: &str) -> Option<&str> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    userinfo
        .split_once(':')
        .map(|(_, p)| p)
        .filter(|p| !p.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_url_passwords() {
        assert_eq!(url_password("http://u:pw@h:8080/x"), Some("pw"));
        assert_eq!(url_password("http://u@h/"), None);
        assert_eq!(url_password("http://h:8080/a@b"), None);
        assert_eq!(url_password("not a url"), None);
    }

    #[test]
    fn summaries() {
        let p = Path::new("/d/f.json");
        assert_eq!(summary(Action::Create, p, false), "created /d/f.json");
        assert_eq!(summary(Action::Update, p, true), "would update /d/f.json");
        assert_eq!(summary(Action::None, p, true), "/d/f.json is up to date");
        assert_eq!(
            absent_summary(Action::None, p, false),
            "/d/f.json is already absent"
        );
        assert_eq!(
            absent_summary(Action::Delete, p, false),
            "removed /d/f.json"
        );
    }
}
