//! Removing a person's personal data at their request: what is searched
//! for. The store searches every text column for these terms and replaces
//! each whole occurrence (`waymark_store`'s `removal`); who may ask is
//! `Actor::may_remove_personal_data`.
//!
//! The terms: the person's address (also as links write it, `@` as `%40`),
//! their full name when it has at least two words and six letters (one
//! word would match too much; also as links and JSON write it), and any
//! earlier addresses and names the person gives (Waymark keeps no old
//! values when details are corrected), under the same rules. A name
//! another person has is never a term: their records would lose it too.

use crate::{DomainError, Email, PersonId};

/// The domain a removed person's address is on: `.invalid` is reserved
/// (RFC 2606), so it is never a real address, and nobody else has it.
const REMOVED_DOMAIN: &str = "@removed.invalid";

/// The address a removed person's row keeps (addresses are unique).
pub fn removed_address(person: PersonId) -> String {
    format!("removed-{}{REMOVED_DOMAIN}", person.0)
}

/// Whether `email` is a removed person's, so their details stay removed.
pub fn is_removed(email: &Email) -> bool {
    email.as_str().ends_with(REMOVED_DOMAIN)
}

/// The most earlier addresses and names one removal takes.
pub const ALSO_MAX: usize = 10;

/// What is searched for, lowercase with white space as single spaces.
/// `namesake(name)` says whether someone else has that name; `also` are
/// earlier addresses and names, one each.
pub fn terms(
    name: &str,
    email: &str,
    also: &[String],
    namesake: impl Fn(&str) -> bool,
) -> Result<Vec<String>, DomainError> {
    // Counted as given, blank ones too: the list's bound is the API's.
    if also.len() > ALSO_MAX {
        return Err(DomainError::invalid(
            "also",
            format!("give at most {ALSO_MAX} earlier addresses and names"),
        ));
    }
    if let Some(long) = also.iter().find(|a| a.chars().count() > 254) {
        return Err(DomainError::invalid(
            "also",
            format!(
                "“{}” is longer than 254 characters",
                crate::people::shown(long)
            ),
        ));
    }
    let also: Vec<&str> = also
        .iter()
        .map(|a| a.trim())
        .filter(|a| !a.is_empty())
        .collect();
    let mut out = address(email);
    if let Some(n) = full_name(name)
        && !namesake(name)
    {
        out.extend(name_forms(&n));
    }
    for a in also {
        if a.contains('@') {
            let e = Email::parse(a).map_err(|_| {
                DomainError::invalid(
                    "also",
                    format!("“{}” is not an email address", crate::people::shown(a)),
                )
            })?;
            out.extend(address(e.as_str()));
        } else {
            let Some(n) = full_name(a) else {
                return Err(DomainError::invalid(
                    "also",
                    format!(
                        "“{}” is not a full name: give two words or more (one word would match too much)",
                        crate::people::shown(a)
                    ),
                ));
            };
            if namesake(a) {
                return Err(DomainError::invalid(
                    "also",
                    format!(
                        "another person is called “{}”: their records would lose it too",
                        crate::people::shown(a)
                    ),
                ));
            }
            out.extend(name_forms(&n));
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|t| seen.insert(t.clone()));
    Ok(out)
}

/// A name as compared: lowercase, white space as single spaces.
pub fn plain(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn address(email: &str) -> Vec<String> {
    let e = email.trim().to_lowercase();
    vec![e.clone(), e.replace('@', "%40")]
}

/// The name as searched, when it is a full name (two words, six letters).
fn full_name(name: &str) -> Option<String> {
    let n = plain(name);
    (n.split(' ').count() >= 2 && n.chars().filter(|c| c.is_alphabetic()).count() >= 6).then_some(n)
}

fn name_forms(n: &str) -> Vec<String> {
    let mut out = vec![n.replace(' ', "+"), n.replace(' ', "%20")];
    if n.contains(['"', '\\']) {
        out.push(n.replace('\\', "\\\\").replace('"', "\\\""));
    }
    out.push(n.to_string());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_removed_address_is_never_a_real_one() {
        let a = Email::parse(&removed_address(PersonId(7))).unwrap();
        assert_eq!(a.as_str(), "removed-7@removed.invalid");
        assert!(is_removed(&a));
        assert!(!is_removed(
            &Email::parse("removed-7@removed.invalid.gov.au").unwrap()
        ));
    }

    #[test]
    fn the_address_and_a_full_name_in_their_forms() {
        let t = terms("Mia  Member", "Mia@Bot.gov.au", &[], |_| false).unwrap();
        assert_eq!(
            t,
            [
                "mia@bot.gov.au",
                "mia%40bot.gov.au",
                "mia+member",
                "mia%20member",
                "mia member"
            ]
        );
        // One word, or a short name, is too common to search for.
        assert_eq!(
            terms("Mia", "m@x.au", &[], |_| false).unwrap(),
            ["m@x.au", "m%40x.au"]
        );
        assert_eq!(terms("Al Bo", "m@x.au", &[], |_| false).unwrap().len(), 2);
        // A namesake keeps the name.
        assert_eq!(
            terms("Mia Member", "m@x.au", &[], |_| true).unwrap().len(),
            2
        );
        let q = terms("Kim \"KJ\" Jones", "k@x.au", &[], |_| false).unwrap();
        assert!(q.contains(&"kim \\\"kj\\\" jones".to_string()), "{q:?}");
    }

    #[test]
    fn earlier_addresses_and_names_are_searched_and_checked() {
        let also = [
            "  Ann@Old.gov.au ".to_string(),
            "Ann Lee-Smith".into(),
            " ".into(),
        ];
        let t = terms("Ann Lee", "ann.lee@new.gov.au", &also, |_| false).unwrap();
        for want in ["ann@old.gov.au", "ann%40old.gov.au", "ann lee-smith"] {
            assert!(t.contains(&want.to_string()), "{want}: {t:?}");
        }
        for (bad, says) in [
            ("not an address@", "not an email address"),
            ("Ann", "not a full name"),
            ("Bo Li", "not a full name"),
        ] {
            let e = terms("Ann Lee", "a@x.au", &[bad.to_string()], |_| false).unwrap_err();
            assert!(e.to_string().contains(says), "{bad}: {e}");
        }
        let e = terms("Ann Lee", "a@x.au", &["Sam Same".into()], |n| {
            plain(n) == "sam same"
        })
        .unwrap_err();
        assert!(e.to_string().contains("another person is called"), "{e}");
        assert!(terms("Ann Lee", "a@x.au", &["a b".repeat(200)], |_| false).is_err());
        let many: Vec<String> = (0..=ALSO_MAX).map(|i| format!("x{i}@x.au")).collect();
        assert!(terms("Ann Lee", "a@x.au", &many, |_| false).is_err());
        // Blank ones count against the bound (schemathesis sent eleven).
        assert!(
            terms(
                "Ann Lee",
                "a@x.au",
                &vec![String::new(); ALSO_MAX + 1],
                |_| false
            )
            .is_err()
        );
    }
}
