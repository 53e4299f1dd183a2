//! Moderating the community: flags from anyone, and the programme's
//! hiding (with a reason its author is told), locking and moving of
//! questions, each recorded in the question's own chain in the same
//! transaction. Also what a new account's posting limit asks: how old the
//! account is, and whether any of its posts was accepted or up-voted.
//!
//! The rules are `waymark_core::community`'s (`moderate`, `may_flag`,
//! `mail_now`, `post_limit`); the author's mail is worded by the caller.

use sqlx::Row;
use waymark_core::community::{self, Moderated, Moderation, TopicEvent};
use waymark_core::{Actor, Notify, PersonId};

use crate::*;

/// A post others flagged, as the programme's queue shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FlaggedPost {
    pub post: i64,
    pub question: i64,
    pub title: String,
    pub author: String,
    /// Markdown, as written.
    pub body: String,
    pub flags: i64,
    /// The reasons given, newest first (empty ones left out).
    pub reasons: Vec<String>,
    pub hidden: bool,
    pub last_flagged_at: Timestamp,
}

/// A hidden post's author, to be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HiddenPost {
    pub name: String,
    pub email: String,
    pub question: i64,
    pub title: String,
    pub reason: String,
    /// The author may still open the question: not when the whole
    /// question is hidden and they did not ask it. The mail names and
    /// links it only then.
    pub readable: bool,
}

/// One of a person's posts the programme hid, for their daily digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnHidden {
    pub question: i64,
    /// The question's title, when they may still open it (see
    /// [`HiddenPost::readable`]).
    pub title: Option<String>,
    pub reason: String,
}

/// The most flagged posts the queue shows.
pub const FLAG_QUEUE: i64 = 200;

impl Store {
    /// `person`'s posts the programme hid since `since` (up to `until`),
    /// the newest first, at most [`crate::watches::DIGEST_LINES`]: a daily
    /// reader learns of them in their digest, as others do by mail.
    pub async fn hidden_since(
        &self,
        person: PersonId,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<OwnHidden>, StoreError> {
        sqlx::query(
            "SELECT x.topic_id, t.title, t.hidden, t.author_id, x.hidden_reason \
             FROM community_posts x JOIN community_topics t ON t.id = x.topic_id \
             WHERE x.author_id = $1 AND x.hidden_reason IS NOT NULL AND x.hidden_at > $2 \
             AND x.hidden_at <= $3 ORDER BY x.hidden_at DESC, x.id DESC LIMIT $4",
        )
        .bind(person.0)
        .bind(since.0)
        .bind(until.0)
        .bind(crate::watches::DIGEST_LINES)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            let readable = community::opens(
                r.try_get::<i64, _>("hidden")? != 0,
                PersonId(r.try_get("author_id")?),
                person,
            );
            Ok(OwnHidden {
                question: r.try_get("topic_id")?,
                title: if readable {
                    Some(r.try_get("title")?)
                } else {
                    None
                },
                reason: r.try_get("hidden_reason")?,
            })
        })
        .collect()
    }

    /// Flags post `post` for the programme (once a person; again changes
    /// the reason). The post must be one the reader can read.
    pub async fn flag(
        &self,
        actor: &Actor,
        post: i64,
        reason: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.post_topic(Some(actor), post).await?;
        let reason = community::flag_reason(reason)?;
        let r = sqlx::query(crate::community::POST_STATE)
            .bind(post)
            .fetch_one(&self.pool)
            .await?;
        let hidden = r.try_get::<i64, _>("hidden")? != 0;
        community::may_flag(actor, crate::community::post_state(&r, hidden)?)?;
        sqlx::query(
            "INSERT INTO community_flags (post_id, person_id, reason, at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (post_id, person_id) DO UPDATE SET reason = $3, at = $4, resolved_at = NULL",
        )
        .bind(post)
        .bind(actor.person.0)
        .bind(&reason)
        .bind(now.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The posts with open flags, the most flagged first (the programme).
    pub async fn flagged_posts(&self, actor: &Actor) -> Result<Vec<FlaggedPost>, StoreError> {
        community::may_moderate(actor)?;
        let rows = sqlx::query(
            "SELECT f.post_id, x.topic_id, t.title, p.name, x.body, x.hidden_reason, COUNT(*) AS n, MAX(f.at) AS last \
             FROM community_flags f JOIN community_posts x ON x.id = f.post_id \
             JOIN community_topics t ON t.id = x.topic_id JOIN people p ON p.id = x.author_id \
             WHERE f.resolved_at IS NULL \
             GROUP BY f.post_id, x.topic_id, t.title, p.name, x.body, x.hidden_reason \
             ORDER BY n DESC, last DESC LIMIT $1",
        )
        .bind(FLAG_QUEUE)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let post: i64 = r.try_get("post_id")?;
            let reasons: Vec<String> = sqlx::query_scalar(
                "SELECT reason FROM community_flags WHERE post_id = $1 AND resolved_at IS NULL \
                 AND reason <> '' ORDER BY at DESC LIMIT 20",
            )
            .bind(post)
            .fetch_all(&self.pool)
            .await?;
            out.push(FlaggedPost {
                post,
                question: r.try_get("topic_id")?,
                title: r.try_get("title")?,
                author: r.try_get("name")?,
                body: r.try_get("body")?,
                flags: r.try_get("n")?,
                reasons,
                hidden: r.try_get::<Option<String>, _>("hidden_reason")?.is_some(),
                last_flagged_at: Timestamp(r.try_get("last")?),
            });
        }
        Ok(out)
    }

    /// Closes the open flags on `post` without hiding it (the programme
    /// looked and left it). Returns how many were closed.
    pub async fn dismiss_flags(
        &self,
        actor: &Actor,
        post: i64,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        community::may_moderate(actor)?;
        Ok(sqlx::query(
            "UPDATE community_flags SET resolved_at = $1 WHERE post_id = $2 AND resolved_at IS NULL",
        )
        .bind(now.0)
        .bind(post)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// Hides or shows a post, locks or unlocks a question, or moves it:
    /// judged by the core, recorded in the question's chain; a hidden
    /// post's author is told by `told`'s mail when they want mail at once.
    pub async fn moderate(
        &self,
        actor: &Actor,
        topic: i64,
        m: &Moderation,
        now: Timestamp,
        told: impl Fn(&HiddenPost) -> crate::outbox::Mail,
    ) -> Result<(), StoreError> {
        community::may_moderate(actor)?;
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let result: Result<(), StoreError> = async {
            let locked = crate::community::lock_topic(&mut tx, topic).await?;
            let row = sqlx::query(
                "SELECT t.title, c.slug FROM community_topics t \
                 JOIN community_categories c ON c.id = t.category_id WHERE t.id = $1",
            )
            .bind(topic)
            .fetch_one(&mut *tx)
            .await?;
            let title: String = row.try_get("title")?;
            let category: String = row.try_get("slug")?;
            let post = match m {
                Moderation::Hide { post, .. } | Moderation::Unhide { post } => sqlx::query(
                    "SELECT x.id, x.author_id, x.is_question, x.hidden_reason, p.name, p.email, p.notify \
                     FROM community_posts x JOIN people p ON p.id = x.author_id \
                     WHERE x.id = $1 AND x.topic_id = $2",
                )
                .bind(post)
                .bind(topic)
                .fetch_optional(&mut *tx)
                .await?,
                _ => None,
            };
            let target = match m {
                Moderation::Move { to } => sqlx::query_scalar::<_, i64>(
                    "SELECT id FROM community_categories WHERE slug = $1",
                )
                .bind(to)
                .fetch_optional(&mut *tx)
                .await?,
                _ => None,
            };
            let post_hidden = post
                .as_ref()
                .map(|p| p.try_get::<Option<String>, _>("hidden_reason").map(|h| h.is_some()))
                .transpose()?;
            let event = community::moderate(
                actor,
                m,
                &Moderated {
                    locked: locked.state.locked,
                    category: &category,
                    post_hidden,
                    target_exists: target.is_some(),
                },
            )?;
            let is_question = match &post {
                Some(p) => p.try_get::<i64, _>("is_question")? != 0,
                None => false,
            };
            match &event {
                TopicEvent::Hidden { post: id, reason } => {
                    sqlx::query(
                        "UPDATE community_posts SET hidden_reason = $1, hidden_at = $2 WHERE id = $3",
                    )
                    .bind(reason)
                    .bind(now.0)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "UPDATE community_flags SET resolved_at = $1 WHERE post_id = $2 AND resolved_at IS NULL",
                    )
                    .bind(now.0)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    if let Some(p) = &post {
                        let author = PersonId(p.try_get("author_id")?);
                        let notify: String = p.try_get("notify")?;
                        let notify = Notify::parse(&notify)
                            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                        if community::mail_now(author, actor.person, notify) {
                            let mail = told(&HiddenPost {
                                name: p.try_get("name")?,
                                email: p.try_get("email")?,
                                question: topic,
                                title: title.clone(),
                                reason: reason.clone(),
                                readable: community::opens(
                                    locked.state.hidden,
                                    locked.state.asker,
                                    author,
                                ),
                            });
                            crate::outbox::queue(&mut tx, &mail, now).await?;
                        }
                    }
                }
                TopicEvent::Unhidden { post: id } => {
                    sqlx::query(
                        "UPDATE community_posts SET hidden_reason = NULL, hidden_at = NULL WHERE id = $1",
                    )
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
                TopicEvent::Locked | TopicEvent::Unlocked => {
                    sqlx::query("UPDATE community_topics SET locked = $1 WHERE id = $2")
                        .bind(i64::from(event == TopicEvent::Locked))
                        .bind(topic)
                        .execute(&mut *tx)
                        .await?;
                }
                TopicEvent::Moved { .. } => {
                    let to = target.ok_or_else(|| StoreError::Corrupt("no target".into()))?;
                    sqlx::query(
                        "UPDATE community_categories SET question_count = question_count - 1 \
                         WHERE id = (SELECT category_id FROM community_topics WHERE id = $1)",
                    )
                    .bind(topic)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("UPDATE community_topics SET category_id = $1 WHERE id = $2")
                        .bind(to)
                        .bind(topic)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(
                        "UPDATE community_categories SET question_count = question_count + 1 WHERE id = $1",
                    )
                    .bind(to)
                    .execute(&mut *tx)
                    .await?;
                }
                _ => {}
            }
            if is_question {
                sqlx::query("UPDATE community_topics SET hidden = $1 WHERE id = $2")
                    .bind(i64::from(matches!(event, TopicEvent::Hidden { .. })))
                    .bind(topic)
                    .execute(&mut *tx)
                    .await?;
            }
            crate::community::record(&mut tx, topic, actor, now, &event).await?;
            // Hidden text leaves the index; a move may change who finds it.
            crate::search::index_question(&mut tx, topic).await?;
            Ok(())
        }
        .await;
        finish(tx, result).await
    }

    /// When `person`'s account was made, and whether any of their posts
    /// was accepted or up-voted: what a new account's posting limit asks.
    pub async fn community_standing(
        &self,
        person: PersonId,
    ) -> Result<(Timestamp, bool), StoreError> {
        let r = sqlx::query(
            "SELECT p.created_at, CAST(CASE WHEN EXISTS (SELECT 1 FROM community_posts x \
             LEFT JOIN community_topics t ON t.accepted_post_id = x.id \
             WHERE x.author_id = p.id AND (x.votes > 0 OR t.id IS NOT NULL)) THEN 1 ELSE 0 END AS BIGINT) AS standing \
             FROM people p WHERE p.id = $1",
        )
        .bind(person.0)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NoSuchPerson(person.0.to_string()))?;
        Ok((
            Timestamp(r.try_get("created_at")?),
            r.try_get::<i64, _>("standing")? != 0,
        ))
    }
}
