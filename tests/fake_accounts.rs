//! `FakeAccounts` behaves as `SPOTIFY.md` describes Spotify's accounts service, driven
//! here by a plain HTTP client.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, LOCATION, RETRY_AFTER};
use reqwest::redirect::Policy;
use serde_json::Value;
use spotify_session::testing::{
    FakeAccounts, FakeClient, FakeError, GrantKind, Knobs, RefreshPolicy,
};
use url::Url;

// The test vectors of SPOTIFY.md.
const CLIENT_ID: &str = "b777292af0def22f9257991fc770b520";
const CLIENT_SECRET: &str = "6a0419f43d0aa93b2ae881429b6b9bc2";
const BASIC: &str = "Basic Yjc3NzI5MmFmMGRlZjIyZjkyNTc5OTFmYzc3MGI1MjA6NmEwNDE5ZjQzZDBhYTkzYjJhZTg4MTQyOWI2YjliYzI=";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

const REDIRECT_URI: &str = "http://127.0.0.1:8888/callback";
const PKCE_ID: &str = "pkce-app";
const PKCE_REDIRECT_URI: &str = "http://[::1]:9999/callback";
const OTHER_ID: &str = "other-app";
const OTHER_SECRET: &str = "other-secret";
const OTHER_REDIRECT_URI: &str = "https://example.com/callback";

async fn start() -> FakeAccounts {
    start_with(|_| {}).await
}

async fn start_with(knobs: impl FnOnce(&mut Knobs)) -> FakeAccounts {
    FakeAccounts::builder()
        .client(FakeClient::confidential(CLIENT_ID, CLIENT_SECRET).redirect_uri(REDIRECT_URI))
        .client(FakeClient::public(PKCE_ID).redirect_uri(PKCE_REDIRECT_URI))
        .client(FakeClient::confidential(OTHER_ID, OTHER_SECRET).redirect_uri(OTHER_REDIRECT_URI))
        .knobs(knobs)
        .start()
        .await
        .expect("the fake starts")
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .no_proxy()
        .build()
        .expect("an HTTP client")
}

/// The parameters of a valid authorize request of the confidential client.
fn code_params() -> Vec<(&'static str, &'static str)> {
    vec![
        ("client_id", CLIENT_ID),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "user-read-private user-read-email"),
        ("state", "xyz"),
    ]
}

/// The parameters of a valid authorize request of the public client.
fn pkce_params() -> Vec<(&'static str, &'static str)> {
    vec![
        ("client_id", PKCE_ID),
        ("response_type", "code"),
        ("redirect_uri", PKCE_REDIRECT_URI),
        ("scope", "user-top-read"),
        ("state", "pkce-state"),
        ("code_challenge_method", "S256"),
        ("code_challenge", CHALLENGE),
    ]
}

fn without(
    params: &[(&'static str, &'static str)],
    name: &str,
) -> Vec<(&'static str, &'static str)> {
    params
        .iter()
        .copied()
        .filter(|(key, _)| *key != name)
        .collect()
}

fn with(
    params: &[(&'static str, &'static str)],
    name: &'static str,
    value: &'static str,
) -> Vec<(&'static str, &'static str)> {
    let mut params = without(params, name);
    params.push((name, value));
    params
}

fn authorize_url(fake: &FakeAccounts, params: &[(&str, &str)]) -> Url {
    Url::parse_with_params(fake.authorize_endpoint().as_str(), params).expect("a URL")
}

fn query(url: &Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

/// The redirect of a granted authorize request.
async fn redirect_of(fake: &FakeAccounts, params: &[(&str, &str)]) -> Url {
    fake.authorize(authorize_url(fake, params))
        .await
        .expect("a redirect")
}

/// The redirect's parameters, after checking it goes to `redirect_uri`.
async fn callback(fake: &FakeAccounts, params: &[(&str, &str)]) -> HashMap<String, String> {
    let redirect_uri = params
        .iter()
        .find(|(key, _)| *key == "redirect_uri")
        .expect("a URI")
        .1;
    let location = redirect_of(fake, params).await;
    assert!(
        location.as_str().starts_with(&format!("{redirect_uri}?")),
        "{location}"
    );
    query(&location)
}

async fn code(fake: &FakeAccounts) -> String {
    callback(fake, &code_params()).await["code"].clone()
}

async fn pkce_code(fake: &FakeAccounts) -> String {
    callback(fake, &pkce_params()).await["code"].clone()
}

/// An answer of `/api/token`.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    fn assert_ok(&self) -> Value {
        assert_eq!(self.status, StatusCode::OK, "{}", self.body);
        self.json()
    }

    fn assert_error(&self, status: StatusCode, error: &str, description: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        let json = self.json();
        assert_eq!(json["error"], error, "{}", self.body);
        assert_eq!(json["error_description"], description, "{}", self.body);
    }
}

/// How a token request authenticates the client.
#[derive(Clone, Copy)]
enum Auth {
    None,
    Basic(&'static str, &'static str),
}

async fn token(fake: &FakeAccounts, auth: Auth, form: &[(&str, &str)]) -> Answer {
    let mut request = http().post(fake.token_endpoint()).form(form);
    if let Auth::Basic(id, secret) = auth {
        request = request.basic_auth(id, Some(secret));
    }
    answer(request).await
}

async fn answer(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.expect("an answer");
    Answer {
        status: response.status(),
        headers: response.headers().clone(),
        body: response.text().await.expect("a body"),
    }
}

const BASIC_AUTH: Auth = Auth::Basic(CLIENT_ID, CLIENT_SECRET);

async fn exchange(fake: &FakeAccounts, code: &str) -> Answer {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT_URI),
    ];
    token(fake, BASIC_AUTH, &form).await
}

async fn exchange_pkce(fake: &FakeAccounts, code: &str, verifier: &str) -> Answer {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", PKCE_REDIRECT_URI),
        ("client_id", PKCE_ID),
        ("code_verifier", verifier),
    ];
    token(fake, Auth::None, &form).await
}

async fn refresh(fake: &FakeAccounts, refresh_token: &str) -> Answer {
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    token(fake, BASIC_AUTH, &form).await
}

/// The refresh token of a fresh authorization-code grant of the confidential client.
async fn refresh_token(fake: &FakeAccounts) -> String {
    let code = code(fake).await;
    let json = exchange(fake, &code).await.assert_ok();
    json["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_owned()
}

fn str_field<'a>(json: &'a Value, name: &str) -> &'a str {
    json[name]
        .as_str()
        .unwrap_or_else(|| panic!("no string `{name}` in {json}"))
}

// ---------------------------------------------------------------------------------------
// GET /authorize

#[tokio::test]
async fn authorize_redirects_with_a_code_and_the_state() {
    let fake = start().await;

    let first = callback(&fake, &code_params()).await;
    let second = callback(&fake, &code_params()).await;

    assert_eq!(first["state"], "xyz");
    assert!(!first["code"].is_empty());
    assert_ne!(first["code"], second["code"], "every code is fresh");
    assert_eq!(first.len(), 2, "only `code` and `state`: {first:?}");
}

#[tokio::test]
async fn authorize_answers_with_a_302_and_a_location() {
    let fake = start().await;

    let response = http()
        .get(authorize_url(&fake, &code_params()))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()[LOCATION].to_str().unwrap();
    assert!(
        location.starts_with("http://127.0.0.1:8888/callback?code="),
        "{location}"
    );
}

#[tokio::test]
async fn authorize_returns_a_state_with_reserved_characters_intact() {
    let fake = start().await;

    for state in ["a&b=c", "a b+c%20d/?#é"] {
        let location = redirect_of(&fake, &with(&code_params(), "state", state)).await;

        assert_eq!(query(&location)["state"], state);
        let raw = location.query().unwrap();
        assert_eq!(
            raw.matches('&').count(),
            1,
            "`&` of the state is encoded: {raw}"
        );
    }
}

#[tokio::test]
async fn authorize_without_state_redirects_without_state() {
    let fake = start().await;

    let callback = callback(&fake, &without(&code_params(), "state")).await;

    assert!(callback.contains_key("code"));
    assert!(!callback.contains_key("state"));
}

/// The page shown, without redirecting, for an unverifiable client or redirect URI.
async fn assert_error_page(fake: &FakeAccounts, params: &[(&str, &str)], message: &str) {
    let response = http()
        .get(authorize_url(fake, params))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get(LOCATION).is_none());
    let content_type = response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let page = response.text().await.unwrap();
    assert!(
        page.contains(&format!("INVALID_CLIENT: {message}")),
        "{page}"
    );
}

#[tokio::test]
async fn authorize_shows_a_page_for_an_unknown_or_missing_client() {
    let fake = start().await;

    assert_error_page(
        &fake,
        &with(&code_params(), "client_id", "nobody"),
        "Invalid client",
    )
    .await;
    assert_error_page(
        &fake,
        &without(&code_params(), "client_id"),
        "Invalid client",
    )
    .await;
}

#[tokio::test]
async fn authorize_shows_a_page_for_a_redirect_uri_that_does_not_match_exactly() {
    let fake = start().await;
    let refused = [
        "http://127.0.0.1:8888/callback/",
        "http://127.0.0.1:8888/Callback",
        "http://127.0.0.1:8889/callback",
        "http://localhost:8888/callback",
        OTHER_REDIRECT_URI,
    ];

    for uri in refused {
        let params = with(&code_params(), "redirect_uri", uri);
        assert_error_page(&fake, &params, "Invalid redirect URI").await;
    }
    let params = without(&code_params(), "redirect_uri");
    assert_error_page(&fake, &params, "Invalid redirect URI").await;
}

#[tokio::test]
async fn authorize_helper_reports_the_error_page() {
    let fake = start().await;

    let url = authorize_url(&fake, &with(&code_params(), "client_id", "nobody"));
    let error = fake.authorize(url).await.unwrap_err();

    let FakeError::Refused { status, page } = error else {
        panic!("not a refusal: {error:?}");
    };
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("INVALID_CLIENT: Invalid client"), "{page}");
}

/// A refusal redirected to the application, with the state.
async fn assert_refused(fake: &FakeAccounts, params: &[(&str, &str)], error: &str) {
    let callback = callback(fake, params).await;

    assert_eq!(
        callback.get("error").map(String::as_str),
        Some(error),
        "{callback:?}"
    );
    assert!(!callback.contains_key("code"), "{callback:?}");
    let state = params
        .iter()
        .find(|(key, _)| *key == "state")
        .map(|(_, value)| *value);
    assert_eq!(callback.get("state").map(String::as_str), state);
}

#[tokio::test]
async fn authorize_refuses_a_missing_or_other_response_type() {
    let fake = start().await;
    let params = code_params();

    assert_refused(&fake, &without(&params, "response_type"), "invalid_request").await;
    let implicit = with(&params, "response_type", "token");
    assert_refused(&fake, &implicit, "unsupported_response_type").await;
    let uppercase = with(&params, "response_type", "CODE");
    assert_refused(&fake, &uppercase, "unsupported_response_type").await;
}

#[tokio::test]
async fn authorize_refuses_a_pkce_method_other_than_s256() {
    let fake = start().await;

    let plain = with(&pkce_params(), "code_challenge_method", "plain");
    assert_refused(&fake, &plain, "invalid_request").await;
    let missing = without(&pkce_params(), "code_challenge_method");
    assert_refused(&fake, &missing, "invalid_request").await;
}

#[tokio::test]
async fn authorize_refuses_a_challenge_that_is_not_43_characters_of_base64url() {
    let fake = start().await;
    let bad = [
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c",
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cMA",
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM",
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c=",
        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk.",
    ];

    for challenge in bad {
        let params = with(&pkce_params(), "code_challenge", challenge);
        assert_refused(&fake, &params, "invalid_request").await;
    }
    let missing = without(&pkce_params(), "code_challenge");
    assert_refused(&fake, &missing, "invalid_request").await;
}

#[tokio::test]
async fn authorize_refuses_a_public_client_without_pkce() {
    let fake = start().await;

    let params = without(
        &without(&pkce_params(), "code_challenge"),
        "code_challenge_method",
    );

    assert_refused(&fake, &params, "invalid_request").await;
}

#[tokio::test]
async fn authorize_accepts_pkce_from_a_confidential_client() {
    let fake = start().await;

    let params = [
        code_params(),
        vec![
            ("code_challenge_method", "S256"),
            ("code_challenge", CHALLENGE),
        ],
    ]
    .concat();

    assert!(callback(&fake, &params).await.contains_key("code"));
}

#[tokio::test]
async fn authorize_refuses_a_repeated_parameter() {
    let fake = start().await;
    let mut params = code_params();
    params.push(("scope", "streaming"));

    assert_refused(&fake, &params, "invalid_request").await;
}

#[tokio::test]
async fn authorize_with_a_trailing_slash_is_not_found() {
    let fake = start().await;
    let mut url = authorize_url(&fake, &code_params());
    url.set_path("/authorize/");

    let response = http().get(url).send().await.unwrap();

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn denied_authorization_redirects_with_access_denied_and_the_state() {
    let fake = start().await;
    fake.deny_next_authorization();

    let params = with(&code_params(), "state", "a&b=c");
    let denied = callback(&fake, &params).await;
    let granted = callback(&fake, &params).await;

    assert_eq!(denied.len(), 2, "only `error` and `state`: {denied:?}");
    assert_eq!(denied["error"], "access_denied");
    assert_eq!(denied["state"], "a&b=c");
    assert!(granted.contains_key("code"), "only the next one is denied");
}

#[tokio::test]
async fn authorize_helper_sends_nothing_to_another_host() {
    let fake = start().await;

    let foreign = "https://accounts.spotify.com/authorize?client_id=x&state=secret-state";
    let error = fake.authorize(foreign).await.unwrap_err();

    assert!(matches!(error, FakeError::ForeignUrl { .. }), "{error:?}");
    assert!(!error.to_string().contains("secret-state"), "{error}");
    assert_eq!(fake.authorize_requests(), 0);
}

// ---------------------------------------------------------------------------------------
// POST /api/token: authorization code

#[tokio::test]
async fn code_exchange_answers_with_spotify_shape() {
    let fake = start().await;
    let code = code(&fake).await;

    let answer = exchange(&fake, &code).await;

    let json = answer.assert_ok();
    assert_eq!(answer.headers[CONTENT_TYPE], "application/json");
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["scope"], "user-read-private user-read-email");
    assert_eq!(json["expires_in"], 3600);
    let access_token = str_field(&json, "access_token");
    let refresh_token = str_field(&json, "refresh_token");
    assert!(fake.is_valid_access_token(access_token));
    assert!(fake.is_live_refresh_token(refresh_token));
    assert!(!fake.is_valid_access_token(refresh_token));
    assert!(!fake.is_valid_access_token("made-up"));
}

#[tokio::test]
async fn code_exchange_accepts_the_basic_header_of_the_test_vector() {
    let fake = start().await;
    let code = code(&fake).await;

    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
    ];
    let request = http()
        .post(fake.token_endpoint())
        .header("authorization", BASIC)
        .form(&form);

    answer(request).await.assert_ok();
}

#[tokio::test]
async fn code_exchange_accepts_credentials_in_the_body() {
    let fake = start().await;
    let code = code(&fake).await;

    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ];

    token(&fake, Auth::None, &form).await.assert_ok();
}

#[tokio::test]
async fn code_exchange_without_requested_scopes_grants_an_empty_scope() {
    let fake = start().await;
    let code = callback(&fake, &without(&code_params(), "scope")).await["code"].clone();

    let json = exchange(&fake, &code).await.assert_ok();

    assert_eq!(json["scope"], "");
}

#[tokio::test]
async fn code_used_twice_is_an_invalid_grant() {
    let fake = start().await;
    let code = code(&fake).await;

    exchange(&fake, &code).await.assert_ok();
    let second = exchange(&fake, &code).await;

    second.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "Invalid authorization code",
    );
}

#[tokio::test]
async fn unknown_code_is_an_invalid_grant() {
    let fake = start().await;

    let answer = exchange(&fake, "AQnot-a-code").await;

    answer.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "Invalid authorization code",
    );
}

#[tokio::test]
async fn code_past_its_lifetime_is_expired() {
    let fake = start_with(|knobs| knobs.code_lifetime = Duration::ZERO).await;
    let code = code(&fake).await;

    let answer = exchange(&fake, &code).await;

    answer.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "Authorization code expired",
    );
}

#[tokio::test]
async fn code_lifetime_can_change_while_running() {
    let fake = start().await;
    let code = code(&fake).await;

    fake.update_knobs(|knobs| knobs.code_lifetime = Duration::from_millis(50));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let answer = exchange(&fake, &code).await;

    answer.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "Authorization code expired",
    );
}

#[tokio::test]
async fn code_exchange_refuses_another_redirect_uri() {
    let fake = start().await;

    for redirect_uri in [Some("http://127.0.0.1:8888/callback/"), None] {
        let code = code(&fake).await;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
        ];
        form.extend(redirect_uri.map(|uri| ("redirect_uri", uri)));

        let answer = token(&fake, BASIC_AUTH, &form).await;

        answer.assert_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid redirect URI",
        );
    }
}

#[tokio::test]
async fn code_of_another_client_is_an_invalid_grant() {
    let fake = start().await;
    let code = code(&fake).await;

    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
    ];
    let answer = token(&fake, Auth::Basic(OTHER_ID, OTHER_SECRET), &form).await;

    answer.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "Invalid authorization code",
    );
    exchange(&fake, &code).await.assert_ok();
}

#[tokio::test]
async fn code_exchange_without_secret_or_pkce_is_an_invalid_client() {
    let fake = start().await;
    let code = code(&fake).await;

    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("client_id", CLIENT_ID),
    ];
    let answer = token(&fake, Auth::None, &form).await;

    answer.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_client",
        "Invalid client secret",
    );
    exchange(&fake, &code).await.assert_ok();
}

// ---------------------------------------------------------------------------------------
// POST /api/token: authorization code with PKCE

#[tokio::test]
async fn pkce_exchange_with_the_rfc_verifier_succeeds() {
    let fake = start().await;
    let code = pkce_code(&fake).await;

    let json = exchange_pkce(&fake, &code, VERIFIER).await.assert_ok();

    assert_eq!(json["scope"], "user-top-read");
    assert!(fake.is_valid_access_token(str_field(&json, "access_token")));
    assert!(fake.is_live_refresh_token(str_field(&json, "refresh_token")));
}

#[tokio::test]
async fn pkce_exchange_with_a_wrong_verifier_is_an_invalid_grant() {
    let fake = start().await;
    let code = pkce_code(&fake).await;

    let wrong = "eBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let answer = exchange_pkce(&fake, &code, wrong).await;

    answer.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "code_verifier was incorrect",
    );
}

#[tokio::test]
async fn pkce_exchange_refuses_a_missing_or_malformed_verifier() {
    let fake = start().await;

    let code = pkce_code(&fake).await;
    let answer = exchange_pkce(&fake, &code, "short").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json()["error"], "invalid_request");

    let code = pkce_code(&fake).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", PKCE_REDIRECT_URI),
        ("client_id", PKCE_ID),
    ];
    let answer = token(&fake, Auth::None, &form).await;
    answer.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "code_verifier required",
    );
}

// ---------------------------------------------------------------------------------------
// POST /api/token: client credentials and client authentication

#[tokio::test]
async fn client_credentials_with_basic_gives_a_token_without_refresh_token() {
    let fake = start().await;

    let answer = token(&fake, BASIC_AUTH, &[("grant_type", "client_credentials")]).await;

    let json = answer.assert_ok();
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["expires_in"], 3600);
    assert!(json.get("refresh_token").is_none(), "{json}");
    assert!(json.get("scope").is_none(), "{json}");
    assert!(fake.is_valid_access_token(str_field(&json, "access_token")));
}

#[tokio::test]
async fn client_credentials_accepts_credentials_in_the_body() {
    let fake = start().await;

    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ];

    token(&fake, Auth::None, &form).await.assert_ok();
}

#[tokio::test]
async fn wrong_secret_is_an_invalid_client() {
    let fake = start().await;
    let grant = [("grant_type", "client_credentials")];

    let header = token(&fake, Auth::Basic(CLIENT_ID, "wrong"), &grant).await;
    header.assert_error(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "Invalid client secret",
    );

    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT_ID),
        ("client_secret", "wrong"),
    ];
    let body = token(&fake, Auth::None, &form).await;
    body.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_client",
        "Invalid client secret",
    );
}

#[tokio::test]
async fn unknown_or_missing_client_is_an_invalid_client() {
    let fake = start().await;
    let grant = [("grant_type", "client_credentials")];

    let unknown = token(&fake, Auth::Basic("nobody", CLIENT_SECRET), &grant).await;
    unknown.assert_error(StatusCode::UNAUTHORIZED, "invalid_client", "Invalid client");

    let missing = token(&fake, Auth::None, &grant).await;
    missing.assert_error(StatusCode::BAD_REQUEST, "invalid_client", "Invalid client");

    let garbled = http()
        .post(fake.token_endpoint())
        .header("authorization", "Basic not-base64!")
        .form(&grant);
    let garbled = answer(garbled).await;
    garbled.assert_error(StatusCode::UNAUTHORIZED, "invalid_client", "Invalid client");
}

#[tokio::test]
async fn public_client_cannot_use_client_credentials() {
    let fake = start().await;

    let form = [("grant_type", "client_credentials"), ("client_id", PKCE_ID)];
    let answer = token(&fake, Auth::None, &form).await;

    answer.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_client",
        "Invalid client secret",
    );
}

#[tokio::test]
async fn missing_or_unknown_grant_type_is_unsupported() {
    let fake = start().await;

    let unknown = token(&fake, BASIC_AUTH, &[("grant_type", "password")]).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.json()["error"], "unsupported_grant_type");

    let missing = token(&fake, BASIC_AUTH, &[]).await;
    let description = "grant_type parameter is missing";
    missing.assert_error(
        StatusCode::BAD_REQUEST,
        "unsupported_grant_type",
        description,
    );

    let json_body = http()
        .post(fake.token_endpoint())
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .json(&serde_json::json!({ "grant_type": "client_credentials" }));
    let json_body = answer(json_body).await;
    json_body.assert_error(
        StatusCode::BAD_REQUEST,
        "unsupported_grant_type",
        description,
    );
}

#[tokio::test]
async fn repeated_parameter_is_an_invalid_request() {
    let fake = start().await;

    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", "a"),
        ("refresh_token", "b"),
    ];
    let answer = token(&fake, BASIC_AUTH, &form).await;

    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json()["error"], "invalid_request");
}

// ---------------------------------------------------------------------------------------
// POST /api/token: refresh

#[tokio::test]
async fn refresh_omits_the_refresh_token_by_default() {
    let fake = start().await;
    let refresh_token = refresh_token(&fake).await;

    let json = refresh(&fake, &refresh_token).await.assert_ok();

    assert!(json.get("refresh_token").is_none(), "{json}");
    assert!(json.get("scope").is_none(), "{json}");
    assert_eq!(json["expires_in"], 3600);
    assert!(fake.is_valid_access_token(str_field(&json, "access_token")));
    assert!(fake.is_live_refresh_token(&refresh_token));
    refresh(&fake, &refresh_token).await.assert_ok();
}

#[tokio::test]
async fn refresh_keeps_the_refresh_token() {
    let fake = start_with(|knobs| knobs.refresh_policy = RefreshPolicy::Keep).await;
    let refresh_token = refresh_token(&fake).await;

    let json = refresh(&fake, &refresh_token).await.assert_ok();

    assert_eq!(json["refresh_token"], refresh_token.as_str());
    refresh(&fake, &refresh_token).await.assert_ok();
}

#[tokio::test]
async fn refresh_rotates_the_refresh_token() {
    let fake = start_with(|knobs| knobs.refresh_policy = RefreshPolicy::Rotate).await;
    let old = refresh_token(&fake).await;

    let json = refresh(&fake, &old).await.assert_ok();
    let new = str_field(&json, "refresh_token");

    assert_ne!(new, old);
    assert!(!fake.is_live_refresh_token(&old));
    assert!(fake.is_live_refresh_token(new));
    let reused = refresh(&fake, &old).await;
    reused.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "Invalid refresh token",
    );
    refresh(&fake, new).await.assert_ok();
}

#[tokio::test]
async fn refresh_sends_the_scope_when_asked() {
    let fake = start_with(|knobs| knobs.scope_on_refresh = true).await;
    let refresh_token = refresh_token(&fake).await;

    let json = refresh(&fake, &refresh_token).await.assert_ok();

    assert_eq!(json["scope"], "user-read-private user-read-email");
}

#[tokio::test]
async fn revoked_refresh_token_is_an_invalid_grant() {
    let fake = start().await;
    let refresh_token = refresh_token(&fake).await;

    fake.revoke_refresh_tokens();
    let answer = refresh(&fake, &refresh_token).await;

    answer.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "Refresh token revoked",
    );
    assert!(!fake.is_live_refresh_token(&refresh_token));
}

#[tokio::test]
async fn refresh_token_past_its_maximum_age_is_revoked() {
    let fake = start().await;
    let refresh_token = refresh_token(&fake).await;

    fake.update_knobs(|knobs| knobs.refresh_token_max_age = Duration::ZERO);
    let answer = refresh(&fake, &refresh_token).await;

    answer.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "Refresh token revoked",
    );
}

#[tokio::test]
async fn unknown_or_foreign_refresh_token_is_invalid() {
    let fake = start().await;
    let refresh_token = refresh_token(&fake).await;

    let unknown = refresh(&fake, "AQmade-up").await;
    unknown.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "Invalid refresh token",
    );

    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.as_str()),
    ];
    let foreign = token(&fake, Auth::Basic(OTHER_ID, OTHER_SECRET), &form).await;
    foreign.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "Invalid refresh token",
    );
}

#[tokio::test]
async fn pkce_refresh_token_refreshes_with_the_client_id_alone() {
    let fake = start().await;
    let code = pkce_code(&fake).await;
    let json = exchange_pkce(&fake, &code, VERIFIER).await.assert_ok();

    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", str_field(&json, "refresh_token")),
        ("client_id", PKCE_ID),
    ];

    token(&fake, Auth::None, &form).await.assert_ok();
}

#[tokio::test]
async fn confidential_refresh_token_needs_the_secret() {
    let fake = start().await;
    let refresh_token = refresh_token(&fake).await;

    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.as_str()),
        ("client_id", CLIENT_ID),
    ];
    let answer = token(&fake, Auth::None, &form).await;

    answer.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_client",
        "Invalid client secret",
    );
}

// ---------------------------------------------------------------------------------------
// Knobs

#[tokio::test]
async fn access_token_lifetime_sets_expires_in_and_validity() {
    let fake = start_with(|knobs| knobs.access_token_lifetime = Duration::from_secs(60)).await;

    let json = token(&fake, BASIC_AUTH, &[("grant_type", "client_credentials")])
        .await
        .assert_ok();
    assert_eq!(json["expires_in"], 60);
    assert!(fake.is_valid_access_token(str_field(&json, "access_token")));

    fake.update_knobs(|knobs| knobs.access_token_lifetime = Duration::ZERO);
    let json = token(&fake, BASIC_AUTH, &[("grant_type", "client_credentials")])
        .await
        .assert_ok();
    assert_eq!(json["expires_in"], 0);
    assert!(!fake.is_valid_access_token(str_field(&json, "access_token")));
}

#[tokio::test]
async fn grantable_scopes_grant_fewer_than_requested() {
    let fake = start_with(|knobs| {
        knobs.grantable_scopes = Some(vec!["user-read-email".to_owned()]);
    })
    .await;
    let code = code(&fake).await;

    let json = exchange(&fake, &code).await.assert_ok();

    assert_eq!(json["scope"], "user-read-email");
}

#[tokio::test]
async fn html_503_answers_come_first_then_the_real_answer() {
    let fake = start().await;
    fake.answer_next_with_503(2);

    for _ in 0..2 {
        let answer = token(&fake, BASIC_AUTH, &[("grant_type", "client_credentials")]).await;
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(answer.headers[CONTENT_TYPE], "text/html");
        assert!(answer.body.starts_with("<html>"), "{}", answer.body);
        assert!(
            answer.body.contains("upstream connect error"),
            "{}",
            answer.body
        );
    }
    token(&fake, BASIC_AUTH, &[("grant_type", "client_credentials")])
        .await
        .assert_ok();

    assert_eq!(fake.token_requests(GrantKind::ClientCredentials), 3);
}

#[tokio::test]
async fn too_many_requests_answers_carry_retry_after() {
    let fake = start().await;
    fake.answer_next_with_429(1, Duration::from_secs(120));

    let limited = token(&fake, BASIC_AUTH, &[("grant_type", "client_credentials")]).await;
    let next = token(&fake, BASIC_AUTH, &[("grant_type", "client_credentials")]).await;

    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers[RETRY_AFTER], "120");
    next.assert_ok();
}

#[tokio::test]
async fn retry_after_is_rounded_up_to_whole_seconds() {
    let fake = start().await;
    fake.answer_next_with_429(1, Duration::from_millis(1500));

    let limited = token(&fake, BASIC_AUTH, &[("grant_type", "client_credentials")]).await;

    assert_eq!(limited.headers[RETRY_AFTER], "2");
}

#[tokio::test]
async fn injected_503_answers_come_before_429_answers() {
    let fake = start().await;
    fake.answer_next_with_429(1, Duration::from_secs(5));
    fake.answer_next_with_503(1);

    let first = token(&fake, BASIC_AUTH, &[("grant_type", "client_credentials")]).await;
    let second = token(&fake, BASIC_AUTH, &[("grant_type", "client_credentials")]).await;

    assert_eq!(first.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(second.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn injected_failures_do_not_use_up_a_code() {
    let fake = start().await;
    let code = code(&fake).await;
    fake.answer_next_with_503(1);

    assert_eq!(
        exchange(&fake, &code).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    exchange(&fake, &code).await.assert_ok();
}

#[tokio::test]
async fn token_delay_slows_every_answer() {
    let delay = Duration::from_millis(300);
    let fake = start_with(|knobs| knobs.token_delay = delay).await;

    let started = Instant::now();
    token(&fake, BASIC_AUTH, &[("grant_type", "client_credentials")])
        .await
        .assert_ok();
    let elapsed = started.elapsed();

    assert!(elapsed >= delay, "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
}

#[tokio::test]
async fn knobs_can_be_read_back() {
    let fake = start().await;

    fake.update_knobs(|knobs| knobs.refresh_policy = RefreshPolicy::Rotate);
    fake.deny_next_authorization();

    let knobs = fake.knobs();
    assert_eq!(knobs.refresh_policy, RefreshPolicy::Rotate);
    assert_eq!(knobs.denied_authorizations, 1);
    assert_eq!(knobs.access_token_lifetime, Duration::from_secs(3600));
}

// ---------------------------------------------------------------------------------------
// Counters

#[tokio::test]
async fn counters_count_every_request_by_grant() {
    let fake = start().await;
    let refresh_token = refresh_token(&fake).await;
    let code = code(&fake).await;
    exchange(&fake, &code).await.assert_ok();
    exchange(&fake, &code).await;
    refresh(&fake, &refresh_token).await.assert_ok();
    fake.answer_next_with_429(1, Duration::from_secs(1));
    token(&fake, BASIC_AUTH, &[("grant_type", "client_credentials")]).await;
    token(&fake, BASIC_AUTH, &[("grant_type", "password")]).await;
    let page = with(&code_params(), "client_id", "nobody");
    http()
        .get(authorize_url(&fake, &page))
        .send()
        .await
        .unwrap();

    let counters = fake.counters();

    assert_eq!(counters.authorize, 3);
    assert_eq!(counters.authorization_code, 3);
    assert_eq!(counters.refresh_token, 1);
    assert_eq!(counters.client_credentials, 1);
    assert_eq!(counters.unsupported, 1);
    assert_eq!(counters.total_token_requests(), 6);
    assert_eq!(fake.token_requests(GrantKind::AuthorizationCode), 3);
    assert_eq!(fake.authorize_requests(), 3);
}

// ---------------------------------------------------------------------------------------
// Start and stop

#[tokio::test]
async fn url_is_the_loopback_origin_without_trailing_slash() {
    let fake = start().await;

    let expected = format!("http://127.0.0.1:{}", fake.local_addr().port());

    assert_eq!(fake.url(), expected);
    assert_eq!(
        fake.token_endpoint().as_str(),
        format!("{expected}/api/token")
    );
    assert_eq!(
        fake.authorize_endpoint().as_str(),
        format!("{expected}/authorize")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_on_a_multi_thread_runtime() {
    let fake = start().await;

    let code = code(&fake).await;

    exchange(&fake, &code).await.assert_ok();
}

#[tokio::test]
async fn dropping_the_fake_stops_the_server() {
    let fake = start().await;
    let endpoint = fake.token_endpoint();
    token(&fake, BASIC_AUTH, &[("grant_type", "client_credentials")])
        .await
        .assert_ok();

    drop(fake);
    let result = http()
        .post(endpoint)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await;

    assert!(result.is_err(), "{result:?}");
}

#[tokio::test]
async fn start_refuses_redirect_uris_spotify_refuses() {
    let refused = [
        "http://localhost:8888/callback",
        "http://example.com/callback",
        "http://127.0.0.2:8888/callback",
        "/callback",
        "https://example.com/callback#fragment",
    ];

    for uri in refused {
        let client = FakeClient::confidential("id", "secret").redirect_uri(uri);
        let error = FakeAccounts::builder()
            .client(client)
            .start()
            .await
            .unwrap_err();

        assert!(
            matches!(error, FakeError::InvalidRedirectUri { .. }),
            "{uri}: {error:?}"
        );
    }
}

#[tokio::test]
async fn start_accepts_the_redirect_uris_spotify_accepts() {
    let client = FakeClient::public("id")
        .redirect_uri("https://example.com/callback")
        .redirect_uri("http://127.0.0.1:1/callback")
        .redirect_uri("http://[::1]:65535/")
        .redirect_uri("myapp://callback");

    let fake = FakeAccounts::builder().client(client).start().await;

    assert!(fake.is_ok(), "{fake:?}");
}

#[tokio::test]
async fn start_refuses_a_client_registered_twice() {
    let error = FakeAccounts::builder()
        .client(FakeClient::public("same"))
        .client(FakeClient::confidential("same", "secret"))
        .start()
        .await
        .unwrap_err();

    assert!(
        matches!(error, FakeError::DuplicateClient(ref id) if id == "same"),
        "{error:?}"
    );
}

#[tokio::test]
async fn debug_shows_no_secret() {
    let client = FakeClient::confidential(CLIENT_ID, CLIENT_SECRET).redirect_uri(REDIRECT_URI);
    let fake = start().await;
    let refresh_token = refresh_token(&fake).await;

    let shown = format!(
        "{client:?} {fake:?} {:?}",
        FakeAccounts::builder().client(client.clone())
    );

    assert!(shown.contains(CLIENT_ID), "{shown}");
    assert!(!shown.contains(CLIENT_SECRET), "{shown}");
    assert!(!shown.contains(&refresh_token), "{shown}");
}
