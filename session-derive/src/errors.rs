//! Collects every mistake found in one derive, so that one build reports them all.

/// The mistakes found so far, combined into one [`syn::Error`].
#[derive(Default)]
pub(crate) struct Errors {
    combined: Option<syn::Error>,
}

impl Errors {
    /// Adds a mistake.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.combined {
            Some(combined) => combined.combine(error),
            None => self.combined = Some(error),
        }
    }

    /// `Err` with every mistake, or `Ok` when there was none.
    pub(crate) fn finish(self) -> syn::Result<()> {
        self.combined.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use proc_macro2::Span;

    use super::Errors;

    #[test]
    fn no_mistake_finishes_ok() {
        assert!(Errors::default().finish().is_ok());
    }

    #[test]
    fn every_mistake_is_kept() {
        let mut errors = Errors::default();
        errors.push(syn::Error::new(Span::call_site(), "first"));
        errors.push(syn::Error::new(Span::call_site(), "second"));

        let messages: Vec<String> = errors
            .finish()
            .expect_err("two mistakes")
            .into_iter()
            .map(|error| error.to_string())
            .collect();
        assert_eq!(messages, ["first", "second"]);
    }
}
