//! Sending the outbox over SMTP (lettre), and the messages Waymark writes.
//!
//! Every message is queued in the store's outbox first; [`Sender`] claims
//! what is due, sends it, and marks it sent, or records the failure so the
//! store retries it later with backoff. Without `--smtp-url` nothing is
//! sent and admins read the outbox at `/outbox`.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use waymark_store::{Mail, OutboxEntry, Store, StoreError, now};

/// Why mail could not be set up, written or sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("--mail-from “{from}” is not an address: {reason}")]
    From { from: String, reason: String },
    #[error("--smtp-url is not usable: {0}")]
    Url(String),
    #[error("the recipient “{to}” is not an address: {reason}")]
    Recipient { to: String, reason: String },
    #[error("the attachment type “{kind}” is not valid: {reason}")]
    AttachmentType { kind: String, reason: String },
    #[error("the message could not be built: {0}")]
    Build(String),
    #[error("{0}")]
    Send(String),
}

/// A header whose value is plain text, as this sender writes it.
macro_rules! text_header {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        struct $name(String);

        impl lettre::message::header::Header for $name {
            fn name() -> lettre::message::header::HeaderName {
                lettre::message::header::HeaderName::new_from_ascii_str($field)
            }

            fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
                Ok($name(s.to_string()))
            }

            fn display(&self) -> lettre::message::header::HeaderValue {
                lettre::message::header::HeaderValue::new(Self::name(), self.0.clone())
            }
        }
    };
}

text_header!(
    /// RFC 3834's `Auto-Submitted` header, on messages no person wrote.
    AutoSubmitted,
    "Auto-Submitted"
);
text_header!(
    /// RFC 2369's `List-Unsubscribe`: `<https://…>`.
    ListUnsubscribe,
    "List-Unsubscribe"
);
text_header!(
    /// RFC 8058's `List-Unsubscribe-Post`: the address takes one POST.
    ListUnsubscribePost,
    "List-Unsubscribe-Post"
);

/// Whether `url` may go between a header's angle brackets as it is: an
/// https or http address of printable ASCII, with no space or bracket.
fn header_url(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 500
        && url
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'>' && b != b'<')
}

/// A subject as lettre should send it: lettre writes a word of plain ASCII
/// as it is, so a title typed as `=?utf-8?q?...?=` would reach the reader
/// decoded, as words Waymark never wrote. A word joiner (U+2060, which
/// shows as nothing) after each `=` before a `?` makes such a word one lettre
/// encodes, and the reader sees the characters that were typed.
fn subject_words(subject: &str) -> std::borrow::Cow<'_, str> {
    if subject.contains("=?") {
        subject.replace("=?", "=\u{2060}?").into()
    } else {
        subject.into()
    }
}

/// Delivers the outbox through one SMTP server.
#[derive(Clone)]
pub struct Sender {
    from: Mailbox,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sender(from {})", self.from)
    }
}

impl Sender {
    /// `smtp_url`: `smtp://host:25` (plain, for a local relay),
    /// `smtp://user:pass@host:587?tls=required` (STARTTLS) or
    /// `smtps://user:pass@host` (TLS). `from`: the programme's address.
    pub fn new(smtp_url: &str, from: &str) -> Result<Sender, MailError> {
        let from: Mailbox = from.parse().map_err(|e| MailError::From {
            from: from.to_string(),
            reason: format!("{e}"),
        })?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .map_err(|e| MailError::Url(e.to_string()))?
            .timeout(Some(Duration::from_secs(20)))
            .build();
        Ok(Sender { from, transport })
    }

    /// Whether `smtp_url` and `from` would make a sender, without
    /// connecting: for checking settings before anything starts.
    pub fn check(smtp_url: Option<&str>, from: &str) -> Result<(), MailError> {
        from.parse::<Mailbox>().map_err(|e| MailError::From {
            from: from.to_string(),
            reason: format!("{e}"),
        })?;
        if let Some(url) = smtp_url {
            AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                .map_err(|e| MailError::Url(e.to_string()))?;
        }
        Ok(())
    }

    fn message(&self, m: &OutboxEntry) -> Result<Message, MailError> {
        let to: Mailbox = m.recipient.parse().map_err(|e| MailError::Recipient {
            to: m.recipient.clone(),
            reason: format!("{e}"),
        })?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject_words(&m.subject))
            .message_id(Some(match &m.message_id {
                Some(id) => format!("<{id}>"),
                None => format!("<outbox-{}.{}@waymark>", m.id, m.created_at.0),
            }));
        // Ids are kept without their angle brackets (as mail-parser reads them).
        if let Some(r) = &m.in_reply_to {
            builder = builder.in_reply_to(format!("<{r}>"));
        }
        if let Some(r) = &m.references {
            let refs: Vec<String> = r.split_whitespace().map(|i| format!("<{i}>")).collect();
            builder = builder.references(refs.join(" "));
        }
        if let Some(a) = &m.auto_submitted {
            builder = builder.header(AutoSubmitted(a.clone()));
        }
        // One click stops it (RFC 8058); an address that could break the
        // header is left out rather than sent.
        if let Some(u) = m.list_unsubscribe.as_deref().filter(|u| header_url(u)) {
            builder = builder
                .header(ListUnsubscribe(format!("<{u}>")))
                .header(ListUnsubscribePost("List-Unsubscribe=One-Click".into()));
        }
        let text = SinglePart::plain(m.body.clone());
        let built = match (&m.attachment_name, &m.attachment_type, &m.attachment) {
            (Some(name), Some(kind), Some(content)) => {
                let kind = ContentType::parse(kind).map_err(|e| MailError::AttachmentType {
                    kind: kind.clone(),
                    reason: format!("{e}"),
                })?;
                builder.multipart(
                    MultiPart::mixed()
                        .singlepart(text)
                        .singlepart(Attachment::new(name.clone()).body(content.clone(), kind)),
                )
            }
            _ => builder.singlepart(text),
        };
        built.map_err(|e| MailError::Build(e.to_string()))
    }

    /// Sends what is due now; returns (sent, failed).
    pub async fn send_due(&self, store: &Store) -> Result<(usize, usize), StoreError> {
        let (_, stop) = tokio::sync::watch::channel(false);
        self.send_due_until(store, &stop).await
    }

    /// Sends what is due now, one message at a time; once `stop` says so,
    /// the messages claimed and not yet tried go back to the outbox at
    /// once (not when their lease runs out), for another instance or the
    /// next start.
    async fn send_due_until(
        &self,
        store: &Store,
        stop: &tokio::sync::watch::Receiver<bool>,
    ) -> Result<(usize, usize), StoreError> {
        let due = store.claim_mail(now(), 20).await?;
        let (mut sent, mut failed) = (0, 0);
        let mut due = due.into_iter();
        while let Some(m) = due.next() {
            if *stop.borrow() {
                let back: Vec<i64> = std::iter::once(m.id).chain(due.map(|m| m.id)).collect();
                store.release_mail(&back, now()).await?;
                break;
            }
            // A message that cannot be built, or that the server refuses
            // for good (a 5xx), is not tried again; anything else is.
            let result = match self.message(&m) {
                Ok(msg) => self.transport.send(msg).await.map_err(|e| {
                    let permanent = e.is_permanent();
                    (MailError::Send(e.to_string()), permanent)
                }),
                Err(e) => Err((e, true)),
            };
            let recorded = match &result {
                Ok(_) => store.mail_sent(m.id, now()).await,
                Err((e, true)) => store.mail_refused(m.id, &e.to_string(), now()).await,
                Err((e, false)) => store.mail_failed(m.id, &e.to_string(), now()).await,
            };
            if let Err(e) = recorded {
                tracing::error!(
                    "mail: could not record the outcome of message {}: {e}",
                    m.id
                );
            }
            let result = result.map_err(|(e, permanent)| {
                if permanent {
                    tracing::warn!(
                        "mail: message {} to {} refused for good, not retried: {e}",
                        m.id,
                        m.recipient
                    );
                }
                e
            });
            match result {
                Ok(_) => {
                    crate::ops::METRICS.mail_sent();
                    sent += 1;
                }
                Err(e) => {
                    crate::ops::METRICS.mail_failed();
                    tracing::warn!("mail: message {} to {} not sent: {e}", m.id, m.recipient);
                    failed += 1;
                }
            }
        }
        Ok((sent, failed))
    }

    /// Runs until `stop` says so: sends what is due every few seconds.
    pub async fn run(self, store: Store, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            if let Err(e) = self.send_due_until(&store, &stop).await {
                tracing::error!("mail: the outbox could not be read: {e}");
            }
            if *stop.borrow() {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(3)) => {}
                _ = stop.wait_for(|s| *s) => {}
            }
        }
        tracing::info!("mail: stopped");
    }
}

/// The programme's signature under every message.
pub const SIGNATURE: &str = "\n\n--\nProtected Utility programme\nDigital Transformation Agency";

/// The acknowledgement of a new enquiry: an automatic answer (RFC 3834),
/// threaded on the sender's message so that their reply finds the enquiry.
/// `from` is the programme's address (for its Message-ID). It repeats
/// nothing the sender wrote (not even their name): the address a request
/// names may not be its writer's, and an acknowledgement must not carry a
/// stranger's words to it.
pub fn enquiry_received(to: &str, from: &str) -> Mail {
    Mail {
        thread: own_id(from),
        auto_submitted: Some("auto-replied"),
        unsubscribe: None,
        secret: None,
        kind: "enquiry_acknowledgement".into(),
        to: to.into(),
        subject: "We have received your request for support".into(),
        body: format!(
            "Hello,\n\nThank you for asking about the Protected Utility blueprint. \
             The programme team has your request and will contact you within five working days to \
             arrange an initial workshop. To add to your request, reply to this message. If you did \
             not write to us, you need do nothing.{SIGNATURE}"
        ),
        attachment: None,
    }
}

/// A community registration's verification link. `from` is the
/// programme's address (for the Message-ID).
/// It repeats nothing the registrant typed (not even their name): anyone may
/// type any name, and the programme's mail must not carry a stranger's
/// words or links.
pub fn verify_registration(to: &str, link: &str, from: &str) -> Mail {
    Mail {
        thread: own_id(from),
        auto_submitted: Some("auto-generated"),
        unsubscribe: None,
        secret: None,
        kind: "registration".into(),
        to: to.into(),
        subject: "Confirm your address to join the Protected Utility community".into(),
        body: format!(
            "Hello,\n\nTo finish joining the Protected Utility community, confirm this address \
             and choose your password here (the link works once, for three days):\n\n{link}\n\n\
             If you did not ask to join, you need do nothing: no account is made.{SIGNATURE}"
        ),
        attachment: None,
    }
}

/// To an address that registered but already has an account: no new
/// account, and where to sign in.
pub fn already_registered(to: &str, login: &str, from: &str) -> Mail {
    Mail {
        thread: own_id(from),
        auto_submitted: Some("auto-generated"),
        unsubscribe: None,
        secret: None,
        kind: "registration_existing".into(),
        to: to.into(),
        subject: "You already have a Waymark account".into(),
        body: format!(
            "Hello,\n\nSomeone asked to join the Protected Utility community with this address, \
             which already has an account. Sign in here:\n\n{login}\n\nIf you have forgotten your \
             password, ask the programme (reply to this message). If you did not ask, you need do \
             nothing.{SIGNATURE}"
        ),
        attachment: None,
    }
}

/// A message's own Message-ID in the programme's domain.
fn own_id(from: &str) -> Option<waymark_store::MailThread> {
    waymark_store::new_message_id(from)
        .ok()
        .map(|message_id| waymark_store::MailThread {
            message_id,
            ..Default::default()
        })
}

/// A change to how someone signs in, told to them (a second factor set up,
/// turned off or reset; their address corrected), so that one they did not
/// make does not go unseen. `what` is a sentence; `settings` their page.
pub fn security_notice(to: &str, name: &str, what: &str, settings: &str) -> Mail {
    Mail {
        kind: "security".into(),
        to: to.into(),
        subject: "A change to how you sign in to Waymark".into(),
        body: format!(
            "Dear {name},\n\n{what}\n\nIf you made or asked for this change, you need do nothing. \
             If not, sign in and check your settings at once, and tell the programme's admins:\n\n{settings}{SIGNATURE}"
        ),
        auto_submitted: Some("auto-generated"),
        ..Default::default()
    }
}

/// The address of an invitation's page at `base` (the public URL).
pub fn invite_link(base: &str, token: &str) -> String {
    format!("{}/invite/{token}", base.trim_end_matches('/'))
}

/// An invitation to choose a password; `days` is how long the link lasts.
pub fn invite(to: &str, name: &str, link: &str, days: i64) -> Mail {
    Mail {
        kind: "invite".into(),
        to: to.into(),
        subject: "Your Waymark account".into(),
        body: format!(
            "Dear {name},\n\nYou have been given an account in Waymark, where the Protected Utility \
             engagement is recorded. Choose your password here (the link works once, within {days} days):\n\n{link}{SIGNATURE}"
        ),
        attachment: None,
        ..Default::default()
    }
}

pub fn workshop(to: &str, subject: &str, body: &str, ics: &str, method: &str) -> Mail {
    Mail {
        kind: "workshop".into(),
        to: to.into(),
        subject: subject.into(),
        body: format!("{body}{SIGNATURE}"),
        attachment: Some((
            "invite.ics".into(),
            format!("text/calendar; method={method}; charset=utf-8"),
            ics.into(),
        )),
        ..Default::default()
    }
}

/// A survey's invitation: `link` carries this person's single-use token,
/// which the outbox forgets once the message is sent.
pub fn survey_invitation(
    to: &str,
    name: &str,
    d: &waymark_core::survey::Definition,
    link: &str,
) -> Mail {
    let who = if d.anonymous {
        "Your answers are anonymous: nothing kept with them says who gave them."
    } else {
        "Your name is kept with your answers."
    };
    Mail {
        kind: "survey_invitation".into(),
        to: to.into(),
        subject: format!("Your views, please: {}", d.title),
        body: format!(
            "Dear {name},\n\nThe Protected Utility programme asks for your views in \"{title}\". {who} \
             Answer by {closes} here (the link is yours alone and takes one answer):\n\n{link}{SIGNATURE}",
            title = d.title,
            closes = waymark_core::benefit::spoken(&d.closes_on),
        ),
        auto_submitted: Some("auto-generated"),
        ..Default::default()
    }
}

pub fn sign_off_request(to: &str, name: &str, title: &str, version: u32, link: &str) -> Mail {
    Mail {
        kind: "sign_off_request".into(),
        to: to.into(),
        subject: format!("Please sign the {title} (version {version})"),
        body: format!(
            "Dear {name},\n\nVersion {version} of the {title} is ready for your sign-off as \
             executive sponsor. Read it and sign it here:\n\n{link}{SIGNATURE}"
        ),
        attachment: None,
        ..Default::default()
    }
}

pub fn owner_set(
    to: &str,
    name: &str,
    agency: &str,
    what: &str,
    due: Option<&str>,
    link: &str,
) -> Mail {
    let due = due.map_or(String::new(), |d| format!(", due {d}"));
    Mail {
        kind: "owner_set".into(),
        to: to.into(),
        subject: format!(
            "You own {} for {}",
            waymark_core::one_line(what),
            waymark_core::one_line(agency)
        ),
        body: format!(
            "Dear {name},\n\nYou are now the owner of {what} in {agency}'s Protected Utility \
             engagement{due}. It waits on your home page until it is done:\n\n{link}{SIGNATURE}"
        ),
        attachment: None,
        ..Default::default()
    }
}

/// The most characters of an answer a notice mail quotes.
const QUOTED: usize = 1_200;

/// A watched question's news, to one watcher, with its one-click
/// unsubscribe; `base` is the site's public address.
pub fn community_notice(
    to: &waymark_store::Recipient,
    n: &waymark_store::PendingNotice,
    base: &str,
) -> Mail {
    use waymark_core::community::Notice;
    let link = format!(
        "{base}/community/q/{}?post={}#post-{}",
        n.topic, n.post, n.post
    );
    let stop = format!("{base}/unsubscribe/{}", to.key);
    let quoted = quoted(&n.body);
    let what = match n.kind {
        Notice::Answered => format!("{} answered “{}”:", n.actor_name, n.title),
        Notice::Accepted => format!("{} accepted this answer to “{}”:", n.actor_name, n.title),
    };
    Mail {
        kind: format!("community_{}", n.kind.as_str()),
        to: to.email.clone(),
        subject: waymark_core::one_line(&n.kind.headline(&n.title)),
        body: format!(
            "Dear {},\n\n{what}\n\n{quoted}\n\nRead it and reply: {link}\n\n\
             You get this because you watch {}. To stop, open {stop}\n\
             To hear once a day, or not by mail at all, change your settings: {base}/settings{SIGNATURE}",
            to.name,
            waymark_core::one_line(&to.watching)
        ),
        auto_submitted: Some("auto-generated"),
        unsubscribe: Some(stop),
        ..Default::default()
    }
}

/// The start of what someone wrote, as a mail quotes it (`> ` before
/// each line; `[…]` when it goes on).
fn quoted(body: &str) -> String {
    let mut start: String = body.chars().take(QUOTED).collect();
    if start.len() < body.len() {
        start.push_str(" […]");
    }
    start
        .lines()
        .map(|l| format!("> {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A person told that someone mentioned them in an engagement's discussion.
pub fn mention(
    m: &waymark_store::PendingMention,
    words: &waymark_store::MentionMail,
    base: &str,
) -> Mail {
    let link = format!(
        "{base}/engagements/{}/discussion?about={}#comment-{}",
        m.engagement, words.anchor, m.comment
    );
    let quoted = quoted(&words.body);
    Mail {
        kind: "mention".into(),
        to: m.email.clone(),
        subject: waymark_core::one_line(&format!(
            "{} mentioned you: {}",
            m.actor_name, words.agency
        )),
        body: format!(
            "Dear {},\n\n{} mentioned you in {}'s engagement, beside “{}”:\n\n{quoted}\n\n\
             Read it and reply: {link}\n\n\
             To hear once a day, or not by mail at all, change your settings: {base}/settings{SIGNATURE}",
            m.name,
            m.actor_name,
            words.agency,
            waymark_core::one_line(&words.about)
        ),
        auto_submitted: Some("auto-generated"),
        ..Default::default()
    }
}

/// A post's author told that the programme hid it, and why.
pub fn post_hidden(h: &waymark_store::HiddenPost, base: &str) -> Mail {
    // When the whole question is hidden too and they did not ask it, it is
    // neither named nor linked.
    let (subject, what) = if h.readable {
        (
            waymark_core::one_line(&format!("Your post was hidden: {}", h.title)),
            format!(
                "your post on “{}” in the community. Others no longer see it; you still do, \
                 here:\n\n{base}/community/q/{}",
                h.title, h.question
            ),
        )
    } else {
        (
            "Your post in the community was hidden".to_string(),
            "your answer to a question in the community. The question itself is hidden too, \
             so it no longer opens for you."
                .to_string(),
        )
    };
    Mail {
        kind: "community_hidden".into(),
        to: h.email.clone(),
        subject,
        body: format!(
            "Dear {},\n\nThe programme hid {what}\n\nThe reason given: {}\n\nIf you think this \
             is a mistake, reply to this message or write to the programme.{SIGNATURE}",
            h.name,
            waymark_core::one_line(&h.reason)
        ),
        auto_submitted: Some("auto-generated"),
        ..Default::default()
    }
}

/// Daily digest: everything waiting for `name`, as lines; `base` is the
/// site's public address.
pub fn digest(to: &str, name: &str, day: &str, lines: &[String], base: &str) -> Mail {
    Mail {
        kind: "digest".into(),
        to: to.into(),
        subject: format!("Waiting for you in Waymark ({day})"),
        body: format!(
            "Dear {name},\n\nThis is what waits for you today:\n\n{}\n\nYour home page lists them \
             until they are done: {base}/engagements\n\nTo hear of each as it arrives, or not by \
             mail at all, change your settings: {base}/settings{SIGNATURE}",
            lines
                .iter()
                .map(|l| format!("- {}", waymark_core::one_line(l)))
                .collect::<Vec<_>>()
                .join("\n")
        ),
        attachment: None,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(subject: &str) -> OutboxEntry {
        OutboxEntry {
            id: 1,
            kind: "test".into(),
            recipient: "reader@agency.gov.au".into(),
            subject: subject.into(),
            body: "Body".into(),
            attachment_name: None,
            attachment_type: None,
            attachment: None,
            created_at: waymark_core::Timestamp(0),
            attempts: 0,
            next_attempt_at: waymark_core::Timestamp(0),
            sent_at: None,
            last_error: None,
            message_id: None,
            in_reply_to: None,
            references: None,
            auto_submitted: None,
            gave_up_at: None,
            list_unsubscribe: None,
        }
    }

    /// What a mail program shows as the subject of the message sent.
    fn shown(subject: &str) -> String {
        let sender = Sender::new("smtp://127.0.0.1:2525", "Waymark <waymark@dta.gov.au>").unwrap();
        let raw = sender.message(&entry(subject)).unwrap().formatted();
        let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
        parsed.subject().unwrap().to_string()
    }

    #[test]
    fn a_typed_encoded_word_reaches_the_reader_as_typed() {
        for typed in [
            "New answer: =?utf-8?q?Your_account_is_suspended?=",
            "=?utf-8?b?SGFja2Vk?=",
            "a =? b ?= c",
        ] {
            let seen = shown(typed);
            assert_eq!(seen.replace('\u{2060}', ""), typed, "{seen:?}");
        }
        // Nothing else changes.
        assert_eq!(
            shown("New answer: Who signs the letter?"),
            "New answer: Who signs the letter?"
        );
        assert_eq!(shown("Réponse: ça va"), "Réponse: ça va");
    }
}
