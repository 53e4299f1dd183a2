//! The community's FAQ: questions with an accepted answer that the
//! programme promoted. Each entry is a knowledge article (the same
//! markdown store, versions, publishing and guide pages as every article);
//! `faq_entries` says which articles are entries, which question each came
//! from, and their order. Promoting asks `waymark_core::community` and
//! records the promotion in the question's own chain, in one transaction.

use sqlx::Row;
use waymark_core::community::{self, TopicEvent};
use waymark_core::knowledge::{self, ArticleStatus};
use waymark_core::{Actor, DomainError, today};
use waymark_model::Model;

use crate::*;

/// An FAQ entry as the programme orders them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FaqEntry {
    /// The knowledge article that is the entry.
    pub article: i64,
    pub slug: String,
    /// The working copy's title.
    pub title: String,
    pub status: ArticleStatus,
    /// The community question it came from.
    pub question: i64,
    /// From 1, the first entry shown first.
    pub position: i64,
}

/// How long a new entry goes before its review: a year.
const REVIEW_AFTER: i64 = 365 * 24 * 60 * 60;

impl Store {
    /// Makes question `topic` and its accepted answer a draft FAQ entry
    /// (a knowledge article the programme edits, then publishes), last in
    /// the FAQ's order. Returns the article's id.
    pub async fn promote_to_faq(
        &self,
        actor: &Actor,
        model: &Model,
        topic: i64,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let result: Result<i64, StoreError> = async {
            let locked = crate::community::lock_topic(&mut tx, topic).await?;
            let promoted: Option<i64> =
                sqlx::query_scalar("SELECT article_id FROM faq_entries WHERE topic_id = $1")
                    .bind(topic)
                    .fetch_optional(&mut *tx)
                    .await?;
            // Hidden: the question, or the answer accepted now.
            let hidden: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM community_posts WHERE topic_id = $1 AND hidden_reason IS NOT NULL \
                 AND (is_question = 1 OR id = $2)",
            )
            .bind(topic)
            .bind(locked.accepted)
            .fetch_one(&mut *tx)
            .await?;
            let answer = community::may_promote(actor, locked.accepted, promoted, hidden > 0)?;
            let row = sqlx::query(
                "SELECT t.title, t.tag_stage, t.tag_step, q.body AS question, a.body AS answer \
                 FROM community_topics t \
                 JOIN community_posts q ON q.topic_id = t.id AND q.is_question = 1 \
                 JOIN community_posts a ON a.id = $2 AND a.topic_id = t.id \
                 WHERE t.id = $1",
            )
            .bind(topic)
            .bind(answer)
            .fetch_one(&mut *tx)
            .await?;
            let tag = row
                .try_get::<Option<String>, _>("tag_stage")?
                .map(|stage| -> Result<_, StoreError> {
                    Ok(community::StepTag {
                        stage,
                        step: row
                            .try_get::<Option<i64>, _>("tag_step")?
                            .and_then(|n| u32::try_from(n).ok()),
                    })
                })
                .transpose()?;
            let draft = community::faq_draft(
                topic,
                &row.try_get::<String, _>("title")?,
                &row.try_get::<String, _>("question")?,
                &row.try_get::<String, _>("answer")?,
                tag.as_ref(),
                &today(Timestamp(now.0 + REVIEW_AFTER)),
            );
            // The draft is made from checked posts; a model that lost the
            // step since still gets a clear refusal, not a broken entry.
            let article = knowledge::check(&draft, model, &today(now))
                .map_err(|mut e| StoreError::Domain(e.swap_remove(0)))?;
            let id = crate::knowledge::insert_article(
                &mut tx,
                &article.slug,
                ArticleStatus::Draft,
                &article,
                actor.person,
                now,
            )
            .await?;
            sqlx::query(
                "INSERT INTO faq_entries (article_id, topic_id, position) \
                 VALUES ($1, $2, (SELECT COALESCE(MAX(position), 0) + 1 FROM faq_entries))",
            )
            .bind(id)
            .bind(topic)
            .execute(&mut *tx)
            .await?;
            crate::community::record(
                &mut tx,
                topic,
                actor,
                now,
                &TopicEvent::Promoted {
                    post: answer,
                    article: id,
                },
            )
            .await?;
            Ok(id)
        }
        .await;
        finish(tx, result).await
    }

    /// Every FAQ entry, in the FAQ's order, drafts and archived ones too.
    pub async fn faq_entries(&self) -> Result<Vec<FaqEntry>, StoreError> {
        self.faq_where("", None).await
    }

    /// The FAQ entry question `topic` became, if it was promoted.
    pub async fn faq_of_question(&self, topic: i64) -> Result<Option<FaqEntry>, StoreError> {
        Ok(self
            .faq_where(" WHERE f.topic_id = $1", Some(topic))
            .await?
            .pop())
    }

    async fn faq_where(
        &self,
        condition: &str,
        value: Option<i64>,
    ) -> Result<Vec<FaqEntry>, StoreError> {
        let sql = format!(
            "SELECT f.article_id, f.topic_id, f.position, a.slug, a.title, a.status \
             FROM faq_entries f JOIN articles a ON a.id = f.article_id{condition} ORDER BY f.position"
        );
        let mut q = sqlx::query(&sql);
        if let Some(v) = value {
            q = q.bind(v);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let status: String = r.try_get("status")?;
                Ok(FaqEntry {
                    article: r.try_get("article_id")?,
                    slug: r.try_get("slug")?,
                    title: r.try_get("title")?,
                    status: ArticleStatus::parse(&status).ok_or_else(|| {
                        StoreError::Corrupt(format!("unknown article status {status}"))
                    })?,
                    question: r.try_get("topic_id")?,
                    position: r.try_get("position")?,
                })
            })
            .collect()
    }

    /// The question article `article` came from, when it is an FAQ entry.
    pub async fn faq_question(&self, article: i64) -> Result<Option<i64>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT topic_id FROM faq_entries WHERE article_id = $1")
                .bind(article)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Puts entry `article` at `position` (from 1; past the end: last) and
    /// closes up the others behind it. Returns the entries in their new
    /// order.
    pub async fn move_faq_entry(
        &self,
        actor: &Actor,
        article: i64,
        position: i64,
    ) -> Result<Vec<FaqEntry>, StoreError> {
        knowledge::may_write(actor)?;
        {
            let _turn = self.write_turn().await;
            let mut tx = self.begin_write().await?;
            let result: Result<(), StoreError> = async {
                // Every entry's row is locked first (PostgreSQL), so two
                // moves at once queue and the second sees the first's order.
                sqlx::query("UPDATE faq_entries SET position = position")
                    .execute(&mut *tx)
                    .await?;
                let mut order: Vec<i64> = sqlx::query_scalar(
                    "SELECT article_id FROM faq_entries ORDER BY position, article_id",
                )
                .fetch_all(&mut *tx)
                .await?;
                let from = order
                    .iter()
                    .position(|a| *a == article)
                    .ok_or(StoreError::Domain(DomainError::NotFound))?;
                if position < 1 {
                    return Err(StoreError::Domain(DomainError::invalid(
                        "position",
                        "must be 1 or more (1 is shown first)",
                    )));
                }
                order.remove(from);
                let to = usize::try_from(position - 1)
                    .unwrap_or(usize::MAX)
                    .min(order.len());
                order.insert(to, article);
                for (i, a) in order.iter().enumerate() {
                    sqlx::query(
                        "UPDATE faq_entries SET position = $1 WHERE article_id = $2 AND position <> $1",
                    )
                    .bind(i as i64 + 1)
                    .bind(a)
                    .execute(&mut *tx)
                    .await?;
                }
                Ok(())
            }
            .await;
            finish(tx, result).await?;
        }
        self.faq_entries().await
    }
}
