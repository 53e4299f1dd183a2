//! The second factor in the workspace: setting up an authenticator app (a
//! QR code drawn here as SVG, or the key typed by hand), adding and
//! removing passkeys, recovery codes shown once, the code or passkey asked
//! for after a correct password, new recovery codes, turning the app off,
//! and an admin's reset for someone who lost their device.
//!
//! Every form that needs a proof of the factor (signing in, new recovery
//! codes, turning the app off, removing a passkey) takes a typed code or a
//! passkey's signature, whichever the person has to hand. A passkey needs
//! the browser's WebAuthn, so the pages that offer one load the one
//! first-party script (`/passkey.js`); without it, the codes still work.
//!
//! The rules are `waymark_core::factor`'s. Codes are RFC 6238's (HMAC-SHA-1,
//! six digits, 30-second steps, what every authenticator app reads),
//! computed by totp-rs; one step either side is accepted for clock drift,
//! and a code's step must be later than the last one accepted, so a code
//! works once. Each code is counted before it is checked, per person
//! (`factor:<id>`, and apart `recovery:<id>`), and wrong ones per address
//! too, like wrong passwords; a session that gave a code is marked.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use totp_rs::{Algorithm, TOTP};
use tower_sessions::Session;
use waymark_core::factor::{
    DIGITS, OneTimeCode, PENDING_SECS, RECOVERY_CODES, RECOVERY_LEN, RECOVERY_LIMIT, STEP_SECS,
};
use waymark_core::{PersonId, Timestamp};
use waymark_store::now;

use super::auth::{
    ADDRESS_LIMIT, ClientIp, FACTOR, PAIR_LIMIT, SignedIn, UserView, WINDOW_SECS, constant_eq,
    encode, safe_next, throttle,
};
use super::{AppState, FieldError, PageError, form_error, view_page};

/// The session key of a correct password still waiting for its code:
/// the person and when the password was right.
pub(super) const PENDING: &str = "pending";
/// The session key of a key being set up (base32), so that a page
/// reloaded shows the same QR code the app already scanned.
const SETTING_UP: &str = "factor_setup";
/// Bytes in an authenticator key: 160 bits, RFC 4226's recommendation.
const KEY_BYTES: usize = 20;
/// The name authenticator apps show beside the account.
const ISSUER: &str = "Waymark";
/// The session key of a passkey signature asked for by the page last
/// shown (the server's half of the ceremony), taken out when answered.
const PASSKEY_GET: &str = "passkey_get";
/// The session key of a passkey being added, likewise.
const PASSKEY_CREATE: &str = "passkey_create";
/// The session key of when this session last proved the second factor.
const FACTOR_AT: &str = "factor_at";

fn totp(secret: &[u8], account: &str) -> Result<TOTP, PageError> {
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        0,
        STEP_SECS as u64,
        secret.to_vec(),
        Some(ISSUER.to_string()),
        // A colon separates issuer from account in the otpauth label.
        account.replace(':', " "),
    )
    .map_err(|e| PageError::Internal(format!("cannot use the authenticator key: {e}")))
}

/// The 30-second step `code` belongs to, if it is the code of the step
/// before `at`'s, its own or the next (clocks drift).
fn step_of(secret: &[u8], code: &str, at: Timestamp) -> Result<Option<i64>, PageError> {
    let totp = totp(secret, "-")?;
    let now = at.0.div_euclid(STEP_SECS);
    Ok((now - 1..=now + 1).find(|step| {
        let t = u64::try_from(step * STEP_SECS).unwrap_or(0);
        constant_eq(totp.generate(t).as_bytes(), code.as_bytes())
    }))
}

/// Ten new recovery codes, from the operating system's randomness.
fn new_recovery_codes() -> Result<Vec<String>, PageError> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let bytes = waymark_store::random_bytes::<RECOVERY_LEN>()?;
            Ok(waymark_core::factor::recovery_code(&bytes))
        })
        .collect()
}

/// Tells `person` by mail of a change to how they sign in. The change is
/// made already: a mail that cannot be queued is logged, not an error.
pub(crate) async fn tell(
    store: &waymark_store::Store,
    base: &str,
    to: &str,
    name: &str,
    what: &str,
) {
    let settings = format!("{}/settings", base.trim_end_matches('/'));
    let mail = crate::mail::security_notice(to, name, what, &settings);
    if let Err(e) = store.queue_mail(&[mail], now()).await {
        tracing::warn!("cannot queue the notice of a sign-in change: {e}");
    }
}

/// Tells the person with id `person` (when they exist).
pub(crate) async fn tell_person(
    store: &waymark_store::Store,
    base: &str,
    person: PersonId,
    what: &str,
) {
    match store.person(person).await {
        Ok(Some(p)) => tell(store, base, p.email.as_str(), &p.name, what).await,
        Ok(None) => {}
        Err(e) => tracing::warn!("cannot tell person {}: {e}", person.0),
    }
}

/// What a person proved with a code or a passkey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proof {
    Authenticator,
    Recovery,
    Passkey,
}

/// What a form brings to prove the factor: a typed code, or a passkey's
/// signature (the browser's JSON), whichever was used.
#[derive(Debug, Clone, Copy)]
struct Offered<'a> {
    code: &'a str,
    passkey: &'a str,
}

/// Ceremonies one session keeps per kind: the person may have a few of
/// its pages open (a reload, a second tab), each with its own.
const KEPT_CEREMONIES: usize = 4;

/// The ceremonies a session keeps of one kind. What cannot be read (a
/// session from before they were kept as a list, say) counts as none.
async fn kept(session: &Session, key: &str) -> Vec<String> {
    session
        .get::<Vec<String>>(key)
        .await
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Keeps a ceremony just started in the session, after the newest few.
async fn keep(session: &Session, key: &str, state: String) -> Result<(), PageError> {
    let fail = |e: tower_sessions::session::Error| PageError::Internal(e.to_string());
    let mut kept = kept(session, key).await;
    kept.push(state);
    let over = kept.len().saturating_sub(KEPT_CEREMONIES);
    kept.drain(..over);
    session.insert(key, kept).await.map_err(fail)
}

/// Finds the ceremony of this session that `answer` belongs to and takes
/// it out: out of the session, and marked answered in the store in one
/// statement, so that two answers racing from one session (or from two
/// instances) count once. `Err(refusal)` when there is none, or it was
/// answered already.
async fn take(
    s: &AppState,
    session: &Session,
    rp: &crate::passkey::RelyingParty,
    kind: crate::passkey::Ceremony,
    answer: &str,
) -> Result<Result<String, crate::passkey::Refusal>, PageError> {
    let key = match kind {
        crate::passkey::Ceremony::Create => PASSKEY_CREATE,
        crate::passkey::Ceremony::Get => PASSKEY_GET,
    };
    let fail = |e: tower_sessions::session::Error| PageError::Internal(e.to_string());
    let mut kept = kept(session, key).await;
    let at = match rp.which(kind, &kept, answer) {
        Ok(at) => at,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let state = kept.remove(at);
    session.insert(key, kept).await.map_err(fail)?;
    if !s.store.spend_ceremony(&state, now()).await? {
        return Ok(Err(crate::passkey::Refusal::Expired));
    }
    Ok(Ok(state))
}

/// Starts asking for a signature from one of `passkeys` (a person's), for
/// the page about to be shown: the options the page gives the browser, or
/// `None` when they have none (or the service's address cannot have
/// passkeys).
async fn ask_passkey(
    s: &AppState,
    session: &Session,
    passkeys: &[waymark_store::Passkey],
) -> Result<Option<String>, PageError> {
    let Some(rp) = crate::passkey::RelyingParty::for_public_url(&s.public_url) else {
        return Ok(None);
    };
    if passkeys.is_empty() {
        return Ok(None);
    }
    let started = rp.start_assertion(passkeys).map_err(PageError::Internal)?;
    keep(session, PASSKEY_GET, started.state).await?;
    Ok(Some(started.options))
}

/// Checks a passkey's signature against a ceremony this session's pages
/// started and `person`'s passkeys: `Err(message)` when it does not check
/// out, was answered already or came too late.
async fn prove_passkey(
    s: &AppState,
    session: &Session,
    person: PersonId,
    answer: &str,
    t: Timestamp,
) -> Result<Result<Proof, String>, PageError> {
    let again = " Use your passkey again, or type a code instead.";
    let Some(rp) = crate::passkey::RelyingParty::for_public_url(&s.public_url) else {
        return Ok(Err(
            "Passkeys cannot be used at this address. Type a code instead.".into(),
        ));
    };
    let state = match take(s, session, &rp, crate::passkey::Ceremony::Get, answer).await? {
        Ok(state) => state,
        Err(refusal) => return Ok(Err(format!("{refusal}{again}"))),
    };
    let passkeys = s.store.passkeys_of(person).await?;
    match rp.finish_assertion(&state, answer, &passkeys) {
        Ok(used) => {
            if s.store
                .passkey_used(person, used.id, &used.before, &used.after, t)
                .await?
            {
                Ok(Ok(Proof::Passkey))
            } else {
                Ok(Err(format!(
                    "That passkey was used for another sign-in at the same moment.{again}"
                )))
            }
        }
        Err(refusal) => Ok(Err(format!("{refusal}{again}"))),
    }
}

/// Marks the session as having proved the second factor now: adding
/// another factor soon after needs no further proof
/// (`waymark_core::factor::needs_fresh_proof`).
async fn proved_now(session: &Session) -> Result<(), PageError> {
    session
        .insert(FACTOR_AT, now().0)
        .await
        .map_err(|e| PageError::Internal(e.to_string()))
}

/// Whether this session must prove the factor again before adding one.
async fn needs_fresh_proof(
    s: &AppState,
    session: &Session,
    person: PersonId,
) -> Result<bool, PageError> {
    let at: Option<i64> = session.get(FACTOR_AT).await.ok().flatten();
    Ok(waymark_core::factor::needs_fresh_proof(
        s.store.has_second_factor(person).await?,
        at,
        now().0,
    ))
}

/// Checks what `person` offered against their second factor, within the
/// sign-in limits: `Ok(Err(message))` for a code that is not right (or
/// not a code) or a signature that does not check out, counted as a
/// failure when it was a real guess.
async fn prove(
    s: &AppState,
    addr: std::net::IpAddr,
    session: &Session,
    person: PersonId,
    offered: Offered<'_>,
) -> Result<Result<Proof, String>, PageError> {
    let t = now();
    let address = format!("address:{}", crate::ops::limit_key(addr));
    throttle(
        s,
        &[(&address, ADDRESS_LIMIT)],
        t,
        "second_factor",
        Some(addr),
    )
    .await?;
    if !offered.passkey.trim().is_empty() {
        // A forged signature is no guess, so it is not counted against the
        // person (whoever knows the password would lock the owner's real
        // passkey out). It is counted for the address before it is checked,
        // in one step with the count, so answers sent all at once are
        // judged one after another and no more than the limit get through.
        let key = format!("passkey:{}", crate::ops::limit_key(addr));
        let since = Timestamp(t.0 - WINDOW_SECS);
        if let Some(wait) = s
            .store
            .reserve_attempt(&key, ADDRESS_LIMIT, since, t)
            .await?
        {
            crate::ops::METRICS.rate_limited("second_factor");
            tracing::warn!(client = %addr, person = person.0, wait, "passkey refused: too many answers from one address");
            return Err(PageError::TooMany(wait as u64));
        }
        let proof = prove_passkey(s, session, person, offered.passkey, t).await?;
        if proof.is_ok() {
            s.store.clear_sign_in_failures(&key, since).await?;
        } else {
            crate::ops::METRICS.sign_in_failed("second_factor");
            tracing::warn!(client = %addr, person = person.0, "second factor refused: a passkey's signature");
            s.store.record_sign_in_failure(&address, t).await?;
        }
        return Ok(proof);
    }
    let raw = offered.code;
    // Read once: whether they have an app, and its key to check a code.
    let factor = s.store.second_factor(person).await?;
    let parsed = OneTimeCode::parse(raw);
    if factor.is_none() && !matches!(parsed, Ok(OneTimeCode::Recovery(_))) {
        // No app: the codes they have are recovery codes.
        let usable = crate::passkey::RelyingParty::for_public_url(&s.public_url).is_some()
            && !s.store.passkeys_of(person).await?.is_empty();
        return Ok(Err(if usable {
            "You have no authenticator app: use your passkey, or type one of your recovery codes"
        } else {
            "Type one of your recovery codes: each is ten letters and digits, such as abcde-fghij"
        }
        .into()));
    }
    let code = match parsed {
        Ok(c) => c,
        Err(waymark_core::DomainError::Invalid { message, .. }) => {
            return Ok(Err(super::capitalised(&message)));
        }
        Err(e) => return Err(e.into()),
    };
    // Each kind of code has its own count, so guessing at one does not
    // lock the other: a person locked out of their app's codes still signs
    // in with a recovery code (fifty bits each; a few tries do not matter).
    let (key, limit) = match &code {
        OneTimeCode::Authenticator(_) => (format!("factor:{}", person.0), PAIR_LIMIT),
        OneTimeCode::Recovery(_) => (format!("recovery:{}", person.0), RECOVERY_LIMIT),
    };
    // Counted before it is checked, in one step with the count: codes sent
    // all at once are judged one after another, never more than the limit.
    let since = Timestamp(t.0 - WINDOW_SECS);
    if let Some(wait) = s.store.reserve_attempt(&key, limit, since, t).await? {
        crate::ops::METRICS.rate_limited("second_factor");
        tracing::warn!(client = %addr, person = person.0, wait, "second factor refused: too many wrong codes");
        return Err(PageError::TooMany(wait as u64));
    }
    let proof = match &code {
        OneTimeCode::Authenticator(c) => match &factor {
            Some(f) => match step_of(&f.secret, c, t)? {
                Some(step) if s.store.accept_step(person, step).await? => {
                    Some(Proof::Authenticator)
                }
                _ => None,
            },
            None => None,
        },
        // Recovery codes are the person's whichever kind of factor they
        // have (the store drops them with the last one).
        OneTimeCode::Recovery(c) => s
            .store
            .use_recovery_code(person, c, t)
            .await?
            .then_some(Proof::Recovery),
    };
    match proof {
        Some(p) => {
            s.store.clear_sign_in_failures(&key, since).await?;
            Ok(Ok(p))
        }
        None => {
            // The attempt stays counted under the person's key.
            crate::ops::METRICS.sign_in_failed("second_factor");
            tracing::warn!(client = %addr, person = person.0, "second factor refused: wrong code");
            s.store.record_sign_in_failure(&address, t).await?;
            Ok(Err(match code {
                OneTimeCode::Authenticator(_) => "That code is not right, or it was used already. Codes change every 30 seconds: type the one your app shows now.".into(),
                OneTimeCode::Recovery(_) => "That recovery code is not right, or it was used already. Each one works once.".into(),
            }))
        }
    }
}

/// Marks a correct password as waiting for its code (a new session id,
/// so one planted before is worthless).
pub(super) async fn wait_for_code(session: &Session, person: PersonId) -> Result<(), PageError> {
    let fail = |e: tower_sessions::session::Error| PageError::Internal(e.to_string());
    session.cycle_id().await.map_err(fail)?;
    session
        .insert(PENDING, (person.0, now().0))
        .await
        .map_err(fail)?;
    Ok(())
}

/// The person whose password was right a short while ago, if any.
async fn pending(session: &Session) -> Option<PersonId> {
    let (person, at): (i64, i64) = session.get(PENDING).await.ok().flatten()?;
    (now().0 - at <= PENDING_SECS).then_some(PersonId(person))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CodeQuery {
    next: String,
}

/// What `login-code.html` reads.
#[derive(serde::Serialize)]
struct CodePage<'a> {
    title: &'static str,
    next: &'a str,
    /// Whether they have an authenticator app.
    app: bool,
    /// The options for asking their passkeys, when they have any.
    passkey: Option<String>,
    /// Whether they have passkeys (which this address may not let them use).
    has_passkeys: bool,
    errors: Vec<FieldError>,
}

async fn code_page(
    s: &AppState,
    session: &Session,
    person: PersonId,
    status: StatusCode,
    next: &str,
    errors: Vec<FieldError>,
) -> Result<Response, PageError> {
    let passkeys = s.store.passkeys_of(person).await?;
    let passkey = ask_passkey(s, session, &passkeys).await?;
    let view = CodePage {
        title: if passkey.is_some() {
            "Confirm it is you"
        } else {
            "Enter your code"
        },
        next,
        app: s.store.second_factor(person).await?.is_some(),
        passkey,
        has_passkeys: !passkeys.is_empty(),
        errors,
    };
    let page = view_page(s, status, "login-code.html", &view)?;
    Ok(if view.passkey.is_some() {
        with_own_script(page)
    } else {
        page
    })
}

/// Lets a page load `/passkey.js` (its policy otherwise allows no script).
pub(super) fn with_own_script(mut page: Response) -> Response {
    page.extensions_mut().insert(super::OwnScript);
    page
}

/// After a correct password: the code.
pub async fn code_form(
    State(s): State<Arc<AppState>>,
    session: Session,
    Query(q): Query<CodeQuery>,
) -> Result<Response, PageError> {
    let Some(person) = pending(&session).await else {
        return Ok(
            Redirect::to(&format!("/login?next={}", encode(safe_next(Some(&q.next)))))
                .into_response(),
        );
    };
    code_page(&s, &session, person, StatusCode::OK, &q.next, Vec::new()).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CodeForm {
    code: String,
    /// A passkey's signature (the browser's JSON), when one was used.
    passkey: String,
    next: String,
}

pub async fn code(
    State(s): State<Arc<AppState>>,
    ClientIp(addr): ClientIp,
    session: Session,
    Form(f): Form<CodeForm>,
) -> Result<Response, PageError> {
    let Some(person) = pending(&session).await else {
        // Too slow, or no password first: start again.
        return Ok(
            Redirect::to(&format!("/login?next={}", encode(safe_next(Some(&f.next)))))
                .into_response(),
        );
    };
    let offered = Offered {
        code: &f.code,
        passkey: &f.passkey,
    };
    match prove(&s, addr, &session, person, offered).await? {
        Ok(proof) => {
            super::auth::proven(&s, &session, person).await?;
            session
                .insert(FACTOR, true)
                .await
                .map_err(|e| PageError::Internal(e.to_string()))?;
            proved_now(&session).await?;
            Ok(Redirect::to(match proof {
                // So they see how many are left, and can make new ones.
                Proof::Recovery => "/settings/second-factor?saved=recovery",
                Proof::Authenticator | Proof::Passkey => safe_next(Some(&f.next)),
            })
            .into_response())
        }
        Err(message) => {
            code_page(
                &s,
                &session,
                person,
                StatusCode::UNPROCESSABLE_ENTITY,
                &f.next,
                vec![form_error("code", message)],
            )
            .await
        }
    }
}

/// An authenticator app that is on, as its page shows it.
#[derive(serde::Serialize)]
struct On {
    enrolled_at: i64,
}

/// A key being set up: its QR code and the key to type by hand.
#[derive(serde::Serialize)]
struct Setup {
    /// The QR code, an SVG as a data URL.
    qr: String,
    /// The key in base32, in groups of four.
    key: String,
    /// The otpauth URL, for an app on the same phone.
    url: String,
}

/// What `second-factor.html` reads.
#[derive(serde::Serialize)]
struct FactorPage {
    title: &'static str,
    user: UserView,
    /// Whether this person must have one (programme admins).
    required: bool,
    /// Their authenticator app, when it is on.
    on: Option<On>,
    setup: Option<Setup>,
    passkeys: Vec<waymark_store::PasskeyInfo>,
    /// Whether passkeys work at this service's address (a domain name).
    passkeys_possible: bool,
    /// Options for adding a passkey, while they may add one.
    passkey_create: Option<String>,
    /// Options for proving a change with one of their passkeys.
    passkey_get: Option<String>,
    /// Unused recovery codes, when they have any factor.
    recovery_left: Option<i64>,
    /// Whether adding a factor waits for a fresh proof of the one they have.
    confirm_first: bool,
    /// The passkey name typed, shown again beside an error.
    typed_name: String,
    /// Recovery codes just made: shown this once.
    new_codes: Vec<String>,
    saved: Option<&'static str>,
    errors: Vec<FieldError>,
}

/// Draws the otpauth URL of a key as a QR code: an SVG, on the server.
fn qr_data_url(url: &str) -> Result<String, PageError> {
    use base64::Engine;
    let code = qrcode::QrCode::new(url.as_bytes())
        .map_err(|e| PageError::Internal(format!("cannot draw the QR code: {e}")))?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    Ok(format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    ))
}

/// The key being set up in this session, made if there is none.
async fn key_in_setup(session: &Session) -> Result<Vec<u8>, PageError> {
    let fail = |e: tower_sessions::session::Error| PageError::Internal(e.to_string());
    if let Some(key) = session.get::<String>(SETTING_UP).await.map_err(fail)?
        && let Ok(bytes) = totp_rs::Secret::Encoded(key).to_bytes()
        && bytes.len() == KEY_BYTES
    {
        return Ok(bytes);
    }
    let bytes = waymark_store::random_bytes::<KEY_BYTES>()?.to_vec();
    let encoded = totp_rs::Secret::Raw(bytes.clone()).to_encoded().to_string();
    session.insert(SETTING_UP, encoded).await.map_err(fail)?;
    Ok(bytes)
}

async fn factor_page(
    s: &AppState,
    who: &SignedIn,
    status: StatusCode,
    new_codes: Vec<String>,
    saved: Option<&'static str>,
    errors: Vec<FieldError>,
) -> Result<Response, PageError> {
    factor_page_with(s, who, status, new_codes, saved, errors, "").await
}

/// The page, with the passkey name the person typed shown again.
async fn factor_page_with(
    s: &AppState,
    who: &SignedIn,
    status: StatusCode,
    new_codes: Vec<String>,
    saved: Option<&'static str>,
    errors: Vec<FieldError>,
    typed_name: &str,
) -> Result<Response, PageError> {
    let person = who.actor.person;
    let on = s.store.second_factor(person).await?;
    let passkeys = s.store.passkeys_of(person).await?;
    let rp = crate::passkey::RelyingParty::for_public_url(&s.public_url);
    let confirm_first = needs_fresh_proof(s, &who.session, person).await?;
    let passkey_create = match &rp {
        Some(rp) if passkeys.len() < waymark_core::factor::PASSKEYS_MAX && !confirm_first => {
            let handle = crate::passkey::handle_for(&passkeys);
            let started = rp
                .start_registration(
                    who.person.email.as_str(),
                    &who.person.name,
                    &handle,
                    &passkeys,
                )
                .map_err(PageError::Internal)?;
            keep(&who.session, PASSKEY_CREATE, started.state).await?;
            Some(started.options)
        }
        _ => None,
    };
    let passkey_get = ask_passkey(s, &who.session, &passkeys).await?;
    let any = on.is_some() || !passkeys.is_empty();
    let recovery_left = if any {
        Some(s.store.recovery_left(person).await?)
    } else {
        None
    };
    let setup = match &on {
        Some(_) => None,
        None if confirm_first => None,
        None => {
            let key = key_in_setup(&who.session).await?;
            let totp = totp(&key, who.person.email.as_str())?;
            let base32 = totp.get_secret_base32();
            let grouped = base32
                .as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join(" ");
            let url = totp.get_url();
            Some(Setup {
                qr: qr_data_url(&url)?,
                key: grouped,
                url,
            })
        }
    };
    let view = FactorPage {
        title: "Second factor",
        user: who.view(),
        required: who.actor.needs_second_factor(),
        on: on.map(|f| On {
            enrolled_at: f.enrolled_at.0,
        }),
        setup,
        passkeys: passkeys.iter().map(waymark_store::Passkey::info).collect(),
        passkeys_possible: rp.is_some(),
        passkey_create,
        passkey_get,
        recovery_left,
        confirm_first,
        typed_name: typed_name.to_string(),
        new_codes: new_codes
            .iter()
            .map(|c| waymark_core::factor::show_recovery(c))
            .collect(),
        saved,
        errors,
    };
    let page = view_page(s, status, "second-factor.html", &view)?;
    Ok(
        if view.passkey_get.is_some() || view.passkey_create.is_some() {
            with_own_script(page)
        } else {
            page
        },
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SavedQuery {
    saved: String,
}

pub async fn page(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Query(q): Query<SavedQuery>,
) -> Result<Response, PageError> {
    let saved = match q.saved.as_str() {
        "off" => Some("Your authenticator app is off: codes from it no longer work."),
        "passkey-removed" => Some("The passkey is removed: it no longer signs you in."),
        "confirmed" => Some(
            "Thank you. For the next 10 minutes you can add a passkey or an authenticator app without confirming again.",
        ),
        "recovery" => Some("You signed in with a recovery code, which now no longer works."),
        _ => None,
    };
    factor_page(&s, &who, StatusCode::OK, Vec::new(), saved, Vec::new()).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct FactorForm {
    csrf: String,
    code: String,
    /// A passkey's signature (the browser's JSON), when one was used.
    passkey: String,
}

/// Turns the factor on: the code the app shows for the key in setup.
pub async fn set_up(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Form(f): Form<FactorForm>,
) -> Result<Response, PageError> {
    who.check(&f.csrf)?;
    let person = who.actor.person;
    // An app already on stays; one with passkeys may add an app, after a
    // fresh proof of them (the page asks for it first).
    if s.store.second_factor(person).await?.is_some() {
        return Ok(Redirect::to("/settings/second-factor").into_response());
    }
    if needs_fresh_proof(&s, &who.session, person).await? {
        return confirm_first(&s, &who).await;
    }
    let key = key_in_setup(&who.session).await?;
    let t = now();
    let wrong = |message: &str| vec![form_error("code", message)];
    let errors = match OneTimeCode::parse(&f.code) {
        _ if f.code.trim().is_empty() => {
            wrong("Type the 6-digit code your authenticator app shows")
        }
        Ok(OneTimeCode::Authenticator(code)) => match step_of(&key, &code, t)? {
            Some(step) => {
                let codes = new_recovery_codes()?;
                let first = match s
                    .store
                    .enrol_second_factor(person, &key, step, &codes, t)
                    .await
                {
                    // Set up meanwhile in another tab: that one stands.
                    Err(waymark_store::StoreError::Duplicate { .. }) => {
                        return Ok(Redirect::to("/settings/second-factor").into_response());
                    }
                    other => other?,
                };
                let _ = who.session.remove::<String>(SETTING_UP).await;
                who.session
                    .insert(FACTOR, true)
                    .await
                    .map_err(|e| PageError::Internal(e.to_string()))?;
                proved_now(&who.session).await?;
                // Any other session signed in without it (someone who
                // knew the password, say) ends.
                if let Some(id) = who.session.id() {
                    s.store.end_other_sessions(person, &id.to_string()).await?;
                }
                tracing::info!(person = person.0, "second factor set up");
                tell(
                    &s.store,
                    &s.public_url,
                    who.person.email.as_str(),
                    &who.person.name,
                    if first {
                        "A second factor (an authenticator app) was set up on your Waymark account. Signing in now asks for its code after your password, and browsers signed in before are signed out."
                    } else {
                        "An authenticator app was set up on your Waymark account, beside your passkeys: signing in now also takes its code after your password."
                    },
                )
                .await;
                // One who has passkeys keeps the recovery codes they saved then.
                let (shown, saved) = if first {
                    (codes, None)
                } else {
                    (
                        Vec::new(),
                        Some(
                            "Your authenticator app is on. Your recovery codes are the ones you saved before.",
                        ),
                    )
                };
                return factor_page(&s, &who, StatusCode::OK, shown, saved, Vec::new()).await;
            }
            None => wrong(
                "That code does not match. Check that the app added Waymark with your email address, and type the code it shows now.",
            ),
        },
        Ok(OneTimeCode::Recovery(_)) => wrong("Type the 6 digits your authenticator app shows"),
        Err(waymark_core::DomainError::Invalid { message, .. }) => {
            wrong(&super::capitalised(&message))
        }
        Err(e) => return Err(e.into()),
    };
    factor_page(
        &s,
        &who,
        StatusCode::UNPROCESSABLE_ENTITY,
        Vec::new(),
        None,
        errors,
    )
    .await
}

/// Checks a form that needs a proof of the person's factor (a code, or a
/// passkey's signature): `Some` page to answer with instead (no factor to
/// check, or a wrong code said beside `field`), or `None` when it was right.
async fn code_checked(
    s: &AppState,
    addr: std::net::IpAddr,
    who: &SignedIn,
    f: &FactorForm,
    field: &str,
) -> Result<Option<Response>, PageError> {
    who.check(&f.csrf)?;
    let person = who.actor.person;
    if !s.store.has_second_factor(person).await? {
        return Ok(Some(
            Redirect::to("/settings/second-factor").into_response(),
        ));
    }
    let offered = Offered {
        code: &f.code,
        passkey: &f.passkey,
    };
    match prove(s, addr, &who.session, person, offered).await? {
        Ok(_) => {
            proved_now(&who.session).await?;
            Ok(None)
        }
        Err(message) => {
            let errors = vec![form_error(field, message)];
            let page = factor_page(
                s,
                who,
                StatusCode::UNPROCESSABLE_ENTITY,
                Vec::new(),
                None,
                errors,
            )
            .await?;
            Ok(Some(page))
        }
    }
}

/// New recovery codes, for a code from the factor (or one of the old
/// recovery codes); the old ones stop working.
pub async fn new_codes(
    State(s): State<Arc<AppState>>,
    ClientIp(addr): ClientIp,
    who: SignedIn,
    Form(f): Form<FactorForm>,
) -> Result<Response, PageError> {
    if let Some(answer) = code_checked(&s, addr, &who, &f, "codes_code").await? {
        return Ok(answer);
    }
    let codes = new_recovery_codes()?;
    s.store
        .replace_recovery_codes(who.actor.person, &codes, now())
        .await?;
    factor_page(&s, &who, StatusCode::OK, codes, None, Vec::new()).await
}

/// Turns the authenticator app off, for a code from it (or a passkey).
/// One who must have a factor and has no passkey lands on setting up a
/// new one (moving to a new device).
pub async fn turn_off(
    State(s): State<Arc<AppState>>,
    ClientIp(addr): ClientIp,
    who: SignedIn,
    Form(f): Form<FactorForm>,
) -> Result<Response, PageError> {
    who.check(&f.csrf)?;
    if s.store.second_factor(who.actor.person).await?.is_none() {
        return Ok(Redirect::to("/settings/second-factor").into_response());
    }
    if let Some(answer) = code_checked(&s, addr, &who, &f, "off_code").await? {
        return Ok(answer);
    }
    let person = who.actor.person;
    s.store.remove_own_second_factor(person).await?;
    tracing::info!(person = person.0, "second factor turned off by its owner");
    tell(
        &s.store,
        &s.public_url,
        who.person.email.as_str(),
        &who.person.name,
        "The authenticator app on your Waymark account was turned off, with a proof of your second factor. Its codes no longer sign you in.",
    )
    .await;
    Ok(Redirect::to("/settings/second-factor?saved=off").into_response())
}

/// The page, saying that adding a factor waits for a proof of the one the
/// person has (a session left open, or stolen, cannot plant its own).
async fn confirm_first(s: &AppState, who: &SignedIn) -> Result<Response, PageError> {
    let errors = vec![form_error(
        "confirm_code",
        "Confirm it is you first, with your passkey or a code",
    )];
    factor_page(
        s,
        who,
        StatusCode::UNPROCESSABLE_ENTITY,
        Vec::new(),
        None,
        errors,
    )
    .await
}

/// A fresh proof of the factor the person has, so that they may add
/// another in the next ten minutes.
pub async fn confirm(
    State(s): State<Arc<AppState>>,
    ClientIp(addr): ClientIp,
    who: SignedIn,
    Form(f): Form<FactorForm>,
) -> Result<Response, PageError> {
    // Proved recently already: nothing to spend (a recovery code is one use).
    if !needs_fresh_proof(&s, &who.session, who.actor.person).await? {
        who.check(&f.csrf)?;
        return Ok(Redirect::to("/settings/second-factor").into_response());
    }
    if let Some(answer) = code_checked(&s, addr, &who, &f, "confirm_code").await? {
        return Ok(answer);
    }
    Ok(Redirect::to("/settings/second-factor?saved=confirmed").into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AddPasskeyForm {
    csrf: String,
    name: String,
    /// The new credential (the browser's JSON).
    credential: String,
}

/// Adds a passkey the browser just made, against the ceremony the page
/// started. The first factor of any kind comes with recovery codes, shown
/// once; the person is told by mail, as of every change to how they sign in.
pub async fn add_passkey(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Form(f): Form<AddPasskeyForm>,
) -> Result<Response, PageError> {
    who.check(&f.csrf)?;
    let person = who.actor.person;
    if needs_fresh_proof(&s, &who.session, person).await? {
        return confirm_first(&s, &who).await;
    }
    let wrong = |message: String| vec![form_error("name", message)];
    let existing = s.store.passkeys_of(person).await?;
    let names: Vec<&str> = existing.iter().map(|p| p.name.as_str()).collect();
    let errors = match (
        waymark_core::factor::passkey_name(&f.name, &names),
        crate::passkey::RelyingParty::for_public_url(&s.public_url),
    ) {
        (Err(waymark_core::DomainError::Invalid { message, .. }), _) => {
            wrong(if f.credential.trim().is_empty() {
                format!("The name {message}")
            } else {
                format!(
                    "The name {message}. Your browser made a passkey already: remove it from your browser or security key, then add it again with a shorter name."
                )
            })
        }
        (Err(e), _) => return Err(e.into()),
        (Ok(_), None) => wrong("Passkeys cannot be used at this service's address.".into()),
        (Ok(_), Some(_)) if f.credential.trim().is_empty() => wrong(
            "Your browser made no passkey. Passkeys need a browser that supports them, with JavaScript on: choose Add a passkey and follow what your browser asks.".into(),
        ),
        (Ok(name), Some(rp)) => {
            let made = match take(&s, &who.session, &rp, crate::passkey::Ceremony::Create, &f.credential)
                .await?
            {
                Ok(state) => rp.finish_registration(&state, &f.credential),
                Err(refusal) => Err(refusal),
            };
            match made {
                Err(refusal) => wrong(format!(
                    "{refusal} Remove the passkey your browser just made, if it made one, and add it again from this page."
                )),
                Ok(made) => {
                    let codes = new_recovery_codes()?;
                    let new = waymark_store::NewPasskey {
                        credential_id: &made.credential_id,
                        user_handle: &made.user_handle,
                        transports: &made.transports,
                        static_state: &made.static_state,
                        dynamic_state: &made.dynamic_state,
                        name: &name,
                    };
                    match s.store.add_passkey(person, new, &codes, now()).await {
                        Err(waymark_store::StoreError::Duplicate { .. }) => {
                            wrong("That passkey is added already.".into())
                        }
                        Err(waymark_store::StoreError::Domain(
                            waymark_core::DomainError::Invalid { message, .. },
                        )) => wrong(super::capitalised(&message)),
                        Err(e) => return Err(e.into()),
                        Ok(added) => {
                            who.session
                                .insert(FACTOR, true)
                                .await
                                .map_err(|e| PageError::Internal(e.to_string()))?;
                            proved_now(&who.session).await?;
                            if added.first_factor
                                && let Some(id) = who.session.id()
                            {
                                // As when an app is set up: any other
                                // session signed in without it ends.
                                s.store.end_other_sessions(person, &id.to_string()).await?;
                            }
                            tracing::info!(person = person.0, passkey = added.id, "passkey added");
                            // The fixed words come first: the name is the
                            // adder's, and could be worded to reassure.
                            tell(
                                &s.store,
                                &s.public_url,
                                who.person.email.as_str(),
                                &who.person.name,
                                &format!(
                                    "A passkey was added to your Waymark account: it now signs you in after your password. The name it was given: {name}"
                                ),
                            )
                            .await;
                            let (shown, saved) = if added.first_factor {
                                (codes, None)
                            } else {
                                (Vec::new(), Some("Your passkey is added."))
                            };
                            return factor_page(&s, &who, StatusCode::OK, shown, saved, Vec::new())
                                .await;
                        }
                    }
                }
            }
        }
    };
    factor_page_with(
        &s,
        &who,
        StatusCode::UNPROCESSABLE_ENTITY,
        Vec::new(),
        None,
        errors,
        &f.name,
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RemovePasskeyForm {
    csrf: String,
    /// Which passkey: one of the person's own.
    passkey_id: String,
    code: String,
    passkey: String,
}

/// Removes one of the person's passkeys, for a proof of their factor (a
/// code, or a signature from any of their passkeys). Removing the last
/// factor of one who must have one lands on setting up another.
pub async fn remove_passkey(
    State(s): State<Arc<AppState>>,
    ClientIp(addr): ClientIp,
    who: SignedIn,
    Form(f): Form<RemovePasskeyForm>,
) -> Result<Response, PageError> {
    who.check(&f.csrf)?;
    let person = who.actor.person;
    let passkeys = s.store.passkeys_of(person).await?;
    let chosen = f
        .passkey_id
        .trim()
        .parse::<i64>()
        .ok()
        .and_then(|id| passkeys.iter().find(|p| p.id == id));
    let Some(chosen) = chosen else {
        let errors = vec![form_error(
            "remove_choice",
            "Choose which passkey to remove",
        )];
        return factor_page(
            &s,
            &who,
            StatusCode::UNPROCESSABLE_ENTITY,
            Vec::new(),
            None,
            errors,
        )
        .await;
    };
    let proof = FactorForm {
        csrf: f.csrf.clone(),
        code: f.code.clone(),
        passkey: f.passkey.clone(),
    };
    if let Some(answer) = code_checked(&s, addr, &who, &proof, "remove_code").await? {
        return Ok(answer);
    }
    if s.store.remove_passkey(person, chosen.id).await? {
        tracing::info!(
            person = person.0,
            passkey = chosen.id,
            "passkey removed by its owner"
        );
        tell(
            &s.store,
            &s.public_url,
            who.person.email.as_str(),
            &who.person.name,
            &format!(
                "The passkey named \"{}\" was removed from your Waymark account. It no longer signs you in.",
                chosen.name
            ),
        )
        .await;
    }
    Ok(Redirect::to("/settings/second-factor?saved=passkey-removed").into_response())
}

/// Tells a person whose address was corrected, at the old address and
/// the new: the address is how they sign in.
pub(crate) async fn tell_corrected(
    store: &waymark_store::Store,
    base: &str,
    corrected: &waymark_store::Corrected,
) {
    let (before, after) = (&corrected.before, &corrected.after);
    if before.email == after.email {
        return;
    }
    let what = format!(
        "The email address you sign in to Waymark with was changed from {} to {}.",
        before.email, after.email
    );
    for to in [&before.email, &after.email] {
        tell(store, base, to.as_str(), &after.name, &what).await;
    }
}

/// What a person is told when an admin resets their second factor.
pub(crate) fn reset_notice(admin: &str) -> String {
    format!(
        "{admin}, a programme admin, turned off the second factor on your Waymark account and signed you out everywhere (as is done when a phone is lost). Sign in with your password; if you must have a second factor, you set up a new one then."
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CsrfOnly {
    csrf: String,
}

impl CsrfOnly {
    pub(crate) fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// A programme admin turns off someone's second factor (a lost device):
/// their sessions end, and they set up a new one when they next sign in.
pub async fn reset(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, PageError> {
    who.check(&f.csrf)?;
    match s.store.reset_second_factor(&who.actor, PersonId(id)).await {
        Err(waymark_store::StoreError::NoSuchPerson(_)) => return Err(PageError::NotFound),
        other => other?,
    };
    tracing::warn!(
        by = who.actor.person.0,
        person = id,
        "second factor reset by a programme admin"
    );
    tell_person(
        &s.store,
        &s.public_url,
        PersonId(id),
        &reset_notice(&who.person.name),
    )
    .await;
    Ok(Redirect::to(&format!("/people/{id}?saved=factor")).into_response())
}

/// The script the passkey pages load (`crates/web/assets/passkey.js`).
pub async fn script() -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/javascript; charset=utf-8",
        )],
        include_str!("../../assets/passkey.js"),
    )
        .into_response()
}
