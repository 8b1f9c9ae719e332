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
//! listens, and wait with [`LoopbackListener::wait_for`], so that only the redirect of this
//! login ends the wait:
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
//! let callback = listener.wait_for(&pending, Duration::from_secs(300)).await?;
//!
//! let user = session.complete_authorization(pending, callback).await?;
//! println!("granted: {}", user.scopes());
//! # Ok(())
//! # }
//! ```
//!
//! [`wait_for_authorization`] does both steps in one call, for callers that open the browser
//! on another task after the listener is known to be bound, or that do not mind the race.
//!
//! Any program on the machine, and any web page open in the user's browser, can send a
//! request to the loopback port. [`wait_for`](LoopbackListener::wait_for) answers a callback
//! without the pending `state` with a 400 page and keeps waiting, so such a request cannot
//! end the login. [`wait`](LoopbackListener::wait) and [`wait_for_callback`] have no pending
//! authorization to compare with and take the first callback that carries `code` or
//! `error`, whatever its `state`: the session then refuses it, and the login fails.
//!
//! The listener serves plain HTTP/1 on the loopback interface only, and it stops listening
//! after the callback it accepts: a second authorization needs a new listener.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header::{self, HeaderValue};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use subtle::ConstantTimeEq as _;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};
use url::{Host, Url};

use crate::authorize::PendingAuthorization;
use crate::error::{Error, Result};

/// How long the listener lets open connections finish after the wait ends, so that the
/// browser still gets its page. A connection that stalls longer is dropped.
const DRAIN: Duration = Duration::from_secs(2);

/// Binds the loopback redirect URI of `pending`, waits at most `timeout` for the redirect
/// that carries its `state`, and stops listening.
///
/// The same as [`LoopbackListener::bind`] with the `redirect_uri` of
/// [`pending.url()`](PendingAuthorization::url), followed by [`LoopbackListener::wait_for`].
/// Prefer the two steps when the browser is opened in between: a redirect that arrives
/// before the listener is bound is lost. The future does not borrow `pending`, so it can be
/// spawned.
///
/// # Errors
///
/// - [`Error::NotLoopbackRedirect`] when the authorize URL carries no `redirect_uri` (the
///   error then shows an empty URI), and the errors of [`LoopbackListener::bind`].
/// - The errors of [`LoopbackListener::wait_for`].
pub fn wait_for_authorization(
    pending: &PendingAuthorization,
    timeout: Duration,
) -> impl Future<Output = Result<Callback>> + Send + use<> {
    let redirect_uri = pending_redirect_uri(pending);
    let state = pending.state().to_owned();
    async move {
        LoopbackListener::bind(&redirect_uri?)
            .await?
            .serve(Some(state), timeout)
            .await
    }
}

/// Binds the loopback address of `redirect_uri`, waits at most `timeout` for the first
/// callback and stops listening.
///
/// The same as [`LoopbackListener::bind`] followed by [`LoopbackListener::wait`], so any
/// request that carries `code` or `error` ends the wait: [`wait_for_authorization`] only
/// accepts the redirect of the pending authorization, and is the safer choice.
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
/// Made by [`bind`](Self::bind); consumed by [`wait_for`](Self::wait_for) or
/// [`wait`](Self::wait), which serve until the callback they accept or the timeout and then
/// free the port. Dropping it unused frees the port too.
#[derive(Debug)]
pub struct LoopbackListener {
    listener: TcpListener,
    redirect_uri: Url,
}

impl LoopbackListener {
    /// Binds the address and port of `redirect_uri`, which must be a loopback redirect URI:
    /// `http://127.0.0.1:PORT/PATH` or `http://[::1]:PORT/PATH`, with an explicit port.
    ///
    /// Connections that arrive before [`wait_for`](Self::wait_for) or [`wait`](Self::wait)
    /// is called are queued, not refused.
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

    /// Serves until the redirect of `pending` arrives: a request on the redirect URI's path
    /// that carries `code` or `error` and, once, the `state` of `pending`. Then stops
    /// listening and returns it.
    ///
    /// A request on the path whose `state` is missing, repeated or different gets a 400 page
    /// saying it does not belong to this login, and the wait goes on: another program or a
    /// web page cannot end the login by calling the port first. The state is compared in
    /// constant time. Other requests are answered as by [`wait`](Self::wait). The future
    /// does not borrow `pending`, so it can be spawned.
    ///
    /// The listener does not check that `pending` was made for its redirect URI; if not, the
    /// redirect goes elsewhere and the wait ends with the timeout.
    ///
    /// # Errors
    ///
    /// [`Error::CallbackTimeout`] when no callback of `pending` arrived within `timeout`.
    pub fn wait_for(
        self,
        pending: &PendingAuthorization,
        timeout: Duration,
    ) -> impl Future<Output = Result<Callback>> + Send + use<> {
        self.serve(Some(pending.state().to_owned()), timeout)
    }

    /// Serves until the first request on the redirect URI's path that carries `code` or
    /// `error`, whatever its `state`, then stops listening and returns it.
    ///
    /// Any program on the machine or web page in the browser that calls the port first
    /// ends the wait with its own callback, which the session then refuses:
    /// [`wait_for`](Self::wait_for) only accepts the redirect of the pending authorization,
    /// and is the safer choice.
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
        self.serve(None, timeout).await
    }

    /// Serves until a callback is accepted (any, or only one with `expected_state`) or the
    /// timeout, then lets open connections drain and frees the port.
    async fn serve(self, expected_state: Option<String>, timeout: Duration) -> Result<Callback> {
        let shared = Arc::new(Shared::new(self.redirect_uri, expected_state));
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

/// The `redirect_uri` parameter of the pending authorize URL.
fn pending_redirect_uri(pending: &PendingAuthorization) -> Result<String> {
    pending
        .url()
        .query_pairs()
        .find(|(name, _)| name == "redirect_uri")
        .map(|(_, value)| value.into_owned())
        .ok_or(Error::NotLoopbackRedirect {
            uri: String::new(),
            reason: "the authorize URL carries no `redirect_uri`",
        })
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
    /// The `state` a callback must carry, when waiting for a pending authorization.
    expected_state: Option<String>,
    found: Mutex<Option<Callback>>,
    arrived: Notify,
}

impl Shared {
    fn new(redirect_uri: Url, expected_state: Option<String>) -> Self {
        Self {
            redirect_uri,
            expected_state,
            found: Mutex::new(None),
            arrived: Notify::new(),
        }
    }

    /// True when a callback with `query` may end the wait.
    fn belongs(&self, query: &str) -> bool {
        self.expected_state
            .as_deref()
            .is_none_or(|expected| carries_state(query, expected))
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

/// True when `query` has exactly one `state`, equal to `expected`; compared in constant time
/// so that the answer's timing tells nothing about the expected value.
fn carries_state(query: &str, expected: &str) -> bool {
    let mut states = url::form_urlencoded::parse(query.as_bytes())
        .filter(|(name, _)| name == "state")
        .map(|(_, value)| value);
    match (states.next(), states.next()) {
        (Some(state), None) => bool::from(state.as_bytes().ct_eq(expected.as_bytes())),
        _ => false,
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
    answer_callback(&shared, uri.query().unwrap_or_default())
}

/// Answers a GET on the callback path, and keeps its callback when it ends the wait.
fn answer_callback(shared: &Shared, query: &str) -> Response {
    let outcome = Outcome::of(query);
    if let Outcome::Neither = outcome {
        tracing::debug!("loopback callback without `code` or `error` ignored");
        return page(
            StatusCode::BAD_REQUEST,
            "Not an authorization",
            "This request carries neither a code nor an error; still waiting for the redirect.",
        );
    }
    if !shared.belongs(query) {
        tracing::debug!("loopback callback without the pending `state` ignored");
        return page(
            StatusCode::BAD_REQUEST,
            "Not this login",
            "This request does not belong to the login in progress; still waiting for the \
             redirect.",
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
    fn only_one_matching_state_belongs() {
        assert!(carries_state("code=c&state=s%26t", "s&t"));
        assert!(!carries_state("code=c&state=s", "s&t"));
        assert!(!carries_state("code=c&state=", "s"));
        assert!(!carries_state("code=c", "s"));
        assert!(!carries_state("error=x", "s"));
        assert!(!carries_state("code=c&state=s&state=s", "s"));
        assert!(!carries_state("code=c&state=s&state=x", "s"));
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
