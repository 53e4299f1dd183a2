//! Removing a person's personal data at their request, without breaking
//! the audit trail.
//!
//! Events name people by id, never by name or address, so most of what
//! Waymark holds about someone is their row in `people`: it stays (the
//! history still says an act was theirs), with their name and address
//! replaced. What others typed about them (a workshop guest's address, an
//! enquiry's contact, mail, a comment that names them) is found by looking:
//! every text column of every table is searched for their address and, when
//! it is at least two words, their full name (ASCII letters compared
//! without case), and each is replaced by [`MARK`]. Credentials and
//! sign-in state are deleted.
//!
//! Where a replaced text is inside the audit trail, the chain is not
//! rewritten: the event keeps its link (its `hash` and the next event's
//! `prev_hash`), and `redactions` records the SHA-256 of what the event
//! holds since, under the removal that changed it. `audit verify` checks a
//! redacted event against that hash instead of recomputing its link, so a
//! later change to it is still found, and every other event as before. The
//! same holds for the rows a chain binds by hash (an enquiry's content, its
//! conversation's messages). The removal itself is a row of
//! `person_removals`: whose, by whom, when, how many rows.
//!
//! Not searched: bytes (uploaded files, attachments, letters' PDFs, which
//! are official records the programme keeps), and names of one word.

use sqlx::{Any, Row, Transaction};
use waymark_core::{Actor, PersonId, Timestamp};

use crate::chain::{AGENCY_CHAIN, ENQUIRY_CHAIN, sha256};
use crate::{Backend, Store, StoreError};

/// What replaces a removed address or name inside other text.
pub const MARK: &str = "[removed at the person's request]";
/// The name a removed person's row shows.
pub const REMOVED_NAME: &str = "Removed at the person's request";

/// Credentials and sign-in state, deleted outright (each has `person_id`).
const DELETED: &[&str] = &[
    "sessions",
    "tokens",
    "second_factors",
    "recovery_codes",
    "sign_in_identities",
    "passkeys",
    "invites",
];

/// A removal, as it was recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PersonRemoval {
    pub id: i64,
    pub person: i64,
    pub removed_by: i64,
    pub at: Timestamp,
    /// Rows changed or deleted.
    pub rows_changed: i64,
    /// Of those, events and hash-bound rows in the audit trail.
    pub redacted: i64,
}

/// The chained events tables, with the column naming each chain's record.
fn chains() -> [(&'static str, &'static str); 5] {
    [
        ("events", "engagement_id"),
        (ENQUIRY_CHAIN.events, ENQUIRY_CHAIN.key),
        (AGENCY_CHAIN.events, AGENCY_CHAIN.key),
        (
            crate::community::TOPIC_CHAIN.events,
            crate::community::TOPIC_CHAIN.key,
        ),
        (
            crate::surveys::SURVEY_CHAIN.events,
            crate::surveys::SURVEY_CHAIN.key,
        ),
    ]
}

/// Tables never searched: what this module writes, the migrations' ledger,
/// and full-text index internals that triggers keep in step with the
/// documents they index.
fn skipped(table: &str) -> bool {
    // `people`: the person's own row is replaced by name, and nobody
    // else's is ever changed.
    matches!(
        table,
        "people" | "person_removals" | "redactions" | "_sqlx_migrations" | "sqlite_sequence"
    ) || table.starts_with("search_fts")
}

/// `text` with every occurrence of each needle replaced by [`MARK`];
/// `None` when none occurs. Letters compare without case (Unicode, one
/// letter at a time: `É` is `é`), a space in a needle matches any run of
/// white space (a line break, a no-break space), and `'` matches `’` and
/// `‘`. An occurrence counts only as a whole: `a@b.au` is not found inside
/// `ana@b.au` or `a@b.au.example`, nor `Mia Member` inside `Amia Members`,
/// so nobody else's address or name is touched.
pub fn scrub(text: &str, needles: &[String]) -> Option<String> {
    let mut out = text.to_string();
    let mut changed = false;
    for needle in needles.iter().filter(|n| !n.is_empty()) {
        let needle: Vec<char> = needle.chars().collect();
        let mut result = String::with_capacity(out.len());
        let mut last = 0;
        for i in out.char_indices().map(|(i, _)| i) {
            if i < last {
                continue;
            }
            if let Some(end) = matches_at(&out, i, &needle)
                && whole(&out, i, end)
            {
                result.push_str(&out[last..i]);
                result.push_str(MARK);
                last = end;
                changed = true;
            }
        }
        if last > 0 {
            result.push_str(&out[last..]);
            out = result;
        }
    }
    changed.then_some(out)
}

/// Where a match of `needle` that starts at byte `at` of `text` ends.
fn matches_at(text: &str, at: usize, needle: &[char]) -> Option<usize> {
    let mut rest = text[at..].char_indices().peekable();
    let same = |a: char, b: char| {
        a == b || a.to_lowercase().eq(b.to_lowercase()) || (b == '\'' && matches!(a, '’' | '‘'))
    };
    for &n in needle {
        if n == ' ' {
            // White space, or a line break or tab as JSON and iCalendar
            // write one (`\n`, `\t`, `\r`).
            let mut spaces = 0;
            loop {
                match rest.peek() {
                    Some((_, c)) if c.is_whitespace() => {
                        rest.next();
                    }
                    Some((i, '\\')) if escaped_space(&text[at + i..]) => {
                        rest.next();
                        rest.next();
                    }
                    _ => break,
                }
                spaces += 1;
            }
            if spaces == 0 {
                return None;
            }
            continue;
        }
        match rest.next() {
            Some((_, c)) if same(c, n) => {}
            _ => return None,
        }
    }
    Some(at + rest.peek().map_or(text.len() - at, |(i, _)| *i))
}

/// Whether `text[start..end]` stands alone: no letter, digit or address
/// character just before it, and none just after it (a `.` or `-` after it
/// counts only when more of a word follows, as in `a@b.au.example`).
fn whole(text: &str, start: usize, end: usize) -> bool {
    let head = &text[..start];
    // Just after an escaped line break or tab (`\n`), as after white space.
    let after_escape = head.len() >= 2
        && head.is_char_boundary(head.len() - 2)
        && escaped_space(&head[head.len() - 2..]);
    let open_before = after_escape
        || head
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || "._%+-".contains(c)));
    let mut after = text[end..].chars();
    let next = after.next();
    let then = after.next();
    let open_after = match next {
        None => true,
        Some(c) if c.is_alphanumeric() || c == '_' || c == '%' || c == '+' => false,
        Some('.' | '-') => then.is_none_or(|c| !c.is_alphanumeric()),
        Some(_) => true,
    };
    open_before && open_after
}

/// Whether `text` starts with a line break or tab as JSON and iCalendar
/// escape one: a backslash, then `n`, `t` or `r`.
fn escaped_space(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= 2 && b[0] == b'\\' && matches!(b[1], b'n' | b't' | b'r' | b'N')
}

/// A calendar file's lines folded again at 75 octets (RFC 5545 §3.1),
/// after a removal read them unfolded.
fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 70 * 3);
    for (n, line) in text.split("\r\n").enumerate() {
        if n > 0 {
            out.push_str("\r\n");
        }
        let mut width = 0;
        for c in line.chars() {
            if width + c.len_utf8() > 75 {
                out.push_str("\r\n ");
                width = 1;
            }
            out.push(c);
            width += c.len_utf8();
        }
    }
    out
}

/// What the database is asked for before [`scrub`] looks closely: the
/// longest run of ASCII letters and digits of each needle, lowercase (the
/// databases' `lower` folds only ASCII on SQLite), or the needle itself
/// when it has none.
fn prefilter(needle: &str) -> String {
    needle
        .split(|c: char| !c.is_ascii_alphanumeric())
        .max_by_key(|part| part.len())
        .filter(|part| part.len() >= 3)
        .map_or_else(|| needle.to_string(), str::to_ascii_lowercase)
}

/// One table's text columns, and whether its rows can be named by row
/// (SQLite's tables without a rowid cannot).
struct Table {
    name: String,
    columns: Vec<String>,
    rowid: bool,
}

async fn tables(tx: &mut Transaction<'_, Any>, backend: Backend) -> Result<Vec<Table>, StoreError> {
    let mut out: Vec<Table> = Vec::new();
    match backend {
        Backend::Sqlite => {
            let rows = sqlx::query(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name",
            )
            .fetch_all(&mut **tx)
            .await?;
            for r in rows {
                let name: String = r.try_get("name")?;
                let sql: Option<String> = r.try_get("sql")?;
                let sql = sql.unwrap_or_default().to_uppercase();
                if skipped(&name) || sql.starts_with("CREATE VIRTUAL") {
                    continue;
                }
                let columns = sqlx::query(
                    "SELECT name FROM pragma_table_info($1) WHERE upper(type) = 'TEXT' ORDER BY cid",
                )
                .bind(&name)
                .fetch_all(&mut **tx)
                .await?
                .iter()
                .map(|c| c.try_get::<String, _>("name"))
                .collect::<Result<Vec<_>, _>>()?;
                out.push(Table {
                    name,
                    columns,
                    rowid: !sql.contains("WITHOUT ROWID"),
                });
            }
        }
        Backend::Postgres => {
            let rows = sqlx::query(
                "SELECT c.table_name::text AS t, c.column_name::text AS c \
                 FROM information_schema.columns c JOIN information_schema.tables t \
                   ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
                 WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' \
                   AND c.data_type IN ('text', 'character varying') AND c.is_generated = 'NEVER' \
                 ORDER BY c.table_name, c.ordinal_position",
            )
            .fetch_all(&mut **tx)
            .await?;
            for r in rows {
                let t: String = r.try_get("t")?;
                let c: String = r.try_get("c")?;
                if skipped(&t) {
                    continue;
                }
                match out.last_mut() {
                    Some(last) if last.name == t => last.columns.push(c),
                    _ => out.push(Table {
                        name: t,
                        columns: vec![c],
                        rowid: true,
                    }),
                }
            }
        }
    }
    out.retain(|t| !t.columns.is_empty());
    Ok(out)
}

/// Column names as SQL reads them whatever they are (read from the
/// schema, so a column named like a keyword later still works).
fn quoted(columns: &[String]) -> String {
    columns
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rows a scrub changed that the audit trail needs to know of.
#[derive(Default)]
struct Changed {
    rows: i64,
    /// (events table, record, seq, the event's link over what it holds
    /// since).
    events: Vec<(&'static str, i64, i64, String)>,
    enquiries: Vec<i64>,
    /// (message, its enquiry).
    messages: Vec<(i64, i64)>,
}

async fn scrub_table(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    t: &Table,
    needles: &[String],
    changed: &mut Changed,
) -> Result<(), StoreError> {
    let find = match backend {
        Backend::Sqlite => "instr",
        Backend::Postgres => "strpos",
    };
    let mut asked: Vec<String> = needles.iter().map(|n| prefilter(n)).collect();
    asked.sort();
    asked.dedup();
    let mut conds = Vec::new();
    for c in &t.columns {
        for i in 0..asked.len() {
            conds.push(format!("{find}(lower(\"{c}\"), ${}) > 0", i + 1));
        }
    }
    let chain = chains().into_iter().find(|(name, _)| *name == t.name);
    let mut extra = String::new();
    if let Some((events, key)) = chain {
        let kind = if events == "events" {
            "command"
        } else {
            "kind"
        };
        extra = format!(
            ", {key} AS chain_record, seq AS chain_seq, prev_hash AS chain_prev, \
             actor_id AS chain_actor, at AS chain_at, {kind} AS chain_kind"
        );
    } else if t.name == "enquiries" {
        extra = ", id AS row_id".into();
    } else if t.name == "enquiry_messages" {
        extra = ", id AS row_id, enquiry_id AS row_enquiry".into();
    }
    let rid = match backend {
        _ if !t.rowid => "NULL",
        Backend::Sqlite => "rowid",
        Backend::Postgres => "ctid::text",
    };
    let sql = format!(
        "SELECT {rid} AS rid, {}{extra} FROM \"{}\" WHERE {}{}",
        quoted(&t.columns),
        t.name,
        conds.join(" OR "),
        // PostgreSQL: the rows are held from this read to the commit, so a
        // command writing one meanwhile waits, and this reads its latest
        // version (SQLite's writer's turn already keeps writers out).
        match backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        }
    );
    let mut q = sqlx::query(&sql);
    for n in &asked {
        q = q.bind(n);
    }
    let rows = q.fetch_all(&mut **tx).await?;
    if rows.is_empty() {
        return Ok(());
    }
    for r in rows {
        let mut values = Vec::with_capacity(t.columns.len());
        let mut any = false;
        for c in &t.columns {
            let v: Option<String> = r.try_get(c.as_str())?;
            let left = v.as_deref().and_then(|v| scrub(v, needles));
            any |= left.is_some();
            values.push(left.or(v));
        }
        // The database's rough look found it; a close look did not.
        if !any {
            continue;
        }
        if !t.rowid {
            return Err(StoreError::Corrupt(format!(
                "{} holds the person's details but its rows cannot be named to change them",
                t.name
            )));
        }
        let sets: Vec<String> = t
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| format!("\"{c}\" = ${}", i + 1))
            .collect();
        let target = match backend {
            Backend::Sqlite => format!("rowid = ${}", t.columns.len() + 1),
            Backend::Postgres => format!("ctid = ${}::tid", t.columns.len() + 1),
        };
        let sql = format!(
            "UPDATE \"{}\" SET {} WHERE {target}",
            t.name,
            sets.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for v in &values {
            q = q.bind(v.clone());
        }
        q = match backend {
            Backend::Sqlite => q.bind(r.try_get::<i64, _>("rid")?),
            Backend::Postgres => q.bind(r.try_get::<String, _>("rid")?),
        };
        if q.execute(&mut **tx).await?.rows_affected() != 1 {
            return Err(StoreError::Corrupt(format!(
                "a row of {} changed while its personal data was being removed; try again",
                t.name
            )));
        }
        changed.rows += 1;
        if let Some((events, _)) = chain {
            let at = t.columns.iter().position(|c| c == "payload");
            let payload = at.and_then(|i| values[i].clone()).unwrap_or_default();
            let record: i64 = r.try_get("chain_record")?;
            let seq: i64 = r.try_get("chain_seq")?;
            // The event's link recomputed over what it holds now: it binds
            // the event's other fields as the original link did.
            let relinked = crate::chain::link(
                &r.try_get::<String, _>("chain_prev")?,
                record,
                seq,
                r.try_get("chain_actor")?,
                r.try_get("chain_at")?,
                &r.try_get::<String, _>("chain_kind")?,
                &payload,
            );
            changed.events.push((events, record, seq, relinked));
        } else if t.name == "enquiries" {
            changed.enquiries.push(r.try_get("row_id")?);
        } else if t.name == "enquiry_messages" {
            changed
                .messages
                .push((r.try_get("row_id")?, r.try_get("row_enquiry")?));
        }
    }
    Ok(())
}

async fn redact(
    tx: &mut Transaction<'_, Any>,
    table: &str,
    record: i64,
    seq: i64,
    hash: &str,
    removal: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO redactions (record_table, record_id, seq, sha256, removal_id) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(table)
    .bind(record)
    .bind(seq)
    .bind(hash)
    .bind(removal)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The SHA-256 over removal `removal`'s redactions, in order: it binds
/// which records the removal changed, and how, so that a redaction added or
/// changed later shows in `audit verify`.
pub(crate) async fn digest_of(
    conn: &mut sqlx::AnyConnection,
    removal: i64,
) -> Result<String, StoreError> {
    let rows = sqlx::query(
        "SELECT record_table, record_id, seq, sha256 FROM redactions WHERE removal_id = $1 \
         ORDER BY record_table, record_id, seq",
    )
    .bind(removal)
    .fetch_all(&mut *conn)
    .await?;
    let mut text = String::new();
    for r in rows {
        text.push_str(&format!(
            "{}\t{}\t{}\t{}\n",
            r.try_get::<String, _>("record_table")?,
            r.try_get::<i64, _>("record_id")?,
            r.try_get::<i64, _>("seq")?,
            r.try_get::<String, _>("sha256")?
        ));
    }
    Ok(sha256(&text))
}

/// Every removal whose redactions no longer give its digest.
pub(crate) async fn altered_removals(
    conn: &mut sqlx::AnyConnection,
) -> Result<Vec<crate::Altered>, StoreError> {
    let removals = sqlx::query("SELECT id, digest FROM person_removals ORDER BY id")
        .fetch_all(&mut *conn)
        .await?;
    let mut out = Vec::new();
    for r in removals {
        let id: i64 = r.try_get("id")?;
        let digest: Option<String> = r.try_get("digest")?;
        if digest.as_deref() != Some(digest_of(&mut *conn, id).await?.as_str()) {
            out.push(crate::Altered {
                record: format!("removal of personal data {id}"),
                reason: "the records it changed were changed since (a redaction added, removed or altered)"
                    .into(),
            });
        }
    }
    Ok(out)
}

/// Every redaction, read once for a whole verification instead of once a
/// record (most databases have none, and a record's chain is one query).
#[derive(Debug, Default)]
pub(crate) struct Redacted {
    by_record: std::collections::HashMap<(String, i64), std::collections::HashMap<i64, String>>,
    none: std::collections::HashMap<i64, String>,
}

impl Redacted {
    pub(crate) async fn load(conn: &mut sqlx::AnyConnection) -> Result<Redacted, StoreError> {
        let mut out = Redacted::default();
        let rows = sqlx::query(
            "SELECT record_table, record_id, seq, sha256 FROM redactions ORDER BY seq, removal_id",
        )
        .fetch_all(&mut *conn)
        .await?;
        for r in &rows {
            out.by_record
                .entry((r.try_get("record_table")?, r.try_get("record_id")?))
                .or_default()
                .insert(r.try_get("seq")?, r.try_get("sha256")?);
        }
        Ok(out)
    }

    /// Record `record` of `table`'s redacted events: each one's hash as
    /// the removal left it, by sequence number (as [`redactions`] reads).
    pub(crate) fn of(&self, table: &str, record: i64) -> &std::collections::HashMap<i64, String> {
        self.by_record
            .get(&(table.to_string(), record))
            .unwrap_or(&self.none)
    }
}

/// The hashes removals recorded for `table`'s record `record`, by seq:
/// the latest removal's, where several changed one.
pub(crate) async fn redactions(
    conn: &mut sqlx::AnyConnection,
    table: &str,
    record: i64,
) -> Result<std::collections::HashMap<i64, String>, StoreError> {
    sqlx::query(
        "SELECT seq, sha256 FROM redactions WHERE record_table = $1 AND record_id = $2 \
         ORDER BY seq, removal_id",
    )
    .bind(table)
    .bind(record)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| Ok((r.try_get("seq")?, r.try_get("sha256")?)))
    .collect()
}

impl Store {
    /// Removes `person`'s personal data at their request (see the module's
    /// words), in one transaction; returns the removal as recorded.
    pub async fn remove_personal_data(
        &self,
        by: &Actor,
        person: PersonId,
        also: &[String],
        now: Timestamp,
    ) -> Result<PersonRemoval, StoreError> {
        by.may_remove_personal_data(person)?;
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let row = sqlx::query("SELECT name, email, removed_at FROM people WHERE id = $1")
            .bind(person.0)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NoSuchPerson(person.to_string()))?;
        if row.try_get::<Option<i64>, _>("removed_at")?.is_some() {
            return Err(StoreError::Duplicate {
                field: "person",
                value: "their personal data, removed already".into(),
            });
        }
        let name: String = row.try_get("name")?;
        // Other people's names, so that none is searched for.
        let others: std::collections::HashSet<String> =
            sqlx::query("SELECT name FROM people WHERE id <> $1")
                .bind(person.0)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .filter_map(|r| r.try_get::<String, _>("name").ok())
                .map(|n| waymark_core::removal::plain(&n))
                .collect();
        let needles =
            waymark_core::removal::terms(&name, &row.try_get::<String, _>("email")?, also, |n| {
                others.contains(&waymark_core::removal::plain(n))
            })?;
        let removal: i64 = sqlx::query(
            "INSERT INTO person_removals (person_id, removed_by, at, rows_changed) \
             VALUES ($1, $2, $3, 0) RETURNING id",
        )
        .bind(person.0)
        .bind(by.person.0)
        .bind(now.0)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        sqlx::query(
            "UPDATE people SET name = $1, email = $2, password_hash = NULL, removed_at = $3, \
             deactivated_at = COALESCE(deactivated_at, $3), \
             deactivated_by = COALESCE(deactivated_by, $4) WHERE id = $5",
        )
        .bind(REMOVED_NAME)
        .bind(waymark_core::removal::removed_address(person))
        .bind(now.0)
        .bind(by.person.0)
        .bind(person.0)
        .execute(&mut *tx)
        .await?;
        let mut changed = Changed {
            rows: 1,
            ..Changed::default()
        };
        for table in DELETED {
            let done = sqlx::query(&format!("DELETE FROM {table} WHERE person_id = $1"))
                .bind(person.0)
                .execute(&mut *tx)
                .await?;
            changed.rows += done.rows_affected() as i64;
        }
        // Mail to them not sent yet is never sent: its address goes.
        sqlx::query(
            "UPDATE outbox SET gave_up_at = $1, last_error = $2 \
             WHERE sent_at IS NULL AND gave_up_at IS NULL AND lower(trim(recipient)) = $3",
        )
        .bind(now.0)
        .bind("not sent: the person's personal data was removed at their request")
        .bind(&needles[0])
        .execute(&mut *tx)
        .await?;
        // Calendar files fold long lines, which can split an address:
        // they are searched unfolded.
        let attached =
            sqlx::query("SELECT id, attachment FROM outbox WHERE attachment IS NOT NULL")
                .fetch_all(&mut *tx)
                .await?;
        for r in attached {
            let text: String = r.try_get("attachment")?;
            let unfolded = text
                .replace("\r\n ", "")
                .replace("\r\n\t", "")
                .replace("\n ", "");
            if let Some(left) = scrub(&unfolded, &needles) {
                sqlx::query("UPDATE outbox SET attachment = $1 WHERE id = $2")
                    .bind(fold(&left))
                    .bind(r.try_get::<i64, _>("id")?)
                    .execute(&mut *tx)
                    .await?;
                changed.rows += 1;
            }
        }
        for t in tables(&mut tx, self.backend).await? {
            scrub_table(&mut tx, self.backend, &t, &needles, &mut changed).await?;
        }
        let mut redacted = 0;
        for (table, record, seq, hash) in &changed.events {
            redact(&mut tx, table, *record, *seq, hash, removal).await?;
            redacted += 1;
        }
        for id in &changed.enquiries {
            let hash = crate::intake::current_content_hash(&mut tx, *id).await?;
            redact(&mut tx, "enquiries", *id, 0, &hash, removal).await?;
            redacted += 1;
        }
        for (id, enquiry) in &changed.messages {
            let messages = crate::mailbox::messages_of(&mut tx, *enquiry).await?;
            if let Some(m) = messages.iter().find(|m| m.id == *id) {
                let hash = crate::mailbox::message_hash(m)?;
                redact(&mut tx, "enquiry_messages", *id, 0, &hash, removal).await?;
                redacted += 1;
            }
        }
        let digest = digest_of(&mut tx, removal).await?;
        sqlx::query("UPDATE person_removals SET rows_changed = $1, digest = $2 WHERE id = $3")
            .bind(changed.rows)
            .bind(&digest)
            .bind(removal)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if self.backend == Backend::Sqlite {
            // The full-text index keeps removed words in its segments until
            // they are merged, and the write-ahead log keeps the pages the
            // removal replaced until it is written back and emptied.
            sqlx::query("INSERT INTO search_fts (search_fts) VALUES ('optimize')")
                .execute(&self.pool)
                .await?;
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&self.pool)
                .await?;
        }
        Ok(PersonRemoval {
            id: removal,
            person: person.0,
            removed_by: by.person.0,
            at: now,
            rows_changed: changed.rows,
            redacted,
        })
    }

    /// The removals of personal data, newest first.
    pub async fn person_removals(&self) -> Result<Vec<PersonRemoval>, StoreError> {
        sqlx::query(
            "SELECT r.id, r.person_id, r.removed_by, r.at, r.rows_changed, \
             (SELECT COUNT(*) FROM redactions d WHERE d.removal_id = r.id) AS redacted \
             FROM person_removals r ORDER BY r.id DESC",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(PersonRemoval {
                id: r.try_get("id")?,
                person: r.try_get("person_id")?,
                removed_by: r.try_get("removed_by")?,
                at: Timestamp(r.try_get("at")?),
                rows_changed: r.try_get("rows_changed")?,
                redacted: r.try_get("redacted")?,
            })
        })
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needles(name: &str, email: &str) -> Vec<String> {
        waymark_core::removal::terms(name, email, &[], |_| false).unwrap()
    }

    #[test]
    fn scrub_replaces_each_needle_without_case_and_nothing_else() {
        let n = needles("Mia  Member", "Mia@Bot.gov.au");
        assert_eq!(
            scrub("From: MIA MEMBER <MIA@bot.GOV.au>, cc mia@bot.gov.au.", &n).unwrap(),
            format!("From: {MARK} <{MARK}>, cc {MARK}.")
        );
        assert_eq!(scrub("Maria Memberson? mia@bot.gov", &n), None);
        // Only whole addresses and names: nobody else's.
        for other in [
            "ana.mia@bot.gov.au",
            "xmia@bot.gov.au",
            "mia@bot.gov.au.example",
            "mia@bot.gov.au-x",
            "Amia Member",
            "Mia Members",
        ] {
            assert_eq!(scrub(other, &n), None, "{other}");
        }
        for own in [
            "mailto:mia@bot.gov.au",
            "<mia@bot.gov.au>",
            "\"mia@bot.gov.au\"",
            "(Mia Member).",
            "mia@bot.gov.au.",
            "Dear Mia Member,",
        ] {
            assert!(scrub(own, &n).is_some(), "{own}");
        }
        assert_eq!(
            scrub("héllo mia@bot.gov.au ü", &n).unwrap(),
            format!("héllo {MARK} ü")
        );
        // One word, or a short name, is too common to search for.
        // Accented capitals, line breaks, no-break spaces, curly
        // apostrophes, JSON's and links' forms.
        let n = needles("Élodie O'Neil", "e@x.au");
        for own in [
            "ÉLODIE O'NEIL",
            "Élodie\nO’Neil",
            "élodie\u{a0}o'neil",
            "?n=Élodie+O'Neil",
        ] {
            assert!(scrub(own, &n).is_some(), "{own}");
        }
        // Line breaks and tabs as JSON and iCalendar write them.
        let t = needles("Tess Quinn", "tess@abc.gov.au");
        for own in [
            r"Hi\nTess Quinn here",
            r"Tess\nQuinn",
            r"Tess\r\nQuinn",
            r"x\tTess Quinn",
            r"tess@abc.gov.au\ntess@abc.gov.au",
        ] {
            let left = scrub(own, &t).unwrap_or_default();
            assert!(
                !left.to_lowercase().contains("tess") && !left.contains("Quinn"),
                "{own}: {left}"
            );
        }
        // Calendar lines are folded again at 75 octets.
        let folded = fold(&format!("DESCRIPTION:{}\r\nEND:VEVENT", "é".repeat(60)));
        assert!(folded.split("\r\n").all(|l| l.len() <= 75), "{folded}");
        assert_eq!(
            folded.replace("\r\n ", ""),
            format!("DESCRIPTION:{}\r\nEND:VEVENT", "é".repeat(60))
        );
        let quoted = needles("Kim \"KJ\" Jones", "k@x.au");
        assert!(scrub(r#"{"name":"Kim \"KJ\" Jones"}"#, &quoted).is_some());
        assert!(scrub("mailto:e%40x.au", &n).is_some());
    }
}
