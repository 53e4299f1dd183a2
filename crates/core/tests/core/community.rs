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
        hidden: false,
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
    let answer = PostState {
        author: PersonId(7),
        hidden: false,
    };
    assert!(may_accept(&newcomer(), open).is_ok());
    assert!(may_accept(&member(), open).is_err());
    assert!(may_accept(&staff(), open).is_ok());
    assert_eq!(
        accept(&newcomer(), open, Some(answer), None, 5),
        Ok(TopicEvent::Accepted { post: 5 })
    );
    assert_eq!(
        accept(&newcomer(), open, None, None, 5),
        Err(DomainError::invalid(
            "post",
            "is not an answer to this question"
        ))
    );
    assert!(matches!(
        accept(&newcomer(), open, Some(answer), Some(5), 5),
        Err(DomainError::Rule(_))
    ));
    assert!(matches!(
        accept(&member(), open, Some(answer), None, 5),
        Err(DomainError::Forbidden { .. })
    ));
    // Anyone but the author votes.
    let theirs = PostState {
        author: PersonId(99),
        hidden: false,
    };
    assert!(may_vote(&member(), theirs).is_ok());
    assert!(may_vote(&newcomer(), theirs).is_err());
}

#[test]
fn what_the_programme_hid_is_not_answered_accepted_voted_or_promoted() {
    let hidden_question = TopicState {
        asker: PersonId(99),
        locked: false,
        programme_only: false,
        hidden: true,
    };
    // Its asker still reads and edits it, but nobody else acts on it.
    for a in [newcomer(), member()] {
        assert!(matches!(
            may_answer(&a, hidden_question),
            Err(DomainError::Forbidden { .. })
        ));
        assert!(may_accept(&a, hidden_question).is_err());
    }
    assert!(may_edit(&newcomer(), PersonId(99), hidden_question).is_ok());
    assert!(may_answer(&staff(), hidden_question).is_ok());
    let open = TopicState {
        hidden: false,
        ..hidden_question
    };
    let hidden_answer = PostState {
        author: PersonId(7),
        hidden: true,
    };
    for a in [newcomer(), staff()] {
        let e = accept(&a, open, Some(hidden_answer), None, 5).unwrap_err();
        assert!(e.to_string().contains("hid this answer"), "{e}");
    }
    let e = may_flag(&member(), hidden_answer).unwrap_err();
    assert!(e.to_string().contains("hidden it already"), "{e}");
    let e = may_vote(&member(), hidden_answer).unwrap_err();
    assert!(e.to_string().contains("hid this post"), "{e}");
    let e = may_promote(&staff(), Some(5), None, true).unwrap_err();
    assert!(e.to_string().contains("hidden"), "{e}");
}

#[test]
fn a_notice_goes_out_only_about_what_still_stands() {
    let standing = NoticeState {
        still_accepted: true,
        ..NoticeState::default()
    };
    assert!(deliverable(Notice::Answered, NoticeState::default()));
    assert!(deliverable(Notice::Accepted, standing));
    // Hidden since it was left: neither kind goes.
    for kind in [Notice::Answered, Notice::Accepted] {
        assert!(!deliverable(
            kind,
            NoticeState {
                hidden: true,
                ..standing
            }
        ));
    }
    // An acceptance taken back, followed by another, or told before.
    for state in [
        NoticeState::default(),
        NoticeState {
            superseded: true,
            ..standing
        },
        NoticeState {
            told: true,
            ..standing
        },
    ] {
        assert!(!deliverable(Notice::Accepted, state), "{state:?}");
    }
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

#[test]
fn only_the_programme_promotes_an_answered_question_once() {
    for a in [newcomer(), member(), sponsor()] {
        assert!(matches!(
            may_promote(&a, Some(5), None, false),
            Err(DomainError::Forbidden { .. })
        ));
    }
    assert_eq!(may_promote(&staff(), Some(5), None, false).unwrap(), 5);
    let e = may_promote(&staff(), None, None, false).unwrap_err();
    assert!(e.to_string().contains("accepted answer"), "{e}");
    let e = may_promote(&admin(), Some(5), Some(12), false).unwrap_err();
    assert!(e.to_string().contains("already in the FAQ"), "{e}");
}

#[test]
fn an_faq_draft_passes_the_articles_checks() {
    let model = crate::model();
    let tag = StepTag::parse("discovery/2", model).unwrap().unwrap();
    let question = format!(
        "\n\n  Which   licences do we\nneed first?  \n\nMore detail. {}",
        "word ".repeat(200)
    );
    let d = faq_draft(
        7,
        "Which licences do we need before the discovery workshop?",
        &question,
        "Start with **E5**.",
        Some(&tag),
        "2099-01-01",
    );
    assert_eq!(d.summary, "Which licences do we need first?");
    // Markdown's marks are not a summary's words.
    let marked = faq_draft(
        7,
        "A question title",
        "## We have **three** [sites](https://x.example) and `E5`_now_",
        "x",
        None,
        "2099-01-01",
    );
    assert_eq!(marked.summary, "We have three sites and E5now");
    assert_eq!(d.body, "Start with **E5**.");
    assert_eq!(d.tags, "discovery/2");
    assert!(d.slug.starts_with("faq-7-which-licences"), "{}", d.slug);
    let a = waymark_core::knowledge::check(&d, model, "2026-12-04").unwrap();
    assert_eq!(a.tags.len(), 1);
    // A long first paragraph and a long, non-ASCII title still make a
    // draft that passes: cut at a word, slug from the ASCII that is left.
    let long = faq_draft(
        8,
        &format!("Ünïcode {}", "lengthy ".repeat(40)),
        &"many words here ".repeat(60),
        "Yes.",
        None,
        "2099-01-01",
    );
    assert!(long.summary.chars().count() <= waymark_core::knowledge::MAX_SUMMARY);
    assert!(long.summary.ends_with('…'));
    assert!(long.slug.len() <= waymark_core::knowledge::MAX_SLUG && !long.slug.ends_with('-'));
    waymark_core::knowledge::check(&long, model, "2026-12-04").unwrap();
    // An empty question leaves the title as the summary.
    assert_eq!(
        faq_draft(9, "A question title", "", "x", None, "2099-01-01").summary,
        "A question title"
    );
}

#[test]
fn watchers_hear_of_what_others_did_as_they_asked() {
    use waymark_core::Notify;
    let (me, you) = (PersonId(1), PersonId(2));
    assert!(mail_now(me, you, Notify::Each));
    assert!(
        !mail_now(me, me, Notify::Each),
        "never about one's own post"
    );
    assert!(!mail_now(me, you, Notify::Daily) && !mail_now(me, you, Notify::Never));
    assert!(in_digest(me, you, Notify::Daily));
    assert!(!in_digest(me, me, Notify::Daily) && !in_digest(me, you, Notify::Each));
    assert!(may_watch(Some(&newcomer()), Visibility::Members).is_ok());
    assert!(matches!(
        may_watch(None, Visibility::Public),
        Err(DomainError::Forbidden { .. })
    ));
    assert_eq!(Notice::parse("accepted"), Some(Notice::Accepted));
    assert_eq!(Notice::parse("x"), None);
    assert_eq!(Notice::Answered.headline("Why?"), "New answer: Why?");
}

#[test]
fn moderation_is_the_programmes_and_each_change_is_real() {
    let open = Moderated {
        locked: false,
        category: "discovery",
        post_hidden: Some(false),
        target_exists: true,
    };
    let hide = Moderation::Hide {
        post: 4,
        reason: "Advertising".into(),
    };
    assert!(matches!(
        moderate(&member(), &hide, &open),
        Err(DomainError::Forbidden { .. })
    ));
    assert_eq!(
        moderate(&staff(), &hide, &open).unwrap(),
        TopicEvent::Hidden {
            post: 4,
            reason: "Advertising".into()
        }
    );
    let no_reason = Moderation::Hide {
        post: 4,
        reason: "  ".into(),
    };
    assert!(matches!(
        moderate(&staff(), &no_reason, &open),
        Err(DomainError::Invalid {
            field: "reason",
            ..
        })
    ));
    let two_lines = Moderation::Hide {
        post: 4,
        reason: "a\r\nBcc: x".into(),
    };
    assert!(moderate(&staff(), &two_lines, &open).is_err());
    let elsewhere = Moderated {
        post_hidden: None,
        ..open.clone()
    };
    assert!(matches!(
        moderate(&staff(), &hide, &elsewhere),
        Err(DomainError::Invalid { field: "post", .. })
    ));
    let hidden = Moderated {
        post_hidden: Some(true),
        ..open.clone()
    };
    assert!(moderate(&staff(), &hide, &hidden).is_err());
    assert_eq!(
        moderate(&admin(), &Moderation::Unhide { post: 4 }, &hidden).unwrap(),
        TopicEvent::Unhidden { post: 4 }
    );
    assert!(moderate(&admin(), &Moderation::Unhide { post: 4 }, &open).is_err());
    assert_eq!(
        moderate(&staff(), &Moderation::Lock, &open).unwrap(),
        TopicEvent::Locked
    );
    let locked = Moderated {
        locked: true,
        ..open.clone()
    };
    assert!(moderate(&staff(), &Moderation::Lock, &locked).is_err());
    assert_eq!(
        moderate(&staff(), &Moderation::Unlock, &locked).unwrap(),
        TopicEvent::Unlocked
    );
    assert!(moderate(&staff(), &Moderation::Unlock, &open).is_err());
    let to = |c: &str| Moderation::Move { to: c.into() };
    assert_eq!(
        moderate(&staff(), &to("deploy"), &open).unwrap(),
        TopicEvent::Moved {
            from: "discovery".into(),
            to: "deploy".into()
        }
    );
    assert!(moderate(&staff(), &to("discovery"), &open).is_err());
    let gone = Moderated {
        target_exists: false,
        ..open.clone()
    };
    assert!(matches!(
        moderate(&staff(), &to("nowhere"), &gone),
        Err(DomainError::Invalid {
            field: "category",
            ..
        })
    ));
}

#[test]
fn new_accounts_post_a_few_times_an_hour_until_they_are_established() {
    let week = NEW_ACCOUNT_SECS;
    assert_eq!(post_limit(&newcomer(), 0, true), Some(NEW_POSTS_PER_HOUR));
    assert_eq!(
        post_limit(&newcomer(), week, false),
        Some(NEW_POSTS_PER_HOUR)
    );
    assert_eq!(post_limit(&newcomer(), week, true), None);
    assert_eq!(post_limit(&staff(), 0, false), None);
    assert!(
        may_flag(
            &newcomer(),
            PostState {
                author: PersonId(99),
                hidden: false
            }
        )
        .is_err(),
        "not one's own post"
    );
    assert!(
        may_flag(
            &newcomer(),
            PostState {
                author: PersonId(1),
                hidden: false
            }
        )
        .is_ok()
    );
    assert_eq!(flag_reason(" spam ").unwrap(), "spam");
    assert!(flag_reason(&"x".repeat(REASON_MAX + 1)).is_err());
}
