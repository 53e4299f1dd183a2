//! The actions that write more than one command's events, shared by the
//! workspace and the API so that each has exactly one path:
//!
//! - [`Actions::run`]: any command; a workshop scheduled, changed or
//!   cancelled also queues its invitations to every attendee, in the same
//!   transaction;
//! - [`Actions::issue_letter`]: the next version of a letter, written from
//!   the programme's template, typeset, kept with its bytes, and sent to the
//!   sponsor for signature;
//! - [`Actions::upload`]: a file checked against its type, kept, and recorded;
//! - [`Actions::write_article`]: a knowledge article checked, saved (and
//!   published or archived), and the guide's pages it touches rendered again;
//!   [`Actions::move_faq_entry`] likewise for the FAQ's order;
//!   [`Actions::refresh_guide`] after a blueprint release.
//!
//! The rules stay in the core; these only gather what a command needs and
//! what it sends.

use std::collections::HashMap;

use waymark_core::{Actor, Command, DomainError, Engagement, EngagementId, LetterKind, PersonId};
use waymark_store::{LetterRow, Mail, NewFile, NewLetter, Store, StoreError, now};

use crate::{ics, letter, mail};

/// What the actions need beyond the store: where people reach Waymark (for
/// links and invitation UIDs) and the programme's address.
#[derive(Debug, Clone)]
pub struct Actions {
    pub store: Store,
    /// For example `https://waymark.example.gov.au`, without a trailing `/`.
    pub public_url: String,
    /// The programme's mailbox: mail comes from it, invitations name it.
    pub mail_from: String,
    /// The served guide, re-rendered when an article or release is published.
    pub guide: Option<std::sync::Arc<waymark_site::server::Guide>>,
    /// Networks webhooks may deliver to although they are not public.
    pub webhook_allow: std::sync::Arc<Vec<ipnet::IpNet>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Typesetting or the runtime failed; nothing was recorded.
    #[error("{0}")]
    Internal(String),
}

/// An article to write: which (`id`, `None` for a new one), the version
/// the writer saw, what they typed, a new owner if any, and what to do.
#[derive(Debug, Clone, Copy)]
pub struct ArticleWrite<'a> {
    pub id: Option<i64>,
    pub expected: Option<i64>,
    pub input: &'a waymark_core::knowledge::ArticleInput,
    pub owner: Option<PersonId>,
    pub action: waymark_core::knowledge::ArticleAction,
}

/// Why an article was not written: its fields (every problem, from the
/// core's check), or the store's refusal.
#[derive(Debug)]
pub enum ArticleError {
    Fields(Vec<DomainError>),
    Store(StoreError),
    Internal(String),
}

impl From<DomainError> for ActionError {
    fn from(e: DomainError) -> Self {
        ActionError::Store(StoreError::Domain(e))
    }
}

impl Actions {
    /// The host name in [`Actions::public_url`], for invitation UIDs.
    pub fn host(&self) -> String {
        let u = self
            .public_url
            .split_once("://")
            .map_or(self.public_url.as_str(), |(_, r)| r);
        u.split(['/', ':']).next().unwrap_or("waymark").to_string()
    }

    /// Runs `cmd`. Scheduling, changing or cancelling a workshop queues the
    /// invitation (or cancellation) to each attendee with the change.
    pub async fn run(
        &self,
        actor: &Actor,
        id: EngagementId,
        version: u64,
        cmd: &Command,
    ) -> Result<Engagement, StoreError> {
        let invited = match cmd {
            Command::ScheduleWorkshop { id: None, .. } => Some(None),
            Command::ScheduleWorkshop { id: Some(w), .. } | Command::CancelWorkshop { id: w } => {
                Some(Some(*w))
            }
            _ => None,
        };
        if let Command::SetOwner {
            item,
            owner: Some(owner),
            ..
        } = cmd
            && *owner != actor.person
        {
            return self.owner_set(actor, id, version, cmd, item, *owner).await;
        }
        let Some(which) = invited else {
            return self.store.execute(actor, id, version, cmd, now()).await;
        };
        let e = self.store.engagement(actor, id).await?;
        let agency = self.agency_name(&e).await?;
        let me = self.clone();
        let notify: waymark_store::Notify = std::sync::Arc::new(move |e: &Engagement| {
            // A new workshop is the last one; otherwise the one named.
            let wid = which.unwrap_or_else(|| e.workshops.last().map_or(0, |w| w.id));
            me.invitations(&agency, e, wid)
        });
        self.store
            .execute_and_notify(actor, id, version, cmd, notify, now())
            .await
    }

    /// The name of the engagement's agency, for mail.
    async fn agency_name(&self, e: &Engagement) -> Result<String, StoreError> {
        Ok(self
            .store
            .agency(e.agency)
            .await?
            .map(|a| a.name)
            .unwrap_or_default())
    }

    /// Gives a step or risk to someone else, and tells them by mail if they
    /// hear of each thing as it arrives.
    async fn owner_set(
        &self,
        actor: &Actor,
        id: EngagementId,
        version: u64,
        cmd: &Command,
        item: &waymark_core::Item,
        owner: PersonId,
    ) -> Result<Engagement, StoreError> {
        let person = self.store.person(owner).await?;
        let hears = match &person {
            Some(p) => self.store.settings(p.id).await?.notify == waymark_core::Notify::Each,
            None => false,
        };
        let (Some(person), true) = (person, hears) else {
            return self.store.execute(actor, id, version, cmd, now()).await;
        };
        let e = self.store.engagement(actor, id).await?;
        let model = self.store.model(&e.model_hash).await?;
        let agency = self.agency_name(&e).await?;
        let (what, link) = match item {
            waymark_core::Item::Step { stage, step } => (
                format!(
                    "step {step} of {} ({})",
                    model
                        .stage(stage)
                        .map_or(stage.as_str(), |s| s.name.as_str()),
                    model
                        .stage(stage)
                        .and_then(|s| s.steps.iter().find(|x| x.number == *step))
                        .map_or("", |s| s.title.as_str())
                ),
                format!(
                    "{}/engagements/{id}/stages/{stage}#step-{stage}-{step}",
                    self.public_url
                ),
            ),
            waymark_core::Item::Risk { id: r } => (
                format!("risk {r}"),
                format!("{}/engagements/{id}/risks#risk-{r}", self.public_url),
            ),
        };
        // The mail says what was recorded (the checked date), so it is
        // written from the engagement the command produced.
        let item = item.clone();
        let notify: waymark_store::Notify = std::sync::Arc::new(move |e: &Engagement| {
            let due = e.ownership(&item).and_then(|o| o.due.as_deref());
            vec![mail::owner_set(
                person.email.as_str(),
                &person.name,
                &agency,
                &what,
                due,
                &link,
            )]
        });
        self.store
            .execute_and_notify(actor, id, version, cmd, notify, now())
            .await
    }

    /// The invitation (or cancellation) for every attendee of workshop `wid`.
    fn invitations(&self, agency: &str, e: &Engagement, wid: u32) -> Vec<Mail> {
        let Some(w) = e.workshops.iter().find(|w| w.id == wid) else {
            return Vec::new();
        };
        let Ok(text) = ics::invitation(
            e.id,
            agency,
            w,
            &self.host(),
            &self.mail_from,
            chrono::Utc::now(),
        ) else {
            return Vec::new();
        };
        let (subject, lead) = match (w.cancelled, w.sequence) {
            (true, _) => (
                format!("Cancelled: {} ({agency})", w.plan.title),
                "This workshop is cancelled.",
            ),
            (false, 0) => (
                format!("Invitation: {} ({agency})", w.plan.title),
                "You are invited to this workshop.",
            ),
            (false, _) => (
                format!("Updated: {} ({agency})", w.plan.title),
                "This workshop has changed; the attached invitation replaces the earlier one.",
            ),
        };
        let place = [w.plan.location.as_deref(), w.plan.link.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" / ");
        let body = format!(
            "{lead}\n\n{}\n{} at {} ({}), {} minutes\n{place}\n\nAgenda:\n{}",
            w.plan.title, w.plan.date, w.plan.time, w.plan.timezone, w.plan.minutes, w.plan.agenda
        );
        w.plan
            .attendees
            .iter()
            .map(|a| mail::workshop(&a.email, &subject, &body, &text, ics::method(w)))
            .collect()
    }

    /// The programme's current template for `kind` and its version (0: the
    /// built-in one).
    pub async fn template(&self, kind: LetterKind) -> Result<(String, i64), StoreError> {
        Ok(match self.store.letter_template(kind).await? {
            Some(t) => (t.body, t.version),
            None => (letter::default_template(kind).to_string(), 0),
        })
    }

    /// Writes, typesets and records the next version of a letter, and asks
    /// the sponsor to sign it. Refused (nothing kept) when the engagement
    /// cannot yet fill the letter, or nothing in it changed.
    pub async fn issue_letter(
        &self,
        actor: &Actor,
        id: EngagementId,
        version: u64,
        kind: LetterKind,
    ) -> Result<Engagement, ActionError> {
        let e = self.store.engagement(actor, id).await?;
        // The core's rule, asked before typesetting for nothing.
        waymark_core::permission(
            actor,
            &e,
            &Command::IssueLetter {
                kind,
                sha256: "".into(),
            },
        )?;
        let agency = self
            .store
            .agency(e.agency)
            .await?
            .ok_or(StoreError::Domain(DomainError::NotFound))?;
        let model = self.store.model(&e.model_hash).await?;
        let sponsor = match e.sponsor {
            Some(p) => self.store.person(p).await?,
            None => None,
        };
        let mut ids: Vec<PersonId> = e.decisions.iter().map(|d| d.decided_by).collect();
        ids.extend(e.signoffs.iter().map(|x| x.by));
        ids.extend(e.letters.iter().map(|x| x.by));
        ids.extend(e.documents.iter().map(|x| x.by));
        ids.extend(e.sponsor);
        let names: HashMap<PersonId, String> = self.store.person_names(&ids).await?;
        let today = now();
        let ctx = waymark_core::letter::Context {
            engagement: &e,
            model: &model,
            agency: &agency,
            sponsor: sponsor.as_ref(),
            names: &names,
            today,
        };
        let (body, template_version) = self.template(kind).await?;
        let issued = self.store.letters(actor, id, kind).await?;
        let facts = waymark_core::letter::next(
            kind,
            &ctx,
            issued.last().map(LetterRow::issued),
            template_version,
        )
        .into_result(kind)?;
        let next = facts.version;
        let facts_json =
            serde_json::to_string(&facts).map_err(|e| ActionError::Internal(e.to_string()))?;
        let markdown = letter::render(&body, &facts)
            .map_err(|e| DomainError::rule(format!("The programme's template failed: {e}")))?;
        let html = letter::html(&markdown);
        let ident = format!("{}-{}-v{next}", kind.slug(), id.0);
        let md = markdown.clone();
        // What typst refuses (nesting deeper than it allows, a word too
        // long for any line) is the template's doing: said, not a 500.
        let pdf = crate::heavy::TYPESETTING
            .run(move || letter::pdf(kind, &md, &ident, today))
            .await
            .map_err(|e| ActionError::Internal(e.to_string()))?
            .map_err(|e| {
                DomainError::rule(format!(
                    "{e}. The programme can change the letter's template, or the text it quotes."
                ))
            })?;
        let link = format!(
            "{}/engagements/{}/letters/{}",
            self.public_url,
            id,
            kind.slug()
        );
        // Mailed now to a sponsor who hears of each thing as it arrives;
        // the others find it on their home page (or in their digest).
        let hears = match &sponsor {
            Some(p) => self.store.settings(p.id).await?.notify == waymark_core::Notify::Each,
            None => false,
        };
        let mail = sponsor
            .iter()
            .filter(|_| hears)
            .map(|p| mail::sign_off_request(p.email.as_str(), &p.name, kind.title(), next, &link))
            .collect();
        let new = NewLetter {
            kind,
            markdown,
            html,
            pdf,
            facts: facts_json,
            template_version,
            mail,
        };
        Ok(self
            .store
            .issue_letter(actor, id, version, &new, today)
            .await?)
    }

    /// Keeps an uploaded file against the engagement and records it there.
    /// Its name loses any path; its type comes from its bytes, never from
    /// the sender; a blank title becomes the file's name.
    pub async fn upload(
        &self,
        actor: &Actor,
        id: EngagementId,
        version: u64,
        title: &str,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> Result<Engagement, StoreError> {
        let name = waymark_store::clean_name(file_name);
        let content_type = waymark_store::classify(&name, &bytes)?;
        let title = if title.trim().is_empty() {
            name.clone()
        } else {
            title.trim().to_string()
        };
        let new = NewFile {
            title,
            name,
            content_type: content_type.to_string(),
            bytes,
        };
        self.store.attach_file(actor, id, version, new, now()).await
    }
}

/// An upload form as it arrived: its text fields and its file.
#[derive(Debug, Default)]
pub struct UploadForm {
    fields: HashMap<String, String>,
    /// (file name as sent, bytes)
    pub file: Option<(String, Vec<u8>)>,
}

impl UploadForm {
    /// A text field, or "" when it was not sent.
    pub fn field(&self, name: &str) -> &str {
        self.fields.get(name).map_or("", String::as_str)
    }
}

/// Why an upload form could not be read; nothing of it is kept.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(
        "the upload is larger than this service takes: a file of up to {} MB",
        waymark_store::MAX_FILE_BYTES / (1024 * 1024)
    )]
    TooLarge,
    /// The body was cut short or broken (the connection dropped, say).
    #[error("the upload did not arrive whole; send it again")]
    CutShort,
    /// A text field is not UTF-8: kept, it would not say what was typed.
    #[error("the form’s {0} is not UTF-8 text; send it again from the page")]
    NotText(String),
}

/// A field's name as sent, fit to repeat in a message: the sender chose it,
/// so only its first 40 letters, digits, `-` and `_`.
fn field_name(sent: &str) -> String {
    let name: String = sent
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(40)
        .collect();
    if name.is_empty() {
        "field".to_string()
    } else {
        format!("“{name}”")
    }
}

/// Reads a multipart upload form: the field named `file` is the file, every
/// other field is text. The workspace's form and the API's read it alike.
pub async fn read_upload(form: &mut axum::extract::Multipart) -> Result<UploadForm, UploadError> {
    let cut = |e: axum::extract::multipart::MultipartError| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            UploadError::TooLarge
        } else {
            UploadError::CutShort
        }
    };
    let mut u = UploadForm::default();
    while let Some(field) = form.next_field().await.map_err(cut)? {
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(str::to_string);
        let data = field.bytes().await.map_err(cut)?;
        if name == "file" {
            u.file = Some((file_name.unwrap_or_default(), data.to_vec()));
        } else {
            let text = String::from_utf8(data.to_vec())
                .map_err(|_| UploadError::NotText(field_name(&name)))?;
            u.fields.insert(name, text);
        }
    }
    Ok(u)
}

impl Actions {
    /// Checks the article typed (by the core, every problem at once), saves
    /// it as the article `id` (`None`: a new one) seen at `expected`, and
    /// with `Publish` or `Archive` renders the guide's pages it touches.
    /// Returns the article's id.
    pub async fn write_article(
        &self,
        actor: &Actor,
        model: &waymark_model::Model,
        w: ArticleWrite<'_>,
    ) -> Result<i64, ArticleError> {
        let ArticleWrite {
            id,
            expected,
            input,
            owner,
            action,
        } = w;
        use waymark_core::knowledge;
        let mut input = input.clone();
        let current = match id {
            Some(id) => Some(
                self.store
                    .article(id)
                    .await
                    .map_err(ArticleError::Store)?
                    .ok_or(ArticleError::Store(StoreError::Domain(
                        DomainError::NotFound,
                    )))?,
            ),
            None => None,
        };
        if let Some(c) = &current {
            // The address is fixed once the article exists.
            input.slug = c.article.slug.clone();
        }
        // A file in the content folder wins at its address: an article
        // written here is not published over it.
        let slug = match &current {
            Some(c) => c.article.slug.clone(),
            None if input.slug.trim().is_empty() => knowledge::slug_of(&input.title),
            None => input.slug.trim().to_string(),
        };
        if action == knowledge::ArticleAction::Publish
            && let Some(g) = &self.guide
            && g.source().articles.iter().any(|a| a.slug == slug)
        {
            return Err(ArticleError::Fields(vec![DomainError::invalid(
                "slug",
                format!(
                    "the content folder has an article file at this address ({slug}); change the file instead, or write this one at another address"
                ),
            )]));
        }
        let article = match (&current, action) {
            // Archiving changes nothing typed: an article past its review
            // date is archived as it is.
            (Some(c), knowledge::ArticleAction::Archive) => c.article.clone(),
            _ => knowledge::check(&input, model, &waymark_core::today(now()))
                .map_err(ArticleError::Fields)?,
        };
        let id = self
            .store
            .save_article(actor, model, id, expected, &article, owner, action, now())
            .await
            .map_err(ArticleError::Store)?;
        if action != knowledge::ArticleAction::Save {
            self.refresh_guide(Some(vec![article.slug.clone()]))
                .await
                .map_err(ArticleError::Internal)?;
        }
        Ok(id)
    }

    /// Puts FAQ entry `article` at `position` and shows the new order on
    /// the served guide.
    pub async fn move_faq_entry(
        &self,
        actor: &Actor,
        article: i64,
        position: i64,
    ) -> Result<Vec<waymark_store::FaqEntry>, ArticleError> {
        let entries = self
            .store
            .move_faq_entry(actor, article, position)
            .await
            .map_err(ArticleError::Store)?;
        self.refresh_guide(Some(Vec::new()))
            .await
            .map_err(ArticleError::Internal)?;
        Ok(entries)
    }

    /// Shows what is published now on the served guide: only the pages
    /// the `changed` articles touch, or (`None`) every page.
    pub async fn refresh_guide(&self, changed: Option<Vec<String>>) -> Result<(), String> {
        let Some(guide) = self.guide.clone() else {
            return Ok(());
        };
        let p = crate::app::published(&self.store, Some(""))
            .await
            .map_err(|e| e.to_string())?;
        tokio::task::spawn_blocking(move || guide.publish(p, changed.as_deref()))
            .await
            .map_err(|e| format!("the guide's render stopped: {e}"))?
            .map_err(|e| format!("cannot render the guide: {e}"))?;
        Ok(())
    }
}

/// The mapping `model diff` proposes from pinned version `from` to the
/// current model (`pages`, pinned here so the migration can name it). The
/// workspace's migration page and the API both start from it.
pub async fn propose_migration(
    store: &Store,
    pages: &[waymark_model::SourceFile],
    from: &str,
) -> Result<waymark_core::migration::Mapping, StoreError> {
    let to = store.pin_model(pages, now()).await?;
    let old = store.pinned(from).await?;
    let new = store.model(&to).await?;
    let d = waymark_model::diff::diff(&old, &new);
    Ok(waymark_core::migration::Mapping::propose(from, &to, &d))
}

/// Where a converted enquiry's engagement goes: an agency Waymark knows,
/// or one to add.
#[derive(Debug, Clone)]
pub enum ConvertAgency {
    Existing(waymark_core::AgencyId),
    New(waymark_core::NewAgency),
}

/// How to convert an enquiry: whose engagement, in which mode, and
/// whether its contact is invited as the agency's executive sponsor.
#[derive(Debug, Clone)]
pub struct Convert {
    pub agency: ConvertAgency,
    pub mode: waymark_core::Mode,
    pub invite_sponsor: bool,
}

/// What converting an enquiry did.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Conversion {
    #[schema(value_type = i64)]
    pub engagement: EngagementId,
    #[schema(value_type = i64)]
    pub agency: waymark_core::AgencyId,
    /// The enquiry's contact, made the agency's executive sponsor, when asked.
    pub sponsor: Option<SponsorInvite>,
}

/// The enquiry's contact as the agency's executive sponsor.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SponsorInvite {
    pub name: String,
    pub email: String,
    /// Their one-time link to set a password (also mailed); none when they
    /// had an account already.
    pub link: Option<String>,
    /// Named sponsor on the engagement (a Do it Yourself engagement names
    /// nobody: it is read-only from its start).
    pub named: bool,
    /// The address already has an account, so nothing was given to it: an
    /// enquiry's address is not proof of who sent it (anyone can type it
    /// into the form or a mail's From). A programme admin adds the role
    /// from the person's page once they know it is them.
    pub existing: bool,
}

impl Actions {
    /// Turns an open enquiry into an engagement: the agency (added first
    /// when new), an engagement on the current model, the enquiry's
    /// `Converted` event (its attachments move onto the engagement), and,
    /// when asked, its contact invited as the agency's executive sponsor
    /// (a new account only: the invitation goes to the address, so only
    /// its owner can take it up). The workspace's form and the API both
    /// come here.
    pub async fn convert_enquiry(
        &self,
        actor: &Actor,
        pages: &[waymark_model::SourceFile],
        id: i64,
        how: Convert,
        t: waymark_core::Timestamp,
    ) -> Result<Conversion, StoreError> {
        let (enq, _, _) = self.store.enquiry(actor, id).await?;
        // One conversion at a time, claimed before anything is added for it.
        self.store.claim_enquiry(actor, id, t).await?;
        let converted = self.convert_claimed(actor, pages, &enq, how, t).await;
        // Done or refused, the claim ends (a crash leaves it to lapse).
        let released = self.store.release_enquiry(id).await;
        let converted = converted?;
        released?;
        Ok(converted)
    }

    async fn convert_claimed(
        &self,
        actor: &Actor,
        pages: &[waymark_model::SourceFile],
        enq: &waymark_store::Enquiry,
        how: Convert,
        t: waymark_core::Timestamp,
    ) -> Result<Conversion, StoreError> {
        let Convert {
            agency,
            mode,
            invite_sponsor,
        } = how;
        let id = enq.id;
        let agency = match agency {
            ConvertAgency::New(new) => {
                actor.may_add_agency()?;
                self.store.add_agency(&new, t).await?
            }
            ConvertAgency::Existing(a) => match self.store.agency(a).await? {
                Some(_) => a,
                None => {
                    return Err(DomainError::invalid(
                        "agency",
                        "choose one of the agencies Waymark knows, or a new one",
                    )
                    .into());
                }
            },
        };
        let hash = self.store.pin_model(pages, t).await?;
        let e = self
            .store
            .start_engagement(actor, agency, mode, &hash, t)
            .await?;
        let step = waymark_core::enquiry::EnquiryCommand::Convert {
            agency,
            engagement: e.id,
        };
        self.store.triage(actor, id, &step, t).await?;
        let sponsor = if invite_sponsor {
            Some(self.invite_sponsor(actor, enq, agency, e.id, t).await?)
        } else {
            None
        };
        Ok(Conversion {
            engagement: e.id,
            agency,
            sponsor,
        })
    }

    /// Gives the enquiry's contact an account as the agency's executive
    /// sponsor, names them sponsor on the engagement, and emails the invite.
    /// Someone who already has an account is named sponsor without a new one.
    async fn invite_sponsor(
        &self,
        actor: &Actor,
        enq: &waymark_store::Enquiry,
        agency: waymark_core::AgencyId,
        engagement: EngagementId,
        t: waymark_core::Timestamp,
    ) -> Result<SponsorInvite, StoreError> {
        let new = waymark_core::NewPerson::parse(&enq.contact_name, &enq.contact_email)?;
        let role = waymark_core::Role::AgencyMember {
            agency,
            sponsor: true,
        };
        let (person, link) = match self.store.person_by_email(&new.email).await? {
            // Someone with an account already: nothing is given to them on
            // the strength of an address anyone could have typed.
            Some(_) => {
                return Ok(SponsorInvite {
                    name: new.name,
                    email: new.email.as_str().to_string(),
                    link: None,
                    named: false,
                    existing: true,
                });
            }
            None => {
                let p = self.store.add_person_with_roles(&new, &[role], t).await?;
                let token = self
                    .store
                    .create_invite(
                        p,
                        actor.person,
                        t,
                        waymark_core::Timestamp(t.0 + SPONSOR_INVITE_DAYS * 86_400),
                    )
                    .await?;
                let link = mail::invite_link(&self.public_url, &token);
                self.store
                    .queue_mail(
                        &[mail::invite(
                            new.email.as_str(),
                            &new.name,
                            &link,
                            SPONSOR_INVITE_DAYS,
                        )],
                        t,
                    )
                    .await?;
                (p, Some(link))
            }
        };
        let e = self.store.engagement(actor, engagement).await?;
        // A Do it Yourself engagement is read-only from its start: the person
        // holds the agency's sponsor role, but nobody is named on the record.
        let set = Command::SetSponsor { person };
        let named = waymark_core::may(actor, &e, &set);
        if named {
            self.store
                .execute(actor, engagement, e.version, &set, t)
                .await?;
        }
        Ok(SponsorInvite {
            name: new.name,
            email: new.email.as_str().to_string(),
            link,
            named,
            existing: false,
        })
    }
}

impl Actions {
    /// Subscribes `url` to event types for `actor`, checked by the core
    /// against what the operator allows; returns the subscription and its
    /// signing secret, shown once. The workspace's form and the API both
    /// come here.
    pub async fn subscribe(
        &self,
        actor: &Actor,
        url: &str,
        types: &[String],
        description: &str,
        t: waymark_core::Timestamp,
    ) -> Result<(waymark_core::webhook::Subscription, String), StoreError> {
        let new = waymark_core::webhook::NewSubscription::parse(
            actor,
            url,
            types,
            description,
            &self.webhook_allow,
        )?;
        self.store.create_webhook(actor, &new, t).await
    }
}

/// How long a sponsor's invitation link lasts.
const SPONSOR_INVITE_DAYS: i64 = 7;
