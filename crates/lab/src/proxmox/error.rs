//! Errors of the Proxmox client and capabilities. Each says what was asked (method, path,
//! task), what Proxmox answered in its own words (message, per-field errors, task log) and,
//! for waits, what was waited for and which timeout ran out.

use std::collections::BTreeMap;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ProxmoxError {
    /// The API answered with an error status. `errors` are PVE's per-parameter messages
    /// (HTTP 400 "Parameter verification failed."), shown verbatim with the field names.
    #[error("{}", api_message(method, path, *status, message, errors))]
    Api {
        method: String,
        path: String,
        status: u16,
        message: String,
        errors: BTreeMap<String, String>,
    },

    /// No usable answer: connection refused or reset, TLS failure, request timeout.
    #[error("{method} {endpoint}{path}: {message}{}", attempts_note(*attempts))]
    Transport {
        method: String,
        endpoint: String,
        path: String,
        message: String,
        attempts: u32,
        /// Whether the request may have reached the server (a reset after sending).
        maybe_sent: bool,
    },

    /// A worker task stopped with an exit status other than OK.
    #[error("{}", task_message(what, upid, exitstatus, log))]
    Task {
        what: String,
        upid: String,
        exitstatus: String,
        /// The last lines of the task log.
        log: Vec<String>,
    },

    /// A wait ran out (or was stopped); says what it waited for, which timeout and the
    /// last thing seen.
    #[error(transparent)]
    Timeout(#[from] crate::deadline::WaitEnded),

    /// The configuration of the client itself is unusable (endpoint, CA file, credentials).
    #[error("{0}")]
    Config(String),

    /// Something Proxmox said cannot be understood (an unexpected answer shape).
    #[error("{method} {path}: unexpected answer: {message}")]
    Protocol {
        method: String,
        path: String,
        message: String,
    },

    /// A request the arguments cannot express, found once the actual state is known
    /// (a template disk larger than asked for, a linked clone on another storage).
    #[error("{0}")]
    Conflict(String),
}

fn api_message(
    method: &str,
    path: &str,
    status: u16,
    message: &str,
    errors: &BTreeMap<String, String>,
) -> String {
    let mut text = format!("{method} {path}: HTTP {status}: {}", message.trim_end());
    if !errors.is_empty() {
        let fields: Vec<String> = errors
            .iter()
            .map(|(field, error)| format!("{field}: {}", error.trim_end().replace('\n', " ")))
            .collect();
        text.push_str(" (");
        text.push_str(&fields.join("; "));
        text.push(')');
    }
    if status == 401 {
        text.push_str(" - check the proxmox block's credentials (username/password or api_token)");
    }
    text
}

fn attempts_note(attempts: u32) -> String {
    if attempts > 1 {
        format!(" (after {attempts} attempts)")
    } else {
        String::new()
    }
}

fn task_message(what: &str, upid: &str, exitstatus: &str, log: &[String]) -> String {
    let mut text = format!("{what} failed: {exitstatus} (task {upid})");
    if !log.is_empty() {
        text.push_str("; task log:\n");
        text.push_str(&log.join("\n"));
    }
    text
}

impl ProxmoxError {
    /// PVE's message, for API and task errors.
    pub fn pve_message(&self) -> Option<&str> {
        match self {
            ProxmoxError::Api { message, .. } => Some(message),
            ProxmoxError::Task { exitstatus, .. } => Some(exitstatus),
            _ => None,
        }
    }

    /// A config lock held by someone else: `VM is locked (backup)`, `CT is locked (...)`,
    /// or the flock timeout `can't lock file '/var/lock/qemu-server/lock-100.conf' - got
    /// timeout`. Waiting and asking again is the cure.
    pub fn is_lock_conflict(&self) -> bool {
        self.pve_message().is_some_and(is_lock_message)
    }

    /// The id is already taken (a parallel create elsewhere won the race).
    pub fn is_id_taken(&self) -> bool {
        self.pve_message().is_some_and(|m| {
            m.contains("already exists") || m.contains("config file already exists")
        })
    }

    /// The guest's config file does not exist (the guest is gone).
    pub fn is_missing_guest(&self) -> bool {
        match self {
            ProxmoxError::Api {
                status, message, ..
            } => {
                (*status == 500 || *status == 404)
                    && (message.contains("does not exist") || message.contains("no such VM"))
            }
            _ => false,
        }
    }
}

/// Whether PVE's message is about a config lock held by someone else.
pub fn is_lock_message(message: &str) -> bool {
    (message.contains("is locked (") && !message.contains("is locked (create)"))
        || (message.contains("can't lock file") && message.contains("got timeout"))
        || message.contains("got lock request timeout")
        || message.contains("got lock timeout")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_show_pve_field_messages_verbatim() {
        let e = ProxmoxError::Api {
            method: "PUT".into(),
            path: "/nodes/pve1/qemu/100/config".into(),
            status: 400,
            message: "Parameter verification failed.\n".into(),
            errors: BTreeMap::from([(
                "memory".to_string(),
                "invalid format - format error\nmemory.current: value must have a minimum value of 16\n"
                    .to_string(),
            )]),
        };
        assert_eq!(
            e.to_string(),
            "PUT /nodes/pve1/qemu/100/config: HTTP 400: Parameter verification failed. (memory: invalid format - format error memory.current: value must have a minimum value of 16)"
        );
    }

    #[test]
    fn lock_conflicts_are_recognised() {
        assert!(is_lock_message("VM is locked (backup)"));
        assert!(is_lock_message(
            "can't lock file '/var/lock/qemu-server/lock-9000.conf' - got timeout"
        ));
        assert!(is_lock_message("CT is locked (snapshot)"));
        assert!(!is_lock_message("VM 100 already running"));
    }
}
