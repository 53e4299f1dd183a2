//! The audit chain. Each engagement's events form a chain: every event
//! stores the SHA-256 of its content and of the event before it, and the
//! engagement row stores the count and the last hash. Changing, removing or
//! reordering any row breaks a link that `verify` recomputes.
//!
//! Chains are per engagement rather than global so that writers on different
//! engagements never queue behind one another.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{Any, AnyPool, Row, Transaction};
use waymark_core::{Engagement, EngagementId, Event, PersonId, Timestamp};
use waymark_model::SourceFile;

use crate::{StoreError, StoredEvent, json, unjson};

pub(crate) fn sha256(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn link(
    prev: &str,
    engagement: i64,
    seq: i64,
    actor: i64,
    at: i64,
    command: &str,
    payload: &str,
) -> String {
    let mut h = Sha256::new();
    for part in [
        prev,
        &engagement.to_string(),
        &seq.to_string(),
        &actor.to_string(),
        &at.to_string(),
        command,
        payload,
    ] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    hex(&h.finalize())
}

#[derive(Serialize, Deserialize)]
struct Page {
    name: String,
    text: String,
}

/// A model version's identity: the hash of its pages (sorted by name), and
/// the pages as JSON for storing.
pub(crate) fn model_fingerprint(pages: &[SourceFile]) -> Result<(String, String), StoreError> {
    let mut sorted: Vec<Page> = pages
        .iter()
        .map(|p| Page {
            name: p.name.clone(),
            text: p.text.clone(),
        })
        .collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut h = Sha256::new();
    for p in &sorted {
        h.update(p.name.as_bytes());
        h.update([0u8]);
        h.update(p.text.as_bytes());
        h.update([0u8]);
    }
    Ok((hex(&h.finalize()), json(&sorted)?))
}

pub(crate) fn pages_from_json(text: &str) -> Result<Vec<SourceFile>, StoreError> {
    let pages: Vec<Page> = unjson(text)?;
    Ok(pages
        .into_iter()
        .map(|p| SourceFile {
            path: format!("pinned:{}", p.name),
            name: p.name,
            text: p.text,
        })
        .collect())
}

/// Appends `events` after (`count`, `head`), applying each to `e`, and
/// keeps what they change in the portfolio's counts; returns the new count
/// and head hash. Each event row records `e.version`: the
/// version the command brings the engagement to.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn append(
    tx: &mut Transaction<'_, Any>,
    e: &mut Engagement,
    events: &[Event],
    actor: PersonId,
    at: Timestamp,
    command: &str,
    mut count: i64,
    head: &str,
) -> Result<(i64, String), StoreError> {
    let mut prev = head.to_string();
    let mut changed = waymark_core::portfolio::Tally::new();
    for ev in events {
        count += 1;
        let payload = json(ev)?;
        let hash = link(&prev, e.id.0, count, actor.0, at.0, command, &payload);
        sqlx::query(
            "INSERT INTO events (engagement_id, seq, actor_id, at, command, payload, prev_hash, hash, version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(e.id.0)
        .bind(count)
        .bind(actor.0)
        .bind(at.0)
        .bind(command)
        .bind(&payload)
        .bind(&prev)
        .bind(&hash)
        .bind(e.version as i64)
        .execute(&mut **tx)
        .await?;
        let before = waymark_core::portfolio::Marks::of(e);
        e.apply(ev, actor, at);
        let one = waymark_core::portfolio::changes(&before, e, std::slice::from_ref(ev), at);
        waymark_core::portfolio::merge(&mut changed, one);
        prev = hash;
    }
    // The portfolio's kept counts, and deliveries to webhook
    // subscriptions, in the same transaction.
    crate::portfolio::keep(tx, e.agency, &changed).await?;
    let first = count - events.len() as i64 + 1;
    crate::webhooks::queue_engagement(tx, e, events, first, actor, at).await?;
    Ok((count, prev))
}

struct Row8 {
    seq: i64,
    actor: i64,
    at: i64,
    command: String,
    payload: String,
    prev: String,
    hash: String,
}

async fn rows(conn: &mut sqlx::AnyConnection, id: EngagementId) -> Result<Vec<Row8>, StoreError> {
    let rows = sqlx::query(
        "SELECT seq, actor_id, at, command, payload, prev_hash, hash FROM events WHERE engagement_id = $1 ORDER BY seq",
    )
    .bind(id.0)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Row8 {
                seq: r.try_get("seq")?,
                actor: r.try_get("actor_id")?,
                at: r.try_get("at")?,
                command: r.try_get("command")?,
                payload: r.try_get("payload")?,
                prev: r.try_get("prev_hash")?,
                hash: r.try_get("hash")?,
            })
        })
        .collect()
}

pub(crate) async fn events(
    pool: &AnyPool,
    id: EngagementId,
) -> Result<Vec<StoredEvent>, StoreError> {
    rows(&mut *pool.acquire().await?, id)
        .await?
        .into_iter()
        .map(|r| {
            Ok(StoredEvent {
                engagement: id,
                seq: r.seq,
                actor: PersonId(r.actor),
                at: Timestamp(r.at),
                command: r.command,
                event: unjson(&r.payload)?,
                hash: r.hash,
            })
        })
        .collect()
}

/// The first bad link found in one engagement's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Broken {
    pub engagement: EngagementId,
    /// The first event that does not check out (0: the engagement row itself).
    pub seq: i64,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    pub engagements: usize,
    pub events: usize,
    pub broken: Vec<Broken>,
    pub enquiries: usize,
    pub enquiry_events: usize,
    pub broken_enquiries: Vec<crate::BrokenEnquiry>,
    /// Agencies' chains of self-assessments and types.
    pub agencies: usize,
    pub agency_events: usize,
    pub broken_agencies: Vec<BrokenAgency>,
    /// Community questions' chains.
    pub topics: usize,
    pub topic_events: usize,
    pub broken_topics: Vec<BrokenTopic>,
    /// Surveys' chains.
    pub surveys: usize,
    pub survey_events: usize,
    pub broken_surveys: Vec<BrokenSurvey>,
    /// The portfolio's kept counts that differ from a count of the events,
    /// each in a sentence.
    pub portfolio_drift: Vec<String>,
    /// Letters' PDFs and files whose bytes were checked.
    pub letters: usize,
    pub files: usize,
    /// Letters and files whose bytes no longer match their chain.
    pub altered: Vec<crate::Altered>,
    /// Events and hash-bound rows that removals of personal data changed
    /// (each checked against what the removal left), and the removals.
    pub redacted: usize,
    pub removals: usize,
}

impl Verification {
    pub fn intact(&self) -> bool {
        self.broken.is_empty()
            && self.broken_enquiries.is_empty()
            && self.broken_agencies.is_empty()
            && self.broken_topics.is_empty()
            && self.broken_surveys.is_empty()
            && self.portfolio_drift.is_empty()
            && self.altered.is_empty()
    }
}

/// The first bad link in a community question's chain, or text, a title
/// or an accepted answer on its rows that its chain does not give.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenTopic {
    pub topic: i64,
    pub seq: i64,
    pub reason: String,
}

/// The first bad link in a survey's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenSurvey {
    pub survey: i64,
    pub seq: i64,
    pub reason: String,
}

/// The first bad link in an agency's chain, or a type on its row that its
/// chain does not give.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenAgency {
    pub agency: waymark_core::AgencyId,
    pub seq: i64,
    pub reason: String,
}

pub(crate) async fn verify(store: &crate::Store) -> Result<Verification, StoreError> {
    // Everything is read at one moment, so writes landing while it runs
    // are not taken for tampering (a row read before its new event, say):
    // SQLite's read transaction keeps the snapshot of its first read;
    // PostgreSQL needs repeatable read for that.
    let mut tx = store.pool.begin().await?;
    if store.backend == crate::Backend::Postgres {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
    }
    let heads = sqlx::query(
        "SELECT id, event_count, head_hash, state, version FROM engagements ORDER BY id",
    )
    .fetch_all(&mut *tx)
    .await?;
    let redacted = crate::removal::Redacted::load(&mut tx).await?;
    let (enquiries, enquiry_events, broken_enquiries) =
        crate::intake::verify(&mut tx, &redacted).await?;
    let (agencies, agency_events, broken_agencies) =
        crate::assessments::verify(&mut tx, &redacted).await?;
    let (topics, topic_events, broken_topics) =
        crate::community::verify(&mut tx, &redacted).await?;
    let (surveys, survey_events, broken_surveys) =
        crate::surveys::verify(&mut tx, &redacted).await?;
    let portfolio_drift = crate::portfolio::drift(&mut tx).await?;
    let mut out = Verification {
        engagements: heads.len(),
        events: 0,
        broken: Vec::new(),
        enquiries,
        enquiry_events,
        broken_enquiries,
        agencies,
        agency_events,
        broken_agencies,
        topics,
        topic_events,
        broken_topics,
        surveys,
        survey_events,
        broken_surveys,
        portfolio_drift,
        letters: 0,
        files: 0,
        altered: Vec::new(),
        redacted: count(&mut tx, "SELECT COUNT(*) FROM redactions").await?,
        removals: count(&mut tx, "SELECT COUNT(*) FROM person_removals").await?,
    };
    let mut states = std::collections::HashMap::new();
    for h in heads {
        let id = EngagementId(h.try_get("id")?);
        let count: i64 = h.try_get("event_count")?;
        let head: String = h.try_get("head_hash")?;
        let state: String = h.try_get("state")?;
        let version: i64 = h.try_get("version")?;
        let rows = rows(&mut tx, id).await?;
        out.events += rows.len();
        let broken = |seq: i64, reason: String| Broken {
            engagement: id,
            seq,
            reason,
        };
        let removed = redacted.of("events", id.0);
        let mut prev = String::new();
        let mut replay: Option<Engagement> = None;
        let mut bad = None;
        for (i, r) in rows.iter().enumerate() {
            let expected_seq = i as i64 + 1;
            if r.seq != expected_seq {
                bad = Some(broken(
                    expected_seq,
                    format!("event {expected_seq} is missing or out of order"),
                ));
                break;
            }
            if r.prev != prev {
                bad = Some(broken(
                    r.seq,
                    "it does not follow the event before it".into(),
                ));
                break;
            }
            // An event a removal of personal data changed keeps its link
            // and must hold what the removal left.
            let relinked = link(&prev, id.0, r.seq, r.actor, r.at, &r.command, &r.payload);
            let intact = match removed.get(&r.seq) {
                Some(left) => relinked == *left,
                None => relinked == r.hash,
            };
            if !intact {
                bad = Some(broken(
                    r.seq,
                    "its content does not match its hash (the row was changed)".into(),
                ));
                break;
            }
            match unjson::<Event>(&r.payload) {
                Ok(ev) => {
                    let e = replay
                        .get_or_insert_with(|| Engagement::new(id, waymark_core::AgencyId(0)));
                    e.apply(&ev, PersonId(r.actor), Timestamp(r.at));
                }
                Err(_) => {
                    bad = Some(broken(r.seq, "its payload is not a valid event".into()));
                    break;
                }
            }
            prev = r.hash.clone();
        }
        if bad.is_none() && (count != rows.len() as i64 || head != prev) {
            bad = Some(broken(
                rows.len() as i64 + 1,
                format!(
                    "the engagement records {count} event(s) but {} remain (events were removed)",
                    rows.len()
                ),
            ));
        }
        if bad.is_none() {
            let saved: Result<Engagement, _> = unjson(&state);
            let matches = match (saved, replay) {
                (Ok(saved), Some(mut replayed)) => {
                    replayed.version = version as u64;
                    let same = saved == replayed;
                    // Every intact engagement is listed; its state is kept
                    // only where bytes hang off it (letters, documents).
                    if same {
                        let bytes = !(replayed.letters.is_empty() && replayed.documents.is_empty());
                        states.insert(id, bytes.then_some(replayed));
                    }
                    same
                }
                _ => false,
            };
            if !matches {
                bad = Some(broken(
                    0,
                    "the saved state does not match its events".into(),
                ));
            }
        }
        out.broken.extend(bad);
    }
    let bytes = crate::records::verify_bytes(store, &mut tx, &states).await?;
    out.letters = bytes.letters;
    out.files = bytes.files;
    out.altered = bytes.altered;
    out.altered
        .extend(crate::removal::altered_removals(&mut tx).await?);
    Ok(out)
}

async fn count(conn: &mut sqlx::AnyConnection, sql: &str) -> Result<usize, StoreError> {
    let n: i64 = sqlx::query(sql).fetch_one(&mut *conn).await?.try_get(0)?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// A chain of events kept beside a record that is not an engagement (an
/// enquiry, an agency): the events table, the table whose rows hold each
/// chain's count and head, and the column naming the record. Names are
/// this crate's constants, never input.
pub(crate) struct SideChain {
    pub events: &'static str,
    pub heads: &'static str,
    pub key: &'static str,
}

pub(crate) const ENQUIRY_CHAIN: SideChain = SideChain {
    events: "enquiry_events",
    heads: "enquiries",
    key: "enquiry_id",
};

pub(crate) const AGENCY_CHAIN: SideChain = SideChain {
    events: "agency_events",
    heads: "agencies",
    key: "agency_id",
};

impl SideChain {
    /// Appends one event to record `id`'s chain (the caller holds the
    /// record's row, or the writer's turn); returns its number.
    pub(crate) async fn append(
        &self,
        tx: &mut Transaction<'_, Any>,
        id: i64,
        actor: i64,
        at: Timestamp,
        kind: &str,
        payload: &str,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT event_count, head_hash FROM {} WHERE id = $1",
            self.heads
        ))
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
        let count: i64 = row.try_get::<i64, _>("event_count")? + 1;
        let prev: String = row.try_get("head_hash")?;
        let hash = link(&prev, id, count, actor, at.0, kind, payload);
        sqlx::query(&format!(
            "INSERT INTO {} ({}, seq, actor_id, at, kind, payload, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            self.events, self.key
        ))
        .bind(id)
        .bind(count)
        .bind(actor)
        .bind(at.0)
        .bind(kind)
        .bind(payload)
        .bind(&prev)
        .bind(&hash)
        .execute(&mut **tx)
        .await?;
        sqlx::query(&format!(
            "UPDATE {} SET event_count = $1, head_hash = $2 WHERE id = $3",
            self.heads
        ))
        .bind(count)
        .bind(&hash)
        .bind(id)
        .execute(&mut **tx)
        .await?;
        Ok(count)
    }

    /// Every record with its recorded count and head, in id order.
    pub(crate) async fn heads(
        &self,
        conn: &mut sqlx::AnyConnection,
    ) -> Result<Vec<(i64, i64, String)>, StoreError> {
        sqlx::query(&format!(
            "SELECT id, event_count, head_hash FROM {} ORDER BY id",
            self.heads
        ))
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get("id")?,
                r.try_get("event_count")?,
                r.try_get("head_hash")?,
            ))
        })
        .collect()
    }

    /// Recomputes record `id`'s chain against the count and head its row
    /// holds: how many events it has, their payloads in order up to the
    /// first bad link, and that link (its sequence number and why), if any.
    pub(crate) async fn check(
        &self,
        conn: &mut sqlx::AnyConnection,
        (id, count, head): &(i64, i64, String),
        redacted: &crate::removal::Redacted,
    ) -> Result<(usize, Vec<String>, Option<(i64, String)>), StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT seq, actor_id, at, kind, payload, prev_hash, hash FROM {} WHERE {} = $1 ORDER BY seq",
            self.events, self.key
        ))
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
        let removed = redacted.of(self.events, *id);
        let mut prev = String::new();
        let mut payloads = Vec::with_capacity(rows.len());
        for (i, r) in rows.iter().enumerate() {
            let seq: i64 = r.try_get("seq")?;
            let payload: String = r.try_get("payload")?;
            let kind: String = r.try_get("kind")?;
            let hash: String = r.try_get("hash")?;
            // An event a removal of personal data changed keeps its link;
            // its link over what it holds now must be the removal's.
            let relinked = link(
                &prev,
                *id,
                seq,
                r.try_get("actor_id")?,
                r.try_get("at")?,
                &kind,
                &payload,
            );
            let ok = seq == i as i64 + 1
                && r.try_get::<String, _>("prev_hash")? == prev
                && relinked == *removed.get(&seq).unwrap_or(&hash);
            if !ok {
                let why = "the event is missing, out of order or changed".to_string();
                return Ok((rows.len(), payloads, Some((i as i64 + 1, why))));
            }
            payloads.push(payload);
            prev = hash;
        }
        if *count != rows.len() as i64 || *head != prev {
            let why = format!(
                "the record holds {count} event(s) but {} remain",
                rows.len()
            );
            return Ok((rows.len(), payloads, Some((rows.len() as i64 + 1, why))));
        }
        Ok((rows.len(), payloads, None))
    }
}
