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

/// A world with the default categories, whose three people can sign in
/// (only they are mailed).
async fn mailable_world(store: waymark_store::Store, model: &waymark_model::Model) -> World {
    let w = world(store).await;
    w.store
        .ensure_categories(&community::defaults(model))
        .await
        .unwrap();
    for a in [&w.staff, &w.member, &w.other] {
        w.store.set_password_hash(a.person, "x").await.unwrap();
    }
    w
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

#[tokio::test]
async fn an_answered_question_becomes_an_faq_entry_once_and_the_faq_keeps_its_order() {
    use waymark_core::knowledge::{ArticleAction, ArticleStatus};
    let model = waymark_model::build(waymark_model::bundled()).model;
    for store in stores("faq").await {
        let w = world(store).await;
        let s = &w.store;
        s.ensure_categories(&community::defaults(&model))
            .await
            .unwrap();
        let stage = &model.stages[0];
        let mut entries = Vec::new();
        for n in 0..3 {
            let q = s
                .ask(
                    &w.member,
                    &stage.slug,
                    &question(
                        &model,
                        &format!("Who comes to meeting number {n}?"),
                        &format!("{}/2", stage.slug),
                    ),
                    NOW,
                )
                .await
                .unwrap();
            let a = s
                .answer(&w.staff, q, "Your **sponsor** and IT lead.", NOW)
                .await
                .unwrap();
            if n == 0 {
                // Not before an answer is accepted, and only by the programme.
                assert!(
                    rule(s.promote_to_faq(&w.staff, &model, q, NOW).await)
                        .contains("accepted answer")
                );
            }
            s.accept_answer(&w.member, q, Some(a), NOW).await.unwrap();
            assert!(matches!(
                s.promote_to_faq(&w.member, &model, q, NOW).await,
                Err(StoreError::Domain(DomainError::Forbidden { .. }))
            ));
            let article = s.promote_to_faq(&w.staff, &model, q, NOW).await.unwrap();
            assert!(
                rule(s.promote_to_faq(&w.staff, &model, q, NOW).await)
                    .contains("already in the FAQ")
            );
            entries.push((q, article));
        }
        assert!(matches!(
            s.promote_to_faq(&w.staff, &model, 999_999, NOW).await,
            Err(StoreError::Domain(DomainError::NotFound))
        ));
        // A draft made from the question: its title, the answer's words,
        // its step, owned by the programme member who promoted it.
        let (q0, a0) = entries[0];
        let row = s.article(a0).await.unwrap().unwrap();
        assert_eq!(row.status, ArticleStatus::Draft);
        assert_eq!(row.article.title, "Who comes to meeting number 0?");
        assert_eq!(row.article.body, "Your **sponsor** and IT lead.");
        assert_eq!(row.owner, w.staff.person);
        assert_eq!(s.faq_question(a0).await.unwrap(), Some(q0));
        assert_eq!(s.faq_of_question(q0).await.unwrap().unwrap().article, a0);
        let order =
            |v: Vec<waymark_store::FaqEntry>| -> Vec<i64> { v.iter().map(|e| e.article).collect() };
        let ids: Vec<i64> = entries.iter().map(|e| e.1).collect();
        assert_eq!(order(s.faq_entries().await.unwrap()), ids);
        // Drafts are not published: readers see none of them yet.
        assert!(s.published_articles().await.unwrap().is_empty());
        // Published through the articles' one path, with its FAQ place.
        s.save_article(
            &w.staff,
            &model,
            Some(a0),
            Some(row.version),
            &row.article,
            None,
            ArticleAction::Publish,
            NOW,
        )
        .await
        .unwrap();
        let published = s.published_articles().await.unwrap();
        assert_eq!(published.len(), 1);
        assert_eq!(
            published[0].faq,
            Some(waymark_store::FaqPlace {
                question: q0,
                position: 1
            })
        );

        // Moving: last to first, then past the end; the others close up.
        assert_eq!(
            order(s.move_faq_entry(&w.staff, ids[2], 1).await.unwrap()),
            [ids[2], ids[0], ids[1]]
        );
        let moved = s.move_faq_entry(&w.staff, ids[2], 99).await.unwrap();
        assert_eq!(order(moved.clone()), [ids[0], ids[1], ids[2]]);
        assert_eq!(
            moved.iter().map(|e| e.position).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert!(matches!(
            s.move_faq_entry(&w.staff, ids[0], 0).await,
            Err(StoreError::Domain(DomainError::Invalid {
                field: "position",
                ..
            }))
        ));
        assert!(matches!(
            s.move_faq_entry(&w.member, ids[0], 2).await,
            Err(StoreError::Domain(DomainError::Forbidden { .. }))
        ));
        assert!(matches!(
            s.move_faq_entry(&w.staff, 999_999, 1).await,
            Err(StoreError::Domain(DomainError::NotFound))
        ));

        // The promotion is in the question's chain, and the chain verifies.
        let v = s.verify().await.unwrap();
        assert!(v.broken_topics.is_empty(), "{:?}", v.broken_topics);
        let kinds: Vec<String> = sqlx::query_scalar(
            "SELECT kind FROM community_events WHERE topic_id = $1 ORDER BY seq",
        )
        .bind(q0)
        .fetch_all(s.pool())
        .await
        .unwrap();
        assert_eq!(kinds.last().map(String::as_str), Some("promoted"));

        // An export carries the FAQ and its order.
        let x = s.export().await.unwrap();
        let target = waymark_store::Store::open(&waymark_store::testing::sqlite_url("faq-copy"))
            .await
            .unwrap();
        target.import(&x).await.unwrap();
        assert_eq!(order(target.faq_entries().await.unwrap()), ids);
        assert!(target.verify().await.unwrap().broken_topics.is_empty());
    }
}

#[tokio::test]
async fn watchers_hear_of_answers_once_each_as_they_asked_and_never_of_their_own() {
    use waymark_core::{Notify, Settings};
    let model = waymark_model::build(waymark_model::bundled()).model;
    for store in stores("watches").await {
        let w = mailable_world(store, &model).await;
        let s = &w.store;
        let stage = &model.stages[1].slug;
        // The member asks (and so watches); the other watches the
        // category and prefers a daily digest; the staff member watches
        // both the category and the question.
        let q = s
            .ask(
                &w.member,
                stage,
                &question(&model, "Who signs the letter?", ""),
                NOW,
            )
            .await
            .unwrap();
        assert_eq!(s.watches(w.member.person, q).await.unwrap(), (true, false));
        s.watch_category(&w.other, stage, true, NOW).await.unwrap();
        s.watch_category(&w.other, stage, true, NOW).await.unwrap();
        s.set_settings(
            w.other.person,
            &Settings {
                time_zone: "Australia/Sydney".into(),
                notify: Notify::Daily,
            },
        )
        .await
        .unwrap();
        s.watch_category(&w.staff, stage, true, NOW).await.unwrap();
        s.watch_question(&w.staff, q, true, NOW).await.unwrap();
        assert!(matches!(
            s.watch_question(&w.staff, 999_999, true, NOW).await,
            Err(StoreError::Domain(DomainError::NotFound))
        ));
        assert!(matches!(
            s.watch_category(&w.staff, "nowhere", true, NOW).await,
            Err(StoreError::Domain(DomainError::NotFound))
        ));

        // The staff member answers: the asker hears at once; the staff
        // member (the author) never; the other only in their digest.
        let a = s
            .answer(&w.staff, q, "The sponsor signs it.", Timestamp(NOW.0 + 10))
            .await
            .unwrap();
        let pending = s.pending_notices(10).await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].post, a);
        let sent = std::sync::Mutex::new(Vec::new());
        let mail = |r: &waymark_store::Recipient| {
            sent.lock()
                .unwrap()
                .push((r.person, r.watching.clone(), r.key.clone()));
            waymark_store::Mail {
                kind: "community_answered".into(),
                to: r.email.clone(),
                subject: "New answer".into(),
                body: "x".into(),
                unsubscribe: Some(format!("https://w.example/unsubscribe/{}", r.key)),
                ..Default::default()
            }
        };
        assert_eq!(
            s.deliver_notice(&pending[0], NOW, &mail).await.unwrap(),
            Some(1)
        );
        // Claimed once: a second server gets nothing to send.
        assert_eq!(
            s.deliver_notice(&pending[0], NOW, &mail).await.unwrap(),
            None
        );
        assert!(s.pending_notices(10).await.unwrap().is_empty());
        let got = sent.lock().unwrap().clone();
        assert_eq!(got.len(), 1);
        assert_eq!(
            (got[0].0, got[0].1.as_str()),
            (w.member.person, "this question")
        );
        let stops: Vec<Option<String>> = sqlx::query_scalar(
            "SELECT list_unsubscribe FROM outbox WHERE kind = 'community_answered'",
        )
        .fetch_all(s.pool())
        .await
        .unwrap();
        assert_eq!(
            stops,
            [Some(format!("https://w.example/unsubscribe/{}", got[0].2))]
        );

        // The asker accepts: the staff member hears (by the question's
        // watch, not the category's: one mail), the asker does not.
        s.accept_answer(&w.member, q, Some(a), Timestamp(NOW.0 + 20))
            .await
            .unwrap();
        sent.lock().unwrap().clear();
        let pending = s.pending_notices(10).await.unwrap();
        assert_eq!(
            s.deliver_notice(&pending[0], NOW, &mail).await.unwrap(),
            Some(1)
        );
        let got = sent.lock().unwrap().clone();
        assert_eq!(
            (got[0].0, got[0].1.as_str()),
            (w.staff.person, "this question")
        );

        // The daily reader's digest lists both, by others; none of their own.
        let lines = s
            .community_digest(w.other.person, NOW, Timestamp(NOW.0 + 100))
            .await
            .unwrap();
        let kinds: Vec<&str> = lines.iter().map(|l| l.kind.as_str()).collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(kinds.contains(&"answered") && kinds.contains(&"accepted"));
        assert!(lines.iter().all(|l| l.title == "Who signs the letter?"));
        assert!(
            s.community_digest(
                w.other.person,
                Timestamp(NOW.0 + 100),
                Timestamp(NOW.0 + 200)
            )
            .await
            .unwrap()
            .is_empty()
        );

        // One click on the mail's link stops that watch, once.
        let key = &got[0].2;
        assert_eq!(
            s.unsubscribe_target(key).await.unwrap().as_deref(),
            Some("Who signs the letter?")
        );
        assert_eq!(
            s.unsubscribe(key).await.unwrap().as_deref(),
            Some("Who signs the letter?")
        );
        assert_eq!(s.unsubscribe(key).await.unwrap(), None);
        assert_eq!(s.watches(w.staff.person, q).await.unwrap(), (false, true));
        let watching = s.watching(&w.staff).await.unwrap();
        assert!(watching.questions.is_empty());
        assert_eq!(watching.categories[0].slug, *stage);

        // Watches and notices survive an export.
        let x = s.export().await.unwrap();
        let target = waymark_store::Store::open(&waymark_store::testing::sqlite_url("watch-copy"))
            .await
            .unwrap();
        target.import(&x).await.unwrap();
        assert_eq!(target.watching(&w.staff).await.unwrap(), watching);
        assert_eq!(
            target.watches(w.member.person, q).await.unwrap(),
            (true, false)
        );
    }
}

#[tokio::test]
async fn questions_are_found_by_those_who_may_read_them() {
    use waymark_core::community::Moderation;
    use waymark_core::search::{Kind, Query};
    let model = waymark_model::build(waymark_model::bundled()).model;
    for store in stores("question-search").await {
        let w = world(store).await;
        let s = &w.store;
        s.ensure_categories(&community::defaults(&model))
            .await
            .unwrap();
        let members = NewCategory::parse("Leads", "For leads.", "members", false).unwrap();
        s.add_category(&w.staff, &members).await.unwrap();
        let public = s
            .ask(
                &w.member,
                "blueprint",
                &question(&model, "Does zorblat licensing apply?", ""),
                NOW,
            )
            .await
            .unwrap();
        let private = s
            .ask(
                &w.member,
                "leads",
                &question(&model, "Do leads meet on zorblat days?", ""),
                NOW,
            )
            .await
            .unwrap();
        let a = s
            .answer(&w.staff, public, "Quexlify the tenant first.", NOW)
            .await
            .unwrap();
        let found = |who: Option<Actor>, words: &'static str| {
            let s = s.clone();
            async move {
                s.search(who.as_ref(), &Query::parse(words), Some(Kind::Question), 1)
                    .await
                    .unwrap()
                    .first()
                    .map(|g| {
                        g.hits
                            .iter()
                            .map(|h| h.reference.clone())
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default()
            }
        };
        // Signed out: the public category's only; any account: both.
        assert_eq!(found(None, "zorblat").await, [public.to_string()]);
        let mut both = found(Some(w.other.clone()), "zorblat").await;
        both.sort();
        let mut want = vec![public.to_string(), private.to_string()];
        want.sort();
        assert_eq!(both, want);
        // An answer's words find the question; an edit is found at once.
        assert_eq!(found(None, "quexlify").await, [public.to_string()]);
        s.edit_post(
            &w.staff,
            a,
            None,
            &community::edit(None, "Wibbletize the tenant first.").unwrap(),
            NOW,
        )
        .await
        .unwrap();
        assert!(found(None, "quexlify").await.is_empty());
        assert_eq!(found(None, "wibbletize").await, [public.to_string()]);
        // Hidden text is not found; a hidden question not at all.
        s.moderate(
            &w.staff,
            public,
            &Moderation::Hide {
                post: a,
                reason: "Wrong".into(),
            },
            NOW,
            |_| waymark_store::Mail::default(),
        )
        .await
        .unwrap();
        assert!(found(None, "wibbletize").await.is_empty());
        let q = s.thread(Some(&w.staff), public).await.unwrap().question.id;
        s.moderate(
            &w.staff,
            public,
            &Moderation::Hide {
                post: q,
                reason: "Duplicate".into(),
            },
            NOW,
            |_| waymark_store::Mail::default(),
        )
        .await
        .unwrap();
        assert!(
            found(Some(w.staff.clone()), "zorblat licensing")
                .await
                .is_empty()
        );
        // Moved into the members' category, a question is no longer
        // found signed out; a rebuilt index agrees with the live one.
        s.moderate(
            &w.staff,
            private,
            &Moderation::Move {
                to: "blueprint".into(),
            },
            NOW,
            |_| waymark_store::Mail::default(),
        )
        .await
        .unwrap();
        assert_eq!(found(None, "leads").await, [private.to_string()]);
        s.reindex_records().await.unwrap();
        assert_eq!(found(None, "zorblat").await, [private.to_string()]);
    }
}

#[tokio::test]
async fn what_the_programme_hid_is_never_mailed_accepted_voted_or_promoted() {
    use waymark_core::community::Moderation;
    let model = waymark_model::build(waymark_model::bundled()).model;
    for store in stores("hidden").await {
        let w = mailable_world(store, &model).await;
        let s = &w.store;
        let stage = &model.stages[1].slug;
        let at = |n: i64| Timestamp(NOW.0 + n);
        let hide = |post: i64| Moderation::Hide {
            post,
            reason: "Off topic".into(),
        };
        let none = |_: &waymark_store::HiddenPost| waymark_store::Mail::default();
        let q = s
            .ask(
                &w.member,
                stage,
                &question(&model, "Who signs the letter?", ""),
                NOW,
            )
            .await
            .unwrap();
        s.watch_question(&w.other, q, true, NOW).await.unwrap();
        // Counts the mails each delivery queues, every notice waiting.
        let deliver = || async {
            let mut n = 0;
            for p in s.pending_notices(100).await.unwrap() {
                n += s
                    .deliver_notice(&p, at(1000), |r| waymark_store::Mail {
                        kind: "community_notice".into(),
                        to: r.email.clone(),
                        subject: "x".into(),
                        body: p.body.clone(),
                        ..Default::default()
                    })
                    .await
                    .unwrap()
                    .unwrap();
            }
            n
        };

        // An answer hidden before its notice goes is never mailed.
        let spam = s.answer(&w.other, q, "Buy things.", at(1)).await.unwrap();
        s.moderate(&w.staff, q, &hide(spam), at(2), none)
            .await
            .unwrap();
        assert_eq!(deliver().await, 0);
        assert!(s.pending_notices(10).await.unwrap().is_empty());
        // Its author, if they read daily, learns of it in their digest.
        let told = s.hidden_since(w.other.person, NOW, at(100)).await.unwrap();
        assert_eq!(told.len(), 1);
        assert_eq!(
            (told[0].title.as_deref(), told[0].reason.as_str()),
            (Some("Who signs the letter?"), "Off topic")
        );
        assert!(
            s.hidden_since(w.other.person, at(2), at(100))
                .await
                .unwrap()
                .is_empty()
        );
        // ... nor accepted, nor voted for.
        assert!(rule(s.accept_answer(&w.member, q, Some(spam), at(3)).await).contains("hid"));
        assert!(rule(s.vote(&w.staff, spam, true, at(3)).await).contains("hid"));

        // Acceptance toggled: one mail (to the watcher), for the last.
        let good = s.answer(&w.staff, q, "The sponsor.", at(4)).await.unwrap();
        assert_eq!(deliver().await, 2);
        for (i, post) in [Some(good), None, Some(good), None, Some(good)]
            .into_iter()
            .enumerate()
        {
            s.accept_answer(&w.member, q, post, at(5 + i as i64))
                .await
                .unwrap();
        }
        assert_eq!(deliver().await, 1);
        s.accept_answer(&w.member, q, None, at(20)).await.unwrap();
        s.accept_answer(&w.member, q, Some(good), at(21))
            .await
            .unwrap();
        assert_eq!(deliver().await, 0, "an acceptance already told");

        // A hidden accepted answer does not go into the FAQ.
        s.moderate(&w.staff, q, &hide(good), at(22), none)
            .await
            .unwrap();
        assert!(rule(s.promote_to_faq(&w.staff, &model, q, at(23)).await).contains("hidden"));

        // A hidden question: its asker still reads it and sees it among
        // what they watch; nobody else does, and nothing about it is mailed.
        let question_post = s.thread(Some(&w.staff), q).await.unwrap().question.id;
        s.moderate(&w.staff, q, &hide(question_post), at(24), none)
            .await
            .unwrap();
        let mine = s.thread(Some(&w.member), q).await.unwrap();
        assert!(mine.topic.hidden);
        assert!(!mine.question.body.is_empty());
        assert_eq!(s.watching(&w.member).await.unwrap().questions.len(), 1);
        assert!(matches!(
            s.thread(Some(&w.other), q).await,
            Err(StoreError::Domain(DomainError::NotFound))
        ));
        assert!(s.watching(&w.other).await.unwrap().questions.is_empty());
        assert!(matches!(
            s.answer(&w.member, q, "Bump", at(25)).await,
            Err(StoreError::Domain(DomainError::Forbidden { .. }))
        ));
        // Its title is no longer named to the author of an answer in it.
        let told = s.hidden_since(w.other.person, NOW, at(100)).await.unwrap();
        assert_eq!(told[0].title, None);
        let noted = s.answer(&w.staff, q, "Noted.", at(26)).await.unwrap();
        assert_eq!(deliver().await, 0);
        // Nor does its asker vote or flag in it.
        assert!(rule(s.vote(&w.member, noted, true, at(26)).await).contains("hid"));
        assert!(rule(s.flag(&w.member, noted, "", at(26)).await).contains("hidden it already"));
        // A watcher's unsubscribe link does not name it; the asker's does.
        let key = |who: PersonId| {
            sqlx::query_scalar::<_, String>(
                "SELECT unsubscribe_key FROM community_watches WHERE person_id = $1 AND topic_id = $2",
            )
            .bind(who.0)
            .bind(q)
            .fetch_one(s.pool())
        };
        let theirs = key(w.other.person).await.unwrap();
        assert_eq!(
            s.unsubscribe_target(&theirs).await.unwrap().as_deref(),
            Some("")
        );
        let mine = key(w.member.person).await.unwrap();
        assert_eq!(
            s.unsubscribe_target(&mine).await.unwrap().as_deref(),
            Some("Who signs the letter?")
        );
        // Stopping the watch works though it cannot be read.
        s.watch_question(&w.other, q, false, at(27)).await.unwrap();
        assert_eq!(s.watches(w.other.person, q).await.unwrap(), (false, false));
        // Others read a hidden answer's reason no more than its text.
        s.moderate(
            &w.staff,
            q,
            &Moderation::Unhide {
                post: question_post,
            },
            at(28),
            none,
        )
        .await
        .unwrap();
        let asker = s.thread(Some(&w.member), q).await.unwrap();
        let seen = asker.answers.iter().find(|a| a.id == spam).unwrap();
        assert_eq!((seen.hidden.as_deref(), seen.body.as_str()), (Some(""), ""));
        let author = s.thread(Some(&w.other), q).await.unwrap();
        let seen = author.answers.iter().find(|a| a.id == spam).unwrap();
        assert_eq!(seen.hidden.as_deref(), Some("Off topic"));
        // A digest lists nothing hidden or withheld: here, nothing at all
        // (the spam and the good answer are hidden; "Noted." was withheld).
        s.set_settings(
            w.member.person,
            &waymark_core::Settings {
                time_zone: "Australia/Sydney".into(),
                notify: waymark_core::Notify::Daily,
            },
        )
        .await
        .unwrap();
        let lines = s
            .community_digest(w.member.person, NOW, at(100))
            .await
            .unwrap();
        assert!(lines.is_empty(), "{lines:?}");
    }
}
