//! The generated `impl SpotifyCredentials`.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, Generics, Ident, Path, WherePredicate, parse_quote_spanned};

use crate::attr::Role;
use crate::check::{self, Roles};
use crate::errors::Errors;
use crate::parse::{self, Claim, Input};
use crate::ty;

/// The impl for `derive`, or every mistake found in it.
pub(crate) fn derive(derive: &DeriveInput) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let input = parse::input(derive, &mut errors);
    let expanded = input.as_ref().and_then(|input| {
        let roles = check::roles(input, &mut errors)?;
        Some(impl_block(input, &roles))
    });
    errors.finish()?;
    Ok(expanded.unwrap_or_default())
}

fn impl_block(input: &Input<'_>, roles: &Roles<'_>) -> TokenStream {
    let krate = &input.krate;
    let ident = input.ident;
    let generics = with_bounds(input, roles);
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();

    let client_id = part(Role::ClientId, Some(roles.client_id), krate);
    let client_secret = part(Role::ClientSecret, roles.client_secret, krate);
    let redirect_uri = part(Role::RedirectUri, roles.redirect_uri, krate);

    // No locals: a user's `const` of the same name in scope would turn one into a pattern.
    quote! {
        #[automatically_derived]
        impl #impl_generics #krate::SpotifyCredentials for #ident #ty_generics #where_clause {
            fn credentials(&self) -> #krate::Credentials {
                #krate::Credentials::from_parts(#client_id, #client_secret, #redirect_uri)
            }
        }
    }
}

/// The struct's generics, with a bound for each held field whose type names a type parameter.
fn with_bounds(input: &Input<'_>, roles: &Roles<'_>) -> Generics {
    let held = [
        Some(roles.client_id),
        roles.client_secret,
        roles.redirect_uri,
    ];
    let bounds: Vec<WherePredicate> = held
        .into_iter()
        .flatten()
        .filter(|claim| ty::mentions_type_param(claim.ty, input.generics))
        .map(|claim| bound(claim, &input.krate))
        .collect();
    let mut generics = input.generics.clone();
    generics.make_where_clause().predicates.extend(bounds);
    generics
}

/// The expression giving the role's part: the field through the role's helper trait, or
/// `None` for an optional part no field holds.
///
/// The call is spanned at the field's type, so an unsupported type is reported there.
fn part(role: Role, claim: Option<&Claim<'_>>, krate: &Path) -> TokenStream {
    let Some(claim) = claim else {
        return quote!(::core::option::Option::None);
    };
    let (ty, field) = (claim.ty, claim.field);
    let (helper, method) = helper(role);
    quote_spanned! {ty.span()=>
        <#ty as #krate::__private::#helper>::#method(&self.#field)
    }
}

/// `Type: Helper`, for a field type that names a type parameter of the struct.
fn bound(claim: &Claim<'_>, krate: &Path) -> WherePredicate {
    let ty = claim.ty;
    let (helper, _) = helper(claim.role);
    parse_quote_spanned!(ty.span()=> #ty: #krate::__private::#helper)
}

/// The hidden trait of spotify-session that turns a field into the role's part, and its
/// method.
fn helper(role: Role) -> (Ident, Ident) {
    let (helper, method) = match role {
        Role::ClientId => ("ClientIdField", "to_client_id"),
        Role::ClientSecret => ("ClientSecretField", "to_client_secret"),
        Role::RedirectUri => ("RedirectUriField", "to_redirect_uri"),
    };
    let span = Span::call_site();
    (Ident::new(helper, span), Ident::new(method, span))
}

#[cfg(test)]
mod tests {
    use quote::quote;
    use syn::{DeriveInput, parse_quote};

    use super::derive;

    fn expand(input: &DeriveInput) -> String {
        derive(input).expect("a valid derive input").to_string()
    }

    #[test]
    fn a_struct_gets_an_impl_with_absolute_paths() {
        let input: DeriveInput = parse_quote! {
            struct Config { client_id: String, port: u16 }
        };
        let expected = quote! {
            #[automatically_derived]
            impl ::spotify_session::SpotifyCredentials for Config {
                fn credentials(&self) -> ::spotify_session::Credentials {
                    ::spotify_session::Credentials::from_parts(
                        <String as ::spotify_session::__private::ClientIdField>
                            ::to_client_id(&self.client_id),
                        ::core::option::Option::None,
                        ::core::option::Option::None
                    )
                }
            }
        };
        assert_eq!(expand(&input), expected.to_string());
    }

    #[test]
    fn every_held_part_goes_through_its_helper() {
        let input: DeriveInput = parse_quote! {
            #[spotify(crate = "spotify")]
            struct Config<'a> {
                #[spotify(client_id)]
                id: &'a str,
                client_secret: Option<String>,
                #[spotify(redirect_uri)]
                callback: Url,
            }
        };
        let expanded = expand(&input);
        for call in [
            quote!(<&'a str as spotify::__private::ClientIdField>::to_client_id(&self.id)),
            quote!(
                <Option<String> as spotify::__private::ClientSecretField>::to_client_secret(
                    &self.client_secret
                )
            ),
            quote!(<Url as spotify::__private::RedirectUriField>::to_redirect_uri(&self.callback)),
        ] {
            assert!(expanded.contains(&call.to_string()), "{expanded}");
        }
        assert!(expanded.contains(&quote!(impl<'a> spotify::SpotifyCredentials).to_string()));
    }

    #[test]
    fn a_field_typed_by_a_parameter_gets_a_bound() {
        let input: DeriveInput = parse_quote! {
            struct Config<S: Clone, P> where P: Default {
                client_id: S,
                client_secret: Option<S>,
                port: P,
            }
        };
        let expected = quote! {
            impl<S: Clone, P> ::spotify_session::SpotifyCredentials for Config<S, P>
            where
                P: Default,
                S: ::spotify_session::__private::ClientIdField,
                Option<S>: ::spotify_session::__private::ClientSecretField
        };
        assert!(
            expand(&input).contains(&expected.to_string()),
            "{}",
            expand(&input)
        );
    }

    #[test]
    fn every_mistake_is_reported_together() {
        let input: DeriveInput = parse_quote! {
            #[spotify(crate)]
            struct Config {
                #[spotify(client_secret = "x")]
                secret: String,
                client_secret: String,
                #[spotify(foo)]
                port: u16,
            }
        };
        let error = derive(&input).expect_err("five mistakes");
        assert_eq!(error.into_iter().count(), 5);
    }
}
