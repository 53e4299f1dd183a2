//! Letters from an engagement: the facts a template may use, the
//! programme's template (minijinja, writing markdown), and the two outputs,
//! sanitised HTML and a tagged PDF (waymark-letter). The fields are listed in
//! docs/letters.md; a template that uses anything else is refused when saved.

use chrono::{DateTime, Datelike, TimeZone};
use serde::Serialize;
use waymark_core::{
    Agency, DecisionAt, Engagement, Funder, LetterKind, Person, StageStatus, Timestamp,
};
use waymark_model::{Effect, Model};

/// The programme's own default templates.
pub fn default_template(kind: LetterKind) -> &'static str {
    match kind {
        LetterKind::LetterOfIntent => include_str!("../templates/letters/letter-of-intent.md"),
        LetterKind::ClosureLetter => include_str!("../templates/letters/closure-letter.md"),
    }
}

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

#[derive(Debug, Serialize)]
struct AgencyFacts {
    name: String,
    abbreviation: String,
    portfolio: String,
}

#[derive(Debug, Serialize)]
struct PersonFacts {
    name: String,
    email: String,
}

#[derive(Debug, Serialize)]
struct DecisionFacts {
    question: String,
    option: String,
    rationale: String,
    note: Option<String>,
    funded_by: String,
    decided_by: String,
    decided_on: String,
}

#[derive(Debug, Serialize)]
struct PathFacts {
    /// "discovery", "change", "do_it_yourself" or "other".
    kind: &'static str,
    name: String,
    summary: String,
}

#[derive(Debug, Serialize)]
struct EngagementFacts {
    id: i64,
    started_on: String,
}

#[derive(Debug, Serialize)]
struct WorkshopFacts {
    title: String,
    date: String,
}

#[derive(Debug, Serialize)]
struct StageFacts {
    name: String,
    status: &'static str,
    cycles: u32,
    started_on: Option<String>,
    ended_on: Option<String>,
}

#[derive(Debug, Serialize)]
struct CheckFacts {
    text: String,
    evidence: String,
}

#[derive(Debug, Serialize)]
struct BenefitFacts {
    text: String,
    measure: Option<String>,
}

/// Everything a letter template can use. Fields a kind does not need are
/// empty for it.
#[derive(Debug, Serialize)]
pub struct Facts {
    today: String,
    version: u32,
    agency: AgencyFacts,
    sponsor: Option<PersonFacts>,
    engagement: EngagementFacts,
    decision: Option<DecisionFacts>,
    path: Option<PathFacts>,
    discovery_weeks: Option<u32>,
    dta_provides: Vec<String>,
    funding: String,
    next_steps: Vec<String>,
    workshops: Vec<WorkshopFacts>,
    stages: Vec<StageFacts>,
    success: Vec<CheckFacts>,
    benefits: Vec<BenefitFacts>,
    open_risks: Vec<String>,
}

fn funder(f: Funder) -> &'static str {
    match f {
        Funder::Dta => "the DTA",
        Funder::CoFunded => "the DTA and the agency together",
        Funder::Agency => "the agency",
    }
}

/// The people and names a letter needs besides the engagement.
#[derive(Debug)]
pub struct Context<'a> {
    pub engagement: &'a Engagement,
    pub model: &'a Model,
    pub agency: &'a Agency,
    pub sponsor: Option<&'a Person>,
    /// People's names by id (who decided).
    pub names: &'a std::collections::HashMap<waymark_core::PersonId, String>,
    pub today: Timestamp,
}

/// The facts for `kind`, or why the letter cannot be written yet.
pub fn facts(kind: LetterKind, c: &Context<'_>, version: u32) -> Result<Facts, String> {
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
                status: match s.status {
                    StageStatus::NotStarted => "not started",
                    StageStatus::Active => "under way",
                    StageStatus::Completed => "completed",
                    StageStatus::Exited => "closed",
                },
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
    let facts_of = |d: &waymark_core::Decision| DecisionFacts {
        question: d.question.clone(),
        option: d.option_text.clone(),
        rationale: d.rationale.clone(),
        note: d.note.clone(),
        funded_by: funder(d.funded_by).to_string(),
        decided_by: c
            .names
            .get(&d.decided_by)
            .cloned()
            .unwrap_or_else(|| format!("person {}", d.decided_by)),
        decided_on: day(d.decided_at),
    };
    match kind {
        LetterKind::LetterOfIntent => {
            let first = c
                .model
                .stages
                .first()
                .map(|s| s.slug.clone())
                .unwrap_or_default();
            let Some(d) = decision(&first, Some(DecisionAt::Point { index: 0 })) else {
                return Err(format!(
                    "take the decision at the end of {} first: the letter formalises it",
                    stage_name(&first)
                ));
            };
            let (kind, summary, provides, next) = match &d.effect {
                Effect::EnterStage { stage } if stage == waymark_core::DISCOVERY => (
                    "discovery",
                    format!(
                        "A {} of 4 to 8 weeks, in which the DTA and the agency study the agency's strategy, ICT environment, risks and processes, and how ready its business is to use the blueprint. It ends with a business case and a recommended path.",
                        stage_name(stage)
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
                funder(d.funded_by)
            );
            f.path = Some(PathFacts {
                kind,
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
                return Err(format!(
                    "the closure letter comes at the end of {}: complete it, or take its next-steps decision, first",
                    stage_name(transition)
                ));
            }
            f.decision = exit.map(facts_of);
        }
    }
    Ok(f)
}

fn environment() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    // The template is markdown the programme writes; the facts are text
    // people typed (a workshop title, a sponsor's name). Each fact is
    // escaped as markdown, so it reads as the words it is and never becomes
    // a link, an image, emphasis or a heading.
    env.set_formatter(|out, state, value| match value.as_str() {
        Some(text) if !value.is_safe() => out
            .write_str(&markdown_text(text))
            .map_err(|_| minijinja::Error::new(minijinja::ErrorKind::WriteFailure, "cannot write")),
        _ => minijinja::escape_formatter(out, state, value),
    });
    env.set_fuel(Some(200_000));
    env
}

/// `text` as markdown that renders as exactly that text: inline markers
/// are backslash-escaped everywhere, and block markers where a line starts.
pub fn markdown_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let body = line.trim_start();
        out.push_str(&line[..line.len() - body.len()]);
        // A list, heading, quote or rule marker at the start of a line.
        let digits = body.bytes().take_while(u8::is_ascii_digit).count();
        let marker = if body.starts_with(['-', '+', '=']) {
            0
        } else if digits > 0 && body[digits..].starts_with(['.', ')']) {
            digits
        } else {
            usize::MAX
        };
        for (j, c) in body.char_indices() {
            if j == marker
                || matches!(
                    c,
                    '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '~' | '&' | '!'
                )
            {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out
}

/// Renders `template` with `facts` into markdown, or says what is wrong.
pub fn render(template: &str, facts: &Facts) -> Result<String, String> {
    let env = environment();
    let t = env
        .template_from_str(template)
        .map_err(|e| format!("the template has an error: {e}"))?;
    t.render(minijinja::value::Serde(facts))
        .map_err(|e| format!("the template could not be filled in: {e}"))
}

/// Checks a template by rendering it against a complete example, so a
/// broken template (bad syntax, an unknown field) is refused when saved,
/// not when a letter is due.
pub fn check(template: &str) -> Result<String, String> {
    let n = template.chars().count();
    if n > MAX_TEMPLATE {
        return Err(format!(
            "the template has {n} characters; the limit is {MAX_TEMPLATE}"
        ));
    }
    render(template, &sample())
}

/// The longest template the programme may save, in characters (the built-in
/// ones are under 3,000).
pub const MAX_TEMPLATE: usize = 50_000;

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
            kind: "discovery",
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
            status: "completed",
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
        }],
        open_risks: vec!["Training lags".into()],
    }
}

/// Markdown to HTML, sanitised: a template or a typed rationale cannot add
/// script, styles or event handlers.
pub fn html(markdown: &str) -> String {
    let mut raw = String::new();
    pulldown_cmark::html::push_html(&mut raw, pulldown_cmark::Parser::new(markdown));
    ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer"))
        .clean(&raw)
        .to_string()
}

/// The PDF for a letter (CPU-heavy: call from a blocking task).
pub fn pdf(
    kind: LetterKind,
    markdown: &str,
    ident: &str,
    today: Timestamp,
) -> Result<Vec<u8>, String> {
    waymark_letter::typeset(&waymark_letter::Letter {
        title: kind.title(),
        author: "Protected Utility programme, Digital Transformation Agency",
        markdown,
        date: ymd(today),
        ident,
    })
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_templates_use_only_documented_fields() {
        for kind in LetterKind::ALL {
            let text = check(default_template(kind)).unwrap();
            assert!(text.contains("Bureau of Examples"), "{kind:?}: {text}");
        }
    }

    #[test]
    fn a_broken_template_is_refused_with_a_reason() {
        assert!(
            check("{{ agency.nmae }}")
                .unwrap_err()
                .contains("could not be filled in")
        );
        assert!(check("{% if %}").unwrap_err().contains("has an error"));
        // Endless work is stopped rather than hanging the server.
        let err = check(
            "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
        );
        assert!(err.is_err());
    }

    #[test]
    fn facts_read_as_text_not_markdown() {
        let mut facts = sample();
        facts.agency.name =
            "[click](javascript:alert(1)) **bold** <img src=x> # not a heading\n- not a list\n2. nor this".into();
        let md = render("Dear {{ agency.name }}, we met.", &facts).unwrap();
        let out = html(&md);
        assert!(
            !out.contains("<a") && !out.contains("<strong") && !out.contains("<img"),
            "{out}"
        );
        assert!(
            !out.contains("<li") && !out.contains("<h1") && !out.contains("<ol"),
            "{out}"
        );
        assert!(
            out.contains("[click](javascript:alert(1)) **bold** &lt;img src=x&gt; # not a heading"),
            "{out}"
        );
        assert!(out.contains("- not a list"), "{out}");
        // Numbers and the template's own markdown are left alone.
        let md = render("**{{ version }}** {{ agency.abbreviation }}", &sample()).unwrap();
        assert_eq!(md, "**1** BOE");
    }

    #[test]
    fn letter_html_is_sanitised() {
        let out = html(
            "Hi <script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=alert(1)>",
        );
        assert!(
            !out.contains("<script") && !out.contains("javascript:") && !out.contains("onerror"),
            "{out}"
        );
    }
}
