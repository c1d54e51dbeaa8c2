//! The one deadline type every wait in lab takes: Proxmox tasks and locks, EC2 and Route 53
//! state changes, Traefik picking up a route. A deadline knows the setting it came from, so
//! every "timed out" names what to raise (`timeouts.create = 10m`, `wait_timeout = 30s`),
//! and (with an async runtime) it carries the caller's stop signal, so a wait that the
//! caller gave up on (Terraform's Ctrl-C) ends at its next sleep with an error saying so,
//! through the same error path as a timeout: what the operation had already created is
//! still reported, never dropped.

use std::time::{Duration, Instant};

#[cfg(feature = "runtime")]
pub use tokio_util::sync::CancellationToken;

/// The end of an operation: its start, its length, the name of the setting it came from,
/// and the caller's stop signal.
#[derive(Debug, Clone)]
pub struct Deadline {
    start: Instant,
    length: Duration,
    name: String,
    #[cfg(feature = "runtime")]
    cancel: CancellationToken,
}

/// A wait that ended without what it waited for: out of time, or stopped by the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct WaitEnded {
    /// What was awaited (`VM 101 to shut down`).
    pub what: String,
    /// The setting and its value (`timeouts.delete = 2m`).
    pub setting: String,
    pub waited: Duration,
    /// The last thing seen, so the user knows where it stood.
    pub last_seen: String,
    /// True when the caller stopped the wait before its deadline.
    pub stopped: bool,
}

impl WaitEnded {
    fn describe(&self) -> String {
        let waited = crate::error::format_duration(self.waited);
        if self.stopped {
            format!(
                "stopped after {waited} while waiting for {}; last seen: {}",
                self.what, self.last_seen
            )
        } else {
            format!(
                "timed out after {waited} ({}) waiting for {}; last seen: {}",
                self.setting, self.what, self.last_seen
            )
        }
    }
}

impl Deadline {
    /// A deadline `length` from now, named after the setting that set it.
    pub fn after(length: Duration, name: impl Into<String>) -> Self {
        Self {
            start: Instant::now(),
            length,
            name: name.into(),
            #[cfg(feature = "runtime")]
            cancel: CancellationToken::new(),
        }
    }

    /// The same deadline, also ended when `cancel` is cancelled.
    #[cfg(feature = "runtime")]
    pub fn stopped_by(mut self, cancel: CancellationToken) -> Self {
        self.cancel = cancel;
        self
    }

    /// The same end under a shorter length (e.g. an agent wait inside a create), keeping
    /// the name of whichever limit is the nearer one, and the same stop signal.
    pub fn within(&self, length: Duration, name: impl Into<String>) -> Self {
        let mut inner = self.clone();
        if Instant::now() + length < self.end() {
            inner.start = Instant::now();
            inner.length = length;
            inner.name = name.into();
        }
        inner
    }

    pub fn end(&self) -> Instant {
        self.start + self.length
    }

    pub fn remaining(&self) -> Duration {
        self.end().saturating_duration_since(Instant::now())
    }

    /// Out of time, or stopped by the caller.
    pub fn expired(&self) -> bool {
        self.remaining().is_zero() || self.stopped()
    }

    /// True once the caller stopped the operation.
    pub fn stopped(&self) -> bool {
        #[cfg(feature = "runtime")]
        {
            self.cancel.is_cancelled()
        }
        #[cfg(not(feature = "runtime"))]
        {
            false
        }
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

    /// The error for a wait for `what` that ended (out of time, or stopped) last seeing
    /// `last_seen`. Backends wrap it in their own error type.
    pub fn ended(&self, what: impl Into<String>, last_seen: impl Into<String>) -> WaitEnded {
        WaitEnded {
            what: what.into(),
            setting: format!("{} = {}", self.name, crate::duration::format(self.length)),
            waited: self.elapsed(),
            last_seen: last_seen.into(),
            stopped: self.stopped(),
        }
    }

    /// Sleeps `wanted`, but never past the deadline, and wakes when the caller stops.
    /// Returns false when no time was left or the caller stopped.
    #[cfg(feature = "runtime")]
    pub async fn sleep(&self, wanted: Duration) -> bool {
        let remaining = self.remaining();
        if remaining.is_zero() || self.stopped() {
            return false;
        }
        tokio::select! {
            _ = tokio::time::sleep(wanted.min(remaining)) => true,
            _ = self.cancel.cancelled() => false,
        }
    }

    /// [`Deadline::sleep`] for callers without an async runtime (the Ansible modules).
    pub fn sleep_blocking(&self, wanted: Duration) -> bool {
        let remaining = self.remaining();
        if remaining.is_zero() || self.stopped() {
            return false;
        }
        std::thread::sleep(wanted.min(remaining));
        true
    }

    /// Polls `check` with `backoff` until it is done, fails, or the deadline ends; the
    /// error for an ended wait names `what` and the last thing `check` saw.
    #[cfg(feature = "runtime")]
    pub async fn poll<T, E, F, Fut>(
        &self,
        what: &str,
        mut backoff: Backoff,
        mut check: F,
    ) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Poll<T>, E>>,
        E: From<WaitEnded>,
    {
        loop {
            let last_seen = match check().await? {
                Poll::Done(value) => return Ok(value),
                Poll::Pending(seen) => seen,
            };
            if !self.sleep(backoff.next_delay()).await {
                return Err(self.ended(what, last_seen).into());
            }
        }
    }
}

/// What one poll saw.
pub enum Poll<T> {
    /// The wait is over.
    Done(T),
    /// Not yet; the text says what was seen, for the error if time runs out.
    Pending(String),
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
        let text = d
            .ended("VM 101's config lock (backup)", "VM is locked (backup)")
            .to_string();
        assert!(text.contains("timeouts.delete = 2m"), "{text}");
        assert!(text.contains("VM is locked (backup)"), "{text}");
        assert!(text.starts_with("timed out after"), "{text}");
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(300));
        assert_eq!(b.next_delay(), Duration::from_millis(100));
        assert_eq!(b.next_delay(), Duration::from_millis(200));
        assert_eq!(b.next_delay(), Duration::from_millis(300));
        assert_eq!(b.next_delay(), Duration::from_millis(300));
    }

    #[test]
    fn a_nearer_limit_keeps_its_own_name() {
        let outer = Deadline::after(Duration::from_secs(600), "timeouts.create");
        assert_eq!(
            outer.within(Duration::from_secs(5), "agent.timeout").name(),
            "agent.timeout"
        );
        assert_eq!(
            outer
                .within(Duration::from_secs(900), "agent.timeout")
                .name(),
            "timeouts.create"
        );
    }

    #[cfg(feature = "runtime")]
    #[tokio::test]
    async fn polling_ends_with_the_last_state_seen() {
        let d = Deadline::after(Duration::from_millis(300), "timeouts.create");
        let error = d
            .poll(
                "instance i-1 to be running",
                Backoff::new(Duration::from_millis(50), Duration::from_millis(100)),
                || async { Ok::<Poll<()>, WaitEnded>(Poll::Pending("pending".into())) },
            )
            .await
            .unwrap_err();
        let text = error.to_string();
        assert!(text.contains("instance i-1 to be running"), "{text}");
        assert!(text.contains("timeouts.create = "), "{text}");
        assert!(text.contains("last seen: pending"), "{text}");
    }

    #[cfg(feature = "runtime")]
    #[tokio::test]
    async fn a_stopped_caller_ends_the_wait_at_once() {
        let cancel = CancellationToken::new();
        let d = Deadline::after(Duration::from_secs(3600), "timeouts.delete")
            .stopped_by(cancel.clone());
        let stopper = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            cancel.cancel();
        });
        let error = d
            .poll(
                "VM 101 to stop",
                Backoff::new(Duration::from_secs(60), Duration::from_secs(60)),
                || async { Ok::<Poll<()>, WaitEnded>(Poll::Pending("running".into())) },
            )
            .await
            .unwrap_err();
        stopper.await.unwrap();
        assert!(error.stopped);
        assert!(error.to_string().starts_with("stopped after"), "{error}");
    }
}
