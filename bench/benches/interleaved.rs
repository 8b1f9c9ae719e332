//! A cross-check of parts 1 and 2 that a busy machine skews less than criterion's runs, one
//! library after the other: the libraries take turns, a batch of requests each, for many
//! rounds, starting with a different one each round. For each round the time of a library
//! is divided by the bare POST's time of the same round; the table shows the median of
//! those paired ratios and the median time per request.
//!
//! Beside the wall time, it reads the CPU time of the client's thread (Linux's
//! `/proc/thread-self/schedstat`): on a current-thread runtime every step of the client, its
//! HTTP connection included, runs there, so this is what each library costs on the client,
//! without the waits for the server and for the (virtual) CPUs.
//!
//! Clients run on a current-thread runtime, the token server on a thread of its own, as in
//! `session.rs`. Run by `cargo bench` (which passes `--bench`) it makes 40 rounds of 200
//! requests per library; run any other way, a quick check of 2 rounds of 5.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use oauth2::RefreshToken;
use rspotify::clients::BaseClient as _;
use spotify_session_bench::peers::{self, BarePost};
use spotify_session_bench::{REFRESH_TOKEN, TokenServer};
use tokio::sync::Mutex;

/// Runs a batch of `n` requests and returns how long it took.
type Batch<'a> = Box<dyn Fn(usize) -> Pin<Box<dyn Future<Output = Duration> + 'a>> + 'a>;

/// One library's turn, and its times per request in nanoseconds, one per round.
struct Contender<'a> {
    name: &'static str,
    batch: Batch<'a>,
    per_request: Vec<f64>,
    cpu_per_request: Vec<f64>,
}

impl<'a> Contender<'a> {
    fn new(name: &'static str, batch: Batch<'a>) -> Self {
        Self {
            name,
            batch,
            per_request: Vec::new(),
            cpu_per_request: Vec::new(),
        }
    }
}

const BARE: &str = "bare-reqwest";

fn main() {
    let full = std::env::args().any(|arg| arg == "--bench");
    let (rounds, batch) = if full { (40, 200) } else { (2, 5) };
    let server = TokenServer::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("the clients' runtime");

    println!(
        "| grant | library | wall time per request | ratio to bare POST \
         | client CPU per request | CPU ratio to bare POST |"
    );
    println!("| --- | --- | ---: | ---: | ---: | ---: |");
    runtime.block_on(async {
        let session = peers::session(&server);
        let app = session.request_credentials_token().await.expect("a token");
        let app = Mutex::new(app);
        let bare = BarePost::new(&server);
        let rspotify = peers::rspotify_client_creds(&server);
        let (oauth2, http) = (peers::oauth2_client(&server), peers::oauth2_http());
        let (session, app, bare, rspotify, oauth2, http) =
            (&session, &app, &bare, &rspotify, &oauth2, &http);
        let contenders = vec![
            Contender::new(
                "spotify-session",
                Box::new(move |n| {
                    Box::pin(timed(n, move || async move {
                        session.request_credentials_token().await.expect("a token");
                    }))
                }),
            ),
            Contender::new(
                "spotify-session-renew",
                Box::new(move |n| {
                    Box::pin(async move {
                        let mut app = app.lock().await;
                        let start = Instant::now();
                        for _ in 0..n {
                            app.renew_access_token().await.expect("a token");
                        }
                        start.elapsed()
                    })
                }),
            ),
            Contender::new(
                BARE,
                Box::new(move |n| {
                    Box::pin(timed(n, move || async move {
                        bare.request(&[("grant_type", "client_credentials")]).await;
                    }))
                }),
            ),
            Contender::new(
                "rspotify",
                Box::new(move |n| {
                    Box::pin(timed(n, move || async move {
                        rspotify.request_token().await.expect("a token");
                    }))
                }),
            ),
            Contender::new(
                "oauth2",
                Box::new(move |n| {
                    Box::pin(timed(n, move || async move {
                        let request = oauth2.exchange_client_credentials();
                        request.request_async(http).await.expect("a token");
                    }))
                }),
            ),
        ];
        print(
            "client_credentials",
            &take_turns(contenders, rounds, batch).await,
        );

        let valid = Utc::now() + TimeDelta::hours(1);
        let user = session
            .unauthenticated()
            .restore(peers::stored_token(valid))
            .expect("a user's grant");
        let user = Mutex::new(user);
        let rspotify = peers::rspotify_auth_code(&server, valid);
        let refresh_token = RefreshToken::new(REFRESH_TOKEN.to_owned());
        let (user, rspotify, refresh_token) = (&user, &rspotify, &refresh_token);
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", REFRESH_TOKEN),
        ];
        let form = &form;
        let contenders = vec![
            Contender::new(
                "spotify-session",
                Box::new(move |n| {
                    Box::pin(async move {
                        let mut user = user.lock().await;
                        let start = Instant::now();
                        for _ in 0..n {
                            user.refresh_access_token().await.expect("a token");
                        }
                        start.elapsed()
                    })
                }),
            ),
            Contender::new(
                BARE,
                Box::new(move |n| {
                    Box::pin(timed(n, move || async move {
                        bare.request(form).await;
                    }))
                }),
            ),
            Contender::new(
                "rspotify",
                Box::new(move |n| {
                    Box::pin(timed(n, move || async move {
                        rspotify.refresh_token().await.expect("a token");
                    }))
                }),
            ),
            Contender::new(
                "oauth2",
                Box::new(move |n| {
                    Box::pin(timed(n, move || async move {
                        let request = oauth2.exchange_refresh_token(refresh_token);
                        request.request_async(http).await.expect("a token");
                    }))
                }),
            ),
        ];
        print("refresh", &take_turns(contenders, rounds, batch).await);
    });
}

/// Times `n` calls of `request`, one after the other.
async fn timed<F, Fut>(n: usize, request: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    let start = Instant::now();
    for _ in 0..n {
        request().await;
    }
    start.elapsed()
}

/// One warm-up turn each (connections opened, caches filled), then `rounds` rounds of a
/// `batch` of requests each, the first library of a round moving on by one every round.
async fn take_turns(
    mut contenders: Vec<Contender<'_>>,
    rounds: usize,
    batch: usize,
) -> Vec<Contender<'_>> {
    for contender in &contenders {
        (contender.batch)(batch).await;
    }
    let count = contenders.len();
    for round in 0..rounds {
        for turn in 0..count {
            let contender = &mut contenders[(round + turn) % count];
            let cpu_before = thread_cpu_nanos();
            let took = (contender.batch)(batch).await;
            let cpu_after = thread_cpu_nanos();
            contender
                .per_request
                .push(took.as_secs_f64() * 1e9 / batch as f64);
            if let (Some(before), Some(after)) = (cpu_before, cpu_after) {
                let cpu = after.saturating_sub(before) as f64;
                contender.cpu_per_request.push(cpu / batch as f64);
            }
        }
    }
    contenders
}

fn print(grant: &str, contenders: &[Contender<'_>]) {
    let Some(bare) = contenders.iter().find(|contender| contender.name == BARE) else {
        return;
    };
    for contender in contenders {
        let cpu = if contender.cpu_per_request.is_empty() {
            "- | -".to_owned()
        } else {
            format!(
                "{:.2} µs | {:.3}",
                median(contender.cpu_per_request.clone()) / 1_000.0,
                paired_ratio(&contender.cpu_per_request, &bare.cpu_per_request),
            )
        };
        println!(
            "| {grant} | {} | {:.2} µs | {:.3} | {cpu} |",
            contender.name,
            median(contender.per_request.clone()) / 1_000.0,
            paired_ratio(&contender.per_request, &bare.per_request),
        );
    }
}

/// The median of the round-by-round ratios of `this` to `floor`.
fn paired_ratio(this: &[f64], floor: &[f64]) -> f64 {
    median(
        this.iter()
            .zip(floor)
            .map(|(this, floor)| this / floor)
            .collect(),
    )
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The CPU time this thread has used, from Linux's scheduler statistics; `None` elsewhere.
fn thread_cpu_nanos() -> Option<u64> {
    let stats = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stats.split_whitespace().next()?.parse().ok()
}
