//! The application's client credentials and where they come from.

use std::fmt;

use secrecy::{ExposeSecret as _, SecretString};

use crate::error::{Error, Result};

/// The environment variable [`Credentials::from_env`] reads the client id from.
pub const ENV_CLIENT_ID: &str = "SPOTIFY_CLIENT_ID";
/// The environment variable [`Credentials::from_env`] reads the client secret from.
pub const ENV_CLIENT_SECRET: &str = "SPOTIFY_CLIENT_SECRET";
/// The environment variable [`Credentials::from_env`] reads the redirect URI from.
pub const ENV_REDIRECT_URI: &str = "SPOTIFY_REDIRECT_URI";

/// The client id, the optional client secret and the optional redirect URI of an app
/// registered in Spotify's developer dashboard.
///
/// A confidential client (a server that can keep a secret) is made with
/// [`Credentials::new`]; a public client (a desktop or mobile app that uses PKCE) with
/// [`Credentials::public`]. The redirect URI is needed by the two authorization-code flows
/// only; it is checked against Spotify's rules when the session is built.
///
/// `Debug` shows the client id and the redirect URI, never the secret.
///
/// ```
/// use spotify_session::Credentials;
///
/// let credentials = Credentials::new("my-client-id", "my-client-secret")
///     .redirect_uri("http://127.0.0.1:8888/callback");
/// assert_eq!(credentials.client_id(), "my-client-id");
/// assert!(!format!("{credentials:?}").contains("my-client-secret"));
/// ```
#[derive(Clone)]
pub struct Credentials {
    client_id: String,
    client_secret: Option<SecretString>,
    redirect_uri: Option<String>,
}

impl Credentials {
    /// Credentials of a confidential client: a client id and its secret.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<SecretString>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: Some(client_secret.into()),
            redirect_uri: None,
        }
    }

    /// Credentials of a public client, which has no secret and proves itself with PKCE.
    pub fn public(client_id: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: None,
            redirect_uri: None,
        }
    }

    /// Reads `SPOTIFY_CLIENT_ID`, and `SPOTIFY_CLIENT_SECRET` and `SPOTIFY_REDIRECT_URI`
    /// when they are set.
    ///
    /// Without `SPOTIFY_CLIENT_SECRET` the credentials are those of a public client. A
    /// variable that is set but empty counts as unset.
    ///
    /// # Errors
    ///
    /// [`Error::MissingEnvVar`] when `SPOTIFY_CLIENT_ID` is unset or empty, and
    /// [`Error::InvalidEnvVar`] when a variable holds text that is not Unicode.
    pub fn from_env() -> Result<Self> {
        let client_id = env_var(ENV_CLIENT_ID)?.ok_or(Error::MissingEnvVar {
            name: ENV_CLIENT_ID,
        })?;
        let mut credentials = match env_var(ENV_CLIENT_SECRET)? {
            Some(secret) => Self::new(client_id, secret),
            None => Self::public(client_id),
        };
        credentials.redirect_uri = env_var(ENV_REDIRECT_URI)?;
        Ok(credentials)
    }

    /// Sets the redirect URI, exactly as registered in the dashboard.
    #[must_use]
    pub fn redirect_uri(mut self, redirect_uri: impl Into<String>) -> Self {
        self.redirect_uri = Some(redirect_uri.into());
        self
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The client secret, `None` for a public client.
    pub fn client_secret(&self) -> Option<&SecretString> {
        self.client_secret.as_ref()
    }

    pub(crate) fn into_parts(self) -> (String, Option<SecretString>, Option<String>) {
        (self.client_id, self.client_secret, self.redirect_uri)
    }

    /// Builds credentials from parts that may each be absent, as a config struct holds
    /// them. Used by `#[derive(SpotifyCredentials)]`. An empty secret or redirect URI
    /// counts as absent, as in [`Credentials::from_env`]: a config loader reading an
    /// unset variable as `""` must not turn a public client into a confidential one.
    #[doc(hidden)]
    pub fn from_parts(
        client_id: String,
        client_secret: Option<SecretString>,
        redirect_uri: Option<String>,
    ) -> Self {
        Self {
            client_id,
            client_secret: client_secret.filter(|secret| !secret.expose_secret().is_empty()),
            redirect_uri: redirect_uri.filter(|uri| !uri.is_empty()),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("redirect_uri", &self.redirect_uri)
            .finish()
    }
}

fn env_var(name: &'static str) -> Result<Option<String>> {
    match std::env::var(name) {
        Ok(value) if value.is_empty() => Ok(None),
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(Error::InvalidEnvVar { name }),
    }
}

/// Anything that can give the credentials of a Spotify app: [`Credentials`] itself, or a
/// service's own config struct with `#[derive(SpotifyCredentials)]`.
///
/// [`Session::builder`](crate::Session::builder) takes any implementor, by value or by
/// reference, so a config struct is passed as `Session::builder(&config)`.
pub trait SpotifyCredentials {
    /// The credentials this value holds.
    fn credentials(&self) -> Credentials;
}

impl SpotifyCredentials for Credentials {
    fn credentials(&self) -> Credentials {
        self.clone()
    }
}

impl<T: SpotifyCredentials + ?Sized> SpotifyCredentials for &T {
    fn credentials(&self) -> Credentials {
        (**self).credentials()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_parts_count_as_absent() {
        let credentials = Credentials::from_parts("id".into(), Some("".into()), Some("".into()));
        assert!(credentials.client_secret().is_none());
        assert!(credentials.redirect_uri.is_none());
        let credentials = Credentials::from_parts("id".into(), Some("s".into()), None);
        assert!(credentials.client_secret().is_some());
    }
}
