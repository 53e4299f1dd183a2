//! An engagement's discussion, as pages: the threads beside its steps,
//! decisions and risks, one thread with its comments, and the forms that
//! post, edit and hide (each a workspace command: the core decides).

use std::collections::HashMap;

use serde::Serialize;
use waymark_core::discussion::{Anchor, Comment};
use waymark_core::{DecisionAt, Engagement, PersonId, Timestamp};
use waymark_model::Model;

use super::community::post_html;
use super::engagements::person_name;
use super::{AppState, PageError};

/// The discussion part of an engagement's page.
#[derive(Serialize)]
pub struct DiscussionView {
    /// The thread shown, if one is: its key, label and where the thing is.
    about: Option<AnchorView>,
    /// Every thread with comments, the most recently active first.
    threads: Vec<ThreadView>,
    /// The shown thread's comments, oldest first.
    comments: Vec<CommentView>,
    /// What a new discussion may be about, for the form's choice.
    anchors: Vec<AnchorGroup>,
    /// Who a comment may mention, by name.
    people: Vec<String>,
}

#[derive(Serialize)]
struct AnchorView {
    key: String,
    label: String,
    /// The page where the step, decision or risk is, and its link's words.
    href: String,
    go: &'static str,
}

#[derive(Serialize)]
struct ThreadView {
    key: String,
    label: String,
    count: usize,
    last_at: i64,
    last_by: String,
}

#[derive(Serialize)]
struct CommentView {
    id: u32,
    author: String,
    mine: bool,
    at: i64,
    edited_at: Option<i64>,
    html: minijinja::Value,
    /// The words to edit, for its author.
    body: String,
    earlier: Vec<(i64, minijinja::Value)>,
    hidden: Option<String>,
    mentions: Vec<String>,
}

#[derive(Serialize)]
struct AnchorGroup {
    label: String,
    options: Vec<(String, String)>,
}

/// Where `anchor` is shown in the workspace.
fn href(e: &Engagement, anchor: &Anchor) -> String {
    let id = e.id;
    match anchor {
        Anchor::Engagement => format!("/engagements/{id}"),
        Anchor::Step { stage, step } => {
            format!("/engagements/{id}/stages/{stage}#step-{stage}-{step}")
        }
        Anchor::Decision {
            stage,
            at: DecisionAt::Point { index },
        } => format!("/engagements/{id}/stages/{stage}#decide-{stage}-{index}-title"),
        Anchor::Decision {
            stage,
            at: DecisionAt::Exit,
        } => format!("/engagements/{id}/stages/{stage}#exit-{stage}-title"),
        Anchor::Risk { id: r } => format!("/engagements/{id}/risks#risk-{r}"),
    }
}

/// Everything a discussion may be about, grouped for a choice: the
/// engagement, each stage's steps and decisions, and the open risks.
fn anchors(e: &Engagement, model: &Model) -> Vec<AnchorGroup> {
    let option = |a: Anchor| (a.key(), a.label(model, e));
    let mut out = vec![AnchorGroup {
        label: "The engagement".into(),
        options: vec![option(Anchor::Engagement)],
    }];
    for st in &model.stages {
        let mut options: Vec<(String, String)> = st
            .steps
            .iter()
            .map(|s| {
                option(Anchor::Step {
                    stage: st.slug.clone(),
                    step: s.number,
                })
            })
            .collect();
        options.extend((0..st.decisions.len()).map(|index| {
            option(Anchor::Decision {
                stage: st.slug.clone(),
                at: DecisionAt::Point { index },
            })
        }));
        if !st.exits.is_empty() {
            options.push(option(Anchor::Decision {
                stage: st.slug.clone(),
                at: DecisionAt::Exit,
            }));
        }
        out.push(AnchorGroup {
            label: st.name.clone(),
            options,
        });
    }
    let risks: Vec<(String, String)> = e
        .risks
        .iter()
        .filter(|r| r.open)
        .map(|r| option(Anchor::Risk { id: r.id }))
        .collect();
    if !risks.is_empty() {
        out.push(AnchorGroup {
            label: "Open risks".into(),
            options: risks,
        });
    }
    out
}

/// The discussion part of the page, for `about` (an anchor's key; empty:
/// every thread). An anchor the engagement does not have is a 404.
pub(super) async fn view(
    s: &AppState,
    actor: &waymark_core::Actor,
    e: &Engagement,
    model: &Model,
    about: &str,
) -> Result<DiscussionView, PageError> {
    let anchor = match about.trim() {
        "" => None,
        key => Some(
            Anchor::parse_key(key)
                .and_then(|a| {
                    // A comment's anchor stays readable after its risk or
                    // step changed; anything else must exist.
                    a.check(model, e)
                        .ok()
                        .or_else(|| e.comments.iter().any(|c| c.anchor == a).then_some(a))
                })
                .ok_or(PageError::NotFound)?,
        ),
    };
    let comments = s.store.discussion_of(actor, e).await?;
    let people = s.store.participants_of(actor, e).await?;
    let mut ids: Vec<PersonId> = comments.iter().map(|c| c.author).collect();
    ids.extend(comments.iter().flat_map(|c| c.mentions.iter().copied()));
    let names = s.store.person_names(&ids).await?;
    let threads = threads(e, model, &comments, &names);
    let shown: Vec<CommentView> = match &anchor {
        Some(a) => comments
            .iter()
            .filter(|c| &c.anchor == a)
            .map(|c| comment_view(c, actor.person, &names))
            .collect(),
        None => Vec::new(),
    };
    Ok(DiscussionView {
        about: anchor.as_ref().map(|a| AnchorView {
            key: a.key(),
            label: a.label(model, e),
            href: href(e, a),
            go: match a {
                Anchor::Engagement => "Go to the engagement's overview",
                Anchor::Step { .. } => "Go to the step",
                Anchor::Decision { .. } => "Go to the decision",
                Anchor::Risk { .. } => "Go to the risk",
            },
        }),
        threads,
        comments: shown,
        anchors: anchors(e, model),
        people: people.into_iter().map(|p| p.name).collect(),
    })
}

fn threads(
    e: &Engagement,
    model: &Model,
    comments: &[Comment],
    names: &HashMap<PersonId, String>,
) -> Vec<ThreadView> {
    let mut out: Vec<ThreadView> = Vec::new();
    let mut keys: Vec<Anchor> = Vec::new();
    // The last comment posted (an edit is not a new word in the thread).
    for c in comments {
        let last = c.at.0;
        match keys.iter().position(|k| *k == c.anchor) {
            Some(i) => {
                let t = &mut out[i];
                t.count += 1;
                if last >= t.last_at {
                    t.last_at = last;
                    t.last_by = person_name(names, c.author);
                }
            }
            None => {
                keys.push(c.anchor.clone());
                out.push(ThreadView {
                    key: c.anchor.key(),
                    label: c.anchor.label(model, e),
                    count: 1,
                    last_at: last,
                    last_by: person_name(names, c.author),
                });
            }
        }
    }
    out.sort_by_key(|t| std::cmp::Reverse(t.last_at));
    out
}

fn comment_view(c: &Comment, me: PersonId, names: &HashMap<PersonId, String>) -> CommentView {
    CommentView {
        id: c.id,
        author: person_name(names, c.author),
        mine: c.author == me,
        at: c.at.0,
        edited_at: c.edited_at.map(|t: Timestamp| t.0),
        html: post_html(&c.body),
        body: c.body.clone(),
        earlier: c
            .earlier
            .iter()
            .map(|v| (v.at.0, post_html(&v.body)))
            .collect(),
        hidden: c.hidden.clone(),
        mentions: c.mentions.iter().map(|p| person_name(names, *p)).collect(),
    }
}

/// How many comments stand beside each anchor (by key), for the links
/// from steps, decisions and risks to their threads (hidden ones too, as
/// the thread shows them: "Hidden by the programme").
pub(super) fn counts(e: &Engagement) -> std::collections::BTreeMap<String, usize> {
    let mut out = std::collections::BTreeMap::new();
    for c in &e.comments {
        *out.entry(c.anchor.key()).or_insert(0) += 1;
    }
    out
}

/// Turns the mentions waiting into mail (each once, whatever the servers);
/// `base` is the public address. Returns how many mails were queued.
pub async fn send_mentions(
    store: &waymark_store::Store,
    base: &str,
    t: Timestamp,
) -> Result<usize, waymark_store::StoreError> {
    let mut queued = 0;
    loop {
        let pending = store.pending_mentions(100).await?;
        if pending.is_empty() {
            return Ok(queued);
        }
        for m in &pending {
            if let Some(sent) = store
                .deliver_mention(m, t, |m, words| crate::mail::mention(m, words, base))
                .await?
            {
                queued += sent;
            }
        }
    }
}
