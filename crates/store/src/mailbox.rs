//! Mail taken from the programme's mailbox (or imported from files), each
//! message once, and enquiries' conversations.
//!
//! [`Store::take_mail`] is the one way a message comes in. In one
//! transaction it refuses a message already taken (by its mailbox,
//! UIDVALIDITY and UID, or by its Message-ID), finds the enquiry its thread
//! names, lets `waymark_core::mailbox::route` decide where it goes, writes
//! it there (a new enquiry and its acknowledgement, a message on a
//! conversation, a workshop answer on the engagement's chain, or a record
//! only) and records it in `inbound_mail`. A crash before the commit leaves
//! the message in the mailbox to be taken again; after it, the mailbox
//! reader finds it taken and only moves it.
//!
//! The programme's answers ([`Store::reply_to_enquiry`]) go through the
//! outbox with their own Message-IDs and thread headers. Each message of a
//! conversation is bound into the enquiry's hash chain by the event that
//! added it.

use serde::Serialize;
use sqlx::{Any, Row, Transaction};
use waymark_core::mailbox::{self, CalendarReply, Route, Thread};
use waymark_core::{Actor, DomainError, Engagement, EngagementId, PersonId, Text, Timestamp};

use crate::Backend;
use crate::engagements::{Head, append_and_save};
use crate::intake::NewEnquiry;
use crate::records::{FILE_COLUMNS, FileRow, NewFile, file_row, insert_file, sha256_bytes};
use crate::{Mail, MailThread, Store, StoreError, json, unjson};

/// Where a message sits on an IMAP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxKey {
    pub mailbox: String,
    pub uidvalidity: u32,
    pub uid: u32,
}

/// A message as it arrives, read by the web layer's parser.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub key: Option<MailboxKey>,
    /// Where it came from, for the record: `imap://host/INBOX`, a file.
    pub source: String,
    /// Its Message-ID, or `sha256:` and its bytes' hash when it has none.
    pub message_id: String,
    /// The SHA-256 of its bytes (hex).
    pub digest: String,
    /// The ids it answers: `In-Reply-To` first, then `References` from the
    /// newest back. At most 50 are looked at.
    pub references: Vec<String>,
    pub sender: String,
    pub subject: String,
    pub size: u64,
    /// The header block as text (at most 64 KB), kept for the record.
    pub headers: String,
    pub parsed: Parsed,
}

/// What the parser made of a message. (One is built per message taken, so
/// the size of the largest variant costs nothing worth a box.)
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Parsed {
    /// A message a person (or a robot, `automatic`) wrote.
    Message {
        enquiry: NewEnquiry,
        automatic: Option<&'static str>,
        calendar: Option<CalendarReply>,
    },
    /// It could not be read; its bytes are kept (when they fit).
    Unreadable { reason: String, raw: Vec<u8> },
    /// Over [`mailbox::MAX_MESSAGE_BYTES`]: only its headers were read.
    TooLarge,
}

/// What became of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Taken {
    Enquiry {
        enquiry: i64,
    },
    Conversation {
        enquiry: i64,
        message: i64,
    },
    Attendance {
        engagement: i64,
        workshop: u32,
    },
    /// Kept as a record only, with why.
    Recorded {
        record: i64,
        reason: String,
    },
    /// Taken before (this key or this Message-ID).
    Duplicate,
}

/// A message of an enquiry's conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Message {
    pub id: i64,
    /// "in" (from the sender) or "out" (the programme's answer).
    pub direction: String,
    pub message_id: String,
    pub sender: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub author: Option<PersonId>,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub at: Timestamp,
    pub files: Vec<FileRow>,
}

/// One message taken from a mailbox, as the programme's record shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InboundRecord {
    pub id: i64,
    pub source: String,
    pub message_id: String,
    pub outcome: String,
    pub enquiry: Option<i64>,
    pub reason: String,
    pub sender: String,
    pub subject: String,
    pub size: i64,
    pub headers: String,
    pub file: Option<i64>,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub at: Timestamp,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub reviewed_at: Option<Timestamp>,
}

/// How a mailbox reader is doing, as its holder last wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MailboxStatus {
    pub mailbox: String,
    pub holder: String,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub expires_at: Timestamp,
    pub state: String,
    pub detail: String,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub checked_at: Timestamp,
    pub failures: i64,
}

/// A holder's claim on a mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub mailbox: String,
    pub holder: String,
}

/// How many ids of a thread are looked up.
const MAX_REFERENCES: usize = 50;

/// Records that `message_id` belongs to `enquiry`'s conversation.
pub(crate) async fn remember(
    tx: &mut Transaction<'_, Any>,
    message_id: &str,
    enquiry: i64,
) -> Result<(), StoreError> {
    if message_id.is_empty() || message_id.starts_with("sha256:") {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO mail_threads (message_id, enquiry_id) VALUES ($1, $2) ON CONFLICT (message_id) DO NOTHING",
    )
    .bind(message_id)
    .bind(enquiry)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// What a conversation message's hash covers.
#[derive(Serialize)]
struct Content<'a> {
    direction: &'a str,
    message_id: &'a str,
    sender: &'a str,
    recipient: &'a str,
    subject: &'a str,
    body: &'a str,
    author: Option<i64>,
    at: i64,
    files: Vec<(i64, &'a str)>,
}

pub(crate) fn message_hash(m: &Message) -> Result<String, StoreError> {
    Ok(crate::chain::sha256(&json(&Content {
        direction: &m.direction,
        message_id: &m.message_id,
        sender: &m.sender,
        recipient: &m.recipient,
        subject: &m.subject,
        body: &m.body,
        author: m.author.map(|p| p.0),
        at: m.at.0,
        files: m.files.iter().map(|f| (f.id, f.sha256.as_str())).collect(),
    })?))
}

const MESSAGE_COLUMNS: &str =
    "id, direction, message_id, sender, recipient, subject, body, author_id, at";

fn message_row(r: &sqlx::any::AnyRow) -> Result<Message, StoreError> {
    Ok(Message {
        id: r.try_get("id")?,
        direction: r.try_get("direction")?,
        message_id: r.try_get("message_id")?,
        sender: r.try_get("sender")?,
        recipient: r.try_get("recipient")?,
        subject: r.try_get("subject")?,
        body: r.try_get("body")?,
        author: r.try_get::<Option<i64>, _>("author_id")?.map(PersonId),
        at: Timestamp(r.try_get("at")?),
        files: Vec::new(),
    })
}

/// An enquiry's conversation messages, oldest first, with their files.
pub(crate) async fn messages_of(
    conn: &mut sqlx::AnyConnection,
    enquiry: i64,
) -> Result<Vec<Message>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM enquiry_messages WHERE enquiry_id = $1 ORDER BY id"
    ))
    .bind(enquiry)
    .fetch_all(&mut *conn)
    .await?;
    let mut out: Vec<Message> = rows.iter().map(message_row).collect::<Result<_, _>>()?;
    let files = sqlx::query(&format!(
        "SELECT {FILE_COLUMNS}, message_id FROM files WHERE message_id IN \
         (SELECT id FROM enquiry_messages WHERE enquiry_id = $1) ORDER BY id"
    ))
    .bind(enquiry)
    .fetch_all(&mut *conn)
    .await?;
    for r in &files {
        let owner: i64 = r.try_get("message_id")?;
        if let Some(m) = out.iter_mut().find(|m| m.id == owner) {
            m.files.push(file_row(r)?);
        }
    }
    Ok(out)
}

/// Inserts a conversation message and its files; returns it as stored.
#[allow(clippy::too_many_arguments)]
async fn insert_message(
    tx: &mut Transaction<'_, Any>,
    dir: Option<&std::path::Path>,
    enquiry: i64,
    direction: &str,
    message_id: &str,
    sender: &str,
    recipient: &str,
    subject: &str,
    body: &str,
    author: Option<PersonId>,
    files: &[NewFile],
    now: Timestamp,
) -> Result<Message, StoreError> {
    let id: i64 = sqlx::query(
        "INSERT INTO enquiry_messages (enquiry_id, direction, message_id, sender, recipient, subject, body, author_id, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(enquiry)
    .bind(direction)
    .bind(message_id)
    .bind(sender)
    .bind(recipient)
    .bind(subject)
    .bind(body)
    .bind(author.map(|p| p.0))
    .bind(now.0)
    .fetch_one(&mut **tx)
    .await?
    .try_get(0)?;
    let mut rows = Vec::new();
    for f in files {
        let sha = sha256_bytes(&f.bytes);
        let file = insert_file(tx, dir, f, &sha, None, None, PersonId(0), now).await?;
        sqlx::query("UPDATE files SET message_id = $1 WHERE id = $2")
            .bind(id)
            .bind(file)
            .execute(&mut **tx)
            .await?;
        rows.push(FileRow {
            id: file,
            sha256: sha,
            size: f.bytes.len() as u64,
            content_type: f.content_type.clone(),
            name: f.name.clone(),
            engagement: None,
            enquiry: None,
            created_at: now,
        });
    }
    remember(tx, message_id, enquiry).await?;
    Ok(Message {
        id,
        direction: direction.into(),
        message_id: message_id.into(),
        sender: sender.into(),
        recipient: recipient.into(),
        subject: subject.into(),
        body: body.into(),
        author,
        at: now,
        files: rows,
    })
}

/// Locks an enquiry's row for appending to its chain.
async fn lock_enquiry(tx: &mut Transaction<'_, Any>, id: i64) -> Result<(), StoreError> {
    let locked = sqlx::query("UPDATE enquiries SET event_count = event_count WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    if locked.rows_affected() == 0 {
        return Err(StoreError::Domain(DomainError::NotFound));
    }
    Ok(())
}

/// Which enquiry a message's thread headers, or failing them its subject's
/// tag, name.
async fn thread_of(
    tx: &mut Transaction<'_, Any>,
    references: &[String],
    subject: &str,
    sender: &str,
) -> Result<Thread, StoreError> {
    for r in references.iter().take(MAX_REFERENCES) {
        let row = sqlx::query(
            "SELECT t.enquiry_id, e.contact_email, \
             (SELECT COUNT(*) FROM outbox o WHERE o.message_id = t.message_id) AS ours \
             FROM mail_threads t JOIN enquiries e ON e.id = t.enquiry_id WHERE t.message_id = $1",
        )
        .bind(r)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(row) = row {
            let contact: String = row.try_get("contact_email")?;
            let ours: i64 = row.try_get("ours")?;
            // A stranger who learnt a sender's Message-ID does not join
            // their conversation (see `mailbox::may_thread`).
            if mailbox::may_thread(sender, &contact, ours > 0) {
                return Ok(Thread::Headers(row.try_get("enquiry_id")?));
            }
        }
    }
    if let Some(id) = waymark_core::enquiry::subject_enquiry(subject) {
        let row = sqlx::query("SELECT contact_email FROM enquiries WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
        if let Some(row) = row {
            let contact: String = row.try_get(0)?;
            return Ok(Thread::Tag {
                enquiry: id,
                sender_matches: contact.eq_ignore_ascii_case(sender.trim()),
            });
        }
    }
    Ok(Thread::None)
}

/// The engagement and workshop a workshop invitation's UID names
/// (`workshop-{engagement}-{workshop}@host`, as `ics::uid` writes it).
fn workshop_of(uid: &str) -> Option<(i64, u32)> {
    let local = uid.trim().strip_prefix("workshop-")?.split('@').next()?;
    let (e, w) = local.split_once('-')?;
    Some((e.parse().ok()?, w.parse().ok()?))
}

impl Store {
    /// Takes one message: see the module's header. `acknowledge` makes the
    /// acknowledgement a new enquiry gets (never sent for anything else).
    pub async fn take_mail(
        &self,
        m: &Incoming,
        acknowledge: Option<&(dyn Fn(&NewEnquiry) -> Mail + Sync)>,
        now: Timestamp,
    ) -> Result<Taken, StoreError> {
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        match self.take_in(&mut tx, m, acknowledge, now).await {
            Ok(Taken::Duplicate) => Ok(Taken::Duplicate),
            Ok(taken) => {
                tx.commit().await?;
                Ok(taken)
            }
            // Another instance took it at the same moment.
            Err(StoreError::Db(e)) if crate::error::is_unique_violation(&e) => Ok(Taken::Duplicate),
            Err(e) => Err(e),
        }
    }

    async fn take_in(
        &self,
        tx: &mut Transaction<'_, Any>,
        m: &Incoming,
        acknowledge: Option<&(dyn Fn(&NewEnquiry) -> Mail + Sync)>,
        now: Timestamp,
    ) -> Result<Taken, StoreError> {
        let (mailbox, validity, uid) = match &m.key {
            Some(k) => (
                k.mailbox.as_str(),
                Some(i64::from(k.uidvalidity)),
                Some(i64::from(k.uid)),
            ),
            None => (m.source.as_str(), None, None),
        };
        // Taken before: this place in this mailbox, or this message (after
        // UIDVALIDITY changed, or in another mailbox, or imported earlier
        // from a file, before this table existed too).
        let at_place = sqlx::query(
            "SELECT 1 FROM inbound_mail WHERE mailbox = $1 AND uidvalidity = $2 AND uid = $3",
        )
        .bind(mailbox)
        .bind(validity)
        .bind(uid)
        .fetch_optional(&mut **tx)
        .await?;
        if at_place.is_some() {
            return Ok(Taken::Duplicate);
        }
        // The same Message-ID: the same message again, unless it comes from
        // someone else or says something else (a sender's client reusing
        // ids, or a forger): then it is kept under its bytes' hash instead,
        // never dropped.
        // A message whose enquiry retention removed left only its
        // Message-ID: the same id again is that message, not taken twice
        // (taking it again would bring back what was removed).
        let earlier = sqlx::query(
            "SELECT sender, subject, outcome FROM inbound_mail WHERE message_id = $1 \
             UNION ALL SELECT contact_email, subject, '' FROM enquiries WHERE message_id = $1 \
             UNION ALL SELECT sender, subject, '' FROM enquiry_messages WHERE message_id = $1",
        )
        .bind(&m.message_id)
        .fetch_optional(&mut **tx)
        .await?;
        let rekeyed;
        let m = match earlier {
            None => m,
            Some(row) => {
                let (sender, subject): (String, String) = (row.try_get(0)?, row.try_get(1)?);
                let removed = row.try_get::<String, _>(2)? == "removed";
                let same = sender.eq_ignore_ascii_case(&m.sender)
                    && (subject == m.subject || subject == "(no subject)" && m.subject.is_empty());
                if same || removed || m.message_id.starts_with("sha256:") {
                    return Ok(Taken::Duplicate);
                }
                tracing::warn!(
                    "mail: a different message reuses the Message-ID {}; kept under its own hash",
                    m.message_id
                );
                let mut copy = m.clone();
                copy.message_id = format!("sha256:{}", m.digest);
                if let Parsed::Message { enquiry, .. } = &mut copy.parsed {
                    enquiry.message_id = Some(copy.message_id.clone());
                }
                let seen: Option<sqlx::any::AnyRow> =
                    sqlx::query("SELECT 1 FROM inbound_mail WHERE message_id = $1")
                        .bind(&copy.message_id)
                        .fetch_optional(&mut **tx)
                        .await?;
                if seen.is_some() {
                    return Ok(Taken::Duplicate);
                }
                rekeyed = copy;
                &rekeyed
            }
        };
        let dir = self.files_dir.as_deref().map(|p| p.as_path());
        let (outcome, enquiry, reason, file, taken) = match &m.parsed {
            Parsed::TooLarge => (
                "too_large",
                None,
                format!(
                    "it is {} MB, over the {} MB Waymark takes; only its headers were kept",
                    m.size.div_ceil(1024 * 1024),
                    mailbox::MAX_MESSAGE_BYTES / (1024 * 1024)
                ),
                None,
                None,
            ),
            Parsed::Unreadable { reason, raw } => {
                let file = if raw.is_empty() || raw.len() > crate::MAX_FILE_BYTES {
                    None
                } else {
                    let f = NewFile {
                        title: "Unreadable message".into(),
                        name: "message.eml".into(),
                        content_type: "message/rfc822".into(),
                        bytes: raw.clone(),
                    };
                    let sha = sha256_bytes(&f.bytes);
                    Some(insert_file(tx, dir, &f, &sha, None, None, PersonId(0), now).await?)
                };
                ("unreadable", None, reason.clone(), file, None)
            }
            Parsed::Message {
                enquiry,
                automatic,
                calendar,
            } => {
                let thread = thread_of(tx, &m.references, &m.subject, &m.sender).await?;
                match mailbox::route(*automatic, calendar.clone(), thread) {
                    Route::Automatic { reason, enquiry } => {
                        ("automatic", enquiry, reason.to_string(), None, None)
                    }
                    Route::Enquiry => {
                        // At most a few acknowledgements a day to one address.
                        let recent: i64 = sqlx::query(
                            "SELECT COUNT(*) FROM outbox WHERE kind = 'enquiry_acknowledgement' AND recipient = $1 AND created_at > $2",
                        )
                        .bind(&enquiry.contact_email)
                        .bind(now.0 - 86_400)
                        .fetch_one(&mut **tx)
                        .await?
                        .try_get(0)?;
                        let ack = acknowledge
                            .filter(|_| recent < mailbox::ACKNOWLEDGEMENTS_A_DAY)
                            .map(|f| f(enquiry));
                        let id = self.insert_enquiry(tx, enquiry, ack, now).await?;
                        (
                            "enquiry",
                            Some(id),
                            String::new(),
                            None,
                            Some(Taken::Enquiry { enquiry: id }),
                        )
                    }
                    Route::Conversation(id) => {
                        lock_enquiry(tx, id).await?;
                        let msg = insert_message(
                            tx,
                            dir,
                            id,
                            "in",
                            &m.message_id,
                            &enquiry.contact_email,
                            "",
                            &enquiry.subject,
                            &enquiry.body,
                            None,
                            &enquiry.attachments,
                            now,
                        )
                        .await?;
                        let event = waymark_core::enquiry::Triage::MailIn {
                            message: msg.id,
                            content: message_hash(&msg)?,
                        };
                        crate::intake::append(tx, id, None, &event, now).await?;
                        crate::search::index_enquiry(tx, id).await?;
                        (
                            "conversation",
                            Some(id),
                            String::new(),
                            None,
                            Some(Taken::Conversation {
                                enquiry: id,
                                message: msg.id,
                            }),
                        )
                    }
                    Route::Attendance(reply) => match self
                        .record_answer(tx, &reply, &m.sender, now)
                        .await?
                    {
                        Ok((engagement, workshop)) => (
                            "attendance",
                            None,
                            format!("{} {}", reply.attendee, reply.answer.label().to_lowercase()),
                            None,
                            Some(Taken::Attendance {
                                engagement,
                                workshop,
                            }),
                        ),
                        Err(why) => ("calendar_unmatched", None, why, None, None),
                    },
                }
            }
        };
        let record: i64 = sqlx::query(
            "INSERT INTO inbound_mail (mailbox, uidvalidity, uid, message_id, outcome, enquiry_id, reason, sender, subject, size, headers, file_id, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
        )
        .bind(mailbox)
        .bind(validity)
        .bind(uid)
        .bind(&m.message_id)
        .bind(outcome)
        .bind(enquiry)
        .bind(&reason)
        .bind(&m.sender)
        .bind(&m.subject)
        .bind(m.size as i64)
        .bind(&m.headers)
        .bind(file)
        .bind(now.0)
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?;
        Ok(taken.unwrap_or(Taken::Recorded { record, reason }))
    }

    /// Records an attendee's calendar answer on the engagement's chain (by
    /// mail: actor 0). `Err` says why it matched no invitation.
    async fn record_answer(
        &self,
        tx: &mut Transaction<'_, Any>,
        reply: &CalendarReply,
        sender: &str,
        now: Timestamp,
    ) -> Result<Result<(i64, u32), String>, StoreError> {
        let Some((id, workshop)) = workshop_of(&reply.uid) else {
            return Ok(Err(format!(
                "a calendar answer to “{}”, which is not a Waymark workshop",
                reply.uid
            )));
        };
        if self.backend == Backend::Postgres {
            sqlx::query("UPDATE engagements SET version = version WHERE id = $1")
                .bind(id)
                .execute(&mut **tx)
                .await?;
        }
        let row = sqlx::query(
            "SELECT state, version, event_count, head_hash FROM engagements WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(row) = row else {
            return Ok(Err(format!(
                "a calendar answer to engagement {id}, which does not exist"
            )));
        };
        let mut e: Engagement = unjson(&row.try_get::<String, _>("state")?)?;
        let event = match waymark_core::answer_invitation(
            &e,
            workshop,
            &reply.attendee,
            sender,
            reply.answer,
        ) {
            Ok(Some(ev)) => ev,
            // The same answer again changes nothing.
            Ok(None) => return Ok(Ok((id, workshop))),
            Err(DomainError::NotFound) => {
                return Ok(Err(format!(
                    "a calendar answer to workshop {workshop} of engagement {id}, which does not exist"
                )));
            }
            Err(DomainError::Rule(why)) => return Ok(Err(why)),
            Err(err) => {
                return Ok(Err(format!(
                    "a calendar answer that was not recorded: {err}"
                )));
            }
        };
        let at = Head::of(&row)?;
        if !append_and_save(tx, &mut e, &[event], PersonId(0), now, "mail", at).await? {
            return Err(StoreError::Domain(DomainError::Conflict {
                expected: 0,
                actual: 0,
            }));
        }
        Ok(Ok((id, workshop)))
    }

    /// The programme answers an enquiry's sender: a message on its
    /// conversation, bound into its chain, and the mail in the outbox with
    /// its thread headers, in one transaction. `from` is the programme's
    /// address; `signature` closes the text.
    pub async fn reply_to_enquiry(
        &self,
        actor: &Actor,
        id: i64,
        body: &Text<20000>,
        from: &str,
        signature: &str,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        let text = waymark_core::enquiry::reply(actor, body)?;
        let message_id = crate::new_message_id(from)?;
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        lock_enquiry(&mut tx, id).await?;
        let row =
            sqlx::query("SELECT contact_email, subject, message_id FROM enquiries WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        let to: String = row.try_get("contact_email")?;
        let subject: String = row.try_get("subject")?;
        let first: Option<String> = row.try_get("message_id")?;
        let earlier = messages_of(&mut tx, id).await?;
        // Answers the newest message from the sender, and names the thread.
        let mut references: Vec<String> = first
            .into_iter()
            .chain(earlier.iter().map(|m| m.message_id.clone()))
            .filter(|r| !r.starts_with("sha256:"))
            .collect();
        // The first and the newest, within one header line (998 octets).
        while references.len() > 1
            && (references.len() > 20
                || references.iter().map(|r| r.len() + 3).sum::<usize>() > 900)
        {
            references.remove(1);
        }
        references.retain(|r| r.len() < 900);
        let in_reply_to = earlier
            .iter()
            .rev()
            .find(|m| m.direction == "in")
            .map(|m| m.message_id.clone())
            .or_else(|| references.first().cloned())
            .filter(|r| !r.starts_with("sha256:"));
        let subject = waymark_core::enquiry::reply_subject(&subject, id);
        let body = format!("{text}{signature}");
        let msg = insert_message(
            &mut tx,
            None,
            id,
            "out",
            &message_id,
            from,
            &to,
            &subject,
            &body,
            Some(actor.person),
            &[],
            now,
        )
        .await?;
        let event = waymark_core::enquiry::Triage::Replied {
            message: msg.id,
            content: message_hash(&msg)?,
        };
        crate::intake::append(&mut tx, id, Some(actor.person), &event, now).await?;
        let mail = Mail {
            kind: "enquiry_reply".into(),
            to,
            subject,
            body,
            attachment: None,
            thread: Some(MailThread {
                message_id,
                in_reply_to,
                references,
                enquiry: Some(id),
            }),
            auto_submitted: None,
            unsubscribe: None,
            secret: None,
        };
        crate::outbox::queue(&mut tx, &mail, now).await?;
        crate::search::index_enquiry(&mut tx, id).await?;
        tx.commit().await?;
        Ok(msg.id)
    }

    /// An enquiry's conversation, oldest first (the programme only).
    /// An enquiry that does not exist is `NotFound`, not an empty one.
    pub async fn conversation(&self, actor: &Actor, id: i64) -> Result<Vec<Message>, StoreError> {
        waymark_core::enquiry::visible(actor)?;
        let mut conn = self.pool.acquire().await?;
        sqlx::query("SELECT 1 FROM enquiries WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(StoreError::Domain(DomainError::NotFound))?;
        messages_of(&mut conn, id).await
    }

    /// The enquiries an engagement came from, for its page's link back to
    /// their conversations (the programme only; others see none).
    pub async fn enquiries_of(
        &self,
        actor: &Actor,
        engagement: EngagementId,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        if !waymark_core::enquiry::may_see(actor) {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT id, subject FROM enquiries WHERE engagement_id = $1 ORDER BY id LIMIT 50",
        )
        .bind(engagement.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// Messages taken from the mailbox, newest first; `waiting` keeps only
    /// those the programme still has to look at (unreadable, too large).
    pub async fn inbound_mail(
        &self,
        actor: &Actor,
        waiting: bool,
        limit: u32,
    ) -> Result<Vec<InboundRecord>, StoreError> {
        waymark_core::enquiry::visible(actor)?;
        let filter = if waiting {
            "WHERE outcome IN ('unreadable', 'too_large') AND reviewed_at IS NULL"
        } else {
            ""
        };
        let rows = sqlx::query(&format!(
            "SELECT id, mailbox, message_id, outcome, enquiry_id, reason, sender, subject, size, headers, file_id, at, reviewed_at \
             FROM inbound_mail {filter} ORDER BY id DESC LIMIT $1"
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(InboundRecord {
                    id: r.try_get("id")?,
                    source: r.try_get("mailbox")?,
                    message_id: r.try_get("message_id")?,
                    outcome: r.try_get("outcome")?,
                    enquiry: r.try_get("enquiry_id")?,
                    reason: r.try_get("reason")?,
                    sender: r.try_get("sender")?,
                    subject: r.try_get("subject")?,
                    size: r.try_get("size")?,
                    headers: r.try_get("headers")?,
                    file: r.try_get("file_id")?,
                    at: Timestamp(r.try_get("at")?),
                    reviewed_at: r.try_get::<Option<i64>, _>("reviewed_at")?.map(Timestamp),
                })
            })
            .collect()
    }

    /// How many taken messages wait for the programme to look at them.
    pub async fn mail_waiting(&self, actor: &Actor) -> Result<i64, StoreError> {
        if !waymark_core::enquiry::may_see(actor) {
            return Ok(0);
        }
        Ok(sqlx::query(
            "SELECT COUNT(*) FROM inbound_mail WHERE outcome IN ('unreadable', 'too_large') AND reviewed_at IS NULL",
        )
        .fetch_one(&self.pool)
        .await?
        .try_get(0)?)
    }

    /// Marks a record the programme has dealt with.
    pub async fn review_inbound(
        &self,
        actor: &Actor,
        record: i64,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        waymark_core::enquiry::visible(actor)?;
        let done = sqlx::query(
            "UPDATE inbound_mail SET reviewed_by = $1, reviewed_at = $2 WHERE id = $3 AND reviewed_at IS NULL",
        )
        .bind(actor.person.0)
        .bind(now.0)
        .bind(record)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Domain(DomainError::NotFound));
        }
        Ok(())
    }

    /// Takes or renews `lease` for `ttl` seconds: true when this holder has
    /// it (it was free, had run out, or was already this holder's).
    pub async fn hold_mailbox(
        &self,
        lease: &Lease,
        ttl: i64,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO mailbox_leases (mailbox, holder, expires_at, state, detail, checked_at, failures) \
             VALUES ($1, $2, $3, 'starting', '', $4, 0) \
             ON CONFLICT (mailbox) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE mailbox_leases.holder = excluded.holder OR mailbox_leases.expires_at < $4",
        )
        .bind(&lease.mailbox)
        .bind(&lease.holder)
        .bind(now.0 + ttl)
        .bind(now.0)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives the lease up at once (a holder stopping), so another instance
    /// need not wait for it to run out.
    pub async fn release_mailbox(&self, lease: &Lease, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE mailbox_leases SET expires_at = $1, state = 'stopped', detail = 'the instance holding it stopped', checked_at = $1 \
             WHERE mailbox = $2 AND holder = $3",
        )
        .bind(now.0 - 1)
        .bind(&lease.mailbox)
        .bind(&lease.holder)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Writes how the mailbox is doing, as its holder sees it.
    pub async fn report_mailbox(
        &self,
        lease: &Lease,
        state: &str,
        detail: &str,
        failures: i64,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE mailbox_leases SET state = $1, detail = $2, failures = $3, checked_at = $4 WHERE mailbox = $5 AND holder = $6",
        )
        .bind(state)
        .bind(detail.chars().take(1000).collect::<String>())
        .bind(failures)
        .bind(now.0)
        .bind(&lease.mailbox)
        .bind(&lease.holder)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every mailbox read, and how it is doing (the programme only).
    pub async fn mailboxes(&self, actor: &Actor) -> Result<Vec<MailboxStatus>, StoreError> {
        waymark_core::enquiry::visible(actor)?;
        let rows = sqlx::query(
            "SELECT mailbox, holder, expires_at, state, detail, checked_at, failures FROM mailbox_leases ORDER BY mailbox",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(MailboxStatus {
                    mailbox: r.try_get("mailbox")?,
                    holder: r.try_get("holder")?,
                    expires_at: Timestamp(r.try_get("expires_at")?),
                    state: r.try_get("state")?,
                    detail: r.try_get("detail")?,
                    checked_at: Timestamp(r.try_get("checked_at")?),
                    failures: r.try_get("failures")?,
                })
            })
            .collect()
    }

    /// Whether message `message_id` (or this key) was taken already: a
    /// reader that crashed after taking it but before moving it only moves
    /// it.
    pub async fn mail_taken(&self, key: &MailboxKey) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "SELECT 1 FROM inbound_mail WHERE mailbox = $1 AND uidvalidity = $2 AND uid = $3",
        )
        .bind(&key.mailbox)
        .bind(i64::from(key.uidvalidity))
        .bind(i64::from(key.uid))
        .fetch_optional(&self.pool)
        .await?
        .is_some())
    }
}

/// Whether every conversation message an enquiry's chain names still says
/// what it said: `recorded` holds (message row id, hash) from the chain.
pub(crate) async fn check_messages(
    conn: &mut sqlx::AnyConnection,
    enquiry: i64,
    recorded: &[(i64, String)],
) -> Result<Option<String>, StoreError> {
    let messages = messages_of(conn, enquiry).await?;
    if messages.len() != recorded.len() {
        return Ok(Some(format!(
            "its conversation has {} messages but its history recorded {}",
            messages.len(),
            recorded.len()
        )));
    }
    for (id, hash) in recorded {
        // A removal of personal data changed the message: it must hold
        // what the removal left.
        let removed = crate::removal::redactions(&mut *conn, "enquiry_messages", *id).await?;
        let hash = removed.get(&0).unwrap_or(hash);
        match messages.iter().find(|m| m.id == *id) {
            None => return Ok(Some(format!("message {id} of its conversation is missing"))),
            Some(m) if message_hash(m)? != *hash => {
                return Ok(Some(format!(
                    "message {id} of its conversation was changed after it was recorded"
                )));
            }
            Some(_) => {}
        }
    }
    Ok(None)
}
