//! The community portal through the API: categories, questions, answers,
//! edits and their history, votes and accepted answers. The same store
//! calls and core rules as the community's pages.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use waymark_core::DomainError;
use waymark_core::community::{self, Category, NewCategory, Question, StepTag};
use waymark_store::{Revision, StoreError, Thread, TopicRow, now};

use super::contract::Body;
use super::{
    ApiState, Caller, Params, Problem, created, cursor_keys, cursor_of, invalid_fields, not_found,
    query, unprocessable, with_next_link,
};

/// "no such question" (or post, or category) rather than the store's
/// generic words.
fn problem(what: &'static str) -> impl Fn(StoreError) -> Problem {
    move |e| match e {
        StoreError::Domain(DomainError::NotFound) => not_found(what),
        StoreError::Domain(DomainError::Invalid { field, message }) => {
            unprocessable(field, message)
        }
        e => e.into(),
    }
}

/// A slug (letters of any script) as it goes in a header's address.
fn escaped(slug: &str) -> String {
    url::form_urlencoded::byte_serialize(slug.as_bytes()).collect()
}

/// The categories, in order.
#[utoipa::path(get, path = "/api/v1/community/categories", responses(
    (status = 200, body = Vec<Category>),
))]
pub(super) async fn categories(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
) -> Result<Json<Vec<Category>>, Problem> {
    Ok(Json(s.store.categories(Some(&actor)).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CategoryRequest {
    #[schema(max_length = 80)]
    name: String,
    #[serde(default)]
    #[schema(max_length = 300)]
    description: String,
    /// `public` (anyone, signed out too) or `members` (people with an account).
    #[schema(pattern = "^(public|members)$")]
    visibility: String,
    /// Only the programme starts questions here.
    #[serde(default)]
    programme_only: bool,
}

/// Adds a category (the programme).
#[utoipa::path(post, path = "/api/v1/community/categories", request_body = CategoryRequest, responses(
    (status = 201, body = Category),
    (status = 409, body = Problem, description = "a category with this name or address exists"),
))]
pub(super) async fn add_category(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Body(r): Body<CategoryRequest>,
) -> Result<Response, Problem> {
    community::may_moderate(&actor)?;
    let c = NewCategory::parse(&r.name, &r.description, &r.visibility, r.programme_only)
        .map_err(|p| invalid_fields(&p))?;
    s.store.add_category(&actor, &c).await?;
    let made = s.store.category(Some(&actor), &c.slug).await?;
    Ok(created(
        &format!(
            "/api/v1/community/categories/{}/questions",
            escaped(&made.slug)
        ),
        &made,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct TopicsQuery {
    /// How many, the most recently active first: 1 to 100 (default 30).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The page after the one whose `Link: rel="next"` header gave it.
    #[param(pattern = "^[0-9a-f]{1,64}$")]
    cursor: Option<String>,
}

/// A category's questions, the most recently active first. A full page's
/// `Link` header names the next page.
#[utoipa::path(get, path = "/api/v1/community/categories/{slug}/questions",
    params(("slug" = String, Path), TopicsQuery), responses(
    (status = 200, body = Vec<TopicRow>, headers(
        ("link" = String, description = "`<…?cursor=…>; rel=\"next\"` when there may be more")
    )),
    (status = 404, body = Problem),
))]
pub(super) async fn category_questions(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(slug): Params<String>,
    q: Result<Query<TopicsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let q = query(q)?;
    let limit = i64::from(q.limit.unwrap_or(30));
    if !(1..=waymark_store::MAX_TOPICS_PAGE).contains(&limit) {
        return Err(unprocessable(
            "limit",
            format!("choose between 1 and {}", waymark_store::MAX_TOPICS_PAGE),
        ));
    }
    let before =
        cursor_keys(q.cursor.as_deref())?.map(|[at, id]| (waymark_core::Timestamp(at), id));
    let list = s
        .store
        .topics(Some(&actor), &slug, limit, before)
        .await
        .map_err(problem("category"))?;
    let next = (list.len() as i64 == limit)
        .then(|| {
            list.last()
                .map(|t| cursor_of(&[t.last_activity_at.0, t.id]))
        })
        .flatten();
    Ok(with_next_link(
        Json(list).into_response(),
        &format!("/api/v1/community/categories/{}/questions", escaped(&slug)),
        next,
        &format!("&limit={limit}"),
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct TaggedQuery {
    /// A stage (`discovery`) or a step (`discovery/2`) of the model.
    #[param(max_length = 100, pattern = "^[A-Za-z0-9-]+(/[0-9]+)?$")]
    tag: String,
}

/// The questions about a stage or a step of the model, the most recently
/// active first (at most 100).
#[utoipa::path(get, path = "/api/v1/community/questions", params(TaggedQuery), responses(
    (status = 200, body = Vec<TopicRow>),
    (status = 422, body = Problem),
))]
pub(super) async fn tagged(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    q: Result<Query<TaggedQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<TopicRow>>, Problem> {
    let q = query(q)?;
    let tag = StepTag::parse(&q.tag, &s.model)
        .map_err(|e| invalid_fields(&[e]))?
        .ok_or_else(|| unprocessable("tag", "name a stage or a step, like discovery/2".into()))?;
    Ok(Json(
        s.store
            .tagged_topics(Some(&actor), &tag, waymark_store::MAX_TOPICS_PAGE)
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct QuestionRequest {
    /// The category's slug.
    #[schema(max_length = 100)]
    category: String,
    #[schema(max_length = 200)]
    title: String,
    /// Markdown.
    #[schema(max_length = 30000)]
    body: String,
    /// A stage (`discovery`) or step (`discovery/2`) it is about; empty or
    /// null for none.
    #[serde(default)]
    #[schema(max_length = 100)]
    tag: Option<String>,
}

/// The new post's id.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = CommunityCreated)]
pub(super) struct Made {
    id: i64,
}

/// A new account past its posting limit (the one rate limiter the pages
/// use too): 429.
async fn may_post(s: &ApiState, actor: &waymark_core::Actor) -> Result<(), Problem> {
    if crate::app::posting_limited(&s.store, actor, now()).await? {
        return Err(Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_posts",
            "Too many posts for now",
            crate::app::POSTING_LIMITED,
        ));
    }
    Ok(())
}

/// Asks a question.
#[utoipa::path(post, path = "/api/v1/community/questions", request_body = QuestionRequest, responses(
    (status = 201, body = Made),
    (status = 403, body = Problem, description = "only the programme posts in this category"),
    (status = 404, body = Problem),
    (status = 429, body = Problem, description = "a new account posted its few posts this hour"),
))]
pub(super) async fn ask(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Body(r): Body<QuestionRequest>,
) -> Result<Response, Problem> {
    let q = Question::parse(&r.title, &r.body, r.tag.as_deref().unwrap_or(""), &s.model)
        .map_err(|p| invalid_fields(&p))?;
    s.store
        .may_ask_in(&actor, r.category.trim())
        .await
        .map_err(problem("category"))?;
    may_post(&s, &actor).await?;
    let id = s
        .store
        .ask(&actor, r.category.trim(), &q, now())
        .await
        .map_err(problem("category"))?;
    Ok(created(
        &format!("/api/v1/community/questions/{id}"),
        &Made { id },
    ))
}

/// A question with its answers: the accepted one first, then by votes.
#[utoipa::path(get, path = "/api/v1/community/questions/{id}", params(("id" = i64, Path)), responses(
    (status = 200, body = Thread),
    (status = 404, body = Problem),
))]
pub(super) async fn question(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
) -> Result<Json<Thread>, Problem> {
    Ok(Json(
        s.store
            .thread(Some(&actor), id)
            .await
            .map_err(problem("question"))?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct AnswerRequest {
    /// Markdown.
    #[schema(max_length = 30000)]
    body: String,
}

/// Answers a question.
#[utoipa::path(post, path = "/api/v1/community/questions/{id}/answers", params(("id" = i64, Path)),
    request_body = AnswerRequest, responses(
    (status = 201, body = Made),
    (status = 403, body = Problem, description = "the question is locked"),
    (status = 404, body = Problem),
    (status = 429, body = Problem, description = "a new account posted its few posts this hour"),
))]
pub(super) async fn answer(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
    Body(r): Body<AnswerRequest>,
) -> Result<Response, Problem> {
    let body = community::body(&r.body).map_err(|e| invalid_fields(&[e]))?;
    s.store
        .may_answer_question(&actor, id)
        .await
        .map_err(problem("question"))?;
    may_post(&s, &actor).await?;
    let post = s
        .store
        .answer(&actor, id, &body, now())
        .await
        .map_err(problem("question"))?;
    Ok(created(
        &format!("/api/v1/community/questions/{id}"),
        &Made { id: post },
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct AcceptRequest {
    /// The answer to accept; `null` takes the acceptance back.
    post: Option<i64>,
}

/// Accepts an answer (the asker or the programme), or takes it back.
#[utoipa::path(post, path = "/api/v1/community/questions/{id}/accept", params(("id" = i64, Path)),
    request_body = AcceptRequest, responses(
    (status = 204),
    (status = 403, body = Problem),
    (status = 404, body = Problem),
    (status = 409, body = Problem, description = "already the accepted answer, none is accepted, or the answer is hidden"),
    (status = 422, body = Problem, description = "the post is not an answer to this question"),
))]
pub(super) async fn accept(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
    Body(r): Body<AcceptRequest>,
) -> Result<StatusCode, Problem> {
    s.store
        .accept_answer(&actor, id, r.post, now())
        .await
        .map_err(problem("answer on this question"))?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct EditRequest {
    /// The question's new title (a question's post only).
    #[schema(max_length = 200)]
    title: Option<String>,
    /// Markdown.
    #[schema(max_length = 30000)]
    body: String,
    /// How many revisions you saw: an edit since then is refused.
    revisions: Option<i64>,
}

/// The revision an edit made.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = CommunityEdited)]
pub(super) struct Edited {
    revision: i64,
}

/// Edits a post (its author, or the programme); the text before stays in
/// its revisions.
#[utoipa::path(post, path = "/api/v1/community/posts/{id}/edit", params(("id" = i64, Path)),
    request_body = EditRequest, responses(
    (status = 200, body = Edited),
    (status = 403, body = Problem),
    (status = 409, body = Problem, description = "edited since the revision you saw, or nothing changed"),
    (status = 404, body = Problem),
))]
pub(super) async fn edit(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
    Body(r): Body<EditRequest>,
) -> Result<Json<Edited>, Problem> {
    let e = community::edit(r.title.as_deref(), &r.body).map_err(|p| invalid_fields(&p))?;
    let revision = s
        .store
        .edit_post(&actor, id, r.revisions, &e, now())
        .await
        .map_err(problem("post"))?;
    Ok(Json(Edited { revision }))
}

/// Every revision of a post, the first first.
#[utoipa::path(get, path = "/api/v1/community/posts/{id}/revisions", params(("id" = i64, Path)), responses(
    (status = 200, body = Vec<Revision>),
    (status = 404, body = Problem),
))]
pub(super) async fn revisions(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
) -> Result<Json<Vec<Revision>>, Problem> {
    let (_, list) = s
        .store
        .revisions(Some(&actor), id)
        .await
        .map_err(problem("post"))?;
    Ok(Json(list))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct VoteRequest {
    /// `true` up-votes; `false` takes your vote back.
    up: bool,
}

/// The post's votes after yours.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = CommunityVotes)]
pub(super) struct Votes {
    votes: i64,
}

/// Up-votes a post, or takes the vote back: once a person a post, never
/// one's own.
#[utoipa::path(post, path = "/api/v1/community/posts/{id}/vote", params(("id" = i64, Path)),
    request_body = VoteRequest, responses(
    (status = 200, body = Votes),
    (status = 404, body = Problem),
    (status = 409, body = Problem, description = "a second vote, or a vote for your own post"),
))]
pub(super) async fn vote(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
    Body(r): Body<VoteRequest>,
) -> Result<Json<Votes>, Problem> {
    let votes = s
        .store
        .vote(&actor, id, r.up, now())
        .await
        .map_err(problem("post"))?;
    Ok(Json(Votes { votes }))
}

/// Drafts an FAQ entry (a knowledge article) from a question and its
/// accepted answer (the programme); edit it with `POST
/// /api/v1/articles/{id}` and publish it there.
#[utoipa::path(post, path = "/api/v1/community/questions/{id}/promote", params(("id" = i64, Path)),
    responses(
    (status = 201, body = FaqDrafted, description = "the draft article's id; `Location` is the FAQ"),
    (status = 403, body = Problem),
    (status = 404, body = Problem),
    (status = 409, body = Problem, description = "no accepted answer yet, or already in the FAQ"),
))]
pub(super) async fn promote(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
) -> Result<Response, Problem> {
    let article = s
        .store
        .promote_to_faq(&actor, &s.model, id, now())
        .await
        .map_err(problem("question"))?;
    Ok(created("/api/v1/faq", &FaqDrafted { article }))
}

/// The FAQ entry a promotion drafted.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct FaqDrafted {
    /// The knowledge article that is the entry.
    article: i64,
}

/// The community FAQ's entries in order, drafts and archived ones too
/// (the programme; readers see the published ones on the guide and in
/// `GET /api/v1/articles`, each with its `faq` place).
#[utoipa::path(get, path = "/api/v1/faq", responses(
    (status = 200, body = Vec<waymark_store::FaqEntry>),
    (status = 401, body = Problem),
    (status = 403, body = Problem),
))]
pub(super) async fn faq(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
) -> Result<Json<Vec<waymark_store::FaqEntry>>, Problem> {
    waymark_core::knowledge::may_write(&actor)?;
    Ok(Json(s.store.faq_entries().await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct MoveRequest {
    /// The entry's new place, from 1 (shown first); past the end puts it
    /// last.
    #[schema(minimum = 1)]
    position: i64,
}

/// Moves an FAQ entry to another place in the FAQ's order (the
/// programme); the guide shows the new order at once.
#[utoipa::path(put, path = "/api/v1/faq/{article}/position", params(("article" = i64, Path)),
    request_body = MoveRequest, responses(
    (status = 200, body = Vec<waymark_store::FaqEntry>, description = "the entries in their new order"),
    (status = 403, body = Problem),
    (status = 404, body = Problem),
    (status = 422, body = Problem),
))]
pub(super) async fn move_faq(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(article): Params<i64>,
    Body(r): Body<MoveRequest>,
) -> Result<Json<Vec<waymark_store::FaqEntry>>, Problem> {
    let entries = s
        .actions
        .move_faq_entry(&actor, article, r.position)
        .await
        .map_err(|e| match e {
            crate::actions::ArticleError::Store(e) => problem("FAQ entry")(e),
            other => super::article_problem(other),
        })?;
    Ok(Json(entries))
}

/// Starts watching a question: new and accepted answers come by mail, as
/// often as the caller's settings say.
#[utoipa::path(put, path = "/api/v1/community/questions/{id}/watch", params(("id" = i64, Path)),
    responses(
    (status = 204),
    (status = 401, body = Problem),
    (status = 404, body = Problem),
))]
pub(super) async fn watch_question(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
) -> Result<StatusCode, Problem> {
    s.store
        .watch_question(&actor, id, true, now())
        .await
        .map_err(problem("question"))?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stops watching a question (nothing if the caller did not).
#[utoipa::path(delete, path = "/api/v1/community/questions/{id}/watch", params(("id" = i64, Path)),
    responses(
    (status = 204),
    (status = 401, body = Problem),
    (status = 404, body = Problem),
))]
pub(super) async fn unwatch_question(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
) -> Result<StatusCode, Problem> {
    s.store
        .watch_question(&actor, id, false, now())
        .await
        .map_err(problem("question"))?;
    Ok(StatusCode::NO_CONTENT)
}

/// Starts watching a category: every question in it.
#[utoipa::path(put, path = "/api/v1/community/categories/{slug}/watch", params(("slug" = String, Path)),
    responses(
    (status = 204),
    (status = 401, body = Problem),
    (status = 404, body = Problem),
))]
pub(super) async fn watch_category(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(slug): Params<String>,
) -> Result<StatusCode, Problem> {
    s.store
        .watch_category(&actor, &slug, true, now())
        .await
        .map_err(problem("category"))?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stops watching a category.
#[utoipa::path(delete, path = "/api/v1/community/categories/{slug}/watch", params(("slug" = String, Path)),
    responses(
    (status = 204),
    (status = 401, body = Problem),
    (status = 404, body = Problem),
))]
pub(super) async fn unwatch_category(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(slug): Params<String>,
) -> Result<StatusCode, Problem> {
    s.store
        .watch_category(&actor, &slug, false, now())
        .await
        .map_err(problem("category"))?;
    Ok(StatusCode::NO_CONTENT)
}

/// What the caller watches.
#[utoipa::path(get, path = "/api/v1/community/watching", responses(
    (status = 200, body = waymark_store::Watching),
    (status = 401, body = Problem),
))]
pub(super) async fn watching(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
) -> Result<Json<waymark_store::Watching>, Problem> {
    Ok(Json(s.store.watching(&actor).await?))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub(super) struct FlagRequest {
    /// What is wrong with the post (optional, one line).
    #[schema(max_length = 500)]
    reason: String,
}

/// Flags a post for the programme to look at (once a person: again
/// changes the reason). Not one's own post.
#[utoipa::path(post, path = "/api/v1/community/posts/{id}/flag", params(("id" = i64, Path)),
    request_body = FlagRequest, responses(
    (status = 204),
    (status = 404, body = Problem),
    (status = 409, body = Problem, description = "your own post"),
    (status = 422, body = Problem),
))]
pub(super) async fn flag(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
    Body(r): Body<FlagRequest>,
) -> Result<StatusCode, Problem> {
    s.store
        .flag(&actor, id, &r.reason, now())
        .await
        .map_err(problem("post"))?;
    Ok(StatusCode::NO_CONTENT)
}

/// The posts with open flags, the most flagged first (the programme).
#[utoipa::path(get, path = "/api/v1/community/flags", responses(
    (status = 200, body = Vec<waymark_store::FlaggedPost>),
    (status = 403, body = Problem),
))]
pub(super) async fn flags(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
) -> Result<Json<Vec<waymark_store::FlaggedPost>>, Problem> {
    Ok(Json(s.store.flagged_posts(&actor).await?))
}

/// How many flags were closed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct Dismissed {
    closed: u64,
}

/// Closes a post's open flags without hiding it (the programme looked).
#[utoipa::path(post, path = "/api/v1/community/posts/{id}/flags/dismiss", params(("id" = i64, Path)),
    responses(
    (status = 200, body = Dismissed),
    (status = 403, body = Problem),
))]
pub(super) async fn dismiss(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
) -> Result<Json<Dismissed>, Problem> {
    let closed = s.store.dismiss_flags(&actor, id, now()).await?;
    Ok(Json(Dismissed { closed }))
}

/// What the programme does to a question.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub(super) enum ModerateRequest {
    /// Hides a post (the question's own: the whole question) from
    /// everyone but the programme and its author, who is told `reason`.
    Hide {
        post: i64,
        #[schema(max_length = 500)]
        reason: String,
    },
    Unhide {
        post: i64,
    },
    /// No new answers or edits but the programme's.
    Lock,
    Unlock,
    /// To the category with this slug.
    Move {
        category: String,
    },
}

/// Hides or shows a post, locks or unlocks the question, or moves it
/// (the programme); each is an event in the question's chain.
#[utoipa::path(post, path = "/api/v1/community/questions/{id}/moderate", params(("id" = i64, Path)),
    request_body = ModerateRequest, responses(
    (status = 204),
    (status = 403, body = Problem),
    (status = 404, body = Problem),
    (status = 409, body = Problem, description = "already so (hidden, locked, in that category)"),
    (status = 422, body = Problem),
))]
pub(super) async fn moderate(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
    Body(r): Body<ModerateRequest>,
) -> Result<StatusCode, Problem> {
    use waymark_core::community::Moderation;
    let m = match r {
        ModerateRequest::Hide { post, reason } => Moderation::Hide { post, reason },
        ModerateRequest::Unhide { post } => Moderation::Unhide { post },
        ModerateRequest::Lock => Moderation::Lock,
        ModerateRequest::Unlock => Moderation::Unlock,
        ModerateRequest::Move { category } => Moderation::Move {
            to: category.trim().to_string(),
        },
    };
    let base = s.actions.public_url.trim_end_matches('/').to_string();
    s.store
        .moderate(&actor, id, &m, now(), |h| {
            crate::mail::post_hidden(h, &base)
        })
        .await
        .map_err(problem("question"))?;
    Ok(StatusCode::NO_CONTENT)
}
