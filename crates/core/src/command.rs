//! Commands and the one function that judges them.
//!
//! [`decide`] checks a command against the actor's access, the engagement's
//! state and the pinned model, and returns the events to record, or a
//! [`DomainError`] that says what is wrong. It changes nothing itself.

use serde::{Deserialize, Serialize};
use waymark_model::{Choice, Effect, Model, Stage};

use crate::access::{Access, Actor, PartnerKind, Role};
use crate::benefit::PlanInput;
use crate::engagement::{DISCOVERY, Engagement, Event, Mode, RiskSource, StageStatus, StepStatus};
use crate::error::DomainError;
use crate::people::{Person, PersonId};
use crate::records::{self, Artefact, LetterKind, WorkshopNotes, WorkshopPlan};
use crate::text::{Line, Text};

/// What an owner and a due date can be set on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Item {
    /// A step of a stage (its current cycle and any later one).
    Step {
        stage: String,
        step: u32,
    },
    Risk {
        id: u32,
    },
}

/// Where a decision is taken: a stage's decision point, or its next steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DecisionAt {
    /// The stage's n-th decision point (from 0).
    Point { index: usize },
    /// The stage's exit options ("Next steps").
    Exit,
}

/// Who funds what a decision leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Funder {
    Dta,
    CoFunded,
    Agency,
}

impl Funder {
    /// Who pays, as the workspace shows it.
    pub fn label(self) -> &'static str {
        match self {
            Funder::Dta => "The DTA",
            Funder::CoFunded => "Co-funded by the DTA and the agency",
            Funder::Agency => "The agency",
        }
    }

    /// Who pays, as a letter's sentence says it ("funded by …").
    pub fn in_a_sentence(self) -> &'static str {
        match self {
            Funder::Dta => "the DTA",
            Funder::CoFunded => "the DTA and the agency together",
            Funder::Agency => "the agency",
        }
    }
}

/// A stage's slug, as a command names it.
pub type Slug = Line<100>;
/// A SHA-256 as 64 lowercase hexadecimal characters.
pub type Sha256 = Line<64>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    StartStage {
        stage: Slug,
    },
    CompleteStage {
        stage: Slug,
    },
    /// Mark a step to do, in progress or done (skipping is [`Command::SkipStep`]).
    SetStep {
        stage: Slug,
        step: u32,
        status: StepStatus,
    },
    SkipStep {
        stage: Slug,
        step: u32,
        reason: Text<2000>,
    },
    Decide {
        stage: Slug,
        at: DecisionAt,
        option: usize,
        rationale: Text<4000>,
        funded_by: Funder,
        note: Option<Text<4000>>,
    },
    CheckSuccess {
        stage: Slug,
        criterion: usize,
        evidence: Text<4000>,
    },
    AddRisk {
        text: Text<2000>,
        stage: Option<Slug>,
    },
    CloseRisk {
        id: u32,
        note: Text<4000>,
    },
    /// Put a benefit on the register, with how it is measured (all of the
    /// plan is optional).
    AddBenefit {
        text: Text<2000>,
        measure: Option<Text<2000>>,
        #[serde(default)]
        plan: PlanInput,
    },
    /// Change benefit `id`'s words and plan (the whole definition, as it
    /// should now read).
    ChangeBenefit {
        id: u32,
        text: Text<2000>,
        measure: Option<Text<2000>>,
        #[serde(default)]
        plan: PlanInput,
    },
    /// Record a dated reading of benefit `id`, in its unit. A second
    /// reading for the same date replaces the first in its status.
    RecordReading {
        id: u32,
        value: Line<{ crate::benefit::VALUE_MAX }>,
        /// `YYYY-MM-DD`.
        date: Line<10>,
        note: Option<Text<2000>>,
    },
    /// Put the model's "Benefits" of a stage on the register, each once.
    AdoptBenefits {
        stage: Slug,
    },
    /// Record a lesson of retrospective `workshop`, about a stage of the
    /// model (and one of its steps).
    RecordLesson {
        workshop: u32,
        kind: crate::lesson::LessonKind,
        text: Text<{ crate::lesson::TEXT_MAX }>,
        stage: Slug,
        step: Option<u32>,
    },
    /// Put lesson `id` to the programme for the blueprint or the guidance.
    ProposeLesson {
        id: u32,
        target: crate::lesson::ProposedFor,
    },
    /// The programme accepts proposed lesson `id`: the store writes it as a
    /// knowledge-article draft, or, with `post_in` (a community category's
    /// slug), as a question in the community, in the same transaction.
    AcceptLesson {
        id: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, max_length = 80))]
        post_in: Option<Line<80>>,
        /// The draft the store wrote; never sent by a caller.
        #[serde(skip)]
        article: Option<i64>,
        /// The community question the store wrote; never sent by a caller.
        #[serde(skip)]
        question: Option<i64>,
    },
    /// The programme declines proposed lesson `id`, saying why.
    DeclineLesson {
        id: u32,
        reason: Text<{ crate::lesson::TEXT_MAX }>,
    },
    LinkInitiative {
        name: Line<200>,
        description: Text<4000>,
    },
    /// Name the executive sponsor: a member of the engagement's agency. The
    /// programme names one, or the current sponsor hands over.
    SetSponsor {
        person: PersonId,
    },
    /// Assign a partner (a person with a partner role) to the engagement.
    Assign {
        person: PersonId,
        partner: Option<PartnerKind>,
    },
    Unassign {
        person: PersonId,
    },
    PlanDiscovery {
        weeks: u32,
    },
    SignOff {
        document: Line<200>,
        sha256: Sha256,
    },
    /// Bring a Do it Yourself engagement back into the programme.
    ReturnToProgramme,
    /// Give a step or a risk an owner (someone who takes part in the
    /// engagement) and a due date, or clear them.
    SetOwner {
        item: Item,
        owner: Option<PersonId>,
        /// `YYYY-MM-DD`.
        due: Option<Line<10>>,
    },
    /// Schedule a new workshop (`id: None`) or change one.
    ScheduleWorkshop {
        id: Option<u32>,
        plan: WorkshopPlan,
    },
    CancelWorkshop {
        id: u32,
    },
    RecordWorkshopNotes {
        id: u32,
        notes: WorkshopNotes,
    },
    SaveArtefact {
        artefact: Artefact,
    },
    /// Record a new version of a letter whose PDF the store keeps.
    IssueLetter {
        kind: LetterKind,
        sha256: Sha256,
    },
    /// Record a file the store keeps against the engagement.
    AttachDocument {
        file: i64,
        title: Line<200>,
        name: Line<255>,
        content_type: Line<200>,
        size: u64,
        sha256: Sha256,
    },
    /// A comment in the engagement's discussion, beside `about`; `@name`
    /// mentions notify the people who take part.
    Comment {
        about: crate::discussion::Anchor,
        body: Text<{ crate::discussion::COMMENT_MAX }>,
    },
    /// A new version of one's own comment (every version is kept).
    EditComment {
        id: u32,
        body: Text<{ crate::discussion::COMMENT_MAX }>,
    },
    /// The programme hides a comment, saying why.
    HideComment {
        id: u32,
        reason: Text<{ crate::discussion::REASON_MAX }>,
    },
}

impl Command {
    /// Every kind of command, for exhaustive permission tests and API docs.
    pub const NAMES: [&'static str; 34] = [
        "start_stage",
        "complete_stage",
        "set_step",
        "skip_step",
        "decide",
        "check_success",
        "add_risk",
        "close_risk",
        "add_benefit",
        "change_benefit",
        "record_reading",
        "adopt_benefits",
        "record_lesson",
        "propose_lesson",
        "accept_lesson",
        "decline_lesson",
        "link_initiative",
        "set_sponsor",
        "assign",
        "unassign",
        "plan_discovery",
        "sign_off",
        "return_to_programme",
        "set_owner",
        "schedule_workshop",
        "cancel_workshop",
        "record_workshop_notes",
        "save_artefact",
        "issue_letter",
        "attach_document",
        "comment",
        "edit_comment",
        "hide_comment",
        "start",
    ];

    pub fn name(&self) -> &'static str {
        match self {
            Command::StartStage { .. } => "start_stage",
            Command::CompleteStage { .. } => "complete_stage",
            Command::SetStep { .. } => "set_step",
            Command::SkipStep { .. } => "skip_step",
            Command::Decide { .. } => "decide",
            Command::CheckSuccess { .. } => "check_success",
            Command::AddRisk { .. } => "add_risk",
            Command::CloseRisk { .. } => "close_risk",
            Command::AddBenefit { .. } => "add_benefit",
            Command::ChangeBenefit { .. } => "change_benefit",
            Command::RecordReading { .. } => "record_reading",
            Command::AdoptBenefits { .. } => "adopt_benefits",
            Command::RecordLesson { .. } => "record_lesson",
            Command::ProposeLesson { .. } => "propose_lesson",
            Command::AcceptLesson { .. } => "accept_lesson",
            Command::DeclineLesson { .. } => "decline_lesson",
            Command::LinkInitiative { .. } => "link_initiative",
            Command::SetSponsor { .. } => "set_sponsor",
            Command::Assign { .. } => "assign",
            Command::Unassign { .. } => "unassign",
            Command::PlanDiscovery { .. } => "plan_discovery",
            Command::SignOff { .. } => "sign_off",
            Command::ReturnToProgramme => "return_to_programme",
            Command::SetOwner { .. } => "set_owner",
            Command::ScheduleWorkshop { .. } => "schedule_workshop",
            Command::CancelWorkshop { .. } => "cancel_workshop",
            Command::RecordWorkshopNotes { .. } => "record_workshop_notes",
            Command::SaveArtefact { .. } => "save_artefact",
            Command::IssueLetter { .. } => "issue_letter",
            Command::AttachDocument { .. } => "attach_document",
            Command::Comment { .. } => "comment",
            Command::EditComment { .. } => "edit_comment",
            Command::HideComment { .. } => "hide_comment",
        }
    }

    /// Every problem with the text a person typed into this command, at
    /// once: the one rule for each field (required or not, bounded, clean),
    /// which `decide` applies first and forms show beside every field.
    pub fn text_problems(&self) -> Vec<DomainError> {
        fn need<const N: usize>(t: &Text<N>, field: &'static str) -> Option<DomainError> {
            t.required(field).err()
        }
        fn may<const N: usize>(t: &Option<Text<N>>, field: &'static str) -> Option<DomainError> {
            Text::optional(t, field).err()
        }
        let found = match self {
            Command::SkipStep { reason, .. } => vec![match reason.check("reason") {
                Err(e) => Some(e),
                Ok(r) if r.is_empty() => Some(DomainError::invalid(
                    "reason",
                    "a skipped step needs a reason, so the record shows why",
                )),
                Ok(_) => None,
            }],
            Command::Decide {
                rationale, note, ..
            } => vec![need(rationale, "rationale"), may(note, "note")],
            Command::CheckSuccess { evidence, .. } => vec![need(evidence, "evidence")],
            Command::AddRisk { text, .. } => vec![need(text, "text")],
            Command::CloseRisk { note, .. } => vec![need(note, "note")],
            Command::AddBenefit {
                text,
                measure,
                plan,
            }
            | Command::ChangeBenefit {
                text,
                measure,
                plan,
                ..
            } => crate::benefit::problems(text, measure, plan)
                .into_iter()
                .map(Some)
                .collect(),
            Command::RecordReading {
                value, date, note, ..
            } => vec![
                value.check("value").err(),
                date.required("date").err(),
                may(note, "note"),
            ],
            Command::LinkInitiative { name, description } => vec![
                name.required("name").err(),
                description.check("description").err(),
            ],
            Command::Comment { body, .. } | Command::EditComment { body, .. } => {
                vec![need(body, "body")]
            }
            Command::HideComment { reason, .. } => vec![need(reason, "reason")],
            Command::RecordLesson { text, .. } => vec![need(text, "text")],
            Command::DeclineLesson { reason, .. } => vec![need(reason, "reason")],
            Command::AcceptLesson {
                post_in: Some(c), ..
            } => vec![c.required("post_in").err()],
            _ => Vec::new(),
        };
        found.into_iter().flatten().collect()
    }

    /// The people this command names. The store loads them from the
    /// directory, in the command's transaction, for [`decide`] to check.
    pub fn people(&self) -> Vec<PersonId> {
        match self {
            Command::SetSponsor { person } | Command::Assign { person, .. } => vec![*person],
            Command::SetOwner {
                owner: Some(person),
                ..
            } => vec![*person],
            Command::ScheduleWorkshop { plan, .. } => {
                plan.attendees.iter().filter_map(|a| a.person).collect()
            }
            Command::AddBenefit { plan, .. } | Command::ChangeBenefit { plan, .. } => {
                plan.owner.into_iter().collect()
            }
            _ => Vec::new(),
        }
    }
}

/// Who a command may name, on this engagement. Missing people and people
/// out of scope get the same answer, so a command never reveals who exists.
pub(crate) fn named<'p>(
    people: &'p [Person],
    id: PersonId,
    field: &'static str,
    fits: impl Fn(&Person) -> bool,
    what: &str,
) -> Result<&'p Person, DomainError> {
    let p = people
        .iter()
        .find(|p| p.id == id && fits(p))
        .ok_or_else(|| DomainError::invalid(field, format!("person {id} is not {what}")))?;
    // Nobody is given work, or named sponsor, after they have left.
    if p.deactivated_at.is_some() {
        return Err(DomainError::invalid(
            field,
            format!("{} has left (deactivated): choose someone else", p.name),
        ));
    }
    Ok(p)
}

/// Whether `p` takes part in `e`: the programme, the agency's people, and
/// the partners assigned to it.
pub(crate) fn takes_part(e: &Engagement, p: &Person) -> bool {
    p.roles.iter().any(|r| match r {
        Role::ProgrammeAdmin | Role::ProgrammeStaff => true,
        Role::AgencyMember { agency, .. } => *agency == e.agency,
        Role::Partner { .. } => e.assigned.iter().any(|a| a.person == p.id),
    })
}

/// Whether `actor` may give `cmd` on `e` at all, by who they are and the
/// engagement's state, before its content is read. Views ask this before
/// offering a control, with the command the control would send; `decide`
/// asks it first. One rule for both.
pub fn may(actor: &Actor, e: &Engagement, cmd: &Command) -> bool {
    permission(actor, e, cmd).is_ok()
}

/// For each kind of command (by [`Command::name`]), whether `actor` may give
/// it on `e`: what a page asks before offering each control. The same
/// `permission` that `decide` enforces, asked of one command of each kind.
pub fn allowed_commands(
    actor: &Actor,
    e: &Engagement,
) -> std::collections::BTreeMap<&'static str, bool> {
    one_of_each()
        .iter()
        .map(|c| (c.name(), may(actor, e, c)))
        .collect()
}

/// A command of every kind, with placeholder content (`permission` reads
/// only the kind, the actor and the engagement).
fn one_of_each() -> Vec<Command> {
    let someone = crate::people::PersonId(0);
    vec![
        Command::StartStage { stage: "".into() },
        Command::CompleteStage { stage: "".into() },
        Command::SetStep {
            stage: "".into(),
            step: 0,
            status: StepStatus::Done,
        },
        Command::SkipStep {
            stage: "".into(),
            step: 0,
            reason: "".into(),
        },
        Command::Decide {
            stage: "".into(),
            at: DecisionAt::Exit,
            option: 0,
            rationale: "".into(),
            funded_by: Funder::Dta,
            note: None,
        },
        Command::CheckSuccess {
            stage: "".into(),
            criterion: 0,
            evidence: "".into(),
        },
        Command::AddRisk {
            text: "".into(),
            stage: None,
        },
        Command::CloseRisk {
            id: 0,
            note: "".into(),
        },
        Command::AddBenefit {
            text: "".into(),
            measure: None,
            plan: PlanInput::default(),
        },
        Command::ChangeBenefit {
            id: 0,
            text: "".into(),
            measure: None,
            plan: PlanInput::default(),
        },
        Command::RecordReading {
            id: 0,
            value: "".into(),
            date: "".into(),
            note: None,
        },
        Command::AdoptBenefits { stage: "".into() },
        Command::RecordLesson {
            workshop: 0,
            kind: crate::lesson::LessonKind::WentWell,
            text: "".into(),
            stage: "".into(),
            step: None,
        },
        Command::ProposeLesson {
            id: 0,
            target: crate::lesson::ProposedFor::Guidance,
        },
        Command::AcceptLesson {
            id: 0,
            post_in: None,
            article: None,
            question: None,
        },
        Command::DeclineLesson {
            id: 0,
            reason: "".into(),
        },
        Command::LinkInitiative {
            name: "".into(),
            description: "".into(),
        },
        Command::SetSponsor { person: someone },
        Command::Assign {
            person: someone,
            partner: None,
        },
        Command::Unassign { person: someone },
        Command::PlanDiscovery { weeks: 0 },
        Command::SignOff {
            document: "".into(),
            sha256: "".into(),
        },
        Command::ReturnToProgramme,
        Command::ScheduleWorkshop {
            id: None,
            plan: WorkshopPlan {
                retro: false,
                title: "".into(),
                date: "".into(),
                time: "".into(),
                timezone: "".into(),
                minutes: 0,
                location: None,
                link: None,
                agenda: "".into(),
                attendees: Vec::new(),
            },
        },
        Command::CancelWorkshop { id: 0 },
        Command::RecordWorkshopNotes {
            id: 0,
            notes: WorkshopNotes::default(),
        },
        Command::SaveArtefact {
            artefact: Artefact::ExecutionPlan { text: "".into() },
        },
        Command::IssueLetter {
            kind: LetterKind::LetterOfIntent,
            sha256: "".into(),
        },
        Command::SetOwner {
            item: Item::Risk { id: 0 },
            owner: None,
            due: None,
        },
        Command::AttachDocument {
            file: 0,
            title: "".into(),
            name: "".into(),
            content_type: "".into(),
            size: 0,
            sha256: "".into(),
        },
        Command::Comment {
            about: crate::discussion::Anchor::Engagement,
            body: "".into(),
        },
        Command::EditComment {
            id: 0,
            body: "".into(),
        },
        Command::HideComment {
            id: 0,
            reason: "".into(),
        },
    ]
}

/// Whether `actor` may start an engagement for `agency`: the programme team
/// for any agency, agency staff for their own.
pub fn may_start(actor: &Actor, agency: crate::people::AgencyId) -> bool {
    actor.is_programme() || actor.member_of(agency)
}

/// `may`, with the reason when not.
pub fn permission(actor: &Actor, e: &Engagement, cmd: &Command) -> Result<(), DomainError> {
    permitted(actor.access(e), cmd)?;
    // On the agency's side only the current sponsor hands the role over;
    // with none named, a holder of the agency's sponsor role (which the
    // programme grants) may name one. Nobody takes it.
    if matches!(cmd, Command::SetSponsor { .. })
        && !actor.is_programme()
        && e.sponsor != Some(actor.person)
        && !(e.sponsor.is_none() && actor.sponsor_of(e.agency))
    {
        return Err(DomainError::Forbidden {
            action: "set_sponsor",
            why: "only the current executive sponsor hands the role over; the programme team names a new one",
        });
    }
    // A letter binds the agency: only the executive sponsor named on the
    // engagement signs it, never someone on the agency's behalf.
    if let Command::SignOff { document, .. } = cmd
        && LetterKind::from_slug(document.as_str().trim()).is_some()
        && e.sponsor != Some(actor.person)
    {
        return Err(DomainError::Forbidden {
            action: "sign_off",
            why: "a letter is signed by the agency's executive sponsor named on the engagement",
        });
    }
    // A comment's words are its author's: nobody else writes a new
    // version (the programme hides one instead).
    if let Command::EditComment { id, .. } = cmd
        && e.comments
            .iter()
            .any(|c| c.id == *id && c.author != actor.person)
    {
        return Err(DomainError::Forbidden {
            action: "edit_comment",
            why: "only the person who wrote a comment edits it",
        });
    }
    if e.mode == Mode::DoItYourself && !matches!(cmd, Command::ReturnToProgramme) {
        return Err(DomainError::rule(
            "this engagement is Do it Yourself: programme support has ended, so the record is read-only until the programme team brings it back",
        ));
    }
    Ok(())
}

/// Who may give which command, by their standing on the engagement.
fn permitted(access: Access, cmd: &Command) -> Result<(), DomainError> {
    use Command::*;
    let deny = |why| {
        Err(DomainError::Forbidden {
            action: cmd.name(),
            why,
        })
    };
    match access {
        Access::None => Err(DomainError::NotFound),
        Access::Programme => Ok(()),
        Access::Agency { sponsor } => match cmd {
            Assign { .. } | Unassign { .. } => {
                deny("the programme team assigns people to engagements")
            }
            ReturnToProgramme => {
                deny("the programme team decides when an engagement returns to the programme")
            }
            SignOff { .. } if !sponsor => {
                deny("only the executive sponsor or the programme team signs off")
            }
            SetSponsor { .. } if !sponsor => deny(
                "the programme team names the executive sponsor, or the current sponsor hands the role over",
            ),
            IssueLetter { .. } => deny("the programme team issues letters"),
            AcceptLesson { .. } | DeclineLesson { .. } => {
                deny("the programme team answers proposed lessons")
            }
            HideComment { .. } => deny("only the programme team hides a comment"),
            _ => Ok(()),
        },
        Access::Partner => match cmd {
            SetStep { .. }
            | SkipStep { .. }
            | CheckSuccess { .. }
            | AddRisk { .. }
            | AddBenefit { .. }
            | ChangeBenefit { .. }
            | RecordReading { .. }
            | AdoptBenefits { .. }
            | RecordLesson { .. }
            | ProposeLesson { .. }
            | LinkInitiative { .. }
            | RecordWorkshopNotes { .. }
            | SaveArtefact { .. }
            | SetOwner { .. }
            | AttachDocument { .. }
            | Comment { .. }
            | EditComment { .. } => Ok(()),
            Decide { .. } => {
                deny("partners advise, but the agency and the programme make decisions")
            }
            SignOff { .. } => deny("only the executive sponsor or the programme team signs off"),
            _ => deny("partners may record progress, risks and benefits only"),
        },
    }
}

fn model_stage<'m>(model: &'m Model, slug: &Slug) -> Result<&'m Stage, DomainError> {
    let slug = slug.required("stage")?;
    model.stage(&slug).ok_or_else(|| {
        let known: Vec<&str> = model.stages.iter().map(|s| s.slug.as_str()).collect();
        DomainError::invalid(
            "stage",
            format!("there is no stage “{slug}” (stages: {})", known.join(", ")),
        )
    })
}

/// Events that enter `slug`: a first cycle, or a new one after it ended.
fn enter(e: &Engagement, slug: &str) -> Vec<Event> {
    let rec = e.stage(slug);
    match rec.map(|r| r.status) {
        Some(StageStatus::Active) => Vec::new(),
        _ => vec![Event::StageEntered {
            stage: slug.to_string(),
            cycle: rec.map_or(0, |r| r.cycles) + 1,
        }],
    }
}

/// The risks skipping step `step` of `s` raises: the stage's "risks if
/// ignored" (or one saying the step was skipped), each once while it is
/// open, numbered from `id`.
pub(crate) fn skip_risks(
    e: &Engagement,
    s: &waymark_model::Stage,
    step: u32,
    mut id: u32,
) -> Vec<Event> {
    let stage = &s.slug;
    let texts: Vec<String> = if s.risks.is_empty() {
        vec![format!("Step {step} of {} was skipped.", s.name)]
    } else {
        s.risks.iter().map(|r| r.text().to_string()).collect()
    };
    let mut out = Vec::new();
    for t in texts {
        let open = e
            .risks
            .iter()
            .any(|r| r.open && r.text == t && r.stage.as_deref() == Some(stage.as_str()));
        if !open {
            out.push(Event::RiskRaised {
                id,
                text: t,
                stage: Some(stage.clone()),
                source: RiskSource::Skipped {
                    stage: stage.clone(),
                    step,
                },
            });
            id += 1;
        }
    }
    out
}

fn all_active_exit(e: &Engagement) -> Vec<Event> {
    e.active_stages()
        .map(|s| Event::StageExited {
            stage: s.stage.clone(),
        })
        .collect()
}

/// Judges `cmd`, given by `actor`, against `e` on `model` (the model version
/// the engagement pinned). `people` holds the people the command names
/// ([`Command::people`]) as the directory has them now; anyone missing from
/// it does not exist.
pub fn decide(
    model: &Model,
    e: &Engagement,
    actor: &Actor,
    people: &[Person],
    cmd: &Command,
) -> Result<Vec<Event>, DomainError> {
    permission(actor, e, cmd)?;
    if let Some(first) = cmd.text_problems().into_iter().next() {
        return Err(first);
    }
    let mut ev = Vec::new();
    match cmd {
        Command::StartStage { stage } => {
            let stage = &model_stage(model, stage)?.slug;
            ev = enter(e, stage);
            if ev.is_empty() {
                return Err(DomainError::rule(format!(
                    "the stage “{stage}” is already active"
                )));
            }
        }
        Command::CompleteStage { stage } => {
            let stage = &model_stage(model, stage)?.slug;
            if e.stage(stage).map(|s| s.status) != Some(StageStatus::Active) {
                return Err(DomainError::rule(format!(
                    "the stage “{stage}” is not active, so it cannot be completed"
                )));
            }
            ev.push(Event::StageCompleted {
                stage: stage.clone(),
            });
        }
        Command::SetStep {
            stage,
            step,
            status,
        } => {
            if matches!(status, StepStatus::Skipped { .. }) {
                return Err(DomainError::invalid(
                    "status",
                    "to skip a step, give a reason with skip_step",
                ));
            }
            ev = step_events(model_stage(model, stage)?, e, *step, status.clone())?;
        }
        Command::SkipStep {
            stage,
            step,
            reason,
        } => {
            let reason = reason.check("reason")?;
            if reason.is_empty() {
                return Err(DomainError::invalid(
                    "reason",
                    "a skipped step needs a reason, so the record shows why",
                ));
            }
            let s = model_stage(model, stage)?;
            ev = step_events(
                s,
                e,
                *step,
                StepStatus::Skipped {
                    reason: reason.into_string(),
                },
            )?;
            // Skipping raises the stage's "risks if ignored", once each,
            // unless the journey is tailored so that the step is optional.
            let essential = s
                .steps
                .iter()
                .find(|m| m.number == *step)
                .is_none_or(|m| e.relevance(m).essential());
            if essential {
                ev.extend(skip_risks(e, s, *step, e.next_risk_id()));
            }
        }
        Command::Decide {
            stage,
            at,
            option,
            rationale,
            funded_by,
            note,
        } => {
            let s = model_stage(model, stage)?;
            let stage = &s.slug;
            let rationale = rationale.required("rationale")?.into_string();
            let note = Text::optional(note, "note")?.map(Text::into_string);
            let (question, options): (String, &[Choice]) = match at {
                DecisionAt::Point { index } => {
                    let d = s.decisions.get(*index).ok_or_else(|| {
                        DomainError::invalid(
                            "at",
                            format!("{} has {} decision point(s)", s.name, s.decisions.len()),
                        )
                    })?;
                    (d.question.clone(), &d.choices.options)
                }
                DecisionAt::Exit => (format!("Next steps after {}", s.name), &s.exits),
            };
            let chosen = options.get(*option).ok_or_else(|| {
                DomainError::invalid(
                    "option",
                    format!(
                        "choose one of the {} options the model offers here",
                        options.len()
                    ),
                )
            })?;
            ev.push(Event::Decided {
                stage: stage.clone(),
                at: *at,
                question,
                option: *option,
                option_text: chosen.text().to_string(),
                effect: chosen.effect.clone(),
                rationale,
                funded_by: *funded_by,
                note,
            });
            let leaving = matches!(at, DecisionAt::Exit)
                && e.stage(stage).map(|r| r.status) == Some(StageStatus::Active);
            match &chosen.effect {
                Effect::EnterStage { stage: target } if target == stage && leaving => {
                    // "Deploy again": this cycle ends and the next begins.
                    ev.push(Event::StageCompleted {
                        stage: stage.clone(),
                    });
                    let cycles = e.stage(stage).map_or(0, |r| r.cycles);
                    ev.push(Event::StageEntered {
                        stage: stage.clone(),
                        cycle: cycles + 1,
                    });
                }
                Effect::EnterStage { stage: target } => {
                    if leaving {
                        ev.push(Event::StageCompleted {
                            stage: stage.clone(),
                        });
                    }
                    if model.stage(target).is_some() {
                        ev.extend(enter(e, target));
                    }
                }
                Effect::DoItYourself => {
                    ev.extend(all_active_exit(e));
                    ev.push(Event::ModeChanged {
                        mode: Mode::DoItYourself,
                    });
                }
                Effect::Exit => ev.extend(all_active_exit(e)),
                Effect::Unspecified => {
                    if leaving {
                        ev.push(Event::StageCompleted {
                            stage: stage.clone(),
                        });
                    }
                }
            }
        }
        Command::CheckSuccess {
            stage,
            criterion,
            evidence,
        } => {
            let s = model_stage(model, stage)?;
            let stage = &s.slug;
            let c = s.success.get(*criterion).ok_or_else(|| {
                DomainError::invalid(
                    "criterion",
                    format!("{} has {} success criteria", s.name, s.success.len()),
                )
            })?;
            if s.met_by.iter().any(|m| m.criterion == *criterion) {
                return Err(DomainError::invalid(
                    "criterion",
                    "this criterion is met by a recorded fact (a signature or a decision), not ticked by hand",
                ));
            }
            ev.push(Event::SuccessChecked {
                stage: stage.clone(),
                criterion: *criterion,
                text: c.text().to_string(),
                evidence: evidence.required("evidence")?.into_string(),
            });
        }
        Command::AddRisk { text, stage } => {
            let text = text.required("text")?.into_string();
            let stage = match Line::optional(stage, "stage")? {
                Some(s) => Some(model_stage(model, &s)?.slug.clone()),
                None => None,
            };
            ev.push(Event::RiskRaised {
                id: e.next_risk_id(),
                text,
                stage,
                source: RiskSource::Manual,
            });
        }
        Command::CloseRisk { id, note } => {
            match e.risks.iter().find(|r| r.id == *id) {
                None => return Err(DomainError::invalid("id", format!("there is no risk {id}"))),
                Some(r) if !r.open => {
                    return Err(DomainError::rule(format!("risk {id} is already closed")));
                }
                Some(_) => {}
            }
            ev.push(Event::RiskClosed {
                id: *id,
                note: note.required("note")?.into_string(),
            });
        }
        Command::AddBenefit {
            text,
            measure,
            plan,
        } => {
            let (text, measure, plan) = benefit_definition(e, people, text, measure, plan, None)?;
            ev.push(Event::BenefitAdded {
                text,
                measure,
                plan,
                source: None,
            });
        }
        Command::ChangeBenefit {
            id,
            text,
            measure,
            plan,
        } => {
            let b = registered(e, *id)?;
            let (text, measure, plan) =
                benefit_definition(e, people, text, measure, plan, b.plan.owner)?;
            if let Some(first) = b.effective().first() {
                if plan.unit != b.plan.unit {
                    return Err(DomainError::invalid(
                        "unit",
                        format!(
                            "benefit {id} already has readings in {}, so its unit stays; add a new benefit to measure in another unit",
                            b.plan.unit.as_deref().unwrap_or("plain numbers")
                        ),
                    ));
                }
                if plan.baseline.as_ref().is_some_and(|p| p.date > first.date) {
                    return Err(DomainError::invalid(
                        "baseline_date",
                        format!(
                            "benefit {id} has a reading dated {}, before this baseline date",
                            first.date
                        ),
                    ));
                }
            }
            if b.text == text && b.measure == measure && b.plan == plan {
                return Err(DomainError::rule(
                    "nothing changed: the benefit already reads like this",
                ));
            }
            ev.push(Event::BenefitChanged {
                id: *id,
                text,
                measure,
                plan,
            });
        }
        Command::RecordReading {
            id,
            value,
            date,
            note,
        } => {
            let b = registered(e, *id)?;
            let (value, date) = crate::benefit::reading(b, value, date)?;
            ev.push(Event::BenefitReadingRecorded {
                id: *id,
                value,
                date,
                note: Text::optional(note, "note")?.map(Text::into_string),
            });
        }
        Command::AdoptBenefits { stage } => {
            let s = model_stage(model, stage)?;
            for (index, text) in crate::benefit::unadopted(e, s) {
                ev.push(Event::BenefitAdded {
                    text: text.to_string(),
                    measure: None,
                    plan: crate::benefit::Plan::default(),
                    source: Some(crate::benefit::Source {
                        stage: s.slug.clone(),
                        index,
                    }),
                });
            }
            if ev.is_empty() {
                return Err(DomainError::rule(if s.benefits.is_empty() {
                    format!("the model names no benefits for {}", s.name)
                } else {
                    format!("every benefit {} names is already on the register", s.name)
                }));
            }
        }
        Command::RecordLesson {
            workshop,
            kind,
            text,
            stage,
            step,
        } => ev.push(crate::lesson::record(
            model, e, *workshop, *kind, text, stage, *step,
        )?),
        Command::ProposeLesson { id, target } => ev.push(crate::lesson::propose(e, *id, *target)?),
        Command::AcceptLesson {
            id,
            post_in,
            article,
            question,
        } => {
            if let Some(c) = post_in {
                c.required("post_in")?;
            }
            ev.push(crate::lesson::accept(e, *id, *article, *question)?)
        }
        Command::DeclineLesson { id, reason } => ev.push(crate::lesson::decline(e, *id, reason)?),
        Command::LinkInitiative { name, description } => ev.push(Event::InitiativeLinked {
            name: name.required("name")?.into_string(),
            description: description.check("description")?.into_string(),
        }),
        Command::SetSponsor { person } => {
            let p = named(
                people,
                *person,
                "person",
                |p| {
                    p.roles.iter().any(
                        |r| matches!(r, Role::AgencyMember { agency, .. } if *agency == e.agency),
                    )
                },
                "a member of this engagement's agency",
            )?;
            if e.sponsor == Some(p.id) {
                return Err(DomainError::rule(format!(
                    "{} is already the executive sponsor",
                    p.name
                )));
            }
            ev.push(Event::SponsorSet { person: p.id });
        }
        Command::Assign { person, partner } => {
            named(
                people,
                *person,
                "person",
                |p| {
                    p.roles.iter().any(|r| match (r, partner) {
                        (Role::Partner { kind }, Some(wanted)) => kind == wanted,
                        (Role::Partner { .. }, None) => true,
                        _ => false,
                    })
                },
                match partner {
                    None => "a partner",
                    Some(PartnerKind::Strategy) => "a strategy partner",
                    Some(PartnerKind::Technology) => "a technology partner",
                    Some(PartnerKind::ChangeManagement) => "a change management partner",
                },
            )?;
            if e.assigned.iter().any(|a| a.person == *person) {
                return Err(DomainError::rule(format!(
                    "person {person} is already assigned"
                )));
            }
            ev.push(Event::Assigned {
                person: *person,
                partner: *partner,
            });
        }
        Command::Unassign { person } => {
            if !e.assigned.iter().any(|a| a.person == *person) {
                return Err(DomainError::rule(format!(
                    "person {person} is not assigned"
                )));
            }
            ev.push(Event::Unassigned { person: *person });
        }
        Command::SetOwner { item, owner, due } => {
            match item {
                Item::Step { stage, step } => {
                    let s = model_stage(model, &Slug::from(stage.as_str()))?;
                    if !s.steps.iter().any(|x| x.number == *step) {
                        return Err(DomainError::invalid(
                            "step",
                            format!("{} has no step {step}", s.name),
                        ));
                    }
                }
                Item::Risk { id } => {
                    if !e.risks.iter().any(|r| r.id == *id) {
                        return Err(DomainError::invalid("id", format!("there is no risk {id}")));
                    }
                }
            }
            if let Some(p) = owner {
                named(
                    people,
                    *p,
                    "owner",
                    |p| takes_part(e, p),
                    "someone who takes part in this engagement",
                )?;
            }
            let due = match due {
                Some(d) if !d.as_str().trim().is_empty() => {
                    let d = d.check("due")?;
                    let (y, m, d) = records::parse_date("due", d.as_str())?;
                    Some(format!("{y:04}-{m:02}-{d:02}"))
                }
                _ => None,
            };
            let item = match item {
                Item::Step { stage, step } => Item::Step {
                    stage: model_stage(model, &Slug::from(stage.as_str()))?
                        .slug
                        .clone(),
                    step: *step,
                },
                other => other.clone(),
            };
            let now = e.ownership(&item);
            if now.map(|o| (o.owner, o.due.as_deref())) == Some((*owner, due.as_deref()))
                || (now.is_none() && owner.is_none() && due.is_none())
            {
                return Err(DomainError::rule(
                    "nothing changed: that is already its owner and due date",
                ));
            }
            ev.push(Event::OwnerSet {
                item,
                owner: *owner,
                due,
            });
        }
        Command::PlanDiscovery { weeks } => {
            if !(1..=52).contains(weeks) {
                let meant = model
                    .stage(DISCOVERY)
                    .and_then(|s| s.timebox)
                    .map(|t| format!(" (Discovery is meant to take {})", t.describe()))
                    .unwrap_or_default();
                return Err(DomainError::invalid(
                    "weeks",
                    format!("plan between 1 and 52 weeks{meant}"),
                ));
            }
            ev.push(Event::DiscoveryPlanned { weeks: *weeks });
        }
        Command::SignOff { document, sha256 } => {
            let document = document.required("document")?.into_string();
            let sha256 = &check_sha256(sha256)?;
            // What is signed must be on the record: a letter's version, or
            // a document uploaded to this engagement, named by its hash.
            if LetterKind::from_slug(&document).is_none()
                && !e.documents.iter().any(|d| &d.sha256 == sha256)
            {
                return Err(DomainError::invalid(
                    "sha256",
                    "no document on this engagement has that SHA-256; sign a letter or an uploaded document",
                ));
            }
            if let Some(kind) = LetterKind::from_slug(&document) {
                match e.letters.iter().rev().find(|l| l.kind == kind) {
                    None => {
                        return Err(DomainError::rule(format!(
                            "there is no {} to sign yet",
                            kind.title()
                        )));
                    }
                    Some(l) if &l.sha256 != sha256 => {
                        return Err(DomainError::rule(format!(
                            "this is not the latest version of the {}: version {} is, so sign that",
                            kind.title(),
                            l.version
                        )));
                    }
                    Some(_) => {}
                }
                if e.signoffs
                    .iter()
                    .any(|s| !s.superseded && s.document == document && &s.sha256 == sha256)
                {
                    return Err(DomainError::rule(format!(
                        "this version of the {} is already signed",
                        kind.title()
                    )));
                }
            }
            ev.push(Event::SignedOff {
                document,
                sha256: sha256.clone(),
            });
        }
        Command::ScheduleWorkshop { id, plan } => ev.push(records::schedule(e, people, *id, plan)?),
        Command::CancelWorkshop { id } => {
            let w = records::workshop(e, *id)?;
            ev.push(Event::WorkshopCancelled {
                id: *id,
                sequence: w.sequence + 1,
            });
        }
        Command::RecordWorkshopNotes { id, notes } => {
            if !e.workshops.iter().any(|w| w.id == *id) {
                return Err(DomainError::invalid(
                    "id",
                    format!("there is no workshop {id}"),
                ));
            }
            ev.push(Event::WorkshopNotesRecorded {
                id: *id,
                notes: records::notes(notes)?,
            });
        }
        Command::SaveArtefact { artefact } => ev.push(Event::ArtefactSaved {
            artefact: records::artefact(e, artefact)?,
        }),
        Command::IssueLetter { kind, sha256 } => {
            let sha256 = &check_sha256(sha256)?;
            let latest = e.letters.iter().rev().find(|l| l.kind == *kind);
            if latest.is_some_and(|l| &l.sha256 == sha256) {
                return Err(DomainError::rule(format!(
                    "the {} has not changed since version {}",
                    kind.title(),
                    latest.map_or(0, |l| l.version)
                )));
            }
            ev.push(Event::LetterIssued {
                kind: *kind,
                version: latest.map_or(0, |l| l.version) + 1,
                sha256: sha256.clone(),
            });
        }
        Command::AttachDocument {
            file,
            title,
            name,
            content_type,
            size,
            sha256,
        } => {
            let sha256 = &check_sha256(sha256)?;
            ev.push(Event::DocumentAttached {
                file: *file,
                title: title.required("title")?.into_string(),
                name: name.required("name")?.into_string(),
                content_type: content_type.required("content_type")?.into_string(),
                size: *size,
                sha256: sha256.clone(),
            });
        }
        Command::ReturnToProgramme => {
            if e.mode != Mode::DoItYourself {
                return Err(DomainError::rule(
                    "this engagement is already in the programme",
                ));
            }
            ev.push(Event::ModeChanged {
                mode: Mode::DoItWithYou,
            });
        }
        Command::Comment { about, body } => {
            ev.push(crate::discussion::comment(
                model, e, actor, people, about, body,
            )?);
        }
        Command::EditComment { id, body } => {
            ev.push(crate::discussion::edit(e, actor, people, *id, body)?);
        }
        Command::HideComment { id, reason } => {
            ev.push(crate::discussion::hide(e, actor, *id, reason)?);
        }
    }
    Ok(ev)
}

/// Benefit `id` of `e`, or a field error naming the register's size.
fn registered(e: &Engagement, id: u32) -> Result<&crate::benefit::Benefit, DomainError> {
    e.benefit(id).ok_or_else(|| {
        DomainError::invalid(
            "id",
            match e.benefits.len() {
                0 => format!("there is no benefit {id}: the register is empty"),
                n => format!("there is no benefit {id}: the register numbers them 1 to {n}"),
            },
        )
    })
}

/// A benefit's words and plan, checked; a new owner must take part (the
/// owner it has, `kept`, stays even after they have left, so changing the
/// words never drops them unasked).
fn benefit_definition(
    e: &Engagement,
    people: &[Person],
    text: &Text<2000>,
    measure: &Option<Text<2000>>,
    input: &PlanInput,
    kept: Option<PersonId>,
) -> Result<(String, Option<String>, crate::benefit::Plan), DomainError> {
    let text = text.required("text")?.into_string();
    let measure = Text::optional(measure, "measure")?.map(Text::into_string);
    let plan = crate::benefit::plan(input).map_err(|mut p| p.remove(0))?;
    if let Some(owner) = plan.owner
        && Some(owner) != kept
    {
        named(
            people,
            owner,
            "owner",
            |p| takes_part(e, p),
            "someone who takes part in this engagement",
        )?;
    }
    Ok((text, measure, plan))
}

fn check_sha256(sha256: &Sha256) -> Result<String, DomainError> {
    let sha256 = sha256.check("sha256")?;
    if sha256.len() != 64
        || !sha256
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(DomainError::invalid(
            "sha256",
            "must be 64 lowercase hexadecimal characters",
        ));
    }
    Ok(sha256.into_string())
}

fn check_step(s: &Stage, step: u32) -> Result<(), DomainError> {
    if s.steps.iter().any(|st| st.number == step) {
        Ok(())
    } else {
        let known: Vec<String> = s.steps.iter().map(|st| st.number.to_string()).collect();
        Err(DomainError::invalid(
            "step",
            format!(
                "{} has no step {step} (its steps: {})",
                s.name,
                known.join(", ")
            ),
        ))
    }
}

/// Sets a step's status in the stage's current cycle, entering the stage
/// first if it is not active (stages are fluid: work on a step starts it).
fn step_events(
    s: &Stage,
    e: &Engagement,
    step: u32,
    status: StepStatus,
) -> Result<Vec<Event>, DomainError> {
    check_step(s, step)?;
    let stage = s.slug.as_str();
    let mut ev = enter(e, stage);
    ev.push(Event::StepSet {
        stage: stage.to_string(),
        step,
        cycle: cycle_after(e, stage, &ev),
        status,
    });
    Ok(ev)
}

/// The stage's cycle once `pending` events (which may enter it) are applied.
fn cycle_after(e: &Engagement, stage: &str, pending: &[Event]) -> u32 {
    pending
        .iter()
        .rev()
        .find_map(|ev| match ev {
            Event::StageEntered { stage: s, cycle } if s == stage => Some(*cycle),
            _ => None,
        })
        .unwrap_or_else(|| e.stage(stage).map_or(0, |r| r.cycles))
}

/// The events that open a new engagement for `agency` on `model`. Programme
/// staff may start any; agency members only their own agency's.
pub fn start(
    model: &Model,
    model_hash: &str,
    agency: crate::people::AgencyId,
    actor: &Actor,
    mode: Mode,
) -> Result<Vec<Event>, DomainError> {
    if !may_start(actor, agency) {
        return Err(DomainError::Forbidden {
            action: "start",
            why: "only the programme team or the agency's own staff start its engagements",
        });
    }
    if model.stages.is_empty() {
        return Err(DomainError::rule(
            "the model has no stages, so an engagement cannot start",
        ));
    }
    let first = model.stages[0].slug.clone();
    Ok(vec![
        Event::Started {
            agency,
            mode,
            model_hash: model_hash.to_string(),
            stages: model.stages.iter().map(|s| s.slug.clone()).collect(),
        },
        Event::StageEntered {
            stage: first,
            cycle: 1,
        },
    ])
}
