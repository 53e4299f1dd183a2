//! One search on every page: the guide, articles, and, for signed-in
//! people, the records they may see. The store applies the core's reach;
//! this page only reads the query and lays the groups out.

use std::sync::Arc;

use axum::extract::{Query as UrlQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use waymark_core::search::{Kind, MAX_PAGE, PAGE_SIZE, Query};
use waymark_store::{Group, Hit, Piece};

use super::auth::{SignedIn, UserView, encode};
use super::{AppState, PageError, view_page};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SearchParams {
    pub q: String,
    pub kind: String,
    pub page: String,
}

/// What a search asks for, read from its parameters: the words, one kind
/// or all, and a page (1 when absent or out of range).
pub fn read(params: &SearchParams) -> (Query, Option<Kind>, u32) {
    let kind = Kind::parse(params.kind.trim());
    let page = params
        .page
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|p| (1..=MAX_PAGE).contains(p))
        .unwrap_or(1);
    (Query::parse(&params.q), kind, page)
}

/// Where a result is read.
pub fn href(hit: &Hit) -> String {
    let r = &hit.reference;
    match hit.kind {
        Kind::Guide if r == "index.html" => "/guide/".to_string(),
        Kind::Guide => format!("/guide/{r}"),
        Kind::Article => format!("/guide/{}", waymark_site::article_href(r)),
        Kind::Engagement => format!("/engagements/{r}"),
        Kind::Agency => format!("/agencies/{r}"),
        Kind::Enquiry => format!("/enquiries/{r}"),
        Kind::Question => format!("/community/q/{r}"),
    }
}

#[derive(Serialize)]
struct HitView<'a> {
    href: String,
    title: &'a str,
    snippet: &'a [Piece],
}

#[derive(Serialize)]
struct GroupView<'a> {
    kind: &'static str,
    label: &'static str,
    /// "12 results", "more than 1,000 results".
    count: String,
    /// More match than are ranked: a hint to add a word.
    capped: bool,
    hits: Vec<HitView<'a>>,
    /// "All N results" when only the first few are shown.
    more: Option<String>,
}

/// How many match, in words.
fn count(g: &Group) -> String {
    match (g.exact, g.total) {
        (false, n) => format!("more than {} results", thousands(n)),
        (true, 1) => "1 result".to_string(),
        (true, n) => format!("{} results", thousands(n)),
    }
}

/// 1000 as "1,000".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[derive(Serialize)]
struct PageLink {
    href: String,
    text: String,
}

#[derive(Serialize)]
struct SearchPage<'a> {
    title: String,
    user: Option<UserView>,
    q: &'a str,
    /// The words searched for, as understood.
    understood: String,
    searched: bool,
    groups: Vec<GroupView<'a>>,
    /// One kind chosen: a way back to every kind.
    all: Option<String>,
    previous: Option<PageLink>,
    next: Option<PageLink>,
    signed_in: bool,
    /// How many matches are ranked at most, as shown.
    ranked: String,
}

fn link(q: &str, kind: Option<Kind>, page: u32) -> String {
    let mut s = format!("/search?q={}", encode(q));
    if let Some(k) = kind {
        s.push_str("&kind=");
        s.push_str(k.as_str());
    }
    if page > 1 {
        s.push_str(&format!("&page={page}"));
    }
    s
}

pub async fn search(
    State(s): State<Arc<AppState>>,
    who: Option<SignedIn>,
    UrlQuery(params): UrlQuery<SearchParams>,
) -> Result<Response, PageError> {
    let (query, kind, page) = read(&params);
    let actor = who.as_ref().map(|w| &w.actor);
    let groups: Vec<Group> = s.store.search(actor, &query, kind, page).await?;
    // What was typed, shown back in the box (bounded like the query, and
    // without control characters: a NUL is not text HTML may hold).
    let q: String = params
        .q
        .chars()
        .take(waymark_core::search::MAX_QUERY_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let views = groups
        .iter()
        .map(|g| GroupView {
            kind: g.kind.as_str(),
            label: g.kind.label(),
            count: count(g),
            capped: !g.exact,
            hits: g
                .hits
                .iter()
                .map(|h| HitView {
                    href: href(h),
                    title: &h.title,
                    snippet: &h.snippet,
                })
                .collect(),
            more: (kind.is_none() && g.total > g.hits.len() as u64)
                .then(|| link(&q, Some(g.kind), 1)),
        })
        .collect();
    let total = groups.first().map_or(0, |g| g.total);
    let pages = total
        .div_ceil(u64::from(PAGE_SIZE))
        .min(u64::from(MAX_PAGE)) as u32;
    let (previous, next) = match kind {
        Some(k) => (
            // Past the last page, back to the last.
            (page > 1 && pages > 0).then(|| {
                let back = (page - 1).min(pages);
                let which = if back < page - 1 { "Last" } else { "Previous" };
                PageLink {
                    href: link(&q, Some(k), back),
                    text: format!("{which} page ({back} of {pages})"),
                }
            }),
            (page < pages).then(|| PageLink {
                href: link(&q, Some(k), page + 1),
                text: format!("Next page ({} of {pages})", page + 1),
            }),
        ),
        None => (None, None),
    };
    let title = if query.is_empty() {
        "Search".to_string()
    } else {
        format!("Search: {}", query.describe())
    };
    let view = SearchPage {
        title,
        user: who.as_ref().map(SignedIn::view),
        understood: query.describe(),
        searched: !query.is_empty(),
        groups: views,
        all: kind.map(|_| link(&q, None, 1)),
        previous,
        next,
        signed_in: who.is_some(),
        ranked: thousands(u64::from(waymark_core::search::RANKED)),
        q: &q,
    };
    view_page(&s, StatusCode::OK, "search.html", &view)
}
