//! Moving a live engagement from the model version it runs on to another:
//! a mapping (proposed from `model diff`, edited by the programme) says
//! where each old stage and step goes, or that it is archived. Applying it
//! is one audited `Migrated` event that carries everything its `apply`
//! needs, so replaying the history gives the same state. Nothing recorded
//! is lost: the earlier events stay in the chain, and facts with no place
//! in the new model are kept on the record as "from the previous model".
//! Only an inconsistent mapping is refused, with the reason.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use waymark_model::diff::ModelDiff;
use waymark_model::{Effect, Model};

use crate::command::DecisionAt;
use crate::{Actor, DomainError, Engagement, Event, StageStatus, StepStatus};

/// A place in a model: a stage's slug and a step's number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StepRef {
    pub stage: String,
    pub step: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StageMove {
    pub from: String,
    /// `None`: the stage has no counterpart; its state is archived.
    pub to: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StepMove {
    pub from: StepRef,
    /// `None`: the step's state is archived.
    pub to: Option<StepRef>,
}

/// Where each stage and step of one model version goes in another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Mapping {
    /// The model versions (hashes) engagements move from and to.
    pub from: String,
    pub to: String,
    pub stages: Vec<StageMove>,
    pub steps: Vec<StepMove>,
}

impl Mapping {
    /// The diff's proposal: every old stage and step to its counterpart.
    pub fn propose(from: &str, to: &str, d: &ModelDiff) -> Mapping {
        Mapping {
            from: from.to_string(),
            to: to.to_string(),
            stages: d
                .stage_map
                .iter()
                .map(|(o, n)| StageMove {
                    from: o.clone(),
                    to: n.clone(),
                })
                .collect(),
            steps: d
                .step_map
                .iter()
                .map(|m| StepMove {
                    from: StepRef {
                        stage: m.old_stage.clone(),
                        step: m.old_step,
                    },
                    to: m.new.clone().map(|(stage, step)| StepRef { stage, step }),
                })
                .collect(),
        }
    }

    /// Refuses a mapping that names stages or steps the two models do not
    /// have, or names one old stage or step twice.
    pub fn check(&self, old: &Model, new: &Model) -> Result<(), DomainError> {
        let has_step = |m: &Model, r: &StepRef| {
            m.stage(&r.stage)
                .is_some_and(|s| s.steps.iter().any(|x| x.number == r.step))
        };
        let mut seen = std::collections::BTreeSet::new();
        for s in &self.stages {
            if old.stage(&s.from).is_none() {
                return Err(DomainError::invalid(
                    "stages",
                    format!("the old model has no stage “{}”", s.from),
                ));
            }
            if let Some(to) = &s.to
                && new.stage(to).is_none()
            {
                return Err(DomainError::invalid(
                    "stages",
                    format!("the new model has no stage “{to}”"),
                ));
            }
            if !seen.insert(("stage", s.from.clone(), 0)) {
                return Err(DomainError::invalid(
                    "stages",
                    format!("the stage “{}” is mapped twice", s.from),
                ));
            }
        }
        for s in &self.steps {
            if !has_step(old, &s.from) {
                return Err(DomainError::invalid(
                    "steps",
                    format!(
                        "the old model has no step {} in “{}”",
                        s.from.step, s.from.stage
                    ),
                ));
            }
            if let Some(to) = &s.to
                && !has_step(new, to)
            {
                return Err(DomainError::invalid(
                    "steps",
                    format!("the new model has no step {} in “{}”", to.step, to.stage),
                ));
            }
            if !seen.insert(("step", s.from.stage.clone(), s.from.step)) {
                return Err(DomainError::invalid(
                    "steps",
                    format!("step {} of “{}” is mapped twice", s.from.step, s.from.stage),
                ));
            }
        }
        Ok(())
    }

    fn stage_to(&self, old: &str) -> Option<&str> {
        self.stages
            .iter()
            .find(|s| s.from == old)
            .and_then(|s| s.to.as_deref())
    }

    fn step_to(&self, stage: &str, step: u32) -> Option<&StepRef> {
        self.steps
            .iter()
            .find(|s| s.from.stage == stage && s.from.step == step)
            .and_then(|s| s.to.as_ref())
    }
}

/// A success check carried to its criterion in the new model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckMove {
    /// The check's position in the record.
    pub index: usize,
    pub stage: String,
    pub criterion: usize,
}

/// Who may migrate engagements: the programme.
pub fn may_migrate(actor: &Actor) -> Result<(), DomainError> {
    if actor.is_programme() {
        Ok(())
    } else {
        Err(DomainError::Forbidden {
            action: "move engagements to another model version",
            why: "only the programme moves engagements to another model version",
        })
    }
}

/// Judges moving `e` from `old` to `new` by `mapping`: the one event to
/// record, `None` when it is already on the new version (a second run
/// changes nothing), or why the mapping cannot apply to this engagement.
pub fn migrate(
    actor: &Actor,
    e: &Engagement,
    old: &Model,
    new: &Model,
    mapping: &Mapping,
) -> Result<Option<Event>, DomainError> {
    may_migrate(actor)?;
    if e.model_hash == mapping.to {
        return Ok(None);
    }
    if e.model_hash != mapping.from {
        return Err(DomainError::rule(format!(
            "engagement {} runs on model version {}, not {}, which this mapping is from",
            e.id,
            short(&e.model_hash),
            short(&mapping.from)
        )));
    }
    mapping.check(old, new)?;
    let mut archived = Vec::new();
    // Stages: two started stages sent to one new stage must agree.
    let mut stage_map = Vec::new();
    let mut into: BTreeMap<&str, &crate::StageRecord> = BTreeMap::new();
    for r in &e.stages {
        let to = mapping.stage_to(&r.stage);
        stage_map.push(StageMove {
            from: r.stage.clone(),
            to: to.map(str::to_string),
        });
        let name = old
            .stage(&r.stage)
            .map_or(r.stage.as_str(), |s| s.name.as_str());
        match to {
            None if r.status != StageStatus::NotStarted => archived.push(format!(
                "The stage {name} ({}, {} cycle(s)) has no place in the new model",
                r.status.label().to_lowercase(),
                r.cycles
            )),
            None => {}
            Some(to) if r.status == StageStatus::NotStarted => {
                let _ = to;
            }
            Some(to) => {
                if let Some(other) = into.get(to)
                    && (other.status, other.cycles) != (r.status, r.cycles)
                {
                    return Err(DomainError::rule(format!(
                        "the stages “{}” and “{}” both map to “{to}” but one is {} and the other {}: map one of them elsewhere or archive it",
                        other.stage,
                        r.stage,
                        other.status.label().to_lowercase(),
                        r.status.label().to_lowercase()
                    )));
                }
                into.insert(to, r);
            }
        }
    }
    // Steps of each stage's current cycle: two sent to one new step must
    // be in the same state.
    let mut step_map = Vec::new();
    let mut landed: BTreeMap<StepRef, (StepRef, StepStatus)> = BTreeMap::new();
    for s in old.stages.iter() {
        for step in &s.steps {
            let status = e.step(&s.slug, step.number);
            // Steps with a recorded state or an owner; the rest carry nothing.
            let item = crate::Item::Step {
                stage: s.slug.clone(),
                step: step.number,
            };
            let owned = e.owners.iter().any(|o| o.item == item);
            let touched = owned
                || e.steps
                    .iter()
                    .any(|r| r.stage == s.slug && r.step == step.number);
            let from = StepRef {
                stage: s.slug.clone(),
                step: step.number,
            };
            let to = mapping.step_to(&s.slug, step.number).cloned();
            if !touched {
                // A step only lessons are about moves with them, carrying
                // no state of its own.
                if e.lessons
                    .iter()
                    .any(|l| l.stage == s.slug && l.step == Some(step.number))
                {
                    step_map.push(StepMove { from, to });
                }
                continue;
            }
            match &to {
                None => archived.push(format!(
                    "Step {} of {} ({}) was {}{}",
                    step.number,
                    s.name,
                    step.title,
                    status_words(&status),
                    if owned { ", and had an owner" } else { "" }
                )),
                Some(t) => {
                    if let Some((first, st)) = landed.get(t)
                        && *st != status
                    {
                        return Err(DomainError::rule(format!(
                            "steps {} of “{}” and {} of “{}” both map to step {} of “{}” but one is {} and the other {}: map one of them elsewhere or archive it",
                            first.step,
                            first.stage,
                            from.step,
                            from.stage,
                            t.step,
                            t.stage,
                            status_words(st),
                            status_words(&status)
                        )));
                    }
                    landed.insert(t.clone(), (from.clone(), status.clone()));
                }
            }
            step_map.push(StepMove { from, to });
        }
    }
    // Decisions stand where the new model has the same point and an option
    // that leads the same way; the rest are kept as from the previous model.
    let mut decisions_archived = Vec::new();
    for (i, d) in e.decisions.iter().enumerate() {
        let kept = mapping
            .stage_to(&d.stage)
            .and_then(|to| new.stage(to))
            .is_some_and(|ns| {
                let options = match d.at {
                    DecisionAt::Point { index } => {
                        ns.decisions.get(index).map(|p| &p.choices.options)
                    }
                    DecisionAt::Exit => Some(&ns.exits),
                };
                let effect = match &d.effect {
                    Effect::EnterStage { stage } => {
                        mapping.stage_to(stage).map(|s| Effect::EnterStage {
                            stage: s.to_string(),
                        })
                    }
                    other => Some(other.clone()),
                };
                options
                    .and_then(|o| o.get(d.option))
                    .is_some_and(|o| Some(&o.effect) == effect.as_ref())
            });
        if !kept {
            decisions_archived.push(i);
            archived.push(format!(
                "Decided “{}”: {} (because: {})",
                d.question, d.option_text, d.rationale
            ));
        }
    }
    // Success checks: to the criterion with the same words, if any.
    let mut checks = Vec::new();
    for (index, c) in e.success.iter().enumerate() {
        let target = mapping.stage_to(&c.stage).and_then(|to| {
            let ns = new.stage(to)?;
            let criterion = ns.success.iter().position(|x| x.text() == c.text)?;
            Some(CheckMove {
                index,
                stage: to.to_string(),
                criterion,
            })
        });
        match target {
            Some(t) => checks.push(t),
            None => archived.push(format!("“{}” was met: {}", c.text, c.evidence)),
        }
    }
    Ok(Some(Event::Migrated {
        from: mapping.from.clone(),
        to: mapping.to.clone(),
        stages: new.stages.iter().map(|s| s.slug.clone()).collect(),
        stage_map,
        step_map,
        decisions_archived,
        checks,
        archived,
    }))
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

fn status_words(s: &StepStatus) -> String {
    match s {
        StepStatus::Todo => "to do".into(),
        StepStatus::InProgress => "in progress".into(),
        StepStatus::Done => "done".into(),
        StepStatus::Skipped { reason } => format!("skipped ({reason})"),
    }
}

/// Folds a `Migrated` event into `e` (called by `Engagement::apply`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn apply(
    e: &mut Engagement,
    to: &str,
    stages: &[String],
    stage_map: &[StageMove],
    step_map: &[StepMove],
    decisions_archived: &[usize],
    checks: &[CheckMove],
    archived: &[String],
    at: crate::Timestamp,
) {
    let stage_to = |s: &str| {
        stage_map
            .iter()
            .find(|m| m.from == s)
            .and_then(|m| m.to.clone())
    };
    // Stage records: each new stage takes the started record mapped to it.
    let old_records = std::mem::take(&mut e.stages);
    e.stages = stages
        .iter()
        .map(|slug| {
            old_records
                .iter()
                .filter(|r| r.status != StageStatus::NotStarted)
                .find(|r| stage_to(&r.stage).as_deref() == Some(slug.as_str()))
                .map(|r| crate::StageRecord {
                    stage: slug.clone(),
                    ..r.clone()
                })
                .unwrap_or(crate::StageRecord {
                    stage: slug.clone(),
                    status: StageStatus::NotStarted,
                    cycles: 0,
                    started_at: None,
                    ended_at: None,
                })
        })
        .collect();
    // Step records: each moved step's current state, in its new stage's
    // current cycle; the rest stay in the history.
    let current: Vec<(StepRef, StepStatus)> = step_map
        .iter()
        .filter_map(|m| {
            let to = m.to.clone()?;
            let cycle = old_records
                .iter()
                .find(|r| r.stage == m.from.stage)
                .map_or(0, |r| r.cycles);
            let status = e
                .steps
                .iter()
                .rev()
                .find(|r| r.stage == m.from.stage && r.step == m.from.step && r.cycle == cycle)
                .map(|r| r.status.clone())?;
            Some((to, status))
        })
        .collect();
    e.steps = current
        .into_iter()
        .map(|(to, status)| crate::StepRecord {
            cycle: e.stage(&to.stage).map_or(0, |r| r.cycles),
            stage: to.stage,
            step: to.step,
            status,
        })
        .collect();
    // Decisions and success checks that stand, under their new stages.
    let decisions = std::mem::take(&mut e.decisions);
    e.decisions = decisions
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !decisions_archived.contains(i))
        .filter_map(|(_, mut d)| {
            d.stage = stage_to(&d.stage)?;
            if let Effect::EnterStage { stage } = &d.effect {
                d.effect = Effect::EnterStage {
                    stage: stage_to(stage).unwrap_or_else(|| stage.clone()),
                };
            }
            Some(d)
        })
        .collect();
    let success = std::mem::take(&mut e.success);
    e.success = checks
        .iter()
        .filter_map(|c| {
            let mut s = success.get(c.index)?.clone();
            s.stage.clone_from(&c.stage);
            s.criterion = c.criterion;
            Some(s)
        })
        .collect();
    // Risks keep their words; their stage follows it, or is the old one's
    // name no more.
    for r in &mut e.risks {
        r.stage = r.stage.as_deref().and_then(stage_to);
    }
    // Owners follow their steps.
    e.owners.retain_mut(|o| match &mut o.item {
        crate::Item::Step { stage, step } => {
            match step_map
                .iter()
                .find(|m| m.from.stage == *stage && m.from.step == *step)
                .and_then(|m| m.to.clone())
            {
                Some(to) => {
                    *stage = to.stage;
                    *step = to.step;
                    true
                }
                None => false,
            }
        }
        crate::Item::Risk { .. } => true,
    });
    // Lessons follow their step, or else their stage; one whose stage has
    // no place any more keeps its words, with its old tag.
    for l in &mut e.lessons {
        let moved = l.step.and_then(|n| {
            step_map
                .iter()
                .find(|m| m.from.stage == l.stage && m.from.step == n)
                .and_then(|m| m.to.clone())
        });
        match moved {
            Some(to) => {
                l.stage = to.stage;
                l.step = Some(to.step);
            }
            None => {
                if let Some(stage) = stage_to(&l.stage) {
                    l.stage = stage;
                    l.step = None;
                }
            }
        }
    }
    // Comments follow what they are about; one whose step or stage has no
    // place any more keeps its old anchor (its label says so).
    for c in &mut e.comments {
        match &mut c.anchor {
            crate::discussion::Anchor::Step { stage, step } => {
                if let Some(to) = step_map
                    .iter()
                    .find(|m| m.from.stage == *stage && m.from.step == *step)
                    .and_then(|m| m.to.clone())
                {
                    *stage = to.stage;
                    *step = to.step;
                }
            }
            crate::discussion::Anchor::Decision { stage, .. } => {
                if let Some(to) = stage_to(stage) {
                    *stage = to;
                }
            }
            _ => {}
        }
    }
    e.model_hash = to.to_string();
    e.archived
        .extend(archived.iter().map(|text| crate::Archived {
            text: text.clone(),
            at,
        }));
}

/// An article's stage and step tags as `mapping` moves them: a step tag to
/// its step's new place (or, without one, to its stage's), a stage tag to
/// its stage's; a tag with no counterpart is kept as it is. `None` when
/// nothing changes, so a second run writes nothing.
pub fn retag(
    tags: &[crate::knowledge::Tag],
    mapping: &Mapping,
) -> Option<Vec<crate::knowledge::Tag>> {
    use crate::knowledge::Tag;
    let mut out: Vec<Tag> = Vec::with_capacity(tags.len());
    for t in tags {
        let moved = match t {
            Tag::Step { stage, step } => match mapping.step_to(stage, *step) {
                Some(to) => Tag::Step {
                    stage: to.stage.clone(),
                    step: to.step,
                },
                None => match mapping.stage_to(stage) {
                    Some(s) => Tag::Stage {
                        stage: s.to_string(),
                    },
                    None => t.clone(),
                },
            },
            Tag::Stage { stage } => match mapping.stage_to(stage) {
                Some(s) => Tag::Stage {
                    stage: s.to_string(),
                },
                None => t.clone(),
            },
            Tag::Free { .. } => t.clone(),
        };
        if !out.contains(&moved) {
            out.push(moved);
        }
    }
    (out != tags).then_some(out)
}
