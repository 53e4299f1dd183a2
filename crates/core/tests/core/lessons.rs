//! Lessons from retrospectives, tagged to the model.

use waymark_core::lesson::LessonKind;
use waymark_core::*;

use crate::*;

fn with_retro(retro: bool) -> Engagement {
    let mut e = engagement();
    run(
        &mut e,
        &member(),
        Command::ScheduleWorkshop {
            id: None,
            plan: WorkshopPlan {
                title: "Discovery retro".into(),
                retro,
                ..workshop_plan()
            },
        },
        10,
    )
    .unwrap();
    e
}

fn lesson(workshop: u32, stage: &str, step: Option<u32>, text: &str) -> Command {
    Command::RecordLesson {
        workshop,
        kind: LessonKind::ToImprove,
        text: text.into(),
        stage: stage.into(),
        step,
    }
}

fn field(r: Result<Vec<Event>, DomainError>) -> String {
    match r {
        Err(DomainError::Invalid { field, message }) => format!("{field}: {message}"),
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[test]
fn a_retro_records_lessons_tagged_to_the_model() {
    let mut e = with_retro(true);
    run(
        &mut e,
        &member(),
        lesson(1, "discovery", Some(5), "Book the assessor earlier."),
        11,
    )
    .unwrap();
    run(
        &mut e,
        &partner(),
        Command::RecordLesson {
            workshop: 1,
            kind: LessonKind::WentWell,
            text: "The sponsor came to every workshop.".into(),
            stage: " engagement ".into(),
            step: None,
        },
        12,
    )
    .unwrap();
    assert_eq!(e.lessons.len(), 2);
    assert_eq!(e.lessons[0].id, 1);
    assert_eq!(
        (e.lessons[0].stage.as_str(), e.lessons[0].step),
        ("discovery", Some(5))
    );
    assert_eq!(e.lessons[1].stage, "engagement");
    assert_eq!(e.lessons[1].by, PARTNER);
    assert_eq!(e.lessons[1].kind.label(), "Went well");
}

#[test]
fn a_lesson_needs_a_retro_and_a_place_in_the_model() {
    let plain = with_retro(false);
    let try_ = |e: &Engagement, c: Command| decide(model(), e, &member(), &directory(), &c);
    assert!(
        field(try_(&plain, lesson(1, "discovery", None, "x")))
            .starts_with("workshop: “Discovery retro” is not a retrospective")
    );
    let e = with_retro(true);
    assert!(
        field(try_(&e, lesson(9, "discovery", None, "x")))
            .starts_with("workshop: there is no workshop 9")
    );
    assert!(field(try_(&e, lesson(1, "nowhere", None, "x"))).starts_with("stage:"));
    assert!(
        field(try_(&e, lesson(1, "discovery", Some(99), "x")))
            .starts_with("step: Discovery has no step 99")
    );
    assert!(field(try_(&e, lesson(1, "discovery", None, "  "))).starts_with("text:"));
    assert!(
        field(try_(&e, lesson(1, "discovery", None, &"x".repeat(2001))))
            .starts_with("text: is too long")
    );
    // Another agency's people do not reach the record at all.
    assert_eq!(
        decide(
            model(),
            &e,
            &other_member(),
            &directory(),
            &lesson(1, "discovery", None, "x")
        ),
        Err(DomainError::NotFound)
    );
    // A cancelled retro takes no more lessons.
    let mut cancelled = with_retro(true);
    run(
        &mut cancelled,
        &member(),
        Command::CancelWorkshop { id: 1 },
        11,
    )
    .unwrap();
    assert!(matches!(
        try_(&cancelled, lesson(1, "discovery", None, "x")),
        Err(DomainError::Rule(_))
    ));
}

#[test]
fn a_plan_saved_before_retros_existed_is_not_one() {
    let old = serde_json::json!({
        "title": "Initial workshop", "date": "2026-12-01", "time": "10:00",
        "timezone": "Australia/Canberra", "minutes": 90, "location": null, "link": null,
        "agenda": "Access", "attendees": []
    });
    let plan: WorkshopPlan = serde_json::from_value(old.clone()).unwrap();
    assert!(!plan.retro);
    // And it is written back as it was.
    assert_eq!(serde_json::to_value(&plan).unwrap(), old);
}

#[test]
fn a_proposed_lesson_is_answered_once_by_the_programme() {
    let mut e = with_retro(true);
    run(
        &mut e,
        &member(),
        lesson(1, "discovery", Some(5), "Book the assessor earlier."),
        11,
    )
    .unwrap();
    let propose = Command::ProposeLesson {
        id: 1,
        target: lesson::ProposedFor::Guidance,
    };
    // Only a proposed lesson is answered.
    let decline = |reason: &str| Command::DeclineLesson {
        id: 1,
        reason: reason.into(),
    };
    assert!(matches!(
        decide(
            model(),
            &e,
            &staff(),
            &directory(),
            &decline("Covered already")
        ),
        Err(DomainError::Rule(_))
    ));
    run(&mut e, &partner(), propose.clone(), 12).unwrap();
    assert!(matches!(
        decide(model(), &e, &member(), &directory(), &propose),
        Err(DomainError::Rule(m)) if m.contains("already proposed for the guidance")
    ));
    // The agency does not answer its own proposals.
    assert!(matches!(
        decide(model(), &e, &member(), &directory(), &decline("No")),
        Err(DomainError::Forbidden { .. })
    ));
    assert!(
        field(decide(model(), &e, &staff(), &directory(), &decline("  "))).starts_with("reason:")
    );
    // Accepting needs the draft the store writes.
    let bare = Command::AcceptLesson {
        id: 1,
        post_in: None,
        article: None,
        question: None,
    };
    assert!(matches!(
        decide(model(), &e, &staff(), &directory(), &bare),
        Err(DomainError::Rule(_))
    ));
    // And a caller cannot name one: the field is never read from JSON.
    let sent: Command =
        serde_json::from_str(r#"{"command":"accept_lesson","id":1,"article":99}"#).unwrap();
    assert_eq!(sent, bare);
    run(
        &mut e,
        &staff(),
        Command::AcceptLesson {
            id: 1,
            post_in: None,
            article: Some(7),
            question: None,
        },
        13,
    )
    .unwrap();
    let p = e.lessons[0].proposal.as_ref().unwrap();
    assert_eq!(p.answer, Some(lesson::Answer::Accepted { article: 7 }));
    assert_eq!(p.answered_by, Some(STAFF));
    assert!(matches!(
        decide(model(), &e, &staff(), &directory(), &decline("Too late")),
        Err(DomainError::Rule(m)) if m.contains("already answered")
    ));
}

#[test]
fn an_accepted_lesson_drafts_a_valid_article_tagged_to_its_step() {
    let mut e = with_retro(true);
    let long = "Book the security assessor <before> Discovery starts. ".repeat(10);
    run(
        &mut e,
        &member(),
        lesson(1, "discovery", Some(5), &long),
        11,
    )
    .unwrap();
    run(
        &mut e,
        &member(),
        Command::ProposeLesson {
            id: 1,
            target: lesson::ProposedFor::Blueprint,
        },
        12,
    )
    .unwrap();
    let input = lesson::draft(model(), &e.lessons[0], "lesson-1-1", "2026-12-04");
    assert_eq!(input.slug, "lesson-1-1");
    assert_eq!(input.tags, "discovery/5");
    assert_eq!(input.review_by, "2027-03-04");
    let article = knowledge::check(&input, model(), "2026-12-04").unwrap();
    assert!(
        article
            .title
            .starts_with("Lesson: Book the security assessor")
    );
    assert!(article.title.ends_with('…'));
    assert!(article.summary.contains("proposed for the blueprint"));
    assert!(
        !article.body.contains("Bureau of Things"),
        "the guide is public"
    );
    assert!(article.body.contains("Discovery, step 5"));
}

#[test]
fn a_retro_with_lessons_stays_a_retro() {
    let mut e = with_retro(true);
    run(
        &mut e,
        &member(),
        lesson(1, "discovery", None, "Meet sooner."),
        11,
    )
    .unwrap();
    let plain = Command::ScheduleWorkshop {
        id: Some(1),
        plan: WorkshopPlan {
            title: "Discovery retro".into(),
            retro: false,
            ..workshop_plan()
        },
    };
    assert!(field(decide(model(), &e, &member(), &directory(), &plain)).starts_with("retro:"));
}
