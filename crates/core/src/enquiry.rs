//! The enquiry workflow: what the programme may do with a request for
//! support, in which state, and the events that record it. As with
//! engagements, `decide` turns a command into events and the store appends
//! them to the enquiry's own hash chain; nothing here reads or writes.

use serde::{Deserialize, Serialize};

use crate::access::Actor;
use crate::error::DomainError;
use crate::people::{AgencyId, EngagementId};
use crate::text::Text;

/// Where an enquiry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EnquiryStatus {
    Open,
    Converted,
    Attached,
    Closed,
}

impl EnquiryStatus {
    pub const ALL: [EnquiryStatus; 4] = [
        EnquiryStatus::Open,
        EnquiryStatus::Converted,
        EnquiryStatus::Attached,
        EnquiryStatus::Closed,
    ];

    /// The name stored and used in addresses (`open`, `converted`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            EnquiryStatus::Open => "open",
            EnquiryStatus::Converted => "converted",
            EnquiryStatus::Attached => "attached",
            EnquiryStatus::Closed => "closed",
        }
    }

    /// How people read it.
    pub fn label(self) -> &'static str {
        match self {
            EnquiryStatus::Open => "Open",
            EnquiryStatus::Converted => "Converted to an engagement",
            EnquiryStatus::Attached => "Attached to an engagement",
            EnquiryStatus::Closed => "Closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// What happens to an enquiry: the events of its chain. `Received` is
/// written when it arrives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Triage {
    Received {
        source: String,
        /// The SHA-256 of the enquiry's content as it arrived; absent on
        /// enquiries received before content was bound, which carry a
        /// [`Triage::Sealed`] event instead.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<String>,
    },
    /// The content as it stood when the upgrade that binds content ran.
    /// Changes made before then cannot be detected.
    Sealed {
        content: String,
    },
    Note {
        text: String,
    },
    Converted {
        agency: AgencyId,
        engagement: EngagementId,
    },
    Attached {
        engagement: EngagementId,
    },
    Closed {
        reason: String,
    },
    /// A message on the enquiry's conversation came in by mail: row
    /// `message` of its messages, whose content hashes to `content`.
    MailIn {
        message: i64,
        content: String,
    },
    /// The programme answered by mail (through the outbox).
    Replied {
        message: i64,
        content: String,
    },
}

impl Triage {
    /// The event's name, as the chain's rows record it.
    pub fn kind(&self) -> &'static str {
        match self {
            Triage::Received { .. } => "received",
            Triage::Sealed { .. } => "sealed",
            Triage::Note { .. } => "note",
            Triage::Converted { .. } => "converted",
            Triage::Attached { .. } => "attached",
            Triage::Closed { .. } => "closed",
            Triage::MailIn { .. } => "mail_in",
            Triage::Replied { .. } => "replied",
        }
    }

    /// The status and engagement the enquiry has after this event, when it
    /// changes them.
    pub fn outcome(&self) -> Option<(EnquiryStatus, Option<EngagementId>)> {
        match self {
            Triage::Converted { engagement, .. } => {
                Some((EnquiryStatus::Converted, Some(*engagement)))
            }
            Triage::Attached { engagement } => Some((EnquiryStatus::Attached, Some(*engagement))),
            Triage::Closed { .. } => Some((EnquiryStatus::Closed, None)),
            _ => None,
        }
    }
}

/// What the programme does with an enquiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum EnquiryCommand {
    /// A note, at any time.
    Note { text: Text<4000> },
    /// The enquiry became this engagement of `agency`.
    Convert {
        agency: AgencyId,
        engagement: EngagementId,
    },
    /// The enquiry belongs to an engagement that already exists.
    Attach { engagement: EngagementId },
    /// Nothing more will come of it, and why.
    Close { reason: Text<2000> },
}

impl EnquiryCommand {
    /// The engagement the command names, which the caller loads (in the
    /// actor's scope) and passes to `decide`.
    pub fn engagement(&self) -> Option<EngagementId> {
        match self {
            EnquiryCommand::Convert { engagement, .. } | EnquiryCommand::Attach { engagement } => {
                Some(*engagement)
            }
            _ => None,
        }
    }
}

/// Whether `actor` sees enquiries at all: they come from the public and
/// only the programme team triages them. To anyone else they do not exist.
pub fn may_see(actor: &Actor) -> bool {
    actor.is_programme()
}

/// Whether `actor` may answer an enquiry's sender by mail: the programme
/// may, whatever the enquiry's status (a conversation goes on after the
/// enquiry becomes an engagement). Returns the text to send.
pub fn reply(actor: &Actor, body: &Text<20000>) -> Result<String, DomainError> {
    visible(actor)?;
    Ok(body.required("body")?.into_string())
}

/// The tag every subject of an enquiry's mail carries, so that a reply
/// whose client dropped the thread headers still finds its enquiry.
pub fn subject_tag(id: i64) -> String {
    format!("[WM-{id}]")
}

/// `subject` with the enquiry's tag, once.
pub fn tagged_subject(subject: &str, id: i64) -> String {
    let tag = subject_tag(id);
    if subject.contains(&tag) {
        subject.to_string()
    } else {
        format!("{subject} {tag}")
    }
}

/// The subject of an answer to a message whose subject was `subject`.
pub fn reply_subject(subject: &str, id: i64) -> String {
    let s = subject.trim();
    let lower = s.to_ascii_lowercase();
    let base = if lower.starts_with("re:") {
        s.to_string()
    } else {
        format!("Re: {s}")
    };
    tagged_subject(&base, id)
}

/// The enquiry a subject's tag names (the last tag, if several).
pub fn subject_enquiry(subject: &str) -> Option<i64> {
    // Some clients change the case of a subject: `[wm-12]` counts too.
    let upper = subject.to_ascii_uppercase();
    upper.rmatch_indices("[WM-").find_map(|(at, _)| {
        let rest = &upper[at + 4..];
        let end = rest.find(']')?;
        let digits = &rest[..end];
        if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    })
}

/// `may_see`, as the error the caller returns.
pub fn visible(actor: &Actor) -> Result<(), DomainError> {
    if may_see(actor) {
        Ok(())
    } else {
        Err(DomainError::NotFound)
    }
}

/// Converting, attaching and closing need an open enquiry.
pub fn still_open(status: EnquiryStatus) -> Result<(), DomainError> {
    if status == EnquiryStatus::Open {
        Ok(())
    } else {
        Err(DomainError::rule(format!(
            "this enquiry is already {}",
            status.as_str()
        )))
    }
}

/// The events `cmd` records on an enquiry that is `status`. `target` is the
/// agency of the engagement the command names (loaded in the actor's scope).
pub fn decide(
    actor: &Actor,
    status: EnquiryStatus,
    target: Option<AgencyId>,
    cmd: &EnquiryCommand,
) -> Result<Vec<Triage>, DomainError> {
    visible(actor)?;
    let event = match cmd {
        EnquiryCommand::Note { text } => {
            return Ok(vec![Triage::Note {
                text: text.required("text")?.into_string(),
            }]);
        }
        EnquiryCommand::Close { reason } => Triage::Closed {
            reason: reason.required("reason")?.into_string(),
        },
        EnquiryCommand::Attach { engagement } => {
            if target.is_none() {
                return Err(DomainError::NotFound);
            }
            Triage::Attached {
                engagement: *engagement,
            }
        }
        EnquiryCommand::Convert { agency, engagement } => {
            let Some(owner) = target else {
                return Err(DomainError::NotFound);
            };
            // A conversion names the agency the engagement belongs to.
            if owner != *agency {
                return Err(DomainError::invalid(
                    "agency",
                    format!("engagement {engagement} belongs to another agency than {agency}"),
                ));
            }
            Triage::Converted {
                agency: *agency,
                engagement: *engagement,
            }
        }
    };
    still_open(status)?;
    Ok(vec![event])
}

/// How long a closed enquiry that never became an engagement, and its mail,
/// is kept, unless the programme sets another period: 24 months.
pub const RETENTION_MONTHS: u32 = 24;
/// The periods the programme may set, in months.
pub const RETENTION_RANGE: std::ops::RangeInclusive<u32> = 1..=120;
/// A month, for retention: the Gregorian year's average (30.44 days).
pub const MONTH_SECS: i64 = 2_629_746;

/// Reads a retention period typed by the programme, in months.
pub fn parse_retention(raw: &str) -> Result<u32, DomainError> {
    let bad = || {
        DomainError::invalid(
            "months",
            format!(
                "enter a whole number of months from {} to {}",
                RETENTION_RANGE.start(),
                RETENTION_RANGE.end()
            ),
        )
    };
    let months: u32 = raw.trim().parse().map_err(|_| bad())?;
    if RETENTION_RANGE.contains(&months) {
        Ok(months)
    } else {
        Err(bad())
    }
}

/// Enquiries whose last change is before this are removed by retention,
/// for a period of `months`.
pub fn retention_cutoff(now: crate::Timestamp, months: u32) -> crate::Timestamp {
    crate::Timestamp(now.0 - i64::from(months) * MONTH_SECS)
}

/// Whether retention removes an enquiry in `status` once its period has
/// passed: only a closed one. One that became (or joined) an engagement
/// is part of that engagement's record, and one still open waits for the
/// programme, however old: closing it starts its period.
pub fn removed_by_retention(status: EnquiryStatus) -> bool {
    status == EnquiryStatus::Closed
}

/// Whether `actor` may see the retention runs and what they removed: the
/// programme.
pub fn may_see_retention(actor: &Actor) -> Result<(), DomainError> {
    if actor.is_programme() {
        Ok(())
    } else {
        Err(DomainError::NotFound)
    }
}

/// Whether `actor` may set the retention period or run it now: the
/// programme's admins.
pub fn may_set_retention(actor: &Actor) -> Result<(), DomainError> {
    may_see_retention(actor)?;
    if actor.is_admin() {
        Ok(())
    } else {
        Err(DomainError::Forbidden {
            action: "change how long enquiries are kept",
            why: "only programme admins set the retention period or run it",
        })
    }
}
