//! The authorize URL, PKCE, and the callback that comes back from it.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng as _;
use rand::distr::Alphanumeric;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use url::Url;

use crate::error::{Error, Result};
use crate::scope::{Scope, Scopes};

const VERIFIER_LEN: usize = 64;
const STATE_LEN: usize = 32;

/// A PKCE code verifier (RFC 7636): the secret a public client keeps between sending the
/// user to `/authorize` and exchanging the code.
///
/// `Debug` never shows it.
///
/// ```
/// use spotify_session::PkceVerifier;
///
/// let verifier = PkceVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")?;
/// assert_eq!(verifier.challenge(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
/// # Ok::<(), spotify_session::Error>(())
/// ```
#[derive(Clone)]
pub struct PkceVerifier(SecretString);

impl PkceVerifier {
    /// A fresh verifier: 64 characters drawn from the operating system's cryptographic
    /// random source (through `rand`'s thread-local generator).
    pub fn generate() -> Self {
        Self(random_text(VERIFIER_LEN).into())
    }

    /// A verifier from text kept elsewhere.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPkceVerifier`] when the text is not 43 to 128 characters from
    /// `A-Z a-z 0-9 - . _ ~`.
    pub fn new(verifier: impl Into<String>) -> Result<Self> {
        let verifier = verifier.into();
        if !(43..=128).contains(&verifier.len()) {
            return Err(Error::InvalidPkceVerifier {
                reason: "it must be 43 to 128 characters long",
            });
        }
        let unreserved = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~');
        if !verifier.chars().all(unreserved) {
            return Err(Error::InvalidPkceVerifier {
                reason: "it may only hold `A-Z a-z 0-9 - . _ ~`",
            });
        }
        Ok(Self(verifier.into()))
    }

    /// The S256 code challenge: base64url without padding of the verifier's SHA-256.
    pub fn challenge(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.0.expose_secret().as_bytes()))
    }

    /// The verifier itself, to send to the token endpoint.
    pub fn secret(&self) -> &SecretString {
        &self.0
    }
}

impl fmt::Debug for PkceVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PkceVerifier([redacted])")
    }
}

fn random_text(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// What to ask for in the authorize URL.
///
/// ```
/// use spotify_session::{AuthorizeOptions, Scope};
///
/// let options = AuthorizeOptions::new()
///     .scopes([Scope::UserReadEmail, Scope::PlaylistReadPrivate])
///     .show_dialog(true);
/// ```
#[derive(Clone, Default)]
pub struct AuthorizeOptions {
    pub(crate) scopes: Scopes,
    pub(crate) state: Option<String>,
    pub(crate) show_dialog: bool,
    pub(crate) pkce: Option<PkceVerifier>,
}

impl AuthorizeOptions {
    /// No scope, no state, no dialog, no PKCE.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds scopes to ask the user for.
    #[must_use]
    pub fn scopes<I>(mut self, scopes: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<Scope>,
    {
        self.scopes.extend(scopes);
        self
    }

    /// Sets the `state` sent to `/authorize` and expected back on the callback.
    ///
    /// [`Session::begin_authorization`](crate::Session::begin_authorization) draws a random
    /// one when none is set.
    #[must_use]
    pub fn state(mut self, state: impl Into<String>) -> Self {
        self.state = Some(state.into());
        self
    }

    /// Asks Spotify to show the consent dialog even to a user who already agreed.
    #[must_use]
    pub fn show_dialog(mut self, show_dialog: bool) -> Self {
        self.show_dialog = show_dialog;
        self
    }

    /// Adds the S256 challenge of `verifier`, for the PKCE flow.
    #[must_use]
    pub fn pkce(mut self, verifier: &PkceVerifier) -> Self {
        self.pkce = Some(verifier.clone());
        self
    }
}

impl fmt::Debug for AuthorizeOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizeOptions")
            .field("scopes", &self.scopes)
            .field("state", &self.state.as_ref().map(|_| "[redacted]"))
            .field("show_dialog", &self.show_dialog)
            .field("pkce", &self.pkce)
            .finish()
    }
}

/// Writes the query of an authorize URL; every value is percent-encoded once, by `url`.
pub(crate) fn authorize_url(
    base: &Url,
    client_id: &str,
    redirect_uri: &str,
    options: &AuthorizeOptions,
) -> Url {
    let mut url = base.clone();
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("client_id", client_id)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", redirect_uri);
        if !options.scopes.is_empty() {
            query.append_pair("scope", &options.scopes.to_string());
        }
        if let Some(state) = &options.state {
            query.append_pair("state", state);
        }
        if options.show_dialog {
            query.append_pair("show_dialog", "true");
        }
        if let Some(verifier) = &options.pkce {
            query
                .append_pair("code_challenge_method", "S256")
                .append_pair("code_challenge", &verifier.challenge());
        }
    }
    url
}

pub(crate) fn random_state() -> String {
    random_text(STATE_LEN)
}

/// An authorization in progress: the URL to send the user to, and what must be kept
/// until the callback comes back (the `state`, and the PKCE verifier when there is one).
///
/// It serializes with serde, so a web service can keep it in its own server-side session
/// store between the two requests. The serialized form holds the verifier in clear: keep
/// it on the server, never in a cookie the client can read. `Debug` shows neither the
/// state nor the verifier.
#[derive(Clone)]
pub struct PendingAuthorization {
    pub(crate) url: Url,
    pub(crate) state: String,
    pub(crate) verifier: Option<PkceVerifier>,
}

impl PendingAuthorization {
    /// The authorize URL to send the user to.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The `state` the callback must carry back.
    pub fn state(&self) -> &str {
        &self.state
    }

    /// The PKCE verifier, when the flow uses PKCE.
    pub fn verifier(&self) -> Option<&PkceVerifier> {
        self.verifier.as_ref()
    }
}

impl fmt::Debug for PendingAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut url = self.url.clone();
        url.set_query(Some("[redacted]"));
        f.debug_struct("PendingAuthorization")
            .field("url", &url.as_str())
            .field("state", &"[redacted]")
            .field("verifier", &self.verifier)
            .finish()
    }
}

#[derive(Serialize, Deserialize)]
struct PendingWire<'a> {
    url: std::borrow::Cow<'a, str>,
    state: std::borrow::Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    verifier: Option<std::borrow::Cow<'a, str>>,
}

impl Serialize for PendingAuthorization {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        PendingWire {
            url: self.url.as_str().into(),
            state: self.state.as_str().into(),
            verifier: self
                .verifier
                .as_ref()
                .map(|verifier| verifier.0.expose_secret().into()),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for PendingAuthorization {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;

        let wire = PendingWire::deserialize(deserializer)?;
        let url = Url::parse(&wire.url).map_err(D::Error::custom)?;
        let verifier = wire
            .verifier
            .map(|text| PkceVerifier::new(text.into_owned()))
            .transpose()
            .map_err(D::Error::custom)?;
        Ok(Self {
            url,
            state: wire.state.into_owned(),
            verifier,
        })
    }
}

/// What a callback carries once its `state` has been checked.
pub(crate) enum CallbackOutcome {
    Code(SecretString),
    Denied {
        error: String,
        description: Option<String>,
    },
}

/// Reads a callback (the full redirect URL, or its query string) and checks its `state`
/// against the expected one in constant time, before anything else is looked at.
pub(crate) fn read_callback(callback: &str, expected_state: &str) -> Result<CallbackOutcome> {
    let query = match Url::parse(callback) {
        Ok(url) => url.query().unwrap_or_default().to_owned(),
        Err(_) => callback.trim_start_matches('?').to_owned(),
    };
    let mut code = None;
    let mut state = None;
    let mut error = None;
    let mut description = None;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let slot = match key.as_ref() {
            "code" => &mut code,
            "state" => &mut state,
            "error" => &mut error,
            "error_description" => &mut description,
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            return Err(Error::InvalidCallback {
                reason: format!("the parameter `{key}` appears more than once"),
            });
        }
    }

    let state = state.ok_or(Error::MissingState)?;
    if !bool::from(state.as_bytes().ct_eq(expected_state.as_bytes())) {
        return Err(Error::StateMismatch);
    }
    if let Some(error) = error {
        return Ok(CallbackOutcome::Denied { error, description });
    }
    code.filter(|code| !code.is_empty())
        .map(|code| CallbackOutcome::Code(code.into()))
        .ok_or(Error::MissingCode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_verifiers_are_valid_and_distinct() {
        let first = PkceVerifier::generate();
        let second = PkceVerifier::generate();
        assert!(PkceVerifier::new(first.secret().expose_secret()).is_ok());
        assert_ne!(
            first.secret().expose_secret(),
            second.secret().expose_secret()
        );
        assert_eq!(first.challenge().len(), 43);
    }

    #[test]
    fn verifier_rules() {
        assert!(PkceVerifier::new("a".repeat(42)).is_err());
        assert!(PkceVerifier::new("a".repeat(43)).is_ok());
        assert!(PkceVerifier::new("a".repeat(128)).is_ok());
        assert!(PkceVerifier::new("a".repeat(129)).is_err());
        assert!(PkceVerifier::new(format!("{}+", "a".repeat(43))).is_err());
    }

    #[test]
    fn callback_forms() {
        let full = read_callback("http://127.0.0.1:1/cb?code=c&state=s", "s");
        assert!(matches!(full, Ok(CallbackOutcome::Code(_))));
        let bare = read_callback("?code=c&state=s", "s");
        assert!(matches!(bare, Ok(CallbackOutcome::Code(_))));
        let twice = read_callback("code=c&code=d&state=s", "s");
        assert!(matches!(twice, Err(Error::InvalidCallback { .. })));
        let empty_code = read_callback("code=&state=s", "s");
        assert!(matches!(empty_code, Err(Error::MissingCode)));
    }

    #[test]
    fn pending_authorization_round_trips_through_json() {
        let pending = PendingAuthorization {
            url: Url::parse("https://accounts.spotify.com/authorize?client_id=x").unwrap(),
            state: "st".into(),
            verifier: Some(PkceVerifier::generate()),
        };
        let json = serde_json::to_string(&pending).unwrap();
        let back: PendingAuthorization = serde_json::from_str(&json).unwrap();
        assert_eq!(back.url, pending.url);
        assert_eq!(back.state, pending.state);
        assert_eq!(
            back.verifier.unwrap().secret().expose_secret(),
            pending.verifier.unwrap().secret().expose_secret()
        );
    }
}
