//! Knowledge articles (their working copies, every published version,
//! readers' feedback) and blueprint releases.
//!
//! Every write asks `waymark_core::knowledge` first (who may, which status
//! follows, whether the links work) inside its transaction; a published
//! version is indexed for search in the same transaction.

use sqlx::Row;
use waymark_core::knowledge::{
    self, Article, ArticleAction, ArticleStatus, Feedback, Release, Tag, link_problems, next_status,
};
use waymark_core::search::Kind;
use waymark_core::{Actor, DomainError, PersonId};
use waymark_model::Model;

use crate::*;

/// An article as the programme manages it: its working copy and status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ArticleRow {
    pub id: i64,
    pub status: ArticleStatus,
    #[serde(flatten)]
    pub article: Article,
    pub owner: PersonId,
    pub owner_name: String,
    /// Bumped on every change, for optimistic concurrency.
    pub version: i64,
    /// The newest published version's number, if it was ever published.
    pub published: Option<i64>,
    pub updated_at: Timestamp,
}

/// One published version of an article.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ArticleVersion {
    pub number: i64,
    pub title: String,
    pub summary: String,
    pub body: String,
    pub tags: Vec<Tag>,
    pub published_by: String,
    pub published_at: Timestamp,
}

/// What readers see of a published article: its newest published version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublishedArticle {
    pub id: i64,
    pub slug: String,
    pub version: ArticleVersion,
    /// Where it stands in the community's FAQ, when it is an FAQ entry.
    pub faq: Option<FaqPlace>,
}

/// An FAQ entry's question and place in the FAQ's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FaqPlace {
    /// The community question it came from.
    pub question: i64,
    /// From 1, the first entry shown first.
    pub position: i64,
}

/// Readers' answers to "Was this helpful?".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeedbackSummary {
    pub helpful: u64,
    pub not_helpful: u64,
    /// Comments, newest first: (name, helpful, comment).
    pub comments: Vec<(String, bool, String)>,
}

/// Releases, the newest first: by date, then as recorded.
const RELEASE_ORDER: &str = "ORDER BY released_on DESC, id DESC";

/// The newest release's version, if any.
pub(crate) async fn newest_release(
    conn: &mut sqlx::AnyConnection,
) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT version FROM blueprint_releases {RELEASE_ORDER} LIMIT 1"
    ))
    .fetch_optional(conn)
    .await?)
}

const ARTICLE_COLUMNS: &str = "a.id, a.slug, a.status, a.title, a.summary, a.body, a.tags, a.review_by, a.owner_id, p.name AS owner_name, a.version, a.updated_at, \
     (SELECT MAX(number) FROM article_versions v WHERE v.article_id = a.id) AS published";

fn article_row(r: &sqlx::any::AnyRow) -> Result<ArticleRow, StoreError> {
    let status: String = r.try_get("status")?;
    Ok(ArticleRow {
        id: r.try_get("id")?,
        status: ArticleStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown article status {status}")))?,
        article: Article {
            slug: r.try_get("slug")?,
            title: r.try_get("title")?,
            summary: r.try_get("summary")?,
            body: r.try_get("body")?,
            tags: unjson(&r.try_get::<String, _>("tags")?)?,
            review_by: r.try_get("review_by")?,
        },
        owner: PersonId(r.try_get("owner_id")?),
        owner_name: r.try_get("owner_name")?,
        version: r.try_get("version")?,
        published: r.try_get("published")?,
        updated_at: Timestamp(r.try_get("updated_at")?),
    })
}

fn version_row(r: &sqlx::any::AnyRow) -> Result<ArticleVersion, StoreError> {
    Ok(ArticleVersion {
        number: r.try_get("number")?,
        title: r.try_get("title")?,
        summary: r.try_get("summary")?,
        body: r.try_get("body")?,
        tags: unjson(&r.try_get::<String, _>("tags")?)?,
        published_by: r.try_get("published_by_name")?,
        published_at: Timestamp(r.try_get("published_at")?),
    })
}

/// A new article's row (its working copy at version 1), at `slug`.
pub(crate) async fn insert_article(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    slug: &str,
    status: ArticleStatus,
    article: &Article,
    owner: PersonId,
    now: Timestamp,
) -> Result<i64, StoreError> {
    sqlx::query_scalar(
        "INSERT INTO articles (slug, status, title, summary, body, tags, review_by, owner_id, version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9) RETURNING id",
    )
    .bind(slug)
    .bind(status.as_str())
    .bind(&article.title)
    .bind(&article.summary)
    .bind(&article.body)
    .bind(json(&article.tags)?)
    .bind(&article.review_by)
    .bind(owner.0)
    .bind(now.0)
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| StoreError::unique(e, "slug", slug))
}

impl Store {
    /// Creates (`id` none) or changes an article (its owner too, when
    /// `owner` names one; a new article's owner is its writer) and, with `Publish`,
    /// publishes its working copy as a new version; with `Archive`, takes
    /// it off the guide. A change to an article that changed since
    /// `expected` (its version) is a conflict. Returns the article's id.
    #[allow(clippy::too_many_arguments)]
    pub async fn save_article(
        &self,
        actor: &Actor,
        model: &Model,
        id: Option<i64>,
        expected: Option<i64>,
        article: &Article,
        owner: Option<PersonId>,
        action: ArticleAction,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        knowledge::may_write(actor)?;
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let result: Result<i64, StoreError> = async {
            // A new owner must be someone of the programme, as the directory
            // has them now.
            if let Some(o) = owner {
                let people = crate::people_in(&mut tx, &[o]).await.or_else(|e| match e {
                    StoreError::NoSuchPerson(_) => Ok(Vec::new()),
                    other => Err(other),
                })?;
                knowledge::may_own(people.first())?;
            }
            let current = match id {
                None => None,
                Some(id) => {
                    let row = sqlx::query(&format!(
                        "SELECT {ARTICLE_COLUMNS} FROM articles a JOIN people p ON p.id = a.owner_id WHERE a.id = $1"
                    ))
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(StoreError::Domain(DomainError::NotFound))?;
                    Some(article_row(&row)?)
                }
            };
            if let (Some(c), Some(expected)) = (&current, expected)
                && c.version != expected
            {
                return Err(StoreError::Domain(DomainError::Conflict {
                    expected: expected as u64,
                    actual: c.version as u64,
                }));
            }
            let status = next_status(current.as_ref().map(|c| c.status), action)?;
            // The address is fixed once the article exists.
            let slug = current
                .as_ref()
                .map_or(article.slug.clone(), |c| c.article.slug.clone());
            if action == ArticleAction::Publish {
                let others: Vec<String> = sqlx::query_scalar(
                    "SELECT slug FROM articles WHERE slug <> $1 AND status = 'published'",
                )
                .bind(&slug)
                .fetch_all(&mut *tx)
                .await?;
                let broken = link_problems(&article.body, model, &others);
                if let Some(first) = broken.first() {
                    return Err(StoreError::Domain(DomainError::invalid(
                        "body",
                        format!(
                            "{first}{}; fix the links to publish (a draft may keep them)",
                            if broken.len() > 1 {
                                format!(" (and {} more)", broken.len() - 1)
                            } else {
                                String::new()
                            }
                        ),
                    )));
                }
            }
            let tags = json(&article.tags)?;
            // Publishing what readers already see makes no new version: refused
            // while it is on the guide, put back as it was when archived.
            let mut same_as_published = false;
            if let (Some(c), ArticleAction::Publish) = (&current, action)
                && let Some(n) = c.published
            {
                let row = sqlx::query(
                    "SELECT title, summary, body, tags FROM article_versions WHERE article_id = $1 AND number = $2",
                )
                .bind(c.id)
                .bind(n)
                .fetch_one(&mut *tx)
                .await?;
                same_as_published = row.try_get::<String, _>("title")? == article.title
                    && row.try_get::<String, _>("summary")? == article.summary
                    && row.try_get::<String, _>("body")? == article.body
                    && row.try_get::<String, _>("tags")? == tags;
                if same_as_published && c.status == ArticleStatus::Published {
                    return Err(StoreError::Domain(DomainError::rule(format!(
                        "nothing has changed since version {n}, which readers already see"
                    ))));
                }
            }
            let id = match &current {
                Some(c) => {
                    sqlx::query(
                        "UPDATE articles SET status = $1, title = $2, summary = $3, body = $4, tags = $5, review_by = $6, \
                         version = version + 1, updated_at = $7, owner_id = COALESCE($10, owner_id) WHERE id = $8 AND version = $9",
                    )
                    .bind(status.as_str())
                    .bind(&article.title)
                    .bind(&article.summary)
                    .bind(&article.body)
                    .bind(&tags)
                    .bind(&article.review_by)
                    .bind(now.0)
                    .bind(c.id)
                    .bind(c.version)
                    .bind(owner.map(|o| o.0))
                    .execute(&mut *tx)
                    .await?;
                    c.id
                }
                None => {
                    let owner = owner.unwrap_or(actor.person);
                    insert_article(&mut tx, &slug, status, article, owner, now).await?
                }
            };
            match action {
                ArticleAction::Publish if same_as_published => {
                    search::index_article(
                        &mut tx,
                        &slug,
                        &article.title,
                        &article.summary,
                        &article.body,
                    )
                    .await?;
                }
                ArticleAction::Publish => {
                    let n: i64 = sqlx::query_scalar(
                        "SELECT COALESCE(MAX(number), 0) + 1 FROM article_versions WHERE article_id = $1",
                    )
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
                    sqlx::query(
                        "INSERT INTO article_versions (article_id, number, title, summary, body, tags, published_by, published_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(id)
                    .bind(n)
                    .bind(&article.title)
                    .bind(&article.summary)
                    .bind(&article.body)
                    .bind(&tags)
                    .bind(actor.person.0)
                    .bind(now.0)
                    .execute(&mut *tx)
                    .await?;
                    search::index_article(
                        &mut tx,
                        &slug,
                        &article.title,
                        &article.summary,
                        &article.body,
                    )
                    .await?;
                }
                ArticleAction::Archive => search::unindex(&mut tx, Kind::Article, &slug).await?,
                ArticleAction::Save => {}
            }
    Ok(id)
        }
        .await;
        finish(tx, result).await
    }

    /// Every article, newest change first (the programme's list).
    pub async fn articles(&self) -> Result<Vec<ArticleRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ARTICLE_COLUMNS} FROM articles a JOIN people p ON p.id = a.owner_id ORDER BY a.updated_at DESC, a.id DESC"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(article_row).collect()
    }

    pub async fn article(&self, id: i64) -> Result<Option<ArticleRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ARTICLE_COLUMNS} FROM articles a JOIN people p ON p.id = a.owner_id WHERE a.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(article_row).transpose()
    }

    /// Articles not archived whose review date is `today` or past, the
    /// longest overdue first.
    pub async fn articles_due(&self, today: &str) -> Result<Vec<ArticleRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ARTICLE_COLUMNS} FROM articles a JOIN people p ON p.id = a.owner_id \
             WHERE a.status <> 'archived' AND a.review_by <= $1 ORDER BY a.review_by, a.id"
        ))
        .bind(today)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(article_row).collect()
    }

    /// Every published version of the article at `slug`, newest first;
    /// empty if it was never published. (Versions stay readable after
    /// archiving: what was once published is on the record.)
    pub async fn article_versions(&self, slug: &str) -> Result<Vec<ArticleVersion>, StoreError> {
        let rows = sqlx::query(
            "SELECT v.number, v.title, v.summary, v.body, v.tags, p.name AS published_by_name, v.published_at \
             FROM article_versions v JOIN articles a ON a.id = v.article_id JOIN people p ON p.id = v.published_by \
             WHERE a.slug = $1 ORDER BY v.number DESC",
        )
        .bind(slug)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(version_row).collect()
    }

    /// The newest version of every published article, by title.
    pub async fn published_articles(&self) -> Result<Vec<PublishedArticle>, StoreError> {
        self.published_where("", &[], None).await
    }

    /// One page of the published articles, by title, and how many there are.
    pub async fn published_page(
        &self,
        limit: u32,
        offset: u32,
    ) -> Result<(Vec<PublishedArticle>, u64), StoreError> {
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM articles WHERE status = 'published'")
                .fetch_one(&self.pool)
                .await?;
        let page = self.published_where("", &[], Some((limit, offset))).await?;
        Ok((page, total as u64))
    }

    /// The published article at `slug`, if there is one.
    pub async fn published_article(
        &self,
        slug: &str,
    ) -> Result<Option<PublishedArticle>, StoreError> {
        Ok(self
            .published_where(" AND a.slug = $1", &[slug], None)
            .await?
            .into_iter()
            .next())
    }

    /// The addresses of every published article.
    pub async fn published_slugs(&self) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar(
                "SELECT slug FROM articles WHERE status = 'published' ORDER BY slug",
            )
            .fetch_all(&self.pool)
            .await?,
        )
    }

    async fn published_where(
        &self,
        condition: &str,
        texts: &[&str],
        page: Option<(u32, u32)>,
    ) -> Result<Vec<PublishedArticle>, StoreError> {
        let paging = page.map_or_else(String::new, |(limit, offset)| {
            format!(" LIMIT {limit} OFFSET {offset}")
        });
        let sql = format!(
            "SELECT a.id, a.slug, v.number, v.title, v.summary, v.body, v.tags, p.name AS published_by_name, v.published_at, \
             f.topic_id AS faq_topic, f.position AS faq_position \
             FROM articles a JOIN article_versions v ON v.article_id = a.id \
             AND v.number = (SELECT MAX(number) FROM article_versions w WHERE w.article_id = a.id) \
             JOIN people p ON p.id = v.published_by LEFT JOIN faq_entries f ON f.article_id = a.id WHERE a.status = 'published'{condition} \
             ORDER BY v.title, a.slug{paging}"
        );
        let mut query = sqlx::query(&sql);
        for t in texts {
            query = query.bind(*t);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(PublishedArticle {
                    id: r.try_get("id")?,
                    slug: r.try_get("slug")?,
                    version: version_row(r)?,
                    faq: match (
                        r.try_get::<Option<i64>, _>("faq_topic")?,
                        r.try_get::<Option<i64>, _>("faq_position")?,
                    ) {
                        (Some(question), Some(position)) => Some(FaqPlace { question, position }),
                        _ => None,
                    },
                })
            })
            .collect()
    }

    /// A reader's answer to "Was this helpful?" on a published article;
    /// answering again replaces their answer (one per person).
    pub async fn record_feedback(
        &self,
        actor: &Actor,
        slug: &str,
        f: &Feedback,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let id: i64 =
            sqlx::query_scalar("SELECT id FROM articles WHERE slug = $1 AND status = 'published'")
                .bind(slug)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::Domain(DomainError::NotFound))?;
        sqlx::query(
            "INSERT INTO article_feedback (article_id, person_id, helpful, comment, at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (article_id, person_id) DO UPDATE SET helpful = excluded.helpful, comment = excluded.comment, at = excluded.at",
        )
        .bind(id)
        .bind(actor.person.0)
        .bind(i64::from(f.helpful))
        .bind(&f.comment)
        .bind(now.0)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// One reader's answer, if they gave one.
    pub async fn feedback_of(
        &self,
        person: PersonId,
        slug: &str,
    ) -> Result<Option<Feedback>, StoreError> {
        let row = sqlx::query(
            "SELECT f.helpful, f.comment FROM article_feedback f JOIN articles a ON a.id = f.article_id \
             WHERE a.slug = $1 AND f.person_id = $2",
        )
        .bind(slug)
        .bind(person.0)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(Feedback {
                helpful: r.try_get::<i64, _>("helpful")? != 0,
                comment: r.try_get("comment")?,
            })
        })
        .transpose()
    }

    pub async fn feedback_summary(&self, id: i64) -> Result<FeedbackSummary, StoreError> {
        let rows = sqlx::query(
            "SELECT f.helpful, f.comment, p.name FROM article_feedback f JOIN people p ON p.id = f.person_id \
             WHERE f.article_id = $1 ORDER BY f.at DESC, f.person_id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let mut s = FeedbackSummary::default();
        for r in &rows {
            let helpful = r.try_get::<i64, _>("helpful")? != 0;
            if helpful {
                s.helpful += 1;
            } else {
                s.not_helpful += 1;
            }
            let comment: String = r.try_get("comment")?;
            if !comment.is_empty() {
                s.comments.push((r.try_get("name")?, helpful, comment));
            }
        }
        Ok(s)
    }

    /// Records a blueprint release (programme only; versions are unique).
    pub async fn add_release(
        &self,
        actor: &Actor,
        r: &Release,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        knowledge::may_write(actor)?;
        sqlx::query(
            "INSERT INTO blueprint_releases (version, released_on, notes, link, recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&r.version)
        .bind(&r.released_on)
        .bind(&r.notes)
        .bind(&r.link)
        .bind(actor.person.0)
        .bind(now.0)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::unique(e, "version", &r.version))?;
        Ok(())
    }

    /// Every release, the newest (by date, then as recorded) first.
    pub async fn releases(&self) -> Result<Vec<Release>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT version, released_on, notes, link FROM blueprint_releases {RELEASE_ORDER}"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Release {
                    version: r.try_get("version")?,
                    released_on: r.try_get("released_on")?,
                    notes: r.try_get("notes")?,
                    link: r.try_get("link")?,
                })
            })
            .collect()
    }

    /// Changes whenever what the guide shows from the database changes
    /// (articles, releases): servers compare it to know when to re-render.
    pub async fn publication_stamp(&self) -> Result<String, StoreError> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM article_versions) AS v, \
             (SELECT CAST(COALESCE(SUM(CASE WHEN status = 'published' THEN id ELSE 0 END), 0) AS BIGINT) FROM articles) AS p, \
             (SELECT COUNT(*) FROM blueprint_releases) AS r, \
             (SELECT CAST(COALESCE(SUM(position * article_id), 0) AS BIGINT) FROM faq_entries) AS f",
        )
        .fetch_one(&self.pool)
        .await?;
        // `f` changes when the FAQ's order does (a swap of entries a and b
        // at places i and j changes it by (a - b)(i - j)).
        Ok(format!(
            "{}-{}-{}-{}",
            row.try_get::<i64, _>("v")?,
            row.try_get::<i64, _>("p")?,
            row.try_get::<i64, _>("r")?,
            row.try_get::<i64, _>("f")?
        ))
    }
}
