//! The agency self-assessment: who may take it, what it records, and the
//! agency type that follows from an agency's history of assessments and
//! the programme's overrides.
//!
//! An agency's assessments are its own audited history (the store keeps
//! them in a hash chain per agency). The type is never typed in: it is the
//! latest of the last assessment's result and the last override. Each of
//! the agency's engagements then records the type it is tailored for
//! ([`Event::Tailored`](crate::Event::Tailored)), so a journey's history
//! shows when and why it changed shape.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use waymark_model::{AgencyType, Placement, Questionnaire};

use crate::{Actor, AgencyId, DomainError, Engagement, Event, Line};

/// Something recorded about an agency's profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgencyEvent {
    /// The agency answered the self-assessment.
    Assessed {
        /// The questionnaire's version (the hash of its content).
        questionnaire: String,
        answers: Vec<Answered>,
        placement: Placement,
    },
    /// The programme set the agency's type, and why.
    TypeSet {
        agency_type: AgencyType,
        reason: String,
    },
}

impl AgencyEvent {
    /// The type this event leaves the agency with.
    pub fn agency_type(&self) -> AgencyType {
        match self {
            AgencyEvent::Assessed { placement, .. } => placement.kind,
            AgencyEvent::TypeSet { agency_type, .. } => *agency_type,
        }
    }

    /// The command name recorded in the chain.
    pub fn name(&self) -> &'static str {
        match self {
            AgencyEvent::Assessed { .. } => "assess",
            AgencyEvent::TypeSet { .. } => "set_agency_type",
        }
    }

    /// Why an engagement is tailored for the type this event gives.
    pub fn because(&self) -> String {
        match self {
            AgencyEvent::Assessed { .. } => "the agency's self-assessment".to_string(),
            AgencyEvent::TypeSet { reason, .. } => format!("the programme's setting: {reason}"),
        }
    }
}

/// One question as it was asked and answered, kept whole so the history
/// reads the same after the questionnaire changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Answered {
    pub question: String,
    pub text: String,
    /// The chosen answer's position, from 0.
    pub answer: usize,
    pub answer_text: String,
    pub weight: u32,
}

/// A problem with one question of a submitted assessment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AnswerProblem {
    /// The question's key; empty for a problem with the whole submission.
    pub question: String,
    pub message: String,
}

/// Who may answer the self-assessment for `agency`: the programme, and the
/// agency's executive sponsors.
pub fn may_assess(actor: &Actor, agency: AgencyId) -> Result<(), DomainError> {
    if actor.is_programme() || actor.sponsor_of(agency) {
        Ok(())
    } else {
        Err(DomainError::Forbidden {
            action: "answer this agency's self-assessment",
            why: "only the agency's executive sponsor or the programme answers its self-assessment",
        })
    }
}

/// Who may read an agency's assessments and their answers: the programme
/// and the agency's own people.
pub fn may_see_history(actor: &Actor, agency: AgencyId) -> bool {
    actor.is_programme() || actor.member_of(agency)
}

/// The agencies whose self-assessment waits for `actor`: those they are
/// the executive sponsor of that have no type yet, when the model has a
/// questionnaire to answer.
pub fn waiting(actor: &Actor, agencies: &[crate::Agency], questionnaire: bool) -> Vec<AgencyId> {
    agencies
        .iter()
        .filter(|a| questionnaire && a.agency_type.is_none() && actor.sponsor_of(a.id))
        .map(|a| a.id)
        .collect()
}

/// Who may set an agency's type over its assessment: the programme.
pub fn may_set_type(actor: &Actor) -> Result<(), DomainError> {
    if actor.is_programme() {
        Ok(())
    } else {
        Err(DomainError::Forbidden {
            action: "set an agency's type",
            why: "only the programme sets an agency's type over its self-assessment",
        })
    }
}

/// Judges a submitted self-assessment: every question of the current
/// questionnaire answered once with an answer it offers. Returns the event
/// to record, or every problem at once (so a form can show them all).
pub fn assess(
    actor: &Actor,
    agency: AgencyId,
    questionnaire: Option<&Questionnaire>,
    answers: &BTreeMap<String, usize>,
) -> Result<AgencyEvent, Vec<AnswerProblem>> {
    let whole = |message: String| {
        vec![AnswerProblem {
            question: String::new(),
            message,
        }]
    };
    may_assess(actor, agency).map_err(|e| whole(e.to_string()))?;
    let q = questionnaire.ok_or_else(|| {
        whole("the current model has no self-assessment, so there is nothing to answer".into())
    })?;
    let placement = q.place(answers).map_err(|problems| {
        problems
            .into_iter()
            .map(|u| AnswerProblem {
                question: u.question,
                message: u.why,
            })
            .collect::<Vec<_>>()
    })?;
    let answers = q
        .questions()
        .filter_map(|question| {
            let i = *answers.get(&question.key)?;
            let a = question.answers.get(i)?;
            Some(Answered {
                question: question.key.clone(),
                text: question.text.clone(),
                answer: i,
                answer_text: a.text.clone(),
                weight: a.weight,
            })
        })
        .collect();
    Ok(AgencyEvent::Assessed {
        questionnaire: q.version.clone(),
        answers,
        placement,
    })
}

/// Judges the programme setting an agency's type over its assessment.
pub fn set_type(
    actor: &Actor,
    agency_type: AgencyType,
    reason: &Line<500>,
) -> Result<AgencyEvent, DomainError> {
    may_set_type(actor)?;
    let reason = reason.required("reason")?.into_string();
    Ok(AgencyEvent::TypeSet {
        agency_type,
        reason,
    })
}

/// The events that tailor `e` (on `model`, the version it runs on) for
/// `agency_type`: none if it already is. A step skipped while it was
/// optional, that the new type needs, raises its stage's risks then, as
/// skipping it would have: a new type never hides a skipped essential step.
pub fn tailor(
    e: &Engagement,
    model: &waymark_model::Model,
    agency_type: Option<AgencyType>,
    because: &str,
) -> Vec<Event> {
    if e.agency_type == agency_type {
        return Vec::new();
    }
    let mut out = vec![Event::Tailored {
        agency_type,
        because: because.to_string(),
    }];
    let mut after = e.clone();
    after.agency_type = agency_type;
    let mut next_id = e.next_risk_id();
    for s in &model.stages {
        for step in &s.steps {
            let skipped = matches!(
                e.step(&s.slug, step.number),
                crate::StepStatus::Skipped { .. }
            );
            if skipped && !e.relevance(step).essential() && after.relevance(step).essential() {
                let raised = crate::command::skip_risks(&after, s, step.number, next_id);
                next_id += raised.len() as u32;
                for ev in &raised {
                    after.apply(ev, crate::PersonId(0), crate::Timestamp(0));
                }
                out.extend(raised);
            }
        }
    }
    out
}
