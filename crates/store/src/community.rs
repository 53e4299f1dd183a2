//! The community portal's records: categories, questions (topics) and
//! their posts, every revision of every post, up-votes, and each
//! question's own hash chain (`community_events`, [`TOPIC_CHAIN`]).
//!
//! Every write asks `waymark_core::community` inside its transaction and
//! appends what it did to the question's chain in the same transaction.
//! Reads filter by what the reader may see in SQL (a members-only
//! category's questions are found by nobody signed out), so paging stays
//! right; what a reader may not see is "not found", as elsewhere.

use sqlx::Row;
use waymark_core::community::{
    self, Category, Edit, NewCategory, Notice, PostState, Question, StepTag, TopicEvent,
    TopicState, Visibility,
};
use waymark_core::{Actor, DomainError, PersonId};

use crate::chain::SideChain;
use crate::*;

/// Each question's chain: what was asked, answered, edited and accepted.
pub(crate) const TOPIC_CHAIN: SideChain = SideChain {
    events: "community_events",
    heads: "community_topics",
    key: "topic_id",
};

/// The most questions a page of a list holds.
pub const MAX_TOPICS_PAGE: i64 = 100;

/// The most answers a question's page shows; more are on the next pages.
pub const ANSWERS_PAGE: i64 = 50;

/// The answers' order: the accepted one (`$4`), then by votes, then the
/// oldest first.
const ANSWER_ORDER: &str = "CASE WHEN x.id = $4 THEN 0 ELSE 1 END, x.votes DESC, x.id";

/// A question as lists show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = CommunityQuestion))]
pub struct TopicRow {
    pub id: i64,
    /// The category's slug and name.
    pub category: String,
    pub category_name: String,
    pub title: String,
    pub author: PersonId,
    pub author_name: String,
    pub tag: Option<StepTag>,
    /// The accepted answer's post id.
    pub accepted: Option<i64>,
    pub locked: bool,
    /// In a category only the programme posts in (Announcements).
    pub programme_only: bool,
    /// The programme hid it: only the programme and its asker read it.
    pub hidden: bool,
    pub answers: i64,
    /// Up-votes of the question itself.
    pub votes: i64,
    pub created_at: Timestamp,
    pub last_activity_at: Timestamp,
}

/// One post: the question's text or an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = CommunityPost))]
pub struct PostRow {
    pub id: i64,
    pub author: PersonId,
    pub author_name: String,
    /// The author is of the programme team: pages mark it, so nobody
    /// passes for the programme by taking a name.
    pub author_programme: bool,
    /// Markdown, as written (pages show it sanitised).
    pub body: String,
    pub votes: i64,
    /// How many revisions it has (1: never edited).
    pub revisions: i64,
    pub created_at: Timestamp,
    pub edited_at: Option<Timestamp>,
    pub accepted: bool,
    /// Why the programme hid it, when it did. Readers other than the
    /// programme and the author get an empty body and an empty reason.
    pub hidden: Option<String>,
}

/// A question with its answers: the accepted one first, then by votes,
/// then oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = CommunityThread))]
pub struct Thread {
    pub topic: TopicRow,
    pub question: PostRow,
    pub answers: Vec<PostRow>,
    /// The posts the reader up-voted.
    pub voted: Vec<i64>,
}

/// One revision of a post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = CommunityRevision))]
pub struct Revision {
    pub number: i64,
    /// The question's title at this revision (questions only).
    pub title: Option<String>,
    pub body: String,
    pub editor: PersonId,
    pub editor_name: String,
    pub at: Timestamp,
}

const TOPIC_COLUMNS: &str = "t.id, c.slug AS category, c.name AS category_name, t.title, t.author_id, \
     p.name AS author_name, t.tag_stage, t.tag_step, t.accepted_post_id, t.locked, c.programme_only, t.hidden, t.answer_count, \
     t.votes, t.created_at, t.last_activity_at";

const TOPIC_FROM: &str = "community_topics t JOIN community_categories c ON c.id = t.category_id \
     JOIN people p ON p.id = t.author_id";

/// The condition that keeps the categories the reader may read: `$1` is
/// [`reader_key`]'s.
pub(crate) const READABLE: &str = "(c.visibility = 'public' OR $1 <> 0)";

/// The same for questions: a hidden question only the programme and its
/// asker read.
pub(crate) const TOPIC_READABLE: &str =
    "(c.visibility = 'public' OR $1 <> 0) AND (t.hidden = 0 OR $1 = -1 OR t.author_id = $1)";

/// Who reads, as one bound value: 0 signed out, -1 of the programme (who
/// reads what is hidden), or the reader's person id (person ids start at 1).
pub(crate) fn reader_key(reader: Option<&Actor>) -> i64 {
    match reader {
        None => 0,
        Some(a) if a.is_programme() => -1,
        Some(a) => a.person.0,
    }
}

impl TopicRow {
    /// What the rules ask of the question.
    pub fn state(&self) -> TopicState {
        TopicState {
            asker: self.author,
            locked: self.locked,
            programme_only: self.programme_only,
            hidden: self.hidden,
        }
    }
}

fn topic_row(r: &sqlx::any::AnyRow) -> Result<TopicRow, StoreError> {
    let stage: Option<String> = r.try_get("tag_stage")?;
    let step: Option<i64> = r.try_get("tag_step")?;
    Ok(TopicRow {
        id: r.try_get("id")?,
        category: r.try_get("category")?,
        category_name: r.try_get("category_name")?,
        title: r.try_get("title")?,
        author: PersonId(r.try_get("author_id")?),
        author_name: r.try_get("author_name")?,
        tag: stage.map(|stage| StepTag {
            stage,
            step: step.and_then(|n| u32::try_from(n).ok()),
        }),
        accepted: r.try_get("accepted_post_id")?,
        locked: r.try_get::<i64, _>("locked")? != 0,
        programme_only: r.try_get::<i64, _>("programme_only")? != 0,
        hidden: r.try_get::<i64, _>("hidden")? != 0,
        answers: r.try_get("answer_count")?,
        votes: r.try_get("votes")?,
        created_at: Timestamp(r.try_get("created_at")?),
        last_activity_at: Timestamp(r.try_get("last_activity_at")?),
    })
}

/// Whether `reader` reads what the programme hid of `author`'s: the
/// programme and the author do.
fn reads_hidden(reader: Option<&Actor>, author: PersonId) -> bool {
    reader.is_some_and(|a| a.is_programme() || a.person == author)
}

/// What the rules ask of a post, from a row with its `author_id` and
/// `hidden_reason`, in a question hidden (`question_hidden`) or not.
pub(crate) fn post_state(
    r: &sqlx::any::AnyRow,
    question_hidden: bool,
) -> Result<PostState, StoreError> {
    Ok(PostState::within(
        PersonId(r.try_get("author_id")?),
        r.try_get::<Option<String>, _>("hidden_reason")?.is_some(),
        question_hidden,
    ))
}

/// A post's `author_id`, `is_question` and `hidden_reason`, with its
/// question's `hidden`: what the rules ask of a post (`post_state`).
pub(crate) const POST_STATE: &str = "SELECT x.author_id, x.is_question, x.hidden_reason, t.hidden \
     FROM community_posts x JOIN community_topics t ON t.id = x.topic_id WHERE x.id = $1";

const POST_COLUMNS: &str = "x.id, x.author_id, p.name AS author_name, x.body, x.votes, x.revisions, \
     x.created_at, x.edited_at, x.is_question, x.hidden_reason";

fn post_row(r: &sqlx::any::AnyRow, accepted: Option<i64>) -> Result<PostRow, StoreError> {
    let id: i64 = r.try_get("id")?;
    Ok(PostRow {
        id,
        author: PersonId(r.try_get("author_id")?),
        author_name: r.try_get("author_name")?,
        author_programme: r.try_get::<i64, _>("programme")? != 0,
        body: r.try_get("body")?,
        votes: r.try_get("votes")?,
        revisions: r.try_get("revisions")?,
        created_at: Timestamp(r.try_get("created_at")?),
        edited_at: r.try_get::<Option<i64>, _>("edited_at")?.map(Timestamp),
        accepted: accepted == Some(id),
        hidden: r.try_get("hidden_reason")?,
    })
}

fn category_row(r: &sqlx::any::AnyRow) -> Result<Category, StoreError> {
    let v: String = r.try_get("visibility")?;
    Ok(Category {
        id: r.try_get("id")?,
        slug: r.try_get("slug")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        visibility: Visibility::parse(&v)
            .map_err(|_| StoreError::Corrupt(format!("unknown category visibility {v}")))?,
        programme_only: r.try_get::<i64, _>("programme_only")? != 0,
        questions: r.try_get("question_count")?,
    })
}

const CATEGORY_COLUMNS: &str =
    "c.id, c.slug, c.name, c.description, c.visibility, c.programme_only, c.question_count";

fn not_found() -> StoreError {
    StoreError::Domain(DomainError::NotFound)
}

/// A topic's row as a write needs it, read under its lock.
pub(crate) struct Locked {
    id: i64,
    pub(crate) state: TopicState,
    pub(crate) accepted: Option<i64>,
}

/// Takes question `id`'s row lock (PostgreSQL; SQLite writers hold the
/// writer's turn) and reads what the rules ask of it.
pub(crate) async fn lock_topic(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: i64,
) -> Result<Locked, StoreError> {
    let n = sqlx::query("UPDATE community_topics SET event_count = event_count WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(not_found());
    }
    let r = sqlx::query(
        "SELECT t.author_id, t.locked, t.accepted_post_id, t.hidden, c.programme_only FROM community_topics t \
         JOIN community_categories c ON c.id = t.category_id WHERE t.id = $1",
    )
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(Locked {
        id,
        state: TopicState {
            asker: PersonId(r.try_get("author_id")?),
            locked: r.try_get::<i64, _>("locked")? != 0,
            programme_only: r.try_get::<i64, _>("programme_only")? != 0,
            hidden: r.try_get::<i64, _>("hidden")? != 0,
        },
        accepted: r.try_get("accepted_post_id")?,
    })
}

pub(crate) async fn record(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    topic: i64,
    actor: &Actor,
    now: Timestamp,
    event: &TopicEvent,
) -> Result<(), StoreError> {
    TOPIC_CHAIN
        .append(tx, topic, actor.person.0, now, event.kind(), &json(event)?)
        .await?;
    Ok(())
}

impl Store {
    /// Adds the default categories that are missing (by slug), after the
    /// others; changes none that exist. Run at start-up; safe to race.
    pub async fn ensure_categories(&self, defaults: &[NewCategory]) -> Result<(), StoreError> {
        let have: Vec<String> = sqlx::query_scalar("SELECT slug FROM community_categories")
            .fetch_all(&self.pool)
            .await?;
        for c in defaults.iter().filter(|c| !have.contains(&c.slug)) {
            match self.insert_category(c).await {
                Ok(_) | Err(StoreError::Duplicate { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn insert_category(&self, c: &NewCategory) -> Result<i64, StoreError> {
        let _turn = self.write_turn().await;
        sqlx::query_scalar(
            "INSERT INTO community_categories (slug, name, description, visibility, programme_only, position) \
             VALUES ($1, $2, $3, $4, $5, (SELECT COALESCE(MAX(position), 0) + 1 FROM community_categories)) RETURNING id",
        )
        .bind(&c.slug)
        .bind(&c.name)
        .bind(&c.description)
        .bind(c.visibility.as_str())
        .bind(i64::from(c.programme_only))
        .fetch_one(&self.pool)
        .await
        .map_err(|e| StoreError::unique(e, "name", &c.name))
    }

    /// Adds a category (the programme only). A name whose address is taken
    /// is refused as a duplicate.
    pub async fn add_category(&self, actor: &Actor, c: &NewCategory) -> Result<i64, StoreError> {
        community::may_moderate(actor)?;
        self.insert_category(c).await
    }

    /// The categories `reader` may read, in their order.
    pub async fn categories(&self, reader: Option<&Actor>) -> Result<Vec<Category>, StoreError> {
        sqlx::query(&format!(
            "SELECT {CATEGORY_COLUMNS} FROM community_categories c WHERE {READABLE} ORDER BY c.position, c.id"
        ))
        .bind(reader_key(reader))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(category_row)
        .collect()
    }

    /// One category by its slug, if `reader` may read it.
    pub async fn category(
        &self,
        reader: Option<&Actor>,
        slug: &str,
    ) -> Result<Category, StoreError> {
        let r = sqlx::query(&format!(
            "SELECT {CATEGORY_COLUMNS} FROM community_categories c WHERE {READABLE} AND c.slug = $2"
        ))
        .bind(reader_key(reader))
        .bind(slug)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(not_found)?;
        category_row(&r)
    }

    /// A page of a category's questions, the most recently active first;
    /// `before` is the last row's (activity, id) of the page before.
    pub async fn topics(
        &self,
        reader: Option<&Actor>,
        category: &str,
        limit: i64,
        before: Option<(Timestamp, i64)>,
    ) -> Result<Vec<TopicRow>, StoreError> {
        let c = self.category(reader, category).await?;
        let (at, id) = before.map_or((i64::MAX, i64::MAX), |(t, id)| (t.0, id));
        sqlx::query(&format!(
            "SELECT {TOPIC_COLUMNS} FROM {TOPIC_FROM} WHERE t.category_id = $1 \
             AND (t.last_activity_at < $2 OR (t.last_activity_at = $2 AND t.id < $3)) \
             AND (t.hidden = 0 OR $5 = -1 OR t.author_id = $5) \
             ORDER BY t.last_activity_at DESC, t.id DESC LIMIT $4"
        ))
        .bind(c.id)
        .bind(at)
        .bind(id)
        .bind(limit.clamp(1, MAX_TOPICS_PAGE))
        .bind(reader_key(reader))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(topic_row)
        .collect()
    }

    /// The questions `reader` may read about a stage (any of its steps) or
    /// one step, the most recently active first.
    pub async fn tagged_topics(
        &self,
        reader: Option<&Actor>,
        tag: &StepTag,
        limit: i64,
    ) -> Result<Vec<TopicRow>, StoreError> {
        let step = tag.step.map(i64::from);
        sqlx::query(&format!(
            "SELECT {TOPIC_COLUMNS} FROM {TOPIC_FROM} WHERE {TOPIC_READABLE} AND t.tag_stage = $2 \
             AND ($3 = 0 OR t.tag_step = $4) \
             ORDER BY t.last_activity_at DESC, t.id DESC LIMIT $5"
        ))
        .bind(reader_key(reader))
        .bind(&tag.stage)
        .bind(i64::from(step.is_some()))
        .bind(step.unwrap_or(0))
        .bind(limit.clamp(1, MAX_TOPICS_PAGE))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(topic_row)
        .collect()
    }

    /// How many questions `reader` may read about each step of `stage`
    /// (step 0: the stage as a whole).
    pub async fn tagged_counts(
        &self,
        reader: Option<&Actor>,
        stage: &str,
    ) -> Result<Vec<(u32, i64)>, StoreError> {
        sqlx::query(&format!(
            "SELECT COALESCE(t.tag_step, 0) AS step, COUNT(*) AS n FROM {TOPIC_FROM} \
             WHERE {TOPIC_READABLE} AND t.tag_stage = $2 GROUP BY COALESCE(t.tag_step, 0)"
        ))
        .bind(reader_key(reader))
        .bind(stage)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok((
                u32::try_from(r.try_get::<i64, _>("step")?).unwrap_or(0),
                r.try_get("n")?,
            ))
        })
        .collect()
    }

    /// A question with all its answers, if `reader` may read it.
    pub async fn thread(&self, reader: Option<&Actor>, id: i64) -> Result<Thread, StoreError> {
        self.thread_part(reader, id, 0, i64::MAX).await
    }

    /// A question with `limit` of its answers from the `offset`th, in
    /// their order (the accepted one, then by votes, then the oldest
    /// first), if `reader` may read it: a page holds a bounded number of
    /// answers however many the question has ([`ANSWERS_PAGE`]).
    pub async fn thread_part(
        &self,
        reader: Option<&Actor>,
        id: i64,
        offset: i64,
        limit: i64,
    ) -> Result<Thread, StoreError> {
        let r = sqlx::query(&format!(
            "SELECT {TOPIC_COLUMNS} FROM {TOPIC_FROM} WHERE {TOPIC_READABLE} AND t.id = $2"
        ))
        .bind(reader_key(reader))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(not_found)?;
        let topic = topic_row(&r)?;
        // The question, then the page's answers in their order.
        let select = format!(
            "SELECT {POST_COLUMNS}, CAST(CASE WHEN EXISTS (SELECT 1 FROM memberships m \
             WHERE m.person_id = x.author_id AND m.role IN ($2, $3)) THEN 1 ELSE 0 END AS BIGINT) AS programme \
             FROM community_posts x JOIN people p ON p.id = x.author_id WHERE x.topic_id = $1"
        );
        let admin = json(&waymark_core::Role::ProgrammeAdmin)?;
        let staff = json(&waymark_core::Role::ProgrammeStaff)?;
        let mut posts = sqlx::query(&format!("{select} AND x.is_question = 1"))
            .bind(id)
            .bind(&admin)
            .bind(&staff)
            .fetch_all(&self.pool)
            .await?;
        posts.extend(
            sqlx::query(&format!(
                "{select} AND x.is_question = 0 ORDER BY {ANSWER_ORDER} LIMIT $5 OFFSET $6"
            ))
            .bind(id)
            .bind(&admin)
            .bind(&staff)
            .bind(topic.accepted)
            .bind(limit.max(0))
            .bind(offset.max(0))
            .fetch_all(&self.pool)
            .await?,
        );
        let mut question = None;
        let mut answers = Vec::with_capacity(posts.len());
        for r in &posts {
            let mut post = post_row(r, topic.accepted)?;
            // What the programme hid, only it and the author still read.
            if post.hidden.is_some() && !reads_hidden(reader, post.author) {
                post.body = String::new();
                post.hidden = Some(String::new());
            }
            if r.try_get::<i64, _>("is_question")? != 0 {
                question = Some(post);
            } else {
                answers.push(post);
            }
        }
        let question =
            question.ok_or_else(|| StoreError::Corrupt(format!("question {id} has no text")))?;
        let voted = match reader {
            None => Vec::new(),
            Some(a) => sqlx::query_scalar(
                "SELECT v.post_id FROM community_votes v JOIN community_posts x ON x.id = v.post_id \
                 WHERE x.topic_id = $1 AND v.person_id = $2 ORDER BY v.post_id",
            )
            .bind(id)
            .bind(a.person.0)
            .fetch_all(&self.pool)
            .await?,
        };
        Ok(Thread {
            topic,
            question,
            answers,
            voted,
        })
    }

    /// Where answer `post` stands among question `topic`'s answers (0
    /// first), if it is one of them: which page shows it.
    pub async fn answer_place(&self, topic: i64, post: i64) -> Result<Option<i64>, StoreError> {
        let r = sqlx::query(
            "SELECT p.votes, t.accepted_post_id FROM community_posts p \
             JOIN community_topics t ON t.id = p.topic_id \
             WHERE p.id = $1 AND p.topic_id = $2 AND p.is_question = 0",
        )
        .bind(post)
        .bind(topic)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = r else { return Ok(None) };
        let votes: i64 = r.try_get("votes")?;
        let accepted: Option<i64> = r.try_get("accepted_post_id")?;
        if accepted == Some(post) {
            return Ok(Some(0));
        }
        // Before it: the accepted answer, more votes, or as many and older.
        let before: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM community_posts x WHERE x.topic_id = $1 AND x.is_question = 0 \
             AND x.id <> $2 AND (x.id = $3 OR x.votes > $4 OR (x.votes = $4 AND x.id < $2))",
        )
        .bind(topic)
        .bind(post)
        .bind(accepted)
        .bind(votes)
        .fetch_one(&self.pool)
        .await?;
        Ok(Some(before))
    }

    /// The question post `post` belongs to, if `reader` may read it.
    pub async fn post_topic(&self, reader: Option<&Actor>, post: i64) -> Result<i64, StoreError> {
        sqlx::query_scalar(&format!(
            "SELECT t.id FROM community_posts x JOIN community_topics t ON t.id = x.topic_id \
             JOIN community_categories c ON c.id = t.category_id WHERE {TOPIC_READABLE} AND x.id = $2"
        ))
        .bind(reader_key(reader))
        .bind(post)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(not_found)
    }

    /// Every revision of a post, the first first, if `reader` may read it.
    pub async fn revisions(
        &self,
        reader: Option<&Actor>,
        post: i64,
    ) -> Result<(i64, Vec<Revision>), StoreError> {
        let topic = self.post_topic(reader, post).await?;
        // A hidden post's history is the programme's and its author's.
        let r = sqlx::query("SELECT author_id, hidden_reason FROM community_posts WHERE id = $1")
            .bind(post)
            .fetch_one(&self.pool)
            .await?;
        let p = post_state(&r, false)?;
        if p.hidden && !reads_hidden(reader, p.author) {
            return Err(not_found());
        }
        let rows = sqlx::query(
            "SELECT r.number, r.title, r.body, r.editor_id, p.name, r.at FROM community_revisions r \
             JOIN people p ON p.id = r.editor_id WHERE r.post_id = $1 ORDER BY r.number",
        )
        .bind(post)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(Revision {
                number: r.try_get("number")?,
                title: r.try_get("title")?,
                body: r.try_get("body")?,
                editor: PersonId(r.try_get("editor_id")?),
                editor_name: r.try_get("name")?,
                at: Timestamp(r.try_get("at")?),
            })
        })
        .collect::<Result<_, StoreError>>()?;
        Ok((topic, rows))
    }

    /// Asks a question in `category`; returns its id.
    pub async fn ask(
        &self,
        actor: &Actor,
        category: &str,
        q: &Question,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        let c = self.may_ask_in(actor, category).await?;
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let id = ask_in(&mut tx, &c, actor, q, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Answers question `topic`; returns the answer's post id.
    pub async fn answer(
        &self,
        actor: &Actor,
        topic: i64,
        body: &str,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        self.may_answer_question(actor, topic).await?;
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let t = lock_topic(&mut tx, topic).await?;
        community::may_answer(actor, t.state)?;
        let post = insert_post(&mut tx, t.id, actor, false, None, body, now).await?;
        sqlx::query(
            "UPDATE community_topics SET answer_count = answer_count + 1, last_activity_at = $1 WHERE id = $2",
        )
        .bind(now.0)
        .bind(t.id)
        .execute(&mut *tx)
        .await?;
        let event = TopicEvent::Answered {
            post,
            body: body.to_string(),
        };
        record(&mut tx, t.id, actor, now, &event).await?;
        crate::watches::notice(&mut tx, t.id, post, Notice::Answered, actor, now).await?;
        crate::search::index_question(&mut tx, t.id).await?;
        tx.commit().await?;
        Ok(post)
    }

    /// Edits a post (the question's title too, for the question); keeps
    /// the text before as a revision. `expected` is the number of
    /// revisions the editor saw: a post edited since is a conflict.
    pub async fn edit_post(
        &self,
        actor: &Actor,
        post: i64,
        expected: Option<i64>,
        edit: &Edit,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        let topic = self.post_topic(Some(actor), post).await?;
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let t = lock_topic(&mut tx, topic).await?;
        let r = sqlx::query(
            "SELECT author_id, is_question, revisions, body FROM community_posts WHERE id = $1",
        )
        .bind(post)
        .fetch_one(&mut *tx)
        .await?;
        let author = PersonId(r.try_get("author_id")?);
        let is_question = r.try_get::<i64, _>("is_question")? != 0;
        let revisions: i64 = r.try_get("revisions")?;
        community::may_edit(actor, author, t.state)?;
        if let Some(e) = expected
            && e != revisions
        {
            return Err(StoreError::Domain(DomainError::rule(format!(
                "this post was edited since you opened it (you saw revision {e}, it is now at {revisions}); reload it and edit again"
            ))));
        }
        if edit.title.is_some() && !is_question {
            return Err(StoreError::Domain(DomainError::invalid(
                "title",
                "only a question has a title",
            )));
        }
        let old_title: Option<String> = if is_question {
            Some(
                sqlx::query_scalar("SELECT title FROM community_topics WHERE id = $1")
                    .bind(t.id)
                    .fetch_one(&mut *tx)
                    .await?,
            )
        } else {
            None
        };
        // Each revision of the question keeps the title it had.
        let title = if is_question {
            edit.title.clone().or_else(|| old_title.clone())
        } else {
            None
        };
        if r.try_get::<String, _>("body")? == edit.body && title == old_title {
            return Err(StoreError::Domain(DomainError::rule(
                "nothing changed: the post already says this",
            )));
        }
        let number = revisions + 1;
        sqlx::query(
            "INSERT INTO community_revisions (post_id, number, title, body, editor_id, at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(post)
        .bind(number)
        .bind(&title)
        .bind(&edit.body)
        .bind(actor.person.0)
        .bind(now.0)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE community_posts SET body = $1, revisions = $2, edited_at = $3 WHERE id = $4",
        )
        .bind(&edit.body)
        .bind(number)
        .bind(now.0)
        .bind(post)
        .execute(&mut *tx)
        .await?;
        if let Some(title) = &title {
            sqlx::query("UPDATE community_topics SET title = $1 WHERE id = $2")
                .bind(title)
                .bind(t.id)
                .execute(&mut *tx)
                .await?;
        }
        let event = TopicEvent::Edited {
            post,
            revision: number,
            title: edit.title.clone(),
            body: edit.body.clone(),
        };
        record(&mut tx, t.id, actor, now, &event).await?;
        crate::search::index_question(&mut tx, t.id).await?;
        tx.commit().await?;
        Ok(number)
    }

    /// Accepts answer `post` on question `topic` (or, with `None`, takes
    /// the acceptance back).
    pub async fn accept_answer(
        &self,
        actor: &Actor,
        topic: i64,
        post: Option<i64>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.thread_head(Some(actor), topic).await?;
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let t = lock_topic(&mut tx, topic).await?;
        let event = match post {
            Some(post) => {
                let here = sqlx::query(
                    "SELECT author_id, hidden_reason FROM community_posts WHERE id = $1 AND topic_id = $2 AND is_question = 0",
                )
                .bind(post)
                .bind(t.id)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| post_state(&r, false))
                .transpose()?;
                community::accept(actor, t.state, here, t.accepted, post)?
            }
            None => {
                community::may_accept(actor, t.state)?;
                let post = t.accepted.ok_or_else(|| {
                    StoreError::Domain(DomainError::rule("no answer is accepted yet"))
                })?;
                TopicEvent::Unaccepted { post }
            }
        };
        let accepted = match &event {
            TopicEvent::Accepted { post } => Some(*post),
            _ => None,
        };
        sqlx::query("UPDATE community_topics SET accepted_post_id = $1, last_activity_at = $2 WHERE id = $3")
            .bind(accepted)
            .bind(now.0)
            .bind(t.id)
            .execute(&mut *tx)
            .await?;
        record(&mut tx, t.id, actor, now, &event).await?;
        if let Some(post) = accepted {
            crate::watches::notice(&mut tx, t.id, post, Notice::Accepted, actor, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Up-votes a post (`up`), or takes the vote back. Once per person a
    /// post; never one's own.
    pub async fn vote(
        &self,
        actor: &Actor,
        post: i64,
        up: bool,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        let topic = self.post_topic(Some(actor), post).await?;
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let r = sqlx::query(POST_STATE)
            .bind(post)
            .fetch_one(&mut *tx)
            .await?;
        let changed = if up {
            let hidden = r.try_get::<i64, _>("hidden")? != 0;
            community::may_vote(actor, post_state(&r, hidden)?)?;
            sqlx::query("INSERT INTO community_votes (post_id, person_id, at) VALUES ($1, $2, $3)")
                .bind(post)
                .bind(actor.person.0)
                .bind(now.0)
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    if crate::error::is_unique_violation(&e) {
                        StoreError::Domain(DomainError::rule("you already voted for this post"))
                    } else {
                        StoreError::Db(e)
                    }
                })?;
            1
        } else {
            let n =
                sqlx::query("DELETE FROM community_votes WHERE post_id = $1 AND person_id = $2")
                    .bind(post)
                    .bind(actor.person.0)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            if n == 0 {
                return Err(StoreError::Domain(DomainError::rule(
                    "you have not voted for this post",
                )));
            }
            -1
        };
        let votes: i64 = sqlx::query_scalar(
            "UPDATE community_posts SET votes = votes + $1 WHERE id = $2 RETURNING votes",
        )
        .bind(changed)
        .bind(post)
        .fetch_one(&mut *tx)
        .await?;
        if r.try_get::<i64, _>("is_question")? != 0 {
            sqlx::query("UPDATE community_topics SET votes = $1 WHERE id = $2")
                .bind(votes)
                .bind(topic)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(votes)
    }

    /// What the rules ask of question `topic`, if `reader` may read it
    /// (not found otherwise).
    async fn thread_head(
        &self,
        reader: Option<&Actor>,
        topic: i64,
    ) -> Result<TopicState, StoreError> {
        let r = sqlx::query(&format!(
            "SELECT t.author_id, t.locked, t.hidden, c.programme_only FROM community_topics t \
             JOIN community_categories c ON c.id = t.category_id WHERE {TOPIC_READABLE} AND t.id = $2"
        ))
        .bind(reader_key(reader))
        .bind(topic)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(not_found)?;
        Ok(TopicState {
            asker: PersonId(r.try_get("author_id")?),
            locked: r.try_get::<i64, _>("locked")? != 0,
            programme_only: r.try_get::<i64, _>("programme_only")? != 0,
            hidden: r.try_get::<i64, _>("hidden")? != 0,
        })
    }

    /// Whether `actor` may ask in the category `slug` (not found when
    /// they may not read it); returns the category. Asked before a post
    /// counts against a new account's limit, so a refusal costs nothing.
    pub async fn may_ask_in(&self, actor: &Actor, slug: &str) -> Result<Category, StoreError> {
        let c = self.category(Some(actor), slug).await?;
        community::may_ask(actor, &c)?;
        Ok(c)
    }

    /// Whether `actor` may answer question `topic` (not found when they
    /// may not read it). Asked before a post counts against a new
    /// account's limit.
    pub async fn may_answer_question(&self, actor: &Actor, topic: i64) -> Result<(), StoreError> {
        let state = self.thread_head(Some(actor), topic).await?;
        community::may_answer(actor, state)?;
        Ok(())
    }
}

/// Asks question `q` in category `c` (whose asking `actor` may: the
/// caller checked), in the caller's transaction: the topic, its first
/// post, the count, its chain's first event, the asker's watch and the
/// search index. Returns the question's id.
pub(crate) async fn ask_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    c: &Category,
    actor: &Actor,
    q: &Question,
    now: Timestamp,
) -> Result<i64, StoreError> {
    let id: i64 = sqlx::query_scalar(
            "INSERT INTO community_topics (category_id, author_id, title, tag_stage, tag_step, created_at, last_activity_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
        )
        .bind(c.id)
        .bind(actor.person.0)
        .bind(&q.title)
        .bind(q.tag.as_ref().map(|t| t.stage.clone()))
        .bind(q.tag.as_ref().and_then(|t| t.step).map(i64::from))
        .bind(now.0)
        .fetch_one(&mut **tx)
        .await?;
    let post = insert_post(tx, id, actor, true, Some(&q.title), &q.body, now).await?;
    sqlx::query(
        "UPDATE community_categories SET question_count = question_count + 1 WHERE id = $1",
    )
    .bind(c.id)
    .execute(&mut **tx)
    .await?;
    let event = TopicEvent::Asked {
        category: c.slug.clone(),
        post,
        title: q.title.clone(),
        body: q.body.clone(),
        tag: q.tag.clone(),
    };
    record(tx, id, actor, now, &event).await?;
    // The asker hears of answers to their question.
    crate::watches::watch_topic_in(tx, actor.person, id, now).await?;
    crate::search::index_question(tx, id).await?;
    Ok(id)
}

/// Inserts a post and its first revision; returns its id.
async fn insert_post(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    topic: i64,
    actor: &Actor,
    is_question: bool,
    title: Option<&str>,
    body: &str,
    now: Timestamp,
) -> Result<i64, StoreError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO community_posts (topic_id, author_id, is_question, body, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(topic)
    .bind(actor.person.0)
    .bind(i64::from(is_question))
    .bind(body)
    .bind(now.0)
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO community_revisions (post_id, number, title, body, editor_id, at) VALUES ($1, 1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(title)
    .bind(body)
    .bind(actor.person.0)
    .bind(now.0)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// Broken question chains, and posts whose text is not what their chain
/// last recorded: (questions, events, broken).
pub(crate) async fn verify(
    conn: &mut sqlx::AnyConnection,
    redacted: &crate::removal::Redacted,
) -> Result<(usize, usize, Vec<crate::BrokenTopic>), StoreError> {
    let heads = TOPIC_CHAIN.heads(&mut *conn).await?;
    let mut events = 0;
    let mut broken = Vec::new();
    for h in &heads {
        let (n, payloads, bad) = TOPIC_CHAIN.check(&mut *conn, h, redacted).await?;
        events += n;
        let bad = match bad {
            Some(bad) => Some(bad),
            None => text_differs(&mut *conn, h.0, &payloads)
                .await?
                .map(|why| (n as i64, why)),
        };
        if let Some((seq, reason)) = bad {
            broken.push(crate::BrokenTopic {
                topic: h.0,
                seq,
                reason,
            });
        }
    }
    Ok((heads.len(), events, broken))
}

/// Replays a question's events and compares the posts' text, the title
/// and the accepted answer with what the tables hold.
async fn text_differs(
    conn: &mut sqlx::AnyConnection,
    topic: i64,
    payloads: &[String],
) -> Result<Option<String>, StoreError> {
    let mut bodies = std::collections::BTreeMap::new();
    let mut hidden = std::collections::BTreeMap::new();
    let mut title = None;
    let mut accepted = None;
    let mut locked = false;
    let mut category = None;
    for p in payloads {
        match unjson::<TopicEvent>(p)? {
            TopicEvent::Asked {
                post,
                title: t,
                body,
                category: c,
                ..
            } => {
                title = Some(t);
                category = Some(c);
                bodies.insert(post, body);
            }
            TopicEvent::Answered { post, body } => {
                bodies.insert(post, body);
            }
            TopicEvent::Edited {
                post,
                title: t,
                body,
                ..
            } => {
                if t.is_some() {
                    title = t;
                }
                bodies.insert(post, body);
            }
            TopicEvent::Accepted { post } => accepted = Some(post),
            TopicEvent::Unaccepted { .. } => accepted = None,
            TopicEvent::Promoted { .. } => {}
            TopicEvent::Hidden { post, reason } => {
                hidden.insert(post, reason);
            }
            TopicEvent::Unhidden { post } => {
                hidden.remove(&post);
            }
            TopicEvent::Locked => locked = true,
            TopicEvent::Unlocked => locked = false,
            TopicEvent::Moved { to, .. } => category = Some(to),
        }
    }
    let row = sqlx::query(
        "SELECT t.title, t.accepted_post_id, t.locked, c.slug FROM community_topics t \
         JOIN community_categories c ON c.id = t.category_id WHERE t.id = $1",
    )
    .bind(topic)
    .fetch_one(&mut *conn)
    .await?;
    if title.as_deref() != Some(row.try_get::<String, _>("title")?.as_str()) {
        return Ok(Some("its title is not the one its chain recorded".into()));
    }
    if accepted != row.try_get::<Option<i64>, _>("accepted_post_id")? {
        return Ok(Some(
            "its accepted answer is not the one its chain recorded".into(),
        ));
    }
    if locked != (row.try_get::<i64, _>("locked")? != 0) {
        return Ok(Some("it is not locked as its chain recorded".into()));
    }
    if category.as_deref() != Some(row.try_get::<String, _>("slug")?.as_str()) {
        return Ok(Some("it is not in the category its chain recorded".into()));
    }
    let posts = sqlx::query(
        "SELECT id, body, hidden_reason FROM community_posts WHERE topic_id = $1 ORDER BY id",
    )
    .bind(topic)
    .fetch_all(&mut *conn)
    .await?;
    if posts.len() != bodies.len() {
        return Ok(Some(format!(
            "it holds {} post(s) but its chain recorded {}",
            posts.len(),
            bodies.len()
        )));
    }
    for p in &posts {
        let id: i64 = p.try_get("id")?;
        if bodies.get(&id).map(String::as_str) != Some(p.try_get::<String, _>("body")?.as_str()) {
            return Ok(Some(format!(
                "post {id}'s text is not the text its chain recorded"
            )));
        }
        if hidden.get(&id) != p.try_get::<Option<String>, _>("hidden_reason")?.as_ref() {
            return Ok(Some(format!(
                "post {id} is not hidden as its chain recorded"
            )));
        }
    }
    Ok(None)
}
