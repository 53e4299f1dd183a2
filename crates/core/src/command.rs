//! Commands and the one function that judges them.
//!
//! [`decide`] checks a command against the actor's access, the engagement's
//! state and the pinned model, and returns the events to record, or a
//! [`DomainError`] that says what is wrong. It changes nothing itself.

use serde::{Deserialize, Serialize};
use waymark_model::{Choice, Effect, Model, Stage};

use crate::access::{Access, Actor, PartnerKind};
use crate::engagement::{Engagement, Event, Mode, RiskSource, StageStatus, StepStatus};
use crate::error::DomainError;
use crate::people::PersonId;
use crate::records::{self, Artefact, LetterKind, WorkshopNotes, WorkshopPlan, optional, text};

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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    StartStage {
        stage: String,
    },
    CompleteStage {
        stage: String,
    },
    /// Mark a step to do, in progress or done (skipping is [`Command::SkipStep`]).
    SetStep {
        stage: String,
        step: u32,
        status: StepStatus,
    },
    SkipStep {
        stage: String,
        step: u32,
        reason: String,
    },
    Decide {
        stage: String,
        at: DecisionAt,
        option: usize,
        rationale: String,
        funded_by: Funder,
        note: Option<String>,
    },
    CheckSuccess {
        stage: String,
        criterion: usize,
        evidence: String,
    },
    AddRisk {
        text: String,
        stage: Option<String>,
    },
    CloseRisk {
        id: u32,
        note: String,
    },
    AddBenefit {
        text: String,
        measure: Option<String>,
    },
    LinkInitiative {
        name: String,
        description: String,
    },
    SetSponsor {
        person: PersonId,
    },
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
        document: String,
        sha256: String,
    },
    /// Bring a Do it Yourself engagement back into the programme.
    ReturnToProgramme,
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
        sha256: String,
    },
    /// Record a file the store keeps against the engagement.
    AttachDocument {
        file: i64,
        title: String,
        name: String,
        content_type: String,
        size: u64,
        sha256: String,
    },
}

impl Command {
    /// Every kind of command, for exhaustive permission tests and API docs.
    pub const NAMES: [&'static str; 23] = [
        "start_stage",
        "complete_stage",
        "set_step",
        "skip_step",
        "decide",
        "check_success",
        "add_risk",
        "close_risk",
        "add_benefit",
        "link_initiative",
        "set_sponsor",
        "assign",
        "unassign",
        "plan_discovery",
        "sign_off",
        "return_to_programme",
        "schedule_workshop",
        "cancel_workshop",
        "record_workshop_notes",
        "save_artefact",
        "issue_letter",
        "attach_document",
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
            Command::LinkInitiative { .. } => "link_initiative",
            Command::SetSponsor { .. } => "set_sponsor",
            Command::Assign { .. } => "assign",
            Command::Unassign { .. } => "unassign",
            Command::PlanDiscovery { .. } => "plan_discovery",
            Command::SignOff { .. } => "sign_off",
            Command::ReturnToProgramme => "return_to_programme",
            Command::ScheduleWorkshop { .. } => "schedule_workshop",
            Command::CancelWorkshop { .. } => "cancel_workshop",
            Command::RecordWorkshopNotes { .. } => "record_workshop_notes",
            Command::SaveArtefact { .. } => "save_artefact",
            Command::IssueLetter { .. } => "issue_letter",
            Command::AttachDocument { .. } => "attach_document",
        }
    }
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
            IssueLetter { .. } => deny("the programme team issues letters"),
            _ => Ok(()),
        },
        Access::Partner => match cmd {
            SetStep { .. }
            | SkipStep { .. }
            | CheckSuccess { .. }
            | AddRisk { .. }
            | AddBenefit { .. }
            | LinkInitiative { .. }
            | RecordWorkshopNotes { .. }
            | SaveArtefact { .. }
            | AttachDocument { .. } => Ok(()),
            Decide { .. } => {
                deny("partners advise, but the agency and the programme make decisions")
            }
            SignOff { .. } => deny("only the executive sponsor or the programme team signs off"),
            _ => deny("partners may record progress, risks and benefits only"),
        },
    }
}

fn model_stage<'m>(model: &'m Model, slug: &str) -> Result<&'m Stage, DomainError> {
    model.stage(slug).ok_or_else(|| {
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

fn all_active_exit(e: &Engagement) -> Vec<Event> {
    e.active_stages()
        .map(|s| Event::StageExited {
            stage: s.stage.clone(),
        })
        .collect()
}

/// Judges `cmd`, given by `actor`, against `e` on `model` (the model version
/// the engagement pinned).
pub fn decide(
    model: &Model,
    e: &Engagement,
    actor: &Actor,
    cmd: &Command,
) -> Result<Vec<Event>, DomainError> {
    permitted(actor.access(e), cmd)?;
    if e.mode == Mode::DoItYourself && !matches!(cmd, Command::ReturnToProgramme) {
        return Err(DomainError::rule(
            "this engagement is Do it Yourself: programme support has ended, so the record is read-only until the programme team brings it back",
        ));
    }
    let mut ev = Vec::new();
    match cmd {
        Command::StartStage { stage } => {
            model_stage(model, stage)?;
            ev = enter(e, stage);
            if ev.is_empty() {
                return Err(DomainError::rule(format!(
                    "the stage “{stage}” is already active"
                )));
            }
        }
        Command::CompleteStage { stage } => {
            model_stage(model, stage)?;
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
            ev = step_events(model, e, stage, *step, status.clone())?;
        }
        Command::SkipStep {
            stage,
            step,
            reason,
        } => {
            let reason = text("reason", reason, 2000).map_err(|_| {
                DomainError::invalid(
                    "reason",
                    "a skipped step needs a reason, so the record shows why",
                )
            })?;
            ev = step_events(model, e, stage, *step, StepStatus::Skipped { reason })?;
            let s = model_stage(model, stage)?;
            // Skipping raises the stage's "risks if ignored", once each.
            let mut id = e.next_risk_id();
            let texts: Vec<String> = if s.risks.is_empty() {
                vec![format!("Step {step} of {} was skipped.", s.name)]
            } else {
                s.risks.iter().map(|r| r.text().to_string()).collect()
            };
            for t in texts {
                let open = e
                    .risks
                    .iter()
                    .any(|r| r.open && r.text == t && r.stage.as_deref() == Some(stage));
                if !open {
                    ev.push(Event::RiskRaised {
                        id,
                        text: t,
                        stage: Some(stage.clone()),
                        source: RiskSource::Skipped {
                            stage: stage.clone(),
                            step: *step,
                        },
                    });
                    id += 1;
                }
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
            let rationale = text("rationale", rationale, 4000)?;
            let note = optional("note", note, 4000)?;
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
            let c = s.success.get(*criterion).ok_or_else(|| {
                DomainError::invalid(
                    "criterion",
                    format!("{} has {} success criteria", s.name, s.success.len()),
                )
            })?;
            ev.push(Event::SuccessChecked {
                stage: stage.clone(),
                criterion: *criterion,
                text: c.text().to_string(),
                evidence: text("evidence", evidence, 4000)?,
            });
        }
        Command::AddRisk { text: t, stage } => {
            if let Some(s) = stage {
                model_stage(model, s)?;
            }
            ev.push(Event::RiskRaised {
                id: e.next_risk_id(),
                text: text("text", t, 2000)?,
                stage: stage.clone(),
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
                note: text("note", note, 4000)?,
            });
        }
        Command::AddBenefit { text: t, measure } => ev.push(Event::BenefitAdded {
            text: text("text", t, 2000)?,
            measure: optional("measure", measure, 2000)?,
        }),
        Command::LinkInitiative { name, description } => ev.push(Event::InitiativeLinked {
            name: text("name", name, 200)?,
            description: description.trim().to_string(),
        }),
        Command::SetSponsor { person } => ev.push(Event::SponsorSet { person: *person }),
        Command::Assign { person, partner } => {
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
        Command::PlanDiscovery { weeks } => {
            if !(1..=52).contains(weeks) {
                return Err(DomainError::invalid(
                    "weeks",
                    "plan between 1 and 52 weeks (Discovery is meant to take 4 to 8)",
                ));
            }
            ev.push(Event::DiscoveryPlanned { weeks: *weeks });
        }
        Command::SignOff { document, sha256 } => {
            let document = text("document", document, 200)?;
            check_sha256(sha256)?;
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
        Command::ScheduleWorkshop { id, plan } => ev.push(records::schedule(e, *id, plan)?),
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
            check_sha256(sha256)?;
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
            check_sha256(sha256)?;
            ev.push(Event::DocumentAttached {
                file: *file,
                title: text("title", title, 200)?,
                name: text("name", name, 255)?,
                content_type: text("content_type", content_type, 200)?,
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
    }
    Ok(ev)
}

fn check_sha256(sha256: &str) -> Result<(), DomainError> {
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
    Ok(())
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
    model: &Model,
    e: &Engagement,
    stage: &str,
    step: u32,
    status: StepStatus,
) -> Result<Vec<Event>, DomainError> {
    check_step(model_stage(model, stage)?, step)?;
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
    if !(actor.is_programme() || actor.member_of(agency)) {
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
