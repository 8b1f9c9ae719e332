//! An in-process fake of Spotify's accounts service, for tests.
//!
//! [`FakeAccounts`] serves `GET /authorize` and `POST /api/token` on a random port of
//! `127.0.0.1` and behaves as the real service does: it knows the registered clients and
//! their redirect URIs, checks every parameter, issues single-use codes that expire,
//! authenticates clients by Basic header, by secret in the body or by PKCE, and answers
//! with Spotify's JSON bodies and errors. Knobs ([`Knobs`]) reproduce what real
//! deployments do: refresh tokens rotated, kept or omitted, refresh tokens revoked or too
//! old, HTML 503 pages of the load balancer, 429 with `Retry-After`, slow answers, and
//! users who refuse. [`Counters`] tell a test how many requests of each grant arrived.
//!
//! There is no browser and no login page: an authorize request that passes the checks is
//! granted at once, and [`FakeAccounts::authorize`] performs it the way a browser would,
//! returning the redirect that carries the code.
//!
//! The server is built on [axum](https://docs.rs/axum): it runs on hyper, is well kept,
//! and its routing, extractors and form parsing keep the fake short.
//!
//! # Example
//!
//! A test that drives the authorization-code flow by hand. With the crate's
//! [`Session`](crate::Session), pass [`FakeAccounts::url`] to
//! [`SessionBuilder::accounts_url`](crate::SessionBuilder::accounts_url) instead.
//!
//! ```
//! use spotify_session::testing::{FakeAccounts, FakeClient, GrantKind};
//! use url::Url;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let redirect_uri = "http://127.0.0.1:8888/callback";
//! let fake = FakeAccounts::builder()
//!     .client(FakeClient::confidential("my-app", "my-secret").redirect_uri(redirect_uri))
//!     .start()
//!     .await?;
//!
//! // The browser step: the answer is the redirect to the application.
//! let authorize_url = Url::parse_with_params(
//!     fake.authorize_endpoint().as_str(),
//!     [
//!         ("client_id", "my-app"),
//!         ("response_type", "code"),
//!         ("redirect_uri", redirect_uri),
//!         ("scope", "user-read-email"),
//!         ("state", "a&b=c"),
//!     ],
//! )?;
//! let callback = fake.authorize(&authorize_url).await?;
//! let pairs: Vec<(String, String)> = callback.query_pairs().into_owned().collect();
//! assert_eq!(pairs[1], ("state".to_owned(), "a&b=c".to_owned()));
//!
//! // The application exchanges the code.
//! let answer: serde_json::Value = reqwest::Client::new()
//!     .post(fake.token_endpoint())
//!     .basic_auth("my-app", Some("my-secret"))
//!     .form(&[
//!         ("grant_type", "authorization_code"),
//!         ("code", pairs[0].1.as_str()),
//!         ("redirect_uri", redirect_uri),
//!     ])
//!     .send()
//!     .await?
//!     .json()
//!     .await?;
//! assert_eq!(answer["scope"], "user-read-email");
//! let access_token = answer["access_token"].as_str().unwrap_or_default();
//! assert!(fake.is_valid_access_token(access_token));
//! assert_eq!(fake.token_requests(GrantKind::AuthorizationCode), 1);
//! # Ok(())
//! # }
//! ```
//!
//! # Shortcomings
//!
//! - Scopes are not checked against Spotify's list, so that custom scopes can be tested:
//!   Spotify answers an unknown scope with `invalid_scope`, the fake grants it.
//! - Every token issued stays in memory until the fake is dropped.
//! - Query and form values are decoded as UTF-8, invalid bytes replaced, so a `state`
//!   that is not UTF-8 does not come back byte for byte.
//! - The error descriptions that `SPOTIFY.md` does not list (missing parameters, PKCE
//!   format) are the fake's own wording.

mod authorize;
mod client;
mod counters;
mod error;
mod knobs;
mod params;
mod server;
mod state;
mod token;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::LOCATION;
use reqwest::redirect::Policy;
use url::Url;

pub use self::client::FakeClient;
pub use self::counters::{Counters, GrantKind};
pub use self::error::FakeError;
pub use self::knobs::{Knobs, RefreshPolicy};

use self::server::Server;
use self::state::{RefreshStatus, Shared};

/// A running fake of Spotify's accounts service; dropping it stops the server.
///
/// Start one with [`FakeAccounts::builder`]. It needs a tokio runtime (a
/// `#[tokio::test]`, current-thread or not, will do) and serves on a spawned task.
pub struct FakeAccounts {
    shared: Arc<Shared>,
    server: Server,
    url: String,
    authorize_endpoint: Url,
    token_endpoint: Url,
    browser: reqwest::Client,
}

/// Registers the clients and sets the knobs of a [`FakeAccounts`] before it starts.
#[derive(Debug, Default)]
#[must_use]
pub struct FakeAccountsBuilder {
    clients: Vec<FakeClient>,
    knobs: Knobs,
}

impl FakeAccountsBuilder {
    /// Registers a client.
    pub fn client(mut self, client: FakeClient) -> Self {
        self.clients.push(client);
        self
    }

    /// Changes the knobs the fake starts with.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use spotify_session::testing::{FakeAccounts, RefreshPolicy};
    /// let builder = FakeAccounts::builder().knobs(|knobs| {
    ///     knobs.refresh_policy = RefreshPolicy::Rotate;
    ///     knobs.code_lifetime = Duration::from_secs(30);
    /// });
    /// ```
    pub fn knobs(mut self, change: impl FnOnce(&mut Knobs)) -> Self {
        change(&mut self.knobs);
        self
    }

    /// Starts the server on a random port of `127.0.0.1`.
    ///
    /// # Errors
    ///
    /// [`FakeError::DuplicateClient`] when two clients have the same id,
    /// [`FakeError::InvalidRedirectUri`] for a redirect URI Spotify would refuse,
    /// [`FakeError::Bind`] when no port can be bound, and [`FakeError::HttpClient`] when the
    /// HTTP client of [`FakeAccounts::authorize`] cannot be built.
    ///
    /// # Panics
    ///
    /// When called outside a tokio runtime.
    pub async fn start(self) -> Result<FakeAccounts, FakeError> {
        self.check_clients()?;
        let browser = reqwest::Client::builder()
            .redirect(Policy::none())
            .no_proxy()
            .build()
            .map_err(|error| FakeError::HttpClient(error.without_url()))?;
        let shared = Arc::new(Shared::new(self.clients, self.knobs));
        let server = Server::spawn(Arc::clone(&shared))
            .await
            .map_err(FakeError::Bind)?;
        let url = format!("http://{}", server.addr());
        let endpoint = |path: &str| {
            Url::parse(&format!("{url}{path}"))
                .map_err(|error| FakeError::Bind(io::Error::new(io::ErrorKind::InvalidData, error)))
        };
        Ok(FakeAccounts {
            authorize_endpoint: endpoint("/authorize")?,
            token_endpoint: endpoint("/api/token")?,
            url,
            shared,
            server,
            browser,
        })
    }

    fn check_clients(&self) -> Result<(), FakeError> {
        for (index, client) in self.clients.iter().enumerate() {
            if self.clients[..index]
                .iter()
                .any(|other| other.id() == client.id())
            {
                return Err(FakeError::DuplicateClient(client.id().to_owned()));
            }
            if let Some((uri, reason)) = client.refused_redirect_uri() {
                return Err(FakeError::InvalidRedirectUri {
                    client_id: client.id().to_owned(),
                    uri: uri.to_owned(),
                    reason,
                });
            }
        }
        Ok(())
    }
}

impl FakeAccounts {
    /// A builder without clients and with the default [`Knobs`].
    pub fn builder() -> FakeAccountsBuilder {
        FakeAccountsBuilder::default()
    }

    /// The base URL, `http://127.0.0.1:PORT` without a trailing slash: the value for
    /// [`SessionBuilder::accounts_url`](crate::SessionBuilder::accounts_url).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://127.0.0.1:PORT/authorize`.
    pub fn authorize_endpoint(&self) -> Url {
        self.authorize_endpoint.clone()
    }

    /// `http://127.0.0.1:PORT/api/token`.
    pub fn token_endpoint(&self) -> Url {
        self.token_endpoint.clone()
    }

    /// A copy of the current knobs.
    pub fn knobs(&self) -> Knobs {
        self.shared.lock().knobs.clone()
    }

    /// Changes the knobs; the change applies from the next request on.
    pub fn update_knobs(&self, change: impl FnOnce(&mut Knobs)) {
        change(&mut self.shared.lock().knobs);
    }

    /// Makes the next `count` answers of `/api/token` an HTML page with status 503, as the
    /// load balancer in front of Spotify sends.
    pub fn answer_next_with_503(&self, count: u32) {
        self.update_knobs(|knobs| knobs.html_503_answers += count);
    }

    /// Makes the next `count` answers of `/api/token` a 429 whose `Retry-After` is
    /// `retry_after` in whole seconds, rounded up.
    pub fn answer_next_with_429(&self, count: u32, retry_after: Duration) {
        self.update_knobs(|knobs| {
            knobs.too_many_requests_answers += count;
            knobs.retry_after = retry_after;
        });
    }

    /// Makes the user refuse the next valid authorize request (`error=access_denied`).
    pub fn deny_next_authorization(&self) {
        self.update_knobs(|knobs| knobs.denied_authorizations += 1);
    }

    /// Revokes every live refresh token, as a user removing the app's access does: the
    /// next refresh answers `invalid_grant` (`Refresh token revoked`).
    pub fn revoke_refresh_tokens(&self) {
        self.shared.lock().revoke_refresh_tokens();
    }

    /// Whether the fake issued `token` as an access token and it has not expired.
    pub fn is_valid_access_token(&self, token: &str) -> bool {
        self.shared.lock().is_valid_access_token(token)
    }

    /// Whether `token` is a refresh token that a refresh would accept now.
    pub fn is_live_refresh_token(&self, token: &str) -> bool {
        matches!(
            self.shared.lock().refresh_status(token),
            RefreshStatus::Live(_)
        )
    }

    /// The requests received so far.
    pub fn counters(&self) -> Counters {
        self.shared.lock().counters
    }

    /// The requests of `/api/token` of one grant received so far.
    pub fn token_requests(&self, kind: GrantKind) -> u64 {
        self.counters().token_requests(kind)
    }

    /// The requests of `/authorize` received so far.
    pub fn authorize_requests(&self) -> u64 {
        self.counters().authorize
    }

    /// Performs the browser step: sends `authorize_url` to the fake, without following
    /// the redirect, and returns the redirect's `Location`, the application's redirect URI
    /// with `code` and `state` (or `error` and `state`).
    ///
    /// The caller can then send a GET to that URL (a loopback listener waits there) or
    /// hand it to [`Session::complete_authorization`](crate::Session::complete_authorization)
    /// directly.
    ///
    /// # Errors
    ///
    /// [`FakeError::ForeignUrl`] when `authorize_url` is not this fake's authorize endpoint
    /// (nothing is sent), [`FakeError::Request`] when the request fails,
    /// [`FakeError::Refused`] when the fake shows its error page for an unknown client or
    /// redirect URI, and [`FakeError::MissingLocation`] for a redirect without a usable
    /// `Location`.
    pub async fn authorize(&self, authorize_url: impl AsRef<str>) -> Result<Url, FakeError> {
        let url = self.own_authorize_url(authorize_url.as_ref())?;
        let response = self
            .browser
            .get(url)
            .send()
            .await
            .map_err(|error| FakeError::Request(error.without_url()))?;

        let status = response.status();
        if !status.is_redirection() {
            let page = response.text().await.unwrap_or_default();
            return Err(FakeError::Refused { status, page });
        }
        response
            .headers()
            .get(LOCATION)
            .and_then(|location| location.to_str().ok())
            .and_then(|location| Url::parse(location).ok())
            .ok_or(FakeError::MissingLocation)
    }

    /// `authorize_url` parsed, if it points at this fake's authorize endpoint.
    fn own_authorize_url(&self, authorize_url: &str) -> Result<Url, FakeError> {
        let endpoint = &self.authorize_endpoint;
        match Url::parse(authorize_url) {
            Ok(url) if url.origin() == endpoint.origin() && url.path() == endpoint.path() => {
                Ok(url)
            }
            Ok(mut url) => {
                url.set_query(None);
                url.set_fragment(None);
                Err(FakeError::ForeignUrl {
                    endpoint: url.into(),
                })
            }
            Err(_) => Err(FakeError::ForeignUrl {
                endpoint: authorize_url
                    .split('?')
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            }),
        }
    }
}

impl fmt::Debug for FakeAccounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut clients: Vec<&str> = self.shared.client_ids().collect();
        clients.sort_unstable();
        f.debug_struct("FakeAccounts")
            .field("url", &self.url)
            .field("clients", &clients)
            .finish_non_exhaustive()
    }
}
