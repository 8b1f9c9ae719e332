//! A service's own configuration as the source of the credentials, with
//! `#[derive(SpotifyCredentials)]`.
//!
//! The service reads its configuration from TOML with serde. It names the Spotify app's
//! fields its own way (`app_id`, `app_secret`, renamed `app-id` and `app-secret` in the
//! file), so `#[spotify(client_id)]` and `#[spotify(client_secret)]` say which is which;
//! its other fields are ignored, and the secret is deserialized straight into a
//! `SecretString`. `Session::builder(&config)` then takes the struct as it is, and the
//! session asks for the app's own token with the client-credentials grant.
//!
//! ```text
//! cargo run --example config_struct
//! ```
//!
//! With `SPOTIFY_CLIENT_ID` unset, it starts `FakeAccounts`, a fake of Spotify's accounts
//! service on `127.0.0.1`, which knows the made-up credentials of the TOML text below.
//!
//! With `SPOTIFY_CLIENT_ID` and `SPOTIFY_CLIENT_SECRET` set, their values take the place of
//! the file's, as many services let the environment override their configuration, and the
//! example asks Spotify itself. No redirect URI is needed.

mod common;

use std::error::Error;

use serde::Deserialize;
use spotify_session::testing::{FakeAccounts, FakeClient};
use spotify_session::{SecretString, Session, SpotifyCredentials};

use common::{Accounts, CLIENT_ID, CLIENT_SECRET};

/// What the service reads at start, as its `config.toml` would hold it.
const CONFIG: &str = r#"
listen = "127.0.0.1:3000"

# The app registered in Spotify's developer dashboard.
app-id = "example-client-id"
app-secret = "example-client-secret"
"#;

/// The service's configuration, Spotify app included.
#[derive(Deserialize, SpotifyCredentials)]
#[serde(rename_all = "kebab-case")]
struct Config {
    /// Where the service itself listens: not a credential, so the derive ignores it.
    listen: String,
    #[spotify(client_id)]
    app_id: String,
    #[spotify(client_secret)]
    app_secret: SecretString,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut config: Config = toml::from_str(CONFIG)?;
    let accounts = match common::spotify_credentials()? {
        Some(credentials) => {
            config.app_id = credentials.client_id().to_owned();
            config.app_secret = credentials
                .client_secret()
                .cloned()
                .ok_or("set SPOTIFY_CLIENT_SECRET")?;
            Accounts::Spotify
        }
        None => {
            // The made-up pair of `CONFIG`.
            let client = FakeClient::confidential(CLIENT_ID, CLIENT_SECRET);
            Accounts::Fake(FakeAccounts::builder().client(client).start().await?)
        }
    };
    println!("accounts service: {accounts}");
    println!("configuration of the service on {}", config.listen);
    // `Credentials`' `Debug` shows the client id, never the secret.
    println!("config.credentials() --> {:?}", config.credentials());

    let session = Session::builder(&config)
        .accounts_url(accounts.url())
        .build()?;
    println!("Session::builder(&config).build() --> Session<Unauthenticated>");

    let app = session.request_credentials_token().await?;
    println!(
        "Session<Unauthenticated> --request_credentials_token()--> Session<ClientCredentials>"
    );
    common::print_token(&app);
    Ok(())
}
