//! Waymark's storage.
//!
//! Owns: the database (a SQLite file by default, PostgreSQL when several
//! instances share one), its migrations (carried in the binary: `migrator`,
//! listed by `build.rs`), and the audit chain, which binds
//! letters' and files' bytes and enquiries' content by hash; the search
//! index, kept in the same transaction as each change; knowledge articles'
//! versions and blueprint releases; agencies' chains of self-assessments
//! (`assessments`) and moving engagements between model versions
//! (`migrations`); mail taken from the programme's mailbox, each message
//! once, and enquiries' conversations (`mailbox`); webhook subscriptions and
//! their deliveries, queued with the event they carry (`webhooks`); the
//! community's categories, questions, answers, revisions and votes, each
//! question with its own chain (`community`), the FAQ's entries and their
//! order (`faq`: each is a knowledge article), who watches what and the
//! notices answers leave for their mail (`watches`), flags and the
//! programme's moderation (`moderation`), and pending registrations
//! (`auth`); an engagement's discussion, read from its chain, and the
//! notices its mentions leave (`discussion`); each person's second factor
//! and recovery codes, each code accepted once (`factor`), and passkeys,
//! each counter moved only from what was read (`passkeys`); the programme's
//! settings, and retention: closed enquiries removed with their mail once
//! their period passes, each run and removal recorded (`retention`); the
//! lessons of every retrospective as rows kept in each command's
//! transaction, read by who may see them (`lessons`); surveys, each with its
//! own chain, their invitations' single-use tokens and their responses,
//! an anonymous one kept with nothing that leads to its person (`surveys`);
//! the portfolio dashboard's counts, kept with every engagement's events
//! and counted again from them when missing (`portfolio`); which OpenID
//! provider's subject is which person (`identities`); removing a person's
//! personal data at their request, with the audit trail's redactions
//! (`removal`). Every change to
//! an engagement runs in one transaction: check the version the caller saw,
//! load the people the command names, let `waymark_core::decide` judge it,
//! append the events to the hash chain, save the new state. On SQLite,
//! commands queued together share one transaction and one fsync (`batch`).
//!
//! Must not touch: the rules themselves (waymark-core asks and answers; the
//! store only loads what a rule needs and writes what it returns) or HTTP.
//!
//! One SQL codebase serves both backends through sqlx's `Any` driver, with
//! portable SQL and `$1` placeholders; only the migrations differ (identity
//! columns), in two folders with the same version numbers. The one
//! exception is a search on SQLite, which runs many statements in a row:
//! it reads through `reader`'s read-only rusqlite connections on one
//! thread, never writes there, binds the same `$N` values by name, and
//! ranks a query of one phrase with `waymark_fts`'s `bm25_tf`.

mod adopters;
mod assessments;
mod auth;
mod batch;
mod chain;
mod community;
mod directory;
mod discussion;
mod engagements;
mod error;
mod export;
mod factor;
mod faq;
pub mod generate;
mod health;
mod identities;
mod intake;
mod knowledge;
mod lessons;
mod listing;
mod mailbox;
mod migrations;
mod migrator;
mod moderation;
mod open;
mod outbox;
mod passkeys;
mod pins;
mod portfolio;
mod privacy;
mod reader;
mod records;
mod removal;
mod retention;
mod search;
mod surveys;
#[cfg(feature = "test-support")]
pub mod testing;
mod watches;
mod webhooks;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use sqlx::AnyPool;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use waymark_core::{EngagementId, Event, PersonId, Timestamp};
use waymark_model::Model;

pub use adopters::Adopter;
pub use assessments::AgencyRecord;
pub use auth::{Invite, random_bytes, random_token};
pub use chain::{Broken, BrokenAgency, BrokenSurvey, BrokenTopic, Verification};
pub use community::{ANSWERS_PAGE, MAX_TOPICS_PAGE, PostRow, Revision, Thread, TopicRow};
pub(crate) use directory::people_in;
pub use directory::{Corrected, TokenInfo, token_id};
pub use discussion::{MentionLine, MentionMail, PendingMention};
pub(crate) use engagements::status_name;
pub use error::{StoreError, redact};
pub use export::{Export, FORMAT, FORMAT_VERSION};
pub use factor::SecondFactor;
pub use faq::FaqEntry;
pub use health::{Health, Schema};
pub use identities::{LinkedIdentity, Unlinked};
pub use intake::{
    BrokenEnquiry, Enquiry, EnquiryCommand, EnquiryEvent, EnquiryStatus, ImportOutcome, NewEnquiry,
    Triage,
};
pub use knowledge::{ArticleRow, ArticleVersion, FaqPlace, FeedbackSummary, PublishedArticle};
pub use lessons::{LESSONS_MAX, LessonRow};
pub use listing::{Dashboard, ListFilter, Listing, MAX_PAGE, StageColumn};
pub use mailbox::{
    InboundRecord, Incoming, Lease, MailboxKey, MailboxStatus, Message, Parsed, Taken,
};
pub use migrations::Outcome;
pub use moderation::{FLAG_QUEUE, FlaggedPost, HiddenPost, OwnHidden};
pub use open::missing_file;
pub use outbox::{Mail, MailThread, OutboxEntry, new_message_id};
pub use passkeys::{Added, NewPasskey, Passkey, PasskeyInfo};
pub use pins::ModelVersion;
pub use portfolio::CapacitySetting;
pub use privacy::{HOLDERS, Held, NOT_PERSONAL, PersonalData, ROW_CAP, without_secret_links};
pub use records::{
    Altered, FileRow, LetterRow, MAX_FILE_BYTES, NewFile, NewLetter, Notify, StoredTemplate,
    accepted_extensions, classify, clean_name,
};
pub(crate) use records::{Extra, Write};
pub use removal::{MARK, PersonRemoval, REMOVED_NAME, scrub};
pub use retention::{Removal, RetentionRun, RetentionSetting};
pub use search::{Document, FIRST_HITS, Group, Hit, Piece};
pub use surveys::{Questionnaire, SURVEYS_MAX, SurveyRecord, SurveyRow};
pub use watches::{
    DIGEST_LINES, DigestLine, PendingNotice, Recipient, WatchedCategory, WatchedQuestion, Watching,
};
pub use webhooks::{AfterAttempt, Attempt, Delivery, DisabledMail, Due};

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
    /// SQLite: the connections a search reads through (`reader`).
    readers: Option<Arc<reader::Readers>>,
}

impl Store {}

/// The time now, for the callers of the store (the core never reads clocks).
pub fn now() -> Timestamp {
    Timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
    )
}

/// Commits `tx` when `result` is a success and rolls it back at once when
/// not. (A transaction merely dropped is rolled back only when its
/// connection is next used; on SQLite it keeps its write lock until then,
/// and every other writer waits for it.)
pub(crate) async fn finish<T>(
    tx: sqlx::Transaction<'_, sqlx::Any>,
    result: Result<T, StoreError>,
) -> Result<T, StoreError> {
    match result {
        Ok(v) => {
            tx.commit().await?;
            Ok(v)
        }
        Err(e) => {
            tx.rollback().await?;
            Err(e)
        }
    }
}

/// `$from, $from+1, …` for an IN list of `n` values.
pub(crate) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn json<T: Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(format!("cannot encode: {e}")))
}

pub(crate) fn unjson<T: for<'de> Deserialize<'de>>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s)
        .map_err(|e| StoreError::Corrupt(format!("cannot decode a stored record: {e}")))
}
