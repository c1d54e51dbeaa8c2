//! Bounded polling for AWS state changes.

use std::future::Future;
use std::time::{Duration, Instant};

use super::AwsError;

/// What one poll saw.
pub(crate) enum Poll<T> {
    /// The wait is over.
    Done(T),
    /// Not yet; the text says what was seen, for the timeout message.
    Pending(String),
}

/// Polls `check` until it is done, an error occurs or `timeout` passes. Polls quickly at
/// first (moto and fast transitions), then backs off to `max_interval`.
pub(crate) async fn until<T, F, Fut>(
    what: &str,
    timeout: Duration,
    max_interval: Duration,
    mut check: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, AwsError>>,
{
    let start = Instant::now();
    let mut interval = Duration::from_millis(200);
    loop {
        let last_seen = match check().await? {
            Poll::Done(value) => return Ok(value),
            Poll::Pending(seen) => seen,
        };
        let waited = start.elapsed();
        if waited >= timeout {
            return Err(AwsError::Timeout {
                what: what.to_string(),
                waited,
                last_seen,
            });
        }
        tokio::time::sleep(interval.min(timeout - waited)).await;
        interval = (interval * 2).min(max_interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn times_out_with_the_last_state_seen() {
        let error = until(
            "instance i-1 to be running",
            Duration::from_millis(300),
            Duration::from_millis(100),
            || async { Ok::<Poll<()>, AwsError>(Poll::Pending("pending".into())) },
        )
        .await
        .unwrap_err();
        let text = error.to_string();
        assert!(text.contains("instance i-1 to be running"), "{text}");
        assert!(text.contains("last seen: pending"), "{text}");
    }

    #[tokio::test]
    async fn returns_when_done() {
        let mut n = 0;
        let value = until(
            "x",
            Duration::from_secs(5),
            Duration::from_millis(10),
            || {
                n += 1;
                let done = n >= 3;
                async move {
                    Ok::<_, AwsError>(if done {
                        Poll::Done(7)
                    } else {
                        Poll::Pending("no".into())
                    })
                }
            },
        )
        .await
        .unwrap();
        assert_eq!(value, 7);
    }
}
