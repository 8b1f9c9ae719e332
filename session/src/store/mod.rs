//! Where a grant is kept between runs: the [`TokenStore`] trait and the two stores that
//! ship, [`MemoryStore`] and [`FileStore`].

mod file;
mod memory;

use std::fmt;
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::scope::Scopes;

pub use self::file::FileStore;
pub use self::memory::MemoryStore;

/// The version of the JSON form written by [`StoredToken::to_json`].
const FORMAT_VERSION: u32 = 1;

/// A grant as a [`TokenStore`] keeps it: the access token, its absolute expiry, the scopes
/// granted and, for a user's grant, the refresh token.
///
/// Made by [`Session::stored_token`](crate::Session::stored_token) and turned back into a
/// session without a request by [`Session::restore`](crate::Session::restore) or
/// [`Session::restore_credentials_token`](crate::Session::restore_credentials_token). An
/// expired access token is kept as it is: the refresh token still renews it.
///
/// It holds secrets. `Debug` shows none, and it implements neither `Display` nor
/// `Serialize`: the JSON form comes only from [`to_json`](Self::to_json), by name, and is
/// itself a secret.
#[derive(Clone)]
pub struct StoredToken {
    pub(crate) access_token: SecretString,
    pub(crate) refresh_token: Option<SecretString>,
    pub(crate) scopes: Scopes,
    pub(crate) expires_at: DateTime<Utc>,
}

/// The JSON form, written. Borrowed secrets are exposed only while it is serialized.
#[derive(Serialize)]
struct JsonOut<'a> {
    version: u32,
    access_token: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    scope: &'a Scopes,
    expires_at: DateTime<Utc>,
}

/// The JSON form, read.
#[derive(Deserialize)]
struct JsonIn {
    version: u32,
    access_token: String,
    refresh_token: Option<String>,
    #[serde(default)]
    scope: Scopes,
    expires_at: DateTime<Utc>,
}

impl StoredToken {
    /// A stored token without refresh token and without scopes.
    pub fn new(access_token: impl Into<SecretString>, expires_at: DateTime<Utc>) -> Self {
        Self {
            access_token: access_token.into(),
            refresh_token: None,
            scopes: Scopes::new(),
            expires_at,
        }
    }

    /// Adds the refresh token of a user's grant.
    #[must_use]
    pub fn with_refresh_token(mut self, refresh_token: impl Into<SecretString>) -> Self {
        self.refresh_token = Some(refresh_token.into());
        self
    }

    /// Sets the scopes granted.
    #[must_use]
    pub fn with_scopes(mut self, scopes: Scopes) -> Self {
        self.scopes = scopes;
        self
    }

    /// The access token.
    pub fn access_token(&self) -> &SecretString {
        &self.access_token
    }

    /// The refresh token; `None` for the client-credentials grant.
    pub fn refresh_token(&self) -> Option<&SecretString> {
        self.refresh_token.as_ref()
    }

    /// The scopes granted.
    pub fn scopes(&self) -> &Scopes {
        &self.scopes
    }

    /// When the access token expires.
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }

    /// The JSON form [`FileStore`] writes, for a store of your own: an object with
    /// `version` (1), `access_token`, `refresh_token` (absent for client credentials),
    /// `scope` (space-separated) and `expires_at` (RFC 3339). It holds the tokens in
    /// clear, hence the `SecretString`.
    pub fn to_json(&self) -> SecretString {
        let out = JsonOut {
            version: FORMAT_VERSION,
            access_token: self.access_token.expose_secret(),
            refresh_token: self.refresh_token.as_ref().map(ExposeSecret::expose_secret),
            scope: &self.scopes,
            expires_at: self.expires_at,
        };
        // Serializing strings, a string list and a time into JSON cannot fail.
        serde_json::to_string_pretty(&out)
            .unwrap_or_default()
            .into()
    }

    /// Reads the JSON form of [`to_json`](Self::to_json).
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] for text that is not that JSON, lacks a field, or has a
    /// version other than 1.
    pub fn from_json(json: &[u8]) -> Result<Self, StoreError> {
        let corrupt = |source: serde_json::Error| StoreError::Corrupt {
            path: None,
            source: Arc::new(source),
        };
        let raw: JsonIn = serde_json::from_slice(json).map_err(corrupt)?;
        if raw.version != FORMAT_VERSION {
            let message = format!(
                "unsupported version {}, expected {FORMAT_VERSION}",
                raw.version
            );
            return Err(corrupt(serde::de::Error::custom(message)));
        }
        Ok(Self {
            access_token: raw.access_token.into(),
            refresh_token: raw.refresh_token.map(SecretString::from),
            scopes: raw.scope,
            expires_at: raw.expires_at,
        })
    }
}

impl fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredToken")
            .field("access_token", &"[redacted]")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("scopes", &self.scopes)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Why a [`TokenStore`] failed. Cheap to clone, so that every task waiting for a renewal
/// gets it; it holds no secret.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The file exists but cannot be read.
    #[error("could not read the token file `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system reported.
        #[source]
        source: Arc<io::Error>,
    },

    /// The file could not be written, synced, renamed or removed. The file in place, if
    /// any, is the one from before.
    #[error("could not write the token file `{}`", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// What the operating system reported.
        #[source]
        source: Arc<io::Error>,
    },

    /// The stored text is not a stored token.
    #[error(
        "the stored token{} is corrupt",
        path.as_ref().map(|path| format!(" in `{}`", path.display())).unwrap_or_default()
    )]
    Corrupt {
        /// The file, for a [`FileStore`].
        path: Option<PathBuf>,
        /// What is wrong, with its line and column.
        #[source]
        source: Arc<serde_json::Error>,
    },

    /// A stored token without refresh token cannot restore a user's grant.
    #[error("the stored token has no refresh token, so it cannot restore a user's grant")]
    MissingRefreshToken,

    /// A store of your own failed.
    #[error("the token store failed")]
    Other(#[source] Arc<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// Wraps the error of a store of your own.
    pub fn other(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Other(Arc::from(error.into()))
    }
}

/// Keeps a grant between runs.
///
/// A [`SharedSession`](crate::SharedSession) calls [`save`](Self::save) after every
/// successful token request, with the merged token, before it hands the new access token
/// out (after a failed save, again on each later call until one succeeds), and
/// [`clear`](Self::clear) when the refresh token is refused with `invalid_grant`:
/// a store that holds nothing then means "send the user through authorization". Loading
/// is the application's move, at start: [`load`](Self::load), then
/// [`Session::restore`](crate::Session::restore).
///
/// The methods are `async fn`s whose futures are `Send`, so an implementation is written
/// with plain `async fn`. The trait is therefore not object safe; the session erases the
/// store's type itself, so none of its own types is generic over the store. One store
/// holds one grant, and only one process should write it. A store should fail rather than
/// panic: a panic while saving abandons the renewal, whose waiting tasks get
/// [`Error::RenewalAbandoned`](crate::Error::RenewalAbandoned); the new token is kept in
/// memory all the same and saved again on the next call.
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Arc;
/// use spotify_session::{StoreError, StoredToken, TokenStore};
/// use tokio::sync::Mutex;
///
/// /// Keeps the JSON form in a map, as a key-value database would.
/// #[derive(Debug, Default)]
/// struct MapStore(Arc<Mutex<HashMap<&'static str, String>>>);
///
/// impl TokenStore for MapStore {
///     async fn load(&self) -> Result<Option<StoredToken>, StoreError> {
///         let map = self.0.lock().await;
///         map.get("grant")
///             .map(|json| StoredToken::from_json(json.as_bytes()))
///             .transpose()
///     }
///
///     async fn save(&self, token: &StoredToken) -> Result<(), StoreError> {
///         use spotify_session::ExposeSecret as _;
///         let json = token.to_json().expose_secret().to_owned();
///         self.0.lock().await.insert("grant", json);
///         Ok(())
///     }
///
///     async fn clear(&self) -> Result<(), StoreError> {
///         self.0.lock().await.remove("grant");
///         Ok(())
///     }
/// }
/// ```
pub trait TokenStore: Send + Sync + 'static {
    /// The stored grant; `None` when nothing is stored. An expired access token is
    /// returned as stored.
    ///
    /// # Errors
    ///
    /// When what is stored cannot be read or is corrupt: never `Ok(None)` in that case.
    fn load(&self) -> impl Future<Output = Result<Option<StoredToken>, StoreError>> + Send;

    /// Stores `token` in place of what was stored.
    ///
    /// # Errors
    ///
    /// When it cannot be stored; what was stored before must then still be there.
    fn save(&self, token: &StoredToken) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes the stored grant, because it can no longer be used.
    ///
    /// # Errors
    ///
    /// When it cannot be removed.
    fn clear(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

impl<T: TokenStore> TokenStore for Arc<T> {
    fn load(&self) -> impl Future<Output = Result<Option<StoredToken>, StoreError>> + Send {
        T::load(self)
    }

    fn save(&self, token: &StoredToken) -> impl Future<Output = Result<(), StoreError>> + Send {
        T::save(self, token)
    }

    fn clear(&self) -> impl Future<Output = Result<(), StoreError>> + Send {
        T::clear(self)
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A [`TokenStore`] with its type erased, as the session keeps it.
pub(crate) trait DynStore: Send + Sync {
    fn save<'a>(&'a self, token: &'a StoredToken) -> BoxFuture<'a, Result<(), StoreError>>;
    fn clear(&self) -> BoxFuture<'_, Result<(), StoreError>>;
}

impl<T: TokenStore> DynStore for T {
    fn save<'a>(&'a self, token: &'a StoredToken) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(TokenStore::save(self, token))
    }

    fn clear(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(TokenStore::clear(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> StoredToken {
        StoredToken::new("access-secret", "2026-05-01T10:00:00Z".parse().unwrap())
            .with_refresh_token("refresh-secret")
            .with_scopes("user-read-email streaming".parse().unwrap())
    }

    #[test]
    fn json_round_trip() {
        let json = sample().to_json();
        let back = StoredToken::from_json(json.expose_secret().as_bytes()).unwrap();
        assert_eq!(back.access_token().expose_secret(), "access-secret");
        assert_eq!(
            back.refresh_token().map(ExposeSecret::expose_secret),
            Some("refresh-secret")
        );
        assert_eq!(back.scopes().to_string(), "streaming user-read-email");
        assert_eq!(back.expires_at(), sample().expires_at());
    }

    #[test]
    fn client_credentials_have_no_refresh_token_field() {
        let token = StoredToken::new("a", Utc::now());
        let json = token.to_json();
        assert!(!json.expose_secret().contains("refresh_token"));
        let back = StoredToken::from_json(json.expose_secret().as_bytes()).unwrap();
        assert!(back.refresh_token().is_none());
    }

    #[test]
    fn wrong_version_or_shape_is_corrupt() {
        let json = sample()
            .to_json()
            .expose_secret()
            .replace("\"version\": 1", "\"version\": 2");
        let error = StoredToken::from_json(json.as_bytes()).unwrap_err();
        assert!(matches!(error, StoreError::Corrupt { .. }), "{error:?}");
        assert!(
            std::error::Error::source(&error)
                .unwrap()
                .to_string()
                .contains("version 2")
        );
        for text in ["", "{", "[]", r#"{"version":1}"#, "access_token=a"] {
            assert!(StoredToken::from_json(text.as_bytes()).is_err(), "{text}");
        }
    }

    #[test]
    fn debug_shows_no_secret() {
        let debug = format!("{:?}", sample());
        assert!(!debug.contains("secret"), "{debug}");
    }
}
