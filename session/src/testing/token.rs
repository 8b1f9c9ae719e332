//! `POST /api/token`: the three grants, client authentication and injected failures.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::client::FakeClient;
use super::counters::GrantKind;
use super::knobs::RefreshPolicy;
use super::params::{Params, Repeated};
use super::state::{self, RefreshGrant, RefreshStatus, Shared};

/// The body of a successful answer, in Spotify's shape.
#[derive(Serialize)]
struct TokenAnswer {
    access_token: String,
    token_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

/// An RFC 6749 §5.2 error answer.
struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: Cow<'static, str>,
}

impl OAuthError {
    fn new(
        status: StatusCode,
        error: &'static str,
        description: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            error,
            description: description.into(),
        }
    }

    fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    fn invalid_grant(description: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    /// `invalid_client`: 401 when the client authenticated with the `Authorization` header
    /// (RFC 6749 §5.2), 400 otherwise.
    fn invalid_client(description: &'static str, via_header: bool) -> Self {
        let status = if via_header {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::BAD_REQUEST
        };
        Self::new(status, "invalid_client", description)
    }

    fn unsupported_grant_type(description: &'static str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            description,
        )
    }
}

impl From<Repeated> for OAuthError {
    fn from(Repeated(name): Repeated) -> Self {
        Self::invalid_request(format!("{name} was sent more than once"))
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Body<'a> {
            error: &'a str,
            error_description: &'a str,
        }
        let body = Body {
            error: self.error,
            error_description: &self.description,
        };
        let mut response = json_response(self.status, &body);
        if self.status == StatusCode::UNAUTHORIZED {
            let challenge = HeaderValue::from_static("Basic realm=\"accounts\"");
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

/// A failure injected by a knob in place of the real answer.
enum Injected {
    Unavailable,
    TooManyRequests(Duration),
}

impl IntoResponse for Injected {
    fn into_response(self) -> Response {
        match self {
            Self::Unavailable => {
                let page = "<html><head><title>503 Service Unavailable</title></head><body>\
                            upstream connect error or disconnect/reset before headers. \
                            reset reason: connection failure</body></html>";
                let content_type = [(header::CONTENT_TYPE, "text/html")];
                (StatusCode::SERVICE_UNAVAILABLE, content_type, page).into_response()
            }
            Self::TooManyRequests(retry_after) => {
                let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                let headers = [(header::RETRY_AFTER, seconds.to_string())];
                (StatusCode::TOO_MANY_REQUESTS, headers).into_response()
            }
        }
    }
}

/// How the client proved who it is.
enum Caller<'a> {
    /// With its secret, in the `Authorization` header or in the body.
    Secret {
        client: &'a FakeClient,
        via_header: bool,
    },
    /// With its id alone, as a PKCE client does.
    IdOnly(&'a FakeClient),
}

impl Caller<'_> {
    fn client(&self) -> &FakeClient {
        match self {
            Self::Secret { client, .. } | Self::IdOnly(client) => client,
        }
    }
}

pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    // Spotify reads a body of another type as a form without fields.
    let params = form
        .map(|Form(pairs)| Params::new(pairs))
        .unwrap_or_default();
    let kind = GrantKind::from_grant_type(params.single("grant_type").ok().flatten());
    let (delay, injected) = begin(&shared, kind);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if let Some(injected) = injected {
        tracing::debug!(?kind, "fake token answer replaced by an injected failure");
        return injected.into_response();
    }

    match answer(&shared, &headers, &params, kind) {
        Ok(answer) => {
            tracing::debug!(?kind, "fake token request granted");
            json_response(StatusCode::OK, &answer)
        }
        Err(error) => {
            tracing::debug!(?kind, error = error.error, "fake token request refused");
            error.into_response()
        }
    }
}

/// Counts the request and takes the delay and the injected failure it gets, if any.
fn begin(shared: &Shared, kind: GrantKind) -> (Duration, Option<Injected>) {
    let mut state = shared.lock();
    state.counters.count_token_request(kind);
    let knobs = &mut state.knobs;
    let injected = if knobs.html_503_answers > 0 {
        knobs.html_503_answers -= 1;
        Some(Injected::Unavailable)
    } else if knobs.too_many_requests_answers > 0 {
        knobs.too_many_requests_answers -= 1;
        Some(Injected::TooManyRequests(knobs.retry_after))
    } else {
        None
    };
    (knobs.token_delay, injected)
}

fn answer(
    shared: &Shared,
    headers: &HeaderMap,
    params: &Params,
    kind: GrantKind,
) -> Result<TokenAnswer, OAuthError> {
    match params.single("grant_type")? {
        None => {
            return Err(OAuthError::unsupported_grant_type(
                "grant_type parameter is missing",
            ));
        }
        Some(_) if kind == GrantKind::Unsupported => {
            return Err(OAuthError::unsupported_grant_type(
                "grant_type must be client_credentials, authorization_code or refresh_token",
            ));
        }
        Some(_) => {}
    }
    let caller = authenticate(shared, headers, params)?;
    let mut state = shared.lock();
    match kind {
        GrantKind::AuthorizationCode => exchange_code(&mut state, &caller, params),
        GrantKind::ClientCredentials => client_credentials(&mut state, &caller),
        GrantKind::RefreshToken => refresh(&mut state, &caller, params),
        GrantKind::Unsupported => Err(OAuthError::unsupported_grant_type("unsupported grant")),
    }
}

/// Finds the client from the Basic header, or else from `client_id` (and
/// `client_secret`) in the body, as Spotify accepts both.
fn authenticate<'a>(
    shared: &'a Shared,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Caller<'a>, OAuthError> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let (id, secret) = basic_credentials(value)
            .ok_or_else(|| OAuthError::invalid_client("Invalid client", true))?;
        return with_secret(shared, &id, &secret, true);
    }
    let Some(id) = params.single("client_id")? else {
        return Err(OAuthError::invalid_client("Invalid client", false));
    };
    match params.single("client_secret")? {
        Some(secret) => with_secret(shared, id, secret, false),
        None => shared
            .client(id)
            .map(Caller::IdOnly)
            .ok_or_else(|| OAuthError::invalid_client("Invalid client", false)),
    }
}

fn with_secret<'a>(
    shared: &'a Shared,
    id: &str,
    secret: &str,
    via_header: bool,
) -> Result<Caller<'a>, OAuthError> {
    let client = shared
        .client(id)
        .ok_or_else(|| OAuthError::invalid_client("Invalid client", via_header))?;
    if !client.secret_matches(secret) {
        return Err(OAuthError::invalid_client(
            "Invalid client secret",
            via_header,
        ));
    }
    Ok(Caller::Secret { client, via_header })
}

/// The id and secret of an `Authorization: Basic base64(id:secret)` header, each
/// form-decoded, since RFC 6749 §2.3.1 has clients form-encode them (hex is unchanged).
fn basic_credentials(value: &HeaderValue) -> Option<(String, String)> {
    let (scheme, encoded) = value.to_str().ok()?.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((form_decoded(id)?, form_decoded(secret)?))
}

/// One form-encoded value decoded; `None` when a raw `&` or `=` shows it is not one.
fn form_decoded(text: &str) -> Option<String> {
    if text.contains(['&', '=']) {
        return None;
    }
    let decoded = url::form_urlencoded::parse(text.as_bytes()).map(|(name, _)| name);
    Some(decoded.collect())
}

/// A client that needed its secret and sent none.
fn secret_missing(caller: &Caller<'_>) -> OAuthError {
    let via_header = matches!(
        caller,
        Caller::Secret {
            via_header: true,
            ..
        }
    );
    OAuthError::invalid_client("Invalid client secret", via_header)
}

fn exchange_code(
    state: &mut state::State,
    caller: &Caller<'_>,
    params: &Params,
) -> Result<TokenAnswer, OAuthError> {
    let client = caller.client();
    let code = params
        .single("code")?
        .ok_or_else(|| OAuthError::invalid_request("code must be supplied"))?;
    let pkce = match state.code(code) {
        Some(authorization) if authorization.client_id == client.id() => {
            authorization.code_challenge.is_some()
        }
        _ => return Err(OAuthError::invalid_grant("Invalid authorization code")),
    };
    // A client that fails to authenticate does not use the code up.
    if !pkce && matches!(caller, Caller::IdOnly(_)) {
        return Err(secret_missing(caller));
    }
    let redirect_uri = params.single("redirect_uri")?;
    let verifier = params.single("code_verifier")?;
    let authorization = state
        .take_code(code)
        .ok_or_else(|| OAuthError::invalid_grant("Invalid authorization code"))?;

    if authorization.issued_at.elapsed() >= state.knobs.code_lifetime {
        return Err(OAuthError::invalid_grant("Authorization code expired"));
    }
    if redirect_uri != Some(authorization.redirect_uri.as_str()) {
        return Err(OAuthError::invalid_grant("Invalid redirect URI"));
    }
    if let Some(challenge) = &authorization.code_challenge {
        verify_pkce(challenge, verifier)?;
    }

    let grant = RefreshGrant {
        client_id: authorization.client_id,
        scopes: authorization.scopes,
        pkce: authorization.code_challenge.is_some(),
        authorized_at: authorization.issued_at,
    };
    let scope = grant.scopes.join(" ");
    let access_token = state.issue_access_token();
    Ok(TokenAnswer {
        access_token,
        token_type: "Bearer",
        scope: Some(scope),
        expires_in: state.knobs.access_token_lifetime.as_secs(),
        refresh_token: Some(state.issue_refresh_token(grant)),
    })
}

/// Checks `code_verifier` against the challenge of the authorization (RFC 7636 §4.6).
fn verify_pkce(challenge: &str, verifier: Option<&str>) -> Result<(), OAuthError> {
    let verifier = verifier.ok_or_else(|| OAuthError::invalid_request("code_verifier required"))?;
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~'));
    if !well_formed {
        return Err(OAuthError::invalid_request(
            "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~",
        ));
    }
    if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != challenge {
        return Err(OAuthError::invalid_grant("code_verifier was incorrect"));
    }
    Ok(())
}

fn client_credentials(
    state: &mut state::State,
    caller: &Caller<'_>,
) -> Result<TokenAnswer, OAuthError> {
    if let Caller::IdOnly(_) = caller {
        return Err(secret_missing(caller));
    }
    Ok(TokenAnswer {
        access_token: state.issue_access_token(),
        token_type: "Bearer",
        scope: None,
        expires_in: state.knobs.access_token_lifetime.as_secs(),
        refresh_token: None,
    })
}

fn refresh(
    state: &mut state::State,
    caller: &Caller<'_>,
    params: &Params,
) -> Result<TokenAnswer, OAuthError> {
    let token = params
        .single("refresh_token")?
        .ok_or_else(|| OAuthError::invalid_request("refresh_token must be supplied"))?;
    let grant = match state.refresh_status(token) {
        RefreshStatus::Live(grant) if grant.client_id == caller.client().id() => grant,
        RefreshStatus::Revoked => return Err(OAuthError::invalid_grant("Refresh token revoked")),
        RefreshStatus::Live(_) | RefreshStatus::Unknown => {
            return Err(OAuthError::invalid_grant("Invalid refresh token"));
        }
    };
    if let Caller::IdOnly(_) = caller
        && !grant.pkce
    {
        return Err(secret_missing(caller));
    }

    let scope = state.knobs.scope_on_refresh.then(|| grant.scopes.join(" "));
    let refresh_token = match state.knobs.refresh_policy {
        RefreshPolicy::Rotate => {
            state.retire_refresh_token(token);
            Some(state.issue_refresh_token(grant))
        }
        RefreshPolicy::Keep => Some(token.to_owned()),
        RefreshPolicy::Omit => None,
    };
    Ok(TokenAnswer {
        access_token: state.issue_access_token(),
        token_type: "Bearer",
        scope,
        expires_in: state.knobs.access_token_lifetime.as_secs(),
        refresh_token,
    })
}

fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    match serde_json::to_string(body) {
        Ok(json) => {
            let headers = [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "no-store"),
            ];
            (status, headers, json).into_response()
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(id_and_secret: &str) -> HeaderValue {
        let value = format!("Basic {}", STANDARD.encode(id_and_secret));
        HeaderValue::from_str(&value).unwrap()
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let hex = basic("b777292af0def22f9257991fc770b520:6a0419f43d0aa93b2ae881429b6b9bc2");
        let (id, secret) = basic_credentials(&hex).unwrap();
        assert_eq!(id, "b777292af0def22f9257991fc770b520");
        assert_eq!(secret, "6a0419f43d0aa93b2ae881429b6b9bc2");

        let encoded = basic("id%3Ax:a%2Bb%2Fc%3Dd%25e%3Af+g");
        let (id, secret) = basic_credentials(&encoded).unwrap();
        assert_eq!(id, "id:x");
        assert_eq!(secret, "a+b/c=d%e:f g");

        assert!(basic_credentials(&basic("id:a=b")).is_none());
        assert!(basic_credentials(&basic("id-without-secret")).is_none());
    }
}
