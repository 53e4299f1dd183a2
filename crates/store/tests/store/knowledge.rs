//! Knowledge articles and blueprint releases: versions kept, the core's
//! rules asked inside the write, one answer per reader, review dates, and
//! search finding what is published (and only that).

use waymark_core::knowledge::{self, Article, ArticleAction, ArticleStatus, Feedback, Tag};
use waymark_core::search::{Kind, Query};
use waymark_core::*;
use waymark_store::StoreError;

use crate::{NOW, stores, world};

fn article(slug: &str, body: &str) -> Article {
    Article {
        slug: slug.into(),
        title: format!("All about {slug}"),
        summary: "A summary.".into(),
        body: body.into(),
        tags: vec![Tag::Stage {
            stage: "deploy".into(),
        }],
        review_by: "2027-06-30".into(),
    }
}

#[tokio::test]
async fn articles_keep_every_published_version_and_follow_the_rules() {
    let model = waymark_model::build(waymark_model::bundled()).model;
    for store in stores("articles").await {
        let w = world(store).await;
        let s = &w.store;
        let found = async |q: &str| -> Vec<String> {
            s.search(None, &Query::parse(q), Some(Kind::Article), 1)
                .await
                .unwrap()
                .iter()
                .flat_map(|g| g.hits.iter().map(|h| h.reference.clone()))
                .collect()
        };
        // Agencies do not write articles.
        let refused = s
            .save_article(
                &w.member,
                &model,
                None,
                None,
                &article("x", "Hi."),
                None,
                ArticleAction::Save,
                NOW,
            )
            .await;
        assert!(matches!(
            refused,
            Err(StoreError::Domain(DomainError::Forbidden { .. }))
        ));
        // The owner is someone of the programme.
        let by_member = s
            .save_article(
                &w.staff,
                &model,
                None,
                None,
                &article("owned", "Hi."),
                Some(w.member.person),
                ArticleAction::Save,
                NOW,
            )
            .await;
        assert!(
            matches!(
                by_member,
                Err(StoreError::Domain(DomainError::Invalid {
                    field: "owner",
                    ..
                }))
            ),
            "{by_member:?}"
        );
        let nobody = s
            .save_article(
                &w.staff,
                &model,
                None,
                None,
                &article("owned", "Hi."),
                Some(PersonId(9_999)),
                ArticleAction::Save,
                NOW,
            )
            .await;
        assert!(matches!(
            nobody,
            Err(StoreError::Domain(DomainError::Invalid {
                field: "owner",
                ..
            }))
        ));
        // A draft is not published or found.
        let id = s
            .save_article(
                &w.staff,
                &model,
                None,
                None,
                &article("licensing", "Buy flumoxite licences."),
                None,
                ArticleAction::Save,
                NOW,
            )
            .await
            .unwrap();
        assert!(s.published_articles().await.unwrap().is_empty());
        assert!(found("flumoxite").await.is_empty());
        // Broken links keep it from being published, not from being saved.
        let broken = article("licensing", "See [nowhere](nowhere.md).");
        let r = s
            .save_article(
                &w.staff,
                &model,
                Some(id),
                Some(1),
                &broken,
                None,
                ArticleAction::Publish,
                NOW,
            )
            .await;
        assert!(
            matches!(
                r,
                Err(StoreError::Domain(DomainError::Invalid {
                    field: "body",
                    ..
                }))
            ),
            "{r:?}"
        );
        s.save_article(
            &w.staff,
            &model,
            Some(id),
            Some(1),
            &broken,
            None,
            ArticleAction::Save,
            NOW,
        )
        .await
        .unwrap();
        // A stale form is a conflict.
        let stale = s
            .save_article(
                &w.staff,
                &model,
                Some(id),
                Some(1),
                &article("licensing", "x"),
                None,
                ArticleAction::Save,
                NOW,
            )
            .await;
        assert!(matches!(
            stale,
            Err(StoreError::Domain(DomainError::Conflict { .. }))
        ));
        // Published twice: two versions; readers see the newest; search finds it at once.
        let v1 = article(
            "licensing",
            "Buy flumoxite licences. See [Deploy](deploy.md).",
        );
        s.save_article(
            &w.staff,
            &model,
            Some(id),
            Some(2),
            &v1,
            None,
            ArticleAction::Publish,
            NOW,
        )
        .await
        .unwrap();
        assert_eq!(found("flumoxite").await, ["licensing"]);
        let v2 = article("licensing", "Buy grindlewort licences.");
        s.save_article(
            &w.staff,
            &model,
            Some(id),
            Some(3),
            &v2,
            None,
            ArticleAction::Publish,
            Timestamp(NOW.0 + 60),
        )
        .await
        .unwrap();
        let versions = s.article_versions("licensing").await.unwrap();
        assert_eq!(
            versions.iter().map(|v| v.number).collect::<Vec<_>>(),
            [2, 1]
        );
        assert_eq!(
            versions[1].body, v1.body,
            "the first version is kept as it was"
        );
        assert_eq!(s.published_articles().await.unwrap()[0].version.number, 2);
        assert!(found("flumoxite").await.is_empty());
        assert_eq!(found("grindlewort").await, ["licensing"]);
        // Publishing what readers already see makes no new version.
        let again = s
            .save_article(
                &w.staff,
                &model,
                Some(id),
                Some(4),
                &v2,
                None,
                ArticleAction::Publish,
                NOW,
            )
            .await;
        assert!(
            matches!(again, Err(StoreError::Domain(DomainError::Rule(_)))),
            "{again:?}"
        );
        assert_eq!(s.article_versions("licensing").await.unwrap().len(), 2);
        // Saving a published article changes only its working copy.
        s.save_article(
            &w.staff,
            &model,
            Some(id),
            Some(4),
            &article("licensing", "Draft: quaggle."),
            None,
            ArticleAction::Save,
            NOW,
        )
        .await
        .unwrap();
        assert_eq!(
            s.published_articles().await.unwrap()[0].version.body,
            v2.body
        );
        assert!(found("quaggle").await.is_empty());
        // The address is fixed, and unique.
        let dup = s
            .save_article(
                &w.staff,
                &model,
                None,
                None,
                &article("licensing", "Other."),
                None,
                ArticleAction::Save,
                NOW,
            )
            .await;
        assert!(matches!(dup, Err(StoreError::Duplicate { .. })), "{dup:?}");
        // One answer per reader; answering again replaces it.
        let yes = Feedback {
            helpful: true,
            comment: "Clear.".into(),
        };
        let no = Feedback {
            helpful: false,
            comment: String::new(),
        };
        s.record_feedback(&w.member, "licensing", &yes, NOW)
            .await
            .unwrap();
        s.record_feedback(&w.other, "licensing", &yes, NOW)
            .await
            .unwrap();
        s.record_feedback(&w.member, "licensing", &no, NOW)
            .await
            .unwrap();
        let summary = s.feedback_summary(id).await.unwrap();
        assert_eq!((summary.helpful, summary.not_helpful), (1, 1));
        assert_eq!(summary.comments.len(), 1);
        assert_eq!(
            s.feedback_of(w.member.person, "licensing").await.unwrap(),
            Some(no)
        );
        // Due for review once its date comes; archived ones are not.
        assert!(s.articles_due("2027-06-29").await.unwrap().is_empty());
        assert_eq!(s.articles_due("2027-06-30").await.unwrap().len(), 1);
        // The rebuilt index is the live one (articles included).
        let live = s.index_contents().await.unwrap();
        s.reindex_records().await.unwrap();
        assert_eq!(s.index_contents().await.unwrap(), live);
        // Archived: off the guide and out of search; versions kept; no more feedback.
        s.save_article(
            &w.staff,
            &model,
            Some(id),
            Some(5),
            &article("licensing", "x"),
            None,
            ArticleAction::Archive,
            NOW,
        )
        .await
        .unwrap();
        assert!(s.published_articles().await.unwrap().is_empty());
        assert!(found("grindlewort").await.is_empty());
        assert_eq!(s.article_versions("licensing").await.unwrap().len(), 2);
        assert!(s.articles_due("2030-01-01").await.unwrap().is_empty());
        assert_eq!(
            s.article(id).await.unwrap().unwrap().status,
            ArticleStatus::Archived
        );
        let late = s.record_feedback(&w.member, "licensing", &yes, NOW).await;
        assert!(matches!(
            late,
            Err(StoreError::Domain(DomainError::NotFound))
        ));
        let again = s
            .save_article(
                &w.staff,
                &model,
                Some(id),
                Some(6),
                &article("licensing", "x"),
                None,
                ArticleAction::Archive,
                NOW,
            )
            .await;
        assert!(matches!(
            again,
            Err(StoreError::Domain(DomainError::Rule(_)))
        ));
        // Releases: the programme's, unique, newest first.
        let r = |v: &str, d: &str| {
            knowledge::release(v, d, "Notes.", "https://desktop.gov.au", "2026-12-02").unwrap()
        };
        s.add_release(&w.staff, &r("2.0", "2026-06-01"), NOW)
            .await
            .unwrap();
        s.add_release(&w.staff, &r("2.1", "2026-12-01"), NOW)
            .await
            .unwrap();
        assert!(matches!(
            s.add_release(&w.staff, &r("2.1", "2026-12-02"), NOW).await,
            Err(StoreError::Duplicate { .. })
        ));
        assert!(
            s.add_release(&w.member, &r("9", "2026-12-02"), NOW)
                .await
                .is_err()
        );
        assert_eq!(s.releases().await.unwrap()[0].version, "2.1");
    }
}
