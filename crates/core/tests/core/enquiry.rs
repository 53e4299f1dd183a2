//! The enquiry workflow: only the programme sees enquiries; notes at any
//! time; converting, attaching and closing once, from open; a conversion
//! names the engagement's own agency.

use waymark_core::enquiry::{EnquiryCommand, EnquiryStatus, Triage, decide, may_see};
use waymark_core::*;

use crate::{AGENCY, OTHER_AGENCY, member, partner, staff};

#[test]
fn only_the_programme_sees_or_triages_enquiries() {
    assert!(may_see(&staff()));
    let note = EnquiryCommand::Note {
        text: "Called back".into(),
    };
    for outsider in [member(), partner()] {
        assert!(!may_see(&outsider));
        assert_eq!(
            decide(&outsider, EnquiryStatus::Open, None, &note),
            Err(DomainError::NotFound)
        );
    }
    assert_eq!(
        decide(&staff(), EnquiryStatus::Open, None, &note),
        Ok(vec![Triage::Note {
            text: "Called back".into()
        }])
    );
}

#[test]
fn transitions_happen_once_and_from_open() {
    let e = EngagementId(7);
    let cmds = [
        EnquiryCommand::Convert {
            agency: AGENCY,
            engagement: e,
        },
        EnquiryCommand::Attach { engagement: e },
        EnquiryCommand::Close {
            reason: "A duplicate".into(),
        },
    ];
    for cmd in &cmds {
        let events = decide(&staff(), EnquiryStatus::Open, Some(AGENCY), cmd).unwrap();
        assert_eq!(events.len(), 1);
        let (status, engagement) = events[0].outcome().unwrap();
        assert_ne!(status, EnquiryStatus::Open);
        assert_eq!(engagement.is_some(), cmd.engagement().is_some());
        for done in [
            EnquiryStatus::Converted,
            EnquiryStatus::Attached,
            EnquiryStatus::Closed,
        ] {
            let err = decide(&staff(), done, Some(AGENCY), cmd).unwrap_err();
            assert_eq!(
                err,
                DomainError::rule(format!("this enquiry is already {}", done.as_str()))
            );
        }
    }
    // Notes go on whatever the status.
    for status in EnquiryStatus::ALL {
        let note = EnquiryCommand::Note { text: "x".into() };
        assert!(decide(&staff(), status, None, &note).is_ok());
    }
}

#[test]
fn text_is_required_and_bounded_and_a_conversion_names_its_agency() {
    let blank = EnquiryCommand::Note { text: "  ".into() };
    assert!(matches!(
        decide(&staff(), EnquiryStatus::Open, None, &blank),
        Err(DomainError::Invalid { field: "text", .. })
    ));
    let long = EnquiryCommand::Close {
        reason: "x".repeat(2001).as_str().into(),
    };
    assert!(matches!(
        decide(&staff(), EnquiryStatus::Open, None, &long),
        Err(DomainError::Invalid {
            field: "reason",
            ..
        })
    ));
    let convert = EnquiryCommand::Convert {
        agency: AGENCY,
        engagement: EngagementId(7),
    };
    assert!(matches!(
        decide(&staff(), EnquiryStatus::Open, Some(OTHER_AGENCY), &convert),
        Err(DomainError::Invalid {
            field: "agency",
            ..
        })
    ));
    // An engagement the caller cannot see is one that does not exist.
    assert_eq!(
        decide(&staff(), EnquiryStatus::Open, None, &convert),
        Err(DomainError::NotFound)
    );
    assert_eq!(EnquiryStatus::parse("closed"), Some(EnquiryStatus::Closed));
    assert_eq!(EnquiryStatus::parse("shut"), None);
}

#[test]
fn subject_tags_name_an_enquiry_and_are_added_once() {
    use waymark_core::enquiry::{reply_subject, subject_enquiry, tagged_subject};
    assert_eq!(tagged_subject("Help", 12), "Help [WM-12]");
    assert_eq!(tagged_subject("Help [WM-12]", 12), "Help [WM-12]");
    assert_eq!(reply_subject("Help [WM-12]", 12), "Re: Help [WM-12]");
    assert_eq!(reply_subject("RE: Help", 12), "RE: Help [WM-12]");
    assert_eq!(subject_enquiry("Re: Help [WM-12]"), Some(12));
    // The last tag counts; broken ones name nothing.
    assert_eq!(subject_enquiry("[WM-1] fwd [WM-2]"), Some(2));
    for none in [
        "[WM-]",
        "[WM-x1]",
        "[WM-12",
        "WM-12",
        "[WM-99999999999999999999]",
        "",
    ] {
        assert_eq!(subject_enquiry(none), None, "{none}");
    }
}

#[test]
fn mail_routes_keep_robots_out_and_strangers_out_of_conversations() {
    use waymark_core::mailbox::{Answer, CalendarReply, Headers, Route, Thread, automatic, route};
    let robot = |h: Headers| automatic(&h);
    assert!(robot(Headers::default()).is_none());
    assert!(
        robot(Headers {
            auto_submitted: Some("auto-replied"),
            ..Default::default()
        })
        .is_some()
    );
    assert!(
        robot(Headers {
            auto_submitted: Some("no"),
            ..Default::default()
        })
        .is_none()
    );
    assert!(
        robot(Headers {
            auto_submitted: Some("No; comment"),
            ..Default::default()
        })
        .is_none()
    );
    assert!(
        robot(Headers {
            x_autoreply: true,
            ..Default::default()
        })
        .is_some()
    );
    assert!(
        robot(Headers {
            precedence: Some("bulk"),
            ..Default::default()
        })
        .is_some()
    );
    assert!(
        robot(Headers {
            null_sender: true,
            ..Default::default()
        })
        .is_some()
    );
    assert!(
        robot(Headers {
            content_type: Some("multipart/report"),
            report_type: Some("delivery-status"),
            ..Default::default()
        })
        .is_some()
    );

    assert_eq!(route(None, None, Thread::None), Route::Enquiry);
    assert_eq!(
        route(None, None, Thread::Headers(4)),
        Route::Conversation(4)
    );
    let tag = |m| Thread::Tag {
        enquiry: 4,
        sender_matches: m,
    };
    assert_eq!(route(None, None, tag(true)), Route::Conversation(4));
    assert_eq!(route(None, None, tag(false)), Route::Enquiry);
    // A robot is never a conversation or an enquiry, even on a thread.
    assert_eq!(
        route(Some("auto"), None, Thread::Headers(4)),
        Route::Automatic {
            reason: "auto",
            enquiry: Some(4)
        }
    );
    let reply = CalendarReply {
        uid: "workshop-1-1@x".into(),
        attendee: "a@b.gov.au".into(),
        answer: Answer::Tentative,
    };
    assert_eq!(
        route(None, Some(reply.clone()), Thread::Headers(4)),
        Route::Attendance(reply)
    );
    assert_eq!(Answer::from_partstat("accepted"), Some(Answer::Accepted));
    assert_eq!(Answer::from_partstat("NEEDS-ACTION"), None);
}

#[test]
fn message_ids_robots_and_threads_from_what_an_attacker_found() {
    use waymark_core::mailbox::{Headers, automatic, may_thread, message_id};
    assert_eq!(message_id("<a.b@x.gov.au>"), Some("a.b@x.gov.au"));
    assert_eq!(message_id("a@b"), Some("a@b"));
    let long = format!("<{}@x>", "L".repeat(5000));
    for bad in [
        long.as_str(),
        "<‹ünï©ødé@x>",
        "<a b c@x>",
        "<d1\"><script>@x>",
        "<no-at-sign>",
        "",
        "<>",
    ] {
        assert_eq!(message_id(bad), None, "{bad}");
    }
    let robot = |h: Headers| automatic(&h).is_some();
    for report in [
        "disposition-notification",
        "feedback-report",
        "delivery-status",
    ] {
        assert!(robot(Headers {
            content_type: Some("multipart/report"),
            report_type: Some(report),
            ..Default::default()
        }));
    }
    assert!(robot(Headers {
        precedence: Some("bulk (newsletter)"),
        ..Default::default()
    }));
    assert!(robot(Headers {
        precedence: Some("list"),
        ..Default::default()
    }));
    assert!(robot(Headers {
        list: true,
        ..Default::default()
    }));
    assert!(robot(Headers {
        suppress: Some("All"),
        ..Default::default()
    }));
    assert!(robot(Headers {
        from: Some("MAILER-DAEMON@mx.gov.au"),
        ..Default::default()
    }));
    assert!(!robot(Headers {
        from: Some("jo@records.gov.au"),
        ..Default::default()
    }));
    // Threads: the contact, a colleague at the same domain, or anyone
    // answering Waymark's own (random) ids; not a stranger.
    assert!(may_thread("Jo@Records.gov.au", "jo@records.gov.au", false));
    assert!(may_thread("cio@records.gov.au", "jo@records.gov.au", false));
    assert!(may_thread(
        "cio@elsewhere.gov.au",
        "jo@records.gov.au",
        true
    ));
    assert!(!may_thread(
        "mallory@evil.example",
        "jo@records.gov.au",
        false
    ));
}
