//! Bytes that belong to an engagement: uploaded files and issued letters,
//! each written in the same transaction as the event that records it, and
//! the programme's letter templates (every saved version kept).

use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{Any, Row, Transaction};
use waymark_core::{
    Actor, Command, DomainError, Engagement, EngagementId, Event, LetterKind, PersonId, Timestamp,
};

use crate::chain::hex;
use crate::{Store, StoreError};

/// The largest file accepted, in bytes.
pub const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;

/// A file to keep against an engagement (or an enquiry).
#[derive(Debug, Clone)]
pub struct NewFile {
    pub title: String,
    pub name: String,
    /// Our own type for the bytes (from [`classify`]), never the sender's word.
    pub content_type: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileRow {
    pub id: i64,
    pub sha256: String,
    pub size: u64,
    pub content_type: String,
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub engagement: Option<EngagementId>,
    pub enquiry: Option<i64>,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub created_at: Timestamp,
}

/// Extensions, the type we serve them as, and a check of the bytes.
type Accepted = (&'static [&'static str], &'static str, fn(&[u8]) -> bool);

/// The types accepted for upload.
const TYPES: &[Accepted] = &[
    (&["pdf"], "application/pdf", |b| b.starts_with(b"%PDF-")),
    (
        &["docx"],
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        zip,
    ),
    (
        &["xlsx"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        zip,
    ),
    (
        &["pptx"],
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        zip,
    ),
    (&["png"], "image/png", |b| {
        b.starts_with(b"\x89PNG\r\n\x1a\n")
    }),
    (&["jpg", "jpeg"], "image/jpeg", |b| {
        b.starts_with(&[0xff, 0xd8, 0xff])
    }),
    (&["txt"], "text/plain; charset=utf-8", text),
    (&["md"], "text/markdown; charset=utf-8", text),
    (&["csv"], "text/csv; charset=utf-8", text),
];

fn zip(b: &[u8]) -> bool {
    b.starts_with(b"PK\x03\x04")
}

fn text(b: &[u8]) -> bool {
    std::str::from_utf8(b).is_ok_and(|t| !t.contains('\0'))
}

/// The accepted extensions, for messages and the form's `accept`.
pub fn accepted_extensions() -> Vec<&'static str> {
    TYPES
        .iter()
        .flat_map(|(ext, _, _)| ext.iter().copied())
        .collect()
}

/// The content type of an upload named `name`, if its bytes are what its
/// extension says; otherwise a message that says what is wrong.
pub fn classify(name: &str, bytes: &[u8]) -> Result<&'static str, DomainError> {
    if bytes.is_empty() {
        return Err(DomainError::invalid("file", "the file is empty"));
    }
    if bytes.len() > MAX_FILE_BYTES {
        return Err(DomainError::invalid(
            "file",
            format!(
                "the file is {} MB; the limit is {} MB",
                bytes.len().div_ceil(1024 * 1024),
                MAX_FILE_BYTES / (1024 * 1024)
            ),
        ));
    }
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let Some((_, kind, check)) = TYPES
        .iter()
        .find(|(exts, _, _)| exts.contains(&ext.as_str()))
    else {
        return Err(DomainError::invalid(
            "file",
            format!(
                "“{name}” is not a type we accept; upload one of: {}",
                accepted_extensions().join(", ")
            ),
        ));
    };
    if !check(bytes) {
        return Err(DomainError::invalid(
            "file",
            format!("“{name}” does not contain what its name says (.{ext})"),
        ));
    }
    Ok(kind)
}

/// A file's name as we keep it: no path, no control characters.
pub fn clean_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    // One line, with no direction overrides: `invoice\u{202e}gnp.exe`
    // must not show as "invoiceexe.png".
    let base = waymark_core::one_line(base);
    let name: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '<' | '>'))
        .take(200)
        .collect();
    let name = name.trim().to_string();
    if name.is_empty() {
        "file".to_string()
    } else {
        name
    }
}

pub(crate) fn sha256_bytes(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// A new version of a letter, rendered and typeset by the caller.
#[derive(Debug, Clone)]
pub struct NewLetter {
    pub kind: LetterKind,
    pub markdown: String,
    pub html: String,
    pub pdf: Vec<u8>,
    /// The facts the template was given, as JSON.
    pub facts: String,
    pub template_version: i64,
    /// Mail to queue with it (the sponsor's sign-off request).
    pub mail: Vec<crate::Mail>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LetterRow {
    pub kind: LetterKind,
    pub version: u32,
    pub markdown: String,
    pub html: String,
    pub sha256: String,
    pub facts: String,
    pub template_version: i64,
    pub created_by: PersonId,
    pub created_at: Timestamp,
}

impl LetterRow {
    /// This version as the core compares it with what would come next.
    pub fn issued(&self) -> waymark_core::letter::Issued<'_> {
        waymark_core::letter::Issued {
            version: self.version,
            facts: &self.facts,
            template_version: self.template_version,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredTemplate {
    pub kind: LetterKind,
    pub version: i64,
    pub body: String,
    pub created_by: PersonId,
    pub created_at: Timestamp,
}

/// Mail written from the engagement as a command leaves it, queued in the
/// command's transaction.
pub type Notify = std::sync::Arc<dyn Fn(&Engagement) -> Vec<crate::Mail> + Send + Sync>;

/// What [`Store::transact`] writes beside the command's events. Owned: on
/// SQLite another caller's batch may run the command.
pub(crate) enum Extra {
    Nothing,
    Letter(NewLetter),
    /// The bytes the command names are already kept (an enquiry's
    /// attachment moving onto the engagement).
    Kept,
    Notify(Notify),
}

/// What one transaction on an engagement writes. Made once per command and
/// moved into the writer's queue, so its size does not matter.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Write {
    /// A command, and what it writes beside its events.
    Command(Command, Extra),
    /// A new file: inserted first, then recorded by the `AttachDocument`
    /// command that names its id.
    Upload(NewFile),
}

/// Inserts the file and returns the command that records it.
pub(crate) async fn attach_command(
    tx: &mut Transaction<'_, Any>,
    dir: Option<&Path>,
    f: &NewFile,
    engagement: EngagementId,
    by: PersonId,
    now: Timestamp,
) -> Result<Command, StoreError> {
    let sha256 = sha256_bytes(&f.bytes);
    let file = insert_file(tx, dir, f, &sha256, Some(engagement), None, by, now).await?;
    Ok(Command::AttachDocument {
        file,
        title: f.title.as_str().into(),
        name: f.name.as_str().into(),
        content_type: f.content_type.as_str().into(),
        size: f.bytes.len() as u64,
        sha256: sha256.into(),
    })
}

/// Where a file with this hash lives below the files directory.
fn location(sha256: &str) -> String {
    format!("{}/{sha256}", &sha256[..2])
}

/// Writes `bytes` to `dir/location` durably: a temporary file, flushed to
/// disk, then renamed into place. Files are named by their SHA-256, so a
/// file already there holds the same bytes and is left as it is.
fn write_file(dir: &Path, location: &str, bytes: &[u8]) -> Result<(), StoreError> {
    use std::io::Write;
    let path = dir.join(location);
    if path.exists() {
        return Ok(());
    }
    let fail = |e: std::io::Error| {
        StoreError::Corrupt(format!(
            "cannot write {} to the files directory: {e}",
            path.display()
        ))
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp).map_err(fail)?;
    f.write_all(bytes).map_err(fail)?;
    f.sync_all().map_err(fail)?;
    std::fs::rename(&tmp, &path).map_err(fail)?;
    Ok(())
}

/// Reads a file kept in the files directory, and checks it is still the
/// file that was stored.
pub(crate) fn read_file(
    dir: Option<&Path>,
    location: &str,
    sha256: &str,
) -> Result<Vec<u8>, StoreError> {
    let dir = dir.ok_or_else(|| {
        StoreError::Corrupt(format!(
            "file {location} is kept in a files directory, and none is configured (--files-dir)"
        ))
    })?;
    let path = dir.join(location);
    let bytes = std::fs::read(&path)
        .map_err(|e| StoreError::Corrupt(format!("cannot read {}: {e}", path.display())))?;
    if sha256_bytes(&bytes) != sha256 {
        return Err(StoreError::Corrupt(format!(
            "{} no longer holds the file that was stored (its SHA-256 differs)",
            path.display()
        )));
    }
    Ok(bytes)
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_file(
    tx: &mut Transaction<'_, Any>,
    dir: Option<&Path>,
    f: &NewFile,
    sha256: &str,
    engagement: Option<EngagementId>,
    enquiry: Option<i64>,
    by: PersonId,
    now: Timestamp,
) -> Result<i64, StoreError> {
    // With a files directory the bytes are on disk before the row commits;
    // if the transaction then fails, the file is an unreferenced copy.
    let (content, place): (&[u8], Option<String>) = match dir {
        Some(d) => {
            let loc = location(sha256);
            write_file(d, &loc, &f.bytes)?;
            (&[], Some(loc))
        }
        None => (&f.bytes, None),
    };
    let row = sqlx::query(
        "INSERT INTO files (sha256, size, content_type, name, content, enquiry_id, engagement_id, created_by, created_at, location) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(sha256)
    .bind(f.bytes.len() as i64)
    .bind(&f.content_type)
    .bind(&f.name)
    .bind(content)
    .bind(enquiry)
    .bind(engagement.map(|e| e.0))
    .bind(by.0)
    .bind(now.0)
    .bind(place)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get(0)?)
}

pub(crate) async fn save_letter(
    tx: &mut Transaction<'_, Any>,
    l: &NewLetter,
    engagement: EngagementId,
    events: &[Event],
    by: PersonId,
    now: Timestamp,
) -> Result<(), StoreError> {
    for ev in events {
        if let Event::LetterIssued {
            kind,
            version,
            sha256,
        } = ev
        {
            sqlx::query(
                "INSERT INTO letters (engagement_id, kind, version, markdown, html, pdf, sha256, facts, template_version, created_by, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(engagement.0)
            .bind(kind.slug())
            .bind(i64::from(*version))
            .bind(&l.markdown)
            .bind(&l.html)
            .bind(&l.pdf)
            .bind(sha256)
            .bind(&l.facts)
            .bind(l.template_version)
            .bind(by.0)
            .bind(now.0)
            .execute(&mut **tx)
            .await?;
        }
    }
    for m in &l.mail {
        crate::outbox::queue(tx, m, now).await?;
    }
    Ok(())
}

pub(crate) fn file_row(r: &sqlx::any::AnyRow) -> Result<FileRow, StoreError> {
    Ok(FileRow {
        id: r.try_get("id")?,
        sha256: r.try_get("sha256")?,
        size: r.try_get::<i64, _>("size")? as u64,
        content_type: r.try_get("content_type")?,
        name: r.try_get("name")?,
        engagement: r
            .try_get::<Option<i64>, _>("engagement_id")?
            .map(EngagementId),
        enquiry: r.try_get("enquiry_id")?,
        created_at: Timestamp(r.try_get("created_at")?),
    })
}

pub(crate) const FILE_COLUMNS: &str =
    "id, sha256, size, content_type, name, engagement_id, enquiry_id, created_at";

fn letter_row(r: &sqlx::any::AnyRow) -> Result<LetterRow, StoreError> {
    let kind: String = r.try_get("kind")?;
    Ok(LetterRow {
        kind: LetterKind::from_slug(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown letter kind {kind}")))?,
        version: r.try_get::<i64, _>("version")? as u32,
        markdown: r.try_get("markdown")?,
        html: r.try_get("html")?,
        sha256: r.try_get("sha256")?,
        facts: r.try_get("facts")?,
        template_version: r.try_get("template_version")?,
        created_by: PersonId(r.try_get("created_by")?),
        created_at: Timestamp(r.try_get("created_at")?),
    })
}

const LETTER_COLUMNS: &str =
    "kind, version, markdown, html, sha256, facts, template_version, created_by, created_at";

/// A letter or file whose bytes, or whose hash, no longer match what the
/// audit chain recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Altered {
    /// What it is: "engagement 3, Letter of Intent version 1", "file 7".
    pub record: String,
    pub reason: String,
}

/// What the letters and files checks saw.
#[derive(Debug, Default)]
pub(crate) struct BytesChecked {
    pub letters: usize,
    pub files: usize,
    pub altered: Vec<Altered>,
}

/// Recomputes the SHA-256 of every letter's PDF and every file's bytes, and
/// compares each with the hash its engagement's chain recorded (`states`:
/// the engagements whose chains verified, with their state where it records
/// letters or documents) and with its own row. An enquiry's
/// attachment is bound by its enquiry's content hash instead, which names
/// each attachment's SHA-256; `intake::verify` checks that. Rows are read
/// through `conn`, at the same moment as the chains were.
pub(crate) async fn verify_bytes(
    store: &Store,
    conn: &mut sqlx::AnyConnection,
    states: &std::collections::HashMap<EngagementId, Option<Engagement>>,
) -> Result<BytesChecked, StoreError> {
    let mut out = BytesChecked::default();
    let mut letters_seen = std::collections::HashSet::new();
    let mut files_seen = std::collections::HashSet::new();
    let keys = sqlx::query(
        "SELECT engagement_id, kind, version FROM letters ORDER BY engagement_id, kind, version",
    )
    .fetch_all(&mut *conn)
    .await?;
    for k in &keys {
        let (e, kind, version): (i64, String, i64) = (
            k.try_get("engagement_id")?,
            k.try_get("kind")?,
            k.try_get("version")?,
        );
        out.letters += 1;
        letters_seen.insert((e, kind.clone(), version));
        let row = sqlx::query(
            "SELECT sha256, pdf FROM letters WHERE engagement_id = $1 AND kind = $2 AND version = $3",
        )
        .bind(e)
        .bind(&kind)
        .bind(version)
        .fetch_one(&mut *conn)
        .await?;
        let (column, pdf): (String, Vec<u8>) = (row.try_get("sha256")?, row.try_get("pdf")?);
        let record = format!("engagement {e}, {kind} version {version}");
        let Some(state) = states.get(&EngagementId(e)) else {
            continue; // its chain is already reported broken
        };
        let recorded = state
            .iter()
            .flat_map(|s| &s.letters)
            .find(|l| l.kind.slug() == kind && i64::from(l.version) == version)
            .map(|l| l.sha256.as_str());
        let actual = sha256_bytes(&pdf);
        let reason = match recorded {
            None => Some("the audit chain records no such version".to_string()),
            Some(h) if h != actual => Some(
                "its PDF's bytes differ from the ones the audit chain recorded (and a sign-off names)"
                    .to_string(),
            ),
            Some(h) if h != column => {
                Some("its recorded hash was changed in the letters table".to_string())
            }
            Some(_) => None,
        };
        out.altered
            .extend(reason.map(|reason| Altered { record, reason }));
    }
    let ids = sqlx::query("SELECT id FROM files ORDER BY id")
        .fetch_all(&mut *conn)
        .await?;
    for r in &ids {
        let id: i64 = r.try_get(0)?;
        out.files += 1;
        let record = format!("file {id}");
        let row = sqlx::query(&format!(
            "SELECT {FILE_COLUMNS}, content, location FROM files WHERE id = $1"
        ))
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
        let f = file_row(&row)?;
        files_seen.insert((id, f.engagement));
        let bytes = match row.try_get::<Option<String>, _>("location")? {
            Some(loc) => {
                match read_file(
                    store.files_dir.as_deref().map(|p| p.as_path()),
                    &loc,
                    &f.sha256,
                ) {
                    Ok(b) => b,
                    Err(e) => {
                        out.altered.push(Altered {
                            record,
                            reason: e.to_string(),
                        });
                        continue;
                    }
                }
            }
            None => row.try_get("content")?,
        };
        if sha256_bytes(&bytes) != f.sha256 {
            out.altered.push(Altered {
                record,
                reason: format!(
                    "the bytes of “{}” differ from the ones that were stored",
                    f.name
                ),
            });
            continue;
        }
        if let Some(e) = f.engagement
            && let Some(state) = states.get(&e)
            && !state
                .iter()
                .flat_map(|s| &s.documents)
                .any(|d| d.file == id && d.sha256 == f.sha256)
        {
            out.altered.push(Altered {
                record,
                reason: format!(
                    "engagement {e}'s audit chain records no document with this file's hash"
                ),
            });
        }
    }
    // What the chains record must still be there: a removed row is as much
    // a change as an altered one.
    for (id, state) in states.iter().filter_map(|(id, s)| Some((id, s.as_ref()?))) {
        for l in &state.letters {
            if !letters_seen.contains(&(id.0, l.kind.slug().to_string(), i64::from(l.version))) {
                out.altered.push(Altered {
                    record: format!("engagement {id}, {} version {}", l.kind.slug(), l.version),
                    reason: "the audit chain records this version, but its row (and PDF) is gone"
                        .into(),
                });
            }
        }
        for d in &state.documents {
            if !files_seen.contains(&(d.file, Some(*id))) {
                out.altered.push(Altered {
                    record: format!("file {}", d.file),
                    reason: format!(
                        "engagement {id}'s audit chain records “{}”, but the file is gone or belongs elsewhere",
                        d.name
                    ),
                });
            }
        }
    }
    Ok(out)
}

/// Refuses bytes whose hash is not `expected` (what the chain recorded).
fn intact(bytes: Vec<u8>, expected: &str, what: &str) -> Result<Vec<u8>, StoreError> {
    if sha256_bytes(&bytes) == expected {
        Ok(bytes)
    } else {
        Err(StoreError::Corrupt(format!(
            "{what} no longer matches the hash its audit trail recorded, so it is not served; an administrator should run `waymark audit verify` and restore it from a backup"
        )))
    }
}

impl Store {
    /// Keeps `file` against the engagement and records it there, in one
    /// transaction.
    pub async fn attach_file(
        &self,
        actor: &Actor,
        id: EngagementId,
        expected_version: u64,
        file: NewFile,
        now: Timestamp,
    ) -> Result<Engagement, StoreError> {
        self.transact(actor, id, expected_version, Write::Upload(file), now)
            .await
    }

    /// `execute`, and the mail `notify` writes from the resulting engagement,
    /// queued in the same transaction: the change and its messages are
    /// kept together or not at all.
    pub async fn execute_and_notify(
        &self,
        actor: &Actor,
        id: EngagementId,
        expected_version: u64,
        cmd: &Command,
        notify: Notify,
        now: Timestamp,
    ) -> Result<Engagement, StoreError> {
        self.transact(
            actor,
            id,
            expected_version,
            Write::Command(cmd.clone(), Extra::Notify(notify)),
            now,
        )
        .await
    }

    /// A file and its bytes, if `actor` may see it: engagement files to those
    /// who see the engagement, enquiry attachments to the programme.
    pub async fn file(&self, actor: &Actor, id: i64) -> Result<(FileRow, Vec<u8>), StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {FILE_COLUMNS}, content, location FROM files WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::Domain(DomainError::NotFound))?;
        let file = file_row(&row)?;
        // The hash the bytes must have: for an engagement's document, the
        // one its audit chain recorded; for an enquiry's attachment, the row's
        // (which the enquiry's content hash binds).
        let expected = match file.engagement {
            Some(e) => {
                let state = self.engagement(actor, e).await?;
                // A file row pointed at another engagement is not that
                // engagement's: only what its chain recorded is served.
                state
                    .documents
                    .iter()
                    .find(|d| d.file == file.id)
                    .map(|d| d.sha256.clone())
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!(
                            "file {} is not among the documents engagement {e}'s audit trail records, so it is not served; run `waymark audit verify`",
                            file.id
                        ))
                    })?
            }
            None if waymark_core::enquiry::may_see(actor) => file.sha256.clone(),
            None => return Err(StoreError::Domain(DomainError::NotFound)),
        };
        let bytes = match row.try_get::<Option<String>, _>("location")? {
            Some(loc) => read_file(
                self.files_dir.as_deref().map(|p| p.as_path()),
                &loc,
                &file.sha256,
            )?,
            None => row.try_get("content")?,
        };
        let bytes = intact(bytes, &expected, &format!("the file “{}”", file.name))?;
        Ok((file, bytes))
    }

    /// The files received with an enquiry (the programme only).
    pub async fn enquiry_files(&self, enquiry: i64) -> Result<Vec<FileRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {FILE_COLUMNS} FROM files WHERE enquiry_id = $1 ORDER BY id"
        ))
        .bind(enquiry)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(file_row).collect()
    }

    /// Records a new version of a letter and keeps its bytes, in one
    /// transaction. Refused (nothing saved) if the PDF is unchanged.
    pub async fn issue_letter(
        &self,
        actor: &Actor,
        id: EngagementId,
        expected_version: u64,
        letter: &NewLetter,
        now: Timestamp,
    ) -> Result<Engagement, StoreError> {
        let cmd = Command::IssueLetter {
            kind: letter.kind,
            sha256: sha256_bytes(&letter.pdf).into(),
        };
        self.transact(
            actor,
            id,
            expected_version,
            Write::Command(cmd, Extra::Letter(letter.clone())),
            now,
        )
        .await
    }

    /// Every version of a letter, oldest first, if `actor` sees the engagement.
    pub async fn letters(
        &self,
        actor: &Actor,
        id: EngagementId,
        kind: LetterKind,
    ) -> Result<Vec<LetterRow>, StoreError> {
        self.engagement(actor, id).await?;
        let rows = sqlx::query(&format!(
            "SELECT {LETTER_COLUMNS} FROM letters WHERE engagement_id = $1 AND kind = $2 ORDER BY version"
        ))
        .bind(id.0)
        .bind(kind.slug())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(letter_row).collect()
    }

    /// One version's PDF bytes, exactly as issued (and as signed).
    pub async fn letter_pdf(
        &self,
        actor: &Actor,
        id: EngagementId,
        kind: LetterKind,
        version: u32,
    ) -> Result<(LetterRow, Vec<u8>), StoreError> {
        let state = self.engagement(actor, id).await?;
        let row = sqlx::query(&format!(
            "SELECT {LETTER_COLUMNS}, pdf FROM letters WHERE engagement_id = $1 AND kind = $2 AND version = $3"
        ))
        .bind(id.0)
        .bind(kind.slug())
        .bind(i64::from(version))
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::Domain(DomainError::NotFound))?;
        // Served only as issued: the bytes must have the hash the chain
        // recorded, which is what a sign-off names.
        let recorded = state
            .letters
            .iter()
            .find(|l| l.kind == kind && l.version == version)
            .map(|l| l.sha256.clone())
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "version {version} of the {} is in the letters table but not in the engagement's audit trail",
                    kind.title()
                ))
            })?;
        let pdf = intact(
            row.try_get("pdf")?,
            &recorded,
            &format!("version {version} of the {}", kind.title()),
        )?;
        Ok((letter_row(&row)?, pdf))
    }

    /// The programme's current template for `kind`, if it has saved one.
    pub async fn letter_template(
        &self,
        kind: LetterKind,
    ) -> Result<Option<StoredTemplate>, StoreError> {
        let row = sqlx::query(
            "SELECT version, body, created_by, created_at FROM letter_templates WHERE kind = $1 ORDER BY version DESC LIMIT 1",
        )
        .bind(kind.slug())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(StoredTemplate {
                kind,
                version: r.try_get("version")?,
                body: r.try_get("body")?,
                created_by: PersonId(r.try_get("created_by")?),
                created_at: Timestamp(r.try_get("created_at")?),
            })
        })
        .transpose()
    }

    /// Saves a new version of a template (the caller has checked it renders).
    pub async fn save_letter_template(
        &self,
        actor: &Actor,
        kind: LetterKind,
        body: &str,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        actor.may_edit_templates()?;
        let mut tx = self.pool.begin().await?;
        let next: i64 = sqlx::query(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM letter_templates WHERE kind = $1",
        )
        .bind(kind.slug())
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        sqlx::query(
            "INSERT INTO letter_templates (kind, version, body, created_by, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(kind.slug())
        .bind(next)
        .bind(body)
        .bind(actor.person.0)
        .bind(now.0)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::unique(e, "template", "this version"))?;
        tx.commit().await?;
        Ok(next)
    }
}
