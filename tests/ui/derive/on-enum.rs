use spotify_session::SpotifyCredentials;

#[derive(SpotifyCredentials)]
enum Config {
    Confidential {
        client_id: String,
        client_secret: String,
    },
    Public {
        client_id: String,
    },
}

fn main() {}
