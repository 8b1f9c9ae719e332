use spotify_session::SpotifyCredentials;

#[derive(SpotifyCredentials)]
struct Config {
    #[spotify(client_id = "x")]
    app_id: String,
}

fn main() {}
