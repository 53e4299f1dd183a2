//! iCalendar invitations for workshops (RFC 5545, with iTIP's METHOD).
//!
//! One workshop is one VEVENT with a UID that never changes and a SEQUENCE
//! that the engagement's state raises on every change, so calendar clients
//! update the event they have rather than add another. A cancelled
//! workshop is sent with `METHOD:CANCEL` and `STATUS:CANCELLED`.

use chrono::{DateTime, Utc};
use icalendar::{Calendar, Component, EventLike, EventStatus, Property};
use waymark_core::{DomainError, EngagementId, Workshop};

/// A parameter value (such as an attendee's `CN`) as RFC 6868 encodes it:
/// `^` as `^^`, a double quote as `^'` and a line break as `^n`, so the value
/// can never close its quotes or start a new parameter, property or line.
/// Other control characters are dropped (the core refuses them already).
/// The `icalendar` crate then quotes a value that holds `:`, `;` or `,`, as
/// RFC 5545 requires.
pub fn param_value(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '^' => out.push_str("^^"),
            '"' => out.push_str("^'"),
            '\n' => out.push_str("^n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A TEXT value: the crate escapes `\\`, `,`, `;` and line feeds; a carriage
/// return would end the line, so it becomes a line feed first.
fn text_value(raw: &str) -> String {
    raw.replace("\r\n", "\n").replace('\r', "\n")
}

/// A URI value (`URL`, an attendee's `mailto:`): written as it is, but never
/// with a control character that could end the line.
fn uri_value(raw: &str) -> String {
    raw.chars().filter(|c| !c.is_control()).collect()
}

/// When the workshop starts and ends, in UTC, as the core checked it.
pub fn times(w: &Workshop) -> Result<(DateTime<Utc>, DateTime<Utc>), DomainError> {
    let when = w.plan.when()?;
    Ok((when.start, when.end))
}

/// The workshop's UID: the same for every version of the invitation.
pub fn uid(engagement: EngagementId, w: &Workshop, host: &str) -> String {
    format!("workshop-{}-{}@{host}", engagement.0, w.id)
}

/// The `.ics` text for `w`. `organizer` is the programme's address.
pub fn invitation(
    engagement: EngagementId,
    agency: &str,
    w: &Workshop,
    host: &str,
    organizer: &str,
    now: DateTime<Utc>,
) -> Result<String, DomainError> {
    let (start, end) = times(w)?;
    let mut description = format!(
        "{agency}: {}\n\nAgenda:\n{}\n\nLocal time: {} {} ({})",
        w.plan.title, w.plan.agenda, w.plan.date, w.plan.time, w.plan.timezone
    );
    if let Some(link) = &w.plan.link {
        description.push_str(&format!("\nJoin online: {link}"));
    }
    let mut event = icalendar::Event::new();
    event
        .uid(&uid(engagement, w, host))
        .sequence(w.sequence)
        .timestamp(now)
        .summary(&text_value(&format!("{} ({agency})", w.plan.title)))
        .description(&text_value(&description))
        .starts(start)
        .ends(end)
        .append_property(
            Property::new("ORGANIZER", format!("mailto:{organizer}"))
                .add_parameter("CN", "Protected Utility programme")
                .done(),
        );
    let location = match (&w.plan.location, &w.plan.link) {
        (Some(l), _) => l.as_str(),
        (None, Some(link)) => link.as_str(),
        (None, None) => "",
    };
    if !location.is_empty() {
        event.location(&text_value(location));
    }
    if let Some(link) = &w.plan.link {
        event.add_property("URL", uri_value(link));
    }
    for a in &w.plan.attendees {
        let mut p = Property::new("ATTENDEE", format!("mailto:{}", uri_value(&a.email)));
        if let Some(name) = &a.name {
            p.add_parameter("CN", &param_value(name));
        }
        p.add_parameter("ROLE", "REQ-PARTICIPANT");
        p.add_parameter("RSVP", "TRUE");
        event.append_multi_property(p.done());
    }
    if w.cancelled {
        event.status(EventStatus::Cancelled);
    } else {
        event.status(EventStatus::Confirmed);
    }
    let mut cal = Calendar::new();
    cal.append_property(("METHOD", if w.cancelled { "CANCEL" } else { "REQUEST" }));
    cal.push(event.done());
    Ok(cal.done().to_string())
}

/// The METHOD of an invitation, for the mail part's content type.
pub fn method(w: &Workshop) -> &'static str {
    if w.cancelled { "CANCEL" } else { "REQUEST" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use waymark_core::{Attendee, WorkshopNotes, WorkshopPlan};

    fn workshop() -> Workshop {
        Workshop {
            id: 3,
            plan: WorkshopPlan {
                retro: false,
                title: "Initial workshop".into(),
                date: "2026-12-01".into(),
                time: "10:00".into(),
                timezone: "Australia/Canberra".into(),
                minutes: 90,
                location: Some("Canberra".into()),
                link: None,
                agenda: "Sponsorship; strategy".into(),
                attendees: vec![Attendee {
                    email: "sam@agency.gov.au".into(),
                    name: Some("Sam, Example".into()),
                    person: None,
                }],
            },
            sequence: 2,
            cancelled: false,
            notes: WorkshopNotes::default(),
            answers: Vec::new(),
        }
    }

    #[test]
    fn parameter_values_cannot_break_out() {
        assert_eq!(param_value("Sam, Example"), "Sam, Example");
        assert_eq!(param_value("a \"b\" ^c"), "a ^'b^' ^^c");
        assert_eq!(param_value("x\ny\r\u{1b}z"), "x^nyz");
        // Through the crate: one quoted CN, nothing after it but ours.
        let mut w = workshop();
        w.plan.attendees[0].name = Some("Boss\"; ROLE=CHAIR:mailto:x@evil.example".into());
        let text = invitation(
            EngagementId(7),
            "Bureau",
            &w,
            "waymark.example",
            "pu@dta.gov.au",
            Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap(),
        )
        .unwrap();
        let unfolded = text.replace("\r\n ", "");
        assert!(
            unfolded.contains(
                "ATTENDEE;CN=\"Boss^'; ROLE=CHAIR:mailto:x@evil.example\";ROLE=REQ-PARTICIPANT;RSVP=TRUE:mailto:sam@agency.gov.au"
            ),
            "{text}"
        );
    }

    #[test]
    fn local_time_becomes_utc() {
        // Canberra is UTC+11 in December (daylight saving).
        let (s, e) = times(&workshop()).unwrap();
        assert_eq!(s.to_rfc3339(), "2026-11-30T23:00:00+00:00");
        assert_eq!(e.to_rfc3339(), "2026-12-01T00:30:00+00:00");
        let mut gap = workshop();
        gap.plan.date = "2026-10-04".into();
        gap.plan.time = "02:30".into();
        assert!(
            times(&gap)
                .unwrap_err()
                .to_string()
                .contains("does not exist")
        );
    }

    #[test]
    fn the_invitation_carries_uid_sequence_and_method() {
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap();
        let text = invitation(
            EngagementId(7),
            "Bureau",
            &workshop(),
            "waymark.example",
            "pu@dta.gov.au",
            now,
        )
        .unwrap();
        assert!(text.contains("UID:workshop-7-3@waymark.example"), "{text}");
        assert!(text.contains("SEQUENCE:2"), "{text}");
        assert!(text.contains("METHOD:REQUEST"), "{text}");
        assert!(text.contains("DTSTART:20261130T230000Z"), "{text}");
        let mut cancelled = workshop();
        cancelled.cancelled = true;
        let text = invitation(
            EngagementId(7),
            "Bureau",
            &cancelled,
            "waymark.example",
            "pu@dta.gov.au",
            now,
        )
        .unwrap();
        assert!(
            text.contains("METHOD:CANCEL") && text.contains("STATUS:CANCELLED"),
            "{text}"
        );
    }
}
