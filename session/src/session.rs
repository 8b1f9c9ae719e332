//! `Session` and its states.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use secrecy::SecretString;
use url::Url;

use crate::authorize::{
    self, AuthorizeOptions, CallbackOutcome, PendingAuthorization, PkceVerifier,
};
use crate::clock::{Clock, SystemClock};
use crate::credentials::SpotifyCredentials;
use crate::error::{Error, GrantType, Result};
use crate::http::{Config, Grant};
use crate::redirect::{accounts_endpoints, validate_redirect_uri};
use crate::scope::Scopes;
use crate::token::AccessToken;

/// The base URL of Spotify's accounts service, the default of
/// [`SessionBuilder::accounts_url`].
pub const SPOTIFY_ACCOUNTS_URL: &str = "https://accounts.spotify.com";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_EXPIRY_MARGIN: Duration = Duration::from_secs(60);
const MAX_EXPIRY_MARGIN: Duration = Duration::from_secs(365 * 24 * 3600);

/// A session with Spotify's accounts service, in state `S`.
///
/// A session starts as `Session<Unauthenticated>` from [`Session::builder`], and becomes a
/// [`Session<Authorized>`] (a user's grant, with a refresh token) or a
/// [`Session<ClientCredentials>`] (the app's own token) through typed transitions. What a
/// state cannot do does not compile: refreshing without a refresh token, or reading a token
/// that does not exist.
///
/// Sessions are `Clone`, `Send` and `Sync`; clones share the configuration. `Debug` shows
/// no secret and no token.
#[derive(Clone)]
pub struct Session<S: State> {
    config: Arc<Config>,
    state: S,
}

mod sealed {
    use super::{AccessToken, Authorized, ClientCredentials};

    pub trait Sealed {}

    pub trait TokenState {
        fn token(&self) -> &AccessToken;
    }

    pub trait RefreshState {
        fn authorized(&self) -> &Authorized;
        fn authorized_mut(&mut self) -> &mut Authorized;
    }

    pub trait CredentialsState {
        fn app_mut(&mut self) -> &mut ClientCredentials;
    }
}

/// The state of a [`Session`]: [`Unauthenticated`], [`Authorized`] or
/// [`ClientCredentials`]. Sealed: no other state exists.
pub trait State: sealed::Sealed + Clone + fmt::Debug + Send + Sync + 'static {}

/// The states that hold an access token: [`Authorized`] and [`ClientCredentials`].
#[diagnostic::on_unimplemented(
    message = "`Session<{Self}>` holds no access token",
    label = "this session has not been granted a token",
    note = "get a token first: `request_credentials_token()` gives a \
            `Session<ClientCredentials>`; `complete_authorization(..)`, \
            `request_access_token(..)` or `resume(..)` give a `Session<Authorized>`"
)]
pub trait HoldsToken: State + sealed::TokenState {}

/// The state that holds a refresh token: [`Authorized`].
#[diagnostic::on_unimplemented(
    message = "`Session<{Self}>` holds no refresh token",
    label = "only a `Session<Authorized>` has a refresh token",
    note = "a user's grant comes from `complete_authorization(..)`, `request_access_token(..)` \
            or `resume(..)` on a `Session<Unauthenticated>`; a `Session<ClientCredentials>` \
            gets a new token with `renew_access_token()`"
)]
pub trait HoldsRefreshToken: HoldsToken + sealed::RefreshState {}

/// The state renewed by asking for a new token: [`ClientCredentials`].
#[diagnostic::on_unimplemented(
    message = "`Session<{Self}>` is not renewed with the client-credentials grant",
    label = "only a `Session<ClientCredentials>` is renewed this way",
    note = "a `Session<Authorized>` gets a new token with `refresh_access_token()`"
)]
pub trait RenewsWithCredentials: HoldsToken + sealed::CredentialsState {}

/// No token yet: the state a session is built in.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Unauthenticated;

/// A user's grant: an access token, the refresh token that renews it, and the scopes the
/// user granted.
#[derive(Clone)]
pub struct Authorized {
    token: AccessToken,
    refresh_token: SecretString,
}

/// The app's own token from the client-credentials grant. It has no refresh token:
/// renewing it means asking for a new one.
#[derive(Clone)]
pub struct ClientCredentials {
    token: AccessToken,
}

impl sealed::Sealed for Unauthenticated {}
impl sealed::Sealed for Authorized {}
impl sealed::Sealed for ClientCredentials {}
impl State for Unauthenticated {}
impl State for Authorized {}
impl State for ClientCredentials {}
impl HoldsToken for Authorized {}
impl HoldsToken for ClientCredentials {}
impl HoldsRefreshToken for Authorized {}
impl RenewsWithCredentials for ClientCredentials {}

impl sealed::TokenState for Authorized {
    fn token(&self) -> &AccessToken {
        &self.token
    }
}

impl sealed::TokenState for ClientCredentials {
    fn token(&self) -> &AccessToken {
        &self.token
    }
}

impl sealed::RefreshState for Authorized {
    fn authorized(&self) -> &Authorized {
        self
    }

    fn authorized_mut(&mut self) -> &mut Authorized {
        self
    }
}

impl sealed::CredentialsState for ClientCredentials {
    fn app_mut(&mut self) -> &mut ClientCredentials {
        self
    }
}

impl fmt::Debug for Authorized {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorized")
            .field("token", &self.token)
            .field("refresh_token", &"[redacted]")
            .finish()
    }
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("token", &self.token)
            .finish()
    }
}

impl<S: State> fmt::Debug for Session<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("config", &self.config)
            .field("state", &self.state)
            .finish()
    }
}

/// Builds a [`Session<Unauthenticated>`]; made by [`Session::builder`].
#[derive(Debug)]
#[must_use]
pub struct SessionBuilder {
    credentials: crate::Credentials,
    http: Option<reqwest::Client>,
    accounts_url: String,
    timeout: Duration,
    expiry_margin: Duration,
    clock: Arc<dyn Clock>,
}

impl SessionBuilder {
    /// The HTTP client to send token requests with, to share a connection pool or set a
    /// proxy. The session's timeout is applied to each request all the same.
    ///
    /// The default client follows no redirect; a client given here follows whatever its
    /// own policy says, so build it with `redirect(reqwest::redirect::Policy::none())`.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// The accounts service's base URL, `https://accounts.spotify.com` by default. Plain
    /// `http` is accepted on loopback addresses only, for a local fake in tests.
    pub fn accounts_url(mut self, url: impl Into<String>) -> Self {
        self.accounts_url = url.into();
        self
    }

    /// How long one token request may take, 10 seconds by default.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long before its expiry a token counts as expired, 60 seconds by default; a
    /// margin above one year is taken as one year.
    pub fn expiry_margin(mut self, margin: Duration) -> Self {
        self.expiry_margin = margin;
        self
    }

    /// The clock expiry is computed with, the system clock by default.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Checks the settings and builds the session.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRedirectUri`] for a redirect URI that breaks Spotify's rules,
    /// [`Error::InvalidAccountsUrl`] for an accounts URL that is not `https` (or `http` on
    /// loopback), and [`Error::HttpClient`] when the default HTTP client cannot be built.
    pub fn build(self) -> Result<Session<Unauthenticated>> {
        let (client_id, client_secret, redirect_uri) = self.credentials.into_parts();
        if let Some(uri) = &redirect_uri {
            validate_redirect_uri(uri)?;
        }
        let (authorize_url, token_url) = accounts_endpoints(&self.accounts_url)?;
        let http = match self.http {
            Some(http) => http,
            None => default_http_client(self.timeout)?,
        };
        // A margin beyond a year would make every token look expired forever.
        let expiry_margin = TimeDelta::from_std(self.expiry_margin.min(MAX_EXPIRY_MARGIN))
            .unwrap_or(TimeDelta::zero());
        let config = Config {
            client_id,
            client_secret,
            redirect_uri,
            authorize_url,
            token_url,
            http,
            timeout: self.timeout,
            expiry_margin,
            clock: self.clock,
        };
        Ok(Session {
            config: Arc::new(config),
            state: Unauthenticated,
        })
    }
}

fn default_http_client(timeout: Duration) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .user_agent(concat!("spotify-session/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(Error::HttpClient)
}

impl Session<Unauthenticated> {
    /// Starts building a session from credentials: a [`Credentials`](crate::Credentials),
    /// or a reference to a config struct that derives `SpotifyCredentials`.
    ///
    /// ```
    /// use spotify_session::{Credentials, Session};
    ///
    /// let session = Session::builder(
    ///     Credentials::new("client-id", "client-secret")
    ///         .redirect_uri("http://127.0.0.1:8888/callback"),
    /// )
    /// .build()?;
    /// assert_eq!(session.client_id(), "client-id");
    /// # Ok::<(), spotify_session::Error>(())
    /// ```
    pub fn builder(credentials: impl SpotifyCredentials) -> SessionBuilder {
        SessionBuilder {
            credentials: credentials.credentials(),
            http: None,
            accounts_url: SPOTIFY_ACCOUNTS_URL.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            expiry_margin: DEFAULT_EXPIRY_MARGIN,
            clock: Arc::new(SystemClock),
        }
    }
}

/// Every state: the configuration, read and changed.
impl<S: State> Session<S> {
    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.config.client_id
    }

    /// The client secret, `None` for a public (PKCE) client.
    pub fn client_secret(&self) -> Option<&SecretString> {
        self.config.client_secret.as_ref()
    }

    /// The redirect URI, exactly as it is sent.
    pub fn redirect_uri(&self) -> Option<&str> {
        self.config.redirect_uri.as_deref()
    }

    /// Sets the client id.
    pub fn set_client_id(&mut self, client_id: impl Into<String>) {
        Arc::make_mut(&mut self.config).client_id = client_id.into();
    }

    /// Sets the client secret, or removes it with `None` to act as a public client.
    pub fn set_client_secret(&mut self, client_secret: Option<SecretString>) {
        Arc::make_mut(&mut self.config).client_secret = client_secret;
    }

    /// Sets the redirect URI.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRedirectUri`] when it breaks Spotify's rules; the session keeps
    /// its previous one.
    pub fn set_redirect_uri(&mut self, redirect_uri: impl Into<String>) -> Result<()> {
        let redirect_uri = redirect_uri.into();
        validate_redirect_uri(&redirect_uri)?;
        Arc::make_mut(&mut self.config).redirect_uri = Some(redirect_uri);
        Ok(())
    }

    /// A session with the same configuration and no token, to start another flow.
    pub fn unauthenticated(&self) -> Session<Unauthenticated> {
        self.with_state(Unauthenticated)
    }

    fn with_state<T: State>(&self, state: T) -> Session<T> {
        Session {
            config: Arc::clone(&self.config),
            state,
        }
    }
}

/// No token yet: build authorize URLs, and get tokens through the transitions below. Each
/// transition takes `&self`, so one configured session serves many users and survives a
/// failed exchange.
impl Session<Unauthenticated> {
    /// The URL to send a user to.
    ///
    /// Prefer [`begin_authorization`](Self::begin_authorization), which also draws a
    /// `state` and, for a public client, a PKCE verifier.
    ///
    /// # Errors
    ///
    /// [`Error::MissingRedirectUri`] when the session has no redirect URI.
    pub fn authorize_url(&self, options: &AuthorizeOptions) -> Result<Url> {
        let redirect_uri = self.config.require_redirect_uri()?;
        Ok(authorize::authorize_url(
            &self.config.authorize_url,
            &self.config.client_id,
            redirect_uri,
            options,
        ))
    }

    /// Starts the authorization-code flow: the URL to send the user to, and what to keep
    /// until the callback.
    ///
    /// A random `state` is drawn unless `options` sets one. A public client (no secret)
    /// always uses PKCE: a verifier is drawn unless `options` carries one.
    ///
    /// # Errors
    ///
    /// [`Error::MissingRedirectUri`] when the session has no redirect URI.
    pub fn begin_authorization(&self, options: &AuthorizeOptions) -> Result<PendingAuthorization> {
        let mut options = options.clone();
        let state = options
            .state
            .get_or_insert_with(authorize::random_state)
            .clone();
        if self.config.client_secret.is_none() && options.pkce.is_none() {
            options.pkce = Some(PkceVerifier::generate());
        }
        Ok(PendingAuthorization {
            url: self.authorize_url(&options)?,
            state,
            verifier: options.pkce,
        })
    }

    /// Finishes the authorization-code flow with the callback: the full redirect URL or
    /// its query string.
    ///
    /// The callback's `state` is checked against the pending one in constant time before
    /// anything else; only then is an `error` reported or the code exchanged, once.
    ///
    /// # Errors
    ///
    /// [`Error::MissingState`] or [`Error::StateMismatch`] for a callback that does not
    /// carry the state sent (no token request is made), [`Error::AuthorizationDenied`] when
    /// the user refused, [`Error::MissingCode`] or [`Error::InvalidCallback`] for a
    /// callback that cannot be used, and the errors of
    /// [`request_access_token`](Self::request_access_token).
    pub async fn complete_authorization(
        &self,
        pending: PendingAuthorization,
        callback: impl AsRef<str>,
    ) -> Result<Session<Authorized>> {
        match authorize::read_callback(callback.as_ref(), &pending.state)? {
            CallbackOutcome::Denied { error, description } => {
                Err(Error::AuthorizationDenied { error, description })
            }
            CallbackOutcome::Code(code) => self.exchange(&code, pending.verifier.as_ref()).await,
        }
    }

    /// Exchanges an authorization code for a user's grant.
    ///
    /// # Errors
    ///
    /// [`Error::TokenEndpoint`] when Spotify refuses (`invalid_grant` for a used or expired
    /// code), [`Error::MissingRedirectUri`], [`Error::MissingRefreshToken`], and the
    /// transport and answer errors every token request can give ([`Error::Http`],
    /// [`Error::UnexpectedResponse`], [`Error::MalformedTokenResponse`]).
    pub async fn request_access_token(&self, code: &str) -> Result<Session<Authorized>> {
        self.exchange(&SecretString::from(code), None).await
    }

    /// Exchanges an authorization code of the PKCE flow, proving it with `verifier`.
    ///
    /// # Errors
    ///
    /// As [`request_access_token`](Self::request_access_token); a wrong verifier gives
    /// `invalid_grant`.
    pub async fn request_access_token_pkce(
        &self,
        code: &str,
        verifier: &PkceVerifier,
    ) -> Result<Session<Authorized>> {
        self.exchange(&SecretString::from(code), Some(verifier))
            .await
    }

    async fn exchange(
        &self,
        code: &SecretString,
        verifier: Option<&PkceVerifier>,
    ) -> Result<Session<Authorized>> {
        let grant = Grant::AuthorizationCode { code, verifier };
        let answer = self.config.request_token(grant).await?;
        let (token, refresh_token) = answer.into_parts(None);
        let refresh_token = refresh_token.ok_or(Error::MissingRefreshToken {
            grant: GrantType::AuthorizationCode,
        })?;
        Ok(self.with_state(Authorized {
            token,
            refresh_token,
        }))
    }

    /// Gets the app's own token with the client-credentials grant.
    ///
    /// # Errors
    ///
    /// [`Error::MissingClientSecret`] for a public client, [`Error::TokenEndpoint`] when
    /// Spotify refuses (`invalid_client`), and the transport and answer errors.
    pub async fn request_credentials_token(&self) -> Result<Session<ClientCredentials>> {
        let answer = self.config.request_token(Grant::ClientCredentials).await?;
        Ok(self.with_state(ClientCredentials {
            token: answer.into_parts(None).0,
        }))
    }

    /// Restores a stored user grant by refreshing it once.
    ///
    /// The scopes are those the answer names, or none when it names none: keep them
    /// with the refresh token if they matter.
    ///
    /// # Errors
    ///
    /// [`Error::TokenEndpoint`] with `invalid_grant` (see
    /// [`Error::is_reauthorization_required`]) when the refresh token expired or was
    /// revoked, and the transport and answer errors.
    pub async fn resume(
        &self,
        refresh_token: impl Into<SecretString>,
    ) -> Result<Session<Authorized>> {
        let refresh_token = refresh_token.into();
        let grant = Grant::RefreshToken {
            refresh_token: &refresh_token,
        };
        let answer = self.config.request_token(grant).await?;
        let (token, rotated) = answer.into_parts(None);
        Ok(self.with_state(Authorized {
            token,
            refresh_token: rotated.unwrap_or(refresh_token),
        }))
    }
}

/// Sessions that hold an access token: [`Session<Authorized>`] and
/// [`Session<ClientCredentials>`].
impl<S: State> Session<S> {
    /// The access token, to send as `Authorization: Bearer …` to the Web API.
    pub fn access_token(&self) -> &SecretString
    where
        S: HoldsToken,
    {
        &self.state.token().secret
    }

    /// When the access token expires, as computed when its answer arrived.
    pub fn expires_at(&self) -> DateTime<Utc>
    where
        S: HoldsToken,
    {
        self.state.token().expires_at
    }

    /// How long the access token stays valid from now; zero once it has expired.
    pub fn expires_in(&self) -> TimeDelta
    where
        S: HoldsToken,
    {
        (self.expires_at() - self.config.clock.now()).max(TimeDelta::zero())
    }

    /// Whether the token is expired or will be within the expiry margin, so that it is
    /// time to renew it. For a token granted for less than twice the margin, the margin
    /// is half its lifetime, so that a short-lived token is not renewed on every call.
    pub fn is_expired(&self) -> bool
    where
        S: HoldsToken,
    {
        let token = self.state.token();
        // A margin as long as the token's life would renew it on every call.
        let margin = token
            .lifetime
            .map_or(self.config.expiry_margin, |lifetime| {
                self.config.expiry_margin.min(lifetime / 2)
            });
        let now = self.config.clock.now();
        now.checked_add_signed(margin)
            .is_none_or(|due| due >= token.expires_at)
    }

    /// The scopes that were granted, which may be fewer than were asked for.
    pub fn scopes(&self) -> &Scopes
    where
        S: HoldsToken,
    {
        &self.state.token().scopes
    }
}

/// A user's grant: the refresh token, read, replaced and used.
impl<S: State> Session<S> {
    /// The refresh token.
    pub fn refresh_token(&self) -> &SecretString
    where
        S: HoldsRefreshToken,
    {
        &self.state.authorized().refresh_token
    }

    /// Replaces the refresh token, for example with one read from storage.
    pub fn set_refresh_token(&mut self, refresh_token: impl Into<SecretString>)
    where
        S: HoldsRefreshToken,
    {
        self.state.authorized_mut().refresh_token = refresh_token.into();
    }

    /// Gets a new access token with the refresh token.
    ///
    /// A refresh token sent back (rotation) replaces the old one; when none is sent the
    /// old one is kept. Scopes are kept unless the answer names them. On failure the
    /// session is left exactly as it was.
    ///
    /// # Errors
    ///
    /// [`Error::TokenEndpoint`] with `invalid_grant` (see
    /// [`Error::is_reauthorization_required`]) when the refresh token expired, was revoked
    /// or rotated away; the transport and answer errors, which are
    /// [`transient`](Error::is_transient) when a later try may succeed.
    pub async fn refresh_access_token(&mut self) -> Result<()>
    where
        S: HoldsRefreshToken,
    {
        let grant = self.state.authorized();
        let request = Grant::RefreshToken {
            refresh_token: &grant.refresh_token,
        };
        let answer = self.config.request_token(request).await?;
        let (token, rotated) = answer.into_parts(Some(&grant.token.scopes));
        let state = self.state.authorized_mut();
        state.token = token;
        if let Some(rotated) = rotated {
            state.refresh_token = rotated;
        }
        Ok(())
    }
}

/// The app's own token: renewed by asking for a new one.
impl<S: State> Session<S> {
    /// Gets a new client-credentials token in place of this one. On failure the session
    /// keeps the token it had.
    ///
    /// # Errors
    ///
    /// As [`Session::request_credentials_token`].
    pub async fn renew_access_token(&mut self) -> Result<()>
    where
        S: RenewsWithCredentials,
    {
        let answer = self.config.request_token(Grant::ClientCredentials).await?;
        let app = self.state.app_mut();
        app.token = answer.into_parts(Some(&app.token.scopes)).0;
        Ok(())
    }
}

/// Stored tokens: a session kept by a [`TokenStore`](crate::TokenStore), and rebuilt from
/// it without a request.
impl Session<Unauthenticated> {
    /// Rebuilds a user's grant from a stored token, without a request. An expired access
    /// token is kept: the refresh token renews it, for example on the first
    /// [`SharedSession::access_token`](crate::SharedSession::access_token).
    ///
    /// # Errors
    ///
    /// [`Error::Store`] with [`StoreError::MissingRefreshToken`](crate::StoreError) when the
    /// stored token has no refresh token (it came from the client-credentials grant).
    pub fn restore(&self, stored: crate::StoredToken) -> Result<Session<Authorized>> {
        let refresh_token = stored.refresh_token.ok_or(Error::Store {
            source: crate::StoreError::MissingRefreshToken,
        })?;
        Ok(self.with_state(Authorized {
            token: AccessToken {
                secret: stored.access_token,
                expires_at: stored.expires_at,
                lifetime: None,
                scopes: stored.scopes,
            },
            refresh_token,
        }))
    }

    /// Rebuilds the app's client-credentials token from a stored token, without a request.
    /// A refresh token in it is ignored.
    pub fn restore_credentials_token(
        &self,
        stored: crate::StoredToken,
    ) -> Session<ClientCredentials> {
        self.with_state(ClientCredentials {
            token: AccessToken {
                secret: stored.access_token,
                expires_at: stored.expires_at,
                lifetime: None,
                scopes: stored.scopes,
            },
        })
    }
}

/// A user's grant, as a [`TokenStore`](crate::TokenStore) keeps it.
impl Session<Authorized> {
    /// The access token, its expiry, its scopes and the refresh token, to store.
    pub fn stored_token(&self) -> crate::StoredToken {
        let token = &self.state.token;
        crate::StoredToken::new(token.secret.clone(), token.expires_at)
            .with_scopes(token.scopes.clone())
            .with_refresh_token(self.state.refresh_token.clone())
    }
}

/// The app's own token, as a [`TokenStore`](crate::TokenStore) keeps it.
impl Session<ClientCredentials> {
    /// The access token, its expiry and its scopes, to store.
    pub fn stored_token(&self) -> crate::StoredToken {
        let token = &self.state.token;
        crate::StoredToken::new(token.secret.clone(), token.expires_at)
            .with_scopes(token.scopes.clone())
    }
}
