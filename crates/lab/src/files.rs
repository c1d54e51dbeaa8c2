//! Local file helpers for capabilities that manage files on the host they run on.
//!
//! Writers use [`write_atomic`] because programs that watch a directory (Traefik's file
//! provider, Prometheus file_sd) must never see a half-written file: Traefik drops the
//! whole provider's configuration when any one file in the directory fails to parse, and
//! it misses in-place edits of bind-mounted files.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::Error;

/// Mode of files we write: config readers often run as another user than the writer.
pub const FILE_MODE: u32 = 0o644;

/// Replaces `path` with `bytes` so readers see either the old or the new content.
///
/// The bytes go to a temporary file in the same directory (same filesystem, so the
/// rename is atomic), are fsynced, get mode 0644 and are renamed over `path`; the
/// directory is fsynced last so the rename survives a crash. On any failure the
/// temporary file is removed and the error names `path` and the OS error.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    write_atomic_with(path, bytes, FILE_MODE, None)
}

/// [`write_atomic`] with other permission bits, and an owner (`user` or `user:group`, set
/// with `chown` on the temporary file, so the file never appears with the wrong owner).
pub fn write_atomic_with(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    owner: Option<&str>,
) -> Result<(), Error> {
    let io_err = |source| Error::Io {
        action: "writing",
        path: path.to_owned(),
        source,
    };
    let tmp = temp_path_for(path).map_err(io_err)?;
    let result = write_then_rename(&tmp, path, bytes, mode, owner);
    if result.is_err() {
        // Best effort: the original error is the one worth reporting.
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io_err)
}

fn write_then_rename(
    tmp: &Path,
    path: &Path,
    bytes: &[u8],
    mode: u32,
    owner: Option<&str>,
) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(tmp)?;
    file.write_all(bytes)?;
    // The open mode is filtered by the umask; set it explicitly so the result is what was
    // asked whatever umask the surface (terraform, ansible, semaphore) runs under.
    file.set_permissions(fs::Permissions::from_mode(mode))?;
    file.sync_all()?;
    drop(file);
    if let Some(owner) = owner {
        let out = std::process::Command::new("chown")
            .arg("--")
            .arg(owner)
            .arg(tmp)
            .output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "chown {owner}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
    }
    fs::rename(tmp, path)?;
    if let Some(dir) = path.parent() {
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// `.<name>.<pid>.<n>.tmp` beside `path`.
///
/// Two properties matter, both checked against Traefik 3.7: its file provider picks
/// files by extension only (`.toml`, `.yml`, `.yaml`; a leading dot does NOT hide a
/// file), so the name must end in something else; and the leading dot keeps it out of
/// the way of people and of other tools' `*.toml` globs.
fn temp_path_for(path: &Path) -> io::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp_name = format!(
        ".{}.{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        n
    );
    Ok(path.with_file_name(tmp_name))
}

/// Reads a whole file; a missing file is `Ok(None)`, any other failure names the path.
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io {
            action: "reading",
            path: path.to_owned(),
            source,
        }),
    }
}

/// Removes a file; returns whether it existed. A missing file is not an error because
/// deleting is converging on absence, and absence is already reached.
pub fn remove_if_exists(path: &Path) -> Result<bool, Error> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(Error::Io {
            action: "removing",
            path: path.to_owned(),
            source,
        }),
    }
}

/// Lower-case hex SHA-256, the form shown to users and stored in Terraform state.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn writes_new_file_with_mode_0644_and_no_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("whoami.toml");
        write_atomic(&path, b"a = 1\n").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"a = 1\n");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        assert_eq!(entries(dir.path()), vec!["whoami.toml"]);
    }

    #[test]
    fn replaces_existing_file_and_resets_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("whoami.toml");
        fs::write(&path, b"old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o644
        );
        assert_eq!(entries(dir.path()), vec!["whoami.toml"]);
    }

    #[test]
    fn temp_name_is_a_dotfile_traefik_does_not_load() {
        let tmp = temp_path_for(Path::new("/etc/traefik/dynamic/whoami.toml")).unwrap();
        let name = tmp.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with(".whoami.toml."), "{name}");
        assert!(name.ends_with(".tmp"), "{name}");
        assert_eq!(tmp.parent(), Some(Path::new("/etc/traefik/dynamic")));
    }

    #[test]
    fn failure_names_the_path_and_leaves_no_temp_file() {
        // A directory in place of the target makes the rename fail even as root,
        // after the temp file has been written: the cleanup path is exercised.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("whoami.toml");
        fs::create_dir(&path).unwrap();
        fs::write(path.join("keep"), b"x").unwrap();
        let err = write_atomic(&path, b"data").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!("writing {}: ", path.display())),
            "{msg}"
        );
        assert!(msg.contains("os error"), "{msg}");
        assert_eq!(entries(dir.path()), vec!["whoami.toml"]);
    }

    #[test]
    fn missing_directory_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope").join("whoami.toml");
        let msg = write_atomic(&path, b"x").unwrap_err().to_string();
        assert!(
            msg.contains(&format!("writing {}", path.display())),
            "{msg}"
        );
        assert!(msg.contains("No such file or directory"), "{msg}");
        assert!(
            msg.contains(&format!(
                "the directory {} does not exist",
                dir.path().join("nope").display()
            )),
            "{msg}"
        );
    }

    #[test]
    fn read_and_remove_treat_missing_as_absent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone.toml");
        assert_eq!(read_optional(&path).unwrap(), None);
        assert!(!remove_if_exists(&path).unwrap());
        fs::write(&path, b"x").unwrap();
        assert_eq!(read_optional(&path).unwrap(), Some(b"x".to_vec()));
        assert!(remove_if_exists(&path).unwrap());
        assert!(!path.exists());
    }

    #[test]
    fn sha256_is_lowercase_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
