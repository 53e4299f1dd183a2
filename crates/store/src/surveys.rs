//! Surveys: their definitions and their own hash chains (`survey_events`,
//! [`SURVEY_CHAIN`]), invitations with single-use tokens queued in the
//! outbox, and responses.
//!
//! Anonymity is kept here, by what is never written: an anonymous
//! response's row holds its survey, its day and its answers. Its token is
//! marked used in the same transaction, but an anonymous survey's tokens
//! name no one (`survey_tokens`, apart from `survey_invitations`, which
//! says only who was invited), the outbox forgets each token once its
//! message is sent, and nothing in any chain or log says a response came.
//! A named survey's token and response keep their person.

use sqlx::Row;
use waymark_core::survey::{self, Answer, Audience, Definition, Phase, Results, SurveyEvent};
use waymark_core::{Actor, AgencyId, DomainError, EngagementId, Person, PersonId, today};

use crate::chain::SideChain;
use crate::*;

/// Each survey's chain: created, changed, sent, closed.
pub(crate) const SURVEY_CHAIN: SideChain = SideChain {
    events: "survey_events",
    heads: "surveys",
    key: "survey_id",
};

/// The most surveys a list shows.
pub const SURVEYS_MAX: i64 = 500;

/// A survey as the programme manages it, and as those who may see its
/// results see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SurveyRow {
    pub id: i64,
    pub definition: Definition,
    pub audience: Audience,
    /// An engagement survey's agency, whose members see its results.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub agency: Option<AgencyId>,
    pub phase: Phase,
    pub sent: bool,
    /// A public survey's link key, once sent (the programme only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    pub responses: i64,
    /// People invited, and how many of them answered.
    pub invited: i64,
    pub answered: i64,
    /// Bumped on every change, for optimistic concurrency.
    pub version: i64,
    pub created_at: Timestamp,
}

/// One entry of a survey's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SurveyRecord {
    pub seq: i64,
    pub at: Timestamp,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub actor: PersonId,
    pub event: SurveyEvent,
}

/// What someone answering sees: the survey's questions, and whether it
/// takes answers now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Questionnaire {
    pub survey: i64,
    pub definition: Definition,
    pub phase: Phase,
    /// The programme closed it before its close date.
    pub closed_early: bool,
    /// This invitation already took its answer.
    pub answered: bool,
}

const COLUMNS: &str = "s.id, s.definition, s.audience, s.agency_id, s.sent, s.closed_early, s.public_key, s.responses, s.version, s.created_at, \
     (SELECT COUNT(*) FROM survey_invitations i WHERE i.survey_id = s.id) AS invited, \
     (SELECT COUNT(*) FROM survey_tokens t WHERE t.survey_id = s.id AND t.used = 1) AS answered";

fn row(r: &sqlx::any::AnyRow, now: Timestamp, programme: bool) -> Result<SurveyRow, StoreError> {
    let definition: Definition = unjson(&r.try_get::<String, _>("definition")?)?;
    let sent = r.try_get::<i64, _>("sent")? == 1;
    let closed_early = r.try_get::<i64, _>("closed_early")? == 1;
    Ok(SurveyRow {
        id: r.try_get("id")?,
        phase: Phase::of(sent, closed_early, &definition, &today(now)),
        definition,
        audience: unjson(&r.try_get::<String, _>("audience")?)?,
        agency: r.try_get::<Option<i64>, _>("agency_id")?.map(AgencyId),
        sent,
        public_key: r
            .try_get::<Option<String>, _>("public_key")?
            .filter(|_| programme),
        responses: r.try_get("responses")?,
        invited: r.try_get("invited")?,
        answered: r.try_get("answered")?,
        version: r.try_get("version")?,
        created_at: Timestamp(r.try_get("created_at")?),
    })
}

fn fields(problems: Vec<DomainError>) -> StoreError {
    StoreError::Fields(problems)
}

impl Store {
    /// Creates a draft survey for `audience` (the programme only); an
    /// engagement audience must name an engagement that exists.
    pub async fn create_survey(
        &self,
        actor: &Actor,
        definition: &Definition,
        audience: Audience,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        survey::may_manage(actor)?;
        let d = survey::check(definition).map_err(fields)?;
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let (engagement, agency) = match audience {
            Audience::Engagement { engagement } => {
                let agency: Option<i64> =
                    sqlx::query_scalar("SELECT agency_id FROM engagements WHERE id = $1")
                        .bind(engagement.0)
                        .fetch_optional(&mut *tx)
                        .await?;
                let agency = agency.ok_or_else(|| {
                    StoreError::Domain(DomainError::invalid(
                        "audience",
                        format!("there is no engagement {}", engagement.0),
                    ))
                })?;
                (Some(engagement.0), Some(agency))
            }
            _ => (None, None),
        };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO surveys (title, definition, audience, engagement_id, agency_id, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(&d.title)
        .bind(json(&d)?)
        .bind(json(&audience)?)
        .bind(engagement)
        .bind(agency)
        .bind(actor.person.0)
        .bind(now.0)
        .fetch_one(&mut *tx)
        .await?;
        let event = SurveyEvent::Created {
            definition: d,
            audience,
        };
        SURVEY_CHAIN
            .append(
                &mut tx,
                id,
                actor.person.0,
                now,
                event.kind(),
                &json(&event)?,
            )
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The surveys `actor` may see, newest first: every one for the
    /// programme; for an agency's members, the sent surveys of their
    /// agency's engagements.
    pub async fn surveys(
        &self,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<Vec<SurveyRow>, StoreError> {
        let programme = actor.is_programme();
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM surveys s ORDER BY s.id DESC LIMIT $1"
        ))
        .bind(SURVEYS_MAX)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            let s = row(r, now, programme)?;
            if programme || (s.sent && survey::may_see_results(actor, s.agency)) {
                out.push(s);
            }
        }
        Ok(out)
    }

    /// One survey, if `actor` may see it (as [`Store::surveys`] says).
    pub async fn survey(
        &self,
        actor: &Actor,
        id: i64,
        now: Timestamp,
    ) -> Result<SurveyRow, StoreError> {
        let programme = actor.is_programme();
        let r = sqlx::query(&format!("SELECT {COLUMNS} FROM surveys s WHERE s.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::Domain(DomainError::NotFound))?;
        let s = row(&r, now, programme)?;
        if programme || (s.sent && survey::may_see_results(actor, s.agency)) {
            Ok(s)
        } else {
            Err(StoreError::Domain(DomainError::NotFound))
        }
    }

    /// Locks survey `id` for a change by the programme and reads it.
    async fn survey_for_change(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        actor: &Actor,
        id: i64,
        now: Timestamp,
    ) -> Result<SurveyRow, StoreError> {
        survey::may_manage(actor)?;
        // A no-op write takes the row's lock on PostgreSQL.
        sqlx::query("UPDATE surveys SET version = version WHERE id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?;
        let r = sqlx::query(&format!("SELECT {COLUMNS} FROM surveys s WHERE s.id = $1"))
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(StoreError::Domain(DomainError::NotFound))?;
        row(&r, now, true)
    }

    async fn survey_changed(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        actor: &Actor,
        id: i64,
        event: &SurveyEvent,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE surveys SET version = version + 1 WHERE id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?;
        SURVEY_CHAIN
            .append(tx, id, actor.person.0, now, event.kind(), &json(event)?)
            .await?;
        Ok(())
    }

    /// Replaces a draft's definition, if the caller saw version `version`.
    pub async fn change_survey(
        &self,
        actor: &Actor,
        id: i64,
        version: i64,
        definition: &Definition,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        survey::may_manage(actor)?;
        let d = survey::check(definition).map_err(fields)?;
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        // A sent survey says so, whatever version the caller saw.
        let s = Self::survey_for_change(&mut tx, actor, id, now).await?;
        survey::may_change(s.sent)?;
        if s.version != version {
            return Err(StoreError::Domain(DomainError::Conflict {
                expected: version.max(0) as u64,
                actual: s.version as u64,
            }));
        }
        if s.definition == d {
            return Err(StoreError::Domain(DomainError::rule(
                "Nothing changed: the survey already says this.",
            )));
        }
        sqlx::query("UPDATE surveys SET title = $1, definition = $2 WHERE id = $3")
            .bind(&d.title)
            .bind(json(&d)?)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        Self::survey_changed(
            &mut tx,
            actor,
            id,
            &SurveyEvent::Changed { definition: d },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sends survey `id`: for an invited audience, an invitation with its
    /// own single-use token to each person of it not yet invited (`mail`
    /// writes the message for a person and their token); for a public
    /// survey, its link opens. A sent survey may be sent again, to those
    /// who have joined its audience since. Returns how many were invited.
    pub async fn send_survey(
        &self,
        actor: &Actor,
        id: i64,
        mail: &(dyn Fn(&Person, &Definition, &str) -> Mail + Sync),
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let s = Self::survey_for_change(&mut tx, actor, id, now).await?;
        if s.phase == Phase::Closed {
            return Err(StoreError::Domain(DomainError::rule(
                "This survey has closed: move its close date first to send it again.",
            )));
        }
        survey::ready(&s.definition, &today(now))?;
        let mut invited = 0u64;
        match s.audience {
            Audience::Public => {
                if s.sent {
                    return Err(StoreError::Domain(DomainError::rule(
                        "This survey's public link is already open.",
                    )));
                }
                sqlx::query("UPDATE surveys SET public_key = $1 WHERE id = $2")
                    .bind(&random_token()?[..32])
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            audience => {
                let people = match audience {
                    Audience::Engagement { engagement } => {
                        let e = self.engagement_in(&mut tx, engagement).await?;
                        let people = crate::discussion::participants_in(&mut tx, &e).await?;
                        survey::invitees(&audience, Some(&e), &people)
                            .into_iter()
                            .cloned()
                            .collect::<Vec<_>>()
                    }
                    _ => {
                        let people = crate::directory::active_people(&mut tx).await?;
                        survey::invitees(&audience, None, &people)
                            .into_iter()
                            .cloned()
                            .collect()
                    }
                };
                let already: std::collections::HashSet<i64> = sqlx::query_scalar(
                    "SELECT person_id FROM survey_invitations WHERE survey_id = $1",
                )
                .bind(id)
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .collect();
                let mut tokens = Vec::new();
                for p in people.iter().filter(|p| !already.contains(&p.id.0)) {
                    let token = random_token()?;
                    let mut m = mail(p, &s.definition, &token);
                    m.secret = Some(token.clone());
                    let outbox = crate::outbox::queue(&mut tx, &m, now).await?;
                    sqlx::query(
                        "INSERT INTO survey_invitations (survey_id, person_id, outbox_id) VALUES ($1, $2, $3)",
                    )
                    .bind(id)
                    .bind(p.id.0)
                    .bind(outbox)
                    .execute(&mut *tx)
                    .await?;
                    // An anonymous survey's token names no one.
                    let person = (!s.definition.anonymous).then_some(p.id.0);
                    tokens.push((crate::chain::sha256(&token), person));
                    invited += 1;
                }
                // In the order of their hashes, not of the invitations: the
                // order they are written in says nothing of whose each is.
                tokens.sort_unstable();
                for (hash, person) in tokens {
                    sqlx::query(
                        "INSERT INTO survey_tokens (token_hash, survey_id, person_id) VALUES ($1, $2, $3)",
                    )
                    .bind(hash)
                    .bind(id)
                    .bind(person)
                    .execute(&mut *tx)
                    .await?;
                }
                if s.sent && invited == 0 {
                    return Err(StoreError::Domain(DomainError::rule(
                        "Everyone in this survey's audience has been invited already.",
                    )));
                }
            }
        }
        sqlx::query("UPDATE surveys SET sent = 1 WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        Self::survey_changed(&mut tx, actor, id, &SurveyEvent::Sent { invited }, now).await?;
        tx.commit().await?;
        Ok(invited)
    }

    async fn engagement_in(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        id: EngagementId,
    ) -> Result<waymark_core::Engagement, StoreError> {
        let state: String = sqlx::query_scalar("SELECT state FROM engagements WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(StoreError::Domain(DomainError::NotFound))?;
        unjson(&state)
    }

    /// Moves a sent survey's close date (to today or later), or, with
    /// `None`, closes it now.
    pub async fn close_survey(
        &self,
        actor: &Actor,
        id: i64,
        closes_on: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let s = Self::survey_for_change(&mut tx, actor, id, now).await?;
        if !s.sent {
            return Err(StoreError::Domain(DomainError::rule(
                "This survey has not been sent: change its dates in the draft instead.",
            )));
        }
        let event = match closes_on {
            Some(raw) => {
                survey::may_reopen(&s.definition, s.phase)?;
                let closes = survey::check_close(&s.definition, raw, &today(now))?;
                let mut d = s.definition.clone();
                d.closes_on = closes.clone();
                sqlx::query("UPDATE surveys SET definition = $1, closed_early = 0 WHERE id = $2")
                    .bind(json(&d)?)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                SurveyEvent::CloseMoved { closes_on: closes }
            }
            None => {
                if s.phase == Phase::Closed {
                    return Err(StoreError::Domain(DomainError::rule(
                        "This survey is already closed.",
                    )));
                }
                sqlx::query("UPDATE surveys SET closed_early = 1 WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                SurveyEvent::ClosedEarly
            }
        };
        Self::survey_changed(&mut tx, actor, id, &event, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A survey's history, oldest first (the programme only).
    pub async fn survey_history(
        &self,
        actor: &Actor,
        id: i64,
    ) -> Result<Vec<SurveyRecord>, StoreError> {
        survey::may_manage(actor)?;
        sqlx::query(
            "SELECT seq, at, actor_id, payload FROM survey_events WHERE survey_id = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(SurveyRecord {
                seq: r.try_get("seq")?,
                at: Timestamp(r.try_get("at")?),
                actor: PersonId(r.try_get("actor_id")?),
                event: unjson(&r.try_get::<String, _>("payload")?)?,
            })
        })
        .collect()
    }

    /// What an invitation's token opens: its survey's questions. A token
    /// that is no invitation is "not found".
    pub async fn invitation(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<Questionnaire, StoreError> {
        let r = sqlx::query(
            "SELECT s.id, s.definition, s.sent, s.closed_early, t.used FROM survey_tokens t \
             JOIN surveys s ON s.id = t.survey_id WHERE t.token_hash = $1",
        )
        .bind(crate::chain::sha256(token))
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::Domain(DomainError::NotFound))?;
        questionnaire(&r, now, r.try_get::<i64, _>("used")? == 1)
    }

    /// What a public link opens.
    pub async fn public_survey(
        &self,
        key: &str,
        now: Timestamp,
    ) -> Result<Questionnaire, StoreError> {
        let r = sqlx::query(
            "SELECT s.id, s.definition, s.sent, s.closed_early FROM surveys s WHERE s.public_key = $1",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::Domain(DomainError::NotFound))?;
        questionnaire(&r, now, false)
    }

    /// Keeps the answer given with an invitation's token, once: the token
    /// takes no second answer, and for an anonymous survey nothing kept
    /// links the answer to the token or its person.
    pub async fn answer_invitation(
        &self,
        token: &str,
        given: &[Vec<String>],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let hash = crate::chain::sha256(token);
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let r = sqlx::query(
            "SELECT s.id, s.definition, s.sent, s.closed_early, t.used, t.person_id FROM survey_tokens t \
             JOIN surveys s ON s.id = t.survey_id WHERE t.token_hash = $1",
        )
        .bind(&hash)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::Domain(DomainError::NotFound))?;
        let q = questionnaire(&r, now, r.try_get::<i64, _>("used")? == 1)?;
        if q.answered {
            return Err(already());
        }
        survey::may_answer(q.phase, &q.definition, q.closed_early)?;
        let answers = survey::answers(&q.definition, given).map_err(fields)?;
        // The guard makes a second answer racing this one find it taken.
        let taken =
            sqlx::query("UPDATE survey_tokens SET used = 1 WHERE token_hash = $1 AND used = 0")
                .bind(&hash)
                .execute(&mut *tx)
                .await?;
        if taken.rows_affected() != 1 {
            return Err(already());
        }
        // A message not yet sent keeps its (now used) token until it goes:
        // taking it out here would mark, among the unsent, whose answer
        // this is.
        let person = if q.definition.anonymous {
            None
        } else {
            r.try_get::<Option<i64>, _>("person_id")?
        };
        keep_response(&mut tx, q.survey, &q.definition, person, &answers, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Keeps an answer given through a public link. A named survey keeps
    /// `person`, the one signed in, if any. One answer per browser session
    /// and the limit per network are the web layer's.
    pub async fn answer_public(
        &self,
        key: &str,
        person: Option<PersonId>,
        given: &[Vec<String>],
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let r = sqlx::query(
            "SELECT s.id, s.definition, s.sent, s.closed_early FROM surveys s WHERE s.public_key = $1",
        )
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::Domain(DomainError::NotFound))?;
        let q = questionnaire(&r, now, false)?;
        survey::may_answer(q.phase, &q.definition, q.closed_early)?;
        let answers = survey::answers(&q.definition, given).map_err(fields)?;
        let person = person.filter(|_| !q.definition.anonymous).map(|p| p.0);
        // A named survey takes one answer from each person signed in,
        // whatever their browser says.
        if let Some(p) = person {
            let earlier: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM survey_responses WHERE survey_id = $1 AND person_id = $2",
            )
            .bind(q.survey)
            .bind(p)
            .fetch_optional(&mut *tx)
            .await?;
            if earlier.is_some() {
                return Err(StoreError::Domain(DomainError::rule(
                    "You have already answered this survey: it takes one answer from each person.",
                )));
            }
        }
        keep_response(&mut tx, q.survey, &q.definition, person, &answers, now).await?;
        tx.commit().await?;
        Ok(q.survey)
    }

    /// A survey's results, if `actor` may see them, from the counts kept
    /// with each response; at most `texts` free-text answers a question
    /// (sorted), or all of them.
    pub async fn survey_results(
        &self,
        actor: &Actor,
        id: i64,
        texts: Option<u32>,
        now: Timestamp,
    ) -> Result<(SurveyRow, Results), StoreError> {
        let s = self.survey(actor, id, now).await?;
        let responses = u64::try_from(s.responses).unwrap_or(0);
        let withheld = survey::withheld(&s.definition, responses, actor.is_programme(), s.phase);
        if withheld.is_some() {
            let results = Results {
                responses,
                withheld,
                questions: Vec::new(),
            };
            return Ok((s, results));
        }
        let counts: Vec<(usize, i64, u64)> =
            sqlx::query("SELECT question, value, n FROM survey_counts WHERE survey_id = $1")
                .bind(id)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| {
                    Ok((
                        usize::try_from(r.try_get::<i64, _>("question")?).unwrap_or(usize::MAX),
                        r.try_get("value")?,
                        u64::try_from(r.try_get::<i64, _>("n")?).unwrap_or(0),
                    ))
                })
                .collect::<Result<_, StoreError>>()?;
        let mut words = Vec::new();
        for (i, q) in s.definition.questions.iter().enumerate() {
            if q.kind != survey::QuestionKind::Text {
                continue;
            }
            let rows: Vec<String> = sqlx::query_scalar(
                "SELECT text FROM survey_texts WHERE survey_id = $1 AND question = $2 ORDER BY text LIMIT $3",
            )
            .bind(id)
            .bind(i as i64)
            .bind(texts.map_or(i64::MAX, i64::from))
            .fetch_all(&self.pool)
            .await?;
            words.extend(rows.into_iter().map(|t| (i, t)));
        }
        let results = survey::results(&s.definition, responses, &counts, words);
        Ok((s, results))
    }
}

fn already() -> StoreError {
    StoreError::Domain(DomainError::rule(
        "This invitation has already been answered: each one takes one answer. Thank you for yours.",
    ))
}

fn questionnaire(
    r: &sqlx::any::AnyRow,
    now: Timestamp,
    answered: bool,
) -> Result<Questionnaire, StoreError> {
    let definition: Definition = unjson(&r.try_get::<String, _>("definition")?)?;
    let sent = r.try_get::<i64, _>("sent")? == 1;
    let closed_early = r.try_get::<i64, _>("closed_early")? == 1;
    let phase = Phase::of(sent, closed_early, &definition, &today(now));
    if phase == Phase::Draft {
        return Err(StoreError::Domain(DomainError::NotFound));
    }
    Ok(Questionnaire {
        survey: r.try_get("id")?,
        definition,
        phase,
        closed_early,
        answered,
    })
}

/// Writes one response: its day (never its time), its person only when
/// named, and the survey's count, in the caller's transaction.
async fn keep_response(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    survey: i64,
    d: &Definition,
    person: Option<i64>,
    answers: &[Answer],
    now: Timestamp,
) -> Result<(), StoreError> {
    // The results' counts and words move with the response.
    let marks = survey::marks(d, answers);
    for (question, value) in marks.counts {
        sqlx::query(
            "INSERT INTO survey_counts (survey_id, question, value, n) VALUES ($1, $2, $3, 1) \
             ON CONFLICT (survey_id, question, value) DO UPDATE SET n = survey_counts.n + 1",
        )
        .bind(survey)
        .bind(question as i64)
        .bind(value)
        .execute(&mut **tx)
        .await?;
    }
    for (question, text) in marks.texts {
        sqlx::query("INSERT INTO survey_texts (survey_id, question, text) VALUES ($1, $2, $3)")
            .bind(survey)
            .bind(question as i64)
            .bind(text)
            .execute(&mut **tx)
            .await?;
    }
    // Counting the response takes the survey's row (a lock on PostgreSQL;
    // SQLite writes in turn), so responses chain one after another.
    let r = sqlx::query(
        "UPDATE surveys SET responses = responses + 1 WHERE id = $1 RETURNING responses, response_head",
    )
    .bind(survey)
    .fetch_one(&mut **tx)
    .await?;
    let seq: i64 = r.try_get("responses")?;
    let prev: String = r.try_get("response_head")?;
    let day = today(now);
    let answers = json(&answers)?;
    let hash = response_link(&prev, survey, seq, &day, person, &answers);
    sqlx::query(
        "INSERT INTO survey_responses (survey_id, answered_on, person_id, answers, seq, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(survey)
    .bind(&day)
    .bind(person)
    .bind(&answers)
    .bind(seq)
    .bind(&prev)
    .bind(&hash)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE surveys SET response_head = $1 WHERE id = $2")
        .bind(&hash)
        .bind(survey)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// What survey `id`'s row says that its chain does not: the definition
/// (title, questions, anonymity, dates), the audience, whether it was sent
/// or closed early. A row changed behind the chain's back (made named, say)
/// is found.
async fn row_differs(
    conn: &mut sqlx::AnyConnection,
    id: i64,
    payloads: &[String],
) -> Result<Option<String>, StoreError> {
    let mut definition: Option<Definition> = None;
    let mut audience: Option<Audience> = None;
    let (mut sent, mut closed_early) = (false, false);
    for p in payloads {
        match unjson::<SurveyEvent>(p)? {
            SurveyEvent::Created {
                definition: d,
                audience: a,
            } => {
                definition = Some(d);
                audience = Some(a);
            }
            SurveyEvent::Changed { definition: d } => definition = Some(d),
            SurveyEvent::Sent { .. } => sent = true,
            SurveyEvent::CloseMoved { closes_on } => {
                if let Some(d) = definition.as_mut() {
                    d.closes_on = closes_on;
                }
                closed_early = false;
            }
            SurveyEvent::ClosedEarly => closed_early = true,
        }
    }
    let r = sqlx::query(
        "SELECT title, definition, audience, sent, closed_early FROM surveys WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    let kept: Option<Definition> = unjson(&r.try_get::<String, _>("definition")?).ok();
    let kept_audience: Option<Audience> = unjson(&r.try_get::<String, _>("audience")?).ok();
    let title: String = r.try_get("title")?;
    if let Some(d) = &definition
        && let Some(why) = results_differ(&mut *conn, id, d).await?
    {
        return Ok(Some(why.to_string()));
    }
    let why = if kept != definition || definition.as_ref().map(|d| &d.title) != Some(&title) {
        Some("its title, questions, anonymity or dates are not what its chain records")
    } else if kept_audience != audience {
        Some("its audience is not what its chain records")
    } else if (r.try_get::<i64, _>("sent")? == 1) != sent
        || (r.try_get::<i64, _>("closed_early")? == 1) != closed_early
    {
        Some("whether it was sent or closed is not what its chain records")
    } else {
        None
    };
    Ok(why.map(str::to_string))
}

/// A response's link in its survey's chain of responses: no time and no
/// actor, only what the row itself keeps.
fn response_link(
    prev: &str,
    survey: i64,
    seq: i64,
    day: &str,
    person: Option<i64>,
    answers: &str,
) -> String {
    let person = person.map(|p| p.to_string()).unwrap_or_default();
    crate::chain::link(
        prev,
        survey,
        seq,
        0,
        0,
        &format!("response {day} {person}"),
        answers,
    )
}

/// Whether the counts and words results read, and the count of responses,
/// are what the responses themselves give.
async fn results_differ(
    conn: &mut sqlx::AnyConnection,
    id: i64,
    d: &Definition,
) -> Result<Option<&'static str>, StoreError> {
    let rows = sqlx::query(
        "SELECT seq, answered_on, person_id, answers, prev_hash, hash FROM survey_responses WHERE survey_id = $1 ORDER BY seq",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    // The chain first: every response in its place, each linked to the one
    // before, the last the survey's head.
    let mut prev = String::new();
    let mut answers = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let a: String = r.try_get("answers")?;
        let seq: i64 = r.try_get("seq")?;
        let want = response_link(
            &prev,
            id,
            seq,
            &r.try_get::<String, _>("answered_on")?,
            r.try_get("person_id")?,
            &a,
        );
        if seq != i as i64 + 1
            || r.try_get::<String, _>("prev_hash")? != prev
            || r.try_get::<String, _>("hash")? != want
        {
            return Ok(Some("a response is missing, out of order or changed"));
        }
        prev = want;
        answers.push(a);
    }
    let head: String = sqlx::query_scalar("SELECT response_head FROM surveys WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    if head != prev {
        return Ok(Some("its last response is not the one its record holds"));
    }
    let mut counts: std::collections::BTreeMap<(i64, i64), i64> = Default::default();
    let mut texts: Vec<(i64, String)> = Vec::new();
    for a in &answers {
        let m = survey::marks(d, &unjson::<Vec<Answer>>(a)?);
        for (q, v) in m.counts {
            *counts.entry((q as i64, v)).or_default() += 1;
        }
        texts.extend(m.texts.into_iter().map(|(q, t)| (q as i64, t)));
    }
    let kept: std::collections::BTreeMap<(i64, i64), i64> =
        sqlx::query("SELECT question, value, n FROM survey_counts WHERE survey_id = $1")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| {
                Ok((
                    (r.try_get("question")?, r.try_get("value")?),
                    r.try_get("n")?,
                ))
            })
            .collect::<Result<_, StoreError>>()?;
    let mut kept_texts: Vec<(i64, String)> =
        sqlx::query("SELECT question, text FROM survey_texts WHERE survey_id = $1")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("question")?, r.try_get("text")?)))
            .collect::<Result<_, StoreError>>()?;
    texts.sort();
    kept_texts.sort();
    let responses: i64 = sqlx::query_scalar("SELECT responses FROM surveys WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(if responses != answers.len() as i64 {
        Some("its count of responses is not the responses kept")
    } else if kept != counts || kept_texts != texts {
        Some("its results' counts or words are not what its responses give")
    } else {
        None
    })
}

pub(crate) async fn verify(
    conn: &mut sqlx::AnyConnection,
    redacted: &crate::removal::Redacted,
) -> Result<(usize, usize, Vec<crate::BrokenSurvey>), StoreError> {
    let heads = SURVEY_CHAIN.heads(&mut *conn).await?;
    let mut events = 0;
    let mut broken = Vec::new();
    for h in &heads {
        let (n, payloads, bad) = SURVEY_CHAIN.check(&mut *conn, h, redacted).await?;
        events += n;
        let bad = match bad {
            Some(bad) => Some(bad),
            None => row_differs(&mut *conn, h.0, &payloads)
                .await?
                .map(|why| (n as i64, why)),
        };
        if let Some((seq, reason)) = bad {
            broken.push(crate::BrokenSurvey {
                survey: h.0,
                seq,
                reason,
            });
        }
    }
    Ok((heads.len(), events, broken))
}
