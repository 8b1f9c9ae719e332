//! The interop server, `oidc-provider` from `interop/` run by Node.js as a child process,
//! and a browser that signs in and consents on its pages.

use std::io::{BufRead as _, BufReader, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};
use spotify_session::loopback::{Callback, LoopbackListener};
use spotify_session::{Credentials, Session, SessionBuilder, Unauthenticated};
use url::Url;

/// The confidential client (`client_secret_basic`).
pub const CONFIDENTIAL_ID: &str = "interop-confidential";
/// Its secret.
pub const CONFIDENTIAL_SECRET: &str = "interop-secret";
/// The public client (auth method `none`, PKCE required).
pub const PUBLIC_ID: &str = "interop-public";
/// The access-token lifetime the server is started with, in seconds.
pub const ACCESS_TOKEN_TTL: u64 = 60;

/// How long Node.js may take to load the provider and print its port.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// The server stops by itself after this, should the test process be killed.
const LIFETIME_SECONDS: &str = "300";
/// How long one request of the browser may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the loopback listener waits for the redirect.
const CALLBACK_TIMEOUT: Duration = Duration::from_secs(30);
/// A sign-in and a consent page, and a spare.
const MAX_PAGES: usize = 3;

/// A running interop server; dropping it stops it.
#[derive(Debug)]
pub struct InteropServer {
    child: Child,
    accounts_url: String,
    redirect_uri: String,
    log: Arc<Mutex<String>>,
    log_reader: Option<JoinHandle<()>>,
}

impl InteropServer {
    /// Starts a server with the default lifetimes: 60 s access tokens, 600 s refresh tokens.
    ///
    /// # Panics
    ///
    /// When `interop/node_modules` is missing, `node` cannot be run, or the server does not
    /// print its port in time.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a server with `settings` (environment variables of `interop/server.mjs`)
    /// over the defaults.
    ///
    /// # Panics
    ///
    /// As [`InteropServer::start`].
    pub fn start_with(settings: &[(&str, &str)]) -> Self {
        let dir = interop_dir();
        let redirect_uri = format!("http://127.0.0.1:{}/callback", super::free_port());
        let ttl = ACCESS_TOKEN_TTL.to_string();
        let mut child = Command::new("node")
            .arg("server.mjs")
            .current_dir(&dir)
            .env("PORT", "0")
            .env("INTEROP_REDIRECT_URIS", &redirect_uri)
            .env("INTEROP_CONFIDENTIAL_ID", CONFIDENTIAL_ID)
            .env("INTEROP_CONFIDENTIAL_SECRET", CONFIDENTIAL_SECRET)
            .env("INTEROP_PUBLIC_ID", PUBLIC_ID)
            .env("INTEROP_ACCESS_TOKEN_TTL", &ttl)
            .env("INTEROP_REFRESH_TOKEN_TTL", "600")
            .env("INTEROP_CODE_TTL", "60")
            .env("INTEROP_LIFETIME_SECONDS", LIFETIME_SECONDS)
            .env_remove("INTEROP_IGNORE_STDIN")
            .envs(settings.iter().copied())
            // The server stops when its stdin closes: when this handle or the process goes.
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot run `node` (is Node.js on PATH?): {error}"));

        let log = Arc::new(Mutex::new(String::new()));
        let log_reader = child.stderr.take().map(|stderr| collect(stderr, &log));
        let ready = child.stdout.take().map(first_line);
        let mut server = Self {
            child,
            accounts_url: String::new(),
            redirect_uri,
            log,
            log_reader,
        };
        let line = ready.and_then(|ready| ready.recv_timeout(START_TIMEOUT).ok());
        let address = line.as_deref().and_then(listening_address);
        match address {
            Some(address) => server.accounts_url = format!("http://{address}"),
            None => server.fail_to_start(line.as_deref()),
        }
        server
    }

    /// The base URL to give `SessionBuilder::accounts_url`.
    pub fn accounts_url(&self) -> &str {
        &self.accounts_url
    }

    /// The one redirect URI both clients are registered with, on a free loopback port.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// A session builder for `credentials`, pointed at this server and its redirect URI.
    pub fn builder(&self, credentials: Credentials) -> SessionBuilder {
        Session::builder(credentials.redirect_uri(&self.redirect_uri))
            .accounts_url(&self.accounts_url)
    }

    /// A session of the confidential client.
    pub fn confidential(&self) -> Session<Unauthenticated> {
        self.builder(Credentials::new(CONFIDENTIAL_ID, CONFIDENTIAL_SECRET))
            .build()
            .expect("the confidential session builds")
    }

    /// A session of the public client.
    pub fn public(&self) -> Session<Unauthenticated> {
        self.builder(Credentials::public(PUBLIC_ID))
            .build()
            .expect("the public session builds")
    }

    /// Revokes a refresh token of the confidential client (RFC 7009), as a user who
    /// removes the app's access would.
    pub async fn revoke(&self, refresh_token: &SecretString) {
        let response = browser_client(false)
            .post(format!("{}/token/revocation", self.accounts_url))
            .basic_auth(CONFIDENTIAL_ID, Some(CONFIDENTIAL_SECRET))
            .form(&[
                ("token", refresh_token.expose_secret()),
                ("token_type_hint", "refresh_token"),
            ])
            .send()
            .await
            .expect("the revocation request gets an answer");
        assert_eq!(response.status(), reqwest::StatusCode::OK, "revocation");
    }

    /// What the server wrote on stderr so far: warnings, and why it refused grants.
    pub fn log(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn fail_to_start(&mut self, line: Option<&str>) -> ! {
        self.stop();
        panic!(
            "the interop server did not report its port within {START_TIMEOUT:?} (first line: \
             {line:?}); its stderr:\n{}",
            self.log()
        );
    }

    /// Stops the server and waits until its stderr is read to the end.
    fn stop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.log_reader.take() {
            let _ = reader.join();
        }
    }
}

impl Drop for InteropServer {
    fn drop(&mut self) {
        let started = !self.accounts_url.is_empty();
        self.stop();
        // The harness shows this with the failure: why the provider refused a grant is
        // only on its stderr. A server that did not start said it in its panic already.
        if thread::panicking() && started {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("interop server stderr:\n{}", self.log());
            }
        }
    }
}

/// `interop/`, checked to be installed.
fn interop_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("interop");
    assert!(
        dir.join("node_modules").join("oidc-provider").is_dir(),
        "the interop server's packages are not installed: run `npm ci --prefix interop` \
         first (the full test command is `npm ci --prefix interop && cargo test`)"
    );
    dir
}

/// Reads `listening 127.0.0.1:PORT`.
fn listening_address(line: &str) -> Option<SocketAddr> {
    line.trim().strip_prefix("listening ")?.parse().ok()
}

/// Sends the first line of stdout, then drains the rest so the server never blocks on it.
fn first_line(stdout: ChildStdout) -> mpsc::Receiver<String> {
    let (send, receive) = mpsc::channel();
    thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(line)) = lines.next() {
            let _ = send.send(line);
        }
        lines.for_each(drop);
    });
    receive
}

/// Appends everything `stream` writes to `log`.
fn collect(stream: impl Read + Send + 'static, log: &Arc<Mutex<String>>) -> JoinHandle<()> {
    let log = Arc::clone(log);
    thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
            log.push_str(&line);
            log.push('\n');
        }
    })
}

fn browser_client(cookies: bool) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .cookie_store(cookies)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("the browser's HTTP client builds")
}

/// A browser with its own cookie jar, which follows redirects and fills the provider's
/// forms the way a user would.
#[derive(Debug)]
pub struct Browser {
    client: reqwest::Client,
}

/// A page the browser landed on, after its redirects.
struct Page {
    url: Url,
    body: String,
}

impl Browser {
    /// A browser with an empty cookie jar.
    pub fn new() -> Self {
        Self {
            client: browser_client(true),
        }
    }

    /// Opens `authorize_url`, signs in, consents, and returns the redirect as the
    /// loopback listener on `redirect_uri` received it.
    ///
    /// # Panics
    ///
    /// On a page that is neither the sign-in nor the consent page, or when no callback
    /// arrives.
    pub async fn authorize(&self, authorize_url: &Url, redirect_uri: &str) -> Callback {
        let waiting = listen(redirect_uri).await;
        let mut page = self.get(authorize_url.as_str()).await;
        for _ in 0..MAX_PAGES {
            if is_redirect(&page.url, redirect_uri) {
                break;
            }
            page = self.submit(&page).await;
        }
        assert!(
            is_redirect(&page.url, redirect_uri),
            "the browser did not come back to the redirect URI; last page: {}",
            page.url.path()
        );
        waiting.await.expect("the listener task runs")
    }

    /// Opens `authorize_url` and cancels on the sign-in page, then returns the redirect
    /// that carries the refusal.
    ///
    /// # Panics
    ///
    /// When the provider shows no sign-in page, or no callback arrives.
    pub async fn deny(&self, authorize_url: &Url, redirect_uri: &str) -> Callback {
        let waiting = listen(redirect_uri).await;
        let page = self.get(authorize_url.as_str()).await;
        assert_eq!(
            page.prompt(),
            Some("login"),
            "a sign-in page at {}",
            page.url.path()
        );
        let abort = format!("{}/abort", page.url.as_str().trim_end_matches('/'));
        let page = self.get(&abort).await;
        assert!(
            is_redirect(&page.url, redirect_uri),
            "back at {}",
            page.url.path()
        );
        waiting.await.expect("the listener task runs")
    }

    async fn get(&self, url: &str) -> Page {
        let response = self.client.get(url).send().await.expect("the page loads");
        Page::read(response).await
    }

    /// Posts the form of a sign-in or consent page to its own URL.
    async fn submit(&self, page: &Page) -> Page {
        let form: &[(&str, &str)] = match page.prompt() {
            Some("login") => &[
                ("prompt", "login"),
                ("login", "interop-user"),
                ("password", "any password"),
            ],
            Some("consent") => &[("prompt", "consent")],
            _ => panic!(
                "neither a sign-in nor a consent page at {}: {}",
                page.url.path(),
                page.body.chars().take(300).collect::<String>()
            ),
        };
        let response = self
            .client
            .post(page.url.clone())
            .form(form)
            .send()
            .await
            .expect("the form is posted");
        Page::read(response).await
    }
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Page {
    async fn read(response: reqwest::Response) -> Self {
        let url = response.url().clone();
        let status = response.status();
        let body = response.text().await.expect("the page's body arrives");
        assert!(
            status.is_success(),
            "HTTP {status} at {}: {body}",
            url.path()
        );
        Self { url, body }
    }

    /// The hidden `prompt` field of the provider's form: `login` or `consent`.
    fn prompt(&self) -> Option<&'static str> {
        ["login", "consent"].into_iter().find(|prompt| {
            self.body
                .contains(&format!("name=\"prompt\" value=\"{prompt}\""))
        })
    }
}

/// Whether `url` is the redirect URI with a query added.
fn is_redirect(url: &Url, redirect_uri: &str) -> bool {
    let mut bare = url.clone();
    bare.set_query(None);
    bare.as_str() == redirect_uri
}

/// Binds the loopback listener first, then waits on its own task while the browser runs.
async fn listen(redirect_uri: &str) -> tokio::task::JoinHandle<Callback> {
    let listener = LoopbackListener::bind(redirect_uri)
        .await
        .expect("the loopback listener binds the redirect URI");
    tokio::spawn(async move {
        listener
            .wait(CALLBACK_TIMEOUT)
            .await
            .expect("the callback reaches the loopback listener")
    })
}
