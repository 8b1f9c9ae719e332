//! The crate's error type.

use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in a session.
///
/// Match on the variants for detail, or ask the predicates the questions a caller acts on:
/// [`is_reauthorization_required`](Error::is_reauthorization_required) (send the user
/// through authorization again), [`is_transient`](Error::is_transient) (trying again later
/// may succeed) and [`retry_after`](Error::retry_after) (how long the service asked to
/// wait). No variant holds a token, a code, a verifier or a secret, so `Display` and
/// `Debug` are safe to log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The token endpoint answered with an OAuth 2.0 error (RFC 6749 §5.2).
    #[error(
        "the accounts service refused the {grant} grant with `{code}`{} (HTTP {status})",
        describe(description.as_deref())
    )]
    TokenEndpoint {
        /// The grant that was asked for.
        grant: GrantType,
        /// The HTTP status of the answer.
        status: StatusCode,
        /// The `error` field.
        code: OAuthErrorCode,
        /// The `error_description` field, when sent.
        description: Option<String>,
        /// The `Retry-After` header, when sent.
        retry_after: Option<Duration>,
    },

    /// The token endpoint answered with an error status and a body that is not OAuth 2.0
    /// error JSON: typically an HTML or plain-text page of a load balancer, or nothing.
    #[error(
        "the accounts service answered the {grant} grant with HTTP {status} and no OAuth \
         error{}",
        excerpt_suffix(excerpt)
    )]
    UnexpectedResponse {
        /// The grant that was asked for.
        grant: GrantType,
        /// The HTTP status of the answer.
        status: StatusCode,
        /// The start of the body, at most 200 characters, control characters removed.
        excerpt: String,
        /// The `Retry-After` header, when sent.
        retry_after: Option<Duration>,
    },

    /// A successful answer that holds no usable token: not JSON, no `access_token`, an
    /// `expires_in` that is negative or absurd, or a token type other than `Bearer`.
    #[error("the {grant} answer of the accounts service is not a usable token: {reason}")]
    MalformedTokenResponse {
        /// The grant that was asked for.
        grant: GrantType,
        /// The HTTP status of the answer.
        status: StatusCode,
        /// What is wrong with it.
        reason: String,
    },

    /// An authorization-code exchange succeeded without a refresh token, which Spotify
    /// always sends with the user flows.
    #[error("the {grant} answer of the accounts service holds no refresh token")]
    MissingRefreshToken {
        /// The grant that was asked for.
        grant: GrantType,
    },

    /// The request did not get an answer: connection refused, TLS failure, timeout, or a
    /// body that broke off.
    #[error("the {grant} request to the accounts service failed")]
    Http {
        /// The grant that was asked for.
        grant: GrantType,
        /// What the HTTP client reported.
        #[source]
        source: reqwest::Error,
    },

    /// The HTTP client could not be built.
    #[error("could not build the HTTP client")]
    HttpClient(#[source] reqwest::Error),

    /// The redirect URI breaks Spotify's rules.
    #[error("invalid redirect URI `{uri}`: {reason}")]
    InvalidRedirectUri {
        /// The URI as given.
        uri: String,
        /// The rule it breaks.
        reason: &'static str,
    },

    /// The accounts service URL cannot be used.
    #[error("invalid accounts service URL `{url}`: {reason}")]
    InvalidAccountsUrl {
        /// The URL as given.
        url: String,
        /// Why it cannot be used.
        reason: &'static str,
    },

    /// An authorization-code flow was started on a session without a redirect URI.
    #[error("no redirect URI is set: the authorization-code flows need one")]
    MissingRedirectUri,

    /// The client-credentials grant was asked for by a public client.
    #[error("the client-credentials grant needs a client secret, and this client has none")]
    MissingClientSecret,

    /// A PKCE code verifier breaks RFC 7636's rules.
    #[error("invalid PKCE code verifier: {reason}")]
    InvalidPkceVerifier {
        /// The rule it breaks.
        reason: &'static str,
    },

    /// The callback says the user, or Spotify, refused the authorization.
    #[error("the authorization was refused with `{error}`{}", describe(description.as_deref()))]
    AuthorizationDenied {
        /// The `error` parameter, usually `access_denied`.
        error: String,
        /// The `error_description` parameter, when sent.
        description: Option<String>,
    },

    /// The callback's `state` differs from the one sent: the code is not exchanged.
    #[error("the callback's `state` does not match the one sent, so its code was not used")]
    StateMismatch,

    /// The callback has no `state` although one was sent: the code is not exchanged.
    #[error("the callback has no `state` although one was sent, so its code was not used")]
    MissingState,

    /// The callback carries neither `code` nor `error`.
    #[error("the callback carries neither `code` nor `error`")]
    MissingCode,

    /// The callback URL or query string cannot be parsed.
    #[error("the callback cannot be parsed: {reason}")]
    InvalidCallback {
        /// Why it cannot be parsed.
        reason: String,
    },

    /// A required environment variable is unset or empty.
    #[error("the environment variable `{name}` is not set")]
    MissingEnvVar {
        /// The variable's name.
        name: &'static str,
    },

    /// An environment variable holds text that is not Unicode.
    #[error("the environment variable `{name}` is not valid Unicode")]
    InvalidEnvVar {
        /// The variable's name.
        name: &'static str,
    },

    /// A [`TokenStore`](crate::TokenStore) failed, or a stored token cannot be restored.
    #[error("token storage failed")]
    Store {
        /// What failed.
        #[from]
        source: crate::StoreError,
    },

    /// The error of a renewal that several tasks of a
    /// [`SharedSession`](crate::SharedSession) waited for, when it cannot be copied to each
    /// (a transport failure, [`Error::Http`]). `Display`, `source()` and the predicates
    /// are those of the error inside.
    #[error(transparent)]
    Shared(std::sync::Arc<Error>),

    /// A [`SharedSession`](crate::SharedSession)'s renewal ended without a result: its task
    /// panicked (in a store or a hook) or its runtime shut down. The next call starts
    /// another, unless the new token had already arrived: it is kept, and the next call
    /// saves it.
    #[error("the token renewal was abandoned before it finished")]
    RenewalAbandoned,

    /// The redirect URI cannot be served by the loopback listener, which needs
    /// `http://127.0.0.1:PORT/…` or `http://[::1]:PORT/…`.
    #[cfg(feature = "loopback")]
    #[error("the loopback listener cannot serve the redirect URI `{uri}`: {reason}")]
    NotLoopbackRedirect {
        /// The URI as given.
        uri: String,
        /// What keeps it from being a loopback redirect URI.
        reason: &'static str,
    },

    /// The loopback listener could not bind its address, usually because another program
    /// holds the port.
    #[cfg(feature = "loopback")]
    #[error("the loopback listener could not bind `{address}`")]
    LoopbackBind {
        /// The address of the redirect URI.
        address: std::net::SocketAddr,
        /// What the system reported.
        #[source]
        source: std::io::Error,
    },

    /// No authorization callback reached the loopback listener in time.
    #[cfg(feature = "loopback")]
    #[error("no authorization callback arrived within {waited:?}")]
    CallbackTimeout {
        /// How long the listener waited.
        waited: Duration,
    },
}

impl Error {
    /// True when the grant is gone for good: an `invalid_grant` answer to a refresh (the
    /// refresh token expired, was revoked, or was rotated away). The user must go through
    /// authorization again; retrying cannot help.
    pub fn is_reauthorization_required(&self) -> bool {
        if let Self::Shared(inner) = self {
            return inner.is_reauthorization_required();
        }
        matches!(
            self,
            Self::TokenEndpoint {
                grant: GrantType::RefreshToken,
                code: OAuthErrorCode::InvalidGrant,
                ..
            }
        )
    }

    /// True when the same request may succeed later: a network failure or timeout, a
    /// 5xx answer, or a 429.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Shared(inner) => inner.is_transient(),
            Self::Http { source, .. } => !source.is_builder(),
            Self::TokenEndpoint { status, .. }
            | Self::UnexpectedResponse { status, .. }
            | Self::MalformedTokenResponse { status, .. } => {
                status.is_server_error() || *status == StatusCode::TOO_MANY_REQUESTS
            }
            _ => false,
        }
    }

    /// True when the request timed out.
    pub fn is_timeout(&self) -> bool {
        if let Self::Shared(inner) = self {
            return inner.is_timeout();
        }
        matches!(self, Self::Http { source, .. } if source.is_timeout())
    }

    /// How long the accounts service asked to wait, from its `Retry-After` header.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Shared(inner) => inner.retry_after(),
            Self::TokenEndpoint { retry_after, .. }
            | Self::UnexpectedResponse { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The HTTP status of the answer, when there was one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Shared(inner) => inner.status(),
            Self::TokenEndpoint { status, .. }
            | Self::UnexpectedResponse { status, .. }
            | Self::MalformedTokenResponse { status, .. } => Some(*status),
            Self::Http { source, .. } => source.status(),
            _ => None,
        }
    }

    /// The OAuth 2.0 `error` code of a token-endpoint error.
    pub fn oauth_error(&self) -> Option<&OAuthErrorCode> {
        match self {
            Self::Shared(inner) => inner.oauth_error(),
            Self::TokenEndpoint { code, .. } => Some(code),
            _ => None,
        }
    }
}

fn describe(description: Option<&str>) -> String {
    description.map_or_else(String::new, |text| format!(": {text}"))
}

fn excerpt_suffix(excerpt: &str) -> String {
    if excerpt.is_empty() {
        " (empty body)".to_owned()
    } else {
        format!(": {excerpt:?}")
    }
}

/// The OAuth 2.0 grant a token request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GrantType {
    /// `authorization_code`, with or without PKCE.
    AuthorizationCode,
    /// `client_credentials`.
    ClientCredentials,
    /// `refresh_token`.
    RefreshToken,
}

impl GrantType {
    /// The grant's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::ClientCredentials => "client_credentials",
            Self::RefreshToken => "refresh_token",
        }
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `error` code of an OAuth 2.0 error answer (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OAuthErrorCode {
    /// `invalid_request`.
    InvalidRequest,
    /// `invalid_client`: unknown client or wrong secret.
    InvalidClient,
    /// `invalid_grant`: a bad, used or expired code, or a revoked or expired refresh token.
    InvalidGrant,
    /// `unauthorized_client`.
    UnauthorizedClient,
    /// `unsupported_grant_type`.
    UnsupportedGrantType,
    /// `invalid_scope`.
    InvalidScope,
    /// Any other code, as sent.
    Other(String),
}

impl OAuthErrorCode {
    /// The code as sent on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::Other(code) => code,
        }
    }
}

impl From<&str> for OAuthErrorCode {
    fn from(code: &str) -> Self {
        match code {
            "invalid_request" => Self::InvalidRequest,
            "invalid_client" => Self::InvalidClient,
            "invalid_grant" => Self::InvalidGrant,
            "unauthorized_client" => Self::UnauthorizedClient,
            "unsupported_grant_type" => Self::UnsupportedGrantType,
            "invalid_scope" => Self::InvalidScope,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
