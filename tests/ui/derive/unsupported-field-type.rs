use spotify_session::SpotifyCredentials;

#[derive(SpotifyCredentials)]
struct Confidential {
    client_id: u64,
    client_secret: Vec<u8>,
    redirect_uri: std::path::PathBuf,
}

#[derive(SpotifyCredentials)]
struct OptionalClientId {
    client_id: Option<String>,
    client_secret: Option<Option<String>>,
}

fn main() {}
