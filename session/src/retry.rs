//! When a failed token request is tried again.

use std::time::Duration;

use rand::Rng as _;

use crate::error::Error;

const DEFAULT_MAX_RETRIES: u32 = 3;
const DEFAULT_INITIAL_BACKOFF: Duration = Duration::from_millis(250);
const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(10);
const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
const DEFAULT_FAILURE_COOLDOWN: Duration = Duration::from_secs(5);

/// How a [`SharedSession`](crate::SharedSession) retries a token request that failed
/// transiently.
///
/// Only [transient](Error::is_transient) failures are retried: a network failure or
/// timeout, a 5xx answer, a 429. An OAuth error (`invalid_grant`, `invalid_client`, …) is
/// final. The wait before retry `n` (counted from 0) is `initial_backoff × 2ⁿ`, capped at
/// `max_backoff`; with jitter (the default) it is drawn between half of that and all of it,
/// so that many clients failing together do not retry together. A `Retry-After` sent by the
/// service replaces that wait, without jitter, as long as it is at most `max_retry_after`;
/// a longer one ends the retries at once, and the error keeps it
/// ([`Error::retry_after`]).
///
/// A failed renewal also holds back the next ones, so that callers in a loop cannot hammer
/// the accounts service: until its `Retry-After` has passed when the service sent one that
/// was not waited for (above the ceiling, or after the last retry), or for the
/// `failure_cooldown` after a failure that no retry can cure (`invalid_client`, a 4xx
/// answer, …). A transient failure without `Retry-After` holds nothing back: its retries
/// already waited.
///
/// The default retries 3 times, from 250 ms up to 10 s, accepts a `Retry-After` of up to
/// 30 s, and cools down for 5 s. [`RetryPolicy::none`] never retries.
///
/// ```
/// use std::time::Duration;
/// use spotify_session::RetryPolicy;
///
/// let policy = RetryPolicy::new()
///     .max_retries(5)
///     .initial_backoff(Duration::from_millis(100))
///     .max_retry_after(Duration::from_secs(5));
/// assert_ne!(policy, RetryPolicy::none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct RetryPolicy {
    max_retries: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_retry_after: Duration,
    jitter: bool,
    failure_cooldown: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::new()
    }
}

impl RetryPolicy {
    /// The default policy: 3 retries, backoff from 250 ms to 10 s with jitter, a
    /// `Retry-After` of up to 30 s honoured, a cooldown of 5 s.
    pub fn new() -> Self {
        Self {
            max_retries: DEFAULT_MAX_RETRIES,
            initial_backoff: DEFAULT_INITIAL_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
            max_retry_after: DEFAULT_MAX_RETRY_AFTER,
            jitter: true,
            failure_cooldown: DEFAULT_FAILURE_COOLDOWN,
        }
    }

    /// A policy that never retries: every failure is reported at once. The cooldown after
    /// a failure stays as in [`new`](Self::new).
    pub fn none() -> Self {
        Self::new().max_retries(0)
    }

    /// How many times a request is tried again after its first failure; 0 turns retries
    /// off.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The wait before the first retry; it doubles with each further one.
    pub fn initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// The longest wait between two tries, `Retry-After` aside.
    pub fn max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// The longest `Retry-After` honoured. A longer one fails the request at once: a
    /// service cannot keep its callers waiting for an hour.
    pub fn max_retry_after(mut self, ceiling: Duration) -> Self {
        self.max_retry_after = ceiling;
        self
    }

    /// Whether backoff waits are randomized (the default), between half of the computed
    /// wait and all of it.
    pub fn jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
        self
    }

    /// How long a renewal that failed with an error no retry can cure (`invalid_client`,
    /// `invalid_request`, another 4xx answer, …) holds back the next token request: the
    /// calls meanwhile get its error at once. `Duration::ZERO` lets the next call ask
    /// again. An `invalid_grant` is not concerned: it ends the grant for good.
    pub fn failure_cooldown(mut self, cooldown: Duration) -> Self {
        self.failure_cooldown = cooldown;
        self
    }

    /// The longest `Retry-After` the policy honours.
    pub(crate) fn retry_after_ceiling(&self) -> Duration {
        self.max_retry_after
    }

    /// How long the next token request is held back after a renewal failed for good with
    /// `error`; `None` when it is not. A `Retry-After` that was not waited for holds it back
    /// for its length; a failure that is neither transient nor the end of the grant, for
    /// the cooldown.
    pub(crate) fn hold_after(&self, error: &Error) -> Option<Duration> {
        if let Some(wait) = error.retry_after() {
            return Some(wait);
        }
        let incurable = !error.is_transient() && !error.is_reauthorization_required();
        (incurable && !self.failure_cooldown.is_zero()).then_some(self.failure_cooldown)
    }

    /// How long to wait before trying again after `error`, when `retries_done` retries
    /// have already been made; `None` when the request must not be tried again.
    pub fn retry_delay(&self, retries_done: u32, error: &Error) -> Option<Duration> {
        if !error.is_transient() || retries_done >= self.max_retries {
            return None;
        }
        match error.retry_after() {
            Some(wait) if wait > self.max_retry_after => None,
            Some(wait) => Some(wait),
            None => Some(self.backoff(retries_done)),
        }
    }

    /// The backoff before retry `retry` (counted from 0), jitter included: what
    /// [`retry_delay`](Self::retry_delay) waits when the service sent no `Retry-After`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use spotify_session::RetryPolicy;
    ///
    /// let policy = RetryPolicy::new().jitter(false);
    /// assert_eq!(policy.backoff(0), Duration::from_millis(250));
    /// assert_eq!(policy.backoff(2), Duration::from_secs(1));
    /// ```
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 1_u32.checked_shl(retry).unwrap_or(u32::MAX);
        let full = self
            .initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff);
        if !self.jitter {
            return full;
        }
        let half = full / 2;
        let spread = u64::try_from((full - half).as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(rand::rng().random_range(0..=spread))
    }
}

#[cfg(test)]
mod tests {
    use reqwest::StatusCode;

    use super::*;
    use crate::error::{GrantType, OAuthErrorCode};

    fn answer(status: u16, retry_after: Option<u64>) -> Error {
        Error::UnexpectedResponse {
            grant: GrantType::RefreshToken,
            status: StatusCode::from_u16(status).unwrap(),
            excerpt: String::new(),
            retry_after: retry_after.map(Duration::from_secs),
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy::new()
            .jitter(false)
            .initial_backoff(Duration::from_millis(100))
            .max_backoff(Duration::from_millis(700));
        let waits: Vec<_> = (0..5)
            .map(|retry| policy.backoff(retry).as_millis())
            .collect();
        assert_eq!(waits, [100, 200, 400, 700, 700]);
        assert_eq!(policy.backoff(200), Duration::from_millis(700));
    }

    #[test]
    fn jitter_stays_between_half_and_all() {
        let policy = RetryPolicy::new().initial_backoff(Duration::from_millis(400));
        for _ in 0..200 {
            let wait = policy.backoff(1);
            assert!(wait >= Duration::from_millis(400) && wait <= Duration::from_millis(800));
        }
    }

    #[test]
    fn only_transient_errors_are_retried_a_bounded_number_of_times() {
        let policy = RetryPolicy::new().max_retries(2);
        assert!(policy.retry_delay(0, &answer(503, None)).is_some());
        assert!(policy.retry_delay(1, &answer(502, None)).is_some());
        assert!(policy.retry_delay(2, &answer(503, None)).is_none());
        assert!(policy.retry_delay(0, &answer(404, None)).is_none());
        let refused = Error::TokenEndpoint {
            grant: GrantType::RefreshToken,
            status: StatusCode::BAD_REQUEST,
            code: OAuthErrorCode::InvalidGrant,
            description: None,
            retry_after: None,
        };
        assert!(policy.retry_delay(0, &refused).is_none());
        assert!(
            RetryPolicy::none()
                .retry_delay(0, &answer(503, None))
                .is_none()
        );
    }

    #[test]
    fn a_final_failure_holds_back_for_its_retry_after_or_the_cooldown() {
        let policy = RetryPolicy::new().failure_cooldown(Duration::from_secs(2));
        let refused = |code| Error::TokenEndpoint {
            grant: GrantType::RefreshToken,
            status: StatusCode::BAD_REQUEST,
            code,
            description: None,
            retry_after: None,
        };
        let cases = [
            (answer(429, Some(3600)), Some(3600)),
            (answer(503, Some(7)), Some(7)),
            (answer(503, None), None),
            (answer(404, None), Some(2)),
            (refused(OAuthErrorCode::InvalidClient), Some(2)),
            (refused(OAuthErrorCode::InvalidGrant), None),
        ];
        for (error, hold) in cases {
            let expected = hold.map(Duration::from_secs);
            assert_eq!(policy.hold_after(&error), expected, "{error:?}");
        }
        let no_cooldown = policy.failure_cooldown(Duration::ZERO);
        assert_eq!(no_cooldown.hold_after(&answer(404, None)), None);
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_ceiling() {
        let policy = RetryPolicy::new().max_retry_after(Duration::from_secs(5));
        assert_eq!(
            policy.retry_delay(0, &answer(429, Some(5))),
            Some(Duration::from_secs(5))
        );
        assert_eq!(policy.retry_delay(0, &answer(429, Some(6))), None);
    }
}
