//! An engagement's own discussion: comments beside a step, a decision, a
//! risk or the engagement as a whole, with `@name` mentions that notify.
//!
//! A comment is an event in the engagement's own hash chain, so it is read
//! by exactly the people who may read the engagement (`Actor::access`),
//! never through the community's categories; its edits and the
//! programme's hiding are events too, so every version is kept. The
//! engagement's state keeps only what the rules need ([`CommentRecord`]:
//! who wrote which comment, where, and whether it is hidden); the words are
//! folded from the chain ([`fold`]) when a page shows them.
//!
//! No IO: the store loads the people who take part, for mentions, and
//! delivers the notices the mentions leave, asking [`mention_deliverable`]
//! when each goes out.

use serde::{Deserialize, Serialize};
use waymark_model::Model;

use crate::command::{DecisionAt, takes_part};
use crate::engagement::{Engagement, Event, Timestamp};
use crate::people::{Person, PersonId};
use crate::{Access, Actor, DomainError, Text};

/// The longest comment, in characters of markdown.
pub const COMMENT_MAX: usize = 4000;
/// The longest reason for hiding a comment.
pub const REASON_MAX: usize = 500;
/// The most people one comment tells, over all its versions (each is a
/// mail).
pub const MENTIONS_MAX: usize = 20;

/// What a comment is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Anchor {
    /// The engagement as a whole.
    Engagement,
    /// A step of a stage of the engagement's model.
    Step { stage: String, step: u32 },
    /// A stage's decision point, or its next steps.
    Decision { stage: String, at: DecisionAt },
    /// One of the engagement's risks.
    Risk { id: u32 },
}

impl Anchor {
    /// The anchor as an address's query names it: `engagement`,
    /// `step:discovery:2`, `decision:discovery:0`, `decision:discovery:exit`,
    /// `risk:3`.
    pub fn key(&self) -> String {
        match self {
            Anchor::Engagement => "engagement".into(),
            Anchor::Step { stage, step } => format!("step:{stage}:{step}"),
            Anchor::Decision {
                stage,
                at: DecisionAt::Point { index },
            } => format!("decision:{stage}:{index}"),
            Anchor::Decision {
                stage,
                at: DecisionAt::Exit,
            } => format!("decision:{stage}:exit"),
            Anchor::Risk { id } => format!("risk:{id}"),
        }
    }

    /// The anchor a key names, if it is well formed (whether it exists is
    /// [`Anchor::check`]'s question).
    pub fn parse_key(raw: &str) -> Option<Anchor> {
        let parts: Vec<&str> = raw.trim().split(':').collect();
        let stage = |s: &str| (!s.is_empty() && s.len() <= 100).then(|| s.to_string());
        match parts.as_slice() {
            ["engagement"] => Some(Anchor::Engagement),
            ["step", s, n] => Some(Anchor::Step {
                stage: stage(s)?,
                step: n.parse().ok()?,
            }),
            ["decision", s, "exit"] => Some(Anchor::Decision {
                stage: stage(s)?,
                at: DecisionAt::Exit,
            }),
            ["decision", s, n] => Some(Anchor::Decision {
                stage: stage(s)?,
                at: DecisionAt::Point {
                    index: n.parse().ok()?,
                },
            }),
            ["risk", n] => Some(Anchor::Risk {
                id: n.parse().ok()?,
            }),
            _ => None,
        }
    }

    /// The anchor, if it names something this engagement has: a step or a
    /// decision of its model, or one of its risks.
    pub fn check(&self, model: &Model, e: &Engagement) -> Result<Anchor, DomainError> {
        let stage_of = |slug: &str| {
            model.stage(slug.trim()).ok_or_else(|| {
                DomainError::invalid("about", "there is no such stage in this engagement's model")
            })
        };
        match self {
            Anchor::Engagement => Ok(Anchor::Engagement),
            Anchor::Step { stage, step } => {
                let s = stage_of(stage)?;
                if !s.steps.iter().any(|x| x.number == *step) {
                    return Err(DomainError::invalid(
                        "about",
                        format!("{} has no step {step}", s.name),
                    ));
                }
                Ok(Anchor::Step {
                    stage: s.slug.clone(),
                    step: *step,
                })
            }
            Anchor::Decision { stage, at } => {
                let s = stage_of(stage)?;
                if let DecisionAt::Point { index } = at
                    && *index >= s.decisions.len()
                {
                    return Err(DomainError::invalid(
                        "about",
                        match s.decisions.len() {
                            0 => format!("{} has no decision points", s.name),
                            1 => format!("{} has one decision point", s.name),
                            n => format!("{} has {n} decision points", s.name),
                        },
                    ));
                }
                Ok(Anchor::Decision {
                    stage: s.slug.clone(),
                    at: *at,
                })
            }
            Anchor::Risk { id } => {
                if !e.risks.iter().any(|r| r.id == *id) {
                    return Err(DomainError::invalid(
                        "about",
                        format!("there is no risk {id}"),
                    ));
                }
                Ok(Anchor::Risk { id: *id })
            }
        }
    }

    /// What the anchor is, in words: "Discovery, step 2: Hold the kick-off".
    pub fn label(&self, model: &Model, e: &Engagement) -> String {
        match self {
            Anchor::Engagement => "The engagement as a whole".into(),
            Anchor::Step { stage, step } => match model.stage(stage) {
                Some(s) => match s.steps.iter().find(|x| x.number == *step) {
                    Some(x) => format!("{}, step {step}: {}", s.name, x.title),
                    None => format!("{}, step {step}", s.name),
                },
                None => format!("Step {step} of “{stage}”, from an earlier model"),
            },
            Anchor::Decision { stage, at } => match (model.stage(stage), at) {
                (Some(s), DecisionAt::Point { index }) => match s.decisions.get(*index) {
                    Some(d) => format!("{}, decision: {}", s.name, d.question),
                    None => format!("{}, decision point {}", s.name, index + 1),
                },
                (Some(s), DecisionAt::Exit) => format!("{}, next steps", s.name),
                (None, _) => format!("A decision of “{stage}”, from an earlier model"),
            },
            Anchor::Risk { id } => match e.risks.iter().find(|r| r.id == *id) {
                Some(r) => format!("Risk {id}: {}", crate::one_line(&r.text)),
                None => format!("Risk {id}"),
            },
        }
    }
}

/// What the engagement's state keeps of a comment: enough for the rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommentRecord {
    pub id: u32,
    pub anchor: Anchor,
    pub author: PersonId,
    /// Everyone it has told, in any version (each once, at most
    /// [`MENTIONS_MAX`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<PersonId>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hidden: bool,
}

/// The people a comment on `e` may mention: those who take part in it
/// (the programme, the agency's people, the partners assigned), and have
/// not left.
pub fn participants<'p>(e: &Engagement, people: &'p [Person]) -> Vec<&'p Person> {
    people
        .iter()
        .filter(|p| p.deactivated_at.is_none() && takes_part(e, p))
        .collect()
}

/// The people `body` mentions, among `people` (already those who may be
/// mentioned), in the order they appear, each once, never `author`.
///
/// A mention is `@` (at the start or after a character that is not a
/// letter or digit, so an email address is not one) followed by a
/// person's whole name, or by a first name only one of them has, in any
/// case, and then a character that is not a letter or digit. The longest
/// name that fits wins: `@Mia Chen` is Mia Chen even beside a Mia. A name
/// two people share is nobody's mention.
pub fn mentions(body: &str, people: &[&Person], author: PersonId) -> Vec<PersonId> {
    use std::collections::HashMap;
    // Every way to name each person: the whole name, and the first name.
    let mut ways: Vec<(String, PersonId)> = Vec::new();
    for p in people {
        let whole = p.name.trim();
        ways.push((whole.to_string(), p.id));
        if let Some(first) = whole.split_whitespace().next()
            && first != whole
        {
            ways.push((first.to_string(), p.id));
        }
    }
    // A name two people answer to is neither's.
    let mut holders: HashMap<String, Vec<PersonId>> = HashMap::new();
    for (n, id) in &ways {
        let ids = holders.entry(n.to_lowercase()).or_default();
        if !ids.contains(id) {
            ids.push(*id);
        }
    }
    let mut names: Vec<(String, PersonId)> = ways
        .into_iter()
        .filter(|(n, _)| {
            !n.is_empty()
                && holders
                    .get(&n.to_lowercase())
                    .is_some_and(|ids| ids.len() == 1)
        })
        .collect();
    names.dedup();
    // Longest first, so the fullest name that fits is the one taken.
    names.sort_by_key(|(n, _)| std::cmp::Reverse(n.chars().count()));
    let mut out = Vec::new();
    let mut prev: Option<char> = None;
    for (i, c) in body.char_indices() {
        if c == '@' && !prev.is_some_and(char::is_alphanumeric) {
            let rest = &body[i + 1..];
            if let Some((_, id)) = names.iter().find(|(n, _)| follows(rest, n))
                && *id != author
                && !out.contains(id)
            {
                out.push(*id);
            }
        }
        prev = Some(c);
    }
    out
}

/// Whether `rest` starts with `name` (in any case), then ends or goes on
/// with something other than a letter or digit.
fn follows(rest: &str, name: &str) -> bool {
    let mut r = rest.chars();
    for n in name.chars() {
        match r.next() {
            Some(c) if c.to_lowercase().eq(n.to_lowercase()) => {}
            _ => return false,
        }
    }
    !r.next().is_some_and(char::is_alphanumeric)
}

fn checked_body(body: &Text<COMMENT_MAX>) -> Result<String, DomainError> {
    Ok(body.required("body")?.into_string())
}

fn mentioned(
    e: &Engagement,
    people: &[Person],
    body: &str,
    author: PersonId,
) -> Result<Vec<PersonId>, DomainError> {
    let found = mentions(body, &participants(e, people), author);
    if found.len() > MENTIONS_MAX {
        return Err(DomainError::invalid(
            "body",
            format!("mention at most {MENTIONS_MAX} people in one comment"),
        ));
    }
    Ok(found)
}

/// A new comment by `actor` on `anchor`: the event to record.
pub(crate) fn comment(
    model: &Model,
    e: &Engagement,
    actor: &Actor,
    people: &[Person],
    anchor: &Anchor,
    body: &Text<COMMENT_MAX>,
) -> Result<Event, DomainError> {
    let anchor = anchor.check(model, e)?;
    let body = checked_body(body)?;
    let mentions = mentioned(e, people, &body, actor.person)?;
    Ok(Event::Commented {
        id: e.comments.iter().map(|c| c.id).max().unwrap_or(0) + 1,
        anchor,
        body,
        mentions,
    })
}

fn find(e: &Engagement, id: u32) -> Result<&CommentRecord, DomainError> {
    e.comments
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(|| DomainError::invalid("id", format!("there is no comment {id}")))
}

/// A new version of comment `id`, by its author. Only people mentioned
/// for the first time are told.
pub(crate) fn edit(
    e: &Engagement,
    actor: &Actor,
    people: &[Person],
    id: u32,
    body: &Text<COMMENT_MAX>,
) -> Result<Event, DomainError> {
    // Whose words they are is `permission`'s question, asked first.
    let c = find(e, id)?;
    if c.hidden {
        return Err(DomainError::rule(
            "the programme hid this comment, so it can no longer be edited",
        ));
    }
    let body = checked_body(body)?;
    let mentions = mentioned(e, people, &body, actor.person)?;
    let told: Vec<PersonId> = mentions
        .iter()
        .copied()
        .filter(|p| !c.mentions.contains(p))
        .collect();
    if c.mentions.len() + told.len() > MENTIONS_MAX {
        return Err(DomainError::invalid(
            "body",
            format!(
                "this comment has told {} people already, and one comment tells at most {MENTIONS_MAX}: mention the others in a new comment",
                c.mentions.len()
            ),
        ));
    }
    Ok(Event::CommentEdited {
        id,
        body,
        mentions,
        told,
    })
}

/// The programme hides comment `id`, saying why: its words stay in the
/// chain, and only the programme and its author read them.
pub(crate) fn hide(
    e: &Engagement,
    actor: &Actor,
    id: u32,
    reason: &Text<REASON_MAX>,
) -> Result<Event, DomainError> {
    if !actor.is_programme() {
        return Err(DomainError::Forbidden {
            action: "hide_comment",
            why: "only the programme team hides a comment",
        });
    }
    if find(e, id)?.hidden {
        return Err(DomainError::rule(format!("comment {id} is already hidden")));
    }
    Ok(Event::CommentHidden {
        id,
        reason: reason.required("reason")?.into_string(),
    })
}

/// Folds a discussion event into the state's records.
pub(crate) fn apply(e: &mut Engagement, event: &Event, by: PersonId) {
    match event {
        Event::Commented {
            id,
            anchor,
            mentions,
            ..
        } => e.comments.push(CommentRecord {
            id: *id,
            anchor: anchor.clone(),
            author: by,
            mentions: mentions.clone(),
            hidden: false,
        }),
        Event::CommentEdited { id, told, .. } => {
            if let Some(c) = e.comments.iter_mut().find(|c| c.id == *id) {
                c.mentions.extend(told.iter().copied());
            }
        }
        Event::CommentHidden { id, .. } => {
            if let Some(c) = e.comments.iter_mut().find(|c| c.id == *id) {
                c.hidden = true;
            }
        }
        _ => {}
    }
}

/// One version of a comment's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Version {
    pub at: Timestamp,
    pub body: String,
}

/// A comment as a page shows it, folded from the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = EngagementComment))]
pub struct Comment {
    pub id: u32,
    pub anchor: Anchor,
    pub author: PersonId,
    /// When it was written.
    pub at: Timestamp,
    /// When it was last edited, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<Timestamp>,
    /// Its words now (markdown); empty when hidden from this reader.
    pub body: String,
    /// Earlier versions, oldest first; empty when hidden from this reader.
    pub earlier: Vec<Version>,
    /// Everyone its words now mention.
    pub mentions: Vec<PersonId>,
    /// Why the programme hid it, if it did (empty to those who may not
    /// read why).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden: Option<String>,
}

/// The discussion's comments, oldest first, from the engagement's chain
/// (events in order, each with who recorded it and when), as `reader`
/// may read them: a hidden comment's words only to the programme and its
/// author. Each is placed where `e` keeps it now (a model migration may
/// have moved its step).
pub fn fold<'a>(
    events: impl IntoIterator<Item = (&'a Event, PersonId, Timestamp)>,
    e: &Engagement,
    reader: &Actor,
) -> Vec<Comment> {
    let mut out: Vec<Comment> = Vec::new();
    for (event, by, at) in events {
        match event {
            Event::Commented {
                id,
                anchor,
                body,
                mentions,
            } => out.push(Comment {
                id: *id,
                anchor: anchor.clone(),
                author: by,
                at,
                edited_at: None,
                body: body.clone(),
                earlier: Vec::new(),
                mentions: mentions.clone(),
                hidden: None,
            }),
            Event::CommentEdited {
                id, body, mentions, ..
            } => {
                if let Some(c) = out.iter_mut().find(|c| c.id == *id) {
                    let was = std::mem::replace(&mut c.body, body.clone());
                    c.earlier.push(Version {
                        at: c.edited_at.unwrap_or(c.at),
                        body: was,
                    });
                    c.edited_at = Some(at);
                    c.mentions.clone_from(mentions);
                }
            }
            Event::CommentHidden { id, reason } => {
                if let Some(c) = out.iter_mut().find(|c| c.id == *id) {
                    c.hidden = Some(reason.clone());
                }
            }
            _ => {}
        }
    }
    for c in &mut out {
        if let Some(r) = e.comments.iter().find(|r| r.id == c.id) {
            c.anchor.clone_from(&r.anchor);
        }
        // Why it was hidden, and its words, are the programme's and its
        // author's to read; others see only that it was.
        if c.hidden.is_some() && !reader.is_programme() && reader.person != c.author {
            c.body.clear();
            c.earlier.clear();
            c.mentions.clear();
            c.hidden = Some(String::new());
        }
    }
    out
}

/// Whether `reader` may not read comment `id`'s words: the programme hid
/// it, and they are neither the programme nor its author.
pub fn withheld(e: &Engagement, reader: &Actor, id: u32) -> bool {
    !reader.is_programme()
        && e.comments
            .iter()
            .any(|c| c.id == id && c.hidden && c.author != reader.person)
}

/// An event as `reader` may read it: a hidden comment's words, whom they
/// name, and why it was hidden, left out for those who may not read them.
/// `true` when something was left out.
pub fn as_read(event: &mut Event, e: &Engagement, reader: &Actor) -> bool {
    match event {
        Event::Commented {
            id, body, mentions, ..
        } if withheld(e, reader, *id) => {
            body.clear();
            mentions.clear();
            true
        }
        Event::CommentEdited {
            id,
            body,
            mentions,
            told,
        } if withheld(e, reader, *id) => {
            body.clear();
            mentions.clear();
            told.clear();
            true
        }
        Event::CommentHidden { id, reason } if withheld(e, reader, *id) => {
            reason.clear();
            true
        }
        _ => false,
    }
}

/// Whether a mention made on an engagement is still mailed to the person
/// it names, judged when it goes out: they may still read the engagement,
/// have not left, and the comment is not hidden.
pub fn mention_deliverable(access: Access, deactivated: bool, hidden: bool) -> bool {
    access != Access::None && !deactivated && !hidden
}
