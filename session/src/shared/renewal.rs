//! The renewal: started once, run on its own task, awaited by every caller.

use std::sync::Arc;

use secrecy::SecretString;
use tokio::sync::watch;

use super::{Current, Inner, Renewable, TokenEvent};
use crate::error::{Error, Result};
use crate::retry::RetryPolicy;
use crate::session::Session;

/// How a renewal ended, as every waiting task reads it.
type Outcome = std::result::Result<(), Arc<Error>>;

/// A renewal in flight, as the callers wait for it.
#[derive(Clone)]
pub(super) struct Renewal {
    id: u64,
    outcome: watch::Receiver<Option<Outcome>>,
}

/// What a call of `access_token` does next.
pub(super) enum Step {
    /// Hand out this token.
    Ready(SecretString),
    /// The grant is dead: fail with this error.
    Refused(Error),
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
    pub(super) async fn finished(mut self) -> Result<()> {
        let outcome = self.outcome.wait_for(Option::is_some).await;
        match outcome.as_deref() {
            Ok(Some(Err(error))) => Err(share(error)),
            Ok(_) => Ok(()),
            Err(_) => Err(Error::RenewalAbandoned),
        }
    }
}

/// Decides, under the state's lock, whether to hand out the token, fail, join the renewal
/// in flight, or start one, which is then spawned outside the lock.
pub(super) fn next_step<S: Renewable>(inner: &Arc<Inner<S>>, force: bool) -> Step {
    if !force && let Some(step) = settled(&inner.state.borrow(), force) {
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

/// The step that needs no renewal: a dead grant, or (unless forced) a token not yet due.
fn settled<S: Renewable>(current: &Current<S>, force: bool) -> Option<Step> {
    if let Some(refusal) = &current.refusal {
        return Some(Step::Refused(share(refusal)));
    }
    if !force && !current.session.is_expired() {
        return Some(Step::Ready(current.session.access_token().clone()));
    }
    None
}

fn begin<S: Renewable>(current: &mut Current<S>) -> (Renewal, Start<S>) {
    let id = current.next_renewal_id;
    current.next_renewal_id += 1;
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
        outcome: Some(outcome),
    };
    tracing::debug!(grant = %S::GRANT, "token renewal started");

    let result = match request_with_retries(&inner.retry, &mut session).await {
        Ok(()) => adopt(&inner, session, generation, id).await,
        Err(error) => reject(&inner, error, generation, id).await,
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

/// Saves and installs a renewed session, unless it was replaced meanwhile.
async fn adopt<S: Renewable>(
    inner: &Inner<S>,
    session: Session<S>,
    generation: u64,
    id: u64,
) -> Outcome {
    let _writing = inner.writing.lock().await;
    if inner.state.borrow().generation != generation {
        inner.state.send_modify(|current| end(current, id));
        tracing::debug!(grant = %S::GRANT, "token renewal discarded: the session was replaced");
        return Ok(());
    }

    let stored = S::stored(&session);
    let saved = inner.save(&stored).await;
    inner.state.send_modify(|current| {
        current.install(session);
        end(current, id);
    });
    inner.notify(&TokenEvent::Renewed(&stored));

    match &saved {
        Ok(()) => tracing::debug!(
            grant = %S::GRANT,
            expires_at = %stored.expires_at(),
            "token renewed",
        ),
        Err(error) => tracing::warn!(
            grant = %S::GRANT,
            %error,
            "token renewed but not stored",
        ),
    }
    saved.map_err(Arc::new)
}

/// Ends a failed renewal; an `invalid_grant` marks the grant dead and clears the store.
async fn reject<S: Renewable>(inner: &Inner<S>, error: Error, generation: u64, id: u64) -> Outcome {
    let error = Arc::new(error);
    tracing::warn!(grant = %S::GRANT, %error, "token renewal failed");
    if !error.is_reauthorization_required() {
        inner.state.send_modify(|current| end(current, id));
        inner.notify(&TokenEvent::RenewalFailed(&error));
        return Err(error);
    }

    let _writing = inner.writing.lock().await;
    let current_grant = inner.state.borrow().generation == generation;
    inner.state.send_modify(|current| {
        if current_grant {
            current.refusal = Some(Arc::clone(&error));
        }
        end(current, id);
    });
    inner.notify(&TokenEvent::RenewalFailed(&error));
    if current_grant {
        tracing::warn!(grant = %S::GRANT, "the grant is dead: the user must authorize again");
        if let Err(cleared) = inner.clear_store().await {
            tracing::warn!(error = %cleared, "the dead grant could not be cleared from the store");
        }
    }
    Err(error)
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
/// runtime shut down), it forgets the renewal so that the next call starts another, and
/// tells the waiting tasks.
struct Completion<S: Renewable> {
    inner: Arc<Inner<S>>,
    id: u64,
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
        if let Some(outcome) = self.outcome.take() {
            self.inner
                .state
                .send_modify(|current| end(current, self.id));
            outcome.send_replace(Some(Err(Arc::new(Error::RenewalAbandoned))));
        }
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
