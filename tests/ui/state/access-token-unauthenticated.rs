use spotify_session::{Session, Unauthenticated};

fn token(session: &Session<Unauthenticated>) {
    let _ = session.access_token();
}

fn main() {
    drop(token);
}
