//! The errors of the fake itself.

use std::io;

use reqwest::StatusCode;

/// What can go wrong when starting or driving [`FakeAccounts`](super::FakeAccounts).
///
/// No variant holds a secret, a code or a URL with its query.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FakeError {
    /// Two clients were registered with the same id.
    #[error("client `{0}` is registered twice")]
    DuplicateClient(String),

    /// A redirect URI that Spotify's dashboard would not register.
    #[error("redirect URI `{uri}` of client `{client_id}` would be refused by Spotify: {reason}")]
    InvalidRedirectUri {
        /// The client it was given to.
        client_id: String,
        /// The redirect URI.
        uri: String,
        /// Why it is refused.
        reason: &'static str,
    },

    /// The listener could not be bound on `127.0.0.1`.
    #[error("could not listen on `127.0.0.1`")]
    Bind(#[source] io::Error),

    /// The HTTP client that drives the browser step could not be built.
    #[error("could not build the HTTP client of the browser step")]
    HttpClient(#[source] reqwest::Error),

    /// [`FakeAccounts::authorize`](super::FakeAccounts::authorize) was given a URL that is
    /// not the authorize endpoint of this fake; it never sends a request elsewhere.
    #[error("`{endpoint}` is not the authorize endpoint of this fake")]
    ForeignUrl {
        /// The URL without its query, or the text given when it is not a URL.
        endpoint: String,
    },

    /// The authorize request got no answer.
    #[error("the authorize request to the fake failed")]
    Request(#[source] reqwest::Error),

    /// The fake answered the authorize request with a page instead of a redirect: the
    /// client or the redirect URI is unknown.
    #[error("the fake refused the authorize request with HTTP {status}")]
    Refused {
        /// The HTTP status, 400.
        status: StatusCode,
        /// The page shown, such as `INVALID_CLIENT: Invalid redirect URI` in HTML.
        page: String,
    },

    /// The redirect of the fake has no `Location` that is an absolute URL.
    #[error("the redirect of the fake has no usable `Location` header")]
    MissingLocation,
}
