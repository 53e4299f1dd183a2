//! The community portal's records: categories and who reads them, asking,
//! answering, editing with history, votes, accepted answers, paging, and
//! each question's audited chain (and what `verify` finds when a row is
//! changed behind it).

use waymark_core::community::{self, NewCategory, Question, StepTag};
use waymark_core::*;
use waymark_store::StoreError;

use super::*;

fn question(model: &waymark_model::Model, title: &str, tag: &str) -> Question {
    Question::parse(
        title,
        "We have **three** sites; who should come?",
        tag,
        model,
    )
    .unwrap()
}

fn rule(r: Result<impl std::fmt::Debug, StoreError>) -> String {
    match r {
        Err(StoreError::Domain(DomainError::Rule(m))) => m,
        other => panic!("expected a refusal by rule, got {other:?}"),
    }
}

#[tokio::test]
async fn questions_answers_votes_and_acceptance_follow_the_rules_and_are_audited() {
    let model = waymark_model::build(waymark_model::bundled()).model;
    for store in stores("community").await {
        let w = world(store).await;
        let s = &w.store;
        s.ensure_categories(&community::defaults(&model))
            .await
            .unwrap();
        // Twice changes nothing.
        s.ensure_categories(&community::defaults(&model))
            .await
            .unwrap();
        let cats = s.categories(None).await.unwrap();
        let slugs: Vec<&str> = cats.iter().map(|c| c.slug.as_str()).collect();
        assert_eq!(slugs.len(), model.stages.len() + 2, "{slugs:?}");
        assert_eq!(slugs[0], model.stages[0].slug);
        assert!(slugs.ends_with(&["blueprint", "announcements"]));

        // A members-only category: nobody signed out sees it or its questions.
        let members = NewCategory::parse("Agency leads", "For leads.", "members", false).unwrap();
        assert!(matches!(
            s.add_category(&w.member, &members).await,
            Err(StoreError::Domain(DomainError::Forbidden { .. }))
        ));
        s.add_category(&w.staff, &members).await.unwrap();
        assert!(matches!(
            s.add_category(&w.staff, &members).await,
            Err(StoreError::Duplicate { .. })
        ));
        assert!(
            s.categories(None)
                .await
                .unwrap()
                .iter()
                .all(|c| c.slug != "agency-leads")
        );
        assert!(
            s.categories(Some(&w.other))
                .await
                .unwrap()
                .iter()
                .any(|c| c.slug == "agency-leads")
        );
        let private = s
            .ask(
                &w.other,
                "agency-leads",
                &question(&model, "How do leads meet?", ""),
                NOW,
            )
            .await
            .unwrap();
        assert!(matches!(
            s.thread(None, private).await,
            Err(StoreError::Domain(DomainError::NotFound))
        ));
        assert!(s.thread(Some(&w.member), private).await.is_ok());

        // Only the programme starts questions in Announcements.
        assert!(matches!(
            s.ask(
                &w.member,
                "announcements",
                &question(&model, "Is this the news?", ""),
                NOW
            )
            .await,
            Err(StoreError::Domain(DomainError::Forbidden { .. }))
        ));
        // Nor answers there.
        let news = s
            .ask(
                &w.staff,
                "announcements",
                &question(&model, "Blueprint 2.1 is out now", ""),
                NOW,
            )
            .await
            .unwrap();
        assert!(matches!(
            s.answer(&w.member, news, "Phishing https://evil.example", NOW)
                .await,
            Err(StoreError::Domain(DomainError::Forbidden { .. }))
        ));
        s.answer(&w.staff, news, "Release notes are on the guide.", NOW)
            .await
            .unwrap();
        assert!(matches!(
            s.ask(
                &w.member,
                "no-such-category",
                &question(&model, "Where does this go?", ""),
                NOW
            )
            .await,
            Err(StoreError::Domain(DomainError::NotFound))
        ));

        // Ask about Discovery step 2; answer twice; vote; accept.
        let stage = &model.stages[0];
        let tag = format!("{}/2", stage.slug);
        let q = s
            .ask(
                &w.member,
                &stage.slug,
                &question(&model, "Who comes to the first meeting?", &tag),
                NOW,
            )
            .await
            .unwrap();
        let first = s
            .answer(
                &w.staff,
                q,
                "Your sponsor and your IT lead.",
                Timestamp(NOW.0 + 60),
            )
            .await
            .unwrap();
        let second = s
            .answer(
                &w.other,
                q,
                "We also brought security.",
                Timestamp(NOW.0 + 120),
            )
            .await
            .unwrap();
        // Votes: never one's own, once each, and taken back.
        assert_eq!(
            rule(s.vote(&w.staff, first, true, NOW).await),
            "you cannot vote for your own post"
        );
        assert_eq!(s.vote(&w.member, second, true, NOW).await.unwrap(), 1);
        assert_eq!(
            rule(s.vote(&w.member, second, true, NOW).await),
            "you already voted for this post"
        );
        assert_eq!(s.vote(&w.staff, second, true, NOW).await.unwrap(), 2);
        assert_eq!(s.vote(&w.staff, second, false, NOW).await.unwrap(), 1);
        assert_eq!(
            rule(s.vote(&w.staff, second, false, NOW).await),
            "you have not voted for this post"
        );
        // The more-voted answer leads until one is accepted.
        let t = s.thread(Some(&w.member), q).await.unwrap();
        assert_eq!(
            t.answers.iter().map(|a| a.id).collect::<Vec<_>>(),
            [second, first]
        );
        assert_eq!(t.voted, [second]);
        // Only the asker or the programme accepts, and only this question's answers.
        assert!(matches!(
            s.accept_answer(&w.other, q, Some(first), NOW).await,
            Err(StoreError::Domain(DomainError::Forbidden { .. }))
        ));
        let elsewhere = s.answer(&w.staff, private, "Monthly.", NOW).await.unwrap();
        assert!(matches!(
            s.accept_answer(&w.member, q, Some(elsewhere), NOW).await,
            Err(StoreError::Domain(DomainError::Invalid {
                field: "post",
                ..
            }))
        ));
        s.accept_answer(&w.member, q, Some(first), Timestamp(NOW.0 + 200))
            .await
            .unwrap();
        assert_eq!(
            rule(s.accept_answer(&w.member, q, Some(first), NOW).await),
            "this answer is already the accepted one"
        );
        let t = s.thread(None, q).await.unwrap();
        assert_eq!(t.topic.accepted, Some(first));
        assert_eq!(t.answers[0].id, first);
        assert!(t.answers[0].accepted);
        // The programme's posts are marked as the programme's.
        assert!(t.answers[0].author_programme);
        assert!(!t.answers[1].author_programme);
        assert!(!t.question.author_programme);
        assert!(t.voted.is_empty(), "nobody signed out voted");
        assert_eq!(
            t.topic.tag,
            Some(StepTag {
                stage: stage.slug.clone(),
                step: Some(2)
            })
        );

        // Edits keep every revision; a stale edit and an empty change are refused.
        let edit = community::edit(
            Some("Who comes to the very first meeting?"),
            "We have three sites.",
        )
        .unwrap();
        assert!(matches!(
            s.edit_post(&w.other, t.question.id, None, &edit, NOW).await,
            Err(StoreError::Domain(DomainError::Forbidden { .. }))
        ));
        s.edit_post(
            &w.member,
            t.question.id,
            Some(1),
            &edit,
            Timestamp(NOW.0 + 300),
        )
        .await
        .unwrap();
        assert!(
            rule(
                s.edit_post(&w.member, t.question.id, Some(1), &edit, NOW)
                    .await
            )
            .contains("edited since you opened it")
        );
        assert!(
            rule(
                s.edit_post(&w.member, t.question.id, Some(2), &edit, NOW)
                    .await
            )
            .starts_with("nothing changed")
        );
        let titled = community::edit(Some("A title on an answer"), "Text.").unwrap();
        assert!(matches!(
            s.edit_post(&w.staff, first, None, &titled, NOW).await,
            Err(StoreError::Domain(DomainError::Invalid {
                field: "title",
                ..
            }))
        ));
        let (_, revs) = s.revisions(None, t.question.id).await.unwrap();
        assert_eq!(revs.len(), 2);
        assert_eq!(revs[0].body, "We have **three** sites; who should come?");
        assert_eq!(
            revs[0].title.as_deref(),
            Some("Who comes to the first meeting?")
        );
        assert_eq!(
            revs[1].title.as_deref(),
            Some("Who comes to the very first meeting?")
        );
        assert_eq!(
            s.thread(None, q).await.unwrap().topic.title,
            "Who comes to the very first meeting?"
        );

        // The step finds its question; the stage finds it too.
        let by_step = s
            .tagged_topics(
                None,
                &StepTag {
                    stage: stage.slug.clone(),
                    step: Some(2),
                },
                10,
            )
            .await
            .unwrap();
        assert_eq!(by_step.iter().map(|t| t.id).collect::<Vec<_>>(), [q]);
        let by_stage = s
            .tagged_topics(
                None,
                &StepTag {
                    stage: stage.slug.clone(),
                    step: None,
                },
                10,
            )
            .await
            .unwrap();
        assert_eq!(by_stage.len(), 1);
        assert!(
            s.tagged_topics(
                None,
                &StepTag {
                    stage: stage.slug.clone(),
                    step: Some(1)
                },
                10
            )
            .await
            .unwrap()
            .is_empty()
        );
        assert_eq!(s.tagged_counts(None, &stage.slug).await.unwrap(), [(2, 1)]);

        // The chain holds it all, and verify finds a post changed behind it.
        let v = s.verify().await.unwrap();
        assert!(v.intact(), "{v:?}");
        assert_eq!(v.topics, 3);
        // asked, 2 answers, accepted, edited; asked + answered for the private
        // one and for the announcement.
        assert_eq!(v.topic_events, 9);
        sqlx::query(&format!(
            "UPDATE community_posts SET body = 'Send me your password.' WHERE id = {first}"
        ))
        .execute(s.pool())
        .await
        .unwrap();
        let v = s.verify().await.unwrap();
        assert!(!v.intact());
        assert_eq!(v.broken_topics.len(), 1);
        assert_eq!(v.broken_topics[0].topic, q);
        assert!(
            v.broken_topics[0].reason.contains(&format!("post {first}")),
            "{v:?}"
        );
    }
}

#[tokio::test]
async fn a_category_pages_by_activity_without_gaps_or_repeats() {
    let model = waymark_model::build(waymark_model::bundled()).model;
    for store in stores("community_pages").await {
        let w = world(store).await;
        let s = &w.store;
        s.ensure_categories(&community::defaults(&model))
            .await
            .unwrap();
        let mut asked = Vec::new();
        // Several questions share a moment, so the id breaks ties.
        for i in 0..7 {
            let at = Timestamp(NOW.0 + i / 3);
            asked.push(
                s.ask(
                    &w.member,
                    "blueprint",
                    &question(&model, &format!("Question number {i} here"), ""),
                    at,
                )
                .await
                .unwrap(),
            );
        }
        // An answer makes the oldest the most recently active.
        s.answer(&w.staff, asked[0], "Yes.", Timestamp(NOW.0 + 100))
            .await
            .unwrap();
        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let page = s.topics(None, "blueprint", 3, before).await.unwrap();
            seen.extend(page.iter().map(|t| t.id));
            match page.last() {
                Some(t) if page.len() == 3 => before = Some((t.last_activity_at, t.id)),
                _ => break,
            }
        }
        let mut expected = vec![asked[0]];
        expected.extend(asked[1..].iter().rev());
        assert_eq!(seen, expected);
        assert_eq!(
            s.categories(None)
                .await
                .unwrap()
                .iter()
                .find(|c| c.slug == "blueprint")
                .unwrap()
                .questions,
            7
        );
    }
}
