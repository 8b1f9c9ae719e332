//! Parts 4 to 6, counted and timed once rather than sampled by criterion:
//!
//! 4. stampede: 1,000 tasks ask for the token at the moment it expires; the token
//!    requests the server got, the connections it accepted and the wall time until every
//!    task had a token, in 5 rounds, each with a fresh client;
//! 5. steady state: 1,000,000 `access_token()` calls on a valid shared token from 8 tasks;
//! 6. connections: 1,000 token requests one after the other, each library with a fresh
//!    client of its default, and the connections the server accepted for them.
//!
//! The clients run on a tokio runtime with two workers (the machine has two cores), as
//! `#[tokio::main]` makes it, and part 6 runs once more on a current-thread runtime; the
//! token server runs on a thread of its own. Run by `cargo bench` (which passes `--bench`),
//! the counts are the full ones; run any other way (`cargo test --benches`), they are cut
//! to a quick check that everything works. The output is a Markdown table.

use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use rspotify::clients::BaseClient;
use spotify_session::{ExposeSecret as _, Renewable, SharedSession};
use spotify_session_bench::peers::{self, BarePost};
use spotify_session_bench::{Counts, TokenServer};
use tokio::sync::Barrier;

/// The tasks of a stampede.
const STAMPEDE_TASKS: usize = 1_000;
/// The rounds of each stampede: the peers' counts vary from one to the next.
const STAMPEDE_ROUNDS: usize = 5;
/// The tasks of the steady state.
const STEADY_TASKS: usize = 8;
/// Part 6 on the multi-threaded runtime, as `#[tokio::main]` makes it.
const MULTI_THREAD: &str = "6 connections, multi-thread";
/// Part 6 on a current-thread runtime.
const CURRENT_THREAD: &str = "6 connections, current-thread";

/// How many calls a run makes.
#[derive(Clone, Copy)]
struct Scale {
    steady_calls: usize,
    sequential_requests: usize,
}

/// One line of the table, as printed.
struct Row {
    part: &'static str,
    library: &'static str,
    calls: usize,
    requests: String,
    connections: String,
    wall: String,
    per_call: String,
    target: String,
}

fn main() {
    let full = std::env::args().any(|arg| arg == "--bench");
    let scale = if full {
        Scale {
            steady_calls: 1_000_000,
            sequential_requests: 1_000,
        }
    } else {
        Scale {
            steady_calls: 8_000,
            sequential_requests: 20,
        }
    };
    let server = TokenServer::start();
    let multi_thread = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("the clients' runtime");
    let current_thread = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("the clients' runtime");

    let mut rows = Vec::new();
    multi_thread.block_on(async {
        rows.extend(stampedes(&server).await);
        rows.extend(steady_states(&server, scale).await);
        rows.extend(connections(&server, scale, MULTI_THREAD).await);
    });
    // Part 6 again on one thread: hyper's pool races on a multi-threaded runtime (see
    // BENCHMARKS.md), and this run tells the pool's count from the library's.
    rows.extend(current_thread.block_on(connections(&server, scale, CURRENT_THREAD)));
    print(&rows);
}

/// Part 4, for the app's token and for a user's grant.
async fn stampedes(server: &TokenServer) -> Vec<Row> {
    let expired = Utc::now() - TimeDelta::seconds(1);
    // Each round builds its session anew: a fresh HTTP client, with no connection yet.
    let session = || peers::session(server);
    vec![
        stampede_row(
            "SharedSession<ClientCredentials>",
            &rounds(
                server,
                || {
                    SharedSession::new(
                        session().restore_credentials_token(peers::stored_token(expired)),
                    )
                },
                |shared| async move { ours_token(&shared).await },
            )
            .await,
            true,
        ),
        stampede_row(
            "SharedSession<Authorized>",
            &rounds(
                server,
                || {
                    let user = session().restore(peers::stored_token(expired));
                    SharedSession::new(user.expect("a user's grant"))
                },
                |shared| async move { ours_token(&shared).await },
            )
            .await,
            true,
        ),
        stampede_row(
            "rspotify ClientCredsSpotify",
            &rounds(
                server,
                || peers::rspotify_client_creds_with_token(server, expired),
                |app| async move { rspotify_token(&app).await },
            )
            .await,
            false,
        ),
        stampede_row(
            "rspotify AuthCodeSpotify",
            &rounds(
                server,
                || peers::rspotify_auth_code(server, expired),
                |user| async move { rspotify_token(&user).await },
            )
            .await,
            false,
        ),
    ]
}

/// This crate's way to a valid token.
async fn ours_token<S: Renewable>(shared: &SharedSession<S>) {
    let token = shared.access_token().await.expect("a token");
    black_box(token.expose_secret().len());
}

/// rspotify's way to a valid token: `auto_reauth` (which refreshes when the token is
/// expired and `token_refreshing` is on, as by default), then the token read under its lock.
async fn rspotify_token(client: &impl BaseClient) {
    client.auto_reauth().await.expect("a token");
    let token = client.get_token();
    let token = token.lock().await.expect("rspotify's lock");
    let token = token.as_ref().map(|token| token.access_token.len());
    assert!(black_box(token).is_some(), "rspotify holds no token");
}

/// [`STAMPEDE_ROUNDS`] stampedes, each on a fresh client from `make`: each of
/// [`STAMPEDE_TASKS`] tasks calls `ask` on a clone of it.
async fn rounds<C, F, Fut>(
    server: &TokenServer,
    make: impl Fn() -> C,
    ask: F,
) -> Vec<(Counts, Duration)>
where
    C: Clone,
    F: Fn(C) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut results = Vec::new();
    for _ in 0..STAMPEDE_ROUNDS {
        let client = make();
        results.push(together(server, STAMPEDE_TASKS, |_| ask(client.clone())).await);
    }
    results
}

fn stampede_row(library: &'static str, results: &[(Counts, Duration)], ours: bool) -> Row {
    let requests: Vec<u64> = results
        .iter()
        .map(|(counts, _)| counts.token_requests)
        .collect();
    let connections: Vec<u64> = results
        .iter()
        .map(|(counts, _)| counts.connections)
        .collect();
    let mut walls: Vec<Duration> = results.iter().map(|(_, wall)| *wall).collect();
    walls.sort();
    let target = match (ours, requests.iter().all(|&requests| requests == 1)) {
        (false, _) => String::new(),
        (true, true) => "1 request: met".to_owned(),
        (true, false) => "1 request: **missed**".to_owned(),
    };
    Row {
        part: "4 stampede",
        library,
        calls: STAMPEDE_TASKS,
        requests: spread(requests),
        connections: spread(connections),
        wall: format!(
            "{} ({} – {})",
            millis(walls[walls.len() / 2]),
            millis(walls[0]),
            millis(walls[walls.len() - 1]),
        ),
        // A stampede is one event: a time per task would mean nothing.
        per_call: "-".to_owned(),
        target,
    }
}

/// One count of every round, or the median and the range when they differ.
fn spread(mut values: Vec<u64>) -> String {
    values.sort_unstable();
    let (low, high) = (values[0], values[values.len() - 1]);
    if low == high {
        low.to_string()
    } else {
        format!("{} ({low} – {high})", values[values.len() / 2])
    }
}

/// Runs `tasks` tasks made by `task`, started together after a barrier: the counts the
/// server saw and the wall time from the barrier to the end of the last task.
async fn together<F, Fut>(server: &TokenServer, tasks: usize, task: F) -> (Counts, Duration)
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(tasks + 1));
    let before = server.counts();
    let handles: Vec<_> = (0..tasks)
        .map(|index| {
            let barrier = Arc::clone(&barrier);
            let work = task(index);
            tokio::spawn(async move {
                barrier.wait().await;
                work.await;
            })
        })
        .collect();
    barrier.wait().await;
    let start = Instant::now();
    for handle in handles {
        handle.await.expect("a task");
    }
    let wall = start.elapsed();
    (server.counts() - before, wall)
}

/// Part 5: a valid shared token, read by 8 tasks.
async fn steady_states(server: &TokenServer, scale: Scale) -> Vec<Row> {
    let valid = Utc::now() + TimeDelta::hours(1);
    let per_task = scale.steady_calls / STEADY_TASKS;
    let session = peers::session(server);

    let app = SharedSession::new(session.restore_credentials_token(peers::stored_token(valid)));
    let user = session
        .restore(peers::stored_token(valid))
        .expect("a user's grant");
    let user = SharedSession::new(user);
    let rspotify = peers::rspotify_client_creds_with_token(server, valid);
    vec![
        steady_row(
            "SharedSession<ClientCredentials>",
            scale,
            together(server, STEADY_TASKS, |_| {
                let app = app.clone();
                async move {
                    for _ in 0..per_task {
                        ours_token(&app).await;
                    }
                }
            })
            .await,
        ),
        steady_row(
            "SharedSession<Authorized>",
            scale,
            together(server, STEADY_TASKS, |_| {
                let user = user.clone();
                async move {
                    for _ in 0..per_task {
                        ours_token(&user).await;
                    }
                }
            })
            .await,
        ),
        steady_row(
            "rspotify ClientCredsSpotify",
            scale,
            together(server, STEADY_TASKS, |_| {
                let rspotify = rspotify.clone();
                async move {
                    for _ in 0..per_task {
                        rspotify_token(&rspotify).await;
                    }
                }
            })
            .await,
        ),
    ]
}

fn steady_row(library: &'static str, scale: Scale, (counts, wall): (Counts, Duration)) -> Row {
    let calls = scale.steady_calls / STEADY_TASKS * STEADY_TASKS;
    let target = if counts.token_requests == 0 {
        "no request: met"
    } else {
        "no request: **missed**"
    };
    Row {
        part: "5 steady state",
        library,
        calls,
        requests: counts.token_requests.to_string(),
        connections: counts.connections.to_string(),
        wall: millis(wall),
        per_call: per_call(wall, calls),
        target: target.to_owned(),
    }
}

/// Part 6: requests one after the other, each library with a fresh client of its default.
async fn connections(server: &TokenServer, scale: Scale, part: &'static str) -> Vec<Row> {
    let n = scale.sequential_requests;
    let mut rows = Vec::new();
    let mut row = |library, ours, (counts, wall)| {
        rows.push(connections_row(part, library, n, counts, wall, ours));
    };

    let session = peers::session(server);
    let measured = sequential(server, async {
        for _ in 0..n {
            session.request_credentials_token().await.expect("a token");
        }
    });
    row("spotify-session client credentials", true, measured.await);

    let valid = Utc::now() + TimeDelta::hours(1);
    let mut user = peers::session(server)
        .restore(peers::stored_token(valid))
        .expect("a user's grant");
    let measured = sequential(server, async {
        for _ in 0..n {
            user.refresh_access_token().await.expect("a token");
        }
    });
    row("spotify-session refresh", true, measured.await);

    let bare = BarePost::new(server);
    let measured = sequential(server, async {
        for _ in 0..n {
            bare.request(&[("grant_type", "client_credentials")]).await;
        }
    });
    row("bare reqwest", false, measured.await);

    let app = peers::rspotify_client_creds(server);
    let measured = sequential(server, async {
        for _ in 0..n {
            app.request_token().await.expect("a token");
        }
    });
    row("rspotify ClientCredsSpotify", false, measured.await);

    let (oauth2, http) = (peers::oauth2_client(server), peers::oauth2_http());
    let measured = sequential(server, async {
        for _ in 0..n {
            let request = oauth2.exchange_client_credentials();
            request.request_async(&http).await.expect("a token");
        }
    });
    row("oauth2 client credentials", false, measured.await);

    rows
}

/// Runs `requests` on this task: the counts the server saw and the wall time.
///
/// It first lets the server settle for a second: closing the hundreds of connections a
/// stampede left makes it slow for a moment, which widens hyper's pool race (see
/// BENCHMARKS.md) for whichever library would come first.
async fn sequential(
    server: &TokenServer,
    requests: impl Future<Output = ()>,
) -> (Counts, Duration) {
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = server.counts();
    let start = Instant::now();
    requests.await;
    let wall = start.elapsed();
    (server.counts() - before, wall)
}

fn connections_row(
    part: &'static str,
    library: &'static str,
    calls: usize,
    counts: Counts,
    wall: Duration,
    ours: bool,
) -> Row {
    let target = match (ours, counts.connections) {
        (false, _) => String::new(),
        (true, 1) => "1 connection: met".to_owned(),
        (true, _) => "1 connection: **missed**".to_owned(),
    };
    Row {
        part,
        library,
        calls,
        requests: counts.token_requests.to_string(),
        connections: counts.connections.to_string(),
        wall: millis(wall),
        per_call: per_call(wall, calls),
        target,
    }
}

fn print(rows: &[Row]) {
    println!(
        "| part | library | calls | token requests | connections | wall time | per call | target |"
    );
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |");
    for row in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            row.part,
            row.library,
            row.calls,
            row.requests,
            row.connections,
            row.wall,
            row.per_call,
            row.target,
        );
    }
}

fn millis(wall: Duration) -> String {
    format!("{:.1} ms", wall.as_secs_f64() * 1e3)
}

fn per_call(wall: Duration, calls: usize) -> String {
    let nanos = wall.as_secs_f64() * 1e9 / calls as f64;
    if nanos >= 1_000.0 {
        format!("{:.2} µs", nanos / 1_000.0)
    } else {
        format!("{nanos:.0} ns")
    }
}
