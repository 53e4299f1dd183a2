//! The agency self-assessment and the journey tailored by it, both read from
//! front matter.
//!
//! A page carries the questionnaire under [`ASSESSMENT_KEY`]: two factors,
//! each with its questions, their answers' weights and the score from which
//! the factor counts as high; and which agency type each combination of
//! high and low factors gives. A step of a stage page may say, under
//! [`TAILORING_KEY`], for which types it is optional or not applicable;
//! every other type needs it. `docs/tailoring.md` is the writer's guide.
//!
//! Everything here is pure: reading, checking and scoring. The types are
//! the programme's four; content chooses the questions and the rule.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The front-matter key of a page that holds the self-assessment.
pub const ASSESSMENT_KEY: &str = "assessment";
/// The timeline item key that tailors a step.
pub const TAILORING_KEY: &str = "tailoring";

/// The self-assessment's four agency types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AgencyType {
    Lean,
    Aligned,
    SelfDirected,
    Complex,
}

impl AgencyType {
    pub const ALL: [AgencyType; 4] = [
        AgencyType::Lean,
        AgencyType::Aligned,
        AgencyType::SelfDirected,
        AgencyType::Complex,
    ];

    /// The name forms, URLs and JSON use (`lean`, `self_directed`, …).
    pub fn slug(self) -> &'static str {
        match self {
            AgencyType::Lean => "lean",
            AgencyType::Aligned => "aligned",
            AgencyType::SelfDirected => "self_directed",
            AgencyType::Complex => "complex",
        }
    }

    pub fn from_slug(s: &str) -> Option<AgencyType> {
        Self::ALL.into_iter().find(|t| t.slug() == s)
    }

    /// Reads a type as a writer may spell it in front matter: any case,
    /// with `-`, `_` or a space between words (`Self-directed`).
    pub fn from_name(s: &str) -> Option<AgencyType> {
        let key: String = s
            .trim()
            .chars()
            .map(|c| match c {
                '-' | ' ' => '_',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        Self::from_slug(&key)
    }

    /// How people read it.
    pub fn label(self) -> &'static str {
        match self {
            AgencyType::Lean => "Lean",
            AgencyType::Aligned => "Aligned",
            AgencyType::SelfDirected => "Self-directed",
            AgencyType::Complex => "Complex",
        }
    }

    fn known() -> String {
        Self::ALL.map(AgencyType::slug).join(", ")
    }
}

/// How much a step matters to an agency of one type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "relevance", rename_all = "snake_case")]
pub enum Relevance {
    Essential,
    Optional,
    NotApplicable { reason: String },
}

impl Relevance {
    /// The stable name used in JSON and CSS classes.
    pub fn key(&self) -> &'static str {
        match self {
            Relevance::Essential => "essential",
            Relevance::Optional => "optional",
            Relevance::NotApplicable { .. } => "not_applicable",
        }
    }

    /// Whether skipping the step raises the stage's risks.
    pub fn essential(&self) -> bool {
        matches!(self, Relevance::Essential)
    }
}

/// A step's `tailoring:`: the types for which it is optional, and those
/// for which it does not apply, with the reason. Any type not named needs
/// the step, as does an agency whose type is not known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tailoring {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub optional: Vec<AgencyType>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub not_applicable: BTreeMap<AgencyType, String>,
}

impl Tailoring {
    pub fn is_empty(&self) -> bool {
        self.optional.is_empty() && self.not_applicable.is_empty()
    }

    /// How much the step matters to `kind` (an unknown type needs it).
    pub fn for_type(&self, kind: Option<AgencyType>) -> Relevance {
        let Some(kind) = kind else {
            return Relevance::Essential;
        };
        if let Some(reason) = self.not_applicable.get(&kind) {
            Relevance::NotApplicable {
                reason: reason.clone(),
            }
        } else if self.optional.contains(&kind) {
            Relevance::Optional
        } else {
            Relevance::Essential
        }
    }

    /// Reads a `tailoring:` value: what could be read, and every problem.
    /// A type named wrongly is left out, so the step stays essential for it.
    pub fn from_front_matter(v: &Value) -> (Tailoring, Vec<String>) {
        let mut out = Tailoring::default();
        let mut problems = Vec::new();
        let Some(map) = v.as_object() else {
            problems.push(
                "`tailoring` must be a mapping with `optional` (a list of types) and \
                 `not_applicable` (each type with its reason)"
                    .to_string(),
            );
            return (out, problems);
        };
        let mut seen: Vec<AgencyType> = Vec::new();
        let mut named = |raw: &str, problems: &mut Vec<String>| -> Option<AgencyType> {
            let Some(t) = AgencyType::from_name(raw) else {
                problems.push(format!(
                    "`{}` is not an agency type (the types are {})",
                    crate::diagnostic::visible(raw),
                    AgencyType::known()
                ));
                return None;
            };
            if seen.contains(&t) {
                problems.push(format!(
                    "`{}` is named twice; a type has one relevance",
                    t.slug()
                ));
                return None;
            }
            seen.push(t);
            Some(t)
        };
        for (key, value) in map {
            match key.as_str() {
                "optional" => {
                    let names: Vec<&str> = match value {
                        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                        Value::String(s) => vec![s.as_str()],
                        _ => Vec::new(),
                    };
                    if names.is_empty()
                        || matches!(value, Value::Array(a) if a.len() != names.len())
                    {
                        problems.push("`optional` must list agency types".to_string());
                    }
                    for n in names {
                        if let Some(t) = named(n, &mut problems) {
                            out.optional.push(t);
                        }
                    }
                }
                "not_applicable" | "not-applicable" => {
                    let Some(m) = value.as_object() else {
                        problems.push(
                            "`not_applicable` must give each type with its reason, such as \
                             `lean: They have no legacy desktop to retire.`"
                                .to_string(),
                        );
                        continue;
                    };
                    for (n, reason) in m {
                        let reason = reason.as_str().map(str::trim).unwrap_or_default();
                        let Some(t) = named(n, &mut problems) else {
                            continue;
                        };
                        if reason.is_empty() {
                            problems.push(format!(
                                "`{}` has no reason; say why the step does not apply, so readers know",
                                t.slug()
                            ));
                            continue;
                        }
                        out.not_applicable.insert(t, crate::text::normalize(reason));
                    }
                }
                other => problems.push(format!(
                    "`tailoring` has no key `{}`: write `optional` or `not_applicable`",
                    crate::diagnostic::visible(other)
                )),
            }
        }
        (out, problems)
    }
}

/// A factor's level: a score at or above the factor's `high_from` is high.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Low,
    High,
}

/// One answer a question offers, and what it adds to its factor's score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Answer {
    pub text: String,
    pub weight: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Question {
    /// Stable within its questionnaire; answers are recorded against it.
    pub key: String,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    pub answers: Vec<Answer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Factor {
    pub key: String,
    pub name: String,
    /// The score from which the factor counts as high.
    pub high_from: u32,
    pub questions: Vec<Question>,
}

impl Factor {
    /// The least and the most score the answers can add up to.
    pub fn range(&self) -> (u32, u32) {
        self.questions.iter().fold((0, 0), |(lo, hi), q| {
            let ws = q.answers.iter().map(|a| a.weight);
            (
                lo + ws.clone().min().unwrap_or(0),
                hi + ws.max().unwrap_or(0),
            )
        })
    }
}

/// The self-assessment as content gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Questionnaire {
    /// The SHA-256 of the questionnaire as written (its front-matter value,
    /// keys sorted): assessments record it beside their answers.
    pub version: String,
    pub factors: Vec<Factor>,
    /// Which type each pair of levels gives, in the factors' order.
    pub types: Vec<TypeRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TypeRule {
    #[serde(rename = "type")]
    pub kind: AgencyType,
    pub levels: Vec<Level>,
    /// How the page describes agencies of this type (plain text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// What an agency's answers come to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Placement {
    /// Each factor's score, in the questionnaire's order.
    pub scores: Vec<FactorScore>,
    #[serde(rename = "type")]
    pub kind: AgencyType,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FactorScore {
    pub factor: String,
    pub score: u32,
    pub level: Level,
}

/// Most answers a question may offer, and the largest weight: bounds that
/// keep every score small and every form short.
const MAX_ANSWERS: usize = 10;
const MAX_WEIGHT: u64 = 100;
const MAX_QUESTIONS: usize = 50;

impl Questionnaire {
    /// Reads an `assessment:` value. Any problem makes it unusable: an
    /// assessment either places every agency or is not offered.
    pub fn from_front_matter(v: &Value) -> Result<Questionnaire, Vec<String>> {
        let mut problems = Vec::new();
        let raw: RawQuestionnaire = match serde_json::from_value(v.clone()) {
            Ok(r) => r,
            Err(e) => {
                let e = e.to_string();
                // `text: No` is the boolean false to YAML.
                let hint = if e.contains("boolean") || e.contains("expected a string") {
                    " (put text that YAML reads as yes/no or a number in quotes, such as \"No\")"
                } else {
                    ""
                };
                return Err(vec![format!(
                    "`assessment` cannot be read: {e}{hint}; it needs `factors` (two, each with \
                     `key`, `name`, `high_from` and `questions`) and `types`"
                )]);
            }
        };
        if raw.factors.len() != 2 {
            problems.push(format!(
                "`assessment` has {} factor(s); it needs exactly two, whose high and low levels \
                 place an agency as one of four types",
                raw.factors.len()
            ));
        }
        let mut factors = Vec::new();
        let mut question_keys: Vec<String> = Vec::new();
        for f in raw.factors {
            let key = f.key.trim().to_string();
            if key.is_empty() || factors.iter().any(|g: &Factor| g.key == key) {
                problems.push(format!(
                    "every factor needs its own `key` (`{}` is empty or repeated)",
                    crate::diagnostic::visible(&key)
                ));
            }
            if f.questions.is_empty() || f.questions.len() > MAX_QUESTIONS {
                problems.push(format!(
                    "the factor `{key}` needs from 1 to {MAX_QUESTIONS} questions"
                ));
            }
            let mut questions = Vec::new();
            for q in f.questions {
                let qkey = q.key.trim().to_string();
                if qkey.is_empty() || question_keys.contains(&qkey) {
                    problems.push(format!(
                        "every question needs its own `key` (`{}` is empty or repeated)",
                        crate::diagnostic::visible(&qkey)
                    ));
                }
                question_keys.push(qkey.clone());
                if q.text.trim().is_empty() {
                    problems.push(format!("the question `{qkey}` has no `text`"));
                }
                if !(2..=MAX_ANSWERS).contains(&q.answers.len()) {
                    problems.push(format!(
                        "the question `{qkey}` offers {} answer(s); offer from 2 to {MAX_ANSWERS}",
                        q.answers.len()
                    ));
                }
                let mut answers = Vec::new();
                for a in q.answers {
                    if a.text.trim().is_empty() {
                        problems.push(format!("an answer of `{qkey}` has no `text`"));
                    }
                    let weight = match a.weight.as_u64().filter(|w| *w <= MAX_WEIGHT) {
                        Some(w) => w as u32,
                        None => {
                            problems.push(format!(
                                "the answer “{}” of `{qkey}` has the weight {}; a weight is a \
                                 whole number from 0 to {MAX_WEIGHT}",
                                crate::diagnostic::visible(a.text.trim()),
                                a.weight
                            ));
                            0
                        }
                    };
                    answers.push(Answer {
                        text: crate::text::normalize(&a.text),
                        weight,
                    });
                }
                questions.push(Question {
                    key: qkey,
                    text: crate::text::normalize(&q.text),
                    hint: q
                        .hint
                        .map(|h| crate::text::normalize(&h))
                        .filter(|h| !h.is_empty()),
                    answers,
                });
            }
            let factor = Factor {
                key,
                name: crate::text::normalize(&f.name),
                high_from: f.high_from,
                questions,
            };
            let (lo, hi) = factor.range();
            if factor.high_from > hi {
                problems.push(format!(
                    "the factor `{}` is high from {}, but its answers' largest weights add up to \
                     {hi}, so it can never be high; lower `high_from` or raise the weights",
                    factor.key, factor.high_from
                ));
            } else if factor.high_from <= lo {
                problems.push(format!(
                    "the factor `{}` is high from {}, but its answers' smallest weights already \
                     add up to {lo}, so it is always high; raise `high_from` above {lo}",
                    factor.key, factor.high_from
                ));
            }
            factors.push(factor);
        }
        let mut types: Vec<TypeRule> = Vec::new();
        for (name, rule) in raw.types {
            let Some(kind) = AgencyType::from_name(&name) else {
                problems.push(format!(
                    "`types` names `{}`, which is not an agency type (the types are {})",
                    crate::diagnostic::visible(&name),
                    AgencyType::known()
                ));
                continue;
            };
            let mut levels = Vec::new();
            for f in &factors {
                match rule.levels.get(&f.key) {
                    Some(l) => levels.push(*l),
                    None => problems.push(format!(
                        "the type `{}` does not say whether `{}` is high or low",
                        kind.slug(),
                        f.key
                    )),
                }
            }
            for k in rule.levels.keys() {
                if !factors.iter().any(|f| &f.key == k) {
                    problems.push(format!(
                        "the type `{}` names `{}`, which is not a factor",
                        kind.slug(),
                        crate::diagnostic::visible(k)
                    ));
                }
            }
            if let Some(other) = types
                .iter()
                .find(|t| t.levels == levels && levels.len() == factors.len())
            {
                problems.push(format!(
                    "the types `{}` and `{}` are given by the same levels; each pair of levels \
                     must give one type",
                    other.kind.slug(),
                    kind.slug()
                ));
            }
            types.push(TypeRule {
                kind,
                levels,
                description: rule
                    .description
                    .map(|d| crate::text::normalize(&d))
                    .filter(|d| !d.is_empty()),
            });
        }
        for t in AgencyType::ALL {
            if !types.iter().any(|r| r.kind == t) {
                problems.push(format!(
                    "`types` does not say which levels give the type `{}`; each of the four \
                     types needs its pair of levels",
                    t.slug()
                ));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let canonical = serde_json::to_string(v).unwrap_or_default();
        let mut version = String::with_capacity(64);
        for b in Sha256::digest(canonical.as_bytes()) {
            let _ = write!(version, "{b:02x}");
        }
        Ok(Questionnaire {
            version,
            factors,
            types,
        })
    }

    pub fn questions(&self) -> impl Iterator<Item = &Question> {
        self.factors.iter().flat_map(|f| f.questions.iter())
    }

    /// Scores `answers` (question key → the chosen answer's index, from 0)
    /// and places the agency. Every question must be answered once, with
    /// one of its answers; the error says which are not.
    pub fn place(&self, answers: &BTreeMap<String, usize>) -> Result<Placement, Vec<Unanswered>> {
        let mut problems = Vec::new();
        for key in answers.keys() {
            if !self.questions().any(|q| &q.key == key) {
                problems.push(Unanswered {
                    question: key.clone(),
                    why: "this questionnaire has no such question".into(),
                });
            }
        }
        let mut scores = Vec::new();
        for f in &self.factors {
            let mut score = 0;
            for q in &f.questions {
                match answers.get(&q.key) {
                    None => problems.push(Unanswered {
                        question: q.key.clone(),
                        why: "choose an answer".into(),
                    }),
                    Some(i) => match q.answers.get(*i) {
                        Some(a) => score += a.weight,
                        None => problems.push(Unanswered {
                            question: q.key.clone(),
                            why: format!("choose one of its {} answers", q.answers.len()),
                        }),
                    },
                }
            }
            let level = if score >= f.high_from {
                Level::High
            } else {
                Level::Low
            };
            scores.push(FactorScore {
                factor: f.key.clone(),
                score,
                level,
            });
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let levels: Vec<Level> = scores.iter().map(|s| s.level).collect();
        // `from_front_matter` checked that every pair of levels has a type.
        let kind = self
            .types
            .iter()
            .find(|t| t.levels == levels)
            .map(|t| t.kind)
            .ok_or_else(|| {
                vec![Unanswered {
                    question: String::new(),
                    why: "no type has these levels".into(),
                }]
            })?;
        Ok(Placement { scores, kind })
    }
}

/// A question the answers leave unanswered, or answer with something it
/// does not offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unanswered {
    pub question: String,
    pub why: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuestionnaire {
    factors: Vec<RawFactor>,
    types: BTreeMap<String, RawTypeRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFactor {
    key: String,
    name: String,
    high_from: u32,
    questions: Vec<RawQuestion>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuestion {
    key: String,
    text: String,
    #[serde(default)]
    hint: Option<String>,
    answers: Vec<RawAnswer>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAnswer {
    text: String,
    weight: Value,
}

#[derive(Deserialize)]
struct RawTypeRule {
    #[serde(default)]
    description: Option<String>,
    #[serde(flatten)]
    levels: BTreeMap<String, Level>,
}
