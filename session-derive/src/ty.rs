//! Recognition of the struct's type parameters inside a field's type.

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::{Generics, Ident, Type};

/// Whether `ty` names one of the type parameters of `generics`.
///
/// Such a field type gets a bound in the impl's `where` clause, so that the impl exists for
/// the type arguments that can give credentials; every other field type is checked where the
/// struct is defined. The check looks at the tokens, so a type that only looks like a
/// parameter (a path segment named `T`) gets a bound that holds anyway.
pub(crate) fn mentions_type_param(ty: &Type, generics: &Generics) -> bool {
    let params: Vec<&Ident> = generics.type_params().map(|param| &param.ident).collect();
    !params.is_empty() && mentions(ty.to_token_stream(), &params)
}

fn mentions(tokens: TokenStream, params: &[&Ident]) -> bool {
    tokens.into_iter().any(|token| match token {
        TokenTree::Ident(ident) => params.iter().any(|param| **param == ident),
        TokenTree::Group(group) => mentions(group.stream(), params),
        TokenTree::Punct(_) | TokenTree::Literal(_) => false,
    })
}

#[cfg(test)]
mod tests {
    use syn::{Generics, Type, parse_quote};

    use super::mentions_type_param;

    fn generics() -> Generics {
        parse_quote!(<'a, T: Clone, const N: usize, U = ()>)
    }

    #[test]
    fn a_type_parameter_is_found_anywhere_in_the_type() {
        let types: [Type; 8] = [
            parse_quote!(T),
            parse_quote!(Option<T>),
            parse_quote!(&'a T),
            parse_quote!(::std::borrow::Cow<'a, U>),
            parse_quote!(<T as Deref>::Target),
            parse_quote!([T; 3]),
            parse_quote!((String, Box<T>)),
            parse_quote!(wrapper!(T)),
        ];
        for ty in types {
            assert!(
                mentions_type_param(&ty, &generics()),
                "{}",
                quote::quote!(#ty)
            );
        }
    }

    #[test]
    fn concrete_types_lifetimes_and_consts_are_not_type_parameters() {
        let types: [Type; 5] = [
            parse_quote!(String),
            parse_quote!(&'a str),
            parse_quote!(Cow<'a, str>),
            parse_quote!(Option<Tx>),
            parse_quote!([u8; N]),
        ];
        for ty in types {
            assert!(
                !mentions_type_param(&ty, &generics()),
                "{}",
                quote::quote!(#ty)
            );
        }
    }

    #[test]
    fn a_struct_without_type_parameters_needs_no_bound() {
        assert!(!mentions_type_param(&parse_quote!(T), &parse_quote!(<'a>)));
    }
}
