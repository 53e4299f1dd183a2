//! Agencies and people: the agency directory and pages, and people
//! management for admins (inviting someone makes a one-time link to set
//! their password).

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use waymark_core::{
    Agency, AgencyId, AgencyType, DomainError, NewAgency, NewPerson, PartnerKind, Person, Role,
};
use waymark_store::{ListFilter, StoreError, now};

use super::auth::{SignedIn, UserView};
use super::engagements::{SummaryRow, summary_rows};
use super::{AgencyRow, AppState, FieldError, PageError, field_error, form_error, view_page};

/// How long an invite link works.
const INVITE_DAYS: i64 = 14;

/// A person with their roles in plain words.
#[derive(Serialize)]
struct PersonView {
    id: i64,
    name: String,
    email: String,
    roles: Vec<&'static str>,
    /// When they were deactivated (they left), as seconds.
    deactivated_at: Option<i64>,
    /// Whether their personal data was removed at their request (their
    /// address is then on the reserved `.invalid` domain, never a real one).
    removed: bool,
}

impl From<&Person> for PersonView {
    fn from(p: &Person) -> Self {
        PersonView {
            id: p.id.0,
            name: p.name.clone(),
            email: p.email.as_str().to_string(),
            roles: p.roles.iter().map(|r| r.label()).collect(),
            deactivated_at: p.deactivated_at.map(|t| t.0),
            removed: waymark_core::removal::is_removed(&p.email),
        }
    }
}

/// An agency's directory entry.
#[derive(Serialize)]
struct AgencyView {
    id: i64,
    name: String,
    abbreviation: String,
    portfolio: String,
    kind: &'static str,
    assessed: bool,
}

impl From<&Agency> for AgencyView {
    fn from(a: &Agency) -> Self {
        AgencyView {
            id: a.id.0,
            name: a.name.clone(),
            abbreviation: a.abbreviation.as_str().to_string(),
            portfolio: a.portfolio.clone(),
            kind: a.agency_type.map_or("Not yet assessed", AgencyType::label),
            assessed: a.agency_type.is_some(),
        }
    }
}

/// Every agency, for a form's agency list.
async fn agency_options(s: &AppState) -> Result<Vec<AgencyRow>, PageError> {
    Ok(s.store
        .agencies()
        .await?
        .iter()
        .map(AgencyRow::from)
        .collect())
}

/// What `agencies.html` reads.
#[derive(Serialize)]
struct AgenciesPage<'a> {
    title: &'static str,
    user: UserView,
    agencies: Vec<AgencyView>,
    errors: Vec<FieldError>,
    typed: Option<&'a AgencyForm>,
}

/// What `agency.html` reads.
#[derive(Serialize)]
struct AgencyPage {
    title: String,
    user: UserView,
    agency: AgencyView,
    engagements: Vec<SummaryRow>,
    total: u64,
    members: Vec<PersonView>,
    may_start: bool,
    may_assess: bool,
    /// Whether this person lists the agency in the directory (its sponsor,
    /// the programme), whether it is listed, and what it shows.
    may_list: bool,
    listed: bool,
    listing: waymark_core::adopters::Listing,
    errors: Vec<FieldError>,
    notice: Option<&'static str>,
}

/// What `people.html` reads.
#[derive(Serialize)]
struct PeoplePage<'a> {
    title: &'static str,
    user: UserView,
    people: Vec<PersonView>,
    agencies: Vec<AgencyRow>,
    errors: Vec<FieldError>,
    invited: Option<Invited>,
    typed: Option<&'a InviteForm>,
}

/// Who was just invited, and the link to pass on.
#[derive(Serialize)]
struct Invited {
    name: String,
    email: String,
    link: String,
    days: i64,
}

/// What `person.html` reads.
#[derive(Serialize)]
struct PersonPage {
    title: String,
    /// The admin is looking at themselves (no deactivate button).
    is_you: bool,
    /// What waits on them, engagement by engagement: to hand on when they
    /// leave.
    waiting: Vec<super::engagements::Waiting>,
    user: UserView,
    person: PersonView,
    agencies: Vec<AgencyRow>,
    errors: Vec<FieldError>,
    /// Their API tokens, to end one (never the tokens themselves).
    tokens: Vec<waymark_store::TokenInfo>,
    today: waymark_core::Timestamp,
    /// When they set up their authenticator app, if they have one.
    second_factor: Option<i64>,
    /// How many passkeys they have.
    passkeys: usize,
    /// Whether the visitor may reset it (an admin, not for themselves).
    may_reset_factor: bool,
    /// The provider accounts they sign in with, to unlink one.
    identities: Vec<super::auth::IdentityView>,
    /// Whether they have a Waymark password (someone made by a provider's
    /// sign-in has none until they set one).
    has_password: bool,
    /// Whether the visitor may send them a link to set one.
    may_send_link: bool,
    /// Whether they must have one (programme admins).
    factor_required: bool,
    /// What the details form shows: their name and address, or what was
    /// typed after an error.
    details: (String, String),
    /// The banner after a change was made.
    saved: Option<&'static str>,
}

async fn agencies_page(
    s: &AppState,
    who: &SignedIn,
    status: StatusCode,
    errors: Vec<FieldError>,
    typed: Option<&AgencyForm>,
) -> Result<Response, PageError> {
    let view = AgenciesPage {
        title: "Agencies",
        user: who.view(),
        agencies: s
            .store
            .agencies()
            .await?
            .iter()
            .map(AgencyView::from)
            .collect(),
        errors,
        typed,
    };
    view_page(s, status, "agencies.html", &view)
}

pub async fn agencies(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
) -> Result<Response, PageError> {
    agencies_page(&s, &who, StatusCode::OK, Vec::new(), None).await
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct AgencyForm {
    #[serde(skip_serializing)]
    csrf: String,
    name: String,
    abbreviation: String,
    portfolio: String,
    agency_type: String,
}

pub async fn add_agency(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Form(f): Form<AgencyForm>,
) -> Result<Response, PageError> {
    who.check(&f.csrf)?;
    who.actor.may_add_agency()?;
    let kind = match f.agency_type.as_str() {
        "lean" => Some(AgencyType::Lean),
        "aligned" => Some(AgencyType::Aligned),
        "self_directed" => Some(AgencyType::SelfDirected),
        "complex" => Some(AgencyType::Complex),
        _ => None,
    };
    let new = match NewAgency::parse_all(&f.name, &f.abbreviation, &f.portfolio, kind) {
        Ok(n) => n,
        Err(problems) => {
            let errors = problems.iter().filter_map(field_error).collect();
            return agencies_page(&s, &who, StatusCode::UNPROCESSABLE_ENTITY, errors, Some(&f))
                .await;
        }
    };
    match s.store.add_agency(&new, now()).await {
        Ok(id) => Ok(Redirect::to(&format!("/agencies/{id}")).into_response()),
        Err(StoreError::Duplicate { value, .. }) => {
            let errors = vec![form_error(
                "abbreviation",
                format!("Abbreviation: {value} is already used by another agency"),
            )];
            agencies_page(&s, &who, StatusCode::UNPROCESSABLE_ENTITY, errors, Some(&f)).await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn agency(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Result<Response, PageError> {
    let notice = match q.get("directory").map(String::as_str) {
        Some("listed") => {
            Some("The agency is listed in the directory of agencies using the blueprint.")
        }
        Some("unlisted") => Some("The agency is no longer in the directory."),
        _ => None,
    };
    agency_page(
        &s,
        &who,
        AgencyId(id),
        StatusCode::OK,
        Vec::new(),
        None,
        notice,
    )
    .await
}

/// An agency's page; `typed` is a refused directory form shown again.
#[allow(clippy::too_many_arguments)]
pub(super) async fn agency_page(
    s: &AppState,
    who: &SignedIn,
    id: AgencyId,
    status: StatusCode,
    errors: Vec<FieldError>,
    typed: Option<waymark_core::adopters::Listing>,
    notice: Option<&'static str>,
) -> Result<Response, PageError> {
    let a = s.store.agency(id).await?.ok_or(PageError::NotFound)?;
    let filter = ListFilter {
        agency: Some(a.id),
        limit: 100,
        offset: 0,
        before: None,
    };
    let listing = s.store.engagements(&who.actor, &filter).await?;
    let rows = summary_rows(s, &listing.items).await?;
    let members = s
        .store
        .members_of(a.id)
        .await?
        .iter()
        .filter(|p| who.actor.sees_person(p))
        .map(PersonView::from)
        .collect();
    let current = s.store.adopter_listing(a.id).await?;
    let view = AgencyPage {
        title: a.name.clone(),
        user: who.view(),
        agency: AgencyView::from(&a),
        engagements: rows,
        total: listing.total,
        members,
        may_start: waymark_core::may_start(&who.actor, a.id),
        may_assess: waymark_core::assessment::may_assess(&who.actor, a.id).is_ok(),
        may_list: waymark_core::adopters::may_list(&who.actor, a.id).is_ok(),
        listed: current.is_some(),
        listing: typed.or(current).unwrap_or_default(),
        errors,
        notice,
    };
    view_page(s, status, "agency.html", &view)
}

async fn people_page(
    s: &AppState,
    who: &SignedIn,
    status: StatusCode,
    errors: Vec<FieldError>,
    invited: Option<Invited>,
    typed: Option<&InviteForm>,
) -> Result<Response, PageError> {
    who.actor.may_manage_people()?;
    let view = PeoplePage {
        title: "People",
        user: who.view(),
        people: s
            .store
            .people()
            .await?
            .iter()
            .map(PersonView::from)
            .collect(),
        agencies: agency_options(s).await?,
        errors,
        invited,
        typed,
    };
    view_page(s, status, "people.html", &view)
}

pub async fn people(State(s): State<Arc<AppState>>, who: SignedIn) -> Result<Response, PageError> {
    people_page(&s, &who, StatusCode::OK, Vec::new(), None, None).await
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct InviteForm {
    #[serde(skip_serializing)]
    csrf: String,
    name: String,
    email: String,
    role: String,
    agency: String,
}

impl InviteForm {
    fn role(&self) -> Result<Role, DomainError> {
        role_from(&self.role, &self.agency)
    }
}

/// A role from a form's role and agency fields.
fn role_from(role: &str, agency: &str) -> Result<Role, DomainError> {
    let agency = || {
        agency
            .trim()
            .parse::<i64>()
            .map(AgencyId)
            .map_err(|_| DomainError::Invalid {
                field: "agency",
                message: "choose the person's agency".into(),
            })
    };
    Ok(match role {
        "admin" => Role::ProgrammeAdmin,
        "staff" => Role::ProgrammeStaff,
        "member" => Role::AgencyMember {
            agency: agency()?,
            sponsor: false,
        },
        "sponsor" => Role::AgencyMember {
            agency: agency()?,
            sponsor: true,
        },
        "strategy" => Role::Partner {
            kind: PartnerKind::Strategy,
        },
        "technology" => Role::Partner {
            kind: PartnerKind::Technology,
        },
        "change_management" => Role::Partner {
            kind: PartnerKind::ChangeManagement,
        },
        _ => {
            return Err(DomainError::Invalid {
                field: "role",
                message: "choose the person's role".into(),
            });
        }
    })
}

pub async fn invite(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Form(f): Form<InviteForm>,
) -> Result<Response, PageError> {
    // The form again, with its errors beside their fields and what was typed.
    let refused_all = |errors: Vec<FieldError>| {
        people_page(
            &s,
            &who,
            StatusCode::UNPROCESSABLE_ENTITY,
            errors,
            None,
            Some(&f),
        )
    };
    let refused =
        |field: &'static str, message: String| refused_all(vec![form_error(field, message)]);
    who.check(&f.csrf)?;
    who.actor.may_manage_people()?;
    // Every problem at once: the person's and the role's.
    let (new, role) = match (NewPerson::parse_all(&f.name, &f.email), f.role()) {
        (Ok(p), Ok(r)) => (p, r),
        (p, r) => {
            let problems: Vec<DomainError> = p
                .err()
                .unwrap_or_default()
                .into_iter()
                .chain(r.err())
                .collect();
            return refused_all(problems.iter().filter_map(field_error).collect()).await;
        }
    };
    if let Role::AgencyMember { agency, .. } = role
        && s.store.agency(agency).await?.is_none()
    {
        return refused("agency", "Agency: choose one of the agencies listed".into()).await;
    }
    let t = now();
    let person = match s.store.add_person_with_roles(&new, &[role], t).await {
        Ok(p) => p,
        Err(StoreError::Duplicate { .. }) => {
            return refused(
                "email",
                format!("Email: {} already has an account", new.email),
            )
            .await;
        }
        Err(e) => return Err(e.into()),
    };
    let expires = waymark_core::Timestamp(t.0 + INVITE_DAYS * 86_400);
    let token = s
        .store
        .create_invite(person, who.actor.person, t, expires)
        .await?;
    let link = crate::mail::invite_link(&s.public_url, &token);
    s.store
        .queue_mail(
            &[crate::mail::invite(
                new.email.as_str(),
                &new.name,
                &link,
                INVITE_DAYS,
            )],
            t,
        )
        .await?;
    let invited = Invited {
        name: new.name,
        email: new.email.as_str().to_string(),
        link,
        days: INVITE_DAYS,
    };
    people_page(
        &s,
        &who,
        StatusCode::CREATED,
        Vec::new(),
        Some(invited),
        None,
    )
    .await
}

pub(super) async fn person_page(
    s: &AppState,
    who: &SignedIn,
    id: waymark_core::PersonId,
    status: StatusCode,
    errors: Vec<FieldError>,
    saved: Option<&'static str>,
) -> Result<Response, PageError> {
    person_page_typed(s, who, id, status, errors, saved, None).await
}

async fn person_page_typed(
    s: &AppState,
    who: &SignedIn,
    id: waymark_core::PersonId,
    status: StatusCode,
    errors: Vec<FieldError>,
    saved: Option<&'static str>,
    typed: Option<(String, String)>,
) -> Result<Response, PageError> {
    who.actor.may_manage_people()?;
    let p = s.store.person(id).await?.ok_or(PageError::NotFound)?;
    let second_factor = s.store.second_factor(p.id).await?.map(|f| f.enrolled_at.0);
    let them = waymark_core::Actor {
        person: p.id,
        roles: p.roles.clone(),
    };
    let waiting = super::engagements::waiting(
        &s.store,
        &s.model,
        &them,
        &p.name,
        &Default::default(),
        now(),
    )
    .await?;
    let has_password = s
        .store
        .credentials(&p.email)
        .await?
        .is_some_and(|(_, hash)| hash.is_some());
    let view = PersonPage {
        title: p.name.clone(),
        is_you: p.id == who.actor.person,
        waiting,
        user: who.view(),
        person: PersonView::from(&p),
        agencies: agency_options(s).await?,
        errors,
        tokens: s.store.tokens_of(p.id).await?,
        today: now(),
        second_factor,
        passkeys: s.store.passkeys_of(p.id).await?.len(),
        may_reset_factor: who.actor.may_reset_second_factor(p.id).is_ok(),
        identities: super::auth::identity_views(s, p.id).await?,
        has_password,
        may_send_link: who
            .actor
            .may_send_password_link(has_password, p.deactivated_at.is_none())
            .is_ok(),
        factor_required: them.needs_second_factor(),
        details: typed.unwrap_or_else(|| (p.name.clone(), p.email.as_str().to_string())),
        saved,
    };
    view_page(s, status, "person.html", &view)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SavedQuery {
    saved: String,
}

pub async fn person(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
    axum::extract::Query(q): axum::extract::Query<SavedQuery>,
) -> Result<Response, PageError> {
    let saved = match q.saved.as_str() {
        "factor" => Some(
            "Their second factor is off, and they are signed out everywhere. They set up a new one when they next sign in, if they must have one.",
        ),
        "details" => Some("Their details are corrected: every page and the history show them now."),
        "unlinked" => Some(
            "That account is unlinked: it no longer signs them in. They are signed out everywhere, their API tokens have ended, and they are told by mail.",
        ),
        "link" => Some(
            "A link to set a Waymark password is on its way to them by mail: it works once, within 14 days.",
        ),
        "unlinked-last" => Some(
            "That account is unlinked: it no longer signs them in. They are signed out everywhere and their API tokens have ended. It was their only way in, so they were mailed a link to set a Waymark password.",
        ),
        "removed" => Some(
            "Their personal data is removed: their name and address are gone from every record, and the history shows “Removed at the person's request”.",
        ),
        _ => None,
    };
    person_page(
        &s,
        &who,
        waymark_core::PersonId(id),
        StatusCode::OK,
        Vec::new(),
        saved,
    )
    .await
}

/// Everything Waymark holds about a person, as a JSON download: their own
/// (`/settings/data`), or a programme admin's for them (`/people/{id}/data`).
pub async fn personal_data(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    id: Option<Path<i64>>,
) -> Result<Response, PageError> {
    let person = id.map_or(who.actor.person, |Path(id)| waymark_core::PersonId(id));
    let t = now();
    // By the one rate limiter, as the core limits this person.
    if let Some(limit) = who.actor.personal_data_limit()
        && let Some(refused) = super::intake::over_limit(
            &s,
            "personal_data",
            &who.actor.person.0.to_string(),
            limit,
            t,
            "You have downloaded this several times in the last hour. Wait an hour and try again.",
        )
        .await?
    {
        return Ok(refused);
    }
    let data = match s.store.personal_data(&who.actor, person, t).await {
        Err(StoreError::NoSuchPerson(_)) => return Err(PageError::NotFound),
        other => other?,
    };
    let bytes = serde_json::to_vec_pretty(&data)
        .map_err(|e| PageError::Internal(format!("cannot write the download: {e}")))?;
    Ok(super::records::download(
        bytes,
        "application/json",
        &format!("waymark-personal-data-{}.json", person.0),
        false,
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CsrfForm {
    csrf: String,
}

/// Deactivates a person who has left (admins, never themselves): their
/// sessions end on their next request and their tokens at once.
pub async fn deactivate(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, PageError> {
    set_active(&s, &who, id, &f, false).await
}

/// Lets a deactivated person sign in again (admins).
pub async fn reactivate(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, PageError> {
    set_active(&s, &who, id, &f, true).await
}

async fn set_active(
    s: &AppState,
    who: &SignedIn,
    id: i64,
    f: &CsrfForm,
    active: bool,
) -> Result<Response, PageError> {
    who.check(&f.csrf)?;
    let id = waymark_core::PersonId(id);
    let done = if active {
        s.store.reactivate_person(&who.actor, id).await
    } else {
        s.store.deactivate_person(&who.actor, id, now()).await
    };
    match done {
        // Done, or already so (a second click): their page says which.
        Ok(_) | Err(StoreError::Duplicate { .. }) => {
            Ok(Redirect::to(&format!("/people/{id}")).into_response())
        }
        Err(StoreError::NoSuchPerson(_)) => Err(PageError::NotFound),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RemoveForm {
    csrf: String,
    /// Their address, typed again: the removal cannot be undone.
    confirm: String,
    /// Earlier addresses and names they gave, one a line.
    also: String,
}

/// Removes a person's personal data at their request (admins, never their
/// own), once the admin has typed the person's address again.
pub async fn remove(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
    Form(f): Form<RemoveForm>,
) -> Result<Response, PageError> {
    let id = waymark_core::PersonId(id);
    who.check(&f.csrf)?;
    who.actor.may_remove_personal_data(id)?;
    let Some(person) = s.store.person(id).await? else {
        return Err(PageError::NotFound);
    };
    if !f.confirm.trim().eq_ignore_ascii_case(person.email.as_str()) {
        let errors = vec![form_error(
            "confirm",
            "Their email address: type it as it is shown, to confirm this cannot be undone",
        )];
        return person_page(&s, &who, id, StatusCode::UNPROCESSABLE_ENTITY, errors, None).await;
    }
    let also: Vec<String> = f
        .also
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    match s
        .store
        .remove_personal_data(&who.actor, id, &also, now())
        .await
    {
        Ok(_) | Err(StoreError::Duplicate { .. }) => {
            Ok(Redirect::to(&format!("/people/{id}?saved=removed")).into_response())
        }
        Err(StoreError::Domain(e @ waymark_core::DomainError::Invalid { .. })) => {
            let errors = field_error(&e).into_iter().collect();
            person_page(&s, &who, id, StatusCode::UNPROCESSABLE_ENTITY, errors, None).await
        }
        Err(StoreError::NoSuchPerson(_)) => Err(PageError::NotFound),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RoleForm {
    csrf: String,
    role: String,
    agency: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DetailsForm {
    csrf: String,
    name: String,
    email: String,
}

/// Corrects a person's name and email address (admins; Australian Privacy
/// Principle 13), every problem beside its field.
pub async fn correct(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
    Form(f): Form<DetailsForm>,
) -> Result<Response, PageError> {
    let id = waymark_core::PersonId(id);
    who.check(&f.csrf)?;
    who.actor.may_manage_people()?;
    let typed = || Some((super::typed_back(&f.name), super::typed_back(&f.email)));
    let errors = match waymark_core::NewPerson::parse_all(&f.name, &f.email) {
        Err(problems) => problems.iter().filter_map(super::field_error).collect(),
        Ok(new) => match s.store.correct_person(&who.actor, id, &new, now()).await {
            Ok(corrected) => {
                super::tell_corrected(&s.store, &s.public_url, &corrected).await;
                return Ok(Redirect::to(&format!("/people/{id}?saved=details")).into_response());
            }
            Err(StoreError::NoSuchPerson(_)) => return Err(PageError::NotFound),
            Err(StoreError::Duplicate { .. }) => vec![form_error(
                "email",
                "Email address: another person has this address",
            )],
            Err(e) => return Err(e.into()),
        },
    };
    person_page_typed(
        &s,
        &who,
        id,
        StatusCode::UNPROCESSABLE_ENTITY,
        errors,
        None,
        typed(),
    )
    .await
}

/// Gives a person another role (admins only).
pub async fn add_role(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
    Form(f): Form<RoleForm>,
) -> Result<Response, PageError> {
    let id = waymark_core::PersonId(id);
    who.check(&f.csrf)?;
    who.actor.may_manage_people()?;
    if s.store.person(id).await?.is_none() {
        return Err(PageError::NotFound);
    }
    let role = match role_from(&f.role, &f.agency) {
        Ok(r) => r,
        Err(e) => {
            let errors = field_error(&e).into_iter().collect();
            return person_page(&s, &who, id, StatusCode::UNPROCESSABLE_ENTITY, errors, None).await;
        }
    };
    match s.store.add_role(id, role).await {
        Ok(()) => Ok(Redirect::to(&format!("/people/{id}")).into_response()),
        Err(StoreError::Duplicate { .. }) => {
            let errors = vec![form_error("role", "Role: they already have this role")];
            person_page(&s, &who, id, StatusCode::UNPROCESSABLE_ENTITY, errors, None).await
        }
        Err(StoreError::Missing { what: "agency", .. }) => {
            let errors = vec![form_error(
                "agency",
                "Agency: choose one of the agencies listed",
            )];
            person_page(&s, &who, id, StatusCode::UNPROCESSABLE_ENTITY, errors, None).await
        }
        Err(e) => Err(e.into()),
    }
}
