//! Enquiries: requests for support from the public form or imported mail,
//! and the programme's triage of them. Each enquiry's history is a hash
//! chain of its own (`enquiry_events`), checked by `verify` like an
//! engagement's, so triage is audited the same way.

use serde::Serialize;
use sqlx::{Any, Row, Transaction};
pub use waymark_core::enquiry::{EnquiryCommand, EnquiryStatus, Triage};
use waymark_core::{Actor, Command, DomainError, EngagementId, PersonId, Timestamp, enquiry};

use crate::chain::ENQUIRY_CHAIN;
use crate::records::{FileRow, NewFile, insert_file, sha256_bytes};
use crate::{Mail, Store, StoreError, json, unjson};

/// An enquiry as it arrives.
#[derive(Debug, Clone, Default)]
pub struct NewEnquiry {
    /// "form" or "email".
    pub source: String,
    /// The mail's Message-ID: importing the same message again adds nothing.
    pub message_id: Option<String>,
    pub agency_name: String,
    pub contact_name: String,
    pub contact_email: String,
    pub contact_role: String,
    pub subject: String,
    pub body: String,
    pub timeframe: String,
    pub preference: String,
    pub attachments: Vec<NewFile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Enquiry {
    pub id: i64,
    pub source: String,
    pub message_id: Option<String>,
    pub agency_name: String,
    pub contact_name: String,
    pub contact_email: String,
    pub contact_role: String,
    pub subject: String,
    pub body: String,
    pub timeframe: String,
    pub preference: String,
    pub status: EnquiryStatus,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub engagement: Option<EngagementId>,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub received_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnquiryEvent {
    pub seq: i64,
    /// None: the public (the form, or mail import).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub actor: Option<PersonId>,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub at: Timestamp,
    pub triage: Triage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    Added(i64),
    /// A message with this Message-ID was imported before, as this enquiry.
    Duplicate(i64),
}

const COLUMNS: &str = "id, source, message_id, agency_name, contact_name, contact_email, contact_role, subject, body, timeframe, preference, status, engagement_id, received_at";

fn enquiry_row(r: &sqlx::any::AnyRow) -> Result<Enquiry, StoreError> {
    Ok(Enquiry {
        id: r.try_get("id")?,
        source: r.try_get("source")?,
        message_id: r.try_get("message_id")?,
        agency_name: r.try_get("agency_name")?,
        contact_name: r.try_get("contact_name")?,
        contact_email: r.try_get("contact_email")?,
        contact_role: r.try_get("contact_role")?,
        subject: r.try_get("subject")?,
        body: r.try_get("body")?,
        timeframe: r.try_get("timeframe")?,
        preference: r.try_get("preference")?,
        status: status(&r.try_get::<String, _>("status")?)?,
        engagement: r
            .try_get::<Option<i64>, _>("engagement_id")?
            .map(EngagementId),
        received_at: Timestamp(r.try_get("received_at")?),
    })
}

/// What an enquiry's hash covers: everything that arrived, and each
/// attachment by id and SHA-256 (whose bytes `verify` checks separately).
#[derive(Serialize)]
struct Content<'a> {
    source: &'a str,
    message_id: Option<&'a str>,
    agency_name: &'a str,
    contact_name: &'a str,
    contact_email: &'a str,
    contact_role: &'a str,
    subject: &'a str,
    body: &'a str,
    timeframe: &'a str,
    preference: &'a str,
    received_at: i64,
    files: Vec<(i64, &'a str)>,
}

/// The SHA-256 of an enquiry's content and its attachments' hashes.
pub(crate) fn content_hash(e: &Enquiry, files: &[FileRow]) -> Result<String, StoreError> {
    let c = Content {
        source: &e.source,
        message_id: e.message_id.as_deref(),
        agency_name: &e.agency_name,
        contact_name: &e.contact_name,
        contact_email: &e.contact_email,
        contact_role: &e.contact_role,
        subject: &e.subject,
        body: &e.body,
        timeframe: &e.timeframe,
        preference: &e.preference,
        received_at: e.received_at.0,
        files: files.iter().map(|f| (f.id, f.sha256.as_str())).collect(),
    };
    Ok(crate::chain::sha256(&json(&c)?))
}

fn status(s: &str) -> Result<EnquiryStatus, StoreError> {
    EnquiryStatus::parse(s).ok_or_else(|| StoreError::Corrupt(format!("enquiry status {s}")))
}

/// Appends one event to an enquiry's chain (the row must be locked).
pub(crate) async fn append(
    tx: &mut Transaction<'_, Any>,
    id: i64,
    actor: Option<PersonId>,
    triage: &Triage,
    now: Timestamp,
) -> Result<(), StoreError> {
    let actor_id = actor.map_or(0, |p| p.0);
    let seq = ENQUIRY_CHAIN
        .append(tx, id, actor_id, now, triage.kind(), &json(triage)?)
        .await?;
    crate::webhooks::queue_enquiry(tx, id, seq, triage, actor, now).await
}

/// A broken link in an enquiry's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenEnquiry {
    pub enquiry: i64,
    pub seq: i64,
    pub reason: String,
}

pub(crate) async fn verify(
    conn: &mut sqlx::AnyConnection,
    redacted: &crate::removal::Redacted,
) -> Result<(usize, usize, Vec<BrokenEnquiry>), StoreError> {
    let heads = ENQUIRY_CHAIN.heads(&mut *conn).await?;
    let mut events = 0;
    let mut broken = Vec::new();
    for h in &heads {
        let id = h.0;
        let (n, payloads, bad) = ENQUIRY_CHAIN.check(&mut *conn, h, redacted).await?;
        events += n;
        let bad = match bad {
            Some((seq, reason)) => Some(BrokenEnquiry {
                enquiry: id,
                seq,
                reason,
            }),
            None => check_content(&mut *conn, id, &payloads).await?,
        };
        broken.extend(bad);
    }
    Ok((heads.len(), events, broken))
}

/// Refuses an enquiry whose row no longer says what its chain recorded.
async fn refuse_if_altered(pool: &sqlx::AnyPool, id: i64) -> Result<(), StoreError> {
    // The events and the row are read one after the other: a triage that
    // commits between the two reads looks like an alteration. A real one
    // is still there when read again; a race is not.
    let mut tries = 0;
    loop {
        let payloads: Vec<String> =
            sqlx::query("SELECT payload FROM enquiry_events WHERE enquiry_id = $1 ORDER BY seq")
                .bind(id)
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?;
        match check_content(&mut *pool.acquire().await?, id, &payloads).await? {
            None => return Ok(()),
            Some(_) if tries < 3 => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(20 * tries)).await;
            }
            Some(b) => {
                return Err(StoreError::Corrupt(format!(
                    "enquiry {id} is not shown or changed: {}; run `waymark audit verify`",
                    b.reason
                )));
            }
        }
    }
}

/// How long a claim to convert an enquiry holds unrenewed.
pub const CLAIM_SECONDS: i64 = 300;

/// Whether enquiry `id`'s row still says what its chain (whose links are
/// already checked) recorded: its content's hash, its status and engagement.
async fn check_content(
    conn: &mut sqlx::AnyConnection,
    id: i64,
    payloads: &[String],
) -> Result<Option<BrokenEnquiry>, StoreError> {
    let mut content = None;
    let mut status = EnquiryStatus::Open;
    let mut engagement = None;
    let mut messages = Vec::new();
    for p in payloads {
        match unjson::<Triage>(p) {
            Ok(Triage::MailIn { message, content } | Triage::Replied { message, content }) => {
                messages.push((message, content));
            }
            Ok(Triage::Received { content: c, .. }) => content = c.or(content),
            Ok(Triage::Sealed { content: c }) => content = Some(c),
            Ok(Triage::Note { .. }) => {}
            Ok(Triage::Converted { engagement: e, .. }) => {
                status = EnquiryStatus::Converted;
                engagement = Some(e);
            }
            Ok(Triage::Attached { engagement: e }) => {
                status = EnquiryStatus::Attached;
                engagement = Some(e);
            }
            Ok(Triage::Closed { .. }) => status = EnquiryStatus::Closed,
            Err(_) => {
                return Ok(Some(BrokenEnquiry {
                    enquiry: id,
                    seq: 0,
                    reason: "an event's payload is not a valid triage step".into(),
                }));
            }
        }
    }
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM enquiries WHERE id = $1"))
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    let broken = |reason: String| {
        Ok(Some(BrokenEnquiry {
            enquiry: id,
            seq: 0,
            reason,
        }))
    };
    let e = match enquiry_row(&row) {
        Ok(e) => e,
        Err(_) => {
            return broken("its row cannot be read (its status is not one Waymark writes)".into());
        }
    };
    let files = files_of(&mut *conn, id).await?;
    match content {
        None => {
            return broken(
                "its content was never sealed into its chain (run `waymark db migrate`)".into(),
            );
        }
        // A removal of personal data changed the row: it must hold what
        // the removal left.
        Some(c)
            if crate::removal::redactions(&mut *conn, "enquiries", id)
                .await?
                .get(&0)
                .unwrap_or(&c)
                != &content_hash(&e, &files)? =>
        {
            return broken(
                "its content (sender, subject, text or attachments) was changed after it was recorded"
                    .into(),
            );
        }
        Some(_) => {}
    }
    if e.status != status || e.engagement != engagement {
        return broken(format!(
            "its row says {} but its history says {}",
            e.status.as_str(),
            status.as_str()
        ));
    }
    if let Some(reason) = crate::mailbox::check_messages(&mut *conn, id, &messages).await? {
        return broken(reason);
    }
    Ok(None)
}

/// The content hash of enquiry `id` as its row and files hold it now.
pub(crate) async fn current_content_hash(
    conn: &mut sqlx::AnyConnection,
    id: i64,
) -> Result<String, StoreError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM enquiries WHERE id = $1"))
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    let e = enquiry_row(&row)?;
    let files = files_of(&mut *conn, id).await?;
    content_hash(&e, &files)
}

async fn files_of<'e>(
    db: impl sqlx::Executor<'e, Database = Any>,
    enquiry: i64,
) -> Result<Vec<FileRow>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {} FROM files WHERE enquiry_id = $1 ORDER BY id",
        crate::records::FILE_COLUMNS
    ))
    .bind(enquiry)
    .fetch_all(db)
    .await?;
    rows.iter().map(crate::records::file_row).collect()
}

/// Appends the event that binds an enquiry's content (`received` or
/// `sealed`) and marks the row as bound.
async fn bind_content(
    tx: &mut Transaction<'_, Any>,
    id: i64,
    step: &Triage,
    content: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    append(tx, id, None, step, now).await?;
    sqlx::query("UPDATE enquiries SET content_hash = $1 WHERE id = $2")
        .bind(content)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Appends a [`Triage::Sealed`] event to every enquiry whose content is not
/// yet bound into its chain (those received before the upgrade that binds
/// it), once: part of `Store::migrate`.
pub(crate) async fn seal_unsealed(store: &Store) -> Result<usize, StoreError> {
    let ids: Vec<i64> =
        sqlx::query("SELECT id FROM enquiries WHERE content_hash IS NULL ORDER BY id")
            .fetch_all(&store.pool)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
    for id in &ids {
        let _turn = store.write_turn().await;
        let mut tx = store.pool.begin().await?;
        sqlx::query("UPDATE enquiries SET event_count = event_count WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM enquiries WHERE id = $1 AND content_hash IS NULL"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { continue };
        let e = enquiry_row(&row)?;
        let files = files_of(&mut *tx, *id).await?;
        let content = content_hash(&e, &files)?;
        let sealed = Triage::Sealed {
            content: content.clone(),
        };
        bind_content(&mut tx, *id, &sealed, &content, crate::now()).await?;
        tx.commit().await?;
    }
    Ok(ids.len())
}

impl Store {
    /// Records an enquiry, its attachments, and an acknowledgement to its
    /// sender in the outbox, all in one transaction. A message already
    /// imported (same Message-ID) adds nothing.
    pub async fn add_enquiry(
        &self,
        e: &NewEnquiry,
        acknowledgement: Option<&Mail>,
        now: Timestamp,
    ) -> Result<ImportOutcome, StoreError> {
        if let Some(mid) = &e.message_id
            && let Some(id) = self.enquiry_by_message_id(mid).await?
        {
            return Ok(ImportOutcome::Duplicate(id));
        }
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let id = match self
            .insert_enquiry(&mut tx, e, acknowledgement.cloned(), now)
            .await
        {
            Ok(id) => id,
            // Another import of the same message won the race.
            Err(StoreError::Db(err)) if crate::error::is_unique_violation(&err) => {
                drop(tx);
                let mid = e.message_id.as_deref().unwrap_or_default();
                return match self.enquiry_by_message_id(mid).await? {
                    Some(id) => Ok(ImportOutcome::Duplicate(id)),
                    None => Err(StoreError::Db(err)),
                };
            }
            Err(err) => return Err(err),
        };
        tx.commit().await?;
        Ok(ImportOutcome::Added(id))
    }

    /// Inserts an enquiry, its attachments, the event that binds its
    /// content, its search entry and its acknowledgement (tagged with its
    /// number and threaded on its message) inside `tx`.
    pub(crate) async fn insert_enquiry(
        &self,
        tx: &mut Transaction<'_, Any>,
        e: &NewEnquiry,
        acknowledgement: Option<Mail>,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        let id: i64 = sqlx::query(
            "INSERT INTO enquiries (source, message_id, agency_name, contact_name, contact_email, contact_role, subject, body, timeframe, preference, status, received_at, event_count, head_hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open', $11, 0, '') RETURNING id",
        )
        .bind(&e.source)
        .bind(&e.message_id)
        .bind(&e.agency_name)
        .bind(&e.contact_name)
        .bind(&e.contact_email)
        .bind(&e.contact_role)
        .bind(&e.subject)
        .bind(&e.body)
        .bind(&e.timeframe)
        .bind(&e.preference)
        .bind(now.0)
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?;
        let mut files = Vec::new();
        for f in &e.attachments {
            let sha = sha256_bytes(&f.bytes);
            let dir = self.files_dir.as_deref().map(|p| p.as_path());
            let file = insert_file(tx, dir, f, &sha, None, Some(id), PersonId(0), now).await?;
            files.push(FileRow {
                id: file,
                sha256: sha,
                size: f.bytes.len() as u64,
                content_type: f.content_type.clone(),
                name: f.name.clone(),
                engagement: None,
                enquiry: Some(id),
                created_at: now,
            });
        }
        let recorded = Enquiry {
            id,
            source: e.source.clone(),
            message_id: e.message_id.clone(),
            agency_name: e.agency_name.clone(),
            contact_name: e.contact_name.clone(),
            contact_email: e.contact_email.clone(),
            contact_role: e.contact_role.clone(),
            subject: e.subject.clone(),
            body: e.body.clone(),
            timeframe: e.timeframe.clone(),
            preference: e.preference.clone(),
            status: EnquiryStatus::Open,
            engagement: None,
            received_at: now,
        };
        let content = content_hash(&recorded, &files)?;
        let received = Triage::Received {
            source: e.source.clone(),
            content: Some(content.clone()),
        };
        bind_content(tx, id, &received, &content, now).await?;
        crate::search::index_enquiry(tx, id).await?;
        // Answers to the message that opened it thread onto it.
        if let Some(mid) = &e.message_id {
            crate::mailbox::remember(tx, mid, id).await?;
        }
        if let Some(mut m) = acknowledgement {
            m.subject = enquiry::tagged_subject(&m.subject, id);
            if let Some(t) = &mut m.thread {
                t.enquiry = Some(id);
                let original = e.message_id.clone().filter(|m| !m.starts_with("sha256:"));
                t.in_reply_to = original.clone();
                t.references = original.into_iter().collect();
            }
            crate::outbox::queue(tx, &m, now).await?;
        }
        Ok(id)
    }

    async fn enquiry_by_message_id(&self, mid: &str) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT id FROM enquiries WHERE message_id = $1")
            .bind(mid)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// Enquiries for the programme, newest first; `status` narrows them.
    pub async fn enquiries(
        &self,
        actor: &Actor,
        status: Option<EnquiryStatus>,
        limit: u32,
    ) -> Result<Vec<Enquiry>, StoreError> {
        self.enquiries_after(actor, status, limit, None).await
    }

    /// The page of enquiries after `after` (the last one's received time
    /// and id), newest first: a walk by it neither skips nor repeats one
    /// while new ones arrive.
    pub async fn enquiries_after(
        &self,
        actor: &Actor,
        status: Option<EnquiryStatus>,
        limit: u32,
        after: Option<(Timestamp, i64)>,
    ) -> Result<Vec<Enquiry>, StoreError> {
        enquiry::visible(actor)?;
        let (at, id) = after.map_or((i64::MAX, i64::MAX), |(t, id)| (t.0, id));
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM enquiries WHERE ($1 = '' OR status = $1) \
             AND (received_at < $2 OR (received_at = $2 AND id < $3)) \
             ORDER BY received_at DESC, id DESC LIMIT $4"
        ))
        .bind(status.map_or("", |s| s.as_str()))
        .bind(at)
        .bind(id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(enquiry_row).collect()
    }

    /// One enquiry with its history and attachments (the programme only).
    pub async fn enquiry(
        &self,
        actor: &Actor,
        id: i64,
    ) -> Result<(Enquiry, Vec<EnquiryEvent>, Vec<FileRow>), StoreError> {
        enquiry::visible(actor)?;
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM enquiries WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::Domain(DomainError::NotFound))?;
        let rows = sqlx::query(
            "SELECT seq, actor_id, at, payload FROM enquiry_events WHERE enquiry_id = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let events = rows
            .iter()
            .map(|r| {
                let actor: i64 = r.try_get("actor_id")?;
                Ok(EnquiryEvent {
                    seq: r.try_get("seq")?,
                    actor: (actor != 0).then_some(PersonId(actor)),
                    at: Timestamp(r.try_get("at")?),
                    triage: unjson(&r.try_get::<String, _>("payload")?)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // Shown only as its chain recorded it.
        refuse_if_altered(&self.pool, id).await?;
        Ok((enquiry_row(&row)?, events, self.enquiry_files(id).await?))
    }

    /// Records what the programme does with an enquiry (the core decides:
    /// `waymark_core::enquiry::decide`). Converting or attaching moves the
    /// enquiry's attachments onto the engagement, each recorded there as a
    /// document.
    pub async fn triage(
        &self,
        actor: &Actor,
        id: i64,
        cmd: &EnquiryCommand,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        enquiry::visible(actor)?;
        // No such enquiry is a 404, not a broken chain.
        if sqlx::query("SELECT id FROM enquiries WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .is_none()
        {
            return Err(StoreError::Domain(DomainError::NotFound));
        }
        refuse_if_altered(&self.pool, id).await?;
        let engagement = cmd.engagement();
        let target = match engagement {
            Some(e) => Some(self.engagement(actor, e).await?.agency),
            None => None,
        };
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        // Lock the enquiry's row, then decide on its current status.
        let locked = sqlx::query("UPDATE enquiries SET event_count = event_count WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if locked.rows_affected() == 0 {
            return Err(StoreError::Domain(DomainError::NotFound));
        }
        let row = sqlx::query("SELECT status, claimed_at FROM enquiries WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let current = status(&row.try_get::<String, _>("status")?)?;
        // A conversion under way holds the enquiry: closing or attaching it
        // now would leave that conversion's engagement belonging to nothing.
        let claimed = row
            .try_get::<Option<i64>, _>("claimed_at")?
            .is_some_and(|at| at >= now.0 - CLAIM_SECONDS);
        if claimed
            && matches!(
                cmd,
                EnquiryCommand::Close { .. } | EnquiryCommand::Attach { .. }
            )
        {
            return crate::finish(
                tx,
                Err(DomainError::rule(
                    "someone is converting this enquiry now; look again in a moment",
                )
                .into()),
            )
            .await;
        }
        for step in enquiry::decide(actor, current, target, cmd)? {
            if let Some((s, engagement)) = step.outcome() {
                sqlx::query("UPDATE enquiries SET status = $1, engagement_id = $2 WHERE id = $3")
                    .bind(s.as_str())
                    .bind(engagement.map(|e| e.0))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            append(&mut tx, id, Some(actor.person), &step, now).await?;
        }
        tx.commit().await?;
        drop(_turn);
        if let Some(e) = engagement {
            for f in self.enquiry_files(id).await? {
                if f.engagement.is_some() {
                    continue;
                }
                let current = self.engagement(actor, e).await?;
                let cmd = Command::AttachDocument {
                    file: f.id,
                    title: format!("Attachment to enquiry {id}").into(),
                    name: f.name.as_str().into(),
                    content_type: f.content_type.as_str().into(),
                    size: f.size,
                    sha256: f.sha256.as_str().into(),
                };
                self.transact(
                    actor,
                    e,
                    current.version,
                    crate::Write::Command(cmd, crate::Extra::Kept),
                    now,
                )
                .await?;
                sqlx::query("UPDATE files SET engagement_id = $1 WHERE id = $2")
                    .bind(e.0)
                    .bind(f.id)
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(())
    }

    /// Claims an open enquiry for converting: one claim at a time, so two
    /// people converting it at once never both start an engagement. A
    /// claim older than [`CLAIM_SECONDS`] (its process died) may be taken
    /// over. Refused when the enquiry is no longer open or is being
    /// converted now. [`Store::release_enquiry`] ends the claim.
    pub async fn claim_enquiry(
        &self,
        actor: &Actor,
        id: i64,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        enquiry::visible(actor)?;
        let _turn = self.write_turn().await;
        let done = sqlx::query(
            "UPDATE enquiries SET claimed_at = $1 WHERE id = $2 AND status = 'open' \
             AND (claimed_at IS NULL OR claimed_at < $3)",
        )
        .bind(now.0)
        .bind(id)
        .bind(now.0 - CLAIM_SECONDS)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(());
        }
        let row = sqlx::query("SELECT status FROM enquiries WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::Domain(DomainError::NotFound))?;
        let current = status(&row.try_get::<String, _>(0)?)?;
        enquiry::still_open(current)?;
        Err(
            DomainError::rule("someone is converting this enquiry now; look again in a moment")
                .into(),
        )
    }

    /// Ends a claim [`Store::claim_enquiry`] made (done, or given up).
    pub async fn release_enquiry(&self, id: i64) -> Result<(), StoreError> {
        let _turn = self.write_turn().await;
        sqlx::query("UPDATE enquiries SET claimed_at = NULL WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Counts a submission of the public form from `key` and returns how
    /// many there were since `since` (this one included).
    pub async fn count_form_submission(
        &self,
        key: &str,
        since: Timestamp,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        sqlx::query("INSERT INTO form_submissions (key, at) VALUES ($1, $2)")
            .bind(key)
            .bind(now.0)
            .execute(&self.pool)
            .await?;
        let n: i64 =
            sqlx::query("SELECT COUNT(*) FROM form_submissions WHERE key = $1 AND at >= $2")
                .bind(key)
                .bind(since.0)
                .fetch_one(&self.pool)
                .await?
                .try_get(0)?;
        Ok(n as u64)
    }
}
