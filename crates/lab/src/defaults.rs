//! Defaults shared by the argument types. Serde's `#[serde(default = "...")]` takes a
//! function path, not a value, so the common ones live here once:
//! `#[serde(default = "crate::defaults::yes")]`.

/// `true`, for switches that are on unless turned off (`enabled`, `wait`, `masquerade`).
pub fn yes() -> bool {
    true
}
