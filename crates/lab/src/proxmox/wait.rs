//! Deadlines that know which timeout they stand for, so every "timed out" names the
//! setting to raise (`timeouts.create`, `agent.timeout`), and capped exponential backoff.

use std::time::{Duration, Instant};

use super::ProxmoxError;

/// The end of an operation: its start, its length and the name of the setting it came from.
#[derive(Debug, Clone)]
pub struct Deadline {
    start: Instant,
    length: Duration,
    name: String,
}

impl Deadline {
    /// A deadline `length` from now, named after the setting that set it.
    pub fn after(length: Duration, name: impl Into<String>) -> Self {
        Self {
            start: Instant::now(),
            length,
            name: name.into(),
        }
    }

    /// The same end under a shorter length (e.g. an agent wait inside a create), keeping
    /// the name of whichever limit is the nearer one.
    pub fn within(&self, length: Duration, name: impl Into<String>) -> Self {
        let inner = Self::after(length, name);
        if inner.end() < self.end() {
            inner
        } else {
            self.clone()
        }
    }

    pub fn end(&self) -> Instant {
        self.start + self.length
    }

    pub fn remaining(&self) -> Duration {
        self.end().saturating_duration_since(Instant::now())
    }

    pub fn expired(&self) -> bool {
        self.remaining().is_zero()
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn length(&self) -> Duration {
        self.length
    }

    /// The error for having run out of time waiting for `what`.
    pub fn timeout(&self, what: impl Into<String>, last_seen: impl Into<String>) -> ProxmoxError {
        ProxmoxError::Timeout {
            what: what.into(),
            timeout_name: format!("{} = {}", self.name, crate::duration::format(self.length)),
            waited: self.elapsed(),
            last_seen: last_seen.into(),
        }
    }

    /// Sleeps `wanted`, but never past the deadline. Returns false when no time was left.
    pub async fn sleep(&self, wanted: Duration) -> bool {
        let remaining = self.remaining();
        if remaining.is_zero() {
            return false;
        }
        tokio::time::sleep(wanted.min(remaining)).await;
        true
    }
}

/// Capped exponential backoff: `first`, doubling, at most `cap`.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    cap: Duration,
}

impl Backoff {
    pub fn new(first: Duration, cap: Duration) -> Self {
        Self { next: first, cap }
    }

    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.cap);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_name_the_setting() {
        let d = Deadline::after(Duration::from_secs(120), "timeouts.delete");
        let e = d.timeout("VM 101's config lock (backup)", "VM is locked (backup)");
        let text = e.to_string();
        assert!(text.contains("timeouts.delete = 2m"), "{text}");
        assert!(text.contains("VM is locked (backup)"), "{text}");
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(300));
        assert_eq!(b.next_delay(), Duration::from_millis(100));
        assert_eq!(b.next_delay(), Duration::from_millis(200));
        assert_eq!(b.next_delay(), Duration::from_millis(300));
        assert_eq!(b.next_delay(), Duration::from_millis(300));
    }
}
