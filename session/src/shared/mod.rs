//! `SharedSession`: one session whose token many tasks use and one of them renews.

mod renewal;

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use tokio::sync::{Mutex, watch};

use crate::error::{Error, GrantType, Result};
use crate::retry::RetryPolicy;
use crate::scope::Scopes;
use crate::session::{Authorized, ClientCredentials, HoldsToken, Session};
use crate::store::{DynStore, StoreError, StoredToken, TokenStore};

use self::renewal::{Hold, Renewal};

/// A session shared by every task of a service, which keeps its access token fresh.
///
/// It holds a [`Session<Authorized>`] (a user's grant, renewed with its refresh token) or a
/// [`Session<ClientCredentials>`] (the app's own token, renewed by asking for a new one).
/// Clones are cheap (one `Arc`) and share everything; it is `Send` and `Sync`. Every task
/// calls [`access_token`](Self::access_token) before a Web API request and gets the current
/// token, renewed first when it is due: expired, or within the session's expiry margin.
/// The name says what it is, the session itself shared, rather than a "token manager":
/// it keeps the session's type-state, so a client-credentials token can never be taken
/// for a user's.
///
/// **One request at a time.** However many tasks find the token due at once, exactly one
/// token request is in flight for the session. The tasks that come while it runs wait for
/// its result and then take the token it brought; a task that finds no renewal running
/// and a valid token takes it at once. A renewal still running when the session is
/// [replaced](Self::replace) is discarded, and the tasks that waited for it look at the
/// replacement instead, renewing it first if it is due: none is handed a token unchecked.
///
/// **No lock across the request.** The state is behind a lock held only to read or swap
/// it, never across the request, the backoff or the store: a task that finds a valid token
/// gets it at once even while a renewal, forced or due, is running.
///
/// **Cancellation.** The renewal runs on a task of its own (`tokio::spawn`); the callers
/// only wait for its result. Dropping a caller's future (a timeout, a `select!`, a client
/// that hung up) neither cancels nor corrupts the renewal: the others still get its token,
/// and the next call does not start a second request. A save that catches the store up
/// (see below) runs on a task of its own too.
///
/// **Retries.** A renewal that fails transiently (network, timeout, 5xx, 429) is tried
/// again after a backoff with jitter, or after the service's `Retry-After` up to a ceiling,
/// as the [`RetryPolicy`] says; an OAuth error (`invalid_grant`, `invalid_client`, …) is
/// never retried. A shared session never exchanges an authorization code: it is given a
/// session that already holds a grant, so no code can be sent twice. A retried refresh
/// cannot know whether the failed one reached Spotify; if it did and Spotify rotated the
/// refresh token, the retry is refused with `invalid_grant`.
///
/// **Holding back.** A failed renewal also holds back the next token requests, so that
/// callers in a loop cannot hammer a service that is limiting them: until its `Retry-After`
/// has passed when it carried one that was not waited for (above the ceiling, or after the
/// last retry; at most a day), or for the policy's
/// [cooldown](RetryPolicy::failure_cooldown) (5 s by default) after a failure that no
/// retry can cure (`invalid_client`, a 4xx answer, …). Meanwhile every call that needs a
/// new token gets that failure's error at once, without a request. A transient failure
/// without `Retry-After` holds nothing back: the next call tries again.
///
/// **Failures.** A token request that fails, after its retries, leaves the token and the
/// store as they were. While the current access token has not expired (it is due only
/// because it entered the expiry margin), [`access_token`](Self::access_token) still hands
/// it out, to the tasks that waited and to the later ones, and each later call that finds
/// no failure holding requests back tries to renew it again; a `warn` is logged once per
/// failed renewal. Once the token has expired, and always for
/// [`renew_access_token`](Self::renew_access_token) (the Web API refused the token), the
/// error is reported to every task that waited for the renewal. When the refresh token is
/// refused with `invalid_grant`, the grant is dead:
/// [`is_reauthorization_required`](Self::is_reauthorization_required) turns true, every
/// call fails at once with that error and no request, valid token or not, and the store
/// is cleared (a failure to clear it is logged, not returned); [`replace`](Self::replace)
/// installs the new grant after the user authorized again.
///
/// **Persistence.** With a [`TokenStore`], every successful renewal is saved, the merged
/// token (new access token, the refresh token sent back or else the old one, scopes,
/// absolute expiry), before any task is handed the new access token. Saves never overlap.
/// When the store fails to save it, the renewal fails with [`Error::Store`] for the tasks
/// that waited for it, yet the session in memory keeps the new token, for the refresh
/// token may have rotated and losing it there too would lose the grant. The session then
/// knows that the store lags behind: every later call saves the current token again before
/// it returns, one save at a time (a call that finds a save under way does not wait for
/// it), until a save succeeds; the token is handed out whether that save succeeds or not
/// (a failure is logged at `warn`). The same holds when the renewal's task ends in the
/// middle of its save, because the store panicked or the runtime shut down: the new token
/// is kept in memory, the waiting tasks get [`Error::RenewalAbandoned`], and the next call
/// saves it. A session fresh from the authorization-code flow is not stored until its
/// first renewal: call [`save`](Self::save) to store it at once.
///
/// A [hook](SharedSessionBuilder::on_token_change) sees every change, and `tracing` logs
/// the start, the retries, the success and the failure of each renewal (at `debug`, and
/// `warn` for failures), without any secret.
///
/// ```no_run
/// use spotify_session::{
///     Credentials, ExposeSecret as _, FileStore, Session, SharedSession, TokenStore as _,
/// };
///
/// # async fn run() -> Result<(), spotify_session::Error> {
/// let session = Session::builder(Credentials::from_env()?).build()?;
/// let store = FileStore::new("/var/lib/my-service/spotify-token.json");
/// let Some(stored) = store.load().await? else {
///     // Nothing stored: send the user through authorization first.
///     return Ok(());
/// };
/// let shared = SharedSession::builder(session.restore(stored)?)
///     .store(store)
///     .build();
///
/// let mut tasks = Vec::new();
/// for _ in 0..8 {
///     let shared = shared.clone();
///     tasks.push(tokio::spawn(async move {
///         let token = shared.access_token().await?;
///         // Send `Authorization: Bearer {token}` to the Web API.
///         Ok::<usize, spotify_session::Error>(token.expose_secret().len())
///     }));
/// }
/// # Ok(())
/// # }
/// ```
pub struct SharedSession<S: Renewable> {
    inner: Arc<Inner<S>>,
}

/// What the clones of a [`SharedSession`] share.
struct Inner<S: Renewable> {
    /// The current session and renewal. Used as a lock that is never held across an
    /// `await`: a `watch` sender can be read and changed without blocking on a task.
    state: watch::Sender<Current<S>>,
    /// Held while the store is written and the result installed, so that writes do not
    /// overlap and land in the order they are installed; the session changes only under it.
    writing: Mutex<()>,
    retry: RetryPolicy,
    store: Option<Box<dyn DynStore>>,
    hook: Option<Hook>,
}

type Hook = Box<dyn Fn(&TokenEvent<'_>) + Send + Sync>;

/// The state of a [`SharedSession`].
struct Current<S: Renewable> {
    session: Session<S>,
    /// Counts the sessions installed, so that a renewal started on a replaced session
    /// does not overwrite its replacement.
    generation: u64,
    /// The renewal in flight.
    renewal: Option<Renewal>,
    /// The `invalid_grant` that killed the grant.
    refusal: Option<Arc<Error>>,
    /// The failure that holds back token requests for a while.
    hold: Option<Hold>,
    /// Whether the store lacks the current token: its save failed or never ended.
    unsaved: bool,
    next_renewal_id: u64,
}

/// The states a [`SharedSession`] can keep fresh: [`Authorized`] (refreshed with its
/// refresh token) and [`ClientCredentials`] (renewed by asking for a new token). Sealed.
#[diagnostic::on_unimplemented(
    message = "a `SharedSession<{Self}>` cannot renew its token",
    label = "a shared session needs a session that holds a token",
    note = "share a `Session<Authorized>` or a `Session<ClientCredentials>`: get one with \
            `complete_authorization(..)`, `restore(..)` or `request_credentials_token()`"
)]
pub trait Renewable: HoldsToken + sealed::Renew {}

mod sealed {
    use std::future::Future;

    use crate::error::{GrantType, Result};
    use crate::session::{HoldsToken, Session};
    use crate::store::StoredToken;

    pub trait Renew: HoldsToken {
        /// The grant a renewal sends, for logs.
        const GRANT: GrantType;

        /// One token request; on failure the session is left as it was.
        fn renew(session: &mut Session<Self>) -> impl Future<Output = Result<()>> + Send;

        fn stored(session: &Session<Self>) -> StoredToken;
    }
}

impl sealed::Renew for Authorized {
    const GRANT: GrantType = GrantType::RefreshToken;

    fn renew(session: &mut Session<Self>) -> impl Future<Output = Result<()>> + Send {
        session.refresh_access_token()
    }

    fn stored(session: &Session<Self>) -> StoredToken {
        session.stored_token()
    }
}

impl sealed::Renew for ClientCredentials {
    const GRANT: GrantType = GrantType::ClientCredentials;

    fn renew(session: &mut Session<Self>) -> impl Future<Output = Result<()>> + Send {
        session.renew_access_token()
    }

    fn stored(session: &Session<Self>) -> StoredToken {
        session.stored_token()
    }
}

impl Renewable for Authorized {}
impl Renewable for ClientCredentials {}

/// A change of a [`SharedSession`]'s token, as its
/// [hook](SharedSessionBuilder::on_token_change) sees it.
#[derive(Debug)]
#[non_exhaustive]
pub enum TokenEvent<'a> {
    /// A renewal succeeded: the new token, as it was handed to the store (whether or not
    /// the store managed to save it).
    Renewed(&'a StoredToken),
    /// [`SharedSession::replace`] installed another grant.
    Replaced(&'a StoredToken),
    /// A renewal failed after its retries; the token is unchanged. With an error for which
    /// [`Error::is_reauthorization_required`] is true, the grant is dead.
    RenewalFailed(&'a Error),
}

/// What a [`SharedSession`] holds at one moment, without its secrets.
#[derive(Debug, Clone)]
pub struct TokenSnapshot {
    expires_at: DateTime<Utc>,
    scopes: Scopes,
    is_expired: bool,
    reauthorization_required: bool,
    renewing: bool,
}

impl TokenSnapshot {
    /// When the access token expires.
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }

    /// The scopes granted.
    pub fn scopes(&self) -> &Scopes {
        &self.scopes
    }

    /// Whether the token was due for renewal (expired, or within the expiry margin).
    pub fn is_expired(&self) -> bool {
        self.is_expired
    }

    /// Whether the grant was refused for good and the user must authorize again.
    pub fn is_reauthorization_required(&self) -> bool {
        self.reauthorization_required
    }

    /// Whether a renewal was in flight.
    pub fn is_renewing(&self) -> bool {
        self.renewing
    }
}

/// Sets up a [`SharedSession`]; made by [`SharedSession::builder`].
#[must_use]
pub struct SharedSessionBuilder<S: Renewable> {
    session: Session<S>,
    retry: RetryPolicy,
    store: Option<Box<dyn DynStore>>,
    hook: Option<Hook>,
}

impl<S: Renewable> SharedSessionBuilder<S> {
    /// How transient failures are retried; [`RetryPolicy::new`] by default,
    /// [`RetryPolicy::none`] to turn retries off.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Where every renewed token is saved before it is handed out. No store by default.
    pub fn store(mut self, store: impl TokenStore) -> Self {
        self.store = Some(Box::new(store));
        self
    }

    /// Calls `hook` on every change of the token, for metrics or a store of your own. It
    /// runs on the renewal's task, with saves held off: keep it short and do not block.
    /// A hook that panics fails the renewal with [`Error::RenewalAbandoned`], after the
    /// new token was installed.
    pub fn on_token_change(
        mut self,
        hook: impl Fn(&TokenEvent<'_>) + Send + Sync + 'static,
    ) -> Self {
        self.hook = Some(Box::new(hook));
        self
    }

    /// The shared session. Nothing is requested or saved yet.
    pub fn build(self) -> SharedSession<S> {
        let current = Current {
            session: self.session,
            generation: 0,
            renewal: None,
            refusal: None,
            hold: None,
            unsaved: false,
            next_renewal_id: 0,
        };
        SharedSession {
            inner: Arc::new(Inner {
                state: watch::Sender::new(current),
                writing: Mutex::new(()),
                retry: self.retry,
                store: self.store,
                hook: self.hook,
            }),
        }
    }
}

/// Sharing a session, and using it.
impl<S: Renewable> SharedSession<S> {
    /// Shares `session` with the default [`RetryPolicy`], no store and no hook.
    pub fn new(session: Session<S>) -> Self {
        Self::builder(session).build()
    }

    /// Starts sharing `session`: set a retry policy, a store and a hook, then `build`.
    pub fn builder(session: Session<S>) -> SharedSessionBuilder<S> {
        SharedSessionBuilder {
            session,
            retry: RetryPolicy::new(),
            store: None,
            hook: None,
        }
    }

    /// The access token, renewed first when it is due (expired or within the expiry
    /// margin). While a renewal runs, a caller that finds the token due waits for it
    /// instead of starting another; after it succeeded, its token is handed out. When the
    /// renewal fails but the current token has not expired yet, that token is handed out.
    /// When the store lags behind the current token, it is saved again first.
    ///
    /// # Errors
    ///
    /// When the current token has expired, the error of the renewal this call waited for,
    /// after its retries: see [`Session::refresh_access_token`] and
    /// [`Session::renew_access_token`]; or, while an earlier failure holds back requests,
    /// that failure's error, without a request. Errors that cannot be copied to every
    /// waiting task come as [`Error::Shared`]. [`Error::Store`] when the store failed to
    /// save the renewed token this call waited for (later calls get that token from memory
    /// and save it again). Once the grant was refused with `invalid_grant`, every call fails
    /// with that error ([`Error::is_reauthorization_required`]) and no request.
    /// [`Error::RenewalAbandoned`] when the renewal's task panicked or its runtime shut
    /// down.
    ///
    /// # Panics
    ///
    /// When a renewal or a save has to start outside a tokio runtime: they run on spawned
    /// tasks.
    pub async fn access_token(&self) -> Result<SecretString> {
        self.token(false).await
    }

    /// Renews the token now, whether it is due or not, and returns the new one; while a
    /// renewal is in flight, waits for that one instead. For a token the Web API refused
    /// with 401 before its time.
    ///
    /// Many tasks calling it one after the other each cause a request; call it once per
    /// refused token.
    ///
    /// # Errors
    ///
    /// As [`access_token`](Self::access_token), except that a failed renewal is reported
    /// even while the current token has not expired (the Web API refused it), and that
    /// while an earlier failure holds back requests, its error comes at once.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub async fn renew_access_token(&self) -> Result<SecretString> {
        self.token(true).await
    }

    /// The expiry and scopes of the current token, and whether it is being renewed or the
    /// grant is dead.
    pub fn snapshot(&self) -> TokenSnapshot {
        let current = self.inner.state.borrow();
        TokenSnapshot {
            expires_at: current.session.expires_at(),
            scopes: current.session.scopes().clone(),
            is_expired: current.session.is_expired(),
            reauthorization_required: current.refusal.is_some(),
            renewing: current.renewal.is_some(),
        }
    }

    /// Whether the grant was refused with `invalid_grant`: the user must authorize again,
    /// then [`replace`](Self::replace) the session. Always false for client credentials.
    pub fn is_reauthorization_required(&self) -> bool {
        self.inner.state.borrow().refusal.is_some()
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry
    }

    /// Installs another session in place of the current one, in every clone, typically
    /// the grant of a user who authorized again. It is saved to the store first. A renewal
    /// still in flight for the old session is discarded when it ends, and the tasks that
    /// waited for it look at the new session instead. A failure holding back requests
    /// (a `Retry-After`, a cooldown) still does: it concerns the client, not the grant.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the store fails to save it; it is installed all the same, and
    /// later calls of [`access_token`](Self::access_token) save it again.
    pub async fn replace(&self, session: Session<S>) -> Result<()> {
        let _writing = self.inner.writing.lock().await;
        let stored = S::stored(&session);
        let saved = self.inner.save(&stored).await;
        self.inner.state.send_modify(|current| {
            current.install(session, saved.is_ok());
        });
        self.inner.notify(&TokenEvent::Replaced(&stored));
        tracing::debug!(grant = %S::GRANT, "session replaced");
        saved
    }

    /// Saves the current token to the store now, for example a grant fresh from the
    /// authorization-code flow. After a failed save, [`access_token`](Self::access_token)
    /// does it on its own. Does nothing without a store.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the store fails.
    pub async fn save(&self) -> Result<()> {
        let _writing = self.inner.writing.lock().await;
        let stored = S::stored(&self.inner.state.borrow().session);
        self.inner.save(&stored).await?;
        self.inner
            .state
            .send_modify(|current| current.unsaved = false);
        Ok(())
    }

    async fn token(&self, force: bool) -> Result<SecretString> {
        let token = renewal::token(&self.inner, force).await?;
        self.catch_up_store().await;
        Ok(token)
    }

    /// Saves the current token if its last save failed or never ended. The save runs on a
    /// task of its own, so that a caller that gives up does not cut it short.
    async fn catch_up_store(&self) {
        if !self.inner.state.borrow().unsaved {
            return;
        }
        let inner = Arc::clone(&self.inner);
        if tokio::spawn(async move { inner.catch_up_store().await })
            .await
            .is_err()
        {
            tracing::warn!(grant = %S::GRANT, "the store panicked while saving the token");
        }
    }
}

impl<S: Renewable> Inner<S> {
    /// Saves the current token if the store lacks it, unless another save or a renewal's
    /// end is under way: one at a time, and the caller does not wait for another's.
    async fn catch_up_store(&self) {
        let Ok(_writing) = self.writing.try_lock() else {
            return;
        };
        let stored = {
            let current = self.state.borrow();
            if !current.unsaved || current.refusal.is_some() {
                return;
            }
            S::stored(&current.session)
        };
        match self.save(&stored).await {
            Ok(()) => {
                self.state.send_modify(|current| current.unsaved = false);
                tracing::debug!(grant = %S::GRANT, "the store caught up with the token");
            }
            Err(error) => {
                tracing::warn!(grant = %S::GRANT, %error, "the token is still not stored");
            }
        }
    }

    async fn save(&self, stored: &StoredToken) -> Result<()> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        store
            .save(stored)
            .await
            .map_err(|source| Error::Store { source })
    }

    async fn clear_store(&self) -> std::result::Result<(), StoreError> {
        match &self.store {
            Some(store) => store.clear().await,
            None => Ok(()),
        }
    }

    fn notify(&self, event: &TokenEvent<'_>) {
        if let Some(hook) = &self.hook {
            hook(event);
        }
    }
}

impl<S: Renewable> Current<S> {
    /// Puts a new session in place, which also revives a dead grant. `saved` says whether
    /// the store holds it.
    fn install(&mut self, session: Session<S>, saved: bool) {
        self.session = session;
        self.generation += 1;
        self.refusal = None;
        self.unsaved = !saved;
    }
}

impl<S: Renewable> Clone for SharedSession<S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<S: Renewable> fmt::Debug for SharedSession<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let current = self.inner.state.borrow();
        f.debug_struct("SharedSession")
            .field("session", &current.session)
            .field("renewing", &current.renewal.is_some())
            .field("reauthorization_required", &current.refusal.is_some())
            .field("held_back", &current.hold.is_some())
            .field("unsaved", &current.unsaved)
            .field("retry", &self.inner.retry)
            .field("store", &self.inner.store.is_some())
            .field("hook", &self.inner.hook.is_some())
            .finish()
    }
}

impl<S: Renewable> fmt::Debug for SharedSessionBuilder<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedSessionBuilder")
            .field("session", &self.session)
            .field("retry", &self.retry)
            .field("store", &self.store.is_some())
            .field("hook", &self.hook.is_some())
            .finish()
    }
}
