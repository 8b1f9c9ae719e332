//! The one place that talks to the token endpoint.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, HeaderMap, RETRY_AFTER};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use url::Url;

use crate::authorize::PkceVerifier;
use crate::clock::Clock;
use crate::error::{Error, GrantType, OAuthErrorCode, Result};
use crate::token::{TokenResponse, parse_token_response};

/// Answers larger than this are cut: a token answer is a few hundred bytes.
const MAX_BODY: usize = 64 * 1024;
const EXCERPT_CHARS: usize = 200;

/// What every state of a session shares: the client, the endpoints and the settings.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) client_id: String,
    pub(crate) client_secret: Option<SecretString>,
    pub(crate) redirect_uri: Option<String>,
    /// `/authorize` and `/api/token`, joined once when the session is built.
    pub(crate) authorize_url: Url,
    pub(crate) token_url: Url,
    pub(crate) http: reqwest::Client,
    pub(crate) timeout: Duration,
    pub(crate) expiry_margin: TimeDelta,
    pub(crate) clock: Arc<dyn Clock>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("redirect_uri", &self.redirect_uri)
            .field("token_url", &self.token_url.as_str())
            .field("timeout", &self.timeout)
            .field("expiry_margin", &self.expiry_margin)
            .finish_non_exhaustive()
    }
}

/// One token request.
pub(crate) enum Grant<'a> {
    AuthorizationCode {
        code: &'a SecretString,
        verifier: Option<&'a PkceVerifier>,
    },
    ClientCredentials,
    RefreshToken {
        refresh_token: &'a SecretString,
    },
}

impl Grant<'_> {
    fn kind(&self) -> GrantType {
        match self {
            Self::AuthorizationCode { .. } => GrantType::AuthorizationCode,
            Self::ClientCredentials => GrantType::ClientCredentials,
            Self::RefreshToken { .. } => GrantType::RefreshToken,
        }
    }
}

#[derive(Deserialize)]
struct OAuthErrorBody {
    error: String,
    error_description: Option<String>,
}

impl Config {
    pub(crate) fn require_redirect_uri(&self) -> Result<&str> {
        self.redirect_uri
            .as_deref()
            .ok_or(Error::MissingRedirectUri)
    }

    /// Sends one token request and reads its answer. It is never retried here: a code
    /// must not be sent twice, and retrying refreshes is the caller's policy.
    pub(crate) async fn request_token(&self, grant: Grant<'_>) -> Result<TokenResponse> {
        let kind = grant.kind();
        let form = self.form(&grant)?;
        let mut request = self
            .http
            .post(self.token_url.clone())
            .timeout(self.timeout)
            .header(ACCEPT, "application/json")
            .form(&form);
        if let Some(secret) = &self.client_secret {
            let secret = SecretString::from(form_encoded(secret.expose_secret()));
            request =
                request.basic_auth(form_encoded(&self.client_id), Some(secret.expose_secret()));
        }
        tracing::debug!(grant = %kind, "token request");

        let http_error = |source| Error::Http {
            grant: kind,
            source,
        };
        let mut response = request.send().await.map_err(http_error)?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(http_error)? {
            let room = MAX_BODY.saturating_sub(body.len());
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
        let now = self.clock.now();
        tracing::debug!(grant = %kind, status = status.as_u16(), "token answer");

        if !status.is_success() {
            return Err(answer_error(kind, status, &body, retry_after));
        }
        let answer = parse_token_response(kind, status, &body, now)?;
        tracing::debug!(grant = %kind, expires_at = %answer.expires_at, "token granted");
        Ok(answer)
    }

    fn form<'a>(&'a self, grant: &Grant<'a>) -> Result<Vec<(&'static str, &'a str)>> {
        let mut form = vec![("grant_type", grant.kind().as_str())];
        match grant {
            Grant::AuthorizationCode { code, verifier } => {
                form.push(("code", code.expose_secret()));
                form.push(("redirect_uri", self.require_redirect_uri()?));
                if let Some(verifier) = verifier {
                    form.push(("code_verifier", verifier.secret().expose_secret()));
                }
            }
            Grant::ClientCredentials if self.client_secret.is_none() => {
                return Err(Error::MissingClientSecret);
            }
            Grant::ClientCredentials => {}
            Grant::RefreshToken { refresh_token } => {
                form.push(("refresh_token", refresh_token.expose_secret()));
            }
        }
        // A public client has no secret for a Basic header: it names itself in the body.
        if self.client_secret.is_none() {
            form.push(("client_id", &self.client_id));
        }
        Ok(form)
    }
}

fn answer_error(
    grant: GrantType,
    status: StatusCode,
    body: &[u8],
    retry_after: Option<Duration>,
) -> Error {
    match serde_json::from_slice::<OAuthErrorBody>(body) {
        Ok(oauth) => Error::TokenEndpoint {
            grant,
            status,
            code: OAuthErrorCode::from(oauth.error.as_str()),
            description: oauth.error_description,
            retry_after,
        },
        Err(_) => Error::UnexpectedResponse {
            grant,
            status,
            excerpt: excerpt(body),
            retry_after,
        },
    }
}

/// A client id or secret as RFC 6749 §2.3.1 puts it in the Basic header: form-encoded
/// before base64, so that a `:` or `%` in it reaches a standards-following server intact.
/// Spotify's ids and secrets are hex, which this leaves unchanged.
fn form_encoded(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// `Retry-After` in seconds. The HTTP-date form is not read: Spotify sends seconds.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The start of a body as text, for error messages: control characters become spaces.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let cut: String = text
        .chars()
        .take(EXCERPT_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    cut.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_is_short_and_on_one_line() {
        let body = format!("<html>\n<body>{}</body>", "x".repeat(500));
        let cut = excerpt(body.as_bytes());
        assert!(cut.starts_with("<html> <body>xxx"));
        assert_eq!(cut.chars().count(), EXCERPT_CHARS);
    }

    #[test]
    fn basic_credentials_are_form_encoded() {
        let hex = "6a0419f43d0aa93b2ae881429b6b9bc2";
        assert_eq!(form_encoded(hex), hex);
        assert_eq!(form_encoded("my-app_1.x*"), "my-app_1.x*");
        assert_eq!(form_encoded("a+b/c=d%e:f g"), "a%2Bb%2Fc%3Dd%25e%3Af+g");
        assert_eq!(form_encoded("é"), "%C3%A9");
    }

    #[test]
    fn retry_after_in_seconds() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), None);
    }
}
