//! Export, import and backup.
//!
//! The export is every row of every table, as JSON (format documented in
//! docs/export-format.md). Rows keep their ids and hashes, so an imported
//! database verifies exactly like the original: this is how data moves
//! between SQLite and PostgreSQL.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::{Backend, Store, StoreError};

pub const FORMAT: &str = "waymark-export";
pub const FORMAT_VERSION: u32 = 2;

/// Versions import reads: 1 had no `records` (enquiries, files, letters,
/// templates, outbox); they arrived with version 2. Tables added since
/// (conversations, the mailbox's records) are read when present.
const READS: [u32; 2] = [1, 2];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Export {
    pub format: String,
    pub version: u32,
    pub agencies: Vec<AgencyRow>,
    pub people: Vec<PersonRow>,
    pub memberships: Vec<MembershipRow>,
    pub models: Vec<ModelRow>,
    pub engagements: Vec<EngagementRow>,
    pub events: Vec<EventRow>,
    /// API tokens, as their hashes (the tokens themselves are never stored).
    #[serde(default)]
    pub tokens: Vec<TokenRow>,
    /// Enquiries and their chains, files, letters, templates and the
    /// outbox: per table, rows as lists of values in [`TABLES`]' column
    /// order (bytes as base64).
    #[serde(default)]
    pub records: std::collections::BTreeMap<String, Vec<Vec<serde_json::Value>>>,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Int,
    OptInt,
    Text,
    OptText,
    Bytes,
}

/// The tables exported as plain rows, in an order that satisfies their
/// references, with each column's kind.
const TABLES: &[(&str, &[(&str, Kind)])] = {
    use Kind::*;
    &[
        (
            "enquiries",
            &[
                ("id", Int),
                ("source", Text),
                ("message_id", OptText),
                ("agency_name", Text),
                ("contact_name", Text),
                ("contact_email", Text),
                ("contact_role", Text),
                ("subject", Text),
                ("body", Text),
                ("timeframe", Text),
                ("preference", Text),
                ("status", Text),
                ("engagement_id", OptInt),
                ("received_at", Int),
                ("event_count", Int),
                ("head_hash", Text),
                // Added after format 2 first shipped: older rows stop before it.
                ("content_hash", OptText),
            ],
        ),
        (
            "enquiry_events",
            &[
                ("enquiry_id", Int),
                ("seq", Int),
                ("actor_id", Int),
                ("at", Int),
                ("kind", Text),
                ("payload", Text),
                ("prev_hash", Text),
                ("hash", Text),
            ],
        ),
        (
            "agency_events",
            &[
                ("agency_id", Int),
                ("seq", Int),
                ("actor_id", Int),
                ("at", Int),
                ("kind", Text),
                ("payload", Text),
                ("prev_hash", Text),
                ("hash", Text),
            ],
        ),
        (
            "enquiry_messages",
            &[
                ("id", Int),
                ("enquiry_id", Int),
                ("direction", Text),
                ("message_id", Text),
                ("sender", Text),
                ("recipient", Text),
                ("subject", Text),
                ("body", Text),
                ("author_id", OptInt),
                ("at", Int),
            ],
        ),
        (
            "files",
            &[
                ("id", Int),
                ("sha256", Text),
                ("size", Int),
                ("content_type", Text),
                ("name", Text),
                ("content", Bytes),
                ("enquiry_id", OptInt),
                ("engagement_id", OptInt),
                ("created_by", Int),
                ("created_at", Int),
                // Added with the mailbox: a conversation message's file.
                ("message_id", OptInt),
            ],
        ),
        (
            "letters",
            &[
                ("engagement_id", Int),
                ("kind", Text),
                ("version", Int),
                ("markdown", Text),
                ("html", Text),
                ("pdf", Bytes),
                ("sha256", Text),
                ("facts", Text),
                ("template_version", Int),
                ("created_by", Int),
                ("created_at", Int),
            ],
        ),
        (
            "letter_templates",
            &[
                ("kind", Text),
                ("version", Int),
                ("body", Text),
                ("created_by", Int),
                ("created_at", Int),
            ],
        ),
        (
            "outbox",
            &[
                ("id", Int),
                ("kind", Text),
                ("recipient", Text),
                ("subject", Text),
                ("body", Text),
                ("attachment_name", OptText),
                ("attachment_type", OptText),
                ("attachment", OptText),
                ("created_at", Int),
                ("attempts", Int),
                ("next_attempt_at", Int),
                ("sent_at", OptInt),
                ("last_error", OptText),
                // Added with the mailbox: thread headers.
                ("message_id", OptText),
                ("in_reply_to", OptText),
                ("refs", OptText),
                ("auto_submitted", OptText),
                // Added with watching: the one-click unsubscribe address.
                ("list_unsubscribe", OptText),
                // Added with surveys: what the body forgets once sent.
                ("secret", OptText),
            ],
        ),
        (
            "articles",
            &[
                ("id", Int),
                ("slug", Text),
                ("status", Text),
                ("title", Text),
                ("summary", Text),
                ("body", Text),
                ("tags", Text),
                ("review_by", Text),
                ("owner_id", Int),
                ("version", Int),
                ("created_at", Int),
                ("updated_at", Int),
            ],
        ),
        (
            "article_versions",
            &[
                ("article_id", Int),
                ("number", Int),
                ("title", Text),
                ("summary", Text),
                ("body", Text),
                ("tags", Text),
                ("published_by", Int),
                ("published_at", Int),
            ],
        ),
        (
            "article_feedback",
            &[
                ("article_id", Int),
                ("person_id", Int),
                ("helpful", Int),
                ("comment", Text),
                ("at", Int),
            ],
        ),
        (
            "adopters",
            &[
                ("agency_id", Int),
                ("contact", Text),
                ("case_study", Text),
                ("listed_by", Int),
                ("listed_at", Int),
            ],
        ),
        (
            "blueprint_releases",
            &[
                ("id", Int),
                ("version", Text),
                ("released_on", Text),
                ("notes", Text),
                ("link", Text),
                ("recorded_by", Int),
                ("recorded_at", Int),
            ],
        ),
        ("mail_threads", &[("message_id", Text), ("enquiry_id", Int)]),
        // Every message taken from the mailbox. The readers' leases are
        // running state, not records, and are not exported.
        (
            "inbound_mail",
            &[
                ("id", Int),
                ("mailbox", Text),
                ("uidvalidity", OptInt),
                ("uid", OptInt),
                ("message_id", Text),
                ("outcome", Text),
                ("enquiry_id", OptInt),
                ("reason", Text),
                ("sender", Text),
                ("subject", Text),
                ("size", Int),
                ("headers", Text),
                ("file_id", OptInt),
                ("at", Int),
                ("reviewed_by", OptInt),
                ("reviewed_at", OptInt),
            ],
        ),
        // Webhook subscriptions (with their signing secrets, which the
        // sender needs), their deliveries and every attempt. A claim's
        // lease is a time in `next_attempt_at`: after an import, a claimed
        // delivery is simply due again.
        (
            "webhook_subscriptions",
            &[
                ("id", Int),
                ("owner_id", Int),
                ("url", Text),
                ("secret", Text),
                ("events", Text),
                ("description", Text),
                ("created_at", Int),
                ("enabled", Int),
                ("disabled_at", OptInt),
                ("disabled_reason", OptText),
                ("last_success_at", OptInt),
            ],
        ),
        (
            "webhook_deliveries",
            &[
                ("id", Int),
                ("subscription_id", Int),
                ("msg_id", Text),
                ("event_type", Text),
                ("payload", Text),
                ("created_at", Int),
                ("attempts", Int),
                ("next_attempt_at", OptInt),
                ("delivered_at", OptInt),
                ("failed_at", OptInt),
                ("last_status", OptInt),
                ("last_error", OptText),
                ("resent_from", OptInt),
            ],
        ),
        (
            "webhook_attempts",
            &[
                ("id", Int),
                ("delivery_id", Int),
                ("at", Int),
                ("status", OptInt),
                ("error", OptText),
                ("millis", Int),
            ],
        ),
        (
            "community_categories",
            &[
                ("id", Int),
                ("slug", Text),
                ("name", Text),
                ("description", Text),
                ("visibility", Text),
                ("programme_only", Int),
                ("position", Int),
                ("question_count", Int),
            ],
        ),
        (
            "community_topics",
            &[
                ("id", Int),
                ("category_id", Int),
                ("author_id", Int),
                ("title", Text),
                ("tag_stage", OptText),
                ("tag_step", OptInt),
                ("accepted_post_id", OptInt),
                ("locked", Int),
                ("answer_count", Int),
                ("votes", Int),
                ("created_at", Int),
                ("last_activity_at", Int),
                ("event_count", Int),
                ("head_hash", Text),
            ],
        ),
        (
            "community_posts",
            &[
                ("id", Int),
                ("topic_id", Int),
                ("author_id", Int),
                ("is_question", Int),
                ("body", Text),
                ("votes", Int),
                ("revisions", Int),
                ("created_at", Int),
                ("edited_at", OptInt),
                // Added with moderation (a hidden question's topic is
                // marked hidden again on import).
                ("hidden_reason", OptText),
                ("hidden_at", OptInt),
            ],
        ),
        (
            "community_revisions",
            &[
                ("post_id", Int),
                ("number", Int),
                ("title", OptText),
                ("body", Text),
                ("editor_id", Int),
                ("at", Int),
            ],
        ),
        (
            "community_votes",
            &[("post_id", Int), ("person_id", Int), ("at", Int)],
        ),
        (
            "community_events",
            &[
                ("topic_id", Int),
                ("seq", Int),
                ("actor_id", Int),
                ("at", Int),
                ("kind", Text),
                ("payload", Text),
                ("prev_hash", Text),
                ("hash", Text),
            ],
        ),
        (
            "faq_entries",
            &[("article_id", Int), ("topic_id", Int), ("position", Int)],
        ),
        (
            "community_flags",
            &[
                ("post_id", Int),
                ("person_id", Int),
                ("reason", Text),
                ("at", Int),
                ("resolved_at", OptInt),
            ],
        ),
        (
            "community_watches",
            &[
                ("person_id", Int),
                ("topic_id", OptInt),
                ("category_id", OptInt),
                ("unsubscribe_key", Text),
                ("created_at", Int),
            ],
        ),
        (
            "community_notices",
            &[
                ("id", Int),
                ("topic_id", Int),
                ("post_id", Int),
                ("kind", Text),
                ("actor_id", Int),
                ("at", Int),
                ("sent_at", OptInt),
                ("withheld_at", OptInt),
            ],
        ),
        (
            "mentions",
            &[
                ("id", Int),
                ("person_id", Int),
                ("engagement_id", Int),
                ("comment_id", Int),
                ("actor_id", Int),
                ("at", Int),
                ("sent_at", OptInt),
                ("withheld_at", OptInt),
            ],
        ),
        // Second factors move with their people: without them, an admin
        // restored elsewhere would set up a new one with a password alone.
        (
            "second_factors",
            &[
                ("person_id", Int),
                ("secret", Bytes),
                ("enrolled_at", Int),
                ("last_step", Int),
            ],
        ),
        (
            "recovery_codes",
            &[
                ("person_id", Int),
                ("hash", Text),
                ("created_at", Int),
                ("used_at", OptInt),
            ],
        ),
        // Which provider accounts are whose: without them, a person
        // restored elsewhere would be matched again by address alone.
        (
            "sign_in_identities",
            &[
                ("issuer", Text),
                ("subject", Text),
                ("person_id", Int),
                ("linked_at", Int),
                ("last_used_at", Int),
            ],
        ),
        // Passkeys move with their people too, for the same reason.
        (
            "passkeys",
            &[
                ("id", Int),
                ("person_id", Int),
                ("credential_id", Bytes),
                ("user_handle", Bytes),
                ("transports", Bytes),
                ("static_state", Bytes),
                ("dynamic_state", Bytes),
                ("name", Text),
                ("created_at", Int),
                ("last_used_at", OptInt),
            ],
        ),
        (
            "person_corrections",
            &[
                ("person_id", Int),
                ("corrected_by", Int),
                ("at", Int),
                ("fields", Text),
            ],
        ),
        (
            "programme_settings",
            &[
                ("name", Text),
                ("value", Text),
                ("set_by", OptInt),
                ("set_at", Int),
            ],
        ),
        // Removals of personal data, and what they changed in the audit
        // trail: without them, an import would fail `audit verify`.
        (
            "person_removals",
            &[
                ("id", Int),
                ("person_id", Int),
                ("removed_by", Int),
                ("at", Int),
                ("rows_changed", Int),
                ("digest", OptText),
            ],
        ),
        (
            "redactions",
            &[
                ("record_table", Text),
                ("record_id", Int),
                ("seq", Int),
                ("sha256", Text),
                ("removal_id", Int),
            ],
        ),
        (
            "retention_runs",
            &[
                ("id", Int),
                ("at", Int),
                ("months", Int),
                ("cutoff", Int),
                ("removed", Int),
                ("run_by", OptInt),
            ],
        ),
        (
            "retention_removals",
            &[
                ("run_id", Int),
                ("enquiry_id", Int),
                ("received_at", Int),
                ("last_change_at", Int),
                ("messages", Int),
                ("files", Int),
            ],
        ),
        (
            "surveys",
            &[
                ("id", Int),
                ("title", Text),
                ("definition", Text),
                ("audience", Text),
                ("engagement_id", OptInt),
                ("agency_id", OptInt),
                ("sent", Int),
                ("closed_early", Int),
                ("public_key", OptText),
                ("responses", Int),
                ("created_by", Int),
                ("created_at", Int),
                ("version", Int),
                ("event_count", Int),
                ("head_hash", Text),
                ("response_head", Text),
            ],
        ),
        (
            "survey_events",
            &[
                ("survey_id", Int),
                ("seq", Int),
                ("actor_id", Int),
                ("at", Int),
                ("kind", Text),
                ("payload", Text),
                ("prev_hash", Text),
                ("hash", Text),
            ],
        ),
        (
            "survey_invitations",
            &[
                ("survey_id", Int),
                ("person_id", Int),
                ("outbox_id", OptInt),
            ],
        ),
        (
            "survey_tokens",
            &[
                ("token_hash", Text),
                ("survey_id", Int),
                ("person_id", OptInt),
                ("used", Int),
            ],
        ),
        (
            "survey_responses",
            &[
                ("id", Int),
                ("survey_id", Int),
                ("answered_on", Text),
                ("person_id", OptInt),
                ("answers", Text),
                ("seq", Int),
                ("prev_hash", Text),
                ("hash", Text),
            ],
        ),
        (
            "survey_counts",
            &[
                ("survey_id", Int),
                ("question", Int),
                ("value", Int),
                ("n", Int),
            ],
        ),
        (
            "survey_texts",
            &[("survey_id", Int), ("question", Int), ("text", Text)],
        ),
    ]
};

/// The value of the column `name` of `r`, as the export writes it.
fn cell(r: &sqlx::any::AnyRow, name: &str, kind: Kind) -> Result<serde_json::Value, StoreError> {
    use base64::Engine;
    use serde_json::Value;
    Ok(match kind {
        Kind::Int => Value::from(r.try_get::<i64, _>(name)?),
        Kind::OptInt => r
            .try_get::<Option<i64>, _>(name)?
            .map_or(Value::Null, Value::from),
        Kind::Text => Value::from(r.try_get::<String, _>(name)?),
        Kind::OptText => r
            .try_get::<Option<String>, _>(name)?
            .map_or(Value::Null, Value::from),
        Kind::Bytes => Value::from(
            base64::engine::general_purpose::STANDARD.encode(r.try_get::<Vec<u8>, _>(name)?),
        ),
    })
}

fn bind<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    table: &str,
    column: &str,
    kind: Kind,
    v: &serde_json::Value,
) -> Result<sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>, StoreError> {
    use base64::Engine;
    let bad = || StoreError::Corrupt(format!("{table}.{column}: {v} is not a {kind:?} value"));
    Ok(match (kind, v) {
        (Kind::OptInt | Kind::OptText, serde_json::Value::Null) => q.bind(None::<i64>),
        (Kind::Int | Kind::OptInt, _) => q.bind(v.as_i64().ok_or_else(bad)?),
        (Kind::Text | Kind::OptText, _) => q.bind(v.as_str().ok_or_else(bad)?.to_string()),
        (Kind::Bytes, _) => q.bind(
            base64::engine::general_purpose::STANDARD
                .decode(v.as_str().ok_or_else(bad)?)
                .map_err(|_| bad())?,
        ),
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRow {
    pub hash: String,
    pub person_id: i64,
    pub name: String,
    pub created_at: i64,
    /// `read` or `read_write` (exports before scopes: every token wrote).
    #[serde(default = "read_write")]
    pub scope: String,
    #[serde(default)]
    pub expires_at: Option<i64>,
}

fn read_write() -> String {
    "read_write".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgencyRow {
    pub id: i64,
    pub name: String,
    pub abbreviation: String,
    pub portfolio: String,
    pub agency_type: Option<String>,
    pub created_at: i64,
    /// The agency's chain of assessments (`agency_events` in `records`);
    /// exports before it have none.
    #[serde(default)]
    pub event_count: i64,
    #[serde(default)]
    pub head_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRow {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub created_at: i64,
    /// argon2id PHC string; absent until the person sets a password.
    #[serde(default)]
    pub password_hash: Option<String>,
    /// When and by whom they were deactivated (they left); absent while
    /// active. Carried so that an import never lets a leaver back in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deactivated_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deactivated_by: Option<i64>,
    /// When their personal data was removed at their request; absent
    /// otherwise. Carried so that an import never lets them be reactivated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_at: Option<i64>,
    /// Their own settings (the time zone they read times in, how they
    /// hear about what waits); absent in older exports, which then take
    /// the defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembershipRow {
    pub person_id: i64,
    /// JSON of a role.
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelRow {
    pub hash: String,
    /// JSON list of `{name, text}` pages.
    pub pages: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngagementRow {
    pub id: i64,
    pub agency_id: i64,
    pub model_hash: String,
    /// JSON of the engagement's state.
    pub state: String,
    pub version: i64,
    pub event_count: i64,
    pub head_hash: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRow {
    pub engagement_id: i64,
    pub seq: i64,
    pub actor_id: i64,
    pub at: i64,
    pub command: String,
    /// JSON of the event.
    pub payload: String,
    pub prev_hash: String,
    pub hash: String,
}

impl Store {
    /// Every row, in a consistent snapshot (one read transaction).
    pub async fn export(&self) -> Result<Export, StoreError> {
        let mut tx = self.pool.begin().await?;
        let agencies = sqlx::query("SELECT id, name, abbreviation, portfolio, agency_type, created_at, event_count, head_hash FROM agencies ORDER BY id")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| {
                Ok(AgencyRow {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    abbreviation: r.try_get("abbreviation")?,
                    portfolio: r.try_get("portfolio")?,
                    agency_type: r.try_get("agency_type")?,
                    created_at: r.try_get("created_at")?,
                    event_count: r.try_get("event_count")?,
                    head_hash: r.try_get("head_hash")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        let people = sqlx::query(
            "SELECT id, name, email, created_at, password_hash, deactivated_at, deactivated_by, \
             removed_at, time_zone, notify FROM people ORDER BY id",
        )
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| {
            Ok(PersonRow {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                email: r.try_get("email")?,
                created_at: r.try_get("created_at")?,
                password_hash: r.try_get("password_hash")?,
                deactivated_at: r.try_get("deactivated_at")?,
                deactivated_by: r.try_get("deactivated_by")?,
                removed_at: r.try_get("removed_at")?,
                time_zone: Some(r.try_get("time_zone")?),
                notify: Some(r.try_get("notify")?),
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
        let memberships =
            sqlx::query("SELECT person_id, role FROM memberships ORDER BY person_id, role")
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| {
                    Ok(MembershipRow {
                        person_id: r.try_get("person_id")?,
                        role: r.try_get("role")?,
                    })
                })
                .collect::<Result<_, sqlx::Error>>()?;
        let models = sqlx::query("SELECT hash, pages, created_at FROM models ORDER BY hash")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| {
                Ok(ModelRow {
                    hash: r.try_get("hash")?,
                    pages: r.try_get("pages")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        let engagements = sqlx::query(
            "SELECT id, agency_id, model_hash, state, version, event_count, head_hash, created_at, updated_at FROM engagements ORDER BY id",
        )
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| {
            Ok(EngagementRow {
                id: r.try_get("id")?,
                agency_id: r.try_get("agency_id")?,
                model_hash: r.try_get("model_hash")?,
                state: r.try_get("state")?,
                version: r.try_get("version")?,
                event_count: r.try_get("event_count")?,
                head_hash: r.try_get("head_hash")?,
                created_at: r.try_get("created_at")?,
                updated_at: r.try_get("updated_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
        let events = sqlx::query(
            "SELECT engagement_id, seq, actor_id, at, command, payload, prev_hash, hash FROM events ORDER BY engagement_id, seq",
        )
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| {
            Ok(EventRow {
                engagement_id: r.try_get("engagement_id")?,
                seq: r.try_get("seq")?,
                actor_id: r.try_get("actor_id")?,
                at: r.try_get("at")?,
                command: r.try_get("command")?,
                payload: r.try_get("payload")?,
                prev_hash: r.try_get("prev_hash")?,
                hash: r.try_get("hash")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
        let tokens = sqlx::query(
            "SELECT hash, person_id, name, created_at, scope, expires_at FROM tokens ORDER BY hash",
        )
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| {
            Ok(TokenRow {
                hash: r.try_get("hash")?,
                person_id: r.try_get("person_id")?,
                name: r.try_get("name")?,
                created_at: r.try_get("created_at")?,
                scope: r.try_get("scope")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
        let mut records = std::collections::BTreeMap::new();
        for (table, columns) in TABLES {
            let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
            let rows = sqlx::query(&format!(
                "SELECT {} FROM {table} ORDER BY {}",
                names.join(", "),
                names[..names.len().min(3)].join(", ")
            ))
            .fetch_all(&mut *tx)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let mut row = Vec::with_capacity(columns.len());
                for (name, kind) in columns.iter() {
                    row.push(cell(r, name, *kind)?);
                }
                out.push(row);
            }
            records.insert(table.to_string(), out);
        }
        // Files kept in the files directory travel with their bytes, so an
        // export is whole wherever it is imported.
        let on_disk =
            sqlx::query("SELECT id, location, sha256 FROM files WHERE location IS NOT NULL")
                .fetch_all(&mut *tx)
                .await?;
        if let Some(rows) = records.get_mut("files") {
            use base64::Engine;
            for r in &on_disk {
                let id: i64 = r.try_get("id")?;
                let bytes = crate::records::read_file(
                    self.files_dir.as_deref().map(|p| p.as_path()),
                    &r.try_get::<String, _>("location")?,
                    &r.try_get::<String, _>("sha256")?,
                )?;
                if let Some(row) = rows.iter_mut().find(|row| row[0].as_i64() == Some(id)) {
                    row[5] = serde_json::Value::from(
                        base64::engine::general_purpose::STANDARD.encode(bytes),
                    );
                }
            }
        }
        tx.commit().await?;
        Ok(Export {
            records,
            tokens,
            format: FORMAT.to_string(),
            version: FORMAT_VERSION,
            agencies,
            people,
            memberships,
            models,
            engagements,
            events,
        })
    }

    /// Loads an export into this database, which must be empty. All or
    /// nothing: on any error nothing is kept.
    pub async fn import(&self, x: &Export) -> Result<(), StoreError> {
        if x.format != FORMAT || !READS.contains(&x.version) {
            return Err(StoreError::Corrupt(format!(
                "this is not a Waymark export this version reads (format {:?} version {}; expected {FORMAT:?} version {FORMAT_VERSION} or earlier)",
                x.format, x.version
            )));
        }
        let mut tx = self.pool.begin().await?;
        ensure_empty(&mut tx, "import").await?;
        // The default categories a server made at start-up give way to the
        // export's (no question can hold them: there are no people yet).
        sqlx::query("DELETE FROM community_categories")
            .execute(&mut *tx)
            .await?;
        for a in &x.agencies {
            sqlx::query("INSERT INTO agencies (id, name, abbreviation, portfolio, agency_type, created_at, event_count, head_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(a.id)
                .bind(&a.name)
                .bind(&a.abbreviation)
                .bind(&a.portfolio)
                .bind(&a.agency_type)
                .bind(a.created_at)
                .bind(a.event_count)
                .bind(&a.head_hash)
                .execute(&mut *tx)
                .await?;
        }
        for p in &x.people {
            sqlx::query(
                "INSERT INTO people (id, name, email, created_at, password_hash, deactivated_at, deactivated_by, \
                 time_zone, notify, removed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, \
                 COALESCE($8, 'Australia/Canberra'), COALESCE($9, 'each'), $10)",
            )
                .bind(p.id)
                .bind(&p.name)
                .bind(&p.email)
                .bind(p.created_at)
                .bind(&p.password_hash)
                .bind(p.deactivated_at)
                .bind(p.deactivated_by)
                .bind(&p.time_zone)
                .bind(&p.notify)
                .bind(p.removed_at)
                .execute(&mut *tx)
                .await?;
        }
        for m in &x.memberships {
            sqlx::query("INSERT INTO memberships (person_id, role) VALUES ($1, $2)")
                .bind(m.person_id)
                .bind(&m.role)
                .execute(&mut *tx)
                .await?;
        }
        for m in &x.models {
            sqlx::query("INSERT INTO models (hash, pages, created_at) VALUES ($1, $2, $3)")
                .bind(&m.hash)
                .bind(&m.pages)
                .bind(m.created_at)
                .execute(&mut *tx)
                .await?;
        }
        for e in &x.engagements {
            sqlx::query(
                "INSERT INTO engagements (id, agency_id, model_hash, state, version, event_count, head_hash, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(e.id)
            .bind(e.agency_id)
            .bind(&e.model_hash)
            .bind(&e.state)
            .bind(e.version)
            .bind(e.event_count)
            .bind(&e.head_hash)
            .bind(e.created_at)
            .bind(e.updated_at)
            .execute(&mut *tx)
            .await?;
        }
        for v in &x.events {
            sqlx::query(
                "INSERT INTO events (engagement_id, seq, actor_id, at, command, payload, prev_hash, hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(v.engagement_id)
            .bind(v.seq)
            .bind(v.actor_id)
            .bind(v.at)
            .bind(&v.command)
            .bind(&v.payload)
            .bind(&v.prev_hash)
            .bind(&v.hash)
            .execute(&mut *tx)
            .await?;
        }
        for t in &x.tokens {
            sqlx::query(
                "INSERT INTO tokens (hash, person_id, name, created_at, scope, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&t.hash)
            .bind(t.person_id)
            .bind(&t.name)
            .bind(t.created_at)
            .bind(waymark_core::token::TokenScope::parse(&t.scope)?.as_str())
            .bind(t.expires_at)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(t) = x
            .records
            .keys()
            .find(|t| !TABLES.iter().any(|(n, _)| n == t))
        {
            return Err(StoreError::Corrupt(format!(
                "the export holds a table this version does not know: {t}"
            )));
        }
        for (table, columns) in TABLES {
            let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
            let marks = crate::placeholders(1, columns.len());
            let sql = format!(
                "INSERT INTO {table} ({}) VALUES ({})",
                names.join(", "),
                marks
            );
            for row in x.records.get(*table).map_or(&[][..], Vec::as_slice) {
                // Columns added later are optional and last: an older
                // export's shorter rows leave them empty.
                let later = columns[row.len().min(columns.len())..]
                    .iter()
                    .all(|(_, k)| matches!(k, Kind::OptInt | Kind::OptText));
                if row.len() > columns.len() || !later {
                    return Err(StoreError::Corrupt(format!(
                        "a row of {table} has {} values; it should have {}",
                        row.len(),
                        columns.len()
                    )));
                }
                let mut q = sqlx::query(&sql);
                for (i, (name, kind)) in columns.iter().enumerate() {
                    q = bind(
                        q,
                        table,
                        name,
                        *kind,
                        row.get(i).unwrap_or(&serde_json::Value::Null),
                    )?;
                }
                q.execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        self.reset_sequences().await?;
        self.recount().await?;
        // Enquiries from an export made before content was bound.
        crate::intake::seal_unsealed(self).await?;
        // Summaries, assignments and the search index are derived from
        // state, not exported.
        self.refresh_derived().await?;
        // The portfolio's counts are counted from the events.
        self.rebuild_portfolio_if_missing().await?;
        self.reindex_records().await?;
        Ok(())
    }

    /// Fails unless the database holds no records (for generating).
    pub(crate) async fn require_empty(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        ensure_empty(&mut tx, "generate records").await
    }

    /// After rows went in with explicit ids: PostgreSQL's identity
    /// sequences do not move by themselves (SQLite's AUTOINCREMENT does).
    pub(crate) async fn reset_sequences(&self) -> Result<(), StoreError> {
        if self.backend == Backend::Postgres {
            for table in [
                "agencies",
                "people",
                "engagements",
                "enquiries",
                "files",
                "outbox",
                "articles",
                "blueprint_releases",
                "enquiry_messages",
                "inbound_mail",
                "webhook_subscriptions",
                "webhook_deliveries",
                "webhook_attempts",
                "community_categories",
                "community_topics",
                "community_posts",
                "community_notices",
                "mentions",
                "retention_runs",
                "person_removals",
                "passkeys",
                "surveys",
                "survey_responses",
            ] {
                sqlx::query(&format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                ))
                .fetch_one(&self.pool)
                .await?;
            }
        }
        Ok(())
    }

    /// A consistent copy while the server runs: `VACUUM INTO` a new SQLite
    /// file, or (PostgreSQL) the JSON export written to `path`.
    pub async fn backup(&self, path: &std::path::Path) -> Result<(), StoreError> {
        // Made here, readable by its owner alone (a backup holds password
        // and token hashes), and never over an existing file: SQLite's
        // VACUUM INTO writes into an empty file.
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                StoreError::Exists(path.display().to_string())
            } else {
                StoreError::Corrupt(format!("cannot write {}: {e}", path.display()))
            }
        })?;
        let written = match self.backend {
            Backend::Sqlite => {
                drop(file);
                let p = path.to_string_lossy().replace('\'', "''");
                sqlx::query(&format!("VACUUM INTO '{p}'"))
                    .execute(&self.pool)
                    .await
                    .map(|_| ())
                    .map_err(StoreError::from)
            }
            Backend::Postgres => match self.export().await {
                Ok(x) => serde_json::to_writer_pretty(&mut file, &x).map_err(|e| {
                    StoreError::Corrupt(format!("cannot write {}: {e}", path.display()))
                }),
                Err(e) => Err(e),
            },
        };
        if written.is_err() {
            // No half-written backup is left to be mistaken for a whole one.
            let _ = std::fs::remove_file(path);
        }
        written
    }
}

async fn ensure_empty(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    doing: &str,
) -> Result<(), StoreError> {
    for table in ["agencies", "people", "models", "engagements"] {
        let n: i64 = sqlx::query(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&mut **tx)
            .await?
            .try_get(0)?;
        if n > 0 {
            return Err(StoreError::Corrupt(format!(
                "the database already holds {table}; {doing} only into an empty database"
            )));
        }
    }
    Ok(())
}
