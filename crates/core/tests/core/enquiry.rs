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
