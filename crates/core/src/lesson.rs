//! Lessons from retrospectives: what went well, what to improve and what
//! to try next, each tagged to a stage (and a step) of the model the
//! engagement runs on, so the programme can see which steps cause the
//! most trouble across every engagement.

use serde::{Deserialize, Serialize};
use waymark_model::Model;

use crate::engagement::{Engagement, Event, Timestamp};
use crate::error::DomainError;
use crate::people::PersonId;
use crate::text::Text;

/// The most characters a lesson may have.
pub const TEXT_MAX: usize = 2000;

/// What a lesson says of the journey.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LessonKind {
    WentWell,
    ToImprove,
    TryNext,
}

impl LessonKind {
    pub const ALL: [LessonKind; 3] = [
        LessonKind::WentWell,
        LessonKind::ToImprove,
        LessonKind::TryNext,
    ];

    pub fn label(self) -> &'static str {
        match self {
            LessonKind::WentWell => "Went well",
            LessonKind::ToImprove => "To improve",
            LessonKind::TryNext => "Try next",
        }
    }

    pub fn slug(self) -> &'static str {
        match self {
            LessonKind::WentWell => "went_well",
            LessonKind::ToImprove => "to_improve",
            LessonKind::TryNext => "try_next",
        }
    }

    pub fn from_slug(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.slug() == s)
    }
}

/// A lesson on the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Lesson {
    pub id: u32,
    /// The retrospective it came from.
    pub workshop: u32,
    pub kind: LessonKind,
    pub text: String,
    /// The model stage it is about, and the step when it is about one.
    pub stage: String,
    pub step: Option<u32>,
    pub by: PersonId,
    pub at: Timestamp,
}

/// The event that records a lesson from retrospective `workshop`, checked
/// against the engagement and its model.
pub(crate) fn record(
    model: &Model,
    e: &Engagement,
    workshop: u32,
    kind: LessonKind,
    text: &Text<TEXT_MAX>,
    stage: &crate::command::Slug,
    step: Option<u32>,
) -> Result<Event, DomainError> {
    let w = crate::records::workshop(e, workshop).map_err(|err| match err {
        DomainError::Invalid { .. } => {
            DomainError::invalid("workshop", format!("there is no workshop {workshop}"))
        }
        other => other,
    })?;
    if !w.plan.retro {
        return Err(DomainError::invalid(
            "workshop",
            format!(
                "“{}” is not a retrospective: lessons are recorded at a retro",
                w.plan.title
            ),
        ));
    }
    let text = text.required("text")?.into_string();
    let slug = stage.required("stage")?;
    let s = model.stage(slug.as_str()).ok_or_else(|| {
        DomainError::invalid(
            "stage",
            format!(
                "there is no stage “{}” in this engagement's model",
                slug.as_str()
            ),
        )
    })?;
    if let Some(n) = step
        && !s.steps.iter().any(|x| x.number == n)
    {
        return Err(DomainError::invalid(
            "step",
            format!("{} has no step {n}", s.name),
        ));
    }
    Ok(Event::LessonRecorded {
        id: e.lessons.iter().map(|l| l.id).max().unwrap_or(0) + 1,
        workshop,
        kind,
        text,
        stage: s.slug.clone(),
        step,
    })
}
