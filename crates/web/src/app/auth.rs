//! Signing in and out, invites, and who the visitor is.
//!
//! Passwords are hashed with argon2id (the crate's default, OWASP-level
//! parameters) off the async threads. A failed sign-in is recorded per
//! (account, address) pair, per address and per account in the database, so
//! the limits hold across instances; see [`PAIR_LIMIT`]. Each session carries a random CSRF token that every form
//! sends back.

use std::net::SocketAddr;
use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::Form;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;
use waymark_core::{Actor, Email, Password, Person, Timestamp};

use super::{AppState, ErrorPage, FieldError, PageError, form_error, view_page};
use waymark_store::{StoreError, now};

const PERSON: &str = "person";
const CSRF: &str = "csrf";
/// When the session was last marked as used. Refreshing it saves the
/// session, which moves its expiry (idle time) and its cookie on; doing so
/// at most every few minutes keeps page views from being writes.
const SEEN: &str = "seen";
const SEEN_EVERY_SECS: i64 = 5 * 60;
/// Set in a session that gave a second factor's code (signing in with it,
/// or setting it up): for those who must have one, a session without it
/// is no session.
pub(super) const FACTOR: &str = "factor";

/// Sign-in failures allowed in the window: for one account from one address
/// (the guesser is slowed, the owner elsewhere is not), from one address
/// across all accounts (spraying), and for one account from every address
/// together (a distributed guess; high, so that locking someone out takes a
/// botnet rather than five tries). See docs/security.md.
pub const PAIR_LIMIT: u32 = 5;
pub const ADDRESS_LIMIT: u32 = 30;
pub const ACCOUNT_LIMIT: u32 = 100;
pub const WINDOW_SECS: i64 = 15 * 60;

/// The password could not be hashed (argon2's reason).
#[derive(Debug, thiserror::Error)]
#[error("cannot hash the password: {0}")]
pub struct HashError(String);

pub fn hash_password(p: &Password) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(p.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Refuses with how long to wait when any of `keys` has reached its limit
/// of failures in the window (sign-in failures, counted in the database so
/// every instance shares them). `what` names the limit in the metrics and
/// the security log, with the client's address when there is one.
pub(super) async fn throttle(
    s: &AppState,
    keys: &[(&str, u32)],
    t: Timestamp,
    what: &'static str,
    client: Option<std::net::IpAddr>,
) -> Result<(), PageError> {
    let since = Timestamp(t.0 - WINDOW_SECS);
    let mut wait = 0;
    for (key, limit) in keys {
        let (n, oldest) = s.store.sign_in_failures(key, since).await?;
        if n >= *limit {
            wait = wait.max(
                oldest
                    .map_or(WINDOW_SECS, |o| o.0 + WINDOW_SECS - t.0)
                    .max(1),
            );
        }
    }
    if wait > 0 {
        crate::ops::METRICS.rate_limited(what);
        let client = client.map(|c| c.to_string()).unwrap_or_default();
        tracing::warn!(wait, limit = what, client, "refused: too many failures");
        return Err(PageError::TooMany(wait as u64));
    }
    Ok(())
}

/// Checks `password` against a stored PHC string; false on any mismatch or
/// unreadable hash.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash of nothing anyone knows, checked when the email is unknown so
/// that a wrong email takes as long as a wrong password.
const DECOY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3O/0Y0uW1S5xjC3CS5bC4aB5nD4Q3m6K8i9fC1dE2gA";

/// A signed-in person: who they are, what they may do, and the token their
/// forms must send back.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub actor: Actor,
    pub person: Person,
    pub csrf: String,
    pub session: Session,
    /// The main section the request is in (`/engagements`, `/people`, …),
    /// so the navigation can mark where the visitor is.
    pub section: &'static str,
    /// Their own settings (time zone, mail).
    pub settings: waymark_core::Settings,
}

impl SignedIn {
    /// Fails unless `sent` is this session's form token.
    pub fn check(&self, sent: &str) -> Result<(), PageError> {
        if !sent.is_empty() && constant_eq(sent.as_bytes(), self.csrf.as_bytes()) {
            Ok(())
        } else {
            Err(PageError::Forbidden(
                "This form has expired or did not come from this site. Go back, reload the page and try again.".into(),
            ))
        }
    }

    /// What every page's layout shows about the visitor.
    pub fn view(&self) -> UserView {
        UserView {
            name: self.person.name.clone(),
            csrf: self.csrf.clone(),
            // What the navigation offers, by the core's rules.
            add_agencies: self.actor.may_add_agency().is_ok(),
            enquiries: waymark_core::enquiry::may_see(&self.actor),
            admin: self.actor.may_manage_people().is_ok(),
            outbox: self.actor.may_read_outbox(),
            articles: waymark_core::knowledge::may_write(&self.actor).is_ok(),
            // Lessons are read by whoever takes part in engagements.
            lessons: self.actor.is_programme()
                || self.actor.agencies().next().is_some()
                || self.actor.is_partner(),
            // Surveys: the programme's, and an agency's results.
            surveys: self.actor.is_programme() || self.actor.agencies().next().is_some(),
            portfolio: waymark_core::portfolio::may_see(&self.actor).is_ok(),
            zone: self.settings.time_zone.clone(),
            section: self.section,
        }
    }
}

/// The signed-in visitor as every page's layout reads them (`user`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct UserView {
    pub name: String,
    /// This session's form token.
    pub csrf: String,
    pub add_agencies: bool,
    pub enquiries: bool,
    pub admin: bool,
    pub outbox: bool,
    /// Whether they write knowledge articles (the programme).
    pub articles: bool,
    /// Whether they read lessons from retrospectives (anyone who takes
    /// part in engagements).
    pub lessons: bool,
    /// Whether they see surveys (the programme builds them; an agency's
    /// members read their engagements' results).
    pub surveys: bool,
    /// Whether they see the portfolio dashboard (the programme).
    pub portfolio: bool,
    /// The time zone this person reads times in.
    pub zone: String,
    /// Which main section the page belongs to (`aria-current` in the menu).
    pub section: &'static str,
}

pub(crate) fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// Signed-out visitors are sent to sign in, and brought back afterwards.
impl FromRequestParts<Arc<AppState>> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Response> {
        match visitor(parts, state).await? {
            Some(signed_in) => Ok(signed_in),
            None => {
                let next = parts
                    .uri
                    .path_and_query()
                    .map_or("/engagements", |p| p.as_str());
                let next = if parts.method == axum::http::Method::GET {
                    next
                } else {
                    "/engagements"
                };
                Err(Redirect::to(&format!("/login?next={}", encode(next))).into_response())
            }
        }
    }
}

/// Pages anyone may read (search) take `Option<SignedIn>`: `None` for a
/// signed-out visitor, never a redirect.
impl axum::extract::OptionalFromRequestParts<Arc<AppState>> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Option<Self>, Response> {
        visitor(parts, state).await
    }
}

/// The signed-in person of this request, if any. A session store that
/// cannot be read is an error, not a signed-out visitor.
async fn visitor(parts: &mut Parts, state: &Arc<AppState>) -> Result<Option<SignedIn>, Response> {
    let session = Session::from_request_parts(parts, state)
        .await
        .map_err(|(status, msg)| (status, msg).into_response())?;
    let broken = |e: tower_sessions::session::Error| {
        PageError::Internal(format!("cannot read the session: {e}")).into_response()
    };
    let person: Option<i64> = session.get(PERSON).await.map_err(broken)?;
    let csrf: Option<String> = session.get(CSRF).await.map_err(broken)?;
    let (Some(person), Some(csrf)) = (person, csrf) else {
        return Ok(None);
    };
    let t = now().0;
    let seen: Option<i64> = session.get(SEEN).await.map_err(broken)?;
    if seen.is_none_or(|s| t - s >= SEEN_EVERY_SECS) {
        session.insert(SEEN, t).await.map_err(broken)?;
    }
    let id = waymark_core::PersonId(person);
    let found = state
        .store
        .person_and_settings(id)
        .await
        .map_err(|e| PageError::from(e).into_response())?;
    // A person removed or deactivated (they left): the session ends here,
    // on its first request after, wherever it was made.
    let Some((person, settings)) = found.filter(|(p, _)| p.deactivated_at.is_none()) else {
        let _ = session.flush().await;
        return Ok(None);
    };
    let actor = Actor {
        person: id,
        roles: person.roles.clone(),
    };
    // Those who must have a second factor do nothing else until they set
    // one up (a session begun before the rule, or before they became an
    // admin, included); once they have one, a session that never gave a
    // code (begun before, by someone who knew the password, say) ends.
    if actor.needs_second_factor() {
        let has = state
            .store
            .has_second_factor(id)
            .await
            .map_err(|e| PageError::from(e).into_response())?;
        let gave: Option<bool> = session.get(FACTOR).await.map_err(broken)?;
        if has && gave != Some(true) {
            let _ = session.flush().await;
            return Ok(None);
        }
        let path = parts.uri.path();
        let setting_up = path.starts_with("/settings/second-factor")
            || path == "/settings/passkeys"
            || path == "/logout";
        if !has && !setting_up {
            return Err(Redirect::to("/settings/second-factor").into_response());
        }
    }
    Ok(Some(SignedIn {
        settings,
        actor,
        person,
        csrf,
        session,
        section: section_of(parts.uri.path()),
    }))
}

/// The main menu's section a path belongs to.
fn section_of(path: &str) -> &'static str {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    match first {
        // Model versions are reached from the Agencies page.
        "agencies" | "migrations" => "agencies",
        "enquiries" | "mailbox" => "enquiries",
        "people" => "people",
        "outbox" | "retention" => "outbox",
        "settings" => "settings",
        "search" => "search",
        "community" | "adopters" => "community",
        "articles" | "blueprint" | "knowledge" => "articles",
        "lessons" => "lessons",
        "surveys" => "surveys",
        "portfolio" => "portfolio",
        _ => "engagements",
    }
}

/// Percent-encodes a path for a query value.
pub(super) fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Only local paths are followed after sign-in (never `//evil` or a URL).
pub(super) fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && n.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') =>
        {
            n
        }
        _ => "/engagements",
    }
}

/// Starts a signed-in session: a new session id (so one planted before
/// sign-in is worthless), the person, and a fresh form token.
pub(super) async fn begin(
    session: &Session,
    person: waymark_core::PersonId,
) -> Result<(), PageError> {
    let fail = |e: tower_sessions::session::Error| PageError::Internal(e.to_string());
    session.cycle_id().await.map_err(fail)?;
    session
        .remove::<(i64, i64)>(super::factor::PENDING)
        .await
        .map_err(fail)?;
    session.insert(PERSON, person.0).await.map_err(fail)?;
    session
        .insert(
            CSRF,
            waymark_store::random_token().map_err(PageError::from)?,
        )
        .await
        .map_err(fail)?;
    session.insert(SEEN, now().0).await.map_err(fail)?;
    // A sign-in started with a provider was kept short; a signed-in
    // session lasts as any does.
    session.set_expiry(Some(tower_sessions::Expiry::OnInactivity(
        time::Duration::minutes(super::IDLE_MINUTES),
    )));
    Ok(())
}

/// Signs `person` in after they proved their account (a password and, if
/// they have one, a code): [`begin`], then the provider account waiting in
/// this browser to be linked to them, if any.
pub(super) async fn proven(
    s: &AppState,
    session: &Session,
    person: waymark_core::PersonId,
) -> Result<(), PageError> {
    begin(session, person).await?;
    super::oidc::link_waiting(s, session, person).await
}

/// After the first factor was right (a password, or a provider's word for
/// who it is): the code page for someone with a second factor, else signed
/// in and on to `next`.
pub(super) async fn after_first_factor(
    s: &AppState,
    session: &Session,
    p: waymark_core::PersonId,
    next: &str,
) -> Result<Response, PageError> {
    if s.store.has_second_factor(p).await? {
        super::factor::wait_for_code(session, p).await?;
        return Ok(Redirect::to(&format!("/login/code?next={}", encode(next))).into_response());
    }
    proven(s, session, p).await?;
    Ok(Redirect::to(next).into_response())
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    pub(super) next: Option<String>,
}

pub async fn login_form(
    State(s): State<Arc<AppState>>,
    session: Session,
    axum::extract::Query(q): axum::extract::Query<NextQuery>,
) -> Response {
    if session.get::<i64>(PERSON).await.ok().flatten().is_some() {
        return Redirect::to(safe_next(q.next.as_deref())).into_response();
    }
    login_page(
        &s,
        StatusCode::OK,
        "",
        q.next.as_deref().unwrap_or(""),
        None,
    )
}

/// What `login.html` reads.
#[derive(serde::Serialize)]
struct LoginPage<'a> {
    title: &'static str,
    email: &'a str,
    /// Where to go after signing in.
    next: &'a str,
    errors: Vec<FieldError>,
    /// A button for each OpenID provider.
    providers: Vec<ProviderButton>,
    /// What the page says above the form (a provider account waiting to
    /// be linked).
    notice: Option<String>,
}

#[derive(serde::Serialize)]
struct ProviderButton {
    label: String,
    href: String,
}

/// What `invite.html` reads.
#[derive(serde::Serialize)]
struct InvitePage<'a> {
    title: &'static str,
    /// Where the password form posts.
    action: String,
    name: &'a str,
    email: &'a str,
    errors: Vec<FieldError>,
}

pub(super) fn login_page(
    s: &AppState,
    status: StatusCode,
    email: &str,
    next: &str,
    error: Option<(&str, &str)>,
) -> Response {
    login_page_saying(s, status, email, next, error, None)
}

pub(super) fn login_page_saying(
    s: &AppState,
    status: StatusCode,
    email: &str,
    next: &str,
    error: Option<(&str, &str)>,
    notice: Option<String>,
) -> Response {
    let errors = error
        .map(|(field, message)| form_error(field, message))
        .into_iter()
        .collect();
    let query = if next.is_empty() {
        String::new()
    } else {
        format!("?next={}", encode(next))
    };
    let providers = s
        .oidc
        .all()
        .iter()
        .map(|p| ProviderButton {
            label: p.rules.label.clone(),
            href: format!("/login/oidc/{}{query}", p.rules.name),
        })
        .collect();
    let view = LoginPage {
        title: "Sign in",
        email,
        next,
        errors,
        providers,
        notice,
    };
    view_page(s, status, "login.html", &view).unwrap_or_else(IntoResponse::into_response)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// The client's address, as `ops::client_ip` reads it from the peer and,
/// behind a trusted proxy, `X-Forwarded-For`: what rate limits key on.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub std::net::IpAddr);

impl FromRequestParts<Arc<AppState>> for ClientIp {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        s: &Arc<AppState>,
    ) -> Result<Self, PageError> {
        // (Through the extractor, so tests' MockConnectInfo serves too.)
        let ConnectInfo(peer) = ConnectInfo::<SocketAddr>::from_request_parts(parts, s)
            .await
            .map_err(|_| PageError::Internal("no peer address on the request".into()))?;
        let forwarded = crate::ops::forwarded_for(&parts.headers);
        Ok(ClientIp(crate::ops::client_ip(
            peer.ip(),
            forwarded.as_deref(),
            &s.trusted_proxies,
        )))
    }
}

pub async fn login(
    State(s): State<Arc<AppState>>,
    ClientIp(addr): ClientIp,
    session: Session,
    Form(f): Form<LoginForm>,
) -> Response {
    match sign_in(&s, addr, &session, &f).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn sign_in(
    s: &AppState,
    addr: std::net::IpAddr,
    session: &Session,
    f: &LoginForm,
) -> Result<Response, PageError> {
    let t = now();
    // An IPv6 client counts by its /64 (ops::limit_key).
    let client = crate::ops::limit_key(addr);
    let address = format!("address:{client}");
    let email = Email::parse(&f.email).ok();
    let account = email.as_ref().map(|e| format!("account:{e}"));
    let pair = email.as_ref().map(|e| format!("pair:{e}|{client}"));
    let since = Timestamp(t.0 - WINDOW_SECS);
    // Refuse before checking the password, so a throttled pair cannot be
    // probed at all until the window passes.
    let keys: Vec<(&str, u32)> = [
        (Some(&address), ADDRESS_LIMIT),
        (account.as_ref(), ACCOUNT_LIMIT),
    ]
    .into_iter()
    .filter_map(|(key, limit)| key.map(|k| (k.as_str(), limit)))
    .collect();
    throttle(s, &keys, t, "sign_in", Some(addr)).await?;
    if f.email.trim().is_empty() || f.password.is_empty() {
        let (field, msg) = if f.email.trim().is_empty() {
            ("email", "Enter your email address")
        } else {
            ("password", "Enter your password")
        };
        return Ok(login_page(
            s,
            StatusCode::UNPROCESSABLE_ENTITY,
            &f.email,
            &f.next,
            Some((field, msg)),
        ));
    }
    // The pair (this account from this address) is counted before the
    // password is checked, in one step with the count: guesses sent all at
    // once are judged one after another, and no more than the limit are
    // checked. A right password clears it.
    if let Some(key) = &pair
        && let Some(wait) = s.store.reserve_attempt(key, PAIR_LIMIT, since, t).await?
    {
        crate::ops::METRICS.rate_limited("sign_in");
        tracing::warn!(client = %addr, wait, "sign-in refused: too many tries for one account from one address");
        return Err(PageError::TooMany(wait as u64));
    }
    let found = match &email {
        Some(e) => s.store.credentials(e).await?,
        None => None,
    };
    let (person, hash) = match found {
        Some((p, Some(h))) => (Some(p), h),
        _ => (None, DECOY.to_string()),
    };
    let password = f.password.clone();
    let ok = crate::heavy::PASSWORDS
        .run(move || verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    match person {
        Some(p) if ok => {
            if let Some(key) = &pair {
                s.store.clear_sign_in_failures(key, since).await?;
            }
            after_first_factor(s, session, p, safe_next(Some(&f.next))).await
        }
        _ => {
            crate::ops::METRICS.sign_in_failed("form");
            // For the security log: where from, and whether the account
            // exists (its id, never the typed address or password).
            tracing::warn!(
                client = %addr,
                person = person.map(|p| p.0),
                "sign-in refused: wrong email address or password"
            );
            s.store.record_sign_in_failure(&address, t).await?;
            // (The pair's attempt was counted before the check.)
            if let Some(key) = &account {
                s.store.record_sign_in_failure(key, t).await?;
            }
            Ok(login_page(
                s,
                StatusCode::UNPROCESSABLE_ENTITY,
                &f.email,
                &f.next,
                Some(("email", "The email address or password is not right")),
            ))
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn logout(who: SignedIn, Form(f): Form<CsrfForm>) -> Result<Response, PageError> {
    who.check(&f.csrf)?;
    // flush() deletes the session row, so the old cookie is worthless.
    who.session
        .flush()
        .await
        .map_err(|e| PageError::Internal(e.to_string()))?;
    Ok(Redirect::to("/login").into_response())
}

fn invite_page(
    s: &AppState,
    status: StatusCode,
    token: &str,
    invite: &waymark_store::Invite,
    errors: Vec<FieldError>,
) -> Response {
    password_page(
        s,
        status,
        format!("/invite/{token}"),
        &invite.name,
        &invite.email,
        errors,
    )
}

/// The form that sets a new account's password (an invite, a community
/// registration).
fn password_page(
    s: &AppState,
    status: StatusCode,
    action: String,
    name: &str,
    email: &str,
    errors: Vec<FieldError>,
) -> Response {
    let view = InvitePage {
        title: "Set your password",
        action,
        name,
        email,
        errors,
    };
    view_page(s, status, "invite.html", &view).unwrap_or_else(IntoResponse::into_response)
}

fn invalid_invite(s: &AppState) -> Response {
    let view = ErrorPage {
        reference: crate::ops::request_id(),
        title: "This invite link does not work",
        message: "It may have been used already, or it may have expired. Ask your programme admin for a new one.",
    };
    view_page(s, StatusCode::NOT_FOUND, "error.html", &view)
        .unwrap_or_else(IntoResponse::into_response)
}

pub async fn invite_form(State(s): State<Arc<AppState>>, Path(token): Path<String>) -> Response {
    match s.store.invite(&token, now()).await {
        Ok(Some(i)) => invite_page(&s, StatusCode::OK, &token, &i, Vec::new()),
        Ok(None) => invalid_invite(&s),
        Err(e) => PageError::from(e).into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

pub async fn accept_invite(
    State(s): State<Arc<AppState>>,
    Path(token): Path<String>,
    session: Session,
    Form(f): Form<InviteForm>,
) -> Response {
    let invite = match s.store.invite(&token, now()).await {
        Ok(Some(i)) => i,
        Ok(None) => return invalid_invite(&s),
        Err(e) => return PageError::from(e).into_response(),
    };
    let password = match Password::parse(&f.password, &f.confirm) {
        Ok(p) => p,
        Err(waymark_core::DomainError::Invalid { field, message }) => {
            let errors = vec![form_error(field, message)];
            return invite_page(
                &s,
                StatusCode::UNPROCESSABLE_ENTITY,
                &token,
                &invite,
                errors,
            );
        }
        Err(e) => return PageError::from(e).into_response(),
    };
    let hash = match crate::heavy::PASSWORDS
        .run(move || hash_password(&password))
        .await
    {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => return PageError::Internal(e.to_string()).into_response(),
        Err(e) => return PageError::Internal(e.to_string()).into_response(),
    };
    match s.store.accept_invite(&token, &hash, now()).await {
        Ok(Some(person)) => match begin(&session, person).await {
            Ok(()) => Redirect::to("/engagements").into_response(),
            Err(e) => e.into_response(),
        },
        Ok(None) => invalid_invite(&s),
        Err(e) => PageError::from(e).into_response(),
    }
}

/// What `setup.html` reads: the first admin's form on a first run.
#[derive(serde::Serialize)]
struct SetupPage<'a> {
    title: &'static str,
    token: &'a str,
    name: &'a str,
    email: &'a str,
    errors: Vec<FieldError>,
}

fn setup_page(
    s: &AppState,
    status: StatusCode,
    token: &str,
    f: &SetupForm,
    errors: Vec<FieldError>,
) -> Response {
    let view = SetupPage {
        title: "Set up Waymark",
        token,
        name: &f.name,
        email: &f.email,
        errors,
    };
    view_page(s, status, "setup.html", &view).unwrap_or_else(IntoResponse::into_response)
}

fn invalid_setup(s: &AppState) -> Response {
    let view = ErrorPage {
        reference: crate::ops::request_id(),
        title: "This setup link does not work",
        message: "It has been used, it has expired, or someone already has an account. If nobody can sign in yet, restart `waymark serve`: it prints a new link.",
    };
    view_page(s, StatusCode::NOT_FOUND, "error.html", &view)
        .unwrap_or_else(IntoResponse::into_response)
}

/// The first run's form: who the first programme admin is.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SetupForm {
    name: String,
    email: String,
    password: String,
    confirm: String,
}

pub async fn setup_form(State(s): State<Arc<AppState>>, Path(token): Path<String>) -> Response {
    match s.store.setup_link_live(&token, now()).await {
        Ok(true) => setup_page(
            &s,
            StatusCode::OK,
            &token,
            &SetupForm::default(),
            Vec::new(),
        ),
        Ok(false) => invalid_setup(&s),
        Err(e) => PageError::from(e).into_response(),
    }
}

/// Creates the first programme admin from the setup link, signs them in,
/// and spends the link. Every problem with the form is said at once.
pub async fn setup(
    State(s): State<Arc<AppState>>,
    Path(token): Path<String>,
    session: Session,
    Form(f): Form<SetupForm>,
) -> Response {
    match s.store.setup_link_live(&token, now()).await {
        Ok(true) => {}
        Ok(false) => return invalid_setup(&s),
        Err(e) => return PageError::from(e).into_response(),
    }
    let mut errors = Vec::new();
    let person = waymark_core::NewPerson::parse_all(&f.name, &f.email);
    if let Err(problems) = &person {
        for p in problems {
            if let waymark_core::DomainError::Invalid { field, message } = p {
                // Said as what to do, naming the field.
                let said = match *field {
                    "name" if f.name.trim().is_empty() => "Enter your full name".to_string(),
                    "email" if f.email.trim().is_empty() => {
                        "Enter your email address, like name@agency.gov.au".to_string()
                    }
                    _ => format!("{}: {message}", super::field_label(field)),
                };
                errors.push(form_error(field, said));
            }
        }
    }
    let password = Password::parse(&f.password, &f.confirm);
    if let Err(waymark_core::DomainError::Invalid { field, message }) = &password {
        errors.push(form_error(field, message.clone()));
    }
    let (Ok(person), Ok(password), true) = (person, password, errors.is_empty()) else {
        return setup_page(&s, StatusCode::UNPROCESSABLE_ENTITY, &token, &f, errors);
    };
    let hash = match crate::heavy::PASSWORDS
        .run(move || hash_password(&password))
        .await
    {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => return PageError::Internal(e.to_string()).into_response(),
        Err(e) => return PageError::Internal(e.to_string()).into_response(),
    };
    match s
        .store
        .setup_first_admin(&token, &person, &hash, now())
        .await
    {
        Ok(Some(id)) => match begin(&session, id).await {
            Ok(()) => Redirect::to("/engagements").into_response(),
            Err(e) => e.into_response(),
        },
        Ok(None) => invalid_setup(&s),
        Err(e @ waymark_store::StoreError::Duplicate { field, .. }) => setup_page(
            &s,
            StatusCode::UNPROCESSABLE_ENTITY,
            &token,
            &f,
            vec![form_error(field, e.to_string())],
        ),
        Err(e) => PageError::from(e).into_response(),
    }
}

/// What `settings.html` reads.
#[derive(serde::Serialize)]
struct SettingsPage<'a> {
    title: &'static str,
    user: UserView,
    zones: Vec<Choice<'a>>,
    notify: Vec<Choice<'a>>,
    errors: Vec<FieldError>,
    /// The banner after a change was saved.
    saved: Option<&'static str>,
    /// Where they are signed in.
    sessions: Vec<SessionView>,
    /// Their API tokens (never the tokens themselves).
    tokens: Vec<waymark_store::TokenInfo>,
    new_token: Option<String>,
    /// Now, to tell ended tokens.
    today: Timestamp,
    /// What they watch in the community.
    watching: waymark_store::Watching,
    /// When they set up their authenticator app, if they did.
    second_factor: Option<i64>,
    /// How many passkeys they have.
    passkeys: usize,
    /// What the name field shows.
    name: String,
    /// The provider accounts they sign in with.
    identities: Vec<IdentityView>,
    /// Whether they have a Waymark password (someone made by a provider's
    /// sign-in has none).
    has_password: bool,
}

/// A provider account someone signs in with, named by its provider's
/// label where it is still configured; its issuer and subject name it to
/// the form that unlinks it.
#[derive(serde::Serialize)]
pub(crate) struct IdentityView {
    provider: String,
    issuer: String,
    subject: String,
    /// The end of its subject, which tells apart two accounts at one
    /// provider (shown when another has the same provider).
    ending: String,
    /// Whether another of theirs is at the same provider.
    shared: bool,
    linked_at: i64,
    last_used_at: i64,
}

/// `person`'s provider accounts, as their settings page and, for an admin,
/// their person page list them.
pub(crate) async fn identity_views(
    s: &AppState,
    person: waymark_core::PersonId,
) -> Result<Vec<IdentityView>, PageError> {
    let mut views: Vec<IdentityView> = s
        .store
        .identities_of(person)
        .await?
        .into_iter()
        .map(|i| {
            let chars: Vec<char> = i.subject.chars().collect();
            IdentityView {
                provider: s
                    .oidc
                    .all()
                    .iter()
                    .find(|p| p.rules.issuer == i.issuer)
                    .map_or_else(|| i.issuer.clone(), |p| p.rules.label.clone()),
                ending: chars[chars.len().saturating_sub(6)..].iter().collect(),
                shared: false,
                issuer: i.issuer,
                subject: i.subject,
                linked_at: i.linked_at.0,
                last_used_at: i.last_used_at.0,
            }
        })
        .collect();
    let providers: Vec<String> = views.iter().map(|v| v.provider.clone()).collect();
    for v in &mut views {
        v.shared = providers.iter().filter(|p| **p == v.provider).count() > 1;
    }
    Ok(views)
}

/// Which provider account to unlink.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UnlinkForm {
    csrf: String,
    issuer: String,
    subject: String,
}

/// How long the link an admin's unlinking mails lasts, when it leaves the
/// person with no other way in (as an invitation's).
const PASSWORD_LINK_DAYS: i64 = 14;

/// Unlinks one of `person`'s provider accounts for `by` (the store checks
/// who may), logs it, and, when it cut someone off, tells them by mail: with
/// a link to set a password when it was their only way in. Shared by the
/// workspace and the API.
pub(crate) async fn unlink_sign_in(
    store: &waymark_store::Store,
    public_url: &str,
    by: &waymark_core::Actor,
    person: waymark_core::PersonId,
    issuer: &str,
    subject: &str,
) -> Result<waymark_store::Unlinked, StoreError> {
    let t = now();
    let expires = waymark_core::Timestamp(t.0 + PASSWORD_LINK_DAYS * 86_400);
    let done = store
        .unlink_identity(by, person, issuer, subject, t, expires)
        .await?;
    let waymark_store::Unlinked::Done {
        cut_off,
        password_link,
    } = &done
    else {
        return Ok(done);
    };
    tracing::warn!(
        by = by.person.0,
        person = person.0,
        "a sign-in account was unlinked"
    );
    if *cut_off {
        let admin = store
            .person(by.person)
            .await?
            .map(|p| p.name)
            .unwrap_or_default();
        let link = password_link
            .as_ref()
            .map(|token| crate::mail::invite_link(public_url, token));
        super::tell_person(
            store,
            public_url,
            person,
            &unlinked_notice(&admin, link.as_deref()),
        )
        .await;
    }
    Ok(done)
}

/// Sends `person` a new link to set a password, when `by` may (a
/// programme admin, for someone active without one): the invitation's mail.
/// Shared by the person page and the API.
pub(crate) async fn send_password_link(
    store: &waymark_store::Store,
    public_url: &str,
    by: &waymark_core::Actor,
    person: waymark_core::PersonId,
) -> Result<(), StoreError> {
    let t = now();
    let expires = waymark_core::Timestamp(t.0 + PASSWORD_LINK_DAYS * 86_400);
    let token = store.password_link(by, person, t, expires).await?;
    let p = store
        .person(person)
        .await?
        .ok_or_else(|| StoreError::NoSuchPerson(person.to_string()))?;
    let link = crate::mail::invite_link(public_url, &token);
    store
        .queue_mail(
            &[crate::mail::invite(
                p.email.as_str(),
                &p.name,
                &link,
                PASSWORD_LINK_DAYS,
            )],
            t,
        )
        .await?;
    tracing::info!(
        by = by.person.0,
        person = person.0,
        "a link to set a password was sent"
    );
    Ok(())
}

/// A programme admin sends someone without a password a new link to set
/// one (their person page).
pub async fn password_link(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
    Form(f): Form<super::factor::CsrfOnly>,
) -> Result<Response, PageError> {
    who.check(f.csrf())?;
    let person = waymark_core::PersonId(id);
    match send_password_link(&s.store, &s.public_url, &who.actor, person).await {
        Ok(()) => Ok(Redirect::to(&format!("/people/{id}?saved=link")).into_response()),
        Err(StoreError::NoSuchPerson(_)) => Err(PageError::NotFound),
        Err(e) => Err(e.into()),
    }
}

/// What a person is told when an admin unlinks their provider account;
/// `link` sets a password, when they have no other way in.
fn unlinked_notice(admin: &str, link: Option<&str>) -> String {
    let then = match link {
        Some(link) => format!(
            "You have no other way in, so set a Waymark password with this link (it works once, within {PASSWORD_LINK_DAYS} days): {link}"
        ),
        None => "Sign in with your Waymark password, or another account still linked. Ask the programme if you need that account linked again.".to_string(),
    };
    format!(
        "{admin}, a programme admin, unlinked an organisation account you signed in to Waymark with, signed you out everywhere and ended your API tokens. {then}"
    )
}

/// A person unlinks one of their own provider accounts (settings page);
/// refused, with the reason on the page, when it is their only way in, or
/// when it is not linked (any more).
pub async fn unlink_own(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Form(f): Form<UnlinkForm>,
) -> Result<Response, PageError> {
    who.check(&f.csrf)?;
    let me = who.actor.person;
    let refused = |status, why: String| {
        let (zone, notify) = (who.settings.time_zone.clone(), who.settings.notify);
        let s = s.clone();
        let who = &who;
        async move {
            settings_page(
                &s,
                who,
                status,
                &zone,
                notify.as_str(),
                vec![super::form_error("identities", why)],
                None,
            )
            .await
        }
    };
    match unlink_sign_in(
        &s.store,
        &s.public_url,
        &who.actor,
        me,
        &f.issuer,
        &f.subject,
    )
    .await
    {
        Ok(waymark_store::Unlinked::Done { .. }) => {
            Ok(Redirect::to("/settings?saved=unlinked").into_response())
        }
        Ok(waymark_store::Unlinked::NotLinked) => {
            refused(StatusCode::NOT_FOUND, NOT_LINKED.to_string()).await
        }
        Err(StoreError::Domain(waymark_core::DomainError::Rule(why))) => {
            refused(StatusCode::UNPROCESSABLE_ENTITY, why).await
        }
        Err(e) => Err(e.into()),
    }
}

/// Said when a form names an account that is not linked (any more).
const NOT_LINKED: &str =
    "That account is not linked (it may have been unlinked already): nothing was unlinked.";

/// A programme admin unlinks one of someone's provider accounts (their
/// person page): they are signed out everywhere, and told by mail.
pub async fn unlink_theirs(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
    Form(f): Form<UnlinkForm>,
) -> Result<Response, PageError> {
    who.check(&f.csrf)?;
    let person = waymark_core::PersonId(id);
    // Their own, from their person page: as from their settings.
    if person == who.actor.person {
        return unlink_own(State(s), who, Form(f)).await;
    }
    let done = match unlink_sign_in(
        &s.store,
        &s.public_url,
        &who.actor,
        person,
        &f.issuer,
        &f.subject,
    )
    .await
    {
        Err(StoreError::NoSuchPerson(_)) => return Err(PageError::NotFound),
        other => other?,
    };
    match done {
        waymark_store::Unlinked::NotLinked => {
            super::directory::person_page(
                &s,
                &who,
                person,
                StatusCode::NOT_FOUND,
                vec![super::form_error("identities", NOT_LINKED)],
                None,
            )
            .await
        }
        waymark_store::Unlinked::Done {
            password_link: Some(_),
            ..
        } => Ok(Redirect::to(&format!("/people/{id}?saved=unlinked-last")).into_response()),
        waymark_store::Unlinked::Done { .. } => {
            Ok(Redirect::to(&format!("/people/{id}?saved=unlinked")).into_response())
        }
    }
}

/// One of a person's sessions where they are signed in in a browser:
/// never its id (a secret), but a reference derived from it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct SessionInfo {
    /// Names the session to end it (the start of its id's SHA-256).
    pub reference: String,
    /// When it was last used (seconds since 1970), if known; marked at
    /// most every five minutes.
    pub last_used_at: Option<i64>,
    /// When it ends unless used again (seconds since 1970).
    pub expires_at: i64,
}

/// One of a person's sessions as their settings page shows it.
#[derive(serde::Serialize)]
struct SessionView {
    #[serde(flatten)]
    info: SessionInfo,
    /// The session of this very request.
    current: bool,
}

/// A session's reference: the start of its id's SHA-256.
fn session_reference(id: &str) -> String {
    use sha2::{Digest, Sha256};
    format!("{:x}", Sha256::digest(id.as_bytes()))[..16].to_string()
}

/// `person`'s live sessions, each with its id (for this module only) and
/// what people see of it, most recently used first.
async fn live_sessions(
    store: &waymark_store::Store,
    person: waymark_core::PersonId,
) -> Result<Vec<(String, SessionInfo)>, StoreError> {
    let mut out: Vec<(String, SessionInfo)> = store
        .sessions_of(person, now())
        .await?
        .into_iter()
        .map(|(id, data, expires)| {
            let info = SessionInfo {
                reference: session_reference(&id),
                last_used_at: serde_json::from_str::<serde_json::Value>(&data)
                    .ok()
                    .and_then(|d| d.get(SEEN).and_then(serde_json::Value::as_i64)),
                expires_at: expires.0,
            };
            (id, info)
        })
        .collect();
    out.sort_by_key(|(_, v)| std::cmp::Reverse(v.last_used_at));
    Ok(out)
}

/// `person`'s live sessions, as the API lists them.
pub(crate) async fn sessions_of_person(
    store: &waymark_store::Store,
    person: waymark_core::PersonId,
) -> Result<Vec<SessionInfo>, StoreError> {
    Ok(live_sessions(store, person)
        .await?
        .into_iter()
        .map(|(_, v)| v)
        .collect())
}

/// Ends `person`'s session named by `reference`, unless it is `keep` (the
/// session asking): true if one ended.
pub(crate) async fn end_session_by_reference(
    store: &waymark_store::Store,
    person: waymark_core::PersonId,
    reference: &str,
    keep: Option<&str>,
) -> Result<bool, StoreError> {
    for (id, v) in live_sessions(store, person).await? {
        if v.reference == reference && keep != Some(id.as_str()) {
            return store.end_session_of(person, &id).await;
        }
    }
    Ok(false)
}

/// The person's live sessions, this one first.
async fn sessions_of(s: &AppState, who: &SignedIn) -> Result<Vec<SessionView>, PageError> {
    let current = who.session.id().map(|id| id.to_string());
    let mut out: Vec<SessionView> = live_sessions(&s.store, who.actor.person)
        .await?
        .into_iter()
        .map(|(id, info)| SessionView {
            current: current.as_deref() == Some(id.as_str()),
            info,
        })
        .collect();
    out.sort_by_key(|v| !v.current);
    Ok(out)
}

/// An option of a list, marked when chosen.
#[derive(serde::Serialize)]
struct Choice<'a> {
    value: &'a str,
    label: &'a str,
    chosen: bool,
}

async fn settings_page(
    s: &AppState,
    who: &SignedIn,
    status: StatusCode,
    zone: &str,
    notify: &str,
    errors: Vec<FieldError>,
    saved: Option<&'static str>,
) -> Result<Response, PageError> {
    let page = SettingsParts {
        status,
        errors,
        saved,
        new_token: None,
        name: None,
    };
    settings_page_with(s, who, zone, notify, page).await
}

/// What a settings page shows besides the person's own settings.
struct SettingsParts {
    status: StatusCode,
    errors: Vec<FieldError>,
    saved: Option<&'static str>,
    /// A token just made: shown on this page once, never again.
    new_token: Option<String>,
    /// The name typed, after an error.
    name: Option<String>,
}

async fn settings_page_with(
    s: &AppState,
    who: &SignedIn,
    zone: &str,
    notify: &str,
    parts: SettingsParts,
) -> Result<Response, PageError> {
    let SettingsParts {
        status,
        errors,
        saved,
        new_token,
        name,
    } = parts;
    let view = SettingsPage {
        title: "Your settings",
        user: who.view(),
        zones: waymark_core::TIME_ZONES
            .iter()
            .map(|(value, label)| Choice {
                value,
                label,
                chosen: *value == zone,
            })
            .collect(),
        notify: waymark_core::Notify::ALL
            .iter()
            .map(|n| Choice {
                value: n.as_str(),
                label: n.label(),
                chosen: n.as_str() == notify,
            })
            .collect(),
        errors,
        saved,
        sessions: sessions_of(s, who).await?,
        tokens: s.store.tokens_of(who.actor.person).await?,
        new_token,
        name: name.unwrap_or_else(|| who.person.name.clone()),
        today: now(),
        watching: s.store.watching(&who.actor).await?,
        second_factor: s
            .store
            .second_factor(who.actor.person)
            .await?
            .map(|f| f.enrolled_at.0),
        passkeys: s.store.passkeys_of(who.actor.person).await?.len(),
        identities: identity_views(s, who.actor.person).await?,
        has_password: s
            .store
            .credentials(&who.person.email)
            .await?
            .is_some_and(|(_, hash)| hash.is_some()),
    };
    view_page(s, status, "settings.html", &view)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SavedFlag {
    saved: String,
}

pub async fn settings_form(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    axum::extract::Query(q): axum::extract::Query<SavedFlag>,
) -> Result<Response, PageError> {
    let (zone, notify) = (who.settings.time_zone.clone(), who.settings.notify.as_str());
    let saved = match q.saved.as_str() {
        "1" => Some("Your settings are saved."),
        "password" => Some("Your password is changed. Use it the next time you sign in."),
        "session" => Some("That session is signed out."),
        "token" => Some("That token is revoked: anything still using it is refused."),
        "name" => Some("Your name is corrected: every page and the history show it now."),
        "unlinked" => Some("That account is unlinked: it no longer signs you in to Waymark."),
        _ => None,
    };
    settings_page(&s, &who, StatusCode::OK, &zone, notify, Vec::new(), saved).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NameForm {
    csrf: String,
    name: String,
}

/// Corrects the person's own name (Australian Privacy Principle 13); an
/// admin corrects their email address.
pub async fn change_name(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Form(f): Form<NameForm>,
) -> Result<Response, PageError> {
    who.check(&f.csrf)?;
    let problem = match waymark_core::NewPerson::parse(&f.name, who.person.email.as_str()) {
        Ok(new) => {
            s.store
                .correct_person(&who.actor, who.actor.person, &new, now())
                .await?;
            return Ok(Redirect::to("/settings?saved=name").into_response());
        }
        Err(e) => super::field_error(&e),
    };
    let (zone, notify) = (who.settings.time_zone.clone(), who.settings.notify.as_str());
    let parts = SettingsParts {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        errors: problem.into_iter().collect(),
        saved: None,
        new_token: None,
        name: Some(super::typed_back(&f.name)),
    };
    settings_page_with(&s, &who, &zone, notify, parts).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EndSessionForm {
    csrf: String,
    /// A reference from the settings page (never a session id).
    session: String,
}

/// Ends one of the person's other sessions (a lost phone, a shared
/// computer); their next request there goes to sign-in.
pub async fn end_session(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Form(f): Form<EndSessionForm>,
) -> Result<Response, PageError> {
    who.check(&f.csrf)?;
    let current = who.session.id().map(|id| id.to_string());
    end_session_by_reference(&s.store, who.actor.person, &f.session, current.as_deref()).await?;
    // Ended, or already gone: either way it no longer works.
    Ok(Redirect::to("/settings?saved=session").into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SettingsForm {
    csrf: String,
    time_zone: String,
    notify: String,
}

/// Saves the person's own settings; every problem at once.
pub async fn save_settings(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Form(f): Form<SettingsForm>,
) -> Result<Response, PageError> {
    who.check(&f.csrf)?;
    match waymark_core::Settings::parse(&f.time_zone, &f.notify) {
        Ok(settings) => {
            s.store.set_settings(who.actor.person, &settings).await?;
            Ok(Redirect::to("/settings?saved=1").into_response())
        }
        Err(problems) => {
            let errors = problems
                .into_iter()
                .filter_map(|p| match p {
                    waymark_core::DomainError::Invalid { field, message } => {
                        Some(form_error(field, message))
                    }
                    _ => None,
                })
                .collect();
            settings_page(
                &s,
                &who,
                StatusCode::UNPROCESSABLE_ENTITY,
                &f.time_zone,
                &f.notify,
                errors,
                None,
            )
            .await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PasswordForm {
    csrf: String,
    current: String,
    password: String,
    confirm: String,
}

/// Changes the signed-in person's password: the current one first (wrong
/// guesses count against the account as failed sign-ins do), then the new
/// one twice; every problem at once.
pub async fn change_password(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Form(f): Form<PasswordForm>,
) -> Result<Response, PageError> {
    who.check(&f.csrf)?;
    let t = now();
    let account = format!("account:{}", who.person.email);
    throttle(&s, &[(&account, ACCOUNT_LIMIT)], t, "password_change", None).await?;
    let hash = s
        .store
        .credentials(&who.person.email)
        .await?
        .and_then(|(_, h)| h)
        .unwrap_or_else(|| DECOY.to_string());
    let current = f.current.clone();
    let right = crate::heavy::PASSWORDS
        .run(move || verify_password(&current, &hash))
        .await
        .unwrap_or(false);
    let mut errors = Vec::new();
    if !right {
        s.store.record_sign_in_failure(&account, t).await?;
        errors.push(form_error("current", "Your current password is not right"));
    }
    let new = match Password::parse(&f.password, &f.confirm) {
        Ok(p) => Some(p),
        Err(waymark_core::DomainError::Invalid { field, message }) => {
            errors.push(form_error(
                field,
                super::field_label(field) + ": " + &message,
            ));
            None
        }
        Err(e) => return Err(e.into()),
    };
    let (Some(new), true) = (new, errors.is_empty()) else {
        let (zone, notify) = (who.settings.time_zone.clone(), who.settings.notify.as_str());
        return settings_page(
            &s,
            &who,
            StatusCode::UNPROCESSABLE_ENTITY,
            &zone,
            notify,
            errors,
            None,
        )
        .await;
    };
    let hashed = crate::heavy::PASSWORDS
        .run(move || hash_password(&new))
        .await
        .map_err(|e| PageError::Internal(e.to_string()))?
        .map_err(|e| PageError::Internal(e.to_string()))?;
    s.store.set_password_hash(who.actor.person, &hashed).await?;
    Ok(Redirect::to("/settings?saved=password").into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TokenForm {
    csrf: String,
    name: String,
    scope: String,
    expires_in_days: String,
}

/// Makes an API token for the signed-in person and shows it once, on this
/// page (never in an address, never again).
pub async fn create_token(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Form(f): Form<TokenForm>,
) -> Result<Response, PageError> {
    who.check(&f.csrf)?;
    let (zone, notify) = (who.settings.time_zone.clone(), who.settings.notify.as_str());
    let t = now();
    match waymark_core::token::NewToken::parse(&f.name, &f.scope, &f.expires_in_days, t) {
        Ok(new) => {
            let token = s.store.create_token_with(who.actor.person, &new, t).await?;
            let parts = SettingsParts {
                status: StatusCode::CREATED,
                errors: Vec::new(),
                saved: None,
                new_token: Some(token),
                name: None,
            };
            settings_page_with(&s, &who, &zone, notify, parts).await
        }
        Err(problems) => {
            let errors = problems
                .into_iter()
                .filter_map(|p| match p {
                    waymark_core::DomainError::Invalid { field, message } => {
                        Some(form_error(&format!("token_{field}"), message))
                    }
                    _ => None,
                })
                .collect();
            let parts = SettingsParts {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                errors,
                saved: None,
                new_token: None,
                name: None,
            };
            settings_page_with(&s, &who, &zone, notify, parts).await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RevokeTokenForm {
    csrf: String,
    token: String,
    /// Whose token: the signed-in person's own when blank (an admin ends
    /// another person's from their page).
    person: String,
    /// Where to go back to: `person` for the person's page.
    back: String,
}

/// Ends one of a person's API tokens: your own, or anyone's for a
/// programme admin.
pub async fn revoke_token(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Form(f): Form<RevokeTokenForm>,
) -> Result<Response, PageError> {
    who.check(&f.csrf)?;
    let owner = match f.person.trim() {
        "" => who.actor.person,
        p => waymark_core::PersonId(p.parse().map_err(|_| PageError::NotFound)?),
    };
    waymark_core::token::may_manage_tokens_of(&who.actor, owner)?;
    // Revoked, or already gone: either way it no longer works.
    s.store.revoke_token(owner, f.token.trim()).await?;
    Ok(if f.back == "person" && owner != who.actor.person {
        Redirect::to(&format!("/people/{}#tokens-title", owner.0)).into_response()
    } else {
        Redirect::to("/settings?saved=token").into_response()
    })
}

/// What `register.html` reads.
#[derive(serde::Serialize)]
struct RegisterPage<'a> {
    title: &'static str,
    name: &'a str,
    email: &'a str,
    domains: String,
    errors: Vec<FieldError>,
}

fn register_page(
    s: &AppState,
    status: StatusCode,
    f: &RegisterForm,
    errors: Vec<FieldError>,
) -> Response {
    let view = RegisterPage {
        title: "Join the community",
        name: &f.name,
        email: &f.email,
        domains: s.community_domains.join(", "),
        errors,
    };
    view_page(s, status, "register.html", &view).unwrap_or_else(IntoResponse::into_response)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RegisterForm {
    name: String,
    email: String,
    /// The honeypot: hidden from people, filled by bots.
    website: String,
}

/// How long a registration's verification link works.
const REGISTRATION_DAYS: i64 = 3;
/// Registrations kept from one network in an hour.
const REGISTER_LIMIT: u64 = 10;
/// Registration mails to one address in an hour.
const REGISTER_PER_ADDRESS: u64 = 3;

/// The community's registration form: anyone with an address on an
/// allowed domain.
pub async fn register_form(State(s): State<Arc<AppState>>, who: Option<SignedIn>) -> Response {
    if who.is_some() {
        return Redirect::to("/community").into_response();
    }
    register_page(&s, StatusCode::OK, &RegisterForm::default(), Vec::new())
}

/// Checks the form and mails a verification link (or, for an address that
/// has an account, a reminder to sign in); says the same either way.
pub async fn register(
    State(s): State<Arc<AppState>>,
    ClientIp(addr): ClientIp,
    Form(f): Form<RegisterForm>,
) -> Result<Response, PageError> {
    if !f.website.trim().is_empty() {
        return Ok(Redirect::to("/register/sent").into_response());
    }
    let person =
        match waymark_core::community::registration(&f.name, &f.email, &s.community_domains) {
            Ok(p) => p,
            Err(problems) => {
                let errors = problems.iter().filter_map(super::field_error).collect();
                return Ok(register_page(
                    &s,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &f,
                    errors,
                ));
            }
        };
    let t = now();
    let network = crate::ops::limit_key(addr);
    if let Some(refused) = super::intake::over_limit(
        &s,
        "register_form",
        &network,
        REGISTER_LIMIT,
        t,
        super::intake::TOO_MANY,
    )
    .await?
    {
        return Ok(refused);
    }
    // However many networks ask, one address gets a few mails an hour.
    let address = format!("to:{}", person.email);
    if let Some(refused) = super::intake::over_limit(
        &s,
        "register_form",
        &address,
        REGISTER_PER_ADDRESS,
        t,
        super::intake::TOO_MANY,
    )
    .await?
    {
        return Ok(refused);
    }
    let base = s.public_url.trim_end_matches('/').to_string();
    let (to, from) = (person.email.as_str().to_string(), s.mail_from.clone());
    s.store
        .register(
            &person,
            |token| match token {
                Some(token) => crate::mail::verify_registration(
                    &to,
                    &format!("{base}/register/{token}"),
                    &from,
                ),
                None => crate::mail::already_registered(&to, &format!("{base}/login"), &from),
            },
            t,
            waymark_core::Timestamp(t.0 + REGISTRATION_DAYS * 86_400),
        )
        .await?;
    Ok(Redirect::to("/register/sent").into_response())
}

pub async fn register_sent(State(s): State<Arc<AppState>>) -> Result<Response, PageError> {
    #[derive(serde::Serialize)]
    struct Sent {
        title: &'static str,
        days: i64,
    }
    view_page(
        &s,
        StatusCode::OK,
        "register-sent.html",
        &Sent {
            title: "Check your email",
            days: REGISTRATION_DAYS,
        },
    )
}

fn invalid_registration(s: &AppState) -> Response {
    let view = ErrorPage {
        reference: crate::ops::request_id(),
        title: "This link does not work",
        message: "It may have been used already, or it may have expired (links work for three days). Register again to get a new one; if you set a password already, sign in.",
    };
    view_page(s, StatusCode::NOT_FOUND, "error.html", &view)
        .unwrap_or_else(IntoResponse::into_response)
}

/// The verification link: the form that sets the new account's password.
pub async fn registration_form(
    State(s): State<Arc<AppState>>,
    Path(token): Path<String>,
) -> Response {
    match s.store.registration(&token, now()).await {
        Ok(Some(p)) => password_page(
            &s,
            StatusCode::OK,
            format!("/register/{token}"),
            &p.name,
            p.email.as_str(),
            Vec::new(),
        ),
        Ok(None) => invalid_registration(&s),
        Err(e) => PageError::from(e).into_response(),
    }
}

/// Sets the password, makes the account (a community member) and signs in.
pub async fn complete_registration(
    State(s): State<Arc<AppState>>,
    Path(token): Path<String>,
    session: Session,
    Form(f): Form<InviteForm>,
) -> Response {
    let pending = match s.store.registration(&token, now()).await {
        Ok(Some(p)) => p,
        Ok(None) => return invalid_registration(&s),
        Err(e) => return PageError::from(e).into_response(),
    };
    let password = match Password::parse(&f.password, &f.confirm) {
        Ok(p) => p,
        Err(waymark_core::DomainError::Invalid { field, message }) => {
            return password_page(
                &s,
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("/register/{token}"),
                &pending.name,
                pending.email.as_str(),
                vec![form_error(field, message)],
            );
        }
        Err(e) => return PageError::from(e).into_response(),
    };
    let hash = match crate::heavy::PASSWORDS
        .run(move || hash_password(&password))
        .await
    {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => return PageError::Internal(e.to_string()).into_response(),
        Err(e) => return PageError::Internal(e.to_string()).into_response(),
    };
    match s.store.complete_registration(&token, &hash, now()).await {
        Ok(Some(person)) => match begin(&session, person).await {
            Ok(()) => Redirect::to("/community?welcome=1").into_response(),
            Err(e) => e.into_response(),
        },
        Ok(None) => invalid_registration(&s),
        // The address got an account meanwhile (another link, an invite).
        Err(StoreError::Duplicate { .. }) => Redirect::to("/login").into_response(),
        Err(e) => PageError::from(e).into_response(),
    }
}
