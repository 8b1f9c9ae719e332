//! Counts of the requests the fake received.

/// A grant of `/api/token`, as named by the request's `grant_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GrantKind {
    /// `authorization_code`, with or without PKCE.
    AuthorizationCode,
    /// `client_credentials`.
    ClientCredentials,
    /// `refresh_token`.
    RefreshToken,
    /// A missing, repeated or unknown `grant_type`, or a body that is not a form.
    Unsupported,
}

impl GrantKind {
    /// The kind named by a `grant_type` value.
    pub(crate) fn from_grant_type(grant_type: Option<&str>) -> Self {
        match grant_type {
            Some("authorization_code") => Self::AuthorizationCode,
            Some("client_credentials") => Self::ClientCredentials,
            Some("refresh_token") => Self::RefreshToken,
            _ => Self::Unsupported,
        }
    }
}

/// How many requests [`FakeAccounts`](super::FakeAccounts) received since it started,
/// whatever their answer (errors and injected failures included).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counters {
    /// Requests of `GET /authorize`.
    pub authorize: u64,
    /// Requests of `/api/token` with `grant_type=authorization_code`.
    pub authorization_code: u64,
    /// Requests of `/api/token` with `grant_type=client_credentials`.
    pub client_credentials: u64,
    /// Requests of `/api/token` with `grant_type=refresh_token`.
    pub refresh_token: u64,
    /// Other requests of `/api/token` (see [`GrantKind::Unsupported`]).
    pub unsupported: u64,
}

impl Counters {
    /// Requests of `/api/token` of one grant.
    pub fn token_requests(&self, kind: GrantKind) -> u64 {
        match kind {
            GrantKind::AuthorizationCode => self.authorization_code,
            GrantKind::ClientCredentials => self.client_credentials,
            GrantKind::RefreshToken => self.refresh_token,
            GrantKind::Unsupported => self.unsupported,
        }
    }

    /// Requests of `/api/token`, all grants together.
    pub fn total_token_requests(&self) -> u64 {
        self.authorization_code + self.client_credentials + self.refresh_token + self.unsupported
    }

    pub(crate) fn count_token_request(&mut self, kind: GrantKind) {
        let counter = match kind {
            GrantKind::AuthorizationCode => &mut self.authorization_code,
            GrantKind::ClientCredentials => &mut self.client_credentials,
            GrantKind::RefreshToken => &mut self.refresh_token,
            GrantKind::Unsupported => &mut self.unsupported,
        };
        *counter += 1;
    }
}
