//! Waymark's storage.
//!
//! Owns: the database (a SQLite file by default, PostgreSQL when several
//! instances share one), its migrations, and the audit chain. Every change
//! to an engagement runs as one transaction: lock the row, check the version
//! the caller saw, let `waymark_core::decide` judge the command, append the
//! events to the hash chain, save the new state.
//!
//! Must not touch: the rules themselves (waymark-core) or HTTP.
//!
//! One SQL codebase serves both backends through sqlx's `Any` driver, with
//! portable SQL and `$1` placeholders; only the migrations differ (identity
//! columns), in two folders with the same version numbers.

mod chain;
mod error;
mod export;
#[cfg(feature = "test-support")]
pub mod testing;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Row};
use waymark_core::{
    Actor, AgencyId, DomainError, Engagement, EngagementId, Event, Mode, NewAgency, NewPerson,
    PersonId, Role, Timestamp,
};
use waymark_model::{Model, SourceFile};

pub use chain::{Broken, Verification};
pub use error::StoreError;
pub use export::{Export, FORMAT, FORMAT_VERSION};

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// An event as stored: who, when, which command, and its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEvent {
    pub engagement: EngagementId,
    pub seq: i64,
    pub actor: PersonId,
    pub at: Timestamp,
    pub command: String,
    pub event: Event,
    pub hash: String,
}

/// A handle on the database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Pinned models, parsed once per hash.
    models: Arc<Mutex<HashMap<String, Arc<Model>>>>,
}

impl Store {
    /// Connects to `url` (`sqlite://file.db`, `postgres://…`), creating a
    /// SQLite file if missing, and brings the schema up to date.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::BadUrl(url.to_string()));
        };
        let mut url = url.to_string();
        if backend == Backend::Sqlite && !url.contains("mode=") && !url.contains(":memory:") {
            url.push_str(if url.contains('?') {
                "&mode=rwc"
            } else {
                "?mode=rwc"
            });
        }
        let opts: AnyConnectOptions = url.parse().map_err(|_| StoreError::BadUrl(url.clone()))?;
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 8 })
            .acquire_timeout(std::time::Duration::from_secs(5))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers and one writer work at once; the
                        // busy timeout makes writers wait their turn.
                        for pragma in [
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA busy_timeout = 5000",
                            "PRAGMA foreign_keys = ON",
                            "PRAGMA synchronous = FULL",
                        ] {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(opts)
            .await
            .map_err(|e| StoreError::connect(&url, e))?;
        let store = Store {
            pool,
            backend,
            models: Arc::default(),
        };
        store.migrate().await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        let m = match self.backend {
            Backend::Sqlite => &SQLITE,
            Backend::Postgres => &POSTGRES,
        };
        m.run(&self.pool).await.map_err(StoreError::Migrate)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub async fn add_agency(&self, a: &NewAgency, now: Timestamp) -> Result<AgencyId, StoreError> {
        let kind = a.agency_type.map(|t| json(&t)).transpose()?;
        let row = sqlx::query(
            "INSERT INTO agencies (name, abbreviation, portfolio, agency_type, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(&a.name)
        .bind(a.abbreviation.as_str())
        .bind(&a.portfolio)
        .bind(kind)
        .bind(now.0)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| StoreError::unique(e, "abbreviation", a.abbreviation.as_str()))?;
        Ok(AgencyId(row.try_get(0)?))
    }

    pub async fn add_person(&self, p: &NewPerson, now: Timestamp) -> Result<PersonId, StoreError> {
        let row = sqlx::query(
            "INSERT INTO people (name, email, created_at) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(&p.name)
        .bind(p.email.as_str())
        .bind(now.0)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| StoreError::unique(e, "email", p.email.as_str()))?;
        Ok(PersonId(row.try_get(0)?))
    }

    pub async fn add_role(&self, person: PersonId, role: Role) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO memberships (person_id, role) VALUES ($1, $2)")
            .bind(person.0)
            .bind(json(&role)?)
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::unique(e, "role", "this role"))?;
        Ok(())
    }

    /// The person with this email (any case), if there is one.
    pub async fn person_by_email(
        &self,
        email: &waymark_core::Email,
    ) -> Result<Option<PersonId>, StoreError> {
        let row = sqlx::query("SELECT id FROM people WHERE email = $1")
            .bind(email.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?.map(PersonId))
    }

    /// An agency's id from its abbreviation (any case).
    pub async fn agency_by_abbreviation(
        &self,
        abbreviation: &waymark_core::Abbreviation,
    ) -> Result<Option<AgencyId>, StoreError> {
        let row = sqlx::query("SELECT id FROM agencies WHERE abbreviation = $1")
            .bind(abbreviation.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?.map(AgencyId))
    }

    /// Creates a personal access token for `person` and returns it. Only
    /// its hash is stored, so this is the one time it can be seen.
    pub async fn create_token(
        &self,
        person: PersonId,
        name: &str,
        now: Timestamp,
    ) -> Result<String, StoreError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|e| StoreError::Corrupt(format!("no randomness available: {e}")))?;
        let token = format!("wmk_{}", chain::hex(&bytes));
        sqlx::query(
            "INSERT INTO tokens (hash, person_id, name, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(chain::sha256(&token))
        .bind(person.0)
        .bind(name)
        .bind(now.0)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::foreign(e, "person", &person.to_string()))?;
        Ok(token)
    }

    /// The actor a token belongs to, if it is a valid token.
    pub async fn actor_for_token(&self, token: &str) -> Result<Option<Actor>, StoreError> {
        let row = sqlx::query("SELECT person_id FROM tokens WHERE hash = $1")
            .bind(chain::sha256(token.trim()))
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => Ok(Some(self.actor(PersonId(r.try_get(0)?)).await?)),
            None => Ok(None),
        }
    }

    /// The person with all their roles.
    pub async fn actor(&self, person: PersonId) -> Result<Actor, StoreError> {
        let exists = sqlx::query("SELECT id FROM people WHERE id = $1")
            .bind(person.0)
            .fetch_optional(&self.pool)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NoSuchPerson(person.to_string()));
        }
        let rows = sqlx::query("SELECT role FROM memberships WHERE person_id = $1 ORDER BY role")
            .bind(person.0)
            .fetch_all(&self.pool)
            .await?;
        let roles = rows
            .iter()
            .map(|r| unjson::<Role>(&r.try_get::<String, _>(0)?))
            .collect::<Result<_, _>>()?;
        Ok(Actor { person, roles })
    }

    /// Stores a model version (if new) and returns its hash.
    pub async fn pin_model(
        &self,
        pages: &[SourceFile],
        now: Timestamp,
    ) -> Result<String, StoreError> {
        let (hash, text) = chain::model_fingerprint(pages)?;
        let found = sqlx::query("SELECT hash FROM models WHERE hash = $1")
            .bind(&hash)
            .fetch_optional(&self.pool)
            .await?;
        if found.is_none() {
            let inserted =
                sqlx::query("INSERT INTO models (hash, pages, created_at) VALUES ($1, $2, $3)")
                    .bind(&hash)
                    .bind(text)
                    .bind(now.0)
                    .execute(&self.pool)
                    .await;
            // Another instance may have pinned the same model meanwhile.
            if let Err(e) = inserted
                && !error::is_unique_violation(&e)
            {
                return Err(e.into());
            }
        }
        Ok(hash)
    }

    /// The parsed model for a pinned hash.
    pub async fn model(&self, hash: &str) -> Result<Arc<Model>, StoreError> {
        if let Some(m) = self.models.lock().ok().and_then(|m| m.get(hash).cloned()) {
            return Ok(m);
        }
        let row = sqlx::query("SELECT pages FROM models WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("the pinned model {hash} is missing")))?;
        let pages: Vec<SourceFile> = chain::pages_from_json(&row.try_get::<String, _>(0)?)?;
        let model = Arc::new(waymark_model::build(pages).model);
        if let Ok(mut m) = self.models.lock() {
            m.insert(hash.to_string(), Arc::clone(&model));
        }
        Ok(model)
    }

    /// Starts an engagement for `agency` on the pinned model `model_hash`.
    pub async fn start_engagement(
        &self,
        actor: &Actor,
        agency: AgencyId,
        mode: Mode,
        model_hash: &str,
        now: Timestamp,
    ) -> Result<Engagement, StoreError> {
        let model = self.model(model_hash).await?;
        let events = waymark_core::start(&model, model_hash, agency, actor, mode)?;
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "INSERT INTO engagements (agency_id, model_hash, state, version, event_count, head_hash, created_at, updated_at) \
             VALUES ($1, $2, '{}', 0, 0, '', $3, $3) RETURNING id",
        )
        .bind(agency.0)
        .bind(model_hash)
        .bind(now.0)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| StoreError::foreign(e, "agency", &agency.to_string()))?;
        let id = EngagementId(row.try_get(0)?);
        let mut e = Engagement::new(id, agency);
        let head =
            chain::append(&mut tx, &mut e, &events, actor.person, now, "start", 0, "").await?;
        e.version = 1;
        sqlx::query("UPDATE engagements SET state = $1, version = 1, event_count = $2, head_hash = $3 WHERE id = $4")
            .bind(json(&e)?)
            .bind(head.0)
            .bind(&head.1)
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(e)
    }

    /// An engagement, if `actor` may see it.
    pub async fn engagement(
        &self,
        actor: &Actor,
        id: EngagementId,
    ) -> Result<Engagement, StoreError> {
        let row = sqlx::query("SELECT state FROM engagements WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::Domain(DomainError::NotFound))?;
        let e: Engagement = unjson(&row.try_get::<String, _>(0)?)?;
        if actor.access(&e) == waymark_core::Access::None {
            return Err(StoreError::Domain(DomainError::NotFound));
        }
        Ok(e)
    }

    /// The engagements `actor` may see, newest first.
    pub async fn engagements(&self, actor: &Actor) -> Result<Vec<Engagement>, StoreError> {
        let rows = sqlx::query("SELECT state FROM engagements ORDER BY id DESC")
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::new();
        for r in rows {
            let e: Engagement = unjson(&r.try_get::<String, _>(0)?)?;
            if actor.access(&e) != waymark_core::Access::None {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// Runs one command: the whole change commits, or none of it does. A
    /// caller that saw an older `expected_version` gets a conflict.
    pub async fn execute(
        &self,
        actor: &Actor,
        id: EngagementId,
        expected_version: u64,
        cmd: &waymark_core::Command,
        now: Timestamp,
    ) -> Result<Engagement, StoreError> {
        let mut tx = self.pool.begin().await?;
        // A no-op write takes the row's write lock first (a row lock on
        // PostgreSQL, the database's write lock on SQLite), so concurrent
        // commands on one engagement queue instead of racing.
        let locked = sqlx::query("UPDATE engagements SET version = version WHERE id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        if locked.rows_affected() == 0 {
            return Err(StoreError::Domain(DomainError::NotFound));
        }
        let row = sqlx::query("SELECT state, version, event_count, head_hash, model_hash FROM engagements WHERE id = $1")
            .bind(id.0)
            .fetch_one(&mut *tx)
            .await?;
        let mut e: Engagement = unjson(&row.try_get::<String, _>(0)?)?;
        let version: i64 = row.try_get(1)?;
        let count: i64 = row.try_get(2)?;
        let head: String = row.try_get(3)?;
        let model_hash: String = row.try_get(4)?;
        if actor.access(&e) == waymark_core::Access::None {
            return Err(StoreError::Domain(DomainError::NotFound));
        }
        if version as u64 != expected_version {
            return Err(StoreError::Domain(DomainError::Conflict {
                expected: expected_version,
                actual: version as u64,
            }));
        }
        let model = self.model(&model_hash).await?;
        let events = waymark_core::decide(&model, &e, actor, cmd)?;
        let (count, head) = chain::append(
            &mut tx,
            &mut e,
            &events,
            actor.person,
            now,
            cmd.name(),
            count,
            &head,
        )
        .await?;
        e.version = version as u64 + 1;
        let saved = sqlx::query(
            "UPDATE engagements SET state = $1, version = $2, event_count = $3, head_hash = $4, updated_at = $5 \
             WHERE id = $6 AND version = $7",
        )
        .bind(json(&e)?)
        .bind(e.version as i64)
        .bind(count)
        .bind(&head)
        .bind(now.0)
        .bind(id.0)
        .bind(version)
        .execute(&mut *tx)
        .await?;
        if saved.rows_affected() != 1 {
            return Err(StoreError::Domain(DomainError::Conflict {
                expected: expected_version,
                actual: expected_version + 1,
            }));
        }
        tx.commit().await?;
        Ok(e)
    }

    /// The engagement's history, oldest first, if `actor` may see it.
    pub async fn history(
        &self,
        actor: &Actor,
        id: EngagementId,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.engagement(actor, id).await?;
        chain::events(&self.pool, id).await
    }

    /// Recomputes every engagement's chain.
    pub async fn verify(&self) -> Result<Verification, StoreError> {
        chain::verify(&self.pool).await
    }

    /// For tests and operators: the raw pool.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

pub(crate) fn json<T: Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(format!("cannot encode: {e}")))
}

pub(crate) fn unjson<T: for<'de> Deserialize<'de>>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s)
        .map_err(|e| StoreError::Corrupt(format!("cannot decode a stored record: {e}")))
}
