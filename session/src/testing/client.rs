//! The client applications registered with the fake.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use url::{Host, Url};

/// An application registered with [`FakeAccounts`](super::FakeAccounts): the fake's
/// counterpart of an app in Spotify's developer dashboard.
///
/// A confidential client has a secret and may use every grant. A public client has none:
/// it must use PKCE for the authorization code and can refresh only the tokens PKCE gave
/// it. Spotify itself has no public apps (every app has a secret, and any app may use
/// PKCE), so a confidential client may use PKCE here too.
#[derive(Clone)]
pub struct FakeClient {
    id: String,
    secret: Option<SecretString>,
    redirect_uris: Vec<String>,
}

impl FakeClient {
    /// A client with a secret.
    pub fn confidential(id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            secret: Some(SecretString::from(secret.into())),
            redirect_uris: Vec::new(),
        }
    }

    /// A client without a secret, which must use PKCE.
    pub fn public(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            secret: None,
            redirect_uris: Vec::new(),
        }
    }

    /// Registers one more redirect URI. `/authorize` and `/api/token` accept it only when
    /// it is sent again letter for letter, as Spotify does.
    ///
    /// [`FakeAccountsBuilder::start`](super::FakeAccountsBuilder::start) refuses a URI that
    /// Spotify's dashboard refuses: `http` other than on `127.0.0.1` or `[::1]`
    /// (`localhost` included), a relative URI, or one with a fragment.
    #[must_use]
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uris.push(uri.into());
        self
    }

    /// The client id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether the client has no secret.
    pub fn is_public(&self) -> bool {
        self.secret.is_none()
    }

    /// The registered redirect URIs, in the order given.
    pub fn redirect_uris(&self) -> &[String] {
        &self.redirect_uris
    }

    /// Whether `uri` is one of the registered redirect URIs, exactly.
    pub(crate) fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris
            .iter()
            .any(|registered| registered == uri)
    }

    /// Whether `secret` is this client's secret, compared in constant time. Always false
    /// for a public client.
    pub(crate) fn secret_matches(&self, secret: &str) -> bool {
        self.secret.as_ref().is_some_and(|own| {
            own.expose_secret()
                .as_bytes()
                .ct_eq(secret.as_bytes())
                .into()
        })
    }

    /// The first redirect URI that Spotify's dashboard would refuse, with the reason.
    pub(crate) fn refused_redirect_uri(&self) -> Option<(&str, &'static str)> {
        self.redirect_uris.iter().find_map(|uri| {
            check_redirect_uri(uri)
                .err()
                .map(|reason| (uri.as_str(), reason))
        })
    }
}

impl fmt::Debug for FakeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeClient")
            .field("id", &self.id)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("redirect_uris", &self.redirect_uris)
            .finish()
    }
}

/// Spotify's rules for a redirect URI (see `SPOTIFY.md`, "Redirect URI rules").
fn check_redirect_uri(uri: &str) -> Result<(), &'static str> {
    let url = Url::parse(uri).map_err(|_| "it is not an absolute URI")?;
    if url.fragment().is_some() {
        return Err("it has a fragment");
    }
    if url.scheme() != "http" {
        // `https` and custom schemes (`myapp://callback`) are accepted.
        return Ok(());
    }
    match url.host() {
        Some(Host::Ipv4(ip)) if ip == Ipv4Addr::LOCALHOST => Ok(()),
        Some(Host::Ipv6(ip)) if ip == Ipv6Addr::LOCALHOST => Ok(()),
        Some(Host::Domain(domain)) if domain.eq_ignore_ascii_case("localhost") => {
            Err("`localhost` is refused, use `127.0.0.1` or `[::1]`")
        }
        _ => Err("`http` is allowed only on `127.0.0.1` and `[::1]`"),
    }
}
