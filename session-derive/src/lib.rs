//! The `#[derive(SpotifyCredentials)]` macro of
//! [spotify-session](https://docs.rs/spotify-session).
//!
//! Use it through spotify-session, which re-exports it with its default `derive` feature:
//! `use spotify_session::SpotifyCredentials;` brings in the trait and the derive at once.
//! The two crates are released together and pinned to each other's exact version.

mod attr;
mod check;
mod errors;
mod expand;
mod parse;
mod ty;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Implements `SpotifyCredentials` for a config struct, so that a service passes its own
/// configuration to `Session::builder(&config)`.
///
/// The struct needs named fields. Each part of the credentials comes from one field: the
/// field named after the part, or the field marked with the part's `#[spotify(..)]` key.
/// Every other field is ignored, and generic parameters and lifetimes are allowed.
///
/// | part | field | field type |
/// | --- | --- | --- |
/// | client id (required) | `client_id` or `#[spotify(client_id)]` | text |
/// | client secret | `client_secret` or `#[spotify(client_secret)]` | text, or an `Option` |
/// | redirect URI | `redirect_uri` or `#[spotify(redirect_uri)]` | text or `Url`, or an `Option` |
///
/// Text is any of `String`, `&str`, `Box<str>`, `Cow<str>` and `secrecy::SecretString`, and
/// `Url` is `url::Url`. The client secret is missing (or `None`) for a public client, which
/// uses PKCE; the redirect URI for a service that only uses the client-credentials grant.
///
/// A `SecretString` client id or redirect URI is accepted, for configs that load every
/// credential that way; neither is a secret, though, and the `Credentials` made from them
/// show both in `Debug`. The client secret stays a `SecretString` all the way.
///
/// `credentials()` copies the parts out of the struct on each call.
///
/// # Attributes
///
/// On a field:
///
/// - `#[spotify(client_id)]`: this field holds the client id.
/// - `#[spotify(client_secret)]`: this field holds the client secret.
/// - `#[spotify(redirect_uri)]`: this field holds the redirect URI.
///
/// A marked field takes its part even when another part is its name. On the struct:
///
/// - `#[spotify(crate = "path")]`: the path of spotify-session, for a crate that renamed
///   the dependency in its `Cargo.toml` or re-exports it (default `::spotify_session`).
///
/// # Compile errors
///
/// Each points at the code to change, and one build reports all of them: a struct without
/// a client id, two fields for one part, an unknown key or a key given a value in
/// `#[spotify(..)]`, a field type outside the list above (reported at the type), and the
/// derive on an enum, a union, a tuple struct or a unit struct.
///
/// # Examples
///
/// Fields found by their names, with a public client's missing secret as an `Option`:
///
/// ```
/// use spotify_session::{Session, SpotifyCredentials};
///
/// #[derive(SpotifyCredentials)]
/// struct Config {
///     client_id: String,
///     client_secret: Option<String>,
///     redirect_uri: String,
///     listen_port: u16,
/// }
///
/// # fn main() -> Result<(), spotify_session::Error> {
/// let config = Config {
///     client_id: "my-client-id".to_owned(),
///     client_secret: None,
///     redirect_uri: "http://127.0.0.1:8888/callback".to_owned(),
///     listen_port: 8888,
/// };
/// assert!(config.credentials().client_secret().is_none());
/// let session = Session::builder(&config).build()?;
/// # drop(session);
/// # Ok(())
/// # }
/// ```
///
/// Fields with other names, marked with `#[spotify(..)]`, and a `SecretString` secret:
///
/// ```
/// use spotify_session::{SecretString, SpotifyCredentials};
///
/// #[derive(SpotifyCredentials)]
/// struct SpotifyConfig {
///     #[spotify(client_id)]
///     app_id: String,
///     #[spotify(client_secret)]
///     app_secret: SecretString,
///     #[spotify(redirect_uri)]
///     callback: Box<str>,
/// }
///
/// let config = SpotifyConfig {
///     app_id: "my-client-id".to_owned(),
///     app_secret: SecretString::from("my-client-secret"),
///     callback: "https://example.com/callback".into(),
/// };
/// let credentials = config.credentials();
/// assert_eq!(credentials.client_id(), "my-client-id");
/// assert!(credentials.client_secret().is_some());
/// assert!(!format!("{credentials:?}").contains("my-client-secret"));
/// ```
///
/// Borrowed and generic fields:
///
/// ```
/// use std::borrow::Cow;
///
/// use spotify_session::SpotifyCredentials;
///
/// #[derive(SpotifyCredentials)]
/// struct Borrowed<'a, S> {
///     client_id: &'a str,
///     client_secret: Option<S>,
///     redirect_uri: Cow<'a, str>,
/// }
///
/// let config = Borrowed {
///     client_id: "my-client-id",
///     client_secret: Some(String::from("my-client-secret")),
///     redirect_uri: Cow::Borrowed("http://127.0.0.1:8888/callback"),
/// };
/// assert_eq!(config.credentials().client_id(), "my-client-id");
/// ```
///
/// A renamed dependency, here a `use` of spotify-session under another name:
///
/// ```
/// use spotify_session as spotify;
/// use spotify::SpotifyCredentials as _;
///
/// #[derive(spotify::SpotifyCredentials)]
/// #[spotify(crate = "spotify")]
/// struct Config {
///     client_id: String,
/// }
///
/// let config = Config { client_id: "my-client-id".to_owned() };
/// assert_eq!(config.credentials().client_id(), "my-client-id");
/// ```
#[proc_macro_derive(SpotifyCredentials, attributes(spotify))]
pub fn derive_spotify_credentials(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
