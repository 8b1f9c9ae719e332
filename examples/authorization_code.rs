//! A user's authorization with the authorization-code flow, for an app that keeps a client
//! secret, with the redirect received on the user's own machine.
//!
//! 1. A `LoopbackListener` binds the address of the redirect URI, before the user is sent
//!    anywhere, so that the redirect cannot arrive before anyone listens.
//! 2. `begin_authorization` draws a `state` and gives the URL to send the user to, with a
//!    `PendingAuthorization` to keep until the redirect.
//! 3. The user logs in and is redirected to the listener, which hands back the callback.
//! 4. `complete_authorization` checks the `state` and exchanges the code for a
//!    `Session<Authorized>`: an access token, a refresh token and the scopes granted.
//!
//! ```text
//! cargo run --example authorization_code
//! ```
//!
//! With `SPOTIFY_CLIENT_ID` unset, it starts `FakeAccounts`, a fake of Spotify's accounts
//! service on `127.0.0.1`, and plays the browser itself, so it finishes on its own.
//!
//! With `SPOTIFY_CLIENT_ID`, `SPOTIFY_CLIENT_SECRET` and `SPOTIFY_REDIRECT_URI` set (read
//! by `Credentials::from_env`), it talks to Spotify, prints the URL to open in a browser
//! and waits five minutes for the redirect. The redirect URI must then be a loopback one,
//! such as `http://127.0.0.1:8888/callback`, registered letter for letter in the app's
//! settings in Spotify's developer dashboard.

mod common;

use std::error::Error;

use spotify_session::loopback::LoopbackListener;
use spotify_session::testing::{FakeAccounts, FakeClient};
use spotify_session::{AuthorizeOptions, Credentials, Scope, Session};

use common::{Accounts, CLIENT_ID, CLIENT_SECRET};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let (credentials, accounts) = match common::spotify_credentials()? {
        Some(credentials) => (credentials, Accounts::Spotify),
        None => {
            let redirect_uri = common::free_redirect_uri()?;
            let client =
                FakeClient::confidential(CLIENT_ID, CLIENT_SECRET).redirect_uri(&redirect_uri);
            let fake = FakeAccounts::builder().client(client).start().await?;
            let credentials = Credentials::new(CLIENT_ID, CLIENT_SECRET).redirect_uri(redirect_uri);
            (credentials, Accounts::Fake(fake))
        }
    };
    println!("accounts service: {accounts}");
    let session = Session::builder(credentials)
        .accounts_url(accounts.url())
        .build()?;

    let redirect_uri = session.redirect_uri().ok_or("set SPOTIFY_REDIRECT_URI")?;
    let listener = LoopbackListener::bind(redirect_uri).await?;
    println!("listening for the redirect on {}", listener.local_addr());

    let options = AuthorizeOptions::new().scopes([Scope::UserReadEmail, Scope::UserTopRead]);
    let pending = session.begin_authorization(&options)?;
    println!("Session<Unauthenticated> --begin_authorization()--> PendingAuthorization");
    let callback = accounts.send_user_to(&pending, listener).await?;

    // The callback may also say that the user refused: a typed error, not a panic.
    let user = match session.complete_authorization(pending, callback).await {
        Ok(user) => user,
        Err(error @ spotify_session::Error::AuthorizationDenied { .. }) => {
            println!("no authorization: {error}");
            return Ok(());
        }
        Err(error) => return Err(error.into()),
    };
    println!(
        "Session<Unauthenticated> --complete_authorization(pending, callback)--> \
         Session<Authorized>"
    );
    common::print_token(&user);
    Ok(())
}
