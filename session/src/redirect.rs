//! Spotify's rules for redirect URIs and for the accounts service URL.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use crate::error::{Error, Result};

/// Checks a redirect URI against the rules Spotify enforces since 2025, and returns it
/// unchanged: the very same string must be sent to `/authorize` and to `/api/token`.
///
/// Accepted: `https` on any host but `localhost`; `http` on the loopback literals
/// `127.0.0.1` and `[::1]` (any port); any other scheme (`myapp://callback`). A fragment is
/// refused, as RFC 6749 §3.1.2 requires.
///
/// ```
/// use spotify_session::validate_redirect_uri;
///
/// assert!(validate_redirect_uri("http://127.0.0.1:8888/callback").is_ok());
/// assert!(validate_redirect_uri("http://localhost:8888/callback").is_err());
/// ```
///
/// # Errors
///
/// [`Error::InvalidRedirectUri`] naming the rule the URI breaks.
pub fn validate_redirect_uri(uri: &str) -> Result<&str> {
    let invalid = |reason| Error::InvalidRedirectUri {
        uri: uri.to_owned(),
        reason,
    };
    let parsed = Url::parse(uri).map_err(|_| invalid("not an absolute URI"))?;
    if parsed.fragment().is_some() {
        return Err(invalid("a redirect URI cannot have a `#` fragment"));
    }
    let is_localhost = matches!(parsed.host(), Some(Host::Domain(d)) if is_localhost_name(d));
    match parsed.scheme() {
        "https" | "http" if is_localhost => Err(invalid(
            "Spotify refuses `localhost`: use the loopback literal `127.0.0.1` or `[::1]`",
        )),
        "https" => Ok(uri),
        "http" if is_loopback_literal(parsed.host().as_ref()) && is_written_literally(uri) => {
            Ok(uri)
        }
        "http" => Err(invalid(
            "`http` is only allowed on `127.0.0.1` or `[::1]`: use `https` elsewhere",
        )),
        _ => Ok(uri),
    }
}

fn is_localhost_name(domain: &str) -> bool {
    let domain = domain.trim_end_matches('.');
    domain.eq_ignore_ascii_case("localhost") || domain.to_ascii_lowercase().ends_with(".localhost")
}

/// `url` reads `127.1` or `2130706433` as `127.0.0.1`, but Spotify compares the text: the
/// authority must be written as the literal itself, with no user info.
fn is_written_literally(uri: &str) -> bool {
    let authority = uri.split_once("://").map_or("", |(_, rest)| rest);
    ["127.0.0.1", "[::1]"].iter().any(|literal| {
        authority
            .strip_prefix(literal)
            .is_some_and(|after| after.is_empty() || after.starts_with([':', '/', '?']))
    })
}

fn is_loopback_literal(host: Option<&Host<&str>>) -> bool {
    match host {
        Some(Host::Ipv4(ip)) => *ip == Ipv4Addr::LOCALHOST,
        Some(Host::Ipv6(ip)) => *ip == Ipv6Addr::LOCALHOST,
        _ => false,
    }
}

/// The authorize and token endpoints of an accounts service URL: `https`, or `http` on a
/// loopback address (for tests against a local server). The path is kept, so a service
/// behind a prefix works.
pub(crate) fn accounts_endpoints(url: &str) -> Result<(Url, Url)> {
    let base = parse_accounts_url(url)?;
    let join = |path| {
        base.join(path).map_err(|_| Error::InvalidAccountsUrl {
            url: url.to_owned(),
            reason: "the endpoints cannot be joined to it",
        })
    };
    Ok((join("authorize")?, join("api/token")?))
}

fn parse_accounts_url(url: &str) -> Result<Url> {
    let invalid = |reason| Error::InvalidAccountsUrl {
        url: url.to_owned(),
        reason,
    };
    let mut parsed = Url::parse(url).map_err(|_| invalid("not an absolute URL"))?;
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid("the URL cannot have a query or a fragment"));
    }
    let loopback = match parsed.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(Host::Domain(domain)) => is_localhost_name(domain),
        None => false,
    };
    match parsed.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => {
            return Err(invalid(
                "use `https` (plain `http` only on a loopback address)",
            ));
        }
    }
    if !parsed.path().ends_with('/') {
        let path = format!("{}/", parsed.path());
        parsed.set_path(&path);
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_url_keeps_a_path_prefix() {
        let url = parse_accounts_url("http://127.0.0.1:9/prefix").unwrap();
        assert_eq!(
            url.join("api/token").unwrap().as_str(),
            "http://127.0.0.1:9/prefix/api/token"
        );
        let url = parse_accounts_url("https://accounts.spotify.com").unwrap();
        assert_eq!(
            url.join("authorize").unwrap().as_str(),
            "https://accounts.spotify.com/authorize"
        );
    }

    #[test]
    fn accounts_url_refuses_plain_http_off_loopback() {
        assert!(parse_accounts_url("http://accounts.spotify.com").is_err());
        assert!(parse_accounts_url("ftp://127.0.0.1").is_err());
        assert!(parse_accounts_url("https://x.test/?a=b").is_err());
    }
}
