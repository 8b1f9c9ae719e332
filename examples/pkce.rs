//! A user's authorization for a public client, such as a desktop or command-line app that
//! cannot keep a secret: the authorization-code flow with PKCE, the redirect received on
//! the user's own machine.
//!
//! The client is made with `Credentials::public`, so `begin_authorization` draws a PKCE
//! verifier along with the `state` and puts its S256 challenge in the URL;
//! `complete_authorization` proves the code with the verifier instead of a secret. The
//! refresh that follows also goes without a secret.
//!
//! ```text
//! cargo run --example pkce
//! ```
//!
//! With `SPOTIFY_CLIENT_ID` unset, it starts `FakeAccounts`, a fake of Spotify's accounts
//! service on `127.0.0.1`, and plays the browser itself, so it finishes on its own.
//!
//! With `SPOTIFY_CLIENT_ID` and `SPOTIFY_REDIRECT_URI` set, it talks to Spotify, prints the
//! URL to open in a browser and waits five minutes for the redirect. `SPOTIFY_CLIENT_SECRET`
//! is not used: every Spotify app has a secret, but one that cannot keep it leaves it out
//! and uses PKCE. The redirect URI must be a loopback one, such as
//! `http://127.0.0.1:8888/callback`, registered letter for letter in the app's settings in
//! Spotify's developer dashboard.

mod common;

use std::error::Error;

use spotify_session::loopback::LoopbackListener;
use spotify_session::testing::{FakeAccounts, FakeClient};
use spotify_session::{AuthorizeOptions, Credentials, ENV_REDIRECT_URI, Scope, Session};

use common::{Accounts, CLIENT_ID};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let (client_id, redirect_uri, accounts) = match common::spotify_credentials()? {
        Some(credentials) => {
            let redirect_uri =
                std::env::var(ENV_REDIRECT_URI).map_err(|_| "set SPOTIFY_REDIRECT_URI")?;
            let client_id = credentials.client_id().to_owned();
            (client_id, redirect_uri, Accounts::Spotify)
        }
        None => {
            let redirect_uri = common::free_redirect_uri()?;
            let client = FakeClient::public(CLIENT_ID).redirect_uri(&redirect_uri);
            let fake = FakeAccounts::builder().client(client).start().await?;
            (CLIENT_ID.to_owned(), redirect_uri, Accounts::Fake(fake))
        }
    };
    println!("accounts service: {accounts}");
    let session = Session::builder(Credentials::public(client_id).redirect_uri(&redirect_uri))
        .accounts_url(accounts.url())
        .build()?;

    let listener = LoopbackListener::bind(&redirect_uri).await?;
    println!("listening for the redirect on {}", listener.local_addr());

    let options = AuthorizeOptions::new().scopes([Scope::UserReadPlaybackState]);
    let pending = session.begin_authorization(&options)?;
    println!("Session<Unauthenticated> --begin_authorization()--> PendingAuthorization");
    if pending.verifier().is_some() {
        println!("    a PKCE verifier was drawn; the URL carries its S256 challenge");
    }
    let callback = accounts.send_user_to(&pending, listener).await?;

    let mut user = session.complete_authorization(pending, callback).await?;
    println!(
        "Session<Unauthenticated> --complete_authorization(pending, callback)--> \
         Session<Authorized>"
    );
    common::print_token(&user);

    user.refresh_access_token().await?;
    println!("Session<Authorized> --refresh_access_token()--> Session<Authorized>");
    common::print_token(&user);
    Ok(())
}
