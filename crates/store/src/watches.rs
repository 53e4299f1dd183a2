//! Watching the community: who watches which question or category, the
//! notices a new or accepted answer leaves (written in the answer's own
//! transaction, so none is lost), their delivery as mail to the watchers
//! who want each event (each notice claimed once, whatever the servers),
//! what a daily digest lists, and the one-click unsubscribe keys.
//!
//! Who hears of what is `waymark_core::community`'s (`mail_now`,
//! `in_digest`); the mail's words are the caller's.

use sqlx::Row;
use waymark_core::community::{self, Notice, NoticeState};
use waymark_core::{Actor, DomainError, Notify, PersonId};

use crate::community::{TOPIC_READABLE, reader_key};
use crate::*;

/// What a person watches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Watching {
    pub questions: Vec<WatchedQuestion>,
    pub categories: Vec<WatchedCategory>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WatchedQuestion {
    pub id: i64,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WatchedCategory {
    pub slug: String,
    pub name: String,
}

/// A notice waiting to go out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingNotice {
    pub id: i64,
    pub topic: i64,
    pub title: String,
    pub post: i64,
    pub kind: Notice,
    pub actor: PersonId,
    pub actor_name: String,
    /// The answer's text (markdown).
    pub body: String,
}

/// Someone who hears of a notice now, and the key that stops it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub person: PersonId,
    pub name: String,
    pub email: String,
    /// The watch's one-click unsubscribe key (the question's watch when
    /// they watch both it and its category).
    pub key: String,
    /// What the key stops: "this question" or the category's name.
    pub watching: String,
}

/// One line of a daily digest: what happened on a watched question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestLine {
    pub topic: i64,
    pub title: String,
    pub kind: Notice,
    pub count: i64,
}

/// The most lines a digest's community part holds.
pub const DIGEST_LINES: i64 = 50;

/// Watchers of `topic` (or its category), with their settings and keys.
const WATCHERS: &str = "SELECT p.id, p.name, p.email, p.notify, w.unsubscribe_key, w.topic_id, c.name AS category_name \
     FROM community_watches w JOIN people p ON p.id = w.person_id \
     JOIN community_topics t ON t.id = $1 \
     JOIN community_categories c ON c.id = t.category_id \
     WHERE (w.topic_id = t.id OR w.category_id = t.category_id) \
     AND p.deactivated_at IS NULL AND p.password_hash IS NOT NULL \
     ORDER BY p.id, CASE WHEN w.topic_id IS NULL THEN 1 ELSE 0 END";

/// Starts `person` watching question `topic` (nothing if they do).
pub(crate) async fn watch_topic_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    person: PersonId,
    topic: i64,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO community_watches (person_id, topic_id, unsubscribe_key, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT DO NOTHING",
    )
    .bind(person.0)
    .bind(topic)
    .bind(crate::auth::random_token()?)
    .bind(now.0)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Leaves a notice of `kind` on `topic` for its watchers.
pub(crate) async fn notice(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    topic: i64,
    post: i64,
    kind: Notice,
    actor: &Actor,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO community_notices (topic_id, post_id, kind, actor_id, at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(topic)
    .bind(post)
    .bind(kind.as_str())
    .bind(actor.person.0)
    .bind(now.0)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// Starts (`on`) or stops watching question `topic`, which the reader
    /// must be able to read.
    pub async fn watch_question(
        &self,
        actor: &Actor,
        topic: i64,
        on: bool,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        // Stopping needs no right to read: a watch on a question hidden
        // or moved since still stops.
        if !on {
            sqlx::query("DELETE FROM community_watches WHERE person_id = $1 AND topic_id = $2")
                .bind(actor.person.0)
                .bind(topic)
                .execute(&self.pool)
                .await?;
            return Ok(());
        }
        let visibility: Option<String> = sqlx::query_scalar(&format!(
            "SELECT c.visibility FROM community_topics t JOIN community_categories c ON c.id = t.category_id \
             WHERE {TOPIC_READABLE} AND t.id = $2"
        ))
        .bind(reader_key(Some(actor)))
        .bind(topic)
        .fetch_optional(&self.pool)
        .await?;
        let visibility = visibility.ok_or(StoreError::Domain(DomainError::NotFound))?;
        community::may_watch(Some(actor), visibility_of(&visibility)?)?;
        let mut tx = self.pool.begin().await?;
        let result = watch_topic_in(&mut tx, actor.person, topic, now).await;
        finish(tx, result).await
    }

    /// Starts (`on`) or stops watching the category `slug`: every
    /// question in it.
    pub async fn watch_category(
        &self,
        actor: &Actor,
        slug: &str,
        on: bool,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let c = self.category(Some(actor), slug).await?;
        community::may_watch(Some(actor), c.visibility)?;
        let q = if on {
            sqlx::query(
                "INSERT INTO community_watches (person_id, category_id, unsubscribe_key, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(actor.person.0)
            .bind(c.id)
            .bind(crate::auth::random_token()?)
            .bind(now.0)
        } else {
            sqlx::query("DELETE FROM community_watches WHERE person_id = $1 AND category_id = $2")
                .bind(actor.person.0)
                .bind(c.id)
        };
        q.execute(&self.pool).await?;
        Ok(())
    }

    /// Whether `person` watches question `topic`, and whether they watch
    /// its category.
    pub async fn watches(&self, person: PersonId, topic: i64) -> Result<(bool, bool), StoreError> {
        let row = sqlx::query(
            "SELECT \
             (SELECT COUNT(*) FROM community_watches WHERE person_id = $1 AND topic_id = $2) AS q, \
             (SELECT COUNT(*) FROM community_watches w JOIN community_topics t ON t.category_id = w.category_id \
              WHERE w.person_id = $1 AND t.id = $2) AS c",
        )
        .bind(person.0)
        .bind(topic)
        .fetch_one(&self.pool)
        .await?;
        Ok((
            row.try_get::<i64, _>("q")? > 0,
            row.try_get::<i64, _>("c")? > 0,
        ))
    }

    /// Whether `person` watches the category `slug`.
    pub async fn watches_category(&self, person: PersonId, slug: &str) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM community_watches w JOIN community_categories c ON c.id = w.category_id \
             WHERE w.person_id = $1 AND c.slug = $2",
        )
        .bind(person.0)
        .bind(slug)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    /// Everything `actor` watches that they may read, newest first.
    pub async fn watching(&self, actor: &Actor) -> Result<Watching, StoreError> {
        let person = actor.person;
        let questions = sqlx::query(&format!(
            "SELECT t.id, t.title FROM community_watches w JOIN community_topics t ON t.id = w.topic_id \
             JOIN community_categories c ON c.id = t.category_id \
             WHERE {TOPIC_READABLE} AND w.person_id = $2 ORDER BY w.created_at DESC, t.id DESC"
        ))
        .bind(reader_key(Some(actor)))
        .bind(person.0)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(WatchedQuestion {
                id: r.try_get("id")?,
                title: r.try_get("title")?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
        let categories = sqlx::query(
            "SELECT c.slug, c.name FROM community_watches w JOIN community_categories c ON c.id = w.category_id \
             WHERE w.person_id = $1 ORDER BY c.position, c.id",
        )
        .bind(person.0)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(WatchedCategory {
                slug: r.try_get("slug")?,
                name: r.try_get("name")?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
        Ok(Watching {
            questions,
            categories,
        })
    }

    /// What the unsubscribe key `key` stops: the question's title or the
    /// category's name, if the key is still a watch; empty for a question
    /// the programme hid, to anyone but its asker.
    pub async fn unsubscribe_target(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT CASE WHEN t.hidden <> 0 AND t.author_id <> w.person_id THEN '' \
             ELSE COALESCE(t.title, c.name) END FROM community_watches w \
             LEFT JOIN community_topics t ON t.id = w.topic_id \
             LEFT JOIN community_categories c ON c.id = w.category_id WHERE w.unsubscribe_key = $1",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Stops the watch whose key is `key` (RFC 8058's one click); returns
    /// what it watched, or `None` when the key is no watch (any more).
    pub async fn unsubscribe(&self, key: &str) -> Result<Option<String>, StoreError> {
        let what = self.unsubscribe_target(key).await?;
        sqlx::query("DELETE FROM community_watches WHERE unsubscribe_key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(what)
    }

    /// Notices not yet delivered, oldest first, at most `limit`.
    pub async fn pending_notices(&self, limit: i64) -> Result<Vec<PendingNotice>, StoreError> {
        let rows = sqlx::query(
            "SELECT n.id, n.topic_id, t.title, n.post_id, n.kind, n.actor_id, p.name AS actor_name, x.body \
             FROM community_notices n JOIN community_topics t ON t.id = n.topic_id \
             JOIN people p ON p.id = n.actor_id JOIN community_posts x ON x.id = n.post_id \
             WHERE n.sent_at IS NULL ORDER BY n.id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get("kind")?;
                Ok(PendingNotice {
                    id: r.try_get("id")?,
                    topic: r.try_get("topic_id")?,
                    title: r.try_get("title")?,
                    post: r.try_get("post_id")?,
                    kind: Notice::parse(&kind)
                        .ok_or_else(|| StoreError::Corrupt(format!("unknown notice {kind}")))?,
                    actor: PersonId(r.try_get("actor_id")?),
                    actor_name: r.try_get("actor_name")?,
                    body: r.try_get("body")?,
                })
            })
            .collect()
    }

    /// Delivers notice `n`: claims it (another server that claimed it
    /// first wins, and this returns `None`), and queues `mail(recipient)`
    /// for each watcher who wants each event, in one transaction.
    /// Returns how many mails were queued.
    pub async fn deliver_notice(
        &self,
        n: &PendingNotice,
        now: Timestamp,
        mail: impl Fn(&Recipient) -> crate::outbox::Mail,
    ) -> Result<Option<usize>, StoreError> {
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let result: Result<Option<usize>, StoreError> = async {
            let claimed = sqlx::query(
                "UPDATE community_notices SET sent_at = $1 WHERE id = $2 AND sent_at IS NULL",
            )
            .bind(now.0)
            .bind(n.id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if claimed != 1 {
                return Ok(None);
            }
            // Judged now, not when it was left: the programme may have
            // hidden the post, or the asker changed their mind.
            let state = sqlx::query(
                "SELECT t.hidden, t.accepted_post_id, x.hidden_reason, \
                 (SELECT COUNT(*) FROM community_notices l WHERE l.topic_id = n.topic_id AND l.kind = $2 \
                  AND l.id > n.id AND l.sent_at IS NULL) AS later, \
                 (SELECT COUNT(*) FROM community_notices e WHERE e.topic_id = n.topic_id AND e.post_id = n.post_id \
                  AND e.kind = $2 AND e.id < n.id AND e.sent_at IS NOT NULL AND e.withheld_at IS NULL) AS told \
                 FROM community_notices n JOIN community_topics t ON t.id = n.topic_id \
                 JOIN community_posts x ON x.id = n.post_id WHERE n.id = $1",
            )
            .bind(n.id)
            .bind(Notice::Accepted.as_str())
            .fetch_one(&mut *tx)
            .await?;
            let state = NoticeState {
                superseded: state.try_get::<i64, _>("later")? > 0,
                told: state.try_get::<i64, _>("told")? > 0,
                ..standing(&state, n.post)?
            };
            if !community::deliverable(n.kind, state) {
                sqlx::query("UPDATE community_notices SET withheld_at = $1 WHERE id = $2")
                    .bind(now.0)
                    .bind(n.id)
                    .execute(&mut *tx)
                    .await?;
                return Ok(Some(0));
            }
            let rows = sqlx::query(WATCHERS)
                .bind(n.topic)
                .fetch_all(&mut *tx)
                .await?;
            let mut sent = 0;
            let mut last: Option<PersonId> = None;
            for r in &rows {
                let person = PersonId(r.try_get("id")?);
                // Ordered by person, the question's watch first: one mail each.
                if last == Some(person) {
                    continue;
                }
                last = Some(person);
                let notify: String = r.try_get("notify")?;
                let notify =
                    Notify::parse(&notify).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                if !community::mail_now(person, n.actor, notify) {
                    continue;
                }
                let on_topic = r.try_get::<Option<i64>, _>("topic_id")?.is_some();
                let to = Recipient {
                    person,
                    name: r.try_get("name")?,
                    email: r.try_get("email")?,
                    key: r.try_get("unsubscribe_key")?,
                    watching: if on_topic {
                        "this question".to_string()
                    } else {
                        r.try_get("category_name")?
                    },
                };
                crate::outbox::queue(&mut tx, &mail(&to), now).await?;
                sent += 1;
            }
            Ok(Some(sent))
        }
        .await;
        finish(tx, result).await
    }

    /// What happened since `since` (up to `until`) on what `person`
    /// watches, by others, for their daily digest: a line per question
    /// and kind, the busiest first, at most [`DIGEST_LINES`].
    pub async fn community_digest(
        &self,
        person: PersonId,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<DigestLine>, StoreError> {
        let notify: Option<String> = sqlx::query_scalar("SELECT notify FROM people WHERE id = $1")
            .bind(person.0)
            .fetch_optional(&self.pool)
            .await?;
        let Some(notify) = notify else {
            return Err(StoreError::NoSuchPerson(person.0.to_string()));
        };
        let notify = Notify::parse(&notify).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        // The newest notices on what they watch (bounded), judged one by
        // one by the core's rule, then counted per question and kind.
        let rows = sqlx::query(
            "SELECT n.topic_id, t.title, n.kind, n.actor_id, n.post_id, t.hidden, t.accepted_post_id, \
             x.hidden_reason FROM community_notices n JOIN community_topics t ON t.id = n.topic_id \
             JOIN community_posts x ON x.id = n.post_id \
             WHERE n.at > $2 AND n.at <= $3 AND n.withheld_at IS NULL AND EXISTS ( \
               SELECT 1 FROM community_watches w WHERE w.person_id = $1 \
               AND (w.topic_id = n.topic_id OR w.category_id = t.category_id)) \
             ORDER BY n.id DESC LIMIT $4",
        )
        .bind(person.0)
        .bind(since.0)
        .bind(until.0)
        .bind(DIGEST_LINES * 40)
        .fetch_all(&self.pool)
        .await?;
        let mut lines: Vec<DigestLine> = Vec::new();
        for r in &rows {
            if !community::in_digest(person, PersonId(r.try_get("actor_id")?), notify) {
                continue;
            }
            let kind: String = r.try_get("kind")?;
            let kind = Notice::parse(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown notice {kind}")))?;
            // Nothing hidden, and an acceptance only while it stands.
            if !community::deliverable(kind, standing(r, r.try_get("post_id")?)?) {
                continue;
            }
            let topic: i64 = r.try_get("topic_id")?;
            match lines
                .iter_mut()
                .find(|l| l.topic == topic && l.kind == kind)
            {
                Some(l) => l.count += 1,
                None => lines.push(DigestLine {
                    topic,
                    title: r.try_get("title")?,
                    kind,
                    count: 1,
                }),
            }
        }
        // The busiest first; among equals, the most recent.
        lines.sort_by_key(|l| std::cmp::Reverse(l.count));
        lines.truncate(DIGEST_LINES as usize);
        Ok(lines)
    }

    /// When `person`'s last digest was written, if ever.
    pub async fn last_digest(&self, person: PersonId) -> Result<Option<Timestamp>, StoreError> {
        Ok(sqlx::query_scalar::<_, Option<i64>>(
            "SELECT MAX(written_at) FROM digests WHERE person_id = $1",
        )
        .bind(person.0)
        .fetch_one(&self.pool)
        .await?
        .map(Timestamp))
    }
}

/// What a notice's row says of it now (its question's `hidden` and
/// `accepted_post_id`, its post's `hidden_reason`), for notice `post`;
/// the delivery adds what it knows of the notices around it.
fn standing(r: &sqlx::any::AnyRow, post: i64) -> Result<NoticeState, StoreError> {
    Ok(NoticeState {
        hidden: r.try_get::<i64, _>("hidden")? != 0
            || r.try_get::<Option<String>, _>("hidden_reason")?.is_some(),
        still_accepted: r.try_get::<Option<i64>, _>("accepted_post_id")? == Some(post),
        ..NoticeState::default()
    })
}

fn visibility_of(raw: &str) -> Result<community::Visibility, StoreError> {
    community::Visibility::parse(raw)
        .map_err(|_| StoreError::Corrupt(format!("unknown category visibility {raw}")))
}
