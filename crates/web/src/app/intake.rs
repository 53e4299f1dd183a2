//! Enquiries: the public "Request support" form (no account), and the
//! programme's triage: notes, converting into a new agency and engagement,
//! attaching to an existing engagement, or closing with a reason.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use waymark_core::{
    AgencyId, AgencyType, DomainError, Email, EngagementId, Mode, NewAgency, Timestamp,
};
use waymark_store::{EnquiryCommand, EnquiryStatus, NewEnquiry, StoreError, Triage, now};

use super::auth::{SignedIn, UserView};
use super::{
    AgencyRow, AppState, ErrorPage, FieldError, PageError, Titled, field_label as capitalise,
    form_error as error, view_page,
};
use crate::actions::{Conversion, Convert, ConvertAgency};
use crate::mail;

/// Submissions allowed from one address per hour.
const FORM_LIMIT: u64 = 5;

const PREFERENCES: [(&str, &str); 3] = [
    ("with_you", "Do it With You: with the programme's support"),
    ("yourself", "Do it Yourself: adopt the blueprint on our own"),
    ("unsure", "Not sure yet: we would like to talk it through"),
];

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct SupportForm {
    agency: String,
    name: String,
    email: String,
    role: String,
    need: String,
    timeframe: String,
    preference: String,
    /// The honeypot: hidden from people, filled in by bots.
    website: String,
}

/// One line (or, with `lines`, a paragraph) the visitor must give, checked
/// as the core checks every command's text.
fn required(
    errors: &mut Vec<FieldError>,
    id: &'static str,
    label: &str,
    value: &str,
    max: usize,
) -> String {
    let checked = if id == "need" {
        waymark_core::check_text(id, value, max)
    } else {
        waymark_core::check_line(id, value, max)
    };
    match checked {
        Ok(t) if t.is_empty() => {
            errors.push(error(id, format!("Enter {label}")));
            t
        }
        Ok(t) => t,
        Err(waymark_core::DomainError::Invalid { message, .. }) => {
            errors.push(error(id, format!("{} {message}", capitalise(label))));
            value.trim().to_string()
        }
        Err(other) => {
            errors.push(error(id, other.to_string()));
            value.trim().to_string()
        }
    }
}

impl SupportForm {
    /// The enquiry, or every problem with the form at once.
    fn enquiry(&self) -> Result<NewEnquiry, Vec<FieldError>> {
        let mut errors = Vec::new();
        let agency = required(
            &mut errors,
            "agency",
            "your agency's name",
            &self.agency,
            200,
        );
        let name = required(&mut errors, "name", "your name", &self.name, 200);
        let email = match Email::parse(&self.email) {
            Ok(e) => e.as_str().to_string(),
            Err(_) if self.email.trim().is_empty() => {
                errors.push(error("email", "Enter your email address"));
                String::new()
            }
            Err(_) => {
                errors.push(error(
                    "email",
                    "Enter an email address like name@agency.gov.au",
                ));
                String::new()
            }
        };
        let role = required(&mut errors, "role", "your role", &self.role, 200);
        let need = required(&mut errors, "need", "your business need", &self.need, 8000);
        let timeframe = match waymark_core::check_line("timeframe", &self.timeframe, 200) {
            Ok(t) => t,
            Err(e) => {
                let message = match e {
                    waymark_core::DomainError::Invalid { message, .. } => message,
                    other => other.to_string(),
                };
                errors.push(error("timeframe", format!("Timeframe {message}")));
                String::new()
            }
        };
        let preference = match PREFERENCES.iter().find(|(k, _)| *k == self.preference) {
            Some((_, label)) => label.to_string(),
            None => {
                errors.push(error(
                    "preference-with_you",
                    "Choose how your agency would like to engage",
                ));
                String::new()
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(NewEnquiry {
            source: "form".into(),
            message_id: None,
            subject: format!("Request for support from {agency}"),
            agency_name: agency,
            contact_name: name,
            contact_email: email,
            contact_role: role,
            body: need,
            timeframe,
            preference,
            attachments: Vec::new(),
        })
    }
}

/// What `request-support.html` reads.
#[derive(Serialize)]
struct SupportPage<'a> {
    title: &'static str,
    /// What was typed, shown again beside any error.
    form: &'a SupportForm,
    errors: Vec<FieldError>,
    preferences: Vec<Preference>,
}

/// One of the ways of engaging a visitor may choose.
#[derive(Serialize)]
struct Preference {
    value: &'static str,
    label: &'static str,
}

fn support_page(
    s: &AppState,
    status: StatusCode,
    form: &SupportForm,
    errors: Vec<FieldError>,
) -> Result<Response, PageError> {
    let prefs = PREFERENCES
        .iter()
        .map(|&(value, label)| Preference { value, label })
        .collect();
    view_page(
        s,
        status,
        "request-support.html",
        &SupportPage {
            title: "Request support",
            form,
            errors,
            preferences: prefs,
        },
    )
}

pub async fn support_form(State(s): State<Arc<AppState>>) -> Result<Response, PageError> {
    support_page(&s, StatusCode::OK, &SupportForm::default(), Vec::new())
}

pub async fn request_support(
    State(s): State<Arc<AppState>>,
    super::auth::ClientIp(addr): super::auth::ClientIp,
    Form(f): Form<SupportForm>,
) -> Result<Response, PageError> {
    let t = now();
    // Bots fill every field; people never see this one. Say thanks,
    // keep nothing, and give no hint.
    if !f.website.trim().is_empty() {
        return Ok(Redirect::to("/request-support/sent").into_response());
    }
    let enquiry = match f.enquiry() {
        Ok(e) => e,
        Err(errors) => {
            return support_page(&s, StatusCode::UNPROCESSABLE_ENTITY, &f, errors);
        }
    };
    // Only requests that would be kept count towards the limit, so a
    // person correcting typing mistakes is not locked out.
    let network = crate::ops::limit_key(addr);
    if let Some(refused) = over_limit(&s, "enquiry_form", &network, FORM_LIMIT, t, TOO_MANY).await?
    {
        return Ok(refused);
    }

    let ack = mail::enquiry_received(&enquiry.contact_email, &s.mail_from);
    s.store.add_enquiry(&enquiry, Some(&ack), t).await?;
    Ok(Redirect::to("/request-support/sent").into_response())
}

/// The one rate limiter, for the public forms, registration and the
/// community's new accounts, pages and API alike: counts this submission
/// of `form` under `key` (the client's network, `ops::limit_key`, or what
/// else the form limits by) and says whether it is past `limit` in the
/// last hour (counted in the metrics and logged when it is).
pub(crate) async fn limited(
    store: &waymark_store::Store,
    form: &'static str,
    key: &str,
    limit: u64,
    t: Timestamp,
) -> Result<bool, waymark_store::StoreError> {
    let key = format!("{form}:{key}");
    let recent = store
        .count_form_submission(&key, Timestamp(t.0 - 3600), t)
        .await?;
    if recent <= limit {
        return Ok(false);
    }
    crate::ops::METRICS.rate_limited(form);
    tracing::warn!(form, "refused: too many in the last hour");
    Ok(true)
}

/// What a network past a public form's limit is told.
pub(super) const TOO_MANY: &str = "Several came from your network in the last hour. Wait an hour and try again, or email protectedutility@dta.gov.au.";

/// [`limited`] for a page: past the limit, a 429 page that says `message`
/// and when to try again.
pub(super) async fn over_limit(
    s: &AppState,
    form: &'static str,
    key: &str,
    limit: u64,
    t: Timestamp,
    message: &'static str,
) -> Result<Option<Response>, PageError> {
    if !limited(&s.store, form, key, limit, t).await? {
        return Ok(None);
    }
    too_many(s, "Too many requests", message).map(Some)
}

/// The 429 page: `title`, `message`, and to try again in an hour.
pub(super) fn too_many(
    s: &AppState,
    title: &'static str,
    message: &'static str,
) -> Result<Response, PageError> {
    let view = ErrorPage {
        reference: crate::ops::request_id(),
        title,
        message,
    };
    let mut r = view_page(s, StatusCode::TOO_MANY_REQUESTS, "error.html", &view)?;
    r.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from_static("3600"),
    );
    Ok(r)
}

pub async fn support_sent(State(s): State<Arc<AppState>>) -> Result<Response, PageError> {
    view_page(
        &s,
        StatusCode::OK,
        "request-sent.html",
        &Titled {
            title: "Request sent",
        },
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    status: String,
}

pub async fn enquiries(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    let status = match q.status.as_str() {
        "" => Some(EnquiryStatus::Open),
        other => EnquiryStatus::parse(other),
    };
    let list = s.store.enquiries(&who.actor, status, 200).await?;
    let view = EnquiriesPage {
        title: "Enquiries",
        user: who.view(),
        enquiries: list.iter().map(EnquiryRow::from).collect(),
        status: status.map_or("all", |s| s.as_str()),
    };
    view_page(&s, StatusCode::OK, "enquiries.html", &view)
}

/// What `enquiries.html` reads.
#[derive(Serialize)]
struct EnquiriesPage {
    title: &'static str,
    user: UserView,
    enquiries: Vec<EnquiryRow>,
    /// The status the list shows, or "all".
    status: &'static str,
}

#[derive(Serialize)]
struct EnquiryRow {
    id: i64,
    agency: String,
    contact: String,
    subject: String,
    source: String,
    status: &'static str,
    received: i64,
}

impl From<&waymark_store::Enquiry> for EnquiryRow {
    fn from(e: &waymark_store::Enquiry) -> Self {
        EnquiryRow {
            id: e.id,
            agency: e.agency_name.clone(),
            contact: e.contact_name.clone(),
            subject: e.subject.clone(),
            source: e.source.clone(),
            status: e.status.label(),
            received: e.received_at.0,
        }
    }
}

/// What `enquiry.html` reads.
#[derive(Serialize)]
struct EnquiryPage<'a> {
    title: String,
    user: UserView,
    enquiry: EnquiryView,
    history: Vec<TriageRow>,
    files: Vec<FileRow>,
    conversation: Vec<MessageView>,
    mail_from: &'a str,
    sends_mail: bool,
    agencies: Vec<AgencyRow>,
    engagements: Vec<EngagementOption>,
    errors: Vec<FieldError>,
    /// The triage form as typed, or its defaults.
    form: &'a TriageForm,
    invited: Option<Invited>,
}

#[derive(Serialize)]
struct EnquiryView {
    id: i64,
    agency: String,
    contact: String,
    email: String,
    role: String,
    subject: String,
    paragraphs: Vec<String>,
    timeframe: String,
    preference: String,
    source: String,
    status: &'static str,
    open: bool,
    engagement: Option<i64>,
    received: i64,
}

/// A line of the enquiry's triage history.
#[derive(Serialize)]
struct TriageRow {
    at: i64,
    who: String,
    what: String,
}

#[derive(Serialize)]
struct FileRow {
    id: i64,
    name: String,
    size: u64,
    kind: String,
}

impl From<&waymark_store::FileRow> for FileRow {
    fn from(f: &waymark_store::FileRow) -> Self {
        FileRow {
            id: f.id,
            name: f.name.clone(),
            size: f.size,
            kind: f.content_type.clone(),
        }
    }
}

/// An engagement the enquiry may be attached to.
#[derive(Serialize)]
struct EngagementOption {
    id: i64,
    label: String,
}

/// The sponsor invited on conversion, and whether the record names them.
#[derive(Serialize)]
struct Invited {
    name: String,
    email: String,
    link: Option<String>,
    engagement: i64,
    named: bool,
    /// The address has an account already: nothing was given to it.
    existing: bool,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct TriageForm {
    csrf: String,
    action: String,
    text: String,
    reason: String,
    engagement: String,
    agency: String,
    name: String,
    abbreviation: String,
    portfolio: String,
    agency_type: String,
    mode: String,
    invite_sponsor: String,
    body: String,
}

/// A message of the conversation, as the page shows it.
#[derive(Serialize)]
struct MessageView {
    id: i64,
    incoming: bool,
    who: String,
    to: String,
    subject: String,
    at: i64,
    paragraphs: Vec<String>,
    files: Vec<FileRow>,
}

fn paragraphs(text: &str) -> Vec<String> {
    text.split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

async fn enquiry_page(
    s: &AppState,
    who: &SignedIn,
    id: i64,
    status: StatusCode,
    errors: Vec<FieldError>,
    form: Option<&TriageForm>,
    invited: Option<Invited>,
) -> Result<Response, PageError> {
    let (e, events, files) = s.store.enquiry(&who.actor, id).await?;
    let messages = s.store.conversation(&who.actor, id).await?;
    let mut actors: Vec<_> = events.iter().filter_map(|ev| ev.actor).collect();
    actors.extend(messages.iter().filter_map(|m| m.author));
    let names = s.store.person_names(&actors).await?;
    let conversation: Vec<MessageView> = messages
        .iter()
        .map(|m| MessageView {
            id: m.id,
            incoming: m.direction == "in",
            who: match m.author {
                Some(p) => format!(
                    "{} for the programme",
                    names
                        .get(&p)
                        .cloned()
                        .unwrap_or_else(|| format!("person {p}"))
                ),
                None => format!("{} ({})", e.contact_name, m.sender),
            },
            to: m.recipient.clone(),
            subject: m.subject.clone(),
            at: m.at.0,
            paragraphs: paragraphs(&m.body),
            files: m.files.iter().map(FileRow::from).collect(),
        })
        .collect();
    let history = events
        .iter()
        .map(|ev| {
            let what = match &ev.triage {
                Triage::Received { source, .. } if source == "email" => {
                    "Received by email".to_string()
                }
                Triage::Sealed { .. } => "Content sealed into the audit trail".to_string(),
                Triage::Received { .. } => "Received through the Request support form".to_string(),
                Triage::Note { text } => format!("Note: {text}"),
                Triage::Converted { engagement, .. } => {
                    format!("Converted into engagement {engagement}")
                }
                Triage::Attached { engagement } => format!("Attached to engagement {engagement}"),
                Triage::Closed { reason } => format!("Closed: {reason}"),
                Triage::MailIn { .. } => {
                    "A reply came in by email (in the conversation above)".into()
                }
                Triage::Replied { .. } => "Answered by email (in the conversation above)".into(),
            };
            let by = ev.actor.map_or("The sender".to_string(), |p| {
                names
                    .get(&p)
                    .cloned()
                    .unwrap_or_else(|| format!("person {p}"))
            });
            TriageRow {
                at: ev.at.0,
                who: by,
                what,
            }
        })
        .collect();
    let agencies = s
        .store
        .agencies()
        .await?
        .iter()
        .map(AgencyRow::from)
        .collect();
    let engagements = s
        .store
        .engagements(
            &who.actor,
            &waymark_store::ListFilter {
                agency: None,
                limit: 200,
                offset: 0,
                before: None,
            },
        )
        .await?;
    let agency_names = s
        .store
        .agencies_by_id(
            &engagements
                .items
                .iter()
                .map(|e| e.agency)
                .collect::<Vec<_>>(),
        )
        .await?;
    let open_engagements = engagements
        .items
        .iter()
        .map(|e| {
            let name = agency_names
                .get(&e.agency)
                .map_or(String::new(), |a| a.name.clone());
            EngagementOption {
                id: e.id.0,
                label: format!("Engagement {} ({name})", e.id.0),
            }
        })
        .collect();
    let files = files.iter().map(FileRow::from).collect();
    let form = form.cloned().unwrap_or_else(|| TriageForm {
        name: e.agency_name.clone(),
        invite_sponsor: "yes".into(),
        ..TriageForm::default()
    });
    let view = EnquiryPage {
        title: format!("Enquiry {id}: {}", e.agency_name),
        user: who.view(),
        enquiry: EnquiryView {
            id: e.id,
            agency: e.agency_name.clone(),
            contact: e.contact_name.clone(),
            email: e.contact_email.clone(),
            role: e.contact_role.clone(),
            subject: e.subject.clone(),
            paragraphs: paragraphs(&e.body),
            timeframe: e.timeframe.clone(),
            preference: e.preference.clone(),
            source: e.source.clone(),
            status: e.status.label(),
            open: e.status == EnquiryStatus::Open,
            engagement: e.engagement.map(|x| x.0),
            received: e.received_at.0,
        },
        history,
        files,
        conversation,
        mail_from: &s.mail_from,
        sends_mail: s.smtp,
        agencies,
        engagements: open_engagements,
        errors,
        form: &form,
        invited,
    };
    view_page(s, status, "enquiry.html", &view)
}

pub async fn enquiry(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    enquiry_page(&s, &who, id, StatusCode::OK, Vec::new(), None, None).await
}

pub async fn triage(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
    Form(f): Form<TriageForm>,
) -> Result<Response, PageError> {
    let refused = async |field: &str, message: String| {
        enquiry_page(
            &s,
            &who,
            id,
            StatusCode::UNPROCESSABLE_ENTITY,
            vec![error(field, message)],
            Some(&f),
            None,
        )
        .await
    };
    who.check(&f.csrf)?;
    waymark_core::enquiry::visible(&who.actor).map_err(StoreError::Domain)?;
    let t = now();
    let (enq, _, _) = s.store.enquiry(&who.actor, id).await?;
    let step = match f.action.as_str() {
        "reply" => {
            let body: waymark_core::Text<20000> = f.body.as_str().into();
            return match s
                .store
                .reply_to_enquiry(&who.actor, id, &body, &s.mail_from, mail::SIGNATURE, t)
                .await
            {
                Ok(m) => Ok(Redirect::to(&format!("/enquiries/{id}#message-{m}")).into_response()),
                Err(StoreError::Domain(DomainError::Invalid { message, .. })) => {
                    refused("body", format!("Reply: {message}")).await
                }
                Err(e) => Err(e.into()),
            };
        }
        "note" => EnquiryCommand::Note {
            text: f.text.as_str().into(),
        },
        "close" => EnquiryCommand::Close {
            reason: f.reason.as_str().into(),
        },
        "attach" => match f.engagement.trim().parse::<i64>() {
            Ok(e) => EnquiryCommand::Attach {
                engagement: EngagementId(e),
            },
            Err(_) => {
                return refused("engagement", "Choose the engagement to attach it to".into()).await;
            }
        },
        "convert" => {
            // Checked before an agency is added for it.
            if waymark_core::enquiry::still_open(enq.status).is_err() {
                return refused(
                    "action",
                    format!("This enquiry is already {}", enq.status.as_str()),
                )
                .await;
            }
            let agency = match f.agency.trim() {
                "" | "new" => match NewAgency::parse_all(
                    &f.name,
                    &f.abbreviation,
                    &f.portfolio,
                    AgencyType::from_slug(&f.agency_type),
                ) {
                    Ok(n) => ConvertAgency::New(n),
                    Err(problems) => {
                        // Every problem with the new agency at once.
                        let errors = problems
                            .into_iter()
                            .filter_map(|p| match p {
                                DomainError::Invalid { field, message } => {
                                    Some(error(field, format!("{}: {message}", capitalise(field))))
                                }
                                _ => None,
                            })
                            .collect();
                        return enquiry_page(
                            &s,
                            &who,
                            id,
                            StatusCode::UNPROCESSABLE_ENTITY,
                            errors,
                            Some(&f),
                            None,
                        )
                        .await;
                    }
                },
                other => match other.parse::<i64>() {
                    Ok(a) => ConvertAgency::Existing(AgencyId(a)),
                    Err(_) => {
                        return refused("agency", "Choose one of the agencies listed".into()).await;
                    }
                },
            };
            let mode = if f.mode == "do_it_yourself" {
                Mode::DoItYourself
            } else {
                Mode::DoItWithYou
            };
            let converted = s
                .actions()
                .convert_enquiry(
                    &who.actor,
                    &s.pages,
                    id,
                    Convert {
                        agency,
                        mode,
                        invite_sponsor: f.invite_sponsor == "yes",
                    },
                    t,
                )
                .await;
            return match converted {
                Ok(Conversion {
                    engagement,
                    sponsor: Some(v),
                    ..
                }) => {
                    let v = Invited {
                        name: v.name,
                        email: v.email,
                        link: v.link,
                        engagement: engagement.0,
                        named: v.named,
                        existing: v.existing,
                    };
                    enquiry_page(&s, &who, id, StatusCode::CREATED, Vec::new(), None, Some(v)).await
                }
                Ok(c) => {
                    Ok(Redirect::to(&format!("/engagements/{}", c.engagement)).into_response())
                }
                Err(StoreError::Duplicate { value, .. }) => refused(
                    "abbreviation",
                    format!(
                        "Abbreviation: {value} is already used; choose the existing agency instead"
                    ),
                )
                .await,
                Err(StoreError::Domain(DomainError::Invalid {
                    field: "agency", ..
                })) => refused("agency", "Choose one of the agencies listed".into()).await,
                // Converted or closed meanwhile, or being converted now.
                Err(StoreError::Domain(DomainError::Rule(m))) => refused("action", m).await,
                Err(e) => Err(e.into()),
            };
        }
        _ => return refused("action", "Choose what to do with the enquiry".into()).await,
    };
    match s.store.triage(&who.actor, id, &step, t).await {
        Ok(()) => Ok(Redirect::to(&format!("/enquiries/{id}")).into_response()),
        Err(StoreError::Domain(DomainError::Invalid { field, message })) => {
            refused(field, format!("{}: {message}", capitalise(field))).await
        }
        Err(StoreError::Domain(DomainError::Rule(m))) => refused("action", m).await,
        // Attaching to an engagement that does not exist (or that the
        // caller cannot see): said beside the field, not a missing page.
        Err(StoreError::Domain(DomainError::NotFound))
            if matches!(step, EnquiryCommand::Attach { .. }) =>
        {
            refused(
                "engagement",
                "Engagement: there is no engagement with that number".into(),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}
