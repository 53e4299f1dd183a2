//! Personal access tokens for the API: what one may do, how long it lives,
//! how often its use is written down, and who may see and end it.

use serde::{Deserialize, Serialize};

use crate::{Actor, DomainError, PersonId, Timestamp, check_line};

/// What a token may do: read only, or read and write. A read-only token
/// is refused on every request that could change anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TokenScope {
    Read,
    ReadWrite,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Read => "read",
            TokenScope::ReadWrite => "read_write",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        match raw.trim() {
            "read" => Ok(TokenScope::Read),
            "read_write" => Ok(TokenScope::ReadWrite),
            _ => Err(DomainError::invalid(
                "scope",
                "choose read (it can only look) or read_write",
            )),
        }
    }

    /// Whether a request that `writes` may be made with this token.
    pub fn permits(self, writes: bool) -> Result<(), DomainError> {
        if writes && self == TokenScope::Read {
            Err(DomainError::Forbidden {
                action: "change anything with this token",
                why: "it is a read-only token; make one that may read and write",
            })
        } else {
            Ok(())
        }
    }
}

/// The longest a token's name may be.
pub const TOKEN_NAME_MAX: usize = 80;
/// The longest a token may live, in days (a year and a day).
pub const TOKEN_DAYS_MAX: i64 = 366;
/// A token's last use is written at most once in this many seconds.
pub const LAST_USE_EVERY: i64 = 60;

/// A token to make: its name, scope and end, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub name: String,
    pub scope: TokenScope,
    /// When it stops working; never, when `None`.
    pub expires: Option<Timestamp>,
}

impl NewToken {
    /// From what a person typed: a name, a scope (`read` or `read_write`)
    /// and the days it lives (blank for no end). Every problem at once.
    pub fn parse(
        name: &str,
        scope: &str,
        days: &str,
        now: Timestamp,
    ) -> Result<Self, Vec<DomainError>> {
        let mut problems = Vec::new();
        let name = match check_line("name", name, TOKEN_NAME_MAX) {
            Ok(n) if n.is_empty() => {
                problems.push(DomainError::invalid(
                    "name",
                    "give the token a name, such as “Power BI refresh”",
                ));
                String::new()
            }
            Ok(n) => n,
            Err(e) => {
                problems.push(e);
                String::new()
            }
        };
        let scope = TokenScope::parse(scope).unwrap_or_else(|e| {
            problems.push(e);
            TokenScope::Read
        });
        let expires = match days.trim() {
            "" => None,
            d => match d.parse::<i64>() {
                Ok(n) if (1..=TOKEN_DAYS_MAX).contains(&n) => Some(Timestamp(now.0 + n * 86_400)),
                _ => {
                    problems.push(DomainError::invalid(
                        "expires_in_days",
                        format!("give a whole number of days from 1 to {TOKEN_DAYS_MAX}, or leave it blank for no end"),
                    ));
                    None
                }
            },
        };
        if problems.is_empty() {
            Ok(NewToken {
                name,
                scope,
                expires,
            })
        } else {
            Err(problems)
        }
    }
}

/// Whether a token last used at `last` should have its use written now.
pub fn last_use_due(last: Option<Timestamp>, now: Timestamp) -> bool {
    last.is_none_or(|t| now.0 - t.0 >= LAST_USE_EVERY)
}

/// Whether `actor` may see and end `owner`'s tokens: their own, or anyone's
/// for a programme admin.
pub fn may_manage_tokens_of(actor: &Actor, owner: PersonId) -> Result<(), DomainError> {
    if actor.person == owner {
        return Ok(());
    }
    actor
        .may_manage_people()
        .map_err(|_| DomainError::Forbidden {
            action: "see or end another person's tokens",
            why: "only programme admins manage other people's tokens",
        })
}

/// Whether `actor` may make a token for `owner`: only for themself (a
/// token acts as its owner, so nobody mints one that acts as another).
pub fn may_create_token_for(actor: &Actor, owner: PersonId) -> Result<(), DomainError> {
    if actor.person == owner {
        Ok(())
    } else {
        Err(DomainError::Forbidden {
            action: "make a token for another person",
            why: "a token acts as its owner; each person makes their own",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Role;

    const NOW: Timestamp = Timestamp(1_800_000_000);

    #[test]
    fn a_read_only_token_is_refused_on_writes_only() {
        assert!(TokenScope::Read.permits(false).is_ok());
        assert!(matches!(
            TokenScope::Read.permits(true),
            Err(DomainError::Forbidden { .. })
        ));
        assert!(TokenScope::ReadWrite.permits(true).is_ok());
    }

    #[test]
    fn a_new_token_is_checked_field_by_field() {
        let t = NewToken::parse(" Power BI ", "read", "30", NOW).unwrap();
        assert_eq!(t.name, "Power BI");
        assert_eq!(t.scope, TokenScope::Read);
        assert_eq!(t.expires, Some(Timestamp(NOW.0 + 30 * 86_400)));
        let t = NewToken::parse("CI", "read_write", "", NOW).unwrap();
        assert_eq!((t.scope, t.expires), (TokenScope::ReadWrite, None));
        // A form that says nothing gets no token that writes.
        assert!(NewToken::parse("CI", "", "", NOW).is_err());
        let problems = NewToken::parse("", "admin", "0", NOW).unwrap_err();
        let fields: Vec<_> = problems
            .iter()
            .map(|p| match p {
                DomainError::Invalid { field, .. } => *field,
                _ => "",
            })
            .collect();
        assert_eq!(fields, ["name", "scope", "expires_in_days"]);
        assert!(NewToken::parse("x\r\nBcc: a@b", "read", "", NOW).is_err());
        assert!(NewToken::parse(&"x".repeat(81), "read", "", NOW).is_err());
        assert!(NewToken::parse("x", "read", "367", NOW).is_err());
        assert!(NewToken::parse("x", "read", "2.5", NOW).is_err());
    }

    #[test]
    fn last_use_is_written_once_a_minute() {
        assert!(last_use_due(None, NOW));
        assert!(!last_use_due(Some(Timestamp(NOW.0 - 59)), NOW));
        assert!(last_use_due(Some(Timestamp(NOW.0 - 60)), NOW));
    }

    #[test]
    fn only_the_owner_or_an_admin_manages_tokens() {
        let me = Actor {
            person: PersonId(1),
            roles: vec![Role::ProgrammeStaff],
        };
        assert!(may_manage_tokens_of(&me, PersonId(1)).is_ok());
        assert!(may_manage_tokens_of(&me, PersonId(2)).is_err());
        let admin = Actor {
            person: PersonId(3),
            roles: vec![Role::ProgrammeAdmin],
        };
        assert!(may_manage_tokens_of(&admin, PersonId(2)).is_ok());
        assert!(may_create_token_for(&admin, PersonId(2)).is_err());
        assert!(may_create_token_for(&me, PersonId(1)).is_ok());
    }
}
