//! Each grant's exact form body and client authentication.

mod support;

use httpmock::Method::POST;
use httpmock::MockServer;
use secrecy::ExposeSecret as _;
use serde_json::json;
use spotify_session::{PkceVerifier, Scope};
use support::{BASIC, CLIENT_ID, ManualClock};

const FORM: &str = "application/x-www-form-urlencoded";

fn user_token() -> serde_json::Value {
    json!({
        "access_token": "access-1",
        "token_type": "Bearer",
        "scope": "user-read-private user-read-email",
        "expires_in": 3600,
        "refresh_token": "refresh-1"
    })
}

#[tokio::test]
async fn client_credentials_sends_the_basic_header_and_only_the_grant_type() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/token")
                .header("authorization", BASIC)
                .header("content-type", FORM)
                .body("grant_type=client_credentials");
            then.status(200).json_body(json!({
                "access_token": "app-token", "token_type": "Bearer", "expires_in": 3600
            }));
        })
        .await;
    let clock = ManualClock::new();
    let session = support::confidential(&server.base_url(), clock.clone());

    let app = session.request_credentials_token().await.unwrap();

    mock.assert_async().await;
    assert_eq!(app.access_token().expose_secret(), "app-token");
    assert_eq!(
        app.expires_at(),
        clock.now_for_tests() + chrono::TimeDelta::seconds(3600)
    );
    assert!(app.scopes().is_empty());
}

#[tokio::test]
async fn authorization_code_sends_code_and_redirect_uri_with_basic_auth() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/token")
                .header("authorization", BASIC)
                .body(
                    "grant_type=authorization_code&code=the%2Bcode\
                     &redirect_uri=http%3A%2F%2F127.0.0.1%3A8888%2Fcallback",
                );
            then.status(200).json_body(user_token());
        })
        .await;
    let session = support::confidential(&server.base_url(), ManualClock::new());

    let user = session.request_access_token("the+code").await.unwrap();

    mock.assert_async().await;
    assert_eq!(user.access_token().expose_secret(), "access-1");
    assert_eq!(user.refresh_token().expose_secret(), "refresh-1");
    assert!(user.scopes().contains(&Scope::UserReadEmail));
    assert!(user.scopes().contains(&Scope::UserReadPrivate));
}

#[tokio::test]
async fn pkce_exchange_names_the_client_and_sends_the_verifier_without_auth() {
    let server = MockServer::start_async().await;
    let verifier = PkceVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap();
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/token")
                .header_missing("authorization")
                .body(format!(
                    "grant_type=authorization_code&code=c0de\
                     &redirect_uri=http%3A%2F%2F127.0.0.1%3A8888%2Fcallback\
                     &code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk\
                     &client_id={CLIENT_ID}"
                ));
            then.status(200).json_body(user_token());
        })
        .await;
    let session = support::public(&server.base_url(), ManualClock::new());

    let user = session
        .request_access_token_pkce("c0de", &verifier)
        .await
        .unwrap();

    mock.assert_async().await;
    assert_eq!(user.refresh_token().expose_secret(), "refresh-1");
}

#[tokio::test]
async fn refresh_of_a_confidential_client_uses_basic_auth() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/token")
                .header("authorization", BASIC)
                .body("grant_type=refresh_token&refresh_token=stored%2Frefresh");
            then.status(200)
                .json_body(json!({"access_token": "fresh", "expires_in": 3600}));
        })
        .await;
    let session = support::confidential(&server.base_url(), ManualClock::new());

    let user = session.resume("stored/refresh").await.unwrap();

    mock.assert_async().await;
    assert_eq!(user.access_token().expose_secret(), "fresh");
    assert_eq!(user.refresh_token().expose_secret(), "stored/refresh");
}

#[tokio::test]
async fn refresh_of_a_public_client_names_the_client_in_the_body() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/token")
                .header_missing("authorization")
                .body(format!(
                    "grant_type=refresh_token&refresh_token=r1&client_id={CLIENT_ID}"
                ));
            then.status(200)
                .json_body(json!({"access_token": "fresh", "expires_in": 3600}));
        })
        .await;
    let session = support::public(&server.base_url(), ManualClock::new());

    session.resume("r1").await.unwrap();

    mock.assert_async().await;
}

#[tokio::test]
async fn client_credentials_of_a_public_client_is_refused_before_any_request() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.any_request();
            then.status(500);
        })
        .await;
    let session = support::public(&server.base_url(), ManualClock::new());

    let error = session.request_credentials_token().await.unwrap_err();

    assert!(matches!(error, spotify_session::Error::MissingClientSecret));
    assert_eq!(mock.calls_async().await, 0);
}

#[tokio::test]
async fn code_exchange_without_refresh_token_is_an_error() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/api/token");
            then.status(200).json_body(
                json!({"access_token": "a", "token_type": "Bearer", "expires_in": 3600}),
            );
        })
        .await;
    let session = support::confidential(&server.base_url(), ManualClock::new());

    let error = session.request_access_token("code").await.unwrap_err();

    assert!(
        matches!(error, spotify_session::Error::MissingRefreshToken { .. }),
        "{error}"
    );
}
