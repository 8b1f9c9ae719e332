//! What the fake remembers: clients, codes, tokens, knobs and counters.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;

use super::client::FakeClient;
use super::counters::Counters;
use super::knobs::Knobs;

/// Everything the handlers share.
pub(crate) struct Shared {
    clients: HashMap<String, FakeClient>,
    state: Mutex<State>,
}

impl Shared {
    pub(crate) fn new(clients: Vec<FakeClient>, knobs: Knobs) -> Self {
        let clients = clients
            .into_iter()
            .map(|client| (client.id().to_owned(), client))
            .collect();
        let state = State {
            knobs,
            ..State::default()
        };
        Self {
            clients,
            state: Mutex::new(state),
        }
    }

    pub(crate) fn client(&self, id: &str) -> Option<&FakeClient> {
        self.clients.get(id)
    }

    pub(crate) fn client_ids(&self) -> impl Iterator<Item = &str> {
        self.clients.keys().map(String::as_str)
    }

    /// The mutable state. A handler that panicked cannot leave it inconsistent in a way
    /// that matters to a test, so a poisoned lock is taken over.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The mutable part of the fake.
#[derive(Default)]
pub(crate) struct State {
    pub(crate) knobs: Knobs,
    pub(crate) counters: Counters,
    codes: HashMap<String, Authorization>,
    access_tokens: HashMap<String, AccessGrant>,
    refresh_tokens: HashMap<String, RefreshGrant>,
    revoked: HashSet<String>,
}

/// What a user authorized, remembered under its code until the code is exchanged.
pub(crate) struct Authorization {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) code_challenge: Option<String>,
    pub(crate) issued_at: Instant,
}

/// What a refresh token stands for.
#[derive(Clone)]
pub(crate) struct RefreshGrant {
    pub(crate) client_id: String,
    pub(crate) scopes: Vec<String>,
    /// Whether the user flow used PKCE, which lets a refresh go without a secret.
    pub(crate) pkce: bool,
    /// When the user authorized: refreshing does not extend the token's life.
    pub(crate) authorized_at: Instant,
}

/// The state of a refresh token.
pub(crate) enum RefreshStatus {
    Live(RefreshGrant),
    Revoked,
    Unknown,
}

struct AccessGrant {
    issued_at: Instant,
    lifetime: Duration,
}

impl State {
    /// Remembers an authorization and returns its fresh code.
    pub(crate) fn issue_code(&mut self, authorization: Authorization) -> String {
        let code = fresh_token("AQ", |candidate| self.codes.contains_key(candidate));
        self.codes.insert(code.clone(), authorization);
        code
    }

    /// The authorization of a code not exchanged yet.
    pub(crate) fn code(&self, code: &str) -> Option<&Authorization> {
        self.codes.get(code)
    }

    /// Takes a code out: it is single-use, whatever the exchange answers.
    pub(crate) fn take_code(&mut self, code: &str) -> Option<Authorization> {
        self.codes.remove(code)
    }

    /// Issues an access token valid for the current lifetime knob.
    pub(crate) fn issue_access_token(&mut self) -> String {
        let token = fresh_token("BQ", |candidate| self.access_tokens.contains_key(candidate));
        let grant = AccessGrant {
            issued_at: Instant::now(),
            lifetime: self.knobs.access_token_lifetime,
        };
        self.access_tokens.insert(token.clone(), grant);
        token
    }

    pub(crate) fn is_valid_access_token(&self, token: &str) -> bool {
        self.access_tokens
            .get(token)
            .is_some_and(|grant| grant.issued_at.elapsed() < grant.lifetime)
    }

    pub(crate) fn issue_refresh_token(&mut self, grant: RefreshGrant) -> String {
        let token = fresh_token("AQ", |candidate| {
            self.refresh_tokens.contains_key(candidate) || self.revoked.contains(candidate)
        });
        self.refresh_tokens.insert(token.clone(), grant);
        token
    }

    /// Looks a refresh token up; one past its maximum age is revoked on the way.
    pub(crate) fn refresh_status(&mut self, token: &str) -> RefreshStatus {
        let max_age = self.knobs.refresh_token_max_age;
        let too_old = self
            .refresh_tokens
            .get(token)
            .is_some_and(|grant| grant.authorized_at.elapsed() >= max_age);
        if too_old {
            self.refresh_tokens.remove(token);
            self.revoked.insert(token.to_owned());
        }
        if self.revoked.contains(token) {
            return RefreshStatus::Revoked;
        }
        match self.refresh_tokens.get(token) {
            Some(grant) => RefreshStatus::Live(grant.clone()),
            None => RefreshStatus::Unknown,
        }
    }

    /// Forgets a refresh token that was replaced by a new one.
    pub(crate) fn retire_refresh_token(&mut self, token: &str) {
        self.refresh_tokens.remove(token);
    }

    pub(crate) fn revoke_refresh_tokens(&mut self) {
        self.revoked
            .extend(self.refresh_tokens.drain().map(|(token, _)| token));
    }
}

/// A random token (256 bits, base64url) with Spotify's look, unused so far.
fn fresh_token(prefix: &str, taken: impl Fn(&str) -> bool) -> String {
    loop {
        let mut bytes = [0_u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let token = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes));
        if !taken(&token) {
            return token;
        }
    }
}
