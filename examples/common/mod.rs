//! What the examples share: where their requests go, the browser step, and how a token is
//! shown.
//!
//! With `SPOTIFY_CLIENT_ID` set, the examples talk to Spotify and a person opens the
//! authorize URL. Without it, they talk to a [`FakeAccounts`] started on `127.0.0.1`, and
//! the browser step happens here: a GET of the authorize URL, then a GET of the redirect it
//! answers with, which reaches the example's loopback listener as a browser's would.

#![allow(dead_code, reason = "each example uses a part of this module")]

use std::error::Error;
use std::fmt;
use std::net::{Ipv4Addr, TcpListener};
use std::time::Duration;

use spotify_session::loopback::{Callback, LoopbackListener};
use spotify_session::testing::FakeAccounts;
use spotify_session::{Credentials, HoldsToken, PendingAuthorization, Session};
use url::Url;

/// The made-up client id the examples register with the fake.
pub const CLIENT_ID: &str = "example-client-id";

/// The made-up client secret the examples register with the fake.
pub const CLIENT_SECRET: &str = "example-client-secret";

/// How long a person has to log in and come back to the loopback listener.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// The credentials in `SPOTIFY_CLIENT_ID`, `SPOTIFY_CLIENT_SECRET` and
/// `SPOTIFY_REDIRECT_URI`, or `None` when `SPOTIFY_CLIENT_ID` is unset or empty.
pub fn spotify_credentials() -> spotify_session::Result<Option<Credentials>> {
    match Credentials::from_env() {
        Ok(credentials) => Ok(Some(credentials)),
        Err(spotify_session::Error::MissingEnvVar { .. }) => Ok(None),
        Err(error) => Err(error),
    }
}

/// A loopback redirect URI on a port of `127.0.0.1` that is free now, for the fake.
///
/// The port is released before the example binds it again: another program could take it
/// in between, which only a busy machine makes likely.
pub fn free_redirect_uri() -> std::io::Result<String> {
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port();
    Ok(format!("http://127.0.0.1:{port}/callback"))
}

/// The accounts service an example talks to.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "one value lives for the whole run"
)]
pub enum Accounts {
    /// Spotify's own, with the credentials of the environment.
    Spotify,
    /// A fake started in-process, because `SPOTIFY_CLIENT_ID` is unset.
    Fake(FakeAccounts),
}

impl Accounts {
    /// The base URL, for `SessionBuilder::accounts_url`.
    pub fn url(&self) -> &str {
        match self {
            Self::Spotify => spotify_session::SPOTIFY_ACCOUNTS_URL,
            Self::Fake(fake) => fake.url(),
        }
    }

    /// The browser step: sends the user to the authorize URL of `pending`, and waits on
    /// `listener` for the redirect of `pending` that brings them back.
    pub async fn send_user_to(
        &self,
        pending: &PendingAuthorization,
        listener: LoopbackListener,
    ) -> Result<Callback, Box<dyn Error>> {
        let authorize_url = pending.url();
        let redirect_uri = listener.redirect_uri().clone();
        match self {
            Self::Spotify => {
                println!("    open this URL in your browser:\n\n    {authorize_url}\n");
                println!("    waiting up to five minutes for the redirect to {redirect_uri}");
                Ok(listener.wait_for(pending, LOGIN_TIMEOUT).await?)
            }
            Self::Fake(fake) => {
                let wait = async { Ok(listener.wait_for(pending, LOGIN_TIMEOUT).await?) };
                let (callback, ()) = tokio::try_join!(wait, browse(fake, authorize_url))?;
                println!("    browser step, played by the example: the fake granted the request");
                println!("    the loopback listener on {redirect_uri} received the redirect");
                Ok(callback)
            }
        }
    }
}

impl fmt::Display for Accounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Spotify => write!(f, "Spotify at {}", self.url()),
            Self::Fake(fake) => write!(
                f,
                "FakeAccounts at {} (set SPOTIFY_CLIENT_ID to talk to Spotify)",
                fake.url()
            ),
        }
    }
}

/// What a browser does with the fake's authorize URL: the fake grants the request at once
/// and redirects, and the browser follows the redirect to the loopback listener.
async fn browse(fake: &FakeAccounts, authorize_url: &Url) -> Result<(), Box<dyn Error>> {
    let redirect = fake.authorize(authorize_url).await?;
    let browser = reqwest::Client::builder().no_proxy().build()?;
    browser.get(redirect).send().await?.error_for_status()?;
    Ok(())
}

/// Prints when a session's token expires and its scopes; never the token itself.
pub fn print_token<S: HoldsToken>(session: &Session<S>) {
    let minutes = (session.expires_in().num_seconds() + 30) / 60;
    let scopes = session.scopes();
    let scopes = if scopes.is_empty() {
        "(none)".to_owned()
    } else {
        scopes.to_string()
    };
    println!(
        "    token expires {} (in {minutes} min), scopes: {scopes}",
        session.expires_at().format("%Y-%m-%d %H:%M:%S%.3f UTC"),
    );
}
