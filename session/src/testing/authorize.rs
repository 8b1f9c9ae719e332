//! `GET /authorize`: the user's consent, granted at once.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use url::Url;

use super::client::FakeClient;
use super::params::{Params, Repeated};
use super::state::{Authorization, Shared};

/// What a valid authorize request asks for.
struct Request<'a> {
    scopes: Vec<String>,
    code_challenge: Option<&'a str>,
}

/// An error sent back on the redirect (RFC 6749 §4.1.2.1).
struct Refusal {
    error: &'static str,
    description: Cow<'static, str>,
}

impl Refusal {
    fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            error: "invalid_request",
            description: description.into(),
        }
    }
}

impl From<Repeated> for Refusal {
    fn from(Repeated(name): Repeated) -> Self {
        Self::invalid_request(format!("{name} was sent more than once"))
    }
}

pub(crate) async fn authorize(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::from_query(query.as_deref());
    shared.lock().counters.authorize += 1;

    let (client, redirect_uri) = match verified_client(&shared, &params) {
        Ok(verified) => verified,
        Err(message) => return error_page(message),
    };
    // A repeated state cannot be returned: the refusal then goes without one.
    let state = params.single("state").ok().flatten();

    let request = match check_request(client, &params) {
        Ok(request) => request,
        Err(refusal) => return refuse(redirect_uri, &refusal, state),
    };
    let mut locked = shared.lock();
    if locked.knobs.denied_authorizations > 0 {
        locked.knobs.denied_authorizations -= 1;
        tracing::debug!(client_id = client.id(), "fake authorize denied by the user");
        return redirect(redirect_uri, &[("error", "access_denied")], state);
    }

    let scopes = granted_scopes(request.scopes, locked.knobs.grantable_scopes.as_deref());
    let code = locked.issue_code(Authorization {
        client_id: client.id().to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        scopes,
        code_challenge: request.code_challenge.map(str::to_owned),
        issued_at: Instant::now(),
    });
    drop(locked);
    tracing::debug!(client_id = client.id(), "fake authorize granted");
    redirect(redirect_uri, &[("code", &code)], state)
}

/// The client and its redirect URI, or the message of the page shown when either cannot be
/// trusted: a server never redirects to a URI it could not verify.
fn verified_client<'a>(
    shared: &'a Shared,
    params: &'a Params,
) -> Result<(&'a FakeClient, &'a str), &'static str> {
    let client = params
        .single("client_id")
        .ok()
        .flatten()
        .and_then(|id| shared.client(id))
        .ok_or("Invalid client")?;
    let redirect_uri = params
        .single("redirect_uri")
        .ok()
        .flatten()
        .filter(|uri| client.has_redirect_uri(uri))
        .ok_or("Invalid redirect URI")?;
    Ok((client, redirect_uri))
}

/// The checks made once the redirect URI is trusted.
fn check_request<'a>(client: &FakeClient, params: &'a Params) -> Result<Request<'a>, Refusal> {
    match params.single("response_type")? {
        Some("code") => {}
        None => return Err(Refusal::invalid_request("response_type must be code")),
        Some(_) => {
            return Err(Refusal {
                error: "unsupported_response_type",
                description: "response_type must be code".into(),
            });
        }
    }
    let code_challenge = check_pkce(params)?;
    if client.is_public() && code_challenge.is_none() {
        return Err(Refusal::invalid_request("code_challenge required"));
    }
    let scopes = params
        .single("scope")?
        .map(requested_scopes)
        .unwrap_or_default();
    // Spotify accepts `show_dialog` and `state` as sent; they only need to be single.
    params.single("show_dialog")?;
    params.single("state")?;
    Ok(Request {
        scopes,
        code_challenge,
    })
}

/// The PKCE challenge, if the request uses PKCE correctly.
fn check_pkce(params: &Params) -> Result<Option<&str>, Refusal> {
    let method = params.single("code_challenge_method")?;
    let challenge = params.single("code_challenge")?;
    match (method, challenge) {
        (None, None) => Ok(None),
        (Some("S256"), Some(challenge)) if is_s256_challenge(challenge) => Ok(Some(challenge)),
        (Some("S256"), Some(_)) => Err(Refusal::invalid_request(
            "code_challenge must be the base64url encoding of a SHA-256 hash",
        )),
        (Some("S256"), None) => Err(Refusal::invalid_request("code_challenge required")),
        (None, Some(_)) => Err(Refusal::invalid_request("code_challenge_method required")),
        (Some(_), _) => Err(Refusal::invalid_request(
            "code_challenge_method must be S256",
        )),
    }
}

/// Whether `challenge` is 43 characters of base64url without padding that decode to the 32
/// bytes of a SHA-256 hash.
fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && URL_SAFE_NO_PAD
            .decode(challenge)
            .is_ok_and(|hash| hash.len() == 32)
}

/// The scopes of a `scope` parameter, in order, each once.
fn requested_scopes(scope: &str) -> Vec<String> {
    let mut scopes: Vec<String> = Vec::new();
    for name in scope.split_ascii_whitespace() {
        if !scopes.iter().any(|known| known == name) {
            scopes.push(name.to_owned());
        }
    }
    scopes
}

fn granted_scopes(requested: Vec<String>, grantable: Option<&[String]>) -> Vec<String> {
    match grantable {
        None => requested,
        Some(grantable) => requested
            .into_iter()
            .filter(|scope| grantable.contains(scope))
            .collect(),
    }
}

fn refuse(redirect_uri: &str, refusal: &Refusal, state: Option<&str>) -> Response {
    tracing::debug!(error = refusal.error, "fake authorize refused");
    let pairs = [
        ("error", refusal.error),
        ("error_description", &refusal.description),
    ];
    redirect(redirect_uri, &pairs, state)
}

/// A `302 Found` to the redirect URI with `pairs` and the state added to its query.
fn redirect(redirect_uri: &str, pairs: &[(&str, &str)], state: Option<&str>) -> Response {
    // The URI was checked to parse when the client was registered.
    let Ok(mut location) = Url::parse(redirect_uri) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    {
        let mut query = location.query_pairs_mut();
        query.extend_pairs(pairs);
        if let Some(state) = state {
            query.append_pair("state", state);
        }
    }
    (StatusCode::FOUND, [(header::LOCATION, location.as_str())]).into_response()
}

/// The page Spotify shows, instead of redirecting, for a client or redirect URI it does
/// not know.
fn error_page(message: &'static str) -> Response {
    tracing::debug!(message, "fake authorize shows an error page");
    let page = format!(
        "<!DOCTYPE html>\n<html><head><title>Error</title></head>\
         <body><p>INVALID_CLIENT: {message}</p></body></html>\n"
    );
    let content_type = [(header::CONTENT_TYPE, "text/html; charset=utf-8")];
    (StatusCode::BAD_REQUEST, content_type, page).into_response()
}
