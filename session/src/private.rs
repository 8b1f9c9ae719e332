//! Support for the code `#[derive(SpotifyCredentials)]` generates. Not a public API: it
//! changes with the derive, which is pinned to this crate's exact version.
//!
//! Each trait turns one accepted field type into its part of [`Credentials`]. The derive
//! calls them as `<FieldType as Trait>::method(&self.field)`, spanned at the field's type,
//! so a type outside the list fails there with the message below.
//!
//! [`Credentials`]: crate::Credentials

use std::borrow::Cow;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

/// A field type that can hold the client id.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot hold the client id of `#[derive(SpotifyCredentials)]`",
    label = "unsupported type for the client id",
    note = "the client id is a `String`, `&str`, `Box<str>`, `Cow<str>` or `SecretString`, \
            and it is required, so it is never an `Option`"
)]
pub trait ClientIdField {
    /// The client id.
    fn to_client_id(&self) -> String;
}

/// A field type that can hold the client secret.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot hold the client secret of `#[derive(SpotifyCredentials)]`",
    label = "unsupported type for the client secret",
    note = "the client secret is a `String`, `&str`, `Box<str>`, `Cow<str>` or `SecretString`, \
            or an `Option` of one of them for a public (PKCE) client"
)]
pub trait ClientSecretField {
    /// The client secret, `None` for a public client.
    fn to_client_secret(&self) -> Option<SecretString>;
}

/// A field type that can hold the redirect URI.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot hold the redirect URI of `#[derive(SpotifyCredentials)]`",
    label = "unsupported type for the redirect URI",
    note = "the redirect URI is a `String`, `&str`, `Box<str>`, `Cow<str>`, `SecretString` \
            or `url::Url`, or an `Option` of one of them"
)]
pub trait RedirectUriField {
    /// The redirect URI, `None` when the config has none.
    fn to_redirect_uri(&self) -> Option<String>;
}

/// The impls for plain text types, which all read as `&str`.
macro_rules! text_fields {
    ($($ty:ty),* $(,)?) => {$(
        impl ClientIdField for $ty {
            fn to_client_id(&self) -> String {
                AsRef::<str>::as_ref(self).to_owned()
            }
        }

        impl ClientSecretField for $ty {
            fn to_client_secret(&self) -> Option<SecretString> {
                Some(SecretString::from(AsRef::<str>::as_ref(self)))
            }
        }

        impl ClientSecretField for Option<$ty> {
            fn to_client_secret(&self) -> Option<SecretString> {
                self.as_ref().and_then(ClientSecretField::to_client_secret)
            }
        }
    )*};
}

/// The redirect URI impls for types that read as `&str`.
macro_rules! redirect_uri_fields {
    ($($ty:ty),* $(,)?) => {$(
        impl RedirectUriField for $ty {
            fn to_redirect_uri(&self) -> Option<String> {
                Some(AsRef::<str>::as_ref(self).to_owned())
            }
        }

        impl RedirectUriField for Option<$ty> {
            fn to_redirect_uri(&self) -> Option<String> {
                self.as_ref().and_then(RedirectUriField::to_redirect_uri)
            }
        }
    )*};
}

text_fields!(String, &str, Box<str>, Cow<'_, str>);
redirect_uri_fields!(String, &str, Box<str>, Cow<'_, str>, Url);

// A client id is not a secret: a config that loads every credential as a `SecretString`
// may hold it that way, and it is exposed here, once, into `Credentials`.
impl ClientIdField for SecretString {
    fn to_client_id(&self) -> String {
        self.expose_secret().to_owned()
    }
}

impl ClientSecretField for SecretString {
    fn to_client_secret(&self) -> Option<SecretString> {
        Some(self.clone())
    }
}

impl ClientSecretField for Option<SecretString> {
    fn to_client_secret(&self) -> Option<SecretString> {
        self.clone()
    }
}

impl RedirectUriField for SecretString {
    fn to_redirect_uri(&self) -> Option<String> {
        Some(self.expose_secret().to_owned())
    }
}

impl RedirectUriField for Option<SecretString> {
    fn to_redirect_uri(&self) -> Option<String> {
        self.as_ref().and_then(RedirectUriField::to_redirect_uri)
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use secrecy::{ExposeSecret, SecretString};
    use url::Url;

    use super::{ClientIdField, ClientSecretField, RedirectUriField};

    fn exposed(secret: Option<SecretString>) -> Option<String> {
        secret.map(|secret| secret.expose_secret().to_owned())
    }

    #[test]
    fn every_text_type_gives_the_client_id() {
        let id = "b777292af0def22f9257991fc770b520";
        assert_eq!(String::from(id).to_client_id(), id);
        assert_eq!(id.to_client_id(), id);
        assert_eq!(Box::<str>::from(id).to_client_id(), id);
        assert_eq!(Cow::Borrowed(id).to_client_id(), id);
        assert_eq!(SecretString::from(id).to_client_id(), id);
    }

    #[test]
    fn a_secret_is_present_or_absent() {
        let secret = "6a0419f43d0aa93b2ae881429b6b9bc2";
        let present = [
            String::from(secret).to_client_secret(),
            secret.to_client_secret(),
            Box::<str>::from(secret).to_client_secret(),
            Cow::Borrowed(secret).to_client_secret(),
            SecretString::from(secret).to_client_secret(),
            Some(SecretString::from(secret)).to_client_secret(),
            Some(secret).to_client_secret(),
        ];
        for part in present {
            assert_eq!(exposed(part).as_deref(), Some(secret));
        }
        assert_eq!(exposed(None::<String>.to_client_secret()), None);
        assert_eq!(exposed(None::<SecretString>.to_client_secret()), None);
    }

    #[test]
    fn a_redirect_uri_is_text_or_a_url() {
        let uri = "http://127.0.0.1:8888/callback";
        let expected = Some(uri.to_owned());
        assert_eq!(String::from(uri).to_redirect_uri(), expected);
        assert_eq!(uri.to_redirect_uri(), expected);
        assert_eq!(Cow::Borrowed(uri).to_redirect_uri(), expected);
        assert_eq!(SecretString::from(uri).to_redirect_uri(), expected);
        let url = Url::parse(uri).expect("a valid URL");
        assert_eq!(url.to_redirect_uri(), expected);
        assert_eq!(Some(url).to_redirect_uri(), expected);
        assert_eq!(None::<Url>.to_redirect_uri(), None);
        assert_eq!(None::<Box<str>>.to_redirect_uri(), None);
    }
}
