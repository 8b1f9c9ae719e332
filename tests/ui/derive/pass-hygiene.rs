// The generated code names everything by absolute path, so a module that shadows the
// prelude, the crate's own name and names a derive might pick for its locals still compiles.
mod shadowing {
    #![allow(dead_code, non_camel_case_types, non_upper_case_globals)]

    struct Option;
    struct Result;
    struct String;
    struct Box;
    struct Credentials;
    trait SpotifyCredentials {}
    mod spotify_session {}
    mod core {}
    const __client_id: u8 = 0;
    const __client_secret: u8 = 0;
    const __redirect_uri: u8 = 0;

    #[derive(::spotify_session::SpotifyCredentials)]
    struct Config<'a, S> {
        client_id: &'a str,
        client_secret: ::std::option::Option<S>,
        redirect_uri: ::std::boxed::Box<str>,
    }

    pub fn check() {
        use ::spotify_session::SpotifyCredentials as _;

        let config = Config {
            client_id: "my-client-id",
            client_secret: ::std::option::Option::Some(::std::string::String::from("secret")),
            redirect_uri: ::std::boxed::Box::from("http://127.0.0.1:8888/callback"),
        };
        let credentials = config.credentials();
        assert_eq!(credentials.client_id(), "my-client-id");
        assert!(credentials.client_secret().is_some());
    }
}

fn main() {
    shadowing::check();
}
