//! Figures the benches print: medians and 90th percentiles of samples.

use std::time::Duration;

/// The median and the 90th percentile (nearest rank) of `samples` (not empty).
pub fn median_p90(samples: &[Duration]) -> (Duration, Duration) {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    };
    let p90 = sorted[(n * 9).div_ceil(10).max(1) - 1];
    (median, p90)
}

/// The median of `samples` (not empty).
pub fn median(samples: &[Duration]) -> Duration {
    median_p90(samples).0
}

/// How often `needle` occurs in the file at `path` (0 when it cannot be read).
pub fn count_in_file(path: &std::path::Path, needle: &str) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .matches(needle)
        .count()
}
