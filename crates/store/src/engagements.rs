//! Engagements: starting one, running a command in one transaction (lock,
//! check the version, decide, append to the chain, save), and the derived
//! indexes lists read.

use sqlx::Row;
use waymark_core::{Actor, AgencyId, DomainError, Engagement, EngagementId, Mode, Timestamp};

use crate::*;

impl Store {
    /// Starts an engagement for `agency` on the pinned model `model_hash`.
    pub async fn start_engagement(
        &self,
        actor: &Actor,
        agency: AgencyId,
        mode: Mode,
        model_hash: &str,
        now: Timestamp,
    ) -> Result<Engagement, StoreError> {
        let model = self.model(model_hash).await?;
        let mut events = waymark_core::start(&model, model_hash, agency, actor, mode)?;
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let result: Result<Engagement, StoreError> = async {
            // The journey starts tailored for the agency's type, if known.
            let kind = crate::assessments::agency_type(&mut tx, agency).await?;
            let blank = Engagement::new(EngagementId(0), agency);
            events.extend(waymark_core::assessment::tailor(
                &blank,
                &model,
                kind,
                "the agency's type when the engagement started",
            ));
            let row = sqlx::query(
                "INSERT INTO engagements (agency_id, model_hash, state, version, event_count, head_hash, created_at, updated_at) \
                 VALUES ($1, $2, '{}', 0, 0, '', $3, $3) RETURNING id",
            )
            .bind(agency.0)
            .bind(model_hash)
            .bind(now.0)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| StoreError::foreign(e, "agency", &agency.to_string()))?;
            let id = EngagementId(row.try_get(0)?);
            let mut e = Engagement::new(id, agency);
            let head =
                chain::append(&mut tx, &mut e, &events, actor.person, now, "start", 0, "").await?;
            e.version = 1;
            sqlx::query("UPDATE engagements SET state = $1, summary = $2, version = 1, event_count = $3, head_hash = $4 WHERE id = $5")
                .bind(json(&e)?)
                .bind(json(&e.summary())?)
                .bind(head.0)
                .bind(&head.1)
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
            save_index(&mut tx, &e).await?;
            search::index_engagement(&mut tx, &e).await?;
            sqlx::query(
                "INSERT INTO agency_engagements (agency_id, n) VALUES ($1, 1) \
                 ON CONFLICT (agency_id) DO UPDATE SET n = agency_engagements.n + 1",
            )
            .bind(agency.0)
            .execute(&mut *tx)
            .await?;
    Ok(e)
        }
        .await;
        finish(tx, result).await
    }

    /// Recounts every agency's engagements and every stage's active ones
    /// (after rows went in directly).
    pub(crate) async fn recount(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for sql in [
            "DELETE FROM agency_engagements",
            "INSERT INTO agency_engagements (agency_id, n) SELECT agency_id, COUNT(*) FROM engagements GROUP BY agency_id",
            "DELETE FROM stage_active",
            "INSERT INTO stage_active (stage, n) SELECT stage, COUNT(*) FROM engagement_stages WHERE status = 'active' GROUP BY stage",
            // A question whose own post is hidden is hidden as a whole.
            "UPDATE community_topics SET hidden = CASE WHEN EXISTS (SELECT 1 FROM community_posts x \
             WHERE x.topic_id = community_topics.id AND x.is_question = 1 AND x.hidden_reason IS NOT NULL) THEN 1 ELSE 0 END",
        ] {
            sqlx::query(sql).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// An engagement, if `actor` may see it.
    pub async fn engagement(
        &self,
        actor: &Actor,
        id: EngagementId,
    ) -> Result<Engagement, StoreError> {
        let row = sqlx::query("SELECT state FROM engagements WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::Domain(DomainError::NotFound))?;
        let e: Engagement = unjson(&row.try_get::<String, _>(0)?)?;
        if actor.access(&e) == waymark_core::Access::None {
            return Err(StoreError::Domain(DomainError::NotFound));
        }
        Ok(e)
    }

    /// Rebuilds the derived indexes (summary, assignments) of every
    /// engagement that has none: after the migration that added them, and
    /// after an import.
    pub async fn refresh_derived(&self) -> Result<(), StoreError> {
        loop {
            let rows = sqlx::query("SELECT state FROM engagements WHERE summary = '' LIMIT 500")
                .fetch_all(&self.pool)
                .await?;
            if rows.is_empty() {
                return Ok(());
            }
            let mut tx = self.pool.begin().await?;
            for r in &rows {
                let e: Engagement = unjson(&r.try_get::<String, _>(0)?)?;
                sqlx::query("UPDATE engagements SET summary = $1 WHERE id = $2")
                    .bind(json(&e.summary())?)
                    .bind(e.id.0)
                    .execute(&mut *tx)
                    .await?;
                save_index(&mut tx, &e).await?;
            }
            tx.commit().await?;
        }
    }

    /// Runs one command: the whole change commits, or none of it does. A
    /// caller that saw an older `expected_version` gets a conflict.
    pub async fn execute(
        &self,
        actor: &Actor,
        id: EngagementId,
        expected_version: u64,
        cmd: &waymark_core::Command,
        now: Timestamp,
    ) -> Result<Engagement, StoreError> {
        self.transact(
            actor,
            id,
            expected_version,
            Write::Command(cmd.clone(), Extra::Nothing),
            now,
        )
        .await
    }

    /// `execute`, plus rows written in the same transaction: a file whose
    /// id the command names, or the letter whose issue the command records.
    pub(crate) async fn transact(
        &self,
        actor: &Actor,
        id: EngagementId,
        expected_version: u64,
        write: Write,
        now: Timestamp,
    ) -> Result<Engagement, StoreError> {
        // The pinned model, before the transaction: loading it may need a
        // pooled connection, and a transaction holding the write lock while
        // waiting for one can starve every other writer (a deadlock until
        // the timeouts fire). An engagement's model never changes.
        // Remembered per engagement once read: it is fixed at the start.
        let known = self.pinned.lock().ok().and_then(|m| m.get(&id).cloned());
        let hash = match known {
            Some(h) => h,
            None => {
                let h: String = sqlx::query("SELECT model_hash FROM engagements WHERE id = $1")
                    .bind(id.0)
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or(StoreError::Domain(DomainError::NotFound))?
                    .try_get(0)?;
                if let Ok(mut m) = self.pinned.lock() {
                    m.insert(id, h.clone());
                }
                h
            }
        };
        let model = self.model(&hash).await?;
        let work = batch::Work {
            model,
            actor: actor.clone(),
            id,
            expected_version,
            write,
            now,
        };
        match self.backend {
            // One writer at a time: commands queued behind it share one
            // transaction and one fsync (see `batch`).
            Backend::Sqlite => batch::submit(self, work).await,
            Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                let e = self.apply(&mut tx, work).await?;
                tx.commit().await?;
                Ok(e)
            }
        }
    }

    /// Runs one command inside `tx`: everything `transact` promises but the
    /// commit. On SQLite `tx` may be a savepoint inside a batch.
    pub(crate) async fn apply(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        work: batch::Work,
    ) -> Result<Engagement, StoreError> {
        let batch::Work {
            model,
            actor,
            id,
            expected_version,
            write,
            now,
        } = work;
        let actor = &actor;
        // On PostgreSQL a no-op write takes the row's lock first, so
        // concurrent commands on one engagement queue instead of racing. On
        // SQLite this process's writers already take turns (`batch`), and
        // the guarded update below refuses anything another process changed.
        if self.backend == Backend::Postgres {
            let locked = sqlx::query("UPDATE engagements SET version = version WHERE id = $1")
                .bind(id.0)
                .execute(&mut **tx)
                .await?;
            if locked.rows_affected() == 0 {
                return Err(StoreError::Domain(DomainError::NotFound));
            }
        }
        let row = sqlx::query(
            "SELECT state, version, event_count, head_hash FROM engagements WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::Domain(DomainError::NotFound))?;
        let mut e: Engagement = unjson(&row.try_get::<String, _>("state")?)?;
        let version: i64 = row.try_get("version")?;
        let count: i64 = row.try_get("event_count")?;
        let head: String = row.try_get("head_hash")?;
        if actor.access(&e) == waymark_core::Access::None {
            return Err(StoreError::Domain(DomainError::NotFound));
        }
        // A form from an older page: refused only if what it is about
        // changed since (the core's `conflicts`); otherwise it is decided
        // again, below, against the current state.
        if version as u64 != expected_version {
            let conflict = DomainError::Conflict {
                expected: expected_version,
                actual: version as u64,
            };
            let cmd = match &write {
                Write::Command(cmd, _) => Some(cmd),
                Write::Upload(_) => None,
            };
            let stale = expected_version > version as u64
                || match cmd {
                    Some(cmd) => {
                        let since = events_since(tx, id, expected_version).await?;
                        since.is_none_or(|since| waymark_core::conflicts(cmd, &since))
                    }
                    // An upload only adds a document.
                    None => false,
                };
            if stale {
                return Err(StoreError::Domain(conflict));
            }
        }
        let (cmd, extra) = match write {
            // Letters and files are recorded only with their bytes, which
            // this store keeps beside the event; a bare command would name
            // bytes that do not exist.
            Write::Command(
                waymark_core::Command::IssueLetter { .. }
                | waymark_core::Command::AttachDocument { .. },
                Extra::Nothing | Extra::Notify(_),
            ) => {
                return Err(StoreError::Domain(DomainError::rule(
                    "letters are issued from the letter's page and files are uploaded, so that their bytes are kept with the record",
                )));
            }
            Write::Command(cmd, extra) => (cmd, extra),
            Write::Upload(f) => {
                let cmd = records::attach_command(
                    tx,
                    self.files_dir.as_deref().map(|p| p.as_path()),
                    &f,
                    id,
                    actor.person,
                    now,
                )
                .await?;
                (cmd, Extra::Kept)
            }
        };
        // An accepted lesson becomes a knowledge-article draft in this same
        // transaction: judged first with a stand-in, written, then recorded
        // with the draft's id (a refusal rolls both back).
        let cmd = match cmd {
            waymark_core::Command::AcceptLesson {
                id: lesson,
                post_in,
                ..
            } => {
                let probe = waymark_core::Command::AcceptLesson {
                    id: lesson,
                    post_in: post_in.clone(),
                    article: Some(0),
                    question: None,
                };
                waymark_core::decide(&model, &e, actor, &[], &probe)?;
                match post_in {
                    // Or a question in the community, in the category named.
                    Some(category) => {
                        let slug = category.required("post_in")?.into_string();
                        let c = self
                            .may_ask_in(actor, &slug)
                            .await
                            .map_err(|err| match err {
                                StoreError::Domain(DomainError::NotFound) => {
                                    StoreError::Domain(DomainError::invalid(
                                        "post_in",
                                        format!("there is no community category “{slug}”"),
                                    ))
                                }
                                other => other,
                            })?;
                        let question =
                            accepted_lesson_post(tx, &model, &e, lesson, &c, actor, now).await?;
                        waymark_core::Command::AcceptLesson {
                            id: lesson,
                            post_in: Some(category),
                            article: None,
                            question: Some(question),
                        }
                    }
                    None => {
                        let article =
                            accepted_lesson_draft(tx, &model, &e, lesson, actor, now).await?;
                        waymark_core::Command::AcceptLesson {
                            id: lesson,
                            post_in: None,
                            article: Some(article),
                            question: None,
                        }
                    }
                }
            }
            other => other,
        };
        let cmd = &cmd;
        // The people the command names, as the directory holds them now,
        // read inside the transaction: the core checks each is in scope.
        let people = match cmd {
            // A comment may mention anyone who takes part.
            waymark_core::Command::Comment { .. } | waymark_core::Command::EditComment { .. } => {
                crate::discussion::participants_in(tx, &e).await?
            }
            _ => people_in(tx, &cmd.people()).await?,
        };
        let mut events = waymark_core::decide(&model, &e, actor, &people, cmd)?;
        // Entering Deploy records the blueprint release current then.
        if events.iter().any(
            |ev| matches!(ev, Event::StageEntered { stage, .. } if stage == waymark_core::DEPLOY),
        ) {
            let current = crate::knowledge::newest_release(tx).await?;
            events.extend(waymark_core::knowledge::blueprint_entering(
                &events,
                current.as_deref(),
            ));
        }
        if let Extra::Letter(l) = &extra {
            records::save_letter(tx, l, id, &events, actor.person, now).await?;
        }
        let index_before = (e.assigned.clone(), e.stages.clone(), lesson_marks(&e));
        let text_before = waymark_core::search::engagement_text(&e);
        let at = Head {
            version,
            count,
            head,
        };
        if !append_and_save(tx, &mut e, &events, actor.person, now, cmd.name(), at).await? {
            return Err(StoreError::Domain(DomainError::Conflict {
                expected: expected_version,
                actual: expected_version + 1,
            }));
        }
        crate::discussion::leave_mentions(tx, &e, &events, actor.person, now).await?;
        // Lessons are only ever added here (a migration re-tags them, and
        // writes the whole index itself).
        if (&e.assigned, &e.stages, lesson_marks(&e))
            != (&index_before.0, &index_before.1, index_before.2)
        {
            save_index(tx, &e).await?;
        }
        if waymark_core::search::engagement_text(&e) != text_before {
            search::index_engagement(tx, &e).await?;
        }
        if let Extra::Notify(notify) = &extra {
            for m in notify(&e) {
                outbox::queue(tx, &m, now).await?;
            }
        }
        Ok(e)
    }

    /// The engagement's history, oldest first, if `actor` may see it (a
    /// hidden comment's words only if they may read them; the hashes are
    /// those of what was recorded).
    pub async fn history(
        &self,
        actor: &Actor,
        id: EngagementId,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let e = self.engagement(actor, id).await?;
        let mut events = chain::events(&self.pool, id).await?;
        for ev in &mut events {
            // Left out, its hash goes too: a short hidden reason could
            // otherwise be guessed against it.
            if waymark_core::discussion::as_read(&mut ev.event, &e, actor) {
                ev.hash.clear();
            }
        }
        Ok(events)
    }

    /// Recomputes every engagement's chain.
    pub async fn verify(&self) -> Result<Verification, StoreError> {
        chain::verify(self).await
    }
}

/// Where an engagement's row stood when it was read in this transaction.
pub(crate) struct Head {
    pub version: i64,
    pub count: i64,
    pub head: String,
}

impl Head {
    pub(crate) fn of(row: &sqlx::any::AnyRow) -> Result<Head, StoreError> {
        Ok(Head {
            version: row.try_get("version")?,
            count: row.try_get("event_count")?,
            head: row.try_get("head_hash")?,
        })
    }
}

/// Appends `events` to `e`'s chain (applying them) and saves its row, state,
/// summary and model version, guarded by the version it was read at: the
/// one way an engagement's events are written. `false` when another writer
/// changed the row first.
pub(crate) async fn append_and_save(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    e: &mut Engagement,
    events: &[waymark_core::Event],
    actor: waymark_core::PersonId,
    now: Timestamp,
    command: &str,
    at: Head,
) -> Result<bool, StoreError> {
    e.version = at.version as u64 + 1;
    let (count, head) =
        chain::append(tx, e, events, actor, now, command, at.count, &at.head).await?;
    let saved = sqlx::query(
        "UPDATE engagements SET state = $1, summary = $2, version = $3, event_count = $4, head_hash = $5, \
         updated_at = $6, model_hash = $7 WHERE id = $8 AND version = $9",
    )
    .bind(json(&e)?)
    .bind(json(&e.summary())?)
    .bind(e.version as i64)
    .bind(count)
    .bind(&head)
    .bind(now.0)
    .bind(&e.model_hash)
    .bind(e.id.0)
    .bind(at.version)
    .execute(&mut **tx)
    .await?;
    Ok(saved.rows_affected() == 1)
}

/// Lesson `lesson` of `e`, or the field error that says there is none.
fn lesson_of(e: &Engagement, lesson: u32) -> Result<&waymark_core::lesson::Lesson, StoreError> {
    e.lessons.iter().find(|l| l.id == lesson).ok_or_else(|| {
        StoreError::Domain(DomainError::invalid(
            "id",
            format!("there is no lesson {lesson}"),
        ))
    })
}

/// Writes lesson `lesson` of `e` as a knowledge-article draft owned by
/// `actor` (the programme member accepting it), checked as every article
/// is; returns its id.
async fn accepted_lesson_draft(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    model: &waymark_model::Model,
    e: &Engagement,
    lesson: u32,
    actor: &waymark_core::Actor,
    now: Timestamp,
) -> Result<i64, StoreError> {
    let l = lesson_of(e, lesson)?;
    // Its own address, or the first free one after it (an article someone
    // wrote may already hold it).
    let base = format!("lesson-{}-{}", e.id.0, l.id);
    let mut slug = base.clone();
    for n in 2.. {
        let taken: Option<i64> = sqlx::query_scalar("SELECT id FROM articles WHERE slug = $1")
            .bind(&slug)
            .fetch_optional(&mut **tx)
            .await?;
        if taken.is_none() {
            break;
        }
        slug = format!("{base}-{n}");
    }
    let today = waymark_core::today(now);
    let input = waymark_core::lesson::draft(model, l, &slug, &today);
    let article = waymark_core::knowledge::check(&input, model, &today)
        .map_err(|mut p| StoreError::Domain(p.remove(0)))?;
    crate::knowledge::insert_article(
        tx,
        &article.slug,
        waymark_core::knowledge::ArticleStatus::Draft,
        &article,
        actor.person,
        now,
    )
    .await
}

/// Writes lesson `lesson` of `e` as a question in community category `c`,
/// asked by `actor` (the programme member accepting it), checked as every
/// question is; returns its id.
async fn accepted_lesson_post(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    model: &waymark_model::Model,
    e: &Engagement,
    lesson: u32,
    c: &waymark_core::community::Category,
    actor: &waymark_core::Actor,
    now: Timestamp,
) -> Result<i64, StoreError> {
    let l = lesson_of(e, lesson)?;
    let (title, body, tag) = waymark_core::lesson::post(model, l);
    let q = waymark_core::community::Question::parse(&title, &body, &tag, model)
        .map_err(|mut p| StoreError::Domain(p.remove(0)))?;
    crate::community::ask_in(tx, c, actor, &q, now).await
}

/// Where a lesson stands, as its row says it: (state, target).
fn lesson_state(l: &waymark_core::lesson::Lesson) -> (&'static str, &'static str) {
    use waymark_core::lesson::{Answer, ProposedFor};
    match &l.proposal {
        None => ("", ""),
        Some(p) => (
            match p.answer {
                None => "proposed",
                Some(Answer::Accepted { .. }) => "accepted",
                Some(Answer::Posted { .. }) => "posted",
                Some(Answer::Declined { .. }) => "declined",
            },
            match p.target {
                ProposedFor::Blueprint => "blueprint",
                ProposedFor::Guidance => "guidance",
            },
        ),
    }
}

/// What changes a lesson's row: how many there are, proposed, answered.
pub(crate) fn lesson_marks(e: &Engagement) -> (usize, usize, usize) {
    let proposed = e.lessons.iter().filter(|l| l.proposal.is_some());
    (
        e.lessons.len(),
        proposed.clone().count(),
        proposed
            .filter(|l| l.proposal.as_ref().is_some_and(|p| p.answer.is_some()))
            .count(),
    )
}

/// The engagement's lessons as rows: only those that changed since the
/// last command are written (lessons are never removed; a migration
/// re-tags them, and a proposal or an answer changes one's state).
async fn save_lessons(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    e: &Engagement,
) -> Result<(), StoreError> {
    if e.lessons.is_empty() {
        return Ok(());
    }
    type Kept = (i64, String, Option<i64>, String, String);
    let kept: Vec<Kept> =
        sqlx::query("SELECT id, stage, step, state, target FROM lessons WHERE engagement_id = $1")
            .bind(e.id.0)
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|r| {
                Ok((
                    r.try_get(0)?,
                    r.try_get(1)?,
                    r.try_get(2)?,
                    r.try_get(3)?,
                    r.try_get(4)?,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()?;
    for l in &e.lessons {
        let (state, target) = lesson_state(l);
        let row: Kept = (
            i64::from(l.id),
            l.stage.clone(),
            l.step.map(i64::from),
            state.to_string(),
            target.to_string(),
        );
        if kept.contains(&row) {
            continue;
        }
        sqlx::query("DELETE FROM lessons WHERE engagement_id = $1 AND id = $2")
            .bind(e.id.0)
            .bind(row.0)
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "INSERT INTO lessons (engagement_id, id, kind, stage, step, text, at, state, target) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(e.id.0)
        .bind(row.0)
        .bind(l.kind.slug())
        .bind(&l.stage)
        .bind(row.2)
        .bind(&l.text)
        .bind(l.at.0)
        .bind(state)
        .bind(target)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Keeps the assignments, per-stage indexes and lessons equal to the engagement's
/// state, and each stage's count of active engagements with them.
pub(crate) async fn save_index(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    e: &Engagement,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM assignments WHERE engagement_id = $1")
        .bind(e.id.0)
        .execute(&mut **tx)
        .await?;
    save_lessons(tx, e).await?;
    let mut was_active = Vec::new();
    for row in sqlx::query(
        "DELETE FROM engagement_stages WHERE engagement_id = $1 RETURNING stage, status",
    )
    .bind(e.id.0)
    .fetch_all(&mut **tx)
    .await?
    {
        if row.try_get::<String, _>("status")? == "active" {
            was_active.push(row.try_get::<String, _>("stage")?);
        }
    }
    let now_active = e
        .stages
        .iter()
        .filter(|s| s.status == waymark_core::StageStatus::Active)
        .map(|s| s.stage.as_str());
    // Counters change in stage order, so two writers never wait on each
    // other's rows in opposite orders.
    let mut delta: std::collections::BTreeMap<&str, i64> = std::collections::BTreeMap::new();
    for s in &was_active {
        *delta.entry(s.as_str()).or_default() -= 1;
    }
    for s in now_active {
        *delta.entry(s).or_default() += 1;
    }
    for (stage, d) in delta.into_iter().filter(|(_, d)| *d != 0) {
        sqlx::query(
            "INSERT INTO stage_active (stage, n) VALUES ($1, $2) \
             ON CONFLICT (stage) DO UPDATE SET n = stage_active.n + excluded.n",
        )
        .bind(stage)
        .bind(d)
        .execute(&mut **tx)
        .await?;
    }
    for a in &e.assigned {
        sqlx::query("INSERT INTO assignments (engagement_id, person_id) VALUES ($1, $2)")
            .bind(e.id.0)
            .bind(a.person.0)
            .execute(&mut **tx)
            .await?;
    }
    for s in &e.stages {
        sqlx::query(
            "INSERT INTO engagement_stages (engagement_id, stage, status, cycles, started_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(e.id.0)
        .bind(&s.stage)
        .bind(status_name(s.status))
        .bind(i64::from(s.cycles))
        .bind(s.started_at.map(|t| t.0))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// A stage status as the per-stage index stores it.
pub(crate) fn status_name(s: waymark_core::StageStatus) -> &'static str {
    match s {
        waymark_core::StageStatus::NotStarted => "not_started",
        waymark_core::StageStatus::Active => "active",
        waymark_core::StageStatus::Completed => "completed",
        waymark_core::StageStatus::Exited => "exited",
    }
}

/// The events written to `id` after version `after`, or `None` when some
/// were written before versions were recorded (they cannot be placed).
async fn events_since(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: EngagementId,
    after: u64,
) -> Result<Option<Vec<waymark_core::Event>>, StoreError> {
    let rows = sqlx::query(
        "SELECT payload, version FROM events WHERE engagement_id = $1 AND seq > \
         (SELECT COALESCE(MAX(seq), 0) FROM events WHERE engagement_id = $2 AND version <= $3) ORDER BY seq",
    )
    .bind(id.0)
    .bind(id.0)
    .bind(after as i64)
    .fetch_all(&mut **tx)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        if r.try_get::<Option<i64>, _>("version")?.is_none() {
            return Ok(None);
        }
        out.push(unjson(&r.try_get::<String, _>("payload")?)?);
    }
    Ok(Some(out))
}
