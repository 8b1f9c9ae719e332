//! What a test can change in the fake's behaviour.

use std::time::Duration;

/// The behaviour of [`FakeAccounts`](super::FakeAccounts) that varies between real
/// deployments, and the failures it should inject.
///
/// Set them at start with [`FakeAccountsBuilder::knobs`](super::FakeAccountsBuilder::knobs)
/// and while running with [`FakeAccounts::update_knobs`](super::FakeAccounts::update_knobs);
/// a change applies from the next request on, to tokens already issued as well.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Knobs {
    /// Validity of new access tokens, sent as `expires_in` in whole seconds. Default one
    /// hour, as Spotify.
    pub access_token_lifetime: Duration,
    /// Validity of an authorization code. Default ten minutes.
    pub code_lifetime: Duration,
    /// What a refresh answers in place of the refresh token. Default
    /// [`RefreshPolicy::Omit`].
    pub refresh_policy: RefreshPolicy,
    /// Age, counted from the user's authorization, at which a refresh token stops working
    /// (`invalid_grant`, `Refresh token revoked`). Refreshing does not extend it. Default
    /// 183 days, Spotify's six months.
    pub refresh_token_max_age: Duration,
    /// Whether a refresh answer carries `scope`. Default false: Spotify usually leaves it
    /// out.
    pub scope_on_refresh: bool,
    /// When set, only the requested scopes in this list are granted; the others are
    /// silently left out, as when a user unticks them. Default `None`: every requested
    /// scope is granted.
    pub grantable_scopes: Option<Vec<String>>,
    /// Time every answer of `/api/token` waits before it is sent, injected failures
    /// included. Default zero.
    pub token_delay: Duration,
    /// How many of the next answers of `/api/token` are a load balancer's HTML page with
    /// status 503. They come before the 429 answers.
    pub html_503_answers: u32,
    /// How many of the next answers of `/api/token` are a 429 with a `Retry-After` header.
    pub too_many_requests_answers: u32,
    /// The `Retry-After` of the 429 answers, sent in whole seconds rounded up. Default one
    /// second.
    pub retry_after: Duration,
    /// How many of the next valid authorize requests are refused by the user
    /// (`error=access_denied`).
    pub denied_authorizations: u32,
}

impl Default for Knobs {
    fn default() -> Self {
        Self {
            access_token_lifetime: Duration::from_secs(3600),
            code_lifetime: Duration::from_secs(10 * 60),
            refresh_policy: RefreshPolicy::Omit,
            refresh_token_max_age: Duration::from_secs(183 * 24 * 3600),
            scope_on_refresh: false,
            grantable_scopes: None,
            token_delay: Duration::ZERO,
            html_503_answers: 0,
            too_many_requests_answers: 0,
            retry_after: Duration::from_secs(1),
            denied_authorizations: 0,
        }
    }
}

/// What a successful refresh answers about the refresh token. All three happen in practice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RefreshPolicy {
    /// A new refresh token is sent and the old one stops working (`Invalid refresh token`).
    Rotate,
    /// The same refresh token is sent again.
    Keep,
    /// No `refresh_token` field: the old one stays valid.
    #[default]
    Omit,
}
