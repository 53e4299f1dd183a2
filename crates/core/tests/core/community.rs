//! The community portal's rules: who may do what, and what a question,
//! an answer, a category and a tag may hold.

use waymark_core::community::*;
use waymark_core::*;

use crate::*;

/// Someone with an account and no role: a community member only.
fn newcomer() -> Actor {
    Actor {
        person: PersonId(99),
        roles: Vec::new(),
    }
}

fn category(programme_only: bool) -> Category {
    Category {
        id: 1,
        slug: "c".into(),
        name: "C".into(),
        description: String::new(),
        visibility: Visibility::Public,
        programme_only,
        questions: 0,
    }
}

#[test]
fn reading_asking_and_moderating() {
    assert!(may_read(None, Visibility::Public));
    assert!(!may_read(None, Visibility::Members));
    assert!(may_read(Some(&newcomer()), Visibility::Members));
    for a in [newcomer(), member(), sponsor()] {
        assert!(may_ask(&a, &category(false)).is_ok());
        assert!(may_ask(&a, &category(true)).is_err());
        assert!(may_moderate(&a).is_err());
    }
    assert!(may_ask(&staff(), &category(true)).is_ok());
    assert!(may_moderate(&admin()).is_ok());
}

#[test]
fn answering_editing_accepting_and_voting() {
    let open = TopicState {
        asker: PersonId(99),
        locked: false,
        programme_only: false,
    };
    let announcement = TopicState {
        programme_only: true,
        ..open
    };
    assert!(may_answer(&newcomer(), announcement).is_err());
    assert!(may_answer(&staff(), announcement).is_ok());
    let locked = TopicState {
        locked: true,
        ..open
    };
    assert!(may_answer(&member(), open).is_ok());
    assert!(may_answer(&member(), locked).is_err());
    assert!(may_answer(&staff(), locked).is_ok());
    // Authors edit their own while the question is open; the programme any.
    assert!(may_edit(&newcomer(), PersonId(99), open).is_ok());
    assert!(may_edit(&newcomer(), PersonId(99), locked).is_err());
    assert!(may_edit(&member(), PersonId(99), open).is_err());
    assert!(may_edit(&staff(), PersonId(99), locked).is_ok());
    // The asker or the programme accepts.
    assert!(may_accept(&newcomer(), open).is_ok());
    assert!(may_accept(&member(), open).is_err());
    assert!(may_accept(&staff(), open).is_ok());
    assert_eq!(
        accept(&newcomer(), open, true, None, 5),
        Ok(TopicEvent::Accepted { post: 5 })
    );
    assert_eq!(
        accept(&newcomer(), open, false, None, 5),
        Err(DomainError::invalid(
            "post",
            "is not an answer to this question"
        ))
    );
    assert!(matches!(
        accept(&newcomer(), open, true, Some(5), 5),
        Err(DomainError::Rule(_))
    ));
    assert!(matches!(
        accept(&member(), open, true, None, 5),
        Err(DomainError::Forbidden { .. })
    ));
    // Anyone but the author votes.
    assert!(may_vote(&member(), PersonId(99)).is_ok());
    assert!(may_vote(&newcomer(), PersonId(99)).is_err());
}

fn fields(r: Result<impl std::fmt::Debug, Vec<DomainError>>) -> Vec<&'static str> {
    r.unwrap_err()
        .into_iter()
        .map(|e| match e {
            DomainError::Invalid { field, .. } => field,
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn questions_are_checked_every_problem_at_once() {
    let m = model();
    let stage = &m.stages[0];
    let q = Question::parse(
        "  Who comes to the first meeting?  ",
        "Line one\r\nline two",
        &format!(" {}/2 ", stage.slug.to_uppercase()),
        m,
    )
    .unwrap();
    assert_eq!(q.title, "Who comes to the first meeting?");
    assert_eq!(q.body, "Line one\nline two");
    assert_eq!(
        q.tag,
        Some(StepTag {
            stage: stage.slug.clone(),
            step: Some(2)
        })
    );
    assert!(
        q.tag
            .unwrap()
            .label(m)
            .starts_with(&format!("{}, step 2: ", stage.name))
    );
    assert_eq!(fields(Question::parse("", "", "", m)), ["title", "body"]);
    assert_eq!(fields(Question::parse("Why?", "x", "", m)), ["title"]);
    assert_eq!(
        fields(Question::parse("A\u{7}bell in the title", "x", "", m)),
        ["title"]
    );
    let big = "x".repeat(BODY_MAX + 1);
    assert_eq!(
        fields(Question::parse("A fine question here", &big, "", m)),
        ["body"]
    );
    for bad in [
        "nowhere",
        "nowhere/1",
        &format!("{}/999", stage.slug),
        &format!("{}/two", stage.slug),
    ] {
        assert_eq!(
            fields(Question::parse("A fine question here", "x", bad, m)),
            ["tag"],
            "{bad}"
        );
    }
    assert_eq!(fields(edit(Some(""), "")), ["title", "body"]);
    assert_eq!(edit(None, "new").unwrap().title, None);
}

#[test]
fn categories_are_checked_and_the_defaults_follow_the_model() {
    let c = NewCategory::parse(" Licensing & costs ", "", "members", false).unwrap();
    assert_eq!(c.slug, "licensing-costs");
    assert_eq!(c.visibility, Visibility::Members);
    assert_eq!(
        fields(NewCategory::parse("", "", "secret", false)),
        ["name", "visibility"]
    );
    assert_eq!(
        fields(NewCategory::parse("!!!", "", "public", false)),
        ["name"]
    );
    // Look-alikes fold to the name they imitate, so the store's unique
    // slug refuses them.
    let fold = |n: &str| NewCategory::parse(n, "", "public", false).unwrap();
    assert_eq!(fold("\u{ff21}nnouncements").slug, "announcements");
    assert_eq!(fold("\u{ff21}nnouncements").name, "Announcements");
    assert_eq!(fold("Cafe\u{301}").slug, fold("Caf\u{e9}").slug);
    assert_eq!(fold("日本語").slug, "日本語");
    let d = defaults(model());
    assert_eq!(d.len(), model().stages.len() + 2);
    assert!(d.iter().all(|c| c.visibility == Visibility::Public));
    assert_eq!(
        d.iter()
            .filter(|c| c.programme_only)
            .map(|c| c.slug.as_str())
            .collect::<Vec<_>>(),
        ["announcements"]
    );
}
