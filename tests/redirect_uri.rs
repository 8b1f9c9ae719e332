//! The redirect-URI rules Spotify enforces since 2025, one case each.

use spotify_session::{Credentials, Error, Session, validate_redirect_uri};

fn refused(uri: &str) -> &'static str {
    match validate_redirect_uri(uri) {
        Err(Error::InvalidRedirectUri { reason, .. }) => reason,
        other => panic!("{uri} was not refused: {other:?}"),
    }
}

#[test]
fn https_is_accepted() {
    assert!(validate_redirect_uri("https://example.com/callback").is_ok());
}

#[test]
fn http_on_ipv4_loopback_with_any_port_is_accepted() {
    assert!(validate_redirect_uri("http://127.0.0.1:8888/callback").is_ok());
    assert!(validate_redirect_uri("http://127.0.0.1:1/callback").is_ok());
    assert!(validate_redirect_uri("http://127.0.0.1/callback").is_ok());
}

#[test]
fn http_on_ipv6_loopback_is_accepted() {
    assert!(validate_redirect_uri("http://[::1]:8080/callback").is_ok());
}

#[test]
fn a_custom_scheme_is_accepted() {
    assert!(validate_redirect_uri("myapp://callback").is_ok());
}

#[test]
fn localhost_is_refused_with_a_hint() {
    let reason = refused("http://localhost:8888/callback");
    assert!(reason.contains("127.0.0.1"), "{reason}");
    refused("https://localhost/callback");
    refused("http://LOCALHOST:8888/callback");
}

#[test]
fn http_elsewhere_is_refused() {
    let reason = refused("http://example.com/callback");
    assert!(reason.contains("https"), "{reason}");
    refused("http://192.168.1.10:8888/callback");
    refused("http://127.0.0.2:8888/callback");
}

#[test]
fn loopback_written_other_than_literally_is_refused() {
    for uri in [
        "http://127.1:8888/callback",
        "http://2130706433:8888/callback",
        "http://0x7f.0.0.1:8888/callback",
        "http://user@127.0.0.1:8888/callback",
        "http://[0:0:0:0:0:0:0:1]:8888/callback",
    ] {
        refused(uri);
    }
}

#[test]
fn a_fragment_is_refused() {
    refused("https://example.com/callback#part");
}

#[test]
fn a_relative_uri_is_refused() {
    refused("/callback");
}

#[test]
fn the_uri_is_kept_exactly_as_given() {
    let session =
        Session::builder(Credentials::new("id", "secret").redirect_uri("http://127.0.0.1:8888"))
            .build()
            .unwrap();
    assert_eq!(session.redirect_uri(), Some("http://127.0.0.1:8888"));
}

#[test]
fn the_builder_and_the_setter_refuse_a_bad_uri() {
    let built = Session::builder(
        Credentials::new("id", "secret").redirect_uri("http://localhost:8888/callback"),
    )
    .build();
    assert!(matches!(built, Err(Error::InvalidRedirectUri { .. })));

    let mut session = Session::builder(
        Credentials::new("id", "secret").redirect_uri("http://127.0.0.1:8888/callback"),
    )
    .build()
    .unwrap();
    assert!(session.set_redirect_uri("http://localhost/cb").is_err());
    assert_eq!(
        session.redirect_uri(),
        Some("http://127.0.0.1:8888/callback")
    );
    session.set_redirect_uri("https://example.com/cb").unwrap();
    assert_eq!(session.redirect_uri(), Some("https://example.com/cb"));
}

#[test]
fn the_accounts_url_must_be_https_off_loopback() {
    let built = Session::builder(Credentials::new("id", "secret"))
        .accounts_url("http://accounts.example.com")
        .build();
    assert!(matches!(built, Err(Error::InvalidAccountsUrl { .. })));
}
