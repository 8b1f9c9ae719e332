//! Spotify's authorization scopes.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! scopes {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        /// One of Spotify's authorization scopes.
        ///
        /// Every scope Spotify documents has a variant; [`Scope::Custom`] names any other,
        /// so a scope Spotify adds later can be asked for before this crate knows it.
        /// Parsing a known name always gives its variant, never `Custom`.
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum Scope {
            $($(#[$doc])* $variant,)*
            /// A scope this crate does not know, as sent on the wire.
            Custom(String),
        }

        impl Scope {
            /// The scope's name on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $name,)*
                    Self::Custom(name) => name,
                }
            }

            /// The scope with this name: a known variant, or [`Scope::Custom`].
            pub fn new(name: &str) -> Self {
                match name {
                    $($name => Self::$variant,)*
                    other => Self::Custom(other.to_owned()),
                }
            }
        }
    };
}

scopes! {
    /// `ugc-image-upload`: upload images as playlist covers.
    UgcImageUpload => "ugc-image-upload",
    /// `user-read-playback-state`.
    UserReadPlaybackState => "user-read-playback-state",
    /// `user-modify-playback-state`.
    UserModifyPlaybackState => "user-modify-playback-state",
    /// `user-read-currently-playing`.
    UserReadCurrentlyPlaying => "user-read-currently-playing",
    /// `app-remote-control`.
    AppRemoteControl => "app-remote-control",
    /// `streaming`.
    Streaming => "streaming",
    /// `playlist-read-private`.
    PlaylistReadPrivate => "playlist-read-private",
    /// `playlist-read-collaborative`.
    PlaylistReadCollaborative => "playlist-read-collaborative",
    /// `playlist-modify-private`.
    PlaylistModifyPrivate => "playlist-modify-private",
    /// `playlist-modify-public`.
    PlaylistModifyPublic => "playlist-modify-public",
    /// `user-follow-modify`.
    UserFollowModify => "user-follow-modify",
    /// `user-follow-read`.
    UserFollowRead => "user-follow-read",
    /// `user-read-playback-position`.
    UserReadPlaybackPosition => "user-read-playback-position",
    /// `user-top-read`.
    UserTopRead => "user-top-read",
    /// `user-read-recently-played`.
    UserReadRecentlyPlayed => "user-read-recently-played",
    /// `user-library-modify`.
    UserLibraryModify => "user-library-modify",
    /// `user-library-read`.
    UserLibraryRead => "user-library-read",
    /// `user-read-email`.
    UserReadEmail => "user-read-email",
    /// `user-read-private`.
    UserReadPrivate => "user-read-private",
    /// `user-personalized`.
    UserPersonalized => "user-personalized",
    /// `user-soa-link`.
    UserSoaLink => "user-soa-link",
    /// `user-soa-unlink`.
    UserSoaUnlink => "user-soa-unlink",
    /// `soa-manage-entitlements`.
    SoaManageEntitlements => "soa-manage-entitlements",
    /// `soa-manage-partner`.
    SoaManagePartner => "soa-manage-partner",
    /// `soa-create-partner`.
    SoaCreatePartner => "soa-create-partner",
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = std::convert::Infallible;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(name))
    }
}

impl From<&str> for Scope {
    fn from(name: &str) -> Self {
        Self::new(name)
    }
}

/// A set of scopes, printed and parsed in the space-separated form of OAuth 2.0.
///
/// ```
/// use spotify_session::{Scope, Scopes};
///
/// let scopes: Scopes = "user-read-email user-read-private".parse()?;
/// assert!(scopes.contains(&Scope::UserReadEmail));
/// assert_eq!(scopes.to_string(), "user-read-email user-read-private");
/// # Ok::<(), std::convert::Infallible>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Scopes(BTreeSet<Scope>);

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.0.iter().map(Scope::as_str))
            .finish()
    }
}

impl Scopes {
    /// No scope.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `scope` is in the set.
    pub fn contains(&self, scope: &Scope) -> bool {
        self.0.contains(scope)
    }

    /// Adds a scope; true when it was not there yet.
    pub fn insert(&mut self, scope: Scope) -> bool {
        self.0.insert(scope)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many scopes the set holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The scopes, in a stable order.
    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, scope) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str(" ")?;
            }
            f.write_str(scope.as_str())?;
        }
        Ok(())
    }
}

impl FromStr for Scopes {
    type Err = std::convert::Infallible;

    /// Splits on any whitespace; empty parts are skipped.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(text.split_whitespace().map(Scope::new).collect())
    }
}

impl<S: Into<Scope>> FromIterator<S> for Scopes {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        Self(iter.into_iter().map(Into::into).collect())
    }
}

impl<S: Into<Scope>> Extend<S> for Scopes {
    fn extend<I: IntoIterator<Item = S>>(&mut self, iter: I) {
        self.0.extend(iter.into_iter().map(Into::into));
    }
}

impl<'a> IntoIterator for &'a Scopes {
    type Item = &'a Scope;
    type IntoIter = std::collections::btree_set::Iter<'a, Scope>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl Serialize for Scopes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Scopes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(text.split_whitespace().map(Scope::new).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_parse_to_their_variant() {
        assert_eq!(Scope::new("streaming"), Scope::Streaming);
        assert_eq!(Scope::new("soa-create-partner"), Scope::SoaCreatePartner);
        assert_eq!(Scope::new("new-scope"), Scope::Custom("new-scope".into()));
    }

    #[test]
    fn scopes_round_trip_through_text() {
        let scopes: Scopes = "  user-read-email\tnew-scope  user-read-email "
            .parse()
            .unwrap();
        assert_eq!(scopes.len(), 2);
        assert_eq!(scopes.to_string(), "user-read-email new-scope");
        let again: Scopes = scopes.to_string().parse().unwrap();
        assert_eq!(again, scopes);
    }
}
