//! An engagement's own discussion: its comments, read from the
//! engagement's chain for those who may read the engagement; the people a
//! comment may mention; and the notices mentions leave (`mentions`),
//! written in the comment's transaction and delivered once each, judged
//! when they go out (`waymark_core::discussion::mention_deliverable`).
//!
//! The words of a mail are the caller's.

use sqlx::Row;
use waymark_core::discussion::{self, Comment};
use waymark_core::{Actor, Engagement, EngagementId, Event, Notify, Person, PersonId, Role};

use crate::*;

/// The commands whose events a discussion is folded from.
const DISCUSSION_COMMANDS: &str = "('comment', 'edit_comment', 'hide_comment')";

/// A mention waiting to go out, with what its mail needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingMention {
    pub id: i64,
    pub person: PersonId,
    pub name: String,
    pub email: String,
    pub engagement: EngagementId,
    pub comment: u32,
    pub actor_name: String,
}

/// What a mail about a mention says: where, and the comment's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MentionMail {
    pub agency: String,
    /// What the comment is about, in words.
    pub about: String,
    /// Its address's query: `about=…`.
    pub anchor: String,
    pub body: String,
}

/// One line of a daily digest: someone mentioned the reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MentionLine {
    pub engagement: EngagementId,
    pub agency: String,
    pub actor_name: String,
    pub comment: u32,
    pub anchor: String,
}

/// The people who take part in `e`, read on `conn`: the programme, the
/// agency's members and the partners assigned (the core keeps those who
/// have not left).
pub(crate) async fn participants_in(
    conn: &mut sqlx::AnyConnection,
    e: &Engagement,
) -> Result<Vec<Person>, StoreError> {
    let roles = [
        Role::ProgrammeAdmin,
        Role::ProgrammeStaff,
        Role::AgencyMember {
            agency: e.agency,
            sponsor: false,
        },
        Role::AgencyMember {
            agency: e.agency,
            sponsor: true,
        },
    ];
    let mut people = directory::holding(conn, &roles).await?;
    let assigned: Vec<PersonId> = e.assigned.iter().map(|a| a.person).collect();
    people.extend(people_in(conn, &assigned).await?);
    people.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    people.dedup_by_key(|p| p.id);
    Ok(people)
}

/// Leaves a notice for each person the events mention.
pub(crate) async fn leave_mentions(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    e: &Engagement,
    events: &[Event],
    actor: PersonId,
    now: Timestamp,
) -> Result<(), StoreError> {
    for ev in events {
        let (id, mentions) = match ev {
            Event::Commented { id, mentions, .. }
            | Event::CommentEdited {
                id, told: mentions, ..
            } => (id, mentions),
            _ => continue,
        };
        for person in mentions {
            sqlx::query(
                "INSERT INTO mentions (person_id, engagement_id, comment_id, actor_id, at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(person.0)
            .bind(e.id.0)
            .bind(i64::from(*id))
            .bind(actor.0)
            .bind(now.0)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

/// The discussion's events, in order, with who recorded each and when.
async fn discussion_events(
    pool: &AnyPool,
    id: EngagementId,
) -> Result<Vec<(Event, PersonId, Timestamp)>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT actor_id, at, payload FROM events WHERE engagement_id = $1 AND command IN {DISCUSSION_COMMANDS} ORDER BY seq"
    ))
    .bind(id.0)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                unjson(&r.try_get::<String, _>("payload")?)?,
                PersonId(r.try_get("actor_id")?),
                Timestamp(r.try_get("at")?),
            ))
        })
        .collect()
}

impl Store {
    /// An engagement and its discussion, oldest comment first, if `actor`
    /// may see the engagement.
    pub async fn discussion(
        &self,
        actor: &Actor,
        id: EngagementId,
    ) -> Result<(Engagement, Vec<Comment>), StoreError> {
        let e = self.engagement(actor, id).await?;
        let comments = self.discussion_of(actor, &e).await?;
        Ok((e, comments))
    }

    /// The discussion of `e`, already read, oldest comment first, as
    /// `actor` may read it (nothing if they may not read `e`).
    pub async fn discussion_of(
        &self,
        actor: &Actor,
        e: &Engagement,
    ) -> Result<Vec<Comment>, StoreError> {
        if actor.access(e) == waymark_core::Access::None {
            return Err(StoreError::Domain(waymark_core::DomainError::NotFound));
        }
        let events = discussion_events(&self.pool, e.id).await?;
        Ok(discussion::fold(
            events.iter().map(|(ev, by, at)| (ev, *by, *at)),
            e,
            actor,
        ))
    }

    /// Who a comment on engagement `id` may mention, by name, if `actor`
    /// may see it.
    pub async fn participants(
        &self,
        actor: &Actor,
        id: EngagementId,
    ) -> Result<Vec<Person>, StoreError> {
        let e = self.engagement(actor, id).await?;
        self.participants_of(actor, &e).await
    }

    /// [`Store::participants`] of `e`, already read.
    pub async fn participants_of(
        &self,
        actor: &Actor,
        e: &Engagement,
    ) -> Result<Vec<Person>, StoreError> {
        if actor.access(e) == waymark_core::Access::None {
            return Err(StoreError::Domain(waymark_core::DomainError::NotFound));
        }
        let mut conn = self.pool.acquire().await?;
        let people = participants_in(&mut conn, e).await?;
        Ok(discussion::participants(e, &people)
            .into_iter()
            .cloned()
            .collect())
    }

    /// Mentions not yet sent, oldest first.
    pub async fn pending_mentions(&self, limit: i64) -> Result<Vec<PendingMention>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.id, m.person_id, p.name, p.email, m.engagement_id, m.comment_id, a.name AS actor_name \
             FROM mentions m JOIN people p ON p.id = m.person_id JOIN people a ON a.id = m.actor_id \
             WHERE m.sent_at IS NULL ORDER BY m.id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PendingMention {
                    id: r.try_get("id")?,
                    person: PersonId(r.try_get("person_id")?),
                    name: r.try_get("name")?,
                    email: r.try_get("email")?,
                    engagement: EngagementId(r.try_get("engagement_id")?),
                    comment: u32::try_from(r.try_get::<i64, _>("comment_id")?)
                        .map_err(|_| StoreError::Corrupt("a mention names no comment".into()))?,
                    actor_name: r.try_get("actor_name")?,
                })
            })
            .collect()
    }

    /// Sends one mention (claimed once, whatever the servers): a mail to
    /// the person if they want each event and, judged now, may still read
    /// the engagement and the comment stands; otherwise none (a daily
    /// reader finds it in their digest). `Some(1)` when a mail was queued,
    /// `None` when another server took it.
    pub async fn deliver_mention(
        &self,
        m: &PendingMention,
        now: Timestamp,
        mail: impl Fn(&PendingMention, &MentionMail) -> crate::outbox::Mail,
    ) -> Result<Option<usize>, StoreError> {
        let reader = self.actor(m.person).await?;
        let person = self.person(m.person).await?;
        let (e, comments) = match self.discussion(&reader, m.engagement).await {
            Ok(found) => (Some(found.0), found.1),
            Err(StoreError::Domain(waymark_core::DomainError::NotFound)) => (None, Vec::new()),
            Err(other) => return Err(other),
        };
        let comment = comments.iter().find(|c| c.id == m.comment);
        let notify = self.settings(m.person).await?.notify;
        let deliverable = discussion::mention_deliverable(
            e.as_ref()
                .map_or(waymark_core::Access::None, |e| reader.access(e)),
            person.as_ref().is_none_or(|p| p.deactivated_at.is_some()),
            comment.is_none_or(|c| c.hidden.is_some()),
        );
        let (agency, about) = match (&e, comment) {
            (Some(e), Some(c)) => (
                self.agency(e.agency)
                    .await?
                    .map_or_else(|| "An agency".to_string(), |a| a.name),
                c.anchor.label(&*self.model(&e.model_hash).await?, e),
            ),
            _ => (String::new(), String::new()),
        };
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let result: Result<Option<usize>, StoreError> = async {
            let claimed =
                sqlx::query("UPDATE mentions SET sent_at = $1 WHERE id = $2 AND sent_at IS NULL")
                    .bind(now.0)
                    .bind(m.id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            if claimed != 1 {
                return Ok(None);
            }
            match (deliverable, e.as_ref(), comment) {
                (true, Some(_), Some(c)) if notify == Notify::Each => {
                    let words = MentionMail {
                        agency,
                        about,
                        anchor: c.anchor.key(),
                        body: c.body.clone(),
                    };
                    crate::outbox::queue(&mut tx, &mail(m, &words), now).await?;
                    Ok(Some(1))
                }
                (true, ..) => Ok(Some(0)),
                _ => {
                    sqlx::query("UPDATE mentions SET withheld_at = $1 WHERE id = $2")
                        .bind(now.0)
                        .bind(m.id)
                        .execute(&mut *tx)
                        .await?;
                    Ok(Some(0))
                }
            }
        }
        .await;
        finish(tx, result).await
    }

    /// The mentions of `person` between `since` and `until` that they may
    /// still read, for their daily digest (newest last).
    pub async fn mentions_since(
        &self,
        person: PersonId,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<MentionLine>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.engagement_id, m.comment_id, a.name AS actor_name FROM mentions m \
             JOIN people a ON a.id = m.actor_id \
             WHERE m.person_id = $1 AND m.at > $2 AND m.at <= $3 AND m.withheld_at IS NULL \
             ORDER BY m.id LIMIT 50",
        )
        .bind(person.0)
        .bind(since.0)
        .bind(until.0)
        .fetch_all(&self.pool)
        .await?;
        let reader = self.actor(person).await?;
        let mut out = Vec::new();
        for r in &rows {
            let id = EngagementId(r.try_get("engagement_id")?);
            let comment = u32::try_from(r.try_get::<i64, _>("comment_id")?).unwrap_or(0);
            let (e, comments) = match self.discussion(&reader, id).await {
                Ok(found) => found,
                Err(StoreError::Domain(waymark_core::DomainError::NotFound)) => continue,
                Err(other) => return Err(other),
            };
            let Some(c) = comments
                .iter()
                .find(|c| c.id == comment && c.hidden.is_none())
            else {
                continue;
            };
            out.push(MentionLine {
                engagement: id,
                agency: self
                    .agency(e.agency)
                    .await?
                    .map_or_else(|| "An agency".to_string(), |a| a.name),
                actor_name: r.try_get("actor_name")?,
                comment,
                anchor: c.anchor.key(),
            });
        }
        Ok(out)
    }
}
