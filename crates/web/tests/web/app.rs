//! The workspace's security, on every backend: the access matrix built from
//! the router's own route table, CSRF, sessions, the sign-in rate limit,
//! and escaping of every free-text field on every page that shows it.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use tower::ServiceExt;
use waymark_core::*;
use waymark_store::Store;
use waymark_store::testing::stores;

#[path = "details.rs"]
mod details;
#[path = "documents.rs"]
mod documents;
#[path = "factor.rs"]
mod factor;
#[path = "oidc.rs"]
mod oidc;
#[path = "passkeys.rs"]
mod passkeys;
#[path = "portfolio.rs"]
mod portfolio;
#[path = "retention.rs"]
mod retention;
use waymark_web::app::{hash_password, table};
use waymark_web::{Application, Settings};

const NOW: Timestamp = Timestamp(1_763_800_000);
const PASSWORD: &str = "correct horse battery staple";
const HOST: &str = "waymark.test";

/// The application as the binary composes it, reached from `addr`.
async fn composed(store: &Store, public_url: &str, addr: [u8; 4]) -> Router {
    crate::logs();
    let settings = Settings::new(
        store.clone(),
        Arc::new(waymark_model::bundled()),
        public_url,
    );
    Application::build(settings)
        .await
        .unwrap()
        .router()
        .layer(MockConnectInfo(SocketAddr::from((addr, 40000))))
}

async fn router(store: &Store, addr: [u8; 4]) -> Router {
    composed(store, &format!("http://{HOST}"), addr).await
}

/// A browser: its session cookie and the form token of its pages.
#[derive(Debug, Clone, Default)]
struct Client {
    cookie: Option<String>,
    csrf: String,
}

struct Reply {
    status: StatusCode,
    content_type: Option<String>,
    location: String,
    set_cookie: Option<String>,
    retry_after: Option<String>,
    body: String,
    raw: Vec<u8>,
}

async fn send(
    app: &Router,
    c: &Client,
    method: Method,
    path: &str,
    form: &[(&str, &str)],
) -> Reply {
    let mut req = Request::builder()
        .method(method.clone())
        .uri(path)
        .header(header::HOST, HOST);
    if let Some(cookie) = &c.cookie {
        req = req.header(header::COOKIE, cookie);
    }
    let body = if method == Method::POST && form.iter().any(|(k, _)| *k == "file") {
        // An upload: a "file" field goes as a text file named note.txt.
        req = req
            .header(header::CONTENT_TYPE, "multipart/form-data; boundary=XyZ")
            .header(header::ORIGIN, format!("http://{HOST}"));
        let mut b = String::new();
        for (k, v) in form {
            if *k == "file" {
                b.push_str(&format!("--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"note.txt\"\r\nContent-Type: text/plain\r\n\r\n{v}\r\n"));
            } else {
                b.push_str(&format!(
                    "--XyZ\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                ));
            }
        }
        b.push_str("--XyZ--\r\n");
        b
    } else if method == Method::POST {
        req = req
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ORIGIN, format!("http://{HOST}"));
        form.iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect::<Vec<_>>()
            .join("&")
    } else {
        String::new()
    };
    answer(app, req.body(Body::from(body)).unwrap()).await
}

/// The app's answer to `req`, read whole.
async fn answer(app: &Router, req: Request<Body>) -> Reply {
    let res = app.clone().oneshot(req).await.unwrap();
    let (status, content_type, location, set_cookie, retry_after) = {
        let h = |name| {
            res.headers()
                .get(name)
                .map(|v: &axum::http::HeaderValue| v.to_str().unwrap().to_string())
        };
        (
            res.status(),
            h(header::CONTENT_TYPE),
            h(header::LOCATION).unwrap_or_default(),
            h(header::SET_COOKIE),
            h(header::RETRY_AFTER),
        )
    };
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    Reply {
        status,
        content_type,
        location,
        set_cookie,
        retry_after,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        raw: bytes.to_vec(),
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn csrf_of(body: &str) -> Option<String> {
    let at = body.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    Some(body[at..at + 64].to_string())
}

fn cookie_of(r: &Reply) -> Option<String> {
    r.set_cookie
        .as_deref()
        .map(|c| c.split(';').next().unwrap().to_string())
}

async fn sign_in(app: &Router, email: &str, password: &str) -> (Client, Reply) {
    let r = send(
        app,
        &Client::default(),
        Method::POST,
        "/login",
        &[("email", email), ("password", password), ("next", "")],
    )
    .await;
    let mut c = Client {
        cookie: cookie_of(&r),
        csrf: String::new(),
    };
    if r.status == StatusCode::SEE_OTHER {
        let mut home = send(app, &c, Method::GET, "/engagements", &[]).await;
        // A programme admin sets up a second factor before anything else,
        // as a person with an authenticator app would.
        if home.location == "/settings/second-factor" {
            set_up_factor(app, &c).await;
            home = send(app, &c, Method::GET, "/engagements", &[]).await;
        }
        c.csrf = csrf_of(&home.body).unwrap_or_default();
    }
    (c, r)
}

/// A read-write API token for the person with `email`.
async fn token_for(store: &Store, email: &str) -> String {
    let who = store
        .person_by_email(&Email::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap();
    store.create_token(who, "test", NOW).await.unwrap()
}

/// An API request with `token` and a JSON `body`: the status and the
/// answer as JSON (null when it is none).
async fn api_call(
    app: &Router,
    method: Method,
    path: &str,
    token: &str,
    body: &str,
) -> (StatusCode, serde_json::Value) {
    let r = app
        .clone()
        .oneshot(
            Request::builder()
                .method(method)
                .uri(path)
                .header(header::HOST, HOST)
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = r.status();
    let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
}

/// The key a second-factor page shows to type by hand.
fn key_of(body: &str) -> Vec<u8> {
    let at =
        body.find("id=\"setup-key\">").expect("no key on the page") + "id=\"setup-key\">".len();
    let end = at + body[at..].find("</code>").unwrap();
    let key: String = body[at..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    totp_rs::Secret::Encoded(key).to_bytes().unwrap()
}

/// The code an authenticator app shows for `key` in 30-second `step`.
fn code_at(key: &[u8], step: i64) -> String {
    totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        0,
        30,
        key.to_vec(),
        None,
        "test".into(),
    )
    .unwrap()
    .generate(u64::try_from(step * 30).unwrap())
}

/// The 30-second step of the clock now.
fn step_now() -> i64 {
    waymark_store::now().0 / 30
}

/// Sets up a second factor for the signed-in `c`: scans (reads) the key,
/// types the code for now. Returns the key, the step its code used, and
/// the recovery codes shown.
async fn set_up_factor(app: &Router, c: &Client) -> (Vec<u8>, i64, Vec<String>) {
    let page = send(app, c, Method::GET, "/settings/second-factor", &[]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let key = key_of(&page.body);
    let csrf = csrf_of(&page.body).unwrap();
    let step = step_now();
    let r = send(
        app,
        c,
        Method::POST,
        "/settings/second-factor",
        &[("csrf", &csrf), ("code", &code_at(&key, step))],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains("Save your recovery codes now"),
        "{}",
        r.body
    );
    let codes: Vec<String> = r
        .body
        .split("<li><code>")
        .skip(1)
        .map(|rest| rest[..rest.find("</code>").unwrap()].to_string())
        .collect();
    assert_eq!(codes.len(), 10, "{}", r.body);
    (key, step, codes)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    SignedOut,
    Admin,
    Staff,
    Member,
    Sponsor,
    OtherAgency,
    PartnerAssigned,
    PartnerUnassigned,
    /// An account with no role: the community and the guide only.
    Community,
}

const EVERYONE: [Who; 9] = [
    Who::SignedOut,
    Who::Admin,
    Who::Staff,
    Who::Member,
    Who::Sponsor,
    Who::OtherAgency,
    Who::PartnerAssigned,
    Who::PartnerUnassigned,
    Who::Community,
];

struct World {
    store: Store,
    agency: AgencyId,
    engagement: EngagementId,
    emails: Vec<(Who, &'static str)>,
    /// The admin's browser, once signed in (with their second factor).
    admin: tokio::sync::OnceCell<Client>,
}

async fn world(store: Store) -> World {
    let agency = store
        .add_agency(
            &NewAgency::parse("Bureau of Things", "BOT", "Industry", None).unwrap(),
            NOW,
        )
        .await
        .unwrap();
    let other = store
        .add_agency(
            &NewAgency::parse("Other Office", "OTH", "Finance", None).unwrap(),
            NOW,
        )
        .await
        .unwrap();
    let hash = hash_password(&Password::parse(PASSWORD, PASSWORD).unwrap()).unwrap();
    let mut emails = Vec::new();
    let mut ids = Vec::new();
    for (who, email, role) in [
        (Who::Admin, "ada@dta.gov.au", Some(Role::ProgrammeAdmin)),
        (Who::Staff, "sam@dta.gov.au", Some(Role::ProgrammeStaff)),
        (
            Who::Member,
            "mia@bot.gov.au",
            Some(Role::AgencyMember {
                agency,
                sponsor: false,
            }),
        ),
        (
            Who::Sponsor,
            "eve@bot.gov.au",
            Some(Role::AgencyMember {
                agency,
                sponsor: true,
            }),
        ),
        (
            Who::OtherAgency,
            "olly@oth.gov.au",
            Some(Role::AgencyMember {
                agency: other,
                sponsor: true,
            }),
        ),
        (
            Who::PartnerAssigned,
            "pat@vendor.com.au",
            Some(Role::Partner {
                kind: PartnerKind::Strategy,
            }),
        ),
        (
            Who::PartnerUnassigned,
            "una@vendor.com.au",
            Some(Role::Partner {
                kind: PartnerKind::Technology,
            }),
        ),
        (Who::Community, "cam@council.gov.au", None),
    ] {
        let p = store
            .add_person_with_roles(
                &NewPerson::parse("Person", email).unwrap(),
                role.as_slice(),
                NOW,
            )
            .await
            .unwrap();
        store.set_password_hash(p, &hash).await.unwrap();
        emails.push((who, email));
        ids.push((who, p));
    }
    let staff = store.actor(ids[1].1).await.unwrap();
    let hash = store
        .pin_model(&waymark_model::bundled(), NOW)
        .await
        .unwrap();
    let e = store
        .start_engagement(&staff, agency, Mode::DoItWithYou, &hash, NOW)
        .await
        .unwrap();
    let pat = ids
        .iter()
        .find(|(w, _)| *w == Who::PartnerAssigned)
        .unwrap()
        .1;
    store
        .execute(
            &staff,
            e.id,
            1,
            &Command::Assign {
                person: pat,
                partner: Some(PartnerKind::Strategy),
            },
            NOW,
        )
        .await
        .unwrap();
    World {
        store,
        agency,
        engagement: e.id,
        emails,
        admin: tokio::sync::OnceCell::new(),
    }
}

impl World {
    /// The id of the world's person with this address.
    async fn id(&self, email: &str) -> PersonId {
        self.store
            .person_by_email(&Email::parse(email).unwrap())
            .await
            .unwrap()
            .unwrap()
    }

    async fn client(&self, app: &Router, who: Who) -> Client {
        // The admin signs in once per world: their second factor is set up
        // then, and its codes each work once.
        if who == Who::Admin {
            return self
                .admin
                .get_or_init(|| self.sign_in_as(app, who))
                .await
                .clone();
        }
        self.sign_in_as(app, who).await
    }

    async fn sign_in_as(&self, app: &Router, who: Who) -> Client {
        match self.emails.iter().find(|(w, _)| *w == who) {
            None => Client::default(),
            Some((_, email)) => {
                let (c, r) = sign_in(app, email, PASSWORD).await;
                assert_eq!(
                    r.status,
                    StatusCode::SEE_OTHER,
                    "{who:?} could not sign in: {}",
                    r.body
                );
                c
            }
        }
    }

    async fn version(&self) -> String {
        let staff = Actor {
            person: PersonId(2),
            roles: vec![Role::ProgrammeStaff],
        };
        self.store
            .engagement(&staff, self.engagement)
            .await
            .unwrap()
            .version
            .to_string()
    }
}

/// What each route answers each kind of visitor. Every route of
/// `app::table()` must be here.
fn expected(method: &Method, path: &str, who: Who) -> StatusCode {
    use Who::*;
    let signed_in = who != SignedOut;
    let sees_engagement = matches!(who, Admin | Staff | Member | Sponsor | PartnerAssigned);
    let to_login = StatusCode::SEE_OTHER;
    let programme = matches!(who, Admin | Staff);
    let may_run = matches!(who, Admin | Staff | Member | Sponsor);
    match (method.as_str(), path) {
        // The public form needs no account.
        ("GET", "/request-support" | "/request-support/sent") => StatusCode::OK,
        // Anyone may search; what each finds is the store's search tests'.
        ("GET", "/search") => StatusCode::OK,
        // The passkey pages' script is the same for everyone.
        ("GET", "/passkey.js") => StatusCode::OK,
        // The privacy notice every form that collects personal data links to.
        ("GET", "/privacy") => StatusCode::OK,
        // What changed between an article's published versions is public,
        // and so is the directory of agencies using the blueprint.
        ("GET", "/knowledge/{slug}/changes" | "/adopters") => StatusCode::OK,
        ("POST", "/request-support") => StatusCode::SEE_OTHER,
        ("GET", "/login") if signed_in => StatusCode::SEE_OTHER,
        ("GET", "/login") => StatusCode::OK,
        // An unknown or spent invite is nobody's page.
        ("GET" | "POST", "/invite/{token}" | "/setup/{token}") => StatusCode::NOT_FOUND,
        // No provider is configured here: every provider's sign-in is no
        // page, signed in or out (oidc.rs signs in with one).
        ("GET", "/login/oidc/{provider}" | "/login/oidc/{provider}/callback") => {
            StatusCode::NOT_FOUND
        }
        ("POST", "/login") => StatusCode::UNPROCESSABLE_ENTITY,
        // The second factor's code page, with no correct password waiting
        // for a code: back to sign-in.
        ("GET" | "POST", "/login/code") => StatusCode::SEE_OTHER,
        // Registering is for people without an account (the matrix's form
        // is empty: 422); a made-up link is nobody's.
        ("GET", "/register") if signed_in => StatusCode::SEE_OTHER,
        ("GET", "/register" | "/register/sent") => StatusCode::OK,
        ("POST", "/register") => StatusCode::UNPROCESSABLE_ENTITY,
        ("GET" | "POST", "/register/{token}") => StatusCode::NOT_FOUND,
        // A mail's unsubscribe link needs no account; a made-up key stops
        // nothing.
        ("GET" | "POST", "/unsubscribe/{key}") => StatusCode::NOT_FOUND,
        // The community reads signed out where its category is public (the
        // matrix's question is in one); the step's list needs a step named.
        ("GET", "/community/about") => StatusCode::NOT_FOUND,
        (
            "GET",
            "/community"
            | "/community/c/{slug}"
            | "/community/q/{id}"
            | "/community/posts/{id}/history",
        ) => StatusCode::OK,
        // An invitation's or a public link's survey needs no account; the
        // matrix's are made up, so nobody's.
        ("GET" | "POST", "/answer/{token}" | "/answer/link/{key}") => StatusCode::NOT_FOUND,
        (_, _) if !signed_in => to_login,
        // Every account lists the surveys it may see (most see none); the
        // programme starts one (the matrix's form says no audience: 422).
        // The matrix's survey does not exist: not found to the programme,
        // and its forms forbidden to everyone else.
        ("GET", "/surveys") => StatusCode::OK,
        ("POST", "/surveys") if programme => StatusCode::UNPROCESSABLE_ENTITY,
        ("POST", "/surveys" | "/surveys/{id}") if !programme => StatusCode::FORBIDDEN,
        (_, "/surveys/{id}" | "/surveys/{id}/results" | "/surveys/{id}/results.csv") => {
            StatusCode::NOT_FOUND
        }
        // Every account reads the lessons it may see (some see none).
        // The portfolio is the programme's (the matrix's capacity form is
        // empty: 422; its `{file}` is no chart's CSV); to others it does
        // not exist.
        ("GET", "/portfolio") if programme => StatusCode::OK,
        ("POST", "/portfolio/capacity") if programme => StatusCode::UNPROCESSABLE_ENTITY,
        (_, "/portfolio" | "/portfolio/capacity" | "/portfolio/{file}") => StatusCode::NOT_FOUND,
        ("GET", "/lessons") => StatusCode::OK,
        // Any account asks (the matrix's form is empty: 422) and votes for
        // the staff member's answer (never their own); the programme adds
        // categories (no name: 422); the member's question is theirs and
        // the programme's to edit.
        ("GET", "/community/ask") => StatusCode::OK,
        ("POST", "/community/ask") => StatusCode::UNPROCESSABLE_ENTITY,
        ("POST", "/community/q/{id}") if who == Staff => StatusCode::UNPROCESSABLE_ENTITY,
        ("POST", "/community/q/{id}") => StatusCode::SEE_OTHER,
        // Anyone signed in watches the (public) category.
        ("POST", "/community/c/{slug}") => StatusCode::SEE_OTHER,
        // The flag queue is the programme's; the matrix's form names no post.
        ("GET", "/community/flags") if programme => StatusCode::OK,
        (_, "/community/flags") => StatusCode::NOT_FOUND,
        ("POST", "/community/categories") if programme => StatusCode::UNPROCESSABLE_ENTITY,
        ("POST", "/community/categories") => StatusCode::FORBIDDEN,
        ("GET", "/community/posts/{id}/edit") if programme || who == Member => StatusCode::OK,
        ("POST", "/community/posts/{id}/edit") if programme || who == Member => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        (_, "/community/posts/{id}/edit") => StatusCode::FORBIDDEN,
        ("POST", "/logout") => StatusCode::SEE_OTHER,
        // Everyone's own settings; the matrix's form sends none, so 422.
        ("GET", "/settings") => StatusCode::OK,
        ("POST", "/settings" | "/settings/password" | "/settings/name") => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        // An admin corrects anyone's details (the matrix's form sends none:
        // 422); to others it is refused.
        ("POST", "/people/{id}/details") if who == Admin => StatusCode::UNPROCESSABLE_ENTITY,
        ("POST", "/people/{id}/details") => StatusCode::FORBIDDEN,
        // An admin removes someone's personal data only when the form
        // repeats their address (the matrix's sends none: 422).
        ("POST", "/people/{id}/remove") if who == Admin => StatusCode::UNPROCESSABLE_ENTITY,
        ("POST", "/people/{id}/remove") => StatusCode::FORBIDDEN,
        // Ending a session that is not theirs (or none) signs nobody out.
        ("POST", "/settings/sessions") => StatusCode::SEE_OTHER,
        // Everyone's own second factor: the admin has one (set up when they
        // signed in), so setting one up goes back to its page, and the
        // forms that need a code get none (422); for the others it is the
        // other way round.
        ("GET", "/settings/second-factor") => StatusCode::OK,
        ("POST", "/settings/second-factor") if who == Admin => StatusCode::SEE_OTHER,
        ("POST", "/settings/second-factor") => StatusCode::UNPROCESSABLE_ENTITY,
        // Confirming the factor when this session proved it just now (the
        // admin, at sign-in) or has none (the others) spends nothing and
        // goes back to the page.
        ("POST", "/settings/second-factor/confirm") => StatusCode::SEE_OTHER,
        ("POST", "/settings/second-factor/codes" | "/settings/second-factor/off")
            if who == Admin =>
        {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        ("POST", "/settings/second-factor/codes" | "/settings/second-factor/off") => {
            StatusCode::SEE_OTHER
        }
        // Everyone's own passkeys: the matrix's form brings no new one, and
        // names none to remove (422).
        ("POST", "/settings/passkeys" | "/settings/passkeys/remove") => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        // Retention is the programme's to read; its admins set it (the
        // matrix's form names no action: 422).
        ("GET", "/retention") if programme => StatusCode::OK,
        ("POST", "/retention") if who == Admin => StatusCode::UNPROCESSABLE_ENTITY,
        ("POST", "/retention") if who == Staff => StatusCode::FORBIDDEN,
        (_, "/retention") => StatusCode::NOT_FOUND,
        // An admin resets another's (the unassigned partner has none: it
        // stays off); nobody else may.
        ("POST", "/people/{id}/second-factor/reset") if who == Admin => StatusCode::SEE_OTHER,
        ("POST", "/people/{id}/second-factor/reset") => StatusCode::FORBIDDEN,
        // Anyone unlinks their own provider accounts, and an admin anyone's
        // (the matrix's form names none, so nothing is unlinked: the page
        // says so, 404); nobody else's.
        ("POST", "/settings/sign-in-accounts/unlink") => StatusCode::NOT_FOUND,
        ("POST", "/people/{id}/sign-in-accounts/unlink")
            if matches!(who, Admin | PartnerUnassigned) =>
        {
            StatusCode::NOT_FOUND
        }
        ("POST", "/people/{id}/sign-in-accounts/unlink") => StatusCode::FORBIDDEN,
        // An admin sends a link to set a password to someone without one;
        // the matrix's person has a password (422). Nobody else may.
        ("POST", "/people/{id}/password-link") if who == Admin => StatusCode::UNPROCESSABLE_ENTITY,
        ("POST", "/people/{id}/password-link") => StatusCode::FORBIDDEN,
        // A token needs a name (422); revoking none of one's own revokes
        // nothing and goes back.
        ("POST", "/settings/tokens") => StatusCode::UNPROCESSABLE_ENTITY,
        ("POST", "/settings/tokens/revoke") => StatusCode::SEE_OTHER,
        // Webhooks: the programme and sponsors subscribe (the matrix's form
        // names no address: 422); a subscription (the staff member's) is
        // its owner's and the admins' alone, and the form stops it.
        ("GET", "/settings/webhooks") => StatusCode::OK,
        ("POST", "/settings/webhooks") if matches!(who, Admin | Staff | Sponsor | OtherAgency) => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        ("POST", "/settings/webhooks") => StatusCode::FORBIDDEN,
        ("GET", "/settings/webhooks/{id}") if programme => StatusCode::OK,
        ("POST", "/settings/webhooks/{id}") if programme => StatusCode::SEE_OTHER,
        (_, "/settings/webhooks/{id}") => StatusCode::NOT_FOUND,
        ("GET", "/engagements" | "/agencies" | "/agencies/{id}" | "/agencies/{id}/assessment") => {
            StatusCode::OK
        }
        // The agency's sponsor or the programme answers the self-assessment;
        // the matrix's form answers nothing (422). Only the programme sets
        // a type; its form gives none (422).
        ("POST", "/agencies/{id}/assessment") if matches!(who, Admin | Staff | Sponsor) => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        ("POST", "/agencies/{id}/type") if programme => StatusCode::UNPROCESSABLE_ENTITY,
        ("POST", "/agencies/{id}/assessment" | "/agencies/{id}/type") => StatusCode::FORBIDDEN,
        (
            "GET",
            "/engagements/{id}"
            | "/engagements/{id}/history"
            | "/engagements/{id}/stages/{stage}"
            | "/engagements/{id}/risks"
            | "/engagements/{id}/benefits"
            | "/engagements/{id}/benefits.csv"
            | "/engagements/{id}/decisions"
            | "/engagements/{id}/people"
            | "/engagements/{id}/discussion",
        ) if sees_engagement => StatusCode::OK,
        ("POST", "/engagements/{id}") if sees_engagement => StatusCode::SEE_OTHER,
        (
            "GET" | "POST",
            "/engagements/{id}"
            | "/engagements/{id}/history"
            | "/engagements/{id}/stages/{stage}"
            | "/engagements/{id}/risks"
            | "/engagements/{id}/benefits"
            | "/engagements/{id}/benefits.csv"
            | "/engagements/{id}/decisions"
            | "/engagements/{id}/people"
            | "/engagements/{id}/discussion",
        ) => StatusCode::NOT_FOUND,
        ("POST", "/engagements") if matches!(who, Admin | Staff | Member | Sponsor) => {
            StatusCode::SEE_OTHER
        }
        ("POST", "/engagements") => StatusCode::FORBIDDEN,
        // The agency's sponsor or the programme lists it in the directory.
        ("POST", "/agencies/{id}/directory") if matches!(who, Admin | Staff | Sponsor) => {
            StatusCode::SEE_OTHER
        }
        ("POST", "/agencies/{id}/directory") => StatusCode::FORBIDDEN,
        ("POST", "/agencies") if matches!(who, Admin | Staff) => StatusCode::SEE_OTHER,
        ("POST", "/agencies") => StatusCode::FORBIDDEN,
        // What is held about a person: their own download, or an admin's
        // for them (the matrix's {id} is the unassigned partner); never
        // another's, whoever exists.
        ("GET", "/settings/data") => StatusCode::OK,
        ("GET", "/people/{id}/data") if matches!(who, Admin | PartnerUnassigned) => StatusCode::OK,
        ("GET", "/people/{id}/data") => StatusCode::FORBIDDEN,
        ("GET", "/people" | "/people/{id}") if who == Admin => StatusCode::OK,
        ("POST", "/people") if who == Admin => StatusCode::CREATED,
        ("POST", "/people/{id}") if who == Admin => StatusCode::SEE_OTHER,
        // The admin deactivates the unassigned partner and, the next route,
        // reactivates them, so they still sign in for their own turn.
        ("POST", "/people/{id}/deactivate" | "/people/{id}/reactivate") if who == Admin => {
            StatusCode::SEE_OTHER
        }
        (
            "GET" | "POST",
            "/people" | "/people/{id}" | "/people/{id}/deactivate" | "/people/{id}/reactivate",
        ) => StatusCode::FORBIDDEN,
        ("GET", "/enquiries" | "/enquiries/{id}") if programme => StatusCode::OK,
        ("POST", "/enquiries/{id}") if programme => StatusCode::SEE_OTHER,
        (_, "/enquiries" | "/enquiries/{id}") => StatusCode::NOT_FOUND,
        ("GET", "/letter-templates/{kind}") if programme => StatusCode::OK,
        ("POST", "/letter-templates/{kind}") if programme => StatusCode::SEE_OTHER,
        (_, "/letter-templates/{kind}") => StatusCode::NOT_FOUND,
        // Articles and releases are the programme's; to others the pages
        // do not exist. The matrix's forms send no action: 422.
        ("GET", "/articles" | "/articles/new" | "/articles/{id}" | "/blueprint") if programme => {
            StatusCode::OK
        }
        ("POST", "/articles/new" | "/articles/{id}" | "/blueprint") if programme => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        (_, "/articles" | "/articles/new" | "/articles/{id}" | "/blueprint") => {
            StatusCode::NOT_FOUND
        }
        // Ordering the FAQ: the matrix's form names no entry, so there is
        // none to move, and to others the page does not exist.
        ("POST", "/articles/faq") => StatusCode::NOT_FOUND,
        // Moving engagements between model versions is the programme's;
        // the matrix's form names no version, so there is none to move.
        ("GET", "/migrations") if programme => StatusCode::OK,
        (_, "/migrations") => StatusCode::NOT_FOUND,
        // Any reader answers "Was this helpful?"; the form sends no answer.
        ("POST", "/knowledge/{slug}/feedback") => StatusCode::UNPROCESSABLE_ENTITY,
        // The mailbox is the programme's; the matrix's form names no record.
        ("GET", "/mailbox") if programme => StatusCode::OK,
        (_, "/mailbox") => StatusCode::NOT_FOUND,
        ("GET", "/outbox") if who == Admin => StatusCode::OK,
        ("GET", "/outbox") => StatusCode::NOT_FOUND,
        // No letter has been issued, so there is no PDF for anyone.
        ("GET", "/engagements/{id}/letters/{kind}/{file}") => StatusCode::NOT_FOUND,
        (_, p) if p.starts_with("/engagements/{id}/") && !sees_engagement => StatusCode::NOT_FOUND,
        ("GET", "/files/{id}") if !sees_engagement => StatusCode::NOT_FOUND,
        ("GET", _) => StatusCode::OK,
        // Partners advise: they do not schedule workshops.
        ("POST", "/engagements/{id}/workshops") if may_run => StatusCode::SEE_OTHER,
        ("POST", "/engagements/{id}/workshops") => StatusCode::FORBIDDEN,
        // Nothing is decided yet, so the letter cannot be written (422);
        // only the programme issues letters.
        ("POST", "/engagements/{id}/letters/{kind}") if programme => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        ("POST", "/engagements/{id}/letters/{kind}") => StatusCode::FORBIDDEN,
        ("POST", "/engagements/{id}/delivery" | "/engagements/{id}/documents") => {
            StatusCode::SEE_OTHER
        }
        (m, p) => panic!("the access matrix has no row for {m} {p}: add one"),
    }
}

#[tokio::test]
async fn every_route_answers_every_role_rightly() {
    for store in stores("matrix").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 1]).await;
        let enquiry = match w
            .store
            .add_enquiry(
                &waymark_store::NewEnquiry {
                    source: "form".into(),
                    agency_name: "Bureau".into(),
                    contact_name: "Alex".into(),
                    contact_email: "alex@bureau.gov.au".into(),
                    subject: "Help".into(),
                    body: "Please".into(),
                    ..Default::default()
                },
                None,
                NOW,
            )
            .await
            .unwrap()
        {
            waymark_store::ImportOutcome::Added(id) => id,
            other => panic!("{other:?}"),
        };
        // A published article, for the knowledge routes.
        let staff = w.store.actor(PersonId(2)).await.unwrap();
        let model = waymark_model::build(waymark_model::bundled()).model;
        let article = w
            .store
            .save_article(
                &staff,
                &model,
                None,
                None,
                &waymark_core::knowledge::Article {
                    slug: "matrix".into(),
                    title: "Matrix".into(),
                    summary: "Matrix.".into(),
                    body: "Matrix.".into(),
                    tags: Vec::new(),
                    review_by: "2099-01-01".into(),
                },
                None,
                waymark_core::knowledge::ArticleAction::Publish,
                NOW,
            )
            .await
            .unwrap();
        // A webhook subscription of the staff member's.
        let hook = w
            .store
            .create_webhook(
                &staff,
                &waymark_core::webhook::NewSubscription::parse(
                    &staff,
                    "https://hooks.example.gov.au/matrix",
                    &["*".to_string()],
                    "",
                    &[],
                )
                .unwrap(),
                NOW,
            )
            .await
            .unwrap()
            .0
            .id;
        // A public category with the member's question and the staff
        // member's answer, for the community's routes.
        let member = w.store.actor(PersonId(3)).await.unwrap();
        w.store
            .add_category(
                &staff,
                &waymark_core::community::NewCategory::parse("Matrix", "", "public", false)
                    .unwrap(),
            )
            .await
            .unwrap();
        let question = w
            .store
            .ask(
                &member,
                "matrix",
                &waymark_core::community::Question::parse(
                    "Who comes to the first meeting?",
                    "Matrix.",
                    "",
                    &model,
                )
                .unwrap(),
                NOW,
            )
            .await
            .unwrap();
        let question_post = w.store.thread(None, question).await.unwrap().question.id;
        let answer = w
            .store
            .answer(&staff, question, "Matrix answer.", NOW)
            .await
            .unwrap()
            .to_string();
        let mut routes = table();
        // Signing out ends the session, so it goes last.
        routes.sort_by_key(|r| r.path == "/logout");
        let mut checked = 0;
        for who in EVERYONE {
            let c = w.client(&app, who).await;
            for (n, r) in routes.iter().enumerate() {
                let path = r
                    .path
                    .replace(
                        "{id}",
                        &if r.path.starts_with("/agencies") {
                            w.agency.0
                        } else if r.path.starts_with("/articles") {
                            article
                        } else if r.path.starts_with("/people") {
                            7 // the unassigned partner
                        } else if r.path.starts_with("/settings/webhooks") {
                            hook
                        } else if r.path.starts_with("/community/q/") {
                            question
                        } else if r.path.starts_with("/community/posts/") {
                            question_post
                        } else {
                            w.engagement.0
                        }
                        .to_string(),
                    )
                    .replace("{token}", "not-a-token")
                    .replace(
                        "{file}",
                        if r.path.contains("/workshops/") {
                            "1.ics"
                        } else if r.path.contains("/letters/") {
                            "v1.pdf"
                        } else {
                            "delivery.md"
                        },
                    )
                    .replace("{kind}", "letter-of-intent")
                    .replace("{stage}", "engagement")
                    .replace("{guide}", "1")
                    .replace("{slug}", "matrix");
                let path = if r.path.starts_with("/enquiries/") {
                    format!("/enquiries/{enquiry}")
                } else if r.path.starts_with("/files/") {
                    "/files/1".to_string()
                } else {
                    path
                };
                let abbr = format!("N{n}{}", who as u8);
                let version = w.version().await;
                let email = format!("new{n}-{}@bot.gov.au", who as u8);
                let agency = w.agency.0.to_string();
                let form: Vec<(&str, &str)> = match (r.method.as_str(), r.path) {
                    ("POST", "/engagements") => vec![("csrf", &c.csrf), ("agency", &agency)],
                    ("POST", "/engagements/{id}") => vec![
                        ("csrf", &c.csrf),
                        ("version", &version),
                        ("form", "risk-add"),
                        ("command", "add_risk"),
                        ("text", "Matrix risk"),
                    ],
                    ("POST", "/agencies") => vec![
                        ("csrf", &c.csrf),
                        ("name", "New Agency"),
                        ("abbreviation", &abbr),
                        ("portfolio", "Finance"),
                    ],
                    ("POST", "/people/{id}") => vec![("csrf", &c.csrf), ("role", "strategy")],
                    ("POST", "/people/{id}/deactivate" | "/people/{id}/reactivate") => {
                        vec![("csrf", &c.csrf)]
                    }
                    ("POST", "/people") => vec![
                        ("csrf", &c.csrf),
                        ("name", "New Person"),
                        ("email", &email),
                        ("role", "staff"),
                    ],
                    ("POST", "/request-support") => vec![("website", "http://spam.example")],
                    ("POST", "/community/q/{id}") => {
                        vec![("csrf", &c.csrf), ("action", "vote"), ("post", &answer)]
                    }
                    ("POST", "/community/c/{slug}") => vec![("csrf", &c.csrf), ("action", "watch")],
                    ("POST", "/settings/webhooks/{id}") => {
                        vec![("csrf", &c.csrf), ("action", "disable")]
                    }
                    ("POST", "/enquiries/{id}") => {
                        vec![
                            ("csrf", &c.csrf),
                            ("action", "note"),
                            ("text", "Matrix note"),
                        ]
                    }
                    ("POST", "/letter-templates/{kind}") => {
                        vec![("csrf", &c.csrf), ("body", "Dear {{ agency.name }}")]
                    }
                    ("POST", "/engagements/{id}/workshops") => vec![
                        ("csrf", &c.csrf),
                        ("version", &version),
                        ("action", "schedule"),
                        ("title", "Matrix workshop"),
                        ("date", "2026-12-01"),
                        ("time", "10:00"),
                        ("timezone", "Australia/Canberra"),
                        ("minutes", "60"),
                        ("location", "Canberra"),
                        ("agenda", "Access"),
                    ],
                    ("POST", "/engagements/{id}/letters/{kind}") => {
                        vec![
                            ("csrf", &c.csrf),
                            ("version", &version),
                            ("action", "issue"),
                        ]
                    }
                    ("POST", "/engagements/{id}/delivery") => vec![
                        ("csrf", &c.csrf),
                        ("version", &version),
                        ("artefact", "guide"),
                        ("title", "Matrix guide"),
                        ("markdown", "# Guide"),
                    ],
                    ("POST", "/engagements/{id}/documents") => vec![
                        ("csrf", &c.csrf),
                        ("version", &version),
                        ("title", "Matrix note"),
                        ("file", "A note"),
                    ],
                    ("POST", "/invite/{token}") => {
                        vec![("password", PASSWORD), ("confirm", PASSWORD)]
                    }
                    _ => vec![("csrf", &c.csrf)],
                };
                let reply = send(&app, &c, r.method.clone(), &path, &form).await;
                let want = expected(&r.method, r.path, who);
                assert_eq!(
                    reply.status, want,
                    "{who:?} {} {path}: {}",
                    r.method, reply.body
                );
                if who == Who::SignedOut
                    && want == StatusCode::SEE_OTHER
                    && !r.path.starts_with("/request-support")
                {
                    assert!(
                        reply.location.starts_with("/login"),
                        "{} {path} -> {}",
                        r.method,
                        reply.location
                    );
                }
                checked += 1;
            }
        }
        assert_eq!(checked, EVERYONE.len() * table().len());
        // Only the five who may reach the engagement added risks to it.
        let staff = w.store.actor(PersonId(2)).await.unwrap();
        let e = w.store.engagement(&staff, w.engagement).await.unwrap();
        assert_eq!(e.risks.len(), 5);
    }
}

/// A form refused before any handler runs (larger than a form may be, or
/// not a form at all) gets the error page, saying what to do, instead of
/// axum's plain text; nothing is saved, and a file may still be larger.
#[tokio::test]
async fn forms_too_large_or_unreadable_get_the_error_page() {
    for store in stores("refused").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 2]).await;
        let c = w.client(&app, Who::Staff).await;
        let version = w.version().await;
        let path = format!("/engagements/{}", w.engagement);
        let add_risk = async |text: &str| {
            let form = [
                ("csrf", c.csrf.as_str()),
                ("version", &version),
                ("command", "add_risk"),
                ("text", text),
            ];
            send(&app, &c, Method::POST, &path, &form).await
        };
        let big = "x".repeat(3 * 1024 * 1024);
        let r = add_risk(&big).await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(r.body.contains("<h1>Too large to send</h1>"), "{}", r.body);
        assert!(r.body.contains("2 MB of text in a form"), "{}", r.body);
        assert!(r.body.contains("Nothing was saved"), "{}", r.body);
        assert_eq!(w.version().await, version, "the engagement did not change");
        // Signed out too, on the public request form.
        let r = send(
            &app,
            &Client::default(),
            Method::POST,
            "/request-support",
            &[("name", "A"), ("details", &big)],
        )
        .await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(r.body.contains("<h1>Too large to send</h1>"), "{}", r.body);
        // A signed-out visitor is offered the guide and search, not only
        // engagements they cannot see.
        assert!(
            r.body.contains(r#"<a href="/guide/">Read the guide</a>"#),
            "{}",
            r.body
        );
        assert!(r.body.contains(r#"<a href="/search">"#), "{}", r.body);
        // A body that is not a form, and a form marked as compressed
        // (refused, not read as plain): 415, on the error page.
        for (content_type, encoding, says) in [
            ("text/plain", None, "<h1>The form could not be read</h1>"),
            (
                "application/x-www-form-urlencoded",
                Some("br"),
                "sent compressed",
            ),
        ] {
            let mut req = Request::builder()
                .method(Method::POST)
                .uri("/login")
                .header(header::HOST, HOST)
                .header(header::ORIGIN, format!("http://{HOST}"))
                .header(header::CONTENT_TYPE, content_type);
            if let Some(encoding) = encoding {
                req = req.header(header::CONTENT_ENCODING, encoding);
            }
            let r = answer(
                &app,
                req.body(Body::from("email=a@b.c&password=x")).unwrap(),
            )
            .await;
            assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
            assert_eq!(r.content_type.as_deref(), Some("text/html; charset=utf-8"));
            assert!(r.body.contains(says), "{}", r.body);
        }
        // A form whose text is not UTF-8 (Latin-1's é, raw and escaped) is
        // refused, not kept with U+FFFD in place of what was typed.
        // (The type is read as the form reader reads it: in any case.)
        for (text, content_type) in [
            ("caf%E9", "Application/X-WWW-Form-Urlencoded; charset=UTF-8"),
            ("caf\u{e9}", "application/x-www-form-urlencoded"),
        ] {
            let body = format!(
                "csrf={}&version={version}&command=add_risk&text={text}",
                c.csrf
            );
            let mut bytes = body.into_bytes();
            if text.ends_with('\u{e9}') {
                bytes.truncate(bytes.len() - 2);
                bytes.push(0xE9);
            }
            let req = Request::builder()
                .method(Method::POST)
                .uri(&path)
                .header(header::HOST, HOST)
                .header(header::ORIGIN, format!("http://{HOST}"))
                .header(header::COOKIE, c.cookie.clone().unwrap_or_default())
                .header(header::CONTENT_TYPE, content_type)
                .body(Body::from(bytes))
                .unwrap();
            let r = answer(&app, req).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{text}");
            assert!(r.body.contains("not UTF-8 text"), "{}", r.body);
            assert_eq!(w.version().await, version, "nothing was saved");
        }
        // The same form in UTF-8 is taken (the check lets it through whole).
        let r = add_risk("café").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert_ne!(w.version().await, version, "the risk was saved");
        // An address that cannot be read is said to be so, not a form.
        let r = send(&app, &c, Method::GET, "/engagements/abc", &[]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(
            r.body.contains("<h1>That address is not right</h1>"),
            "{}",
            r.body
        );
        // A file larger than a form may be is still taken where files are.
        let file = "y".repeat(3 * 1024 * 1024);
        let r = send(
            &app,
            &c,
            Method::POST,
            &format!("{path}/documents"),
            &[
                ("csrf", &c.csrf),
                ("version", &version),
                ("title", "Large note"),
                ("file", &file),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    }
}

#[tokio::test]
async fn forms_from_elsewhere_are_refused() {
    for store in stores("csrf").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 2]).await;
        let c = w.client(&app, Who::Staff).await;
        let version = w.version().await;
        let path = format!("/engagements/{}", w.engagement);
        let risk = |csrf: &str| {
            vec![
                ("csrf".to_string(), csrf.to_string()),
                ("version".into(), version.clone()),
                ("command".into(), "add_risk".into()),
                ("text".into(), "Forged".into()),
            ]
        };
        // A page on another site posting a form: refused by its Origin.
        let body = risk(&c.csrf)
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        for origin in [
            "http://evil.example",
            "null",
            "https://waymark.test.evil.example",
            // The right host with the wrong scheme or port is another origin.
            "https://waymark.test",
            "http://waymark.test:8443",
            "http://waymark.test.",
        ] {
            let req = Request::post(&path)
                .header(header::HOST, HOST)
                .header(header::ORIGIN, origin)
                .header(header::COOKIE, c.cookie.clone().unwrap())
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body.clone()))
                .unwrap();
            let r = answer(&app, req).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{origin}");
            // Said on the site's error page, not in plain text.
            let page = &r.body;
            assert!(
                page.contains("<h1>Not allowed</h1>") && page.contains("from another site"),
                "{origin}: {page}"
            );
        }
        // Without an Origin but marked cross-site by the browser.
        let req = Request::post(&path)
            .header(header::HOST, HOST)
            .header("sec-fetch-site", "cross-site")
            .header(header::COOKIE, c.cookie.clone().unwrap())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        assert_eq!(
            app.clone().oneshot(req).await.unwrap().status(),
            StatusCode::FORBIDDEN
        );
        // Same site, but no token, or another session's token.
        let other = w.client(&app, Who::Admin).await;
        for token in ["", other.csrf.as_str(), "0000"] {
            let form = risk(token);
            let form: Vec<(&str, &str)> =
                form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let r = send(&app, &c, Method::POST, &path, &form).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "token {token:?}");
        }
        // Nothing was recorded; the right token works.
        assert_eq!(w.version().await, version);
        let form = risk(&c.csrf);
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            send(&app, &c, Method::POST, &path, &form).await.status,
            StatusCode::SEE_OTHER
        );
    }
}

#[tokio::test]
async fn sessions_change_at_sign_in_and_end_at_sign_out() {
    for store in stores("sessions-web").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 3]).await;
        let (first, r) = sign_in(&app, "sam@dta.gov.au", PASSWORD).await;
        let cookie = r.set_cookie.unwrap();
        for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(cookie.contains(attr), "{cookie}");
        }
        assert!(
            !cookie.contains("Secure"),
            "plain http must not mark cookies Secure: {cookie}"
        );
        // Signing in again from the same browser gives a new session id:
        // an id planted before sign-in is worth nothing after it.
        let again = send(
            &app,
            &first,
            Method::POST,
            "/login",
            &[
                ("email", "sam@dta.gov.au"),
                ("password", PASSWORD),
                ("next", "/agencies"),
            ],
        )
        .await;
        assert_eq!(
            (again.status, again.location.as_str()),
            (StatusCode::SEE_OTHER, "/agencies")
        );
        let second = Client {
            cookie: cookie_of(&again),
            csrf: String::new(),
        };
        assert_ne!(second.cookie, first.cookie);
        let old = send(&app, &first, Method::GET, "/engagements", &[]).await;
        assert_eq!(old.status, StatusCode::SEE_OTHER, "the old id still works");
        let home = send(&app, &second, Method::GET, "/engagements", &[]).await;
        assert_eq!(home.status, StatusCode::OK);
        let second = Client {
            csrf: csrf_of(&home.body).unwrap(),
            ..second
        };
        // Sign out: the id is dead afterwards, even if replayed.
        let out = send(
            &app,
            &second,
            Method::POST,
            "/logout",
            &[("csrf", &second.csrf)],
        )
        .await;
        assert_eq!(
            (out.status, out.location.as_str()),
            (StatusCode::SEE_OTHER, "/login")
        );
        let after = send(&app, &second, Method::GET, "/engagements", &[]).await;
        assert_eq!(after.status, StatusCode::SEE_OTHER);
        assert!(after.location.starts_with("/login?next="));
        // Use moves the expiry on: a session about to expire, last marked
        // as used over five minutes ago, gets a full 8 hours again.
        let busy = sign_in(&app, "sam@dta.gov.au", PASSWORD).await.0;
        let id = busy
            .cookie
            .as_deref()
            .unwrap()
            .split_once('=')
            .unwrap()
            .1
            .to_string();
        let (data, _) = w.store.session(&id, Timestamp(0)).await.unwrap().unwrap();
        let mut data: serde_json::Value = serde_json::from_str(&data).unwrap();
        let t = waymark_store::now().0;
        data["seen"] = serde_json::json!(t - 600);
        w.store
            .save_session(&id, &data.to_string(), Timestamp(t + 60), None)
            .await
            .unwrap();
        assert_eq!(
            send(&app, &busy, Method::GET, "/engagements", &[])
                .await
                .status,
            StatusCode::OK
        );
        let (_, expires) = w.store.session(&id, Timestamp(0)).await.unwrap().unwrap();
        assert!(
            expires.0 >= t + 8 * 3600 - 5,
            "the expiry did not move: {}",
            expires.0 - t
        );
        // … while a page view soon after changes nothing (no write).
        assert_eq!(
            send(&app, &busy, Method::GET, "/engagements", &[])
                .await
                .status,
            StatusCode::OK
        );
        assert_eq!(
            w.store.session(&id, Timestamp(0)).await.unwrap().unwrap().1,
            expires
        );
        // A session past its expiry (8 hours without use) is not honoured.
        let idle = sign_in(&app, "sam@dta.gov.au", PASSWORD).await.0;
        assert_eq!(
            send(&app, &idle, Method::GET, "/engagements", &[])
                .await
                .status,
            StatusCode::OK
        );
        sqlx_expire(&w.store).await;
        let r = send(&app, &idle, Method::GET, "/engagements", &[]).await;
        assert_eq!(
            r.status,
            StatusCode::SEE_OTHER,
            "an expired session still works"
        );
        // Open redirects are not followed after sign-in.
        let (_, r) = {
            let r = send(
                &app,
                &Client::default(),
                Method::POST,
                "/login",
                &[
                    ("email", "sam@dta.gov.au"),
                    ("password", PASSWORD),
                    ("next", "//evil.example/"),
                ],
            )
            .await;
            ((), r)
        };
        assert_eq!(r.location, "/engagements");
        // Nor anything that would bend the Location header.
        let r = send(
            &app,
            &Client::default(),
            Method::POST,
            "/login",
            &[
                ("email", "sam@dta.gov.au"),
                ("password", PASSWORD),
                ("next", "/x\r\nSet-Cookie: a=b"),
            ],
        )
        .await;
        assert_eq!(
            (r.status, r.location.as_str()),
            (StatusCode::SEE_OTHER, "/engagements")
        );
        // Behind https, cookies are Secure.
        let secure = composed(&w.store, "https://waymark.example", [127, 0, 0, 9]).await;
        let req = Request::post("/login")
            .header(header::HOST, "waymark.example")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!(
                "email=sam%40dta.gov.au&password={}",
                urlencode(PASSWORD)
            )))
            .unwrap();
        let res = secure.oneshot(req).await.unwrap();
        let cookie = res
            .headers()
            .get(header::SET_COOKIE)
            .unwrap()
            .to_str()
            .unwrap();
        assert!(cookie.contains("Secure"), "{cookie}");
    }
}

#[tokio::test]
async fn too_many_sign_in_attempts_answer_429_with_retry_after() {
    for store in stores("rate-limit").await {
        let w = world(store).await;
        // Per account: five wrong passwords, then even the right one waits.
        let app = router(&w.store, [10, 0, 0, 1]).await;
        for _ in 0..5 {
            let (_, r) = sign_in(&app, "mia@bot.gov.au", "wrong password here").await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
            assert!(
                r.body
                    .contains("The email address or password is not right")
            );
        }
        let (_, r) = sign_in(&app, "mia@bot.gov.au", PASSWORD).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
        let secs: i64 = r.retry_after.unwrap().parse().unwrap();
        assert!((1..=15 * 60).contains(&secs), "{secs}");
        // Other accounts are not locked by it.
        let (_, r) = sign_in(&app, "eve@bot.gov.au", PASSWORD).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        // Nor is the real owner, signing in from somewhere else: a guesser
        // slows only their own (account, address) pair.
        let owner = router(&w.store, [10, 0, 0, 9]).await;
        let (_, r) = sign_in(&owner, "mia@bot.gov.au", PASSWORD).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        // Per address: many accounts tried from one address.
        let other = router(&w.store, [10, 0, 0, 2]).await;
        for i in 0..30 {
            let (_, r) = sign_in(
                &other,
                &format!("nobody{i}@bot.gov.au"),
                "wrong password here",
            )
            .await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "attempt {i}");
        }
        let (_, r) = sign_in(&other, "sam@dta.gov.au", PASSWORD).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(r.retry_after.is_some());
        // Another address is not.
        let third = router(&w.store, [10, 0, 0, 3]).await;
        assert_eq!(
            sign_in(&third, "sam@dta.gov.au", PASSWORD).await.1.status,
            StatusCode::SEE_OTHER
        );
        // Guesses sent all at once are counted one after another: of twelve
        // at one account from one address, five are checked.
        let burst = router(&w.store, [10, 0, 0, 4]).await;
        let tries = (0..12).map(|_| sign_in(&burst, "eve@bot.gov.au", "wrong password here"));
        let answers = futures_util::future::join_all(tries).await;
        let checked = answers
            .iter()
            .filter(|(_, r)| r.status == StatusCode::UNPROCESSABLE_ENTITY)
            .count();
        let refused = answers
            .iter()
            .filter(|(_, r)| r.status == StatusCode::TOO_MANY_REQUESTS)
            .count();
        assert_eq!((checked, refused), (5, 7));
    }
}

/// Text that would run script, break out of an attribute or a tag, or
/// smuggle markup, if any page failed to escape it.
pub const XSS: &[&str] = &[
    "<script>alert('xss-1')</script>",
    "\"><img src=x onerror=alert('xss-2')>",
    "'><svg onload=alert('xss-3')>",
    "</textarea><script>alert('xss-4')</script>",
    "javascript:alert('xss-5')",
    "<a href=\"javascript:alert('xss-6')\">click</a>",
    "{{ 7*7 }}{% raw %}<b>xss-7</b>",
];

#[tokio::test]
async fn free_text_is_escaped_on_every_page() {
    for store in stores("xss").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 4]).await;
        let staff = w.store.actor(PersonId(2)).await.unwrap();
        let e = w.engagement;
        for (i, p) in XSS.iter().enumerate() {
            let v = w.store.engagement(&staff, e).await.unwrap().version;
            let cmds = [
                Command::SkipStep {
                    stage: "engagement".into(),
                    step: 1 + (i as u32 % 3),
                    reason: (*p).into(),
                },
                Command::AddRisk {
                    text: (*p).into(),
                    stage: None,
                },
                Command::AddBenefit {
                    text: (*p).into(),
                    measure: Some((*p).into()),
                    plan: Default::default(),
                },
                Command::LinkInitiative {
                    name: (*p).into(),
                    description: (*p).into(),
                },
                Command::CheckSuccess {
                    stage: "engagement".into(),
                    criterion: 1,
                    evidence: (*p).into(),
                },
                Command::Decide {
                    stage: "engagement".into(),
                    at: DecisionAt::Exit,
                    option: 0,
                    rationale: (*p).into(),
                    funded_by: Funder::Dta,
                    note: Some((*p).into()),
                },
                Command::Comment {
                    about: waymark_core::discussion::Anchor::Engagement,
                    body: (*p).into(),
                },
            ];
            for (n, c) in cmds.iter().enumerate() {
                w.store
                    .execute(&staff, e, v + n as u64, c, NOW)
                    .await
                    .unwrap();
            }
            let risk = w
                .store
                .engagement(&staff, e)
                .await
                .unwrap()
                .risks
                .last()
                .unwrap()
                .id;
            let v = w.store.engagement(&staff, e).await.unwrap().version;
            w.store
                .execute(
                    &staff,
                    e,
                    v,
                    &Command::CloseRisk {
                        id: risk,
                        note: (*p).into(),
                    },
                    NOW,
                )
                .await
                .unwrap();
            w.store
                .add_agency(
                    &NewAgency::parse(&format!("{p}{i}"), &format!("X{i}"), p, None).unwrap(),
                    NOW,
                )
                .await
                .unwrap();
            w.store
                .add_person_with_roles(
                    &NewPerson::parse(&format!("{p} person"), &format!("p{i}@x.gov.au")).unwrap(),
                    &[Role::AgencyMember {
                        agency: w.agency,
                        sponsor: false,
                    }],
                    NOW,
                )
                .await
                .unwrap();
        }
        // The community: every field a person types (category, title, body,
        // answer, edit) holds each hostile text.
        let model = waymark_model::build(waymark_model::bundled()).model;
        let mut community_pages = vec!["/community".to_string()];
        for (i, p) in XSS.iter().enumerate() {
            let c = waymark_core::community::NewCategory::parse(
                &format!("{p} category {i}"),
                p,
                "public",
                false,
            )
            .unwrap();
            w.store.add_category(&staff, &c).await.unwrap();
            let q = w
                .store
                .ask(
                    &staff,
                    &c.slug,
                    &waymark_core::community::Question::parse(
                        &format!("{p} question {i}"),
                        p,
                        "",
                        &model,
                    )
                    .unwrap(),
                    NOW,
                )
                .await
                .unwrap();
            let a = w.store.answer(&staff, q, p, NOW).await.unwrap();
            w.store
                .edit_post(
                    &staff,
                    a,
                    None,
                    &waymark_core::community::edit(None, &format!("{p} again")).unwrap(),
                    NOW,
                )
                .await
                .unwrap();
            // A flag's reason, a hidden answer's reason, an FAQ entry made
            // from it, and the unsubscribe page's title hold it too.
            let member = w.store.actor(PersonId(3)).await.unwrap();
            let question_post = w.store.thread(None, q).await.unwrap().question.id;
            w.store.flag(&member, question_post, p, NOW).await.unwrap();
            w.store
                .accept_answer(&staff, q, Some(a), NOW)
                .await
                .unwrap();
            w.store
                .promote_to_faq(&staff, &model, q, NOW)
                .await
                .unwrap();
            w.store
                .moderate(
                    &staff,
                    q,
                    &waymark_core::community::Moderation::Hide {
                        post: a,
                        reason: (*p).into(),
                    },
                    NOW,
                    |h| waymark_web::mail::post_hidden(h, "http://waymark.test"),
                )
                .await
                .unwrap();
            let ada = w.store.actor(PersonId(1)).await.unwrap();
            w.store.watch_question(&ada, q, true, NOW).await.unwrap();
            let key: String = sqlx::query_scalar(
                "SELECT unsubscribe_key FROM community_watches WHERE topic_id = $1 AND person_id = 1",
            )
            .bind(q)
            .fetch_one(w.store.pool())
            .await
            .unwrap();
            community_pages.extend([
                format!("/community/c/{}", c.slug),
                format!("/community/q/{q}"),
                format!("/community/posts/{a}/history"),
                format!("/community/posts/{a}/edit"),
                format!("/unsubscribe/{key}"),
            ]);
        }
        // An engagement's discussion renders markdown as the community does.
        community_pages.extend([
            format!("/engagements/{e}/discussion"),
            format!("/engagements/{e}/discussion?about=engagement"),
        ]);
        community_pages.extend([
            "/community/flags".to_string(),
            "/articles".to_string(),
            "/settings".to_string(),
        ]);
        let admin = w.client(&app, Who::Admin).await;
        // Markdown shows typed HTML as text, and its links never run script.
        for path in &community_pages {
            let r = send(&app, &admin, Method::GET, path, &[]).await;
            assert_eq!(r.status, StatusCode::OK, "{path}");
            if path == "/articles" {
                // The FAQ's order: each entry moves, with the form's token.
                assert!(r.body.contains("Move up<span") && r.body.contains("Move down<span"));
                assert!(
                    r.body
                        .contains(&format!("name=\"csrf\" value=\"{}\"", admin.csrf))
                );
            }
            for bad in [
                "<script>alert",
                "<img src",
                "<svg onload",
                "<b>xss-7",
                "</textarea><script",
            ] {
                assert!(!r.body.contains(bad), "{path} contains {bad:?}");
            }
            // A typed link is text; no link the page makes runs script.
            for tag in r.body.split("<a ").skip(1) {
                let tag = tag.split('>').next().unwrap();
                assert!(!tag.contains("javascript:"), "{path} links to {tag}");
            }
        }
        let pages = [
            format!("/engagements/{e}"),
            format!("/engagements/{e}/stages/engagement"),
            format!("/engagements/{e}/risks"),
            format!("/engagements/{e}/benefits"),
            format!("/engagements/{e}/decisions"),
            format!("/engagements/{e}/people"),
            format!("/engagements/{e}/history"),
            "/engagements".to_string(),
            "/agencies".to_string(),
            format!("/agencies/{}", w.agency),
            "/people".to_string(),
            // Search shows the same texts in titles and snippets, and what
            // was typed back in its box.
            "/search?q=alert".to_string(),
            "/search?q=xss&kind=engagement".to_string(),
            "/search?q=person+alert&kind=agency".to_string(),
        ]
        .into_iter()
        .chain(XSS.iter().map(|p| {
            let q: String = p.bytes().map(|b| format!("%{b:02X}")).collect();
            format!("/search?q={q}")
        }))
        .collect::<Vec<_>>();
        for path in &pages {
            let r = send(&app, &admin, Method::GET, path, &[]).await;
            assert_eq!(r.status, StatusCode::OK, "{path}");
            for p in XSS {
                assert!(!r.body.contains(p), "{path} shows {p:?} unescaped");
            }
            for bad in [
                "<script>alert",
                "<img src=x",
                "<svg onload",
                "href=\"javascript:",
                "<b>xss-7",
            ] {
                assert!(!r.body.contains(bad), "{path} contains {bad:?}");
            }
        }
        // The text is there, escaped, where it belongs.
        let ws = send(
            &app,
            &admin,
            Method::GET,
            &format!("/engagements/{e}/risks"),
            &[],
        )
        .await
        .body;
        assert!(
            ws.contains("&lt;script&gt;alert(&#x27;xss-1&#x27;)&lt;&#x2f;script&gt;"),
            "escaped text missing"
        );
    }
}

#[tokio::test]
async fn form_errors_are_shown_beside_their_fields_and_keep_what_was_typed() {
    for store in stores("form-errors").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 5]).await;
        let c = w.client(&app, Who::Member).await;
        let path = format!("/engagements/{}", w.engagement);
        let version = w.version().await;
        // A decision with no option chosen: 422, the summary links to the
        // field, and the rationale typed is still there.
        let r = send(
            &app,
            &c,
            Method::POST,
            &path,
            &[
                ("csrf", &c.csrf),
                ("version", &version),
                ("form", "decide-engagement-0"),
                ("command", "decide"),
                ("stage", "engagement"),
                ("at", "0"),
                ("rationale", "Because we must"),
                ("funded_by", "dta"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("There is a problem"));
        assert!(
            r.body.contains("href=\"#decide-engagement-0-option\""),
            "summary link"
        );
        assert!(
            r.body.contains("id=\"decide-engagement-0-option\""),
            "the field it links to"
        );
        assert!(
            r.body.contains(">Because we must</textarea>"),
            "typed text kept"
        );
        assert!(r.body.contains("<title>Error: "));
        // Nothing chosen and nothing typed: every problem at once, in
        // people's words, each beside its field.
        let all = send(
            &app,
            &c,
            Method::POST,
            &path,
            &[
                ("csrf", &c.csrf),
                ("version", &version),
                ("form", "decide-engagement-0"),
                ("command", "decide"),
                ("stage", "engagement"),
                ("at", "0"),
            ],
        )
        .await;
        assert_eq!(all.status, StatusCode::UNPROCESSABLE_ENTITY);
        for id in ["option", "funded_by", "rationale"] {
            assert!(
                all.body
                    .contains(&format!("href=\"#decide-engagement-0-{id}\"")),
                "{id}: {}",
                all.body
            );
            assert!(
                all.body
                    .contains(&format!("id=\"decide-engagement-0-{id}-error\"")),
                "{id} beside its field"
            );
        }
        assert!(all.body.contains("Say why this option was chosen"));
        // A skip without a reason names the reason field.
        let r = send(
            &app,
            &c,
            Method::POST,
            &path,
            &[
                ("csrf", &c.csrf),
                ("version", &version),
                ("form", "skip-engagement-2"),
                ("command", "skip_step"),
                ("stage", "engagement"),
                ("step", "2"),
                ("reason", "  "),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("href=\"#skip-engagement-2-reason\""));
        assert!(r.body.contains("aria-invalid=\"true\""));
        // A form whose hidden fields were tampered with still only
        // redirects within the page (before, it answered 500: the value
        // was not a valid Location header).
        let r = send(
            &app,
            &c,
            Method::POST,
            &path,
            &[
                ("csrf", &c.csrf),
                ("version", &version),
                ("form", "x\r\nSet-Cookie: a=b"),
                ("command", "add_risk"),
                ("text", "Tampered form"),
            ],
        )
        .await;
        assert_eq!(
            (r.status, r.location.as_str()),
            (
                StatusCode::SEE_OTHER,
                format!("{path}/risks?saved=add_risk#xSet-Cookieab").as_str()
            )
        );
        let version = w.version().await;
        // A stale version: 409, a plain account of it, and the text kept.
        let r = send(
            &app,
            &c,
            Method::POST,
            &path,
            &[
                ("csrf", &c.csrf),
                ("version", "1"),
                ("form", "risk-close-1"),
                ("command", "close_risk"),
                ("id", "1"),
                ("note", "Typed before someone else saved"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::CONFLICT);
        assert!(r.body.contains("Your change was not saved"));
        assert!(r.body.contains("Typed before someone else saved"));
        assert!(
            r.body
                .contains(&format!("href=\"/engagements/{}\"", w.engagement))
        );
        assert_eq!(w.version().await, version);
    }
}

/// Moves every session's expiry into the past, as 8 idle hours would.
async fn sqlx_expire(store: &Store) {
    sqlx::query("UPDATE sessions SET expires_at = 0")
        .execute(store.pool())
        .await
        .unwrap();
}

#[tokio::test]
async fn invites_that_cannot_be_made_say_why_beside_the_field() {
    for store in stores("invite-errors").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 6]).await;
        let admin = w.client(&app, Who::Admin).await;
        let agency = w.agency.0.to_string();
        for (form, id, says) in [
            (
                vec![("name", "Jo"), ("email", "not-an-email"), ("role", "staff")],
                "email",
                "Email: “not-an-email” is not an email address",
            ),
            (
                vec![
                    ("name", "Jo"),
                    ("email", "jo@bot.gov.au"),
                    ("role", "member"),
                ],
                "agency",
                "Agency: choose the person",
            ),
            (
                vec![
                    ("name", "Jo"),
                    ("email", "jo@bot.gov.au"),
                    ("role", "member"),
                    ("agency", "9999"),
                ],
                "agency",
                "Agency: choose one of the agencies listed",
            ),
            (
                vec![
                    ("name", "Jo"),
                    ("email", "MIA@bot.gov.au"),
                    ("role", "member"),
                    ("agency", &agency),
                ],
                "email",
                "Email: mia@bot.gov.au already has an account",
            ),
        ] {
            let mut form = form.clone();
            form.push(("csrf", &admin.csrf));
            let r = send(&app, &admin, Method::POST, "/people", &form).await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{says}");
            assert!(
                r.body.contains(&format!("href=\"#{id}\"")),
                "{says}: no link to #{id}"
            );
            assert!(r.body.contains(says), "{says}");
            assert!(r.body.contains("value=\"Jo\""), "the name typed is kept");
        }
        // Nothing was added by the refused invites.
        let n = w.store.people().await.unwrap().len();
        assert_eq!(n, 8);
    }
}

/// What a raw HTTP/1.1 GET to `addr` answers: the status code and the body.
async fn get_over_tcp(addr: SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// The application as `waymark serve` composes it, on port 0 with its
/// background tasks running: the guide, the workspace and the API answer
/// on one socket, and it stops when asked.
#[tokio::test]
async fn the_composed_application_serves_on_a_port() {
    use waymark_site::server::Guide;
    for store in stores("composed").await {
        let pages = Arc::new(waymark_model::bundled());
        let loader_pages = Arc::clone(&pages);
        let guide = Guide::new(
            Box::new(move || {
                Ok(waymark_site::server::Source {
                    model: waymark_model::build(loader_pages.as_ref().clone()).model,
                    dates: waymark_site::Dates::default(),
                    templates: None,
                    articles: Vec::new(),
                })
            }),
            waymark_web::app::guide_links(""),
        )
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut settings = Settings::new(store, pages, &format!("http://{addr}"));
        settings.guide = Some(Arc::new(guide));
        let app = Application::build(settings).await.unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.serve(
            listener,
            async {
                let _ = stopped.await;
            },
            std::time::Duration::from_secs(5),
        ));
        for (path, status, needle) in [
            ("/guide/", 200, "Request support</a>"),
            ("/login", 200, "name=\"password\""),
            ("/api/v1/me", 401, "application/problem+json"),
            ("/nowhere", 404, "Page not found"),
        ] {
            let (code, text) = get_over_tcp(addr, path).await;
            assert_eq!(code, status, "{path}: {text}");
            assert!(text.contains(needle), "{path}: {text}");
        }
        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
    }
}

/// A client that never finishes its request's headers loses the
/// connection when the header timeout passes, while others are served.
#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let store = stores("slow-headers").await.into_iter().next().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let settings = Settings::new(
        store,
        Arc::new(waymark_model::bundled()),
        &format!("http://{addr}"),
    );
    let app = Application::build(settings).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve_with_header_timeout(
        listener,
        async {
            let _ = stopped.await;
        },
        std::time::Duration::from_secs(5),
        std::time::Duration::from_secs(1),
    ));
    // Headers begun and never ended (as a client that holds connections
    // open, a byte now and then, would).
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /login HTTP/1.1\r\nHost: x\r\nX-Slow: a")
        .await
        .unwrap();
    // Someone else is served meanwhile.
    let (code, _) = get_over_tcp(addr, "/login").await;
    assert_eq!(code, 200);
    let mut answer = Vec::new();
    let ended = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        slow.read_to_end(&mut answer),
    )
    .await;
    assert!(ended.is_ok(), "the connection was still open after 10 s");
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    // A body announced and never sent: refused once it pauses past the
    // limit, and the connection closed.
    let mut stalled = tokio::net::TcpStream::connect(addr).await.unwrap();
    stalled
        .write_all(
            format!(
                "POST /login HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\n\
                 Content-Length: 1000000\r\n\r\nema"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut answer = Vec::new();
    let ended = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stalled.read_to_end(&mut answer),
    )
    .await;
    assert!(ended.is_ok(), "the stalled body was still open after 10 s");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("The form could not be read"), "{answer}");
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

/// Each role sees a control only for a command the server would accept:
/// the pages ask the core (`allowed_commands`) what `decide` enforces.
#[tokio::test]
async fn controls_are_offered_only_for_commands_the_core_accepts() {
    for store in stores("controls").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 40]).await;
        let id = w.engagement.0;
        // An open risk, so that its Close control has somewhere to be.
        let staff = Actor {
            person: PersonId(2),
            roles: vec![Role::ProgrammeStaff],
        };
        w.store
            .execute(
                &staff,
                w.engagement,
                w.version().await.parse().unwrap(),
                &Command::AddRisk {
                    text: "Licences arrive late".into(),
                    stage: None,
                },
                NOW,
            )
            .await
            .unwrap();
        // (page, the command a form there sends, who may send it)
        let programme = [Who::Admin, Who::Staff];
        let agency = [Who::Admin, Who::Staff, Who::Member, Who::Sponsor];
        let everyone_in = [
            Who::Admin,
            Who::Staff,
            Who::Member,
            Who::Sponsor,
            Who::PartnerAssigned,
        ];
        let cases: [(&str, &str, &[Who]); 8] = [
            ("/stages/discovery", "value=\"start_stage\"", &agency),
            ("/risks", "value=\"close_risk\"", &agency),
            ("/risks", "value=\"add_risk\"", &everyone_in),
            ("/people", "value=\"plan_discovery\"", &agency),
            ("/people", "value=\"assign\"", &programme),
            ("/workshops", "value=\"schedule\"", &agency),
            ("/delivery", "value=\"sprint\"", &everyone_in),
            ("/delivery", "enctype=\"multipart/form-data\"", &everyone_in),
        ];
        for who in [
            Who::Admin,
            Who::Staff,
            Who::Member,
            Who::Sponsor,
            Who::PartnerAssigned,
        ] {
            let c = w.client(&app, who).await;
            for (page, control, allowed) in &cases {
                let r = send(
                    &app,
                    &c,
                    Method::GET,
                    &format!("/engagements/{id}{page}"),
                    &[],
                )
                .await;
                assert_eq!(r.status, StatusCode::OK, "{who:?} {page}");
                assert_eq!(
                    r.body.contains(control),
                    allowed.contains(&who),
                    "{who:?} on /engagements/{id}{page}: {control}"
                );
            }
        }
    }
}

/// Triage mistakes are said beside their fields, and converting into a Do it
/// Yourself engagement with the contact as sponsor neither fails half-way
/// nor names a sponsor on a record that is read-only from its start.
#[tokio::test]
async fn triage_refusals_are_form_errors_and_a_do_it_yourself_conversion_completes() {
    for store in stores("triage").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 41]).await;
        let enquiry = |n: u32| waymark_store::NewEnquiry {
            source: "form".into(),
            message_id: Some(format!("<t{n}@example>")),
            agency_name: "Delta Office".into(),
            contact_name: "Dee Delta".into(),
            contact_email: format!("dee{n}@delta.gov.au"),
            subject: "Help".into(),
            body: "We would like to adopt the blueprint.".into(),
            ..Default::default()
        };
        let id = match w.store.add_enquiry(&enquiry(1), None, NOW).await.unwrap() {
            waymark_store::ImportOutcome::Added(id) => id,
            other => panic!("{other:?}"),
        };
        let staff = w.client(&app, Who::Staff).await;
        let post = async |form: &[(&str, &str)]| {
            let mut all = vec![("csrf", staff.csrf.as_str())];
            all.extend_from_slice(form);
            send(
                &app,
                &staff,
                Method::POST,
                &format!("/enquiries/{id}"),
                &all,
            )
            .await
        };
        let r = post(&[("action", "attach"), ("engagement", "999")]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(r.body.contains("href=\"#engagement\""), "{}", r.body);
        assert!(r.body.contains("there is no engagement with that number"));

        let agency = w.agency.0.to_string();
        let r = post(&[
            ("action", "convert"),
            ("agency", &agency),
            ("mode", "do_it_yourself"),
            ("invite_sponsor", "yes"),
        ])
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        assert!(
            r.body
                .contains("holds the agency&#x27;s executive sponsor role")
                || r.body.contains("holds the agency's executive sponsor role"),
            "{}",
            r.body
        );
        let (enq, _, _) = w
            .store
            .enquiry(
                &Actor {
                    person: PersonId(2),
                    roles: vec![Role::ProgrammeStaff],
                },
                id,
            )
            .await
            .unwrap();
        assert_eq!(enq.status, waymark_store::EnquiryStatus::Converted);
        // Converting it again: said beside the action, not an error page.
        let again = post(&[("action", "convert"), ("agency", &agency)]).await;
        assert_eq!(
            again.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            again.body
        );
        assert!(again.body.contains("already converted"), "{}", again.body);
        let e = w
            .store
            .engagement(
                &Actor {
                    person: PersonId(2),
                    roles: vec![Role::ProgrammeStaff],
                },
                enq.engagement.unwrap(),
            )
            .await
            .unwrap();
        assert_eq!((e.mode, e.sponsor), (Mode::DoItYourself, None));
    }
}

/// A step gets an owner and a due date from its stage page; a bad date is
/// said beside the field; the owner finds it waiting on their home page,
/// overdue once the date has passed; someone from another agency cannot own it.
#[tokio::test]
async fn owned_steps_wait_on_their_owners_home_page() {
    for store in stores("owners").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 9]).await;
        let staff = w.client(&app, Who::Staff).await;
        let path = format!("/engagements/{}", w.engagement);
        let mia = w
            .store
            .person_by_email(&Email::parse("mia@bot.gov.au").unwrap())
            .await
            .unwrap()
            .unwrap();
        let olly = w
            .store
            .person_by_email(&Email::parse("olly@oth.gov.au").unwrap())
            .await
            .unwrap()
            .unwrap();
        let page = send(
            &app,
            &staff,
            Method::GET,
            &format!("{path}/stages/engagement"),
            &[],
        )
        .await;
        assert!(
            page.body.contains("id=\"owner-engagement-2-owner\""),
            "the owner form"
        );
        let set = |owner: String, due: &'static str| {
            let (app, staff, path, w) = (&app, &staff, &path, &w);
            async move {
                let version = w.version().await;
                send(
                    app,
                    staff,
                    Method::POST,
                    path,
                    &[
                        ("csrf", &staff.csrf),
                        ("version", &version),
                        ("form", "owner-engagement-2"),
                        ("command", "set_owner"),
                        ("item", "step"),
                        ("stage", "engagement"),
                        ("step", "2"),
                        ("owner", &owner),
                        ("due", due),
                    ],
                )
                .await
            }
        };
        let r = set(mia.0.to_string(), "31/12/2026").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            r.body.contains("href=\"#owner-engagement-2-due\""),
            "{}",
            r.body
        );
        assert!(
            r.body.contains("<details class=\"owner\" open>"),
            "the form comes back open"
        );
        let r = set(olly.0.to_string(), "").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            r.body.contains("href=\"#owner-engagement-2-owner\""),
            "{}",
            r.body
        );
        // Due yesterday: overdue.
        let r = set(mia.0.to_string(), "2020-01-02").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert!(
            r.location
                .starts_with(&format!("{path}/stages/engagement?saved=set_owner"))
        );
        let member = w.client(&app, Who::Member).await;
        let home = send(&app, &member, Method::GET, "/engagements", &[]).await;
        let waiting = &home.body[home.body.find("Waiting for you").unwrap()..];
        let waiting = &waiting[..waiting.find("</section>").unwrap()];
        assert!(
            waiting.contains("Engagement, step 2: Request support"),
            "{waiting}"
        );
        assert!(waiting.contains(">Overdue<"), "{waiting}");
        assert!(waiting.contains("due Thu 2 Jan 2020"), "{waiting}");
        // Nobody else has it waiting.
        let sponsor = w.client(&app, Who::Sponsor).await;
        let home = send(&app, &sponsor, Method::GET, "/engagements", &[]).await;
        assert!(!home.body.contains("step 2: Request support"));
        // The overview shows it with its owner.
        let overview = send(&app, &staff, Method::GET, &path, &[]).await;
        let next = &overview.body[overview.body.find("What's next").unwrap()..];
        assert!(
            next.contains("Request support</a> <span class=\"muted\">Person, due Thu 2 Jan 2020"),
            "{next}"
        );
        assert!(next.contains(">Overdue<"));
    }
}

/// The home page lists what waits in ten engagements at most, then says
/// how many more; engagements of one agency are told apart by number.
#[tokio::test]
async fn the_home_page_lists_ten_engagements_waiting_and_counts_the_rest() {
    for store in stores("home-waiting").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 26]).await;
        let staff = w.store.actor(w.id("sam@dta.gov.au").await).await.unwrap();
        let mia = w.id("mia@bot.gov.au").await;
        let hash = w
            .store
            .pin_model(&waymark_model::bundled(), NOW)
            .await
            .unwrap();
        // Twelve more of the agency's engagements, each with a step of
        // Mia's overdue (the world has one already, with nothing of hers).
        for _ in 0..12 {
            let e = w
                .store
                .start_engagement(&staff, w.agency, Mode::DoItWithYou, &hash, NOW)
                .await
                .unwrap();
            let set = Command::SetOwner {
                item: Item::Step {
                    stage: "engagement".into(),
                    step: 2,
                },
                owner: Some(mia),
                due: Some("2020-01-02".into()),
            };
            let version = w.store.engagement(&staff, e.id).await.unwrap().version;
            w.store
                .execute(&staff, e.id, version, &set, NOW)
                .await
                .unwrap();
        }
        let member = w.client(&app, Who::Member).await;
        let home = send(&app, &member, Method::GET, "/engagements", &[]).await;
        let waiting = &home.body[home.body.find("Waiting for you").unwrap()..];
        let waiting = &waiting[..waiting.find("</section>").unwrap()];
        assert_eq!(waiting.matches("<h3>").count(), 10, "{waiting}");
        assert!(
            waiting.contains("And 2 more engagements with something waiting for you"),
            "{waiting}"
        );
        assert!(waiting.contains("href=\"#all\""), "{waiting}");
        assert!(
            waiting.contains("Bureau of Things, engagement "),
            "{waiting}"
        );
    }
}

/// A person chooses their time zone and how they hear about things: times
/// read in their zone; "each" mails a new owner at once; "daily" writes one
/// digest a day, in their morning, and only once.
/// A person makes API tokens from their settings, sees each once, and ends
/// them; an admin ends anyone's from the person's page; nobody else can.
#[tokio::test]
async fn people_manage_their_api_tokens() {
    for store in stores("tokens-page").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 11]).await;
        let member = w.client(&app, Who::Member).await;
        let made = send(
            &app,
            &member,
            Method::POST,
            "/settings/tokens",
            &[
                ("csrf", &member.csrf),
                ("name", "Power BI <refresh>"),
                ("scope", "read"),
                ("expires_in_days", "30"),
            ],
        )
        .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        let token = made
            .body
            .split("value=\"wmk_")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .map(|t| format!("wmk_{t}"))
            .expect("the new token is on the page");
        assert!(made.body.contains("Power BI &lt;refresh&gt;"), "escaped");
        assert!(made.body.contains("read only"));
        // Shown once: the settings page never shows it again.
        let page = send(&app, &member, Method::GET, "/settings", &[]).await;
        assert!(!page.body.contains(&token));
        assert!(page.body.contains("never used"));
        // It reads, and only reads.
        let api = |method: &'static str, uri: &'static str| {
            let app = app.clone();
            let token = token.clone();
            async move {
                let mut req = Request::builder()
                    .method(method)
                    .uri(uri)
                    .header(header::AUTHORIZATION, format!("Bearer {token}"));
                if method == "POST" {
                    req = req.header(header::CONTENT_TYPE, "application/json");
                }
                app.oneshot(req.body(Body::from("{}")).unwrap())
                    .await
                    .unwrap()
                    .status()
            }
        };
        assert_eq!(api("GET", "/api/v1/me").await, StatusCode::OK);
        assert_eq!(
            api("POST", "/api/v1/engagements").await,
            StatusCode::FORBIDDEN
        );
        let page = send(&app, &member, Method::GET, "/settings", &[]).await;
        assert!(page.body.contains("last used"), "{}", page.body);
        // Bad input: every problem beside its field, nothing made.
        let bad = send(
            &app,
            &member,
            Method::POST,
            "/settings/tokens",
            &[
                ("csrf", &member.csrf),
                ("name", ""),
                ("scope", "admin"),
                ("expires_in_days", "9999"),
            ],
        )
        .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        for field in ["token_name", "token_scope", "token_expires_in_days"] {
            assert!(bad.body.contains(&format!("href=\"#{field}\"")), "{field}");
        }
        let mine = w.store.tokens_of(member_id(&w).await).await.unwrap();
        assert_eq!(mine.len(), 1);
        let id = mine[0].id.clone();
        // Another agency's person cannot end it; an admin can.
        let other = w.client(&app, Who::Staff).await;
        let r = send(
            &app,
            &other,
            Method::POST,
            "/settings/tokens/revoke",
            &[
                ("csrf", &other.csrf),
                ("token", &id),
                ("person", &member_id(&w).await.0.to_string()),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(api("GET", "/api/v1/me").await, StatusCode::OK);
        let admin = w.client(&app, Who::Admin).await;
        let person_page = send(
            &app,
            &admin,
            Method::GET,
            &format!("/people/{}", member_id(&w).await.0),
            &[],
        )
        .await;
        assert!(person_page.body.contains("Power BI &lt;refresh&gt;"));
        assert!(!person_page.body.contains(&token));
        let r = send(
            &app,
            &admin,
            Method::POST,
            "/settings/tokens/revoke",
            &[
                ("csrf", &admin.csrf),
                ("token", &id),
                ("person", &member_id(&w).await.0.to_string()),
                ("back", "person"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert!(r.location.starts_with("/people/"), "{}", r.location);
        assert_eq!(api("GET", "/api/v1/me").await, StatusCode::UNAUTHORIZED);
        assert!(
            w.store
                .tokens_of(member_id(&w).await)
                .await
                .unwrap()
                .is_empty()
        );
    }
}

async fn member_id(w: &World) -> PersonId {
    let email = w
        .emails
        .iter()
        .find(|(who, _)| *who == Who::Member)
        .unwrap()
        .1;
    w.store
        .person_by_email(&Email::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn settings_choose_the_zone_and_the_mail() {
    for store in stores("settings").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 10]).await;
        let member = w.client(&app, Who::Member).await;
        let page = send(&app, &member, Method::GET, "/settings", &[]).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.body
                .contains(" selected>Canberra, Sydney (AEST&#x2f;AEDT)</option>"),
            "{}",
            page.body
        );
        // Both problems at once, beside their fields.
        let r = send(
            &app,
            &member,
            Method::POST,
            "/settings",
            &[
                ("csrf", &member.csrf),
                ("time_zone", "Mars/Olympus"),
                ("notify", "sometimes"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("href=\"#time_zone\"") && r.body.contains("href=\"#notify\""));
        let r = send(
            &app,
            &member,
            Method::POST,
            "/settings",
            &[
                ("csrf", &member.csrf),
                ("time_zone", "Australia/Perth"),
                ("notify", "daily"),
            ],
        )
        .await;
        assert_eq!(
            (r.status, r.location.as_str()),
            (StatusCode::SEE_OTHER, "/settings?saved=1")
        );
        // Times now read in Perth.
        let history = send(
            &app,
            &member,
            Method::GET,
            &format!("/engagements/{}/history", w.engagement),
            &[],
        )
        .await;
        assert!(history.body.contains(" AWST</time>"), "{}", history.body);
        let mia = w
            .store
            .person_by_email(&Email::parse("mia@bot.gov.au").unwrap())
            .await
            .unwrap()
            .unwrap();
        let admin_actor = w.store.actor(PersonId(1)).await.unwrap();
        let mails = |kind: &'static str| {
            let (store, admin) = (&w.store, &admin_actor);
            async move {
                store
                    .outbox(admin, 100)
                    .await
                    .unwrap()
                    .into_iter()
                    .filter(|m| m.kind == kind && m.recipient == "mia@bot.gov.au")
                    .collect::<Vec<_>>()
            }
        };
        // Daily: no mail when the step becomes hers.
        let staff = w.client(&app, Who::Staff).await;
        let own = |step: &'static str| {
            let (app, staff, w, mia) = (&app, &staff, &w, mia);
            async move {
                let version = w.version().await;
                send(
                    app,
                    staff,
                    Method::POST,
                    &format!("/engagements/{}", w.engagement),
                    &[
                        ("csrf", &staff.csrf),
                        ("version", &version),
                        ("form", "owner"),
                        ("command", "set_owner"),
                        ("item", "step"),
                        ("stage", "engagement"),
                        ("step", step),
                        ("owner", &mia.0.to_string()),
                        ("due", "2027-03-01"),
                    ],
                )
                .await
            }
        };
        assert_eq!(own("2").await.status, StatusCode::SEE_OTHER);
        assert!(mails("owner_set").await.is_empty());
        // 07:00 in Perth (23:00 UTC): too early; 09:00 (01:00 UTC): written once.
        let model = waymark_model::build(waymark_model::bundled()).model;
        let at = |utc: &str| {
            Timestamp(
                chrono::DateTime::parse_from_rfc3339(utc)
                    .unwrap()
                    .timestamp(),
            )
        };
        let base = "https://waymark.example";
        let early =
            waymark_web::app::write_digests(&w.store, &model, base, at("2027-02-01T23:00:00Z"))
                .await
                .unwrap();
        assert_eq!(early, 0);
        let written =
            waymark_web::app::write_digests(&w.store, &model, base, at("2027-02-02T01:00:00Z"))
                .await
                .unwrap();
        assert_eq!(written, 1);
        let again =
            waymark_web::app::write_digests(&w.store, &model, base, at("2027-02-02T05:00:00Z"))
                .await
                .unwrap();
        assert_eq!(again, 0, "one digest a day");
        let digest = mails("digest").await;
        assert_eq!(digest.len(), 1);
        assert!(
            digest[0].subject.contains("2027-02-02"),
            "{}",
            digest[0].subject
        );
        assert!(
            digest[0]
                .body
                .contains("Engagement, step 2: Request support"),
            "{}",
            digest[0].body
        );
        assert!(
            digest[0]
                .body
                .contains("https://waymark.example/engagements/"),
            "{}",
            digest[0].body
        );
        // Each: a mail at once.
        let r = send(
            &app,
            &member,
            Method::POST,
            "/settings",
            &[
                ("csrf", &member.csrf),
                ("time_zone", "Australia/Perth"),
                ("notify", "each"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(own("3").await.status, StatusCode::SEE_OTHER);
        let told = mails("owner_set").await;
        assert_eq!(told.len(), 1);
        assert!(
            told[0]
                .body
                .contains("step 3 of Engagement (Initial workshop)"),
            "{}",
            told[0].body
        );
        assert!(told[0].body.contains("due 2027-03-01"));
    }
}

/// An empty new-agency form names every missing field at once.
#[tokio::test]
async fn the_agency_form_says_every_problem_at_once() {
    for store in stores("agency-form").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 11]).await;
        let admin = w.client(&app, Who::Admin).await;
        let r = send(
            &app,
            &admin,
            Method::POST,
            "/agencies",
            &[("csrf", &admin.csrf)],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        for id in ["name", "abbreviation", "portfolio"] {
            assert!(
                r.body.contains(&format!("href=\"#{id}\"")),
                "{id}: {}",
                r.body
            );
        }
    }
}

/// A person changes their own password from their settings: the current
/// one first, every problem at once; then only the new one signs in.
#[tokio::test]
async fn a_person_changes_their_password() {
    for store in stores("change-password").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 12]).await;
        let member = w.client(&app, Who::Member).await;
        let new = "a brand new passphrase for mia";
        let r = send(
            &app,
            &member,
            Method::POST,
            "/settings/password",
            &[
                ("csrf", &member.csrf),
                ("current", "not it"),
                ("password", "short"),
                ("confirm", "other"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("href=\"#current\""), "{}", r.body);
        assert!(
            r.body.contains("href=\"#password\"") || r.body.contains("href=\"#confirm\""),
            "{}",
            r.body
        );
        let r = send(
            &app,
            &member,
            Method::POST,
            "/settings/password",
            &[
                ("csrf", &member.csrf),
                ("current", PASSWORD),
                ("password", new),
                ("confirm", new),
            ],
        )
        .await;
        assert_eq!(
            (r.status, r.location.as_str()),
            (StatusCode::SEE_OTHER, "/settings?saved=password")
        );
        let hash = w
            .store
            .credentials(&Email::parse("mia@bot.gov.au").unwrap())
            .await
            .unwrap()
            .unwrap()
            .1
            .unwrap();
        assert!(waymark_web::app::verify_password(new, &hash));
        assert!(!waymark_web::app::verify_password(PASSWORD, &hash));
    }
}

/// The search page: everyone finds the guide; an engagement's words are
/// found exactly by those who may see it, and for the others not even a
/// count shows. Every page's header has the box.
#[tokio::test]
async fn search_finds_what_each_visitor_may_see() {
    for store in stores("search-page").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 9]).await;
        let staff = w.store.actor(PersonId(2)).await.unwrap();
        let v = w
            .store
            .engagement(&staff, w.engagement)
            .await
            .unwrap()
            .version;
        w.store
            .execute(
                &staff,
                w.engagement,
                v,
                &Command::AddRisk {
                    text: "Snorkelwhistle licences lapse".into(),
                    stage: None,
                },
                NOW,
            )
            .await
            .unwrap();
        // (minijinja writes "/" in attributes as &#x2f;)
        let link = format!("href=\"&#x2f;engagements&#x2f;{}\"", w.engagement);
        for who in EVERYONE {
            let c = w.client(&app, who).await;
            let r = send(&app, &c, Method::GET, "/search?q=snorkelwhistle", &[]).await;
            assert_eq!(r.status, StatusCode::OK, "{who:?}");
            let sees = matches!(
                who,
                Who::Admin | Who::Staff | Who::Member | Who::Sponsor | Who::PartnerAssigned
            );
            assert_eq!(r.body.contains(&link), sees, "{who:?}");
            assert_eq!(r.body.contains("Nothing matches"), !sees, "{who:?}");
            if sees {
                assert!(r.body.contains("<mark>Snorkelwhistle</mark>"), "{who:?}");
            }
            // The guide, for everyone, with the stage's page first.
            let r = send(&app, &c, Method::GET, "/search?q=discovery&kind=guide", &[]).await;
            assert!(
                r.body.contains("href=\"&#x2f;guide&#x2f;discovery.html\""),
                "{who:?}: {}",
                r.body
            );
        }
        // Nothing typed, or nothing searchable: a page that says so.
        let c = Client::default();
        let r = send(&app, &c, Method::GET, "/search?q=%22+the+**", &[]).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.body.contains("Type a word or two"));
        // Control characters typed are not echoed into the page.
        let r = send(&app, &c, Method::GET, "/search?q=ka%00lo%0D%0Ami", &[]).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(
            r.body.contains("value=\"ka lo  mi\""),
            "{}",
            &r.body[..r.body.len().min(3000)]
        );
        assert!(!r.body.contains('\0'));
        let r = send(
            &app,
            &c,
            Method::GET,
            "/search?page=999&kind=nonsense&q=x",
            &[],
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "bad paging reads as the first page"
        );
        // The box is in the workspace's header too.
        let c = w.client(&app, Who::Member).await;
        let home = send(&app, &c, Method::GET, "/engagements", &[]).await;
        assert!(home.body.contains("role=\"search\""));
        // A word in more pages than are ranked: the count says "more than",
        // the page says why and what to do, and the pages stop at the last
        // ranked one.
        let many: Vec<waymark_store::Document> = (0..=waymark_core::search::RANKED)
            .map(|i| waymark_store::Document {
                reference: format!("p{i}.html"),
                title: format!("Page {i}"),
                body: "quillwort".into(),
            })
            .collect();
        w.store
            .index_pages(waymark_core::search::Kind::Guide, &many)
            .await
            .unwrap();
        let r = send(
            &app,
            &Client::default(),
            Method::GET,
            "/search?q=quillwort",
            &[],
        )
        .await;
        assert!(r.body.contains("(more than 200 results)"), "{}", r.body);
        assert!(r.body.contains("the best matches among the newest 200"));
        assert!(r.body.contains("More results in Guidance"));
        let r = send(
            &app,
            &Client::default(),
            Method::GET,
            "/search?q=quillwort&kind=guide",
            &[],
        )
        .await;
        assert!(r.body.contains("Next page (2 of 20)"), "{}", r.body);
        // A page past the last says how many there are, that this page
        // has none, and leads back to the last.
        w.store
            .index_pages(waymark_core::search::Kind::Guide, &many[..15])
            .await
            .unwrap();
        for (page, back) in [(3, "Previous page (2 of 2)"), (9, "Last page (2 of 2)")] {
            let r = send(
                &app,
                &Client::default(),
                Method::GET,
                &format!("/search?q=quillwort&kind=guide&page={page}"),
                &[],
            )
            .await;
            assert!(r.body.contains("(15 results)"), "{}", r.body);
            assert!(r.body.contains("No results on this page."), "{}", r.body);
            assert!(r.body.contains(back), "{}", r.body);
            assert!(!r.body.contains("Next page"), "{}", r.body);
        }
    }
}

/// A router like `composed`'s, serving the guide too.
pub(crate) async fn with_guide(store: &Store) -> Router {
    let pages = Arc::new(waymark_model::bundled());
    let loader_pages = Arc::clone(&pages);
    let guide = waymark_site::server::Guide::new(
        Box::new(move || {
            Ok(waymark_site::server::Source {
                model: waymark_model::build(loader_pages.as_ref().clone()).model,
                dates: waymark_site::Dates::default(),
                templates: None,
                articles: Vec::new(),
            })
        }),
        waymark_web::app::published(store, Some("")).await.unwrap(),
    )
    .unwrap();
    let mut settings = Settings::new(store.clone(), pages, &format!("http://{HOST}"));
    settings.guide = Some(Arc::new(guide));
    Application::build(settings)
        .await
        .unwrap()
        .router()
        .layer(MockConnectInfo(SocketAddr::from(([127, 0, 0, 12], 40000))))
}

/// The programme writes an article tagged to Deploy and publishes it: it is
/// a guide page at once, Deploy's page lists it, search finds it signed
/// out; a second version shows what changed; readers answer once; archiving
/// takes it off. A release shows on every guide page.
#[tokio::test]
async fn an_article_goes_from_draft_to_the_guide_and_off_again() {
    for store in stores("article-journey").await {
        let w = world(store).await;
        let app = with_guide(&w.store).await;
        let staff = w.client(&app, Who::Staff).await;
        let out = Client::default();
        let form = |action: &'static str, body: &'static str, version: String| {
            vec![
                ("csrf", staff.csrf.clone()),
                ("version", version),
                ("action", action.to_string()),
                ("title", "Licensing <before> Deploy".to_string()),
                ("summary", "What to buy first.".to_string()),
                ("body", body.to_string()),
                ("tags", "deploy, licensing".to_string()),
                ("review_by", "2099-06-30".to_string()),
            ]
        };
        let post = async |path: &str, f: Vec<(&str, String)>| {
            let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            send(&app, &staff, Method::POST, path, &f).await
        };
        // Every problem at once, beside its field, with what was typed kept.
        let bad = post(
            "/articles/new",
            vec![
                ("csrf", staff.csrf.clone()),
                ("action", "publish".into()),
                ("title", "Kept title".into()),
                ("review_by", "2001-01-01".into()),
                ("tags", "nowhere/3".into()),
            ],
        )
        .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        for id in [
            "article-summary",
            "article-body",
            "article-review_by",
            "article-tags",
        ] {
            assert!(
                bad.body.contains(&format!("href=\"#{id}\"")),
                "{id}: {}",
                bad.body
            );
        }
        assert!(bad.body.contains("value=\"Kept title\""));
        // A broken link: saved as a draft, refused for publishing.
        let r = post(
            "/articles/new",
            form("save", "See [gone](gone.md).", String::new()),
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let edit = r.location.split('?').next().unwrap().to_string();
        let page = send(&app, &staff, Method::GET, &edit, &[]).await;
        assert!(page.body.contains("Links to fix before publishing"));
        let r = post(&edit, form("publish", "See [gone](gone.md).", "1".into())).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("goes to no page of the guide"));
        let slug = "licensing-before-deploy";
        let href = format!("/guide/article-{slug}.html");
        assert_eq!(
            send(&app, &out, Method::GET, &href, &[]).await.status,
            StatusCode::NOT_FOUND
        );
        // Published: on the guide at once, and on Deploy's page.
        let r = post(
            &edit,
            form(
                "publish",
                "Buy **zephyrine** first.\n\nSee [Deploy](deploy.md).",
                "1".into(),
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let a = send(&app, &out, Method::GET, &href, &[]).await;
        assert_eq!(a.status, StatusCode::OK);
        assert!(
            a.body.contains("<strong>zephyrine</strong>")
                && a.body.contains("Licensing &lt;before&gt; Deploy")
        );
        let deploy = send(&app, &out, Method::GET, "/guide/deploy.html", &[]).await;
        assert!(
            deploy
                .body
                .contains(&format!("href=\"article-{slug}.html\""))
        );
        let found = send(&app, &out, Method::GET, "/search?q=zephyrine", &[]).await;
        assert!(
            found.body.contains(&format!("article-{slug}.html")),
            "{}",
            found.body
        );
        // Version 2: what changed, for anyone.
        let r = post(
            &edit,
            form(
                "publish",
                "Buy **quintessa** first.\n\nSee [Deploy](deploy.md).",
                "2".into(),
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let changes = send(
            &app,
            &out,
            Method::GET,
            &format!("/knowledge/{slug}/changes"),
            &[],
        )
        .await;
        assert_eq!(changes.status, StatusCode::OK);
        assert!(changes.body.contains("<del><span class=\"visually-hidden\">Removed: </span>Buy **zephyrine** first.</del>"), "{}", changes.body);
        assert!(changes.body.contains(
            "<ins><span class=\"visually-hidden\">Added: </span>Buy **quintessa** first.</ins>"
        ));
        // Feedback: once per reader; the programme reads it.
        let mia = w.client(&app, Who::Member).await;
        for answer in ["yes", "no"] {
            let r = send(
                &app,
                &mia,
                Method::POST,
                &format!("/knowledge/{slug}/feedback"),
                &[
                    ("csrf", &mia.csrf),
                    ("helpful", answer),
                    ("comment", "<b>Useful</b>"),
                ],
            )
            .await;
            assert_eq!(r.status, StatusCode::SEE_OTHER);
        }
        let page = send(&app, &staff, Method::GET, &edit, &[]).await;
        assert!(
            page.body.contains("0 found it helpful; 1 did not."),
            "{}",
            page.body
        );
        assert!(page.body.contains("&lt;b&gt;Useful&lt;&#x2f;b&gt;"));
        // Archived: off the guide and out of search; what changed stays readable.
        let r = post(&edit, form("archive", "x", "3".into())).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(
            send(&app, &out, Method::GET, &href, &[]).await.status,
            StatusCode::NOT_FOUND
        );
        let deploy = send(&app, &out, Method::GET, "/guide/deploy.html", &[]).await;
        assert!(!deploy.body.contains(&format!("article-{slug}.html")));
        let found = send(&app, &out, Method::GET, "/search?q=quintessa", &[]).await;
        assert!(found.body.contains("Nothing matches"));
        assert_eq!(
            send(
                &app,
                &out,
                Method::GET,
                &format!("/knowledge/{slug}/changes"),
                &[]
            )
            .await
            .status,
            StatusCode::OK
        );
        // A release: every guide page names it.
        let r = send(
            &app,
            &staff,
            Method::POST,
            "/blueprint",
            &[
                ("csrf", &staff.csrf),
                ("version", "2.1"),
                ("released_on", "2026-12-01"),
                ("notes", "Adds baselines."),
                ("link", "javascript:alert(1)"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let r = send(
            &app,
            &staff,
            Method::POST,
            "/blueprint",
            &[
                ("csrf", &staff.csrf),
                ("version", "2.1"),
                ("released_on", "2026-12-01"),
                ("notes", "Adds baselines."),
                ("link", "https://desktop.gov.au"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        for page in [
            "/guide/",
            "/guide/deploy.html",
            "/guide/faq.html",
            "/guide/blueprint.html",
        ] {
            let g = send(&app, &out, Method::GET, page, &[]).await;
            assert!(
                g.body
                    .contains("Blueprint version 2.1, released 1 December 2026"),
                "{page}"
            );
        }
        // Entering Deploy records the release current then; a newer one shows.
        let v = w.version().await;
        let r = send(
            &app,
            &staff,
            Method::POST,
            &format!("/engagements/{}", w.engagement),
            &[
                ("csrf", &staff.csrf),
                ("version", &v),
                ("form", "stage-start"),
                ("command", "start_stage"),
                ("stage", "deploy"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let e = w
            .store
            .engagement(&w.store.actor(PersonId(2)).await.unwrap(), w.engagement)
            .await
            .unwrap();
        assert_eq!(e.blueprint.as_deref(), Some("2.1"));
        let overview = send(
            &app,
            &staff,
            Method::GET,
            &format!("/engagements/{}", w.engagement),
            &[],
        )
        .await;
        assert!(
            overview
                .body
                .contains("Blueprint: version 2.1, the newest when Deploy began</li>"),
            "{}",
            overview.body
        );
        let release = |on: &'static str| {
            vec![
                ("csrf", staff.csrf.clone()),
                ("version", "2.2".to_string()),
                ("released_on", on.to_string()),
                ("notes", "More.".to_string()),
                ("link", String::new()),
            ]
        };
        // Not out yet: a future release would be "current" everywhere.
        let r = post("/blueprint", release("2099-02-01")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("record a release once it is out"));
        let r = post("/blueprint", release("2026-12-01")).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let overview = send(
            &app,
            &staff,
            Method::GET,
            &format!("/engagements/{}", w.engagement),
            &[],
        )
        .await;
        assert!(overview.body.contains("Version 2.2 is out:"));
        let history = send(
            &app,
            &staff,
            Method::GET,
            &format!("/engagements/{}/history", w.engagement),
            &[],
        )
        .await;
        assert!(history.body.contains("Deploys blueprint version 2.1"));
    }
}

/// A file in the content folder wins at its address: the workspace does
/// not publish an article over it, and says why beside the address.
#[tokio::test]
async fn an_article_file_is_not_published_over() {
    for store in stores("article-file").await {
        let w = world(store).await;
        let pages = Arc::new(waymark_model::bundled());
        let loader_pages = Arc::clone(&pages);
        let guide = waymark_site::server::Guide::new(
            Box::new(move || {
                let model = waymark_model::build(loader_pages.as_ref().clone()).model;
                let (articles, problems) = waymark_web::app::file_articles(
                    &[(
                        "content/_articles/licensing.md".into(),
                        "---\ntitle: Licensing\nsummary: From git.\ntags: deploy\nreview_by: 2027-01-01\n---\nKept in git.\n".into(),
                        "2026-12-01".into(),
                    )],
                    &model,
                );
                assert!(problems.is_empty(), "{problems:?}");
                Ok(waymark_site::server::Source {
                    model,
                    dates: waymark_site::Dates::default(),
                    templates: None,
                    articles,
                })
            }),
            waymark_web::app::published(&w.store, Some("")).await.unwrap(),
        )
        .unwrap();
        let mut settings = Settings::new(w.store.clone(), pages, &format!("http://{HOST}"));
        settings.guide = Some(Arc::new(guide));
        let app = Application::build(settings)
            .await
            .unwrap()
            .router()
            .layer(MockConnectInfo(SocketAddr::from(([127, 0, 0, 13], 40000))));
        let out = Client::default();
        let page = send(
            &app,
            &out,
            Method::GET,
            "/guide/article-licensing.html",
            &[],
        )
        .await;
        assert!(page.body.contains("Kept in git."));
        let staff = w.client(&app, Who::Staff).await;
        let r = send(
            &app,
            &staff,
            Method::POST,
            "/articles/new",
            &[
                ("csrf", &staff.csrf),
                ("action", "publish"),
                ("title", "Licensing"),
                ("summary", "From the workspace."),
                ("body", "Written here."),
                ("tags", "deploy"),
                ("review_by", "2099-01-01"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            r.body
                .contains("the content folder has an article file at this address")
        );
        let page = send(
            &app,
            &out,
            Method::GET,
            "/guide/article-licensing.html",
            &[],
        )
        .await;
        assert!(page.body.contains("Kept in git."));
        // The file is found by search, as a page of the guide.
        let found = send(&app, &out, Method::GET, "/search?q=git", &[]).await;
        assert!(
            found.body.contains("article-licensing.html"),
            "{}",
            found.body
        );
    }
}

/// An article past its review date waits on the programme's home page,
/// with its owner; nobody else sees it there.
#[tokio::test]
async fn articles_due_for_review_wait_for_the_programme() {
    for store in stores("article-due").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 14]).await;
        let staff = w.store.actor(PersonId(2)).await.unwrap();
        let model = waymark_model::build(waymark_model::bundled()).model;
        w.store
            .save_article(
                &staff,
                &model,
                None,
                None,
                &waymark_core::knowledge::Article {
                    slug: "old-advice".into(),
                    title: "Old advice".into(),
                    summary: "Due.".into(),
                    body: "Due.".into(),
                    tags: Vec::new(),
                    review_by: "2020-01-01".into(),
                },
                None,
                waymark_core::knowledge::ArticleAction::Publish,
                NOW,
            )
            .await
            .unwrap();
        let c = w.client(&app, Who::Staff).await;
        let home = send(&app, &c, Method::GET, "/engagements", &[]).await;
        assert!(home.body.contains("Articles to review"), "{}", home.body);
        let at = home.body.find("Old advice").unwrap();
        let row = &home.body[at..(at + 120).min(home.body.len())];
        assert!(
            row.contains("Person, review by Wed 1 Jan 2020"),
            "the owner and the date: {row}"
        );
        let c = w.client(&app, Who::Member).await;
        let home = send(&app, &c, Method::GET, "/engagements", &[]).await;
        assert!(!home.body.contains("Articles to review"));
        // Its owner, on a daily digest, is reminded in it.
        let c = w.client(&app, Who::Staff).await;
        let r = send(
            &app,
            &c,
            Method::POST,
            "/settings",
            &[
                ("csrf", &c.csrf),
                ("time_zone", "Australia/Canberra"),
                ("notify", "daily"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let noon = Timestamp(
            chrono::DateTime::parse_from_rfc3339("2027-02-02T02:00:00Z")
                .unwrap()
                .timestamp(),
        );
        // A post of theirs the programme hid is in it too (others get mail).
        w.store
            .ensure_categories(&waymark_core::community::defaults(&model))
            .await
            .unwrap();
        let sam = w.store.actor(PersonId(2)).await.unwrap();
        let ada = w.store.actor(PersonId(1)).await.unwrap();
        let q = w
            .store
            .ask(
                &sam,
                "blueprint",
                &waymark_core::community::Question::parse(
                    "Which licence comes first?",
                    "Asking.",
                    "",
                    &model,
                )
                .unwrap(),
                Timestamp(noon.0 - 7200),
            )
            .await
            .unwrap();
        let post = w.store.thread(Some(&ada), q).await.unwrap().question.id;
        w.store
            .moderate(
                &ada,
                q,
                &waymark_core::community::Moderation::Hide {
                    post,
                    reason: "Asked <b>before</b>".into(),
                },
                Timestamp(noon.0 - 3600),
                |h| waymark_web::mail::post_hidden(h, "https://w.example"),
            )
            .await
            .unwrap();
        let written = waymark_web::app::write_digests(&w.store, &model, "https://w.example", noon)
            .await
            .unwrap();
        assert_eq!(written, 1);
        let admin = w.store.actor(PersonId(1)).await.unwrap();
        let digest: Vec<_> = w
            .store
            .outbox(&admin, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.kind == "digest")
            .collect();
        assert_eq!(digest.len(), 1);
        assert!(
            digest[0]
                .body
                .contains("Review the article “Old advice” (review by 2020-01-01)"),
            "{}",
            digest[0].body
        );
        assert!(
            digest[0].body.contains(&format!(
                "Community: the programme hid your post on “Which licence comes first?” (the reason given: Asked <b>before</b>): https://w.example/community/q/{q}"
            )),
            "{}",
            digest[0].body
        );
        assert!(
            w.store
                .outbox(&admin, 100)
                .await
                .unwrap()
                .iter()
                .all(|m| m.kind != "community_hidden"),
            "a daily reader is not mailed at once"
        );
    }
}

/// The directory of agencies using the blueprint: the sponsor lists the
/// agency; its entry says how far its engagement has come, from the record,
/// and changes when the engagement enters Deploy; opting out removes it.
#[tokio::test]
async fn the_adopter_directory_follows_the_record() {
    for store in stores("adopters").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 15]).await;
        let out = Client::default();
        let page = send(&app, &out, Method::GET, "/adopters", &[]).await;
        assert!(page.body.contains("No agency is listed yet."));
        let eve = w.client(&app, Who::Sponsor).await;
        let path = format!("/agencies/{}/directory", w.agency);
        let bad = send(
            &app,
            &eve,
            Method::POST,
            &path,
            &[
                ("csrf", &eve.csrf),
                ("action", "list"),
                ("contact", "not mail"),
                ("case_study", "javascript:alert(1)"),
            ],
        )
        .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            bad.body.contains("href=\"#contact\"") && bad.body.contains("href=\"#case_study\"")
        );
        let ok = send(
            &app,
            &eve,
            Method::POST,
            &path,
            &[
                ("csrf", &eve.csrf),
                ("action", "list"),
                ("contact", "cio@bot.gov.au"),
                ("case_study", "https://bot.gov.au/story"),
            ],
        )
        .await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
        let page = send(&app, &out, Method::GET, "/adopters", &[]).await;
        assert!(
            page.body.contains("Bureau of Things (BOT)"),
            "{}",
            page.body
        );
        assert!(page.body.contains("mailto:cio@bot.gov.au"));
        // The engagement enters Deploy: the entry says so, from the record.
        let staff = w.client(&app, Who::Staff).await;
        let v = w.version().await;
        let r = send(
            &app,
            &staff,
            Method::POST,
            &format!("/engagements/{}", w.engagement),
            &[
                ("csrf", &staff.csrf),
                ("version", &v),
                ("form", "stage-start"),
                ("command", "start_stage"),
                ("stage", "deploy"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let page = send(&app, &out, Method::GET, "/adopters", &[]).await;
        assert!(page.body.contains("Reached Deploy on"), "{}", page.body);
        assert!(
            page.body.contains("In Engagement and Deploy."),
            "{}",
            page.body
        );
        // Another agency's sponsor cannot take it off; its own can, at once.
        let olly = w.client(&app, Who::OtherAgency).await;
        let r = send(
            &app,
            &olly,
            Method::POST,
            &path,
            &[("csrf", &olly.csrf), ("action", "unlist")],
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = send(
            &app,
            &eve,
            Method::POST,
            &path,
            &[("csrf", &eve.csrf), ("action", "unlist")],
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let page = send(&app, &out, Method::GET, "/adopters", &[]).await;
        assert!(page.body.contains("No agency is listed yet."));
    }
}

/// People leave: the admin deactivates a member, whose live session ends on
/// its very next request and whose API token is refused at once; the page
/// says so and offers to undo it; an admin cannot deactivate themselves.
#[tokio::test]
async fn deactivating_a_person_ends_their_session_and_token_at_once() {
    for store in stores("deactivate-web").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 4]).await;
        let member = w.client(&app, Who::Member).await;
        let mia = w
            .store
            .person_by_email(&Email::parse("mia@bot.gov.au").unwrap())
            .await
            .unwrap()
            .unwrap();
        let token = w.store.create_token(mia, "jira", NOW).await.unwrap();
        let api = |token: String| {
            let app = app.clone();
            async move {
                let req = Request::builder()
                    .uri("/api/v1/engagements")
                    .header(header::HOST, HOST)
                    .header(header::AUTHORIZATION, format!("bearer {token}"))
                    .body(Body::empty())
                    .unwrap();
                app.oneshot(req).await.unwrap().status()
            }
        };
        assert_eq!(api(token.clone()).await, StatusCode::OK);
        let home = send(&app, &member, Method::GET, "/engagements", &[]).await;
        assert_eq!(home.status, StatusCode::OK);

        let admin = w.client(&app, Who::Admin).await;
        // Mia owns a step: her page lists it, to be handed on when she leaves.
        let version = w.version().await;
        let r = send(
            &app,
            &admin,
            Method::POST,
            &format!("/engagements/{}", w.engagement),
            &[
                ("csrf", &admin.csrf),
                ("version", &version),
                ("form", "owner-engagement-2"),
                ("command", "set_owner"),
                ("item", "step"),
                ("stage", "engagement"),
                ("step", "2"),
                ("owner", &mia.0.to_string()),
                ("due", "2099-01-02"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let page = send(&app, &admin, Method::GET, &format!("/people/{mia}"), &[]).await;
        let waiting = &page.body[page.body.find("Waiting on").unwrap()..];
        let waiting = &waiting[..waiting.find("</section>").unwrap()];
        assert!(
            waiting.contains("Engagement, step 2: Request support"),
            "{waiting}"
        );
        assert!(
            !waiting.contains("hand each of these"),
            "she has not left yet"
        );
        let action = format!("action=\"/people/{mia}/deactivate\"");
        assert!(page.body.contains(&action), "{}", page.body);
        let r = send(
            &app,
            &admin,
            Method::POST,
            &format!("/people/{mia}/deactivate"),
            &[("csrf", &admin.csrf)],
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        // One request later, both are refused.
        let home = send(&app, &member, Method::GET, "/engagements", &[]).await;
        assert_eq!(
            home.status,
            StatusCode::SEE_OTHER,
            "the session still works"
        );
        assert!(home.location.starts_with("/login"));
        assert_eq!(api(token).await, StatusCode::UNAUTHORIZED);
        let (_, r) = sign_in(&app, "mia@bot.gov.au", PASSWORD).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "they signed in");
        let page = send(&app, &admin, Method::GET, &format!("/people/{mia}"), &[]).await;
        assert!(page.body.contains("was deactivated on"), "{}", page.body);
        assert!(page.body.contains("hand each of these to someone else"));
        assert!(page.body.contains("Engagement, step 2: Request support"));
        assert!(
            page.body
                .contains(&format!("action=\"/people/{mia}/reactivate\""))
        );
        assert!(!page.body.contains(&action), "a second deactivate button");
        let list = send(&app, &admin, Method::GET, "/people", &[]).await;
        assert!(list.body.contains("Deactivated</span>"));
        // The admin's own page offers no way to lock themselves out, and the
        // action itself is refused.
        let me = w
            .store
            .person_by_email(&Email::parse("ada@dta.gov.au").unwrap())
            .await
            .unwrap()
            .unwrap();
        let own = send(&app, &admin, Method::GET, &format!("/people/{me}"), &[]).await;
        assert!(!own.body.contains("/deactivate\""), "{}", own.body);
        let r = send(
            &app,
            &admin,
            Method::POST,
            &format!("/people/{me}/deactivate"),
            &[("csrf", &admin.csrf)],
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        // Reactivated, Mia signs in with her password again.
        let r = send(
            &app,
            &admin,
            Method::POST,
            &format!("/people/{mia}/reactivate"),
            &[("csrf", &admin.csrf)],
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let (_, r) = sign_in(&app, "mia@bot.gov.au", PASSWORD).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
    }
}

/// A person sees where they are signed in and signs out a browser they
/// left signed in; that browser's next request goes to sign-in. A
/// reference from someone else's page ends nothing of theirs.
#[tokio::test]
async fn a_person_sees_their_sessions_and_ends_one() {
    for store in stores("own-sessions").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 5]).await;
        let laptop = w.client(&app, Who::Staff).await;
        let phone = w.client(&app, Who::Staff).await;
        let other = w.client(&app, Who::Member).await;
        let page = send(&app, &laptop, Method::GET, "/settings", &[]).await;
        assert_eq!(page.status, StatusCode::OK);
        let list = &page.body[page.body.find("Where you are signed in").unwrap()..];
        assert_eq!(list.matches("<li>").count(), 2, "{list}");
        assert!(list.contains("<strong>This browser</strong>"), "{list}");
        let reference = |body: &str| {
            let at = body.find("name=\"session\" value=\"").unwrap() + 22;
            body[at..at + 16].to_string()
        };
        let phone_ref = reference(list);
        // No session id is ever on the page.
        for c in [&laptop, &phone] {
            let id = c.cookie.as_deref().unwrap().split('=').nth(1).unwrap();
            assert!(!page.body.contains(id), "a session id is on the page");
        }
        // Mia cannot end Sam's phone with its reference.
        let r = send(
            &app,
            &other,
            Method::POST,
            "/settings/sessions",
            &[("csrf", &other.csrf), ("session", &phone_ref)],
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let still = send(&app, &phone, Method::GET, "/engagements", &[]).await;
        assert_eq!(still.status, StatusCode::OK);
        // Sam ends it from the laptop: the phone is signed out, the laptop not.
        let r = send(
            &app,
            &laptop,
            Method::POST,
            "/settings/sessions",
            &[("csrf", &laptop.csrf), ("session", &phone_ref)],
        )
        .await;
        assert_eq!(
            (r.status, r.location.as_str()),
            (StatusCode::SEE_OTHER, "/settings?saved=session")
        );
        let gone = send(&app, &phone, Method::GET, "/engagements", &[]).await;
        assert_eq!(gone.status, StatusCode::SEE_OTHER);
        assert!(gone.location.starts_with("/login"));
        let page = send(&app, &laptop, Method::GET, "/settings?saved=session", &[]).await;
        assert!(page.body.contains("That session is signed out."));
        let list = &page.body[page.body.find("Where you are signed in").unwrap()..];
        assert_eq!(list.matches("<li>").count(), 1, "{list}");
    }
}

#[tokio::test]
async fn a_sponsor_assesses_the_agency_and_the_journey_retailors() {
    for store in stores("assess-page").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 6]).await;
        let sponsor = w.client(&app, Who::Sponsor).await;
        let member = w.client(&app, Who::Member).await;
        let other = w.client(&app, Who::OtherAgency).await;
        let staff = w.client(&app, Who::Staff).await;
        let a = w.agency.0;
        let page_path = format!("/agencies/{a}/assessment");
        // It waits on the sponsor's home, and on no one else's.
        let home = send(&app, &sponsor, Method::GET, "/engagements", &[]).await;
        assert!(
            home.body
                .contains(&format!("href=\"/agencies/{a}/assessment\">Take BOT")),
            "{}",
            home.body
        );
        let home = send(&app, &member, Method::GET, "/engagements", &[]).await;
        assert!(!home.body.contains("self-assessment</a>"));
        // The agency's page leads to it; every step counts until then.
        let agency = send(&app, &sponsor, Method::GET, &format!("/agencies/{a}"), &[]).await;
        assert!(
            agency.body.contains("Take the self-assessment"),
            "{}",
            agency.body
        );
        let stage = format!("/engagements/{}/stages/discovery", w.engagement.0);
        let before = send(&app, &sponsor, Method::GET, &stage, &[]).await;
        assert!(before.body.contains("Every step counts as essential until"));
        assert!(!before.body.contains("not apply"));
        // The form: every question a fieldset with its legend.
        let form = send(&app, &sponsor, Method::GET, &page_path, &[]).await;
        assert_eq!(form.status, StatusCode::OK);
        assert_eq!(form.body.matches("<legend>").count(), 8, "{}", form.body);
        assert!(form.body.contains("Record the assessment"));
        let model = waymark_model::build(waymark_model::bundled()).model;
        let keys: Vec<String> = model
            .questionnaire()
            .unwrap()
            .questions()
            .map(|q| format!("answer-{}", q.key))
            .collect();
        // Hostile and incomplete answers: 422, each named beside its
        // question, markup escaped, what was chosen kept.
        let r = send(
            &app,
            &sponsor,
            Method::POST,
            &page_path,
            &[
                ("csrf", &sponsor.csrf),
                ("answer-ways-of-working", "2"),
                ("answer-dispersed", "\"><script>alert(1)</script>"),
                ("answer-<b>x</b>", "0"),
                ("answer-access", "99"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(r.body.contains("There is a problem"));
        assert!(!r.body.contains("<script>alert(1)"), "markup escaped");
        assert!(!r.body.contains("<b>x</b>"), "markup escaped");
        assert!(r.body.contains("href=\"#answer-resources\""), "{}", r.body);
        assert!(
            r.body
                .contains("How spread out are your staff? Choose one of its 3 answers"),
            "{}",
            r.body
        );
        assert!(r.body.contains("Choose an answer"));
        assert!(
            r.body
                .contains("id=\"answer-ways-of-working-2\" name=\"answer-ways-of-working\" value=\"2\" checked"),
            "{}",
            r.body
        );
        // A question answered twice is no answer.
        let r = send(
            &app,
            &sponsor,
            Method::POST,
            &page_path,
            &[
                ("csrf", &sponsor.csrf),
                ("answer-access", "0"),
                ("answer-access", "2"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("Do your staff face challenges in getting to technology? Choose one of its 3 answers"), "{}", r.body);
        // Someone else's sponsor, or a member who is not the sponsor: 403.
        let all_low = |c: &Client| -> Vec<(String, String)> {
            std::iter::once(("csrf".to_string(), c.csrf.clone()))
                .chain(keys.iter().map(|k| (k.clone(), "0".to_string())))
                .collect()
        };
        for c in [&other, &member] {
            let owned = all_low(c);
            let form: Vec<(&str, &str)> = owned
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let r = send(&app, c, Method::POST, &page_path, &form).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN);
        }
        // The sponsor answers: Lean.
        let owned = all_low(&sponsor);
        let form: Vec<(&str, &str)> = owned
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let r = send(&app, &sponsor, Method::POST, &page_path, &form).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let done = send(&app, &sponsor, Method::GET, &r.location, &[]).await;
        assert!(
            done.body
                .contains("BOT is <strong>Lean</strong>, from its self-assessment"),
            "{}",
            done.body
        );
        assert!(
            done.body
                .contains(&format!("href=\"/engagements/{}\"", w.engagement.0))
        );
        let home = send(&app, &sponsor, Method::GET, "/engagements", &[]).await;
        assert!(
            !home.body.contains("assessment\">Take BOT"),
            "done: no longer waiting"
        );
        // The journey re-tailored: Discovery's business case does not apply
        // to a Lean agency and is folded away with why; step 3 is optional.
        let after = send(&app, &sponsor, Method::GET, &stage, &[]).await;
        assert!(
            after
                .body
                .contains("Tailored for a <strong>Lean</strong> agency"),
            "{}",
            after.body
        );
        assert!(
            after
                .body
                .contains("1 step that does not apply to a Lean agency")
        );
        assert!(after.body.contains("no options to cost"));
        assert!(after.body.contains("tag-optional"));
        // The guide it links to reads for a Lean agency.
        assert!(
            after
                .body
                .contains("discovery--for-lean.html\">Read the guidance for Discovery"),
            "{}",
            after.body
        );
        // A stage not started lists its steps by their own numbers.
        let transition = send(
            &app,
            &sponsor,
            Method::GET,
            &format!("/engagements/{}/stages/transition", w.engagement.0),
            &[],
        )
        .await;
        assert!(
            transition.body.contains("<li>Step 3: Change plan</li>"),
            "{}",
            transition.body
        );
        let history = send(
            &app,
            &member,
            Method::GET,
            &format!("/engagements/{}/history", w.engagement.0),
            &[],
        )
        .await;
        assert!(
            history
                .body
                .contains("tailored for a Lean agency, from the agency&#x27;s self-assessment")
                || history
                    .body
                    .contains("tailored for a Lean agency, from the agency's self-assessment"),
            "{}",
            history.body
        );
        // The member sees the answers; another agency sees the type only.
        let seen = send(&app, &member, Method::GET, &page_path, &[]).await;
        assert!(seen.body.contains("The answers"));
        assert!(!seen.body.contains("Record the assessment"));
        let outside = send(&app, &other, Method::GET, &page_path, &[]).await;
        assert!(!outside.body.contains("The answers"));
        assert!(!outside.body.contains("<h2>History</h2>"));
        // The programme sets the type: a reason is needed and bounded.
        let set = format!("/agencies/{a}/type");
        let huge = "r".repeat(2 * 1024 * 1024);
        for (kind, reason, says) in [
            ("complex", "", "Reason"),
            ("enormous", "Because", "choose one of the four types"),
            ("complex", huge.as_str(), "Reason"),
        ] {
            let r = send(
                &app,
                &staff,
                Method::POST,
                &set,
                &[
                    ("csrf", &staff.csrf),
                    ("agency_type", kind),
                    ("reason", reason),
                ],
            )
            .await;
            assert!(
                r.status == StatusCode::UNPROCESSABLE_ENTITY
                    || r.status == StatusCode::PAYLOAD_TOO_LARGE,
                "{kind}: {}",
                r.status
            );
            if r.status == StatusCode::UNPROCESSABLE_ENTITY {
                assert!(r.body.contains(says), "{kind}: {}", r.body);
            }
        }
        let r = send(
            &app,
            &staff,
            Method::POST,
            &set,
            &[
                ("csrf", &staff.csrf),
                ("agency_type", "complex"),
                ("reason", "Legislation <em>unusual</em>"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let done = send(&app, &staff, Method::GET, &r.location, &[]).await;
        assert!(
            done.body
                .contains("set by the programme: Legislation &lt;em&gt;unusual&lt;"),
            "{}",
            done.body
        );
        let page = send(&app, &sponsor, Method::GET, &page_path, &[]).await;
        assert!(
            page.body
                .contains("Taking the assessment again replaces that setting")
        );
        let after = send(&app, &sponsor, Method::GET, &stage, &[]).await;
        assert!(
            after
                .body
                .contains("Tailored for a <strong>Complex</strong> agency")
        );
        assert!(!after.body.contains("does not apply"));
        // The sponsor may not set a type.
        let r = send(
            &app,
            &sponsor,
            Method::POST,
            &set,
            &[
                ("csrf", &sponsor.csrf),
                ("agency_type", "lean"),
                ("reason", "x"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(w.store.verify().await.unwrap().intact());
    }
}

/// A newcomer registers with an allowed address, follows the mailed link,
/// sets a password and is signed in as a community member who sees no
/// engagement; the link works once; other domains, bots and a second
/// registration of a known address get what they should.
#[tokio::test]
async fn a_newcomer_registers_verifies_and_joins_the_community() {
    for store in stores("register").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 9]).await;
        let visitor = Client::default();
        let admin = w.store.actor(PersonId(1)).await.unwrap();
        let mails = async || w.store.outbox(&admin, 50).await.unwrap();

        // Not on an allowed domain: said beside the field, nothing mailed.
        let r = send(
            &app,
            &visitor,
            Method::POST,
            "/register",
            &[("name", "Gil"), ("email", "gil@gmail.com")],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("open to addresses at gov.au"), "{}", r.body);
        assert!(
            r.body.contains("value=\"gil@gmail.com\""),
            "what was typed stays"
        );
        // A bot fills the hidden field: thanked, nothing kept.
        let r = send(
            &app,
            &visitor,
            Method::POST,
            "/register",
            &[
                ("name", "Bot"),
                ("email", "bot@x.gov.au"),
                ("website", "http://spam"),
            ],
        )
        .await;
        assert_eq!(
            (r.status, r.location.as_str()),
            (StatusCode::SEE_OTHER, "/register/sent")
        );
        assert!(mails().await.is_empty());

        // Twice, before following either link: the name typed is never mailed.
        for _ in 0..2 {
            let form = [
                ("name", "Nia, visit https://evil.example"),
                ("email", "Nia@Council.NSW.gov.au"),
            ];
            let r = send(&app, &visitor, Method::POST, "/register", &form).await;
            assert_eq!(r.location, "/register/sent");
        }
        let sent = mails().await;
        assert_eq!(sent.len(), 2);
        assert!(
            sent.iter()
                .all(|m| !m.body.contains("evil.example") && !m.body.contains("Nia"))
        );
        assert_eq!(sent[0].recipient, "nia@council.nsw.gov.au");
        assert_eq!(sent[0].kind, "registration");
        let older = sent[1]
            .body
            .lines()
            .find(|l| l.contains("/register/"))
            .unwrap()
            .trim()
            .trim_start_matches(&format!("http://{HOST}"))
            .to_string();
        let link = sent[0]
            .body
            .lines()
            .find(|l| l.contains("/register/"))
            .unwrap()
            .trim()
            .to_string();
        let path = link.trim_start_matches(&format!("http://{HOST}"));
        // No account until the link is followed.
        assert!(
            w.store
                .credentials(&Email::parse("nia@council.nsw.gov.au").unwrap())
                .await
                .unwrap()
                .is_none()
        );
        let r = send(&app, &visitor, Method::GET, path, &[]).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.body.contains("nia@council.nsw.gov.au"));
        let r = send(
            &app,
            &visitor,
            Method::POST,
            path,
            &[("password", "short"), ("confirm", "short")],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let pw = "a community passphrase";
        let r = send(
            &app,
            &visitor,
            Method::POST,
            path,
            &[("password", pw), ("confirm", pw)],
        )
        .await;
        assert_eq!(
            (r.status, r.location.as_str()),
            (StatusCode::SEE_OTHER, "/community?welcome=1")
        );
        let nia = Client {
            cookie: cookie_of(&r),
            csrf: String::new(),
        };
        let page = send(&app, &nia, Method::GET, "/community?welcome=1", &[]).await;
        assert!(page.body.contains("your account is ready"));
        // The question form carries the field bots fill: filled, the
        // question seems to go, and nothing is kept.
        let ask = send(&app, &nia, Method::GET, "/community/ask", &[]).await;
        assert!(ask.body.contains("name=\"website\""), "{}", ask.body);
        let csrf = csrf_of(&ask.body).unwrap();
        let r = send(
            &app,
            &nia,
            Method::POST,
            "/community/ask",
            &[
                ("csrf", &csrf),
                ("category", "discovery"),
                ("title", "Cheap licences for every agency"),
                ("body", "Buy now."),
                ("website", "http://spam.example"),
            ],
        )
        .await;
        assert_eq!(r.location, "/community");
        assert!(
            w.store
                .topics(None, "discovery", 10, None)
                .await
                .unwrap()
                .is_empty()
        );
        // A community member only: no engagement, no role.
        let home = send(&app, &nia, Method::GET, "/engagements", &[]).await;
        assert_eq!(home.status, StatusCode::OK);
        assert!(
            !home
                .body
                .contains(&format!("/engagements/{}", w.engagement))
        );
        assert_eq!(
            send(
                &app,
                &nia,
                Method::GET,
                &format!("/engagements/{}", w.engagement),
                &[]
            )
            .await
            .status,
            StatusCode::NOT_FOUND
        );
        // The link worked once, and the address's other link is spent with it.
        assert_eq!(
            send(&app, &visitor, Method::GET, path, &[]).await.status,
            StatusCode::NOT_FOUND
        );
        assert_ne!(older, path);
        let r = send(&app, &visitor, Method::GET, &older, &[]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let r = send(
            &app,
            &visitor,
            Method::POST,
            path,
            &[("password", pw), ("confirm", pw)],
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        // Registering a known address makes nothing new and says so by mail only.
        let r = send(
            &app,
            &visitor,
            Method::POST,
            "/register",
            &[("name", "Someone"), ("email", "nia@council.nsw.gov.au")],
        )
        .await;
        assert_eq!(r.location, "/register/sent");
        let sent = mails().await;
        assert_eq!(sent.len(), 3);
        assert!(
            sent.iter()
                .any(|m| m.kind == "registration_existing" && !m.body.contains("/register/"))
        );
        // However many networks ask, one address gets three mails an hour.
        let elsewhere = router(&w.store, [127, 0, 0, 10]).await;
        let form = [("name", "Someone"), ("email", "nia@council.nsw.gov.au")];
        let r = send(&elsewhere, &visitor, Method::POST, "/register", &form).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(mails().await.len(), 3);
        // A question page's form votes for that question's posts only.
        let staff = w.store.actor(PersonId(2)).await.unwrap();
        let model = waymark_model::build(waymark_model::bundled()).model;
        let mut asked = Vec::new();
        for title in ["First question here", "Second question here"] {
            let q = waymark_core::community::Question::parse(title, "Body.", "", &model).unwrap();
            asked.push(w.store.ask(&staff, "blueprint", &q, NOW).await.unwrap());
        }
        let (q1, q2) = (asked[0], asked[1]);
        let a2 = w
            .store
            .answer(&staff, q2, "An answer.", NOW)
            .await
            .unwrap()
            .to_string();
        let page = send(&app, &nia, Method::GET, &format!("/community/q/{q1}"), &[]).await;
        let csrf = csrf_of(&page.body).unwrap();
        let vote = [("csrf", csrf.as_str()), ("action", "vote"), ("post", &a2)];
        let r = send(
            &app,
            &nia,
            Method::POST,
            &format!("/community/q/{q1}"),
            &vote,
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let r = send(
            &app,
            &nia,
            Method::POST,
            &format!("/community/q/{q2}"),
            &vote,
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        // With an accepted answer, the programme (only) drafts an FAQ entry
        // from the question's page and lands in the article's editor.
        let a2: i64 = a2.parse().unwrap();
        w.store
            .accept_answer(&staff, q2, Some(a2), NOW)
            .await
            .unwrap();
        let sam = w.client(&app, Who::Staff).await;
        let uri = format!("/community/q/{q2}");
        assert!(
            !send(&app, &nia, Method::GET, &uri, &[])
                .await
                .body
                .contains("Add to the FAQ")
        );
        assert!(
            send(&app, &sam, Method::GET, &uri, &[])
                .await
                .body
                .contains("Add to the FAQ")
        );
        let promote = |c: &Client| [("csrf", c.csrf.clone()), ("action", "promote".to_string())];
        let form = promote(&nia);
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = send(&app, &nia, Method::POST, &uri, &form).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        let form = promote(&sam);
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = send(&app, &sam, Method::POST, &uri, &form).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert!(r.location.ends_with("?saved=promoted"), "{}", r.location);
        let editor = send(&app, &sam, Method::GET, &r.location, &[]).await;
        assert!(editor.body.contains("Edit it into a clean entry"));
        assert!(editor.body.contains(&format!("href=\"/community/q/{q2}\"")));
        // Again: refused on the question's page, in words.
        let r = send(&app, &sam, Method::POST, &uri, &form).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("already in the FAQ"));
        let list = send(&app, &sam, Method::GET, "/articles", &[]).await;
        assert!(
            list.body.contains("The community FAQ") && list.body.contains("Second question here")
        );
        assert!(
            send(&app, &sam, Method::GET, &uri, &[])
                .await
                .body
                .contains("Edit the FAQ entry")
        );
        // Signed in, the form sends you to the community.
        assert_eq!(
            send(&app, &nia, Method::GET, "/register", &[])
                .await
                .location,
            "/community"
        );
    }
}

#[tokio::test]
async fn an_engagement_talks_beside_its_steps_and_only_its_people_hear() {
    for store in stores("discussion-pages").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 23]).await;
        let e = w.engagement;
        let pat = w.client(&app, Who::PartnerAssigned).await;
        let mia = w.client(&app, Who::Member).await;
        let sam = w.client(&app, Who::Staff).await;
        let page = format!("/engagements/{e}");
        let thread = format!("/engagements/{e}/discussion?about=step:engagement:1");
        // A workspace form: the session's token, the version the page showed.
        let post = async |c: &Client, version: &str, fields: &[(&str, &str)]| {
            let mut form = vec![("csrf", c.csrf.as_str()), ("version", version)];
            form.extend_from_slice(fields);
            send(&app, c, Method::POST, &page, &form).await
        };
        // The step's page offers its discussion, with nothing said yet.
        let stage = send(
            &app,
            &mia,
            Method::GET,
            &format!("{page}/stages/engagement"),
            &[],
        )
        .await;
        assert!(
            stage
                .body
                .contains(&format!("href=\"{thread}\">Discuss step 1</a>"))
        );
        // The partner asks beside step 1, from a page one change old.
        let v = w.version().await;
        let stale = (v.parse::<u64>().unwrap() - 1).to_string();
        let said = "Who runs the **kick-off**?\n\n- agenda\n- people";
        let r = post(
            &pat,
            &stale,
            &[
                ("form", "comment-new"),
                ("command", "comment"),
                ("about", "step:engagement:1"),
                ("body", said),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert_eq!(r.location, format!("{thread}&saved=comment#comment-1"));
        let back = r.location.split('#').next().unwrap().to_string();
        let read = send(&app, &pat, Method::GET, &back, &[]).await;
        assert!(read.body.contains("Your comment is posted."));
        let read = send(&app, &mia, Method::GET, &thread, &[]).await;
        assert_eq!(read.status, StatusCode::OK);
        assert!(
            read.body.contains("<strong>kick-off</strong>"),
            "markdown rendered"
        );
        assert!(read.body.contains("id=\"comment-1\""));
        assert!(
            read.body
                .contains("<strong>About:</strong> Engagement, step 1")
        );
        // The member may not rewrite the partner's words.
        let v = w.version().await;
        let r = post(
            &mia,
            &v,
            &[
                ("form", "comment-edit-1"),
                ("command", "edit_comment"),
                ("id", "1"),
                ("about", "step:engagement:1"),
                ("body", "Mine now"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        // Nothing said, or said about nothing, is refused beside the field.
        for (about, body, field) in [
            ("step:engagement:1", "   ", "comment-new-body"),
            ("step:engagement:99", "Hello", "comment-new-about"),
            ("risk:1\r\nLocation: x", "Hello", "comment-new-about"),
        ] {
            let r = post(
                &mia,
                &v,
                &[
                    ("form", "comment-new"),
                    ("command", "comment"),
                    ("about", about),
                    ("body", body),
                ],
            )
            .await;
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{about:?}: {}",
                r.body
            );
            assert!(
                r.body.contains(&format!("id=\"{field}-error\"")),
                "{about:?}: {}",
                r.body
            );
        }
        // Outsiders cannot tell the thread exists; a thread about nothing
        // is nobody's page.
        for who in [Who::OtherAgency, Who::PartnerUnassigned, Who::Community] {
            let c = w.client(&app, who).await;
            let r = send(&app, &c, Method::GET, &thread, &[]).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{who:?}");
            assert!(!r.body.contains("kick-off"));
        }
        for bad in ["step:engagement:99", "risk:7", "nonsense", "step:x:1"] {
            let r = send(
                &app,
                &mia,
                Method::GET,
                &format!("/engagements/{e}/discussion?about={bad}"),
                &[],
            )
            .await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{bad}");
        }
        // The list of every thread, and the step's link now counting.
        let all = send(
            &app,
            &mia,
            Method::GET,
            &format!("/engagements/{e}/discussion"),
            &[],
        )
        .await;
        assert!(
            all.body
                .contains(&format!("href=\"{thread}\">Engagement, step 1"))
        );
        assert!(all.body.contains("1 comment, the last by"));
        let stage = send(
            &app,
            &mia,
            Method::GET,
            &format!("{page}/stages/engagement"),
            &[],
        )
        .await;
        assert!(stage.body.contains("Discussion of step 1 (1 comment)"));
        // The partner edits; the earlier words stay (twice: a form whose
        // thread was tampered with still comes back to the comment's own).
        // The programme hides it: the member sees that it was, not what or
        // why.
        for about in ["step:engagement:1", "//evil.example"] {
            let v = w.version().await;
            let r = post(
                &pat,
                &v,
                &[
                    ("form", "comment-edit-1"),
                    ("command", "edit_comment"),
                    ("id", "1"),
                    ("about", about),
                    ("body", "Our day rate is 2,000."),
                ],
            )
            .await;
            assert_eq!(r.location, format!("{thread}&saved=edit_comment#comment-1"));
        }
        let v = w.version().await;
        let r = post(
            &sam,
            &v,
            &[
                ("form", "comment-hide-1"),
                ("command", "hide_comment"),
                ("id", "1"),
                ("about", "step:engagement:1"),
                ("reason", "Prices go through the tender"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let read = send(&app, &mia, Method::GET, &thread, &[]).await;
        assert!(read.body.contains("Hidden by the programme."));
        assert!(
            !read.body.contains("day rate")
                && !read.body.contains("tender")
                && !read.body.contains("kick-off")
        );
        let own = send(&app, &pat, Method::GET, &thread, &[]).await;
        assert!(
            own.body
                .contains("Hidden by the programme: Prices go through the tender")
        );
        assert!(
            own.body.contains("day rate") && own.body.contains("kick-off"),
            "the author reads every version"
        );
        assert!(
            !own.body.contains("Save the new version"),
            "a hidden comment is not edited"
        );
        // The history names each change.
        let history = send(
            &app,
            &mia,
            Method::GET,
            &format!("/engagements/{e}/history"),
            &[],
        )
        .await;
        assert_eq!(history.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn a_person_downloads_their_data_from_their_settings() {
    for store in stores("settings-data").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 24]).await;
        let mia = w.client(&app, Who::Member).await;
        let settings = send(&app, &mia, Method::GET, "/settings", &[]).await;
        assert!(settings.body.contains("href=\"/settings/data\" download"));
        let r = send(&app, &mia, Method::GET, "/settings/data", &[]).await;
        assert_eq!(r.status, StatusCode::OK);
        let data: serde_json::Value = serde_json::from_slice(&r.raw).unwrap();
        let held = data["held"].as_array().unwrap();
        let account = held.iter().find(|h| h["table"] == "people").unwrap();
        assert_eq!(account["rows"][0]["email"], "mia@bot.gov.au");
        // Signed in: this very session is listed, by when it ends only.
        let sessions = held.iter().find(|h| h["table"] == "sessions").unwrap();
        assert!(sessions["rows"][0]["expires_at"].is_i64());
        assert!(!r.body.contains("password_hash") && !r.body.contains(&mia.csrf));
        // Another's: refused, whether or not they exist.
        for id in [1, 999_999] {
            let r = send(&app, &mia, Method::GET, &format!("/people/{id}/data"), &[]).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{id}");
        }
        // Ten asks an hour (those refused count too), then a plain 429.
        for _ in 0..7 {
            let r = send(&app, &mia, Method::GET, "/settings/data", &[]).await;
            assert_eq!(r.status, StatusCode::OK);
        }
        let r = send(&app, &mia, Method::GET, "/settings/data", &[]).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(r.body.contains("Wait an hour"));
    }
}

#[tokio::test]
async fn forms_that_collect_personal_data_say_so_and_the_programme_owns_the_notice() {
    for store in stores("privacy-notice").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 25]).await;
        let out = Client::default();
        for form in ["/request-support", "/register"] {
            let r = send(&app, &out, Method::GET, form, &[]).await;
            assert!(r.body.contains("About your information"), "{form}");
            assert!(r.body.contains("href=\"/privacy\""), "{form}");
        }
        // The built-in notice; the programme is told how to replace it.
        let r = send(&app, &out, Method::GET, "/privacy", &[]).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(
            r.body.contains("What you can ask for") && !r.body.contains("built-in privacy notice")
        );
        let sam = w.client(&app, Who::Staff).await;
        let r = send(&app, &sam, Method::GET, "/privacy", &[]).await;
        assert!(r.body.contains("built-in privacy notice"));
        // Published as a knowledge article at `privacy`, it is the notice.
        let staff = w.store.actor(PersonId(2)).await.unwrap();
        let model = waymark_model::build(waymark_model::bundled()).model;
        w.store
            .save_article(
                &staff,
                &model,
                None,
                None,
                &waymark_core::knowledge::Article {
                    slug: "privacy".into(),
                    title: "Privacy".into(),
                    summary: "How the programme handles personal information.".into(),
                    body: "We keep requests for 24 months.".into(),
                    tags: Vec::new(),
                    review_by: "2099-01-01".into(),
                },
                None,
                waymark_core::knowledge::ArticleAction::Publish,
                NOW,
            )
            .await
            .unwrap();
        let r = send(&app, &out, Method::GET, "/privacy", &[]).await;
        assert_eq!(
            (r.status, r.location.as_str()),
            (StatusCode::SEE_OTHER, "/guide/article-privacy.html")
        );
    }
}

#[tokio::test]
async fn the_sponsor_measures_a_benefit_and_the_register_charts_it() {
    for store in stores("benefits").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 31]).await;
        let c = w.client(&app, Who::Sponsor).await;
        let path = format!("/engagements/{}", w.engagement);
        let post = |form: Vec<(&'static str, String)>| {
            let app = app.clone();
            let c = c.clone();
            let path = path.clone();
            async move {
                let mut all: Vec<(&str, String)> = vec![("csrf", c.csrf.clone())];
                all.extend(form);
                let pairs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
                send(&app, &c, Method::POST, &path, &pairs).await
            }
        };
        // 100 hours a month down to `target` by `by`, owned by the sponsor.
        let add = async |target: &str, by: &str| {
            post(vec![
                ("version", w.version().await),
                ("form", "benefit-add".into()),
                ("command", "add_benefit".into()),
                ("text", "Less <b>time</b> patching desktops".into()),
                ("unit", "hours".into()),
                ("baseline", "100".into()),
                ("baseline_date", "2026-01-01".into()),
                ("target", target.into()),
                ("target_date", by.into()),
                ("owner", "4".into()),
            ])
            .await
        };
        // A target date before the baseline: 422, said beside the field,
        // with the rest of what was typed kept.
        let r = add("fifty", "2025-12-01").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        for field in ["target", "target_date"] {
            assert!(
                r.body
                    .contains(&format!("id=\"benefit-add-{field}-error\"")),
                "{field}: {}",
                r.body
            );
        }
        assert!(r.body.contains("“fifty” is not a number of hours"));
        assert!(r.body.contains("must be after the baseline date"));
        assert!(r.body.contains("value=\"2025-12-01\""), "typed date kept");
        assert!(
            r.body
                .contains("Less &lt;b&gt;time&lt;&#x2f;b&gt; patching desktops")
        );
        // Then as meant: 100 hours a month down to 50.
        let r = add("50", "2099-12-31").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert_eq!(
            r.location,
            format!("{path}/benefits?saved=add_benefit#benefit-add")
        );
        // A reading in the wrong unit is refused beside its field.
        let r = post(vec![
            ("version", w.version().await),
            ("form", "reading-1".into()),
            ("command", "record_reading".into()),
            ("id", "1".into()),
            ("value", "12 days".into()),
            ("date", "2026-03-01".into()),
        ])
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("id=\"reading-1-value-error\""));
        assert!(r.body.contains("is not a number of hours"));
        assert!(r.body.contains("value=\"12 days\""));
        // Slowly: on track whatever day the test runs (the trend reaches
        // the target decades from now).
        for (value, date) in [("99 hours", "2026-03-01"), ("98", "2026-06-01")] {
            let r = post(vec![
                ("version", w.version().await),
                ("form", "reading-1".into()),
                ("command", "record_reading".into()),
                ("id", "1".into()),
                ("value", value.into()),
                ("date", date.into()),
                ("note", "=HYPERLINK(\"http://evil.example\")".into()),
            ])
            .await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        }
        let page = send(&app, &c, Method::GET, &format!("{path}/benefits"), &[]).await;
        assert_eq!(page.status, StatusCode::OK);
        let body = &page.body;
        assert!(body.contains("status-on_track\">On track"), "{body}");
        assert!(body.contains("Baseline: <strong>100 hours</strong>"));
        assert!(body.contains("Owner: Person"));
        // The chart: an image with a title and a description, and its data
        // in a table beside it.
        assert!(body.contains(
            "role=\"img\" aria-labelledby=\"benefit-1-chart-title benefit-1-chart-desc\""
        ));
        assert!(body.contains(
            "<title id=\"benefit-1-chart-title\">Benefit 1: Less &lt;b&gt;time&lt;/b&gt; patching desktops</title>"
        ));
        assert!(body.contains("<desc id=\"benefit-1-chart-desc\">From a baseline of 100 hours"));
        assert!(!body.contains("<b>time</b>"));
        assert!(body.contains("<caption>Benefit 1: baseline, readings and target"));
        assert!(body.contains("<td data-label=\"Value\">98 hours</td>"));
        // The same numbers as CSV, formulas made text.
        let csv = send(&app, &c, Method::GET, &format!("{path}/benefits.csv"), &[]).await;
        assert_eq!(csv.status, StatusCode::OK);
        let lines: Vec<&str> = csv.body.lines().collect();
        assert_eq!(
            lines[0],
            "benefit,text,unit,status,kind,date,value,note,recorded_at"
        );
        assert_eq!(lines.len(), 5, "{}", csv.body);
        assert!(lines[1].contains(",baseline,2026-01-01,100,"));
        assert!(lines[3].contains(",reading,2026-06-01,98,\"'=HYPERLINK"));
        // The model's benefits: one step puts a stage's on the register.
        let r = post(vec![
            ("version", w.version().await),
            ("form", "adopt-engagement".into()),
            ("command", "adopt_benefits".into()),
            ("stage", "engagement".into()),
        ])
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let staff = w.store.actor(PersonId(2)).await.unwrap();
        let e = w.store.engagement(&staff, w.engagement).await.unwrap();
        assert!(e.benefits.len() >= 3);
        assert!(e.benefits[1].source.is_some());
        // Every change is in the engagement's chain.
        let history = send(&app, &c, Method::GET, &format!("{path}/history"), &[]).await;
        assert!(
            history
                .body
                .contains("Benefit 1: a reading of 98 on 2026-06-01")
        );
        assert!(history.body.contains("Benefit added from the model"));
    }
}

#[tokio::test]
async fn a_retro_records_lessons_and_the_programme_sees_them_by_step() {
    for store in stores("lessons").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 32]).await;
        let member = w.client(&app, Who::Member).await;
        let path = format!("/engagements/{}/workshops", w.engagement);
        let schedule = |title: &'static str, retro: bool| {
            let mut f = vec![
                ("action", "schedule"),
                ("title", title),
                ("date", "2026-12-01"),
                ("time", "10:00"),
                ("timezone", "Australia/Canberra"),
                ("minutes", "60"),
                ("location", "Canberra"),
                ("agenda", "What went well, what to improve"),
            ];
            if retro {
                f.push(("retro", "on"));
            }
            f
        };
        for (title, retro) in [("Kick-off", false), ("Discovery retro", true)] {
            let version = w.version().await;
            let mut form = vec![
                ("csrf", member.csrf.as_str()),
                ("version", version.as_str()),
            ];
            form.extend(schedule(title, retro));
            let r = send(&app, &member, Method::POST, &path, &form).await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        }
        let lesson = |workshop: &'static str,
                      kind: &'static str,
                      about: &'static str,
                      text: &'static str| {
            vec![
                ("action", "lesson"),
                ("id", workshop),
                ("kind", kind),
                ("about", about),
                ("text", text),
            ]
        };
        let world_ref = &w;
        let post = |form: Vec<(&'static str, &'static str)>, c: Client| {
            let app = app.clone();
            let path = path.clone();
            async move {
                let version = world_ref.version().await;
                let mut all = vec![("csrf", c.csrf.as_str()), ("version", version.as_str())];
                all.extend(form);
                send(&app, &c, Method::POST, &path, &all).await
            }
        };
        // Not a retro: refused beside the form, nothing recorded.
        let r = post(
            lesson("1", "to_improve", "discovery:5", "x"),
            member.clone(),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("is not a retrospective"), "{}", r.body);
        // No kind and nothing chosen: each said, what was typed kept.
        let r = post(lesson("2", "", "", "Typed <b>first</b>"), member.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("href=\"#w2-lesson-kind\""), "{}", r.body);
        let r = post(
            lesson("2", "to_improve", "", "Typed <b>first</b>"),
            member.clone(),
        )
        .await;
        assert!(r.body.contains("href=\"#w2-lesson-about\""), "{}", r.body);
        assert!(r.body.contains("Typed &lt;b&gt;first&lt;&#x2f;b&gt;"));
        let r = post(
            lesson("2", "to_improve", "discovery:99", "x"),
            member.clone(),
        )
        .await;
        assert!(r.body.contains("Discovery has no step 99"), "{}", r.body);
        for (kind, about, text) in [
            (
                "to_improve",
                "discovery:5",
                "Book the security assessor <early>.",
            ),
            ("to_improve", "discovery:5", "The assessment came too late."),
            ("went_well", "engagement", "The sponsor came to everything."),
            (
                "try_next",
                "discovery:2",
                "Share the survey before the workshop.",
            ),
        ] {
            let r = post(lesson("2", kind, about, text), member.clone()).await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
            assert_eq!(r.location, format!("{path}#lessons-2"));
        }
        let page = send(&app, &member, Method::GET, &path, &[]).await.body;
        assert!(page.contains("Book the security assessor &lt;early&gt;."));
        assert!(page.contains("Discovery, step 5:"));
        // The programme's view: by step, the most to improve first.
        let staff = w.client(&app, Who::Staff).await;
        let all = send(&app, &staff, Method::GET, "/lessons", &[]).await;
        assert_eq!(all.status, StatusCode::OK);
        let worst = all
            .body
            .split("Where there is most to improve")
            .nth(1)
            .unwrap_or_else(|| panic!("{}", all.body));
        assert!(worst.trim_start().contains("Discovery, step 5:"), "{worst}");
        assert!(
            all.body
                .contains("0 went well · 2 to improve · 0 to try next")
        );
        assert!(all.body.contains("Bureau of Things"));
        // The agency finds it from its menu too.
        let home = send(&app, &member, Method::GET, "/engagements", &[])
            .await
            .body;
        assert!(
            home.contains("<a href=\"/lessons\""),
            "the agency's menu names Lessons"
        );
        let mine = send(&app, &member, Method::GET, "/lessons", &[]).await.body;
        assert!(mine.contains("Book the security assessor &lt;early&gt;."));
        // Another agency sees none of it, in the page or the API.
        let other = w.client(&app, Who::OtherAgency).await;
        let theirs = send(&app, &other, Method::GET, "/lessons", &[]).await.body;
        assert!(theirs.contains("No lessons recorded yet."));
        assert!(!theirs.contains("assessor"));
        let token = token_for(&w.store, "olly@oth.gov.au").await;
        let (status, body) = api_call(&app, Method::GET, "/api/v1/lessons", &token, "").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["total"], 0);
        let token = token_for(&w.store, "sam@dta.gov.au").await;
        let (_, body) = api_call(&app, Method::GET, "/api/v1/lessons", &token, "").await;
        assert_eq!(body["total"], 4);
        assert_eq!(body["lessons"][0]["stage"], "discovery");
        // Proposed for the guidance by the agency; the programme accepts
        // one as an article draft and declines another, saying why.
        let propose = |lesson: &'static str| {
            vec![
                ("action", "propose"),
                ("id", "2"),
                ("lesson", lesson),
                ("target", "guidance"),
            ]
        };
        for l in ["1", "3"] {
            let r = post(propose(l), member.clone()).await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        }
        let r = post(
            vec![("action", "accept"), ("id", "2"), ("lesson", "1")],
            member.clone(),
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "the agency does not answer"
        );
        let r = post(
            vec![
                ("action", "decline"),
                ("id", "2"),
                ("lesson", "3"),
                ("reason", " "),
            ],
            staff.clone(),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("href=\"#l3-reason\""), "{}", r.body);
        let r = post(
            vec![
                ("action", "decline"),
                ("id", "2"),
                ("lesson", "3"),
                ("reason", "The guide already says so."),
            ],
            staff.clone(),
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let r = post(
            vec![("action", "accept"), ("id", "2"), ("lesson", "1")],
            staff.clone(),
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let articles = w.store.articles().await.unwrap();
        let draft = articles
            .iter()
            .find(|a| a.article.slug == format!("lesson-{}-1", w.engagement))
            .unwrap();
        assert_eq!(draft.status, waymark_core::knowledge::ArticleStatus::Draft);
        assert!(
            draft
                .article
                .title
                .starts_with("Lesson: Book the security assessor")
        );
        assert_eq!(draft.owner, PersonId(2));
        let page = send(&app, &staff, Method::GET, &path, &[]).await.body;
        assert!(
            page.contains(&format!(
                "<a href=\"/articles/{}\">its article draft</a>",
                draft.id
            )),
            "{page}"
        );
        assert!(page.contains("the programme declined it: The guide already says so."));
        let all = send(&app, &staff, Method::GET, "/lessons", &[]).await.body;
        assert!(
            all.contains("proposed for the guidance, accepted as an article draft"),
            "{all}"
        );
        assert!(all.contains("proposed for the guidance, declined"));
        // Answered once.
        let r = post(
            vec![("action", "accept"), ("id", "2"), ("lesson", "1")],
            staff.clone(),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("already answered"), "{}", r.body);
        // The history says it, and the chain has it.
        let history = send(
            &app,
            &staff,
            Method::GET,
            &format!("/engagements/{}/history", w.engagement),
            &[],
        )
        .await
        .body;
        assert!(
            history.contains("Lesson (to improve) about Discovery, step 5"),
            "{history}"
        );
        // Or a lesson is asked in the community, in the category chosen.
        let r = post(propose("2"), member.clone()).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let staff_actor = w.store.actor(PersonId(2)).await.unwrap();
        w.store
            .add_category(
                &staff_actor,
                &waymark_core::community::NewCategory::parse("Ideas", "", "public", false).unwrap(),
            )
            .await
            .unwrap();
        let page = send(&app, &staff, Method::GET, &path, &[]).await.body;
        assert!(
            page.contains("Or ask the community about lesson 2 in"),
            "{page}"
        );
        assert!(
            page.contains("<option value=\"ideas\">Ideas</option>"),
            "{page}"
        );
        let r = post(
            vec![
                ("action", "accept"),
                ("id", "2"),
                ("lesson", "2"),
                ("category", "nowhere"),
            ],
            staff.clone(),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(r.body.contains("no community category"), "{}", r.body);
        let r = post(
            vec![
                ("action", "accept"),
                ("id", "2"),
                ("lesson", "2"),
                ("category", "ideas"),
            ],
            staff.clone(),
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let page = send(&app, &member, Method::GET, &path, &[]).await.body;
        let at = page.find(">asked in the community</a>").expect(&page);
        let href = &page[page[..at].rfind("href=\"").unwrap() + 6..at - 1];
        let thread = send(&app, &member, Method::GET, href, &[]).await;
        assert_eq!(thread.status, StatusCode::OK, "{href}");
        assert!(thread.body.contains("Lesson: "), "{}", thread.body);
        let all = send(&app, &staff, Method::GET, "/lessons", &[]).await.body;
        assert!(all.contains("accepted and asked in the community"), "{all}");
    }
}

/// The survey's invitation tokens in the outbox, by recipient, before the
/// sender takes them out.
async fn survey_tokens(store: &Store) -> Vec<(String, String)> {
    use sqlx::Row;
    sqlx::query("SELECT recipient, body FROM outbox WHERE kind = 'survey_invitation' ORDER BY id")
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let body: String = r.get(1);
            let token = body.split("/answer/").nth(1).unwrap();
            let token = token.split_whitespace().next().unwrap().to_string();
            (r.get::<String, _>(0), token)
        })
        .collect()
}

#[tokio::test]
async fn the_programme_builds_and_sends_a_survey_and_people_answer_it_once() {
    for store in stores("surveys").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 32]).await;
        let staff = w.client(&app, Who::Staff).await;
        let today = waymark_core::today(waymark_store::now());
        let (opens, closes) = waymark_core::survey::default_dates(&today);
        // The list offers a start to the programme, with every field's
        // problem said beside it.
        let list = send(&app, &staff, Method::GET, "/surveys", &[]).await;
        assert!(list.body.contains("Start a survey"), "{}", list.body);
        assert!(
            list.body
                .contains("<a href=\"/surveys\" aria-current=\"page\">Surveys</a>")
        );
        let bad = send(
            &app,
            &staff,
            Method::POST,
            "/surveys",
            &[
                ("csrf", &staff.csrf),
                ("start", "template"),
                ("audience", "engagement"),
                ("engagement", "twelve"),
                ("opens_on", &opens),
                ("closes_on", "2001-01-01"),
            ],
        )
        .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.body.contains("href=\"#engagement\""), "{}", bad.body);
        assert!(bad.body.contains("href=\"#closes_on\""), "{}", bad.body);
        assert!(
            bad.body.contains("Closes on: closes before it opens"),
            "{}",
            bad.body
        );
        let engagement = w.engagement.0.to_string();
        let made = send(
            &app,
            &staff,
            Method::POST,
            "/surveys",
            &[
                ("csrf", &staff.csrf),
                ("start", "template"),
                ("audience", "engagement"),
                ("engagement", &engagement),
                ("opens_on", &opens),
                ("closes_on", &closes),
            ],
        )
        .await;
        assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
        let path = made.location.clone();
        let page = send(&app, &staff, Method::GET, &path, &[]).await;
        assert!(page.body.contains("Protected Utility survey"));
        assert!(page.body.contains("6. What one change"), "{}", page.body);
        // A question with one choice is refused beside the form that adds
        // it, and what was typed stays.
        let add = |kind: &'static str, text: &'static str, choices: &'static str| {
            let app = app.clone();
            let staff = staff.clone();
            let path = path.clone();
            async move {
                let page = send(&app, &staff, Method::GET, &path, &[]).await;
                // Once sent, the page has no builder: a stale page's
                // version, then.
                let version = page
                    .body
                    .split("name=\"version\" value=\"")
                    .nth(1)
                    .map_or("3", |v| v.split('"').next().unwrap())
                    .to_string();
                send(
                    &app,
                    &staff,
                    Method::POST,
                    &path,
                    &[
                        ("csrf", &staff.csrf),
                        ("version", &version),
                        ("action", "add"),
                        ("kind", kind),
                        ("text", text),
                        ("choices", choices),
                        ("required", "yes"),
                    ],
                )
                .await
            }
        };
        let r = add("single", "Which <b>office</b>?", "Canberra").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("href=\"#text\""), "{}", r.body);
        assert!(r.body.contains("at least two choices"), "{}", r.body);
        assert!(
            r.body.contains("Which &lt;b&gt;office&lt;&#x2f;b&gt;?"),
            "{}",
            r.body
        );
        let r = add("single", "Which <b>office</b>?", "Canberra\nSydney").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(r.body.contains("7. Which &lt;b&gt;office"), "{}", r.body);
        // Sending invites the engagement's people, never the programme.
        let sent = send(
            &app,
            &staff,
            Method::POST,
            &path,
            &[("csrf", &staff.csrf), ("action", "send")],
        )
        .await;
        assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
        assert!(sent.body.contains("Sent: 3 invitations"), "{}", sent.body);
        let tokens = survey_tokens(&w.store).await;
        let mut to: Vec<&str> = tokens.iter().map(|t| t.0.as_str()).collect();
        to.sort_unstable();
        assert_eq!(
            to,
            ["eve@bot.gov.au", "mia@bot.gov.au", "pat@vendor.com.au"]
        );
        // Questions no longer change.
        let r = add("text", "Too late?", "").await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
        assert!(r.body.contains("stay as they were asked"));
        // The invitation's link opens the form, signed out.
        let out = Client::default();
        let link = format!("/answer/{}", tokens[0].1);
        let form = send(&app, &out, Method::GET, &link, &[]).await;
        assert_eq!(form.status, StatusCode::OK);
        assert!(
            form.body.contains("This survey is anonymous"),
            "{}",
            form.body
        );
        assert!(form.body.contains("name=\"q1\" value=\"10\""));
        // Required questions left empty and 100 KB of text: every problem
        // named by its question, nothing kept.
        let huge = "y".repeat(100_000);
        let r = send(
            &app,
            &out,
            Method::POST,
            &link,
            &[("q2", "4"), ("q6", &huge), ("q5", "0"), ("q5", "9")],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        for msg in [
            "Question 1: answer this question: it is required",
            "Question 4: answer this question",
            "Question 5: choose from the choices listed",
            "Question 6: is too long: at most 5000 characters, and this has 100000",
            "Question 7: answer this question",
        ] {
            assert!(r.body.contains(msg), "{msg}: {}", r.body);
        }
        assert!(r.body.contains("href=\"#q1-0\""));
        // What was chosen stays chosen.
        assert!(
            r.body
                .contains("id=\"q2-3\" name=\"q2\" value=\"4\" checked"),
            "{}",
            r.body
        );
        let hostile = "=HYPERLINK(\"http://x\")\r\n<script>alert(1)</script>";
        let answer: Vec<(&str, &str)> = vec![
            ("q1", "9"),
            ("q2", "4"),
            ("q4", "1"),
            ("q5", "0"),
            ("q5", "2"),
            ("q6", hostile),
            ("q7", "1"),
        ];
        let r = send(&app, &out, Method::POST, &link, &answer).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(r.body.contains("Thank you: your answers are saved"));
        assert!(
            r.body.contains("without your name or the time"),
            "{}",
            r.body
        );
        let again = send(&app, &out, Method::POST, &link, &answer).await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        assert!(
            again.body.contains("already been answered"),
            "{}",
            again.body
        );
        // A second person answers.
        let second = format!("/answer/{}", tokens[1].1);
        let r = send(
            &app,
            &out,
            Method::POST,
            &second,
            &[("q1", "3"), ("q2", "5"), ("q4", "0"), ("q7", "0")],
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        // Two anonymous answers are not shown, to anyone: each respondent
        // could tell the other's from their own.
        let member = w.client(&app, Who::Member).await;
        let results_path = format!("{path}/results");
        for c in [&staff, &member] {
            let r = send(&app, c, Method::GET, &results_path, &[]).await;
            assert!(
                r.body.contains("at least 3 people have answered"),
                "{}",
                r.body
            );
            assert!(!r.body.contains("role=\"img\""), "{}", r.body);
            let csv = send(&app, c, Method::GET, &format!("{results_path}.csv"), &[]).await;
            assert_eq!(csv.status, StatusCode::CONFLICT);
        }
        // A third answers: the programme sees them at once; the agency once
        // the survey has closed, so it cannot match an answer to its time.
        let third = format!("/answer/{}", tokens[2].1);
        let r = send(
            &app,
            &out,
            Method::POST,
            &third,
            &[
                ("q1", "10"),
                ("q2", "4"),
                ("q4", "5"),
                ("q7", "1"),
                ("q6", "(a) More training"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let r = send(&app, &staff, Method::GET, &results_path, &[]).await;
        assert!(r.body.contains("role=\"img\""), "{}", r.body);
        let r = send(&app, &member, Method::GET, &results_path, &[]).await;
        assert!(r.body.contains("once the survey closes"), "{}", r.body);
        let r = send(
            &app,
            &staff,
            Method::POST,
            &path,
            &[("csrf", &staff.csrf), ("action", "close")],
        )
        .await;
        assert!(
            r.body.contains("Closed: it takes no more answers."),
            "{}",
            r.body
        );
        // The agency's member reads the results: each chart says what it
        // shows and has its table; hostile text is only text; free text is
        // in no particular order.
        let results = send(&app, &member, Method::GET, &results_path, &[]).await;
        assert_eq!(results.status, StatusCode::OK, "{}", results.body);
        let body = &results.body;
        assert!(
            body.contains("3 answers from 3 of 3 people invited"),
            "{body}"
        );
        // 9 and 10 promote, 3 detracts: (2 - 1) / 3.
        assert!(body.contains("Net Promoter Score 33"), "{body}");
        assert!(body.contains("Mean rating 4.3 out of 5"), "{body}");
        let later = body.find("<li>(a) More training</li>").unwrap();
        let earlier = body.find("<li>=HYPERLINK").unwrap();
        assert!(later < earlier, "free text keeps its arrival order: {body}");
        assert!(
            body.contains("role=\"img\" aria-labelledby=\"s1-q1-title s1-q1-desc\""),
            "{body}"
        );
        assert!(
            body.contains("<desc id=\"s1-q2-desc\">3 answered, 0 left it empty."),
            "{body}"
        );
        assert!(body.contains("<caption>Question 2: how many chose each answer</caption>"));
        assert!(!body.contains("<script>alert"), "{body}");
        assert!(
            body.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
            "{body}"
        );
        let csv = send(
            &app,
            &member,
            Method::GET,
            &format!("{results_path}.csv"),
            &[],
        )
        .await;
        assert_eq!(csv.status, StatusCode::OK);
        assert!(
            csv.body.starts_with("question,text,answer,count\n"),
            "{}",
            csv.body
        );
        assert!(
            csv.body
                .contains("\"'=HYPERLINK(\"\"http://x\"\")\n<script>alert(1)</script>\",1"),
            "{}",
            csv.body
        );
        assert!(
            csv.body
                .contains("1,How likely are you to recommend the blueprint to another agency?,9,1")
        );
        // Another agency finds nothing; the list shows the member theirs.
        let other = w.client(&app, Who::OtherAgency).await;
        for p in [&results_path, &format!("{results_path}.csv"), &path] {
            assert_eq!(
                send(&app, &other, Method::GET, p, &[]).await.status,
                StatusCode::NOT_FOUND,
                "{p}"
            );
        }
        let mine = send(&app, &member, Method::GET, "/surveys", &[]).await;
        assert!(
            mine.body.contains(&format!("href=\"{results_path}\"")),
            "{}",
            mine.body
        );
        assert!(!mine.body.contains("Start a survey"));
        // The member opening the survey's own page is taken to its results.
        let r = send(&app, &member, Method::GET, &path, &[]).await;
        assert_eq!(
            (r.status, r.location.as_str()),
            (StatusCode::SEE_OTHER, results_path.as_str())
        );
    }
}

#[tokio::test]
async fn a_public_link_takes_one_answer_per_browser() {
    for store in stores("surveys-public").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 33]).await;
        let staff = w.client(&app, Who::Staff).await;
        let today = waymark_core::today(waymark_store::now());
        let (opens, closes) = waymark_core::survey::default_dates(&today);
        let made = send(
            &app,
            &staff,
            Method::POST,
            "/surveys",
            &[
                ("csrf", &staff.csrf),
                ("start", "blank"),
                ("title", "Training day"),
                ("audience", "public"),
                ("opens_on", &opens),
                ("closes_on", &closes),
            ],
        )
        .await;
        assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
        let path = made.location.clone();
        // A blank survey cannot be sent before it asks something.
        let r = send(
            &app,
            &staff,
            Method::POST,
            &path,
            &[("csrf", &staff.csrf), ("action", "send")],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(r.body.contains("add at least one question"), "{}", r.body);
        let page = send(&app, &staff, Method::GET, &path, &[]).await;
        let version = page
            .body
            .split("name=\"version\" value=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string();
        let r = send(
            &app,
            &staff,
            Method::POST,
            &path,
            &[
                ("csrf", &staff.csrf),
                ("version", &version),
                ("action", "add"),
                ("kind", "nps"),
                ("text", "Would you recommend the day?"),
                ("required", "yes"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let r = send(
            &app,
            &staff,
            Method::POST,
            &path,
            &[("csrf", &staff.csrf), ("action", "send")],
        )
        .await;
        assert!(r.body.contains("The public link is open"), "{}", r.body);
        let staff_actor = w.store.actor(PersonId(2)).await.unwrap();
        let key = w
            .store
            .survey(&staff_actor, 1, waymark_store::now())
            .await
            .unwrap()
            .public_key
            .unwrap();
        assert!(
            r.body.contains(&format!("answer&#x2f;link&#x2f;{key}")),
            "{}",
            r.body
        );
        let link = format!("/answer/link/{key}");
        let browser = Client::default();
        let form = send(&app, &browser, Method::GET, &link, &[]).await;
        assert_eq!(form.status, StatusCode::OK);
        let r = send(&app, &browser, Method::POST, &link, &[("q1", "11")]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("Question 1: choose a number from 0 to 10"));
        assert!(r.set_cookie.is_none());
        let r = send(&app, &browser, Method::POST, &link, &[("q1", "10")]).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let cookie = r.set_cookie.clone().unwrap();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );
        let answered = Client {
            cookie: cookie_of(&r),
            csrf: String::new(),
        };
        let again = send(&app, &answered, Method::POST, &link, &[("q1", "0")]).await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        assert!(
            again
                .body
                .contains("already answered this survey in this browser")
        );
        // A page that says so before anything is typed.
        let form = send(&app, &answered, Method::GET, &link, &[]).await;
        assert!(
            form.body.contains("already has your answer"),
            "{}",
            form.body
        );
        // A closed survey says when it closed.
        let r = send(
            &app,
            &staff,
            Method::POST,
            &path,
            &[("csrf", &staff.csrf), ("action", "close")],
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let r = send(
            &app,
            &Client::default(),
            Method::POST,
            &link,
            &[("q1", "5")],
        )
        .await;
        assert_eq!(r.status, StatusCode::CONFLICT);
        assert!(r.body.contains("takes no more answers"), "{}", r.body);
        let (row, results) = w
            .store
            .survey_results(
                &w.store.actor(PersonId(2)).await.unwrap(),
                1,
                None,
                waymark_store::now(),
            )
            .await
            .unwrap();
        // One anonymous answer: counted, not shown.
        assert_eq!((row.responses, results.withheld.is_some()), (1, true));
    }
}

/// A named survey's form, sent back with a problem, still says whose
/// answers they will be.
#[tokio::test]
async fn a_named_survey_says_whose_answers_they_are_after_an_error() {
    for store in stores("surveys-named").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 34]).await;
        let staff = w.store.actor(PersonId(2)).await.unwrap();
        let t = waymark_store::now();
        let (opens, closes) = waymark_core::survey::default_dates(&waymark_core::today(t));
        let mut d = waymark_core::survey::template(&opens, &closes).unwrap();
        d.anonymous = false;
        let id = w
            .store
            .create_survey(&staff, &d, waymark_core::survey::Audience::Public, t)
            .await
            .unwrap();
        w.store
            .send_survey(&staff, id, &|_, _, _| waymark_store::Mail::default(), t)
            .await
            .unwrap();
        let key = w
            .store
            .survey(&staff, id, t)
            .await
            .unwrap()
            .public_key
            .unwrap();
        let link = format!("/answer/link/{key}");
        let r = send(
            &app,
            &Client::default(),
            Method::POST,
            &link,
            &[("q1", "99")],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            r.body
                .contains("kept as given by no one: you are not signed in"),
            "{}",
            r.body
        );
        let member = w.client(&app, Who::Member).await;
        let r = send(&app, &member, Method::POST, &link, &[("q1", "99")]).await;
        assert!(r.body.contains("kept as given by Person"), "{}", r.body);
    }
}
