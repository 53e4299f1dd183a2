//! Mail into enquiries: reading `.eml` files, mbox files and Maildir
//! folders, and turning one message into the enquiry it makes. The CLI's
//! `intake import` uses it; a mailbox reader can too.
//!
//! Each message is keyed by its Message-ID (or, without one, by the hash of
//! its bytes), so reading a mailbox again adds nothing.
//!
//! [`read`] turns one message's bytes into what the store's `take_mail`
//! needs: who sent it, the thread it names, whether a robot wrote it, a
//! workshop answer it carries, or why it cannot be read. `intake import`
//! and the IMAP reader (`crate::imap`) both take mail through [`take`].

use std::path::Path;

use mail_parser::{HeaderValue, MessageParser, MimeHeaders};
use sha2::{Digest, Sha256};
use waymark_core::mailbox::{self, Answer, CalendarReply};
use waymark_store::{
    Incoming, MAX_FILE_BYTES, MailboxKey, NewEnquiry, NewFile, Parsed, Store, StoreError, Taken,
    classify, clean_name,
};

/// One raw message and where it came from, for messages about it.
#[derive(Debug)]
pub struct Source {
    pub label: String,
    pub bytes: Vec<u8>,
}

/// Why a mailbox, or one message in it, could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0} is a folder but not a Maildir (it has no cur or new folder)")]
    NotMaildir(String),
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Message(String),
}

/// Every message in a `.eml` file, an mbox file or a Maildir folder. A
/// message that cannot be read is an `Err` in its place; the rest go on.
pub fn messages(path: &Path) -> Result<Vec<Result<Source, ReadError>>, ReadError> {
    let shown = path.display().to_string();
    let io = |source| ReadError::Io {
        path: shown.clone(),
        source,
    };
    if path.is_dir() {
        if !(path.join("cur").is_dir() || path.join("new").is_dir()) {
            return Err(ReadError::NotMaildir(shown));
        }
        let mut out = Vec::new();
        let folders =
            mail_parser::mailbox::maildir::FolderIterator::new(path, Some(".")).map_err(io)?;
        for folder in folders {
            match folder {
                Ok(messages) => {
                    for m in messages {
                        out.push(match m {
                            Ok(m) => Ok(Source {
                                label: m.path().display().to_string(),
                                bytes: m.unwrap_contents(),
                            }),
                            Err(e) => Err(ReadError::Message(format!(
                                "{shown}: a message could not be read: {e}"
                            ))),
                        });
                    }
                }
                Err(e) => out.push(Err(ReadError::Message(format!(
                    "{shown}: a folder could not be read: {e}"
                )))),
            }
        }
        return Ok(out);
    }
    let bytes = std::fs::read(path).map_err(io)?;
    if bytes.starts_with(b"From ") {
        let reader = std::io::BufReader::new(&bytes[..]);
        Ok(mail_parser::mailbox::mbox::MessageIterator::new(reader)
            .enumerate()
            .map(|(i, m)| match m {
                Ok(m) => Ok(Source {
                    label: format!("{shown}, message {}", i + 1),
                    bytes: m.unwrap_contents(),
                }),
                Err(e) => Err(ReadError::Message(format!(
                    "{shown}, message {}: could not be read: {e}",
                    i + 1
                ))),
            })
            .collect())
    } else {
        Ok(vec![Ok(Source {
            label: shown,
            bytes,
        })])
    }
}

/// Why a message makes no enquiry.
#[derive(Debug, thiserror::Error)]
pub enum NotAnEnquiry {
    #[error("it is not an email message (no headers could be read)")]
    NotMail,
    #[error("it has no From address, so there is no one to reply to")]
    NoFrom,
    #[error("its From header has no email address")]
    NoAddress,
    #[error("its From address cannot be replied to ({0})")]
    BadAddress(String),
}

/// The enquiry a message makes, or why it makes none.
pub fn enquiry(raw: &[u8]) -> Result<NewEnquiry, NotAnEnquiry> {
    let msg = MessageParser::default()
        .parse(raw)
        .filter(|m| !m.headers().is_empty())
        .ok_or(NotAnEnquiry::NotMail)?;
    let from = msg
        .from()
        .and_then(|a| a.first())
        .ok_or(NotAnEnquiry::NoFrom)?;
    let address = from
        .address()
        .map(str::trim)
        .filter(|a| a.contains('@'))
        .ok_or(NotAnEnquiry::NoAddress)?;
    let email = waymark_core::Email::parse(address)
        .map_err(|e| NotAnEnquiry::BadAddress(e.to_string()))?
        .as_str()
        .to_string();
    // Headers are kept as one clean line each: a decoded CR LF or a
    // direction override in a name never reaches a page or a mail.
    let name = from
        .name()
        .map(waymark_core::one_line)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| email.clone());
    // A message without a Message-ID is keyed by its exact bytes instead.
    let message_id = match msg.message_id() {
        Some(id) if !waymark_core::one_line(id).is_empty() => waymark_core::one_line(id),
        _ => format!("sha256:{:x}", Sha256::digest(raw)),
    };
    let domain = email.rsplit_once('@').map_or("", |(_, d)| d).to_string();
    let mut body: String = waymark_core::clean_lines(&msg.body_text(0).unwrap_or_default())
        .chars()
        .take(100_000)
        .collect();
    let mut attachments = Vec::new();
    for (i, part) in msg.attachments().enumerate() {
        let name = clean_name(
            part.attachment_name()
                .unwrap_or(&format!("attachment-{}", i + 1)),
        );
        let bytes = part.contents().to_vec();
        if bytes.len() > MAX_FILE_BYTES {
            body.push_str(&format!(
                "\n\n[The attachment “{name}” ({} MB) was too large to keep.]",
                bytes.len() / (1024 * 1024)
            ));
            continue;
        }
        if bytes.is_empty() {
            continue;
        }
        // Types we can check are kept as what they are; anything else is
        // kept too, but only ever served as a download.
        let content_type = classify(&name, &bytes).unwrap_or("application/octet-stream");
        attachments.push(NewFile {
            title: format!("Email attachment: {name}"),
            name,
            content_type: content_type.to_string(),
            bytes,
        });
    }
    Ok(NewEnquiry {
        source: "email".into(),
        message_id: Some(message_id),
        agency_name: domain,
        contact_name: name.chars().take(200).collect(),
        contact_email: email,
        contact_role: String::new(),
        subject: Some(waymark_core::one_line(msg.subject().unwrap_or_default()))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "(no subject)".into())
            .chars()
            .take(300)
            .collect(),
        body,
        timeframe: String::new(),
        preference: String::new(),
        attachments,
    })
}

/// The header block kept with a record, at most this long.
const MAX_HEADERS: usize = 64 * 1024;

/// A message's header block as text, bounded.
fn header_block(raw: &[u8]) -> String {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n"))
        .unwrap_or(raw.len())
        .min(MAX_HEADERS);
    String::from_utf8_lossy(&raw[..end]).into_owned()
}

/// The ids a header names, as mail-parser gives them (without `<>`).
fn ids(v: &HeaderValue) -> Vec<String> {
    match v {
        HeaderValue::Text(t) => vec![t.to_string()],
        HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    }
    .into_iter()
    .filter_map(|i| mailbox::message_id(&i).map(str::to_string))
    .take(100)
    .collect()
}

/// Why a message's structure cannot be trusted, if it cannot.
fn broken(msg: &mail_parser::Message, raw: &[u8]) -> Option<String> {
    if let Some(ct) = msg.content_type()
        && ct.ctype().eq_ignore_ascii_case("multipart")
    {
        let Some(boundary) = ct.attribute("boundary").filter(|b| !b.is_empty()) else {
            return Some(
                "its MIME structure is broken: a multipart message with no boundary".into(),
            );
        };
        let marker = format!("--{boundary}");
        if !raw.windows(marker.len()).any(|w| w == marker.as_bytes()) {
            return Some(format!(
                "its MIME structure is broken: the boundary “{}” never appears",
                waymark_core::one_line(boundary)
            ));
        }
    }
    for part in &msg.parts {
        let is_text = part
            .content_type()
            .is_none_or(|c| c.ctype().eq_ignore_ascii_case("text"));
        if !is_text {
            continue;
        }
        let declared = part
            .content_type()
            .and_then(|c| c.attribute("charset"))
            .is_some();
        let body = raw
            .get(part.offset_body as usize..part.offset_end as usize)
            .unwrap_or_default();
        if !declared && !body.is_ascii() && std::str::from_utf8(body).is_err() {
            return Some(
                "its text is in a character set it does not declare, so it cannot be read faithfully"
                    .into(),
            );
        }
        if part.is_encoding_problem {
            return Some("a part of it could not be decoded".into());
        }
    }
    None
}

/// What a message's `text/calendar` parts say.
enum Calendar {
    /// An attendee's answer to an invitation.
    Answer(CalendarReply),
    /// An iTIP response that answers nothing Waymark records (a COUNTER,
    /// NEEDS-ACTION, DELEGATED, or a REPLY that cannot be read).
    Other,
    None,
}

/// iTIP methods by which a calendar answers rather than invites.
const RESPONSES: [&str; 4] = ["REPLY", "COUNTER", "REFRESH", "DECLINECOUNTER"];

/// What the message's calendar parts say (see [`Calendar`]).
fn calendar(msg: &mail_parser::Message) -> Calendar {
    let mut response = false;
    for part in &msg.parts {
        let Some(ct) = part.content_type() else {
            continue;
        };
        if ct.ctype().eq_ignore_ascii_case("text")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("calendar"))
        {
            let text = String::from_utf8_lossy(part.contents()).to_ascii_uppercase();
            let declared = ct.attribute("method").map(str::to_ascii_uppercase);
            response |= declared.is_some_and(|m| RESPONSES.contains(&m.trim()))
                || RESPONSES
                    .iter()
                    .any(|m| text.contains(&format!("METHOD:{m}")));
        }
    }
    match calendar_reply(msg) {
        Some(r) => Calendar::Answer(r),
        None if response => Calendar::Other,
        None => Calendar::None,
    }
}

/// The answer to a workshop invitation a message carries (an iTIP `REPLY`
/// in a `text/calendar` part), if any.
fn calendar_reply(msg: &mail_parser::Message) -> Option<CalendarReply> {
    for part in &msg.parts {
        let Some(ct) = part.content_type() else {
            continue;
        };
        if !(ct.ctype().eq_ignore_ascii_case("text")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("calendar")))
        {
            continue;
        }
        let text = String::from_utf8_lossy(part.contents()).into_owned();
        let unfolded = icalendar::parser::unfold(&text);
        let Ok(cal) = icalendar::parser::read_calendar(&unfolded) else {
            continue;
        };
        let is_reply = cal
            .properties
            .iter()
            .any(|p| p.name == "METHOD" && p.val.as_str().eq_ignore_ascii_case("REPLY"));
        if !is_reply {
            continue;
        }
        for event in cal.components.iter().filter(|c| c.name == "VEVENT") {
            let uid = event.find_prop("UID").map(|p| p.val.as_str().to_string());
            let attendee = event.find_prop("ATTENDEE");
            let (Some(uid), Some(attendee)) = (uid, attendee) else {
                continue;
            };
            let answer = attendee
                .params
                .iter()
                .find(|p| p.key.as_str().eq_ignore_ascii_case("PARTSTAT"))
                .and_then(|p| p.val.as_ref())
                .and_then(|v| Answer::from_partstat(v.as_str()));
            let address = attendee.val.as_str();
            let address = address
                .strip_prefix("mailto:")
                .or_else(|| address.strip_prefix("MAILTO:"))
                .unwrap_or(address);
            if let Some(answer) = answer {
                return Some(CalendarReply {
                    uid: waymark_core::one_line(&uid),
                    attendee: waymark_core::one_line(address),
                    answer,
                });
            }
        }
    }
    None
}

/// One message's bytes, read for the store. `size` is its size on the
/// server (the bytes' length when read whole).
pub fn read(raw: &[u8], source: &str, key: Option<MailboxKey>) -> Incoming {
    let parsed = MessageParser::default()
        .parse(raw)
        .filter(|m| !m.headers().is_empty());
    let digest = format!("{:x}", Sha256::digest(raw));
    let fallback_id = format!("sha256:{digest}");
    let mut incoming = Incoming {
        key,
        source: source.to_string(),
        message_id: fallback_id,
        digest,
        references: Vec::new(),
        sender: String::new(),
        subject: String::new(),
        size: raw.len() as u64,
        headers: header_block(raw),
        parsed: Parsed::TooLarge,
    };
    let Some(msg) = parsed else {
        incoming.parsed = Parsed::Unreadable {
            reason: NotAnEnquiry::NotMail.to_string(),
            raw: raw.to_vec(),
        };
        return incoming;
    };
    if let Some(id) = msg.message_id().and_then(mailbox::message_id) {
        incoming.message_id = id.to_string();
    }
    incoming.subject = waymark_core::one_line(msg.subject().unwrap_or_default())
        .chars()
        .take(300)
        .collect();
    incoming.sender = msg
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(waymark_core::one_line)
        .unwrap_or_default()
        .chars()
        .take(254)
        .collect();
    let mut refs = ids(msg.in_reply_to());
    let mut older = ids(msg.references());
    older.reverse();
    refs.extend(older);
    incoming.references = refs;
    // RFC 5322 allows one From: with two, which one wrote it is anyone's
    // guess (and the tag check must not pick the wrong one).
    let froms = msg
        .headers()
        .iter()
        .filter(|h| h.name == mail_parser::HeaderName::From)
        .count();
    let broken = broken(&msg, raw).or_else(|| {
        (froms > 1).then(|| "it has more than one From header, so who wrote it is unclear".into())
    });
    if let Some(reason) = broken {
        incoming.parsed = Parsed::Unreadable {
            reason,
            raw: raw.to_vec(),
        };
        return incoming;
    }
    let ct = msg.content_type();
    let facts = mailbox::Headers {
        auto_submitted: msg.header_raw("Auto-Submitted"),
        x_autoreply: msg.header_raw("X-Autoreply").is_some()
            || msg.header_raw("X-Autorespond").is_some(),
        precedence: msg.header_raw("Precedence"),
        content_type: ct.map(|c| c.ctype()).and_then(|t| {
            let sub = ct.and_then(|c| c.subtype())?;
            (t.eq_ignore_ascii_case("multipart") && sub.eq_ignore_ascii_case("report"))
                .then_some("multipart/report")
        }),
        report_type: ct.and_then(|c| c.attribute("report-type")),
        null_sender: msg
            .header_raw("Return-Path")
            .is_some_and(|r| r.trim() == "<>"),
        list: msg.header_raw("List-Id").is_some() || msg.header_raw("List-Unsubscribe").is_some(),
        suppress: msg.header_raw("X-Auto-Response-Suppress"),
        from: Some(incoming.sender.as_str()).filter(|f| !f.is_empty()),
    };
    let (automatic, calendar) = match calendar(&msg) {
        Calendar::Answer(r) => (mailbox::automatic(&facts), Some(r)),
        Calendar::Other => (
            Some("a calendar response that answers nothing Waymark records"),
            None,
        ),
        Calendar::None => (mailbox::automatic(&facts), None),
    };
    match enquiry(raw) {
        Ok(mut e) => {
            e.message_id = Some(incoming.message_id.clone());
            if incoming.sender.is_empty() {
                incoming.sender = e.contact_email.clone();
            }
            incoming.parsed = Parsed::Message {
                enquiry: e,
                automatic,
                calendar,
            };
        }
        // A robot's message with no usable sender is still only a record.
        Err(why) => {
            incoming.parsed = match automatic {
                Some(_) => Parsed::Unreadable {
                    reason: format!("an automatic message that {why}"),
                    raw: raw.to_vec(),
                },
                None => Parsed::Unreadable {
                    reason: format!("it could not be read: {why}"),
                    raw: raw.to_vec(),
                },
            };
        }
    }
    incoming
}

/// A message too large to take whole, from its header block alone.
pub fn too_large(headers: &[u8], size: u64, source: &str, key: Option<MailboxKey>) -> Incoming {
    let mut incoming = read(headers, source, key);
    incoming.size = size;
    incoming.parsed = Parsed::TooLarge;
    incoming
}

/// Takes one message through the store: a new enquiry is acknowledged
/// (from `from`, the programme's address) when `acknowledge` says so.
pub async fn take(
    store: &Store,
    incoming: &Incoming,
    acknowledge: bool,
    from: &str,
) -> Result<Taken, StoreError> {
    let ack = |e: &NewEnquiry| crate::mail::enquiry_received(&e.contact_email, from);
    let ack: Option<&(dyn Fn(&NewEnquiry) -> waymark_store::Mail + Sync)> =
        if acknowledge { Some(&ack) } else { None };
    // Mail from the programme's own address (its own robots, a forward to
    // itself) is never an enquiry, and never answered.
    if incoming.sender.eq_ignore_ascii_case(from.trim())
        && let Parsed::Message { automatic, .. } = &incoming.parsed
        && automatic.is_none()
    {
        let mut own = incoming.clone();
        if let Parsed::Message { automatic, .. } = &mut own.parsed {
            *automatic = Some("a message from the programme's own address");
        }
        return store.take_mail(&own, ack, waymark_store::now()).await;
    }
    store.take_mail(incoming, ack, waymark_store::now()).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn unreadable(raw: &[u8]) -> String {
        match read(raw, "test", None).parsed {
            Parsed::Unreadable { reason, raw: kept } => {
                assert_eq!(kept, raw, "the bytes are kept");
                reason
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_messages_are_named_and_kept_whole() {
        let no_boundary =
            b"From: a@b.gov.au\r\nSubject: x\r\nContent-Type: multipart/mixed\r\n\r\nhello\r\n";
        assert!(unreadable(no_boundary).contains("no boundary"));
        let lost_boundary = b"From: a@b.gov.au\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=\"zz\"\r\n\r\nno parts here\r\n";
        assert!(unreadable(lost_boundary).contains("never appears"));
        let latin1 = b"From: a@b.gov.au\r\nSubject: x\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\ncaf\xe9 cr\xe8me\r\n";
        assert!(unreadable(latin1).contains("character set"));
        let two = b"From: jo@records.gov.au\r\nFrom: mallory@evil.example\r\nSubject: x [WM-1]\r\n\r\nbody\r\n";
        assert!(unreadable(two).contains("more than one From"));
        let no_from = b"Subject: who am I\r\nMessage-ID: <n@x>\r\n\r\nbody\r\n";
        assert!(unreadable(no_from).contains("no From"));
        let junk = unreadable(b"\x00\x01\x02");
        assert!(
            junk.contains("not an email") || junk.contains("could not be"),
            "{junk}"
        );
        // Declared, the same bytes read fine.
        let declared = b"From: a@b.gov.au\r\nSubject: x\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\ncaf\xe9\r\n";
        let Parsed::Message { enquiry, .. } = read(declared, "t", None).parsed else {
            panic!()
        };
        assert!(enquiry.body.contains("café"), "{}", enquiry.body);
    }

    #[test]
    fn robots_threads_and_calendar_answers_are_read_from_the_message() {
        let ooo = b"From: a@b.gov.au\r\nSubject: Out of office\r\nAuto-Submitted: auto-replied\r\nIn-Reply-To: <ack@dta.gov.au>\r\nReferences: <req@b.gov.au> <ack@dta.gov.au>\r\n\r\nAway\r\n";
        let m = read(ooo, "t", None);
        assert_eq!(
            m.references,
            ["ack@dta.gov.au", "ack@dta.gov.au", "req@b.gov.au"]
        );
        assert!(matches!(
            m.parsed,
            Parsed::Message {
                automatic: Some(_),
                ..
            }
        ));
        let bounce = b"From: MAILER-DAEMON@mx.b.gov.au\r\nSubject: Undelivered\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nFailed\r\n--b1\r\nContent-Type: message/delivery-status\r\n\r\nStatus: 5.1.1\r\n--b1--\r\n";
        assert!(matches!(
            read(bounce, "t", None).parsed,
            Parsed::Message { automatic: Some(r), .. } if r.contains("3464")
        ));
        let person = b"From: Sam <sam@b.gov.au>\r\nSubject: Hello\r\nMessage-ID: <p1@b.gov.au>\r\n\r\nHi\r\n";
        let m = read(person, "t", None);
        assert_eq!(
            (m.message_id.as_str(), m.sender.as_str()),
            ("p1@b.gov.au", "sam@b.gov.au")
        );
        assert!(matches!(
            m.parsed,
            Parsed::Message {
                automatic: None,
                calendar: None,
                ..
            }
        ));

        let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:workshop-3-1@waymark.example\r\nATTENDEE;PARTSTAT=TENTATIVE;CN=Sam:mailto:sam@b.gov.au\r\nDTSTAMP:20261201T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let reply = format!(
            "From: sam@b.gov.au\r\nSubject: Tentative: Workshop\r\nContent-Type: multipart/alternative; boundary=\"c\"\r\n\r\n--c\r\nContent-Type: text/plain\r\n\r\nMaybe\r\n--c\r\nContent-Type: text/calendar; method=REPLY; charset=utf-8\r\n\r\n{ics}--c--\r\n"
        );
        let Parsed::Message {
            calendar: Some(c), ..
        } = read(reply.as_bytes(), "t", None).parsed
        else {
            panic!("no calendar answer read")
        };
        assert_eq!(
            (c.uid.as_str(), c.attendee.as_str(), c.answer),
            (
                "workshop-3-1@waymark.example",
                "sam@b.gov.au",
                Answer::Tentative
            )
        );
        // A REPLY that answers nothing (NEEDS-ACTION), or a COUNTER: no
        // enquiry, no acknowledgement.
        for other in [
            reply.replace("TENTATIVE", "NEEDS-ACTION"),
            reply.replace("METHOD:REPLY", "METHOD:COUNTER"),
        ] {
            assert!(matches!(
                read(other.as_bytes(), "t", None).parsed,
                Parsed::Message { automatic: Some(r), calendar: None, .. } if r.contains("calendar")
            ));
        }
        // A REQUEST is an invitation, not an answer.
        let request = reply.replace("METHOD:REPLY", "METHOD:REQUEST");
        assert!(matches!(
            read(request.as_bytes(), "t", None).parsed,
            Parsed::Message { calendar: None, .. }
        ));
    }

    #[test]
    fn a_message_too_large_keeps_its_headers() {
        let m = too_large(
            b"From: a@b.gov.au\r\nSubject: Big\r\nMessage-ID: <big@b>\r\n\r\n",
            30 << 20,
            "t",
            None,
        );
        assert!(matches!(m.parsed, Parsed::TooLarge));
        assert_eq!(
            (m.size, m.message_id.as_str(), m.subject.as_str()),
            (30 << 20, "big@b", "Big")
        );
        assert!(m.headers.contains("Subject: Big"));
    }
}
