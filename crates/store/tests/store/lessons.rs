//! Lessons as rows: written in the command's transaction, read by who may
//! see them, and rebuilt after an import.

use waymark_core::lesson::LessonKind;
use waymark_core::*;

use waymark_store::StoreError;

use crate::{NOW, World, stores, world};

async fn retro_with_lessons(
    w: &World,
    agency_member: &Actor,
    e: &Engagement,
    lessons: &[(&str, Option<u32>, &str)],
) {
    let mut v = e.version;
    let plan = WorkshopPlan {
        title: "Retro".into(),
        date: "2026-12-01".into(),
        time: "10:00".into(),
        timezone: "Australia/Canberra".into(),
        minutes: 60,
        location: Some("Canberra".into()),
        link: None,
        agenda: "What went well".into(),
        attendees: Vec::new(),
        retro: true,
    };
    let after = w
        .store
        .execute(
            agency_member,
            e.id,
            v,
            &Command::ScheduleWorkshop { id: None, plan },
            NOW,
        )
        .await
        .unwrap();
    v = after.version;
    let workshop = after.workshops.last().unwrap().id;
    for (stage, step, text) in lessons {
        v = w
            .store
            .execute(
                agency_member,
                e.id,
                v,
                &Command::RecordLesson {
                    workshop,
                    kind: LessonKind::ToImprove,
                    text: (*text).into(),
                    stage: (*stage).into(),
                    step: *step,
                },
                NOW,
            )
            .await
            .unwrap()
            .version;
    }
}

#[tokio::test]
async fn lessons_are_read_by_who_may_see_them_and_survive_an_import() {
    for store in stores("lessons").await {
        let w = world(store).await;
        let ours = w.start().await;
        retro_with_lessons(
            &w,
            &w.member,
            &ours,
            &[
                ("discovery", Some(5), "Book the assessor early."),
                ("engagement", None, "Meet sooner."),
            ],
        )
        .await;
        let theirs = w
            .store
            .start_engagement(&w.staff, w.other_agency, Mode::DoItWithYou, &w.model, NOW)
            .await
            .unwrap();
        retro_with_lessons(
            &w,
            &w.other,
            &theirs,
            &[("discovery", Some(5), "Their own lesson.")],
        )
        .await;
        let (all, total) = w.store.lessons(&w.staff, 100).await.unwrap();
        assert_eq!(total, 3);
        assert!(all.iter().all(|l| l.state.is_empty()));
        // In the model's order of stage (by slug here) and step.
        assert_eq!(all[0].stage, "discovery");
        assert_eq!(all[0].step, Some(5));
        assert_eq!(all.last().unwrap().stage, "engagement");
        let (mine, total) = w.store.lessons(&w.member, 100).await.unwrap();
        assert_eq!(total, 2);
        assert!(mine.iter().all(|l| l.engagement == ours.id));
        assert!(
            mine.iter()
                .all(|l| l.agency == "Digital Transformation Agency")
        );
        let (_, n) = w.store.lessons(&w.other, 100).await.unwrap();
        assert_eq!(n, 1);
        // The limit bounds the read; the total still counts all.
        let (one, total) = w.store.lessons(&w.staff, 1).await.unwrap();
        assert_eq!((one.len(), total), (1, 3));
        // A proposal and the programme's answer change the row in the same
        // transaction; accepting writes the article draft with it.
        let e = w.store.engagement(&w.staff, ours.id).await.unwrap();
        let e = w
            .store
            .execute(
                &w.member,
                e.id,
                e.version,
                &Command::ProposeLesson {
                    id: 1,
                    target: waymark_core::lesson::ProposedFor::Blueprint,
                },
                NOW,
            )
            .await
            .unwrap();
        let (rows, _) = w.store.lessons(&w.member, 100).await.unwrap();
        let first = rows.iter().find(|l| l.id == 1).unwrap();
        assert_eq!(
            (first.state.as_str(), first.target.as_str()),
            ("proposed", "blueprint")
        );
        // A stand-in article id from a caller is never used.
        let e = w
            .store
            .execute(
                &w.staff,
                e.id,
                e.version,
                &Command::AcceptLesson {
                    id: 1,
                    post_in: None,
                    article: Some(424242),
                    question: None,
                },
                NOW,
            )
            .await
            .unwrap();
        let Some(waymark_core::lesson::Answer::Accepted { article }) = e.lessons[0]
            .proposal
            .as_ref()
            .and_then(|p| p.answer.clone())
        else {
            panic!("{:?}", e.lessons[0])
        };
        assert_ne!(article, 424242);
        let draft = w.store.article(article).await.unwrap().unwrap();
        assert_eq!(draft.article.slug, format!("lesson-{}-1", ours.id));
        assert_eq!(draft.status, waymark_core::knowledge::ArticleStatus::Draft);
        let (rows, _) = w.store.lessons(&w.staff, 100).await.unwrap();
        assert_eq!(rows.iter().filter(|l| l.state == "accepted").count(), 1);
        // A refused acceptance writes no draft.
        let before = w.store.articles().await.unwrap().len();
        let again = w
            .store
            .execute(
                &w.staff,
                e.id,
                e.version,
                &Command::AcceptLesson {
                    id: 1,
                    post_in: None,
                    article: None,
                    question: None,
                },
                NOW,
            )
            .await;
        assert!(again.is_err());
        assert_eq!(w.store.articles().await.unwrap().len(), before);
        // An article someone wrote at a lesson's own address does not stop
        // it being accepted: the draft takes the next free one.
        let model = waymark_model::build(waymark_model::bundled()).model;
        w.store
            .save_article(
                &w.staff,
                &model,
                None,
                None,
                &waymark_core::knowledge::Article {
                    slug: format!("lesson-{}-2", ours.id),
                    title: "Lesson 2, by hand".into(),
                    summary: "A summary.".into(),
                    body: "Written by hand.".into(),
                    tags: Vec::new(),
                    review_by: "2027-06-30".into(),
                },
                None,
                waymark_core::knowledge::ArticleAction::Save,
                NOW,
            )
            .await
            .unwrap();
        let e = w
            .store
            .execute(
                &w.member,
                e.id,
                e.version,
                &Command::ProposeLesson {
                    id: 2,
                    target: waymark_core::lesson::ProposedFor::Guidance,
                },
                NOW,
            )
            .await
            .unwrap();
        let e = w
            .store
            .execute(
                &w.staff,
                e.id,
                e.version,
                &Command::AcceptLesson {
                    id: 2,
                    post_in: None,
                    article: None,
                    question: None,
                },
                NOW,
            )
            .await
            .unwrap();
        let Some(waymark_core::lesson::Answer::Accepted { article }) = e.lessons[1]
            .proposal
            .as_ref()
            .and_then(|p| p.answer.clone())
        else {
            panic!("{:?}", e.lessons[1])
        };
        let draft = w.store.article(article).await.unwrap().unwrap();
        assert_eq!(draft.article.slug, format!("lesson-{}-2-2", ours.id));
        // An import rebuilds the rows from the engagements' states.
        let (all, _) = w.store.lessons(&w.staff, 100).await.unwrap();
        let x = w.store.export().await.unwrap();
        for target in stores("lessons-import").await {
            target.import(&x).await.unwrap();
            let (again, total) = target.lessons(&w.staff, 100).await.unwrap();
            assert_eq!(total, 3);
            assert_eq!(
                again.iter().map(|l| &l.text).collect::<Vec<_>>(),
                all.iter().map(|l| &l.text).collect::<Vec<_>>()
            );
        }
    }
}

/// A lesson accepted as a community question: asked in the category
/// named, by whoever accepted it, tagged to its step, in the same
/// transaction; a category that does not exist writes nothing.
#[tokio::test]
async fn a_lesson_accepted_as_a_community_question_is_asked_there() {
    for store in stores("lessons-post").await {
        let w = world(store).await;
        let e = w.start().await;
        retro_with_lessons(
            &w,
            &w.member,
            &e,
            &[("discovery", Some(5), "Book the assessor early.")],
        )
        .await;
        w.store
            .add_category(
                &w.staff,
                &waymark_core::community::NewCategory::parse("Ideas", "", "public", false).unwrap(),
            )
            .await
            .unwrap();
        let e = w.store.engagement(&w.staff, e.id).await.unwrap();
        let e = w
            .store
            .execute(
                &w.member,
                e.id,
                e.version,
                &Command::ProposeLesson {
                    id: 1,
                    target: waymark_core::lesson::ProposedFor::Guidance,
                },
                NOW,
            )
            .await
            .unwrap();
        let accept = |category: &str| Command::AcceptLesson {
            id: 1,
            post_in: Some(category.into()),
            article: None,
            question: Some(424242),
        };
        let err = w
            .store
            .execute(&w.staff, e.id, e.version, &accept("nowhere"), NOW)
            .await
            .unwrap_err();
        assert!(
            matches!(
                &err,
                StoreError::Domain(DomainError::Invalid {
                    field: "post_in",
                    ..
                })
            ),
            "{err}"
        );
        assert!(w.store.thread(None, 1).await.is_err(), "nothing was asked");
        let e = w
            .store
            .execute(&w.staff, e.id, e.version, &accept("ideas"), NOW)
            .await
            .unwrap();
        let Some(waymark_core::lesson::Answer::Posted { question }) = e.lessons[0]
            .proposal
            .as_ref()
            .and_then(|p| p.answer.clone())
        else {
            panic!("{:?}", e.lessons[0])
        };
        assert_ne!(question, 424242, "a caller's stand-in is never used");
        let t = w.store.thread(None, question).await.unwrap();
        assert_eq!(t.topic.title, "Lesson: Book the assessor early.");
        assert!(
            t.question.body.contains("about Discovery, step 5"),
            "{}",
            t.question.body
        );
        assert!(!t.question.body.contains("Digital Transformation Agency"));
        let (rows, _) = w.store.lessons(&w.staff, 100).await.unwrap();
        assert_eq!(rows[0].state, "posted");
        assert!(w.store.verify().await.unwrap().intact());
    }
}
