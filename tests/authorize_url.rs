//! The authorize URL, parameter by parameter.

mod support;

use std::collections::HashMap;

use spotify_session::{AuthorizeOptions, PkceVerifier, Scope};
use support::{CLIENT_ID, ManualClock, REDIRECT_URI};
use url::Url;

fn params(url: &Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

#[test]
fn minimal_url_has_exactly_the_required_parameters() {
    let session = support::confidential("https://accounts.spotify.com", ManualClock::new());
    let url = session.authorize_url(&AuthorizeOptions::new()).unwrap();

    assert_eq!(url.scheme(), "https");
    assert_eq!(url.host_str(), Some("accounts.spotify.com"));
    assert_eq!(url.path(), "/authorize", "no slash before `?`");
    let params = params(&url);
    assert_eq!(params.len(), 3, "{params:?}");
    assert_eq!(params["client_id"], CLIENT_ID);
    assert_eq!(params["response_type"], "code");
    assert_eq!(params["redirect_uri"], REDIRECT_URI);
}

#[test]
fn scopes_are_joined_by_one_space() {
    let session = support::confidential("https://accounts.spotify.com", ManualClock::new());
    let options = AuthorizeOptions::new()
        .scopes([Scope::UserReadEmail, Scope::UserReadPrivate])
        .scopes([Scope::Custom("brand-new-scope".into())]);
    let url = session.authorize_url(&options).unwrap();

    assert_eq!(
        params(&url)["scope"],
        "user-read-email user-read-private brand-new-scope"
    );
    assert!(
        url.query()
            .unwrap()
            .contains("scope=user-read-email+user-read-private+brand-new-scope"),
        "{url}"
    );
}

#[test]
fn show_dialog_is_sent_only_when_true() {
    let session = support::confidential("https://accounts.spotify.com", ManualClock::new());
    let without = session
        .authorize_url(&AuthorizeOptions::new().show_dialog(false))
        .unwrap();
    assert!(!params(&without).contains_key("show_dialog"));
    let with = session
        .authorize_url(&AuthorizeOptions::new().show_dialog(true))
        .unwrap();
    assert_eq!(params(&with)["show_dialog"], "true");
}

#[test]
fn state_with_reserved_characters_comes_back_intact() {
    let session = support::confidential("https://accounts.spotify.com", ManualClock::new());
    let url = session
        .authorize_url(&AuthorizeOptions::new().state("a&b=c"))
        .unwrap();

    assert!(url.query().unwrap().contains("state=a%26b%3Dc"), "{url}");
    assert_eq!(params(&url)["state"], "a&b=c");
}

#[test]
fn redirect_uri_is_encoded_once() {
    let session = support::confidential("https://accounts.spotify.com", ManualClock::new());
    let url = session.authorize_url(&AuthorizeOptions::new()).unwrap();
    assert!(
        url.query()
            .unwrap()
            .contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A8888%2Fcallback"),
        "{url}"
    );
}

#[test]
fn pkce_sends_the_s256_challenge_of_the_rfc_vector() {
    let session = support::public("https://accounts.spotify.com", ManualClock::new());
    let verifier = PkceVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap();
    let url = session
        .authorize_url(&AuthorizeOptions::new().pkce(&verifier))
        .unwrap();

    let params = params(&url);
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(
        params["code_challenge"],
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
}

#[test]
fn begin_authorization_draws_a_state_and_pkce_for_a_public_client() {
    let session = support::public("https://accounts.spotify.com", ManualClock::new());
    let pending = session
        .begin_authorization(&AuthorizeOptions::new())
        .unwrap();

    let params = params(pending.url());
    assert!(pending.state().len() >= 32);
    assert_eq!(params["state"], pending.state());
    let verifier = pending
        .verifier()
        .expect("a public client always uses PKCE");
    assert_eq!(params["code_challenge"], verifier.challenge());

    let other = session
        .begin_authorization(&AuthorizeOptions::new())
        .unwrap();
    assert_ne!(other.state(), pending.state());
}

#[test]
fn begin_authorization_keeps_a_given_state_and_skips_pkce_for_a_confidential_client() {
    let session = support::confidential("https://accounts.spotify.com", ManualClock::new());
    let pending = session
        .begin_authorization(&AuthorizeOptions::new().state("mine"))
        .unwrap();

    assert_eq!(pending.state(), "mine");
    assert!(pending.verifier().is_none());
    assert!(!params(pending.url()).contains_key("code_challenge"));
}

#[test]
fn accounts_url_path_prefix_is_kept() {
    let session = support::confidential("http://127.0.0.1:4000/accounts", ManualClock::new());
    let url = session.authorize_url(&AuthorizeOptions::new()).unwrap();
    assert_eq!(url.path(), "/accounts/authorize");
}

#[test]
fn no_redirect_uri_is_a_typed_error() {
    let session = spotify_session::Session::builder(spotify_session::Credentials::new("id", "s"))
        .build()
        .unwrap();
    let error = session.authorize_url(&AuthorizeOptions::new()).unwrap_err();
    assert!(matches!(error, spotify_session::Error::MissingRedirectUri));
}
