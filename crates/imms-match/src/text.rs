//! Name normalization: case, accents, punctuation and spacing (via
//! [`imms_core::normalize::normalize_text`]), generational suffixes split out, compound and
//! hyphenated surnames taken apart, nicknames mapped to their legal names, phonetic keys.

use std::collections::HashMap;
use std::sync::OnceLock;

use imms_core::normalize::normalize_text;
use rphonetic::DoubleMetaphone;

/// Longest token kept from a name: real names are far shorter, and a bound keeps keys and
/// comparisons cheap whatever a caller sends.
const MAX_TOKEN_CHARS: usize = 40;
/// Most tokens kept from one name field.
const MAX_TOKENS: usize = 6;

/// Surname particles: "de la Cruz", "van der Berg". Kept in the full name, ignored when
/// comparing the significant parts of a compound surname.
const PARTICLES: &[&str] = &[
    "DE", "DEL", "DELA", "LA", "LAS", "LOS", "DA", "DAS", "DO", "DOS", "DI", "DU", "VAN", "VON",
    "DER", "DEN", "TER", "LE", "Y", "E", "BIN", "BEN", "AL", "EL",
];

/// A generational suffix in its one spelling: JR, SR, II, III, IV, V; `None` for anything
/// else.
pub fn suffix_key(raw: &str) -> Option<&'static str> {
    let n = normalize_text(raw);
    Some(match n.as_str() {
        "JR" | "JNR" | "JUNIOR" => "JR",
        "SR" | "SNR" | "SENIOR" => "SR",
        "II" | "2ND" | "2" => "II",
        "III" | "3RD" | "3" => "III",
        "IV" | "4TH" | "4" => "IV",
        "V" | "5TH" => "V",
        _ => return None,
    })
}

/// Upper-case tokens of a name field, bounded in number and length.
pub fn tokens(raw: &str) -> Vec<String> {
    normalize_text(raw)
        .split(' ')
        .filter(|t| !t.is_empty())
        .take(MAX_TOKENS)
        .map(|t| t.chars().take(MAX_TOKEN_CHARS).collect())
        .collect()
}

/// One name, normalized for comparison.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NormName {
    /// First given-name token ("MARY" of "Mary Ann").
    pub given: String,
    /// The rest of a compound given name ("JOSE" of "María José"): part of the given name,
    /// so it never corroborates on its own.
    pub given_rest: String,
    /// The middle name.
    pub middle: String,
    /// The whole surname, tokens joined by one space ("GARCIA LOPEZ", "DE LA CRUZ").
    pub family: String,
    /// Significant surname tokens, particles dropped ("GARCIA", "LOPEZ"; "CRUZ").
    pub family_parts: Vec<String>,
    /// JR, SR, II, ... or empty.
    pub suffix: String,
    /// Phonetic keys of the given name and of the first significant surname part, and the
    /// surname without spaces: computed once here, because scoring compares one name with
    /// up to a hundred candidates' and ingest does so for every message.
    pub given_sound: String,
    pub family_sound: String,
    pub family_compact: String,
}

impl NormName {
    /// Normalizes the four parts of a name. A suffix written into the surname or the given
    /// name ("Smith Jr", "John III") is split out.
    pub fn new(given: &str, middle: &str, family: &str, suffix: &str) -> NormName {
        let mut suffix = suffix_key(suffix).unwrap_or_default().to_string();
        let mut family_tokens = tokens(family);
        if family_tokens.len() > 1 {
            if let Some(s) = family_tokens.last().and_then(|t| suffix_key(t)) {
                family_tokens.pop();
                if suffix.is_empty() {
                    suffix = s.to_string();
                }
            }
        }
        let mut given_tokens = tokens(given);
        if given_tokens.len() > 1 {
            if let Some(s) = given_tokens.last().and_then(|t| suffix_key(t)) {
                given_tokens.pop();
                if suffix.is_empty() {
                    suffix = s.to_string();
                }
            }
        }
        let given_rest: Vec<String> = given_tokens.iter().skip(1).cloned().collect();
        let middle_tokens = tokens(middle);
        let family_parts: Vec<String> = family_tokens
            .iter()
            .filter(|t| !PARTICLES.contains(&t.as_str()))
            .cloned()
            .collect();
        let given = given_tokens.into_iter().next().unwrap_or_default();
        let family = family_tokens.join(" ");
        NormName {
            given_sound: phonetic(&given),
            family_sound: family_parts
                .first()
                .map(|p| phonetic(p))
                .unwrap_or_default(),
            family_compact: family.replace(' ', ""),
            given,
            given_rest: given_rest.join(" "),
            middle: middle_tokens.join(" "),
            family,
            family_parts,
            suffix,
        }
    }

    /// The surname without spaces: "DE LA CRUZ" and "DELACRUZ" are one name.
    pub fn family_joined(&self) -> &str {
        &self.family_compact
    }
}

/// Double Metaphone primary code (four characters) of one token; empty for an empty token.
pub fn phonetic(token: &str) -> String {
    static DM: OnceLock<DoubleMetaphone> = OnceLock::new();
    if token.is_empty() {
        return String::new();
    }
    DM.get_or_init(DoubleMetaphone::default)
        .double_metaphone(token)
        .primary()
}

/// The nickname list: each name (upper case) → the indices of the legal names it belongs to.
struct Nicknames {
    groups: HashMap<String, Vec<u32>>,
    formal: Vec<String>,
}

/// Nickname data: the "nicknames" list by Carlton Northern and Nick Crews (Apache-2.0),
/// `name1,relationship,name2` where name1 is a legal name and name2 one of its nicknames.
const NICKNAMES_CSV: &str = include_str!("../data/nicknames.csv");

fn nicknames() -> &'static Nicknames {
    static N: OnceLock<Nicknames> = OnceLock::new();
    N.get_or_init(|| {
        let mut index: HashMap<String, u32> = HashMap::new();
        let mut formal = Vec::new();
        let mut groups: HashMap<String, Vec<u32>> = HashMap::new();
        for line in NICKNAMES_CSV.lines().skip(1) {
            let mut cols = line.split(',');
            let (Some(name), Some(_), Some(nick)) = (cols.next(), cols.next(), cols.next()) else {
                continue;
            };
            let name = normalize_text(name);
            let nick = normalize_text(nick);
            if name.is_empty() || nick.is_empty() {
                continue;
            }
            let id = *index.entry(name.clone()).or_insert_with(|| {
                formal.push(name.clone());
                (formal.len() - 1) as u32
            });
            for n in [name, nick] {
                let g = groups.entry(n).or_default();
                if !g.contains(&id) {
                    g.push(id);
                }
            }
        }
        Nicknames { groups, formal }
    })
}

/// Do these two given names belong to one legal name (BOB and ROBERT, BOB and ROB)?
pub fn nickname_related(a: &str, b: &str) -> bool {
    let n = nicknames();
    match (n.groups.get(a), n.groups.get(b)) {
        (Some(x), Some(y)) => x.iter().any(|i| y.contains(i)),
        _ => false,
    }
}

/// The legal names a given name may stand for (itself excluded), at most four.
pub fn formal_names(given: &str) -> Vec<&'static str> {
    let n = nicknames();
    n.groups
        .get(given)
        .map(|ids| {
            ids.iter()
                .map(|&i| n.formal[i as usize].as_str())
                .filter(|f| *f != given)
                .take(4)
                .collect()
        })
        .unwrap_or_default()
}

/// The nicknames of a legal name (upper case), as the shipped list gives them.
pub fn nicknames_of(formal: &str) -> Vec<&'static str> {
    let n = nicknames();
    let Some(id) = n.formal.iter().position(|f| f == formal) else {
        return Vec::new();
    };
    let mut out: Vec<&'static str> = n
        .groups
        .iter()
        .filter(|(name, ids)| name.as_str() != formal && ids.contains(&(id as u32)))
        .map(|(name, _)| name.as_str())
        .collect();
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_are_split_from_surname_and_given_name() {
        let n = NormName::new("John", "", "Smith Jr.", "");
        assert_eq!((n.family.as_str(), n.suffix.as_str()), ("SMITH", "JR"));
        let n = NormName::new("John III", "Paul", "Smith", "");
        assert_eq!(n.given, "JOHN");
        assert_eq!(n.middle, "PAUL");
        assert_eq!(n.suffix, "III");
        let n = NormName::new("María José", "", "Pérez", "");
        assert_eq!((n.given.as_str(), n.given_rest.as_str()), ("MARIA", "JOSE"));
        assert_eq!(n.middle, "");
        assert_eq!(NormName::new("A", "", "B", "Junior").suffix, "JR");
    }

    #[test]
    fn compound_surnames_keep_their_significant_parts() {
        let a = NormName::new("Ana", "", "García-López", "");
        assert_eq!(a.family, "GARCIA LOPEZ");
        assert_eq!(a.family_parts, vec!["GARCIA", "LOPEZ"]);
        let b = NormName::new("Ana", "", "de la Cruz", "");
        assert_eq!(b.family_parts, vec!["CRUZ"]);
        assert_eq!(b.family_joined(), "DELACRUZ");
    }

    #[test]
    fn nicknames_map_to_legal_names() {
        assert!(nickname_related("BOB", "ROBERT"));
        assert!(nickname_related("BOB", "ROB"));
        assert!(nickname_related("PEGGY", "MARGARET"));
        assert!(!nickname_related("BOB", "MARGARET"));
        assert!(formal_names("BILL").contains(&"WILLIAM"));
        assert!(nicknames_of("WILLIAM").contains(&"BILL"));
    }

    #[test]
    fn phonetic_keys_group_spellings() {
        assert_eq!(phonetic("SMITH"), phonetic("SMYTH"));
        assert_eq!(phonetic(""), "");
    }
}
