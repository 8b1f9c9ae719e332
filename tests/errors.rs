//! How the token endpoint's failures reach the caller.

mod support;

use std::time::Duration;

use httpmock::Method::POST;
use httpmock::MockServer;
use reqwest::StatusCode;
use serde_json::json;
use spotify_session::{Credentials, Error, GrantType, OAuthErrorCode, Session};
use support::ManualClock;

async fn answering(status: u16, content_type: &str, body: &str) -> MockServer {
    let server = MockServer::start_async().await;
    let (content_type, body) = (content_type.to_owned(), body.to_owned());
    server
        .mock_async(move |when, then| {
            when.method(POST).path("/api/token");
            then.status(status)
                .header("content-type", content_type)
                .body(body);
        })
        .await;
    server
}

#[tokio::test]
async fn invalid_grant_on_refresh_requires_reauthorization() {
    let server = answering(
        400,
        "application/json",
        r#"{"error":"invalid_grant","error_description":"Refresh token revoked"}"#,
    )
    .await;
    let session = support::confidential(&server.base_url(), ManualClock::new());

    let error = session.resume("old").await.unwrap_err();

    assert!(error.is_reauthorization_required(), "{error}");
    assert!(!error.is_transient());
    assert_eq!(error.oauth_error(), Some(&OAuthErrorCode::InvalidGrant));
}

#[tokio::test]
async fn invalid_grant_on_a_code_exchange_does_not_ask_for_reauthorization() {
    let server = answering(
        400,
        "application/json",
        r#"{"error":"invalid_grant","error_description":"Invalid authorization code"}"#,
    )
    .await;
    let session = support::confidential(&server.base_url(), ManualClock::new());

    let error = session.request_access_token("used-code").await.unwrap_err();

    assert!(!error.is_reauthorization_required());
    assert_eq!(error.oauth_error(), Some(&OAuthErrorCode::InvalidGrant));
}

#[tokio::test]
async fn invalid_client_keeps_code_description_and_status() {
    let server = answering(
        401,
        "application/json",
        r#"{"error":"invalid_client","error_description":"Invalid client secret"}"#,
    )
    .await;
    let session = support::confidential(&server.base_url(), ManualClock::new());

    let error = session.request_credentials_token().await.unwrap_err();

    match &error {
        Error::TokenEndpoint {
            grant,
            status,
            code,
            description,
            retry_after,
        } => {
            assert_eq!(*grant, GrantType::ClientCredentials);
            assert_eq!(*status, StatusCode::UNAUTHORIZED);
            assert_eq!(*code, OAuthErrorCode::InvalidClient);
            assert_eq!(description.as_deref(), Some("Invalid client secret"));
            assert_eq!(*retry_after, None);
        }
        other => panic!("unexpected error: {other:?}"),
    }
    assert_eq!(
        error.to_string(),
        "the accounts service refused the client_credentials grant with `invalid_client`: \
         Invalid client secret (HTTP 401 Unauthorized)"
    );
}

#[tokio::test]
async fn an_unknown_error_code_is_kept_as_sent() {
    let server = answering(400, "application/json", r#"{"error":"slow_down"}"#).await;
    let session = support::confidential(&server.base_url(), ManualClock::new());

    let error = session.request_credentials_token().await.unwrap_err();

    assert_eq!(
        error.oauth_error(),
        Some(&OAuthErrorCode::Other("slow_down".into()))
    );
}

#[tokio::test]
async fn an_html_503_is_transient_with_its_status_and_an_excerpt() {
    let server = answering(
        503,
        "text/html",
        "<html><body>\nupstream connect error or disconnect/reset before headers</body></html>",
    )
    .await;
    let session = support::confidential(&server.base_url(), ManualClock::new());

    let error = session.request_credentials_token().await.unwrap_err();

    assert!(error.is_transient());
    assert_eq!(error.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
    match &error {
        Error::UnexpectedResponse { excerpt, .. } => {
            assert!(excerpt.contains("upstream connect error"), "{excerpt}");
            assert!(!excerpt.contains('\n'));
        }
        other => panic!("unexpected error: {other:?}"),
    }
}

#[tokio::test]
async fn an_empty_502_is_transient_with_its_status() {
    let server = answering(502, "text/plain", "").await;
    let session = support::confidential(&server.base_url(), ManualClock::new());

    let error = session.request_credentials_token().await.unwrap_err();

    assert!(error.is_transient());
    assert_eq!(error.status(), Some(StatusCode::BAD_GATEWAY));
    assert!(error.to_string().contains("(empty body)"), "{error}");
}

#[tokio::test]
async fn a_429_gives_retry_after() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/api/token");
            then.status(429).header("retry-after", "3600").body("");
        })
        .await;
    let session = support::confidential(&server.base_url(), ManualClock::new());

    let error = session.request_credentials_token().await.unwrap_err();

    assert!(error.is_transient());
    assert_eq!(error.retry_after(), Some(Duration::from_secs(3600)));
}

#[tokio::test]
async fn a_slow_server_gives_a_timeout_error() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/api/token");
            then.status(200)
                .delay(Duration::from_secs(5))
                .json_body(json!({"access_token": "late", "expires_in": 3600}));
        })
        .await;
    let session = Session::builder(Credentials::new("id", "secret"))
        .accounts_url(server.base_url())
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();

    let error = session.request_credentials_token().await.unwrap_err();

    assert!(error.is_timeout(), "{error:?}");
    assert!(error.is_transient());
}

#[tokio::test]
async fn a_200_with_an_empty_object_is_an_error() {
    let server = answering(200, "application/json", "{}").await;
    let session = support::confidential(&server.base_url(), ManualClock::new());

    let error = session.request_credentials_token().await.unwrap_err();

    assert!(
        matches!(error, Error::MalformedTokenResponse { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("no `access_token`"), "{error}");
}

#[tokio::test]
async fn a_200_with_html_is_an_error() {
    let server = answering(200, "text/html", "<html>maintenance</html>").await;
    let session = support::confidential(&server.base_url(), ManualClock::new());

    let error = session.request_credentials_token().await.unwrap_err();

    assert!(
        matches!(error, Error::MalformedTokenResponse { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("not JSON"), "{error}");
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/api/token");
            then.status(302)
                .header("location", "http://192.0.2.1/elsewhere");
        })
        .await;
    let session = support::confidential(&server.base_url(), ManualClock::new());

    let error = session.request_credentials_token().await.unwrap_err();

    assert_eq!(error.status(), Some(StatusCode::FOUND));
    assert!(!error.is_transient());
}

#[tokio::test]
async fn a_refused_connection_is_transient() {
    let port = support::free_port();
    let session = support::confidential(&format!("http://127.0.0.1:{port}"), ManualClock::new());

    let error = session.request_credentials_token().await.unwrap_err();

    assert!(matches!(error, Error::Http { .. }), "{error:?}");
    assert!(error.is_transient());
}
