//! Letters' facts: what a letter may say about an engagement, when a letter
//! can be written at all, and whether a new version would say anything new.
//! Pure data; the programme's template, its rendering and the PDF are the
//! web layer's. The fields are listed in docs/letters.md.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, TimeZone};
use serde::{Deserialize, Serialize};
use waymark_model::{Effect, Model};

use crate::Timestamp;
use crate::command::DecisionAt;
use crate::engagement::{DISCOVERY, Decision, Engagement, StageStatus};
use crate::error::DomainError;
use crate::people::{Agency, Person, PersonId};
use crate::records::LetterKind;

/// Dates in letters are Canberra dates.
fn day(ts: Timestamp) -> String {
    match DateTime::from_timestamp(ts.0, 0) {
        Some(utc) => chrono_tz::Australia::Canberra
            .from_utc_datetime(&utc.naive_utc())
            .format("%-d %B %Y")
            .to_string(),
        None => String::new(),
    }
}

/// (year, month, day) in Canberra, for the PDF's date.
pub fn ymd(ts: Timestamp) -> (i32, u8, u8) {
    let d = DateTime::from_timestamp(ts.0, 0)
        .map(|utc| {
            chrono_tz::Australia::Canberra
                .from_utc_datetime(&utc.naive_utc())
                .date_naive()
        })
        .unwrap_or_default();
    (d.year(), d.month() as u8, d.day() as u8)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgencyFacts {
    pub name: String,
    pub abbreviation: String,
    pub portfolio: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonFacts {
    pub name: String,
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionFacts {
    pub question: String,
    pub option: String,
    pub rationale: String,
    pub note: Option<String>,
    pub funded_by: String,
    pub decided_by: String,
    pub decided_on: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathFacts {
    /// "discovery", "change", "do_it_yourself" or "other".
    pub kind: String,
    pub name: String,
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngagementFacts {
    pub id: i64,
    pub started_on: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkshopFacts {
    pub title: String,
    pub date: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageFacts {
    pub name: String,
    pub status: String,
    pub cycles: u32,
    pub started_on: Option<String>,
    pub ended_on: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckFacts {
    pub text: String,
    pub evidence: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenefitFacts {
    pub text: String,
    pub measure: Option<String>,
    /// For a measured benefit: its status and why, in a sentence
    /// ("Realised: the latest reading, …").
    #[serde(default)]
    pub progress: Option<String>,
}

/// Everything a letter template can use. Fields a kind does not need are
/// empty for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    pub today: String,
    pub version: u32,
    pub agency: AgencyFacts,
    pub sponsor: Option<PersonFacts>,
    pub engagement: EngagementFacts,
    pub decision: Option<DecisionFacts>,
    pub path: Option<PathFacts>,
    pub discovery_weeks: Option<u32>,
    pub dta_provides: Vec<String>,
    pub funding: String,
    pub next_steps: Vec<String>,
    pub workshops: Vec<WorkshopFacts>,
    pub stages: Vec<StageFacts>,
    pub success: Vec<CheckFacts>,
    pub benefits: Vec<BenefitFacts>,
    pub open_risks: Vec<String>,
}

/// The people and names a letter needs besides the engagement.
#[derive(Debug)]
pub struct Context<'a> {
    pub engagement: &'a Engagement,
    pub model: &'a Model,
    pub agency: &'a Agency,
    pub sponsor: Option<&'a Person>,
    /// People's names by id (who decided).
    pub names: &'a HashMap<PersonId, String>,
    pub today: Timestamp,
}

/// Why a letter cannot be written yet: what must happen first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotYet(pub String);

/// The facts for `kind` as version `version` would state them, or why the
/// letter cannot be written yet.
pub fn facts(kind: LetterKind, c: &Context<'_>, version: u32) -> Result<Facts, NotYet> {
    let e = c.engagement;
    let stage_name = |slug: &str| {
        c.model
            .stage(slug)
            .map_or(slug.to_string(), |s| s.name.clone())
    };
    let mut f = Facts {
        today: day(c.today),
        version,
        agency: AgencyFacts {
            name: c.agency.name.clone(),
            abbreviation: c.agency.abbreviation.as_str().to_string(),
            portfolio: c.agency.portfolio.clone(),
        },
        sponsor: c.sponsor.map(|p| PersonFacts {
            name: p.name.clone(),
            email: p.email.as_str().to_string(),
        }),
        engagement: EngagementFacts {
            id: e.id.0,
            started_on: e
                .stages
                .iter()
                .filter_map(|s| s.started_at)
                .min()
                .map(day)
                .unwrap_or_default(),
        },
        decision: None,
        path: None,
        discovery_weeks: e.discovery_weeks,
        dta_provides: Vec::new(),
        funding: String::new(),
        next_steps: Vec::new(),
        workshops: e
            .workshops
            .iter()
            .filter(|w| !w.cancelled)
            .map(|w| WorkshopFacts {
                title: w.plan.title.to_string(),
                date: w.plan.date.to_string(),
            })
            .collect(),
        stages: e
            .stages
            .iter()
            .map(|s| StageFacts {
                name: stage_name(&s.stage),
                status: s.status.in_a_sentence().to_string(),
                cycles: s.cycles,
                started_on: s.started_at.map(day),
                ended_on: s.ended_at.map(day),
            })
            .collect(),
        success: e
            .success
            .iter()
            .map(|s| CheckFacts {
                text: s.text.clone(),
                evidence: s.evidence.clone(),
            })
            .collect(),
        benefits: e
            .benefits
            .iter()
            .map(|b| BenefitFacts {
                text: b.text.clone(),
                measure: b.measure.clone(),
                progress: b.plan.target.is_some().then(|| {
                    let a = crate::benefit::assess(b, &crate::next::today(c.today));
                    format!("{}. {}", a.status.label(), a.why)
                }),
            })
            .collect(),
        open_risks: e
            .risks
            .iter()
            .filter(|r| r.open)
            .map(|r| r.text.clone())
            .collect(),
    };
    let decision = |stage: &str, at: Option<DecisionAt>| {
        e.decisions
            .iter()
            .rev()
            .find(|d| d.stage == stage && at.is_none_or(|a| d.at == a))
    };
    let facts_of = |d: &Decision| DecisionFacts {
        question: d.question.clone(),
        option: d.option_text.clone(),
        rationale: d.rationale.clone(),
        note: d.note.clone(),
        funded_by: d.funded_by.in_a_sentence().to_string(),
        decided_by: c
            .names
            .get(&d.decided_by)
            .cloned()
            .unwrap_or_else(|| format!("person {}", d.decided_by)),
        decided_on: day(d.decided_at),
    };
    match kind {
        LetterKind::LetterOfIntent => {
            if c.sponsor.is_none() {
                return Err(NotYet(
                    "name the agency's executive sponsor first, on the engagement's People page: the letter is addressed to them, and they sign it"
                        .into(),
                ));
            }
            let first = c
                .model
                .stages
                .first()
                .map(|s| s.slug.clone())
                .unwrap_or_default();
            let Some(d) = decision(&first, Some(DecisionAt::Point { index: 0 })) else {
                return Err(NotYet(format!(
                    "take the decision at the end of {} first: the letter formalises it",
                    stage_name(&first)
                )));
            };
            let (kind, summary, provides, next) = match &d.effect {
                Effect::EnterStage { stage } if stage == DISCOVERY => (
                    "discovery",
                    format!(
                        "A {}{}, in which the DTA and the agency study the agency's strategy, ICT environment, risks and processes, and how ready its business is to use the blueprint. It ends with a business case and a recommended path.",
                        stage_name(stage),
                        c.model
                            .stage(stage)
                            .and_then(|s| s.timebox)
                            .map(|t| format!(" of {}", t.describe()))
                            .unwrap_or_default()
                    ),
                    vec![
                        "Programme staff to lead the discovery with the agency".to_string(),
                        "Funding for the discovery, including a strategy partner if one is engaged".to_string(),
                        "The blueprint, its templates and access to the community of adopting agencies".to_string(),
                    ],
                    vec![
                        "Name the agency's discovery team and confirm the executive sponsor".to_string(),
                        "Agree the discovery's start date and its workshops".to_string(),
                    ],
                ),
                Effect::EnterStage { stage } => (
                    "change",
                    format!(
                        "{}: change management and planning, so the agency moves to the blueprint from a people, change and process point of view.",
                        stage_name(stage)
                    ),
                    vec![
                        "Programme staff to plan the change with the agency".to_string(),
                        "A share of the funding for organisational change management, as agreed".to_string(),
                        "The blueprint, its templates and access to the community of adopting agencies".to_string(),
                    ],
                    vec![
                        "Assess the agency's readiness for change".to_string(),
                        "Agree the change strategy and who delivers it".to_string(),
                    ],
                ),
                Effect::DoItYourself => (
                    "do_it_yourself",
                    "Do it Yourself: the agency adopts the blueprint and runs its own ICT services, without programme-funded support.".to_string(),
                    vec![
                        "Answers to the agency's questions about the blueprint".to_string(),
                        "Access to the community portal, knowledge articles and other adopting agencies".to_string(),
                    ],
                    vec!["The agency plans its own adoption of the blueprint".to_string()],
                ),
                _ => (
                    "other",
                    d.option_text.clone(),
                    vec!["Support as agreed with the programme team".to_string()],
                    Vec::new(),
                ),
            };
            f.funding = format!(
                "What follows this decision is funded by {}.",
                d.funded_by.in_a_sentence()
            );
            f.path = Some(PathFacts {
                kind: kind.to_string(),
                name: d.option_text.trim_end_matches('.').to_string(),
                summary,
            });
            f.dta_provides = provides;
            f.next_steps = next;
            f.decision = Some(facts_of(d));
        }
        LetterKind::ClosureLetter => {
            let transition = "transition";
            let done = e
                .stage(transition)
                .is_some_and(|s| matches!(s.status, StageStatus::Completed | StageStatus::Exited));
            let exit = decision(transition, Some(DecisionAt::Exit));
            if !done && exit.is_none() {
                return Err(NotYet(format!(
                    "the closure letter comes at the end of {}: complete it, or take its next-steps decision, first",
                    stage_name(transition)
                )));
            }
            f.decision = exit.map(facts_of);
        }
    }
    Ok(f)
}

/// Example facts with every field filled, for checking and previewing.
pub fn sample() -> Facts {
    let person = || PersonFacts {
        name: "Alex Example".into(),
        email: "alex@example.gov.au".into(),
    };
    Facts {
        today: "1 December 2026".into(),
        version: 1,
        agency: AgencyFacts {
            name: "Bureau of Examples".into(),
            abbreviation: "BOE".into(),
            portfolio: "Finance".into(),
        },
        sponsor: Some(person()),
        engagement: EngagementFacts {
            id: 1,
            started_on: "2 November 2026".into(),
        },
        decision: Some(DecisionFacts {
            question: "Undertake discovery?".into(),
            option: "Undertake a discovery phase.".into(),
            rationale: "The agency needs a business case.".into(),
            note: Some("A note.".into()),
            funded_by: "the DTA".into(),
            decided_by: "Sam Staff".into(),
            decided_on: "30 November 2026".into(),
        }),
        path: Some(PathFacts {
            kind: "discovery".into(),
            name: "Undertake a discovery phase".into(),
            summary: "A discovery of 4 to 8 weeks.".into(),
        }),
        discovery_weeks: Some(6),
        dta_provides: vec!["Programme staff".into()],
        funding: "Funded by the DTA.".into(),
        next_steps: vec!["Name the team".into()],
        workshops: vec![WorkshopFacts {
            title: "Initial workshop".into(),
            date: "2026-11-20".into(),
        }],
        stages: vec![StageFacts {
            name: "Transition".into(),
            status: "completed".into(),
            cycles: 2,
            started_on: Some("1 March 2027".into()),
            ended_on: Some("1 June 2027".into()),
        }],
        success: vec![CheckFacts {
            text: "Staff support the change.".into(),
            evidence: "Survey".into(),
        }],
        benefits: vec![BenefitFacts {
            text: "Faster onboarding".into(),
            measure: Some("days to onboard".into()),
            progress: Some("Realised. The latest reading, 3 days on 2027-05-01, reaches the target of 5 days by 2027-06-01.".into()),
        }],
        open_risks: vec!["Training lags".into()],
    }
}

/// The next version number of a letter of `kind`: one more than it has had.
pub fn next_version(e: &Engagement, kind: LetterKind) -> u32 {
    e.letters.iter().filter(|x| x.kind == kind).count() as u32 + 1
}

/// The latest version issued, as the store keeps it.
#[derive(Debug, Clone, Copy)]
pub struct Issued<'a> {
    pub version: u32,
    /// The facts it was written from, as JSON.
    pub facts: &'a str,
    pub template_version: i64,
}

/// What issuing a letter now would do.
#[derive(Debug)]
pub enum Next {
    /// A new version, written from these facts.
    Ready(Box<Facts>),
    /// The letter cannot be written yet, and why.
    Blocked(String),
    /// Nothing has changed since this version: neither the facts (apart
    /// from the date and the version) nor the template.
    Unchanged { since: u32 },
}

impl Next {
    /// The facts to issue, or the rule that stops it.
    pub fn into_result(self, kind: LetterKind) -> Result<Facts, DomainError> {
        match self {
            Next::Ready(f) => Ok(*f),
            Next::Blocked(why) => Err(DomainError::rule(format!(
                "The letter cannot be written yet: {why}"
            ))),
            Next::Unchanged { since } => Err(DomainError::rule(format!(
                "Nothing in the {} has changed since version {since}, so there is no new version to issue",
                kind.title()
            ))),
        }
    }
}

/// Whether the next version of a letter can be issued: its preconditions,
/// and whether anything has changed since `last` (under the template now at
/// `template_version`).
pub fn next(
    kind: LetterKind,
    c: &Context<'_>,
    last: Option<Issued<'_>>,
    template_version: i64,
) -> Next {
    let facts = match facts(kind, c, next_version(c.engagement, kind)) {
        Ok(f) => f,
        Err(NotYet(why)) => return Next::Blocked(why),
    };
    match last {
        Some(l) if l.template_version == template_version && facts.same_substance(l.facts) => {
            Next::Unchanged { since: l.version }
        }
        _ => Next::Ready(Box::new(facts)),
    }
}

impl Facts {
    /// Whether these facts say what `issued` (facts as JSON) said, apart
    /// from the date and the version number.
    pub fn same_substance(&self, issued: &str) -> bool {
        let strip = |mut v: serde_json::Value| {
            if let Some(o) = v.as_object_mut() {
                o.remove("today");
                o.remove("version");
            }
            v
        };
        let Ok(then) = serde_json::from_str::<serde_json::Value>(issued) else {
            return false;
        };
        serde_json::to_value(self).is_ok_and(|now| strip(now) == strip(then))
    }
}
