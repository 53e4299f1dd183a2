//! Signing in with an organisation's own accounts (OpenID Connect): what a
//! provider's configuration must say, whose addresses each accepts, and what
//! a sign-in does with the person the provider vouches for.
//!
//! Fetching the provider's documents and keys, and checking the ID token's
//! signature, issuer, audience, expiry and nonce, belong to the web layer;
//! the identity it hands here is already proven. The rules:
//!
//! - an address must be on one of the provider's domains, on every sign-in
//!   (exactly: `abs.gov.au` does not admit `x.abs.gov.au`);
//! - an account already linked to the provider's subject signs in, unless
//!   the person was deactivated;
//! - otherwise the address must be verified (the token says
//!   `email_verified`, or the operator trusts the provider's addresses);
//!   then, when an account has that address, its owner proves it once (its
//!   password, and its code) before the provider account is linked: a
//!   provider's word for an address is never enough to take over an account
//!   (a tenant's users may set the address their tokens carry). With no
//!   account, where the provider may create accounts and the domain maps to
//!   an agency, a member of that agency is made.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Abbreviation, Email, PersonId};

/// The longest provider name (it is part of the sign-in addresses).
pub const NAME_MAX: usize = 40;
/// The longest label on the sign-in button.
pub const LABEL_MAX: usize = 80;
/// The longest subject a provider may give (OpenID Connect Core 1.0 §2: 255
/// ASCII characters).
pub const SUBJECT_MAX: usize = 255;
/// Seconds a started sign-in may take before its answer is refused.
pub const PENDING_SECS: i64 = 10 * 60;

/// One provider, as the operator configures it (the client secret is kept
/// apart by the web layer and never reaches here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    /// In addresses: `/login/oidc/{name}`. Lowercase letters, digits, `-`.
    pub name: String,
    /// What the button says: "Sign in with {label}".
    pub label: String,
    /// Exactly as the provider's discovery document and tokens say it.
    pub issuer: String,
    pub client_id: String,
    /// Domains whose addresses may sign in, each with the agency (its
    /// abbreviation) a new account joins.
    #[serde(default)]
    pub agencies: BTreeMap<String, String>,
    /// Further domains whose addresses may sign in to accounts that exist,
    /// but never create one (the programme's own, say).
    #[serde(default)]
    pub domains: Vec<String>,
    /// Whether a first sign-in from a mapped domain with no account makes a
    /// member of the agency.
    #[serde(default)]
    pub create_accounts: bool,
    /// Whether the provider's addresses count as verified when its token
    /// does not say `email_verified` (Microsoft Entra ID does not send the
    /// claim; a single-tenant directory's addresses are the agency's own).
    #[serde(default)]
    pub trust_email: bool,
}

impl Provider {
    /// Every reason this configuration cannot be used, in words for the
    /// operator.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let n = &self.name;
        if n.is_empty()
            || n.len() > NAME_MAX
            || !n
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            out.push(format!(
                "name “{}” must be 1 to {NAME_MAX} lowercase letters, digits or -",
                crate::people::shown(n)
            ));
        }
        let label = self.label.trim();
        if label.is_empty() || label.chars().count() > LABEL_MAX {
            out.push(format!("{n}: label must be 1 to {LABEL_MAX} characters"));
        }
        if let Err(why) = issuer_problem(&self.issuer) {
            out.push(format!("{n}: issuer {why}"));
        }
        if self.client_id.trim().is_empty() || self.client_id.len() > 255 {
            out.push(format!("{n}: client_id must be 1 to 255 characters"));
        }
        if self.agencies.is_empty() && self.domains.is_empty() {
            out.push(format!(
                "{n}: give the email domains that may sign in (agencies or domains)"
            ));
        }
        for d in self.agencies.keys().chain(&self.domains) {
            match crate::community::parse_domains(d) {
                Ok(p) if p.len() == 1 && p[0] == *d => {}
                _ => out.push(format!(
                    "{n}: “{}” is not a lowercase domain such as abs.gov.au",
                    crate::people::shown(d)
                )),
            }
        }
        for (d, a) in &self.agencies {
            if Abbreviation::parse(a).is_err() {
                out.push(format!(
                    "{n}: {d} maps to “{}”, which is not an agency's abbreviation",
                    crate::people::shown(a)
                ));
            }
        }
        if self.create_accounts && self.agencies.is_empty() {
            out.push(format!(
                "{n}: create_accounts needs a domain mapped to an agency (agencies)"
            ));
        }
        out
    }

    /// The agency a new account from `email` joins, if its domain maps to one.
    fn agency_for(&self, domain: &str) -> Option<&str> {
        self.agencies.get(domain).map(String::as_str)
    }

    fn allows(&self, domain: &str) -> bool {
        self.agencies.contains_key(domain) || self.domains.iter().any(|d| d == domain)
    }
}

/// Why an issuer cannot be used: it must be an `https` address without a
/// query or fragment; plain `http` only on this machine (tests, a provider
/// beside Waymark).
pub fn issuer_problem(issuer: &str) -> Result<(), String> {
    let url = url::Url::parse(issuer).map_err(|e| format!("is not an address: {e}"))?;
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err("must not have a query, fragment or user".into());
    }
    match (url.scheme(), url.host()) {
        ("https", Some(_)) => Ok(()),
        ("http", Some(url::Host::Ipv4(a))) if a.is_loopback() => Ok(()),
        ("http", Some(url::Host::Ipv6(a))) if a.is_loopback() => Ok(()),
        ("http", Some(url::Host::Domain("localhost"))) => Ok(()),
        _ => Err("must be an https address (http only on 127.0.0.1 or localhost)".into()),
    }
}

/// Who the provider says signed in, after the token was proven.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub subject: String,
    pub email: Option<Email>,
    pub email_verified: bool,
    pub name: Option<String>,
}

/// An account the store found: whose, and whether they were deactivated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub person: PersonId,
    pub active: bool,
}

/// What a sign-in does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The account linked to this subject signs in.
    SignIn(PersonId),
    /// The account with the verified address must be proven by its owner
    /// (their password, and their code) in this browser; then this subject
    /// is linked to it.
    Confirm(PersonId),
    /// The account its owner just proved is linked to this subject.
    Link(PersonId),
    /// A new member of the agency (its abbreviation) is made, linked and
    /// signed in.
    Create {
        agency: String,
        name: String,
        email: Email,
    },
}

/// Why a sign-in is refused, in the words the page shows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "{provider} did not give an email address Waymark can use (plain letters, digits and punctuation), so Waymark cannot tell who you are."
    )]
    NoEmail { provider: String },
    #[error(
        "Addresses at {domain} cannot sign in with {provider}. Sign in with your password, or ask the programme for access."
    )]
    DomainNotAllowed { provider: String, domain: String },
    #[error(
        "{provider} has not verified your email address, so it cannot be matched to a Waymark account."
    )]
    NotVerified { provider: String },
    #[error(
        "There is no Waymark account for {email}. Ask your agency's sponsor or the programme to invite you."
    )]
    NoAccount { email: String },
    #[error("This account has been deactivated. Ask the programme if you need it again.")]
    Deactivated,
}

impl Refusal {
    /// The refusal's kind, for the log (never the address it names).
    pub fn kind(&self) -> &'static str {
        match self {
            Refusal::NoEmail { .. } => "no address",
            Refusal::DomainNotAllowed { .. } => "domain not allowed",
            Refusal::NotVerified { .. } => "address not verified",
            Refusal::NoAccount { .. } => "no account",
            Refusal::Deactivated => "deactivated",
        }
    }
}

/// The one rule: what a proven identity from `provider` does, given the
/// account linked to its subject and the account with its address.
pub fn decide(
    provider: &Provider,
    identity: &Identity,
    linked: Option<Found>,
    by_email: Option<Found>,
) -> Result<Outcome, Refusal> {
    let label = || provider.label.trim().to_string();
    let Some(email) = &identity.email else {
        return Err(Refusal::NoEmail { provider: label() });
    };
    let domain = email
        .as_str()
        .rsplit_once('@')
        .map_or("", |(_, d)| d)
        .to_string();
    if !provider.allows(&domain) {
        return Err(Refusal::DomainNotAllowed {
            provider: label(),
            domain,
        });
    }
    if let Some(f) = linked {
        return if f.active {
            Ok(Outcome::SignIn(f.person))
        } else {
            Err(Refusal::Deactivated)
        };
    }
    if !(identity.email_verified || provider.trust_email) {
        return Err(Refusal::NotVerified { provider: label() });
    }
    match (by_email, provider.agency_for(&domain)) {
        (Some(f), _) if f.active => Ok(Outcome::Confirm(f.person)),
        (Some(_), _) => Err(Refusal::Deactivated),
        (None, Some(agency)) if provider.create_accounts => Ok(Outcome::Create {
            agency: agency.to_string(),
            name: display_name(identity.name.as_deref(), email),
            email: email.clone(),
        }),
        (None, _) => Err(Refusal::NoAccount {
            email: email.as_str().to_string(),
        }),
    }
}

/// A new account's name: the provider's, on one line and at most 200
/// characters, or the address's local part.
fn display_name(name: Option<&str>, email: &Email) -> String {
    let visible: String = name
        .unwrap_or("")
        .chars()
        .filter(|c| !crate::text::hides(*c))
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let cleaned: String = visible
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(200)
        .collect();
    if cleaned.is_empty() {
        email
            .as_str()
            .split('@')
            .next()
            .unwrap_or_default()
            .to_string()
    } else {
        cleaned.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider() -> Provider {
        Provider {
            name: "abs".into(),
            label: "ABS staff account".into(),
            issuer: "https://login.example.com/tenant/v2.0".into(),
            client_id: "waymark".into(),
            agencies: [("abs.gov.au".to_string(), "ABS".to_string())].into(),
            domains: vec!["dta.gov.au".into()],
            create_accounts: true,
            trust_email: false,
        }
    }

    fn who(email: &str, verified: bool) -> Identity {
        Identity {
            subject: "s1".into(),
            email: Some(Email::parse(email).unwrap()),
            email_verified: verified,
            name: Some("Ann Archer".into()),
        }
    }

    const ACTIVE: Found = Found {
        person: PersonId(7),
        active: true,
    };
    const GONE: Found = Found {
        person: PersonId(7),
        active: false,
    };

    #[test]
    fn a_good_configuration_has_no_problems_and_each_mistake_is_named() {
        assert!(
            provider().problems().is_empty(),
            "{:?}",
            provider().problems()
        );
        let mut p = provider();
        p.name = "ABS!".into();
        p.issuer = "http://idp.example.com".into();
        p.agencies = [("Abs.gov.au".to_string(), "a b".to_string())].into();
        p.domains.clear();
        let problems = p.problems().join("\n");
        for part in [
            "lowercase letters",
            "https",
            "lowercase domain",
            "abbreviation",
        ] {
            assert!(problems.contains(part), "{part}: {problems}");
        }
        let mut p = provider();
        p.agencies.clear();
        assert!(p.problems().join("\n").contains("create_accounts needs"));
        p.domains.clear();
        assert!(p.problems().join("\n").contains("give the email domains"));
    }

    #[test]
    fn issuers_are_https_or_on_this_machine() {
        for fine in [
            "https://login.microsoftonline.com/abc/v2.0",
            "http://127.0.0.1:4000",
            "http://localhost:4000",
            "http://[::1]:4000",
        ] {
            assert!(issuer_problem(fine).is_ok(), "{fine}");
        }
        for bad in [
            "http://idp.example.com",
            "http://10.0.0.1",
            "ftp://x",
            "https://x/?a=1",
            "https://u@x/",
            "not a url",
        ] {
            assert!(issuer_problem(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_linked_subject_signs_in_unless_deactivated() {
        let p = provider();
        // Even unverified: the link was made when it was verified.
        let id = who("ann@abs.gov.au", false);
        assert_eq!(
            decide(&p, &id, Some(ACTIVE), None),
            Ok(Outcome::SignIn(PersonId(7)))
        );
        assert_eq!(decide(&p, &id, Some(GONE), None), Err(Refusal::Deactivated));
    }

    #[test]
    fn every_sign_in_must_come_from_an_allowed_domain_exactly() {
        let p = provider();
        for email in [
            "ann@gmail.com",
            "ann@x.abs.gov.au",
            "ann@abs.gov.au.evil.com",
        ] {
            let r = decide(&p, &who(email, true), Some(ACTIVE), None);
            assert!(
                matches!(r, Err(Refusal::DomainNotAllowed { .. })),
                "{email}"
            );
        }
        let mut none = who("ann@abs.gov.au", true);
        none.email = None;
        assert!(matches!(
            decide(&p, &none, Some(ACTIVE), None),
            Err(Refusal::NoEmail { .. })
        ));
    }

    #[test]
    fn a_first_sign_in_asks_the_accounts_owner_or_creates_a_member() {
        let p = provider();
        assert_eq!(
            decide(&p, &who("ann@abs.gov.au", true), None, Some(ACTIVE)),
            Ok(Outcome::Confirm(PersonId(7)))
        );
        assert_eq!(
            decide(&p, &who("ann@abs.gov.au", true), None, Some(GONE)),
            Err(Refusal::Deactivated)
        );
        assert_eq!(
            decide(&p, &who("ann@abs.gov.au", false), None, Some(ACTIVE)),
            Err(Refusal::NotVerified {
                provider: "ABS staff account".into()
            })
        );
        let mut trusting = provider();
        trusting.trust_email = true;
        assert_eq!(
            decide(&trusting, &who("ann@abs.gov.au", false), None, Some(ACTIVE)),
            Ok(Outcome::Confirm(PersonId(7)))
        );
        assert_eq!(
            decide(&p, &who("ann@abs.gov.au", true), None, None),
            Ok(Outcome::Create {
                agency: "ABS".into(),
                name: "Ann Archer".into(),
                email: Email::parse("ann@abs.gov.au").unwrap()
            })
        );
        // A domain allowed only for accounts that exist.
        assert!(matches!(
            decide(&p, &who("tom@dta.gov.au", true), None, None),
            Err(Refusal::NoAccount { .. })
        ));
        let mut closed = provider();
        closed.create_accounts = false;
        assert!(matches!(
            decide(&closed, &who("ann@abs.gov.au", true), None, None),
            Err(Refusal::NoAccount { .. })
        ));
    }

    #[test]
    fn a_new_accounts_name_is_one_clean_line_or_the_address() {
        let e = Email::parse("ann.archer@abs.gov.au").unwrap();
        assert_eq!(
            display_name(Some("  Ann\u{202e}\n Archer "), &e),
            "Ann Archer"
        );
        assert_eq!(display_name(Some(" \u{200b} "), &e), "ann.archer");
        assert_eq!(display_name(None, &e), "ann.archer");
        assert_eq!(display_name(Some(&"x".repeat(500)), &e).len(), 200);
    }
}
