//! The library against an OAuth 2.0 server nobody here wrote: `oidc-provider` (an OpenID
//! Certified implementation) from `interop/`, with Spotify's route paths, refresh-token
//! rotation and 60 s access tokens. Every step goes through the public API; only the
//! browser (sign-in and consent pages) and the revocation of a token are driven by hand.
//!
//! Needs Node.js and `npm ci --prefix interop`; each test starts its own server.

mod support;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::TimeDelta;
use reqwest::StatusCode;
use secrecy::{ExposeSecret as _, SecretString};
use spotify_session::{
    AuthorizeOptions, Authorized, Credentials, Error, OAuthErrorCode, PkceVerifier, Scope, Session,
    SharedSession, TokenEvent, Unauthenticated,
};
use support::ManualClock;
use support::interop::{
    ACCESS_TOKEN_TTL, Browser, CONFIDENTIAL_ID, CONFIDENTIAL_SECRET, InteropServer,
};

/// Every test ends within this, whatever the server does.
const TEST_TIMEOUT: Duration = Duration::from_secs(90);

/// Runs a test body, failing it when it takes longer than [`TEST_TIMEOUT`].
async fn within<F: Future>(test: F) -> F::Output {
    tokio::time::timeout(TEST_TIMEOUT, test)
        .await
        .expect("the test finished in time")
}

fn email() -> AuthorizeOptions {
    AuthorizeOptions::new().scopes([Scope::UserReadEmail])
}

fn text(secret: &SecretString) -> String {
    secret.expose_secret().to_owned()
}

/// A fresh token lives the server's TTL, less the time its answer took to arrive.
fn assert_fresh(expires_in: TimeDelta) {
    let ttl = TimeDelta::seconds(ACCESS_TOKEN_TTL.try_into().unwrap());
    assert!(
        expires_in <= ttl && expires_in > ttl - TimeDelta::seconds(15),
        "expires in {expires_in}, the server's TTL is {ttl}"
    );
}

/// Signs in and consents in a new browser, and finishes the flow.
async fn user_grant(
    server: &InteropServer,
    session: &Session<Unauthenticated>,
) -> Session<Authorized> {
    let pending = session.begin_authorization(&email()).unwrap();
    let callback = Browser::new()
        .authorize(pending.url(), server.redirect_uri())
        .await;
    session
        .complete_authorization(pending, callback)
        .await
        .unwrap()
}

/// Refreshes twice; each time the access token, its expiry and the refresh token change
/// (rotation), and the granted scope stays. Returns the refresh tokens rotated away.
async fn refresh_twice(user: &mut Session<Authorized>) -> Vec<String> {
    let mut rotated_away = Vec::new();
    for _ in 0..2 {
        let access_token = text(user.access_token());
        let refresh_token = text(user.refresh_token());
        let expires_at = user.expires_at();

        user.refresh_access_token().await.unwrap();

        assert_ne!(text(user.access_token()), access_token);
        assert_ne!(text(user.refresh_token()), refresh_token, "rotation");
        assert!(user.expires_at() > expires_at);
        assert_fresh(user.expires_in());
        assert_eq!(user.scopes().to_string(), "user-read-email");
        rotated_away.push(refresh_token);
    }
    rotated_away
}

/// A refresh token rotated away is dead. Last step of a test: the provider revokes the
/// whole grant when it sees one again.
async fn assert_dead(session: &Session<Unauthenticated>, refresh_token: String) {
    let error = session.resume(refresh_token).await.unwrap_err();
    assert!(error.is_reauthorization_required(), "{error}");
    assert_eq!(error.oauth_error(), Some(&OAuthErrorCode::InvalidGrant));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_token_is_granted_and_renewed() {
    within(async {
        let server = InteropServer::start();

        let mut app = server
            .confidential()
            .request_credentials_token()
            .await
            .unwrap();
        let first = text(app.access_token());
        let first_expiry = app.expires_at();
        assert_fresh(app.expires_in());
        assert!(app.scopes().is_empty(), "{}", app.scopes());

        app.renew_access_token().await.unwrap();
        assert_ne!(text(app.access_token()), first);
        assert!(app.expires_at() > first_expiry);
        assert_fresh(app.expires_in());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_code_flow_refreshes_with_rotation() {
    within(async {
        let server = InteropServer::start();
        let session = server.confidential();

        let pending = session.begin_authorization(&email()).unwrap();
        assert!(
            pending.verifier().is_none(),
            "a confidential client needs no PKCE"
        );
        let callback = Browser::new()
            .authorize(pending.url(), server.redirect_uri())
            .await;
        // RFC 9207's `iss`, which Spotify does not send, must not get in the way.
        assert!(support::callback_param(&callback, "iss").is_some());
        let mut user = session
            .complete_authorization(pending, callback)
            .await
            .unwrap();
        assert_fresh(user.expires_in());
        assert_eq!(user.scopes().to_string(), "user-read-email");

        let mut rotated_away = refresh_twice(&mut user).await;
        assert_dead(&session, rotated_away.remove(0)).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pkce_flow_of_a_public_client_refreshes_with_rotation() {
    within(async {
        let server = InteropServer::start();
        let session = server.public();
        assert!(session.client_secret().is_none());

        let pending = session.begin_authorization(&email()).unwrap();
        let challenge = pending
            .verifier()
            .expect("a public client uses PKCE")
            .challenge();
        let sent: Vec<_> = pending.url().query_pairs().collect();
        assert!(sent.contains(&("code_challenge".into(), challenge.into())));
        assert!(sent.contains(&("code_challenge_method".into(), "S256".into())));
        let callback = Browser::new()
            .authorize(pending.url(), server.redirect_uri())
            .await;
        let mut user = session
            .complete_authorization(pending, callback)
            .await
            .unwrap();
        assert_eq!(user.scopes().to_string(), "user-read-email");

        let mut rotated_away = refresh_twice(&mut user).await;
        assert_dead(&session, rotated_away.remove(0)).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pkce_code_needs_its_verifier() {
    within(async {
        let server = InteropServer::start();
        let session = server.public();
        let pending = session.begin_authorization(&email()).unwrap();
        let callback = Browser::new()
            .authorize(pending.url(), server.redirect_uri())
            .await;
        let code = support::callback_param(&callback, "code").unwrap();

        let other = PkceVerifier::generate();
        let error = session
            .request_access_token_pkce(&code, &other)
            .await
            .unwrap_err();
        assert_eq!(
            error.oauth_error(),
            Some(&OAuthErrorCode::InvalidGrant),
            "{error}"
        );
        assert!(
            !error.is_reauthorization_required(),
            "a code, not a refresh token"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_client_secret_is_invalid_client() {
    within(async {
        let server = InteropServer::start();
        let session = server
            .builder(Credentials::new(CONFIDENTIAL_ID, "not-the-secret"))
            .build()
            .unwrap();

        let error = session.request_credentials_token().await.unwrap_err();
        assert_eq!(
            error.oauth_error(),
            Some(&OAuthErrorCode::InvalidClient),
            "{error}"
        );
        assert_eq!(error.status(), Some(StatusCode::UNAUTHORIZED));
        assert!(!error.is_transient());
        assert!(!error.is_reauthorization_required());
        assert!(!format!("{error:?}").contains("not-the-secret"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserved_characters_in_client_credentials_reach_the_server_intact() {
    within(async {
        // RFC 6749 §2.3.1: id and secret (printable ASCII) are form-encoded inside the Basic
        // header, so that a `:`, `%` or `+` in them survives.
        let (id, secret) = ("interop:app+1", "s3cr%t+/=: &x?#");
        let server = InteropServer::start_with(&[
            ("INTEROP_CONFIDENTIAL_ID", id),
            ("INTEROP_CONFIDENTIAL_SECRET", secret),
        ]);
        let session = server
            .builder(Credentials::new(id, secret))
            .build()
            .unwrap();

        let app = session.request_credentials_token().await.unwrap();
        assert_fresh(app.expires_in());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_exchanged_twice_is_invalid_grant() {
    within(async {
        let server = InteropServer::start();
        let session = server.confidential();
        let pending = session.begin_authorization(&email()).unwrap();
        let callback = Browser::new()
            .authorize(pending.url(), server.redirect_uri())
            .await;
        assert_eq!(
            support::callback_param(&callback, "state").as_deref(),
            Some(pending.state())
        );
        let code = support::callback_param(&callback, "code").unwrap();

        let mut user = session.request_access_token(&code).await.unwrap();
        let access_token = text(user.access_token());

        let error = session.request_access_token(&code).await.unwrap_err();
        assert_eq!(
            error.oauth_error(),
            Some(&OAuthErrorCode::InvalidGrant),
            "{error}"
        );
        assert_eq!(error.status(), Some(StatusCode::BAD_REQUEST));
        assert!(!error.is_transient());
        assert!(
            !error.is_reauthorization_required(),
            "a code, not a refresh token"
        );

        // RFC 6749 §4.1.2: the server revoked what the code gave; the refresh says so, and
        // leaves the session as it was.
        let error = user.refresh_access_token().await.unwrap_err();
        assert!(error.is_reauthorization_required(), "{error}");
        assert_eq!(text(user.access_token()), access_token);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_altered_state_is_refused_before_any_token_request() {
    within(async {
        let server = InteropServer::start();
        let session = server.confidential();
        let pending = session.begin_authorization(&email()).unwrap();
        let callback = Browser::new()
            .authorize(pending.url(), server.redirect_uri())
            .await;

        let mut altered = callback.url().clone();
        let pairs: Vec<(String, String)> = callback
            .url()
            .query_pairs()
            .map(|(key, value)| match &*key {
                "state" => (key.into_owned(), format!("{value}x")),
                _ => (key.into_owned(), value.into_owned()),
            })
            .collect();
        altered.query_pairs_mut().clear().extend_pairs(pairs);
        let error = session
            .complete_authorization(pending.clone(), altered.as_str())
            .await
            .unwrap_err();
        assert!(matches!(error, Error::StateMismatch), "{error}");

        let mut stripped = callback.url().clone();
        let pairs: Vec<_> = callback
            .url()
            .query_pairs()
            .filter(|(key, _)| key != "state")
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect();
        stripped.query_pairs_mut().clear().extend_pairs(pairs);
        let error = session
            .complete_authorization(pending.clone(), stripped.as_str())
            .await
            .unwrap_err();
        assert!(matches!(error, Error::MissingState), "{error}");

        // The code is still unused, so neither refusal sent it: the real callback works.
        let user = session
            .complete_authorization(pending, callback)
            .await
            .unwrap();
        assert_eq!(user.scopes().to_string(), "user-read-email");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_who_cancels_gives_access_denied() {
    within(async {
        let server = InteropServer::start();
        let session = server.confidential();
        let pending = session.begin_authorization(&email()).unwrap();
        let callback = Browser::new()
            .deny(pending.url(), server.redirect_uri())
            .await;

        let error = session
            .complete_authorization(pending, callback)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, Error::AuthorizationDenied { error, .. } if error == "access_denied"),
            "{error}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_refresh_token_requires_reauthorization() {
    within(async {
        let server = InteropServer::start();
        let session = server.confidential();
        let mut user = user_grant(&server, &session).await;
        let access_token = text(user.access_token());

        server.revoke(user.refresh_token()).await;

        let error = user.refresh_access_token().await.unwrap_err();
        assert!(error.is_reauthorization_required(), "{error}");
        assert!(!error.is_transient());
        assert_eq!(text(user.access_token()), access_token);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_refresh_token_requires_reauthorization() {
    within(async {
        let server = InteropServer::start_with(&[("INTEROP_REFRESH_TOKEN_TTL", "3")]);
        let session = server.confidential();
        let mut user = user_grant(&server, &session).await;
        user.refresh_access_token().await.unwrap();

        tokio::time::sleep(Duration::from_secs(5)).await;

        let error = user.refresh_access_token().await.unwrap_err();
        assert!(error.is_reauthorization_required(), "{error}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_session_refreshes_once_for_fifty_callers() {
    within(async {
        let server = InteropServer::start();
        let clock = ManualClock::new();
        let session = server
            .builder(Credentials::new(CONFIDENTIAL_ID, CONFIDENTIAL_SECRET))
            .clock(clock.clone())
            .expiry_margin(Duration::from_secs(10))
            .build()
            .unwrap();
        let user = user_grant(&server, &session).await;
        let first = text(user.access_token());

        let renewals = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&renewals);
        let shared = SharedSession::builder(user)
            .on_token_change(move |event| {
                if matches!(event, TokenEvent::Renewed(_)) {
                    counted.fetch_add(1, Ordering::SeqCst);
                }
            })
            .build();
        assert_eq!(text(&shared.access_token().await.unwrap()), first);

        // 55 of the 60 s later the token is within the 10 s margin: due.
        clock.advance(Duration::from_secs(55));
        assert!(shared.snapshot().is_expired());
        let callers: Vec<_> = (0..50)
            .map(|_| {
                let shared = shared.clone();
                tokio::spawn(async move { text(&shared.access_token().await.unwrap()) })
            })
            .collect();
        let mut tokens = Vec::new();
        for caller in callers {
            tokens.push(caller.await.unwrap());
        }

        assert_eq!(renewals.load(Ordering::SeqCst), 1);
        assert_ne!(tokens[0], first);
        assert!(tokens.iter().all(|token| *token == tokens[0]));
        assert!(!shared.snapshot().is_expired());
    })
    .await;
}
