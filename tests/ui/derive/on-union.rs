use spotify_session::SpotifyCredentials;

#[derive(SpotifyCredentials)]
union Config {
    client_id: &'static str,
}

fn main() {}
