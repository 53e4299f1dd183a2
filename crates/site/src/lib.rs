//! Waymark's guidance site: one renderer for the static export and the live
//! server under `/guide/`.
//!
//! Owns: turning a `Model` (and the plain data in `Published`) into pages,
//! the stylesheet and the model visual, and serving them (`server`).
//! Must not touch: the database, mail or letters. What the site shows from
//! the database reaches it as plain data in `Published`; it queries nothing.
//!
//! Every page of the model becomes `<slug>.html` (the overview becomes
//! `index.html`), every published article `article-<slug>.html` (with
//! `articles.html` and, once there is a release, `blueprint.html`), in one
//! flat folder, with relative links, so the same bytes
//! work from any web server, from `file://`, and under `/guide/` live.
//!
//! No page grows with the site: the navigation, the contents pages and the
//! visual are bounded (`MAX_NAV_STAGES`, `CONTENTS_PER_PAGE`,
//! `visual::MAX_DRAWN`), and every per-page question is a table lookup
//! (`Shape`), so the build is linear in the page count. A property test in
//! `tests/site/scale.rs` holds both.

mod dates;
pub use dates::datetime;
mod markdown;
pub mod server;
mod visual;

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use minijinja::{AutoEscape, Environment};
use serde::Serialize;
use waymark_model::par::par_map;
use waymark_model::text::{is_blank, slugify};
use waymark_model::{
    AgencyType, Choices, ItemKind, Model, PageId, Relevance, StepAction, Tailoring,
};

pub use dates::{Dates, display as long_date, last_modified};
pub use visual::svg as visual_svg;

/// The stylesheet, the model visual and their names in the built site.
pub const CSS_PATH: &str = "assets/site.css";
pub const VISUAL_PATH: &str = "engagement-model.svg";
const CSS: &str = include_str!("../assets/site.css");

/// Built-in templates; a file of the same name in `--templates DIR` replaces one.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    (
        "engagement.html",
        include_str!("../templates/engagement.html"),
    ),
    ("page.html", include_str!("../templates/page.html")),
    ("contents.html", include_str!("../templates/contents.html")),
    ("article.html", include_str!("../templates/article.html")),
    ("articles.html", include_str!("../templates/articles.html")),
    (
        "community-faq.html",
        include_str!("../templates/community-faq.html"),
    ),
    (
        "blueprint.html",
        include_str!("../templates/blueprint.html"),
    ),
];

/// The list of knowledge articles and the blueprint's release notes.
pub const ARTICLES_PATH: &str = "articles.html";
/// The community's FAQ: promoted questions with their accepted answers,
/// beside the model's own FAQ page.
pub const FAQ_PATH: &str = "community-faq.html";
pub const BLUEPRINT_PATH: &str = "blueprint.html";

/// A knowledge article's file in the built site.
pub fn article_href(slug: &str) -> String {
    format!("article-{slug}.html")
}

#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error("template {name}: {source}")]
    Template {
        name: String,
        #[source]
        source: minijinja::Error,
    },
    #[error("{path}: cannot read the template: {source}")]
    TemplateIo {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: cannot write: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// What the site shows beyond the model: plain data the caller fills (the
/// live server from the database, a static export from its options). The
/// renderer shows what is here and never asks for more.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Published {
    /// Links in every page's header, such as "Sign in" and "Request
    /// support" on a site served beside the workspace. Empty on an export.
    pub links: Vec<Link>,
    /// Where the programme's request form is, for the "Request support"
    /// start button on the overview and on steps whose `action:` is
    /// `request-support`. None on an export without a public URL.
    pub request_support: Option<String>,
    /// Where the live search is (`/search` beside the workspace); every
    /// page's header then has a search box. None on an export without a
    /// public URL: a static site has no search of its own.
    pub search: Option<String>,
    /// Published knowledge articles, by title.
    pub articles: Vec<ArticlePage>,
    /// Blueprint releases, the newest first: every page names the first.
    pub releases: Vec<Release>,
}

/// A published knowledge article, as the guide shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ArticlePage {
    pub slug: String,
    pub title: String,
    pub summary: String,
    /// Markdown, rendered like the model's pages.
    pub body: String,
    /// The stages it is tagged to (their slugs): their pages list it.
    pub stages: Vec<String>,
    /// Its tags as readers see them ("Discovery, step 2", "licensing").
    pub tags: Vec<String>,
    pub version: i64,
    /// "2 December 2026"
    pub published_on: String,
    /// Where readers see what changed between versions (live only).
    pub changes: Option<String>,
    /// Where readers answer "Was this helpful?" (live only).
    pub feedback: Option<String>,
    /// An FAQ entry's place in the community's FAQ (from 1): it is listed
    /// there, in that order, rather than among the articles.
    pub faq: Option<i64>,
    /// Where an FAQ entry's question was asked in the community (live,
    /// or an export with a public address).
    pub asked: Option<String>,
}

/// A release of the blueprint.
#[derive(Debug, Clone, Serialize)]
pub struct Release {
    pub version: String,
    /// "2 December 2026"
    pub released_on: String,
    /// Markdown.
    pub notes: String,
    pub link: String,
}

impl Published {
    /// Whether the site lists knowledge articles (FAQ entries are on the
    /// FAQ's page instead).
    pub fn has_articles(&self) -> bool {
        self.articles.iter().any(|a| a.faq.is_none())
    }

    /// Whether the community's FAQ has a published entry.
    pub fn has_faq(&self) -> bool {
        self.articles.iter().any(|a| a.faq.is_some())
    }

    /// This with the content folder's articles (`files`) added: a file wins
    /// over a database article at the same address. By title.
    pub fn with_files(&self, files: &[ArticlePage]) -> Published {
        let mut p = self.clone();
        if files.is_empty() {
            return p;
        }
        p.articles
            .retain(|a| !files.iter().any(|f| f.slug == a.slug));
        p.articles.extend(files.iter().cloned());
        p.articles
            .sort_by(|a, b| a.title.cmp(&b.title).then_with(|| a.slug.cmp(&b.slug)));
        p
    }
}

/// What to render again after `Published` changed, instead of everything.
#[derive(Debug, Clone, Default)]
pub struct Only {
    /// Model pages, by index.
    pub pages: std::collections::HashSet<usize>,
    /// Articles, by slug.
    pub articles: std::collections::HashSet<String>,
}

impl Only {
    /// What a change to the articles `slugs` touches, given the articles
    /// before and after: the articles themselves and the pages of every
    /// stage either version was tagged to. (The list of articles is always
    /// rendered again.)
    pub fn articles(
        model: &Model,
        before: &Published,
        after: &Published,
        slugs: &[String],
    ) -> Only {
        let mut only = Only::default();
        for p in [before, after] {
            for a in p.articles.iter().filter(|a| slugs.contains(&a.slug)) {
                for st in &a.stages {
                    if let Some(page) = model
                        .stages
                        .iter()
                        .find(|s| &s.slug == st)
                        .and_then(|s| s.page)
                    {
                        only.pages.insert(page.0);
                    }
                }
            }
        }
        only.articles.extend(slugs.iter().cloned());
        only
    }
}

/// A link the caller puts on every page.
#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub text: String,
    pub href: String,
}

/// Each page's file name in the built site.
#[derive(Debug, Clone)]
pub struct Hrefs {
    pages: Vec<String>,
    /// Published articles' files, which pages may link to as they are.
    articles: std::collections::HashSet<String>,
}

impl Hrefs {
    pub fn new(model: &Model) -> Self {
        let pages = model
            .pages
            .iter()
            .enumerate()
            .map(|(i, p)| {
                if model.overview == Some(PageId(i)) {
                    "index.html".to_string()
                } else {
                    format!("{}.html", p.slug)
                }
            })
            .collect();
        Hrefs {
            pages,
            articles: std::collections::HashSet::new(),
        }
    }

    /// These names with the published articles' files as link targets too.
    pub fn with_articles(mut self, published: &Published) -> Self {
        self.articles = published
            .articles
            .iter()
            .map(|a| article_href(&a.slug))
            .collect();
        self
    }

    /// Whether `file` is a published article's page.
    pub fn is_article(&self, file: &str) -> bool {
        self.articles.contains(file)
    }

    pub fn page(&self, id: PageId) -> &str {
        &self.pages[id.0]
    }

    /// The same names under `prefix` (for pages outside the site, such as
    /// the workspace, that link into it at `/guide/`).
    pub fn prefixed(model: &Model, prefix: &str) -> Self {
        let mut h = Hrefs::new(model);
        for p in &mut h.pages {
            p.insert_str(0, prefix);
        }
        h
    }
}

/// A page of the site as search indexes it: its file name (`index.html`
/// for the overview), its title and its words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Searchable {
    pub href: String,
    pub title: String,
    pub text: String,
}

/// The content folder's articles as search indexes them: pages of the
/// guide like the model's own.
pub fn searchable_articles(files: &[ArticlePage]) -> Vec<Searchable> {
    files
        .iter()
        .map(|a| Searchable {
            href: article_href(&a.slug),
            title: a.title.clone(),
            text: format!(
                "{}\n{}",
                a.summary,
                waymark_model::markdown::plain_text(&a.body)
            ),
        })
        .collect()
}

/// Every page of the model as search indexes it.
pub fn searchable(model: &Model) -> Vec<Searchable> {
    let hrefs = Hrefs::new(model);
    model
        .pages
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut text = String::new();
            text.push_str(&waymark_model::markdown::plain_text(&p.intro));
            text.push('\n');
            for t in &p.timeline {
                text.push_str(&t.title);
                text.push('\n');
                if let Some(b) = &t.body {
                    text.push_str(&waymark_model::markdown::plain_text(b));
                    text.push('\n');
                }
            }
            for s in &p.sections {
                text.push_str(&s.heading);
                text.push('\n');
                text.push_str(&waymark_model::markdown::plain_text(s.markdown()));
                text.push('\n');
            }
            Searchable {
                href: hrefs.page(PageId(i)).to_string(),
                title: p.title.clone(),
                text,
            }
        })
        .collect()
}

/// Each step's anchor on its stage's page, exactly as the site names it.
pub fn step_anchors(model: &Model, stage: &waymark_model::Stage) -> Vec<(u32, String)> {
    let Some(page) = stage.page else {
        return Vec::new();
    };
    let mut ids = Ids::default();
    model
        .page(page)
        .timeline
        .iter()
        .filter_map(|t| {
            let id = ids.make(&t.title);
            match t.kind {
                ItemKind::Step { number, .. } => Some((number, id)),
                _ => None,
            }
        })
        .collect()
}

/// Model markdown as HTML, with links resolved as the site resolves them.
pub fn guidance_html(text: &str, model: &Model, hrefs: &Hrefs) -> String {
    let mut out = String::new();
    markdown::render(text, model, hrefs, &mut out);
    out
}

/// A built site: file name → bytes, in a stable order.
#[derive(Debug, Clone, Default)]
pub struct Built {
    pub files: Vec<(String, Vec<u8>)>,
}

impl Built {
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| b.as_slice())
    }

    /// Writes every file under `out`, creating folders as needed.
    pub fn write(&self, out: &Path) -> Result<(), SiteError> {
        let err = |path: &Path, source| SiteError::Write {
            path: path.display().to_string(),
            source,
        };
        for (name, bytes) in &self.files {
            let path = out.join(name);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| err(dir, e))?;
            }
            std::fs::write(&path, bytes).map_err(|e| err(&path, e))?;
        }
        Ok(())
    }
}

/// Loads the templates: the built-in ones, replaced by any file of the same
/// name in `dir`. HTML escaping is on for every template whatever its name.
pub fn environment(dir: Option<&Path>) -> Result<Environment<'static>, SiteError> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    for (name, source) in TEMPLATES {
        let source = match dir.map(|d| d.join(name)) {
            Some(path) if path.is_file() => {
                std::fs::read_to_string(&path).map_err(|e| SiteError::TemplateIo {
                    path: path.display().to_string(),
                    source: e,
                })?
            }
            _ => (*source).to_string(),
        };
        env.add_template_owned(*name, source)
            .map_err(|e| SiteError::Template {
                name: (*name).to_string(),
                source: e,
            })?;
    }
    Ok(env)
}

/// Renders the whole site into memory (for the live server and tests).
pub fn build(
    model: &Model,
    dates: &Dates,
    templates: Option<&Path>,
    published: &Published,
) -> Result<Built, SiteError> {
    let files = std::sync::Mutex::new(Vec::with_capacity(model.pages.len() + 3));
    render_each(model, dates, templates, published, None, |name, bytes| {
        if let Ok(mut f) = files.lock() {
            f.push((name.to_string(), bytes));
        }
        Ok(())
    })?;
    let mut files = files.into_inner().unwrap_or_default();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Built { files })
}

/// Renders the site straight to `out`, writing each page as soon as it is
/// ready, so memory holds the model and a few pages, not the whole site.
/// Returns how many files were written.
pub fn export(
    model: &Model,
    dates: &Dates,
    templates: Option<&Path>,
    published: &Published,
    out: &Path,
) -> Result<usize, SiteError> {
    let err = |path: &Path, source| SiteError::Write {
        path: path.display().to_string(),
        source,
    };
    std::fs::create_dir_all(out.join("assets")).map_err(|e| err(out, e))?;
    let count = std::sync::atomic::AtomicUsize::new(0);
    render_each(model, dates, templates, published, None, |name, bytes| {
        let path = out.join(name);
        std::fs::write(&path, bytes).map_err(|e| err(&path, e))?;
        count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    })?;
    Ok(count.into_inner())
}

/// Renders only what `only` names (and the list of articles), in memory:
/// after an article is published, the pages it touches, not the site.
pub fn render_some(
    model: &Model,
    dates: &Dates,
    templates: Option<&Path>,
    published: &Published,
    only: &Only,
) -> Result<Built, SiteError> {
    let files = std::sync::Mutex::new(Vec::new());
    render_each(
        model,
        dates,
        templates,
        published,
        Some(only),
        |name, bytes| {
            if let Ok(mut f) = files.lock() {
                f.push((name.to_string(), bytes));
            }
            Ok(())
        },
    )?;
    let mut files = files.into_inner().unwrap_or_default();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Built { files })
}

/// Renders every file of the site (or, with `only`, those it names) and
/// hands each to `emit`, pages in parallel. The first error stops the work
/// and is returned.
fn render_each(
    model: &Model,
    dates: &Dates,
    templates: Option<&Path>,
    published: &Published,
    only: Option<&Only>,
    emit: impl Fn(&str, Vec<u8>) -> Result<(), SiteError> + Sync,
) -> Result<(), SiteError> {
    let env = environment(templates)?;
    let hrefs = Hrefs::new(model).with_articles(published);
    let shape = Shape::new(model);
    let nav = nav(model, &shape, &hrefs);
    let ids: Vec<usize> = (0..model.pages.len())
        .filter(|i| only.is_none_or(|o| o.pages.contains(i)))
        .collect();
    for r in par_map(&ids, |&i| {
        let id = PageId(i);
        let template = template_for(model.page(id).layout.as_deref());
        // A stage page with tailored steps has a journey per type too.
        let kinds = std::iter::once(None).chain(
            tailored(model, &shape, id)
                .then_some(AgencyType::ALL.map(Some))
                .into_iter()
                .flatten(),
        );
        for kind in kinds {
            let view = page_view(model, &shape, id, &hrefs, &nav, dates, published, kind);
            let html = env
                .get_template(template)
                .and_then(|t| t.render(minijinja::value::Serde(&view)))
                .map_err(|e| SiteError::Template {
                    name: template.to_string(),
                    source: e,
                })?;
            emit(&view.href, html.into_bytes())?;
        }
        Ok(())
    }) {
        r?;
    }
    render_knowledge(model, &env, &hrefs, &nav, published, only, &emit)?;
    if only.is_some() {
        return Ok(());
    }
    if shape.needs_contents(model) {
        let pages = all_pages(model, &shape, &hrefs);
        let chunks: Vec<&[NavItem]> = pages.chunks(CONTENTS_PER_PAGE).collect();
        let numbers: Vec<usize> = (1..=chunks.len().max(1)).collect();
        for r in par_map(&numbers, |&n| {
            let href = contents_href(model, n);
            let view = ContentsView {
                site: SITE_TITLE,
                css: CSS_PATH,
                nav: nav_views(&nav, &href, &href, Vec::new()),
                pages: chunks.get(n - 1).copied().unwrap_or_default(),
                has_overview: model.overview.is_some(),
                links: &published.links,
                search: published.search.as_deref(),
                banner: published.releases.first(),
                knowledge: published.has_articles(),
                faq: published.has_faq(),
                stages: model.stages.len(),
                first: (n - 1) * CONTENTS_PER_PAGE + 1,
                total: pages.len(),
                pager: pager(model, n, chunks.len()),
            };
            let html = env
                .get_template("contents.html")
                .and_then(|t| t.render(minijinja::value::Serde(&view)))
                .map_err(|e| SiteError::Template {
                    name: "contents.html".into(),
                    source: e,
                })?;
            emit(&href, html.into_bytes())
        }) {
            r?;
        }
    }
    emit(CSS_PATH, CSS.as_bytes().to_vec())?;
    emit(VISUAL_PATH, visual::svg(model).into_bytes())
}

/// How many articles a stage's page lists before "all articles".
const ARTICLES_LISTED: usize = 20;

#[derive(Serialize)]
struct ArticleLink<'a> {
    href: String,
    title: &'a str,
    summary: &'a str,
}

fn article_link(a: &ArticlePage) -> ArticleLink<'_> {
    ArticleLink {
        href: article_href(&a.slug),
        title: &a.title,
        summary: &a.summary,
    }
}

#[derive(Serialize)]
struct ReleaseView<'a> {
    version: &'a str,
    released_on: &'a str,
    link: &'a str,
    id: String,
    notes: Html,
}

/// An entry of the community's FAQ, on its page.
#[derive(Serialize)]
struct FaqView<'a> {
    page: &'a ArticlePage,
    href: String,
    html: Html,
}

#[derive(Serialize)]
struct ArticleBody<'a> {
    page: &'a ArticlePage,
    html: Html,
    /// The stages it is about: (href, name).
    stages: Vec<(String, String)>,
}

/// The article pages, the list of articles and the release notes.
#[derive(Serialize)]
struct KnowledgeView<'a> {
    site: &'a str,
    css: &'a str,
    title: &'a str,
    nav: Vec<NavView<'a>>,
    links: &'a [Link],
    search: Option<&'a str>,
    banner: Option<&'a Release>,
    knowledge: bool,
    faq: bool,
    article: Option<ArticleBody<'a>>,
    /// The community FAQ's entries, in order, and the model's own FAQ
    /// page, if it has one.
    entries: Vec<FaqView<'a>>,
    model_faq: Option<&'a str>,
    articles: Vec<ArticleLink<'a>>,
    /// The list's neighbouring pages, its first entry's position and the
    /// count of all.
    previous: Option<String>,
    next: Option<String>,
    first: usize,
    total: usize,
    releases: Vec<ReleaseView<'a>>,
}

/// The list of articles' page `n` (from 1).
fn articles_href(n: usize) -> String {
    if n <= 1 {
        ARTICLES_PATH.to_string()
    } else {
        format!("articles-{n}.html")
    }
}

fn render_knowledge(
    model: &Model,
    env: &Environment<'_>,
    hrefs: &Hrefs,
    nav: &[NavItem],
    published: &Published,
    only: Option<&Only>,
    emit: &(impl Fn(&str, Vec<u8>) -> Result<(), SiteError> + Sync),
) -> Result<(), SiteError> {
    let contents = contents_href(model, 1);
    let view = |title: &'static str, href: &str| KnowledgeView {
        site: SITE_TITLE,
        css: CSS_PATH,
        title,
        nav: nav_views(nav, href, &contents, Vec::new()),
        links: &published.links,
        search: published.search.as_deref(),
        banner: published.releases.first(),
        knowledge: published.has_articles(),
        faq: published.has_faq(),
        article: None,
        entries: Vec::new(),
        model_faq: None,
        articles: Vec::new(),
        previous: None,
        next: None,
        first: 1,
        total: 0,
        releases: Vec::new(),
    };
    let render = |template: &str, v: &KnowledgeView<'_>, href: &str| {
        let html = env
            .get_template(template)
            .and_then(|t| t.render(minijinja::value::Serde(v)))
            .map_err(|e| SiteError::Template {
                name: template.to_string(),
                source: e,
            })?;
        emit(href, html.into_bytes())
    };
    let chosen: Vec<&ArticlePage> = published
        .articles
        .iter()
        .filter(|a| only.is_none_or(|o| o.articles.contains(&a.slug)))
        .collect();
    for r in par_map(&chosen, |a| {
        let href = article_href(&a.slug);
        let mut v = view("", &href);
        v.title = &a.title;
        v.article = Some(ArticleBody {
            page: a,
            html: md(&a.body, model, hrefs),
            stages: a
                .stages
                .iter()
                .filter_map(|st| model.stages.iter().find(|s| &s.slug == st))
                .filter_map(|s| s.page.map(|p| (hrefs.page(p).to_string(), s.name.clone())))
                .collect(),
        });
        render("article.html", &v, &href)
    }) {
        r?;
    }
    // The community's FAQ, on one page in the programme's order, when it
    // has an entry. (The last entry taken away changes every page's
    // navigation, so the live guide renders everything and drops it.)
    let mut entries: Vec<&ArticlePage> = published
        .articles
        .iter()
        .filter(|a| a.faq.is_some())
        .collect();
    entries.sort_by_key(|a| (a.faq, &a.slug));
    let mut v = view("Questions from the community", FAQ_PATH);
    v.entries = entries
        .into_iter()
        .map(|a| FaqView {
            page: a,
            href: article_href(&a.slug),
            html: md(&a.body, model, hrefs),
        })
        .collect();
    v.model_faq = model
        .pages
        .iter()
        .position(|p| p.slug == "faq")
        .map(|i| hrefs.page(PageId(i)));
    if !v.entries.is_empty() {
        render("community-faq.html", &v, FAQ_PATH)?;
    }
    // The list, a hundred to a page, so no page grows with the articles.
    let listed: Vec<&ArticlePage> = published
        .articles
        .iter()
        .filter(|a| a.faq.is_none())
        .collect();
    let chunks: Vec<&[&ArticlePage]> = listed.chunks(CONTENTS_PER_PAGE).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let href = articles_href(i + 1);
        let mut v = view("Knowledge articles", &href);
        v.articles = chunk.iter().map(|a| article_link(a)).collect();
        v.previous = (i > 0).then(|| articles_href(i));
        v.next = (i + 1 < chunks.len()).then(|| articles_href(i + 2));
        v.first = i * CONTENTS_PER_PAGE + 1;
        v.total = listed.len();
        render("articles.html", &v, &href)?;
    }
    if only.is_none() && !published.releases.is_empty() {
        let mut v = view("Blueprint releases", BLUEPRINT_PATH);
        v.releases = published
            .releases
            .iter()
            .map(|r| ReleaseView {
                version: &r.version,
                released_on: &r.released_on,
                link: &r.link,
                id: format!("version-{}", slugify(&r.version)),
                notes: md(&r.notes, model, hrefs),
            })
            .collect();
        render("blueprint.html", &v, BLUEPRINT_PATH)?;
    }
    Ok(())
}

/// Which page is which kind, looked up once: every per-page question below
/// is then constant time, so the build stays linear in the page count.
struct Shape {
    /// The stage shown on each page, by page index.
    stage_of: Vec<Option<usize>>,
    /// Pages that are neither the overview nor a stage's page.
    others: Vec<PageId>,
    /// Each stage by its name (the first, where names repeat).
    by_name: HashMap<String, usize>,
}

impl Shape {
    fn new(model: &Model) -> Self {
        let mut stage_of = vec![None; model.pages.len()];
        for (i, s) in model.stages.iter().enumerate() {
            if let Some(p) = s.page
                && stage_of[p.0].is_none()
            {
                stage_of[p.0] = Some(i);
            }
        }
        let others = (0..model.pages.len())
            .map(PageId)
            .filter(|&id| model.overview != Some(id) && stage_of[id.0].is_none())
            .collect();
        let mut by_name = HashMap::with_capacity(model.stages.len());
        for (i, s) in model.stages.iter().enumerate() {
            by_name.entry(s.name.clone()).or_insert(i);
        }
        Shape {
            stage_of,
            others,
            by_name,
        }
    }

    /// Whether the navigation lists every stage: only while there are few.
    fn lists_stages(model: &Model) -> bool {
        model.stages.len() <= MAX_NAV_STAGES
    }

    /// Whether the site needs contents pages: it has no overview to start
    /// from, or more pages than the navigation lists.
    fn needs_contents(&self, model: &Model) -> bool {
        model.overview.is_none() || self.others.len() > MAX_NAV_OTHERS || !Self::lists_stages(model)
    }
}

/// Entries on one contents page; past this, the contents run on to
/// `contents-2.html` and so on, so no page grows with the site.
const CONTENTS_PER_PAGE: usize = 100;

/// The `n`th contents page (from 1): the first is `index.html` when there is
/// no overview, `contents.html` otherwise.
fn contents_href(model: &Model, n: usize) -> String {
    match n {
        1 if model.overview.is_none() => "index.html".into(),
        1 => CONTENTS.into(),
        n => format!("contents-{n}.html"),
    }
}

/// Links between contents pages: previous, next, and a few page numbers
/// around this one (never all of them).
#[derive(Serialize)]
struct Pager {
    page: usize,
    pages: usize,
    previous: Option<String>,
    next: Option<String>,
    numbers: Vec<PagerLink>,
}

#[derive(Serialize)]
struct PagerLink {
    number: usize,
    href: String,
    current: bool,
    /// A gap before this number ("…").
    gap: bool,
}

fn pager(model: &Model, n: usize, pages: usize) -> Option<Pager> {
    if pages <= 1 {
        return None;
    }
    let mut shown: Vec<usize> = [
        1,
        n.saturating_sub(2),
        n.saturating_sub(1),
        n,
        n + 1,
        n + 2,
        pages,
    ]
    .into_iter()
    .filter(|&k| (1..=pages).contains(&k))
    .collect();
    shown.sort_unstable();
    shown.dedup();
    let mut last = 0;
    let numbers = shown
        .into_iter()
        .map(|k| {
            let link = PagerLink {
                number: k,
                href: contents_href(model, k),
                current: k == n,
                gap: k > last + 1,
            };
            last = k;
            link
        })
        .collect();
    Some(Pager {
        page: n,
        pages,
        previous: (n > 1).then(|| contents_href(model, n - 1)),
        next: (n < pages).then(|| contents_href(model, n + 1)),
        numbers,
    })
}

const SITE_TITLE: &str = "Protected Utility engagement model";

/// A page's `layout` picks its template; `engagement` is the default, and an
/// unknown layout falls back to it.
fn template_for(layout: Option<&str>) -> &'static str {
    match layout {
        Some("page") => "page.html",
        _ => "engagement.html",
    }
}

#[derive(Debug, Clone, Serialize)]
struct NavItem {
    title: String,
    href: String,
    /// "Stage 2" and so on, for stages.
    label: Option<String>,
    /// The "All pages" link: on each page it leads to the contents page
    /// that lists that page.
    #[serde(skip)]
    contents: bool,
}

/// Stages and other pages (the FAQ and the like) are listed in the side
/// navigation only while they are few; past that, one "All pages" link leads
/// to the contents pages, so the navigation stays usable and each page stays
/// the same size however many pages the site has.
const MAX_NAV_STAGES: usize = 12;
const MAX_NAV_OTHERS: usize = 12;
const CONTENTS: &str = "contents.html";
const ALL_PAGES: &str = "All pages";

fn title_of(model: &Model, id: PageId) -> String {
    let p = model.page(id);
    if p.title.is_empty() {
        p.slug.clone()
    } else {
        p.title.clone()
    }
}

fn nav(model: &Model, shape: &Shape, hrefs: &Hrefs) -> Vec<NavItem> {
    let mut out = Vec::new();
    match model.overview {
        Some(o) => out.push(NavItem {
            title: "Overview".into(),
            href: hrefs.page(o).into(),
            label: None,
            contents: false,
        }),
        // Without an overview the first contents page is the way in.
        None => out.push(NavItem {
            title: ALL_PAGES.into(),
            href: contents_href(model, 1),
            label: None,
            contents: true,
        }),
    }
    if Shape::lists_stages(model) {
        for s in &model.stages {
            if let Some(p) = s.page {
                out.push(NavItem {
                    title: s.name.clone(),
                    href: hrefs.page(p).into(),
                    label: Some(format!("Stage {}", s.number)),
                    contents: false,
                });
            }
        }
    }
    if Shape::lists_stages(model) && shape.others.len() <= MAX_NAV_OTHERS {
        out.extend(shape.others.iter().map(|&id| NavItem {
            title: title_of(model, id),
            href: hrefs.page(id).into(),
            label: None,
            contents: false,
        }));
    } else if model.overview.is_some() {
        out.push(NavItem {
            title: ALL_PAGES.into(),
            href: contents_href(model, 1),
            label: None,
            contents: true,
        });
    }
    out
}

/// When the navigation cannot list every stage: on a stage's page, that
/// stage and up to two either side.
fn near_stages<'a>(
    model: &'a Model,
    shape: &Shape,
    hrefs: &'a Hrefs,
    id: PageId,
) -> Vec<NavView<'a>> {
    if Shape::lists_stages(model) {
        return Vec::new();
    }
    let Some(i) = shape.stage_of[id.0] else {
        return Vec::new();
    };
    let last = model.stages.len() - 1;
    model.stages[i.saturating_sub(2)..=(i + 2).min(last)]
        .iter()
        .filter_map(|s| {
            s.page.map(|p| NavView {
                title: Cow::Borrowed(&s.name),
                href: Cow::Borrowed(hrefs.page(p)),
                label: Some(Cow::Owned(format!("Stage {}", s.number))),
                current: p == id,
            })
        })
        .collect()
}

/// Every page, in order, stages labelled, for the contents pages.
fn all_pages(model: &Model, shape: &Shape, hrefs: &Hrefs) -> Vec<NavItem> {
    (0..model.pages.len())
        .map(PageId)
        .map(|id| NavItem {
            title: title_of(model, id),
            href: hrefs.page(id).into(),
            label: shape.stage_of[id.0].map(|i| format!("Stage {}", model.stages[i].number)),
            contents: false,
        })
        .collect()
}

#[derive(Serialize)]
struct ContentsView<'a> {
    site: &'a str,
    css: &'a str,
    nav: Vec<NavView<'a>>,
    pages: &'a [NavItem],
    has_overview: bool,
    links: &'a [Link],
    search: Option<&'a str>,
    banner: Option<&'a Release>,
    knowledge: bool,
    faq: bool,
    /// How many stages the model has.
    stages: usize,
    /// The position of this page's first entry, and how many there are.
    first: usize,
    total: usize,
    pager: Option<Pager>,
}

#[derive(Serialize)]
struct PageView<'a> {
    site: &'a str,
    css: &'a str,
    title: &'a str,
    href: String,
    layout: &'a str,
    /// `YYYY-MM-DD` and "22 November 2026".
    modified: Option<(String, String)>,
    intro: Html,
    timeline: Vec<ItemView>,
    sections: Vec<SectionView>,
    nav: Vec<NavView<'a>>,
    toc: Vec<TocEntry>,
    visual: Option<VisualView>,
    /// "Stage 3 of 5" on stage pages.
    stage: Option<String>,
    /// "4 to 8 weeks" on the page of a stage with a timebox.
    timebox: Option<String>,
    links: &'a [Link],
    search: Option<&'a str>,
    /// "Blueprint version X, released DATE" on every page.
    banner: Option<&'a Release>,
    /// Whether the site has knowledge articles (a link to their list).
    knowledge: bool,
    /// Whether the community's FAQ has entries (a link to it).
    faq: bool,
    /// On a stage's page: the articles tagged to it (at most
    /// `ARTICLES_LISTED`), and whether there are more.
    articles: Vec<ArticleLink<'a>>,
    more_articles: bool,
    /// The overview's "Request support" button's target.
    start: Option<&'a str>,
    /// On a stage page with tailored steps: the journey for each type.
    types: Vec<TypeLink>,
    /// The type this page is for, and the steps it folds away.
    for_type: Option<&'static str>,
    folded: Vec<Folded>,
}

/// The navigation as shown on the page at `href`, with that page marked.
/// `contents` is the contents page that lists this page, where "All pages"
/// leads; `near`, the stages listed around this one when the navigation
/// cannot list them all (this stage and two either side: still bounded).
fn nav_views<'a>(
    nav: &'a [NavItem],
    href: &str,
    contents: &str,
    near: Vec<NavView<'a>>,
) -> Vec<NavView<'a>> {
    let mut out: Vec<NavView<'a>> = nav
        .iter()
        .map(|item| {
            let link = if item.contents {
                Cow::Owned(contents.to_string())
            } else {
                Cow::Borrowed(item.href.as_str())
            };
            NavView {
                current: link == href,
                title: Cow::Borrowed(&item.title),
                label: item.label.as_deref().map(Cow::Borrowed),
                href: link,
            }
        })
        .collect();
    let at = out.len().min(1);
    out.splice(at..at, near);
    out
}

#[derive(Serialize)]
struct NavView<'a> {
    title: Cow<'a, str>,
    href: Cow<'a, str>,
    label: Option<Cow<'a, str>>,
    current: bool,
}

#[derive(Serialize)]
struct ItemView {
    id: String,
    /// `step`, `decision`, `next_steps`, `stage` or `other`.
    kind: &'static str,
    /// The heading as shown.
    heading: String,
    body: Html,
    intro: Html,
    options: Vec<Html>,
    outro: Html,
    href: Option<String>,
    /// The start button a step's `action:` offers, where it can lead.
    start: Option<Link>,
    /// How the step is tailored: "Optional for Lean", "Not needed for
    /// Aligned: why" (every type on the page for all; the reader's one
    /// on a type's page).
    marks: Vec<String>,
}

/// A link to a stage's journey for one agency type (or for all).
#[derive(Serialize)]
struct TypeLink {
    label: &'static str,
    href: String,
    current: bool,
}

/// A step that does not apply to the type a page is for, and why.
#[derive(Serialize)]
struct Folded {
    heading: String,
    reason: String,
}

#[derive(Serialize)]
struct SectionView {
    id: String,
    heading: String,
    html: Html,
}

#[derive(Serialize)]
struct TocEntry {
    id: String,
    text: String,
}

#[derive(Serialize)]
struct VisualView {
    svg: Html,
    href: &'static str,
    stages: Vec<visual::VisualStage>,
    /// Stages not drawn, and where they are listed.
    more: usize,
    contents: String,
}

/// A heading as shown, with its `id`, listed in the page's contents. A
/// heading that shows nothing (empty, or only zero-width characters) is
/// shown as none and not listed: never an empty heading or link.
fn listed_heading(text: &str, ids: &mut Ids, toc: &mut Vec<TocEntry>) -> (String, String) {
    let heading = if is_blank(text) {
        String::new()
    } else {
        text.to_string()
    };
    let id = ids.make(&heading);
    if !heading.is_empty() {
        toc.push(TocEntry {
            id: id.clone(),
            text: heading.clone(),
        });
    }
    (heading, id)
}

/// Unique, readable `id`s for headings on one page.
#[derive(Default)]
struct Ids(HashMap<String, usize>);

impl Ids {
    fn make(&mut self, text: &str) -> String {
        let base = match slugify(text) {
            s if s.is_empty() => "section".to_string(),
            s if s.starts_with(|c: char| c.is_ascii_digit()) => format!("s-{s}"),
            s => s,
        };
        let n = self.0.entry(base.clone()).or_insert(0);
        *n += 1;
        if *n == 1 { base } else { format!("{base}-{n}") }
    }
}

/// HTML we rendered ourselves, marked safe for the templates: escaping it
/// again would show tags as text. Everything else stays auto-escaped.
type Html = minijinja::Value;

fn html(s: String) -> Html {
    minijinja::Value::from_safe_string(s)
}

fn md(text: &str, model: &Model, hrefs: &Hrefs) -> Html {
    if text.is_empty() {
        return html(String::new());
    }
    let mut out = String::new();
    markdown::render(text, model, hrefs, &mut out);
    html(out)
}

fn choices(c: &Choices, model: &Model, hrefs: &Hrefs) -> (Html, Vec<Html>, Html) {
    (
        md(&c.intro, model, hrefs),
        c.options
            .iter()
            .map(|o| html(markdown::render_inline(o.markdown(), model, hrefs)))
            .collect(),
        md(&c.outro, model, hrefs),
    )
}

/// A stage page's name for the journey of one type:
/// `discovery--for-lean.html`.
pub fn type_href(page: &str, kind: AgencyType) -> String {
    let stem = page.strip_suffix(".html").unwrap_or(page);
    format!("{stem}--for-{}.html", kind.slug().replace('_', "-"))
}

/// Whether page `id` is a stage's page with a step tailored to some type,
/// and so has a journey per type.
fn tailored(model: &Model, shape: &Shape, id: PageId) -> bool {
    shape.stage_of[id.0].is_some()
        && model
            .page(id)
            .timeline
            .iter()
            .any(|t| matches!(t.kind, ItemKind::Step { .. }) && t.tailoring.is_some())
}

#[allow(clippy::too_many_arguments)]
fn page_view<'a>(
    model: &'a Model,
    shape: &Shape,
    id: PageId,
    hrefs: &'a Hrefs,
    nav: &'a [NavItem],
    dates: &Dates,
    published: &'a Published,
    for_type: Option<AgencyType>,
) -> PageView<'a> {
    let p = model.page(id);
    let mut ids = Ids::default();
    let mut toc = Vec::new();
    let stage = shape.stage_of[id.0].map(|i| &model.stages[i]);
    let mut folded = Vec::new();
    let timeline = p
        .timeline
        .iter()
        .filter_map(|t| {
            let tailoring = match (&t.kind, &t.tailoring) {
                (ItemKind::Step { .. }, Some(v)) => Tailoring::from_front_matter(v).0,
                _ => Tailoring::default(),
            };
            let marks = match for_type {
                None => {
                    let mut m: Vec<String> = tailoring
                        .optional
                        .iter()
                        .map(|k| format!("Optional for {}", k.label()))
                        .collect();
                    m.extend(
                        tailoring
                            .not_applicable
                            .iter()
                            .map(|(k, why)| format!("Not needed for {}: {why}", k.label())),
                    );
                    m
                }
                Some(k) => match tailoring.for_type(Some(k)) {
                    Relevance::Essential => Vec::new(),
                    Relevance::Optional => vec![format!("Optional for a {} agency", k.label())],
                    Relevance::NotApplicable { reason } => {
                        folded.push(Folded {
                            heading: t.title.clone(),
                            reason,
                        });
                        return None;
                    }
                },
            };
            let kind = t.kind.name();
            // Titles are shown as written ("Step 1 – Execution plan",
            // "Decision point - …"); the panel's style marks the kind.
            // An item without a title (the lint's `title-missing`) has none.
            let (heading, item_id) = listed_heading(&t.title, &mut ids, &mut toc);
            let (intro, options, outro) = match &t.kind {
                ItemKind::Decision(d) => choices(&d.choices, model, hrefs),
                ItemKind::NextSteps(c) => choices(c, model, hrefs),
                _ => (html(String::new()), Vec::new(), html(String::new())),
            };
            let body = match &t.kind {
                ItemKind::Decision(_) | ItemKind::NextSteps(_) => html(String::new()),
                _ => md(t.body.as_deref().unwrap_or(""), model, hrefs),
            };
            let href = match &t.kind {
                ItemKind::Stage { name, .. } => shape
                    .by_name
                    .get(name.as_str())
                    .and_then(|&i| model.stages[i].page)
                    .map(|p| hrefs.page(p).to_string()),
                _ => None,
            };
            let start = match (&t.kind, t.action.as_deref().and_then(StepAction::parse)) {
                (ItemKind::Step { .. }, Some(StepAction::RequestSupport)) => {
                    published.request_support.as_ref().map(|href| Link {
                        text: "Request support".into(),
                        href: href.clone(),
                    })
                }
                _ => None,
            };
            Some(ItemView {
                id: item_id,
                kind,
                heading,
                body,
                intro,
                options,
                outro,
                href,
                start,
                marks,
            })
        })
        .collect();
    let sections = p
        .sections
        .iter()
        .filter(|s| !s.markdown().is_empty())
        .map(|s| {
            // `## ` alone (the lint's `heading-empty`) is shown without one.
            let (heading, sid) = listed_heading(&s.heading, &mut ids, &mut toc);
            SectionView {
                id: sid,
                heading,
                html: md(s.markdown(), model, hrefs),
            }
        })
        .collect();
    let visual = (model.overview == Some(id)).then(|| {
        let drawn = visual::text(model);
        VisualView {
            svg: html(visual::svg(model)),
            href: VISUAL_PATH,
            stages: drawn.stages,
            more: drawn.more,
            contents: contents_href(model, 1),
        }
    });
    let general = hrefs.page(id);
    let typed = for_type.map(|k| type_href(general, k));
    let types = if tailored(model, shape, id) {
        std::iter::once(TypeLink {
            label: "Every agency",
            href: general.to_string(),
            current: for_type.is_none(),
        })
        .chain(AgencyType::ALL.into_iter().map(|k| TypeLink {
            label: k.label(),
            href: type_href(general, k),
            current: for_type == Some(k),
        }))
        .collect()
    } else {
        Vec::new()
    };
    let tagged: Vec<&ArticlePage> = match stage {
        Some(st) => published
            .articles
            .iter()
            .filter(|a| a.stages.contains(&st.slug))
            .collect(),
        None => Vec::new(),
    };
    if !tagged.is_empty() {
        toc.push(TocEntry {
            id: "stage-articles".into(),
            text: "Knowledge articles about this stage".into(),
        });
    }
    PageView {
        site: SITE_TITLE,
        css: CSS_PATH,
        title: if p.title.is_empty() {
            &p.slug
        } else {
            &p.title
        },
        href: typed.unwrap_or_else(|| general.to_string()),
        layout: p.layout.as_deref().unwrap_or("engagement"),
        modified: dates.get(id).map(|d| (d.to_string(), dates::display(d))),
        intro: md(&p.intro, model, hrefs),
        timeline,
        sections,
        nav: nav_views(
            nav,
            general,
            &contents_href(model, id.0 / CONTENTS_PER_PAGE + 1),
            near_stages(model, shape, hrefs, id),
        ),
        toc,
        visual,
        stage: stage.map(|s| format!("Stage {} of {}", s.number, model.stages.len())),
        timebox: stage.and_then(|s| s.timebox).map(|t| t.describe()),
        links: &published.links,
        search: published.search.as_deref(),
        banner: published.releases.first(),
        knowledge: published.has_articles(),
        faq: published.has_faq(),
        articles: tagged
            .iter()
            .take(ARTICLES_LISTED)
            .map(|a| article_link(a))
            .collect(),
        more_articles: tagged.len() > ARTICLES_LISTED,
        // The overview's way in: the request form, when there is one.
        start: published
            .request_support
            .as_deref()
            .filter(|_| model.overview == Some(id)),
        types,
        for_type: for_type.map(AgencyType::label),
        folded,
    }
}
