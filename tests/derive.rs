//! `#[derive(SpotifyCredentials)]`: config structs that build sessions.

use std::borrow::Cow;

use httpmock::Method::POST;
use httpmock::MockServer;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use spotify_session::{Error, PkceVerifier, Session, SpotifyCredentials};
use url::Url;

/// The Basic-header test vector of `SPOTIFY.md`.
const CLIENT_ID: &str = "b777292af0def22f9257991fc770b520";
const CLIENT_SECRET: &str = "6a0419f43d0aa93b2ae881429b6b9bc2";
const BASIC: &str = "Basic Yjc3NzI5MmFmMGRlZjIyZjkyNTc5OTFmYzc3MGI1MjA6NmEwNDE5ZjQzZDBhYTkzYjJhZTg4MTQyOWI2YjliYzI=";
const REDIRECT_URI: &str = "http://127.0.0.1:8888/callback";
const TOKEN_ANSWER: &str =
    r#"{"access_token":"app-token","token_type":"Bearer","expires_in":3600}"#;

/// Builds a session from `config` and asks for a client-credentials token, which the mock
/// answers only when the request carries the test vector's Basic header.
async fn request_credentials_token(config: &impl SpotifyCredentials) -> Result<(), Error> {
    let server = MockServer::start_async().await;
    let token = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/token")
                .header("authorization", BASIC)
                .form_urlencoded_tuple("grant_type", "client_credentials");
            then.status(200)
                .header("content-type", "application/json")
                .body(TOKEN_ANSWER);
        })
        .await;

    let session = Session::builder(config)
        .accounts_url(server.base_url())
        .build()?;
    let app = session.request_credentials_token().await?;

    token.assert_async().await;
    assert_eq!(app.access_token().expose_secret(), "app-token");
    Ok(())
}

#[tokio::test]
async fn fields_are_found_by_name() -> Result<(), Error> {
    #[derive(SpotifyCredentials)]
    struct Config {
        listen_port: u16,
        client_id: String,
        client_secret: String,
        redirect_uri: String,
    }

    let config = Config {
        listen_port: 8888,
        client_id: CLIENT_ID.to_owned(),
        client_secret: CLIENT_SECRET.to_owned(),
        redirect_uri: REDIRECT_URI.to_owned(),
    };
    assert_eq!(config.listen_port, 8888);
    let credentials = config.credentials();
    assert_eq!(credentials.client_id(), CLIENT_ID);
    let session = Session::builder(&config).build()?;
    assert_eq!(session.redirect_uri(), Some(REDIRECT_URI));
    request_credentials_token(&config).await
}

#[tokio::test]
async fn fields_are_found_by_attribute() -> Result<(), Error> {
    #[derive(SpotifyCredentials)]
    struct Config {
        #[spotify(client_id)]
        app_id: Box<str>,
        #[spotify(client_secret)]
        app_secret: SecretString,
        #[spotify(redirect_uri)]
        callback: Url,
    }

    let config = Config {
        app_id: CLIENT_ID.into(),
        app_secret: SecretString::from(CLIENT_SECRET),
        callback: Url::parse(REDIRECT_URI).expect("a valid URL"),
    };
    let session = Session::builder(&config).build()?;
    assert_eq!(session.client_id(), CLIENT_ID);
    assert_eq!(session.redirect_uri(), Some(REDIRECT_URI));
    request_credentials_token(&config).await
}

#[derive(SpotifyCredentials)]
struct OptionalSecret {
    client_id: String,
    client_secret: Option<String>,
    redirect_uri: Option<String>,
}

#[tokio::test]
async fn an_optional_secret_that_is_present_authenticates_the_client() -> Result<(), Error> {
    let config = OptionalSecret {
        client_id: CLIENT_ID.to_owned(),
        client_secret: Some(CLIENT_SECRET.to_owned()),
        redirect_uri: None,
    };
    assert_eq!(
        config
            .credentials()
            .client_secret()
            .map(ExposeSecret::expose_secret),
        Some(CLIENT_SECRET)
    );
    request_credentials_token(&config).await
}

#[tokio::test]
async fn an_optional_secret_that_is_absent_makes_a_public_client() -> Result<(), Error> {
    let server = MockServer::start_async().await;
    let exchange = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/token")
                .header_missing("authorization")
                .form_urlencoded_tuple("grant_type", "authorization_code")
                .form_urlencoded_tuple("client_id", CLIENT_ID)
                .form_urlencoded_tuple("redirect_uri", REDIRECT_URI);
            then.status(200)
                .header("content-type", "application/json")
                .body(
                    r#"{"access_token":"user-token","token_type":"Bearer","expires_in":3600,
                    "refresh_token":"refresh"}"#,
                );
        })
        .await;
    let config = OptionalSecret {
        client_id: CLIENT_ID.to_owned(),
        client_secret: None,
        redirect_uri: Some(REDIRECT_URI.to_owned()),
    };

    let session = Session::builder(&config)
        .accounts_url(server.base_url())
        .build()?;
    assert!(session.client_secret().is_none());
    let refused = session.request_credentials_token().await;
    assert!(
        matches!(refused, Err(Error::MissingClientSecret)),
        "{refused:?}"
    );
    let user = session
        .request_access_token_pkce("code", &PkceVerifier::generate())
        .await?;

    exchange.assert_async().await;
    assert_eq!(user.access_token().expose_secret(), "user-token");
    Ok(())
}

#[tokio::test]
async fn a_secret_string_holds_any_part() -> Result<(), Error> {
    #[derive(SpotifyCredentials)]
    struct Config {
        client_id: SecretString,
        client_secret: Option<SecretString>,
        redirect_uri: Option<SecretString>,
    }

    let config = Config {
        client_id: SecretString::from(CLIENT_ID),
        client_secret: Some(SecretString::from(CLIENT_SECRET)),
        redirect_uri: Some(SecretString::from(REDIRECT_URI)),
    };
    let credentials = config.credentials();
    assert_eq!(credentials.client_id(), CLIENT_ID);
    assert_eq!(
        Session::builder(&config).build()?.redirect_uri(),
        Some(REDIRECT_URI)
    );
    request_credentials_token(&config).await
}

#[tokio::test]
async fn borrowed_fields_with_a_lifetime() -> Result<(), Error> {
    #[derive(SpotifyCredentials)]
    struct Config<'a> {
        client_id: &'a str,
        client_secret: Cow<'a, str>,
        redirect_uri: Option<&'a str>,
    }

    let secret = String::from(CLIENT_SECRET);
    let config = Config {
        client_id: CLIENT_ID,
        client_secret: Cow::Borrowed(&secret),
        redirect_uri: Some(REDIRECT_URI),
    };
    request_credentials_token(&config).await
}

#[tokio::test]
async fn generic_fields() -> Result<(), Error> {
    #[derive(SpotifyCredentials)]
    struct Config<I, S: Clone, const N: usize>
    where
        I: Send,
    {
        client_id: I,
        client_secret: Option<S>,
        ports: [u16; N],
    }

    let owned = Config {
        client_id: CLIENT_ID.to_owned(),
        client_secret: Some(SecretString::from(CLIENT_SECRET)),
        ports: [8888],
    };
    assert_eq!(owned.ports, [8888]);
    request_credentials_token(&owned).await?;
    let borrowed = Config::<&str, Box<str>, 0> {
        client_id: CLIENT_ID,
        client_secret: Some(CLIENT_SECRET.into()),
        ports: [],
    };
    request_credentials_token(&borrowed).await
}

#[tokio::test]
async fn loaded_from_toml() -> Result<(), Error> {
    #[derive(Deserialize)]
    struct ServiceConfig {
        listen: String,
        spotify: SpotifyConfig,
    }

    #[derive(Deserialize, SpotifyCredentials)]
    struct SpotifyConfig {
        #[spotify(client_id)]
        id: String,
        #[spotify(client_secret)]
        secret: SecretString,
        redirect_uri: Option<String>,
    }

    let config: ServiceConfig = toml::from_str(&format!(
        r#"
        listen = "127.0.0.1:8080"

        [spotify]
        id = "{CLIENT_ID}"
        secret = "{CLIENT_SECRET}"
        "#
    ))
    .expect("valid TOML");
    assert_eq!(config.listen, "127.0.0.1:8080");
    assert_eq!(config.spotify.credentials().client_id(), CLIENT_ID);
    assert!(
        Session::builder(&config.spotify)
            .build()?
            .redirect_uri()
            .is_none()
    );
    request_credentials_token(&config.spotify).await
}

#[tokio::test]
async fn borrowed_from_json() -> Result<(), Error> {
    #[derive(Deserialize, SpotifyCredentials)]
    struct Config<'a> {
        client_id: &'a str,
        client_secret: Option<&'a str>,
        #[serde(borrow)]
        redirect_uri: Cow<'a, str>,
    }

    let json = format!(
        r#"{{"client_id":"{CLIENT_ID}","client_secret":"{CLIENT_SECRET}",
            "redirect_uri":"{REDIRECT_URI}"}}"#
    );
    let config: Config<'_> = serde_json::from_str(&json).expect("valid JSON");
    assert!(matches!(config.redirect_uri, Cow::Borrowed(_)));
    assert_eq!(
        Session::builder(&config).build()?.redirect_uri(),
        Some(REDIRECT_URI)
    );
    request_credentials_token(&config).await
}

#[test]
fn the_debug_of_derived_credentials_shows_no_secret() {
    let config = OptionalSecret {
        client_id: CLIENT_ID.to_owned(),
        client_secret: Some(CLIENT_SECRET.to_owned()),
        redirect_uri: Some(REDIRECT_URI.to_owned()),
    };
    let debug = format!("{:?}", config.credentials());
    assert!(debug.contains(CLIENT_ID), "{debug}");
    assert!(!debug.contains(CLIENT_SECRET), "{debug}");
}

#[test]
fn a_renamed_crate_path() {
    mod renamed {
        pub(crate) use spotify_session as spotify;
    }

    #[derive(SpotifyCredentials)]
    #[spotify(crate = "renamed::spotify")]
    struct Config {
        client_id: String,
    }

    let config = Config {
        client_id: CLIENT_ID.to_owned(),
    };
    let credentials = config.credentials();
    assert_eq!(credentials.client_id(), CLIENT_ID);
    assert!(credentials.client_secret().is_none());
}
