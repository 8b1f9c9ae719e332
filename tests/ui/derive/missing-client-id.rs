use spotify_session::SpotifyCredentials;

#[derive(SpotifyCredentials)]
struct Config {
    app_id: String,
    client_secret: String,
}

fn main() {}
