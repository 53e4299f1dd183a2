//! Search: one index over guide pages, articles and records, read through
//! SQLite FTS5 or PostgreSQL full-text search.
//!
//! Records are indexed in the transaction that changes them, so a search
//! straight after a save finds them; guide pages when the model is loaded.
//! What a visitor may find is `waymark_core::search::reach`, turned into the
//! query's condition here, so a record out of reach is never read: not for
//! a count, not for a snippet.

use sqlx::Row;
use waymark_core::search::{Kind, PAGE_SIZE, Query, RANKED, Reach, Term, reach};
use waymark_core::{Actor, Engagement};

use crate::*;

/// How much of a record's text is indexed (PostgreSQL's tsvector has a
/// 1 MB limit; nobody searches past this).
const MAX_BODY_BYTES: usize = 100_000;
/// A query of one phrase is scored by `bm25_tf` with the columns' weights
/// (title, body) of the index's rank, as migration 0017 sets it
/// (`bm25(8.0, 1.0)`), so it is ranked in the same order.
const ONE_PHRASE_SCORE: &str = "bm25_tf(search_fts, 8.0, 1.0)";

/// Results each kind shows when no kind is chosen.
pub const FIRST_HITS: u32 = 5;

/// A piece of a snippet; `mark` is a matched word.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Piece {
    pub text: String,
    pub mark: bool,
}

/// One result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Hit {
    pub kind: Kind,
    /// The page's slug or the record's id.
    pub reference: String,
    pub title: String,
    pub snippet: Vec<Piece>,
}

/// One kind's results: how many match, and this page of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Group {
    pub kind: Kind,
    /// How many match; when `exact` is false, more than this many match
    /// and the results are the best of the newest this many
    /// (`waymark_core::search::RANKED`).
    pub total: u64,
    pub exact: bool,
    pub hits: Vec<Hit>,
}

/// A page to index: its slug, title and text.
#[derive(Debug, Clone)]
pub struct Document {
    pub reference: String,
    pub title: String,
    pub body: String,
}

#[derive(Clone)]
enum Bind {
    Text(String),
    Int(i64),
}

/// Text as indexed: no control characters (the snippet marks are two of
/// them), at most `MAX_BODY_BYTES`.
fn clean(s: &str) -> String {
    let mut end = s.len().min(MAX_BODY_BYTES);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end]
        .chars()
        .map(|c| if c.is_control() && c != '\n' { ' ' } else { c })
        .collect()
}

/// A snippet with the backends' marks (\u{2} … \u{3}) as pieces.
fn pieces(s: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    for (i, part) in s.split('\u{2}').enumerate() {
        let (marked, rest) = match (i, part.split_once('\u{3}')) {
            (0, _) | (_, None) => ("", part),
            (_, Some((m, r))) => (m, r),
        };
        if !marked.is_empty() {
            out.push(Piece {
                text: marked.to_string(),
                mark: true,
            });
        }
        if !rest.is_empty() {
            out.push(Piece {
                text: rest.replace('\u{3}', ""),
                mark: false,
            });
        }
    }
    out
}

/// The query as both backends read it: each word and each phrase in double
/// quotes, side by side. FTS5 requires every quoted string; PostgreSQL's
/// `websearch_to_tsquery` ANDs them and reads quotes as phrases. Every term
/// is letters and digits only (`Query::parse`), so quoting cannot be broken
/// out of.
fn syntax(q: &Query) -> String {
    q.terms
        .iter()
        .map(|t| match t {
            Term::Word(w) => format!("\"{w}\""),
            Term::Phrase(p) => format!("\"{}\"", p.join(" ")),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The condition under which `kind`'s documents are within `reach`
/// (`None`: none are), its values pushed onto `binds`.
fn condition(kind: Kind, reach: &Reach, binds: &mut Vec<Bind>) -> Option<String> {
    let k = kind.as_str();
    let ids = |list: &[waymark_core::AgencyId], binds: &mut Vec<Bind>| {
        let from = binds.len() + 1;
        binds.extend(list.iter().map(|a| Bind::Int(a.0)));
        format!("d.agency_id IN ({})", placeholders(from, list.len()))
    };
    let c = match reach {
        Reach::Nothing => return None,
        Reach::Everything => "1 = 1".to_string(),
        Reach::Public => "d.members_only = 0".to_string(),
        Reach::Agencies(list) if list.is_empty() => return None,
        Reach::Agencies(list) => ids(list, binds),
        Reach::Engagements {
            agencies,
            assigned_to,
        } => {
            let mut any = Vec::new();
            if !agencies.is_empty() {
                any.push(ids(agencies, binds));
            }
            if let Some(p) = assigned_to {
                binds.push(Bind::Int(p.0));
                any.push(format!(
                    "d.engagement_id IN (SELECT engagement_id FROM assignments WHERE person_id = ${})",
                    binds.len()
                ));
            }
            if any.is_empty() {
                return None;
            }
            format!("({})", any.join(" OR "))
        }
    };
    Some(format!("(d.kind = '{k}' AND {c})"))
}

fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    binds: &'q [Bind],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for b in binds {
        query = match b {
            Bind::Text(s) => query.bind(s.as_str()),
            Bind::Int(i) => query.bind(*i),
        };
    }
    query
}

/// The ids a kind's documents take on SQLite: [lo, hi).
fn kind_range(kind: Kind) -> (i64, i64) {
    let code = Kind::ALL.iter().position(|k| *k == kind).unwrap_or(0) as i64 + 1;
    (code << 40, (code + 1) << 40)
}

/// One kind's part of a search on SQLite: where its matches are read from,
/// the condition the visitor's reach puts on them, and its values (`$1` is
/// the query).
struct Plan {
    kind: Kind,
    from: &'static str,
    filter: String,
    binds: Vec<Bind>,
}

/// (id, kind, total) of the rows shown, best first within each kind; a
/// negative total is "more than" its opposite. An id of 0 holds a kind's
/// count when the page is past its last row.
type Shown = Vec<(i64, Kind, i64)>;
/// Each shown row's reference, title and snippet, by id.
type Found = std::collections::HashMap<i64, (String, String, String)>;

/// Binds `binds` to `$1`, `$2`, … in `stmt`, which must use each of them.
fn bind_sqlite(stmt: &mut rusqlite::Statement<'_>, binds: &[Bind]) -> rusqlite::Result<()> {
    if stmt.parameter_count() != binds.len() {
        return Err(rusqlite::Error::InvalidParameterCount(
            binds.len(),
            stmt.parameter_count(),
        ));
    }
    for (i, b) in binds.iter().enumerate() {
        let name = format!("${}", i + 1);
        let at = stmt
            .parameter_index(&name)?
            .ok_or_else(|| rusqlite::Error::InvalidParameterName(name))?;
        match b {
            Bind::Text(s) => stmt.raw_bind_parameter(at, s.as_str())?,
            Bind::Int(n) => stmt.raw_bind_parameter(at, *n)?,
        }
    }
    Ok(())
}

/// A search on SQLite, kind by kind, then the shown rows' snippets: every
/// statement on one connection, on the thread that called. A kind the
/// visitor may read all of is read from the full-text index alone, within
/// the kind's id range; one read in part is joined with its documents for
/// the condition. (Each statement's text depends only on the kind's reach
/// and whether the query is one phrase, so each connection prepares it
/// once.) A query of one phrase (a word, or words in quotes) is ranked by
/// `bm25_tf`, which orders rows as bm25 does without first counting the
/// phrase's matches in the whole index, once a kind (`waymark_fts`).
fn sqlite_search(
    conn: &rusqlite::Connection,
    plans: &[Plan],
    one_phrase: bool,
    first: u32,
    last: u32,
) -> rusqlite::Result<(Shown, Found)> {
    let mut shown = Shown::new();
    let score = if one_phrase {
        ONE_PHRASE_SCORE
    } else {
        "search_fts.rank"
    };
    for p in plans {
        let (lo, hi) = kind_range(p.kind);
        let (from, filter) = (p.from, &p.filter);
        let n = p.binds.len();
        // The newest matches, one more than are ranked, with their scores:
        // one walk of the index gives how many match (up to that) and,
        // past that, which are ranked.
        let mut newest = conn.prepare_cached(&format!(
            "SELECT search_fts.rowid AS id, {score} AS score \
             FROM {from} WHERE search_fts MATCH $1 AND search_fts.rowid >= ${} \
             AND search_fts.rowid < ${}{filter} ORDER BY search_fts.rowid DESC LIMIT {}",
            n + 1,
            n + 2,
            RANKED + 1
        ))?;
        let mut binds = p.binds.clone();
        binds.extend([Bind::Int(lo), Bind::Int(hi)]);
        bind_sqlite(&mut newest, &binds)?;
        let mut matches: Vec<(i64, f64)> = Vec::new();
        let mut rows = newest.raw_query();
        while let Some(r) = rows.next()? {
            matches.push((r.get(0)?, r.get(1)?));
        }
        if matches.is_empty() {
            continue;
        }
        let total = if matches.len() > RANKED as usize {
            matches.truncate(RANKED as usize);
            -i64::from(RANKED)
        } else {
            matches.len() as i64
        };
        // Best first (bm25 is lower for a better match), the older first
        // on a tie, as PostgreSQL orders them.
        matches.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        let page = matches
            .iter()
            .skip(first as usize)
            .take((last - first) as usize);
        let before = shown.len();
        shown.extend(page.map(|(id, _)| (*id, p.kind, total)));
        if shown.len() == before {
            // A page past the last still says how many there are.
            shown.push((0, p.kind, total));
        }
    }
    // Titles and snippets for the rows shown only.
    let ids: Vec<i64> = shown.iter().map(|s| s.0).filter(|id| *id != 0).collect();
    let mut found = Found::new();
    if let Some(p) = plans.first().filter(|_| !ids.is_empty()) {
        let mut snippets = conn.prepare_cached(&format!(
            "SELECT d.id AS id, d.ref AS ref, d.title AS title, \
             snippet(search_fts, 1, char(2), char(3), ' … ', 24) AS snip \
             FROM search_fts JOIN search_docs d ON d.id = search_fts.rowid \
             WHERE search_fts MATCH $1 AND search_fts.rowid IN ({})",
            placeholders(2, ids.len())
        ))?;
        let mut binds = vec![p.binds[0].clone()];
        binds.extend(ids.iter().map(|i| Bind::Int(*i)));
        bind_sqlite(&mut snippets, &binds)?;
        let mut rows = snippets.raw_query();
        while let Some(r) = rows.next()? {
            found.insert(r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?));
        }
    }
    Ok((shown, found))
}

/// Upserts one document, leaving an unchanged row alone.
#[allow(clippy::too_many_arguments)]
async fn upsert(
    conn: &mut sqlx::AnyConnection,
    kind: Kind,
    reference: &str,
    title: &str,
    body: &str,
    agency: Option<i64>,
    engagement: Option<i64>,
    members_only: bool,
) -> Result<(), StoreError> {
    // On SQLite each kind's documents take ids in a range of their own
    // (`kind_range`), so a search of one kind reads the full-text index
    // alone; writers take turns there, so the next id cannot be taken twice.
    // PostgreSQL numbers them itself.
    let id = if conn.backend_name() == "SQLite" {
        let (lo, hi) = kind_range(kind);
        format!(
            "(SELECT COALESCE(MAX(id), {lo} - 1) + 1 FROM search_docs WHERE id >= {lo} AND id < {hi})"
        )
    } else {
        "DEFAULT".to_string()
    };
    sqlx::query(&format!(
        "INSERT INTO search_docs (id, kind, ref, title, body, agency_id, engagement_id, members_only) VALUES ({id}, $1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (kind, ref) DO UPDATE SET title = excluded.title, body = excluded.body, \
         agency_id = excluded.agency_id, engagement_id = excluded.engagement_id, members_only = excluded.members_only \
         WHERE search_docs.title <> excluded.title OR search_docs.body <> excluded.body \
         OR search_docs.agency_id IS DISTINCT FROM excluded.agency_id \
         OR search_docs.members_only <> excluded.members_only",
    ))
    .bind(kind.as_str())
    .bind(reference)
    .bind(clean(title))
    .bind(clean(body))
    .bind(agency)
    .bind(engagement)
    .bind(i64::from(members_only))
    .execute(conn)
    .await?;
    Ok(())
}

/// Indexes an engagement: its agency's name and everything typed into it.
pub(crate) async fn index_engagement(
    conn: &mut sqlx::AnyConnection,
    e: &Engagement,
) -> Result<(), StoreError> {
    let name: Option<String> = sqlx::query_scalar("SELECT name FROM agencies WHERE id = $1")
        .bind(e.agency.0)
        .fetch_optional(&mut *conn)
        .await?;
    let title = format!("{} — Protected Utility", name.unwrap_or_default());
    let body = waymark_core::search::engagement_text(e);
    upsert(
        conn,
        Kind::Engagement,
        &e.id.0.to_string(),
        &title,
        &body,
        Some(e.agency.0),
        Some(e.id.0),
        false,
    )
    .await
}

/// Indexes an agency from its row.
pub(crate) async fn index_agency(
    conn: &mut sqlx::AnyConnection,
    id: waymark_core::AgencyId,
) -> Result<(), StoreError> {
    let row = sqlx::query("SELECT name, abbreviation, portfolio FROM agencies WHERE id = $1")
        .bind(id.0)
        .fetch_one(&mut *conn)
        .await?;
    let name: String = row.try_get("name")?;
    let abbreviation: String = row.try_get("abbreviation")?;
    let portfolio: String = row.try_get("portfolio")?;
    let body = format!("{abbreviation}\n{portfolio}");
    upsert(
        conn,
        Kind::Agency,
        &id.0.to_string(),
        &name,
        &body,
        Some(id.0),
        None,
        false,
    )
    .await
}

/// Indexes an enquiry from its row.
pub(crate) async fn index_enquiry(
    conn: &mut sqlx::AnyConnection,
    id: i64,
) -> Result<(), StoreError> {
    let row = sqlx::query(
        "SELECT subject, body, agency_name, contact_name, contact_email FROM enquiries WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    let text = |c: &str| row.try_get::<String, _>(c);
    let mut body = format!(
        "{}\n{}\n{}\n{}",
        text("agency_name")?,
        text("contact_name")?,
        text("contact_email")?,
        text("body")?
    );
    // Its conversation too, newest first, to a bound.
    let messages = sqlx::query(
        "SELECT body FROM enquiry_messages WHERE enquiry_id = $1 ORDER BY id DESC LIMIT 50",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    for m in &messages {
        if body.len() > 200_000 {
            break;
        }
        body.push('\n');
        body.push_str(&m.try_get::<String, _>(0)?);
    }
    upsert(
        conn,
        Kind::Enquiry,
        &id.to_string(),
        &text("subject")?,
        &body,
        None,
        None,
        false,
    )
    .await
}

/// Indexes a published article's newest version.
pub(crate) async fn index_article(
    conn: &mut sqlx::AnyConnection,
    slug: &str,
    title: &str,
    summary: &str,
    body: &str,
) -> Result<(), StoreError> {
    // Indexed as readers see it: words, not markup or link targets.
    let text = format!("{summary}\n{}", waymark_model::markdown::plain_text(body));
    upsert(conn, Kind::Article, slug, title, &text, None, None, false).await
}

/// The most of a question's answers its document holds.
const QUESTION_BODY_BYTES: usize = 200_000;

/// Indexes community question `topic` with its answers' words, or takes it
/// out when it is hidden. Hidden answers are left out.
pub(crate) async fn index_question(
    conn: &mut sqlx::AnyConnection,
    topic: i64,
) -> Result<(), StoreError> {
    let Some(row) = sqlx::query(
        "SELECT t.title, t.hidden, c.visibility FROM community_topics t \
         JOIN community_categories c ON c.id = t.category_id WHERE t.id = $1",
    )
    .bind(topic)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(());
    };
    if row.try_get::<i64, _>("hidden")? != 0 {
        return unindex(conn, Kind::Question, &topic.to_string()).await;
    }
    let posts: Vec<String> = sqlx::query_scalar(
        "SELECT body FROM community_posts WHERE topic_id = $1 AND hidden_reason IS NULL \
         ORDER BY is_question DESC, id LIMIT 500",
    )
    .bind(topic)
    .fetch_all(&mut *conn)
    .await?;
    upsert_question(conn, topic, &row, &posts).await
}

/// Writes question `topic`'s document from its row (`title`,
/// `visibility`) and its shown posts' markdown: their words as readers see
/// them, to a bound, marked when only members may read it.
async fn upsert_question(
    conn: &mut sqlx::AnyConnection,
    topic: i64,
    row: &sqlx::any::AnyRow,
    posts: &[String],
) -> Result<(), StoreError> {
    let mut body = String::new();
    for p in posts {
        if body.len() > QUESTION_BODY_BYTES {
            break;
        }
        body.push_str(&waymark_model::markdown::plain_text(p));
        body.push('\n');
    }
    let visibility: String = row.try_get("visibility")?;
    upsert(
        conn,
        Kind::Question,
        &topic.to_string(),
        &row.try_get::<String, _>("title")?,
        &body,
        None,
        None,
        visibility != waymark_core::community::Visibility::Public.as_str(),
    )
    .await
}

/// Takes a document out of the index.
pub(crate) async fn unindex(
    conn: &mut sqlx::AnyConnection,
    kind: Kind,
    reference: &str,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM search_docs WHERE kind = $1 AND ref = $2")
        .bind(kind.as_str())
        .bind(reference)
        .execute(conn)
        .await?;
    Ok(())
}

impl Store {
    /// Makes the guide's part of the index exactly `pages` (called when the
    /// model is loaded or reloaded). Unchanged pages are not rewritten.
    pub async fn index_pages(&self, kind: Kind, pages: &[Document]) -> Result<(), StoreError> {
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let existing: Vec<String> =
            sqlx::query_scalar("SELECT ref FROM search_docs WHERE kind = $1")
                .bind(kind.as_str())
                .fetch_all(&mut *tx)
                .await?;
        let keep: std::collections::HashSet<&str> =
            pages.iter().map(|p| p.reference.as_str()).collect();
        for gone in existing.iter().filter(|r| !keep.contains(r.as_str())) {
            sqlx::query("DELETE FROM search_docs WHERE kind = $1 AND ref = $2")
                .bind(kind.as_str())
                .bind(gone)
                .execute(&mut *tx)
                .await?;
        }
        for p in pages {
            upsert(
                &mut tx,
                kind,
                &p.reference,
                &p.title,
                &p.body,
                None,
                None,
                false,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Builds the records' part of the index (engagements, agencies,
    /// enquiries, published articles) again from the records themselves.
    pub async fn reindex_records(&self) -> Result<u64, StoreError> {
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "DELETE FROM search_docs WHERE kind IN ('engagement', 'agency', 'enquiry', 'article', 'question')",
        )
        .execute(&mut *tx)
        .await?;
        let mut n = 0;
        let agencies: Vec<i64> = sqlx::query_scalar("SELECT id FROM agencies ORDER BY id")
            .fetch_all(&mut *tx)
            .await?;
        for a in agencies {
            index_agency(&mut tx, waymark_core::AgencyId(a)).await?;
            n += 1;
        }
        let enquiries: Vec<i64> = sqlx::query_scalar("SELECT id FROM enquiries ORDER BY id")
            .fetch_all(&mut *tx)
            .await?;
        for q in enquiries {
            index_enquiry(&mut tx, q).await?;
            n += 1;
        }
        let articles = sqlx::query(
            "SELECT a.slug, v.title, v.summary, v.body FROM articles a JOIN article_versions v ON v.article_id = a.id \
             AND v.number = (SELECT MAX(number) FROM article_versions w WHERE w.article_id = a.id) \
             WHERE a.status = 'published'",
        )
        .fetch_all(&mut *tx)
        .await?;
        for r in &articles {
            let text = |c: &str| r.try_get::<String, _>(c);
            index_article(
                &mut tx,
                &text("slug")?,
                &text("title")?,
                &text("summary")?,
                &text("body")?,
            )
            .await?;
            n += 1;
        }
        // Community questions, a thousand at a time with their posts.
        let mut after = 0i64;
        loop {
            let topics = sqlx::query(
                "SELECT t.id, t.title, c.visibility FROM community_topics t \
                 JOIN community_categories c ON c.id = t.category_id \
                 WHERE t.id > $1 AND t.hidden = 0 ORDER BY t.id LIMIT 1000",
            )
            .bind(after)
            .fetch_all(&mut *tx)
            .await?;
            let Some(last) = topics.last() else { break };
            let last: i64 = last.try_get("id")?;
            let posts = sqlx::query(
                "SELECT topic_id, body FROM community_posts WHERE topic_id > $1 AND topic_id <= $2 \
                 AND hidden_reason IS NULL ORDER BY topic_id, is_question DESC, id",
            )
            .bind(after)
            .bind(last)
            .fetch_all(&mut *tx)
            .await?;
            let mut by_topic: std::collections::HashMap<i64, Vec<String>> =
                std::collections::HashMap::new();
            for p in &posts {
                by_topic
                    .entry(p.try_get("topic_id")?)
                    .or_default()
                    .push(p.try_get("body")?);
            }
            for t in &topics {
                let id: i64 = t.try_get("id")?;
                let posts = by_topic.remove(&id).unwrap_or_default();
                upsert_question(&mut tx, id, t, &posts).await?;
                n += 1;
            }
            after = last;
        }
        let mut after = 0i64;
        loop {
            let rows = sqlx::query(
                "SELECT id, state FROM engagements WHERE id > $1 ORDER BY id LIMIT 500",
            )
            .bind(after)
            .fetch_all(&mut *tx)
            .await?;
            let Some(last) = rows.last() else { break };
            after = last.try_get("id")?;
            for r in &rows {
                let e: Engagement = unjson(&r.try_get::<String, _>("state")?)?;
                index_engagement(&mut tx, &e).await?;
                n += 1;
            }
        }
        sqlx::query(
            "INSERT INTO search_built (what, built_at) VALUES ('records', $1) \
             ON CONFLICT (what) DO UPDATE SET built_at = excluded.built_at",
        )
        .bind(now().0)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        // A rebuild leaves FTS5 many segments, and every search then merges
        // them as it reads (on 102,000 documents, half of a search's
        // time); merged into one, the index reads straight through.
        if self.backend == Backend::Sqlite {
            sqlx::query("INSERT INTO search_fts (search_fts) VALUES ('optimize')")
                .execute(&self.pool)
                .await?;
        }
        Ok(n)
    }

    /// At open: builds the records' index if it never was (a database from
    /// before search, or rows written directly by an import or the seeder).
    pub(crate) async fn ensure_index(&self) -> Result<(), StoreError> {
        let built: Option<i64> =
            sqlx::query_scalar("SELECT built_at FROM search_built WHERE what = 'records'")
                .fetch_optional(&self.pool)
                .await?;
        if built.is_none() {
            self.reindex_records().await?;
        }
        Ok(())
    }

    /// Every indexed document as (kind, ref, title, body), in order: for
    /// checking a rebuilt index against the live one.
    pub async fn index_contents(&self) -> Result<Vec<[String; 4]>, StoreError> {
        let rows = sqlx::query("SELECT kind, ref, title, body FROM search_docs ORDER BY kind, ref")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok([
                    r.try_get("kind")?,
                    r.try_get("ref")?,
                    r.try_get("title")?,
                    r.try_get("body")?,
                ])
            })
            .collect()
    }

    /// Searches everything `actor` (`None`: signed out) may see. With
    /// `only`, one kind's page `page` (from 1); without, the first results
    /// of every kind. Groups with no results are left out.
    pub async fn search(
        &self,
        actor: Option<&Actor>,
        q: &Query,
        only: Option<Kind>,
        page: u32,
    ) -> Result<Vec<Group>, StoreError> {
        if q.is_empty() {
            return Ok(Vec::new());
        }
        let kinds: Vec<Kind> = match only {
            Some(k) => vec![k],
            None => Kind::ALL.to_vec(),
        };
        let (first, last) = match only {
            Some(_) => (PAGE_SIZE * page.saturating_sub(1), PAGE_SIZE * page),
            None => (0, FIRST_HITS),
        };
        let (shown, mut found) = match self.backend {
            Backend::Sqlite => {
                let one_phrase = q.terms.len() == 1;
                let plans: Vec<Plan> = kinds
                    .into_iter()
                    .filter_map(|kind| {
                        let r = reach(actor, kind);
                        let mut binds = vec![Bind::Text(syntax(q))];
                        let cond = condition(kind, &r, &mut binds)?;
                        let (from, filter) = if r == Reach::Everything {
                            ("search_fts", String::new())
                        } else {
                            (
                                "search_fts JOIN search_docs d ON d.id = search_fts.rowid",
                                format!(" AND {cond}"),
                            )
                        };
                        Some(Plan {
                            kind,
                            from,
                            filter,
                            binds,
                        })
                    })
                    .collect();
                let readers = self.readers.as_ref().ok_or_else(|| {
                    StoreError::Corrupt("a SQLite store without its readers".into())
                })?;
                readers
                    .read(move |conn| sqlite_search(conn, &plans, one_phrase, first, last))
                    .await?
            }
            // One pass over the matches: each kind's are counted and
            // numbered newest first, the newest `RANKED` scored and
            // numbered best first; only the page's rows come back, and
            // each kind's best, so a page past the last still says how
            // many there are (as on SQLite).
            Backend::Postgres => {
                let mut shown = Shown::new();
                let mut binds = vec![Bind::Text(syntax(q))];
                let conds: Vec<String> = kinds
                    .iter()
                    .filter_map(|k| condition(*k, &reach(actor, *k), &mut binds))
                    .collect();
                if conds.is_empty() {
                    return Ok(Vec::new());
                }
                let access = conds.join(" OR ");
                let n = binds.len();
                let sql = format!(
                    "WITH m AS (SELECT d.id AS id, d.kind AS kind, \
                         ROW_NUMBER() OVER (PARTITION BY d.kind ORDER BY d.id DESC) AS age, \
                         COUNT(*) OVER (PARTITION BY d.kind) AS total \
                       FROM search_docs d CROSS JOIN websearch_to_tsquery('english', $1) AS q \
                       WHERE d.doc @@ q AND ({access})) \
                     SELECT id, kind, rn, CASE WHEN total > {RANKED} THEN -{RANKED} ELSE total END AS total FROM ( \
                       SELECT m.id AS id, m.kind AS kind, m.total AS total, ROW_NUMBER() OVER \
                         (PARTITION BY m.kind ORDER BY ts_rank_cd(s.doc, q) DESC, m.id) AS rn \
                       FROM m JOIN search_docs s ON s.id = m.id CROSS JOIN websearch_to_tsquery('english', $1) AS q \
                       WHERE m.age <= {RANKED} \
                     ) AS ranked WHERE (rn > ${} AND rn <= ${}) OR rn = 1 ORDER BY kind, rn",
                    n + 1,
                    n + 2,
                );
                let rows = bind_all(sqlx::query(&sql), &binds)
                    .bind(i64::from(first))
                    .bind(i64::from(last))
                    .fetch_all(&self.pool)
                    .await?;
                for r in &rows {
                    let kind = Kind::parse(&r.try_get::<String, _>("kind")?).ok_or_else(|| {
                        StoreError::Corrupt("an unknown kind in the search index".into())
                    })?;
                    let rn: i64 = r.try_get("rn")?;
                    let on_page = rn > i64::from(first) && rn <= i64::from(last);
                    let id = if on_page { r.try_get("id")? } else { 0 };
                    shown.push((id, kind, r.try_get("total")?));
                }
                // Titles and snippets for the rows shown only.
                let ids: Vec<i64> = shown.iter().map(|s| s.0).filter(|id| *id != 0).collect();
                let mut found = Found::new();
                if !ids.is_empty() {
                    let sql = format!(
                        "SELECT d.id AS id, d.ref AS ref, d.title AS title, ts_headline('english', left(d.body, 20000), q, \
                         'StartSel=' || chr(2) || ', StopSel=' || chr(3) || ', MaxWords=24, MinWords=12, MaxFragments=2, FragmentDelimiter=\" … \"') AS snip \
                         FROM search_docs d CROSS JOIN websearch_to_tsquery('english', $1) AS q WHERE d.id IN ({})",
                        placeholders(2, ids.len())
                    );
                    let mut query = sqlx::query(&sql).bind(syntax(q));
                    for id in &ids {
                        query = query.bind(*id);
                    }
                    for r in query.fetch_all(&self.pool).await? {
                        found.insert(
                            r.try_get("id")?,
                            (r.try_get("ref")?, r.try_get("title")?, r.try_get("snip")?),
                        );
                    }
                }
                (shown, found)
            }
        };
        let mut groups: Vec<Group> = Vec::new();
        for (id, kind, total) in shown {
            let at = match groups.iter().position(|g| g.kind == kind) {
                Some(i) => i,
                None => {
                    groups.push(Group {
                        kind,
                        total: total.unsigned_abs(),
                        exact: total >= 0,
                        hits: Vec::new(),
                    });
                    groups.len() - 1
                }
            };
            if let Some((reference, title, snip)) = found.remove(&id) {
                groups[at].hits.push(Hit {
                    kind,
                    reference,
                    title,
                    snippet: pieces(&snip),
                });
            }
        }
        groups.sort_by_key(|g| Kind::ALL.iter().position(|k| *k == g.kind));
        Ok(groups)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values go to `$N` by name, wherever it first appears in the text,
    /// and a statement that would leave one unbound is refused.
    #[test]
    fn sqlite_values_are_bound_by_their_number() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let mut stmt = conn.prepare("SELECT $2 - $1, $3").unwrap();
        let binds = [Bind::Int(10), Bind::Int(3), Bind::Text("x".into())];
        bind_sqlite(&mut stmt, &binds).unwrap();
        let mut rows = stmt.raw_query();
        let row = rows.next().unwrap().unwrap();
        assert_eq!(row.get::<_, i64>(0).unwrap(), -7);
        assert_eq!(row.get::<_, String>(1).unwrap(), "x");
        drop(rows);
        let mut stmt = conn.prepare("SELECT $1 + $2").unwrap();
        assert!(bind_sqlite(&mut stmt, &binds[..1]).is_err());
        assert!(bind_sqlite(&mut stmt, &binds).is_err());
    }

    #[test]
    fn snippets_split_on_the_marks() {
        let p = pieces("a \u{2}secure\u{3} desktop \u{2}blue\u{3}");
        assert_eq!(
            p.iter()
                .map(|p| (p.text.as_str(), p.mark))
                .collect::<Vec<_>>(),
            vec![
                ("a ", false),
                ("secure", true),
                (" desktop ", false),
                ("blue", true)
            ]
        );
        assert_eq!(
            pieces("plain"),
            vec![Piece {
                text: "plain".into(),
                mark: false
            }]
        );
    }

    #[test]
    fn indexed_text_has_no_marks_and_is_bounded() {
        assert_eq!(clean("a\u{2}b\u{3}c\nd"), "a b c\nd");
        let long = "é".repeat(MAX_BODY_BYTES);
        assert!(clean(&long).len() <= MAX_BODY_BYTES);
    }
}
