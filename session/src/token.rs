//! Tokens, and reading the token endpoint's answers.

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::StatusCode;
use secrecy::SecretString;
use serde::Deserialize;

use crate::error::{Error, GrantType, Result};
use crate::scope::Scopes;

/// The validity assumed when an answer has no `expires_in` (Spotify always sends 3600).
const DEFAULT_EXPIRES_IN: i64 = 3600;
/// A longer validity is not believed: it would keep a dead token in use for a year.
const MAX_EXPIRES_IN: i64 = 365 * 24 * 3600;

/// An access token with its absolute expiry and the scopes it was granted.
// `pub` because the sealed state traits name it; the private module keeps it out of the API.
#[derive(Clone)]
pub struct AccessToken {
    pub(crate) secret: SecretString,
    pub(crate) expires_at: DateTime<Utc>,
    pub(crate) scopes: Scopes,
    /// How long the token was granted for; unknown for a token restored from a store.
    pub(crate) lifetime: Option<TimeDelta>,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("secret", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// A successful answer of the token endpoint, checked.
pub(crate) struct TokenResponse {
    pub(crate) access_token: SecretString,
    pub(crate) expires_at: DateTime<Utc>,
    pub(crate) lifetime: TimeDelta,
    pub(crate) refresh_token: Option<SecretString>,
    pub(crate) scopes: Option<Scopes>,
}

impl TokenResponse {
    /// The access token and the refresh token sent, if any; the token keeps `previous`
    /// scopes when the answer names none.
    pub(crate) fn into_parts(
        self,
        previous: Option<&Scopes>,
    ) -> (AccessToken, Option<SecretString>) {
        let scopes = self
            .scopes
            .or_else(|| previous.cloned())
            .unwrap_or_default();
        let token = AccessToken {
            secret: self.access_token,
            expires_at: self.expires_at,
            scopes,
            lifetime: Some(self.lifetime),
        };
        (token, self.refresh_token)
    }
}

#[derive(Deserialize)]
struct RawTokenResponse {
    access_token: Option<String>,
    token_type: Option<String>,
    expires_in: Option<serde_json::Value>,
    refresh_token: Option<String>,
    scope: Option<String>,
}

/// Reads a 2xx body. `now` is when the answer arrived.
pub(crate) fn parse_token_response(
    grant: GrantType,
    status: StatusCode,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<TokenResponse> {
    let malformed = |reason: String| Error::MalformedTokenResponse {
        grant,
        status,
        reason,
    };
    // A successful answer may hold tokens: its text never goes into an error.
    let raw: RawTokenResponse = serde_json::from_slice(body).map_err(|error| {
        malformed(match error.classify() {
            serde_json::error::Category::Data => format!(
                "unexpected JSON shape at line {} column {}",
                error.line(),
                error.column()
            ),
            _ if body.trim_ascii_start().starts_with(b"<") => {
                format!("the body is an HTML page of {} bytes, not JSON", body.len())
            }
            _ => format!("the body of {} bytes is not JSON", body.len()),
        })
    })?;

    let access_token = raw
        .access_token
        .filter(|token| !token.is_empty())
        .ok_or_else(|| malformed("no `access_token`".to_owned()))?;
    if let Some(kind) = raw
        .token_type
        .filter(|kind| !kind.eq_ignore_ascii_case("bearer"))
    {
        return Err(malformed(format!(
            "token type `{kind}` instead of `Bearer`"
        )));
    }
    let expires_in = expires_in(raw.expires_in.as_ref()).map_err(malformed)?;

    Ok(TokenResponse {
        access_token: access_token.into(),
        expires_at: now + TimeDelta::seconds(expires_in),
        lifetime: TimeDelta::seconds(expires_in),
        refresh_token: raw
            .refresh_token
            .filter(|token| !token.is_empty())
            .map(SecretString::from),
        scopes: raw.scope.map(|scope| scope.parse().unwrap_or_default()),
    })
}

/// `expires_in` as a whole number of seconds, sent as a number or a numeric string.
fn expires_in(value: Option<&serde_json::Value>) -> Result<i64, String> {
    let seconds = match value {
        None | Some(serde_json::Value::Null) => return Ok(DEFAULT_EXPIRES_IN),
        Some(serde_json::Value::Number(number)) => number.as_f64(),
        Some(serde_json::Value::String(text)) => text.trim().parse::<f64>().ok(),
        Some(_) => None,
    };
    match seconds {
        // Fractions are cut off: expiring a little early is the safe side.
        Some(seconds) if seconds >= 1.0 && seconds <= MAX_EXPIRES_IN as f64 => Ok(seconds as i64),
        Some(seconds) => Err(format!(
            "`expires_in` of {seconds} seconds is not between 1 and {MAX_EXPIRES_IN}"
        )),
        None => Err("`expires_in` is not a number of seconds".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret as _;

    use super::*;

    fn parse(body: &str) -> Result<TokenResponse> {
        parse_token_response(
            GrantType::RefreshToken,
            StatusCode::OK,
            body.as_bytes(),
            Utc::now(),
        )
    }

    #[test]
    fn expires_in_as_number_or_string() {
        let now = Utc::now();
        for body in [
            r#"{"access_token":"a","expires_in":3600}"#,
            r#"{"access_token":"a","expires_in":"3600"}"#,
            r#"{"access_token":"a","expires_in":3600.0}"#,
        ] {
            let answer = parse_token_response(
                GrantType::RefreshToken,
                StatusCode::OK,
                body.as_bytes(),
                now,
            )
            .unwrap();
            assert_eq!(answer.expires_at, now + TimeDelta::seconds(3600), "{body}");
        }
    }

    #[test]
    fn absurd_expiry_is_refused() {
        for value in ["-5", "0", "\"soon\"", "1e12", "true"] {
            let body = format!(r#"{{"access_token":"a","expires_in":{value}}}"#);
            assert!(
                matches!(parse(&body), Err(Error::MalformedTokenResponse { .. })),
                "{value}"
            );
        }
    }

    #[test]
    fn token_type_is_compared_without_case() {
        assert!(parse(r#"{"access_token":"a","token_type":"bearer"}"#).is_ok());
        assert!(parse(r#"{"access_token":"a","token_type":"MAC"}"#).is_err());
    }

    #[test]
    fn extra_fields_are_ignored_and_empty_refresh_token_is_none() {
        let answer =
            parse(r#"{"access_token":"a","refresh_token":"","id_token":"x","scope":"streaming"}"#)
                .unwrap();
        assert_eq!(answer.access_token.expose_secret(), "a");
        assert!(answer.refresh_token.is_none());
        assert_eq!(answer.scopes.unwrap().to_string(), "streaming");
    }

    #[test]
    fn no_access_token_or_no_json_is_an_error() {
        assert!(parse("{}").is_err());
        assert!(parse(r#"{"access_token":""}"#).is_err());
        assert!(parse("<html>ok</html>").is_err());
        assert!(parse("[1,2]").is_err());
    }

    #[test]
    fn a_body_that_is_almost_json_is_not_quoted() {
        let body = r#"{"access_token":"SECRET-A","refresh_token":"SECRET-R"} trailing"#;
        let Err(error) = parse(body) else {
            panic!("trailing bytes must be refused");
        };
        let text = format!("{error} {error:?}");
        assert!(!text.contains("SECRET"), "{text}");
        let Err(error) = parse(r#"{"access_token":"SECRET-A","expires_in":{"x":1}}"#) else {
            panic!("an object as `expires_in` must be refused");
        };
        assert!(!format!("{error} {error:?}").contains("SECRET"));
    }
}
