//! Every step of a session in one run: the app's own token, a user's authorization, and a
//! refresh.
//!
//! It prints each typed transition of `Session`, and the expiry and scopes of each token
//! it gets (never a token, a code, a verifier or a secret):
//!
//! 1. client credentials: `Session<Unauthenticated>` to `Session<ClientCredentials>`;
//! 2. the authorization-code flow: `begin_authorization`, the browser step, the redirect
//!    received by a loopback listener, and `complete_authorization` to
//!    `Session<Authorized>`;
//! 3. `refresh_access_token` on the `Session<Authorized>`.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! With `SPOTIFY_CLIENT_ID` unset, it starts `FakeAccounts`, a fake of Spotify's accounts
//! service on `127.0.0.1`, and plays the browser itself, so it finishes on its own.
//!
//! With `SPOTIFY_CLIENT_ID`, `SPOTIFY_CLIENT_SECRET` and `SPOTIFY_REDIRECT_URI` set (read
//! by `Credentials::from_env`), it talks to Spotify, prints the URL to open in a browser
//! and waits five minutes for the redirect. The redirect URI must then be a loopback one,
//! such as `http://127.0.0.1:8888/callback`, registered letter for letter in the app's
//! settings in Spotify's developer dashboard:
//!
//! ```text
//! SPOTIFY_CLIENT_ID=… SPOTIFY_CLIENT_SECRET=… \
//!     SPOTIFY_REDIRECT_URI=http://127.0.0.1:8888/callback cargo run --example quickstart
//! ```

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
    println!("accounts service: {accounts}\n");

    let session = Session::builder(credentials)
        .accounts_url(accounts.url())
        .build()?;
    println!("Session::builder(credentials).build() --> Session<Unauthenticated>\n");

    // The app's own token, for requests made on no user's behalf.
    let app = session.request_credentials_token().await?;
    println!(
        "Session<Unauthenticated> --request_credentials_token()--> Session<ClientCredentials>"
    );
    common::print_token(&app);
    println!();

    // A user's grant. The listener is bound before the user can be sent anywhere, so the
    // redirect cannot arrive before anyone listens.
    let redirect_uri = session.redirect_uri().ok_or("set SPOTIFY_REDIRECT_URI")?;
    let listener = LoopbackListener::bind(redirect_uri).await?;
    let options = AuthorizeOptions::new().scopes([Scope::UserReadEmail, Scope::UserReadPrivate]);
    let pending = session.begin_authorization(&options)?;
    println!("Session<Unauthenticated> --begin_authorization()--> PendingAuthorization");

    let callback = accounts.send_user_to(&pending, listener).await?;
    let mut user = session.complete_authorization(pending, callback).await?;
    println!(
        "Session<Unauthenticated> --complete_authorization(pending, callback)--> \
         Session<Authorized>"
    );
    common::print_token(&user);
    println!();

    user.refresh_access_token().await?;
    println!("Session<Authorized> --refresh_access_token()--> Session<Authorized>");
    common::print_token(&user);
    Ok(())
}
