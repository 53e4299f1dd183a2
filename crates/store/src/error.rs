//! Storage errors, each with a message that says what to do.

use waymark_core::DomainError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "“{0}” is not a database URL: use sqlite://FILE (the default is sqlite://waymark.db) or postgres://USER@HOST/DATABASE"
    )]
    BadUrl(String),
    #[error("cannot open the database {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("cannot bring the database schema up to date: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(
        "the database's schema is newer than this program: it was migrated to version {database} by a newer Waymark, and this one knows versions up to {binary}. Run the newer Waymark (migrations only go forward), or restore the backup taken before the upgrade"
    )]
    SchemaAhead { database: i64, binary: i64 },
    #[error(
        "there is no Waymark database at {0}: check --database-url (or database_url in the configuration); `waymark db migrate` makes a new one"
    )]
    NoDatabase(String),
    #[error("{0} already exists: choose a new file (a backup never overwrites one)")]
    Exists(String),
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("{field}: {value} is already taken")]
    Duplicate { field: &'static str, value: String },
    #[error("{what}: {value} does not exist")]
    Missing { what: &'static str, value: String },
    #[error("the self-assessment is not complete: {}", answers_text(.0))]
    Answers(Vec<waymark_core::assessment::AnswerProblem>),
    /// Every problem with what was sent, each naming its field.
    #[error("{}", fields_text(.0))]
    Fields(Vec<DomainError>),
    #[error("no person with id {0}")]
    NoSuchPerson(String),
    #[error("the database holds something unexpected: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database error: {0}")]
    Read(#[from] rusqlite::Error),
}

/// A database URL as it may be shown or logged:
/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`, and a
/// query that names a password (`?password=…`, `sslpassword=…`) is hidden.
pub fn redact(url: &str) -> String {
    // Not a URL (`host=… password=…`): nothing of it can be trusted to show.
    if !url.contains("://") && url.to_ascii_lowercase().contains("pass") {
        return "***".to_string();
    }
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let base = match (base.find("://"), base.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &base[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &base[..s + 3], &base[at..]),
                None => base.to_string(),
            }
        }
        _ => base.to_string(),
    };
    match query {
        // A query may name a password, even percent-encoded (`p%61ssword`).
        Some(q) if q.contains('%') || q.to_ascii_lowercase().contains("pass") => {
            format!("{base}?***")
        }
        Some(q) => format!("{base}?{q}"),
        None => base,
    }
}

fn fields_text(problems: &[DomainError]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn answers_text(problems: &[waymark_core::assessment::AnswerProblem]) -> String {
    problems
        .iter()
        .map(|p| match p.question.as_str() {
            "" => p.message.clone(),
            q => format!("{q}: {}", p.message),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}

impl StoreError {
    pub(crate) fn connect(url: &str, e: sqlx::Error) -> Self {
        let reason = match &e {
            sqlx::Error::Io(io) => format!("{io}"),
            sqlx::Error::Database(d) if d.message().contains("locked") => {
                "the database file is locked by another program".to_string()
            }
            sqlx::Error::Database(d) => d.message().to_string(),
            sqlx::Error::PoolTimedOut => {
                "nothing answered within 5 seconds (is the server running, and the address right?)"
                    .to_string()
            }
            other => other.to_string(),
        };
        StoreError::Connect {
            url: redact(url),
            reason,
        }
    }

    pub(crate) fn unique(e: sqlx::Error, field: &'static str, value: &str) -> Self {
        if is_unique_violation(&e) {
            StoreError::Duplicate {
                field,
                value: value.to_string(),
            }
        } else {
            StoreError::Db(e)
        }
    }

    pub(crate) fn foreign(e: sqlx::Error, what: &'static str, value: &str) -> Self {
        if e.as_database_error()
            .is_some_and(|d| d.is_foreign_key_violation())
        {
            StoreError::Missing {
                what,
                value: value.to_string(),
            }
        } else {
            StoreError::Db(e)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            super::redact("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(super::redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(super::redact("sqlite://x.db"), "sqlite://x.db");
        assert_eq!(
            super::redact("postgres://h/db?sslmode=require&password=pw"),
            "postgres://h/db?***"
        );
        assert_eq!(
            super::redact("sqlite://x.db?mode=rw"),
            "sqlite://x.db?mode=rw"
        );
    }
}
