//! No secret, token, code or verifier in the `Debug` or `Display` of any public type.

mod support;

use httpmock::Method::POST;
use httpmock::MockServer;
use serde_json::json;
use spotify_session::{AuthorizeOptions, Credentials, Error, PkceVerifier};
use support::{CLIENT_SECRET, ManualClock, REDIRECT_URI};

const ACCESS: &str = "ACCESS-TOKEN-VALUE";
const REFRESH: &str = "REFRESH-TOKEN-VALUE";
const CODE: &str = "AUTH-CODE-VALUE";
const STATE: &str = "STATE-VALUE-1234";

fn assert_clean(what: &str, text: &str) {
    for secret in [CLIENT_SECRET, ACCESS, REFRESH, CODE, STATE] {
        assert!(!text.contains(secret), "{what} shows `{secret}`: {text}");
    }
}

async fn token_server() -> MockServer {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/api/token");
            then.status(200).json_body(json!({
                "access_token": ACCESS, "token_type": "Bearer", "expires_in": 3600,
                "refresh_token": REFRESH, "scope": "streaming"
            }));
        })
        .await;
    server
}

#[tokio::test]
async fn sessions_in_every_state_hide_their_secrets() {
    let server = token_server().await;
    let session = support::confidential(&server.base_url(), ManualClock::new());
    assert_clean("Session<Unauthenticated>", &format!("{session:?}"));

    let user = session.request_access_token(CODE).await.unwrap();
    let debug = format!("{user:?}");
    assert_clean("Session<Authorized>", &debug);
    assert!(
        debug.contains("streaming"),
        "the scopes stay visible: {debug}"
    );

    let app = session.request_credentials_token().await.unwrap();
    assert_clean("Session<ClientCredentials>", &format!("{app:?}"));
    assert_clean("SecretString", &format!("{:?}", app.access_token()));
}

#[test]
fn credentials_hide_the_secret() {
    let credentials = Credentials::new("id", CLIENT_SECRET).redirect_uri(REDIRECT_URI);
    let debug = format!("{credentials:?}");
    assert_clean("Credentials", &debug);
    assert!(debug.contains("id"));
}

#[test]
fn pending_authorization_and_options_hide_state_and_verifier() {
    let session = support::public("https://accounts.spotify.com", ManualClock::new());
    let verifier = PkceVerifier::generate();
    let options = AuthorizeOptions::new().state(STATE).pkce(&verifier);
    let pending = session.begin_authorization(&options).unwrap();

    let verifier_text = secrecy::ExposeSecret::expose_secret(verifier.secret()).to_owned();
    for text in [
        format!("{pending:?}"),
        format!("{options:?}"),
        format!("{verifier:?}"),
    ] {
        assert_clean("authorization", &text);
        assert!(!text.contains(&verifier_text), "{text}");
        assert!(!text.contains(&verifier.challenge()), "{text}");
    }
}

/// One value of every variant, with secrets wherever the input could carry them.
async fn every_error() -> Vec<Error> {
    let port = support::free_port();
    let closed = support::confidential(&format!("http://127.0.0.1:{port}"), ManualClock::new());
    let http = closed.resume(REFRESH).await.unwrap_err();

    let server = token_server().await;
    let session = support::confidential(&server.base_url(), ManualClock::new());
    let pending = session
        .begin_authorization(&AuthorizeOptions::new().state(STATE))
        .unwrap();
    let mismatch = session
        .complete_authorization(pending.clone(), format!("?code={CODE}&state=other"))
        .await
        .unwrap_err();
    let missing_state = session
        .complete_authorization(pending.clone(), format!("?code={CODE}"))
        .await
        .unwrap_err();
    let twice = session
        .complete_authorization(pending, format!("?code={CODE}&code={CODE}&state={STATE}"))
        .await
        .unwrap_err();

    let almost_json = MockServer::start_async().await;
    almost_json
        .mock_async(|when, then| {
            when.method(POST).path("/api/token");
            then.status(200).body(format!(
                r#"{{"access_token":"{ACCESS}","refresh_token":"{REFRESH}"}}<!-- lb -->"#
            ));
        })
        .await;
    let malformed = support::confidential(&almost_json.base_url(), ManualClock::new())
        .resume(REFRESH)
        .await
        .unwrap_err();

    let status = reqwest::StatusCode::BAD_REQUEST;
    let grant = spotify_session::GrantType::RefreshToken;
    vec![
        http,
        malformed,
        mismatch,
        missing_state,
        twice,
        Error::TokenEndpoint {
            grant,
            status,
            code: "invalid_grant".into(),
            description: Some("Invalid refresh token".into()),
            retry_after: None,
        },
        Error::UnexpectedResponse {
            grant,
            status,
            excerpt: "<html>".into(),
            retry_after: None,
        },
        Error::MalformedTokenResponse {
            grant,
            status,
            reason: "no `access_token`".into(),
        },
        Error::MissingRefreshToken { grant },
        Error::InvalidRedirectUri {
            uri: "http://localhost/cb".into(),
            reason: "localhost",
        },
        Error::InvalidAccountsUrl {
            url: "http://x".into(),
            reason: "https",
        },
        Error::MissingRedirectUri,
        Error::MissingClientSecret,
        PkceVerifier::new("short").unwrap_err(),
        Error::AuthorizationDenied {
            error: "access_denied".into(),
            description: None,
        },
        Error::MissingCode,
        Error::MissingEnvVar {
            name: "SPOTIFY_CLIENT_ID",
        },
        Error::InvalidEnvVar {
            name: "SPOTIFY_CLIENT_ID",
        },
    ]
}

#[tokio::test]
async fn no_error_shows_a_secret() {
    for error in every_error().await {
        assert_clean("Error (Debug)", &format!("{error:?}"));
        assert_clean("Error (Display)", &error.to_string());
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            assert_clean("Error source", &cause.to_string());
            source = cause.source();
        }
    }
}
