//! The engagement workspace for people: sign-in, the home page, running an
//! engagement, agencies and people. Server-rendered HTML that works without
//! JavaScript.
//!
//! Handlers translate forms into the same store calls and core commands the
//! JSON API uses; the rules live in waymark-core and nothing here decides
//! what is allowed. Every route is listed once in [`table`], which builds
//! the router and which the access-matrix test walks, so a new route cannot
//! escape that test.

mod adopters;
mod assessments;
mod auth;
mod benefits;
mod community;
mod delivery;
mod directory;
mod discussion;
mod documents;
mod engagements;
mod factor;
mod forms;
pub(crate) mod intake;
mod knowledge;
mod lessons;
mod letters;
mod mailbox;
mod migrations;
mod oidc;
mod outbox;
mod portfolio;
pub(crate) mod records;
mod retention;
mod search;
mod sessions;
mod surveys;
mod views;
mod webhooks;
mod workshops;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use waymark_model::SourceFile;
use waymark_store::{Store, StoreError};

pub(crate) use auth::{
    SessionInfo, constant_eq, end_session_by_reference, send_password_link, sessions_of_person,
    unlink_sign_in,
};
pub use auth::{hash_password, verify_password};
pub use community::send_notices;
pub(crate) use community::{POSTING_LIMITED, posting_limited};
pub use discussion::send_mentions;
pub use engagements::write_digests;
pub(crate) use factor::{reset_notice, tell_corrected, tell_person};
pub(crate) use intake::limited;
pub use knowledge::{file_articles, published};
pub use retention::run_daily as run_retention_daily;
pub use sessions::DbSessions;
pub use views::{ViewError, Views};

/// How long a session lasts without use.
pub const IDLE_MINUTES: i64 = 8 * 60;

/// What the pages need.
#[derive(Debug)]
pub struct AppState {
    pub store: Store,
    /// The current model's pages: new engagements pin them.
    pub pages: Arc<Vec<SourceFile>>,
    /// The current model, built from `pages` once (lists name its stages).
    pub model: Arc<waymark_model::Model>,
    pub views: Views,
    /// Where people reach this site, for invite links and secure cookies
    /// (`https://…` marks cookies Secure).
    pub public_url: String,
    /// The programme's address: mail comes from it, invitations name it.
    pub mail_from: String,
    /// Whether mail is sent (an SMTP server is configured), for the outbox page.
    pub smtp: bool,
    /// The served guide, re-rendered when an article or release is published.
    pub guide: Option<Arc<waymark_site::server::Guide>>,
    /// Proxies whose `X-Forwarded-For` is believed (`ops::client_ip`).
    pub trusted_proxies: Arc<[ipnet::IpNet]>,
    /// Networks webhooks may deliver to although they are not public.
    pub webhook_allow: Arc<Vec<ipnet::IpNet>>,
    /// Whose addresses may register for the community.
    pub community_domains: Arc<Vec<String>>,
    /// The OpenID providers people may sign in with.
    pub oidc: Arc<crate::oidc::Providers>,
}

/// The programme's mailbox, the default sender of Waymark's mail.
pub const PROGRAMME_MAILBOX: &str = "protectedutility@dta.gov.au";

impl AppState {
    /// The actions shared with the API (a workshop and its invitations, a
    /// letter, an upload), on this state's store and addresses.
    pub fn actions(&self) -> crate::actions::Actions {
        crate::actions::Actions {
            guide: self.guide.clone(),
            store: self.store.clone(),
            public_url: self.public_url.clone(),
            mail_from: self.mail_from.clone(),
            webhook_allow: Arc::clone(&self.webhook_allow),
        }
    }
}

/// One route: the method, the path and its handler.
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    handler: MethodRouter<Arc<AppState>>,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

fn get<H, T>(path: &'static str, h: H) -> Route
where
    H: Handler<T, Arc<AppState>>,
    T: 'static,
{
    Route {
        method: Method::GET,
        path,
        handler: on(MethodFilter::GET, h),
    }
}

fn post<H, T>(path: &'static str, h: H) -> Route
where
    H: Handler<T, Arc<AppState>>,
    T: 'static,
{
    Route {
        method: Method::POST,
        path,
        handler: on(MethodFilter::POST, h),
    }
}

/// A form that uploads a file: the body may be as large as the file limit.
fn upload<H, T>(path: &'static str, h: H) -> Route
where
    H: Handler<T, Arc<AppState>>,
    T: 'static,
{
    let mut r = post(path, h);
    r.handler = r.handler.layer(axum::extract::DefaultBodyLimit::max(
        waymark_store::MAX_FILE_BYTES + 64 * 1024,
    ));
    r
}

/// What the guide links to on every page: the workspace's request form
/// and sign-in, at `base` (empty when served beside them, else the public
/// URL of the workspace an exported site belongs to).
pub fn guide_links(base: &str) -> waymark_site::Published {
    let base = base.trim_end_matches('/');
    let link = |text: &str, path: &str| waymark_site::Link {
        text: text.into(),
        href: format!("{base}{path}"),
    };
    waymark_site::Published {
        links: vec![
            link("Request support", "/request-support"),
            link("Community", "/community"),
            link("Who uses the blueprint", "/adopters"),
            link("Sign in", "/login"),
        ],
        request_support: Some(format!("{base}/request-support")),
        search: Some(format!("{base}/search")),
        ..waymark_site::Published::default()
    }
}

/// Every page and form target of the workspace.
pub fn table() -> Vec<Route> {
    vec![
        get("/login", auth::login_form),
        post("/login", auth::login),
        get("/login/oidc/{provider}", oidc::start),
        get("/login/oidc/{provider}/callback", oidc::callback),
        get("/login/code", factor::code_form),
        post("/login/code", factor::code),
        post("/logout", auth::logout),
        get("/register", auth::register_form),
        post("/register", auth::register),
        get("/register/sent", auth::register_sent),
        get("/register/{token}", auth::registration_form),
        post("/register/{token}", auth::complete_registration),
        get("/invite/{token}", auth::invite_form),
        post("/invite/{token}", auth::accept_invite),
        get("/setup/{token}", auth::setup_form),
        post("/setup/{token}", auth::setup),
        get("/settings", auth::settings_form),
        get("/settings/data", directory::personal_data),
        post("/settings", auth::save_settings),
        post("/settings/password", auth::change_password),
        post("/settings/name", auth::change_name),
        post("/settings/sessions", auth::end_session),
        post("/settings/sign-in-accounts/unlink", auth::unlink_own),
        get("/settings/second-factor", factor::page),
        post("/settings/second-factor", factor::set_up),
        post("/settings/second-factor/codes", factor::new_codes),
        post("/settings/second-factor/off", factor::turn_off),
        post("/settings/second-factor/confirm", factor::confirm),
        post("/settings/passkeys", factor::add_passkey),
        post("/settings/passkeys/remove", factor::remove_passkey),
        get("/passkey.js", factor::script),
        post("/settings/tokens", auth::create_token),
        post("/settings/tokens/revoke", auth::revoke_token),
        get("/settings/webhooks", webhooks::webhooks),
        post("/settings/webhooks", webhooks::subscribe),
        get("/settings/webhooks/{id}", webhooks::webhook_page),
        post("/settings/webhooks/{id}", webhooks::webhook_action),
        get("/engagements", engagements::home),
        post("/engagements", engagements::start),
        get("/engagements/{id}", engagements::workspace),
        post("/engagements/{id}", engagements::command),
        get("/engagements/{id}/stages/{stage}", engagements::stage),
        get("/engagements/{id}/risks", engagements::risks),
        get("/engagements/{id}/benefits", engagements::benefits),
        get("/engagements/{id}/benefits.csv", benefits::csv),
        get("/lessons", lessons::lessons),
        get("/portfolio", portfolio::dashboard),
        post("/portfolio/capacity", portfolio::set_capacity),
        get("/portfolio/{file}", portfolio::chart_csv),
        get("/surveys", surveys::list),
        post("/surveys", surveys::create),
        get("/surveys/{id}", surveys::page),
        post("/surveys/{id}", surveys::act),
        get("/surveys/{id}/results", surveys::results),
        get("/surveys/{id}/results.csv", surveys::results_csv),
        get("/answer/{token}", surveys::invitation_form),
        post("/answer/{token}", surveys::answer_invitation),
        get("/answer/link/{key}", surveys::public_form),
        post("/answer/link/{key}", surveys::answer_public),
        get("/engagements/{id}/decisions", engagements::decisions),
        get("/engagements/{id}/people", engagements::people),
        get("/engagements/{id}/history", engagements::history),
        get("/engagements/{id}/discussion", engagements::discussion),
        get("/agencies", directory::agencies),
        post("/agencies", directory::add_agency),
        get("/agencies/{id}", directory::agency),
        get("/people", directory::people),
        post("/people", directory::invite),
        get("/people/{id}", directory::person),
        get("/people/{id}/data", directory::personal_data),
        post("/people/{id}", directory::add_role),
        post("/people/{id}/deactivate", directory::deactivate),
        post("/people/{id}/reactivate", directory::reactivate),
        post("/people/{id}/remove", directory::remove),
        post("/people/{id}/second-factor/reset", factor::reset),
        post("/people/{id}/sign-in-accounts/unlink", auth::unlink_theirs),
        post("/people/{id}/password-link", auth::password_link),
        post("/people/{id}/details", directory::correct),
        get("/request-support", intake::support_form),
        post("/request-support", intake::request_support),
        get("/request-support/sent", intake::support_sent),
        get("/enquiries", intake::enquiries),
        get("/enquiries/{id}", intake::enquiry),
        post("/enquiries/{id}", intake::triage),
        get("/engagements/{id}/workshops", workshops::workshops),
        post("/engagements/{id}/workshops", workshops::workshop_command),
        get(
            "/engagements/{id}/workshops/{file}",
            workshops::workshop_ics,
        ),
        get("/engagements/{id}/letters/{kind}", letters::letter),
        post("/engagements/{id}/letters/{kind}", letters::letter_command),
        get(
            "/engagements/{id}/letters/{kind}/{file}",
            letters::letter_pdf,
        ),
        get("/letter-templates/{kind}", letters::letter_template),
        post("/letter-templates/{kind}", letters::save_letter_template),
        get("/engagements/{id}/delivery", delivery::delivery),
        post("/engagements/{id}/delivery", delivery::save_artefact),
        get(
            "/engagements/{id}/delivery/{file}",
            delivery::delivery_export,
        ),
        get("/engagements/{id}/guides/{guide}", delivery::guide),
        upload("/engagements/{id}/documents", documents::upload),
        get("/files/{id}", documents::file),
        get("/outbox", outbox::outbox),
        get("/retention", retention::retention),
        post("/retention", retention::change),
        get("/mailbox", mailbox::mailbox),
        post("/mailbox", mailbox::review),
        get("/search", search::search),
        get("/articles", knowledge::articles),
        get("/articles/new", knowledge::new_article),
        post("/articles/faq", knowledge::move_faq),
        post("/articles/new", knowledge::create_article),
        get("/articles/{id}", knowledge::article),
        post("/articles/{id}", knowledge::save_article),
        get("/knowledge/{slug}/changes", knowledge::changes),
        get("/knowledge/{slug}/feedback", knowledge::feedback_form),
        post("/knowledge/{slug}/feedback", knowledge::feedback),
        get("/adopters", adopters::directory),
        get("/privacy", adopters::privacy),
        post("/agencies/{id}/directory", adopters::save),
        get("/community", community::index),
        post("/community/categories", community::add_category),
        get("/community/c/{slug}", community::category),
        post("/community/c/{slug}", community::watch_category),
        get("/community/flags", community::flags),
        post("/community/flags", community::dismiss_flags),
        get("/unsubscribe/{key}", community::unsubscribe_form),
        post("/unsubscribe/{key}", community::unsubscribe),
        get("/community/about", community::about),
        get("/community/ask", community::ask_form),
        post("/community/ask", community::ask),
        get("/community/q/{id}", community::thread),
        post("/community/q/{id}", community::act),
        get("/community/posts/{id}/edit", community::edit_form),
        post("/community/posts/{id}/edit", community::edit),
        get("/community/posts/{id}/history", community::history),
        get("/agencies/{id}/assessment", assessments::assessment),
        post("/agencies/{id}/assessment", assessments::assess),
        post("/agencies/{id}/type", assessments::set_type),
        get("/migrations", migrations::migrations),
        post("/migrations", migrations::run),
        get("/blueprint", knowledge::releases),
        post("/blueprint", knowledge::add_release),
    ]
}

/// The workspace's routes with sessions, the same-origin check and
/// security headers.
pub fn router(state: Arc<AppState>) -> Router {
    let mut r: Router<Arc<AppState>> = Router::new();
    for route in table() {
        r = r.route(route.path, route.handler);
    }
    let sessions = SessionManagerLayer::new(DbSessions(state.store.clone()))
        .with_name("waymark_session")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.public_url.starts_with("https://"))
        .with_expiry(Expiry::OnInactivity(time::Duration::minutes(IDLE_MINUTES)));
    let scheme = if state.public_url.starts_with("https://") {
        "https"
    } else {
        "http"
    };
    // The error page wraps the cross-site check, so its refusal is a page too.
    r.fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(FORM_BYTES))
        .layer(middleware::from_fn(plain_bodies))
        .layer(middleware::from_fn_with_state(scheme, same_origin))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            render_failures,
        ))
        .layer(middleware::from_fn(headers))
        .layer(sessions)
        .with_state(state)
}

async fn not_found() -> PageError {
    PageError::NotFound
}

/// Refuses state-changing requests sent from another site: the browser's
/// `Origin` (or, failing that, `Sec-Fetch-Site`) must say this site. Forms
/// also carry a per-session token (see `auth::Csrf`); this check stops a
/// cross-site post even before that, and covers the sign-in form.
async fn same_origin(State(scheme): State<&'static str>, req: Request, next: Next) -> Response {
    // A mail provider's one-click unsubscribe (RFC 8058) posts from its
    // own servers; the key in the address is the only permission it needs.
    if !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        && !req.uri().path().starts_with("/unsubscribe/")
        && cross_site(req.headers(), scheme)
    {
        return PageError::Forbidden(
            "This form was sent from another site, so it was refused. Open the page on this \
             site and send the form from there."
                .into(),
        )
        .into_response();
    }
    next.run(req).await
}

/// A body marked as compressed (`Content-Encoding`) is refused: no page
/// sends one, a compressed form cannot be read, and reading one marked so
/// as plain would keep what its sender did not mean. So is a form whose
/// text is not UTF-8: the form reader would keep it with each bad byte
/// changed to U+FFFD, which is not what was typed.
async fn plain_bodies(req: Request, next: Next) -> Response {
    let sends = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if sends && crate::api::encoded_body(req.headers()) {
        return PageError::Refused(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "The form was sent compressed, which this service does not read, so nothing was \
             saved. Send it again from the page."
                .into(),
        )
        .into_response();
    }
    let form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !(sends && form) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, FORM_BYTES).await {
        Ok(b) => b,
        // As the form reader answers: too large, or not read (a body that
        // stopped, say); `render_failures` makes each the error page.
        Err(e) => {
            let too_large =
                std::iter::successors(Some(&e as &(dyn std::error::Error + 'static)), |e| {
                    e.source()
                })
                .any(|e| e.is::<http_body_util::LengthLimitError>());
            let status = if too_large {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            };
            return (status, "the form could not be read").into_response();
        }
    };
    // Copies the form only when it has `%` escapes to decode.
    if percent_encoding::percent_decode(&bytes)
        .decode_utf8()
        .is_err()
    {
        return PageError::Refused(
            StatusCode::BAD_REQUEST,
            "The form holds characters that are not UTF-8 text, so nothing was saved (they \
             would have been changed, not kept as typed). Send it again from the page."
                .into(),
        )
        .into_response();
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// Whether a request came from another origin: the `Origin` must have this
/// site's scheme (from its public URL), host and port, as RFC 6454 compares
/// them; `https://host` does not match a site served as `http://host`.
pub(crate) fn cross_site(h: &HeaderMap, scheme: &str) -> bool {
    let host = h.get(header::HOST).and_then(|v| v.to_str().ok());
    match h.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some("null") => true,
        Some(origin) => match (origin.split_once("://"), host) {
            (Some((s, authority)), Some(host)) => {
                !s.eq_ignore_ascii_case(scheme)
                    || authority_of(authority, scheme) != authority_of(host, scheme)
            }
            _ => true,
        },
        None => h
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == "cross-site"),
    }
}

/// `host[:port]` lowercased, with the scheme's default port made explicit.
fn authority_of(raw: &str, scheme: &str) -> String {
    let a = raw.trim().trim_end_matches('/').to_ascii_lowercase();
    let has_port = match a.rsplit_once(':') {
        // An IPv6 literal's colons are inside its brackets.
        Some((_, port)) => !port.contains(']') && port.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    };
    if has_port {
        a
    } else {
        format!("{a}:{}", if scheme == "https" { 443 } else { 80 })
    }
}

/// Marks a page that loads Waymark's own script (`/passkey.js`, for
/// passkeys): its policy allows scripts from this origin, where every
/// other page's allows none.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OwnScript;

async fn headers(req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    let own_script = r.extensions().get::<OwnScript>().is_some();
    let h = r.headers_mut();
    waymark_site::server::with_policy(
        h,
        if own_script {
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        } else {
            "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        },
    );
    // Records are private: never kept by a shared cache or the back button
    // after sign-out.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The view of a page that reads nothing but its title.
#[derive(serde::Serialize)]
struct Titled {
    title: &'static str,
}

/// What `error.html` reads.
#[derive(serde::Serialize)]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
    /// The request's id, to quote when reporting the error.
    reference: Option<String>,
}

/// Renders a page from its view: a `#[derive(Serialize)]` struct whose
/// fields are what the template reads. Every page is rendered this way.
fn view_page<V: serde::Serialize>(
    s: &AppState,
    status: StatusCode,
    name: &str,
    view: &V,
) -> Result<Response, PageError> {
    let body = s
        .views
        .render(name, view)
        .map_err(|e| PageError::Internal(e.to_string()))?;
    Ok((status, axum::response::Html(body)).into_response())
}

/// One entry of a form's error summary, and the message beside the field
/// whose id it names.
#[derive(Debug, Clone, serde::Serialize)]
struct FieldError {
    id: String,
    message: String,
}

fn form_error(id: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        id: id.to_string(),
        message: message.into(),
    }
}

/// An agency as lists and pickers show it.
#[derive(serde::Serialize)]
struct AgencyRow {
    id: i64,
    name: String,
    abbreviation: String,
}

impl From<&waymark_core::Agency> for AgencyRow {
    fn from(a: &waymark_core::Agency) -> Self {
        AgencyRow {
            id: a.id.0,
            name: a.name.clone(),
            abbreviation: a.abbreviation.as_str().to_string(),
        }
    }
}

/// A person as pickers show them.
#[derive(serde::Serialize)]
struct PersonRow {
    id: i64,
    name: String,
}

impl From<&waymark_core::Person> for PersonRow {
    fn from(p: &waymark_core::Person) -> Self {
        PersonRow {
            id: p.id.0,
            name: p.name.clone(),
        }
    }
}

/// A field's name as people read it: `business_need` → "Business need".
/// A core's refusal of one field as the form's error beside that field.
fn field_error(e: &waymark_core::DomainError) -> Option<FieldError> {
    match e {
        waymark_core::DomainError::Invalid { field, message } => Some(form_error(
            field,
            format!("{}: {message}", field_label(field)),
        )),
        _ => None,
    }
}

fn field_label(field: &str) -> String {
    match field {
        // Fields whose names say little to the person filling the form in.
        "kind" => "Kind of lesson".into(),
        "about" => "What it is about".into(),
        other => capitalised(&other.replace('_', " ")),
    }
}

/// What a form shows back of what was typed after an error: enough of a
/// long paste to see what it was, never megabytes.
fn typed_back(text: &str) -> String {
    text.chars().take(300).collect()
}

/// Text with its first letter a capital.
fn capitalised(text: &str) -> String {
    let mut c = text.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// What can go wrong on a page, as the person sees it.
#[derive(Debug)]
pub enum PageError {
    NotFound,
    Forbidden(String),
    /// Too many sign-in attempts; try again after this many seconds.
    TooMany(u64),
    /// A rule of the core refused what was asked (a form's own errors go
    /// back to the form; this is for a request no form of ours sends).
    Refused(StatusCode, String),
    Internal(String),
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Domain(waymark_core::DomainError::NotFound) => PageError::NotFound,
            StoreError::Domain(waymark_core::DomainError::Forbidden { .. }) => {
                PageError::Forbidden(e.to_string())
            }
            StoreError::Domain(waymark_core::DomainError::Conflict { .. }) => {
                PageError::Refused(StatusCode::CONFLICT, e.to_string())
            }
            StoreError::Domain(d) => {
                PageError::Refused(StatusCode::UNPROCESSABLE_ENTITY, d.to_string())
            }
            StoreError::Duplicate { .. } => PageError::Refused(StatusCode::CONFLICT, e.to_string()),
            StoreError::Fields(_) => {
                PageError::Refused(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
            }
            other => PageError::Internal(other.to_string()),
        }
    }
}

impl From<waymark_core::DomainError> for PageError {
    fn from(e: waymark_core::DomainError) -> Self {
        StoreError::Domain(e).into()
    }
}

/// A page that failed, as a response carries it until `render_failures`
/// turns it into the error page: one place renders every error.
#[derive(Debug, Clone)]
struct Failure {
    title: &'static str,
    message: String,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, message) = match &self {
            PageError::NotFound => (
                StatusCode::NOT_FOUND,
                "Page not found",
                "There is nothing here, or you may not see it. Check the address, or go to your engagements.".to_string(),
            ),
            PageError::Forbidden(why) => (StatusCode::FORBIDDEN, "Not allowed", why.clone()),
            PageError::Refused(status, why) => (*status, "That cannot be done", why.clone()),
            PageError::TooMany(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many attempts",
                "There were too many sign-in attempts. Wait a few minutes, then try again.".into(),
            ),
            PageError::Internal(e) => {
                tracing::error!("web: {e}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "Something went wrong on our side. Nothing you sent was lost: go back and try again.".into(),
                )
            }
        };
        let mut r = (status, message.clone()).into_response();
        r.extensions_mut().insert(Failure { title, message });
        if let PageError::TooMany(secs) = self
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    }
}

/// The largest body a form may send (axum's default, stated so the error
/// page can say it); forms that upload a file allow a file's size.
const FORM_BYTES: usize = 2 * 1024 * 1024;

/// What a request refused by axum's extractors, before any handler ran,
/// means to the person who sent it: a form larger than the body limit, a
/// body that is not the form the page sends, or (`reading`: a GET) an
/// address whose parts cannot be read. axum answers those in plain
/// text; they get the error page like every other failure.
fn refused_before_the_handler(r: &Response, reading: bool) -> Option<Failure> {
    let plain = r
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/plain"));
    if !plain {
        return None;
    }
    let (title, message) = match r.status() {
        StatusCode::PAYLOAD_TOO_LARGE => (
            "Too large to send",
            format!(
                "What you sent is larger than this service accepts: {} MB of text in a form, \
                 or a file of up to {} MB where a file is asked for. Nothing was saved. Go back, \
                 shorten the text or choose a smaller file, and send it again.",
                FORM_BYTES / (1024 * 1024),
                waymark_store::MAX_FILE_BYTES / (1024 * 1024)
            ),
        ),
        // An address whose id or page is not a number, say.
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY if reading => (
            "That address is not right",
            "Part of the address cannot be read (a word where a number belongs, perhaps). \
             Check the address, or go to your engagements."
                .to_string(),
        ),
        StatusCode::BAD_REQUEST
        | StatusCode::UNPROCESSABLE_ENTITY
        | StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "The form could not be read",
            "What was sent is not the form this page sends, so nothing was saved. Go back, \
             reload the page and send it again."
                .to_string(),
        ),
        _ => return None,
    };
    Some(Failure { title, message })
}

/// Renders the error page for any response that carries a `Failure`.
async fn render_failures(State(s): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let reading = req.method() == Method::GET || req.method() == Method::HEAD;
    let mut r = next.run(req).await;
    let failure = r.extensions_mut().remove::<Failure>();
    let Some(Failure { title, message }) =
        failure.or_else(|| refused_before_the_handler(&r, reading))
    else {
        return r;
    };
    let body = s
        .views
        .render(
            "error.html",
            &ErrorPage {
                reference: crate::ops::request_id(),
                title,
                message: &message,
            },
        )
        .unwrap_or(message);
    let (mut parts, _) = r.into_parts();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(body))
}
