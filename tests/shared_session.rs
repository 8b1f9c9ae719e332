//! `SharedSession`: one token request in flight whatever the number of callers, retries,
//! cancellation, rotation under concurrency, and a dead grant.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use httpmock::Method::POST;
use httpmock::MockServer;
use secrecy::ExposeSecret as _;
use serde_json::json;
use spotify_session::testing::{FakeAccounts, FakeClient, GrantKind, Knobs, RefreshPolicy};
use spotify_session::{
    AuthorizeOptions, Authorized, ClientCredentials, Error, MemoryStore, OAuthErrorCode,
    RetryPolicy, Scope, Session, SharedSession, StoredToken, TokenEvent, TokenStore as _,
    Unauthenticated,
};
use support::{CLIENT_ID, CLIENT_SECRET, ManualClock, REDIRECT_URI};

const TWO_HOURS: Duration = Duration::from_secs(2 * 3600);

async fn fake(knobs: impl FnOnce(&mut Knobs)) -> FakeAccounts {
    FakeAccounts::builder()
        .client(FakeClient::confidential(CLIENT_ID, CLIENT_SECRET).redirect_uri(REDIRECT_URI))
        .knobs(knobs)
        .start()
        .await
        .expect("the fake starts")
}

/// A user's grant from the fake, through the authorization-code flow.
async fn user_grant(
    fake: &FakeAccounts,
    session: &Session<Unauthenticated>,
) -> Session<Authorized> {
    let pending = session
        .begin_authorization(&AuthorizeOptions::new().scopes([Scope::UserReadEmail]))
        .unwrap();
    let callback = fake.authorize(pending.url().as_str()).await.unwrap();
    session
        .complete_authorization(pending, callback.as_str())
        .await
        .unwrap()
}

/// Retries without real waiting, unless a test asks for `Retry-After`.
fn quick_retries() -> RetryPolicy {
    RetryPolicy::new().initial_backoff(Duration::from_millis(5))
}

/// Calls `access_token` from `callers` tasks at once and returns what each got.
async fn call_concurrently<S: spotify_session::Renewable>(
    shared: &SharedSession<S>,
    callers: usize,
) -> Vec<spotify_session::Result<String>> {
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let shared = shared.clone();
            tokio::spawn(async move {
                shared
                    .access_token()
                    .await
                    .map(|token| token.expose_secret().to_owned())
            })
        })
        .collect();
    let mut results = Vec::with_capacity(callers);
    for task in tasks {
        results.push(task.await.expect("the caller does not panic"));
    }
    results
}

/// Every caller got the same token, which the fake issued and is not `old`.
fn assert_all_got_one_new_token(
    fake: &FakeAccounts,
    results: Vec<spotify_session::Result<String>>,
    old: &str,
) -> String {
    let tokens: Vec<String> = results.into_iter().map(Result::unwrap).collect();
    let first = tokens[0].clone();
    assert!(tokens.iter().all(|token| *token == first));
    assert_ne!(first, old);
    assert!(fake.is_valid_access_token(&first));
    first
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_callers_of_an_expired_grant_cause_one_refresh() {
    let fake = fake(|knobs| knobs.token_delay = Duration::from_millis(50)).await;
    let clock = ManualClock::new();
    let session = support::confidential(fake.url(), clock.clone());
    let user = user_grant(&fake, &session).await;
    let old = user.access_token().expose_secret().to_owned();
    let shared = SharedSession::new(user);
    clock.advance(TWO_HOURS);

    let results = call_concurrently(&shared, 200).await;

    assert_all_got_one_new_token(&fake, results, &old);
    assert_eq!(fake.token_requests(GrantKind::RefreshToken), 1);
    assert!(!shared.snapshot().is_expired());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_callers_of_an_expired_app_token_cause_one_request() {
    let fake = fake(|knobs| knobs.token_delay = Duration::from_millis(50)).await;
    let clock = ManualClock::new();
    let session = support::confidential(fake.url(), clock.clone());
    let app: Session<ClientCredentials> = session.request_credentials_token().await.unwrap();
    let old = app.access_token().expose_secret().to_owned();
    let shared = SharedSession::new(app);
    clock.advance(TWO_HOURS);

    let results = call_concurrently(&shared, 200).await;

    assert_all_got_one_new_token(&fake, results, &old);
    // The first token, then the one renewal.
    assert_eq!(fake.token_requests(GrantKind::ClientCredentials), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_callers_share_one_retried_refresh() {
    let fake = fake(|_| {}).await;
    let clock = ManualClock::new();
    let session = support::confidential(fake.url(), clock.clone());
    let user = user_grant(&fake, &session).await;
    let old = user.access_token().expose_secret().to_owned();
    let shared = SharedSession::builder(user)
        .retry_policy(quick_retries())
        .build();
    clock.advance(TWO_HOURS);
    fake.answer_next_with_503(1);

    let results = call_concurrently(&shared, 200).await;

    assert_all_got_one_new_token(&fake, results, &old);
    assert_eq!(fake.token_requests(GrantKind::RefreshToken), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_under_concurrency_keeps_the_grant_alive() {
    let fake = fake(|knobs| knobs.refresh_policy = RefreshPolicy::Rotate).await;
    let clock = ManualClock::new();
    let session = support::confidential(fake.url(), clock.clone());
    let user = user_grant(&fake, &session).await;
    let store = MemoryStore::new();
    let shared = SharedSession::builder(user).store(store.clone()).build();

    for round in 1..=50 {
        clock.advance(TWO_HOURS);
        let results = call_concurrently(&shared, 20).await;
        let tokens: Vec<String> = results.into_iter().map(Result::unwrap).collect();
        assert!(
            tokens.iter().all(|token| *token == tokens[0]),
            "round {round}"
        );
        assert_eq!(fake.token_requests(GrantKind::RefreshToken), round);
    }

    let stored = store
        .load()
        .await
        .unwrap()
        .expect("the last grant is stored");
    let refresh_token = stored.refresh_token().unwrap().expose_secret();
    assert!(fake.is_live_refresh_token(refresh_token));
    let token = shared.renew_access_token().await.unwrap();
    assert!(fake.is_valid_access_token(token.expose_secret()));
    assert!(!shared.is_reauthorization_required());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_caller_does_not_stop_the_refresh_others_wait_for() {
    let fake = fake(|knobs| knobs.token_delay = Duration::from_millis(400)).await;
    let clock = ManualClock::new();
    let session = support::confidential(fake.url(), clock.clone());
    let user = user_grant(&fake, &session).await;
    let old = user.access_token().expose_secret().to_owned();
    let shared = SharedSession::new(user);
    clock.advance(TWO_HOURS);

    // The caller that starts the refresh gives up long before the answer.
    let impatient = tokio::time::timeout(Duration::from_millis(50), shared.access_token()).await;
    assert!(impatient.is_err(), "the first caller timed out");
    assert!(shared.snapshot().is_renewing());

    let waiters = call_concurrently(&shared, 10).await;
    let token = assert_all_got_one_new_token(&fake, waiters, &old);

    let later = shared.access_token().await.unwrap();
    assert_eq!(later.expose_secret(), token);
    assert_eq!(fake.token_requests(GrantKind::RefreshToken), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_waiter_among_others_changes_nothing() {
    let fake = fake(|knobs| knobs.token_delay = Duration::from_millis(400)).await;
    let clock = ManualClock::new();
    let session = support::confidential(fake.url(), clock.clone());
    let user = user_grant(&fake, &session).await;
    let old = user.access_token().expose_secret().to_owned();
    let shared = SharedSession::new(user);
    clock.advance(TWO_HOURS);

    let others = {
        let shared = shared.clone();
        tokio::spawn(async move { call_concurrently(&shared, 10).await })
    };
    tokio::select! {
        _ = shared.access_token() => panic!("the refresh answers after 400 ms"),
        () = tokio::time::sleep(Duration::from_millis(100)) => {}
    }

    let results = others.await.unwrap();
    assert_all_got_one_new_token(&fake, results, &old);
    assert_eq!(fake.token_requests(GrantKind::RefreshToken), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_token_is_handed_out_while_a_renewal_runs() {
    let fake = fake(|knobs| knobs.token_delay = Duration::from_millis(1500)).await;
    let clock = ManualClock::new();
    let session = support::confidential(fake.url(), clock);
    let user = user_grant(&fake, &session).await;
    let old = user.access_token().expose_secret().to_owned();
    let shared = SharedSession::new(user);

    let forced = {
        let shared = shared.clone();
        tokio::spawn(async move { shared.renew_access_token().await })
    };
    while !shared.snapshot().is_renewing() {
        tokio::task::yield_now().await;
    }
    let read = shared.access_token().await.unwrap();
    assert!(
        shared.snapshot().is_renewing(),
        "read before the renewal's answer"
    );
    assert_eq!(read.expose_secret(), old);

    let new = forced.await.unwrap().unwrap();
    assert_ne!(new.expose_secret(), old);
    assert_eq!(
        shared.access_token().await.unwrap().expose_secret(),
        new.expose_secret()
    );
}

#[tokio::test]
async fn invalid_grant_requires_reauthorization_and_clears_the_store() {
    let fake = fake(|_| {}).await;
    let clock = ManualClock::new();
    let session = support::confidential(fake.url(), clock.clone());
    let user = user_grant(&fake, &session).await;
    let store = MemoryStore::new();
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&events);
    let shared = SharedSession::builder(user)
        .store(store.clone())
        .retry_policy(quick_retries())
        .on_token_change(move |event| {
            if let TokenEvent::RenewalFailed(error) = event {
                seen.lock()
                    .unwrap()
                    .push(error.is_reauthorization_required());
            }
        })
        .build();
    shared.save().await.unwrap();
    assert!(store.load().await.unwrap().is_some());
    fake.revoke_refresh_tokens();
    clock.advance(TWO_HOURS);

    let error = shared.access_token().await.unwrap_err();

    assert!(error.is_reauthorization_required(), "{error:?}");
    assert!(!error.is_transient());
    assert_eq!(fake.token_requests(GrantKind::RefreshToken), 1);
    assert!(shared.is_reauthorization_required());
    assert!(
        store.load().await.unwrap().is_none(),
        "the store was cleared"
    );
    assert_eq!(*events.lock().unwrap(), [true]);

    // Later calls fail at once, without a request.
    let again = shared.renew_access_token().await.unwrap_err();
    assert!(again.is_reauthorization_required());
    assert_eq!(fake.token_requests(GrantKind::RefreshToken), 1);

    // The user authorizes again: the new grant replaces the dead one.
    let user = user_grant(&fake, &session).await;
    shared.replace(user).await.unwrap();
    assert!(!shared.is_reauthorization_required());
    let token = shared.access_token().await.unwrap();
    assert!(fake.is_valid_access_token(token.expose_secret()));
    assert!(store.load().await.unwrap().is_some());
}

#[tokio::test]
async fn a_503_is_retried_once_then_succeeds() {
    let fake = fake(|_| {}).await;
    let clock = ManualClock::new();
    let session = support::confidential(fake.url(), clock.clone());
    let user = user_grant(&fake, &session).await;
    let shared = SharedSession::builder(user)
        .retry_policy(quick_retries())
        .build();
    clock.advance(TWO_HOURS);
    fake.answer_next_with_503(1);

    let token = shared.access_token().await.unwrap();

    assert!(fake.is_valid_access_token(token.expose_secret()));
    assert_eq!(fake.token_requests(GrantKind::RefreshToken), 2);
}

#[tokio::test]
async fn a_429_waits_for_its_retry_after() {
    let fake = fake(|_| {}).await;
    let clock = ManualClock::new();
    let session = support::confidential(fake.url(), clock.clone());
    let user = user_grant(&fake, &session).await;
    let shared = SharedSession::builder(user)
        .retry_policy(quick_retries().max_retry_after(Duration::from_secs(5)))
        .build();
    clock.advance(TWO_HOURS);
    fake.answer_next_with_429(1, Duration::from_secs(1));

    let started = Instant::now();
    let token = shared.access_token().await.unwrap();
    let waited = started.elapsed();

    assert!(fake.is_valid_access_token(token.expose_secret()));
    assert_eq!(fake.token_requests(GrantKind::RefreshToken), 2);
    assert!(waited >= Duration::from_millis(900), "waited {waited:?}");
    assert!(waited < Duration::from_secs(4), "waited {waited:?}");
}

#[tokio::test]
async fn a_retry_after_above_the_ceiling_fails_at_once() {
    let fake = fake(|_| {}).await;
    let clock = ManualClock::new();
    let session = support::confidential(fake.url(), clock.clone());
    let user = user_grant(&fake, &session).await;
    let shared = SharedSession::builder(user)
        .retry_policy(quick_retries().max_retry_after(Duration::from_secs(5)))
        .build();
    clock.advance(TWO_HOURS);
    fake.answer_next_with_429(1, Duration::from_secs(3600));

    let started = Instant::now();
    let error = shared.access_token().await.unwrap_err();

    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(error.retry_after(), Some(Duration::from_secs(3600)));
    assert_eq!(error.status().map(|status| status.as_u16()), Some(429));
    assert!(error.is_transient());
    assert_eq!(fake.token_requests(GrantKind::RefreshToken), 1);
    assert!(!shared.is_reauthorization_required());
}

#[tokio::test]
async fn retries_are_bounded_and_can_be_turned_off() {
    let fake = fake(|_| {}).await;
    let clock = ManualClock::new();
    let session = support::confidential(fake.url(), clock.clone());
    let user = user_grant(&fake, &session).await;
    let bounded = SharedSession::builder(user.clone())
        .retry_policy(quick_retries().max_retries(2))
        .build();
    let none = SharedSession::builder(user)
        .retry_policy(RetryPolicy::none())
        .build();
    clock.advance(TWO_HOURS);

    fake.answer_next_with_503(10);
    let error = bounded.access_token().await.unwrap_err();
    assert!(error.is_transient());
    assert_eq!(error.status().map(|status| status.as_u16()), Some(503));
    assert_eq!(fake.token_requests(GrantKind::RefreshToken), 3);

    assert!(none.access_token().await.unwrap_err().is_transient());
    assert_eq!(fake.token_requests(GrantKind::RefreshToken), 4);
}

#[tokio::test]
async fn an_oauth_error_is_never_retried() {
    let server = MockServer::start_async().await;
    let refused = server
        .mock_async(|when, then| {
            when.method(POST).path("/api/token");
            then.status(401).json_body(
                json!({"error": "invalid_client", "error_description": "Invalid client"}),
            );
        })
        .await;
    let session = support::confidential(&server.base_url(), ManualClock::new());
    let expired = StoredToken::new("old-access", session_epoch()).with_refresh_token("old-refresh");
    let shared = SharedSession::builder(session.restore(expired).unwrap())
        .retry_policy(quick_retries().max_retries(5))
        .build();

    let error = shared.access_token().await.unwrap_err();

    assert_eq!(error.oauth_error(), Some(&OAuthErrorCode::InvalidClient));
    assert_eq!(refused.calls_async().await, 1);
    // Not a dead grant: the next call asks again.
    assert!(!shared.is_reauthorization_required());
    shared.access_token().await.unwrap_err();
    assert_eq!(refused.calls_async().await, 2);
}

#[tokio::test]
async fn a_transport_failure_reaches_every_waiter() {
    // A port that was just free: the connection is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let session = support::confidential(&format!("http://127.0.0.1:{port}"), ManualClock::new());
    let expired = StoredToken::new("old-access", session_epoch()).with_refresh_token("r");
    let shared = SharedSession::builder(session.restore(expired).unwrap())
        .retry_policy(RetryPolicy::none())
        .build();

    let results = call_concurrently(&shared, 20).await;

    for result in results {
        let error = result.unwrap_err();
        assert!(error.is_transient(), "{error:?}");
        assert!(
            matches!(error, Error::Shared(_) | Error::Http { .. }),
            "{error:?}"
        );
        assert!(std::error::Error::source(&error).is_some());
    }
    assert!(!shared.snapshot().is_renewing());
}

#[tokio::test]
async fn the_hook_sees_every_renewal_and_the_snapshot_shows_it() {
    let fake = fake(|knobs| knobs.refresh_policy = RefreshPolicy::Rotate).await;
    let clock = ManualClock::new();
    let session = support::confidential(fake.url(), clock.clone());
    let user = user_grant(&fake, &session).await;
    let renewed = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&renewed);
    let shared = SharedSession::builder(user)
        .on_token_change(move |event| {
            if let TokenEvent::Renewed(token) = event {
                seen.lock().unwrap().push(token.expires_at());
            }
        })
        .build();

    for _ in 0..3 {
        clock.advance(TWO_HOURS);
        shared.access_token().await.unwrap();
    }

    let snapshot = shared.snapshot();
    assert_eq!(renewed.lock().unwrap().len(), 3);
    assert_eq!(renewed.lock().unwrap().last(), Some(&snapshot.expires_at()));
    assert_eq!(
        snapshot.expires_at(),
        clock.now_for_tests() + chrono::TimeDelta::hours(1)
    );
    assert!(snapshot.scopes().contains(&Scope::UserReadEmail));
    assert!(!snapshot.is_expired() && !snapshot.is_renewing());
}

#[tokio::test]
async fn debug_shows_no_secret() {
    let session = support::confidential("http://127.0.0.1:9", ManualClock::new());
    let stored =
        StoredToken::new("access-secret-1", session_epoch()).with_refresh_token("refresh-secret-2");
    let shared = SharedSession::builder(session.restore(stored).unwrap())
        .store(MemoryStore::new())
        .build();

    let debug = format!("{shared:?} {:?}", shared.snapshot());
    assert!(
        !debug.contains("secret-1") && !debug.contains("secret-2"),
        "{debug}"
    );
    assert!(!debug.contains(CLIENT_SECRET), "{debug}");
}

/// A time long past: tokens that expired then.
fn session_epoch() -> chrono::DateTime<chrono::Utc> {
    "2020-01-01T00:00:00Z".parse().unwrap()
}
