//! What restic 0.14 says, in the terms a job needs. 0.14 exits 1 for every fatal error
//! ("no repository", "wrong password", "network down" alike), so the meaning is in its
//! messages. Anything this does not recognise is [`Probe::Unclear`]: an error, never a
//! reason to `init` (a network error taken for "no repository" would start a second,
//! empty repository beside the real one).

/// What probing a repository (`restic cat config`) found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Exists,
    /// The repository answered that there is no repository at that location.
    Missing,
    /// The password does not open the repository.
    WrongPassword,
    /// Anything else (a network error, a permission problem, restic missing): restic's
    /// own words.
    Unclear(String),
}

/// Classifies `restic cat config`'s exit status and stderr.
pub fn probe(exit: Option<u32>, stderr: &str) -> Probe {
    if exit == Some(0) {
        return Probe::Exists;
    }
    let text = stderr.trim();
    if text.contains("wrong password") {
        return Probe::WrongPassword;
    }
    // Every backend says "Is there a repository at the following location?" when the
    // config file is missing; the line before it says why. Only a "not there" reason
    // means no repository (not "permission denied", "connection refused", "timeout").
    let no_repository = text.contains("Is there a repository at the following location?")
        && [
            "no such file or directory",
            "does not exist",
            "file does not exist",
            "The specified key does not exist",
            "NoSuchKey",
        ]
        .iter()
        .any(|reason| text.contains(reason));
    if no_repository {
        return Probe::Missing;
    }
    let excerpt: Vec<&str> = text.lines().rev().take(4).collect();
    let excerpt: Vec<&str> = excerpt.into_iter().rev().collect();
    Probe::Unclear(if text.is_empty() {
        match exit {
            Some(127) => "restic is not installed on the host".into(),
            Some(code) => format!("restic exited with {code} and said nothing"),
            None => "restic was killed by a signal".into(),
        }
    } else {
        excerpt.join(" / ")
    })
}

/// Checks a repository string: an absolute path, `sftp:...` or `s3:...` (the backends the
/// lab uses); others restic knows are refused by name rather than passed on unchecked.
pub fn check_repository(repository: &str) -> Result<(), String> {
    if repository.starts_with('/') {
        return Ok(());
    }
    if let Some(rest) = repository.strip_prefix("sftp:") {
        // sftp:user@host:/path, or sftp://user@host[:port]//path
        if rest.starts_with("//") || rest.contains(':') {
            return Ok(());
        }
        return Err(format!("{repository:?}: write sftp:user@host:/path"));
    }
    if let Some(rest) = repository.strip_prefix("s3:") {
        if rest.starts_with("https://") || rest.starts_with("http://") || rest.contains('/') {
            return Ok(());
        }
        return Err(format!(
            "{repository:?}: write s3:https://endpoint/bucket/path (or s3:s3.amazonaws.com/bucket/path)"
        ));
    }
    Err(format!(
        "{repository:?}: an absolute path, sftp:user@host:/path or s3:https://endpoint/bucket/path"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_missing_repository_is_missing() {
        let missing = "Fatal: unable to open config file: stat /srv/r/config: no such file or directory\nIs there a repository at the following location?\n/srv/r";
        assert_eq!(probe(Some(1), missing), Probe::Missing);
        let s3 = "Fatal: unable to open config file: Stat: The specified key does not exist.\nIs there a repository at the following location?\ns3:http://127.0.0.1/b";
        assert_eq!(probe(Some(1), s3), Probe::Missing);
        assert_eq!(
            probe(Some(1), "Fatal: wrong password or no key found\n"),
            Probe::WrongPassword
        );
        let refused = "Fatal: unable to open config file: Stat: Get \"http://127.0.0.1:1/b/?location=\": dial tcp 127.0.0.1:1: connect: connection refused\nIs there a repository at the following location?\ns3:http://127.0.0.1:1/b";
        assert!(matches!(probe(Some(1), refused), Probe::Unclear(_)));
        let denied = "Fatal: unable to open config file: open /srv/r/config: permission denied\nIs there a repository at the following location?";
        assert!(matches!(probe(Some(1), denied), Probe::Unclear(_)));
        assert_eq!(probe(Some(0), ""), Probe::Exists);
    }

    #[test]
    fn repositories() {
        assert!(check_repository("/srv/restic").is_ok());
        assert!(check_repository("sftp:backup@10.0.0.5:/srv/restic").is_ok());
        assert!(
            check_repository("s3:https://s3.eu-west-1.amazonaws.com/tabiri-backups/nc").is_ok()
        );
        assert!(check_repository("relative/path").is_err());
        assert!(check_repository("rest:http://x").is_err());
    }
}
