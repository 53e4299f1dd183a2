//! An engagement's letters (versioned, typeset, signed) and the programme's
//! letter templates.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use waymark_core::letter::Next;
use waymark_core::{Command, EngagementId, LetterKind};
use waymark_store::{LetterRow, now};

use super::auth::{SignedIn, UserView};
use super::forms::Version;
use super::records::{download, load, outcome_to_page, problem};
use super::{AppState, FieldError, PageError, form_error as error, view_page};
use crate::actions::ActionError;
use crate::letter;

fn kind_of(slug: &str) -> Result<LetterKind, PageError> {
    LetterKind::from_slug(slug).ok_or(PageError::NotFound)
}

async fn template(s: &AppState, kind: LetterKind) -> Result<(String, i64), PageError> {
    Ok(s.actions().template(kind).await?)
}

async fn letter_page(
    s: &AppState,
    who: &SignedIn,
    id: EngagementId,
    kind: LetterKind,
    status: StatusCode,
    errors: Vec<FieldError>,
) -> Result<Response, PageError> {
    let l = load(s, who, id).await?;
    let model = s.store.model(&l.e.model_hash).await?;
    let versions = s.store.letters(&who.actor, id, kind).await?;
    let latest = versions.last();
    let sponsor = match l.e.sponsor {
        Some(p) => s.store.person(p).await?,
        None => None,
    };
    let ctx = waymark_core::letter::Context {
        engagement: &l.e,
        model: &model,
        agency: &l.agency,
        sponsor: sponsor.as_ref(),
        names: &l.names,
        today: now(),
    };
    let (body, template_version) = template(s, kind).await?;
    let next =
        waymark_core::letter::next(kind, &ctx, latest.map(LetterRow::issued), template_version);
    let (blocked, changed) = match &next {
        Next::Blocked(why) => (Some(why.clone()), false),
        Next::Unchanged { .. } => (None, false),
        Next::Ready(_) => (None, true),
    };
    // What the next version would say, so the programme reads before issuing.
    let draft = match &next {
        Next::Ready(f) => letter::render(&body, f)
            .ok()
            .map(|m| demote_headings(&letter::html(&m))),
        _ => None,
    };
    let signoffs =
        l.e.signoffs
            .iter()
            .filter(|x| x.document == kind.slug())
            .map(|x| {
                let v = versions
                    .iter()
                    .find(|v| v.sha256 == x.sha256)
                    .map(|v| v.version);
                SignOffRow {
                    by: l.names.get(&x.by).cloned().unwrap_or_default(),
                    at: x.at.0,
                    sha256: x.sha256.clone(),
                    superseded: x.superseded,
                    version: v,
                }
            })
            .collect();
    let latest_signed = latest.is_some_and(|v| l.e.is_signed(kind.slug(), &v.sha256));
    // Asked with the commands the page's buttons send.
    let may_sign = signs(who, &l.e, kind);
    let may_issue = waymark_core::may(
        &who.actor,
        &l.e,
        &Command::IssueLetter {
            kind,
            sha256: "".into(),
        },
    );
    let pdf = |v: &LetterRow| {
        format!(
            "/engagements/{}/letters/{}/v{}.pdf",
            id,
            kind.slug(),
            v.version
        )
    };
    let list = versions
        .iter()
        .rev()
        .map(|v| VersionRow {
            version: v.version,
            sha256: v.sha256.clone(),
            at: v.created_at.0,
            by: l
                .names
                .get(&v.created_by)
                .cloned()
                .unwrap_or_else(|| format!("person {}", v.created_by)),
            pdf: pdf(v),
        })
        .collect();
    let view = LetterPage {
        title: format!("{}: {}", kind.title(), l.agency.name),
        user: who.view(),
        id: id.0,
        kind: kind.slug(),
        kind_title: kind.title(),
        agency: l.agency.name.clone(),
        version: l.e.version,
        latest: latest.map(|v| LatestLetter {
            version: v.version,
            html: demote_headings(&v.html),
            sha256: v.sha256.clone(),
            pdf: pdf(v),
        }),
        versions: list,
        blocked,
        changed,
        draft,
        signoffs,
        latest_signed,
        may_issue,
        may_sign,
        errors,
    };
    view_page(s, status, "letter.html", &view)
}

/// A letter's HTML inside a page: its headings one level down, so the
/// page's own title stays the only `h1`. The HTML is the sanitiser's
/// output, whose tags are plain `<hN>` and `</hN>`.
pub(super) fn demote_headings(html: &str) -> String {
    let mut out = html.to_string();
    for n in (1..=5).rev() {
        out = out
            .replace(&format!("<h{n}>"), &format!("<h{}>", n + 1))
            .replace(&format!("<h{n} "), &format!("<h{} ", n + 1))
            .replace(&format!("</h{n}>"), &format!("</h{}>", n + 1));
    }
    out
}

/// What `letter.html` reads.
#[derive(Serialize)]
struct LetterPage {
    title: String,
    user: UserView,
    id: i64,
    kind: &'static str,
    kind_title: &'static str,
    agency: String,
    /// The engagement's version, for the forms.
    version: u64,
    latest: Option<LatestLetter>,
    versions: Vec<VersionRow>,
    /// Why no new version can be issued yet.
    blocked: Option<String>,
    /// Whether the facts have changed since the latest version.
    changed: bool,
    /// What the next version would say.
    draft: Option<String>,
    signoffs: Vec<SignOffRow>,
    latest_signed: bool,
    may_issue: bool,
    may_sign: bool,
    errors: Vec<FieldError>,
}

#[derive(Serialize)]
struct LatestLetter {
    version: u32,
    html: String,
    sha256: String,
    pdf: String,
}

#[derive(Serialize)]
struct VersionRow {
    version: u32,
    sha256: String,
    at: i64,
    by: String,
    pdf: String,
}

#[derive(Serialize)]
struct SignOffRow {
    by: String,
    at: i64,
    sha256: String,
    superseded: bool,
    /// The letter version signed, when it is one of this letter's.
    version: Option<u32>,
}

pub async fn letter(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path((id, kind)): Path<(i64, String)>,
) -> Result<Response, PageError> {
    let kind = kind_of(&kind)?;
    letter_page(&s, &who, EngagementId(id), kind, StatusCode::OK, Vec::new()).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LetterForm {
    csrf: String,
    version: Version,
    action: String,
    sha256: String,
    /// The signer's "I have read this letter and agree to it" box.
    agree: String,
}

pub async fn letter_command(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path((id, kind)): Path<(i64, String)>,
    Form(f): Form<LetterForm>,
) -> Result<Response, PageError> {
    let id = EngagementId(id);
    who.check(&f.csrf)?;
    let kind = kind_of(&kind)?;
    let result = match (f.version.get(), f.action.as_str()) {
        (Err(e), _) => Err(problem(&e)),
        (Ok(version), "issue") => issue(&s, &who, id, kind, version).await?,
        // A signer says they have read the letter; someone who may not
        // sign hears that instead, from the core.
        (Ok(_), "sign") if f.agree != "yes" && may_sign(&s, &who, id, kind).await? => Err((
            "agree".into(),
            "Tick the box to say you have read the letter and agree to it".into(),
        )),
        (Ok(version), "sign") => outcome_to_page(
            s.store
                .execute(
                    &who.actor,
                    id,
                    version,
                    &Command::SignOff {
                        document: kind.slug().to_string().into(),
                        sha256: f.sha256.trim().to_string().into(),
                    },
                    now(),
                )
                .await,
        )?
        .map(|_| ()),
        (Ok(_), _) => Err(("action".into(), "Reload the page and try again".into())),
    };
    match result {
        Ok(()) => {
            Ok(Redirect::to(&format!("/engagements/{id}/letters/{}", kind.slug())).into_response())
        }
        Err((field, message)) => {
            letter_page(
                &s,
                &who,
                id,
                kind,
                StatusCode::UNPROCESSABLE_ENTITY,
                vec![error(&field, message)],
            )
            .await
        }
    }
}

/// Whether the core lets `who` sign this engagement's letters.
async fn may_sign(
    s: &AppState,
    who: &SignedIn,
    id: EngagementId,
    kind: LetterKind,
) -> Result<bool, PageError> {
    Ok(signs(who, &s.store.engagement(&who.actor, id).await?, kind))
}

/// Whether the core lets `who` sign `e`'s letter of this kind (the page
/// offers the box; the sign form asks before the agreement is checked).
fn signs(who: &SignedIn, e: &waymark_core::Engagement, kind: LetterKind) -> bool {
    waymark_core::may(
        &who.actor,
        e,
        &Command::SignOff {
            document: kind.slug().into(),
            sha256: "".into(),
        },
    )
}

/// Issues the next version of a letter through the one path the API uses too.
async fn issue(
    s: &AppState,
    who: &SignedIn,
    id: EngagementId,
    kind: LetterKind,
    version: u64,
) -> Result<Result<(), (String, String)>, PageError> {
    match s
        .actions()
        .issue_letter(&who.actor, id, version, kind)
        .await
    {
        Ok(_) => Ok(Ok(())),
        Err(ActionError::Store(e)) => Ok(outcome_to_page::<()>(Err(e))?),
        Err(ActionError::Internal(e)) => Err(PageError::Internal(e)),
    }
}

pub async fn letter_pdf(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path((id, kind, file)): Path<(i64, String, String)>,
) -> Result<Response, PageError> {
    let kind = kind_of(&kind)?;
    let v: u32 = file
        .strip_prefix('v')
        .and_then(|f| f.strip_suffix(".pdf"))
        .and_then(|n| n.parse().ok())
        .ok_or(PageError::NotFound)?;
    let (_, pdf) = s
        .store
        .letter_pdf(&who.actor, EngagementId(id), kind, v)
        .await?;
    Ok(download(
        pdf,
        "application/pdf",
        &format!("{}-{id}-v{v}.pdf", kind.slug()),
        true,
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TemplateForm {
    csrf: String,
    body: String,
}

async fn template_page(
    s: &AppState,
    who: &SignedIn,
    kind: LetterKind,
    status: StatusCode,
    errors: Vec<FieldError>,
    typed: Option<&str>,
) -> Result<Response, PageError> {
    // Templates are the programme's: to others they do not exist.
    if who.actor.may_edit_templates().is_err() {
        return Err(PageError::NotFound);
    }
    let (body, version) = template(s, kind).await?;
    let shown = typed.unwrap_or(&body).to_string();
    let preview = letter::check(&shown)
        .map(|m| letter::html(&m))
        .unwrap_or_default();
    let view = TemplatePage {
        title: format!("{} template", kind.title()),
        user: who.view(),
        kind: kind.slug(),
        kind_title: kind.title(),
        body: shown,
        version,
        preview,
        errors,
    };
    view_page(s, status, "letter-template.html", &view)
}

/// What `letter-template.html` reads.
#[derive(Serialize)]
struct TemplatePage {
    title: String,
    user: UserView,
    kind: &'static str,
    kind_title: &'static str,
    body: String,
    version: i64,
    /// The template rendered with sample facts.
    preview: String,
    errors: Vec<FieldError>,
}

pub async fn letter_template(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(kind): Path<String>,
) -> Result<Response, PageError> {
    let kind = kind_of(&kind)?;
    template_page(&s, &who, kind, StatusCode::OK, Vec::new(), None).await
}

pub async fn save_letter_template(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(kind): Path<String>,
    Form(f): Form<TemplateForm>,
) -> Result<Response, PageError> {
    who.check(&f.csrf)?;
    let kind = kind_of(&kind)?;
    if who.actor.may_edit_templates().is_err() {
        return Err(PageError::NotFound);
    }
    if let Err(why) = letter::check_typeset(kind, &f.body).await {
        return template_page(
            &s,
            &who,
            kind,
            StatusCode::UNPROCESSABLE_ENTITY,
            vec![error("body", format!("Template: {why}"))],
            Some(&f.body),
        )
        .await;
    }
    s.store
        .save_letter_template(&who.actor, kind, &f.body, now())
        .await?;
    Ok(Redirect::to(&format!("/letter-templates/{}", kind.slug())).into_response())
}
