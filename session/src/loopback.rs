//! Receiving the authorization redirect on the user's own machine.
//!
//! A command-line or desktop app registers a loopback redirect URI such as
//! `http://127.0.0.1:8888/callback`, opens the authorize URL in the user's browser, and
//! listens on that address for the redirect that carries the code. [`LoopbackListener`] does
//! the listening: it binds the loopback address and port of the redirect URI, and nothing
//! else, answers the browser with a short page, and hands back the [`Callback`] for
//! [`Session::complete_authorization`](crate::Session::complete_authorization), which checks
//! the `state` and exchanges the code.
//!
//! Bind before opening the browser, so that the redirect cannot arrive before anyone
//! listens:
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use spotify_session::loopback::LoopbackListener;
//! use spotify_session::{AuthorizeOptions, Credentials, Scope, Session};
//!
//! # async fn run() -> Result<(), spotify_session::Error> {
//! let redirect_uri = "http://127.0.0.1:8888/callback";
//! let session = Session::builder(Credentials::from_env()?.redirect_uri(redirect_uri)).build()?;
//! let pending = session.begin_authorization(
//!     &AuthorizeOptions::new().scopes([Scope::UserReadEmail]),
//! )?;
//!
//! let listener = LoopbackListener::bind(redirect_uri).await?;
//! println!("open {} in your browser", pending.url());
//! let callback = listener.wait(Duration::from_secs(300)).await?;
//!
//! let user = session.complete_authorization(pending, callback).await?;
//! println!("granted: {}", user.scopes());
//! # Ok(())
//! # }
//! ```
//!
//! [`wait_for_callback`] does both steps in one call, for callers that open the browser
//! on another task after the listener is known to be bound, or that do not mind the race.
//!
//! The listener serves plain HTTP/1 on the loopback interface only. It does not check the
//! `state` (the session does) and it does not keep listening after the first callback: a
//! second authorization needs a new listener.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header::{self, HeaderValue};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};
use url::{Host, Url};

use crate::error::{Error, Result};

/// How long the listener lets open connections finish after the wait ends, so that the
/// browser still gets its page. A connection that stalls longer is dropped.
const DRAIN: Duration = Duration::from_secs(2);

/// Binds the loopback address of `redirect_uri`, waits at most `timeout` for the redirect
/// and stops listening.
///
/// The same as [`LoopbackListener::bind`] followed by [`LoopbackListener::wait`]. Prefer the
/// two steps when the browser is opened in between: a redirect that arrives before the
/// listener is bound is lost.
///
/// # Errors
///
/// The errors of [`LoopbackListener::bind`] and [`LoopbackListener::wait`].
pub async fn wait_for_callback(redirect_uri: &str, timeout: Duration) -> Result<Callback> {
    LoopbackListener::bind(redirect_uri)
        .await?
        .wait(timeout)
        .await
}

/// A bound loopback address waiting to receive the authorization redirect.
///
/// Made by [`bind`](Self::bind); consumed by [`wait`](Self::wait), which serves until the
/// first callback or the timeout and then frees the port. Dropping it unused frees the port
/// too.
#[derive(Debug)]
pub struct LoopbackListener {
    listener: TcpListener,
    redirect_uri: Url,
}

impl LoopbackListener {
    /// Binds the address and port of `redirect_uri`, which must be a loopback redirect URI:
    /// `http://127.0.0.1:PORT/PATH` or `http://[::1]:PORT/PATH`, with an explicit port.
    ///
    /// Connections that arrive before [`wait`](Self::wait) is called are queued, not
    /// refused.
    ///
    /// # Errors
    ///
    /// - [`Error::NotLoopbackRedirect`] when the URI is not a loopback redirect URI: another
    ///   host (`localhost`, `0.0.0.0` or any other address or name), `https` or another
    ///   scheme, no port or port 0, user info, or a fragment.
    /// - [`Error::LoopbackBind`] when the address cannot be bound, typically because another
    ///   program holds the port.
    pub async fn bind(redirect_uri: &str) -> Result<Self> {
        let (redirect_uri, address) = loopback_address(redirect_uri)?;
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| Error::LoopbackBind { address, source })?;
        tracing::debug!(%address, "loopback listener bound");
        Ok(Self {
            listener,
            redirect_uri,
        })
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        // A bound socket always has an address: fall back to the one asked for if the
        // system does not say.
        self.listener
            .local_addr()
            .unwrap_or_else(|_| socket_address(&self.redirect_uri))
    }

    /// The redirect URI the listener serves, as parsed.
    pub fn redirect_uri(&self) -> &Url {
        &self.redirect_uri
    }

    /// Serves until the first request on the redirect URI's path that carries `code` or
    /// `error`, then stops listening and returns it.
    ///
    /// Requests on other paths (the browser's `/favicon.ico`) get a 404 page; a request on
    /// the path with neither parameter gets a 400 page; both keep the wait going. The
    /// browser that brings the callback gets a short page saying that the authorization
    /// arrived, or why it failed. The port is free again when this returns, whatever the
    /// outcome.
    ///
    /// # Errors
    ///
    /// [`Error::CallbackTimeout`] when no callback arrived within `timeout`.
    pub async fn wait(self, timeout: Duration) -> Result<Callback> {
        let shared = Arc::new(Shared::new(self.redirect_uri));
        let router = Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&shared));
        let (stop, stopped) = oneshot::channel::<()>();
        let server = axum::serve(self.listener, router).with_graceful_shutdown(async move {
            // Either a send or a drop of `stop` ends the wait.
            let _ = stopped.await;
        });
        let mut server = std::pin::pin!(server.into_future());

        tokio::select! {
            () = shared.arrived.notified() => {}
            () = tokio::time::sleep(timeout) => {}
            _ = &mut server => {}
        }

        drop(stop);
        if tokio::time::timeout(DRAIN, server).await.is_err() {
            tracing::debug!("loopback listener dropped a stalled connection");
        }
        shared
            .take()
            .ok_or(Error::CallbackTimeout { waited: timeout })
    }
}

/// The redirect that brought the user back: the full callback URL, with its `code` (or
/// `error`) and `state`.
///
/// Hand it to [`Session::complete_authorization`](crate::Session::complete_authorization),
/// which takes anything that is [`AsRef<str>`]. Its `Debug` shows the parameter names but
/// not their values, since the code is a credential.
#[derive(Clone, PartialEq, Eq)]
pub struct Callback {
    url: Url,
}

impl Callback {
    /// The full callback URL, such as `http://127.0.0.1:8888/callback?code=…&state=…`.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The full callback URL as text.
    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    /// The full callback URL, by value.
    pub fn into_url(self) -> Url {
        self.url
    }
}

impl AsRef<str> for Callback {
    fn as_ref(&self) -> &str {
        self.url.as_str()
    }
}

impl fmt::Debug for Callback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut redirect = self.url.clone();
        redirect.set_query(None);
        let names: Vec<_> = self.url.query_pairs().map(|(name, _)| name).collect();
        f.debug_struct("Callback")
            .field("redirect_uri", &redirect.as_str())
            .field("parameters", &names)
            .finish_non_exhaustive()
    }
}

/// Parses `uri` and returns the socket address it names, or the reason it is not a
/// loopback redirect URI.
fn loopback_address(uri: &str) -> Result<(Url, SocketAddr)> {
    let refuse = |reason| Error::NotLoopbackRedirect {
        uri: uri.to_owned(),
        reason,
    };
    let parsed = Url::parse(uri).map_err(|_| refuse("not an absolute URI"))?;
    check_loopback(&parsed).map_err(refuse)?;
    let address = socket_address(&parsed);
    Ok((parsed, address))
}

fn check_loopback(url: &Url) -> Result<(), &'static str> {
    match url.scheme() {
        "http" => {}
        "https" => return Err("the listener serves plain `http`, it has no certificate"),
        _ => return Err("the scheme must be `http`"),
    }
    match url.host() {
        Some(Host::Ipv4(ip)) if ip == Ipv4Addr::LOCALHOST => {}
        Some(Host::Ipv6(ip)) if ip == Ipv6Addr::LOCALHOST => {}
        Some(Host::Domain(name)) if name.eq_ignore_ascii_case("localhost") => {
            return Err("Spotify refuses `localhost`: use `127.0.0.1` or `[::1]`");
        }
        _ => return Err("the host must be the loopback literal `127.0.0.1` or `[::1]`"),
    }
    match url.port() {
        None => return Err("the port must be written out, as in `http://127.0.0.1:8888/`"),
        Some(0) => return Err("port 0 cannot be registered: choose a fixed port"),
        Some(_) => {}
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("a redirect URI cannot carry user info");
    }
    if url.fragment().is_some() {
        return Err("a redirect URI cannot have a `#` fragment");
    }
    Ok(())
}

/// The socket address of a URL that passed [`check_loopback`].
fn socket_address(url: &Url) -> SocketAddr {
    let port = url.port().unwrap_or_default();
    match url.host() {
        Some(Host::Ipv6(ip)) => SocketAddr::from((ip, port)),
        _ => SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
    }
}

/// What the request handler and the waiting task share.
struct Shared {
    redirect_uri: Url,
    found: Mutex<Option<Callback>>,
    arrived: Notify,
}

impl Shared {
    fn new(redirect_uri: Url) -> Self {
        Self {
            redirect_uri,
            found: Mutex::new(None),
            arrived: Notify::new(),
        }
    }

    /// Keeps `callback` unless one arrived before; true when it was kept.
    fn offer(&self, callback: Callback) -> bool {
        let mut found = self.found.lock().unwrap_or_else(PoisonError::into_inner);
        if found.is_some() {
            return false;
        }
        *found = Some(callback);
        drop(found);
        self.arrived.notify_one();
        true
    }

    fn take(&self) -> Option<Callback> {
        self.found
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// What a request on the callback path carries.
enum Outcome {
    Code,
    Error {
        error: String,
        description: Option<String>,
    },
    Neither,
}

impl Outcome {
    fn of(query: &str) -> Self {
        let mut error = None;
        let mut description = None;
        let mut code = false;
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match &*name {
                "code" => code = true,
                "error" if error.is_none() => error = Some(value.into_owned()),
                "error_description" if description.is_none() => {
                    description = Some(value.into_owned());
                }
                _ => {}
            }
        }
        match (error, code) {
            (Some(error), _) => Self::Error { error, description },
            (None, true) => Self::Code,
            (None, false) => Self::Neither,
        }
    }
}

async fn answer(State(shared): State<Arc<Shared>>, method: Method, uri: Uri) -> Response {
    if uri.path() != shared.redirect_uri.path() {
        tracing::trace!(path = uri.path(), "loopback listener answered 404");
        return page(
            StatusCode::NOT_FOUND,
            "Not found",
            "Nothing is served here.",
        );
    }
    if method != Method::GET && method != Method::HEAD {
        let mut response = page(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not allowed",
            "The redirect arrives with GET.",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }

    let query = uri.query().unwrap_or_default();
    let outcome = Outcome::of(query);
    if let Outcome::Neither = outcome {
        tracing::debug!("loopback callback without `code` or `error` ignored");
        return page(
            StatusCode::BAD_REQUEST,
            "Not an authorization",
            "This request carries neither a code nor an error; still waiting for the redirect.",
        );
    }

    let mut url = shared.redirect_uri.clone();
    url.set_query(Some(query));
    if !shared.offer(Callback { url }) {
        return page(
            StatusCode::OK,
            "Already received",
            "The authorization was already received, you can close this tab.",
        );
    }
    tracing::debug!("loopback callback received");
    outcome_page(outcome)
}

fn outcome_page(outcome: Outcome) -> Response {
    match outcome {
        Outcome::Error { error, description } => {
            let detail = description.map_or_else(String::new, |text| format!(": {text}"));
            page(
                StatusCode::OK,
                "Authorization failed",
                &format!("The authorization failed with {error}{detail}. You can close this tab."),
            )
        }
        _ => page(
            StatusCode::OK,
            "Authorization received",
            "Authorization received, you can close this tab.",
        ),
    }
}

/// A minimal HTML page. `message` is escaped; nothing on the page runs or loads anything.
fn page(status: StatusCode, title: &'static str, message: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>{title}\
         </title></head>\n<body>\n<h1>{title}</h1>\n<p>{}</p>\n</body>\n</html>\n",
        html_escape::encode_text(message),
    );
    let mut response = (status, Html(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The page's own URL holds the code: no referrer, no scripts, no subresources.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(uri: &str) -> &'static str {
        match loopback_address(uri) {
            Err(Error::NotLoopbackRedirect { reason, .. }) => reason,
            other => panic!("{uri} gave {other:?}"),
        }
    }

    #[test]
    fn loopback_literals_give_their_socket_address() {
        let (_, v4) = loopback_address("http://127.0.0.1:8888/callback").unwrap();
        assert_eq!(v4, SocketAddr::from(([127, 0, 0, 1], 8888)));
        let (_, v6) = loopback_address("http://[::1]:43123/cb").unwrap();
        assert_eq!(v6, SocketAddr::from((Ipv6Addr::LOCALHOST, 43123)));
    }

    #[test]
    fn other_hosts_schemes_and_ports_are_refused() {
        assert!(refusal("http://localhost:8888/callback").contains("localhost"));
        assert!(refusal("http://LOCALHOST:8888/callback").contains("localhost"));
        assert!(refusal("http://0.0.0.0:8888/callback").contains("loopback literal"));
        assert!(refusal("http://127.0.0.2:8888/callback").contains("loopback literal"));
        assert!(refusal("http://192.0.2.1:8888/callback").contains("loopback literal"));
        assert!(refusal("http://[::]:8888/callback").contains("loopback literal"));
        assert!(refusal("https://127.0.0.1:8888/callback").contains("`http`"));
        assert!(refusal("myapp://callback").contains("scheme"));
        assert!(refusal("http://127.0.0.1/callback").contains("port"));
        assert!(refusal("http://127.0.0.1:0/callback").contains("port 0"));
        assert!(refusal("http://me@127.0.0.1:8888/callback").contains("user info"));
        assert!(refusal("http://127.0.0.1:8888/callback#x").contains("fragment"));
        assert!(refusal("/callback").contains("absolute"));
    }

    #[test]
    fn outcome_reads_code_and_error() {
        assert!(matches!(Outcome::of("code=abc&state=s"), Outcome::Code));
        assert!(matches!(Outcome::of("state=s"), Outcome::Neither));
        assert!(matches!(Outcome::of(""), Outcome::Neither));
        match Outcome::of("error=access_denied&error_description=no%20thanks&code=x") {
            Outcome::Error { error, description } => {
                assert_eq!(error, "access_denied");
                assert_eq!(description.as_deref(), Some("no thanks"));
            }
            _ => panic!("an error callback was not read as one"),
        }
    }

    #[test]
    fn callback_debug_hides_values() {
        let url = Url::parse("http://127.0.0.1:8888/callback?code=SECRET&state=STATE").unwrap();
        let shown = format!("{:?}", Callback { url });
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(!shown.contains("STATE"), "{shown}");
        assert!(shown.contains("http://127.0.0.1:8888/callback"), "{shown}");
        assert!(shown.contains("\"code\""), "{shown}");
    }
}
