//! Opening the database: connecting, migrations, the files folder, and
//! SQLite's background checkpoints and write batches' counters.

use std::sync::Arc;

use sqlx::AnyPool;

use crate::*;

impl Store {
    /// Connects to `url` (`sqlite://file.db`, `postgres://…`), creating a
    /// SQLite file if missing, and brings the schema up to date.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let store = Store::connect(url, true).await?;
        store.prepare().await?;
        Ok(store)
    }

    /// Like `open`, but only a database that already holds Waymark's
    /// records: a missing SQLite file is not created and an empty database
    /// is not migrated, so a mistyped URL is an error rather than a new,
    /// empty database that reads as "intact" (`audit verify`, `export`).
    pub async fn open_existing(url: &str) -> Result<Store, StoreError> {
        if missing_file(url) {
            return Err(StoreError::NoDatabase(redact(url)));
        }
        let store = Store::connect(url, false).await?;
        if matches!(store.schema().await?, Schema::Behind { database: 0, .. }) {
            return Err(StoreError::NoDatabase(redact(url)));
        }
        store.prepare().await?;
        Ok(store)
    }

    /// Migrations, derived indexes, the portfolio's counts and the search
    /// index, as `open` leaves them.
    async fn prepare(&self) -> Result<(), StoreError> {
        self.migrate().await?;
        self.refresh_derived().await?;
        self.rebuild_portfolio_if_missing().await?;
        self.ensure_index().await
    }

    async fn connect(url: &str, create: bool) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::BadUrl(redact(url)));
        };
        let mut url = url.to_string();
        if backend == Backend::Sqlite && !url.contains("mode=") && !url.contains(":memory:") {
            let mode = if create { "mode=rwc" } else { "mode=rw" };
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(mode);
        }
        let opts: AnyConnectOptions = url.parse().map_err(|_| StoreError::BadUrl(redact(&url)))?;
        let background_checkpoints = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let in_background = Arc::clone(&background_checkpoints);
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 8 })
            .acquire_timeout(std::time::Duration::from_secs(5))
            .after_connect(move |conn, _| {
                let in_background = in_background.load(std::sync::atomic::Ordering::SeqCst);
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
                            // What is deleted (retention's removals, a
                            // corrected name) is overwritten on disk, not
                            // left in free space for a reader of the file.
                            "PRAGMA secure_delete = ON",
                            // The WAL is reused from its start after each
                            // checkpoint; past a burst, it is cut back to
                            // 64 MB instead of keeping its largest size.
                            "PRAGMA journal_size_limit = 67108864",
                            // Reads of the first GiB come straight from the
                            // operating system's cache, not copied in by a
                            // system call a page (a search reads hundreds of
                            // the full-text index's pages; docs/benchmarks.md,
                            // issue 17). Writes still go through the WAL.
                            "PRAGMA mmap_size = 1073741824",
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
        let readers = match backend {
            Backend::Sqlite => {
                let file =
                    <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(&url)
                        .map_err(|_| StoreError::BadUrl(redact(&url)))?;
                // Two searches a core: one a core left cores idle while a
                // search waited on the file; four a core made the slowest
                // slower (docs/benchmarks.md, issue 17).
                let cores = 2 * std::thread::available_parallelism().map_or(2, |n| n.get());
                let readers =
                    crate::reader::Readers::open(file.get_filename().to_path_buf(), cores)
                        .map_err(|e| StoreError::Connect {
                            url: redact(&url),
                            reason: e.to_string(),
                        })?;
                Some(Arc::new(readers))
            }
            Backend::Postgres => None,
        };
        let store = Store {
            pool,
            backend,
            files_dir: None,
            models: Arc::default(),
            writer: Arc::default(),
            queue: Arc::default(),
            pinned: Arc::default(),
            background_checkpoints,
            readers,
        };
        Ok(store)
    }

    /// A transaction that writes. On SQLite it takes the write lock when it
    /// begins (`BEGIN IMMEDIATE`): one that read first and wrote later would
    /// fail at once with "database is locked" (SQLITE_BUSY_SNAPSHOT, which
    /// the busy timeout does not wait out) whenever a statement outside this
    /// process's write turn, such as a session saved, committed in between.
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// On SQLite, this process's turn to write; on PostgreSQL, nothing
    /// (row locks let writers of different engagements run at once).
    pub(crate) async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
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
        // already open are switched here. All the pool may hold are held at
        // once, so every connection that exists is among them, including
        // one that was still connecting (and read the flag as it was) when
        // the flag was set: counting only the open ones missed it.
        self.background_checkpoints
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let mut open = Vec::new();
        for _ in 0..self.pool.options().get_max_connections() {
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
        // An older binary never touches a newer schema.
        if let Schema::Ahead { database, binary } = self.schema().await? {
            return Err(StoreError::SchemaAhead { database, binary });
        }
        crate::migrator::migrator(self.backend)
            .await
            .map_err(StoreError::Migrate)?
            .run(&self.pool)
            .await
            .map_err(StoreError::Migrate)?;
        // The data step of migration 0010: bind older enquiries' content
        // into their chains, once.
        intake::seal_unsealed(self).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// For tests and operators: the raw pool.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// Whether `url` names a SQLite file that is not there (opening it with
/// `Store::open` would create it). False for any other database.
pub fn missing_file(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return false;
    };
    let path = rest.trim_start_matches("//");
    let path = path.split('?').next().unwrap_or(path);
    path != ":memory:" && !std::path::Path::new(path).exists()
}
