use spotify_session::SpotifyCredentials;

#[derive(SpotifyCredentials)]
#[spotify(krate = "spotify")]
struct Config {
    #[spotify(clientid)]
    app_id: String,
    client_id: String,
}

fn main() {}
