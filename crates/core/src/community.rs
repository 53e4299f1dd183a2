//! The community portal's rules: its categories (public or for members),
//! who may read, ask, answer, edit, vote and accept, what a question or an
//! answer may hold, and what each change records in a question's own hash
//! chain (its `TopicEvent`s), so that edits keep their history and every
//! action is audited.
//!
//! A community member is anyone with an account, roles or none: an account
//! with no role sees the community and the guide and never an engagement
//! (`Actor::access` gives it nothing). No IO: the store keeps questions,
//! answers, revisions and votes, and asks these rules inside its
//! transactions.

use serde::{Deserialize, Serialize};
use waymark_model::Model;

use crate::people::shown;
use crate::{Actor, DomainError, NewPerson, PersonId, check_line, check_text};

/// The longest question title, in characters.
pub const TITLE_MAX: usize = 200;
/// The shortest question title: a question, not a word.
pub const TITLE_MIN: usize = 10;
/// The longest question or answer, in characters of markdown.
pub const BODY_MAX: usize = 30_000;
/// The longest category name and description.
pub const CATEGORY_NAME_MAX: usize = 80;
pub const CATEGORY_DESCRIPTION_MAX: usize = 300;

/// Who may read a category's questions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Anyone, signed out too.
    Public,
    /// Anyone with an account.
    Members,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Members => "members",
        }
    }

    pub fn parse(raw: &str) -> Result<Visibility, DomainError> {
        match raw.trim() {
            "public" => Ok(Visibility::Public),
            "members" => Ok(Visibility::Members),
            _ => Err(DomainError::invalid(
                "visibility",
                "choose public (anyone may read) or members (only people with an account)",
            )),
        }
    }
}

/// A category as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = CommunityCategory))]
pub struct Category {
    pub id: i64,
    /// Its address: `/community/c/<slug>`.
    pub slug: String,
    pub name: String,
    pub description: String,
    pub visibility: Visibility,
    /// Only the programme starts questions here (Announcements).
    pub programme_only: bool,
    /// How many questions it holds (hidden ones too).
    pub questions: i64,
}

/// A category to add: its fields checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCategory {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub visibility: Visibility,
    pub programme_only: bool,
}

impl NewCategory {
    /// Checks what the programme typed, every problem at once. The slug
    /// comes from the name.
    pub fn parse(
        name: &str,
        description: &str,
        visibility: &str,
        programme_only: bool,
    ) -> Result<NewCategory, Vec<DomainError>> {
        // Compatibility forms fold to one ("Ａ" is "A", "e" with a
        // combining accent is "é"), so no name passes for another.
        use unicode_normalization::UnicodeNormalization;
        let name: String = name.nfkc().collect();
        let name = check_line("name", &name, CATEGORY_NAME_MAX).and_then(|n| {
            if n.is_empty() {
                Err(DomainError::invalid("name", "is required"))
            } else {
                Ok(n)
            }
        });
        let slug = name.as_ref().ok().map(|n| slug_of(n));
        let name = match (name, slug.as_deref()) {
            (Ok(_), Some("")) => Err(DomainError::invalid(
                "name",
                "needs at least one letter or digit",
            )),
            (n, _) => n,
        };
        let description = check_text("description", description, CATEGORY_DESCRIPTION_MAX);
        let visibility = Visibility::parse(visibility);
        match (name, description, visibility) {
            (Ok(name), Ok(description), Ok(visibility)) => Ok(NewCategory {
                slug: slug.unwrap_or_default(),
                name,
                description,
                visibility,
                programme_only,
            }),
            (n, d, v) => Err([n.err(), d.err(), v.err()].into_iter().flatten().collect()),
        }
    }
}

/// Lowercase letters and digits (any script) joined by single hyphens, at
/// most 60 characters.
fn slug_of(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out: String = out.trim_end_matches('-').chars().take(60).collect();
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// The categories every portal has: one per stage of the model, then
/// Blueprint and Announcements. Stage categories are public; so are the
/// two others, and only the programme posts in Announcements.
pub fn defaults(model: &Model) -> Vec<NewCategory> {
    let mut out: Vec<NewCategory> = model
        .stages
        .iter()
        .map(|st| NewCategory {
            slug: st.slug.clone(),
            name: st.name.clone(),
            description: format!("Questions about {} and its steps.", st.name),
            visibility: Visibility::Public,
            programme_only: false,
        })
        .collect();
    out.push(NewCategory {
        slug: "blueprint".into(),
        name: "Blueprint".into(),
        description: "The blueprint itself: its design, its versions and how to configure it."
            .into(),
        visibility: Visibility::Public,
        programme_only: false,
    });
    out.push(NewCategory {
        slug: "announcements".into(),
        name: "Announcements".into(),
        description: "News from the Protected Utility programme.".into(),
        visibility: Visibility::Public,
        programme_only: true,
    });
    out
}

/// Who may register for the community by default: government addresses.
pub const DEFAULT_DOMAINS: &str = "gov.au";

/// The domains (and their subdomains) whose addresses may register, read
/// from `gov.au, example.org`: lowercase, each a dotted name.
pub fn parse_domains(raw: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for d in raw.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let d = d.trim_start_matches('.').to_lowercase();
        let fine = d.len() <= 253
            && d.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !fine {
            return Err(format!("“{}” is not a domain such as gov.au", shown(&d)));
        }
        if !out.contains(&d) {
            out.push(d);
        }
    }
    Ok(out)
}

/// Whether `email`'s domain is one of `domains` or under one of them.
pub fn domain_allowed(email: &crate::Email, domains: &[String]) -> bool {
    let Some((_, domain)) = email.as_str().rsplit_once('@') else {
        return false;
    };
    domains.iter().any(|d| {
        domain == d
            || domain
                .strip_suffix(d.as_str())
                .is_some_and(|p| p.ends_with('.'))
    })
}

/// Checks a registration: a name, and an address on an allowed domain;
/// every problem at once.
pub fn registration(
    name: &str,
    email: &str,
    domains: &[String],
) -> Result<NewPerson, Vec<DomainError>> {
    let p = NewPerson::parse_all(name, email)?;
    // Mail goes out without SMTPUTF8, and a look-alike letter (a Greek
    // omicron in "gov") must not pass for an agency's domain.
    if !p.email.as_str().is_ascii() {
        return Err(vec![DomainError::invalid(
            "email",
            "give the address in plain letters (a domain with other letters in its punycode form, xn--…)",
        )]);
    }
    if !domain_allowed(&p.email, domains) {
        let list = domains.join(", ");
        return Err(vec![DomainError::invalid(
            "email",
            format!(
                "the community is open to addresses at {list} (and their subdomains); if your organisation uses another address, write to the programme"
            ),
        )]);
    }
    Ok(p)
}

/// Whether `reader` (`None` when signed out) may read a category.
pub fn may_read(reader: Option<&Actor>, visibility: Visibility) -> bool {
    match visibility {
        Visibility::Public => true,
        Visibility::Members => reader.is_some(),
    }
}

/// Only the programme adds categories and moderates.
pub fn may_moderate(actor: &Actor) -> Result<(), DomainError> {
    if actor.is_programme() {
        Ok(())
    } else {
        Err(DomainError::Forbidden {
            action: "moderate the community",
            why: "only the programme team moderates",
        })
    }
}

/// Whether `actor` may ask a question in `category`.
pub fn may_ask(actor: &Actor, category: &Category) -> Result<(), DomainError> {
    if category.programme_only && !actor.is_programme() {
        return Err(DomainError::Forbidden {
            action: "post in this category",
            why: "only the programme posts here",
        });
    }
    Ok(())
}

/// What a question is now, as far as the rules ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicState {
    pub asker: PersonId,
    pub locked: bool,
    /// Its category is one only the programme posts in (Announcements):
    /// only the programme answers too.
    pub programme_only: bool,
    /// The programme hid the question: only the programme acts on it (its
    /// asker still reads it, and may edit it).
    pub hidden: bool,
}

/// What the rules ask of one post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostState {
    pub author: PersonId,
    /// The programme hid it, or the question it is in.
    pub hidden: bool,
}

impl PostState {
    /// A post by `author`, hidden itself (`hidden`) or not, in a question
    /// hidden (`question_hidden`) or not: in a hidden question every post
    /// counts as hidden.
    pub fn within(author: PersonId, hidden: bool, question_hidden: bool) -> PostState {
        PostState {
            author,
            hidden: hidden || question_hidden,
        }
    }
}

/// Whether `person` (not of the programme) may still open a question
/// asked by `asker`: anyone while it is not hidden (`hidden`), its asker
/// always.
pub fn opens(hidden: bool, asker: PersonId, person: PersonId) -> bool {
    !hidden || person == asker
}

/// Refuses what only the programme does on a hidden question.
fn not_hidden(actor: &Actor, topic: TopicState, action: &'static str) -> Result<(), DomainError> {
    if topic.hidden && !actor.is_programme() {
        return Err(DomainError::Forbidden {
            action,
            why: "the programme hid this question",
        });
    }
    Ok(())
}

/// Whether `actor` may answer: anyone with an account, unless the question
/// is locked or in a category only the programme posts in.
pub fn may_answer(actor: &Actor, topic: TopicState) -> Result<(), DomainError> {
    not_hidden(actor, topic, "answer this question")?;
    if topic.programme_only && !actor.is_programme() {
        return Err(DomainError::Forbidden {
            action: "answer in this category",
            why: "only the programme posts here",
        });
    }
    if topic.locked && !actor.is_programme() {
        return Err(DomainError::Forbidden {
            action: "answer this question",
            why: "the programme locked it",
        });
    }
    Ok(())
}

/// Whether `actor` may edit a post written by `author`: its author (while
/// the question is open) or the programme.
pub fn may_edit(actor: &Actor, author: PersonId, topic: TopicState) -> Result<(), DomainError> {
    if actor.is_programme() {
        return Ok(());
    }
    if actor.person != author {
        return Err(DomainError::Forbidden {
            action: "edit this post",
            why: "only its author or the programme edits a post",
        });
    }
    if topic.locked {
        return Err(DomainError::Forbidden {
            action: "edit this post",
            why: "the programme locked the question",
        });
    }
    Ok(())
}

/// Whether `actor` may accept an answer (or take acceptance back): the
/// asker or the programme.
pub fn may_accept(actor: &Actor, topic: TopicState) -> Result<(), DomainError> {
    not_hidden(actor, topic, "accept an answer")?;
    if actor.is_programme() || actor.person == topic.asker {
        Ok(())
    } else {
        Err(DomainError::Forbidden {
            action: "accept an answer",
            why: "only the person who asked, or the programme, accepts an answer",
        })
    }
}

/// Whether `actor` may up-vote `post`: anyone but its author, while the
/// post is not hidden. (One vote a person a post is the store's unique
/// key; taking a vote back is always allowed.)
pub fn may_vote(actor: &Actor, post: PostState) -> Result<(), DomainError> {
    if actor.person == post.author {
        return Err(DomainError::rule("you cannot vote for your own post"));
    }
    if post.hidden {
        return Err(DomainError::rule(
            "the programme hid this post; it cannot be voted for",
        ));
    }
    Ok(())
}

/// A stage or a step of the model that a question is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StepTag {
    pub stage: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<u32>,
}

impl StepTag {
    /// `discovery/2` or `discovery`, as typed and as in addresses.
    pub fn typed(&self) -> String {
        match self.step {
            Some(n) => format!("{}/{n}", self.stage),
            None => self.stage.clone(),
        }
    }

    /// Reads `discovery/2` or `discovery` against the model; empty is none.
    pub fn parse(raw: &str, model: &Model) -> Result<Option<StepTag>, DomainError> {
        let t = raw.trim().to_lowercase();
        if t.is_empty() {
            return Ok(None);
        }
        let (s, n) = match t.split_once('/') {
            Some((s, n)) => (s.trim(), Some(n.trim())),
            None => (t.as_str(), None),
        };
        let st = model.stages.iter().find(|st| st.slug == s).ok_or_else(|| {
            DomainError::invalid("tag", format!("“{}” is not a stage of the model", shown(s)))
        })?;
        let step = match n {
            None => None,
            Some(n) => {
                let n: u32 = n.parse().map_err(|_| {
                    DomainError::invalid(
                        "tag",
                        format!(
                            "“{}”: write a step as stage/number, like discovery/2",
                            shown(&t)
                        ),
                    )
                })?;
                if !st.steps.iter().any(|step| step.number == n) {
                    return Err(DomainError::invalid(
                        "tag",
                        format!("{} has no step {n}", st.name),
                    ));
                }
                Some(n)
            }
        };
        Ok(Some(StepTag {
            stage: st.slug.clone(),
            step,
        }))
    }

    /// "Discovery, step 2: Hold the initial meeting", from the model (the
    /// typed form when the model no longer has it).
    pub fn label(&self, model: &Model) -> String {
        let Some(st) = model.stages.iter().find(|s| s.slug == self.stage) else {
            return self.typed();
        };
        match self.step {
            None => st.name.clone(),
            Some(n) => match st.steps.iter().find(|s| s.number == n) {
                Some(step) => format!("{}, step {n}: {}", st.name, step.title),
                None => format!("{}, step {n}", st.name),
            },
        }
    }
}

/// A question as asked, its fields checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    pub title: String,
    pub body: String,
    pub tag: Option<StepTag>,
}

fn title(raw: &str) -> Result<String, DomainError> {
    let t = check_line("title", raw, TITLE_MAX)?;
    let n = t.chars().filter(|c| c.is_alphanumeric()).count();
    if t.is_empty() {
        return Err(DomainError::invalid("title", "is required"));
    }
    if n < TITLE_MIN {
        return Err(DomainError::invalid(
            "title",
            format!("say what you want to know in at least {TITLE_MIN} letters"),
        ));
    }
    Ok(t)
}

/// A post's body: markdown, required, at most [`BODY_MAX`] characters.
pub fn body(raw: &str) -> Result<String, DomainError> {
    let b = check_text("body", raw, BODY_MAX)?;
    if b.is_empty() {
        return Err(DomainError::invalid("body", "is required"));
    }
    Ok(b)
}

impl Question {
    /// Checks a question, every problem at once (title, body, tag).
    pub fn parse(
        title_raw: &str,
        body_raw: &str,
        tag: &str,
        model: &Model,
    ) -> Result<Question, Vec<DomainError>> {
        match (title(title_raw), body(body_raw), StepTag::parse(tag, model)) {
            (Ok(title), Ok(body), Ok(tag)) => Ok(Question { title, body, tag }),
            (t, b, g) => Err([t.err(), b.err(), g.err()].into_iter().flatten().collect()),
        }
    }
}

/// An edit of a post: the question's title too when the post is the
/// question.
pub fn edit(title_raw: Option<&str>, body_raw: &str) -> Result<Edit, Vec<DomainError>> {
    let t = title_raw.map(title).transpose();
    match (t, body(body_raw)) {
        (Ok(title), Ok(body)) => Ok(Edit { title, body }),
        (t, b) => Err([t.err(), b.err()].into_iter().flatten().collect()),
    }
}

/// A checked edit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edit {
    pub title: Option<String>,
    pub body: String,
}

/// What each change to a question records in its chain. Posts are named by
/// their id; the question itself is post `question`'s first revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TopicEvent {
    Asked {
        category: String,
        post: i64,
        title: String,
        body: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tag: Option<StepTag>,
    },
    Answered {
        post: i64,
        body: String,
    },
    Edited {
        post: i64,
        revision: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        body: String,
    },
    Accepted {
        post: i64,
    },
    Unaccepted {
        post: i64,
    },
    /// The programme made the question and its accepted answer an FAQ
    /// entry: the knowledge article `article`, a draft until published.
    Promoted {
        post: i64,
        article: i64,
    },
    /// The programme hid a post (the question: the whole question) from
    /// everyone but itself, saying why; its author is told.
    Hidden {
        post: i64,
        reason: String,
    },
    Unhidden {
        post: i64,
    },
    /// Locked: no new answers or edits but the programme's.
    Locked,
    Unlocked,
    /// Moved from one category to another (their slugs).
    Moved {
        from: String,
        to: String,
    },
}

impl TopicEvent {
    /// The event's kind, as the chain's `kind` column keeps it.
    pub fn kind(&self) -> &'static str {
        match self {
            TopicEvent::Asked { .. } => "asked",
            TopicEvent::Answered { .. } => "answered",
            TopicEvent::Edited { .. } => "edited",
            TopicEvent::Accepted { .. } => "accepted",
            TopicEvent::Unaccepted { .. } => "unaccepted",
            TopicEvent::Promoted { .. } => "promoted",
            TopicEvent::Hidden { .. } => "hidden",
            TopicEvent::Unhidden { .. } => "unhidden",
            TopicEvent::Locked => "locked",
            TopicEvent::Unlocked => "unlocked",
            TopicEvent::Moved { .. } => "moved",
        }
    }
}

/// Whether the answer `post` may be accepted on a question whose accepted
/// answer is `accepted` now: it must be an answer of this question (the
/// store passes it as `answer` when it is; otherwise the field is
/// invalid), not hidden, and not already the accepted one.
pub fn accept(
    actor: &Actor,
    topic: TopicState,
    answer: Option<PostState>,
    accepted: Option<i64>,
    post: i64,
) -> Result<TopicEvent, DomainError> {
    may_accept(actor, topic)?;
    // The question exists; the post named is not one of its answers.
    let Some(answer) = answer else {
        return Err(DomainError::invalid(
            "post",
            "is not an answer to this question",
        ));
    };
    if answer.hidden {
        return Err(DomainError::rule(
            "the programme hid this answer; it cannot be accepted",
        ));
    }
    if accepted == Some(post) {
        return Err(DomainError::rule("this answer is already the accepted one"));
    }
    Ok(TopicEvent::Accepted { post })
}

/// The longest reason for a flag or for hiding a post.
pub const REASON_MAX: usize = 500;

/// A new account's posts (questions and answers) an hour, until it has
/// been here a week and has a post accepted or up-voted.
pub const NEW_POSTS_PER_HOUR: u64 = 5;
/// How long an account is new.
pub const NEW_ACCOUNT_SECS: i64 = 7 * 24 * 60 * 60;

/// How many posts an hour `actor` may make, when limited: an account less
/// than a week old (`age_secs`), or without a post that was accepted or
/// up-voted (`standing`), makes [`NEW_POSTS_PER_HOUR`]; the programme and
/// established members are not limited.
pub fn post_limit(actor: &Actor, age_secs: i64, standing: bool) -> Option<u64> {
    if actor.is_programme() || (age_secs >= NEW_ACCOUNT_SECS && standing) {
        None
    } else {
        Some(NEW_POSTS_PER_HOUR)
    }
}

/// Whether `actor` may flag a post by `author` for the programme to look
/// at: anyone but its author.
pub fn may_flag(actor: &Actor, post: PostState) -> Result<(), DomainError> {
    if actor.person == post.author {
        return Err(DomainError::rule(
            "this is your own post: edit it instead of flagging it",
        ));
    }
    if post.hidden {
        return Err(DomainError::rule("the programme has hidden it already"));
    }
    Ok(())
}

/// A flag's reason, as typed: optional, one line.
pub fn flag_reason(raw: &str) -> Result<String, DomainError> {
    check_line("reason", raw, REASON_MAX)
}

/// What the programme does to keep the community useful, as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Moderation {
    Hide { post: i64, reason: String },
    Unhide { post: i64 },
    Lock,
    Unlock,
    Move { to: String },
}

/// What a moderation finds: the question's lock and category, and, for
/// one post, whether it is hidden now (`None`: the post is not this
/// question's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moderated<'a> {
    pub locked: bool,
    pub category: &'a str,
    pub post_hidden: Option<bool>,
    /// For a move: whether the target category exists.
    pub target_exists: bool,
}

/// Judges a moderation: the programme only, each change a real one, a
/// reason to hide (the author reads it). Returns the event to record.
pub fn moderate(
    actor: &Actor,
    m: &Moderation,
    now: &Moderated<'_>,
) -> Result<TopicEvent, DomainError> {
    may_moderate(actor)?;
    let hidden = || {
        now.post_hidden
            .ok_or_else(|| DomainError::invalid("post", "is not a post of this question"))
    };
    match m {
        Moderation::Hide { post, reason } => {
            if hidden()? {
                return Err(DomainError::rule("this post is already hidden"));
            }
            let reason = check_line("reason", reason, REASON_MAX)?;
            if reason.is_empty() {
                return Err(DomainError::invalid(
                    "reason",
                    "is required: its author reads it",
                ));
            }
            Ok(TopicEvent::Hidden {
                post: *post,
                reason,
            })
        }
        Moderation::Unhide { post } => {
            if !hidden()? {
                return Err(DomainError::rule("this post is not hidden"));
            }
            Ok(TopicEvent::Unhidden { post: *post })
        }
        Moderation::Lock if now.locked => Err(DomainError::rule("this question is already locked")),
        Moderation::Lock => Ok(TopicEvent::Locked),
        Moderation::Unlock if !now.locked => Err(DomainError::rule("this question is not locked")),
        Moderation::Unlock => Ok(TopicEvent::Unlocked),
        Moderation::Move { .. } if !now.target_exists => Err(DomainError::invalid(
            "category",
            "choose a category that exists",
        )),
        Moderation::Move { to } if to == now.category => Err(DomainError::rule(
            "the question is in this category already",
        )),
        Moderation::Move { to } => Ok(TopicEvent::Moved {
            from: now.category.to_string(),
            to: to.clone(),
        }),
    }
}

/// What happened on a question that its watchers hear about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Notice {
    /// A new answer.
    Answered,
    /// An answer was accepted.
    Accepted,
}

impl Notice {
    pub fn as_str(self) -> &'static str {
        match self {
            Notice::Answered => "answered",
            Notice::Accepted => "accepted",
        }
    }

    pub fn parse(raw: &str) -> Option<Notice> {
        [Notice::Answered, Notice::Accepted]
            .into_iter()
            .find(|n| n.as_str() == raw)
    }

    /// A mail's subject, or a digest's line, for question `title`.
    pub fn headline(self, title: &str) -> String {
        match self {
            Notice::Answered => format!("New answer: {title}"),
            Notice::Accepted => format!("Answer accepted: {title}"),
        }
    }
}

/// What the delivery knows of a notice when it goes out (not when it was
/// left: a moment may pass, and the programme may act in it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NoticeState {
    /// The question, or the post the notice is about, is hidden now.
    pub hidden: bool,
    /// For an acceptance: the answer is still the accepted one.
    pub still_accepted: bool,
    /// For an acceptance: a later acceptance on the question waits to go.
    pub superseded: bool,
    /// For an acceptance: this answer's acceptance was mailed before.
    pub told: bool,
}

/// Whether a notice of `kind` is mailed (and listed in digests) at all:
/// never one about something hidden, and an acceptance once per answer,
/// only while it stands, and only the last of a quick run of changes.
pub fn deliverable(kind: Notice, n: NoticeState) -> bool {
    if n.hidden {
        return false;
    }
    match kind {
        Notice::Answered => true,
        Notice::Accepted => n.still_accepted && !n.superseded && !n.told,
    }
}

/// Whether a watcher (`person`, who asked for mail `notify`) gets a mail
/// at once about what `actor` did: never the one who did it, and only
/// when they asked for each event.
pub fn mail_now(person: PersonId, actor: PersonId, notify: crate::Notify) -> bool {
    person != actor && notify == crate::Notify::Each
}

/// Whether it goes in the watcher's daily digest instead.
pub fn in_digest(person: PersonId, actor: PersonId, notify: crate::Notify) -> bool {
    person != actor && notify == crate::Notify::Daily
}

/// Whether the reader may watch a question or category they can read:
/// anyone signed in (mail needs an address).
pub fn may_watch(reader: Option<&Actor>, visibility: Visibility) -> Result<(), DomainError> {
    match reader {
        Some(_) if may_read(reader, visibility) => Ok(()),
        Some(_) => Err(DomainError::NotFound),
        None => Err(DomainError::Forbidden {
            action: "watch questions",
            why: "sign in first: watching sends you mail",
        }),
    }
}

/// Whether `actor` may make the question an FAQ entry: the programme
/// only, once the question has an accepted answer, once per question
/// (`promoted`: the article it already became, if any), and never while
/// the question or its accepted answer is hidden (`hidden`).
pub fn may_promote(
    actor: &Actor,
    accepted: Option<i64>,
    promoted: Option<i64>,
    hidden: bool,
) -> Result<i64, DomainError> {
    if !actor.is_programme() {
        return Err(DomainError::Forbidden {
            action: "add questions to the FAQ",
            why: "the FAQ is the programme's",
        });
    }
    if hidden {
        return Err(DomainError::rule(
            "the question or its accepted answer is hidden; show it again before it goes into the FAQ",
        ));
    }
    if let Some(article) = promoted {
        return Err(DomainError::rule(format!(
            "this question is already in the FAQ (knowledge article {article}); edit that entry instead"
        )));
    }
    accepted.ok_or_else(|| {
        DomainError::rule(
            "only a question with an accepted answer can go into the FAQ; accept an answer first",
        )
    })
}

/// The first draft of the FAQ entry made from a question and its accepted
/// answer, for the programme to edit into a clean entry before it
/// publishes: the question's title, a summary from the question's first
/// paragraph, the answer's markdown, tagged with the question's step, to
/// review in a year (`review_by`). `topic` keeps the address unique.
pub fn faq_draft(
    topic: i64,
    title: &str,
    question: &str,
    answer: &str,
    tag: Option<&StepTag>,
    review_by: &str,
) -> crate::knowledge::ArticleInput {
    // The first paragraph as plain words: markdown's emphasis, code and
    // heading marks dropped, a link's text kept without its address.
    let first = question
        .split("\n\n")
        .map(|p| plain(&p.split_whitespace().collect::<Vec<_>>().join(" ")))
        .find(|p| !p.is_empty())
        .unwrap_or_default();
    let summary = if first.is_empty() {
        title.to_string()
    } else {
        shorten(&first, crate::knowledge::MAX_SUMMARY)
    };
    let mut slug = format!("faq-{topic}-{}", crate::knowledge::slug_of(title));
    if slug.len() > crate::knowledge::MAX_SLUG {
        // slug_of gives ASCII: cut at a byte, then drop a dangling hyphen.
        slug.truncate(crate::knowledge::MAX_SLUG);
    }
    let slug = slug.trim_end_matches('-').to_string();
    crate::knowledge::ArticleInput {
        slug,
        title: shorten(title, crate::knowledge::MAX_TITLE),
        summary,
        body: answer.to_string(),
        tags: tag.map(StepTag::typed).unwrap_or_default(),
        review_by: review_by.to_string(),
    }
}

/// One line of markdown as the words a reader sees.
fn plain(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line.trim_start_matches(['#', '>', ' ']);
    while let Some(c) = rest.chars().next() {
        // `[text](address)`: the text.
        if c == '['
            && let Some(close) = rest.find("](")
            && let Some(end) = rest[close..].find(')')
        {
            out.push_str(&rest[1..close]);
            rest = &rest[close + end + 1..];
            continue;
        }
        if !matches!(c, '*' | '_' | '`') {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out.trim().to_string()
}

/// `text` cut to at most `max` characters at a word, with an ellipsis.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max - 1).collect();
    let cut = match cut.rfind(' ') {
        Some(i) if i > 0 => &cut[..i],
        _ => cut.as_str(),
    };
    format!("{}…", cut.trim_end_matches([',', ';', ':', ' ']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_is_open_to_allowed_domains_and_their_subdomains() {
        let d = parse_domains(" gov.au, .Example.org ,gov.au").unwrap();
        assert_eq!(d, ["gov.au", "example.org"]);
        assert!(parse_domains("gov..au").is_err());
        assert!(parse_domains("gov.au/x").is_err());
        assert!(registration("Jo", "jo@gov.au", &d).is_ok());
        assert!(registration("Jo", "jo@agency.gov.au", &d).is_ok());
        assert!(registration("Jo", "jo@mail.example.org", &d).is_ok());
        for bad in ["jo@evilgov.au", "jo@gov.au.evil.com", "jo@gmail.com"] {
            let e = registration("Jo", bad, &d).unwrap_err();
            assert!(
                matches!(&e[0], DomainError::Invalid { field: "email", .. }),
                "{bad}"
            );
        }
        assert_eq!(registration("", "x", &d).unwrap_err().len(), 2);
        assert!(registration("Jo", "jo@b\u{3bf}t.gov.au", &d).is_err());
    }

    #[test]
    fn slugs_are_plain() {
        assert_eq!(slug_of("Licensing & Costs!"), "licensing-costs");
        assert_eq!(slug_of("  --  "), "");
        assert_eq!(slug_of("Café"), "café");
        assert_eq!(slug_of(&"ab ".repeat(40)).len(), 59);
    }
}
