use spotify_session::SpotifyCredentials;

#[derive(SpotifyCredentials)]
struct Config {
    client_id: String,
    #[spotify(client_id)]
    app_id: String,
}

fn main() {}
