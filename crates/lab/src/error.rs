//! The one error type of the domain crate.
//!
//! Every message says what went wrong, where (path, endpoint, router) and, where there is
//! one, what to do. Surfaces print `to_string()` as the diagnostic summary; they match on
//! the variant only when they want to word the advice for their own users.

use std::path::PathBuf;
use std::time::Duration;

use crate::validation::FieldError;

/// What a refused file operation would have done; worded into [`Error::NotManaged`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileOperation {
    Write,
    Delete,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Arguments failed validation; every problem is listed with its path.
    #[error("invalid {what}: {}", join_field_errors(errors))]
    Invalid {
        what: String,
        errors: Vec<FieldError>,
    },

    /// A local file operation failed. `action` is a verb like "writing"; the text of the
    /// OS error follows, so the user sees both the path and the reason.
    #[error("{action} {}: {source}{}", path.display(), io_hint(source, path))]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A file is in the way that Tabiri Homelab did not write (it lacks `mark`), and the
    /// caller does not own it.
    #[error("{}", not_managed_message(path, name, *operation, mark))]
    NotManaged {
        path: PathBuf,
        name: String,
        operation: FileOperation,
        mark: &'static crate::file_plan::Mark,
    },

    /// A file exists but cannot be read as a route file (for import).
    #[error("cannot import {}: {reason}", path.display())]
    NotImportable { path: PathBuf, reason: String },

    /// Traefik loaded the route and says it cannot serve it; `errors` are Traefik's own words.
    #[error(
        "Traefik at {endpoint} reports router {router} as {status}: {}",
        if errors.is_empty() { "(no error text given)".to_owned() } else { errors.join("; ") }
    )]
    TraefikRejected {
        endpoint: String,
        router: String,
        status: String,
        errors: Vec<String>,
    },

    /// The Traefik API answered in a way that waiting will not change (auth, bad URL).
    #[error("Traefik API at {endpoint}: {message}")]
    TraefikApi { endpoint: String, message: String },

    /// An operation on a host failed: `host` names it (`local`, `ssh admin@10.0.20.11:22`),
    /// `message` says what was being done and what the host said.
    #[error("{host}: {message}")]
    Host { host: String, message: String },

    /// A Compose project on a host could not be brought where it should be; `message`
    /// says why (Compose's own words where it gave them).
    #[error("compose project {project}: {message}")]
    Compose { project: String, message: String },

    /// A backup job could not be set up or a run of it failed; `message` says why (restic's
    /// own words where it gave them).
    #[error("backup job {job}: {message}")]
    Backup { job: String, message: String },

    /// A wait ran out (or was stopped); says what it waited for, the timeout and the
    /// last thing it saw.
    #[error(transparent)]
    Timeout(#[from] crate::deadline::WaitEnded),
}

fn join_field_errors(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn io_hint(source: &std::io::Error, path: &std::path::Path) -> String {
    // The OS text alone ("No such file or directory") does not say which part is missing.
    if source.kind() == std::io::ErrorKind::NotFound {
        if let Some(dir) = path.parent() {
            if !dir.is_dir() {
                return format!(" (the directory {} does not exist)", dir.display());
            }
        }
    }
    String::new()
}

fn not_managed_message(
    path: &std::path::Path,
    name: &str,
    op: FileOperation,
    mark: &crate::file_plan::Mark,
) -> String {
    let path = path.display();
    let holds = mark.holds;
    match op {
        FileOperation::Write => format!(
            "{path} exists and is not managed by Tabiri Homelab; import it as {holds} \
             \"{name}\" or move it away"
        ),
        FileOperation::Delete => format!(
            "{path} is not managed by Tabiri Homelab ({}), so it was left in place; remove \
             it by hand if {holds} \"{name}\" should go",
            mark.missing
        ),
    }
}

/// "250ms", "5s", "1.5s": short enough for one-line diagnostics.
pub(crate) fn format_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// The texts of an error's sources, each once, joined with `: `; empty when it has none.
/// For HTTP clients whose own text repeats the URL, which the caller shows already.
#[cfg(feature = "async-http")]
pub(crate) fn source_chain(e: &dyn std::error::Error) -> String {
    let mut text = String::new();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}
