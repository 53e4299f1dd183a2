//! Retention: closed enquiries that never became engagements are removed,
//! with their mail, once the programme's period has passed since their
//! last change (`waymark_core::enquiry::removed_by_retention`).
//!
//! What goes, in one transaction per enquiry: the enquiry and its chain,
//! its conversation, its attachments (and their bytes in the files
//! directory when no other file shares them), the outbox's copies of mail
//! sent about it, its threads and its search entry. What stays: a
//! tombstone of each message taken from the mailbox (its Message-ID only,
//! so the same mail is never taken again), and a line in
//! `retention_removals` naming the enquiry's number and dates, under the
//! run that removed it. Other enquiries' chains are untouched, so `audit
//! verify` still passes.

use sqlx::Row;
use waymark_core::enquiry::{
    RETENTION_MONTHS, may_see_retention, may_set_retention, retention_cutoff,
};
use waymark_core::{Actor, Timestamp};

use crate::{Store, StoreError};

/// The setting that holds the retention period, in months.
const RETENTION: &str = "enquiry_retention_months";
/// Enquiries read at a time; a run goes on until none is due.
const BATCH: i64 = 1000;

/// One run of the retention job.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RetentionRun {
    pub id: i64,
    /// When it ran (seconds since 1970).
    pub at: i64,
    /// The period it used, in months.
    pub months: i64,
    /// Closed enquiries last changed before this were removed.
    pub cutoff: i64,
    /// How many enquiries it removed.
    pub removed: i64,
    /// Who ran it; none for the daily job.
    pub run_by: Option<i64>,
    /// Their name.
    pub run_by_name: Option<String>,
}

/// An enquiry a run removed, as the record keeps it: no personal data.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Removal {
    pub enquiry_id: i64,
    pub received_at: i64,
    pub last_change_at: i64,
    /// Messages of its conversation removed with it.
    pub messages: i64,
    /// Attachments removed with it.
    pub files: i64,
}

/// The period, when it was set and by whom.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RetentionSetting {
    pub months: u32,
    /// None while the default stands.
    pub set_by: Option<i64>,
    pub set_at: Option<i64>,
}

impl Store {
    /// How long closed enquiries are kept, in months.
    pub async fn retention(&self) -> Result<RetentionSetting, StoreError> {
        Ok(match setting(&self.pool, RETENTION).await? {
            None => RetentionSetting {
                months: RETENTION_MONTHS,
                set_by: None,
                set_at: None,
            },
            Some((value, set_by, set_at)) => RetentionSetting {
                months: value.parse().map_err(|_| {
                    StoreError::Corrupt("the retention period is not a number".into())
                })?,
                set_by,
                set_at: Some(set_at),
            },
        })
    }

    /// Sets the retention period (`Actor::may_set_retention`; `months`
    /// already read by `parse_retention`).
    pub async fn set_retention(
        &self,
        by: &Actor,
        months: u32,
        now: Timestamp,
    ) -> Result<RetentionSetting, StoreError> {
        may_set_retention(by)?;
        let _turn = self.write_turn().await;
        put_setting(&self.pool, RETENTION, &months.to_string(), by, now).await?;
        tracing::info!(by = by.person.0, months, "retention period set");
        self.retention().await
    }

    /// The newest runs first, at most `limit`.
    pub async fn retention_runs(
        &self,
        by: &Actor,
        limit: i64,
    ) -> Result<Vec<RetentionRun>, StoreError> {
        may_see_retention(by)?;
        let rows = sqlx::query(
            "SELECT r.id, r.at, r.months, r.cutoff, r.removed, r.run_by, p.name AS run_by_name \
             FROM retention_runs r LEFT JOIN people p ON p.id = r.run_by ORDER BY r.id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(run_of).collect()
    }

    /// When the last run was, if any (for the daily job).
    pub async fn last_retention_run(&self) -> Result<Option<Timestamp>, StoreError> {
        let row = sqlx::query("SELECT MAX(at) FROM retention_runs")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<Option<i64>, _>(0)?.map(Timestamp))
    }

    /// What a run removed.
    pub async fn retention_removals(
        &self,
        by: &Actor,
        run: i64,
    ) -> Result<Vec<Removal>, StoreError> {
        may_see_retention(by)?;
        let rows = sqlx::query(
            "SELECT enquiry_id, received_at, last_change_at, messages, files FROM retention_removals \
             WHERE run_id = $1 ORDER BY enquiry_id",
        )
        .bind(run)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Removal {
                    enquiry_id: r.try_get("enquiry_id")?,
                    received_at: r.try_get("received_at")?,
                    last_change_at: r.try_get("last_change_at")?,
                    messages: r.try_get("messages")?,
                    files: r.try_get("files")?,
                })
            })
            .collect()
    }

    /// How many closed enquiries the next run would remove now.
    pub async fn due_for_removal(&self, now: Timestamp) -> Result<i64, StoreError> {
        let months = self.retention().await?.months;
        let row = sqlx::query(&format!("SELECT COUNT(*) FROM ({}) due", DUE_SQL))
            .bind(retention_cutoff(now, months).0)
            .bind(i64::MAX)
            .bind(0_i64)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Runs retention now: removes every closed enquiry whose last change
    /// is older than the period (up to a thousand; the next run goes on),
    /// and records the run, by `by` or (None) the daily job.
    pub async fn run_retention(
        &self,
        by: Option<&Actor>,
        now: Timestamp,
    ) -> Result<RetentionRun, StoreError> {
        if let Some(actor) = by {
            may_set_retention(actor)?;
        }
        let months = self.retention().await?.months;
        let cutoff = retention_cutoff(now, months);
        // Bytes a run cut short left behind go first.
        self.delete_queued_files().await?;
        let run: i64 = {
            let _turn = self.write_turn().await;
            sqlx::query(
                "INSERT INTO retention_runs (at, months, cutoff, removed, run_by) VALUES ($1, $2, $3, 0, $4) RETURNING id",
            )
            .bind(now.0)
            .bind(i64::from(months))
            .bind(cutoff.0)
            .bind(by.map(|a| a.person.0))
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?
        };
        // One enquiry a transaction, each counted in its own: a run cut
        // short (the server killed) leaves every enquiry whole or gone,
        // and the run's count true.
        let mut removed = 0;
        let mut after = 0;
        loop {
            let due = sqlx::query(DUE_SQL)
                .bind(cutoff.0)
                .bind(BATCH)
                .bind(after)
                .fetch_all(&self.pool)
                .await?;
            let due: Vec<(i64, i64, i64)> = due
                .iter()
                .map(|r| {
                    Ok((
                        r.try_get("id")?,
                        r.try_get("received_at")?,
                        r.try_get("last_change")?,
                    ))
                })
                .collect::<Result<_, sqlx::Error>>()?;
            let Some(last) = due.last() else { break };
            after = last.0;
            for (enquiry, received, last) in due {
                let _turn = self.write_turn().await;
                if self
                    .remove_enquiry(run, enquiry, received, last, cutoff)
                    .await?
                {
                    removed += 1;
                }
            }
            self.delete_queued_files().await?;
        }
        if removed > 0 && self.backend == crate::Backend::Sqlite {
            // The full-text index keeps removed words in its segments until
            // they are merged: merge them now.
            let _turn = self.write_turn().await;
            sqlx::query("INSERT INTO search_fts (search_fts) VALUES ('optimize')")
                .execute(&self.pool)
                .await?;
        }
        tracing::info!(run, removed, months, "retention ran");
        let row = sqlx::query(
            "SELECT r.id, r.at, r.months, r.cutoff, r.removed, r.run_by, p.name AS run_by_name \
             FROM retention_runs r LEFT JOIN people p ON p.id = r.run_by WHERE r.id = $1",
        )
        .bind(run)
        .fetch_one(&self.pool)
        .await?;
        run_of(&row)
    }

    /// Deletes the bytes queued in `retention_files` from the files
    /// directory, then their queue rows. A file that cannot be deleted
    /// stays queued, and is logged.
    async fn delete_queued_files(&self) -> Result<(), StoreError> {
        let queued: Vec<String> = sqlx::query("SELECT location FROM retention_files")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get("location"))
            .collect::<Result<_, _>>()?;
        let Some(dir) = self.files_dir.as_deref() else {
            if !queued.is_empty() {
                tracing::warn!(
                    files = queued.len(),
                    "retention: files to delete are queued, and no files directory is configured"
                );
            }
            return Ok(());
        };
        for location in queued {
            // Files are named by their content: a file with the same bytes
            // kept since (an upload) names this place again, and keeps it.
            let _turn = self.write_turn().await;
            let named = sqlx::query("SELECT 1 FROM files WHERE location = $1")
                .bind(&location)
                .fetch_optional(&self.pool)
                .await?;
            if named.is_none() {
                let path = dir.join(&location);
                match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        tracing::warn!("retention: cannot remove {}: {e}", path.display());
                        continue;
                    }
                    _ => {}
                }
            }
            sqlx::query("DELETE FROM retention_files WHERE location = $1")
                .bind(&location)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Removes one enquiry and everything of it, in one transaction, if it
    /// is still due (not reopened or converted meanwhile): true if it did.
    /// Bytes in the files directory no other file shares are queued in
    /// the same transaction, and deleted after it.
    async fn remove_enquiry(
        &self,
        run: i64,
        enquiry: i64,
        received: i64,
        last: i64,
        cutoff: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        // The enquiry's row, locked (on PostgreSQL) for this transaction: a
        // second run at the same moment waits here, then finds it gone.
        let held =
            sqlx::query("UPDATE enquiries SET status = status WHERE id = $1 AND status = 'closed'")
                .bind(enquiry)
                .execute(&mut *tx)
                .await?;
        // Checked again inside the transaction: a change since the list
        // was read keeps it.
        let still = sqlx::query(&format!("SELECT id FROM ({}) due WHERE id = $4", DUE_SQL))
            .bind(cutoff.0)
            .bind(i64::MAX)
            .bind(enquiry - 1)
            .bind(enquiry)
            .fetch_optional(&mut *tx)
            .await?;
        if held.rows_affected() == 0 || still.is_none() {
            return crate::finish(tx, Ok(false)).await;
        }
        let messages: i64 =
            sqlx::query("SELECT COUNT(*) FROM enquiry_messages WHERE enquiry_id = $1")
                .bind(enquiry)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
        // Its files: attachments of the enquiry, of its conversation's
        // messages, and mail kept whole in the mailbox's records.
        let files_of = "SELECT id FROM files WHERE enquiry_id = $1 \
             OR message_id IN (SELECT id FROM enquiry_messages WHERE enquiry_id = $1) \
             OR id IN (SELECT file_id FROM inbound_mail WHERE enquiry_id = $1)";
        let locations: Vec<Option<String>> = sqlx::query(&format!(
            "SELECT location FROM files WHERE id IN ({files_of}) \
             AND location NOT IN (SELECT location FROM files WHERE location IS NOT NULL AND id NOT IN ({files_of}))"
        ))
        .bind(enquiry)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get("location"))
        .collect::<Result<_, _>>()?;
        let file_ids: Vec<i64> = sqlx::query(files_of)
            .bind(enquiry)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?;
        // The mailbox keeps a tombstone of each message (its Message-ID,
        // so it is never taken again), nothing of what it said.
        // (A file's name, for mail imported from a file, may say whose
        // it was: only a mailbox's own place, which dedupes, stays.)
        sqlx::query(
            "UPDATE inbound_mail SET outcome = 'removed', enquiry_id = NULL, reason = 'removed by retention', \
             sender = '', subject = '', headers = '', file_id = NULL, \
             mailbox = CASE WHEN uid IS NULL THEN '' ELSE mailbox END WHERE enquiry_id = $1",
        )
        .bind(enquiry)
        .execute(&mut *tx)
        .await?;
        // Mail sent about it: the outbox's copies, by the threads.
        sqlx::query(
            "DELETE FROM outbox WHERE message_id IN (SELECT message_id FROM mail_threads WHERE enquiry_id = $1) \
             OR message_id IN (SELECT message_id FROM enquiry_messages WHERE enquiry_id = $1 AND direction = 'out')",
        )
        .bind(enquiry)
        .execute(&mut *tx)
        .await?;
        // Webhook deliveries of its events carry what they said.
        let msg = format!("msg_q{enquiry}_");
        for sql in [
            "DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries \
             WHERE substr(msg_id, 1, length($1)) = $1)",
            "DELETE FROM webhook_deliveries WHERE substr(msg_id, 1, length($1)) = $1",
        ] {
            sqlx::query(sql).bind(&msg).execute(&mut *tx).await?;
        }
        for location in locations.iter().flatten() {
            sqlx::query(
                "INSERT INTO retention_files (location) VALUES ($1) ON CONFLICT (location) DO NOTHING",
            )
            .bind(location)
            .execute(&mut *tx)
            .await?;
        }
        for id in &file_ids {
            sqlx::query("DELETE FROM files WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        for sql in [
            "DELETE FROM enquiry_messages WHERE enquiry_id = $1",
            "DELETE FROM mail_threads WHERE enquiry_id = $1",
            "DELETE FROM enquiry_events WHERE enquiry_id = $1",
            "DELETE FROM enquiries WHERE id = $1",
        ] {
            sqlx::query(sql).bind(enquiry).execute(&mut *tx).await?;
        }
        crate::search::unindex(
            &mut tx,
            waymark_core::search::Kind::Enquiry,
            &enquiry.to_string(),
        )
        .await?;
        sqlx::query(
            "INSERT INTO retention_removals (run_id, enquiry_id, received_at, last_change_at, messages, files) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(run)
        .bind(enquiry)
        .bind(received)
        .bind(last)
        .bind(messages)
        .bind(file_ids.len() as i64)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE retention_runs SET removed = removed + 1 WHERE id = $1")
            .bind(run)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// Closed enquiries numbered after `$3` and last changed before `$1`, in
/// order, at most `$2`: `id`, `received_at`, `last_change`.
const DUE_SQL: &str = "SELECT e.id, e.received_at, MAX(v.at) AS last_change FROM enquiries e \
     JOIN enquiry_events v ON v.enquiry_id = e.id WHERE e.status = 'closed' AND e.id > $3 \
     GROUP BY e.id, e.received_at HAVING MAX(v.at) < $1 ORDER BY e.id LIMIT $2";

fn run_of(r: &sqlx::any::AnyRow) -> Result<RetentionRun, StoreError> {
    Ok(RetentionRun {
        id: r.try_get("id")?,
        at: r.try_get("at")?,
        months: r.try_get("months")?,
        cutoff: r.try_get("cutoff")?,
        removed: r.try_get("removed")?,
        run_by: r.try_get("run_by")?,
        run_by_name: r.try_get("run_by_name")?,
    })
}

/// A programme setting's value, who set it and when, if it was ever set.
pub(crate) async fn setting(
    pool: &sqlx::AnyPool,
    name: &str,
) -> Result<Option<(String, Option<i64>, i64)>, StoreError> {
    let row = sqlx::query("SELECT value, set_by, set_at FROM programme_settings WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await?;
    Ok(match row {
        None => None,
        Some(r) => Some((
            r.try_get("value")?,
            r.try_get("set_by")?,
            r.try_get("set_at")?,
        )),
    })
}

/// Sets a programme setting, recording who and when.
pub(crate) async fn put_setting(
    pool: &sqlx::AnyPool,
    name: &str,
    value: &str,
    by: &Actor,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO programme_settings (name, value, set_by, set_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value, set_by = excluded.set_by, set_at = excluded.set_at",
    )
    .bind(name)
    .bind(value)
    .bind(by.person.0)
    .bind(now.0)
    .execute(pool)
    .await?;
    Ok(())
}
