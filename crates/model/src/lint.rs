//! Checks over a loaded model. Each check is a small function over the model;
//! together they turn content mistakes (dead links, copied text, stray items)
//! into findings with a place and a plain-words message.

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};

use crate::build::Loaded;
use crate::classify::Dash;
use crate::diagnostic::{Code, Finding, sort};
use crate::markdown::plain_text;
use crate::model::*;

/// All findings for a loaded set of pages, load errors included, in reading order.
pub fn lint(loaded: &Loaded) -> Vec<Finding> {
    let m = &loaded.model;
    let mut out = loaded.findings.clone();
    for (i, p) in m.pages.iter().enumerate() {
        let id = PageId(i);
        links(p, &mut out);
        items(m, id, p, &mut out);
        sections(p, &mut out);
        dashes(p, &mut out);
        steps(p, &mut out);
    }
    duplicates(m, &mut out);
    stages(m, &mut out);
    sort(&mut out);
    out
}

fn quote(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() > MAX {
        format!("“{}…”", s.chars().take(MAX).collect::<String>())
    } else {
        format!("“{s}”")
    }
}

fn links(p: &Page, out: &mut Vec<Finding>) {
    for l in &p.links {
        let what = if l.image { "image" } else { "link" };
        let (code, msg) = match &l.resolved {
            LinkTarget::Empty => (
                Code::LinkEmpty,
                format!(
                    "the {what} {} has no target; add the address it should go to, or remove the link",
                    quote(&l.text)
                ),
            ),
            LinkTarget::NoScheme => (
                Code::LinkNoScheme,
                format!(
                    "the {what} target `{}` has no scheme, so browsers treat it as a page of this site; write `https://{}`",
                    l.target,
                    l.target.trim()
                ),
            ),
            LinkTarget::UnknownPage { key } => (
                Code::LinkUnknownPage,
                format!(
                    "the {what} to `{}` names a page `{key}` that is not in this set of pages",
                    l.target
                ),
            ),
            _ => continue,
        };
        out.push(Finding::new(code, &p.path, l.line, l.column, msg));
    }
}

fn items(m: &Model, id: PageId, p: &Page, out: &mut Vec<Finding>) {
    let is_overview = m.overview == Some(id);
    for t in &p.timeline {
        if t.title.is_empty() {
            out.push(Finding::new(
                Code::TitleMissing,
                &p.path,
                t.line,
                1,
                "this timeline item has no title; add `title:`",
            ));
        } else if t.body.is_none() {
            out.push(Finding::new(
                Code::ItemNoBody,
                &p.path,
                t.line,
                1,
                format!(
                    "the timeline item {} has no body; add `body:` with its text",
                    quote(&t.title)
                ),
            ));
        }
        let misplaced = match &t.kind {
            ItemKind::Stage { .. } => !is_overview,
            ItemKind::Step(_) | ItemKind::Decision(_) | ItemKind::NextSteps(_) => is_overview,
            ItemKind::Other => false,
        };
        if misplaced {
            let msg = if is_overview {
                format!(
                    "{} is a {} among the overview's stages; move it to its stage's page",
                    quote(&t.title),
                    kind_words(&t.kind)
                )
            } else {
                format!(
                    "{} looks like an overview stage entry, but this page is not the overview ({})",
                    quote(&t.title),
                    m.overview.map_or("none", |o| m.page(o).path.as_str())
                )
            };
            out.push(Finding::new(Code::ItemMisplaced, &p.path, t.line, 1, msg));
        }
        let (choices, what) = match &t.kind {
            ItemKind::Decision(d) => (&d.choices, "decision point"),
            ItemKind::NextSteps(c) => (c, "“Next steps” item"),
            _ => continue,
        };
        if t.body.is_some() && choices.options.is_empty() {
            out.push(Finding::new(
                Code::DecisionNoOptions,
                &p.path,
                t.line,
                1,
                format!(
                    "the {what} {} lists no options; write them as a bulleted list",
                    quote(&t.title)
                ),
            ));
        }
        repeated(
            p,
            choices.options.iter().map(|o| (o.text.as_str(), o.line)),
            out,
        );
    }
}

fn kind_words(k: &ItemKind) -> &'static str {
    match k {
        ItemKind::Step(_) => "step",
        ItemKind::Decision(_) => "decision point",
        ItemKind::NextSteps(_) => "“Next steps” item",
        ItemKind::Stage { .. } => "stage entry",
        ItemKind::Other => "item",
    }
}

/// The same entry twice in one list.
fn repeated<'a>(p: &Page, entries: impl Iterator<Item = (&'a str, u32)>, out: &mut Vec<Finding>) {
    let mut seen: HashMap<String, u32> = HashMap::new();
    for (text, line) in entries {
        let key = text.to_lowercase();
        if key.is_empty() {
            continue;
        }
        if let Some(first) = seen.get(&key) {
            out.push(Finding::new(
                Code::DuplicateItem,
                &p.path,
                line,
                1,
                format!(
                    "{} is listed twice; it first appears on line {first}",
                    quote(text)
                ),
            ));
        } else {
            seen.insert(key, line);
        }
    }
}

fn sections(p: &Page, out: &mut Vec<Finding>) {
    for s in &p.sections {
        if s.markdown.is_empty() {
            out.push(Finding::new(
                Code::SectionEmpty,
                &p.path,
                s.line,
                1,
                format!(
                    "the section {} is empty; add its content or remove the heading",
                    quote(&s.heading)
                ),
            ));
        }
        repeated(p, s.items.iter().map(|e| (e.text.as_str(), e.line)), out);
    }
}

fn dashes(p: &Page, out: &mut Vec<Finding>) {
    let mut first: Option<(Dash, u32)> = None;
    for t in &p.timeline {
        let Some(d) = t.dash.filter(|d| *d != Dash::Colon) else {
            continue;
        };
        match first {
            None => first = Some((d, t.line)),
            Some((f, line)) if f != d => {
                out.push(Finding::new(
                    Code::MixedDashes,
                    &p.path,
                    t.line,
                    1,
                    format!(
                        "this title uses an {} but the title on line {line} uses an {}; one style reads better",
                        d.describe(),
                        f.describe()
                    )
                    .replace("an hyphen", "a hyphen"),
                ));
                return;
            }
            Some(_) => {}
        }
    }
}

fn steps(p: &Page, out: &mut Vec<Finding>) {
    let mut expected = 1;
    for t in &p.timeline {
        if let ItemKind::Step(s) = &t.kind {
            if s.number != expected {
                out.push(Finding::new(
                    Code::StepNumbering,
                    &p.path,
                    t.line,
                    1,
                    format!(
                        "this is step {}, but step {expected} was expected here",
                        s.number
                    ),
                ));
            }
            expected = s.number + 1;
        }
    }
}

fn stages(m: &Model, out: &mut Vec<Finding>) {
    let Some(ov) = m.overview.map(|o| m.page(o)) else {
        return;
    };
    for (s, t) in m.stages.iter().zip(
        ov.timeline
            .iter()
            .filter(|t| matches!(t.kind, ItemKind::Stage { .. })),
    ) {
        if s.page.is_none() {
            out.push(Finding::new(
                Code::StageNoPage,
                &ov.path,
                t.line,
                1,
                format!(
                    "the stage {} has no page in this set (looked for a page titled {})",
                    quote(&s.name),
                    quote(&s.name)
                ),
            ));
        }
    }
}

/// Bodies shorter than this are too generic to call copies.
const MIN_WORDS: usize = 8;
/// Share of the shorter body's word triples found in the other body.
const NEAR: f64 = 0.8;

struct Body<'a> {
    page: &'a Page,
    item: &'a TimelineItem,
    shingles: HashSet<u64>,
    exact: u64,
}

fn hash<T: Hash>(t: T) -> u64 {
    let mut h = DefaultHasher::new();
    t.hash(&mut h);
    h.finish()
}

/// Copied text: near-identical bodies on one page (the overview's stage 5
/// repeats stage 4), and identical bodies anywhere in the set. Comparing every
/// pair across pages would be quadratic in the set, so across pages only exact
/// copies (after normalising) are found.
fn duplicates(m: &Model, out: &mut Vec<Finding>) {
    let mut exact: HashMap<u64, (&Page, &TimelineItem)> = HashMap::new();
    for p in &m.pages {
        let bodies: Vec<Body> = p
            .timeline
            .iter()
            .filter_map(|item| {
                let text = plain_text(item.body.as_deref()?).to_lowercase();
                let words: Vec<&str> = text.split(' ').collect();
                (words.len() >= MIN_WORDS).then(|| Body {
                    page: p,
                    item,
                    shingles: words.windows(3).map(hash).collect(),
                    exact: hash(&text),
                })
            })
            .collect();
        let mut reported = HashSet::new();
        for (j, b) in bodies.iter().enumerate() {
            for a in &bodies[..j] {
                let common = a.shingles.intersection(&b.shingles).count();
                let smaller = a.shingles.len().min(b.shingles.len()).max(1);
                let share = common as f64 / smaller as f64;
                if share >= NEAR {
                    let how = if a.exact == b.exact {
                        "is the same as"
                    } else {
                        "nearly repeats"
                    };
                    out.push(Finding::new(
                        Code::DuplicateText,
                        &p.path,
                        b.item.body_line,
                        1,
                        format!(
                            "the body of {} {how} the body of {} (line {}); was it copied by mistake?",
                            quote(&b.item.title),
                            quote(&a.item.title),
                            a.item.body_line
                        ),
                    ));
                    reported.insert(j);
                    break;
                }
            }
        }
        for (j, b) in bodies.iter().enumerate() {
            match exact.get(&b.exact) {
                Some((fp, fi)) if !std::ptr::eq(*fp, b.page) => {
                    if !reported.contains(&j) {
                        out.push(Finding::new(
                            Code::DuplicateText,
                            &p.path,
                            b.item.body_line,
                            1,
                            format!(
                                "the body of {} is the same as the body of {} in {}:{}",
                                quote(&b.item.title),
                                quote(&fi.title),
                                fp.path,
                                fi.body_line
                            ),
                        ));
                    }
                }
                Some(_) => {}
                None => {
                    exact.insert(b.exact, (b.page, b.item));
                }
            }
        }
    }
}
