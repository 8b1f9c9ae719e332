//! The callback of the authorization-code flow: each outcome, and no token request for
//! any failure.

mod support;

use httpmock::Method::POST;
use httpmock::{Mock, MockServer};
use secrecy::ExposeSecret as _;
use serde_json::json;
use spotify_session::{AuthorizeOptions, Error, PendingAuthorization, Session, Unauthenticated};
use support::{ManualClock, REDIRECT_URI};

async fn setup(server: &MockServer) -> (Session<Unauthenticated>, PendingAuthorization, Mock<'_>) {
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/token")
                .body_includes("code=good-code");
            then.status(200).json_body(json!({
                "access_token": "a0", "token_type": "Bearer", "expires_in": 3600,
                "refresh_token": "r0", "scope": "user-read-email"
            }));
        })
        .await;
    let session = support::confidential(&server.base_url(), ManualClock::new());
    let pending = session
        .begin_authorization(&AuthorizeOptions::new().state("a&b=c"))
        .unwrap();
    (session, pending, mock)
}

#[tokio::test]
async fn good_code_and_state_give_an_authorized_session() {
    let server = MockServer::start_async().await;
    let (session, pending, mock) = setup(&server).await;

    let callback = format!("{REDIRECT_URI}?code=good-code&state=a%26b%3Dc");
    let user = session
        .complete_authorization(pending, callback)
        .await
        .unwrap();

    assert_eq!(mock.calls_async().await, 1);
    assert_eq!(user.refresh_token().expose_secret(), "r0");
}

#[tokio::test]
async fn the_query_string_alone_is_accepted() {
    let server = MockServer::start_async().await;
    let (session, pending, mock) = setup(&server).await;

    session
        .complete_authorization(pending, "?state=a%26b%3Dc&code=good-code")
        .await
        .unwrap();

    assert_eq!(mock.calls_async().await, 1);
}

async fn refused(callback: &str) -> Error {
    let server = MockServer::start_async().await;
    let (session, pending, mock) = setup(&server).await;
    let error = session
        .complete_authorization(pending, callback)
        .await
        .unwrap_err();
    assert_eq!(
        mock.calls_async().await,
        0,
        "no token request for {callback}"
    );
    error
}

#[tokio::test]
async fn a_missing_state_is_refused() {
    let error = refused(&format!("{REDIRECT_URI}?code=good-code")).await;
    assert!(matches!(error, Error::MissingState), "{error:?}");
}

#[tokio::test]
async fn a_different_state_is_refused() {
    let error = refused(&format!("{REDIRECT_URI}?code=good-code&state=a")).await;
    assert!(matches!(error, Error::StateMismatch), "{error:?}");
}

#[tokio::test]
async fn access_denied_is_a_typed_error() {
    let error = refused(&format!(
        "{REDIRECT_URI}?error=access_denied&error_description=user+said+no&state=a%26b%3Dc"
    ))
    .await;
    match error {
        Error::AuthorizationDenied { error, description } => {
            assert_eq!(error, "access_denied");
            assert_eq!(description.as_deref(), Some("user said no"));
        }
        other => panic!("unexpected error: {other:?}"),
    }
}

#[tokio::test]
async fn an_error_with_a_wrong_state_is_a_state_mismatch() {
    let error = refused(&format!("{REDIRECT_URI}?error=access_denied&state=forged")).await;
    assert!(matches!(error, Error::StateMismatch), "{error:?}");
}

#[tokio::test]
async fn no_code_is_refused() {
    let error = refused(&format!("{REDIRECT_URI}?state=a%26b%3Dc")).await;
    assert!(matches!(error, Error::MissingCode), "{error:?}");
}

#[tokio::test]
async fn a_repeated_parameter_is_refused() {
    let error = refused(&format!(
        "{REDIRECT_URI}?code=good-code&code=x&state=a%26b%3Dc"
    ))
    .await;
    assert!(matches!(error, Error::InvalidCallback { .. }), "{error:?}");
}

#[tokio::test]
async fn a_pending_authorization_survives_serialization_between_requests() {
    let server = MockServer::start_async().await;
    let (session, pending, mock) = setup(&server).await;

    let stored = serde_json::to_string(&pending).unwrap();
    let restored: PendingAuthorization = serde_json::from_str(&stored).unwrap();
    let callback = format!("{REDIRECT_URI}?code=good-code&state=a%26b%3Dc");
    session
        .complete_authorization(restored, callback)
        .await
        .unwrap();

    assert_eq!(mock.calls_async().await, 1);
}

#[tokio::test]
async fn the_pkce_verifier_of_the_pending_authorization_is_sent() {
    let server = MockServer::start_async().await;
    let session = support::public(&server.base_url(), ManualClock::new());
    let pending = session
        .begin_authorization(&AuthorizeOptions::new())
        .unwrap();
    let verifier = pending
        .verifier()
        .unwrap()
        .secret()
        .expose_secret()
        .to_owned();
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/token")
                .form_urlencoded_tuple("code_verifier", verifier)
                .form_urlencoded_tuple("client_id", support::CLIENT_ID);
            then.status(200).json_body(json!({
                "access_token": "a0", "expires_in": 3600, "refresh_token": "r0"
            }));
        })
        .await;

    let callback = format!("{REDIRECT_URI}?code=c&state={}", pending.state());
    session
        .complete_authorization(pending, callback)
        .await
        .unwrap();

    mock.assert_async().await;
}
