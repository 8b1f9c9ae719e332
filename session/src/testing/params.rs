//! The parameters of a request, as name-value pairs.

/// The decoded parameters of a query or a form, in the order sent.
#[derive(Default)]
pub(crate) struct Params(Vec<(String, String)>);

/// A parameter sent more than once, which RFC 6749 §3.1 and §3.2 forbid.
pub(crate) struct Repeated(pub(crate) String);

impl Params {
    pub(crate) fn new(pairs: Vec<(String, String)>) -> Self {
        Self(pairs)
    }

    /// Decodes a query string (`application/x-www-form-urlencoded`).
    pub(crate) fn from_query(query: Option<&str>) -> Self {
        let pairs = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes());
        Self(pairs.into_owned().collect())
    }

    /// The value of `name`, if it was sent once.
    pub(crate) fn single(&self, name: &str) -> Result<Option<&str>, Repeated> {
        let mut values = self.0.iter().filter(|(key, _)| key == name);
        let first = values.next().map(|(_, value)| value.as_str());
        match values.next() {
            Some(_) => Err(Repeated(name.to_owned())),
            None => Ok(first),
        }
    }
}
