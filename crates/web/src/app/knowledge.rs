//! Knowledge articles and blueprint releases: the programme writes and
//! publishes them here; readers see them on the guide, see what changed
//! between versions, and say whether an article helped. Every rule is
//! `waymark_core::knowledge`'s; the store asks it inside each write.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use waymark_core::knowledge::{
    self, ArticleAction, ArticleInput, ArticleStatus, Release, link_problems,
};
use waymark_core::{DomainError, PersonId, today};
use waymark_site::{ArticlePage, Published};
use waymark_store::{ArticleRow, FeedbackSummary, Store, StoreError, now};

use super::auth::{SignedIn, UserView};
use super::{AppState, FieldError, PageError, field_error, form_error, view_page};
use crate::actions::ArticleError;

/// What the guide shows from the database, at `base` (empty beside the
/// workspace; the public address for an export; `None`: an export that
/// links nowhere).
pub async fn published(store: &Store, base: Option<&str>) -> Result<Published, StoreError> {
    let mut p = match base {
        Some(b) => super::guide_links(b),
        None => Published::default(),
    };
    p.articles = store
        .published_articles()
        .await?
        .into_iter()
        .map(|a| {
            let v = a.version;
            let on = waymark_site::long_date(&today(v.published_at));
            let mut page = article_page(&a.slug, &v.title, &v.summary, &v.body, &v.tags, on, base);
            page.version = v.number;
            page.faq = a.faq.map(|f| f.position);
            page.asked = a
                .faq
                .and_then(|f| base.map(|b| format!("{b}/community/q/{}", f.question)));
            page
        })
        .collect();
    p.releases = store
        .releases()
        .await?
        .into_iter()
        .map(|r| waymark_site::Release {
            released_on: waymark_site::long_date(&r.released_on),
            version: r.version,
            notes: r.notes,
            link: r.link,
        })
        .collect();
    Ok(p)
}

/// An article as the guide shows it; `base` as for [`published`].
fn article_page(
    slug: &str,
    title: &str,
    summary: &str,
    body: &str,
    tags: &[knowledge::Tag],
    published_on: String,
    base: Option<&str>,
) -> ArticlePage {
    let mut stages: Vec<String> = Vec::new();
    for s in tags.iter().filter_map(knowledge::Tag::stage) {
        if !stages.iter().any(|o| o == s) {
            stages.push(s.to_string());
        }
    }
    ArticlePage {
        changes: base.map(|b| format!("{b}/knowledge/{slug}/changes")),
        feedback: base.map(|b| format!("{b}/knowledge/{slug}/feedback")),
        stages,
        tags: tags.iter().map(tag_label).collect(),
        slug: slug.to_string(),
        title: title.to_string(),
        summary: summary.to_string(),
        body: body.to_string(),
        version: 1,
        published_on,
        faq: None,
        asked: None,
    }
}

/// Articles kept as files in the content folder (`_articles/*.md`): each
/// file's (path, text, `YYYY-MM-DD` it last changed). Returns those that
/// read well, and a sentence for each that did not. They have no versions
/// or feedback here: git keeps their history.
pub fn file_articles(
    files: &[(String, String, String)],
    model: &waymark_model::Model,
) -> (Vec<ArticlePage>, Vec<String>) {
    let mut pages: Vec<ArticlePage> = Vec::new();
    let mut problems = Vec::new();
    for (path, text, changed) in files {
        match knowledge::from_file(path, text, model) {
            Ok(a) if pages.iter().any(|p| p.slug == a.slug) => {
                problems.push(format!(
                    "{path}: another file already has the address {}",
                    a.slug
                ));
            }
            Ok(a) => {
                for link in link_problems(&a.body, model, &[]) {
                    problems.push(format!("{path}: {link}"));
                }
                pages.push(article_page(
                    &a.slug,
                    &a.title,
                    &a.summary,
                    &a.body,
                    &a.tags,
                    waymark_site::long_date(changed),
                    None,
                ));
            }
            Err(e) => problems.push(format!("{path}: {e}")),
        }
    }
    (pages, problems)
}

/// A tag as readers see it.
fn tag_label(t: &knowledge::Tag) -> String {
    match t {
        knowledge::Tag::Stage { stage } => stage.clone(),
        knowledge::Tag::Step { stage, step } => format!("{stage}, step {step}"),
        knowledge::Tag::Free { word } => word.clone(),
    }
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ArticleForm {
    csrf: String,
    version: String,
    action: String,
    slug: String,
    title: String,
    summary: String,
    body: String,
    tags: String,
    review_by: String,
    /// The owner's person id.
    owner: String,
}

impl ArticleForm {
    fn input(&self) -> ArticleInput {
        ArticleInput {
            slug: self.slug.clone(),
            title: self.title.clone(),
            summary: self.summary.clone(),
            body: self.body.clone(),
            tags: self.tags.clone(),
            review_by: self.review_by.clone(),
        }
    }

    fn of(row: &ArticleRow) -> ArticleForm {
        let a = &row.article;
        ArticleForm {
            version: row.version.to_string(),
            slug: a.slug.clone(),
            title: a.title.clone(),
            summary: a.summary.clone(),
            body: a.body.clone(),
            tags: a
                .tags
                .iter()
                .map(knowledge::Tag::typed)
                .collect::<Vec<_>>()
                .join(", "),
            review_by: a.review_by.clone(),
            owner: row.owner.0.to_string(),
            ..ArticleForm::default()
        }
    }
}

#[derive(Serialize)]
struct ArticleListRow {
    id: i64,
    title: String,
    status: &'static str,
    review_by: String,
    due: bool,
    /// A file in the content folder has the same address, and wins.
    shadowed: bool,
    owner: String,
    published: Option<i64>,
    href: String,
}

#[derive(Serialize)]
struct ArticlesPage {
    title: &'static str,
    user: UserView,
    articles: Vec<ArticleListRow>,
    /// Articles kept as files in the content folder: (title, guide href).
    files: Vec<(String, String)>,
    /// The community FAQ's entries, in order.
    faq: Vec<FaqRow>,
}

#[derive(Serialize)]
struct FaqRow {
    article: i64,
    title: String,
    status: &'static str,
    position: i64,
    question: i64,
}

fn programme(who: &SignedIn) -> Result<(), PageError> {
    // To anyone else the programme's drafts do not exist.
    knowledge::may_write(&who.actor).map_err(|_| PageError::NotFound)
}

pub async fn articles(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
) -> Result<Response, PageError> {
    programme(&who)?;
    let day = today(now());
    let files: Vec<(String, String)> = s.guide.as_ref().map_or_else(Vec::new, |g| {
        g.source()
            .articles
            .iter()
            .map(|a| {
                (
                    a.title.clone(),
                    format!("/guide/{}", waymark_site::article_href(&a.slug)),
                )
            })
            .collect()
    });
    let file_slugs: Vec<String> = s.guide.as_ref().map_or_else(Vec::new, |g| {
        g.source().articles.iter().map(|a| a.slug.clone()).collect()
    });
    let articles = s
        .store
        .articles()
        .await?
        .into_iter()
        .map(|r| ArticleListRow {
            id: r.id,
            due: r.status != ArticleStatus::Archived
                && knowledge::review_due(&r.article.review_by, &day),
            shadowed: file_slugs.contains(&r.article.slug),
            title: r.article.title,
            status: r.status.label(),
            review_by: r.article.review_by,
            owner: r.owner_name,
            published: r.published,
            href: format!("/articles/{}", r.id),
        })
        .collect();
    view_page(
        &s,
        StatusCode::OK,
        "knowledge.html",
        &ArticlesPage {
            title: "Knowledge articles",
            user: who.view(),
            articles,
            files,
            faq: s
                .store
                .faq_entries()
                .await?
                .into_iter()
                .map(|e| FaqRow {
                    article: e.article,
                    title: e.title,
                    status: e.status.label(),
                    position: e.position,
                    question: e.question,
                })
                .collect(),
        },
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MoveForm {
    csrf: String,
    article: String,
    position: String,
}

/// Moves an FAQ entry up or down the FAQ (the buttons name its new place).
pub async fn move_faq(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Form(f): Form<MoveForm>,
) -> Result<Response, PageError> {
    who.check(&f.csrf)?;
    programme(&who)?;
    let (Ok(article), Ok(position)) = (f.article.trim().parse(), f.position.trim().parse()) else {
        return Err(PageError::NotFound);
    };
    match s
        .actions()
        .move_faq_entry(&who.actor, article, position)
        .await
    {
        Ok(_) => Ok(Redirect::to("/articles?moved=1#faq-title").into_response()),
        Err(ArticleError::Store(e)) => Err(e.into()),
        Err(ArticleError::Fields(_)) => Err(PageError::NotFound),
        Err(ArticleError::Internal(e)) => Err(PageError::Internal(e)),
    }
}

#[derive(Serialize)]
struct EditPage<'a> {
    title: String,
    user: UserView,
    errors: Vec<FieldError>,
    form: &'a ArticleForm,
    /// `None` for a new article.
    id: Option<i64>,
    status: Option<&'static str>,
    /// Whether it was ever published (its address is then fixed).
    published: Option<i64>,
    /// Links in the working copy that would not work on the guide.
    warnings: Vec<String>,
    feedback: Option<FeedbackSummary>,
    guide_href: Option<String>,
    changes_href: Option<String>,
    archivable: bool,
    stages: Vec<(String, String)>,
    /// Who may own it: the programme's people, (id, name).
    owners: Vec<(i64, String)>,
    /// The banner after a change: "The article is published." and so on.
    saved: Option<&'static str>,
    /// The community question it came from, when it is an FAQ entry.
    faq_question: Option<i64>,
}

#[allow(clippy::too_many_arguments)]
async fn edit_page(
    s: &AppState,
    who: &SignedIn,
    status: StatusCode,
    row: Option<&ArticleRow>,
    form: &ArticleForm,
    errors: Vec<FieldError>,
    saved: Option<&'static str>,
) -> Result<Response, PageError> {
    let others: Vec<String> = s
        .store
        .published_slugs()
        .await?
        .into_iter()
        .filter(|slug| row.is_none_or(|r| &r.article.slug != slug))
        .collect();
    let feedback = match row {
        Some(r) => Some(s.store.feedback_summary(r.id).await?),
        None => None,
    };
    let live = row.filter(|r| r.status == ArticleStatus::Published);
    let faq_question = match row {
        Some(r) => s.store.faq_question(r.id).await?,
        None => None,
    };
    let view = EditPage {
        faq_question,
        title: row.map_or_else(
            || "Write an article".to_string(),
            |r| format!("Edit: {}", r.article.title),
        ),
        user: who.view(),
        errors,
        form,
        id: row.map(|r| r.id),
        status: row.map(|r| r.status.label()),
        published: row.and_then(|r| r.published),
        warnings: link_problems(&form.body, &s.model, &others),
        feedback,
        guide_href: live.map(|r| format!("/guide/{}", waymark_site::article_href(&r.article.slug))),
        changes_href: row
            .filter(|r| r.published.is_some())
            .map(|r| format!("/knowledge/{}/changes", r.article.slug)),
        archivable: live.is_some(),
        stages: s
            .model
            .stages
            .iter()
            .map(|st| (st.slug.clone(), st.name.clone()))
            .collect(),
        saved,
        owners: s
            .store
            .people_with_roles(&[
                waymark_core::Role::ProgrammeStaff,
                waymark_core::Role::ProgrammeAdmin,
            ])
            .await?
            .into_iter()
            .map(|p| (p.id.0, p.name))
            .collect(),
    };
    view_page(s, status, "article-edit.html", &view)
}

pub async fn new_article(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
) -> Result<Response, PageError> {
    programme(&who)?;
    edit_page(
        &s,
        &who,
        StatusCode::OK,
        None,
        &ArticleForm::default(),
        Vec::new(),
        None,
    )
    .await
}

pub async fn create_article(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Form(f): Form<ArticleForm>,
) -> Result<Response, PageError> {
    who.check(&f.csrf)?;
    programme(&who)?;
    write(&s, &who, None, &f).await
}

pub async fn article(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Result<Response, PageError> {
    programme(&who)?;
    let row = s.store.article(id).await?.ok_or(PageError::NotFound)?;
    let saved = match q.get("saved").map(String::as_str) {
        Some("saved") => Some("Your changes are saved. Readers see them once you publish."),
        Some("published") => Some("The article is published: readers see this version now."),
        Some("promoted") => Some(
            "The FAQ entry is drafted from the question and its accepted answer. Edit it into a clean entry, then publish it.",
        ),
        Some("archived") => {
            Some("The article is archived: it is no longer on the guide. Its versions are kept.")
        }
        _ => None,
    };
    let form = ArticleForm::of(&row);
    edit_page(
        &s,
        &who,
        StatusCode::OK,
        Some(&row),
        &form,
        Vec::new(),
        saved,
    )
    .await
}

pub async fn save_article(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
    Form(f): Form<ArticleForm>,
) -> Result<Response, PageError> {
    who.check(&f.csrf)?;
    programme(&who)?;
    let row = s.store.article(id).await?.ok_or(PageError::NotFound)?;
    write(&s, &who, Some(&row), &f).await
}

/// Checks, saves and (when asked) publishes or archives, then shows the
/// article again; any problem goes beside its field, with what was typed.
async fn write(
    s: &AppState,
    who: &SignedIn,
    row: Option<&ArticleRow>,
    f: &ArticleForm,
) -> Result<Response, PageError> {
    let again = |errors: Vec<FieldError>| async move {
        edit_page(
            s,
            who,
            StatusCode::UNPROCESSABLE_ENTITY,
            row,
            f,
            errors,
            None,
        )
        .await
    };
    let Some(action) = ArticleAction::parse(f.action.trim()) else {
        return again(vec![form_error(
            "action",
            "Choose Save, Publish or Archive",
        )])
        .await;
    };
    let expected = match row {
        Some(_) => Some(f.version.trim().parse::<i64>().map_err(|_| {
            PageError::Forbidden("This form has no version; reload the page and try again.".into())
        })?),
        None => None,
    };
    let article_errors = |problems: &[DomainError]| -> Vec<FieldError> {
        problems
            .iter()
            .filter_map(field_error)
            .map(|e| FieldError {
                id: format!("article-{}", e.id),
                message: e.message,
            })
            .collect()
    };
    let written = s
        .actions()
        .write_article(
            &who.actor,
            &s.model,
            crate::actions::ArticleWrite {
                id: row.map(|r| r.id),
                expected,
                input: &f.input(),
                owner: f.owner.trim().parse::<i64>().ok().map(PersonId),
                action,
            },
        )
        .await;
    let id = match written {
        Ok(id) => id,
        Err(ArticleError::Fields(problems)) => return again(article_errors(&problems)).await,
        Err(ArticleError::Store(StoreError::Domain(e @ DomainError::Invalid { .. }))) => {
            return again(article_errors(&[e])).await;
        }
        Err(ArticleError::Store(StoreError::Domain(
            e @ (DomainError::Rule(_) | DomainError::Conflict { .. }),
        ))) => {
            let message = match e {
                DomainError::Conflict { .. } => "Someone changed this article since you opened it. Copy what you typed, reload the page and make your change again.".to_string(),
                other => other.to_string(),
            };
            return again(vec![form_error("action", message)]).await;
        }
        Err(ArticleError::Store(StoreError::Duplicate { value, .. })) => {
            return again(vec![form_error(
                "article-slug",
                format!("Address: another article already uses “{value}”; choose another"),
            )])
            .await;
        }
        Err(ArticleError::Store(e)) => return Err(e.into()),
        Err(ArticleError::Internal(e)) => return Err(PageError::Internal(e)),
    };
    let saved = match action {
        ArticleAction::Save => "saved",
        ArticleAction::Publish => "published",
        ArticleAction::Archive => "archived",
    };
    Ok(Redirect::to(&format!("/articles/{id}?saved={saved}")).into_response())
}

#[derive(Serialize)]
struct Line {
    /// "same", "added" or "removed".
    kind: &'static str,
    text: String,
}

#[derive(Serialize)]
struct VersionView {
    number: i64,
    title: String,
    published_by: String,
    published_at: i64,
    /// What changed from the version before (none for the first).
    changes: Vec<Line>,
    summary_changed: Option<(String, String)>,
    title_changed: Option<String>,
}

#[derive(Serialize)]
struct ChangesPage {
    title: String,
    user: Option<UserView>,
    slug: String,
    guide_href: Option<String>,
    versions: Vec<VersionView>,
}

/// Lines that changed between two bodies, with two lines of context
/// around each change and "…" between distant ones.
fn line_changes(before: &str, after: &str) -> Vec<Line> {
    // A last line with or without its line break is the same line.
    let (before, after) = (
        format!("{}\n", before.trim_end_matches(['\r', '\n'])),
        format!("{}\n", after.trim_end_matches(['\r', '\n'])),
    );
    let diff = similar::TextDiff::from_lines(&before, &after);
    let mut out = Vec::new();
    for (i, group) in diff.grouped_ops(2).iter().enumerate() {
        if i > 0 {
            out.push(Line {
                kind: "gap",
                text: "…".into(),
            });
        }
        for op in group {
            for change in diff.iter_changes(op) {
                out.push(Line {
                    kind: match change.tag() {
                        similar::ChangeTag::Equal => "same",
                        similar::ChangeTag::Insert => "added",
                        similar::ChangeTag::Delete => "removed",
                    },
                    text: change.value().trim_end_matches('\n').to_string(),
                });
            }
        }
    }
    out
}

/// Every published version of an article, each with what changed: public,
/// as the versions were.
pub async fn changes(
    State(s): State<Arc<AppState>>,
    who: Option<SignedIn>,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let versions = s.store.article_versions(&slug).await?;
    if versions.is_empty() {
        return Err(PageError::NotFound);
    }
    let live = s.store.published_article(&slug).await?.is_some();
    let views = versions
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let before = versions.get(i + 1);
            VersionView {
                number: v.number,
                title: v.title.clone(),
                published_by: v.published_by.clone(),
                published_at: v.published_at.0,
                changes: before.map_or_else(Vec::new, |b| line_changes(&b.body, &v.body)),
                summary_changed: before
                    .filter(|b| b.summary != v.summary)
                    .map(|b| (b.summary.clone(), v.summary.clone())),
                title_changed: before
                    .filter(|b| b.title != v.title)
                    .map(|b| b.title.clone()),
            }
        })
        .collect();
    let view = ChangesPage {
        title: format!("What changed: {}", versions[0].title),
        user: who.as_ref().map(SignedIn::view),
        guide_href: live.then(|| format!("/guide/{}", waymark_site::article_href(&slug))),
        slug,
        versions: views,
    };
    view_page(&s, StatusCode::OK, "article-changes.html", &view)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct FeedbackForm {
    csrf: String,
    helpful: String,
    comment: String,
}

#[derive(Serialize)]
struct FeedbackPage<'a> {
    title: String,
    user: UserView,
    errors: Vec<FieldError>,
    article: String,
    guide_href: String,
    helpful: &'a str,
    comment: &'a str,
    thanks: bool,
}

async fn published_title(s: &AppState, slug: &str) -> Result<String, PageError> {
    s.store
        .published_article(slug)
        .await?
        .map(|a| a.version.title)
        .ok_or(PageError::NotFound)
}

pub async fn feedback_form(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(slug): Path<String>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Result<Response, PageError> {
    let article = published_title(&s, &slug).await?;
    let mine = s.store.feedback_of(who.actor.person, &slug).await?;
    let (helpful, comment) = match &mine {
        Some(f) => (if f.helpful { "yes" } else { "no" }, f.comment.as_str()),
        None => ("", ""),
    };
    let view = FeedbackPage {
        title: format!("Was this helpful? {article}"),
        user: who.view(),
        errors: Vec::new(),
        guide_href: format!("/guide/{}", waymark_site::article_href(&slug)),
        article,
        helpful,
        comment,
        thanks: q.contains_key("thanks"),
    };
    view_page(&s, StatusCode::OK, "article-feedback.html", &view)
}

pub async fn feedback(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(slug): Path<String>,
    Form(f): Form<FeedbackForm>,
) -> Result<Response, PageError> {
    who.check(&f.csrf)?;
    let article = published_title(&s, &slug).await?;
    match knowledge::feedback(&f.helpful, &f.comment) {
        Ok(answer) => {
            s.store
                .record_feedback(&who.actor, &slug, &answer, now())
                .await?;
            Ok(Redirect::to(&format!("/knowledge/{slug}/feedback?thanks")).into_response())
        }
        Err(problems) => {
            let view = FeedbackPage {
                title: format!("Was this helpful? {article}"),
                user: who.view(),
                errors: problems.iter().filter_map(field_error).collect(),
                guide_href: format!("/guide/{}", waymark_site::article_href(&slug)),
                article,
                helpful: &f.helpful,
                comment: &f.comment,
                thanks: false,
            };
            view_page(
                &s,
                StatusCode::UNPROCESSABLE_ENTITY,
                "article-feedback.html",
                &view,
            )
        }
    }
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ReleaseForm {
    csrf: String,
    version: String,
    released_on: String,
    notes: String,
    link: String,
}

#[derive(Serialize)]
struct ReleasesPage<'a> {
    title: &'static str,
    user: UserView,
    saved: bool,
    errors: Vec<FieldError>,
    form: &'a ReleaseForm,
    releases: Vec<Release>,
}

async fn releases_page(
    s: &AppState,
    who: &SignedIn,
    status: StatusCode,
    form: &ReleaseForm,
    errors: Vec<FieldError>,
    saved: bool,
) -> Result<Response, PageError> {
    let view = ReleasesPage {
        title: "Blueprint releases",
        user: who.view(),
        saved,
        errors,
        form,
        releases: s.store.releases().await?,
    };
    view_page(s, status, "releases.html", &view)
}

pub async fn releases(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Result<Response, PageError> {
    programme(&who)?;
    releases_page(
        &s,
        &who,
        StatusCode::OK,
        &ReleaseForm::default(),
        Vec::new(),
        q.contains_key("saved"),
    )
    .await
}

pub async fn add_release(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Form(f): Form<ReleaseForm>,
) -> Result<Response, PageError> {
    who.check(&f.csrf)?;
    programme(&who)?;
    let release =
        match knowledge::release(&f.version, &f.released_on, &f.notes, &f.link, &today(now())) {
            Ok(r) => r,
            Err(problems) => {
                let errors = problems.iter().filter_map(field_error).collect();
                return releases_page(
                    &s,
                    &who,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &f,
                    errors,
                    false,
                )
                .await;
            }
        };
    match s.store.add_release(&who.actor, &release, now()).await {
        Ok(()) => {}
        Err(StoreError::Duplicate { value, .. }) => {
            let errors = vec![form_error(
                "version",
                format!("Version: {value} is already recorded"),
            )];
            return releases_page(
                &s,
                &who,
                StatusCode::UNPROCESSABLE_ENTITY,
                &f,
                errors,
                false,
            )
            .await;
        }
        Err(e) => return Err(e.into()),
    }
    // Every guide page names the newest release.
    s.actions()
        .refresh_guide(None)
        .await
        .map_err(PageError::Internal)?;
    Ok(Redirect::to("/blueprint?saved").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_keep_context_and_mark_gaps() {
        let before = "a\nb\nc\nd\ne\nf\ng\nh\ni\n";
        let after = "a\nB\nc\nd\ne\nf\ng\nh\nI\n";
        let kinds: Vec<&str> = line_changes(before, after).iter().map(|l| l.kind).collect();
        assert_eq!(
            kinds,
            [
                "same", "removed", "added", "same", "same", "gap", "same", "same", "removed",
                "added"
            ]
        );
    }
}
