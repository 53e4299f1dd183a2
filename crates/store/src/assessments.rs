//! Agencies' self-assessments and types: each agency's own hash chain
//! (`agency_events`, [`AGENCY_CHAIN`]), the type that follows from it kept on
//! the agency row, and the `Tailored` event it brings to each of the
//! agency's engagements, all in one transaction.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::{Any, Row, Transaction};
use waymark_core::assessment::{self, AgencyEvent};
use waymark_core::{Actor, AgencyId, AgencyType, Engagement, Line, PersonId, Timestamp};
use waymark_model::Questionnaire;

use crate::chain::AGENCY_CHAIN;
use crate::engagements::{Head, append_and_save, save_index};
use crate::*;

/// One entry of an agency's profile history.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgencyRecord {
    pub seq: i64,
    /// Who recorded it (0: the system, for a type given when the agency
    /// was added).
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub actor: PersonId,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub at: Timestamp,
    pub event: AgencyEvent,
}

impl Store {
    /// Records `answers` to the current model's self-assessment for
    /// `agency`, sets the agency's type to the result and re-tailors its
    /// engagements. Incomplete answers are refused with every problem
    /// (`StoreError::Answers`), and nothing is written.
    pub async fn assess_agency(
        &self,
        actor: &Actor,
        agency: AgencyId,
        questionnaire: Option<&Questionnaire>,
        answers: &BTreeMap<String, usize>,
        now: Timestamp,
    ) -> Result<AgencyRecord, StoreError> {
        self.agency_exists(agency).await?;
        assessment::may_assess(actor, agency)?;
        let event = assessment::assess(actor, agency, questionnaire, answers)
            .map_err(StoreError::Answers)?;
        self.record_agency_event(actor.person, agency, event, now)
            .await
    }

    /// The programme sets `agency`'s type over its assessment, with a reason.
    pub async fn set_agency_type(
        &self,
        actor: &Actor,
        agency: AgencyId,
        agency_type: AgencyType,
        reason: &Line<500>,
        now: Timestamp,
    ) -> Result<AgencyRecord, StoreError> {
        self.agency_exists(agency).await?;
        let event = assessment::set_type(actor, agency_type, reason)?;
        self.record_agency_event(actor.person, agency, event, now)
            .await
    }

    /// The agency's profile history, oldest first: for the programme and
    /// the agency's own people.
    pub async fn agency_history(
        &self,
        actor: &Actor,
        agency: AgencyId,
    ) -> Result<Vec<AgencyRecord>, StoreError> {
        if !assessment::may_see_history(actor, agency) {
            return Err(StoreError::Domain(waymark_core::DomainError::NotFound));
        }
        self.agency_exists(agency).await?;
        sqlx::query(
            "SELECT seq, actor_id, at, payload FROM agency_events WHERE agency_id = $1 ORDER BY seq",
        )
        .bind(agency.0)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(AgencyRecord {
                seq: r.try_get("seq")?,
                actor: PersonId(r.try_get("actor_id")?),
                at: Timestamp(r.try_get("at")?),
                event: unjson(&r.try_get::<String, _>("payload")?)?,
            })
        })
        .collect()
    }

    async fn agency_exists(&self, agency: AgencyId) -> Result<(), StoreError> {
        match self.agency(agency).await? {
            Some(_) => Ok(()),
            None => Err(StoreError::Missing {
                what: "agency",
                value: agency.to_string(),
            }),
        }
    }

    async fn record_agency_event(
        &self,
        actor: PersonId,
        agency: AgencyId,
        event: AgencyEvent,
        now: Timestamp,
    ) -> Result<AgencyRecord, StoreError> {
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let result = async {
            // The agency's engagements first, in id order, then the agency:
            // the order a command on one of them takes (its row, then the
            // agency's under a share lock as it keeps the portfolio's counts),
            // so the two never wait on each other in a circle.
            if self.backend == Backend::Postgres {
                sqlx::query(
                    "SELECT id FROM engagements WHERE agency_id = $1 ORDER BY id FOR UPDATE",
                )
                .bind(agency.0)
                .fetch_all(&mut *tx)
                .await?;
            }
            let seq = append(&mut tx, agency, actor.0, &event, now).await?;
            retailor(self, &mut tx, agency, &event, actor, now).await?;
            Ok(AgencyRecord {
                seq,
                actor,
                at: now,
                event,
            })
        }
        .await;
        finish(tx, result).await
    }
}

/// Appends `event` to the agency's chain and keeps its type with it;
/// returns the event's sequence number.
pub(crate) async fn append(
    tx: &mut Transaction<'_, Any>,
    agency: AgencyId,
    actor: i64,
    event: &AgencyEvent,
    now: Timestamp,
) -> Result<i64, StoreError> {
    // The first update takes the agency row's lock on PostgreSQL, so two
    // assessments of one agency queue rather than fork its chain.
    // The type before, read under the row's lock (taken by a write that
    // changes nothing), so two changes at once move the counts in turn.
    sqlx::query("UPDATE agencies SET agency_type = agency_type WHERE id = $1")
        .bind(agency.0)
        .execute(&mut **tx)
        .await?;
    let before = agency_type(tx, agency).await?;
    sqlx::query("UPDATE agencies SET agency_type = $1 WHERE id = $2")
        .bind(json(&event.agency_type())?)
        .bind(agency.0)
        .execute(&mut **tx)
        .await?;
    // The portfolio's counts by type follow the agency.
    crate::portfolio::regroup(tx, agency, before).await?;
    AGENCY_CHAIN
        .append(tx, agency.0, actor, now, event.name(), &json(event)?)
        .await?;
    let seq: i64 = sqlx::query("SELECT event_count FROM agencies WHERE id = $1")
        .bind(agency.0)
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?;
    Ok(seq)
}

/// Tailors each of the agency's engagements for the type `event` gives,
/// one audited event each where the type changes.
async fn retailor(
    store: &Store,
    tx: &mut Transaction<'_, Any>,
    agency: AgencyId,
    event: &AgencyEvent,
    actor: PersonId,
    now: Timestamp,
) -> Result<(), StoreError> {
    // (Their rows are locked already: `record_agency_event`.)
    let rows = sqlx::query(
        "SELECT state, version, event_count, head_hash FROM engagements WHERE agency_id = $1 ORDER BY id",
    )
    .bind(agency.0)
    .fetch_all(&mut **tx)
    .await?;
    for row in rows {
        let mut e: Engagement = unjson(&row.try_get::<String, _>("state")?)?;
        // Judged on the model version the engagement runs on.
        let model = store.model(&e.model_hash).await?;
        let tailored = assessment::tailor(&e, &model, Some(event.agency_type()), &event.because());
        if tailored.is_empty() {
            continue;
        }
        // The agency row's lock orders writers of its engagements here.
        let at = Head::of(&row)?;
        let expected = at.version as u64;
        if !append_and_save(tx, &mut e, &tailored, actor, now, "tailor", at).await? {
            // Rolled back whole: no chain is left ahead of its row.
            return Err(StoreError::Domain(waymark_core::DomainError::Conflict {
                expected,
                actual: expected + 1,
            }));
        }
        save_index(tx, &e).await?;
    }
    Ok(())
}

/// The type an engagement of `agency` starts tailored for.
pub(crate) async fn agency_type(
    tx: &mut Transaction<'_, Any>,
    agency: AgencyId,
) -> Result<Option<AgencyType>, StoreError> {
    let row = sqlx::query("SELECT agency_type FROM agencies WHERE id = $1")
        .bind(agency.0)
        .fetch_optional(&mut **tx)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let kind: Option<String> = row.try_get("agency_type")?;
    kind.as_deref().map(unjson).transpose()
}

/// Whether agency `id`'s row gives another type than its chain's last
/// event, and how.
async fn type_differs(
    conn: &mut sqlx::AnyConnection,
    id: i64,
    last: &str,
) -> Result<Option<String>, StoreError> {
    let event: AgencyEvent = unjson(last)?;
    let row: Option<String> = sqlx::query("SELECT agency_type FROM agencies WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
    let row: Option<AgencyType> = row.as_deref().map(unjson).transpose()?;
    Ok((row != Some(event.agency_type())).then(|| {
        format!(
            "the agency's type reads {}, but its chain gives {}",
            row.map_or("nothing", AgencyType::label),
            event.agency_type().label()
        )
    }))
}

/// Broken links in agencies' chains: (agencies, events, broken).
pub(crate) async fn verify(
    conn: &mut sqlx::AnyConnection,
    redacted: &crate::removal::Redacted,
) -> Result<(usize, usize, Vec<crate::BrokenAgency>), StoreError> {
    let heads = AGENCY_CHAIN.heads(&mut *conn).await?;
    let mut events = 0;
    let mut broken = Vec::new();
    for h in &heads {
        let (n, payloads, bad) = AGENCY_CHAIN.check(&mut *conn, h, redacted).await?;
        events += n;
        let bad = match (bad, payloads.last()) {
            (Some(bad), _) => Some(bad),
            (None, Some(last)) => type_differs(&mut *conn, h.0, last)
                .await?
                .map(|why| (n as i64, why)),
            (None, None) => None,
        };
        if let Some((seq, reason)) = bad {
            broken.push(crate::BrokenAgency {
                agency: AgencyId(h.0),
                seq,
                reason,
            });
        }
    }
    Ok((heads.len(), events, broken))
}
