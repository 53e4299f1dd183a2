//! Checks over a loaded model. Each check is a small function over the model;
//! together they turn content mistakes (dead links, copied text, stray items)
//! into findings with a place and a plain-words message.

use std::collections::HashMap;

use crate::build::Loaded;
use crate::classify::Dash;
use crate::diagnostic::{Code, Finding, sort};
use crate::model::*;
use crate::par::par_map;

/// All findings for a loaded set of pages, load errors included, in reading
/// order. For large sets prefer [`lint_each`], which holds one batch of
/// pages' findings at a time.
pub fn lint(loaded: &Loaded) -> Vec<Finding> {
    let mut out = Vec::new();
    let _ = lint_each(loaded, |f| {
        out.extend_from_slice(f);
        Ok::<(), std::convert::Infallible>(())
    });
    out
}

/// Pages checked in parallel at a time: enough to keep every core busy,
/// few enough that their findings are a small part of memory.
const BATCH: usize = 128;

/// Lints `loaded` and hands `emit` each file's findings, sorted, file by
/// file in path order: the same findings in the same order as [`lint`],
/// without holding them all. The first error from `emit` stops the work.
pub fn lint_each<E>(
    loaded: &Loaded,
    emit: impl FnMut(&[Finding]) -> Result<(), E>,
) -> Result<(), E> {
    let m = &loaded.model;
    run(
        loaded,
        |i, out| page_checks(&m.pages[i], out),
        each_file(emit),
    )
}

/// Hands each file of a batch to `emit`, in order.
fn each_file<E>(
    mut emit: impl FnMut(&[Finding]) -> Result<(), E>,
) -> impl FnMut(Vec<Vec<Finding>>) -> Result<(), E> {
    move |files| files.iter().try_for_each(|f| emit(f))
}

/// The checks that read one page and nothing else, in the order they run;
/// returns the page's body fingerprints for the comparison across pages.
fn page_checks(p: &Page, out: &mut Vec<Finding>) -> Vec<Print> {
    untitled(p, out);
    sections(p, out);
    timebox(p, out);
    met_by(p, out);
    actions(p, out);
    tailoring(p, out);
    dashes(p, out);
    steps(p, out);
    option_lists(p, out);
    near_duplicates(p, out)
}

/// A page set loaded for the lint alone ([`load_for_lint`]).
#[derive(Debug)]
pub struct Linting {
    loaded: Loaded,
    /// Each page's own findings and fingerprints, by page.
    checked: Vec<(Vec<Finding>, Vec<Print>)>,
}

impl Linting {
    /// The model as far as the lint keeps it: names, links, stages, steps,
    /// options and front matter are as in the full model; sections, intros
    /// and item bodies are not kept (each body is empty).
    pub fn model(&self) -> &Model {
        &self.loaded.model
    }

    /// How many files were read, pages or not.
    pub fn sources(&self) -> usize {
        self.loaded.sources
    }

    /// Adds the findings for files that could not be read as text; they
    /// still count as read.
    pub fn add_unread(&mut self, unread: Vec<Finding>) {
        self.loaded.add_unread(unread);
    }

    /// As [`lint_each`] over the full model: the same findings, in the
    /// same order.
    pub fn each<E>(&self, emit: impl FnMut(&[Finding]) -> Result<(), E>) -> Result<(), E> {
        run(&self.loaded, |i, out| self.page(i, out), each_file(emit))
    }

    /// As [`Linting::each`], with `render` turning each file's findings into
    /// what is written (the text of a report, say) on all cores, a batch of
    /// files at a time; `emit` gets each file's findings and their rendering,
    /// in order. Rendering a million findings one by one, after the pages
    /// are checked, was a third of a large set's lint.
    pub fn each_rendered<R: Send, E>(
        &self,
        render: impl Fn(&[Finding]) -> R + Sync,
        mut emit: impl FnMut(&[Finding], R) -> Result<(), E>,
    ) -> Result<(), E> {
        run(
            &self.loaded,
            |i, out| self.page(i, out),
            |files: Vec<Vec<Finding>>| {
                let rendered = par_map(&files, |f| render(f));
                files.iter().zip(rendered).try_for_each(|(f, r)| emit(f, r))
            },
        )
    }

    /// Page `i`'s own findings, added to `out`, and its fingerprints.
    fn page(&self, i: usize, out: &mut Vec<Finding>) -> Vec<Print> {
        let (findings, prints) = &self.checked[i];
        out.extend_from_slice(findings);
        prints.clone()
    }
}

/// Loads pages for the lint without holding the whole model: each page is
/// checked on its own as soon as it is parsed, then keeps only what the
/// checks across pages read (titles, kinds, options, links, front matter).
/// Its sections, intro and item bodies, most of a large set's memory, are
/// dropped there and then.
pub fn load_for_lint(sources: Vec<crate::SourceFile>) -> Linting {
    let emptied: std::sync::Arc<str> = std::sync::Arc::from("");
    let (loaded, checked) = crate::build::build_with(sources, |p| {
        let mut findings = Vec::new();
        let prints = page_checks(p, &mut findings);
        p.intro = String::new();
        p.sections = Vec::new();
        for t in &mut p.timeline {
            if t.body.is_some() {
                t.body = Some(std::sync::Arc::clone(&emptied));
            }
        }
        (findings, prints)
    });
    Linting { loaded, checked }
}

/// The lint's walk: pages in path order, a batch at a time. `page` gives a
/// page's own findings and fingerprints; the checks that need other pages
/// (links, misplaced items, copies) run here. `emit` gets each batch's
/// files, each file's findings sorted, files in path order.
fn run<E>(
    loaded: &Loaded,
    page: impl Fn(usize, &mut Vec<Finding>) -> Vec<Print> + Sync,
    mut emit: impl FnMut(Vec<Vec<Finding>>) -> Result<(), E>,
) -> Result<(), E> {
    let m = &loaded.model;
    // Findings not from the page checks (files that are not pages, slug
    // conflicts, the overview's stages) are few; they join their file's.
    let mut extra = loaded.findings.clone();
    stages(m, &mut extra);
    assessments(m, &mut extra);
    sort(&mut extra);
    let mut extra = extra.into_iter().peekable();
    let mut order: Vec<usize> = (0..m.pages.len()).collect();
    order.sort_by(|&a, &b| m.pages[a].path.cmp(&m.pages[b].path));
    let mut seen: HashMap<u64, (usize, usize)> = HashMap::new();
    let mut file: Vec<Finding> = Vec::new();
    // The batch's files, complete.
    let mut done: Vec<Vec<Finding>> = Vec::new();
    for batch in order.chunks(BATCH) {
        // Page checks are independent, so they run on all cores; only the
        // cross-page comparison of fingerprints is serial.
        let per_page = par_map(batch, |&i| {
            let p = &m.pages[i];
            let mut out = Vec::new();
            links(p, &mut out);
            items(m, PageId(i), p, &mut out);
            let prints = page(i, &mut out);
            (out, prints)
        });
        for (&i, (findings, prints)) in batch.iter().zip(per_page) {
            let path = &m.pages[i].path;
            // Files before this page in path order are complete.
            while let Some(f) = extra.next_if(|f| f.path < *path) {
                push_in_file(&mut file, f, &mut done);
            }
            finish(&mut file, &mut done);
            file.extend(findings);
            copies(m, i, &prints, &mut seen, &mut file);
            file.extend(std::iter::from_fn(|| extra.next_if(|f| f.path == *path)));
            sort(&mut file);
            finish(&mut file, &mut done);
        }
        emit(std::mem::take(&mut done))?;
    }
    for f in extra {
        push_in_file(&mut file, f, &mut done);
    }
    finish(&mut file, &mut done);
    emit(done)
}

/// Adds `f` to the file being gathered, first finishing the file before it
/// when `f` starts another.
fn push_in_file(file: &mut Vec<Finding>, f: Finding, done: &mut Vec<Vec<Finding>>) {
    if file.last().is_some_and(|l| l.path != f.path) {
        finish(file, done);
    }
    file.push(f);
}

/// Moves the file being gathered, if it has findings, to the finished ones.
fn finish(file: &mut Vec<Finding>, done: &mut Vec<Vec<Finding>>) {
    if !file.is_empty() {
        done.push(std::mem::take(file));
    }
}

/// Bodies on page `i` that copy a body on an earlier page exactly.
fn copies(
    m: &Model,
    i: usize,
    prints: &[Print],
    seen: &mut HashMap<u64, (usize, usize)>,
    out: &mut Vec<Finding>,
) {
    for fp in prints {
        match seen.get(&fp.exact) {
            Some(&(pi, ti)) if pi != i => {
                if !fp.reported {
                    let (first, item) = (&m.pages[pi], &m.pages[pi].timeline[ti]);
                    let copy = &m.pages[i].timeline[fp.item];
                    out.push(Finding::new(
                        Code::DuplicateText,
                        &m.pages[i].path,
                        copy.body_line,
                        1,
                        format!(
                            "the body of {} is the same as the body of {} in {}:{}",
                            quote(&copy.title),
                            quote(&item.title),
                            first.path,
                            item.body_line
                        ),
                    ));
                }
            }
            Some(_) => {}
            None => {
                seen.insert(fp.exact, (i, fp.item));
            }
        }
    }
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
                    quote(l.text())
                ),
            ),
            LinkTarget::NoScheme => (
                Code::LinkNoScheme,
                format!(
                    "the {what} target `{}` has no scheme, so browsers treat it as a page of this site; write `https://{}`",
                    l.target(),
                    l.target().trim()
                ),
            ),
            LinkTarget::Unsafe { scheme } => (
                Code::LinkUnsafeScheme,
                format!(
                    "the {what} target `{}` uses the `{scheme}:` scheme, which the site does not publish (a click could run script or open local files); use an `https://` address",
                    l.target()
                ),
            ),
            LinkTarget::UnknownPage { key } => (
                Code::LinkUnknownPage,
                format!(
                    "the {what} to `{}` names a page `{key}` that is not in this set of pages",
                    l.target()
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
            ItemKind::Step { .. } | ItemKind::Decision(_) | ItemKind::NextSteps(_) => is_overview,
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
        let Some((choices, what)) = choices_of(&t.kind) else {
            continue;
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
        repeated(p, choices.options.iter().map(|o| (o.text(), o.line)), out);
    }
}

/// A decision point's or "Next steps" item's options, and what to call it.
fn choices_of(k: &ItemKind) -> Option<(&Choices, &'static str)> {
    match k {
        ItemKind::Decision(d) => Some((&d.choices, "decision point")),
        ItemKind::NextSteps(c) => Some((c, "“Next steps” item")),
        _ => None,
    }
}

/// Options written as two lists: only the first list's entries are
/// options, and the rest would read as text after them. A change of
/// bullet (`*` then `-`) is enough to start a second list.
fn option_lists(p: &Page, out: &mut Vec<Finding>) {
    for t in &p.timeline {
        let Some((choices, what)) = choices_of(&t.kind) else {
            continue;
        };
        if choices.options.is_empty() || choices.outro.is_empty() {
            continue;
        }
        if !crate::markdown::scan(&choices.outro).lists.is_empty() {
            out.push(Finding::new(
                Code::DecisionSecondList,
                &p.path,
                t.line,
                1,
                format!(
                    "the {what} {} has another list after its options: only the first list's \
                     entries are options, and the rest is shown as text; keep the options in \
                     one list, every entry with the same bullet (`*`, `-` or `+`)",
                    quote(&t.title)
                ),
            ));
        }
    }
}

fn kind_words(k: &ItemKind) -> &'static str {
    match k {
        ItemKind::Step { .. } => "step",
        ItemKind::Decision(_) => "decision point",
        ItemKind::NextSteps(_) => "“Next steps” item",
        ItemKind::Stage { .. } => "stage entry",
        ItemKind::Other => "item",
    }
}

/// The same entry twice in one list.
fn repeated<'a>(p: &Page, entries: impl Iterator<Item = (&'a str, u32)>, out: &mut Vec<Finding>) {
    // Each entry is looked up by its lower-case form: comparing every
    // entry with every earlier one made a section of 10,000 items take
    // seconds. Full Unicode lower case, so `K` (the Kelvin sign) and `k`
    // are the same word, as they were.
    let mut seen: HashMap<std::borrow::Cow<'_, str>, u32> = HashMap::new();
    for (text, line) in entries {
        if text.is_empty() {
            continue;
        }
        let key = if text
            .bytes()
            .any(|b| b.is_ascii_uppercase() || !b.is_ascii())
        {
            std::borrow::Cow::Owned(text.to_lowercase())
        } else {
            std::borrow::Cow::Borrowed(text)
        };
        match seen.entry(key) {
            std::collections::hash_map::Entry::Occupied(first) => out.push(Finding::new(
                Code::DuplicateItem,
                &p.path,
                line,
                1,
                format!(
                    "{} is listed twice; it first appears on line {}",
                    quote(text),
                    first.get()
                ),
            )),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(line);
            }
        }
    }
}

fn sections(p: &Page, out: &mut Vec<Finding>) {
    for s in &p.sections {
        if crate::text::is_blank(&s.heading) {
            out.push(Finding::new(
                Code::HeadingEmpty,
                &p.path,
                s.line,
                s.column,
                "this `##` heading has no text, so the site shows its section without one; give it a heading such as `## Roles`",
            ));
        }
        if s.markdown().is_empty() {
            out.push(Finding::new(
                Code::SectionEmpty,
                &p.path,
                s.line,
                s.column,
                format!(
                    "the section {} is empty; add its content or remove the heading",
                    quote(&s.heading)
                ),
            ));
        }
        repeated(p, s.items.iter().map(|e| (e.text(), e.line)), out);
    }
}

/// A page without a title is named by its file on the site, in the
/// navigation and in search results.
fn untitled(p: &Page, out: &mut Vec<Finding>) {
    if p.title.is_empty() {
        out.push(Finding::new(
            Code::PageUntitled,
            &p.path,
            1,
            1,
            format!(
                "this page has no title (its `title:` is missing or blank), so the site calls it {}; add one",
                quote(&p.slug)
            ),
        ));
    }
}

/// A `timebox_weeks` that cannot be read is ignored, so say so.
fn timebox(p: &Page, out: &mut Vec<Finding>) {
    if let Some(v) = p.extra.get(crate::TIMEBOX_KEY)
        && let Err(why) = crate::Timebox::from_front_matter(v)
    {
        out.push(Finding::new(
            Code::TimeboxInvalid,
            &p.path,
            1,
            1,
            format!("{why}; the stage is shown without a timebox"),
        ));
    }
}

/// A `success_met_by` that cannot be read meets nothing, so say so.
fn met_by(p: &Page, out: &mut Vec<Finding>) {
    let Some(v) = p.extra.get(crate::MET_BY_KEY) else {
        return;
    };
    let success: Vec<crate::SuccessCriterion> = p
        .sections
        .iter()
        .filter(|s| s.kind == crate::SectionKind::Success)
        .flat_map(|s| s.items.iter().cloned())
        .collect();
    for why in crate::met_by(Some(v), &success).1 {
        out.push(Finding::new(
            Code::MetByInvalid,
            &p.path,
            1,
            1,
            format!("{why}; that criterion is checked by hand"),
        ));
    }
}

/// A `tailoring:` that names an unknown type, or that sits on an item that
/// is not a step, tailors nothing, so say so.
fn tailoring(p: &Page, out: &mut Vec<Finding>) {
    for t in &p.timeline {
        let Some(v) = &t.tailoring else { continue };
        let problems = if matches!(t.kind, crate::ItemKind::Step { .. }) {
            crate::Tailoring::from_front_matter(v).1
        } else {
            vec!["only a numbered step can be tailored".to_string()]
        };
        for why in problems {
            out.push(Finding::new(
                Code::TailoringInvalid,
                &p.path,
                t.line,
                1,
                format!("{why}; the step stays essential where this is not read"),
            ));
        }
    }
}

/// A self-assessment that cannot be read is not offered, and only the first
/// page that has one is used.
fn assessments(m: &Model, out: &mut Vec<Finding>) {
    let used = m.assessment.as_ref().map(|(id, _)| *id);
    for (i, p) in m.pages.iter().enumerate() {
        let Some(v) = p.extra.get(crate::tailoring::ASSESSMENT_KEY) else {
            continue;
        };
        match crate::Questionnaire::from_front_matter(v) {
            Err(problems) => {
                for why in problems {
                    out.push(Finding::new(
                        Code::AssessmentInvalid,
                        &p.path,
                        1,
                        1,
                        format!("{why}; the self-assessment is not offered until this is fixed"),
                    ));
                }
            }
            Ok(_) if used != Some(PageId(i)) => {
                let first = used.map_or("another page", |u| m.page(u).path.as_str());
                out.push(Finding::new(
                    Code::AssessmentInvalid,
                    &p.path,
                    1,
                    1,
                    format!(
                        "{first} already holds the self-assessment; a model has one, so this one is not used"
                    ),
                ));
            }
            Ok(_) => {}
        }
    }
}

/// An `action:` Waymark does not know, or on an item that is not a step,
/// offers nothing, so say so.
fn actions(p: &Page, out: &mut Vec<Finding>) {
    for t in &p.timeline {
        let Some(a) = &t.action else { continue };
        let known: Vec<&str> = crate::StepAction::ALL.iter().map(|(n, _)| *n).collect();
        let why = if crate::StepAction::parse(a).is_none() {
            format!(
                "`action: {}` is not one Waymark knows (it knows {})",
                crate::diagnostic::visible(a),
                known.join(", ")
            )
        } else if !matches!(t.kind, crate::ItemKind::Step { .. }) {
            "only a numbered step can offer an action".to_string()
        } else {
            continue;
        };
        out.push(Finding::new(
            Code::ActionUnknown,
            &p.path,
            t.line,
            1,
            format!("{why}; the item offers nothing"),
        ));
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
                        "this title uses {} but the title on line {line} uses {}; one style reads better",
                        d.describe(),
                        f.describe()
                    ),
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
        if let ItemKind::Step { number, .. } = &t.kind {
            if *number != expected {
                out.push(Finding::new(
                    Code::StepNumbering,
                    &p.path,
                    t.line,
                    1,
                    format!("this is step {number}, but step {expected} was expected here"),
                ));
            }
            expected = number + 1;
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

/// A body's fingerprint for the cross-page comparison.
#[derive(Debug, Clone)]
struct Print {
    item: usize,
    exact: u64,
    /// Already reported as a near copy on its own page.
    reported: bool,
}

const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
const FNV_BASIS: u64 = 0xcbf2_9ce4_8422_2325;

/// Calls `f` with the hash of each word of `body`, ignoring ASCII case,
/// punctuation and markup. Works on bytes: any non-ASCII byte counts as part
/// of a word, which keeps words in other scripts whole. Allocates nothing.
fn each_word(body: &str, mut f: impl FnMut(u64)) {
    let mut h = FNV_BASIS;
    let mut in_word = false;
    for &b in body.as_bytes() {
        if b.is_ascii_alphanumeric() || b >= 0x80 {
            h = (h ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(FNV_PRIME);
            in_word = true;
        } else if in_word {
            f(h);
            h = FNV_BASIS;
            in_word = false;
        }
    }
    if in_word {
        f(h);
    }
}

fn shingle(a: u64, b: u64, c: u64) -> u64 {
    (a.wrapping_mul(FNV_PRIME) ^ b)
        .wrapping_mul(FNV_PRIME)
        .rotate_left(17)
        ^ c
}

/// Bits in a body's signature. With up to [`SHORT`] word triples a 1,024-bit
/// signature collides rarely enough that unrelated bodies share under a
/// quarter of their bits, far from [`NEAR`]; longer bodies are compared
/// exactly.
const SIG_WORDS: usize = 16;
const SHORT: usize = 250;

struct Sig {
    bits: [u64; SIG_WORDS],
    shingles: usize,
    words: usize,
    exact: u64,
}

fn signature(body: &str) -> Sig {
    let mut sig = Sig {
        bits: [0; SIG_WORDS],
        shingles: 0,
        words: 0,
        exact: FNV_BASIS,
    };
    let (mut w1, mut w2) = (0, 0);
    each_word(body, |w| {
        sig.exact = (sig.exact ^ w).wrapping_mul(FNV_PRIME);
        if sig.words >= 2 {
            let bit = (shingle(w1, w2, w) % (SIG_WORDS as u64 * 64)) as usize;
            sig.bits[bit / 64] |= 1 << (bit % 64);
            sig.shingles += 1;
        }
        sig.words += 1;
        (w1, w2) = (w2, w);
    });
    sig
}

/// Sorted, distinct word-triple hashes: the exact form, for long bodies.
fn shingle_set(body: &str) -> Vec<u64> {
    let mut words = Vec::new();
    each_word(body, |w| words.push(w));
    let mut v: Vec<u64> = words
        .windows(3)
        .map(|w| shingle(w[0], w[1], w[2]))
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn common(a: &[u64], b: &[u64]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

/// Share of the smaller body's word triples that the other body also has.
fn containment(a: &Sig, b: &Sig, a_body: &str, b_body: &str) -> f64 {
    if a.shingles <= SHORT && b.shingles <= SHORT {
        let ones = |s: &Sig| s.bits.iter().map(|w| w.count_ones()).sum::<u32>();
        let both: u32 = a
            .bits
            .iter()
            .zip(&b.bits)
            .map(|(x, y)| (x & y).count_ones())
            .sum();
        return f64::from(both) / f64::from(ones(a).min(ones(b)).max(1));
    }
    let (sa, sb) = (shingle_set(a_body), shingle_set(b_body));
    common(&sa, &sb) as f64 / sa.len().min(sb.len()).max(1) as f64
}

/// Copied text on one page: a body whose word triples are mostly found in an
/// earlier body (the seed overview's stage 5 repeats stage 4). Comparing every
/// pair across pages would be quadratic in the set, so across pages only exact
/// copies are found, from the fingerprints this returns.
fn near_duplicates(p: &Page, out: &mut Vec<Finding>) -> Vec<Print> {
    let bodies: Vec<(usize, &str, Sig)> = p
        .timeline
        .iter()
        .enumerate()
        .filter_map(|(i, item)| {
            let body = item.body.as_deref()?;
            let sig = signature(body);
            (sig.words >= MIN_WORDS).then_some((i, body, sig))
        })
        .collect();
    let mut prints = Vec::with_capacity(bodies.len());
    for (j, (bi, bbody, bsig)) in bodies.iter().enumerate() {
        let b = &p.timeline[*bi];
        let mut reported = false;
        for (ai, abody, asig) in &bodies[..j] {
            if containment(asig, bsig, abody, bbody) >= NEAR {
                let a = &p.timeline[*ai];
                let how = if asig.exact == bsig.exact {
                    "is the same as"
                } else {
                    "nearly repeats"
                };
                out.push(Finding::new(
                    Code::DuplicateText,
                    &p.path,
                    b.body_line,
                    1,
                    format!(
                        "the body of {} {how} the body of {} (line {}); was it copied by mistake?",
                        quote(&b.title),
                        quote(&a.title),
                        a.body_line
                    ),
                ));
                reported = true;
                break;
            }
        }
        prints.push(Print {
            item: *bi,
            exact: bsig.exact,
            reported,
        });
    }
    prints
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "The agency and the DTA agree a plan for adopting the blueprint across every division of the agency";

    #[test]
    fn signatures_agree_with_exact_containment() {
        let copy = format!("{A}, with training for all staff.");
        let other = "Staff learn the new tools through e-learning, face-to-face sessions and peer training.";
        let (a, c, o) = (signature(A), signature(&copy), signature(other));
        assert!(containment(&a, &c, A, &copy) >= NEAR);
        assert!(containment(&a, &o, A, other) < 0.2);
        let (sa, sc) = (shingle_set(A), shingle_set(&copy));
        let exact = common(&sa, &sc) as f64 / sa.len().min(sc.len()) as f64;
        assert!((exact - containment(&a, &c, A, &copy)).abs() < 0.1);
    }

    #[test]
    fn long_bodies_are_compared_exactly() {
        let words: Vec<String> = (0..600).map(|i| format!("w{i}")).collect();
        let long = words.join(" ");
        let other: String = (0..600).map(|i| format!("x{i} ")).collect();
        let (l, o) = (signature(&long), signature(&other));
        assert!(l.shingles > SHORT);
        assert!(containment(&l, &o, &long, &other) < 0.01);
        assert!(containment(&l, &l, &long, &long) > 0.99);
    }

    #[test]
    fn case_and_punctuation_do_not_matter() {
        assert_eq!(
            signature("Hello, World! again and again").exact,
            signature("hello world again and AGAIN").exact
        );
    }
}
