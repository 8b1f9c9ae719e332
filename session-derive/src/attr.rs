//! Parsing of the `#[spotify(..)]` attributes, on the struct and on its fields.

use std::fmt;

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::meta::ParseNestedMeta;
use syn::{Attribute, Expr, ExprLit, Lit, LitStr, Meta, Path, Token, token};

use crate::errors::Errors;

/// The part of the credentials a field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    ClientId,
    ClientSecret,
    RedirectUri,
}

impl Role {
    /// Every role, in the order of `Credentials::from_parts`.
    pub(crate) const ALL: [Self; 3] = [Self::ClientId, Self::ClientSecret, Self::RedirectUri];

    /// The key of `#[spotify(..)]` that marks the field, also the field name found by name.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Self::ClientId => "client_id",
            Self::ClientSecret => "client_secret",
            Self::RedirectUri => "redirect_uri",
        }
    }

    /// The role marked by `key`, or held by a field named `key`.
    pub(crate) fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.key() == key)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ClientId => "the client id",
            Self::ClientSecret => "the client secret",
            Self::RedirectUri => "the redirect URI",
        })
    }
}

/// A role given to a field by `#[spotify(role)]`.
pub(crate) struct RoleAttr {
    pub(crate) role: Role,
    /// The key as written, where errors about this role point.
    pub(crate) key: Path,
}

/// The `crate = "path"` of the struct's `#[spotify(..)]` attributes, when given.
pub(crate) fn crate_path(attrs: &[Attribute], errors: &mut Errors) -> Option<Path> {
    let mut found: Option<Path> = None;
    for_each_key(attrs, errors, |meta, errors| {
        let key = key_name(&meta.path);
        if key != "crate" {
            let value = take_value(meta)?;
            errors.push(struct_key_error(&meta.path, &key, value.is_some()));
        } else if let Some(path) = crate_value(meta, errors)? {
            let earlier = found.replace(path);
            if earlier.is_some() {
                errors.push(duplicate_key(&meta.path, &key));
            }
        }
        Ok(())
    });
    found
}

/// The role given by the field's `#[spotify(..)]` attributes, when given.
pub(crate) fn field_role(attrs: &[Attribute], errors: &mut Errors) -> Option<RoleAttr> {
    let mut found: Option<RoleAttr> = None;
    for_each_key(attrs, errors, |meta, errors| {
        let key = key_name(&meta.path);
        let value = take_value(meta)?;
        let Some(role) = Role::from_key(&key) else {
            errors.push(field_key_error(&meta.path, &key));
            return Ok(());
        };
        if let Some(value) = value {
            errors.push(syn::Error::new_spanned(
                value,
                format!("`{key}` in `#[spotify(..)]` takes no value: write `#[spotify({key})]`"),
            ));
        }
        if let Some(earlier) = &found {
            errors.push(second_role(&meta.path, earlier.role, role));
        } else {
            found = Some(RoleAttr {
                role,
                key: meta.path.clone(),
            });
        }
        Ok(())
    });
    found
}

/// Calls `on_key` for each key of every `#[spotify(..)]` in `attrs`, pushing the mistakes
/// that stop the parsing of an attribute.
fn for_each_key(
    attrs: &[Attribute],
    errors: &mut Errors,
    mut on_key: impl FnMut(&ParseNestedMeta<'_>, &mut Errors) -> syn::Result<()>,
) {
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("spotify")) {
        let parsed =
            expect_list(attr).and_then(|()| attr.parse_nested_meta(|meta| on_key(&meta, errors)));
        if let Err(error) = parsed {
            errors.push(error);
        }
    }
}

/// Refuses `#[spotify]` and `#[spotify = ".."]`, which hold no key.
fn expect_list(attr: &Attribute) -> syn::Result<()> {
    match &attr.meta {
        Meta::List(_) => Ok(()),
        other => Err(syn::Error::new_spanned(
            other,
            "expected a key in parentheses, as in `#[spotify(client_id)]`",
        )),
    }
}

/// The key as written, `a::b` included.
fn key_name(path: &Path) -> String {
    path.to_token_stream().to_string().replace(' ', "")
}

/// Consumes the value after a key, `= expr` or `(..)`, so that parsing goes on after it.
fn take_value(meta: &ParseNestedMeta<'_>) -> syn::Result<Option<TokenStream>> {
    if meta.input.peek(Token![=]) {
        let eq: Token![=] = meta.input.parse()?;
        let value: Expr = meta.input.parse()?;
        Ok(Some(quote!(#eq #value)))
    } else if meta.input.peek(token::Paren) {
        let group: proc_macro2::Group = meta.input.parse()?;
        Ok(Some(group.into_token_stream()))
    } else {
        Ok(None)
    }
}

/// The path of `crate = "path"`, or `None` after pushing why it is not one.
fn crate_value(meta: &ParseNestedMeta<'_>, errors: &mut Errors) -> syn::Result<Option<Path>> {
    if !meta.input.peek(Token![=]) {
        take_value(meta)?;
        errors.push(meta.error(
            "`crate` in `#[spotify(..)]` needs the path of spotify-session: write \
             `#[spotify(crate = \"path\")]`",
        ));
        return Ok(None);
    }
    let value: Expr = meta.value()?.parse()?;
    let Expr::Lit(ExprLit {
        lit: Lit::Str(literal),
        ..
    }) = value
    else {
        errors.push(syn::Error::new_spanned(
            value,
            "expected the path in a string, as in `#[spotify(crate = \"my_spotify\")]`",
        ));
        return Ok(None);
    };
    Ok(parse_path(&literal, errors))
}

fn parse_path(literal: &LitStr, errors: &mut Errors) -> Option<Path> {
    match literal.parse::<Path>() {
        Ok(path) => Some(path),
        Err(_) => {
            errors.push(syn::Error::new(
                literal.span(),
                format!(
                    "`{}` in `#[spotify(crate = \"..\")]` is not a path",
                    literal.value()
                ),
            ));
            None
        }
    }
}

fn struct_key_error(path: &Path, key: &str, has_value: bool) -> syn::Error {
    let message = match Role::from_key(key) {
        Some(role) if !has_value => {
            format!("`#[spotify({key})]` goes on the field that holds {role}, not on the struct")
        }
        _ => format!("unknown key `{key}` in `#[spotify(..)]` on a struct, expected `crate`"),
    };
    syn::Error::new_spanned(path, message)
}

fn field_key_error(path: &Path, key: &str) -> syn::Error {
    let message = if key == "crate" {
        "`#[spotify(crate = \"..\")]` goes on the struct, not on a field".to_owned()
    } else {
        format!(
            "unknown key `{key}` in `#[spotify(..)]` on a field, expected `client_id`, \
             `client_secret` or `redirect_uri`"
        )
    };
    syn::Error::new_spanned(path, message)
}

fn second_role(path: &Path, earlier: Role, role: Role) -> syn::Error {
    if earlier == role {
        return duplicate_key(path, role.key());
    }
    syn::Error::new_spanned(
        path,
        format!(
            "a field holds one part of the credentials, and this one is already marked \
             `#[spotify({})]`",
            earlier.key()
        ),
    )
}

fn duplicate_key(path: &Path, key: &str) -> syn::Error {
    syn::Error::new_spanned(path, format!("duplicate key `{key}` in `#[spotify(..)]`"))
}

#[cfg(test)]
mod tests {
    use quote::ToTokens;
    use syn::{Attribute, parse_quote};

    use super::{Role, crate_path, field_role};
    use crate::errors::Errors;

    fn messages(errors: Errors) -> Vec<String> {
        match errors.finish() {
            Ok(()) => Vec::new(),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    fn role_of(attrs: &[Attribute]) -> (Option<Role>, Vec<String>) {
        let mut errors = Errors::default();
        let role = field_role(attrs, &mut errors).map(|attr| attr.role);
        (role, messages(errors))
    }

    fn crate_of(attrs: &[Attribute]) -> (Option<String>, Vec<String>) {
        let mut errors = Errors::default();
        let path = crate_path(attrs, &mut errors).map(|p| p.to_token_stream().to_string());
        (path, messages(errors))
    }

    #[test]
    fn each_role_key_gives_its_role() {
        for role in Role::ALL {
            let key = syn::Ident::new(role.key(), proc_macro2::Span::call_site());
            let attrs: Vec<Attribute> = vec![parse_quote!(#[spotify(#key)])];
            assert_eq!(role_of(&attrs), (Some(role), Vec::new()));
        }
    }

    #[test]
    fn other_attributes_are_left_alone() {
        let attrs: Vec<Attribute> = vec![
            parse_quote!(#[serde(rename = "id")]),
            parse_quote!(#[doc = "x"]),
        ];
        assert_eq!(role_of(&attrs), (None, Vec::new()));
        assert_eq!(crate_of(&attrs), (None, Vec::new()));
    }

    #[test]
    fn unknown_key_on_a_field_is_named() {
        let attrs: Vec<Attribute> = vec![parse_quote!(#[spotify(client_secret, foo)])];
        let (role, messages) = role_of(&attrs);
        assert_eq!(role, Some(Role::ClientSecret));
        assert_eq!(
            messages,
            [
                "unknown key `foo` in `#[spotify(..)]` on a field, expected `client_id`, \
              `client_secret` or `redirect_uri`"
            ]
        );
    }

    #[test]
    fn parsing_goes_on_after_a_bad_key() {
        let attrs: Vec<Attribute> =
            vec![parse_quote!(#[spotify(foo = 1, bar(2), client_id = "x", a::b)])];
        let (role, messages) = role_of(&attrs);
        assert_eq!(role, Some(Role::ClientId));
        assert_eq!(messages.len(), 4, "{messages:?}");
        assert!(messages[0].contains("`foo`"));
        assert!(messages[1].contains("`bar`"));
        assert_eq!(
            messages[2],
            "`client_id` in `#[spotify(..)]` takes no value: write `#[spotify(client_id)]`"
        );
        assert!(messages[3].contains("`a::b`"));
    }

    #[test]
    fn a_field_takes_one_role() {
        let attrs: Vec<Attribute> = vec![
            parse_quote!(#[spotify(client_id)]),
            parse_quote!(#[spotify(redirect_uri, client_id)]),
        ];
        let (role, messages) = role_of(&attrs);
        assert_eq!(role, Some(Role::ClientId));
        assert_eq!(
            messages,
            [
                "a field holds one part of the credentials, and this one is already marked \
                 `#[spotify(client_id)]`",
                "duplicate key `client_id` in `#[spotify(..)]`",
            ]
        );
    }

    #[test]
    fn crate_belongs_on_the_struct() {
        let attrs: Vec<Attribute> = vec![parse_quote!(#[spotify(crate = "x")])];
        let (_, messages) = role_of(&attrs);
        assert_eq!(
            messages,
            ["`#[spotify(crate = \"..\")]` goes on the struct, not on a field"]
        );
    }

    #[test]
    fn a_key_needs_parentheses() {
        let attrs: Vec<Attribute> = vec![parse_quote!(#[spotify]), parse_quote!(#[spotify = "x"])];
        let (_, messages) = role_of(&attrs);
        assert_eq!(messages.len(), 2);
        assert!(messages[0].starts_with("expected a key in parentheses"));
    }

    #[test]
    fn crate_path_is_read_from_a_string() {
        let attrs: Vec<Attribute> = vec![parse_quote!(#[spotify(crate = "::my::spotify")])];
        assert_eq!(
            crate_of(&attrs),
            (Some(":: my :: spotify".to_owned()), Vec::new())
        );
    }

    #[test]
    fn crate_path_mistakes_are_named() {
        let attrs: Vec<Attribute> = vec![parse_quote!(
            #[spotify(crate, crate = my::spotify, crate = "not a path", client_id, foo)]
        )];
        let (path, messages) = crate_of(&attrs);
        assert_eq!(path, None);
        assert_eq!(
            messages,
            [
                "`crate` in `#[spotify(..)]` needs the path of spotify-session: write \
                 `#[spotify(crate = \"path\")]`",
                "expected the path in a string, as in `#[spotify(crate = \"my_spotify\")]`",
                "`not a path` in `#[spotify(crate = \"..\")]` is not a path",
                "`#[spotify(client_id)]` goes on the field that holds the client id, not on \
                 the struct",
                "unknown key `foo` in `#[spotify(..)]` on a struct, expected `crate`",
            ]
        );
    }

    #[test]
    fn crate_path_given_twice_is_refused() {
        let attrs: Vec<Attribute> = vec![
            parse_quote!(#[spotify(crate = "a")]),
            parse_quote!(#[spotify(crate = "b")]),
        ];
        let (_, messages) = crate_of(&attrs);
        assert_eq!(messages, ["duplicate key `crate` in `#[spotify(..)]`"]);
    }
}
