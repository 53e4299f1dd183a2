//! Export, import and backup.
//!
//! The export is every row of every table, as JSON (format documented in
//! docs/export-format.md). Rows keep their ids and hashes, so an imported
//! database verifies exactly like the original: this is how data moves
//! between SQLite and PostgreSQL.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::{Backend, Store, StoreError};

pub const FORMAT: &str = "waymark-export";
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Export {
    pub format: String,
    pub version: u32,
    pub agencies: Vec<AgencyRow>,
    pub people: Vec<PersonRow>,
    pub memberships: Vec<MembershipRow>,
    pub models: Vec<ModelRow>,
    pub engagements: Vec<EngagementRow>,
    pub events: Vec<EventRow>,
    /// API tokens, as their hashes (the tokens themselves are never stored).
    #[serde(default)]
    pub tokens: Vec<TokenRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRow {
    pub hash: String,
    pub person_id: i64,
    pub name: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgencyRow {
    pub id: i64,
    pub name: String,
    pub abbreviation: String,
    pub portfolio: String,
    pub agency_type: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRow {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub created_at: i64,
    /// argon2id PHC string; absent until the person sets a password.
    #[serde(default)]
    pub password_hash: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembershipRow {
    pub person_id: i64,
    /// JSON of a role.
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelRow {
    pub hash: String,
    /// JSON list of `{name, text}` pages.
    pub pages: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngagementRow {
    pub id: i64,
    pub agency_id: i64,
    pub model_hash: String,
    /// JSON of the engagement's state.
    pub state: String,
    pub version: i64,
    pub event_count: i64,
    pub head_hash: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRow {
    pub engagement_id: i64,
    pub seq: i64,
    pub actor_id: i64,
    pub at: i64,
    pub command: String,
    /// JSON of the event.
    pub payload: String,
    pub prev_hash: String,
    pub hash: String,
}

impl Store {
    /// Every row, in a consistent snapshot (one read transaction).
    pub async fn export(&self) -> Result<Export, StoreError> {
        let mut tx = self.pool.begin().await?;
        let agencies = sqlx::query("SELECT id, name, abbreviation, portfolio, agency_type, created_at FROM agencies ORDER BY id")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| {
                Ok(AgencyRow {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    abbreviation: r.try_get(2)?,
                    portfolio: r.try_get(3)?,
                    agency_type: r.try_get(4)?,
                    created_at: r.try_get(5)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        let people = sqlx::query(
            "SELECT id, name, email, created_at, password_hash FROM people ORDER BY id",
        )
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| {
            Ok(PersonRow {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
                email: r.try_get(2)?,
                created_at: r.try_get(3)?,
                password_hash: r.try_get(4)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
        let memberships =
            sqlx::query("SELECT person_id, role FROM memberships ORDER BY person_id, role")
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| {
                    Ok(MembershipRow {
                        person_id: r.try_get(0)?,
                        role: r.try_get(1)?,
                    })
                })
                .collect::<Result<_, sqlx::Error>>()?;
        let models = sqlx::query("SELECT hash, pages, created_at FROM models ORDER BY hash")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| {
                Ok(ModelRow {
                    hash: r.try_get(0)?,
                    pages: r.try_get(1)?,
                    created_at: r.try_get(2)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        let engagements = sqlx::query(
            "SELECT id, agency_id, model_hash, state, version, event_count, head_hash, created_at, updated_at FROM engagements ORDER BY id",
        )
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| {
            Ok(EngagementRow {
                id: r.try_get(0)?,
                agency_id: r.try_get(1)?,
                model_hash: r.try_get(2)?,
                state: r.try_get(3)?,
                version: r.try_get(4)?,
                event_count: r.try_get(5)?,
                head_hash: r.try_get(6)?,
                created_at: r.try_get(7)?,
                updated_at: r.try_get(8)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
        let events = sqlx::query(
            "SELECT engagement_id, seq, actor_id, at, command, payload, prev_hash, hash FROM events ORDER BY engagement_id, seq",
        )
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| {
            Ok(EventRow {
                engagement_id: r.try_get(0)?,
                seq: r.try_get(1)?,
                actor_id: r.try_get(2)?,
                at: r.try_get(3)?,
                command: r.try_get(4)?,
                payload: r.try_get(5)?,
                prev_hash: r.try_get(6)?,
                hash: r.try_get(7)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
        let tokens =
            sqlx::query("SELECT hash, person_id, name, created_at FROM tokens ORDER BY hash")
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| {
                    Ok(TokenRow {
                        hash: r.try_get(0)?,
                        person_id: r.try_get(1)?,
                        name: r.try_get(2)?,
                        created_at: r.try_get(3)?,
                    })
                })
                .collect::<Result<_, sqlx::Error>>()?;
        tx.commit().await?;
        Ok(Export {
            tokens,
            format: FORMAT.to_string(),
            version: FORMAT_VERSION,
            agencies,
            people,
            memberships,
            models,
            engagements,
            events,
        })
    }

    /// Loads an export into this database, which must be empty. All or
    /// nothing: on any error nothing is kept.
    pub async fn import(&self, x: &Export) -> Result<(), StoreError> {
        if x.format != FORMAT || x.version != FORMAT_VERSION {
            return Err(StoreError::Corrupt(format!(
                "this is not a Waymark export this version reads (format {:?} version {}; expected {FORMAT:?} version {FORMAT_VERSION})",
                x.format, x.version
            )));
        }
        let mut tx = self.pool.begin().await?;
        ensure_empty(&mut tx, "import").await?;
        for a in &x.agencies {
            sqlx::query("INSERT INTO agencies (id, name, abbreviation, portfolio, agency_type, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(a.id)
                .bind(&a.name)
                .bind(&a.abbreviation)
                .bind(&a.portfolio)
                .bind(&a.agency_type)
                .bind(a.created_at)
                .execute(&mut *tx)
                .await?;
        }
        for p in &x.people {
            sqlx::query("INSERT INTO people (id, name, email, created_at, password_hash) VALUES ($1, $2, $3, $4, $5)")
                .bind(p.id)
                .bind(&p.name)
                .bind(&p.email)
                .bind(p.created_at)
                .bind(&p.password_hash)
                .execute(&mut *tx)
                .await?;
        }
        for m in &x.memberships {
            sqlx::query("INSERT INTO memberships (person_id, role) VALUES ($1, $2)")
                .bind(m.person_id)
                .bind(&m.role)
                .execute(&mut *tx)
                .await?;
        }
        for m in &x.models {
            sqlx::query("INSERT INTO models (hash, pages, created_at) VALUES ($1, $2, $3)")
                .bind(&m.hash)
                .bind(&m.pages)
                .bind(m.created_at)
                .execute(&mut *tx)
                .await?;
        }
        for e in &x.engagements {
            sqlx::query(
                "INSERT INTO engagements (id, agency_id, model_hash, state, version, event_count, head_hash, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(e.id)
            .bind(e.agency_id)
            .bind(&e.model_hash)
            .bind(&e.state)
            .bind(e.version)
            .bind(e.event_count)
            .bind(&e.head_hash)
            .bind(e.created_at)
            .bind(e.updated_at)
            .execute(&mut *tx)
            .await?;
        }
        for v in &x.events {
            sqlx::query(
                "INSERT INTO events (engagement_id, seq, actor_id, at, command, payload, prev_hash, hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(v.engagement_id)
            .bind(v.seq)
            .bind(v.actor_id)
            .bind(v.at)
            .bind(&v.command)
            .bind(&v.payload)
            .bind(&v.prev_hash)
            .bind(&v.hash)
            .execute(&mut *tx)
            .await?;
        }
        for t in &x.tokens {
            sqlx::query(
                "INSERT INTO tokens (hash, person_id, name, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(&t.hash)
            .bind(t.person_id)
            .bind(&t.name)
            .bind(t.created_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.reset_sequences().await?;
        self.recount().await?;
        // Summaries and assignments are derived from state, not exported.
        self.refresh_derived().await
    }

    /// Fails unless the database holds no records (for generating).
    pub(crate) async fn require_empty(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        ensure_empty(&mut tx, "generate records").await
    }

    /// After rows went in with explicit ids: PostgreSQL's identity
    /// sequences do not move by themselves (SQLite's AUTOINCREMENT does).
    pub(crate) async fn reset_sequences(&self) -> Result<(), StoreError> {
        if self.backend == Backend::Postgres {
            for table in ["agencies", "people", "engagements"] {
                sqlx::query(&format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                ))
                .fetch_one(&self.pool)
                .await?;
            }
        }
        Ok(())
    }

    /// A consistent copy while the server runs: `VACUUM INTO` a new SQLite
    /// file, or (PostgreSQL) the JSON export written to `path`.
    pub async fn backup(&self, path: &std::path::Path) -> Result<(), StoreError> {
        if path.exists() {
            return Err(StoreError::Corrupt(format!(
                "{} already exists; choose a new file",
                path.display()
            )));
        }
        match self.backend {
            Backend::Sqlite => {
                let p = path.to_string_lossy().replace('\'', "''");
                sqlx::query(&format!("VACUUM INTO '{p}'"))
                    .execute(&self.pool)
                    .await?;
            }
            Backend::Postgres => {
                let x = self.export().await?;
                let text = serde_json::to_vec_pretty(&x)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                std::fs::write(path, text).map_err(|e| {
                    StoreError::Corrupt(format!("cannot write {}: {e}", path.display()))
                })?;
            }
        }
        Ok(())
    }
}

async fn ensure_empty(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    doing: &str,
) -> Result<(), StoreError> {
    for table in ["agencies", "people", "models", "engagements"] {
        let n: i64 = sqlx::query(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&mut **tx)
            .await?
            .try_get(0)?;
        if n > 0 {
            return Err(StoreError::Corrupt(format!(
                "the database already holds {table}; {doing} only into an empty database"
            )));
        }
    }
    Ok(())
}
