use spotify_session::SpotifyCredentials;

#[derive(SpotifyCredentials)]
struct Config;

fn main() {}
