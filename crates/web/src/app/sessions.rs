//! tower-sessions records kept in Waymark's own database (SQLite or
//! PostgreSQL, through the store), so every `waymark serve` instance sees
//! every session and a restart signs nobody out.
//!
//! Hand-written rather than tower-sessions-sqlx-store because that crate
//! wants a backend-specific pool, while the store speaks to both backends
//! through one `AnyPool` and one SQL codebase.

use async_trait::async_trait;
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use waymark_core::Timestamp;
use waymark_store::Store;

#[derive(Debug, Clone)]
pub struct DbSessions(pub Store);

fn backend(e: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

/// Whose session this is, once they have signed in (`auth`'s "person").
fn person_of(r: &Record) -> Option<waymark_core::PersonId> {
    r.data
        .get("person")
        .and_then(serde_json::Value::as_i64)
        .map(waymark_core::PersonId)
}

fn encode(r: &Record) -> session_store::Result<String> {
    serde_json::to_string(&r.data).map_err(|e| session_store::Error::Encode(e.to_string()))
}

#[async_trait]
impl SessionStore for DbSessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let data = encode(record)?;
        let expires = Timestamp(record.expiry_date.unix_timestamp());
        // A fresh random id almost never collides; if it does, draw again.
        while !self
            .0
            .create_session(&record.id.to_string(), &data, expires, person_of(record))
            .await
            .map_err(backend)?
        {
            record.id = Id::default();
        }
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.0
            .save_session(
                &record.id.to_string(),
                &encode(record)?,
                Timestamp(record.expiry_date.unix_timestamp()),
                person_of(record),
            )
            .await
            .map_err(backend)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let Some((data, expires)) = self
            .0
            .session(&id.to_string(), Timestamp(now))
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        let data =
            serde_json::from_str(&data).map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let expiry_date = OffsetDateTime::from_unix_timestamp(expires.0)
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        Ok(Some(Record {
            id: *id,
            data,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.0
            .delete_session(&id.to_string())
            .await
            .map_err(backend)
    }
}
