//! The live guidance site under `/guide/`.
//!
//! Pages are rendered once, kept in memory and served as they are; when the
//! content folder (or the template folder) changes, the whole site is rebuilt
//! in the background and swapped in at once, so a reader never sees a
//! half-built site. Rendering 10,000 pages takes well under a second, so a
//! full rebuild is simpler and safer than tracking which pages changed.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::Built;

/// Why the site could not be built: the builder's own error (loading the
/// model, rendering), kept whole.
pub type BuildError = Box<dyn std::error::Error + Send + Sync>;

/// Builds the site afresh: loads the model, works out dates, renders.
pub type Builder = dyn Fn() -> Result<Built, BuildError> + Send + Sync;

struct File {
    bytes: Bytes,
    content_type: &'static str,
}

/// The rendered guidance site, ready to serve.
pub struct Guide {
    files: RwLock<Arc<HashMap<String, File>>>,
    builder: Box<Builder>,
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

fn index(built: Built) -> HashMap<String, File> {
    built
        .files
        .into_iter()
        .map(|(name, bytes)| {
            let content_type = content_type(&name);
            (
                name,
                File {
                    bytes: Bytes::from(bytes),
                    content_type,
                },
            )
        })
        .collect()
}

impl Guide {
    /// Builds the site once; fails if the first build fails.
    pub fn new(builder: Box<Builder>) -> Result<Self, BuildError> {
        let files = index(builder()?);
        Ok(Guide {
            files: RwLock::new(Arc::new(files)),
            builder,
        })
    }

    /// Rebuilds and swaps the site in. On failure the old site stays up.
    pub fn reload(&self) -> Result<(), BuildError> {
        let files = Arc::new(index((self.builder)()?));
        match self.files.write() {
            Ok(mut guard) => *guard = files,
            Err(poisoned) => *poisoned.into_inner() = files,
        }
        Ok(())
    }

    fn get(&self, name: &str) -> Option<(Bytes, &'static str)> {
        let files = match self.files.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        };
        files.get(name).map(|f| (f.bytes.clone(), f.content_type))
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
