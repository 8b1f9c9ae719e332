//! Parts 1 to 3, timed with criterion: a client-credentials token request, a refresh of a
//! user's grant, and the construction of an authorize URL, each by spotify-session, a bare
//! `reqwest` POST (the floor, for the requests), rspotify and oauth2.
//!
//! The token server runs on a thread of its own; the clients run on a single-threaded
//! tokio runtime on the bench's thread, so each side has one of the machine's cores. At the
//! end a table of the times per call is printed, with each request's ratio to the bare POST.

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use chrono::{TimeDelta, Utc};
use criterion::Criterion;
use oauth2::{CsrfToken, RefreshToken};
use rspotify::clients::BaseClient as _;
use spotify_session::{AuthorizeOptions, Scope};
use spotify_session_bench::peers::{self, BarePost};
use spotify_session_bench::{REFRESH_TOKEN, SCOPES, STATE, TokenServer};
use tokio::runtime::Runtime;

const CREDENTIALS: &str = "client_credentials";
const REFRESH: &str = "refresh";
const AUTHORIZE: &str = "authorize_url";

const OURS: &str = "spotify-session";
const OURS_RENEW: &str = "spotify-session-renew";
const OURS_PREBUILT: &str = "spotify-session-prebuilt-options";
const BARE: &str = "bare-reqwest";
const RSPOTIFY: &str = "rspotify";
const OAUTH2: &str = "oauth2";

fn main() {
    let started = SystemTime::now();
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(50)
        .configure_from_args();
    let server = TokenServer::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("the clients' runtime");

    client_credentials(&mut criterion, &server, &runtime);
    refresh(&mut criterion, &server, &runtime);
    authorize_url(&mut criterion, &server);
    criterion.final_summary();

    summary::print(started);
}

/// Part 1: the app's own token.
fn client_credentials(criterion: &mut Criterion, server: &TokenServer, runtime: &Runtime) {
    let mut group = criterion.benchmark_group(CREDENTIALS);

    let session = peers::session(server);
    let session = &session;
    group.bench_function(OURS, |b| {
        b.to_async(runtime)
            .iter(|| async move { session.request_credentials_token().await.expect("a token") });
    });
    let app = runtime
        .block_on(session.request_credentials_token())
        .expect("a token");
    group.bench_function(OURS_RENEW, |b| {
        b.to_async(runtime).iter_custom(|iters| {
            let mut app = app.clone();
            async move {
                let start = Instant::now();
                for _ in 0..iters {
                    app.renew_access_token().await.expect("a token");
                }
                start.elapsed()
            }
        });
    });

    let bare = BarePost::new(server);
    let bare = &bare;
    let form = [("grant_type", "client_credentials")];
    group.bench_function(BARE, |b| {
        b.to_async(runtime)
            .iter(|| async move { bare.request(&form).await });
    });

    let rspotify = peers::rspotify_client_creds(server);
    let rspotify = &rspotify;
    group.bench_function(RSPOTIFY, |b| {
        b.to_async(runtime)
            .iter(|| async move { rspotify.request_token().await.expect("a token") });
    });

    let oauth2 = peers::oauth2_client(server);
    let (oauth2, http) = (&oauth2, &peers::oauth2_http());
    group.bench_function(OAUTH2, |b| {
        b.to_async(runtime).iter(|| async move {
            oauth2
                .exchange_client_credentials()
                .request_async(http)
                .await
                .expect("a token")
        });
    });

    group.finish();
}

/// Part 2: a user's grant, refreshed with its refresh token.
fn refresh(criterion: &mut Criterion, server: &TokenServer, runtime: &Runtime) {
    let mut group = criterion.benchmark_group(REFRESH);
    let valid_until = Utc::now() + TimeDelta::hours(1);

    let user = peers::session(server)
        .restore(peers::stored_token(valid_until))
        .expect("a user's grant");
    group.bench_function(OURS, |b| {
        b.to_async(runtime).iter_custom(|iters| {
            let mut user = user.clone();
            async move {
                let start = Instant::now();
                for _ in 0..iters {
                    user.refresh_access_token().await.expect("a token");
                }
                start.elapsed()
            }
        });
    });

    let bare = BarePost::new(server);
    let bare = &bare;
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", REFRESH_TOKEN),
    ];
    group.bench_function(BARE, |b| {
        b.to_async(runtime)
            .iter(|| async move { bare.request(&form).await });
    });

    let rspotify = peers::rspotify_auth_code(server, valid_until);
    let rspotify = &rspotify;
    group.bench_function(RSPOTIFY, |b| {
        b.to_async(runtime)
            .iter(|| async move { rspotify.refresh_token().await.expect("a token") });
    });

    let oauth2 = peers::oauth2_client(server);
    let (oauth2, http) = (&oauth2, &peers::oauth2_http());
    let refresh_token = &RefreshToken::new(REFRESH_TOKEN.to_owned());
    group.bench_function(OAUTH2, |b| {
        b.to_async(runtime).iter(|| async move {
            oauth2
                .exchange_refresh_token(refresh_token)
                .request_async(http)
                .await
                .expect("a token")
        });
    });

    group.finish();
}

/// Part 3: the URL a user is sent to, with two scopes and a fixed `state`. This crate and
/// oauth2 take the scopes and the state per call, so the options are built in the loop;
/// rspotify keeps them in its client, so this crate is also timed with options built once.
fn authorize_url(criterion: &mut Criterion, server: &TokenServer) {
    let mut group = criterion.benchmark_group(AUTHORIZE);

    let session = peers::session(server);
    group.bench_function(OURS, |b| {
        b.iter(|| {
            let options = AuthorizeOptions::new()
                .scopes([Scope::UserReadPrivate, Scope::UserReadEmail])
                .state(STATE);
            session.authorize_url(black_box(&options)).expect("a URL")
        });
    });

    let options = AuthorizeOptions::new()
        .scopes([Scope::UserReadPrivate, Scope::UserReadEmail])
        .state(STATE);
    group.bench_function(OURS_PREBUILT, |b| {
        b.iter(|| session.authorize_url(black_box(&options)).expect("a URL"));
    });

    let rspotify = peers::rspotify_auth_code(server, Utc::now());
    group.bench_function(RSPOTIFY, |b| {
        b.iter(|| rspotify.get_authorize_url(black_box(false)).expect("a URL"));
    });

    let oauth2 = peers::oauth2_client(server);
    group.bench_function(OAUTH2, |b| {
        b.iter(|| {
            oauth2
                .authorize_url(|| CsrfToken::new(STATE.to_owned()))
                .add_scopes(SCOPES.map(|scope| oauth2::Scope::new(scope.to_owned())))
                .url()
        });
    });

    group.finish();
}

/// The table of the run, from the estimates criterion just wrote.
mod summary {
    use std::path::PathBuf;
    use std::time::SystemTime;

    use super::{
        AUTHORIZE, BARE, CREDENTIALS, OAUTH2, OURS, OURS_PREBUILT, OURS_RENEW, REFRESH, RSPOTIFY,
    };

    /// The time per call of one benchmark and its 95% confidence interval, in nanoseconds.
    struct Estimate {
        time: f64,
        lower: f64,
        upper: f64,
    }

    /// The estimates criterion wrote in this run: older ones, of benchmarks filtered out of
    /// it or of a run in criterion's test mode (which writes none), are not read.
    struct Estimates {
        dir: PathBuf,
        since: SystemTime,
    }

    /// Prints one Markdown table of parts 1 to 3, of the benchmarks this run measured.
    pub(super) fn print(since: SystemTime) {
        let Some(dir) = criterion_dir() else {
            println!("no criterion directory found: no summary table");
            return;
        };
        let estimates = Estimates { dir, since };
        let mut rows = Vec::new();
        for group in [CREDENTIALS, REFRESH] {
            rows.extend(request_rows(&estimates, group));
        }
        rows.extend(authorize_rows(&estimates));
        if rows.is_empty() {
            return;
        }
        println!();
        println!("| part | library | time per call | 95% CI | ratio to bare POST | target |");
        println!("| --- | --- | ---: | ---: | ---: | --- |");
        for row in rows {
            println!("{row}");
        }
    }

    fn request_rows(estimates: &Estimates, group: &str) -> Vec<String> {
        let floor = estimates.get(group, BARE);
        let fastest_peer = fastest(estimates, group);
        let mut rows = Vec::new();
        for name in [OURS, OURS_RENEW, BARE, RSPOTIFY, OAUTH2] {
            let Some(this) = estimates.get(group, name) else {
                continue;
            };
            let ratio = floor.as_ref().map(|floor| this.time / floor.time);
            let target = if name == OURS || name == OURS_RENEW {
                request_target(ratio, this.time, fastest_peer)
            } else {
                String::new()
            };
            let ratio = ratio.map_or_else(|| "-".to_owned(), |ratio| format!("{ratio:.3}"));
            rows.push(row(group, name, &this, &ratio, &target));
        }
        rows
    }

    /// Within 1.10 times the bare POST, and no slower than the faster peer.
    fn request_target(ratio: Option<f64>, time: f64, fastest_peer: f64) -> String {
        let floor = match ratio {
            Some(ratio) if ratio <= 1.10 => "≤ 1.10 × floor: met",
            Some(_) => "≤ 1.10 × floor: **missed**",
            None => "≤ 1.10 × floor: not run",
        };
        let peers = if time <= fastest_peer {
            "≤ peers: met"
        } else {
            "≤ peers: **missed**"
        };
        format!("{floor}; {peers}")
    }

    fn authorize_rows(estimates: &Estimates) -> Vec<String> {
        let fastest_peer = fastest(estimates, AUTHORIZE);
        let mut rows = Vec::new();
        for name in [OURS, OURS_PREBUILT, RSPOTIFY, OAUTH2] {
            let Some(this) = estimates.get(AUTHORIZE, name) else {
                continue;
            };
            let target = match name {
                OURS | OURS_PREBUILT if this.time <= fastest_peer => "≤ peers: met",
                OURS | OURS_PREBUILT => "≤ peers: **missed**",
                _ => "",
            };
            rows.push(row(AUTHORIZE, name, &this, "-", target));
        }
        rows
    }

    /// The time of the faster of rspotify and oauth2 in `group`; infinite when neither ran.
    fn fastest(estimates: &Estimates, group: &str) -> f64 {
        [RSPOTIFY, OAUTH2]
            .iter()
            .filter_map(|name| estimates.get(group, name))
            .map(|peer| peer.time)
            .fold(f64::INFINITY, f64::min)
    }

    fn row(group: &str, name: &str, this: &Estimate, ratio: &str, target: &str) -> String {
        format!(
            "| {group} | {name} | {} | {} – {} | {ratio} | {target} |",
            duration(this.time),
            duration(this.lower),
            duration(this.upper),
        )
    }

    fn duration(nanos: f64) -> String {
        if nanos >= 1_000.0 {
            format!("{:.2} µs", nanos / 1_000.0)
        } else {
            format!("{nanos:.0} ns")
        }
    }

    impl Estimates {
        fn get(&self, group: &str, name: &str) -> Option<Estimate> {
            let path = self.dir.join(group).join(name).join("new/estimates.json");
            let written = std::fs::metadata(&path).ok()?.modified().ok()?;
            if written < self.since {
                return None;
            }
            let text = std::fs::read_to_string(path).ok()?;
            let json: serde_json::Value = serde_json::from_str(&text).ok()?;
            // The time criterion reports: the slope of time over iterations when it sampled
            // linearly (its default), the mean otherwise.
            let typical = match &json["slope"] {
                serde_json::Value::Null => &json["mean"],
                slope => slope,
            };
            let interval = &typical["confidence_interval"];
            Some(Estimate {
                time: typical["point_estimate"].as_f64()?,
                lower: interval["lower_bound"].as_f64()?,
                upper: interval["upper_bound"].as_f64()?,
            })
        }
    }

    /// Where criterion writes: `$CRITERION_HOME`, or `criterion` in the target directory,
    /// which holds this executable in `<target>/<profile>/deps/`.
    fn criterion_dir() -> Option<PathBuf> {
        if let Some(home) = std::env::var_os("CRITERION_HOME") {
            return Some(PathBuf::from(home));
        }
        if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
            return Some(PathBuf::from(target).join("criterion"));
        }
        let exe = std::env::current_exe().ok()?;
        let target = exe.parent()?.parent()?.parent()?;
        Some(target.join("criterion"))
    }
}
