//! Text normalisation for comparing names and addresses: upper case, accents removed,
//! punctuation folded to spaces, runs of spaces collapsed. "José  O'Neil-Smith" and
//! "JOSE O NEIL SMITH" normalise to the same key.

use unicode_normalization::{char::is_combining_mark, UnicodeNormalization};

/// Normalises a name or address line for equality comparison.
pub fn normalize_text(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut pending_space = false;
    // Decompose, drop accents, upper-case, and again: some letters only decompose or only
    // gain an upper case after the other step.
    let upper = input
        .nfkd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_uppercase);
    for c in upper.nfkd().filter(|c| !is_combining_mark(*c)) {
        if c.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(c);
        } else {
            pending_space = true;
        }
    }
    out
}

/// Keeps only the digits of a phone number or ZIP code.
pub fn digits(input: &str) -> String {
    input.chars().filter(|c| c.is_ascii_digit()).collect()
}

/// A five-digit ZIP from "49503", "49503-1234" or "495031234"; other postal codes as given,
/// normalised.
pub fn postal_code_key(input: &str) -> String {
    let d = digits(input);
    if (d.len() == 5 || d.len() == 9)
        && d.len() == input.chars().filter(|c| c.is_ascii_alphanumeric()).count()
    {
        d[..5].to_string()
    } else {
        normalize_text(input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_accents_case_and_punctuation() {
        assert_eq!(normalize_text("José  O'Neil-Smith"), "JOSE O NEIL SMITH");
        assert_eq!(normalize_text("  müller "), "MULLER");
        assert_eq!(normalize_text(""), "");
        assert_eq!(normalize_text("--"), "");
    }

    #[test]
    fn zip_plus_four_becomes_five_digits() {
        assert_eq!(postal_code_key("49503-1234"), "49503");
        assert_eq!(postal_code_key("49503"), "49503");
        assert_eq!(postal_code_key("K1A 0B1"), "K1A 0B1");
    }

    proptest::proptest! {
        #[test]
        fn normalisation_is_idempotent(s in "\\PC*") {
            let once = normalize_text(&s);
            proptest::prop_assert_eq!(normalize_text(&once), once.clone());
        }
    }
}
