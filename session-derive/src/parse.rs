//! From the derive input to the struct's fields that claim a part of the credentials.

use proc_macro2::Span;
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{
    Data, DeriveInput, Field, Fields, FieldsNamed, Generics, Ident, Path, Type, parse_quote,
};

use crate::attr::{self, Role};
use crate::errors::Errors;

/// A struct with named fields, as the derive sees it.
pub(crate) struct Input<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) generics: &'a Generics,
    /// The path of spotify-session in the generated code.
    pub(crate) krate: Path,
    /// The fields that claim a role, in the order they are declared.
    pub(crate) claims: Vec<Claim<'a>>,
}

/// A field that claims a role, by its name or by `#[spotify(..)]`.
pub(crate) struct Claim<'a> {
    pub(crate) role: Role,
    pub(crate) field: &'a Ident,
    pub(crate) ty: &'a Type,
    pub(crate) by: By,
}

/// How a field came to claim its role.
pub(crate) enum By {
    /// A field named `client_id`, `client_secret` or `redirect_uri`.
    Name,
    /// `#[spotify(key)]` on the field: the key as written.
    Attr(Path),
}

impl Claim<'_> {
    /// Where errors about this claim point: the key of the attribute, or the field's name.
    pub(crate) fn span(&self) -> Span {
        match &self.by {
            By::Name => self.field.span(),
            By::Attr(key) => key.span(),
        }
    }

    /// How the claim was made, as a user wrote it.
    pub(crate) fn how(&self) -> String {
        match &self.by {
            By::Name => "by its name".to_owned(),
            By::Attr(key) => format!("marked `#[spotify({})]`", key.to_token_stream()),
        }
    }
}

/// Reads the struct, pushing every mistake; `None` when it is not a struct with named
/// fields.
pub(crate) fn input<'a>(derive: &'a DeriveInput, errors: &mut Errors) -> Option<Input<'a>> {
    let krate = attr::crate_path(&derive.attrs, errors);
    let fields = named_fields(derive, errors)?;
    let claims = fields
        .named
        .iter()
        .filter_map(|field| claim(field, errors))
        .collect();
    Some(Input {
        ident: &derive.ident,
        generics: &derive.generics,
        krate: krate.unwrap_or_else(|| parse_quote!(::spotify_session)),
        claims,
    })
}

fn named_fields<'a>(derive: &'a DeriveInput, errors: &mut Errors) -> Option<&'a FieldsNamed> {
    let (span, kind) = match &derive.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(fields) => return Some(fields),
            Fields::Unnamed(fields) => (fields.span(), "a tuple struct"),
            Fields::Unit => (derive.ident.span(), "a unit struct"),
        },
        Data::Enum(data) => (data.enum_token.span, "an enum"),
        Data::Union(data) => (data.union_token.span, "a union"),
    };
    errors.push(syn::Error::new(
        span,
        format!("`#[derive(SpotifyCredentials)]` needs a struct with named fields, not {kind}"),
    ));
    None
}

fn claim<'a>(field: &'a Field, errors: &mut Errors) -> Option<Claim<'a>> {
    let ident = field.ident.as_ref()?;
    let (role, by) = match attr::field_role(&field.attrs, errors) {
        Some(marked) => (marked.role, By::Attr(marked.key)),
        None => (Role::from_key(&ident.to_string())?, By::Name),
    };
    Some(Claim {
        role,
        field: ident,
        ty: &field.ty,
        by,
    })
}

#[cfg(test)]
mod tests {
    use quote::ToTokens;
    use syn::{DeriveInput, parse_quote};

    use super::{By, input};
    use crate::attr::Role;
    use crate::errors::Errors;

    #[test]
    fn fields_claim_roles_by_name_and_by_attribute() {
        let derive: DeriveInput = parse_quote! {
            struct Config<'a> {
                port: u16,
                client_id: &'a str,
                #[spotify(client_secret)]
                secret: String,
                #[serde(default)]
                redirect_uri: Option<String>,
            }
        };
        let mut errors = Errors::default();
        let input = input(&derive, &mut errors).expect("a struct with named fields");
        assert!(errors.finish().is_ok());

        assert_eq!(
            input.krate.to_token_stream().to_string(),
            ":: spotify_session"
        );
        let claims: Vec<(Role, String, &str)> = input
            .claims
            .iter()
            .map(|claim| {
                let how = if matches!(claim.by, By::Name) {
                    "name"
                } else {
                    "attr"
                };
                (claim.role, claim.field.to_string(), how)
            })
            .collect();
        assert_eq!(
            claims,
            [
                (Role::ClientId, "client_id".to_owned(), "name"),
                (Role::ClientSecret, "secret".to_owned(), "attr"),
                (Role::RedirectUri, "redirect_uri".to_owned(), "name"),
            ]
        );
    }

    #[test]
    fn an_attribute_overrides_the_name() {
        let derive: DeriveInput = parse_quote! {
            struct Config { #[spotify(client_id)] client_secret: String }
        };
        let mut errors = Errors::default();
        let input = input(&derive, &mut errors).expect("a struct with named fields");
        assert_eq!(input.claims.len(), 1);
        assert_eq!(input.claims[0].role, Role::ClientId);
        assert_eq!(input.claims[0].how(), "marked `#[spotify(client_id)]`");
    }

    #[test]
    fn the_crate_path_can_be_renamed() {
        let derive: DeriveInput = parse_quote! {
            #[spotify(crate = "spotify")]
            struct Config { client_id: String }
        };
        let input = input(&derive, &mut Errors::default()).expect("a struct with named fields");
        assert_eq!(input.krate.to_token_stream().to_string(), "spotify");
    }

    #[test]
    fn other_shapes_are_refused() {
        let shapes: [(DeriveInput, &str); 4] = [
            (
                parse_quote!(
                    enum Config {
                        A,
                    }
                ),
                "an enum",
            ),
            (parse_quote!(union Config { a: u8 }), "a union"),
            (
                parse_quote!(
                    struct Config(String);
                ),
                "a tuple struct",
            ),
            (
                parse_quote!(
                    struct Config;
                ),
                "a unit struct",
            ),
        ];
        for (derive, kind) in shapes {
            let mut errors = Errors::default();
            assert!(input(&derive, &mut errors).is_none());
            let error = errors.finish().expect_err("a wrong shape");
            assert_eq!(
                error.to_string(),
                format!(
                    "`#[derive(SpotifyCredentials)]` needs a struct with named fields, not {kind}"
                )
            );
        }
    }
}
