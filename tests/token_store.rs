//! Token stores: the file store's permissions, atomic replacement and errors, the memory
//! store, and how a `SharedSession` saves (before handing out, never on a transient
//! failure, keeping the token in memory when the save fails).

mod support;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use secrecy::ExposeSecret as _;
use spotify_session::testing::{FakeAccounts, GrantKind, RefreshPolicy};
use spotify_session::{
    Error, FileStore, MemoryStore, RetryPolicy, Scope, SharedSession, StoreError, StoredToken,
    TokenStore,
};
use support::{ManualClock, user_grant};

const TWO_HOURS: Duration = Duration::from_secs(2 * 3600);

fn token(access: &str, refresh: &str) -> StoredToken {
    StoredToken::new(access, "2026-12-03T13:00:00Z".parse().unwrap())
        .with_refresh_token(refresh)
        .with_scopes("user-read-email streaming".parse().unwrap())
}

fn access(token: &StoredToken) -> &str {
    token.access_token().expose_secret()
}

fn refresh(token: &StoredToken) -> &str {
    token.refresh_token().unwrap().expose_secret()
}

async fn fake(rotate: bool) -> FakeAccounts {
    support::fake_accounts(|knobs| {
        if rotate {
            knobs.refresh_policy = RefreshPolicy::Rotate;
        }
    })
    .await
}

/// The temporary files the file store leaves in `directory`.
fn leftovers(directory: &Path) -> Vec<String> {
    std::fs::read_dir(directory)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".tmp"))
        .collect()
}

#[tokio::test]
async fn a_missing_file_is_no_token_and_a_saved_one_reads_back() {
    let directory = tempfile::tempdir().unwrap();
    let store = FileStore::new(directory.path().join("token.json"));
    assert!(store.load().await.unwrap().is_none());

    store.save(&token("a1", "r1")).await.unwrap();
    let loaded = store.load().await.unwrap().unwrap();

    assert_eq!(access(&loaded), "a1");
    assert_eq!(refresh(&loaded), "r1");
    assert_eq!(loaded.scopes().to_string(), "streaming user-read-email");
    assert_eq!(loaded.expires_at(), token("a1", "r1").expires_at());
    assert!(leftovers(directory.path()).is_empty());

    store.clear().await.unwrap();
    assert!(store.load().await.unwrap().is_none());
    store.clear().await.unwrap();
}

#[cfg(unix)]
#[tokio::test]
async fn the_file_is_created_owner_only_and_stays_so() {
    use std::os::unix::fs::PermissionsExt as _;

    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("token.json");
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let store = FileStore::new(&path);

    store.save(&token("a1", "r1")).await.unwrap();
    assert_eq!(mode(&path), 0o600);

    // A file someone made readable by all is replaced by an owner-only one.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    store.save(&token("a2", "r2")).await.unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(access(&store.load().await.unwrap().unwrap()), "a2");
}

#[tokio::test]
async fn a_crash_before_the_rename_leaves_the_old_token() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("token.json");
    let store = FileStore::new(&path);
    store
        .save(&token("old-access", "old-refresh"))
        .await
        .unwrap();

    // What a process killed between writing the temporary file and renaming it leaves:
    // half of the new file, under a temporary name beside the old one.
    let new = token("new-access", "new-refresh").to_json();
    let half = &new.expose_secret().as_bytes()[..new.expose_secret().len() / 2];
    std::fs::write(
        directory.path().join(".token.json.0123456789abcdef.tmp"),
        half,
    )
    .unwrap();

    let loaded = store.load().await.unwrap().unwrap();
    assert_eq!(access(&loaded), "old-access");
    assert_eq!(refresh(&loaded), "old-refresh");

    // The next save does not trip over the leftover.
    store
        .save(&token("new-access", "new-refresh"))
        .await
        .unwrap();
    assert_eq!(access(&store.load().await.unwrap().unwrap()), "new-access");
}

#[tokio::test]
async fn a_corrupt_or_unreadable_file_is_an_error_not_no_token() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("token.json");
    let store = FileStore::new(&path);

    let whole = token("a", "r").to_json();
    for corrupt in [
        &whole.expose_secret()[..20],
        "",
        "not json",
        r#"{"version":1,"access_token":"a"}"#,
        &whole
            .expose_secret()
            .replace("\"version\": 1", "\"version\": 7"),
    ] {
        std::fs::write(&path, corrupt).unwrap();
        let error = store.load().await.unwrap_err();
        assert!(
            matches!(&error, StoreError::Corrupt { path: Some(at), .. } if *at == path),
            "{corrupt:?}: {error:?}"
        );
        assert!(error.to_string().contains("token.json"), "{error}");
        assert!(std::error::Error::source(&error).is_some());
    }

    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    let error = store.load().await.unwrap_err();
    assert!(matches!(error, StoreError::Read { .. }), "{error:?}");
}

#[tokio::test]
async fn a_corrupt_file_shows_no_secret_in_its_error() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("token.json");
    std::fs::write(
        &path,
        r#"{"version":1,"access_token":"secret-xyz","expires_at":5}"#,
    )
    .unwrap();

    let error = FileStore::new(&path).load().await.unwrap_err();
    let mut text = format!("{error:?}");
    let mut source: Option<&dyn std::error::Error> = Some(&error);
    while let Some(error) = source {
        text.push_str(&error.to_string());
        source = error.source();
    }
    assert!(!text.contains("secret-xyz"), "{text}");
}

#[tokio::test]
async fn loading_keeps_an_expired_access_token_whose_refresh_token_still_works() {
    let fake = fake(false).await;
    let session = support::confidential(fake.url(), ManualClock::new());
    let user = user_grant(&fake, &session).await;
    let directory = tempfile::tempdir().unwrap();
    let store = FileStore::new(directory.path().join("token.json"));
    // Stored long ago: the access token expired since.
    let past: DateTime<Utc> = "2020-01-01T00:00:00Z".parse().unwrap();
    let old = StoredToken::new(user.access_token().clone(), past)
        .with_refresh_token(user.refresh_token().clone())
        .with_scopes(user.scopes().clone());
    store.save(&old).await.unwrap();

    let loaded = store.load().await.unwrap().unwrap();
    assert_eq!(loaded.expires_at(), past);
    let restored = session.restore(loaded).unwrap();
    assert!(restored.is_expired());
    assert!(restored.scopes().contains(&Scope::UserReadEmail));

    let shared = SharedSession::builder(restored)
        .store(store.clone())
        .build();
    let token = shared.access_token().await.unwrap();
    assert!(fake.is_valid_access_token(token.expose_secret()));
    let saved = store.load().await.unwrap().unwrap();
    assert_eq!(saved.access_token().expose_secret(), token.expose_secret());
    assert!(saved.expires_at() > past);
}

#[tokio::test]
async fn a_restart_finds_the_rotated_refresh_token() {
    let fake = fake(true).await;
    let clock = ManualClock::new();
    let session = support::confidential(fake.url(), clock.clone());
    let directory = tempfile::tempdir().unwrap();
    let store = FileStore::new(directory.path().join("token.json"));
    let shared = SharedSession::builder(user_grant(&fake, &session).await)
        .store(store.clone())
        .build();
    shared.save().await.unwrap();
    for _ in 0..3 {
        clock.advance(TWO_HOURS);
        shared.access_token().await.unwrap();
    }
    drop(shared);

    // A new process: load, restore, refresh.
    let stored = store.load().await.unwrap().unwrap();
    assert!(fake.is_live_refresh_token(refresh(&stored)));
    let restarted = SharedSession::new(session.restore(stored).unwrap());
    let token = restarted.renew_access_token().await.unwrap();
    assert!(fake.is_valid_access_token(token.expose_secret()));
}

/// A store that records, for each save, the token saved; it can be told to fail.
#[derive(Debug, Clone, Default)]
struct RecordingStore {
    saved: Arc<Mutex<Vec<String>>>,
    failing: Arc<Mutex<bool>>,
    delay: Duration,
}

impl TokenStore for RecordingStore {
    async fn load(&self) -> Result<Option<StoredToken>, StoreError> {
        Ok(None)
    }

    async fn save(&self, token: &StoredToken) -> Result<(), StoreError> {
        tokio::time::sleep(self.delay).await;
        if *self.failing.lock().unwrap() {
            return Err(StoreError::other("the disk is full"));
        }
        self.saved.lock().unwrap().push(access(token).to_owned());
        Ok(())
    }

    async fn clear(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_token_is_saved_before_anyone_gets_it() {
    let fake = fake(true).await;
    let clock = ManualClock::new();
    let session = support::confidential(fake.url(), clock.clone());
    let store = RecordingStore {
        delay: Duration::from_millis(200),
        ..RecordingStore::default()
    };
    let shared = SharedSession::builder(user_grant(&fake, &session).await)
        .store(store.clone())
        .build();
    clock.advance(TWO_HOURS);

    // Callers keep coming while the slow save runs: none may get the token before it.
    let tasks: Vec<_> = (0..20)
        .map(|caller| {
            let shared = shared.clone();
            let saved = Arc::clone(&store.saved);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(caller * 15)).await;
                for _ in 0..20 {
                    let token = shared.access_token().await.unwrap();
                    let saved = saved.lock().unwrap().clone();
                    assert_eq!(
                        saved.last().map(String::as_str),
                        Some(token.expose_secret())
                    );
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(store.saved.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_transient_failure_leaves_the_store_alone() {
    let fake = fake(false).await;
    let clock = ManualClock::new();
    let session = support::confidential(fake.url(), clock.clone());
    let store = MemoryStore::new();
    let shared = SharedSession::builder(user_grant(&fake, &session).await)
        .store(store.clone())
        .retry_policy(
            RetryPolicy::new()
                .max_retries(1)
                .initial_backoff(Duration::ZERO),
        )
        .build();
    shared.save().await.unwrap();
    let before = store.load().await.unwrap().unwrap();
    clock.advance(TWO_HOURS);
    fake.answer_next_with_503(2);

    let error = shared.access_token().await.unwrap_err();

    assert!(error.is_transient());
    assert!(!shared.is_reauthorization_required());
    let after = store.load().await.unwrap().unwrap();
    assert_eq!(access(&after), access(&before));
    assert_eq!(refresh(&after), refresh(&before));
    assert_eq!(after.expires_at(), before.expires_at());
}

#[tokio::test]
async fn a_failed_save_fails_the_refresh_but_keeps_the_new_token_in_memory() {
    let fake = fake(true).await;
    let clock = ManualClock::new();
    let session = support::confidential(fake.url(), clock.clone());
    let user = user_grant(&fake, &session).await;
    let old = user.access_token().expose_secret().to_owned();
    // The directory of the token file is a plain file: every save fails.
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(directory.path().join("not-a-directory"), "").unwrap();
    let path = directory.path().join("not-a-directory").join("token.json");
    let shared = SharedSession::builder(user)
        .store(FileStore::new(&path))
        .build();
    clock.advance(TWO_HOURS);

    let error = shared.access_token().await.unwrap_err();

    let Error::Store { source } = &error else {
        panic!("a store error, not {error:?}");
    };
    assert!(
        matches!(source, StoreError::Write { path: at, .. } if *at == path),
        "{source:?}"
    );
    assert_eq!(fake.token_requests(GrantKind::RefreshToken), 1);

    // The new token is in memory, handed out without a second request.
    let token = shared.access_token().await.unwrap();
    assert_ne!(token.expose_secret(), old);
    assert!(fake.is_valid_access_token(token.expose_secret()));
    assert_eq!(fake.token_requests(GrantKind::RefreshToken), 1);
    assert!(leftovers(directory.path()).is_empty());

    // So is the rotated refresh token: the old one is dead, yet the grant still refreshes.
    clock.advance(TWO_HOURS);
    let next = shared.access_token().await;
    assert!(matches!(next, Err(Error::Store { .. })), "{next:?}");
    assert!(!shared.is_reauthorization_required());
    assert_eq!(fake.token_requests(GrantKind::RefreshToken), 2);
}

#[tokio::test]
async fn a_store_of_your_own_reports_its_error() {
    let fake = fake(false).await;
    let clock = ManualClock::new();
    let session = support::confidential(fake.url(), clock.clone());
    let store = RecordingStore::default();
    *store.failing.lock().unwrap() = true;
    let shared = SharedSession::builder(user_grant(&fake, &session).await)
        .store(Arc::new(store.clone()))
        .build();
    clock.advance(TWO_HOURS);

    let error = shared.access_token().await.unwrap_err();

    assert!(
        matches!(
            &error,
            Error::Store {
                source: StoreError::Other(_)
            }
        ),
        "{error:?}"
    );
    let mut chain = Vec::new();
    let mut source: Option<&dyn std::error::Error> = Some(&error);
    while let Some(error) = source {
        chain.push(error.to_string());
        source = error.source();
    }
    assert_eq!(
        chain,
        [
            "token storage failed",
            "the token store failed",
            "the disk is full"
        ]
    );

    // Once the store works again, `save` catches up.
    *store.failing.lock().unwrap() = false;
    shared.save().await.unwrap();
    let token = shared.access_token().await.unwrap();
    assert_eq!(
        store.saved.lock().unwrap().as_slice(),
        [token.expose_secret()]
    );
}

#[tokio::test]
async fn the_memory_store_is_shared_by_its_clones() {
    let store = MemoryStore::new();
    let other = store.clone();
    assert!(store.load().await.unwrap().is_none());

    store.save(&token("a1", "r1")).await.unwrap();
    assert_eq!(access(&other.load().await.unwrap().unwrap()), "a1");

    other.clear().await.unwrap();
    assert!(store.load().await.unwrap().is_none());
    let debug = format!(
        "{:?}",
        MemoryStore::with_token(token("a-secret", "r-secret"))
    );
    assert!(!debug.contains("secret"), "{debug}");
}

#[tokio::test]
async fn restoring_needs_a_refresh_token_for_a_users_grant() {
    let session = support::confidential("http://127.0.0.1:9", ManualClock::new());
    let app_token = StoredToken::new("app", Utc::now() + TimeDelta::hours(1));

    let error = session.restore(app_token.clone()).unwrap_err();
    assert!(matches!(
        error,
        Error::Store {
            source: StoreError::MissingRefreshToken
        }
    ));

    let app = session.restore_credentials_token(app_token);
    assert_eq!(app.access_token().expose_secret(), "app");
    assert_eq!(app.stored_token().refresh_token().map(|_| ()), None);
    let stored = session.restore(token("a", "r")).unwrap().stored_token();
    assert_eq!((access(&stored), refresh(&stored)), ("a", "r"));
}
