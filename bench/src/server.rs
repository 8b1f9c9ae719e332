//! A token endpoint on 127.0.0.1 that answers at once and counts what it sees.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;

use axum::Router;
use axum::extract::{Form, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::serve::ListenerExt as _;
use serde::Deserialize;

/// The client id every benchmark uses (the test vector of Spotify's Basic header).
pub const CLIENT_ID: &str = "b777292af0def22f9257991fc770b520";
/// The client secret that goes with [`CLIENT_ID`].
pub const CLIENT_SECRET: &str = "6a0419f43d0aa93b2ae881429b6b9bc2";
/// The one `Authorization` header the server accepts.
const BASIC_HEADER: &str = concat!(
    "Basic Yjc3NzI5MmFmMGRlZjIyZjkyNTc5OTFmYzc3MGI1MjA6",
    "NmEwNDE5ZjQzZDBhYTkzYjJhZTg4MTQyOWI2YjliYzI=",
);
/// The refresh token of the user's grant the refresh benchmarks renew.
pub const REFRESH_TOKEN: &str = "AQBbenchRefreshTokenOfAUserGrantThatNeverRotates";
/// The redirect URI of the authorize URLs.
pub const REDIRECT_URI: &str = "http://127.0.0.1:8888/callback";
/// The `state` of the authorize URLs.
pub const STATE: &str = "q3Rw9xZ1bT7mK2pL";
/// The scopes asked for in the authorize URLs and granted on refresh.
pub const SCOPES: [&str; 2] = ["user-read-private", "user-read-email"];

/// What the server answers to a client-credentials grant: Spotify's shape, no scope.
const CREDENTIALS_ANSWER: &str = concat!(
    r#"{"access_token":"BQDbenchAppTokenAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"#,
    r#"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","#,
    r#""token_type":"Bearer","expires_in":3600}"#
);
/// What the server answers to a refresh: the granted scopes, and no new refresh token (the
/// client keeps the one it has).
const REFRESH_ANSWER: &str = concat!(
    r#"{"access_token":"BQDbenchUserTokenAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"#,
    r#"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","#,
    r#""token_type":"Bearer","expires_in":3600,"scope":"user-read-private user-read-email"}"#
);

#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    token_requests: AtomicU64,
}

/// How many connections and token requests a [`TokenServer`] had seen at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// TCP connections accepted.
    pub connections: u64,
    /// Requests to `POST /api/token`, answered or refused.
    pub token_requests: u64,
}

impl std::ops::Sub for Counts {
    type Output = Counts;

    fn sub(self, earlier: Counts) -> Counts {
        Counts {
            connections: self.connections - earlier.connections,
            token_requests: self.token_requests - earlier.token_requests,
        }
    }
}

/// Spotify's `POST /api/token` on 127.0.0.1, answering at once from a thread of its own
/// (a single-threaded runtime), with HTTP/1.1 keep-alive on. It counts the TCP connections
/// it accepts and the token requests it gets.
///
/// It checks what a real endpoint would refuse: the Basic header of [`CLIENT_ID`] and
/// [`CLIENT_SECRET`], a form body, `grant_type=client_credentials`, or
/// `grant_type=refresh_token` with [`REFRESH_TOKEN`]. Anything else gets a 4xx, which every
/// client turns into an error and the benchmarks into a panic: a timing is only ever of
/// requests that succeeded. The server runs until the process ends.
#[derive(Debug, Clone)]
pub struct TokenServer {
    addr: SocketAddr,
    counters: Arc<Counters>,
}

impl TokenServer {
    /// Binds a free port on 127.0.0.1 and starts serving.
    ///
    /// # Panics
    ///
    /// When no port can be bound or the server's runtime cannot be built.
    pub fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let addr = listener.local_addr().expect("the listener's address");
        let counters = Arc::<Counters>::default();
        let serving = Arc::clone(&counters);
        thread::Builder::new()
            .name("token-server".to_owned())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("the server's runtime");
                runtime.block_on(serve(listener, serving));
            })
            .expect("the server's thread");
        Self { addr, counters }
    }

    /// The base URL, `http://127.0.0.1:PORT`, without a final slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The token endpoint, `http://127.0.0.1:PORT/api/token`.
    pub fn token_url(&self) -> String {
        format!("http://{}/api/token", self.addr)
    }

    /// The connections and token requests seen so far.
    pub fn counts(&self) -> Counts {
        Counts {
            connections: self.counters.connections.load(Ordering::SeqCst),
            token_requests: self.counters.token_requests.load(Ordering::SeqCst),
        }
    }
}

async fn serve(listener: std::net::TcpListener, counters: Arc<Counters>) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
    let accepted = Arc::clone(&counters);
    let listener = listener.tap_io(move |tcp| {
        accepted.connections.fetch_add(1, Ordering::SeqCst);
        // An answer is one small write: send it without waiting for Nagle's timer. Failing
        // to set it only makes answers slower for every client alike.
        tcp.set_nodelay(true).ok();
    });
    let app = Router::new()
        .route("/api/token", post(token))
        .with_state(counters);
    axum::serve(listener, app)
        .await
        .expect("the token server stopped");
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: String,
    refresh_token: Option<String>,
}

async fn token(
    State(counters): State<Arc<Counters>>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    counters.token_requests.fetch_add(1, Ordering::SeqCst);
    let authorized = headers
        .get(AUTHORIZATION)
        .is_some_and(|value| *value == BASIC_HEADER);
    if !authorized {
        return refusal(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    match (form.grant_type.as_str(), form.refresh_token.as_deref()) {
        ("client_credentials", _) => json(CREDENTIALS_ANSWER),
        ("refresh_token", Some(REFRESH_TOKEN)) => json(REFRESH_ANSWER),
        ("refresh_token", _) => refusal(StatusCode::BAD_REQUEST, "invalid_grant"),
        _ => refusal(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
    }
}

fn json(body: &'static str) -> Response {
    ([(CONTENT_TYPE, "application/json")], body).into_response()
}

fn refusal(status: StatusCode, error: &'static str) -> Response {
    let body = serde_json::json!({ "error": error }).to_string();
    (status, [(CONTENT_TYPE, "application/json")], body).into_response()
}
