//! The community portal: categories, questions and answers, votes,
//! accepted answers, each post's history, and the questions about a step
//! of the model. Readable signed out where the category is public; every
//! rule is `waymark_core::community`'s, asked by the store inside each
//! write. Posts are markdown, shown through the same sanitiser as letters
//! and user guides.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::Value;
use serde::{Deserialize, Serialize};
use waymark_core::DomainError;
use waymark_core::community::{self, Category, Moderation, NewCategory, Question, StepTag};
use waymark_model::Model;
use waymark_site::{Hrefs, step_anchors};
use waymark_store::{PostRow, StoreError, Thread, TopicRow, now};

use super::auth::{SignedIn, UserView};
use super::{AppState, FieldError, PageError, field_error, form_error, view_page};

/// A post's markdown as HTML inside a page. Anyone with an account
/// writes posts, so HTML typed in one is shown as the text it is, never
/// as markup; the sanitiser then cleans what markdown made (a
/// `javascript:` link loses its address), and headings sit one level below
/// the page's.
pub fn post_html(markdown: &str) -> Value {
    use pulldown_cmark::{Event, Parser};
    let events = Parser::new(markdown).map(|e| match e {
        Event::Html(t) | Event::InlineHtml(t) => Event::Text(t),
        other => other,
    });
    let mut raw = String::new();
    pulldown_cmark::html::push_html(&mut raw, events);
    Value::from_safe_string(super::letters::demote_headings(&crate::letter::clean(&raw)))
}

/// Where the guide explains a stage or step, if the model has its page.
pub fn guide_href(model: &Model, tag: &StepTag) -> Option<String> {
    let st = model.stages.iter().find(|s| s.slug == tag.stage)?;
    let page = Hrefs::prefixed(model, "/guide/").page(st.page?).to_string();
    let anchor = tag.step.and_then(|n| {
        step_anchors(model, st)
            .into_iter()
            .find(|(number, _)| *number == n)
            .map(|(_, a)| a)
    });
    Some(match anchor {
        Some(a) => format!("{page}#{a}"),
        None => page,
    })
}

/// The address of the questions about a stage or step.
pub fn questions_href(tag: &StepTag) -> String {
    format!("/community/about?tag={}", tag.typed())
}

/// Every stage and step a question can be about, for the form's list.
#[derive(Serialize)]
struct TagOption {
    value: String,
    label: String,
}

fn tag_options(model: &Model) -> Vec<TagOption> {
    let mut out = Vec::new();
    for st in &model.stages {
        out.push(TagOption {
            value: st.slug.clone(),
            label: format!("{} (the stage as a whole)", st.name),
        });
        for step in &st.steps {
            out.push(TagOption {
                value: format!("{}/{}", st.slug, step.number),
                label: format!("{}, step {}: {}", st.name, step.number, step.title),
            });
        }
    }
    out
}

/// A question in a list.
#[derive(Serialize)]
struct TopicView {
    href: String,
    title: String,
    category: String,
    author: String,
    tag: Option<String>,
    answers: i64,
    votes: i64,
    answered: bool,
    locked: bool,
    last_activity_at: i64,
}

fn topic_view(t: &TopicRow, model: &Model) -> TopicView {
    TopicView {
        href: format!("/community/q/{}", t.id),
        title: t.title.clone(),
        category: t.category_name.clone(),
        author: t.author_name.clone(),
        tag: t.tag.as_ref().map(|g| g.label(model)),
        answers: t.answers,
        votes: t.votes,
        answered: t.accepted.is_some(),
        locked: t.locked,
        last_activity_at: t.last_activity_at.0,
    }
}

#[derive(Serialize)]
struct IndexPage {
    title: &'static str,
    user: Option<UserView>,
    categories: Vec<Category>,
    /// The programme adds categories.
    moderator: bool,
    errors: Vec<FieldError>,
    form: CategoryForm,
    /// Just registered.
    welcome: bool,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct CategoryForm {
    #[serde(skip_serializing)]
    csrf: String,
    name: String,
    description: String,
    visibility: String,
    programme_only: Option<String>,
}

async fn index_page(
    s: &AppState,
    who: Option<&SignedIn>,
    status: StatusCode,
    errors: Vec<FieldError>,
    form: CategoryForm,
    welcome: bool,
) -> Result<Response, PageError> {
    let categories = s.store.categories(who.map(|w| &w.actor)).await?;
    view_page(
        s,
        status,
        "community.html",
        &IndexPage {
            title: "Community",
            user: who.map(SignedIn::view),
            categories,
            moderator: who.is_some_and(|w| community::may_moderate(&w.actor).is_ok()),
            errors,
            form,
            welcome,
        },
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct WelcomeQuery {
    welcome: String,
}

/// The community's front page: its categories.
pub async fn index(
    State(s): State<Arc<AppState>>,
    who: Option<SignedIn>,
    Query(q): Query<WelcomeQuery>,
) -> Result<Response, PageError> {
    let welcome = who.is_some() && !q.welcome.is_empty();
    index_page(
        &s,
        who.as_ref(),
        StatusCode::OK,
        Vec::new(),
        CategoryForm::default(),
        welcome,
    )
    .await
}

/// Adds a category (the programme).
pub async fn add_category(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Form(f): Form<CategoryForm>,
) -> Result<Response, PageError> {
    who.check(&f.csrf)?;
    community::may_moderate(&who.actor)?;
    let parsed = NewCategory::parse(
        &f.name,
        &f.description,
        &f.visibility,
        f.programme_only.is_some(),
    );
    let errors = match parsed {
        Ok(c) => match s.store.add_category(&who.actor, &c).await {
            // A slug may hold any script's letters: percent-encoded, as a
            // header must be.
            Ok(_) => {
                let to = format!("/community/c/{}", super::auth::encode(&c.slug));
                return Ok(Redirect::to(&to).into_response());
            }
            Err(StoreError::Duplicate { .. }) => vec![form_error(
                "name",
                "Name: a category with this name (or this address) already exists",
            )],
            Err(e) => return Err(e.into()),
        },
        Err(problems) => problems.iter().filter_map(field_error).collect(),
    };
    index_page(
        &s,
        Some(&who),
        StatusCode::UNPROCESSABLE_ENTITY,
        errors,
        f,
        false,
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PageQuery {
    /// The cursor: `<activity>.<id>` of the last question shown.
    before: String,
    /// What was just done, for the banner.
    done: String,
}

/// Reads `<activity>.<id>`; anything else starts from the top.
fn cursor(raw: &str) -> Option<(waymark_core::Timestamp, i64)> {
    let (a, b) = raw.split_once('.')?;
    Some((waymark_core::Timestamp(a.parse().ok()?), b.parse().ok()?))
}

/// How many questions a page of a category shows.
const PAGE: i64 = 30;

#[derive(Serialize)]
struct CategoryPage {
    title: String,
    user: Option<UserView>,
    category: Category,
    topics: Vec<TopicView>,
    /// The next page's address, if there may be one.
    next: Option<String>,
    may_ask: bool,
    /// Signed in: whether the reader watches the category.
    watching: Option<bool>,
    notice: Option<&'static str>,
}

/// A category's questions, the most recently active first.
pub async fn category(
    State(s): State<Arc<AppState>>,
    who: Option<SignedIn>,
    Path(slug): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    let reader = who.as_ref().map(|w| &w.actor);
    let category = s.store.category(reader, &slug).await?;
    let watching = match &who {
        Some(w) => Some(s.store.watches_category(w.actor.person, &slug).await?),
        None => None,
    };
    let rows = s
        .store
        .topics(reader, &slug, PAGE, cursor(&q.before))
        .await?;
    let next = (rows.len() as i64 == PAGE)
        .then(|| rows.last())
        .flatten()
        .map(|t| {
            format!(
                "/community/c/{}?before={}.{}",
                super::auth::encode(&slug),
                t.last_activity_at.0,
                t.id
            )
        });
    view_page(
        &s,
        StatusCode::OK,
        "community-category.html",
        &CategoryPage {
            title: category.name.clone(),
            may_ask: who
                .as_ref()
                .is_some_and(|w| community::may_ask(&w.actor, &category).is_ok()),
            user: who.as_ref().map(SignedIn::view),
            topics: rows.iter().map(|t| topic_view(t, &s.model)).collect(),
            category,
            next,
            watching,
            notice: watch_notice(&q.done),
        },
    )
}

/// The banner after watching or not.
fn watch_notice(done: &str) -> Option<&'static str> {
    match done {
        "watching" => Some(
            "You are watching it: new and accepted answers come to you by mail, as often as your settings say.",
        ),
        "unwatched" => Some("You no longer watch it."),
        _ => None,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct WatchForm {
    csrf: String,
    /// watch or unwatch
    action: String,
}

/// Watches a category, or stops.
pub async fn watch_category(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(slug): Path<String>,
    Form(f): Form<WatchForm>,
) -> Result<Response, PageError> {
    who.check(&f.csrf)?;
    let on = match f.action.as_str() {
        "watch" => true,
        "unwatch" => false,
        _ => return Err(PageError::NotFound),
    };
    s.store.watch_category(&who.actor, &slug, on, now()).await?;
    Ok(Redirect::to(&format!(
        "/community/c/{}?done={}",
        super::auth::encode(&slug),
        if on { "watching" } else { "unwatched" }
    ))
    .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TagQuery {
    tag: String,
}

#[derive(Serialize)]
struct AboutPage {
    title: String,
    user: Option<UserView>,
    label: String,
    tag: String,
    guide: Option<String>,
    topics: Vec<TopicView>,
}

/// The questions about a stage or a step of the model.
pub async fn about(
    State(s): State<Arc<AppState>>,
    who: Option<SignedIn>,
    Query(q): Query<TagQuery>,
) -> Result<Response, PageError> {
    let tag = StepTag::parse(&q.tag, &s.model)
        .ok()
        .flatten()
        .ok_or(PageError::NotFound)?;
    let rows = s
        .store
        .tagged_topics(
            who.as_ref().map(|w| &w.actor),
            &tag,
            waymark_store::MAX_TOPICS_PAGE,
        )
        .await?;
    let label = tag.label(&s.model);
    view_page(
        &s,
        StatusCode::OK,
        "community-about.html",
        &AboutPage {
            title: format!("Questions about {label}"),
            user: who.as_ref().map(SignedIn::view),
            guide: guide_href(&s.model, &tag),
            tag: tag.typed(),
            label,
            topics: rows.iter().map(|t| topic_view(t, &s.model)).collect(),
        },
    )
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct AskForm {
    #[serde(skip_serializing)]
    csrf: String,
    category: String,
    title: String,
    body: String,
    tag: String,
    /// Left empty by people; bots fill it.
    #[serde(skip_serializing)]
    website: String,
}

#[derive(Serialize)]
struct AskPage {
    title: &'static str,
    user: UserView,
    categories: Vec<Category>,
    tags: Vec<TagOption>,
    form: AskForm,
    errors: Vec<FieldError>,
    title_max: usize,
    body_max: usize,
}

async fn ask_page(
    s: &AppState,
    who: &SignedIn,
    status: StatusCode,
    form: AskForm,
    errors: Vec<FieldError>,
) -> Result<Response, PageError> {
    let categories = s
        .store
        .categories(Some(&who.actor))
        .await?
        .into_iter()
        .filter(|c| community::may_ask(&who.actor, c).is_ok())
        .collect();
    view_page(
        s,
        status,
        "community-ask.html",
        &AskPage {
            title: "Ask a question",
            user: who.view(),
            categories,
            tags: tag_options(&s.model),
            form,
            errors,
            title_max: community::TITLE_MAX,
            body_max: community::BODY_MAX,
        },
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AskQuery {
    category: String,
    tag: String,
}

/// The form to ask a question, with a category or a step already chosen.
pub async fn ask_form(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Query(q): Query<AskQuery>,
) -> Result<Response, PageError> {
    // A step's stage is its category unless one was named.
    let tag = StepTag::parse(&q.tag, &s.model).ok().flatten();
    let category = if q.category.is_empty() {
        tag.as_ref().map(|t| t.stage.clone()).unwrap_or_default()
    } else {
        q.category
    };
    let form = AskForm {
        category,
        tag: tag.map(|t| t.typed()).unwrap_or_default(),
        ..AskForm::default()
    };
    ask_page(&s, &who, StatusCode::OK, form, Vec::new()).await
}

/// Asks the question; any problem goes beside its field, with what was typed.
pub async fn ask(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Form(f): Form<AskForm>,
) -> Result<Response, PageError> {
    who.check(&f.csrf)?;
    let mut errors: Vec<FieldError> = Vec::new();
    let category = match s.store.category(Some(&who.actor), f.category.trim()).await {
        Ok(c) => match community::may_ask(&who.actor, &c) {
            Ok(()) => Some(c),
            Err(e) => {
                errors.push(form_error("category", format!("Category: {e}")));
                None
            }
        },
        Err(StoreError::Domain(DomainError::NotFound)) => {
            errors.push(form_error("category", "Category: choose one from the list"));
            None
        }
        Err(e) => return Err(e.into()),
    };
    let question = match Question::parse(&f.title, &f.body, &f.tag, &s.model) {
        Ok(q) => Some(q),
        Err(problems) => {
            errors.extend(labelled(&problems, POST_LABELS));
            None
        }
    };
    if !f.website.trim().is_empty() {
        return Ok(Redirect::to("/community").into_response());
    }
    match (category, question) {
        (Some(c), Some(q)) if errors.is_empty() => {
            let t = now();
            if let Some(refused) = posting_refused(&s, &who, t).await? {
                return Ok(refused);
            }
            let id = s.store.ask(&who.actor, &c.slug, &q, t).await?;
            Ok(Redirect::to(&format!("/community/q/{id}")).into_response())
        }
        _ => ask_page(&s, &who, StatusCode::UNPROCESSABLE_ENTITY, f, errors).await,
    }
}

/// What a new account past its posting limit is told.
pub(crate) const POSTING_LIMITED: &str = "New members post a few questions and answers an hour, until they have been here a week and one of their posts has been accepted or up-voted. Wait an hour and try again.";

/// Whether `actor` is past a new account's posting limit (the core's
/// `post_limit`), counting this post with the one rate limiter.
pub(crate) async fn posting_limited(
    store: &waymark_store::Store,
    actor: &waymark_core::Actor,
    t: waymark_core::Timestamp,
) -> Result<bool, StoreError> {
    let (created, standing) = store.community_standing(actor.person).await?;
    match community::post_limit(actor, t.0 - created.0, standing) {
        None => Ok(false),
        Some(limit) => {
            super::intake::limited(
                store,
                "community_post",
                &actor.person.0.to_string(),
                limit,
                t,
            )
            .await
        }
    }
}

/// The 429 page when `who` is past a new account's posting limit.
async fn posting_refused(
    s: &AppState,
    who: &SignedIn,
    t: waymark_core::Timestamp,
) -> Result<Option<Response>, PageError> {
    if !posting_limited(&s.store, &who.actor, t).await? {
        return Ok(None);
    }
    super::intake::too_many(s, "Too many posts for now", POSTING_LIMITED).map(Some)
}

/// A post as the question's page shows it.
#[derive(Serialize)]
struct PostView {
    id: i64,
    author: String,
    programme: bool,
    html: Value,
    votes: i64,
    edited: bool,
    revisions: i64,
    created_at: i64,
    edited_at: Option<i64>,
    accepted: bool,
    voted: bool,
    may_vote: bool,
    may_edit: bool,
    /// The programme hid it; why (`hidden_reason`), and its text, only
    /// the programme and its author read.
    hidden: bool,
    hidden_reason: String,
    /// Signed in and not its author: may flag it.
    may_flag: bool,
}

#[derive(Serialize)]
struct ThreadPage {
    /// This page of the answers (1 first), of `pages`; it shows answers
    /// `first` to `last_shown` of `answer_count`.
    page: i64,
    pages: i64,
    first: i64,
    last_shown: i64,
    answer_count: i64,
    title: String,
    user: Option<UserView>,
    id: i64,
    category: String,
    category_name: String,
    tag: Option<String>,
    tag_label: Option<String>,
    guide: Option<String>,
    locked: bool,
    question: PostView,
    answers: Vec<PostView>,
    may_answer: bool,
    may_accept: bool,
    /// The programme may make it an FAQ entry (it has an accepted answer
    /// and is not one yet).
    may_promote: bool,
    /// Where its FAQ entry is: on the guide once published; the editor
    /// for the programme.
    faq_guide: Option<String>,
    faq_edit: Option<String>,
    /// The programme hid the question or its accepted answer after it
    /// became an FAQ entry: the programme is told the entry still shows it.
    faq_shows_hidden: bool,
    /// Signed in: whether the reader watches the question, and its category.
    watching: Option<(bool, bool)>,
    /// The programme's tools: lock, move (to these categories: slug, name).
    moderate: bool,
    categories: Vec<(String, String)>,
    /// What was typed in the answer box, when it came back with a problem.
    draft: String,
    errors: Vec<FieldError>,
    notice: Option<&'static str>,
    body_max: usize,
}

fn post_view(p: &PostRow, t: &Thread, who: Option<&SignedIn>) -> PostView {
    let state = t.topic.state();
    PostView {
        id: p.id,
        author: p.author_name.clone(),
        programme: p.author_programme,
        html: post_html(&p.body),
        votes: p.votes,
        edited: p.revisions > 1,
        revisions: p.revisions,
        created_at: p.created_at.0,
        edited_at: p.edited_at.map(|t| t.0),
        accepted: p.accepted,
        voted: t.voted.contains(&p.id),
        // Taking a vote back stays possible whatever became of the post.
        may_vote: who.is_some_and(|w| {
            t.voted.contains(&p.id)
                || community::may_vote(
                    &w.actor,
                    community::PostState::within(p.author, p.hidden.is_some(), t.topic.hidden),
                )
                .is_ok()
        }),
        may_edit: who.is_some_and(|w| community::may_edit(&w.actor, p.author, state).is_ok()),
        hidden: p.hidden.is_some(),
        hidden_reason: p.hidden.clone().unwrap_or_default(),
        may_flag: who.is_some_and(|w| {
            community::may_flag(
                &w.actor,
                community::PostState::within(p.author, p.hidden.is_some(), t.topic.hidden),
            )
            .is_ok()
        }),
    }
}

/// The most answers a page shows.
const PER_PAGE: i64 = waymark_store::ANSWERS_PAGE;

/// How many pages `answers` answers take (one at least).
fn pages(answers: i64) -> i64 {
    ((answers + PER_PAGE - 1) / PER_PAGE).max(1)
}

#[allow(clippy::too_many_arguments)]
async fn thread_page(
    s: &AppState,
    who: Option<&SignedIn>,
    id: i64,
    page: i64,
    status: StatusCode,
    draft: String,
    errors: Vec<FieldError>,
    notice: Option<&'static str>,
) -> Result<Response, PageError> {
    let t = s
        .store
        .thread_part(
            who.map(|w| &w.actor),
            id,
            (page - 1).saturating_mul(PER_PAGE),
            PER_PAGE,
        )
        .await?;
    let last = pages(t.topic.answers);
    if page > last {
        return Err(PageError::NotFound);
    }
    let state = t.topic.state();
    let faq = s.store.faq_of_question(id).await?;
    let programme = who.is_some_and(|w| w.actor.is_programme());
    let watching = match who {
        Some(w) => Some(s.store.watches(w.actor.person, id).await?),
        None => None,
    };
    let moderate = who.is_some_and(|w| community::may_moderate(&w.actor).is_ok());
    let categories = if moderate {
        s.store
            .categories(who.map(|w| &w.actor))
            .await?
            .into_iter()
            .filter(|c| c.slug != t.topic.category)
            .map(|c| (c.slug, c.name))
            .collect()
    } else {
        Vec::new()
    };
    // The question or the accepted answer is hidden: no FAQ entry.
    let promote_hidden =
        t.question.hidden.is_some() || t.answers.iter().any(|a| a.accepted && a.hidden.is_some());
    let view = ThreadPage {
        faq_shows_hidden: programme && promote_hidden && faq.is_some(),
        page,
        pages: last,
        first: (page - 1) * PER_PAGE + 1,
        last_shown: (page - 1) * PER_PAGE + t.answers.len() as i64,
        answer_count: t.topic.answers,
        moderate,
        categories,
        watching,
        may_promote: page == 1
            && who.is_some_and(|w| {
                community::may_promote(
                    &w.actor,
                    t.topic.accepted,
                    faq.as_ref().map(|f| f.article),
                    promote_hidden,
                )
                .is_ok()
            }),
        faq_guide: faq
            .as_ref()
            .filter(|f| f.status == waymark_core::knowledge::ArticleStatus::Published)
            .map(|f| format!("/guide/{}#{}", waymark_site::FAQ_PATH, f.slug)),
        faq_edit: faq
            .as_ref()
            .filter(|_| programme)
            .map(|f| format!("/articles/{}", f.article)),
        title: t.topic.title.clone(),
        user: who.map(SignedIn::view),
        id,
        category: t.topic.category.clone(),
        category_name: t.topic.category_name.clone(),
        tag: t.topic.tag.as_ref().map(questions_href),
        tag_label: t.topic.tag.as_ref().map(|g| g.label(&s.model)),
        guide: t.topic.tag.as_ref().and_then(|g| guide_href(&s.model, g)),
        locked: t.topic.locked,
        question: post_view(&t.question, &t, who),
        answers: t.answers.iter().map(|p| post_view(p, &t, who)).collect(),
        may_answer: who.is_some_and(|w| community::may_answer(&w.actor, state).is_ok()),
        may_accept: who.is_some_and(|w| community::may_accept(&w.actor, state).is_ok()),
        draft,
        errors,
        notice,
        body_max: community::BODY_MAX,
    };
    view_page(s, status, "community-question.html", &view)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NoticeQuery {
    done: String,
    /// Which page of the answers (1 first).
    page: String,
    /// An answer to show: its page is found (a mail's or a search's link).
    post: String,
}

/// A question and its answers, the accepted one first.
pub async fn thread(
    State(s): State<Arc<AppState>>,
    who: Option<SignedIn>,
    Path(id): Path<i64>,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    let notice = match q.done.as_str() {
        "answered" => Some("Your answer is posted."),
        "accepted" => Some("The answer is accepted: it shows first."),
        "unaccepted" => Some("The answer is no longer marked as accepted."),
        "voted" => Some("Your vote is counted."),
        "unvoted" => Some("Your vote is taken back."),
        "edited" => Some("Your edit is saved. The earlier text is kept in the post's history."),
        "flagged" => Some("Thank you: the programme will look at the post."),
        "hidden" => Some(
            "The post is hidden from everyone but the programme and its author, who is told why.",
        ),
        "unhidden" => Some("The post shows again."),
        "locked" => Some("The question is locked: only the programme answers or edits now."),
        "unlocked" => Some("The question is open again."),
        "moved" => Some("The question is moved."),
        other => watch_notice(other),
    };
    let page = match (q.page.trim(), q.post.trim()) {
        ("", "") => 1,
        ("", post) => {
            let post = post.parse().map_err(|_| PageError::NotFound)?;
            match s.store.answer_place(id, post).await? {
                Some(place) => place / PER_PAGE + 1,
                None => 1,
            }
        }
        (page, _) => match page.parse::<i64>() {
            Ok(n) if n >= 1 => n,
            _ => return Err(PageError::NotFound),
        },
    };
    thread_page(
        &s,
        who.as_ref(),
        id,
        page,
        StatusCode::OK,
        String::new(),
        Vec::new(),
        notice,
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ThreadForm {
    csrf: String,
    /// answer, vote, unvote, accept, unaccept, promote, watch, unwatch,
    /// flag, hide, unhide, lock, unlock, move
    action: String,
    post: String,
    body: String,
    /// Why (a flag, or hiding a post).
    reason: String,
    /// Where to move the question (a category's slug).
    category: String,
    /// Left empty by people; bots fill it.
    website: String,
}

/// Answers, votes, accepts: one form endpoint per question.
pub async fn act(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
    Form(f): Form<ThreadForm>,
) -> Result<Response, PageError> {
    who.check(&f.csrf)?;
    let post = || {
        f.post
            .trim()
            .parse::<i64>()
            .map_err(|_| PageError::NotFound)
    };
    let mut new_answer = None;
    let done: Result<&'static str, StoreError> = match f.action.as_str() {
        // A bot filled the field people leave empty: it seems to work.
        "answer" if !f.website.trim().is_empty() => Ok("answered"),
        "answer" => match community::body(&f.body) {
            Ok(b) => {
                let t = now();
                // A refusal (no such question, locked) costs no post.
                match s.store.may_answer_question(&who.actor, id).await {
                    Ok(()) => {
                        if let Some(refused) = posting_refused(&s, &who, t).await? {
                            return Ok(refused);
                        }
                        s.store.answer(&who.actor, id, &b, t).await.map(|post| {
                            new_answer = Some(post);
                            "answered"
                        })
                    }
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(StoreError::Domain(e)),
        },
        "vote" | "unvote" => {
            let up = f.action == "vote";
            // This page's form votes for this question's posts only.
            let post = post()?;
            if s.store.post_topic(Some(&who.actor), post).await? != id {
                return Err(PageError::NotFound);
            }
            let done = if up { "voted" } else { "unvoted" };
            s.store
                .vote(&who.actor, post, up, now())
                .await
                .map(|_| done)
        }
        "accept" | "unaccept" => {
            let post = if f.action == "accept" {
                Some(post()?)
            } else {
                None
            };
            let done = if post.is_some() {
                "accepted"
            } else {
                "unaccepted"
            };
            s.store
                .accept_answer(&who.actor, id, post, now())
                .await
                .map(|()| done)
        }
        "watch" | "unwatch" => {
            let on = f.action == "watch";
            s.store
                .watch_question(&who.actor, id, on, now())
                .await
                .map(|()| if on { "watching" } else { "unwatched" })
        }
        "flag" => {
            let post = post()?;
            if s.store.post_topic(Some(&who.actor), post).await? != id {
                return Err(PageError::NotFound);
            }
            s.store
                .flag(&who.actor, post, &f.reason, now())
                .await
                .map(|()| "flagged")
        }
        "hide" | "unhide" | "lock" | "unlock" | "move" => {
            let m = match f.action.as_str() {
                "hide" => Moderation::Hide {
                    post: post()?,
                    reason: f.reason.clone(),
                },
                "unhide" => Moderation::Unhide { post: post()? },
                "lock" => Moderation::Lock,
                "unlock" => Moderation::Unlock,
                _ => Moderation::Move {
                    to: f.category.trim().to_string(),
                },
            };
            let base = s.public_url.trim_end_matches('/').to_string();
            let done = match &m {
                Moderation::Hide { .. } => "hidden",
                Moderation::Unhide { .. } => "unhidden",
                Moderation::Lock => "locked",
                Moderation::Unlock => "unlocked",
                Moderation::Move { .. } => "moved",
            };
            s.store
                .moderate(&who.actor, id, &m, now(), |h| {
                    crate::mail::post_hidden(h, &base)
                })
                .await
                .map(|()| done)
        }
        "promote" => match s
            .store
            .promote_to_faq(&who.actor, &s.model, id, now())
            .await
        {
            // The programme edits the draft into a clean entry next.
            Ok(article) => {
                return Ok(
                    Redirect::to(&format!("/articles/{article}?saved=promoted")).into_response()
                );
            }
            Err(e) => Err(e),
        },
        _ => return Err(PageError::NotFound),
    };
    // A refusal is said on the question's page: beside the answer box for
    // an answer (what was typed kept), above the answers for the rest.
    let answering = f.action == "answer";
    let done = match done {
        Ok(done) => done,
        Err(StoreError::Domain(e))
            if matches!(e, DomainError::Rule(_) | DomainError::Invalid { .. })
                || (answering && !matches!(e, DomainError::NotFound)) =>
        {
            let (field, draft) = if answering {
                ("answer", f.body.clone())
            } else {
                ("answers", String::new())
            };
            return thread_page(
                &s,
                Some(&who),
                id,
                1,
                StatusCode::UNPROCESSABLE_ENTITY,
                draft,
                vec![refusal(field, &e)],
                None,
            )
            .await;
        }
        Err(e) => return Err(e.into()),
    };
    // Back to the post acted on, on whichever page of answers shows it.
    let to = match new_answer.or_else(|| f.post.trim().parse::<i64>().ok()) {
        Some(post) => format!("/community/q/{id}?done={done}&post={post}#post-{post}"),
        None => format!("/community/q/{id}?done={done}"),
    };
    Ok(Redirect::to(&to).into_response())
}

/// Each problem beside its field, named as the form labels it.
fn labelled(problems: &[DomainError], labels: &[(&str, &str)]) -> Vec<FieldError> {
    problems
        .iter()
        .filter_map(|e| match e {
            DomainError::Invalid { field, message } => {
                let label = labels
                    .iter()
                    .find(|(f, _)| f == field)
                    .map_or_else(|| super::capitalised(field), |(_, l)| l.to_string());
                Some(form_error(field, format!("{label}: {message}")))
            }
            _ => None,
        })
        .collect()
}

/// How the ask and edit forms label their fields.
const POST_LABELS: &[(&str, &str)] = &[
    ("title", "Question"),
    ("body", "Details"),
    ("tag", "Part of the model"),
];

/// A refused write as the error beside field `id`.
fn refusal(id: &str, e: &DomainError) -> FieldError {
    match e {
        DomainError::Invalid { message, .. } => {
            form_error(id, format!("{}: {message}", super::capitalised(id)))
        }
        other => form_error(id, other.to_string()),
    }
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct EditForm {
    #[serde(skip_serializing)]
    csrf: String,
    title: String,
    body: String,
    /// How many revisions the editor saw.
    revisions: String,
}

#[derive(Serialize)]
struct EditPage {
    title: &'static str,
    user: UserView,
    post: i64,
    topic: i64,
    is_question: bool,
    form: EditForm,
    errors: Vec<FieldError>,
    title_max: usize,
    body_max: usize,
}

/// The post's newest text and whether it is the question, if the editor
/// may read it.
async fn current(
    s: &AppState,
    who: &SignedIn,
    post: i64,
) -> Result<(i64, bool, waymark_store::Revision, i64), PageError> {
    let (topic, revisions) = s.store.revisions(Some(&who.actor), post).await?;
    let n = revisions.len() as i64;
    let last = revisions
        .into_iter()
        .last()
        .ok_or_else(|| PageError::Internal(format!("post {post} has no revision")))?;
    let t = s.store.thread(Some(&who.actor), topic).await?;
    let is_question = t.question.id == post;
    let author = if is_question {
        t.question.author
    } else {
        t.answers
            .iter()
            .find(|a| a.id == post)
            .map(|a| a.author)
            .ok_or(PageError::NotFound)?
    };
    community::may_edit(&who.actor, author, t.topic.state())?;
    Ok((topic, is_question, last, n))
}

pub async fn edit_form(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(post): Path<i64>,
) -> Result<Response, PageError> {
    let (topic, is_question, last, n) = current(&s, &who, post).await?;
    let form = EditForm {
        title: last.title.unwrap_or_default(),
        body: last.body,
        revisions: n.to_string(),
        ..EditForm::default()
    };
    edit_page(
        &s,
        &who,
        StatusCode::OK,
        post,
        topic,
        is_question,
        form,
        Vec::new(),
    )
}

#[allow(clippy::too_many_arguments)]
fn edit_page(
    s: &AppState,
    who: &SignedIn,
    status: StatusCode,
    post: i64,
    topic: i64,
    is_question: bool,
    form: EditForm,
    errors: Vec<FieldError>,
) -> Result<Response, PageError> {
    view_page(
        s,
        status,
        "community-edit.html",
        &EditPage {
            title: if is_question {
                "Edit your question"
            } else {
                "Edit the answer"
            },
            user: who.view(),
            post,
            topic,
            is_question,
            form,
            errors,
            title_max: community::TITLE_MAX,
            body_max: community::BODY_MAX,
        },
    )
}

/// Saves an edit; the text before stays in the post's history.
pub async fn edit(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(post): Path<i64>,
    Form(f): Form<EditForm>,
) -> Result<Response, PageError> {
    who.check(&f.csrf)?;
    let (topic, is_question, _, _) = current(&s, &who, post).await?;
    let again = |errors: Vec<FieldError>, f: EditForm| {
        edit_page(
            &s,
            &who,
            StatusCode::UNPROCESSABLE_ENTITY,
            post,
            topic,
            is_question,
            f,
            errors,
        )
    };
    let checked = community::edit(is_question.then_some(f.title.as_str()), &f.body);
    let edit = match checked {
        Ok(e) => e,
        Err(problems) => return again(labelled(&problems, POST_LABELS), f),
    };
    let expected = f.revisions.trim().parse::<i64>().ok();
    match s
        .store
        .edit_post(&who.actor, post, expected, &edit, now())
        .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/community/q/{topic}?done=edited")).into_response()),
        Err(StoreError::Domain(e @ DomainError::Invalid { .. })) => {
            again(labelled(&[e], POST_LABELS), f)
        }
        Err(StoreError::Domain(e @ DomainError::Rule(_))) => again(vec![refusal("body", &e)], f),
        Err(e) => Err(e.into()),
    }
}

#[derive(Serialize)]
struct RevisionView {
    number: i64,
    title: Option<String>,
    html: Value,
    editor: String,
    at: i64,
}

#[derive(Serialize)]
struct HistoryPage {
    title: &'static str,
    user: Option<UserView>,
    topic: i64,
    revisions: Vec<RevisionView>,
}

/// Every revision of a post, the newest first.
pub async fn history(
    State(s): State<Arc<AppState>>,
    who: Option<SignedIn>,
    Path(post): Path<i64>,
) -> Result<Response, PageError> {
    let (topic, revisions) = s
        .store
        .revisions(who.as_ref().map(|w| &w.actor), post)
        .await?;
    view_page(
        &s,
        StatusCode::OK,
        "community-history.html",
        &HistoryPage {
            title: "Post history",
            user: who.as_ref().map(SignedIn::view),
            topic,
            revisions: revisions
                .into_iter()
                .rev()
                .map(|r| RevisionView {
                    number: r.number,
                    title: r.title,
                    html: post_html(&r.body),
                    editor: r.editor_name,
                    at: r.at.0,
                })
                .collect(),
        },
    )
}

#[derive(Serialize)]
struct UnsubscribePage {
    title: &'static str,
    user: Option<UserView>,
    key: String,
    /// The question's title or the category's name; none for a key that
    /// is no watch.
    what: Option<String>,
    done: bool,
}

/// Whether `key` looks like a watch's key, before any lookup.
fn unsubscribe_key(key: &str) -> bool {
    key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit())
}

fn unsubscribe_page(
    s: &AppState,
    who: Option<&SignedIn>,
    key: &str,
    what: Option<String>,
    done: bool,
) -> Result<Response, PageError> {
    // A question the programme hid is not named to a watcher who may not
    // read it.
    let what = what.map(|w| {
        if w.is_empty() {
            "a question the programme has hidden".to_string()
        } else {
            w
        }
    });
    let status = if what.is_some() {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    view_page(
        s,
        status,
        "unsubscribe.html",
        &UnsubscribePage {
            title: "Stop mail",
            user: who.map(SignedIn::view),
            key: key.to_string(),
            what,
            done,
        },
    )
}

/// The unsubscribe link from a mail: asks before it stops anything, as
/// mail scanners follow links.
pub async fn unsubscribe_form(
    State(s): State<Arc<AppState>>,
    who: Option<SignedIn>,
    Path(key): Path<String>,
) -> Result<Response, PageError> {
    let what = if unsubscribe_key(&key) {
        s.store.unsubscribe_target(&key).await?
    } else {
        None
    };
    unsubscribe_page(&s, who.as_ref(), &key, what, false)
}

/// Stops the watch: the page's button, or a mail program's one click
/// (RFC 8058), signed in or not.
pub async fn unsubscribe(
    State(s): State<Arc<AppState>>,
    who: Option<SignedIn>,
    Path(key): Path<String>,
) -> Result<Response, PageError> {
    let what = if unsubscribe_key(&key) {
        s.store.unsubscribe(&key).await?
    } else {
        None
    };
    unsubscribe_page(&s, who.as_ref(), &key, what, true)
}

/// Turns the notices waiting into mail for their watchers (each notice
/// once, whatever the servers); `base` is the public address. Returns how
/// many mails were queued.
pub async fn send_notices(
    store: &waymark_store::Store,
    base: &str,
    t: waymark_core::Timestamp,
) -> Result<usize, StoreError> {
    let mut queued = 0;
    loop {
        let pending = store.pending_notices(100).await?;
        if pending.is_empty() {
            return Ok(queued);
        }
        for n in &pending {
            if let Some(sent) = store
                .deliver_notice(n, t, |to| crate::mail::community_notice(to, n, base))
                .await?
            {
                queued += sent;
            }
        }
    }
}

#[derive(Serialize)]
struct FlaggedView {
    post: i64,
    question: i64,
    title: String,
    author: String,
    html: Value,
    flags: i64,
    reasons: Vec<String>,
    hidden: bool,
}

#[derive(Serialize)]
struct FlagsPage {
    title: &'static str,
    user: UserView,
    posts: Vec<FlaggedView>,
    notice: Option<&'static str>,
}

/// The programme's queue of flagged posts; to others it does not exist.
pub async fn flags(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    community::may_moderate(&who.actor).map_err(|_| PageError::NotFound)?;
    let posts = s
        .store
        .flagged_posts(&who.actor)
        .await?
        .into_iter()
        .map(|p| FlaggedView {
            html: post_html(&p.body),
            post: p.post,
            question: p.question,
            title: p.title,
            author: p.author,
            flags: p.flags,
            reasons: p.reasons,
            hidden: p.hidden,
        })
        .collect();
    view_page(
        &s,
        StatusCode::OK,
        "community-flags.html",
        &FlagsPage {
            title: "Flagged posts",
            user: who.view(),
            posts,
            notice: (q.done == "closed")
                .then_some("The flags are closed; the post stays as it is."),
        },
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DismissForm {
    csrf: String,
    post: String,
}

/// Closes a post's flags (the programme looked and left it).
pub async fn dismiss_flags(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Form(f): Form<DismissForm>,
) -> Result<Response, PageError> {
    who.check(&f.csrf)?;
    community::may_moderate(&who.actor).map_err(|_| PageError::NotFound)?;
    let post = f
        .post
        .trim()
        .parse::<i64>()
        .map_err(|_| PageError::NotFound)?;
    s.store.dismiss_flags(&who.actor, post, now()).await?;
    Ok(Redirect::to("/community/flags?done=closed").into_response())
}
