//! Building a [`Model`] from page sources: parse each page (in parallel when
//! there are many), then resolve links, find the overview, order the stages and
//! work out what each option does.
//!
//! A page that cannot be parsed becomes a finding and is left out; it never
//! stops the rest of the set from loading.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use crate::classify::{TitleKind, classify};
use crate::diagnostic::{Code, Finding};
use crate::markdown::{Scan, ScannedItem, item_markdown, scan};
use crate::model::*;
use crate::page::{PageError, RawPage, parse_page};
use crate::par::{par_for_each_mut, par_map_owned};
use crate::text::{LineIndex, char_column, normalize, slugify};

/// One file's text, with the name it has inside the model.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path to show in messages, as the user gave it.
    pub path: String,
    /// The path relative to the model's root (`stages/deploy.md`); its stem
    /// is one of the names other pages may link to.
    pub name: String,
    pub text: String,
}

/// A model and what loading it found wrong.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub model: Model,
    pub findings: Vec<Finding>,
    /// How many files were read, pages or not.
    pub sources: usize,
}

impl Loaded {
    /// Adds the findings for files that could not be read as text; they
    /// still count as read.
    pub fn add_unread(&mut self, unread: Vec<Finding>) {
        self.sources += unread.len();
        self.findings.extend(unread);
    }
}

/// Builds the model, consuming the sources: each page's text is freed once
/// it is parsed, which keeps peak memory near the size of the model itself.
pub fn build(sources: Vec<SourceFile>) -> Loaded {
    build_with(sources, |_| ()).0
}

/// Builds the model as [`build`] does, calling `each` on every page as soon
/// as it is parsed, on the thread that parsed it and before any page is
/// linked to another. What `each` returns is kept, one a page, in the order
/// of the model's pages.
pub(crate) fn build_with<T: Send>(
    sources: Vec<SourceFile>,
    each: impl Fn(&mut Page) -> T + Sync,
) -> (Loaded, Vec<T>) {
    let count = sources.len();
    let drafts = par_map_owned(sources, |src| {
        draft(&src).map(|mut d| {
            let kept = each(&mut d.page);
            (d, kept)
        })
    });
    let mut findings = Vec::new();
    let mut pages = Vec::with_capacity(drafts.len());
    let mut kept = Vec::with_capacity(drafts.len());
    for d in drafts {
        match d {
            Ok((page, k)) => {
                pages.push(page);
                kept.push(k);
            }
            Err(f) => findings.push(f),
        }
    }
    let model = assemble(pages, &mut findings);
    let loaded = Loaded {
        model,
        findings,
        sources: count,
    };
    (loaded, kept)
}

fn page_error(src: &SourceFile, e: PageError) -> Finding {
    let code = match e {
        PageError::NoFrontMatter => Code::NoFrontMatter,
        PageError::Unclosed { .. } => Code::FrontMatterUnclosed,
        PageError::Yaml { .. } => Code::YamlInvalid,
        PageError::Shape { .. } => Code::FrontMatterShape,
        PageError::Limit { .. } => Code::FrontMatterLimit,
    };
    let (line, column) = e.position();
    Finding::new(code, &src.path, line, column, e.to_string())
}

/// Maps offsets in a markdown text back to the file: the text starts at
/// `first_line` and, inside a YAML block scalar, is indented.
struct Locator<'a> {
    src: &'a str,
    src_ix: &'a LineIndex,
    text: &'a str,
    ix: LineIndex,
    first_line: u32,
}

impl<'a> Locator<'a> {
    fn new(src: &'a str, src_ix: &'a LineIndex, text: &'a str, first_line: u32) -> Self {
        Locator {
            src,
            src_ix,
            text,
            ix: LineIndex::new(text),
            first_line,
        }
    }

    fn line(&self, offset: usize) -> u32 {
        self.first_line + self.ix.locate(offset).0 as u32
    }

    fn position(&self, offset: usize) -> (u32, u32) {
        let (l, byte) = self.ix.locate(offset);
        let line = self.first_line + l as u32;
        let text_line = self.ix.line(self.text, l);
        let file_line = self
            .src_ix
            .line(self.src, (line as usize).saturating_sub(1));
        let column = if file_line.len() >= text_line.len() && file_line.ends_with(text_line) {
            char_column(file_line, file_line.len() - text_line.len() + byte)
        } else {
            char_column(text_line, byte)
        };
        (line, column as u32 + 1)
    }
}

/// A parsed page whose links are not yet resolved.
struct Draft {
    page: Page,
    /// The file's name inside the model, for link resolution.
    name: String,
}

fn draft(src: &SourceFile) -> Result<Draft, Finding> {
    let raw: RawPage = parse_page(&src.text).map_err(|e| page_error(src, e))?;
    let text = src.text.strip_prefix('\u{feff}').unwrap_or(&src.text);
    let src_ix = LineIndex::new(text);
    let mut links = Vec::new();
    let mut timeline = Vec::with_capacity(raw.timeline.len());

    let slug_title = raw.title.as_deref().map(normalize).unwrap_or_default();
    let slug = page_slug(&raw, &src.name, &slug_title);
    for item in raw.timeline {
        let title = normalize(item.title.as_deref().unwrap_or(""));
        let c = classify(&title);
        let body: Option<Arc<str>> = item.body.filter(|b| !b.trim().is_empty()).map(Arc::from);
        let kind = match &body {
            None => kind_without_body(c.kind),
            Some(body) => {
                let loc = Locator::new(text, &src_ix, body, item.body_line);
                let s = scan(body);
                push_links(&mut links, &s, &loc);
                match c.kind {
                    TitleKind::Step { number, title } => ItemKind::Step { number, title },
                    TitleKind::Decision { question } => {
                        let choices = choices(body, &s, &loc);
                        ItemKind::Decision(DecisionPoint { question, choices })
                    }
                    TitleKind::NextSteps => ItemKind::NextSteps(choices(body, &s, &loc)),
                    TitleKind::Stage { number, name } => ItemKind::Stage { number, name },
                    TitleKind::Other => ItemKind::Other,
                }
            }
        };
        timeline.push(TimelineItem {
            title,
            line: item.line,
            body,
            body_line: item.body_line,
            kind,
            dash: c.dash,
            action: item.action,
            tailoring: item.tailoring,
        });
    }

    let loc = Locator::new(text, &src_ix, &raw.body, raw.body_line);
    let s = scan(&raw.body);
    push_links(&mut links, &s, &loc);
    let (intro, sections) = sections(&raw.body, &s, &loc);
    // Kept for the model's life: no room to grow (a large set has
    // hundreds of thousands of links).
    links.shrink_to_fit();

    let title = raw
        .title
        .as_deref()
        .map(normalize)
        .filter(|t| !t.is_empty())
        .unwrap_or_default();
    Ok(Draft {
        name: src.name.clone(),
        page: Page {
            path: src.path.clone(),
            slug,
            layout: raw.layout.map(|l| normalize(&l)),
            title,
            extra: raw.extra,
            intro,
            timeline,
            sections,
            links,
        },
    })
}

fn kind_without_body(kind: TitleKind) -> ItemKind {
    match kind {
        TitleKind::Step { number, title } => ItemKind::Step { number, title },
        TitleKind::Decision { question } => ItemKind::Decision(DecisionPoint {
            question,
            choices: Choices::default(),
        }),
        TitleKind::NextSteps => ItemKind::NextSteps(Choices::default()),
        TitleKind::Stage { number, name } => ItemKind::Stage { number, name },
        TitleKind::Other => ItemKind::Other,
    }
}

fn push_links(out: &mut Vec<Link>, s: &Scan, loc: &Locator) {
    for l in &s.links {
        let (line, column) = loc.position(l.start);
        // Resolved once every page is known.
        out.push(Link::new(&l.text, &l.dest, line, column, l.image));
    }
}

fn choices(body: &str, s: &Scan, loc: &Locator) -> Choices {
    let Some(list) = s.lists.first() else {
        return Choices {
            intro: body.trim().to_string(),
            options: Vec::new(),
            outro: String::new(),
        };
    };
    let (_, contents) = shared_items(body, 0..0, &list.items);
    let options = list
        .items
        .iter()
        .zip(contents)
        .map(|(it, content)| {
            let links = s
                .links
                .iter()
                .filter(|l| it.range.contains(&l.start))
                .map(|l| l.dest.clone())
                .collect();
            Choice {
                content,
                effect: Effect::Unspecified,
                line: loc.line(it.range.start),
                links,
            }
        })
        .collect();
    Choices {
        intro: body[..list.range.start].trim().to_string(),
        options,
        outro: body[list.range.end..].trim().to_string(),
    }
}

fn sections(body: &str, s: &Scan, loc: &Locator) -> (String, Vec<Section>) {
    let h2: Vec<_> = s.headings.iter().filter(|h| h.level == 2).collect();
    let intro_end = h2.first().map_or(body.len(), |h| h.range.start);
    let intro = body[..intro_end].trim().to_string();
    let mut out = Vec::with_capacity(h2.len());
    for (i, h) in h2.iter().enumerate() {
        let end = h2.get(i + 1).map_or(body.len(), |n| n.range.start);
        let start = h.range.end.min(end);
        let scanned: Vec<&ScannedItem> = s
            .lists
            .iter()
            .filter(|l| l.range.start >= start && l.range.start < end)
            .flat_map(|l| &l.items)
            .collect();
        let raw = &body[start..end];
        let lead = raw.len() - raw.trim_start().len();
        let markdown = start + lead..start + lead + raw.trim().len();
        let (text, contents) = shared_items(body, markdown.clone(), scanned.iter().copied());
        let items = scanned
            .iter()
            .zip(contents)
            .map(|(it, content)| Entry {
                content,
                line: loc.line(it.range.start),
            })
            .collect();
        out.push(Section {
            heading: h.text.clone(),
            kind: SectionKind::from_heading(&h.text),
            line: loc.line(h.range.start),
            column: loc.position(h.range.start).1,
            text,
            markdown_len: markdown.len() as u32,
            items,
        });
    }
    (intro, out)
}

/// Lays out list items' markdown and plain text in one buffer they share,
/// which starts with `prefix` of `body` (a section's markdown). An item's
/// markdown is a slice of the prefix when it is written there as it is (on
/// one line, say), and is added after it otherwise; its plain text is added
/// only when it differs. Returns the buffer and each item's [`Inline`].
fn shared_items<'a>(
    body: &str,
    prefix: Range<usize>,
    items: impl IntoIterator<Item = &'a ScannedItem>,
) -> (Arc<str>, Vec<Inline>) {
    let mut buf = String::from(body.get(prefix.clone()).unwrap_or_default());
    let mut add = |t: &str| {
        buf.push_str(t);
        buf.len() - t.len()..buf.len()
    };
    let spans: Vec<_> = items
        .into_iter()
        .map(|it| {
            let md = item_markdown(body, &it.range);
            // Most items are their marker and then their markdown as written:
            // a comparison finds it without setting up a substring search,
            // which for every item was a twentieth of the flat lint's time.
            // Any place that holds the same bytes gives the same slice.
            let at = body
                .get(it.range.clone())
                .and_then(|raw| {
                    let end = raw.trim_end();
                    if end.ends_with(md.as_str()) {
                        Some(end.len() - md.len())
                    } else {
                        raw.find(md.as_str())
                    }
                })
                .map(|i| it.range.start + i)
                .filter(|&i| i >= prefix.start && i + md.len() <= prefix.end);
            let m = match at {
                Some(i) => i - prefix.start..i - prefix.start + md.len(),
                None => add(&md),
            };
            let p = if it.text == md {
                m.clone()
            } else {
                add(&it.text)
            };
            (it, m, p)
        })
        .collect();
    let buf: Arc<str> = Arc::from(buf);
    let inlines = spans
        .into_iter()
        .map(|(it, m, p)| {
            // Past 4 GB of text a span does not fit; the item keeps its own.
            Inline::shared(&buf, m, p)
                .unwrap_or_else(|| Inline::new(item_markdown(body, &it.range), it.text.clone()))
        })
        .collect();
    (buf, inlines)
}

/// A file name is used as the slug when it already is one (`deploy.md`);
/// otherwise (`000_c5445e08.txt`) the title gives a readable one.
fn page_slug(raw: &RawPage, name: &str, title: &str) -> String {
    if let Some(s) = raw.extra.get("slug").and_then(|v| v.as_str()) {
        let s = slugify(s);
        if !s.is_empty() {
            return s;
        }
    }
    let stem = stem_key(name);
    let file = stem.rsplit('/').next().unwrap_or(&stem);
    if !file.is_empty() && slugify(file) == file {
        return file.to_string();
    }
    let t = slugify(title);
    let t = if t.is_empty() { slugify(&stem) } else { t };
    if !t.is_empty() {
        return t;
    }
    // Neither title nor file name has a letter or digit (`!!!.md`): the
    // name's bytes give one, so the page still has an address of its own.
    let hex: String = stem.bytes().take(16).map(|b| format!("{b:02x}")).collect();
    format!("page-{hex}")
}

/// `stages/Deploy.md` → `stages/deploy`.
fn stem_key(name: &str) -> String {
    let name = name.replace('\\', "/");
    let name = name.trim_start_matches("./").trim_start_matches('/');
    let stem = match name.rsplit_once('.') {
        Some((stem, ext)) if !ext.contains('/') => stem,
        _ => name,
    };
    stem.to_lowercase()
}

/// What a link target looks like before pages are known.
enum Target {
    Empty,
    External,
    /// A scheme the site does not publish (`javascript:`, `data:`, `file:`…).
    Unsafe {
        scheme: String,
    },
    Contact,
    Anchor,
    NoScheme,
    Internal {
        key: String,
        fragment: Option<String>,
    },
}

fn target(dest: &str) -> Target {
    let d = dest.trim();
    if d.is_empty() {
        return Target::Empty;
    }
    if d.starts_with('#') {
        return Target::Anchor;
    }
    if d.starts_with("//") {
        return Target::External;
    }
    if let Some((scheme, _)) = d.split_once(':')
        && !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        let s = scheme.to_ascii_lowercase();
        return match s.as_str() {
            "mailto" | "tel" => Target::Contact,
            "http" | "https" => Target::External,
            _ => Target::Unsafe { scheme: s },
        };
    }
    if d.to_ascii_lowercase().starts_with("www.") {
        return Target::NoScheme;
    }
    let (path, fragment) = match d.split_once('#') {
        Some((p, f)) => (p, Some(f.to_string()).filter(|f| !f.is_empty())),
        None => (d, None),
    };
    let path = path.split('?').next().unwrap_or("");
    let path = path
        .trim_start_matches("./")
        .trim_start_matches('/')
        .trim_end_matches('/');
    let lower = path.to_lowercase();
    let mut key = lower.as_str();
    for ext in [".md", ".markdown", ".html", ".htm", ".txt"] {
        if let Some(k) = key.strip_suffix(ext) {
            key = k;
            break;
        }
    }
    let key = if key.is_empty() { "index" } else { key }.to_string();
    Target::Internal { key, fragment }
}

pub(crate) fn resolve(dest: &str, aliases: &HashMap<String, PageId>) -> LinkTarget {
    match target(dest) {
        Target::Empty => LinkTarget::Empty,
        Target::External => LinkTarget::External,
        Target::Unsafe { scheme } => LinkTarget::Unsafe {
            scheme: scheme.into_boxed_str(),
        },
        Target::Contact => LinkTarget::Contact,
        Target::Anchor => LinkTarget::Anchor,
        Target::NoScheme => LinkTarget::NoScheme,
        Target::Internal { key, fragment } => match aliases.get(&key) {
            Some(&page) => LinkTarget::Page {
                page,
                fragment: fragment.map(String::into_boxed_str),
            },
            None => LinkTarget::UnknownPage {
                key: key.into_boxed_str(),
            },
        },
    }
}

fn assemble(drafts: Vec<Draft>, findings: &mut Vec<Finding>) -> Model {
    let mut pages = Vec::with_capacity(drafts.len());
    let mut names = Vec::with_capacity(drafts.len());
    for d in drafts {
        pages.push(d.page);
        names.push(d.name);
    }

    let overview = pages
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let n = p
                .timeline
                .iter()
                .filter(|t| matches!(t.kind, ItemKind::Stage { .. }))
                .count();
            (n, std::cmp::Reverse(i))
        })
        .filter(|(n, _)| *n > 0)
        .max()
        .map(|(_, std::cmp::Reverse(i))| PageId(i));

    // Names other pages may use for each page. A slug must be unique; the
    // other names simply go to the first page that has them.
    let mut aliases: HashMap<String, PageId> = HashMap::with_capacity(pages.len() * 3);
    for (i, p) in pages.iter().enumerate() {
        if let Some(&other) = aliases.get(&p.slug)
            && pages[other.0].slug == p.slug
        {
            findings.push(Finding::new(
                    Code::SlugConflict,
                    &p.path,
                    1,
                    1,
                    format!(
                        "this page and {} both have the name `{}`; give one of them a `slug:` in its front matter",
                        pages[other.0].path, p.slug
                    ),
                ));
            continue;
        }
        aliases.insert(p.slug.clone(), PageId(i));
    }
    let extras = par_map_owned(pages.iter().zip(&names).collect(), |(p, name)| {
        [stem_key(name), slugify(&p.title)]
    });
    for (i, extra) in extras.into_iter().enumerate() {
        let index = (Some(PageId(i)) == overview).then(|| "index".to_string());
        for a in extra.into_iter().chain(index) {
            if !a.is_empty() {
                aliases.entry(a).or_insert(PageId(i));
            }
        }
    }

    par_for_each_mut(&mut pages, |p| {
        for l in &mut p.links {
            l.resolved = resolve(l.target(), &aliases);
        }
    });

    let stage_refs = stage_refs(&pages, overview, &aliases);

    // Effects, now that stages and pages are known.
    let stage_names = StageNames::new(
        stage_refs
            .iter()
            .map(|s| StageName {
                words: split_words(&lower_words(&s.name))
                    .into_iter()
                    .map(String::from)
                    .collect(),
                slug: s.slug.clone(),
            })
            .collect(),
    );
    let stage_of_page: HashMap<PageId, String> = stage_refs
        .iter()
        .filter_map(|s| s.page.map(|p| (p, s.slug.clone())))
        .collect();
    par_for_each_mut(&mut pages, |p| {
        for item in &mut p.timeline {
            let options = match &mut item.kind {
                ItemKind::Decision(d) => &mut d.choices.options,
                ItemKind::NextSteps(c) => &mut c.options,
                _ => continue,
            };
            for o in options {
                o.effect = effect(o, &aliases, &stage_of_page, &stage_names);
            }
        }
    });

    let principles = overview
        .and_then(|o| pages[o.0].section(SectionKind::Principles))
        .map(|s| s.items.iter().map(principle).collect())
        .unwrap_or_default();

    // On a set where every page is a stage, ten thousand of them.
    let stages = par_map_owned(stage_refs, |r| fill_stage(r, &pages));
    // The first page (in path order) with a readable self-assessment; the
    // lint names any other, and any that cannot be read.
    let assessment = pages.iter().enumerate().find_map(|(i, p)| {
        let q =
            crate::Questionnaire::from_front_matter(p.extra.get(crate::tailoring::ASSESSMENT_KEY)?);
        q.ok().map(|q| (PageId(i), q))
    });

    Model {
        pages,
        stages,
        principles,
        overview,
        assessment,
        aliases,
    }
}

fn principle(e: &Entry) -> Principle {
    match e.text().split_once(':') {
        Some((name, desc)) if name.len() <= 80 => Principle {
            name: name.trim().to_string(),
            description: desc.trim().to_string(),
        },
        _ => Principle {
            name: String::new(),
            description: e.text().to_string(),
        },
    }
}

struct StageRef {
    number: u32,
    name: String,
    slug: String,
    summary: Option<String>,
    page: Option<PageId>,
}

/// The stages: from the overview's stage entries when there is an overview,
/// otherwise every page that has steps, decisions or next steps.
fn stage_refs(
    pages: &[Page],
    overview: Option<PageId>,
    aliases: &HashMap<String, PageId>,
) -> Vec<StageRef> {
    let Some(ov) = overview else {
        return pages
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                p.timeline.iter().any(|t| {
                    matches!(
                        t.kind,
                        ItemKind::Step { .. } | ItemKind::Decision(_) | ItemKind::NextSteps(_)
                    )
                })
            })
            .enumerate()
            .map(|(n, (i, p))| StageRef {
                number: n as u32 + 1,
                name: p.title.clone(),
                slug: p.slug.clone(),
                summary: None,
                page: Some(PageId(i)),
            })
            .collect();
    };
    let ovp = &pages[ov.0];
    ovp.timeline
        .iter()
        .filter_map(|t| match &t.kind {
            ItemKind::Stage { number, name } => Some((t, *number, name)),
            _ => None,
        })
        .map(|(t, number, name)| {
            let lname = name.to_lowercase();
            let by_title = pages
                .iter()
                .enumerate()
                .find(|(i, p)| PageId(*i) != ov && p.title.to_lowercase() == lname)
                .map(|(i, _)| PageId(i));
            let by_link = || {
                ovp.links.iter().find_map(|l| match &l.resolved {
                    LinkTarget::Page { page, .. }
                        if l.text().to_lowercase() == lname && *page != ov =>
                    {
                        Some(*page)
                    }
                    _ => None,
                })
            };
            let by_slug = || aliases.get(&slugify(name)).copied().filter(|p| *p != ov);
            let page = by_title.or_else(by_link).or_else(by_slug);
            StageRef {
                number,
                name: name.clone(),
                slug: page.map_or_else(|| slugify(name), |p| pages[p.0].slug.clone()),
                summary: t.body.as_deref().map(String::from),
                page,
            }
        })
        .collect()
}

/// Index of the first place `phrase` (a run of words) occurs in `words`.
fn find_phrase<S: AsRef<str>>(words: &[&str], phrase: &[S]) -> Option<usize> {
    if phrase.is_empty() || phrase.len() > words.len() {
        return None;
    }
    words
        .windows(phrase.len())
        .position(|w| w.iter().zip(phrase).all(|(a, b)| *a == b.as_ref()))
}

/// Lowercase words, apostrophes dropped so "agency's" stays one word.
fn lower_words(text: &str) -> String {
    text.to_lowercase().replace(['\u{2019}', '\''], "")
}

fn split_words(lower: &str) -> Vec<&str> {
    lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect()
}

/// A stage's name as words, and its slug: what option texts are matched on.
struct StageName {
    words: Vec<String>,
    slug: String,
}

/// Every stage's name, found in an option's text by the name's first word.
/// Trying each stage's name at each option made loading quadratic where
/// every page is a stage: on a flat corpus of 10,000 pages, 44% of a lint's
/// time was spent here.
struct StageNames {
    names: Vec<StageName>,
    by_first_word: HashMap<String, Vec<usize>>,
}

impl StageNames {
    fn new(names: Vec<StageName>) -> Self {
        let mut by_first_word: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, n) in names.iter().enumerate() {
            if let Some(first) = n.words.first() {
                by_first_word.entry(first.clone()).or_default().push(i);
            }
        }
        StageNames {
            names,
            by_first_word,
        }
    }

    /// The slug of the stage whose name comes first in `words`; of names
    /// starting at the same word, the least slug.
    fn first_in(&self, words: &[&str]) -> Option<&str> {
        words.iter().enumerate().find_map(|(at, word)| {
            let rest = &words[at..];
            self.by_first_word
                .get(*word)?
                .iter()
                .map(|&i| &self.names[i])
                .filter(|n| {
                    n.words.len() <= rest.len() && rest.iter().zip(&n.words).all(|(a, b)| a == b)
                })
                .map(|n| n.slug.as_str())
                .min()
        })
    }
}

fn effect(
    o: &Choice,
    aliases: &HashMap<String, PageId>,
    stage_of_page: &HashMap<PageId, String>,
    stage_names: &StageNames,
) -> Effect {
    let lower = lower_words(o.text());
    let words = split_words(&lower);
    if find_phrase(&words, &["do", "it", "yourself"]).is_some() || words.contains(&"diy") {
        return Effect::DoItYourself;
    }
    for d in &o.links {
        if let Target::Internal { key, .. } = target(d)
            && let Some(stage) = aliases.get(&key).and_then(|p| stage_of_page.get(p))
        {
            return Effect::EnterStage {
                stage: stage.clone(),
            };
        }
    }
    if words.contains(&"exit")
        || words.first() == Some(&"discontinue")
        || words.starts_with(&["leave", "the", "programme"])
    {
        return Effect::Exit;
    }
    stage_names
        .first_in(&words)
        .map_or(Effect::Unspecified, |slug| Effect::EnterStage {
            stage: slug.to_string(),
        })
}

fn fill_stage(r: StageRef, pages: &[Page]) -> Stage {
    let mut stage = Stage {
        number: r.number,
        name: r.name,
        slug: r.slug,
        summary: r.summary,
        timebox: None,
        page: r.page,
        steps: Vec::new(),
        decisions: Vec::new(),
        exits: Vec::new(),
        roles: Arc::default(),
        artefacts: Arc::default(),
        enabling_services: Arc::default(),
        benefits: Arc::default(),
        risks: Arc::default(),
        success: Arc::default(),
        met_by: Vec::new(),
        tasks: Arc::default(),
    };
    let Some(p) = r.page.map(|id| &pages[id.0]) else {
        return stage;
    };
    // An unreadable timebox is a lint finding (`timebox-invalid`), not a stop.
    stage.timebox = p
        .extra
        .get(crate::TIMEBOX_KEY)
        .and_then(|v| crate::Timebox::from_front_matter(v).ok());
    let steps = p
        .timeline
        .iter()
        .filter(|t| matches!(t.kind, ItemKind::Step { .. }))
        .count();
    stage.steps.reserve_exact(steps);
    for t in &p.timeline {
        match &t.kind {
            ItemKind::Step { number, title } => stage.steps.push(Step {
                number: *number,
                title: title.clone(),
                body: t.body.clone(),
                action: t.action.as_deref().and_then(crate::StepAction::parse),
                // What cannot be read is a lint finding (`tailoring-invalid`).
                tailoring: t
                    .tailoring
                    .as_ref()
                    .map(|v| crate::Tailoring::from_front_matter(v).0)
                    .unwrap_or_default(),
            }),
            ItemKind::Decision(d) => stage.decisions.push(d.clone()),
            ItemKind::NextSteps(c) => stage.exits.extend(c.options.iter().cloned()),
            _ => {}
        }
    }
    for s in &p.sections {
        let list = match s.kind {
            SectionKind::Roles => &mut stage.roles,
            SectionKind::Artefacts => &mut stage.artefacts,
            SectionKind::EnablingServices => &mut stage.enabling_services,
            SectionKind::Benefits => &mut stage.benefits,
            SectionKind::Risks => &mut stage.risks,
            SectionKind::Success => &mut stage.success,
            SectionKind::Tasks => &mut stage.tasks,
            SectionKind::Principles | SectionKind::Other => continue,
        };
        // One section of a kind (the usual case) is shared, not copied.
        *list = if list.is_empty() {
            Arc::clone(&s.items)
        } else {
            list.iter().chain(s.items.iter()).cloned().collect()
        };
    }
    stage.decisions.shrink_to_fit();
    stage.exits.shrink_to_fit();
    // What cannot be read is a lint finding (`success-met-by-invalid`).
    stage.met_by = crate::met_by(p.extra.get(crate::MET_BY_KEY), &stage.success).0;
    stage
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The index finds what trying every stage's name at every word
        /// found: the first place any name occurs, then the least slug.
        #[test]
        fn stage_names_are_found_as_by_trying_each(
            names in proptest::collection::vec(
                (proptest::collection::vec(0u8..4, 0..4), 0u8..6), 0..12),
            text in proptest::collection::vec(0u8..4, 0..12),
        ) {
            let word = |w: &u8| ["go", "to", "deploy", "plan"][usize::from(*w)];
            let names: Vec<StageName> = names
                .iter()
                .map(|(ws, slug)| StageName {
                    words: ws.iter().map(|w| word(w).to_string()).collect(),
                    slug: format!("s{slug}"),
                })
                .collect();
            let words: Vec<&str> = text.iter().map(word).collect();
            let each = names
                .iter()
                .filter_map(|s| find_phrase(&words, &s.words).map(|i| (i, s.slug.clone())))
                .min()
                .map(|(_, slug)| slug);
            let index = StageNames::new(names);
            prop_assert_eq!(index.first_in(&words).map(String::from), each);
        }
    }

    proptest! {
        /// Sections and their items read the same from the shared buffer
        /// as when each kept its own copy: the section's markdown trimmed,
        /// each item's markdown as `item_markdown` gives it, its plain text
        /// as scanned. Items come on one line or several, indented or not,
        /// with markup or without, bulleted or numbered.
        #[test]
        fn shared_item_text_reads_as_copies(
            sections in proptest::collection::vec(
                proptest::collection::vec((0u8..6, 0u8..4, 0u8..3), 0..5), 1..4),
        ) {
            let words = ["Plan the *pilot*", "See [more](page-1.html)", "Sponsor  sign-off", "`code` é", "", "Two\n    lines here"];
            let mut body = String::from("Intro text.\n\n");
            for (i, items) in sections.iter().enumerate() {
                body.push_str(&format!("## Section {i}\n\nLead paragraph.\n\n"));
                for (n, (w, bullet, tail)) in items.iter().enumerate() {
                    let mark = match bullet { 0 => "* ".to_string(), 1 => "- ".to_string(), 2 => format!("{}. ", n + 1), _ => "+   ".to_string() };
                    let tail = ["", "  ", " and [a link](https://example.com)"][usize::from(*tail)];
                    body.push_str(&format!("{mark}{}{tail}\n", words[usize::from(*w)]));
                }
                body.push_str("\nAfter the list.\n\n");
            }
            let scanned = scan(&body);
            let ix = LineIndex::new(&body);
            let loc = Locator::new(&body, &ix, &body, 1);
            let (_, out) = super::sections(&body, &scanned, &loc);
            let h2: Vec<_> = scanned.headings.iter().filter(|h| h.level == 2).collect();
            prop_assert_eq!(out.len(), h2.len());
            for (i, (sec, h)) in out.iter().zip(&h2).enumerate() {
                let end = h2.get(i + 1).map_or(body.len(), |n| n.range.start);
                prop_assert_eq!(sec.markdown(), body[h.range.end.min(end)..end].trim());
                let expect: Vec<_> = scanned
                    .lists
                    .iter()
                    .filter(|l| l.range.start >= h.range.end && l.range.start < end)
                    .flat_map(|l| &l.items)
                    .collect();
                prop_assert_eq!(sec.items.len(), expect.len());
                for (e, it) in sec.items.iter().zip(expect) {
                    prop_assert_eq!(e.markdown(), item_markdown(&body, &it.range));
                    prop_assert_eq!(e.text(), it.text.as_str());
                }
            }
        }
    }

    #[test]
    fn link_targets() {
        let key = |d: &str| match target(d) {
            Target::Internal { key, .. } => key,
            _ => "<not internal>".into(),
        };
        assert_eq!(key("/deploy.md"), "deploy");
        assert_eq!(key("deploy.html"), "deploy");
        assert_eq!(key("/transition.md#steps"), "transition");
        assert_eq!(key("/blueprint/"), "blueprint");
        assert_eq!(key("/faq"), "faq");
        assert_eq!(key("/"), "index");
        assert_eq!(key("stages/Deploy.md"), "stages/deploy");
        assert!(matches!(
            target("www.community.desktop.gov.au"),
            Target::NoScheme
        ));
        assert!(matches!(
            target("https://desktop.gov.au/"),
            Target::External
        ));
        assert!(matches!(target("mailto:a@b.c"), Target::Contact));
        assert!(matches!(target("  "), Target::Empty));
        assert!(matches!(target("#top"), Target::Anchor));
    }

    #[test]
    fn phrases_match_whole_words() {
        let lower = lower_words("Undertaking Deploy again (exit). Agency’s DIY");
        let w = split_words(&lower);
        assert_eq!(find_phrase(&w, &["deploy"]), Some(1));
        assert_eq!(find_phrase(&w, &["deploy", "again"]), Some(1));
        assert_eq!(find_phrase(&w, &["deployment"]), None);
        assert!(w.contains(&"exit") && w.contains(&"agencys") && w.contains(&"diy"));
        assert_eq!(
            find_phrase(&w, &["again", "exit", "agencys", "diy", "more"]),
            None
        );
    }
}
