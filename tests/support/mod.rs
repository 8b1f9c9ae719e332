//! What the integration tests share: the test vectors, a clock moved by hand, and
//! sessions pointed at a local server.

// Each test crate uses a part of this module.
#![allow(dead_code)]

pub mod interop;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone as _, Utc};
use spotify_session::testing::{FakeAccounts, FakeClient, Knobs};
use spotify_session::{
    AuthorizeOptions, Authorized, Clock, Credentials, Scope, Session, Unauthenticated,
};

/// The client id of the Basic-header test vector of `SPOTIFY.md`.
pub const CLIENT_ID: &str = "b777292af0def22f9257991fc770b520";
/// The client secret of the Basic-header test vector of `SPOTIFY.md`.
pub const CLIENT_SECRET: &str = "6a0419f43d0aa93b2ae881429b6b9bc2";
/// The header those two give.
pub const BASIC: &str = "Basic Yjc3NzI5MmFmMGRlZjIyZjkyNTc5OTFmYzc3MGI1MjA6NmEwNDE5ZjQzZDBhYTkzYjJhZTg4MTQyOWI2YjliYzI=";
pub const REDIRECT_URI: &str = "http://127.0.0.1:8888/callback";

/// A port on `127.0.0.1` that was free a moment ago: bound on port 0, read, released.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port is free");
    listener.local_addr().expect("a bound port").port()
}

/// A query parameter of a received callback.
pub fn callback_param(
    callback: &spotify_session::loopback::Callback,
    name: &str,
) -> Option<String> {
    callback
        .url()
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new() -> Arc<Self> {
        let start = Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap();
        Arc::new(Self(Mutex::new(start)))
    }

    /// The time now, without naming the `Clock` trait.
    pub fn now_for_tests(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap();
        *now += TimeDelta::from_std(by).unwrap();
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// A confidential session with the test vector's credentials, against `accounts_url`.
pub fn confidential(accounts_url: &str, clock: Arc<ManualClock>) -> Session<Unauthenticated> {
    let credentials = Credentials::new(CLIENT_ID, CLIENT_SECRET).redirect_uri(REDIRECT_URI);
    Session::builder(credentials)
        .accounts_url(accounts_url)
        .clock(clock)
        .build()
        .unwrap()
}

/// A public (PKCE) session against `accounts_url`.
pub fn public(accounts_url: &str, clock: Arc<ManualClock>) -> Session<Unauthenticated> {
    let credentials = Credentials::public(CLIENT_ID).redirect_uri(REDIRECT_URI);
    Session::builder(credentials)
        .accounts_url(accounts_url)
        .clock(clock)
        .build()
        .unwrap()
}

/// A `FakeAccounts` that knows the confidential client above, with `knobs` set.
pub async fn fake_accounts(knobs: impl FnOnce(&mut Knobs)) -> FakeAccounts {
    FakeAccounts::builder()
        .client(FakeClient::confidential(CLIENT_ID, CLIENT_SECRET).redirect_uri(REDIRECT_URI))
        .knobs(knobs)
        .start()
        .await
        .expect("the fake starts")
}

/// A user's grant from the fake, through the authorization-code flow.
pub async fn user_grant(
    fake: &FakeAccounts,
    session: &Session<Unauthenticated>,
) -> Session<Authorized> {
    let pending = session
        .begin_authorization(&AuthorizeOptions::new().scopes([Scope::UserReadEmail]))
        .unwrap();
    let callback = fake.authorize(pending.url().as_str()).await.unwrap();
    session
        .complete_authorization(pending, callback.as_str())
        .await
        .unwrap()
}
