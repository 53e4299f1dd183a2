//! Waymark's storage.
//!
//! Owns: the database (a SQLite file by default, PostgreSQL when several
//! instances share one), its migrations, and the audit chain, which binds
//! letters' and files' bytes and enquiries' content by hash. Every change to
//! an engagement runs in one transaction: check the version the caller saw,
//! load the people the command names, let `waymark_core::decide` judge it,
//! append the events to the hash chain, save the new state. On SQLite,
//! commands queued together share one transaction and one fsync (`batch`).
//!
//! Must not touch: the rules themselves (waymark-core) or HTTP.
//!
//! One SQL codebase serves both backends through sqlx's `Any` driver, with
//! portable SQL and `$1` placeholders; only the migrations differ (identity
//! columns), in two folders with the same version numbers.

mod auth;
mod batch;
mod chain;
mod error;
mod export;
pub mod generate;
mod intake;
mod outbox;
mod records;
#[cfg(feature = "test-support")]
pub mod testing;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Row};
use waymark_core::{
    Abbreviation, Actor, Agency, AgencyId, DomainError, Email, Engagement, EngagementId, Event,
    Mode, NewAgency, NewPerson, Person, PersonId, Role, Summary, Timestamp,
};
use waymark_model::{Model, SourceFile};

pub use auth::{Invite, random_token};
pub use chain::{Broken, Verification};
pub use error::StoreError;
pub use export::{Export, FORMAT, FORMAT_VERSION};
pub use intake::{
    BrokenEnquiry, Enquiry, EnquiryEvent, EnquiryStatus, ImportOutcome, NewEnquiry, Triage,
};
pub use outbox::{Mail, OutboxEntry};
pub(crate) use records::Extra;
pub use records::{
    Altered, FileRow, LetterRow, MAX_FILE_BYTES, NewFile, NewLetter, Notify, StoredTemplate,
    accepted_extensions, classify, clean_name,
};

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// An event as stored: who, when, which command, and its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// Where new files' bytes go; `None` keeps them in the database.
    files_dir: Option<Arc<std::path::PathBuf>>,
    /// Pinned models, parsed once per hash.
    models: Arc<Mutex<HashMap<String, Arc<Model>>>>,
    /// SQLite allows one writer at a time, and a writer that finds the
    /// lock taken sleeps in growing steps (up to 100 ms) before it tries
    /// again. Queueing this process's writers here instead hands the lock
    /// straight from one to the next. (`busy_timeout` still covers other
    /// processes; several servers belong on PostgreSQL.)
    writer: Arc<tokio::sync::Mutex<()>>,
    /// Commands waiting for the writer, run together (`batch`).
    queue: Arc<batch::Queue>,
    /// Each engagement's pinned model hash, once read (it never changes).
    pinned: Arc<Mutex<HashMap<EngagementId, String>>>,
    /// SQLite: WAL checkpoints run in a task of their own
    /// ([`Store::checkpoint_in_background`]), not in a committing request.
    background_checkpoints: Arc<std::sync::atomic::AtomicBool>,
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
        let background_checkpoints = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let in_background = Arc::clone(&background_checkpoints);
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 8 })
            .acquire_timeout(std::time::Duration::from_secs(5))
            .after_connect(move |conn, _| {
                let in_background = in_background.load(std::sync::atomic::Ordering::Relaxed);
                Box::pin(async move {
                    if backend == Backend::Sqlite && in_background {
                        sqlx::query("PRAGMA wal_autocheckpoint = 0")
                            .execute(&mut *conn)
                            .await?;
                    }
                    if backend == Backend::Sqlite {
                        // WAL lets readers and one writer work at once; the
                        // busy timeout makes writers wait their turn.
                        for pragma in [
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA busy_timeout = 5000",
                            "PRAGMA foreign_keys = ON",
                            "PRAGMA synchronous = FULL",
                            // The WAL is reused from its start after each
                            // checkpoint; past a burst, it is cut back to
                            // 64 MB instead of keeping its largest size.
                            "PRAGMA journal_size_limit = 67108864",
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
            files_dir: None,
            models: Arc::default(),
            writer: Arc::default(),
            queue: Arc::default(),
            pinned: Arc::default(),
            background_checkpoints,
        };
        store.migrate().await?;
        store.refresh_derived().await?;
        Ok(store)
    }

    /// On SQLite, this process's turn to write; on PostgreSQL, nothing
    /// (row locks let writers of different engagements run at once).
    async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.backend {
            Backend::Sqlite => Some(self.writer.lock().await),
            Backend::Postgres => None,
        }
    }

    /// Keeps new files' bytes in `dir` (created if missing) rather than in
    /// the database. Files already stored stay where they are; every
    /// instance must see the same directory.
    pub fn with_files_dir(mut self, dir: &std::path::Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Corrupt(format!("cannot use {} for files: {e}", dir.display()))
        })?;
        self.files_dir = Some(Arc::new(dir.to_path_buf()));
        Ok(self)
    }

    /// On SQLite, moves WAL checkpoints out of the requests: commits no
    /// longer stop to copy the log into the database when it passes 1,000
    /// pages; the returned task does it every quarter second instead, with
    /// `PASSIVE` checkpoints that wait for no reader or writer. The server
    /// spawns it and runs it for as long as it serves. `None` on PostgreSQL.
    pub async fn checkpoint_in_background(
        &self,
    ) -> Result<Option<impl std::future::Future<Output = ()> + use<>>, StoreError> {
        if self.backend != Backend::Sqlite {
            return Ok(None);
        }
        // New connections start with automatic checkpoints off; the ones
        // already open are switched here, all held at once so each is one.
        self.background_checkpoints
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let mut open = Vec::new();
        for _ in 0..self.pool.size() {
            let mut conn = self.pool.acquire().await?;
            sqlx::query("PRAGMA wal_autocheckpoint = 0")
                .execute(&mut *conn)
                .await?;
            open.push(conn);
        }
        drop(open);
        let pool = self.pool.clone();
        Ok(Some(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .fetch_optional(&pool)
                    .await
                {
                    tracing::warn!(
                        "store: a background WAL checkpoint failed (it will be tried again): {e}"
                    );
                }
            }
        }))
    }

    /// On SQLite, how many write batches this process has committed, and
    /// how many commands they carried (group commit; see `batch`).
    pub fn write_batches(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.queue.batches.load(Relaxed),
            self.queue.commands.load(Relaxed),
        )
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        let m = match self.backend {
            Backend::Sqlite => &SQLITE,
            Backend::Postgres => &POSTGRES,
        };
        m.run(&self.pool).await.map_err(StoreError::Migrate)?;
        // The data step of migration 0010: bind older enquiries' content
        // into their chains, once.
        intake::seal_unsealed(self).await?;
        Ok(())
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
        agency_exists(&self.pool, &role).await?;
        sqlx::query("INSERT INTO memberships (person_id, role) VALUES ($1, $2)")
            .bind(person.0)
            .bind(json(&role)?)
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::unique(e, "role", "this role"))?;
        Ok(())
    }

    /// Adds a person and their roles, all or nothing.
    pub async fn add_person_with_roles(
        &self,
        p: &NewPerson,
        roles: &[Role],
        now: Timestamp,
    ) -> Result<PersonId, StoreError> {
        for role in roles {
            agency_exists(&self.pool, role).await?;
        }
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "INSERT INTO people (name, email, created_at) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(&p.name)
        .bind(p.email.as_str())
        .bind(now.0)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| StoreError::unique(e, "email", p.email.as_str()))?;
        let id = PersonId(row.try_get(0)?);
        for role in roles {
            sqlx::query("INSERT INTO memberships (person_id, role) VALUES ($1, $2)")
                .bind(id.0)
                .bind(json(role)?)
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::unique(e, "role", "this role"))?;
        }
        tx.commit().await?;
        Ok(id)
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
        let token = format!("wmk_{}", auth::random_token()?);
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

    /// The actor a token belongs to, if it is a valid token (one query:
    /// every API request asks this).
    pub async fn actor_for_token(&self, token: &str) -> Result<Option<Actor>, StoreError> {
        let rows = sqlx::query(
            "SELECT t.person_id, m.role FROM tokens t LEFT JOIN memberships m ON m.person_id = t.person_id \
             WHERE t.hash = $1 ORDER BY m.role",
        )
        .bind(chain::sha256(token.trim()))
        .fetch_all(&self.pool)
        .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let person = PersonId(first.try_get(0)?);
        let mut roles = Vec::with_capacity(rows.len());
        for r in &rows {
            if let Some(role) = r.try_get::<Option<String>, _>(1)? {
                roles.push(unjson(&role)?);
            }
        }
        Ok(Some(Actor { person, roles }))
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
        let _turn = self.write_turn().await;
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
        sqlx::query("UPDATE engagements SET state = $1, summary = $2, version = 1, event_count = $3, head_hash = $4 WHERE id = $5")
            .bind(json(&e)?)
            .bind(json(&e.summary())?)
            .bind(head.0)
            .bind(&head.1)
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        save_index(&mut tx, &e).await?;
        sqlx::query(
            "INSERT INTO agency_engagements (agency_id, n) VALUES ($1, 1) \
             ON CONFLICT (agency_id) DO UPDATE SET n = agency_engagements.n + 1",
        )
        .bind(agency.0)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(e)
    }

    /// Recounts every agency's engagements (after rows went in directly).
    pub(crate) async fn recount(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM agency_engagements")
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO agency_engagements (agency_id, n) SELECT agency_id, COUNT(*) FROM engagements GROUP BY agency_id",
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
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

    /// One page of the engagements `actor` may see, newest first, as
    /// summaries, with the total the filter matches. The access rule is
    /// applied in SQL (agency membership, partner assignment), so the cost
    /// follows the page size, not the number of engagements.
    pub async fn engagements(
        &self,
        actor: &Actor,
        filter: &ListFilter,
    ) -> Result<Listing, StoreError> {
        let (rows, total) = self.summaries_json(actor, filter).await?;
        Ok(Listing {
            items: rows.iter().map(|s| unjson(s)).collect::<Result<_, _>>()?,
            total,
        })
    }

    /// The same page as [`Store::engagements`], each summary as the JSON
    /// it is stored as, for callers that only pass it on (the API's list).
    pub async fn summaries_json(
        &self,
        actor: &Actor,
        filter: &ListFilter,
    ) -> Result<(Vec<String>, u64), StoreError> {
        let mut clauses: Vec<String> = Vec::new();
        let mut binds: Vec<i64> = Vec::new();
        match scope(actor, "", &mut binds) {
            Scope::All => {}
            Scope::Nothing => return Ok((Vec::new(), 0)),
            Scope::Where(c) => clauses.push(c),
        }
        if let Some(a) = filter.agency {
            binds.push(a.0);
            clauses.push(format!("agency_id = ${}", binds.len()));
        }
        let wh = if clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", clauses.join(" AND "))
        };
        let total = self.total(actor, filter, &wh, &binds).await?;
        let n = binds.len();
        let page_sql = format!(
            "SELECT summary FROM engagements{wh} ORDER BY id DESC LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let mut page = sqlx::query(&page_sql);
        for b in &binds {
            page = page.bind(*b);
        }
        let rows = page
            .bind(i64::from(filter.limit.clamp(1, MAX_PAGE)))
            .bind(i64::from(filter.offset))
            .fetch_all(&self.pool)
            .await?;
        let items = rows
            .iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<Result<_, _>>()?;
        Ok((items, total as u64))
    }

    /// How many engagements `actor` may see are active in `stage`.
    pub async fn count_active(&self, actor: &Actor, stage: &str) -> Result<u64, StoreError> {
        let mut binds = Vec::new();
        let sql = match scope(actor, "e.", &mut binds) {
            Scope::Nothing => return Ok(0),
            Scope::All => format!(
                "SELECT COUNT(*) FROM engagement_stages es WHERE es.stage = ${} AND es.status = 'active'",
                binds.len() + 1
            ),
            // Their own engagements drive the join (CROSS JOIN keeps that
            // order on SQLite), so a few engagements cost a few lookups.
            Scope::Where(c) => format!(
                "SELECT COUNT(*) FROM engagements e CROSS JOIN engagement_stages es \
                 WHERE es.engagement_id = e.id AND {c} AND es.stage = ${} AND es.status = 'active'",
                binds.len() + 1
            ),
        };
        let mut q = sqlx::query(&sql);
        for b in &binds {
            q = q.bind(*b);
        }
        let n: i64 = q.bind(stage).fetch_one(&self.pool).await?.try_get(0)?;
        Ok(n as u64)
    }

    /// Engagements `actor` may see that are active in `stage`, by when
    /// their current cycle of it began: the newest first, or with
    /// `started_before`, only those that began before then, the oldest
    /// first (for overdue lists).
    pub async fn active_in_stage(
        &self,
        actor: &Actor,
        stage: &str,
        started_before: Option<Timestamp>,
        limit: u32,
    ) -> Result<Vec<Summary>, StoreError> {
        let mut binds = Vec::new();
        let (from, mut wh) = match scope(actor, "e.", &mut binds) {
            Scope::Nothing => return Ok(Vec::new()),
            // The (stage, status, started_at) index gives them in order.
            Scope::All => (
                "engagement_stages es JOIN engagements e ON e.id = es.engagement_id",
                String::new(),
            ),
            Scope::Where(c) => (
                "engagements e CROSS JOIN engagement_stages es",
                format!(" AND es.engagement_id = e.id AND {c}"),
            ),
        };
        let order = match started_before {
            Some(t) => {
                binds.push(t.0);
                wh.push_str(&format!(" AND es.started_at < ${}", binds.len()));
                "ASC"
            }
            None => "DESC",
        };
        let n = binds.len();
        let sql = format!(
            "SELECT e.summary FROM {from} WHERE es.stage = ${} AND es.status = 'active'{wh} \
             ORDER BY es.started_at {order}, es.engagement_id {order} LIMIT ${}",
            n + 1,
            n + 2
        );
        let mut q = sqlx::query(&sql);
        for b in &binds {
            q = q.bind(*b);
        }
        q.bind(stage)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| unjson(&r.try_get::<String, _>(0)?))
            .collect()
    }

    /// The latest events on engagements `actor` may see, newest first.
    pub async fn recent_events(
        &self,
        actor: &Actor,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        const COLUMNS: &str = "engagement_id, seq, actor_id, at, command, payload, hash";
        let mut binds = Vec::new();
        let rows = match scope(actor, "", &mut binds) {
            Scope::Nothing => return Ok(Vec::new()),
            // Newest first over the whole log, straight from its time index.
            Scope::All => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM events ORDER BY at DESC, engagement_id DESC, seq DESC LIMIT $1"
                ))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
            }
            // The latest of each of their most recently changed engagements
            // (by primary key), merged: a few engagements, a few rows.
            Scope::Where(c) => {
                let sql =
                    format!("SELECT id FROM engagements WHERE {c} ORDER BY updated_at DESC LIMIT 50");
                let mut q = sqlx::query(&sql);
                for b in &binds {
                    q = q.bind(*b);
                }
                let mut rows = Vec::new();
                for r in q.fetch_all(&self.pool).await? {
                    let id: i64 = r.try_get(0)?;
                    rows.extend(
                        sqlx::query(&format!(
                            "SELECT {COLUMNS} FROM events WHERE engagement_id = $1 ORDER BY seq DESC LIMIT $2"
                        ))
                        .bind(id)
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await?,
                    );
                }
                rows
            }
        };
        let mut out = rows
            .iter()
            .map(|r| {
                Ok(StoredEvent {
                    engagement: EngagementId(r.try_get(0)?),
                    seq: r.try_get(1)?,
                    actor: PersonId(r.try_get(2)?),
                    at: Timestamp(r.try_get(3)?),
                    command: r.try_get(4)?,
                    event: unjson(&r.try_get::<String, _>(5)?)?,
                    hash: r.try_get(6)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        out.sort_by_key(|e| std::cmp::Reverse((e.at, e.engagement, e.seq)));
        out.truncate(limit as usize);
        Ok(out)
    }

    /// What needs `actor`'s attention: each of `stages` with how many
    /// engagements are active in it and the newest few, Discovery that has
    /// run past `overdue_after` weeks (oldest first), and recent activity.
    /// The workspace's home page and the API's dashboard both read this.
    pub async fn dashboard(
        &self,
        actor: &Actor,
        stages: &[&str],
        now: Timestamp,
        overdue_after_weeks: i64,
    ) -> Result<Dashboard, StoreError> {
        let mut by_stage = Vec::with_capacity(stages.len());
        for stage in stages {
            by_stage.push(StageColumn {
                stage: (*stage).to_string(),
                active: self.count_active(actor, stage).await?,
                newest: self.active_in_stage(actor, stage, None, 5).await?,
            });
        }
        let cutoff = Timestamp(now.0 - overdue_after_weeks * 7 * 86_400);
        Ok(Dashboard {
            by_stage,
            overdue: self
                .active_in_stage(actor, waymark_core::DISCOVERY, Some(cutoff), 20)
                .await?,
            recent: self.recent_events(actor, 12).await?,
        })
    }

    /// People's names by id (ids with no person are left out).
    pub async fn person_names(
        &self,
        ids: &[PersonId],
    ) -> Result<HashMap<PersonId, String>, StoreError> {
        let mut out = HashMap::new();
        let mut ids: Vec<i64> = ids.iter().map(|p| p.0).collect();
        ids.sort_unstable();
        ids.dedup();
        for chunk in ids.chunks(200) {
            let params: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT id, name FROM people WHERE id IN ({})",
                params.join(", ")
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&self.pool).await? {
                out.insert(PersonId(r.try_get(0)?), r.try_get(1)?);
            }
        }
        Ok(out)
    }

    /// Agencies by id (ids with no agency are left out).
    pub async fn agencies_by_id(
        &self,
        ids: &[AgencyId],
    ) -> Result<HashMap<AgencyId, Agency>, StoreError> {
        let mut out = HashMap::new();
        let mut ids: Vec<i64> = ids.iter().map(|a| a.0).collect();
        ids.sort_unstable();
        ids.dedup();
        for chunk in ids.chunks(200) {
            let params: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT id, name, abbreviation, portfolio, agency_type FROM agencies WHERE id IN ({})",
                params.join(", ")
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&self.pool).await? {
                let a = agency_row(&r)?;
                out.insert(a.id, a);
            }
        }
        Ok(out)
    }

    /// How many engagements a list matches. Where the access rule and the
    /// filter are only about agencies, the kept per-agency counts answer;
    /// a partner's list (by assignment) is counted directly, and is short.
    async fn total(
        &self,
        actor: &Actor,
        filter: &ListFilter,
        wh: &str,
        binds: &[i64],
    ) -> Result<i64, StoreError> {
        let row = if actor.is_partner() && !actor.is_programme() {
            let sql = format!("SELECT COUNT(*) FROM engagements{wh}");
            let mut q = sqlx::query(&sql);
            for b in binds {
                q = q.bind(*b);
            }
            q.fetch_one(&self.pool).await?
        } else {
            let mut agencies: Option<Vec<i64>> = if actor.is_programme() {
                None
            } else {
                Some(actor.agencies().map(|a| a.0).collect())
            };
            if let Some(a) = filter.agency {
                agencies = Some(match agencies {
                    None => vec![a.0],
                    Some(mine) => mine.into_iter().filter(|m| *m == a.0).collect(),
                });
            }
            match agencies {
                // SQLite counts every engagement from its smallest index,
                // faster than summing the counts; PostgreSQL's count must
                // visit rows that writes have changed, so it sums them.
                None if self.backend == Backend::Sqlite => {
                    sqlx::query("SELECT COUNT(*) FROM engagements")
                        .fetch_one(&self.pool)
                        .await?
                }
                None => {
                    sqlx::query(
                        "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM agency_engagements",
                    )
                    .fetch_one(&self.pool)
                    .await?
                }
                Some(ids) if ids.is_empty() => return Ok(0),
                Some(ids) => {
                    let params: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
                    let sql = format!(
                        "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM agency_engagements WHERE agency_id IN ({})",
                        params.join(", ")
                    );
                    let mut q = sqlx::query(&sql);
                    for id in &ids {
                        q = q.bind(*id);
                    }
                    q.fetch_one(&self.pool).await?
                }
            }
        };
        Ok(row.try_get(0)?)
    }

    /// Every agency, by name.
    pub async fn agencies(&self) -> Result<Vec<Agency>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, abbreviation, portfolio, agency_type FROM agencies ORDER BY name, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(agency_row).collect()
    }

    pub async fn agency(&self, id: AgencyId) -> Result<Option<Agency>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, abbreviation, portfolio, agency_type FROM agencies WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(agency_row).transpose()
    }

    /// Every person with their roles, by name.
    pub async fn people(&self) -> Result<Vec<Person>, StoreError> {
        let rows = sqlx::query("SELECT id, name, email FROM people ORDER BY name, id")
            .fetch_all(&self.pool)
            .await?;
        let roles = sqlx::query("SELECT person_id, role FROM memberships ORDER BY role")
            .fetch_all(&self.pool)
            .await?;
        let mut by_person: HashMap<i64, Vec<Role>> = HashMap::new();
        for r in &roles {
            by_person
                .entry(r.try_get(0)?)
                .or_default()
                .push(unjson(&r.try_get::<String, _>(1)?)?);
        }
        rows.iter()
            .map(|r| {
                let id: i64 = r.try_get(0)?;
                person_row(r, by_person.remove(&id).unwrap_or_default())
            })
            .collect()
    }

    /// A person with their roles (one query: every signed-in page asks).
    pub async fn person(&self, id: PersonId) -> Result<Option<Person>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.id, p.name, p.email, m.role FROM people p LEFT JOIN memberships m ON m.person_id = p.id \
             WHERE p.id = $1 ORDER BY m.role",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await?;
        Ok(people_from_rows(&rows)?.pop())
    }

    /// The people who hold any of `roles`, by name, with all their roles.
    pub async fn people_with_roles(&self, roles: &[Role]) -> Result<Vec<Person>, StoreError> {
        if roles.is_empty() {
            return Ok(Vec::new());
        }
        // Roles are stored as their JSON, so a role is found by its exact
        // text, through the index on it.
        let params: Vec<String> = (1..=roles.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT p.id, p.name, p.email, r.role FROM people p \
             JOIN memberships r ON r.person_id = p.id \
             WHERE p.id IN (SELECT person_id FROM memberships WHERE role IN ({})) \
             ORDER BY p.name, p.id, r.role",
            params.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for role in roles {
            q = q.bind(json(role)?);
        }
        people_from_rows(&q.fetch_all(&self.pool).await?)
    }

    /// One agency's members (the executive sponsor among them), by name.
    pub async fn members_of(&self, agency: AgencyId) -> Result<Vec<Person>, StoreError> {
        self.people_with_roles(&[
            Role::AgencyMember {
                agency,
                sponsor: false,
            },
            Role::AgencyMember {
                agency,
                sponsor: true,
            },
        ])
        .await
    }

    /// Rebuilds the derived indexes (summary, assignments) of every
    /// engagement that has none: after the migration that added them, and
    /// after an import.
    pub async fn refresh_derived(&self) -> Result<(), StoreError> {
        loop {
            let rows = sqlx::query("SELECT state FROM engagements WHERE summary = '' LIMIT 500")
                .fetch_all(&self.pool)
                .await?;
            if rows.is_empty() {
                return Ok(());
            }
            let mut tx = self.pool.begin().await?;
            for r in &rows {
                let e: Engagement = unjson(&r.try_get::<String, _>(0)?)?;
                sqlx::query("UPDATE engagements SET summary = $1 WHERE id = $2")
                    .bind(json(&e.summary())?)
                    .bind(e.id.0)
                    .execute(&mut *tx)
                    .await?;
                save_index(&mut tx, &e).await?;
            }
            tx.commit().await?;
        }
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
        self.transact(actor, id, expected_version, cmd, Extra::Nothing, now)
            .await
    }

    /// `execute`, plus rows written in the same transaction: a file whose
    /// id the command names, or the letter whose issue the command records.
    pub(crate) async fn transact(
        &self,
        actor: &Actor,
        id: EngagementId,
        expected_version: u64,
        cmd: &waymark_core::Command,
        extra: Extra,
        now: Timestamp,
    ) -> Result<Engagement, StoreError> {
        // The pinned model, before the transaction: loading it may need a
        // pooled connection, and a transaction holding the write lock while
        // waiting for one can starve every other writer (a deadlock until
        // the timeouts fire). An engagement's model never changes.
        // Remembered per engagement once read: it is fixed at the start.
        let known = self.pinned.lock().ok().and_then(|m| m.get(&id).cloned());
        let hash = match known {
            Some(h) => h,
            None => {
                let h: String = sqlx::query("SELECT model_hash FROM engagements WHERE id = $1")
                    .bind(id.0)
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or(StoreError::Domain(DomainError::NotFound))?
                    .try_get(0)?;
                if let Ok(mut m) = self.pinned.lock() {
                    m.insert(id, h.clone());
                }
                h
            }
        };
        let model = self.model(&hash).await?;
        let work = batch::Work {
            model,
            actor: actor.clone(),
            id,
            expected_version,
            cmd: cmd.clone(),
            extra,
            now,
        };
        match self.backend {
            // One writer at a time: commands queued behind it share one
            // transaction and one fsync (see `batch`).
            Backend::Sqlite => batch::submit(self, work).await,
            Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                let e = self.apply(&mut tx, work).await?;
                tx.commit().await?;
                Ok(e)
            }
        }
    }

    /// Runs one command inside `tx`: everything `transact` promises but the
    /// commit. On SQLite `tx` may be a savepoint inside a batch.
    pub(crate) async fn apply(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        work: batch::Work,
    ) -> Result<Engagement, StoreError> {
        let batch::Work {
            model,
            actor,
            id,
            expected_version,
            cmd,
            extra,
            now,
        } = work;
        let (actor, cmd) = (&actor, &cmd);
        // On PostgreSQL a no-op write takes the row's lock first, so
        // concurrent commands on one engagement queue instead of racing. On
        // SQLite this process's writers already take turns (`batch`), and
        // the guarded update below refuses anything another process changed.
        if self.backend == Backend::Postgres {
            let locked = sqlx::query("UPDATE engagements SET version = version WHERE id = $1")
                .bind(id.0)
                .execute(&mut **tx)
                .await?;
            if locked.rows_affected() == 0 {
                return Err(StoreError::Domain(DomainError::NotFound));
            }
        }
        let row = sqlx::query(
            "SELECT state, version, event_count, head_hash FROM engagements WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::Domain(DomainError::NotFound))?;
        let mut e: Engagement = unjson(&row.try_get::<String, _>(0)?)?;
        let version: i64 = row.try_get(1)?;
        let count: i64 = row.try_get(2)?;
        let head: String = row.try_get(3)?;
        if actor.access(&e) == waymark_core::Access::None {
            return Err(StoreError::Domain(DomainError::NotFound));
        }
        if version as u64 != expected_version {
            return Err(StoreError::Domain(DomainError::Conflict {
                expected: expected_version,
                actual: version as u64,
            }));
        }
        // Letters and files are recorded only with their bytes, which this
        // store keeps beside the event; a bare command would name bytes that
        // do not exist.
        if matches!(extra, Extra::Nothing | Extra::Notify(_))
            && let waymark_core::Command::IssueLetter { .. }
            | waymark_core::Command::AttachDocument { .. } = cmd
        {
            return Err(StoreError::Domain(DomainError::rule(
                "letters are issued from the letter's page and files are uploaded, so that their bytes are kept with the record",
            )));
        }
        let attached;
        let cmd = match &extra {
            Extra::File(f) => {
                attached = records::attach_command(
                    tx,
                    self.files_dir.as_deref().map(|p| p.as_path()),
                    f,
                    id,
                    actor.person,
                    now,
                )
                .await?;
                &attached
            }
            _ => cmd,
        };
        // The people the command names, as the directory holds them now,
        // read inside the transaction: the core checks each is in scope.
        let people = people_in(tx, &cmd.people()).await?;
        let events = waymark_core::decide(&model, &e, actor, &people, cmd)?;
        if let Extra::Letter(l) = &extra {
            records::save_letter(tx, l, id, &events, actor.person, now).await?;
        }
        let index_before = (e.assigned.clone(), e.stages.clone());
        let (count, head) = chain::append(
            tx,
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
            "UPDATE engagements SET state = $1, summary = $2, version = $3, event_count = $4, head_hash = $5, updated_at = $6 \
             WHERE id = $7 AND version = $8",
        )
        .bind(json(&e)?)
        .bind(json(&e.summary())?)
        .bind(e.version as i64)
        .bind(count)
        .bind(&head)
        .bind(now.0)
        .bind(id.0)
        .bind(version)
        .execute(&mut **tx)
        .await?;
        if saved.rows_affected() != 1 {
            return Err(StoreError::Domain(DomainError::Conflict {
                expected: expected_version,
                actual: expected_version + 1,
            }));
        }
        if (&e.assigned, &e.stages) != (&index_before.0, &index_before.1) {
            save_index(tx, &e).await?;
        }
        if let Extra::Notify(notify) = &extra {
            for m in notify(&e) {
                outbox::queue(tx, &m, now).await?;
            }
        }
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
        chain::verify(self).await
    }

    /// For tests and operators: the raw pool.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// The time now, for the callers of the store (the core never reads clocks).
pub fn now() -> Timestamp {
    Timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
    )
}

/// The largest page a list returns.
pub const MAX_PAGE: u32 = 500;

/// Which engagements to list, and which page of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListFilter {
    pub agency: Option<AgencyId>,
    pub limit: u32,
    pub offset: u32,
}

impl Default for ListFilter {
    fn default() -> Self {
        ListFilter {
            agency: None,
            limit: 50,
            offset: 0,
        }
    }
}

/// One stage's column on a dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StageColumn {
    pub stage: String,
    /// How many engagements are active in the stage.
    pub active: u64,
    /// The five that entered it most recently.
    pub newest: Vec<Summary>,
}

/// What needs a person's attention, across the engagements they may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Dashboard {
    pub by_stage: Vec<StageColumn>,
    /// Discovery past its timebox, the longest-running first.
    pub overdue: Vec<Summary>,
    /// The latest events, newest first.
    pub recent: Vec<StoredEvent>,
}

/// One page of a list, and how many there are in all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listing {
    pub items: Vec<Summary>,
    pub total: u64,
}

/// Which engagements an actor may see, as SQL over the engagements table.
enum Scope {
    All,
    Nothing,
    Where(String),
}

/// The access rule of `Actor::access`, in SQL: the programme sees every
/// engagement; agency members their agencies'; partners those they are
/// assigned to. `t` prefixes the engagements table's columns ("e." or "");
/// values are pushed onto `binds` and numbered after those already there.
fn scope(actor: &Actor, t: &str, binds: &mut Vec<i64>) -> Scope {
    if actor.is_programme() {
        return Scope::All;
    }
    let mut any: Vec<String> = Vec::new();
    for a in actor.agencies() {
        binds.push(a.0);
        any.push(format!("{t}agency_id = ${}", binds.len()));
    }
    if actor.is_partner() {
        binds.push(actor.person.0);
        any.push(format!(
            "{t}id IN (SELECT engagement_id FROM assignments WHERE person_id = ${})",
            binds.len()
        ));
    }
    if any.is_empty() {
        Scope::Nothing
    } else {
        Scope::Where(format!("({})", any.join(" OR ")))
    }
}

/// Keeps the assignments and per-stage indexes equal to the engagement's
/// state.
async fn save_index(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    e: &Engagement,
) -> Result<(), StoreError> {
    for table in ["assignments", "engagement_stages"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE engagement_id = $1"))
            .bind(e.id.0)
            .execute(&mut **tx)
            .await?;
    }
    for a in &e.assigned {
        sqlx::query("INSERT INTO assignments (engagement_id, person_id) VALUES ($1, $2)")
            .bind(e.id.0)
            .bind(a.person.0)
            .execute(&mut **tx)
            .await?;
    }
    for s in &e.stages {
        sqlx::query(
            "INSERT INTO engagement_stages (engagement_id, stage, status, cycles, started_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(e.id.0)
        .bind(&s.stage)
        .bind(status_name(s.status))
        .bind(i64::from(s.cycles))
        .bind(s.started_at.map(|t| t.0))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// A stage status as the per-stage index stores it.
pub(crate) fn status_name(s: waymark_core::StageStatus) -> &'static str {
    match s {
        waymark_core::StageStatus::NotStarted => "not_started",
        waymark_core::StageStatus::Active => "active",
        waymark_core::StageStatus::Completed => "completed",
        waymark_core::StageStatus::Exited => "exited",
    }
}

fn agency_row(r: &sqlx::any::AnyRow) -> Result<Agency, StoreError> {
    let kind: Option<String> = r.try_get(4)?;
    Ok(Agency {
        id: AgencyId(r.try_get(0)?),
        name: r.try_get(1)?,
        abbreviation: Abbreviation::parse(&r.try_get::<String, _>(2)?)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        portfolio: r.try_get(3)?,
        agency_type: kind.as_deref().map(unjson).transpose()?,
    })
}

/// People from rows of (id, name, email, role or NULL), one row per role,
/// each person's rows together.
/// A membership names an agency that exists (roles are stored as JSON, so
/// no foreign key can say so).
async fn agency_exists(pool: &AnyPool, role: &Role) -> Result<(), StoreError> {
    if let Role::AgencyMember { agency, .. } = role {
        let found = sqlx::query("SELECT 1 FROM agencies WHERE id = $1")
            .bind(agency.0)
            .fetch_optional(pool)
            .await?;
        if found.is_none() {
            return Err(StoreError::Missing {
                what: "agency",
                value: agency.to_string(),
            });
        }
    }
    Ok(())
}

/// `$from, $from+1, …` for an IN list of `n` values.
pub(crate) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The people with these ids, with their roles, read in `tx`.
async fn people_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    ids: &[PersonId],
) -> Result<Vec<Person>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT p.id, p.name, p.email, m.role FROM people p LEFT JOIN memberships m ON m.person_id = p.id \
         WHERE p.id IN ({}) ORDER BY p.id, m.role",
        placeholders(1, ids.len())
    );
    let mut q = sqlx::query(&sql);
    for id in ids {
        q = q.bind(id.0);
    }
    people_from_rows(&q.fetch_all(&mut **tx).await?)
}

fn people_from_rows(rows: &[sqlx::any::AnyRow]) -> Result<Vec<Person>, StoreError> {
    let mut out: Vec<Person> = Vec::new();
    for r in rows {
        let id = PersonId(r.try_get(0)?);
        if out.last().is_none_or(|p| p.id != id) {
            out.push(person_row(r, Vec::new())?);
        }
        if let (Some(p), Some(role)) = (out.last_mut(), r.try_get::<Option<String>, _>(3)?) {
            let role: Role = unjson(&role)?;
            if !p.roles.contains(&role) {
                p.roles.push(role);
            }
        }
    }
    Ok(out)
}

fn person_row(r: &sqlx::any::AnyRow, roles: Vec<Role>) -> Result<Person, StoreError> {
    Ok(Person {
        id: PersonId(r.try_get(0)?),
        name: r.try_get(1)?,
        email: Email::parse(&r.try_get::<String, _>(2)?)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        roles,
    })
}

pub(crate) fn json<T: Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(format!("cannot encode: {e}")))
}

pub(crate) fn unjson<T: for<'de> Deserialize<'de>>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s)
        .map_err(|e| StoreError::Corrupt(format!("cannot decode a stored record: {e}")))
}
