//! What an operator asks of the database: does it answer, is its schema the
//! one this binary was built for, and how far behind is the outbox. Read by
//! `/readyz`; the schema check also guards `migrate`, so an older binary
//! never runs against a schema it does not know.

use sqlx::Row;
use waymark_core::Timestamp;

use crate::*;

/// The schema against this binary's migrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Schema {
    /// Every migration this binary knows is applied, and no other.
    Current { version: i64 },
    /// Migrations are missing (`waymark serve` applies them at start).
    Behind { database: i64, binary: i64 },
    /// The database was migrated by a newer binary.
    Ahead { database: i64, binary: i64 },
    /// A migration started and did not finish.
    Failed { version: i64 },
}

/// What `/readyz` reports of the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    pub schema: Schema,
    /// Messages not yet sent: due now, or waiting to be tried again after
    /// a failure (a message that keeps failing stays counted).
    pub outbox_unsent: u64,
    /// When the oldest of them was written.
    pub oldest_unsent_since: Option<Timestamp>,
}

impl Store {
    /// The schema against this binary's migrations (`Behind` with version
    /// 0 when nothing was ever applied).
    pub async fn schema(&self) -> Result<Schema, StoreError> {
        let binary = crate::migrator::newest(self.backend);
        let exists = match self.backend {
            Backend::Sqlite => {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
            }
            Backend::Postgres => {
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'"
            }
        };
        let n: i64 = sqlx::query_scalar(exists).fetch_one(&self.pool).await?;
        if n == 0 {
            return Ok(Schema::Behind {
                database: 0,
                binary,
            });
        }
        let row = sqlx::query(
            "SELECT COALESCE(MAX(version), 0) AS v, \
             COALESCE(MIN(CASE WHEN success THEN NULL ELSE version END), 0) AS failed \
             FROM _sqlx_migrations",
        )
        .fetch_one(&self.pool)
        .await?;
        let (database, failed): (i64, i64) = (row.try_get("v")?, row.try_get("failed")?);
        Ok(if failed != 0 {
            Schema::Failed { version: failed }
        } else if database > binary {
            Schema::Ahead { database, binary }
        } else if database < binary {
            Schema::Behind { database, binary }
        } else {
            Schema::Current { version: database }
        })
    }

    /// The pool's connections: open, idle, and the most it opens.
    pub fn pool_state(&self) -> (u32, usize, u32) {
        (
            self.pool.size(),
            self.pool.num_idle(),
            self.pool.options().get_max_connections(),
        )
    }

    /// The database answers, its schema, and the outbox's backlog.
    pub async fn health(&self) -> Result<Health, StoreError> {
        let schema = self.schema().await?;
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox WHERE sent_at IS NULL AND gave_up_at IS NULL",
        )
        .fetch_one(&self.pool)
        .await?;
        let unsent: i64 = row.try_get("n")?;
        let oldest: Option<i64> = row.try_get("oldest")?;
        Ok(Health {
            schema,
            outbox_unsent: unsent.max(0) as u64,
            oldest_unsent_since: oldest.map(Timestamp),
        })
    }
}
