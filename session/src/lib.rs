//! The OAuth 2.0 session with Spotify's accounts service, with its states in the types.
//!
//! A [`Session`] is built [`Unauthenticated`] from [`Credentials`], and becomes
//! [`Authorized`] (a user's grant: authorization code, with or without PKCE) or
//! [`ClientCredentials`] (the app's own token) through typed transitions. Refreshing a
//! session that has no refresh token, or reading a token it does not hold, does not
//! compile. Secrets and tokens are [`secrecy::SecretString`]s and never appear in `Debug`,
//! `Display` or logs.
//!
//! ```no_run
//! use spotify_session::{AuthorizeOptions, Credentials, Scope, Session};
//!
//! # async fn run(callback_url: &str) -> Result<(), spotify_session::Error> {
//! let session = Session::builder(
//!     Credentials::from_env()?.redirect_uri("http://127.0.0.1:8888/callback"),
//! )
//! .build()?;
//!
//! // The app's own token.
//! let app = session.request_credentials_token().await?;
//! println!("app token valid until {}", app.expires_at());
//!
//! // A user's grant: send the user to the URL, then hand the redirect back.
//! let pending = session.begin_authorization(
//!     &AuthorizeOptions::new().scopes([Scope::UserReadEmail]),
//! )?;
//! println!("open {}", pending.url());
//! let mut user = session.complete_authorization(pending, callback_url).await?;
//! user.refresh_access_token().await?;
//! println!("granted: {}", user.scopes());
//! # Ok(())
//! # }
//! ```
//!
//! Requests follow Spotify's accounts service as documented in 2026: the 2025 redirect-URI
//! rules are checked when a session is built, and an expired refresh token (six months
//! after the user's authorization) surfaces as [`Error::is_reauthorization_required`].
//!
//! # Services
//!
//! [`SharedSession`] shares one token between a service's tasks: one renewal in flight
//! however many tasks ask, transient failures retried by a [`RetryPolicy`], and every new
//! token saved to a [`TokenStore`] ([`MemoryStore`], [`FileStore`]) before anyone gets it.
//!
//! # Features
//!
//! - `derive` (default): `#[derive(SpotifyCredentials)]` for a service's config struct.
//! - `loopback`: [`loopback::LoopbackListener`] receives the redirect on `127.0.0.1` or
//!   `[::1]`, for command-line and desktop apps.
//! - `testing`: [`testing::FakeAccounts`], an in-process fake of the accounts service for
//!   your own tests.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod authorize;
mod clock;
mod credentials;
mod error;
mod http;
#[cfg(feature = "loopback")]
#[cfg_attr(docsrs, doc(cfg(feature = "loopback")))]
pub mod loopback;
mod redirect;
mod retry;
mod scope;
mod session;
mod shared;
mod store;
mod token;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

pub use crate::authorize::{AuthorizeOptions, PendingAuthorization, PkceVerifier};
pub use crate::clock::{Clock, SystemClock};
pub use crate::credentials::{
    Credentials, ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_REDIRECT_URI, SpotifyCredentials,
};
pub use crate::error::{Error, GrantType, OAuthErrorCode, Result};
pub use crate::redirect::validate_redirect_uri;
pub use crate::retry::RetryPolicy;
pub use crate::scope::{Scope, Scopes};
pub use crate::session::{
    Authorized, ClientCredentials, HoldsRefreshToken, HoldsToken, RenewsWithCredentials,
    SPOTIFY_ACCOUNTS_URL, Session, SessionBuilder, State, Unauthenticated,
};
pub use crate::shared::{
    Renewable, SharedSession, SharedSessionBuilder, TokenEvent, TokenSnapshot,
};
pub use crate::store::{FileStore, MemoryStore, StoreError, StoredToken, TokenStore};
pub use secrecy::{ExposeSecret, SecretString};
#[cfg(feature = "derive")]
pub use spotify_session_derive::SpotifyCredentials;

// The README's examples are compiled as doc tests, so they cannot rot.
#[cfg(all(doctest, feature = "derive"))]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
