//! The renewal: started once, run on its own task, awaited by every caller.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use secrecy::SecretString;
use tokio::sync::watch;
use tokio::time::Instant;

use super::{Current, Inner, Renewable, TokenEvent};
use crate::error::{Error, Result};
use crate::retry::RetryPolicy;
use crate::session::Session;

/// The longest a failure holds back token requests, whatever `Retry-After` said.
const MAX_HOLD: Duration = Duration::from_secs(24 * 3600);

/// How a renewal ended, as every waiting task reads it.
#[derive(Clone)]
pub(super) enum Outcome {
    /// The new token, installed and (with a store) saved.
    Renewed(SecretString),
    /// The session was replaced while the renewal ran: its result was thrown away.
    Discarded,
    /// The token request failed; the grant is not dead.
    RequestFailed(Arc<Error>),
    /// The grant is dead, the store failed, or the renewal was abandoned.
    Failed(Arc<Error>),
}

/// A renewal in flight, as the callers wait for it.
#[derive(Clone)]
pub(super) struct Renewal {
    id: u64,
    outcome: watch::Receiver<Option<Outcome>>,
}

/// A failure that holds back token requests until `until`.
pub(super) struct Hold {
    until: Instant,
    error: Arc<Error>,
}

/// What a call of `access_token` does next.
enum Step {
    /// Hand out this token.
    Ready(SecretString),
    /// Fail with this error, without a request.
    Failed(Error),
    /// Wait for this renewal.
    Wait(Renewal),
}

/// What the task of a new renewal starts from.
struct Start<S: Renewable> {
    id: u64,
    session: Session<S>,
    generation: u64,
    outcome: watch::Sender<Option<Outcome>>,
}

impl Renewal {
    /// Waits for the renewal's end; dropping this future leaves the renewal running.
    async fn finished(mut self) -> Outcome {
        let outcome = self.outcome.wait_for(Option::is_some).await;
        match outcome.as_deref() {
            Ok(Some(outcome)) => outcome.clone(),
            Ok(None) | Err(_) => Outcome::Failed(Arc::new(Error::RenewalAbandoned)),
        }
    }
}

/// The token for one call: the current one, or the one a renewal brings, or, when the
/// renewal's request failed, the current one while it has not expired (unless `force`).
pub(super) async fn token<S: Renewable>(
    inner: &Arc<Inner<S>>,
    mut force: bool,
) -> Result<SecretString> {
    loop {
        let renewal = match next_step(inner, force) {
            Step::Ready(token) => return Ok(token),
            Step::Failed(error) => return Err(error),
            Step::Wait(renewal) => renewal,
        };
        match renewal.finished().await {
            Outcome::Renewed(token) => return Ok(token),
            // The replacement was not what a forced renewal refused: look at it afresh.
            Outcome::Discarded => force = false,
            Outcome::RequestFailed(error) if !force => return fall_back(inner, &error),
            Outcome::RequestFailed(error) | Outcome::Failed(error) => return Err(share(&error)),
        }
    }
}

/// Decides, under the state's lock, whether to hand out the token, fail, join the renewal
/// in flight, or start one, which is then spawned outside the lock.
fn next_step<S: Renewable>(inner: &Arc<Inner<S>>, force: bool) -> Step {
    if let Some(step) = settled(&inner.state.borrow(), force) {
        return step;
    }
    let mut step = None;
    let mut start = None;
    inner.state.send_if_modified(|current| {
        if let Some(settled) = settled(current, force) {
            step = Some(settled);
            return false;
        }
        if let Some(renewal) = &current.renewal {
            step = Some(Step::Wait(renewal.clone()));
            return false;
        }
        let (renewal, new) = begin(current);
        step = Some(Step::Wait(renewal));
        start = Some(new);
        true
    });
    if let Some(start) = start {
        tokio::spawn(run(Arc::clone(inner), start));
    }
    step.unwrap_or_else(|| unreachable!("every branch above sets the step"))
}

/// The step that needs no renewal: a dead grant, (unless forced) a token not yet due, or a
/// failure that still holds requests back.
fn settled<S: Renewable>(current: &Current<S>, force: bool) -> Option<Step> {
    if let Some(refusal) = &current.refusal {
        return Some(Step::Failed(share(refusal)));
    }
    if !force && !current.session.is_expired() {
        return Some(Step::Ready(current.session.access_token().clone()));
    }
    let hold = current
        .hold
        .as_ref()
        .filter(|hold| Instant::now() < hold.until)?;
    tracing::trace!(grant = %S::GRANT, "token request held back by an earlier failure");
    Some(match usable(current) {
        Some(token) if !force => Step::Ready(token),
        _ => Step::Failed(share(&hold.error)),
    })
}

/// The current token, unless the grant is dead or the token has expired (not merely
/// entered the expiry margin).
fn usable<S: Renewable>(current: &Current<S>) -> Option<SecretString> {
    let valid = current.refusal.is_none() && current.session.expires_in() > TimeDelta::zero();
    valid.then(|| current.session.access_token().clone())
}

/// After a failed token request: the current token while it works, else the error.
fn fall_back<S: Renewable>(inner: &Inner<S>, error: &Arc<Error>) -> Result<SecretString> {
    let token = usable(&inner.state.borrow());
    token.ok_or_else(|| share(error))
}

fn begin<S: Renewable>(current: &mut Current<S>) -> (Renewal, Start<S>) {
    let id = current.next_renewal_id;
    current.next_renewal_id += 1;
    current.hold = None;
    let (sender, receiver) = watch::channel(None);
    let renewal = Renewal {
        id,
        outcome: receiver,
    };
    current.renewal = Some(renewal.clone());
    let start = Start {
        id,
        session: current.session.clone(),
        generation: current.generation,
        outcome: sender,
    };
    (renewal, start)
}

/// The renewal's task: the request with its retries, then the store and the state.
async fn run<S: Renewable>(inner: Arc<Inner<S>>, start: Start<S>) {
    let Start {
        id,
        mut session,
        generation,
        outcome,
    } = start;
    let mut completion = Completion {
        inner: Arc::clone(&inner),
        id,
        generation,
        pending: None,
        outcome: Some(outcome),
    };
    tracing::debug!(grant = %S::GRANT, "token renewal started");

    let result = match request_with_retries(&inner.retry, &mut session).await {
        Ok(()) => adopt(&mut completion, session).await,
        Err(error) => reject(&completion, error).await,
    };
    completion.finish(result);
}

async fn request_with_retries<S: Renewable>(
    policy: &RetryPolicy,
    session: &mut Session<S>,
) -> Result<()> {
    let mut retries = 0;
    loop {
        let error = match S::renew(session).await {
            Ok(()) => return Ok(()),
            Err(error) => error,
        };
        let Some(delay) = policy.retry_delay(retries, &error) else {
            if error
                .retry_after()
                .is_some_and(|wait| wait > policy.retry_after_ceiling())
            {
                tracing::debug!(grant = %S::GRANT, "retry-after above the ceiling, not retrying");
            }
            return Err(error);
        };
        retries += 1;
        tracing::debug!(
            grant = %S::GRANT,
            retry = retries,
            delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            %error,
            "token request failed, retrying",
        );
        tokio::time::sleep(delay).await;
    }
}

/// Saves and installs a renewed session, unless it was replaced meanwhile. During the save
/// the session also waits in `completion`, which installs it should the task end first.
async fn adopt<S: Renewable>(completion: &mut Completion<S>, session: Session<S>) -> Outcome {
    let inner = Arc::clone(&completion.inner);
    let id = completion.id;
    let _writing = inner.writing.lock().await;
    if inner.state.borrow().generation != completion.generation {
        inner.state.send_modify(|current| end(current, id));
        tracing::debug!(grant = %S::GRANT, "token renewal discarded: the session was replaced");
        return Outcome::Discarded;
    }

    let stored = S::stored(&session);
    completion.pending = Some(session.clone());
    let saved = inner.save(&stored).await;
    completion.pending = None;
    let token = session.access_token().clone();
    inner.state.send_modify(|current| {
        current.install(session, saved.is_ok());
        end(current, id);
    });
    inner.notify(&TokenEvent::Renewed(&stored));

    match saved {
        Ok(()) => {
            tracing::debug!(grant = %S::GRANT, expires_at = %stored.expires_at(), "token renewed");
            Outcome::Renewed(token)
        }
        Err(error) => {
            tracing::warn!(grant = %S::GRANT, %error, "token renewed but not stored");
            Outcome::Failed(Arc::new(error))
        }
    }
}

/// Ends a failed renewal: holds back the next requests when the failure says so; an
/// `invalid_grant` marks the grant dead instead.
async fn reject<S: Renewable>(completion: &Completion<S>, error: Error) -> Outcome {
    let error = Arc::new(error);
    tracing::warn!(grant = %S::GRANT, %error, "token renewal failed");
    if error.is_reauthorization_required() {
        return refuse(completion, error).await;
    }

    let inner = &completion.inner;
    let hold = inner.retry.hold_after(&error).map(|wait| {
        let wait = wait.min(MAX_HOLD);
        tracing::debug!(grant = %S::GRANT, wait_s = wait.as_secs(), "token requests held back");
        Hold {
            until: Instant::now() + wait,
            error: Arc::clone(&error),
        }
    });
    let mut replaced = false;
    let mut still_usable = false;
    inner.state.send_modify(|current| {
        replaced = current.generation != completion.generation;
        still_usable = usable(current).is_some();
        current.hold = hold;
        end(current, completion.id);
    });
    inner.notify(&TokenEvent::RenewalFailed(&error));
    if replaced {
        return Outcome::Discarded;
    }
    if still_usable {
        tracing::warn!(grant = %S::GRANT, "the current token stays in use until it expires");
    }
    Outcome::RequestFailed(error)
}

/// Ends a renewal refused with `invalid_grant`: the grant is dead and the store cleared,
/// unless the session was replaced meanwhile.
async fn refuse<S: Renewable>(completion: &Completion<S>, error: Arc<Error>) -> Outcome {
    let inner = &completion.inner;
    let _writing = inner.writing.lock().await;
    let current_grant = inner.state.borrow().generation == completion.generation;
    inner.state.send_modify(|current| {
        if current_grant {
            current.refusal = Some(Arc::clone(&error));
            // Nothing to catch up with: the store is cleared below.
            current.unsaved = false;
        }
        end(current, completion.id);
    });
    inner.notify(&TokenEvent::RenewalFailed(&error));
    if !current_grant {
        return Outcome::Discarded;
    }
    tracing::warn!(grant = %S::GRANT, "the grant is dead: the user must authorize again");
    if let Err(cleared) = inner.clear_store().await {
        tracing::warn!(error = %cleared, "the dead grant could not be cleared from the store");
    }
    Outcome::Failed(error)
}

/// Forgets renewal `id` if it is the one in flight.
fn end<S: Renewable>(current: &mut Current<S>, id: u64) {
    if current
        .renewal
        .as_ref()
        .is_some_and(|renewal| renewal.id == id)
    {
        current.renewal = None;
    }
}

/// Publishes the renewal's outcome. Dropped without `finish` (the task panicked, or its
/// runtime shut down), it installs the session `pending` in the middle of its save, so
/// that a rotated refresh token is not lost, forgets the renewal so that the next call
/// starts another, and tells the waiting tasks.
struct Completion<S: Renewable> {
    inner: Arc<Inner<S>>,
    id: u64,
    generation: u64,
    pending: Option<Session<S>>,
    outcome: Option<watch::Sender<Option<Outcome>>>,
}

impl<S: Renewable> Completion<S> {
    fn finish(&mut self, result: Outcome) {
        if let Some(outcome) = self.outcome.take() {
            outcome.send_replace(Some(result));
        }
    }
}

impl<S: Renewable> Drop for Completion<S> {
    fn drop(&mut self) {
        let Some(outcome) = self.outcome.take() else {
            return;
        };
        let pending = self.pending.take();
        tracing::warn!(
            grant = %S::GRANT,
            kept_unsaved = pending.is_some(),
            "token renewal abandoned: its task panicked or its runtime shut down",
        );
        self.inner.state.send_modify(|current| {
            if let Some(session) = pending
                && current.generation == self.generation
            {
                current.install(session, false);
            }
            end(current, self.id);
        });
        outcome.send_replace(Some(Outcome::Failed(Arc::new(Error::RenewalAbandoned))));
    }
}

/// A copy of a renewal's error for one waiting task: the same variant when it can be
/// copied, else [`Error::Shared`].
fn share(error: &Arc<Error>) -> Error {
    match &**error {
        Error::TokenEndpoint {
            grant,
            status,
            code,
            description,
            retry_after,
        } => Error::TokenEndpoint {
            grant: *grant,
            status: *status,
            code: code.clone(),
            description: description.clone(),
            retry_after: *retry_after,
        },
        Error::UnexpectedResponse {
            grant,
            status,
            excerpt,
            retry_after,
        } => Error::UnexpectedResponse {
            grant: *grant,
            status: *status,
            excerpt: excerpt.clone(),
            retry_after: *retry_after,
        },
        Error::MalformedTokenResponse {
            grant,
            status,
            reason,
        } => Error::MalformedTokenResponse {
            grant: *grant,
            status: *status,
            reason: reason.clone(),
        },
        Error::MissingClientSecret => Error::MissingClientSecret,
        Error::Store { source } => Error::Store {
            source: source.clone(),
        },
        Error::RenewalAbandoned => Error::RenewalAbandoned,
        _ => Error::Shared(Arc::clone(error)),
    }
}
