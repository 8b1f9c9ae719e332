use spotify_session::SpotifyCredentials;

#[derive(SpotifyCredentials)]
struct Config(String, String);

fn main() {}
