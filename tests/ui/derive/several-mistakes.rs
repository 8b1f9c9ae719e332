use spotify_session::SpotifyCredentials;

#[derive(SpotifyCredentials)]
#[spotify(crate)]
struct Config {
    #[spotify(client_secret = true)]
    secret: String,
    client_secret: String,
    #[spotify(redirect_url)]
    callback: String,
}

fn main() {}
