//! Serde defaults of the Proxmox argument types (VM, container, backup job). A
//! `#[serde(default = "...")]` names a function; keeping them here means one default is
//! spelled once, whichever type uses it (`yes` is the crate's, in `crate::defaults`).

pub(crate) fn one() -> u32 {
    1
}

pub(crate) fn default_memory() -> u32 {
    512
}
