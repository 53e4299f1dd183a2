//! What changed between two models: stages, steps, decision points and their
//! options that were added, removed, renamed or changed.
//!
//! Things are matched first by identity (a stage's slug, a step's title, a
//! decision point's position) and then by how alike their words are
//! ([`similarity`]): a stage renamed from "Engagement" to "Connect and Align"
//! is found by its steps, a step retitled by its title and body. Steps left
//! over in stages that were not matched to each other are matched across
//! stages, as "moved". Matching is greedy, best pair first, so the result
//! does not depend on the order pages were read. The migration of live
//! engagements starts from this as its proposal.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::{Choice, Model, Stage, Step};

/// The least similarity at which two things of the same kind are taken to
/// be one thing renamed, rather than one removed and another added.
pub const RENAMED_AT: f64 = 0.3;
/// Steps in stages that were not matched need more to be taken as moved.
pub const MOVED_AT: f64 = 0.4;
/// The most pairs compared by their words: of stages left without a slug's
/// match, and of left-over steps for moves between stages.
const MOVED_PAIRS: usize = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Added,
    Removed,
    /// The same thing under another name (or, for a step, title).
    Renamed,
    /// A step now in another stage.
    Moved,
    /// Same name; its text, number or effect changed.
    Changed,
}

impl Kind {
    fn mark(self) -> &'static str {
        match self {
            Kind::Added => "+",
            Kind::Removed => "-",
            Kind::Renamed => "~",
            Kind::Moved => ">",
            Kind::Changed => "*",
        }
    }

    fn word(self) -> &'static str {
        match self {
            Kind::Added => "added",
            Kind::Removed => "removed",
            Kind::Renamed => "renamed",
            Kind::Moved => "moved",
            Kind::Changed => "changed",
        }
    }
}

/// Where something is in its model: its stage's slug, its number (a step's
/// number; a decision point's or an option's position, from 1) and its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Place {
    pub stage: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<u32>,
    /// For an option: the decision point it belongs to (from 1), or none
    /// for the stage's next steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub point: Option<u32>,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub change: Kind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Place>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Place>,
    /// How alike the two are, from 0 to 1, where they were matched by words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f64>,
    /// What else differs: `number`, `body`, `effect`, `summary`, `question`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<&'static str>,
}

/// A step of the old model and where it went in the new one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepMatch {
    pub old_stage: String,
    pub old_step: u32,
    /// `None`: the step has no counterpart.
    pub new: Option<(String, u32)>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ModelDiff {
    pub stages: Vec<Change>,
    pub steps: Vec<Change>,
    pub decisions: Vec<Change>,
    pub options: Vec<Change>,
    /// Every old stage's counterpart (`None`: removed).
    #[serde(skip)]
    pub stage_map: Vec<(String, Option<String>)>,
    /// Every old step's counterpart, in the old model's order.
    #[serde(skip)]
    pub step_map: Vec<StepMatch>,
}

impl ModelDiff {
    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
            && self.steps.is_empty()
            && self.decisions.is_empty()
            && self.options.is_empty()
    }

    /// The diff as text, a line per change, grouped by kind of thing.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for (title, list) in [
            ("Stages", &self.stages),
            ("Steps", &self.steps),
            ("Decision points", &self.decisions),
            ("Options", &self.options),
        ] {
            if list.is_empty() {
                continue;
            }
            out.push_str(title);
            out.push('\n');
            for c in list {
                let place = |p: &Place| {
                    let mut s = p.stage.clone();
                    if let Some(d) = p.point {
                        s.push_str(&format!(" decision {d}"));
                    }
                    if let Some(n) = p.number {
                        s.push_str(&format!(" {n}"));
                    }
                    format!("{s} “{}”", p.text)
                };
                let what = match (&c.old, &c.new) {
                    (Some(o), Some(n)) => format!("{} → {}", place(o), place(n)),
                    (Some(o), None) => place(o),
                    (None, Some(n)) => place(n),
                    (None, None) => String::new(),
                };
                let mut line = format!("  {} {:<8} {what}", c.change.mark(), c.change.word());
                if let Some(s) = c.similarity {
                    line.push_str(&format!(" (similarity {s:.2})"));
                }
                if !c.details.is_empty() {
                    line.push_str(&format!(" [{}]", c.details.join(", ")));
                }
                out.push_str(&line);
                out.push('\n');
            }
        }
        if out.is_empty() {
            out.push_str(
                "The two models have the same stages, steps, decision points and options.\n",
            );
        }
        out
    }
}

/// Words that say little about what a text is about.
const STOP: &[&str] = &[
    "the", "and", "for", "with", "its", "that", "this", "from", "are", "into", "their", "what",
    "when", "each", "they", "them", "will", "can", "has", "have", "was", "who", "how", "not",
    "but", "all", "any", "our", "your", "you", "may", "more", "than", "then", "so", "to", "of",
    "in", "on", "a", "an", "or", "by", "as", "is", "it", "be", "at",
];

fn words(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 2)
        .map(|w| {
            let w = w.to_lowercase();
            // A crude stem, so "workshops" meets "workshop", "changes" "change".
            match w.strip_suffix('s') {
                Some(s) if s.len() > 3 && !s.ends_with('s') => s.to_string(),
                _ => w,
            }
        })
        .filter(|w| !STOP.contains(&w.as_str()))
        .collect()
}

/// How alike two texts are, from 0 (no shared words) to 1 (the same
/// words): the Dice coefficient over their sets of meaningful words.
pub fn similarity(a: &str, b: &str) -> f64 {
    let (a, b) = (words(a), words(b));
    if a.is_empty() || b.is_empty() {
        return if a == b { 1.0 } else { 0.0 };
    }
    let shared = a.intersection(&b).count() as f64;
    2.0 * shared / (a.len() + b.len()) as f64
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn step_text(s: &Step) -> String {
    format!("{} {}", s.title, s.body.as_deref().unwrap_or(""))
}

fn stage_text(s: &Stage) -> String {
    let mut t = s.name.clone();
    for st in &s.steps {
        t.push(' ');
        t.push_str(&step_text(st));
    }
    t
}

/// Pairs of indexes from `olds` and `news`, best score first, each index
/// used once, at least `min` alike; `score` may return `None` for a pair
/// that must not match.
fn greedy(
    olds: &[usize],
    news: &[usize],
    min: f64,
    score: impl Fn(usize, usize) -> Option<f64>,
) -> Vec<(usize, usize, f64)> {
    let mut pairs: Vec<(usize, usize, f64)> = olds
        .iter()
        .flat_map(|&o| news.iter().map(move |&n| (o, n)))
        .filter_map(|(o, n)| score(o, n).filter(|s| *s >= min).map(|s| (o, n, s)))
        .collect();
    // Best first; ties in reading order, so the result is stable.
    pairs.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
    let (mut used_o, mut used_n) = (BTreeSet::new(), BTreeSet::new());
    pairs
        .into_iter()
        .filter(|(o, n, _)| {
            let free = !used_o.contains(o) && !used_n.contains(n);
            if free {
                used_o.insert(*o);
                used_n.insert(*n);
            }
            free
        })
        .collect()
}

fn stage_place(s: &Stage) -> Place {
    Place {
        stage: s.slug.clone(),
        number: None,
        point: None,
        text: s.name.clone(),
    }
}

fn step_place(stage: &Stage, s: &Step) -> Place {
    Place {
        stage: stage.slug.clone(),
        number: Some(s.number),
        point: None,
        text: s.title.clone(),
    }
}

/// Compares two models.
pub fn diff(old: &Model, new: &Model) -> ModelDiff {
    let mut d = ModelDiff::default();
    let (os, ns) = (&old.stages, &new.stages);
    // Stages: the same slug, then the most alike by name or by their steps.
    let mut stage_pairs: Vec<(usize, usize, Option<f64>)> = Vec::new();
    let new_slugs: std::collections::HashMap<&str, usize> = ns
        .iter()
        .enumerate()
        .map(|(j, n)| (n.slug.as_str(), j))
        .collect();
    for (i, o) in os.iter().enumerate() {
        if let Some(&j) = new_slugs.get(o.slug.as_str()) {
            stage_pairs.push((i, j, None));
        }
    }
    let (slug_old, slug_new) = index(&stage_pairs, os.len(), ns.len());
    let free_o: Vec<usize> = (0..os.len()).filter(|i| slug_old[*i].is_none()).collect();
    let free_n: Vec<usize> = (0..ns.len()).filter(|j| !slug_new[*j]).collect();
    // Compared pairwise by their words, so bounded as moves are.
    let compare = free_o.len().saturating_mul(free_n.len()) <= MOVED_PAIRS;
    let (free_o, free_n) = if compare {
        (free_o, free_n)
    } else {
        (Vec::new(), Vec::new())
    };
    for (i, j, s) in greedy(&free_o, &free_n, RENAMED_AT, |i, j| {
        Some(
            similarity(&os[i].name, &ns[j].name)
                .max(similarity(&stage_text(&os[i]), &stage_text(&ns[j]))),
        )
    }) {
        stage_pairs.push((i, j, Some(s)));
    }
    stage_pairs.sort_by_key(|p| p.0);
    let (stage_of, new_stage_used) = index(&stage_pairs, os.len(), ns.len());
    for (i, o) in os.iter().enumerate() {
        let pair = stage_of[i].map(|(j, s)| (i, j, s));
        let pair = pair.as_ref();
        d.stage_map
            .push((o.slug.clone(), pair.map(|p| ns[p.1].slug.clone())));
        let Some(&(_, j, sim)) = pair else {
            d.stages.push(Change {
                change: Kind::Removed,
                old: Some(stage_place(o)),
                new: None,
                similarity: None,
                details: Vec::new(),
            });
            continue;
        };
        let n = &ns[j];
        let mut details = Vec::new();
        if o.number != n.number {
            details.push("number");
        }
        if o.summary != n.summary {
            details.push("summary");
        }
        let renamed = o.name != n.name || o.slug != n.slug;
        if renamed || !details.is_empty() {
            d.stages.push(Change {
                change: if renamed {
                    Kind::Renamed
                } else {
                    Kind::Changed
                },
                old: Some(stage_place(o)),
                new: Some(stage_place(n)),
                similarity: sim.map(round),
                details,
            });
        }
    }
    for (j, n) in ns.iter().enumerate() {
        if !new_stage_used[j] {
            d.stages.push(Change {
                change: Kind::Added,
                old: None,
                new: Some(stage_place(n)),
                similarity: None,
                details: Vec::new(),
            });
        }
    }

    // Steps: within matched stages by title, then by words; what is left,
    // across stages (moved), with a higher bar.
    let all_old: Vec<(usize, usize)> = os
        .iter()
        .enumerate()
        .flat_map(|(i, s)| (0..s.steps.len()).map(move |k| (i, k)))
        .collect();
    let all_new: Vec<(usize, usize)> = ns
        .iter()
        .enumerate()
        .flat_map(|(j, s)| (0..s.steps.len()).map(move |k| (j, k)))
        .collect();
    let partner = |i: usize| stage_of[i].map(|(j, _)| j);
    let step_score = |a: usize, b: usize| {
        let o = &os[all_old[a].0].steps[all_old[a].1];
        let n = &ns[all_new[b].0].steps[all_new[b].1];
        0.6 * similarity(&o.title, &n.title) + 0.4 * similarity(&step_text(o), &step_text(n))
    };
    let same_title = |a: usize, b: usize| {
        let o = &os[all_old[a].0].steps[all_old[a].1];
        let n = &ns[all_new[b].0].steps[all_new[b].1];
        crate::text::slugify(&o.title) == crate::text::slugify(&n.title)
    };
    // Each stage's steps as indexes into all_old / all_new, found once.
    let by_stage = |all: &[(usize, usize)], stages: usize| {
        let mut out = vec![Vec::new(); stages];
        for (x, &(s, _)) in all.iter().enumerate() {
            out[s].push(x);
        }
        out
    };
    let (olds_of, news_of) = (by_stage(&all_old, os.len()), by_stage(&all_new, ns.len()));
    let mut step_pairs: Vec<(usize, usize, Option<f64>)> = Vec::new();
    for &(i, j, _) in &stage_pairs {
        let (olds, news) = (olds_of[i].clone(), news_of[j].clone());
        let exact = greedy(&olds, &news, 1.0, |a, b| same_title(a, b).then_some(1.0));
        let olds: Vec<usize> = olds
            .into_iter()
            .filter(|a| !exact.iter().any(|p| p.0 == *a))
            .collect();
        let news: Vec<usize> = news
            .into_iter()
            .filter(|b| !exact.iter().any(|p| p.1 == *b))
            .collect();
        step_pairs.extend(exact.into_iter().map(|(a, b, _)| (a, b, None)));
        step_pairs.extend(
            greedy(&olds, &news, RENAMED_AT, |a, b| Some(step_score(a, b)))
                .into_iter()
                .map(|(a, b, s)| (a, b, Some(s))),
        );
    }
    // What is left may have moved to another stage. Compared pairwise, so
    // bounded: past MOVED_PAIRS pairs, leftovers stay added and removed.
    let (old_taken, new_taken) = index(&step_pairs, all_old.len(), all_new.len());
    let left_old: Vec<usize> = (0..all_old.len())
        .filter(|a| old_taken[*a].is_none())
        .collect();
    let left_new: Vec<usize> = (0..all_new.len()).filter(|b| !new_taken[*b]).collect();
    if left_old.len().saturating_mul(left_new.len()) <= MOVED_PAIRS {
        step_pairs.extend(
            greedy(&left_old, &left_new, MOVED_AT, |a, b| {
                Some(step_score(a, b))
            })
            .into_iter()
            .map(|(a, b, s)| (a, b, Some(s))),
        );
    }
    let (step_of, new_step_used) = index(&step_pairs, all_old.len(), all_new.len());
    for (a, &(i, k)) in all_old.iter().enumerate() {
        let (stage, o) = (&os[i], &os[i].steps[k]);
        let pair = step_of[a].map(|(b, s)| (a, b, s));
        let pair = pair.as_ref();
        d.step_map.push(StepMatch {
            old_stage: stage.slug.clone(),
            old_step: o.number,
            new: pair.map(|p| {
                let (j, kk) = all_new[p.1];
                (ns[j].slug.clone(), ns[j].steps[kk].number)
            }),
        });
        let Some(&(_, b, sim)) = pair else {
            d.steps.push(Change {
                change: Kind::Removed,
                old: Some(step_place(stage, o)),
                new: None,
                similarity: None,
                details: Vec::new(),
            });
            continue;
        };
        let (j, kk) = all_new[b];
        let (nstage, n) = (&ns[j], &ns[j].steps[kk]);
        let moved = partner(i) != Some(j);
        let renamed = crate::text::slugify(&o.title) != crate::text::slugify(&n.title);
        let mut details = Vec::new();
        if o.number != n.number {
            details.push("number");
        }
        if o.body != n.body {
            details.push("body");
        }
        if moved || renamed || !details.is_empty() {
            d.steps.push(Change {
                change: if moved {
                    Kind::Moved
                } else if renamed {
                    Kind::Renamed
                } else {
                    Kind::Changed
                },
                old: Some(step_place(stage, o)),
                new: Some(step_place(nstage, n)),
                similarity: sim.map(round),
                details,
            });
        }
    }
    for (b, &(j, kk)) in all_new.iter().enumerate() {
        if !new_step_used[b] {
            d.steps.push(Change {
                change: Kind::Added,
                old: None,
                new: Some(step_place(&ns[j], &ns[j].steps[kk])),
                similarity: None,
                details: Vec::new(),
            });
        }
    }

    // Decision points and options, within matched stages.
    let stage_map = d.stage_map.clone();
    for &(i, j, _) in &stage_pairs {
        decisions(&os[i], &ns[j], &stage_map, &mut d);
    }
    for (i, o) in os.iter().enumerate() {
        if partner(i).is_none() {
            for (x, q) in o.decisions.iter().enumerate() {
                d.decisions.push(point_change(
                    Kind::Removed,
                    Some((o, x, &q.question)),
                    None,
                    None,
                ));
            }
        }
    }
    for (j, n) in ns.iter().enumerate() {
        if !new_stage_used[j] {
            for (x, q) in n.decisions.iter().enumerate() {
                d.decisions.push(point_change(
                    Kind::Added,
                    None,
                    Some((n, x, &q.question)),
                    None,
                ));
            }
        }
    }
    d
}

/// Pairs `(old, new, similarity)` as lookups: each old index's partner and
/// similarity, and whether each new index is taken.
type Index = (Vec<Option<(usize, Option<f64>)>>, Vec<bool>);

fn index(pairs: &[(usize, usize, Option<f64>)], olds: usize, news: usize) -> Index {
    let (mut of_old, mut used) = (vec![None; olds], vec![false; news]);
    for &(o, n, s) in pairs {
        of_old[o] = Some((n, s));
        used[n] = true;
    }
    (of_old, used)
}

type PointRef<'a> = (&'a Stage, usize, &'a String);

fn point_change(
    kind: Kind,
    old: Option<PointRef>,
    new: Option<PointRef>,
    sim: Option<f64>,
) -> Change {
    let place = |(s, x, q): PointRef| Place {
        stage: s.slug.clone(),
        number: Some(x as u32 + 1),
        point: None,
        text: q.clone(),
    };
    Change {
        change: kind,
        old: old.map(place),
        new: new.map(place),
        similarity: sim.map(round),
        details: Vec::new(),
    }
}

fn decisions(o: &Stage, n: &Stage, stage_map: &[(String, Option<String>)], d: &mut ModelDiff) {
    let oi: Vec<usize> = (0..o.decisions.len()).collect();
    let ni: Vec<usize> = (0..n.decisions.len()).collect();
    let pairs = greedy(&oi, &ni, RENAMED_AT, |a, b| {
        let s = similarity(&o.decisions[a].question, &n.decisions[b].question);
        // The same position counts for something: a reworded question.
        Some(if a == b { s.max(RENAMED_AT) } else { s })
    });
    for (a, q) in o.decisions.iter().enumerate() {
        match pairs.iter().find(|p| p.0 == a) {
            None => d.decisions.push(point_change(
                Kind::Removed,
                Some((o, a, &q.question)),
                None,
                None,
            )),
            Some(&(_, b, s)) => {
                let nq = &n.decisions[b].question;
                if q.question != *nq {
                    d.decisions.push(point_change(
                        Kind::Renamed,
                        Some((o, a, &q.question)),
                        Some((n, b, nq)),
                        Some(s),
                    ));
                }
                options(
                    o,
                    n,
                    Some((a, b)),
                    &q.choices.options,
                    &n.decisions[b].choices.options,
                    stage_map,
                    d,
                );
            }
        }
    }
    for (b, q) in n.decisions.iter().enumerate() {
        if !pairs.iter().any(|p| p.1 == b) {
            d.decisions.push(point_change(
                Kind::Added,
                None,
                Some((n, b, &q.question)),
                None,
            ));
        }
    }
    options(o, n, None, &o.exits, &n.exits, stage_map, d);
}

/// Options of one decision point (or of the next steps), matched by words
/// and by where they lead.
fn options(
    os: &Stage,
    ns: &Stage,
    points: Option<(usize, usize)>,
    old: &[Choice],
    new: &[Choice],
    stage_map: &[(String, Option<String>)],
    d: &mut ModelDiff,
) {
    use crate::Effect;
    // Where an old option's effect leads, in the new model's terms.
    let mapped = |e: &Effect| match e {
        Effect::EnterStage { stage } => stage_map
            .iter()
            .find(|(o, _)| o == stage)
            .and_then(|(_, n)| n.clone())
            .map(|stage| Effect::EnterStage { stage }),
        other => Some(other.clone()),
    };
    let oi: Vec<usize> = (0..old.len()).collect();
    let ni: Vec<usize> = (0..new.len()).collect();
    let pairs = greedy(&oi, &ni, RENAMED_AT, |a, b| {
        let same_way = mapped(&old[a].effect).as_ref() == Some(&new[b].effect)
            && new[b].effect != Effect::Unspecified;
        let s = similarity(old[a].text(), new[b].text());
        Some(if same_way { s.max(0.5) + 0.5 } else { s })
    });
    let place = |s: &Stage, point: Option<usize>, x: usize, c: &Choice| Place {
        stage: s.slug.clone(),
        number: Some(x as u32 + 1),
        point: point.map(|p| p as u32 + 1),
        text: c.text().to_string(),
    };
    for (a, c) in old.iter().enumerate() {
        match pairs.iter().find(|p| p.0 == a) {
            None => d.options.push(Change {
                change: Kind::Removed,
                old: Some(place(os, points.map(|p| p.0), a, c)),
                new: None,
                similarity: None,
                details: Vec::new(),
            }),
            Some(&(_, b, _)) => {
                let n = &new[b];
                let s = similarity(c.text(), n.text());
                let mut details = Vec::new();
                if mapped(&c.effect).as_ref() != Some(&n.effect) {
                    details.push("effect");
                }
                if a != b {
                    details.push("number");
                }
                let renamed = c.text() != n.text();
                if renamed || !details.is_empty() {
                    d.options.push(Change {
                        change: if renamed {
                            Kind::Renamed
                        } else {
                            Kind::Changed
                        },
                        old: Some(place(os, points.map(|p| p.0), a, c)),
                        new: Some(place(ns, points.map(|p| p.1), b, n)),
                        similarity: Some(round(s)),
                        details,
                    });
                }
            }
        }
    }
    for (b, c) in new.iter().enumerate() {
        if !pairs.iter().any(|p| p.1 == b) {
            d.options.push(Change {
                change: Kind::Added,
                old: None,
                new: Some(place(ns, points.map(|p| p.1), b, c)),
                similarity: None,
                details: Vec::new(),
            });
        }
    }
}
