//! What the benchmarks of `spotify-session` share: a token endpoint on 127.0.0.1 that
//! answers at once and counts what it sees ([`TokenServer`]), and the client of each library
//! compared, pointed at it ([`peers`]).
//!
//! `cargo bench -p spotify-session-bench` runs them: `benches/session.rs` times token
//! requests and authorize URLs with criterion, `benches/counts.rs` counts requests and
//! connections. `BENCHMARKS.md` at the root of the repository shows a run.

pub mod peers;
mod server;

pub use crate::server::{
    CLIENT_ID, CLIENT_SECRET, Counts, REDIRECT_URI, REFRESH_TOKEN, SCOPES, STATE, TokenServer,
};
