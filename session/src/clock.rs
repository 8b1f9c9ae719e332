//! Where the session reads the time from.

use std::fmt;

use chrono::{DateTime, Utc};

/// A source of the current time.
///
/// Expiry is stored as an absolute time read from the clock when a token answer arrives.
/// The default is [`SystemClock`]; tests pass their own through
/// [`SessionBuilder::clock`](crate::SessionBuilder::clock) to move time by hand.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
