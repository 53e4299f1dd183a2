//! An engagement's own discussion: what a comment may be about, whom it
//! mentions, who edits and hides it, and what each reader reads.

use waymark_core::discussion::{self, Anchor, fold};
use waymark_core::*;

use crate::*;

fn say(about: Anchor, body: &str) -> Command {
    Command::Comment {
        about,
        body: body.into(),
    }
}

fn step(n: u32) -> Anchor {
    Anchor::Step {
        stage: "engagement".into(),
        step: n,
    }
}

/// The comment events recorded so far, with who and when, as the store
/// reads them from the chain.
struct Chain(Vec<(Event, PersonId, Timestamp)>);

impl Chain {
    fn run(&mut self, e: &mut Engagement, actor: &Actor, cmd: Command) -> Vec<Event> {
        let at = 1_800_000_000 + self.0.len() as i64;
        let events = run(e, actor, cmd, at).unwrap();
        self.0.extend(
            events
                .iter()
                .map(|ev| (ev.clone(), actor.person, Timestamp(at))),
        );
        events
    }

    fn read(&self, e: &Engagement, reader: &Actor) -> Vec<discussion::Comment> {
        fold(self.0.iter().map(|(ev, by, at)| (ev, *by, *at)), e, reader)
    }
}

#[test]
fn anchors_have_keys_that_read_back_and_nonsense_does_not() {
    let all = [
        Anchor::Engagement,
        step(2),
        Anchor::Decision {
            stage: "discovery".into(),
            at: DecisionAt::Point { index: 0 },
        },
        Anchor::Decision {
            stage: "discovery".into(),
            at: DecisionAt::Exit,
        },
        Anchor::Risk { id: 3 },
    ];
    for a in all {
        assert_eq!(Anchor::parse_key(&a.key()), Some(a.clone()), "{}", a.key());
    }
    for bad in [
        "",
        "step",
        "step:engagement",
        "step:engagement:x",
        "step::1",
        "risk:-1",
        "risk:1:2",
        "decision:discovery:next",
        "engagement:1",
        &format!("step:{}:1", "s".repeat(101)),
    ] {
        assert_eq!(Anchor::parse_key(bad), None, "{bad}");
    }
}

#[test]
fn a_comment_is_about_something_the_engagement_has() {
    let mut e = engagement();
    let refused = |e: &Engagement, about: Anchor| {
        decide(model(), e, &member(), &directory(), &say(about, "Hello")).unwrap_err()
    };
    assert!(matches!(
        refused(&e, step(99)),
        DomainError::Invalid { field: "about", .. }
    ));
    assert!(matches!(
        refused(
            &e,
            Anchor::Step {
                stage: "nowhere".into(),
                step: 1
            }
        ),
        DomainError::Invalid { field: "about", .. }
    ));
    assert!(matches!(
        refused(
            &e,
            Anchor::Decision {
                stage: "engagement".into(),
                at: DecisionAt::Point { index: 99 }
            }
        ),
        DomainError::Invalid { field: "about", .. }
    ));
    assert!(matches!(
        refused(&e, Anchor::Risk { id: 1 }),
        DomainError::Invalid { field: "about", .. }
    ));
    run(
        &mut e,
        &member(),
        Command::AddRisk {
            text: "No sponsor yet".into(),
            stage: None,
        },
        1,
    )
    .unwrap();
    let mut chain = Chain(Vec::new());
    chain.run(
        &mut e,
        &member(),
        say(Anchor::Risk { id: 1 }, "Who chases this?"),
    );
    // A stage named with spaces is the stage.
    let ev = chain.run(
        &mut e,
        &partner(),
        say(
            Anchor::Step {
                stage: " engagement ".into(),
                step: 1,
            },
            "Ready",
        ),
    );
    assert!(matches!(&ev[0], Event::Commented { id: 2, anchor, .. } if *anchor == step(1)));
    assert_eq!(e.comments.len(), 2);
    assert!(
        Anchor::Risk { id: 1 }
            .label(model(), &e)
            .contains("No sponsor yet")
    );
    // Empty and overlong words are refused, saying which field.
    for body in [
        String::new(),
        "  \n ".into(),
        "x".repeat(discussion::COMMENT_MAX + 1),
    ] {
        let err = decide(model(), &e, &member(), &directory(), &say(step(1), &body)).unwrap_err();
        assert!(
            matches!(err, DomainError::Invalid { field: "body", .. }),
            "{err}"
        );
    }
}

#[test]
fn mentions_name_only_people_who_take_part() {
    let mut e = engagement();
    let mut chain = Chain(Vec::new());
    let ev = chain.run(
        &mut e,
        &member(),
        say(
            step(1),
            "@Sid Sponsor and @pat, please look. Not @Olu Other, not @Sue Stranger, \
             not me (@Mia Member), not mail@Sam Staff, and @Sid Sponsor again. @Sidney is nobody.",
        ),
    );
    let Event::Commented { mentions, .. } = &ev[0] else {
        panic!("{ev:?}")
    };
    // The sponsor by full name, the assigned partner by a first name only
    // they have; another agency's member, an unassigned partner, the author
    // and an email address are not mentions; each person once.
    assert_eq!(mentions, &vec![SPONSOR, PARTNER]);
    // Someone who has left is never told.
    let mut people = directory();
    people
        .iter_mut()
        .find(|p| p.id == SPONSOR)
        .unwrap()
        .deactivated_at = Some(Timestamp(1));
    let ev = decide(
        model(),
        &e,
        &member(),
        &people,
        &say(step(1), "@Sid Sponsor?"),
    )
    .unwrap();
    assert!(matches!(&ev[0], Event::Commented { mentions, .. } if mentions.is_empty()));
    // The longest name wins: "@Sam Staff" is Sam, and a shared first name
    // is no mention.
    let mut people = directory();
    people.push(Person {
        id: PersonId(12),
        name: "Sam Second".into(),
        email: Email::parse("sam2@example.gov.au").unwrap(),
        roles: vec![Role::ProgrammeStaff],
        deactivated_at: None,
    });
    let ev = decide(
        model(),
        &e,
        &member(),
        &people,
        &say(step(1), "@sam, @Sam Second!"),
    )
    .unwrap();
    assert!(matches!(&ev[0], Event::Commented { mentions, .. } if *mentions == vec![PersonId(12)]));
    // Two people of one name: neither is meant for certain, so neither.
    let mut people = directory();
    people.push(Person {
        id: PersonId(13),
        name: "sid sponsor".into(),
        email: Email::parse("sid2@example.gov.au").unwrap(),
        roles: vec![Role::ProgrammeStaff],
        deactivated_at: None,
    });
    let ev = decide(
        model(),
        &e,
        &member(),
        &people,
        &say(step(1), "@Sid Sponsor?"),
    )
    .unwrap();
    assert!(matches!(&ev[0], Event::Commented { mentions, .. } if mentions.is_empty()));
    // Too many people at once is refused, not truncated; and over every
    // version of one comment too, so edits cannot mail everyone in turn.
    let mut people = directory();
    let mut body = String::new();
    for i in 0..=discussion::MENTIONS_MAX {
        people.push(Person {
            id: PersonId(100 + i as i64),
            name: format!("Person Number{i}"),
            email: Email::parse(&format!("n{i}@example.gov.au")).unwrap(),
            roles: vec![Role::ProgrammeStaff],
            deactivated_at: None,
        });
        body.push_str(&format!("@Person Number{i} "));
    }
    let err = decide(model(), &e, &member(), &people, &say(step(1), &body)).unwrap_err();
    assert!(err.to_string().contains("at most"), "{err}");
    let first: String = (0..discussion::MENTIONS_MAX)
        .map(|i| format!("@Person Number{i} "))
        .collect();
    let mut e2 = e.clone();
    for ev in decide(model(), &e2, &member(), &people, &say(step(1), &first)).unwrap() {
        e2.apply(&ev, MEMBER, Timestamp(5));
    }
    let id = e2.comments.last().unwrap().id;
    let other = format!(
        "@Person Number{} and @Person Number0",
        discussion::MENTIONS_MAX
    );
    let err = decide(
        model(),
        &e2,
        &member(),
        &people,
        &Command::EditComment {
            id,
            body: other.as_str().into(),
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("told 20 people already"), "{err}");
}

#[test]
fn edits_keep_every_version_and_tell_only_the_newly_mentioned() {
    let mut e = engagement();
    let mut chain = Chain(Vec::new());
    chain.run(&mut e, &member(), say(step(1), "Draft, @Sid Sponsor"));
    let ev = chain.run(
        &mut e,
        &member(),
        Command::EditComment {
            id: 1,
            body: "Final, @Sid Sponsor and @Pat Partner".into(),
        },
    );
    assert!(matches!(&ev[0], Event::CommentEdited { mentions, told, .. }
        if *mentions == vec![SPONSOR, PARTNER] && *told == vec![PARTNER]));
    // Nobody else writes a new version, the programme neither.
    for other in [staff(), sponsor(), partner()] {
        let err = decide(
            model(),
            &e,
            &other,
            &directory(),
            &Command::EditComment {
                id: 1,
                body: "Mine now".into(),
            },
        )
        .unwrap_err();
        assert!(matches!(err, DomainError::Forbidden { .. }), "{err}");
    }
    let err = decide(
        model(),
        &e,
        &member(),
        &directory(),
        &Command::EditComment {
            id: 9,
            body: "x".into(),
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, DomainError::Invalid { field: "id", .. }),
        "{err}"
    );
    let read = chain.read(&e, &sponsor());
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].body, "Final, @Sid Sponsor and @Pat Partner");
    assert_eq!(read[0].earlier.len(), 1);
    assert_eq!(read[0].earlier[0].body, "Draft, @Sid Sponsor");
    assert_eq!(read[0].mentions, vec![SPONSOR, PARTNER]);
    // What the page says it mentions is what the words now say; whom it
    // told stays, so nobody is told twice.
    chain.run(
        &mut e,
        &member(),
        Command::EditComment {
            id: 1,
            body: "Final, @Pat Partner only".into(),
        },
    );
    assert_eq!(chain.read(&e, &sponsor())[0].mentions, vec![PARTNER]);
    assert_eq!(e.comments[0].mentions, vec![SPONSOR, PARTNER]);
    assert!(read[0].edited_at > Some(read[0].at));
}

#[test]
fn the_programme_hides_a_comment_and_only_it_and_the_author_read_why() {
    let mut e = engagement();
    let mut chain = Chain(Vec::new());
    chain.run(
        &mut e,
        &partner(),
        say(Anchor::Engagement, "Our price is $90,000"),
    );
    for who in [member(), sponsor(), partner()] {
        let err = decide(
            model(),
            &e,
            &who,
            &directory(),
            &Command::HideComment {
                id: 1,
                reason: "x".into(),
            },
        )
        .unwrap_err();
        assert!(matches!(err, DomainError::Forbidden { .. }), "{err}");
    }
    let no_reason = Command::HideComment {
        id: 1,
        reason: " ".into(),
    };
    assert!(decide(model(), &e, &staff(), &directory(), &no_reason).is_err());
    chain.run(
        &mut e,
        &staff(),
        Command::HideComment {
            id: 1,
            reason: "Prices are for the tender".into(),
        },
    );
    assert!(e.comments[0].hidden);
    for (who, reads) in [
        (staff(), true),
        (partner(), true),
        (member(), false),
        (sponsor(), false),
    ] {
        let c = &chain.read(&e, &who)[0];
        if reads {
            assert_eq!(c.body, "Our price is $90,000");
            assert_eq!(c.hidden.as_deref(), Some("Prices are for the tender"));
        } else {
            assert_eq!(c.body, "", "{:?}", who.roles);
            assert_eq!(c.hidden.as_deref(), Some(""), "hidden, without why");
            assert!(c.mentions.is_empty(), "nor whom it named");
        }
    }
    // Hidden is final for its author's edits, and hiding twice says so.
    let edit = Command::EditComment {
        id: 1,
        body: "Softer".into(),
    };
    assert!(matches!(
        decide(model(), &e, &partner(), &directory(), &edit).unwrap_err(),
        DomainError::Rule(_)
    ));
    let again = Command::HideComment {
        id: 1,
        reason: "again".into(),
    };
    assert!(matches!(
        decide(model(), &e, &staff(), &directory(), &again).unwrap_err(),
        DomainError::Rule(_)
    ));
    // Whether a mention still goes out is judged when it does.
    assert!(discussion::mention_deliverable(
        Access::Partner,
        false,
        false
    ));
    assert!(!discussion::mention_deliverable(Access::None, false, false));
    assert!(!discussion::mention_deliverable(
        Access::Programme,
        true,
        false
    ));
    assert!(!discussion::mention_deliverable(
        Access::Programme,
        false,
        true
    ));
}

#[test]
fn talk_never_makes_a_form_stale_but_two_edits_of_one_comment_do() {
    let said = [Event::Commented {
        id: 1,
        anchor: Anchor::Engagement,
        body: "Hello".into(),
        mentions: Vec::new(),
    }];
    let letter = Command::IssueLetter {
        kind: LetterKind::LetterOfIntent,
        sha256: "a".repeat(64).into(),
    };
    assert!(
        !conflicts(&letter, &said),
        "a letter depends on the record, not the talk"
    );
    let step = Command::SetStep {
        stage: "engagement".into(),
        step: 1,
        status: StepStatus::Done,
    };
    assert!(!conflicts(&step, &said));
    let edited = [Event::CommentEdited {
        id: 1,
        body: "Hello again".into(),
        mentions: Vec::new(),
        told: Vec::new(),
    }];
    let edit = |id| Command::EditComment {
        id,
        body: "Mine".into(),
    };
    assert!(conflicts(&edit(1), &edited));
    assert!(!conflicts(&edit(2), &edited));
    assert!(conflicts(
        &Command::HideComment {
            id: 1,
            reason: "x".into()
        },
        &edited
    ));
}

#[test]
fn a_do_it_yourself_record_takes_no_comments() {
    let mut e = engagement();
    e.apply(
        &Event::ModeChanged {
            mode: Mode::DoItYourself,
        },
        STAFF,
        Timestamp(3),
    );
    let err = decide(
        model(),
        &e,
        &member(),
        &directory(),
        &say(Anchor::Engagement, "Hi"),
    )
    .unwrap_err();
    assert!(matches!(err, DomainError::Rule(_)), "{err}");
}
