//! The typed engagement model. Everything here is built by [`crate::build`]
//! from pages and is read-only afterwards; nothing in it knows about
//! engagements, storage or HTML.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Serialize;

use crate::classify::Dash;

/// Index of a page in [`Model::pages`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct PageId(pub usize);

#[derive(Debug, Clone, Default)]
pub struct Model {
    /// Every page, in load order (sorted by path).
    pub pages: Vec<Page>,
    /// The stages in the order the overview gives.
    pub stages: Vec<Stage>,
    /// The overview's design principles.
    pub principles: Vec<Principle>,
    /// The page that lists the stages, if the set has one.
    pub overview: Option<PageId>,
    /// The agency self-assessment and the page that carries it, if any.
    pub assessment: Option<(PageId, crate::Questionnaire)>,
    /// Every name a page answers to in links (slug, file path, title slug).
    pub(crate) aliases: HashMap<String, PageId>,
}

impl Model {
    pub fn page(&self, id: PageId) -> &Page {
        &self.pages[id.0]
    }

    /// The self-assessment's questionnaire, if the model has one.
    pub fn questionnaire(&self) -> Option<&crate::Questionnaire> {
        self.assessment.as_ref().map(|(_, q)| q)
    }

    pub fn stage(&self, slug: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.slug == slug)
    }

    /// What a link target written on a page points at, by the same rules the
    /// lint uses, so that everything rendering links agrees with it.
    pub fn resolve(&self, target: &str) -> LinkTarget {
        crate::build::resolve(target, &self.aliases)
    }

    /// Pages that are neither the overview nor a stage page: the FAQ and so on.
    pub fn other_pages(&self) -> impl Iterator<Item = &Page> {
        self.pages.iter().enumerate().filter_map(|(i, p)| {
            let id = PageId(i);
            let is_stage = self.stages.iter().any(|s| s.page == Some(id));
            (Some(id) != self.overview && !is_stage).then_some(p)
        })
    }
}

#[derive(Debug, Clone)]
pub struct Page {
    /// Where the page came from, as given (for messages).
    pub path: String,
    /// The page's identity in URLs: an explicit `slug`, a clean file name, or its title.
    pub slug: String,
    pub layout: Option<String>,
    pub title: String,
    /// Front-matter keys other than `layout`, `title` and `timeline`.
    pub extra: BTreeMap<String, serde_json::Value>,
    /// Markdown of the body before its first `##` heading.
    pub intro: String,
    pub timeline: Vec<TimelineItem>,
    pub sections: Vec<Section>,
    /// Every link on the page, front matter and body, in page order.
    pub links: Vec<Link>,
}

impl Page {
    pub fn section(&self, kind: SectionKind) -> Option<&Section> {
        self.sections.iter().find(|s| s.kind == kind)
    }
}

#[derive(Debug, Clone)]
pub struct TimelineItem {
    /// The title with whitespace normalised.
    pub title: String,
    /// 1-based line of the item in the file.
    pub line: u32,
    /// Markdown body, if the item has one (shared with the stage's step).
    pub body: Option<Arc<str>>,
    pub body_line: u32,
    pub kind: ItemKind,
    pub dash: Option<Dash>,
    /// The item's `action`, as written (lint checks it; steps carry it read).
    pub action: Option<String>,
    /// The item's `tailoring`, as written (lint checks it; steps carry it read).
    pub tailoring: Option<serde_json::Value>,
}

#[derive(Debug, Clone)]
pub enum ItemKind {
    /// A step; its body is the item's body.
    Step {
        number: u32,
        title: String,
    },
    Decision(DecisionPoint),
    NextSteps(Choices),
    Stage {
        number: u32,
        name: String,
    },
    Other,
}

impl ItemKind {
    /// The stable name used in JSON: `step`, `decision`, `next_steps`, `stage`, `other`.
    pub fn name(&self) -> &'static str {
        match self {
            ItemKind::Step { .. } => "step",
            ItemKind::Decision(_) => "decision",
            ItemKind::NextSteps(_) => "next_steps",
            ItemKind::Stage { .. } => "stage",
            ItemKind::Other => "other",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub number: u32,
    pub title: String,
    pub body: Option<Arc<str>>,
    /// What the step offers readers to do, from its `action:` key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<StepAction>,
    /// For which agency types the step is optional or does not apply.
    #[serde(skip_serializing_if = "crate::Tailoring::is_empty")]
    pub tailoring: crate::Tailoring,
}

/// Something a step of the guide lets its reader do, from the timeline
/// item's `action:` key. The site shows it as a start button where it has
/// somewhere to send the reader (a served site, or one exported with a
/// public URL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum StepAction {
    /// `request-support`: the programme's request form.
    RequestSupport,
}

impl StepAction {
    /// Every action, as written in front matter.
    pub const ALL: [(&'static str, StepAction); 1] =
        [("request-support", StepAction::RequestSupport)];

    pub fn parse(raw: &str) -> Option<StepAction> {
        Self::ALL
            .iter()
            .find(|(name, _)| *name == raw.trim())
            .map(|(_, a)| *a)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DecisionPoint {
    pub question: String,
    #[serde(flatten)]
    pub choices: Choices,
}

/// A bulleted set of options with the text around it, as decision points and
/// "Next steps" are written.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Choices {
    /// Markdown before the list.
    pub intro: String,
    pub options: Vec<Choice>,
    /// Markdown after the list.
    pub outro: String,
}

/// A piece of inline markdown and its plain text, as two slices of one
/// buffer that a section's (or an option list's) items share: the section's
/// own markdown, which already holds most items' markdown, then what it does
/// not hold. A list item costs no allocation of its own, and clones share
/// the text (a stage lists its page's entries and options; on a set where
/// every page is a stage, copies once took a third of the model's memory).
#[derive(Debug, Clone)]
pub struct Inline {
    buf: Arc<str>,
    markdown: [u32; 2],
    plain: [u32; 2],
}

impl Inline {
    /// An item with text of its own.
    pub fn new(markdown: String, text: String) -> Self {
        let m = 0..markdown.len();
        let (buf, p): (Arc<str>, _) = if text == markdown {
            (Arc::from(markdown), m.clone())
        } else {
            let p = m.end..m.end + text.len();
            (Arc::from(markdown + &text), p)
        };
        Inline::shared(&buf, m, p).unwrap_or_else(|| Inline {
            // A span does not reach past 4 GB: a single list item that long
            // (no page has one in practice) is kept empty rather than cut.
            buf: Arc::from(""),
            markdown: [0, 0],
            plain: [0, 0],
        })
    }

    /// An item whose markdown and plain text are the given slices of `buf`;
    /// `None` when a slice is not in `buf` or is past what a span holds.
    pub(crate) fn shared(
        buf: &Arc<str>,
        markdown: std::ops::Range<usize>,
        plain: std::ops::Range<usize>,
    ) -> Option<Self> {
        let span = |r: std::ops::Range<usize>| -> Option<[u32; 2]> {
            buf.get(r.clone())?;
            Some([u32::try_from(r.start).ok()?, u32::try_from(r.end).ok()?])
        };
        Some(Inline {
            markdown: span(markdown)?,
            plain: span(plain)?,
            buf: Arc::clone(buf),
        })
    }

    /// The text without markup, whitespace normalised.
    pub fn text(&self) -> &str {
        &self.buf[self.plain[0] as usize..self.plain[1] as usize]
    }

    pub fn markdown(&self) -> &str {
        &self.buf[self.markdown[0] as usize..self.markdown[1] as usize]
    }
}

impl PartialEq for Inline {
    fn eq(&self, other: &Self) -> bool {
        self.markdown() == other.markdown() && self.text() == other.text()
    }
}

impl Eq for Inline {}

impl Serialize for Inline {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("text", self.text())?;
        m.serialize_entry("markdown", self.markdown())?;
        m.end()
    }
}

/// One option of a decision point ([`DecisionOption`]) or of a stage's next
/// steps ([`ExitOption`]).
#[derive(Debug, Clone, Serialize)]
pub struct Choice {
    #[serde(flatten)]
    pub content: Inline,
    pub effect: Effect,
    #[serde(skip)]
    pub line: u32,
    /// The raw targets of the links inside the option.
    #[serde(skip)]
    pub links: Vec<String>,
}

impl Choice {
    pub fn text(&self) -> &str {
        self.content.text()
    }

    pub fn markdown(&self) -> &str {
        self.content.markdown()
    }
}

pub type DecisionOption = Choice;
pub type ExitOption = Choice;

/// What choosing an option does to an engagement, read from the option's
/// links and words. The engagement rules act on this, never on the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Effect {
    /// Start the stage, or a new cycle of it if it ran before.
    EnterStage { stage: String },
    /// The agency carries on alone: programme support ends, the record stays.
    DoItYourself,
    /// The engagement leaves the programme.
    Exit,
    /// The text names no stage and no exit.
    Unspecified,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SectionKind {
    Roles,
    Artefacts,
    EnablingServices,
    Benefits,
    Risks,
    Success,
    Tasks,
    Principles,
    Other,
}

impl SectionKind {
    /// Matches a `##` heading by meaning, ignoring case and punctuation.
    pub fn from_heading(heading: &str) -> Self {
        let h = crate::text::slugify(heading);
        match h.as_str() {
            "roles" | "roles-and-responsibilities" => SectionKind::Roles,
            "tools-templates-and-guidance"
            | "tools-and-templates"
            | "tools-templates-guidance"
            | "artefacts"
            | "artifacts"
            | "templates-and-guidance"
            | "dta-tools-templates-and-guidance" => SectionKind::Artefacts,
            "enabling-services" | "services" | "dta-support" => SectionKind::EnablingServices,
            "benefits" => SectionKind::Benefits,
            "risks-if-ignored" | "risks" | "risks-of-ignoring" | "mitigating-key-risks" => {
                SectionKind::Risks
            }
            // The framework's phases end with a checklist: move on when done.
            "what-success-looks-like" | "success-criteria" | "success" | "your-checklist" => {
                SectionKind::Success
            }
            "tasks-and-activities" | "tasks" | "activities" | "key-actions" => SectionKind::Tasks,
            "design-principles" | "principles" => SectionKind::Principles,
            _ => SectionKind::Other,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Section {
    /// The heading as written (whitespace normalised).
    pub heading: String,
    pub kind: SectionKind,
    pub line: u32,
    /// The heading's column: where its `#` is (up to three spaces in).
    pub column: u32,
    /// The section's markdown, then what of its items' text it does not
    /// hold: the buffer its [`Inline`]s share.
    pub(crate) text: Arc<str>,
    pub(crate) markdown_len: u32,
    /// The top-level list items, in order (shared with the stage's lists).
    pub items: Arc<[Entry]>,
}

impl Section {
    /// Markdown between this heading and the next `##` heading.
    pub fn markdown(&self) -> &str {
        self.text
            .get(..self.markdown_len as usize)
            .unwrap_or_default()
    }
}

/// A list item: a role, an artefact, a benefit and so on.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    #[serde(flatten)]
    pub content: Inline,
    #[serde(skip)]
    pub line: u32,
}

impl Entry {
    pub fn text(&self) -> &str {
        self.content.text()
    }

    pub fn markdown(&self) -> &str {
        self.content.markdown()
    }
}

pub type Role = Entry;
pub type Artefact = Entry;
pub type EnablingService = Entry;
pub type Benefit = Entry;
pub type Risk = Entry;
pub type SuccessCriterion = Entry;

#[derive(Debug, Clone, Serialize)]
pub struct Principle {
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone)]
pub struct Link {
    /// The text, then the target: one allocation a link (a large page set
    /// has hundreds of thousands of links).
    text_target: Box<str>,
    text_len: u32,
    pub line: u32,
    pub column: u32,
    pub image: bool,
    pub resolved: LinkTarget,
}

impl Link {
    /// A link not yet resolved ([`LinkTarget::Empty`] until every page is known).
    pub(crate) fn new(text: &str, target: &str, line: u32, column: u32, image: bool) -> Self {
        // A link's text comes from one page, far below 4 GB; were it not,
        // the text would be cut rather than the target.
        let mut cut = text.len().min(u32::MAX as usize);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let text = &text[..cut];
        Link {
            text_target: [text, target].concat().into_boxed_str(),
            text_len: text.len() as u32,
            line,
            column,
            image,
            resolved: LinkTarget::Empty,
        }
    }

    /// The link's text, without markup.
    pub fn text(&self) -> &str {
        &self.text_target[..self.text_len as usize]
    }

    /// The target as written.
    pub fn target(&self) -> &str {
        &self.text_target[self.text_len as usize..]
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkTarget {
    /// `[text]()`: nowhere.
    Empty,
    /// Another page of the model, with an optional `#fragment`.
    Page {
        page: PageId,
        fragment: Option<Box<str>>,
    },
    /// Looks like a page of the site, but no page of the set has that name.
    UnknownPage { key: Box<str> },
    /// `http://`, `https://` and `//host`.
    External,
    /// Any other scheme (`javascript:`, `data:`, `file:`…): never published,
    /// since a click on it could run script or open local files.
    Unsafe { scheme: Box<str> },
    /// `mailto:` and `tel:`.
    Contact,
    /// `#section` on the same page.
    Anchor,
    /// `www.example.org`: a browser would treat this as a relative path.
    NoScheme,
}

/// How long a stage is meant to take, from its page's front matter:
/// `timebox_weeks: 8` (at most eight weeks) or `timebox_weeks: [4, 8]`
/// (four to eight).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Timebox {
    pub min_weeks: Option<u32>,
    pub max_weeks: u32,
}

/// The front-matter key that says which recorded fact meets a success
/// criterion: a mapping from the criterion's text (as the page's "What
/// success looks like" list says it) to a fact, such as
/// `signed letter-of-intent` or `decided 1`.
pub const MET_BY_KEY: &str = "success_met_by";

/// The letters an engagement can sign (waymark-core's `LetterKind` slugs; a
/// core test keeps the two lists equal).
pub const LETTERS: [&str; 2] = ["letter-of-intent", "closure-letter"];

/// A recorded fact that meets a success criterion by itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "fact", rename_all = "snake_case")]
pub enum Fact {
    /// `signed letter-of-intent`: the letter's newest version is signed.
    Signed { letter: String },
    /// `decided 1`: the stage's first decision point has a standing
    /// decision; `decided exit`: its next steps do.
    Decided { point: Option<usize> },
}

impl Fact {
    /// Reads `signed <letter>`, `decided <n>` (from 1) or `decided exit`.
    pub fn parse(raw: &str) -> Result<Fact, String> {
        let words: Vec<&str> = raw.split_whitespace().collect();
        match words.as_slice() {
            ["signed", letter] if LETTERS.contains(letter) => Ok(Fact::Signed {
                letter: (*letter).to_string(),
            }),
            ["signed", other] => Err(format!(
                "`{other}` is not a letter Waymark signs: write one of {}",
                LETTERS.join(", ")
            )),
            ["decided", "exit"] => Ok(Fact::Decided { point: None }),
            ["decided", n] => match n.parse::<usize>() {
                Ok(n) if n >= 1 => Ok(Fact::Decided { point: Some(n - 1) }),
                _ => Err(format!(
                    "`decided {n}` needs a decision point's number, from 1, or `exit`"
                )),
            },
            _ => Err(format!(
                "`{raw}` is not a fact Waymark records: write `signed LETTER`, `decided N` or `decided exit`"
            )),
        }
    }
}

/// A success criterion that a recorded fact meets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MetBy {
    /// The criterion's position in the stage's `success` list.
    pub criterion: usize,
    #[serde(flatten)]
    pub fact: Fact,
}

/// Reads a page's `success_met_by` against its success criteria: the
/// facts it names, and what could not be read.
pub fn met_by(
    value: Option<&serde_json::Value>,
    success: &[SuccessCriterion],
) -> (Vec<MetBy>, Vec<String>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let Some(value) = value else {
        return (out, problems);
    };
    let Some(map) = value.as_object() else {
        problems.push(format!(
            "`{MET_BY_KEY}` must map a success criterion's text to a fact"
        ));
        return (out, problems);
    };
    for (text, fact) in map {
        let Some(criterion) = success.iter().position(|c| c.text().trim() == text.trim()) else {
            problems.push(format!(
                "`{MET_BY_KEY}` names “{}”, which is not one of this page's success criteria",
                crate::diagnostic::visible(text)
            ));
            continue;
        };
        match fact.as_str().map(Fact::parse) {
            Some(Ok(fact)) => out.push(MetBy { criterion, fact }),
            Some(Err(why)) => problems.push(why),
            None => problems.push(format!(
                "the fact for “{}” must be text",
                crate::diagnostic::visible(text)
            )),
        }
    }
    (out, problems)
}

/// The front-matter key a stage's timebox is written under.
pub const TIMEBOX_KEY: &str = "timebox_weeks";

/// Why a `timebox_weeks` value cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeboxError {
    #[error(
        "`timebox_weeks` must be a number of weeks from 1 to 104, or two of them as `[least, most]`"
    )]
    NotWeeks,
    #[error(
        "`timebox_weeks` gives its least number of weeks after its most: write `[least, most]`"
    )]
    Reversed,
}

impl Timebox {
    /// Reads a `timebox_weeks` value, or says what is wrong with it.
    pub fn from_front_matter(v: &serde_json::Value) -> Result<Timebox, TimeboxError> {
        let weeks = |v: &serde_json::Value| {
            v.as_u64()
                .filter(|w| (1..=104).contains(w))
                .map(|w| w as u32)
        };
        match v {
            serde_json::Value::Array(a) => match a.as_slice() {
                [lo, hi] => match (weeks(lo), weeks(hi)) {
                    (Some(lo), Some(hi)) if lo <= hi => Ok(Timebox {
                        min_weeks: Some(lo),
                        max_weeks: hi,
                    }),
                    (Some(_), Some(_)) => Err(TimeboxError::Reversed),
                    _ => Err(TimeboxError::NotWeeks),
                },
                _ => Err(TimeboxError::NotWeeks),
            },
            v => weeks(v)
                .map(|w| Timebox {
                    min_weeks: None,
                    max_weeks: w,
                })
                .ok_or(TimeboxError::NotWeeks),
        }
    }

    /// "4 to 8 weeks", or "up to 8 weeks".
    pub fn describe(&self) -> String {
        match self.min_weeks {
            Some(lo) if lo == self.max_weeks => format!("{lo} weeks"),
            Some(lo) => format!("{lo} to {} weeks", self.max_weeks),
            None => format!("up to {} weeks", self.max_weeks),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Stage {
    pub number: u32,
    pub name: String,
    pub slug: String,
    /// How long the stage is meant to take, if its page says.
    pub timebox: Option<Timebox>,
    /// The overview's description of the stage (markdown).
    pub summary: Option<String>,
    #[serde(skip)]
    pub page: Option<PageId>,
    pub steps: Vec<Step>,
    pub decisions: Vec<DecisionPoint>,
    pub exits: Vec<ExitOption>,
    pub roles: Arc<[Role]>,
    pub artefacts: Arc<[Artefact]>,
    pub enabling_services: Arc<[EnablingService]>,
    pub benefits: Arc<[Benefit]>,
    pub risks: Arc<[Risk]>,
    pub success: Arc<[SuccessCriterion]>,
    /// Success criteria that recorded facts meet (`success_met_by`).
    pub met_by: Vec<MetBy>,
    pub tasks: Arc<[Entry]>,
}

impl Stage {
    /// The decision point that already is this stage's way out: its options
    /// lead where the next steps lead, in the same order (Engagement asks
    /// "Undertake discovery?" and then lists the same three paths as next
    /// steps). Views offer that one decision, not a second near-identical one.
    pub fn exit_point(&self) -> Option<usize> {
        if self.exits.is_empty() {
            return None;
        }
        self.decisions.iter().position(|d| {
            d.choices.options.len() == self.exits.len()
                && d.choices
                    .options
                    .iter()
                    .zip(&self.exits)
                    .all(|(a, b)| a.effect == b.effect)
                && d.choices
                    .options
                    .iter()
                    .any(|o| o.effect != Effect::Unspecified)
        })
    }
}
