//! When a change sent from an older page is a real conflict.
//!
//! A form carries the engagement's version it was shown at. If others have
//! changed the engagement since, the change is refused only when one of
//! those changes touched the same thing (the same step, decision, risk,
//! workshop, letter, …); otherwise the core decides the command again
//! against the current state, so no rule is bypassed. A stale change to the
//! same thing is never merged.

use crate::command::{Command, DecisionAt};
use crate::engagement::Event;
use crate::people::PersonId;

/// What a command or an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target<'a> {
    /// A stage as a whole: entering, completing or closing it.
    Stage(&'a str),
    Step(&'a str, u32),
    Decision(&'a str, DecisionAt),
    Criterion(&'a str, usize),
    Risk(u32),
    Sponsor,
    Person(PersonId),
    Plan,
    /// Do it With You or Do it Yourself: it changes what every form may do.
    Mode,
    Workshop(u32),
    Letter(&'a str),
    Delivery,
    /// Who owns a step, and by when.
    StepOwner(&'a str, u32),
    /// Who owns a risk, and by when.
    RiskOwner(u32),
    /// Anything at all (what a letter says depends on the whole record).
    Everything,
    /// A comment of the discussion.
    Comment(u32),
    /// A benefit's words and plan.
    Benefit(u32),
    /// A lesson's proposal and its answer.
    Lesson(u32),
}

/// An ownership's target, by the names `decide` uses.
fn owner(item: &crate::command::Item) -> Target<'_> {
    match item {
        crate::command::Item::Step { stage, step } => Target::StepOwner(stage.trim(), *step),
        crate::command::Item::Risk { id } => Target::RiskOwner(*id),
    }
}

/// What a command reads and changes. An empty list: it only adds something
/// new (a risk, a benefit, a workshop, a document), so nothing it relies on
/// can have changed under it.
fn command_targets(cmd: &Command) -> Vec<Target<'_>> {
    use Target::*;
    // Names as the command is decided with them: `decide` trims what was
    // sent, so " engagement" is about the stage "engagement".
    fn name(s: &str) -> &str {
        s.trim()
    }
    match cmd {
        Command::StartStage { stage } | Command::CompleteStage { stage } => {
            vec![Stage(name(stage))]
        }
        // A step's status depends on the stage's cycle too.
        Command::SetStep { stage, step, .. } | Command::SkipStep { stage, step, .. } => {
            vec![Step(name(stage), *step), Stage(name(stage))]
        }
        Command::Decide { stage, at, .. } => {
            vec![Decision(name(stage), *at), Stage(name(stage))]
        }
        Command::CheckSuccess {
            stage, criterion, ..
        } => vec![Criterion(name(stage), *criterion)],
        Command::AddRisk { .. }
        | Command::AddBenefit { .. }
        | Command::AdoptBenefits { .. }
        | Command::RecordLesson { .. }
        | Command::LinkInitiative { .. }
        | Command::ScheduleWorkshop { id: None, .. }
        | Command::AttachDocument { .. } => Vec::new(),
        Command::CloseRisk { id, .. } => vec![Risk(*id)],
        Command::ProposeLesson { id, .. }
        | Command::AcceptLesson { id, .. }
        | Command::DeclineLesson { id, .. } => vec![Lesson(*id)],
        // A reading is read in the benefit's unit: a change to the plan
        // since the page was shown makes it a conflict.
        Command::ChangeBenefit { id, .. } | Command::RecordReading { id, .. } => {
            vec![Benefit(*id)]
        }
        Command::SetSponsor { .. } => vec![Sponsor],
        Command::Assign { person, .. } | Command::Unassign { person } => vec![Person(*person)],
        Command::PlanDiscovery { .. } => vec![Plan],
        Command::SignOff { document, .. } => vec![Letter(name(document))],
        // A letter says what the whole record says: issued from a page
        // older than any change, it would say what its issuer never read.
        Command::IssueLetter { .. } => vec![Everything],
        Command::ReturnToProgramme => vec![Mode],
        Command::ScheduleWorkshop { id: Some(id), .. }
        | Command::CancelWorkshop { id }
        | Command::RecordWorkshopNotes { id, .. } => vec![Workshop(*id)],
        Command::SaveArtefact { .. } => vec![Delivery],
        Command::SetOwner { item, .. } => vec![owner(item)],
        // A new comment only adds; a new version of one, or hiding it, is
        // about that comment.
        Command::Comment { .. } => Vec::new(),
        Command::EditComment { id, .. } | Command::HideComment { id, .. } => vec![Comment(*id)],
    }
}

/// What an event changed; `None` for one that only added something.
fn event_target(e: &Event) -> Option<Target<'_>> {
    use Target::*;
    Some(match e {
        Event::StageEntered { stage, .. }
        | Event::StageCompleted { stage }
        | Event::StageExited { stage } => Stage(stage),
        Event::StepSet { stage, step, .. } => Step(stage, *step),
        Event::Decided { stage, at, .. } => Decision(stage, *at),
        Event::SuccessChecked {
            stage, criterion, ..
        } => Criterion(stage, *criterion),
        Event::RiskRaised { id, .. } | Event::RiskClosed { id, .. } => Risk(*id),
        Event::SponsorSet { .. } => Sponsor,
        Event::Assigned { person, .. } | Event::Unassigned { person } => Person(*person),
        Event::DiscoveryPlanned { .. } => Plan,
        // A page from before a migration shows another model: anything
        // sent from it conflicts.
        Event::ModeChanged { .. } | Event::Migrated { .. } => Mode,
        Event::SignedOff { document, .. } => Letter(document),
        Event::LetterIssued { kind, .. } => Letter(kind.slug()),
        Event::WorkshopScheduled { id, .. }
        | Event::WorkshopCancelled { id, .. }
        | Event::WorkshopNotesRecorded { id, .. } => Workshop(*id),
        Event::ArtefactSaved { .. } => Delivery,
        Event::OwnerSet { item, .. } => owner(item),
        Event::CommentEdited { id, .. } | Event::CommentHidden { id, .. } => Comment(*id),
        Event::BenefitChanged { id, .. } => Benefit(*id),
        Event::LessonProposed { id, .. } | Event::LessonAnswered { id, .. } => Lesson(*id),
        Event::Started { .. }
        | Event::BlueprintRecorded { .. }
        | Event::BenefitAdded { .. }
        // Readings only add.
        | Event::BenefitReadingRecorded { .. }
        | Event::LessonRecorded { .. }
        | Event::InitiativeLinked { .. }
        | Event::DocumentAttached { .. }
        // An attendee's answer changes nothing anyone edits.
        | Event::WorkshopAnswered { .. }
        | Event::Tailored { .. }
        // Talk beside the record changes nothing a form edits.
        | Event::Commented { .. } => return None,
    })
}

/// Whether `cmd`, sent from a page older than `since` (every event written
/// after the version the page showed), is a real conflict: one of those
/// events touched what the command is about, or changed the engagement's
/// mode. When it is not, the command may be decided against the current
/// state.
pub fn conflicts(cmd: &Command, since: &[Event]) -> bool {
    let wants = command_targets(cmd);
    if wants.contains(&Target::Everything) {
        // Everything the record holds; the discussion beside it is not.
        return since.iter().any(|e| {
            !matches!(
                e,
                Event::Commented { .. } | Event::CommentEdited { .. } | Event::CommentHidden { .. }
            )
        });
    }
    since
        .iter()
        .filter_map(event_target)
        .any(|t| t == Target::Mode || wants.contains(&t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engagement::StepStatus;

    fn step_set(stage: &str, step: u32) -> Event {
        Event::StepSet {
            stage: stage.into(),
            step,
            cycle: 1,
            status: StepStatus::Done,
        }
    }

    #[test]
    fn only_the_same_thing_conflicts() {
        let set = |step| Command::SetStep {
            stage: "engagement".into(),
            step,
            status: StepStatus::InProgress,
        };
        let since = [step_set("engagement", 1)];
        assert!(conflicts(&set(1), &since), "the same step");
        assert!(!conflicts(&set(2), &since), "another step");
        assert!(
            !conflicts(&set(1), &[step_set("discovery", 1)]),
            "another stage's step"
        );
        // The stage itself changed under the step: its cycle may differ.
        let completed = [Event::StageCompleted {
            stage: "engagement".into(),
        }];
        assert!(conflicts(&set(2), &completed));
        // Adding is never a conflict; a change of mode always is.
        let add = Command::AddRisk {
            text: "New".into(),
            stage: None,
        };
        assert!(!conflicts(&add, &since));
        let mode = [Event::ModeChanged {
            mode: crate::engagement::Mode::DoItYourself,
        }];
        assert!(conflicts(&add, &mode));
        let close = |id| Command::CloseRisk {
            id,
            note: "Done".into(),
        };
        let raised = [Event::RiskClosed {
            id: 3,
            note: "x".into(),
        }];
        assert!(conflicts(&close(3), &raised));
        assert!(!conflicts(&close(4), &raised));
        // Names are compared as decide reads them: padding changes nothing.
        let padded = Command::SetStep {
            stage: " engagement\t".into(),
            step: 1,
            status: StepStatus::Todo,
        };
        assert!(conflicts(&padded, &since));
        let owner_padded = Command::SetOwner {
            item: crate::command::Item::Step {
                stage: " discovery".into(),
                step: 2,
            },
            owner: None,
            due: None,
        };
        let owned = [Event::OwnerSet {
            item: crate::command::Item::Step {
                stage: "discovery".into(),
                step: 2,
            },
            owner: None,
            due: Some("2027-01-01".into()),
        }];
        assert!(conflicts(&owner_padded, &owned));
        // A letter issued from an older page conflicts with any change.
        let issue = Command::IssueLetter {
            kind: crate::records::LetterKind::LetterOfIntent,
            sha256: "a".repeat(64).as_str().into(),
        };
        assert!(conflicts(
            &issue,
            &[Event::SponsorSet {
                person: PersonId(2)
            }]
        ));
        assert!(!conflicts(&issue, &[]));
    }
}
