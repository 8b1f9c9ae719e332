use spotify_session::{ClientCredentials, Session};

fn token(app: &Session<ClientCredentials>) {
    let _ = app.refresh_token();
}

fn main() {
    drop(token);
}
