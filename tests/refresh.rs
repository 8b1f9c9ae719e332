//! Refreshing a user's grant: rotation, omission, scopes, expiry, and failure.

mod support;

use std::time::Duration;

use chrono::TimeDelta;
use httpmock::Method::POST;
use httpmock::MockServer;
use secrecy::ExposeSecret as _;
use serde_json::json;
use spotify_session::{Authorized, Scope, Session};
use support::ManualClock;

/// A user's grant with access token `a0`, refresh token `r0` and one scope, got from a
/// code exchange; `server` then answers refreshes as each test sets it up.
async fn authorized(
    server: &MockServer,
    clock: std::sync::Arc<ManualClock>,
) -> Session<Authorized> {
    let exchange = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/token")
                .body_includes("grant_type=authorization_code");
            then.status(200).json_body(json!({
                "access_token": "a0", "token_type": "Bearer", "expires_in": 3600,
                "refresh_token": "r0", "scope": "user-read-email"
            }));
        })
        .await;
    let session = support::confidential(&server.base_url(), clock);
    let user = session.request_access_token("code").await.unwrap();
    exchange.delete_async().await;
    user
}

async fn answer_refresh(server: &MockServer, body: serde_json::Value) -> httpmock::Mock<'_> {
    server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/token")
                .body_includes("grant_type=refresh_token");
            then.status(200).json_body(body);
        })
        .await
}

#[tokio::test]
async fn a_rotated_refresh_token_is_adopted() {
    let server = MockServer::start_async().await;
    let mut user = authorized(&server, ManualClock::new()).await;
    answer_refresh(
        &server,
        json!({"access_token": "a1", "expires_in": 3600, "refresh_token": "r1"}),
    )
    .await;

    user.refresh_access_token().await.unwrap();

    assert_eq!(user.access_token().expose_secret(), "a1");
    assert_eq!(user.refresh_token().expose_secret(), "r1");
}

#[tokio::test]
async fn a_missing_refresh_token_keeps_the_old_one() {
    let server = MockServer::start_async().await;
    let mut user = authorized(&server, ManualClock::new()).await;
    let mock = answer_refresh(&server, json!({"access_token": "a1", "expires_in": 3600})).await;

    user.refresh_access_token().await.unwrap();
    user.refresh_access_token().await.unwrap();

    assert_eq!(user.access_token().expose_secret(), "a1");
    assert_eq!(user.refresh_token().expose_secret(), "r0");
    assert_eq!(mock.calls_async().await, 2);
}

#[tokio::test]
async fn a_missing_scope_keeps_the_granted_scopes_and_a_present_one_replaces_them() {
    let server = MockServer::start_async().await;
    let mut user = authorized(&server, ManualClock::new()).await;
    let mock = answer_refresh(&server, json!({"access_token": "a1", "expires_in": 3600})).await;

    user.refresh_access_token().await.unwrap();
    assert_eq!(user.scopes().to_string(), "user-read-email");

    mock.delete_async().await;
    answer_refresh(
        &server,
        json!({"access_token": "a2", "expires_in": 3600, "scope": "streaming"}),
    )
    .await;
    user.refresh_access_token().await.unwrap();
    assert!(user.scopes().contains(&Scope::Streaming));
    assert!(!user.scopes().contains(&Scope::UserReadEmail));
}

#[tokio::test]
async fn expiry_is_the_clock_at_the_answer_plus_expires_in() {
    let server = MockServer::start_async().await;
    let clock = ManualClock::new();
    let mut user = authorized(&server, clock.clone()).await;
    assert_eq!(
        user.expires_at(),
        clock.now_for_tests() + TimeDelta::seconds(3600)
    );

    clock.advance(Duration::from_secs(3600 - 30));
    assert!(user.is_expired(), "inside the default 60 s margin");
    assert_eq!(user.expires_in(), TimeDelta::seconds(30));
    clock.advance(Duration::from_secs(60));
    assert_eq!(user.expires_in(), TimeDelta::zero());

    answer_refresh(&server, json!({"access_token": "a1", "expires_in": "1800"})).await;
    user.refresh_access_token().await.unwrap();
    assert_eq!(
        user.expires_at(),
        clock.now_for_tests() + TimeDelta::seconds(1800)
    );
    assert!(!user.is_expired());
}

#[tokio::test]
async fn a_failing_refresh_leaves_the_session_as_it_was() {
    let server = MockServer::start_async().await;
    let mut user = authorized(&server, ManualClock::new()).await;
    let before = (user.expires_at(), user.scopes().clone());
    server
        .mock_async(|when, then| {
            when.method(POST).path("/api/token");
            then.status(503)
                .body("upstream connect error or disconnect/reset before headers");
        })
        .await;

    let error = user.refresh_access_token().await.unwrap_err();

    assert!(error.is_transient());
    assert_eq!(user.access_token().expose_secret(), "a0");
    assert_eq!(user.refresh_token().expose_secret(), "r0");
    assert_eq!((user.expires_at(), user.scopes().clone()), before);
}

#[tokio::test]
async fn set_refresh_token_is_used_by_the_next_refresh() {
    let server = MockServer::start_async().await;
    let mut user = authorized(&server, ManualClock::new()).await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/token")
                .body_includes("refresh_token=replaced");
            then.status(200)
                .json_body(json!({"access_token": "a1", "expires_in": 3600}));
        })
        .await;

    user.set_refresh_token("replaced");
    user.refresh_access_token().await.unwrap();

    mock.assert_async().await;
}

#[tokio::test]
async fn client_credentials_renewal_replaces_the_token_and_keeps_it_on_failure() {
    let server = MockServer::start_async().await;
    let first = server
        .mock_async(|when, then| {
            when.method(POST).path("/api/token");
            then.status(200)
                .json_body(json!({"access_token": "app-1", "expires_in": 3600}));
        })
        .await;
    let session = support::confidential(&server.base_url(), ManualClock::new());
    let mut app = session.request_credentials_token().await.unwrap();
    first.delete_async().await;

    let second = server
        .mock_async(|when, then| {
            when.method(POST).path("/api/token");
            then.status(200)
                .json_body(json!({"access_token": "app-2", "expires_in": 3600}));
        })
        .await;
    app.renew_access_token().await.unwrap();
    assert_eq!(app.access_token().expose_secret(), "app-2");
    second.delete_async().await;

    server
        .mock_async(|when, then| {
            when.method(POST).path("/api/token");
            then.status(502);
        })
        .await;
    assert!(app.renew_access_token().await.is_err());
    assert_eq!(app.access_token().expose_secret(), "app-2");
}

#[tokio::test]
async fn a_huge_expiry_margin_does_not_panic() {
    let server = MockServer::start_async().await;
    answer_refresh(&server, json!({"access_token": "a1", "expires_in": 3600})).await;
    let session = spotify_session::Session::builder(spotify_session::Credentials::new("i", "s"))
        .accounts_url(server.base_url())
        .expiry_margin(Duration::MAX)
        .build()
        .unwrap();

    let user = session.resume("r0").await.unwrap();

    // The margin is capped at half the token's life.
    assert!(!user.is_expired());
}

#[tokio::test]
async fn a_token_shorter_lived_than_twice_the_margin_uses_half_its_life() {
    let server = MockServer::start_async().await;
    answer_refresh(&server, json!({"access_token": "a1", "expires_in": 60})).await;
    let clock = ManualClock::new();
    let session = support::confidential(&server.base_url(), clock.clone());

    let user = session.resume("r0").await.unwrap();

    assert!(!user.is_expired(), "a fresh 60 s token with a 60 s margin");
    clock.advance(Duration::from_secs(29));
    assert!(!user.is_expired());
    clock.advance(Duration::from_secs(1));
    assert!(user.is_expired());
}
