//! The programme's mailbox: where a message that arrives belongs. The web
//! layer reads each message into facts (is it automatic, is it an answer to
//! a workshop invitation); the store finds the enquiry its thread headers
//! or its subject tag name; [`route`] decides. No IO.
//!
//! The rules that keep mail from looping: an automatic message (a delivery
//! report, an auto-reply) never makes an enquiry and is never answered; a
//! message on an enquiry's conversation is never acknowledged; and a
//! subject tag (`[WM-12]`) threads a message only when its sender is the
//! enquiry's own, so a stranger cannot write into someone's conversation by
//! copying a tag.

use serde::{Deserialize, Serialize};

/// An attendee's answer to a workshop invitation (iCalendar `PARTSTAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Accepted,
    Tentative,
    Declined,
}

impl Answer {
    /// The answer a `PARTSTAT` value gives; `NEEDS-ACTION` and `DELEGATED`
    /// answer nothing.
    pub fn from_partstat(value: &str) -> Option<Answer> {
        match value.trim().to_ascii_uppercase().as_str() {
            "ACCEPTED" => Some(Answer::Accepted),
            "TENTATIVE" => Some(Answer::Tentative),
            "DECLINED" => Some(Answer::Declined),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Answer::Accepted => "Accepted",
            Answer::Tentative => "Tentative",
            Answer::Declined => "Declined",
        }
    }
}

/// An iTIP `REPLY`: who answered which invitation (its UID), and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarReply {
    pub uid: String,
    pub attendee: String,
    pub answer: Answer,
}

/// What a message's headers say about who wrote it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers<'a> {
    /// RFC 3834 `Auto-Submitted`.
    pub auto_submitted: Option<&'a str>,
    /// `X-Autoreply` or `X-Autorespond` is present.
    pub x_autoreply: bool,
    /// `Precedence`.
    pub precedence: Option<&'a str>,
    /// The top-level content type and its `report-type` parameter.
    pub content_type: Option<&'a str>,
    pub report_type: Option<&'a str>,
    /// `Return-Path: <>`: the null sender of delivery reports.
    pub null_sender: bool,
    /// `List-Id` or `List-Unsubscribe` is present: a mailing list's copy.
    pub list: bool,
    /// `X-Auto-Response-Suppress` (Exchange's mark on its own robots' mail).
    pub suppress: Option<&'a str>,
    /// The sender's address.
    pub from: Option<&'a str>,
}

/// The local parts robots send from.
const ROBOTS: [&str; 5] = [
    "mailer-daemon",
    "postmaster",
    "noreply",
    "no-reply",
    "donotreply",
];

/// Why a message is automatic (no person wrote it), or `None`.
pub fn automatic(h: &Headers) -> Option<&'static str> {
    let is = |v: Option<&str>, what: &str| v.is_some_and(|v| v.trim().eq_ignore_ascii_case(what));
    if h.content_type
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("multipart/report"))
    {
        return Some(if is(h.report_type, "delivery-status") {
            "a delivery report (RFC 3464)"
        } else {
            "a report (a read receipt or a feedback report)"
        });
    }
    if let Some(a) = h.auto_submitted
        && !a.trim().is_empty()
        && !a
            .split(';')
            .next()
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("no"))
    {
        return Some("an automatic message (Auto-Submitted, RFC 3834)");
    }
    if h.x_autoreply {
        return Some("an auto-reply (X-Autoreply)");
    }
    // `Precedence: bulk (newsletter)`: the first word counts.
    let precedence = h.precedence.and_then(|p| {
        p.split(|c: char| c.is_whitespace() || c == '(')
            .find(|w| !w.is_empty())
    });
    if ["auto_reply", "bulk", "junk", "list"]
        .iter()
        .any(|p| is(precedence, p))
    {
        return Some("an automatic message (Precedence)");
    }
    if h.list {
        return Some("a mailing list's message (List-Id)");
    }
    if h.suppress.is_some_and(|v| {
        let v = v.to_ascii_lowercase();
        v.contains("all") || v.contains("oof") || v.contains("autoreply")
    }) {
        return Some("an automatic message (X-Auto-Response-Suppress)");
    }
    if h.null_sender {
        return Some("a message from the null sender (a delivery report)");
    }
    if let Some(local) = h.from.and_then(|f| f.rsplit_once('@')).map(|(l, _)| l)
        && ROBOTS.iter().any(|r| local.eq_ignore_ascii_case(r))
    {
        return Some("a message from a robot's address (MAILER-DAEMON, postmaster, no-reply)");
    }
    None
}

/// A Message-ID as Waymark keeps it (without `<>`), if it is one: printable
/// ASCII with no spaces, quotes or brackets, an `@`, at most 250
/// characters. Anything else is no id: a 5,000-character or non-ASCII
/// "id" would otherwise travel into every answer's headers.
pub fn message_id(raw: &str) -> Option<&str> {
    let id = raw.trim().trim_start_matches('<').trim_end_matches('>');
    let ok = !id.is_empty()
        && id.len() <= 250
        && id.contains('@')
        && id.bytes().all(|b| {
            b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'"' | b'\\' | b'(' | b')')
        });
    ok.then_some(id)
}

/// Whether a message from `sender` may join the conversation of an
/// enquiry from `contact` by its thread headers alone: the contact, someone
/// at the contact's domain (a colleague in copy), or anyone answering a
/// message Waymark itself sent (whose id is random, so knowing it means
/// having received it).
pub fn may_thread(sender: &str, contact: &str, names_our_message: bool) -> bool {
    let domain = |a: &str| a.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase());
    names_our_message
        || sender.eq_ignore_ascii_case(contact)
        || (domain(sender).is_some() && domain(sender) == domain(contact))
}

/// How many acknowledgements one address gets in a day: a robot that
/// answers each with a new message cannot keep an exchange going.
pub const ACKNOWLEDGEMENTS_A_DAY: i64 = 3;

/// Which enquiry a message's thread names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thread {
    /// `In-Reply-To` or `References` names a message of this enquiry (and
    /// its sender [`may_thread`]).
    Headers(i64),
    /// Only the subject's tag names it; `sender_matches` says whether the
    /// sender is the enquiry's own.
    Tag {
        enquiry: i64,
        sender_matches: bool,
    },
    None,
}

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A new enquiry, acknowledged to its sender.
    Enquiry,
    /// A message on this enquiry's conversation (never acknowledged).
    Conversation(i64),
    /// An answer to a workshop invitation: recorded on the workshop.
    Attendance(CalendarReply),
    /// Kept as a record only: no enquiry, no answer.
    Automatic {
        reason: &'static str,
        enquiry: Option<i64>,
    },
}

/// Where a message goes, given what it is and the thread it names.
pub fn route(
    automatic: Option<&'static str>,
    calendar: Option<CalendarReply>,
    thread: Thread,
) -> Route {
    let threaded = match thread {
        Thread::Headers(id)
        | Thread::Tag {
            enquiry: id,
            sender_matches: true,
        } => Some(id),
        _ => None,
    };
    if let Some(reason) = automatic {
        return Route::Automatic {
            reason,
            enquiry: threaded,
        };
    }
    if let Some(c) = calendar {
        return Route::Attendance(c);
    }
    match threaded {
        Some(id) => Route::Conversation(id),
        None => Route::Enquiry,
    }
}

/// The largest message taken whole: a bigger one is kept as its headers.
pub const MAX_MESSAGE_BYTES: u64 = 25 * 1024 * 1024;
