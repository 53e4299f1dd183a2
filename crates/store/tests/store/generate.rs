//! The benchmark data generator writes records the rules allow, chained
//! like real ones, and the same seed always gives the same records.

use waymark_core::*;
use waymark_store::generate::Size;
use waymark_store::{ListFilter, Store};

use crate::stores;

const SIZE: Size = Size {
    agencies: 7,
    engagements: 30,
    events: 1_500,
    articles: 25,
    questions: 40,
    answers: 12,
    survey_answers: 40,
    seed: 3,
};

#[tokio::test]
async fn generated_records_verify_and_repeat() {
    let mut exports = Vec::new();
    for store in stores("generate").await {
        let done = store
            .generate(&waymark_model::bundled(), SIZE, |_| {})
            .await
            .unwrap();
        assert_eq!((done.agencies, done.engagements), (7, 30));
        // The survey's answers, each judged and kept as a person's is.
        let staff = Actor {
            person: PersonId(1),
            roles: vec![Role::ProgrammeStaff],
        };
        let (row, results) = store
            .survey_results(&staff, 1, None, Timestamp(1_700_000_000))
            .await
            .unwrap();
        assert_eq!((done.survey_answers, row.responses), (40, 40));
        assert_eq!(results.questions[0].answered, 40);
        assert_eq!(v_surveys(&store).await, (1, 2));
        // Each engagement gets half to one and a half times the average.
        assert!((750..=2_250).contains(&done.events), "{}", done.events);
        let v = store.verify().await.unwrap();
        assert_eq!(
            (v.engagements, v.events, v.broken.len()),
            (30, done.events, 0)
        );
        // Community questions, each with a chain `verify` replays; the
        // first has the busy page's answers; four in five are Blueprint's.
        assert_eq!(
            (done.questions, v.topics, v.broken_topics.len()),
            (40, 40, 0)
        );
        assert!(done.posts >= 40 + 12, "{}", done.posts);
        let busy = store.thread(None, 1).await.unwrap();
        assert_eq!(busy.answers.len(), 12);
        let blueprint = store.category(None, "blueprint").await.unwrap();
        assert_eq!(blueprint.questions, 32);
        let page = store.topics(None, "blueprint", 100, None).await.unwrap();
        assert_eq!(page.len(), 32);
        assert!(
            page.windows(2)
                .all(|w| w[0].last_activity_at >= w[1].last_activity_at)
        );

        let staff = Actor {
            person: PersonId(1),
            roles: vec![Role::ProgrammeStaff],
        };
        let all = store
            .engagements(&staff, &ListFilter::default())
            .await
            .unwrap();
        assert_eq!(all.total, 30);
        // Generated rows go in directly; the kept per-stage counts are
        // recounted after them.
        for stage in &waymark_model::build(waymark_model::bundled()).model.stages {
            let listed = store
                .active_in_stage(&staff, &stage.slug, None, 1000)
                .await
                .unwrap()
                .len() as u64;
            assert_eq!(
                store.count_active(&staff, &stage.slug).await.unwrap(),
                listed,
                "{}",
                stage.slug
            );
        }
        // The summary beside each record is the record's own.
        let e = store.engagement(&staff, all.items[0].id).await.unwrap();
        assert_eq!(e.summary(), all.items[0]);
        // Articles are published and searchable: a generated title finds its article first.
        assert_eq!(done.articles, 25);
        let published = store.published_articles().await.unwrap();
        assert_eq!(published.len(), 25);
        let title = &published[0].version.title;
        let hits = store
            .search(
                None,
                &waymark_core::search::Query::parse(&format!("\"{title}\"")),
                None,
                1,
            )
            .await
            .unwrap();
        assert_eq!(hits[0].hits[0].title, *title, "{:?}", store.backend());
        // Agency staff see their own agency's: 30 engagements over 7 agencies.
        let member = store.actor(PersonId(81)).await.unwrap();
        assert_eq!(
            store
                .engagements(&member, &ListFilter::default())
                .await
                .unwrap()
                .total,
            5
        );
        // New records after generated ones get fresh ids on every backend.
        let next = store
            .add_agency(
                &NewAgency::parse("New", "NEW", "Finance", None).unwrap(),
                Timestamp(0),
            )
            .await
            .unwrap();
        assert_eq!(next, AgencyId(8));
        let refused = store
            .generate(&waymark_model::bundled(), SIZE, |_| {})
            .await;
        assert!(
            refused
                .unwrap_err()
                .to_string()
                .contains("only into an empty database")
        );
        let mut x = store.export().await.unwrap();
        x.agencies.retain(|a| a.abbreviation != "NEW");
        exports.push(x);
    }
    // Determinism: a second run (and the other backend) gives the same rows.
    let again = Store::open(&waymark_store::testing::sqlite_url("generate-again"))
        .await
        .unwrap();
    again
        .generate(&waymark_model::bundled(), SIZE, |_| {})
        .await
        .unwrap();
    let x = again.export().await.unwrap();
    for other in &exports {
        assert_eq!(other.engagements, x.engagements);
        assert_eq!(other.events, x.events);
    }
}

/// Surveys and their chains' events, as `verify` counts them.
async fn v_surveys(store: &Store) -> (usize, usize) {
    let v = store.verify().await.unwrap();
    assert!(v.broken_surveys.is_empty());
    (v.surveys, v.survey_events)
}
