//! What the Ansible module tests (`tests/ansible_*.rs`) share: the namespace host `ns`
//! that the tests of one process play against beside `localhost`, and temp directories
//! they write into and list (the namespace shares the filesystem with the test).

use std::path::Path;
use std::sync::OnceLock;

pub use crate::dir_entries;
use crate::ssh_hosts::SshHost;

/// The inventory name of the shared namespace host.
pub const NS: &str = "ns";
/// The inventory name of this machine (`connection: local`).
pub const LOCAL: &str = "localhost";

/// The namespace host all tests of a test process share (cleaned up when the process exits).
pub fn ns_host() -> &'static SshHost {
    static HOST: OnceLock<SshHost> = OnceLock::new();
    HOST.get_or_init(SshHost::start)
}

pub fn temp_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("homelab-{prefix}-"))
        .tempdir()
        .expect("temp dir")
}

pub fn path_str(path: &Path) -> String {
    path.display().to_string()
}
