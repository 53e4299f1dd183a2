//! SQLite reads that run many statements in a row (a search runs up to
//! thirteen): a few read-only connections of SQLite's own C library, used on
//! one blocking thread for the whole read.
//!
//! sqlx's SQLite driver runs each connection on a thread of its own and
//! hands every statement to it and its rows back, so a search crossed
//! threads two dozen times; under load half the server's time went to
//! threads waking each other (docs/benchmarks.md, issue 17). Here a read
//! crosses once. Writes never come this way: these connections are
//! `query_only`, and see what the pool's writers committed, as any
//! reader of a WAL database does.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::StoreError;

/// The read connections of one SQLite file.
#[derive(Debug)]
pub(crate) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<rusqlite::Connection>>,
    /// Reads at once (a few a core): past that they only queue in the
    /// kernel instead of here.
    permits: Arc<tokio::sync::Semaphore>,
}

impl Readers {
    /// Opens `at_once` connections of the file at `path` now, while it is
    /// the file the store's pool has open: they stay open for the store's
    /// life, so a search reads the same file as the writers even if the
    /// path is later renamed or replaced.
    pub(crate) fn open(path: PathBuf, at_once: usize) -> rusqlite::Result<Self> {
        let at_once = at_once.max(1);
        let mut idle = Vec::with_capacity(at_once);
        for _ in 0..at_once {
            idle.push(connect(&path)?);
        }
        Ok(Readers {
            path,
            idle: Mutex::new(idle),
            permits: Arc::new(tokio::sync::Semaphore::new(at_once)),
        })
    }

    /// Runs `read` with a connection, on a blocking thread.
    pub(crate) async fn read<R: Send + 'static>(
        self: &Arc<Self>,
        read: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<R> + Send + 'static,
    ) -> Result<R, StoreError> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Corrupt("the database's readers were closed".into()))?;
        let me = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let taken = me.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            // One connection a permit, each put back after use: one is
            // always idle here; opening another is only a fallback.
            let conn = match taken {
                Some(c) => c,
                None => connect(&me.path)?,
            };
            let out = read(&conn);
            me.idle.lock().unwrap_or_else(|e| e.into_inner()).push(conn);
            out
        })
        .await
        .map_err(|e| StoreError::Corrupt(format!("a read of the database stopped: {e}")))?
        .map_err(StoreError::from)
    }
}

/// A connection of the file at `path` that never writes.
fn connect(path: &std::path::Path) -> rusqlite::Result<rusqlite::Connection> {
    use rusqlite::OpenFlags;
    // Read and write, not read-only: a read-only connection to a WAL
    // database cannot always open its shared-memory index. `query_only`
    // refuses every write instead.
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.execute_batch(
        "PRAGMA query_only = ON; PRAGMA busy_timeout = 5000; PRAGMA mmap_size = 1073741824;",
    )?;
    // A search's statements differ by kind, reach and how many rows it
    // shows; each is prepared once and kept.
    conn.set_prepared_statement_cache_capacity(64);
    // bm25's order for a query of one phrase, without bm25's first walk of
    // every match in the table (`waymark_fts`).
    waymark_fts::register(&conn)?;
    // A first read opens the WAL's shared-memory index now, with the file.
    conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })?;
    Ok(conn)
}
