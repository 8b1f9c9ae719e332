//! The loopback redirect listener, driven by a real HTTP client as a browser would.

mod support;

use std::net::{Ipv6Addr, SocketAddr, TcpListener as StdTcpListener};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use spotify_session::loopback::{
    Callback, LoopbackListener, wait_for_authorization, wait_for_callback,
};
use spotify_session::testing::{FakeAccounts, FakeClient};
use spotify_session::{
    AuthorizeOptions, Credentials, Error, PendingAuthorization, Scope, Session, Unauthenticated,
};
use support::{callback_param, free_port};
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(20);

fn redirect_uri(port: u16) -> String {
    format!("http://127.0.0.1:{port}/callback")
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Binds first, then waits on its own task, as an app does before opening the browser.
async fn listen(redirect_uri: &str, timeout: Duration) -> JoinHandle<Result<Callback, Error>> {
    let listener = LoopbackListener::bind(redirect_uri).await.unwrap();
    tokio::spawn(listener.wait(timeout))
}

/// A fake accounts service that knows `redirect_uri`, a session against it, and an
/// authorization begun with it.
async fn login(
    redirect_uri: &str,
) -> (FakeAccounts, Session<Unauthenticated>, PendingAuthorization) {
    let client =
        FakeClient::confidential("loopback-id", "loopback-secret").redirect_uri(redirect_uri);
    let fake = FakeAccounts::builder()
        .client(client)
        .start()
        .await
        .unwrap();
    let credentials = Credentials::new("loopback-id", "loopback-secret").redirect_uri(redirect_uri);
    let session = Session::builder(credentials)
        .accounts_url(fake.url())
        .build()
        .unwrap();
    let options = AuthorizeOptions::new().scopes([Scope::UserReadEmail]);
    let pending = session.begin_authorization(&options).unwrap();
    (fake, session, pending)
}

struct Page {
    status: StatusCode,
    content_type: String,
    body: String,
}

async fn get(url: &str) -> Page {
    let response = browser().get(url).send().await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.text().await.unwrap();
    Page {
        status,
        content_type,
        body,
    }
}

/// A GET that retries while nothing listens yet, for a listener bound on another task.
async fn get_once_listening(url: &str) -> Page {
    for _ in 0..500 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port_of(url)))
            .await
            .is_ok()
        {
            return get(url).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("nothing listened on {url}");
}

fn port_of(url: &str) -> u16 {
    url::Url::parse(url).unwrap().port().unwrap()
}

fn assert_not_this_login(page: &Page) {
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    assert!(
        page.content_type.starts_with("text/html"),
        "{}",
        page.content_type
    );
    assert!(
        page.body
            .contains("does not belong to the login in progress"),
        "{}",
        page.body
    );
}

fn assert_port_free(port: u16) {
    StdTcpListener::bind(("127.0.0.1", port)).expect("the port is free again");
}

#[tokio::test]
async fn favicon_gets_404_then_the_callback_is_returned() {
    let port = free_port();
    let uri = redirect_uri(port);
    let waiting = listen(&uri, WAIT).await;

    let favicon = get(&format!("http://127.0.0.1:{port}/favicon.ico")).await;
    assert_eq!(favicon.status, StatusCode::NOT_FOUND);
    assert!(!waiting.is_finished(), "a favicon request ended the wait");

    let callback_url = format!("{uri}?code=the-code&state=a%26b%3Dc");
    let page = get(&callback_url).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.content_type.starts_with("text/html"),
        "{}",
        page.content_type
    );
    assert!(
        page.body.contains("you can close this tab"),
        "{}",
        page.body
    );

    let callback = waiting.await.unwrap().unwrap();
    assert_eq!(callback.as_str(), callback_url);
    assert_eq!(callback.as_ref(), callback_url);
    assert_eq!(
        callback_param(&callback, "code").as_deref(),
        Some("the-code")
    );
    assert_eq!(callback_param(&callback, "state").as_deref(), Some("a&b=c"));
    assert_eq!(callback.clone().into_url(), *callback.url());
}

#[tokio::test]
async fn callback_without_code_or_error_gets_400_and_the_wait_goes_on() {
    let port = free_port();
    let uri = redirect_uri(port);
    let waiting = listen(&uri, WAIT).await;

    let empty = get(&format!("{uri}?state=xyz")).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert!(
        empty.content_type.starts_with("text/html"),
        "{}",
        empty.content_type
    );
    let bare = get(&uri).await;
    assert_eq!(bare.status, StatusCode::BAD_REQUEST);
    assert!(
        !waiting.is_finished(),
        "a callback without code ended the wait"
    );

    assert_eq!(
        get(&format!("{uri}?code=c2&state=xyz")).await.status,
        StatusCode::OK
    );
    let callback = waiting.await.unwrap().unwrap();
    assert_eq!(callback_param(&callback, "code").as_deref(), Some("c2"));
}

#[tokio::test]
async fn other_methods_on_the_callback_path_are_refused_and_the_wait_goes_on() {
    let port = free_port();
    let uri = redirect_uri(port);
    let waiting = listen(&uri, WAIT).await;

    let posted = browser()
        .post(format!("{uri}?code=c"))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(!waiting.is_finished(), "a POST ended the wait");

    assert_eq!(get(&format!("{uri}?code=c3")).await.status, StatusCode::OK);
    assert_eq!(
        callback_param(&waiting.await.unwrap().unwrap(), "code").as_deref(),
        Some("c3")
    );
}

#[tokio::test]
async fn access_denied_is_returned_for_the_session_to_report() {
    let port = free_port();
    let uri = redirect_uri(port);
    let waiting = listen(&uri, WAIT).await;

    let page = get(&format!("{uri}?error=access_denied&state=s1")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.content_type.starts_with("text/html"),
        "{}",
        page.content_type
    );
    assert!(page.body.contains("access_denied"), "{}", page.body);

    let callback = waiting.await.unwrap().unwrap();
    assert_eq!(
        callback_param(&callback, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(callback_param(&callback, "state").as_deref(), Some("s1"));
    assert_eq!(callback_param(&callback, "code"), None);
}

#[tokio::test]
async fn error_text_is_escaped_on_the_page() {
    let port = free_port();
    let uri = redirect_uri(port);
    let waiting = listen(&uri, WAIT).await;

    let query = "error=%3Cscript%3Ealert(1)%3C%2Fscript%3E\
                 &error_description=%3Cimg%20src%3Dx%20onerror%3Dalert(2)%3E";
    let page = get(&format!("{uri}?{query}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("<script"), "{}", page.body);
    assert!(!page.body.contains("<img"), "{}", page.body);
    assert!(
        page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        page.body
    );

    let callback = waiting.await.unwrap().unwrap();
    assert_eq!(
        callback_param(&callback, "error").as_deref(),
        Some("<script>alert(1)</script>")
    );
}

#[tokio::test]
async fn no_callback_in_time_is_a_typed_error_and_frees_the_port() {
    let port = free_port();
    let timeout = Duration::from_millis(300);
    let started = Instant::now();

    let error = wait_for_callback(&redirect_uri(port), timeout)
        .await
        .unwrap_err();

    let elapsed = started.elapsed();
    assert!(elapsed >= timeout, "gave up after {elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    assert_eq!(
        error.to_string(),
        "no authorization callback arrived within 300ms"
    );
    match error {
        Error::CallbackTimeout { waited } => assert_eq!(waited, timeout),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_port_free(port);
}

#[tokio::test]
async fn redirect_uris_that_are_not_loopback_literals_are_refused() {
    let port = free_port();
    let refused = [
        format!("http://localhost:{port}/callback"),
        format!("http://0.0.0.0:{port}/callback"),
        format!("http://192.0.2.1:{port}/callback"),
        format!("https://127.0.0.1:{port}/callback"),
        format!("http://example.com:{port}/callback"),
        "http://127.0.0.1/callback".to_owned(),
        "not a uri".to_owned(),
    ];
    for uri in refused {
        match LoopbackListener::bind(&uri).await {
            Err(Error::NotLoopbackRedirect { uri: shown, reason }) => {
                assert_eq!(shown, uri);
                assert!(!reason.is_empty());
            }
            other => panic!("{uri} was not refused: {other:?}"),
        }
        let error = wait_for_callback(&uri, WAIT).await.unwrap_err();
        assert!(
            matches!(error, Error::NotLoopbackRedirect { .. }),
            "{uri}: {error:?}"
        );
        assert!(
            error
                .to_string()
                .starts_with("the loopback listener cannot serve"),
            "{error}"
        );
    }
    assert_port_free(port);
}

#[tokio::test]
async fn the_port_is_free_again_after_the_callback() {
    let port = free_port();
    let uri = redirect_uri(port);
    let waiting = listen(&uri, WAIT).await;
    assert!(
        StdTcpListener::bind(("127.0.0.1", port)).is_err(),
        "the listener holds the port"
    );

    assert_eq!(get(&format!("{uri}?code=c")).await.status, StatusCode::OK);
    waiting.await.unwrap().unwrap();

    assert_port_free(port);
    let again = listen(&uri, WAIT).await;
    assert_eq!(
        get(&format!("{uri}?code=again")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        callback_param(&again.await.unwrap().unwrap(), "code").as_deref(),
        Some("again")
    );
    let refused = browser().get(format!("{uri}?code=late")).send().await;
    assert!(refused.is_err(), "something still answers on the port");
}

#[tokio::test]
async fn a_redirect_that_arrives_between_bind_and_wait_is_served() {
    let port = free_port();
    let uri = redirect_uri(port);
    let listener = LoopbackListener::bind(&uri).await.unwrap();
    assert_eq!(
        listener.local_addr(),
        SocketAddr::from(([127, 0, 0, 1], port))
    );
    assert_eq!(listener.redirect_uri().as_str(), uri);

    let early_url = format!("{uri}?code=early");
    let early = tokio::spawn(async move { get(&early_url).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let callback = listener.wait(WAIT).await.unwrap();

    assert_eq!(callback_param(&callback, "code").as_deref(), Some("early"));
    assert_eq!(early.await.unwrap().status, StatusCode::OK);
}

#[tokio::test]
async fn a_taken_port_is_a_typed_bind_error() {
    let holder = StdTcpListener::bind("127.0.0.1:0").unwrap();
    let address = holder.local_addr().unwrap();

    match LoopbackListener::bind(&redirect_uri(address.port())).await {
        Err(Error::LoopbackBind { address: shown, .. }) => assert_eq!(shown, address),
        other => panic!("expected a bind error, got {other:?}"),
    }
}

#[tokio::test]
async fn ipv6_loopback_is_bound_on_its_own_address() {
    let Ok(probe) = StdTcpListener::bind((Ipv6Addr::LOCALHOST, 0)) else {
        // Without IPv6 on this machine the bind fails, and must say so with a typed error.
        let error = LoopbackListener::bind("http://[::1]:8888/callback")
            .await
            .unwrap_err();
        assert!(matches!(error, Error::LoopbackBind { .. }), "{error:?}");
        return;
    };
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    let uri = format!("http://[::1]:{port}/cb");
    let waiting = listen(&uri, WAIT).await;

    assert_eq!(
        get(&format!("http://[::1]:{port}/favicon.ico"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(get(&format!("{uri}?code=v6")).await.status, StatusCode::OK);

    let callback = waiting.await.unwrap().unwrap();
    assert_eq!(callback.as_str(), format!("{uri}?code=v6"));
}

#[tokio::test]
async fn callback_debug_shows_no_code_or_state() {
    let port = free_port();
    let uri = redirect_uri(port);
    let waiting = listen(&uri, WAIT).await;
    get(&format!("{uri}?code=SECRET-CODE&state=SECRET-STATE")).await;

    let callback = waiting.await.unwrap().unwrap();
    let shown = format!("{callback:?}");
    assert!(!shown.contains("SECRET"), "{shown}");
    assert!(shown.contains(&uri), "{shown}");
}

#[tokio::test]
async fn wait_for_answers_callbacks_of_other_logins_with_400_and_goes_on() {
    let port = free_port();
    let uri = redirect_uri(port);
    let (fake, session, pending) = login(&uri).await;
    let listener = LoopbackListener::bind(&uri).await.unwrap();
    let waiting = tokio::spawn(listener.wait_for(&pending, WAIT));

    assert_not_this_login(&get(&format!("{uri}?code=forged&state=another-login")).await);
    assert_not_this_login(&get(&format!("{uri}?error=x")).await);
    assert_not_this_login(&get(&format!("{uri}?code=forged")).await);
    let state = pending.state();
    assert_not_this_login(&get(&format!("{uri}?code=forged&state={state}&state={state}")).await);
    assert!(!waiting.is_finished(), "a stray callback ended the wait");

    let redirect = fake.authorize(pending.url()).await.unwrap();
    let page = get(redirect.as_str()).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let callback = waiting.await.unwrap().unwrap();
    assert_eq!(callback.url(), &redirect);
    assert_ne!(callback_param(&callback, "code").as_deref(), Some("forged"));

    let user = session
        .complete_authorization(pending, callback)
        .await
        .unwrap();
    assert!(user.scopes().contains(&Scope::UserReadEmail));
    assert_port_free(port);
}

#[tokio::test]
async fn wait_for_returns_a_refusal_that_carries_the_pending_state() {
    let port = free_port();
    let uri = redirect_uri(port);
    let (fake, session, pending) = login(&uri).await;
    fake.deny_next_authorization();
    let listener = LoopbackListener::bind(&uri).await.unwrap();
    let waiting = tokio::spawn(listener.wait_for(&pending, WAIT));

    assert_not_this_login(&get(&format!("{uri}?error=access_denied&state=forged")).await);
    let redirect = fake.authorize(pending.url()).await.unwrap();
    let page = get(redirect.as_str()).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("access_denied"), "{}", page.body);

    let callback = waiting.await.unwrap().unwrap();
    assert_eq!(
        callback_param(&callback, "error").as_deref(),
        Some("access_denied")
    );
    let error = session
        .complete_authorization(pending, callback)
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::AuthorizationDenied { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn wait_for_authorization_binds_the_pending_redirect_uri() {
    let port = free_port();
    let uri = redirect_uri(port);
    let (fake, session, pending) = login(&uri).await;
    let waiting = tokio::spawn(wait_for_authorization(&pending, WAIT));

    assert_not_this_login(&get_once_listening(&format!("{uri}?code=forged&state=x")).await);
    let redirect = fake.authorize(pending.url()).await.unwrap();
    assert_eq!(get(redirect.as_str()).await.status, StatusCode::OK);

    let callback = waiting.await.unwrap().unwrap();
    assert_eq!(callback.url(), &redirect);
    session
        .complete_authorization(pending, callback)
        .await
        .unwrap();
    assert_port_free(port);
}

#[tokio::test]
async fn wait_for_authorization_times_out_when_only_strays_arrive() {
    let port = free_port();
    let uri = redirect_uri(port);
    let (_fake, _session, pending) = login(&uri).await;
    let timeout = Duration::from_millis(1500);
    let waiting = tokio::spawn(wait_for_authorization(&pending, timeout));

    assert_not_this_login(&get_once_listening(&format!("{uri}?error=x")).await);
    match waiting.await.unwrap() {
        Err(Error::CallbackTimeout { waited }) => assert_eq!(waited, timeout),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_port_free(port);
}

#[tokio::test]
async fn wait_for_authorization_needs_a_redirect_uri_in_the_authorize_url() {
    let pending: PendingAuthorization = serde_json::from_str(
        r#"{"url": "https://accounts.spotify.com/authorize?client_id=c", "state": "s"}"#,
    )
    .unwrap();

    match wait_for_authorization(&pending, WAIT).await {
        Err(Error::NotLoopbackRedirect { uri, reason }) => {
            assert_eq!(uri, "");
            assert!(reason.contains("`redirect_uri`"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}
