//! The mail outbox. Every message is written here first, in the same
//! transaction as whatever caused it where possible, and a sender (in the
//! web server) delivers it later, retrying with backoff. A crash between
//! the two loses nothing: the row stays until it is marked sent. Without
//! SMTP configured, the rows are the mail, and admins read them.

use serde::Serialize;
use sqlx::{Any, Row, Transaction};
use waymark_core::{Actor, DomainError, Timestamp};

use crate::{Store, StoreError};

/// A message to send. The attachment is text (an iCalendar file).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mail {
    pub kind: String,
    pub to: String,
    pub subject: String,
    pub body: String,
    /// (file name, content type, content)
    pub attachment: Option<(String, String, String)>,
    /// Its place in an enquiry's conversation, so that answers find it.
    pub thread: Option<MailThread>,
    /// RFC 3834 `Auto-Submitted` (`auto-replied`, `auto-generated`) for a
    /// message no person wrote, so that other robots do not answer it.
    pub auto_submitted: Option<&'static str>,
    /// An address that stops this kind of mail at one click: sent as
    /// `List-Unsubscribe` with RFC 8058's `List-Unsubscribe-Post`.
    pub unsubscribe: Option<String>,
    /// Text of the body that must not outlive its sending (a single-use
    /// link): taken out once the message is sent or given up.
    pub secret: Option<String>,
}

/// A message's own Message-ID, the messages it answers, and the enquiry
/// whose conversation it belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailThread {
    pub message_id: String,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub enquiry: Option<i64>,
}

/// A new Message-ID (`random@domain`, kept without its angle brackets as
/// mail-parser reads ids) in the domain of `from`, the programme's address.
pub fn new_message_id(from: &str) -> Result<String, StoreError> {
    let domain = from
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('>').trim())
        .filter(|d| {
            !d.is_empty()
                && d.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        })
        .unwrap_or("waymark.invalid");
    let token = crate::random_token()?;
    Ok(format!("{}@{domain}", &token[..32]))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxEntry {
    pub id: i64,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub attachment_name: Option<String>,
    pub attachment_type: Option<String>,
    pub attachment: Option<String>,
    pub created_at: Timestamp,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub sent_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    /// The References header's ids, space-separated.
    pub references: Option<String>,
    pub auto_submitted: Option<String>,
    /// The server refused it for good: not tried again.
    pub gave_up_at: Option<Timestamp>,
    /// The one-click unsubscribe address (RFC 8058), if any.
    pub list_unsubscribe: Option<String>,
}

const COLUMNS: &str = "id, kind, recipient, subject, body, attachment_name, attachment_type, attachment, created_at, attempts, next_attempt_at, sent_at, last_error, message_id, in_reply_to, refs, auto_submitted, gave_up_at, list_unsubscribe";

fn entry(r: &sqlx::any::AnyRow) -> Result<OutboxEntry, StoreError> {
    Ok(OutboxEntry {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        recipient: r.try_get("recipient")?,
        subject: r.try_get("subject")?,
        body: r.try_get("body")?,
        attachment_name: r.try_get("attachment_name")?,
        attachment_type: r.try_get("attachment_type")?,
        attachment: r.try_get("attachment")?,
        created_at: Timestamp(r.try_get("created_at")?),
        attempts: r.try_get("attempts")?,
        next_attempt_at: Timestamp(r.try_get("next_attempt_at")?),
        sent_at: r.try_get::<Option<i64>, _>("sent_at")?.map(Timestamp),
        last_error: r.try_get("last_error")?,
        message_id: r.try_get("message_id")?,
        in_reply_to: r.try_get("in_reply_to")?,
        references: r.try_get("refs")?,
        auto_submitted: r.try_get("auto_submitted")?,
        gave_up_at: r.try_get::<Option<i64>, _>("gave_up_at")?.map(Timestamp),
        list_unsubscribe: r.try_get("list_unsubscribe")?,
    })
}

pub(crate) async fn queue(
    tx: &mut Transaction<'_, Any>,
    m: &Mail,
    now: Timestamp,
) -> Result<i64, StoreError> {
    let (name, kind, content) = match &m.attachment {
        Some((n, k, c)) => (Some(n), Some(k), Some(c)),
        None => (None, None, None),
    };
    let thread = m.thread.as_ref();
    let refs = thread
        .map(|t| t.references.join(" "))
        .filter(|r| !r.is_empty());
    let row = sqlx::query(
        "INSERT INTO outbox (kind, recipient, subject, body, attachment_name, attachment_type, attachment, created_at, attempts, next_attempt_at, message_id, in_reply_to, refs, auto_submitted, list_unsubscribe, secret) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
    )
    .bind(&m.kind)
    .bind(&m.to)
    .bind(&m.subject)
    .bind(&m.body)
    .bind(name)
    .bind(kind)
    .bind(content)
    .bind(now.0)
    .bind(thread.map(|t| t.message_id.as_str()))
    .bind(thread.and_then(|t| t.in_reply_to.as_deref()))
    .bind(refs)
    .bind(m.auto_submitted)
    .bind(m.unsubscribe.as_deref())
    .bind(m.secret.as_deref())
    .fetch_one(&mut **tx)
    .await?;
    // Answers to it thread onto its enquiry.
    if let Some(t) = thread
        && let Some(enquiry) = t.enquiry
    {
        crate::mailbox::remember(tx, &t.message_id, enquiry).await?;
    }
    Ok(row.try_get(0)?)
}

/// The SQL that takes a message's secret out of its body (a no-op for a
/// message without one).
pub(crate) const FORGET: &str = "body = CASE WHEN secret IS NULL THEN body ELSE REPLACE(body, secret, '(a single-use link, removed once sent)') END, secret = NULL";

/// How long to wait after the n-th failed attempt: 30 s, 1, 2, 4 … minutes,
/// at most an hour.
pub fn backoff(attempts: i64) -> i64 {
    let shift = attempts.clamp(1, 8) - 1;
    (30i64 << shift).min(3600)
}

/// A claimed message is left alone by other senders for this long.
const LEASE: i64 = 300;

impl Store {
    /// Queues messages, all or none.
    pub async fn queue_mail(&self, mail: &[Mail], now: Timestamp) -> Result<Vec<i64>, StoreError> {
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let mut ids = Vec::with_capacity(mail.len());
        for m in mail {
            ids.push(queue(&mut tx, m, now).await?);
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// Claims up to `limit` messages due at `now`: each is leased to this
    /// caller, so two senders (two instances) never send the same one.
    pub async fn claim_mail(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let due = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM outbox WHERE sent_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2"
        ))
        .bind(now.0)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        // Claims are writes: in turn with this process's other writers.
        let _turn = self.write_turn().await;
        let mut claimed = Vec::new();
        for r in &due {
            let e = entry(r)?;
            let won = sqlx::query(
                "UPDATE outbox SET next_attempt_at = $1 WHERE id = $2 AND next_attempt_at = $3 AND sent_at IS NULL",
            )
            .bind(now.0 + LEASE)
            .bind(e.id)
            .bind(e.next_attempt_at.0)
            .execute(&self.pool)
            .await?;
            if won.rows_affected() == 1 {
                claimed.push(e);
            }
        }
        Ok(claimed)
    }

    /// Hands claimed messages back, due at `now` (a sender stopping).
    pub async fn release_mail(&self, ids: &[i64], now: Timestamp) -> Result<(), StoreError> {
        for id in ids {
            sqlx::query("UPDATE outbox SET next_attempt_at = $1 WHERE id = $2 AND sent_at IS NULL")
                .bind(now.0)
                .bind(id)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    pub async fn mail_sent(&self, id: i64, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query(&format!("UPDATE outbox SET sent_at = $1, attempts = attempts + 1, last_error = NULL, {FORGET} WHERE id = $2"))
            .bind(now.0)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records that the mail server refused a message for good (a
    /// permanent 5xx): it is not tried again, and no longer counts as a
    /// backlog.
    pub async fn mail_refused(
        &self,
        id: i64,
        error: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            &format!("UPDATE outbox SET attempts = attempts + 1, gave_up_at = $1, last_error = $2, {FORGET} WHERE id = $3"),
        )
        .bind(now.0)
        .bind(error.chars().take(1000).collect::<String>())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records a failed attempt; the next is due after [`backoff`].
    pub async fn mail_failed(
        &self,
        id: i64,
        error: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let attempts: i64 = sqlx::query("SELECT attempts FROM outbox WHERE id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        sqlx::query(
            "UPDATE outbox SET attempts = $1, next_attempt_at = $2, last_error = $3 WHERE id = $4",
        )
        .bind(attempts + 1)
        .bind(now.0 + backoff(attempts + 1))
        .bind(error.chars().take(1000).collect::<String>())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The outbox, newest first (admins only).
    pub async fn outbox(&self, actor: &Actor, limit: u32) -> Result<Vec<OutboxEntry>, StoreError> {
        self.outbox_before(actor, limit, None).await
    }

    /// The page of messages older than message `before`, newest first.
    pub async fn outbox_before(
        &self,
        actor: &Actor,
        limit: u32,
        before: Option<i64>,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        if !actor.may_read_outbox() {
            return Err(StoreError::Domain(DomainError::NotFound));
        }
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM outbox WHERE id < $1 ORDER BY id DESC LIMIT $2"
        ))
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(entry).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let waits: Vec<i64> = (1..=10).map(backoff).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
    }
}
