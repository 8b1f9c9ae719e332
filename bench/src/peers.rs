//! The clients compared, each pointed at a [`TokenServer`] and configured as its library's
//! documentation shows, with that library's default HTTP client.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use oauth2::basic::BasicClient;
use oauth2::{AuthUrl, ClientId, ClientSecret, EndpointNotSet, EndpointSet, RedirectUrl, TokenUrl};
use reqwest::header::ACCEPT;
use serde::Deserialize;
use spotify_session::{Credentials, Session, StoredToken, Unauthenticated};

use crate::TokenServer;
use crate::server::{CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, REFRESH_TOKEN, SCOPES, STATE};

/// A session of this crate, with the HTTP client its builder makes by default.
///
/// # Panics
///
/// Never with a [`TokenServer`]'s URL: the settings are valid.
pub fn session(server: &TokenServer) -> Session<Unauthenticated> {
    Session::builder(Credentials::new(CLIENT_ID, CLIENT_SECRET).redirect_uri(REDIRECT_URI))
        .accounts_url(server.url())
        .build()
        .expect("a valid session")
}

/// A stored token that expires at `expires_at`, with the refresh token of the user's grant.
pub fn stored_token(expires_at: DateTime<Utc>) -> StoredToken {
    StoredToken::new("BQDbenchStoredToken", expires_at).with_refresh_token(REFRESH_TOKEN)
}

/// The floor: one `POST /api/token` with a `reqwest` client and nothing else, the same form
/// body, Basic header and `Accept` as this crate sends, the answer read and its
/// `access_token` parsed.
#[derive(Debug, Clone)]
pub struct BarePost {
    client: reqwest::Client,
    url: String,
}

#[derive(Deserialize)]
struct BareAnswer {
    access_token: String,
}

impl BarePost {
    /// A bare POST with `reqwest::Client::new()`.
    pub fn new(server: &TokenServer) -> Self {
        Self {
            client: reqwest::Client::new(),
            url: server.token_url(),
        }
    }

    /// Sends `form` and returns the access token of the answer.
    ///
    /// # Panics
    ///
    /// When the request fails or is refused.
    pub async fn request(&self, form: &[(&str, &str)]) -> String {
        let response = self
            .client
            .post(&self.url)
            .header(ACCEPT, "application/json")
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(form)
            .send()
            .await
            .expect("the bare POST");
        assert!(
            response.status().is_success(),
            "refused: {}",
            response.status()
        );
        let answer: BareAnswer = response.json().await.expect("a token answer");
        answer.access_token
    }
}

/// rspotify's settings: its defaults (auto-refresh on, no token cache) with the accounts
/// URL pointed at the server.
pub fn rspotify_config(server: &TokenServer) -> rspotify::Config {
    rspotify::Config {
        auth_base_url: server.url(),
        token_refreshing: true,
        ..rspotify::Config::default()
    }
}

/// rspotify's client-credentials client, with the HTTP client it builds by default.
pub fn rspotify_client_creds(server: &TokenServer) -> rspotify::ClientCredsSpotify {
    let credentials = rspotify::Credentials::new(CLIENT_ID, CLIENT_SECRET);
    rspotify::ClientCredsSpotify::with_config(credentials, rspotify_config(server))
}

/// rspotify's client-credentials client holding a token that expires at `expires_at`.
pub fn rspotify_client_creds_with_token(
    server: &TokenServer,
    expires_at: DateTime<Utc>,
) -> rspotify::ClientCredsSpotify {
    let token = rspotify::Token {
        access_token: "BQDbenchStoredToken".to_owned(),
        expires_in: TimeDelta::seconds(3600),
        expires_at: Some(expires_at),
        ..rspotify::Token::default()
    };
    let mut client = rspotify_client_creds(server);
    client.token = Arc::new(rspotify::sync::Mutex::new(Some(token)));
    client
}

/// rspotify's authorization-code client holding a user's token that expires at
/// `expires_at`, with the HTTP client it builds by default.
pub fn rspotify_auth_code(
    server: &TokenServer,
    expires_at: DateTime<Utc>,
) -> rspotify::AuthCodeSpotify {
    let credentials = rspotify::Credentials::new(CLIENT_ID, CLIENT_SECRET);
    let oauth = rspotify::OAuth {
        redirect_uri: REDIRECT_URI.to_owned(),
        state: STATE.to_owned(),
        scopes: SCOPES.iter().map(|scope| (*scope).to_owned()).collect(),
        proxies: None,
    };
    let token = rspotify::Token {
        access_token: "BQDbenchStoredToken".to_owned(),
        expires_in: TimeDelta::seconds(3600),
        expires_at: Some(expires_at),
        refresh_token: Some(REFRESH_TOKEN.to_owned()),
        scopes: oauth.scopes.clone(),
    };
    rspotify::AuthCodeSpotify::from_token_with_config(
        token,
        credentials,
        oauth,
        rspotify_config(server),
    )
}

/// oauth2's client with the authorize and token endpoints set.
pub type OAuth2Client =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// oauth2's client for the server: Basic authentication (its default) and the redirect URI.
///
/// # Panics
///
/// Never with a [`TokenServer`]'s URL: the URLs are valid.
pub fn oauth2_client(server: &TokenServer) -> OAuth2Client {
    BasicClient::new(ClientId::new(CLIENT_ID.to_owned()))
        .set_client_secret(ClientSecret::new(CLIENT_SECRET.to_owned()))
        .set_auth_uri(AuthUrl::new(format!("{}/authorize", server.url())).expect("a URL"))
        .set_token_uri(TokenUrl::new(server.token_url()).expect("a URL"))
        .set_redirect_uri(RedirectUrl::new(REDIRECT_URI.to_owned()).expect("a URL"))
}

/// The HTTP client oauth2's documentation builds: its `reqwest` with redirects off. oauth2
/// has no client of its own; the caller makes one and reuses it.
///
/// # Panics
///
/// When `reqwest` cannot build a client.
pub fn oauth2_http() -> oauth2::reqwest::Client {
    oauth2::reqwest::ClientBuilder::new()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .build()
        .expect("oauth2's reqwest client")
}
