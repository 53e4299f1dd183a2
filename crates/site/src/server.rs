//! The live guidance site under `/guide/`.
//!
//! Pages are rendered once, kept in memory and served as they are; when the
//! content folder (or the template folder) changes, the whole site is rebuilt
//! in the background and swapped in at once, so a reader never sees a
//! half-built site. Rendering 10,000 pages takes about a second, so a
//! change of content rebuilds everything. A change of what is published
//! from the database (an article) renders only the pages it touches
//! ([`Guide::publish`]); a new blueprint release, which every page names,
//! renders all of them.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::{Built, Dates, Only, Published};

/// Why the site could not be built: the loader's own error (loading the
/// model), or rendering's, kept whole.
pub type BuildError = Box<dyn std::error::Error + Send + Sync>;

/// What the guide is rendered from: the model as loaded, its pages' dates,
/// and a folder of templates that replace the built-in ones.
pub struct Source {
    pub model: waymark_model::Model,
    pub dates: Dates,
    pub templates: Option<PathBuf>,
    /// Articles kept as files in the content folder (`_articles/`); a
    /// file wins over a database article at the same address.
    pub articles: Vec<crate::ArticlePage>,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("pages", &self.model.pages.len())
            .finish_non_exhaustive()
    }
}

/// Loads the guide's source afresh (the content folder may have changed).
pub type Loader = dyn Fn() -> Result<Source, BuildError> + Send + Sync;

struct File {
    bytes: Bytes,
    content_type: &'static str,
}

/// The rendered guidance site, ready to serve.
pub struct Guide {
    files: RwLock<Arc<HashMap<String, File>>>,
    loader: Box<Loader>,
    /// What the served files were rendered from. Held while rendering, so
    /// two renders never interleave.
    state: Mutex<(Arc<Source>, Arc<Published>)>,
}

impl std::fmt::Debug for Guide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guide").finish_non_exhaustive()
    }
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, e)| e) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

fn file(bytes: Vec<u8>, name: &str) -> File {
    File {
        bytes: Bytes::from(bytes),
        content_type: content_type(name),
    }
}

fn index(built: Built) -> HashMap<String, File> {
    built
        .files
        .into_iter()
        .map(|(name, bytes)| {
            let f = file(bytes, &name);
            (name, f)
        })
        .collect()
}

fn render_all(src: &Source, published: &Published) -> Result<Built, BuildError> {
    Ok(crate::build(
        &src.model,
        &src.dates,
        src.templates.as_deref(),
        &published.with_files(&src.articles),
    )?)
}

impl Guide {
    /// Loads and renders once; fails if that fails.
    pub fn new(loader: Box<Loader>, published: Published) -> Result<Self, BuildError> {
        let src = Arc::new(loader()?);
        let published = Arc::new(published);
        let files = index(render_all(&src, &published)?);
        Ok(Guide {
            files: RwLock::new(Arc::new(files)),
            loader,
            state: Mutex::new((src, published)),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, (Arc<Source>, Arc<Published>)> {
        match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn swap(&self, files: HashMap<String, File>) {
        let files = Arc::new(files);
        match self.files.write() {
            Ok(mut guard) => *guard = files,
            Err(poisoned) => *poisoned.into_inner() = files,
        }
    }

    fn current(&self) -> Arc<HashMap<String, File>> {
        match self.files.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Loads the source again, renders everything and swaps it in. On
    /// failure the old site stays up.
    pub fn reload(&self) -> Result<(), BuildError> {
        let mut state = self.state();
        let src = Arc::new((self.loader)()?);
        let files = index(render_all(&src, &state.1)?);
        state.0 = src;
        self.swap(files);
        Ok(())
    }

    /// Shows `published` instead of what was published before. With
    /// `changed` (the slugs of the articles that changed), only the pages
    /// they touch are rendered again (`Only::articles`); without, the whole
    /// site (a new blueprint release shows on every page). Returns how many
    /// files were rendered.
    pub fn publish(
        &self,
        published: Published,
        changed: Option<&[String]>,
    ) -> Result<usize, BuildError> {
        let mut state = self.state();
        let src = Arc::clone(&state.0);
        let published = Arc::new(published);
        // The first article or FAQ entry, or the last one gone, changes
        // every page's navigation (its "Knowledge articles" and "Questions
        // from the community" links).
        let (before, after) = (
            state.1.with_files(&src.articles),
            published.with_files(&src.articles),
        );
        let every_page =
            before.has_articles() != after.has_articles() || before.has_faq() != after.has_faq();
        let (files, rendered) = match changed.filter(|_| !every_page) {
            None => {
                let built = render_all(&src, &published)?;
                let n = built.files.len();
                (index(built), n)
            }
            Some(slugs) => {
                let only = Only::articles(&src.model, &before, &after, slugs);
                let built = crate::render_some(
                    &src.model,
                    &src.dates,
                    src.templates.as_deref(),
                    &after,
                    &only,
                )?;
                let n = built.files.len();
                let mut files: HashMap<String, File> = self
                    .current()
                    .iter()
                    .map(|(k, f)| {
                        (
                            k.clone(),
                            File {
                                bytes: f.bytes.clone(),
                                content_type: f.content_type,
                            },
                        )
                    })
                    .collect();
                // An article no longer published is no longer served.
                for slug in slugs {
                    if !after.articles.iter().any(|a| &a.slug == slug) {
                        files.remove(&crate::article_href(slug));
                    }
                }
                files.extend(index(built));
                (files, n)
            }
        };
        state.1 = published;
        self.swap(files);
        Ok(rendered)
    }

    /// The model the guide shows now.
    pub fn source(&self) -> Arc<Source> {
        Arc::clone(&self.state().0)
    }

    fn get(&self, name: &str) -> Option<(Bytes, &'static str)> {
        self.current()
            .get(name)
            .map(|f| (f.bytes.clone(), f.content_type))
    }
}

/// Routes for the guidance site: `/guide/…`, with `/` sending readers there.
pub fn router(guide: Arc<Guide>) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/guide/") }))
        .route("/guide", get(|| async { Redirect::permanent("/guide/") }))
        .route("/guide/", get(guide_index))
        .route("/guide/{*path}", get(guide_file))
        .with_state(guide)
        // Every answer, redirects and refused methods too, carries the
        // security headers; a page's own are the same.
        .layer(axum::middleware::map_response(
            |mut r: Response| async move {
                if !r.headers().contains_key(header::CONTENT_SECURITY_POLICY) {
                    security_headers(r.headers_mut());
                }
                r
            },
        ))
}

async fn guide_index(State(guide): State<Arc<Guide>>) -> Response {
    serve_file(&guide, "index.html")
}

async fn guide_file(State(guide): State<Arc<Guide>>, UrlPath(path): UrlPath<String>) -> Response {
    serve_file(&guide, &path)
}

fn serve_file(guide: &Guide, name: &str) -> Response {
    match guide.get(name) {
        Some((bytes, ct)) => {
            let mut r = Response::new(Body::from(bytes));
            let h = r.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            security_headers(h);
            r
        }
        None => {
            let body = "<!doctype html><html lang=\"en-AU\"><head><meta charset=\"utf-8\">\
                 <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Page not found</title>\
                 <link rel=\"stylesheet\" href=\"/guide/assets/site.css\"></head><body><main class=\"container\">\
                 <h1>Page not found</h1><p>There is no page at this address. \
                 <a href=\"/guide/\">Go to the start of the guide</a>.</p></main></body></html>".to_string();
            let mut r = (StatusCode::NOT_FOUND, body).into_response();
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            security_headers(h);
            r
        }
    }
}

fn security_headers(h: &mut axum::http::HeaderMap) {
    // No script at all; the model visual carries its own small <style>.
    with_policy(
        h,
        "default-src 'self'; script-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
    );
}

/// The headers every HTML response carries, with its Content-Security-Policy.
pub fn with_policy(h: &mut axum::http::HeaderMap, csp: &'static str) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
}

/// A cheap summary of a folder tree (names, sizes, modification times), to
/// notice edits without reading every file.
pub fn fingerprint(paths: &[PathBuf]) -> u64 {
    fn walk(p: &Path, h: &mut DefaultHasher, depth: usize) {
        let Ok(meta) = std::fs::metadata(p) else {
            0u8.hash(h);
            return;
        };
        p.hash(h);
        meta.len().hash(h);
        if let Ok(m) = meta.modified() {
            m.hash(h);
        }
        if meta.is_dir()
            && depth < 16
            && let Ok(rd) = std::fs::read_dir(p)
        {
            let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
            entries.sort();
            for e in entries {
                walk(&e, h, depth + 1);
            }
        }
    }
    let mut h = DefaultHasher::new();
    for p in paths {
        walk(p, &mut h, 0);
    }
    h.finish()
}

/// Rebuilds the guide whenever `paths` change, checking every `every`.
pub fn watch(guide: Arc<Guide>, paths: Vec<PathBuf>, every: Duration) {
    if paths.is_empty() {
        return;
    }
    tokio::spawn(async move {
        let mut last = fingerprint(&paths);
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let (g, p) = (Arc::clone(&guide), paths.clone());
            let Ok(Some(now)) = tokio::task::spawn_blocking(move || {
                let now = fingerprint(&p);
                (now != last).then(|| {
                    if let Err(e) = g.reload() {
                        tracing::error!(
                            "guide: content changed but the site could not be rebuilt: {e}"
                        );
                    }
                    now
                })
            })
            .await
            else {
                continue;
            };
            last = now;
        }
    });
}
