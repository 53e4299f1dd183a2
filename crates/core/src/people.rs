//! Agencies and people, with their validated fields. Raw input is parsed
//! into these types once; nothing downstream re-checks an email or an
//! abbreviation.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::DomainError;

macro_rules! id {
    ($name:ident) => {
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
        )]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id!(AgencyId);
id!(PersonId);
id!(EngagementId);

/// An email address, trimmed and lowercased, so that uniqueness is
/// case-insensitive by construction.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let e = raw.trim().to_lowercase();
        let bad = |why: &str| {
            Err(DomainError::invalid(
                "email",
                format!("“{}” is not an email address: {why}", shown(raw.trim())),
            ))
        };
        if e.len() > 254 {
            return bad("it is longer than 254 characters");
        }
        if e.chars()
            .any(|c| c.is_whitespace() || c.is_control() || crate::text::hides(c))
        {
            return bad("it contains spaces or invisible characters");
        }
        // Quoted local parts, display names and lists are legal in mail
        // headers but never an address someone types here.
        if e.chars().any(|c| "<>()[]\\,;:\"".contains(c)) {
            return bad("give the address alone, such as jo@agency.gov.au");
        }
        let Some((local, domain)) = e.split_once('@') else {
            return bad("it has no @");
        };
        if local.is_empty() || domain.contains('@') {
            return bad("it needs one @ with a name before it");
        }
        if !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || domain.contains("..")
        {
            return bad("the part after @ is not a domain such as agency.gov.au");
        }
        Ok(Email(e))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, DomainError> {
        Email::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// At most 60 characters of what someone typed, to quote it in a message
/// without echoing megabytes back.
pub(crate) fn shown(raw: &str) -> String {
    let mut out: String = raw.chars().take(60).collect();
    if raw.chars().nth(60).is_some() {
        out.push('…');
    }
    out
}

/// An agency's short name ("DTA", "ATO"): 2 to 16 letters, digits or
/// hyphens, kept in capitals.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "String", into = "String")]
pub struct Abbreviation(String);

impl Abbreviation {
    /// The rule, as every form's hint and every refusal say it.
    pub const RULE: &'static str = "2 to 16 letters, digits or hyphens, such as DTA";

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let a = raw.trim().to_uppercase();
        let len = a.chars().count();
        if !(2..=16).contains(&len) || !a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(DomainError::invalid(
                "abbreviation",
                format!("“{}” must be {}", shown(raw.trim()), Self::RULE),
            ));
        }
        Ok(Abbreviation(a))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Abbreviation {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, DomainError> {
        Abbreviation::parse(&s)
    }
}

impl From<Abbreviation> for String {
    fn from(a: Abbreviation) -> String {
        a.0
    }
}

/// The agency self-assessment's four types (the model reads them in
/// questionnaires and tailoring, so it owns them).
pub use waymark_model::AgencyType;

fn required(field: &'static str, raw: &str, max: usize) -> Result<String, DomainError> {
    let v = crate::text::check_line(field, &waymark_model::text::normalize(raw), max)?;
    if v.is_empty() {
        return Err(DomainError::invalid(field, "is required"));
    }
    Ok(v)
}

/// An agency to be created (the store assigns its id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewAgency {
    pub name: String,
    pub abbreviation: Abbreviation,
    pub portfolio: String,
    pub agency_type: Option<AgencyType>,
}

impl NewAgency {
    pub fn parse(
        name: &str,
        abbreviation: &str,
        portfolio: &str,
        agency_type: Option<AgencyType>,
    ) -> Result<Self, DomainError> {
        Self::parse_all(name, abbreviation, portfolio, agency_type).map_err(|mut e| e.remove(0))
    }

    /// As `parse`, with every problem at once, for forms that show them all.
    pub fn parse_all(
        name: &str,
        abbreviation: &str,
        portfolio: &str,
        agency_type: Option<AgencyType>,
    ) -> Result<Self, Vec<DomainError>> {
        match (
            required("name", name, 200),
            Abbreviation::parse(abbreviation),
            required("portfolio", portfolio, 200),
        ) {
            (Ok(name), Ok(abbreviation), Ok(portfolio)) => Ok(NewAgency {
                name,
                abbreviation,
                portfolio,
                agency_type,
            }),
            (name, abbreviation, portfolio) => {
                Err([name.err(), abbreviation.err(), portfolio.err()]
                    .into_iter()
                    .flatten()
                    .collect())
            }
        }
    }
}

/// A person to be created (the store assigns the id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewPerson {
    pub name: String,
    pub email: Email,
}

impl NewPerson {
    pub fn parse(name: &str, email: &str) -> Result<Self, DomainError> {
        Self::parse_all(name, email).map_err(|mut e| e.remove(0))
    }

    /// As `parse`, with every problem at once (the name's, then the
    /// email's), for forms that show them all.
    pub fn parse_all(name: &str, email: &str) -> Result<Self, Vec<DomainError>> {
        match (required("name", name, 200), Email::parse(email)) {
            (Ok(name), Ok(email)) => Ok(NewPerson { name, email }),
            (name, email) => Err([name.err(), email.err()].into_iter().flatten().collect()),
        }
    }
}

/// How a person hears about what waits for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Notify {
    /// A mail as each thing arrives (a letter to sign, a step to own).
    #[default]
    Each,
    /// One mail a day listing everything that waits.
    Daily,
    /// No mail: the home page only.
    Never,
}

impl Notify {
    pub const ALL: [Notify; 3] = [Notify::Each, Notify::Daily, Notify::Never];

    pub fn as_str(self) -> &'static str {
        match self {
            Notify::Each => "each",
            Notify::Daily => "daily",
            Notify::Never => "never",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Notify::Each => "A mail as each thing arrives",
            Notify::Daily => "One mail a day, listing everything waiting",
            Notify::Never => "No mail: I will look at my home page",
        }
    }

    pub fn parse(raw: &str) -> Result<Notify, DomainError> {
        Self::ALL
            .into_iter()
            .find(|n| n.as_str() == raw.trim())
            .ok_or_else(|| {
                DomainError::invalid(
                    "notify",
                    "choose how you want to hear about what waits for you",
                )
            })
    }
}

/// The time zones people may read times in: Australia's, and UTC.
pub const TIME_ZONES: [(&str, &str); 9] = [
    ("Australia/Canberra", "Canberra, Sydney (AEST/AEDT)"),
    ("Australia/Melbourne", "Melbourne (AEST/AEDT)"),
    ("Australia/Hobart", "Hobart (AEST/AEDT)"),
    ("Australia/Brisbane", "Brisbane (AEST)"),
    ("Australia/Adelaide", "Adelaide (ACST/ACDT)"),
    ("Australia/Darwin", "Darwin (ACST)"),
    ("Australia/Perth", "Perth (AWST)"),
    ("Australia/Eucla", "Eucla (ACWST)"),
    ("UTC", "Coordinated Universal Time (UTC)"),
];

/// A person's own settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Settings {
    /// One of [`TIME_ZONES`].
    pub time_zone: String,
    pub notify: Notify,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            time_zone: TIME_ZONES[0].0.to_string(),
            notify: Notify::Each,
        }
    }
}

impl Settings {
    /// Settings from a form or a request: a zone from the list, a way to
    /// hear; every problem at once.
    pub fn parse(time_zone: &str, notify: &str) -> Result<Settings, Vec<DomainError>> {
        let zone = TIME_ZONES
            .iter()
            .find(|(z, _)| *z == time_zone.trim())
            .map(|(z, _)| z.to_string())
            .ok_or_else(|| DomainError::invalid("time_zone", "choose a time zone from the list"));
        match (zone, Notify::parse(notify)) {
            (Ok(time_zone), Ok(notify)) => Ok(Settings { time_zone, notify }),
            (z, n) => Err([z.err(), n.err()].into_iter().flatten().collect()),
        }
    }
}

/// A new password that meets the policy: 12 to 256 characters, not all
/// one character. Long passphrases beat composition rules (NIST SP 800-63B,
/// and the ISM's guidance on passphrases). Never serialised.
pub struct Password(String);

impl Password {
    pub fn parse(raw: &str, confirm: &str) -> Result<Self, DomainError> {
        let n = raw.chars().count();
        if n < 12 {
            return Err(DomainError::invalid(
                "password",
                "use at least 12 characters; a few unrelated words make a strong passphrase",
            ));
        }
        if n > 256 {
            return Err(DomainError::invalid(
                "password",
                "use at most 256 characters",
            ));
        }
        let mut chars = raw.chars();
        if let Some(first) = chars.next()
            && chars.all(|c| c == first)
        {
            return Err(DomainError::invalid(
                "password",
                "use more than one repeated character",
            ));
        }
        if raw != confirm {
            return Err(DomainError::invalid(
                "confirm",
                "the two passwords are not the same",
            ));
        }
        Ok(Password(raw.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(…)")
    }
}

/// A stored agency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Agency {
    pub id: AgencyId,
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub abbreviation: Abbreviation,
    pub portfolio: String,
    pub agency_type: Option<AgencyType>,
}

/// A stored person with their roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Person {
    pub id: PersonId,
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub email: Email,
    pub roles: Vec<crate::Role>,
    /// When the programme deactivated them (they left): they cannot sign
    /// in, and their name stays on the history. Absent while active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deactivated_at: Option<crate::Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_lowercased_and_checked() {
        assert_eq!(
            Email::parse("  Jo.Citizen@Agency.GOV.au ")
                .unwrap()
                .as_str(),
            "jo.citizen@agency.gov.au"
        );
        for bad in [
            "",
            "jo",
            "jo@",
            "@agency.gov.au",
            "jo@agency",
            "jo@@agency.gov.au",
            "jo @agency.gov.au",
            "jo@.gov",
            "jo@agency..au",
            "<jo@agency.gov.au>",
            "jo@agency.gov.au>",
            "\"a,b\"@agency.gov.au",
            "jo@agency.gov.au\u{200B}",
            "jo\u{a0}@agency.gov.au",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn abbreviations_are_short_capitals() {
        assert_eq!(Abbreviation::parse(" dta ").unwrap().as_str(), "DTA");
        assert_eq!(
            Abbreviation::parse("home-affairs").unwrap().as_str(),
            "HOME-AFFAIRS"
        );
        for bad in ["D", "", "DTA!", "A VERY LONG NAME", "ABCDEFGHIJKLMNOPQ"] {
            assert!(Abbreviation::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn passwords_follow_the_policy() {
        assert!(Password::parse("correct horse battery", "correct horse battery").is_ok());
        let field = |a: &str, b: &str| match Password::parse(a, b) {
            Err(DomainError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field("short", "short"), "password");
        assert_eq!(field(&"a".repeat(20), &"a".repeat(20)), "password");
        assert_eq!(field(&"ab".repeat(129), &"ab".repeat(129)), "password");
        assert_eq!(field("correct horse battery", "correct horse"), "confirm");
        assert_eq!(
            format!(
                "{:?}",
                Password::parse("correct horse battery", "correct horse battery").unwrap()
            ),
            "Password(…)"
        );
    }

    #[test]
    fn required_fields() {
        let err = NewAgency::parse("  ", "DTA", "Finance", None).unwrap_err();
        assert_eq!(err, DomainError::invalid("name", "is required"));
        assert!(NewPerson::parse("Jo", "jo@x.gov.au").is_ok());
    }
}
