//! The rules on the claims: one field per role, and a client id.

use crate::attr::Role;
use crate::errors::Errors;
use crate::parse::{Claim, Input};

/// The field holding each part of the credentials.
pub(crate) struct Roles<'a> {
    pub(crate) client_id: &'a Claim<'a>,
    pub(crate) client_secret: Option<&'a Claim<'a>>,
    pub(crate) redirect_uri: Option<&'a Claim<'a>>,
}

/// Gives each role its field, pushing a mistake for every role claimed twice and for a
/// missing client id.
pub(crate) fn roles<'a>(input: &'a Input<'a>, errors: &mut Errors) -> Option<Roles<'a>> {
    let mut holders: [Option<&Claim<'_>>; 3] = [None; 3];
    for claim in &input.claims {
        let holder = &mut holders[index(claim.role)];
        match holder {
            Some(first) => errors.push(duplicate(first, claim)),
            None => *holder = Some(claim),
        }
    }

    let [client_id, client_secret, redirect_uri] = holders;
    let Some(client_id) = client_id else {
        errors.push(syn::Error::new(
            input.ident.span(),
            "no field holds the client id: name a field `client_id` or mark one with \
             `#[spotify(client_id)]`",
        ));
        return None;
    };
    Some(Roles {
        client_id,
        client_secret,
        redirect_uri,
    })
}

fn index(role: Role) -> usize {
    match role {
        Role::ClientId => 0,
        Role::ClientSecret => 1,
        Role::RedirectUri => 2,
    }
}

fn duplicate(first: &Claim<'_>, second: &Claim<'_>) -> syn::Error {
    syn::Error::new(
        second.span(),
        format!(
            "{} comes from two fields: `{}` ({}) and `{}` ({})",
            second.role,
            first.field,
            first.how(),
            second.field,
            second.how(),
        ),
    )
}

#[cfg(test)]
mod tests {
    use syn::{DeriveInput, parse_quote};

    use super::roles;
    use crate::errors::Errors;
    use crate::parse::input;

    fn check(derive: &DeriveInput) -> (Option<[Option<String>; 3]>, Vec<String>) {
        let mut errors = Errors::default();
        let input = input(derive, &mut errors).expect("a struct with named fields");
        let fields = roles(&input, &mut errors).map(|roles| {
            [
                Some(roles.client_id.field.to_string()),
                roles.client_secret.map(|claim| claim.field.to_string()),
                roles.redirect_uri.map(|claim| claim.field.to_string()),
            ]
        });
        let messages = match errors.finish() {
            Ok(()) => Vec::new(),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        };
        (fields, messages)
    }

    #[test]
    fn each_role_gets_its_field() {
        let derive = parse_quote! {
            struct Config { #[spotify(client_id)] id: String, redirect_uri: String, other: u8 }
        };
        let expected = [Some("id".to_owned()), None, Some("redirect_uri".to_owned())];
        assert_eq!(check(&derive), (Some(expected), Vec::new()));
    }

    #[test]
    fn a_client_id_is_required() {
        let derive = parse_quote!(
            struct Config {
                client_secret: String,
            }
        );
        assert_eq!(
            check(&derive),
            (
                None,
                vec![
                    "no field holds the client id: name a field `client_id` or mark one with \
                     `#[spotify(client_id)]`"
                        .to_owned()
                ]
            )
        );
    }

    #[test]
    fn every_role_claimed_twice_is_reported() {
        let derive = parse_quote! {
            struct Config {
                client_id: String,
                #[spotify(client_id)]
                app_id: String,
                #[spotify(redirect_uri)]
                callback: String,
                redirect_uri: String,
            }
        };
        let (_, messages) = check(&derive);
        assert_eq!(
            messages,
            [
                "the client id comes from two fields: `client_id` (by its name) and `app_id` \
                 (marked `#[spotify(client_id)]`)",
                "the redirect URI comes from two fields: `callback` (marked \
                 `#[spotify(redirect_uri)]`) and `redirect_uri` (by its name)",
            ]
        );
    }
}
