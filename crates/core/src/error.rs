//! What can go wrong with a command, in words a person can act on. The web
//! layer maps each variant to one HTTP status and a stable code.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The actor may not see this record. Deliberately the same as "there is
    /// no such record", so nobody learns which records exist.
    #[error("no such engagement")]
    NotFound,
    #[error("you may not {action}: {why}")]
    Forbidden {
        action: &'static str,
        why: &'static str,
    },
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("{0}")]
    Rule(String),
    #[error(
        "this engagement changed since you loaded it (you had version {expected}, it is now {actual}); reload and try again"
    )]
    Conflict { expected: u64, actual: u64 },
}

impl DomainError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        DomainError::Invalid {
            field,
            message: message.into(),
        }
    }

    pub fn rule(message: impl Into<String>) -> Self {
        DomainError::Rule(message.into())
    }

    /// A stable snake_case code for API clients.
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::NotFound => "not_found",
            DomainError::Forbidden { .. } => "forbidden",
            DomainError::Invalid { .. } => "invalid",
            DomainError::Rule(_) => "rule_violated",
            DomainError::Conflict { .. } => "conflict",
        }
    }
}
