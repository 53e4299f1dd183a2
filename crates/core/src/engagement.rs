//! An engagement's state and the events that change it. State is only ever
//! changed by [`Engagement::apply`], so replaying the event log always gives
//! back the same state, and the log is the audit trail.

use serde::{Deserialize, Serialize};
use waymark_model::{AgencyType, Effect, Model, Relevance, Timebox};

use crate::access::PartnerKind;
use crate::command::{DecisionAt, Funder};
use crate::people::{AgencyId, EngagementId, PersonId};
use crate::records::{
    Artefact, Delivery, DocumentRecord, LetterKind, LetterRecord, Workshop, WorkshopNotes,
    WorkshopPlan,
};

/// Seconds since 1970-01-01 UTC. The caller supplies the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct Timestamp(pub i64);

const WEEK: i64 = 7 * 24 * 3600;

/// How the agency adopts the blueprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    DoItWithYou,
    DoItYourself,
}

impl Mode {
    /// The model's name for it.
    pub fn label(self) -> &'static str {
        match self {
            Mode::DoItWithYou => "Do it With You",
            Mode::DoItYourself => "Do it Yourself",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StageStatus {
    NotStarted,
    Active,
    Completed,
    Exited,
}

impl StageStatus {
    /// How the workspace shows it: "Not started", "Active", …
    pub fn label(self) -> &'static str {
        match self {
            StageStatus::NotStarted => "Not started",
            StageStatus::Active => "Active",
            StageStatus::Completed => "Completed",
            StageStatus::Exited => "Exited",
        }
    }

    /// How a letter's sentence says it: "not started", "under way", …
    pub fn in_a_sentence(self) -> &'static str {
        match self {
            StageStatus::NotStarted => "not started",
            StageStatus::Active => "under way",
            StageStatus::Completed => "completed",
            StageStatus::Exited => "closed",
        }
    }
}

/// One stage of the pinned model, on this engagement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StageRecord {
    pub stage: String,
    pub status: StageStatus,
    /// How many times the stage has been entered.
    pub cycles: u32,
    pub started_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum StepStatus {
    Todo,
    InProgress,
    Done,
    Skipped { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StepRecord {
    pub stage: String,
    pub step: u32,
    pub cycle: u32,
    pub status: StepStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Decision {
    pub stage: String,
    pub at: DecisionAt,
    pub question: String,
    pub option: usize,
    pub option_text: String,
    pub effect: Effect,
    pub rationale: String,
    pub funded_by: Funder,
    pub note: Option<String>,
    pub decided_by: PersonId,
    pub decided_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum RiskSource {
    /// Raised because a step was skipped: the stage's "risks if ignored".
    Skipped {
        stage: String,
        step: u32,
    },
    Manual,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RiskRecord {
    pub id: u32,
    pub text: String,
    pub stage: Option<String>,
    pub source: RiskSource,
    pub raised_by: PersonId,
    pub raised_at: Timestamp,
    pub open: bool,
    pub closing_note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SuccessCheck {
    pub stage: String,
    pub criterion: usize,
    pub text: String,
    pub evidence: String,
    pub checked_by: PersonId,
    pub checked_at: Timestamp,
}

pub use crate::benefit::Benefit;

/// Existing work the engagement is linked to ("understand related work").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Initiative {
    pub name: String,
    pub description: String,
}

/// A person assigned to the engagement: a programme officer (no kind) or a
/// partner of some kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Assignment {
    pub person: PersonId,
    pub partner: Option<PartnerKind>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignOff {
    pub document: String,
    /// SHA-256 of the exact bytes signed, lowercase hex.
    pub sha256: String,
    pub by: PersonId,
    pub at: Timestamp,
    /// A later sign-off of the same document replaced this one.
    pub superseded: bool,
}

/// Everything that can happen to an engagement. Each is stored with who did
/// it and when; together they are the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    Started {
        agency: AgencyId,
        mode: Mode,
        model_hash: String,
        stages: Vec<String>,
    },
    StageEntered {
        stage: String,
        cycle: u32,
    },
    StageCompleted {
        stage: String,
    },
    /// The blueprint version current when the engagement entered Deploy
    /// (`knowledge::blueprint_entering`).
    BlueprintRecorded {
        version: String,
    },
    StageExited {
        stage: String,
    },
    StepSet {
        stage: String,
        step: u32,
        cycle: u32,
        status: StepStatus,
    },
    RiskRaised {
        id: u32,
        text: String,
        stage: Option<String>,
        source: RiskSource,
    },
    RiskClosed {
        id: u32,
        note: String,
    },
    Decided {
        stage: String,
        at: DecisionAt,
        question: String,
        option: usize,
        option_text: String,
        effect: Effect,
        rationale: String,
        funded_by: Funder,
        note: Option<String>,
    },
    ModeChanged {
        mode: Mode,
    },
    SuccessChecked {
        stage: String,
        criterion: usize,
        text: String,
        evidence: String,
    },
    /// A benefit on the register: typed, or adopted from the model
    /// (`source`). Its number is its place on the register.
    BenefitAdded {
        text: String,
        measure: Option<String>,
        #[serde(default, skip_serializing_if = "crate::benefit::Plan::is_empty")]
        plan: crate::benefit::Plan,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<crate::benefit::Source>,
    },
    /// A benefit's words or plan changed (the whole definition, as now).
    BenefitChanged {
        id: u32,
        text: String,
        measure: Option<String>,
        plan: crate::benefit::Plan,
    },
    /// A dated measurement of benefit `id`.
    BenefitReadingRecorded {
        id: u32,
        value: crate::benefit::Amount,
        date: String,
        note: Option<String>,
    },
    InitiativeLinked {
        name: String,
        description: String,
    },
    SponsorSet {
        person: PersonId,
    },
    Assigned {
        person: PersonId,
        partner: Option<PartnerKind>,
    },
    Unassigned {
        person: PersonId,
    },
    DiscoveryPlanned {
        weeks: u32,
    },
    /// A step's or a risk's owner and due date (both `None`: cleared).
    OwnerSet {
        item: crate::command::Item,
        owner: Option<PersonId>,
        due: Option<String>,
    },
    SignedOff {
        document: String,
        sha256: String,
    },
    /// Scheduled (sequence 0) or changed (sequence one more each time).
    WorkshopScheduled {
        id: u32,
        plan: WorkshopPlan,
        sequence: u32,
    },
    WorkshopCancelled {
        id: u32,
        sequence: u32,
    },
    WorkshopNotesRecorded {
        id: u32,
        notes: WorkshopNotes,
    },
    /// An attendee's calendar answered the invitation (by mail).
    WorkshopAnswered {
        id: u32,
        email: String,
        answer: crate::mailbox::Answer,
    },
    ArtefactSaved {
        artefact: Artefact,
    },
    LetterIssued {
        kind: LetterKind,
        version: u32,
        sha256: String,
    },
    DocumentAttached {
        file: i64,
        title: String,
        name: String,
        content_type: String,
        size: u64,
        sha256: String,
    },
    /// The journey is tailored for this agency type (none: every step is
    /// essential), because the agency was assessed or the programme set it.
    Tailored {
        agency_type: Option<AgencyType>,
        because: String,
    },
    /// The engagement moved to another model version (`migration`): its
    /// stages, steps, decisions and checks re-keyed by the mapping, and
    /// what has no place in the new model kept as words.
    Migrated {
        from: String,
        to: String,
        /// The new model's stages, in order.
        stages: Vec<String>,
        stage_map: Vec<crate::migration::StageMove>,
        step_map: Vec<crate::migration::StepMove>,
        /// Positions in the record of decisions with no place any more.
        decisions_archived: Vec<usize>,
        checks: Vec<crate::migration::CheckMove>,
        archived: Vec<String>,
    },
    /// A comment in the engagement's discussion (`discussion`).
    Commented {
        id: u32,
        anchor: crate::discussion::Anchor,
        body: String,
        /// The people it mentions, told by mail.
        mentions: Vec<PersonId>,
    },
    /// A new version of a comment, by its author: `mentions` are everyone
    /// this version names, `told` those it names for the first time (told
    /// by mail).
    CommentEdited {
        id: u32,
        body: String,
        mentions: Vec<PersonId>,
        told: Vec<PersonId>,
    },
    /// The programme hid a comment, saying why.
    CommentHidden {
        id: u32,
        reason: String,
    },
    /// A lesson from retrospective `workshop`, about a stage (and step).
    LessonRecorded {
        id: u32,
        workshop: u32,
        kind: crate::lesson::LessonKind,
        text: String,
        stage: String,
        step: Option<u32>,
    },
    /// A lesson put to the programme for the blueprint or the guidance.
    LessonProposed {
        id: u32,
        target: crate::lesson::ProposedFor,
    },
    /// The programme's answer: accepted as an article draft, or declined.
    LessonAnswered {
        id: u32,
        answer: crate::lesson::Answer,
    },
}

impl Event {
    /// The event's type, as its stored form's `type` names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Started { .. } => "started",
            Event::StageEntered { .. } => "stage_entered",
            Event::StageCompleted { .. } => "stage_completed",
            Event::BlueprintRecorded { .. } => "blueprint_recorded",
            Event::StageExited { .. } => "stage_exited",
            Event::StepSet { .. } => "step_set",
            Event::RiskRaised { .. } => "risk_raised",
            Event::RiskClosed { .. } => "risk_closed",
            Event::Decided { .. } => "decided",
            Event::ModeChanged { .. } => "mode_changed",
            Event::SuccessChecked { .. } => "success_checked",
            Event::BenefitAdded { .. } => "benefit_added",
            Event::BenefitChanged { .. } => "benefit_changed",
            Event::BenefitReadingRecorded { .. } => "benefit_reading_recorded",
            Event::InitiativeLinked { .. } => "initiative_linked",
            Event::SponsorSet { .. } => "sponsor_set",
            Event::Assigned { .. } => "assigned",
            Event::Unassigned { .. } => "unassigned",
            Event::DiscoveryPlanned { .. } => "discovery_planned",
            Event::OwnerSet { .. } => "owner_set",
            Event::SignedOff { .. } => "signed_off",
            Event::WorkshopScheduled { .. } => "workshop_scheduled",
            Event::WorkshopCancelled { .. } => "workshop_cancelled",
            Event::WorkshopNotesRecorded { .. } => "workshop_notes_recorded",
            Event::WorkshopAnswered { .. } => "workshop_answered",
            Event::ArtefactSaved { .. } => "artefact_saved",
            Event::LetterIssued { .. } => "letter_issued",
            Event::DocumentAttached { .. } => "document_attached",
            Event::Tailored { .. } => "tailored",
            Event::Migrated { .. } => "migrated",
            Event::Commented { .. } => "commented",
            Event::CommentEdited { .. } => "comment_edited",
            Event::CommentHidden { .. } => "comment_hidden",
            Event::LessonRecorded { .. } => "lesson_recorded",
            Event::LessonProposed { .. } => "lesson_proposed",
            Event::LessonAnswered { .. } => "lesson_answered",
        }
    }
}

/// Something recorded under an earlier model version that has no place in
/// the one the engagement runs on now: kept, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Archived {
    pub text: String,
    pub at: Timestamp,
}

/// Something that needs attention without being an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Warning {
    /// A stage has run, or is planned to run, longer than the timebox its
    /// page gives (`timebox_weeks`). Only Discovery's length is planned.
    Overrun {
        stage: String,
        timebox: Timebox,
        planned_weeks: Option<u32>,
        elapsed_weeks: u32,
    },
}

impl Warning {
    /// The warning in words, naming the stage as the model does.
    pub fn describe(&self, model: &Model) -> String {
        match self {
            Warning::Overrun {
                stage,
                timebox,
                planned_weeks,
                elapsed_weeks,
            } => {
                let name = model
                    .stage(stage)
                    .map_or(stage.as_str(), |s| s.name.as_str());
                let meant = timebox.describe();
                match planned_weeks {
                    Some(p) if *p > timebox.max_weeks => format!(
                        "{name} is planned for {p} weeks; it is meant to take {meant} ({elapsed_weeks} so far)"
                    ),
                    _ => {
                        format!("{name} has run {elapsed_weeks} weeks; it is meant to take {meant}")
                    }
                }
            }
        }
    }
}

/// The moment before which an engagement must have entered a stage with
/// `timebox` to have overrun it by `now` (as `warnings` counts weeks), for
/// lists that find overruns without reading every record.
pub fn overrun_if_started_before(timebox: Timebox, now: Timestamp) -> Timestamp {
    Timestamp(now.0 - (i64::from(timebox.max_weeks) + 1) * WEEK + 1)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Engagement {
    pub id: EngagementId,
    pub agency: AgencyId,
    pub mode: Mode,
    /// The model version this engagement runs on; model changes never rewrite it.
    pub model_hash: String,
    /// Bumped by the store on every accepted command, for optimistic concurrency.
    pub version: u64,
    pub stages: Vec<StageRecord>,
    pub steps: Vec<StepRecord>,
    pub decisions: Vec<Decision>,
    pub risks: Vec<RiskRecord>,
    pub benefits: Vec<Benefit>,
    pub success: Vec<SuccessCheck>,
    pub initiatives: Vec<Initiative>,
    pub sponsor: Option<PersonId>,
    pub assigned: Vec<Assignment>,
    pub discovery_weeks: Option<u32>,
    pub signoffs: Vec<SignOff>,
    #[serde(default)]
    pub workshops: Vec<Workshop>,
    #[serde(default)]
    pub letters: Vec<LetterRecord>,
    #[serde(default)]
    pub documents: Vec<DocumentRecord>,
    #[serde(default)]
    pub delivery: Delivery,
    /// Owners and due dates of steps and risks.
    #[serde(default)]
    pub owners: Vec<Ownership>,
    /// The blueprint version current when it last entered Deploy.
    #[serde(default)]
    pub blueprint: Option<String>,
    /// The agency type the journey is tailored for (`Event::Tailored`).
    #[serde(default)]
    pub agency_type: Option<AgencyType>,
    /// Facts from a previous model version with no place in this one.
    #[serde(default)]
    pub archived: Vec<Archived>,
    /// Who wrote which comment of its discussion, and where (the words
    /// are in the chain: `discussion::fold`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub comments: Vec<crate::discussion::CommentRecord>,
    /// Lessons from its retrospectives.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lessons: Vec<crate::lesson::Lesson>,
}

/// The slug of the stage whose length is planned (`PlanDiscovery`).
pub const DISCOVERY: &str = "discovery";

/// The slug of the stage that deploys the blueprint: entering it records the
/// blueprint version current then.
pub const DEPLOY: &str = "deploy";

impl Engagement {
    /// An empty record; the `Started` event fills it in.
    pub fn new(id: EngagementId, agency: AgencyId) -> Self {
        Engagement {
            id,
            agency,
            mode: Mode::DoItWithYou,
            model_hash: String::new(),
            version: 0,
            stages: Vec::new(),
            steps: Vec::new(),
            decisions: Vec::new(),
            risks: Vec::new(),
            benefits: Vec::new(),
            success: Vec::new(),
            initiatives: Vec::new(),
            sponsor: None,
            assigned: Vec::new(),
            discovery_weeks: None,
            signoffs: Vec::new(),
            workshops: Vec::new(),
            letters: Vec::new(),
            documents: Vec::new(),
            delivery: Delivery::default(),
            owners: Vec::new(),
            blueprint: None,
            agency_type: None,
            archived: Vec::new(),
            comments: Vec::new(),
            lessons: Vec::new(),
        }
    }

    pub fn stage(&self, slug: &str) -> Option<&StageRecord> {
        self.stages.iter().find(|s| s.stage == slug)
    }

    fn stage_mut(&mut self, slug: &str) -> Option<&mut StageRecord> {
        self.stages.iter_mut().find(|s| s.stage == slug)
    }

    /// A step's status in the stage's current cycle.
    pub fn step(&self, stage: &str, step: u32) -> StepStatus {
        let cycle = self.stage(stage).map_or(0, |s| s.cycles);
        self.steps
            .iter()
            .rev()
            .find(|r| r.stage == stage && r.step == step && r.cycle == cycle)
            .map_or(StepStatus::Todo, |r| r.status.clone())
    }

    /// How much a step of the model matters to this engagement's agency.
    pub fn relevance(&self, step: &waymark_model::Step) -> Relevance {
        step.tailoring.for_type(self.agency_type)
    }

    pub fn active_stages(&self) -> impl Iterator<Item = &StageRecord> {
        self.stages
            .iter()
            .filter(|s| s.status == StageStatus::Active)
    }

    /// Benefit `id` (its place on the register, from 1).
    pub fn benefit(&self, id: u32) -> Option<&Benefit> {
        self.benefits.get((id as usize).checked_sub(1)?)
    }

    fn benefit_mut(&mut self, id: u32) -> Option<&mut Benefit> {
        self.benefits.get_mut((id as usize).checked_sub(1)?)
    }

    pub(crate) fn next_risk_id(&self) -> u32 {
        self.risks.iter().map(|r| r.id).max().unwrap_or(0) + 1
    }

    /// Folds one event into the state. Events were checked by `decide`, so
    /// this never fails; an event about an unknown stage changes nothing.
    pub fn apply(&mut self, event: &Event, by: PersonId, at: Timestamp) {
        match event {
            Event::Started {
                agency,
                mode,
                model_hash,
                stages,
            } => {
                self.agency = *agency;
                self.mode = *mode;
                self.model_hash.clone_from(model_hash);
                self.stages = stages
                    .iter()
                    .map(|s| StageRecord {
                        stage: s.clone(),
                        status: StageStatus::NotStarted,
                        cycles: 0,
                        started_at: None,
                        ended_at: None,
                    })
                    .collect();
            }
            Event::StageEntered { stage, cycle } => {
                if let Some(s) = self.stage_mut(stage) {
                    s.status = StageStatus::Active;
                    s.cycles = *cycle;
                    s.started_at = Some(at);
                    s.ended_at = None;
                }
            }
            Event::StageCompleted { stage } => {
                if let Some(s) = self.stage_mut(stage) {
                    s.status = StageStatus::Completed;
                    s.ended_at = Some(at);
                }
            }
            Event::BlueprintRecorded { version } => self.blueprint = Some(version.clone()),
            Event::Tailored { agency_type, .. } => self.agency_type = *agency_type,
            Event::Migrated {
                to,
                stages,
                stage_map,
                step_map,
                decisions_archived,
                checks,
                archived,
                ..
            } => crate::migration::apply(
                self,
                to,
                stages,
                stage_map,
                step_map,
                decisions_archived,
                checks,
                archived,
                at,
            ),
            Event::StageExited { stage } => {
                if let Some(s) = self.stage_mut(stage) {
                    s.status = StageStatus::Exited;
                    s.ended_at = Some(at);
                }
            }
            Event::StepSet {
                stage,
                step,
                cycle,
                status,
            } => self.steps.push(StepRecord {
                stage: stage.clone(),
                step: *step,
                cycle: *cycle,
                status: status.clone(),
            }),
            Event::RiskRaised {
                id,
                text,
                stage,
                source,
            } => self.risks.push(RiskRecord {
                id: *id,
                text: text.clone(),
                stage: stage.clone(),
                source: source.clone(),
                raised_by: by,
                raised_at: at,
                open: true,
                closing_note: None,
            }),
            Event::RiskClosed { id, note } => {
                if let Some(r) = self.risks.iter_mut().find(|r| r.id == *id) {
                    r.open = false;
                    r.closing_note = Some(note.clone());
                }
            }
            Event::Decided {
                stage,
                at: point,
                question,
                option,
                option_text,
                effect,
                rationale,
                funded_by,
                note,
            } => self.decisions.push(Decision {
                stage: stage.clone(),
                at: *point,
                question: question.clone(),
                option: *option,
                option_text: option_text.clone(),
                effect: effect.clone(),
                rationale: rationale.clone(),
                funded_by: *funded_by,
                note: note.clone(),
                decided_by: by,
                decided_at: at,
            }),
            Event::ModeChanged { mode } => self.mode = *mode,
            Event::LessonRecorded { .. }
            | Event::LessonProposed { .. }
            | Event::LessonAnswered { .. } => crate::lesson::apply(self, event, by, at),
            Event::Commented { .. } | Event::CommentEdited { .. } | Event::CommentHidden { .. } => {
                crate::discussion::apply(self, event, by)
            }
            Event::SuccessChecked {
                stage,
                criterion,
                text,
                evidence,
            } => self.success.push(SuccessCheck {
                stage: stage.clone(),
                criterion: *criterion,
                text: text.clone(),
                evidence: evidence.clone(),
                checked_by: by,
                checked_at: at,
            }),
            Event::BenefitAdded {
                text,
                measure,
                plan,
                source,
            } => self.benefits.push(Benefit {
                text: text.clone(),
                measure: measure.clone(),
                plan: plan.clone(),
                readings: Vec::new(),
                source: source.clone(),
            }),
            Event::BenefitChanged {
                id,
                text,
                measure,
                plan,
            } => {
                if let Some(b) = self.benefit_mut(*id) {
                    b.text.clone_from(text);
                    b.measure.clone_from(measure);
                    b.plan = plan.clone();
                }
            }
            Event::BenefitReadingRecorded {
                id,
                value,
                date,
                note,
            } => {
                if let Some(b) = self.benefit_mut(*id) {
                    b.readings.push(crate::benefit::Reading {
                        value: *value,
                        date: date.clone(),
                        note: note.clone(),
                        by,
                        at,
                    });
                }
            }
            Event::InitiativeLinked { name, description } => self.initiatives.push(Initiative {
                name: name.clone(),
                description: description.clone(),
            }),
            Event::SponsorSet { person } => self.sponsor = Some(*person),
            Event::Assigned { person, partner } => self.assigned.push(Assignment {
                person: *person,
                partner: *partner,
            }),
            Event::Unassigned { person } => self.assigned.retain(|a| a.person != *person),
            Event::DiscoveryPlanned { weeks } => self.discovery_weeks = Some(*weeks),
            Event::OwnerSet { item, owner, due } => {
                self.owners.retain(|o| &o.item != item);
                if owner.is_some() || due.is_some() {
                    self.owners.push(Ownership {
                        item: item.clone(),
                        owner: *owner,
                        due: due.clone(),
                    });
                }
            }
            Event::SignedOff { document, sha256 } => {
                for s in self.signoffs.iter_mut().filter(|s| &s.document == document) {
                    s.superseded = true;
                }
                self.signoffs.push(SignOff {
                    document: document.clone(),
                    sha256: sha256.clone(),
                    by,
                    at,
                    superseded: false,
                });
            }
            Event::WorkshopScheduled { id, plan, sequence } => {
                match self.workshops.iter_mut().find(|w| w.id == *id) {
                    Some(w) => {
                        w.plan = plan.clone();
                        w.sequence = *sequence;
                    }
                    None => self.workshops.push(Workshop {
                        id: *id,
                        plan: plan.clone(),
                        sequence: *sequence,
                        cancelled: false,
                        notes: WorkshopNotes::default(),
                        answers: Vec::new(),
                    }),
                }
            }
            Event::WorkshopCancelled { id, sequence } => {
                if let Some(w) = self.workshops.iter_mut().find(|w| w.id == *id) {
                    w.cancelled = true;
                    w.sequence = *sequence;
                }
            }
            Event::WorkshopNotesRecorded { id, notes } => {
                if let Some(w) = self.workshops.iter_mut().find(|w| w.id == *id) {
                    w.notes = notes.clone();
                }
            }
            Event::WorkshopAnswered { id, email, answer } => {
                if let Some(w) = self.workshops.iter_mut().find(|w| w.id == *id) {
                    match w
                        .answers
                        .iter_mut()
                        .find(|a| a.email.eq_ignore_ascii_case(email))
                    {
                        Some(a) => a.answer = *answer,
                        None => w.answers.push(crate::records::WorkshopAnswer {
                            email: email.clone(),
                            answer: *answer,
                        }),
                    }
                }
            }
            Event::ArtefactSaved { artefact } => self.delivery.save(artefact),
            Event::LetterIssued {
                kind,
                version,
                sha256,
            } => {
                // A new version needs a new sign-off: the old one no longer
                // covers what the letter says.
                for s in self
                    .signoffs
                    .iter_mut()
                    .filter(|s| s.document == kind.slug())
                {
                    s.superseded = true;
                }
                self.letters.push(LetterRecord {
                    kind: *kind,
                    version: *version,
                    sha256: sha256.clone(),
                    by,
                    at,
                });
            }
            Event::DocumentAttached {
                file,
                title,
                name,
                content_type,
                size,
                sha256,
            } => self.documents.push(DocumentRecord {
                file: *file,
                title: title.clone(),
                name: name.clone(),
                content_type: content_type.clone(),
                size: *size,
                sha256: sha256.clone(),
                by,
                at,
            }),
        }
    }

    /// Whether `document` (a letter's slug, or a document's title) at the
    /// bytes `sha256` carries a sign-off that a newer version has not
    /// superseded.
    pub fn is_signed(&self, document: &str, sha256: &str) -> bool {
        self.signoffs
            .iter()
            .any(|x| !x.superseded && x.document == document && x.sha256 == sha256)
    }

    /// Who owns a step or a risk, and by when, if anyone was named.
    pub fn ownership(&self, item: &crate::command::Item) -> Option<&Ownership> {
        self.owners.iter().find(|o| &o.item == item)
    }

    /// The decision standing at a stage's decision point or exit: the latest
    /// one taken since the stage was last entered. An exit that began the
    /// stage again ("Deploy again") belongs to the cycle it ended, so the new
    /// cycle's exit is open.
    pub fn standing_decision(&self, stage: &str, at: DecisionAt) -> Option<&Decision> {
        let entered = self.stage(stage).and_then(|s| s.started_at)?;
        self.decisions
            .iter()
            .rev()
            .find(|d| d.stage == stage && d.at == at)
            .filter(|d| d.decided_at >= entered)
            .filter(|d| {
                !(at == DecisionAt::Exit
                    && matches!(&d.effect, Effect::EnterStage { stage: s } if s == stage))
            })
    }

    /// The recorded fact that meets a success criterion by itself (the
    /// model's `success_met_by`), if it has happened: a signed letter's
    /// newest version, or a standing decision of the stage.
    pub fn evidence(&self, stage: &str, fact: &waymark_model::Fact) -> Option<Evidence> {
        match fact {
            waymark_model::Fact::Signed { letter } => {
                let kind = crate::records::LetterKind::from_slug(letter)?;
                let newest = self
                    .letters
                    .iter()
                    .filter(|l| l.kind == kind)
                    .max_by_key(|l| l.version)?;
                let signed = self.signoffs.iter().rev().find(|x| {
                    !x.superseded && x.document == letter.as_str() && x.sha256 == newest.sha256
                })?;
                Some(Evidence {
                    text: format!("{} version {} is signed", kind.title(), newest.version),
                    by: signed.by,
                    at: signed.at,
                    letter: Some(kind),
                })
            }
            waymark_model::Fact::Decided { point } => {
                let at = point.map_or(DecisionAt::Exit, |index| DecisionAt::Point { index });
                let d = self.standing_decision(stage, at)?;
                Some(Evidence {
                    text: format!("Decided: {}", d.option_text),
                    by: d.decided_by,
                    at: d.decided_at,
                    letter: None,
                })
            }
        }
    }

    /// Each letter's newest issued version, when it carries no standing
    /// sign-off: what waits for the executive sponsor.
    pub fn letters_awaiting_signature(&self) -> Vec<&LetterRecord> {
        let mut newest: Vec<&LetterRecord> = Vec::new();
        for l in &self.letters {
            match newest.iter_mut().find(|n| n.kind == l.kind) {
                Some(n) if n.version < l.version => *n = l,
                Some(_) => {}
                None => newest.push(l),
            }
        }
        newest
            .into_iter()
            .filter(|l| !self.is_signed(l.kind.slug(), &l.sha256))
            .collect()
    }

    /// What needs attention at `now`, by the timeboxes of `model` (callers
    /// pass the current model, so every view and list judges alike).
    pub fn warnings(&self, model: &Model, now: Timestamp) -> Vec<Warning> {
        warnings(model, &self.stages, self.discovery_weeks, now)
    }

    /// The few facts lists and dashboards need, without the whole record.
    pub fn summary(&self) -> Summary {
        Summary {
            id: self.id,
            agency: self.agency,
            mode: self.mode,
            version: self.version,
            stages: self.stages.clone(),
            open_risks: self.risks.iter().filter(|r| r.open).count() as u32,
            decisions: self.decisions.len() as u32,
            discovery_weeks: self.discovery_weeks,
            sponsor: self.sponsor,
        }
    }
}

/// A step's or a risk's owner and due date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Ownership {
    pub item: crate::command::Item,
    pub owner: Option<PersonId>,
    /// `YYYY-MM-DD`.
    pub due: Option<String>,
}

/// What shows a success criterion is met without anyone ticking it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub text: String,
    pub by: PersonId,
    pub at: Timestamp,
    /// The letter the evidence is, to link to.
    pub letter: Option<crate::records::LetterKind>,
}

/// An engagement at a glance: what lists, dashboards and the home page show.
/// The store keeps one beside each record, so listing never parses whole
/// records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Summary {
    pub id: EngagementId,
    pub agency: AgencyId,
    pub mode: Mode,
    pub version: u64,
    pub stages: Vec<StageRecord>,
    pub open_risks: u32,
    pub decisions: u32,
    pub discovery_weeks: Option<u32>,
    pub sponsor: Option<PersonId>,
}

impl Summary {
    /// What needs attention, by the timeboxes of `model`.
    pub fn warnings(&self, model: &Model, now: Timestamp) -> Vec<Warning> {
        warnings(model, &self.stages, self.discovery_weeks, now)
    }

    pub fn active_stages(&self) -> impl Iterator<Item = &StageRecord> {
        self.stages
            .iter()
            .filter(|s| s.status == StageStatus::Active)
    }
}

fn warnings(
    model: &Model,
    stages: &[StageRecord],
    planned: Option<u32>,
    now: Timestamp,
) -> Vec<Warning> {
    let mut out = Vec::new();
    for d in stages {
        let Some(timebox) = model.stage(&d.stage).and_then(|s| s.timebox) else {
            continue;
        };
        let elapsed = match (d.status, d.started_at, d.ended_at) {
            (StageStatus::Active, Some(start), _) => (now.0 - start.0).max(0) / WEEK,
            (_, Some(start), Some(end)) => (end.0 - start.0).max(0) / WEEK,
            _ => 0,
        } as u32;
        // A plan matters until the stage is over.
        let planned = planned.filter(|_| {
            d.stage == DISCOVERY
                && matches!(d.status, StageStatus::NotStarted | StageStatus::Active)
        });
        if elapsed > timebox.max_weeks || planned.is_some_and(|w| w > timebox.max_weeks) {
            out.push(Warning::Overrun {
                stage: d.stage.clone(),
                timebox,
                planned_weeks: planned,
                elapsed_weeks: elapsed,
            });
        }
    }
    out
}
