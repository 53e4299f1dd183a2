//! What comes next on an engagement, and what waits for one person: the
//! engagement overview's "What's next" and the home page's "Waiting for
//! you" are both made here, so the two never disagree.

use waymark_model::{Model, Relevance};

use crate::access::Actor;
use crate::command::{Command, DecisionAt, Item, may};
use crate::engagement::{Engagement, StageStatus, StepStatus, Timestamp, Warning};
use crate::people::PersonId;
use crate::records::{LetterRecord, Workshop};

/// The programme's calendar: due dates are days in Canberra.
pub const PROGRAMME_ZONE: chrono_tz::Tz = chrono_tz::Australia::Canberra;

/// Today's date (`YYYY-MM-DD`) in the programme's calendar.
pub fn today(now: Timestamp) -> String {
    chrono::DateTime::from_timestamp(now.0, 0)
        .map(|t| {
            t.with_timezone(&PROGRAMME_ZONE)
                .format("%Y-%m-%d")
                .to_string()
        })
        .unwrap_or_default()
}

/// Whether a due date (`YYYY-MM-DD`) has passed by `today`: the one rule
/// for overdue steps and risks.
pub fn past_due(due: &str, today: &str) -> bool {
    due < today
}

impl Next<'_> {
    /// Whether its due date has passed by `today` (`YYYY-MM-DD`).
    pub fn overdue(&self, today: &str) -> bool {
        match self {
            Next::Step { due: Some(d), .. } | Next::Risk { due: Some(d), .. } => past_due(d, today),
            _ => false,
        }
    }
}

/// How far ahead a workshop counts as coming up.
pub const WORKSHOP_HORIZON_DAYS: i64 = 14;

/// One thing to do next on an engagement, most pressing kind first.
#[derive(Debug, Clone, PartialEq)]
pub enum Next<'a> {
    /// A letter's newest version waits for the executive sponsor.
    Sign(&'a LetterRecord),
    /// An active stage's decision point (or exit) has no standing decision.
    Decide {
        stage: &'a str,
        at: DecisionAt,
        question: &'a str,
    },
    /// An open step of an active stage, in the model's order.
    Step {
        stage: &'a str,
        number: u32,
        title: &'a str,
        started: bool,
        owner: Option<PersonId>,
        due: Option<&'a str>,
    },
    /// An open risk that someone owns or that has a due date.
    Risk {
        id: u32,
        text: &'a str,
        owner: Option<PersonId>,
        due: Option<&'a str>,
    },
    /// A workshop that has not happened yet, soonest first.
    Workshop { workshop: &'a Workshop, start: i64 },
}

/// Everything that is next on `e` at `now`, as its pinned `model` lays the
/// stages out: letters to sign, decisions due, open steps of active
/// stages, and workshops to come.
pub fn next_up<'a>(e: &'a Engagement, model: &'a Model, now: Timestamp) -> Vec<Next<'a>> {
    let mut out: Vec<Next<'a>> = e
        .letters_awaiting_signature()
        .into_iter()
        .map(Next::Sign)
        .collect();
    let active: Vec<_> = model
        .stages
        .iter()
        .filter(|st| e.stage(&st.slug).map(|r| r.status) == Some(StageStatus::Active))
        .collect();
    for st in &active {
        let exit_point = st.exit_point();
        for (index, d) in st.decisions.iter().enumerate() {
            let at = DecisionAt::Point { index };
            if e.standing_decision(&st.slug, at).is_none() {
                out.push(Next::Decide {
                    stage: &st.slug,
                    at,
                    question: &d.question,
                });
            }
        }
        if !st.exits.is_empty()
            && exit_point.is_none()
            && e.standing_decision(&st.slug, DecisionAt::Exit).is_none()
        {
            out.push(Next::Decide {
                stage: &st.slug,
                at: DecisionAt::Exit,
                question: &st.name,
            });
        }
    }
    for st in &active {
        // A step that does not apply to the agency's type waits for no one.
        for step in st
            .steps
            .iter()
            .filter(|s| !matches!(e.relevance(s), Relevance::NotApplicable { .. }))
        {
            match e.step(&st.slug, step.number) {
                s @ (StepStatus::Todo | StepStatus::InProgress) => {
                    let owned = e.ownership(&Item::Step {
                        stage: st.slug.clone(),
                        step: step.number,
                    });
                    out.push(Next::Step {
                        stage: &st.slug,
                        number: step.number,
                        title: &step.title,
                        started: s == StepStatus::InProgress,
                        owner: owned.and_then(|o| o.owner),
                        due: owned.and_then(|o| o.due.as_deref()),
                    })
                }
                StepStatus::Done | StepStatus::Skipped { .. } => {}
            }
        }
    }
    for r in e.risks.iter().filter(|r| r.open) {
        if let Some(o) = e.ownership(&Item::Risk { id: r.id }) {
            out.push(Next::Risk {
                id: r.id,
                text: &r.text,
                owner: o.owner,
                due: o.due.as_deref(),
            });
        }
    }
    let mut workshops: Vec<(i64, &Workshop)> = e
        .workshops
        .iter()
        .filter(|w| !w.cancelled)
        .filter_map(|w| Some((w.plan.when().ok()?.start.timestamp(), w)))
        .filter(|(start, _)| *start >= now.0)
        .collect();
    workshops.sort_by_key(|(start, _)| *start);
    out.extend(
        workshops
            .into_iter()
            .map(|(start, workshop)| Next::Workshop { workshop, start }),
    );
    out
}

/// What on `e` waits for `actor` at `now`: letters they may sign,
/// workshops in the next fortnight, the open steps and risks they own, and,
/// for the people running it, the engagement's overdue stages. The home
/// page lists these until they are done.
pub fn waiting_for<'a>(
    actor: &Actor,
    e: &'a Engagement,
    model: &'a Model,
    current: &Model,
    now: Timestamp,
) -> (Vec<Next<'a>>, Vec<Warning>) {
    let horizon = now.0 + WORKSHOP_HORIZON_DAYS * 24 * 3600;
    let items = next_up(e, model, now)
        .into_iter()
        .filter(|n| match n {
            Next::Sign(l) => may(
                actor,
                e,
                &Command::SignOff {
                    document: l.kind.slug().into(),
                    sha256: l.sha256.as_str().into(),
                },
            ),
            Next::Workshop { start, .. } => *start <= horizon,
            Next::Step { owner, .. } | Next::Risk { owner, .. } => *owner == Some(actor.person),
            Next::Decide { .. } => false,
        })
        .collect();
    let runs =
        e.assigned.iter().any(|a| a.person == actor.person) || e.sponsor == Some(actor.person);
    let overdue = if runs {
        e.warnings(current, now)
    } else {
        Vec::new()
    };
    (items, overdue)
}
