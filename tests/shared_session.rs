//! `SharedSession`: one token request in flight whatever the number of callers, retries,
//! cancellation, rotation under concurrency, and a dead grant.

mod support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use httpmock::Method::POST;
use httpmock::MockServer;
use secrecy::ExposeSecret as _;
use serde_json::json;
use spotify_session::testing::{FakeAccounts, GrantKind, RefreshPolicy};
use spotify_session::{
    ClientCredentials, Error, MemoryStore, OAuthErrorCode, RetryPolicy, Scope, Session,
    SharedSession, StoreError, StoredToken, TokenEvent, TokenStore,
};
use support::fake_accounts as fake;
use support::{CLIENT_SECRET, ManualClock, user_grant};

const TWO_HOURS: Duration = Duration::from_secs(2 * 3600);
/// From a fresh token to 30 s before its expiry: inside the default 60 s expiry margin, so
/// the token is due for renewal, yet it still works.
const INTO_THE_MARGIN: Duration = Duration::from_secs(3600 - 30);

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
    let fake = fake(|_| {}).await;
    let clock = ManualClock::new();
    let session = support::confidential(fake.url(), clock.clone());
    let user = user_grant(&fake, &session).await;
    let old = user.access_token().expose_secret().to_owned();
    let shared = SharedSession::new(user);
    // The answer comes long after the impatient caller gave up, even on a loaded machine.
    fake.update_knobs(|knobs| knobs.token_delay = Duration::from_secs(2));
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
    let fake = fake(|_| {}).await;
    let clock = ManualClock::new();
    let session = support::confidential(fake.url(), clock.clone());
    let user = user_grant(&fake, &session).await;
    let old = user.access_token().expose_secret().to_owned();
    let shared = SharedSession::new(user);
    fake.update_knobs(|knobs| knobs.token_delay = Duration::from_secs(2));
    clock.advance(TWO_HOURS);

    let others = {
        let shared = shared.clone();
        tokio::spawn(async move { call_concurrently(&shared, 10).await })
    };
    tokio::select! {
        _ = shared.access_token() => panic!("the refresh answers after 2 s"),
        () = tokio::time::sleep(Duration::from_millis(100)) => {}
    }

    let results = others.await.unwrap();
    assert_all_got_one_new_token(&fake, results, &old);
    assert_eq!(fake.token_requests(GrantKind::RefreshToken), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_token_is_handed_out_while_a_renewal_runs() {
    let fake = fake(|_| {}).await;
    let clock = ManualClock::new();
    let session = support::confidential(fake.url(), clock);
    let user = user_grant(&fake, &session).await;
    let old = user.access_token().expose_secret().to_owned();
    let shared = SharedSession::new(user);
    fake.update_knobs(|knobs| knobs.token_delay = Duration::from_millis(1500));

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
    let cooldown = Duration::from_millis(600);
    let shared = SharedSession::builder(session.restore(expired).unwrap())
        .retry_policy(quick_retries().max_retries(5).failure_cooldown(cooldown))
        .build();

    let error = shared.access_token().await.unwrap_err();

    assert_eq!(error.oauth_error(), Some(&OAuthErrorCode::InvalidClient));
    assert_eq!(refused.calls_async().await, 1);
    // Callers in a hot loop get the same error during the cooldown, without a request.
    for _ in 0..5 {
        let again = shared.access_token().await.unwrap_err();
        assert_eq!(again.oauth_error(), Some(&OAuthErrorCode::InvalidClient));
    }
    assert_eq!(refused.calls_async().await, 1);
    // Not a dead grant: after the cooldown the next call asks again.
    assert!(!shared.is_reauthorization_required());
    tokio::time::sleep(cooldown + Duration::from_millis(100)).await;
    shared.access_token().await.unwrap_err();
    assert_eq!(refused.calls_async().await, 2);
}

#[tokio::test]
async fn a_transport_failure_reaches_every_waiter() {
    // A port that was just free: the connection is refused.
    let port = support::free_port();
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

#[tokio::test]
async fn a_failed_renewal_still_hands_out_a_token_that_works() {
    let fake = fake(|_| {}).await;
    let clock = ManualClock::new();
    let session = support::confidential(fake.url(), clock.clone());
    let user = user_grant(&fake, &session).await;
    let old = user.access_token().expose_secret().to_owned();
    let shared = SharedSession::builder(user)
        .retry_policy(RetryPolicy::none())
        .build();
    clock.advance(INTO_THE_MARGIN);
    fake.answer_next_with_503(3);

    // Due but still valid: every waiter of the failed renewal gets the token that works.
    let results = call_concurrently(&shared, 20).await;
    assert!(results.into_iter().all(|token| token.unwrap() == old));
    assert_eq!(fake.token_requests(GrantKind::RefreshToken), 1);
    // The next call tries again, and still gets it.
    let token = shared.access_token().await.unwrap();
    assert_eq!(token.expose_secret(), old);
    assert_eq!(fake.token_requests(GrantKind::RefreshToken), 2);
    // A forced renewal wants another token than this one: it gets the error.
    let forced = shared.renew_access_token().await.unwrap_err();
    assert_eq!(forced.status().map(|status| status.as_u16()), Some(503));
    // Once the accounts service is back, the token is renewed.
    let new = shared.access_token().await.unwrap();
    assert_ne!(new.expose_secret(), old);
    assert_eq!(fake.token_requests(GrantKind::RefreshToken), 4);

    // An expired token is never handed out.
    clock.advance(TWO_HOURS);
    fake.answer_next_with_503(1);
    assert!(shared.access_token().await.unwrap_err().is_transient());

    // Nor is one of a dead grant, valid or not.
    shared.access_token().await.unwrap();
    clock.advance(INTO_THE_MARGIN);
    fake.revoke_refresh_tokens();
    let refused = shared.access_token().await.unwrap_err();
    assert!(refused.is_reauthorization_required(), "{refused:?}");
}

#[tokio::test]
async fn a_retry_after_above_the_ceiling_holds_back_every_later_call() {
    let fake = fake(|_| {}).await;
    let clock = ManualClock::new();
    let session = support::confidential(fake.url(), clock.clone());
    let user = user_grant(&fake, &session).await;
    let shared = SharedSession::builder(user)
        .retry_policy(quick_retries().max_retry_after(Duration::from_secs(5)))
        .build();
    clock.advance(TWO_HOURS);
    fake.answer_next_with_429(10, Duration::from_secs(3600));

    let mut errors = Vec::new();
    for _ in 0..5 {
        errors.push(shared.access_token().await.unwrap_err());
    }
    errors.push(shared.renew_access_token().await.unwrap_err());
    errors.extend(
        call_concurrently(&shared, 20)
            .await
            .into_iter()
            .map(|result| result.unwrap_err()),
    );

    for error in &errors {
        assert_eq!(error.retry_after(), Some(Duration::from_secs(3600)));
        assert_eq!(error.status().map(|status| status.as_u16()), Some(429));
    }
    assert_eq!(fake.token_requests(GrantKind::RefreshToken), 1);
    assert!(!shared.is_reauthorization_required());
}

#[tokio::test]
async fn a_held_back_renewal_hands_out_the_valid_token_until_it_expires() {
    let fake = fake(|_| {}).await;
    let clock = ManualClock::new();
    let session = support::confidential(fake.url(), clock.clone());
    let user = user_grant(&fake, &session).await;
    let old = user.access_token().expose_secret().to_owned();
    let shared = SharedSession::builder(user)
        .retry_policy(quick_retries().max_retry_after(Duration::from_secs(5)))
        .build();
    clock.advance(INTO_THE_MARGIN);
    fake.answer_next_with_429(10, Duration::from_secs(3600));

    for _ in 0..6 {
        let token = shared.access_token().await.unwrap();
        assert_eq!(token.expose_secret(), old);
    }
    assert_eq!(fake.token_requests(GrantKind::RefreshToken), 1);

    clock.advance(Duration::from_secs(60));
    let error = shared.access_token().await.unwrap_err();
    assert_eq!(error.retry_after(), Some(Duration::from_secs(3600)));
    assert_eq!(fake.token_requests(GrantKind::RefreshToken), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_replaced_during_a_renewal_is_checked_before_it_is_handed_out() {
    let fake = fake(|_| {}).await;
    let clock = ManualClock::new();
    let session = support::confidential(fake.url(), clock.clone());
    let first = user_grant(&fake, &session).await;
    let second = user_grant(&fake, &session).await;
    let replacement = second.access_token().expose_secret().to_owned();
    let shared = SharedSession::new(first);
    // Both grants' access tokens expire; the first refresh will be slow.
    clock.advance(TWO_HOURS);
    fake.update_knobs(|knobs| knobs.token_delay = Duration::from_secs(1));

    let waiting = {
        let shared = shared.clone();
        tokio::spawn(async move { shared.access_token().await })
    };
    // Once the first refresh has reached the fake (and got its delay), later ones are quick.
    while fake.token_requests(GrantKind::RefreshToken) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    fake.update_knobs(|knobs| knobs.token_delay = Duration::ZERO);
    shared.replace(second).await.unwrap();
    assert!(
        shared.snapshot().is_renewing(),
        "replaced during the first refresh"
    );
    let token = waiting.await.unwrap().unwrap();

    assert_ne!(
        token.expose_secret(),
        replacement,
        "the replacement's expired token"
    );
    assert!(fake.is_valid_access_token(token.expose_secret()));
    assert!(!shared.snapshot().is_expired());
    let later = shared.access_token().await.unwrap();
    assert_eq!(later.expose_secret(), token.expose_secret());
    // The first grant's refresh, discarded, then the replacement's.
    assert_eq!(fake.token_requests(GrantKind::RefreshToken), 2);
}

/// A memory store whose next saves fail, panic or never end, as a test tells it.
#[derive(Debug, Clone, Default)]
struct FlakyStore {
    memory: MemoryStore,
    failures: Arc<AtomicU32>,
    panics: Arc<AtomicU32>,
    hangs: Arc<AtomicU32>,
    hung: Arc<tokio::sync::Notify>,
}

impl FlakyStore {
    async fn stored_refresh_token(&self) -> String {
        let stored = self.memory.load().await.unwrap().expect("a stored grant");
        stored.refresh_token().unwrap().expose_secret().to_owned()
    }
}

/// Counts one down, unless it is zero already.
fn take_one(count: &AtomicU32) -> bool {
    count
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
            left.checked_sub(1)
        })
        .is_ok()
}

impl TokenStore for FlakyStore {
    async fn load(&self) -> Result<Option<StoredToken>, StoreError> {
        self.memory.load().await
    }

    async fn save(&self, token: &StoredToken) -> Result<(), StoreError> {
        assert!(!take_one(&self.panics), "the store broke down");
        if take_one(&self.hangs) {
            self.hung.notify_one();
            std::future::pending::<()>().await;
        }
        if take_one(&self.failures) {
            return Err(StoreError::other("the disk is full"));
        }
        self.memory.save(token).await
    }

    async fn clear(&self) -> Result<(), StoreError> {
        self.memory.clear().await
    }
}

#[tokio::test]
async fn a_failed_save_is_tried_again_until_the_store_holds_the_live_grant() {
    let fake = fake(|knobs| knobs.refresh_policy = RefreshPolicy::Rotate).await;
    let clock = ManualClock::new();
    let session = support::confidential(fake.url(), clock.clone());
    let user = user_grant(&fake, &session).await;
    let store = FlakyStore::default();
    let shared = SharedSession::builder(user).store(store.clone()).build();
    shared.save().await.unwrap();
    clock.advance(TWO_HOURS);
    store.failures.store(2, Ordering::SeqCst);

    // The refresh rotates the refresh token, then the save fails.
    let error = shared.access_token().await.unwrap_err();
    assert!(matches!(error, Error::Store { .. }), "{error:?}");
    assert!(!fake.is_live_refresh_token(&store.stored_refresh_token().await));

    // The disk is still full: the save fails again, the valid token is handed out.
    let token = shared.access_token().await.unwrap();
    assert!(fake.is_valid_access_token(token.expose_secret()));
    assert!(!fake.is_live_refresh_token(&store.stored_refresh_token().await));

    // The disk recovered: the next call saves the live grant first.
    let again = shared.access_token().await.unwrap();
    assert_eq!(again.expose_secret(), token.expose_secret());
    assert!(fake.is_live_refresh_token(&store.stored_refresh_token().await));
    let stored = store.load().await.unwrap().unwrap();
    assert_eq!(stored.access_token().expose_secret(), token.expose_secret());
    assert_eq!(fake.token_requests(GrantKind::RefreshToken), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_panics_while_saving_loses_no_rotated_refresh_token() {
    let fake = fake(|knobs| knobs.refresh_policy = RefreshPolicy::Rotate).await;
    let clock = ManualClock::new();
    let session = support::confidential(fake.url(), clock.clone());
    let user = user_grant(&fake, &session).await;
    let store = FlakyStore::default();
    let shared = SharedSession::builder(user).store(store.clone()).build();
    clock.advance(TWO_HOURS);
    store.panics.store(1, Ordering::SeqCst);

    let error = shared.access_token().await.unwrap_err();
    assert!(matches!(error, Error::RenewalAbandoned), "{error:?}");

    // The rotated refresh token was kept in memory: no second refresh, and the store
    // catches up.
    let token = shared.access_token().await.unwrap();
    assert!(fake.is_valid_access_token(token.expose_secret()));
    assert_eq!(fake.token_requests(GrantKind::RefreshToken), 1);
    assert!(fake.is_live_refresh_token(&store.stored_refresh_token().await));
    assert!(!shared.is_reauthorization_required());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runtime_shut_down_while_saving_loses_no_rotated_refresh_token() {
    let fake = fake(|knobs| knobs.refresh_policy = RefreshPolicy::Rotate).await;
    let clock = ManualClock::new();
    let session = support::confidential(fake.url(), clock.clone());
    let user = user_grant(&fake, &session).await;
    let store = FlakyStore::default();
    let shared = SharedSession::builder(user).store(store.clone()).build();
    clock.advance(TWO_HOURS);
    store.hangs.store(1, Ordering::SeqCst);

    // A runtime of its own starts the renewal and shuts down in the middle of the save.
    let renewing = shared.clone();
    let hung = Arc::clone(&store.hung);
    tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            tokio::spawn(async move { renewing.access_token().await });
            hung.notified().await;
        });
    })
    .await
    .unwrap();

    let token = shared.access_token().await.unwrap();
    assert!(fake.is_valid_access_token(token.expose_secret()));
    assert_eq!(fake.token_requests(GrantKind::RefreshToken), 1);
    assert!(fake.is_live_refresh_token(&store.stored_refresh_token().await));
}

/// A time long past: tokens that expired then.
fn session_epoch() -> chrono::DateTime<chrono::Utc> {
    "2020-01-01T00:00:00Z".parse().unwrap()
}
