//! Moving engagements to another model version in the store: previewed
//! without writing, applied one audited event each, refused alone.

use waymark_core::migration::{Mapping, StepRef};
use waymark_core::*;

use crate::{NOW, stores, world};

fn framework_pages() -> Vec<waymark_model::SourceFile> {
    let dir = format!("{}/../../content/framework", env!("CARGO_MANIFEST_DIR"));
    waymark_model::read_paths(&[dir.into()]).unwrap().0
}

#[tokio::test]
async fn engagements_move_to_the_framework_and_nothing_is_lost() {
    for store in stores("migrate").await {
        let w = world(store).await;
        let a = w.start().await;
        let b = w.start().await;
        // b has done Engagement's step 3 and is in Discovery.
        for (v, cmd) in [
            (
                1,
                Command::SetStep {
                    stage: "engagement".into(),
                    step: 3,
                    status: StepStatus::Done,
                },
            ),
            (
                2,
                Command::Decide {
                    stage: "engagement".into(),
                    at: DecisionAt::Point { index: 0 },
                    option: 0,
                    rationale: "Readiness first".into(),
                    funded_by: Funder::Dta,
                    note: None,
                },
            ),
        ] {
            w.store.execute(&w.staff, b.id, v, &cmd, NOW).await.unwrap();
        }
        let to = w.store.pin_model(&framework_pages(), NOW).await.unwrap();
        let old = w.store.model(&w.model).await.unwrap();
        let new = w.store.model(&to).await.unwrap();
        let mapping = Mapping::propose(&w.model, &to, &waymark_model::diff::diff(&old, &new));
        // Only the programme.
        assert!(
            w.store
                .migrate_engagements(&w.member, &mapping, None, true, NOW)
                .await
                .is_err()
        );
        // The preview says what would happen and writes nothing.
        let preview = w
            .store
            .migrate_engagements(&w.staff, &mapping, None, true, NOW)
            .await
            .unwrap();
        assert_eq!(preview.len(), 2);
        assert!(
            preview.iter().all(|o| o.result == "migrated"),
            "{preview:?}"
        );
        let after_b = &preview[1].after;
        assert!(
            after_b
                .iter()
                .any(|s| s.stage == "prepare-design" && s.status == StageStatus::Active)
        );
        assert_eq!(
            w.store.engagement(&w.staff, b.id).await.unwrap().model_hash,
            w.model
        );
        // One engagement's mapping is inconsistent (two steps in different
        // states to one place): it alone is refused.
        let mut strict = mapping.clone();
        for m in &mut strict.steps {
            if m.from.stage == "engagement" && m.from.step == 3 {
                m.to = Some(StepRef {
                    stage: "connect-align".into(),
                    step: 3,
                });
            }
            if m.from.stage == "engagement" && m.from.step == 1 {
                m.to = Some(StepRef {
                    stage: "connect-align".into(),
                    step: 3,
                });
            }
        }
        w.store
            .execute(
                &w.staff,
                b.id,
                3,
                &Command::SetStep {
                    stage: "engagement".into(),
                    step: 1,
                    status: StepStatus::InProgress,
                },
                NOW,
            )
            .await
            .unwrap();
        let done = w
            .store
            .migrate_engagements(&w.staff, &strict, None, false, NOW)
            .await
            .unwrap();
        assert_eq!(done[0].result, "migrated", "{done:?}");
        assert_eq!(done[1].result, "refused", "{done:?}");
        assert!(
            done[1]
                .reason
                .as_deref()
                .unwrap()
                .contains("both map to step 3")
        );
        let ea = w.store.engagement(&w.staff, a.id).await.unwrap();
        assert_eq!(ea.model_hash, to);
        let eb = w.store.engagement(&w.staff, b.id).await.unwrap();
        assert_eq!(eb.model_hash, w.model, "refused: left as it was");
        // With the proposal, b moves too; a second run changes nothing.
        let done = w
            .store
            .migrate_engagements(&w.staff, &mapping, Some(&[a.id, b.id]), false, NOW)
            .await
            .unwrap();
        assert_eq!(
            done.iter().map(|o| o.result).collect::<Vec<_>>(),
            ["unchanged", "migrated"]
        );
        let eb = w.store.engagement(&w.staff, b.id).await.unwrap();
        assert_eq!(eb.model_hash, to);
        assert_eq!(
            eb.stage("prepare-design").unwrap().status,
            StageStatus::Active
        );
        assert_eq!(
            eb.step("connect-align", 5),
            StepStatus::Done,
            "Initial workshop → Define initial needs"
        );
        assert!(
            !eb.archived.is_empty(),
            "the Engagement decision point has no place"
        );
        let history = w.store.history(&w.staff, b.id).await.unwrap();
        assert_eq!(history.last().unwrap().command, "migrate");
        // Lists by stage follow: b is active in Prepare and Design.
        let v = w.store.verify().await.unwrap();
        assert!(v.intact(), "{v:?}");
        let again = w
            .store
            .migrate_engagements(&w.staff, &mapping, Some(&[b.id]), false, NOW)
            .await
            .unwrap();
        assert_eq!(again[0].result, "unchanged");
        assert_eq!(
            w.store.history(&w.staff, b.id).await.unwrap().len(),
            history.len()
        );
    }
}

#[tokio::test]
async fn articles_tagged_to_old_stages_and_steps_follow_the_mapping() {
    use waymark_core::knowledge::{Article, ArticleAction, Tag};
    for store in stores("migrate-articles").await {
        let w = world(store).await;
        let old = w.store.model(&w.model).await.unwrap();
        let publish = |slug: &str, tags: Vec<Tag>| Article {
            slug: slug.into(),
            title: format!("About {slug}"),
            summary: "A summary.".into(),
            body: "Words.".into(),
            tags,
            review_by: "2027-06-30".into(),
        };
        let tags = vec![
            Tag::Step {
                stage: "adoption-evaluation".into(),
                step: 2,
            },
            Tag::Stage {
                stage: "discovery".into(),
            },
            Tag::Free {
                word: "licensing".into(),
            },
        ];
        w.store
            .save_article(
                &w.staff,
                &old,
                None,
                None,
                &publish("sharing", tags),
                None,
                ArticleAction::Publish,
                NOW,
            )
            .await
            .unwrap();
        let draft = vec![Tag::Step {
            stage: "discovery".into(),
            step: 6,
        }];
        w.store
            .save_article(
                &w.staff,
                &old,
                None,
                None,
                &publish("case", draft),
                None,
                ArticleAction::Save,
                NOW,
            )
            .await
            .unwrap();
        let to = w.store.pin_model(&framework_pages(), NOW).await.unwrap();
        let new = w.store.model(&to).await.unwrap();
        let mapping = Mapping::propose(&w.model, &to, &waymark_model::diff::diff(&old, &new));
        // A preview moves nothing.
        w.store
            .migrate_engagements(&w.staff, &mapping, None, true, NOW)
            .await
            .unwrap();
        assert_eq!(w.store.article_versions("sharing").await.unwrap().len(), 1);
        w.store
            .migrate_engagements(&w.staff, &mapping, None, false, NOW)
            .await
            .unwrap();
        let versions = w.store.article_versions("sharing").await.unwrap();
        assert_eq!(versions.len(), 2, "published again with the moved tags");
        assert_eq!(
            versions[0].tags,
            [
                Tag::Step {
                    stage: "assess-advocate".into(),
                    step: 4
                },
                Tag::Stage {
                    stage: "prepare-design".into()
                },
                Tag::Free {
                    word: "licensing".into()
                },
            ]
        );
        assert_eq!(versions[0].body, "Words.");
        // A draft's step with no counterpart falls back to its stage.
        let rows = w.store.articles().await.unwrap();
        let case = rows.iter().find(|r| r.article.slug == "case").unwrap();
        assert_eq!(
            case.article.tags,
            [Tag::Stage {
                stage: "prepare-design".into()
            }]
        );
        // Again: nothing more.
        w.store
            .migrate_engagements(&w.staff, &mapping, None, false, NOW)
            .await
            .unwrap();
        assert_eq!(w.store.article_versions("sharing").await.unwrap().len(), 2);
    }
}
